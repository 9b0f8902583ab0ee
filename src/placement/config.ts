// Placement's options (`placement:` in stratus.yaml), typed, with Placement's defaults.
import type { StratusConfig } from '../core/config.ts';

/** The `placement:` section as written in stratus.yaml (every field optional). */
export interface PlacementConfig {
  /** Shuffle allocation candidates of equal weight (placement's randomize_allocation_candidates). */
  randomizeAllocationCandidates?: boolean;
}

declare module '../core/config.ts' {
  interface StratusConfig {
    placement?: PlacementConfig;
  }
}

/** Placement's options with their defaults; STRATUS_PLACEMENT_RANDOMIZE_CANDIDATES overrides the file. */
export function placementOptions(cfg: Pick<StratusConfig, 'placement'>): Required<PlacementConfig> {
  const env = process.env.STRATUS_PLACEMENT_RANDOMIZE_CANDIDATES;
  return {
    randomizeAllocationCandidates:
      env !== undefined ? env === 'true' : (cfg.placement?.randomizeAllocationCandidates ?? false),
  };
}
