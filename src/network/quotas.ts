// Neutron's quota engine (DbQuotaDriver): a limit per project and resource (the project's own
// row in `quotas`, else the configured default; -1 is unlimited), usage counted from the
// resource's table inside the creating transaction, so the check and the insert are one
// atomic step: SQLite runs one write transaction at a time, and on PostgreSQL the transaction
// takes an advisory lock on (project, resource) first.
import { sql, type Kysely, type Transaction } from 'kysely';
import { ApiError } from '../core/errors.ts';
import { precompiled, serialType } from '../core/db.ts';
import { dynamic, type NetworkDb } from './db/schema.ts';

/** Neutron's defaults (neutron.conf [quotas]). */
export const DEFAULT_QUOTAS: Record<string, number> = {
  network: 100,
  subnet: 100,
  port: 500,
  router: 10,
  floatingip: 50,
  security_group: 10,
  security_group_rule: 100,
  subnetpool: -1,
  rbac_policy: 10,
  trunk: -1,
};

/** How usage of a quota resource is counted: the rows of its table that the project owns. */
export interface QuotaResource {
  table: string;
}

type Db = Kysely<NetworkDb> | Transaction<NetworkDb>;

export const overQuota = (names: string[]) =>
  new ApiError(
    409,
    `Quota exceeded for resources: [${[...names]
      .sort()
      .map((n) => `'${n}'`)
      .join(', ')}].`,
    'OverQuota',
  );

const limitOf = precompiled(['projectId', 'name'], (db, p) =>
  db.selectFrom('quotas').select('limit').where('project_id', '=', p.projectId).where('resource', '=', p.name),
);

export class Quotas {
  readonly resources = new Map<string, QuotaResource>();
  constructor(
    private db: Kysely<NetworkDb>,
    public defaults: Record<string, number> = { ...DEFAULT_QUOTAS },
  ) {}

  /** A family declares how its quota resource is counted. */
  track(name: string, r: QuotaResource) {
    this.resources.set(name, r);
  }

  /** The tracked resources' defaults (GET /v2.0/quotas/<project>/default). */
  defaultLimits(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const name of [...this.resources.keys()].sort()) out[name] = this.defaults[name] ?? -1;
    return out;
  }

  async limits(projectId: string, tx: Db = this.db): Promise<Record<string, number>> {
    const out = this.defaultLimits();
    for (const r of await tx.selectFrom('quotas').selectAll().where('project_id', '=', projectId).execute())
      if (r.resource in out) out[r.resource] = Number(r.limit);
    return out;
  }

  async used(tx: Db, projectId: string, name: string): Promise<number> {
    const r = this.resources.get(name);
    if (!r) return 0;
    const q = dynamic(tx)
      .selectFrom(r.table)
      .select((eb) => eb.fn.countAll().as('n'))
      .where(`${r.table}.project_id`, '=', projectId);
    return Number(((await q.executeTakeFirst()) as { n?: unknown } | undefined)?.n ?? 0);
  }

  /** Raises Neutron's OverQuota (409) when `count` more of `name` would pass the project's limit. */
  async check(tx: Transaction<NetworkDb>, projectId: string, name: string, count = 1) {
    if (!this.resources.has(name)) return;
    if (serialType(tx) === 'serial')
      await sql`select pg_advisory_xact_lock(hashtext(${`${projectId}/${name}`}))`.execute(tx);
    const limit = (await limitOf(tx, { projectId, name })).rows[0]?.limit ?? this.defaults[name] ?? -1;
    if (Number(limit) < 0) return;
    const used = await this.used(tx, projectId, name);
    if (used + count > Number(limit)) throw overQuota([name]);
  }

  /** Projects with a limit of their own, each with all limits (GET /v2.0/quotas). */
  async projects(): Promise<Array<Record<string, string | number>>> {
    const out = new Map<string, Record<string, string | number>>();
    for (const r of await this.db.selectFrom('quotas').selectAll().orderBy('project_id').execute()) {
      let p = out.get(r.project_id);
      if (!p) {
        p = { ...this.defaultLimits(), project_id: r.project_id, tenant_id: r.project_id };
        out.set(r.project_id, p);
      }
      if (r.resource in p) p[r.resource] = Number(r.limit);
    }
    return [...out.values()];
  }

  async setLimits(projectId: string, limits: Record<string, number>) {
    await this.db.transaction().execute(async (tx) => {
      for (const [resource, limit] of Object.entries(limits)) {
        await tx
          .insertInto('quotas')
          .values({ project_id: projectId, resource, limit })
          .onConflict((oc) => oc.columns(['project_id', 'resource']).doUpdateSet({ limit }))
          .execute();
      }
    });
  }

  /** Back to the defaults; false when the project had no limit of its own. */
  async reset(projectId: string): Promise<boolean> {
    const r = await this.db.deleteFrom('quotas').where('project_id', '=', projectId).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}
