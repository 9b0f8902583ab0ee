// heat-engine behaviours that need the engine's own clock or a look inside a running create:
// `timeout_mins` (a create or update past it fails "Timed out", with rollback when enabled), and a
// template resource's nested stack that is visible (physical_resource_id, `nested` link) while it
// is still being created, with a pre-create hook set on one of its resources from the parent's
// environment.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { databaseEngines, startCloud, type TestCloud, until } from './lib/cloud.ts';
import { adminEngineCaller } from './lib/heat-engine.ts';
import type { OrchestrationService } from '../src/orchestration/service.ts';
import type { Caller } from '../src/orchestration/engine/engine.ts';

for (const engine of databaseEngines('heat-engine')) {
  describe(`heat-engine (${engine.name})`, () => {
    let c: TestCloud;
    let project: string;
    let base: string;
    let svc: OrchestrationService;
    let caller: Caller;
    // These tests time out in fractions of a minute: timeout_mins is an integer column on
    // PostgreSQL (as Heat's), so only SQLite stores 0.02.
    const fractionalMinutes = engine.database ? 'fractional timeout_mins need SQLite (an integer column on PG)' : false;

    before(async () => {
      c = await startCloud({ database: engine.database });
      ({ svc, base, project, caller } = await adminEngineCaller(c));
    });
    after(async () => {
      await c?.stop();
    });

    const h = (method: string, p: string, body?: unknown) => c.req(method, `${base}${p}`, body);
    const stackOf = async (id: string) =>
      (await h('GET', `/stacks/${id}`)).body.stack ?? (await svc.store.getStack(id));
    const statusOf = async (id: string) => {
      const row = await svc.store.getStack(id);
      return row ? `${row.action}_${row.status}` : 'GONE';
    };
    const slow = (secs: number) => ({
      heat_template_version: '2018-08-31',
      resources: {
        quick: { type: 'OS::Heat::RandomString' },
        slow: {
          type: 'OS::Heat::TestResource',
          properties: { value: 'x', wait_secs: secs, action_wait_secs: { delete: 0 } },
          depends_on: 'quick',
        },
      },
    });

    it('a create past timeout_mins fails "Timed out" and leaves no resource in progress', {
      skip: fractionalMinutes,
    }, async () => {
      const ref = await svc.engine!.createStack(caller, {
        stack_name: 'timeout1',
        template: slow(30),
        timeout_mins: 0.02,
      });
      await until('timeout1 failed', async () => ((await statusOf(ref.id)) === 'CREATE_FAILED' ? true : null), 15000);
      const row = await svc.store.getStack(ref.id);
      assert.equal(row?.status_reason, 'Timed out');
      const res = await svc.store.resources(ref.id);
      assert.equal(res.find((r) => r.name === 'slow')?.status, 'FAILED');
      assert.equal(res.find((r) => r.name === 'quick')?.status, 'COMPLETE');
      assert.ok(await stackOf(ref.id));
      const del = await h('DELETE', `/stacks/timeout1/${ref.id}`);
      assert.equal(del.status, 204);
      await until('timeout1 deleted', async () => ((await statusOf(ref.id)) === 'DELETE_COMPLETE' ? true : null));
    });

    it('a create past timeout_mins with rollback enabled rolls back', { skip: fractionalMinutes }, async () => {
      const ref = await svc.engine!.createStack(caller, {
        stack_name: 'timeout2',
        template: slow(30),
        timeout_mins: 0.02,
        disable_rollback: false,
      });
      await until(
        'timeout2 rolled back',
        async () => ((await statusOf(ref.id)) === 'ROLLBACK_COMPLETE' ? true : null),
        15000,
      );
      assert.equal((await svc.store.resources(ref.id)).filter((r) => r.action !== 'DELETE').length, 0);
      await h('DELETE', `/stacks/timeout2/${ref.id}`);
      await until('timeout2 deleted', async () => ((await statusOf(ref.id)) === 'DELETE_COMPLETE' ? true : null));
    });

    it('an update past timeout_mins fails "Timed out"; a create within it completes', {
      skip: fractionalMinutes,
    }, async () => {
      const ref = await svc.engine!.createStack(caller, {
        stack_name: 'timeout3',
        template: slow(0),
        timeout_mins: 0.05,
      });
      await until(
        'timeout3 created',
        async () => ((await statusOf(ref.id)) === 'CREATE_COMPLETE' ? true : null),
        15000,
      );
      const r = await h('PATCH', `/stacks/timeout3/${ref.id}`, { existing: true, template: slow(20), timeout_mins: 1 });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      // The API takes whole minutes: the engine's own call is what makes this quick.
      await svc.engine!.stackAction(caller, ref.id, 'cancel_without_rollback').catch(() => undefined);
      await until(
        'timeout3 update stopped',
        async () => ((await statusOf(ref.id)) === 'UPDATE_FAILED' ? true : null),
        15000,
      );
      await svc.engine!.updateStack(caller, ref.id, { existing: true, template: slow(25), timeout_mins: 0.02 });
      await until(
        'timeout3 timed out',
        async () => ((await statusOf(ref.id)) === 'UPDATE_FAILED' ? true : null),
        15000,
      );
      assert.equal((await svc.store.getStack(ref.id))?.status_reason, 'Timed out');
      await h('DELETE', `/stacks/timeout3/${ref.id}`);
      await until('timeout3 deleted', async () => ((await statusOf(ref.id)) === 'DELETE_COMPLETE' ? true : null));
    });

    it('a template resource shows its nested stack while it is created; a nested pre-create hook pauses it', async () => {
      const nested = {
        heat_template_version: '2014-10-16',
        resources: {
          foo_step1: { type: 'OS::Heat::RandomString' },
          foo_step2: { type: 'OS::Heat::RandomString', depends_on: 'foo_step1' },
        },
      };
      const r = await h('POST', '/stacks', {
        stack_name: 'hooknested',
        template: { heat_template_version: '2014-10-16', resources: { nested: { type: 'nested.yaml' } } },
        files: { 'nested.yaml': JSON.stringify(nested) },
        environment: { resource_registry: { resources: { nested: { foo_step2: { hooks: 'pre-create' } } } } },
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const id = r.body.stack.id as string;
      const res = await until(
        'nested resource with its stack',
        async () => {
          const got = await h('GET', `/stacks/hooknested/${id}/resources/nested`);
          return got.body.resource?.physical_resource_id ? got.body.resource : null;
        },
        15000,
      );
      assert.equal(res.resource_status, 'CREATE_IN_PROGRESS');
      const link = (res.links as Array<{ rel: string; href: string }>).find((l) => l.rel === 'nested');
      assert.ok(link?.href.endsWith(`/${res.physical_resource_id}`), JSON.stringify(res.links));
      const nestedId = res.physical_resource_id as string;
      const nestedName = (await h('GET', `/stacks/${nestedId}`)).body.stack?.stack_name as string;
      await until(
        'the hook event',
        async () => {
          const ev = await h('GET', `/stacks/${nestedName}/${nestedId}/resources/foo_step2/events`);
          return (ev.body.events ?? []).some(
            (e: { resource_status_reason: string }) =>
              e.resource_status_reason === 'CREATE paused until Hook pre-create is cleared',
          )
            ? true
            : null;
        },
        15000,
      );
      const sig = await h('POST', `/stacks/${nestedName}/${nestedId}/resources/foo_step2/signal`, {
        unset_hook: 'pre-create',
      });
      assert.ok([200, 204].includes(sig.status), JSON.stringify(sig.body));
      await until('hooknested complete', async () => ((await statusOf(id)) === 'CREATE_COMPLETE' ? true : null), 15000);
      await h('DELETE', `/stacks/hooknested/${id}`);
      await until('hooknested deleted', async () => ((await statusOf(id)) === 'DELETE_COMPLETE' ? true : null));
    });

    it("a nested output that fails makes the parent's get_attr on it an output_error", async () => {
      const nested = {
        heat_template_version: '2015-10-15',
        resources: { a: { type: 'OS::Heat::TestResource', properties: { value: 'a' } } },
        outputs: { out_a: { value: { get_attr: ['a', 'output'] } }, out_b: { value: { get_param: 'foo' } } },
      };
      const template = {
        heat_template_version: '2015-10-15',
        resources: { parent: { type: '1.yaml' } },
        outputs: {
          a: { value: { get_attr: ['parent', 'out_a'] }, description: 'parent a' },
          b: { value: { get_attr: ['parent', 'out_b'] }, description: 'parent b' },
        },
      };
      const files = { '1.yaml': JSON.stringify(nested) };
      const r = await h('POST', '/stacks', { stack_name: 'outerr', template, files });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const id = r.body.stack.id as string;
      await until('outerr created', async () => ((await statusOf(id)) === 'CREATE_COMPLETE' ? true : null), 15000);
      await h('PUT', `/stacks/outerr/${id}`, { template, files });
      await until('outerr updated', async () => ((await statusOf(id)) === 'UPDATE_COMPLETE' ? true : null), 15000);
      const outs = (await h('GET', `/stacks/outerr/${id}`)).body.stack.outputs as Array<Record<string, unknown>>;
      outs.sort((x, y) => String(x.output_key).localeCompare(String(y.output_key)));
      assert.deepEqual(outs, [
        { output_key: 'a', output_value: 'a', description: 'parent a' },
        {
          output_key: 'b',
          output_value: null,
          description: 'parent b',
          output_error: 'Error in parent output out_b: The Parameter (foo) was not provided.',
        },
      ]);
      await h('DELETE', `/stacks/outerr/${id}`);
      await until('outerr deleted', async () => ((await statusOf(id)) === 'DELETE_COMPLETE' ? true : null));
    });

    it('OS::Heat::Stack: another region, or a template that does not parse, is a 400 at create', async () => {
      const remote = 'heat_template_version: 2013-05-23\nresource:\n  r: {type: OS::Heat::RandomString}\n';
      const tmpl = (region: string) => ({
        heat_template_version: '2013-05-23',
        resources: {
          my_stack: {
            type: 'OS::Heat::Stack',
            properties: { context: { region_name: region }, template: { get_file: 'remote.yaml' } },
          },
        },
      });
      const bad = await h('POST', '/stacks', {
        stack_name: 'remote1',
        template: tmpl('DARKHOLE'),
        files: { 'remote.yaml': remote.replace('resource:', 'resources:') },
      });
      assert.equal(bad.status, 400);
      assert.equal(
        bad.body.error.message,
        'Cannot establish connection to Heat endpoint at region "DARKHOLE" due to "public endpoint for orchestration service in DARKHOLE region not found"',
      );
      const invalid = await h('POST', '/stacks', {
        stack_name: 'remote2',
        template: tmpl('RegionOne'),
        files: { 'remote.yaml': remote },
      });
      assert.equal(invalid.status, 400);
      assert.equal(
        invalid.body.error.message,
        'Failed validating stack template using Heat endpoint at region "RegionOne" due to "ERROR: The template section is invalid: resource"',
      );
    });

    it('preview recurses into template resources and resource groups (a list of the nested resources)', async () => {
      const nested = {
        heat_template_version: '2015-04-30',
        parameters: { value: { type: 'string' } },
        resources: { nested: { type: 'OS::Heat::TestResource', properties: { value: { get_param: 'value' } } } },
      };
      const r = await h('POST', '/stacks/preview', {
        stack_name: 'pv',
        template: {
          heat_template_version: '2015-04-30',
          resources: {
            main: { type: 'nested.yaml', properties: { value: 'abc' } },
            rg: { type: 'OS::Heat::ResourceGroup', properties: { count: 2, resource_def: { type: 'OS::Heat::None' } } },
          },
        },
        files: { 'nested.yaml': JSON.stringify(nested) },
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const res = r.body.stack.resources as unknown[][];
      const main = res[0]![0] as Record<string, unknown>;
      assert.equal(main.stack_name, 'pv-main');
      assert.equal(main.parent_resource, 'main');
      assert.equal((main.properties as Record<string, unknown>).value, 'abc');
      assert.deepEqual(
        (res[1] as Array<Record<string, unknown>>).map((x) => x.resource_name),
        ['0', '1'],
      );
    });
  });
}
