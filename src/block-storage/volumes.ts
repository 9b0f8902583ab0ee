// The volumes, their attachments and their snapshots (cinder.objects.Volume, VolumeAttachment,
// Snapshot): the rows, conditional status changes (Cinder's conditional_update, so two
// requests never both move a volume out of a status) and soft deletes.
import { randomUUID } from 'node:crypto';
import { type Kysely, type Selectable, type SelectQueryBuilder, type Updateable, sql } from 'kysely';
import { bool, json, now } from '../core/db.ts';
import { destroyRow, updateRow } from './db/rows.ts';
import type { AttachmentsTable, BlockStorageDb, SnapshotsTable, VolumesTable } from './db/schema.ts';

export type VolumeRow = Selectable<VolumesTable>;
export type AttachmentRow = Selectable<AttachmentsTable>;
export type SnapshotRow = Selectable<SnapshotsTable>;
/** A select of live volumes that filters may narrow. */
export type VolumeQuery = SelectQueryBuilder<BlockStorageDb, 'volumes', VolumeRow>;
/** The columns a volume list sorts on. */
export type VolumeSortColumn =
  | 'id'
  | 'name'
  | 'size'
  | 'status'
  | 'created_at'
  | 'updated_at'
  | 'availability_zone'
  | 'bootable'
  | 'project_id'
  | 'volume_type_id'
  | 'user_id';
/** Nullable sort columns order as '' (nulls first ascending, as the in-memory sort did). */
const NULLABLE_SORT = new Set<VolumeSortColumn>(['name', 'updated_at']);

/** Cinder's volume statuses. */
export const VolumeStatus = {
  CREATING: 'creating',
  AVAILABLE: 'available',
  IN_USE: 'in-use',
  DELETING: 'deleting',
  ERROR: 'error',
  ERROR_DELETING: 'error_deleting',
  ERROR_EXTENDING: 'error_extending',
  ATTACHING: 'attaching',
  DETACHING: 'detaching',
  RESERVED: 'reserved',
  EXTENDING: 'extending',
  MAINTENANCE: 'maintenance',
  RETYPING: 'retyping',
  DOWNLOADING: 'downloading',
  UPLOADING: 'uploading',
  BACKING_UP: 'backing-up',
  RESTORING_BACKUP: 'restoring-backup',
  REVERTING: 'reverting',
  AWAITING_TRANSFER: 'awaiting-transfer',
} as const;

export interface NewVolume {
  project_id: string;
  user_id: string;
  name: string | null;
  description: string | null;
  size: number;
  availability_zone: string;
  volume_type_id: string;
  snapshot_id?: string | null;
  source_volid?: string | null;
  image_id?: string | null;
  backup_id?: string | null;
  multiattach?: boolean;
  encrypted?: boolean;
  metadata?: Record<string, string>;
  image_metadata?: Record<string, string>;
  group_id?: string | null;
  status?: string;
}

export class VolumeStore {
  constructor(readonly db: Kysely<BlockStorageDb>) {}

  // ---- volumes --------------------------------------------------------------------------

  async create(v: NewVolume, id: string = randomUUID()): Promise<VolumeRow> {
    const row: VolumeRow = {
      id,
      project_id: v.project_id,
      user_id: v.user_id,
      name: v.name,
      description: v.description,
      size: v.size,
      status: v.status ?? VolumeStatus.CREATING,
      attach_status: 'detached',
      previous_status: null,
      availability_zone: v.availability_zone,
      host: null,
      volume_type_id: v.volume_type_id,
      snapshot_id: v.snapshot_id ?? null,
      source_volid: v.source_volid ?? null,
      image_id: v.image_id ?? null,
      backup_id: v.backup_id ?? null,
      bootable: 0,
      multiattach: v.multiattach ? 1 : 0,
      encrypted: v.encrypted ? 1 : 0,
      metadata: JSON.stringify(v.metadata ?? {}),
      admin_metadata: '{}',
      image_metadata: JSON.stringify(v.image_metadata ?? {}),
      migration_status: null,
      provider_location: null,
      group_id: v.group_id ?? null,
      created_at: now(),
      updated_at: null,
      launched_at: null,
      deleted: 0,
      deleted_at: null,
    };
    await this.db.insertInto('volumes').values(row).execute();
    return row;
  }

  async get(id: string): Promise<VolumeRow | undefined> {
    return this.db.selectFrom('volumes').selectAll().where('id', '=', id).where('deleted', '=', 0).executeTakeFirst();
  }

  /** Every live volume, or a project's. */
  async list(projectId?: string): Promise<VolumeRow[]> {
    let q = this.db.selectFrom('volumes').selectAll().where('deleted', '=', 0);
    if (projectId) q = q.where('project_id', '=', projectId);
    return q.execute();
  }

  /** Live volumes narrowed by `filter` (all of them, unordered). */
  async select(filter: (q: VolumeQuery) => VolumeQuery): Promise<VolumeRow[]> {
    return filter(this.db.selectFrom('volumes').selectAll().where('deleted', '=', 0)).execute();
  }

  /**
   * One page of a list, in SQL: live volumes narrowed by `filter`, ordered by `order` (the last key
   * unique: id), after the marker's position (keyset) and `offset` more, at most `limit`; with
   * `count`, how many match in all. Null when the marker is not a live volume of `scope`.
   */
  async page(o: {
    filter: (q: VolumeQuery) => VolumeQuery;
    scope?: string;
    order: Array<[VolumeSortColumn, 'asc' | 'desc']>;
    marker?: string;
    offset?: number;
    limit?: number;
    count?: boolean;
  }): Promise<{ rows: VolumeRow[]; more: boolean; total?: number } | null> {
    const key = (c: VolumeSortColumn) => (NULLABLE_SORT.has(c) ? sql`coalesce(${sql.ref(c)}, '')` : sql.ref(c));
    let q = o.filter(this.db.selectFrom('volumes').selectAll().where('deleted', '=', 0));
    let total: number | undefined;
    if (o.count) {
      const r = await o
        .filter(this.db.selectFrom('volumes').selectAll().where('deleted', '=', 0))
        .clearSelect()
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .executeTakeFirst();
      total = Number(r?.n ?? 0);
    }
    if (o.marker !== undefined) {
      let mq = this.db.selectFrom('volumes').selectAll().where('id', '=', o.marker).where('deleted', '=', 0);
      if (o.scope) mq = mq.where('project_id', '=', o.scope);
      const m = await mq.executeTakeFirst();
      if (!m) return null;
      const val = (c: VolumeSortColumn) => m[c] ?? (NULLABLE_SORT.has(c) ? '' : null);
      // After the marker: past it on the first key, or equal on it and past it on the next, ...
      const ors = o.order.map(([c, d], n) =>
        sql.join(
          [
            ...o.order.slice(0, n).map(([p]) => sql`${key(p)} = ${val(p)}`),
            sql`${key(c)} ${sql.raw(d === 'asc' ? '>' : '<')} ${val(c)}`,
          ],
          sql` and `,
        ),
      );
      q = q.where(
        sql<boolean>`(${sql.join(
          ors.map((x) => sql`(${x})`),
          sql` or `,
        )})`,
      );
    }
    for (const [c, d] of o.order) q = q.orderBy(key(c), d);
    if (o.limit !== undefined) q = q.limit(o.limit);
    else if (o.offset) q = q.limit(Number.MAX_SAFE_INTEGER);
    if (o.offset) q = q.offset(o.offset);
    const rows = await q.execute();
    const page = o.limit !== undefined ? rows.slice(0, o.limit) : rows;
    // Cinder links a next page whenever a page is full (_get_collection_links).
    return { rows: page, more: o.limit !== undefined && o.limit > 0 && page.length === o.limit, total };
  }

  /** Changes a volume; with `expect`, only when its status is one of them (answers whether it changed). */
  async update(id: string, patch: Updateable<VolumesTable>, expect?: { status?: string[] }): Promise<boolean> {
    return updateRow(this.db, 'volumes', id, patch, expect);
  }

  async destroy(id: string) {
    await destroyRow(this.db, 'volumes', id);
  }

  // ---- attachments ----------------------------------------------------------------------

  async attachments(volumeId: string): Promise<AttachmentRow[]> {
    return this.db
      .selectFrom('volume_attachments')
      .selectAll()
      .where('volume_id', '=', volumeId)
      .where('deleted', '=', 0)
      .orderBy('created_at')
      .execute();
  }

  async attachmentsOf(volumeIds: string[]): Promise<Map<string, AttachmentRow[]>> {
    const out = new Map<string, AttachmentRow[]>();
    if (!volumeIds.length) return out;
    const rows = await this.db
      .selectFrom('volume_attachments')
      .selectAll()
      .where('volume_id', 'in', volumeIds)
      .where('deleted', '=', 0)
      .orderBy('created_at')
      .execute();
    for (const r of rows) out.set(r.volume_id, [...(out.get(r.volume_id) ?? []), r]);
    return out;
  }

  async allAttachments(): Promise<AttachmentRow[]> {
    return this.db
      .selectFrom('volume_attachments')
      .selectAll()
      .where('deleted', '=', 0)
      .orderBy('created_at')
      .execute();
  }

  async attachment(id: string): Promise<AttachmentRow | undefined> {
    return this.db
      .selectFrom('volume_attachments')
      .selectAll()
      .where('id', '=', id)
      .where('deleted', '=', 0)
      .executeTakeFirst();
  }

  async createAttachment(a: {
    volume_id: string;
    instance_uuid: string | null;
    attach_status: string;
    attach_mode?: string;
    connector?: Record<string, unknown> | null;
  }): Promise<AttachmentRow> {
    const row: AttachmentRow = {
      id: randomUUID(),
      volume_id: a.volume_id,
      instance_uuid: a.instance_uuid,
      attached_host: (a.connector?.host as string | undefined) ?? null,
      mountpoint: (a.connector?.mountpoint as string | undefined) ?? null,
      attach_status: a.attach_status,
      attach_mode: a.attach_mode ?? 'rw',
      connector: a.connector ? JSON.stringify(a.connector) : null,
      connection_info: null,
      attach_time: null,
      detach_time: null,
      created_at: now(),
      updated_at: null,
      deleted: 0,
    };
    await this.db.insertInto('volume_attachments').values(row).execute();
    return row;
  }

  async updateAttachment(id: string, patch: Updateable<AttachmentsTable>) {
    await this.db
      .updateTable('volume_attachments')
      .set({ ...patch, updated_at: now() })
      .where('id', '=', id)
      .execute();
  }

  async deleteAttachment(id: string) {
    await this.db
      .updateTable('volume_attachments')
      .set({ deleted: 1, attach_status: 'detached', detach_time: now(), updated_at: now() })
      .where('id', '=', id)
      .execute();
  }

  /**
   * The volume's status and attach status from its attachments, as Cinder recomputes them when an
   * attachment goes: in-use while one is attached, else available.
   */
  async settleAttachStatus(volumeId: string) {
    const left = await this.attachments(volumeId);
    const attached = left.some((a) => a.attach_status === 'attached');
    const reserved = left.length > 0;
    await this.update(volumeId, {
      status: attached ? VolumeStatus.IN_USE : reserved ? VolumeStatus.RESERVED : VolumeStatus.AVAILABLE,
      attach_status: attached ? 'attached' : reserved ? 'reserved' : 'detached',
    });
  }

  // ---- snapshots ------------------------------------------------------------------------

  async createSnapshot(s: {
    volume: VolumeRow;
    project_id: string;
    user_id: string;
    name: string | null;
    description: string | null;
    metadata?: Record<string, string>;
    status?: string;
  }): Promise<SnapshotRow> {
    const row: SnapshotRow = {
      id: randomUUID(),
      volume_id: s.volume.id,
      project_id: s.project_id,
      user_id: s.user_id,
      name: s.name,
      description: s.description,
      status: s.status ?? 'creating',
      progress: '0%',
      volume_size: s.volume.size,
      metadata: JSON.stringify(s.metadata ?? {}),
      provider_location: null,
      group_snapshot_id: null,
      created_at: now(),
      updated_at: null,
      deleted: 0,
      deleted_at: null,
    };
    await this.db.insertInto('snapshots').values(row).execute();
    return row;
  }

  async snapshot(id: string): Promise<SnapshotRow | undefined> {
    return this.db.selectFrom('snapshots').selectAll().where('id', '=', id).where('deleted', '=', 0).executeTakeFirst();
  }

  async snapshots(filter: { projectId?: string; volumeId?: string } = {}): Promise<SnapshotRow[]> {
    let q = this.db.selectFrom('snapshots').selectAll().where('deleted', '=', 0);
    if (filter.projectId) q = q.where('project_id', '=', filter.projectId);
    if (filter.volumeId) q = q.where('volume_id', '=', filter.volumeId);
    return q.orderBy('created_at').execute();
  }

  async updateSnapshot(id: string, patch: Updateable<SnapshotsTable>, expect?: { status?: string[] }) {
    return updateRow(this.db, 'snapshots', id, patch, expect);
  }

  async destroySnapshot(id: string) {
    await destroyRow(this.db, 'snapshots', id);
  }
}

export const metadataOf = (v: { metadata: string }): Record<string, string> => json(v.metadata, {});
export const isBootable = (v: VolumeRow) => bool(v.bootable);
