// cinder-volume: the agent of one backend (`host@backend`). It serves the volume RPC topic,
// runs each long operation as a flow with revert (a failure leaves the volume `error` with a
// user message, never `creating` forever), reports its pools' capacity with its heartbeat and,
// at start, settles what a previous run left in a transient status.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { MessageBus } from '../../core/bus.ts';
import { json } from '../../core/db.ts';
import { LinearFlow } from '../../core/flow.ts';
import type { Logger } from '../../core/log.ts';
import { serveRpc } from '../../core/rpc.ts';
import type { BlockStorageOptions } from '../config.ts';
import { type DriverVolume, SnapshotIsBusy, type VolumeDriver } from '../drivers/driver.ts';
import type { GroupStore } from '../groups.ts';
import { VolumeMigrations } from './migration.ts';
import type { NovaEvents } from '../nova.ts';
import { ServiceHeartbeat } from '../heartbeat.ts';
import type { VolumeImages } from '../images.ts';
import { Action, Detail, type MessageStore } from '../messages.ts';
import { VOLUME_TOPIC, type VolumeRpc, backupRpc } from '../rpcapi.ts';
import { type SnapshotRow, VolumeStatus, type VolumeRow, type VolumeStore } from '../volumes.ts';

const GiB = 1024 ** 3;
const dv = (v: VolumeRow): DriverVolume => ({ id: v.id, size: v.size, provider_location: v.provider_location });

export class VolumeAgent {
  /** host@backend: the RPC server name and the services row. */
  readonly backend: string;
  readonly heartbeat: ServiceHeartbeat;
  private stopServing?: () => void;
  private migrations: VolumeMigrations;

  constructor(
    private volumes: VolumeStore,
    private groups: GroupStore,
    private messages: MessageStore,
    private images: VolumeImages,
    readonly driver: VolumeDriver,
    private bus: MessageBus,
    private o: BlockStorageOptions,
    private log: Logger,
    /** Tells compute about attached volumes that grew (absent: nobody is told). */
    private nova?: NovaEvents,
  ) {
    this.backend = `${o.host}@${o.backendName}`;
    this.heartbeat = new ServiceHeartbeat(
      volumes.db,
      this.backend,
      'cinder-volume',
      o.availabilityZone,
      o.reportInterval,
      log,
      () => this.stats(),
    );
    this.migrations = new VolumeMigrations(volumes, driver, bus, log, (id) => this.deleteVolume(id), nova);
  }

  async stats() {
    const mine = (await this.volumes.list()).filter((v) => v.host?.startsWith(`${this.backend}#`));
    return this.driver.stats(mine.reduce((n, v) => n + v.size, 0));
  }

  /** When this run started: the cleanup settles only what is older. */
  private startedAt = new Date().toISOString();

  async start() {
    await this.driver.setup();
    const startedAt = new Date().toISOString();
    this.startedAt = startedAt;
    await this.recover(startedAt);
    await this.recoverGroups(startedAt);
    await this.migrations.recover(this.backend);
    await this.ensureExports();
    const h = (fn: () => Promise<void>) => {
      fn().catch((err) => this.log.error({ err }, 'volume operation failed'));
      return null;
    };
    this.stopServing = serveRpc<VolumeRpc>(this.bus, VOLUME_TOPIC, this.backend, {
      create_volume: (a) => h(() => this.createVolume(a.volume_id, a.request_id)),
      delete_volume: (a) => h(() => this.deleteVolume(a.volume_id, a.unmanage_only)),
      extend_volume: (a) => h(() => this.extendVolume(a.volume_id, a.new_size, a.request_id)),
      create_snapshot: (a) => h(() => this.createSnapshot(a.snapshot_id, a.request_id)),
      delete_snapshot: (a) => h(() => this.deleteSnapshot(a.snapshot_id, a.unmanage_only)),
      manage_existing: (a) => h(() => this.manageExisting(a.volume_id, a.ref, a.request_id)),
      manage_existing_snapshot: (a) => h(() => this.manageExistingSnapshot(a.snapshot_id, a.ref, a.request_id)),
      list_existing: (a) => this.driver.listExisting(a.kind),
      revert_to_snapshot: (a) => h(() => this.revert(a.volume_id, a.snapshot_id, a.request_id)),
      copy_volume_to_image: (a) => h(() => this.uploadToImage(a.volume_id, a.image_id, a.disk_format)),
      initialize_connection: async (a) => {
        const v = await this.volumes.get(a.volume_id);
        if (!v) throw new Error(`volume ${a.volume_id} not found`);
        return this.driver.initializeConnection(dv(v), a.connector);
      },
      terminate_connection: async (a) => {
        const v = await this.volumes.get(a.volume_id);
        if (!v) return null;
        // A multiattach volume keeps its export while another attachment holds a connector.
        const connected = (await this.volumes.attachments(v.id)).filter((x) => x.connector).length;
        await this.driver.terminateConnection(dv(v), a.connector, Math.max(0, connected - 1));
        return null;
      },
      migrate_volume: (a) => h(() => this.migrations.migrate(a.volume_id, a.host, a.new_type_id ?? null)),
      migrate_volume_completion: (a) => this.migrations.complete(a.volume_id, a.new_volume_id, a.error),
      create_group: (a) => h(() => this.createGroup(a.group_id)),
      create_group_from_src: (a) => h(() => this.createMembers(this.groupSet, a.group_id, a.request_id)),
      delete_group: (a) => h(() => this.deleteMembers(this.groupSet, a.group_id)),
      create_group_snapshot: (a) =>
        h(() => this.createMembers(this.groupSnapshotSet, a.group_snapshot_id, a.request_id)),
      delete_group_snapshot: (a) => h(() => this.deleteMembers(this.groupSnapshotSet, a.group_snapshot_id)),
      // workers/cleanup: what was left before this run started (never this run's own work).
      do_cleanup: () => h(() => this.recover(this.startedAt).then(() => this.recoverGroups(this.startedAt))),
    });
    await this.heartbeat.start();
  }

  async stop() {
    this.heartbeat.stop();
    this.stopServing?.();
    await this.driver.stop?.();
  }

  /** The exports of the attached volumes come back (a tgtd that was restarted has none). */
  private async ensureExports() {
    if (!this.driver.ensureExport) return;
    for (const v of await this.volumes.list()) {
      if (!v.host?.startsWith(`${this.backend}#`) || v.status !== VolumeStatus.IN_USE) continue;
      if (!(await this.volumes.attachments(v.id)).some((x) => x.connector)) continue;
      await this.driver
        .ensureExport(dv(v))
        .catch((err) => this.log.error({ err, volume: v.id }, 'ensure export failed'));
    }
  }

  /** What a crash left behind: creates that never finished fail, deletes are retried. */
  private async recover(startedAt: string) {
    for (const v of await this.volumes.list()) {
      if (!v.host?.startsWith(`${this.backend}#`) || (v.updated_at ?? v.created_at) >= startedAt) continue;
      if (v.status === VolumeStatus.CREATING) {
        await this.driver.deleteVolume(dv(v)).catch(() => undefined);
        await this.volumes.update(v.id, { status: VolumeStatus.ERROR }, { status: [VolumeStatus.CREATING] });
      } else if (v.status === VolumeStatus.DELETING) await this.deleteVolume(v.id);
      else if (v.status === 'unmanaging') await this.deleteVolume(v.id, true);
      else if (v.status === 'managing') await this.volumes.update(v.id, { status: 'error_managing' });
      else if (v.status === VolumeStatus.EXTENDING)
        await this.volumes.update(v.id, { status: VolumeStatus.ERROR_EXTENDING });
      else if (
        [VolumeStatus.DOWNLOADING, VolumeStatus.UPLOADING, VolumeStatus.REVERTING].includes(v.status as 'uploading')
      )
        await this.volumes.update(v.id, { status: v.previous_status ?? VolumeStatus.AVAILABLE });
      for (const s of await this.volumes.snapshots({ volumeId: v.id })) {
        if (s.status === 'creating') await this.volumes.updateSnapshot(s.id, { status: 'error' });
        if (s.status === 'deleting') await this.deleteSnapshot(s.id);
      }
    }
  }

  /** Groups a crash left: creates fail, deletes are retried; group snapshots likewise. */
  private async recoverGroups(startedAt: string) {
    for (const g of await this.groups.list()) {
      if (!g.host?.startsWith(`${this.backend}#`) || (g.updated_at ?? g.created_at) >= startedAt) continue;
      if (g.status === 'creating') await this.groups.update(g.id, { status: 'error' }, { status: ['creating'] });
      else if (g.status === 'deleting') await this.deleteMembers(this.groupSet, g.id);
      for (const gs of await this.groups.snapshots({ groupId: g.id })) {
        if (gs.status === 'creating') await this.groups.updateSnapshot(gs.id, { status: 'error' });
        else if (gs.status === 'deleting') await this.deleteMembers(this.groupSnapshotSet, gs.id);
      }
    }
  }

  // ---- generic volume groups (the driver has no group support: volume by volume) ---------

  private async createGroup(id: string) {
    await this.groups.update(id, { status: 'available' }, { status: ['creating'] });
  }

  /** A group as its create from a source and its delete see it: its member volumes. */
  private get groupSet(): MemberSet {
    return {
      get: (id) => this.groups.get(id),
      members: (id) => this.groups.volumes(id),
      make: (v, requestId) => this.createVolume(v, requestId),
      remove: (v) => this.deleteVolume(v),
      find: (v) => this.volumes.get(v),
      setStatus: (id, status, expect) => this.groups.update(id, { status }, expect),
      destroy: (id) => this.groups.destroy(id),
    };
  }

  /** A group snapshot as its create and its delete see it: its member snapshots. */
  private get groupSnapshotSet(): MemberSet {
    return {
      get: (id) => this.groups.snapshot(id),
      members: (id) => this.groups.memberSnapshots(id),
      make: (s, requestId) => this.createSnapshot(s, requestId),
      remove: (s) => this.deleteSnapshot(s),
      find: (s) => this.volumes.snapshot(s),
      setStatus: (id, status, expect) => this.groups.updateSnapshot(id, { status }, expect),
      destroy: (id) => this.groups.destroySnapshot(id),
    };
  }

  /** A group (snapshot) being created gets its members made one by one: `available` if every one of them is. */
  private async createMembers(set: MemberSet, id: string, requestId?: string) {
    const row = await set.get(id);
    if (!row || row.status !== 'creating') return;
    for (const m of await set.members(id)) await set.make(m.id, requestId);
    const ok = (await set.members(id)).every((m) => m.status === 'available');
    await set.setStatus(id, ok ? 'available' : 'error', { status: ['creating'] });
  }

  /** A group (snapshot) deleted member by member: gone when all of them are, else `error_deleting`. */
  private async deleteMembers(set: MemberSet, id: string) {
    if (!(await set.get(id))) return;
    let gone = true;
    for (const m of await set.members(id)) {
      await set.remove(m.id);
      if (await set.find(m.id)) gone = false;
    }
    if (!gone) await set.setStatus(id, 'error_deleting');
    else await set.destroy(id);
  }

  private async createVolume(id: string, requestId?: string) {
    const v = await this.volumes.get(id);
    if (!v || v.status !== VolumeStatus.CREATING) return;
    const state: {
      location?: string;
      bootable?: boolean;
      imageMeta?: Record<string, string>;
      fromBackup?: boolean;
      action: readonly [string, string];
    } = {
      action: Action.CREATE_VOLUME_FROM_BACKEND,
    };
    const flow = new LinearFlow<typeof state>('create_volume').add(
      {
        name: 'create_in_backend',
        execute: async (s) => {
          if (v.snapshot_id) {
            const snap = await this.volumes.snapshot(v.snapshot_id);
            if (!snap) throw new Error(`snapshot ${v.snapshot_id} is gone`);
            s.location = await this.driver.createVolumeFromSnapshot(dv(v), snap);
            const src = await this.volumes.get(snap.volume_id);
            s.bootable = !!src?.bootable;
            s.imageMeta = src ? json(src.image_metadata, {}) : undefined;
          } else if (v.source_volid) {
            const src = await this.volumes.get(v.source_volid);
            if (!src) throw new Error(`volume ${v.source_volid} is gone`);
            s.location = await this.driver.createClonedVolume(dv(v), dv(src));
            s.bootable = !!src.bootable;
            s.imageMeta = json(src.image_metadata, {});
          } else if (v.backup_id) {
            if (!this.o.backup) throw new Error('no cinder-backup runs beside this volume service');
            // A blank volume now; the backup agent writes the backup into it and makes it available.
            s.location = await this.driver.createVolume(dv(v));
            s.fromBackup = true;
          } else if (v.image_id) {
            s.action = Action.COPY_IMAGE_TO_VOLUME;
            s.location = await this.fromImage(v);
            s.bootable = true;
          } else s.location = await this.driver.createVolume(dv(v));
        },
        revert: async () => {
          await this.driver.deleteVolume(dv(v)).catch(() => undefined);
        },
      },
      {
        name: 'mark_available',
        execute: async (s) => {
          if (s.fromBackup) {
            await this.volumes.update(v.id, { provider_location: s.location ?? null });
            backupRpc(this.bus)
              .cast(this.o.host)
              .restore_backup({ backup_id: v.backup_id!, volume_id: v.id, request_id: requestId });
            return;
          }
          const done = await this.volumes.update(
            v.id,
            {
              status: VolumeStatus.AVAILABLE,
              provider_location: s.location ?? null,
              launched_at: new Date().toISOString(),
              ...(s.bootable ? { bootable: 1 } : {}),
              ...(s.imageMeta && Object.keys(s.imageMeta).length
                ? { image_metadata: JSON.stringify({ ...json(v.image_metadata, {}), ...s.imageMeta }) }
                : {}),
            },
            { status: [VolumeStatus.CREATING] },
          );
          if (!done) throw new Error('the volume left creating while it was made');
        },
      },
    );
    try {
      await flow.run(state);
    } catch (err) {
      this.log.warn({ err, volume: id }, 'volume create failed');
      await this.volumes.update(id, { status: VolumeStatus.ERROR }, { status: [VolumeStatus.CREATING] });
      await this.messages.create({
        projectId: v.project_id,
        requestId,
        resourceType: 'VOLUME',
        resourceId: id,
        action: state.action,
        detail: Detail.DRIVER_FAILED_CREATE,
      });
    }
  }

  /**
   * A volume from an image (Cinder's fetch_to_raw + copy_image_to_volume): a raw image onto a raw
   * backend file is written straight into the volume file (sparse, no temporary copy, no
   * conversion); any other goes through a sparse temporary file in the volumes' file system and
   * the driver's qemu-img convert.
   */
  private async fromImage(v: VolumeRow): Promise<string> {
    const meta = json<Record<string, string>>(v.image_metadata, {});
    const fmt = meta.disk_format && meta.disk_format !== 'iso' && meta.disk_format !== 'ami' ? meta.disk_format : 'raw';
    // The image store's own file, when allowed_direct_url_schemes lets this host read it: converted
    // straight into the volume (Cinder copies it to image_conversion_dir first; no need here).
    const local = await this.images.localFile(v.image_id!, this.o.allowedDirectUrlSchemes);
    if (local) return await this.driver.copyImageToVolume(dv(v), local, fmt === 'vhd' ? 'vpc' : fmt);
    const direct = this.driver.rawImageTarget?.(dv(v), fmt);
    if (direct) {
      const bytes = await this.images.download(v.image_id!, direct);
      if (bytes > v.size * GiB) throw new Error(`image ${v.image_id} (${bytes} bytes) is larger than the volume`);
      if (bytes < v.size * GiB) await this.driver.extendVolume({ ...dv(v), provider_location: direct }, v.size);
      return direct;
    }
    const tmp = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'stratus-image-'));
    try {
      const file = path.join(tmp, 'image');
      await this.images.download(v.image_id!, file);
      return await this.driver.copyImageToVolume(dv(v), file, fmt === 'vhd' ? 'vpc' : fmt);
    } finally {
      await fs.promises.rm(tmp, { recursive: true, force: true });
    }
  }

  /** os-volume-manage: the driver takes the storage over; the volume gets its size and is available. */
  private async manageExisting(id: string, ref: Record<string, unknown>, requestId?: string) {
    const v = await this.volumes.get(id);
    if (!v || v.status !== 'managing') return;
    try {
      const { location, size } = await this.driver.manageExisting(dv(v), ref);
      await this.volumes.update(
        id,
        { status: VolumeStatus.AVAILABLE, provider_location: location, size, launched_at: new Date().toISOString() },
        { status: ['managing'] },
      );
    } catch (err) {
      this.log.warn({ err, volume: id }, 'manage existing failed');
      await this.volumes.update(id, { status: 'error_managing' });
      await this.messages.create({
        projectId: v.project_id,
        requestId,
        resourceType: 'VOLUME',
        resourceId: id,
        action: Action.CREATE_VOLUME_FROM_BACKEND,
        detail: Detail.UNKNOWN_ERROR,
      });
    }
  }

  private async manageExistingSnapshot(id: string, ref: Record<string, unknown>, requestId?: string) {
    const s = await this.volumes.snapshot(id);
    if (!s || s.status !== 'creating') return;
    try {
      const { location, size } = await this.driver.manageExistingSnapshot(s, ref);
      await this.volumes.updateSnapshot(
        id,
        { status: 'available', progress: '100%', provider_location: location, volume_size: size },
        { status: ['creating'] },
      );
    } catch (err) {
      this.log.warn({ err, snapshot: id }, 'manage existing snapshot failed');
      await this.snapshotFailed(s, requestId);
    }
  }

  private async deleteVolume(id: string, unmanageOnly = false) {
    const v = await this.volumes.get(id);
    if (!v) return;
    try {
      // Unmanaged: the bytes stay on the backend, under the volume's name, for a later manage.
      if (!unmanageOnly) await this.driver.deleteVolume(dv(v));
      await this.volumes.destroy(id);
    } catch (err) {
      this.log.error({ err, volume: id }, 'volume delete failed');
      await this.volumes.update(id, { status: VolumeStatus.ERROR_DELETING });
    }
  }

  private async extendVolume(id: string, newSize: number, requestId?: string) {
    const v = await this.volumes.get(id);
    if (!v) return;
    const back = v.previous_status === VolumeStatus.IN_USE ? VolumeStatus.IN_USE : VolumeStatus.AVAILABLE;
    try {
      await this.driver.extendVolume(dv(v), newSize);
      await this.volumes.update(id, { size: newSize, status: back, previous_status: null });
      if (back === VolumeStatus.IN_USE) {
        const servers = (await this.volumes.attachments(id))
          .filter((a) => a.attach_status === 'attached' && a.instance_uuid)
          .map((a) => a.instance_uuid!);
        await this.nova?.volumeExtended(id, [...new Set(servers)]);
      }
    } catch (err) {
      this.log.warn({ err, volume: id }, 'volume extend failed');
      await this.volumes.update(id, { status: VolumeStatus.ERROR_EXTENDING });
      await this.messages.create({
        projectId: v.project_id,
        requestId,
        resourceType: 'VOLUME',
        resourceId: id,
        action: Action.EXTEND_VOLUME,
        detail: Detail.DRIVER_FAILED_EXTEND,
      });
    }
  }

  private async createSnapshot(id: string, requestId?: string) {
    const s = await this.volumes.snapshot(id);
    if (!s) return;
    const v = await this.volumes.get(s.volume_id);
    try {
      if (!v) throw new Error('volume gone');
      const loc = await this.driver.createSnapshot(s, dv(v));
      await this.volumes.updateSnapshot(
        id,
        { status: 'available', progress: '100%', provider_location: loc },
        { status: ['creating'] },
      );
    } catch (err) {
      this.log.warn({ err, snapshot: id }, 'snapshot create failed');
      await this.driver.deleteSnapshot(s).catch(() => undefined);
      await this.snapshotFailed(s, requestId);
    }
  }

  /** A snapshot that could not be made (or taken over): `error`, and a user message that says so. */
  private async snapshotFailed(s: SnapshotRow, requestId?: string) {
    await this.volumes.updateSnapshot(s.id, { status: 'error' });
    await this.messages.create({
      projectId: s.project_id,
      requestId,
      resourceType: 'VOLUME_SNAPSHOT',
      resourceId: s.id,
      action: Action.SNAPSHOT_CREATE,
      detail: Detail.SNAPSHOT_CREATE_ERROR,
    });
  }

  private async deleteSnapshot(id: string, unmanageOnly = false) {
    const s: SnapshotRow | undefined = await this.volumes.snapshot(id);
    if (!s) return;
    try {
      if (!unmanageOnly) await this.driver.deleteSnapshot(s);
      await this.volumes.destroySnapshot(id);
    } catch (err) {
      if (err instanceof SnapshotIsBusy) {
        // Cinder's manager: volumes cloned from it still need it; it stays usable.
        this.log.warn({ snapshot: id }, err.message);
        await this.volumes.updateSnapshot(id, { status: 'available' });
        await this.messages.create({
          projectId: s.project_id,
          resourceType: 'VOLUME_SNAPSHOT',
          resourceId: id,
          action: Action.SNAPSHOT_DELETE,
          detail: Detail.SNAPSHOT_IS_BUSY,
        });
        return;
      }
      this.log.error({ err, snapshot: id }, 'snapshot delete failed');
      await this.volumes.updateSnapshot(id, { status: 'error_deleting' });
    }
  }

  private async revert(volumeId: string, snapshotId: string, requestId?: string) {
    const v = await this.volumes.get(volumeId);
    const s = await this.volumes.snapshot(snapshotId);
    if (!v || !s) return;
    try {
      await this.driver.revertToSnapshot(dv(v), s);
      await this.volumes.update(volumeId, { status: VolumeStatus.AVAILABLE });
      await this.volumes.updateSnapshot(snapshotId, { status: 'available' });
    } catch (err) {
      this.log.warn({ err, volume: volumeId }, 'revert failed');
      await this.volumes.update(volumeId, { status: VolumeStatus.ERROR });
      await this.volumes.updateSnapshot(snapshotId, { status: 'available' });
      await this.messages.create({
        projectId: v.project_id,
        requestId,
        resourceType: 'VOLUME',
        resourceId: volumeId,
        action: Action.REVERT_VOLUME,
        detail: Detail.UNKNOWN_ERROR,
      });
    }
  }

  private async uploadToImage(volumeId: string, imageId: string, diskFormat: string) {
    const v = await this.volumes.get(volumeId);
    if (!v) return;
    const back = v.previous_status ?? VolumeStatus.AVAILABLE;
    const tmp = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'stratus-upload-'));
    try {
      const file = path.join(tmp, 'image');
      const fmt = diskFormat === 'qcow2' ? 'qcow2' : 'raw';
      await this.driver.copyVolumeToImage(dv(v), file, fmt);
      await this.images.upload(imageId, file);
    } catch (err) {
      this.log.warn({ err, volume: volumeId }, 'upload to image failed');
      await this.images.client.deleteImage(imageId).catch(() => undefined);
      await this.messages.create({
        projectId: v.project_id,
        resourceType: 'VOLUME',
        resourceId: volumeId,
        action: Action.COPY_VOLUME_TO_IMAGE,
        detail: Detail.UNKNOWN_ERROR,
      });
    } finally {
      await fs.promises.rm(tmp, { recursive: true, force: true });
      await this.volumes.update(
        volumeId,
        { status: back, previous_status: null },
        { status: [VolumeStatus.UPLOADING] },
      );
    }
  }
}

/** A group or a group snapshot, as the agent makes and deletes it member by member (volumes or snapshots). */
interface MemberSet {
  get(id: string): Promise<{ status: string } | undefined>;
  members(id: string): Promise<Array<{ id: string; status: string }>>;
  make(member: string, requestId?: string): Promise<unknown>;
  remove(member: string): Promise<unknown>;
  find(member: string): Promise<unknown>;
  setStatus(id: string, status: string, expect?: { status: string[] }): Promise<unknown>;
  destroy(id: string): Promise<unknown>;
}
