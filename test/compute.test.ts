// The compute service's server path against the real HTTP API: version documents and
// microversions, a server built through conductor → scheduler → placement claim → ports →
// the fake driver's spawn, power actions, lock, instance actions, and a failing spawn that
// leaves ERROR with a fault and gives back its allocation and ports.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ActionEvent, ApiProject, ApiServer, InstanceAction } from './lib/api-types.ts';
import {
  startCloud,
  databaseEngines,
  member,
  type TestCloud,
  until,
  type ApiAnswer,
  serviceApi,
  untilServer,
} from './lib/cloud.ts';
import { computeService } from './lib/services.ts';
import type { Flavor } from '../src/compute/service.ts';

for (const engine of databaseEngines('compute servers')) {
  describe(`compute servers (${engine.name})`, () => {
    let c: TestCloud;
    let alice: { project: string; token: string };
    let image: string;
    let failingImage: string;
    let network: string;
    const flavors = new Map<string, Flavor>();
    const nova = serviceApi(() => c, '/compute/v2.1', 'compute', '2.93');
    const placement = serviceApi(() => c, '/placement', 'placement', '1.36');
    const neutron = (method: string, p: string, body?: unknown, token?: string) =>
      c.req(method, `${c.url}/networking${p}`, body, { token });
    const createImage = async (props: Record<string, unknown> = {}) => {
      const r = await c.req('POST', `${c.url}/image/v2/images`, {
        name: 'cirros',
        disk_format: 'qcow2',
        container_format: 'bare',
        visibility: 'public',
        ...props,
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const up = await fetch(`${c.url}/image/v2/images/${r.body.id}/file`, {
        method: 'PUT',
        headers: { 'X-Auth-Token': c.adminToken, 'Content-Type': 'application/octet-stream' },
        body: new Uint8Array(Buffer.from('fake image')),
      });
      assert.equal(up.status, 204);
      return r.body.id as string;
    };
    const waitFor = (id: string, status: string, token?: string) =>
      untilServer(async (x) => (await nova('GET', `/servers/${x}`, undefined, { token })).body.server, id, status);
    const boot = async (body: Record<string, unknown>, token?: string) => {
      const r = await nova(
        'POST',
        '/servers',
        { server: { name: 'vm', imageRef: image, flavorRef: '1', networks: [{ uuid: network }], ...body } },
        { token },
      );
      assert.equal(r.status, 202, JSON.stringify(r.body));
      return r.body.server;
    };

    before(async () => {
      c = await startCloud({ database: engine.database });
      alice = await member(c, 'alice');
      const svc = computeService(c);
      // The flavors family provides flavors when it is there; otherwise the test brings its own.
      flavors.set('1', {
        id: '1',
        name: 'm1.tiny',
        vcpus: 1,
        ram: 512,
        disk: 1,
        ephemeral: 0,
        swap: 0,
        extra_specs: {},
      });
      flavors.set('fail', {
        id: 'fail',
        name: 'm1.fail',
        vcpus: 1,
        ram: 512,
        disk: 1,
        ephemeral: 0,
        swap: 0,
        extra_specs: { 'fake:fail_spawn': 'true' },
      });
      const own = svc.providers.flavors;
      svc.providers.flavors = { find: async (id) => flavors.get(id) ?? (own ? own.find(id) : null) };
      image = await createImage();
      failingImage = await createImage({ fake_fail_spawn: 'true' });
      const n = await neutron('POST', '/v2.0/networks', { network: { name: 'private', shared: true } });
      network = n.body.network.id;
      const s = await neutron('POST', '/v2.0/subnets', {
        subnet: { network_id: network, ip_version: 4, cidr: '10.9.0.0/24' },
      });
      assert.equal(s.status, 201, JSON.stringify(s.body));
      await until('compute node in placement', async () => svc.parts.agent?.ready);
    });
    after(async () => {
      await c.stop();
    });

    it('serves version documents and negotiates microversions', async () => {
      const root = await c.req('GET', `${c.url}/compute/`, undefined, { token: null });
      assert.deepEqual(
        root.body.versions.map((v: { id: string; status: string }) => [v.id, v.status]),
        [
          ['v2.0', 'SUPPORTED'],
          ['v2.1', 'CURRENT'],
        ],
      );
      const v21 = await c.req('GET', `${c.url}/compute/v2.1`, undefined, { token: null });
      assert.equal(v21.body.version.version, '2.93');
      assert.equal(v21.body.version.min_version, '2.1');
      const r = await nova('GET', '/servers', undefined, { version: '2.60' });
      assert.equal(r.headers.get('openstack-api-version'), 'compute 2.60');
      assert.equal(r.headers.get('x-openstack-nova-api-version'), '2.60');
      assert.match(r.headers.get('vary') ?? '', /OpenStack-API-Version/);
      const bad = await nova('GET', '/servers', undefined, { version: '2.94' });
      assert.equal(bad.status, 406);
      assert.equal(bad.body.computeFault.code, 406);
      const missing = await nova('GET', '/servers/00000000-0000-0000-0000-000000000000');
      assert.equal(missing.status, 404);
      assert.equal(
        missing.body.itemNotFound.message,
        'Instance 00000000-0000-0000-0000-000000000000 could not be found.',
      );
    });

    it('builds a server: ACTIVE on the fake host with an address, a port and a placement allocation', async () => {
      const created = await boot({ name: 'web', metadata: { role: 'web' }, tags: ['a'] }, alice.token);
      assert.ok(created.adminPass);
      assert.deepEqual(created.security_groups, [{ name: 'default' }]);
      const s = await waitFor(created.id, 'ACTIVE', alice.token);
      assert.equal(s.tenant_id, alice.project);
      assert.equal(s['OS-EXT-STS:power_state'], 1);
      assert.equal(s['OS-EXT-SRV-ATTR:host'], undefined, 'extended attributes are for admins');
      assert.deepEqual(s.metadata, { role: 'web' });
      assert.deepEqual(s.tags, ['a']);
      assert.equal(s.flavor.original_name, 'm1.tiny');
      assert.equal(s.addresses.private.length, 1);
      assert.match(s.addresses.private[0].addr, /^10\.9\.0\./);
      const asAdmin = (await nova('GET', `/servers/${created.id}`)).body.server;
      const host = computeService(c).parts.agent!.host;
      assert.equal(asAdmin['OS-EXT-SRV-ATTR:host'], host);
      const ports = await neutron('GET', `/v2.0/ports?device_id=${created.id}`);
      assert.equal(ports.body.ports.length, 1);
      assert.equal(ports.body.ports[0]['binding:host_id'], host);
      assert.equal(ports.body.ports[0].device_owner, 'compute:nova');
      assert.equal(ports.body.ports[0].project_id, alice.project);
      const alloc = await placement('GET', `/allocations/${created.id}`);
      const rps = Object.values<{ resources: Record<string, number> }>(alloc.body.allocations);
      assert.equal(rps.length, 1);
      assert.deepEqual(rps[0].resources, { VCPU: 1, MEMORY_MB: 512, DISK_GB: 1 });
      assert.equal(alloc.body.project_id, alice.project);
      // Lists: the owner sees it, another project does not; detail has the full view.
      const list = await nova('GET', '/servers', undefined, { token: alice.token });
      assert.deepEqual(
        list.body.servers.map((x: ApiServer) => x.id),
        [created.id],
      );
      const detail = await nova('GET', '/servers/detail?name=^we&status=ACTIVE', undefined, { token: alice.token });
      assert.equal(detail.body.servers[0].id, created.id);
      assert.equal(
        (await nova('GET', '/servers/detail?status=SHUTOFF', undefined, { token: alice.token })).body.servers.length,
        0,
      );
      const bob = await member(c, 'bob');
      assert.equal((await nova('GET', `/servers/${created.id}`, undefined, { token: bob.token })).status, 404);
      assert.equal((await nova('GET', '/servers', undefined, { token: bob.token })).body.servers.length, 0);
      assert.ok((await nova('GET', '/servers?all_tenants=1')).body.servers.some((x: ApiServer) => x.id === created.id));
      assert.equal((await nova('GET', '/servers?all_tenants=1', undefined, { token: bob.token })).status, 403);
      // Update.
      const up = await nova(
        'PUT',
        `/servers/${created.id}`,
        { server: { name: 'web2', description: 'd' } },
        { token: alice.token },
      );
      assert.equal(up.status, 200, JSON.stringify(up.body));
      assert.equal(up.body.server.name, 'web2');
      assert.equal(up.body.server.description, 'd');
    });

    it('stops, starts, reboots, pauses, suspends; refuses actions in the wrong state and on locked servers', async () => {
      const s = await boot({ name: 'power' }, alice.token);
      await waitFor(s.id, 'ACTIVE', alice.token);
      const act = (body: unknown, token = alice.token) => nova('POST', `/servers/${s.id}/action`, body, { token });
      assert.equal((await act({ 'os-stop': null })).status, 202);
      const off = await waitFor(s.id, 'SHUTOFF', alice.token);
      assert.equal(off['OS-EXT-STS:power_state'], 4);
      const again = await act({ 'os-stop': null });
      assert.equal(again.status, 409);
      assert.equal(
        again.body.conflictingRequest.message,
        `Cannot 'stop' instance ${s.id} while it is in vm_state stopped`,
      );
      assert.equal((await act({ 'os-start': null })).status, 202);
      await waitFor(s.id, 'ACTIVE', alice.token);
      assert.equal((await act({ reboot: { type: 'HARD' } })).status, 202);
      await waitFor(s.id, 'ACTIVE', alice.token);
      assert.equal((await act({ reboot: { type: 'sideways' } })).status, 400);
      assert.equal((await act({ pause: null })).status, 202);
      await waitFor(s.id, 'PAUSED', alice.token);
      assert.equal((await act({ unpause: null })).status, 202);
      await waitFor(s.id, 'ACTIVE', alice.token);
      assert.equal((await act({ suspend: null })).status, 202);
      await waitFor(s.id, 'SUSPENDED', alice.token);
      assert.equal((await act({ resume: null })).status, 202);
      await waitFor(s.id, 'ACTIVE', alice.token);
      assert.equal((await act({ nonsense: null })).status, 400);
      // Locked by an admin: the owner can neither stop nor unlock it.
      assert.equal(
        (await nova('POST', `/servers/${s.id}/action`, { lock: { locked_reason: 'maintenance' } })).status,
        202,
      );
      const locked = (await nova('GET', `/servers/${s.id}`, undefined, { token: alice.token })).body.server;
      assert.equal(locked.locked, true);
      assert.equal(locked.locked_reason, 'maintenance');
      assert.equal((await act({ 'os-stop': null })).status, 409);
      assert.equal((await nova('DELETE', `/servers/${s.id}`, undefined, { token: alice.token })).status, 409);
      assert.equal((await act({ unlock: null })).status, 403);
      assert.equal((await nova('POST', `/servers/${s.id}/action`, { unlock: null })).status, 202);
      // Instance actions, with their events (tracebacks for admins only).
      const actions = await nova('GET', `/servers/${s.id}/os-instance-actions`, undefined, { token: alice.token });
      assert.deepEqual(
        actions.body.instanceActions.map((a: InstanceAction) => a.action),
        ['unlock', 'lock', 'resume', 'suspend', 'unpause', 'pause', 'reboot', 'start', 'stop', 'create'],
      );
      const create = actions.body.instanceActions.at(-1);
      const shown = await nova('GET', `/servers/${s.id}/os-instance-actions/${create.request_id}`, undefined, {
        token: alice.token,
      });
      assert.deepEqual(shown.body.instanceAction.events.map((e: ActionEvent) => [e.event, e.result]).sort(), [
        ['compute__do_build_and_run_instance', 'Success'],
        ['conductor_schedule_and_build_instances', 'Success'],
      ]);
      assert.equal(shown.body.instanceAction.events[0].traceback, undefined);
    });

    it('keeps server metadata, tags and addresses', async () => {
      const s = await boot({ name: 'meta', metadata: { a: '1' } }, alice.token);
      await waitFor(s.id, 'ACTIVE', alice.token);
      const m = (method: string, p: string, body?: unknown) =>
        nova(method, `/servers/${s.id}${p}`, body, { token: alice.token });
      assert.deepEqual((await m('POST', '/metadata', { metadata: { b: '2' } })).body.metadata, { a: '1', b: '2' });
      assert.deepEqual((await m('PUT', '/metadata/c', { meta: { c: '3' } })).body.meta, { c: '3' });
      assert.equal(
        (await m('PUT', '/metadata/c', { meta: { d: '3' } })).body.badRequest.message,
        'Request body and URI mismatch',
      );
      assert.deepEqual((await m('GET', '/metadata/b')).body, { meta: { b: '2' } });
      assert.equal((await m('DELETE', '/metadata/a')).status, 204);
      assert.equal((await m('GET', '/metadata/a')).body.itemNotFound.message, 'Metadata item was not found');
      assert.deepEqual((await m('PUT', '/metadata', { metadata: { z: '9' } })).body.metadata, { z: '9' });
      assert.equal((await m('PUT', '/tags/t1')).status, 201);
      assert.equal((await m('PUT', '/tags/t1')).status, 204);
      assert.deepEqual((await m('PUT', '/tags', { tags: ['y', 'x'] })).body.tags, ['x', 'y']);
      assert.equal((await m('GET', '/tags/x')).status, 204);
      assert.equal((await m('GET', '/tags/t1')).status, 404);
      assert.equal((await m('DELETE', '/tags/x')).status, 204);
      assert.deepEqual((await m('GET', '/tags')).body.tags, ['y']);
      assert.equal((await nova('GET', `/servers?tags=y`, undefined, { token: alice.token })).body.servers[0].id, s.id);
      const ips = await m('GET', '/ips');
      assert.equal(ips.body.addresses.private.length, 1);
      assert.deepEqual((await m('GET', '/ips/private')).body.private, ips.body.addresses.private);
      assert.equal((await m('GET', '/ips/nowhere')).status, 404);
    });

    it('rebuilds, changes security groups, keeps an empty password, places server groups', async () => {
      const s = await boot({ name: 'rb' }, alice.token);
      await waitFor(s.id, 'ACTIVE', alice.token);
      const act = (body: unknown) => nova('POST', `/servers/${s.id}/action`, body, { token: alice.token });
      const other = await createImage({ name: 'other' });
      const rb = await act({ rebuild: { imageRef: other, name: 'rebuilt', metadata: { x: 'y' } } });
      assert.equal(rb.status, 202, JSON.stringify(rb.body));
      assert.equal(rb.body.server.status, 'REBUILD');
      assert.ok(rb.body.server.adminPass);
      const after = await waitFor(s.id, 'ACTIVE', alice.token);
      assert.equal(after.image && after.image.id, other);
      assert.equal(after.name, 'rebuilt');
      assert.equal((await act({ 'os-stop': null })).status, 202);
      await waitFor(s.id, 'SHUTOFF', alice.token);
      assert.equal((await act({ rebuild: { imageRef: image } })).status, 202);
      await waitFor(s.id, 'SHUTOFF', alice.token);
      // Security groups on the server's ports.
      const sg = await neutron('POST', '/v2.0/security-groups', { security_group: { name: 'web' } }, alice.token);
      assert.equal((await act({ addSecurityGroup: { name: 'web' } })).status, 202);
      const port = (await neutron('GET', `/v2.0/ports?device_id=${s.id}`)).body.ports[0];
      assert.ok(port.security_groups.includes(sg.body.security_group.id));
      assert.equal((await act({ addSecurityGroup: { name: 'web' } })).status, 400);
      assert.equal((await act({ removeSecurityGroup: { name: 'web' } })).status, 202);
      assert.equal((await act({ removeSecurityGroup: { name: 'web' } })).status, 400);
      assert.equal((await act({ addSecurityGroup: { name: 'nope' } })).status, 404);
      assert.deepEqual(
        (await nova('GET', `/servers/${s.id}/os-server-password`, undefined, { token: alice.token })).body,
        { password: '' },
      );
      assert.equal(
        (await nova('DELETE', `/servers/${s.id}/os-server-password`, undefined, { token: alice.token })).status,
        204,
      );
      // Anti-affinity on a one-host cloud: the second member finds no host.
      const g = await nova(
        'POST',
        '/os-server-groups',
        { server_group: { name: 'g', policy: 'anti-affinity' } },
        { token: alice.token },
      );
      assert.equal(g.status, 200, JSON.stringify(g.body));
      const hint = { 'os:scheduler_hints': { group: g.body.server_group.id } };
      const first = await nova(
        'POST',
        '/servers',
        { server: { name: 'm1', imageRef: image, flavorRef: '1', networks: 'none' }, ...hint },
        { token: alice.token },
      );
      await waitFor(first.body.server.id, 'ACTIVE', alice.token);
      const second = await nova(
        'POST',
        '/servers',
        { server: { name: 'm2', imageRef: image, flavorRef: '1', networks: 'none' }, ...hint },
        { token: alice.token },
      );
      const err = await waitFor(second.body.server.id, 'ERROR', alice.token);
      assert.match(String(err.fault?.message), /^No valid host was found/);
      assert.deepEqual(err.server_groups, [g.body.server_group.id]);
      const members = (
        await nova('GET', `/os-server-groups/${g.body.server_group.id}`, undefined, { token: alice.token })
      ).body.server_group.members;
      assert.ok(members.includes(first.body.server.id));
      assert.equal(
        (
          await nova(
            'POST',
            '/servers',
            {
              server: { name: 'm3', imageRef: image, flavorRef: '1', networks: 'none' },
              'os:scheduler_hints': { group: '00000000-0000-0000-0000-000000000000' },
            },
            { token: alice.token },
          )
        ).status,
        400,
      );
    });

    it('pages server lists by marker in SQL (no filters) as the filtered path does', async () => {
      const r = await nova(
        'POST',
        '/servers',
        {
          server: {
            name: 'pg',
            imageRef: image,
            flavorRef: '1',
            networks: 'none',
            min_count: 3,
            return_reservation_id: true,
          },
        },
        { token: alice.token },
      );
      assert.equal(r.status, 202, JSON.stringify(r.body));
      await until(
        'three servers',
        async () =>
          (
            await nova('GET', `/servers/detail?reservation_id=${r.body.reservation_id}`, undefined, {
              token: alice.token,
            })
          ).body.servers.filter((x: ApiServer) => x.status === 'ACTIVE').length === 3,
      );
      // Walks every page; `filter` (a name that matches every server) sends the same list through the filtered path.
      const walk = async (query: string, filter: string) => {
        const ids: string[] = [];
        let next: string | undefined = `/servers/detail?limit=2${query}${filter}`;
        while (next) {
          const page = await nova('GET', next, undefined, { token: alice.token });
          assert.equal(page.status, 200, JSON.stringify(page.body));
          ids.push(...page.body.servers.map((x: ApiServer) => x.id));
          const href: string | undefined = page.body.servers_links?.[0]?.href;
          next = href ? href.slice(href.indexOf('/servers')) : undefined;
        }
        return ids;
      };
      for (const query of [
        '',
        '&sort_key=uuid&sort_dir=asc',
        '&sort_key=created_at&sort_dir=asc&sort_key=uuid&sort_dir=desc',
      ]) {
        const sql = await walk(query, '');
        assert.ok(sql.length >= 3, `${query}: ${sql.length} servers`);
        assert.equal(new Set(sql).size, sql.length, `${query}: no server twice`);
        assert.deepEqual(sql, await walk(query, '&name=.'), query);
      }
      const all = await nova('GET', '/servers?sort_key=uuid&sort_dir=asc', undefined, { token: alice.token });
      assert.deepEqual(
        all.body.servers.map((x: ApiServer) => x.id),
        all.body.servers.map((x: ApiServer) => x.id).sort(),
      );
      assert.equal(
        (await nova('GET', '/servers?marker=00000000-0000-0000-0000-000000000000', undefined, { token: alice.token }))
          .body.badRequest.message,
        'marker [00000000-0000-0000-0000-000000000000] not found',
      );
      // Another project's server is no marker here.
      const other = (await nova('GET', '/servers?all_tenants=1')).body.servers.find(
        (x: ApiServer) => !all.body.servers.some((y: ApiServer) => y.id === x.id),
      );
      if (other)
        assert.equal((await nova('GET', `/servers?marker=${other.id}`, undefined, { token: alice.token })).status, 400);
      for (const x of (
        await nova('GET', `/servers?reservation_id=${r.body.reservation_id}`, undefined, { token: alice.token })
      ).body.servers)
        await nova('DELETE', `/servers/${x.id}`, undefined, { token: alice.token });
    });

    it('deletes a server: its ports and allocation are given back', async () => {
      const s = await boot({ name: 'gone' });
      await waitFor(s.id, 'ACTIVE');
      assert.equal((await nova('DELETE', `/servers/${s.id}`)).status, 204);
      await until('server deleted', async () => (await nova('GET', `/servers/${s.id}`)).status === 404);
      assert.equal((await neutron('GET', `/v2.0/ports?device_id=${s.id}`)).body.ports.length, 0);
      assert.deepEqual((await placement('GET', `/allocations/${s.id}`)).body.allocations, {});
      // Deleted servers appear in changes-since lists, as DELETED.
      const since = await nova(
        'GET',
        `/servers/detail?changes-since=${encodeURIComponent(new Date(Date.now() - 60000).toISOString())}`,
      );
      assert.equal(since.body.servers.find((x: ApiServer) => x.id === s.id)?.status, 'DELETED');
    });

    it('a failing spawn leaves ERROR with a fault and no allocation or port', async () => {
      for (const body of [{ imageRef: failingImage }, { flavorRef: 'fail' }]) {
        const s = await boot({ name: 'doomed', ...body });
        const err = await waitFor(s.id, 'ERROR');
        assert.equal(err.fault?.code, 500);
        assert.match(String(err.fault?.message), /Exceeded maximum number of retries|spawn failed/);
        assert.match(String(err.fault?.details), /Fake driver: spawn failed/);
        assert.equal(err['OS-EXT-SRV-ATTR:host'], null);
        assert.equal((await neutron('GET', `/v2.0/ports?device_id=${s.id}`)).body.ports.length, 0);
        assert.deepEqual((await placement('GET', `/allocations/${s.id}`)).body.allocations, {});
        assert.equal((await nova('DELETE', `/servers/${s.id}`)).status, 204);
        assert.equal((await nova('GET', `/servers/${s.id}`)).status, 404);
      }
    });

    it('no host with room: ERROR "No valid host was found"', async () => {
      flavors.set('huge', {
        id: 'huge',
        name: 'huge',
        vcpus: 1,
        ram: 10_000_000,
        disk: 1,
        ephemeral: 0,
        swap: 0,
        extra_specs: {},
      });
      // Past the quota check (ram unlimited for the project), the scheduler finds no host.
      const project =
        (await nova('GET', '/servers/detail')).body.servers[0]?.tenant_id ??
        (await c.req('GET', `${c.url}/identity/v3/auth/projects`)).body.projects.find(
          (p: ApiProject) => p.name === 'admin',
        ).id;
      assert.equal((await nova('PUT', `/os-quota-sets/${project}`, { quota_set: { ram: -1 } })).status, 200);
      const s = await boot({ name: 'big', flavorRef: 'huge' });
      const err = await waitFor(s.id, 'ERROR');
      assert.match(String(err.fault?.message), /^No valid host was found\./);
      // Usage lists only launched servers, as Nova's `launched_at < end` (tempest's schema wants started_at).
      const at = (ms: number) => new Date(Date.now() + ms).toISOString().slice(0, 19);
      const usage = await nova(
        'GET',
        `/os-simple-tenant-usage?start=${at(-3_600_000)}&end=${at(3_600_000)}&detailed=1`,
      );
      assert.equal(usage.status, 200);
      type Usage = { instance_id: string; started_at: unknown };
      const listed: Usage[] = usage.body.tenant_usages.flatMap(
        (t: { server_usages?: Usage[] }) => t.server_usages ?? [],
      );
      assert.ok(!listed.some((u) => u.instance_id === s.id));
      assert.ok(listed.every((u) => typeof u.started_at === 'string'));
    });

    it("refuses bad create requests with Nova's messages", async () => {
      const post = (server: Record<string, unknown>, version = '2.93') =>
        nova(
          'POST',
          '/servers',
          { server: { name: 'x', imageRef: image, flavorRef: '1', networks: 'none', ...server } },
          { version },
        );
      const msg = (r: ApiAnswer) => {
        assert.equal(r.status, 400, JSON.stringify(r.body));
        return r.body.badRequest.message as string;
      };
      assert.equal(msg(await post({ flavorRef: 'nope' })), 'Flavor nope could not be found.');
      assert.equal(
        msg(await post({ imageRef: '00000000-0000-0000-0000-000000000000' })),
        'Can not find requested image',
      );
      assert.equal(
        msg(await post({ networks: [{ uuid: '00000000-0000-0000-0000-000000000000' }] })),
        'Network 00000000-0000-0000-0000-000000000000 could not be found.',
      );
      assert.match(
        msg(await post({ networks: undefined })),
        /^Invalid input for field\/attribute server\. Value: .*'networks' is a required property$/,
      );
      assert.equal(msg(await post({ key_name: 'nokey' })), 'Invalid key_name provided.');
      assert.match(msg(await post({ foo: 1 })), /Additional properties are not allowed \('foo' was unexpected\)/);
      assert.equal(msg(await post({ min_count: 2, max_count: 1 })), 'min_count must be <= max_count');
      assert.equal(
        msg(await post({ availability_zone: 'elsewhere' })),
        'The requested availability zone is not available',
      );
      const pending = await c.req('POST', `${c.url}/image/v2/images`, {
        name: 'queued',
        disk_format: 'raw',
        container_format: 'bare',
      });
      assert.equal(msg(await post({ imageRef: pending.body.id })), `Image ${pending.body.id} is not active.`);
      // networks 'none' builds a server without ports.
      const r = await post({});
      assert.equal(r.status, 202, JSON.stringify(r.body));
      const s = await waitFor(r.body.server.id, 'ACTIVE');
      assert.deepEqual(s.addresses, {});
    });
  });
}

describe('compute across a restart', () => {
  it('keeps servers running and actionable after the cloud restarts', async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-compute-restart-'));
    const flavor: Flavor = {
      id: '1',
      name: 'm1.tiny',
      vcpus: 1,
      ram: 512,
      disk: 1,
      ephemeral: 0,
      swap: 0,
      extra_specs: {},
    };
    const start = async () => {
      const c = await startCloud({ dataDir });
      const svc = computeService(c);
      const own = svc.providers.flavors;
      svc.providers.flavors = { find: async (id) => (id === '1' ? flavor : own ? own.find(id) : null) };
      await until('compute node in placement', async () => svc.parts.agent?.ready);
      return c;
    };
    let c = await start();
    const nova = (method: string, p: string, body?: unknown) =>
      c.req(method, `${c.url}/compute/v2.1${p}`, body, { headers: { 'OpenStack-API-Version': 'compute 2.93' } });
    try {
      const img = await c.req('POST', `${c.url}/image/v2/images`, {
        name: 'i',
        disk_format: 'raw',
        container_format: 'bare',
      });
      await fetch(`${c.url}/image/v2/images/${img.body.id}/file`, {
        method: 'PUT',
        headers: { 'X-Auth-Token': c.adminToken, 'Content-Type': 'application/octet-stream' },
        body: 'x',
      });
      const r = await nova('POST', '/servers', {
        server: { name: 'keep', imageRef: img.body.id, flavorRef: '1', networks: 'none' },
      });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      const id = r.body.server.id;
      await until('ACTIVE', async () => (await nova('GET', `/servers/${id}`)).body.server.status === 'ACTIVE');
      await c.stop();
      c = await start();
      const s = (await nova('GET', `/servers/${id}`)).body.server;
      assert.equal(s.status, 'ACTIVE');
      assert.equal(s['OS-EXT-STS:power_state'], 1);
      assert.equal((await nova('POST', `/servers/${id}/action`, { 'os-stop': null })).status, 202);
      await until('SHUTOFF', async () => (await nova('GET', `/servers/${id}`)).body.server.status === 'SHUTOFF');
    } finally {
      await c.stop();
      fs.rmSync(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    }
  });
});
