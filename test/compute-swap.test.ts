// Moving an attached volume (fake virt driver, two `file` backends): Cinder's migration of an
// in-use volume (os-migrate_volume and os-retype on-demand) asks compute to swap the server's
// volume for the copy (PUT os-volume_attachments/{old} with the copy's id), compute swaps and calls
// os-migrate_volume_completion, and the server keeps the volume's id, now on the other backend,
// still in-use with one attachment; the old bytes and the copy's row go. Also the user's own swap.
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type TestCloud, until, uploadImage } from './lib/cloud.ts';
import { startTwoBackendCloud, type TwoBackendCloud } from './lib/block-storage-backends.ts';

describe('compute: swap of attached volumes and migration of in-use volumes', () => {
  let b: TwoBackendCloud;
  let c: TestCloud;
  let server = '';
  const cinder = (method: string, p: string, body?: unknown) => b.cinder(method, p, body);
  const nova = (method: string, p: string, body?: unknown) =>
    c.req(method, `${c.url}/compute/v2.1${p}`, body, { headers: { 'OpenStack-API-Version': 'compute 2.79' } });
  const show = async (id: string) => (await cinder('GET', `/volumes/${id}`)).body.volume;
  const volume = (id: string, status: string) =>
    until(`volume ${id} ${status}`, async () => {
      const v = await show(id);
      return v?.status === status ? v : null;
    });
  const attached = async () =>
    ((await nova('GET', `/servers/${server}/os-volume_attachments`)).body.volumeAttachments ?? []).map(
      (a: { volumeId: string }) => a.volumeId,
    );
  const typeFor = (backend: string) => b.typeFor(backend, `on-${backend}`);
  const attachNew = async (type: string) => {
    const v = (await cinder('POST', '/volumes', { volume: { size: 1, volume_type: type } })).body.volume;
    await volume(v.id, 'available');
    const a = await nova('POST', `/servers/${server}/os-volume_attachments`, { volumeAttachment: { volumeId: v.id } });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    await volume(v.id, 'in-use');
    return v.id as string;
  };
  const volumeFiles = (dir: string) =>
    fs.existsSync(path.join(b.dataDir, dir))
      ? fs.readdirSync(path.join(b.dataDir, dir)).filter((f) => f.startsWith('volume-'))
      : [];

  before(async () => {
    b = await startTwoBackendCloud('stratus-swap-');
    c = b.c;
    const imageId = await uploadImage(c, 'tiny', new Uint8Array(Buffer.alloc(1024)));
    const s = await nova('POST', '/servers', {
      server: { name: 'vm', imageRef: imageId, flavorRef: '1', networks: 'none' },
    });
    assert.equal(s.status, 202, JSON.stringify(s.body));
    server = s.body.server.id;
    await until('server ACTIVE', async () => {
      const x = (await nova('GET', `/servers/${server}`)).body.server;
      if (x?.status === 'ERROR') throw new Error(JSON.stringify(x.fault));
      return x?.status === 'ACTIVE' && !x['OS-EXT-STS:task_state'];
    });
  });
  after(async () => {
    await b?.stop();
  });

  it('migrates an in-use volume through compute: same id, other backend, still attached', async () => {
    // A type without a backend name (tempest's test_volume_migrate_attached): either backend takes it.
    const free = (await cinder('POST', '/types', { volume_type: { name: 'migratable' } })).body.volume_type;
    const id = await attachNew(free.name);
    const from = (await show(id))['os-vol-host-attr:host'] as string;
    const [src, dst] = from.includes('@lvm1#') ? ['volumes', 'lvm2'] : ['volumes-lvm2', 'lvm1'];
    const r = await cinder('POST', `/volumes/${id}/action`, { 'os-migrate_volume': { host: `storage-1@${dst}` } });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const v = await until('migrated', async () => {
      const x = await show(id);
      if (x.migration_status === 'error') throw new Error('migration_status error');
      return x.migration_status === 'success' ? x : null;
    });
    assert.equal(v.status, 'in-use');
    assert.ok(v['os-vol-host-attr:host'].startsWith(`storage-1@${dst}#`), v['os-vol-host-attr:host']);
    assert.equal(v.attachments.length, 1);
    assert.equal(v.attachments[0].server_id, server);
    assert.deepEqual(await attached(), [id]);
    // The copy's row and the old bytes are gone; the volume's bytes are on lvm2.
    await until('old bytes gone', async () => !volumeFiles(src).length);
    assert.equal(volumeFiles(dst === 'lvm1' ? 'volumes' : 'volumes-lvm2').length, 1);
    const all = (await cinder('GET', '/volumes?all_tenants=1')).body.volumes.map((x: { id: string }) => x.id);
    assert.deepEqual(all, [id]);
    // compute recorded the swap.
    const acts = (await nova('GET', `/servers/${server}/os-instance-actions`)).body.instanceActions;
    assert.ok(acts.some((a: { action: string }) => a.action === 'swap_volume'));
    // Detach still works on the moved volume, and the volume can go.
    assert.equal((await nova('DELETE', `/servers/${server}/os-volume_attachments/${id}`)).status, 202);
    await volume(id, 'available');
    assert.equal((await cinder('DELETE', `/volumes/${id}`)).status, 202);
    await until('deleted', async () => (await cinder('GET', `/volumes/${id}`)).status === 404);
  });

  it('retypes an in-use volume with on-demand migration', async () => {
    const t1 = await typeFor('lvm1');
    const t2 = await typeFor('lvm2');
    const id = await attachNew(t1.name);
    const r = await cinder('POST', `/volumes/${id}/action`, {
      'os-retype': { new_type: t2.name, migration_policy: 'on-demand' },
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const v = await until('retyped', async () => {
      const x = await show(id);
      if (x.migration_status === 'error') throw new Error('migration_status error');
      return x.volume_type === t2.name && x.status === 'in-use' ? x : null;
    });
    assert.equal(v.migration_status, 'success');
    assert.match(v['os-vol-host-attr:host'], /^storage-1@lvm2#/);
    assert.deepEqual(await attached(), [id]);
    assert.equal((await nova('DELETE', `/servers/${server}/os-volume_attachments/${id}`)).status, 202);
    await volume(id, 'available');
  });

  it("swaps a server's volume for another (the admin's swap): the old one available, the new one in-use", async () => {
    const a = await attachNew('on-lvm1');
    const b = (await cinder('POST', '/volumes', { volume: { size: 1 } })).body.volume.id as string;
    await volume(b, 'available');
    const r = await nova('PUT', `/servers/${server}/os-volume_attachments/${a}`, { volumeAttachment: { volumeId: b } });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    await volume(b, 'in-use');
    await volume(a, 'available');
    assert.deepEqual(await attached(), [b]);
  });
});
