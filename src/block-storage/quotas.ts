// Cinder's quotas: per project limits (quota sets), the `default` quota class, per volume type
// limits (`volumes_<type>`, `gigabytes_<type>`, `snapshots_<type>`), usage counted from the
// tables. A check and the insert it guards run under one lock per process, so concurrent
// creates never go past a limit.
import type { Kysely } from 'kysely';
import { ApiError } from '../core/errors.ts';
import type { BlockStorageDb } from './db/schema.ts';

/** Cinder's defaults (quota_volumes, quota_snapshots, ...). */
export const DEFAULT_QUOTAS: Record<string, number> = {
  volumes: 10,
  snapshots: 10,
  gigabytes: 1000,
  backups: 10,
  backup_gigabytes: 1000,
  per_volume_gigabytes: -1,
  groups: 10,
};

/** A promise chain: one critical section at a time. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.tail.then(fn, fn);
    this.tail = p.catch(() => undefined);
    return p;
  }
}

export interface Usage {
  [resource: string]: number;
}

export class QuotaEngine {
  readonly lock = new Mutex();
  constructor(private db: Kysely<BlockStorageDb>) {}

  async classLimits(name = 'default'): Promise<Record<string, number>> {
    const rows = await this.db.selectFrom('quota_classes').selectAll().where('class_name', '=', name).execute();
    const out = { ...DEFAULT_QUOTAS };
    for (const r of rows) out[r.resource] = Number(r.hard_limit);
    return out;
  }

  /** The limits of a project: its own, else the default class's; per-type ones for `typeNames`. */
  async limits(projectId: string, typeNames: string[] = []): Promise<Record<string, number>> {
    const out = await this.classLimits();
    for (const n of typeNames) for (const r of ['volumes', 'gigabytes', 'snapshots']) out[`${r}_${n}`] ??= -1;
    const rows = await this.db.selectFrom('quotas').selectAll().where('project_id', '=', projectId).execute();
    for (const r of rows) out[r.resource] = Number(r.hard_limit);
    return out;
  }

  async set(projectId: string, resource: string, limit: number) {
    await this.db.deleteFrom('quotas').where('project_id', '=', projectId).where('resource', '=', resource).execute();
    await this.db.insertInto('quotas').values({ project_id: projectId, resource, hard_limit: limit }).execute();
  }

  async setClass(name: string, resource: string, limit: number) {
    await this.db.deleteFrom('quota_classes').where('class_name', '=', name).where('resource', '=', resource).execute();
    await this.db.insertInto('quota_classes').values({ class_name: name, resource, hard_limit: limit }).execute();
  }

  async reset(projectId: string) {
    await this.db.deleteFrom('quotas').where('project_id', '=', projectId).execute();
  }

  /** What a project uses now, total and per type name. */
  async usage(projectId: string): Promise<Usage> {
    const types = new Map(
      (await this.db.selectFrom('volume_types').select(['id', 'name']).execute()).map((t) => [t.id, t.name]),
    );
    const u: Usage = { volumes: 0, gigabytes: 0, snapshots: 0, backups: 0, backup_gigabytes: 0, groups: 0 };
    const add = (k: string, n: number) => {
      u[k] = (u[k] ?? 0) + n;
    };
    const vols = await this.db
      .selectFrom('volumes')
      .select(['id', 'size', 'volume_type_id'])
      .where('project_id', '=', projectId)
      .where('deleted', '=', 0)
      .execute();
    const typeOfVolume = new Map<string, string | undefined>();
    for (const v of vols) {
      const tn = types.get(v.volume_type_id);
      typeOfVolume.set(v.id, tn);
      add('volumes', 1);
      add('gigabytes', Number(v.size));
      if (tn) {
        add(`volumes_${tn}`, 1);
        add(`gigabytes_${tn}`, Number(v.size));
      }
    }
    const snaps = await this.db
      .selectFrom('snapshots')
      .select(['volume_id', 'volume_size'])
      .where('project_id', '=', projectId)
      .where('deleted', '=', 0)
      .execute();
    for (const s of snaps) {
      add('snapshots', 1);
      add('gigabytes', Number(s.volume_size));
      const tn = typeOfVolume.get(s.volume_id);
      if (tn) {
        add(`snapshots_${tn}`, 1);
        add(`gigabytes_${tn}`, Number(s.volume_size));
      }
    }
    const backups = await this.db
      .selectFrom('backups')
      .select(['size'])
      .where('project_id', '=', projectId)
      .where('deleted', '=', 0)
      .execute();
    for (const b of backups) {
      add('backups', 1);
      add('backup_gigabytes', Number(b.size));
    }
    const groups = await this.db
      .selectFrom('groups')
      .select(['id'])
      .where('project_id', '=', projectId)
      .where('deleted', '=', 0)
      .execute();
    add('groups', groups.length);
    return u;
  }

  /**
   * Checks that `deltas` fit the project's limits (413 with Cinder's message when not). Call it
   * inside `lock.run()` together with the insert it guards.
   */
  async check(projectId: string, deltas: Record<string, number>, typeName?: string) {
    const limits = await this.limits(projectId, typeName ? [typeName] : []);
    const usage = await this.usage(projectId);
    const per = limits.per_volume_gigabytes ?? -1;
    const size = deltas.gigabytes ?? 0;
    if (per >= 0 && deltas.volumes && size > per)
      throw new ApiError(413, `Requested volume size ${size}G is larger than maximum allowed limit ${per}G.`);
    const all: Record<string, number> = { ...deltas };
    if (typeName)
      for (const [k, n] of Object.entries(deltas))
        if (k !== 'backups' && k !== 'backup_gigabytes') all[`${k}_${typeName}`] = n;
    for (const [res, n] of Object.entries(all)) {
      if (n <= 0) continue;
      const limit = limits[res];
      if (limit === undefined || limit < 0) continue;
      const used = usage[res] ?? 0;
      if (used + n <= limit) continue;
      if (res.startsWith('gigabytes') || res === 'backup_gigabytes')
        throw new ApiError(
          413,
          `Requested ${res.startsWith('backup') ? 'backup' : 'volume or snapshot'} exceeds allowed ${res} quota. Requested ${n}G, quota is ${limit}G and ${used}G has been consumed.`,
          'VolumeSizeExceedsAvailableQuota',
        );
      const what = res.startsWith('snapshots')
        ? 'snapshots'
        : res.startsWith('backups')
          ? 'backups'
          : res === 'groups'
            ? 'groups'
            : 'volumes';
      throw new ApiError(413, `Maximum number of ${what} allowed (${limit}) exceeded for quota '${res}'.`, 'OverQuota');
    }
  }
}
