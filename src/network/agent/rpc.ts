// The interface between the network API (the "plugin" upstream) and the network agents, over
// the message bus, as ML2 and its L2/L3/DHCP agents speak it. The RPC itself, both directions,
// is declared per topic in ../rpcapi.ts; here are what the API's code sees of it: AgentNotifier
// (what the resources tell the agents after a change) and PortBinder (ML2's port binding).
//
// The data plane lives in a driver behind each agent (drivers/dataplane.ts); `logical` keeps
// state only, `linuxbridge` adds bridges, namespaces and firewall rules.
import type { NetworkResource, PortResource } from '../api/types.ts';

export {
  DHCP_AGENT_TOPIC,
  L2_AGENT_TOPIC,
  L3_AGENT_TOPIC,
  PLUGIN_TOPIC,
  type AgentState,
  type PluginRpc,
} from '../rpcapi.ts';

/** Upstream's agent types (neutron_lib.constants.AGENT_TYPE_*) for the roles Stratus's agent plays. */
export const AGENT_TYPE_DHCP = 'DHCP agent';
export const AGENT_TYPE_L3 = 'L3 agent';
export const AGENT_TYPE_METADATA = 'Metadata agent';
export const AGENT_TYPE_METERING = 'Metering agent';
/** neutron_lib's topics.METERING_AGENT. */
export const METERING_AGENT_TOPIC = 'metering_agent';

/** Upstream's binary per agent type, as GET /v2.0/agents shows it (`binary=neutron-l3-agent` filters). */
export const AGENT_BINARIES = {
  [AGENT_TYPE_DHCP]: 'neutron-dhcp-agent',
  [AGENT_TYPE_L3]: 'neutron-l3-agent',
  [AGENT_TYPE_METADATA]: 'neutron-metadata-agent',
  [AGENT_TYPE_METERING]: 'neutron-metering-agent',
} as const;

/** What the API tells the agents after a change committed (never awaited by the request). */
export interface AgentNotifier {
  networkUpdated(network: NetworkResource): void;
  networkDeleted(networkId: string): void;
  portUpdated(port: PortResource): void;
  portDeleted(port: PortResource): void;
  securityGroupRulesUpdated(securityGroupIds: string[]): void;
  securityGroupMembersUpdated(securityGroupIds: string[]): void;
  routersUpdated(routerIds: string[]): void;
  routerDeleted(routerId: string): void;
  /** A network, subnet or port changed that DHCP serves (event like 'port.create.end'). */
  dhcpChanged(event: string, networkId: string, payload: Record<string, unknown>): void;
}

/** Binds a port to a host, as ML2's mechanism drivers do: the vif_type/vif_details, or 'binding_failed'. */
export interface PortBinder {
  bind(port: PortResource): Promise<{ vif_type: string; vif_details: Record<string, unknown> }>;
}
