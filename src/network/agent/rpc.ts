// The interface between the network API (the "plugin" upstream) and the network agents, over
// the message bus, as ML2 and its L2/L3/DHCP agents speak it:
//
// - server → agents: notifications fanned out to every agent of a kind (AgentNotifier below):
//   a port changed or went away, a network changed, security group rules or members changed,
//   routers changed, a DHCP-served network changed.
// - agents → server: RPC calls on PLUGIN_TOPIC (PluginRpc below): report their state (which makes
//   them appear in /v2.0/agents), fetch the details of a device, say a device is up or down
//   (which turns a port ACTIVE or DOWN), fetch the routers and networks they serve.
//
// The data plane lives in a driver behind each agent (drivers/dataplane.ts); `logical` keeps
// state only, `linuxbridge` (a later issue) adds bridges, namespaces and firewall rules.
import type { View } from '../api/resource.ts';
import type { DeviceDetails, DhcpNetwork, FdbEntry, RouterInfo, SecurityGroupInfo } from '../drivers/dataplane.ts';

export const PLUGIN_TOPIC = 'q-plugin';
export const L2_AGENT_TOPIC = 'q-agent-notifier';
export const L3_AGENT_TOPIC = 'l3_agent';
export const DHCP_AGENT_TOPIC = 'dhcp_agent';

/** Upstream's agent types (neutron_lib.constants.AGENT_TYPE_*) for the roles Stratus's agent plays. */
export const AGENT_TYPE_DHCP = 'DHCP agent';
export const AGENT_TYPE_L3 = 'L3 agent';

/** What the API tells the agents after a change committed (never awaited by the request). */
export interface AgentNotifier {
  networkUpdated(network: View): void;
  networkDeleted(networkId: string): void;
  portUpdated(port: View): void;
  portDeleted(port: View): void;
  securityGroupRulesUpdated(securityGroupIds: string[]): void;
  securityGroupMembersUpdated(securityGroupIds: string[]): void;
  routersUpdated(routerIds: string[]): void;
  routerDeleted(routerId: string): void;
  /** A network, subnet or port changed that DHCP serves (event like 'port.create.end'). */
  dhcpChanged(event: string, networkId: string, payload: View): void;
}

/** Binds a port to a host, as ML2's mechanism drivers do: the vif_type/vif_details, or 'binding_failed'. */
export interface PortBinder {
  bind(port: View): Promise<{ vif_type: string; vif_details: Record<string, unknown> }>;
}

/** The RPC methods the API serves to agents on PLUGIN_TOPIC. */
export interface PluginRpc {
  /** Answers 'new', 'alive' or 'revived' (an agent coming back after agent_down_time resyncs everything). */
  report_state(args: { agent_state: AgentState; time?: string }): Promise<'new' | 'alive' | 'revived'>;
  get_device_details(args: {
    device: string;
    agent_id: string;
    host: string;
  }): Promise<DeviceDetails | { device: string }>;
  get_devices_details_list(args: {
    devices: string[];
    agent_id: string;
    host: string;
  }): Promise<Array<DeviceDetails | { device: string }>>;
  update_device_up(args: { device: string; agent_id: string; host: string }): Promise<void>;
  update_device_down(args: {
    device: string;
    agent_id: string;
    host: string;
  }): Promise<{ device: string; exists: boolean }>;
  /** The ports bound to a host (the agent's full resync; upstream agents scan their devices instead). */
  get_ports_on_host(args: { host: string }): Promise<string[]>;
  security_group_info_for_devices(args: { devices: string[]; security_groups?: string[] }): Promise<SecurityGroupInfo>;
  sync_routers(args: { host: string; router_ids?: string[] }): Promise<RouterInfo[]>;
  update_floatingip_statuses(args: { router_id: string; fip_statuses: Record<string, string> }): Promise<void>;
  /** The networks scheduled to the host's DHCP agent. */
  get_active_networks_info(args: { host: string }): Promise<string[]>;
  get_network_info(args: { network_id: string; host: string }): Promise<DhcpNetwork | null>;
  /** The DHCP agent's own port on a network (upstream's create/update/release_dhcp_port). */
  create_dhcp_port(args: {
    host: string;
    port: { network_id: string; device_id: string; fixed_ips: Array<{ subnet_id: string }> };
  }): Promise<View | null>;
  update_dhcp_port(args: {
    host: string;
    port_id: string;
    port: { fixed_ips: Array<{ subnet_id: string; ip_address?: string }> };
  }): Promise<View | null>;
  release_dhcp_port(args: { host: string; network_id: string; device_id: string }): Promise<void>;
  /** L2 population: the ports of a network bound to other hosts whose L2 agent reports a tunneling_ip. */
  get_fdb_entries(args: { host: string; network_id: string }): Promise<FdbEntry[]>;
  /** Trunk RPC: bind a trunk's subports where its parent is, and report the trunk's status. */
  update_subport_bindings(args: { host: string; trunk_id: string }): Promise<void>;
  update_trunk_status(args: { trunk_id: string; status: string }): Promise<void>;
}

/** What an agent reports about itself every report interval (neutron's agent_state). */
export interface AgentState {
  binary: string;
  host: string;
  topic: string;
  agent_type: string;
  availability_zone?: string;
  configurations: Record<string, unknown>;
  resource_versions?: Record<string, string>;
  start_flag?: boolean;
}
