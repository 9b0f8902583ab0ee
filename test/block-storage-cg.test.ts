// The consistency group API (/consistencygroups, /cgsnapshots) on generic groups: create, a
// volume in it (`consistencygroup_id`), a cgsnapshot, groups from the cgsnapshot and from the
// group, forced delete with the volumes, and Cinder's refusals.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud, until } from './lib/cloud.ts';

describe('block storage: consistency groups', () => {
  let c: TestCloud;
  let project: string;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-cg-'));
  const cinder = (method: string, p: string, body?: unknown) =>
    c.req(method, `${c.url}/volume/v3/${project}${p}`, body, { headers: { 'OpenStack-API-Version': 'volume 3.0' } });
  const cgStatus = (id: string, status: string) =>
    until(`cg ${id} ${status}`, async () => {
      const r = await cinder('GET', `/consistencygroups/${id}`);
      if (r.body.consistencygroup?.status === 'error') throw new Error(`cg ${id} went to error`);
      return r.body.consistencygroup?.status === status ? r.body.consistencygroup : null;
    });
  const cgGone = (id: string) =>
    until(`cg ${id} gone`, async () => (await cinder('GET', `/consistencygroups/${id}`)).status === 404);

  before(async () => {
    c = await startCloud({ dataDir });
    project = (await c.req('GET', '/v3/projects?name=admin')).body.projects[0].id;
  });
  after(async () => {
    await c?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  });

  it('creates a group, a volume in it, a cgsnapshot, groups from both sources, and deletes them', async () => {
    const t = (await cinder('POST', '/types', { volume_type: { name: 'cg-type' } })).body.volume_type;
    const noTypes = await cinder('POST', '/consistencygroups', { consistencygroup: { name: 'x' } });
    assert.equal(noTypes.status, 400);
    assert.match(noTypes.body.badRequest.message, /volume_types must be provided/);
    const created = await cinder('POST', '/consistencygroups', {
      consistencygroup: { name: 'cg-1', volume_types: t.id },
    });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    assert.deepEqual(Object.keys(created.body.consistencygroup).sort(), ['id', 'name']);
    const id = created.body.consistencygroup.id as string;
    const shown = await cgStatus(id, 'available');
    assert.equal(shown.name, 'cg-1');
    assert.deepEqual(shown.volume_types, [t.id]);
    const vol = await cinder('POST', '/volumes', {
      volume: { size: 1, name: 'in-cg', volume_type: t.id, consistencygroup_id: id },
    });
    assert.equal(vol.status, 202, JSON.stringify(vol.body));
    await until(
      'volume',
      async () => (await cinder('GET', `/volumes/${vol.body.volume.id}`)).body.volume.status === 'available',
    );
    const list = await cinder('GET', '/consistencygroups/detail');
    assert.ok(list.body.consistencygroups.some((g: { id: string; name: string }) => g.id === id && g.name === 'cg-1'));
    // A group of the default_cgsnapshot_type group type.
    const gt = await c.req('GET', `${c.url}/volume/v3/${project}/group_types`, undefined, {
      headers: { 'OpenStack-API-Version': 'volume 3.11' },
    });
    assert.ok(gt.body.group_types.some((x: { name: string }) => x.name === 'default_cgsnapshot_type'));

    const snap = await cinder('POST', '/cgsnapshots', { cgsnapshot: { consistencygroup_id: id, name: 'cgs-1' } });
    assert.equal(snap.status, 202, JSON.stringify(snap.body));
    const sid = snap.body.cgsnapshot.id as string;
    await until(
      'cgsnapshot',
      async () => (await cinder('GET', `/cgsnapshots/${sid}`)).body.cgsnapshot.status === 'available',
    );
    const cgs = (await cinder('GET', `/cgsnapshots/${sid}`)).body.cgsnapshot;
    assert.equal(cgs.consistencygroup_id, id);
    assert.equal(cgs.name, 'cgs-1');
    assert.ok((await cinder('GET', '/cgsnapshots/detail')).body.cgsnapshots.some((s: { id: string }) => s.id === sid));

    const both = await cinder('POST', '/consistencygroups/create_from_src', {
      'consistencygroup-from-src': { cgsnapshot_id: sid, source_cgid: id },
    });
    assert.equal(both.status, 400);
    const fromSnap = await cinder('POST', '/consistencygroups/create_from_src', {
      'consistencygroup-from-src': { cgsnapshot_id: sid, name: 'from-snap' },
    });
    assert.equal(fromSnap.status, 202, JSON.stringify(fromSnap.body));
    const fromCg = await cinder('POST', '/consistencygroups/create_from_src', {
      'consistencygroup-from-src': { source_cgid: id, name: 'from-cg' },
    });
    assert.equal(fromCg.status, 202, JSON.stringify(fromCg.body));
    await cgStatus(fromSnap.body.consistencygroup.id, 'available');
    await cgStatus(fromCg.body.consistencygroup.id, 'available');

    const notForced = await cinder('POST', `/consistencygroups/${id}/delete`, { consistencygroup: { force: false } });
    assert.equal(notForced.status, 400);
    for (const g of [fromSnap.body.consistencygroup.id, fromCg.body.consistencygroup.id]) {
      const d = await cinder('POST', `/consistencygroups/${g}/delete`, { consistencygroup: { force: true } });
      assert.equal(d.status, 202, JSON.stringify(d.body));
      await cgGone(g);
    }
    assert.equal((await cinder('DELETE', `/cgsnapshots/${sid}`)).status, 202);
    await until('cgsnapshot gone', async () => (await cinder('GET', `/cgsnapshots/${sid}`)).status === 404);
    assert.equal(
      (await cinder('POST', `/consistencygroups/${id}/delete`, { consistencygroup: { force: true } })).status,
      202,
    );
    await cgGone(id);
    assert.equal((await cinder('GET', `/volumes/${vol.body.volume.id}`)).status, 404);
    assert.equal((await cinder('DELETE', `/types/${t.id}`)).status, 202);
    const missing = await cinder('GET', '/consistencygroups/00000000-0000-0000-0000-000000000000');
    assert.equal(missing.status, 404);
  });
});
