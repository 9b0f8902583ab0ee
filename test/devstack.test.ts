// DevStack's world on an in-process cloud, /healthcheck, fault injection through the admin API,
// and Keystone's auth body schema.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from './lib/cloud.ts';
import { createWorld, DEVSTACK, type World } from '../src/devstack/world.ts';

describe('devstack', () => {
  let c: TestCloud;
  let world: World;
  let demo: string;
  let alt: string;
  before(async () => {
    c = await startCloud({ configure: (cfg) => (cfg.devstack = { faultApi: true, reset: true }) });
    c.cloud.health.phase = 'ready';
    world = await createWorld({ authUrl: c.cloud.authUrl(), adminPassword: c.adminPassword, region: 'RegionOne' });
    const scoped = (name: string) =>
      c.token({ name, password: c.adminPassword }, { project: { name, domain: { id: 'default' } } });
    demo = await scoped('demo');
    alt = await scoped('alt_demo');
    await c.cloud.state.capture();
  });
  after(() => c?.stop());

  it("makes DevStack's networks, router and image, and a second run adds nothing", async () => {
    const nets = await c.req('GET', `${c.url}/networking/v2.0/networks?name=private`, undefined, { token: demo });
    assert.equal(nets.body.networks.length, 1);
    assert.equal(nets.body.networks[0].subnets.length, 2);
    const altNets = await c.req('GET', `${c.url}/networking/v2.0/networks?name=private`, undefined, { token: alt });
    assert.equal(altNets.body.networks.length, 0, "alt_demo does not see demo's network");
    const r = await c.req('GET', `${c.url}/networking/v2.0/routers?name=router1`);
    assert.equal(r.body.routers[0].external_gateway_info.network_id, world.networkIds.public);
    const img = await c.req('GET', `${c.url}/image/v2/images?name=${DEVSTACK.image}`, undefined, { token: demo });
    assert.equal(img.body.images[0].status, 'active');
    const again = await createWorld({
      authUrl: c.cloud.authUrl(),
      adminPassword: c.adminPassword,
      region: 'RegionOne',
    });
    assert.deepEqual(again.networkIds, world.networkIds);
    assert.equal(again.imageId, world.imageId);
    const all = await c.req('GET', `${c.url}/networking/v2.0/networks?name=public`);
    assert.equal(all.body.networks.length, 1);
  });

  it("accepts any physical network for flat networks (the install guide's provider)", async () => {
    const n = await c.req('POST', `${c.url}/networking/v2.0/networks`, {
      network: {
        name: 'provider',
        shared: true,
        'router:external': true,
        'provider:network_type': 'flat',
        'provider:physical_network': 'provider',
      },
    });
    assert.equal(n.status, 201, JSON.stringify(n.body));
  });

  it('answers /healthcheck per service and for the cloud', async () => {
    for (const p of ['/healthcheck', '/identity/healthcheck', '/compute/healthcheck', '/networking/healthcheck']) {
      const res = await fetch(`${c.url}${p}`);
      assert.equal(res.status, 200, p);
      assert.equal(await res.text(), 'OK');
    }
    c.cloud.health.phase = 'starting';
    const res = await fetch(`${c.url}/healthcheck`, { headers: { accept: 'application/json' } });
    assert.equal(res.status, 503);
    assert.match(((await res.json()) as { reasons: string[] }).reasons[0]!, /starting/);
    c.cloud.health.phase = 'ready';
  });

  it("injects faults with the service's own error body, admin only", async () => {
    const denied = await c.req('POST', `${c.url}/stratus/faults`, { fault: { action: 'fail' } }, { token: demo });
    assert.equal(denied.status, 403);
    const add = await c.req('POST', `${c.url}/stratus/faults`, {
      fault: { service: 'compute', method: 'POST', path: '/v2.1/servers', name: 'fail-*', action: 'fail' },
    });
    assert.equal(add.status, 201, JSON.stringify(add.body));
    const slow = await c.req('POST', `${c.url}/stratus/faults`, {
      fault: { service: 'network', method: 'POST', path: '/v2.0/ports', action: 'delay', delayMs: 300 },
    });
    assert.equal(slow.status, 201);
    const server = (name: string) =>
      c.req(
        'POST',
        `${c.url}/compute/v2.1/servers`,
        { server: { name, flavorRef: '1', imageRef: world.imageId, networks: 'none' } },
        { token: demo, headers: { 'OpenStack-API-Version': 'compute 2.37' } },
      );
    const failed = await server('fail-1');
    assert.equal(failed.status, 500);
    assert.equal(failed.body.computeFault.code, 500);
    const t0 = Date.now();
    const port = await c.req(
      'POST',
      `${c.url}/networking/v2.0/ports`,
      { port: { network_id: world.networkIds.private } },
      { token: demo },
    );
    assert.equal(port.status, 201);
    assert.ok(Date.now() - t0 >= 280);
    const list = await c.req('GET', `${c.url}/stratus/faults`);
    assert.equal(list.body.faults.length, 2);
    assert.equal((await c.req('DELETE', `${c.url}/stratus/faults`)).status, 204);
    const ok = await server('fail-2');
    assert.equal(ok.status, 202, JSON.stringify(ok.body));
  });

  it('answers 400 for auth bodies of the wrong JSON types', async () => {
    const bad = [
      {
        identity: {
          methods: ['password'],
          password: { user: { name: { x: 1 }, password: 'p', domain: { id: 'default' } } },
        },
      },
      {
        identity: {
          methods: ['password'],
          password: { user: { name: 'admin', password: 'p', domain: { id: ['default'] } } },
        },
      },
      { identity: { methods: 'password' } },
      { identity: { methods: ['password'] }, scope: { project: { id: 7 } } },
    ];
    for (const auth of bad) {
      const r = await c.req('POST', '/v3/auth/tokens', { auth }, { token: null });
      assert.equal(r.status, 400, JSON.stringify(auth));
      assert.match(r.body.error.message, /Invalid input for field '[a-z/]+'/);
    }
  });

  it('resets 100 resources across services in under a second, and round-trips a snapshot', async () => {
    const net = (name: string) =>
      c.req('POST', `${c.url}/networking/v2.0/networks`, { network: { name } }, { token: demo });
    for (let i = 0; i < 40; i++) assert.equal((await net(`n${i}`)).status, 201);
    for (let i = 0; i < 30; i++)
      assert.equal(
        (await c.req('POST', '/v3/projects', { project: { name: `p${i}`, domain_id: 'default' } })).status,
        201,
      );
    for (let i = 0; i < 20; i++)
      assert.equal(
        (
          await c.req(
            'POST',
            `${c.url}/image/v2/images`,
            { name: `img${i}`, disk_format: 'raw', container_format: 'bare' },
            { token: demo },
          )
        ).status,
        201,
      );
    const project = (await c.req('GET', '/v3/projects?name=demo')).body.projects[0].id;
    for (let i = 0; i < 10; i++)
      assert.equal(
        (
          await fetch(`${c.url}/object-store/v1/AUTH_${project}/c${i}`, {
            method: 'PUT',
            headers: { 'x-auth-token': demo },
          })
        ).status,
        201,
      );
    const snap = `${c.dataDir}/snap.gz`;
    assert.equal((await c.req('POST', `${c.url}/stratus/snapshot/save`, { file: snap })).status, 200);
    const t0 = Date.now();
    const r = await c.req('POST', `${c.url}/stratus/reset`, {});
    assert.equal(r.status, 200, JSON.stringify(r.body));
    // Reset empties tables in place rather than restarting (loose bound: files run two at a time).
    assert.ok(Date.now() - t0 < 10_000, `reset took ${Date.now() - t0} ms`);
    const names = async () =>
      (await c.req('GET', `${c.url}/networking/v2.0/networks`, undefined, { token: demo })).body.networks
        .map((n: { name: string }) => n.name)
        .sort();
    assert.deepEqual(await names(), ['private', 'public']);
    assert.equal((await c.req('GET', '/v3/projects?name=p1')).body.projects.length, 0);
    assert.equal(
      (await c.req('GET', `${c.url}/image/v2/images?name=img1`, undefined, { token: demo })).body.images.length,
      0,
    );
    assert.equal(
      (await fetch(`${c.url}/object-store/v1/AUTH_${project}/c1`, { headers: { 'x-auth-token': demo } })).status,
      404,
    );
    assert.equal((await c.req('POST', `${c.url}/stratus/snapshot/load`, { file: snap })).status, 200);
    assert.equal((await names()).length, 43); // 40, public, private and the shared provider network
    assert.equal((await c.req('GET', '/v3/projects?name=p29')).body.projects.length, 1);
    const bad = await c.req('POST', `${c.url}/stratus/snapshot/load`, { file: `${c.dataDir}/nope.gz` });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /does not exist/);
    const denied = await c.req('POST', `${c.url}/stratus/reset`, {}, { token: demo });
    assert.equal(denied.status, 403);
  });
});
