// What the extras family keeps on the network service (svc.extras; a process may run several services, tests do).
import type { NetworkService } from '../service.ts';
import type { PluginServer } from '../agent/server.ts';
import type { BusNotifier } from '../agent/notifier.ts';
import type { NetworkAgent } from '../agent/agent.ts';
import type { Mechanism } from '../drivers/dataplane.ts';
import type { NetworkConfig } from '../config.ts';

export interface ExtrasState {
  mechanism: Mechanism;
  server: PluginServer;
  notifier: BusNotifier;
  /** The agent this process runs (the all-in-one), if any. */
  agent?: NetworkAgent;
  /** L2-only agents for this process's other compute hosts (compute.fakeHosts; see l2Hosts). */
  l2Agents?: NetworkAgent[];
}

/** What extraL2Hosts reads of the configuration (compute's section is compute's to declare). */
interface HostOptions {
  roles?: readonly string[];
  network?: Partial<NetworkConfig>;
  compute?: { agent?: boolean; driver?: string; host?: string; fakeHosts?: number };
}

/**
 * The hosts besides the network's own whose ports this process's agents must plug: the compute
 * hosts of this process (compute.host, `<host>-2`, ... with compute.fakeHosts, as the compute
 * service names them), or `network.l2Hosts` when given. Upstream every compute host runs its own
 * L2 agent; without one a port bound there stays binding_failed and DOWN.
 */
export function extraL2Hosts(svc: NetworkService): string[] {
  const cfg = svc.ctx.config as HostOptions;
  const given = cfg.network?.l2Hosts;
  let hosts: string[];
  if (Array.isArray(given)) hosts = given.map(String);
  else {
    const c = cfg.compute ?? {};
    const roles: readonly string[] = cfg.roles ?? ['compute'];
    if (c.agent === false || !roles.includes('compute') || (c.driver ?? 'fake') !== 'fake') return [];
    const host = String(c.host ?? svc.host);
    const n = Math.max(1, Math.floor(Number(c.fakeHosts ?? 1)) || 1);
    hosts = Array.from({ length: n }, (_, i) => (i === 0 ? host : `${host}-${i + 1}`));
  }
  return [...new Set(hosts)].filter((h) => h && h !== svc.host);
}

export function extrasState(svc: NetworkService): ExtrasState {
  const s = svc.extras;
  if (!s) throw new Error('the extras family was not defined for this network service');
  return s;
}

export function setExtrasState(svc: NetworkService, s: ExtrasState) {
  svc.extras = s;
}

/** Agent options of NetworkConfig: agentDownTime (s, 75), agentReportInterval (s, 30), availabilityZone ('nova'). */
export function agentOption<T>(
  svc: NetworkService,
  name: 'agentDownTime' | 'agentReportInterval' | 'availabilityZone',
  fallback: T,
): T {
  const v: unknown = (svc.config as Partial<NetworkConfig>)[name];
  return v === undefined || v === null ? fallback : (v as T);
}
