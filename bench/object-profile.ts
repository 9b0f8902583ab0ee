// A targeted driver for the object-store PUT path: starts Stratus (optionally under
// --cpu-prof), runs 1 KiB PUTs at a given concurrency for a number of requests and prints
// ops/s, latency and the server's CPU time per request (utime+stime from /proc, which the
// machine's other load does not inflate the way it inflates wall time).
//
//   node --import tsx bench/object-profile.ts [--c=16] [--n=3000] [--size=1024] [--prof=DIR] [--op=PUT|GET]
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { runLoad } from './lib/load.ts';
import { login, startStratus } from './lib/stratus.ts';
import { patternSlice } from './lib/blob.ts';
import { stopAll } from './lib/proc.ts';

const arg = (k: string, d: string) => process.argv.find((a) => a.startsWith(`--${k}=`))?.split('=')[1] ?? d;
const c = Number(arg('c', '16'));
const n = Number(arg('n', '3000'));
const size = Number(arg('size', '1024'));
const prof = arg('prof', '');
const op = arg('op', 'PUT');

const cpuMs = (pid: number) => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, in clock ticks of 10 ms
};

/** CPU ms of each thread (by name) of a process, user and system. */
const threadCpu = (pid: number) => {
  const out = new Map<string, { user: number; sys: number }>();
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const raw = fs.readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      const name = t === String(pid) ? 'main' : raw.slice(raw.indexOf('(') + 1, raw.lastIndexOf(')'));
      const f = raw.slice(raw.lastIndexOf(') ') + 2).split(' ');
      const e = out.get(name) ?? { user: 0, sys: 0 };
      e.user += Number(f[11]) * 10;
      e.sys += Number(f[12]) * 10;
      out.set(name, e);
    } catch {
      /* thread gone */
    }
  }
  return out;
};

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'objprof-'));
try {
  const st = await startStratus({
    dataDir,
    logFile: path.join(dataDir, 'log'),
    nodeArgs: prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : [],
  });
  const s = await login(st);
  const base = new URL(s.endpoint('object-store')!).pathname;
  const auth = { 'X-Auth-Token': s.token };
  await runLoad({
    origin: st.origin,
    concurrency: 1,
    maxRequests: 1,
    request: { method: 'PUT', path: `${base}/c`, headers: auth },
    expectStatus: [201, 202],
  });
  const body = Buffer.from(patternSlice(0, size));
  let seq = 0;
  const req =
    op === 'PUT'
      ? () => ({
          method: 'PUT',
          path: `${base}/c/o${seq++}`,
          headers: { ...auth, 'Content-Type': 'application/octet-stream' },
          body,
        })
      : () => ({ method: 'GET', path: `${base}/c/o${seq++ % 500}`, headers: auth });
  if (op === 'GET')
    await runLoad({
      origin: st.origin,
      concurrency: 4,
      maxRequests: 500,
      request: () => ({ method: 'PUT', path: `${base}/c/o${seq++}`, headers: auth, body }),
      expectStatus: [201],
    });
  await runLoad({
    origin: st.origin,
    concurrency: c,
    maxRequests: 200,
    request: req,
    expectStatus: op === 'PUT' ? [201] : [200],
  });
  const cpu0 = cpuMs(st.server.pid);
  const th0 = threadCpu(st.server.pid);
  const r = await runLoad({
    origin: st.origin,
    concurrency: c,
    maxRequests: n,
    maxDurationMs: 120_000,
    request: req,
    expectStatus: op === 'PUT' ? [201] : [200],
  });
  const cpu = cpuMs(st.server.pid) - cpu0;
  const th = [...threadCpu(st.server.pid)].map(([k, v]) => {
    const b = th0.get(k) ?? { user: 0, sys: 0 };
    return `${k} ${((v.user - b.user) / r.ok).toFixed(2)}u+${((v.sys - b.sys) / r.ok).toFixed(2)}s`;
  });
  console.log(
    `${op} ${size} B c=${c}: ${r.ok} ok ${r.errors} err (${r.firstError ?? ''}), ${r.rps.toFixed(0)}/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, server CPU ${(cpu / r.ok).toFixed(3)} ms/req, load ${os.loadavg()[0]!.toFixed(2)}`,
  );
  console.log(`  per thread, ms/req: ${th.join(', ')}`);
  process.kill(st.server.pid, 'SIGTERM');
  await st.server.exited;
} finally {
  await stopAll();
  fs.rmSync(dataDir, { recursive: true, force: true });
}
