// The `devstack:` section of stratus.yaml: what a start adds to a bare cloud, and the test
// helpers (reset, snapshots, fault injection) that are off unless asked for.
import type { StratusConfig } from '../core/config.ts';
import type { FaultRule } from './faults.ts';

export interface DevstackConfig {
  /** Create DevStack's world on start (demo users, m1.* flavors, public/private networks, router1, an image). Default true; `--bare` says false. */
  world?: boolean;
  /** Serve the admin-only POST /stratus/reset (and `stratus reset`). Default false. */
  reset?: boolean;
  /** Fault injection rules active from the start (see src/devstack/README.md). */
  faults?: FaultRule[];
  /** Serve the admin-only fault injection API under /stratus/faults. Default false. */
  faultApi?: boolean;
}

declare module '../core/config.ts' {
  interface StratusConfig {
    devstack?: DevstackConfig;
  }
}

export interface DevstackOptions {
  world: boolean;
  reset: boolean;
  faults: FaultRule[];
  faultApi: boolean;
}

export function devstackOptions(cfg: Pick<StratusConfig, 'devstack'>): DevstackOptions {
  const d = cfg.devstack ?? {};
  return { world: d.world !== false, reset: d.reset === true, faults: d.faults ?? [], faultApi: d.faultApi === true };
}
