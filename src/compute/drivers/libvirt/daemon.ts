// Debian's libvirtd and virtlogd, one pair per Stratus host, started where no init system does:
// inside the host's network namespace (`ip netns exec stratus-host-<host>`), whose private
// mount namespace gets the cgroup v1 controllers (ip netns exec remounts /sys and hides them)
// and its own /run/libvirt, /var/lib/libvirt and /etc/libvirt/qemu (bind mounts of per-host
// directories), so that two hosts on one machine are two hypervisors. Reached over its socket:
// qemu+unix:///system?socket=/run/stratus/<host>/libvirt/libvirt-sock.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ensureHostNamespace } from '../../../core/hostns.ts';
import { VirtError } from '../virt.ts';

const run = promisify(execFile);

/** The Debian packages the libvirt driver needs, by the program it runs. */
export const LIBVIRT_NEEDS: Record<string, string> = {
  '/usr/sbin/libvirtd': 'libvirt-daemon-system',
  '/usr/sbin/virtlogd': 'libvirt-daemon-system',
  '/usr/bin/virsh': 'libvirt-clients',
  '/usr/bin/qemu-system-x86_64': 'qemu-system-x86',
  '/usr/bin/qemu-img': 'qemu-utils',
  '/usr/bin/genisoimage': 'genisoimage',
  '/usr/sbin/ip': 'iproute2',
};

/** The Debian packages missing on this machine (empty: the driver can run). */
export function missingLibvirtPackages(): string[] {
  return [...new Set(Object.entries(LIBVIRT_NEEDS).flatMap(([f, p]) => (fs.existsSync(f) ? [] : [p])))];
}

const CGROUP_CONTROLLERS = ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids'];

/**
 * QEMU runs as root without DAC relabelling: instance directories may be anywhere (a test's
 * temporary data dir is 0700) and no AppArmor/SELinux exists on these machines.
 */
const QEMU_CONF = `# Written by Stratus for the libvirtd of one host.
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
namespaces = [ ]
`;

export interface LibvirtdOptions {
  host: string;
  /** Persistent per-host state (domain definitions, managed-save images). */
  stateDir: string;
  /** Where sockets and pid files go (default /run/stratus/<host>/libvirt). */
  runDir?: string;
  log?: (msg: string) => void;
}

/** Where the libvirtd of a host keeps its socket and pid files (default run directory). */
export const libvirtRunDir = (host: string) => path.join('/run/stratus', host, 'libvirt');
/** The URI of the libvirtd of a host on this machine (its default run directory). */
export const libvirtUri = (host: string) =>
  `qemu+unix:///system?socket=${path.join(libvirtRunDir(host), 'libvirt-sock')}`;

export class Libvirtd {
  readonly host: string;
  readonly runDir: string;
  readonly stateDir: string;
  namespace = '';
  /** This process started the daemons (and stops them in stop()). */
  started = false;
  private log: (msg: string) => void;

  constructor(o: LibvirtdOptions) {
    this.host = o.host;
    this.runDir = o.runDir ?? libvirtRunDir(o.host);
    this.stateDir = o.stateDir;
    this.log = o.log ?? (() => undefined);
  }

  get socket() {
    return path.join(this.runDir, 'libvirt-sock');
  }
  get uri() {
    return `qemu+unix:///system?socket=${this.socket}`;
  }
  /** Where libvirtd keeps managed-save images of this host (a suspended guest has one). */
  managedSavePath(domain: string) {
    return path.join(this.stateDir, 'lib', 'qemu', 'save', `${domain}.save`);
  }

  /** virsh against this host's libvirtd; stdout, or a VirtError with virsh's message. */
  async virsh(args: string[], timeoutMs = 120_000): Promise<string> {
    try {
      return (await run('virsh', ['-q', '-c', this.uri, ...args], { timeout: timeoutMs, maxBuffer: 1 << 24 })).stdout;
    } catch (e) {
      const err = e as Error & { stderr?: string };
      const msg = (err.stderr ?? err.message)
        .replace(/^error: /gm, '')
        .trim()
        .split('\n')
        .join(' ');
      throw new VirtError(`libvirt: virsh ${args[0]}: ${msg}`, false);
    }
  }

  async alive(): Promise<boolean> {
    if (!fs.existsSync(this.socket)) return false;
    return this.virsh(['version'], 10_000).then(
      () => true,
      () => false,
    );
  }

  /** Starts the host's virtlogd and libvirtd unless they answer already. */
  async ensure(): Promise<void> {
    this.namespace = await ensureHostNamespace(this.host);
    if (await this.alive()) return;
    const missing = missingLibvirtPackages();
    if (missing.length)
      throw new VirtError(`the libvirt driver needs the Debian packages: ${missing.join(' ')}`, false);
    const lib = path.join(this.stateDir, 'lib');
    const etcQemu = path.join(this.stateDir, 'etc-qemu');
    const conf = path.join(this.stateDir, 'qemu.conf');
    for (const d of [this.runDir, lib, etcQemu]) fs.mkdirSync(d, { recursive: true, mode: 0o755 });
    fs.writeFileSync(conf, QEMU_CONF);
    fs.mkdirSync('/run/libvirt', { recursive: true });
    const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    const script = [
      'set -e',
      'mount -t tmpfs cgroup /sys/fs/cgroup',
      `for c in ${CGROUP_CONTROLLERS.join(' ')}; do mkdir -p /sys/fs/cgroup/$c; mount -t cgroup -o $c cgroup /sys/fs/cgroup/$c || true; done`,
      `mount --bind ${q(this.runDir)} /run/libvirt`,
      `mount --bind ${q(lib)} /var/lib/libvirt`,
      `mount --bind ${q(etcQemu)} /etc/libvirt/qemu`,
      `mount --bind ${q(conf)} /etc/libvirt/qemu.conf`,
      `virtlogd -d -p ${q(path.join(this.runDir, 'virtlogd.pid'))}`,
      `libvirtd -d -p ${q(path.join(this.runDir, 'libvirtd.pid'))}`,
    ].join('\n');
    this.log(`starting virtlogd and libvirtd for host ${this.host} in namespace ${this.namespace}`);
    try {
      await run('ip', ['netns', 'exec', this.namespace, 'sh', '-c', script]);
    } catch (e) {
      const err = e as Error & { stderr?: string };
      throw new VirtError(`could not start libvirtd: ${(err.stderr ?? err.message).trim()}`, false);
    }
    this.started = true;
    const until = Date.now() + 60_000;
    while (!(await this.alive())) {
      if (Date.now() > until) throw new VirtError(`libvirtd of host ${this.host} did not answer within 60 s`, false);
      await new Promise((r) => setTimeout(r, 250));
    }
    this.log(`libvirtd for host ${this.host} answers at ${this.uri}`);
  }

  /** The pid of the running libvirtd (null when unknown). */
  daemonPid(): number | null {
    return this.pid('libvirtd');
  }

  private pid(name: string): number | null {
    try {
      const n = Number(fs.readFileSync(path.join(this.runDir, `${name}.pid`), 'utf8').trim());
      return n > 1 ? n : null;
    } catch {
      return null;
    }
  }

  /**
   * Stops the daemons this process started (guests keep running: libvirtd finds them again);
   * `any: true` also those another process started (a clean-up after that process is gone).
   */
  async stop(o: { any?: boolean } = {}): Promise<void> {
    if (!this.started && !o.any) return;
    for (const name of ['libvirtd', 'virtlogd']) {
      const pid = this.pid(name);
      if (!pid) continue;
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        continue;
      }
      for (let i = 0; i < 100; i++) {
        try {
          process.kill(pid, 0);
        } catch {
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    this.started = false;
  }
}
