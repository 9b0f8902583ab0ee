// Backups (cinder.objects.Backup): the rows, the chunk list the backup agent wrote, and the
// API side's rules (status checks, quotas, incremental parents).
import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable, Updateable } from 'kysely';
import { now } from '../core/db.ts';
import { destroyRow, updateRow } from './db/rows.ts';
import type { BackupsTable, BlockStorageDb } from './db/schema.ts';

export type BackupRow = Selectable<BackupsTable>;

/** One chunk of a backup: where it sits in the volume, its sha256, its object (null: all zeros). */
export interface Chunk {
  offset: number;
  length: number;
  sha256: string;
  object: string | null;
  /** How the object is stored: 'zlib' (the default when absent) or 'none' (incompressible data, as Cinder's chunked driver). */
  compression?: 'zlib' | 'none';
}

export class BackupStore {
  constructor(private db: Kysely<BlockStorageDb>) {}

  async create(
    b: Omit<
      BackupRow,
      'id' | 'created_at' | 'updated_at' | 'deleted' | 'object_count' | 'chunks' | 'fail_reason' | 'data_timestamp'
    > & { data_timestamp?: string },
  ) {
    const t = now();
    const row: BackupRow = {
      ...b,
      id: randomUUID(),
      fail_reason: null,
      object_count: 0,
      chunks: '[]',
      data_timestamp: b.data_timestamp ?? t,
      created_at: t,
      updated_at: null,
      deleted: 0,
    };
    await this.db.insertInto('backups').values(row).execute();
    return row;
  }

  async get(id: string) {
    return this.db.selectFrom('backups').selectAll().where('id', '=', id).where('deleted', '=', 0).executeTakeFirst();
  }

  async list(projectId?: string) {
    let q = this.db.selectFrom('backups').selectAll().where('deleted', '=', 0);
    if (projectId) q = q.where('project_id', '=', projectId);
    return q.orderBy('created_at').execute();
  }

  async update(id: string, patch: Updateable<BackupsTable>, expect?: { status: string[] }) {
    return updateRow(this.db, 'backups', id, patch, expect);
  }

  async destroy(id: string) {
    await destroyRow(this.db, 'backups', id);
  }

  /** The newest available backup of a volume in a project: an incremental backup's parent (Cinder looks in the caller's project). */
  async latest(volumeId: string, projectId: string) {
    const rows = await this.db
      .selectFrom('backups')
      .selectAll()
      .where('volume_id', '=', volumeId)
      .where('project_id', '=', projectId)
      .where('deleted', '=', 0)
      .where('status', '=', 'available')
      .orderBy('created_at', 'desc')
      .execute();
    return rows[0];
  }

  async children(id: string) {
    return this.db.selectFrom('backups').select('id').where('parent_id', '=', id).where('deleted', '=', 0).execute();
  }
}
