// Block storage's volume lists page in SQL: sort keys (a nullable one too), keyset markers, offset,
// limit, like-filters, time comparisons and with_count, against an in-process cloud.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { databaseEngines, startCloud, type TestCloud, until } from './lib/cloud.ts';

for (const engine of databaseEngines('block storage lists')) {
  describe(`block storage lists (${engine.name})`, () => {
    let c: TestCloud;
    let project: string;
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-cinder-lists-'));
    const cinder = (method: string, p: string, body?: unknown, version = '3.0') =>
      c.req(method, `${c.url}/volume/v3/${project}${p}`, body, {
        headers: { 'OpenStack-API-Version': `volume ${version}` },
      });
    const ids = (r: { body: { volumes: Array<{ id: string }> } }) => r.body.volumes.map((v) => v.id);

    before(async () => {
      c = await startCloud({ database: engine.database, dataDir });
      project = (await c.req('GET', '/v3/projects?name=admin')).body.projects[0].id;
    });
    after(async () => {
      await c?.stop();
      fs.rmSync(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    });

    it('sorts, filters and pages volumes in the query', async () => {
      // Five volumes: names b, a, null, c, a (two equal names: the id orders them).
      const names = ['b', 'a', null, 'c', 'a'];
      const made: Array<{ id: string; name: string | null; size: number }> = [];
      for (const [i, name] of names.entries()) {
        const r = await cinder('POST', '/volumes', { volume: { size: i + 1, name } });
        assert.equal(r.status, 202, JSON.stringify(r.body));
        made.push({ id: r.body.volume.id, name, size: i + 1 });
      }
      await until('all available', async () => {
        const r = await cinder('GET', '/volumes/detail?status=available');
        return r.body.volumes.length === names.length;
      });
      const byName = [...made].sort((x, y) =>
        (x.name ?? '') === (y.name ?? '') ? (x.id < y.id ? -1 : 1) : (x.name ?? '') < (y.name ?? '') ? -1 : 1,
      );
      const all = await cinder('GET', '/volumes?sort=name:asc,id:asc');
      assert.deepEqual(
        ids(all),
        byName.map((v) => v.id),
      );

      // Walking the pages by their next links gives the same order, no volume twice.
      const walked: string[] = [];
      let url = '/volumes?sort=name:asc,id:asc&limit=2';
      for (let n = 0; n < 5 && url; n++) {
        const r = await cinder('GET', url);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        walked.push(...ids(r));
        const next = r.body.volumes_links?.[0]?.href as string | undefined;
        url = next ? next.slice(next.indexOf('/volumes')) : '';
      }
      assert.deepEqual(
        walked,
        byName.map((v) => v.id),
      );

      // Sizes descending (the default direction), offset and limit.
      const bySize = [...made].sort((x, y) => y.size - x.size).map((v) => v.id);
      assert.deepEqual(ids(await cinder('GET', '/volumes?sort_key=size')), bySize);
      assert.deepEqual(ids(await cinder('GET', '/volumes?sort_key=size&offset=1&limit=2')), bySize.slice(1, 3));
      assert.deepEqual(
        ids(await cinder('GET', `/volumes?sort_key=size&marker=${bySize[1]}&limit=2`)),
        bySize.slice(2, 4),
      );

      // Filters: exact and like names (3.34), sizes, times, with_count (3.45).
      assert.equal((await cinder('GET', '/volumes?name=a')).body.volumes.length, 2);
      assert.equal((await cinder('GET', '/volumes?name~=b', undefined, '3.34')).body.volumes.length, 1);
      assert.equal((await cinder('GET', '/volumes?name~=%25', undefined, '3.34')).body.volumes.length, 0);
      assert.deepEqual(ids(await cinder('GET', '/volumes?size=3')), [made[2]!.id]);
      assert.equal((await cinder('GET', '/volumes?size=x')).body.volumes.length, 0);
      assert.equal(
        (await cinder('GET', '/volumes?created_at=gt:2000-01-01T00:00:00', undefined, '3.60')).body.volumes.length,
        5,
      );
      assert.equal(
        (await cinder('GET', '/volumes?created_at=lt:2000-01-01T00:00:00', undefined, '3.60')).body.volumes.length,
        0,
      );
      const counted = await cinder('GET', '/volumes?with_count=true&limit=1', undefined, '3.45');
      assert.equal(counted.body.count, 5);
      assert.equal(counted.body.volumes.length, 1);
      const meta = await cinder('GET', '/volumes?metadata={"x":"y"}&with_count=true', undefined, '3.45');
      assert.equal(meta.body.count, 0);

      // Bad pages: Cinder's errors.
      assert.equal((await cinder('GET', '/volumes?marker=nope')).status, 404);
      assert.equal((await cinder('GET', '/volumes?limit=-1')).status, 400);
      assert.equal((await cinder('GET', '/volumes?offset=x')).status, 400);
      assert.equal((await cinder('GET', '/volumes?sort=bogus')).status, 400);
    });
  });
}
