// Issue 21, items 6–12: what client libraries trip over in compute, network and object storage.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, until, type TestCloud } from './lib/cloud.ts';
import { pythonTitle } from '../src/core/header_case.ts';

/** A request whose answer keeps the header names as sent (rawHeaders). */
function rawRequest(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; names: string[]; body: string }> {
  return new Promise((resolve, reject) => {
    const r = http.request(url, { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, names: res.rawHeaders.filter((_, i) => i % 2 === 0), body: text }),
      );
    });
    r.on('error', reject);
    r.end(body);
  });
}

describe('client gaps (issue 21, items 6–12)', () => {
  let c: TestCloud;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-client-gaps-'));
  const nova = (method: string, p: string, body?: unknown, version = '2.1') =>
    c.req(method, `${c.url}/compute/v2.1${p}`, body, { headers: { 'OpenStack-API-Version': `compute ${version}` } });
  const neutron = (method: string, p: string, body?: unknown, token?: string) =>
    c.req(method, `${c.url}/networking/v2.0${p}`, body, { token });

  before(async () => {
    c = await startCloud({ dataDir });
  });
  after(async () => {
    await c?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  });

  it('6: os-simple-tenant-usage echoes start/stop with the microseconds given', async () => {
    const r = await nova('GET', '/os-simple-tenant-usage?start=2020-01-01T00:00:00.123456&end=2020-01-02T00:00:00');
    assert.equal(r.status, 200);
    // No servers ran then: the list is empty, but a project's report still has the period.
    const p = (await c.req('GET', '/v3/projects?name=admin')).body.projects[0].id;
    const one = await nova(
      'GET',
      `/os-simple-tenant-usage/${p}?start=2020-01-01T00:00:00.123456&end=2020-01-02T00:00:00`,
    );
    assert.equal(one.status, 200);
    // A server makes a tenant usage with the period's bounds in Nova's form.
    const s = await nova(
      'POST',
      '/servers',
      {
        server: { name: 'usage', imageRef: await imageId(), flavorRef: '1', networks: 'none' },
      },
      '2.37',
    );
    assert.equal(s.status, 202);
    const u = await nova(
      'GET',
      `/os-simple-tenant-usage/${p}?start=2020-01-01%2000:00:00.123456&end=2099-01-02T00:00:00.5`,
    );
    assert.equal(u.status, 200);
    assert.equal(u.body.tenant_usage.start, '2020-01-01T00:00:00.123456');
    // A stop after now is now, to the microsecond.
    assert.match(u.body.tenant_usage.stop, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
    const past = await nova(
      'GET',
      `/os-simple-tenant-usage/${p}?start=2020-01-01T00:00:00&end=2030-01-01T00:00:00.000007`,
    );
    assert.equal(past.body.tenant_usage.start, '2020-01-01T00:00:00.000000');
    const bad = await nova('GET', `/os-simple-tenant-usage/${p}?start=2020-01-01T00:00:00.1234567`);
    assert.equal(bad.status, 400);
    await nova('DELETE', `/servers/${s.body.server.id}`);
  });

  let image: string | undefined;
  async function imageId(): Promise<string> {
    if (image) return image;
    const r = await c.req('POST', `${c.url}/image/v2/images`, {
      name: 'cirros',
      disk_format: 'qcow2',
      container_format: 'bare',
      visibility: 'public',
    });
    const up = await fetch(`${c.url}/image/v2/images/${r.body.id}/file`, {
      method: 'PUT',
      headers: { 'X-Auth-Token': c.adminToken, 'Content-Type': 'application/octet-stream' },
      body: new Uint8Array(Buffer.from('fake image')),
    });
    assert.equal(up.status, 204);
    image = r.body.id as string;
    return image;
  }

  it('11: a router or network removed from its agent stays removed until added back', async () => {
    const net = (await neutron('POST', '/networks', { network: { name: 'unsched' } })).body.network;
    const subnet = (
      await neutron('POST', '/subnets', { subnet: { network_id: net.id, cidr: '10.77.0.0/24', ip_version: 4 } })
    ).body.subnet;
    const router = (await neutron('POST', '/routers', { router: { name: 'unsched' } })).body.router;
    await neutron('PUT', `/routers/${router.id}/add_router_interface`, { subnet_id: subnet.id });
    const agent = await until('the router scheduled', async () => {
      const a = (await neutron('GET', `/routers/${router.id}/l3-agents`)).body.agents;
      return a.length ? (a[0] as { id: string }) : null;
    });
    assert.equal((await neutron('DELETE', `/agents/${agent.id}/l3-routers/${router.id}`)).status, 204);
    // The agent hears of it and asks about the router: that must not schedule it again.
    await new Promise((r) => setTimeout(r, 300));
    const listed = async () =>
      ((await neutron('GET', `/agents/${agent.id}/l3-routers`)).body.routers as Array<{ id: string }>).map((r) => r.id);
    assert.ok(!(await listed()).includes(router.id));
    assert.deepEqual((await neutron('GET', `/routers/${router.id}/l3-agents`)).body.agents, []);
    assert.equal((await neutron('POST', `/agents/${agent.id}/l3-routers`, { router_id: router.id })).status, 201);
    assert.ok((await listed()).includes(router.id));
    await neutron('PUT', `/routers/${router.id}/remove_router_interface`, { subnet_id: subnet.id });
    await neutron('DELETE', `/routers/${router.id}`);
    // The DHCP form.
    const dhcp = await until('the network scheduled', async () => {
      const a = (await neutron('GET', `/networks/${net.id}/dhcp-agents`)).body.agents;
      return a.length ? (a[0] as { id: string }) : null;
    });
    assert.equal((await neutron('DELETE', `/agents/${dhcp.id}/dhcp-networks/${net.id}`)).status, 204);
    await new Promise((r) => setTimeout(r, 300));
    const nets = (await neutron('GET', `/agents/${dhcp.id}/dhcp-networks`)).body.networks as Array<{ id: string }>;
    assert.ok(!nets.some((n) => n.id === net.id));
    await neutron('DELETE', `/networks/${net.id}`);
  });

  it('12: Swift sends header names title-cased, the webob services their own spelling', async () => {
    assert.equal(pythonTitle('x-container-meta-k1'), 'X-Container-Meta-K1');
    assert.equal(pythonTitle('etag'), 'Etag');
    assert.equal(pythonTitle('x-object-meta-a1b_c'), 'X-Object-Meta-A1B_C');
    const project = (await c.req('GET', '/v3/projects?name=admin')).body.projects[0].id;
    const base = `${c.url}/object-store/v1/AUTH_${project}`;
    const auth = { 'X-Auth-Token': c.adminToken };
    assert.equal((await rawRequest(`${base}/c1`, 'PUT', { ...auth, 'x-container-meta-k1': 'v1' })).status, 201);
    const head = await rawRequest(`${base}/c1`, 'HEAD', auth);
    for (const n of ['X-Container-Meta-K1', 'X-Timestamp', 'X-Trans-Id', 'Content-Type', 'X-Openstack-Request-Id'])
      assert.ok(head.names.includes(n), `${n} in ${head.names.join(', ')}`);
    await rawRequest(`${base}/c1/o1`, 'PUT', { ...auth, 'X-Object-Meta-Color': 'red', 'Content-Length': '2' }, 'hi');
    const obj = await rawRequest(`${base}/c1/o1`, 'GET', auth);
    for (const n of ['X-Object-Meta-Color', 'Etag', 'Last-Modified', 'Accept-Ranges', 'Content-Length'])
      assert.ok(obj.names.includes(n), `${n} in ${obj.names.join(', ')}`);
    const acct = await rawRequest(base, 'HEAD', auth);
    assert.ok(acct.names.includes('X-Account-Container-Count'), acct.names.join(', '));
    await rawRequest(`${base}/c1/o1`, 'DELETE', auth);
    await rawRequest(`${base}/c1`, 'DELETE', auth);
    // Nova: webob's names and the microversion headers as Nova sets them.
    const n = await rawRequest(`${c.url}/compute/v2.1/flavors`, 'GET', {
      ...auth,
      'OpenStack-API-Version': 'compute 2.60',
    });
    for (const h of ['OpenStack-API-Version', 'X-OpenStack-Nova-API-Version', 'Vary', 'Content-Type', 'Content-Length'])
      assert.ok(n.names.includes(h), `${h} in ${n.names.join(', ')}`);
    // Keystone's token header.
    const k = await rawRequest(`${c.identity}/v3/auth/tokens`, 'GET', { ...auth, 'X-Subject-Token': c.adminToken });
    assert.ok(k.names.includes('X-Subject-Token'), k.names.join(', '));
  });
});
