// The metric service (Gnocchi API v1) against the real HTTP API: archive policies and rules,
// resource types, resources with search and history, metrics, measures aggregated into each
// granularity, batches, and the aggregates API; then a restart keeps the measures.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from './lib/cloud.ts';

describe('metric (Gnocchi API v1)', () => {
  let c: TestCloud;
  const req = (method: string, p: string, body?: unknown, headers?: Record<string, string>) =>
    c.req(method, `${c.url}/metric${p}`, body, { headers });
  before(async () => {
    c = await startCloud();
  });
  after(async () => {
    await c?.stop();
  });

  it('archive policies: create, validation errors, show, rules, in use', async () => {
    let r = await req('POST', '/v1/archive_policy', { cowsay: 'moo' });
    assert.equal(r.status, 400);
    assert.match(JSON.stringify(r.body), /extra keys not allowed/);
    r = await req('POST', '/v1/archive_policy', { name: 'x', definition: [] });
    assert.match(r.body.description, /length of value must be at least 1/);
    r = await req('POST', '/v1/archive_policy', {
      name: 'x',
      definition: [{ granularity: '1 second', points: 60, timespan: '0:01:01' }],
    });
    assert.match(r.body.description, /timespan ≠ granularity × points/);
    r = await req('POST', '/v1/archive_policy', {
      name: 'x',
      definition: [
        { granularity: '1 second', points: 60 },
        { granularity: '1 second', points: 120 },
      ],
    });
    assert.match(r.body.description, /More than one archive policy uses granularity `1.0'/);
    r = await req('POST', '/v1/archive_policy', {
      name: 'live',
      back_window: 0,
      definition: [
        { granularity: '1 second', points: 60 },
        { granularity: '2 second', timespan: '1 minute' },
        { points: 5, timespan: '5 minute' },
      ],
      aggregation_methods: ['mean', 'min', 'max'],
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.headers.get('location'), `${c.url}/metric/v1/archive_policy/live`);
    r = await req('GET', '/v1/archive_policy/live');
    assert.deepEqual(r.body.definition, [
      { granularity: '0:00:01', points: 60, timespan: '0:01:00' },
      { granularity: '0:00:02', points: 30, timespan: '0:01:00' },
      { granularity: '0:01:00', points: 5, timespan: '0:05:00' },
    ]);
    // gnocchiclient sends points as strings; Gnocchi coerces them.
    r = await req('POST', '/v1/archive_policy', { name: 'cli', definition: [{ granularity: '1m', points: '60' }] });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.definition[0].timespan, '1:00:00');
    r = await req('POST', '/v1/archive_policy', { name: 'live', definition: [{ granularity: 1 }] });
    assert.equal(r.status, 409);
    r = await req('POST', '/v1/archive_policy_rule', {
      name: 'r',
      metric_pattern: 'live.*',
      archive_policy_name: 'live',
    });
    assert.equal(r.status, 201);
    r = await req('DELETE', '/v1/archive_policy/live');
    assert.equal(r.status, 400);
    r = await req('POST', '/v1/metric', { name: 'live.io' });
    assert.equal(r.body.archive_policy_name, 'live');
    r = await req('PUT', '/v1/archive_policy');
    assert.equal(r.status, 405);
    r = await req('GET', '/v1/archive_policy/live', undefined, { accept: 'text/plain' });
    assert.equal(r.status, 406);
  });

  it('aggregates over several resources keep each resource apart, or reduce them', async () => {
    const ids = ['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222'];
    for (const [i, id] of ids.entries()) {
      const r = await req('POST', '/v1/resource/generic', {
        id,
        user_id: 'agg',
        metrics: { m: { archive_policy_name: 'low' } },
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      await req('POST', `/v1/resource/generic/${id}/metric/m/measures`, [
        { timestamp: '2020-01-01T00:00:00', value: i + 1 },
      ]);
    }
    let r = await req('POST', '/v1/aggregates', {
      operations: '(metric m mean)',
      search: 'user_id=agg',
      resource_type: 'generic',
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.measures[ids[0]!].m.mean[0][2], 1);
    assert.equal(r.body.measures[ids[1]!].m.mean[0][2], 2);
    r = await req('POST', '/v1/aggregates', {
      operations: '(aggregate sum (metric m mean))',
      search: { '=': { user_id: 'agg' } },
    });
    assert.equal(r.body.measures.aggregated[0][2], 3);
    r = await req('POST', '/v1/aggregates', {
      operations: '(* 2 (aggregate max (metric m mean)))',
      search: 'user_id=agg',
    });
    assert.equal(r.body.measures.aggregated[0][2], 4);
    r = await req('POST', '/v1/aggregates', { operations: '(metric m nope)', search: 'user_id=agg' });
    assert.equal(r.status, 400);
    // Rated aggregation across series (`aggregate rate:sum`): each series' change, then their sum.
    for (const [i, id] of ids.entries())
      await req('POST', `/v1/resource/generic/${id}/metric/m/measures`, [
        { timestamp: '2020-01-01T00:05:00', value: (i + 1) * 3 },
      ]);
    r = await req('POST', '/v1/aggregates', {
      operations: '(aggregate rate:sum (metric m mean))',
      search: 'user_id=agg',
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.measures.aggregated.at(-1)[2], 2 + 4);
    // The legacy cross-metric aggregation (gnocchiclient's `measures aggregation`).
    r = await req('POST', '/v1/aggregation/resource/generic/metric/m?aggregation=mean&reaggregation=max', {
      '=': { user_id: 'agg' },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body[0][2], 2);
    const metrics = (await req('GET', `/v1/resource/generic/${ids[0]}`)).body.metrics.m;
    const other = (await req('GET', `/v1/resource/generic/${ids[1]}`)).body.metrics.m;
    r = await req('GET', `/v1/aggregation/metric?metric=${metrics}&metric=${other}&aggregation=mean`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body[0][2], 1.5);
  });

  it('resources, measures, search and aggregates', async () => {
    let r = await req('POST', '/v1/resource_type', {
      name: 'myres',
      attributes: { display_name: { type: 'string', required: true, max_length: 5, min_length: 2 } },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    r = await c.req('PATCH', `${c.url}/metric/v1/resource_type/myres`, undefined, {});
    const patch = await fetch(`${c.url}/metric/v1/resource_type/myres`, {
      method: 'PATCH',
      headers: { 'x-auth-token': c.adminToken, 'content-type': 'application/json-patch+json' },
      body: JSON.stringify([{ op: 'add', path: '/attributes/awesome', value: { type: 'bool', required: false } }]),
    });
    assert.equal(patch.status, 200);
    const id = '2ae35573-7f9f-4bb1-aae8-dad8dff5706e';
    r = await req('POST', '/v1/resource/myres', {
      id,
      user_id: 'u1',
      project_id: 'p1',
      display_name: 'myvm',
      metrics: { vcpus: { archive_policy_name: 'live' } },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    r = await req('POST', `/v1/resource/myres/${id}/metric/vcpus/measures`, [
      { timestamp: '2015-03-06T14:33:57', value: 2 },
      { timestamp: '2015-03-06T14:34:12', value: 2 },
    ]);
    assert.equal(r.status, 202);
    r = await req('POST', `/v1/resource/myres/${id}/metric/vcpus/measures`, [
      { timestamp: '2015-03-06T14:34:15', value: 5 },
      { timestamp: '2015-03-06T14:34:20', value: 5 },
    ]);
    r = await req('GET', `/v1/resource/myres/${id}/metric/vcpus/measures?refresh=true`);
    assert.deepEqual(
      r.body.slice(0, 6).map((m: [string, number, number]) => m[2]),
      [2, 4, 2, 2, 5, 5],
    );
    assert.deepEqual(r.body[0], ['2015-03-06T14:33:00+00:00', 60, 2]);
    r = await req('POST', '/v1/search/resource/generic', {
      and: [{ '=': { user_id: 'u1' } }, { '=': { project_id: 'p1' } }],
    });
    assert.equal(r.body.length, 1);
    r = await req('POST', '/v1/search/resource/myres', { like: { display_name: 'my%' } });
    assert.equal(r.body.length, 1);
    r = await req('POST', '/v1/search/resource/generic', { '=': { id: 'cd9eef' } });
    assert.deepEqual(r.body, []);
    r = await req('PATCH', `/v1/resource/myres/${id}`, { display_name: 'vm2' });
    assert.equal(r.body.display_name, 'vm2');
    r = await req('GET', `/v1/resource/myres/${id}/history`);
    assert.equal(r.body.length, 2);
    r = await req('POST', '/v1/aggregates?granularity=60', {
      operations: '(aggregate mean (metric vcpus mean))',
      search: 'display_name=vm2',
      resource_type: 'myres',
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.measures.aggregated, [
      ['2015-03-06T14:33:00+00:00', 60, 2],
      ['2015-03-06T14:34:00+00:00', 60, 4],
    ]);
    r = await req('POST', '/v1/aggregates?granularity=60&groupby=display_name', {
      operations: ['metric', 'vcpus', 'max'],
      search: { '=': { display_name: 'vm2' } },
      resource_type: 'myres',
    });
    assert.equal(r.body[0].group.display_name, 'vm2');
    assert.deepEqual(
      r.body[0].measures.measures[id].vcpus.max.map((m: unknown[]) => m[2]),
      [2, 5],
    );
    r = await req('POST', '/v1/batch/resources/metrics/measures?create_metrics=true', {
      [id]: { cpu: { archive_policy_name: 'live', measures: [{ timestamp: '2015-03-06T14:34:20', value: 10 }] } },
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    r = await req('POST', '/v1/batch/metrics/measures', { 'b1a7a6d1-3c43-4d3a-a6a2-1a2b3c4d5e6f': [] });
    assert.equal(r.status, 400);
    r = await req('POST', `/v1/resource/myres/${id}/metric/vcpus/measures`, [{ timestamp: 'nope', value: 1 }]);
    assert.equal(r.status, 400);
    r = await req('DELETE', `/v1/resource/myres/${id}`);
    assert.equal(r.status, 204);
    r = await req('GET', `/v1/resource/myres/${id}`);
    assert.equal(r.status, 404);
  });
});
