// The volumes, their attachments and their snapshots (cinder.objects.Volume, VolumeAttachment,
// Snapshot): the rows, conditional status changes (Cinder's conditional_update, so two
// requests never both move a volume out of a status) and soft deletes.
import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable, Updateable } from 'kysely';
import { bool, json, now } from '../core/db.ts';
import type { AttachmentsTable, BlockStorageDb, SnapshotsTable, VolumesTable } from './db/schema.ts';

export type VolumeRow = Selectable<VolumesTable>;
export type AttachmentRow = Selectable<AttachmentsTable>;
export type SnapshotRow = Selectable<SnapshotsTable>;

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

  /** Changes a volume; with `expect`, only when its status is one of them (answers whether it changed). */
  async update(id: string, patch: Updateable<VolumesTable>, expect?: { status?: string[] }): Promise<boolean> {
    let q = this.db
      .updateTable('volumes')
      .set({ ...patch, updated_at: now() })
      .where('id', '=', id)
      .where('deleted', '=', 0);
    if (expect?.status) q = q.where('status', 'in', expect.status);
    const r = await q.executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async destroy(id: string) {
    const t = now();
    await this.db
      .updateTable('volumes')
      .set({ deleted: 1, deleted_at: t, updated_at: t, status: 'deleted' })
      .where('id', '=', id)
      .execute();
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
    let q = this.db
      .updateTable('snapshots')
      .set({ ...patch, updated_at: now() })
      .where('id', '=', id)
      .where('deleted', '=', 0);
    if (expect?.status) q = q.where('status', 'in', expect.status);
    const r = await q.executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async destroySnapshot(id: string) {
    const t = now();
    await this.db
      .updateTable('snapshots')
      .set({ deleted: 1, deleted_at: t, updated_at: t, status: 'deleted' })
      .where('id', '=', id)
      .execute();
  }
}

export const metadataOf = (v: { metadata: string }): Record<string, string> => json(v.metadata, {});
export const isBootable = (v: VolumeRow) => bool(v.bootable);
