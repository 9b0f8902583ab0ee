// A service's heartbeat, as oslo.service's report_state keeps it in nova's and cinder's DB servicegroup
// driver: every interval the row of (host, binary) in the service's own `services` table is created when it
// is missing, or has its report_count bumped and updated_at set, so that os-services shows the service
// `down` once its process stops beating. Heat's `service` table (a row per engine process, by id, no
// report_count) is kept by the same beat through `table`, `key` and `noReportCount`.
import type { Insertable, Kysely, Updateable } from 'kysely';
import { isUniqueViolation, now } from './db.ts';
import type { Logger } from './log.ts';
import { PeriodicTasks } from './periodic.ts';

/** The columns of a `services` table the heartbeat reads and writes itself. */
type OwnColumns = 'host' | 'binary' | 'created_at' | 'updated_at';

/** What a service writes into its own services row. */
export interface ServiceRowSpec<T> {
  host: string;
  binary: string;
  /** The table keeps soft-deleted rows (nova's `deleted`): only a row with deleted = 0 is the service's. */
  softDelete?: boolean;
  /** The service's table when it is not `services` (Heat's `service`). */
  table?: string;
  /** The columns that name the row instead of (host, binary) (Heat: a row per engine process, by id). */
  key?: Record<string, string>;
  /** The table has no report_count (Heat's). */
  noReportCount?: boolean;
  /** The new row's other columns. */
  row(): Omit<Insertable<T>, OwnColumns>;
  /** The columns each beat sets besides report_count and updated_at (also written into a new row). */
  beat?(at: string): Updateable<T> | Promise<Updateable<T>>;
}

/** The shape the heartbeat's queries are built against; every service's `services` table has these. */
interface HeartbeatDb {
  services: {
    id: string | number;
    host: string;
    binary: string;
    report_count: number;
    created_at: string;
    updated_at: string | null;
    deleted: number;
  };
}

export class ServiceHeartbeat<DB, Table extends keyof DB & string = 'services' & keyof DB> {
  private readonly periodic: PeriodicTasks;
  constructor(
    private readonly db: Kysely<DB>,
    private readonly spec: ServiceRowSpec<DB[Table]>,
    private readonly intervalSeconds: number,
    log: Logger,
  ) {
    this.periodic = new PeriodicTasks(log);
  }

  get host() {
    return this.spec.host;
  }

  get binary() {
    return this.spec.binary;
  }

  async start() {
    await this.beat();
    this.periodic.add(`${this.spec.binary} heartbeat`, this.intervalSeconds, () => this.beat());
  }

  stop() {
    this.periodic.stop();
  }

  /** One report: the row bumped, or created when there is none (a concurrent creator wins). */
  async beat() {
    const { host, binary } = this.spec;
    // One place where the service's own table type is left for the columns all of them share.
    const db = this.db as unknown as Kysely<HeartbeatDb>;
    const t = now();
    const extra = (await this.spec.beat?.(t)) ?? {};
    const table = (this.spec.table ?? 'services') as 'services';
    const counted = !this.spec.noReportCount;
    let q = db.selectFrom(table).select(counted ? ['id', 'report_count'] : ['id']);
    const key = this.spec.key ?? { host, binary };
    for (const [k, v] of Object.entries(key)) q = q.where(k as 'host', '=', v);
    if (this.spec.softDelete) q = q.where('deleted', '=', 0);
    const row = await q.executeTakeFirst();
    if (row) {
      await db
        .updateTable(table)
        .set({ ...extra, updated_at: t, ...(counted ? { report_count: Number(row.report_count) + 1 } : {}) })
        .where('id', '=', row.id)
        .execute();
      return;
    }
    try {
      await db
        .insertInto(table)
        .values({ ...this.spec.row(), ...extra, host, binary, created_at: t, updated_at: t } as Insertable<
          HeartbeatDb['services']
        >)
        .execute();
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
    }
  }
}
