// Nested stacks across engines (convergence): a nested stack (OS::Heat::Stack, a template resource,
// a ResourceGroup's members) is a stack of its own, created, updated and deleted as a traversal of
// its own whose nodes go to any engine of the topic (Heat's StackResource casts create_stack and
// the nested stack converges), not walked inside the parent resource's node. Two engine instances
// on the cloud's one bus and database, as test/heat-convergence.test.ts runs them.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { databaseEngines, startCloud, type TestCloud, until } from './lib/cloud.ts';
import { adminEngineCaller, reachStackStatus, stackStatus } from './lib/heat-engine.ts';
import type { OrchestrationService } from '../src/orchestration/service.ts';
import { Engine } from '../src/orchestration/engine/engine.ts';
import { serveEngine } from '../src/orchestration/rpcapi.ts';

for (const db of databaseEngines('orchestration nested engines'))
  describe(`orchestration: nested stacks across engines (${db.name})`, () => {
    let c: TestCloud;
    let base: string;
    let svc: OrchestrationService;
    const engines: Engine[] = [];
    let unserve: (() => void) | undefined;

    before(async () => {
      c = await startCloud({
        database: db.database,
        configure: (cfg) => {
          cfg.orchestration = { ...(cfg.orchestration ?? {}), convergenceEngine: true, engineLivenessTimeoutMs: 500 };
        },
      });
      ({ svc, base } = await adminEngineCaller(c));
      const e1 = svc.engine!;
      const e2 = new Engine(
        svc.store,
        svc.registry,
        svc.ctx.session,
        { ...svc.options, engineId: 'engine-two' },
        svc.region,
        svc.ctx.log,
      );
      e2.isAlive = e1.isAlive;
      e2.stopRemote = e1.stopRemote;
      e2.convergence.cast = (m) => svc.engineRpc.cast().check_resource(m);
      e2.createNested = e1.createNested;
      unserve = serveEngine(svc.ctx.bus, e2);
      engines.push(e1, e2);
    });
    after(async () => {
      unserve?.();
      await engines[1]?.drain();
      await c?.stop();
    });

    const h = (method: string, p: string, body?: unknown) => c.req(method, `${base}${p}`, body);
    const statusOf = (id: string) => stackStatus(svc, id);
    const reach = (id: string, want: string, ms = 60_000) => reachStackStatus(svc, id, want, ms);
    const nestedTemplate = (n: number, length: number) => {
      const resources: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) resources[`s${i}`] = { type: 'OS::Heat::RandomString', properties: { length } };
      resources.joined = {
        type: 'OS::Heat::Value',
        properties: { value: { list_join: ['-', [{ get_resource: 's0' }, { get_resource: 's1' }]] } },
      };
      return {
        heat_template_version: '2018-08-31',
        resources,
        outputs: { joined: { value: { get_attr: ['joined', 'value'] } } },
      };
    };
    const parent = (length: number) => ({
      heat_template_version: '2018-08-31',
      resources: {
        inner: {
          type: 'OS::Heat::Stack',
          properties: { template: JSON.stringify(nestedTemplate(16, length)) },
        },
      },
      outputs: { joined: { value: { get_attr: ['inner', 'outputs', 'joined'] } } },
    });

    it('a nested stack is a traversal of its own shared by the engines; update and delete too', async () => {
      const before = engines.map((e) => e.convergence.handled);
      // Which engine created which stack, and how it was asked (an owner over RPC has no callback).
      const creates: Array<{ engine: number; owner?: Record<string, unknown> }> = [];
      const originals = engines.map((e) => e.createStack);
      engines.forEach((e, i) => {
        e.createStack = (caller, req, owner) => {
          creates.push({ engine: i, owner: owner as Record<string, unknown> | undefined });
          return originals[i]!.call(e, caller, req, owner);
        };
      });
      const res = await h('POST', '/stacks', { stack_name: 'nest-engines', template: parent(8) });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      const id = res.body.stack.id as string;
      await reach(id, 'CREATE_COMPLETE');
      const [child] = await svc.store.childStacks(id);
      assert.ok(child, 'the nested stack exists');
      assert.equal(`${child.action}_${child.status}`, 'CREATE_COMPLETE');
      // A traversal of its own: its own traversal id, graph and template, its sync points purged.
      assert.equal(child.convergence, 1);
      assert.ok(child.current_traversal && child.raw_template_id);
      const rows = await svc.store.resources(child.id);
      assert.equal(rows.length, 17);
      for (const r of rows) {
        assert.equal(`${r.action}_${r.status}`, 'CREATE_COMPLETE');
        assert.equal(r.current_template_id, child.raw_template_id);
        assert.equal(r.engine_id, null);
      }
      // The parent has one node; the nested stack's 17 are shared: both engines did some.
      const did = engines.map((e, i) => e.convergence.handled - before[i]!);
      assert.equal(
        did.reduce((a, b) => a + b, 0),
        18,
      );
      assert.ok(
        did.every((n) => n > 0),
        `each engine did some nodes: ${did}`,
      );
      const inner = (await svc.store.resources(id))[0]!;
      assert.equal(inner.physical_resource_id, child.id);
      // The nested stack's create_stack went over the bus (Heat's StackResource asks any engine):
      // its owner came as data, the parent resource's row id and no callback.
      engines.forEach((e, i) => {
        e.createStack = originals[i]!;
      });
      const nested = creates.filter((x) => x.owner);
      assert.equal(nested.length, 1, JSON.stringify(creates));
      assert.equal(nested[0]!.owner!.resourceId, inner.id);
      assert.equal(nested[0]!.owner!.created, undefined);
      assert.equal(nested[0]!.owner!.id, id);
      const out = await h('GET', `/stacks/nest-engines/${id}/outputs/joined`);
      assert.equal(out.status, 200, JSON.stringify(out.body));
      assert.match(String(out.body.output.output_value), /^[A-Za-z0-9]{8}-[A-Za-z0-9]{8}$/);

      // An update of the parent updates the nested stack as a traversal (replacing its strings).
      const up = await h('PUT', `/stacks/nest-engines/${id}`, { template: parent(10) });
      assert.equal(up.status, 202, JSON.stringify(up.body));
      await reach(id, 'UPDATE_COMPLETE');
      const child2 = (await svc.store.getStack(child.id))!;
      assert.equal(`${child2.action}_${child2.status}`, 'UPDATE_COMPLETE');
      assert.notEqual(child2.current_traversal, child.current_traversal);
      const out2 = await h('GET', `/stacks/nest-engines/${id}/outputs/joined`);
      assert.match(String(out2.body.output.output_value), /^[A-Za-z0-9]{10}-[A-Za-z0-9]{10}$/);
      assert.equal((await svc.store.resources(child.id)).length, 17);

      // The delete: the nested stack is deleted as a DELETE traversal of its own.
      assert.equal((await h('DELETE', `/stacks/nest-engines/${id}`)).status, 204);
      await until('deleted', async () => ((await statusOf(id)) === 'DELETE_COMPLETE' ? true : null), 60_000);
      assert.equal(await statusOf(child.id), 'DELETE_COMPLETE');
      assert.deepEqual(await svc.store.resources(child.id), []);
      assert.deepEqual(await svc.store.resources(id), []);
      const events = await svc.store.events(child.id);
      assert.ok(events.some((e) => e.resource_name === 's3' && e.action === 'DELETE' && e.status === 'COMPLETE'));
      const left = await svc.store.db.selectFrom('sync_point').selectAll().where('stack_id', '=', child.id).execute();
      assert.deepEqual(left, []);
    });
  });
