// Volume migration between two `file` backends of one host: os-migrate_volume (admin) with the
// generic host-copy, os-retype with migration_policy on-demand, Cinder's refusals, and
// os-migrate_volume_completion's checks.
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { member, type TestCloud, until } from './lib/cloud.ts';
import { startTwoBackendCloud, type TwoBackendCloud } from './lib/block-storage-backends.ts';

describe('block storage: migration between backends', () => {
  let b: TwoBackendCloud;
  let c: TestCloud;
  let alice: { project: string; token: string };
  const cinder: TwoBackendCloud['cinder'] = (...a) => b.cinder(...a);
  const show = async (id: string) => (await cinder('GET', `/volumes/${id}`)).body.volume;
  const waitStatus = (id: string, status: string) =>
    until(`volume ${id} ${status}`, async () => {
      const v = await show(id);
      if (v?.status === 'error' && status !== 'error') throw new Error(`volume ${id} went to error`);
      return v?.status === status ? v : null;
    });
  const fileOf = (v: { id: string }, backend: string) => path.join(b.volumeDir(backend), `volume-${v.id}`);
  const typeFor = (backend: string) => b.typeFor(backend);
  const writePattern = (file: string) => {
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.alloc(65536, 0xc3), 0, 65536, 3 * 1024 * 1024);
    fs.closeSync(fd);
  };
  const hasPattern = (file: string) => {
    const fd = fs.openSync(file, 'r');
    const b = Buffer.alloc(65536);
    fs.readSync(fd, b, 0, b.length, 3 * 1024 * 1024);
    fs.closeSync(fd);
    return b.every((x) => x === 0xc3);
  };

  before(async () => {
    b = await startTwoBackendCloud('stratus-migrate-');
    c = b.c;
    alice = await member(c, 'alice');
  });
  after(async () => {
    await b?.stop();
  });

  it('runs a volume service per backend, each with its pool', async () => {
    assert.deepEqual(b.backends, ['storage-1@lvm1', 'storage-1@lvm2']);
    const pools = await cinder('GET', '/scheduler-stats/get_pools');
    assert.deepEqual(pools.body.pools.map((p: { name: string }) => p.name).sort(), [
      'storage-1@lvm1#lvm1',
      'storage-1@lvm2#lvm2',
    ]);
  });

  it('migrates an available volume to the other backend with its bytes (os-migrate_volume)', async () => {
    const t1 = await typeFor('lvm1');
    const created = await cinder('POST', '/volumes', { volume: { size: 1, name: 'mig-1', volume_type: t1.name } });
    const id = created.body.volume.id as string;
    const v = await waitStatus(id, 'available');
    assert.equal(v['os-vol-host-attr:host'], 'storage-1@lvm1#lvm1');
    writePattern(fileOf(v, 'lvm1'));

    // Cinder's refusals.
    const same = await cinder('POST', `/volumes/${id}/action`, { 'os-migrate_volume': { host: 'storage-1@lvm1' } });
    assert.equal(same.status, 400);
    assert.match(same.body.badRequest.message, /Destination host must be different than the current host/);
    const nowhere = await cinder('POST', `/volumes/${id}/action`, { 'os-migrate_volume': { host: 'nowhere@x' } });
    assert.equal(nowhere.status, 400);
    assert.match(nowhere.body.badRequest.message, /No available service named 'nowhere@x'/);
    const noHost = await cinder('POST', `/volumes/${id}/action`, { 'os-migrate_volume': {} });
    assert.equal(noHost.status, 400);
    const byMember = await cinder(
      'POST',
      `/volumes/${id}/action`,
      { 'os-migrate_volume': { host: 'storage-1@lvm2' } },
      { token: alice.token, project: alice.project },
    );
    assert.ok([403, 404].includes(byMember.status));
    const notMid = await cinder('POST', `/volumes/${id}/action`, {
      'os-migrate_volume_completion': { new_volume: id },
    });
    assert.equal(notMid.status, 400);
    assert.match(notMid.body.badRequest.message, /Source volume not mid-migration/);
    const snap = await cinder('POST', '/snapshots', { snapshot: { volume_id: id } });
    await until(
      'snapshot',
      async () => (await cinder('GET', `/snapshots/${snap.body.snapshot.id}`)).body.snapshot.status === 'available',
    );
    const withSnap = await cinder('POST', `/volumes/${id}/action`, { 'os-migrate_volume': { host: 'storage-1@lvm2' } });
    assert.equal(withSnap.status, 400);
    assert.match(withSnap.body.badRequest.message, /must not have snapshots/);
    await cinder('DELETE', `/snapshots/${snap.body.snapshot.id}`);
    await until(
      'snapshot gone',
      async () => (await cinder('GET', `/snapshots/${snap.body.snapshot.id}`)).status === 404,
    );

    // The volume's type names lvm1: the destination's filters refuse it → migration_status error.
    const refused = await cinder('POST', `/volumes/${id}/action`, { 'os-migrate_volume': { host: 'storage-1@lvm2' } });
    assert.equal(refused.status, 202);
    const afterRefusal = await show(id);
    assert.equal(afterRefusal.migration_status, 'error');
    assert.equal(afterRefusal.status, 'available');

    // A volume of an untyped-backend type moves.
    const plain = await cinder('POST', '/volumes', { volume: { size: 1, name: 'mig-2' } });
    const pid = plain.body.volume.id as string;
    const pv = await waitStatus(pid, 'available');
    const from = pv['os-vol-host-attr:host'] as string;
    const to = from.startsWith('storage-1@lvm1') ? 'storage-1@lvm2' : 'storage-1@lvm1';
    writePattern(fileOf(pv, from.includes('lvm1') ? 'lvm1' : 'lvm2'));
    const mig = await cinder('POST', `/volumes/${pid}/action`, {
      'os-migrate_volume': { host: to, force_host_copy: false, lock_volume: true },
    });
    assert.equal(mig.status, 202, JSON.stringify(mig.body));
    const moved = await until('migrated', async () => {
      const x = await show(pid);
      if (x.migration_status === 'error') throw new Error('migration failed');
      return x.migration_status === 'success' ? x : null;
    });
    assert.equal(moved.id, pid);
    assert.equal(moved.status, 'available');
    assert.equal(moved['os-vol-host-attr:host'], `${to}#${to.split('@')[1]}`);
    assert.equal(moved['os-vol-mig-status-attr:migstat'], 'success');
    // The volume keeps its id; its bytes are in the other backend's directory (under the copy's file name).
    const dir = b.volumeDir(to.endsWith('lvm1') ? 'lvm1' : 'lvm2');
    const files = fs.readdirSync(dir).filter((f) => f.startsWith('volume-'));
    assert.ok(
      files.some((f) => hasPattern(path.join(dir, f))),
      'the bytes moved',
    );
    const oldFile = fileOf(pv, from.includes('lvm1') ? 'lvm1' : 'lvm2');
    await until('the old bytes are gone', async () => !fs.existsSync(oldFile));
    // The temporary copy's row is gone: one volume named mig-2.
    await until('one mig-2', async () => {
      const l = await cinder('GET', '/volumes?name=mig-2&all_tenants=1');
      return l.body.volumes.length === 1;
    });
    await cinder('DELETE', `/volumes/${pid}`);
    await cinder('DELETE', `/volumes/${id}`);
    await until('deleted', async () => (await cinder('GET', `/volumes/${pid}`)).status === 404);
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => f.startsWith('volume-') && hasPattern(path.join(dir, f))),
      [],
    );
  });

  it('retypes with migration_policy on-demand to the backend of the new type', async () => {
    const t1 = await typeFor('lvm1');
    const t2 = await typeFor('lvm2');
    const created = await cinder('POST', '/volumes', { volume: { size: 1, name: 'retype-1', volume_type: t1.name } });
    const id = created.body.volume.id as string;
    const v = await waitStatus(id, 'available');
    writePattern(fileOf(v, 'lvm1'));
    const never = await cinder('POST', `/volumes/${id}/action`, { 'os-retype': { new_type: t2.name } });
    assert.equal(never.status, 400);
    assert.match(never.body.badRequest.message, /migration policy/);
    const r = await cinder('POST', `/volumes/${id}/action`, {
      'os-retype': { new_type: t2.name, migration_policy: 'on-demand' },
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const done = await until('retyped', async () => {
      const x = await show(id);
      if (x.migration_status === 'error') throw new Error('retype migration failed');
      return x.volume_type === t2.name ? x : null;
    });
    // Everything changes at once, as tempest reads it right after the type changed.
    assert.equal(done.migration_status, 'success');
    assert.equal(done['os-vol-host-attr:host'], 'storage-1@lvm2#lvm2');
    assert.equal(done.status, 'available');
    assert.equal(done.name, 'retype-1');
    const dir = b.volumeDir('lvm2');
    assert.ok(fs.readdirSync(dir).some((f) => hasPattern(path.join(dir, f))));
    await until('the old bytes are gone', async () => !fs.existsSync(fileOf(v, 'lvm1')));
    await cinder('DELETE', `/volumes/${id}`);
    await until('deleted', async () => (await cinder('GET', `/volumes/${id}`)).status === 404);
  });
});
