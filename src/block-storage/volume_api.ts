// The volume manager of the API side (cinder.volume.api.API): the rules of each request on
// volumes, snapshots and attachments (status checks with Cinder's messages, quotas, the
// default type), then the row change and the cast to the scheduler or the backend's agent.
// It takes the request context, never the HTTP request.
import { imageProperties } from '../core/clients/image.ts';
import type { RequestContext } from '../core/context.ts';
import { ApiError } from '../core/errors.ts';
import { bool, json, now } from '../core/db.ts';
import type { MessageBus } from '../core/bus.ts';
import type { BlockStorageOptions } from './config.ts';
import type { ConnectionInfo } from './drivers/driver.ts';
import type { VolumeImages } from './images.ts';
import type { QuotaEngine } from './quotas.ts';
import type { QosStore } from './qos.ts';
import { backendOf, schedulerRpc, volumeRpc } from './rpcapi.ts';
import { type TypeStore, type VolumeTypeRow, specsOf } from './types.ts';
import { type AttachmentRow, type SnapshotRow, VolumeStatus, type VolumeRow, type VolumeStore } from './volumes.ts';

const bad = (m: string) => new ApiError(400, m);

export interface CreateVolumeRequest {
  size?: number;
  name: string | null;
  description: string | null;
  volumeType?: string | null;
  availabilityZone?: string | null;
  snapshotId?: string | null;
  sourceVolid?: string | null;
  imageRef?: string | null;
  metadata?: Record<string, string>;
  multiattach?: boolean;
  groupId?: string | null;
  /** 3.47: the (available, visible) backup to restore into the new volume. */
  backup?: { id: string; size: number; availability_zone: string };
  /** The volume types of the group `groupId` names (the caller looked the group up). */
  groupVolumeTypes?: string[];
}

export class VolumeApi {
  constructor(
    private volumes: VolumeStore,
    private types: TypeStore,
    private quotas: QuotaEngine,
    private qos: QosStore,
    private images: VolumeImages,
    private bus: MessageBus,
    private o: BlockStorageOptions,
  ) {}

  /** A volume the caller may see (404 otherwise, as Cinder hides other projects' volumes). */
  async visibleVolume(ctx: RequestContext, id: string): Promise<VolumeRow> {
    const v = await this.volumes.get(id);
    if (!v || (!ctx.allowed('volume:get_all_admin') && v.project_id !== ctx.projectId))
      throw new ApiError(404, `Volume ${id} could not be found.`, 'VolumeNotFound');
    return v;
  }

  async visibleSnapshot(ctx: RequestContext, id: string): Promise<SnapshotRow> {
    const s = await this.volumes.snapshot(id);
    if (!s || (!ctx.allowed('volume:get_all_admin') && s.project_id !== ctx.projectId))
      throw new ApiError(404, `Snapshot ${id} could not be found.`, 'SnapshotNotFound');
    return s;
  }

  async resolveType(ctx: RequestContext, ref: string | null | undefined): Promise<VolumeTypeRow> {
    if (!ref) return this.types.defaultFor(ctx.projectId);
    const t = await this.types.find(ref);
    if (!t || !(await this.types.visible(t, ctx.projectId, ctx.allowed('volume_extension:types_manage'))))
      throw new ApiError(404, `Volume type with name ${ref} could not be found.`, 'VolumeTypeNotFoundByName');
    return t;
  }

  async create(ctx: RequestContext, r: CreateVolumeRequest): Promise<VolumeRow> {
    let size = r.size;
    let snapshot: SnapshotRow | undefined;
    let source: VolumeRow | undefined;
    let imageMeta: Record<string, string> | undefined;
    let zone = r.availabilityZone ?? null;
    if (r.snapshotId) {
      snapshot = await this.visibleSnapshot(ctx, r.snapshotId);
      if (snapshot.status !== 'available')
        throw bad(`Invalid snapshot: Originating snapshot status must be one of 'available' values`);
      size ??= snapshot.volume_size;
      if (size < snapshot.volume_size)
        throw bad(
          `Invalid input received: Volume size '${size}'GB cannot be smaller than the snapshot size ${snapshot.volume_size}GB. They must be >= original snapshot size.`,
        );
      const parent = await this.volumes.get(snapshot.volume_id);
      zone ??= parent?.availability_zone ?? null;
    }
    if (r.sourceVolid) {
      source = await this.visibleVolume(ctx, r.sourceVolid);
      if (!['available', 'in-use'].includes(source.status))
        throw bad(`Invalid volume: Unable to clone volumes that are in an error state`);
      size ??= source.size;
      if (size < source.size)
        throw bad(
          `Invalid input received: Volume size '${size}'GB cannot be smaller than original volume size ${source.size}GB. They must be >= original volume size.`,
        );
      zone ??= source.availability_zone;
    }
    if (r.backup) {
      size ??= r.backup.size;
      if (size < r.backup.size)
        throw bad(
          `Invalid input received: Volume size ${size}GB cannot be smaller than the backup size ${r.backup.size}GB. It must be >= backup size.`,
        );
      zone ??= r.backup.availability_zone;
    }
    let volumeType = r.volumeType;
    if (r.imageRef) {
      const img = await this.images.client.getImage(r.imageRef, { token: ctx.token });
      if (img.status !== 200) throw bad(`Invalid image identifier or unable to access requested image.`);
      const image = img.body;
      // The image may name the type of volumes made from it (cinder_img_volume_type).
      if (!volumeType && typeof image.cinder_img_volume_type === 'string') volumeType = image.cinder_img_volume_type;
      if (image.status !== 'active') throw bad(`Invalid input received: Image ${r.imageRef} is not active.`);
      const bytes = Number(image.size ?? 0);
      const imageGb = Math.ceil(bytes / 1024 ** 3);
      const minDisk = Number(image.min_disk ?? 0);
      size ??= Math.max(1, imageGb, minDisk);
      if (size < imageGb)
        throw bad(`Invalid input received: Size of specified image ${imageGb}GB is larger than volume size ${size}GB.`);
      if (size < minDisk)
        throw bad(
          `Invalid input received: Volume size ${size}GB cannot be smaller than the image minDisk size ${minDisk}GB.`,
        );
      imageMeta = { image_id: image.id, image_name: String(image.name ?? '') };
      for (const k of ['checksum', 'container_format', 'disk_format', 'min_disk', 'min_ram', 'size'])
        if (image[k] !== undefined && image[k] !== null) imageMeta[k] = String(image[k]);
      for (const [k, val] of Object.entries(imageProperties(image))) if (typeof val === 'string') imageMeta[k] = val;
    }
    if (size === undefined)
      throw bad('Invalid input received: Size must be specified when not creating from a source.');
    if (!Number.isInteger(size) || size <= 0)
      throw bad(`Invalid input received: Volume size '${size}' must be an integer and greater than 0`);
    if (r.groupId && !volumeType)
      throw bad('Invalid input received: volume_type must be provided when creating a volume in a group.');
    const type = await this.resolveType(ctx, volumeType);
    if (r.groupId && !(r.groupVolumeTypes ?? []).includes(type.id))
      throw bad(
        `Invalid input received: Invalid volume_type provided: ${type.name} (requested type must be supported by this group).`,
      );
    const specs = specsOf(type);
    const multiattach = r.multiattach === true || /<is>\s*true/i.test(specs.multiattach ?? '');
    if (multiattach && r.multiattach !== undefined && !ctx.allowed('volume:multiattach', { project_id: ctx.projectId }))
      throw new ApiError(403, 'Policy does not allow multiattach volumes.');
    if (zone && zone !== this.o.availabilityZone) {
      if (!this.o.allowAvailabilityZoneFallback)
        throw bad(`Invalid input received: Availability zone '${zone}' is invalid.`);
      zone = this.o.availabilityZone;
    }
    const typeZones = specs['RESKEY:availability_zones'];
    if (
      typeZones &&
      !typeZones
        .split(',')
        .map((z) => z.trim())
        .includes(zone ?? this.o.availabilityZone)
    )
      throw bad(`Invalid input received: The availability zone is not in the volume type's availability zones.`);
    const encrypted = !!(await this.qos.encryption(type.id));
    const projectId = ctx.projectId!;
    const v = await this.quotas.lock.run(async () => {
      await this.quotas.check(projectId, { volumes: 1, gigabytes: size }, type.name);
      return this.volumes.create({
        project_id: projectId,
        user_id: ctx.userId!,
        name: r.name,
        description: r.description,
        size,
        availability_zone: zone ?? this.o.availabilityZone,
        volume_type_id: type.id,
        snapshot_id: snapshot?.id ?? null,
        source_volid: source?.id ?? null,
        image_id: r.imageRef ?? null,
        backup_id: r.backup?.id ?? null,
        multiattach,
        encrypted,
        metadata: r.metadata,
        image_metadata: imageMeta,
        group_id: r.groupId ?? null,
      });
    });
    schedulerRpc(this.bus).cast(undefined, ctx.toRpc()).create_volume({ volume_id: v.id, request_id: ctx.requestId });
    return v;
  }

  async delete(ctx: RequestContext, v: VolumeRow, o: { cascade?: boolean; force?: boolean; unmanageOnly?: boolean }) {
    const snaps = await this.volumes.snapshots({ volumeId: v.id });
    const atts = await this.volumes.attachments(v.id);
    const okStatus = ['available', 'error', 'error_restoring', 'error_extending', 'error_managing'];
    const blocked =
      (!o.force && !okStatus.includes(v.status)) ||
      (o.force &&
        ['deleting', 'error_deleting'].includes(v.status) === false &&
        ['attaching', 'detaching', 'in-use', 'reserved'].includes(v.status) &&
        atts.length > 0) ||
      atts.some((a) => a.attach_status === 'attached') ||
      v.migration_status === 'migrating' ||
      v.group_id !== null ||
      (snaps.length > 0 && !o.cascade) ||
      v.status === 'awaiting-transfer';
    if (blocked)
      throw bad(
        'Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer.',
      );
    if (o.cascade && snaps.some((s) => !['available', 'error'].includes(s.status)))
      throw bad('Invalid volume: Snapshot of volume must be in available or error status to be deleted.');
    const changed = await this.volumes.update(
      v.id,
      { status: o.unmanageOnly ? 'unmanaging' : VolumeStatus.DELETING, previous_status: v.status },
      { status: [v.status] },
    );
    if (!changed) throw bad(`Invalid volume: Volume ${v.id} changed status while it was deleted.`);
    for (const a of atts) await this.volumes.deleteAttachment(a.id);
    for (const s of snaps) await this.volumes.updateSnapshot(s.id, { status: 'deleting' });
    if (!v.host) {
      // Never scheduled: nothing on a backend.
      for (const s of snaps) await this.volumes.destroySnapshot(s.id);
      await this.volumes.destroy(v.id);
      return;
    }
    const agent = volumeRpc(this.bus).cast(backendOf(v.host), ctx.toRpc());
    for (const s of snaps) agent.delete_snapshot({ snapshot_id: s.id, request_id: ctx.requestId });
    agent.delete_volume({ volume_id: v.id, request_id: ctx.requestId, unmanage_only: o.unmanageOnly });
  }

  /**
   * os-volume-manage: a new volume row (`managing`) on `host` (host@backend[#pool]) for storage
   * the backend has; its agent takes the storage over, sizes the volume and makes it available.
   */
  async manage(
    ctx: RequestContext,
    r: {
      host: string;
      ref: Record<string, unknown>;
      name: string | null;
      description: string | null;
      volumeType?: string | null;
      availabilityZone?: string | null;
      metadata?: Record<string, string>;
      bootable?: boolean;
    },
  ): Promise<VolumeRow> {
    const backend = backendOf(r.host);
    const service = await this.volumes.db
      .selectFrom('services')
      .selectAll()
      .where('binary', '=', 'cinder-volume')
      .where('host', '=', backend)
      .executeTakeFirst();
    if (!service) throw new ApiError(404, `Service host ${r.host} could not be found.`, 'ServiceNotFound');
    const pool = r.host.includes('#') ? r.host : `${backend}#${backend.split('@')[1] ?? backend}`;
    const type = await this.resolveType(ctx, r.volumeType);
    const zone = r.availabilityZone ?? service.availability_zone;
    if (zone !== service.availability_zone)
      throw bad(`Invalid input received: Availability zone '${zone}' is invalid.`);
    const projectId = ctx.projectId!;
    const v = await this.quotas.lock.run(async () => {
      await this.quotas.check(projectId, { volumes: 1 }, type.name);
      return this.volumes.create({
        project_id: projectId,
        user_id: ctx.userId!,
        name: r.name,
        description: r.description,
        size: 0,
        availability_zone: zone,
        volume_type_id: type.id,
        metadata: r.metadata,
        status: 'managing',
      });
    });
    await this.volumes.update(v.id, { host: pool, ...(r.bootable ? { bootable: 1 } : {}) });
    volumeRpc(this.bus)
      .cast(backend, ctx.toRpc())
      .manage_existing({ volume_id: v.id, ref: r.ref, request_id: ctx.requestId });
    return (await this.volumes.get(v.id))!;
  }

  /** os-snapshot-manage: a new snapshot row of volume `v` for a snapshot the backend has. */
  async manageSnapshot(
    ctx: RequestContext,
    v: VolumeRow,
    r: {
      ref: Record<string, unknown>;
      name: string | null;
      description: string | null;
      metadata?: Record<string, string>;
    },
  ): Promise<SnapshotRow> {
    if (!v.host) throw bad(`Invalid volume: Volume ${v.id} has no host.`);
    const type = await this.types.get(v.volume_type_id);
    const projectId = ctx.projectId ?? v.project_id;
    const s = await this.quotas.lock.run(async () => {
      await this.quotas.check(projectId, { snapshots: 1, gigabytes: v.size }, type?.name);
      return this.volumes.createSnapshot({
        volume: v,
        project_id: projectId,
        user_id: ctx.userId!,
        name: r.name,
        description: r.description,
        metadata: r.metadata,
      });
    });
    volumeRpc(this.bus)
      .cast(backendOf(v.host), ctx.toRpc())
      .manage_existing_snapshot({ snapshot_id: s.id, ref: r.ref, request_id: ctx.requestId });
    return s;
  }

  async extend(ctx: RequestContext, v: VolumeRow, newSize: number, attachedAllowed: boolean) {
    const ok = attachedAllowed ? ['available', 'in-use'] : ['available'];
    if (!ok.includes(v.status))
      throw bad(
        `Invalid volume: Volume to be extended must be ${ok.join(' or ')}, but current status is: ${v.status}.`,
      );
    if (newSize <= v.size)
      throw bad(
        `Invalid input received: New size for extend must be greater than current size. (current: ${v.size}, extended: ${newSize}).`,
      );
    const type = await this.types.get(v.volume_type_id);
    await this.quotas.lock.run(async () => {
      await this.quotas.check(v.project_id, { gigabytes: newSize - v.size }, type?.name);
      const changed = await this.volumes.update(
        v.id,
        { status: VolumeStatus.EXTENDING, previous_status: v.status },
        { status: ok },
      );
      if (!changed) throw bad(`Invalid volume: Volume ${v.id} changed status.`);
    });
    volumeRpc(this.bus)
      .cast(backendOf(v.host!), ctx.toRpc())
      .extend_volume({ volume_id: v.id, new_size: newSize, request_id: ctx.requestId });
  }

  async createSnapshot(
    ctx: RequestContext,
    v: VolumeRow,
    r: { name: string | null; description: string | null; force: boolean; metadata?: Record<string, string> },
    allowInUse: boolean,
  ): Promise<SnapshotRow> {
    if (v.status === 'in-use' && !r.force && !allowInUse)
      throw bad(`Invalid volume: Volume ${v.id} status must be available, but current status is: in-use.`);
    if (!['available', 'in-use'].includes(v.status))
      throw bad(
        `Invalid volume: Volume ${v.id} status must be available or in-use, but current status is: ${v.status}.`,
      );
    const type = await this.types.get(v.volume_type_id);
    const s = await this.quotas.lock.run(async () => {
      await this.quotas.check(ctx.projectId ?? v.project_id, { snapshots: 1, gigabytes: v.size }, type?.name);
      return this.volumes.createSnapshot({
        volume: v,
        project_id: ctx.projectId ?? v.project_id,
        user_id: ctx.userId!,
        name: r.name,
        description: r.description,
        metadata: r.metadata,
      });
    });
    volumeRpc(this.bus)
      .cast(backendOf(v.host!), ctx.toRpc())
      .create_snapshot({ snapshot_id: s.id, request_id: ctx.requestId });
    return s;
  }

  async deleteSnapshot(ctx: RequestContext, s: SnapshotRow, force = false, unmanageOnly = false) {
    if ((!force && !['available', 'error', 'error_deleting'].includes(s.status)) || s.group_snapshot_id)
      throw bad(`Invalid snapshot: Snapshot status must be available or error and must not be part of a group.`);
    const deps = (await this.volumes.list()).filter((v) => v.snapshot_id === s.id && v.status === 'creating');
    if (deps.length) throw bad('Invalid snapshot: Snapshot has dependent volumes being created.');
    await this.volumes.updateSnapshot(s.id, { status: unmanageOnly ? 'unmanaging' : 'deleting' });
    const v = await this.volumes.get(s.volume_id);
    if (!v?.host) {
      await this.volumes.destroySnapshot(s.id);
      return;
    }
    volumeRpc(this.bus)
      .cast(backendOf(v.host), ctx.toRpc())
      .delete_snapshot({ snapshot_id: s.id, request_id: ctx.requestId, unmanage_only: unmanageOnly });
  }

  // ---- attaching ------------------------------------------------------------------------

  private reserveCheck(v: VolumeRow, instance: string | null) {
    const multi = bool(v.multiattach);
    const ok = multi ? ['available', 'in-use', 'reserved', 'attaching', 'downloading'] : ['available', 'downloading'];
    if (!ok.includes(v.status))
      throw bad(
        `Invalid volume: Volume ${v.id} status must be available or downloading to reserve, but the current status is ${v.status}.`,
      );
    return instance;
  }

  /** os-reserve (legacy: the volume goes `attaching`), and POST /attachments without a connector (`reserved`). */
  async reserve(v: VolumeRow, instance: string | null, legacy = false): Promise<AttachmentRow> {
    // The same server reserving its in-use volume again is a move (Cinder's LP 1694530 override):
    // allowed, and the volume keeps its status.
    if (instance && ['in-use', 'reserved'].includes(v.status)) {
      const mine = (await this.volumes.attachments(v.id)).some((a) => a.instance_uuid === instance);
      if (mine)
        return this.volumes.createAttachment({ volume_id: v.id, instance_uuid: instance, attach_status: 'reserved' });
    }
    this.reserveCheck(v, instance);
    const prev = v.status;
    const changed = await this.volumes.update(
      v.id,
      {
        status: prev === 'in-use' ? 'in-use' : legacy ? VolumeStatus.ATTACHING : VolumeStatus.RESERVED,
        previous_status: prev,
      },
      { status: [prev] },
    );
    if (!changed) throw bad(`Invalid volume: Volume ${v.id} changed status while it was reserved.`);
    return this.volumes.createAttachment({ volume_id: v.id, instance_uuid: instance, attach_status: 'reserved' });
  }

  async unreserve(v: VolumeRow) {
    for (const a of await this.volumes.attachments(v.id))
      if (a.attach_status === 'reserved') await this.volumes.deleteAttachment(a.id);
    await this.volumes.settleAttachStatus(v.id);
  }

  async initializeConnection(
    ctx: RequestContext,
    v: VolumeRow,
    connector: Record<string, unknown>,
  ): Promise<ConnectionInfo> {
    if (!v.host) throw bad(`Invalid volume: Volume ${v.id} has no host; it was never created.`);
    const info = await volumeRpc(this.bus)
      .call(backendOf(v.host), { ctx: ctx.toRpc() })
      .initialize_connection({ volume_id: v.id, connector });
    const ro = json<Record<string, string>>(v.admin_metadata, {}).readonly === 'True';
    return {
      ...info,
      data: {
        ...info.data,
        access_mode: ro ? 'ro' : 'rw',
        encrypted: bool(v.encrypted),
        qos_specs: null,
        discard: true,
      },
    };
  }

  async terminateConnection(ctx: RequestContext, v: VolumeRow, connector: Record<string, unknown> | null) {
    if (!v.host) return;
    await volumeRpc(this.bus)
      .call(backendOf(v.host), { ctx: ctx.toRpc() })
      .terminate_connection({ volume_id: v.id, connector });
  }

  /** os-attach: the reserved attachment of the instance (or a new one) becomes attached. */
  async attach(v: VolumeRow, r: { instance: string | null; host: string | null; mountpoint: string; mode: string }) {
    const ro = json<Record<string, string>>(v.admin_metadata, {}).readonly === 'True';
    if (ro && r.mode === 'rw')
      throw bad(`Invalid volume: Volume ${v.id} is read-only; it cannot be attached in rw mode.`);
    const atts = await this.volumes.attachments(v.id);
    let a =
      atts.find((x) => x.attach_status !== 'attached' && x.instance_uuid === r.instance) ??
      atts.find((x) => x.attach_status === 'reserved');
    if (!a) {
      if (!bool(v.multiattach) && atts.some((x) => x.attach_status === 'attached'))
        throw bad(`Invalid volume: Volume ${v.id} is already attached and is not multiattach.`);
      a = await this.volumes.createAttachment({
        volume_id: v.id,
        instance_uuid: r.instance,
        attach_status: 'attaching',
      });
    }
    await this.volumes.updateAttachment(a.id, {
      attach_status: 'attached',
      instance_uuid: r.instance,
      attached_host: r.host,
      mountpoint: r.mountpoint,
      attach_mode: r.mode,
      attach_time: now(),
    });
    const meta = { ...json<Record<string, string>>(v.admin_metadata, {}), attached_mode: r.mode };
    await this.volumes.update(v.id, {
      status: 'in-use',
      attach_status: 'attached',
      admin_metadata: JSON.stringify(meta),
      previous_status: null,
    });
  }

  async detach(v: VolumeRow, attachmentId?: string) {
    const atts = await this.volumes.attachments(v.id);
    const a = attachmentId ? atts.find((x) => x.id === attachmentId) : atts.length === 1 ? atts[0] : undefined;
    if (attachmentId && !a)
      throw new ApiError(404, `Volume attachment ${attachmentId} could not be found.`, 'VolumeAttachmentNotFound');
    if (!a && atts.length > 1)
      throw bad('Invalid volume: Volume has more than one attachment: name the one to detach.');
    if (a) await this.volumes.deleteAttachment(a.id);
    await this.volumes.settleAttachStatus(v.id);
    const left = await this.volumes.attachments(v.id);
    if (!left.length) {
      const meta = json<Record<string, string>>(v.admin_metadata, {});
      delete meta.attached_mode;
      await this.volumes.update(v.id, { admin_metadata: JSON.stringify(meta) });
    }
  }
}
