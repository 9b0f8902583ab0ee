// Quotas (nova.api.openstack.compute.quota_sets and quota_classes, nova.quota's DbQuotaDriver):
// per-project and per-user limits over the 'default' class and the configured defaults, usage
// counted from what exists (Nova counts, it does not reserve), settable ranges, quota classes.
// Other families check deltas through the QuotaEngine kept in svc.parts ('quotas'); servers are
// counted in SQL over the instances table (its flavor-size columns give cores and RAM).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ComputeService, Family } from '../service.ts';
import { quotaMigrations } from '../db/migrations/quotas.ts';
import { authorize, badRequest, forbidden, mv, queryOf, validateBody } from './common.ts';

/** Nova's quota resources, in QUOTAS order, with their [quota] defaults (-1: unlimited). */
export const QUOTA_DEFAULTS: Record<string, number> = {
  instances: 10,
  cores: 20,
  ram: 50 * 1024,
  metadata_items: 128,
  injected_files: 5,
  injected_file_content_bytes: 10 * 1024,
  injected_file_path_bytes: 255,
  key_pairs: 100,
  server_groups: 10,
  server_group_members: 10,
  fixed_ips: -1,
  floating_ips: -1,
  security_groups: -1,
  security_group_rules: -1,
};
export const RESOURCES = Object.keys(QUOTA_DEFAULTS);
const NETWORK_QUOTAS = ['fixed_ips', 'floating_ips', 'security_group_rules', 'security_groups'];
const FILTERED_2_36 = NETWORK_QUOTAS;
const FILTERED_2_57 = [...NETWORK_QUOTAS, 'injected_files', 'injected_file_content_bytes', 'injected_file_path_bytes'];
const QS = 'os_compute_api:os-quota-sets';
const QCS = 'os_compute_api:os-quota-class-sets';

/** Deltas over quota answer 403 with Nova's message. */
export class OverQuota extends Error {
  constructor(
    public resources: string[],
    public detail: Record<string, { requested: number; used: number; allowed: number }>,
  ) {
    super(`Quota exceeded for ${resources.join(', ')}`);
  }
}

type Limits = Record<string, number>;
type Detail = Record<string, { limit: number; in_use: number; reserved: number }>;

export class QuotaEngine {
  constructor(private svc: ComputeService) {}
  private get db() {
    return this.svc.db;
  }

  private async rows(
    table: 'quotas' | 'project_user_quotas' | 'quota_classes',
    where: Partial<Record<'project_id' | 'user_id' | 'class_name', string>>,
  ): Promise<Limits> {
    let q = this.db.selectFrom(table).select(['resource', 'hard_limit']);
    // The key columns differ from table to table: a dynamic reference (its names are typed above).
    for (const [k, v] of Object.entries(where)) q = q.where(this.db.dynamic.ref(k), '=', v);
    return Object.fromEntries((await q.execute()).map((r) => [r.resource, Number(r.hard_limit)]));
  }

  /** A class's limits; what the class does not set is the configured default (resource.default). */
  async classLimits(name: string): Promise<Limits> {
    const cls = await this.rows('quota_classes', { class_name: name });
    return Object.fromEntries(RESOURCES.map((r) => [r, cls[r] ?? QUOTA_DEFAULTS[r]!]));
  }

  async defaults(): Promise<Limits> {
    return this.classLimits('default');
  }

  async projectLimits(projectId: string): Promise<Limits> {
    const defaults = await this.defaults();
    const own = await this.rows('quotas', { project_id: projectId });
    return Object.fromEntries(RESOURCES.map((r) => [r, own[r] ?? defaults[r]!]));
  }

  async userLimits(projectId: string, userId: string): Promise<Limits> {
    const project = await this.projectLimits(projectId);
    const own = await this.rows('project_user_quotas', { project_id: projectId, user_id: userId });
    return Object.fromEntries(RESOURCES.map((r) => [r, own[r] ?? project[r]!]));
  }

  /** Usage as Nova's _get_usages counts it (key pairs and group members are per user, shown 0). */
  async usages(projectId: string, userId?: string): Promise<Record<string, number>> {
    const s = await this.countServers(projectId, userId);
    const groups = await this.db
      .selectFrom('server_groups')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('project_id', '=', projectId)
      .$if(!!userId, (q) => q.where('user_id', '=', userId!))
      .executeTakeFirst()
      .catch(() => ({ n: 0 }));
    return {
      instances: s.instances,
      cores: s.cores,
      ram: s.ram,
      key_pairs: 0,
      server_groups: Number(groups?.n ?? 0),
      server_group_members: 0,
    };
  }

  /** Servers counted from the servers family's `instances` table (not deleted), cores and RAM summed over its flavor-size columns. */
  async countServers(projectId: string, userId?: string): Promise<{ instances: number; cores: number; ram: number }> {
    const r = await this.db
      .selectFrom('instances')
      .select((eb) => [eb.fn.countAll().as('n'), eb.fn.sum('vcpus').as('cores'), eb.fn.sum('memory_mb').as('ram')])
      .where('project_id', '=', projectId)
      .where('deleted', '=', 0)
      .$if(!!userId, (q) => q.where('user_id', '=', userId!))
      .executeTakeFirst()
      .catch(() => undefined);
    return { instances: Number(r?.n ?? 0), cores: Number(r?.cores ?? 0), ram: Number(r?.ram ?? 0) };
  }

  async detail(projectId: string, userId?: string): Promise<Detail> {
    const limits = userId ? await this.userLimits(projectId, userId) : await this.projectLimits(projectId);
    const used = await this.usages(projectId, userId);
    return Object.fromEntries(RESOURCES.map((r) => [r, { limit: limits[r]!, in_use: used[r] ?? 0, reserved: 0 }]));
  }

  /**
   * Checks that adding `deltas` stays within the project's and the user's limits
   * (Quotas.check_deltas); `counts` gives the current usage of each resource.
   */
  async check(
    projectId: string,
    userId: string,
    deltas: Record<string, number>,
    counts: { project: Record<string, number>; user?: Record<string, number> },
  ) {
    const pl = await this.projectLimits(projectId);
    const ul = await this.userLimits(projectId, userId);
    const over: string[] = [];
    const detail: OverQuota['detail'] = {};
    for (const [r, d] of Object.entries(deltas)) {
      for (const [limit, used] of [
        [pl[r]!, counts.project[r] ?? 0],
        [ul[r]!, counts.user?.[r] ?? counts.project[r] ?? 0],
      ] as const) {
        if (limit >= 0 && used + d > limit && !over.includes(r)) {
          over.push(r);
          detail[r] = { requested: d, used, allowed: limit };
        }
      }
    }
    if (over.length) throw new OverQuota(over, detail);
  }

  /**
   * Nova's check_num_instances_quota for a server create of min..max servers of a flavor: the
   * number that fits (max, or less down to min), or 403 "Quota exceeded for instances: ...".
   * Usage is counted now (Nova counts, then rechecks after the create).
   */
  async checkServers(
    projectId: string,
    userId: string,
    flavor: { vcpus: number; ram: number },
    minCount: number,
    maxCount: number,
  ): Promise<number> {
    const userRows = await this.rows('project_user_quotas', { project_id: projectId, user_id: userId });
    const perUser = ['instances', 'cores', 'ram'].some((r) => r in userRows);
    const limits = perUser ? await this.userLimits(projectId, userId) : await this.projectLimits(projectId);
    const projectLimits = await this.projectLimits(projectId);
    const used = await this.countServers(projectId);
    const usedUser = perUser ? await this.countServers(projectId, userId) : used;
    const deltas = { instances: maxCount, cores: maxCount * flavor.vcpus, ram: maxCount * flavor.ram };
    const keys = ['instances', 'cores', 'ram'] as const;
    const overFor = (lim: Limits, u: Record<string, number>) =>
      keys.filter((r) => lim[r]! >= 0 && u[r]! + deltas[r] > lim[r]!);
    let overs = overFor(projectLimits, used);
    let quotas: Limits = projectLimits,
      usage: Record<string, number> = used;
    if (!overs.length && perUser) {
      overs = overFor(limits, usedUser);
      quotas = limits;
      usage = usedUser;
    }
    if (!overs.length) return maxCount;
    const headroom: Record<string, number> = Object.fromEntries(keys.map((r) => [r, quotas[r]! - usage[r]!]));
    if (quotas.cores === -1)
      headroom.cores = deltas.cores ? (headroom.instances! * deltas.cores) / deltas.instances : headroom.instances!;
    if (quotas.ram === -1)
      headroom.ram = deltas.ram ? (headroom.instances! * deltas.ram) / deltas.instances : headroom.instances!;
    let allowed = quotas.instances === -1 ? Infinity : headroom.instances!;
    if (flavor.vcpus) allowed = Math.min(allowed, Math.floor(headroom.cores! / flavor.vcpus));
    if (flavor.ram) allowed = Math.min(allowed, Math.floor(headroom.ram! / flavor.ram));
    if (allowed > 0 && minCount <= allowed && allowed <= maxCount)
      return this.checkServers(projectId, userId, flavor, minCount, allowed);
    const requested: Record<string, string> = {
      instances: minCount === maxCount ? String(minCount) : `${minCount}-${maxCount}`,
      cores: String(deltas.cores),
      ram: String(deltas.ram),
    };
    const j = (f: (r: (typeof keys)[number]) => string) => overs.map(f).join(', ');
    throw forbidden(
      `Quota exceeded for ${overs.join(', ')}: Requested ${j((r) => requested[r]!)}, but already used ${j((r) => String(quotas[r]! - headroom[r]!))} of ${j((r) => String(quotas[r]))} ${overs.join(', ')}`,
    );
  }

  /** Nova's metadata_items limit on a server's metadata: 403 "Maximum number of metadata items exceeds N". */
  async checkMetadata(projectId: string, userId: string, count: number) {
    const limit = (await this.userLimits(projectId, userId)).metadata_items!;
    if (limit >= 0 && count > limit) throw forbidden(`Maximum number of metadata items exceeds ${limit}`);
  }

  async set(projectId: string, userId: string | undefined, values: Limits) {
    await this.db.transaction().execute(async (trx) => {
      for (const [resource, hard_limit] of Object.entries(values)) {
        if (userId) {
          await trx
            .deleteFrom('project_user_quotas')
            .where('project_id', '=', projectId)
            .where('user_id', '=', userId)
            .where('resource', '=', resource)
            .execute();
          await trx
            .insertInto('project_user_quotas')
            .values({ project_id: projectId, user_id: userId, resource, hard_limit })
            .execute();
        } else {
          await trx.deleteFrom('quotas').where('project_id', '=', projectId).where('resource', '=', resource).execute();
          await trx.insertInto('quotas').values({ project_id: projectId, resource, hard_limit }).execute();
        }
      }
    });
  }

  async setClass(name: string, values: Limits) {
    await this.db.transaction().execute(async (trx) => {
      for (const [resource, hard_limit] of Object.entries(values)) {
        await trx.deleteFrom('quota_classes').where('class_name', '=', name).where('resource', '=', resource).execute();
        await trx.insertInto('quota_classes').values({ class_name: name, resource, hard_limit }).execute();
      }
    });
  }

  async destroy(projectId: string, userId?: string) {
    if (userId)
      await this.db
        .deleteFrom('project_user_quotas')
        .where('project_id', '=', projectId)
        .where('user_id', '=', userId)
        .execute();
    else {
      await this.db.deleteFrom('quotas').where('project_id', '=', projectId).execute();
      await this.db.deleteFrom('project_user_quotas').where('project_id', '=', projectId).execute();
    }
  }

  /** Nova's get_settable_quotas: the range an update may choose for each resource. */
  async settable(projectId: string, userId?: string): Promise<Record<string, { minimum: number; maximum: number }>> {
    const project = await this.detail(projectId);
    const out: Record<string, { minimum: number; maximum: number }> = {};
    if (!userId) {
      // The minimum is what is used, or what the project's users were given, whichever is more.
      const users = await this.db
        .selectFrom('project_user_quotas')
        .select(['resource', 'hard_limit'])
        .where('project_id', '=', projectId)
        .execute();
      for (const r of RESOURCES) {
        const given = users.filter((u) => u.resource === r).reduce((a, u) => a + Number(u.hard_limit), 0);
        out[r] = { minimum: Math.max(given, project[r]!.in_use), maximum: -1 };
      }
      return out;
    }
    const user = await this.detail(projectId, userId);
    const userRows = await this.rows('project_user_quotas', { project_id: projectId, user_id: userId });
    const others = await this.db
      .selectFrom('project_user_quotas')
      .select(['resource', 'hard_limit'])
      .where('project_id', '=', projectId)
      .where('user_id', '!=', userId)
      .execute();
    for (const r of RESOURCES) {
      const pl = project[r]!.limit;
      const othersSum = others.filter((u) => u.resource === r).reduce((a, u) => a + Number(u.hard_limit), 0);
      // Remains for the project (its limit less what its other users were given and what it uses), plus this user's own quota.
      const remains = pl < 0 ? -1 : pl - Math.max(othersSum + (userRows[r] ?? 0), project[r]!.in_use);
      const maximum = remains < 0 && pl < 0 ? -1 : remains + (userRows[r] ?? 0);
      out[r] = { minimum: user[r]!.in_use, maximum };
    }
    return out;
  }
}

export function quotaEngine(svc: ComputeService): QuotaEngine {
  let q = svc.parts.get('quotas') as QuotaEngine | undefined;
  if (!q) {
    q = new QuotaEngine(svc);
    svc.parts.set('quotas', q);
  }
  return q;
}

/** nova.api.openstack.identity.verify_project_id: 400 when identity says the project does not exist. */
export async function verifyProjectId(req: FastifyRequest, svc: ComputeService, projectId: string) {
  let base: string;
  try {
    base = await svc.ctx.session.endpoint('identity');
  } catch {
    return;
  }
  base = base.replace(/\/+$/, '').replace(/\/v3$/, '');
  let res: Response;
  try {
    res = await fetch(`${base}/v3/projects/${encodeURIComponent(projectId)}`, {
      headers: { 'X-Auth-Token': req.ctx?.token ?? '' },
    });
  } catch {
    return;
  }
  if (res.status === 404) throw badRequest(`Project ID ${projectId} is not a valid project.`);
}

// ---- the API ------------------------------------------------------------------------------

const commonQuota = { type: ['integer', 'string'], pattern: '^-?[0-9]+$', minimum: -1, maximum: 0x7fffffff };
const booleanParam = {
  type: ['boolean', 'string'],
  enum: [
    true,
    'True',
    'TRUE',
    'true',
    '1',
    'ON',
    'On',
    'on',
    'YES',
    'Yes',
    'yes',
    false,
    'False',
    'FALSE',
    'false',
    '0',
    'OFF',
    'Off',
    'off',
    'NO',
    'No',
    'no',
  ],
};
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

function registerRoutes(app: FastifyInstance, svc: ComputeService) {
  const engine = quotaEngine(svc);

  app.get<{ Params: { id: string } }>('/os-quota-sets/:id', async (req) => {
    const id = req.params.id;
    const user = userParam(req);
    authorize(req, `${QS}:show`, { project_id: id });
    await verifyProjectId(req, svc, id);
    const limits = user ? await engine.userLimits(id, user) : await engine.projectLimits(id);
    return { quota_set: format(id, limits, filtered(req)) };
  });

  app.get<{ Params: { id: string } }>('/os-quota-sets/:id/detail', async (req) => {
    const id = req.params.id;
    const user = userParam(req);
    authorize(req, `${QS}:detail`, { project_id: id });
    await verifyProjectId(req, svc, id);
    return { quota_set: format(id, await engine.detail(id, user), filtered(req)) };
  });

  app.get<{ Params: { id: string } }>('/os-quota-sets/:id/defaults', async (req) => {
    const id = req.params.id;
    authorize(req, `${QS}:defaults`, { project_id: id });
    await verifyProjectId(req, svc, id);
    return { quota_set: format(id, await engine.defaults(), filtered(req)) };
  });

  app.put<{ Params: { id: string } }>('/os-quota-sets/:id', async (req) => {
    const id = req.params.id;
    const body = validateBody<any>(req, mv(req).gte('2.57') ? UPDATE_257 : mv(req).gte('2.36') ? UPDATE_236 : UPDATE);
    const user = userParam(req);
    authorize(req, `${QS}:update`, { project_id: id });
    await verifyProjectId(req, svc, id);
    const set = body.quota_set as Record<string, unknown>;
    if ('networks' in set) throw badRequest('The networks quota has been removed');
    const force =
      set.force !== undefined && ['true', '1', 'on', 'yes', 'y', 't'].includes(String(set.force).toLowerCase());
    const settable = await engine.settable(id, user);
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
    await engine.set(id, user, values);
    const limits = user ? await engine.userLimits(id, user) : await engine.projectLimits(id);
    return { quota_set: format(null, limits, filtered(req)) };
  });

  app.delete<{ Params: { id: string } }>('/os-quota-sets/:id', async (req, reply) => {
    const id = req.params.id;
    const user = userParam(req);
    authorize(req, `${QS}:delete`, { project_id: id });
    await engine.destroy(id, user);
    reply.code(202).send();
  });

  const classSkip = (req: FastifyRequest) =>
    mv(req).gte('2.57')
      ? FILTERED_2_57
      : mv(req).gte('2.50')
        ? NETWORK_QUOTAS
        : ['server_groups', 'server_group_members'];

  app.get<{ Params: { id: string } }>('/os-quota-class-sets/:id', async (req) => {
    authorize(req, `${QCS}:show`, {});
    return { quota_class_set: format(req.params.id, await engine.classLimits(req.params.id), classSkip(req)) };
  });

  app.put<{ Params: { id: string } }>('/os-quota-class-sets/:id', async (req) => {
    const body = validateBody<any>(
      req,
      mv(req).gte('2.57') ? CLASS_UPDATE_257 : mv(req).gte('2.50') ? CLASS_UPDATE_250 : CLASS_UPDATE,
    );
    authorize(req, `${QCS}:update`, {});
    const id = req.params.id;
    if (id.length > 255) throw badRequest('Invalid input received: quota_class_name has a maximum length of 255.');
    await engine.setClass(id, Object.fromEntries(Object.entries(body.quota_class_set).map(([k, v]) => [k, Number(v)])));
    return { quota_class_set: format(null, await engine.classLimits(id), classSkip(req)) };
  });
}

/** Nova's 403 for a quota check that failed (server groups, key pairs use their own texts). */
export function overQuotaError(message: string) {
  return forbidden(message);
}

export const quotasFamily: Family = {
  name: 'quotas',
  migrations: quotaMigrations,
  routes: registerRoutes,
  async init(svc) {
    quotaEngine(svc);
  },
};
