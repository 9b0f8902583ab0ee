// Two heat-engine processes (`stratus start --role heat-engine`) behind one API process
// (`--role api`), over RabbitMQ, sharing the database (SQLite in the shared data directory, or
// PostgreSQL when STRATUS_TEST_PG is set). The engine that holds a stack's lock is killed with
// SIGKILL in the middle of a create: the other engine takes the lock over (its holder does not
// answer over RPC) and the stack is deleted cleanly; a new stack is then created by the survivor.
// Starts Debian's rabbitmq-server on loopback; every process is stopped at the end.
import { startStratusProcess } from './lib/processes.ts';
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import YAML from 'yaml';
import { SERVICES } from '../src/services.ts';
import { TestBroker, rabbitmqUnavailable } from './lib/rabbitmq.ts';
import { until as untilDone } from './lib/cloud.ts';
import { passwordLogin } from '../src/core/clients/session.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const until = <T>(what: string, fn: () => Promise<T | undefined | null | false>, ms = 60_000) =>
  untilDone(what, fn, ms);
const pgUrl = process.env.STRATUS_TEST_PG;

describe('heat-engine role: two engines, one killed mid-create', { skip: rabbitmqUnavailable() }, () => {
  let broker: TestBroker;
  let dataDir: string;
  let base: string;
  let token: string;
  let heat: string;
  const procs = new Map<string, ChildProcess>();
  const ids: Record<string, string> = {};

  const start = (name: string, args: string[]) => startStratusProcess(procs, dataDir, name, args);

  async function api(method: string, p: string, body?: unknown) {
    const res = await fetch(`${heat}${p}`, {
      method,
      headers: { 'X-Auth-Token': token, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
      redirect: 'manual',
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }

  /**
   * The engine that holds a stack's lock, read from the shared database; with the convergence
   * engine (no stack lock while a traversal runs), the engine that holds one of its resources.
   */
  async function lockHolder(stackId: string): Promise<string | undefined> {
    if (pgUrl) {
      const c = new pg.Client({ connectionString: pgUrl });
      await c.connect();
      try {
        const r = await c.query(
          'SELECT engine_id FROM orchestration.stack_lock WHERE stack_id = $1 UNION ALL SELECT engine_id FROM orchestration.resource WHERE stack_id = $1 AND engine_id IS NOT NULL',
          [stackId],
        );
        return r.rows[0]?.engine_id;
      } finally {
        await c.end();
      }
    }
    const db = new Database(path.join(dataDir, 'orchestration.sqlite'), { readonly: true, fileMustExist: true });
    try {
      db.pragma('busy_timeout = 5000');
      const row = db
        .prepare(
          'SELECT engine_id FROM stack_lock WHERE stack_id = ? UNION ALL SELECT engine_id FROM resource WHERE stack_id = ? AND engine_id IS NOT NULL',
        )
        .get(stackId, stackId) as { engine_id: string } | undefined;
      return row?.engine_id;
    } finally {
      db.close();
    }
  }

  before(async () => {
    if (pgUrl) {
      const c = new pg.Client({ connectionString: pgUrl });
      await c.connect();
      for (const schema of ['identity', ...SERVICES.map((s) => s.name.replace(/[^a-z0-9_]/g, '_'))])
        await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await c.end();
    }
    broker = new TestBroker();
    await broker.start();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-heat-engines-'));
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const q = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(q));
      });
    });
    base = `http://127.0.0.1:${port}`;
    const cfg = (engineId?: string) =>
      YAML.stringify({
        ...(pgUrl ? { database: pgUrl } : {}),
        bus: broker.url,
        port,
        adminPassword: 'admin-secret',
        identity: { passwordHashRounds: 4 },
        devstack: { world: false },
        orchestration: { engineLivenessTimeoutMs: 1500, reportInterval: 1, ...(engineId ? { engineId } : {}) },
      });
    fs.writeFileSync(path.join(dataDir, 'stratus.yaml'), cfg());
    fs.writeFileSync(path.join(dataDir, 'engine-1.yaml'), cfg('engine-1'));
    fs.writeFileSync(path.join(dataDir, 'engine-2.yaml'), cfg('engine-2'));
    await start('api', ['--role', 'api']);
    await Promise.all(
      ['engine-1', 'engine-2'].map((e) =>
        start(e, ['--role', 'heat-engine', '--config', path.join(dataDir, `${e}.yaml`)]),
      ),
    );
    const auth = await passwordLogin(`${base}/identity/v3`, {
      username: 'admin',
      password: 'admin-secret',
      project: 'admin',
    });
    assert.equal(auth.status, 201);
    token = auth.token;
    heat = `${base}/heat-api/v1/${auth.body!.token.project!.id}`;
  });

  after(async () => {
    for (const p of procs.values()) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
    await Promise.all(
      [...procs.values()].map((p) =>
        p.exitCode !== null || p.signalCode !== null
          ? undefined
          : new Promise((r) => {
              p.once('exit', r);
              setTimeout(() => {
                p.kill('SIGKILL');
                r(null);
              }, 15_000).unref();
            }),
      ),
    );
    await broker?.stop();
    if (dataDir && !process.env.STRATUS_TEST_KEEP)
      fs.rmSync(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  });

  const status = async (id: string) => {
    const s = (await api('GET', `/stacks/${id === ids.after ? 'after' : 'victim'}/${id}`)).body?.stack;
    return s ? `${s.stack_status}: ${s.stack_status_reason}` : 'gone';
  };

  it('the api has no engine of its own; the two engines are listed; a killed lock holder is taken over', {
    timeout: 600_000,
  }, async () => {
    const services = async () =>
      ((await api('GET', '/services')).body?.services ?? []) as Array<{ engine_id: string; status: string }>;
    await until('two heat-engines up', async () => {
      const up = (await services()).filter((s) => s.status === 'up').map((s) => s.engine_id);
      return up.length === 2 && up.includes('engine-1') && up.includes('engine-2');
    });
    const slow = {
      heat_template_version: '2018-08-31',
      resources: Object.fromEntries(
        ['a', 'b', 'c'].map((n, i) => [
          n,
          {
            type: 'OS::Heat::TestResource',
            properties: { value: n, wait_secs: 4, action_wait_secs: { delete: 0 } },
            ...(i ? { depends_on: ['a', 'b', 'c'][i - 1] } : {}),
          },
        ]),
      ),
    };
    const r = await api('POST', '/stacks', { stack_name: 'victim', template: slow });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const id = r.body.stack.id as string;
    const holder = await until('the lock of victim', () => lockHolder(id));
    assert.ok(holder === 'engine-1' || holder === 'engine-2', holder);
    const survivor = holder === 'engine-1' ? 'engine-2' : 'engine-1';
    // Mid-create: the first resource is in progress.
    await until('victim a in progress', async () => {
      const res = (await api('GET', `/stacks/victim/${id}/resources/a`)).body?.resource;
      return res?.resource_status === 'CREATE_IN_PROGRESS';
    });
    const victim = procs.get(holder)!;
    victim.kill('SIGKILL');
    await new Promise((res) => victim.once('exit', res));
    assert.match(await status(id), /^CREATE_IN_PROGRESS/);

    // Delete: the survivor asks the holder (no answer), steals the lock and deletes.
    const del = await api('DELETE', `/stacks/victim/${id}`);
    assert.equal(del.status, 204, JSON.stringify(del.body));
    await until('victim deleted', async () => {
      const s = await status(id);
      if (s.startsWith('DELETE_FAILED')) throw new Error(s);
      return s.startsWith('DELETE_COMPLETE') || s === 'gone';
    });
    const events = (await api('GET', `/stacks/victim/${id}/events?sort_dir=asc&limit=200`)).body?.events as
      | Array<{ resource_name: string; resource_status: string }>
      | undefined;
    assert.ok(events?.some((e) => e.resource_name === 'victim' && e.resource_status === 'DELETE_COMPLETE'));
    assert.equal(await lockHolder(id), undefined);
    const resources = await api('GET', `/stacks/victim/${id}/resources`);
    assert.deepEqual(resources.body?.resources ?? [], []);

    // The survivor creates the next stack (the dead engine's queue takes nothing).
    const quick = { heat_template_version: '2018-08-31', resources: { s: { type: 'OS::Heat::RandomString' } } };
    const r2 = await api('POST', '/stacks', { stack_name: 'after', template: quick });
    assert.equal(r2.status, 201, JSON.stringify(r2.body));
    const id2 = r2.body.stack.id as string;
    ids.after = id2;
    await until('after created', async () => (await status(id2)).startsWith('CREATE_COMPLETE'));
    const ev2 = await api('DELETE', `/stacks/after/${id2}`);
    assert.equal(ev2.status, 204);
    await until('after deleted', async () => {
      const s = await status(id2);
      return s.startsWith('DELETE_COMPLETE') || s === 'gone';
    });
    assert.ok(survivor);
  });
});
