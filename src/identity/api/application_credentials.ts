// /v3/users/{user_id}/application_credentials and /v3/users/{user_id}/access_rules
// (the UserAppCred* and UserAccessRule* resources of keystone/api/users.py).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, badRequest } from '../../core/errors.ts';
import type { IdentityService } from '../service.ts';
import type { Role } from '../assignment.ts';
import {
  generateSecret,
  parseExpiration,
  renderTime,
  type AccessRule,
  type ApplicationCredential,
} from '../application_credential.ts';
import { description, idString, listBody, name255, q, wrap } from './common.ts';
import { isDelegated } from './credentials.ts';

const forbiddenAction = (action: string) =>
  new ApiError(403, `You are not authorized to perform the requested action: ${action}.`, 'ForbiddenAction');

const roleRef = {
  type: 'object',
  minProperties: 1,
  maxProperties: 1,
  additionalProperties: false,
  properties: { id: idString, name: name255 },
};
const accessRuleRef = {
  type: 'object',
  additionalProperties: false,
  properties: {
    path: { type: 'string', minLength: 0, maxLength: 225, pattern: '^\\/.*' },
    method: { type: 'string', pattern: '^(POST|GET|HEAD|PATCH|PUT|DELETE)$' },
    service: idString,
    id: idString,
  },
};
const createSchema = wrap('application_credential', {
  required: ['name'],
  properties: {
    name: name255,
    description,
    secret: { type: ['null', 'string'] },
    expires_at: { type: ['null', 'string'] },
    roles: { type: 'array', items: roleRef },
    unrestricted: { type: 'boolean' },
    access_rules: { type: 'array', items: accessRuleRef },
  },
});

const ruleLink = (req: FastifyRequest, userId: string, r: AccessRule) => ({
  self: `${req.baseUrl}/v3/users/${userId}/access_rules/${r.id}`,
});

function renderAppCred(req: FastifyRequest, a: ApplicationCredential, roles: Map<string, Role>, secret?: string) {
  const out: Record<string, unknown> = {
    id: a.id,
    name: a.name,
    description: a.description,
    user_id: a.user_id,
    project_id: a.project_id,
    expires_at: renderTime(a.expires_at),
    unrestricted: a.unrestricted,
    roles: a.roleIds
      .map((id) => roles.get(id))
      .filter((r): r is Role => !!r)
      .map((r) => ({ id: r.id, name: r.name, domain_id: r.domain_id })),
  };
  if (a.access_rules.length)
    out.access_rules = a.access_rules.map((r) => ({ id: r.id, service: r.service, path: r.path, method: r.method }));
  if (secret !== undefined) out.secret = secret;
  out.links = { self: `${req.baseUrl}/v3/users/${a.user_id}/application_credentials/${a.id}` };
  return out;
}

/** The create body as createSchema lets it through. */
interface AppCredBody {
  name: string;
  description?: string | null;
  secret?: string | null;
  expires_at?: string | null;
  unrestricted?: boolean;
  roles?: Array<{ id?: string; name?: string }>;
  access_rules?: Array<{ id?: string; service?: string; path?: string; method?: string }>;
}

export function applicationCredentialHandlers(s: IdentityService) {
  const acs = s.applicationCredentials;
  /** Trust-, OAuth1- and EC2-derived tokens may not manage application credentials; app-cred tokens are judged apart. */
  const blockDelegated = (req: FastifyRequest) => {
    if (req.ctx?.methods.includes('application_credential')) return;
    if (isDelegated(req))
      throw new ApiError(403, 'Cannot manage application credentials with a token issued via delegation.', 'Forbidden');
  };
  /** A restricted application credential may not create or delete application credentials. */
  const requireUnrestricted = async (req: FastifyRequest) => {
    if (!req.ctx?.methods.includes('application_credential')) return;
    const current = req.ctx.appCredId ? await acs.find(req.ctx.appCredId) : undefined;
    if (!current || !current.unrestricted) {
      throw forbiddenAction(
        "Using method 'application_credential' is not allowed for managing additional application credentials.",
      );
    }
  };

  async function createApplicationCredential(req: FastifyRequest, reply: FastifyReply) {
    const { user_id } = req.params as { user_id: string };
    req.authorize('identity:create_application_credential', { user_id });
    const body = (req.body as { application_credential: AppCredBody }).application_credential;
    blockDelegated(req);
    await requireUnrestricted(req);
    const ctx = req.ctx!;
    if (ctx.userId !== user_id) throw forbiddenAction('Cannot create an application credential for another user.');
    // The credential is bound to the token's project and at most the token's roles.
    if (!ctx.projectId) throw forbiddenAction('identity:create_application_credential');
    const allRoles = await s.assignment.roles();
    let roleIds: string[];
    if (body.roles?.length) {
      roleIds = [];
      for (const r of body.roles) {
        let id = r.id;
        if (!id) {
          const role = await s.assignment.findRoleByName(r.name!, null);
          if (!role) throw new ApiError(404, `Could not find role: ${r.name}.`, 'RoleNotFound');
          id = role.id;
        }
        if (!ctx.roleIds.includes(id))
          throw badRequest(
            'Invalid application credential: Cannot create an application credential with unassigned role',
            'ApplicationCredentialValidationError',
          );
        roleIds.push(id);
      }
    } else roleIds = [...ctx.roleIds];
    const expiresAt = body.expires_at ? parseExpiration(body.expires_at) : null;
    const secret = body.secret || generateSecret();
    const created = await acs.create({
      name: body.name,
      description: body.description ?? null,
      secret,
      user_id,
      project_id: ctx.projectId,
      expires_at: expiresAt,
      unrestricted: body.unrestricted ?? false,
      roleIds,
      heldRoleIds: await s.assignment.rolesOnProject(user_id, ctx.projectId),
      access_rules: body.access_rules,
    });
    reply.code(201);
    return { application_credential: renderAppCred(req, created, allRoles, secret) };
  }

  async function listApplicationCredentials(req: FastifyRequest) {
    const { user_id } = req.params as { user_id: string };
    req.authorize('identity:list_application_credentials', { user_id });
    blockDelegated(req);
    const list = await acs.list(user_id, { name: q(req).name });
    const roles = await s.assignment.roles();
    return listBody(
      req,
      'application_credentials',
      list.map((a) => renderAppCred(req, a, roles)),
    );
  }

  /** Policy sees the credential's owner, not the user named in the path (upstream's fix for OSSA-2018-xxx). */
  const loadForPolicy = async (req: FastifyRequest, rule: string) => {
    const { user_id, application_credential_id } = req.params as { user_id: string; application_credential_id: string };
    const cur = await acs.find(application_credential_id);
    req.authorize(rule, { user_id: cur ? cur.user_id : user_id });
    blockDelegated(req);
    if (!cur || cur.user_id !== user_id)
      throw new ApiError(
        404,
        `Could not find Application Credential: ${application_credential_id}.`,
        'ApplicationCredentialNotFound',
      );
    return cur;
  };

  async function getApplicationCredential(req: FastifyRequest) {
    const cur = await loadForPolicy(req, 'identity:get_application_credential');
    return { application_credential: renderAppCred(req, cur, await s.assignment.roles()) };
  }

  async function deleteApplicationCredential(req: FastifyRequest, reply: FastifyReply) {
    const cur = await loadForPolicy(req, 'identity:delete_application_credential');
    await requireUnrestricted(req);
    await acs.delete(cur.id);
    reply.code(204).send();
  }

  // ---- access rules ----
  const userTarget = async (req: FastifyRequest) => {
    const { user_id } = req.params as { user_id: string };
    const u = await s.users.find(user_id);
    return { user_id, target: u ? { user: { id: u.id, domain_id: u.domain_id } } : {} };
  };

  async function listAccessRules(req: FastifyRequest) {
    const { user_id } = req.params as { user_id: string };
    req.authorize('identity:list_access_rules', await userTarget(req));
    blockDelegated(req);
    const query = q(req);
    const list = await acs.listAccessRules(user_id, { service: query.service, path: query.path, method: query.method });
    return listBody(
      req,
      'access_rules',
      list.map((r) => ({ ...r, links: ruleLink(req, user_id, r) })),
    );
  }

  async function getAccessRule(req: FastifyRequest) {
    const { user_id, access_rule_id } = req.params as { user_id: string; access_rule_id: string };
    req.authorize('identity:get_access_rule', await userTarget(req));
    blockDelegated(req);
    const r = await acs.getAccessRule(user_id, access_rule_id);
    return { access_rule: { ...r, links: ruleLink(req, user_id, r) } };
  }

  async function deleteAccessRule(req: FastifyRequest, reply: FastifyReply) {
    const { user_id, access_rule_id } = req.params as { user_id: string; access_rule_id: string };
    req.authorize('identity:delete_access_rule', await userTarget(req));
    blockDelegated(req);
    await acs.deleteAccessRule(user_id, access_rule_id);
    reply.code(204).send();
  }
  return {
    createApplicationCredential,
    listApplicationCredentials,
    getApplicationCredential,
    deleteApplicationCredential,
    listAccessRules,
    getAccessRule,
    deleteAccessRule,
  };
}

/** The request body schemas of application_credentials's routes, by handler (api/routes.ts mounts them). */
export const applicationCredentialSchemas = {
  createApplicationCredential: createSchema,
};
