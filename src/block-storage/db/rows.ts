// The two writes every soft-deleted table with a status shares (volumes, snapshots, backups,
// groups, group snapshots), written once: a conditional update (Cinder's conditional_update: only
// a live row, only from the expected statuses; it answers whether the row changed) and the soft
// delete (deleted = 1, status 'deleted').
import type { Kysely, Updateable } from 'kysely';
import { now } from '../../core/db.ts';
import type { BlockStorageDb } from './schema.ts';

export type StatusTable = 'volumes' | 'snapshots' | 'backups' | 'groups' | 'group_snapshots';

/** The columns these tables have in common, the only ones the two writes name. */
interface StatusRow {
  id: string;
  status: string;
  deleted: number;
  updated_at: string | null;
  deleted_at: string | null;
}

/** The tables that also keep when a row was deleted. */
const HAS_DELETED_AT: ReadonlySet<StatusTable> = new Set(['volumes', 'snapshots']);

const view = (db: Kysely<BlockStorageDb>) => db as unknown as Kysely<{ t: StatusRow }>;

/** Changes a live row; with `expect`, only when its status is one of them. Answers whether it changed. */
export async function updateRow<T extends StatusTable>(
  db: Kysely<BlockStorageDb>,
  table: T,
  id: string,
  patch: Updateable<BlockStorageDb[T]>,
  expect?: { status?: string[] },
): Promise<boolean> {
  let q = view(db)
    .updateTable(table as unknown as 't')
    .set({ ...(patch as unknown as Updateable<StatusRow>), updated_at: now() })
    .where('id', '=', id)
    .where('deleted', '=', 0);
  if (expect?.status) q = q.where('status', 'in', expect.status);
  return Number((await q.executeTakeFirst()).numUpdatedRows) > 0;
}

/** Soft-deletes a row. */
export async function destroyRow(db: Kysely<BlockStorageDb>, table: StatusTable, id: string): Promise<void> {
  const t = now();
  await view(db)
    .updateTable(table as unknown as 't')
    .set({ deleted: 1, status: 'deleted', updated_at: t, ...(HAS_DELETED_AT.has(table) ? { deleted_at: t } : {}) })
    .where('id', '=', id)
    .execute();
}
