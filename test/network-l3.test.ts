// The l3 family of the network service against the real HTTP API: routers with gateways,
// interfaces and extra routes, floating IPs and their association rules, floating IP pools,
// port forwardings, the auto-allocated topology, and what deleting ports and networks does to them.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { databaseEngines, startCloud, type TestCloud } from './lib/cloud.ts';
import { publicNetwork } from './lib/networks.ts';

for (const engine of databaseEngines('l3 API')) {
  describe(`network l3 (${engine.name})`, () => {
    let c: TestCloud;
    let member: string; // a member of project `proj`
    let proj: string;
    let other: string; // a member of another project
    let publicNet: string;
    let publicSubnet: string;
    const api = (p: string) => `${c.url}/networking/v2.0${p}`;
    const req = (method: string, p: string, body?: unknown, token?: string) => c.req(method, api(p), body, { token });
    const ok = async (method: string, p: string, body?: unknown, token?: string) => {
      const r = await req(method, p, body, token);
      assert.ok(r.status < 300, `${method} ${p}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    };
    const fails = async (
      status: number,
      type: string | undefined,
      method: string,
      p: string,
      body?: unknown,
      token?: string,
    ) => {
      const r = await req(method, p, body, token);
      assert.equal(r.status, status, `${method} ${p}: ${JSON.stringify(r.body)}`);
      if (type) assert.equal(r.body.NeutronError.type, type, JSON.stringify(r.body));
      return r.body?.NeutronError;
    };
    let cidrIndex = 0;
    /** A network with one IPv4 subnet in the member's project. */
    const tenantNet = async (token = member, cidr = `10.${50 + cidrIndex++}.0.0/24`) => {
      const net = (await ok('POST', '/networks', { network: { name: 'n' } }, token)).network;
      const subnet = (await ok('POST', '/subnets', { subnet: { network_id: net.id, ip_version: 4, cidr } }, token))
        .subnet;
      return { net, subnet };
    };
    const port = async (networkId: string, token = member, extra: Record<string, unknown> = {}) =>
      (await ok('POST', '/ports', { port: { network_id: networkId, ...extra } }, token)).port;
    const router = async (body: Record<string, unknown> = {}, token = member) =>
      (await ok('POST', '/routers', { router: { name: 'r', ...body } }, token)).router;
    const addIf = (routerId: string, body: unknown, token = member) =>
      req('PUT', `/routers/${routerId}/add_router_interface`, body, token);
    /** The floating IP's status once it is `want` (or after 5 s). */
    const statusBecomes = async (id: string, want: string) => {
      let status = '';
      for (let i = 0; i < 50 && status !== want; i++) {
        status = (await ok('GET', `/floatingips/${id}`)).floatingip.status;
        if (status !== want) await new Promise((r) => setTimeout(r, 100));
      }
      return status;
    };
    const removeIf = (routerId: string, body: unknown, token = member) =>
      req('PUT', `/routers/${routerId}/remove_router_interface`, body, token);

    before(async () => {
      c = await startCloud({ database: engine.database });
      const memberRole = (await c.req('GET', '/v3/roles?name=member')).body.roles[0].id;
      const user = async (name: string) => {
        const p = (await c.req('POST', '/v3/projects', { project: { name, domain_id: 'default' } })).body.project.id;
        const u = (await c.req('POST', '/v3/users', { user: { name, password: 'pw', domain_id: 'default' } })).body.user
          .id;
        await c.req('PUT', `/v3/projects/${p}/users/${u}/roles/${memberRole}`);
        return { project: p, token: await c.token({ id: u, password: 'pw' }, { project: { id: p } }) };
      };
      const m = await user('l3-member');
      member = m.token;
      proj = m.project;
      other = (await user('l3-other')).token;
      ({ publicNet, publicSubnet } = await publicNetwork(c, { enableDhcp: false }));
    });
    after(async () => {
      await c?.stop();
    });

    it('declares the L3 extensions', async () => {
      const aliases = (await ok('GET', '/extensions')).extensions.map((e: { alias: string }) => e.alias);
      for (const a of [
        'router',
        'ext-gw-mode',
        'extraroute',
        'extraroute-atomic',
        'floatingip-pools',
        'fip-port-details',
        'floating-ip-port-forwarding',
        'expose-port-forwarding-in-fip',
        'auto-allocated-topology',
      ])
        assert.ok(aliases.includes(a), a);
      assert.ok(aliases.includes('dvr') && !aliases.includes('l3-ha'), 'dvr (issue 21 #10), not l3-ha');
    });

    it('creates a router with a gateway port of no project on the external network', async () => {
      const r = await router({ external_gateway_info: { network_id: publicNet } });
      assert.equal(r.status, 'ACTIVE');
      assert.equal(r.project_id, proj);
      assert.equal(r.external_gateway_info.network_id, publicNet);
      assert.equal(r.external_gateway_info.enable_snat, true);
      assert.equal(r.external_gateway_info.external_fixed_ips[0].subnet_id, publicSubnet);
      assert.deepEqual(r.routes, []);
      assert.ok(!('distributed' in r) && !('ha' in r) && !('gw_port_id' in r), 'hidden from a project member');
      const gw = (await ok('GET', `/ports?device_id=${r.id}&device_owner=network:router_gateway`)).ports;
      assert.equal(gw.length, 1);
      assert.equal(gw[0].project_id, '');
      assert.equal(gw[0].fixed_ips[0].ip_address, r.external_gateway_info.external_fixed_ips[0].ip_address);
      // The member cannot see it, nor delete it directly.
      assert.equal((await ok('GET', `/ports?device_id=${r.id}`, undefined, member)).ports.length, 0);
      await fails(409, 'ServicePortInUse', 'DELETE', `/ports/${gw[0].id}`);
      const admin = (await ok('GET', `/routers/${r.id}`)).router;
      assert.equal(admin.distributed, false);
      assert.equal(admin.ha, false);
      // Clearing the gateway removes the port; deleting the router works.
      const cleared = (await ok('PUT', `/routers/${r.id}`, { router: { external_gateway_info: {} } }, member)).router;
      assert.equal(cleared.external_gateway_info, null);
      assert.equal((await ok('GET', `/ports?device_id=${r.id}`)).ports.length, 0);
      await ok('DELETE', `/routers/${r.id}`, undefined, member);
      await fails(404, 'RouterNotFound', 'GET', `/routers/${r.id}`);
    });

    it('checks gateways: external networks only, SNAT and fixed IPs for admins, addresses in use', async () => {
      const { net } = await tenantNet();
      const r = await router();
      assert.equal(r.external_gateway_info, null);
      let e = await fails(
        400,
        'BadRequest',
        'PUT',
        `/routers/${r.id}`,
        { router: { external_gateway_info: { network_id: net.id } } },
        member,
      );
      assert.equal(e.message, `Bad router request: Network ${net.id} is not an external network.`);
      await fails(
        404,
        'NetworkNotFound',
        'PUT',
        `/routers/${r.id}`,
        { router: { external_gateway_info: { network_id: r.id } } },
        member,
      );
      await fails(
        400,
        undefined,
        'PUT',
        `/routers/${r.id}`,
        { router: { external_gateway_info: { enable_snat: false } } },
        member,
      );
      await fails(
        403,
        'PolicyNotAuthorized',
        'PUT',
        `/routers/${r.id}`,
        { router: { external_gateway_info: { network_id: publicNet, enable_snat: false } } },
        member,
      );
      await fails(403, 'PolicyNotAuthorized', 'POST', '/routers', { router: { distributed: true } }, member);
      e = await fails(400, 'BadRequest', 'POST', '/routers', { router: { ha: true } });
      assert.match(e.message, /not supported/);
      assert.equal(
        (await ok('POST', '/routers', { router: { distributed: false, ha: false } })).router.distributed,
        false,
      );
      const snatOff = (
        await ok('PUT', `/routers/${r.id}`, {
          router: { external_gateway_info: { network_id: publicNet, enable_snat: false } },
        })
      ).router;
      assert.equal(snatOff.external_gateway_info.enable_snat, false);
      // A used address is a conflict, and the failed update leaves the gateway as it was.
      const used = await port(publicNet, c.adminToken);
      await fails(409, undefined, 'PUT', `/routers/${r.id}`, {
        router: {
          external_gateway_info: {
            network_id: publicNet,
            external_fixed_ips: [{ subnet_id: publicSubnet, ip_address: used.fixed_ips[0].ip_address }],
          },
        },
      });
      assert.deepEqual(
        (await ok('GET', `/routers/${r.id}`)).router.external_gateway_info,
        snatOff.external_gateway_info,
      );
      const fixed = (
        await ok('PUT', `/routers/${r.id}`, {
          router: {
            external_gateway_info: {
              network_id: publicNet,
              external_fixed_ips: [{ subnet_id: publicSubnet, ip_address: '172.24.4.200' }],
            },
          },
        })
      ).router;
      assert.equal(fixed.external_gateway_info.external_fixed_ips[0].ip_address, '172.24.4.200');
      e = await fails(400, 'BadRequest', 'POST', '/routers', {
        router: {
          external_gateway_info: { network_id: publicNet, external_fixed_ips: [{ ip_address: '172.24.4.1' }] },
        },
      });
      assert.equal(e.message, 'Bad router request: External IP 172.24.4.1 is the same as the gateway IP.');
    });

    it('adds and removes interfaces by subnet and by port, with upstream conflicts', async () => {
      const { net, subnet } = await tenantNet(member, '10.10.0.0/24');
      const r = await router();
      const add = await addIf(r.id, { subnet_id: subnet.id });
      assert.equal(add.status, 200, JSON.stringify(add.body));
      assert.deepEqual(Object.keys(add.body).sort(), [
        'id',
        'network_id',
        'port_id',
        'project_id',
        'subnet_id',
        'subnet_ids',
        'tags',
        'tenant_id',
      ]);
      assert.equal(add.body.subnet_id, subnet.id);
      assert.deepEqual(add.body.subnet_ids, [subnet.id]);
      const p = (await ok('GET', `/ports/${add.body.port_id}`, undefined, member)).port;
      assert.equal(p.device_id, r.id);
      assert.equal(p.device_owner, 'network:router_interface');
      assert.equal(p.fixed_ips[0].ip_address, subnet.gateway_ip);
      let e = await fails(
        400,
        'BadRequest',
        'PUT',
        `/routers/${r.id}/add_router_interface`,
        { subnet_id: subnet.id },
        member,
      );
      assert.equal(e.message, `Bad router request: Router already has a port on subnet ${subnet.id}.`);
      const overlapping = await tenantNet(member, '10.10.0.0/24');
      e = await fails(
        400,
        'BadRequest',
        'PUT',
        `/routers/${r.id}/add_router_interface`,
        { subnet_id: overlapping.subnet.id },
        member,
      );
      assert.match(e.message, /overlaps with cidr 10\.10\.0\.0\/24/);
      await fails(400, 'BadRequest', 'PUT', `/routers/${r.id}/add_router_interface`, {}, member);
      await fails(400, 'BadRequest', 'PUT', `/routers/${r.id}/add_router_interface`, { port_id: 'nope' }, member);
      await fails(409, 'RouterInUse', 'DELETE', `/routers/${r.id}`, undefined, member);
      await fails(409, 'ServicePortInUse', 'DELETE', `/ports/${p.id}`);
      // By port: the port must be free; a port already plugged is in use.
      const { net: net2 } = await tenantNet(member, '10.11.0.0/24');
      const free = await port(net2.id);
      assert.equal((await addIf(r.id, { port_id: free.id })).status, 200);
      await fails(409, 'PortInUse', 'PUT', `/routers/${r.id}/add_router_interface`, { port_id: free.id }, member);
      assert.equal(
        (await ok('GET', `/ports/${free.id}`, undefined, member)).port.device_owner,
        'network:router_interface',
      );
      // Another project can neither see the router nor plug into it.
      const theirs = await tenantNet(other, '10.12.0.0/24');
      await fails(
        404,
        'RouterNotFound',
        'PUT',
        `/routers/${r.id}/add_router_interface`,
        { subnet_id: theirs.subnet.id },
        other,
      );
      await fails(
        404,
        undefined,
        'PUT',
        `/routers/${r.id}/add_router_interface`,
        { subnet_id: theirs.subnet.id },
        member,
      );
      // Removal.
      const rm = await removeIf(r.id, { subnet_id: subnet.id });
      assert.equal(rm.status, 200, JSON.stringify(rm.body));
      assert.equal(rm.body.port_id, p.id);
      await fails(404, 'PortNotFound', 'GET', `/ports/${p.id}`);
      await fails(
        404,
        'RouterInterfaceNotFoundForSubnet',
        'PUT',
        `/routers/${r.id}/remove_router_interface`,
        { subnet_id: subnet.id },
        member,
      );
      await fails(
        404,
        'RouterInterfaceNotFound',
        'PUT',
        `/routers/${r.id}/remove_router_interface`,
        { port_id: p.id },
        member,
      );
      assert.equal((await removeIf(r.id, { port_id: free.id })).status, 200);
      await ok('DELETE', `/routers/${r.id}`, undefined, member);
      await ok('DELETE', `/networks/${net.id}`, undefined, member);
    });

    it('validates extra routes against connected subnets and edits them atomically', async () => {
      const { subnet } = await tenantNet(member, '10.20.0.0/24');
      const r = await router();
      assert.equal((await addIf(r.id, { subnet_id: subnet.id })).status, 200);
      let e = await fails(
        400,
        'InvalidRoutes',
        'PUT',
        `/routers/${r.id}`,
        { router: { routes: [{ destination: '10.99.0.0/24', nexthop: '10.30.0.5' }] } },
        member,
      );
      assert.equal(
        e.message,
        "Invalid format for routes: [{'destination': '10.99.0.0/24', 'nexthop': '10.30.0.5'}], the nexthop is not connected with router",
      );
      e = await fails(
        400,
        'InvalidRoutes',
        'PUT',
        `/routers/${r.id}`,
        { router: { routes: [{ destination: '10.99.0.0/24', nexthop: '10.20.0.1' }] } },
        member,
      );
      assert.match(e.message, /the nexthop is used by router/);
      await fails(
        400,
        'HTTPBadRequest',
        'PUT',
        `/routers/${r.id}`,
        { router: { routes: [{ destination: '10.99.0.1/24', nexthop: '10.20.0.5' }] } },
        member,
      );
      const routes = (
        await ok(
          'PUT',
          `/routers/${r.id}`,
          { router: { routes: [{ destination: '10.99.0.0/24', nexthop: '10.20.0.5' }] } },
          member,
        )
      ).router.routes;
      assert.deepEqual(routes, [{ destination: '10.99.0.0/24', nexthop: '10.20.0.5' }]);
      let atomic = (
        await ok(
          'PUT',
          `/routers/${r.id}/add_extraroutes`,
          {
            router: {
              routes: [
                { destination: '10.99.0.0/24', nexthop: '10.20.0.5' },
                { destination: '10.98.0.0/24', nexthop: '10.20.0.6' },
              ],
            },
          },
          member,
        )
      ).router;
      assert.equal(atomic.routes.length, 2);
      await fails(
        409,
        'RouterInterfaceInUseByRoute',
        'PUT',
        `/routers/${r.id}/remove_router_interface`,
        { subnet_id: subnet.id },
        member,
      );
      atomic = (
        await ok(
          'PUT',
          `/routers/${r.id}/remove_extraroutes`,
          {
            router: {
              routes: [
                { destination: '10.99.0.0/24', nexthop: '10.20.0.5' },
                { destination: '10.1.0.0/24', nexthop: '10.20.0.9' },
              ],
            },
          },
          member,
        )
      ).router;
      assert.deepEqual(atomic.routes, [{ destination: '10.98.0.0/24', nexthop: '10.20.0.6' }]);
      assert.deepEqual((await ok('PUT', `/routers/${r.id}`, { router: { routes: null } }, member)).router.routes, []);
      assert.equal((await removeIf(r.id, { subnet_id: subnet.id })).status, 200);
    });

    it('allocates, associates and dissociates floating IPs as upstream', async () => {
      const { net, subnet } = await tenantNet(member, '10.40.0.0/24');
      const p1 = await port(net.id);
      const p2 = await port(net.id);
      // No router between the subnet and the external network yet.
      const e = await fails(
        404,
        'ExternalGatewayForFloatingIPNotFound',
        'POST',
        '/floatingips',
        { floatingip: { floating_network_id: publicNet, port_id: p1.id } },
        member,
      );
      assert.equal(
        e.message,
        `External network ${publicNet} is not reachable from subnet ${subnet.id}.  Therefore, cannot associate Port ${p1.id} with a Floating IP.`,
      );
      assert.equal(
        (await ok('GET', `/ports?network_id=${publicNet}&device_owner=network:floatingip`)).ports.length,
        0,
        'nothing left behind',
      );
      const r = await router({ external_gateway_info: { network_id: publicNet } });
      assert.equal((await addIf(r.id, { subnet_id: subnet.id })).status, 200);
      const fip = (
        await ok('POST', '/floatingips', { floatingip: { floating_network_id: publicNet, port_id: p1.id } }, member)
      ).floatingip;
      assert.equal(fip.router_id, r.id);
      assert.equal(fip.port_id, p1.id);
      assert.equal(fip.fixed_ip_address, p1.fixed_ips[0].ip_address);
      // DOWN until the L3 agent (the in-process logical one here) reports it ACTIVE.
      assert.equal(fip.status, 'DOWN');
      assert.equal(await statusBecomes(fip.id, 'ACTIVE'), 'ACTIVE');
      assert.equal(fip.project_id, proj);
      assert.match(fip.floating_ip_address, /^172\.24\.4\./);
      assert.deepEqual(fip.port_forwardings, []);
      assert.equal(fip.port_details.mac_address, p1.mac_address);
      assert.equal(fip.port_details.network_id, net.id);
      const fport = (await ok('GET', `/ports?device_id=${fip.id}`)).ports[0];
      assert.equal(fport.device_owner, 'network:floatingip');
      assert.equal(fport.project_id, '');
      // One floating IP per fixed IP.
      const fip2 = (await ok('POST', '/floatingips', { floatingip: { floating_network_id: publicNet } }, member))
        .floatingip;
      assert.equal(fip2.status, 'DOWN');
      assert.equal(fip2.port_details, null);
      await fails(
        409,
        'FloatingIPPortAlreadyAssociated',
        'PUT',
        `/floatingips/${fip2.id}`,
        { floatingip: { port_id: p1.id } },
        member,
      );
      await fails(
        400,
        'BadRequest',
        'PUT',
        `/floatingips/${fip2.id}`,
        { floatingip: { fixed_ip_address: '10.40.0.9' } },
        member,
      );
      await fails(400, 'BadRequest', 'POST', '/floatingips', { floatingip: { floating_network_id: net.id } }, member);
      await fails(
        403,
        'PolicyNotAuthorized',
        'POST',
        '/floatingips',
        { floatingip: { floating_network_id: publicNet, floating_ip_address: '172.24.4.77' } },
        member,
      );
      // Moving, keeping on update of other attributes, clearing with an empty body.
      let moved = (await ok('PUT', `/floatingips/${fip.id}`, { floatingip: { port_id: p2.id } }, member)).floatingip;
      assert.equal(moved.port_id, p2.id);
      moved = (await ok('PUT', `/floatingips/${fip.id}`, { floatingip: { description: 'd2' } }, member)).floatingip;
      assert.equal(moved.port_id, p2.id);
      moved = (await ok('PUT', `/floatingips/${fip.id}`, { floatingip: {} }, member)).floatingip;
      assert.equal(moved.port_id, null);
      assert.equal(moved.router_id, null);
      assert.equal(await statusBecomes(fip.id, 'DOWN'), 'DOWN');
      // Deleting the port dissociates; the gateway cannot go while a floating IP needs it.
      await ok('PUT', `/floatingips/${fip.id}`, { floatingip: { port_id: p2.id } }, member);
      await fails(
        409,
        'RouterExternalGatewayInUseByFloatingIp',
        'PUT',
        `/routers/${r.id}`,
        { router: { external_gateway_info: {} } },
        member,
      );
      await fails(
        409,
        'RouterInterfaceInUseByFloatingIP',
        'PUT',
        `/routers/${r.id}/remove_router_interface`,
        { subnet_id: subnet.id },
        member,
      );
      await ok('DELETE', `/ports/${p2.id}`, undefined, member);
      const after = (await ok('GET', `/floatingips/${fip.id}`, undefined, member)).floatingip;
      assert.equal(after.port_id, null);
      assert.equal(after.fixed_ip_address, null);
      assert.equal(after.router_id, null);
      // Admins see all floating IPs, others only theirs; pools list the external IPv4 subnets.
      assert.equal((await ok('GET', '/floatingips', undefined, other)).floatingips.length, 0);
      assert.ok((await ok('GET', '/floatingips')).floatingips.some((f: { id: string }) => f.id === fip.id));
      const pools = (await ok('GET', '/floatingip-pools', undefined, member)).floatingip_pools;
      assert.deepEqual(
        pools.find((x: { subnet_id: string }) => x.subnet_id === publicSubnet),
        {
          subnet_id: publicSubnet,
          subnet_name: '',
          tenant_id: proj,
          project_id: proj,
          network_id: publicNet,
          cidr: '172.24.4.0/24',
        },
      );
      await ok('DELETE', `/floatingips/${fip.id}`, undefined, member);
      await ok('DELETE', `/floatingips/${fip2.id}`, undefined, member);
      assert.equal((await ok('GET', `/ports?network_id=${publicNet}&device_owner=network:floatingip`)).ports.length, 0);
      assert.equal((await removeIf(r.id, { subnet_id: subnet.id })).status, 200);
      await ok('DELETE', `/routers/${r.id}`, undefined, member);
    });

    it('forwards ports of a free floating IP, with collisions and association conflicts', async () => {
      const { net, subnet } = await tenantNet(member, '10.60.0.0/24');
      const r = await router({ external_gateway_info: { network_id: publicNet } });
      assert.equal((await addIf(r.id, { subnet_id: subnet.id })).status, 200);
      const p1 = await port(net.id),
        p2 = await port(net.id);
      const fip = (await ok('POST', '/floatingips', { floatingip: { floating_network_id: publicNet } }, member))
        .floatingip;
      const base = `/floatingips/${fip.id}/port_forwardings`;
      const pf = (
        await ok(
          'POST',
          base,
          {
            port_forwarding: {
              internal_port_id: p1.id,
              internal_ip_address: p1.fixed_ips[0].ip_address,
              internal_port: 1111,
              external_port: 2222,
              protocol: 'tcp',
            },
          },
          member,
        )
      ).port_forwarding;
      assert.deepEqual(pf, {
        id: pf.id,
        internal_port_id: p1.id,
        internal_ip_address: p1.fixed_ips[0].ip_address,
        internal_port: 1111,
        external_port: 2222,
        protocol: 'tcp',
        description: '',
        internal_port_range: '1111:1111',
        external_port_range: '2222:2222',
      });
      assert.deepEqual((await ok('GET', base, undefined, member)).port_forwardings, [pf]);
      const shown = (await ok('GET', `/floatingips/${fip.id}`, undefined, member)).floatingip;
      assert.equal(shown.router_id, r.id);
      assert.deepEqual(shown.port_forwardings, [
        {
          id: pf.id,
          internal_ip_address: pf.internal_ip_address,
          protocol: 'tcp',
          internal_port_id: p1.id,
          internal_port: 1111,
          external_port: 2222,
        },
      ]);
      await fails(
        400,
        'BadRequest',
        'POST',
        base,
        {
          port_forwarding: {
            internal_port_id: p2.id,
            internal_ip_address: p2.fixed_ips[0].ip_address,
            internal_port: 3333,
            external_port: 2222,
            protocol: 'tcp',
          },
        },
        member,
      );
      await fails(
        400,
        'BadRequest',
        'POST',
        base,
        {
          port_forwarding: {
            internal_port_id: p1.id,
            internal_ip_address: p1.fixed_ips[0].ip_address,
            internal_port: 1111,
            external_port: 5555,
            protocol: 'tcp',
          },
        },
        member,
      );
      await fails(
        400,
        'HTTPBadRequest',
        'POST',
        base,
        {
          port_forwarding: {
            internal_port_id: p1.id,
            internal_ip_address: p1.fixed_ips[0].ip_address,
            internal_port: 1,
            external_port: 333333,
            protocol: 'tcp',
          },
        },
        member,
      );
      await fails(
        400,
        'HTTPBadRequest',
        'PUT',
        `${base}/${pf.id}`,
        { port_forwarding: { external_port: 108343 } },
        member,
      );
      await fails(400, 'PortForwardingNotSupportFilterField', 'GET', `${base}?internal_port=1111`, undefined, member);
      const range = (
        await ok(
          'POST',
          base,
          {
            port_forwarding: {
              internal_port_id: p2.id,
              internal_ip_address: p2.fixed_ips[0].ip_address,
              internal_port_range: '100:110',
              external_port_range: '3100:3110',
              protocol: 'udp',
              description: 'r',
            },
          },
          member,
        )
      ).port_forwarding;
      assert.equal(range.external_port, null);
      assert.equal(range.external_port_range, '3100:3110');
      await fails(
        400,
        'BadRequest',
        'POST',
        base,
        {
          port_forwarding: {
            internal_port_id: p2.id,
            internal_ip_address: p2.fixed_ips[0].ip_address,
            internal_port_range: '100:105',
            external_port_range: '4100:4110',
            protocol: 'udp',
          },
        },
        member,
      );
      const updated = (await ok('PUT', `${base}/${pf.id}`, { port_forwarding: { internal_port: 3333 } }, member))
        .port_forwarding;
      assert.equal(updated.internal_port, 3333);
      assert.equal(updated.external_port, 2222);
      // The floating IP serves forwardings: no association, no deletion; another project sees nothing.
      await fails(
        409,
        'FipInUseByPortForwarding',
        'PUT',
        `/floatingips/${fip.id}`,
        { floatingip: { port_id: p1.id } },
        member,
      );
      await fails(409, 'FipInUseByPortForwarding', 'DELETE', `/floatingips/${fip.id}`, undefined, member);
      await fails(404, 'FloatingIPNotFound', 'GET', base, undefined, other);
      // A port with a floating IP of its own cannot be forwarded to; an associated floating IP cannot forward.
      const p3 = await port(net.id);
      const assoc = (
        await ok('POST', '/floatingips', { floatingip: { floating_network_id: publicNet, port_id: p3.id } }, member)
      ).floatingip;
      await fails(
        409,
        'PortHasBindingFloatingIP',
        'POST',
        base,
        {
          port_forwarding: {
            internal_port_id: p3.id,
            internal_ip_address: p3.fixed_ips[0].ip_address,
            internal_port: 22,
            external_port: 2022,
            protocol: 'tcp',
          },
        },
        member,
      );
      await fails(
        409,
        'FloatingIPPortAlreadyAssociated',
        'POST',
        `/floatingips/${assoc.id}/port_forwardings`,
        {
          port_forwarding: {
            internal_port_id: p1.id,
            internal_ip_address: p1.fixed_ips[0].ip_address,
            internal_port: 22,
            external_port: 2022,
            protocol: 'tcp',
          },
        },
        member,
      );
      // Deleting the internal port deletes its forwardings.
      await ok('DELETE', `/ports/${p2.id}`, undefined, member);
      assert.equal((await ok('GET', base, undefined, member)).port_forwardings.length, 1);
      await ok('DELETE', `${base}/${pf.id}`, undefined, member);
      await fails(404, 'PortForwardingNotFound', 'GET', `${base}/${pf.id}`, undefined, member);
      assert.equal((await ok('GET', `/floatingips/${fip.id}`, undefined, member)).floatingip.router_id, null);
      await ok('DELETE', `/floatingips/${fip.id}`, undefined, member);
    });

    it('deletes the unassociated floating IPs of an external network that goes away', async () => {
      const ext = (await ok('POST', '/networks', { network: { name: 'ext2', 'router:external': true } })).network;
      await ok('POST', '/subnets', { subnet: { network_id: ext.id, ip_version: 4, cidr: '192.0.2.0/24' } });
      const fip = (await ok('POST', '/floatingips', { floatingip: { floating_network_id: ext.id } })).floatingip;
      const r = await router({ external_gateway_info: { network_id: ext.id } }, c.adminToken);
      await fails(409, 'ExternalNetworkInUse', 'PUT', `/networks/${ext.id}`, { network: { 'router:external': false } });
      await ok('PUT', `/routers/${r.id}`, { router: { external_gateway_info: null } });
      await ok('DELETE', `/networks/${ext.id}`);
      await fails(404, 'FloatingIPNotFound', 'GET', `/floatingips/${fip.id}`);
    });

    it('allocates a project topology once (get-me-a-network) and removes it', async () => {
      await fails(409, 'AutoAllocationFailure', 'GET', '/auto-allocated-topology/None', undefined, member);
      await ok('POST', '/subnetpools', {
        subnetpool: {
          name: 'default-v4',
          prefixes: ['10.128.0.0/16'],
          default_prefixlen: 26,
          is_default: true,
          shared: true,
        },
      });
      await fails(
        409,
        'AutoAllocationFailure',
        'GET',
        `/auto-allocated-topology/${proj}?fields=dry-run`,
        undefined,
        member,
      );
      await ok('PUT', `/networks/${publicNet}`, { network: { is_default: true } });
      assert.deepEqual(
        (await ok('GET', `/auto-allocated-topology/${proj}?fields=dry-run`, undefined, member)).auto_allocated_topology,
        { id: 'dry-run=pass', tenant_id: proj, project_id: proj },
      );
      await fails(403, 'NotAuthorized', 'GET', `/auto-allocated-topology/${proj}`, undefined, other);
      const t = (await ok('GET', `/auto-allocated-topology/${proj}`, undefined, member)).auto_allocated_topology;
      assert.equal(t.tenant_id, proj);
      const net = (await ok('GET', `/networks/${t.id}`, undefined, member)).network;
      assert.equal(net.name, 'auto_allocated_network');
      assert.equal(net.admin_state_up, true);
      assert.equal((await ok('GET', '/subnets?name=auto_allocated_subnet_v4', undefined, member)).subnets.length, 1);
      const rs = (await ok('GET', '/routers?name=auto_allocated_router', undefined, member)).routers;
      assert.equal(rs.length, 1);
      assert.equal(rs[0].external_gateway_info.network_id, publicNet);
      assert.equal(
        (await ok('GET', `/auto-allocated-topology/${proj}`, undefined, member)).auto_allocated_topology.id,
        t.id,
      );
      assert.equal((await req('DELETE', `/auto-allocated-topology/${proj}`, undefined, member)).status, 204);
      await fails(404, 'NetworkNotFound', 'GET', `/networks/${t.id}`);
      assert.equal((await ok('GET', '/routers?name=auto_allocated_router')).routers.length, 0);
    });

    it('keeps one interface per subnet and one floating IP per fixed IP under concurrent requests', async () => {
      const { net, subnet } = await tenantNet(member, '10.70.0.0/24');
      const r = await router({ external_gateway_info: { network_id: publicNet } });
      const adds = await Promise.all(Array.from({ length: 6 }, () => addIf(r.id, { subnet_id: subnet.id })));
      assert.deepEqual(adds.map((a) => a.status).sort(), [200, 400, 400, 400, 400, 400]);
      assert.equal((await ok('GET', `/ports?device_id=${r.id}&device_owner=network:router_interface`)).ports.length, 1);
      const p = await port(net.id);
      const fips = await Promise.all(
        Array.from({ length: 6 }, () =>
          ok('POST', '/floatingips', { floatingip: { floating_network_id: publicNet } }, member),
        ),
      );
      const assoc = await Promise.all(
        fips.map((f) => req('PUT', `/floatingips/${f.floatingip.id}`, { floatingip: { port_id: p.id } }, member)),
      );
      assert.deepEqual(assoc.map((a) => a.status).sort(), [200, 409, 409, 409, 409, 409]);
      assert.equal((await ok('GET', `/floatingips?port_id=${p.id}`, undefined, member)).floatingips.length, 1);
      for (const f of fips) await ok('DELETE', `/floatingips/${f.floatingip.id}`, undefined, member);
      assert.equal((await removeIf(r.id, { subnet_id: subnet.id })).status, 200);
      await ok('DELETE', `/routers/${r.id}`, undefined, member);
    });

    it('counts routers and floating IPs against the project quota', async () => {
      await ok('PUT', `/quotas/${proj}`, { quota: { router: 1 } });
      const existing = (await ok('GET', '/routers', undefined, member)).routers.length;
      if (existing === 0) await router();
      await fails(409, 'OverQuota', 'POST', '/routers', { router: {} }, member);
      await ok('PUT', `/quotas/${proj}`, { quota: { router: -1 } });
    });
  });
}
