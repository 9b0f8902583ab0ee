// The server → agents half of the agent interface (upstream's agentnotifiers and ML2's
// AgentNotifierApi): L2 events are fanned out to every L2 agent (each picks the ports bound
// to its host); DHCP and L3 events go to the agents the schedulers chose for the network or
// router, scheduling it first when it needs an agent. Nothing here is awaited by a request.
import type { NetworkService } from '../service.ts';
import type { NetworkResource, PortResource } from '../api/types.ts';
import { DEVICE_OWNER_DHCP, RESERVED_DHCP_PORT, type PluginServer } from './server.ts';
import type { AgentNotifier } from './rpc.ts';
import { asNetwork, asPort } from '../views.ts';
import { agentRpc, type DhcpEvent, type DhcpMethod } from '../rpcapi.ts';

/** The dhcp_agent methods for the events of a network, a subnet or a port. */
const DHCP_METHODS = new Set<string>([
  'network_create_end',
  'network_update_end',
  'network_delete_end',
  'subnet_create_end',
  'subnet_update_end',
  'subnet_delete_end',
  'port_create_end',
  'port_update_end',
  'port_delete_end',
] satisfies DhcpMethod[]);

export class BusNotifier implements AgentNotifier {
  private rpc: ReturnType<typeof agentRpc>;

  constructor(
    private svc: NetworkService,
    private server: PluginServer,
  ) {
    this.rpc = agentRpc(svc.ctx.bus);
  }

  /** Runs after the caller returned; failures are logged, never thrown at the request. */
  private later(what: string, fn: () => Promise<void>) {
    setImmediate(() => {
      fn().catch((err) => this.svc.ctx.log.error({ err, what }, 'agent notification failed'));
    });
  }

  /** A cast to one host's agent; an agent that is not listening is not an error here. */
  private cast(host: string, method: string, send: () => void) {
    try {
      send();
    } catch (err) {
      this.svc.ctx.log.debug({ err, host, method }, 'no agent listening');
    }
  }

  networkUpdated(network: NetworkResource) {
    this.rpc.l2.fanout().network_update({ network: asNetwork(network) });
  }

  networkDeleted(networkId: string) {
    this.rpc.l2.fanout().network_delete({ network_id: networkId });
    this.rpc.dhcp.fanout().network_delete_end({ network_id: networkId });
  }

  portUpdated(port: PortResource) {
    this.rpc.l2.fanout().port_update({ port: asPort(port) });
  }

  portDeleted(port: PortResource) {
    this.rpc.l2.fanout().port_delete({ port_id: port.id, network_id: port.network_id });
  }

  securityGroupRulesUpdated(securityGroupIds: string[]) {
    this.rpc.l2.fanout().security_groups_rule_updated({ security_groups: securityGroupIds });
  }

  securityGroupMembersUpdated(securityGroupIds: string[]) {
    this.rpc.l2.fanout().security_groups_member_updated({ security_groups: securityGroupIds });
  }

  routersUpdated(routerIds: string[]) {
    this.later('routers_updated', async () => {
      for (const [host, ids] of await this.server.scheduleRouters(routerIds))
        this.cast(host, 'routers_updated', () => this.rpc.l3.cast(host).routers_updated({ routers: ids }));
    });
  }

  routerDeleted(routerId: string) {
    this.later('router_deleted', async () => {
      const hosts = await this.server.l3HostsOf(routerId);
      await this.svc.db.deleteFrom('routerl3agentbindings').where('router_id', '=', routerId).execute();
      for (const host of hosts)
        this.cast(host, 'router_deleted', () => this.rpc.l3.cast(host).router_deleted({ router_id: routerId }));
      if (!hosts.length) this.rpc.l3.fanout().router_deleted({ router_id: routerId });
    });
  }

  /** DHCP events per network not yet sent: the events of one turn of the event loop share one look-up of the network's agents. */
  private dhcpQueued = new Map<string, Array<{ method: DhcpMethod; args: DhcpEvent; schedule: boolean }>>();

  dhcpChanged(event: string, networkId: string, payload: Record<string, unknown>) {
    const name = event.replace(/\./g, '_');
    if (!DHCP_METHODS.has(name)) {
      this.svc.ctx.log.warn({ event }, 'not a DHCP agent event');
      return;
    }
    const method = name as DhcpMethod;
    if (method === 'network_delete_end') {
      this.rpc.dhcp.fanout().network_delete_end({ network_id: networkId });
      return;
    }
    // A new subnet or port is when a network gets its DHCP agent (as upstream's DhcpAgentNotifyAPI).
    const isAgentPort =
      method === 'port_create_end' &&
      (payload?.device_owner === DEVICE_OWNER_DHCP || payload?.device_id === RESERVED_DHCP_PORT);
    const schedule = method === 'subnet_create_end' || (method === 'port_create_end' && !isAgentPort);
    // Port events carry the port, so that the agent updates its copy instead of re-reading the network.
    const args: DhcpEvent = method.startsWith('port_')
      ? { network_id: networkId, port: asPort(payload) }
      : { network_id: networkId };
    const queued = this.dhcpQueued.get(networkId);
    if (queued) {
      queued.push({ method, args, schedule });
      return;
    }
    this.dhcpQueued.set(networkId, [{ method, args, schedule }]);
    this.later(method, async () => {
      const events = this.dhcpQueued.get(networkId) ?? [];
      this.dhcpQueued.delete(networkId);
      let hosts = await this.server.dhcpHostsOf(networkId);
      if (!hosts.length && events.some((e) => e.schedule)) {
        await this.server.scheduleNetwork(networkId);
        hosts = await this.server.dhcpHostsOf(networkId);
      }
      for (const e of events)
        for (const host of hosts) this.cast(host, e.method, () => this.dhcpCast(host, e.method, e.args));
    });
  }

  /** Tells a host's DHCP agent it now serves a network, or no longer does (the scheduler API). */
  networkAddedToAgent(host: string, networkId: string) {
    this.cast(host, 'network_create_end', () => this.rpc.dhcp.cast(host).network_create_end({ network_id: networkId }));
  }
  networkRemovedFromAgent(host: string, networkId: string) {
    this.cast(host, 'network_delete_end', () => this.rpc.dhcp.cast(host).network_delete_end({ network_id: networkId }));
  }
  routerAddedToAgent(host: string, routerId: string) {
    this.cast(host, 'routers_updated', () => this.rpc.l3.cast(host).routers_updated({ routers: [routerId] }));
  }
  routerRemovedFromAgent(host: string, routerId: string) {
    this.cast(host, 'router_deleted', () => this.rpc.l3.cast(host).router_deleted({ router_id: routerId }));
  }

  /** One DHCP event cast to a host's DHCP agent. */
  private dhcpCast(host: string, method: DhcpMethod, args: DhcpEvent) {
    const to = this.rpc.dhcp.cast(host);
    if (method === 'agent_updated') to.agent_updated({});
    else to[method](args);
  }
}
