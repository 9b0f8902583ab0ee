// Server moves between the fake hosts of one process (compute.fakeHosts): several agents each
// with their own service, compute node and placement provider; anti-affinity spreads over them.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type {
  ActionEvent,
  ApiServer,
  ComputeServiceRow,
  Hypervisor,
  InstanceAction,
  Migration,
} from './lib/api-types.ts';
import { startCloud, databaseEngines, member, type TestCloud, until, serviceApi, untilServer } from './lib/cloud.ts';
import type { Instance } from '../src/compute/instances.ts';
import { computeService } from './lib/services.ts';

for (const engine of databaseEngines('compute moves')) {
  describe(`compute moves (${engine.name})`, () => {
    let c: TestCloud;
    let alice: { project: string; token: string };
    let image: string;
    let network: string;
    let hosts: string[];
    const nova = serviceApi(() => c, '/compute/v2.1', 'compute', '2.93');
    const placement = serviceApi(() => c, '/placement', 'placement', '1.36');
    const neutron = (method: string, p: string, body?: unknown) => c.req(method, `${c.url}/networking${p}`, body);
    const server = async (id: string) => (await nova('GET', `/servers/${id}`)).body.server;
    const waitFor = (id: string, status: string, opts: { task?: boolean } = {}) =>
      untilServer(server, id, status, { anyTask: opts.task });
    const boot = async (body: Record<string, unknown> = {}, token?: string) => {
      const r = await nova(
        'POST',
        '/servers',
        { server: { name: 'vm', imageRef: image, flavorRef: '1', networks: [{ uuid: network }], ...body } },
        { token },
      );
      assert.equal(r.status, 202, JSON.stringify(r.body));
      return r.body.server.id as string;
    };
    const allocations = async (consumer: string) => {
      const a = (await placement('GET', `/allocations/${consumer}`)).body.allocations as Record<
        string,
        { resources: Record<string, number> }
      >;
      return a;
    };
    const providerOf = async (host: string) =>
      (await placement('GET', `/resource_providers?name=${host}`)).body.resource_providers[0].uuid as string;

    before(async () => {
      c = await startCloud({
        database: engine.database,
        configure: (cfg) => {
          cfg.compute = { ...(cfg.compute ?? {}), fakeHosts: 3, fakeLiveMigrationMs: 400 };
        },
      });
      alice = await member(c, 'alice');
      const svc = computeService(c);
      const r = await c.req('POST', `${c.url}/image/v2/images`, {
        name: 'cirros',
        disk_format: 'qcow2',
        container_format: 'bare',
        visibility: 'public',
      });
      const up = await fetch(`${c.url}/image/v2/images/${r.body.id}/file`, {
        method: 'PUT',
        headers: { 'X-Auth-Token': c.adminToken, 'Content-Type': 'application/octet-stream' },
        body: new Uint8Array(Buffer.from('fake image')),
      });
      assert.equal(up.status, 204);
      image = r.body.id;
      const n = await neutron('POST', '/v2.0/networks', { network: { name: 'private', shared: true } });
      network = n.body.network.id;
      await neutron('POST', '/v2.0/subnets', { subnet: { network_id: network, ip_version: 4, cidr: '10.9.0.0/24' } });
      await until('compute nodes in placement', async () => svc.parts.agents.every((a) => a.ready));
      hosts = svc.parts.agents.map((a) => a.host);
    });
    after(async () => {
      await c.stop();
    });

    it('runs one agent per fake host: services, hypervisors and providers', async () => {
      assert.equal(hosts.length, 3);
      assert.equal(hosts[1], `${hosts[0]}-2`);
      const hv = (await nova('GET', '/os-hypervisors/detail')).body.hypervisors;
      assert.deepEqual(hv.map((h: Hypervisor) => h.hypervisor_hostname).sort(), [...hosts].sort());
      const services = (await nova('GET', '/os-services?binary=nova-compute')).body.services;
      assert.deepEqual(services.map((s: ComputeServiceRow) => s.host).sort(), [...hosts].sort());
      for (const h of hosts) assert.ok(await providerOf(h));
    });

    it('spreads an anti-affinity group over the hosts', async () => {
      const g = await nova(
        'POST',
        '/os-server-groups',
        { server_group: { name: 'spread', policy: 'anti-affinity' } },
        { token: alice.token },
      );
      assert.equal(g.status, 200, JSON.stringify(g.body));
      const withHint = [];
      for (let i = 0; i < 3; i++) {
        const r = await c.req(
          'POST',
          `${c.url}/compute/v2.1/servers`,
          {
            server: { name: `g-${i}`, imageRef: image, flavorRef: '1', networks: [{ uuid: network }] },
            'os:scheduler_hints': { group: g.body.server_group.id },
          },
          { token: alice.token, headers: { 'OpenStack-API-Version': 'compute 2.93' } },
        );
        assert.equal(r.status, 202, JSON.stringify(r.body));
        withHint.push(r.body.server.id);
      }
      const placed = [];
      for (const id of withHint) placed.push((await waitFor(id, 'ACTIVE'))['OS-EXT-SRV-ATTR:host']);
      assert.deepEqual([...placed].sort(), [...hosts].sort());
      for (const id of withHint) await nova('DELETE', `/servers/${id}`);
      // One request for three members: built side by side, scheduled in turn.
      const g2 = await nova(
        'POST',
        '/os-server-groups',
        { server_group: { name: 'spread-3', policy: 'anti-affinity' } },
        { token: alice.token },
      );
      const r = await c.req(
        'POST',
        `${c.url}/compute/v2.1/servers`,
        {
          server: {
            name: 'trio',
            imageRef: image,
            flavorRef: '1',
            networks: 'none',
            min_count: 3,
            return_reservation_id: true,
          },
          'os:scheduler_hints': { group: g2.body.server_group.id },
        },
        { token: alice.token, headers: { 'OpenStack-API-Version': 'compute 2.93' } },
      );
      assert.equal(r.status, 202, JSON.stringify(r.body));
      const trio = await until('three members', async () => {
        const l = (
          await nova('GET', `/servers/detail?reservation_id=${r.body.reservation_id}`, undefined, {
            token: alice.token,
          })
        ).body.servers as ApiServer[];
        return l.length === 3 && l.every((x) => x.status === 'ACTIVE') && l;
      });
      const trioHosts = await Promise.all(trio.map(async (x) => (await server(x.id))['OS-EXT-SRV-ATTR:host']));
      assert.deepEqual([...trioHosts].sort(), [...hosts].sort());
      for (const x of trio) await nova('DELETE', `/servers/${x.id}`);
    });

    const act = (id: string, body: unknown, version?: string) =>
      nova('POST', `/servers/${id}/action`, body, { version });
    const hostOf = async (id: string) => (await server(id))['OS-EXT-SRV-ATTR:host'] as string;
    const usedOn = async (consumer: string) =>
      Object.fromEntries(Object.entries(await allocations(consumer)).map(([rp, a]) => [rp, a.resources]));
    const migrationsOf = async (id: string, version = '2.93') =>
      (await nova('GET', `/os-migrations?instance_uuid=${id}`, undefined, { version })).body.migrations as Migration[];

    it('resizes to another flavor: VERIFY_RESIZE with the source held by the migration, then confirm', async () => {
      const id = await boot({ name: 'resize-me' }, alice.token);
      await waitFor(id, 'ACTIVE');
      const source = await hostOf(id);
      // Bad input first.
      assert.equal((await act(id, { resize: { flavorRef: '1' } })).status, 400);
      assert.equal(
        (await act(id, { resize: { flavorRef: 'nope' } })).body.badRequest.message,
        'Flavor nope could not be found.',
      );
      assert.equal((await act(id, { resize: {} })).status, 400);
      assert.equal(
        (await nova('POST', `/servers/${id}/action`, { confirmResize: null }, { token: alice.token })).status,
        409,
      );
      const r = await nova(
        'POST',
        `/servers/${id}/action`,
        { resize: { flavorRef: '2', 'OS-DCF:diskConfig': 'MANUAL' } },
        { token: alice.token },
      );
      assert.equal(r.status, 202, JSON.stringify(r.body));
      const s = await waitFor(id, 'VERIFY_RESIZE');
      assert.equal(s.flavor.original_name, 'm1.small');
      assert.equal(s['OS-DCF:diskConfig'], 'MANUAL');
      const [m] = await migrationsOf(id);
      assert.equal(m.status, 'finished');
      assert.equal(m.migration_type, 'resize');
      assert.equal(m.source_compute, source);
      assert.equal(m.dest_compute, s['OS-EXT-SRV-ATTR:host']);
      assert.ok(m.old_instance_type_id && m.new_instance_type_id && m.old_instance_type_id !== m.new_instance_type_id);
      // Placement: the instance holds the new flavor on the destination, the migration the old on the source.
      const mine = await usedOn(id);
      assert.deepEqual(Object.values(mine), [{ VCPU: 1, MEMORY_MB: 2048, DISK_GB: 20 }]);
      assert.deepEqual(await usedOn(m.uuid), { [await providerOf(source)]: { VCPU: 1, MEMORY_MB: 512, DISK_GB: 1 } });
      assert.equal(
        (await nova('POST', `/servers/${id}/action`, { confirmResize: null }, { token: alice.token })).status,
        204,
      );
      const done = await waitFor(id, 'ACTIVE');
      assert.equal(done.flavor.original_name, 'm1.small');
      assert.deepEqual(await usedOn(m.uuid), {});
      assert.equal((await migrationsOf(id))[0].status, 'confirmed');
      // The resource audit counts the new flavor on the destination (512 MB of the host are reserved).
      const dest = done['OS-EXT-SRV-ATTR:host'];
      await until(`usage of ${dest}`, async () => {
        const hv = (await nova('GET', '/os-hypervisors/detail', undefined, { version: '2.87' })).body.hypervisors.find(
          (h: Hypervisor) => h.service.host === dest,
        );
        return (
          hv.running_vms === 1 && hv.vcpus_used === 1 && hv.memory_mb_used === 512 + 2048 && hv.local_gb_used === 20
        );
      });
      const acts = (await nova('GET', `/servers/${id}/os-instance-actions`)).body.instanceActions.map(
        (a: InstanceAction) => a.action,
      );
      assert.deepEqual(acts.slice(0, 2), ['confirmResize', 'resize']);
      const resizeAct = (await nova('GET', `/servers/${id}/os-instance-actions`)).body.instanceActions.find(
        (a: InstanceAction) => a.action === 'resize',
      );
      const events = (
        await nova('GET', `/servers/${id}/os-instance-actions/${resizeAct.request_id}`)
      ).body.instanceAction.events.map((e: ActionEvent) => e.event);
      for (const e of [
        'conductor_migrate_server',
        'compute_prep_resize',
        'compute_resize_instance',
        'compute_finish_resize',
      ])
        assert.ok(events.includes(e), `${e} in ${events}`);
      await nova('DELETE', `/servers/${id}`);
    });

    it('reverts a resize of a stopped server: the old flavor, host and allocation come back, still stopped', async () => {
      const id = await boot({ name: 'revert-me' }, alice.token);
      await waitFor(id, 'ACTIVE');
      const source = await hostOf(id);
      assert.equal((await act(id, { 'os-stop': null })).status, 202);
      await waitFor(id, 'SHUTOFF');
      assert.equal((await act(id, { resize: { flavorRef: '2' } })).status, 202);
      const s = await waitFor(id, 'VERIFY_RESIZE');
      assert.equal(s['OS-EXT-STS:power_state'], 4);
      assert.equal((await act(id, { revertResize: null })).status, 202);
      const back = await waitFor(id, 'SHUTOFF');
      assert.equal(back.flavor.original_name, 'm1.tiny');
      assert.equal(back['OS-EXT-SRV-ATTR:host'], source);
      assert.deepEqual(await usedOn(id), { [await providerOf(source)]: { VCPU: 1, MEMORY_MB: 512, DISK_GB: 1 } });
      const [m] = await migrationsOf(id);
      assert.equal(m.status, 'reverted');
      assert.deepEqual(await usedOn(m.uuid), {});
      const ports = await neutron('GET', `/v2.0/ports?device_id=${id}`);
      assert.equal(ports.body.ports[0]['binding:host_id'], source);
      await nova('DELETE', `/servers/${id}`);
    });

    it('cold-migrates to a named host (2.56) and refuses the same host; the destination guest runs there', async () => {
      const id = await boot({ name: 'cold' }, alice.token);
      await waitFor(id, 'ACTIVE');
      const source = await hostOf(id);
      const target = hosts.find((h) => h !== source)!;
      assert.equal(
        (await act(id, { migrate: { host: source } })).body.badRequest.message,
        'Cannot migrate to the host where the server exists.',
      );
      assert.equal(
        (await act(id, { migrate: { host: 'nowhere' } })).body.badRequest.message,
        'Compute host nowhere could not be found.',
      );
      assert.equal(
        (await nova('POST', `/servers/${id}/action`, { migrate: null }, { token: alice.token })).status,
        403,
      );
      assert.equal((await act(id, { migrate: { host: target } })).status, 202);
      const s = await waitFor(id, 'VERIFY_RESIZE');
      assert.equal(s['OS-EXT-SRV-ATTR:host'], target);
      const [m] = await migrationsOf(id);
      assert.equal(m.migration_type, 'migration');
      const svc = computeService(c);
      const destAgent = svc.parts.agents.find((a) => a.host === target)!;
      assert.equal(destAgent.driver.powerState({ uuid: id } as Instance), 1);
      // Deleting a server waiting for confirmation frees both claims.
      assert.equal((await nova('DELETE', `/servers/${id}`)).status, 204);
      await until('deleted', async () => (await nova('GET', `/servers/${id}`)).status === 404);
      await until('migration claim freed', async () => Object.keys(await allocations(m.uuid)).length === 0);
      assert.deepEqual(await allocations(id), {});
      const srcAgent = svc.parts.agents.find((a) => a.host === source)!;
      await until('source guest gone', async () => srcAgent.driver.powerState({ uuid: id } as Instance) === 0);
    });

    it('live-migrates: shows the running migration, aborts one, forces another to complete', async () => {
      const id = await boot({ name: 'live' }, alice.token);
      await waitFor(id, 'ACTIVE');
      const source = await hostOf(id);
      assert.equal(
        (await act(id, { 'os-migrateLive': { host: 'nowhere', block_migration: 'auto' } })).body.badRequest.message,
        'Compute host nowhere could not be found.',
      );
      assert.equal(
        (await act(id, { 'os-migrateLive': { host: null, block_migration: 'auto', force: true } }, '2.30')).body
          .badRequest.message,
        "Can't force to a non-provided destination",
      );
      assert.equal(
        (await act(id, { 'os-migrateLive': { host: source, block_migration: false, disk_over_commit: false } }, '2.1'))
          .body.badRequest.message,
        `Unable to migrate instance (${id}) to current host (${source}).`,
      );
      await waitFor(id, 'ACTIVE');
      // Abort.
      assert.equal((await act(id, { 'os-migrateLive': { host: null, block_migration: 'auto' } })).status, 202);
      // The job's first progress is written just after the status turns running (as Nova's
      // monitor fills the memory figures later): wait for a running migration with its figures.
      const running = await until('running migration', async () =>
        (await nova('GET', `/servers/${id}/migrations`)).body.migrations.find(
          (m: Migration) => m.status === 'running' && (m.memory_total_bytes ?? 0) > 0,
        ),
      );
      assert.equal(running.source_compute, source);
      const shown = await nova('GET', `/servers/${id}/migrations/${running.id}`);
      assert.equal(shown.body.migration.uuid, running.uuid);
      assert.equal(
        (await nova('GET', `/servers/${id}/migrations/${running.id}`, undefined, { version: '2.22' })).status,
        404,
      );
      assert.equal((await nova('DELETE', `/servers/${id}/migrations/${running.id}`)).status, 202);
      await waitFor(id, 'ACTIVE');
      assert.equal(await hostOf(id), source);
      assert.equal((await migrationsOf(id)).find((m) => m.id === running.id)?.status, 'cancelled');
      assert.deepEqual(Object.keys(await allocations(id)), [await providerOf(source)]);
      assert.deepEqual(await allocations(running.uuid), {});
      // Force complete.
      assert.equal((await act(id, { 'os-migrateLive': { host: null, block_migration: 'auto' } })).status, 202);
      const second = await until('running migration', async () =>
        (await nova('GET', `/servers/${id}/migrations`)).body.migrations.find((m: Migration) => m.status === 'running'),
      );
      const fc = await nova('POST', `/servers/${id}/migrations/${second.id}/action`, { force_complete: null });
      assert.equal(fc.status, 202, JSON.stringify(fc.body));
      const moved = await waitFor(id, 'ACTIVE');
      assert.notEqual(moved['OS-EXT-SRV-ATTR:host'], source);
      // As in Nova, the source marks the migration completed after the destination took the guest.
      const m2 = await until('migration completed', async () =>
        (await migrationsOf(id)).find((m) => m.id === second.id && m.status === 'completed'),
      );
      assert.equal(m2.migration_type, 'live-migration');
      assert.equal(m2.links, undefined);
      assert.deepEqual(Object.keys(await allocations(id)), [await providerOf(moved['OS-EXT-SRV-ATTR:host']!)]);
      assert.equal(
        (await nova('POST', `/servers/${id}/migrations/${second.id}/action`, { force_complete: null })).status,
        409,
      );
      await nova('DELETE', `/servers/${id}`);
    });

    it('moves keep the server group; a forced host (force, 2.30–2.67) skips the filters, a requested one does not', async () => {
      // An anti-affinity member with a sibling on every other host has nowhere to go.
      const g = await nova('POST', '/os-server-groups', { server_group: { name: 'apart', policy: 'anti-affinity' } });
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await c.req(
          'POST',
          `${c.url}/compute/v2.1/servers`,
          {
            server: { name: `apart-${i}`, imageRef: image, flavorRef: '1', networks: 'none' },
            'os:scheduler_hints': { group: g.body.server_group.id },
          },
          { headers: { 'OpenStack-API-Version': 'compute 2.93' } },
        );
        assert.equal(r.status, 202, JSON.stringify(r.body));
        ids.push(r.body.server.id);
        await waitFor(r.body.server.id, 'ACTIVE');
      }
      const before = await hostOf(ids[0]!);
      await act(ids[0]!, { migrate: null });
      await until(
        'cold migration refused',
        async () => (await migrationsOf(ids[0]!)).find((m) => m.status === 'error') ?? null,
      );
      const after = await waitFor(ids[0]!, 'ACTIVE');
      assert.equal(after['OS-EXT-SRV-ATTR:host'], before);
      // Forced live migration onto a sibling's host, which is even disabled: allowed, as in Nova.
      const target = await hostOf(ids[1]!);
      const svcId = (await nova('GET', `/os-services?binary=nova-compute&host=${target}`)).body.services[0].id;
      assert.equal((await nova('PUT', `/os-services/${svcId}`, { status: 'disabled' })).status, 200);
      try {
        // Requested (not forced): the scheduler's filters refuse the disabled host (before 2.34 the API waits: 400).
        const refused = await act(
          ids[0]!,
          { 'os-migrateLive': { host: target, block_migration: false, force: false } },
          '2.30',
        );
        assert.equal(refused.status, 400, JSON.stringify(refused.body));
        assert.match(refused.body.badRequest.message, /No valid host/);
        await waitFor(ids[0]!, 'ACTIVE');
        assert.equal(await hostOf(ids[0]!), before);
        const forced = await act(
          ids[0]!,
          { 'os-migrateLive': { host: target, block_migration: false, force: true } },
          '2.30',
        );
        assert.equal(forced.status, 202, JSON.stringify(forced.body));
        await until('forced live migration done', async () => (await hostOf(ids[0]!)) === target || null);
        await waitFor(ids[0]!, 'ACTIVE');
      } finally {
        await nova('PUT', `/os-services/${svcId}`, { status: 'enabled' });
      }
      for (const id of ids) await nova('DELETE', `/servers/${id}`);
    });

    it('lists migrations with filters, paging (2.59) and user/project (2.80)', async () => {
      const all = (await nova('GET', '/os-migrations')).body.migrations;
      assert.ok(all.length >= 5);
      const old = (await nova('GET', '/os-migrations', undefined, { version: '2.1' })).body.migrations[0];
      assert.equal(old.migration_type, undefined);
      assert.equal(old.uuid, undefined);
      assert.equal(
        (await nova('GET', '/os-migrations?migration_type=resize')).body.migrations.every(
          (m: Migration) => m.migration_type === 'resize',
        ),
        true,
      );
      const page = await nova('GET', '/os-migrations?limit=2');
      assert.equal(page.body.migrations.length, 2);
      assert.match(page.body.migrations_links[0].href, /marker=/);
      const next = await nova('GET', `/os-migrations?limit=2&marker=${page.body.migrations[1].uuid}`);
      assert.notEqual(next.body.migrations[0].id, page.body.migrations[1].id);
      assert.equal((await nova('GET', '/os-migrations?marker=nope')).status, 400);
      assert.equal((await nova('GET', '/os-migrations?foo=1')).status, 400);
      assert.equal((await nova('GET', '/os-migrations?foo=1', undefined, { version: '2.58' })).status, 200);
      assert.equal(
        (all[0].user_id !== undefined && all[0].project_id === alice.project) || all[0].project_id !== undefined,
        true,
      );
      assert.equal((await nova('GET', `/os-migrations?project_id=${alice.project}`)).body.migrations.length > 0, true);
      assert.equal((await nova('GET', '/os-migrations', undefined, { token: alice.token })).status, 403);
      const future = new Date(Date.now() + 3600_000).toISOString();
      assert.equal((await nova('GET', `/os-migrations?changes-since=${future}`)).body.migrations.length, 0);
    });

    it('evacuates a server from a host that is forced down, and the host cleans up when it returns', async () => {
      const id = await boot({ name: 'evac' }, alice.token);
      await waitFor(id, 'ACTIVE');
      const source = await hostOf(id);
      assert.equal(
        (await act(id, { evacuate: {} })).body.badRequest.message,
        `Compute service of ${source} is still in use.`,
      );
      assert.equal((await act(id, { evacuate: { host: 'nowhere' } })).status, 404);
      const svcId = (await nova('GET', `/os-services?binary=nova-compute&host=${source}`)).body.services[0].id;
      assert.equal((await nova('PUT', `/os-services/${svcId}`, { forced_down: true })).status, 200);
      const r = await act(id, { evacuate: { onSharedStorage: false } }, '2.13');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.ok(r.body.adminPass);
      const s = await waitFor(id, 'ACTIVE');
      assert.notEqual(s['OS-EXT-SRV-ATTR:host'], source);
      const [m] = await migrationsOf(id);
      assert.equal(m.migration_type, 'evacuation');
      assert.equal(m.status, 'done');
      // The instance holds both hosts until the source is back.
      assert.equal(Object.keys(await allocations(id)).length, 2);
      assert.equal((await nova('PUT', `/os-services/${svcId}`, { forced_down: false })).status, 200);
      const svc = computeService(c);
      const srcAgent = svc.parts.agents.find((a) => a.host === source)!;
      await srcAgent.stop();
      await srcAgent.start();
      await until('source cleaned up', async () => (await migrationsOf(id))[0].status === 'completed', 8000);
      assert.deepEqual(Object.keys(await allocations(id)), [await providerOf(s['OS-EXT-SRV-ATTR:host']!)]);
      assert.equal(srcAgent.driver.powerState({ uuid: id } as Instance), 0);
      await nova('DELETE', `/servers/${id}`);
    });
  });
}
