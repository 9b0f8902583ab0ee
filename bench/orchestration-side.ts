// Orchestration side by side: Stratus's Heat and Debian's heat-api + heat-engine (python3-heat, Zed),
// both behind the same Keystone token (Stratus's identity), the same requests against both on loopback,
// and the machine's limit (bare node:http, ~1 KiB).
//   npm run bench -- orchestration-side [--seconds=5] [--randoms=1000] [--mid=100] [--heat-cap-minutes=6]
//                                       [--concurrent=20] [--quick]
//                                       [--deferred-auth=trusts|password] [--no-write] [--keep]
//                                       [--only=hundred] [--hundred-cap-minutes=10]
// --only=hundred: issue 16's 100-resource stack (25 × OS::Neutron::Net, Subnet, Port, OS::Nova::Server
// on that port; Stratus's fake compute driver, a flavor and an image made by the bench) through each
// side (Stratus, heat, Stratus), wall and CPU; heat's engine calls Stratus's nova, neutron and glance
// from the catalog. Writes bench/reports/orchestration-side-<date>-hundred.md.
// Debian's heat runs from a temporary directory (bench/lib/heat.ts): heat-api (1 worker) and
// heat-engine (num_engine_workers = 1), convergence on (Zed's default), SQLite, RabbitMQ transport
// (a private broker as the tests start it, test/lib/rabbitmq.ts), keystonemiddleware and the
// engine's keystone client against Stratus's identity, deferred_auth_method = trusts (Zed's
// default: each stack create makes a trust to the heat service user, each delete removes it) on
// both sides unless --deferred-auth=password. Stratus runs as `stratus start --bare` on a fresh data
// directory (SQLite, one process, in-process bus, one engine). Needs python3-heat and
// rabbitmq-server (apt); skipped without them. Everything started is stopped and removed at the end.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestBroker } from '../test/lib/rabbitmq.ts';
import { heatAvailable, heatVersion, startHeat } from './lib/heat.ts';
import { fetchOnce, runLoad, type LoadResult, type RequestSpec } from './lib/load.ts';
import {
  freePort,
  procCpuMs,
  processTree,
  procStatusKb,
  sleep,
  startConditions,
  startServer,
  stopAll,
  treeMemMb,
  waitReady,
  type Server,
} from './lib/proc.ts';
import { fmt, machineLine, Report, sideBySideRow, bareLimitRows } from './lib/report.ts';
import { login, readCloudsYaml, startStratus, type Session } from './lib/stratus.ts';
import { serverTemplate } from './lib/heat-templates.ts';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const RABBITMQ_SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server';

interface Settings {
  seconds: number;
  randoms: number;
  /** A stack size both sides finish (heat's per-resource cost grows with the stack). */
  mid: number;
  /** Debian's heat is cut short after this on the `randoms` stack (it needs far longer). */
  capMs: number;
  concurrent: number;
  perStack: number;
  seed: number;
  deferredAuth: 'trusts' | 'password';
  write: boolean;
  keep: boolean;
  timeoutMs: number;
  /** --only=hundred: only the 100-resource stack with servers, through each side. */
  only: 'hundred' | null;
  /** Debian's heat is cut short after this on the 100-resource stack. */
  hundredCapMs: number;
}

function parseArgs(args: string[]): Settings {
  const s: Settings = {
    seconds: 5,
    randoms: 1000,
    mid: 100,
    capMs: 6 * 60_000,
    concurrent: 20,
    perStack: 10,
    seed: 50,
    deferredAuth: 'trusts',
    write: true,
    keep: false,
    timeoutMs: 15 * 60_000,
    only: null,
    hundredCapMs: 10 * 60_000,
  };
  const int = (k: string, v: string | undefined) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`orchestration-side: ${k} wants a positive integer`);
    return n;
  };
  for (const a of args) {
    const [k, v] = a.split('=', 2) as [string, string | undefined];
    if (k === '--quick')
      Object.assign(s, { seconds: 1, randoms: 100, mid: 20, capMs: 30_000, concurrent: 5, seed: 10 });
    else if (k === '--seconds') s.seconds = int(k, v);
    else if (k === '--randoms') s.randoms = int(k, v);
    else if (k === '--concurrent') s.concurrent = int(k, v);
    else if (k === '--mid') s.mid = int(k, v);
    else if (k === '--heat-cap-minutes') s.capMs = int(k, v) * 60_000;
    else if (k === '--timeout-minutes') s.timeoutMs = int(k, v) * 60_000;
    else if (k === '--deferred-auth' && (v === 'trusts' || v === 'password')) s.deferredAuth = v;
    else if (k === '--no-write') s.write = false;
    else if (k === '--keep') s.keep = true;
    else if (k === '--only' && v === 'hundred') s.only = v;
    else if (k === '--hundred-cap-minutes') s.hundredCapMs = int(k, v) * 60_000;
    else
      throw new Error(
        `orchestration-side: unknown option ${a} (options: --seconds=N --randoms=N --mid=N --heat-cap-minutes=N --concurrent=N --quick --deferred-auth=trusts|password --timeout-minutes=N --no-write --keep --only=hundred --hundred-cap-minutes=N)`,
      );
  }
  return s;
}

interface Target {
  name: string;
  short: string;
  origin: string;
  /** The orchestration API's path prefix (`/v1/<project>` or Stratus's `/heat-api/v1/<project>`). */
  base: string;
  headers: Record<string, string>;
  /** Root pids whose process trees are this side's processes. */
  pids: () => number[];
}

async function call(t: Target, method: string, p: string, body?: unknown, timeoutMs = 60_000) {
  const r = await fetchOnce(
    `${t.origin}${t.base}${p}`,
    {
      method,
      headers: { ...t.headers, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    },
    timeoutMs,
  );
  return { status: r.status, body: r.body };
}

function need(r: { status: number; body: string }, status: number, what: string): Record<string, unknown> {
  if (r.status !== status) throw new Error(`${what}: ${r.status} ${r.body.slice(0, 400)}`);
  return r.body ? (JSON.parse(r.body) as Record<string, unknown>) : {};
}

const template = (n: number, prefix = 'r') => ({
  heat_template_version: '2021-04-16',
  resources: Object.fromEntries(
    Array.from({ length: n }, (_, i) => [`${prefix}${i}`, { type: 'OS::Heat::RandomString' }]),
  ),
});

/** A template for validate: parameters with constraints, resources using them, outputs. */
const VALIDATE = {
  heat_template_version: '2021-04-16',
  description: 'validate cell',
  parameters: {
    length: { type: 'number', default: 16, constraints: [{ range: { min: 8, max: 64 } }] },
    prefix: { type: 'string', default: 'x', constraints: [{ length: { max: 8 } }] },
  },
  resources: {
    a: { type: 'OS::Heat::RandomString', properties: { length: { get_param: 'length' } } },
    b: {
      type: 'OS::Heat::RandomString',
      properties: { length: { get_param: 'length' }, salt: { get_param: 'prefix' } },
    },
    c: { type: 'OS::Heat::None', depends_on: ['a', 'b'] },
  },
  outputs: { joined: { value: { list_join: ['-', [{ get_attr: ['a', 'value'] }, { get_attr: ['b', 'value'] }]] } } },
};

/** Sum over every process tree of a side: RSS now, or the sum of each process's peak (VmHWM). */
function sideMem(t: Target, field: 'VmRSS' | 'VmHWM') {
  let mb = 0;
  let processes = 0;
  for (const pid of t.pids()) {
    const m = treeMemMb(pid, field);
    mb += m.mb;
    processes += m.processes;
  }
  return { mb, processes };
}

export async function run(args: string[]): Promise<void> {
  const s = parseArgs(args);
  const log = (line: string) => process.stdout.write(`${line}\n`);
  if (!heatAvailable()) {
    log('orchestration-side: python3-heat is not installed (apt-get install python3-heat): skipped');
    return;
  }
  if (!fs.existsSync(RABBITMQ_SERVER)) {
    log('orchestration-side: rabbitmq-server is not installed (heat-engine needs a broker): skipped');
    return;
  }
  const conditions = await startConditions(0, log);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-bench-heat-side-'));
  const broker = new TestBroker();
  // On ^C or SIGTERM proc.ts kills the servers and exits: the broker and the directories go too.
  const onExit = () => {
    const pid = (broker as unknown as { proc?: { pid?: number } }).proc?.pid;
    try {
      if (pid) process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    if (!s.keep) for (const d of [tmp, broker.dir]) fs.rmSync(d, { recursive: true, force: true });
  };
  process.on('exit', onExit);
  try {
    // -- the services ------------------------------------------------------------------------
    await broker.start();
    const dataDir = path.join(tmp, 'stratus');
    fs.mkdirSync(dataDir);
    fs.writeFileSync(
      path.join(dataDir, 'stratus.yaml'),
      `orchestration:\n  maxStacksPerTenant: 100000\n  deferredAuthMethod: ${s.deferredAuth}\n` +
        // The fake host's capacity (as bench/compute.ts), for the 100-resource stack's servers.
        'compute:\n  vcpus: 4096\n  memoryMb: 4194304\n  localGb: 1000000\n',
    );
    const st = await startStratus({ dataDir, logFile: path.join(tmp, 'stratus.log'), args: ['--bare'] });
    await sleep(500);
    const sess = await login(st);
    const identity = sess.endpoint('identity')!.replace(/\/v3$/, '');
    const heatDir = path.join(tmp, 'heat');
    fs.mkdirSync(heatDir);
    const heat = await startHeat({
      dir: heatDir,
      identity,
      creds: readCloudsYaml(dataDir),
      transportUrl: broker.url.replace(/^amqp:/, 'rabbit:'),
      deferredAuth: s.deferredAuth,
      token: sess.token,
      projectId: sess.projectId,
    });
    log(`heat-api on ${heat.origin}, engine ready after ${fmt(heat.readyMs / 1000, 1)} s`);
    const headers = { 'X-Auth-Token': sess.token };
    const debian: Target = {
      name: `Debian's heat-api + heat-engine ${heatVersion()} (Zed), 1 worker each`,
      short: 'heat',
      origin: heat.origin,
      base: `/v1/${sess.projectId}`,
      headers,
      pids: () => [heat.api.pid, heat.engine.pid],
    };
    const stratus: Target = {
      name: 'Stratus (Node 20, one process)',
      short: 'Stratus',
      origin: st.origin,
      base: new URL(sess.endpoint('orchestration')!).pathname,
      headers,
      pids: () => [st.server.pid],
    };
    const sides = [debian, stratus];
    const barePort = await freePort();
    const bare: Server = startServer(
      'bare',
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'bench/lib/bare-server.ts'), String(barePort)],
      { cwd: ROOT, logFile: path.join(tmp, 'bare.out') },
    );
    await waitReady(bare, `http://127.0.0.1:${barePort}/`, 30_000, 200, 50);

    // -- helpers -----------------------------------------------------------------------------
    // Polls back off with the time spent (every elapsed/20, 20 ms to 1 s): a resolution of about
    // 5 % of the cell without the polls themselves loading a slow API (heat-api answers ~20/s).
    const pollMs = (t0: number) => Math.min(1000, Math.max(20, (performance.now() - t0) / 20));
    // A poll that fails (heat-api answers 500 when the engine does not answer its RPC within 60 s)
    // is counted and retried: the stacks go on converging meanwhile.
    const pollErrors = new Map<Target, { n: number; first: string }>();
    const pollFailed = (t: Target, what: string) => {
      const e = pollErrors.get(t);
      if (e) e.n++;
      else pollErrors.set(t, { n: 1, first: what.slice(0, 160) });
      return undefined;
    };
    async function poll(t: Target, url: string): Promise<{ status: number; body: string } | undefined> {
      try {
        const r = await call(t, 'GET', url, undefined, 90_000);
        return r.status === 200 || r.status === 404 ? r : pollFailed(t, `${r.status} ${r.body}`);
      } catch (e) {
        return pollFailed(t, (e as Error).message);
      }
    }
    async function status(t: Target, url: string): Promise<string> {
      const r = await poll(t, url);
      if (!r) return 'unknown';
      if (r.status === 404) return 'DELETE_COMPLETE';
      return (need(r, 200, `${t.short} show`).stack as { stack_status: string }).stack_status;
    }
    async function until(t: Target, url: string, want: string, capMs = s.timeoutMs): Promise<boolean> {
      const t0 = performance.now();
      for (;;) {
        const got = await status(t, url);
        if (got === want) return true;
        if (got.endsWith('FAILED')) {
          const r = await call(t, 'GET', url);
          throw new Error(`${t.short} ${url}: ${got}: ${r.body.slice(0, 500)}`);
        }
        if (performance.now() - t0 > capMs) return false;
        await sleep(pollMs(t0));
      }
    }
    /** Waits until every stack named in `names` has `want` in one list (or, for deletes, is gone). */
    async function untilAll(t: Target, names: Set<string>, want: 'CREATE_COMPLETE' | 'gone'): Promise<void> {
      const t0 = performance.now();
      for (;;) {
        const r = await poll(t, '/stacks');
        if (!r) {
          await sleep(pollMs(t0));
          continue;
        }
        const list = need(r, 200, `${t.short} list`).stacks as Array<{
          stack_name: string;
          stack_status: string;
          stack_status_reason?: string;
        }>;
        const mine = list.filter((x) => names.has(x.stack_name));
        const failed = mine.find((x) => x.stack_status.endsWith('FAILED'));
        if (failed)
          throw new Error(`${t.short} ${failed.stack_name}: ${failed.stack_status} ${failed.stack_status_reason}`);
        if (
          want === 'gone' ? mine.length === 0 : mine.length === names.size && mine.every((x) => x.stack_status === want)
        )
          return;
        if (performance.now() - t0 > s.timeoutMs)
          throw new Error(`${t.short}: stacks not ${want} after ${s.timeoutMs} ms`);
        await sleep(pollMs(t0));
      }
    }
    async function create(t: Target, name: string, tpl: unknown): Promise<string> {
      const b = need(await call(t, 'POST', '/stacks', { stack_name: name, template: tpl }), 201, `${t.short} create`);
      return `/stacks/${name}/${(b.stack as { id: string }).id}`;
    }
    const cpu = (t: Target) =>
      t.pids().reduce((a, pid) => a + processTree(pid).reduce((b, p) => b + procCpuMs(p), 0), 0);
    interface Timed {
      created: number;
      deleted: number | null;
      createCpu: number;
      deleteCpu: number | null;
      /** Resources COMPLETE when the create was cut short by the cap (only then set). */
      partial?: { done: number; total: number };
      deleteCapMs?: number;
    }
    async function cycle(t: Target, name: string, tpl: unknown, capMs = s.timeoutMs): Promise<Timed> {
      let c0 = cpu(t);
      let t0 = performance.now();
      const url = await create(t, name, tpl);
      const done = await until(t, url, 'CREATE_COMPLETE', capMs);
      const created = performance.now() - t0;
      const createCpu = cpu(t) - c0;
      let partial: Timed['partial'];
      if (!done) {
        const r = need(await call(t, 'GET', `${url}/resources`, undefined, 300_000), 200, `${t.short} resources`);
        const res = r.resources as Array<{ resource_status: string }>;
        partial = { done: res.filter((x) => x.resource_status === 'CREATE_COMPLETE').length, total: res.length };
      }
      c0 = cpu(t);
      t0 = performance.now();
      need(await call(t, 'DELETE', url), 204, `${t.short} delete`);
      // A create cut short is deleted under a short cap: its delete dispatches every resource again.
      const deleteCapMs = done ? capMs : Math.min(capMs, 60_000);
      const gone = await until(t, url, 'DELETE_COMPLETE', deleteCapMs);
      return {
        created,
        deleted: gone ? performance.now() - t0 : null,
        createCpu,
        deleteCpu: gone ? cpu(t) - c0 : null,
        deleteCapMs,
        partial,
      };
    }

    // One stack through each first (first-use costs: plugin loading, keystone caches), then idle RSS.
    for (const t of sides) await cycle(t, 'warm', template(1));
    await sleep(3000);
    const idle = new Map(sides.map((t) => [t, sideMem(t, 'VmRSS')]));
    for (const t of sides)
      log(`${t.short} idle RSS ${fmt(idle.get(t)!.mb, 0)} MB (${idle.get(t)!.processes} processes)`);

    if (s.only === 'hundred') {
      await hundredCells(s, sess, sides, debian, stratus, cycle, log, conditions, heat.readyMs, idle, sideMem);
      return;
    }

    // -- the same 50 stacks (one RandomString each) in each ---------------------------------
    const shown = new Map<Target, string>();
    for (const t of sides) {
      const urls: string[] = [];
      for (let i = 0; i < s.seed; i++) urls.push(await create(t, `seed-${i}`, template(1)));
      await untilAll(t, new Set(Array.from({ length: s.seed }, (_, i) => `seed-${i}`)), 'CREATE_COMPLETE');
      shown.set(t, urls[0]!);
      const listed = (need(await call(t, 'GET', '/stacks'), 200, 'list').stacks as unknown[]).length;
      log(`${t.short}: ${listed} stacks listed`);
    }

    // -- request cells -----------------------------------------------------------------------
    const rows: Array<Array<string | number>> = [];
    const cells: Array<{ what: string; spec: (t: Target) => RequestSpec }> = [
      { what: `GET /stacks (${s.seed})`, spec: (t) => ({ path: `${t.base}/stacks`, headers: t.headers }) },
      { what: 'GET /stacks/{name}/{id}', spec: (t) => ({ path: `${t.base}${shown.get(t)}`, headers: t.headers }) },
      {
        what: 'POST /validate (3 resources, 2 parameters, an output)',
        spec: (t) => ({
          method: 'POST',
          path: `${t.base}/validate`,
          headers: { ...t.headers, 'Content-Type': 'application/json' },
          body: JSON.stringify({ template: VALIDATE }),
        }),
      },
    ];
    for (const cell of cells)
      for (const c of [1, 8]) {
        const results: LoadResult[] = [];
        for (const t of sides) {
          const r = await runLoad({
            origin: t.origin,
            request: cell.spec(t),
            concurrency: c,
            durationMs: s.seconds * 1000,
            warmupRequests: 10,
            expectStatus: [200],
            timeoutMs: 60_000,
          });
          if (r.errors) log(`${t.short} ${cell.what}: ${r.errors} errors (${r.firstError})`);
          results.push(r);
          log(`${cell.what} c=${c} ${t.short}: ${fmt(r.rps)} req/s, p50 ${fmt(r.p50, 2)} ms`);
        }
        const [hr, sr] = results as [LoadResult, LoadResult];
        rows.push(sideBySideRow(cell.what, c, hr, sr));
      }

    // -- stacks created and deleted ----------------------------------------------------------
    const wall = (ms: number | null) =>
      ms === null ? '–' : ms >= 10_000 ? `${fmt(ms / 1000, 1)} s` : `${fmt(ms, 0)} ms`;
    const cpuS = (ms: number | null) => (ms === null ? '–' : `${fmt(ms / 1000, ms >= 10_000 ? 0 : 2)} s`);
    type Outcome = Timed | string;
    const stackCells: Array<{ what: string; got: Map<Target, Outcome> }> = [];
    const conc = new Map<Target, Outcome>();
    for (const t of sides) {
      try {
        const names = new Set(Array.from({ length: s.concurrent }, (_, i) => `conc-${i}`));
        let c0 = cpu(t);
        let t0 = performance.now();
        const urls = await Promise.all([...names].map((n) => create(t, n, template(s.perStack))));
        await untilAll(t, names, 'CREATE_COMPLETE');
        const created = performance.now() - t0;
        const createCpu = cpu(t) - c0;
        c0 = cpu(t);
        t0 = performance.now();
        await Promise.all(urls.map(async (u) => need(await call(t, 'DELETE', u), 204, `${t.short} delete`)));
        await untilAll(t, names, 'gone');
        const r: Timed = { created, deleted: performance.now() - t0, createCpu, deleteCpu: cpu(t) - c0 };
        conc.set(t, r);
        log(`${t.short} ${s.concurrent} × ${s.perStack} at once: create ${wall(r.created)}, delete ${wall(r.deleted)}`);
      } catch (e) {
        conc.set(t, (e as Error).message);
        log(`${t.short} concurrent stacks failed: ${(e as Error).message}`);
      }
    }
    stackCells.push({ what: `${s.concurrent} stacks × ${s.perStack} RandomString at once`, got: conc });
    for (const [n, capMs] of [
      [s.mid, s.timeoutMs],
      [s.randoms, s.capMs],
    ] as const) {
      const got = new Map<Target, Outcome>();
      for (const t of sides) {
        try {
          // Only Debian's heat is cut short: Stratus always runs to the end (within the timeout).
          const r = await cycle(t, `many-${n}`, template(n), t === debian ? capMs : s.timeoutMs);
          got.set(t, r);
          log(
            `${t.short} ${n} random strings: create ${wall(r.created)}${r.partial ? ` (cut: ${r.partial.done}/${r.partial.total} COMPLETE)` : ''}, delete ${wall(r.deleted)}`,
          );
        } catch (e) {
          got.set(t, (e as Error).message);
          log(`${t.short} ${n} random strings failed: ${(e as Error).message}`);
        }
      }
      stackCells.push({ what: `${n} × OS::Heat::RandomString in one stack`, got });
    }
    const stackRows: Array<Array<string | number>> = [];
    for (const cell of stackCells)
      for (const k of ['create', 'delete'] as const) {
        const show = (t: Target) => {
          const v = cell.got.get(t);
          if (v === undefined) return ['–', '–'];
          if (typeof v === 'string') return [`failed: ${v.slice(0, 100)}`, ''];
          if (k === 'create' && v.partial)
            return [
              `not done at the cap, ${wall(v.created)}: ${v.partial.done} of ${v.partial.total} resources COMPLETE`,
              cpuS(v.createCpu),
            ];
          if (k === 'delete' && v.deleted === null) return [`not gone within ${wall(v.deleteCapMs ?? 0)}`, '–'];
          return k === 'create' ? [wall(v.created), cpuS(v.createCpu)] : [wall(v.deleted), cpuS(v.deleteCpu)];
        };
        const h = cell.got.get(debian);
        const x = cell.got.get(stratus);
        const ratio =
          typeof h === 'object' && typeof x === 'object' && !h.partial
            ? k === 'create'
              ? `${fmt(h.created / x.created, 0)}×`
              : h.deleted !== null && x.deleted !== null
                ? `${fmt(h.deleted / x.deleted, 0)}×`
                : '–'
            : '–';
        stackRows.push([
          k === 'create' ? `${cell.what}: create → CREATE_COMPLETE` : '  … then delete → gone',
          ...show(debian),
          ...show(stratus),
          ratio,
        ]);
      }

    // -- memory --------------------------------------------------------------------------------
    const peak = new Map(sides.map((t) => [t, sideMem(t, 'VmHWM')]));
    const memRows = sides.map((t) => [
      t.name,
      idle.get(t)!.processes,
      `${fmt(idle.get(t)!.mb, 0)} MB`,
      `${fmt(peak.get(t)!.mb, 0)} MB`,
    ]);
    const perProcess = sides
      .flatMap((t) => t.pids().flatMap((root) => processTree(root)))
      .map((pid) => `${commandOf(pid)} ${fmt(procStatusKb(pid, 'VmHWM') / 1024, 0)} MB`)
      .join('; ');

    // -- the machine's limit -------------------------------------------------------------------
    const limit = await bareLimitRows(barePort, s.seconds);
    const showBytes = new Map<Target, number>();
    for (const t of sides) showBytes.set(t, (await call(t, 'GET', shown.get(t)!)).body.length);

    const report = new Report('orchestration-side', "Orchestration: Stratus and Debian's heat side by side");
    report
      .text(machineLine())
      .bullets([
        ...conditions,
        `load average at the end: ${os
          .loadavg()
          .map((l) => fmt(l))
          .join(' ')}`,
        `Debian's heat: python3-heat ${heatVersion()}: heat-api (\`[heat_api] workers = 1\`) and heat-engine (\`num_engine_workers = 1\`), eventlet, convergence_engine = true (Zed's default), SQLite, RabbitMQ transport (a private rabbitmq-server on loopback, not counted below), keystonemiddleware against Stratus's identity with Stratus's admin user as heat's service user and trustee; engine ready ${fmt(heat.readyMs / 1000, 1)} s after its start.`,
        `deferred_auth_method = ${s.deferredAuth} on both sides${s.deferredAuth === 'trusts' ? " (Zed's default: each stack create makes a trust from the user to the service user in Stratus's identity, each delete removes it)" : ''}; no stack domain (these stacks have no in-guest signalling).`,
        'Stratus: `stratus start --bare`, one process holding every service (its identity included), SQLite, in-process bus, one engine, convergence.',
        `Both behind the same Keystone token (Stratus's identity); heat-api validates it with keystonemiddleware (cached in-process after its first use), Stratus in-process. A stack show is ${showBytes.get(debian)} bytes from heat, ${showBytes.get(stratus)} from Stratus.`,
        `Closed-loop load (bench/lib/load.ts), keep-alive, ${s.seconds} s per cell after 10 warm-up requests.`,
        `Stack cells: wall time from the first POST until the stack show (one stack) or the stack list (many) says CREATE_COMPLETE, then from the DELETE until DELETE_COMPLETE/404 or gone from the list; polled every 5 % of the time spent so far (20 ms to 1 s). CPU: user + system time of the side's processes during the cell (less sensitive to the machine's load than wall time).`,
        `Why heat's stacks take seconds: Zed's convergence engine sleeps one second after dispatching each leaf of the graph (heat/engine/stack.py, Stack.converge_stack: \`if scheduler.ENABLE_SLEEP: eventlet.sleep(1)\` after each worker_client.check_resource cast), so a stack of N independent resources takes at least N seconds to create and again to delete, whatever the machine; the CPU column shows how little of that time heat is busy. Debian's heat is cut short after ${wall(s.capMs)} on the ${s.randoms}-resource stack (it needs at least ${s.randoms} s to create by that rule) and its delete after 1 min; what was COMPLETE at the cut is shown.`,
      ])
      .heading(`Requests per second and p50 (ms), ${s.seed} stacks of one RandomString in each`)
      .table(['request', 'c', 'heat req/s', 'heat p50', 'Stratus req/s', 'Stratus p50', 'Stratus / heat'], rows)
      .heading('Stacks created and deleted')
      .table(
        ['what', 'Debian heat (wall)', 'heat CPU', 'Stratus (wall)', 'Stratus CPU', 'heat / Stratus (wall)'],
        stackRows,
        ['l', 'r', 'r', 'r', 'r', 'r'],
      )
      .heading('Memory (all processes of each side)')
      .table(['side', 'processes', 'idle RSS', 'peak RSS (Σ VmHWM)'], memRows, ['l', 'r', 'r', 'r'])
      .text(`Peak per process: ${perProcess}.`)
      .text(
        sides
          .filter((t) => pollErrors.has(t))
          .map(
            (t) =>
              `${t.short}: ${pollErrors.get(t)!.n} status polls failed during the stack cells and were retried (first: ${pollErrors.get(t)!.first.replace(/\s+/g, ' ')}).`,
          )
          .join(' ') || 'No status poll failed.',
      )
      .heading("The machine's limit")
      .table(['server', 'c', 'req/s', 'p50'], limit);
    const file = report.write({ file: s.write });
    if (file) log(`written: ${path.relative(ROOT, file)}`);
  } finally {
    await stopAll();
    await broker.stop().catch(() => undefined);
    process.off('exit', onExit);
    if (s.keep) log(`kept: ${tmp}`);
    else fs.rmSync(tmp, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  }
}

type Cycle = (
  t: Target,
  name: string,
  tpl: unknown,
  capMs?: number,
) => Promise<{
  created: number;
  deleted: number | null;
  createCpu: number;
  deleteCpu: number | null;
  partial?: { done: number; total: number };
  deleteCapMs?: number;
}>;

/**
 * Issue 16's 100-resource stack through each side: Stratus, Debian's heat, Stratus again (the two
 * Stratus runs bracket heat's, which takes minutes on the same machine). Heat's engine makes the
 * objects in Stratus's nova, neutron and glance (its catalog), so heat's CPU column is heat's own
 * processes only: the Stratus process it calls is counted apart.
 */
async function hundredCells(
  s: Settings,
  sess: Session,
  sides: Target[],
  debian: Target,
  stratus: Target,
  cycle: Cycle,
  log: (line: string) => void,
  conditions: string[],
  heatReadyMs: number,
  idle: Map<Target, { mb: number; processes: number }>,
  sideMem: (t: Target, f: 'VmRSS' | 'VmHWM') => { mb: number; processes: number },
) {
  const api = async (method: string, url: string, body?: unknown, headers: Record<string, string> = {}) => {
    const r = await fetchOnce(url, {
      method,
      headers: {
        'X-Auth-Token': sess.token,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    return r;
  };
  const nova = sess.endpoint('compute')!;
  const neutron = sess.endpoint('network')!;
  const glance = sess.endpoint('image')!;
  const placement = sess.endpoint('placement')!;
  need(
    await api('PUT', `${nova}/os-quota-sets/${sess.projectId}`, { quota_set: { instances: -1, cores: -1, ram: -1 } }),
    200,
    'compute quotas',
  );
  need(
    await api('PUT', `${neutron}/v2.0/quotas/${sess.projectId}`, { quota: { network: -1, subnet: -1, port: -1 } }),
    200,
    'network quotas',
  );
  const flavor = need(
    await api('POST', `${nova}/flavors`, {
      flavor: { name: 'bench.nano', ram: 64, vcpus: 1, disk: 1, id: 'bench-nano' },
    }),
    200,
    'flavor',
  ).flavor as { id: string };
  const image = need(
    await api('POST', `${glance}/v2/images`, {
      name: 'bench',
      disk_format: 'raw',
      container_format: 'bare',
      visibility: 'public',
    }),
    201,
    'image',
  ) as { id: string };
  need(
    await api('PUT', `${glance}/v2/images/${image.id}/file`, 'bench image', {
      'Content-Type': 'application/octet-stream',
    }),
    204,
    'image upload',
  );
  for (let i = 0; ; i++) {
    const rps = need(await api('GET', `${placement}/resource_providers`), 200, 'placement')
      .resource_providers as unknown[];
    if (rps.length) break;
    if (i > 300) throw new Error('no compute node in placement after 30 s');
    await sleep(100);
  }
  const groups = 25;
  const tpl = serverTemplate(groups, { flavor: flavor.id, image: image.id });
  // The Stratus process's CPU during heat's cell: the nova/neutron/glance/identity work heat asked for.
  const stratusCpu = () => procCpuMs(stratus.pids()[0]!);
  const wall = (ms: number | null) =>
    ms === null ? '–' : ms >= 10_000 ? `${fmt(ms / 1000, 1)} s` : `${fmt(ms, 0)} ms`;
  const cpuS = (ms: number | null) => (ms === null ? '–' : `${fmt(ms / 1000, 2)} s`);
  const rows: Array<Array<string | number>> = [];
  const got: Array<{ t: Target; r: Awaited<ReturnType<Cycle>> | string; sc: number }> = [];
  const order: Array<[Target, number]> = [
    [stratus, 1],
    [debian, 1],
    [stratus, 2],
  ];
  for (const [t, i] of order) {
    const load0 = os.loadavg()[0]!;
    const sc0 = stratusCpu();
    let r: Awaited<ReturnType<Cycle>> | string;
    try {
      r = await cycle(t, `hundred-${i}`, tpl, t === debian ? s.hundredCapMs : s.timeoutMs);
    } catch (e) {
      r = (e as Error).message;
    }
    const sc = stratusCpu() - sc0;
    got.push({ t, r, sc });
    const load1 = os.loadavg()[0]!;
    const loads = `${fmt(load0, 1)} → ${fmt(load1, 1)}`;
    if (typeof r === 'string') {
      log(`${t.short} 100 resources #${i}: failed: ${r}`);
      rows.push([`${t.short} #${i}`, `failed: ${r.slice(0, 200)}`, '', '', '', '', loads]);
      continue;
    }
    const created = r.partial
      ? `not done at the cap, ${wall(r.created)}: ${r.partial.done} of ${r.partial.total} COMPLETE`
      : wall(r.created);
    const deleted = r.deleted === null ? `not gone within ${wall(r.deleteCapMs ?? 0)}` : wall(r.deleted);
    log(
      `${t.short} 100 resources #${i}: create ${created} (CPU ${cpuS(r.createCpu)}), delete ${deleted} (CPU ${cpuS(r.deleteCpu)}); Stratus process CPU over both ${cpuS(sc)}; load ${loads}`,
    );
    rows.push([
      `${t === debian ? "Debian's heat" : 'Stratus'} #${i}`,
      created,
      cpuS(r.createCpu),
      deleted,
      cpuS(r.deleteCpu),
      t === debian ? cpuS(sc) : '(same process)',
      loads,
    ]);
  }
  const peak = new Map(sides.map((t) => [t, sideMem(t, 'VmHWM')]));
  // heat against the mean of the two Stratus runs that bracket it.
  const x = got.filter((g) => g.t === stratus && typeof g.r !== 'string').map((g) => g.r as Awaited<ReturnType<Cycle>>);
  const h = got.find((g) => g.t === debian && typeof g.r !== 'string');
  const mean = (f: (r: Awaited<ReturnType<Cycle>>) => number | null) =>
    x.reduce((a, r) => a + (f(r) ?? Number.NaN), 0) / x.length;
  let summary = "Debian's heat did not complete the stack: no ratio.";
  if (h && x.length && typeof h.r !== 'string' && !h.r.partial && h.r.deleted !== null) {
    const hr = h.r;
    const xCpu = mean((r) => r.createCpu + (r.deleteCpu ?? Number.NaN));
    summary =
      `heat / Stratus (Stratus: the mean of its two runs): create ${fmt(hr.created / mean((r) => r.created), 1)}× the wall time, ` +
      `delete ${fmt((hr.deleted ?? 0) / mean((r) => r.deleted), 1)}×; CPU for create + delete: heat's processes ${cpuS(hr.createCpu + (hr.deleteCpu ?? 0))} ` +
      `plus ${cpuS(h.sc)} in the Stratus process serving its calls, against ${cpuS(xCpu)} for Stratus alone ` +
      `(${fmt((hr.createCpu + (hr.deleteCpu ?? 0) + h.sc) / xCpu, 1)}×).`;
  }
  const report = new Report(
    'orchestration-side',
    "Orchestration side by side: issue 16's 100-resource stack (networks, subnets, ports, servers) through Stratus and Debian's heat",
  );
  report
    .text(machineLine())
    .bullets([
      ...conditions,
      `load average at the end: ${os
        .loadavg()
        .map((l) => fmt(l))
        .join(' ')}`,
      `Debian's heat: python3-heat ${heatVersion()}: heat-api (1 worker) and heat-engine (num_engine_workers = 1), convergence on, SQLite, a private RabbitMQ broker, keystonemiddleware against Stratus's identity, deferred_auth_method = ${s.deferredAuth}; engine ready ${fmt(heatReadyMs / 1000, 1)} s after its start. Its engine makes the objects through Stratus's nova, neutron and glance (the catalog of Stratus's identity).`,
      "Stratus: `stratus start --bare` (SQLite, in-process bus, one engine, convergence), the fake compute driver; a flavor (1 vCPU, 64 MB) and a raw image made by the bench, used by both sides' templates (by id).",
      "The stack: 25 × (OS::Neutron::Net, OS::Neutron::Subnet on it, OS::Neutron::Port on both, OS::Nova::Server on that port) = 100 resources. Wall: from the POST until the stack show says CREATE_COMPLETE, then from the DELETE until 404/DELETE_COMPLETE; polled every 5 % of the time spent (20 ms to 1 s). CPU: user + system time of the side's own processes; for heat, the Stratus process it called (nova, neutron, glance, identity) is shown apart.",
      `Zed's convergence engine sleeps one second after dispatching each leaf of the graph (Stack.converge_stack): this stack has 25 leaves (the networks). Heat is cut short after ${wall(s.hundredCapMs)} (create) and its delete after 1 min when cut short.`,
    ])
    .table(
      [
        'run (in this order)',
        'create → COMPLETE',
        'side CPU',
        'delete → gone',
        'side CPU',
        'Stratus CPU for heat (create + delete)',
        'load (1 min)',
      ],
      rows,
      ['l', 'r', 'r', 'r', 'r', 'r', 'r'],
    )
    .text(summary)
    .table(
      ['side', 'processes', 'idle RSS', 'peak RSS (Σ VmHWM)'],
      sides.map((t) => [
        t.name,
        idle.get(t)!.processes,
        `${fmt(idle.get(t)!.mb, 0)} MB`,
        `${fmt(peak.get(t)!.mb, 0)} MB`,
      ]),
      ['l', 'r', 'r', 'r'],
    );
  const file = report.write({ file: s.write, suffix: 'hundred' });
  if (file) log(`written: ${path.relative(ROOT, file)}`);
}

/** A short name for a process: its program and, for python -c, the module it runs. */
function commandOf(pid: number): string {
  try {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    const mod = argv.join(' ').match(/from (heat\.cmd\.\w+)/)?.[1];
    if (mod) return mod.replace('heat.cmd.', 'heat-');
    return path.basename(argv[0] ?? '?') + (argv[1] ? ` ${path.basename(argv[1])}` : '');
  } catch {
    return `pid ${pid}`;
  }
}
