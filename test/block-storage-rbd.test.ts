// Block storage on Ceph: the `rbd` volume driver against a private one-node Ceph (test/lib/ceph.ts),
// through the block-storage API of an in-process cloud. Bytes are written into a volume through
// QEMU's librbd (`qemu-io` on an `rbd:` URI) and read back from its clones.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { volumeDiskXml } from '../src/compute/drivers/libvirt/driver.ts';
import { TestCeph, cephUnavailable } from './lib/ceph.ts';
import { startCloud, type TestCloud, until } from './lib/cloud.ts';

const run = promisify(execFile);
const GiB = 1024 ** 3;
const skip = cephUnavailable();
/** Long enough for a loaded machine (each step is 0.1–5 s when idle). */
const WAIT = 60_000;

describe('block storage on Ceph RBD', { skip }, () => {
  let ceph: TestCeph;
  let c: TestCloud;
  let project: string;
  const secretUuid = randomUUID();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-rbd-'));
  const timings: Record<string, number> = {};

  const cinder = (method: string, p: string, body?: unknown, version = '3.0') =>
    c.req(method, `${c.url}/volume/v3/${project}${p}`, body, {
      headers: { 'OpenStack-API-Version': `volume ${version}` },
    });
  const volume = (id: string, status: string) =>
    until(
      `volume ${id} ${status}`,
      async () => {
        const r = await cinder('GET', `/volumes/${id}`);
        if (r.body.volume?.status === 'error' && status !== 'error') throw new Error(`volume ${id} went to error`);
        return r.body.volume?.status === status ? r.body.volume : null;
      },
      WAIT,
    );
  const snapshot = (id: string, status: string) =>
    until(
      `snapshot ${id} ${status}`,
      async () => {
        const r = await cinder('GET', `/snapshots/${id}`);
        if (r.body.snapshot?.status === 'error') throw new Error(`snapshot ${id} went to error`);
        return r.body.snapshot?.status === status ? r.body.snapshot : null;
      },
      WAIT,
    );
  const gone = (kind: 'volumes' | 'snapshots', id: string) =>
    until(`${kind} ${id} gone`, async () => (await cinder('GET', `/${kind}/${id}`)).status === 404, WAIT);
  /** Creates a volume and answers it once available, with the seconds it took. */
  const create = async (body: Record<string, unknown>) => {
    const t0 = Date.now();
    const r = await cinder('POST', '/volumes', { volume: { size: 1, ...body } });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const v = await volume(r.body.volume.id, 'available');
    return { v, seconds: (Date.now() - t0) / 1000 };
  };
  const rbd = async (...args: string[]) => (await run('rbd', args, { env: ceph.env })).stdout;
  const rbdJson = async <T>(...args: string[]) => JSON.parse(await rbd(...args, '--format', 'json')) as T;
  const images = async () => (await rbdJson<string[]>('ls', '--pool', ceph.pool)).sort();
  const uri = (image: string) => `rbd:${ceph.pool}/${image}:id=${ceph.user}:conf=${ceph.conf}`;
  const qemuIo = async (image: string, cmd: string) => {
    const r = await run('qemu-io', ['-f', 'raw', '-c', cmd, uri(image)]);
    assert.doesNotMatch(r.stdout, /Pattern verification failed|error/i, r.stdout);
    return r.stdout;
  };

  before(async () => {
    ceph = new TestCeph();
    try {
      await ceph.start();
    } catch (err) {
      await ceph.stop();
      throw err;
    }
    timings.cephBootSeconds = ceph.bootSeconds;
    timings.cephMemoryMiB = ceph.memoryMiB();
    c = await startCloud({
      dataDir,
      configure: (cfg) => {
        cfg.blockStorage = {
          ...(cfg.blockStorage ?? {}),
          driver: 'rbd',
          backendName: 'ceph',
          rbdPool: ceph.pool,
          rbdUser: ceph.user,
          rbdCephConf: ceph.conf,
          rbdSecretUuid: secretUuid,
          reportInterval: 1,
        };
      },
    });
    project = (await c.req('GET', '/v3/projects?name=admin')).body.projects[0].id;
  });
  after(async () => {
    timings.cephMemoryMiBAtEnd = ceph?.memoryMiB() ?? 0;
    console.log(`# rbd figures: ${JSON.stringify(timings)}`);
    await c?.stop();
    await ceph?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  });

  it('creates, snapshots, clones, extends and deletes volumes as RBD images; bytes written are read from the clones', async () => {
    const { v: a, seconds } = await create({ name: 'a' });
    timings.createSeconds = seconds;
    assert.match(a['os-vol-host-attr:host'], /@ceph#ceph$/);
    const info = await rbdJson<{ size: number }>('info', `${ceph.pool}/volume-${a.id}`);
    assert.equal(info.size, GiB);
    // Written through librbd, as a guest would.
    await qemuIo(`volume-${a.id}`, 'write -P 0xab 0 1M');
    await qemuIo(`volume-${a.id}`, 'write -P 0xcd 512M 64k');

    const s = await cinder('POST', '/snapshots', { snapshot: { volume_id: a.id, name: 's' } });
    assert.equal(s.status, 202, JSON.stringify(s.body));
    const snap = await snapshot(s.body.snapshot.id, 'available');
    const snaps = await rbdJson<Array<{ name: string; protected: string }>>(
      'snap',
      'ls',
      `${ceph.pool}/volume-${a.id}`,
    );
    assert.deepEqual(
      snaps.map((x) => [x.name, x.protected]),
      [[`snapshot-${snap.id}`, 'true']],
    );
    // Written after the snapshot: not in what is made from it.
    await qemuIo(`volume-${a.id}`, 'write -P 0xee 0 4k');

    const fromSnap = await create({ snapshot_id: snap.id, size: 2 });
    timings.fromSnapshotSeconds = fromSnap.seconds;
    const b = fromSnap.v;
    const binfo = await rbdJson<{ size: number; parent?: { image: string; snapshot: string } }>(
      'info',
      `${ceph.pool}/volume-${b.id}`,
    );
    assert.equal(binfo.size, 2 * GiB);
    assert.equal(binfo.parent?.image, `volume-${a.id}`, 'a copy-on-write clone of the snapshot');
    assert.equal(binfo.parent?.snapshot, `snapshot-${snap.id}`);
    await qemuIo(`volume-${b.id}`, 'read -P 0xab 0 1M');
    await qemuIo(`volume-${b.id}`, 'read -P 0xcd 512M 64k');

    const clone = await create({ source_volid: a.id });
    timings.cloneSeconds = clone.seconds;
    const d = clone.v;
    await qemuIo(`volume-${d.id}`, 'read -P 0xee 0 4k');
    await qemuIo(`volume-${d.id}`, 'read -P 0xab 4k 1020k');
    await qemuIo(`volume-${d.id}`, 'read -P 0xcd 512M 64k');
    // The clone is its own: writes to it do not reach the source.
    await qemuIo(`volume-${d.id}`, 'write -P 0x11 0 4k');
    await qemuIo(`volume-${a.id}`, 'read -P 0xee 0 4k');

    // Revert to the latest snapshot (3.40): `rbd snap rollback`; the bytes written after it go.
    await qemuIo(`volume-${a.id}`, 'write -P 0x99 100M 64k');
    const rev = await cinder('POST', `/volumes/${a.id}/action`, { revert: { snapshot_id: snap.id } }, '3.40');
    assert.equal(rev.status, 202, JSON.stringify(rev.body));
    await volume(a.id, 'available');
    await qemuIo(`volume-${a.id}`, 'read -P 0xab 0 1M');
    await qemuIo(`volume-${a.id}`, 'read -P 0 100M 64k');

    const ext = await cinder('POST', `/volumes/${a.id}/action`, { 'os-extend': { new_size: 3 } });
    assert.equal(ext.status, 202, JSON.stringify(ext.body));
    await until('size 3', async () => (await cinder('GET', `/volumes/${a.id}`)).body.volume.size === 3);
    assert.equal((await rbdJson<{ size: number }>('info', `${ceph.pool}/volume-${a.id}`)).size, 3 * GiB);

    // A snapshot a volume was cloned from: its clone is flattened, then the snapshot goes.
    assert.equal((await cinder('DELETE', `/snapshots/${snap.id}`)).status, 202);
    await gone('snapshots', snap.id);
    const flat = await rbdJson<{ parent?: unknown }>('info', `${ceph.pool}/volume-${b.id}`);
    assert.equal(flat.parent, undefined, 'the clone is flattened');
    await qemuIo(`volume-${b.id}`, 'read -P 0xab 0 1M');
    await qemuIo(`volume-${b.id}`, 'read -P 0xcd 512M 64k');
    assert.equal((await cinder('DELETE', `/volumes/${b.id}`)).status, 202);
    await gone('volumes', b.id);

    // The source of a live clone: its row goes, its image waits for the clone as `.deleted`.
    assert.equal((await cinder('DELETE', `/volumes/${a.id}`)).status, 202);
    await gone('volumes', a.id);
    assert.deepEqual(await images(), [`volume-${a.id}.deleted`, `volume-${d.id}`].sort());
    await qemuIo(`volume-${d.id}`, 'read -P 0xcd 512M 64k');
    assert.equal((await cinder('DELETE', `/volumes/${d.id}`)).status, 202);
    await gone('volumes', d.id);
    assert.deepEqual(await images(), []);
  });

  it('gives Cinder’s rbd connection info, which the libvirt driver turns into a network disk', async () => {
    const { v } = await create({ name: 'attach' });
    const r = await cinder('POST', `/volumes/${v.id}/action`, {
      'os-initialize_connection': { connector: { host: 'h1', initiator: 'iqn.x' } },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const ci = r.body.connection_info;
    assert.equal(ci.driver_volume_type, 'rbd');
    assert.equal(ci.data.name, `${ceph.pool}/volume-${v.id}`);
    assert.deepEqual(ci.data.hosts, ['127.0.0.1']);
    assert.deepEqual(ci.data.ports, [String(ceph.monPort)]);
    assert.equal(ci.data.auth_enabled, true);
    assert.equal(ci.data.auth_username, ceph.user);
    assert.equal(ci.data.secret_type, 'ceph');
    assert.equal(ci.data.secret_uuid, secretUuid);
    assert.equal(ci.data.volume_id, v.id);
    const xml = volumeDiskXml(ci, 'vdb');
    assert.match(xml, /<disk type='network' device='disk'>/);
    assert.match(xml, new RegExp(`<source protocol='rbd' name='${ceph.pool}/volume-${v.id}'>`));
    assert.match(xml, new RegExp(`<host name='127.0.0.1' port='${ceph.monPort}'/>`));
    assert.match(xml, new RegExp(`<auth username='${ceph.user}'>\\s*<secret type='ceph' uuid='${secretUuid}'/>`));
    // What libvirt makes of it (mon_host and the key): QEMU reads the volume with exactly those.
    const key = (await run('ceph', ['auth', 'get-key', `client.${ceph.user}`], { env: ceph.env })).stdout.trim();
    const env = { ...process.env, CEPH_CONF: '/nonexistent' };
    const direct = `rbd:${ci.data.name}:id=${ci.data.auth_username}:key=${key}:auth_supported=cephx:mon_host=${ci.data.hosts[0]}\\:${ci.data.ports[0]}`;
    const out = await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x5a 0 64k', '-c', 'read -P 0x5a 0 64k', direct], {
      env,
    });
    assert.doesNotMatch(out.stdout, /failed/i);
    assert.equal((await cinder('DELETE', `/volumes/${v.id}`)).status, 202);
    await gone('volumes', v.id);
  });

  it('reports the pool capacity from ceph df', async () => {
    const pools = await until('pool stats', async () => {
      const p = await cinder('GET', '/scheduler-stats/get_pools?detail=True');
      const pool = p.body.pools?.find((x: { name: string }) => x.name.endsWith('@ceph#ceph'));
      return pool?.capabilities?.total_capacity_gb > 0 ? pool : null;
    });
    assert.equal(pools.capabilities.storage_protocol, 'ceph');
    assert.ok(pools.capabilities.total_capacity_gb > 15 && pools.capabilities.total_capacity_gb <= 20);
    assert.ok(pools.capabilities.free_capacity_gb > 0);
  });

  it('makes a volume from an image (qemu-img convert to rbd:) and uploads a volume back to an image', async () => {
    const raw = Buffer.alloc(2 * 1024 * 1024, 0x42);
    const img = await c.req('POST', `${c.url}/image/v2/images`, {
      name: 'pattern',
      disk_format: 'raw',
      container_format: 'bare',
    });
    assert.equal(img.status, 201, JSON.stringify(img.body));
    const put = await fetch(`${c.url}/image/v2/images/${img.body.id}/file`, {
      method: 'PUT',
      headers: { 'X-Auth-Token': c.adminToken, 'Content-Type': 'application/octet-stream' },
      body: new Uint8Array(raw),
    });
    assert.equal(put.status, 204);
    const { v, seconds } = await create({ imageRef: img.body.id });
    timings.fromImageSeconds = seconds;
    assert.equal(v.bootable, 'true');
    assert.equal((await rbdJson<{ size: number }>('info', `${ceph.pool}/volume-${v.id}`)).size, GiB);
    await qemuIo(`volume-${v.id}`, 'read -P 0x42 0 2M');
    await qemuIo(`volume-${v.id}`, 'write -P 0x43 0 4k');
    const up = await cinder('POST', `/volumes/${v.id}/action`, {
      'os-volume_upload_image': { image_name: 'back', disk_format: 'qcow2', container_format: 'bare' },
    });
    assert.equal(up.status, 202, JSON.stringify(up.body));
    const imageId = up.body['os-volume_upload_image'].image_id;
    await until(
      'image active',
      async () => {
        const x = await c.req('GET', `${c.url}/image/v2/images/${imageId}`);
        if (x.status === 404) throw new Error('the upload failed (image deleted)');
        return x.body.status === 'active';
      },
      60_000,
    );
    const res = await fetch(`${c.url}/image/v2/images/${imageId}/file`, { headers: { 'X-Auth-Token': c.adminToken } });
    const qcow = path.join(dataDir, 'back.qcow2');
    fs.writeFileSync(qcow, Buffer.from(await res.arrayBuffer()));
    const got = await run('qemu-io', ['-f', 'qcow2', '-c', 'read -P 0x43 0 4k', '-c', 'read -P 0x42 4k 2044k', qcow]);
    assert.doesNotMatch(got.stdout, /failed/i, got.stdout);
    const vsize = JSON.parse((await run('qemu-img', ['info', '--output=json', qcow])).stdout)['virtual-size'];
    assert.equal(vsize, GiB);
    await volume(v.id, 'available');
    assert.equal((await cinder('DELETE', `/volumes/${v.id}`)).status, 202);
    await gone('volumes', v.id);
    await c.req('DELETE', `${c.url}/image/v2/images/${imageId}`);
    await c.req('DELETE', `${c.url}/image/v2/images/${img.body.id}`);
    assert.deepEqual(await images(), []);
  });

  it('backs an rbd volume up (full, then incremental) and restores it byte-identical, to a new and over an existing volume', async () => {
    const { v } = await create({ name: 'data' });
    await qemuIo(`volume-${v.id}`, 'write -P 0x61 5M 64k');
    await qemuIo(`volume-${v.id}`, 'write -P 0x62 700M 4k');
    const waitBackup = (id: string) =>
      until(
        `backup ${id}`,
        async () => {
          const b = (await cinder('GET', `/backups/${id}`)).body.backup;
          if (b.status === 'error') throw new Error(`backup error: ${b.fail_reason}`);
          return b.status === 'available' ? b : null;
        },
        60_000,
      );
    const t0 = Date.now();
    const full = await cinder('POST', '/backups', { backup: { volume_id: v.id, name: 'full' } });
    assert.equal(full.status, 202, JSON.stringify(full.body));
    const fb = await waitBackup(full.body.backup.id);
    timings.backupSeconds = (Date.now() - t0) / 1000;
    assert.equal(fb.object_count, 3, 'two chunks with data and the metadata object');
    await volume(v.id, 'available');
    await qemuIo(`volume-${v.id}`, 'write -P 0x63 5M 4k');
    const inc = await cinder('POST', '/backups', { backup: { volume_id: v.id, incremental: true } });
    const ib = await waitBackup(inc.body.backup.id);
    assert.equal(ib.is_incremental, true);
    assert.equal(ib.object_count, 2, 'only the changed chunk');
    await volume(v.id, 'available');
    const same = async (a: string, b: string) => {
      const r = await run('qemu-img', ['compare', '-q', '-f', 'raw', '-F', 'raw', uri(a), uri(b)]).catch((e) => e);
      return (r as { code?: number }).code ?? 0;
    };
    const rs = await cinder('POST', `/backups/${ib.id}/restore`, { restore: { name: 'restored' } });
    assert.equal(rs.status, 202, JSON.stringify(rs.body));
    const nv = await volume(rs.body.restore.volume_id, 'available');
    assert.equal(await same(`volume-${v.id}`, `volume-${nv.id}`), 0, 'the restored volume differs');
    // Over an existing volume with other bytes: those become the backup's (zeros included).
    await qemuIo(`volume-${nv.id}`, 'write -P 0x77 100M 1M');
    const over = await cinder('POST', `/backups/${fb.id}/restore`, { restore: { volume_id: nv.id } });
    assert.equal(over.status, 202, JSON.stringify(over.body));
    await until(
      'restore done',
      async () => (await cinder('GET', `/backups/${fb.id}`)).body.backup.status === 'available',
    );
    await volume(nv.id, 'available');
    await qemuIo(`volume-${nv.id}`, 'read -P 0x61 5M 64k');
    await qemuIo(`volume-${nv.id}`, 'read -P 0 100M 1M');
    await qemuIo(`volume-${nv.id}`, 'read -P 0x62 700M 4k');
    for (const b of [ib.id, fb.id]) {
      assert.equal((await cinder('DELETE', `/backups/${b}`)).status, 202);
      await until(`backup ${b} gone`, async () => (await cinder('GET', `/backups/${b}`)).status === 404);
    }
    for (const x of [v.id, nv.id]) {
      assert.equal((await cinder('DELETE', `/volumes/${x}`)).status, 202);
      await gone('volumes', x);
    }
    assert.deepEqual(await images(), []);
    assert.deepEqual(
      fs.readdirSync(path.join(dataDir, 'volumes')).filter((f) => f.startsWith('rbd-')),
      [],
      'no local copy left behind',
    );
  });
});
