// The `rbd` volume driver (cinder.volume.drivers.rbd.RBDDriver): volumes are RBD images
// `volume-<id>` in one Ceph pool, snapshots are protected RBD snapshots `snapshot-<id>`, a volume
// from a snapshot is a copy-on-write clone of it (flattened when the snapshot is deleted), and a clone of a volume is a clone of a fresh
// `<new volume>.clone_snap` snapshot of the source (flattened past `rbdMaxCloneDepth`). A volume
// whose clone snapshots still have children is renamed `volume-<id>.deleted` and removed with its
// last child, as Cinder does. Everything goes through the `rbd`/`ceph` tools (`--format json`)
// and `qemu-img` on `rbd:` URIs: no bytes pass through Node (there is no kernel RBD here).
// Its connection info is Cinder's (`driver_volume_type: 'rbd'`), for QEMU's own librbd.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { BackendStats, ConnectionInfo, DriverSnapshot, DriverVolume, LocalCopy, VolumeDriver } from './driver.ts';
import { SnapshotIsBusy, thinPoolStats } from './driver.ts';
import { ManageError } from './file.ts';

const run = promisify(execFile);
const GiB = 1024 ** 3;

export interface RbdDriverOptions {
  pool: string;
  /** The cephx client (without `client.`); empty: no auth named (librados' default, client.admin). */
  user: string;
  /** The ceph.conf path; empty: librados' default. */
  cephConf: string;
  /** A keyring path for the user; empty: the one ceph.conf names. */
  keyring: string;
  /** The libvirt secret holding the user's key on compute hosts (rbd_secret_uuid). */
  secretUuid: string | null;
  flattenVolumeFromSnapshot: boolean;
  maxCloneDepth: number;
  backendName: string;
  maxOverSubscriptionRatio: number;
  reservedPercentage: number;
  /** Where local copies for backups and restores are made (the volumes directory). */
  workDir: string;
}

/** An `rbd`/`ceph` call that failed, with its errno when the tool printed one. */
export class RbdError extends Error {
  constructor(
    message: string,
    readonly errno: number | null,
  ) {
    super(message);
  }
}

const ENOENT = 2;
const EBUSY = 16;
const EINVAL = 22;

interface RbdInfo {
  name: string;
  size: number;
  parent?: { pool: string; image: string; snapshot: string };
}

export class RbdDriver implements VolumeDriver {
  readonly name = 'rbd';
  /** Aborted by stop(): no command outlives the agent (a child left running keeps the process up). */
  private stopping = new AbortController();
  constructor(private o: RbdDriverOptions) {}

  private clientArgs(): string[] {
    const a: string[] = [];
    if (this.o.cephConf) a.push('--conf', this.o.cephConf);
    if (this.o.user) a.push('--id', this.o.user);
    if (this.o.keyring) a.push('--keyring', this.o.keyring);
    // librados waits forever for an unreachable monitor or OSD by default; Cinder's
    // rados_connect_timeout plays this part. Each operation, not the whole command, is bounded.
    a.push('--client_mount_timeout', '30', '--rados_mon_op_timeout', '60', '--rados_osd_op_timeout', '300');
    return a;
  }

  async stop() {
    this.stopping.abort();
  }

  private async tool(cmd: 'rbd' | 'ceph' | 'qemu-img', args: string[]): Promise<string> {
    const full = cmd === 'qemu-img' ? args : [...this.clientArgs(), ...args];
    try {
      return (await run(cmd, full, { timeout: 3_600_000, maxBuffer: 64 << 20, signal: this.stopping.signal })).stdout;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      const text = (e.stderr ?? '').trim() || e.message;
      // The tool's own verdict is its last "(N) Message" line; librados' earlier warnings
      // (a keyring not found: "(2) No such file ...") must not be taken for it.
      const verdicts = [...text.matchAll(/\((\d+)\) [A-Z][^\n]*$/gm)];
      const m = verdicts.at(-1) ?? /error \S+ ?\(?(\d+)\)?/.exec(text);
      throw new RbdError(`${cmd} ${args.join(' ')}: ${text.split('\n').slice(-3).join(' ')}`, m ? Number(m[1]) : null);
    }
  }

  private rbd(...args: string[]) {
    return this.tool('rbd', args);
  }

  private async json<T>(cmd: 'rbd' | 'ceph', ...args: string[]): Promise<T> {
    return JSON.parse(await this.tool(cmd, [...args, '--format', 'json'])) as T;
  }

  private spec(image: string, snap?: string) {
    return `${this.o.pool}/${image}${snap ? `@${snap}` : ''}`;
  }

  private static volName(id: string) {
    if (!/^[0-9a-f-]{36}$/.test(id)) throw new Error(`bad volume id ${id}`);
    return `volume-${id}`;
  }

  /** The image of a volume: its location's image name, else `volume-<id>`. */
  private imageOf(v: DriverVolume): string {
    const loc = v.provider_location;
    if (loc?.startsWith(`${this.o.pool}/`) && !loc.includes('@')) return loc.slice(this.o.pool.length + 1);
    return RbdDriver.volName(v.id);
  }

  /** The image and snapshot names of a snapshot. */
  private snapOf(s: DriverSnapshot): { image: string; snap: string } {
    const loc = s.provider_location;
    const m = loc ? /^([^/]+)\/([^@]+)@(.+)$/.exec(loc) : null;
    if (m && m[1] === this.o.pool) return { image: m[2], snap: m[3] };
    return { image: RbdDriver.volName(s.volume_id), snap: `snapshot-${s.id}` };
  }

  /** A qemu-img `rbd:` filename for an image, with the client's options. */
  private uri(image: string): string {
    const esc = (x: string) => x.replace(/([:@\\])/g, '\\$1');
    let u = `rbd:${esc(this.o.pool)}/${esc(image)}`;
    if (this.o.user) u += `:id=${esc(this.o.user)}`;
    if (this.o.cephConf) u += `:conf=${esc(this.o.cephConf)}`;
    if (this.o.keyring) u += `:keyring=${esc(this.o.keyring)}`;
    return u;
  }

  private async info(image: string): Promise<RbdInfo | null> {
    try {
      return await this.json<RbdInfo>('rbd', 'info', this.spec(image));
    } catch (err) {
      if (err instanceof RbdError && err.errno === ENOENT) return null;
      throw err;
    }
  }

  private async snaps(image: string): Promise<Array<{ name: string; protected: string }>> {
    return this.json('rbd', 'snap', 'ls', this.spec(image));
  }

  private async children(image: string, snap: string): Promise<Array<{ pool: string; image: string }>> {
    return this.json('rbd', 'children', this.spec(image, snap));
  }

  async setup() {
    // The pool must be reachable with the configured client: a clear error at start, not at the first create.
    await this.rbd('ls', '--pool', this.o.pool).catch((err: Error) => {
      throw new Error(`the rbd volume driver cannot reach pool '${this.o.pool}': ${err.message}`);
    });
  }

  private location(image: string) {
    return this.spec(image);
  }

  async createVolume(v: DriverVolume): Promise<string> {
    const image = RbdDriver.volName(v.id);
    await this.rbd('create', '--size', `${v.size * 1024}`, this.spec(image));
    return this.location(image);
  }

  /** Removes an unprotected-able snapshot; false when it still has children. */
  private async dropSnap(image: string, snap: string): Promise<boolean> {
    try {
      await this.rbd('snap', 'unprotect', this.spec(image, snap));
    } catch (err) {
      if (!(err instanceof RbdError)) throw err;
      if (err.errno === EBUSY) return false;
      if (err.errno === ENOENT) return true;
      // EINVAL: not protected; go on and remove it. Anything else is a real failure.
      if (err.errno !== EINVAL) throw err;
    }
    try {
      await this.rbd('snap', 'rm', this.spec(image, snap));
    } catch (err) {
      if (!(err instanceof RbdError && err.errno === ENOENT)) throw err;
    }
    return true;
  }

  async deleteVolume(v: DriverVolume) {
    const image = this.imageOf(v);
    const info = await this.info(image);
    if (!info) return;
    // A cascade delete casts the snapshots' deletes just before the volume's: give them a moment.
    let snaps = await this.snaps(image);
    const own = () => snaps.filter((s) => !s.name.endsWith('.clone_snap'));
    for (let i = 0; own().length && i < 60; i++) {
      await new Promise((r) => setTimeout(r, 500));
      snaps = await this.snaps(image);
    }
    if (own().length) throw new Error(`deleting volume ${image} that has snapshot`);
    // Clone snapshots whose clones still exist keep the image: renamed, removed with the last clone.
    let busy = false;
    for (const s of snaps) if (!(await this.dropSnap(image, s.name))) busy = true;
    if (busy) {
      await this.rbd('rename', this.spec(image), this.spec(`${image}.deleted`));
      return;
    }
    await this.removeImage(image);
    if (info.parent && info.parent.pool === this.o.pool)
      await this.dropParentRefs(info.parent.image, info.parent.snapshot);
  }

  private async removeImage(image: string) {
    try {
      await this.rbd('rm', '--no-progress', this.spec(image));
    } catch (err) {
      if (err instanceof RbdError && err.errno === ENOENT) return;
      if (err instanceof RbdError && err.errno === EBUSY)
        throw new Error(
          `ImageBusy error raised while deleting rbd volume ${image}: it is still open by a client (attached?).`,
        );
      throw err;
    }
  }

  /** After a clone went: its parent's clone snapshot, and a `.deleted` parent with nothing left. */
  private async dropParentRefs(image: string, snap: string) {
    if (!snap.endsWith('.clone_snap') && !image.endsWith('.deleted')) return;
    if (snap.endsWith('.clone_snap') && !(await this.dropSnap(image, snap))) return;
    if (!image.endsWith('.deleted')) return;
    const info = await this.info(image);
    if (!info || (await this.snaps(image)).length) return;
    await this.removeImage(image);
    if (info.parent && info.parent.pool === this.o.pool)
      await this.dropParentRefs(info.parent.image, info.parent.snapshot);
  }

  async extendVolume(v: DriverVolume, newSize: number) {
    await this.rbd('resize', '--no-progress', '--size', `${newSize * 1024}`, this.spec(this.imageOf(v)));
  }

  async createSnapshot(s: DriverSnapshot, v: DriverVolume): Promise<string> {
    const image = this.imageOf(v);
    const snap = `snapshot-${s.id}`;
    await this.rbd('snap', 'create', this.spec(image, snap));
    await this.rbd('snap', 'protect', this.spec(image, snap));
    return this.spec(image, snap);
  }

  async deleteSnapshot(s: DriverSnapshot) {
    const { image, snap } = this.snapOf(s);
    if (!(await this.info(image))) return;
    if (await this.dropSnap(image, snap)) return;
    // Volumes cloned from it are flattened first (as Cinder's RBD driver does, so that a cascade
    // delete of their source goes through); one that cannot be leaves the snapshot busy.
    for (const child of await this.children(image, snap)) {
      if (child.pool !== this.o.pool) continue;
      await this.rbd('flatten', '--no-progress', this.spec(child.image)).catch((err: Error) => {
        throw new SnapshotIsBusy(`${snap} (${child.image}: ${err.message})`);
      });
    }
    if (!(await this.dropSnap(image, snap))) throw new SnapshotIsBusy(snap);
  }

  private async growTo(image: string, size: number) {
    const info = await this.info(image);
    if (info && info.size < size * GiB)
      await this.rbd('resize', '--no-progress', '--size', `${size * 1024}`, this.spec(image));
  }

  async createVolumeFromSnapshot(v: DriverVolume, s: DriverSnapshot): Promise<string> {
    const { image, snap } = this.snapOf(s);
    const dest = RbdDriver.volName(v.id);
    await this.rbd('clone', this.spec(image, snap), this.spec(dest));
    try {
      if (this.o.flattenVolumeFromSnapshot) await this.rbd('flatten', '--no-progress', this.spec(dest));
      await this.growTo(dest, v.size);
    } catch (err) {
      await this.removeImage(dest).catch(() => undefined);
      throw err;
    }
    return this.location(dest);
  }

  /** How many clone parents an image has above it. */
  private async depth(image: string): Promise<number> {
    let n = 0;
    let info = await this.info(image);
    while (info?.parent && n < 64) {
      n++;
      info = info.parent.pool === this.o.pool ? await this.info(info.parent.image) : null;
    }
    return n;
  }

  async createClonedVolume(v: DriverVolume, src: DriverVolume): Promise<string> {
    const source = this.imageOf(src);
    const dest = RbdDriver.volName(v.id);
    if (this.o.maxCloneDepth <= 0) {
      // No layering: a full copy.
      await this.rbd('cp', '--no-progress', this.spec(source), this.spec(dest));
      await this.growTo(dest, v.size);
      return this.location(dest);
    }
    const snap = `${dest}.clone_snap`;
    await this.rbd('snap', 'create', this.spec(source, snap));
    await this.rbd('snap', 'protect', this.spec(source, snap));
    try {
      await this.rbd('clone', this.spec(source, snap), this.spec(dest));
      if ((await this.depth(source)) + 1 >= this.o.maxCloneDepth) {
        await this.rbd('flatten', '--no-progress', this.spec(dest));
        await this.dropSnap(source, snap);
      }
      await this.growTo(dest, v.size);
    } catch (err) {
      await this.removeImage(dest).catch(() => undefined);
      await this.dropSnap(source, snap).catch(() => undefined);
      throw err;
    }
    return this.location(dest);
  }

  async copyImageToVolume(v: DriverVolume, imageFile: string, format: string): Promise<string> {
    const dest = RbdDriver.volName(v.id);
    // qemu-img makes the image at the source's virtual size; the volume is then grown to its own.
    await this.tool('qemu-img', ['convert', '-q', '-f', format, '-O', 'raw', imageFile, this.uri(dest)]);
    try {
      await this.growTo(dest, v.size);
    } catch (err) {
      await this.removeImage(dest).catch(() => undefined);
      throw err;
    }
    return this.location(dest);
  }

  async copyVolumeToImage(v: DriverVolume, outFile: string, format: string) {
    await this.tool('qemu-img', ['convert', '-q', '-f', 'raw', '-O', format, this.uri(this.imageOf(v)), outFile]);
  }

  localPath(v: DriverVolume): string {
    throw new Error(`the rbd driver has no local path for volume ${v.id} (use localCopy)`);
  }

  /**
   * For the backup agent: a sparse raw copy of the image in the work directory (`read`), or a
   * sparse blank file whose content `commit()` writes over the image, zeros included (`write`).
   */
  async localCopy(v: DriverVolume, mode: 'read' | 'write'): Promise<LocalCopy> {
    await fs.promises.mkdir(this.o.workDir, { recursive: true });
    const dir = await fs.promises.mkdtemp(path.join(this.o.workDir, 'rbd-'));
    const file = path.join(dir, 'volume.raw');
    const release = () => fs.promises.rm(dir, { recursive: true, force: true });
    const image = this.imageOf(v);
    try {
      if (mode === 'read')
        await this.tool('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'raw', this.uri(image), file]);
      else {
        const info = await this.info(image);
        if (!info) throw new Error(`volume ${image} is not in pool ${this.o.pool}`);
        await fs.promises.writeFile(file, '');
        await fs.promises.truncate(file, info.size);
      }
    } catch (err) {
      await release();
      throw err;
    }
    return {
      path: file,
      commit: async () => {
        if (mode === 'write')
          await this.tool('qemu-img', ['convert', '-q', '-n', '-f', 'raw', '-O', 'raw', file, this.uri(image)]);
      },
      release,
    };
  }

  async revertToSnapshot(v: DriverVolume, s: DriverSnapshot) {
    const { image, snap } = this.snapOf(s);
    await this.rbd('snap', 'rollback', '--no-progress', this.spec(image, snap));
    await this.growTo(image, v.size);
  }

  /** An image of the pool that no volume owns (a `source-name` reference). */
  private refName(ref: Record<string, unknown>): string {
    const name = ref['source-name'];
    if (typeof name !== 'string' || !name || /[/@\s]/.test(name))
      throw new ManageError(
        `Manage existing volume failed due to invalid backend reference ${JSON.stringify(ref)}: source-name must name an RBD image of pool ${this.o.pool}.`,
      );
    return name;
  }

  async manageExisting(v: DriverVolume, ref: Record<string, unknown>) {
    const name = this.refName(ref);
    const info = await this.info(name);
    if (!info)
      throw new ManageError(
        `Manage existing volume failed due to invalid backend reference ${JSON.stringify(ref)}: no such image.`,
      );
    const dest = RbdDriver.volName(v.id);
    if (name !== dest) await this.rbd('rename', this.spec(name), this.spec(dest));
    return { location: this.location(dest), size: Math.max(1, Math.ceil(info.size / GiB)) };
  }

  async manageExistingSnapshot(s: DriverSnapshot, ref: Record<string, unknown>) {
    const name = this.refName(ref);
    const image = RbdDriver.volName(s.volume_id);
    const snaps = await this.json<Array<{ name: string; size: number; protected: string }>>(
      'rbd',
      'snap',
      'ls',
      this.spec(image),
    ).catch(() => []);
    const found = snaps.find((x) => x.name === name);
    if (!found)
      throw new ManageError(
        `Manage existing snapshot failed due to invalid backend reference ${JSON.stringify(ref)}: no such snapshot of ${image}.`,
      );
    const dest = `snapshot-${s.id}`;
    if (name !== dest) await this.rbd('snap', 'rename', this.spec(image, name), this.spec(image, dest));
    if (found.protected !== 'true') await this.rbd('snap', 'protect', this.spec(image, dest));
    return { location: this.spec(image, dest), size: Math.max(1, Math.ceil(found.size / GiB)) };
  }

  async listExisting(kind: 'volume' | 'snapshot') {
    const rows = await this.json<Array<{ image: string; snapshot?: string; size: number }>>(
      'rbd',
      'ls',
      '-l',
      '--pool',
      this.o.pool,
    );
    return rows
      .filter((r) => (kind === 'snapshot' ? !!r.snapshot && !r.snapshot.endsWith('.clone_snap') : !r.snapshot))
      .filter((r) => !r.image.endsWith('.deleted'))
      .map((r) => ({ name: kind === 'snapshot' ? r.snapshot! : r.image, size: Math.max(1, Math.ceil(r.size / GiB)) }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The monitors' legacy (msgr1) addresses, as Cinder's `_get_mon_addrs` answers them. */
  private async monitors(): Promise<{ hosts: string[]; ports: string[] }> {
    const dump = await this.json<{
      mons: Array<{ addr?: string; public_addrs?: { addrvec?: Array<{ type: string; addr: string }> } }>;
    }>('ceph', 'mon', 'dump');
    const hosts: string[] = [];
    const ports: string[] = [];
    for (const m of dump.mons) {
      const v1 = m.public_addrs?.addrvec?.find((a) => a.type === 'v1')?.addr ?? m.addr?.replace(/\/\d+$/, '');
      const mm = v1 ? /^\[?([^\]]+?)\]?:(\d+)$/.exec(v1) : null;
      if (!mm) continue;
      hosts.push(mm[1]);
      ports.push(mm[2]);
    }
    return { hosts, ports };
  }

  async initializeConnection(v: DriverVolume): Promise<ConnectionInfo> {
    const { hosts, ports } = await this.monitors();
    return {
      driver_volume_type: 'rbd',
      data: {
        name: this.spec(this.imageOf(v)),
        hosts,
        ports,
        cluster_name: 'ceph',
        auth_enabled: !!this.o.user,
        auth_username: this.o.user || null,
        secret_type: 'ceph',
        secret_uuid: this.o.secretUuid,
        volume_id: v.id,
        discard: true,
        access_mode: 'rw',
      },
    };
  }

  async terminateConnection() {}

  async stats(allocatedGb: number): Promise<BackendStats> {
    let total = 0;
    let free = 0;
    try {
      const df = await this.json<{
        pools: Array<{ name: string; stats: { stored?: number; bytes_used: number; max_avail: number } }>;
      }>('ceph', 'df');
      const p = df.pools.find((x) => x.name === this.o.pool);
      if (p) {
        free = p.stats.max_avail / GiB;
        total = ((p.stats.stored ?? p.stats.bytes_used) + p.stats.max_avail) / GiB;
      }
    } catch {
      /* the cluster is unreachable: report no capacity (the scheduler then picks nothing here) */
    }
    const r2 = (x: number) => Math.round(x * 100) / 100;
    return {
      volume_backend_name: this.o.backendName,
      vendor_name: 'Open Source',
      driver_version: '1.2.0',
      storage_protocol: 'ceph',
      pools: [thinPoolStats(this.o, { total: r2(total), free: r2(free), allocatedGb })],
    };
  }
}
