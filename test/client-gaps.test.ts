// Issue 21, items 6–12: what client libraries trip over in compute, network and object storage.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { member, startCloud, until, type TestCloud } from './lib/cloud.ts';
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
    // The fake driver's default transition times (the harness makes them instant otherwise).
    c = await startCloud({
      dataDir,
      configure: (cfg) => {
        cfg.compute = { ...cfg.compute, fake: {} };
      },
    });
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
    // Only a launched server counts (Nova filters on launched_at): wait for it to be ACTIVE.
    await waitStatus(s.body.server.id, 'ACTIVE');
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

  const serverStatus = async (id: string) => {
    const s = (await nova('GET', `/servers/${id}`)).body.server;
    return s.status as string;
  };
  const waitStatus = (id: string, status: string) =>
    until(`server ${id} ${status}`, async () => (await serverStatus(id)) === status, 20000);
  const action = async (id: string, body: unknown, version = '2.1') => {
    const r = await nova('POST', `/servers/${id}/action`, body, version);
    assert.equal(r.status, 202, JSON.stringify(r.body));
  };

  it('7: the fake driver keeps transitional states visible (compute.fake, 1.2 s by default)', async () => {
    const s = await nova(
      'POST',
      '/servers',
      { server: { name: 'transitions', imageRef: await imageId(), flavorRef: '1', networks: 'none' } },
      '2.37',
    );
    const id = s.body.server.id as string;
    await waitStatus(id, 'ACTIVE');
    // A client polling once a second sees each state at least once.
    const seen = async (status: string) => {
      const t0 = Date.now();
      assert.equal(await serverStatus(id), status);
      await new Promise((r) => setTimeout(r, 700));
      assert.equal(await serverStatus(id), status, `${status} still on view after 0.7 s`);
      await waitStatus(id, 'ACTIVE');
      assert.ok(Date.now() - t0 >= 1000, `${status} lasted about the configured time`);
    };
    await action(id, { reboot: { type: 'SOFT' } });
    await seen('REBOOT');
    await action(id, { reboot: { type: 'HARD' } });
    await seen('HARD_REBOOT');
    await action(id, { rebuild: { imageRef: await imageId() } });
    await seen('REBUILD');
    await action(id, { resize: { flavorRef: '2' } });
    assert.equal(await serverStatus(id), 'RESIZE');
    await waitStatus(id, 'VERIFY_RESIZE');
    await action(id, { revertResize: null });
    assert.equal(await serverStatus(id), 'REVERT_RESIZE');
    await waitStatus(id, 'ACTIVE');
    await nova('DELETE', `/servers/${id}`);
  });

  it('8: block device mappings Nova refuses are refused with its errors', async () => {
    const create = async (bdm: unknown[], version = '2.67', extra: Record<string, unknown> = {}) =>
      nova(
        'POST',
        '/servers',
        {
          server: {
            name: 'bdm',
            imageRef: await imageId(),
            flavorRef: '1',
            networks: 'none',
            block_device_mapping_v2: bdm,
            ...extra,
          },
        },
        version,
      );
    const refused = async (bdm: unknown[], message: string) => {
      const r = await create(bdm);
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.badRequest.message, message);
    };
    const image = await imageId();
    const root = { boot_index: 0, uuid: image, source_type: 'image', destination_type: 'local' };
    await refused(
      [root, { source_type: 'blank', destination_type: 'volume', uuid: image, volume_size: 1, boot_index: -1 }],
      'Block Device Mapping is Invalid: Invalid device UUID.',
    );
    await refused(
      [root, { source_type: 'blank', destination_type: 'volume', boot_index: -1 }],
      "Block Device Mapping is Invalid: Blank volumes (source: 'blank', dest: 'volume') need to have non-zero size",
    );
    await refused(
      [root, { source_type: 'blank', destination_type: 'local', volume_type: 'lvm', boot_index: -1 }],
      'Block Device Mapping is Invalid: Specifying a volume_type with destination_type=local is not supported.',
    );
    await refused(
      [
        root,
        {
          source_type: 'volume',
          destination_type: 'volume',
          uuid: crypto.randomUUID(),
          volume_type: 'lvm',
          boot_index: -1,
        },
      ],
      'Block Device Mapping is Invalid: Specifying volume type to existing volume is not supported.',
    );
    // m1.tiny has no ephemeral disk and no swap.
    await refused(
      [root, { source_type: 'blank', destination_type: 'local', volume_size: 1, boot_index: -1 }],
      'Ephemeral disks requested are larger than the instance type allows. If no size is given in one block device mapping, flavor ephemeral size will be used.',
    );
    await refused(
      [root, { source_type: 'blank', destination_type: 'local', guest_format: 'swap', volume_size: 1, boot_index: -1 }],
      'Swap drive requested is larger than instance type allows.',
    );
    await refused(
      [
        root,
        { source_type: 'blank', destination_type: 'local', guest_format: 'swap', boot_index: -1 },
        { source_type: 'blank', destination_type: 'local', guest_format: 'swap', boot_index: -1 },
      ],
      'Block Device Mapping is Invalid: More than one swap drive requested.',
    );
    await refused(
      [{ ...root, boot_index: 1 }],
      'Block Device Mapping is Invalid: Boot sequence for the instance and image/block device mapping combination is not valid.',
    );
    await refused(
      [root, { source_type: 'image', destination_type: 'local', uuid: image, boot_index: 1 }],
      'Block Device Mapping is Invalid: Mapping image to local is not supported.',
    );
    await refused(
      [root, { source_type: 'volume', destination_type: 'volume', boot_index: -1 }],
      'Block Device Mapping is Invalid: Missing device UUID.',
    );
    // What Nova accepts still boots: the image root given as a mapping.
    const ok = await create([root]);
    assert.equal(ok.status, 202, JSON.stringify(ok.body));
    await nova('DELETE', `/servers/${ok.body.server.id}`);
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

  it('9: flavors, service profiles, their bindings, service providers and routers of a flavor', async () => {
    const ext = (await neutron('GET', '/extensions')).body.extensions.map((e: { alias: string }) => e.alias);
    for (const a of ['flavors', 'l3-flavors', 'service-type', 'dvr']) assert.ok(ext.includes(a), a);
    const providers = (await neutron('GET', '/service-providers?service_type=L3_ROUTER_NAT')).body.service_providers;
    assert.deepEqual(providers.map((p: { name: string }) => p.name).sort(), ['dvr', 'dvrha', 'ha', 'single_node']);
    assert.deepEqual(Object.keys(providers[0]).sort(), ['default', 'name', 'service_type']);
    // Validation, Neutron's errors.
    const badType = await neutron('POST', '/flavors', { flavor: { name: 'x', service_type: 'NOPE' } });
    assert.equal(badType.status, 400);
    assert.equal(badType.body.NeutronError.type, 'InvalidFlavorServiceType');
    assert.equal((await neutron('POST', '/flavors', { flavor: { name: 'x' } })).status, 400);
    const empty = await neutron('POST', '/service_profiles', { service_profile: { description: 'd' } });
    assert.equal(empty.status, 400);
    assert.equal(empty.body.NeutronError.type, 'ServiceProfileEmpty');
    const badDriver = await neutron('POST', '/service_profiles', { service_profile: { driver: 'no.such.Driver' } });
    assert.equal(badDriver.body.NeutronError.type, 'ServiceProfileDriverNotFound');
    // A flavor of the L3 service with a profile of the single-node driver.
    const sp = (
      await neutron('POST', '/service_profiles', {
        service_profile: {
          driver: 'neutron.services.l3_router.service_providers.single_node.SingleNodeDriver',
          metainfo: '{"data": "value"}',
        },
      })
    ).body.service_profile;
    assert.equal(sp.enabled, true);
    assert.equal(sp.metainfo, '{"data": "value"}');
    const fl = await neutron('POST', '/flavors', { flavor: { name: 'gold', service_type: 'L3_ROUTER_NAT' } });
    assert.equal(fl.status, 201, JSON.stringify(fl.body));
    const flavor = fl.body.flavor;
    assert.deepEqual(flavor.service_profiles, []);
    assert.equal(flavor.enabled, true);
    // A router of a flavor without a profile: Neutron finds no provider.
    const noProfile = await neutron('POST', '/routers', { router: { name: 'f', flavor_id: flavor.id } });
    assert.equal(noProfile.status, 404);
    assert.equal(noProfile.body.NeutronError.type, 'FlavorServiceProfileBindingNotFound');
    const bound = await neutron('POST', `/flavors/${flavor.id}/service_profiles`, { service_profile: { id: sp.id } });
    assert.equal(bound.status, 201);
    assert.deepEqual(bound.body, { service_profile: { id: sp.id } });
    assert.equal(
      (await neutron('POST', `/flavors/${flavor.id}/service_profiles`, { service_profile: { id: sp.id } })).status,
      409,
    );
    assert.deepEqual((await neutron('GET', `/flavors/${flavor.id}`)).body.flavor.service_profiles, [sp.id]);
    assert.deepEqual((await neutron('GET', `/flavors/${flavor.id}/service_profiles/${sp.id}`)).body, {
      service_profile: { service_profile_id: sp.id, flavor_id: flavor.id },
    });
    // A bound profile cannot change or go.
    assert.equal(
      (await neutron('PUT', `/service_profiles/${sp.id}`, { service_profile: { description: 'x' } })).status,
      409,
    );
    assert.equal((await neutron('DELETE', `/service_profiles/${sp.id}`)).status, 409);
    // Routers take the flavor; a disabled or unknown one, or one of another service, is refused.
    const r = await neutron('POST', '/routers', { router: { name: 'f', flavor_id: flavor.id } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.router.flavor_id, flavor.id);
    assert.equal((await neutron('GET', `/routers/${r.body.router.id}`)).body.router.flavor_id, flavor.id);
    const inUse = await neutron('DELETE', `/flavors/${flavor.id}`);
    assert.equal(inUse.status, 409);
    assert.equal(inUse.body.NeutronError.type, 'FlavorInUse');
    const flags = await neutron('POST', '/routers', { router: { flavor_id: flavor.id, distributed: true } });
    assert.equal(flags.status, 400);
    const put = await neutron('PUT', `/routers/${r.body.router.id}`, { router: { flavor_id: flavor.id } });
    assert.equal(put.status, 400);
    assert.equal((await neutron('POST', '/routers', { router: { flavor_id: crypto.randomUUID() } })).status, 404);
    const other = (await neutron('POST', '/flavors', { flavor: { name: 'fl', service_type: 'FLAVORS' } })).body.flavor;
    const wrong = await neutron('POST', '/routers', { router: { flavor_id: other.id } });
    assert.equal(wrong.body.NeutronError.type, 'InvalidFlavorServiceType');
    await neutron('PUT', `/flavors/${flavor.id}`, { flavor: { enabled: false } });
    const disabled = await neutron('POST', '/routers', { router: { flavor_id: flavor.id } });
    assert.equal(disabled.status, 503);
    assert.equal(disabled.body.NeutronError.message, 'Flavor is not enabled.');
    // Only admins manage them; everybody reads flavors.
    const alice = await member(c, 'flavor-alice');
    assert.equal(
      (await neutron('POST', '/flavors', { flavor: { name: 'y', service_type: 'FLAVORS' } }, alice.token)).status,
      403,
    );
    assert.equal((await neutron('GET', `/flavors/${flavor.id}`, undefined, alice.token)).status, 200);
    // A list shows only what the policy lets the caller see (Neutron lists, it does not refuse).
    assert.deepEqual((await neutron('GET', '/service_profiles', undefined, alice.token)).body.service_profiles, []);
    assert.equal((await neutron('GET', `/service_profiles/${sp.id}`, undefined, alice.token)).status, 404);
    // Unbinding, filters, deletes.
    assert.equal((await neutron('DELETE', `/flavors/${flavor.id}/service_profiles/${sp.id}`)).status, 204);
    assert.equal((await neutron('DELETE', `/flavors/${flavor.id}/service_profiles/${sp.id}`)).status, 404);
    assert.equal((await neutron('GET', '/flavors?id=33')).body.flavors.length, 0);
    assert.equal((await neutron('GET', `/flavors?name=gold`)).body.flavors.length, 1);
    await neutron('DELETE', `/routers/${r.body.router.id}`);
    assert.equal((await neutron('DELETE', `/flavors/${flavor.id}`)).status, 204);
    assert.equal((await neutron('DELETE', `/flavors/${other.id}`)).status, 204);
    assert.equal((await neutron('DELETE', `/service_profiles/${sp.id}`)).status, 204);
    assert.equal((await neutron('GET', `/flavors/${flavor.id}`)).status, 404);
  });

  it('10: distributed routers: admin-only, shown, kept on update, changed only when down', async () => {
    const r = await neutron('POST', '/routers', { router: { name: 'dvr', distributed: true } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.router.distributed, true);
    const id = r.body.router.id;
    const renamed = await neutron('PUT', `/routers/${id}`, { router: { name: 'dvr2' } });
    assert.equal(renamed.body.router.distributed, true);
    const active = await neutron('PUT', `/routers/${id}`, { router: { distributed: false } });
    assert.equal(active.status, 400);
    assert.match(active.body.NeutronError.message, /Cannot change the 'distributed' attribute of active routers/);
    const down = await neutron('PUT', `/routers/${id}`, { router: { admin_state_up: false, distributed: false } });
    assert.equal(down.status, 200);
    assert.equal(down.body.router.distributed, false);
    assert.equal(
      (await neutron('PUT', `/routers/${id}`, { router: { distributed: true } })).body.router.distributed,
      true,
    );
    assert.equal((await neutron('GET', `/routers/${id}`)).body.router.distributed, true);
    const alice = await member(c, 'dvr-alice');
    const denied = await neutron('POST', '/routers', { router: { distributed: true } }, alice.token);
    assert.equal(denied.status, 403);
    const mine = (await neutron('POST', '/routers', { router: { name: 'mine' } }, alice.token)).body.router;
    assert.ok(!('distributed' in mine));
    assert.equal((await neutron('GET', `/routers/${mine.id}`)).body.router.distributed, false);
    await neutron('DELETE', `/routers/${mine.id}`);
    await neutron('DELETE', `/routers/${id}`);
  });

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
