// Generic volume groups (3.13) and group snapshots (3.14): the rows (GroupStore) and the API
// side's rules (GroupApi, cinder.group.api): status checks with Cinder's messages, the quota of
// groups, then the row change and the cast to the scheduler or to the group's backend agent.
// A backend without group support (the `file` driver) gets Cinder's generic implementation: the
// agent creates, snapshots and deletes the group's volumes one by one.
import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable, Updateable } from 'kysely';
import type { MessageBus } from '../core/bus.ts';
import type { RequestContext } from '../core/context.ts';
import { json, now } from '../core/db.ts';
import { ApiError } from '../core/errors.ts';
import type { BlockStorageOptions } from './config.ts';
import { destroyRow, updateRow } from './db/rows.ts';
import type { BlockStorageDb, GroupSnapshotsTable, GroupsTable } from './db/schema.ts';
import type { QuotaEngine } from './quotas.ts';
import { backendOf, schedulerRpc, volumeRpc } from './rpcapi.ts';
import type { TypeStore } from './types.ts';
import { VolumeStatus, type VolumeRow, type VolumeStore } from './volumes.ts';

export type GroupRow = Selectable<GroupsTable>;
export type GroupSnapshotRow = Selectable<GroupSnapshotsTable>;

/** Cinder's GroupStatus values (what reset_status accepts). */
export const GROUP_STATUSES = [
  'creating',
  'available',
  'deleting',
  'error',
  'error_deleting',
  'deleted',
  'updating',
  'in-use',
  'failing-over',
  'failed-over',
];
/** Cinder's GroupSnapshotStatus values. */
export const GROUP_SNAPSHOT_STATUSES = [
  'error',
  'available',
  'creating',
  'deleting',
  'deleted',
  'updating',
  'error_deleting',
];

const VALID_ADD = ['available', 'in-use'];
const VALID_REMOVE = ['available', 'in-use', 'error', 'error_deleting'];

const bad = (m: string) => new ApiError(400, m);
export const volumeTypeIds = (g: GroupRow): string[] => json<string[]>(g.volume_type_ids, []);

export class GroupStore {
  constructor(readonly db: Kysely<BlockStorageDb>) {}

  async get(id: string): Promise<GroupRow | undefined> {
    return this.db.selectFrom('groups').selectAll().where('id', '=', id).where('deleted', '=', 0).executeTakeFirst();
  }

  async list(projectId?: string): Promise<GroupRow[]> {
    let q = this.db.selectFrom('groups').selectAll().where('deleted', '=', 0);
    if (projectId) q = q.where('project_id', '=', projectId);
    return q.execute();
  }

  async create(g: Omit<GroupRow, 'id' | 'created_at' | 'updated_at' | 'deleted'>): Promise<GroupRow> {
    const row: GroupRow = { ...g, id: randomUUID(), created_at: now(), updated_at: null, deleted: 0 };
    await this.db.insertInto('groups').values(row).execute();
    return row;
  }

  /** Changes a group; with `expect`, only when its status is one of them (answers whether it changed). */
  async update(id: string, patch: Updateable<GroupsTable>, expect?: { status?: string[] }): Promise<boolean> {
    return updateRow(this.db, 'groups', id, patch, expect);
  }

  async destroy(id: string) {
    await destroyRow(this.db, 'groups', id);
  }

  async volumes(groupId: string): Promise<VolumeRow[]> {
    return this.db
      .selectFrom('volumes')
      .selectAll()
      .where('group_id', '=', groupId)
      .where('deleted', '=', 0)
      .orderBy('created_at')
      .execute();
  }

  // ---- group snapshots ------------------------------------------------------------------

  async snapshot(id: string): Promise<GroupSnapshotRow | undefined> {
    return this.db
      .selectFrom('group_snapshots')
      .selectAll()
      .where('id', '=', id)
      .where('deleted', '=', 0)
      .executeTakeFirst();
  }

  async snapshots(filter: { projectId?: string; groupId?: string } = {}): Promise<GroupSnapshotRow[]> {
    let q = this.db.selectFrom('group_snapshots').selectAll().where('deleted', '=', 0);
    if (filter.projectId) q = q.where('project_id', '=', filter.projectId);
    if (filter.groupId) q = q.where('group_id', '=', filter.groupId);
    return q.execute();
  }

  async createSnapshot(
    g: Omit<GroupSnapshotRow, 'id' | 'created_at' | 'updated_at' | 'deleted'>,
  ): Promise<GroupSnapshotRow> {
    const row: GroupSnapshotRow = { ...g, id: randomUUID(), created_at: now(), updated_at: null, deleted: 0 };
    await this.db.insertInto('group_snapshots').values(row).execute();
    return row;
  }

  async updateSnapshot(id: string, patch: Updateable<GroupSnapshotsTable>, expect?: { status?: string[] }) {
    return updateRow(this.db, 'group_snapshots', id, patch, expect);
  }

  async destroySnapshot(id: string) {
    await destroyRow(this.db, 'group_snapshots', id);
  }

  /** The volume snapshots a group snapshot made. */
  async memberSnapshots(groupSnapshotId: string) {
    return this.db
      .selectFrom('snapshots')
      .selectAll()
      .where('group_snapshot_id', '=', groupSnapshotId)
      .where('deleted', '=', 0)
      .execute();
  }
}

export class GroupApi {
  constructor(
    readonly store: GroupStore,
    private volumes: VolumeStore,
    private types: TypeStore,
    private quotas: QuotaEngine,
    private bus: MessageBus,
    private o: BlockStorageOptions,
  ) {}

  /** A group the caller may see (404 otherwise). */
  async visible(ctx: RequestContext, id: string): Promise<GroupRow> {
    const g = await this.store.get(id);
    if (!g || (!ctx.allowed('volume:get_all_admin') && g.project_id !== ctx.projectId))
      throw new ApiError(404, `Group ${id} could not be found.`, 'GroupNotFound');
    return g;
  }

  async visibleSnapshot(ctx: RequestContext, id: string): Promise<GroupSnapshotRow> {
    const s = await this.store.snapshot(id);
    if (!s || (!ctx.allowed('volume:get_all_admin') && s.project_id !== ctx.projectId))
      throw new ApiError(404, `GroupSnapshot ${id} could not be found.`, 'GroupSnapshotNotFound');
    return s;
  }

  private async groupType(ref: string): Promise<string> {
    const t = await this.store.db
      .selectFrom('group_types')
      .select('id')
      .where((eb) => eb.or([eb('id', '=', ref), eb('name', '=', ref)]))
      .executeTakeFirst();
    if (!t) throw new ApiError(404, `Group type ${ref} could not be found.`, 'GroupTypeNotFound');
    return t.id;
  }

  private zone(z: string | null | undefined): string {
    if (z && z !== this.o.availabilityZone) {
      if (!this.o.allowAvailabilityZoneFallback)
        throw bad(`Invalid input received: Availability zone '${z}' is invalid.`);
    }
    return this.o.availabilityZone;
  }

  async create(
    ctx: RequestContext,
    r: {
      name: string | null;
      description: string | null;
      groupType: string;
      volumeTypes: string[];
      zone?: string | null;
    },
  ): Promise<GroupRow> {
    const groupTypeId = await this.groupType(r.groupType);
    const typeIds: string[] = [];
    for (const ref of r.volumeTypes) {
      const t = await this.types.find(ref);
      if (!t) throw new ApiError(404, `Volume type ${ref} could not be found.`, 'VolumeTypeNotFound');
      if (!typeIds.includes(t.id)) typeIds.push(t.id);
    }
    const zone = this.zone(r.zone);
    const projectId = ctx.projectId!;
    const g = await this.quotas.lock.run(async () => {
      await this.quotas.check(projectId, { groups: 1 });
      return this.store.create({
        project_id: projectId,
        user_id: ctx.userId!,
        name: r.name,
        description: r.description,
        status: 'creating',
        availability_zone: zone,
        host: null,
        group_type_id: groupTypeId,
        volume_type_ids: JSON.stringify(typeIds),
        group_snapshot_id: null,
        source_group_id: null,
        replication_status: 'disabled',
      });
    });
    schedulerRpc(this.bus).cast(undefined, ctx.toRpc()).create_group({ group_id: g.id, request_id: ctx.requestId });
    return g;
  }

  /** 3.14 create-from-src: a new group with a copy of each volume of a group snapshot or of a group. */
  async createFromSource(
    ctx: RequestContext,
    r: {
      name: string | null;
      description: string | null;
      groupSnapshotId?: string | null;
      sourceGroupId?: string | null;
    },
  ): Promise<GroupRow> {
    if (r.groupSnapshotId && r.sourceGroupId)
      throw bad('Invalid input received: Cannot create a group from both a group snapshot and a source group.');
    if (!r.groupSnapshotId && !r.sourceGroupId)
      throw bad('Invalid input received: Either group_snapshot_id or source_group_id must be provided.');
    let host: string | null;
    let groupTypeId: string;
    let typeIds: string;
    let zone: string;
    const sources: Array<{ size: number; type: string; snapshotId?: string; sourceVolid?: string }> = [];
    if (r.groupSnapshotId) {
      const gs = await this.visibleSnapshot(ctx, r.groupSnapshotId);
      if (gs.status !== 'available')
        throw bad(
          `Invalid GroupSnapshot: Group snapshot status must be available, but current status is: ${gs.status}.`,
        );
      const src = await this.store.get(gs.group_id);
      if (!src) throw new ApiError(404, `Group ${gs.group_id} could not be found.`, 'GroupNotFound');
      const snaps = await this.store.memberSnapshots(gs.id);
      if (!snaps.length) throw bad('Invalid group: Group snapshot is empty. No group will be created.');
      for (const s of snaps) {
        const v = await this.volumes.get(s.volume_id);
        sources.push({ size: s.volume_size, type: v?.volume_type_id ?? volumeTypeIds(src)[0]!, snapshotId: s.id });
      }
      ({ host, group_type_id: groupTypeId, volume_type_ids: typeIds, availability_zone: zone } = src);
    } else {
      const src = await this.visible(ctx, r.sourceGroupId!);
      if (src.status !== 'available')
        throw bad(`Invalid group: Source group status must be available, but current status is: ${src.status}.`);
      const vols = await this.store.volumes(src.id);
      if (!vols.length) throw bad('Invalid group: Source Group is empty. No group will be created.');
      for (const v of vols) {
        if (!['available', 'in-use'].includes(v.status))
          throw bad(`Invalid volume: Volume ${v.id} in the source group is ${v.status}; it cannot be copied.`);
        sources.push({ size: v.size, type: v.volume_type_id, sourceVolid: v.id });
      }
      ({ host, group_type_id: groupTypeId, volume_type_ids: typeIds, availability_zone: zone } = src);
    }
    const projectId = ctx.projectId!;
    const g = await this.quotas.lock.run(async () => {
      const gb = sources.reduce((n, s) => n + s.size, 0);
      await this.quotas.check(projectId, { groups: 1, volumes: sources.length, gigabytes: gb });
      const g = await this.store.create({
        project_id: projectId,
        user_id: ctx.userId!,
        name: r.name,
        description: r.description,
        status: 'creating',
        availability_zone: zone,
        host,
        group_type_id: groupTypeId,
        volume_type_ids: typeIds,
        group_snapshot_id: r.groupSnapshotId ?? null,
        source_group_id: r.sourceGroupId ?? null,
        replication_status: 'disabled',
      });
      for (const s of sources) {
        const v = await this.volumes.create({
          project_id: projectId,
          user_id: ctx.userId!,
          name: null,
          description: null,
          size: s.size,
          availability_zone: zone,
          volume_type_id: s.type,
          snapshot_id: s.snapshotId ?? null,
          source_volid: s.sourceVolid ?? null,
          group_id: g.id,
        });
        await this.volumes.update(v.id, { host });
      }
      return g;
    });
    if (!host) {
      await this.store.update(g.id, { status: 'error' });
      return g;
    }
    volumeRpc(this.bus)
      .cast(backendOf(host), ctx.toRpc())
      .create_group_from_src({ group_id: g.id, request_id: ctx.requestId });
    return g;
  }

  async delete(ctx: RequestContext, g: GroupRow, deleteVolumes: boolean) {
    if (!g.host && !(await this.store.volumes(g.id)).length) {
      await this.store.destroy(g.id);
      return;
    }
    if (!deleteVolumes && !['available', 'error'].includes(g.status))
      throw bad(`Invalid group: Group status must be available or error, but current status is: ${g.status}`);
    if ((await this.store.snapshots({ groupId: g.id })).length)
      throw bad('Invalid group: Group has existing snapshots.');
    const vols = await this.store.volumes(g.id);
    if (vols.length && !deleteVolumes)
      throw bad(
        `Invalid group: Group ${g.id} still contains volumes. The delete-volumes flag is required to delete it.`,
      );
    for (const v of vols) {
      if (v.attach_status === 'attached')
        throw bad(`Invalid group: Volume in group ${g.id} is attached. Need to detach first.`);
      if ((await this.volumes.snapshots({ volumeId: v.id })).length)
        throw bad('Invalid group: Volume in group still has dependent snapshots.');
    }
    const creatingFrom = (await this.store.list()).some((x) => x.source_group_id === g.id && x.status === 'creating');
    const ok =
      !creatingFrom &&
      (await this.store.update(
        g.id,
        { status: 'deleting' },
        deleteVolumes ? undefined : { status: ['available', 'error'] },
      ));
    if (!ok) {
      const reason = deleteVolumes
        ? 'Group status must be available or error and must not have dependent group snapshots'
        : 'Group must not have attached volumes, volumes with snapshots, or dependent group snapshots';
      throw bad(
        `Invalid group: Cannot delete group ${g.id}. ${reason}, and it cannot be the source for an ongoing group or group snapshot creation.`,
      );
    }
    for (const v of vols) await this.volumes.update(v.id, { status: VolumeStatus.DELETING, previous_status: v.status });
    if (!g.host) {
      for (const v of vols) await this.volumes.destroy(v.id);
      await this.store.destroy(g.id);
      return;
    }
    volumeRpc(this.bus)
      .cast(backendOf(g.host), ctx.toRpc())
      .delete_group({ group_id: g.id, request_id: ctx.requestId });
  }

  /** PUT /groups/{id}: name, description, add_volumes and remove_volumes (comma-separated ids). */
  async update(
    ctx: RequestContext,
    g: GroupRow,
    r: { name?: string | null; description?: string | null; addVolumes?: string | null; removeVolumes?: string | null },
  ) {
    const name = r.name === g.name ? undefined : r.name;
    const description = r.description === g.description ? undefined : r.description;
    const split = (s?: string | null) =>
      (s ?? '')
        .replace(/^,+|,+$/g, '')
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);
    const add = split(r.addVolumes);
    const remove = split(r.removeVolumes);
    const both = add.filter((x) => remove.includes(x));
    if (both.length) throw bad(`Invalid volume: UUIDs ${JSON.stringify(both)} are in both add and remove volume list.`);
    const members = await this.store.volumes(g.id);
    const toRemove: string[] = [];
    for (const id of remove) {
      const v = members.find((m) => m.id === id);
      if (!v)
        throw bad(`Invalid volume: Cannot remove volume ${id} from group ${g.id} because it is not in the group.`);
      if (!VALID_REMOVE.includes(v.status))
        throw bad(
          `Invalid volume: Cannot remove volume ${id} from group ${g.id} because volume is in an invalid state: ${v.status}. Valid states are: ${JSON.stringify(VALID_REMOVE)}.`,
        );
      toRemove.push(id);
    }
    const toAdd: string[] = [];
    for (const id of add) {
      if (members.some((m) => m.id === id)) continue;
      const v = await this.volumes.get(id);
      if (!v || (v.project_id !== ctx.projectId && !ctx.allowed('volume:get_all_admin')))
        throw bad(`Invalid volume: Cannot add volume ${id} to group ${g.id} because volume cannot be found.`);
      if (v.group_id)
        throw bad(
          `Invalid volume: Cannot add volume ${id} to group ${g.id} because it is already in group ${v.group_id}.`,
        );
      if (v.project_id !== g.project_id)
        throw bad(`Invalid volume: Cannot add volume ${id} to group ${g.id} as they belong to different projects.`);
      if (!volumeTypeIds(g).includes(v.volume_type_id))
        throw bad(
          `Invalid volume: Cannot add volume ${id} to group ${g.id} because volume type ${v.volume_type_id} is not supported by the group.`,
        );
      if (!VALID_ADD.includes(v.status))
        throw bad(
          `Invalid volume: Cannot add volume ${id} to group ${g.id} because volume is in an invalid state: ${v.status}. Valid states are: ${JSON.stringify(VALID_ADD)}.`,
        );
      if (g.host && v.host && backendOf(g.host) !== backendOf(v.host))
        throw bad('Invalid volume: Volume is not local to this node.');
      toAdd.push(id);
    }
    if (
      (name === undefined || name === null) &&
      (description === undefined || description === null) &&
      !toAdd.length &&
      !toRemove.length
    )
      throw bad(
        `Invalid group: Cannot update group ${g.id} because no valid name, description, add_volumes, or remove_volumes were provided.`,
      );
    const patch: Updateable<GroupsTable> = {};
    if (name !== undefined && name !== null) patch.name = name;
    if (description !== undefined && description !== null) patch.description = description;
    const changed = await this.store.update(
      g.id,
      patch,
      toAdd.length || toRemove.length ? { status: ['available'] } : undefined,
    );
    if (!changed) throw bad('Invalid group: Group status must be available.');
    // The generic group: membership is the volumes' group_id, no backend work.
    for (const id of toRemove) await this.volumes.update(id, { group_id: null });
    for (const id of toAdd) await this.volumes.update(id, { group_id: g.id });
  }

  async resetStatus(g: GroupRow, status: string) {
    if (!GROUP_STATUSES.includes(status))
      throw bad(`Invalid group status: ${status}. Valid statuses are: ${GROUP_STATUSES.join(', ')}.`);
    await this.store.update(g.id, { status });
  }

  // ---- group snapshots ------------------------------------------------------------------

  async createSnapshot(
    ctx: RequestContext,
    g: GroupRow,
    r: { name: string | null; description: string | null },
  ): Promise<GroupSnapshotRow> {
    if (g.status !== 'available')
      throw bad(`Invalid group: Group ${g.id} status must be available, but current status is: ${g.status}.`);
    const vols = await this.store.volumes(g.id);
    for (const v of vols)
      if (!['available', 'in-use'].includes(v.status))
        throw bad(
          `Invalid volume: Volume ${v.id} status must be available or in-use, but current status is: ${v.status}.`,
        );
    const projectId = ctx.projectId ?? g.project_id;
    const gs = await this.quotas.lock.run(async () => {
      if (vols.length)
        await this.quotas.check(projectId, { snapshots: vols.length, gigabytes: vols.reduce((n, v) => n + v.size, 0) });
      const gs = await this.store.createSnapshot({
        group_id: g.id,
        project_id: projectId,
        user_id: ctx.userId!,
        name: r.name,
        description: r.description,
        status: 'creating',
        group_type_id: g.group_type_id,
      });
      for (const v of vols) {
        const s = await this.volumes.createSnapshot({
          volume: v,
          project_id: projectId,
          user_id: ctx.userId!,
          name: `snapshot-${gs.id}`,
          description: null,
        });
        await this.volumes.updateSnapshot(s.id, { group_snapshot_id: gs.id });
      }
      return gs;
    });
    if (!g.host) {
      await this.store.updateSnapshot(gs.id, { status: 'available' });
      return gs;
    }
    volumeRpc(this.bus)
      .cast(backendOf(g.host), ctx.toRpc())
      .create_group_snapshot({ group_snapshot_id: gs.id, request_id: ctx.requestId });
    return gs;
  }

  async deleteSnapshot(ctx: RequestContext, gs: GroupSnapshotRow) {
    const ok = await this.store.updateSnapshot(gs.id, { status: 'deleting' }, { status: ['available', 'error'] });
    if (!ok)
      throw bad(
        'Invalid GroupSnapshot: GroupSnapshot status must be available or error, and no Group can be currently using it as source for its creation.',
      );
    const snaps = await this.store.memberSnapshots(gs.id);
    for (const s of snaps) await this.volumes.updateSnapshot(s.id, { status: 'deleting' });
    const g = await this.store.get(gs.group_id);
    if (!g?.host) {
      for (const s of snaps) await this.volumes.destroySnapshot(s.id);
      await this.store.destroySnapshot(gs.id);
      return;
    }
    volumeRpc(this.bus)
      .cast(backendOf(g.host), ctx.toRpc())
      .delete_group_snapshot({ group_snapshot_id: gs.id, request_id: ctx.requestId });
  }

  async resetSnapshotStatus(gs: GroupSnapshotRow, status: string) {
    if (!GROUP_SNAPSHOT_STATUSES.includes(status))
      throw bad(`Invalid input received: Group snapshot status ${status} is not valid.`);
    await this.store.updateSnapshot(gs.id, { status });
  }
}
