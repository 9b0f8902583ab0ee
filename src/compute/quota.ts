// Nova's quota engine (nova.quota's DbQuotaDriver): per-project and per-user limits over the
// 'default' class and the configured defaults; usage counted from what exists (Nova counts, it
// does not reserve): servers in SQL over the instances table (its flavor-size columns give
// cores and RAM). The API (api/quotas.ts) and every family that creates something check here.
import type { Kysely } from 'kysely';
import type { ComputeDb } from './db/schema.ts';
import { ApiError } from '../core/errors.ts';

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
  constructor(readonly db: Kysely<ComputeDb>) {}

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
    throw new ApiError(
      403,
      `Quota exceeded for ${overs.join(', ')}: Requested ${j((r) => requested[r]!)}, but already used ${j((r) => String(quotas[r]! - headroom[r]!))} of ${j((r) => String(quotas[r]))} ${overs.join(', ')}`,
    );
  }

  /** Nova's metadata_items limit on a server's metadata: 403 "Maximum number of metadata items exceeds N". */
  async checkMetadata(projectId: string, userId: string, count: number) {
    const limit = (await this.userLimits(projectId, userId)).metadata_items!;
    if (limit >= 0 && count > limit) throw new ApiError(403, `Maximum number of metadata items exceeds ${limit}`);
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
