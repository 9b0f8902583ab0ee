// What the extras family keeps per network service instance (a process may run several, tests do).
import type { NetworkService } from '../service.ts';
import type { PluginServer } from '../agent/server.ts';
import type { BusNotifier } from '../agent/notifier.ts';
import type { NetworkAgent } from '../agent/agent.ts';
import type { Mechanism } from '../drivers/dataplane.ts';

export interface ExtrasState {
  mechanism: Mechanism;
  server: PluginServer;
  notifier: BusNotifier;
  /** The agent this process runs (the all-in-one), if any. */
  agent?: NetworkAgent;
}

const states = new WeakMap<NetworkService, ExtrasState>();

export function extrasState(svc: NetworkService): ExtrasState {
  const s = states.get(svc);
  if (!s) throw new Error('the extras family was not defined for this network service');
  return s;
}

export function setExtrasState(svc: NetworkService, s: ExtrasState) { states.set(svc, s); }

/** Agent options of NetworkConfig: agentDownTime (s, 75), agentReportInterval (s, 30), availabilityZone ('nova'). */
export function agentOption<T>(svc: NetworkService, name: 'agentDownTime' | 'agentReportInterval' | 'availabilityZone', fallback: T): T {
  const v = (svc.config as unknown as Record<string, unknown>)[name];
  return v === undefined || v === null ? fallback : (v as T);
}
