// The service rows of cinder-scheduler, cinder-volume (`host@backend`) and cinder-backup, kept
// up by a heartbeat as Cinder's service reports them: os-services shows a service `down` when
// its heartbeat stops, and a volume service's row carries the capabilities it reported last.
import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { ServiceHeartbeat as CoreServiceHeartbeat } from '../core/heartbeat.ts';
import type { Logger } from '../core/log.ts';
import type { BlockStorageDb, ServicesTable } from './db/schema.ts';

export type ServiceRow = Selectable<ServicesTable>;

export class ServiceHeartbeat extends CoreServiceHeartbeat<BlockStorageDb> {
  constructor(
    db: Kysely<BlockStorageDb>,
    host: string,
    binary: string,
    zone: string,
    intervalSeconds: number,
    log: Logger,
    /** Called at each beat: the capabilities to record (volume services). */
    report?: () => Promise<unknown>,
  ) {
    super(
      db,
      {
        host,
        binary,
        row: () => ({
          id: randomUUID(),
          topic: binary,
          availability_zone: zone,
          disabled: 0,
          disabled_reason: null,
          frozen: 0,
          report_count: 1,
        }),
        beat: async () => (report ? { capabilities: JSON.stringify(await report()) } : {}),
      },
      intervalSeconds,
      log,
    );
  }
}

export function serviceUp(s: ServiceRow, downTimeSeconds: number): boolean {
  const last = s.updated_at ?? s.created_at;
  return Date.now() - Date.parse(last) <= downTimeSeconds * 1000;
}
