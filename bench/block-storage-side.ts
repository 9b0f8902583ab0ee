// Block storage side by side: Stratus's Cinder API and Debian's cinder-api (python3-cinder, Zed),
// the same requests against both on loopback, and the machine's limit (bare node:http, ~1 KiB).
//   npm run bench -- block-storage-side [--seconds=5] [--no-write]
// Debian's cinder-api runs from a temporary directory: noauth, SQLite, one eventlet worker
// (osapi_volume_workers = 1), oslo.messaging's fake transport (no scheduler or volume service:
// its volumes stay `creating`; what is measured is the API: quota reservation, rows, the cast).
// Stratus runs as `stratus start` on a fresh data directory (SQLite, the file driver: its volumes
// go `available`, the agent's work shares the machine), with a Keystone token (its validation
// cached). Both use one process for the API. Needs `python3-cinder` (apt); skipped without it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runLoad, type LoadResult, type RequestSpec } from './lib/load.ts';
import { freePort, sleep, startConditions, startServer, stopAll, waitReady, type Server } from './lib/proc.ts';
import { fmt, machineLine, Report, sideBySideRow, bareLimitRows } from './lib/report.ts';
import { login, startStratus } from './lib/stratus.ts';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const PYTHON = '/usr/bin/python3';
/** Cinder's noauth accepts any project id of hex digits (its project_id_regex). */
const CINDER_PROJECT = '0123456789abcdef0123456789abcdef';

interface Target {
  name: string;
  origin: string;
  /** The volume API's path prefix (`/volume/v3/<project>` or `/v3/<project>`). */
  base: string;
  headers: Record<string, string>;
}

function cinderAvailable(): boolean {
  return fs.existsSync('/usr/lib/python3/dist-packages/cinder/cmd/api.py');
}

/** Debian's cinder-api in `dir` on `port`: config, paste pipeline (noauth), db sync, started. */
async function startCinder(dir: string, port: number): Promise<Server> {
  fs.writeFileSync(
    path.join(dir, 'api-paste.ini'),
    [
      '[composite:osapi_volume]',
      'use = call:cinder.api:root_app_factory',
      '/: apiversions',
      '/v3: openstack_volume_api_v3',
      '[composite:openstack_volume_api_v3]',
      'use = call:cinder.api.middleware.auth:pipeline_factory',
      'noauth = request_id faultwrap noauth apiv3',
      '[filter:request_id]',
      'paste.filter_factory = oslo_middleware.request_id:RequestId.factory',
      '[filter:faultwrap]',
      'paste.filter_factory = cinder.api.middleware.fault:FaultWrapper.factory',
      '[filter:noauth]',
      'paste.filter_factory = cinder.api.middleware.auth:NoAuthMiddleware.factory',
      '[app:apiv3]',
      'paste.app_factory = cinder.api.v3.router:APIRouter.factory',
      '[pipeline:apiversions]',
      'pipeline = faultwrap osvolumeversionapp',
      '[app:osvolumeversionapp]',
      'paste.app_factory = cinder.api.versions:Versions.factory',
      '',
    ].join('\n'),
  );
  const conf = path.join(dir, 'cinder.conf');
  fs.writeFileSync(
    conf,
    [
      '[DEFAULT]',
      'auth_strategy = noauth',
      `api_paste_config = ${dir}/api-paste.ini`,
      'osapi_volume_listen = 127.0.0.1',
      `osapi_volume_listen_port = ${port}`,
      'osapi_volume_workers = 1',
      'transport_url = fake://',
      `state_path = ${dir}`,
      `log_dir = ${dir}`,
      'quota_volumes = -1',
      'quota_gigabytes = -1',
      '[database]',
      `connection = sqlite:///${dir}/cinder.sqlite`,
      '[oslo_concurrency]',
      `lock_path = ${dir}/lock`,
      '',
    ].join('\n'),
  );
  const py = (mod: string, args: string[]) =>
    `import sys; from ${mod} import main; sys.argv = ${JSON.stringify(args)}; sys.exit(main())`;
  const sync = startServer(
    'cinder-manage',
    PYTHON,
    ['-c', py('cinder.cmd.manage', ['cinder-manage', '--config-file', conf, 'db', 'sync'])],
    { cwd: dir, logFile: path.join(dir, 'manage.out') },
  );
  if ((await sync.exited) !== 0) throw new Error(`cinder-manage db sync failed: see ${dir}/manage.out`);
  const api = startServer('cinder-api', PYTHON, ['-c', py('cinder.cmd.api', ['cinder-api', '--config-file', conf])], {
    cwd: dir,
    logFile: path.join(dir, 'api.out'),
  });
  await waitReady(api, `http://127.0.0.1:${port}/`, 60_000, 300, 100);
  return api;
}

async function call(t: Target, method: string, p: string, body?: unknown): Promise<{ status: number; body: string }> {
  const r = await fetch(`${t.origin}${t.base}${p}`, {
    method,
    headers: { ...t.headers, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: r.status, body: await r.text() };
}

export async function run(args: string[]): Promise<void> {
  const seconds = Number(args.find((a) => a.startsWith('--seconds='))?.split('=')[1] ?? 5);
  const write = !args.includes('--no-write');
  const log = (s: string) => process.stdout.write(`${s}\n`);
  const report = new Report('block-storage-side', "Block storage: Stratus and Debian's cinder-api side by side");
  if (!cinderAvailable()) {
    log('block-storage-side: python3-cinder is not installed (apt-get install python3-cinder): skipped');
    return;
  }
  const conditions = await startConditions(0, log);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-bench-cinder-side-'));
  const rows: Array<Array<string | number>> = [];
  try {
    // -- the targets -------------------------------------------------------------------------
    const cinderPort = await freePort();
    const cinderDir = path.join(tmp, 'cinder');
    fs.mkdirSync(cinderDir);
    await startCinder(cinderDir, cinderPort);
    const cinder: Target = {
      name: "Debian's cinder-api 21 (Zed), eventlet, 1 worker",
      origin: `http://127.0.0.1:${cinderPort}`,
      base: `/v3/${CINDER_PROJECT}`,
      headers: { 'X-Auth-Token': `admin:${CINDER_PROJECT}`, 'OpenStack-API-Version': 'volume 3.64' },
    };
    const st = await startStratus({ dataDir: path.join(tmp, 'stratus'), logFile: path.join(tmp, 'stratus.log') });
    // The first start bootstraps and writes clouds.yaml just after the API answers.
    for (let i = 0; i < 300 && !fs.existsSync(path.join(st.dataDir, 'clouds.yaml')); i++) await sleep(100);
    await sleep(500);
    const sess = await login(st);
    const ep = new URL(sess.endpoint('block-storage')!);
    const stratus: Target = {
      name: 'Stratus (Node 20, one process)',
      origin: st.origin,
      base: ep.pathname,
      headers: { 'X-Auth-Token': sess.token, 'OpenStack-API-Version': 'volume 3.64' },
    };
    const q = await call(stratus, 'PUT', `/os-quota-sets/${sess.projectId}`, {
      quota_set: { volumes: -1, gigabytes: -1 },
    });
    if (q.status !== 200) throw new Error(`quota update answered ${q.status}`);
    const barePort = await freePort();
    const bare = startServer(
      'bare',
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'bench/lib/bare-server.ts'), String(barePort)],
      { cwd: ROOT, logFile: path.join(tmp, 'bare.out') },
    );
    await waitReady(bare, `http://127.0.0.1:${barePort}/`, 30_000, 200, 50);

    // -- the same 50 volumes in each ---------------------------------------------------------
    const shown = new Map<Target, string>();
    for (const t of [cinder, stratus]) {
      for (let i = 0; i < 50; i++) {
        const r = await call(t, 'POST', '/volumes', { volume: { size: 1, name: `seed-${i}` } });
        if (r.status !== 202) throw new Error(`${t.name}: create answered ${r.status}: ${r.body.slice(0, 300)}`);
        if (i === 0) shown.set(t, (JSON.parse(r.body) as { volume: { id: string } }).volume.id);
      }
    }
    const showBytes = (await call(stratus, 'GET', `/volumes/${shown.get(stratus)}`)).body.length;

    // -- the cells ---------------------------------------------------------------------------
    const cells: Array<{
      what: string;
      spec: (t: Target) => RequestSpec | ((i: number) => RequestSpec);
      count?: number;
    }> = [
      { what: 'GET /volumes/{id}', spec: (t) => ({ path: `${t.base}/volumes/${shown.get(t)}`, headers: t.headers }) },
      { what: 'GET /volumes (50)', spec: (t) => ({ path: `${t.base}/volumes`, headers: t.headers }) },
      { what: 'GET /volumes/detail (50)', spec: (t) => ({ path: `${t.base}/volumes/detail`, headers: t.headers }) },
      {
        what: 'POST /volumes (1 GiB, blank)',
        count: 200,
        spec: (t) => (i: number) => ({
          method: 'POST',
          path: `${t.base}/volumes`,
          headers: { ...t.headers, 'Content-Type': 'application/json' },
          body: JSON.stringify({ volume: { size: 1, name: `bench-${i}` } }),
        }),
      },
    ];
    for (const cell of cells)
      for (const c of [1, 8]) {
        const results: Array<[string, LoadResult]> = [];
        for (const t of [cinder, stratus]) {
          const r = await runLoad({
            origin: t.origin,
            request: cell.spec(t),
            concurrency: c,
            ...(cell.count ? { maxRequests: cell.count } : { durationMs: seconds * 1000 }),
            warmupRequests: cell.count ? 0 : 20,
            expectStatus: cell.count ? [202] : [200],
          });
          if (r.errors) log(`${t.name} ${cell.what}: ${r.errors} errors (${r.firstError})`);
          results.push([t.name, r]);
          log(`${cell.what} c=${c} ${t.name}: ${fmt(r.rps)} req/s, p50 ${fmt(r.p50, 2)} ms`);
        }
        const [cr, sr] = [results[0]![1], results[1]![1]];
        rows.push(sideBySideRow(cell.what, c, cr, sr));
      }
    const limit = await bareLimitRows(barePort, seconds);
    report
      .text(machineLine())
      .bullets([
        ...conditions,
        `Debian's cinder-api: python3-cinder ${cinderVersion()}, noauth, SQLite, 1 worker, fake transport (volumes stay creating: the API alone).`,
        `Stratus: one process, SQLite, file driver (its volume agent makes each file in the same process), Keystone token. A volume show is ${showBytes} bytes.`,
        `Closed-loop load (bench/lib/load.ts), keep-alive; ${seconds} s per read cell, 200 creates per create cell.`,
      ])
      .heading('Requests per second and p50 (ms)')
      .table(
        ['request', 'c', 'cinder-api req/s', 'cinder-api p50', 'Stratus req/s', 'Stratus p50', 'Stratus / cinder-api'],
        rows,
      )
      .heading("The machine's limit")
      .table(['server', 'c', 'req/s', 'p50'], limit);
    const file = report.write({ file: write });
    if (file) log(`written: ${path.relative(ROOT, file)}`);
  } finally {
    await stopAll();
    fs.rmSync(tmp, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  }
}

function cinderVersion(): string {
  try {
    const s = fs.readFileSync('/var/lib/dpkg/status', 'utf8');
    const m = /Package: python3-cinder\n(?:[^\n]+\n)*?Version: ([^\n]+)/.exec(s);
    return m?.[1] ?? '?';
  } catch {
    return '?';
  }
}
