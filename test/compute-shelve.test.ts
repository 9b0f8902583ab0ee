// Guest actions with the fake driver: createImage (a snapshot in the image service with Nova's
// properties and data), createBackup with rotation, shelve / offload / unshelve, rescue /
// unrescue, changePassword, trigger_crash_dump, and the deferred delete (soft delete, restore,
// forceDelete, reclaim) — states, instance actions and notifications.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ApiImage, InstanceAction } from './lib/api-types.ts';
import { startCloud, databaseEngines, type TestCloud, until } from './lib/cloud.ts';
import type { ComputeService } from '../src/compute/service.ts';

for (const engine of databaseEngines('guest actions'))
  describe(`guest actions (${engine.name})`, () => {
    let c: TestCloud;
    let svc: ComputeService;
    let imageId: string;
    const events: string[] = [];
    const nova = (method: string, p: string, body?: unknown, version = '2.93') =>
      c.req(method, `${c.url}/compute/v2.1${p}`, body, { headers: { 'OpenStack-API-Version': `compute ${version}` } });
    const glance = (method: string, p: string, body?: unknown) => c.req(method, `${c.url}/image/v2${p}`, body);
    const action = (id: string, body: unknown, version?: string) =>
      nova('POST', `/servers/${id}/action`, body, version);
    const show = async (id: string) => (await nova('GET', `/servers/${id}`)).body.server;
    const status = (id: string, want: string) =>
      until(`${id} ${want}`, async () => {
        const s = await show(id);
        return s?.status === want && !s['OS-EXT-STS:task_state'] && s;
      });
    const boot = async (name: string) => {
      const r = await nova('POST', '/servers', {
        server: { name, imageRef: imageId, flavorRef: '1', networks: 'none' },
      });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      await status(r.body.server.id, 'ACTIVE');
      return r.body.server.id as string;
    };

    before(async () => {
      c = await startCloud({
        database: engine.database,
        configure: (cfg) => {
          cfg.compute = { ...(cfg.compute ?? {}), reclaimInstanceInterval: 1 };
        },
      });
      svc = c.cloud.services.find((s) => s.catalogEntry.name === 'compute') as unknown as ComputeService;
      svc.ctx.bus.onNotification('instance.', (n: { event_type: string }) => {
        events.push(n.event_type);
      });
      const img = await glance('POST', '/images', {
        name: 'base',
        disk_format: 'raw',
        container_format: 'bare',
        visibility: 'public',
        os_distro: 'debian',
        min_ram: 64,
      });
      assert.equal(img.status, 201, JSON.stringify(img.body));
      imageId = img.body.id;
      await fetch(`${c.url}/image/v2/images/${imageId}/file`, {
        method: 'PUT',
        headers: { 'X-Auth-Token': c.adminToken, 'Content-Type': 'application/octet-stream' },
        body: new Uint8Array(Buffer.from('tiny')),
      });
      await until('compute node', async () => svc.parts.agent?.ready);
    });
    after(async () => {
      await c.stop();
    });

    it("createImage: an active snapshot with Nova's properties, task states back to none, Location before 2.45", async () => {
      const id = await boot('snap');
      const r = await action(id, { createImage: { name: 'snap-1', metadata: { purpose: 'test' } } });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      const image = r.body.image_id as string;
      const active = await until('snapshot active', async () => {
        const g = await glance('GET', `/images/${image}`);
        return g.body.status === 'active' && g.body;
      });
      assert.equal(active.image_type, 'snapshot');
      assert.equal(active.instance_uuid, id);
      assert.equal(active.base_image_ref, imageId);
      assert.equal(active.os_distro, 'debian');
      assert.equal(active.purpose, 'test');
      assert.equal(active.min_ram, 64);
      assert.equal(active.min_disk, 1);
      assert.equal(active.disk_format, 'qcow2');
      assert.equal(active.visibility, 'private');
      assert.ok(active.size > 0);
      await status(id, 'ACTIVE');
      const old = await action(id, { createImage: { name: 'snap-2' } }, '2.44');
      assert.equal(old.status, 202);
      assert.match(old.headers.get('location') ?? '', /\/images\/[0-9a-f-]{36}$/);
      await status(id, 'ACTIVE');
      const actions = (await nova('GET', `/servers/${id}/os-instance-actions`)).body.instanceActions.map(
        (a: InstanceAction) => a.action,
      );
      assert.ok(actions.includes('createImage'));
      await until(
        'snapshot notifications',
        async () => events.includes('instance.snapshot.start') && events.includes('instance.snapshot.end'),
      );
      // Bad input and wrong state.
      assert.equal((await action(id, { createImage: {} })).status, 400);
      assert.equal((await action(id, { createImage: { name: 'x', extra: 1 } })).status, 400);
      assert.equal((await action(id, { 'os-stop': null })).status, 202);
      await status(id, 'SHUTOFF');
      assert.equal((await action(id, { 'os-resetState': { state: 'error' } })).status, 202);
      const bad = await action(id, { createImage: { name: 'err' } });
      assert.equal(bad.status, 409);
      assert.match(
        bad.body.conflictingRequest.message,
        /Cannot 'createImage' instance .* while it is in vm_state error/,
      );
    });

    it('createBackup rotates: only the newest `rotation` backups of a type stay', async () => {
      const id = await boot('bak');
      const ids: string[] = [];
      for (let n = 0; n < 3; n++) {
        const r = await action(id, { createBackup: { name: `b${n}`, backup_type: 'daily', rotation: '2' } });
        assert.equal(r.status, 202, JSON.stringify(r.body));
        ids.push(r.body.image_id);
        await status(id, 'ACTIVE');
        await until(
          'backup active',
          async () => (await glance('GET', `/images/${r.body.image_id}`)).body.status === 'active',
        );
      }
      await until(
        'rotation',
        async () => (await glance('GET', `/images?instance_uuid=${id}&image_type=backup`)).body.images.length === 2,
      );
      const left = (await glance('GET', `/images?instance_uuid=${id}`)).body.images.map((i: ApiImage) => i.id).sort();
      assert.deepEqual(left, ids.slice(1).sort());
      assert.equal((await glance('GET', `/images/${ids[1]}`)).body.backup_type, 'daily');
      assert.equal((await action(id, { createBackup: { name: 'b', backup_type: 'daily', rotation: -1 } })).status, 400);
      assert.equal((await action(id, { createBackup: { name: 'b', backup_type: 'daily' } })).status, 400);
    });

    it('shelve offloads at once (shelved_offload_time 0), unshelve places it again and deletes the shelved image', async () => {
      const id = await boot('shelf');
      assert.equal((await action(id, { shelve: null })).status, 202);
      const s = await status(id, 'SHELVED_OFFLOADED');
      assert.equal(s['OS-EXT-SRV-ATTR:host'], null);
      const inst = (await svc.parts.store.get(id))!;
      const shelvedImage = inst.system_metadata.shelved_image_id as string;
      assert.ok(shelvedImage);
      assert.ok(inst.system_metadata.shelved_at);
      assert.equal(inst.system_metadata.shelved_host, svc.parts.agent!.host);
      const img = await glance('GET', `/images/${shelvedImage}`);
      assert.equal(img.body.name, 'shelf-shelved');
      assert.equal(img.body.status, 'active');
      const alloc = await until('allocations freed', async () => {
        const a = await c.req('GET', `${c.url}/placement/allocations/${id}`);
        return Object.keys(a.body.allocations ?? {}).length === 0 && a;
      });
      assert.ok(alloc);
      // Bad requests: unshelve {} (2.77), AZ that does not exist, host that does not exist (2.91).
      assert.equal((await action(id, { unshelve: {} }, '2.77')).status, 400);
      assert.equal((await action(id, { unshelve: { availability_zone: 'nowhere' } }, '2.77')).status, 400);
      assert.equal((await action(id, { unshelve: { host: 'nohost' } }, '2.91')).status, 400);
      assert.equal((await action(id, { shelve: null })).status, 409);
      assert.equal((await action(id, { unshelve: null })).status, 202);
      const back = await status(id, 'ACTIVE');
      assert.equal(back['OS-EXT-SRV-ATTR:host'], svc.parts.agent!.host);
      assert.equal(back.image.id, imageId);
      await until('shelved image deleted', async () => (await glance('GET', `/images/${shelvedImage}`)).status === 404);
      const after = (await svc.parts.store.get(id))!;
      assert.equal(after.system_metadata.shelved_image_id, undefined);
      const a = await c.req('GET', `${c.url}/placement/allocations/${id}`);
      assert.equal(Object.keys(a.body.allocations).length, 1);
      const actions = (await nova('GET', `/servers/${id}/os-instance-actions`)).body.instanceActions.map(
        (x: InstanceAction) => x.action,
      );
      assert.ok(actions.includes('shelve') && actions.includes('unshelve'));
      for (const e of [
        'instance.shelve.end',
        'instance.shelve_offload.end',
        'instance.unshelve.start',
        'instance.unshelve.end',
      ])
        await until(e, async () => events.includes(e));
      // 2.91: unshelve to a named host with the AZ unpinned.
      assert.equal((await action(id, { shelve: null })).status, 202);
      await status(id, 'SHELVED_OFFLOADED');
      assert.equal(
        (await action(id, { unshelve: { host: svc.parts.agent!.host, availability_zone: null } }, '2.91')).status,
        202,
      );
      await status(id, 'ACTIVE');
    });

    it('rescue answers adminPass and makes RESCUE; unrescue goes back to ACTIVE', async () => {
      const id = await boot('resc');
      const r = await action(id, { rescue: { adminPass: 'secret-pass' } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.adminPass, 'secret-pass');
      await status(id, 'RESCUE');
      assert.equal((await action(id, { rescue: null })).status, 409);
      assert.equal((await action(id, { unrescue: null })).status, 202);
      await status(id, 'ACTIVE');
      const gen = await action(id, { rescue: null });
      assert.equal(typeof gen.body.adminPass, 'string');
      await status(id, 'RESCUE');
      assert.equal((await action(id, { unrescue: null })).status, 202);
      await status(id, 'ACTIVE');
      assert.equal((await action(id, { unrescue: null })).status, 409);
      assert.equal(
        (await action(id, { rescue: { rescue_image_ref: '00000000-0000-0000-0000-000000000000' } })).body.badRequest
          .message,
        "Requested rescue image '00000000-0000-0000-0000-000000000000' is not supported",
      );
      await until(
        'rescue notifications',
        async () => events.includes('instance.rescue.end') && events.includes('instance.unrescue.end'),
      );
    });

    it("stable device rescue: an image with hw_rescue_bus keeps the server's disk and adds the rescue disk on that bus", async () => {
      const id = await boot('stable');
      const img = await glance('POST', '/images', {
        name: 'rescue',
        disk_format: 'raw',
        container_format: 'bare',
        hw_rescue_device: 'disk',
        hw_rescue_bus: 'scsi',
      });
      assert.equal(img.status, 201, JSON.stringify(img.body));
      await fetch(`${c.url}/image/v2/images/${img.body.id}/file`, {
        method: 'PUT',
        headers: { 'X-Auth-Token': c.adminToken, 'Content-Type': 'application/octet-stream' },
        body: new Uint8Array(Buffer.from('rescue')),
      });
      assert.equal((await action(id, { rescue: { rescue_image_ref: img.body.id } }, '2.87')).status, 200);
      await status(id, 'RESCUE');
      const console = async () => (await action(id, { 'os-getConsoleOutput': { length: 20 } })).body.output as string;
      assert.match(await console(), /root=\/dev\/sda1 /);
      assert.equal((await nova('GET', `/servers/${id}/diagnostics`, undefined, '2.48')).body.disk_details.length, 2);
      assert.equal((await action(id, { unrescue: null })).status, 202);
      await status(id, 'ACTIVE');
      assert.match((await console()).split('Linux version').pop()!, /root=\/dev\/vda1 /);
      assert.equal((await nova('GET', `/servers/${id}/diagnostics`, undefined, '2.48')).body.disk_details.length, 1);
    });

    it('changePassword: 202 when running, 409 when stopped; trigger_crash_dump from 2.17', async () => {
      const id = await boot('pw');
      assert.equal((await action(id, { changePassword: { adminPass: 'new-pass' } })).status, 202);
      assert.equal((await show(id))['OS-EXT-STS:task_state'], null);
      assert.equal((await action(id, { changePassword: {} })).status, 400);
      assert.equal((await action(id, { trigger_crash_dump: null })).status, 202);
      assert.equal((await action(id, { trigger_crash_dump: null }, '2.16')).status, 404);
      await until('crash dump in the console', async () =>
        /NMI/.test((await action(id, { 'os-getConsoleOutput': {} })).body.output),
      );
      assert.equal((await action(id, { 'os-stop': null })).status, 202);
      await status(id, 'SHUTOFF');
      const r = await action(id, { changePassword: { adminPass: 'x' } });
      assert.equal(r.status, 409);
      assert.equal((await action(id, { trigger_crash_dump: null })).status, 409);
    });

    it('deferred delete: SOFT_DELETED, restore, forceDelete, and the reclaim of the expired', async () => {
      const id = await boot('soft');
      assert.equal((await nova('DELETE', `/servers/${id}`)).status, 204);
      await status(id, 'SOFT_DELETED');
      assert.equal((await show(id))['OS-EXT-STS:power_state'], 4);
      assert.equal((await action(id, { restore: null })).status, 202);
      await status(id, 'ACTIVE');
      assert.equal((await action(id, { restore: null })).status, 409);
      assert.equal((await nova('DELETE', `/servers/${id}`)).status, 204);
      await status(id, 'SOFT_DELETED');
      assert.equal((await action(id, { forceDelete: null })).status, 202);
      await until('deleted', async () => (await nova('GET', `/servers/${id}`)).status === 404);
      // Left alone, a soft-deleted server is reclaimed after the interval (1 s here).
      const other = await boot('reclaimed');
      assert.equal((await nova('DELETE', `/servers/${other}`)).status, 204);
      await status(other, 'SOFT_DELETED');
      await until('reclaimed', async () => (await nova('GET', `/servers/${other}`)).status === 404, 10000);
      await until(
        'soft delete notifications',
        async () => events.includes('instance.soft_delete.end') && events.includes('instance.restore.end'),
      );
    });
  });

// The spawn step the build and unshelve share (Conductor.spawnOn): a real hypervisor's spawn gets
// the build's longer wait (unshelve had the bus's 60 s default), the fake driver the default; a
// host that does not answer is one the flow may replace, an agent's failure is its own.
describe('the spawn step of builds and unshelves', () => {
  it('waits as long as a real spawn may take, and turns failures into BuildFailures', async () => {
    const { Conductor, BuildFailure } = await import('../src/compute/worker/conductor.ts');
    const calls: Array<{ to: string; method: string; timeoutMs?: number }> = [];
    let answer: () => Promise<unknown> = async () => ({ ok: true });
    const bus = {
      call: (to: string, method: string, _args: unknown, _ctx: unknown, timeoutMs?: number) => {
        calls.push({ to, method, timeoutMs });
        return answer();
      },
    };
    const conductorWith = (driver: string) =>
      new Conductor(
        null as never,
        null as never,
        bus as never,
        { driver, vifPluggingTimeout: 300, libvirt: { bootTimeout: 180 } } as never,
        null as never,
      );
    const lv = conductorWith('libvirt');
    await lv.spawnOn('h1', (agent) => agent.unshelve_instance({ uuid: 'u', request_id: 'r', image: null }));
    await lv.spawnOn('h1', (agent) => agent.build_and_run_instance({ uuid: 'u', request_id: 'r' }));
    assert.deepEqual(calls, [
      { to: 'compute.h1', method: 'unshelve_instance', timeoutMs: 600_000 },
      { to: 'compute.h1', method: 'build_and_run_instance', timeoutMs: 600_000 },
    ]);
    await conductorWith('fake').spawnOn('h2', (agent) => agent.build_and_run_instance({ uuid: 'u', request_id: 'r' }));
    assert.equal(calls[2]!.timeoutMs, undefined);
    answer = async () => {
      throw new Error('timed out');
    };
    const down = await lv
      .spawnOn('h3', (agent) => agent.unshelve_instance({ uuid: 'u', request_id: 'r', image: null }))
      .catch((e) => e);
    assert.ok(down instanceof BuildFailure);
    assert.equal(down.reschedule, true);
    assert.equal(down.host, 'h3');
    assert.match(down.message, /^Compute host h3 did not answer: timed out/);
    answer = async () => ({ ok: false, message: 'no room', reschedule: false });
    const failed = await lv
      .spawnOn('h4', (agent) => agent.unshelve_instance({ uuid: 'u', request_id: 'r', image: null }))
      .catch((e) => e);
    assert.ok(failed instanceof BuildFailure);
    assert.equal(failed.message, 'no room');
    assert.equal(failed.reschedule, false);
  });
});
