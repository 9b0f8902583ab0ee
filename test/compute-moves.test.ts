// Server moves between the fake hosts of one process (compute.fakeHosts): several agents each
// with their own service, compute node and placement provider; anti-affinity spreads over them.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, databaseEngines, member, type TestCloud } from './lib/cloud.ts';
import type { ComputeService } from '../src/compute/service.ts';
import { serverParts } from '../src/compute/api/servers.ts';

const computeService = (c: TestCloud) => c.cloud.services.find((s) => s.name === 'compute') as unknown as ComputeService;

async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>, ms = 10000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const engine of databaseEngines('compute moves')) {
  describe(`compute moves (${engine.name})`, () => {
    let c: TestCloud;
    let alice: { project: string; token: string };
    let image: string;
    let network: string;
    let hosts: string[];
    const nova = (method: string, p: string, body?: unknown, opts: { token?: string; version?: string } = {}) =>
      c.req(method, `${c.url}/compute/v2.1${p}`, body, { token: opts.token, headers: { 'OpenStack-API-Version': `compute ${opts.version ?? '2.93'}` } });
    const placement = (method: string, p: string) => c.req(method, `${c.url}/placement${p}`, undefined, { headers: { 'OpenStack-API-Version': 'placement 1.36' } });
    const neutron = (method: string, p: string, body?: unknown) => c.req(method, `${c.url}/networking${p}`, body);
    const server = async (id: string) => (await nova('GET', `/servers/${id}`)).body.server;
    const waitFor = (id: string, status: string, opts: { task?: boolean } = {}) => until(`server ${id} ${status}`, async () => {
      const s = await server(id);
      if (s?.status === 'ERROR' && status !== 'ERROR') throw new Error(`server went to ERROR: ${JSON.stringify(s.fault)}`);
      return s?.status === status && (opts.task || !s['OS-EXT-STS:task_state']) ? s : null;
    });
    const boot = async (body: Record<string, unknown> = {}, token?: string) => {
      const r = await nova('POST', '/servers', { server: { name: 'vm', imageRef: image, flavorRef: '1', networks: [{ uuid: network }], ...body } }, { token });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      return r.body.server.id as string;
    };
    const allocations = async (consumer: string) => {
      const a = (await placement('GET', `/allocations/${consumer}`)).body.allocations as Record<string, { resources: Record<string, number> }>;
      return a;
    };
    const providerOf = async (host: string) => (await placement('GET', `/resource_providers?name=${host}`)).body.resource_providers[0].uuid as string;

    before(async () => {
      c = await startCloud({ database: engine.database, configure: (cfg) => { cfg.compute = { ...(cfg.compute ?? {}), fakeHosts: 3, fakeLiveMigrationMs: 400 }; } });
      alice = await member(c, 'alice');
      const svc = computeService(c);
      const r = await c.req('POST', `${c.url}/image/v2/images`, { name: 'cirros', disk_format: 'qcow2', container_format: 'bare', visibility: 'public' });
      const up = await fetch(`${c.url}/image/v2/images/${r.body.id}/file`, { method: 'PUT', headers: { 'X-Auth-Token': c.adminToken, 'Content-Type': 'application/octet-stream' }, body: new Uint8Array(Buffer.from('fake image')) });
      assert.equal(up.status, 204);
      image = r.body.id;
      const n = await neutron('POST', '/v2.0/networks', { network: { name: 'private', shared: true } });
      network = n.body.network.id;
      await neutron('POST', '/v2.0/subnets', { subnet: { network_id: network, ip_version: 4, cidr: '10.9.0.0/24' } });
      await until('compute nodes in placement', async () => serverParts(svc).agents.every((a) => a.ready));
      hosts = serverParts(svc).agents.map((a) => a.host);
    });
    after(async () => { await c.stop(); });

    it('runs one agent per fake host: services, hypervisors and providers', async () => {
      assert.equal(hosts.length, 3);
      assert.equal(hosts[1], `${hosts[0]}-2`);
      const hv = (await nova('GET', '/os-hypervisors/detail')).body.hypervisors;
      assert.deepEqual(hv.map((h: any) => h.hypervisor_hostname).sort(), [...hosts].sort());
      const services = (await nova('GET', '/os-services?binary=nova-compute')).body.services;
      assert.deepEqual(services.map((s: any) => s.host).sort(), [...hosts].sort());
      for (const h of hosts) assert.ok(await providerOf(h));
    });

    it('spreads an anti-affinity group over the hosts', async () => {
      const g = await nova('POST', '/os-server-groups', { server_group: { name: 'spread', policy: 'anti-affinity' } }, { token: alice.token });
      assert.equal(g.status, 200, JSON.stringify(g.body));
      const withHint = [];
      for (let i = 0; i < 3; i++) {
        const r = await c.req('POST', `${c.url}/compute/v2.1/servers`, { server: { name: `g-${i}`, imageRef: image, flavorRef: '1', networks: [{ uuid: network }] }, 'os:scheduler_hints': { group: g.body.server_group.id } }, { token: alice.token, headers: { 'OpenStack-API-Version': 'compute 2.93' } });
        assert.equal(r.status, 202, JSON.stringify(r.body));
        withHint.push(r.body.server.id);
      }
      const placed = [];
      for (const id of withHint) placed.push((await waitFor(id, 'ACTIVE'))['OS-EXT-SRV-ATTR:host']);
      assert.deepEqual([...placed].sort(), [...hosts].sort());
      for (const id of withHint) await nova('DELETE', `/servers/${id}`);
    });
  });
}
