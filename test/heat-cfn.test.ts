// heat-api-cfn: AWS::CloudFormation::WaitConditionHandle's reference is an EC2-signed
// `/waitcondition/{arn}` URL of heat-api-cfn; a PUT on it (no token) signals the handle, the
// signature checked by Keystone's ec2tokens; the query actions answer a signed request in XML or
// JSON; a tampered signature or a missing one is refused.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { member, startCloud, type TestCloud, until } from './lib/cloud.ts';
import { signV2 } from '../src/orchestration/cfn/signer.ts';

describe('orchestration: heat-api-cfn', () => {
  let c: TestCloud;
  let owner: { project: string; token: string };
  let stackId = '';
  let url = '';

  before(async () => {
    c = await startCloud();
    owner = await member(c, 'cfnowner');
  });
  after(async () => {
    await c?.stop();
  });

  const heat = (method: string, p: string, body?: unknown) =>
    c.req(method, `${c.url}/heat-api/v1/${owner.project}${p}`, body, { token: owner.token });

  it('lists heat-api-cfn in the catalog as cloudformation', async () => {
    const cat = (await c.req('GET', '/v3/auth/catalog', undefined, { token: owner.token })).body.catalog;
    const cfn = cat.find((s: { type: string }) => s.type === 'cloudformation');
    assert.ok(cfn);
    assert.equal(cfn.name, 'heat-cfn');
    assert.match(cfn.endpoints[0].url, /\/heat-api-cfn\/v1$/);
  });

  it('hands out an EC2-signed wait condition URL that a PUT signals', async () => {
    const created = await heat('POST', '/stacks', {
      stack_name: 'cfnwait',
      template: {
        AWSTemplateFormatVersion: '2010-09-09',
        Resources: {
          handle: { Type: 'AWS::CloudFormation::WaitConditionHandle' },
          wait: { Type: 'AWS::CloudFormation::WaitCondition', Properties: { Handle: { Ref: 'handle' }, Timeout: 60 } },
        },
        Outputs: { url: { Value: { Ref: 'handle' } }, data: { Value: { 'Fn::GetAtt': ['wait', 'Data'] } } },
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    stackId = created.body.stack.id;
    const handle = await until(
      'handle created',
      async () => {
        const r = (await heat('GET', `/stacks/cfnwait/${stackId}/resources/handle`)).body.resource;
        return r?.resource_status === 'CREATE_COMPLETE' ? r : null;
      },
      30_000,
    );
    url = handle.physical_resource_id?.startsWith('http')
      ? handle.physical_resource_id
      : (await heat('GET', `/stacks/cfnwait/${stackId}/outputs/url`)).body.output.output_value;
    const stackUrl = `${c.url}/heat-api-cfn/v1/waitcondition/arn%3Aopenstack%3Aheat%3A%3A${owner.project}%3Astacks/cfnwait/${stackId}/resources/handle?`;
    assert.ok(url.startsWith(stackUrl), url);
    assert.match(url, /SignatureMethod=HmacSHA256/);
    assert.match(url, /SignatureVersion=2/);
    assert.match(url, /AWSAccessKeyId=[0-9a-f]+/);
    assert.match(url, /Signature=/);

    // A tampered signature: 403 SignatureDoesNotMatch, in XML.
    const bad = await fetch(url.replace(/Signature=[^&]+/, 'Signature=AAAA'), {
      method: 'PUT',
      body: JSON.stringify({ Status: 'SUCCESS', Reason: 'x', UniqueId: '1', Data: 'x' }),
    });
    assert.equal(bad.status, 403);
    assert.match(await bad.text(), /<Code>SignatureDoesNotMatch<\/Code>/);
    // No signature at all: 400 IncompleteSignature.
    const none = await fetch(url.split('?')[0]!, { method: 'PUT', body: '{}' });
    assert.equal(none.status, 400);
    assert.match(await none.text(), /IncompleteSignature/);
    // A body that is not a CFN signal: 400.
    const malformed = await fetch(url, { method: 'PUT', body: JSON.stringify({ Status: 'SUCCESS' }) });
    assert.equal(malformed.status, 400, await malformed.clone().text());
    assert.match(await malformed.text(), /Metadata format invalid/);

    const sent = await fetch(url, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ Status: 'SUCCESS', Reason: 'configured', UniqueId: 'i1', Data: 'ready' }),
    });
    assert.equal(sent.status, 200, await sent.clone().text());
    assert.equal((await sent.json()).resource, 'handle');
    const done = await until(
      'stack complete',
      async () => {
        const s = (await heat('GET', `/stacks/cfnwait/${stackId}`)).body.stack;
        return s.stack_status === 'CREATE_COMPLETE' ? s : null;
      },
      30_000,
    );
    const data = done.outputs.find((o: { output_key: string }) => o.output_key === 'data').output_value;
    assert.deepEqual(JSON.parse(data), { i1: 'ready' });
  });

  it('answers the query actions of a signed request (XML and JSON)', async () => {
    // An EC2 credential of the owner signs the query.
    const me = (await c.req('GET', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': owner.token } })).body
      .token;
    const cred = await c.req(
      'POST',
      `/v3/users/${me.user.id}/credentials/OS-EC2`,
      { tenant_id: owner.project },
      { token: owner.token },
    );
    assert.equal(cred.status, 201, JSON.stringify(cred.body));
    const { access, secret } = cred.body.credential;
    const base = new URL(`${c.url}/heat-api-cfn/v1`);
    const signed = (params: Record<string, string>, verb = 'GET') => {
      const p = { ...params, AWSAccessKeyId: access, SignatureVersion: '2', SignatureMethod: 'HmacSHA256' };
      const sig = signV2(secret, { verb, host: base.host, path: base.pathname, params: p });
      return new URLSearchParams({ ...p, Signature: sig }).toString();
    };
    const xml = await (await fetch(`${base}?${signed({ Action: 'DescribeStacks', StackName: 'cfnwait' })}`)).text();
    assert.match(xml, /^<DescribeStacksResponse><DescribeStacksResult><Stacks><member>/);
    assert.match(xml, /<StackStatus>CREATE_COMPLETE<\/StackStatus>/);
    assert.match(xml, /<OutputKey>data<\/OutputKey>/);
    const list = await (await fetch(`${base}?${signed({ Action: 'ListStacks', ContentType: 'JSON' })}`)).json();
    assert.deepEqual(
      list.ListStacksResponse.ListStacksResult.StackSummaries.map((s: { StackName: string }) => s.StackName),
      ['cfnwait'],
    );
    // POST with a form body, as boto sends it.
    const res = await fetch(base, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: signed(
        { Action: 'DescribeStackResource', StackName: stackId, LogicalResourceId: 'wait', ContentType: 'JSON' },
        'POST',
      ),
    });
    assert.equal(res.status, 200);
    const detail = (await res.json()).DescribeStackResourceResponse.DescribeStackResourceResult.StackResourceDetail;
    assert.equal(detail.ResourceType, 'AWS::CloudFormation::WaitCondition');
    assert.equal(detail.ResourceStatus, 'CREATE_COMPLETE');
    assert.equal(detail.Metadata, '{}');
    const events = await (
      await fetch(`${base}?${signed({ Action: 'DescribeStackEvents', StackName: 'cfnwait', ContentType: 'JSON' })}`)
    ).json();
    assert.ok(events.DescribeStackEventsResponse.DescribeStackEventsResult.StackEvents.length >= 4);
    const resources = await (
      await fetch(`${base}?${signed({ Action: 'DescribeStackResources', StackName: 'cfnwait', ContentType: 'JSON' })}`)
    ).json();
    assert.equal(resources.DescribeStackResourcesResponse.DescribeStackResourcesResult.StackResources.length, 2);
    const unknown = await fetch(`${base}?${signed({ Action: 'Nope' })}`);
    assert.equal(unknown.status, 400);
    assert.match(await unknown.text(), /<Code>InvalidAction<\/Code>/);
    const missing = await fetch(`${base}?${signed({ Action: 'DescribeStacks', StackName: 'nope' })}`);
    assert.equal(missing.status, 400);
    assert.match(await missing.text(), /Stack with id nope does not exist/);
  });

  it('deletes the stack with its stack user', async () => {
    assert.equal((await heat('DELETE', `/stacks/cfnwait/${stackId}`)).status, 204);
    await until(
      'deleted',
      async () => {
        const s = await heat('GET', `/stacks/cfnwait/${stackId}`);
        return s.status === 404 || s.body.stack?.stack_status === 'DELETE_COMPLETE' ? true : null;
      },
      30_000,
    );
  });
});
