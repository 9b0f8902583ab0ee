import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { until, useAdminCloud } from './lib/cloud.ts';

describe('block storage workers cleanup', () => {
  const t = useAdminCloud('stratus-cinder-workers-', { volume: '3.24' });
  const { cinder } = t;
  type Svc = { id: string; host: string; binary: string; cluster_name: null };
  const names = (xs: Svc[]) => xs.map((s) => `${s.binary} ${s.host}`).sort();

  it('sends the cleanup to the services the filters select', async () => {
    assert.equal((await cinder('POST', '/workers/cleanup', {}, '3.23')).status, 404);
    // By default the services that are down: none here.
    const none = await cinder('POST', '/workers/cleanup');
    assert.equal(none.status, 202, JSON.stringify(none.body));
    assert.deepEqual(none.body, { cleaning: [], unavailable: [] });

    const services = (await cinder('GET', '/os-services')).body.services as Array<{ host: string; binary: string }>;
    const volumeHost = services.find((s) => s.binary === 'cinder-volume')!.host;
    const upAll = await cinder('POST', '/workers/cleanup', { is_up: true });
    assert.equal(upAll.status, 202, JSON.stringify(upAll.body));
    const cleaning = names(upAll.body.cleaning);
    assert.ok(cleaning.includes(`cinder-volume ${volumeHost}`), JSON.stringify(upAll.body));
    assert.ok(
      cleaning.some((n) => n.startsWith('cinder-scheduler ')),
      JSON.stringify(upAll.body),
    );
    assert.ok(
      names(upAll.body.unavailable).every((n) => n.startsWith('cinder-backup ')),
      JSON.stringify(upAll.body),
    );
    const onlyVolume = await cinder('POST', '/workers/cleanup', { is_up: 'true', binary: 'cinder-volume' });
    assert.deepEqual(
      names(onlyVolume.body.cleaning),
      names(upAll.body.cleaning).filter((n) => n.startsWith('cinder-volume ')),
    );
    assert.deepEqual((await cinder('POST', '/workers/cleanup', { is_up: true, cluster_name: 'x' })).body, {
      cleaning: [],
      unavailable: [],
    });

    // A resource: its backend, when its status says work was left.
    const v = await cinder('POST', '/volumes', { volume: { size: 1 } });
    const id = v.body.volume.id as string;
    await until('available', async () => (await cinder('GET', `/volumes/${id}`)).body.volume.status === 'available');
    const notPending = await cinder('POST', '/workers/cleanup', { is_up: true, resource_id: id });
    assert.equal(notPending.status, 400);
    assert.match(notPending.body.badRequest.message, /no resource with UUID .* pending cleanup/);
    assert.equal(
      (await cinder('POST', `/volumes/${id}/action`, { 'os-reset_status': { status: 'creating' } })).status,
      202,
    );
    const pending = await cinder('POST', '/workers/cleanup', {
      is_up: true,
      resource_id: id,
      resource_type: 'volume',
    });
    assert.equal(pending.status, 202, JSON.stringify(pending.body));
    assert.deepEqual(names(pending.body.cleaning), [`cinder-volume ${volumeHost.split('#')[0]}`]);
    // The agent's cleanup leaves this run's rows alone: the volume is not touched.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await cinder('GET', `/volumes/${id}`)).body.volume.status, 'creating');
    await cinder('POST', `/volumes/${id}/action`, { 'os-reset_status': { status: 'available' } });

    // Bad input: Cinder's 400s.
    const badType = await cinder('POST', '/workers/cleanup', { resource_type: 'backup' });
    assert.equal(badType.status, 400);
    assert.match(badType.body.badRequest.message, /Resource type backup not valid, must be Volume or Snapshot/);
    assert.equal((await cinder('POST', '/workers/cleanup', { bogus: 1 })).status, 400);
    assert.equal((await cinder('POST', '/workers/cleanup', { is_up: 'maybe' })).status, 400);
    assert.equal((await cinder('POST', '/workers/cleanup', { resource_id: 'not-a-uuid' })).status, 400);
  });
});
