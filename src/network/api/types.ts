// The views of the network resources as the API layer (api/resource.ts) holds them: one type per
// resource, with every attribute its own family declares and those other families add to it
// (security groups add `security_groups` to ports, QoS `qos_policy_id`, ...). A ResourceSpec<V>'s
// hooks see a V, and `svc.resource('ports')` answers a ResourceApi<PortResource>: a misspelt
// attribute does not compile. A create hook's `values` are typed as the view they become (the
// attributes the client gave, the defaults and what the hooks before it set).
//
// ResourceViews names the type of each plural.
import type { BaseView } from './resource.ts';
import type { FixedIpRequest } from '../ipam.ts';
import type { SegmentRequest } from './segments.ts';

/** A standard resource owned by a project (the create sets the standard attributes before its hooks run). */
export type Owned = BaseView & {
  project_id: string;
  tenant_id?: string;
  description: string;
  created_at: string;
  updated_at: string;
  revision_number: number;
};

/** A fixed IP of a port (what IPAM allocated: both keys). */
export interface FixedIpView {
  subnet_id: string;
  ip_address: string;
}

/** An allowed address pair as stored (a create or update fills the MAC in with the port's). */
export interface AddressPairView {
  ip_address: string;
  mac_address: string;
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
    segments?: ProviderSegment[] | SegmentRequest[];
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

export type SecurityGroupRuleResource = Owned & {
  security_group_id: string;
  remote_group_id: string | null;
  remote_address_group_id: string | null;
  /** 'ingress' or 'egress'. */
  direction: string;
  protocol: string | null;
  port_range_min: number | null;
  port_range_max: number | null;
  /** 'IPv4' or 'IPv6'. */
  ethertype: string;
  remote_ip_prefix: string | null;
  normalized_cidr: string | null;
  /** The group's project (for the policy; never shown). */
  sg_project_id?: string | null;
};

export type SecurityGroupResource = Owned & {
  name: string;
  stateful: boolean;
  shared: boolean;
  security_group_rules: Array<Omit<SecurityGroupRuleResource, 'sg_project_id'>>;
};

export type SubnetPoolResource = Owned & {
  name: string;
  prefixes: string[];
  default_quota: number | null;
  ip_version: number;
  /** Shown as strings, as upstream's _make_subnetpool_dict does. */
  default_prefixlen: number | string;
  min_prefixlen: number | string;
  max_prefixlen: number | string;
  is_default: boolean;
  shared: boolean;
  address_scope_id: string | null;
};

/** An address scope: owned, not a standard resource (no description, timestamps, revision or tags). */
export type AddressScopeResource = {
  id: string;
  project_id: string;
  tenant_id?: string;
  name: string;
  shared: boolean;
  ip_version: number;
};

/** A segment: a standard resource with no owner. */
export type SegmentResource = Omit<BaseView, 'project_id' | 'tenant_id'> & {
  network_id: string;
  name: string | null;
  network_type: string;
  physical_network: string | null;
  segmentation_id: number | null;
  /** Never shown. */
  segment_index: number;
  is_dynamic: boolean;
  allocation: string | null;
};

/** An RBAC policy: owned, with timestamps (never shown) but no revision or tags. */
export type RbacPolicyResource = {
  id: string;
  project_id: string;
  tenant_id?: string;
  object_type: string;
  object_id: string;
  target_tenant: string;
  action: string;
  created_at?: string;
  updated_at?: string;
};

/** A port forwarding of a floating IP: neither owned nor standard (a description only). */
export type PortForwardingResource = {
  id: string;
  /** Accepted on create and unused (a port forwarding has no project of its own). */
  project_id?: string;
  tenant_id?: string;
  floatingip_id: string;
  external_port: number | null;
  internal_port: number | null;
  external_port_range: string | null;
  internal_port_range: string | null;
  internal_ip_address: string;
  protocol: string;
  internal_port_id: string;
  description: string;
  /** The stored ranges (never shown: the four above say them). */
  internal_port_start: number;
  internal_port_end: number;
  external_port_start: number;
  external_port_end: number;
};

/** A conntrack helper of a router: neither owned nor standard. */
export type ConntrackHelperResource = {
  id: string;
  /** Accepted on create and unused. */
  project_id?: string;
  tenant_id?: string;
  router_id: string;
  protocol: string;
  port: number;
  helper: string;
};

export interface SubportView {
  port_id: string;
  segmentation_type: string;
  segmentation_id: number;
}

export type TrunkResource = Owned & {
  name: string;
  admin_state_up: boolean;
  status: string;
  port_id: string;
  sub_ports: SubportView[];
};

/** A network agent: neither owned nor standard. */
export type AgentResource = {
  id: string;
  agent_type: string;
  binary: string;
  topic: string;
  host: string;
  admin_state_up: boolean;
  created_at: string;
  started_at: string;
  heartbeat_timestamp: string;
  alive: boolean;
  configurations: Record<string, unknown>;
  description: string | null;
  availability_zone: string | null;
  resource_versions: Record<string, unknown> | null;
  resources_synced: boolean | null;
  // availability zones (agents.ts)
  availability_zones?: string[];
};

/** A QoS rule of any type (the attributes of the other types are absent). */
export type QosRuleResource = {
  id: string;
  qos_policy_id: string;
  /** On a policy's `rules`. */
  type?: string;
  max_kbps?: number;
  max_burst_kbps?: number;
  direction?: string;
  dscp_mark?: number;
  min_kbps?: number;
};

export type QosPolicyResource = Owned & {
  name: string;
  shared: boolean;
  is_default: boolean;
  rules: QosRuleResource[];
};

export type AddressGroupResource = Owned & {
  name: string;
  addresses: string[];
  /** Never shown (for the policy). */
  shared: boolean;
};

/** A metering label: owned, not standard. */
export type MeteringLabelResource = {
  id: string;
  project_id: string;
  tenant_id?: string;
  name: string;
  description: string;
  shared: boolean;
};

/** A metering label rule: its label's project (for the policy, never shown). */
export type MeteringLabelRuleResource = {
  id: string;
  project_id?: string;
  tenant_id?: string;
  metering_label_id: string;
  direction: string;
  excluded: boolean;
  remote_ip_prefix: string | null;
  source_ip_prefix: string | null;
  destination_ip_prefix: string | null;
};

/** A flavor (flavors.ts): neither owned nor standard. */
export type FlavorResource = {
  id: string;
  /** A create's values may carry them (a project-scoped token): dropped before the insert. */
  project_id?: string;
  tenant_id?: string;
  name: string;
  description: string;
  service_type: string;
  service_profiles: string[];
  enabled: boolean;
};

export type ServiceProfileResource = {
  id: string;
  /** As a flavor's. */
  project_id?: string;
  tenant_id?: string;
  description: string;
  driver: string;
  metainfo: string;
  enabled: boolean;
};

/** The type of each resource's view, by its plural (the key of svc.resource()). */
export interface ResourceViews {
  ports: PortResource;
  networks: NetworkResource;
  subnets: SubnetResource;
  routers: RouterResource;
  floatingips: FloatingIpResource;
  security_groups: SecurityGroupResource;
  security_group_rules: SecurityGroupRuleResource;
  subnetpools: SubnetPoolResource;
  address_scopes: AddressScopeResource;
  segments: SegmentResource;
  rbac_policies: RbacPolicyResource;
  port_forwardings: PortForwardingResource;
  conntrack_helpers: ConntrackHelperResource;
  trunks: TrunkResource;
  agents: AgentResource;
  policies: QosPolicyResource;
  bandwidth_limit_rules: QosRuleResource;
  dscp_marking_rules: QosRuleResource;
  minimum_bandwidth_rules: QosRuleResource;
  address_groups: AddressGroupResource;
  metering_labels: MeteringLabelResource;
  metering_label_rules: MeteringLabelRuleResource;
  flavors: FlavorResource;
  service_profiles: ServiceProfileResource;
}

/** A resource's plural (its key in svc.resource()). */
export type ResourcePlural = keyof ResourceViews;
