// What the info cache keeps of a fixed IP's subnet (Nova's network model Subnet with its meta:
// cidr, gateway, dns, host routes, `dhcp_server` and `ipv6_address_mode`), read from the network
// service when a vif is built, so that network_data.json can say how the guest configures
// each address (nova/virt/netutils.py): `ipv4_dhcp`/`ipv6_dhcp` where a DHCP server answers,
// `ipv6_slaac`/`ipv6_dhcpv6-stateful`/`ipv6_dhcpv6-stateless` from the subnet's address mode,
// and a static `ipv4`/`ipv6` otherwise.
import type { NetworkClient, Subnet } from '../core/clients/network.ts';

export interface SubnetMeta {
  cidr: string;
  gateway_ip: string | null;
  enable_dhcp: boolean;
  ipv6_address_mode: string | null;
  dns_nameservers: string[];
  host_routes: Array<{ destination: string; nexthop: string }>;
}

const str = (v: unknown): string | null => (typeof v === 'string' && v ? v : null);

/** What the info cache keeps of a subnet of the network service's answer. */
function metaOf(s: Subnet): SubnetMeta {
  return {
    cidr: str(s.cidr) ?? '',
    gateway_ip: str(s.gateway_ip),
    enable_dhcp: s.enable_dhcp !== false,
    ipv6_address_mode: str(s.ipv6_address_mode),
    dns_nameservers: Array.isArray(s.dns_nameservers)
      ? s.dns_nameservers.filter((d): d is string => typeof d === 'string')
      : [],
    host_routes: Array.isArray(s.host_routes)
      ? (s.host_routes as Array<{ destination?: unknown; nexthop?: unknown }>)
          .filter((h) => typeof h.destination === 'string' && typeof h.nexthop === 'string')
          .map((h) => ({ destination: h.destination as string, nexthop: h.nexthop as string }))
      : [],
  };
}

/**
 * The subnets' details by id; a subnet the network service does not answer for is left out.
 * `known`: details already read (a network's subnets, read while its port was being created).
 */
export async function subnetMetas(
  network: NetworkClient,
  ids: string[],
  known?: Map<string, SubnetMeta>,
): Promise<Map<string, SubnetMeta>> {
  const out = new Map<string, SubnetMeta>();
  const want = [...new Set(ids.filter(Boolean))];
  if (!want.length) return out;
  for (const id of want) {
    const k = known?.get(id);
    if (k) {
      out.set(id, k);
      continue;
    }
    // A failure leaves the subnet out (network_data.json then falls back to DHCP).
    const r = await network.listSubnets({ id }).catch(() => undefined);
    const s = r?.status === 200 ? r.body.subnets?.find((x) => x.id === id) : undefined;
    if (!s) continue;
    out.set(s.id, metaOf(s));
  }
  return out;
}

/**
 * The details of every subnet of a network (empty when the network service does not answer):
 * read beside the create of a port on it, whose answer names its subnets, so that the build
 * does not wait for one more round trip after it.
 */
export async function networkSubnetMetas(network: NetworkClient, networkId: string): Promise<Map<string, SubnetMeta>> {
  const out = new Map<string, SubnetMeta>();
  const r = await network.listSubnets({ network_id: networkId }).catch(() => undefined);
  if (r?.status !== 200) return out;
  for (const s of r.body.subnets ?? []) if (s.network_id === networkId) out.set(s.id, metaOf(s));
  return out;
}
