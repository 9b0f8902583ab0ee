// L2-only network agents (neutron's L2 agent on a compute node): one per compute host whose
// ports must be plugged — the other fake hosts of an all-in-one process, or the hosts of a
// `--role compute` process, which has no network service of its own. Each talks to the
// network service over the bus like any agent; without one, a port bound there stays
// binding_failed and DOWN.
import type { StratusConfig } from '../../core/config.ts';
import type { MessageBus } from '../../core/bus.ts';
import type { Logger } from '../../core/log.ts';
import { dataplane } from '../drivers/index.ts';
import os from 'node:os';
import { NetworkAgent } from './agent.ts';

/**
 * The hosts of a worker process that get an L2-only agent: its compute hosts, except the one whose
 * whole agent the process runs as a network node (`network-agent` role, `network.host`): two
 * agents under one host name would report and wire the same ports twice.
 */
export function l2OnlyHosts(
  computeHosts: string[],
  cfg: { roles: readonly string[]; network?: { host?: string } },
): string[] {
  if (!cfg.roles.includes('network-agent')) return computeHosts;
  const netHost = cfg.network?.host || os.hostname();
  return computeHosts.filter((h) => h !== netHost);
}

/**
 * The `network-agent` role (a network node): the whole agent (L2, DHCP and L3 roles) of
 * `network.host`, talking to the API's process over the bus.
 */
export async function startNetworkAgent(cfg: StratusConfig, bus: MessageBus, log: Logger): Promise<NetworkAgent> {
  const net = cfg.network;
  const { create, mechanism } = dataplane(net?.dataplane);
  const agent = new NetworkAgent(bus, {
    host: net?.host || os.hostname(),
    driver: create(net, cfg.dataDir),
    mechanism,
    log,
    reportInterval: Number(net?.agentReportInterval ?? 30),
    availabilityZone: String(net?.availabilityZone ?? 'nova'),
  });
  await agent.start();
  return agent;
}

export async function startL2Agents(
  hosts: string[],
  cfg: StratusConfig,
  bus: MessageBus,
  log: Logger,
): Promise<NetworkAgent[]> {
  const net = cfg.network;
  const { create, mechanism } = dataplane(net?.dataplane);
  const agents: NetworkAgent[] = [];
  for (const host of hosts) {
    const agent = new NetworkAgent(bus, {
      host,
      // Only the host that realises routers makes the root namespace's uplink.
      driver: create({ ...net, externalUplink: undefined }, cfg.dataDir),
      mechanism,
      log: log.child({ l2host: host }),
      l2Only: true,
      reportInterval: Number(net?.agentReportInterval ?? 30),
      availabilityZone: String(net?.availabilityZone ?? 'nova'),
    });
    agents.push(agent);
    await agent.start();
  }
  return agents;
}
