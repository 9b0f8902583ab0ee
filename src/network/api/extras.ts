// The extras family of the network API (see service.ts): agents and their schedulers,
// availability zones (api/agents.ts), QoS (api/qos.ts), trunks (api/trunks.ts), and the agent
// interface behind them: the plugin's RPC server, the notifier and the port binder
// (agent/server.ts, agent/notifier.ts), and in the all-in-one the network agent itself
// (agent/agent.ts) with its data plane driver (drivers/).
import type { Family, NetworkService } from '../service.ts';
import { PluginServer } from '../agent/server.ts';
import { BusNotifier } from '../agent/notifier.ts';
import { NetworkAgent } from '../agent/agent.ts';
import { dataplane } from '../drivers/index.ts';
import { agentOption, extraL2Hosts, extrasState, setExtrasState } from './extras_state.ts';
import { startL2Agents } from '../agent/l2_agents.ts';
import { agentRoutes, defineAgents, extendForAgents } from './agents.ts';
import { defineQos, extendFloatingIpsForQos, extendForQos, qosRoutes } from './qos.ts';
import { defineTrunks, extendForTrunks, trunkRoutes } from './trunks.ts';

export const extrasFamily: Family = {
  define(svc) {
    const { mechanism } = dataplane(svc.config.dataplane);
    const server = new PluginServer(svc, mechanism);
    setExtrasState(svc, { mechanism, server, notifier: new BusNotifier(svc, server) });
    defineAgents(svc);
    defineQos(svc);
    defineTrunks(svc);
    const routers = svc.resources.has('routers');
    svc.declareExtension(
      {
        alias: 'agent',
        name: 'agent',
        description: 'The agent management extension.',
        updated: '2013-02-03T10:00:00-00:00',
      },
      {
        alias: 'dhcp_agent_scheduler',
        name: 'DHCP Agent Scheduler',
        description: 'Schedule networks among dhcp agents',
        updated: '2013-02-07T10:00:00-00:00',
      },
      {
        alias: 'availability_zone',
        name: 'Availability Zone',
        description: 'The availability zone extension.',
        updated: '2015-01-01T10:00:00-00:00',
      },
      {
        alias: 'network_availability_zone',
        name: 'Network Availability Zone',
        description: 'Availability zone support for network.',
        updated: '2015-01-01T10:00:00-00:00',
      },
      ...(routers
        ? [
            {
              alias: 'router_availability_zone',
              name: 'Router Availability Zone',
              description: 'Availability zone support for router.',
              updated: '2015-01-01T10:00:00-00:00',
            },
            {
              alias: 'l3_agent_scheduler',
              name: 'L3 Agent Scheduler',
              description: 'Schedule routers among l3 agents',
              updated: '2013-02-07T10:00:00-00:00',
            },
          ]
        : []),
      {
        alias: 'qos',
        name: 'Quality of Service',
        description: 'The Quality of Service extension.',
        updated: '2015-06-08T10:00:00-00:00',
      },
      {
        alias: 'qos-bw-limit-direction',
        name: 'Direction for QoS bandwidth limit rule',
        description: 'Allow to configure QoS bandwidth limit rule with specific direction: ingress or egress',
        updated: '2017-04-10T10:00:00-00:00',
      },
      {
        alias: 'qos-bw-minimum-ingress',
        name: 'Ingress direction for QoS minimum bandwidth rule',
        description: 'Allow to configure QoS minumum bandwidth rule with ingress direction.',
        updated: '2018-07-09T10:00:00-00:00',
      },
      {
        alias: 'qos-default',
        name: 'QoS default policy',
        description: 'Expose the QoS default policy per project',
        updated: '2017-041-06T10:00:00-00:00',
      },
      {
        alias: 'qos-rule-type-details',
        name: 'Details of QoS rule types',
        description: 'Expose details about QoS rule types supported by loaded backend drivers',
        updated: '2017-06-22T10:00:00-00:00',
      },
      {
        alias: 'qos-port-network-policy',
        name: 'QoS port network policy ID',
        description: 'Adds a the QoS network ID to the port definition',
        updated: '2019-11-01T10:00:00-00:00',
      },
      ...(routers
        ? [
            {
              alias: 'qos-fip',
              name: 'Floating IP QoS',
              description: 'The floating IP Quality of Service extension',
              updated: '2017-07-20T00:00:00-00:00',
            },
          ]
        : []),
      {
        alias: 'trunk',
        name: 'Trunk Extension',
        description: 'Provides support for trunk ports',
        updated: '2016-01-01T10:00:00-00:00',
      },
      {
        alias: 'trunk-details',
        name: 'Trunk port details',
        description: 'Expose trunk port details',
        updated: '2016-01-01T10:00:00-00:00',
      },
    );
  },

  extend(svc) {
    extendForAgents(svc);
    extendForQos(svc);
    extendFloatingIpsForQos(svc);
    extendForTrunks(svc);
  },

  routes(app, svc) {
    agentRoutes(app, svc);
    qosRoutes(app, svc);
    trunkRoutes(app, svc);
  },

  async init(svc) {
    const state = extrasState(svc);
    await state.server.start();
    svc.notifier = state.notifier;
    svc.binder = state.server.binder;
    if (svc.config.agent !== false) {
      const { create, mechanism } = dataplane(svc.config.dataplane);
      state.agent = new NetworkAgent(svc.ctx.bus, {
        host: svc.host,
        driver: create(svc.config, svc.ctx.config.dataDir),
        mechanism,
        log: svc.ctx.log,
        reportInterval: Number(agentOption(svc, 'agentReportInterval', 30)),
        availabilityZone: String(agentOption(svc, 'availabilityZone', 'nova')),
      });
      await state.agent.start();
      state.l2Agents = await startL2Agents(extraL2Hosts(svc), svc.ctx.config, svc.ctx.bus, svc.ctx.log);
    }
  },

  async close(svc) {
    const state = extrasState(svc);
    for (const a of state.l2Agents ?? []) await a.stop();
    await state.agent?.stop();
    state.server.stop();
  },
};

/** The network agent this service runs in-process, if any (tests look at its driver). */
export function localAgent(svc: NetworkService): NetworkAgent | undefined {
  return extrasState(svc).agent;
}
