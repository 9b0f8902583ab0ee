// Port-create profiling driver (not part of `npm run bench`): starts Stratus (optionally under
// --cpu-prof), creates a /16 network, then `seq` ports one at a time and `conc` ports by 32
// clients, prints the rates and the server's CPU time per create (from /proc), optionally times
// N lists of 1,000 ports, stops the server.
//
//   node --import tsx bench/port-profile.ts [--prof=DIR] [--seq=N] [--conc=N] [--c=N] [--lists=N]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fetchOnce, runLoad } from './lib/load.ts';
import { stopAll } from './lib/proc.ts';
import { login, startStratus } from './lib/stratus.ts';

const arg = (k: string, d: string) => process.argv.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3) ?? d;
const prof = arg('prof', '');
const seqN = Number(arg('seq', '300')),
  concN = Number(arg('conc', '2000')),
  c = Number(arg('c', '32'));

/** [utime, stime] of a process in ms (from /proc/<pid>/stat). */
function cpuMs(pid: number): [number, number] {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return [Number(f[11]) * 10, Number(f[12]) * 10];
}

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'portprof-'));
const st = await startStratus({
  dataDir,
  logFile: path.join(dataDir, 'server.log'),
  nodeArgs: prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : [],
});
try {
  const s = await login(st);
  const base = s.endpoint('network')!;
  const urlPath = new URL(base).pathname.replace(/\/+$/, '');
  const auth = { 'X-Auth-Token': s.token };
  const call = async (method: string, p: string, body?: unknown) => {
    const r = await fetchOnce(base + p, {
      method,
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${r.body}`);
    return JSON.parse(r.body || '{}');
  };
  await call('PUT', `/v2.0/quotas/${s.projectId}`, { quota: { network: -1, subnet: -1, port: -1 } });
  const net = (await call('POST', '/v2.0/networks', { network: { name: 'n' } })).network;
  await call('POST', '/v2.0/subnets', { subnet: { network_id: net.id, ip_version: 4, cidr: '10.0.0.0/16' } });
  const post = (i: number) => ({
    method: 'POST',
    path: urlPath + '/v2.0/ports',
    headers: { ...auth, 'Content-Type': 'application/json' },
    body: JSON.stringify({ port: { network_id: net.id, name: `p-${i}` } }),
  });
  for (const [label, conc, n] of [
    ['sequential', 1, seqN],
    ['concurrent', c, concN],
  ] as const) {
    if (!n) continue;
    const cpu0 = cpuMs(st.server.pid);
    const r = await runLoad({
      origin: st.origin,
      concurrency: conc,
      maxRequests: n,
      expectStatus: [201],
      timeoutMs: 120_000,
      request: post,
    });
    const cpu1 = cpuMs(st.server.pid),
      user = cpu1[0] - cpu0[0],
      sys = cpu1[1] - cpu0[1];
    console.log(
      `${label} c=${conc}: ${r.ok} ok ${r.errors} errors, ${r.rps.toFixed(1)}/s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, server CPU ${((user + sys) / r.ok).toFixed(2)} ms/create (user ${(user / r.ok).toFixed(2)}, sys ${(sys / r.ok).toFixed(2)})${r.firstError ? ` first error ${r.firstError}` : ''}`,
    );
  }
  const lists = Number(arg('lists', '0'));
  if (lists) {
    const get = { method: 'GET', path: urlPath + '/v2.0/ports?limit=1000', headers: auth };
    const cpu0 = cpuMs(st.server.pid);
    const r = await runLoad({
      origin: st.origin,
      concurrency: 1,
      maxRequests: lists,
      expectStatus: [200],
      timeoutMs: 120_000,
      request: get,
    });
    const cpu1 = cpuMs(st.server.pid);
    console.log(
      `list limit=1000 c=1: ${r.ok} ok, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, server CPU ${((cpu1[0] + cpu1[1] - cpu0[0] - cpu0[1]) / r.ok).toFixed(1)} ms/list`,
    );
  }
  const ports = (await call('GET', `/v2.0/ports?network_id=${net.id}&fields=id&fields=fixed_ips&fields=mac_address`))
    .ports as Array<{ fixed_ips: Array<{ ip_address: string }>; mac_address: string }>;
  const ips = new Set(ports.flatMap((p) => p.fixed_ips.map((f) => f.ip_address)));
  const macs = new Set(ports.map((p) => p.mac_address));
  console.log(`proof: ${ports.length} ports, ${ips.size} distinct IPs, ${macs.size} distinct MACs`);
} finally {
  await stopAll();
  if (!process.env.KEEP) fs.rmSync(dataDir, { recursive: true, force: true });
  else console.log(dataDir);
}
