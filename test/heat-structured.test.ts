// Structured configs and deployments (OS::Heat::StructuredDeployment, StructuredDeployments,
// StructuredDeploymentGroup, SoftwareDeploymentGroup): the derived config of each deployment is
// the structured config with its `get_input` maps replaced by the inputs (input_values, the
// config's input defaults, the deploy_* inputs), LAX (null) or STRICT (the create fails).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { member, startCloud, type TestCloud, until } from './lib/cloud.ts';
import { substituteInputs } from '../src/orchestration/resources/software.ts';

describe('orchestration: structured deployments', () => {
  it('substitutes inputs as Heat parse() does', () => {
    const inputs = { a: 1, b: 'two' };
    assert.deepEqual(
      substituteInputs(
        { x: { get_input: 'a' }, y: [{ get_input: 'b' }, 'k'], z: { get_input: 'c' }, w: { get_input: 'a', o: 1 } },
        inputs,
      ),
      { x: 1, y: ['two', 'k'], z: null, w: { get_input: 'a', o: 1 } },
    );
    assert.deepEqual(substituteInputs({ x: { my_in: 'a' } }, inputs, 'my_in'), { x: 1 });
    assert.throws(
      () => substituteInputs({ z: { get_input: 'c' } }, inputs, 'get_input', 'STRICT'),
      /The Parameter \(c\) was not provided/,
    );
  });

  let c: TestCloud;
  let owner: { project: string; token: string };
  before(async () => {
    c = await startCloud();
    owner = await member(c, 'structured');
  });
  after(async () => {
    await c?.stop();
  });
  const heat = (method: string, p: string, body?: unknown) =>
    c.req(method, `${c.url}/heat-api/v1/${owner.project}${p}`, body, { token: owner.token });
  const settle = (name: string, id: string) =>
    until(
      `${name} settled`,
      async () => {
        const s = (await heat('GET', `/stacks/${name}/${id}`)).body.stack;
        return s?.stack_status?.endsWith('COMPLETE') || s?.stack_status?.endsWith('FAILED') ? s : null;
      },
      30_000,
    );

  it('derives each deployment config with its inputs substituted', async () => {
    const created = await heat('POST', '/stacks', {
      stack_name: 'structured',
      template: {
        heat_template_version: '2016-10-14',
        resources: {
          config: {
            type: 'OS::Heat::StructuredConfig',
            properties: {
              group: 'Heat::Ungrouped',
              inputs: [{ name: 'foo' }, { name: 'dflt', default: 'd' }],
              config: {
                foo: { get_input: 'foo' },
                list: [{ get_input: 'dflt' }],
                server: { get_input: 'deploy_server_id' },
                none: { get_input: 'nope' },
              },
            },
          },
          one: {
            type: 'OS::Heat::StructuredDeployment',
            properties: {
              config: { get_resource: 'config' },
              server: 'srv-1',
              input_values: { foo: 'bar' },
              signal_transport: 'NO_SIGNAL',
            },
          },
          many: {
            type: 'OS::Heat::StructuredDeploymentGroup',
            properties: {
              config: { get_resource: 'config' },
              servers: { a: 'srv-a', b: 'srv-b' },
              input_values: { foo: 'g' },
              signal_transport: 'NO_SIGNAL',
            },
          },
          plain: {
            type: 'OS::Heat::SoftwareDeploymentGroup',
            properties: { config: { get_resource: 'config' }, servers: { c: 'srv-c' }, signal_transport: 'NO_SIGNAL' },
          },
        },
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const s = await settle('structured', created.body.stack.id);
    assert.equal(s.stack_status, 'CREATE_COMPLETE', s.stack_status_reason);
    const derived = async (server: string) => {
      const d = (await heat('GET', `/software_deployments?server_id=${server}`)).body.software_deployments[0];
      const cfg = (await heat('GET', `/software_configs/${d.config_id}`)).body.software_config;
      return typeof cfg.config === 'string' && cfg.config.startsWith('{') ? JSON.parse(cfg.config) : cfg.config;
    };
    assert.deepEqual(await derived('srv-1'), { foo: 'bar', list: ['d'], server: 'srv-1', none: null });
    assert.deepEqual(await derived('srv-a'), { foo: 'g', list: ['d'], server: 'srv-a', none: null });
    assert.deepEqual((await derived('srv-b')).server, 'srv-b');
    // A SoftwareDeploymentGroup does not substitute.
    assert.deepEqual((await derived('srv-c')).foo, { get_input: 'foo' });
  });

  it('fails a STRICT deployment whose input has no value', async () => {
    const created = await heat('POST', '/stacks', {
      stack_name: 'strict',
      template: {
        heat_template_version: '2016-10-14',
        resources: {
          config: { type: 'OS::Heat::StructuredConfig', properties: { config: { x: { get_input: 'missing' } } } },
          dep: {
            type: 'OS::Heat::StructuredDeployment',
            properties: {
              config: { get_resource: 'config' },
              server: 'srv-s',
              input_values_validate: 'STRICT',
              signal_transport: 'NO_SIGNAL',
            },
          },
        },
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const s = await settle('strict', created.body.stack.id);
    assert.equal(s.stack_status, 'CREATE_FAILED');
    assert.match(s.stack_status_reason, /The Parameter \(missing\) was not provided/);
  });
});
