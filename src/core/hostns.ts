// Hosts as network namespaces (DATAPLANE.md, the libvirt/linuxbridge seam): a Stratus host with a
// real data plane is the namespace `stratus-host-<host>`, made by whichever side starts first
// (the network agent's linuxbridge driver or the compute side's libvirt driver). Its bridges,
// taps, firewall rules and forwarding stay inside it; the root namespace is left as it was.
//
// Also the small process helpers both sides use to run `ip`, `bridge`, `iptables`, ... inside a
// namespace (`ip netns exec`), without a shell.
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';

export class CommandError extends Error {
  constructor(
    readonly cmd: string[],
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(`${cmd.join(' ')}: exit ${code}: ${stderr.trim().slice(0, 500)}`);
  }
}

export interface RunOptions {
  /** Run inside this network namespace (`ip netns exec <ns>`). */
  ns?: string;
  /** Written to the command's stdin. */
  input?: string;
  /** Answer '' instead of throwing when the command fails. */
  allowFail?: boolean;
}

/** Runs a command (in a namespace), answering its stdout; throws CommandError on a non-zero exit. */
export function run(cmd: string[], o: RunOptions = {}): Promise<string> {
  const argv = o.ns ? ['ip', 'netns', 'exec', o.ns, ...cmd] : cmd;
  return new Promise((resolve, reject) => {
    const child = execFile(argv[0]!, argv.slice(1), { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      if (o.allowFail) return resolve('');
      const code = typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null;
      reject(new CommandError(argv, code, String(stderr || err.message)));
    });
    if (o.input !== undefined) {
      // A command that exits before reading all its input (say, `iptables-restore` refusing line 1) closes the
      // pipe: the write's EPIPE must not crash the process; the exit status above says what went wrong.
      child.stdin?.on('error', () => {});
      child.stdin?.end(o.input);
    }
  });
}

/**
 * Runs a daemon's start command (dnsmasq, haproxy: they fork and the command returns) in a
 * namespace, with its standard streams on /dev/null and `logFile` (never on pipes of ours: a
 * daemon writing to a pipe this process has closed dies of SIGPIPE).
 */
export function startDaemon(ns: string | undefined, cmd: string[], logFile?: string): Promise<void> {
  const argv = ns ? ['ip', 'netns', 'exec', ns, ...cmd] : cmd;
  const err = logFile ? fs.openSync(logFile, 'a') : 'ignore';
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', err], detached: true });
    if (typeof err === 'number') fs.closeSync(err);
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new CommandError(argv, code, logFile ? `see ${logFile}` : 'no output kept')),
    );
  });
}

/** Starts a long-lived process inside a namespace, detached from ours; answers its pid. */
export function spawnIn(ns: string | undefined, cmd: string[]): number {
  const argv = ns ? ['ip', 'netns', 'exec', ns, ...cmd] : cmd;
  const child = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore', detached: true });
  child.unref();
  return child.pid ?? 0;
}

/** Is a process alive (and, when given, does its command line contain `marker`)? */
export function processAlive(pid: number, marker?: string): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  if (!marker) return true;
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
  } catch {
    return false;
  }
}

export const HOST_NS_PREFIX = 'stratus-host-';

/** The namespace standing for a host: `stratus-host-<host>` (unsafe characters replaced). */
export function hostNamespace(host: string): string {
  const clean = host.replace(/[^A-Za-z0-9_.-]/g, '_');
  // A netns name is a file name under /run/netns: keep it well below NAME_MAX.
  return HOST_NS_PREFIX + (clean.length > 60 ? `${clean.slice(0, 48)}-${shortHash(host)}` : clean);
}

/** 8 hex characters of a sha1: short, stable names for links (IFNAMSIZ is 16 with the NUL). */
export function shortHash(s: string, n = 8): string {
  return createHash('sha1').update(s).digest('hex').slice(0, n);
}

export async function namespaceExists(ns: string): Promise<boolean> {
  return fs.existsSync(`/run/netns/${ns}`);
}

/** Creates a namespace if missing (idempotent, safe against a racing creator) with its loopback up. */
export async function ensureNamespace(ns: string, sysctls: Record<string, string> = {}): Promise<void> {
  if (!(await namespaceExists(ns))) {
    try {
      await run(['ip', 'netns', 'add', ns]);
    } catch (e) {
      if (!(await namespaceExists(ns))) throw e;
    }
  }
  await run(['ip', 'link', 'set', 'lo', 'up'], { ns });
  for (const [k, v] of Object.entries(sysctls)) await run(['sysctl', '-qw', `${k}=${v}`], { ns, allowFail: true });
}

/**
 * The namespace of a host, made if missing: loopback up, bridged traffic through iptables (for
 * the security groups' physdev rules), IPv4 forwarding inside it only.
 */
export async function ensureHostNamespace(host: string): Promise<string> {
  const ns = hostNamespace(host);
  await ensureNamespace(ns, {
    'net.bridge.bridge-nf-call-iptables': '1',
    'net.bridge.bridge-nf-call-ip6tables': '1',
    'net.ipv4.ip_forward': '1',
  });
  return ns;
}

/** Kills every process still running inside a namespace, then deletes it (missing: nothing). */
export async function deleteNamespace(ns: string): Promise<void> {
  if (!(await namespaceExists(ns))) return;
  const pids = (await run(['ip', 'netns', 'pids', ns], { allowFail: true })).split(/\s+/).filter(Boolean);
  for (const p of pids) {
    try {
      process.kill(Number(p), 'SIGKILL');
    } catch {
      // gone already
    }
  }
  await run(['ip', 'netns', 'delete', ns], { allowFail: true });
}

export async function deleteHostNamespace(host: string): Promise<void> {
  await deleteNamespace(hostNamespace(host));
}
