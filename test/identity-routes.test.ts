// Identity's route table: every (method, path) the service mounts, against a snapshot taken before
// the route table moved into api/routes.ts, so a re-layout cannot add, drop or rename a route.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import { defaultConfig } from '../src/core/config.ts';
import { createLogger } from '../src/core/log.ts';
import { InProcessBus } from '../src/core/bus.ts';
import { openDatabase } from '../src/core/db.ts';
import { IdentityService } from '../src/identity/service.ts';
import type { IdentityDb } from '../src/identity/db/schema.ts';

const SNAPSHOT = path.join(import.meta.dirname, 'fixtures', 'identity-routes.txt');

export async function identityRoutes(): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idroutes-'));
  const routes: string[] = [];
  try {
    const config = defaultConfig(dir);
    const db = await openDatabase<IdentityDb>({ url: ':memory:', service: 'identity', dataDir: dir });
    try {
      const svc = new IdentityService(db, config, new InProcessBus(), createLogger('silent'));
      const app = Fastify({ exposeHeadRoutes: false });
      app.addHook('onRoute', (r) => {
        const auth = (r.config as { auth?: unknown } | undefined)?.auth;
        const opts = [auth === undefined ? '' : ` auth=${String(auth)}`, r.schema?.body ? ' body-schema' : ''].join('');
        for (const m of [r.method].flat()) routes.push(`${m} ${r.url}${opts}`);
      });
      await svc.register(app);
      await app.ready();
      await app.close();
    } finally {
      await db.destroy();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return [...new Set(routes)].sort();
}

describe('identity route table', () => {
  it('mounts the same (method, path) set as the snapshot', async () => {
    const routes = await identityRoutes();
    if (process.env.UPDATE_SNAPSHOT) fs.writeFileSync(SNAPSHOT, `${routes.join('\n')}\n`);
    assert.deepEqual(routes, fs.readFileSync(SNAPSHOT, 'utf8').trim().split('\n'));
  });
});
