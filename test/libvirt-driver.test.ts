// The libvirt driver against a real libvirtd (its own, in the namespace of a test host): the
// test guest boots (TCG), reads its config drive, pauses, reboots, powers off through ACPI,
// powers on, and is destroyed leaving no domain, tap or file. Needs root and Debian's
// libvirt/qemu packages; skipped with the reason otherwise. One guest, ~1 minute.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { LibvirtDriver, domainName, tapName } from '../src/compute/drivers/libvirt/driver.ts';
import { missingLibvirtPackages } from '../src/compute/drivers/libvirt/daemon.ts';
import { libvirtOptions } from '../src/compute/drivers/libvirt/options.ts';
import { buildGuest, missingGuestTools, type GuestFiles } from '../src/compute/guest/build.ts';
import { GUEST_MARKERS } from '../src/compute/guest/init.ts';
import { deleteHostNamespace, hostNamespace } from '../src/core/hostns.ts';
import { PowerState, type Instance } from '../src/compute/instances.ts';
import type { ImageMeta, WaitedEvent } from '../src/compute/drivers/virt.ts';
import {
  CONSOLE_SOCKET_ROOT,
  consoleSocketDir,
  domainXml,
  removeConsoleSocketDir,
} from '../src/compute/drivers/libvirt/xml.ts';
import { metaData, networkData, ec2MetaData } from '../src/compute/metadata/content.ts';
import { domainSpec } from './lib/domain-spec.ts';

const skip =
  process.getuid?.() !== 0
    ? 'needs root (libvirtd, namespaces)'
    : missingLibvirtPackages().length || missingGuestTools().length
      ? `needs the Debian packages ${[...missingLibvirtPackages(), ...missingGuestTools()].join(' ')}`
      : false;

/** The test guest is cached across runs (STRATUS_GUEST_DIR, default in the temp dir). */
const GUEST_DIR = process.env.STRATUS_GUEST_DIR ?? path.join(os.tmpdir(), 'stratus-guest-cache');

function instance(uuid: string, over: Partial<Instance> = {}): Instance {
  const i = {
    uuid,
    display_name: 'lv test',
    display_description: null,
    project_id: 'p1',
    user_id: 'u1',
    image_ref: 'img-disk',
    flavor: { id: '1', name: 'm1.tiny', vcpus: 1, ram: 192, disk: 1, ephemeral: 0, swap: 0, extra_specs: {} },
    host: null,
    node: null,
    availability_zone: 'nova',
    vm_state: 'building',
    task_state: 'spawning',
    power_state: 0,
    key_name: 'k1',
    key_data: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE0example test@stratus',
    user_data: Buffer.from('#!/bin/sh\necho hello-from-user-data\n').toString('base64'),
    config_drive: 'True',
    access_ip_v4: null,
    access_ip_v6: null,
    metadata: { role: 'test' },
    system_metadata: {},
    security_groups: [{ name: 'default' }],
    requested_networks: [],
    network_info: [
      {
        port_id: `${uuid.slice(0, 8)}-port-0000-000000000000`,
        network_id: 'feedfacefeedface',
        network_label: 'private',
        mac_address: 'fa:16:3e:00:00:01',
        fixed_ips: [{ ip_address: '10.0.0.5', subnet_id: 's1', version: 4 }],
        preserve_on_delete: false,
      },
    ],
    fault: null,
    locked: false,
    locked_by: null,
    locked_reason: null,
    hostname: 'lv-test',
    launch_index: 0,
    reservation_id: 'r-1',
    progress: 0,
    trusted_certs: null,
    tags: [],
    launched_at: null,
    terminated_at: null,
    created_at: new Date().toISOString(),
    updated_at: new Date().toISOString(),
    deleted_at: null,
    deleted: false,
    ...over,
  };
  return i as unknown as Instance;
}

describe('libvirt domain XML and metadata content', () => {
  it('writes a Nova-like domain and the OpenStack and EC2 trees', () => {
    const xml = domainXml({
      uuid: '11111111-2222-3333-4444-555555555555',
      name: 'instance-11111111',
      nova: { displayName: 'a<b', flavor: 'm1', projectId: 'p', userId: 'u', imageId: 'i', created: 'now' },
      memoryMb: 128,
      vcpus: 2,
      virtType: 'qemu',
      machine: 'pc',
      osType: 'linux',
      disks: [{ path: '/x/disk', format: 'qcow2', device: 'disk', bus: 'virtio', target: 'vda' }],
      interfaces: [{ mac: 'fa:16:3e:00:00:01', tap: 'tapabc', model: 'virtio' }],
      consoleLog: '/x/console.log',
      vncListen: '',
      videoModel: 'virtio',
      version: '1',
    });
    assert.match(xml, /<domain type='qemu'>/);
    assert.match(xml, /<memory unit='KiB'>131072<\/memory>/);
    assert.match(xml, /OpenStack Nova/);
    assert.match(xml, /<nova:name>a&lt;b<\/nova:name>/);
    assert.match(xml, /<target dev='tapabc' managed='no'\/>/);
    assert.match(xml, /<log file='\/x\/console.log' append='off'\/>/);
    assert.match(xml, /<serial type='unix'>\s*<source mode='bind' path='\/x\/serial.sock'\/>/);
    assert.match(xml, /<graphics type='vnc'><listen type='socket' socket='\/x\/vnc.sock'\/><\/graphics>/);
    const i = instance('aaaaaaaa-0000-0000-0000-000000000001');
    const md = metaData(i);
    assert.equal(md.uuid, i.uuid);
    assert.deepEqual(md.public_keys, { k1: i.key_data });
    assert.equal(md.hostname, 'lv-test');
    const nd = networkData(i) as { links: Array<{ ethernet_mac_address: string }>; networks: unknown[] };
    assert.equal(nd.links[0]!.ethernet_mac_address, 'fa:16:3e:00:00:01');
    assert.equal(nd.networks.length, 1);
    assert.equal(ec2MetaData(i)['local-ipv4'], '10.0.0.5');
  });

  it('puts the console sockets of a too deep instance directory in a short one of their own', () => {
    const uuid = '11111111-2222-3333-4444-555555555555';
    const shallow = `/srv/instances/${uuid}`;
    assert.equal(consoleSocketDir(shallow), shallow);
    // 116 bytes for serial.sock: more than a UNIX socket's path may hold (libvirt: "too long").
    const deep = `/work/wt/guest/conformance/work/stratus-data/instances-tempest-lv-2/${uuid}`;
    const other = `/work/wt/guest/conformance/work/stratus-data/instances-tempest-lv-3/${uuid}`;
    const dir = consoleSocketDir(deep);
    assert.ok(dir.startsWith(`${CONSOLE_SOCKET_ROOT}/`), dir);
    assert.equal(consoleSocketDir(deep), dir, 'the same for the same directory');
    assert.notEqual(consoleSocketDir(other), dir, "another host's directory: another (live migration's two ends)");
    assert.ok(Buffer.byteLength(path.join(dir, 'serial.sock')) <= 107);
    const xml = domainXml(domainSpec({ uuid, name: 'instance-11111111', consoleLog: `${deep}/console.log` }));
    assert.ok(xml.includes(`<source mode='bind' path='${dir}/serial.sock'/>`), xml);
    assert.ok(fs.existsSync(dir), 'made for QEMU to bind in');
    removeConsoleSocketDir(deep);
    assert.ok(!fs.existsSync(dir));
  });
});

describe('libvirt driver with a real guest', { skip }, () => {
  const host = `lvt${process.pid}`;
  let dataDir: string;
  let driver: LibvirtDriver;
  let guest: GuestFiles;
  const uuid = `cafe${String(process.pid).padStart(4, '0').slice(-4)}-0000-4000-8000-000000000001`;
  let inst: Instance;
  const waited: WaitedEvent[][] = [];

  before(async () => {
    guest = await buildGuest(GUEST_DIR);
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-lv-'));
    driver = new LibvirtDriver({
      host,
      libvirt: libvirtOptions({ statsInterval: 0, shutdownTimeout: 30, spice: true }, dataDir),
    });
    const files: Record<string, string> = {
      'img-kernel': guest.kernel,
      'img-ramdisk': guest.ramdisk,
      'img-disk': guest.disk,
    };
    driver.setVirtApi({
      async waitForInstanceEvent(_i, events, body) {
        waited.push(events);
        await body();
      },
      async downloadImage(id, file) {
        fs.copyFileSync(files[id]!, file);
      },
    });
    inst = instance(uuid);
  });

  after(async () => {
    // Whatever happened: no domain, no tap, no daemon, no namespace, no files.
    if (driver) {
      await driver.destroy(inst).catch(() => undefined);
      await driver.close();
    }
    await deleteHostNamespace(host);
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    fs.rmSync(path.join('/run/stratus', host), { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });

  const image: ImageMeta = {
    id: 'img-disk',
    status: 'active',
    disk_format: 'qcow2',
    properties: { kernel_id: 'img-kernel', ramdisk_id: 'img-ramdisk', stratus_boot_marker: GUEST_MARKERS.boot },
  };
  const untilLog = async (text: string, ms = 90_000) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (driver.consoleLog(inst).includes(text)) return;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.fail(`console never showed '${text}':\n${driver.consoleLog(inst).slice(-2000)}`);
  };

  it('boots the test guest, which reads its config drive and runs its user data', async () => {
    await driver.spawn(inst, image, inst.network_info);
    assert.equal(driver.powerState(inst), PowerState.RUNNING);
    assert.deepEqual(waited[0], [{ name: 'network-vif-plugged', tag: inst.network_info[0]!.port_id }]);
    const dir = path.join(dataDir, 'instances', uuid);
    for (const f of ['libvirt.xml', 'disk', 'disk.config', 'kernel', 'ramdisk', 'console.log'])
      assert.ok(fs.existsSync(path.join(dir, f)), f);
    assert.match(fs.readFileSync(path.join(dir, 'libvirt.xml'), 'utf8'), new RegExp(domainName(uuid)));
    const ns = hostNamespace(host);
    execFileSync('ip', ['-n', ns, 'link', 'show', tapName(inst.network_info[0]!.port_id)]);
    await untilLog(`metadata config-drive uuid=${uuid} hostname=lv-test keys=1`);
    await untilLog('hello-from-user-data');
    await untilLog(GUEST_MARKERS.ready);
    const vnc = await driver.remoteConsole(inst, 'vnc');
    assert.equal(vnc.internal_access_path, path.join(dir, 'vnc.sock'));
    assert.ok(fs.statSync(vnc.internal_access_path!).isSocket());
    assert.equal((await driver.remoteConsole(inst, 'serial')).internal_access_path, path.join(dir, 'serial.sock'));
    // SPICE (compute.consoles.spice on): QEMU's SPICE server on its unix socket answers a link message.
    const spice = await driver.remoteConsole(inst, 'spice');
    assert.equal(spice.internal_access_path, path.join(dir, 'spice.sock'));
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const s = net.connect({ path: spice.internal_access_path! });
      s.once('error', reject);
      const head = Buffer.alloc(16);
      head.write('REDQ');
      head.writeUInt32LE(2, 4);
      head.writeUInt32LE(2, 8);
      head.writeUInt32LE(18, 12);
      // SpiceLinkMess: connection 0, the main channel (1), id 0, no caps (offset 18).
      const body = Buffer.alloc(18);
      body.writeUInt8(1, 4);
      body.writeUInt32LE(18, 14);
      s.write(Buffer.concat([head, body]));
      s.once('end', () => reject(new Error('the SPICE server closed without a reply')));
      s.once('data', (d: Buffer) => {
        s.destroy();
        resolve(d);
      });
    });
    assert.equal(reply.subarray(0, 4).toString(), 'REDQ');
    await assert.rejects(
      Promise.resolve().then(() => driver.remoteConsole(inst, 'rdp')),
      /no rdp console/,
    );
    // This image does not ask for the guest agent (hw_qemu_guest_agent): changePassword is refused (the API's 409), as Nova's QemuGuestAgentNotEnabled.
    await assert.rejects(driver.setAdminPassword(inst, 'secret'), /QEMU guest agent is not enabled/);
    const d = driver.diagnostics(inst);
    assert.equal(d.driver, 'libvirt');
    assert.equal(d.config_drive, true);
  });

  it('pauses, unpauses, reboots hard, powers off through ACPI and on again', async () => {
    await driver.pause(inst);
    assert.equal(driver.powerState(inst), PowerState.PAUSED);
    await driver.unpause(inst);
    assert.equal(driver.powerState(inst), PowerState.RUNNING);
    await driver.powerOff(inst);
    assert.equal(driver.powerState(inst), PowerState.SHUTDOWN);
    assert.match(driver.consoleLog(inst), /stratus-guest: power off/);
    await driver.powerOn(inst);
    assert.equal(driver.powerState(inst), PowerState.RUNNING);
    await untilLog(GUEST_MARKERS.boot);
    await driver.reboot(inst, 'HARD');
    assert.equal(driver.powerState(inst), PowerState.RUNNING);
    await untilLog(GUEST_MARKERS.boot);
  });

  it('hot-plugs a file volume (the guest sees vdb) and unplugs it', async () => {
    const vol = path.join(dataDir, 'vol1.raw');
    execFileSync('qemu-img', ['create', '-q', '-f', 'raw', vol, '64M']);
    const ci = { driver_volume_type: 'file', data: { device_path: vol, format: 'raw', volume_id: 'vol-1' } };
    await driver.attachVolume(inst, ci, '/dev/vdb');
    await untilLog('[vdb]', 30_000);
    assert.match(await driver.daemon.virsh(['domblklist', inst.uuid]), /vdb\s+\S*vol1.raw/);
    await driver.detachVolume(inst, ci, '/dev/vdb');
    assert.doesNotMatch(await driver.daemon.virsh(['domblklist', inst.uuid]), /vdb/);
  });

  it('destroys the guest leaving no domain, tap or file', async () => {
    await driver.destroy(inst);
    assert.equal(driver.powerState(inst), PowerState.NOSTATE);
    assert.equal(driver.listInstances().size, 0);
    assert.equal(fs.existsSync(path.join(dataDir, 'instances', uuid)), false);
    assert.throws(() =>
      execFileSync('ip', ['-n', hostNamespace(host), 'link', 'show', tapName(inst.network_info[0]!.port_id)], {
        stdio: 'ignore',
      }),
    );
    assert.equal((await driver.daemon.virsh(['list', '--all', '--uuid'])).trim(), '');
  });
});
