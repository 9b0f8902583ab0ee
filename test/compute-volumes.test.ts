// Volumes in compute against a small fake volume service (test/lib/fake-block-storage.ts, the
// part of Cinder v3 compute calls): os-volume_attachments (attach through the agent and the fake
// driver, the views of 2.70/2.79/2.89, detach, 2.85's update, the admin's swap, Nova's errors, a
// failed attach rolled back), block_device_mapping_v2 (boot from a volume, from an image onto a
// new volume, delete_on_termination at delete, Nova's validation errors), and the os-volumes /
// os-snapshots proxies (to 2.35).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, member, type TestCloud, until } from './lib/cloud.ts';
import { FakeBlockStorage } from './lib/fake-block-storage.ts';
import type { ComputeService } from '../src/compute/service.ts';
import type { FakeDriver } from '../src/compute/drivers/fake.ts';
import { BlockStorageClient } from '../src/core/clients/block-storage.ts';
import type { ServiceSession } from '../src/core/clients/session.ts';

const computeService = (c: TestCloud) =>
  c.cloud.services.find((s) => s.catalogEntry.name === 'compute') as unknown as ComputeService;

describe('compute volumes', () => {
  let c: TestCloud;
  let cinder: FakeBlockStorage;
  let alice: { project: string; token: string };
  let image: string;
  let server: string;
  const nova = (method: string, p: string, body?: unknown, opts: { token?: string; version?: string } = {}) =>
    c.req(method, `${c.url}/compute/v2.1${p}`, body, {
      token: opts.token ?? alice.token,
      headers: { 'OpenStack-API-Version': `compute ${opts.version ?? '2.79'}` },
    });
  const msg = (r: { body: unknown }) => (Object.values((r.body ?? {}) as object)[0] as { message?: string })?.message;
  const show = async (id: string) => (await nova('GET', `/servers/${id}`, undefined, { version: '2.79' })).body.server;
  const waitFor = (id: string, status: string) =>
    until(`server ${id} ${status}`, async () => {
      const s = await show(id);
      if (s?.status === 'ERROR' && status !== 'ERROR')
        throw new Error(`server went to ERROR: ${JSON.stringify(s.fault)}`);
      return s?.status === status && !s['OS-EXT-STS:task_state'] ? s : null;
    });
  const volumeStatus = (id: string, status: string) =>
    until(`volume ${id} ${status}`, () => cinder.volumes.get(id)?.status === status);
  /** The fake driver of the host a server is on now. */
  const driverOf = async (id: string) => {
    const host = (await c.req('GET', `${c.url}/compute/v2.1/servers/${id}`)).body.server['OS-EXT-SRV-ATTR:host'];
    return { host, driver: computeService(c).parts.agents.find((a) => a.host === host)!.driver as FakeDriver };
  };

  before(async () => {
    c = await startCloud({
      configure: (cfg) => {
        cfg.compute = { ...(cfg.compute ?? {}), fakeHosts: 2, fakeLiveMigrationMs: 50, shelvedOffloadTime: 0 };
      },
    });
    cinder = new FakeBlockStorage();
    const url = await cinder.start();
    // The nova service user's client points at the fake volume service (its catalog has none).
    const session = {
      token: async () => 'service-token',
      endpoint: async () => `${url}/v3/service-project`,
    } as unknown as ServiceSession;
    computeService(c).parts.clients.blockStorage = new BlockStorageClient(session);
    alice = await member(c, 'alice');
    const img = await c.req('POST', `${c.url}/image/v2/images`, {
      name: 'cirros',
      disk_format: 'qcow2',
      container_format: 'bare',
      visibility: 'public',
    });
    image = img.body.id;
    await fetch(`${c.url}/image/v2/images/${image}/file`, {
      method: 'PUT',
      headers: { 'X-Auth-Token': c.adminToken, 'Content-Type': 'application/octet-stream' },
      body: new Uint8Array(Buffer.from('fake image')),
    });
    await until('compute node in placement', async () => computeService(c).parts.agent?.ready);
    const r = await nova('POST', '/servers', {
      server: { name: 'vm', imageRef: image, flavorRef: '1', networks: 'none' },
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    server = r.body.server.id;
    await waitFor(server, 'ACTIVE');
  });
  after(async () => {
    await c.stop();
    await cinder.stop();
  });

  it('attaches a volume through the agent (in-use, the driver has its connection info) and lists it', async () => {
    const vol = cinder.addVolume(alice.project, { size: 2 });
    const r = await nova('POST', `/servers/${server}/os-volume_attachments`, {
      volumeAttachment: { volumeId: vol.id, delete_on_termination: true },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.volumeAttachment, {
      id: vol.id,
      serverId: server,
      volumeId: vol.id,
      device: '/dev/vdb',
      tag: null,
      delete_on_termination: true,
    });
    await volumeStatus(vol.id, 'in-use');
    const disks = (await driverOf(server)).driver.volumes(server);
    assert.deepEqual(disks.get('/dev/vdb')?.driver_volume_type, 'file');
    // 2.89: attachment_id and bdm_uuid instead of id.
    const l = await nova('GET', `/servers/${server}/os-volume_attachments`, undefined, { version: '2.89' });
    assert.equal(l.status, 200);
    const att = l.body.volumeAttachments[0];
    assert.equal(att.id, undefined);
    assert.equal(att.volumeId, vol.id);
    assert.ok(att.attachment_id && cinder.attachments.get(att.attachment_id)?.status === 'attached');
    assert.ok(att.bdm_uuid);
    const one = await nova('GET', `/servers/${server}/os-volume_attachments/${vol.id}`, undefined, { version: '2.1' });
    assert.deepEqual(one.body.volumeAttachment, { id: vol.id, volumeId: vol.id, serverId: server, device: '/dev/vdb' });
    const s = await show(server);
    assert.deepEqual(s['os-extended-volumes:volumes_attached'], [{ id: vol.id, delete_on_termination: true }]);
    const detail = await nova('GET', '/servers/detail');
    assert.deepEqual(detail.body.servers[0]['os-extended-volumes:volumes_attached'], [
      { id: vol.id, delete_on_termination: true },
    ]);
    const actions = await nova('GET', `/servers/${server}/os-instance-actions`);
    assert.ok(actions.body.instanceActions.some((a: { action: string }) => a.action === 'attach_volume'));

    // Nova's errors: the same volume again, an unknown one, an unknown attachment.
    const again = await nova('POST', `/servers/${server}/os-volume_attachments`, {
      volumeAttachment: { volumeId: vol.id },
    });
    assert.equal(again.status, 400);
    assert.match(msg(again)!, /already attached/);
    const missing = await nova('POST', `/servers/${server}/os-volume_attachments`, {
      volumeAttachment: { volumeId: '8a1ce3ab-2b3b-4d1e-9f4e-5d16e2f7b0aa' },
    });
    assert.equal(missing.status, 404);
    const bad = await nova('POST', `/servers/${server}/os-volume_attachments`, { volumeAttachment: { volumeId: 'x' } });
    assert.equal(bad.status, 400);
    const none = await nova('GET', `/servers/${server}/os-volume_attachments/8a1ce3ab-2b3b-4d1e-9f4e-5d16e2f7b0aa`);
    assert.equal(none.status, 404);

    // 2.85: delete_on_termination updated; other fields are not mutable.
    const upd = await nova(
      'PUT',
      `/servers/${server}/os-volume_attachments/${vol.id}`,
      { volumeAttachment: { volumeId: vol.id, delete_on_termination: false } },
      { version: '2.85' },
    );
    assert.equal(upd.status, 202, JSON.stringify(upd.body));
    const tagChange = await nova(
      'PUT',
      `/servers/${server}/os-volume_attachments/${vol.id}`,
      { volumeAttachment: { volumeId: vol.id, tag: 'x' } },
      { version: '2.85' },
    );
    assert.equal(tagChange.status, 400);
    assert.equal(msg(tagChange), 'The tag property is not mutable');
    // Before 2.85 an update is the admin's swap.
    const swapByUser = await nova('PUT', `/servers/${server}/os-volume_attachments/${vol.id}`, {
      volumeAttachment: { volumeId: vol.id },
    });
    assert.equal(swapByUser.status, 403);

    const d = await nova('DELETE', `/servers/${server}/os-volume_attachments/${vol.id}`);
    assert.equal(d.status, 202, JSON.stringify(d.body));
    await volumeStatus(vol.id, 'available');
    await until('mapping gone', async () => {
      const l2 = await nova('GET', `/servers/${server}/os-volume_attachments`);
      return l2.body.volumeAttachments.length === 0;
    });
    assert.equal((await driverOf(server)).driver.volumes(server).size, 0);
    const d2 = await nova('DELETE', `/servers/${server}/os-volume_attachments/${vol.id}`);
    assert.equal(d2.status, 404);
  });

  it('swaps a volume (admin): the new one in-use at the same device, the old one available', async () => {
    const a = cinder.addVolume(alice.project, { size: 1 });
    const b = cinder.addVolume(alice.project, { size: 1 });
    assert.equal(
      (await nova('POST', `/servers/${server}/os-volume_attachments`, { volumeAttachment: { volumeId: a.id } })).status,
      200,
    );
    await volumeStatus(a.id, 'in-use');
    const swap = await c.req(
      'PUT',
      `${c.url}/compute/v2.1/servers/${server}/os-volume_attachments/${a.id}`,
      { volumeAttachment: { volumeId: b.id } },
      { headers: { 'OpenStack-API-Version': 'compute 2.79' } },
    );
    assert.equal(swap.status, 202, JSON.stringify(swap.body));
    await volumeStatus(b.id, 'in-use');
    await volumeStatus(a.id, 'available');
    const l = await nova('GET', `/servers/${server}/os-volume_attachments`);
    assert.deepEqual(
      l.body.volumeAttachments.map((x: { volumeId: string; device: string }) => [x.volumeId, x.device]),
      [[b.id, '/dev/vdb']],
    );
    assert.equal((await nova('DELETE', `/servers/${server}/os-volume_attachments/${b.id}`)).status, 202);
    await volumeStatus(b.id, 'available');
  });

  it('rolls a failed attach back: the attachment deleted, the volume available, no mapping', async () => {
    const flavor = await c.req('POST', `${c.url}/compute/v2.1/flavors`, {
      flavor: { name: 'fail-attach', ram: 64, vcpus: 1, disk: 1, id: 'fail-attach' },
    });
    assert.equal(flavor.status, 200, JSON.stringify(flavor.body));
    await c.req('POST', `${c.url}/compute/v2.1/flavors/fail-attach/os-extra_specs`, {
      extra_specs: { 'fake:fail_attach_volume': 'true' },
    });
    const r = await nova('POST', '/servers', {
      server: { name: 'fails', imageRef: image, flavorRef: 'fail-attach', networks: 'none' },
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const id = r.body.server.id;
    await waitFor(id, 'ACTIVE');
    const vol = cinder.addVolume(alice.project);
    const a = await nova('POST', `/servers/${id}/os-volume_attachments`, { volumeAttachment: { volumeId: vol.id } });
    assert.equal(a.status, 200);
    await until('attach rolled back', async () => {
      const l = await nova('GET', `/servers/${id}/os-volume_attachments`);
      return l.body.volumeAttachments.length === 0 && cinder.volumes.get(vol.id)?.status === 'available';
    });
    assert.equal([...cinder.attachments.values()].filter((x) => x.volume_id === vol.id).length, 0);
    assert.equal((await nova('DELETE', `/servers/${id}`)).status, 204);
  });

  it('boots from a volume; the delete detaches it and deletes it (delete_on_termination)', async () => {
    const vol = cinder.addVolume(alice.project, {
      bootable: 'true',
      size: 1,
      volume_image_metadata: { image_id: image, min_ram: '0' },
    });
    const r = await nova('POST', '/servers', {
      server: {
        name: 'bfv',
        imageRef: '',
        flavorRef: '1',
        networks: 'none',
        block_device_mapping_v2: [
          {
            boot_index: 0,
            uuid: vol.id,
            source_type: 'volume',
            destination_type: 'volume',
            delete_on_termination: true,
          },
        ],
      },
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const id = r.body.server.id;
    const s = await waitFor(id, 'ACTIVE');
    assert.equal(s.image, '');
    assert.deepEqual(s['os-extended-volumes:volumes_attached'], [{ id: vol.id, delete_on_termination: true }]);
    assert.equal(cinder.volumes.get(vol.id)?.status, 'in-use');
    assert.equal((await driverOf(id)).driver.volumes(id).get('/dev/vda')?.driver_volume_type, 'file');
    // The root volume cannot be detached.
    const d = await nova('DELETE', `/servers/${id}/os-volume_attachments/${vol.id}`);
    assert.equal(d.status, 400);
    assert.equal(msg(d), 'Cannot detach a root device volume');
    assert.equal((await nova('DELETE', `/servers/${id}`)).status, 204);
    await until('volume deleted with the server', () => !cinder.volumes.has(vol.id));
  });

  it('boots from a volume given in the legacy block_device_mapping (v1) syntax, as in tempest’s attached-migration scenario', async () => {
    const vol = cinder.addVolume(alice.project, {
      bootable: 'true',
      size: 1,
      volume_image_metadata: { image_id: image, min_ram: '0' },
    });
    const legacy = [{ device_name: 'vda', volume_id: vol.id, delete_on_termination: '0' }];
    const both = await nova('POST', '/servers', {
      server: {
        name: 'v1',
        imageRef: '',
        flavorRef: '1',
        networks: 'none',
        block_device_mapping: legacy,
        block_device_mapping_v2: [{ boot_index: 0, uuid: vol.id, source_type: 'volume', destination_type: 'volume' }],
      },
    });
    assert.equal(both.status, 400);
    assert.equal(msg(both), 'Using different block_device_mapping syntaxes is not allowed in the same request.');
    const r = await nova('POST', '/servers', {
      server: { name: 'v1', imageRef: '', flavorRef: '1', networks: 'none', block_device_mapping: legacy },
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const id = r.body.server.id;
    const s = await waitFor(id, 'ACTIVE');
    assert.equal(s.image, '');
    assert.deepEqual(s['os-extended-volumes:volumes_attached'], [{ id: vol.id, delete_on_termination: false }]);
    assert.equal((await nova('DELETE', `/servers/${id}`)).status, 204);
    await until('volume detached at delete', () => cinder.volumes.get(vol.id)?.status === 'available');
  });

  it('boots from an image onto a new volume made in the caller project; kept at delete without delete_on_termination', async () => {
    const r = await nova('POST', '/servers', {
      server: {
        name: 'bfv-image',
        flavorRef: '1',
        networks: 'none',
        block_device_mapping_v2: [
          { boot_index: '0', uuid: image, source_type: 'image', destination_type: 'volume', volume_size: 1 },
          { source_type: 'blank', destination_type: 'volume', volume_size: 2, delete_on_termination: true },
        ],
      },
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const id = r.body.server.id;
    const s = await waitFor(id, 'ACTIVE');
    const attached = s['os-extended-volumes:volumes_attached'] as Array<{ id: string; delete_on_termination: boolean }>;
    assert.equal(attached.length, 2);
    const [root, blank] = attached.map((a) => cinder.volumes.get(a.id)!);
    assert.equal(root!.project, alice.project);
    assert.equal(root!.imageRef, image);
    assert.equal(root!.status, 'in-use');
    assert.equal(blank!.size, 2);
    assert.deepEqual([...(await driverOf(id)).driver.volumes(id).keys()].sort(), ['/dev/vda', '/dev/vdb']);
    assert.equal((await nova('DELETE', `/servers/${id}`)).status, 204);
    await until(
      'blank volume deleted, root kept available',
      () => !cinder.volumes.has(blank!.id) && root!.status === 'available',
    );
  });

  it("refuses bad block device mappings with Nova's errors", async () => {
    const plain = cinder.addVolume(alice.project);
    const create = (bdm: unknown[], extra: Record<string, unknown> = {}) =>
      nova('POST', '/servers', {
        server: { name: 'bad', flavorRef: '1', networks: 'none', block_device_mapping_v2: bdm, ...extra },
      });
    const notBootable = await create([
      { boot_index: 0, uuid: plain.id, source_type: 'volume', destination_type: 'volume' },
    ]);
    assert.equal(notBootable.status, 400);
    assert.equal(msg(notBootable), `Block Device ${plain.id} is not bootable.`);
    const unknown = await create([
      {
        boot_index: 0,
        uuid: '8a1ce3ab-2b3b-4d1e-9f4e-5d16e2f7b0aa',
        source_type: 'volume',
        destination_type: 'volume',
      },
    ]);
    assert.equal(unknown.status, 400);
    assert.match(msg(unknown)!, /^Block Device Mapping is Invalid: failed to get volume/);
    const noBoot = await create([{ uuid: plain.id, source_type: 'volume', destination_type: 'volume', boot_index: 1 }]);
    assert.equal(noBoot.status, 400);
    assert.match(msg(noBoot)!, /Boot sequence/);
    const badDest = await create(
      [
        { source_type: 'image', uuid: image, boot_index: 0, destination_type: 'local' },
        { source_type: 'volume', uuid: plain.id, destination_type: 'invalid' },
      ],
      { imageRef: image },
    );
    assert.equal(badDest.status, 400);
    const many = await create([{ boot_index: 0, uuid: plain.id, source_type: 'volume', destination_type: 'volume' }], {
      min_count: 2,
    });
    assert.equal(many.status, 400);
    assert.equal(cinder.volumes.get(plain.id)?.status, 'available');
  });

  it('snapshots a volume-backed server: a volume snapshot and an image carrying the mapping; a server boots from it', async () => {
    const vol = cinder.addVolume(alice.project, {
      bootable: 'true',
      size: 1,
      volume_image_metadata: { image_id: image, min_ram: '0' },
    });
    const r = await nova('POST', '/servers', {
      server: {
        name: 'bfv-snap',
        imageRef: '',
        flavorRef: '1',
        networks: 'none',
        block_device_mapping_v2: [{ boot_index: 0, uuid: vol.id, source_type: 'volume', destination_type: 'volume' }],
      },
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const id = r.body.server.id;
    await waitFor(id, 'ACTIVE');
    const snap = await nova(
      'POST',
      `/servers/${id}/action`,
      { createImage: { name: 'bfv-image' } },
      { version: '2.45' },
    );
    assert.equal(snap.status, 202, JSON.stringify(snap.body));
    const imageId = snap.body.image_id;
    const img = (await c.req('GET', `${c.url}/image/v2/images/${imageId}`, undefined, { token: alice.token })).body;
    assert.equal(img.status, 'active');
    assert.equal(img.bdm_v2, 'True');
    assert.equal(img.root_device_name, '/dev/vda');
    const mapping = JSON.parse(img.block_device_mapping);
    assert.equal(mapping.length, 1);
    assert.equal(mapping[0].source_type, 'snapshot');
    assert.equal(mapping[0].boot_index, 0);
    const snapshot = cinder.snapshots.get(mapping[0].snapshot_id);
    assert.equal(snapshot?.volume_id, vol.id);
    assert.equal(snapshot?.project, alice.project);
    // A server from that image boots from a new volume of the snapshot.
    const again = await nova('POST', '/servers', {
      server: { name: 'from-snap', imageRef: imageId, flavorRef: '1', networks: 'none' },
    });
    assert.equal(again.status, 202, JSON.stringify(again.body));
    const s2 = await waitFor(again.body.server.id, 'ACTIVE');
    const [root] = s2['os-extended-volumes:volumes_attached'] as Array<{ id: string }>;
    assert.equal(cinder.volumes.get(root!.id)?.snapshot_id, snapshot!.id);
    assert.equal(cinder.volumes.get(root!.id)?.status, 'in-use');
    assert.equal((await nova('DELETE', `/servers/${again.body.server.id}`)).status, 204);
    assert.equal((await nova('DELETE', `/servers/${id}`)).status, 204);
    await volumeStatus(vol.id, 'available');
  });

  it("proxies os-volumes and os-snapshots in Nova's view up to 2.35 (404 from 2.36)", async () => {
    const created = await nova(
      'POST',
      '/os-volumes',
      { volume: { size: 1, display_name: 'data', display_description: 'for data' } },
      { version: '2.35' },
    );
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const v = created.body.volume;
    assert.equal(v.displayName, 'data');
    assert.equal(v.displayDescription, 'for data');
    assert.deepEqual(v.attachments, [{}]);
    assert.equal(cinder.volumes.get(v.id)?.project, alice.project);
    await volumeStatus(v.id, 'available');
    const shown = await nova('GET', `/os-volumes/${v.id}`, undefined, { version: '2.35' });
    assert.equal(shown.body.volume.status, 'available');
    const list = await nova('GET', '/os-volumes/detail', undefined, { version: '2.35' });
    assert.ok(list.body.volumes.some((x: { id: string }) => x.id === v.id));
    // Attached: the attachment names the server and the device.
    assert.equal(
      (await nova('POST', `/servers/${server}/os-volume_attachments`, { volumeAttachment: { volumeId: v.id } })).status,
      200,
    );
    await volumeStatus(v.id, 'in-use');
    const att = (await nova('GET', `/os-volumes/${v.id}`, undefined, { version: '2.35' })).body.volume.attachments[0];
    assert.equal(att.serverId, server);
    assert.equal(att.volumeId, v.id);
    const snap = await nova(
      'POST',
      '/os-snapshots',
      {
        snapshot: { volume_id: v.id, force: true, display_name: 's1' },
      },
      { version: '2.35' },
    );
    assert.equal(snap.status, 200, JSON.stringify(snap.body));
    assert.equal(snap.body.snapshot.volumeId, v.id);
    assert.equal(snap.body.snapshot.displayName, 's1');
    const snaps = await nova('GET', '/os-snapshots/detail', undefined, { version: '2.35' });
    assert.ok(snaps.body.snapshots.some((x: { id: string }) => x.id === snap.body.snapshot.id));
    assert.equal(
      (await nova('DELETE', `/os-snapshots/${snap.body.snapshot.id}`, undefined, { version: '2.35' })).status,
      202,
    );
    assert.equal(
      (await nova('GET', `/os-snapshots/${snap.body.snapshot.id}`, undefined, { version: '2.35' })).status,
      404,
    );
    assert.equal((await nova('GET', '/os-volumes', undefined, { version: '2.36' })).status, 404);
    const bad = await nova('POST', '/os-volumes', { volume: { size: 0 } }, { version: '2.35' });
    assert.equal(bad.status, 400);
    assert.equal(
      (await nova('GET', '/os-volumes/8a1ce3ab-2b3b-4d1e-9f4e-5d16e2f7b0aa', undefined, { version: '2.35' })).status,
      404,
    );
    assert.equal((await nova('DELETE', `/servers/${server}/os-volume_attachments/${v.id}`)).status, 202);
    await volumeStatus(v.id, 'available');
    assert.equal((await nova('DELETE', `/os-volumes/${v.id}`, undefined, { version: '2.35' })).status, 202);
    assert.ok(!cinder.volumes.has(v.id));
  });

  it('moves the volumes with the server: live migration, cold migration, shelve offload and unshelve', async () => {
    const admin = (id: string, action: Record<string, unknown>, version = '2.79') =>
      c.req('POST', `${c.url}/compute/v2.1/servers/${id}/action`, action, {
        headers: { 'OpenStack-API-Version': `compute ${version}` },
      });
    const r = await nova('POST', '/servers', {
      server: { name: 'mover', imageRef: image, flavorRef: '1', networks: 'none' },
    });
    const id = r.body.server.id;
    await waitFor(id, 'ACTIVE');
    const vol = cinder.addVolume(alice.project);
    assert.equal(
      (await nova('POST', `/servers/${id}/os-volume_attachments`, { volumeAttachment: { volumeId: vol.id } })).status,
      200,
    );
    await volumeStatus(vol.id, 'in-use');
    const attachmentOf = () => [...cinder.attachments.values()].filter((a) => a.volume_id === vol.id);
    const connectedOn = async (host: string) => {
      await until(`volume connected on ${host}`, async () => {
        const at = await driverOf(id);
        const atts = attachmentOf();
        return (
          at.host === host &&
          at.driver.volumes(id).has('/dev/vdb') &&
          atts.length === 1 &&
          atts[0]!.status === 'attached' &&
          atts[0]!.connector?.host === host
        );
      });
    };
    const first = (await driverOf(id)).host;
    await connectedOn(first);
    // Live migration: the attachment is the destination's.
    assert.equal((await admin(id, { 'os-migrateLive': { host: null, block_migration: 'auto' } }, '2.30')).status, 202);
    await until(
      'live migrated',
      async () => (await driverOf(id)).host !== first && (await show(id)).status === 'ACTIVE',
    );
    await connectedOn((await driverOf(id)).host);
    // Cold migration, confirmed.
    const second = (await driverOf(id)).host;
    assert.equal((await admin(id, { migrate: null })).status, 202);
    await waitFor(id, 'VERIFY_RESIZE');
    await connectedOn(first);
    assert.equal((await admin(id, { confirmResize: null })).status, 204);
    await waitFor(id, 'ACTIVE');
    // Shelve (offloaded at once): the volume stays the server's, reserved with no host; unshelve connects it again.
    assert.equal((await nova('POST', `/servers/${id}/action`, { shelve: null })).status, 202);
    await waitFor(id, 'SHELVED_OFFLOADED');
    await until('volume reserved without a host', () => {
      const atts = attachmentOf();
      return atts.length === 1 && atts[0]!.connector === null && cinder.volumes.get(vol.id)?.status === 'reserved';
    });
    // A volume attached while offloaded is in-use at once (no host connects it until unshelve).
    const late = cinder.addVolume(alice.project);
    const att = await nova('POST', `/servers/${id}/os-volume_attachments`, { volumeAttachment: { volumeId: late.id } });
    assert.equal(att.status, 200, JSON.stringify(att.body));
    assert.equal(att.body.volumeAttachment.device, null);
    await volumeStatus(late.id, 'in-use');
    assert.equal((await nova('POST', `/servers/${id}/action`, { unshelve: null })).status, 202);
    await waitFor(id, 'ACTIVE');
    await connectedOn((await driverOf(id)).host);
    const lateAtt = [...cinder.attachments.values()].find((a) => a.volume_id === late.id)!;
    assert.equal(lateAtt.connector?.host, (await driverOf(id)).host);
    assert.equal(lateAtt.status, 'attached');
    assert.ok((await driverOf(id)).driver.volumes(id).has('/dev/vdc'));
    assert.ok([first, second].includes((await driverOf(id)).host));
    assert.equal((await nova('DELETE', `/servers/${id}`)).status, 204);
    await volumeStatus(vol.id, 'available');
    await volumeStatus(late.id, 'available');
  });

  it('rebuilds a volume-backed server: the same image before 2.93, another one written onto the volume from 2.93', async () => {
    const vol = cinder.addVolume(alice.project, {
      bootable: 'true',
      size: 1,
      volume_image_metadata: { image_id: image, min_ram: '0' },
    });
    const r = await nova('POST', '/servers', {
      server: {
        name: 'bfv-rebuild',
        imageRef: '',
        flavorRef: '1',
        networks: 'none',
        block_device_mapping_v2: [{ boot_index: 0, uuid: vol.id, source_type: 'volume', destination_type: 'volume' }],
      },
    });
    const id = r.body.server.id;
    await waitFor(id, 'ACTIVE');
    const other = (
      await c.req('POST', `${c.url}/image/v2/images`, {
        name: 'other',
        disk_format: 'raw',
        container_format: 'bare',
        visibility: 'public',
      })
    ).body.id;
    await fetch(`${c.url}/image/v2/images/${other}/file`, {
      method: 'PUT',
      headers: { 'X-Auth-Token': c.adminToken, 'Content-Type': 'application/octet-stream' },
      body: new Uint8Array(Buffer.from('other image')),
    });
    const old = await nova('POST', `/servers/${id}/action`, { rebuild: { imageRef: other } }, { version: '2.92' });
    assert.equal(old.status, 400);
    assert.equal(msg(old), 'Unable to rebuild with a different image for a volume-backed server.');
    // The same image: the guest is made again, its volume plugged back.
    const same = await nova('POST', `/servers/${id}/action`, { rebuild: { imageRef: image } }, { version: '2.92' });
    assert.equal(same.status, 202, JSON.stringify(same.body));
    await waitFor(id, 'ACTIVE');
    assert.ok((await driverOf(id)).driver.volumes(id).has('/dev/vda'));
    // 2.93: the volume service re-images the volume and tells compute (volume-reimaged).
    cinder.onReimage = (v) => {
      void c.req(
        'POST',
        `${c.url}/compute/v2.1/os-server-external-events`,
        { events: [{ name: 'volume-reimaged', server_uuid: id, tag: v.id, status: 'completed' }] },
        { headers: { 'OpenStack-API-Version': 'compute 2.93' } },
      );
    };
    const re = await nova('POST', `/servers/${id}/action`, { rebuild: { imageRef: other } }, { version: '2.93' });
    assert.equal(re.status, 202, JSON.stringify(re.body));
    const s = await waitFor(id, 'ACTIVE');
    assert.equal(s.image, '');
    assert.equal(cinder.volumes.get(vol.id)?.imageRef, other);
    assert.ok(cinder.calls.includes(`POST /volumes/${vol.id}/action`));
    assert.ok((await driverOf(id)).driver.volumes(id).has('/dev/vda'));
    assert.equal((await nova('DELETE', `/servers/${id}`)).status, 204);
  });
});
