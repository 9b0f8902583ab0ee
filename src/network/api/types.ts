// The views of the network resources as the API layer (api/resource.ts) holds them: one type per
// resource, with every attribute its own family declares and those other families add to it
// (security groups add `security_groups` to ports, QoS `qos_policy_id`, ...). A ResourceSpec<V>'s
// hooks see a V, and `svc.resource('ports')` answers a ResourceApi<PortResource>: a misspelt
// attribute does not compile. A create hook's `values` are typed as the view they become (the
// attributes the client gave, the defaults and what the hooks before it set).
//
// ResourceViews names the type of each plural. The families not typed yet (see the README) map to
// the untyped View through its index signature.
import type { BaseView, View } from './resource.ts';
import type { FixedIpRequest } from '../ipam.ts';

/** A standard resource owned by a project. */
export type Owned = BaseView & { project_id: string; tenant_id?: string };

/** A fixed IP of a port (what IPAM allocated: both keys). */
export interface FixedIpView {
  subnet_id: string;
  ip_address: string;
}

/** An allowed address pair as stored (the MAC defaults to the port's). */
export interface AddressPairView {
  ip_address: string;
  mac_address?: string;
}

/** A DHCP option as stored (see ExtraDhcpOpt); an update's `opt_value: null` removes the option. */
export interface DhcpOptView {
  opt_name: string;
  opt_value: string | null;
  ip_version: number;
}

/** A trunk parent port's trunk_details. */
export interface TrunkDetails {
  trunk_id: string;
  sub_ports: Array<{
    port_id: string;
    segmentation_type: string;
    segmentation_id: number;
    mac_address?: string;
  }>;
}

export type PortResource = Owned & {
  name: string;
  network_id: string;
  admin_state_up: boolean;
  mac_address: string;
  /** On create and update: what the client asked for (an address or a subnet or both). */
  fixed_ips: FixedIpView[];
  device_id: string;
  device_owner: string;
  status: string;
  'binding:host_id': string;
  'binding:vnic_type': string;
  'binding:profile': Record<string, unknown>;
  'binding:vif_type': string;
  'binding:vif_details': Record<string, unknown>;
  allowed_address_pairs: AddressPairView[];
  extra_dhcp_opts: DhcpOptView[];
  dns_name: string;
  dns_domain: string;
  dns_assignment?: Array<{ ip_address: string; hostname: string; fqdn: string }>;
  propagate_uplink_status: boolean;
  ip_allocation: string | null;
  // security groups (security_groups.ts)
  security_groups: string[];
  port_security_enabled: boolean;
  // QoS (qos.ts)
  qos_policy_id: string | null;
  qos_network_policy_id?: string | null;
  // trunks (trunks.ts): only on a trunk's parent port
  trunk_details?: TrunkDetails;
};

/** A network segment as a network's view shows it (provider attributes, one per segment). */
export interface ProviderSegment {
  'provider:network_type': string;
  'provider:physical_network': string | null;
  'provider:segmentation_id': number | null;
}

export type NetworkResource = Owned &
  Partial<ProviderSegment> & {
    name: string;
    admin_state_up: boolean;
    status: string;
    subnets: string[];
    shared: boolean;
    mtu: number;
    'router:external': boolean;
    is_default: boolean;
    /** Multi-segment networks show their segments instead of the provider attributes; on create, the request's. */
    segments?: ProviderSegment[];
    dns_domain: string;
    ipv4_address_scope: string | null;
    ipv6_address_scope: string | null;
    l2_adjacency: boolean;
    // security groups (security_groups.ts)
    port_security_enabled: boolean;
    // QoS (qos.ts)
    qos_policy_id: string | null;
    // availability zones (agents.ts)
    availability_zone_hints: string[];
    availability_zones: string[];
  };

export interface AllocationPool {
  start: string;
  end: string;
}
export interface HostRoute {
  destination: string;
  nexthop: string;
}

export type SubnetResource = Owned & {
  name: string;
  network_id: string;
  ip_version: number;
  /** null on a create that asks a subnet pool for one. */
  cidr: string;
  /** Create only (a prefix length from the subnet pool); never shown. */
  prefixlen?: number;
  subnetpool_id: string | null;
  /** Create only; never shown. */
  use_default_subnetpool?: boolean;
  gateway_ip: string | null;
  allocation_pools: AllocationPool[];
  dns_nameservers: string[];
  host_routes: HostRoute[];
  enable_dhcp: boolean;
  ipv6_ra_mode: string | null;
  ipv6_address_mode: string | null;
  segment_id: string | null;
  service_types: string[];
  /** Its network's sharing (for the policy; never shown). */
  shared: boolean;
};

/** A router's gateway (external_gateway_info): as shown, or as a create or update asks for it. */
export interface GatewayInfo {
  network_id: string;
  enable_snat?: boolean;
  /** As shown: both keys; as asked for: either or both. */
  external_fixed_ips?: FixedIpRequest[];
}

export type RouterResource = Owned & {
  name: string;
  admin_state_up: boolean;
  status: string;
  external_gateway_info: GatewayInfo | null;
  routes: HostRoute[];
  ha: boolean | null;
  availability_zone_hints: string[];
  /** Never shown: external_gateway_info says it. */
  gw_port_id: string | null;
  enable_snat: boolean;
  // DVR and flavors (router_extra.ts)
  distributed: boolean | null;
  flavor_id: string | null;
  // availability zones (agents.ts)
  availability_zones: string[];
  // l3-conntrack-helper (conntrack_helpers.ts)
  conntrack_helpers: Array<{ protocol: string; port: number; helper: string }>;
};

/** What a floating IP shows of its port (fip-port-details). */
export interface FloatingIpPortDetails {
  name: string;
  network_id: string;
  mac_address: string;
  admin_state_up: boolean;
  status: string;
  device_id: string;
  device_owner: string;
}

export type FloatingIpResource = Owned & {
  floating_ip_address: string;
  /** Create only: the subnet of the external network to take the address from; never shown. */
  subnet_id?: string | null;
  floating_network_id: string;
  router_id: string | null;
  port_id: string | null;
  fixed_ip_address: string | null;
  status: string;
  /** Never shown. */
  floating_port_id: string;
  port_details: FloatingIpPortDetails | null;
  port_forwardings: Array<Record<string, unknown>>;
  // dns-integration (l3.ts)
  dns_name: string;
  dns_domain: string;
  // QoS (qos.ts)
  qos_policy_id: string | null;
};

/** The type of each resource's view, by its plural (the key of svc.resource()). */
export interface ResourceViews {
  ports: PortResource;
  networks: NetworkResource;
  subnets: SubnetResource;
  routers: RouterResource;
  floatingips: FloatingIpResource;
  [plural: string]: View;
}
