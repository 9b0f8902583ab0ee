// The service row and heartbeat of a conductor or a scheduler (nova-conductor, nova-scheduler),
// as Nova's servicegroup driver keeps them: `os-services` lists them (zone `internal`) and shows
// them `down` when their process stops, which is how the multi-process roles are seen.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { ComputeDb } from '../db/schema.ts';
import type { Logger } from '../../core/log.ts';
import { ServiceHeartbeat as CoreServiceHeartbeat } from '../../core/heartbeat.ts';

export class ServiceHeartbeat extends CoreServiceHeartbeat<ComputeDb> {
  constructor(
    db: Kysely<ComputeDb>,
    host: string,
    binary: string,
    topic: string,
    intervalSeconds: number,
    log: Logger,
  ) {
    super(
      db,
      {
        host,
        binary,
        softDelete: true,
        row: () => ({ uuid: randomUUID(), topic, disabled: 0, forced_down: 0, report_count: 0, deleted: 0 }),
        beat: (at) => ({ last_seen_up: at }),
      },
      intervalSeconds,
      log,
    );
  }
}
