// Block storage's generic volume groups (3.13+) and group snapshots (3.14+) against an in-process
// cloud: create, volumes in a group, update add/remove, group snapshots, create from a group
// snapshot and from a source group, reset status, delete with volumes, and the refusals.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { databaseEngines, startCloud, type TestCloud, until } from './lib/cloud.ts';

for (const engine of databaseEngines('block storage groups')) {
  describe(`block storage groups (${engine.name})`, () => {
    let c: TestCloud;
    let project: string;
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-cinder-groups-'));
    const cinder = (method: string, p: string, body?: unknown, version = '3.70') =>
      c.req(method, `${c.url}/volume/v3/${project}${p}`, body, {
        headers: { 'OpenStack-API-Version': `volume ${version}` },
      });
    const wait = (kind: string, id: string, status: string) =>
      until(`${kind} ${id} ${status}`, async () => {
        const r = await cinder('GET', `/${kind}s/${id}`);
        const o = r.body[kind];
        if (o?.status === 'error' && status !== 'error') throw new Error(`${kind} ${id} went to error`);
        return o?.status === status ? o : null;
      });
    const gone = (kind: string, id: string) =>
      until(`${kind} ${id} gone`, async () => ((await cinder('GET', `/${kind}s/${id}`)).status === 404 ? true : null));

    before(async () => {
      c = await startCloud({ database: engine.database, dataDir });
      project = (await c.req('GET', '/v3/projects?name=admin')).body.projects[0].id;
    });
    after(async () => {
      await c?.stop();
      fs.rmSync(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    });

    it('creates groups, puts volumes in them, snapshots them, copies them and deletes them', async () => {
      const vt = (await cinder('POST', '/types', { volume_type: { name: 'gvt' } })).body.volume_type;
      const gt = (await cinder('POST', '/group_types', { group_type: { name: 'ggt' } })).body.group_type;
      const old = await cinder('GET', '/groups', undefined, '3.12');
      assert.equal(old.status, 404);
      const r = await cinder('POST', '/groups', { group: { name: 'g1', group_type: gt.id, volume_types: [vt.id] } });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      assert.deepEqual(Object.keys(r.body.group).sort(), ['id', 'name']);
      const g = await wait('group', r.body.group.id, 'available');
      assert.equal(g.group_type, gt.id);
      assert.deepEqual(g.volume_types, [vt.id]);
      assert.equal(g.replication_status, 'disabled');
      assert.equal(g.project_id, project);

      // a volume in the group: its type must be one of the group's
      const wrong = await cinder('POST', '/volumes', { volume: { size: 1, group_id: g.id } });
      assert.equal(wrong.status, 400);
      assert.match(wrong.body.badRequest.message, /volume_type must be provided/);
      const mk = async () => {
        const v = await cinder('POST', '/volumes', { volume: { size: 1, volume_type: vt.id, group_id: g.id } });
        assert.equal(v.status, 202, JSON.stringify(v.body));
        assert.equal(v.body.volume.group_id, g.id);
        return wait('volume', v.body.volume.id, 'available');
      };
      const v1 = await mk();
      const v2 = await mk();
      const del = await cinder('DELETE', `/volumes/${v1.id}`);
      assert.equal(del.status, 400, 'a volume of a group is not deleted alone');

      // list_volume (3.25), detail list
      const shown = await cinder('GET', `/groups/${g.id}?list_volume=True`);
      assert.deepEqual(shown.body.group.volumes.sort(), [v1.id, v2.id].sort());
      const detail = await cinder('GET', '/groups/detail');
      assert.ok(
        detail.body.groups.some((x: { id: string; group_type: string }) => x.id === g.id && x.group_type === gt.id),
      );

      // update: remove, then add back
      let u = await cinder('PUT', `/groups/${g.id}`, { group: { name: 'g1b', remove_volumes: v2.id } });
      assert.equal(u.status, 202, JSON.stringify(u.body));
      await wait('group', g.id, 'available');
      assert.equal((await cinder('GET', `/volumes/${v2.id}`)).body.volume.group_id, null);
      u = await cinder('PUT', `/groups/${g.id}`, { group: { add_volumes: v2.id } });
      assert.equal(u.status, 202, JSON.stringify(u.body));
      assert.equal((await cinder('GET', `/volumes/${v2.id}`)).body.volume.group_id, g.id);
      const none = await cinder('PUT', `/groups/${g.id}`, { group: { name: 'g1b' } });
      assert.equal(none.status, 400);
      const both = await cinder('PUT', `/groups/${g.id}`, { group: { add_volumes: v1.id, remove_volumes: v1.id } });
      assert.equal(both.status, 400);

      // group snapshot: a snapshot per volume
      const gsr = await cinder('POST', '/group_snapshots', { group_snapshot: { group_id: g.id, name: 'gs1' } });
      assert.equal(gsr.status, 202, JSON.stringify(gsr.body));
      const gs = await wait('group_snapshot', gsr.body.group_snapshot.id, 'available');
      assert.equal(gs.group_id, g.id);
      const snaps = (await cinder('GET', '/snapshots/detail')).body.snapshots.filter(
        (s: { group_snapshot_id: string }) => s.group_snapshot_id === gs.id,
      );
      assert.equal(snaps.length, 2);
      assert.ok(snaps.every((s: { status: string }) => s.status === 'available'));
      const snapDel = await cinder('DELETE', `/snapshots/${snaps[0].id}`);
      assert.equal(snapDel.status, 400, 'a snapshot of a group snapshot is not deleted alone');
      const busy = await cinder('POST', `/groups/${g.id}/action`, { delete: { 'delete-volumes': true } });
      assert.equal(busy.status, 400, 'a group with group snapshots is not deleted');
      assert.match(busy.body.badRequest.message, /Group has existing snapshots/);

      // reset status (3.19 / 3.20)
      assert.equal(
        (await cinder('POST', `/group_snapshots/${gs.id}/action`, { reset_status: { status: 'error' } })).status,
        202,
      );
      await wait('group_snapshot', gs.id, 'error');
      await cinder('POST', `/group_snapshots/${gs.id}/action`, { reset_status: { status: 'available' } });
      const badStatus = await cinder('POST', `/groups/${g.id}/action`, { reset_status: { status: 'bogus' } });
      assert.equal(badStatus.status, 400);

      // from the group snapshot, and from the group
      const fromSnap = await cinder('POST', '/groups/action', {
        'create-from-src': { group_snapshot_id: gs.id, name: 'from-snap' },
      });
      assert.equal(fromSnap.status, 202, JSON.stringify(fromSnap.body));
      const g2 = await wait('group', fromSnap.body.group.id, 'available');
      assert.equal(g2.group_snapshot_id, gs.id);
      const fromGroup = await cinder('POST', '/groups/action', {
        'create-from-src': { source_group_id: g.id, name: 'from-group' },
      });
      assert.equal(fromGroup.status, 202, JSON.stringify(fromGroup.body));
      const g3 = await wait('group', fromGroup.body.group.id, 'available');
      const g3vols = (await cinder('GET', `/groups/${g3.id}?list_volume=true`)).body.group.volumes;
      assert.equal(g3vols.length, 2);
      for (const id of g3vols) assert.equal((await cinder('GET', `/volumes/${id}`)).body.volume.status, 'available');

      // deletes
      assert.equal((await cinder('DELETE', `/group_snapshots/${gs.id}`)).status, 202);
      await gone('group_snapshot', gs.id);
      for (const s of snaps) assert.equal((await cinder('GET', `/snapshots/${s.id}`)).status, 404);
      const noFlag = await cinder('POST', `/groups/${g.id}/action`, { delete: { 'delete-volumes': false } });
      assert.equal(noFlag.status, 400);
      assert.match(noFlag.body.badRequest.message, /delete-volumes flag is required/);
      for (const x of [g, g2, g3]) {
        const d = await cinder('POST', `/groups/${x.id}/action`, { delete: { 'delete-volumes': true } });
        assert.equal(d.status, 202, JSON.stringify(d.body));
      }
      for (const x of [g, g2, g3]) await gone('group', x.id);
      for (const id of [v1.id, v2.id, ...g3vols]) assert.equal((await cinder('GET', `/volumes/${id}`)).status, 404);
      assert.deepEqual((await cinder('GET', '/groups')).body.groups, []);
      assert.ok(!fs.existsSync(path.join(dataDir, 'volumes', `volume-${v1.id}`)));
    });

    it('refuses unknown group types and volume types, and bad bodies', async () => {
      const gt = (await cinder('POST', '/group_types', { group_type: { name: 'ggt2' } })).body.group_type;
      const a = await cinder('POST', '/groups', { group: { group_type: 'nope', volume_types: ['__DEFAULT__'] } });
      assert.equal(a.status, 404);
      const b = await cinder('POST', '/groups', { group: { group_type: gt.id, volume_types: ['nope'] } });
      assert.equal(b.status, 404);
      const d = await cinder('POST', '/groups', { group: { group_type: gt.id, volume_types: [] } });
      assert.equal(d.status, 400);
      const e = await cinder('POST', '/groups', { nogroup: {} });
      assert.equal(e.status, 400);
      assert.equal((await cinder('GET', '/groups/00000000-0000-0000-0000-000000000000')).status, 404);
      assert.equal((await cinder('GET', '/group_snapshots/00000000-0000-0000-0000-000000000000')).status, 404);
      const empty = await cinder('POST', '/groups', { group: { group_type: gt.name, volume_types: ['__DEFAULT__'] } });
      assert.equal(empty.status, 202);
      await wait('group', empty.body.group.id, 'available');
      const rep = await cinder('POST', `/groups/${empty.body.group.id}/action`, { enable_replication: {} });
      assert.equal(rep.status, 400);
      const d2 = await cinder('POST', `/groups/${empty.body.group.id}/action`, { delete: { 'delete-volumes': false } });
      assert.equal(d2.status, 202);
      await gone('group', empty.body.group.id);
    });
  });
}
