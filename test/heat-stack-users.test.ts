// Stack-domain users (Heat's stack_user_domain_name / stack_domain_admin): bootstrap makes the
// `heat` domain, `heat_domain_admin` and the role `heat_stack_user`; a wait condition handle
// gets a user in the stack's project of that domain whose token (TOKEN_SIGNAL) signals it
// through the native API; the user and the project go with the resource and the stack.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { member, startCloud, type TestCloud, until } from './lib/cloud.ts';

describe('orchestration: stack domain users', () => {
  let c: TestCloud;
  let owner: { project: string; token: string };

  before(async () => {
    c = await startCloud();
    owner = await member(c, 'sdowner');
  });
  after(async () => {
    await c?.stop();
  });

  const heat = (method: string, p: string, body?: unknown, token = owner.token) =>
    c.req(method, `${c.url}/heat-api/v1/${owner.project}${p}`, body, { token });
  const status = async (name: string, id: string) => (await heat('GET', `/stacks/${name}/${id}`)).body.stack;

  it('bootstraps the heat domain, its admin and the heat_stack_user role', async () => {
    const d = (await c.req('GET', '/v3/domains?name=heat')).body.domains;
    assert.equal(d.length, 1);
    const users = (await c.req('GET', `/v3/users?domain_id=${d[0].id}&name=heat_domain_admin`)).body.users;
    assert.equal(users.length, 1);
    assert.equal((await c.req('GET', '/v3/roles?name=heat_stack_user')).body.roles.length, 1);
  });

  it('signals a wait condition with the stack user token (TOKEN_SIGNAL) and cleans up', async () => {
    const created = await heat('POST', '/stacks', {
      stack_name: 'waiter',
      template: {
        heat_template_version: '2016-10-14',
        resources: {
          handle: { type: 'OS::Heat::WaitConditionHandle' },
          wait: {
            type: 'OS::Heat::WaitCondition',
            properties: { handle: { get_resource: 'handle' }, timeout: 60, count: 1 },
          },
          creds: { type: 'OS::Heat::WaitConditionHandle', properties: { signal_transport: 'HEAT_SIGNAL' } },
        },
        outputs: {
          curl: { value: { get_attr: ['handle', 'curl_cli'] } },
          data: { value: { get_attr: ['wait', 'data'] } },
        },
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.stack.id as string;
    const handle = await until(
      'handle created',
      async () => {
        const r = (await heat('GET', `/stacks/waiter/${id}/resources/handle`)).body.resource;
        return r?.resource_status === 'CREATE_COMPLETE' ? r : null;
      },
      30_000,
    );
    const token = handle.attributes.token as string;
    const endpoint = handle.attributes.endpoint as string;
    assert.ok(token);
    assert.match(handle.attributes.curl_cli, /^curl -i -X POST -H 'X-Auth-Token: /);
    // The endpoint is under the stack domain project, not the owner's.
    const userProject = endpoint.match(/\/v1\/([^/]+)\/stacks\//)![1]!;
    assert.notEqual(userProject, owner.project);
    const project = (await c.req('GET', `/v3/projects/${userProject}`)).body.project;
    assert.equal(project.name, id);
    const heatDomain = (await c.req('GET', '/v3/domains?name=heat')).body.domains[0].id;
    assert.equal(project.domain_id, heatDomain);
    // The stack user may not list the owner's stacks (deny_stack_user / another tenant).
    const denied = await c.req('GET', `${c.url}/heat-api/v1/${owner.project}/stacks`, undefined, { token });
    assert.equal(denied.status, 403);
    const sent = await c.req('POST', endpoint, { status: 'SUCCESS', data: 'ready', id: '1' }, { token });
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    const done = await until(
      'stack complete',
      async () => {
        const s = await status('waiter', id);
        if (s.stack_status === 'CREATE_FAILED') throw new Error(s.stack_status_reason);
        return s.stack_status === 'CREATE_COMPLETE' ? s : null;
      },
      30_000,
    );
    const data = done.outputs.find((o: { output_key: string }) => o.output_key === 'data').output_value;
    assert.deepEqual(JSON.parse(data), { '1': 'ready' });
    // HEAT_SIGNAL: the user's credentials in `signal`; they authenticate in the stack domain.
    const creds = JSON.parse(
      (await heat('GET', `/stacks/waiter/${id}/resources/creds`)).body.resource.attributes.signal as string,
    );
    assert.equal(creds.project_id, userProject);
    assert.match(creds.alarm_url, new RegExp(`/v1/${owner.project}/stacks/waiter/${id}/resources/creds/signal$`));
    const credToken = await c.token({ id: creds.user_id, password: creds.password }, { project: { id: userProject } });
    assert.ok(credToken);
    const users = (await c.req('GET', `/v3/users?domain_id=${heatDomain}`)).body.users as Array<{ id: string }>;
    assert.ok(users.some((u) => u.id === creds.user_id));

    const del = await heat('DELETE', `/stacks/waiter/${id}`);
    assert.equal(del.status, 204);
    await until(
      'stack deleted',
      async () => {
        const s = await heat('GET', `/stacks/waiter/${id}`);
        return s.status === 404 || s.body.stack?.stack_status === 'DELETE_COMPLETE';
      },
      30_000,
    );
    const left = (await c.req('GET', `/v3/users?domain_id=${heatDomain}`)).body.users as Array<{ name: string }>;
    assert.deepEqual(
      left.map((u) => u.name),
      ['heat_domain_admin'],
    );
    assert.equal((await c.req('GET', `/v3/projects/${userProject}`)).status, 404);
  });

  it('gives a HEAT_SIGNAL deployment stack user credentials its agent signals with', async () => {
    const created = await heat('POST', '/stacks', {
      stack_name: 'deployer',
      template: {
        heat_template_version: '2016-10-14',
        resources: {
          config: { type: 'OS::Heat::SoftwareConfig', properties: { group: 'script', config: 'echo hi' } },
          deployment: {
            type: 'OS::Heat::SoftwareDeployment',
            properties: {
              config: { get_resource: 'config' },
              server: 'a-server-of-the-test',
              signal_transport: 'HEAT_SIGNAL',
            },
          },
        },
        outputs: { out: { value: { get_attr: ['deployment', 'deploy_stdout'] } } },
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.stack.id as string;
    const dep = await until(
      'deployment in progress',
      async () => {
        const list = (await heat('GET', '/software_deployments?server_id=a-server-of-the-test')).body
          .software_deployments as Array<{ id: string; status: string }>;
        return list?.find((d) => d.status === 'IN_PROGRESS');
      },
      30_000,
    );
    const v = (await heat('GET', `/software_deployments/${dep.id}`)).body.software_deployment.input_values;
    assert.equal(v.deploy_signal_transport, 'HEAT_SIGNAL');
    assert.match(v.deploy_auth_url, /\/v3$/);
    // As heat-config-notify: a token from the credentials, the stack named by id under the
    // stack domain project (a redirect), then the resource signal.
    const token = await c.token(
      { id: v.deploy_user_id, password: v.deploy_password },
      { project: { id: v.deploy_project_id } },
    );
    const look = await fetch(`${c.url}/heat-api/v1/${v.deploy_project_id}/stacks/${v.deploy_stack_id}`, {
      headers: { 'X-Auth-Token': token },
      redirect: 'manual',
    });
    assert.equal(look.status, 302);
    const location = look.headers.get('location')!;
    assert.ok(location.endsWith(`/v1/${v.deploy_project_id}/stacks/deployer/${id}`), location);
    const sent = await c.req(
      'POST',
      `${location}/resources/${v.deploy_resource_name}/signal`,
      { deploy_stdout: 'hi', deploy_status_code: 0 },
      { token },
    );
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    const done = await until(
      'stack complete',
      async () => {
        const s = await status('deployer', id);
        if (s.stack_status === 'CREATE_FAILED') throw new Error(s.stack_status_reason);
        return s.stack_status === 'CREATE_COMPLETE' ? s : null;
      },
      30_000,
    );
    assert.equal(done.outputs[0].output_value, 'hi');
    assert.equal((await heat('DELETE', `/stacks/deployer/${id}`)).status, 204);
    await until(
      'user gone',
      async () => {
        const u = await c.req('GET', `/v3/users/${v.deploy_user_id}`);
        return u.status === 404;
      },
      30_000,
    );
  });

  it('makes an AWS::CloudFormation wait condition handle with an EC2-keyed stack user, signalled by PUT', async () => {
    const created = await heat('POST', '/stacks', {
      stack_name: 'cfnwait',
      template: {
        AWSTemplateFormatVersion: '2010-09-09',
        Resources: {
          Handle: { Type: 'AWS::CloudFormation::WaitConditionHandle' },
          Wait: {
            Type: 'AWS::CloudFormation::WaitCondition',
            Properties: { Handle: { Ref: 'Handle' }, Timeout: 60, Count: 1 },
          },
        },
        Outputs: {
          Url: { Value: { Ref: 'Handle' } },
          Data: { Value: { 'Fn::GetAtt': ['Wait', 'Data'] } },
        },
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.stack.id as string;
    const handle = await until(
      'handle created',
      async () => {
        const r = (await heat('GET', `/stacks/cfnwait/${id}/resources/Handle`)).body.resource;
        return r?.resource_status === 'CREATE_COMPLETE' ? r : null;
      },
      30_000,
    );
    assert.ok(handle.physical_resource_id);
    // The handle's reference: heat-api-cfn's EC2-signed /waitcondition/{arn} URL (test/heat-cfn.test.ts).
    const url = (await heat('GET', `/stacks/cfnwait/${id}/outputs/Url`)).body.output.output_value as string;
    assert.match(url, /\/heat-api-cfn\/v1\/waitcondition\/arn%3Aopenstack%3Aheat%3A%3A.+&Signature=/);
    const heatDomain = (await c.req('GET', '/v3/domains?name=heat')).body.domains[0].id;
    const users = (await c.req('GET', `/v3/users?domain_id=${heatDomain}`)).body.users as Array<{
      id: string;
      name: string;
    }>;
    const mine = users.filter((u) => u.name.startsWith('cfnwait-Handle-'));
    assert.equal(mine.length, 1);
    const ec2 = await c.req('GET', `/v3/credentials?user_id=${mine[0]!.id}&type=ec2`);
    assert.equal(ec2.body.credentials.length, 1, JSON.stringify(ec2.body));
    const bad = await fetch(url, {
      method: 'PUT',
      body: JSON.stringify({ Status: 'SUCCESS' }),
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(bad.status, 400);
    const sent = await fetch(url, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ Status: 'SUCCESS', Reason: 'ok', UniqueId: 'u1', Data: 'payload' }),
    });
    assert.equal(sent.status, 200, await sent.text());
    const done = await until(
      'stack complete',
      async () => {
        const s = await status('cfnwait', id);
        if (s.stack_status === 'CREATE_FAILED') throw new Error(s.stack_status_reason);
        return s.stack_status === 'CREATE_COMPLETE' ? s : null;
      },
      30_000,
    );
    const data = done.outputs.find((o: { output_key: string }) => o.output_key === 'Data').output_value;
    assert.deepEqual(JSON.parse(data), { u1: 'payload' });
    assert.equal((await heat('DELETE', `/stacks/cfnwait/${id}`)).status, 204);
    await until('user gone', async () => (await c.req('GET', `/v3/users/${mine[0]!.id}`)).status === 404, 30_000);
  });
});
