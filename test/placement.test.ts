// The placement service against the real HTTP API: the version document and microversions,
// providers in trees with generations, inventories, classes and traits, aggregates,
// allocations with consumer generations and types, usages, allocation candidates (sharing
// providers, nested trees, granular groups, traits, member_of, in_tree, limit), the reshaper,
// policy, atomic claims under concurrency, and a restart, on SQLite and PostgreSQL.
// Tests use custom resource classes so that providers other services register do not matter.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { WithName } from './lib/api-types.ts';
import { startCloud, databaseEngines, type TestCloud, member, type ApiAnswer } from './lib/cloud.ts';

const NEW_CONSUMER = null;

for (const engine of databaseEngines('placement')) {
  describe(`placement (${engine.name})`, () => {
    let c: TestCloud;
    let alice: { project: string; token: string };
    const req = (
      method: string,
      p: string,
      body?: unknown,
      opts: { v?: string; token?: string | null; headers?: Record<string, string> } = {},
    ) =>
      c.req(method, `${c.url}/placement${p}`, body, {
        token: opts.token,
        headers: { 'OpenStack-API-Version': `placement ${opts.v ?? '1.39'}`, ...(opts.headers ?? {}) },
      });
    const error = (r: ApiAnswer, status: number, code?: string) => {
      assert.equal(r.status, status, JSON.stringify(r.body));
      assert.equal(r.body.errors[0].status, status);
      if (code) assert.equal(r.body.errors[0].code, code, JSON.stringify(r.body));
    };
    const rp = async (name: string, parent?: string, uuid?: string) => {
      const r = await req('POST', '/resource_providers', {
        name,
        ...(parent ? { parent_provider_uuid: parent } : {}),
        ...(uuid ? { uuid } : {}),
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.uuid as string;
    };
    const generation = async (uuid: string) =>
      (await req('GET', `/resource_providers/${uuid}`)).body.generation as number;
    const inventory = async (uuid: string, inventories: Record<string, Record<string, number>>) => {
      const r = await req('PUT', `/resource_providers/${uuid}/inventories`, {
        resource_provider_generation: await generation(uuid),
        inventories,
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    };
    const traits = async (uuid: string, list: string[]) => {
      for (const t of list) if (t.startsWith('CUSTOM_')) await req('PUT', `/traits/${t}`);
      const r = await req('PUT', `/resource_providers/${uuid}/traits`, {
        traits: list,
        resource_provider_generation: await generation(uuid),
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    };
    const aggregates = async (uuid: string, list: string[]) => {
      const r = await req('PUT', `/resource_providers/${uuid}/aggregates`, {
        aggregates: list,
        resource_provider_generation: await generation(uuid),
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    };
    const allocate = (
      consumer: string,
      allocations: Record<string, Record<string, number>>,
      gen: number | null = NEW_CONSUMER,
      extra: Record<string, unknown> = {},
    ) =>
      req('PUT', `/allocations/${consumer}`, {
        allocations: Object.fromEntries(Object.entries(allocations).map(([u, r]) => [u, { resources: r }])),
        project_id: 'p1',
        user_id: 'u1',
        consumer_generation: gen,
        consumer_type: 'INSTANCE',
        ...extra,
      });
    const candidates = async (q: string, v = '1.39') => {
      const r = await req('GET', `/allocation_candidates?${q}`, undefined, { v });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body as {
        allocation_requests: Array<{
          allocations: Record<string, { resources: Record<string, number> }>;
          mappings?: Record<string, string[]>;
        }>;
        provider_summaries: Record<
          string,
          {
            resources: Record<string, { capacity: number; used: number }>;
            traits?: string[];
            parent_provider_uuid?: string | null;
            root_provider_uuid?: string;
          }
        >;
      };
    };

    before(async () => {
      c = await startCloud({ database: engine.database });
      alice = await member(c, 'alice');
      for (const rc of ['CUSTOM_CPU', 'CUSTOM_RAM', 'CUSTOM_DISK', 'CUSTOM_VF', 'CUSTOM_LAST', 'CUSTOM_RESHAPE'])
        await req('PUT', `/resource_classes/${rc}`);
    });
    after(async () => {
      await c.stop();
    });

    it('answers the version document without a token and negotiates microversions', async () => {
      const root = await c.req('GET', `${c.url}/placement/`, undefined, { token: null });
      assert.equal(root.status, 200);
      assert.deepEqual(root.body.versions[0], {
        id: 'v1.0',
        max_version: '1.39',
        min_version: '1.0',
        status: 'CURRENT',
        links: [{ rel: 'self', href: '' }],
      });
      const latest = await req('GET', '/resource_providers', undefined, { v: 'latest' });
      assert.equal(latest.headers.get('openstack-api-version'), 'placement 1.39');
      const none = await c.req('GET', `${c.url}/placement/resource_providers`);
      assert.equal(none.headers.get('openstack-api-version'), 'placement 1.0');
      const bad = await req('GET', '/resource_providers', undefined, { v: '1.40' });
      error(bad, 406);
      assert.equal(bad.body.errors[0].max_version, '1.39');
      error(await req('GET', '/resource_providers', undefined, { v: 'pony' }), 400);
      error(await req('GET', '/resource_providers', undefined, { token: null }), 401);
      // Error codes appear from 1.23.
      assert.equal(
        (await req('GET', `/resource_providers/${randomUUID()}`, undefined, { v: '1.22' })).body.errors[0].code,
        undefined,
      );
      error(await req('GET', `/resource_providers/${randomUUID()}`), 404, 'placement.undefined_code');
      const r405 = await req('PATCH', '/resource_providers');
      error(r405, 405);
      assert.equal(r405.headers.get('allow'), 'GET, POST');
      // A route below the microversion that added it: 404 (405 for DELETE inventories before 1.5).
      error(await req('GET', '/traits', undefined, { v: '1.5' }), 404);
      error(await req('GET', '/resource_classes', undefined, { v: '1.1' }), 404);
      const below = await req('DELETE', `/resource_providers/${randomUUID()}/inventories`, undefined, { v: '1.4' });
      error(below, 405);
      assert.equal(below.body.errors[0].detail, 'The method DELETE is not allowed for this resource.');
      // 'latest' is read in lower case only, and the version errors are placement's own.
      const upper = await req('GET', '/resource_providers', undefined, { v: 'LATEST' });
      error(upper, 400);
      assert.equal(upper.body.errors[0].detail, 'Invalid microversion: invalid version string: LATEST');
      assert.equal(bad.body.errors[0].detail, 'Invalid microversion: Unacceptable version header: 1.40');
      assert.equal(latest.headers.get('vary'), 'openstack-api-version');
      error(
        await c.req('POST', `${c.url}/placement/resource_providers`, undefined, {
          headers: { 'OpenStack-API-Version': 'placement 1.39', 'content-type': 'text/plain' },
        }),
        415,
      );
    });

    it('creates providers (201 before 1.20, a body after), rejects duplicates and builds trees', async () => {
      const old = await req('POST', '/resource_providers', { name: 'old-style' }, { v: '1.19' });
      assert.equal(old.status, 201);
      assert.match(old.headers.get('location')!, /\/placement\/resource_providers\/[0-9a-f-]{36}$/);
      error(await req('POST', '/resource_providers', { name: 'old-style' }), 409, 'placement.duplicate_name');
      error(await req('POST', '/resource_providers', { name: 'x'.repeat(201) }), 400);
      const root = await rp('tree-root');
      const child = await rp('tree-child', root);
      const grandchild = await rp('tree-grandchild', child);
      const g = (await req('GET', `/resource_providers/${grandchild}`)).body;
      assert.equal(g.parent_provider_uuid, child);
      assert.equal(g.root_provider_uuid, root);
      assert.equal(
        (await req('GET', `/resource_providers/${grandchild}`, undefined, { v: '1.13' })).body.root_provider_uuid,
        undefined,
      );
      const inTree = (await req('GET', `/resource_providers?in_tree=${child}`)).body.resource_providers
        .map((p: WithName) => p.name)
        .sort();
      assert.deepEqual(inTree, ['tree-child', 'tree-grandchild', 'tree-root']);
      error(
        await req('DELETE', `/resource_providers/${root}`),
        409,
        'placement.resource_provider.cannot_delete_parent',
      );
      error(await req('POST', '/resource_providers', { name: 'orphan', parent_provider_uuid: randomUUID() }), 400);
      // Re-parenting only from 1.37, and never into its own subtree.
      const other = await rp('other-root');
      error(
        await req(
          'PUT',
          `/resource_providers/${child}`,
          { name: 'tree-child', parent_provider_uuid: other },
          { v: '1.36' },
        ),
        400,
      );
      error(
        await req('PUT', `/resource_providers/${child}`, { name: 'tree-child', parent_provider_uuid: grandchild }),
        400,
      );
      const moved = await req('PUT', `/resource_providers/${child}`, {
        name: 'tree-child',
        parent_provider_uuid: other,
      });
      assert.equal(moved.status, 200, JSON.stringify(moved.body));
      assert.equal(moved.body.root_provider_uuid, other);
      assert.equal((await req('GET', `/resource_providers/${grandchild}`)).body.root_provider_uuid, other);
      // Un-parenting makes it a root again.
      const alone = await req('PUT', `/resource_providers/${child}`, {
        name: 'tree-child',
        parent_provider_uuid: null,
      });
      assert.equal(alone.body.root_provider_uuid, child);
      assert.equal((await req('DELETE', `/resource_providers/${grandchild}`)).status, 204);
      error(await req('GET', `/resource_providers/${grandchild}`), 404);
    });

    it('sets inventories under generations, with placement defaults and the 1.26 reserved rule', async () => {
      const u = await rp('inv-host');
      const put = await req('PUT', `/resource_providers/${u}/inventories`, {
        resource_provider_generation: 0,
        inventories: {
          CUSTOM_CPU: { total: 8, allocation_ratio: 2 },
          CUSTOM_RAM: { total: 4096, reserved: 512, step_size: 256 },
        },
      });
      assert.equal(put.status, 200);
      assert.equal(put.body.resource_provider_generation, 1);
      assert.deepEqual(put.body.inventories.CUSTOM_CPU, {
        total: 8,
        reserved: 0,
        min_unit: 1,
        max_unit: 2147483647,
        step_size: 1,
        allocation_ratio: 2,
      });
      error(
        await req('PUT', `/resource_providers/${u}/inventories`, { resource_provider_generation: 0, inventories: {} }),
        409,
        'placement.concurrent_update',
      );
      error(
        await req(
          'PUT',
          `/resource_providers/${u}/inventories/CUSTOM_RAM`,
          { resource_provider_generation: 1, total: 512, reserved: 512 },
          { v: '1.25' },
        ),
        400,
      );
      const same = await req('PUT', `/resource_providers/${u}/inventories/CUSTOM_RAM`, {
        resource_provider_generation: 1,
        total: 512,
        reserved: 512,
      });
      assert.equal(same.status, 200, JSON.stringify(same.body));
      error(
        await req('PUT', `/resource_providers/${u}/inventories`, {
          resource_provider_generation: 2,
          inventories: { CUSTOM_NOPE: { total: 1 } },
        }),
        400,
      );
      error(
        await req('PUT', `/resource_providers/${u}/inventories`, {
          resource_provider_generation: 2,
          inventories: { CUSTOM_CPU: { total: 0 } },
        }),
        400,
      );
      const post = await req('POST', `/resource_providers/${u}/inventories`, {
        resource_class: 'CUSTOM_DISK',
        total: 100,
      });
      assert.equal(post.status, 201);
      assert.equal(post.body.resource_provider_generation, 3);
      const usages = await req('GET', `/resource_providers/${u}/usages`);
      assert.deepEqual(usages.body, {
        resource_provider_generation: 3,
        usages: { CUSTOM_CPU: 0, CUSTOM_DISK: 0, CUSTOM_RAM: 0 },
      });
      error(await req('GET', `/resource_providers/${u}/inventories/CUSTOM_VF`), 404);
      assert.equal((await req('DELETE', `/resource_providers/${u}/inventories/CUSTOM_DISK`)).status, 204);
    });

    it('manages custom resource classes and traits, and refuses to touch standard ones', async () => {
      assert.equal((await req('PUT', '/resource_classes/CUSTOM_GOLD')).status, 201);
      assert.equal((await req('PUT', '/resource_classes/CUSTOM_GOLD')).status, 204);
      error(await req('POST', '/resource_classes', { name: 'CUSTOM_GOLD' }), 409, 'placement.duplicate_name');
      error(await req('POST', '/resource_classes', { name: 'GOLD' }), 400);
      error(await req('DELETE', '/resource_classes/VCPU'), 400);
      const list = (await req('GET', '/resource_classes')).body.resource_classes.map((r: WithName) => r.name);
      assert.ok(list.includes('VCPU') && list.includes('CUSTOM_GOLD') && list.includes('PCPU'));
      assert.equal((await req('DELETE', '/resource_classes/CUSTOM_GOLD')).status, 204);
      assert.equal((await req('PUT', '/traits/CUSTOM_SHINY')).status, 201);
      assert.equal((await req('PUT', '/traits/CUSTOM_SHINY')).status, 204);
      error(await req('PUT', '/traits/SHINY'), 400);
      error(await req('DELETE', '/traits/HW_CPU_X86_AVX2'), 400);
      assert.equal((await req('GET', '/traits/HW_CPU_X86_AVX2')).status, 204);
      const u = await rp('trait-host');
      await traits(u, ['CUSTOM_SHINY', 'HW_CPU_X86_AVX2']);
      error(await req('DELETE', '/traits/CUSTOM_SHINY'), 409);
      error(
        await req('PUT', `/resource_providers/${u}/traits`, {
          traits: ['CUSTOM_UNKNOWN'],
          resource_provider_generation: await generation(u),
        }),
        400,
      );
      error(
        await req('PUT', `/resource_providers/${u}/traits`, { traits: [], resource_provider_generation: 0 }),
        409,
        'placement.concurrent_update',
      );
      assert.deepEqual((await req('GET', '/traits?name=startswith:CUSTOM_SH&associated=true')).body.traits, [
        'CUSTOM_SHINY',
      ]);
      assert.ok((await req('GET', '/traits')).body.traits.length > 300);
      const listed = (
        await req('GET', '/resource_providers?required=CUSTOM_SHINY,!HW_CPU_X86_SSE')
      ).body.resource_providers.map((p: { uuid: string }) => p.uuid);
      assert.deepEqual(listed, [u]);
      assert.deepEqual(
        (await req('GET', '/resource_providers?required=in:CUSTOM_SHINY,CUSTOM_NONE_SUCH_X')).status,
        400,
      );
      assert.equal((await req('DELETE', `/resource_providers/${u}/traits`)).status, 204);
      assert.equal((await req('DELETE', '/traits/CUSTOM_SHINY')).status, 204);
    });

    it('associates aggregates with generation checks from 1.19 and filters providers by member_of', async () => {
      const u = await rp('agg-host');
      const a1 = randomUUID(),
        a2 = randomUUID();
      const old = await req('PUT', `/resource_providers/${u}/aggregates`, [a1], { v: '1.18' });
      assert.deepEqual(old.body, { aggregates: [a1] });
      error(
        await req('PUT', `/resource_providers/${u}/aggregates`, { aggregates: [a2], resource_provider_generation: 0 }),
        409,
        'placement.concurrent_update',
      );
      await aggregates(u, [a1, a2]);
      const got = (await req('GET', `/resource_providers/${u}/aggregates`)).body;
      assert.deepEqual(got.aggregates.sort(), [a1, a2].sort());
      assert.equal(got.resource_provider_generation, 2);
      assert.deepEqual(
        (await req('GET', `/resource_providers?member_of=in:${a2},${randomUUID()}`)).body.resource_providers.map(
          (p: { uuid: string }) => p.uuid,
        ),
        [u],
      );
      assert.deepEqual(
        (await req('GET', `/resource_providers?member_of=${a1}&member_of=!${a2}`)).body.resource_providers,
        [],
      );
    });

    it('writes allocations with consumer generations, types and capacity checks, and reports usages', async () => {
      const u = await rp('alloc-host');
      await inventory(u, {
        CUSTOM_CPU: { total: 4, allocation_ratio: 2 },
        CUSTOM_RAM: { total: 1024, min_unit: 128, step_size: 128 },
      });
      const c1 = randomUUID(),
        c2 = randomUUID();
      assert.equal((await allocate(c1, { [u]: { CUSTOM_CPU: 6, CUSTOM_RAM: 256 } })).status, 204);
      let got = (await req('GET', `/allocations/${c1}`)).body;
      assert.deepEqual(got, {
        allocations: { [u]: { resources: { CUSTOM_CPU: 6, CUSTOM_RAM: 256 }, generation: 2 } },
        project_id: 'p1',
        user_id: 'u1',
        consumer_generation: 1,
        consumer_type: 'INSTANCE',
      });
      // A stale or missing consumer generation is a concurrent update.
      error(await allocate(c1, { [u]: { CUSTOM_CPU: 1 } }, null), 409, 'placement.concurrent_update');
      error(await allocate(c1, { [u]: { CUSTOM_CPU: 1 } }, 7), 409, 'placement.concurrent_update');
      // Over capacity ((4 - 0) * 2 = 8), and against min_unit/step_size.
      error(await allocate(c2, { [u]: { CUSTOM_CPU: 3 } }), 409);
      error(await allocate(c2, { [u]: { CUSTOM_RAM: 100 } }), 409);
      error(await allocate(c2, { [u]: { CUSTOM_DISK: 1 } }), 409);
      error(await allocate(c2, { [randomUUID()]: { CUSTOM_CPU: 1 } }), 400);
      error(
        await req('PUT', `/allocations/${c2}`, {
          allocations: {},
          project_id: 'p1',
          user_id: 'u1',
          consumer_generation: null,
        }),
        400,
      );
      assert.equal(
        (await allocate(c2, { [u]: { CUSTOM_CPU: 2 } }, null, { user_id: 'u2', consumer_type: 'MIGRATION' })).status,
        204,
      );
      // The consumer's own allocation is replaced, not added to.
      assert.equal((await allocate(c1, { [u]: { CUSTOM_CPU: 5 } }, 1)).status, 204);
      assert.deepEqual((await req('GET', `/resource_providers/${u}/usages`)).body.usages, {
        CUSTOM_CPU: 7,
        CUSTOM_RAM: 0,
      });
      const byRp = (await req('GET', `/resource_providers/${u}/allocations`)).body;
      assert.deepEqual(byRp.allocations[c2], { resources: { CUSTOM_CPU: 2 }, consumer_generation: 1 });
      assert.deepEqual((await req('GET', '/usages?project_id=p1', undefined, { v: '1.37' })).body.usages.CUSTOM_CPU, 7);
      assert.deepEqual((await req('GET', '/usages?project_id=p1&user_id=u2', undefined, { v: '1.37' })).body.usages, {
        CUSTOM_CPU: 2,
      });
      const typed = (await req('GET', '/usages?project_id=p1&consumer_type=MIGRATION')).body.usages;
      assert.deepEqual(typed, { MIGRATION: { CUSTOM_CPU: 2, consumer_count: 1 } });
      error(await req('GET', '/usages'), 400);
      // Inventory in use cannot go away; the provider cannot be deleted.
      error(
        await req('PUT', `/resource_providers/${u}/inventories`, {
          resource_provider_generation: await generation(u),
          inventories: { CUSTOM_RAM: { total: 1024 } },
        }),
        409,
        'placement.inventory.inuse',
      );
      error(await req('DELETE', `/resource_providers/${u}`), 409, 'placement.resource_provider.inuse');
      // Emptying a consumer forgets it: its next write starts again from a null generation.
      assert.equal(
        (
          await req('PUT', `/allocations/${c1}`, {
            allocations: {},
            project_id: 'p1',
            user_id: 'u1',
            consumer_generation: 2,
            consumer_type: 'INSTANCE',
          })
        ).status,
        204,
      );
      assert.deepEqual((await req('GET', `/allocations/${c1}`)).body, { allocations: {} });
      assert.equal((await req('DELETE', `/allocations/${c2}`)).status, 204);
      error(await req('DELETE', `/allocations/${c2}`), 404);
      // POST /allocations writes several consumers at once; the old list form still works.
      const c3 = randomUUID(),
        c4 = randomUUID();
      const post = await req('POST', '/allocations', {
        [c3]: {
          allocations: { [u]: { resources: { CUSTOM_CPU: 1 } } },
          project_id: 'p2',
          user_id: 'u',
          consumer_generation: null,
          consumer_type: 'INSTANCE',
        },
        [c4]: {
          allocations: { [u]: { resources: { CUSTOM_CPU: 1 } } },
          project_id: 'p2',
          user_id: 'u',
          consumer_generation: null,
          consumer_type: 'INSTANCE',
        },
      });
      assert.equal(post.status, 204, JSON.stringify(post.body));
      const legacy = await req(
        'PUT',
        `/allocations/${randomUUID()}`,
        { allocations: [{ resource_provider: { uuid: u }, resources: { CUSTOM_CPU: 1 } }] },
        { v: '1.0' },
      );
      assert.equal(legacy.status, 204, JSON.stringify(legacy.body));
      assert.deepEqual((await req('GET', '/usages?project_id=p2', undefined, { v: '1.9' })).body.usages, {
        CUSTOM_CPU: 2,
      });
    });

    it('finds candidates across sharing providers through aggregates', async () => {
      const agg = randomUUID();
      const cn1 = await rp('share-cn1'),
        cn2 = await rp('share-cn2'),
        ss = await rp('share-ss');
      for (const cn of [cn1, cn2]) {
        await inventory(cn, { CUSTOM_CPU: { total: 8 }, CUSTOM_RAM: { total: 2048 } });
        await aggregates(cn, [agg]);
      }
      await inventory(ss, { CUSTOM_DISK: { total: 1000 } });
      await aggregates(ss, [agg]);
      // Without the trait the storage provider shares nothing.
      assert.equal((await candidates('resources=CUSTOM_CPU:1,CUSTOM_DISK:10')).allocation_requests.length, 0);
      await traits(ss, ['MISC_SHARES_VIA_AGGREGATE']);
      const r = await candidates('resources=CUSTOM_CPU:1,CUSTOM_DISK:10');
      const shapes = r.allocation_requests.map((a) => Object.keys(a.allocations).sort().join()).sort();
      assert.deepEqual(shapes, [[cn1, ss].sort().join(), [cn2, ss].sort().join()].sort());
      assert.deepEqual(r.provider_summaries[ss].resources, { CUSTOM_DISK: { capacity: 1000, used: 0 } });
      assert.deepEqual(r.provider_summaries[ss].traits, ['MISC_SHARES_VIA_AGGREGATE']);
      // member_of narrows; a forbidden aggregate removes everything in it.
      assert.equal(
        (await candidates(`resources=CUSTOM_CPU:1,CUSTOM_DISK:10&member_of=!${agg}`)).allocation_requests.length,
        0,
      );
      const only = await candidates(`resources=CUSTOM_CPU:1&in_tree=${cn2}`);
      assert.deepEqual(
        only.allocation_requests.map((a) => Object.keys(a.allocations)),
        [[cn2]],
      );
      // limit returns that many, with the summaries of their trees only.
      const lim = await candidates('resources=CUSTOM_CPU:1,CUSTOM_DISK:10&limit=1');
      assert.equal(lim.allocation_requests.length, 1);
      assert.ok(
        !Object.keys(lim.provider_summaries).includes(
          Object.keys(lim.allocation_requests[0]!.allocations).includes(cn1) ? cn2 : cn1,
        ),
      );
      // The old list format before 1.12.
      const old = await candidates('resources=CUSTOM_CPU:1,CUSTOM_DISK:10', '1.10');
      assert.ok(Array.isArray(old.allocation_requests[0]!.allocations));
      // Unknown classes and traits are errors.
      error(await req('GET', '/allocation_candidates?resources=CUSTOM_NOPE:1'), 400);
      error(await req('GET', '/allocation_candidates?resources=CUSTOM_CPU:1&required=CUSTOM_NOPE'), 400);
      error(await req('GET', '/allocation_candidates?resources=CUSTOM_CPU:0'), 400);
    });

    it('finds candidates in nested trees with granular groups, group_policy and traits', async () => {
      const host = await rp('nest-host');
      const numa0 = await rp('nest-numa0', host),
        numa1 = await rp('nest-numa1', host);
      for (const n of [numa0, numa1]) await inventory(n, { CUSTOM_CPU: { total: 4 }, CUSTOM_RAM: { total: 1024 } });
      const pf0 = await rp('nest-pf0', numa0),
        pf1 = await rp('nest-pf1', numa1);
      await inventory(pf0, { CUSTOM_VF: { total: 2 } });
      await inventory(pf1, { CUSTOM_VF: { total: 2 } });
      await traits(pf0, ['CUSTOM_PHYSNET_A']);
      await traits(pf1, ['CUSTOM_PHYSNET_B']);
      await traits(numa1, ['HW_NUMA_ROOT', 'CUSTOM_FAST']);
      // Unsuffixed: spread over the tree (each NUMA node can give CPU and RAM).
      const spread = await candidates(`resources=CUSTOM_CPU:2,CUSTOM_RAM:512&in_tree=${host}`);
      assert.equal(spread.allocation_requests.length, 4);
      assert.equal(spread.provider_summaries[numa0].parent_provider_uuid, host);
      assert.equal(spread.provider_summaries[pf0].root_provider_uuid, host);
      // Before 1.29, requests that use several providers of one tree are dropped.
      const mine = (await candidates('resources=CUSTOM_CPU:2,CUSTOM_RAM:512', '1.28')).allocation_requests.filter(
        (a) => a.allocations[numa0] || a.allocations[numa1],
      );
      assert.deepEqual(
        mine.map((a) => Object.keys(a.allocations).length),
        [1, 1],
      );
      // Granular: one provider per group; isolate keeps the groups apart.
      const g = await candidates(
        `resources1=CUSTOM_CPU:1&resources2=CUSTOM_CPU:1&group_policy=isolate&in_tree1=${host}&in_tree2=${host}`,
      );
      assert.equal(g.allocation_requests.length, 2);
      for (const a of g.allocation_requests) assert.notEqual(a.mappings!['1']![0], a.mappings!['2']![0]);
      const none = await candidates(
        `resources1=CUSTOM_CPU:1&resources2=CUSTOM_CPU:1&group_policy=none&in_tree1=${host}&in_tree2=${host}`,
      );
      assert.equal(none.allocation_requests.length, 4);
      const merged = none.allocation_requests.find((a) => Object.keys(a.allocations).length === 1)!;
      assert.equal(Object.values(merged.allocations)[0]!.resources.CUSTOM_CPU, 2);
      error(await req('GET', '/allocation_candidates?resources1=CUSTOM_CPU:1&resources2=CUSTOM_CPU:1'), 400);
      // Required and forbidden traits per group, and any-of (1.39).
      const vfA = await candidates('resources_NET=CUSTOM_VF:1&required_NET=CUSTOM_PHYSNET_A');
      assert.deepEqual(
        vfA.allocation_requests.map((a) => Object.keys(a.allocations)),
        [[pf0]],
      );
      assert.deepEqual(vfA.allocation_requests[0]!.mappings, { _NET: [pf0] });
      const notA = await candidates('resources_NET=CUSTOM_VF:1&required_NET=!CUSTOM_PHYSNET_A');
      assert.deepEqual(
        notA.allocation_requests.map((a) => Object.keys(a.allocations)),
        [[pf1]],
      );
      assert.equal(
        (await candidates('resources_NET=CUSTOM_VF:1&required_NET=in:CUSTOM_PHYSNET_A,CUSTOM_PHYSNET_B'))
          .allocation_requests.length,
        2,
      );
      error(
        await req(
          'GET',
          '/allocation_candidates?resources1=CUSTOM_VF:1&required1=in:CUSTOM_PHYSNET_A,CUSTOM_PHYSNET_B',
          undefined,
          { v: '1.38' },
        ),
        400,
      );
      // Unsuffixed traits are satisfied by the providers used together.
      const fast = await candidates(`resources=CUSTOM_CPU:1&required=CUSTOM_FAST&in_tree=${host}`);
      assert.deepEqual(
        fast.allocation_requests.map((a) => Object.keys(a.allocations)),
        [[numa1]],
      );
      // A VF and CPU from the same NUMA subtree (same_subtree, 1.36).
      const sub = await candidates(
        `resources_C=CUSTOM_CPU:1&resources_V=CUSTOM_VF:1&same_subtree=_C,_V&group_policy=none&in_tree_C=${host}`,
      );
      assert.equal(sub.allocation_requests.length, 2);
      for (const a of sub.allocation_requests) {
        const cpu = a.mappings!._C![0]!,
          vf = a.mappings!._V![0]!;
        assert.equal(cpu === numa0 ? pf0 : pf1, vf);
      }
      // root_required (1.35) filters on the root's traits.
      assert.equal(
        (await candidates(`resources=CUSTOM_CPU:1&in_tree=${host}&root_required=HW_NUMA_ROOT`)).allocation_requests
          .length,
        0,
      );
    });

    it('lets exactly one of concurrent claims for the last unit win', async () => {
      const u = await rp('race-host');
      await inventory(u, { CUSTOM_LAST: { total: 1 } });
      const results = await Promise.all(
        Array.from({ length: 8 }, () => allocate(randomUUID(), { [u]: { CUSTOM_LAST: 1 } })),
      );
      assert.deepEqual(results.map((r) => r.status).sort(), [204, 409, 409, 409, 409, 409, 409, 409]);
      assert.deepEqual((await req('GET', `/resource_providers/${u}/usages`)).body.usages, { CUSTOM_LAST: 1 });
      // Two schedulers writing the same new consumer: one wins, the other sees a concurrent update.
      await inventory(u, { CUSTOM_LAST: { total: 100 } });
      const consumer = randomUUID();
      const same = await Promise.all(Array.from({ length: 5 }, () => allocate(consumer, { [u]: { CUSTOM_LAST: 1 } })));
      assert.deepEqual(same.map((r) => r.status).sort(), [204, 409, 409, 409, 409]);
      for (const r of same.filter((x) => x.status === 409))
        assert.equal(r.body.errors[0].code, 'placement.concurrent_update');
      assert.equal((await req('GET', `/allocations/${consumer}`)).body.consumer_generation, 1);
    });

    it('reshapes inventories and allocations atomically', async () => {
      const host = await rp('reshape-host');
      await inventory(host, { CUSTOM_RESHAPE: { total: 10 } });
      const consumer = randomUUID();
      assert.equal((await allocate(consumer, { [host]: { CUSTOM_RESHAPE: 4 } })).status, 204);
      const child = await rp('reshape-child', host);
      const body = {
        inventories: {
          [host]: { resource_provider_generation: await generation(host), inventories: {} },
          [child]: {
            resource_provider_generation: await generation(child),
            inventories: { CUSTOM_RESHAPE: { total: 10 } },
          },
        },
        allocations: {
          [consumer]: {
            allocations: { [child]: { resources: { CUSTOM_RESHAPE: 4 } } },
            project_id: 'p1',
            user_id: 'u1',
            consumer_generation: 1,
            consumer_type: 'INSTANCE',
          },
        },
      };
      // Leaving the allocation on the old provider is refused as a whole.
      const bad = structuredClone(body);
      bad.allocations[consumer]!.allocations = { [host]: { resources: { CUSTOM_RESHAPE: 4 } } };
      error(await req('POST', '/reshaper', bad), 409, 'placement.inventory.inuse');
      assert.equal(
        (await req('GET', `/resource_providers/${host}/inventories`)).body.inventories.CUSTOM_RESHAPE.total,
        10,
      );
      const ok = await req('POST', '/reshaper', body);
      assert.equal(ok.status, 204, JSON.stringify(ok.body));
      assert.deepEqual((await req('GET', `/resource_providers/${host}/inventories`)).body.inventories, {});
      assert.deepEqual((await req('GET', `/allocations/${consumer}`)).body.allocations[child].resources, {
        CUSTOM_RESHAPE: 4,
      });
      error(await req('POST', '/reshaper', body), 409, 'placement.concurrent_update');
      error(await req('POST', '/reshaper', body, { v: '1.29' }), 404);
    });

    it('enforces the admin-only default policy', async () => {
      error(await req('GET', '/resource_providers', undefined, { token: alice.token }), 403);
      error(await req('POST', '/resource_providers', { name: 'sneaky' }, { token: alice.token }), 403);
      error(await req('GET', '/allocation_candidates?resources=CUSTOM_CPU:1', undefined, { token: alice.token }), 403);
      // A reader of its own project may see that project's usages.
      assert.equal(
        (await req('GET', `/usages?project_id=${alice.project}`, undefined, { token: alice.token })).status,
        200,
      );
      error(await req('GET', '/usages?project_id=someone-else', undefined, { token: alice.token }), 403);
    });
  });
}

describe('placement restart', () => {
  it('keeps providers, inventories and allocations across a restart', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-placement-'));
    const h = { 'OpenStack-API-Version': 'placement 1.39' };
    let c = await startCloud({ dataDir });
    const r = await c.req('POST', `${c.url}/placement/resource_providers`, { name: 'durable' }, { headers: h });
    const u = r.body.uuid;
    await c.req('PUT', `${c.url}/placement/resource_classes/CUSTOM_DURABLE`, undefined, { headers: h });
    await c.req(
      'PUT',
      `${c.url}/placement/resource_providers/${u}/inventories`,
      { resource_provider_generation: 0, inventories: { CUSTOM_DURABLE: { total: 3 } } },
      { headers: h },
    );
    const consumer = randomUUID();
    const a = await c.req(
      'PUT',
      `${c.url}/placement/allocations/${consumer}`,
      {
        allocations: { [u]: { resources: { CUSTOM_DURABLE: 2 } } },
        project_id: 'p',
        user_id: 'u',
        consumer_generation: null,
        consumer_type: 'INSTANCE',
      },
      { headers: h },
    );
    assert.equal(a.status, 204);
    await c.stop();
    c = await startCloud({ dataDir });
    try {
      const got = await c.req('GET', `${c.url}/placement/allocations/${consumer}`, undefined, { headers: h });
      assert.deepEqual(got.body.allocations[u].resources, { CUSTOM_DURABLE: 2 });
      assert.deepEqual(
        (await c.req('GET', `${c.url}/placement/resource_providers/${u}/usages`, undefined, { headers: h })).body
          .usages,
        { CUSTOM_DURABLE: 2 },
      );
    } finally {
      await c.stop();
      fs.rmSync(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    }
  });
});
