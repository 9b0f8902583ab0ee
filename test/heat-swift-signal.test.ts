// TEMP_URL_SIGNAL: OS::Heat::SwiftSignalHandle's URL and a WaitConditionHandle's
// (signal_transport TEMP_URL_SIGNAL) `signal.alarm_url` are PUT temp URLs of an object in the
// stack's container; a PUT without a token is a signal (each PUT one, kept as object versions);
// the waiting resource completes with the data; the stack delete removes the containers.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { member, startCloud, type TestCloud, until } from './lib/cloud.ts';

describe('orchestration: TEMP_URL_SIGNAL (Swift signals)', () => {
  let c: TestCloud;
  let owner: { project: string; token: string };

  before(async () => {
    c = await startCloud();
    owner = await member(c, 'swsigowner');
  });
  after(async () => {
    await c?.stop();
  });

  const heat = (method: string, p: string, body?: unknown) =>
    c.req(method, `${c.url}/heat-api/v1/${owner.project}${p}`, body, { token: owner.token });

  it('completes a SwiftSignal and a TEMP_URL_SIGNAL wait condition on PUTs to their temp URLs', async () => {
    const created = await heat('POST', '/stacks', {
      stack_name: 'swsig',
      template: {
        heat_template_version: '2016-10-14',
        resources: {
          sh: { type: 'OS::Heat::SwiftSignalHandle' },
          ss: { type: 'OS::Heat::SwiftSignal', properties: { handle: { get_resource: 'sh' }, timeout: 60, count: 2 } },
          wh: { type: 'OS::Heat::WaitConditionHandle', properties: { signal_transport: 'TEMP_URL_SIGNAL' } },
          wc: { type: 'OS::Heat::WaitCondition', properties: { handle: { get_resource: 'wh' }, timeout: 60 } },
        },
        outputs: {
          curl: { value: { get_attr: ['sh', 'curl_cli'] } },
          url: { value: { get_attr: ['sh', 'endpoint'] } },
          signal: { value: { get_attr: ['wh', 'signal'] } },
          ss_data: { value: { get_attr: ['ss', 'data'] } },
          wc_data: { value: { get_attr: ['wc', 'data'] } },
        },
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.stack.id as string;
    const ready = async (name: string) =>
      until(
        `${name} created`,
        async () => {
          const r = (await heat('GET', `/stacks/swsig/${id}/resources/${name}`)).body.resource;
          return r?.resource_status === 'CREATE_COMPLETE' ? r : null;
        },
        30_000,
      );
    const sh = await ready('sh');
    const wh = await ready('wh');
    const url = sh.attributes.endpoint as string;
    assert.match(
      url,
      new RegExp(
        `/v1/AUTH_${owner.project}/${id}/swsig-sh-[0-9a-f]+\\?temp_url_sig=[0-9a-f]{40}&temp_url_expires=2147483587$`,
      ),
    );
    assert.equal(sh.attributes.curl_cli, `curl -i -X PUT '${url}'`);
    const alarm = JSON.parse(wh.attributes.signal).alarm_url as string;
    assert.match(alarm, /temp_url_sig=/);
    // A GET with the PUT signature is refused; a PUT without a token is taken.
    assert.equal((await fetch(url)).status, 401);
    for (const [i, data] of [
      [1, 'one'],
      [2, 'two'],
    ] as const) {
      const put = await fetch(url, { method: 'PUT', body: JSON.stringify({ id: String(i), data, status: 'SUCCESS' }) });
      assert.equal(put.status, 201);
      await new Promise((r) => setTimeout(r, 1100));
    }
    const put = await fetch(alarm, { method: 'PUT', body: JSON.stringify({ data: 'wc ready' }) });
    assert.equal(put.status, 201);
    const done = await until(
      'stack complete',
      async () => {
        const s = (await heat('GET', `/stacks/swsig/${id}`)).body.stack;
        if (s.stack_status === 'CREATE_FAILED') throw new Error(s.stack_status_reason);
        return s.stack_status === 'CREATE_COMPLETE' ? s : null;
      },
      30_000,
    );
    const out = (k: string) => done.outputs.find((o: { output_key: string }) => o.output_key === k).output_value;
    assert.deepEqual(JSON.parse(out('ss_data')), { 1: 'one', 2: 'two' });
    assert.deepEqual(JSON.parse(out('wc_data')), { 1: 'wc ready' });

    assert.equal((await heat('DELETE', `/stacks/swsig/${id}`)).status, 204);
    await until(
      'deleted',
      async () => {
        const s = await heat('GET', `/stacks/swsig/${id}`);
        return s.status === 404 || s.body.stack?.stack_status === 'DELETE_COMPLETE' ? true : null;
      },
      30_000,
    );
    const containers = await c.req('GET', `${c.url}/object-store/v1/AUTH_${owner.project}?format=json`, undefined, {
      token: owner.token,
    });
    assert.deepEqual(
      (containers.body as Array<{ name: string }>).map((x) => x.name).filter((n) => n.startsWith(id)),
      [],
    );
  });

  it('fails a SwiftSignal on a FAILURE signal', async () => {
    const created = await heat('POST', '/stacks', {
      stack_name: 'swfail',
      template: {
        heat_template_version: '2016-10-14',
        resources: {
          sh: { type: 'OS::Heat::SwiftSignalHandle' },
          ss: { type: 'OS::Heat::SwiftSignal', properties: { handle: { get_resource: 'sh' }, timeout: 60 } },
        },
      },
    });
    const id = created.body.stack.id as string;
    const sh = await until(
      'handle',
      async () => {
        const r = (await heat('GET', `/stacks/swfail/${id}/resources/sh`)).body.resource;
        return r?.resource_status === 'CREATE_COMPLETE' ? r : null;
      },
      30_000,
    );
    await fetch(sh.attributes.endpoint, { method: 'PUT', body: JSON.stringify({ status: 'FAILURE', reason: 'boom' }) });
    const s = await until(
      'failed',
      async () => {
        const x = (await heat('GET', `/stacks/swfail/${id}`)).body.stack;
        return x.stack_status === 'CREATE_FAILED' ? x : null;
      },
      30_000,
    );
    assert.match(s.stack_status_reason, /SwiftSignalFailure: ss: boom/);
    await heat('DELETE', `/stacks/swfail/${id}`);
  });
  it('TEMP_URL_SIGNAL of a software deployment: the agent PUTs its outputs to deploy_signal_id', async () => {
    const created = await heat('POST', '/stacks', {
      stack_name: 'swdep',
      template: {
        heat_template_version: '2016-04-08',
        resources: {
          config: { type: 'OS::Heat::SoftwareConfig', properties: { group: 'script', config: 'echo hi' } },
          dep: {
            type: 'OS::Heat::SoftwareDeployment',
            properties: { config: { get_resource: 'config' }, server: 'srv-t', signal_transport: 'TEMP_URL_SIGNAL' },
          },
        },
        outputs: { stdout: { value: { get_attr: ['dep', 'deploy_stdout'] } } },
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.stack.id as string;
    const md = await until(
      'deployment data',
      async () => {
        const m = (await heat('GET', '/software_deployments/metadata/srv-t')).body.metadata as Array<{
          inputs: Array<{ name: string; value: unknown }>;
        }>;
        return m?.length ? m : null;
      },
      30_000,
    );
    const inputs = Object.fromEntries(md[0]!.inputs.map((i) => [i.name, i.value]));
    assert.equal(inputs.deploy_signal_transport, 'TEMP_URL_SIGNAL');
    assert.equal(inputs.deploy_signal_verb, 'PUT');
    const put = await fetch(String(inputs.deploy_signal_id), {
      method: 'PUT',
      body: JSON.stringify({ deploy_stdout: 'hi', deploy_status_code: 0 }),
    });
    assert.equal(put.status, 201);
    await until(
      'complete',
      async () => {
        const x = (await heat('GET', `/stacks/swdep/${id}`)).body.stack;
        if (x.stack_status === 'CREATE_FAILED') throw new Error(x.stack_status_reason);
        return x.stack_status === 'CREATE_COMPLETE' ? x : null;
      },
      30_000,
    );
    assert.equal((await heat('GET', `/stacks/swdep/${id}/outputs/stdout`)).body.output.output_value, 'hi');
    await heat('DELETE', `/stacks/swdep/${id}`);
  });
});
