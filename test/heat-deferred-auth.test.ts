// Deferred auth, the two methods of Heat: with `trusts` (the default) a create whose token may
// not delegate (an application credential's) is refused with Keystone's 403, as Heat does; with
// `deferredAuthMethod: password` a stack that needs deferred auth must carry X-Auth-User and
// X-Auth-Key (Heat's "Missing required credential"), and what the engine does later without a
// token (a pre-signed scaling signal) acts as the stored user in the owner's project.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { member, startCloud, type TestCloud, until } from './lib/cloud.ts';

const scalingTemplate = {
  heat_template_version: '2018-08-31',
  resources: {
    group: {
      type: 'OS::Heat::AutoScalingGroup',
      properties: {
        min_size: 1,
        max_size: 3,
        resource: { type: 'OS::Neutron::Net', properties: { name: 'da-net' } },
      },
    },
    up: {
      type: 'OS::Heat::ScalingPolicy',
      properties: {
        auto_scaling_group_id: { get_resource: 'group' },
        adjustment_type: 'change_in_capacity',
        scaling_adjustment: 1,
      },
    },
  },
  outputs: {
    size: { value: { get_attr: ['group', 'current_size'] } },
    up_url: { value: { get_attr: ['up', 'signal_url'] } },
  },
};

async function waitComplete(c: TestCloud, url: string, token: string) {
  return until(
    `${url} complete`,
    async () => {
      const s = (await c.req('GET', url, undefined, { token })).body.stack;
      if (s?.stack_status?.endsWith('FAILED')) throw new Error(s.stack_status_reason);
      return s?.stack_status?.endsWith('COMPLETE') ? s : null;
    },
    60_000,
  );
}

describe('orchestration: deferred auth with trusts refuses a token that may not delegate', () => {
  let c: TestCloud;
  before(async () => {
    c = await startCloud();
  });
  after(async () => {
    await c?.stop();
  });

  it('answers 403 Forbidden to a create with an application credential token', async () => {
    const m = await member(c, 'daappcred');
    const me = (await c.req('GET', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': m.token } })).body
      .token.user.id;
    const ac = await c.req(
      'POST',
      `/v3/users/${me}/application_credentials`,
      { application_credential: { name: 'da' } },
      { token: m.token },
    );
    assert.equal(ac.status, 201, JSON.stringify(ac.body));
    const acToken = await c.req('POST', '/v3/auth/tokens', {
      auth: {
        identity: {
          methods: ['application_credential'],
          application_credential: {
            id: ac.body.application_credential.id,
            secret: ac.body.application_credential.secret,
          },
        },
      },
    });
    const token = acToken.headers.get('x-subject-token')!;
    assert.ok(token);
    const created = await c.req(
      'POST',
      `${c.url}/heat-api/v1/${m.project}/stacks`,
      { stack_name: 'refused', template: { heat_template_version: '2018-08-31', resources: {} } },
      { token },
    );
    assert.equal(created.status, 403, JSON.stringify(created.body));
    assert.equal(created.body.error.type, 'Forbidden');
    assert.match(created.body.error.message, /\(HTTP 403\)$/);
    const list = await c.req('GET', `${c.url}/heat-api/v1/${m.project}/stacks`, undefined, { token: m.token });
    assert.equal(list.body.stacks.length, 0);
  });
});

describe('orchestration: deferred_auth_method = password', () => {
  let c: TestCloud;
  let owner: { project: string; token: string };
  before(async () => {
    c = await startCloud({
      configure: (cfg) => {
        cfg.orchestration = { ...(cfg.orchestration ?? {}), deferredAuthMethod: 'password' };
      },
    });
    owner = await member(c, 'dapw');
  });
  after(async () => {
    await c?.stop();
  });

  it('needs X-Auth-User/X-Auth-Key and signals as the stored user', async () => {
    const url = `${c.url}/heat-api/v1/${owner.project}/stacks`;
    const missing = await c.req('POST', url, { stack_name: 'pw', template: scalingTemplate }, { token: owner.token });
    assert.equal(missing.status, 400, JSON.stringify(missing.body));
    assert.equal(missing.body.error.message, 'Missing required credential: X-Auth-User');
    const noKey = await c.req(
      'POST',
      url,
      { stack_name: 'pw', template: scalingTemplate },
      { token: owner.token, headers: { 'X-Auth-User': 'dapw-user' } },
    );
    assert.equal(noKey.body.error.message, 'Missing required credential: X-Auth-Key');
    // A stack that needs no deferred auth needs no credentials.
    const plain = await c.req(
      'POST',
      url,
      { stack_name: 'plain', template: { heat_template_version: '2018-08-31', resources: {} } },
      { token: owner.token },
    );
    assert.equal(plain.status, 201, JSON.stringify(plain.body));

    const created = await c.req(
      'POST',
      url,
      { stack_name: 'pw', template: scalingTemplate },
      { token: owner.token, headers: { 'X-Auth-User': 'dapw-user', 'X-Auth-Key': 'pw-dapw' } },
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const stackUrl = `${url}/pw/${created.body.stack.id}`;
    const s = await waitComplete(c, stackUrl, owner.token);
    const out = (k: string, st: { outputs: Array<{ output_key: string; output_value: unknown }> }) =>
      st.outputs.find((o) => o.output_key === k)?.output_value;
    // No trust with the password method.
    const trusts = await c.req('GET', '/v3/OS-TRUST/trusts');
    assert.equal(trusts.body.trusts.length, 0);
    // The native signal_url, with the owner's token; the engine acts as the stored user.
    const sig = await fetch(String(out('up_url', s)), { method: 'POST', headers: { 'X-Auth-Token': owner.token } });
    assert.equal(sig.status, 200, await sig.text());
    await until(
      'the group at 2',
      async () => out('size', (await c.req('GET', stackUrl, undefined, { token: owner.token })).body.stack) === 2,
      60_000,
    );
    // Both networks are the owner's: the signal acted as the stored user, not the heat service.
    const nets = (await c.req('GET', `${c.url}/networking/v2.0/networks?name=da-net`)).body.networks as Array<{
      project_id: string;
    }>;
    assert.equal(nets.length, 2);
    for (const n of nets) assert.equal(n.project_id, owner.project);
  });
});
