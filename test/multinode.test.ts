// The multi-process shape: one API process, one conductor + scheduler process and three compute
// agent processes (`stratus start --role ...`) over RabbitMQ and PostgreSQL. Servers land on
// different hosts; a compute process killed with SIGKILL goes `down` and new servers land only
// on the others. Needs PostgreSQL (STRATUS_TEST_PG, CI sets it) and Debian's rabbitmq-server.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { type ChildProcess } from 'node:child_process';
import pg from 'pg';
import YAML from 'yaml';
import { SERVICES } from '../src/services.ts';
import { TestBroker, rabbitmqUnavailable } from './lib/rabbitmq.ts';
import { until as untilDone } from './lib/cloud.ts';
import { startStratusProcess } from './lib/processes.ts';
import { passwordLogin } from '../src/core/clients/session.ts';

// Processes over RabbitMQ take their time: a minute by default.
const until = <T>(what: string, fn: () => Promise<T | undefined | null | false>, ms = 60_000) =>
  untilDone(what, fn, ms);

const pgUrl = process.env.STRATUS_TEST_PG;
const skip = !pgUrl ? 'STRATUS_TEST_PG is not set (CI sets it and starts PostgreSQL)' : rabbitmqUnavailable();

describe('multi-node: api, conductor + scheduler, three compute agents over RabbitMQ and PostgreSQL', { skip }, () => {
  let broker: TestBroker;
  let dataDir: string;
  let base: string;
  let token: string;
  const procs = new Map<string, ChildProcess>();

  const start = (name: string, args: string[]) => startStratusProcess(procs, dataDir, name, args);

  async function api(method: string, p: string, body?: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(`${base}${p}`, {
      method,
      headers: {
        'X-Auth-Token': token,
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }
  const nova = (method: string, p: string, body?: unknown) =>
    api(method, `/compute/v2.1${p}`, body, { 'OpenStack-API-Version': 'compute 2.37' });

  before(async () => {
    const c = new pg.Client({ connectionString: pgUrl });
    await c.connect();
    for (const schema of ['identity', ...SERVICES.map((s) => s.name.replace(/[^a-z0-9_]/g, '_'))])
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await c.end();
    broker = new TestBroker();
    await broker.start();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-multinode-'));
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const q = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(q));
      });
    });
    base = `http://127.0.0.1:${port}`;
    // Short heartbeats so that a killed host is `down` within seconds.
    fs.writeFileSync(
      path.join(dataDir, 'stratus.yaml'),
      YAML.stringify({
        database: pgUrl,
        bus: broker.url,
        port,
        adminPassword: 'admin-secret',
        identity: { passwordHashRounds: 4 },
        compute: { serviceDownTime: 4, reportInterval: 1 },
      }),
    );
    await start('api', ['--role', 'api']);
    await Promise.all([
      start('conductor', ['--role', 'conductor,scheduler']),
      ...['node1', 'node2', 'node3'].map((h) => start(h, ['--role', 'compute', '--compute-host', h])),
    ]);
    const auth = await passwordLogin(`${base}/identity/v3`, {
      username: 'admin',
      password: 'admin-secret',
      project: 'admin',
    });
    assert.equal(auth.status, 201);
    token = auth.token;
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

  const hostOf = async (id: string) => {
    const s = await nova('GET', `/servers/${id}`);
    if (s.body.server.status === 'ERROR')
      throw new Error(`server ${id} failed: ${JSON.stringify(s.body.server.fault)}`);
    return s.body.server.status === 'ACTIVE' ? (s.body.server['OS-EXT-SRV-ATTR:host'] as string) : undefined;
  };
  async function boot(image: string, name: string) {
    const r = await nova('POST', '/servers', { server: { name, imageRef: image, flavorRef: '1', networks: 'none' } });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    return until(`${name} to be ACTIVE`, () => hostOf(r.body.server.id), 60_000);
  }

  it('places servers on the three hosts, and only on the living ones once a host is killed', {
    timeout: 600_000,
  }, async () => {
    const services = async () =>
      (await nova('GET', '/os-services?binary=nova-compute')).body.services as Array<{ host: string; state: string }>;
    await until(
      'three compute services up',
      async () => (await services()).filter((s) => s.state === 'up').length === 3,
    );
    // The conductor + scheduler process keeps its own service rows (zone internal), up.
    const others = (await nova('GET', '/os-services')).body.services as Array<{
      binary: string;
      state: string;
      zone: string;
    }>;
    assert.deepEqual(
      others
        .filter((s) => s.binary !== 'nova-compute')
        .map((s) => `${s.binary}:${s.state}:${s.zone}`)
        .sort(),
      ['nova-conductor:up:internal', 'nova-scheduler:up:internal'],
    );
    await until(
      'three providers in placement',
      async () => (await api('GET', '/placement/resource_providers')).body?.resource_providers?.length === 3,
    );

    const img = await api('POST', '/image/v2/images', {
      name: 'tiny',
      disk_format: 'raw',
      container_format: 'bare',
      visibility: 'public',
    });
    assert.equal(img.status, 201);
    const up = await fetch(`${base}/image/v2/images/${img.body.id}/file`, {
      method: 'PUT',
      headers: { 'X-Auth-Token': token, 'Content-Type': 'application/octet-stream' },
      body: 'tiny image',
    });
    assert.equal(up.status, 204);

    // The RAM weigher spreads servers over equal hosts.
    const first: string[] = [];
    for (let i = 0; i < 3; i++) first.push(await boot(img.body.id, `vm${i}`));
    assert.deepEqual([...first].sort(), ['node1', 'node2', 'node3']);

    procs.get('node3')!.kill('SIGKILL');
    await until(
      'node3 to be down',
      async () => (await services()).find((s) => s.host === 'node3')?.state === 'down',
      30_000,
    );
    assert.deepEqual(
      (await services())
        .filter((s) => s.state === 'up')
        .map((s) => s.host)
        .sort(),
      ['node1', 'node2'],
    );

    const later: string[] = [];
    for (let i = 3; i < 7; i++) later.push(await boot(img.body.id, `vm${i}`));
    assert.ok(
      later.every((h) => h === 'node1' || h === 'node2'),
      `new servers on ${later.join(', ')}`,
    );
    assert.equal(new Set(later).size, 2, 'both living hosts take servers');

    // Each compute process runs the network's L2 agent for its host: a server's port binds there and goes ACTIVE.
    const agents = (await api('GET', '/networking/v2.0/agents')).body.agents as Array<{ host: string; binary: string }>;
    for (const h of ['node1', 'node2', 'node3'])
      assert.ok(
        agents.some((a) => a.host === h),
        `an agent on ${h}: ${JSON.stringify(agents.map((a) => a.host))}`,
      );
    const n = await api('POST', '/networking/v2.0/networks', { network: { name: 'private' } });
    await api('POST', '/networking/v2.0/subnets', {
      subnet: { network_id: n.body.network.id, ip_version: 4, cidr: '10.7.0.0/24' },
    });
    const r = await nova('POST', '/servers', {
      server: { name: 'wired', imageRef: img.body.id, flavorRef: '1', networks: [{ uuid: n.body.network.id }] },
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const host = await until('wired to be ACTIVE', () => hostOf(r.body.server.id), 60_000);
    const port = await until(
      'its port ACTIVE',
      async () => {
        const p = (
          (await api('GET', `/networking/v2.0/ports?device_id=${r.body.server.id}`)).body.ports as Array<
            Record<string, string>
          >
        )[0];
        return p?.status === 'ACTIVE' && p;
      },
      60_000,
    );
    assert.equal(port['binding:host_id'], host);
    assert.notEqual(port['binding:vif_type'], 'binding_failed');
  });
});
