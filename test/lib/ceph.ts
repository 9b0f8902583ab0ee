// A private one-node Ceph (Debian's 16.2) for tests: 1 monitor, 1 manager and 1 BlueStore OSD on a
// sparse file, pool size 1, on 127.0.0.1 with free ports. Everything (conf, keyrings, daemon data,
// logs, sockets) lives in one temporary work directory that clients reach through `CEPH_CONF`;
// `stop()` kills every daemon (by its own pid) and removes the directory.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const TOOLS = ['/usr/bin/ceph-mon', '/usr/bin/ceph-osd', '/usr/bin/ceph-mgr', '/usr/bin/ceph', '/usr/bin/rbd'];

/** Why a test Ceph cannot run here (undefined when it can). */
export function cephUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (a private Ceph cluster)';
  const missing = TOOLS.filter((t) => !fs.existsSync(t));
  if (missing.length)
    return `Ceph is not installed (${missing.join(', ')} missing): apt-get install ceph-mon ceph-osd ceph-mgr ceph-common (CI installs them)`;
  return undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
    s.once('error', reject);
  });
}

export interface TestCephOptions {
  /** The RBD pool made for volumes (default 'volumes'). */
  pool?: string;
  /** The client made for the volume driver, with `profile rbd` on the pool (default 'cinder'). */
  user?: string;
  /** The OSD's sparse file size in GiB (default 20). */
  osdGb?: number;
}

export class TestCeph {
  readonly dir: string;
  readonly conf: string;
  readonly pool: string;
  readonly user: string;
  /** The monitor's msgr1 port (the one Cinder's connection info names) and its msgr2 port. */
  monPort = 0;
  monPortV2 = 0;
  fsid = randomUUID();
  /** Seconds from start() to all placement groups active+clean. */
  bootSeconds = 0;
  private procs: ChildProcess[] = [];
  private osdGb: number;

  constructor(o: TestCephOptions = {}) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-ceph-'));
    this.conf = path.join(this.dir, 'ceph.conf');
    this.pool = o.pool ?? 'volumes';
    this.user = o.user ?? 'cinder';
    this.osdGb = o.osdGb ?? 20;
  }

  /** The environment that points the `ceph`/`rbd`/`qemu-img` tools at this cluster. */
  get env(): NodeJS.ProcessEnv {
    return { ...process.env, CEPH_CONF: this.conf };
  }

  /** The keyring of the volume driver's client. */
  get keyring(): string {
    return path.join(this.dir, `ceph.client.${this.user}.keyring`);
  }

  private async tool(cmd: string, args: string[]): Promise<string> {
    try {
      return (await run(cmd, args, { env: this.env, timeout: 120_000, maxBuffer: 16 << 20 })).stdout;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`${cmd} ${args.join(' ')}: ${e.stderr?.trim() || e.message}`);
    }
  }

  /** `ceph ...` as client.admin. */
  ceph(...args: string[]) {
    return this.tool('ceph', args);
  }

  private daemon(cmd: string, args: string[], name: string) {
    const out = fs.openSync(path.join(this.dir, 'log', `${name}.out`), 'a');
    const p = spawn(cmd, ['-f', ...args], { env: this.env, stdio: ['ignore', out, out] });
    fs.closeSync(out);
    this.procs.push(p);
    return p;
  }

  /** Bootstraps the cluster and waits until every placement group is active+clean. */
  async start(timeoutMs = 180_000) {
    const t0 = Date.now();
    const d = this.dir;
    for (const sub of ['run', 'log', 'mon/ceph-a', 'mgr/ceph-x', 'osd/ceph-0'])
      fs.mkdirSync(path.join(d, sub), { recursive: true });
    this.monPort = await freePort();
    this.monPortV2 = await freePort();
    const addrs = `[v2:127.0.0.1:${this.monPortV2},v1:127.0.0.1:${this.monPort}]`;
    fs.writeFileSync(
      this.conf,
      [
        '[global]',
        `fsid = ${this.fsid}`,
        `mon_host = ${addrs}`,
        'public_addr = 127.0.0.1',
        'cluster_addr = 127.0.0.1',
        'auth_cluster_required = cephx',
        'auth_service_required = cephx',
        'auth_client_required = cephx',
        'auth_allow_insecure_global_id_reclaim = false',
        `run_dir = ${d}/run`,
        `admin_socket = ${d}/run/$cluster-$name.asok`,
        `log_file = ${d}/log/$cluster-$name.log`,
        `mon_data = ${d}/mon/$cluster-$id`,
        `mgr_data = ${d}/mgr/$cluster-$id`,
        `osd_data = ${d}/osd/$cluster-$id`,
        `keyring = ${d}/$cluster.$name.keyring`,
        'osd_pool_default_size = 1',
        'osd_pool_default_min_size = 1',
        'osd_pool_default_pg_num = 8',
        'osd_pool_default_pgp_num = 8',
        'osd_pool_default_pg_autoscale_mode = off',
        'osd_crush_chooseleaf_type = 0',
        'mon_allow_pool_size_one = true',
        'mon_allow_pool_delete = true',
        'mon_warn_on_pool_no_redundancy = false',
        'mon_data_avail_warn = 1',
        'mon_data_avail_crit = 0',
        'osd_objectstore = bluestore',
        'bluestore_block_create = true',
        `bluestore_block_size = ${this.osdGb * 1024 ** 3}`,
        'bluestore_fsck_on_mkfs = false',
        'osd_memory_target = 939524096',
        'mgr_initial_modules = ',
        '',
        '[mon]',
        'keyring = $mon_data/keyring',
        '[mgr]',
        'keyring = $mgr_data/keyring',
        '[osd]',
        'keyring = $osd_data/keyring',
        `bluestore_block_path = ${d}/osd/$cluster-$id.img`,
        '',
      ].join('\n'),
    );
    const monKeyring = path.join(d, 'mon.keyring');
    const adminKeyring = path.join(d, 'ceph.client.admin.keyring');
    await this.tool('ceph-authtool', [
      '--create-keyring',
      monKeyring,
      '--gen-key',
      '-n',
      'mon.',
      '--cap',
      'mon',
      'allow *',
    ]);
    await this.tool('ceph-authtool', [
      '--create-keyring',
      adminKeyring,
      '--gen-key',
      '-n',
      'client.admin',
      ...['--cap', 'mon', 'allow *', '--cap', 'osd', 'allow *', '--cap', 'mgr', 'allow *', '--cap', 'mds', 'allow *'],
    ]);
    await this.tool('ceph-authtool', [monKeyring, '--import-keyring', adminKeyring]);
    const monmap = path.join(d, 'monmap');
    await this.tool('monmaptool', ['--create', '--addv', 'a', addrs, '--fsid', this.fsid, monmap]);
    await this.tool('ceph-mon', ['--mkfs', '-i', 'a', '--monmap', monmap, '--keyring', monKeyring]);
    this.daemon('ceph-mon', ['-i', 'a'], 'mon.a');
    // The monitor answers once it has formed its one-member quorum.
    await this.waitFor(
      async () => (await this.ceph('mon', 'stat').catch(() => '')).includes('quorum'),
      30_000,
      'ceph-mon',
    );

    await this.ceph(
      'auth',
      'get-or-create',
      'mgr.x',
      'mon',
      'allow profile mgr',
      'osd',
      'allow *',
      'mds',
      'allow *',
      '-o',
      path.join(d, 'mgr/ceph-x/keyring'),
    );
    this.daemon('ceph-mgr', ['-i', 'x'], 'mgr.x');

    const osdUuid = randomUUID();
    const id = (await this.ceph('osd', 'new', osdUuid)).trim();
    const osdDir = path.join(d, `osd/ceph-${id}`);
    fs.mkdirSync(osdDir, { recursive: true });
    await this.ceph(
      'auth',
      'get-or-create',
      `osd.${id}`,
      ...['mon', 'allow profile osd', 'mgr', 'allow profile osd', 'osd', 'allow *'],
      '-o',
      path.join(osdDir, 'keyring'),
    );
    await this.tool('ceph-osd', ['-i', id, '--mkfs', '--osd-uuid', osdUuid]);
    this.daemon('ceph-osd', ['-i', id], `osd.${id}`);

    await this.ceph('osd', 'pool', 'create', this.pool, '8', '8');
    await this.tool('rbd', ['pool', 'init', this.pool]);
    await this.ceph(
      'auth',
      'get-or-create',
      `client.${this.user}`,
      ...['mon', 'profile rbd', 'osd', `profile rbd pool=${this.pool}`, 'mgr', `profile rbd pool=${this.pool}`],
      '-o',
      this.keyring,
    );
    await this.waitFor(async () => this.clean(), timeoutMs, 'placement groups active+clean');
    this.bootSeconds = (Date.now() - t0) / 1000;
  }

  private async clean(): Promise<boolean> {
    const s = JSON.parse(await this.ceph('status', '--format', 'json').catch(() => '{}')) as {
      osdmap?: { num_up_osds?: number; osdmap?: { num_up_osds?: number } };
      pgmap?: { num_pgs?: number; pgs_by_state?: Array<{ state_name: string; count: number }> };
    };
    const up = s.osdmap?.num_up_osds ?? s.osdmap?.osdmap?.num_up_osds ?? 0;
    const pgs = s.pgmap?.num_pgs ?? 0;
    const clean = (s.pgmap?.pgs_by_state ?? [])
      .filter((x) => x.state_name === 'active+clean')
      .reduce((n, x) => n + x.count, 0);
    return up >= 1 && pgs > 0 && clean === pgs;
  }

  private async waitFor(ok: () => Promise<boolean>, ms: number, what: string) {
    const deadline = Date.now() + ms;
    for (;;) {
      const dead = this.procs.find((p) => p.exitCode !== null || p.signalCode !== null);
      if (dead) {
        const tail = fs
          .readdirSync(path.join(this.dir, 'log'))
          .map((f) => `${f}: ${fs.readFileSync(path.join(this.dir, 'log', f), 'utf8').slice(-800)}`)
          .join('\n');
        throw new Error(`a Ceph daemon (${dead.spawnargs.join(' ')}) exited while waiting for ${what}:\n${tail}`);
      }
      if (await ok()) return;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** The resident memory of the daemons, in MiB. */
  memoryMiB(): number {
    let kb = 0;
    for (const p of this.procs) {
      try {
        const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p.pid}/status`, 'utf8'));
        if (m) kb += Number(m[1]);
      } catch {
        /* exited */
      }
    }
    return Math.round(kb / 1024);
  }

  /** Kills every daemon it started and removes the work directory. */
  async stop() {
    await Promise.all(
      this.procs.map(async (p) => {
        if (p.exitCode !== null || p.signalCode !== null) return;
        const gone = new Promise((r) => p.once('exit', r));
        p.kill('SIGKILL');
        await gone;
      }),
    );
    this.procs = [];
    fs.rmSync(this.dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
}
