// Identity benchmark: token issue and validation, Stratus side by side with
// Keystone from Debian (served by uwsgi), and the machine's limit (a bare
// node:http server), all with the same load generator over loopback.
//
//   npm run bench -- identity [--seconds=5] [--quick] [--only=bare,keystone,stratus] [--no-write]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fetchOnce, runLoad, type LoadOptions, type LoadResult } from './lib/load.ts';
import {
  cpuBusy,
  freePort,
  procStatusKb,
  sleep,
  startServer,
  stopAll,
  tail,
  treeMemMb,
  waitQuiet,
  waitReady,
  type Server,
} from './lib/proc.ts';
import {
  keystoneMissing,
  keystoneVersion,
  removeSetup,
  setupKeystone,
  startKeystone,
  type KeystoneSetup,
} from './lib/keystone.ts';
import { fmt, machineLine, Report } from './lib/report.ts';
import { authBody, readCloudsYaml, tokensPath, type Creds } from './lib/stratus.ts';
import { stratusTarget } from './lib/target.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULT_COST = 12; // Keystone's default bcrypt cost
const MIN_COST = 4; // bcrypt's minimum
const IDLE_MS = 3000; // idle time before reading the idle RSS
const KS_CACHE = 'memory cache';

type Op = 'issue' | 'validate' | 'GET 1 KiB JSON';
type TargetName = 'Stratus' | 'Keystone' | 'bare node:http';

interface Row {
  target: TargetName;
  /** A non-default configuration of the target (Keystone + memory cache). */
  variant?: string;
  keepAlive: boolean;
  op: Op;
  cost?: number;
  bound: string;
  r: LoadResult;
}

const label = (r: { target: string; variant?: string; keepAlive: boolean }) =>
  r.target + (r.variant ? ` + ${r.variant}` : '') + (r.keepAlive ? '' : ' (no keep-alive)');

interface Resources {
  target: TargetName;
  config: string;
  startupMs?: number;
  /** VmRSS of the main process alone (the pid that was started). */
  idleMainMb?: number;
  idleRssMb?: number;
  peakRssMb?: number;
  processes?: number;
  error?: string;
}

interface Settings {
  cellMs: number;
  /** Requests for the count-bounded cost-12 issue cells at c=1 and c=8. */
  slowCount: [number, number];
  warmupMs: number;
  only: Set<string>;
  write: boolean;
  /** Wait up to this long for the machine to be quiet before starting. */
  waitQuietMs: number;
}

function parseArgs(args: string[]): Settings {
  const s: Settings = {
    cellMs: 5000,
    slowCount: [20, 40],
    warmupMs: 500,
    only: new Set(['bare', 'keystone', 'stratus']),
    write: true,
    waitQuietMs: 0,
  };
  for (const a of args) {
    const [k, v] = a.split('=', 2) as [string, string | undefined];
    if (k === '--quick') {
      s.cellMs = 1000;
      s.slowCount = [5, 10];
      s.warmupMs = 200;
    } else if (k === '--seconds' && v) s.cellMs = Number(v) * 1000;
    else if (k === '--only' && v) s.only = new Set(v.split(','));
    else if (k === '--no-write') s.write = false;
    else if (k === '--wait-quiet') s.waitQuietMs = Number(v ?? 60) * 1000;
    else
      throw new Error(
        `identity: unknown option ${a} (options: --seconds=N --quick --only=bare,keystone,stratus --no-write --wait-quiet[=S])`,
      );
  }
  return s;
}

async function issueToken(origin: string, c: Creds): Promise<string> {
  const r = await fetchOnce(origin + tokensPath(c.authUrl), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: authBody(c),
  });
  const tok = r.headers['x-subject-token'];
  if (r.status !== 201 || typeof tok !== 'string') {
    throw new Error(
      `token issue at ${c.authUrl} answered ${r.status} (expected 201 with X-Subject-Token): ${r.body.slice(0, 300)}`,
    );
  }
  return tok;
}

// ---------------------------------------------------------------------------

class Bench {
  rows: Row[] = [];
  resources: Resources[] = [];
  problems: string[] = [];
  conditions: string[] = [];
  constructor(readonly s: Settings) {}

  log(msg: string): void {
    process.stderr.write(`[bench identity] ${msg}\n`);
  }

  async cell(
    target: TargetName,
    variant: string | undefined,
    op: Op,
    cost: number | undefined,
    opts: LoadOptions,
  ): Promise<Row> {
    const bound =
      opts.maxRequests !== undefined ? `${opts.maxRequests} req` : `${fmt((opts.durationMs ?? 5000) / 1000, 0)} s`;
    const r = await runLoad(opts);
    const row: Row = { target, variant, keepAlive: opts.keepAlive ?? true, op, cost, bound, r };
    this.rows.push(row);
    const name = `${label(row)} ${op}${cost ? ` bcrypt ${cost}` : ''} c=${r.concurrency}`;
    this.log(
      `${name}: ${r.ok} ok, ${r.errors} errors, ${fmt(r.rps)} req/s, p50 ${fmt(r.p50)} ms, p99 ${fmt(r.p99)} ms`,
    );
    if (r.errors) this.problems.push(`${name}: ${r.errors} errors, first: ${r.firstError}`);
    return row;
  }

  timed(
    c: number,
    extra: Partial<LoadOptions> = {},
  ): Pick<LoadOptions, 'concurrency' | 'durationMs' | 'warmupMs'> & Partial<LoadOptions> {
    return { concurrency: c, durationMs: this.s.cellMs, warmupMs: this.s.warmupMs, ...extra };
  }

  counted(c: number): Pick<LoadOptions, 'concurrency' | 'maxRequests' | 'warmupRequests' | 'maxDurationMs'> {
    return {
      concurrency: c,
      maxRequests: c === 1 ? this.s.slowCount[0] : this.s.slowCount[1],
      warmupRequests: c,
      maxDurationMs: 60_000,
    };
  }

  /** Issue (and, when asked, validation) cells against one running identity service. */
  async identityCells(
    target: TargetName,
    variant: string | undefined,
    origin: string,
    creds: Creds,
    cost: number,
    opts: { validate: boolean; keepAlive: boolean },
  ): Promise<void> {
    const body = authBody(creds);
    const issue = {
      origin,
      keepAlive: opts.keepAlive,
      expectStatus: [201],
      request: {
        method: 'POST',
        path: tokensPath(creds.authUrl),
        headers: { 'Content-Type': 'application/json' },
        body,
      },
    };
    for (const c of [1, 8]) {
      await this.cell(target, variant, 'issue', cost, { ...issue, ...(cost >= 10 ? this.counted(c) : this.timed(c)) });
    }
    if (!opts.validate) return;
    const admin = await issueToken(origin, creds);
    const subject = await issueToken(origin, creds);
    const validate = {
      origin,
      keepAlive: opts.keepAlive,
      expectStatus: [200],
      request: {
        method: 'GET',
        path: tokensPath(creds.authUrl),
        headers: { 'X-Auth-Token': admin, 'X-Subject-Token': subject },
      },
    };
    for (const c of [1, 8]) await this.cell(target, variant, 'validate', undefined, { ...validate, ...this.timed(c) });
  }

  // -- the machine's limit ---------------------------------------------------
  async bare(): Promise<void> {
    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-bare-'));
    const server = startServer(
      'bare node:http',
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'bench/lib/bare-server.ts'), String(port)],
      {
        cwd: ROOT,
        logFile: path.join(dir, 'server.log'),
      },
    );
    try {
      const origin = `http://127.0.0.1:${port}`;
      await waitReady(server, `${origin}/v3`, 20_000);
      for (const keepAlive of [true, false]) {
        for (const c of [1, 8]) {
          await this.cell('bare node:http', undefined, 'GET 1 KiB JSON', undefined, {
            origin,
            keepAlive,
            request: { path: '/v3' },
            ...this.timed(c, keepAlive ? {} : { durationMs: Math.min(this.s.cellMs, 2000) }),
          });
        }
      }
    } finally {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  // -- Keystone --------------------------------------------------------------
  async keystone(setups: Map<number, Promise<KeystoneSetup>>): Promise<void> {
    // Validation does not depend on the bcrypt cost: it is measured on the cost-4 instances.
    const runs: { cost: number; cache: boolean }[] = [
      { cost: MIN_COST, cache: false },
      { cost: MIN_COST, cache: true },
      { cost: DEFAULT_COST, cache: false },
    ];
    const done = new Set<KeystoneSetup>();
    for (const { cost, cache } of runs) {
      const variant = cache ? KS_CACHE : undefined;
      const res: Resources = {
        target: 'Keystone',
        config: `bcrypt ${cost}${cache ? ', ' + KS_CACHE : ''}, uwsgi 2 processes × 1 thread`,
      };
      this.resources.push(res);
      try {
        const setup = await setups.get(cost)!;
        if (!done.has(setup))
          this.log(`Keystone (bcrypt ${cost}) set up in ${fmt(setup.setupMs / 1000)} s: ${setup.dir}`);
        done.add(setup);
        const ks = await startKeystone(setup, 2, { cache });
        try {
          res.startupMs = ks.startupMs;
          await sleep(IDLE_MS);
          const idle = treeMemMb(ks.server.pid, 'VmRSS');
          res.idleMainMb = procStatusKb(ks.server.pid, 'VmRSS') / 1024;
          res.idleRssMb = idle.mb;
          res.processes = idle.processes;
          const creds: Creds = {
            authUrl: ks.authUrl,
            username: 'admin',
            password: setup.password,
            projectName: 'admin',
            userDomain: { name: 'Default' },
            projectDomain: { name: 'Default' },
          };
          await this.identityCells('Keystone', variant, ks.origin, creds, cost, {
            validate: cost === MIN_COST,
            keepAlive: false,
          });
          res.peakRssMb = treeMemMb(ks.server.pid, 'VmHWM').mb;
        } finally {
          await ks.stop();
        }
      } catch (e) {
        res.error = (e as Error).message.split('\n')[0];
        this.problems.push(`Keystone (bcrypt ${cost}${cache ? ', cache' : ''}): ${(e as Error).message}`);
        this.log(`Keystone (bcrypt ${cost}) failed: ${(e as Error).message}`);
      }
    }
    for (const p of setups.values()) await p.then(removeSetup, () => {});
  }

  // -- Stratus ---------------------------------------------------------------
  async startStratus(
    cost: number,
    dataDir: string,
    logFile: string,
  ): Promise<{ server: Server; port: number; startupMs: number }> {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      STRATUS_PASSWORD_HASH_ROUNDS: String(cost),
      // Leave the user's ~/.config/openstack/clouds.yaml alone.
      STRATUS_USER_CLOUDS: '0',
    };
    for (const k of ['STRATUS_DATA_DIR', 'STRATUS_PORT', 'STRATUS_CONFIG', 'STRATUS_HOST']) delete env[k];
    const target = stratusTarget();
    const server = startServer(
      `stratus (bcrypt ${cost})`,
      process.execPath,
      [target.file, 'start', '--data-dir', dataDir, '--port', String(port)],
      {
        cwd: target.root,
        logFile,
        env,
      },
    );
    const stop = server.stop.bind(server);
    server.stop = async () => {
      await stop();
      target.cleanup();
    };
    try {
      const startupMs = await waitReady(server, `http://127.0.0.1:${port}/identity/v3`, 30_000, 200, 10);
      // Identity answers before bootstrap has written clouds.yaml: wait for the file too (a loaded machine).
      const deadline = Date.now() + 60_000;
      while (!fs.existsSync(path.join(dataDir, 'clouds.yaml')) && Date.now() < deadline) await sleep(100);
      return { server, port, startupMs };
    } catch (e) {
      await server.stop();
      throw e;
    }
  }

  async stratus(): Promise<void> {
    if (!fs.existsSync(stratusTarget(undefined, '').file)) {
      this.problems.push('Stratus: bin/stratus.js not found');
      return;
    }
    for (const cost of [DEFAULT_COST, MIN_COST]) {
      const res: Resources = { target: 'Stratus', config: `bcrypt ${cost}, first start (fresh data dir)` };
      this.resources.push(res);
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-stratus-r${cost}-`));
      const logFile = path.join(os.tmpdir(), `${path.basename(dataDir)}.log`);
      let keep = false;
      try {
        const { server, port, startupMs } = await this.startStratus(cost, dataDir, logFile);
        res.startupMs = startupMs;
        try {
          await sleep(IDLE_MS);
          const idle = treeMemMb(server.pid, 'VmRSS');
          res.idleMainMb = procStatusKb(server.pid, 'VmRSS') / 1024;
          res.idleRssMb = idle.mb;
          res.processes = idle.processes;
          const creds = readCloudsYaml(dataDir);
          const authHost = new URL(creds.authUrl).hostname;
          if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(authHost)) {
            this.log(`clouds.yaml auth_url ${creds.authUrl} is not loopback; benchmarking 127.0.0.1:${port} instead`);
          }
          const origin = `http://127.0.0.1:${port}`;
          await this.identityCells('Stratus', undefined, origin, creds, cost, {
            validate: cost === MIN_COST,
            keepAlive: true,
          });
          res.peakRssMb = treeMemMb(server.pid, 'VmHWM').mb;
        } finally {
          await server.stop();
        }
        if (cost === DEFAULT_COST) {
          // Start-up again on the now-initialised data directory.
          const again: Resources = { target: 'Stratus', config: `bcrypt ${cost}, restart (existing data dir)` };
          this.resources.push(again);
          const r = await this.startStratus(cost, dataDir, logFile);
          again.startupMs = r.startupMs;
          await sleep(IDLE_MS);
          const idle = treeMemMb(r.server.pid, 'VmRSS');
          again.idleMainMb = procStatusKb(r.server.pid, 'VmRSS') / 1024;
          again.idleRssMb = idle.mb;
          again.processes = idle.processes;
          await r.server.stop();
        }
      } catch (e) {
        keep = true;
        const msg = (e as Error).message;
        res.error = msg.split('\n')[0];
        this.problems.push(
          `Stratus (bcrypt ${cost}): ${msg}\n  server log: ${logFile} (last lines below)\n${tail(logFile, 20).replace(/^/gm, '    ')}`,
        );
        this.log(`Stratus (bcrypt ${cost}) failed: ${msg}`);
      } finally {
        if (!keep) {
          fs.rmSync(dataDir, { recursive: true, force: true });
          fs.rmSync(logFile, { force: true });
        }
      }
    }
  }

  // -- report ----------------------------------------------------------------
  /** variant: undefined = the default configuration; keepAlive: undefined = either. */
  find(target: TargetName, op: Op, c: number, cost?: number, variant?: string, keepAlive?: boolean): Row | undefined {
    return this.rows.find(
      (r) =>
        r.target === target &&
        r.op === op &&
        r.r.concurrency === c &&
        r.cost === cost &&
        r.variant === variant &&
        (keepAlive === undefined || r.keepAlive === keepAlive),
    );
  }

  report(startedAt: Date, wallMs: number): Report {
    const rep = new Report(
      'identity',
      `Identity benchmark — ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    );
    rep.text(
      [
        `Machine: ${machineLine()}. Total wall time ${fmt(wallMs / 1000, 0)} s; ${this.conditions.join(', ')}` +
          ' (other work on the machine skews every number: compare rows of one run, not runs).',
        `Keystone ${keystoneVersion()} (Debian), SQLite, fernet tokens, Keystone's default (no) cache unless "+ ${KS_CACHE}" ` +
          '(oslo.cache dogpile.cache.memory, in-process: an upper bound for memcached); uwsgi --http-socket, 2 processes × 1 thread, ' +
          'which closes the connection after each answer, so Keystone runs without keep-alive (the bare-node rows show what that costs). ' +
          'Stratus: `node bin/stratus.js start`, SQLite, keep-alive.',
        `Closed-loop load generator (bench/lib/load.ts, node:http) in the benchmark process, on the same ${os.cpus().length} cores as the server. ` +
          `Time-bounded cells run ${fmt(this.s.cellMs / 1000, 0)} s after ${this.s.warmupMs} ms of warm-up; bcrypt-${DEFAULT_COST} issue cells are count-bounded. ` +
          'issue = POST /v3/auth/tokens (password, project-scoped); validate = GET /v3/auth/tokens (X-Auth-Token: admin token, X-Subject-Token: another token).',
      ].join('\n'),
    );

    rep.heading('Throughput and latency');
    const order: TargetName[] = ['bare node:http', 'Keystone', 'Stratus'];
    const ops: Op[] = ['GET 1 KiB JSON', 'validate', 'issue'];
    const sorted = [...this.rows].sort(
      (a, b) =>
        order.indexOf(a.target) - order.indexOf(b.target) ||
        ops.indexOf(a.op) - ops.indexOf(b.op) ||
        (a.cost ?? 0) - (b.cost ?? 0) ||
        Number(b.keepAlive) - Number(a.keepAlive) ||
        (a.variant ?? '').localeCompare(b.variant ?? '') ||
        a.r.concurrency - b.r.concurrency,
    );
    rep.table(
      ['target', 'operation', 'bcrypt', 'c', 'run', 'ok', 'errors', 'req/s', 'p50 ms', 'p99 ms'],
      sorted.map((r) => [
        label(r),
        r.op,
        r.cost ?? '',
        r.r.concurrency,
        r.bound,
        r.r.ok,
        r.r.errors,
        fmt(r.r.rps),
        fmt(r.r.p50),
        fmt(r.r.p99),
      ]),
      ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    );

    rep.heading('Stratus / Keystone');
    const ratioRows: (string | number)[][] = [];
    const pairs: [Op, number | undefined][] = [
      ['validate', undefined],
      ['issue', MIN_COST],
      ['issue', DEFAULT_COST],
    ];
    const x = (a: number | undefined, b: number | undefined) =>
      a !== undefined && b !== undefined && b > 0 ? `${fmt(a / b)}×` : '–';
    for (const [op, cost] of pairs) {
      for (const c of [1, 8]) {
        const s = this.find('Stratus', op, c, cost);
        const k = this.find('Keystone', op, c, cost);
        const kc = this.find('Keystone', op, c, cost, KS_CACHE);
        const bare = this.find('bare node:http', 'GET 1 KiB JSON', c, undefined, undefined, true);
        if (!k && !kc) continue;
        ratioRows.push([
          op,
          cost ?? '',
          c,
          x(s?.r.rps, k?.r.rps),
          x(k?.r.p50, s?.r.p50),
          x(s?.r.rps, kc?.r.rps),
          s && bare ? `${fmt((100 * s.r.rps) / bare.r.rps, 0)} %` : '–',
        ]);
      }
    }
    rep.table(
      [
        'operation',
        'bcrypt',
        'c',
        'req/s ratio',
        'p50 ratio (Keystone/Stratus)',
        `req/s ratio vs Keystone + ${KS_CACHE}`,
        'Stratus req/s as % of bare node',
      ],
      ratioRows,
      ['l', 'r', 'r', 'r', 'r', 'r', 'r'],
    );

    rep.heading('Start-up and memory');
    const mb = (v: number | undefined) => (v !== undefined ? `${fmt(v, 0)} MB` : '–');
    rep.table(
      [
        'target',
        'configuration',
        'start-up to first answer',
        'RSS idle, main process',
        'RSS idle, all processes',
        'peak RSS after load, all',
        'processes',
      ],
      this.resources.map((r) => [
        r.target,
        r.config,
        r.error ? `failed: ${r.error.slice(0, 80)}` : r.startupMs !== undefined ? `${fmt(r.startupMs, 0)} ms` : '–',
        mb(r.idleMainMb),
        mb(r.idleRssMb),
        mb(r.peakRssMb),
        r.processes ?? '–',
      ]),
      ['l', 'l', 'r', 'r', 'r', 'r', 'r'],
    );
    rep.text(
      `RSS: VmRSS after start-up and ${IDLE_MS / 1000} s idle, and VmHWM (peak) after the load, from /proc; "all processes" sums the server's process tree ` +
        '(uwsgi master + workers; Stratus plus any child, e.g. the esbuild service tsx may start). MB = MiB. ' +
        'Start-up: from spawning the process (uwsgi; `node bin/stratus.js start`) to the first 200 from GET /v3 (Keystone) or GET /identity/v3 (Stratus).',
    );

    rep.heading('Goals');
    rep.bullets(this.goals());
    if (this.problems.length) {
      rep.heading('Problems');
      rep.bullets(this.problems.map((p) => p.split('\n')[0]!.slice(0, 300)));
    }
    return rep;
  }

  goals(): string[] {
    const out: string[] = [];
    const verdict = (ok: boolean | undefined) =>
      ok === undefined ? '**not measured**' : ok ? '**met**' : '**not met**';
    const sv1 = this.find('Stratus', 'validate', 1);
    out.push(
      `Validation p50 < 1 ms (Stratus, c=1): ${sv1 ? `${fmt(sv1.r.p50)} ms` : '–'} → ${verdict(sv1 ? sv1.r.p50 < 1 : undefined)}`,
    );
    const ratio = (op: Op, cost: number | undefined, want: number, label: string) => {
      const rs = [1, 8].map((c) => {
        const s = this.find('Stratus', op, c, cost);
        const k = this.find('Keystone', op, c, cost);
        return s && k && k.r.rps > 0 ? { c, x: s.r.rps / k.r.rps } : undefined;
      });
      const known = rs.filter((x): x is { c: number; x: number } => !!x);
      const ok = known.length === 2 ? known.every((x) => x.x >= want) : undefined;
      out.push(
        `${label} ≥ ${want}× Keystone's: ${known.map((x) => `c=${x.c} ${fmt(x.x)}×`).join(', ') || '–'} → ${verdict(ok)}`,
      );
    };
    ratio('validate', undefined, 20, 'Validation throughput');
    ratio('issue', MIN_COST, 10, `Issue throughput at bcrypt ${MIN_COST}`);
    const idle = this.resources.filter((r) => r.target === 'Stratus' && r.idleMainMb !== undefined);
    const maxIdle = idle.length ? Math.max(...idle.map((r) => r.idleMainMb!)) : undefined;
    const maxTree = idle.length ? Math.max(...idle.map((r) => r.idleRssMb ?? 0)) : undefined;
    out.push(
      `RSS at idle < 150 MB (Stratus process VmRSS, largest idle reading): ${maxIdle !== undefined ? `${fmt(maxIdle, 0)} MB` : '–'}` +
        `${maxTree !== undefined && maxTree - (maxIdle ?? 0) > 1 ? ` (${fmt(maxTree, 0)} MB with child processes)` : ''} → ${verdict(maxIdle !== undefined ? maxIdle < 150 : undefined)}`,
    );
    const first = this.resources.find(
      (r) =>
        r.target === 'Stratus' && r.config.includes('first start') && r.config.startsWith(`bcrypt ${DEFAULT_COST}`),
    );
    const restart = this.resources.find((r) => r.target === 'Stratus' && r.config.includes('restart'));
    const starts = [first, restart].filter((r) => r?.startupMs !== undefined) as Resources[];
    const worst = starts.length ? Math.max(...starts.map((r) => r.startupMs!)) : undefined;
    out.push(
      `Start-up < 2 s (Stratus, first start and restart): ${starts.map((r) => `${fmt(r.startupMs! / 1000)} s`).join(' / ') || '–'} → ${verdict(worst !== undefined && first?.startupMs !== undefined ? worst < 2000 : undefined)}`,
    );
    return out;
  }
}

export async function run(args: string[]): Promise<void> {
  const s = parseArgs(args);
  const startedAt = new Date();
  const t0 = performance.now();
  const bench = new Bench(s);
  let busyBefore: number;
  if (s.waitQuietMs > 0) {
    bench.log(`waiting up to ${s.waitQuietMs / 1000} s for the machine to be quiet ...`);
    busyBefore = await waitQuiet(s.waitQuietMs, 0.15, (b) => bench.log(`machine ${fmt(100 * b, 0)} % busy; waiting`));
  } else {
    busyBefore = await cpuBusy(1000);
  }
  bench.conditions.push(
    `CPU busy before the run: ${fmt(100 * busyBefore, 0)} %`,
    `load average at start: ${os
      .loadavg()
      .map((l) => fmt(l))
      .join(' ')}`,
  );
  try {
    // Keystone's set-up (db_sync, keys, bootstrap: ~20 s of python) runs before anything is measured.
    const setups = new Map<number, Promise<KeystoneSetup>>();
    if (s.only.has('keystone')) {
      const missing = keystoneMissing();
      if (missing) {
        bench.problems.push(`Keystone: ${missing}`);
        s.only.delete('keystone');
      } else {
        bench.log('setting up Keystone (bcrypt 4 and 12) ...');
        for (const cost of [MIN_COST, DEFAULT_COST]) {
          const p = setupKeystone({ rounds: cost, password: `bench-${cost}-${process.pid}` });
          p.catch(() => {}); // handled where awaited
          setups.set(cost, p);
        }
        await Promise.allSettled(setups.values());
      }
    }
    if (s.only.has('bare')) await bench.bare();
    if (s.only.has('keystone')) await bench.keystone(setups);
    if (s.only.has('stratus')) await bench.stratus();
  } finally {
    await stopAll();
  }
  bench.conditions.push(
    `at end: ${os
      .loadavg()
      .map((l) => fmt(l))
      .join(' ')}`,
  );
  const rep = bench.report(startedAt, performance.now() - t0);
  const file = rep.write({ file: s.write });
  if (bench.problems.length) {
    process.stderr.write('\nProblems (details):\n' + bench.problems.map((p) => `- ${p}`).join('\n') + '\n');
  }
  if (file) process.stderr.write(`\nreport written to ${path.relative(process.cwd(), file)}\n`);
}
