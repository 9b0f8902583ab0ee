// The server → agents half of the agent interface (upstream's agentnotifiers and ML2's
// AgentNotifierApi): L2 events are fanned out to every L2 agent (each picks the ports bound
// to its host); DHCP and L3 events go to the agents the schedulers chose for the network or
// router, scheduling it first when it needs an agent. Nothing here is awaited by a request.
import type { NetworkService } from '../service.ts';
import type { View } from '../api/resource.ts';
import { DEVICE_OWNER_DHCP, RESERVED_DHCP_PORT, type PluginServer } from './server.ts';
import { DHCP_AGENT_TOPIC, L2_AGENT_TOPIC, L3_AGENT_TOPIC, type AgentNotifier } from './rpc.ts';

export class BusNotifier implements AgentNotifier {
  constructor(
    private svc: NetworkService,
    private server: PluginServer,
  ) {}

  private get bus() {
    return this.svc.ctx.bus;
  }

  /** Runs after the caller returned; failures are logged, never thrown at the request. */
  private later(what: string, fn: () => Promise<void>) {
    setImmediate(() => {
      fn().catch((err) => this.svc.ctx.log.error({ err, what }, 'agent notification failed'));
    });
  }

  /** A cast to one host's agent of a topic; an agent that is not listening is not an error here. */
  private cast(topic: string, host: string, method: string, args: unknown) {
    try {
      this.bus.cast(`${topic}.${host}`, method, args);
    } catch (err) {
      this.svc.ctx.log.debug({ err, topic, host, method }, 'no agent listening');
    }
  }

  networkUpdated(network: View) {
    this.bus.fanout(L2_AGENT_TOPIC, 'network_update', { network });
  }

  networkDeleted(networkId: string) {
    this.bus.fanout(L2_AGENT_TOPIC, 'network_delete', { network_id: networkId });
    this.bus.fanout(DHCP_AGENT_TOPIC, 'network_delete_end', { network_id: networkId });
  }

  portUpdated(port: View) {
    this.bus.fanout(L2_AGENT_TOPIC, 'port_update', { port });
  }

  portDeleted(port: View) {
    this.bus.fanout(L2_AGENT_TOPIC, 'port_delete', { port_id: port.id, network_id: port.network_id });
  }

  securityGroupRulesUpdated(securityGroupIds: string[]) {
    this.bus.fanout(L2_AGENT_TOPIC, 'security_groups_rule_updated', { security_groups: securityGroupIds });
  }

  securityGroupMembersUpdated(securityGroupIds: string[]) {
    this.bus.fanout(L2_AGENT_TOPIC, 'security_groups_member_updated', { security_groups: securityGroupIds });
  }

  routersUpdated(routerIds: string[]) {
    this.later('routers_updated', async () => {
      for (const [host, ids] of await this.server.scheduleRouters(routerIds))
        this.cast(L3_AGENT_TOPIC, host, 'routers_updated', { routers: ids });
    });
  }

  routerDeleted(routerId: string) {
    this.later('router_deleted', async () => {
      const hosts = await this.server.l3HostsOf(routerId);
      await this.svc.db.deleteFrom('routerl3agentbindings').where('router_id', '=', routerId).execute();
      for (const host of hosts) this.cast(L3_AGENT_TOPIC, host, 'router_deleted', { router_id: routerId });
      if (!hosts.length) this.bus.fanout(L3_AGENT_TOPIC, 'router_deleted', { router_id: routerId });
    });
  }

  /** DHCP events per network not yet sent: the events of one turn of the event loop share one look-up of the network's agents. */
  private dhcpQueued = new Map<string, Array<{ method: string; args: unknown; schedule: boolean }>>();

  dhcpChanged(event: string, networkId: string, payload: View) {
    const method = event.replace(/\./g, '_');
    if (method === 'network_delete_end') {
      this.bus.fanout(DHCP_AGENT_TOPIC, method, { network_id: networkId });
      return;
    }
    // A new subnet or port is when a network gets its DHCP agent (as upstream's DhcpAgentNotifyAPI).
    const isAgentPort =
      method === 'port_create_end' &&
      (payload?.device_owner === DEVICE_OWNER_DHCP || payload?.device_id === RESERVED_DHCP_PORT);
    const schedule = method === 'subnet_create_end' || (method === 'port_create_end' && !isAgentPort);
    // Port events carry the port, so that the agent updates its copy instead of re-reading the network.
    const args = method.startsWith('port_') ? { network_id: networkId, port: payload } : { network_id: networkId };
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
      for (const e of events) for (const host of hosts) this.cast(DHCP_AGENT_TOPIC, host, e.method, e.args);
    });
  }

  /** Tells a host's DHCP agent it now serves a network, or no longer does (the scheduler API). */
  networkAddedToAgent(host: string, networkId: string) {
    this.cast(DHCP_AGENT_TOPIC, host, 'network_create_end', { network_id: networkId });
  }
  networkRemovedFromAgent(host: string, networkId: string) {
    this.cast(DHCP_AGENT_TOPIC, host, 'network_delete_end', { network_id: networkId });
  }
  routerAddedToAgent(host: string, routerId: string) {
    this.cast(L3_AGENT_TOPIC, host, 'routers_updated', { routers: [routerId] });
  }
  routerRemovedFromAgent(host: string, routerId: string) {
    this.cast(L3_AGENT_TOPIC, host, 'router_deleted', { router_id: routerId });
  }
}
