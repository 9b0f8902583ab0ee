// Secure RBAC: oslo.policy's enforce_new_defaults (a rule's deprecated predecessor or-ed with its new
// default unless the switch is on), the per-service options and the cloud-wide switch, Keystone's
// Zed defaults split into new and deprecated rules, the CLI flag and the conformance harness option.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultConfig, type StratusConfig } from '../src/core/config.ts';
import { type PolicyCredentials, PolicyEngine, policyModeOptions } from '../src/core/policy/index.ts';
import { configProblems } from '../src/devstack/config-schema.ts';
import { IDENTITY_POLICIES } from '../src/identity/policies.ts';
import { buildTempestConfig } from '../conformance/lib/tempest-config.ts';

// The CLI module runs its main() unless told not to.
process.env.STRATUS_CLI_NO_MAIN = '1';
const { toFlags } = await import('../src/cli.ts');

const silent = { warn: () => {} };

const projectAdmin: PolicyCredentials = {
  roles: ['admin', 'member', 'reader'],
  user_id: 'u1',
  project_id: 'p1',
  project_domain_id: 'default',
};
const projectMember: PolicyCredentials = { roles: ['member', 'reader'], user_id: 'u2', project_id: 'p1' };
const systemAdmin: PolicyCredentials = { roles: ['admin', 'member', 'reader'], user_id: 'u0', system_scope: 'all' };
const systemReader: PolicyCredentials = { roles: ['reader'], user_id: 'u3', system_scope: 'all' };
const domainAdmin: PolicyCredentials = {
  roles: ['admin', 'member', 'reader'],
  user_id: 'u4',
  domain_id: 'd1',
  token: { domain: { id: 'd1' } },
};
const domainReader: PolicyCredentials = {
  roles: ['reader'],
  user_id: 'u5',
  domain_id: 'd1',
  token: { domain: { id: 'd1' } },
};

function config(over: Record<string, unknown>): StratusConfig {
  return { ...defaultConfig('/nonexistent'), ...over } as StratusConfig;
}

describe('enforce_new_defaults', () => {
  const rules = [{ name: 'r', checkStr: 'role:reader and system_scope:all', deprecatedCheckStr: 'role:admin' }];

  it('or-s the deprecated rule with the new default while the switch is off (oslo.policy)', () => {
    const e = new PolicyEngine(rules, { logger: silent });
    assert.equal(e.enforce('r', {}, systemReader), true);
    assert.equal(e.enforce('r', {}, projectAdmin), true);
    assert.equal(e.enforce('r', {}, projectMember), false);
    assert.equal(e.rules()[0]!.checkStr, '(role:reader and system_scope:all) or (role:admin)');
    assert.equal('deprecatedCheckStr' in e.rules()[0]!, false);
  });

  it('applies only the new default with it on', () => {
    const e = new PolicyEngine(rules, { enforceNewDefaults: true, logger: silent });
    assert.equal(e.enforce('r', {}, systemReader), true);
    assert.equal(e.enforce('r', {}, projectAdmin), false);
  });

  it('an operator override replaces both', () => {
    const e = new PolicyEngine(rules, { overrides: { r: 'role:member' }, logger: silent });
    assert.equal(e.enforce('r', {}, projectMember), true);
    assert.equal(e.enforce('r', {}, systemReader), false);
  });
});

describe('the policy options of a service', () => {
  it('are off by default (Zed)', () => {
    assert.deepEqual(policyModeOptions(config({}), 'identity'), { enforceScope: false, enforceNewDefaults: false });
  });

  it('come from <section>.policy', () => {
    const c = config({ compute: { policy: { enforceScope: true } } });
    assert.deepEqual(policyModeOptions(c, 'compute'), { enforceScope: true, enforceNewDefaults: false });
    assert.deepEqual(policyModeOptions(c, 'network'), { enforceScope: false, enforceNewDefaults: false });
  });

  it('image.enforceScope still says the same as image.policy.enforceScope', () => {
    const c = config({ image: { ...defaultConfig('/x').image, enforceScope: true } });
    assert.equal(policyModeOptions(c, 'image').enforceScope, true);
  });

  it('secureRbac turns both on in every service', () => {
    const c = config({ secureRbac: true });
    for (const s of ['identity', 'compute', 'network', 'image', 'placement', 'blockStorage', 'metric'])
      assert.deepEqual(policyModeOptions(c, s), { enforceScope: true, enforceNewDefaults: true });
  });

  it('PolicyEngine.forService reads them from the configuration', () => {
    const secure = PolicyEngine.forService('identity', IDENTITY_POLICIES, config({ secureRbac: true }), silent);
    assert.equal(secure.enforceScope, true);
    assert.equal(secure.enforceNewDefaults, true);
    const zed = PolicyEngine.forService('identity', IDENTITY_POLICIES, config({}), silent);
    assert.equal(zed.enforceScope, false);
    assert.equal(zed.enforceNewDefaults, false);
    // The older call with a policy directory keeps working.
    assert.equal(PolicyEngine.forService('identity', IDENTITY_POLICIES, '/nonexistent', silent).enforceScope, false);
  });

  it('the configuration schema knows secureRbac and <section>.policy', () => {
    assert.deepEqual(configProblems({ secureRbac: true, identity: { policy: { enforceScope: true } } }, 'f'), []);
    assert.deepEqual(configProblems({ compute: { policy: { enforceNewDefaults: true } } }, 'f'), []);
    assert.notDeepEqual(configProblems({ identity: { policy: { enforce: true } } }, 'f'), []);
    assert.notDeepEqual(configProblems({ secureRbac: 'yes' }, 'f'), []);
  });

  it('stratus start --secure-rbac', () => {
    assert.equal(toFlags({ 'secure-rbac': true }).secureRbac, true);
    assert.equal(toFlags({}).secureRbac, undefined);
  });
});

describe("Keystone's Zed defaults", () => {
  const zed = new PolicyEngine(IDENTITY_POLICIES, { logger: silent });
  const secure = new PolicyEngine(IDENTITY_POLICIES, { enforceScope: true, enforceNewDefaults: true, logger: silent });
  const allowed = (e: PolicyEngine, rule: string, creds: PolicyCredentials, target: Record<string, unknown> = {}) =>
    e.check(rule, target, creds).allowed && !e.check(rule, target, creds).scopeError;

  it('every rule is registered once with a parseable new default', () => {
    const names = new Set(IDENTITY_POLICIES.map((r) => r.name));
    assert.equal(names.size, IDENTITY_POLICIES.length);
    for (const r of IDENTITY_POLICIES) if (r.deprecatedCheckStr !== undefined) assert.ok(r.checkStr.length > 0, r.name);
  });

  it('services: a project admin is an admin in the default mode, only the system admin is with secure RBAC', () => {
    assert.equal(allowed(zed, 'identity:create_service', projectAdmin), true);
    assert.equal(allowed(secure, 'identity:create_service', projectAdmin), false);
    assert.equal(allowed(secure, 'identity:create_service', domainAdmin), false);
    assert.equal(allowed(secure, 'identity:create_service', systemAdmin), true);
    assert.equal(allowed(secure, 'identity:create_service', systemReader), false);
    assert.equal(allowed(secure, 'identity:list_services', systemReader), true);
  });

  it('users: a domain reader reads its own domain only', () => {
    const own = { target: { user: { id: 'x', domain_id: 'd1' } } };
    const other = { target: { user: { id: 'x', domain_id: 'd2' } } };
    assert.equal(allowed(secure, 'identity:get_user', domainReader, own), true);
    assert.equal(allowed(secure, 'identity:get_user', domainReader, other), false);
    assert.equal(allowed(secure, 'identity:update_user', domainReader, own), false);
    assert.equal(allowed(secure, 'identity:update_user', domainAdmin, own), true);
    assert.equal(allowed(secure, 'identity:list_users', domainReader, { target: { domain_id: 'd1' } }), true);
    assert.equal(allowed(secure, 'identity:list_users', projectAdmin, {}), false);
    assert.equal(allowed(zed, 'identity:list_users', projectAdmin, {}), true);
  });

  it('limits: project admins kept their default-mode rights (the kept tempest list), not with secure RBAC', () => {
    assert.equal(allowed(zed, 'identity:create_limits', projectAdmin), true);
    assert.equal(allowed(secure, 'identity:create_limits', projectAdmin), false);
    assert.equal(allowed(secure, 'identity:create_limits', systemAdmin), true);
  });
});

describe('conformance --secure-rbac', () => {
  const creds = {
    authUrl: 'http://127.0.0.1:8000/identity/v3',
    username: 'admin',
    password: 'pw',
    projectName: 'admin',
    userDomainName: 'Default',
    projectDomainName: 'Default',
    regionName: 'RegionOne',
  };
  const catalog = [
    {
      type: 'identity',
      name: 'keystone',
      endpoints: [{ interface: 'public', url: 'http://h/identity', region: 'RegionOne' }],
    },
  ];

  it('tells tempest scope is enforced and makes its admin the system admin', () => {
    const doc = buildTempestConfig({ workspace: '/w', credentials: creds, catalog, secureRbac: true });
    for (const s of ['keystone', 'nova', 'neutron', 'glance', 'placement'])
      assert.equal(doc.get('enforce_scope')?.get(s), 'True');
    assert.equal(doc.get('identity-feature-enabled')?.get('enforce_scope'), 'True');
    assert.equal(doc.get('auth')?.get('admin_system'), 'all');
    assert.equal(doc.get('auth')?.has('admin_project_name'), false);
  });

  it('leaves the default mode as it was', () => {
    const doc = buildTempestConfig({ workspace: '/w', credentials: creds, catalog });
    assert.equal(doc.get('enforce_scope')?.get('keystone'), 'False');
    assert.equal(doc.get('auth')?.get('admin_project_name'), 'admin');
    assert.equal(doc.get('auth')?.has('admin_system'), false);
  });
});
