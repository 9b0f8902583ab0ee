// The network service's RPC, declared once per topic (as ML2's rpc.py, the agents'
// agent/rpc.py and api/rpc/agentnotifiers/*.py split it): each interface below is a topic's
// methods, their arguments and their answers. Agents call the plugin only through
// `pluginRpc()`, the plugin reaches the agents only through `agentRpc()`, and each side
// serves a handler map typed against the same interface (src/core/rpc.ts's serveRpc), so a
// method that is not declared, or arguments of the wrong shape, do not compile on either side.
//
// - q-plugin (PluginRpc): agents → server: report their state (which makes them appear in
//   /v2.0/agents), fetch the details of a device, say a device is up or down (which turns a
//   port ACTIVE or DOWN), fetch the routers and networks they serve.
// - q-agent-notifier (L2AgentRpc): server → every L2 agent (fanout): a port or network changed or
//   went away, security group rules or members changed.
// - dhcp_agent (DhcpAgentRpc), l3_agent (L3AgentRpc): server → the agent the scheduler chose for
//   a network or a router (cast to topic.host), or every one (fanout) when none was chosen.
import type { MessageBus, RpcContext } from '../core/bus.ts';
import { rpcClient, type RpcCasts, type RpcClient, type RpcDecl } from '../core/rpc.ts';
import type { NetworkView, PortView } from './views.ts';
import type {
  DeviceDetails,
  DhcpNetwork,
  FdbEntry,
  MeteringRouterInfo,
  RouterInfo,
  SecurityGroupInfo,
} from './drivers/dataplane.ts';

export const PLUGIN_TOPIC = 'q-plugin';
export const L2_AGENT_TOPIC = 'q-agent-notifier';
export const L3_AGENT_TOPIC = 'l3_agent';
export const DHCP_AGENT_TOPIC = 'dhcp_agent';

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

/** Who calls: every agent call carries its id and host (neutron's agent_id and host arguments). */
export interface AgentCaller {
  agent_id: string;
  host: string;
}

/** `q-plugin`: the methods the API serves to the agents (agent/server.ts). */
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
  /** The routers of the host's L3 agent with the metering labels that apply to each (the metering agent's). */
  get_sync_data_metering(args: { host: string }): Promise<MeteringRouterInfo[]>;
  update_floatingip_statuses(args: { router_id: string; fip_statuses: Record<string, string> }): Promise<void>;
  /** The networks scheduled to the host's DHCP agent. */
  get_active_networks_info(args: { host: string }): Promise<string[]>;
  get_network_info(args: { network_id: string; host: string }): Promise<DhcpNetwork | null>;
  /** The DHCP agent's own port on a network (upstream's create/update/release_dhcp_port). */
  create_dhcp_port(args: {
    host: string;
    port: { network_id: string; device_id: string; fixed_ips: Array<{ subnet_id: string }> };
  }): Promise<PortView | null>;
  update_dhcp_port(args: {
    host: string;
    port_id: string;
    port: { fixed_ips: Array<{ subnet_id: string; ip_address?: string }> };
  }): Promise<PortView | null>;
  release_dhcp_port(args: { host: string; network_id: string; device_id: string }): Promise<void>;
  /** L2 population: the ports of a network bound to other hosts whose L2 agent reports a tunneling_ip. */
  get_fdb_entries(args: { host: string; network_id: string }): Promise<FdbEntry[]>;
  /** Trunk RPC: bind a trunk's subports where its parent is, and report the trunk's status. */
  update_subport_bindings(args: { host: string; trunk_id: string }): Promise<void>;
  update_trunk_status(args: { trunk_id: string; status: string }): Promise<void>;
}

/** `q-agent-notifier`: fanned out to every L2 agent; each picks the ports bound to its host. */
export interface L2AgentRpc {
  port_update(args: { port: PortView }): void;
  port_delete(args: { port_id: string; network_id?: string }): void;
  network_update(args: { network: NetworkView }): void;
  network_delete(args: { network_id: string }): void;
  security_groups_rule_updated(args: { security_groups: string[] }): void;
  security_groups_member_updated(args: { security_groups: string[] }): void;
}

/** A DHCP event about a network (and, for port events, the port as it now is). */
export interface DhcpEvent {
  network_id: string;
  port?: PortView;
}

/** `dhcp_agent`: to the DHCP agents serving a network (upstream's DhcpAgentNotifyAPI). */
export interface DhcpAgentRpc {
  /** The agent's admin state changed: resync everything. */
  agent_updated(args: Record<string, never>): void;
  network_create_end(args: DhcpEvent): void;
  network_update_end(args: DhcpEvent): void;
  network_delete_end(args: DhcpEvent): void;
  subnet_create_end(args: DhcpEvent): void;
  subnet_update_end(args: DhcpEvent): void;
  subnet_delete_end(args: DhcpEvent): void;
  port_create_end(args: DhcpEvent): void;
  port_update_end(args: DhcpEvent): void;
  port_delete_end(args: DhcpEvent): void;
}
/** A method of dhcp_agent (an event such as 'port.create.end' with its dots as underscores). */
export type DhcpMethod = keyof DhcpAgentRpc;

/** `l3_agent`: to the L3 agents a router is scheduled to (upstream's L3AgentNotifyAPI). */
export interface L3AgentRpc {
  routers_updated(args: { routers: string[] }): void;
  router_deleted(args: { router_id: string }): void;
  agent_updated(args: Record<string, never>): void;
}

/** The agents' side of q-plugin. */
export function pluginRpc(bus: MessageBus): RpcClient<PluginRpc> {
  return rpcClient<PluginRpc>(bus, PLUGIN_TOPIC);
}

/** The plugin's side of an agent topic: cast to one host's agent, or fan out to every agent of the topic. */
export interface AgentClient<D extends RpcDecl<D>> extends RpcClient<D> {
  fanout(ctx?: RpcContext): RpcCasts<D>;
}

function agentClient<D extends RpcDecl<D>>(bus: MessageBus, topic: string): AgentClient<D> {
  const client = rpcClient<D>(bus, topic);
  const fanout = (ctx?: RpcContext) =>
    new Proxy({} as RpcCasts<D>, {
      get: (_t, method) => (args: unknown) => bus.fanout(topic, String(method), args, ctx),
    });
  const toAll = fanout();
  return { ...client, fanout: (ctx) => (ctx ? fanout(ctx) : toAll) };
}

/** The clients of the three agent topics. */
export function agentRpc(bus: MessageBus): {
  l2: AgentClient<L2AgentRpc>;
  dhcp: AgentClient<DhcpAgentRpc>;
  l3: AgentClient<L3AgentRpc>;
} {
  return {
    l2: agentClient<L2AgentRpc>(bus, L2_AGENT_TOPIC),
    dhcp: agentClient<DhcpAgentRpc>(bus, DHCP_AGENT_TOPIC),
    l3: agentClient<L3AgentRpc>(bus, L3_AGENT_TOPIC),
  };
}
