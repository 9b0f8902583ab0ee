// Process helpers for benchmarks: free ports, servers started in their own process
// group (so the whole tree can be stopped by its id), readiness polling, and memory
// read from /proc.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { fetchOnce } from './load.ts';
import { fmt } from './report.ts';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface Server {
  name: string;
  child: ChildProcess;
  pid: number;
  logFile: string;
  /** When spawn() was called (performance.now() ms). */
  spawnedAt: number;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

const running = new Set<Server>();

/** Stop every server this process started (on exit or ^C). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop()));
}
let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  const killSync = () => {
    for (const s of running) {
      try {
        process.kill(-s.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  };
  process.on('exit', killSync);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      killSync();
      process.exit(130);
    });
  }
}

/** Start a server in its own process group; stdout and stderr go to logFile. */
export function startServer(
  name: string,
  cmd: string,
  args: string[],
  opts: SpawnOptions & { logFile: string },
): Server {
  hookExit();
  const fd = fs.openSync(opts.logFile, 'a');
  const spawnedAt = performance.now();
  const child = spawn(cmd, args, { ...opts, detached: true, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  if (child.pid === undefined) throw new Error(`${name}: could not start ${cmd}`);
  const pid = child.pid;
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? (signal ? -1 : null)));
    child.on('error', () => resolve(-1));
  });
  const server: Server = {
    name,
    child,
    pid,
    logFile: opts.logFile,
    spawnedAt,
    exited,
    async stop() {
      if (!running.has(server)) return;
      running.delete(server);
      try {
        process.kill(-pid, 'SIGTERM');
      } catch {
        return;
      }
      const t = setTimeout(() => {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }, 5000);
      await exited;
      clearTimeout(t);
      // Workers of a pre-forking server may outlive the master for a moment.
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    },
  };
  running.add(server);
  return server;
}

/**
 * Poll url until it answers `status` (default 200). Returns ms from the server's
 * spawn to the first such answer. Throws if the process exits or the timeout passes.
 */
export async function waitReady(
  server: Server,
  url: string,
  timeoutMs = 60_000,
  status = 200,
  intervalMs = 10,
): Promise<number> {
  let exitCode: number | null | undefined;
  void server.exited.then((c) => {
    exitCode = c;
  });
  const until = performance.now() + timeoutMs;
  let last = '';
  while (performance.now() < until) {
    if (exitCode !== undefined)
      throw new Error(
        `${server.name} exited (code ${exitCode}) before answering ${url}; log: ${server.logFile}\n${tail(server.logFile)}`,
      );
    try {
      const r = await fetchOnce(url, {}, 2000);
      if (r.status === status) return performance.now() - server.spawnedAt;
      last = `HTTP ${r.status}: ${r.body.slice(0, 200)}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(
    `${server.name} did not answer ${url} with ${status} within ${timeoutMs} ms (last: ${last}); log: ${server.logFile}\n${tail(server.logFile)}`,
  );
}

export function tail(file: string, lines = 15): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** pid and all its descendants (from /proc/<pid>/stat). */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(d));
      children.set(ppid, list);
    } catch {
      /* raced with exit */
    }
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length) {
    const p = stack.pop()!;
    out.push(p);
    stack.push(...(children.get(p) ?? []));
  }
  return out;
}

/** A field of /proc/<pid>/status in kB (VmRSS, VmHWM, ...), or 0 if gone. */
/** CPU time (user + system) a process has used, in ms, from /proc/<pid>/stat. */
export function processCpuMs(pid: number): number {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // clock ticks: USER_HZ is 100 on Linux
  } catch {
    return NaN;
  }
}

export function procStatusKb(pid: number, field: string): number {
  try {
    const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** CPU time (user + system) a process has used so far, in ms, from /proc/<pid>/stat; 0 if gone. */
export function procCpuMs(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return 0;
  }
}

/** Sum of a /proc status field over the process tree rooted at pid, in MB (MiB). */
export function treeMemMb(pid: number, field: 'VmRSS' | 'VmHWM'): { mb: number; processes: number } {
  const pids = processTree(pid);
  let kb = 0;
  let n = 0;
  for (const p of pids) {
    const v = procStatusKb(p, field);
    if (v > 0) {
      kb += v;
      n++;
    }
  }
  return { mb: kb / 1024, processes: n };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Run a command to completion; reject with its output on failure. */
export function runCommand(cmd: string, args: string[], opts: SpawnOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (c) => {
      out += c;
    });
    child.stderr!.on('data', (c) => {
      out += c;
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${out.slice(-2000)}`));
    });
  });
}

function cpuTimes(): { busy: number; total: number } {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0); // idle + iowait
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** Share of all CPUs busy (0..1) over the next `ms` milliseconds, machine-wide. */
export async function cpuBusy(ms = 1000): Promise<number> {
  const a = cpuTimes();
  await sleep(ms);
  const b = cpuTimes();
  return b.total > a.total ? (b.busy - a.busy) / (b.total - a.total) : 0;
}

/**
 * Wait (at most maxMs) until the machine is quiet: under `threshold` of the CPUs
 * busy over one second. Returns the last reading.
 */
export async function waitQuiet(maxMs: number, threshold = 0.15, onWait?: (busy: number) => void): Promise<number> {
  const until = performance.now() + maxMs;
  for (;;) {
    const busy = await cpuBusy(1000);
    if (busy < threshold || performance.now() >= until) return busy;
    onWait?.(busy);
  }
}

/**
 * The machine's state at the start of a run, for the report's conditions: waits for quiet first
 * when `waitQuietMs` > 0 (--wait-quiet), else measures one second of CPU.
 */
export async function startConditions(waitQuietMs: number, log: (line: string) => void): Promise<string[]> {
  const busy =
    waitQuietMs > 0
      ? await waitQuiet(waitQuietMs, 0.15, (b) => log(`machine ${fmt(100 * b, 0)} % busy; waiting`))
      : await cpuBusy(1000);
  return [
    `CPU busy before the run: ${fmt(100 * busy, 0)} %`,
    `load average at start: ${os
      .loadavg()
      .map((l) => fmt(l))
      .join(' ')}`,
  ];
}
