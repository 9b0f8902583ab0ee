// The `iscsi` volume driver (Cinder's LVM driver with the tgt target helper, minus LVM, which
// these machines lack): the volumes are the file driver's sparse raw files, and each attached
// volume is exported by tgt (the userspace iSCSI target) as LUN 1 of a target of its own,
// `<prefix>volume-<id>`, with CHAP credentials, so that a compute host other than the volume host
// reaches it (QEMU's own iSCSI initiator; the kernel initiator does not work here).
//
// The target is made when a connector is given (initialize_connection / attachment update) and
// removed on terminate_connection once no other attachment holds a connector (multiattach).
// tgtd has no init system here: the driver starts it on its own management channel
// (`tgtd -C <n>`, `tgtadm -C <n>`) with its portal (`--iscsi portal=ip:port`) when none answers,
// and stops it on `stop()` only when it started it.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { BackendStats, ConnectionInfo, DriverVolume } from './driver.ts';
import { FileDriver, type FileDriverOptions } from './file.ts';

const run = promisify(execFile);

export interface IscsiDriverOptions extends Omit<FileDriverOptions, 'format'> {
  /** The portal address compute hosts reach (target_ip_address). */
  ip: string;
  /** The portal's TCP port (target_port). */
  port: number;
  /** tgtd's management channel (`-C`). */
  controlPort: number;
  /** CHAP credentials per target. */
  chap: boolean;
  /** The target name prefix (target_prefix). */
  targetPrefix: string;
  log?: (msg: string) => void;
}

/** The tgt LUN of a volume (LUN 0 is the target's controller). */
const LUN = 1;

export class IscsiDriver extends FileDriver {
  override readonly name: string = 'iscsi';
  private tgtd?: ChildProcess;
  private chapKey?: Buffer;
  /** tgtadm changes one at a time (target ids are allocated from what `show` lists). */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private io: IscsiDriverOptions) {
    super({ ...io, format: 'raw' });
  }

  private log(msg: string) {
    this.io.log?.(msg);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn, fn);
    this.queue = p.catch(() => undefined);
    return p;
  }

  private async adm(args: string[]): Promise<string> {
    const { stdout } = await run('tgtadm', ['-C', String(this.io.controlPort), '--lld', 'iscsi', ...args], {
      timeout: 30_000,
    });
    return stdout;
  }

  /** The targets tgtd serves: target name → tid. */
  private async targets(): Promise<Map<string, number>> {
    const out = await this.adm(['--mode', 'target', '--op', 'show']);
    const m = new Map<string, number>();
    for (const line of out.split('\n')) {
      const t = /^Target (\d+): (\S+)$/.exec(line);
      if (t) m.set(t[2]!, Number(t[1]));
    }
    return m;
  }

  private async tgtdAnswers(): Promise<boolean> {
    try {
      await this.adm(['--mode', 'target', '--op', 'show']);
      return true;
    } catch {
      return false;
    }
  }

  override async setup() {
    await super.setup();
    const keyFile = path.join(this.io.dir, '.iscsi-chap-key');
    try {
      this.chapKey = await fs.promises.readFile(keyFile);
    } catch {
      const key = randomBytes(32);
      await fs.promises.writeFile(keyFile, key, { mode: 0o600, flag: 'wx' }).catch(() => undefined);
      this.chapKey = await fs.promises.readFile(keyFile);
    }
    if (await this.tgtdAnswers()) {
      this.log(`tgtd already answers on management channel ${this.io.controlPort}: using it`);
      return;
    }
    const portal = `${this.io.ip}:${this.io.port}`;
    this.log(
      `no tgtd on management channel ${this.io.controlPort} (no init system starts it): starting one, portal ${portal}`,
    );
    let stderr = '';
    const child = spawn('tgtd', ['-f', '-C', String(this.io.controlPort), '--iscsi', `portal=${portal}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr?.on('data', (d: Buffer) => {
      if (stderr.length < 4096) stderr += d.toString();
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.once('error', () => undefined);
    this.tgtd = child;
    for (let i = 0; i < 100; i++) {
      if (child.exitCode !== null || child.signalCode !== null) break;
      if (await this.tgtdAnswers()) {
        // tgtd answers before its portal listens when the port is taken: it then logs the failure.
        await new Promise((r) => setTimeout(r, 100));
        if (/can't bind|Address already in use/i.test(stderr)) break;
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    this.tgtd = undefined;
    await this.removeSockets();
    throw new Error(
      `tgtd did not start on portal ${portal}: ${stderr.trim() || 'no answer on its management channel'}`,
    );
  }

  private async removeSockets() {
    const base = `/var/run/tgtd/socket.${this.io.controlPort}`;
    await fs.promises.rm(base, { force: true });
    await fs.promises.rm(`${base}.lock`, { force: true });
    await fs.promises.rmdir('/var/run/tgtd').catch(() => undefined); // only when empty
  }

  /** Stops the tgtd this driver started (its targets go with it); leaves one it found running. */
  async stop() {
    const child = this.tgtd;
    if (!child) return;
    this.tgtd = undefined;
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    await this.adm(['--mode', 'system', '--op', 'delete', '--force']).catch(() => undefined);
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    await this.removeSockets();
    this.log('tgtd stopped');
  }

  /**
   * The target of a volume is named after its file (`volume-<id>`), as Cinder's LVM driver names
   * it after the logical volume: after the migration of an attached volume the volume's row has
   * the copy's file, still exported under the copy's name, and the copy's row the old one's.
   */
  private nameOf(v: { id: string; provider_location?: string | null }) {
    const base = v.provider_location ? path.basename(v.provider_location) : '';
    return /^volume-[0-9a-f-]{36}$/.test(base) ? base.slice('volume-'.length) : v.id;
  }

  iqnOf(v: { id: string; provider_location?: string | null }) {
    return `${this.io.targetPrefix}volume-${this.nameOf(v)}`;
  }

  /** The CHAP credentials of a volume's target: stable (derived from the backend's key), never stored. */
  private chapOf(v: { id: string; provider_location?: string | null }) {
    if (!this.chapKey) throw new Error('the iscsi driver is not set up');
    const name = this.nameOf(v);
    const h = (what: string) => createHmac('sha256', this.chapKey!).update(`${what}:${name}`).digest('hex');
    return { username: `u${h('user').slice(0, 19)}`, password: h('password').slice(0, 16) };
  }

  /** The volume's target (made when absent); answers its tid. */
  private async export(v: DriverVolume): Promise<number> {
    const iqn = this.iqnOf(v);
    const targets = await this.targets();
    const have = targets.get(iqn);
    if (have !== undefined) return have;
    const tid = Math.max(0, ...targets.values()) + 1;
    await this.adm(['--mode', 'target', '--op', 'new', '--tid', String(tid), '--targetname', iqn]);
    try {
      await this.newLun(tid, v);
      await this.adm(['--mode', 'target', '--op', 'bind', '--tid', String(tid), '--initiator-address', 'ALL']);
      if (this.io.chap) {
        const { username, password } = this.chapOf(v);
        await this.adm(['--mode', 'account', '--op', 'delete', '--user', username]).catch(() => undefined);
        await this.adm(['--mode', 'account', '--op', 'new', '--user', username, '--password', password]);
        await this.adm(['--mode', 'account', '--op', 'bind', '--tid', String(tid), '--user', username]);
      }
    } catch (err) {
      await this.unexport(v).catch(() => undefined);
      throw err;
    }
    this.log(`exported volume ${v.id} as ${iqn} (tid ${tid})`);
    return tid;
  }

  /** Makes the volume's LUN in target `tid` (tgt reads the backing file's size at this moment). */
  private async newLun(tid: number, v: DriverVolume) {
    const lun = ['--tid', String(tid), '--lun', String(LUN)];
    await this.adm(['--mode', 'logicalunit', '--op', 'new', ...lun, '--backing-store', this.localPath(v)]);
  }

  private async unexport(v: { id: string; provider_location?: string | null }) {
    const tid = (await this.targets()).get(this.iqnOf(v));
    if (tid !== undefined) {
      await this.adm(['--mode', 'target', '--op', 'delete', '--force', '--tid', String(tid)]);
      this.log(`removed target ${this.iqnOf(v)} (tid ${tid})`);
    }
    if (this.io.chap)
      await this.adm(['--mode', 'account', '--op', 'delete', '--user', this.chapOf(v).username]).catch(() => undefined);
  }

  /** Whether tgt serves the volume now. */
  async exported(v: { id: string; provider_location?: string | null }): Promise<boolean> {
    return (await this.targets()).has(this.iqnOf(v));
  }

  override async initializeConnection(v: DriverVolume): Promise<ConnectionInfo> {
    await this.serial(() => this.export(v));
    const data: Record<string, unknown> = {
      target_discovered: false,
      target_portal: `${this.io.ip}:${this.io.port}`,
      target_iqn: this.iqnOf(v),
      target_lun: LUN,
      volume_id: v.id,
    };
    if (this.io.chap) {
      const { username, password } = this.chapOf(v);
      Object.assign(data, { auth_method: 'CHAP', auth_username: username, auth_password: password });
    }
    return { driver_volume_type: 'iscsi', data };
  }

  override async terminateConnection(v: DriverVolume, _connector: Record<string, unknown> | null, others = 0) {
    if (others > 0) return;
    await this.serial(() => this.unexport(v));
  }

  /** Puts back the target of an attached volume (after tgtd was restarted: Cinder's ensure_export). */
  async ensureExport(v: DriverVolume) {
    await this.serial(() => this.export(v));
  }

  override async deleteVolume(v: DriverVolume) {
    await this.serial(() => this.unexport(v));
    await super.deleteVolume(v);
  }

  override async extendVolume(v: DriverVolume, newSize: number) {
    await super.extendVolume(v, newSize);
    // tgt reads a LUN's size when it is made: an exported volume's LUN is made again (as
    // Cinder's tgt helper does on extend).
    await this.serial(async () => {
      const tid = (await this.targets()).get(this.iqnOf(v));
      if (tid === undefined) return;
      this.log(`making LUN ${LUN} of ${this.iqnOf(v)} again at ${newSize} GiB`);
      await this.adm(['--mode', 'logicalunit', '--op', 'delete', '--tid', String(tid), '--lun', String(LUN)]);
      await this.newLun(tid, v);
    });
  }

  override async stats(allocatedGb: number): Promise<BackendStats> {
    const s = await super.stats(allocatedGb);
    return { ...s, storage_protocol: 'iSCSI', vendor_name: 'Open Source' };
  }
}
