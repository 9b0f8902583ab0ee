// /v3/auth/*: issue, validate, check and revoke tokens; the token's catalog, projects,
// domains and system; OS-REVOKE events; and the version documents.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import type { IdentityService } from '../service.ts';
import { renderDomain, renderProject } from './resource.ts';
import { listBody, q, selfLink } from './common.ts';
import { validateAuthBody } from './auth_schema.ts';
import { authHttpRequest } from './signed_request.ts';
import { InsufficientAuthMethods } from '../mfa.ts';

const V3 = { id: 'v3.14', status: 'stable', updated: '2020-04-07T00:00:00Z' };
const MEDIA = [{ base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' }];

function versionDoc(req: FastifyRequest) {
  return { ...V3, links: [{ rel: 'self', href: `${req.baseUrl}/v3/` }], 'media-types': MEDIA };
}

export function authHandlers(s: IdentityService) {
  const tokens = s.tokens;

  async function listVersions(req: FastifyRequest, reply: FastifyReply) {
    reply.code(300);
    return { versions: { values: [versionDoc(req)] } };
  }
  async function showV3(req: FastifyRequest) {
    return { version: versionDoc(req) };
  }

  async function issueToken(req: FastifyRequest, reply: FastifyReply) {
    const body = req.body as { auth?: unknown } | null | undefined;
    if (!body || typeof body !== 'object' || !body.auth || typeof body.auth !== 'object')
      throw new ApiError(400, "Invalid input for field 'auth': 'auth' is a required property", 'ValidationError');
    validateAuthBody(body.auth);
    let model;
    try {
      model = await tokens.authenticate(body.auth, { ip: req.ip, headers: req.headers, http: authHttpRequest(req) });
    } catch (e) {
      // MFA: the methods passed so far earn a receipt, in the header and the body
      if (e instanceof InsufficientAuthMethods) {
        reply.code(401).header('Openstack-Auth-Receipt', e.receipt);
        return e.body;
      }
      throw e;
    }
    reply.code(201).header('X-Subject-Token', model.id);
    return tokens.render(model, q(req).nocatalog === undefined);
  }

  /** The X-Subject-Token of GET/HEAD/DELETE, validated; 404 when it is not a valid token. */
  async function subject(req: FastifyRequest, rule: string) {
    const subjectToken = req.headers['x-subject-token'];
    if (typeof subjectToken !== 'string' || !subjectToken)
      throw new ApiError(400, 'Missing required header: X-Subject-Token', 'ValidationError');
    const allowExpired = q(req).allow_expired !== undefined && ['1', 'true', 'True'].includes(q(req).allow_expired!);
    let model;
    try {
      model = await tokens.validate(subjectToken, { allowExpired });
    } catch (e) {
      // the caller's own right to validate comes first: a non-admin gets 403, not a 404 oracle
      req.authorize(rule, { target: { token: { user_id: req.ctx?.userId } } });
      throw e;
    }
    req.authorize(rule, { target: { token: { user_id: model.user.id } } });
    return model;
  }
  async function validateToken(req: FastifyRequest, reply: FastifyReply) {
    const model = await subject(req, 'identity:validate_token');
    reply.header('X-Subject-Token', model.id);
    return tokens.render(model, q(req).nocatalog === undefined);
  }
  async function checkToken(req: FastifyRequest, reply: FastifyReply) {
    const model = await subject(req, 'identity:check_token');
    reply.header('X-Subject-Token', model.id).code(200).send();
  }
  async function revokeToken(req: FastifyRequest, reply: FastifyReply) {
    const model = await subject(req, 'identity:revoke_token');
    await tokens.revokeToken(model);
    reply.code(204).send();
  }

  async function getAuthCatalog(req: FastifyRequest) {
    req.authorize('identity:get_auth_catalog');
    const ctx = req.ctx!;
    if (!ctx.projectId && !ctx.domainId && !ctx.system)
      throw new ApiError(403, 'A scoped token is required to get the catalog.', 'Forbidden');
    return { catalog: await s.catalog.catalog(ctx.projectId, ctx.userId), links: selfLink(req, 'auth/catalog') };
  }
  async function getAuthProjects(req: FastifyRequest) {
    req.authorize('identity:get_auth_projects');
    const ids = await s.assignment.projectIdsForUser(req.ctx!.userId);
    const list = (await s.resource.list({ ids, isDomain: false })).filter((p) => p.enabled);
    return listBody(
      req,
      'projects',
      list.map((p) => renderProject(req, p)),
    );
  }
  async function getAuthDomains(req: FastifyRequest) {
    req.authorize('identity:get_auth_domains');
    const ids = await s.assignment.domainIdsForUser(req.ctx!.userId);
    const list = (await s.resource.list({ ids, isDomain: true })).filter((d) => d.enabled);
    return listBody(
      req,
      'domains',
      list.map((d) => renderDomain(req, d)),
    );
  }
  async function getAuthSystem(req: FastifyRequest) {
    req.authorize('identity:get_auth_system');
    const roles = await s.assignment.rolesOnSystem(req.ctx!.userId);
    return { system: roles.length ? [{ all: true }] : [], links: selfLink(req, 'auth/system') };
  }

  async function listRevokeEvents(req: FastifyRequest) {
    req.authorize('identity:list_revoke_events');
    const since = q(req).since;
    const events = s.revoke.list(since).map((e) => {
      const out: Record<string, unknown> = { issued_before: e.issued_before };
      for (const k of [
        'user_id',
        'project_id',
        'domain_id',
        'role_id',
        'trust_id',
        'audit_id',
        'audit_chain_id',
      ] as const)
        if (e[k]) out[k] = e[k];
      return out;
    });
    return { events, links: { self: `${req.baseUrl}/v3/OS-REVOKE/events`, previous: null, next: null } };
  }
  return {
    listVersions,
    showV3,
    issueToken,
    validateToken,
    checkToken,
    revokeToken,
    getAuthCatalog,
    getAuthProjects,
    getAuthDomains,
    getAuthSystem,
    listRevokeEvents,
  };
}
