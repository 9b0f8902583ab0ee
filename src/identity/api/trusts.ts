// /v3/OS-TRUST/trusts: create, list, show and delete trusts, and the roles they delegate.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { badRequest, forbidden } from '../../core/errors.ts';
import type { IdentityService } from '../service.ts';
import { TRUST_FIELDS, renderTrustTime, type Trust, type TrustRequest } from '../trust.ts';
import { notFound } from '../backend.ts';
import { renderRole } from './roles.ts';
import { listBody, q } from './common.ts';
import { pyRepr } from '../../core/python.ts';

const BASE = '/v3/OS-TRUST/trusts';

function trustLink(req: FastifyRequest, id: string) {
  return { self: `${req.baseUrl}${BASE}/${id}` };
}

/** The trust as Keystone's to_dict() has it (attributes plus extras), with its self link. */
function renderSummary(req: FastifyRequest, t: Trust) {
  const { roles: _r, ...extra } = t.extra as Record<string, unknown>;
  return {
    ...extra,
    id: t.id,
    trustor_user_id: t.trustor_user_id,
    trustee_user_id: t.trustee_user_id,
    project_id: t.project_id,
    impersonation: t.impersonation,
    expires_at: renderTrustTime(t.expires_at),
    remaining_uses: t.remaining_uses,
    deleted_at: t.deleted_at ? renderTrustTime(t.deleted_at) : null,
    redelegated_trust_id: t.redelegated_trust_id,
    redelegation_count: t.redelegation_count,
    links: trustLink(req, t.id),
  };
}

async function trustRoles(req: FastifyRequest, s: IdentityService, t: Trust) {
  // Roles deleted since the trust was made are left out, as upstream.
  const all = await s.assignment.roles();
  return t.roleIds
    .map((id) => all.get(id))
    .filter((r) => !!r)
    .map((r) => renderRole(req, r!));
}
const rolesLinks = (req: FastifyRequest, id: string) => ({
  self: `${req.baseUrl}${BASE}/${id}/roles`,
  next: null,
  previous: null,
});

async function renderFull(req: FastifyRequest, s: IdentityService, t: Trust) {
  return { ...renderSummary(req, t), roles: await trustRoles(req, s, t), roles_links: rolesLinks(req, t.id) };
}

/** Application-credential tokens (delegated credentials) may not read or manage trusts. */
function checkDelegated(req: FastifyRequest) {
  if (req.ctx?.appCredId || (req.ctx && !req.ctx.methods.length)) {
    throw forbidden('You are not authorized to perform the requested action: Delegated tokens cannot manage trusts.');
  }
}

const invalid = (field: string, msg: string) =>
  badRequest(`Invalid input for field '${field}': ${msg}`, 'ValidationError');
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

/** Keystone's trust_create schema (trust/schema.py). */
function validateTrust(t: Record<string, unknown>): TrustRequest {
  for (const k of ['trustor_user_id', 'trustee_user_id', 'impersonation'])
    if (!(k in t)) throw invalid(k, `'${k}' is a required property`);
  for (const k of ['trustor_user_id', 'trustee_user_id']) {
    const v = t[k];
    if (typeof v !== 'string') throw invalid(k, `${pyRepr(v)} is not of type 'string'`);
    if (v.length < 1 || v.length > 64) throw invalid(k, `'${v}' must be between 1 and 64 characters long`);
  }
  if (typeof t.impersonation !== 'boolean')
    throw invalid('impersonation', `${pyRepr(t.impersonation)} is not of type 'boolean'`);
  if (t.project_id !== undefined && t.project_id !== null) {
    if (typeof t.project_id !== 'string' || !/^[a-zA-Z0-9-_]{1,64}$/.test(t.project_id))
      throw invalid('project_id', `${pyRepr(t.project_id)} is not a valid id`);
  }
  if (t.remaining_uses !== undefined && t.remaining_uses !== null) {
    if (!isInt(t.remaining_uses))
      throw invalid('remaining_uses', `${pyRepr(t.remaining_uses)} is not of type 'integer', 'null'`);
    if (t.remaining_uses < 1) throw invalid('remaining_uses', `${t.remaining_uses} is less than the minimum of 1`);
  }
  if (t.expires_at !== undefined && t.expires_at !== null && typeof t.expires_at !== 'string')
    throw invalid('expires_at', `${pyRepr(t.expires_at)} is not of type 'null', 'string'`);
  if (
    t.allow_redelegation !== undefined &&
    t.allow_redelegation !== null &&
    typeof t.allow_redelegation !== 'boolean'
  ) {
    throw invalid('allow_redelegation', `${pyRepr(t.allow_redelegation)} is not of type 'boolean', 'null'`);
  }
  if (t.redelegation_count !== undefined && t.redelegation_count !== null) {
    if (!isInt(t.redelegation_count))
      throw invalid('redelegation_count', `${pyRepr(t.redelegation_count)} is not of type 'integer', 'null'`);
    if (t.redelegation_count < 0)
      throw invalid('redelegation_count', `${t.redelegation_count} is less than the minimum of 0`);
  }
  if (t.roles !== undefined) {
    if (!Array.isArray(t.roles)) throw invalid('roles', `${pyRepr(t.roles)} is not of type 'array'`);
    t.roles.forEach((r: unknown, i: number) => {
      const f = `roles/${i}`;
      if (!r || typeof r !== 'object' || Array.isArray(r)) throw invalid(f, `${pyRepr(r)} is not of type 'object'`);
      const keys = Object.keys(r);
      if (keys.length !== 1)
        throw invalid(f, keys.length ? `${pyRepr(r)} has too many properties` : '{} does not have enough properties');
      const [k] = keys as [string];
      const v = (r as Record<string, unknown>)[k];
      if (k === 'id') {
        if (typeof v !== 'string' || !/^[a-zA-Z0-9-_]{1,64}$/.test(v))
          throw invalid(`${f}/id`, `${pyRepr(v)} is not a valid id`);
      } else if (k === 'name') {
        if (typeof v !== 'string' || v.length < 1 || v.length > 255 || !/\S/.test(v))
          throw invalid(`${f}/name`, `${pyRepr(v)} is not a valid name`);
      } else throw invalid(f, `Additional properties are not allowed ('${k}' was unexpected)`);
    });
  }
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(t)) if (!TRUST_FIELDS.has(k)) extra[k] = v;
  return {
    // Checked one by one above.
    trustor_user_id: t.trustor_user_id as string,
    trustee_user_id: t.trustee_user_id as string,
    project_id: (t.project_id as string | null | undefined) ?? null,
    impersonation: t.impersonation,
    expires_at: (t.expires_at as string | null | undefined) ?? null,
    remaining_uses: (t.remaining_uses as number | null | undefined) ?? null,
    allow_redelegation: (t.allow_redelegation as boolean | null | undefined) ?? null,
    redelegation_count: (t.redelegation_count as number | null | undefined) ?? null,
    roles: t.roles as TrustRequest['roles'],
    extra,
  };
}

export function trustHandlers(s: IdentityService) {
  const m = s.trusts;
  const target = async (req: FastifyRequest) => {
    // The trust is looked up before policy: a missing one is a 404, not a 403 (lp#1840288).
    const t = await m.get((req.params as { trust_id: string }).trust_id);
    return {
      t,
      target: {
        target: {
          trust: {
            id: t.id,
            trustor_user_id: t.trustor_user_id,
            trustee_user_id: t.trustee_user_id,
            project_id: t.project_id,
          },
        },
      },
    };
  };

  async function createTrust(req: FastifyRequest, reply: FastifyReply) {
    const raw = (req.body as { trust?: unknown } | undefined)?.trust;
    const body: Record<string, unknown> =
      raw && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
    // Policy first: an empty trust is a 403, as upstream (bug 1133435).
    req.authorize('identity:create_trust', { target: { trust: body } });
    const tr = validateTrust(body);
    checkDelegated(req);
    if (req.ctx!.userId !== tr.trustor_user_id)
      throw forbidden(
        'You are not authorized to perform the requested action: The authenticated user should match the trustor.',
      );
    const t = await m.create(tr, req.ctx!.trustId);
    reply.code(201);
    return { trust: await renderFull(req, s, t) };
  }

  async function listTrustsForTrustor(req: FastifyRequest) {
    const query = q(req);
    const trustor = query.trustor_user_id || undefined;
    const trustee = query.trustee_user_id || undefined;
    if (trustor) req.authorize('identity:list_trusts_for_trustor', { target: { trust: { trustor_user_id: trustor } } });
    else if (trustee)
      req.authorize('identity:list_trusts_for_trustee', { target: { trust: { trustee_user_id: trustee } } });
    else req.authorize('identity:list_trusts');
    checkDelegated(req);
    const list = await m.list({ trustorId: trustor, trusteeId: trustee });
    return listBody(
      req,
      'trusts',
      list.map((t) => renderSummary(req, t)),
    );
  }

  async function getTrust(req: FastifyRequest) {
    const { t, target: tg } = await target(req);
    req.authorize('identity:get_trust', tg);
    checkDelegated(req);
    return { trust: await renderFull(req, s, t) };
  }

  async function deleteTrust(req: FastifyRequest, reply: FastifyReply) {
    const { t, target: tg } = await target(req);
    req.authorize('identity:delete_trust', tg);
    checkDelegated(req);
    await m.delete(t.id);
    reply.code(204).send();
  }

  async function listRolesForTrust(req: FastifyRequest) {
    const { t, target: tg } = await target(req);
    req.authorize('identity:list_roles_for_trust', tg);
    checkDelegated(req);
    return { roles: await trustRoles(req, s, t), links: rolesLinks(req, t.id) };
  }

  async function getRoleForTrust(req: FastifyRequest) {
    const { t, target: tg } = await target(req);
    req.authorize('identity:get_role_for_trust', tg);
    checkDelegated(req);
    const { role_id } = req.params as { role_id: string };
    if (!t.roleIds.includes(role_id)) throw notFound('role', role_id);
    return { role: renderRole(req, await s.assignment.getRole(role_id)) };
  }
  return { createTrust, listTrustsForTrustor, getTrust, deleteTrust, listRolesForTrust, getRoleForTrust };
}
