// Compute's resources around servers: flavors, key pairs, quotas and limits, server groups,
// aggregates, availability zones, services, hypervisors and tenant usage.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ApiFlavor, ComputeServiceRow, Hypervisor } from './lib/api-types.ts';
import { databaseEngines, member, startCloud, type TestCloud } from './lib/cloud.ts';
import { computeService } from './lib/services.ts';

for (const engine of databaseEngines('compute around servers')) {
  describe(`compute around servers (${engine.name})`, () => {
    let c: TestCloud;
    let nova: (
      method: string,
      path: string,
      body?: unknown,
      opts?: { token?: string | null; version?: string },
    ) => ReturnType<TestCloud['req']>;
    let alice: { project: string; token: string };
    let bob: { project: string; token: string };

    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-compute-around-'));
    before(async () => {
      c = await startCloud({ database: engine.database, dataDir });
      nova = (method, path, body, opts = {}) =>
        c.req(method, `${c.url}/compute/v2.1${path}`, body, {
          token: opts.token,
          headers: { 'OpenStack-API-Version': `compute ${opts.version ?? '2.1'}` },
        });
      alice = await member(c, 'alice');
      bob = await member(c, 'bob');
    });
    after(async () => {
      await c?.stop();
      fs.rmSync(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    });

    it('seeds the DevStack flavors and lists them with filters, sorting and pages', async () => {
      const r = await nova('GET', '/flavors');
      assert.equal(r.status, 200);
      assert.deepEqual(
        r.body.flavors.map((f: ApiFlavor) => f.id),
        ['1', '2', '3', '4', '5', 'c1', 'd1', 'd2', 'd3', 'd4'],
      );
      const d = await nova('GET', '/flavors/detail?minRam=4096&sort_key=memory_mb&sort_dir=desc', undefined, {
        version: '2.61',
      });
      assert.deepEqual(
        d.body.flavors.map((f: ApiFlavor) => f.name),
        ['m1.xlarge', 'm1.large', 'ds4G', 'm1.medium'],
      );
      assert.equal(d.body.flavors[0].extra_specs['hw_rng:allowed'], 'True');
      assert.equal(d.body.flavors[0].description, null);
      const p = await nova('GET', '/flavors?limit=2&marker=2');
      assert.deepEqual(
        p.body.flavors.map((f: ApiFlavor) => f.id),
        ['3', '4'],
      );
      assert.match(p.body.flavors_links[0].href, /\/compute\/v2\.1\/flavors\?limit=2&marker=4$/);
      assert.equal((await nova('GET', '/flavors?marker=nope')).status, 400);
      assert.equal((await nova('GET', '/flavors?minRam=abc')).status, 400);
      assert.equal((await nova('GET', '/flavors?sort_key=bogus')).status, 400);
      assert.equal((await nova('GET', '/flavors?bogus=1', undefined, { version: '2.75' })).status, 400);
      const tiny = await nova('GET', '/flavors/1');
      assert.equal(tiny.body.flavor.swap, '');
      assert.equal(tiny.body.flavor['OS-FLV-DISABLED:disabled'], false);
      assert.equal((await nova('GET', '/flavors/1', undefined, { version: '2.75' })).body.flavor.swap, 0);
      const missing = await nova('GET', '/flavors/nope');
      assert.equal(missing.status, 404);
      assert.deepEqual(missing.body, { itemNotFound: { code: 404, message: 'Flavor nope could not be found.' } });
    });

    it('creates flavors (id given or generated), refuses duplicates and bad input, updates descriptions, deletes', async () => {
      const r = await nova('POST', '/flavors', {
        flavor: {
          name: 'f1',
          ram: 64,
          vcpus: 1,
          disk: 0,
          id: 'f1-id',
          swap: 16,
          'OS-FLV-EXT-DATA:ephemeral': 2,
          rxtx_factor: 2.5,
        },
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.flavor.id, 'f1-id');
      assert.equal(r.body.flavor.swap, 16);
      assert.equal(r.body.flavor.rxtx_factor, 2.5);
      const auto = await nova(
        'POST',
        '/flavors',
        { flavor: { name: 'f2', ram: '128', vcpus: '2', disk: '1', description: 'second' } },
        { version: '2.55' },
      );
      assert.equal(auto.status, 200);
      assert.match(auto.body.flavor.id, /^[0-9a-f-]{36}$/);
      assert.equal(auto.body.flavor.description, 'second');
      assert.equal(
        (await nova('POST', '/flavors', { flavor: { name: 'f1', ram: 64, vcpus: 1, disk: 0 } })).status,
        409,
      );
      assert.equal(
        (await nova('POST', '/flavors', { flavor: { name: 'other', ram: 64, vcpus: 1, disk: 0, id: 'f1-id' } })).status,
        409,
      );
      assert.equal(
        (await nova('POST', '/flavors', { flavor: { name: 'bad', ram: 0, vcpus: 1, disk: 0 } })).status,
        400,
      );
      assert.equal(
        (await nova('POST', '/flavors', { flavor: { name: ' lead', ram: 1, vcpus: 1, disk: 0 } })).status,
        400,
      );
      assert.equal((await nova('POST', '/flavors', { flavor: { name: 'x', ram: 1, vcpus: 1 } })).status, 400);
      assert.equal(
        (await nova('POST', '/flavors', { flavor: { name: 'x', ram: 1, vcpus: 1, disk: 0, id: 'bad id!' } })).status,
        400,
      );
      assert.equal(
        (await nova('POST', '/flavors', { flavor: { name: 'x', ram: 1, vcpus: 1, disk: 0 } }, { token: alice.token }))
          .status,
        403,
      );
      const u = await nova(
        'PUT',
        `/flavors/${auto.body.flavor.id}`,
        { flavor: { description: 'changed' } },
        { version: '2.55' },
      );
      assert.equal(u.body.flavor.description, 'changed');
      assert.equal(
        (await nova('PUT', `/flavors/${auto.body.flavor.id}`, { flavor: { description: 'x' } }, { version: '2.54' }))
          .status,
        404,
      );
      assert.equal((await nova('DELETE', '/flavors/f1-id')).status, 202);
      assert.equal((await nova('DELETE', '/flavors/f1-id')).status, 404);
    });

    it('keeps extra specs and validates known namespaces from 2.86', async () => {
      await nova('POST', '/flavors', { flavor: { name: 'specs', ram: 64, vcpus: 1, disk: 0, id: 'specs' } });
      const set = await nova('POST', '/flavors/specs/os-extra_specs', {
        extra_specs: { 'hw:cpu_policy': 'dedicated', mine: 5 },
      });
      assert.equal(set.status, 200);
      assert.deepEqual((await nova('GET', '/flavors/specs/os-extra_specs')).body, {
        extra_specs: { 'hw:cpu_policy': 'dedicated', mine: '5' },
      });
      assert.deepEqual((await nova('GET', '/flavors/specs/os-extra_specs/mine')).body, { mine: '5' });
      assert.equal((await nova('PUT', '/flavors/specs/os-extra_specs/mine', { mine: 'six' })).status, 200);
      assert.equal((await nova('PUT', '/flavors/specs/os-extra_specs/mine', { other: 'x' })).status, 400);
      // From 2.86 the known namespaces are validated; other namespaces pass.
      const at286 = async (extra_specs: Record<string, string>) =>
        (await nova('POST', '/flavors/specs/os-extra_specs', { extra_specs }, { version: '2.86' })).status;
      assert.equal(await at286({ 'hw:cpu_policy': 'bogus' }), 400);
      assert.equal(await at286({ 'hw:not_a_spec': '1' }), 400);
      assert.equal(await at286({ 'hw:numa_nodes': 'x' }), 400);
      assert.equal(await at286({ 'hw:numa_nodes': '2', 'custom:thing': 'ok' }), 200);
      assert.equal(
        (await nova('POST', '/flavors/specs/os-extra_specs', { extra_specs: { 'bad/key': 'x' } })).status,
        400,
      );
      assert.equal((await nova('DELETE', '/flavors/specs/os-extra_specs/mine')).status, 200);
      assert.equal((await nova('DELETE', '/flavors/specs/os-extra_specs/mine')).status, 404);
      assert.equal((await nova('GET', '/flavors/specs/os-extra_specs/mine')).status, 404);
      assert.equal(
        (await nova('POST', '/flavors/specs/os-extra_specs', { extra_specs: { a: 'b' } }, { token: alice.token }))
          .status,
        403,
      );
    });

    it('hides private flavors from projects without access', async () => {
      await nova('POST', '/flavors', {
        flavor: { name: 'private', ram: 64, vcpus: 1, disk: 0, id: 'priv', 'os-flavor-access:is_public': false },
      });
      assert.equal((await nova('GET', '/flavors/priv', undefined, { token: alice.token })).status, 404);
      assert.ok(
        !(await nova('GET', '/flavors', undefined, { token: alice.token })).body.flavors.some(
          (f: ApiFlavor) => f.id === 'priv',
        ),
      );
      const add = await nova('POST', '/flavors/priv/action', { addTenantAccess: { tenant: alice.project } });
      assert.equal(add.status, 200, JSON.stringify(add.body));
      assert.deepEqual(add.body.flavor_access, [{ flavor_id: 'priv', tenant_id: alice.project }]);
      assert.equal(
        (await nova('POST', '/flavors/priv/action', { addTenantAccess: { tenant: alice.project } })).status,
        409,
      );
      assert.equal(
        (await nova('POST', '/flavors/priv/action', { addTenantAccess: { tenant: 'no-such-project' } })).status,
        400,
      );
      assert.equal(
        (await nova('POST', '/flavors/1/action', { addTenantAccess: { tenant: alice.project } }, { version: '2.7' }))
          .status,
        409,
      );
      assert.equal((await nova('GET', '/flavors/priv', undefined, { token: alice.token })).status, 200);
      assert.ok(
        (await nova('GET', '/flavors', undefined, { token: alice.token })).body.flavors.some(
          (f: ApiFlavor) => f.id === 'priv',
        ),
      );
      assert.equal((await nova('GET', '/flavors/priv', undefined, { token: bob.token })).status, 404);
      assert.equal((await nova('GET', '/flavors/1/os-flavor-access')).status, 404);
      assert.equal((await nova('GET', '/flavors/priv/os-flavor-access')).body.flavor_access.length, 1);
      const admins = await nova('GET', '/flavors?is_public=false');
      assert.deepEqual(
        admins.body.flavors.map((f: ApiFlavor) => f.id),
        ['priv'],
      );
      assert.ok((await nova('GET', '/flavors?is_public=none')).body.flavors.length > 10);
      assert.equal(
        (await nova('POST', '/flavors/priv/action', { removeTenantAccess: { tenant: alice.project } })).status,
        200,
      );
      assert.equal(
        (await nova('POST', '/flavors/priv/action', { removeTenantAccess: { tenant: alice.project } })).status,
        404,
      );
      assert.equal((await nova('GET', '/flavors/priv', undefined, { token: alice.token })).status, 404);
    });

    it('creates, imports, lists, shows and deletes key pairs across microversions', async () => {
      const gen = await nova('POST', '/os-keypairs', { keypair: { name: 'gen' } }, { token: alice.token });
      assert.equal(gen.status, 200);
      assert.match(gen.body.keypair.public_key, /^ssh-rsa \S+ Generated-by-Nova$/);
      assert.match(gen.body.keypair.private_key, /BEGIN RSA PRIVATE KEY/);
      assert.match(gen.body.keypair.fingerprint, /^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
      const imp = await nova(
        'POST',
        '/os-keypairs',
        { keypair: { name: 'imported', public_key: gen.body.keypair.public_key } },
        { token: alice.token, version: '2.2' },
      );
      assert.equal(imp.status, 201);
      assert.equal(imp.body.keypair.type, 'ssh');
      assert.equal(imp.body.keypair.fingerprint, gen.body.keypair.fingerprint);
      assert.equal(imp.body.keypair.private_key, undefined);
      assert.equal(
        (
          await nova(
            'POST',
            '/os-keypairs',
            { keypair: { name: 'bad', public_key: 'ssh-rsa garbage' } },
            { token: alice.token },
          )
        ).status,
        400,
      );
      assert.equal(
        (await nova('POST', '/os-keypairs', { keypair: { name: 'gen' } }, { token: alice.token })).status,
        409,
      );
      assert.equal(
        (await nova('POST', '/os-keypairs', { keypair: { name: 'bad*name' } }, { token: alice.token })).status,
        400,
      );
      assert.equal(
        (await nova('POST', '/os-keypairs', { keypair: { name: 'gen2' } }, { token: alice.token, version: '2.92' }))
          .status,
        400,
      );
      assert.equal(
        (
          await nova(
            'POST',
            '/os-keypairs',
            { keypair: { name: 'a@b.c', public_key: gen.body.keypair.public_key } },
            { token: alice.token, version: '2.92' },
          )
        ).status,
        201,
      );
      const x509 = await nova(
        'POST',
        '/os-keypairs',
        { keypair: { name: 'cert', type: 'x509' } },
        { token: alice.token, version: '2.2' },
      );
      assert.equal(x509.status, 201, JSON.stringify(x509.body));
      assert.match(x509.body.keypair.public_key, /BEGIN CERTIFICATE/);
      assert.equal(x509.body.keypair.type, 'x509');
      const list = await nova('GET', '/os-keypairs', undefined, { token: alice.token, version: '2.35' });
      assert.deepEqual(
        list.body.keypairs.map((k: { keypair: { name: string } }) => k.keypair.name),
        ['a@b.c', 'cert', 'gen', 'imported'],
      );
      const page = await nova('GET', '/os-keypairs?limit=2&marker=cert', undefined, {
        token: alice.token,
        version: '2.35',
      });
      assert.deepEqual(
        page.body.keypairs.map((k: { keypair: { name: string } }) => k.keypair.name),
        ['gen', 'imported'],
      );
      assert.ok(page.body.keypairs_links);
      const show = await nova('GET', '/os-keypairs/gen', undefined, { token: alice.token });
      assert.equal(show.body.keypair.deleted, false);
      assert.equal(show.body.keypair.type, undefined);
      assert.equal((await nova('GET', '/os-keypairs/gen', undefined, { token: bob.token })).status, 404);
      // Admins act for other users from 2.10.
      const users = await c.req('GET', '/v3/users?name=alice-user');
      const aliceId = users.body.users[0].id;
      assert.equal(
        (await nova('GET', `/os-keypairs/gen?user_id=${aliceId}`, undefined, { version: '2.10' })).status,
        200,
      );
      assert.equal(
        (await nova('GET', `/os-keypairs/gen?user_id=${aliceId}`, undefined, { token: bob.token, version: '2.10' }))
          .status,
        403,
      );
      const forAlice = await nova(
        'POST',
        '/os-keypairs',
        { keypair: { name: 'by-admin', user_id: aliceId } },
        { version: '2.10' },
      );
      assert.equal(forAlice.body.keypair.user_id, aliceId);
      assert.equal((await nova('DELETE', '/os-keypairs/gen', undefined, { token: alice.token })).status, 202);
      assert.equal(
        (await nova('DELETE', '/os-keypairs/imported', undefined, { token: alice.token, version: '2.2' })).status,
        204,
      );
      assert.equal((await nova('DELETE', '/os-keypairs/imported', undefined, { token: alice.token })).status, 404);
    });

    it('shows and sets quotas per project and user, with defaults, details and classes; limits follow', async () => {
      const d = await nova('GET', `/os-quota-sets/${alice.project}/defaults`);
      assert.equal(d.body.quota_set.instances, 10);
      assert.equal(d.body.quota_set.fixed_ips, -1);
      assert.equal(
        (await nova('GET', `/os-quota-sets/${alice.project}`, undefined, { version: '2.57' })).body.quota_set
          .injected_files,
        undefined,
      );
      const set = await nova('PUT', `/os-quota-sets/${alice.project}`, { quota_set: { cores: 30, instances: '12' } });
      assert.equal(set.status, 200);
      assert.equal(set.body.quota_set.cores, 30);
      assert.equal(set.body.quota_set.id, undefined);
      assert.equal(
        (await nova('GET', `/os-quota-sets/${alice.project}`, undefined, { token: alice.token })).body.quota_set.cores,
        30,
      );
      assert.equal((await nova('GET', `/os-quota-sets/${alice.project}`, undefined, { token: bob.token })).status, 403);
      assert.equal(
        (await nova('PUT', `/os-quota-sets/${alice.project}`, { quota_set: { cores: 1 } }, { token: alice.token }))
          .status,
        403,
      );
      assert.equal((await nova('PUT', `/os-quota-sets/${alice.project}`, { quota_set: { cores: -2 } })).status, 400);
      assert.equal((await nova('PUT', `/os-quota-sets/${alice.project}`, { quota_set: { networks: 1 } })).status, 400);
      assert.equal(
        (await nova('PUT', `/os-quota-sets/${alice.project}`, { quota_set: { fixed_ips: 1 } }, { version: '2.36' }))
          .status,
        400,
      );
      assert.equal((await nova('GET', '/os-quota-sets/no-such-project')).status, 400);
      const users = await c.req('GET', '/v3/users?name=alice-user');
      const aliceId = users.body.users[0].id;
      const userSet = await nova('PUT', `/os-quota-sets/${alice.project}?user_id=${aliceId}`, {
        quota_set: { instances: 5 },
      });
      assert.equal(userSet.status, 200, JSON.stringify(userSet.body));
      assert.equal(userSet.body.quota_set.instances, 5);
      assert.equal(
        (await nova('PUT', `/os-quota-sets/${alice.project}?user_id=${aliceId}`, { quota_set: { instances: 50 } }))
          .status,
        400,
      );
      const detail = await nova('GET', `/os-quota-sets/${alice.project}/detail`);
      assert.deepEqual(detail.body.quota_set.cores, { limit: 30, in_use: 0, reserved: 0 });
      assert.equal((await nova('DELETE', `/os-quota-sets/${alice.project}?user_id=${aliceId}`)).status, 202);
      assert.equal(
        (await nova('GET', `/os-quota-sets/${alice.project}?user_id=${aliceId}`)).body.quota_set.instances,
        12,
      );
      const limits = await nova('GET', '/limits', undefined, { token: alice.token });
      assert.deepEqual(limits.body.limits.rate, []);
      assert.equal(limits.body.limits.absolute.maxTotalCores, 30);
      assert.equal(limits.body.limits.absolute.totalCoresUsed, 0);
      assert.equal(limits.body.limits.absolute.maxImageMeta, 128);
      assert.equal(
        (await nova('GET', '/limits', undefined, { token: alice.token, version: '2.57' })).body.limits.absolute
          .maxPersonality,
        undefined,
      );
      assert.equal(
        (await nova('GET', `/limits?tenant_id=${alice.project}`)).body.limits.absolute.maxTotalInstances,
        12,
      );
      assert.equal((await nova('DELETE', `/os-quota-sets/${alice.project}`)).status, 202);
      assert.equal((await nova('GET', `/os-quota-sets/${alice.project}`)).body.quota_set.cores, 20);
      const cls = await nova(
        'PUT',
        '/os-quota-class-sets/default',
        { quota_class_set: { key_pairs: 3 } },
        { version: '2.50' },
      );
      assert.equal(cls.status, 200);
      assert.equal(cls.body.quota_class_set.key_pairs, 3);
      assert.equal(cls.body.quota_class_set.server_groups, 10);
      assert.equal((await nova('GET', '/os-quota-class-sets/default')).body.quota_class_set.server_groups, undefined);
      assert.equal((await nova('GET', `/os-quota-sets/${bob.project}`)).body.quota_set.key_pairs, 3);
      for (const n of ['k1', 'k2', 'k3'])
        assert.equal((await nova('POST', '/os-keypairs', { keypair: { name: n } }, { token: bob.token })).status, 200);
      const over = await nova('POST', '/os-keypairs', { keypair: { name: 'k4' } }, { token: bob.token });
      assert.equal(over.status, 403);
      assert.equal(over.body.forbidden.message, 'Quota exceeded, too many key pairs.');
      await nova('PUT', '/os-quota-class-sets/default', { quota_class_set: { key_pairs: 100 } });
    });

    it('checks server creates against the instances, cores and RAM quotas as Nova does', async () => {
      const q = computeService(c).parts.quotas;
      await nova('PUT', `/os-quota-sets/${bob.project}`, { quota_set: { instances: 3, cores: 4, metadata_items: 2 } });
      assert.equal(await q.checkServers(bob.project, 'u', { vcpus: 1, ram: 64 }, 1, 2), 2);
      assert.equal(await q.checkServers(bob.project, 'u', { vcpus: 2, ram: 64 }, 1, 3), 2);
      await assert.rejects(q.checkServers(bob.project, 'u', { vcpus: 1, ram: 64 }, 4, 4), {
        status: 403,
        message: 'Quota exceeded for instances: Requested 4, but already used 0 of 3 instances',
      });
      await assert.rejects(q.checkServers(bob.project, 'u', { vcpus: 8, ram: 64 }, 1, 1), {
        status: 403,
        message: /^Quota exceeded for cores: Requested 8, but already used 0 of 4 cores$/,
      });
      await assert.rejects(q.checkMetadata(bob.project, 'u', 3), {
        status: 403,
        message: 'Maximum number of metadata items exceeds 2',
      });
      await q.checkMetadata(bob.project, 'u', 2);
      await nova('DELETE', `/os-quota-sets/${bob.project}`);
    });

    it('creates server groups with policies and rules, lists them per project, enforces their quota', async () => {
      const legacy = await nova(
        'POST',
        '/os-server-groups',
        { server_group: { name: 'g1', policies: ['affinity'] } },
        { token: alice.token },
      );
      assert.equal(legacy.status, 200);
      assert.deepEqual(legacy.body.server_group.policies, ['affinity']);
      assert.deepEqual(legacy.body.server_group.metadata, {});
      assert.equal(
        (
          await nova(
            'POST',
            '/os-server-groups',
            { server_group: { name: 'g', policies: ['soft-affinity'] } },
            { token: alice.token },
          )
        ).status,
        400,
      );
      const g = await nova(
        'POST',
        '/os-server-groups',
        { server_group: { name: 'g2', policy: 'anti-affinity', rules: { max_server_per_host: 2 } } },
        { token: alice.token, version: '2.64' },
      );
      assert.equal(g.status, 200, JSON.stringify(g.body));
      assert.equal(g.body.server_group.policy, 'anti-affinity');
      assert.deepEqual(g.body.server_group.rules, { max_server_per_host: 2 });
      assert.deepEqual(g.body.server_group.members, []);
      assert.equal(g.body.server_group.project_id, alice.project);
      assert.equal(
        (
          await nova(
            'POST',
            '/os-server-groups',
            { server_group: { name: 'g3', policy: 'affinity', rules: { max_server_per_host: 2 } } },
            { token: alice.token, version: '2.64' },
          )
        ).status,
        400,
      );
      assert.equal(
        (
          await nova(
            'POST',
            '/os-server-groups',
            { server_group: { name: 'g3', policy: 'affinity', rules: { other: 1 } } },
            { token: alice.token, version: '2.64' },
          )
        ).status,
        400,
      );
      assert.equal(
        (await nova('GET', '/os-server-groups', undefined, { token: alice.token })).body.server_groups.length,
        2,
      );
      assert.equal(
        (await nova('GET', '/os-server-groups', undefined, { token: bob.token })).body.server_groups.length,
        0,
      );
      assert.equal((await nova('GET', '/os-server-groups?all_projects=1')).body.server_groups.length, 2);
      assert.equal(
        (await nova('GET', '/os-server-groups?limit=1&offset=1', undefined, { token: alice.token })).body.server_groups
          .length,
        1,
      );
      assert.equal(
        (await nova('GET', `/os-server-groups/${g.body.server_group.id}`, undefined, { token: bob.token })).status,
        403,
      );
      assert.equal(
        (
          await nova('GET', `/os-server-groups/${g.body.server_group.id}`, undefined, {
            token: alice.token,
            version: '2.64',
          })
        ).body.server_group.name,
        'g2',
      );
      await nova('PUT', `/os-quota-sets/${alice.project}`, { quota_set: { server_groups: 2 } });
      const over = await nova(
        'POST',
        '/os-server-groups',
        { server_group: { name: 'g4', policies: ['affinity'] } },
        { token: alice.token },
      );
      assert.equal(over.status, 403);
      assert.equal(
        (await nova('DELETE', `/os-server-groups/${legacy.body.server_group.id}`, undefined, { token: alice.token }))
          .status,
        204,
      );
      assert.equal(
        (await nova('DELETE', `/os-server-groups/${legacy.body.server_group.id}`, undefined, { token: alice.token }))
          .status,
        404,
      );
      assert.equal(
        (await nova('GET', '/limits', undefined, { token: alice.token })).body.limits.absolute.totalServerGroupsUsed,
        1,
      );
    });

    it('manages aggregates with zones and hosts; zones, services and hypervisors follow the registered hosts', async () => {
      // A compute host as an agent registers it (the servers family's tables).
      const db = computeService(c).db;
      const svcs = await nova('GET', '/os-services');
      assert.equal(svcs.status, 200);
      let host: string | undefined = svcs.body.services.find(
        (s: ComputeServiceRow) => s.binary === 'nova-compute',
      )?.host;
      if (!host && db) {
        const t = new Date().toISOString();
        await db
          .insertInto('services')
          .values({
            uuid: crypto.randomUUID(),
            host: 'h1',
            binary: 'nova-compute',
            topic: 'compute',
            disabled: 0,
            forced_down: 0,
            report_count: 0,
            last_seen_up: t,
            created_at: t,
            updated_at: t,
            deleted: 0,
          })
          .execute();
        await db
          .insertInto('compute_nodes')
          .values({
            uuid: crypto.randomUUID(),
            host: 'h1',
            hypervisor_hostname: 'h1',
            hypervisor_type: 'fake',
            hypervisor_version: 1000,
            vcpus: 8,
            memory_mb: 8192,
            local_gb: 100,
            cpu_allocation_ratio: 16,
            ram_allocation_ratio: 1.5,
            disk_allocation_ratio: 1,
            created_at: t,
            deleted: 0,
          })
          .execute();
        host = 'h1';
      }
      if (!host) return;
      const agg = await nova('POST', '/os-aggregates', { aggregate: { name: 'agg1', availability_zone: 'zone-a' } });
      assert.equal(agg.status, 200, JSON.stringify(agg.body));
      assert.equal(agg.body.aggregate.availability_zone, 'zone-a');
      assert.equal(agg.body.aggregate.hosts, undefined);
      const id = agg.body.aggregate.id;
      assert.equal((await nova('POST', '/os-aggregates', { aggregate: { name: 'agg1' } })).status, 409);
      assert.equal(
        (await nova('POST', '/os-aggregates', { aggregate: { name: 'x', availability_zone: 'a:b' } })).status,
        400,
      );
      assert.equal(
        (await nova('POST', '/os-aggregates', { aggregate: { name: 'x' } }, { token: alice.token })).status,
        403,
      );
      assert.equal((await nova('POST', `/os-aggregates/${id}/action`, { add_host: { host: 'nowhere' } })).status, 404);
      const added = await nova('POST', `/os-aggregates/${id}/action`, { add_host: { host } });
      assert.equal(added.status, 200, JSON.stringify(added.body));
      assert.deepEqual(added.body.aggregate.hosts, [host]);
      assert.equal((await nova('POST', `/os-aggregates/${id}/action`, { add_host: { host } })).status, 409);
      const other = await nova(
        'POST',
        '/os-aggregates',
        { aggregate: { name: 'agg2', availability_zone: 'zone-b' } },
        { version: '2.41' },
      );
      assert.match(other.body.aggregate.uuid, /^[0-9a-f-]{36}$/);
      assert.equal(
        (await nova('POST', `/os-aggregates/${other.body.aggregate.id}/action`, { add_host: { host } })).status,
        409,
      );
      const meta = await nova('POST', `/os-aggregates/${id}/action`, {
        set_metadata: { metadata: { ssd: 'true', gone: null } },
      });
      assert.deepEqual(meta.body.aggregate.metadata, { availability_zone: 'zone-a', ssd: 'true' });
      const services = await nova('GET', `/os-services?host=${host}&binary=nova-compute`);
      assert.equal(services.body.services[0].zone, 'zone-a');
      const zones = await nova('GET', '/os-availability-zone', undefined, { token: alice.token });
      assert.ok(
        zones.body.availabilityZoneInfo.some(
          (z: {
            zoneName: string;
            zoneState: { available: boolean };
            hosts: Record<string, Record<string, unknown>> | null;
          }) => z.zoneName === 'zone-a' && z.zoneState.available && z.hosts === null,
        ),
      );
      const zd = await nova('GET', '/os-availability-zone/detail');
      assert.ok(
        zd.body.availabilityZoneInfo.find((z: { zoneName: string }) => z.zoneName === 'zone-a').hosts[host][
          'nova-compute'
        ],
      );
      assert.equal((await nova('GET', '/os-availability-zone/detail', undefined, { token: alice.token })).status, 403);
      assert.equal((await nova('DELETE', `/os-aggregates/${id}`)).status, 400);
      assert.equal((await nova('POST', `/os-aggregates/${id}/action`, { remove_host: { host } })).status, 200);
      assert.equal((await nova('POST', `/os-aggregates/${id}/action`, { remove_host: { host } })).status, 404);
      assert.equal(
        (await nova('PUT', `/os-aggregates/${id}`, { aggregate: { name: 'renamed' } })).body.aggregate.name,
        'renamed',
      );
      assert.equal((await nova('DELETE', `/os-aggregates/${id}`)).status, 200);
      assert.equal((await nova('GET', `/os-aggregates/${id}`)).status, 404);
      // Ids are never reused, as in Nova.
      const next = await nova('POST', '/os-aggregates', { aggregate: { name: 'agg3' } });
      assert.ok(next.body.aggregate.id > other.body.aggregate.id);
      assert.equal((await nova('GET', '/os-aggregates/abc')).status, 400);

      // Services: disable with a reason, force down, by uuid from 2.53.
      const dis = await nova('PUT', '/os-services/disable-log-reason', {
        host,
        binary: 'nova-compute',
        disabled_reason: 'maintenance',
      });
      assert.deepEqual(dis.body.service, {
        host,
        binary: 'nova-compute',
        status: 'disabled',
        disabled_reason: 'maintenance',
      });
      assert.equal(
        (await nova('PUT', '/os-services/disable', { host: 'nowhere', binary: 'nova-compute' })).status,
        404,
      );
      assert.equal((await nova('PUT', '/os-services/disable', { host, binary: 'nova-scheduler' })).status, 400);
      const listed = await nova('GET', '/os-services', undefined, { version: '2.53' });
      const mine = listed.body.services.find((s: ComputeServiceRow) => s.host === host && s.binary === 'nova-compute');
      assert.equal(mine.status, 'disabled');
      assert.equal(mine.disabled_reason, 'maintenance');
      assert.equal(mine.forced_down, false);
      const en = await nova(
        'PUT',
        `/os-services/${mine.id}`,
        { status: 'enabled', forced_down: true },
        { version: '2.53' },
      );
      assert.equal(en.status, 200, JSON.stringify(en.body));
      assert.equal(en.body.service.status, 'enabled');
      assert.equal(en.body.service.state, 'down');
      assert.equal((await nova('PUT', `/os-services/${mine.id}`, {}, { version: '2.53' })).status, 400);
      assert.equal(
        (await nova('PUT', '/os-services/not-a-uuid', { status: 'enabled' }, { version: '2.53' })).status,
        400,
      );
      await nova('PUT', `/os-services/${mine.id}`, { forced_down: false }, { version: '2.53' });

      // os-hosts (to 2.42) and the instance usage audit log.
      const hosts = await nova('GET', '/os-hosts');
      assert.ok(
        hosts.body.hosts.some(
          (h: { host_name: string; service: string }) => h.host_name === host && h.service === 'compute',
        ),
      );
      assert.equal((await nova('GET', '/os-hosts?zone=nowhere')).body.hosts.length, 0);
      const hostShow = await nova('GET', `/os-hosts/${host}`);
      assert.deepEqual(
        hostShow.body.host.slice(0, 3).map((r: { resource: { project: string } }) => r.resource.project),
        ['(total)', '(used_now)', '(used_max)'],
      );
      assert.equal((await nova('GET', '/os-hosts/nowhere')).status, 404);
      assert.deepEqual(
        (await nova('PUT', `/os-hosts/${host}`, { status: 'enable', maintenance_mode: 'disable' })).body,
        { host, status: 'enabled', maintenance_mode: 'off_maintenance' },
      );
      assert.equal((await nova('PUT', `/os-hosts/${host}`, { status: null, maintenance_mode: null })).status, 400);
      assert.equal((await nova('PUT', '/os-hosts/nowhere', { status: 'enable' })).status, 404);
      assert.equal((await nova('GET', `/os-hosts/${host}/reboot`)).body.power_action, 'reboot');
      assert.equal((await nova('GET', '/os-hosts', undefined, { token: alice.token })).status, 403);
      assert.equal((await nova('GET', '/os-hosts', undefined, { version: '2.43' })).status, 404);
      const audit = await nova('GET', '/os-instance_usage_audit_log');
      assert.ok(audit.body.instance_usage_audit_logs.hosts_not_run.includes(host));
      const before = await nova('GET', `/os-instance_usage_audit_log/${encodeURIComponent('2020-03-15 10:00:00')}`);
      assert.equal(before.body.instance_usage_audit_log.period_beginning, '2020-02-01 00:00:00');
      assert.equal(before.body.instance_usage_audit_log.period_ending, '2020-03-01 00:00:00');
      assert.equal((await nova('GET', '/os-instance_usage_audit_log/invalid_time')).status, 400);

      // Hypervisors.
      const hv = await nova('GET', '/os-hypervisors/detail');
      const node = hv.body.hypervisors.find((h: Hypervisor) => h.service.host === host);
      assert.equal(node.state, 'up');
      assert.equal(typeof node.vcpus, 'number');
      assert.equal((await nova('GET', `/os-hypervisors/${node.id}`)).body.hypervisor.id, node.id);
      assert.equal((await nova('GET', '/os-hypervisors/999999')).status, 404);
      assert.equal((await nova('GET', `/os-hypervisors/${node.id}/uptime`)).status, 200);
      assert.ok((await nova('GET', '/os-hypervisors/statistics')).body.hypervisor_statistics.count >= 1);
      const v53 = await nova(
        'GET',
        `/os-hypervisors?hypervisor_hostname_pattern=${node.hypervisor_hostname}&with_servers=true`,
        undefined,
        { version: '2.75' },
      );
      assert.match(v53.body.hypervisors[0].id, /^[0-9a-f-]{36}$/);
      assert.deepEqual(v53.body.hypervisors[0].servers, []);
      assert.equal((await nova('GET', '/os-hypervisors/statistics', undefined, { version: '2.88' })).status, 404);
      assert.equal((await nova('GET', '/os-hypervisors/not-a-uuid', undefined, { version: '2.53' })).status, 400);
      const v88 = await nova('GET', `/os-hypervisors/${v53.body.hypervisors[0].id}`, undefined, { version: '2.88' });
      assert.equal(v88.body.hypervisor.vcpus, undefined);
      assert.equal(typeof v88.body.hypervisor.uptime, 'string');
      assert.equal(
        (await nova('GET', `/os-hypervisors/${node.hypervisor_hostname}/search`)).body.hypervisors.length,
        1,
      );
      assert.equal((await nova('GET', '/os-hypervisors', undefined, { token: alice.token })).status, 403);
    });

    it('reports tenant usage', async () => {
      const r = await nova(
        'GET',
        '/os-simple-tenant-usage?start=2020-01-01T00:00:00&end=2020-01-02T00:00:00&detailed=1',
      );
      assert.equal(r.status, 200);
      assert.ok(Array.isArray(r.body.tenant_usages));
      assert.equal((await nova('GET', '/os-simple-tenant-usage?start=bad')).status, 400);
      assert.equal(
        (await nova('GET', '/os-simple-tenant-usage?start=2020-01-02T00:00:00&end=2020-01-01T00:00:00')).status,
        400,
      );
      const mine = await nova('GET', `/os-simple-tenant-usage/${alice.project}`, undefined, { token: alice.token });
      assert.equal(mine.status, 200);
      assert.equal(
        (await nova('GET', `/os-simple-tenant-usage/${alice.project}`, undefined, { token: bob.token })).status,
        403,
      );
      assert.equal((await nova('GET', '/os-simple-tenant-usage', undefined, { token: alice.token })).status, 403);
    });

    it('keeps flavors, key pairs, quotas and groups across a restart', {
      skip: engine.database ? 'the test cloud resets PostgreSQL at start' : false,
    }, async () => {
      const groups = (await nova('GET', '/os-server-groups?all_projects=1')).body.server_groups.length;
      await c.stop();
      c = await startCloud({ dataDir });
      assert.equal((await nova('GET', '/flavors/specs')).status, 200);
      assert.equal((await nova('GET', '/flavors')).body.flavors.filter((f: ApiFlavor) => f.id === '1').length, 1);
      assert.equal((await nova('GET', '/os-server-groups?all_projects=1')).body.server_groups.length, groups);
      assert.equal((await nova('GET', `/os-quota-sets/${alice.project}`)).body.quota_set.server_groups, 2);
      assert.equal(
        (
          await nova('GET', '/os-keypairs/k1', undefined, {
            token: await c.token({ name: 'bob-user', password: 'pw-bob' }, { project: { id: bob.project } }),
          })
        ).status,
        200,
      );
    });
  });
}
