// Two libvirt compute hosts in one cloud (compute.fakeHosts: 2, driver libvirt): each its own
// namespace, libvirtd and instances path. One real guest (the test guest, TCG):
// - destroyed behind Stratus's back, the server is SHUTOFF within seconds (libvirt's lifecycle
//   event, the periodic refresh and sync being far off);
// - cold-migrated to the other host (its disks copied there), reverted (back on the first host),
//   migrated again and confirmed (the first host's copy removed);
// - live-migrated back (virsh migrate --live --copy-storage-all over UNIX sockets), still
//   running: it answers the ACPI power button on its new host (its console says so);
// - deleted, leaving no domain or file on either host.
// Needs root and Debian's libvirt/qemu packages; skipped otherwise. One guest, a few minutes.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { until } from './lib/cloud.ts';
import type { Migration } from './lib/api-types.ts';
import { libvirtSkip, useLibvirtCloud } from './lib/libvirt-cloud.ts';
import { buildGuest, missingGuestTools } from '../src/compute/guest/build.ts';
import { GUEST_MARKERS } from '../src/compute/guest/init.ts';
import { registerGuest } from '../src/compute/guest/register.ts';

const skip = libvirtSkip(missingGuestTools);
const GUEST_DIR = process.env.STRATUS_GUEST_DIR ?? path.join(os.tmpdir(), 'stratus-guest-cache');

describe('two libvirt hosts: events, cold and live migration', { skip }, () => {
  const A = `lvh${process.pid}`;
  const B = `${A}-2`;
  const lv = useLibvirtCloud({
    hosts: [A, B],
    compute: {
      fakeHosts: 2,
      libvirt: { guestDir: GUEST_DIR, statsInterval: 600, shutdownTimeout: 30, virtType: 'qemu' },
      syncPowerStateInterval: 600,
    },
  });
  const { nova, act, consoleText, waitStatus, drivers } = lv;
  const hostOf = async () => (await lv.show())?.['OS-EXT-SRV-ATTR:host'];
  const dirOn = (h: string) =>
    path.join(
      h === A ? path.join(lv.c.dataDir, 'instances') : `${path.join(lv.c.dataDir, 'instances')}-${h}`,
      lv.server,
    );

  before(async () => {
    const guest = await buildGuest(GUEST_DIR);
    const ids = await registerGuest(guest, { authUrl: `${lv.c.identity}/v3`, password: lv.c.adminPassword });
    const r = await nova('POST', '/servers', {
      server: {
        name: 'lv-hosts',
        imageRef: ids.disk,
        flavorRef: '1',
        networks: 'none',
        availability_zone: `nova:${A}`,
      },
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    lv.server = r.body.server.id;
  });

  it('boots on the first host; a guest destroyed behind Stratus is SHUTOFF within seconds', async () => {
    await waitStatus('ACTIVE');
    assert.equal(await hostOf(), A);
    const t0 = Date.now();
    await drivers[A]!.daemon.virsh(['destroy', lv.server]);
    await waitStatus('SHUTOFF', 15_000);
    const ms = Date.now() - t0;
    assert.ok(ms < 10_000, `${ms} ms`);
    process.stderr.write(`# SHUTOFF ${ms} ms after virsh destroy\n`);
    const acts = (await nova('GET', `/servers/${lv.server}/os-instance-actions`)).body.instanceActions;
    assert.equal(acts[0].action, 'stop');
    assert.equal((await act({ 'os-start': null })).status, 202);
    await waitStatus('ACTIVE');
  });

  it('cold-migrates to the other host, reverts, migrates again and confirms', async () => {
    assert.equal((await act({ migrate: null })).status, 202);
    await waitStatus('VERIFY_RESIZE');
    assert.equal(await hostOf(), B);
    assert.ok(fs.existsSync(path.join(dirOn(B), 'disk')));
    assert.ok(fs.existsSync(`${dirOn(A)}_resize`));
    assert.match((await drivers[B]!.daemon.virsh(['domstate', lv.server])).trim(), /running/);
    await until('booted on B', async () => (await consoleText()).includes(GUEST_MARKERS.boot), 120_000);
    assert.equal((await act({ revertResize: null })).status, 202);
    await waitStatus('ACTIVE');
    assert.equal(await hostOf(), A);
    assert.equal(fs.existsSync(dirOn(B)), false);
    assert.equal(fs.existsSync(`${dirOn(A)}_resize`), false);
    assert.equal((await drivers[B]!.daemon.virsh(['list', '--all', '--uuid'])).trim(), '');
    assert.equal((await act({ migrate: null })).status, 202);
    await waitStatus('VERIFY_RESIZE');
    assert.equal((await act({ confirmResize: null })).status, 204);
    await waitStatus('ACTIVE');
    assert.equal(await hostOf(), B);
    await until('A cleaned', async () => !fs.existsSync(`${dirOn(A)}_resize`), 30_000);
    assert.equal((await drivers[A]!.daemon.virsh(['list', '--all', '--uuid'])).trim(), '');
    await until('booted on B', async () => (await consoleText()).includes(GUEST_MARKERS.boot), 120_000);
  });

  it('live-migrates back to the first host; the guest still answers there', async () => {
    await until('guest ready', async () => (await consoleText()).includes(GUEST_MARKERS.ready), 120_000).catch(
      () => undefined,
    );
    assert.equal((await act({ 'os-migrateLive': { host: A, block_migration: 'auto' } })).status, 202);
    await waitStatus('ACTIVE', 300_000);
    assert.equal(await hostOf(), A);
    const migs = (await nova('GET', `/servers/${lv.server}/migrations`)).body.migrations;
    const all = (await nova('GET', `/os-migrations?instance_uuid=${lv.server}`)).body.migrations;
    const live = all.find((m: Migration) => m.migration_type === 'live-migration');
    assert.equal(live?.status, 'completed', JSON.stringify({ migs, all }));
    assert.match((await drivers[A]!.daemon.virsh(['domstate', lv.server])).trim(), /running/);
    assert.equal((await drivers[B]!.daemon.virsh(['list', '--all', '--uuid'])).trim(), '');
    assert.equal(fs.existsSync(dirOn(B)), false);
    // The console log came along (the destination's virtlogd appends to it).
    assert.match(await consoleText(), /stratus-guest: boot/);
    // The same guest (no new boot) answers the ACPI power button on its new host.
    assert.equal((await act({ 'os-stop': null })).status, 202);
    await waitStatus('SHUTOFF', 90_000);
    assert.match(await consoleText(), /stratus-guest: power off/);
    // Its persistent definition is this host's (paths included): it starts again here.
    assert.equal((await act({ 'os-start': null })).status, 202);
    await waitStatus('ACTIVE', 90_000);
    assert.doesNotMatch(
      await drivers[A]!.daemon.virsh(['dumpxml', '--inactive', lv.server]),
      new RegExp(`instances-${B}`),
    );
  });

  it('deletes the server leaving no domain or file on either host', async () => {
    assert.equal((await nova('DELETE', `/servers/${lv.server}`)).status, 204);
    await until('gone', async () => (await nova('GET', `/servers/${lv.server}`)).status === 404, 60_000);
    for (const h of [A, B]) {
      assert.equal((await drivers[h]!.daemon.virsh(['list', '--all', '--uuid'])).trim(), '');
      assert.equal(fs.existsSync(dirOn(h)), false);
    }
    lv.server = '';
  });
});
