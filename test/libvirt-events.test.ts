// The libvirt driver's lifecycle events and its KVM probe, against a real libvirtd of a test
// host: the probe's boot sector prints its marker under TCG (so the probe works), the KVM probe
// answers within its timeout whatever KVM does here, virtType auto follows it; a real guest
// destroyed behind the driver's back is reported Stopped (and SHUTDOWN) within seconds, without
// the periodic refresh (off here); the `virsh event` stream comes back when killed and ends with
// close(). Needs root and Debian's libvirt/qemu packages; skipped otherwise. One guest.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LibvirtDriver } from '../src/compute/drivers/libvirt/driver.ts';
import { missingLibvirtPackages } from '../src/compute/drivers/libvirt/daemon.ts';
import { parseEventLine } from '../src/compute/drivers/libvirt/events.ts';
import {
  hasSharedDisks,
  localDisksToMigrate,
  noProgress,
  parseJobInfo,
} from '../src/compute/drivers/libvirt/migrate.ts';
import { libvirtOptions } from '../src/compute/drivers/libvirt/options.ts';
import { bootProbe, probeBootSector, PROBE_MARKER } from '../src/compute/drivers/libvirt/probe.ts';
import { buildGuest, missingGuestTools } from '../src/compute/guest/build.ts';
import { GUEST_MARKERS } from '../src/compute/guest/init.ts';
import { deleteHostNamespace } from '../src/core/hostns.ts';
import { PowerState, type Instance } from '../src/compute/instances.ts';
import type { ImageMeta } from '../src/compute/drivers/virt.ts';

const skip =
  process.getuid?.() !== 0
    ? 'needs root (libvirtd, namespaces)'
    : missingLibvirtPackages().length || missingGuestTools().length
      ? `needs the Debian packages ${[...missingLibvirtPackages(), ...missingGuestTools()].join(' ')}`
      : false;
const GUEST_DIR = process.env.STRATUS_GUEST_DIR ?? path.join(os.tmpdir(), 'stratus-guest-cache');

describe('libvirt event lines and the probe boot sector', () => {
  it('parses virsh event lines', () => {
    assert.deepEqual(
      parseEventLine("2026-12-06 14:00:00.123+0000: event 'lifecycle' for domain 'instance-abc': Stopped Destroyed"),
      { kind: 'lifecycle', domain: 'instance-abc', transition: 'Stopped', detail: 'Destroyed' },
    );
    assert.equal(parseEventLine("event 'reboot' for domain 'x'")?.kind, 'reboot');
    assert.equal(parseEventLine('events received: 3'), null);
  });
  it('parses virsh domjobinfo into migration progress', () => {
    const zero = noProgress();
    const p = parseJobInfo(
      'Job type:         Unbounded\nMemory processed: 12.500 MiB\nMemory remaining: 100.000 MiB\nMemory total:     128.000 MiB\nFile total:       1.000 GiB\n',
      zero,
    );
    assert.equal(p.memory_processed, 12.5 * 1024 ** 2);
    assert.equal(p.memory_total, 128 * 1024 ** 2);
    assert.equal(p.disk_total, 1024 ** 3);
    assert.equal(p.disk_processed, 0);
  });
  it("block-migrates the guest's own writable disks, not its volumes or its config drive", () => {
    const dir = '/srv/instances/u1';
    const disk = (file: string, dev: string, extra = '') =>
      `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${file}'/><target dev='${dev}' bus='virtio'/>${extra}</disk>`;
    const xml = `<domain><devices>${[
      disk(`${dir}/disk`, 'vda'),
      disk(`${dir}/disk.eph0`, 'vdb'),
      disk(`${dir}/disk.config`, 'hda', '<readonly/>'),
      disk('/srv/volumes/volume-1', 'vdc'),
      "<disk type='network' device='disk'><source protocol='iscsi' name='iqn/1'/><target dev='vdd' bus='virtio'/></disk>",
    ].join('')}</devices></domain>`;
    assert.deepEqual(localDisksToMigrate(xml, dir), ['vda', 'vdb']);
    assert.equal(hasSharedDisks(xml, dir), true, 'the volume stays: virsh migrate --unsafe');
    assert.equal(hasSharedDisks(`<domain><devices>${disk(`${dir}/disk`, 'vda')}</devices></domain>`, dir), false);
    // A volume-backed guest: nothing to copy.
    assert.deepEqual(
      localDisksToMigrate(`<domain><devices>${disk('/srv/volumes/v', 'vda')}</devices></domain>`, dir),
      [],
    );
  });
  it('builds a 512-byte boot sector with its marker and signature', () => {
    const b = probeBootSector();
    assert.equal(b.length, 512);
    assert.equal(b[510], 0x55);
    assert.equal(b[511], 0xaa);
    assert.ok(b.includes(Buffer.from(PROBE_MARKER)));
  });
});

describe('libvirt lifecycle events and the KVM probe', { skip }, () => {
  const host = `lve${process.pid}`;
  let dataDir: string;
  let driver: LibvirtDriver;
  const events: Array<{ uuid: string; transition: string; at: number }> = [];
  const logs: string[] = [];
  const uuid = `e0e0${String(process.pid).padStart(4, '0').slice(-4)}-0000-4000-8000-000000000001`;
  const inst = {
    uuid,
    display_name: 'lv events',
    project_id: 'p1',
    user_id: 'u1',
    image_ref: 'img-disk',
    flavor: { id: '1', name: 'm1.tiny', vcpus: 1, ram: 128, disk: 1, ephemeral: 0, swap: 0, extra_specs: {} },
    config_drive: '',
    metadata: {},
    network_info: [],
    hostname: 'lv-events',
  } as unknown as Instance;

  before(async () => {
    const guest = await buildGuest(GUEST_DIR);
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-lve-'));
    driver = new LibvirtDriver({
      host,
      libvirt: libvirtOptions(
        { statsInterval: 0, shutdownTimeout: 20, probeTimeout: 15, guestDir: GUEST_DIR },
        dataDir,
      ),
      log: (m) => logs.push(m),
    });
    const files: Record<string, string> = {
      'img-kernel': guest.kernel,
      'img-ramdisk': guest.ramdisk,
      'img-disk': guest.disk,
    };
    driver.setVirtApi({
      async waitForInstanceEvent(_i, _e, body) {
        await body();
      },
      async downloadImage(id, file) {
        fs.copyFileSync(files[id]!, file);
      },
      lifecycleEvent(u, transition) {
        events.push({ uuid: u, transition, at: Date.now() });
      },
    });
  });

  after(async () => {
    if (driver) {
      await driver.destroy(inst).catch(() => undefined);
      await driver.close();
    }
    await deleteHostNamespace(host);
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    fs.rmSync(path.join('/run/stratus', host), { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });

  it('probes: the boot sector prints under TCG; auto follows the KVM probe and caches it', async () => {
    await driver.ready();
    const tcg = await bootProbe(driver.daemon, 'qemu', 20_000);
    assert.ok(tcg.ok, tcg.reason);
    // The Linux probe works too (under TCG): a KVM 'no' is KVM's, not the probe's.
    const linux = {
      kernel: path.join(GUEST_DIR, 'vmlinuz'),
      ramdisk: path.join(GUEST_DIR, 'initrd.img'),
      marker: GUEST_MARKERS.boot,
    };
    const tcgLinux = await bootProbe(driver.daemon, 'qemu', 60_000, linux);
    assert.ok(tcgLinux.ok, tcgLinux.reason);
    const cache = JSON.parse(fs.readFileSync(path.join(driver.daemon.runDir, 'virt-type.json'), 'utf8'));
    assert.equal(cache.pid, driver.daemon.daemonPid());
    assert.equal(driver.virtType, cache.virtType);
    assert.ok(['kvm', 'qemu'].includes(driver.virtType));
    // The log says which and why.
    const said = logs.find((l) => /^using (KVM|TCG)/.test(l));
    assert.ok(said, logs.join('\n'));
    process.stderr.write(`# ${said}\n`);
    // No probe domain is left behind.
    assert.equal((await driver.daemon.virsh(['list', '--all', '--name'])).trim(), '');
  });

  it('a guest destroyed behind the driver is reported Stopped at once', async () => {
    const image: ImageMeta = {
      id: 'img-disk',
      status: 'active',
      properties: { kernel_id: 'img-kernel', ramdisk_id: 'img-ramdisk', stratus_boot_marker: GUEST_MARKERS.boot },
    };
    await driver.spawn(inst, image, []);
    assert.equal(driver.powerState(inst), PowerState.RUNNING);
    assert.ok(events.some((e) => e.uuid === uuid && e.transition === 'Started'));
    const t0 = Date.now();
    await driver.daemon.virsh(['destroy', uuid]);
    const end = Date.now() + 10_000;
    while (!events.some((e) => e.transition === 'Stopped' && e.at >= t0) && Date.now() < end)
      await new Promise((r) => setTimeout(r, 50));
    const stopped = events.find((e) => e.transition === 'Stopped' && e.at >= t0);
    assert.ok(stopped, JSON.stringify(events));
    assert.ok(stopped.at - t0 < 5000, `${stopped.at - t0} ms`);
    // The driver read the states again before telling: the agent's powerState() sees it off.
    assert.equal(driver.powerState(inst), PowerState.SHUTDOWN);
  });

  it('the event stream comes back when virsh dies and ends with close()', async () => {
    const stream = driver.events!;
    const pid = stream.pid!;
    const starts = stream.starts;
    process.kill(pid, 'SIGKILL');
    const end = Date.now() + 10_000;
    while (!(stream.starts > starts && stream.running) && Date.now() < end)
      await new Promise((r) => setTimeout(r, 100));
    assert.ok(stream.running && stream.pid !== pid, 'virsh event restarted');
    // Events flow again: a start is seen.
    const t0 = Date.now();
    await driver.powerOn(inst);
    const until = Date.now() + 10_000;
    while (!events.some((e) => e.transition === 'Started' && e.at >= t0) && Date.now() < until)
      await new Promise((r) => setTimeout(r, 50));
    assert.ok(events.some((e) => e.transition === 'Started' && e.at >= t0));
    await driver.destroy(inst);
    const last = stream.pid!;
    await stream.stop();
    assert.equal(stream.running, false);
    assert.throws(() => process.kill(last, 0));
  });
});
