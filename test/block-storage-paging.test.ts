// Block storage's lists other than volumes page in SQL (db/paging.ts): many snapshot rows in a
// real database (SQLite, and PostgreSQL when STRATUS_TEST_PG is set), every page compared with the
// same list sorted and sliced in memory (filters, nullable sort keys, markers, offset, with_count);
// then the API: snapshots, backups, groups and attachments lists walked by their next links.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Kysely } from 'kysely';
import pg from 'pg';
import { migrate, openDatabase } from '../src/core/db.ts';
import { contains, eq, jsonHas, pageOf } from '../src/block-storage/db/paging.ts';
import { MIGRATIONS } from '../src/block-storage/db/migrations/index.ts';
import type { BlockStorageDb } from '../src/block-storage/db/schema.ts';
import type { SnapshotRow } from '../src/block-storage/volumes.ts';
import { databaseEngines, until, useAdminCloud } from './lib/cloud.ts';

const SCHEMA = 'block_storage_paging_test';

for (const engine of databaseEngines('block storage paging')) {
  describe(`block storage paging in SQL (${engine.name})`, () => {
    let db: Kysely<BlockStorageDb>;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-cinder-paging-'));
    const rows: SnapshotRow[] = [];

    before(async () => {
      db = await openDatabase<BlockStorageDb>({ url: engine.database ?? ':memory:', service: SCHEMA, dataDir: dir });
      await migrate(db, MIGRATIONS);
      const statuses = ['available', 'creating', 'error'];
      const base = Date.parse('2026-01-01T00:00:00Z');
      for (let i = 0; i < 400; i++) {
        const row: SnapshotRow = {
          id: `00000000-0000-4000-8000-${String((i * 7919) % 1000003).padStart(12, '0')}`,
          volume_id: `vol-${i % 5}`,
          project_id: i % 4 === 0 ? 'other' : 'mine',
          user_id: 'u',
          // Nulls and many equal names: the id breaks ties.
          name: i % 9 === 0 ? null : `snap-${i % 13}`,
          description: null,
          status: statuses[i % 3]!,
          progress: '100%',
          volume_size: (i % 6) + 1,
          metadata: JSON.stringify(i % 5 === 0 ? { tier: 'gold', n: String(i % 2) } : {}),
          provider_location: null,
          group_snapshot_id: null,
          // Equal times in runs of three.
          created_at: new Date(base + Math.floor(i / 3) * 1000).toISOString(),
          updated_at: i % 2 ? new Date(base + i * 1000).toISOString() : null,
          deleted: i % 11 === 0 ? 1 : 0,
          deleted_at: null,
        };
        rows.push(row);
      }
      for (let i = 0; i < rows.length; i += 100)
        await db
          .insertInto('snapshots')
          .values(rows.slice(i, i + 100))
          .execute();
    });
    after(async () => {
      await db?.destroy();
      if (engine.database) {
        const c = new pg.Client({ connectionString: engine.database });
        await c.connect();
        await c.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`);
        await c.end();
      }
      fs.rmSync(dir, { recursive: true, force: true });
    });

    /** The reference: the live rows `keep` selects, sorted in memory (nulls as ''). */
    const reference = (keep: (r: SnapshotRow) => boolean, order: Array<[keyof SnapshotRow, 'asc' | 'desc']>) =>
      rows
        .filter((r) => r.deleted === 0 && keep(r))
        .sort((a, b) => {
          for (const [k, d] of order) {
            const x = a[k] ?? '',
              y = b[k] ?? '';
            if (x === y) continue;
            return (x < y ? -1 : 1) * (d === 'asc' ? 1 : -1);
          }
          return 0;
        })
        .map((r) => r.id);

    /** Every page of `limit` rows walked by keyset markers. */
    async function walk(
      where: ReturnType<typeof eq>[],
      order: Array<[keyof SnapshotRow, 'asc' | 'desc']>,
      limit: number,
    ): Promise<string[]> {
      const out: string[] = [];
      let marker: string | undefined;
      for (let n = 0; n < 1000; n++) {
        const p = await pageOf<SnapshotRow>(db, 'snapshots', {
          where,
          order,
          nullable: new Set(['name', 'updated_at']),
          marker,
          limit,
        });
        assert.ok(p);
        out.push(...p.rows.map((r) => r.id));
        if (!p.more) return out;
        marker = p.rows[p.rows.length - 1]!.id;
      }
      throw new Error('no end');
    }

    it('walks every page of many rows in the order and with the filters of the in-memory sort', async () => {
      const cases: Array<{
        where: ReturnType<typeof eq>[];
        keep: (r: SnapshotRow) => boolean;
        order: Array<[keyof SnapshotRow, 'asc' | 'desc']>;
      }> = [
        {
          where: [],
          keep: () => true,
          order: [
            ['created_at', 'desc'],
            ['id', 'desc'],
          ],
        },
        {
          where: [eq('project_id', 'mine')],
          keep: (r) => r.project_id === 'mine',
          order: [
            ['name', 'asc'],
            ['id', 'asc'],
          ],
        },
        {
          where: [eq('status', 'available')],
          keep: (r) => r.status === 'available',
          order: [
            ['updated_at', 'desc'],
            ['volume_size', 'asc'],
            ['id', 'desc'],
          ],
        },
        {
          where: [contains('name', 'snap-1')],
          keep: (r) => (r.name ?? '').includes('snap-1'),
          order: [
            ['volume_size', 'desc'],
            ['name', 'asc'],
            ['id', 'asc'],
          ],
        },
        {
          where: jsonHas(db, 'metadata', { tier: 'gold', n: '1' }),
          keep: (r) => r.metadata.includes('"n":"1"'),
          order: [
            ['created_at', 'asc'],
            ['id', 'asc'],
          ],
        },
      ];
      for (const c of cases) {
        const want = reference(c.keep, c.order);
        assert.ok(want.length > 0);
        for (const limit of [1, 7, 50, 1000]) assert.deepEqual(await walk(c.where, c.order, limit), want);
        // Offset and limit, and the count of every match.
        const p = await pageOf<SnapshotRow>(db, 'snapshots', {
          where: c.where,
          order: c.order,
          nullable: new Set(['name', 'updated_at']),
          offset: 3,
          limit: 5,
          count: true,
        });
        assert.deepEqual(
          p?.rows.map((r) => r.id),
          want.slice(3, 8),
        );
        assert.equal(p?.total, want.length);
      }
    });

    it('answers null for a marker that is not a live row of the scope', async () => {
      const order: Array<[string, 'asc' | 'desc']> = [['id', 'asc']];
      const deleted = rows.find((r) => r.deleted === 1)!.id;
      const theirs = rows.find((r) => r.deleted === 0 && r.project_id === 'other')!.id;
      assert.equal(await pageOf(db, 'snapshots', { where: [], order, marker: deleted }), null);
      assert.equal(await pageOf(db, 'snapshots', { where: [], order, marker: 'nope' }), null);
      const scope = [eq('project_id', 'mine')];
      assert.equal(await pageOf(db, 'snapshots', { where: scope, markerScope: scope, order, marker: theirs }), null);
      assert.ok(await pageOf(db, 'snapshots', { where: [], order, marker: theirs }));
    });
  });
}

describe('block storage lists paged in SQL through the API', () => {
  const t = useAdminCloud('stratus-cinder-paging-api-', { volume: '3.64' });
  const { cinder } = t;

  /** The ids of every page of `path` (limit 2) walked by the next links under `linksKey`. */
  async function walk(first: string, key: string, linksKey: string): Promise<string[]> {
    const out: string[] = [];
    let url = first;
    for (let n = 0; n < 50 && url; n++) {
      const r = await cinder('GET', url);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      out.push(...(r.body[key] as Array<{ id: string }>).map((x) => x.id));
      const next = r.body[linksKey]?.[0]?.href as string | undefined;
      url = next ? next.slice(next.indexOf(`/${t.project}/`) + t.project.length + 1) : '';
    }
    return out;
  }

  it('pages snapshots, attachments and groups, filters them (metadata too) and counts them', async () => {
    const vol = await cinder('POST', '/volumes', { volume: { size: 1, name: 'pv', metadata: { k: 'v' } } });
    assert.equal(vol.status, 202, JSON.stringify(vol.body));
    const vid = vol.body.volume.id as string;
    await until('available', async () => (await cinder('GET', `/volumes/${vid}`)).body.volume.status === 'available');
    // The volume metadata filter is in SQL now.
    assert.deepEqual(
      (await cinder('GET', `/volumes?metadata=${encodeURIComponent('{"k": "v"}')}`)).body.volumes.map(
        (v: { id: string }) => v.id,
      ),
      [vid],
    );
    assert.equal((await cinder('GET', `/volumes?metadata=${encodeURIComponent('{"k": "x"}')}`)).body.volumes.length, 0);

    const snaps: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await cinder('POST', '/snapshots', {
        snapshot: { volume_id: vid, name: `s${i % 2}`, metadata: i === 3 ? { pick: 'me' } : {} },
      });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      snaps.push(r.body.snapshot.id);
    }
    await until(
      'snapshots available',
      async () => (await cinder('GET', '/snapshots?status=available')).body.snapshots.length === 5,
    );
    const byName = await cinder('GET', '/snapshots?sort=name:asc,id:asc');
    const want = byName.body.snapshots.map((s: { id: string }) => s.id);
    assert.deepEqual([...want].sort(), [...snaps].sort());
    assert.deepEqual(
      await walk('/snapshots/detail?sort=name:asc,id:asc&limit=2', 'snapshots', 'snapshots_links'),
      want,
    );
    const counted = await cinder('GET', '/snapshots?name=s1&with_count=true&limit=1');
    assert.equal(counted.body.count, 2);
    assert.equal(counted.body.snapshots.length, 1);
    assert.deepEqual(
      (await cinder('GET', `/snapshots?metadata=${encodeURIComponent("{'pick': 'me'}")}`)).body.snapshots.map(
        (s: { id: string }) => s.id,
      ),
      [snaps[3]],
    );
    assert.equal((await cinder('GET', '/snapshots?marker=nope')).status, 404);

    // Attachments (3.27): three reserved ones of the volume made multiattach-free: one volume each.
    const atts: string[] = [];
    for (let i = 0; i < 3; i++) {
      const v = await cinder('POST', '/volumes', { volume: { size: 1 } });
      await until(
        'available',
        async () => (await cinder('GET', `/volumes/${v.body.volume.id}`)).body.volume.status === 'available',
      );
      const a = await cinder('POST', '/attachments', {
        attachment: { volume_uuid: v.body.volume.id, instance_uuid: `4a4e5a5e-0000-4000-8000-00000000000${i}` },
      });
      assert.equal(a.status, 200, JSON.stringify(a.body));
      atts.push(a.body.attachment.id);
    }
    const attAll = await walk('/attachments?sort=id:asc&limit=2', 'attachments', 'attachments_links');
    assert.deepEqual(attAll, [...atts].sort());
    const one = await cinder('GET', `/attachments?instance_id=4a4e5a5e-0000-4000-8000-000000000001`);
    assert.deepEqual(
      one.body.attachments.map((a: { id: string }) => a.id),
      [atts[1]],
    );
    for (const a of atts) assert.equal((await cinder('DELETE', `/attachments/${a}`)).status, 200);

    // Groups (3.13): a group type, three groups, pages and like-filters.
    const gt = await cinder('POST', '/group_types', { group_type: { name: 'pg-gt' } });
    assert.equal(gt.status, 202, JSON.stringify(gt.body));
    const types = (await cinder('GET', '/types')).body.volume_types as Array<{ id: string }>;
    const groups: string[] = [];
    for (const name of ['ga', 'gb', 'xa']) {
      const g = await cinder('POST', '/groups', {
        group: { name, group_type: gt.body.group_type.id, volume_types: [types[0]!.id] },
      });
      assert.equal(g.status, 202, JSON.stringify(g.body));
      groups.push(g.body.group.id);
    }
    assert.deepEqual(await walk('/groups?sort=name:asc&limit=2', 'groups', 'group_links'), groups);
    assert.equal((await cinder('GET', '/groups?name~=a')).body.groups.length, 2);
    assert.equal((await cinder('GET', '/groups?bogus=1')).status, 400);
  });
});
