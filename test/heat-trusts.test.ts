// Deferred auth with trusts (Heat's deferred_auth_method = trusts): a stack created by a user gets
// a Keystone trust from that user to the heat service user (impersonating, on the stack's project,
// with the user's roles); a pre-signed scaling signal, which carries no user token, acts through a
// trust-scoped token, so the server it adds belongs to the stack owner's project (not the service
// project); the trust is deleted with the stack.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { member, startCloud, type TestCloud, until } from './lib/cloud.ts';

describe('orchestration: deferred auth with trusts', () => {
  let c: TestCloud;
  let owner: { project: string; token: string; userId: string };
  let network: string;
  let image: string;

  before(async () => {
    c = await startCloud();
    const net = await c.req('POST', `${c.url}/networking/v2.0/networks`, { network: { name: 'trnet', shared: true } });
    network = net.body.network.id;
    await c.req('POST', `${c.url}/networking/v2.0/subnets`, {
      subnet: { network_id: network, cidr: '10.29.0.0/24', ip_version: 4 },
    });
    const img = await c.req('POST', `${c.url}/image/v2/images`, {
      name: 'trimg',
      disk_format: 'qcow2',
      container_format: 'bare',
      visibility: 'public',
    });
    image = img.body.id;
    await fetch(`${c.url}/image/v2/images/${image}/file`, {
      method: 'PUT',
      headers: { 'X-Auth-Token': c.adminToken, 'Content-Type': 'application/octet-stream' },
      body: new Uint8Array(Buffer.from('fake image')),
    });
    const fl = await c.req('POST', `${c.url}/compute/v2.1/flavors`, {
      flavor: { name: 'tr1', ram: 128, vcpus: 1, disk: 1, id: 'tr1' },
    });
    assert.equal(fl.status, 200, JSON.stringify(fl.body));
    const m = await member(c, 'trustowner');
    const tok = await c.req('GET', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': m.token } });
    owner = { ...m, userId: tok.body.token.user.id };
  });
  after(async () => {
    await c?.stop();
  });

  const heat = (method: string, p: string, body?: unknown) =>
    c.req(method, `${c.url}/heat-api/v1/${owner.project}${p}`, body, { token: owner.token });
  const trusts = async () =>
    (await c.req('GET', `/v3/OS-TRUST/trusts?trustor_user_id=${owner.userId}`, undefined, { token: owner.token })).body
      .trusts as Array<Record<string, unknown>>;
  const waitStatus = async (name: string, id: string, want: string, ms = 60_000) => {
    let last = '';
    await until(
      `stack ${id} ${want}`,
      async () => {
        const s = (await heat('GET', `/stacks/${name}/${id}`)).body.stack;
        last = `${s?.stack_status} ${s?.stack_status_reason}`;
        if (s?.stack_status === want) return true;
        if (s?.stack_status?.endsWith('FAILED')) throw new Error(last);
        return null;
      },
      ms,
    );
  };

  it('acts for the stack owner on a scaling signal and deletes the trust with the stack', async () => {
    const created = await heat('POST', '/stacks', {
      stack_name: 'trusted',
      template: {
        heat_template_version: '2018-08-31',
        resources: {
          group: {
            type: 'OS::Heat::AutoScalingGroup',
            properties: {
              min_size: 1,
              max_size: 3,
              resource: {
                type: 'OS::Nova::Server',
                properties: { image, flavor: 'tr1', networks: [{ network }] },
              },
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
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.stack.id as string;
    await waitStatus('trusted', id, 'CREATE_COMPLETE');

    // The trust: owner → heat, impersonating, on the stack's project, with the owner's roles.
    const [trust, ...more] = await trusts();
    assert.ok(trust, 'a trust was made at stack create');
    assert.equal(more.length, 0);
    assert.equal(trust.project_id, owner.project);
    assert.equal(trust.impersonation, true);
    const heatUser = await c.req('GET', `/v3/users/${trust.trustee_user_id}`);
    assert.equal(heatUser.body.user.name, 'heat');
    const roles = await c.req('GET', `/v3/OS-TRUST/trusts/${trust.id}/roles`, undefined, { token: owner.token });
    assert.ok(
      roles.body.roles.some((r: { name: string }) => r.name === 'member'),
      JSON.stringify(roles.body),
    );

    const outputs = async () => {
      const s = (await heat('GET', `/stacks/${id}`)).body.stack;
      return Object.fromEntries(
        s.outputs.map((o: { output_key: string; output_value: unknown }) => [o.output_key, o.output_value]),
      );
    };
    const o = await outputs();
    assert.equal(o.size, 1);
    // signal_url is the native URL: the owner's token authenticates the POST, and the engine acts
    // with the stack's stored context (the trust), as Heat's resource_signal does.
    assert.equal((await fetch(String(o.up_url), { method: 'POST' })).status, 401);
    const sig = await fetch(String(o.up_url), { method: 'POST', headers: { 'X-Auth-Token': owner.token } });
    assert.equal(sig.status, 200, await sig.text());
    await until('the group at 2', async () => (await outputs()).size === 2, 60_000);

    // Both servers (the first made with the owner's token, the second by the signal) are the owner's.
    const servers = await c.req('GET', `${c.url}/compute/v2.1/servers/detail?all_tenants=1`, undefined, {
      headers: { 'OpenStack-API-Version': 'compute 2.79' },
    });
    const mine = servers.body.servers.filter((s: { image: { id: string } }) => s.image?.id === image);
    assert.equal(mine.length, 2, JSON.stringify(servers.body.servers.map((s: { name: string }) => s.name)));
    for (const s of mine) {
      assert.equal(s.tenant_id, owner.project, `server ${s.name} in project ${s.tenant_id}`);
      assert.equal(s.user_id, owner.userId, `server ${s.name} made by ${s.user_id}`);
    }
    // The owner sees them with its own token.
    const own = await c.req('GET', `${c.url}/compute/v2.1/servers`, undefined, { token: owner.token });
    assert.equal(own.body.servers.length, 2);

    assert.equal((await heat('DELETE', `/stacks/${id}`)).status, 204);
    await waitStatus('trusted', id, 'DELETE_COMPLETE');
    assert.deepEqual(await trusts(), [], 'the trust is deleted with the stack');
    const gone = await c.req('GET', `/v3/OS-TRUST/trusts/${trust.id}`);
    assert.equal(gone.status, 404);
    const left = await c.req('GET', `${c.url}/compute/v2.1/servers`, undefined, { token: owner.token });
    assert.equal(left.body.servers.length, 0);
  });

  it('makes no trust when an admin acts in another project (no token of that project)', async () => {
    const admin = await c.req('GET', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': c.adminToken } });
    assert.notEqual(admin.body.token.project.id, owner.project);
    const before = (await c.req('GET', '/v3/OS-TRUST/trusts')).body.trusts.length;
    const r = await c.req('POST', `${c.url}/heat-api/v1/${owner.project}/stacks`, {
      stack_name: 'foreign',
      template: { heat_template_version: '2018-08-31', resources: { v: { type: 'OS::Heat::None' } } },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    await waitStatus('foreign', r.body.stack.id, 'CREATE_COMPLETE');
    assert.equal((await c.req('GET', '/v3/OS-TRUST/trusts')).body.trusts.length, before);
    assert.equal((await heat('DELETE', `/stacks/${r.body.stack.id}`)).status, 204);
    await waitStatus('foreign', r.body.stack.id, 'DELETE_COMPLETE');
  });
});
