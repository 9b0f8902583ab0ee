// The typed shape of a service's policy options; core/policy/options.ts reads them.
/**
 * oslo.policy's [oslo_policy] options of one service, as `<service>.policy` in the configuration
 * (identity.policy, compute.policy, ...). The cloud-wide `secureRbac` turns both on everywhere.
 */
export interface ServicePolicyConfig {
  /** Refuse a token whose scope is not one of the rule's scope types (enforce_scope). */
  enforceScope?: boolean;
  /** Apply only the new default rules, not their deprecated predecessors (enforce_new_defaults). */
  enforceNewDefaults?: boolean;
}
