// The `iscsi` volume driver against a real tgtd: the agent starts tgtd on its own management
// channel and portal, a connector gets a CHAP-protected target per volume, QEMU's own iSCSI
// initiator (qemu-io) writes and reads the LUN, terminate removes the target, and stopping the
// cloud stops the tgtd it started.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { iscsiSecretUsage, iscsiSecretXml, volumeDiskXml } from '../src/compute/drivers/libvirt/driver.ts';
import { startCloud, type TestCloud, until } from './lib/cloud.ts';

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const skip =
  process.getuid?.() !== 0
    ? 'tgtd needs root'
    : !has('tgtd') || !has('tgtadm') || !has('qemu-io')
      ? 'needs tgt and qemu-utils (with qemu-block-extra for iscsi://)'
      : false;

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });

interface IscsiData {
  target_portal: string;
  target_iqn: string;
  target_lun: number;
  volume_id: string;
  auth_method?: string;
  auth_username?: string;
  auth_password?: string;
}

const url = (d: IscsiData, password = d.auth_password) =>
  `iscsi://${d.auth_username}%${password}@${d.target_portal}/${d.target_iqn}/${d.target_lun}`;

const qemuIo = (cmd: string, target: string) =>
  spawnSync('qemu-io', ['-f', 'raw', '-c', cmd, target], { encoding: 'utf8', timeout: 60_000 });

describe('block storage: the iscsi driver over tgt', { skip }, () => {
  let c: TestCloud;
  let project: string;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-iscsi-'));
  // A management channel of our own (tgt's socket /var/run/tgtd/socket.<n>), unlikely to collide.
  const control = 10000 + (process.pid % 20000);
  let portalPort = 0;
  const tgtadm = (...args: string[]) =>
    execFileSync('tgtadm', ['-C', String(control), '--lld', 'iscsi', ...args], { encoding: 'utf8' });
  const tgtdPids = () =>
    spawnSync('pgrep', ['-f', `tgtd -f -C ${control} `], { encoding: 'utf8' })
      .stdout.trim()
      .split('\n')
      .filter(Boolean);

  const cinder = (method: string, p: string, body?: unknown, version = '3.54') =>
    c.req(method, `${c.url}/volume/v3/${project}${p}`, body, {
      headers: { 'OpenStack-API-Version': `volume ${version}` },
    });
  const waitStatus = (id: string, status: string) =>
    until(`volume ${id} ${status}`, async () => {
      const r = await cinder('GET', `/volumes/${id}`);
      if (r.body.volume?.status === 'error') throw new Error(`volume ${id} went to error`);
      return r.body.volume?.status === status ? r.body.volume : null;
    });

  before(async () => {
    portalPort = await freePort();
    c = await startCloud({
      dataDir,
      configure: (cfg) => {
        cfg.blockStorage = {
          ...(cfg.blockStorage ?? {}),
          driver: 'iscsi',
          backendName: 'iscsi',
          iscsiIp: '127.0.0.1',
          iscsiPort: portalPort,
          tgtControlPort: control,
        };
      },
    });
    project = (await c.req('GET', '/v3/projects?name=admin')).body.projects[0].id;
  });
  after(async () => {
    await c?.stop();
    // Whatever the outcome, no tgtd of ours stays.
    for (const pid of tgtdPids()) process.kill(Number(pid), 'SIGKILL');
    fs.rmSync(`/var/run/tgtd/socket.${control}`, { force: true });
    fs.rmSync(`/var/run/tgtd/socket.${control}.lock`, { force: true });
    fs.rmSync(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  });

  it('started tgtd on its own channel and reports an iSCSI pool', async () => {
    assert.equal(tgtdPids().length, 1);
    assert.equal(tgtadm('--mode', 'target', '--op', 'show').trim(), '');
    const pools = await cinder('GET', '/scheduler-stats/get_pools?detail=true');
    assert.equal(pools.status, 200);
    assert.equal(pools.body.pools[0].capabilities.storage_protocol, 'iSCSI');
  });

  it('exports a volume to a connector with CHAP; QEMU reads back what it wrote; detach removes the target', async () => {
    const created = await cinder('POST', '/volumes', { volume: { size: 1, name: 'iscsi-1' } });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const id = created.body.volume.id as string;
    await waitStatus(id, 'available');
    const file = path.join(dataDir, 'volumes', `volume-${id}`);
    assert.ok(fs.existsSync(file));

    const connector = { initiator: 'iqn.2008-11.org.linux-kvm:test', ip: '127.0.0.1', host: 'compute-1' };
    const a = await cinder('POST', '/attachments', {
      attachment: { volume_uuid: id, instance_uuid: randomUUID(), connector, mode: 'rw' },
    });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.equal(a.body.attachment.connection_info.driver_volume_type, 'iscsi');
    const ci = a.body.attachment.connection_info.data as IscsiData;
    const info = (await cinder('GET', `/attachments/${a.body.attachment.id}`)).body.attachment.connection_info;
    assert.equal(info.data.target_iqn, `iqn.2010-10.org.openstack:volume-${id}`);
    assert.equal(ci.target_portal, `127.0.0.1:${portalPort}`);
    assert.equal(ci.target_lun, 1);
    assert.equal(ci.volume_id, id);
    assert.equal(ci.auth_method, 'CHAP');
    assert.ok(ci.auth_username && ci.auth_password && ci.auth_password.length >= 12);
    const shown = tgtadm('--mode', 'target', '--op', 'show');
    assert.match(shown, new RegExp(`Target \\d+: iqn.2010-10.org.openstack:volume-${id}`));
    assert.match(shown, new RegExp(`Backing store path: ${file}`));

    // QEMU's iSCSI initiator: write a pattern, read it back, and find it in the volume's file.
    const w = qemuIo('write -P 0x5a 1M 2M', url(ci));
    assert.equal(w.status, 0, w.stderr);
    const r = qemuIo('read -P 0x5a 1M 2M', url(ci));
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.doesNotMatch(r.stdout, /Pattern verification failed/);
    const fd = fs.openSync(file, 'r');
    const buf = Buffer.alloc(4096);
    fs.readSync(fd, buf, 0, buf.length, 1024 * 1024);
    fs.closeSync(fd);
    assert.ok(buf.every((b) => b === 0x5a));
    // A wrong secret is refused.
    const denied = qemuIo('read 0 512', url(ci, 'not-the-password'));
    assert.notEqual(denied.status, 0);
    assert.match(denied.stderr, /Authentication failure/i);

    // A second connection (the legacy action) reuses the target; the attachment's delete removes it.
    const again = await cinder('POST', `/volumes/${id}/action`, { 'os-initialize_connection': { connector } });
    assert.equal(again.status, 200);
    assert.equal(again.body.connection_info.data.target_iqn, ci.target_iqn);
    assert.equal(again.body.connection_info.data.auth_password, ci.auth_password);
    assert.equal((tgtadm('--mode', 'target', '--op', 'show').match(/^Target /gm) ?? []).length, 1);
    const del = await cinder('DELETE', `/attachments/${a.body.attachment.id}`);
    assert.equal(del.status, 200, JSON.stringify(del.body));
    assert.equal(tgtadm('--mode', 'target', '--op', 'show').trim(), '');
    assert.doesNotMatch(tgtadm('--mode', 'account', '--op', 'show'), new RegExp(String(ci.auth_username)));
    await waitStatus(id, 'available');

    // The bytes stay in the volume: a new export serves them again; delete takes the export and the file.
    const re = await cinder('POST', `/volumes/${id}/action`, { 'os-initialize_connection': { connector } });
    const back = qemuIo('read -P 0x5a 1M 2M', url(re.body.connection_info.data));
    assert.equal(back.status, 0, back.stderr);
    assert.doesNotMatch(back.stdout, /Pattern verification failed/);
    const term = await cinder('POST', `/volumes/${id}/action`, { 'os-terminate_connection': { connector } });
    assert.equal(term.status, 202);
    assert.equal(tgtadm('--mode', 'target', '--op', 'show').trim(), '');
    assert.equal((await cinder('DELETE', `/volumes/${id}`)).status, 202);
    await until('volume gone', async () => (await cinder('GET', `/volumes/${id}`)).status === 404);
    assert.ok(!fs.existsSync(file));
  });

  it('keeps the export of a multiattach volume while another attachment is connected', async () => {
    const type = await cinder('POST', '/types', {
      volume_type: { name: `multi-${randomUUID().slice(0, 8)}`, extra_specs: { multiattach: '<is> True' } },
    });
    assert.equal(type.status, 200, JSON.stringify(type.body));
    const created = await cinder('POST', '/volumes', { volume: { size: 1, volume_type: type.body.volume_type.id } });
    const id = created.body.volume.id as string;
    await waitStatus(id, 'available');
    const attach = (host: string) =>
      cinder('POST', '/attachments', {
        attachment: { volume_uuid: id, instance_uuid: randomUUID(), connector: { host, initiator: `iqn.x:${host}` } },
      });
    const a1 = await attach('h1');
    const a2 = await attach('h2');
    assert.equal(a2.status, 200, JSON.stringify(a2.body));
    await cinder('DELETE', `/attachments/${a1.body.attachment.id}`);
    assert.match(tgtadm('--mode', 'target', '--op', 'show'), new RegExp(`volume-${id}`));
    const d = qemuIo('read 0 512', url(a2.body.attachment.connection_info.data));
    assert.equal(d.status, 0, d.stderr);
    await cinder('DELETE', `/attachments/${a2.body.attachment.id}`);
    assert.equal(tgtadm('--mode', 'target', '--op', 'show').trim(), '');
    await waitStatus(id, 'available');
    await cinder('DELETE', `/volumes/${id}`);
    await until('volume gone', async () => (await cinder('GET', `/volumes/${id}`)).status === 404);
  });

  it('stops the tgtd it started when the cloud stops', async () => {
    await c.stop();
    await until('tgtd gone', async () => tgtdPids().length === 0);
    assert.ok(!fs.existsSync(`/var/run/tgtd/socket.${control}`));
    c = undefined as unknown as TestCloud;
  });
});

describe('compute: the libvirt disk of a CHAP-protected iSCSI volume', () => {
  it('names the CHAP user and the libvirt secret that holds the password', () => {
    const ci = {
      driver_volume_type: 'iscsi',
      data: {
        target_portal: '192.0.2.10:3260',
        target_iqn: 'iqn.2010-10.org.openstack:volume-0b6c4f8e-3c1b-4d55-a3a5-0b3a7f7e1d11',
        target_lun: 1,
        volume_id: '0b6c4f8e-3c1b-4d55-a3a5-0b3a7f7e1d11',
        auth_method: 'CHAP',
        auth_username: 'uabc',
        auth_password: 's3cret',
      },
    };
    const xml = volumeDiskXml(ci, 'vdb');
    assert.match(xml, /<source protocol='iscsi' name='iqn.2010-10.org.openstack:volume-0b6c4f8e-[^/]+\/1'>/);
    assert.match(xml, /<host name='192.0.2.10' port='3260'\/>/);
    const usage = iscsiSecretUsage(ci.data.target_iqn);
    assert.match(xml, new RegExp(`<auth username='uabc'>\\s*<secret type='iscsi' usage='${usage}'/>\\s*</auth>`));
    assert.doesNotMatch(xml, /s3cret/);
    const secret = iscsiSecretXml(ci);
    assert.ok(secret);
    assert.match(secret, new RegExp(`<usage type='iscsi'>\\s*<target>${usage}</target>`));
    assert.match(secret, /<uuid>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}<\/uuid>/);
    assert.equal(iscsiSecretXml(ci), secret, 'the same target has the same secret');
    assert.doesNotMatch(secret, /s3cret/);
    // Without CHAP: no <auth>, no secret.
    const open = { driver_volume_type: 'iscsi', data: { ...ci.data, auth_method: undefined } };
    assert.doesNotMatch(volumeDiskXml(open, 'vdb'), /<auth/);
    assert.equal(iscsiSecretXml(open), null);
  });
});
