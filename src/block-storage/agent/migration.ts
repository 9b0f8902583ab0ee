// Volume migration between backends, on the source backend's agent (cinder's
// _migrate_volume_generic and migrate_volume_completion): a new volume on the destination pool
// (`migration_status: target:<id>`), the bytes copied with qemu-img (the host-copy: both
// backends' storage on this host), then the rows swapped — the volume keeps its id and takes the
// new host, location (and type, for a retype) — and the old bytes deleted with the copy's row.
// `migration_status` goes `starting` (API) → `migrating` → `success`, or `error` (the volume
// back as it was, the copy deleted).
//
// An attached volume (Cinder's in-use branch of _migrate_volume_generic): the copy is made on the
// destination, then compute is asked to swap the server's volume for it (Nova's swap_volume,
// which moves the bytes while the guest runs); compute ends with os-migrate_volume_completion,
// whose swap of the rows here also moves the attachments: the new attachment (compute's, on the
// copy) goes to the volume's id, the old one to the copy's row, which is deleted with the old bytes.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import type { MessageBus } from '../../core/bus.ts';
import type { Logger } from '../../core/log.ts';
import type { DriverVolume, VolumeDriver } from '../drivers/driver.ts';
import type { NovaEvents } from '../nova.ts';
import { backendOf, volumeRpc } from '../rpcapi.ts';
import { VolumeStatus, type VolumeRow, type VolumeStore } from '../volumes.ts';

const run = promisify(execFile);
const dv = (v: VolumeRow): DriverVolume => ({ id: v.id, size: v.size, provider_location: v.provider_location });

/** How long the destination may take to make the copy's volume. */
const CREATE_TIMEOUT_MS = 10 * 60_000;

async function formatOf(file: string): Promise<string> {
  const info = JSON.parse((await run('qemu-img', ['info', '--output=json', file])).stdout) as { format: string };
  return info.format;
}

export class VolumeMigrations {
  constructor(
    private volumes: VolumeStore,
    private driver: VolumeDriver,
    private bus: MessageBus,
    private log: Logger,
    /** Deletes a volume of this backend (its bytes, then its row). */
    private deleteVolume: (id: string) => Promise<void>,
    /** Compute, for the swap of attached volumes (absent: attached volumes fail to migrate). */
    private nova?: NovaEvents,
  ) {}

  /** The status a volume goes back to after a migration (the API set `maintenance` or `retyping`). */
  private restored(v: VolumeRow): Record<string, string | null> {
    return ['maintenance', 'retyping', 'migrating'].includes(v.status)
      ? { status: v.previous_status ?? VolumeStatus.AVAILABLE, previous_status: null }
      : {};
  }

  async migrate(id: string, destPool: string, newTypeId: string | null) {
    const v = await this.volumes.get(id);
    if (!v) return;
    let copyId: string | null = null;
    try {
      const attachments = await this.volumes.attachments(id);
      const inUse = attachments.length > 0 || v.attach_status === 'attached';
      const server = attachments[0]?.instance_uuid;
      if (inUse && (attachments.length !== 1 || !server))
        throw new Error('only a volume attached to one server can be migrated (compute swaps one attachment)');
      if (inUse && !this.nova)
        throw new Error('an attached volume needs compute to swap it, and no compute is reachable');
      await this.volumes.update(id, { migration_status: 'migrating' });
      const copy = await this.volumes.create({
        project_id: v.project_id,
        user_id: v.user_id,
        name: v.name,
        description: v.description,
        size: v.size,
        availability_zone: v.availability_zone,
        volume_type_id: newTypeId ?? v.volume_type_id,
        multiattach: !!v.multiattach,
      });
      copyId = copy.id;
      await this.volumes.update(copy.id, { host: destPool, migration_status: `target:${v.id}` });
      volumeRpc(this.bus).cast(backendOf(destPool)).create_volume({ volume_id: copy.id });
      const made = await this.waitCreated(copy.id);
      if (inUse && server && this.nova) {
        // Compute copies the bytes while the guest runs and calls os-migrate_volume_completion.
        this.log.info({ volume: id, server, copy: copy.id }, 'asking compute to swap the attached volume');
        await this.nova.swapVolume(server, id, copy.id);
        return;
      }
      const src = this.driver.localPath(dv(v));
      const dst = made.provider_location;
      if (!dst || !fs.existsSync(dst) || !fs.existsSync(src))
        throw new Error(
          `the generic migration copies between backends of one host: ${backendOf(destPool)}'s storage is not reachable from ${backendOf(v.host ?? '')}`,
        );
      await run('qemu-img', ['convert', '-n', '-f', await formatOf(src), '-O', await formatOf(dst), src, dst], {
        maxBuffer: 1 << 20,
      });
      await this.complete(id, copy.id, false);
    } catch (err) {
      this.log.warn({ err, volume: id }, 'volume migration failed');
      if (copyId) await this.complete(id, copyId, true).catch(() => undefined);
      else {
        const now = await this.volumes.get(id);
        if (now) await this.volumes.update(id, { migration_status: 'error', ...this.restored(now) });
      }
    }
  }

  private async waitCreated(id: string): Promise<VolumeRow> {
    const until = Date.now() + CREATE_TIMEOUT_MS;
    for (;;) {
      const n = await this.volumes.get(id);
      if (!n) throw new Error(`the destination volume ${id} is gone`);
      if (n.status === VolumeStatus.AVAILABLE) return n;
      if (n.status !== VolumeStatus.CREATING) throw new Error(`the destination volume ${id} went ${n.status}`);
      if (Date.now() > until) throw new Error(`the destination volume ${id} was not created in time`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * The end of a migration (also os-migrate_volume_completion): on success the volume takes the
   * copy's host, location and type and the copy's row the old ones, then that row and the old
   * bytes go; on error the copy goes and the volume stays. Answers the id kept.
   */
  async complete(id: string, newId: string, error: boolean): Promise<{ save_volume_id: string }> {
    const v = await this.volumes.get(id);
    const n = await this.volumes.get(newId);
    if (!v) throw new Error(`volume ${id} not found`);
    if (!n) throw new Error(`volume ${newId} not found`);
    if (error) {
      await this.volumes.update(id, { migration_status: 'error', ...this.restored(v) });
      await this.volumes.update(newId, { status: VolumeStatus.DELETING, migration_status: null });
      if (n.host) volumeRpc(this.bus).cast(backendOf(n.host)).delete_volume({ volume_id: newId });
      else await this.volumes.destroy(newId);
      return { save_volume_id: id };
    }
    // An attached volume: compute moved the guest onto the copy, whose attachment is now the
    // volume's; the old ones end (the old bytes' export goes with the copy's row below).
    const oldAttachments = await this.volumes.attachments(id);
    const newAttachments = await this.volumes.attachments(newId);
    for (const a of oldAttachments) await this.volumes.deleteAttachment(a.id);
    for (const a of newAttachments) await this.volumes.updateAttachment(a.id, { volume_id: id });
    // The copy's row takes the old bytes first, so that no moment has both rows on one file.
    await this.volumes.update(newId, {
      host: v.host,
      provider_location: v.provider_location,
      status: VolumeStatus.DELETING,
      migration_status: null,
    });
    await this.volumes.update(id, {
      host: n.host,
      provider_location: n.provider_location,
      volume_type_id: n.volume_type_id,
      migration_status: 'success',
      ...this.restored(v),
    });
    if (oldAttachments.length || newAttachments.length) await this.volumes.settleAttachStatus(id);
    this.log.info({ volume: id, from: v.host, to: n.host }, 'volume migrated');
    // The old bytes are this backend's: this agent deletes them with the copy's row.
    await this.deleteVolume(newId);
    return { save_volume_id: id };
  }

  /** At start: migrations a previous run left are failed (their copies deleted). */
  async recover(backend: string) {
    for (const v of await this.volumes.list()) {
      if (!v.host?.startsWith(`${backend}#`)) continue;
      if (v.migration_status === 'starting' || v.migration_status === 'migrating')
        await this.volumes.update(v.id, { migration_status: 'error', ...this.restored(v) });
      else if (v.migration_status?.startsWith('target:') && v.status !== VolumeStatus.DELETING) {
        const source = await this.volumes.get(v.migration_status.slice('target:'.length));
        if (source?.migration_status === 'migrating' || source?.migration_status === 'error' || !source)
          await this.deleteVolume(v.id);
      }
    }
  }
}
