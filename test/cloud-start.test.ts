// A cloud whose start fails half-way closes what had started: no periodic task, database pool or
// bus is left running behind the error (a test process would never exit, a CLI would keep working).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Cloud } from '../src/server.ts';
import { loadConfig } from '../src/core/config.ts';
import { createLogger } from '../src/core/log.ts';

const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('cloud start', () => {
  it('closes the services it started when a later one fails', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-test-'));
    process.env.STRATUS_USER_CLOUDS = '0';
    const cfg = loadConfig({ dataDir, port: 0, adminPassword: 'admin-secret', database: 'sqlite' }, {});
    cfg.identity.passwordHashRounds = 4;
    // The image service refuses a property protection file that is not there (after identity and the object store started).
    cfg.image = { ...cfg.image, propertyProtectionFile: 'missing.conf' };
    const before = timers();
    const cloud = new Cloud(cfg, createLogger('silent'));
    await assert.rejects(cloud.init(), /missing\.conf|ENOENT/);
    assert.deepEqual(cloud.services, []);
    assert.equal(timers(), before, 'periodic tasks of the started services are stopped');
    fs.rmSync(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  });
});
