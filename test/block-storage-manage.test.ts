// Block storage's manage/unmanage (admin) with the file driver: a volume and a snapshot are
// unmanaged (rows gone, files kept), listed as manageable (3.8), managed back under new ids.
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { until, useAdminCloud } from './lib/cloud.ts';

describe('block storage manage/unmanage', () => {
  const t = useAdminCloud('stratus-cinder-manage-', { volume: '3.70' });
  const { cinder } = t;
  const wait = (kind: string, id: string, status: string) =>
    until(`${kind} ${id} ${status}`, async () => {
      const o = (await cinder('GET', `/${kind}s/${id}`)).body[kind];
      if (o?.status?.startsWith('error') && !status.startsWith('error'))
        throw new Error(`${kind} ${id} is ${o.status}`);
      return o?.status === status ? o : null;
    });
  const gone = (kind: string, id: string) =>
    until(`${kind} ${id} gone`, async () => ((await cinder('GET', `/${kind}s/${id}`)).status === 404 ? true : null));

  it('unmanages and manages a volume and a snapshot back', async () => {
    const r = await cinder('POST', '/volumes', { volume: { size: 2, name: 'orig' } });
    const v = await wait('volume', r.body.volume.id, 'available');
    const host = v['os-vol-host-attr:host'];
    const vfile = path.join(t.c.dataDir, 'volumes', `volume-${v.id}`);
    fs.writeFileSync(vfile, 'payload', { flag: 'r+' });
    const sr = await cinder('POST', '/snapshots', { snapshot: { volume_id: v.id, name: 's' } });
    const s = await wait('snapshot', sr.body.snapshot.id, 'available');

    // the snapshot: unmanage keeps its file, manage takes it back under a new id
    assert.equal((await cinder('POST', `/snapshots/${s.id}/action`, { 'os-unmanage': null })).status, 202);
    await gone('snapshot', s.id);
    assert.ok(fs.existsSync(path.join(t.c.dataDir, 'volumes', `snapshot-${s.id}`)));
    const ms = await cinder('POST', '/os-snapshot-manage', {
      snapshot: {
        volume_id: v.id,
        ref: { 'source-name': `snapshot-${s.id}` },
        name: 'managed-s',
        metadata: { a: 'b' },
      },
    });
    assert.equal(ms.status, 202, JSON.stringify(ms.body));
    const s2 = await wait('snapshot', ms.body.snapshot.id, 'available');
    assert.equal(s2.size, 2);
    assert.deepEqual(s2.metadata, { a: 'b' });
    assert.ok(fs.existsSync(path.join(t.c.dataDir, 'volumes', `snapshot-${s2.id}`)));
    assert.equal((await cinder('DELETE', `/snapshots/${s2.id}`)).status, 202);
    await gone('snapshot', s2.id);

    // the volume
    assert.equal((await cinder('POST', `/volumes/${v.id}/action`, { 'os-unmanage': null })).status, 202);
    await gone('volume', v.id);
    assert.ok(fs.existsSync(vfile), 'an unmanaged volume keeps its file');
    const list = await cinder('GET', `/manageable_volumes/detail?host=${encodeURIComponent(host)}`);
    assert.equal(list.status, 200, JSON.stringify(list.body));
    const entry = list.body['manageable-volumes'].find(
      (x: { reference: { 'source-name': string } }) => x.reference['source-name'] === `volume-${v.id}`,
    );
    assert.deepEqual(entry, {
      reference: { 'source-name': `volume-${v.id}` },
      size: 2,
      safe_to_manage: true,
      reason_not_safe: null,
      cinder_id: null,
      extra_info: null,
    });
    assert.equal((await cinder('GET', '/manageable_volumes')).status, 400, 'host is required');
    assert.equal((await cinder('GET', `/manageable_volumes?host=${host}`, undefined, '3.7')).status, 404);

    const nohost = await cinder('POST', '/os-volume-manage', { volume: { ref: { 'source-name': 'x' } } });
    assert.equal(nohost.status, 400);
    const badhost = await cinder('POST', '/os-volume-manage', {
      volume: { host: 'nowhere@x#x', ref: { 'source-name': 'x' } },
    });
    assert.equal(badhost.status, 404);
    const missing = await cinder('POST', '/os-volume-manage', {
      volume: { host, ref: { 'source-name': 'volume-does-not-exist' }, name: 'nope' },
    });
    assert.equal(missing.status, 202);
    await wait('volume', missing.body.volume.id, 'error_managing');
    assert.equal((await cinder('DELETE', `/volumes/${missing.body.volume.id}`)).status, 202);

    const m = await cinder('POST', '/os-volume-manage', {
      volume: { host, ref: { 'source-name': `volume-${v.id}` }, name: 'managed', volume_type: v.volume_type },
    });
    assert.equal(m.status, 202, JSON.stringify(m.body));
    const nv = await wait('volume', m.body.volume.id, 'available');
    assert.equal(nv.size, 2);
    assert.equal(nv.name, 'managed');
    assert.equal(nv['os-vol-host-attr:host'], host);
    const nfile = path.join(t.c.dataDir, 'volumes', `volume-${nv.id}`);
    const head = Buffer.alloc(7);
    const fd = fs.openSync(nfile, 'r');
    fs.readSync(fd, head, 0, 7, 0);
    fs.closeSync(fd);
    assert.equal(head.toString(), 'payload');
    assert.ok(!fs.existsSync(vfile));
    assert.equal((await cinder('DELETE', `/volumes/${nv.id}`)).status, 202);
    await gone('volume', nv.id);
    assert.ok(!fs.existsSync(nfile));
  });

  it('refuses manage to a member', async () => {
    const alice = await import('./lib/cloud.ts').then((m) => m.member(t.c, 'alice-manage'));
    const r = await t.c.req(
      'POST',
      `${t.c.url}/volume/v3/${alice.project}/os-volume-manage`,
      { volume: { host: 'x@y#z', ref: { 'source-name': 'a' } } },
      { token: alice.token, headers: { 'OpenStack-API-Version': 'volume 3.70' } },
    );
    assert.equal(r.status, 403);
  });
});
