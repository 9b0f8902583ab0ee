// Zed's gate shape of secure RBAC (`npm run conformance -- --secure-rbac=gate`): the cloud-wide
// switch on, identity's own policy options off, so Keystone answers tempest's project-scoped admin
// as without the switch while nova, neutron, glance, placement and cinder enforce scope and the new
// defaults; and what tempest is told in that mode.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultConfig, type StratusConfig } from '../src/core/config.ts';
import { type PolicyCredentials, PolicyEngine, policyModeOptions } from '../src/core/policy/index.ts';
import { configProblems } from '../src/devstack/config-schema.ts';
import { IDENTITY_POLICIES } from '../src/identity/policies.ts';
import { COMPUTE_POLICIES } from '../src/compute/policies.ts';
import { buildTempestConfig, secureRbacMode } from '../conformance/lib/tempest-config.ts';

const silent = { warn: () => {} };
const projectAdmin: PolicyCredentials = {
  roles: ['admin', 'member', 'reader'],
  user_id: 'u1',
  project_id: 'p1',
  project_domain_id: 'default',
};
const systemAdmin: PolicyCredentials = { roles: ['admin', 'member', 'reader'], user_id: 'u0', system_scope: 'all' };

function config(over: Record<string, unknown>): StratusConfig {
  return { ...defaultConfig('/nonexistent'), ...over } as StratusConfig;
}
const gate = () =>
  config({ secureRbac: true, identity: { policy: { enforceScope: false, enforceNewDefaults: false } } });

describe('secure RBAC, the gate shape', () => {
  it("a service's own `false` overrides the cloud-wide switch; the others follow the switch", () => {
    const c = gate();
    assert.deepEqual(policyModeOptions(c, 'identity'), { enforceScope: false, enforceNewDefaults: false });
    for (const s of ['compute', 'network', 'image', 'placement', 'blockStorage'])
      assert.deepEqual(policyModeOptions(c, s), { enforceScope: true, enforceNewDefaults: true });
    // One option alone: the other still follows the switch.
    const half = config({ secureRbac: true, identity: { policy: { enforceScope: false } } });
    assert.deepEqual(policyModeOptions(half, 'identity'), { enforceScope: false, enforceNewDefaults: true });
    // Without the switch, `true` still turns an option on and `false` is the default.
    const own = config({ compute: { policy: { enforceScope: true } } });
    assert.deepEqual(policyModeOptions(own, 'compute'), { enforceScope: true, enforceNewDefaults: false });
    assert.deepEqual(policyModeOptions(own, 'identity'), { enforceScope: false, enforceNewDefaults: false });
  });

  it("Keystone lets the project admin do system-level work, Nova refuses a system token's project API", () => {
    const identity = PolicyEngine.forService('identity', IDENTITY_POLICIES, gate(), silent);
    assert.equal(identity.enforceScope, false);
    assert.equal(identity.enforceNewDefaults, false);
    assert.equal(identity.enforce('identity:list_domains', {}, projectAdmin), true);
    assert.equal(identity.enforce('identity:create_project', { target: { project: {} } }, projectAdmin), true);
    const secure = PolicyEngine.forService('identity', IDENTITY_POLICIES, config({ secureRbac: true }), silent);
    assert.equal(secure.enforce('identity:list_domains', {}, projectAdmin), false);
    assert.equal(secure.enforce('identity:list_domains', {}, systemAdmin), true);
    const compute = PolicyEngine.forService('compute', COMPUTE_POLICIES, gate(), silent);
    assert.equal(compute.enforceScope, true);
    assert.equal(compute.enforceNewDefaults, true);
  });

  it('the configuration schema takes identity.policy false next to secureRbac', () => {
    assert.deepEqual(
      configProblems(
        { secureRbac: true, identity: { policy: { enforceScope: false, enforceNewDefaults: false } } },
        'f',
      ),
      [],
    );
  });
});

describe('conformance --secure-rbac=gate', () => {
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

  it('names the modes', () => {
    assert.equal(secureRbacMode(true), 'all');
    assert.equal(secureRbacMode('gate'), 'gate');
    assert.equal(secureRbacMode(false), undefined);
    assert.equal(secureRbacMode(undefined), undefined);
  });

  it('tells tempest scope is enforced in every service but keystone, its admin the project admin', () => {
    const doc = buildTempestConfig({ workspace: '/w', credentials: creds, catalog, secureRbac: 'gate' });
    for (const s of ['nova', 'neutron', 'glance', 'placement', 'cinder'])
      assert.equal(doc.get('enforce_scope')?.get(s), 'True', s);
    assert.equal(doc.get('enforce_scope')?.get('keystone'), 'False');
    assert.equal(doc.get('identity-feature-enabled')?.get('enforce_scope'), 'False');
    assert.equal(doc.get('auth')?.get('admin_project_name'), 'admin');
    assert.equal(doc.get('auth')?.has('admin_system'), false);
    assert.equal(doc.get('auth')?.has('create_isolated_networks'), false);
  });
});
