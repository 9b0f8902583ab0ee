// What the info cache keeps of a fixed IP's subnet (Nova's network model Subnet with its meta:
// cidr, gateway, dns, host routes, `dhcp_server` and `ipv6_address_mode`), read from the network
// service when a vif is built, so that network_data.json can say how the guest configures
// each address (nova/virt/netutils.py): `ipv4_dhcp`/`ipv6_dhcp` where a DHCP server answers,
// `ipv6_slaac`/`ipv6_dhcpv6-stateful`/`ipv6_dhcpv6-stateless` from the subnet's address mode,
// and a static `ipv4`/`ipv6` otherwise.
import type { NetworkClient } from '../core/clients/network.ts';

export interface SubnetMeta {
  cidr: string;
  gateway_ip: string | null;
  enable_dhcp: boolean;
  ipv6_address_mode: string | null;
  dns_nameservers: string[];
  host_routes: Array<{ destination: string; nexthop: string }>;
}

const str = (v: unknown): string | null => (typeof v === 'string' && v ? v : null);

/** The subnets' details by id; a subnet the network service does not answer for is left out. */
export async function subnetMetas(network: NetworkClient, ids: string[]): Promise<Map<string, SubnetMeta>> {
  const out = new Map<string, SubnetMeta>();
  const want = [...new Set(ids.filter(Boolean))];
  if (!want.length) return out;
  for (const id of want) {
    // A failure leaves the subnet out (network_data.json then falls back to DHCP).
    const r = await network.listSubnets({ id }).catch(() => undefined);
    const s = r?.status === 200 ? r.body.subnets?.find((x) => x.id === id) : undefined;
    if (!s) continue;
    out.set(s.id, {
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
    });
  }
  return out;
}
