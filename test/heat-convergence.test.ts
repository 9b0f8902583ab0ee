// The convergence engine (orchestration.convergenceEngine, engine/convergence.ts): two engine
// instances over the cloud's bus and database share one traversal; an update while an update runs
// (the second wins); update by replacement (the new resource made before the old one goes);
// rollback of a failed create; an engine that dies mid-traversal (halted and unserved: it writes
// nothing more and answers nothing) leaves a stack that can be updated and deleted.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { databaseEngines, startCloud, type TestCloud, until } from './lib/cloud.ts';
import { adminEngineCaller, reachStackStatus, stackStatus } from './lib/heat-engine.ts';
import type { OrchestrationService } from '../src/orchestration/service.ts';
import { type Caller, Engine } from '../src/orchestration/engine/engine.ts';
import { serveEngine } from '../src/orchestration/rpcapi.ts';

for (const db of databaseEngines('heat convergence'))
  describe(`heat convergence engine (${db.name})`, () => {
    let c: TestCloud;
    let base: string;
    let svc: OrchestrationService;
    let caller: Caller;
    const engines: Engine[] = [];
    const unserve = new Map<Engine, () => void>();

    function extraEngine(id: string): Engine {
      const e1 = svc.engine!;
      const e = new Engine(
        svc.store,
        svc.registry,
        svc.ctx.session,
        { ...svc.options, engineId: id },
        svc.region,
        svc.ctx.log,
      );
      e.isAlive = e1.isAlive;
      e.stopRemote = e1.stopRemote;
      e.convergence.cast = (m) => svc.engineRpc.cast().check_resource(m);
      unserve.set(e, serveEngine(svc.ctx.bus, e));
      engines.push(e);
      return e;
    }

    before(async () => {
      c = await startCloud({
        database: db.database,
        configure: (cfg) => {
          cfg.orchestration = {
            ...(cfg.orchestration ?? {}),
            convergenceEngine: true,
            convergenceDelete: true,
            engineLivenessTimeoutMs: 500,
          };
        },
      });
      ({ svc, base, caller } = await adminEngineCaller(c));
      engines.push(svc.engine!);
      extraEngine('engine-two');
    });
    after(async () => {
      for (const e of engines.slice(1)) {
        unserve.get(e)?.();
        await e.drain();
      }
      await c?.stop();
    });

    const h = (method: string, p: string, body?: unknown) => c.req(method, `${base}${p}`, body);
    const statusOf = (id: string) => stackStatus(svc, id);
    const reach = (id: string, want: string, ms = 30_000) => reachStackStatus(svc, id, want, ms);
    const tmpl = (resources: Record<string, unknown>) => ({ heat_template_version: '2018-08-31', resources });
    const create = async (name: string, template: unknown, extra: Record<string, unknown> = {}) => {
      const res = await h('POST', '/stacks', { stack_name: name, template, ...extra });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.stack.id as string;
    };
    const update = async (name: string, id: string, template: unknown) => {
      const res = await h('PUT', `/stacks/${name}/${id}`, { template });
      assert.equal(res.status, 202, JSON.stringify(res.body));
    };
    const remove = async (name: string, id: string) => {
      assert.equal((await h('DELETE', `/stacks/${name}/${id}`)).status, 204);
      await until(`${name} deleted`, async () => ((await statusOf(id)) === 'DELETE_COMPLETE' ? true : null), 30_000);
      assert.deepEqual(await svc.store.resources(id), []);
    };

    it('two engines share one stack: each does some of its resources', async () => {
      const before = engines.map((e) => e.convergence.handled);
      const resources: Record<string, unknown> = {};
      for (let i = 0; i < 12; i++) resources[`r${i}`] = { type: 'OS::Heat::RandomString', properties: { length: 8 } };
      resources.top = {
        type: 'OS::Heat::TestResource',
        properties: { value: { list_join: ['-', [{ get_resource: 'r0' }, { get_attr: ['r1', 'value'] }]] } },
      };
      const id = await create('conv-share', tmpl(resources));
      await reach(id, 'CREATE_COMPLETE');
      const did = engines.map((e, i) => e.convergence.handled - before[i]!);
      assert.ok(
        did.every((n) => n > 0),
        `each engine did some nodes: ${did}`,
      );
      assert.equal(
        did.reduce((a, b) => a + b, 0),
        13,
      );
      const rows = await svc.store.resources(id);
      assert.equal(rows.length, 13);
      const row = await svc.store.getStack(id);
      assert.ok(row?.current_traversal && row.raw_template_id);
      for (const r of rows) {
        assert.equal(`${r.action}_${r.status}`, 'CREATE_COMPLETE');
        assert.equal(r.current_template_id, row.raw_template_id);
        assert.equal(r.engine_id, null);
      }
      assert.deepEqual(JSON.parse(rows.find((r) => r.name === 'r0')!.needed_by!), ['top']);
      const top = rows.find((r) => r.name === 'top')!;
      const r0 = rows.find((r) => r.name === 'r0')!;
      assert.ok(String(top.properties.value).startsWith(`${r0.physical_resource_id}-`));
      // purge_db: the traversal's sync points are gone.
      const left = await svc.store.db.selectFrom('sync_point').selectAll().where('stack_id', '=', id).execute();
      assert.deepEqual(left, []);
      await remove('conv-share', id);
    });

    it('an update while an update runs: the second wins', async () => {
      const t = (value: string, secs: number) =>
        tmpl({
          a: { type: 'OS::Heat::TestResource', properties: { value, action_wait_secs: { update: secs } } },
          b: { type: 'OS::Heat::TestResource', properties: { value: { get_attr: ['a', 'output'] } } },
        });
      const id = await create('conv-upd', t('v0', 0));
      await reach(id, 'CREATE_COMPLETE');
      await update('conv-upd', id, t('v1', 2));
      await until('a updating', async () => {
        const a = await svc.store.resource(id, 'a');
        return a?.action === 'UPDATE' && a.status === 'IN_PROGRESS' ? true : null;
      });
      // While the first update runs (no 409 with convergence), the second supersedes it.
      await update('conv-upd', id, t('v2', 0));
      await reach(id, 'UPDATE_COMPLETE');
      const rows = await svc.store.resources(id);
      assert.equal(rows.length, 2);
      assert.equal(rows.find((r) => r.name === 'a')?.properties.value, 'v2');
      assert.equal(rows.find((r) => r.name === 'b')?.properties.value, 'v2');
      const show = await h('GET', `/stacks/conv-upd/${id}/template`);
      assert.equal(show.body.resources.a.properties.value, 'v2');
      await remove('conv-upd', id);
    });

    it('update by replacement: the new resource is created before the old one is deleted', async () => {
      const t = (v: string) =>
        tmpl({
          r: { type: 'OS::Heat::TestResource', properties: { update_replace_value: v } },
          d: { type: 'OS::Heat::TestResource', properties: { value: { get_resource: 'r' } } },
        });
      const id = await create('conv-repl', t('one'));
      await reach(id, 'CREATE_COMPLETE');
      const old = (await svc.store.resource(id, 'r'))!;
      await update('conv-repl', id, t('two'));
      await reach(id, 'UPDATE_COMPLETE');
      const rows = await svc.store.resources(id);
      assert.equal(rows.length, 2);
      const now = rows.find((r) => r.name === 'r')!;
      assert.notEqual(now.id, old.id);
      assert.equal(now.replaces, old.id);
      assert.notEqual(now.physical_resource_id, old.physical_resource_id);
      assert.equal(rows.find((r) => r.name === 'd')?.properties.value, now.physical_resource_id);
      const events = await svc.store.events(id, 'r');
      const created = events.findIndex(
        (e) => e.action === 'CREATE' && e.status === 'COMPLETE' && e.physical_resource_id === now.physical_resource_id,
      );
      const deleted = events.findIndex(
        (e) => e.action === 'DELETE' && e.status === 'COMPLETE' && e.physical_resource_id === old.physical_resource_id,
      );
      assert.ok(created >= 0 && deleted > created, `created at ${created}, old deleted at ${deleted}`);
      // The old one went after d moved to the new one.
      const dUpdated = (await svc.store.events(id, 'd')).findIndex(
        (e) => e.action === 'UPDATE' && e.status === 'COMPLETE',
      );
      assert.ok(dUpdated >= 0);
      await remove('conv-repl', id);
    });

    it('a failed create rolls back (ROLLBACK_COMPLETE, nothing left); a failed update rolls back to the old template', async () => {
      const bad = tmpl({
        ok: { type: 'OS::Heat::RandomString' },
        boom: { type: 'OS::Heat::TestResource', properties: { fail: true }, depends_on: 'ok' },
      });
      const id = await create('conv-rb', bad, { disable_rollback: false });
      await reach(id, 'ROLLBACK_COMPLETE');
      assert.deepEqual(await svc.store.resources(id), []);
      const events = await svc.store.events(id, 'conv-rb');
      assert.ok(
        events.some(
          (e) => e.action === 'CREATE' && e.status === 'FAILED' && /Test Resource failed oops/.test(e.status_reason),
        ),
      );
      await remove('conv-rb', id);

      const good = tmpl({ a: { type: 'OS::Heat::TestResource', properties: { value: 'keep' } } });
      const id2 = await create('conv-rb2', good, { disable_rollback: false });
      await reach(id2, 'CREATE_COMPLETE');
      await update(
        'conv-rb2',
        id2,
        tmpl({
          a: { type: 'OS::Heat::TestResource', properties: { value: 'changed' } },
          boom: { type: 'OS::Heat::TestResource', properties: { fail: true }, depends_on: 'a' },
        }),
      );
      await reach(id2, 'ROLLBACK_COMPLETE');
      const rows = await svc.store.resources(id2);
      assert.deepEqual(
        rows.map((r) => [r.name, r.properties.value]),
        [['a', 'keep']],
      );
      await remove('conv-rb2', id2);
    });

    it('a delete while a create runs supersedes it: a traversal of clean-up nodes shared by the engines', async () => {
      const resources: Record<string, unknown> = {};
      for (let i = 0; i < 10; i++) resources[`r${i}`] = { type: 'OS::Heat::RandomString' };
      resources.slow = {
        type: 'OS::Heat::TestResource',
        properties: { value: 'x', action_wait_secs: { create: 60, delete: 0 } },
        depends_on: ['r0'],
      };
      const id = await create('conv-del', tmpl(resources));
      await until('slow creating', async () => {
        const r = await svc.store.resource(id, 'slow');
        return r?.status === 'IN_PROGRESS' && r.engine_id ? true : null;
      });
      const createTraversal = (await svc.store.getStack(id))!.current_traversal;
      const before = engines.map((e) => e.convergence.handled);
      const t0 = Date.now();
      assert.equal((await h('DELETE', `/stacks/conv-del/${id}`)).status, 204);
      const row = (await svc.store.getStack(id))!;
      assert.equal(`${row.action}_${row.status}`, 'DELETE_IN_PROGRESS');
      assert.notEqual(row.current_traversal, createTraversal);
      // Gone: DELETE_COMPLETE, its event written and the stack's templates purged.
      await until(
        'conv-del deleted',
        async () =>
          (await statusOf(id)) === 'DELETE_COMPLETE' &&
          !(await svc.store.db.selectFrom('raw_template').select('id').where('stack_id', '=', id).execute()).length
            ? true
            : null,
        20_000,
      );
      // The create's 60 s wait was stopped, not waited for.
      assert.ok(Date.now() - t0 < 15_000, `deleted in ${Date.now() - t0} ms`);
      assert.deepEqual(await svc.store.resources(id), []);
      const did = engines.map((e, i) => e.convergence.handled - before[i]!);
      assert.ok(did.reduce((a, b) => a + b, 0) >= 11, `clean-up nodes: ${did}`);
      assert.ok(
        did.every((n) => n > 0),
        `each engine did some clean-up nodes: ${did}`,
      );
      const events = await svc.store.events(id, 'conv-del');
      assert.ok(!events.some((e) => e.action === 'CREATE' && e.status === 'COMPLETE'));
      assert.ok(events.some((e) => e.action === 'DELETE' && e.status === 'COMPLETE'));
      for (const table of ['sync_point', 'raw_template'] as const)
        assert.deepEqual(
          await svc.store.db.selectFrom(table).select('stack_id').where('stack_id', '=', id).execute(),
          [],
          table,
        );
    });

    it('during a traversal: signals and hooks work; snapshot answers 409; suspend, resume and check run under the stack lock as Zed', async () => {
      const id = await create(
        'conv-act',
        tmpl({
          handle: { type: 'OS::Heat::WaitConditionHandle' },
          wait: {
            type: 'OS::Heat::WaitCondition',
            properties: { handle: { get_resource: 'handle' }, timeout: 60 },
          },
          held: { type: 'OS::Heat::RandomString' },
        }),
        { environment: { resource_registry: { resources: { held: { hooks: 'pre-create' } } } } },
      );
      await until('waiting', async () => {
        const w = await svc.store.resource(id, 'wait');
        const held = await svc.store.resource(id, 'held');
        return w?.status === 'IN_PROGRESS' && held?.data.pending_hook ? true : null;
      });
      // Zed's stack_snapshot refuses an IN_PROGRESS stack.
      const snap = await h('POST', `/stacks/conv-act/${id}/snapshots`, { name: 's' });
      assert.equal(snap.status, 409, JSON.stringify(snap.body));
      assert.equal(snap.body.error.type, 'ActionInProgress');
      assert.equal(await statusOf(id), 'CREATE_IN_PROGRESS');
      // suspend: accepted (the traversal holds no stack lock); the resource being created fails it.
      const reason = async () => (await svc.store.getStack(id))?.status_reason ?? '';
      const act = async (action: string) => {
        const res = await h('POST', `/stacks/conv-act/${id}/actions`, { [action]: null });
        assert.equal(res.status, 200, `${action}: ${JSON.stringify(res.body)}`);
        await until(`${action} done`, async () => {
          const s = await statusOf(id);
          return s.startsWith(action.toUpperCase()) && !s.endsWith('IN_PROGRESS') ? s : null;
        });
        return statusOf(id);
      };
      assert.equal(await act('suspend'), 'SUSPEND_FAILED');
      assert.match(
        await reason(),
        /^Resource SUSPEND failed: Error: resources\.(wait|held): State \('CREATE', 'IN_PROGRESS'\) invalid for suspend$/,
      );
      assert.equal((await svc.store.resource(id, 'wait'))?.action, 'CREATE', 'the resource keeps its state');
      assert.equal(await act('resume'), 'RESUME_FAILED');
      assert.match(
        await reason(),
        /^Resource RESUME failed: Error: resources\.\w+: State \('\w+', '\w+'\) invalid for resume$/,
      );
      assert.match(await act('check'), /^CHECK_(COMPLETE|FAILED)$/);
      // The traversal went on: the hook and the signal still finish the create, whose end leaves the
      // stack the state of the last action (Zed's mark_complete does not persist it).
      const hook = await h('POST', `/stacks/conv-act/${id}/resources/held/signal`, { unset_hook: 'pre-create' });
      assert.equal(hook.status, 200, JSON.stringify(hook.body));
      const sig = await h('POST', `/stacks/conv-act/${id}/resources/handle/signal`, {
        status: 'SUCCESS',
        reason: 'ok',
        data: 'done',
        id: '1',
      });
      assert.equal(sig.status, 200, JSON.stringify(sig.body));
      await until('created', async () => {
        const w = await svc.store.resource(id, 'wait');
        const held = await svc.store.resource(id, 'held');
        return w?.action === 'CREATE' && w.status === 'COMPLETE' && held?.status === 'COMPLETE' ? true : null;
      });
      await new Promise((r) => setTimeout(r, 300));
      assert.match(await statusOf(id), /^CHECK_(COMPLETE|FAILED)$/);
      // A stack the traversal finished under another action is updated and deleted as any.
      const upd = await h('PATCH', `/stacks/conv-act/${id}`, { existing: true, parameters: {} });
      assert.equal(upd.status, 202, JSON.stringify(upd.body));
      await reach(id, 'UPDATE_COMPLETE');
      await remove('conv-act', id);
    });

    it('cancel_without_rollback stops a create (Zed allows it beside UPDATE); cancel_update refuses a create', async () => {
      const id = await create(
        'conv-cwr',
        tmpl({ slow: { type: 'OS::Heat::TestResource', properties: { action_wait_secs: { create: 30 } } } }),
      );
      await until('creating', async () =>
        (await svc.store.resource(id, 'slow'))?.status === 'IN_PROGRESS' ? true : null,
      );
      const refused = await h('POST', `/stacks/conv-cwr/${id}/actions`, { cancel_update: null });
      assert.equal(refused.status, 400, JSON.stringify(refused.body));
      assert.equal(refused.body.error.message, 'Cancelling update when stack is CREATE_IN_PROGRESS is not supported.');
      const res = await h('POST', `/stacks/conv-cwr/${id}/actions`, { cancel_without_rollback: null });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      await until('cancelled', async () => ((await statusOf(id)) === 'CREATE_FAILED' ? true : null));
      assert.equal((await svc.store.getStack(id))?.status_reason, 'Stack CREATE cancelled');
      await remove('conv-cwr', id);
    });

    it('a rollback after a failed replacement makes the replaced resource current again (no new one)', async () => {
      const t = (v: string, fail: boolean) =>
        tmpl({
          r: { type: 'OS::Heat::TestResource', properties: { update_replace_value: v } },
          d: { type: 'OS::Heat::TestResource', properties: { value: { get_resource: 'r' } } },
          ...(fail ? { boom: { type: 'OS::Heat::TestResource', properties: { fail: true }, depends_on: 'r' } } : {}),
        });
      const id = await create('conv-rbrepl', t('one', false), { disable_rollback: false });
      await reach(id, 'CREATE_COMPLETE');
      const old = (await svc.store.resource(id, 'r'))!;
      await update('conv-rbrepl', id, t('two', true));
      await reach(id, 'ROLLBACK_COMPLETE');
      const rows = await svc.store.resources(id);
      assert.deepEqual(rows.map((x) => x.name).sort(), ['d', 'r']);
      const r = rows.find((x) => x.name === 'r')!;
      assert.equal(r.id, old.id);
      assert.equal(r.physical_resource_id, old.physical_resource_id);
      assert.equal(r.replaced_by ?? null, null);
      assert.equal(rows.find((x) => x.name === 'd')?.properties.value, old.physical_resource_id);
      // Two creates of r: the first and the failed update's replacement; none in the rollback.
      const creates = (await svc.store.events(id, 'r')).filter((e) => e.action === 'CREATE' && e.status === 'COMPLETE');
      assert.equal(creates.length, 2);
      await remove('conv-rbrepl', id);
    });

    it('an engine killed mid-traversal: the stack is updated, then deleted, by the others', async () => {
      // Only the extra engines take nodes from here on, so that the one killed is not the API's.
      (svc as unknown as { stopServing: () => void }).stopServing();
      extraEngine('engine-three');
      const t = (secs: number) =>
        tmpl({
          quick: { type: 'OS::Heat::RandomString' },
          slow: {
            type: 'OS::Heat::TestResource',
            properties: { value: 'x', wait_secs: secs, action_wait_secs: { delete: 0 } },
            depends_on: 'quick',
          },
        });
      const id = await create('conv-kill', t(60));
      const holder = await until('slow claimed', async () => {
        const r = await svc.store.resource(id, 'slow');
        return r?.status === 'IN_PROGRESS' && r.engine_id ? r.engine_id : null;
      });
      const victim = engines.find((e) => e.engineId === holder)!;
      assert.ok(victim && victim !== svc.engine);
      unserve.get(victim)!();
      victim.halt();
      assert.equal(await statusOf(id), 'CREATE_IN_PROGRESS');
      await update('conv-kill', id, t(0));
      await reach(id, 'UPDATE_COMPLETE');
      const rows = await svc.store.resources(id);
      assert.deepEqual(rows.map((r) => `${r.name}:${r.status}`).sort(), ['quick:COMPLETE', 'slow:COMPLETE']);
      await remove('conv-kill', id);

      // Killed again mid-create: the stack is deleted by the survivor.
      const survivor = engines.find((e) => e !== victim && e !== svc.engine)!;
      const spare = extraEngine('engine-four');
      const id2 = await create('conv-kill2', t(60));
      const holder2 = await until('slow claimed', async () => {
        const r = await svc.store.resource(id2, 'slow');
        return r?.status === 'IN_PROGRESS' && r.engine_id ? r.engine_id : null;
      });
      const victim2 = engines.find((e) => e.engineId === holder2)!;
      assert.ok(victim2 === survivor || victim2 === spare);
      unserve.get(victim2)!();
      victim2.halt();
      await remove('conv-kill2', id2);
    });
  });
