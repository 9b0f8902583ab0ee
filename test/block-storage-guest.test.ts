// A real guest (libvirt, TCG) on an iSCSI volume: the tgt portal listens on an address the
// host's namespace reaches. QEMU runs inside libvirtd's network namespace (stratus-host-<host>),
// whose 127.0.0.1 is its own loopback: a portal on the root namespace's 127.0.0.1 (the default
// blockStorage.iscsiIp, Cinder's target_ip_address) is unreachable from there. Here the storage
// network is a veth pair between the root namespace and the host's namespace (a /30 of
// 198.18.0.0/15, no route beyond it, no forwarding), and blockStorage.iscsiIp is the root end.
//
// The test boots the test guest, attaches an iSCSI volume through compute's API, writes a pattern
// through the guest's own QEMU block device (HMP qemu-io on the guest's vdb: the path the guest's
// virtio I/O takes to the LUN), swaps the volume for another one (libvirt blockcopy --pivot over
// iSCSI while the guest runs), detaches, and reads the bytes back on the host from the new
// volume's file (tgt's backing store). One guest; everything made is removed, also on failure.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud, until } from './lib/cloud.ts';
import type { ComputeService } from '../src/compute/service.ts';
import { missingLibvirtPackages } from '../src/compute/drivers/libvirt/daemon.ts';
import type { LibvirtDriver } from '../src/compute/drivers/libvirt/driver.ts';
import { buildGuest, missingGuestTools } from '../src/compute/guest/build.ts';
import { registerGuest } from '../src/compute/guest/register.ts';
import { deleteHostNamespace, ensureHostNamespace, run } from '../src/core/hostns.ts';

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const skip =
  process.getuid?.() !== 0
    ? 'needs root (libvirtd, namespaces, tgtd)'
    : missingLibvirtPackages().length || missingGuestTools().length
      ? `needs the Debian packages ${[...missingLibvirtPackages(), ...missingGuestTools()].join(' ')}`
      : !has('tgtd') || !has('tgtadm')
        ? 'needs tgt'
        : false;
const GUEST_DIR = process.env.STRATUS_GUEST_DIR ?? path.join(os.tmpdir(), 'stratus-guest-cache');

const freePort = (host: string) =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, host, () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });

describe('a real guest on iSCSI volumes (attach, write, swap, detach)', { skip }, () => {
  const host = `bsg${process.pid}`;
  const n = process.pid % 16384;
  // A /30 of 198.18.0.0/15 (benchmarking range) per run: root end .1 (the portal), host end .2.
  const base = `198.${18 + (n >> 13)}.${(n >> 5) & 0xff}.${(n & 0x1f) * 4}`;
  const octets = base.split('.').map(Number);
  const addr = (k: number) => `${octets[0]}.${octets[1]}.${octets[2]}.${octets[3]! + k}`;
  const rootIf = `bsg${n}r`;
  const hostIf = `bsg${n}h`;
  const control = 1000 + (process.pid % 9000);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-bs-guest-'));
  let c: TestCloud;
  let svc: ComputeService;
  let driver: LibvirtDriver | undefined;
  let project = '';
  let server = '';
  const nova = (method: string, p: string, body?: unknown) =>
    c.req(method, `${c.url}/compute/v2.1${p}`, body, { headers: { 'OpenStack-API-Version': 'compute 2.79' } });
  const cinder = (method: string, p: string, body?: unknown) =>
    c.req(method, `${c.url}/volume/v3/${project}${p}`, body, { headers: { 'OpenStack-API-Version': 'volume 3.60' } });
  const volume = (id: string, status: string) =>
    until(
      `volume ${id} ${status}`,
      async () => {
        const v = (await cinder('GET', `/volumes/${id}`)).body.volume;
        if (v?.status === 'error') throw new Error(`volume ${id} went to error`);
        return v?.status === status ? v : null;
      },
      120_000,
    );
  const fileOf = (id: string) => path.join(dataDir, 'volumes', `volume-${id}`);
  const readAt = (file: string, offset: number, len: number) => {
    const fd = fs.openSync(file, 'r');
    const b = Buffer.alloc(len);
    fs.readSync(fd, b, 0, len, offset);
    fs.closeSync(fd);
    return b;
  };
  const tgtdPids = () =>
    spawnSync('pgrep', ['-f', `tgtd -f -C ${control} `], { encoding: 'utf8' })
      .stdout.trim()
      .split('\n')
      .filter(Boolean);

  before(async () => {
    const guest = await buildGuest(GUEST_DIR);
    // The storage link, before the volume agent starts tgtd on the root end's address.
    const ns = await ensureHostNamespace(host);
    await run(['ip', 'link', 'add', rootIf, 'type', 'veth', 'peer', 'name', hostIf]);
    await run(['ip', 'link', 'set', hostIf, 'netns', ns]);
    await run(['ip', 'addr', 'add', `${addr(1)}/30`, 'dev', rootIf]);
    await run(['ip', 'link', 'set', rootIf, 'up']);
    await run(['ip', 'addr', 'add', `${addr(2)}/30`, 'dev', hostIf], { ns });
    await run(['ip', 'link', 'set', hostIf, 'up'], { ns });
    const portalPort = await freePort(addr(1));
    c = await startCloud({
      dataDir,
      configure: (cfg) => {
        cfg.compute = {
          ...(cfg.compute ?? {}),
          host,
          driver: 'libvirt',
          libvirt: { guestDir: GUEST_DIR, statsInterval: 2, shutdownTimeout: 30 },
          metadata: { port: 0 },
        };
        cfg.blockStorage = {
          ...(cfg.blockStorage ?? {}),
          driver: 'iscsi',
          backendName: 'iscsi',
          iscsiIp: addr(1),
          iscsiPort: portalPort,
          tgtControlPort: control,
        };
      },
    });
    svc = c.cloud.services.find((s) => s.catalogEntry.name === 'compute') as unknown as ComputeService;
    driver = svc.parts.agent!.driver as LibvirtDriver;
    project = (await c.req('GET', '/v3/projects?name=admin')).body.projects[0].id;
    await until('compute node', async () => svc.parts.agent?.ready, 60_000);
    const ids = await registerGuest(guest, { authUrl: `${c.identity}/v3`, password: c.adminPassword });
    const r = await nova('POST', '/servers', {
      server: { name: 'bs-guest', imageRef: ids.disk, flavorRef: '1', networks: 'none' },
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    server = r.body.server.id;
  });

  after(async () => {
    try {
      if (server) await nova('DELETE', `/servers/${server}`).catch(() => undefined);
      if (driver && server)
        await until('deleted', async () => (await nova('GET', `/servers/${server}`)).status === 404, 60_000).catch(
          () => undefined,
        );
      await c?.stop();
    } finally {
      await driver?.close();
      for (const pid of tgtdPids()) process.kill(Number(pid), 'SIGKILL');
      fs.rmSync(`/var/run/tgtd/socket.${control}`, { force: true });
      fs.rmSync(`/var/run/tgtd/socket.${control}.lock`, { force: true });
      await run(['ip', 'link', 'del', rootIf], { allowFail: true });
      await deleteHostNamespace(host);
      fs.rmSync(path.join('/run/stratus', host), { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
      fs.rmSync(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    }
  });

  it('attaches an iSCSI volume to the running guest, writes through it, swaps it live and reads the bytes back', async () => {
    await until(
      'ACTIVE',
      async () => {
        const s = (await nova('GET', `/servers/${server}`)).body.server;
        if (s?.status === 'ERROR') assert.fail(JSON.stringify(s.fault));
        return s?.status === 'ACTIVE';
      },
      240_000,
    );
    const d = driver!;
    const a = (await cinder('POST', '/volumes', { volume: { size: 1, name: 'a' } })).body.volume.id as string;
    const b = (await cinder('POST', '/volumes', { volume: { size: 1, name: 'b' } })).body.volume.id as string;
    await volume(a, 'available');
    await volume(b, 'available');
    const att = await nova('POST', `/servers/${server}/os-volume_attachments`, { volumeAttachment: { volumeId: a } });
    assert.equal(att.status, 200, JSON.stringify(att.body));
    await volume(a, 'in-use');
    // QEMU in the host's namespace opened the LUN over the storage link.
    const xml = await d.daemon.virsh(['dumpxml', server]);
    assert.match(xml, new RegExp(`protocol='iscsi' name='[^']*volume-${a}/1'`));
    assert.match(xml, new RegExp(`host name='${addr(1).replace(/\./g, '\\.')}'`));
    // vdb's virtio device (libvirt's alias); its block backend is the virtio-blk device inside it.
    const disk = xml.split('<disk ').find((x) => x.includes(`volume-${a}/1`)) ?? '';
    const alias = /<alias name='([^']+)'\/>/.exec(disk)?.[1];
    assert.ok(alias, 'vdb has a device alias');
    // Bytes written through the guest's own block device (the guest's QEMU, over iSCSI).
    const io = (cmd: string) =>
      d.daemon.virsh([
        'qemu-monitor-command',
        server,
        '--hmp',
        `qemu-io -d /machine/peripheral/${alias}/virtio-backend "${cmd}"`,
      ]);
    const w = await io('write -P 0x5a 1048576 65536');
    // (HMP prints qemu-io's report or nothing; an error is a message.)
    assert.doesNotMatch(w, /error|conflict|failed|denied/i, w);
    // tgt writes them into the volume's file, its backing store.
    await until('bytes in the file', async () => readAt(fileOf(a), 1048576, 65536).every((x) => x === 0x5a), 30_000);

    // The swap (Nova's swap_volume, libvirt blockcopy + pivot): the guest keeps running on b.
    const sw = await nova('PUT', `/servers/${server}/os-volume_attachments/${a}`, {
      volumeAttachment: { volumeId: b },
    });
    assert.equal(sw.status, 202, JSON.stringify(sw.body));
    await volume(b, 'in-use');
    await volume(a, 'available');
    const after = await d.daemon.virsh(['dumpxml', server]);
    assert.match(after, new RegExp(`volume-${b}/1`));
    assert.doesNotMatch(after, new RegExp(`volume-${a}/1`));
    assert.match(await d.daemon.virsh(['dumpxml', '--inactive', server]), new RegExp(`volume-${b}/1`));
    assert.ok(
      readAt(fileOf(b), 1048576, 65536).every((x) => x === 0x5a),
      'the copy carried the bytes',
    );
    assert.equal((await d.daemon.virsh(['domstate', server])).trim(), 'running');

    // Detach; the bytes are in b's file, read back on the host (and a's target is gone).
    assert.equal((await nova('DELETE', `/servers/${server}/os-volume_attachments/${b}`)).status, 202);
    await volume(b, 'available');
    assert.doesNotMatch(await d.daemon.virsh(['dumpxml', server]), /protocol='iscsi'/);
    const out = execFileSync('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', fileOf(a), fileOf(b)], {
      encoding: 'utf8',
    });
    assert.match(out, /Images are identical/);
  });
});
