// The orchestration service (Heat v1) against the real HTTP API of an in-process cloud: stacks
// created, shown by name (redirect) and id, updated (PUT and PATCH), deleted; resources, events,
// outputs; failures with rollback; the stack lock; hooks; nested stacks (ResourceGroup, template
// resources); Neutron resources through the network API (trunks, extra route sets); snapshots, abandon and adopt; software
// configs; validation errors in Heat's body; a resource plugin loaded from a plugin directory.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { signalReason } from '../src/orchestration/engine/engine.ts';
import { databaseEngines, startCloud, type TestCloud, until } from './lib/cloud.ts';

for (const engine of databaseEngines('orchestration')) {
  describe(`orchestration (${engine.name})`, () => {
    let c: TestCloud;
    let project: string;
    let base: string;
    let pluginDir: string;
    const zabbixCalls: Array<{ method: string; params: Record<string, unknown> }> = [];
    let zabbix: http.Server;
    let zabbixUrl: string;

    before(async () => {
      // A stand-in for Zabbix's JSON-RPC API, for the example plugin.
      zabbix = http.createServer((req, res) => {
        let body = '';
        req.on('data', (d) => (body += d));
        req.on('end', () => {
          const msg = JSON.parse(body);
          zabbixCalls.push({ method: msg.method, params: msg.params });
          const result =
            msg.method === 'host.create'
              ? { hostids: ['10084'] }
              : msg.method === 'host.delete'
                ? { hostids: msg.params }
                : {};
          res.setHeader('Content-Type', 'application/json');
          res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result }));
        });
      });
      await new Promise<void>((r) => zabbix.listen(0, '127.0.0.1', () => r()));
      zabbixUrl = `http://127.0.0.1:${(zabbix.address() as { port: number }).port}/api_jsonrpc.php`;
      pluginDir = fs.mkdtempSync(path.join(os.tmpdir(), 'heat-plugins-'));
      fs.copyFileSync(path.resolve('examples/heat-plugins/zabbix_host.mjs'), path.join(pluginDir, 'zabbix_host.mjs'));
      c = await startCloud({
        database: engine.database,
        configure: (cfg) => {
          cfg.orchestration = { pluginDirs: [pluginDir] };
        },
      });
      const tok = await c.req('GET', '/v3/auth/tokens', undefined, { headers: { 'X-Subject-Token': c.adminToken } });
      project = tok.body.token.project.id;
      base = `${c.url}/heat-api/v1/${project}`;
    });
    after(async () => {
      await c?.stop();
      zabbix?.close();
      fs.rmSync(pluginDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    });

    const h = (method: string, p: string, body?: unknown, headers?: Record<string, string>) =>
      c.req(method, `${base}${p}`, body, { headers });
    const waitStatus = async (name: string, id: string, want: string, ms = 15000) => {
      let last = '';
      await until(
        `stack ${name} ${want}`,
        async () => {
          const r = await h('GET', `/stacks/${name}/${id}`);
          const st = r.body.stack?.stack_status as string | undefined;
          last = `${st} ${r.body.stack?.stack_status_reason}`;
          // CREATE_FAILED comes before a rollback: not the end when a rollback is awaited.
          const rollingBack = want.startsWith('ROLLBACK') && st === 'CREATE_FAILED';
          return st === want || (st?.endsWith('FAILED') && want !== st && !rollingBack) ? r : null;
        },
        ms,
      );
      const r = await h('GET', `/stacks/${name}/${id}`);
      assert.equal(r.body.stack.stack_status, want, last);
      return r.body.stack;
    };
    const create = async (name: string, template: unknown, extra: Record<string, unknown> = {}) => {
      const r = await h('POST', '/stacks', { stack_name: name, template, ...extra });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.stack.id as string;
    };

    it('answers the version document and build info', async () => {
      const v = await c.req('GET', `${c.url}/heat-api/`, undefined, { token: null });
      assert.equal(v.status, 300);
      assert.equal(v.body.versions[0].id, 'v1.0');
      const b = await h('GET', '/build_info');
      assert.equal(b.status, 200);
      assert.ok(b.body.engine);
      const s = await h('GET', '/services');
      assert.equal(s.status, 200);
      assert.equal(s.body.services[0].binary, 'heat-engine');
      assert.equal(s.body.services[0].status, 'up');
      // Heat's service row (format_service), kept by core's heartbeat.
      assert.deepEqual(Object.keys(s.body.services[0]).sort(), [
        'binary',
        'created_at',
        'deleted_at',
        'engine_id',
        'host',
        'hostname',
        'id',
        'report_interval',
        'status',
        'topic',
        'updated_at',
      ]);
      assert.equal(s.body.services[0].topic, 'engine');
      assert.equal(s.body.services[0].deleted_at, null);
    });

    it('creates, shows, updates and deletes a stack with outputs, resources and events', async () => {
      const template = {
        heat_template_version: '2016-10-14',
        description: 'two resources',
        parameters: { val: { type: 'string', default: 'one' } },
        resources: {
          rand: { type: 'OS::Heat::RandomString', properties: { length: 8 } },
          test: { type: 'OS::Heat::TestResource', properties: { value: { get_param: 'val' } }, depends_on: ['rand'] },
        },
        outputs: {
          out: { value: { get_attr: ['test', 'output'] }, description: 'the value' },
          rnd: { value: { get_attr: ['rand', 'value'] } },
        },
      };
      const id = await create('s1', template);
      const stack = await waitStatus('s1', id, 'CREATE_COMPLETE');
      assert.equal(stack.outputs.find((o: { output_key: string }) => o.output_key === 'out').output_value, 'one');
      assert.equal(stack.outputs.find((o: { output_key: string }) => o.output_key === 'rnd').output_value.length, 8);
      assert.equal(stack.parameters['OS::stack_name'], 's1');
      // The name-only URL redirects to the canonical one.
      const res = await fetch(`${base}/stacks/s1`, { headers: { 'X-Auth-Token': c.adminToken }, redirect: 'manual' });
      assert.equal(res.status, 302);
      assert.match(res.headers.get('location')!, new RegExp(`/stacks/s1/${id}$`));
      const list = await h('GET', '/stacks');
      assert.ok(list.body.stacks.some((s: { id: string }) => s.id === id));
      const resources = await h('GET', `/stacks/s1/${id}/resources`);
      assert.deepEqual(resources.body.resources.map((r: { resource_name: string }) => r.resource_name).sort(), [
        'rand',
        'test',
      ]);
      assert.deepEqual(
        resources.body.resources.find((r: { resource_name: string }) => r.resource_name === 'rand').required_by,
        ['test'],
      );
      const shown = await h('GET', `/stacks/s1/${id}/resources/test`);
      assert.equal(shown.body.resource.attributes.output, 'one');
      const events = await h('GET', `/stacks/s1/${id}/events`);
      const statuses = events.body.events.map(
        (e: { resource_name: string; resource_status: string }) => `${e.resource_name} ${e.resource_status}`,
      );
      assert.deepEqual(statuses.slice(0, 1), ['s1 CREATE_IN_PROGRESS']);
      assert.ok(statuses.indexOf('rand CREATE_COMPLETE') < statuses.indexOf('test CREATE_IN_PROGRESS'));
      assert.equal(statuses.at(-1), 's1 CREATE_COMPLETE');
      const one = await h('GET', `/stacks/s1/${id}/resources/test/events/${events.body.events[3].id}`);
      assert.equal(one.status, events.body.events[3].resource_name === 'test' ? 200 : 404);
      // PATCH keeps the template and changes a parameter: an in-place update.
      const patch = await h('PATCH', `/stacks/s1/${id}`, { parameters: { val: 'two' } });
      assert.equal(patch.status, 202, JSON.stringify(patch.body));
      await waitStatus('s1', id, 'UPDATE_COMPLETE');
      const out = await h('GET', `/stacks/s1/${id}/outputs/out`);
      assert.equal(out.body.output.output_value, 'two');
      const rnd1 = (await h('GET', `/stacks/s1/${id}/outputs/rnd`)).body.output.output_value;
      // PUT with a changed length replaces the random string.
      const t2 = structuredClone(template);
      t2.resources.rand.properties.length = 12;
      assert.equal((await h('PUT', `/stacks/s1/${id}`, { template: t2, parameters: { val: 'three' } })).status, 202);
      await waitStatus('s1', id, 'UPDATE_COMPLETE');
      const rnd2 = (await h('GET', `/stacks/s1/${id}/outputs/rnd`)).body.output.output_value;
      assert.equal(rnd2.length, 12);
      assert.notEqual(rnd1, rnd2);
      assert.equal((await h('GET', `/stacks/s1/${id}/template`)).body.resources.rand.properties.length, 12);
      // Mark unhealthy, then delete.
      const mu = await h('PATCH', `/stacks/s1/${id}/resources/test`, {
        mark_unhealthy: true,
        resource_status_reason: 'gone',
      });
      assert.equal(mu.status, 200, JSON.stringify(mu.body));
      const t = await h('GET', `/stacks/s1/${id}/resources/test`);
      assert.equal(t.body.resource.resource_status, 'CHECK_FAILED');
      assert.equal((await h('POST', `/stacks/s1/${id}/resources/test/signal`)).status, 400);
      assert.equal((await h('DELETE', `/stacks/s1/${id}`)).status, 204);
      await waitStatus('s1', id, 'DELETE_COMPLETE');
      assert.equal((await h('GET', '/stacks/s1')).status, 404);
    });

    it('answers Heat error bodies for bad templates and parameters', async () => {
      const bad = await h('POST', '/stacks', {
        stack_name: 'bad',
        template: { heat_template_version: '2016-10-14', resources: { x: { type: 'OS::No::Such' } } },
      });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.code, 400);
      assert.equal(bad.body.title, 'Bad Request');
      assert.equal(bad.body.error.traceback, null);
      assert.match(bad.body.error.message, /OS::No::Such/);
      const prop = await h('POST', '/stacks', {
        stack_name: 'bad2',
        template: {
          heat_template_version: '2016-10-14',
          resources: { x: { type: 'OS::Heat::TestResource', properties: { nope: 1 } } },
        },
      });
      assert.equal(prop.status, 400);
      assert.match(prop.body.error.message, /Unknown Property nope/);
      const name = await h('POST', '/stacks', {
        stack_name: '1bad',
        template: { heat_template_version: '2016-10-14' },
      });
      assert.equal(name.status, 400);
      const dup1 = await create('dup', { heat_template_version: '2016-10-14' });
      await waitStatus('dup', dup1, 'CREATE_COMPLETE');
      const dup = await h('POST', '/stacks', { stack_name: 'dup', template: { heat_template_version: '2016-10-14' } });
      assert.equal(dup.status, 409);
      assert.equal(dup.body.error.type, 'StackExists');
      const v = await h('POST', '/validate', {
        template: {
          heat_template_version: '2016-10-14',
          parameters: { p: { type: 'string' } },
          resources: { t: { type: 'OS::Heat::TestResource', properties: { value: { get_param: 'p' } } } },
        },
      });
      assert.equal(v.status, 200, JSON.stringify(v.body));
      assert.equal(v.body.Parameters.p.Type, 'String');
      const missing = await h('GET', '/stacks/nope/00000000-0000-0000-0000-000000000000');
      assert.equal(missing.status, 404);
      assert.equal(missing.body.error.type, 'EntityNotFound');
    });

    it('fails a stack with the resource reason and rolls it back when asked', async () => {
      const template = {
        heat_template_version: '2016-10-14',
        resources: {
          ok: { type: 'OS::Heat::TestResource' },
          bad: { type: 'OS::Heat::TestResource', properties: { fail: true }, depends_on: 'ok' },
        },
      };
      const id = await create('failing', template);
      const s = await waitStatus('failing', id, 'CREATE_FAILED');
      assert.match(s.stack_status_reason, /Resource CREATE failed: Error: resources.bad: Test Resource failed oops/);
      const id2 = await create('rollingback', template, { disable_rollback: false });
      await waitStatus('rollingback', id2, 'ROLLBACK_COMPLETE');
      assert.deepEqual((await h('GET', `/stacks/rollingback/${id2}/resources`)).body.resources, []);
    });

    it('runs a suspend under the stack lock while a traversal runs (an update supersedes it), and deletes a stack mid-create', async () => {
      const template = {
        heat_template_version: '2016-10-14',
        resources: { slow: { type: 'OS::Heat::TestResource', properties: { wait_secs: 3 } } },
      };
      const id = await create('locked', template);
      await new Promise((r) => setTimeout(r, 200));
      // The convergence engine (the default): an update while the create runs is a newer traversal.
      const upd = await h('PATCH', `/stacks/locked/${id}`, { parameters: {} });
      assert.equal(upd.status, 202, JSON.stringify(upd.body));
      // A suspend meanwhile runs as Zed's stack_suspend, under the stack lock a traversal does not
      // hold: accepted, and failed by the resource the traversal is working on.
      const act = await h('POST', `/stacks/locked/${id}/actions`, { suspend: null });
      assert.equal(act.status, 200, JSON.stringify(act.body));
      let st: { stack_status: string; stack_status_reason: string } | null = null;
      await until('suspend done', async () => {
        st = (await h('GET', `/stacks/locked/${id}`)).body.stack;
        return st && /^SUSPEND_(COMPLETE|FAILED)$/.test(st.stack_status) ? true : null;
      });
      const done = st as unknown as { stack_status: string; stack_status_reason: string };
      if (done.stack_status === 'SUSPEND_FAILED')
        assert.match(
          done.stack_status_reason,
          /^Resource SUSPEND failed: Error: resources\.slow: State \('\w+', '\w+'\) invalid for suspend$/,
        );
      assert.equal((await h('DELETE', `/stacks/locked/${id}`)).status, 204);
      await waitStatus('locked', id, 'DELETE_COMPLETE');
    });

    it('steals the lock of a dead engine and fails what it left in progress', async () => {
      const svc = c.cloud.services.find((s) => s.catalogEntry.name === 'orchestration') as unknown as {
        store: { tryLock(id: string, engine: string): Promise<string | null> };
        engine: { recover(): Promise<void> };
      };
      const id = await create('orphan', { heat_template_version: '2016-10-14' });
      await waitStatus('orphan', id, 'CREATE_COMPLETE');
      // An engine that is gone holds the lock.
      assert.equal(await svc.store.tryLock(id, 'dead-engine'), null);
      const upd = await h('PATCH', `/stacks/orphan/${id}`, { parameters: {} });
      assert.equal(upd.status, 202, JSON.stringify(upd.body));
      await waitStatus('orphan', id, 'UPDATE_COMPLETE');
      assert.equal((await h('DELETE', `/stacks/orphan/${id}`)).status, 204);
      await waitStatus('orphan', id, 'DELETE_COMPLETE');
    });

    it('pauses a resource on a pre-create hook until the hook is cleared', async () => {
      const id = await create(
        'hooked',
        {
          heat_template_version: '2016-10-14',
          resources: { a: { type: 'OS::Heat::TestResource' }, b: { type: 'OS::Heat::TestResource' } },
        },
        { environment: { resource_registry: { resources: { a: { hooks: 'pre-create' } } } } },
      );
      await until(
        'hook event',
        async () => {
          const ev = await h('GET', `/stacks/hooked/${id}/events`);
          return ev.body.events.some(
            (e: { resource_status_reason: string }) =>
              e.resource_status_reason === 'CREATE paused until Hook pre-create is cleared',
          );
        },
        5000,
      );
      assert.equal((await h('GET', `/stacks/hooked/${id}`)).body.stack.stack_status, 'CREATE_IN_PROGRESS');
      const sig = await h('POST', `/stacks/hooked/${id}/resources/a/signal`, { unset_hook: 'pre-create' });
      assert.equal(sig.status, 200, JSON.stringify(sig.body));
      await waitStatus('hooked', id, 'CREATE_COMPLETE');
    });

    it('creates nested stacks: a ResourceGroup and a template resource', async () => {
      const id = await create(
        'nested',
        {
          heat_template_version: '2016-10-14',
          resources: {
            group: {
              type: 'OS::Heat::ResourceGroup',
              properties: {
                count: 3,
                resource_def: { type: 'OS::Heat::TestResource', properties: { value: 'v%index%' } },
              },
            },
            mine: { type: 'My::Thing', properties: { word: 'hello' } },
          },
          outputs: {
            values: { value: { get_attr: ['group', 'output'] } },
            first: { value: { get_attr: ['group', 'resource.0.output'] } },
            said: { value: { get_attr: ['mine', 'said'] } },
          },
        },
        {
          files: {
            'thing.yaml': JSON.stringify({
              heat_template_version: '2016-10-14',
              parameters: { word: { type: 'string' } },
              resources: { inner: { type: 'OS::Heat::TestResource', properties: { value: { get_param: 'word' } } } },
              outputs: { said: { value: { get_attr: ['inner', 'output'] } } },
            }),
          },
          environment: { resource_registry: { 'My::Thing': 'thing.yaml' } },
        },
      );
      const s = await waitStatus('nested', id, 'CREATE_COMPLETE');
      const out = Object.fromEntries(
        s.outputs.map((o: { output_key: string; output_value: unknown }) => [o.output_key, o.output_value]),
      );
      assert.deepEqual(out.values, ['v0', 'v1', 'v2']);
      assert.equal(out.first, 'v0');
      assert.equal(out.said, 'hello');
      const deep = await h('GET', `/stacks/nested/${id}/resources?nested_depth=2`);
      assert.equal(deep.body.resources.length, 2 + 3 + 1);
      // Scale the group down in place.
      const upd = await h('PATCH', `/stacks/nested/${id}`, {
        template: {
          heat_template_version: '2016-10-14',
          resources: {
            group: {
              type: 'OS::Heat::ResourceGroup',
              properties: {
                count: 1,
                resource_def: { type: 'OS::Heat::TestResource', properties: { value: 'v%index%' } },
              },
            },
            mine: { type: 'My::Thing', properties: { word: 'hello' } },
          },
          outputs: { values: { value: { get_attr: ['group', 'output'] } } },
        },
      });
      assert.equal(upd.status, 202, JSON.stringify(upd.body));
      const s2 = await waitStatus('nested', id, 'UPDATE_COMPLETE');
      assert.deepEqual(s2.outputs[0].output_value, ['v0']);
      assert.equal((await h('DELETE', `/stacks/nested/${id}`)).status, 204);
      await waitStatus('nested', id, 'DELETE_COMPLETE');
      const left = await h('GET', '/stacks?show_nested=true');
      assert.ok(!left.body.stacks.some((x: { stack_name: string }) => x.stack_name.startsWith('nested-')));
    });

    it('creates networks, subnets, ports and a security group through the network API, and removes them', async () => {
      const id = await create('netstack', {
        heat_template_version: '2016-10-14',
        resources: {
          net: { type: 'OS::Neutron::Net', properties: { name: 'heat-net' } },
          subnet: {
            type: 'OS::Neutron::Subnet',
            properties: { network: { get_resource: 'net' }, cidr: '10.77.0.0/24' },
          },
          sg: {
            type: 'OS::Neutron::SecurityGroup',
            properties: { rules: [{ protocol: 'tcp', port_range_min: 22, port_range_max: 22 }] },
          },
          port: {
            type: 'OS::Neutron::Port',
            properties: {
              network: { get_resource: 'net' },
              fixed_ips: [{ subnet: { get_resource: 'subnet' } }],
              security_groups: [{ get_resource: 'sg' }],
            },
          },
        },
        outputs: { ip: { value: { get_attr: ['port', 'fixed_ips', 0, 'ip_address'] } } },
      });
      const s = await waitStatus('netstack', id, 'CREATE_COMPLETE');
      assert.match(s.outputs[0].output_value, /^10\.77\.0\./);
      const nets = await c.req('GET', `${c.url}/networking/v2.0/networks?name=heat-net`);
      assert.equal(nets.body.networks.length, 1);
      assert.equal((await h('DELETE', `/stacks/netstack/${id}`)).status, 204);
      await waitStatus('netstack', id, 'DELETE_COMPLETE');
      const after = await c.req('GET', `${c.url}/networking/v2.0/networks?name=heat-net`);
      assert.equal(after.body.networks.length, 0);
    });

    it('keeps the extra routes of a router (ExtraRouteSet) and the subports of a trunk in step with updates', async () => {
      const tpl = (routes: unknown[], subs: unknown[]) => ({
        heat_template_version: 'pike',
        resources: {
          net: { type: 'OS::Neutron::Net' },
          subnet: {
            type: 'OS::Neutron::Subnet',
            properties: { network: { get_resource: 'net' }, cidr: '10.78.0.0/24' },
          },
          router: { type: 'OS::Neutron::Router' },
          ri: {
            type: 'OS::Neutron::RouterInterface',
            properties: { router: { get_resource: 'router' }, subnet: { get_resource: 'subnet' } },
          },
          ers: { type: 'OS::Neutron::ExtraRouteSet', properties: { router: { get_resource: 'router' }, routes } },
          parent: { type: 'OS::Neutron::Port', properties: { network: { get_resource: 'net' } } },
          sub1: { type: 'OS::Neutron::Port', properties: { network: { get_resource: 'net' } } },
          sub2: { type: 'OS::Neutron::Port', properties: { network: { get_resource: 'net' } } },
          trunk: {
            type: 'OS::Neutron::Trunk',
            properties: { name: 'heat-trunk', port: { get_resource: 'parent' }, sub_ports: subs },
          },
        },
        outputs: {
          parent: { value: { get_attr: ['trunk', 'port_id'] } },
          router: { value: { get_resource: 'router' } },
        },
      });
      const sub = (p: string, id: number) => ({
        port: { get_resource: p },
        segmentation_type: 'vlan',
        segmentation_id: id,
      });
      const r1 = { destination: '10.0.10.0/24', nexthop: '10.78.0.10' };
      const r2 = { destination: '10.0.11.0/24', nexthop: '10.78.0.11' };
      const id = await create('ers', tpl([r1, r2], [sub('sub1', 10)]));
      const s = await waitStatus('ers', id, 'CREATE_COMPLETE');
      const out = (k: string) => s.outputs.find((o: { output_key: string }) => o.output_key === k).output_value;
      const routes = async () =>
        (
          (await c.req('GET', `${c.url}/networking/v2.0/routers/${out('router')}`)).body.router.routes as Array<{
            destination: string;
          }>
        )
          .map((x) => x.destination)
          .sort();
      const subports = async () =>
        (
          (await c.req('GET', `${c.url}/networking/v2.0/ports/${out('parent')}`)).body.port.trunk_details
            .sub_ports as Array<{
            segmentation_id: number;
          }>
        )
          .map((x) => x.segmentation_id)
          .sort();
      assert.deepEqual(await routes(), ['10.0.10.0/24', '10.0.11.0/24']);
      assert.deepEqual(await subports(), [10]);
      // A route the router has (made outside the set) is kept; the set's own are diffed.
      const extra = { destination: '10.0.12.0/24', nexthop: '10.78.0.12' };
      const add = await c.req('PUT', `${c.url}/networking/v2.0/routers/${out('router')}/add_extraroutes`, {
        router: { routes: [extra] },
      });
      assert.equal(add.status, 200, JSON.stringify(add.body));
      assert.equal(
        (await h('PUT', `/stacks/ers/${id}`, { template: tpl([r2], [sub('sub1', 99), sub('sub2', 20)]) })).status,
        202,
      );
      await waitStatus('ers', id, 'UPDATE_COMPLETE');
      assert.deepEqual(await routes(), ['10.0.11.0/24', '10.0.12.0/24']);
      assert.deepEqual(await subports(), [20, 99]);
      // The outside route would keep the interface (its next hop's) from going away.
      await c.req('PUT', `${c.url}/networking/v2.0/routers/${out('router')}/remove_extraroutes`, {
        router: { routes: [extra] },
      });
      assert.equal((await h('DELETE', `/stacks/ers/${id}`)).status, 204);
      await waitStatus('ers', id, 'DELETE_COMPLETE');
    });

    it('snapshots, abandons and adopts, exports, and suspends and resumes a stack', async () => {
      const template = {
        heat_template_version: '2016-10-14',
        resources: { r: { type: 'OS::Heat::RandomString' } },
        outputs: { v: { value: { get_attr: ['r', 'value'] } } },
      };
      const id = await create('snap', template);
      const s = await waitStatus('snap', id, 'CREATE_COMPLETE');
      const value = s.outputs[0].output_value;
      const snap = await h('POST', `/stacks/snap/${id}/snapshots`, { name: 'first' });
      assert.equal(snap.status, 200, JSON.stringify(snap.body));
      assert.equal(snap.body.status, 'COMPLETE');
      assert.equal((await h('GET', `/stacks/snap/${id}/snapshots`)).body.snapshots.length, 1);
      assert.equal((await h('POST', `/stacks/snap/${id}/actions`, { suspend: null })).status, 200);
      await waitStatus('snap', id, 'SUSPEND_COMPLETE');
      assert.equal((await h('POST', `/stacks/snap/${id}/actions`, { resume: null })).status, 200);
      await waitStatus('snap', id, 'RESUME_COMPLETE');
      assert.equal((await h('POST', `/stacks/snap/${id}/actions`, { check: null })).status, 200);
      await waitStatus('snap', id, 'CHECK_COMPLETE');
      assert.equal((await h('POST', `/stacks/snap/${id}/snapshots/${snap.body.id}/restore`)).status, 202);
      await waitStatus('snap', id, 'RESTORE_COMPLETE');
      const exported = await h('GET', `/stacks/snap/${id}/export`);
      assert.equal(exported.body.resources.r.resource_data.value, value);
      const abandoned = await h('DELETE', `/stacks/snap/${id}/abandon`);
      assert.equal(abandoned.status, 200, JSON.stringify(abandoned.body));
      await waitStatus('snap', id, 'DELETE_COMPLETE');
      const adopted = await h('POST', '/stacks', {
        stack_name: 'adopted',
        adopt_stack_data: JSON.stringify(abandoned.body),
      });
      assert.equal(adopted.status, 201, JSON.stringify(adopted.body));
      const a = await waitStatus('adopted', adopted.body.stack.id, 'ADOPT_COMPLETE');
      assert.equal(a.outputs[0].output_value, value);
    });

    it("scales an autoscaling group out and in through its policies' native signal_url and pre-signed alarm_url", async () => {
      const id = await create('asg', {
        heat_template_version: '2016-10-14',
        resources: {
          group: {
            type: 'OS::Heat::AutoScalingGroup',
            properties: { min_size: 1, max_size: 3, resource: { type: 'OS::Heat::RandomString' } },
          },
          up: {
            type: 'OS::Heat::ScalingPolicy',
            properties: {
              auto_scaling_group_id: { get_resource: 'group' },
              adjustment_type: 'change_in_capacity',
              scaling_adjustment: 1,
            },
          },
          down: {
            type: 'OS::Heat::ScalingPolicy',
            properties: {
              auto_scaling_group_id: { get_resource: 'group' },
              adjustment_type: 'change_in_capacity',
              scaling_adjustment: -1,
            },
          },
        },
        outputs: {
          size: { value: { get_attr: ['group', 'current_size'] } },
          up_url: { value: { get_attr: ['up', 'signal_url'] } },
          down_url: { value: { get_attr: ['down', 'alarm_url'] } },
        },
      });
      const out = async () => {
        const s = (await h('GET', `/stacks/asg/${id}`)).body.stack;
        return Object.fromEntries(
          s.outputs.map((o: { output_key: string; output_value: unknown }) => [o.output_key, o.output_value]),
        );
      };
      await waitStatus('asg', id, 'CREATE_COMPLETE');
      const o = await out();
      assert.equal(o.size, 1);
      // signal_url is Heat's native signal URL of the resource: a Keystone token is needed.
      assert.equal(o.up_url, `${base}/stacks/asg/${id}/resources/up/signal`);
      assert.equal((await fetch(o.up_url, { method: 'POST' })).status, 401);
      const aodh = { alarm_id: 'a1', previous: 'ok', current: 'alarm', reason: 'Transition to alarm' };
      for (let i = 0; i < 3; i++) assert.equal((await c.req('POST', o.up_url, i ? null : aodh)).status, 200);
      assert.equal((await out()).size, 3);
      // Heat's CooldownMixin keeps the cooldown and the scaling guard in the resources' metadata.
      for (const [res, reason] of [
        ['group', 'change_in_capacity : 1'],
        ['up', 'change_in_capacity : 1'],
      ]) {
        const md = (await h('GET', `/stacks/asg/${id}/resources/${res}/metadata`)).body.metadata;
        assert.equal(md.scaling_in_progress, false, JSON.stringify(md));
        assert.deepEqual(Object.values(md.cooldown_end), [reason], JSON.stringify(md));
        assert.match(Object.keys(md.cooldown_end)[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
      }
      // Each SIGNAL event's reason as Heat's: from the alarm's body, else "No signal details provided".
      const evs = (await h('GET', `/stacks/asg/${id}/resources/up/events`)).body.events as Array<{
        resource_status: string;
        resource_status_reason: string;
      }>;
      assert.deepEqual(
        evs.filter((e) => e.resource_status === 'SIGNAL_COMPLETE').map((e) => e.resource_status_reason),
        // The third found the group at max_size (3): NoActionRequired, no event (Heat's adjust).
        ['alarm state changed from ok to alarm (Transition to alarm)', 'No signal details provided'],
      );
      // Still at max_size: no event; an alarm's `ok` state scales too (Zed acts whatever the state).
      assert.equal((await c.req('POST', o.up_url, { current: 'alarm' })).status, 200);
      const evs2 = (await h('GET', `/stacks/asg/${id}/resources/up/events`)).body.events as unknown[];
      assert.equal(evs2.length, evs.length);
      assert.equal((await out()).size, 3);
      assert.equal((await fetch(o.down_url, { method: 'POST' })).status, 200);
      assert.equal((await out()).size, 2);
      // Aodh's `ok` notification to the scale-down policy scales too (Zed's handle_signal acts whatever the state).
      const ok = { alarm_id: 'a2', previous: 'alarm', current: 'ok', reason: 'Transition to ok' };
      assert.equal((await c.req('POST', `${base}/stacks/asg/${id}/resources/down/signal`, ok)).status, 200);
      assert.equal((await out()).size, 1);
      assert.equal((await fetch(`${o.down_url}x`, { method: 'POST' })).status, 403);
      assert.equal((await h('DELETE', `/stacks/asg/${id}`)).status, 204);
      await waitStatus('asg', id, 'DELETE_COMPLETE');
    });

    it('reports every resource a stack check finds failed, not only the first', async () => {
      const net = { type: 'OS::Neutron::Net' };
      const id = await create('checked', {
        heat_template_version: '2016-10-14',
        resources: { n1: net, n2: net, r: { type: 'OS::Heat::RandomString' } },
      });
      await waitStatus('checked', id, 'CREATE_COMPLETE');
      const res = (await h('GET', `/stacks/checked/${id}/resources`)).body.resources as Array<{
        resource_name: string;
        physical_resource_id: string;
      }>;
      for (const r of res.filter((x) => x.resource_name !== 'r'))
        assert.equal(
          (await c.req('DELETE', `${c.url}/networking/v2.0/networks/${r.physical_resource_id}`)).status,
          204,
        );
      assert.equal((await h('POST', `/stacks/checked/${id}/actions`, { check: null })).status, 200);
      const st = await waitStatus('checked', id, 'CHECK_FAILED');
      // Heat's ExceptionGroup: str() of the list of every failure.
      assert.match(st.stack_status_reason, /^Resource CHECK failed: \['.*resources\.n\d.*', '.*resources\.n\d.*'\]$/);
      assert.ok(st.stack_status_reason.includes('n1') && st.stack_status_reason.includes('n2'), st.stack_status_reason);
      const r = (await h('GET', `/stacks/checked/${id}/resources/r`)).body.resource;
      assert.equal(r.resource_status, 'CHECK_COMPLETE');
      assert.equal((await h('DELETE', `/stacks/checked/${id}`)).status, 204);
      await waitStatus('checked', id, 'DELETE_COMPLETE');
    });

    it('stores software configs and deployments and answers server metadata', async () => {
      const cfg = await h('POST', '/software_configs', { name: 'c', group: 'script', config: 'echo hi' });
      assert.equal(cfg.status, 200);
      const dep = await h('POST', '/software_deployments', {
        config_id: cfg.body.software_config.id,
        server_id: 'srv',
        action: 'CREATE',
      });
      assert.equal(dep.status, 200, JSON.stringify(dep.body));
      const md = await h('GET', '/software_deployments/metadata/srv');
      assert.equal(md.body.metadata[0].group, 'script');
      assert.equal((await h('DELETE', `/software_configs/${cfg.body.software_config.id}`)).status, 400);
      assert.equal((await h('DELETE', `/software_deployments/${dep.body.software_deployment.id}`)).status, 204);
      assert.equal((await h('DELETE', `/software_configs/${cfg.body.software_config.id}`)).status, 204);
    });

    it('lists resource types with their schema and template', async () => {
      const types = await h('GET', '/resource_types');
      assert.ok(types.body.resource_types.includes('OS::Heat::TestResource'));
      assert.ok(types.body.resource_types.includes('Zabbix::Host'));
      const schema = await h('GET', '/resource_types/OS::Heat::TestResource');
      assert.equal(schema.body.support_status.status, 'SUPPORTED');
      assert.equal(schema.body.properties.wait_secs.default, 0);
      const tpl = await h('GET', '/resource_types/OS::Heat::TestResource/template?template_type=hot');
      assert.equal(tpl.body.resources.TestResource.type, 'OS::Heat::TestResource');
      assert.equal((await h('GET', '/resource_types/OS::Nope')).status, 404);
    });

    it('uses a resource type from a plugin directory (the Zabbix host example)', async () => {
      const id = await create('zbx', {
        heat_template_version: '2016-10-14',
        resources: {
          host: {
            type: 'Zabbix::Host',
            properties: { url: zabbixUrl, host: 'web-1', ip: '10.0.0.5', group_ids: ['2'] },
          },
        },
        outputs: { hostid: { value: { get_attr: ['host', 'hostid'] } } },
      });
      const s = await waitStatus('zbx', id, 'CREATE_COMPLETE');
      assert.equal(s.outputs[0].output_value, '10084');
      assert.equal(zabbixCalls.find((x) => x.method === 'host.create')?.params.host, 'web-1');
      assert.equal((await h('DELETE', `/stacks/zbx/${id}`)).status, 204);
      await waitStatus('zbx', id, 'DELETE_COMPLETE');
      assert.ok(zabbixCalls.some((x) => x.method === 'host.delete'));
    });
  });
}

describe('orchestration: the reason of an alarm signal as Heat formats it', () => {
  it('reads its values with Python str() (a dict as its repr)', () => {
    assert.equal(
      signalReason(undefined, { previous: 'ok', current: 'alarm', reason: { n: 1, up: true, x: null, s: "it's" } }),
      `alarm state changed from ok to alarm ({'n': 1, 'up': True, 'x': None, 's': "it's"})`,
    );
    assert.equal(
      signalReason(undefined, { previous: 'ok', current: 'alarm', reason: ['a', 1.5] }),
      "alarm state changed from ok to alarm (['a', 1.5])",
    );
  });
});
