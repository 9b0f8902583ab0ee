// Compute's options and its virt driver registry: the defaults, the roles deciding what runs,
// and a driver name that no driver answers failing the start with the names that do.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { agentHosts, computeOptions } from '../src/compute/config.ts';
import { VIRT_DRIVERS, virtDriver } from '../src/compute/drivers/index.ts';
import { startCloud } from './lib/cloud.ts';

describe('compute options', () => {
  it('has Nova-like defaults and runs every role of the all-in-one shape', () => {
    const o = computeOptions({});
    assert.equal(o.driver, 'fake');
    assert.equal(o.agent && o.conductor && o.scheduler, true);
    assert.equal(o.defaultAvailabilityZone, 'nova');
    assert.equal(o.consoles.vnc, 'http://127.0.0.1:6080/vnc_auto.html');
    assert.equal(o.consoles.spice, false);
  });

  it('runs only the roles it is given, and one agent per fake host', () => {
    const o = computeOptions({ roles: ['api', 'scheduler'], compute: { host: 'h', fakeHosts: 3 } });
    assert.equal(o.agent, false);
    assert.equal(o.conductor, false);
    assert.equal(o.scheduler, true);
    assert.deepEqual(agentHosts(o), ['h', 'h-2', 'h-3']);
  });

  it('builds the fake driver from the options', () => {
    const o = computeOptions({ compute: { vcpus: 4, memoryMb: 2048 } });
    const d = virtDriver('fake')('h1', o);
    assert.equal(d.type, 'fake');
    assert.equal(d.capacity().vcpus, 4);
    assert.equal(d.capacity().hypervisor_hostname, 'h1');
  });

  it('names the known drivers when a driver is unknown', () => {
    assert.throws(
      () => virtDriver('libvirt-typo'),
      /unknown compute driver 'libvirt-typo' \(compute.driver; known: fake, libvirt\)/,
    );
    assert.throws(() => virtDriver('toString'), /unknown compute driver/);
    assert.deepEqual(Object.keys(VIRT_DRIVERS), ['fake', 'libvirt']);
  });

  it('fails the start of a cloud whose compute.driver is unknown', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-test-'));
    await assert.rejects(
      startCloud({
        dataDir,
        configure: (cfg) => {
          cfg.compute = { driver: 'nonesuch' };
        },
      }),
      /unknown compute driver 'nonesuch'/,
    );
    fs.rmSync(dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });
});
