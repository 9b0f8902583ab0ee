// The collector (Ceilometer's agents) in an all-in-one cloud: a server's notifications become
// samples and, through the gnocchi:// publisher, an `instance` resource with its metrics and
// measures in the metric service; the compute and image pollsters add what they read; meter
// and pipeline definitions parse and select as Ceilometer's files do.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud, until } from './lib/cloud.ts';
import type { MetricService } from '../src/telemetry/metric/service.ts';
import { jsonPath, loadMeters, DEFAULT_METERS } from '../src/telemetry/collector/meters.ts';
import { meterSelected, loadPipeline } from '../src/telemetry/collector/pipeline.ts';
import { pollObjectStore } from '../src/telemetry/collector/pollsters.ts';
import { ServiceSession } from '../src/core/clients/session.ts';

describe('collector (Ceilometer agents)', () => {
  let c: TestCloud;
  const nova = (method: string, p: string, body?: unknown) =>
    c.req(method, `${c.url}/compute/v2.1${p}`, body, { headers: { 'OpenStack-API-Version': 'compute 2.93' } });
  const gnocchi = (method: string, p: string, body?: unknown) => c.req(method, `${c.url}/metric${p}`, body);
  const metric = () => c.cloud.services.find((s) => s.catalogEntry.name === 'metric') as unknown as MetricService;
  before(async () => {
    c = await startCloud({ configure: (cfg) => (cfg.collector = { pollingInterval: 0 }) });
  });
  after(async () => {
    await c?.stop();
  });

  it('meter definitions and pipelines', () => {
    assert.equal(
      jsonPath({ payload: { 'nova_object.data': { uuid: 'x' } } }, "$.payload.['nova_object.data'].uuid"),
      'x',
    );
    assert.ok(loadMeters(DEFAULT_METERS).some((m) => m.name === 'vcpus'));
    assert.throws(() => loadMeters('metric: [{name: x}]'), /has no event_type/);
    assert.equal(meterSelected(['*', '!cpu'], 'cpu'), false);
    assert.equal(meterSelected(['disk.*'], 'disk.root.size'), true);
    assert.throws(() => loadPipeline('sources: [{name: a, meters: ["*"], sinks: [b]}]\nsinks: []'), /unknown sink/);
  });

  it('a server becomes an instance resource with its metrics; pollsters add measures', async () => {
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
    const fl = await nova('POST', '/flavors', { flavor: { name: 'tiny', ram: 512, vcpus: 2, disk: 1, id: 'tiny' } });
    assert.equal(fl.status, 200, JSON.stringify(fl.body));
    const r = await nova('POST', '/servers', {
      server: {
        name: 'vm1',
        imageRef: img.body.id,
        flavorRef: 'tiny',
        networks: [{ uuid: net.body.network.id }],
        metadata: { 'metering.server_group': 'g1' },
      },
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const id = r.body.server.id;
    await until(
      `server ${id} active`,
      async () => (await nova('GET', `/servers/${id}`)).body.server?.status === 'ACTIVE',
    );
    const res = await until(`instance ${id} in gnocchi`, async () => {
      await metric().collector!.flush();
      const x = await gnocchi('GET', `/v1/resource/instance/${id}`);
      return x.status === 200 && x.body.metrics.vcpus ? x.body : null;
    });
    assert.equal(res.display_name, 'vm1');
    assert.equal(res.server_group, 'g1');
    const m = await until('vcpus measures', async () => {
      const x = await gnocchi('GET', `/v1/resource/instance/${id}/metric/vcpus/measures`);
      return x.body.length ? x.body : null;
    });
    assert.equal(m[0][2], 2);
    assert.ok((await metric().collector!.poll()) > 0);
    const after = await gnocchi('GET', `/v1/resource/instance/${id}`);
    assert.ok(after.body.metrics.cpu, JSON.stringify(after.body.metrics));
    const disks = await gnocchi('POST', '/v1/search/resource/instance_disk', { '=': { instance_id: id } });
    assert.equal(disks.body.length, 1);
    const images = await gnocchi('GET', `/v1/resource/image/${img.body.id}`);
    assert.equal(images.status, 200, JSON.stringify(images.body));
    const agg = await gnocchi('POST', '/v1/aggregates', {
      operations: '(aggregate mean (metric vcpus mean))',
      search: 'server_group=g1',
      resource_type: 'instance',
    });
    assert.equal(agg.status, 200, JSON.stringify(agg.body));
    assert.equal(agg.body.measures.aggregated[0][2], 2);
  });
  it('central pollsters: volume.size, ip.floating, storage.objects of each account', async () => {
    const tok = await c.req('GET', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': c.adminToken } });
    const project = tok.body.token.project.id as string;
    const vol = await c.req(
      'POST',
      `${c.url}/volume/v3/${project}/volumes`,
      { volume: { size: 2, name: 'v1' } },
      { headers: { 'OpenStack-API-Version': 'volume 3.0' } },
    );
    assert.equal(vol.status, 202, JSON.stringify(vol.body));
    const pub = await c.req('POST', `${c.url}/networking/v2.0/networks`, {
      network: {
        name: 'pub',
        'router:external': true,
        'provider:network_type': 'flat',
        'provider:physical_network': 'public',
      },
    });
    await c.req('POST', `${c.url}/networking/v2.0/subnets`, {
      subnet: { network_id: pub.body.network.id, cidr: '172.25.4.0/24', ip_version: 4 },
    });
    const fip = await c.req('POST', `${c.url}/networking/v2.0/floatingips`, {
      floatingip: { floating_network_id: pub.body.network.id },
    });
    assert.equal(fip.status, 201, JSON.stringify(fip.body));
    const swift = `${c.url}/object-store/v1/AUTH_${project}`;
    assert.ok((await c.req('PUT', `${swift}/c1`)).status < 300);
    const put = await fetch(`${swift}/c1/o1`, {
      method: 'PUT',
      headers: { 'X-Auth-Token': c.adminToken, 'Content-Type': 'application/octet-stream' },
      body: new Uint8Array(Buffer.from('twelve bytes')),
    });
    assert.equal(put.status, 201);
    await until(
      'volume available',
      async () =>
        (
          await c.req('GET', `${c.url}/volume/v3/${project}/volumes/${vol.body.volume.id}`, undefined, {
            headers: { 'OpenStack-API-Version': 'volume 3.0' },
          })
        ).body.volume?.status === 'available',
    );
    await metric().collector!.poll();
    await metric().collector!.flush();
    const measures = async (type: string, id: string, meter: string) => {
      const r = await gnocchi('GET', `/v1/resource/${type}/${id}/metric/${meter}/measures?refresh=true`);
      return r.status === 200 && r.body.length ? (r.body.at(-1)[2] as number) : null;
    };
    assert.equal(await until('volume.size', () => measures('volume', vol.body.volume.id, 'volume.size')), 2);
    assert.equal(await until('ip.floating', () => measures('network', fip.body.floatingip.id, 'ip.floating')), 1);
    // The object store pollster: the collector's ceilometer user has Swift's reseller admin role,
    // as DevStack grants it; the account's counters are read with the collector's own token.
    const samples = await pollObjectStore((metric().collector as unknown as { session: ServiceSession }).session);
    assert.ok(samples.some((x) => x.name === 'storage.objects.size' && x.resource_id === project && x.volume === 12));
    assert.ok(samples.some((x) => x.name === 'storage.objects' && x.resource_id === project && x.volume === 1));
    // (a new resource: the polling round above may have read the account before its counters moved)
    const mine = samples.filter((x) => x.resource_id === project);
    for (const x of mine) x.resource_id = `${project}-again`;
    await metric().collector!.publish(mine);
    assert.equal(
      await until('storage.objects.size', () => measures('swift_account', `${project}-again`, 'storage.objects.size')),
      12,
    );
  });
});
