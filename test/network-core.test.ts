// The network service's core family against the real HTTP API: networks (segments, MTU,
// sharing through RBAC, visibility, deletion), subnets (gateway, pools, overlap, IPv6 modes),
// subnet pools and address scopes, ports (IPAM errors, MAC, filters, DNS, bindings), network
// IP availability, and IPAM under concurrency on SQLite and PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ApiPort, FixedIp, WithId } from './lib/api-types.ts';
import { startCloud, databaseEngines, type TestCloud, member, type ApiAnswer } from './lib/cloud.ts';
import { networkService } from './lib/services.ts';

for (const engine of databaseEngines('network core')) {
  describe(`network core (${engine.name})`, () => {
    let c: TestCloud;
    let alice: { project: string; token: string };
    let bob: { project: string; token: string };
    const req = (method: string, p: string, body?: unknown, token?: string) =>
      c.req(method, `${c.url}/networking${p}`, body, { token });
    const net = async (body: Record<string, unknown> = {}, token?: string) => {
      const r = await req('POST', '/v2.0/networks', { network: { name: 'n', ...body } }, token);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.network;
    };
    const subnet = async (body: Record<string, unknown>, token?: string) => {
      const r = await req('POST', '/v2.0/subnets', { subnet: { ip_version: 4, ...body } }, token);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.subnet;
    };
    const port = async (body: Record<string, unknown>, token?: string) => {
      const r = await req('POST', '/v2.0/ports', { port: body }, token);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.port;
    };
    const error = (r: ApiAnswer, status: number, type: string) => {
      assert.equal(r.status, status, JSON.stringify(r.body));
      assert.equal(r.body.NeutronError.type, type, JSON.stringify(r.body));
    };

    before(async () => {
      // A configured flat physnet (the default, Neutron's '*', accepts any).
      c = await startCloud({ database: engine.database, configure: (cfg) => (cfg.network.flatNetworks = ['public']) });
      alice = await member(c, 'alice');
      bob = await member(c, 'bob');
    });
    after(async () => {
      await c.stop();
    });

    it('creates project networks on VXLAN with the next free VNI and its MTU, flat ones on a configured physnet', async () => {
      const a = await net();
      assert.equal(a.status, 'ACTIVE');
      assert.equal(a.mtu, 1450);
      assert.equal(a['provider:network_type'], 'vxlan');
      const b = await net();
      assert.equal(b['provider:segmentation_id'], a['provider:segmentation_id'] + 1);
      assert.equal(a.shared, false);
      assert.deepEqual(a.subnets, []);
      // A member sees no provider attributes.
      const mine = await net({}, alice.token);
      assert.equal(mine['provider:network_type'], undefined);
      assert.equal(mine.project_id, alice.project);
      const flat = await net({ 'provider:network_type': 'flat', 'provider:physical_network': 'public' });
      assert.equal(flat.mtu, 1500);
      error(
        await req('POST', '/v2.0/networks', {
          network: { 'provider:network_type': 'flat', 'provider:physical_network': 'public' },
        }),
        409,
        'FlatNetworkInUse',
      );
      error(
        await req('POST', '/v2.0/networks', {
          network: { 'provider:network_type': 'flat', 'provider:physical_network': 'nowhere' },
        }),
        400,
        'InvalidInput',
      );
      error(
        await req('POST', '/v2.0/networks', {
          network: { 'provider:network_type': 'vxlan', 'provider:segmentation_id': a['provider:segmentation_id'] },
        }),
        409,
        'TunnelIdInUse',
      );
      error(await req('POST', '/v2.0/networks', { network: { 'provider:network_type': 'vlan' } }), 400, 'InvalidInput');
      error(
        await req('POST', '/v2.0/networks', { network: { 'provider:network_type': 'flat' } }, alice.token),
        403,
        'PolicyNotAuthorized',
      );
      error(await req('POST', '/v2.0/networks', { network: { mtu: 9000 } }), 400, 'InvalidInput');
      const multi = await net({
        segments: [
          { 'provider:network_type': 'vxlan', 'provider:segmentation_id': 4000 },
          { 'provider:network_type': 'local' },
        ],
      });
      assert.equal(multi.segments.length, 2);
      assert.equal(multi['provider:network_type'], undefined);
      const segs = await req('GET', `/v2.0/segments?network_id=${multi.id}`);
      assert.deepEqual(segs.body.segments.map((s: { network_type: string }) => s.network_type).sort(), [
        'local',
        'vxlan',
      ]);
      // Segments of their own: a VNI taken by a network is refused, a subnet on a segment keeps it.
      const extra = await req('POST', '/v2.0/segments', {
        segment: { network_id: multi.id, network_type: 'vxlan', segmentation_id: 4001, name: 'third' },
      });
      assert.equal(extra.status, 201, JSON.stringify(extra.body));
      assert.equal(extra.body.segment.segmentation_id, 4001);
      assert.equal(extra.body.segment.revision_number, 0);
      error(
        await req('POST', '/v2.0/segments', {
          segment: { network_id: a.id, network_type: 'vxlan', segmentation_id: 4001 },
        }),
        409,
        'TunnelIdInUse',
      );
      error(
        await req('GET', `/v2.0/segments/${extra.body.segment.id}`, undefined, alice.token),
        404,
        'SegmentNotFound',
      );
      const onSeg = await subnet({ network_id: multi.id, cidr: '10.44.0.0/24', segment_id: extra.body.segment.id });
      error(
        await req('POST', '/v2.0/subnets', { subnet: { network_id: multi.id, ip_version: 4, cidr: '10.45.0.0/24' } }),
        400,
        'SubnetsNotAllAssociatedWithSegments',
      );
      error(await req('DELETE', `/v2.0/segments/${extra.body.segment.id}`), 409, 'SegmentInUse');
      const gone = await req('DELETE', `/v2.0/subnets/${onSeg.id}`);
      assert.equal(gone.status, 204, JSON.stringify(gone.body));
      assert.equal((await req('DELETE', `/v2.0/segments/${extra.body.segment.id}`)).status, 204);
      assert.equal(
        (await req('PUT', `/v2.0/networks/${mine.id}`, { network: { mtu: 1280 } }, alice.token)).body.network.mtu,
        1280,
      );
      // A deleted network gives its VNI back.
      assert.equal((await req('DELETE', `/v2.0/networks/${multi.id}`)).status, 204);
      assert.equal(
        (await net({ 'provider:network_type': 'vxlan', 'provider:segmentation_id': 4000 }))['provider:segmentation_id'],
        4000,
      );
    });

    it('shares networks through RBAC, hides private ones, and refuses to unshare a network others use', async () => {
      const priv = await net({}, alice.token);
      error(await req('GET', `/v2.0/networks/${priv.id}`, undefined, bob.token), 404, 'NetworkNotFound');
      error(await req('POST', '/v2.0/ports', { port: { network_id: priv.id } }, bob.token), 404, 'NetworkNotFound');
      error(
        await req('POST', '/v2.0/networks', { network: { shared: true } }, alice.token),
        403,
        'PolicyNotAuthorized',
      );
      const shared = await net({ shared: true });
      assert.equal(shared.shared, true);
      const seen = await req('GET', `/v2.0/networks?shared=true`, undefined, bob.token);
      assert.ok(seen.body.networks.some((n: WithId) => n.id === shared.id));
      assert.ok(
        !(await req('GET', '/v2.0/networks', undefined, bob.token)).body.networks.some((n: WithId) => n.id === priv.id),
      );
      const s = await subnet({ network_id: shared.id, cidr: '10.55.0.0/24' });
      const bobsPort = await port({ network_id: shared.id }, bob.token);
      assert.equal(bobsPort.fixed_ips[0].subnet_id, s.id);
      // Bob sees the shared subnet, not a private one.
      assert.equal((await req('GET', `/v2.0/subnets/${s.id}`, undefined, bob.token)).status, 200);
      error(
        await req('PUT', `/v2.0/networks/${shared.id}`, { network: { shared: false } }),
        409,
        'InvalidSharedSetting',
      );
      assert.equal((await req('DELETE', `/v2.0/ports/${bobsPort.id}`, undefined, bob.token)).status, 204);
      const unshared = await req('PUT', `/v2.0/networks/${shared.id}`, { network: { shared: false } });
      assert.equal(unshared.body.network.shared, false);
      error(await req('GET', `/v2.0/networks/${shared.id}`, undefined, bob.token), 404, 'NetworkNotFound');
      // External networks are visible to all, their subnets are not.
      const ext = await net({ 'router:external': true });
      const extSubnet = await subnet({ network_id: ext.id, cidr: '172.24.9.0/24' });
      assert.equal(
        (await req('GET', `/v2.0/networks/${ext.id}`, undefined, bob.token)).body.network['router:external'],
        true,
      );
      error(await req('GET', `/v2.0/subnets/${extSubnet.id}`, undefined, bob.token), 404, 'SubnetNotFound');
      // ... and a member cannot put a port on another project's external network.
      assert.equal((await req('POST', '/v2.0/ports', { port: { network_id: ext.id } }, bob.token)).status, 404);
    });

    it('deletes a network with its subnets and network-owned ports, not while other ports use it', async () => {
      const n = await net();
      const s = await subnet({ network_id: n.id, cidr: '10.60.0.0/24', enable_dhcp: false });
      const dhcp = await port({ network_id: n.id, device_owner: 'network:dhcp' });
      assert.equal(dhcp.fixed_ips[0].ip_address, '10.60.0.2', 'DHCP ports take the first free address');
      const p = await port({ network_id: n.id });
      const r = await req('DELETE', `/v2.0/networks/${n.id}`);
      error(r, 409, 'NetworkInUse');
      assert.match(r.body.NeutronError.message, new RegExp(p.id));
      error(await req('DELETE', `/v2.0/subnets/${s.id}`), 409, 'SubnetInUse');
      await req('DELETE', `/v2.0/ports/${p.id}`);
      assert.equal((await req('DELETE', `/v2.0/networks/${n.id}`)).status, 204);
      error(await req('GET', `/v2.0/subnets/${s.id}`), 404, 'SubnetNotFound');
      error(await req('GET', `/v2.0/ports/${dhcp.id}`), 404, 'PortNotFound');
    });

    it('validates subnets as upstream: gateway, pools, overlap, DNS servers, IPv6 modes', async () => {
      const n = await net();
      const s = await subnet({
        network_id: n.id,
        cidr: '10.70.0.5/24',
        dns_nameservers: ['8.8.8.8'],
        host_routes: [{ destination: '10.9.0.0/16', nexthop: '10.70.0.9' }],
      });
      assert.equal(s.cidr, '10.70.0.0/24');
      assert.equal(s.gateway_ip, '10.70.0.1');
      assert.deepEqual(s.allocation_pools, [{ start: '10.70.0.2', end: '10.70.0.254' }]);
      const overlap = await req('POST', '/v2.0/subnets', {
        subnet: { network_id: n.id, ip_version: 4, cidr: '10.70.0.128/25' },
      });
      error(overlap, 400, 'InvalidInput');
      assert.match(overlap.body.NeutronError.message, /overlaps with another subnet/);
      const post = (body: Record<string, unknown>) =>
        req('POST', '/v2.0/subnets', { subnet: { network_id: n.id, ip_version: 4, cidr: '10.71.0.0/24', ...body } });
      error(
        await post({ gateway_ip: '10.71.0.5', allocation_pools: [{ start: '10.71.0.2', end: '10.71.0.10' }] }),
        409,
        'GatewayConflictWithAllocationPools',
      );
      error(
        await post({ allocation_pools: [{ start: '10.71.0.2', end: '10.71.1.10' }] }),
        400,
        'OutOfBoundsAllocationPool',
      );
      error(
        await post({
          allocation_pools: [
            { start: '10.71.0.2', end: '10.71.0.20' },
            { start: '10.71.0.10', end: '10.71.0.30' },
          ],
        }),
        409,
        'OverlappingAllocationPools',
      );
      error(await post({ gateway_ip: '10.71.0.255' }), 400, 'InvalidInput');
      error(
        await post({ dns_nameservers: ['1.1.1.1', '1.1.1.2', '1.1.1.3', '1.1.1.4', '1.1.1.5', '1.1.1.6'] }),
        400,
        'DNSNameServersExhausted',
      );
      error(await post({ dns_nameservers: ['1.1.1.1', '1.1.1.1'] }), 400, 'HTTPBadRequest');
      error(await post({ cidr: 'nonsense' }), 400, 'HTTPBadRequest');
      error(await post({ ip_version: 6 }), 400, 'InvalidInput');
      error(await post({ ipv6_ra_mode: 'slaac' }), 400, 'InvalidInput');
      const nogw = await subnet({ network_id: n.id, cidr: '10.72.0.0/29', gateway_ip: null });
      assert.equal(nogw.gateway_ip, null);
      assert.deepEqual(nogw.allocation_pools, [{ start: '10.72.0.1', end: '10.72.0.6' }]);
      const v6 = await subnet({
        network_id: n.id,
        ip_version: 6,
        cidr: '2001:db8:1::/64',
        ipv6_ra_mode: 'slaac',
        ipv6_address_mode: 'slaac',
      });
      // Neutron's default IPv6 gateway is network+1 (prefix::1), not the subnet-router anycast address.
      assert.equal(v6.gateway_ip, '2001:db8:1::1');
      assert.deepEqual(v6.allocation_pools, [{ start: '2001:db8:1::2', end: '2001:db8:1:0:ffff:ffff:ffff:ffff' }]);
      error(
        await req('POST', '/v2.0/subnets', {
          subnet: { network_id: n.id, ip_version: 6, cidr: '2001:db8:2::/80', ipv6_address_mode: 'slaac' },
        }),
        400,
        'InvalidInput',
      );
      const p = await port({ network_id: n.id, mac_address: 'fa:16:3e:00:00:01' });
      const v6ip = p.fixed_ips.find((f: FixedIp) => f.subnet_id === v6.id);
      assert.equal(v6ip.ip_address, '2001:db8:1:0:f816:3eff:fe00:1', 'SLAAC address from the MAC (EUI-64)');
      assert.equal(p.fixed_ips.length, 2, 'one IPv4 address (first subnet with room) and the SLAAC one');
      // Updating the gateway into the pools is refused; the pools follow an update.
      error(
        await req('PUT', `/v2.0/subnets/${s.id}`, { subnet: { gateway_ip: '10.70.0.7' } }),
        409,
        'GatewayConflictWithAllocationPools',
      );
      const upd = await req('PUT', `/v2.0/subnets/${s.id}`, {
        subnet: { gateway_ip: '10.70.0.254', allocation_pools: [{ start: '10.70.0.10', end: '10.70.0.20' }] },
      });
      assert.equal(upd.status, 200, JSON.stringify(upd.body));
      assert.deepEqual(upd.body.subnet.allocation_pools, [{ start: '10.70.0.10', end: '10.70.0.20' }]);
      // A SLAAC subnet goes away under its ports (their auto addresses with it).
      assert.equal((await req('DELETE', `/v2.0/subnets/${v6.id}`)).status, 204);
      assert.equal((await req('GET', `/v2.0/ports/${p.id}`)).body.port.fixed_ips.length, 1);
      // A subnet on the network bumps its revision.
      assert.ok((await req('GET', `/v2.0/networks/${n.id}`)).body.network.revision_number > n.revision_number);
    });

    it('allocates port addresses as upstream, with its errors', async () => {
      const n = await net();
      const s = await subnet({
        network_id: n.id,
        cidr: '10.80.0.0/29',
        enable_dhcp: false,
        allocation_pools: [{ start: '10.80.0.2', end: '10.80.0.4' }],
      });
      const a = await port({ network_id: n.id, fixed_ips: [{ ip_address: '10.80.0.3' }] });
      assert.deepEqual(a.fixed_ips, [{ subnet_id: s.id, ip_address: '10.80.0.3' }]);
      error(
        await req('POST', '/v2.0/ports', { port: { network_id: n.id, fixed_ips: [{ ip_address: '10.80.0.3' }] } }),
        409,
        'IpAddressAlreadyAllocated',
      );
      error(
        await req('POST', '/v2.0/ports', { port: { network_id: n.id, fixed_ips: [{ ip_address: '10.99.0.3' }] } }),
        400,
        'InvalidIpForNetwork',
      );
      error(
        await req('POST', '/v2.0/ports', {
          port: { network_id: n.id, fixed_ips: [{ subnet_id: s.id, ip_address: '10.80.0.7' }] },
        }),
        400,
        'InvalidIpForSubnet',
      );
      error(
        await req('POST', '/v2.0/ports', { port: { network_id: n.id, mac_address: a.mac_address } }),
        409,
        'MacAddressInUse',
      );
      // Outside the pools but inside the cidr is allowed when asked for.
      await port({ network_id: n.id, fixed_ips: [{ ip_address: '10.80.0.6' }] });
      await port({ network_id: n.id });
      await port({ network_id: n.id });
      const full = await req('POST', '/v2.0/ports', { port: { network_id: n.id } });
      error(full, 409, 'IpAddressGenerationFailure');
      assert.equal(full.body.NeutronError.message, `No more IP addresses available on network ${n.id}.`);
      // Nothing of the failed port is left.
      assert.equal((await req('GET', `/v2.0/ports?network_id=${n.id}`)).body.ports.length, 4);
      // Updating fixed_ips releases what is not named again.
      const moved = await req('PUT', `/v2.0/ports/${a.id}`, { port: { fixed_ips: [{ ip_address: '10.80.0.5' }] } });
      assert.deepEqual(moved.body.port.fixed_ips, [{ subnet_id: s.id, ip_address: '10.80.0.5' }]);
      const reuse = await port({ network_id: n.id, fixed_ips: [{ ip_address: '10.80.0.3' }] });
      assert.equal(reuse.fixed_ips[0].ip_address, '10.80.0.3');
      const filtered = await req('GET', '/v2.0/ports?fixed_ips=ip_address%3D10.80.0.5');
      assert.deepEqual(
        filtered.body.ports.map((p: ApiPort) => p.id),
        [a.id],
      );
      const substr = await req('GET', `/v2.0/ports?network_id=${n.id}&fixed_ips=ip_address_substr%3D10.80.0.`);
      assert.equal(substr.body.ports.length, 5);
      const bySubnet = await req('GET', `/v2.0/ports?fixed_ips=subnet_id%3D${s.id}&fields=id`);
      assert.equal(bySubnet.body.ports.length, 5);
      assert.deepEqual(Object.keys(bySubnet.body.ports[0]), ['id']);
      // A port with fixed_ips [] has none (ip_allocation none).
      const bare = await port({ network_id: n.id, fixed_ips: [] });
      assert.deepEqual(bare.fixed_ips, []);
      assert.equal(bare.ip_allocation, 'none');
    });

    it('keeps port attributes: DNS assignment, address pairs, DHCP options, bindings, status, tags', async () => {
      const n = await net();
      // The pool leaves out .250, so no random draw takes the address the bulk creates below ask for.
      await subnet({
        network_id: n.id,
        cidr: '10.90.0.0/24',
        allocation_pools: [{ start: '10.90.0.2', end: '10.90.0.200' }],
      });
      const p = await port({
        network_id: n.id,
        dns_name: 'Web1',
        allowed_address_pairs: [{ ip_address: '10.90.0.0/28' }],
        extra_dhcp_opts: [{ opt_name: 'bootfile-name', opt_value: 'pxelinux.0' }],
        tags: ['a', 'b'],
      });
      assert.equal(p.status, 'DOWN');
      assert.equal(p.dns_name, 'web1');
      assert.equal(p.dns_assignment[0].hostname, 'web1');
      assert.equal(p.dns_assignment[0].fqdn, 'web1.openstacklocal.');
      assert.deepEqual(p.allowed_address_pairs, [{ ip_address: '10.90.0.0/28', mac_address: p.mac_address }]);
      assert.deepEqual(p.extra_dhcp_opts, [{ opt_name: 'bootfile-name', opt_value: 'pxelinux.0', ip_version: 4 }]);
      assert.deepEqual(p.tags, ['a', 'b']);
      assert.equal(p['binding:vif_type'], 'unbound');
      const u = await req('PUT', `/v2.0/ports/${p.id}`, {
        port: {
          dns_name: '',
          extra_dhcp_opts: [
            { opt_name: 'bootfile-name', opt_value: null },
            { opt_name: 'tftp-server', opt_value: '10.0.0.1' },
          ],
          'binding:host_id': 'compute-1',
        },
      });
      assert.equal(u.status, 200, JSON.stringify(u.body));
      assert.equal(u.body.port.dns_assignment[0].hostname, `host-${p.fixed_ips[0].ip_address.replace(/\./g, '-')}`);
      assert.deepEqual(
        u.body.port.extra_dhcp_opts.map((o: { opt_name: string }) => o.opt_name),
        ['tftp-server'],
      );
      assert.equal(u.body.port['binding:host_id'], 'compute-1');
      assert.notEqual(u.body.port['binding:vif_type'], 'unbound', 'a host makes the binder choose a VIF type');
      error(
        await req('PUT', `/v2.0/ports/${p.id}`, { port: { 'binding:host_id': 'x' } }, alice.token),
        404,
        'PortNotFound',
      );
      // port-mac-address-regenerate
      const fresh = await port({ network_id: n.id });
      const regen = await req('PUT', `/v2.0/ports/${fresh.id}`, { port: { mac_address: null } });
      assert.match(regen.body.port.mac_address, /^fa:16:3e:/);
      assert.notEqual(regen.body.port.mac_address, fresh.mac_address);
      // Router ports go through the router API, not DELETE /ports.
      const member = await port({ network_id: n.id, device_owner: 'compute:nova', device_id: 'vm-1' });
      assert.equal((await req('DELETE', `/v2.0/ports/${member.id}`)).status, 204);
      // Bulk with wrapped items, created atomically.
      const bulk = await req('POST', '/v2.0/ports', {
        ports: [
          { port: { network_id: n.id, name: 'b1' } },
          { port: { network_id: n.id, fixed_ips: [{ ip_address: '10.90.0.250' }] } },
        ],
      });
      assert.equal(bulk.status, 201, JSON.stringify(bulk.body));
      const before = (await req('GET', `/v2.0/ports?network_id=${n.id}`)).body.ports.length;
      error(
        await req('POST', '/v2.0/ports', {
          ports: [
            { network_id: n.id, name: 'ok' },
            { network_id: n.id, fixed_ips: [{ ip_address: '10.90.0.250' }] },
          ],
        }),
        409,
        'IpAddressAlreadyAllocated',
      );
      assert.equal((await req('GET', `/v2.0/ports?network_id=${n.id}`)).body.ports.length, before);
    });

    it('answers a port create with the port as a show then reads it (the view is built from what the create wrote)', async () => {
      const n = await net();
      const s4 = await subnet({ network_id: n.id, cidr: '10.91.0.0/24' });
      const s6 = await subnet({
        network_id: n.id,
        ip_version: 6,
        cidr: 'fd00:91::/64',
        ipv6_address_mode: 'slaac',
        ipv6_ra_mode: 'slaac',
      });
      const sgs = await Promise.all(
        ['z', 'a'].map(
          async (name) =>
            (await req('POST', '/v2.0/security-groups', { security_group: { name } })).body.security_group.id,
        ),
      );
      const mine = await net({}, alice.token);
      await subnet({ network_id: mine.id, cidr: '10.92.0.0/24' }, alice.token);
      const cases: Array<[Record<string, unknown>, string?]> = [
        [{ network_id: n.id }],
        [{ network_id: mine.id, name: 'member' }, alice.token],
        [
          {
            network_id: n.id,
            name: 'full',
            description: 'd',
            fixed_ips: [{ subnet_id: s4.id }, { ip_address: '10.91.0.3' }, { subnet_id: s4.id }],
            tags: ['b', 'a'],
            security_groups: sgs,
            allowed_address_pairs: [{ ip_address: '10.91.0.0/28' }],
            extra_dhcp_opts: [{ opt_name: 'tftp-server', opt_value: '10.0.0.1' }],
            dns_name: 'web',
            device_owner: 'compute:nova',
            device_id: 'vm-9',
            'binding:profile': { k: 'v' },
            'binding:vnic_type': 'normal',
          },
        ],
        [{ network_id: n.id, port_security_enabled: false }],
        [
          {
            network_id: n.id,
            device_owner: 'network:router_interface',
            device_id: 'r-1',
            fixed_ips: [{ subnet_id: s6.id }],
          },
        ],
        [{ network_id: n.id, 'binding:host_id': 'compute-9', fixed_ips: [] }],
      ];
      for (const [body, token] of cases) {
        const created = await port(body, token);
        const shown = await req('GET', `/v2.0/ports/${created.id}`, undefined, token);
        assert.equal(shown.status, 200);
        assert.deepEqual(created, shown.body.port, JSON.stringify(body));
      }
    });

    it('carves subnets out of subnet pools, within bounds and quota, and keeps address scopes disjoint', async () => {
      const pool = await req(
        'POST',
        '/v2.0/subnetpools',
        {
          subnetpool: {
            name: 'p',
            prefixes: ['10.100.0.0/24', '10.100.1.0/24'],
            min_prefixlen: 26,
            max_prefixlen: 28,
            default_quota: 100,
          },
        },
        alice.token,
      );
      assert.equal(pool.status, 201, JSON.stringify(pool.body));
      const sp = pool.body.subnetpool;
      assert.deepEqual(sp.prefixes, ['10.100.0.0/23']);
      assert.equal(sp.default_prefixlen, '26');
      assert.equal(sp.ip_version, 4);
      const n = await net({}, alice.token);
      const a = await subnet({ network_id: n.id, subnetpool_id: sp.id }, alice.token);
      assert.equal(a.cidr, '10.100.0.0/26');
      assert.equal(a.gateway_ip, '10.100.0.1');
      const b = await subnet({ network_id: n.id, subnetpool_id: sp.id, prefixlen: 28 }, alice.token);
      assert.equal(b.cidr, '10.100.0.64/28');
      error(
        await req(
          'POST',
          '/v2.0/subnets',
          { subnet: { network_id: n.id, ip_version: 4, subnetpool_id: sp.id, prefixlen: 24 } },
          alice.token,
        ),
        400,
        'MinPrefixSubnetAllocationError',
      );
      // 64 + 16 addresses used of a quota of 100: another /26 would pass it.
      error(
        await req(
          'POST',
          '/v2.0/subnets',
          { subnet: { network_id: n.id, ip_version: 4, subnetpool_id: sp.id } },
          alice.token,
        ),
        409,
        'SubnetPoolQuotaExceeded',
      );
      error(
        await req(
          'POST',
          '/v2.0/subnets',
          { subnet: { network_id: n.id, ip_version: 4, cidr: '10.200.0.0/24' } },
          alice.token,
        ),
        400,
        'NetworkSubnetPoolAffinityError',
      );
      error(await req('DELETE', `/v2.0/subnetpools/${sp.id}`, undefined, alice.token), 400, 'SubnetPoolDeleteError');
      error(
        await req('PUT', `/v2.0/subnetpools/${sp.id}`, { subnetpool: { prefixes: ['10.100.0.0/24'] } }, alice.token),
        400,
        'IllegalSubnetPoolPrefixUpdate',
      );
      const added = await req(
        'PUT',
        `/v2.0/subnetpools/${sp.id}/add_prefixes`,
        { prefixes: ['10.100.2.0/24'] },
        alice.token,
      );
      assert.deepEqual(added.body, { prefixes: ['10.100.0.0/23', '10.100.2.0/24'] });
      const removed = await req(
        'PUT',
        `/v2.0/subnetpools/${sp.id}/remove_prefixes`,
        { prefixes: ['10.100.1.0/24'] },
        alice.token,
      );
      assert.deepEqual(removed.body, { prefixes: ['10.100.0.0/24', '10.100.2.0/24'] });
      error(
        await req('PUT', `/v2.0/subnetpools/${sp.id}/remove_prefixes`, { prefixes: ['10.100.0.0/25'] }, alice.token),
        400,
        'IllegalSubnetPoolPrefixUpdate',
      );
      // Address scopes: same IP version, disjoint pools, not deletable while used.
      const scope = (
        await req('POST', '/v2.0/address-scopes', { address_scope: { name: 's', ip_version: 4 } }, alice.token)
      ).body.address_scope;
      assert.equal(scope.shared, false);
      assert.equal(scope.description, undefined, 'address scopes have no standard attributes');
      const p1 = await req(
        'POST',
        '/v2.0/subnetpools',
        { subnetpool: { name: 'p1', prefixes: ['20.0.0.0/16'], address_scope_id: scope.id } },
        alice.token,
      );
      assert.equal(p1.status, 201, JSON.stringify(p1.body));
      error(
        await req(
          'POST',
          '/v2.0/subnetpools',
          { subnetpool: { name: 'p2', prefixes: ['20.0.128.0/17'], address_scope_id: scope.id } },
          alice.token,
        ),
        409,
        'AddressScopePrefixConflict',
      );
      error(
        await req(
          'POST',
          '/v2.0/subnetpools',
          { subnetpool: { name: 'p3', prefixes: ['2001:db8::/48'], address_scope_id: scope.id } },
          alice.token,
        ),
        400,
        'IllegalSubnetPoolIpVersionAssociationToAddressScope',
      );
      error(
        await req(
          'POST',
          '/v2.0/subnetpools',
          { subnetpool: { name: 'p4', prefixes: ['30.0.0.0/16'], address_scope_id: scope.id } },
          bob.token,
        ),
        404,
        'AddressScopeNotFound',
      );
      error(await req('DELETE', `/v2.0/address-scopes/${scope.id}`, undefined, alice.token), 409, 'AddressScopeInUse');
      error(
        await req(
          'POST',
          '/v2.0/address-scopes',
          { address_scope: { name: 's', ip_version: 4, shared: true } },
          alice.token,
        ),
        403,
        'PolicyNotAuthorized',
      );
      // One default pool per IP version.
      assert.equal(
        (
          await req('POST', '/v2.0/subnetpools', {
            subnetpool: { name: 'd4', prefixes: ['40.0.0.0/8'], is_default: true, shared: true },
          })
        ).status,
        201,
      );
      error(
        await req('POST', '/v2.0/subnetpools', {
          subnetpool: { name: 'd4b', prefixes: ['41.0.0.0/8'], is_default: true },
        }),
        400,
        'InvalidInput',
      );
      const n2 = await net({}, bob.token);
      const fromDefault = await subnet({ network_id: n2.id, use_default_subnetpool: true, prefixlen: 24 }, bob.token);
      assert.equal(fromDefault.cidr, '40.0.0.0/24');
    });

    it('reports network IP availability with exact totals, for admins only', async () => {
      const n = await net();
      await subnet({ network_id: n.id, cidr: '10.110.0.0/24', enable_dhcp: false });
      await subnet({
        network_id: n.id,
        ip_version: 6,
        cidr: '2001:db8:9::/64',
        gateway_ip: '2001:db8:9::1',
        enable_dhcp: false,
      });
      await port({ network_id: n.id });
      const r = await fetch(`${c.url}/networking/v2.0/network-ip-availabilities/${n.id}`, {
        headers: { 'X-Auth-Token': c.adminToken },
      });
      const text = await r.text();
      assert.match(text, /"total_ips":18446744073709551614[,}]/, 'the IPv6 /64 pool size, exactly');
      const body = JSON.parse(text).network_ip_availability;
      assert.equal(body.used_ips, 2);
      assert.equal(body.subnet_ip_availability.find((s: { ip_version: number }) => s.ip_version === 4).total_ips, 253);
      error(await req('GET', '/v2.0/network-ip-availabilities', undefined, alice.token), 403, 'PolicyNotAuthorized');
      error(
        await req('GET', '/v2.0/network-ip-availabilities/00000000-0000-0000-0000-000000000000'),
        404,
        'NetworkNotFound',
      );
    });

    it('never gives one address twice: 1,000 ports created 32 at a time on one /16', async () => {
      const svc = networkService(c);
      const n = await net();
      const s = await subnet({ network_id: n.id, cidr: '10.120.0.0/16', enable_dhcp: false });
      // Spread over 16 projects so that the per-project quota lock does not serialize them on PostgreSQL.
      let next = 0;
      const ids: string[] = [];
      const worker = async () => {
        while (next < 1000) {
          const i = next++;
          const r = await req('POST', '/v2.0/ports', {
            port: { network_id: n.id, project_id: `ipam-project-${i % 16}` },
          });
          assert.equal(r.status, 201, JSON.stringify(r.body));
          ids.push(r.body.port.id);
        }
      };
      await Promise.all(Array.from({ length: 32 }, worker));
      assert.equal(ids.length, 1000);
      const dup = await svc.db
        .selectFrom('ipallocations')
        .select(['ip_address', (eb) => eb.fn.countAll().as('n')])
        .where('subnet_id', '=', s.id)
        .groupBy('ip_address')
        .having((eb) => eb(eb.fn.countAll(), '>', 1))
        .execute();
      assert.deepEqual(dup, []);
      const rows = await svc.db
        .selectFrom('ipallocations')
        .select(['ip_address', 'port_id'])
        .where('subnet_id', '=', s.id)
        .execute();
      assert.equal(rows.length, 1000);
      assert.equal(new Set(rows.map((r) => r.ip_address)).size, 1000);
      assert.equal(new Set(rows.map((r) => r.port_id)).size, 1000);
      // Through the API too: every port has exactly one address, all distinct.
      const listed = (await req('GET', `/v2.0/ports?network_id=${n.id}&fields=fixed_ips`)).body.ports;
      assert.equal(listed.length, 1000);
      assert.equal(new Set(listed.map((p: { fixed_ips: FixedIp[] }) => p.fixed_ips[0].ip_address)).size, 1000);
    });
  });
}
