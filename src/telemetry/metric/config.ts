// Gnocchi's options (`metric:` in stratus.yaml), typed, with Gnocchi's defaults.
import path from 'node:path';
import type { StratusConfig } from '../../core/config.ts';

export interface MetricOptions {
  /** Where the measure store keeps its files (Gnocchi's [storage] file_basepath). */
  storageDir: string;
  /** Aggregation methods of a policy created without any ([archive_policy] default_aggregation_methods). */
  defaultAggregationMethods: string[];
  /** The most items a list answers (Gnocchi's [api] max_limit). */
  maxLimit: number;
  /**
   * Seconds a deleted metric stays in the `delete` state (listed with `status=delete`, its archive
   * policy still in use) before the janitor expunges it (Gnocchi's [metricd] metric_cleanup_delay).
   */
  metricCleanupDelay: number;
}

export type MetricConfig = Partial<MetricOptions>;

declare module '../../core/config.ts' {
  interface StratusConfig {
    metric?: MetricConfig;
  }
}

export function metricOptions(cfg: Pick<StratusConfig, 'dataDir' | 'metric'>): MetricOptions {
  const c = cfg.metric ?? {};
  return {
    storageDir: c.storageDir ?? path.join(cfg.dataDir, 'metric-storage'),
    defaultAggregationMethods: c.defaultAggregationMethods ?? ['mean', 'min', 'max', 'sum', 'std', 'count'],
    maxLimit: Number(c.maxLimit ?? 1000),
    metricCleanupDelay: Number(c.metricCleanupDelay ?? 10),
  };
}
