// Ceilometer's events: event definitions (patterns, later wins, typed traits, the split,
// bitfield and timedelta plugins, bad files), the event pipeline, and the whole loop in an
// all-in-one cloud: a server's notifications become events, the notifier:// publisher hands them
// to Aodh (an event alarm on compute.instance.update fires), the gnocchi:// publisher ends the
// instance's resource when it is deleted; the file:// publisher writes them.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud, until } from './lib/cloud.ts';
import type { MetricService } from '../src/telemetry/metric/service.ts';
import {
  DEFAULT_EVENT_DEFINITIONS,
  eventFrom,
  loadEventDefinitions,
  traitOf,
} from '../src/telemetry/collector/events.ts';
import { loadEventPipeline, DEFAULT_EVENT_PIPELINE } from '../src/telemetry/collector/event_pipeline.ts';
import { notification } from '../src/core/bus.ts';
import { POLLSTERS } from '../src/telemetry/collector/pollsters.ts';
import type { ServiceSession } from '../src/core/clients/session.ts';

describe('events (Ceilometer event definitions, event pipeline, Aodh event alarms)', () => {
  it('definitions: patterns, later definitions win, types and plugins, bad files', () => {
    const defs = loadEventDefinitions(`
- event_type: 'thing.*'
  traits: &base
    name: {fields: payload.name}
    size: {type: int, fields: payload.size}
    ratio: {type: float, fields: payload.ratio}
    when: {type: datetime, fields: payload.when}
    host: {fields: publisher_id, plugin: {name: split, parameters: {separator: '.', segment: 1, max_split: 1}}}
    inline: {fields: 'publisher_id.\`split(., 0, -1)\`'}
    flags: {type: int, fields: payload.a, plugin: {name: bitfield, parameters: {initial_bitfield: 1, flags: [{path: payload.a, bit: 1}, {path: payload.b, bit: 2, value: 'x'}, {path: payload.nope, bit: 3}]}}}
    took: {type: float, fields: [payload.start, payload.end], plugin: timedelta}
- event_type: ['thing.update', '!thing.update.skip']
  traits:
    <<: *base
    extra: {fields: ['payload.missing', 'payload.other']}
`);
    const n = notification(
      'svc.host1.x',
      'thing.update',
      {
        name: 'n1',
        size: '12',
        ratio: '0.5',
        when: '2026-01-02T03:04:05Z',
        a: 1,
        b: 'x',
        start: '2026-01-01T00:00:00Z',
        end: '2026-01-01T00:01:30Z',
        other: 'o',
        tenant_id: 'p1',
      },
      'INFO',
    );
    const e = eventFrom(defs, n);
    assert.equal(e.event_type, 'thing.update');
    assert.equal(e.message_id, n.message_id);
    assert.equal(traitOf(e, 'name'), 'n1');
    assert.equal(traitOf(e, 'size'), 12);
    assert.equal(traitOf(e, 'ratio'), 0.5);
    assert.equal(traitOf(e, 'when'), '2026-01-02T03:04:05.000');
    assert.equal(traitOf(e, 'host'), 'host1.x');
    assert.equal(traitOf(e, 'inline'), 'svc');
    assert.equal(traitOf(e, 'flags'), 1 | 2 | 4);
    assert.equal(traitOf(e, 'took'), 90);
    assert.equal(traitOf(e, 'extra'), 'o'); // the later definition won
    assert.equal(traitOf(e, 'project_id'), 'p1'); // a default trait
    assert.equal(traitOf(e, 'service'), 'svc.host1.x');
    // Excluded from the later definition: the first one applies (no `extra`).
    assert.equal(traitOf(eventFrom(defs, { ...n, event_type: 'thing.update.skip' }), 'extra'), undefined);
    // No definition: the default traits only (Ceilometer keeps unmatched notifications).
    const other = eventFrom(defs, { ...n, event_type: 'other' });
    assert.deepEqual(other.traits.map((t) => t.name).sort(), ['project_id', 'service', 'tenant_id']);
    // A value that does not convert is left out.
    assert.equal(traitOf(eventFrom(defs, { ...n, payload: { size: 'big' } }), 'size'), undefined);
    assert.throws(() => loadEventDefinitions('{a: 1}'), /must be a list/);
    assert.throws(() => loadEventDefinitions('[{traits: {}}]'), /has no event_type/);
    assert.throws(() => loadEventDefinitions('[{event_type: x, traits: {a: {}}}]'), /trait a has no fields/);
    assert.throws(
      () => loadEventDefinitions('[{event_type: x, traits: {a: {fields: p, type: long}}}]'),
      /unknown type long/,
    );
    assert.throws(
      () => loadEventDefinitions('[{event_type: x, traits: {a: {fields: p, plugin: nope}}}]'),
      /unknown plugin/,
    );
    assert.ok(loadEventDefinitions(DEFAULT_EVENT_DEFINITIONS).length > 20);
    assert.ok(loadEventPipeline(DEFAULT_EVENT_PIPELINE).sinks[0]!.publishers!.includes('gnocchi://'));
    assert.throws(
      () => loadEventPipeline('sources: [{name: a, events: ["*"], sinks: [b]}]\nsinks: []'),
      /unknown sink/,
    );
    assert.throws(
      () => loadEventPipeline('sources: []\nsinks: [{name: a, publishers: ["kafka://x"]}]'),
      /unsupported publisher/,
    );
  });

  it('a versioned Nova notification is the compute.instance.* event Ceilometer sees', () => {
    const defs = loadEventDefinitions(DEFAULT_EVENT_DEFINITIONS);
    const e = eventFrom(
      defs,
      notification(
        'nova-api:h1',
        'instance.update',
        {
          'nova_object.data': {
            uuid: 'i1',
            tenant_id: 'p1',
            user_id: 'u1',
            host: 'h1',
            state: 'active',
            display_name: 'vm',
            created_at: '2026-01-01T00:00:00Z',
            launched_at: '2026-01-01T00:00:10Z',
            flavor: { 'nova_object.data': { vcpus: 2, memory_mb: 512, flavorid: 'f1', name: 'tiny' } },
          },
        },
        'INFO',
      ),
    );
    assert.equal(e.event_type, 'compute.instance.update');
    assert.equal(traitOf(e, 'instance_id'), 'i1');
    assert.equal(traitOf(e, 'project_id'), 'p1');
    assert.equal(traitOf(e, 'vcpus'), 2);
    assert.equal(traitOf(e, 'service'), 'nova-api');
    assert.equal(traitOf(e, 'launch_duration'), 10);
    const port = eventFrom(
      defs,
      notification('network.h1', 'port.create.end', { port: { id: 'x', project_id: 'p' } }, 'INFO'),
    );
    assert.equal(traitOf(port, 'resource_id'), 'x');
    assert.equal(traitOf(port, 'host'), 'h1');
  });

  it('network.services.* pollsters: status gauges and counts; nothing where the API has no such service', async () => {
    const answers: Record<string, unknown> = {
      '/v2.0/vpn/vpnservices': { vpnservices: [{ id: 'v1', name: 'vpn', status: 'ACTIVE', project_id: 'p' }] },
      '/v2.0/vpn/ipsec-site-connections': { ipsec_site_connections: [{ id: 'c1', status: 'DOWN', tenant_id: 'p' }] },
      '/v2.0/fwaas/firewall_groups': {
        firewall_groups: [
          { id: 'f1', status: 'PENDING_CREATE', project_id: 'p' },
          { id: 'f2', status: 'WEIRD', project_id: 'p' },
        ],
      },
      '/v2.0/fwaas/firewall_policies': { firewall_policies: [{ id: 'fp1', project_id: 'p', rules: ['x'] }] },
    };
    const session = {
      endpoint: async (type: string) => {
        if (type !== 'network') throw new Error(`No ${type} endpoint in the catalog.`);
        return 'http://net';
      },
      fetch: async (url: string) => {
        const body = answers[new URL(url).pathname];
        return body ? Response.json(body) : new Response('{}', { status: 404 });
      },
    } as unknown as ServiceSession;
    const vpn = await POLLSTERS.vpn!(session);
    assert.deepEqual(
      vpn.map((x) => [x.name, x.resource_id, x.volume, x.project_id]),
      [
        ['network.services.vpn', 'v1', 1, 'p'],
        ['network.services.vpn.connections', 'c1', 1, 'p'],
      ],
    );
    const fw = await POLLSTERS.firewall!(session);
    assert.deepEqual(
      fw.map((x) => [x.name, x.resource_id, x.volume]),
      [
        ['network.services.firewall', 'f1', 2],
        ['network.services.firewall.policy', 'fp1', 1],
      ],
    );
    // No load-balancer service in the catalog; no FWaaS in another cloud: nothing, no error.
    assert.deepEqual(await POLLSTERS.lb!(session), []);
    delete answers['/v2.0/fwaas/firewall_groups'];
    delete answers['/v2.0/fwaas/firewall_policies'];
    assert.deepEqual(await POLLSTERS.firewall!(session), []);
  });

  describe('in an all-in-one cloud', () => {
    let c: TestCloud;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-events-'));
    const eventsFile = path.join(dir, 'events.jsonl');
    const nova = (method: string, p: string, body?: unknown) =>
      c.req(method, `${c.url}/compute/v2.1${p}`, body, { headers: { 'OpenStack-API-Version': 'compute 2.93' } });
    const aodh = (method: string, p: string, body?: unknown) => c.req(method, `${c.url}/alarming${p}`, body);
    const gnocchi = (method: string, p: string, body?: unknown) => c.req(method, `${c.url}/metric${p}`, body);
    const metric = () => c.cloud.services.find((s) => s.catalogEntry.name === 'metric') as unknown as MetricService;
    before(async () => {
      const configDir = path.join(dir, 'telemetry');
      fs.mkdirSync(configDir);
      fs.writeFileSync(
        path.join(configDir, 'event_pipeline.yaml'),
        `sources:
  - {name: all, events: ['*'], sinks: [main]}
  - {name: compute, events: ['compute.instance.*', '!compute.instance.exists'], sinks: [audit]}
sinks:
  - {name: main, publishers: ['gnocchi://', 'notifier://?topic=alarm.all']}
  - {name: audit, publishers: ['file://${eventsFile}']}
`,
      );
      c = await startCloud({
        configure: (cfg) => {
          cfg.collector = { pollingInterval: 0, configDir };
          cfg.alarming = { evaluationInterval: 0 };
        },
      });
    });
    after(async () => {
      await c?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('an event alarm fires on a server update; the delete ends its gnocchi resource', async () => {
      const net = await c.req('POST', `${c.url}/networking/v2.0/networks`, { network: { name: 'n', shared: true } });
      await c.req('POST', `${c.url}/networking/v2.0/subnets`, {
        subnet: { network_id: net.body.network.id, cidr: '10.9.0.0/24', ip_version: 4 },
      });
      const img = await c.req('POST', `${c.url}/image/v2/images`, {
        name: 'img',
        disk_format: 'qcow2',
        container_format: 'bare',
      });
      await fetch(`${c.url}/image/v2/images/${img.body.id}/file`, {
        method: 'PUT',
        headers: { 'X-Auth-Token': c.adminToken, 'Content-Type': 'application/octet-stream' },
        body: new Uint8Array(Buffer.from('fake image')),
      });
      await nova('POST', '/flavors', { flavor: { name: 'tiny', ram: 512, vcpus: 1, disk: 1, id: 'tiny' } });
      const r = await nova('POST', '/servers', {
        server: { name: 'vm1', imageRef: img.body.id, flavorRef: 'tiny', networks: [{ uuid: net.body.network.id }] },
      });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      const id = r.body.server.id as string;
      await until(
        `server ${id} active`,
        async () => (await nova('GET', `/servers/${id}`)).body.server?.status === 'ACTIVE',
      );
      const res = await until(`instance ${id} in gnocchi`, async () => {
        await metric().collector!.flush();
        const x = await gnocchi('GET', `/v1/resource/instance/${id}`);
        return x.status === 200 ? x.body : null;
      });
      // The collector writes as its own service user, ceilometer, with ResellerAdmin as DevStack grants.
      const users = await c.req('GET', '/v3/users?name=ceilometer');
      const ceilometer = users.body.users[0].id as string;
      assert.equal(res.created_by_user_id, ceilometer);
      const grants = await c.req('GET', `/v3/role_assignments?user.id=${ceilometer}&include_names=true`);
      const roles = grants.body.role_assignments.map((g: { role: { name: string } }) => g.role.name);
      assert.ok(roles.includes('ResellerAdmin') && roles.includes('admin'), JSON.stringify(roles));
      const mk = (name: string, eventType: string, query: unknown[]) =>
        aodh('POST', '/v2/alarms', { name, type: 'event', event_rule: { event_type: eventType, query } });
      const hit = await mk('upd', 'compute.instance.update', [
        { field: 'traits.instance_id', op: 'eq', type: 'string', value: id },
      ]);
      assert.equal(hit.status, 201, JSON.stringify(hit.body));
      const miss = await mk('other', 'compute.instance.update', [
        { field: 'traits.instance_id', op: 'eq', type: 'string', value: 'not-this-one' },
      ]);
      const del = await mk('del', 'compute.instance.delete.*', [
        { field: 'traits.instance_id', op: 'eq', type: 'string', value: id },
      ]);
      const state = async (a: { body: { alarm_id: string } }) =>
        (await aodh('GET', `/v2/alarms/${a.body.alarm_id}`)).body.state as string;
      assert.equal(await state(hit), 'insufficient data');
      assert.equal((await nova('PUT', `/servers/${id}`, { server: { name: 'vm1-renamed' } })).status, 200);
      await until('event alarm in alarm', async () => {
        await metric().collector!.flush();
        return (await state(hit)) === 'alarm';
      });
      assert.equal(await state(miss), 'insufficient data');
      assert.equal(await state(del), 'insufficient data');
      const h = await aodh('GET', `/v2/alarms/${hit.body.alarm_id}/history`);
      assert.match(JSON.stringify(h.body), /compute.instance.update/);
      assert.equal((await nova('DELETE', `/servers/${id}`)).status, 204);
      await until('delete alarm in alarm', async () => {
        await metric().collector!.flush();
        return (await state(del)) === 'alarm';
      });
      const ended = await until('instance resource ended', async () => {
        await metric().collector!.flush();
        const x = await gnocchi('GET', `/v1/resource/instance/${id}`);
        return x.body.ended_at ? x.body.ended_at : null;
      });
      assert.ok(!Number.isNaN(Date.parse(ended)));
      // The audit sink's file:// publisher: the compute events, serialised as Ceilometer does.
      const lines = fs
        .readFileSync(eventsFile, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      assert.ok(lines.every((l) => l.event_type.startsWith('compute.instance.')));
      const upd = lines.find((l) => l.event_type === 'compute.instance.update');
      assert.ok(upd.traits.some((t: unknown[]) => t[0] === 'display_name' && t[1] === 1 && t[2] === 'vm1-renamed'));
    });
  });
});
