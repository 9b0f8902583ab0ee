// heat-api-cfn's stack-changing actions (heat/api/cfn/v1/stacks.py) with EC2-signed queries:
// CreateStack with Parameters.member.N, UpdateStack, DeleteStack, ValidateTemplate,
// EstimateTemplateCost, errors as AWS error XML, a token instead of a signature; and
// OS::Heat::ScalingPolicy's alarm_url, heat-api-cfn's EC2-signed POST /signal/{arn}, that a plain
// POST (curl) or an Aodh alarm action scales its AutoScalingGroup out. On SQLite and, with
// STRATUS_TEST_PG, on PostgreSQL.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { databaseEngines, member, startCloud, type TestCloud, until } from './lib/cloud.ts';
import { signV2 } from '../src/orchestration/cfn/signer.ts';

const TEMPLATE = {
  AWSTemplateFormatVersion: '2010-09-09',
  Description: 'a cfn stack',
  Parameters: { Len: { Type: 'Number', Default: '8', Description: 'the length' }, Salt: { Type: 'String' } },
  Resources: { rand: { Type: 'OS::Heat::RandomString', Properties: { length: { Ref: 'Len' } } } },
  Outputs: { salt: { Value: { Ref: 'Salt' } }, len: { Value: { 'Fn::GetAtt': ['rand', 'value'] } } },
};

const ASG = {
  heat_template_version: '2016-10-14',
  resources: {
    group: {
      type: 'OS::Heat::AutoScalingGroup',
      properties: { min_size: 1, max_size: 4, resource: { type: 'OS::Heat::RandomString' } },
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
    alarm_url: { value: { get_attr: ['up', 'alarm_url'] } },
    signal_url: { value: { get_attr: ['up', 'signal_url'] } },
  },
};

for (const engine of databaseEngines('heat-api-cfn actions')) {
  describe(`orchestration: heat-api-cfn actions and alarm_url (${engine.name})`, () => {
    let c: TestCloud;
    let owner: { project: string; token: string };
    let access = '';
    let secret = '';
    let base: URL;

    before(async () => {
      c = await startCloud({ database: engine.database });
      owner = await member(c, 'cfnapi');
      const me = (await c.req('GET', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': owner.token } }))
        .body.token;
      const cred = await c.req(
        'POST',
        `/v3/users/${me.user.id}/credentials/OS-EC2`,
        { tenant_id: owner.project },
        { token: owner.token },
      );
      assert.equal(cred.status, 201, JSON.stringify(cred.body));
      ({ access, secret } = cred.body.credential);
      base = new URL(`${c.url}/heat-api-cfn/v1`);
    });
    after(async () => {
      await c?.stop();
    });

    const heat = (method: string, p: string, body?: unknown) =>
      c.req(method, `${c.url}/heat-api/v1/${owner.project}${p}`, body, { token: owner.token });
    /** A signed POST of a query (a form body, as boto sends it). */
    const cfn = async (params: Record<string, string>) => {
      const p = {
        ...params,
        AWSAccessKeyId: access,
        SignatureVersion: '2',
        SignatureMethod: 'HmacSHA256',
        Timestamp: new Date().toISOString().slice(0, 19) + 'Z',
      };
      const sig = signV2(secret, { verb: 'POST', host: base.host, path: base.pathname, params: p });
      const res = await fetch(base, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...p, Signature: sig }).toString(),
      });
      return { status: res.status, text: await res.text() };
    };
    const statusOf = async (name: string) => {
      const r = await cfn({ Action: 'DescribeStacks', StackName: name });
      return /<StackStatus>([A-Z_]+)<\/StackStatus>/.exec(r.text)?.[1] ?? r.text;
    };
    const waitFor = (name: string, want: string) =>
      until(
        `${name} ${want}`,
        async () => {
          const st = await statusOf(name);
          if (st !== want && /FAILED/.test(st)) throw new Error(st);
          return st === want ? st : null;
        },
        30_000,
      );

    it('CreateStack with Parameters.member.N, DescribeStacks, UpdateStack, DeleteStack', async () => {
      const created = await cfn({
        Action: 'CreateStack',
        StackName: 'cfnmade',
        TemplateBody: JSON.stringify(TEMPLATE),
        'Parameters.member.1.ParameterKey': 'Len',
        'Parameters.member.1.ParameterValue': '12',
        'Parameters.member.2.ParameterKey': 'Salt',
        'Parameters.member.2.ParameterValue': 'pepper',
        TimeoutInMinutes: '5',
      });
      assert.equal(created.status, 200, created.text);
      const arn = /<StackId>([^<]+)<\/StackId>/.exec(created.text)?.[1] ?? '';
      assert.match(
        created.text,
        /^<CreateStackResponse><CreateStackResult><StackId>arn:openstack:heat::[0-9a-f]+:stacks\/cfnmade\/[0-9a-f-]{36}<\/StackId>/,
      );
      await waitFor('cfnmade', 'CREATE_COMPLETE');
      let d = await cfn({ Action: 'DescribeStacks', StackName: arn });
      assert.match(d.text, /<OutputKey>salt<\/OutputKey><OutputValue>pepper<\/OutputValue>/);
      assert.match(d.text, /<TimeoutInMinutes>5<\/TimeoutInMinutes>/);
      const len = /<OutputKey>len<\/OutputKey><OutputValue>([^<]*)<\/OutputValue>/.exec(d.text)?.[1];
      assert.equal(len?.length, 12);
      // A second CreateStack of the same name: AlreadyExists.
      const again = await cfn({
        Action: 'CreateStack',
        StackName: 'cfnmade',
        TemplateBody: JSON.stringify(TEMPLATE),
        'Parameters.member.1.ParameterKey': 'Salt',
        'Parameters.member.1.ParameterValue': 'x',
      });
      assert.equal(again.status, 400, again.text);
      assert.match(again.text, /<Type>Sender<\/Type><Code>AlreadyExists<\/Code>/);

      const updated = await cfn({
        Action: 'UpdateStack',
        StackName: 'cfnmade',
        TemplateBody: JSON.stringify(TEMPLATE),
        'Parameters.member.1.ParameterKey': 'Len',
        'Parameters.member.1.ParameterValue': '20',
        'Parameters.member.2.ParameterKey': 'Salt',
        'Parameters.member.2.ParameterValue': 'salt',
      });
      assert.equal(updated.status, 200, updated.text);
      assert.equal(/<StackId>([^<]+)<\/StackId>/.exec(updated.text)?.[1], arn);
      await waitFor('cfnmade', 'UPDATE_COMPLETE');
      d = await cfn({ Action: 'DescribeStacks', StackName: 'cfnmade' });
      assert.match(d.text, /<OutputValue>salt<\/OutputValue>/);
      assert.equal(/<OutputKey>len<\/OutputKey><OutputValue>([^<]*)</.exec(d.text)?.[1]?.length, 20);
      const tpl = await cfn({ Action: 'GetTemplate', StackName: 'cfnmade', ContentType: 'JSON' });
      assert.equal(
        JSON.parse(JSON.parse(tpl.text).GetTemplateResponse.GetTemplateResult.TemplateBody).Description,
        'a cfn stack',
      );

      const deleted = await cfn({ Action: 'DeleteStack', StackName: arn });
      assert.equal(deleted.status, 200, deleted.text);
      assert.equal(deleted.text, '<DeleteStackResponse><DeleteStackResult></DeleteStackResult></DeleteStackResponse>');
      await until(
        'cfnmade gone',
        async () => ((await cfn({ Action: 'DescribeStacks', StackName: 'cfnmade' })).status === 400 ? true : null),
        30_000,
      );
      const gone = await cfn({ Action: 'DeleteStack', StackName: 'cfnmade' });
      assert.equal(gone.status, 400);
      assert.match(gone.text, /<Code>ValidationError<\/Code>/);
    });

    it('CancelUpdateStack rolls a running update back; refused when no update runs', async () => {
      const slow = (v: string) => ({
        heat_template_version: '2016-10-14',
        resources: {
          t: { type: 'OS::Heat::TestResource', properties: { value: v, action_wait_secs: { update: 30 } } },
        },
      });
      const created = await heat('POST', '/stacks', { stack_name: 'cfncancel', template: slow('one') });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      await waitFor('cfncancel', 'CREATE_COMPLETE');
      const early = await cfn({ Action: 'CancelUpdateStack', StackName: 'cfncancel' });
      assert.equal(early.status, 400, early.text);
      assert.match(
        early.text,
        /<Code>InvalidParameterValue<\/Code><Message>Cancelling update when stack is CREATE_COMPLETE is not supported\.<\/Message>/,
      );
      const upd = await cfn({
        Action: 'UpdateStack',
        StackName: 'cfncancel',
        TemplateBody: JSON.stringify(slow('two')),
      });
      assert.equal(upd.status, 200, upd.text);
      await waitFor('cfncancel', 'UPDATE_IN_PROGRESS');
      const cancel = await cfn({ Action: 'CancelUpdateStack', StackName: 'cfncancel' });
      assert.equal(cancel.status, 200, cancel.text);
      assert.equal(
        cancel.text,
        '<CancelUpdateStackResponse><CancelUpdateStackResult></CancelUpdateStackResult></CancelUpdateStackResponse>',
      );
      // Cancelled (UPDATE_FAILED "Stack UPDATE cancelled"), then rolled back to the first template.
      await until(
        'cfncancel rolled back',
        async () => ((await statusOf('cfncancel')) === 'ROLLBACK_COMPLETE' ? true : null),
        30_000,
      );
      assert.equal((await heat('DELETE', `/stacks/cfncancel/${created.body.stack.id}`)).status, 204);
    });

    it('ValidateTemplate, EstimateTemplateCost and the errors of bad requests', async () => {
      const v = await cfn({ Action: 'ValidateTemplate', TemplateBody: JSON.stringify(TEMPLATE) });
      assert.equal(v.status, 200, v.text);
      assert.match(
        v.text,
        /^<ValidateTemplateResponse><ValidateTemplateResult><Description>a cfn stack<\/Description>/,
      );
      assert.match(
        v.text,
        /<member><ParameterKey>Len<\/ParameterKey><DefaultValue>8<\/DefaultValue><NoEcho>false<\/NoEcho><Description>the length<\/Description><\/member>/,
      );
      // Salt has no default: DefaultValue is '' (format_validate_parameter); the (empty) Environment follows.
      assert.match(v.text, /<member><ParameterKey>Salt<\/ParameterKey><DefaultValue><\/DefaultValue>/);
      assert.match(v.text, /<Environment>.*<resource_registry><resources><\/resources><\/resource_registry>/);
      const bad = await cfn({
        Action: 'ValidateTemplate',
        TemplateBody: JSON.stringify({ ...TEMPLATE, Resources: { r: { Type: 'OS::Nope' } }, Outputs: {} }),
      });
      // As Zed: the engine's {'Error': ...} is the action's result (200), not an error response.
      assert.equal(bad.status, 200, bad.text);
      assert.match(
        bad.text,
        /^<ValidateTemplateResponse><ValidateTemplateResult>[^<]*OS::Nope[^<]*<\/ValidateTemplateResult>/,
      );
      // A body that is no template at all: InvalidParameterValue.
      const junk = await cfn({ Action: 'ValidateTemplate', TemplateBody: '{"a": [1' });
      assert.equal(junk.status, 400, junk.text);
      assert.match(junk.text, /<Code>InvalidParameterValue<\/Code>/);
      const none = await cfn({ Action: 'ValidateTemplate' });
      assert.equal(none.status, 400);
      assert.match(none.text, /<Code>MissingParameter<\/Code>/);
      const cost = await cfn({ Action: 'EstimateTemplateCost', TemplateBody: JSON.stringify(TEMPLATE) });
      assert.match(cost.text, /<Url>http:\/\/en.wikipedia.org\/wiki\/Gratis<\/Url>/);
      const missingParam = await cfn({
        Action: 'CreateStack',
        StackName: 'nosalt',
        TemplateBody: JSON.stringify(TEMPLATE),
      });
      assert.equal(missingParam.status, 400, missingParam.text);
      assert.match(missingParam.text, /<Code>InvalidParameterValue<\/Code><Message>[^<]*Salt/);
      // A token instead of a signature (Heat's ec2token lets a Keystone token through).
      const tok = await fetch(`${base}?Action=ListStacks&ContentType=JSON`, {
        headers: { 'X-Auth-Token': owner.token },
      });
      assert.equal(tok.status, 200);
      assert.ok(Array.isArray((await tok.json()).ListStacksResponse.ListStacksResult.StackSummaries));
      const unsigned = await fetch(`${base}?Action=ListStacks`);
      assert.equal(unsigned.status, 400);
      assert.match(await unsigned.text(), /IncompleteSignature/);
    });

    it("scales an AutoScalingGroup out by a POST of its ScalingPolicy's EC2-signed alarm_url, and by an Aodh alarm", async () => {
      const created = await heat('POST', '/stacks', { stack_name: 'asgcfn', template: ASG });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const id = created.body.stack.id as string;
      const outputs = async () => {
        const s = (await heat('GET', `/stacks/asgcfn/${id}`)).body.stack;
        if (s.stack_status.endsWith('FAILED')) throw new Error(s.stack_status_reason);
        return s.stack_status.endsWith('COMPLETE')
          ? Object.fromEntries(
              s.outputs.map((o: { output_key: string; output_value: unknown }) => [o.output_key, o.output_value]),
            )
          : null;
      };
      const o = await until('asgcfn complete', outputs, 30_000);
      assert.equal(o.size, 1);
      const alarmUrl = String(o.alarm_url);
      const arn = `arn%3Aopenstack%3Aheat%3A%3A${owner.project}%3Astacks/asgcfn/${id}/resources/up`;
      assert.ok(alarmUrl.startsWith(`${c.url}/heat-api-cfn/v1/signal/${arn}?`), alarmUrl);
      assert.match(alarmUrl, /SignatureMethod=HmacSHA256&SignatureVersion=2&AWSAccessKeyId=[0-9a-f]+&Signature=/);
      // signal_url: Heat's native signal URL of the policy (a Keystone token is needed).
      assert.equal(o.signal_url, `${c.url}/heat-api/v1/${owner.project}/stacks/asgcfn/${id}/resources/up/signal`);
      // curl -X POST '<alarm_url>': no token, no body.
      const res = await fetch(alarmUrl, { method: 'POST' });
      assert.equal(res.status, 200, await res.clone().text());
      await until('size 2', async () => ((await outputs())?.size === 2 ? true : null), 30_000);
      // A tampered signature: refused.
      const bad = await fetch(alarmUrl.replace(/Signature=[^&]+/, 'Signature=AAAA'), { method: 'POST' });
      assert.equal(bad.status, 403);
      // An Aodh body whose state is `ok` scales too: Zed's handle_signal acts whatever the alarm's
      // state (the template chooses the alarm actions that name the policy).
      const ok = await fetch(alarmUrl, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ alarm_id: 'x', previous: 'alarm', current: 'ok', reason: 'quiet' }),
      });
      assert.equal(ok.status, 200);
      assert.equal((await outputs())?.size, 3);

      // An Aodh alarm whose alarm_actions is the alarm_url: set to alarm, the notifier POSTs it.
      const aodh = (method: string, p: string, body?: unknown) =>
        c.req(method, `${c.url}/alarming${p}`, body, { token: owner.token });
      const alarm = await aodh('POST', '/v2/alarms', {
        name: 'scale-up',
        type: 'event',
        event_rule: { event_type: 'never.happens' },
        alarm_actions: [alarmUrl],
      });
      assert.equal(alarm.status, 201, JSON.stringify(alarm.body));
      const state = await aodh('PUT', `/v2/alarms/${alarm.body.alarm_id}/state`, 'alarm');
      assert.equal(state.status, 200, JSON.stringify(state.body));
      await until('size 4', async () => ((await outputs())?.size === 4 ? true : null), 30_000);

      assert.equal((await heat('DELETE', `/stacks/asgcfn/${id}`)).status, 204);
      await until(
        'asgcfn deleted',
        async () => {
          const s = await heat('GET', `/stacks/asgcfn/${id}`);
          return s.status === 404 || s.body.stack?.stack_status === 'DELETE_COMPLETE' ? true : null;
        },
        30_000,
      );
    });
  });
}
