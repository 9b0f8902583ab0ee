// A whole cloud with the libvirt driver: the test guest registered by build-guest's code, a
// server created through the compute API boots for real (TCG) with a config drive carrying its
// key and user data, shows its console, stops, starts and is deleted leaving no domain or file.
// Needs root and Debian's libvirt/qemu packages; skipped with the reason otherwise. One guest.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { until } from './lib/cloud.ts';
import { libvirtSkip, useLibvirtCloud } from './lib/libvirt-cloud.ts';
import { buildGuest, missingGuestTools } from '../src/compute/guest/build.ts';
import { registerGuest } from '../src/compute/guest/register.ts';

const skip = libvirtSkip(missingGuestTools);
const GUEST_DIR = process.env.STRATUS_GUEST_DIR ?? path.join(os.tmpdir(), 'stratus-guest-cache');

describe('a cloud with the libvirt driver', { skip }, () => {
  const host = `lvc${process.pid}`;
  const lv = useLibvirtCloud({
    hosts: [host],
    compute: { libvirt: { guestDir: GUEST_DIR, statsInterval: 2, shutdownTimeout: 30 } },
  });
  const { nova, consoleText, waitStatus } = lv;
  const status = async () => (await lv.show())?.status;

  before(async () => {
    const guest = await buildGuest(GUEST_DIR);
    const ids = await registerGuest(guest, { authUrl: `${lv.c.identity}/v3`, password: lv.c.adminPassword });
    const r = await nova('POST', '/servers', {
      server: {
        name: 'lv-cloud',
        imageRef: ids.disk,
        flavorRef: '1',
        networks: 'none',
        config_drive: true,
        user_data: Buffer.from('#!/bin/sh\necho user-data-ran\n').toString('base64'),
      },
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    lv.server = r.body.server.id;
  });

  it('boots the server: ACTIVE after the boot marker, its config drive read', async () => {
    await waitStatus('ACTIVE');
    const server = lv.server;
    assert.match(await consoleText(), /stratus-guest: boot/);
    await until('user data ran', async () => (await consoleText()).includes('user-data-ran'), 90_000);
    assert.match(await consoleText(), new RegExp(`metadata config-drive uuid=${server} hostname=lv-cloud`));
    const s = await lv.show();
    assert.equal(s?.['OS-EXT-SRV-ATTR:instance_name'], `instance-${server.slice(0, 8)}`);
    assert.equal(s?.['OS-EXT-STS:power_state'], 1);
  });

  it('stops (ACPI) and starts', async () => {
    const driver = lv.drivers[host]!;
    assert.equal((await lv.act({ 'os-stop': null })).status, 202);
    await until('SHUTOFF', async () => (await status()) === 'SHUTOFF', 60_000);
    assert.equal(driver.powerState({ uuid: lv.server } as never), 4);
    assert.equal((await lv.act({ 'os-start': null })).status, 202);
    await until('ACTIVE', async () => (await status()) === 'ACTIVE', 60_000);
    assert.equal(driver.powerState({ uuid: lv.server } as never), 1);
  });

  it('deletes the server leaving no domain or file', async () => {
    const driver = lv.drivers[host]!;
    const server = lv.server;
    assert.equal((await nova('DELETE', `/servers/${server}`)).status, 204);
    await until('gone', async () => (await nova('GET', `/servers/${server}`)).status === 404, 60_000);
    await driver.refresh();
    assert.equal(driver.listInstances().size, 0);
    assert.equal(fs.existsSync(path.join(lv.c.dataDir, 'instances', server)), false);
    assert.equal((await driver.daemon.virsh(['list', '--all', '--uuid'])).trim(), '');
    lv.server = '';
  });
});
