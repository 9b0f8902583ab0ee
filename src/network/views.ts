// The API's views of the resources that cross the agent seam (rpcapi.ts, drivers/dataplane.ts),
// typed as Neutron's API shows them: what an agent and its data plane driver read of a port, a
// network, a subnet, a floating IP, a security group rule. The server builds them from its
// resources (api/resource.ts's generic views); an attribute not named here is still there,
// typed unknown, so a reader must check what it takes.

/** A port's fixed IP. */
export interface FixedIp {
  subnet_id: string;
  ip_address: string;
}

/** A DHCP option on a port (extra_dhcp_opt). */
export interface ExtraDhcpOpt {
  opt_name: string;
  opt_value: string;
  ip_version?: 4 | 6;
}

export interface PortView {
  id: string;
  name?: string;
  network_id: string;
  project_id?: string;
  tenant_id?: string;
  mac_address: string;
  admin_state_up?: boolean;
  status?: string;
  device_id?: string;
  device_owner?: string;
  fixed_ips: FixedIp[];
  security_groups?: string[];
  allowed_address_pairs?: Array<{ ip_address: string; mac_address: string }>;
  extra_dhcp_opts?: ExtraDhcpOpt[];
  'binding:host_id'?: string;
  'binding:vnic_type'?: string;
  [attr: string]: unknown;
}

/** A router's port as sync_routers gives it: with its subnets and its network's MTU. */
export interface RouterPortView extends PortView {
  subnets?: SubnetView[];
  mtu?: number;
  network_mtu?: number;
}

export interface NetworkView {
  id: string;
  name?: string;
  project_id?: string;
  admin_state_up?: boolean;
  status?: string;
  mtu?: number;
  [attr: string]: unknown;
}

export interface SubnetView {
  id: string;
  network_id?: string;
  cidr: string;
  ip_version?: number;
  gateway_ip?: string | null;
  enable_dhcp?: boolean;
  dns_nameservers?: string[];
  host_routes?: Array<{ destination: string; nexthop: string }>;
  allocation_pools?: Array<{ start: string; end: string }>;
  /** IPv6: who sends router advertisements and how guests get addresses (slaac, dhcpv6-stateful, dhcpv6-stateless). */
  ipv6_ra_mode?: string | null;
  ipv6_address_mode?: string | null;
  [attr: string]: unknown;
}

export interface FloatingIpView {
  id: string;
  floating_ip_address: string;
  fixed_ip_address: string | null;
  port_id: string | null;
  router_id?: string | null;
  status?: string;
  [attr: string]: unknown;
}

export interface SecurityGroupRuleView {
  id: string;
  security_group_id: string;
  /** 'ingress' or 'egress'. */
  direction: string;
  /** 'IPv4' or 'IPv6'. */
  ethertype: string;
  protocol?: string | null;
  port_range_min?: number | null;
  port_range_max?: number | null;
  remote_ip_prefix?: string | null;
  remote_group_id?: string | null;
  remote_address_group_id?: string | null;
  [attr: string]: unknown;
}

// The resource layer (api/resource.ts) answers generic views of any resource; these name the
// resource a view is of, where a view crosses to the agents. Each resource's attributes are
// declared with its ResourceSpec (api/ports.ts, api/networks.ts, ...), which these follow.
type GenericView = Record<string, unknown>;
export const asPort = (v: GenericView): PortView => v as PortView;
export const asNetwork = (v: GenericView): NetworkView => v as NetworkView;
export const asSubnet = (v: GenericView): SubnetView => v as SubnetView;
export const asFloatingIp = (v: GenericView): FloatingIpView => v as FloatingIpView;
export const asRule = (v: GenericView): SecurityGroupRuleView => v as SecurityGroupRuleView;
