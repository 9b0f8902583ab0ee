// Identity benchmark: token issue and validation, Stratus side by side with
// Keystone from Debian (served by uwsgi), and the machine's limit (a bare
// node:http server), all with the same load generator over loopback.
//
//   npm run bench -- identity [--seconds=5] [--quick] [--only=bare,keystone,stratus] [--no-write]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { fetchOnce, runLoad, type LoadOptions, type LoadResult } from './lib/load.ts';
import { freePort, sleep, startServer, stopAll, tail, treeMemMb, waitReady, type Server } from './lib/proc.ts';
import { keystoneMissing, keystoneVersion, removeSetup, setupKeystone, startKeystone, type KeystoneSetup } from './lib/keystone.ts';
import { fmt, machineLine, Report } from './lib/report.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULT_COST = 12; // Keystone's default bcrypt cost
const MIN_COST = 4; // bcrypt's minimum
const IDLE_MS = 3000; // idle time before reading the idle RSS

type Op = 'issue' | 'validate' | 'GET 1 KiB JSON';
type TargetName = 'Stratus' | 'Keystone' | 'bare node:http';

interface Row {
  target: TargetName;
  op: Op;
  cost?: number;
  note?: string;
  bound: string;
  r: LoadResult;
}

interface Resources {
  target: TargetName;
  config: string;
  startupMs?: number;
  idleRssMb?: number;
  peakRssMb?: number;
  processes?: number;
  error?: string;
}

interface Creds {
  authUrl: string;
  username: string;
  password: string;
  projectName: string;
  userDomain: { name?: string; id?: string };
  projectDomain: { name?: string; id?: string };
}

interface Settings {
  cellMs: number;
  /** Requests for the count-bounded cost-12 issue cells at c=1 and c=8. */
  slowCount: [number, number];
  warmupMs: number;
  only: Set<string>;
  write: boolean;
}

function parseArgs(args: string[]): Settings {
  const s: Settings = { cellMs: 5000, slowCount: [20, 40], warmupMs: 500, only: new Set(['bare', 'keystone', 'stratus']), write: true };
  for (const a of args) {
    const [k, v] = a.split('=', 2) as [string, string | undefined];
    if (k === '--quick') { s.cellMs = 1000; s.slowCount = [5, 10]; s.warmupMs = 200; }
    else if (k === '--seconds' && v) s.cellMs = Number(v) * 1000;
    else if (k === '--only' && v) s.only = new Set(v.split(','));
    else if (k === '--no-write') s.write = false;
    else throw new Error(`identity: unknown option ${a} (options: --seconds=N --quick --only=bare,keystone,stratus --no-write)`);
  }
  return s;
}

function authBody(c: Creds): string {
  return JSON.stringify({
    auth: {
      identity: { methods: ['password'], password: { user: { name: c.username, domain: c.userDomain, password: c.password } } },
      scope: { project: { name: c.projectName, domain: c.projectDomain } },
    },
  });
}

function tokensPath(authUrl: string): string {
  const u = new URL(authUrl);
  const p = u.pathname.replace(/\/+$/, '');
  return (p.endsWith('/v3') ? p : `${p}/v3`) + '/auth/tokens';
}

async function issueToken(origin: string, c: Creds): Promise<string> {
  const r = await fetchOnce(origin + tokensPath(c.authUrl), {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: authBody(c),
  });
  const tok = r.headers['x-subject-token'];
  if (r.status !== 201 || typeof tok !== 'string') {
    throw new Error(`token issue at ${c.authUrl} answered ${r.status} (expected 201 with X-Subject-Token): ${r.body.slice(0, 300)}`);
  }
  return tok;
}

function readCloudsYaml(dataDir: string): Creds {
  const file = path.join(dataDir, 'clouds.yaml');
  if (!fs.existsSync(file)) throw new Error(`${file} was not written by the server`);
  const doc = YAML.parse(fs.readFileSync(file, 'utf8')) as { clouds?: Record<string, { auth?: Record<string, string> }> };
  const auth = doc.clouds?.stratus?.auth;
  if (!auth) throw new Error(`${file} has no clouds.stratus.auth`);
  const need = (k: string) => {
    const v = auth[k];
    if (!v) throw new Error(`${file}: clouds.stratus.auth.${k} is missing`);
    return String(v);
  };
  const dom = (kind: 'user' | 'project') =>
    auth[`${kind}_domain_id`] ? { id: String(auth[`${kind}_domain_id`]) } : { name: auth[`${kind}_domain_name`] ?? 'Default' };
  return {
    authUrl: need('auth_url'), username: need('username'), password: need('password'),
    projectName: need('project_name'), userDomain: dom('user'), projectDomain: dom('project'),
  };
}

// ---------------------------------------------------------------------------

class Bench {
  rows: Row[] = [];
  resources: Resources[] = [];
  problems: string[] = [];
  constructor(readonly s: Settings) {}

  log(msg: string): void {
    process.stderr.write(`[bench identity] ${msg}\n`);
  }

  async cell(target: TargetName, op: Op, cost: number | undefined, opts: LoadOptions, note?: string): Promise<Row> {
    const bound = opts.maxRequests !== undefined ? `${opts.maxRequests} req` : `${fmt((opts.durationMs ?? 5000) / 1000, 0)} s`;
    const r = await runLoad(opts);
    const row: Row = { target, op, cost, note, bound, r };
    this.rows.push(row);
    this.log(`${target} ${op}${cost ? ` bcrypt ${cost}` : ''} c=${r.concurrency}: ${r.ok} ok, ${r.errors} errors, ${fmt(r.rps)} req/s, p50 ${fmt(r.p50)} ms, p99 ${fmt(r.p99)} ms`);
    if (r.errors) this.problems.push(`${target} ${op}${cost ? ` (bcrypt ${cost})` : ''} c=${r.concurrency}: ${r.errors} errors, first: ${r.firstError}`);
    return row;
  }

  timed(c: number, extra: Partial<LoadOptions> = {}): Pick<LoadOptions, 'concurrency' | 'durationMs' | 'warmupMs'> & Partial<LoadOptions> {
    return { concurrency: c, durationMs: this.s.cellMs, warmupMs: this.s.warmupMs, ...extra };
  }

  counted(c: number): Pick<LoadOptions, 'concurrency' | 'maxRequests' | 'warmupRequests' | 'maxDurationMs'> {
    return { concurrency: c, maxRequests: c === 1 ? this.s.slowCount[0] : this.s.slowCount[1], warmupRequests: c, maxDurationMs: 60_000 };
  }

  /** Issue (and, when asked, validation) cells against one running identity service. */
  async identityCells(target: TargetName, origin: string, creds: Creds, cost: number, opts: { validate: boolean; keepAlive: boolean }): Promise<void> {
    const body = authBody(creds);
    const issue = {
      origin, keepAlive: opts.keepAlive, expectStatus: [201],
      request: { method: 'POST', path: tokensPath(creds.authUrl), headers: { 'Content-Type': 'application/json' }, body },
    };
    const note = opts.keepAlive ? undefined : 'no keep-alive';
    for (const c of [1, 8]) {
      await this.cell(target, 'issue', cost, { ...issue, ...(cost >= 10 ? this.counted(c) : this.timed(c)) }, note);
    }
    if (!opts.validate) return;
    const admin = await issueToken(origin, creds);
    const subject = await issueToken(origin, creds);
    const validate = {
      origin, keepAlive: opts.keepAlive, expectStatus: [200],
      request: { method: 'GET', path: tokensPath(creds.authUrl), headers: { 'X-Auth-Token': admin, 'X-Subject-Token': subject } },
    };
    for (const c of [1, 8]) await this.cell(target, 'validate', undefined, { ...validate, ...this.timed(c) }, note);
  }

  // -- the machine's limit ---------------------------------------------------
  async bare(): Promise<void> {
    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-bare-'));
    const server = startServer('bare node:http', process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench/lib/bare-server.ts'), String(port)], {
      cwd: ROOT, logFile: path.join(dir, 'server.log'),
    });
    try {
      const origin = `http://127.0.0.1:${port}`;
      await waitReady(server, `${origin}/v3`, 20_000);
      for (const keepAlive of [true, false]) {
        for (const c of [1, 8]) {
          await this.cell('bare node:http', 'GET 1 KiB JSON', undefined,
            { origin, keepAlive, request: { path: '/v3' }, ...this.timed(c, keepAlive ? {} : { durationMs: Math.min(this.s.cellMs, 2000) }) },
            keepAlive ? undefined : 'no keep-alive');
        }
      }
    } finally {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  // -- Keystone --------------------------------------------------------------
  async keystone(setups: Map<number, Promise<KeystoneSetup>>): Promise<void> {
    for (const cost of [MIN_COST, DEFAULT_COST]) {
      const res: Resources = { target: 'Keystone', config: `bcrypt ${cost}, uwsgi 2 processes × 1 thread` };
      this.resources.push(res);
      let setup: KeystoneSetup | undefined;
      try {
        setup = await setups.get(cost)!;
        this.log(`Keystone (bcrypt ${cost}) set up in ${fmt(setup.setupMs / 1000)} s: ${setup.dir}`);
        const ks = await startKeystone(setup, 2);
        try {
          res.startupMs = ks.startupMs;
          await sleep(IDLE_MS);
          const idle = treeMemMb(ks.server.pid, 'VmRSS');
          res.idleRssMb = idle.mb;
          res.processes = idle.processes;
          const creds: Creds = {
            authUrl: ks.authUrl, username: 'admin', password: setup.password, projectName: 'admin',
            userDomain: { name: 'Default' }, projectDomain: { name: 'Default' },
          };
          // Validation does not depend on the bcrypt cost: measure it on the cost-4 instance.
          await this.identityCells('Keystone', ks.origin, creds, cost, { validate: cost === MIN_COST, keepAlive: false });
          res.peakRssMb = treeMemMb(ks.server.pid, 'VmHWM').mb;
        } finally {
          await ks.stop();
        }
      } catch (e) {
        res.error = (e as Error).message.split('\n')[0];
        this.problems.push(`Keystone (bcrypt ${cost}): ${(e as Error).message}`);
        this.log(`Keystone (bcrypt ${cost}) failed: ${(e as Error).message}`);
      } finally {
        if (setup) removeSetup(setup);
      }
    }
  }

  // -- Stratus ---------------------------------------------------------------
  async startStratus(cost: number, dataDir: string, logFile: string): Promise<{ server: Server; port: number; startupMs: number }> {
    const port = await freePort();
    const server = startServer(`stratus (bcrypt ${cost})`, process.execPath, [path.join(ROOT, 'bin/stratus.js'), 'start', '--data-dir', dataDir, '--port', String(port)], {
      cwd: ROOT, logFile, env: { ...process.env, STRATUS_PASSWORD_HASH_ROUNDS: String(cost) },
    });
    try {
      const startupMs = await waitReady(server, `http://127.0.0.1:${port}/identity/v3`, 30_000, 200, 10);
      return { server, port, startupMs };
    } catch (e) {
      await server.stop();
      throw e;
    }
  }

  async stratus(): Promise<void> {
    if (!fs.existsSync(path.join(ROOT, 'bin/stratus.js'))) {
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
          res.idleRssMb = idle.mb;
          res.processes = idle.processes;
          const creds = readCloudsYaml(dataDir);
          const authHost = new URL(creds.authUrl).hostname;
          if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(authHost)) {
            this.log(`clouds.yaml auth_url ${creds.authUrl} is not loopback; benchmarking 127.0.0.1:${port} instead`);
          }
          const origin = `http://127.0.0.1:${port}`;
          await this.identityCells('Stratus', origin, creds, cost, { validate: cost === MIN_COST, keepAlive: true });
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
          again.idleRssMb = idle.mb;
          again.processes = idle.processes;
          await r.server.stop();
        }
      } catch (e) {
        keep = true;
        const msg = (e as Error).message;
        res.error = msg.split('\n')[0];
        this.problems.push(`Stratus (bcrypt ${cost}): ${msg}\n  server log: ${logFile} (last lines below)\n${tail(logFile, 20).replace(/^/gm, '    ')}`);
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
  /** note: undefined = any row, null = only rows without a note. */
  find(target: TargetName, op: Op, c: number, cost?: number, note?: string | null): Row | undefined {
    return this.rows.find((r) => r.target === target && r.op === op && r.r.concurrency === c && r.cost === cost &&
      (note === undefined || (r.note ?? null) === note));
  }

  report(startedAt: Date, wallMs: number): Report {
    const rep = new Report('identity', `Identity benchmark — ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`);
    rep.text([
      `Machine: ${machineLine()}.`,
      `Keystone ${keystoneVersion()} (Debian) on uwsgi --http-socket, 2 processes × 1 thread, SQLite, fernet tokens, no cache; ` +
        'uwsgi closes the connection after each answer, so Keystone is measured without keep-alive ' +
        '(the bare-node rows show what that costs). Stratus: `node bin/stratus.js start`, SQLite, keep-alive.',
      `Closed-loop load generator (bench/lib/load.ts) in the benchmark process, on the same ${os.cpus().length} cores as the server; ` +
        `time-bounded cells ${fmt(this.s.cellMs / 1000, 0)} s after ${this.s.warmupMs} ms warm-up; ` +
        `bcrypt ${DEFAULT_COST} issue cells are count-bounded. Issue = POST /v3/auth/tokens (password, project-scoped); ` +
        'validate = GET /v3/auth/tokens with X-Auth-Token (admin) and X-Subject-Token. Total wall time ' + `${fmt(wallMs / 1000, 0)} s.`,
    ].join('\n'));

    rep.heading('Throughput and latency');
    const order: TargetName[] = ['bare node:http', 'Keystone', 'Stratus'];
    const sorted = [...this.rows].sort((a, b) =>
      order.indexOf(a.target) - order.indexOf(b.target) || a.op.localeCompare(b.op) || (a.cost ?? 0) - (b.cost ?? 0) ||
      (a.note ?? '').localeCompare(b.note ?? '') || a.r.concurrency - b.r.concurrency);
    rep.table(
      ['target', 'operation', 'bcrypt', 'c', 'run', 'ok', 'errors', 'req/s', 'p50 ms', 'p99 ms'],
      sorted.map((r) => [
        r.target + (r.note ? ` (${r.note})` : ''), r.op, r.cost ?? '', r.r.concurrency, r.bound, r.r.ok, r.r.errors,
        fmt(r.r.rps), fmt(r.r.p50), fmt(r.r.p99),
      ]),
      ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    );

    rep.heading('Stratus / Keystone');
    const ratioRows: (string | number)[][] = [];
    const pairs: [Op, number | undefined][] = [['validate', undefined], ['issue', MIN_COST], ['issue', DEFAULT_COST]];
    for (const [op, cost] of pairs) {
      for (const c of [1, 8]) {
        const s = this.find('Stratus', op, c, cost);
        const k = this.find('Keystone', op, c, cost);
        const bare = this.find('bare node:http', 'GET 1 KiB JSON', c, undefined, null);
        ratioRows.push([op, cost ?? '', c,
          s && k ? `${fmt(s.r.rps / k.r.rps)}×` : '–',
          s && k ? `${fmt(k.r.p50 / s.r.p50)}×` : '–',
          s && bare ? `${fmt((100 * s.r.rps) / bare.r.rps, 0)} %` : '–']);
      }
    }
    rep.table(['operation', 'bcrypt', 'c', 'throughput ratio', 'p50 speed-up', 'Stratus req/s as % of bare node'], ratioRows,
      ['l', 'r', 'r', 'r', 'r', 'r']);

    rep.heading('Start-up and memory');
    rep.table(['target', 'configuration', 'start-up to first answer', 'RSS idle', 'peak RSS after load', 'processes'],
      this.resources.map((r) => [r.target, r.config,
        r.error ? `failed: ${r.error.slice(0, 80)}` : r.startupMs !== undefined ? `${fmt(r.startupMs, 0)} ms` : '–',
        r.idleRssMb !== undefined ? `${fmt(r.idleRssMb, 0)} MB` : '–',
        r.peakRssMb !== undefined ? `${fmt(r.peakRssMb, 0)} MB` : '–',
        r.processes ?? '–']),
      ['l', 'l', 'r', 'r', 'r', 'r']);
    rep.text('RSS is VmRSS (idle: after start-up and ' + `${IDLE_MS / 1000} s idle) and VmHWM (peak) from /proc, summed over the server's processes; ` +
      'Keystone start-up is uwsgi spawn to the first answer of GET /v3, Stratus start-up is process spawn to the first 200 from GET /identity/v3.');

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
    const verdict = (ok: boolean | undefined) => (ok === undefined ? '**not measured**' : ok ? '**met**' : '**not met**');
    const sv1 = this.find('Stratus', 'validate', 1);
    out.push(`Validation p50 < 1 ms (Stratus, c=1): ${sv1 ? `${fmt(sv1.r.p50)} ms` : '–'} → ${verdict(sv1 ? sv1.r.p50 < 1 : undefined)}`);
    const ratio = (op: Op, cost: number | undefined, want: number, label: string) => {
      const rs = [1, 8].map((c) => {
        const s = this.find('Stratus', op, c, cost);
        const k = this.find('Keystone', op, c, cost);
        return s && k && k.r.rps > 0 ? { c, x: s.r.rps / k.r.rps } : undefined;
      });
      const known = rs.filter((x): x is { c: number; x: number } => !!x);
      const ok = known.length === 2 ? known.every((x) => x.x >= want) : undefined;
      out.push(`${label} ≥ ${want}× Keystone's: ${known.map((x) => `c=${x.c} ${fmt(x.x)}×`).join(', ') || '–'} → ${verdict(ok)}`);
    };
    ratio('validate', undefined, 20, 'Validation throughput');
    ratio('issue', MIN_COST, 10, `Issue throughput at bcrypt ${MIN_COST}`);
    const idle = this.resources.filter((r) => r.target === 'Stratus' && r.idleRssMb !== undefined);
    const maxIdle = idle.length ? Math.max(...idle.map((r) => r.idleRssMb!)) : undefined;
    out.push(`RSS at idle < 150 MB (Stratus, largest idle reading): ${maxIdle !== undefined ? `${fmt(maxIdle, 0)} MB` : '–'} → ${verdict(maxIdle !== undefined ? maxIdle < 150 : undefined)}`);
    const first = this.resources.find((r) => r.target === 'Stratus' && r.config.includes('first start') && r.config.startsWith(`bcrypt ${DEFAULT_COST}`));
    const restart = this.resources.find((r) => r.target === 'Stratus' && r.config.includes('restart'));
    const starts = [first, restart].filter((r) => r?.startupMs !== undefined) as Resources[];
    const worst = starts.length ? Math.max(...starts.map((r) => r.startupMs!)) : undefined;
    out.push(`Start-up < 2 s (Stratus, first start and restart): ${starts.map((r) => `${fmt(r.startupMs! / 1000)} s`).join(' / ') || '–'} → ${verdict(worst !== undefined && first?.startupMs !== undefined ? worst < 2000 : undefined)}`);
    return out;
  }
}

export async function run(args: string[]): Promise<void> {
  const s = parseArgs(args);
  const startedAt = new Date();
  const t0 = performance.now();
  const bench = new Bench(s);
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
  const rep = bench.report(startedAt, performance.now() - t0);
  const file = rep.write({ file: s.write });
  if (bench.problems.length) {
    process.stderr.write('\nProblems (details):\n' + bench.problems.map((p) => `- ${p}`).join('\n') + '\n');
  }
  if (file) process.stderr.write(`\nreport written to ${path.relative(process.cwd(), file)}\n`);
}
