// Instruction counts of a fixed workload: the Stratus API process runs under
// `valgrind --tool=callgrind` and the instructions it executes while the workload runs are
// counted (callgrind_control zeroes the counters after the start and dumps them after the
// workload). Unlike seconds, instruction counts do not depend on what else the shared machine
// does, so two checkouts can be compared on a loaded machine. Every request is sent once, one
// after the other (no time-bounded loops); only the polls for ACTIVE/deleted servers depend on
// timing, and their number is printed with the figures.
//
//   node --import tsx bench/instructions.ts [--root=DIR] [--label=NAME] [--services=a,b,...] [--out=FILE.json]
//        [--keep=DIR] [--warmup=1] [--startup-minutes=15] [--tokens=N] [--networks=N] [--servers=N]
//   node --import tsx bench/instructions.ts --compare BEFORE.json AFTER.json
//
// The counters are zeroed before the workload and dumped (which zeroes them again) after each
// phase: tokens, networks, servers, cleanup; each phase's count is printed, and --out writes them
// as JSON for --compare, which prints each phase's after/before ratio.
// --services keeps only the named services of the root's src/services.ts (identity always runs):
// the root is bundled with esbuild, as bin/stratus.js does, from an entry that drops the others
// from SERVICES before the CLI starts. A before/after of a tree that has since gained services
// then counts the same cloud twice (e.g. --services=object-store,image,network,placement,compute).
// --keep copies the callgrind dumps (one per phase and thread) to DIR for callgrind_annotate.
// Each phase is also counted on the main thread alone: V8 compiles hot functions on other threads
// (TurboFan), and when that happens depends on what ran before; --warmup rounds of one of each
// (a token, a network, a server) run before the count so that both trees start warm.
//
// --root is the checkout whose bin/stratus.js is started (default: this one): for a before/after,
// extract the older commit (`git archive <commit> | tar -x -C DIR`, node_modules linked) and run
// this script once with each root. Slow (everything runs some 30-50 times slower under valgrind).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { freePort, runCommand, sleep } from './lib/proc.ts';
import { stratusTarget } from './lib/target.ts';

const HERE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function opt(name: string, def: string): string {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : def;
}

const root = path.resolve(opt('root', HERE));
const label = opt('label', path.basename(root));
const N = {
  tokens: Number(opt('tokens', '20')),
  networks: Number(opt('networks', '5')),
  servers: Number(opt('servers', '3')),
};

interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

let polls = 0;

const PHASES = ['tokens', 'networks', 'servers', 'cleanup'] as const;
type Phase = (typeof PHASES)[number];

interface Result {
  label: string;
  root: string;
  services: string;
  /** Instructions per phase, every thread. */
  phases: Record<Phase, number>;
  /** Instructions per phase of the main thread (JavaScript and the event loop). */
  main?: Record<Phase, number>;
  polls: number;
  seconds: number;
}

function compare(files: string[]) {
  const [a, b] = files.map((f) => JSON.parse(fs.readFileSync(f, 'utf8')) as Result);
  const row = (name: string, x: number, y: number) =>
    `| ${name.padEnd(8)} | ${(x / 1e6).toFixed(1).padStart(9)} M | ${(y / 1e6).toFixed(1).padStart(9)} M | ${(((y - x) / x) * 100).toFixed(1).padStart(6)} % |`;
  console.log(`| phase    | ${a.label.padStart(11)} | ${b.label.padStart(11)} | change   |`);
  console.log('|:---------|------------:|------------:|---------:|');
  let ta = 0;
  let tb = 0;
  for (const p of PHASES) {
    console.log(row(p, a.phases[p], b.phases[p]));
    ta += a.phases[p];
    tb += b.phases[p];
  }
  console.log(row('total', ta, tb));
  const am = a.main;
  const bm = b.main;
  if (am && bm) {
    console.log(
      '\nmain thread only (JavaScript and the event loop; without the optimising compiler and GC threads):\n',
    );
    let ma = 0;
    let mb = 0;
    for (const p of PHASES) {
      console.log(row(p, am[p], bm[p]));
      ma += am[p];
      mb += bm[p];
    }
    console.log(row('total', ma, mb));
  }
  console.log(`polls: ${a.polls} / ${b.polls}; services: ${a.services || 'all'} / ${b.services || 'all'}`);
}

async function main() {
  const cmp = process.argv.indexOf('--compare');
  if (cmp >= 0) return compare(process.argv.slice(cmp + 1, cmp + 3));
  const services = opt('services', '');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-instr-'));
  const out = path.join(work, 'callgrind.out');
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, STRATUS_PASSWORD_HASH_ROUNDS: '4', STRATUS_USER_CLOUDS: '0' };
  for (const k of ['STRATUS_DATA_DIR', 'STRATUS_PORT', 'STRATUS_CONFIG', 'STRATUS_HOST', 'STRATUS_BUS']) delete env[k];
  // Built once outside valgrind (bin/stratus.js bundles the sources when they are newer).
  const prog = stratusTarget(root, services);
  await runCommand(process.execPath, [prog.file, '--help'], { cwd: root, env }).catch(() => '');
  const child = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      '--collect-atstart=yes',
      `--callgrind-out-file=${out}`,
      '--dump-instr=no',
      '--separate-threads=yes',
      process.execPath,
      prog.file,
      'start',
      '--data-dir',
      path.join(work, 'data'),
      '--port',
      String(port),
    ],
    {
      cwd: root,
      env,
      stdio: [
        'ignore',
        fs.openSync(path.join(work, 'server.log'), 'a'),
        fs.openSync(path.join(work, 'server.log'), 'a'),
      ],
      detached: true,
    },
  );
  const stop = async () => {
    try {
      process.kill(-(child.pid ?? 0), 'SIGTERM');
    } catch {
      /* gone */
    }
    await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(undefined)));
  };
  try {
    const origin = `http://127.0.0.1:${port}`;
    const until = Date.now() + Number(opt('startup-minutes', '15')) * 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`stratus exited (${child.exitCode}); log: ${work}/server.log`);
      if (Date.now() > until) throw new Error('stratus did not answer in time (--startup-minutes)');
      const ok = await fetch(`${origin}/identity/v3`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      await sleep(2000);
    }
    // The start-up's own work (DevStack's world, then clouds.yaml), then a pause for the first periodic tasks.
    while (!fs.existsSync(path.join(work, 'data', 'clouds.yaml'))) {
      if (Date.now() > until) throw new Error('no clouds.yaml in time (--startup-minutes)');
      await sleep(2000);
    }
    await sleep(20_000);
    const clouds = YAML.parse(fs.readFileSync(path.join(work, 'data', 'clouds.yaml'), 'utf8')) as {
      clouds: { stratus: { auth: Record<string, string> } };
    };
    const a = clouds.clouds.stratus.auth;
    const authBody = {
      auth: {
        identity: {
          methods: ['password'],
          password: {
            user: { name: a.username, domain: { name: a.user_domain_name ?? 'Default' }, password: a.password },
          },
        },
        scope: { project: { name: a.project_name, domain: { name: a.project_domain_name ?? 'Default' } } },
      },
    };
    const call = async (method: string, url: string, body?: unknown, headers: Record<string, string> = {}) => {
      const r = await fetch(url, {
        method,
        headers: { 'Content-Type': 'application/json', ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await r.text();
      const ans: Answer = {
        status: r.status,
        body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
        headers: r.headers,
      };
      if (r.status >= 400 && r.status !== 404) throw new Error(`${method} ${url}: ${r.status} ${text.slice(0, 300)}`);
      return ans;
    };
    const issue = () => call('POST', `${origin}/identity/v3/auth/tokens`, authBody);
    const first = await issue();
    const token = first.headers.get('x-subject-token') ?? '';
    const catalog = ((first.body.token as Record<string, unknown>).catalog ?? []) as {
      type: string;
      endpoints: { interface: string; url: string }[];
    }[];
    const ep = (type: string) => {
      const u = new URL(
        catalog.find((c) => c.type === type)?.endpoints.find((e) => e.interface === 'public')?.url ?? '',
      );
      return origin + u.pathname.replace(/\/+$/, '');
    };
    const nova = ep('compute');
    const neutron = ep('network');
    const h = { 'X-Auth-Token': token, 'OpenStack-API-Version': 'compute 2.93' };
    // Warm-up outside the count: one of each request, so JIT tiers are alike at the start.
    const flavors = (await call('GET', `${nova}/flavors`, undefined, h)).body.flavors as { id: string }[];
    const glance = catalog.some((c) => c.type === 'image') ? ep('image') : `${origin}/image`;
    const images = (await call('GET', `${glance}/v2/images?status=active`, undefined, h)).body.images as {
      id: string;
    }[];
    if (!images.length) {
      // An older cloud's start-up may register no image: upload a small raw one (the fake driver boots anything).
      const img = (
        await call(
          'POST',
          `${glance}/v2/images`,
          { name: 'instr', disk_format: 'raw', container_format: 'bare', visibility: 'public' },
          h,
        )
      ).body as { id: string };
      const put = await fetch(`${glance}/v2/images/${img.id}/file`, {
        method: 'PUT',
        headers: { 'X-Auth-Token': token, 'Content-Type': 'application/octet-stream' },
        body: Buffer.alloc(64 * 1024),
      });
      if (put.status !== 204) throw new Error(`image upload: ${put.status} ${await put.text()}`);
      images.push(img);
    }
    // The workload, phase by phase; `base` keeps the warm-up's names and CIDRs apart.
    const tokens = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const t = (await issue()).headers.get('x-subject-token') ?? '';
        await call('GET', `${origin}/identity/v3/auth/tokens`, undefined, {
          'X-Auth-Token': token,
          'X-Subject-Token': t,
        });
      }
    };
    const networks = async (n: number, base: number) => {
      const nets: string[] = [];
      for (let i = base; i < base + n; i++) {
        const net = (await call('POST', `${neutron}/v2.0/networks`, { network: { name: `instr-${i}` } }, h)).body
          .network as { id: string };
        nets.push(net.id);
        await call(
          'POST',
          `${neutron}/v2.0/subnets`,
          { subnet: { network_id: net.id, ip_version: 4, cidr: `10.${i}.0.0/24` } },
          h,
        );
        await call('POST', `${neutron}/v2.0/ports`, { port: { network_id: net.id } }, h);
        await call('GET', `${neutron}/v2.0/networks`, undefined, h);
        await call('GET', `${neutron}/v2.0/ports`, undefined, h);
      }
      return nets;
    };
    const serversOn = async (n: number, net: string) => {
      const servers: string[] = [];
      for (let i = 0; i < n; i++) {
        const body = {
          server: { name: `instr-${i}`, imageRef: images[0].id, flavorRef: flavors[0].id, networks: [{ uuid: net }] },
        };
        const s = (await call('POST', `${nova}/servers`, body, h)).body.server as { id: string };
        servers.push(s.id);
        for (;;) {
          await sleep(3000);
          polls++;
          const st = ((await call('GET', `${nova}/servers/${s.id}`, undefined, h)).body.server as { status: string })
            .status;
          if (st === 'ACTIVE') break;
          if (st === 'ERROR') throw new Error(`server ${s.id} went to ERROR`);
        }
      }
      for (let i = 0; i < 5; i++) await call('GET', `${nova}/servers/detail`, undefined, h);
      for (const id of servers) await call('DELETE', `${nova}/servers/${id}`, undefined, h);
      for (const id of servers)
        for (;;) {
          await sleep(3000);
          polls++;
          if ((await call('GET', `${nova}/servers/${id}`, undefined, h)).status === 404) break;
        }
    };
    const cleanup = async (nets: string[]) => {
      for (const id of nets)
        await call('DELETE', `${neutron}/v2.0/networks/${id}`, undefined, h).catch(() => undefined);
    };
    // Warm-up outside the count (--warmup rounds of one of each, default 1): the code paths are
    // compiled and optimised before the count starts, so that both trees start from alike JIT tiers.
    for (let w = 0; w < Number(opt('warmup', '1')); w++) {
      await tokens(1);
      const wn = await networks(1, 200 + w);
      await serversOn(1, wn[0]);
      await cleanup(wn);
    }
    polls = 0;
    await runCommand('callgrind_control', ['--zero', String(child.pid)]);
    const t0 = Date.now();
    // Dumping zeroes the counters: each dump holds one phase.
    const dumped: Phase[] = [];
    const dump = async (p: Phase) => {
      await runCommand('callgrind_control', [`--dump=${p}`, String(child.pid)]);
      dumped.push(p);
    };
    await tokens(N.tokens);
    await dump('tokens');
    const nets = await networks(N.networks, 0);
    await dump('networks');
    await serversOn(N.servers, nets[0]);
    await dump('servers');
    await cleanup(nets);
    await dump('cleanup');
    const ms = Date.now() - t0;
    await sleep(2000);
    // With --separate-threads one file per dump and thread: callgrind.out.<dump>-<thread>, thread 01
    // the main one (JavaScript, the event loop); the others are V8's optimising compiler and GC
    // helpers and libuv's pool. The file's "desc: Trigger" names the phase.
    const phases = {} as Record<Phase, number>;
    const main = {} as Record<Phase, number>;
    const keepDir = opt('keep', '');
    if (keepDir) fs.mkdirSync(keepDir, { recursive: true });
    for (const f of fs.readdirSync(work)) {
      const name = /^callgrind\.out\.\d+-(\d+)$/.exec(f);
      if (!name) continue;
      const text = fs.readFileSync(path.join(work, f), 'utf8');
      const trigger = /^desc: Trigger: (?:dump |Client Request: )?(\w+)/m.exec(text)?.[1] as Phase | undefined;
      const m = /^(?:summary|totals):\s+(\d+)/m.exec(text);
      if (!trigger || !dumped.includes(trigger)) continue;
      const ir = m ? Number(m[1]) : 0;
      phases[trigger] = (phases[trigger] ?? 0) + ir;
      if (Number(name[1]) === 1) main[trigger] = ir;
      if (keepDir) fs.copyFileSync(path.join(work, f), path.join(keepDir, `callgrind.${label}.${trigger}-${name[1]}`));
    }
    for (const p of PHASES) if (phases[p] === undefined) throw new Error(`no callgrind dump for phase ${p}`);
    const total = PHASES.reduce((n, p) => n + phases[p], 0);
    console.log(
      `${label}: ${(total / 1e9).toFixed(3)} G instructions for ${N.tokens} token issues+validations, ${N.networks} networks (subnet, port, 2 lists each), ${N.servers} servers (create, ACTIVE, 5 detail lists, delete); ${polls} polls; ${(ms / 1000).toFixed(0)} s under valgrind`,
    );
    for (const p of PHASES)
      console.log(
        `  ${p.padEnd(8)} ${(phases[p] / 1e6).toFixed(1).padStart(9)} M (main thread ${((main[p] ?? 0) / 1e6).toFixed(1)} M)`,
      );
    const result: Result = { label, root, services, phases, main, polls, seconds: ms / 1000 };
    const outFile = opt('out', '');
    if (outFile) fs.writeFileSync(outFile, `${JSON.stringify(result, null, 2)}\n`);
  } catch (e) {
    const log = fs.readFileSync(path.join(work, 'server.log'), 'utf8').split('\n').slice(-30).join('\n');
    console.error(`server log (end):\n${log}`);
    throw e;
  } finally {
    await stop();
    prog.cleanup();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
