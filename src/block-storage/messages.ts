// User messages (cinder.message, API 3.3): what went wrong with an asynchronous request, in
// words a user can act on, kept for message_ttl seconds.
import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { now } from '../core/db.ts';
import type { BlockStorageDb, MessagesTable } from './db/schema.ts';

export type MessageRow = Selectable<MessagesTable>;

/** Cinder's message actions and details (cinder.message.message_field), the ones Stratus emits. */
export const Action = {
  SCHEDULE_ALLOCATE_VOLUME: ['001', 'schedule allocate volume'],
  ATTACH_VOLUME: ['002', 'attach volume'],
  COPY_VOLUME_TO_IMAGE: ['003', 'copy volume to image'],
  COPY_IMAGE_TO_VOLUME: ['005', 'copy image to volume'],
  CREATE_VOLUME_FROM_BACKEND: ['010', 'create volume from backend storage'],
  SNAPSHOT_CREATE: ['004', 'create snapshot'],
  SNAPSHOT_DELETE: ['011', 'delete snapshot'],
  EXTEND_VOLUME: ['012', 'extend volume'],
  BACKUP_CREATE: ['015', 'create backup'],
  BACKUP_RESTORE: ['019', 'restore backup'],
  REVERT_VOLUME: ['021', 'revert volume'],
} as const;
export const Detail = {
  UNKNOWN_ERROR: ['001', 'An unknown error occurred.'],
  NO_BACKEND_AVAILABLE: [
    '002',
    'No storage could be allocated for this volume request. You may be able to try another size or volume type.',
  ],
  DRIVER_FAILED_CREATE: ['009', 'Driver failed to create the volume.'],
  DRIVER_FAILED_EXTEND: ['010', 'Volume Driver failed to extend the volume.'],
  IMAGE_FROM_VOLUME_OVER_QUOTA: ['006', 'Image used for creating volume exceeds available space.'],
  SNAPSHOT_CREATE_ERROR: ['016', 'Snapshot failed to create.'],
  SNAPSHOT_IS_BUSY: ['018', 'Snapshot is busy.'],
} as const;

export class MessageStore {
  constructor(
    private db: Kysely<BlockStorageDb>,
    private ttlSeconds: number,
  ) {}

  async create(m: {
    projectId: string;
    requestId?: string;
    resourceType: 'VOLUME' | 'VOLUME_SNAPSHOT' | 'VOLUME_BACKUP';
    resourceId: string;
    action: readonly [string, string];
    detail: readonly [string, string];
  }) {
    const t = new Date();
    await this.db
      .insertInto('messages')
      .values({
        id: randomUUID(),
        project_id: m.projectId,
        request_id: m.requestId ?? null,
        resource_type: m.resourceType,
        resource_uuid: m.resourceId,
        event_id: `VOLUME_${m.resourceType}_${m.action[0]}_${m.detail[0]}`,
        message_level: 'ERROR',
        user_message: `${m.action[1]}: ${m.detail[1]}`,
        created_at: t.toISOString(),
        expires_at: new Date(t.getTime() + this.ttlSeconds * 1000).toISOString(),
      })
      .execute();
  }

  async list(projectId?: string): Promise<MessageRow[]> {
    let q = this.db.selectFrom('messages').selectAll().where('expires_at', '>', now());
    if (projectId) q = q.where('project_id', '=', projectId);
    return q.orderBy('created_at').execute();
  }

  async get(id: string): Promise<MessageRow | undefined> {
    return this.db.selectFrom('messages').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async delete(id: string) {
    await this.db.deleteFrom('messages').where('id', '=', id).execute();
  }
}
