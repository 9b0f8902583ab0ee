// Compute's network-facing APIs against the real network service: the security group, floating
// IP and network proxies (up to 2.35) in Nova's views with its errors, the floating IP and fixed
// IP actions (up to 2.43), os-interface attach/detach through the agent and the fake driver,
// the 410s of what went with nova-network, and the agent's reconcile loops (the info cache heal
// sees a floating IP associated in the network alone; the power-state sync stops a guest that
// shut down by itself).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type {
  ActionEvent,
  ApiPort,
  InstanceAction,
  SecurityGroup,
  ServerAddress,
  WithId,
  WithName,
} from './lib/api-types.ts';
import {
  startCloud,
  databaseEngines,
  member,
  type TestCloud,
  until,
  type ApiAnswer,
  uploadImage,
  untilServer,
} from './lib/cloud.ts';
import { routedNetwork } from './lib/networks.ts';
import type { Instance } from '../src/compute/instances.ts';
import { computeService } from './lib/services.ts';
import { InfoCacheHealer, syncPowerStates } from '../src/compute/agent/netproxy.ts';
import type { FakeDriver } from '../src/compute/drivers/fake.ts';
import { PowerState } from '../src/compute/instances.ts';

for (const engine of databaseEngines('compute network proxies')) {
  describe(`compute network proxies (${engine.name})`, () => {
    let c: TestCloud;
    let alice: { project: string; token: string };
    let image: string;
    let privateNet: string;
    let privateSubnet: string;
    let publicNet: string;
    let server: string;
    const nova = (method: string, p: string, body?: unknown, opts: { token?: string; version?: string } = {}) =>
      c.req(method, `${c.url}/compute/v2.1${p}`, body, {
        token: opts.token ?? alice.token,
        headers: { 'OpenStack-API-Version': `compute ${opts.version ?? '2.35'}` },
      });
    const admin = (method: string, p: string, body?: unknown, version = '2.35') =>
      c.req(method, `${c.url}/compute/v2.1${p}`, body, { headers: { 'OpenStack-API-Version': `compute ${version}` } });
    const neutron = (method: string, p: string, body?: unknown, token?: string) =>
      c.req(method, `${c.url}/networking${p}`, body, { token });
    const msg = (r: ApiAnswer) => Object.values<{ message?: string } | undefined>(r.body ?? {})[0]?.message;
    const show = async (id: string) =>
      (await nova('GET', `/servers/${id}`, undefined, { version: '2.93' })).body.server;
    const waitFor = (id: string, status: string) => untilServer(show, id, status);
    const boot = async (name: string) => {
      const r = await nova(
        'POST',
        '/servers',
        { server: { name, imageRef: image, flavorRef: '1', networks: [{ uuid: privateNet }] } },
        { version: '2.93' },
      );
      assert.equal(r.status, 202, JSON.stringify(r.body));
      await waitFor(r.body.server.id, 'ACTIVE');
      return r.body.server.id as string;
    };
    const agent = () => computeService(c).parts.agent!;

    before(async () => {
      // The network's own network-changed events are off: the heal task is what is shown here (test/compute-events.test.ts has the events).
      c = await startCloud({
        database: engine.database,
        configure: (cfg) => {
          cfg.network = { ...cfg.network, notifyNovaOnPortDataChanges: false };
        },
      });
      alice = await member(c, 'alice');
      image = await uploadImage(c, 'cirros', new Uint8Array(Buffer.from('fake image')), 'qcow2');
      ({ publicNet, privateNet, privateSubnet } = await routedNetwork(c, { cidr: '10.20.0.0/24', token: alice.token }));
      await until('compute node in placement', async () => computeService(c).parts.agent?.ready);
      server = await boot('web');
    });
    after(async () => {
      await c.stop();
    });

    it("os-security-groups: create, show, list, update and delete in Nova's view, 404 from 2.36", async () => {
      const created = await nova('POST', '/os-security-groups', {
        security_group: { name: 'web', description: 'web servers' },
      });
      assert.equal(created.status, 200, JSON.stringify(created.body));
      const sg = created.body.security_group;
      assert.deepEqual(Object.keys(sg).sort(), ['description', 'id', 'name', 'rules', 'tenant_id']);
      assert.equal(sg.tenant_id, alice.project);
      assert.deepEqual(sg.rules, [], 'egress rules are not shown');
      assert.equal((await nova('GET', `/os-security-groups/${sg.id}`)).body.security_group.name, 'web');
      const list = (await nova('GET', '/os-security-groups')).body.security_groups;
      assert.deepEqual(
        list.map((g: WithName) => g.name),
        ['default', 'web'],
      );
      // limit/offset cut the network's list (then sorted, as Nova does).
      assert.equal((await nova('GET', '/os-security-groups?limit=1&offset=1')).body.security_groups.length, 1);
      assert.equal((await nova('GET', '/os-security-groups?offset=2')).body.security_groups.length, 0);
      assert.equal((await nova('GET', '/os-security-groups?limit=x')).status, 400);
      const upd = await nova('PUT', `/os-security-groups/${sg.id}`, {
        security_group: { name: 'web2', description: 'd' },
      });
      assert.equal(upd.status, 200);
      assert.equal(upd.body.security_group.name, 'web2');
      // Errors: a non-uuid id 400, an unknown one 404, the default group 400, over 255 characters 400.
      assert.equal(msg(await nova('GET', '/os-security-groups/abc')), 'Security group id should be uuid');
      assert.equal((await nova('GET', '/os-security-groups/00000000-0000-0000-0000-000000000000')).status, 404);
      assert.equal((await nova('DELETE', '/os-security-groups/00000000-0000-0000-0000-000000000000')).status, 404);
      const dflt = list.find((g: WithName) => g.name === 'default');
      const delDefault = await nova('DELETE', `/os-security-groups/${dflt.id}`);
      assert.equal(delDefault.status, 400, JSON.stringify(delDefault.body));
      assert.equal(
        msg(await nova('POST', '/os-security-groups', { security_group: { name: 'x'.repeat(256), description: '' } })),
        `name has 256 characters, more than 255.`,
      );
      assert.equal(
        msg(await nova('POST', '/os-security-groups', { security_group: { description: 'no name' } })),
        'name is not a string or unicode',
      );
      assert.equal(msg(await nova('POST', '/os-security-groups', {})), "The request body can't be empty");
      assert.equal((await nova('GET', '/os-security-groups', undefined, { version: '2.36' })).status, 404);
      // Admins see every project's groups with all_tenants.
      const all = (await admin('GET', '/os-security-groups?all_tenants=1')).body.security_groups;
      assert.ok(
        all.some((g: { tenant_id: string }) => g.tenant_id === alice.project) &&
          all.some((g: { tenant_id: string }) => g.tenant_id !== alice.project),
      );
      assert.equal((await nova('DELETE', `/os-security-groups/${sg.id}`)).status, 202);
      assert.equal((await nova('GET', `/os-security-groups/${sg.id}`)).status, 404);
      assert.equal((await nova('GET', '/os-security-group-default-rules')).status, 410);
    });

    it("os-security-group-rules: cidr and source group rules, Nova's checks, delete", async () => {
      const a = (await nova('POST', '/os-security-groups', { security_group: { name: 'a', description: '' } })).body
        .security_group;
      const b = (await nova('POST', '/os-security-groups', { security_group: { name: 'b', description: '' } })).body
        .security_group;
      const rule = await nova('POST', '/os-security-group-rules', {
        security_group_rule: {
          parent_group_id: a.id,
          ip_protocol: 'tcp',
          from_port: 22,
          to_port: 22,
          cidr: '10.0.0.0/8',
        },
      });
      assert.equal(rule.status, 200, JSON.stringify(rule.body));
      assert.deepEqual(rule.body.security_group_rule, {
        id: rule.body.security_group_rule.id,
        parent_group_id: a.id,
        ip_protocol: 'tcp',
        from_port: 22,
        to_port: 22,
        group: {},
        ip_range: { cidr: '10.0.0.0/8' },
      });
      const fromGroup = await nova('POST', '/os-security-group-rules', {
        security_group_rule: { parent_group_id: a.id, ip_protocol: 'icmp', group_id: b.id },
      });
      assert.equal(fromGroup.status, 200, JSON.stringify(fromGroup.body));
      assert.deepEqual(fromGroup.body.security_group_rule.group, { name: 'b', tenant_id: alice.project });
      assert.equal(fromGroup.body.security_group_rule.from_port, -1);
      const shown = (await nova('GET', `/os-security-groups/${a.id}`)).body.security_group;
      assert.equal(shown.rules.length, 2);
      // Duplicates, bad protocols and ports, bad ids.
      const dup = await nova('POST', '/os-security-group-rules', {
        security_group_rule: {
          parent_group_id: a.id,
          ip_protocol: 'tcp',
          from_port: 22,
          to_port: 22,
          cidr: '10.0.0.0/8',
        },
      });
      assert.equal(msg(dup), `This rule already exists in group ${a.id}`);
      const post = (r: Record<string, unknown>) =>
        nova('POST', '/os-security-group-rules', { security_group_rule: { parent_group_id: a.id, ...r } });
      assert.equal(msg(await post({ ip_protocol: 'gre', from_port: 1, to_port: 2 })), 'Invalid IP protocol gre.');
      assert.equal(
        msg(await post({ ip_protocol: 'tcp', from_port: 22, to_port: 21 })),
        'Invalid port range 22:21. Former value cannot be greater than the later',
      );
      assert.equal(
        msg(await post({ ip_protocol: 'tcp', from_port: 22, to_port: 70000 })),
        'Invalid port range 22:70000. Valid TCP ports should be between 1-65535',
      );
      assert.equal(
        msg(await post({ ip_protocol: 'tcp', from_port: 'a', to_port: 2 })),
        'Invalid input received: To and From ports must be integers',
      );
      assert.equal(
        msg(await post({ ip_protocol: 'tcp', from_port: 1, to_port: 2, cidr: '10.0.0.0/33' })),
        '10.0.0.0/33 is not a valid IP network.',
      );
      assert.equal(
        msg(await post({ ip_protocol: 'tcp', from_port: 1, to_port: 2, cidr: '10.0.0.0/0' })),
        'Bad prefix for network in cidr 10.0.0.0/0',
      );
      assert.equal(msg(await post({ cidr: '10.0.0.0/8' })), 'Not enough parameters to build a valid rule.');
      assert.equal((await post({ parent_group_id: 'abc', ip_protocol: 'tcp', from_port: 1, to_port: 2 })).status, 400);
      assert.equal(
        (
          await post({
            parent_group_id: '00000000-0000-0000-0000-000000000000',
            ip_protocol: 'tcp',
            from_port: 1,
            to_port: 2,
          })
        ).status,
        404,
      );
      assert.equal((await nova('DELETE', `/os-security-group-rules/${rule.body.security_group_rule.id}`)).status, 202);
      assert.equal((await nova('DELETE', `/os-security-group-rules/${rule.body.security_group_rule.id}`)).status, 404);
      assert.equal((await nova('DELETE', '/os-security-group-rules/abc')).status, 400);
      // A rule whose source group is gone is left out of the view.
      assert.equal((await nova('DELETE', `/os-security-groups/${b.id}`)).status, 202);
      assert.equal((await nova('GET', `/os-security-groups/${a.id}`)).body.security_group.rules.length, 0);
      assert.equal((await nova('DELETE', `/os-security-groups/${a.id}`)).status, 202);
    });

    it("a server's security groups are its ports'", async () => {
      const r = await nova('GET', `/servers/${server}/os-security-groups`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(
        r.body.security_groups.map((g: SecurityGroup) => g.name),
        ['default'],
      );
      assert.ok(r.body.security_groups[0].rules.length >= 2, 'the default group lets its members in');
      assert.equal((await nova('GET', '/servers/00000000-0000-0000-0000-000000000000/os-security-groups')).status, 404);
    });

    it('a server on a network without port security has no group (as its port), not the default', async () => {
      const net = (
        await neutron(
          'POST',
          '/v2.0/networks',
          { network: { name: 'nopsec', port_security_enabled: false } },
          alice.token,
        )
      ).body.network.id;
      const sub = { subnet: { network_id: net, ip_version: 4, cidr: '10.21.0.0/24' } };
      assert.equal((await neutron('POST', '/v2.0/subnets', sub, alice.token)).status, 201);
      const body = { server: { name: 'nopsec', imageRef: image, flavorRef: '1', networks: [{ uuid: net }] } };
      const r = await nova(
        'POST',
        '/servers',
        { server: { ...body.server, security_groups: [] } },
        { version: '2.93' },
      );
      assert.equal(r.status, 202, JSON.stringify(r.body));
      assert.deepEqual(r.body.server.security_groups, []);
      const s = await waitFor(r.body.server.id, 'ACTIVE');
      assert.equal(s.security_groups, undefined, JSON.stringify(s.security_groups));
      const ports = (await neutron('GET', `/v2.0/ports?device_id=${r.body.server.id}`, undefined, alice.token)).body
        .ports;
      assert.deepEqual(
        ports.map((p: ApiPort) => p.security_groups),
        [[]],
      );
      assert.equal((await nova('DELETE', `/servers/${r.body.server.id}`)).status, 204);
    });

    it('os-floating-ips: pools, allocate, show, associate, heal, disassociate and release', async () => {
      const pools = await nova('GET', '/os-floating-ip-pools');
      assert.deepEqual(pools.body.floating_ip_pools, [{ name: 'public' }]);
      const fip = await nova('POST', '/os-floating-ips', { pool: 'public' });
      assert.equal(fip.status, 200, JSON.stringify(fip.body));
      const f = fip.body.floating_ip;
      assert.equal(f.pool, 'public');
      assert.equal(f.instance_id, null);
      assert.equal(f.fixed_ip, null);
      assert.match(f.ip, /^172\.24\.4\./);
      // No pool: the default (public), by id works too.
      const byDefault = await nova('POST', '/os-floating-ips', null);
      assert.equal(byDefault.status, 200, JSON.stringify(byDefault.body));
      const byId = await nova('POST', '/os-floating-ips', { pool: publicNet });
      assert.equal(byId.status, 200);
      assert.equal(msg(await nova('POST', '/os-floating-ips', { pool: 'nope' })), 'Floating IP pool not found.');
      assert.deepEqual(
        (await nova('GET', '/os-floating-ips')).body.floating_ips.map((x: WithId) => x.id).sort(),
        [f.id, byDefault.body.floating_ip.id, byId.body.floating_ip.id].sort(),
      );
      assert.deepEqual((await nova('GET', `/os-floating-ips/${f.id}`)).body.floating_ip, f);
      assert.equal(
        msg(await nova('GET', '/os-floating-ips/00000000-0000-0000-0000-000000000000')),
        'Floating IP not found for ID 00000000-0000-0000-0000-000000000000',
      );
      // Associate through the action: the floating IP shows in the server's addresses.
      const add = await nova('POST', `/servers/${server}/action`, { addFloatingIp: { address: f.ip } });
      assert.equal(add.status, 202, JSON.stringify(add.body));
      assert.equal((await nova('GET', `/os-floating-ips/${f.id}`)).body.floating_ip.instance_id, server);
      const addrs = (await show(server)).addresses.private;
      assert.deepEqual(
        addrs.map((a: ServerAddress) => a['OS-EXT-IPS:type']),
        ['fixed', 'floating'],
      );
      assert.equal(addrs[1].addr, f.ip);
      // A second floating IP on the same fixed IP: the network refuses, Nova says 400.
      assert.equal(
        (await nova('POST', `/servers/${server}/action`, { addFloatingIp: { address: byId.body.floating_ip.ip } }))
          .status,
        400,
      );
      assert.equal(
        msg(await nova('POST', `/servers/${server}/action`, { addFloatingIp: { address: '0.0.0.0' } })),
        'floating IP not found',
      );
      assert.equal((await nova('POST', `/servers/${server}/action`, { addFloatingIp: { address: '' } })).status, 400);
      assert.equal(
        msg(
          await nova('POST', `/servers/${server}/action`, {
            addFloatingIp: { address: f.ip, fixed_address: '10.99.0.1' },
          }),
        ),
        'Specified fixed address not assigned to instance',
      );
      assert.equal(
        (await nova('POST', `/servers/${server}/action`, { addFloatingIp: { address: f.ip } }, { version: '2.44' }))
          .status,
        404,
      );
      // Disassociate: the addresses lose it.
      // A floating IP on no server: Nova's policy check has no project to match (403), an admin gets the 409.
      assert.equal(
        (await nova('POST', `/servers/${server}/action`, { removeFloatingIp: { address: byId.body.floating_ip.ip } }))
          .status,
        403,
      );
      assert.equal(
        msg(
          await admin('POST', `/servers/${server}/action`, { removeFloatingIp: { address: byId.body.floating_ip.ip } }),
        ),
        `Floating IP ${byId.body.floating_ip.ip} is not associated with instance ${server}.`,
      );
      assert.equal(
        (await nova('POST', `/servers/${server}/action`, { removeFloatingIp: { address: '0.0.0.0' } })).status,
        404,
      );
      assert.equal(
        (await nova('POST', `/servers/${server}/action`, { removeFloatingIp: { address: f.ip } })).status,
        202,
      );
      assert.deepEqual(
        (await show(server)).addresses.private.map((a: ServerAddress) => a['OS-EXT-IPS:type']),
        ['fixed'],
      );
      // Associated in the network alone: the heal task brings it into the addresses.
      const port = (await neutron('GET', `/v2.0/ports?device_id=${server}`)).body.ports[0];
      assert.equal(
        (await neutron('PUT', `/v2.0/floatingips/${f.id}`, { floatingip: { port_id: port.id } }, alice.token)).status,
        200,
      );
      assert.deepEqual(
        (await show(server)).addresses.private.map((a: ServerAddress) => a['OS-EXT-IPS:type']),
        ['fixed'],
        'not seen before a heal',
      );
      const healer = new InfoCacheHealer(agent());
      const healed = await healer.run();
      assert.equal(healed, server);
      assert.deepEqual(
        (await show(server)).addresses.private.map((a: ServerAddress) => a.addr),
        [port.fixed_ips[0].ip_address, f.ip],
      );
      // Release while associated: the server's addresses lose it at once.
      assert.equal((await nova('DELETE', `/os-floating-ips/${f.id}`)).status, 202);
      assert.deepEqual(
        (await show(server)).addresses.private.map((a: ServerAddress) => a['OS-EXT-IPS:type']),
        ['fixed'],
      );
      assert.equal((await nova('DELETE', `/os-floating-ips/${f.id}`)).status, 404);
      for (const x of [byDefault, byId])
        assert.equal((await nova('DELETE', `/os-floating-ips/${x.body.floating_ip.id}`)).status, 202);
      assert.equal((await nova('GET', '/os-floating-ips', undefined, { version: '2.36' })).status, 404);
      assert.equal((await nova('GET', '/os-floating-ips-bulk')).status, 410);
      assert.equal((await nova('GET', '/os-floating-ip-dns')).status, 410);
    });

    it("os-networks and os-tenant-networks: the visible networks in nova-network's view, 410 for the rest", async () => {
      const nets = (await nova('GET', '/os-networks')).body.networks;
      const mine = nets.find((n: WithId) => n.id === privateNet);
      assert.equal(mine.label, 'private');
      assert.equal(mine.cidr, null);
      assert.equal('project_id' in mine, false, 'admin fields are for admins');
      assert.ok('project_id' in (await admin('GET', `/os-networks/${privateNet}`)).body.network);
      assert.equal(msg(await nova('GET', '/os-networks/00000000-0000-0000-0000-000000000000')), 'Network not found');
      const tenant = (await nova('GET', '/os-tenant-networks')).body.networks;
      assert.deepEqual(
        tenant.find((n: WithId) => n.id === privateNet),
        { id: privateNet, cidr: 'None', label: 'private' },
      );
      assert.deepEqual((await nova('GET', `/os-tenant-networks/${privateNet}`)).body.network, {
        id: privateNet,
        cidr: 'None',
        label: 'private',
      });
      assert.equal((await nova('GET', '/os-tenant-networks', undefined, { version: '2.36' })).status, 404);
      const gone = await nova('POST', '/os-networks', { network: { label: 'x' } });
      assert.equal(gone.status, 410);
      assert.equal(
        gone.body.computeFault.message,
        'This resource is no longer available.  No forwarding address is given.',
      );
      for (const [m, p] of [
        ['DELETE', `/os-networks/${privateNet}`],
        ['POST', '/os-networks/add'],
        ['POST', `/os-networks/${privateNet}/action`],
        ['POST', '/os-tenant-networks'],
        ['GET', '/os-fixed-ips/10.0.0.1'],
        ['GET', '/os-fping'],
        ['GET', `/servers/${server}/os-virtual-interfaces`],
      ] as const) {
        assert.equal((await nova(m, p, m === 'POST' ? {} : undefined)).status, 410, `${m} ${p}`);
      }
    });

    it("addFixedIp and removeFixedIp change the server's port (up to 2.43)", async () => {
      assert.equal(
        (await nova('POST', `/servers/${server}/action`, { addFixedIp: { networkId: privateNet } })).status,
        202,
      );
      const fixed = (await show(server)).addresses.private.filter(
        (a: ServerAddress) => a['OS-EXT-IPS:type'] === 'fixed',
      );
      assert.equal(fixed.length, 2);
      assert.equal(
        (await nova('POST', `/servers/${server}/action`, { removeFixedIp: { address: fixed[1].addr } })).status,
        202,
      );
      assert.equal((await show(server)).addresses.private.length, 1);
      assert.equal(
        (await nova('POST', `/servers/${server}/action`, { removeFixedIp: { address: 'nope' } })).status,
        400,
      );
      assert.equal(
        (
          await nova(
            'POST',
            `/servers/${server}/action`,
            { addFixedIp: { networkId: privateNet } },
            { version: '2.44' },
          )
        ).status,
        404,
      );
    });

    it('os-interface: attach by network (with a fixed IP and a tag) and by port, show, list, detach', async () => {
      const v = '2.70';
      const list = await nova('GET', `/servers/${server}/os-interface`, undefined, { version: v });
      assert.equal(list.status, 200, JSON.stringify(list.body));
      assert.equal(list.body.interfaceAttachments.length, 1);
      assert.deepEqual(Object.keys(list.body.interfaceAttachments[0]).sort(), [
        'fixed_ips',
        'mac_addr',
        'net_id',
        'port_id',
        'port_state',
        'tag',
      ]);
      const byNet = await nova(
        'POST',
        `/servers/${server}/os-interface`,
        { interfaceAttachment: { net_id: privateNet, fixed_ips: [{ ip_address: '10.20.0.77' }], tag: 'data' } },
        { version: v },
      );
      assert.equal(byNet.status, 200, JSON.stringify(byNet.body));
      const att = byNet.body.interfaceAttachment;
      assert.equal(att.net_id, privateNet);
      assert.equal(att.fixed_ips[0].ip_address, '10.20.0.77');
      assert.equal(att.tag, 'data');
      assert.ok((agent().driver as FakeDriver).interfaces(server).includes(att.port_id), 'the driver plugged it');
      const port = (
        await neutron('POST', '/v2.0/ports', { port: { network_id: privateNet, name: 'mine' } }, alice.token)
      ).body.port;
      const byPort = await nova(
        'POST',
        `/servers/${server}/os-interface`,
        { interfaceAttachment: { port_id: port.id } },
        { version: v },
      );
      assert.equal(byPort.status, 200, JSON.stringify(byPort.body));
      assert.equal(byPort.body.interfaceAttachment.tag, null);
      assert.equal(
        (await nova('GET', `/servers/${server}/os-interface/${port.id}`)).body.interfaceAttachment.port_id,
        port.id,
      );
      const s = await show(server);
      assert.equal(s.addresses.private.length, 3);
      // Errors: both ids, an IP without a network, a port in use, unknown ids, a tag before 2.49.
      const post = (body: unknown, version = v) =>
        nova('POST', `/servers/${server}/os-interface`, { interfaceAttachment: body }, { version });
      assert.equal(
        msg(await post({ net_id: privateNet, port_id: port.id })),
        'Must not input both network_id and port_id',
      );
      assert.equal(
        msg(await post({ fixed_ips: [{ ip_address: '10.20.0.78' }] })),
        'Must input network_id when request IP address',
      );
      assert.equal(msg(await post({ port_id: port.id })), `Port ${port.id} is still in use.`);
      assert.equal((await post({ port_id: '00000000-0000-0000-0000-000000000000' })).status, 404);
      assert.equal((await post({ net_id: '00000000-0000-0000-0000-000000000000' })).status, 404);
      assert.equal(
        (await post({ net_id: privateNet, fixed_ips: [{ ip_address: '10.20.0.77' }] })).status,
        409,
        'the fixed IP is taken',
      );
      assert.equal((await post({ net_id: privateNet, tag: 'x' }, '2.48')).status, 400);
      assert.equal(
        (await nova('GET', `/servers/${server}/os-interface/00000000-0000-0000-0000-000000000000`)).status,
        404,
      );
      // Detach: the port Nova made is deleted, the user's is unbound and kept.
      assert.equal((await nova('DELETE', `/servers/${server}/os-interface/${att.port_id}`)).status, 202);
      assert.equal((await nova('DELETE', `/servers/${server}/os-interface/${port.id}`)).status, 202);
      await until('ports detached', async () => (await show(server)).addresses.private.length === 1);
      assert.equal((await neutron('GET', `/v2.0/ports/${att.port_id}`)).status, 404);
      const kept = (await neutron('GET', `/v2.0/ports/${port.id}`)).body.port;
      assert.equal(kept.device_id, '');
      assert.deepEqual(
        (agent().driver as FakeDriver).interfaces(server).filter((p) => p === port.id || p === att.port_id),
        [],
      );
      const actions = (await nova('GET', `/servers/${server}/os-instance-actions`)).body.instanceActions.map(
        (a: InstanceAction) => a.action,
      );
      assert.ok(actions.includes('attach_interface') && actions.includes('detach_interface'));
      const detach = (
        await nova('GET', `/servers/${server}/os-instance-actions`, undefined, { version: '2.93' })
      ).body.instanceActions.find((a: InstanceAction) => a.action === 'detach_interface');
      const events = (
        await nova('GET', `/servers/${server}/os-instance-actions/${detach.request_id}`, undefined, { version: '2.93' })
      ).body.instanceAction.events;
      assert.deepEqual(
        events.map((e: ActionEvent) => [e.event, e.result]),
        [['compute_detach_interface', 'Success']],
      );
      assert.equal((await neutron('DELETE', `/v2.0/ports/${port.id}`)).status, 204);
    });

    it('os-interface refuses a locked server and the wrong state with 409', async () => {
      assert.equal((await nova('POST', `/servers/${server}/action`, { suspend: null })).status, 202);
      await waitFor(server, 'SUSPENDED');
      const r = await nova('POST', `/servers/${server}/os-interface`, { interfaceAttachment: { net_id: privateNet } });
      assert.equal(msg(r), `Cannot 'attach_interface' instance ${server} while it is in vm_state suspended`);
      assert.equal(
        (await nova('DELETE', `/servers/${server}/os-interface/00000000-0000-0000-0000-000000000000`)).status,
        409,
      );
      assert.equal((await nova('POST', `/servers/${server}/action`, { resume: null })).status, 202);
      await waitFor(server, 'ACTIVE');
      assert.equal((await admin('POST', `/servers/${server}/action`, { lock: null })).status, 202);
      assert.equal(
        msg(await nova('POST', `/servers/${server}/os-interface`, { interfaceAttachment: { net_id: privateNet } })),
        `Instance ${server} is locked`,
      );
      assert.equal((await admin('POST', `/servers/${server}/action`, { unlock: null })).status, 202);
      // Another project's server is not there.
      const bob = await member(c, 'bob');
      assert.equal((await nova('GET', `/servers/${server}/os-interface`, undefined, { token: bob.token })).status, 404);
    });

    it("the power-state sync writes the driver's state back and stops a guest that shut down by itself", async () => {
      const driver = agent().driver as FakeDriver;
      const id = await boot('sync');
      driver.setPowerState(id, PowerState.SHUTDOWN);
      await syncPowerStates(agent());
      const s = await waitFor(id, 'SHUTOFF');
      assert.equal(s['OS-EXT-STS:power_state'], PowerState.SHUTDOWN);
      const actions = (await nova('GET', `/servers/${id}/os-instance-actions`)).body.instanceActions.map(
        (a: InstanceAction) => a.action,
      );
      assert.ok(actions.includes('stop'));
      // Running while the database says stopped: powered off again.
      driver.setPowerState(id, PowerState.RUNNING);
      await syncPowerStates(agent());
      assert.equal(driver.powerState({ uuid: id } as Instance), PowerState.SHUTDOWN);
      assert.equal((await waitFor(id, 'SHUTOFF'))['OS-EXT-STS:power_state'], PowerState.SHUTDOWN);
      // Paused behind the agent's back: only the power state is written.
      assert.equal((await nova('POST', `/servers/${id}/action`, { 'os-start': null })).status, 202);
      await waitFor(id, 'ACTIVE');
      driver.setPowerState(id, PowerState.PAUSED);
      await syncPowerStates(agent());
      const paused = await show(id);
      assert.equal(paused.status, 'ACTIVE');
      assert.equal(paused['OS-EXT-STS:power_state'], PowerState.PAUSED);
      driver.setPowerState(id, PowerState.RUNNING);
      await syncPowerStates(agent());
      assert.equal((await show(id))['OS-EXT-STS:power_state'], PowerState.RUNNING);
    });
  });
}
