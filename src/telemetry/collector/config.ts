// Ceilometer's options (`collector:` in stratus.yaml), typed, with defaults.
import path from 'node:path';
import type { StratusConfig } from '../../core/config.ts';

export interface CollectorOptions {
  /** Run the notification agent and the polling agents in this process (with the metric service). */
  enabled: boolean;
  /** Seconds between two polling rounds (polling.yaml's interval); 0 turns polling off. */
  pollingInterval: number;
  /**
   * The pollsters the polling agents run: compute, image, volume, floatingip, objectstore (the
   * collector's ceilometer user has Swift's ResellerAdmin role, as DevStack grants), and the
   * network.services.* ones, lb (Octavia's API), vpn and firewall (Neutron's VPNaaS and FWaaS v2):
   * these find nothing where the cloud has no such API.
   */
  pollsters: string[];
  /** Build events from the notifications (event_definitions.yaml) and run the event pipeline. */
  events: boolean;
  /** Where meters.yaml, pipeline.yaml, event_definitions.yaml and event_pipeline.yaml overrides are read from. */
  configDir: string;
  /** Archive policies of the metrics the gnocchi publisher creates (gauges; counters). */
  archivePolicy: string;
  rateArchivePolicy: string;
}

export type CollectorConfig = Partial<CollectorOptions>;

declare module '../../core/config.ts' {
  interface StratusConfig {
    collector?: CollectorConfig;
  }
}

export function collectorOptions(cfg: Pick<StratusConfig, 'dataDir' | 'collector'>): CollectorOptions {
  const c = cfg.collector ?? {};
  return {
    enabled: c.enabled ?? true,
    pollingInterval: Number(c.pollingInterval ?? 60),
    pollsters: c.pollsters ?? ['compute', 'image', 'volume', 'floatingip', 'objectstore', 'lb', 'vpn', 'firewall'],
    events: c.events ?? true,
    configDir: c.configDir ?? path.join(cfg.dataDir, 'telemetry'),
    archivePolicy: c.archivePolicy ?? 'ceilometer-low',
    rateArchivePolicy: c.rateArchivePolicy ?? 'ceilometer-low-rate',
  };
}
