// os-simple-tenant-usage (nova.api.openstack.compute.simple_tenant_usage): hours, vCPU, RAM
// and disk hours of the servers (the servers family's `instances`, deleted ones included) that
// ran in a period, per project (all projects for admins), paginated by server from 2.40.
import type { FastifyRequest } from 'fastify';
import type { ComputeService } from '../service.ts';
import { auditLog, tenantUsages, type UsageQuery } from '../usage.ts';
import { authorize, badRequest, mv, notFound, queryOf } from './common.ts';
import { limitOf, nextLink } from './flavors.ts';

const STU = 'os_compute_api:os-simple-tenant-usage';

/** The usage query of a request: its period, and its page from 2.40. */
function usageQuery(req: FastifyRequest, projectId: string | undefined, detailed: boolean): UsageQuery {
  const q = queryOf(req);
  return {
    start: q.get('start'),
    end: q.get('end'),
    projectId,
    detailed,
    paged: mv(req).gte('2.40') ? { limit: limitOf(req), marker: q.get('marker') } : undefined,
  };
}

function checkQuery(req: FastifyRequest, allowed: string[]) {
  if (!mv(req).gte('2.75')) return;
  const q = queryOf(req);
  for (const k of q.keys())
    if (!allowed.includes(k))
      throw badRequest(
        `Invalid input for query parameters ${k}. Value: ${q.get(k)}. Additional properties are not allowed ('${k}' was unexpected)`,
      );
}

export async function listTenantUsage(svc: ComputeService, req: FastifyRequest) {
  // Nova's router has no route for an empty tenant id (a trailing slash): 404.
  if (req.url.split('?')[0]!.endsWith('/')) {
    req.authorized = true;
    throw notFound('The resource could not be found.');
  }
  checkQuery(req, ['start', 'end', 'detailed', 'limit', 'marker']);
  authorize(req, `${STU}:list`);
  const detailed = queryOf(req).get('detailed') === '1';
  const { list, more } = await tenantUsages(svc.db, usageQuery(req, undefined, detailed));
  const out: Record<string, unknown> = { tenant_usages: list };
  if (more) out.tenant_usages_links = nextLink(req, 'os-simple-tenant-usage', more);
  return out;
}

export async function showTenantUsage(svc: ComputeService, req: FastifyRequest<{ Params: { id: string } }>) {
  checkQuery(req, ['start', 'end', 'limit', 'marker']);
  authorize(req, `${STU}:show`, { project_id: req.params.id });
  const { list, more } = await tenantUsages(svc.db, usageQuery(req, req.params.id, true));
  const out: Record<string, unknown> = { tenant_usage: list[0] ?? {} };
  if (more) out.tenant_usage_links = nextLink(req, `os-simple-tenant-usage/${req.params.id}`, more);
  return out;
}

export async function listInstanceUsageAudit(svc: ComputeService, req: FastifyRequest) {
  authorize(req, 'os_compute_api:os-instance-usage-audit-log:list', {});
  return { instance_usage_audit_logs: await auditLog(svc.db, new Date()) };
}
export async function showInstanceUsageAudit(svc: ComputeService, req: FastifyRequest<{ Params: { before: string } }>) {
  authorize(req, 'os_compute_api:os-instance-usage-audit-log:show', {});
  const id = req.params.before;
  const m = id.includes('.')
    ? /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)\.(\d{1,6})$/.exec(id)
    : /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)$/.exec(id);
  const t = m ? Date.parse(`${m[1]}T${m[2]}${m[3] ? `.${m[3].padEnd(3, '0').slice(0, 3)}` : ''}Z`) : NaN;
  if (Number.isNaN(t)) throw badRequest(`Invalid timestamp for date ${id}`);
  return { instance_usage_audit_log: await auditLog(svc.db, new Date(t)) };
}
