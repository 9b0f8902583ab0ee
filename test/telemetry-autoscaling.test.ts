// The book's autoscaling case in an in-process cloud: the example template
// (src/telemetry/examples/autoscaling.yaml) makes an AutoScalingGroup of servers, two scaling
// policies and two OS::Aodh::GnocchiAggregationByResourcesAlarm on the group's mean cpu rate;
// the fake driver's load profile (server metadata `stratus:load`) drives the cpu counters that
// the compute pollster reads, the evaluator's alarms signal the policies' pre-signed URLs, and
// the group scales out, then back in. Also: the fake load profile alone, and Gnocchi's
// `delete` state of metrics until the janitor.
import fs from 'node:fs';
import path from 'node:path';
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud, until } from './lib/cloud.ts';
import type { MetricService } from '../src/telemetry/metric/service.ts';
import type { AlarmingService } from '../src/telemetry/alarming/service.ts';
import { BASE_CPU_TIME_NS, FakeLoadProfile } from '../src/compute/drivers/fake_load.ts';
import { parseRoles } from '../src/core/config.ts';
import { WORKER_ROLES } from '../src/services.ts';

interface AlarmJson {
  alarm_id: string;
  name: string;
  type: string;
  alarm_actions: string[];
  gnocchi_aggregation_by_resources_threshold_rule: { aggregation_method: string; query: string };
}
interface ServerJson {
  id: string;
  status: string;
  metadata?: Record<string, string>;
}
interface EventJson {
  resource_name: string;
  resource_status: string;
}

describe('the telemetry-agent role', () => {
  it('is a role of its own, run by the metric service without its API', () => {
    assert.deepEqual(parseRoles('telemetry-agent'), ['telemetry-agent']);
    assert.ok(parseRoles('all').includes('telemetry-agent'));
    assert.deepEqual(WORKER_ROLES.metric, ['telemetry-agent']);
  });
});

describe('fake load profile', () => {
  it('accumulates cpu time at the guest metadata load while running', () => {
    let now = 1_000_000;
    const load = new FakeLoadProfile(0, () => now);
    const g = { uuid: 'a', metadata: { 'stratus:load': '50' } as Record<string, string>, flavor: { vcpus: 1 } };
    assert.equal(load.cpuTimeNs(g, true), BASE_CPU_TIME_NS);
    now += 2000;
    assert.equal(load.cpuTimeNs(g, true), BASE_CPU_TIME_NS + 1e9);
    now += 2000;
    assert.equal(load.cpuTimeNs(g, false), BASE_CPU_TIME_NS + 1e9, 'a stopped guest burns nothing');
    g.metadata['stratus:load'] = '250';
    assert.equal(load.percent(g), 100);
    g.metadata['stratus:load'] = 'busy';
    assert.equal(load.percent(g), 0);
    assert.equal(new FakeLoadProfile(30).percent({ uuid: 'b', flavor: { vcpus: 1 } }), 30);
    load.forget('a');
    assert.equal(load.cpuTimeNs(g, true), BASE_CPU_TIME_NS);
  });
});

describe('autoscaling with Heat, Aodh, Gnocchi and Ceilometer', () => {
  let c: TestCloud;
  let project: string;
  const nova = (method: string, p: string, body?: unknown) =>
    c.req(method, `${c.url}/compute/v2.1${p}`, body, { headers: { 'OpenStack-API-Version': 'compute 2.93' } });
  const gnocchi = (method: string, p: string, body?: unknown) => c.req(method, `${c.url}/metric${p}`, body);
  const aodh = (method: string, p: string, body?: unknown) => c.req(method, `${c.url}/alarming${p}`, body);
  const heat = (method: string, p: string, body?: unknown) =>
    c.req(method, `${c.url}/heat-api/v1/${project}${p}`, body);
  const service = <T>(name: string) => c.cloud.services.find((s) => s.catalogEntry.name === name) as unknown as T;

  before(async () => {
    c = await startCloud({
      configure: (cfg) => {
        cfg.collector = { pollingInterval: 0, rateArchivePolicy: 'test-1s-rate' };
        cfg.alarming = { evaluationInterval: 0 };
        cfg.metric = { metricCleanupDelay: 1 };
      },
    });
    const tok = await c.req('GET', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': c.adminToken } });
    project = tok.body.token.project.id;
  });
  after(async () => {
    await c?.stop();
  });

  it('keeps a deleted metric in the delete state, its policy in use, until the janitor', async () => {
    const p = await gnocchi('POST', '/v1/archive_policy', {
      name: 'janitor',
      definition: [{ granularity: '1 minute', points: 10 }],
    });
    assert.equal(p.status, 201, JSON.stringify(p.body));
    const r = await gnocchi('POST', '/v1/resource/generic', {
      id: '0b0a6e7c-4f0e-4d44-9f43-5a1d7d1b6c01',
      metrics: { m: { archive_policy_name: 'janitor' } },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal((await gnocchi('DELETE', `/v1/resource/generic/${r.body.id}`)).status, 204);
    const deleted = await gnocchi('GET', '/v1/metric?archive_policy_name=janitor&status=delete');
    assert.equal(deleted.body.length, 1);
    const refused = await gnocchi('DELETE', '/v1/archive_policy/janitor');
    assert.equal(refused.status, 400);
    assert.match(JSON.stringify(refused.body), /still in use/);
    await new Promise((res) => setTimeout(res, 1100));
    assert.equal((await gnocchi('GET', '/v1/metric?archive_policy_name=janitor&status=delete')).body.length, 0);
    assert.equal((await gnocchi('DELETE', '/v1/archive_policy/janitor')).status, 204);
  });

  it('scales the group out when its cpu rate is high and back in when it drops', async () => {
    // What the cloud needs: the 1-second rate policy the collector publishes counters to, a network, an image, a flavor.
    const pol = await gnocchi('POST', '/v1/archive_policy', {
      name: 'test-1s-rate',
      aggregation_methods: ['mean', 'rate:mean'],
      definition: [{ granularity: '1 second', timespan: '1 hour' }],
    });
    assert.equal(pol.status, 201, JSON.stringify(pol.body));
    const net = await c.req('POST', `${c.url}/networking/v2.0/networks`, { network: { name: 'asnet', shared: true } });
    await c.req('POST', `${c.url}/networking/v2.0/subnets`, {
      subnet: { network_id: net.body.network.id, cidr: '10.19.0.0/24', ip_version: 4 },
    });
    const img = await c.req('POST', `${c.url}/image/v2/images`, {
      name: 'asimg',
      disk_format: 'qcow2',
      container_format: 'bare',
    });
    await fetch(`${c.url}/image/v2/images/${img.body.id}/file`, {
      method: 'PUT',
      headers: { 'X-Auth-Token': c.adminToken, 'Content-Type': 'application/octet-stream' },
      body: new Uint8Array(Buffer.from('fake image')),
    });
    await nova('POST', '/flavors', { flavor: { name: 'as1', ram: 128, vcpus: 1, disk: 1, id: 'as1' } });

    const template = fs.readFileSync(path.resolve('src/telemetry/examples/autoscaling.yaml'), 'utf8');
    const created = await heat('POST', '/stacks', {
      stack_name: 'as',
      template,
      parameters: {
        image: img.body.id,
        flavor: 'as1',
        network: net.body.network.id,
        granularity: 1,
        high: 500_000_000,
        low: 100_000_000,
        cooldown: 0,
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const stackId = created.body.stack.id as string;
    const stack = await until(
      'stack as CREATE_COMPLETE',
      async () => {
        const s = (await heat('GET', `/stacks/as/${stackId}`)).body.stack;
        if (s?.stack_status?.endsWith('FAILED')) throw new Error(s.stack_status_reason);
        return s?.stack_status === 'CREATE_COMPLETE' ? s : null;
      },
      30000,
    );
    assert.ok(stack);

    const alarms = (await aodh('GET', '/v2/alarms')).body as AlarmJson[];
    const high = alarms.find((a) => a.name.startsWith('as-cpu_alarm_high-'));
    assert.ok(high, JSON.stringify(alarms.map((a) => a.name)));
    assert.equal(high.type, 'gnocchi_aggregation_by_resources_threshold');
    assert.equal(high.gnocchi_aggregation_by_resources_threshold_rule.aggregation_method, 'rate:mean');
    assert.match(high.gnocchi_aggregation_by_resources_threshold_rule.query, new RegExp(stackId));
    // The policy's alarm_url: heat-api-cfn's EC2-signed /signal/{arn} (as Heat's).
    assert.match(
      high.alarm_actions[0],
      new RegExp(
        `/heat-api-cfn/v1/signal/arn%3Aopenstack%3Aheat%3A%3A[^/]+/[^/]+/${stackId}/resources/scaleup_policy\\?.*Signature=`,
      ),
    );

    const servers = async () =>
      // The servers a signal adds are made through the stack's trust, in the owner's project
      // (test/heat-trusts.test.ts checks the project); all_tenants keeps this list independent of it.
      ((await nova('GET', '/servers/detail?all_tenants=1')).body.servers as ServerJson[]).filter(
        (s) => s.metadata?.['metering.server_group'] === stackId,
      );
    const setLoad = async (load: number) => {
      for (const s of await servers())
        await nova('POST', `/servers/${s.id}/metadata`, { metadata: { 'stratus:load': String(load) } });
    };
    const collector = service<MetricService>('metric').collector!;
    const evaluator = service<AlarmingService>('alarming').evaluator;
    // One round: three polls a little over a second apart (two rate points), then the evaluator.
    const round = async () => {
      for (let i = 0; i < 3; i++) {
        if (i) await new Promise((res) => setTimeout(res, 1100));
        await collector.poll();
        await collector.flush();
      }
      await evaluator.evaluateAll();
    };
    const activeCount = async () => (await servers()).filter((s) => s.status === 'ACTIVE').length;
    await until('one active server', async () => (await activeCount()) === 1, 20000);

    await setLoad(90);
    await until(
      'the group scales out',
      async () => {
        await round();
        return (await servers()).length >= 2;
      },
      40000,
    );
    await until('new servers active', async () => (await activeCount()) === (await servers()).length, 20000);

    await setLoad(0);
    await until(
      'the group scales back in',
      async () => {
        await round();
        return (await servers()).length === 1;
      },
      40000,
    );

    const events = (await heat('GET', `/stacks/as/${stackId}/events`)).body.events as EventJson[];
    const signalled = (name: string) =>
      events.some((e) => e.resource_name === name && e.resource_status === 'SIGNAL_COMPLETE');
    assert.ok(signalled('scaleup_policy'), 'a scale-out signal event');
    assert.ok(signalled('scaledown_policy'), 'a scale-in signal event');
    const history = (await aodh('GET', `/v2/alarms/${high.alarm_id}/history`)).body as Array<{
      type: string;
      detail: string;
    }>;
    assert.ok(history.some((h) => h.type === 'state transition' && /"state": "alarm"/.test(h.detail)));

    // The stack's deletion takes its alarms along.
    assert.equal((await heat('DELETE', `/stacks/as/${stackId}`)).status, 204);
    await until('alarms deleted', async () => (await aodh('GET', '/v2/alarms')).body.length === 0, 30000);
  });
});
