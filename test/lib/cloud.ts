// Starts an in-process all-in-one cloud on a free port for API tests.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { Readable } from 'node:stream';
import { after, before, it } from 'node:test';
import pg from 'pg';
import { loadConfig, type StratusConfig } from '../../src/core/config.ts';
import { createLogger } from '../../src/core/log.ts';
import { Cloud } from '../../src/server.ts';
import { SERVICES } from '../../src/services.ts';
import type { ApiServer } from './api-types.ts';

export interface TestCloud {
  cloud: Cloud;
  url: string;
  identity: string;
  adminToken: string;
  adminPassword: string;
  dataDir: string;
  /** JSON request against the cloud; `token` defaults to the admin token. */
  req(
    method: string,
    path: string,
    body?: unknown,
    opts?: { token?: string | null; headers?: Record<string, string> },
    // biome-ignore lint/suspicious/noExplicitAny: the JSON answer of any API, which each of ~1,000 call sites reads by its own shape
  ): Promise<{ status: number; body: any; headers: Headers }>;
  token(user: { name?: string; id?: string; password: string; domain?: string }, scope?: unknown): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Requests to one API of the test cloud `cloud()` (read at each call, so a suite may start it in
 * `before`): `prefix` below the cloud's URL, the `service`'s microversion header at `version`.
 */
export function serviceApi(cloud: () => TestCloud, prefix: string, service: string, version: string) {
  return (method: string, p: string, body?: unknown, opts: { token?: string; version?: string } = {}) => {
    const c = cloud();
    return c.req(method, `${c.url}${prefix}${p}`, body, {
      token: opts.token,
      headers: { 'OpenStack-API-Version': `${service} ${opts.version ?? version}` },
    });
  };
}

/**
 * Waits until `show(id)` is `status` with no task in progress (any task with `anyTask`) and
 * answers it; a server gone to ERROR (unless that is awaited) fails at once with its fault.
 */
export function untilServer(
  show: (id: string) => Promise<ApiServer | undefined>,
  id: string,
  status: string,
  o: { anyTask?: boolean; ms?: number } = {},
): Promise<ApiServer> {
  return until(
    `server ${id} ${status}`,
    async () => {
      const s = await show(id);
      if (s?.status === 'ERROR' && status !== 'ERROR')
        throw new Error(`server went to ERROR: ${JSON.stringify(s.fault)}`);
      return s?.status === status && (o.anyTask || !s['OS-EXT-STS:task_state']) ? s : null;
    },
    o.ms,
  );
}

/** What `TestCloud.req` answers. */
export type ApiAnswer = Awaited<ReturnType<TestCloud['req']>>;

/** The answer of a fetch made by hand (a request `req` cannot make), read as `req` reads its own. */
export async function answerOf(res: Response): Promise<ApiAnswer> {
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** The databases an API test runs on: SQLite always, PostgreSQL when STRATUS_TEST_PG is set (CI sets it). */
export function databaseEngines(what: string): Array<{ name: string; database?: string }> {
  const engines: Array<{ name: string; database?: string }> = [{ name: 'sqlite' }];
  const url = process.env.STRATUS_TEST_PG;
  if (url) engines.push({ name: 'postgres', database: url });
  else it(`${what} on PostgreSQL`, { skip: 'STRATUS_TEST_PG is not set (CI sets it and starts PostgreSQL)' }, () => {});
  return engines;
}

/** Drops every service's schema so that a PostgreSQL test starts from nothing. */
async function resetPg(url: string) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  for (const schema of ['identity', ...SERVICES.map((s) => s.name.replace(/[^a-z0-9_]/g, '_'))])
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await c.end();
}

export async function startCloud(
  opts: { database?: string; dataDir?: string; configure?: (cfg: StratusConfig) => void } = {},
): Promise<TestCloud> {
  if (opts.database?.startsWith('postgres')) await resetPg(opts.database);
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-test-'));
  process.env.STRATUS_USER_CLOUDS = '0';
  // A free port known before bootstrap, so that the catalog holds the real URLs.
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const cfg = loadConfig({ dataDir, port, adminPassword: 'admin-secret', database: opts.database ?? 'sqlite' }, {});
  cfg.identity.passwordHashRounds = 4;
  // The fake driver's transitional states are instant in tests (compute.fake; a test may set them).
  cfg.compute = { ...(cfg.compute ?? {}), fake: { transitionMs: 0, ...(cfg.compute?.fake ?? {}) } };
  opts.configure?.(cfg);
  // STRATUS_TEST_LOG=info (or debug) shows the cloud's log on stdout while a test runs.
  const cloud = new Cloud(cfg, createLogger(process.env.STRATUS_TEST_LOG ?? 'silent'));
  await cloud.init();
  await cloud.listen();
  const addr = cloud.apps[0]!.server.address() as { port: number };
  cfg.port = addr.port;
  const url = `http://127.0.0.1:${addr.port}`;
  const identity = `${url}/identity`;
  const req: TestCloud['req'] = async (method, p, body, o = {}) => {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    const token = o.token === undefined ? tc.adminToken : o.token;
    if (token) headers['X-Auth-Token'] = token;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(p.startsWith('http') ? p : `${identity}${p}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return answerOf(res);
  };
  const token: TestCloud['token'] = async (u, scope) => {
    const user = u.id
      ? { id: u.id, password: u.password }
      : { name: u.name, domain: { id: u.domain ?? 'default' }, password: u.password };
    const r = await req(
      'POST',
      '/v3/auth/tokens',
      { auth: { identity: { methods: ['password'], password: { user } }, ...(scope ? { scope } : {}) } },
      { token: null },
    );
    if (r.status !== 201) throw new Error(`token: ${r.status} ${JSON.stringify(r.body)}`);
    return r.headers.get('x-subject-token')!;
  };
  const tc: TestCloud = {
    cloud,
    url,
    identity,
    adminToken: '',
    adminPassword: 'admin-secret',
    dataDir,
    req,
    token,
    async stop() {
      await cloud.close();
      if (!opts.dataDir) fs.rmSync(dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    },
  };
  tc.adminToken = await token(
    { name: 'admin', password: 'admin-secret' },
    { project: { name: 'admin', domain: { id: 'default' } } },
  );
  return tc;
}

/** A new project with a user holding `member` on it, and that user's project token. */
export async function member(c: TestCloud, name: string) {
  const p = await c.req('POST', '/v3/projects', { project: { name, domain_id: 'default' } });
  const u = await c.req('POST', '/v3/users', {
    user: { name: `${name}-user`, password: `pw-${name}`, domain_id: 'default' },
  });
  const role = (await c.req('GET', '/v3/roles?name=member')).body.roles[0].id;
  await c.req('PUT', `/v3/projects/${p.body.project.id}/users/${u.body.user.id}/roles/${role}`);
  return {
    project: p.body.project.id as string,
    token: await c.token({ id: u.body.user.id, password: `pw-${name}` }, { project: { id: p.body.project.id } }),
  };
}

/** Polls `fn` until it answers something truthy (returned), or fails after `ms` naming `what`. */
export async function until<T>(
  what: string,
  fn: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  ms = 15000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A test cloud started before a suite's tests and stopped after them, seen from the admin project. */
export interface AdminCloud {
  /** The cloud (set once the suite's `before` ran). */
  c: TestCloud;
  /** The admin project's id. */
  project: string;
  /** A block-storage (Cinder v3) request in the admin project, at `version` or the suite's default. */
  cinder(method: string, path: string, body?: unknown, version?: string): ReturnType<TestCloud['req']>;
  /** A compute (Nova v2.1) request, at `version` or the suite's default. */
  nova(method: string, path: string, body?: unknown, version?: string): ReturnType<TestCloud['req']>;
}

/**
 * Registers the suite's `before`/`after` (call it inside `describe`): a cloud in a temporary data
 * directory, removed with it at the end.
 */
export function useAdminCloud(
  prefix: string,
  o: { volume?: string; compute?: string; configure?: (cfg: StratusConfig) => void } = {},
): AdminCloud {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const t = {
    cinder: (method: string, p: string, body?: unknown, version = o.volume ?? '3.0') =>
      t.c.req(method, `${t.c.url}/volume/v3/${t.project}${p}`, body, {
        headers: { 'OpenStack-API-Version': `volume ${version}` },
      }),
    nova: (method: string, p: string, body?: unknown, version = o.compute ?? '2.1') =>
      t.c.req(method, `${t.c.url}/compute/v2.1${p}`, body, {
        headers: { 'OpenStack-API-Version': `compute ${version}` },
      }),
  } as AdminCloud;
  before(async () => {
    t.c = await startCloud({ dataDir, configure: o.configure });
    t.project = (await t.c.req('GET', '/v3/projects?name=admin')).body.projects[0].id;
  });
  after(async () => {
    await t.c?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  });
  return t;
}

/** A public image (raw unless `diskFormat` says) holding `bytes`, uploaded as the admin; answers its id. */
export async function uploadImage(
  c: TestCloud,
  name: string,
  bytes: Uint8Array<ArrayBuffer>,
  diskFormat = 'raw',
): Promise<string> {
  const img = await c.req('POST', `${c.url}/image/v2/images`, {
    name,
    disk_format: diskFormat,
    container_format: 'bare',
    visibility: 'public',
  });
  await fetch(`${c.url}/image/v2/images/${img.body.id}/file`, {
    method: 'PUT',
    headers: { 'X-Auth-Token': c.adminToken, 'Content-Type': 'application/octet-stream' },
    body: bytes,
  });
  return img.body.id as string;
}

/**
 * The `body` and `duplex` of a fetch that streams `r` (a chunked upload). Node's fetch takes a web
 * stream with `duplex: 'half'`; its typings name a different ReadableStream, hence the one cast.
 */
export function streamedBody(r: Readable): { body: BodyInit; duplex: 'half' } {
  return { body: Readable.toWeb(r) as unknown as BodyInit, duplex: 'half' };
}
