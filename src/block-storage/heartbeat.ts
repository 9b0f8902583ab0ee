// The service rows of cinder-scheduler, cinder-volume (`host@backend`) and cinder-backup, kept
// up by a heartbeat as Cinder's service reports them: os-services shows a service `down` when
// its heartbeat stops, and a volume service's row carries the capabilities it reported last.
import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { isUniqueViolation, now } from '../core/db.ts';
import type { Logger } from '../core/log.ts';
import { PeriodicTasks } from '../core/periodic.ts';
import type { BlockStorageDb, ServicesTable } from './db/schema.ts';

export type ServiceRow = Selectable<ServicesTable>;

export class ServiceHeartbeat {
  private periodic: PeriodicTasks;
  constructor(
    private db: Kysely<BlockStorageDb>,
    readonly host: string,
    readonly binary: string,
    private zone: string,
    private intervalSeconds: number,
    log: Logger,
    /** Called at each beat: the capabilities to record (volume services). */
    private report?: () => Promise<unknown>,
  ) {
    this.periodic = new PeriodicTasks(log);
  }

  async start() {
    await this.beat();
    this.periodic.add(`${this.binary} heartbeat`, this.intervalSeconds, () => this.beat());
  }

  stop() {
    this.periodic.stop();
  }

  async beat() {
    const t = now();
    const caps = this.report ? JSON.stringify(await this.report()) : null;
    const row = await this.db
      .selectFrom('services')
      .select(['id', 'report_count'])
      .where('host', '=', this.host)
      .where('binary', '=', this.binary)
      .executeTakeFirst();
    if (row) {
      await this.db
        .updateTable('services')
        .set({ updated_at: t, report_count: Number(row.report_count) + 1, ...(caps ? { capabilities: caps } : {}) })
        .where('id', '=', row.id)
        .execute();
      return;
    }
    try {
      await this.db
        .insertInto('services')
        .values({
          id: randomUUID(),
          host: this.host,
          binary: this.binary,
          topic: this.binary,
          availability_zone: this.zone,
          disabled: 0,
          disabled_reason: null,
          frozen: 0,
          report_count: 1,
          capabilities: caps,
          created_at: t,
          updated_at: t,
        })
        .execute();
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
    }
  }
}

export function serviceUp(s: ServiceRow, downTimeSeconds: number): boolean {
  const last = s.updated_at ?? s.created_at;
  return Date.now() - Date.parse(last) <= downTimeSeconds * 1000;
}
