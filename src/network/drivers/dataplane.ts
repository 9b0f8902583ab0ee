// The data plane behind the network agent, as a narrow interface: the agent hears what changed
// (agent/agent.ts), fetches the details from the server, and tells its driver what the host
// must look like. A driver has two halves:
// - its Mechanism, static data the API server needs without talking to the agent (what ML2's
//   mechanism driver, the QoS driver and the trunk driver declare upstream): the agent type
//   that must be alive on a host to bind ports there, the vif_type/vif_details bound ports
//   get, the QoS rule types and trunk segmentation it supports;
// - the DataplaneDriver the agent runs on each host: plug/unplug ports, apply security
//   groups, serve DHCP for networks, realise routers.
// `logical` (drivers/logical.ts) keeps state only; a driver with a real data plane
// (linuxbridge) is one more file registered in drivers/index.ts.
import type { PortForwardingTable } from '../db/schema.ts';
import type { FloatingIpView, PortView, RouterPortView, SecurityGroupRuleView, SubnetView } from '../views.ts';

/** A QoS rule parameter's allowed values, as upstream's `type:range` / `type:values` validators. */
export type QosParameter = { range: [number, number] } | { values: ReadonlyArray<string | number> };

export interface Mechanism {
  /** The agent_type of the L2 agent that runs this driver (must be alive on a host to bind there). */
  agentType: string;
  /** That agent's binary in GET /v2.0/agents (upstream's, e.g. `neutron-linuxbridge-agent`). */
  agentBinary?: string;
  vifType: string;
  vifDetails: Record<string, unknown>;
  /** Network types it can wire (flat, vxlan, ...). */
  networkTypes: string[];
  /** QoS rule types and their parameters (GET /v2.0/qos/rule-types/<type> shows these). */
  qosRules: Record<string, Record<string, QosParameter>>;
  /** Per-network vif_details added to the static ones (linuxbridge: the bridge_name). */
  vifDetailsFor?(networkId: string): Record<string, unknown>;
  /** Trunk support: segmentation types of subports and whether a bound port may become a parent. */
  trunk?: { segmentationTypes: string[]; canTrunkBoundPort: boolean };
}

/** What the server says about a port bound to the agent's host (get_device_details). */
export interface DeviceDetails {
  device: string;
  port_id: string;
  network_id: string;
  mac_address: string;
  admin_state_up: boolean;
  status: string;
  network_type: string | null;
  segmentation_id: number | null;
  physical_network: string | null;
  mtu: number;
  fixed_ips: Array<{ subnet_id: string; ip_address: string }>;
  device_owner: string;
  allowed_address_pairs: Array<{ ip_address: string; mac_address: string }>;
  port_security_enabled: boolean;
  security_groups: string[];
  qos_policy_id: string | null;
  network_qos_policy_id: string | null;
  profile: Record<string, unknown>;
  /** The bandwidth limit rules of the port's effective QoS policy (its own, else its network's), for data planes that enforce them. */
  qos_bandwidth_limits?: Array<{ max_kbps: number; max_burst_kbps: number; direction: string }>;
  /** The DSCP mark of the port's effective QoS policy (its dscp_marking rule), for data planes that mark. */
  qos_dscp_mark?: number | null;
  /** Set when the port is a trunk's parent. */
  trunk_details?: {
    trunk_id: string;
    sub_ports: Array<{ port_id: string; segmentation_type: string; segmentation_id: number; mac_address?: string }>;
  };
}

/** A network as the DHCP role serves it (get_network_info): subnets and ports. */
export interface DhcpNetwork {
  id: string;
  project_id: string;
  admin_state_up: boolean;
  mtu: number;
  subnets: SubnetView[];
  ports: PortView[];
}

/** A router as the L3 role realises it (sync_routers). */
export interface RouterInfo {
  id: string;
  admin_state_up: boolean;
  gw_port: RouterPortView | null;
  interfaces: RouterPortView[];
  floating_ips: FloatingIpView[];
  routes: Array<{ destination: string; nexthop: string }>;
  enable_snat: boolean;
  /** The port forwardings of its floating IPs (DNAT of FIP:external port(s) to an internal address and port(s)). */
  port_forwardings?: PortForwardingInfo[];
}

/** A floating IP port forwarding as the L3 role realises it (upstream's port_forwarding L3 agent extension). */
export type PortForwardingInfo = Pick<
  PortForwardingTable,
  | 'id'
  | 'protocol'
  | 'internal_ip_address'
  | 'internal_port_start'
  | 'internal_port_end'
  | 'external_port_start'
  | 'external_port_end'
> & { floating_ip_address: string };

/** A metering label rule (metering, metering_source_and_destination_fields). */
export interface MeteringRuleInfo {
  id: string;
  direction: string;
  excluded: boolean;
  remote_ip_prefix: string | null;
  source_ip_prefix: string | null;
  destination_ip_prefix: string | null;
}

/** A router the metering agent counts for (upstream's get_sync_data_metering): its gateway port and the labels that apply to it. */
export interface MeteringRouterInfo {
  id: string;
  project_id: string;
  admin_state_up: boolean;
  /** The router's gateway port (its `qg-` device carries the metered traffic); null: nothing to count. */
  gw_port_id: string | null;
  labels: Array<{ id: string; project_id: string | null; rules: MeteringRuleInfo[] }>;
}

/** Counters read (and zeroed) since the last read, per router and label. */
export interface MeteringCounter {
  router_id: string;
  label_id: string;
  pkts: number;
  bytes: number;
}

/** A port of a VXLAN network on another host, as L2 population tells it (the tunnel endpoint to send its frames to). */
export interface FdbEntry {
  mac_address: string;
  ip_address: string | null;
  /** The other host's underlay address (its agent's tunneling_ip). */
  vtep: string;
}

/** Security group rules of the ports a driver filters (security_group_info_for_devices). */
export interface SecurityGroupInfo {
  security_groups: Record<string, SecurityGroupRuleView[]>;
  devices: Record<string, DeviceDetails>;
  /** The addresses (fixed IPs and allowed address pairs) of the members of the groups rules name as remote groups. */
  member_ips?: Record<string, string[]>;
}

export interface DataplaneDriver {
  readonly name: string;
  start(host: string): Promise<void>;
  stop(): Promise<void>;
  /**
   * Wire a port bound to this host (called again when it changes; must be idempotent). Answers
   * false when it cannot be wired yet (a real data plane waiting for the VM's tap): the port is
   * not reported up until the driver calls the watch() listener for it.
   */
  plugPort(port: DeviceDetails): Promise<void | boolean>;
  /** The agent's listener for ports wired later than plugPort (their tap appeared). */
  watch?(listener: (portId: string) => void): void;
  /** What the L2 agent adds to its reported configurations (linuxbridge: tunneling_ip). */
  configurations?(): Record<string, unknown>;
  /**
   * The metadata agent's configurations when this driver proxies the metadata service (upstream's
   * neutron-metadata-agent, reported as its own agent on network nodes).
   */
  metadataAgent?(): Record<string, unknown>;
  /**
   * The L3 agent extensions it realises (neutron-l3-agent's `[agent] extensions`, reported in the L3
   * agent's configurations).
   */
  readonly l3Extensions?: readonly string[];
  /** L2 population: the other hosts' ports of a network this host wires (static FDB entries instead of flooding). */
  updateFdb?(networkId: string, entries: FdbEntry[]): Promise<void>;
  /** Called after the agent's first full resync: remove what the server no longer wants. */
  reconciled?(): Promise<void>;
  unplugPort(portId: string): Promise<void>;
  /** The current security group rules of this host's ports. */
  updateSecurityGroups(info: SecurityGroupInfo): Promise<void>;
  /** Serve DHCP for a network as it is now (idempotent). */
  syncDhcp(network: DhcpNetwork): Promise<void>;
  removeDhcp(networkId: string): Promise<void>;
  /** Realise a router as it is now (idempotent). */
  syncRouter(router: RouterInfo): Promise<void>;
  removeRouter(routerId: string): Promise<void>;
  /** Metering: count the labels' traffic on the routers hosted here (idempotent; counters survive an unchanged call). */
  syncMetering?(routers: MeteringRouterInfo[]): Promise<void>;
  /** Metering: the counters since the last read, zeroed. */
  meteringCounters?(): Promise<MeteringCounter[]>;
}
