// Ceilometer's polling.yaml: sources, each with an `interval` (seconds) and the `meters` it polls
// (names and fnmatch patterns, `!name` to leave out). A pollster runs in a source when one of the
// meters it measures is selected, and only the selected meters of its samples go on. Without a
// `polling.yaml` in <dataDir>/telemetry, one source polls every meter of `collector.pollsters`
// every `collector.pollingInterval` seconds.
import fs from 'node:fs';
import YAML from 'yaml';
import { meterSelected } from './pipeline.ts';

/** The meters each pollster measures (what a polling.yaml source selects it by). */
export const POLLSTER_METERS: Record<string, string[]> = {
  compute: [
    'cpu',
    'vcpus',
    'memory',
    'memory.usage',
    'disk.device.read.bytes',
    'disk.device.read.requests',
    'disk.device.write.bytes',
    'disk.device.write.requests',
    'network.incoming.bytes',
    'network.incoming.packets',
    'network.outgoing.bytes',
    'network.outgoing.packets',
  ],
  image: ['image.size'],
  volume: ['volume.size'],
  floatingip: ['ip.floating'],
  objectstore: ['storage.objects', 'storage.objects.size', 'storage.objects.containers'],
  lb: [
    'network.services.lb.loadbalancer',
    'network.services.lb.listener',
    'network.services.lb.pool',
    'network.services.lb.member',
    'network.services.lb.health_monitor',
  ],
  vpn: ['network.services.vpn', 'network.services.vpn.connections'],
  firewall: ['network.services.firewall', 'network.services.firewall.policy'],
};

export interface PollingSource {
  name: string;
  interval: number;
  meters: string[];
  /** The pollsters that measure one of its meters. */
  pollsters: string[];
}

/** Checks and loads a polling.yaml text; `enabled` are the pollsters this process may run. */
export function loadPolling(text: string, enabled: string[]): PollingSource[] {
  const doc = YAML.parse(text) as { sources?: unknown };
  if (!doc || !Array.isArray(doc.sources)) throw new Error('polling.yaml needs a list of sources');
  return doc.sources.map((raw, i) => {
    const s = raw as { name?: unknown; interval?: unknown; meters?: unknown };
    const name = typeof s?.name === 'string' ? s.name : `source ${i}`;
    const interval = Number(s?.interval);
    if (!Number.isFinite(interval) || interval <= 0)
      throw new Error(`polling.yaml: ${name}: interval must be a positive number of seconds`);
    if (!Array.isArray(s.meters) || !s.meters.every((m) => typeof m === 'string'))
      throw new Error(`polling.yaml: ${name}: meters must be a list of names or patterns`);
    const meters = s.meters as string[];
    const pollsters = enabled.filter((p) => (POLLSTER_METERS[p] ?? []).some((m) => meterSelected(meters, m)));
    return { name, interval, meters, pollsters };
  });
}

/** The sources: <configDir>/polling.yaml when present, else one of every enabled pollster. */
export function pollingSources(file: string, enabled: string[], interval: number): PollingSource[] {
  if (fs.existsSync(file)) return loadPolling(fs.readFileSync(file, 'utf8'), enabled);
  if (interval <= 0) return [];
  return [{ name: 'all_pollsters', interval, meters: ['*'], pollsters: enabled.filter((p) => p in POLLSTER_METERS) }];
}
