// The network layout the compute tests with addresses need, as DevStack makes it: the flat
// external network `public` (172.24.4.0/24), a private network with a subnet, and a router
// between them (its gateway on public, an interface on the private subnet).
import assert from 'node:assert/strict';
import type { TestCloud } from './cloud.ts';

export interface RoutedNetwork {
  publicNet: string;
  privateNet: string;
  privateSubnet: string;
  router: string;
}

/**
 * Makes the layout; the private network, its subnet (`cidr`) and the router belong to `token`'s
 * project (the admin's by default); `shared` shares the private network.
 */
export interface PublicNetwork {
  publicNet: string;
  publicSubnet: string;
}

/** Neutron's API of the test cloud: the answer's body, asserted 200 or 201. */
function neutronApi(c: TestCloud) {
  return async (p: string, body: unknown, token?: string, method = 'POST') => {
    const r = await c.req(method, `${c.url}/networking/v2.0${p}`, body, { token });
    assert.ok(r.status === 200 || r.status === 201, `${method} ${p}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
}

/** DevStack's flat external network `public` with its subnet 172.24.4.0/24 (the admin's). */
export async function publicNetwork(c: TestCloud, o: { enableDhcp?: boolean } = {}): Promise<PublicNetwork> {
  const neutron = neutronApi(c);
  const publicNet: string = (
    await neutron('/networks', {
      network: {
        name: 'public',
        'router:external': true,
        'provider:network_type': 'flat',
        'provider:physical_network': 'public',
      },
    })
  ).network.id;
  const dhcp = o.enableDhcp === false ? { enable_dhcp: false } : {};
  const publicSubnet: string = (
    await neutron('/subnets', { subnet: { network_id: publicNet, ip_version: 4, cidr: '172.24.4.0/24', ...dhcp } })
  ).subnet.id;
  return { publicNet, publicSubnet };
}

export async function routedNetwork(
  c: TestCloud,
  o: { cidr: string; token?: string; shared?: boolean },
): Promise<RoutedNetwork> {
  const neutron = neutronApi(c);
  const { publicNet } = await publicNetwork(c);
  const privateNet: string = (
    await neutron('/networks', { network: { name: 'private', ...(o.shared ? { shared: true } : {}) } }, o.token)
  ).network.id;
  const privateSubnet: string = (
    await neutron('/subnets', { subnet: { network_id: privateNet, ip_version: 4, cidr: o.cidr } }, o.token)
  ).subnet.id;
  const router: string = (
    await neutron('/routers', { router: { name: 'r', external_gateway_info: { network_id: publicNet } } }, o.token)
  ).router.id;
  await neutron(`/routers/${router}/add_router_interface`, { subnet_id: privateSubnet }, o.token, 'PUT');
  return { publicNet, privateNet, privateSubnet, router };
}
