// OS::Heat::SoftwareDeployment(s) against an in-process cloud: the derived config and the
// deployment a server's agent polls, the CFN_SIGNAL pre-signed URL (refused with a wrong token),
// HEAT_SIGNAL through the resource signal API, NO_SIGNAL, a failed status code, a timeout that
// fails the deployments, and a stack delete that removes deployments and derived configs.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud, until } from './lib/cloud.ts';

describe('orchestration: software deployments', () => {
  let c: TestCloud;
  let base: string;

  before(async () => {
    c = await startCloud();
    const tok = await c.req('GET', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': c.adminToken } });
    base = `${c.url}/heat-api/v1/${tok.body.token.project.id}`;
  });
  after(async () => {
    await c?.stop();
  });

  const h = (method: string, p: string, body?: unknown) => c.req(method, `${base}${p}`, body);
  const status = async (id: string) => (await h('GET', `/stacks/${id}`)).body.stack;
  const waitStatus = async (id: string, want: string, ms = 30_000) =>
    until(
      `stack ${id} ${want}`,
      async () => {
        const s = await status(id);
        if (s?.stack_status === want) return s;
        if (s?.stack_status?.endsWith('FAILED') && !want.endsWith('FAILED')) throw new Error(s.stack_status_reason);
        return null;
      },
      ms,
    );
  const template = (server: string, transport: string, extra: Record<string, unknown> = {}) => ({
    heat_template_version: '2016-04-08',
    resources: {
      config: {
        type: 'OS::Heat::SoftwareConfig',
        properties: { group: 'script', config: '#!/bin/sh\necho hi', inputs: [{ name: 'foo' }] },
      },
      dep: {
        type: 'OS::Heat::SoftwareDeployment',
        properties: {
          config: { get_resource: 'config' },
          server,
          signal_transport: transport,
          input_values: { foo: 'bar' },
        },
      },
      ...extra,
    },
    outputs: { stdout: { value: { get_attr: ['dep', 'deploy_stdout'] } } },
  });
  const deploymentsOf = async (server: string) =>
    (await h('GET', `/software_deployments?server_id=${server}`)).body.software_deployments as Array<
      Record<string, unknown>
    >;
  const metadata = async (server: string) =>
    (await h('GET', `/software_deployments/metadata/${server}`)).body.metadata as Array<{
      inputs: Array<{ name: string; value: unknown }>;
      config: string;
    }>;

  it('CFN_SIGNAL: the agent gets the config and signals the pre-signed URL', async () => {
    const r = await h('POST', '/stacks', { stack_name: 'cfn', template: template('server-1', 'CFN_SIGNAL') });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const id = r.body.stack.id;
    const md = await until('deployment data', async () =>
      (await metadata('server-1')).length ? metadata('server-1') : null,
    );
    assert.equal(md.length, 1);
    assert.equal(md[0]!.config, '#!/bin/sh\necho hi');
    const inputs = Object.fromEntries(md[0]!.inputs.map((i) => [i.name, i.value]));
    assert.equal(inputs.foo, 'bar');
    assert.equal(inputs.deploy_server_id, 'server-1');
    assert.equal(inputs.deploy_action, 'CREATE');
    assert.equal(inputs.deploy_signal_transport, 'CFN_SIGNAL');
    assert.equal((await status(id)).stack_status, 'CREATE_IN_PROGRESS');
    const url = String(inputs.deploy_signal_id);
    const bad = await fetch(url.replace(/token=.*/, 'token=nope'), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
    });
    assert.equal(bad.status, 403);
    const ok = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ deploy_stdout: 'hi', deploy_status_code: 0 }),
    });
    assert.equal(ok.status, 200);
    await waitStatus(id, 'CREATE_COMPLETE');
    assert.equal((await h('GET', `/stacks/cfn/${id}/outputs/stdout`)).body.output.output_value, 'hi');
    assert.equal((await deploymentsOf('server-1'))[0]!.status, 'COMPLETE');
    assert.equal((await h('DELETE', `/stacks/cfn/${id}`)).status, 204);
    await until('deleted', async () => {
      const s = await status(id);
      return !s || s.stack_status === 'DELETE_COMPLETE' ? true : null;
    });
    assert.equal((await deploymentsOf('server-1')).length, 0);
    const configs = (await h('GET', '/software_configs')).body.software_configs as unknown[];
    assert.equal(configs.length, 0);
  });

  it('HEAT_SIGNAL with SoftwareDeployments, NO_SIGNAL, a failing status code', async () => {
    const t = template('server-2', 'NO_SIGNAL', {
      many: {
        type: 'OS::Heat::SoftwareDeployments',
        properties: {
          config: { get_resource: 'config' },
          servers: { a: 'server-3', b: 'server-4' },
          signal_transport: 'HEAT_SIGNAL',
        },
      },
    });
    const r = await h('POST', '/stacks', { stack_name: 'heatsig', template: t });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const id = r.body.stack.id;
    await until('deployments', async () => ((await deploymentsOf('server-4')).length ? true : null));
    assert.equal((await deploymentsOf('server-2'))[0]!.status, 'COMPLETE');
    const sig = await h('POST', `/stacks/heatsig/${id}/resources/many/signal`, { deploy_stdout: 'x' });
    assert.equal(sig.status, 200, JSON.stringify(sig.body));
    await waitStatus(id, 'CREATE_COMPLETE');

    const f = await h('POST', '/stacks', { stack_name: 'fails', template: template('server-5', 'HEAT_SIGNAL') });
    const fid = f.body.stack.id;
    await until('deployment', async () => ((await deploymentsOf('server-5')).length ? true : null));
    await h('POST', `/stacks/fails/${fid}/resources/dep/signal`, { deploy_status_code: 3 });
    const s = await waitStatus(fid, 'CREATE_FAILED');
    assert.match(String(s.stack_status_reason), /Deployment to server failed/);
  });

  it('a timeout fails the deployments still waiting', async () => {
    const r = await h('POST', '/stacks', {
      stack_name: 'slow',
      template: template('server-6', 'CFN_SIGNAL'),
      timeout_mins: 1,
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    await waitStatus(r.body.stack.id, 'CREATE_FAILED', 90_000);
    await until('failed deployment', async () =>
      (await deploymentsOf('server-6')).every((d) => d.status === 'FAILED') ? true : null,
    );
  });
});
