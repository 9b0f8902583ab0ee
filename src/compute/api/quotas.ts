// Quotas (nova.api.openstack.compute.quota_sets and quota_classes, nova.quota's DbQuotaDriver):
// per-project and per-user limits over the 'default' class and the configured defaults, usage
// counted from what exists (Nova counts, it does not reserve), settable ranges, quota classes.
// Other families check deltas through the QuotaEngine kept in svc.parts ('quotas'); servers are
// counted in SQL over the instances table (its flavor-size columns give cores and RAM).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ComputeService, Family } from '../service.ts';
import { quotaMigrations } from '../db/migrations/quotas.ts';
import { RESOURCES } from '../quota.ts';
import { authorize, badRequest, forbidden, mv, queryOf, validateBody } from './common.ts';
import { BOOLEAN as booleanParam } from './schemas/parameter_types.ts';

const NETWORK_QUOTAS = ['fixed_ips', 'floating_ips', 'security_group_rules', 'security_groups'];
const FILTERED_2_36 = NETWORK_QUOTAS;
const FILTERED_2_57 = [...NETWORK_QUOTAS, 'injected_files', 'injected_file_content_bytes', 'injected_file_path_bytes'];
const QS = 'os_compute_api:os-quota-sets';
const QCS = 'os_compute_api:os-quota-class-sets';

/** nova.api.openstack.identity.verify_project_id: 400 when identity says the project does not exist. */
export async function verifyProjectId(req: FastifyRequest, svc: ComputeService, projectId: string) {
  let res: { status: number };
  try {
    // With the caller's token, as Nova asks keystone.
    res = await svc.parts.clients.identity.getProject(projectId, { token: req.ctx?.token ?? '' });
  } catch {
    return;
  }
  if (res.status === 404) throw badRequest(`Project ID ${projectId} is not a valid project.`);
}

// ---- the API ------------------------------------------------------------------------------

const commonQuota = { type: ['integer', 'string'], pattern: '^-?[0-9]+$', minimum: -1, maximum: 0x7fffffff };
const setSchema = (wrapper: string, keys: string[], extra: Record<string, unknown> = {}) => ({
  type: 'object',
  required: [wrapper],
  additionalProperties: false,
  properties: {
    [wrapper]: {
      type: 'object',
      additionalProperties: false,
      properties: { ...Object.fromEntries(keys.map((k) => [k, commonQuota])), ...extra },
    },
  },
});
const UPDATE = setSchema('quota_set', [...RESOURCES, 'networks'], { force: booleanParam });
const UPDATE_236 = setSchema(
  'quota_set',
  RESOURCES.filter((r) => !FILTERED_2_36.includes(r)),
  { force: booleanParam },
);
const UPDATE_257 = setSchema(
  'quota_set',
  RESOURCES.filter((r) => !FILTERED_2_57.includes(r)),
  { force: booleanParam },
);
const CLASS_UPDATE = setSchema(
  'quota_class_set',
  RESOURCES.filter((r) => r !== 'server_groups' && r !== 'server_group_members'),
);
const CLASS_UPDATE_250 = setSchema(
  'quota_class_set',
  RESOURCES.filter((r) => !NETWORK_QUOTAS.includes(r)),
);
const CLASS_UPDATE_257 = setSchema(
  'quota_class_set',
  RESOURCES.filter((r) => !FILTERED_2_57.includes(r)),
);

function filtered(req: FastifyRequest): string[] {
  if (mv(req).gte('2.57')) return FILTERED_2_57;
  if (mv(req).gte('2.36')) return FILTERED_2_36;
  return [];
}

function format<T>(id: string | null, values: Record<string, T>, skip: string[]) {
  const out: Record<string, unknown> = id === null ? {} : { id };
  for (const r of RESOURCES) if (!skip.includes(r) && r in values) out[r] = values[r];
  return out;
}

/** The `user_id` of the query (its first value), and 2.75's refusal of other parameters. */
function userParam(req: FastifyRequest): string | undefined {
  const q = queryOf(req);
  if (mv(req).gte('2.75'))
    for (const k of q.keys())
      if (k !== 'user_id')
        throw badRequest(
          `Invalid input for query parameters ${k}. Value: ${q.get(k)}. Additional properties are not allowed ('${k}' was unexpected)`,
        );
  return q.getAll('user_id')[0] || undefined;
}

export async function showQuotaSet(svc: ComputeService, req: FastifyRequest<{ Params: { id: string } }>) {
  const id = req.params.id;
  const user = userParam(req);
  authorize(req, `${QS}:show`, { project_id: id });
  await verifyProjectId(req, svc, id);
  const limits = user ? await svc.parts.quotas.userLimits(id, user) : await svc.parts.quotas.projectLimits(id);
  return { quota_set: format(id, limits, filtered(req)) };
}

export async function showQuotaSetDetail(svc: ComputeService, req: FastifyRequest<{ Params: { id: string } }>) {
  const id = req.params.id;
  const user = userParam(req);
  authorize(req, `${QS}:detail`, { project_id: id });
  await verifyProjectId(req, svc, id);
  return { quota_set: format(id, await svc.parts.quotas.detail(id, user), filtered(req)) };
}

export async function showQuotaSetDefaults(svc: ComputeService, req: FastifyRequest<{ Params: { id: string } }>) {
  const id = req.params.id;
  authorize(req, `${QS}:defaults`, { project_id: id });
  await verifyProjectId(req, svc, id);
  return { quota_set: format(id, await svc.parts.quotas.defaults(), filtered(req)) };
}

export async function updateQuotaSet(svc: ComputeService, req: FastifyRequest<{ Params: { id: string } }>) {
  const id = req.params.id;
  const body = validateBody<{ quota_set: Record<string, unknown> }>(
    req,
    mv(req).gte('2.57') ? UPDATE_257 : mv(req).gte('2.36') ? UPDATE_236 : UPDATE,
  );
  const user = userParam(req);
  authorize(req, `${QS}:update`, { project_id: id });
  await verifyProjectId(req, svc, id);
  const set = body.quota_set;
  if ('networks' in set) throw badRequest('The networks quota has been removed');
  const force =
    set.force !== undefined && ['true', '1', 'on', 'yes', 'y', 't'].includes(String(set.force).toLowerCase());
  const settable = await svc.parts.quotas.settable(id, user);
  const values: Record<string, number> = {};
  for (const [key, raw] of Object.entries(set)) {
    if (key === 'force' || raw === null || raw === '') continue;
    const value = Number(raw);
    if (!force) {
      const { minimum, maximum } = settable[key]!;
      const inf = (v: number) => (v === -1 ? Infinity : v);
      if (inf(value) < inf(minimum))
        throw badRequest(
          `Quota limit ${value} for ${key} must be greater than or equal to already used and reserved ${minimum}.`,
        );
      if (inf(value) > inf(maximum))
        throw badRequest(`Quota limit ${value} for ${key} must be less than or equal to ${maximum}.`);
    }
    values[key] = value;
  }
  await svc.parts.quotas.set(id, user, values);
  const limits = user ? await svc.parts.quotas.userLimits(id, user) : await svc.parts.quotas.projectLimits(id);
  return { quota_set: format(null, limits, filtered(req)) };
}

export async function deleteQuotaSet(
  svc: ComputeService,
  req: FastifyRequest<{ Params: { id: string } }>,
  reply: FastifyReply,
) {
  const id = req.params.id;
  const user = userParam(req);
  authorize(req, `${QS}:delete`, { project_id: id });
  await svc.parts.quotas.destroy(id, user);
  reply.code(202).send();
}

const classSkip = (req: FastifyRequest) =>
  mv(req).gte('2.57')
    ? FILTERED_2_57
    : mv(req).gte('2.50')
      ? NETWORK_QUOTAS
      : ['server_groups', 'server_group_members'];

export async function showQuotaClassSet(svc: ComputeService, req: FastifyRequest<{ Params: { id: string } }>) {
  authorize(req, `${QCS}:show`, {});
  return { quota_class_set: format(req.params.id, await svc.parts.quotas.classLimits(req.params.id), classSkip(req)) };
}

export async function updateQuotaClassSet(svc: ComputeService, req: FastifyRequest<{ Params: { id: string } }>) {
  const body = validateBody<{ quota_class_set: Record<string, unknown> }>(
    req,
    mv(req).gte('2.57') ? CLASS_UPDATE_257 : mv(req).gte('2.50') ? CLASS_UPDATE_250 : CLASS_UPDATE,
  );
  authorize(req, `${QCS}:update`, {});
  const id = req.params.id;
  if (id.length > 255) throw badRequest('Invalid input received: quota_class_name has a maximum length of 255.');
  await svc.parts.quotas.setClass(
    id,
    Object.fromEntries(Object.entries(body.quota_class_set).map(([k, v]) => [k, Number(v)])),
  );
  return { quota_class_set: format(null, await svc.parts.quotas.classLimits(id), classSkip(req)) };
}

/** Nova's 403 for a quota check that failed (server groups, key pairs use their own texts). */
export function overQuotaError(message: string) {
  return forbidden(message);
}

export const quotasFamily: Family = {
  name: 'quotas',
  migrations: quotaMigrations,
};
