// The alarming service (Aodh API v2) against the real HTTP API: alarms of each type with their
// validation, state, history, quotas; the evaluator reading the metric service (a threshold on
// measures pushed to Gnocchi) and the notifier (a webhook); event alarms fired by a notification.
import http from 'node:http';
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud, member, until } from './lib/cloud.ts';
import type { AlarmingService } from '../src/telemetry/alarming/service.ts';

describe('alarming (Aodh API v2)', () => {
  let c: TestCloud;
  let hook: http.Server;
  const received: unknown[] = [];
  let hookUrl = '';
  const aodh = (method: string, p: string, body?: unknown, token?: string) =>
    c.req(method, `${c.url}/alarming${p}`, body, token ? { token } : {});
  const gnocchi = (method: string, p: string, body?: unknown) => c.req(method, `${c.url}/metric${p}`, body);
  const svc = () => c.cloud.services.find((s) => s.catalogEntry.name === 'alarming') as unknown as AlarmingService;
  before(async () => {
    c = await startCloud({ configure: (cfg) => (cfg.alarming = { evaluationInterval: 0 }) });
    hook = http.createServer((req, res) => {
      let b = '';
      req.on('data', (d) => (b += d));
      req.on('end', () => {
        received.push({ ...JSON.parse(b), token: req.headers['x-auth-token'] });
        res.end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    hookUrl = `http://127.0.0.1:${(hook.address() as { port: number }).port}/hook`;
  });
  after(async () => {
    hook?.close();
    await c?.stop();
  });

  it('event alarms: create, update, state, history, delete; errors in the WSME body', async () => {
    const rule = {
      event_type: 'compute.instance.*',
      query: [{ field: 'traits.name', type: 'string', op: 'eq', value: 'test' }],
    };
    let r = await aodh('POST', '/v2/alarms', { name: 'a1', type: 'event', event_rule: rule });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const id = r.body.alarm_id;
    assert.deepEqual(r.body.event_rule, rule);
    assert.equal(r.body.state, 'insufficient data');
    r = await aodh('PUT', `/v2/alarms/${id}`, {
      name: 'a2',
      type: 'event',
      event_rule: { ...rule, event_type: 'compute.instance.create' },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    r = await aodh('PUT', `/v2/alarms/${id}/state`, 'alarm');
    assert.equal(r.body, 'alarm');
    r = await aodh('GET', `/v2/alarms/${id}/state`);
    assert.equal(r.body, 'alarm');
    r = await aodh('GET', `/v2/alarms/${id}/history`);
    assert.deepEqual(
      r.body.map((h: { type: string }) => h.type),
      ['state transition', 'rule change', 'creation'],
    );
    assert.match(r.body[1].detail, /a2/);
    // Aodh's details are Python's json.dumps of what changed.
    assert.equal(
      r.body[1].detail,
      '{"name": "a2", "rule": {"event_type": "compute.instance.create", "query": [{"field": "traits.name", "op": "eq", "type": "string", "value": "test"}]}}',
    );
    r = await aodh('GET', '/v2/alarms?q.field=name&q.op=eq&q.value=a2');
    assert.equal(r.body.length, 1);
    r = await aodh('POST', '/v2/alarms', { name: 'bad', type: 'nope' });
    assert.equal(r.status, 400);
    assert.ok(r.body.error_message.faultstring);
    r = await aodh('POST', '/v2/alarms', {
      name: 'bad',
      type: 'gnocchi_resources_threshold',
      gnocchi_resources_threshold_rule: {
        metric: 'cpu',
        resource_id: 'nope',
        resource_type: 'instance',
        aggregation_method: 'mean',
        threshold: 1,
      },
    });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    r = await aodh('DELETE', `/v2/alarms/${id}`);
    assert.equal(r.status, 204);
    r = await aodh('GET', `/v2/alarms/${id}`);
    assert.equal(r.status, 404);
    assert.match(r.body.error_message.faultstring, /not found/);
    // Another project's member does not see it.
    const m = await member(c, 'alarm-other');
    r = await aodh('GET', '/v2/alarms', undefined, m.token);
    assert.deepEqual(r.body, []);
  });

  it('threshold alarms are evaluated on Gnocchi measures and call their webhooks', async () => {
    const rid = '6a4f1c6e-5a0b-4b0e-9d7e-8c1f2d3e4a5b';
    let r = await gnocchi('POST', '/v1/resource/generic', {
      id: rid,
      metrics: { cpu: { archive_policy_name: 'high' } },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const now = Date.now();
    const measures = [0, 1, 2, 3].map((i) => ({ timestamp: new Date(now - i * 60000).toISOString(), value: 90 }));
    r = await gnocchi('POST', `/v1/resource/generic/${rid}/metric/cpu/measures`, measures);
    assert.equal(r.status, 202);
    r = await aodh('POST', '/v2/alarms', {
      name: 'hot',
      type: 'gnocchi_aggregation_by_resources_threshold',
      alarm_actions: [hookUrl],
      gnocchi_aggregation_by_resources_threshold_rule: {
        metric: 'cpu',
        resource_type: 'generic',
        query: JSON.stringify({ '=': { id: rid } }),
        aggregation_method: 'mean',
        granularity: '60',
        evaluation_periods: 2,
        threshold: 50,
        comparison_operator: 'gt',
      },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const id = r.body.alarm_id;
    await svc().evaluator.evaluateAll();
    r = await aodh('GET', `/v2/alarms/${id}`);
    assert.equal(r.body.state, 'alarm', r.body.state_reason);
    assert.equal((received[0] as { current: string }).current, 'alarm');
    r = await aodh('POST', '/v2/alarms', {
      name: 'one',
      type: 'gnocchi_resources_threshold',
      gnocchi_resources_threshold_rule: {
        metric: 'cpu',
        resource_id: rid,
        resource_type: 'generic',
        aggregation_method: 'mean',
        threshold: 95,
        comparison_operator: 'gt',
      },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    await svc().evaluator.evaluateAll();
    r = await aodh('GET', `/v2/alarms/${r.body.alarm_id}`);
    assert.equal(r.body.state, 'ok', r.body.state_reason);
  });

  it('event alarms fire on a matching notification', async () => {
    let r = await aodh('POST', '/v2/alarms', {
      name: 'ev',
      type: 'event',
      event_rule: {
        event_type: 'compute.instance.create.end',
        query: [{ field: 'traits.name', op: 'eq', value: 'vm1' }],
      },
    });
    const id = r.body.alarm_id;
    const project = r.body.project_id;
    // An event of another project does not fire it; one of its project does.
    await svc().evaluator.onEvent({
      message_id: 'm0',
      event_type: 'compute.instance.create.end',
      traits: [
        ['name', 1, 'vm1'],
        ['project_id', 1, 'another'],
      ],
    });
    r = await aodh('GET', `/v2/alarms/${id}`);
    assert.notEqual(r.body.state, 'alarm');
    await svc().evaluator.onEvent({
      message_id: 'm1',
      event_type: 'compute.instance.create.end',
      traits: [
        ['name', 1, 'vm1'],
        ['project_id', 1, project],
      ],
    });
    r = await aodh('GET', `/v2/alarms/${id}`);
    assert.equal(r.body.state, 'alarm');
  });

  it('trust+http actions call with a token scoped to the trust (how Heat is signalled)', async () => {
    const id = async (kind: string, name: string) =>
      (await c.req('GET', `/v3/${kind}?name=${name}`)).body[kind][0].id as string;
    const trust = await c.req('POST', '/v3/OS-TRUST/trusts', {
      trust: {
        trustor_user_id: await id('users', 'admin'),
        trustee_user_id: await id('users', 'aodh'),
        project_id: await id('projects', 'admin'),
        impersonation: false,
        roles: [{ name: 'member' }],
      },
    });
    assert.equal(trust.status, 201, JSON.stringify(trust.body));
    const url = hookUrl.replace('http://', `trust+http://${trust.body.trust.id}@`);
    let r = await aodh('POST', '/v2/alarms', { name: 'trusty', type: 'event', alarm_actions: [url] });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const before = received.length;
    r = await aodh('PUT', `/v2/alarms/${r.body.alarm_id}/state`, 'alarm');
    assert.equal(r.status, 200);
    await until('the trust+http call', () => received.length > before);
    const got = received[received.length - 1] as { alarm_name: string; token?: string };
    assert.equal(got.alarm_name, 'trusty');
    assert.ok(got.token);
    const check = await c.req('GET', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': got.token! } });
    assert.equal(check.body.token['OS-TRUST:trust'].id, trust.body.trust.id);
  });

  it('quotas and capabilities', async () => {
    const m = await member(c, 'alarm-quota');
    let r = await aodh('POST', '/v2/quotas', { project_id: m.project, quotas: [{ resource: 'alarms', limit: 1 }] });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    r = await aodh('POST', '/v2/alarms', { name: 'q1', type: 'event' }, m.token);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    r = await aodh('POST', '/v2/alarms', { name: 'q2', type: 'event' }, m.token);
    assert.equal(r.status, 403);
    r = await aodh('GET', '/v2/capabilities');
    assert.equal(r.body.api['alarms:query:simple'], true);
  });
});

describe("alarming under Aodh's new defaults (enforce_new_defaults)", () => {
  let c: TestCloud;
  const aodh = (method: string, p: string, body?: unknown, token?: string) =>
    c.req(method, `${c.url}/alarming${p}`, body, token ? { token } : {});
  before(async () => {
    c = await startCloud({
      configure: (cfg) => (cfg.alarming = { evaluationInterval: 0, policy: { enforceNewDefaults: true } }),
    });
  });
  after(async () => {
    await c?.stop();
  });

  it("another project's alarm: 404 to its members, 403 to an admin (found, then refused as Aodh's _enforce_rbac does)", async () => {
    const owner = await member(c, 'alarm-owner');
    const other = await member(c, 'alarm-stranger');
    // The cloud's admin (a project admin) creates an alarm for the owner's project, as
    // telemetry_tempest_plugin's threshold scenario does.
    let r = await aodh('POST', '/v2/alarms', { name: 'theirs', type: 'event', project_id: owner.project });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.project_id, owner.project);
    const id = r.body.alarm_id as string;
    r = await aodh('GET', `/v2/alarms/${id}`, undefined, owner.token);
    assert.equal(r.status, 200);
    r = await aodh('GET', `/v2/alarms/${id}/history`, undefined, other.token);
    assert.equal(r.status, 404);
    assert.match(r.body.error_message.faultstring, /not found/);
    r = await aodh('GET', `/v2/alarms/${id}/history`);
    assert.equal(r.status, 403);
    assert.equal(r.body.error_message.faultstring, 'RBAC Authorization Failed');
    r = await aodh('DELETE', `/v2/alarms/${id}`, undefined, owner.token);
    assert.equal(r.status, 204);
  });
});
