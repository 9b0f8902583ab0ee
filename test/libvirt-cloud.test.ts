// A whole cloud with the libvirt driver: the test guest registered by build-guest's code, a
// server created through the compute API boots for real (TCG) with a config drive carrying its
// key and user data, shows its console, stops, starts and is deleted leaving no domain or file.
// Needs root and Debian's libvirt/qemu packages; skipped with the reason otherwise. One guest.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCloud, type TestCloud, until } from './lib/cloud.ts';
import type { ComputeService } from '../src/compute/service.ts';
import { missingLibvirtPackages } from '../src/compute/drivers/libvirt/daemon.ts';
import type { LibvirtDriver } from '../src/compute/drivers/libvirt/driver.ts';
import { buildGuest, missingGuestTools } from '../src/compute/guest/build.ts';
import { registerGuest } from '../src/compute/guest/register.ts';
import { deleteHostNamespace } from '../src/core/hostns.ts';

const skip =
  process.getuid?.() !== 0
    ? 'needs root (libvirtd, namespaces)'
    : missingLibvirtPackages().length || missingGuestTools().length
      ? `needs the Debian packages ${[...missingLibvirtPackages(), ...missingGuestTools()].join(' ')}`
      : false;
const GUEST_DIR = process.env.STRATUS_GUEST_DIR ?? path.join(os.tmpdir(), 'stratus-guest-cache');

describe('a cloud with the libvirt driver', { skip }, () => {
  const host = `lvc${process.pid}`;
  let c: TestCloud;
  let svc: ComputeService;
  let driver: LibvirtDriver;
  let server = '';
  const nova = (method: string, p: string, body?: unknown) =>
    c.req(method, `${c.url}/compute/v2.1${p}`, body, { headers: { 'OpenStack-API-Version': 'compute 2.93' } });
  const status = async () => (await nova('GET', `/servers/${server}`)).body.server?.status as string | undefined;
  const consoleText = async () =>
    ((await nova('POST', `/servers/${server}/action`, { 'os-getConsoleOutput': {} })).body.output ?? '') as string;

  before(async () => {
    const guest = await buildGuest(GUEST_DIR);
    c = await startCloud({
      configure: (cfg) => {
        cfg.compute = {
          ...(cfg.compute ?? {}),
          host,
          driver: 'libvirt',
          libvirt: { guestDir: GUEST_DIR, statsInterval: 2, shutdownTimeout: 30 },
          metadata: { port: 0 },
        };
      },
    });
    svc = c.cloud.services.find((s) => s.name === 'compute') as unknown as ComputeService;
    driver = svc.parts.agent!.driver as LibvirtDriver;
    await until('compute node', async () => svc.parts.agent?.ready, 60_000);
    const ids = await registerGuest(guest, { authUrl: `${c.identity}/v3`, password: c.adminPassword });
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
    server = r.body.server.id;
  });

  after(async () => {
    try {
      if (server) await nova('DELETE', `/servers/${server}`).catch(() => undefined);
      if (driver && server) {
        await until('deleted', async () => (await nova('GET', `/servers/${server}`)).status === 404, 60_000).catch(
          () => undefined,
        );
      }
      await c?.stop();
    } finally {
      await driver?.close();
      await deleteHostNamespace(host);
      fs.rmSync(path.join('/run/stratus', host), { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    }
  });

  it('boots the server: ACTIVE after the boot marker, its config drive read', async () => {
    await until(
      'ACTIVE',
      async () => {
        const s = await status();
        if (s === 'ERROR') assert.fail(JSON.stringify((await nova('GET', `/servers/${server}`)).body.server.fault));
        return s === 'ACTIVE';
      },
      180_000,
    );
    assert.match(await consoleText(), /stratus-guest: boot/);
    await until('user data ran', async () => (await consoleText()).includes('user-data-ran'), 90_000);
    assert.match(await consoleText(), new RegExp(`metadata config-drive uuid=${server} hostname=lv-cloud`));
    const s = (await nova('GET', `/servers/${server}`)).body.server;
    assert.equal(s['OS-EXT-SRV-ATTR:instance_name'], `instance-${server.slice(0, 8)}`);
    assert.equal(s['OS-EXT-STS:power_state'], 1);
  });

  it('stops (ACPI) and starts', async () => {
    assert.equal((await nova('POST', `/servers/${server}/action`, { 'os-stop': null })).status, 202);
    await until('SHUTOFF', async () => (await status()) === 'SHUTOFF', 60_000);
    assert.equal(driver.powerState({ uuid: server } as never), 4);
    assert.equal((await nova('POST', `/servers/${server}/action`, { 'os-start': null })).status, 202);
    await until('ACTIVE', async () => (await status()) === 'ACTIVE', 60_000);
    assert.equal(driver.powerState({ uuid: server } as never), 1);
  });

  it('deletes the server leaving no domain or file', async () => {
    assert.equal((await nova('DELETE', `/servers/${server}`)).status, 204);
    await until('gone', async () => (await nova('GET', `/servers/${server}`)).status === 404, 60_000);
    await driver.refresh();
    assert.equal(driver.listInstances().size, 0);
    assert.equal(fs.existsSync(path.join(c.dataDir, 'instances', server)), false);
    assert.equal((await driver.daemon.virsh(['list', '--all', '--uuid'])).trim(), '');
    server = '';
  });
});
