// The quotas API (neutron/extensions/quotasv2.py, quotasv2_detail.py, quota-check-limit, Zed):
// limits per project, their defaults, usage details, and the caller's own project.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import type { NetworkService } from '../service.ts';
import { badInput, invalidInput, toBoolean } from './validate.ts';
import { pyStr } from '../../core/python.ts';
import { NetworkContext } from '../context.ts';

const INT_MAX = 2147483647;

/** Python's int() as convert_to_int applies it. */
function toQuotaLimit(v: unknown, name: string): number {
  let n: number | undefined;
  if (typeof v === 'boolean') n = v ? 1 : 0;
  else if (typeof v === 'number' && Number.isFinite(v)) n = Math.trunc(v);
  else if (typeof v === 'string' && /^\s*[-+]?\d+\s*$/.test(v)) n = Number(v.trim());
  if (n === undefined) throw invalidInput(`'${pyStr(v)}' is not an integer`);
  if (n < -1) throw badInput(name, `'${n}' is too small - must be at least '-1'`);
  if (n > INT_MAX) throw badInput(name, `'${n}' is too large - must be no larger than '${INT_MAX}'`);
  return n;
}

export function quotaRoutes(app: FastifyInstance, svc: NetworkService) {
  const q = svc.quotas;
  const idOf = (req: FastifyRequest) => (req.params as { id: string }).id;
  /** validate_policy: the rule is checked against the caller's own project. */
  const enforce = (ctx: NetworkContext, rule: string) => {
    ctx.markEnforced();
    if (!ctx.allowed(rule, { project_id: ctx.projectId, tenant_id: ctx.projectId }))
      throw new ApiError(403, `(rule:${rule}) is disallowed by policy`, 'PolicyNotAuthorized');
  };
  const ownOrPolicy = (req: FastifyRequest, ctx: NetworkContext) => {
    if (idOf(req) !== ctx.projectId) enforce(ctx, 'get_quota');
    ctx.markEnforced();
  };
  const callerProject = (ctx: NetworkContext) => {
    ctx.markEnforced();
    if (!ctx.projectId) throw new ApiError(400, 'Tenant-id was missing from quota request.', 'QuotaMissingTenant');
    return ctx.projectId;
  };

  app.get('/v2.0/quotas', async (req) => {
    const ctx = NetworkContext.of(req.context);
    enforce(ctx, 'get_quota');
    return { quotas: await q.projects() };
  });
  app.post('/v2.0/quotas', async () => {
    throw new ApiError(501, 'POST requests are not supported on this resource.', 'HTTPNotImplemented');
  });
  app.get('/v2.0/quotas/tenant', async (req) => ({
    tenant: { tenant_id: callerProject(NetworkContext.of(req.context)) },
  }));
  app.get('/v2.0/quotas/project', async (req) => ({
    project: { project_id: callerProject(NetworkContext.of(req.context)) },
  }));
  app.get('/v2.0/quotas/:id', async (req) => {
    const ctx = NetworkContext.of(req.context);
    ownOrPolicy(req, ctx);
    return { quota: await q.limits(idOf(req)) };
  });
  app.get('/v2.0/quotas/:id/default', async (req) => {
    const ctx = NetworkContext.of(req.context);
    ownOrPolicy(req, ctx);
    return { quota: q.defaultLimits() };
  });
  const details = async (req: FastifyRequest) => {
    const ctx = NetworkContext.of(req.context);
    ctx.markEnforced();
    const id = idOf(req);
    if (id !== ctx.projectId && !svc.isAdmin(ctx)) {
      throw new ApiError(
        403,
        'User does not have admin privileges: Only admin is authorized to access quotas for another project.',
        'AdminRequired',
      );
    }
    const limits = await q.limits(id);
    const out: Record<string, { limit: number; used: number; reserved: number }> = {};
    for (const [name, limit] of Object.entries(limits))
      out[name] = { limit, used: await q.used(svc.db, id, name), reserved: 0 };
    return { quota: out };
  };
  app.get('/v2.0/quotas/:id/details', details);
  // tempest's quotas client asks for details.json (a format suffix upstream's router strips).
  app.get('/v2.0/quotas/:id/details.json', details);
  app.put('/v2.0/quotas/:id', async (req) => {
    const ctx = NetworkContext.of(req.context);
    enforce(ctx, 'update_quota');
    const id = idOf(req);
    const body = req.body as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object') throw new ApiError(400, 'Resource body required', 'HTTPBadRequest');
    const item = body.quota;
    if (item === undefined || item === null)
      throw new ApiError(400, "Unable to find 'quota' in request body", 'HTTPBadRequest');
    if (typeof item !== 'object' || Array.isArray(item))
      throw new ApiError(400, "Object 'quota' contains invalid data", 'HTTPBadRequest');
    const { force: _force, check_limit: checkLimit, ...given } = item as Record<string, unknown>;
    const unknown = Object.keys(given).filter((k) => !q.resources.has(k));
    if (unknown.length) throw new ApiError(400, `Unrecognized attribute(s) '${unknown.join(', ')}'`, 'HTTPBadRequest');
    const limits: Record<string, number> = {};
    for (const [name, v] of Object.entries(given)) limits[name] = toQuotaLimit(v, name);
    if (checkLimit !== undefined && checkLimit !== null && toBoolean(checkLimit, 'check_limit')) {
      for (const [name, limit] of Object.entries(limits)) {
        const used = await q.used(svc.db, id, name);
        // -1 is no limit at all, whatever the usage.
        if (limit >= 0 && used > limit)
          throw new ApiError(
            400,
            `Quota limit ${limit} for ${name} must be greater than or equal to already used ${used}`,
            'HTTPBadRequest',
          );
      }
    }
    await q.setLimits(id, limits);
    return { quota: await q.limits(id) };
  });
  app.delete('/v2.0/quotas/:id', async (req, reply: FastifyReply) => {
    const ctx = NetworkContext.of(req.context);
    enforce(ctx, 'delete_quota');
    const id = idOf(req);
    if (!(await q.reset(id)))
      throw new ApiError(404, `Quota for tenant ${id} could not be found.`, 'TenantQuotaNotFound');
    reply.code(204);
    return reply.send();
  });
}
