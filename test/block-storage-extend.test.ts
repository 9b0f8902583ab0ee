// An attached volume extended (3.42): block storage grows it, tells compute `volume-extended`
// (os-server-external-events 2.51), and compute records the `extend_volume` action with its
// `compute_extend_volume` event, as tempest's VolumesExtendAttachedTest waits for.
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { until, useAdminCloud } from './lib/cloud.ts';

describe('block storage: extend an attached volume', () => {
  const t = useAdminCloud('stratus-cinder-extend-', { volume: '3.42', compute: '2.79' });
  const { cinder, nova } = t;
  const volume = (id: string, status: string) =>
    until(`volume ${id} ${status}`, async () => {
      const v = (await cinder('GET', `/volumes/${id}`)).body.volume;
      return v?.status === status ? v : null;
    });

  it('grows the volume, and compute records extend_volume / compute_extend_volume', async () => {
    const img = await t.c.req('POST', `${t.c.url}/image/v2/images`, {
      name: 'tiny',
      disk_format: 'raw',
      container_format: 'bare',
      visibility: 'public',
    });
    await fetch(`${t.c.url}/image/v2/images/${img.body.id}/file`, {
      method: 'PUT',
      headers: { 'X-Auth-Token': t.c.adminToken, 'Content-Type': 'application/octet-stream' },
      body: new Uint8Array(Buffer.alloc(1024)),
    });
    const s = await nova('POST', '/servers', {
      server: { name: 'vm', imageRef: img.body.id, flavorRef: '1', networks: 'none' },
    });
    assert.equal(s.status, 202, JSON.stringify(s.body));
    const server = s.body.server.id;
    await until('server ACTIVE', async () => {
      const x = (await nova('GET', `/servers/${server}`)).body.server;
      if (x?.status === 'ERROR') throw new Error(JSON.stringify(x.fault));
      return x?.status === 'ACTIVE' && !x['OS-EXT-STS:task_state'];
    });
    const v = (await cinder('POST', '/volumes', { volume: { size: 1 } })).body.volume;
    await volume(v.id, 'available');
    const a = await nova('POST', `/servers/${server}/os-volume_attachments`, { volumeAttachment: { volumeId: v.id } });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    await volume(v.id, 'in-use');
    const refused = await cinder('POST', `/volumes/${v.id}/action`, { 'os-extend': { new_size: 2 } }, '3.41');
    assert.equal(refused.status, 400);
    const x = await cinder('POST', `/volumes/${v.id}/action`, { 'os-extend': { new_size: 2 } });
    assert.equal(x.status, 202, JSON.stringify(x.body));
    const grown = await volume(v.id, 'in-use');
    await until('size 2', async () => (await cinder('GET', `/volumes/${v.id}`)).body.volume.size === 2);
    assert.equal(grown.attachments.length, 1);
    assert.equal(fs.statSync(path.join(t.c.dataDir, 'volumes', `volume-${v.id}`)).size, 2 * 1024 ** 3);
    const ev = await until('compute_extend_volume', async () => {
      const acts = (await nova('GET', `/servers/${server}/os-instance-actions`)).body.instanceActions;
      const act = acts.find((y: { action: string }) => y.action === 'extend_volume');
      if (!act) return null;
      const d = (await nova('GET', `/servers/${server}/os-instance-actions/${act.request_id}`)).body.instanceAction;
      return (
        d.events.find(
          (e: { event: string; finish_time: string | null }) => e.event === 'compute_extend_volume' && e.finish_time,
        ) ?? null
      );
    });
    assert.equal(ev.result, 'Success');
    await nova('DELETE', `/servers/${server}`);
  });
});
