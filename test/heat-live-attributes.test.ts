// Resource attributes read live (Heat resolves get_attr and a resource's attributes when they are
// shown, not from a copy stored at create): a network renamed and a subnet added outside Heat
// show in the stack's outputs, `output show` and `resource show`.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { member, startCloud, type TestCloud, until } from './lib/cloud.ts';

describe('orchestration: live attributes', () => {
  let c: TestCloud;
  let owner: { project: string; token: string };
  before(async () => {
    c = await startCloud();
    owner = await member(c, 'liveattr');
  });
  after(async () => {
    await c?.stop();
  });
  const heat = (method: string, p: string, body?: unknown) =>
    c.req(method, `${c.url}/heat-api/v1/${owner.project}${p}`, body, { token: owner.token });

  it('shows what the service says now', async () => {
    const created = await heat('POST', '/stacks', {
      stack_name: 'live',
      template: {
        heat_template_version: '2016-10-14',
        resources: { net: { type: 'OS::Neutron::Net', properties: { name: 'before' } } },
        outputs: {
          name: { value: { get_attr: ['net', 'name'] } },
          subnets: { value: { get_attr: ['net', 'subnets'] } },
        },
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.stack.id as string;
    const stack = await until(
      'created',
      async () => {
        const s = (await heat('GET', `/stacks/live/${id}`)).body.stack;
        return s?.stack_status === 'CREATE_COMPLETE' ? s : null;
      },
      30_000,
    );
    const out = (s: { outputs: Array<{ output_key: string; output_value: unknown }> }, k: string) =>
      s.outputs.find((o) => o.output_key === k)?.output_value;
    assert.equal(out(stack, 'name'), 'before');
    assert.deepEqual(out(stack, 'subnets'), []);
    const netId = (await heat('GET', `/stacks/live/${id}/resources/net`)).body.resource.physical_resource_id;

    // Outside Heat: the network renamed, a subnet added.
    const net = `${c.url}/networking/v2.0/networks/${netId}`;
    assert.equal((await c.req('PUT', net, { network: { name: 'after' } }, { token: owner.token })).status, 200);
    const sub = await c.req(
      'POST',
      `${c.url}/networking/v2.0/subnets`,
      { subnet: { network_id: netId, cidr: '10.71.0.0/24', ip_version: 4 } },
      { token: owner.token },
    );
    assert.equal(sub.status, 201);

    const now = (await heat('GET', `/stacks/live/${id}`)).body.stack;
    assert.equal(out(now, 'name'), 'after');
    assert.deepEqual(out(now, 'subnets'), [sub.body.subnet.id]);
    const one = (await heat('GET', `/stacks/live/${id}/outputs/name`)).body.output;
    assert.equal(one.output_value, 'after');
    const res = (await heat('GET', `/stacks/live/${id}/resources/net`)).body.resource;
    assert.equal(res.attributes.name, 'after');
    assert.equal(res.attributes.show.name, 'after');

    await c.req('DELETE', `${c.url}/networking/v2.0/subnets/${sub.body.subnet.id}`, undefined, { token: owner.token });
    assert.equal((await heat('DELETE', `/stacks/live/${id}`)).status, 204);
  });
});
