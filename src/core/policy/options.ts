// Which oslo.policy options a service's enforcer runs with: `<section>.policy.enforceScope` /
// `enforceNewDefaults` of the configuration; the cloud-wide `secureRbac` turns both on in every
// service that does not say `false` itself (Zed's gate: the switch on, identity's two off).
// Image's older `image.enforceScope` still says the same as `image.policy.enforceScope`.
import type { StratusConfig } from '../config.ts';
import type { ServicePolicyConfig } from './config.ts';
import { isPlainObject } from '../python.ts';

export interface PolicyModeOptions {
  enforceScope: boolean;
  enforceNewDefaults: boolean;
}

/** The configuration's `<section>.policy`, when it is a mapping. */
function sectionPolicy(config: StratusConfig, section: string): ServicePolicyConfig {
  const s: unknown = (config as unknown as Record<string, unknown>)[section];
  if (!isPlainObject(s)) return {};
  const p: unknown = s['policy'];
  const out: ServicePolicyConfig = {};
  if (isPlainObject(p)) {
    if (typeof p['enforceScope'] === 'boolean') out.enforceScope = p['enforceScope'];
    if (typeof p['enforceNewDefaults'] === 'boolean') out.enforceNewDefaults = p['enforceNewDefaults'];
  }
  // The alias `<section>.enforceScope` (image's, from before the policy section).
  if (s['enforceScope'] === true) out.enforceScope = true;
  return out;
}

/** The enforcer options of the service whose configuration section is `section` (identity, compute, image, ...). */
export function policyModeOptions(config: StratusConfig, section: string): PolicyModeOptions {
  const own = sectionPolicy(config, section);
  const secure = config.secureRbac === true;
  return {
    enforceScope: own.enforceScope ?? secure,
    enforceNewDefaults: own.enforceNewDefaults ?? secure,
  };
}
