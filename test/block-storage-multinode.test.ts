// Block storage's roles in the multi-process shape: an API process, a cinder-scheduler process,
// two cinder-volume processes (hosts `store-a` and `store-b`, each its own volumes directory) and
// a cinder-backup process, each its own `bin/stratus.js start --role ...` over a private RabbitMQ
// and PostgreSQL. os-services lists them up; volumes land on the volume hosts; a backup made by
// the backup process restores byte-identical; a volume migrates between the two volume hosts
// with its bytes; a volume process killed (SIGKILL) during a create leaves that volume `error`
// once it is back, never `creating`. With Debian's `openstack` client present, `volume service
// list` and `volume backup create` run against the same processes. Needs PostgreSQL
// (STRATUS_TEST_PG, CI sets it) and Debian's rabbitmq-server.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import YAML from 'yaml';
import { SERVICES } from '../src/services.ts';
import { TestBroker, rabbitmqUnavailable } from './lib/rabbitmq.ts';
import { until as untilDone } from './lib/cloud.ts';
import { startStratusProcess } from './lib/processes.ts';
import { passwordLogin } from '../src/core/clients/session.ts';

const run = promisify(execFile);
const until = <T>(what: string, fn: () => Promise<T | undefined | null | false>, ms = 60_000) =>
  untilDone(what, fn, ms);
const MiB = 1024 * 1024;

const pgUrl = process.env.STRATUS_TEST_PG;
const skip = !pgUrl ? 'STRATUS_TEST_PG is not set (CI sets it and starts PostgreSQL)' : rabbitmqUnavailable();
const OPENSTACK = '/usr/bin/openstack';

describe('block storage roles: api, scheduler, two volume hosts and a backup host over RabbitMQ and PostgreSQL', {
  skip,
}, () => {
  let broker: TestBroker;
  let dataDir: string;
  let base: string;
  let token: string;
  const procs = new Map<string, ChildProcess>();
  const volumeDirs: Record<string, string> = {};

  const start = (name: string, args: string[]) => startStratusProcess(procs, dataDir, name, args);

  /** A volume process: its own config file (the shared one plus its host and volumes directory). */
  async function startVolumeHost(host: string) {
    const common = YAML.parse(fs.readFileSync(path.join(dataDir, 'stratus.yaml'), 'utf8'));
    volumeDirs[host] = path.join(dataDir, `volumes-${host}`);
    const file = path.join(dataDir, `${host}.yaml`);
    fs.writeFileSync(
      file,
      YAML.stringify({
        ...common,
        blockStorage: { ...common.blockStorage, host, volumesDir: volumeDirs[host] },
      }),
    );
    await start(host, ['--role', 'volume', '--config', file]);
  }

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
  let projectId = '';
  const cinder = (method: string, p: string, body?: unknown) =>
    api(method, `/volume/v3/${projectId}${p}`, body, { 'OpenStack-API-Version': 'volume 3.62' });

  before(async () => {
    const c = new pg.Client({ connectionString: pgUrl });
    await c.connect();
    for (const schema of ['identity', ...SERVICES.map((s) => s.name.replace(/[^a-z0-9_]/g, '_'))])
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await c.end();
    broker = new TestBroker();
    await broker.start();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-cinder-multinode-'));
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const q = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(q));
      });
    });
    base = `http://127.0.0.1:${port}`;
    // Short heartbeats so that a killed host is `down` within seconds; small backup chunks so
    // that a few MiB make several objects.
    fs.writeFileSync(
      path.join(dataDir, 'stratus.yaml'),
      YAML.stringify({
        database: pgUrl,
        bus: broker.url,
        port,
        adminPassword: 'admin-secret',
        identity: { passwordHashRounds: 4 },
        blockStorage: { reportInterval: 1, serviceDownTime: 4, backupChunkSize: MiB, host: 'control' },
        // The image data of the image named below is served after 60 s: a create from it is
        // still running when its volume process is killed.
        devstack: {
          world: false,
          faults: [{ service: 'image', method: 'GET', path: '/v2/images/*/file', action: 'delay', delayMs: 60_000 }],
        },
      }),
    );
    await start('api', ['--role', 'api']);
    await Promise.all([
      start('scheduler', ['--role', 'scheduler']),
      startVolumeHost('store-a'),
      startVolumeHost('store-b'),
      (async () => {
        const common = YAML.parse(fs.readFileSync(path.join(dataDir, 'stratus.yaml'), 'utf8'));
        const file = path.join(dataDir, 'backup.yaml');
        fs.writeFileSync(file, YAML.stringify({ ...common, blockStorage: { ...common.blockStorage, host: 'vault' } }));
        await start('backup', ['--role', 'backup', '--config', file]);
      })(),
    ]);
    const auth = await passwordLogin(`${base}/identity/v3`, {
      username: 'admin',
      password: 'admin-secret',
      project: 'admin',
    });
    assert.equal(auth.status, 201);
    token = auth.token;
    projectId = auth.body!.token.project!.id;
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

  type Service = { binary: string; host: string; state: string; status: string; zone: string };
  const services = async () => (await cinder('GET', '/os-services')).body.services as Service[];
  const up = async () =>
    (await services())
      .filter((s) => s.state === 'up')
      .map((s) => `${s.binary}:${s.host}`)
      .sort();
  const volume = async (id: string) => (await cinder('GET', `/volumes/${id}`)).body.volume;
  async function settled(id: string, want = 'available', ms = 60_000) {
    return until(
      `volume ${id} ${want}`,
      async () => {
        const v = await volume(id);
        if (v.status === want) return v;
        if (['error', 'available', 'in-use'].includes(v.status))
          throw new Error(`volume ${id} went ${v.status}, not ${want}`);
        return null;
      },
      ms,
    );
  }
  async function create(body: Record<string, unknown>) {
    const r = await cinder('POST', '/volumes', { volume: body });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    return r.body.volume.id as string;
  }
  /** The file of a volume: in the volumes directory of the host that holds it. */
  const fileOf = (host: string, id: string) => path.join(volumeDirs[host.split('@')[0]!]!, `volume-${id}`);
  const sha = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  /** Writes some random MiB at a few offsets of a volume's sparse file (as a guest would). */
  function scribble(file: string) {
    const fd = fs.openSync(file, 'r+');
    try {
      for (const at of [0, 3 * MiB + 4096, 17 * MiB]) fs.writeSync(fd, crypto.randomBytes(MiB + 123), 0, MiB + 123, at);
    } finally {
      fs.closeSync(fd);
    }
  }

  it('lists the services of each process up, and volumes land on the volume hosts', { timeout: 300_000 }, async () => {
    await until('the services of every process up', async () => {
      const u = await up();
      return (
        [
          'cinder-backup:vault',
          'cinder-scheduler:control',
          'cinder-volume:store-a@file',
          'cinder-volume:store-b@file',
        ].every((s) => u.includes(s)) && u
      );
    });
    // The API process runs no agent of its own: no volume or backup service is named after it.
    const mine = (await services()).filter((s) => s.host.startsWith('control') && s.binary !== 'cinder-scheduler');
    assert.deepEqual(mine, []);
    const ids = await Promise.all([1, 2, 3, 4].map((i) => create({ size: 1, name: `spread-${i}` })));
    const hosts = await Promise.all(ids.map(async (id) => (await settled(id))['os-vol-host-attr:host'] as string));
    for (const h of hosts) assert.match(h, /^store-[ab]@file#file$/);
    for (const [i, id] of ids.entries())
      assert.ok(fs.existsSync(fileOf(hosts[i]!, id)), `the file of ${id} on ${hosts[i]}`);
    for (const id of ids) assert.equal((await cinder('DELETE', `/volumes/${id}`)).status, 202);
  });

  it('backs a volume up in the backup process and restores it byte-identical', { timeout: 300_000 }, async () => {
    const id = await create({ size: 1, name: 'precious' });
    const v = await settled(id);
    const file = fileOf(v['os-vol-host-attr:host'], id);
    scribble(file);
    const before = sha(file);
    const b = await cinder('POST', '/backups', { backup: { volume_id: id, name: 'precious-full' } });
    assert.equal(b.status, 202, JSON.stringify(b.body));
    const backup = await until('the backup available', async () => {
      const x = (await cinder('GET', `/backups/${b.body.backup.id}`)).body.backup;
      if (x.status === 'error') throw new Error(`backup failed: ${x.fail_reason}`);
      return x.status === 'available' && x;
    });
    // 6 chunks of 1 MiB hold data (the rest of the 1 GiB is holes), and the metadata object.
    assert.equal(backup.object_count, 7);
    assert.equal((await volume(id)).status, 'available');
    const r = await cinder('POST', `/backups/${backup.id}/restore`, { restore: { name: 'restored' } });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const restored = await settled(r.body.restore.volume_id, 'available', 120_000);
    assert.equal(sha(fileOf(restored['os-vol-host-attr:host'], restored.id)), before, 'restored byte-identical');
    assert.equal((await cinder('GET', `/backups/${backup.id}`)).body.backup.status, 'available');
  });

  it('migrates a volume from one volume host to the other with its bytes', { timeout: 300_000 }, async () => {
    const id = await create({ size: 1, name: 'mover' });
    const v = await settled(id);
    const from = v['os-vol-host-attr:host'] as string;
    scribble(fileOf(from, id));
    const before = sha(fileOf(from, id));
    const to = from.startsWith('store-a') ? 'store-b@file' : 'store-a@file';
    const r = await cinder('POST', `/volumes/${id}/action`, { 'os-migrate_volume': { host: to } });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const moved = await until('the migration to end', async () => {
      const x = await volume(id);
      if (x.migration_status === 'error') throw new Error('migration failed');
      return x.migration_status === 'success' && x.status === 'available' && x;
    });
    assert.equal(moved['os-vol-host-attr:host'], `${to}#file`);
    // The volume keeps its id; its bytes are now in the other host's directory (under the copy's file name).
    const there = fs.readdirSync(volumeDirs[to.split('@')[0]!]!).filter((f) => f.startsWith('volume-'));
    assert.ok(
      there.some((f) => sha(path.join(volumeDirs[to.split('@')[0]!]!, f)) === before),
      `the bytes on ${to}: ${there.join(', ')}`,
    );
    await until('the old bytes gone', async () => !fs.existsSync(fileOf(from, id)));
  });

  it('leaves a create `error`, never `creating`, when its volume process is killed during it', {
    timeout: 300_000,
  }, async () => {
    const img = await api('POST', '/image/v2/images', {
      name: 'slow',
      disk_format: 'raw',
      container_format: 'bare',
      visibility: 'public',
    });
    assert.equal(img.status, 201);
    const put = await fetch(`${base}/image/v2/images/${img.body.id}/file`, {
      method: 'PUT',
      headers: { 'X-Auth-Token': token, 'Content-Type': 'application/octet-stream' },
      body: Buffer.alloc(MiB, 7),
    });
    assert.equal(put.status, 204);
    const id = await create({ size: 1, name: 'doomed', imageRef: img.body.id });
    // The scheduler picks a host; that process's agent is then downloading the (delayed) image.
    const host = await until('the volume placed', async () => (await volume(id))['os-vol-host-attr:host'] as string);
    const name = host.split('@')[0]!;
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal((await volume(id)).status, 'creating');
    const victim = procs.get(name)!;
    const gone = new Promise((r) => victim.once('exit', r));
    victim.kill('SIGKILL');
    await gone;
    await until(
      'its service down',
      async () => (await services()).find((s) => s.host === `${name}@file`)?.state === 'down',
    );
    assert.equal((await volume(id)).status, 'creating', 'nobody settles it while its host is down');
    await startVolumeHost(name);
    const v = await settled(id, 'error');
    assert.equal(v['os-vol-host-attr:host'], host);
    assert.ok(!fs.existsSync(fileOf(host, id)), 'nothing half-written is left');
    await until(
      'its service up again',
      async () => (await services()).find((s) => s.host === `${name}@file`)?.state === 'up',
    );
    // The restarted process takes new work.
    const later = await Promise.all([1, 2, 3].map((i) => create({ size: 1, name: `later-${i}` })));
    for (const l of later) await settled(l);
  });

  it("answers Debian's openstack client (volume service list, volume backup create)", {
    timeout: 300_000,
    skip: fs.existsSync(OPENSTACK) ? undefined : `${OPENSTACK} is not installed`,
  }, async (t) => {
    const env = {
      ...process.env,
      OS_AUTH_URL: `${base}/identity/v3`,
      OS_IDENTITY_API_VERSION: '3',
      OS_USERNAME: 'admin',
      OS_PASSWORD: 'admin-secret',
      OS_PROJECT_NAME: 'admin',
      OS_USER_DOMAIN_ID: 'default',
      OS_PROJECT_DOMAIN_ID: 'default',
      OS_VOLUME_API_VERSION: '3.62',
    };
    const openstack = async (...args: string[]) => {
      const { stdout } = await run(OPENSTACK, args, { env, timeout: 120_000 });
      t.diagnostic(`$ openstack ${args.join(' ')}\n${stdout}`);
      return stdout;
    };
    const list = await openstack('volume', 'service', 'list');
    for (const h of ['store-a@file', 'store-b@file', 'vault', 'control'])
      assert.match(list, new RegExp(`\\| [a-z-]+ +\\| ${h} +\\| nova +\\| enabled +\\| up `), list);
    const id = await create({ size: 1, name: 'cli' });
    await settled(id);
    const made = JSON.parse(await openstack('volume', 'backup', 'create', '--name', 'cli-backup', id, '-f', 'json'));
    await until('the client backup available', async () => {
      const x = (await cinder('GET', `/backups/${made.id}`)).body.backup;
      if (x.status === 'error') throw new Error(`backup failed: ${x.fail_reason}`);
      return x.status === 'available';
    });
    await openstack('volume', 'backup', 'show', made.id, '-c', 'status', '-c', 'volume_id', '-c', 'object_count');
  });
});
