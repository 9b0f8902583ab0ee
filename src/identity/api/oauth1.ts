// OS-OAUTH1: consumers (/v3/OS-OAUTH1/consumers CRUD), the delegation flow (request_token,
// authorize, access_token; the logic is in ../oauth1.ts) and a user's access tokens
// (/v3/users/{user_id}/OS-OAUTH1/access_tokens…).
import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Selectable } from 'kysely';
import type { ConsumerTable } from '../db/schema.ts';
import { json } from '../../core/db.ts';
import { newId, notFound } from '../backend.ts';
import { ApiError, badRequest } from '../../core/errors.ts';
import { description, listBody, wrap, type Attrs } from './common.ts';
import type { IdentityService } from '../service.ts';
import { authHttpRequest } from './signed_request.ts';
import type { OAuthAccessInfo } from '../token/provider.ts';
import { renderRole } from './roles.ts';
import type { Role } from '../assignment.ts';

const formBody = (t: { id: string; secret: string; expires_at: string | null }) =>
  `oauth_token=${t.id}&oauth_token_secret=${t.secret}${t.expires_at ? `&oauth_expires_at=${t.expires_at}` : ''}`;

const renderAccessToken = (req: FastifyRequest, t: OAuthAccessInfo) => {
  const self = `${req.baseUrl}/v3/users/${t.authorizing_user_id}/OS-OAUTH1/access_tokens/${t.id}`;
  return {
    id: t.id,
    consumer_id: t.consumer_id,
    project_id: t.project_id,
    authorizing_user_id: t.authorizing_user_id,
    expires_at: t.expires_at,
    links: { self, roles: `${self}/roles` },
  };
};

const render = (req: FastifyRequest, r: Selectable<ConsumerTable>) => ({
  ...json<Record<string, unknown>>(r.extra, {}),
  id: r.id,
  description: r.description ?? null,
  links: { self: `${req.baseUrl}/v3/OS-OAUTH1/consumers/${r.id}` },
});

export function oauth1Handlers(s: IdentityService) {
  const oauth = s.oauth1;
  const db = s.db;
  const get = async (id: string) => {
    const r = await db.selectFrom('consumer').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) throw notFound('consumer', id);
    return r;
  };
  async function createConsumer(req: FastifyRequest, reply: FastifyReply) {
    req.authorize('identity:create_consumer');
    const {
      description: d,
      id: _i,
      secret: _s,
      links: _l,
      ...extra
    } = (req.body as { consumer: Attrs<{ description?: string; secret?: string }> }).consumer;
    const row = {
      id: newId(),
      description: d ?? null,
      secret: randomBytes(24).toString('base64url'),
      extra: JSON.stringify(extra),
    };
    await db.insertInto('consumer').values(row).execute();
    reply.code(201);
    return { consumer: { ...render(req, row), secret: row.secret } };
  }
  async function listConsumers(req: FastifyRequest) {
    req.authorize('identity:list_consumers');
    return listBody(
      req,
      'consumers',
      (await db.selectFrom('consumer').selectAll().execute()).map((r) => render(req, r)),
    );
  }
  async function getConsumer(req: FastifyRequest) {
    req.authorize('identity:get_consumer');
    return { consumer: render(req, await get((req.params as Record<string, string>).id)) };
  }
  async function updateConsumer(req: FastifyRequest) {
    req.authorize('identity:update_consumer');
    const id = (req.params as Record<string, string>).id;
    const cur = await get(id);
    const {
      description: d,
      id: newIdValue,
      secret,
      links: _l,
      ...extra
    } = (req.body as { consumer: Attrs<{ description?: string; secret?: string }> }).consumer;
    if ((newIdValue !== undefined && newIdValue !== id) || secret !== undefined)
      throw badRequest('Cannot change consumer secret or id.', 'ValidationError');
    await db
      .updateTable('consumer')
      .set({
        ...(d !== undefined ? { description: d } : {}),
        extra: JSON.stringify({ ...json(cur.extra, {}), ...extra }),
      })
      .where('id', '=', id)
      .execute();
    return { consumer: render(req, await get(id)) };
  }
  async function deleteConsumer(req: FastifyRequest, reply: FastifyReply) {
    req.authorize('identity:delete_consumer');
    const id = (req.params as Record<string, string>).id;
    await get(id);
    await db.deleteFrom('oauth_request_token').where('consumer_id', '=', id).execute();
    await db.deleteFrom('oauth_access_token').where('consumer_id', '=', id).execute();
    await db.deleteFrom('consumer').where('id', '=', id).execute();
    s.backend.changed(); // tokens of its access tokens stop validating
    reply.code(204).send();
  }

  // ---- the delegation flow ----
  async function createRequestToken(req: FastifyRequest, reply: FastifyReply) {
    const t = await oauth.createRequestToken(authHttpRequest(req), async (id) => {
      await s.resource.getProject(id);
    });
    reply.code(201).header('Content-Type', 'application/x-www-form-urlencoded');
    return formBody({ id: t.id, secret: t.request_secret, expires_at: t.expires_at });
  }
  async function createAccessToken(req: FastifyRequest, reply: FastifyReply) {
    const t = await oauth.createAccessToken(authHttpRequest(req));
    reply.code(201).header('Content-Type', 'application/x-www-form-urlencoded');
    return formBody({ id: t.id, secret: t.access_secret, expires_at: t.expires_at });
  }
  async function authorizeRequestToken(req: FastifyRequest) {
    req.authorize('identity:authorize_request_token');
    const roles = (req.body as { roles?: unknown } | undefined)?.roles ?? [];
    const bad = (why: string) => badRequest(`Invalid input for field 'roles': ${why}`, 'ValidationError');
    if (!Array.isArray(roles)) throw bad('not an array');
    for (const r of roles) {
      if (!r || typeof r !== 'object' || Array.isArray(r)) throw bad('each role is an object');
      const keys = Object.keys(r);
      if (
        keys.length !== 1 ||
        !['id', 'name'].includes(keys[0]!) ||
        typeof (r as Record<string, unknown>)[keys[0]!] !== 'string'
      )
        throw bad('each role has exactly one of id or name, a string');
    }
    const model = await s.tokens.validate(req.ctx!.token);
    if (model.oauth || model.trust)
      throw new ApiError(403, 'Cannot authorize a request token with a token issued via delegation.', 'Forbidden');
    const id = (req.params as Record<string, string>).request_token_id!;
    const reqToken = await oauth.getRequestToken(id);
    if (reqToken.expires_at && Date.parse(reqToken.expires_at) < Date.now())
      throw new ApiError(401, 'Request token is expired', 'Unauthorized');
    const roleIds: string[] = [];
    for (const r of roles as Array<{ id?: string; name?: string }>) {
      if (r.id) roleIds.push(r.id);
      else {
        const found = (await s.assignment.listRoles({ name: r.name, domainId: null }))[0];
        if (!found) throw notFound('role', r.name!);
        roleIds.push(found.id);
      }
    }
    const held = await s.assignment.rolesOnProject(req.ctx!.userId, reqToken.requested_project_id);
    return { token: { oauth_verifier: await oauth.authorize(id, req.ctx!.userId, roleIds, held) } };
  }

  // ---- a user's access tokens ----
  const notDelegated = async (req: FastifyRequest) => {
    const model = await s.tokens.validate(req.ctx!.token);
    if (model.oauth)
      throw new ApiError(403, 'Cannot list request tokens with a token issued via delegation.', 'Forbidden');
  };
  const params = (req: FastifyRequest) => req.params as { user_id: string; access_token_id: string; role_id: string };
  async function listAccessTokens(req: FastifyRequest) {
    req.authorize('identity:list_access_tokens', { user_id: params(req).user_id });
    await notDelegated(req);
    return listBody(
      req,
      'access_tokens',
      (await oauth.listAccessTokens(params(req).user_id)).map((t) => renderAccessToken(req, t)),
    );
  }
  async function getAccessToken(req: FastifyRequest) {
    req.authorize('identity:get_access_token', { user_id: params(req).user_id });
    const p = params(req);
    return { access_token: renderAccessToken(req, await oauth.userAccessToken(p.user_id, p.access_token_id)) };
  }
  async function deleteAccessToken(req: FastifyRequest, reply: FastifyReply) {
    req.authorize('identity:delete_access_token', { user_id: params(req).user_id });
    const p = params(req);
    await oauth.deleteAccessToken(p.user_id, p.access_token_id);
    reply.code(204).send();
  }
  /** Keystone's _format_role_entity: the role without its description. */
  const tokenRole = (req: FastifyRequest, r: Role) => {
    const { description: _d, ...rest } = renderRole(req, r);
    return rest;
  };
  async function listAccessTokenRoles(req: FastifyRequest) {
    req.authorize('identity:list_access_token_roles', { user_id: params(req).user_id });
    const p = params(req);
    const t = await oauth.userAccessToken(p.user_id, p.access_token_id);
    const roles = await s.assignment.roles();
    return listBody(
      req,
      'roles',
      t.roleIds.filter((id) => roles.has(id)).map((id) => tokenRole(req, roles.get(id)!)),
    );
  }
  async function getAccessTokenRole(req: FastifyRequest) {
    req.authorize('identity:get_access_token_role', { user_id: params(req).user_id });
    const p = params(req);
    const t = await oauth.userAccessToken(p.user_id, p.access_token_id);
    const role = t.roleIds.includes(p.role_id) ? (await s.assignment.roles()).get(p.role_id) : undefined;
    if (!role) throw notFound('role', p.role_id);
    return { role: tokenRole(req, role) };
  }
  return {
    createConsumer,
    listConsumers,
    getConsumer,
    updateConsumer,
    deleteConsumer,
    createRequestToken,
    createAccessToken,
    authorizeRequestToken,
    listAccessTokens,
    getAccessToken,
    deleteAccessToken,
    listAccessTokenRoles,
    getAccessTokenRole,
  };
}

/** The request body schemas of oauth1's routes, by handler (api/routes.ts mounts them). */
export const oauth1Schemas = {
  createConsumer: wrap('consumer', { properties: { description } }),
  updateConsumer: wrap('consumer', { properties: { description } }),
};
