// network_data.json as Nova writes it (nova/virt/netutils.py): each fixed IP's type follows its
// subnet (`ipv4_dhcp`, `ipv6_slaac`, `ipv6_dhcpv6-stateful`, `ipv6_dhcpv6-stateless`, a static
// `ipv4` where the subnet has no DHCP) with the address, netmask, routes and DNS of the static
// kinds; read from the metadata service of an in-process cloud. The same cloud (two fake hosts)
// shows the ports rebound to the server's new host after a cold migration and an unshelve
// (Nova's migrate_instance_finish / setup_networks_on_host).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud, until, uploadImage } from './lib/cloud.ts';
import type { ComputeService } from '../src/compute/service.ts';
import { signInstanceId } from '../src/core/metadata_secret.ts';
import { netmaskOf, networkData } from '../src/compute/metadata/content.ts';
import type { Instance } from '../src/compute/instances.ts';

describe('network_data.json types (unit)', () => {
  it('netmasks of IPv4 and IPv6 prefixes', () => {
    assert.equal(netmaskOf('10.0.0.0/24'), '255.255.255.0');
    assert.equal(netmaskOf('10.0.0.0/20'), '255.255.240.0');
    assert.equal(netmaskOf('0.0.0.0/0'), '0.0.0.0');
    assert.equal(netmaskOf('2001:db8::/64'), 'ffff:ffff:ffff:ffff::');
    assert.equal(netmaskOf('2001:db8::/56'), 'ffff:ffff:ffff:ff00::');
    assert.equal(netmaskOf('2001:db8::1/128'), 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff');
  });

  it('an IP whose subnet the cache does not know is DHCP (the old caches)', () => {
    const i = {
      network_info: [
        {
          port_id: 'p0000000000000',
          network_id: 'n1',
          network_label: 'n',
          mac_address: 'fa:16:3e:00:00:01',
          fixed_ips: [
            { ip_address: '10.0.0.5', subnet_id: 's4', version: 4 },
            { ip_address: '2001:db8::5', subnet_id: 's6', version: 6 },
          ],
          preserve_on_delete: false,
        },
      ],
    } as unknown as Instance;
    const nd = networkData(i) as { networks: Array<{ type: string; id: string }> };
    assert.deepEqual(
      nd.networks.map((n) => [n.id, n.type]),
      [
        ['network0', 'ipv4_dhcp'],
        ['network1', 'ipv6_dhcp'],
      ],
    );
  });
});

describe('network_data.json from the subnets, ports rebound after moves', () => {
  let c: TestCloud;
  let svc: ComputeService;
  let image: string;
  let network: string;
  let base: string;
  let hosts: string[];
  const secret = 'nd-secret';
  const nova = (method: string, p: string, body?: unknown) =>
    c.req(method, `${c.url}/compute/v2.1${p}`, body, { headers: { 'OpenStack-API-Version': 'compute 2.93' } });
  const neutron = (method: string, p: string, body?: unknown) => c.req(method, `${c.url}/networking${p}`, body);
  const show = async (id: string) => (await nova('GET', `/servers/${id}`)).body.server;
  const waitFor = (id: string, status: string) =>
    until(
      `server ${id} ${status}`,
      async () => {
        const s = await show(id);
        if (s?.status === 'ERROR' && status !== 'ERROR') throw new Error(`ERROR: ${JSON.stringify(s.fault)}`);
        return s?.status === status && !s['OS-EXT-STS:task_state'] ? s : null;
      },
      30000,
    );
  const subnet = async (body: Record<string, unknown>) => {
    const r = await neutron('POST', '/v2.0/subnets', { subnet: { network_id: network, ...body } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body.subnet as { id: string; gateway_ip: string };
  };
  const portHosts = async (id: string) =>
    ((await neutron('GET', `/v2.0/ports?device_id=${id}`)).body.ports as Array<Record<string, unknown>>).map(
      (p) => p['binding:host_id'],
    );

  before(async () => {
    c = await startCloud({
      configure: (cfg) => {
        cfg.compute = {
          ...(cfg.compute ?? {}),
          fakeHosts: 2,
          metadata: { enabled: true, port: 0, sharedSecret: secret },
        };
      },
    });
    svc = c.cloud.services.find((s) => s.catalogEntry.name === 'compute') as unknown as ComputeService;
    base = `http://127.0.0.1:${svc.parts.metadata!.port}`;
    hosts = svc.parts.agents.map((a) => a.host);
    const imageId = await uploadImage(c, 'nd', new Uint8Array(Buffer.from('nd')));
    image = imageId;
    network = (await neutron('POST', '/v2.0/networks', { network: { name: 'nd-net' } })).body.network.id;
    await until('compute nodes', async () => svc.parts.agents.every((a) => a.ready));
  });
  after(async () => {
    await c.stop();
  });

  it("types each address from its subnet's DHCP and IPv6 address mode", async () => {
    const v4 = await subnet({ ip_version: 4, cidr: '10.20.0.0/24', dns_nameservers: ['10.20.0.53'] });
    const v4static = await subnet({
      ip_version: 4,
      cidr: '10.21.0.0/24',
      enable_dhcp: false,
      host_routes: [{ destination: '192.168.7.0/24', nexthop: '10.21.0.9' }],
    });
    const slaac = await subnet({
      ip_version: 6,
      cidr: '2001:db8:1::/64',
      ipv6_address_mode: 'slaac',
      ipv6_ra_mode: 'slaac',
      dns_nameservers: ['2001:db8:1::53'],
    });
    const stateful = await subnet({ ip_version: 6, cidr: '2001:db8:2::/64', ipv6_address_mode: 'dhcpv6-stateful' });
    const stateless = await subnet({ ip_version: 6, cidr: '2001:db8:3::/64', ipv6_address_mode: 'dhcpv6-stateless' });
    const port = await neutron('POST', '/v2.0/ports', {
      port: {
        network_id: network,
        fixed_ips: [v4, v4static, slaac, stateful, stateless].map((s) => ({ subnet_id: s.id })),
      },
    });
    assert.equal(port.status, 201, JSON.stringify(port.body));
    const r = await nova('POST', '/servers', {
      server: { name: 'nd', imageRef: image, flavorRef: '1', networks: [{ port: port.body.port.id }] },
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const id = r.body.server.id as string;
    const s = await waitFor(id, 'ACTIVE');
    const res = await fetch(`${base}/openstack/latest/network_data.json`, {
      headers: {
        'X-Instance-ID': id,
        'X-Tenant-ID': s.tenant_id,
        'X-Instance-ID-Signature': signInstanceId(secret, id),
      },
    });
    assert.equal(res.status, 200);
    const nd = (await res.json()) as {
      networks: Array<Record<string, unknown>>;
      services: Array<{ type: string; address: string }>;
    };
    const byType = new Map(nd.networks.map((n) => [n.type as string, n]));
    assert.deepEqual([...byType.keys()].sort(), [
      'ipv4',
      'ipv4_dhcp',
      'ipv6_dhcpv6-stateful',
      'ipv6_dhcpv6-stateless',
      'ipv6_slaac',
    ]);
    const fixed = port.body.port.fixed_ips as Array<{ subnet_id: string; ip_address: string }>;
    const ipOf = (sub: { id: string }) => fixed.find((f) => f.subnet_id === sub.id)!.ip_address;
    // DHCP: the guest asks; nothing else said.
    assert.equal(byType.get('ipv4_dhcp')!.ip_address, undefined);
    // Static IPv4: address, netmask, default route and the subnet's host routes.
    const st = byType.get('ipv4')!;
    assert.equal(st.ip_address, ipOf(v4static));
    assert.equal(st.netmask, '255.255.255.0');
    assert.deepEqual(st.routes, [
      { network: '0.0.0.0', netmask: '0.0.0.0', gateway: v4static.gateway_ip },
      { network: '192.168.7.0', netmask: '255.255.255.0', gateway: '10.21.0.9' },
    ]);
    // The IPv6 modes carry the address (the guest's own SLAAC result) and the DNS of the subnet.
    const sl = byType.get('ipv6_slaac')!;
    assert.equal(sl.ip_address, ipOf(slaac));
    assert.equal(sl.netmask, 'ffff:ffff:ffff:ffff::');
    assert.deepEqual(sl.routes, [{ network: '::', netmask: '::', gateway: slaac.gateway_ip }]);
    assert.deepEqual(sl.services, [{ type: 'dns', address: '2001:db8:1::53' }]);
    assert.equal(byType.get('ipv6_dhcpv6-stateful')!.ip_address, ipOf(stateful));
    assert.equal(byType.get('ipv6_dhcpv6-stateless')!.ip_address, ipOf(stateless));
    assert.deepEqual(
      nd.services.map((x) => x.address),
      ['10.20.0.53', '2001:db8:1::53'],
    );
    await nova('DELETE', `/servers/${id}`);
    await until('deleted', async () => (await nova('GET', `/servers/${id}`)).status === 404);
  });

  it('rebinds the ports to the new host after a cold migration and an unshelve', async () => {
    const net2 = (await neutron('POST', '/v2.0/networks', { network: { name: 'nd-move' } })).body.network.id;
    await neutron('POST', '/v2.0/subnets', { subnet: { network_id: net2, ip_version: 4, cidr: '10.30.0.0/24' } });
    const r = await nova('POST', '/servers', {
      server: { name: 'mover', imageRef: image, flavorRef: '1', networks: [{ uuid: net2 }] },
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const id = r.body.server.id as string;
    const first = (await waitFor(id, 'ACTIVE'))['OS-EXT-SRV-ATTR:host'] as string;
    assert.deepEqual(await portHosts(id), [first]);
    const other = hosts.find((h) => h !== first)!;
    assert.equal((await nova('POST', `/servers/${id}/action`, { migrate: { host: other } })).status, 202);
    const moved = await waitFor(id, 'VERIFY_RESIZE');
    assert.equal(moved['OS-EXT-SRV-ATTR:host'], other);
    assert.deepEqual(await portHosts(id), [other]);
    assert.equal((await nova('POST', `/servers/${id}/action`, { confirmResize: null })).status, 204);
    await waitFor(id, 'ACTIVE');
    assert.deepEqual(await portHosts(id), [other]);
    // Shelved and offloaded: the ports belong to no host; unshelved to the first host: bound there.
    assert.equal((await nova('POST', `/servers/${id}/action`, { shelve: null })).status, 202);
    const shelved = await until('shelved', async () => {
      const s = await show(id);
      return s?.status?.startsWith('SHELVED') && !s['OS-EXT-STS:task_state'] ? s : null;
    });
    if (shelved.status === 'SHELVED')
      assert.equal((await nova('POST', `/servers/${id}/action`, { shelveOffload: null })).status, 202);
    await waitFor(id, 'SHELVED_OFFLOADED');
    assert.deepEqual(await portHosts(id), ['']);
    assert.equal((await nova('POST', `/servers/${id}/action`, { unshelve: { host: first } })).status, 202);
    const back = await waitFor(id, 'ACTIVE');
    assert.equal(back['OS-EXT-SRV-ATTR:host'], first);
    assert.deepEqual(await portHosts(id), [first]);
    await nova('DELETE', `/servers/${id}`);
  });
});
