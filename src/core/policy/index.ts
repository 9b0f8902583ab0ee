// The policy engine: oslo.policy's rule language, defaults in code, policy.yaml overrides and scope
// enforcement, laid out as oslo.policy is (checks, parser, enforcer).
export {
  AndCheck,
  Check,
  type CheckFactory,
  FalseCheck,
  GenericCheck,
  NotCheck,
  OrCheck,
  type PolicyCredentials,
  PolicyEvaluationError,
  type PolicyTarget,
  RoleCheck,
  RuleCheck,
  type RuleResolver,
  TrueCheck,
  pythonLiteralStr,
} from './checks.ts';
export { type CheckFactories, type PolicyLogger, parseRule } from './parser.ts';
export {
  type PolicyDefault,
  PolicyEngine,
  type PolicyEngineOptions,
  type RuleDefault,
  type ScopeType,
  withDefault,
} from './enforcer.ts';
export { type PolicyModeOptions, policyModeOptions } from './options.ts';
export { pyStr } from '../python.ts';
