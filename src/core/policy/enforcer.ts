// The enforcer of oslo.policy (oslo_policy/policy.py): a service's rules are its defaults in code,
// overridden by its policy.yaml; a `rule:` reference to an unknown rule, and enforcement of an
// unknown rule name, fall back to the rule called "default" when it exists; with enforceScope, a
// token whose scope is not one of the rule's scope types is denied.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { isPlainObject, pyTruthy } from '../python.ts';
import type { Check, PolicyCredentials, RuleResolver } from './checks.ts';
import type { StratusConfig } from '../config.ts';
import { type PolicyModeOptions, policyModeOptions } from './options.ts';
import { type CheckFactories, consoleLogger, type PolicyLogger, parseRule } from './parser.ts';

export type ScopeType = 'system' | 'domain' | 'project';

export interface PolicyDefault {
  name: string;
  checkStr: string;
  /**
   * The rule's deprecated predecessor (oslo's DeprecatedRule.check_str): or-ed with checkStr
   * unless enforceNewDefaults is on.
   */
  deprecatedCheckStr?: string;
  description?: string;
  scopeTypes?: Array<ScopeType>;
  operations?: Array<{ path: string; method: string }>;
}

/** A rule's default without its name: what several rules of a service share. */
export type RuleDefault = Omit<PolicyDefault, 'name'>;

/** The rules `names`, each with the default `d` (the upstream policy files write such a run out rule by rule). */
export function withDefault(d: RuleDefault, ...names: string[]): PolicyDefault[] {
  return names.map((name) => ({ name, ...d }));
}

export interface PolicyEngineOptions {
  /** Rule name -> check string, replacing (or adding to) the defaults. */
  overrides?: Record<string, string>;
  /** Deny when the token scope is not one of the rule's scopeTypes (oslo default: false). */
  enforceScope?: boolean;
  /** Apply only the new defaults, not their deprecated predecessors (oslo default: false). */
  enforceNewDefaults?: boolean;
  /** Where parse problems are reported; defaults to console.warn. */
  logger?: PolicyLogger;
  /** Credentials carry is_admin = role:admin, as nova's RequestContext sets it from context_is_admin. */
  contextIsAdmin?: boolean;
  /** Credentials carry tenant_id = project_id, as neutron_lib's context adds it (`tenant_id:%(network:tenant_id)s`). */
  tenantIdCredential?: boolean;
  /** Check kinds this service adds to the rule language (Neutron's `field:`), by kind. */
  checks?: CheckFactories;
}

const hasOwn = Object.prototype.hasOwnProperty;

interface CompiledRule {
  name: string;
  checkStr: string;
  check: Check;
  /** Only registered defaults carry scope types (overrides cannot change them). */
  scopeTypes: readonly ScopeType[] | undefined;
  base: PolicyDefault | undefined;
}

const DEFAULT_RULE = 'default';

export class PolicyEngine implements RuleResolver {
  private readonly compiled = new Map<string, CompiledRule>();
  readonly enforceScope: boolean;
  readonly enforceNewDefaults: boolean;
  private readonly logger: PolicyLogger;
  private readonly checks: CheckFactories | undefined;
  /** See PolicyEngineOptions. */
  readonly contextIsAdmin: boolean;
  readonly tenantIdCredential: boolean;

  constructor(defaults: PolicyDefault[], options: PolicyEngineOptions = {}) {
    this.enforceScope = options.enforceScope ?? false;
    this.enforceNewDefaults = options.enforceNewDefaults ?? false;
    this.contextIsAdmin = options.contextIsAdmin ?? false;
    this.tenantIdCredential = options.tenantIdCredential ?? false;
    this.logger = options.logger ?? consoleLogger;
    this.checks = options.checks;
    const overrides = options.overrides ?? {};
    for (const d of defaults) {
      if (this.compiled.has(d.name)) throw new Error(`Policy ${d.name} is already registered`);
      const override = hasOwn.call(overrides, d.name) ? overrides[d.name] : undefined;
      // oslo.policy: an untouched default with a deprecated predecessor is "new or deprecated"
      // while enforce_new_defaults is off. oslo or-s the two parsed checks: an empty rule (always
      // true, as cinder's deprecated volume:create) is `@` inside the or.
      const checkStr =
        typeof override === 'string'
          ? override
          : d.deprecatedCheckStr !== undefined && d.deprecatedCheckStr !== d.checkStr && !options.enforceNewDefaults
            ? `(${d.checkStr.trim() || '@'}) or (${d.deprecatedCheckStr.trim() || '@'})`
            : d.checkStr;
      this.compiled.set(d.name, {
        name: d.name,
        checkStr,
        check: this.parse(d.name, checkStr),
        scopeTypes: d.scopeTypes && d.scopeTypes.length > 0 ? [...d.scopeTypes] : undefined,
        base: d,
      });
    }
    for (const [name, checkStr] of Object.entries(overrides)) {
      if (this.compiled.has(name) || typeof checkStr !== 'string') continue;
      this.compiled.set(name, {
        name,
        checkStr,
        check: this.parse(name, checkStr),
        scopeTypes: undefined,
        base: undefined,
      });
    }
  }

  private parse(name: string, checkStr: string): Check {
    return parseRule(checkStr, { warn: (m) => this.logger.warn(`${m} (policy ${name})`) }, this.checks);
  }

  /**
   * A service's engine: its upstream defaults, overridden by <policyDir>/<service>.yaml, warnings
   * to its log. Given the whole configuration instead of its policyDir, the enforcer also follows
   * `<section>.policy` and `secureRbac` (section: the service's configuration key, default its name).
   */
  static forService(
    service: string,
    defaults: PolicyDefault[],
    policyDirOrConfig: string | StratusConfig,
    log: PolicyLogger,
    options: Pick<
      PolicyEngineOptions,
      'enforceScope' | 'enforceNewDefaults' | 'contextIsAdmin' | 'tenantIdCredential' | 'checks'
    > & { section?: string } = {},
  ): PolicyEngine {
    const { section, ...rest } = options;
    let policyDir: string;
    let mode: Partial<PolicyModeOptions> = {};
    if (typeof policyDirOrConfig === 'string') policyDir = policyDirOrConfig;
    else {
      policyDir = policyDirOrConfig.policyDir;
      mode = policyModeOptions(policyDirOrConfig, section ?? service);
    }
    return new PolicyEngine(defaults, {
      ...rest,
      enforceScope: !!(rest.enforceScope || mode.enforceScope),
      enforceNewDefaults: !!(rest.enforceNewDefaults || mode.enforceNewDefaults),
      overrides: PolicyEngine.loadOverrides(join(policyDir, `${service}.yaml`)),
      logger: { warn: (m: string) => log.warn(m) },
    });
  }

  /**
   * Read a policy override file (YAML, or JSON which YAML also accepts).
   * A missing file yields {}.  A rule with an empty value (null) means
   * "always allow", as in oslo.  Unreadable/invalid files throw.
   */
  static loadOverrides(file: string): Record<string, string> {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw err;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      try {
        // PyYAML (used by oslo) speaks YAML 1.1 and lets later keys win.
        parsed = parseYaml(text, { version: '1.1', uniqueKeys: false });
      } catch (err) {
        throw new Error(`Invalid policy file ${file}: ${(err as Error).message}`);
      }
    }
    if (parsed === null || parsed === undefined || parsed === '') return {};
    if (!isPlainObject(parsed))
      throw new Error(`Invalid policy file ${file}: expected a mapping of rule names to rules`);
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(parsed)) {
      if (typeof value === 'string') out[name] = value;
      else if (value === null || (Array.isArray(value) && value.length === 0)) out[name] = '';
      else if (Array.isArray(value)) {
        consoleLogger.warn(`Policy ${name} in ${file} uses the legacy list syntax, which is not supported; denying`);
        out[name] = '!';
      } else {
        throw new Error(`Invalid policy file ${file}: rule ${name} must be a string`);
      }
    }
    return out;
  }

  /** The parsed rule for `name`, falling back to the "default" rule (oslo Rules.__missing__). */
  resolveRule(name: string): Check | undefined {
    return (this.compiled.get(name) ?? this.compiled.get(DEFAULT_RULE))?.check;
  }

  /**
   * Whether a rule's outcome is the same for every target (only roles, scope and other
   * credential checks): callers may then evaluate it once per request.
   */
  targetFree(rule: string): boolean {
    let v = this.targetFreeMemo.get(rule);
    if (v === undefined) {
      const compiled = this.resolveRule(rule);
      v = !compiled || !compiled.usesTarget(this);
      this.targetFreeMemo.set(rule, v);
    }
    return v;
  }
  private targetFreeMemo = new Map<string, boolean>();

  /** Is a rule of that name registered (Neutron enforces attribute rules only where one exists)? */
  has(rule: string): boolean {
    return this.compiled.has(rule);
  }

  enforce(rule: string, target: Record<string, unknown>, creds: PolicyCredentials): boolean {
    return this.check(rule, target, creds).allowed;
  }

  check(
    rule: string,
    target: Record<string, unknown>,
    creds: PolicyCredentials,
  ): { allowed: boolean; scopeError: boolean } {
    try {
      const own = this.compiled.get(rule);
      const compiled = own ?? this.compiled.get(DEFAULT_RULE);
      if (!compiled) return { allowed: false, scopeError: false };
      let c = this.serviceCredentials(creds);
      // oslo copies system_scope into creds['system'] before checking.
      if (pyTruthy(creds.system_scope) && creds['system'] !== creds.system_scope) {
        c = { ...creds, system: creds.system_scope };
      }
      // Scope types belong to the registered rule that was asked for, not to
      // "default" when we fell back to it.
      if (own?.scopeTypes && this.enforceScope) {
        const tokenScope: ScopeType = pyTruthy(c['system']) ? 'system' : pyTruthy(c.domain_id) ? 'domain' : 'project';
        if (!own.scopeTypes.includes(tokenScope)) return { allowed: false, scopeError: true };
      }
      const t = isPlainObject(target) ? target : {};
      return { allowed: compiled.check.evaluate(t, c, this) === true, scopeError: false };
    } catch (err) {
      // Where oslo would raise out of enforce(): deny instead.
      this.logger.warn(`Error enforcing ${rule}: ${(err as Error).message}; denying`);
      return { allowed: false, scopeError: false };
    }
  }

  /** The credentials with what this service's context adds (see the options); the same object when nothing is missing. */
  serviceCredentials(creds: PolicyCredentials): PolicyCredentials {
    const isAdmin = this.contextIsAdmin && creds.is_admin === undefined;
    const tenant = this.tenantIdCredential && !('tenant_id' in creds);
    if (!isAdmin && !tenant) return creds;
    const c: PolicyCredentials = { ...creds };
    if (isAdmin) c.is_admin = (creds.roles ?? []).includes('admin');
    if (tenant) c.tenant_id = creds.project_id ?? null;
    return c;
  }

  rules(): PolicyDefault[] {
    const out: PolicyDefault[] = [];
    for (const r of this.compiled.values()) {
      if (r.base) {
        const { deprecatedCheckStr: _folded, ...base } = r.base;
        out.push({
          ...base,
          checkStr: r.checkStr,
          ...(r.base.scopeTypes ? { scopeTypes: [...r.base.scopeTypes] } : {}),
          ...(r.base.operations ? { operations: r.base.operations.map((o) => ({ ...o })) } : {}),
        });
      } else {
        out.push({ name: r.name, checkStr: r.checkStr });
      }
    }
    return out;
  }
}
