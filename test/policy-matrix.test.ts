// The policy matrix: every registered rule of every service (found on disk: each src/**/policies.ts)
// × every persona of upstream's secure RBAC (system, domain and project admin/member/reader, and the
// service role) × targets of the persona's own and of another project × the three oslo.policy modes
// (Zed's default, enforce_new_defaults, both switches). The engine's answer must equal the one this
// file computes on its own from the rule strings with oslo.policy's semantics: "new default or
// deprecated rule" unless enforce_new_defaults, only the new default with it; a token of a scope
// the rule does not list is refused (a scope error) with enforce_scope. A rule added later is in the
// matrix without a line here. Then a few answers upstream documents, per service, by name.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import {
  Check,
  type PolicyCredentials,
  type PolicyDefault,
  PolicyEngine,
  type PolicyEngineOptions,
  type PolicyTarget,
} from '../src/core/policy/index.ts';

const SRC = join(import.meta.dirname, '..', 'src');
const silent = { warn: () => {} };

// ---------------------------------------------------------------------------------------------
// Neutron's field check (field:<resource>:<attr>=<value>), for the engine and the reference alike.
// ---------------------------------------------------------------------------------------------
function fieldAllowed(match: string, target: PolicyTarget): boolean {
  const [, fv = ''] = match.split(/:(.*)/s);
  const [field = '', value = ''] = fv.split(/=(.*)/s);
  const v = target[field];
  if (v === undefined || v === null) return false;
  if (value.startsWith('~')) return new RegExp(value.slice(1)).test(String(v));
  if (typeof v === 'boolean') return value.toLowerCase() === String(v);
  return String(v) === value;
}
class TestFieldCheck extends Check {
  constructor(readonly match: string) {
    super();
  }
  evaluate(target: PolicyTarget): boolean {
    return fieldAllowed(this.match, target);
  }
  toString(): string {
    return `field:${this.match}`;
  }
}

/** What each service's context adds to the credentials (as its service.ts builds its engine). */
const SERVICE_OPTIONS: Record<string, Pick<PolicyEngineOptions, 'contextIsAdmin' | 'tenantIdCredential' | 'checks'>> = {
  compute: { contextIsAdmin: true },
  'block-storage': { contextIsAdmin: true },
  network: { tenantIdCredential: true, checks: { field: (m) => new TestFieldCheck(m) } },
};

interface ServiceRules {
  service: string;
  rules: PolicyDefault[];
}

function isPolicyList(v: unknown): v is PolicyDefault[] {
  return (
    Array.isArray(v) &&
    v.length > 0 &&
    v.every((r) => typeof r === 'object' && r !== null && typeof r.name === 'string' && typeof r.checkStr === 'string')
  );
}

/** Every service's default rules: the PolicyDefault lists exported by src/<service>/**\/policies.ts. */
async function discover(): Promise<ServiceRules[]> {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'api') walk(p);
      } else if (e.name === 'policies.ts') files.push(p);
    }
  };
  walk(SRC);
  const out: ServiceRules[] = [];
  for (const f of files.sort()) {
    const mod = (await import(f)) as Record<string, unknown>;
    for (const v of Object.values(mod))
      if (isPolicyList(v)) out.push({ service: relative(SRC, f).replace(/\/policies\.ts$/, ''), rules: v });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The reference: oslo.policy's rule language evaluated directly from the strings.
// ---------------------------------------------------------------------------------------------
type Node =
  | { t: 'true' }
  | { t: 'false' }
  | { t: 'not'; a: Node }
  | { t: 'and' | 'or'; a: Node[] }
  | { t: 'check'; kind: string; match: string };

function tokenize(s: string): string[] {
  const out: string[] = [];
  for (let tok of s.split(/\s+/).filter(Boolean)) {
    while (tok.startsWith('(')) {
      out.push('(');
      tok = tok.slice(1);
    }
    let close = 0;
    while (tok.endsWith(')')) {
      close++;
      tok = tok.slice(0, -1);
    }
    if (tok) out.push(tok);
    for (let i = 0; i < close; i++) out.push(')');
  }
  return out;
}

/** and binds tighter than or; not binds tightest (oslo's reducers). An empty rule is always true. */
function parse(s: string): Node {
  const toks = tokenize(s);
  if (toks.length === 0) return { t: 'true' };
  let i = 0;
  const expr = (): Node => {
    const parts = [term()];
    while (toks[i]?.toLowerCase() === 'or') {
      i++;
      parts.push(term());
    }
    return parts.length === 1 ? parts[0]! : { t: 'or', a: parts };
  };
  const term = (): Node => {
    const parts = [factor()];
    while (toks[i]?.toLowerCase() === 'and') {
      i++;
      parts.push(factor());
    }
    return parts.length === 1 ? parts[0]! : { t: 'and', a: parts };
  };
  const factor = (): Node => {
    const tok = toks[i++];
    if (tok === undefined) throw new Error(`unexpected end of rule: ${s}`);
    if (tok.toLowerCase() === 'not') return { t: 'not', a: factor() };
    if (tok === '(') {
      const e = expr();
      assert.equal(toks[i++], ')', `unbalanced rule: ${s}`);
      return e;
    }
    if (tok === '@') return { t: 'true' };
    if (tok === '!') return { t: 'false' };
    const c = tok.indexOf(':');
    assert.ok(c > 0, `a check without a kind in ${s}`);
    return { t: 'check', kind: tok.slice(0, c), match: tok.slice(c + 1) };
  };
  const n = expr();
  assert.equal(i, toks.length, `trailing tokens in rule: ${s}`);
  return n;
}

const MISSING = Symbol('missing');
function lookup(obj: unknown, path: string): unknown {
  if (typeof obj !== 'object' || obj === null) return MISSING;
  const o = obj as Record<string, unknown>;
  if (o[path] !== undefined) return o[path];
  let cur: unknown = o;
  for (const part of path.split('.')) {
    if (typeof cur !== 'object' || cur === null || (cur as Record<string, unknown>)[part] === undefined) return MISSING;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}
const pyStr = (v: unknown) => (v === true ? 'True' : v === false ? 'False' : v === null ? 'None' : String(v));

/** Python's `match % target`: undefined where a key is missing (oslo: KeyError, the check is false). */
function render(match: string, target: PolicyTarget): string | undefined {
  let missing = false;
  const out = match.replace(/%\(([^)]+)\)s/g, (_m, key: string) => {
    const v = lookup(target, key);
    if (v === MISSING) missing = true;
    return pyStr(v);
  });
  return missing ? undefined : out;
}

class Reference {
  private readonly byName = new Map<string, PolicyDefault>();
  private readonly parsed = new Map<string, Node>();
  constructor(
    rules: PolicyDefault[],
    private readonly newDefaults: boolean,
    private readonly enforceScope: boolean,
  ) {
    for (const r of rules) this.byName.set(r.name, r);
  }
  private node(s: string): Node {
    let n = this.parsed.get(s);
    if (!n) this.parsed.set(s, (n = parse(s)));
    return n;
  }
  /** A rule as oslo compiles it: its new default, or-ed with its deprecated rule unless enforce_new_defaults. */
  private ruleAllowed(name: string, target: PolicyTarget, creds: PolicyCredentials, depth: number): boolean {
    const r = this.byName.get(name) ?? this.byName.get('default');
    if (!r) return false;
    assert.ok(depth < 50, `rule cycle at ${name}`);
    if (this.eval(this.node(r.checkStr), target, creds, depth)) return true;
    return (
      !this.newDefaults &&
      r.deprecatedCheckStr !== undefined &&
      this.eval(this.node(r.deprecatedCheckStr), target, creds, depth)
    );
  }
  private eval(n: Node, target: PolicyTarget, creds: PolicyCredentials, depth: number): boolean {
    switch (n.t) {
      case 'true':
        return true;
      case 'false':
        return false;
      case 'not':
        return !this.eval(n.a, target, creds, depth);
      case 'and':
        return n.a.every((x) => this.eval(x, target, creds, depth));
      case 'or':
        return n.a.some((x) => this.eval(x, target, creds, depth));
      case 'check': {
        if (n.kind === 'rule') return this.ruleAllowed(n.match, target, creds, depth + 1);
        if (n.kind === 'field') return fieldAllowed(n.match, target);
        const want = render(n.match, target);
        if (want === undefined) return false;
        if (n.kind === 'role') return (creds.roles ?? []).some((r) => r.toLowerCase() === want.toLowerCase());
        const quoted = /^'(.*)'$/.exec(n.kind);
        if (quoted) return want === quoted[1];
        if (n.kind === 'True' || n.kind === 'False') return want === n.kind;
        const have = lookup(creds, n.kind);
        return have !== MISSING && want === pyStr(have);
      }
    }
  }
  check(name: string, target: PolicyTarget, creds: PolicyCredentials): { allowed: boolean; scopeError: boolean } {
    const own = this.byName.get(name);
    if (this.enforceScope && own?.scopeTypes && own.scopeTypes.length > 0) {
      const scope = creds.system_scope ? 'system' : creds.domain_id ? 'domain' : 'project';
      if (!own.scopeTypes.includes(scope)) return { allowed: false, scopeError: true };
    }
    return { allowed: this.ruleAllowed(name, target, creds, 0), scopeError: false };
  }
}

// ---------------------------------------------------------------------------------------------
// Personas (keystone tokens carry the implied roles: admin ⊃ member ⊃ reader) and targets.
// ---------------------------------------------------------------------------------------------
const ROLES = { admin: ['admin', 'member', 'reader'], member: ['member', 'reader'], reader: ['reader'] };
type Level = keyof typeof ROLES;
const LEVELS: Level[] = ['admin', 'member', 'reader'];
const PROJECT = 'p-own';
const DOMAIN = 'd-own';

export const PERSONAS: Record<string, PolicyCredentials> = {};
for (const l of LEVELS) {
  PERSONAS[`system_${l}`] = { roles: ROLES[l], user_id: `u-system-${l}`, system_scope: 'all', token: { system: {} } };
  PERSONAS[`domain_${l}`] = {
    roles: ROLES[l],
    user_id: `u-domain-${l}`,
    domain_id: DOMAIN,
    token: { domain: { id: DOMAIN } },
  };
  PERSONAS[`project_${l}`] = {
    roles: ROLES[l],
    user_id: `u-project-${l}`,
    project_id: PROJECT,
    project_domain_id: DOMAIN,
    token: { project: { id: PROJECT, domain: { id: DOMAIN } } },
  };
}
PERSONAS['service'] = {
  roles: ['service'],
  user_id: 'u-service',
  project_id: 'p-service',
  project_domain_id: 'default',
  token: { project: { id: 'p-service', domain: { id: 'default' } } },
};

/** The %(key)s of a service's rules and the fields of its field: checks. */
function targetKeys(rules: PolicyDefault[]): { keys: Set<string>; fields: Map<string, string> } {
  const keys = new Set<string>();
  const fields = new Map<string, string>();
  for (const r of rules)
    for (const s of [r.checkStr, r.deprecatedCheckStr ?? '']) {
      for (const m of s.matchAll(/%\(([^)]+)\)s/g)) keys.add(m[1]!);
      for (const m of s.matchAll(/field:[^:\s]+:([^=\s]+)=([^\s)]+)/g)) fields.set(m[1]!, m[2]!);
    }
  return { keys, fields };
}

/** The persona's own resources, another project's, and another project's shared ones. */
function targets(rules: PolicyDefault[], creds: PolicyCredentials): Record<string, PolicyTarget> {
  const { keys, fields } = targetKeys(rules);
  const own: PolicyTarget = {};
  const other: PolicyTarget = {};
  for (const k of keys) {
    const user = /user/.test(k);
    const domain = /domain/.test(k) && !/project/.test(k);
    own[k] = user ? creds.user_id : domain ? DOMAIN : (creds.project_id ?? PROJECT);
    other[k] = user ? 'u-other' : domain ? 'd-other' : 'p-other';
  }
  const shared: PolicyTarget = { ...other };
  for (const [f, v] of fields) shared[f] = v === 'True' ? true : v.startsWith('~') ? 'network:router_gateway' : v;
  return { own, other, shared };
}

const MODES: Array<{ name: string; enforceScope: boolean; enforceNewDefaults: boolean }> = [
  { name: 'zed default', enforceScope: false, enforceNewDefaults: false },
  { name: 'enforce_new_defaults', enforceScope: false, enforceNewDefaults: true },
  { name: 'secure RBAC', enforceScope: true, enforceNewDefaults: true },
];

const services = await discover();

describe('the policy matrix', () => {
  it('finds every service with rules', () => {
    const names = services.map((s) => s.service);
    for (const s of [
      'identity',
      'compute',
      'placement',
      'image',
      'network',
      'block-storage',
      'orchestration',
      'object-store',
      'telemetry/metric',
      'telemetry/alarming',
    ])
      assert.ok(names.includes(s), `${s} has no policies.ts found`);
  });

  for (const { service, rules } of services) {
    it(`${service}: every rule is registered once, parses, and references only known rules`, () => {
      const names = new Set(rules.map((r) => r.name));
      assert.equal(names.size, rules.length, 'a rule name is registered twice');
      for (const r of rules)
        for (const s of [r.checkStr, r.deprecatedCheckStr ?? '']) {
          parse(s);
          for (const m of s.matchAll(/rule:([^\s)]+)/g))
            assert.ok(names.has(m[1]!) || names.has('default'), `${r.name} references unknown rule:${m[1]}`);
        }
    });

    it(`${service}: ${rules.length} rules × ${Object.keys(PERSONAS).length} personas × 3 targets × ${MODES.length} modes answer as the rule strings say`, () => {
      const opts = SERVICE_OPTIONS[service.split('/')[0]!] ?? {};
      let cases = 0;
      const wrong: string[] = [];
      for (const mode of MODES) {
        const engine = new PolicyEngine(rules, { ...opts, ...mode, logger: silent });
        const ref = new Reference(rules, mode.enforceNewDefaults, mode.enforceScope);
        for (const [persona, base] of Object.entries(PERSONAS)) {
          const creds = engine.serviceCredentials(base);
          for (const [which, target] of Object.entries(targets(rules, creds))) {
            for (const r of rules) {
              const got = engine.check(r.name, target, creds);
              const want = ref.check(r.name, target, creds);
              cases++;
              if (got.allowed !== want.allowed || got.scopeError !== want.scopeError)
                wrong.push(
                  `${mode.name} ${r.name} ${persona} ${which}: engine ${JSON.stringify(got)} upstream ${JSON.stringify(want)}`,
                );
            }
          }
        }
      }
      assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} of ${cases} answers differ`);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Answers upstream documents for its personas (Zed), service by service, with the switch on.
// ---------------------------------------------------------------------------------------------
function engineOf(service: string, secure: boolean): PolicyEngine {
  const s = services.find((x) => x.service === service);
  assert.ok(s, service);
  return new PolicyEngine(s.rules, {
    ...(SERVICE_OPTIONS[service] ?? {}),
    enforceScope: secure,
    enforceNewDefaults: secure,
    logger: silent,
  });
}
const OWN = { project_id: PROJECT, tenant_id: PROJECT };
const OTHER = { project_id: 'p-other', tenant_id: 'p-other' };
function answer(
  e: PolicyEngine,
  rule: string,
  persona: string,
  target: PolicyTarget = OWN,
): 'allow' | 'deny' | 'scope' {
  const r = e.check(rule, target, e.serviceCredentials(PERSONAS[persona]!));
  return r.scopeError ? 'scope' : r.allowed ? 'allow' : 'deny';
}

describe('upstream persona answers with secure RBAC on', () => {
  it('compute (nova): project personas; the system scope is refused', () => {
    const e = engineOf('compute', true);
    assert.equal(answer(e, 'os_compute_api:servers:show', 'project_reader'), 'allow');
    assert.equal(answer(e, 'os_compute_api:servers:show', 'project_reader', OTHER), 'deny');
    assert.equal(answer(e, 'os_compute_api:servers:create', 'project_reader'), 'deny');
    assert.equal(answer(e, 'os_compute_api:servers:create', 'project_member'), 'allow');
    assert.equal(answer(e, 'os_compute_api:servers:show', 'project_admin', OTHER), 'allow');
    assert.equal(answer(e, 'os_compute_api:os-hypervisors:list', 'project_admin'), 'allow');
    assert.equal(answer(e, 'os_compute_api:os-hypervisors:list', 'project_member'), 'deny');
    assert.equal(answer(e, 'os_compute_api:servers:show', 'system_admin'), 'scope');
    // The same project member in Zed's default mode: the deprecated admin_or_owner lets any role in.
    const zed = engineOf('compute', false);
    assert.equal(answer(zed, 'os_compute_api:servers:create', 'project_reader'), 'allow');
  });

  it('placement: the system personas; a project admin is refused its scope', () => {
    const e = engineOf('placement', true);
    assert.equal(answer(e, 'placement:resource_providers:list', 'system_reader'), 'allow');
    assert.equal(answer(e, 'placement:resource_providers:create', 'system_reader'), 'deny');
    assert.equal(answer(e, 'placement:resource_providers:create', 'system_admin'), 'allow');
    assert.equal(answer(e, 'placement:resource_providers:list', 'project_admin'), 'scope');
    assert.equal(answer(engineOf('placement', false), 'placement:resource_providers:list', 'project_admin'), 'allow');
  });

  it('network (neutron): members write their project, readers read it, admins everything', () => {
    const e = engineOf('network', true);
    assert.equal(answer(e, 'create_network', 'project_member'), 'allow');
    assert.equal(answer(e, 'create_network', 'project_reader'), 'deny');
    assert.equal(answer(e, 'get_network', 'project_reader'), 'allow');
    assert.equal(answer(e, 'get_network', 'project_reader', OTHER), 'deny');
    assert.equal(answer(e, 'get_network', 'project_reader', { ...OTHER, shared: true }), 'allow');
    assert.equal(answer(e, 'update_network', 'project_admin', OTHER), 'allow');
    assert.equal(answer(e, 'create_network', 'system_admin'), 'scope');
  });

  it('image (glance): project personas', () => {
    const e = engineOf('image', true);
    assert.equal(answer(e, 'get_images', 'project_reader'), 'allow');
    assert.equal(answer(e, 'add_image', 'project_reader', { ...OWN, owner: PROJECT }), 'deny');
    assert.equal(answer(e, 'add_image', 'project_member', { ...OWN, owner: PROJECT }), 'allow');
    assert.equal(answer(e, 'publicize_image', 'project_member'), 'deny');
    assert.equal(answer(e, 'get_image', 'project_reader', { ...OTHER, visibility: 'public' }), 'allow');
    assert.equal(answer(e, 'get_images', 'system_reader'), 'scope');
  });

  it('block-storage (cinder): project personas, no scope types in Zed', () => {
    const e = engineOf('block-storage', true);
    assert.equal(answer(e, 'volume:get', 'project_reader'), 'allow');
    assert.equal(answer(e, 'volume:get', 'project_reader', OTHER), 'deny');
    assert.equal(answer(e, 'volume:create', 'project_reader'), 'deny');
    assert.equal(answer(e, 'volume:create', 'project_member'), 'allow');
    assert.equal(answer(e, 'volume:delete', 'project_admin', OTHER), 'allow');
    assert.equal(answer(e, 'volume_extension:types_manage', 'project_member'), 'deny');
    // Zed's deprecated volume:create is empty: anyone, in the default mode.
    assert.equal(answer(engineOf('block-storage', false), 'volume:create', 'project_reader'), 'allow');
  });

  it('orchestration (heat): project readers read stacks, members write them', () => {
    const e = engineOf('orchestration', true);
    assert.equal(answer(e, 'stacks:index', 'project_reader'), 'allow');
    assert.equal(answer(e, 'stacks:create', 'project_reader'), 'deny');
    assert.equal(answer(e, 'stacks:create', 'project_member'), 'allow');
    assert.equal(answer(e, 'stacks:index', 'project_reader', OTHER), 'deny');
    assert.equal(answer(e, 'stacks:index', 'system_reader'), 'allow');
  });

  it('alarming (aodh): system readers read every alarm, project members write their own', () => {
    const e = engineOf('telemetry/alarming', true);
    assert.equal(answer(e, 'telemetry:get_alarms', 'system_reader', OTHER), 'allow');
    assert.equal(answer(e, 'telemetry:create_alarm', 'project_member'), 'allow');
    assert.equal(answer(e, 'telemetry:create_alarm', 'project_reader'), 'deny');
    assert.equal(answer(e, 'telemetry:update_quotas', 'project_admin'), 'scope');
    assert.equal(answer(engineOf('telemetry/alarming', false), 'telemetry:create_alarm', 'project_reader'), 'allow');
  });

  it('identity (keystone): the system admin manages services; domain and project admins do not', () => {
    const e = engineOf('identity', true);
    assert.equal(answer(e, 'identity:create_service', 'system_admin'), 'allow');
    assert.equal(answer(e, 'identity:create_service', 'domain_admin'), 'scope');
    assert.equal(answer(e, 'identity:create_service', 'project_admin'), 'scope');
    assert.equal(answer(e, 'identity:list_services', 'system_reader'), 'allow');
  });
});
