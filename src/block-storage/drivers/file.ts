// The `file` volume driver: each volume a sparse raw (or qcow2) file under the volumes directory,
// made and changed with qemu-img (or a plain sparse truncate for raw, which is what
// `qemu-img create -f raw` does). Snapshots and clones are sparse copies. Its connection info is
// the path (`{driver_volume_type: 'file', data: {device_path}}`), for compute agents on this host.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  type BackendStats,
  type ConnectionInfo,
  type DriverSnapshot,
  type DriverVolume,
  thinPoolStats,
  type VolumeDriver,
} from './driver.ts';

const run = promisify(execFile);
const GiB = 1024 ** 3;

export interface FileDriverOptions {
  dir: string;
  format: 'raw' | 'qcow2';
  backendName: string;
  capacityGb: number;
  maxOverSubscriptionRatio: number;
  reservedPercentage: number;
}

/** A reference the driver cannot take over (Cinder's ManageExistingInvalidReference). */
export class ManageError extends Error {}

export class FileDriver implements VolumeDriver {
  readonly name: string = 'file';
  constructor(private o: FileDriverOptions) {}

  async setup() {
    await fs.promises.mkdir(this.o.dir, { recursive: true });
  }

  private pathOf(kind: 'volume' | 'snapshot', id: string) {
    if (!/^[0-9a-f-]{36}$/.test(id)) throw new Error(`bad ${kind} id ${id}`);
    return path.join(this.o.dir, `${kind}-${id}`);
  }

  private where(v: DriverVolume): string {
    return v.provider_location ?? this.pathOf('volume', v.id);
  }

  async createVolume(v: DriverVolume): Promise<string> {
    const p = this.pathOf('volume', v.id);
    if (this.o.format === 'qcow2') await run('qemu-img', ['create', '-q', '-f', 'qcow2', p, `${v.size}G`]);
    else {
      const fh = await fs.promises.open(p, 'wx');
      try {
        await fh.truncate(v.size * GiB);
      } finally {
        await fh.close();
      }
    }
    return p;
  }

  async deleteVolume(v: DriverVolume) {
    await fs.promises.rm(this.where(v), { force: true });
  }

  async extendVolume(v: DriverVolume, newSize: number) {
    const p = this.where(v);
    if (this.o.format === 'qcow2') await run('qemu-img', ['resize', '-q', p, `${newSize}G`]);
    else await fs.promises.truncate(p, newSize * GiB);
  }

  private async copy(from: string, to: string) {
    // A sparse copy (a reflink where the filesystem has them).
    await run('cp', ['--sparse=always', '--reflink=auto', from, to]);
  }

  async createSnapshot(s: DriverSnapshot, v: DriverVolume): Promise<string> {
    const p = this.pathOf('snapshot', s.id);
    await this.copy(this.where(v), p);
    return p;
  }

  async deleteSnapshot(s: DriverSnapshot) {
    await fs.promises.rm(s.provider_location ?? this.pathOf('snapshot', s.id), { force: true });
  }

  async createVolumeFromSnapshot(v: DriverVolume, s: DriverSnapshot): Promise<string> {
    const p = this.pathOf('volume', v.id);
    await this.copy(s.provider_location ?? this.pathOf('snapshot', s.id), p);
    if (v.size > s.volume_size) await this.extendVolume({ ...v, provider_location: p }, v.size);
    return p;
  }

  async createClonedVolume(v: DriverVolume, src: DriverVolume): Promise<string> {
    const p = this.pathOf('volume', v.id);
    await this.copy(this.where(src), p);
    if (v.size > src.size) await this.extendVolume({ ...v, provider_location: p }, v.size);
    return p;
  }

  rawImageTarget(v: DriverVolume, format: string): string | null {
    return format === 'raw' && this.o.format === 'raw' ? this.pathOf('volume', v.id) : null;
  }

  async copyImageToVolume(v: DriverVolume, imageFile: string, format: string): Promise<string> {
    const p = this.pathOf('volume', v.id);
    // -W: qemu-img's coroutines write out of order (Cinder passes it too where it may).
    await run('qemu-img', ['convert', '-q', '-W', '-f', format, '-O', this.o.format, imageFile, p]);
    // The volume is its own size, not the image's.
    const info = JSON.parse((await run('qemu-img', ['info', '--output=json', p])).stdout) as { 'virtual-size': number };
    if (info['virtual-size'] < v.size * GiB) await this.extendVolume({ ...v, provider_location: p }, v.size);
    return p;
  }

  async copyVolumeToImage(v: DriverVolume, outFile: string, format: string) {
    await run('qemu-img', ['convert', '-q', '-f', this.o.format, '-O', format, this.where(v), outFile]);
  }

  localPath(v: DriverVolume): string {
    return this.where(v);
  }

  async revertToSnapshot(v: DriverVolume, s: DriverSnapshot) {
    const p = this.where(v);
    const tmp = `${p}.revert`;
    await this.copy(s.provider_location ?? this.pathOf('snapshot', s.id), tmp);
    await fs.promises.rename(tmp, p);
    if (v.size > s.volume_size) await this.extendVolume(v, v.size);
  }

  /** The file a `source-name` reference names: a plain name inside the volumes directory. */
  private refPath(ref: Record<string, unknown>): string {
    const name = ref['source-name'];
    if (typeof name !== 'string' || !name || name.includes('/') || name === '.' || name === '..')
      throw new ManageError(
        `Manage existing volume failed due to invalid backend reference ${JSON.stringify(ref)}: source-name must name a file of the backend.`,
      );
    return path.join(this.o.dir, name);
  }

  private async sizeOf(p: string): Promise<number> {
    let bytes: number;
    if (this.o.format === 'qcow2') {
      const info = JSON.parse((await run('qemu-img', ['info', '--output=json', p])).stdout) as {
        'virtual-size': number;
      };
      bytes = info['virtual-size'];
    } else bytes = (await fs.promises.stat(p)).size;
    return Math.max(1, Math.ceil(bytes / GiB));
  }

  private async adopt(ref: Record<string, unknown>, to: string): Promise<{ location: string; size: number }> {
    const from = this.refPath(ref);
    const st = await fs.promises.stat(from).catch(() => null);
    if (!st?.isFile())
      throw new ManageError(
        `Manage existing volume failed due to invalid backend reference ${JSON.stringify(ref)}: no such file.`,
      );
    const size = await this.sizeOf(from);
    if (from !== to) await fs.promises.rename(from, to);
    return { location: to, size };
  }

  async manageExisting(v: DriverVolume, ref: Record<string, unknown>) {
    return this.adopt(ref, this.pathOf('volume', v.id));
  }

  async manageExistingSnapshot(s: DriverSnapshot, ref: Record<string, unknown>) {
    return this.adopt(ref, this.pathOf('snapshot', s.id));
  }

  async listExisting(kind: 'volume' | 'snapshot') {
    const out: Array<{ name: string; size: number }> = [];
    const names = await fs.promises.readdir(this.o.dir).catch(() => [] as string[]);
    for (const name of names.sort()) {
      if (!name.startsWith(`${kind}-`) || name.endsWith('.revert')) continue;
      const size = await this.sizeOf(path.join(this.o.dir, name)).catch(() => null);
      if (size !== null) out.push({ name, size });
    }
    return out;
  }

  async initializeConnection(v: DriverVolume): Promise<ConnectionInfo> {
    return {
      driver_volume_type: 'file',
      data: { device_path: this.where(v), format: this.o.format, volume_id: v.id, access_mode: 'rw' },
    };
  }

  async terminateConnection(_v: DriverVolume, _connector: Record<string, unknown> | null, _others?: number) {}

  async stats(allocatedGb: number): Promise<BackendStats> {
    const total = this.o.capacityGb;
    let used = 0;
    try {
      for (const f of await fs.promises.readdir(this.o.dir)) {
        const st = await fs.promises.stat(path.join(this.o.dir, f)).catch(() => null);
        if (st) used += st.blocks * 512;
      }
    } catch {
      /* no directory yet */
    }
    return {
      volume_backend_name: this.o.backendName,
      vendor_name: 'Open Source',
      driver_version: '1.0.0',
      storage_protocol: 'file',
      pools: [
        thinPoolStats(this.o, {
          total,
          free: Math.max(0, Math.round((total - used / GiB) * 100) / 100),
          allocatedGb,
        }),
      ],
    };
  }
}
