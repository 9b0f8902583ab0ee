// The network service's tables as Kysely sees them (Kysely<NetworkDb>), one interface per table,
// from the migrations next to this file. Booleans are integers (0/1) in both engines: read them
// with bool() of core/db.ts. Lists and dicts a resource owns are JSON text (json() reads them).
// Generated<T>: the column has a default, an insert may leave it out.
import type { Generated, Kysely, Selectable } from 'kysely';
import type { FlavorTables } from './flavors.ts';

/** 0 or 1 (see bool() and int() in core/db.ts). */
export type IntBool = number;
/** JSON text. */
export type JsonText = string;

/** id, description, created_at, updated_at, revision_number (columns.ts standard()). */
interface Standard {
  id: string;
  description: Generated<string>;
  created_at: string;
  updated_at: string;
  revision_number: Generated<number>;
}
/** A standard resource owned by a project. */
interface Owned extends Standard {
  project_id: string | null;
}

// ---- base ----------------------------------------------------------------------------------

export interface TagTable {
  resource_type: string;
  resource_id: string;
  tag: string;
}

export interface QuotaTable {
  project_id: string;
  resource: string;
  limit: number;
}

// ---- core ----------------------------------------------------------------------------------

export interface NetworkTable extends Owned {
  name: Generated<string>;
  status: string;
  admin_state_up: IntBool;
  mtu: number;
  router_external: Generated<IntBool>;
  is_default: Generated<IntBool>;
  port_security_enabled: Generated<IntBool>;
  availability_zone_hints: Generated<JsonText>;
  dns_domain: Generated<string>;
  qos_policy_id: string | null;
  vlan_transparent: IntBool | null;
}

export interface NetworkSegmentTable extends Standard {
  network_id: string;
  name: string | null;
  network_type: string;
  physical_network: string | null;
  segmentation_id: number | null;
  segment_index: Generated<number>;
  is_dynamic: Generated<IntBool>;
  /** What the type driver reserved ('vxlan:1001', 'flat:public'); null for local. */
  allocation: string | null;
}

export interface AddressScopeTable {
  id: string;
  project_id: string | null;
  name: Generated<string>;
  ip_version: number;
  shared: Generated<IntBool>;
}

export interface SubnetPoolTable extends Owned {
  name: Generated<string>;
  ip_version: number;
  prefixes: Generated<JsonText>;
  default_prefixlen: number;
  min_prefixlen: number;
  max_prefixlen: number;
  default_quota: number | null;
  shared: Generated<IntBool>;
  is_default: Generated<IntBool>;
  address_scope_id: string | null;
}

export interface SubnetTable extends Owned {
  network_id: string;
  name: Generated<string>;
  ip_version: number;
  cidr: string;
  gateway_ip: string | null;
  enable_dhcp: IntBool;
  ipv6_ra_mode: string | null;
  ipv6_address_mode: string | null;
  subnetpool_id: string | null;
  segment_id: string | null;
  allocation_pools: Generated<JsonText>;
  dns_nameservers: Generated<JsonText>;
  host_routes: Generated<JsonText>;
  service_types: Generated<JsonText>;
  dns_publish_fixed_ip: Generated<IntBool>;
}

export interface PortTable extends Owned {
  network_id: string;
  name: Generated<string>;
  mac_address: string;
  admin_state_up: IntBool;
  status: string;
  device_id: Generated<string>;
  device_owner: Generated<string>;
  binding_host_id: Generated<string>;
  binding_vnic_type: Generated<string>;
  binding_vif_type: Generated<string>;
  binding_vif_details: Generated<JsonText>;
  binding_profile: Generated<JsonText>;
  port_security_enabled: Generated<IntBool>;
  allowed_address_pairs: Generated<JsonText>;
  extra_dhcp_opts: Generated<JsonText>;
  dns_name: Generated<string>;
  dns_domain: Generated<string>;
  qos_policy_id: string | null;
  propagate_uplink_status: Generated<IntBool>;
  ip_allocation: string | null;
}

export interface IpAllocationTable {
  subnet_id: string;
  ip_address: string;
  network_id: string;
  port_id: string;
}

export interface RbacPolicyTable extends Owned {
  object_type: string;
  object_id: string;
  action: string;
  target_tenant: string;
}

// ---- l3 ------------------------------------------------------------------------------------

export interface RouterTable extends Owned {
  name: Generated<string>;
  status: string;
  admin_state_up: IntBool;
  gw_port_id: string | null;
  enable_snat: Generated<IntBool>;
  routes: Generated<JsonText>;
  availability_zone_hints: Generated<JsonText>;
}

export interface FloatingIpTable extends Owned {
  floating_network_id: string;
  floating_ip_address: string;
  floating_port_id: string;
  fixed_port_id: string | null;
  fixed_ip_address: string | null;
  router_id: string | null;
  status: string;
  dns_name: Generated<string>;
  dns_domain: Generated<string>;
  qos_policy_id: string | null;
}

export interface PortForwardingTable {
  id: string;
  floatingip_id: string;
  internal_port_id: string;
  protocol: string;
  internal_ip_address: string;
  internal_port_start: number;
  internal_port_end: number;
  external_port_start: number;
  external_port_end: number;
  description: Generated<string>;
}

export interface AutoAllocatedTopologyTable {
  project_id: string;
  network_id: string;
  router_id: string | null;
}

// ---- security ------------------------------------------------------------------------------

export interface SecurityGroupTable extends Owned {
  name: Generated<string>;
  stateful: Generated<IntBool>;
}

export interface SecurityGroupRuleTable extends Owned {
  security_group_id: string;
  remote_group_id: string | null;
  direction: string;
  ethertype: string;
  protocol: string | null;
  port_range_min: number | null;
  port_range_max: number | null;
  remote_ip_prefix: string | null;
  remote_address_group_id: string | null;
}

export interface DefaultSecurityGroupTable {
  project_id: string;
  security_group_id: string;
}

export interface SecurityGroupPortBindingTable {
  port_id: string;
  security_group_id: string;
}

// ---- extras --------------------------------------------------------------------------------

export interface AgentTable {
  id: string;
  agent_type: string;
  binary: string;
  topic: string;
  host: string;
  availability_zone: string | null;
  admin_state_up: Generated<IntBool>;
  created_at: string;
  started_at: string;
  heartbeat_timestamp: string;
  description: string | null;
  configurations: Generated<JsonText>;
  resource_versions: JsonText | null;
  load: Generated<number>;
  resources_synced: IntBool | null;
}

export interface NetworkDhcpAgentBindingTable {
  network_id: string;
  dhcp_agent_id: string;
}

export interface RouterL3AgentBindingTable {
  router_id: string;
  l3_agent_id: string;
}

export interface QosPolicyTable extends Owned {
  name: Generated<string>;
}

export interface QosDefaultPolicyTable {
  project_id: string;
  qos_policy_id: string;
}

export interface QosBandwidthLimitRuleTable {
  id: string;
  qos_policy_id: string;
  max_kbps: number;
  max_burst_kbps: Generated<number>;
  direction: Generated<string>;
}

export interface QosDscpMarkingRuleTable {
  id: string;
  qos_policy_id: string;
  dscp_mark: number;
}

export interface QosMinimumBandwidthRuleTable {
  id: string;
  qos_policy_id: string;
  min_kbps: number;
  direction: Generated<string>;
}

export interface TrunkTable extends Owned {
  name: Generated<string>;
  admin_state_up: Generated<IntBool>;
  status: Generated<string>;
  port_id: string;
}

export interface SubportTable {
  port_id: string;
  trunk_id: string;
  segmentation_type: string;
  segmentation_id: number;
}

// ---- later extensions ----------------------------------------------------------------------

export interface AddressGroupTable extends Owned {
  name: Generated<string>;
}

export interface AddressGroupAddressTable {
  address_group_id: string;
  address: string;
}

export interface MeteringLabelTable {
  id: string;
  project_id: string | null;
  name: Generated<string>;
  description: Generated<string>;
  shared: Generated<IntBool>;
}

export interface MeteringLabelRuleTable {
  id: string;
  metering_label_id: string;
  direction: string;
  excluded: Generated<IntBool>;
  remote_ip_prefix: string | null;
  source_ip_prefix: string | null;
  destination_ip_prefix: string | null;
}

export interface ConntrackHelperTable {
  id: string;
  router_id: string;
  protocol: string;
  port: number;
  helper: string;
}

export interface NetworkDb extends FlavorTables {
  tags: TagTable;
  quotas: QuotaTable;
  networks: NetworkTable;
  network_segments: NetworkSegmentTable;
  address_scopes: AddressScopeTable;
  subnetpools: SubnetPoolTable;
  subnets: SubnetTable;
  ports: PortTable;
  ipallocations: IpAllocationTable;
  rbac_policies: RbacPolicyTable;
  routers: RouterTable;
  floatingips: FloatingIpTable;
  portforwardings: PortForwardingTable;
  auto_allocated_topologies: AutoAllocatedTopologyTable;
  securitygroups: SecurityGroupTable;
  securitygrouprules: SecurityGroupRuleTable;
  default_security_group: DefaultSecurityGroupTable;
  securitygroupportbindings: SecurityGroupPortBindingTable;
  agents: AgentTable;
  networkdhcpagentbindings: NetworkDhcpAgentBindingTable;
  routerl3agentbindings: RouterL3AgentBindingTable;
  qos_policies: QosPolicyTable;
  qos_default_policies: QosDefaultPolicyTable;
  qos_bandwidth_limit_rules: QosBandwidthLimitRuleTable;
  qos_dscp_marking_rules: QosDscpMarkingRuleTable;
  qos_minimum_bandwidth_rules: QosMinimumBandwidthRuleTable;
  trunks: TrunkTable;
  subports: SubportTable;
  address_groups: AddressGroupTable;
  address_group_addresses: AddressGroupAddressTable;
  metering_labels: MeteringLabelTable;
  metering_label_rules: MeteringLabelRuleTable;
  conntrack_helpers: ConntrackHelperTable;
}

/** A table's name. */
export type NetworkTableName = keyof NetworkDb & string;

/** A row of a table as a select returns it. */
export type TableRow<T extends NetworkTableName> = Selectable<NetworkDb[T]>;
export type NetworkRow = TableRow<'networks'>;
export type SubnetPoolRow = TableRow<'subnetpools'>;
export type AddressScopeRow = TableRow<'address_scopes'>;

/**
 * The tables as the generic layers see them when they name a table at run time (api/resource.ts
 * serves every resource from its declaration, quotas count any table, RBAC targets several):
 * any table, columns unchecked. Everything that names its table in code uses NetworkDb.
 */
export type DynamicDb = Record<string, Record<string, unknown>>;

/** The same connection or transaction, for a query on a table named at run time. */
export function dynamic(db: Kysely<NetworkDb>): Kysely<DynamicDb> {
  return db as unknown as Kysely<DynamicDb>;
}
