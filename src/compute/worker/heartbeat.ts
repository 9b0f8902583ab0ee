// The service row and heartbeat of a conductor or a scheduler (nova-conductor, nova-scheduler),
// as Nova's servicegroup driver keeps them: `os-services` lists them (zone `internal`) and shows
// them `down` when their process stops, which is how the multi-process roles are seen.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { ComputeDb } from '../db/schema.ts';
import type { Logger } from '../../core/log.ts';
import { isUniqueViolation, now } from '../../core/db.ts';
import { PeriodicTasks } from '../../core/periodic.ts';

export class ServiceHeartbeat {
  private periodic: PeriodicTasks;
  constructor(
    private db: Kysely<ComputeDb>,
    private host: string,
    private binary: string,
    private topic: string,
    private intervalSeconds: number,
    log: Logger,
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

  private async beat() {
    const t = now();
    const row = await this.db
      .selectFrom('services')
      .select(['id', 'report_count'])
      .where('host', '=', this.host)
      .where('binary', '=', this.binary)
      .where('deleted', '=', 0)
      .executeTakeFirst();
    if (row) {
      await this.db
        .updateTable('services')
        .set({ last_seen_up: t, updated_at: t, report_count: Number(row.report_count) + 1 })
        .where('id', '=', row.id)
        .execute();
      return;
    }
    try {
      await this.db
        .insertInto('services')
        .values({
          uuid: randomUUID(),
          host: this.host,
          binary: this.binary,
          topic: this.topic,
          disabled: 0,
          forced_down: 0,
          report_count: 0,
          last_seen_up: t,
          created_at: t,
          updated_at: t,
          deleted: 0,
        })
        .execute();
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
    }
  }
}
