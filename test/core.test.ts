// The shared core: microversions, pagination, the bus, log redaction, and token validation over REST.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { Microversion, negotiateMicroversion, paginate, pageParams } from '../src/core/http.ts';
import { ApiError } from '../src/core/errors.ts';
import { InProcessBus } from '../src/core/bus.ts';
import { createLogger } from '../src/core/log.ts';
import { CachedTokenValidator, HttpTokenValidator } from '../src/core/auth.ts';
import { startCloud } from './lib/cloud.ts';
import {
  canonicalUuid,
  isUuidLike,
  jsonschemaDetail,
  jsonschemaMessage,
  schemaError,
  validate,
} from '../src/core/validate.ts';
import { fnmatch, pyRepr, pyStr } from '../src/core/python.ts';

describe('microversions', () => {
  const spec = { service: 'compute', legacyHeader: 'x-openstack-nova-api-version', min: '2.1', max: '2.93' };
  async function ask(headers: Record<string, string>) {
    const app = Fastify();
    app.get('/', async (req, reply) => {
      try {
        return { v: negotiateMicroversion(req, reply, spec).toString() };
      } catch (e) {
        reply.code((e as ApiError).status);
        return { error: (e as Error).message };
      }
    });
    const res = await app.inject({ method: 'GET', url: '/', headers });
    await app.close();
    return { status: res.statusCode, body: res.json(), headers: res.headers };
  }
  it('defaults to the minimum and answers the version headers', async () => {
    const r = await ask({});
    assert.equal(r.body.v, '2.1');
    assert.equal(r.headers['openstack-api-version'], 'compute 2.1');
    assert.match(String(r.headers.vary), /OpenStack-API-Version/);
  });
  it('takes the new header, the legacy header and latest', async () => {
    assert.equal((await ask({ 'OpenStack-API-Version': 'compute 2.53' })).body.v, '2.53');
    assert.equal((await ask({ 'X-OpenStack-Nova-API-Version': '2.10' })).body.v, '2.10');
    assert.equal((await ask({ 'OpenStack-API-Version': 'compute latest' })).body.v, '2.93');
    assert.equal((await ask({ 'OpenStack-API-Version': 'volume 3.5' })).body.v, '2.1');
  });
  it('answers 406 out of range and 400 for garbage', async () => {
    assert.equal((await ask({ 'OpenStack-API-Version': 'compute 2.200' })).status, 406);
    assert.equal((await ask({ 'OpenStack-API-Version': 'compute 3.0' })).status, 406);
    assert.equal((await ask({ 'OpenStack-API-Version': 'compute abc' })).status, 400);
  });
  it('compares versions numerically', () => {
    assert.ok(Microversion.parse('2.10')!.gte('2.9'));
    assert.ok(Microversion.parse('2.9')!.lt('2.10'));
  });
});

describe('validation (core/validate.ts)', () => {
  const schema = {
    type: 'object',
    properties: { name: { type: 'string', maxLength: 3 }, id: { type: 'string', format: 'uuid' } },
    required: ['name'],
    additionalProperties: false,
  };
  it('answers the core 400 by default, the first error only', () => {
    assert.deepEqual(validate({ name: 'abc' }, schema), { name: 'abc' });
    assert.throws(
      () => validate({ name: 1 }, schema),
      (e: ApiError) => e.status === 400 && e.message === "Invalid input for field 'name': must be string",
    );
    assert.throws(
      () => validate({}, schema),
      (e: ApiError) => e.message === "Invalid input for field 'name': must have required property 'name'",
    );
    assert.throws(
      () => validate({ name: 'a', x: 1 }, schema),
      (e: ApiError) =>
        e.message === "Invalid input for field 'body': Additional properties are not allowed ('x' was unexpected)",
    );
  });
  it("words errors as Python's jsonschema does, for the services that show them", () => {
    assert.equal(jsonschemaMessage(schemaError({ name: "it's" }, schema)!), `"it's" is too long`);
    assert.equal(jsonschemaMessage(schemaError({ name: 'a', id: 'x' }, schema)!), "'x' is not a 'uuid'");
    assert.equal(
      jsonschemaDetail(schemaError({ name: 'abcd' }, schema)!),
      "'abcd' is too long\n\nFailed validating 'maxLength' in schema['properties']['name']\n\nOn instance['name']:\n    'abcd'",
    );
  });
  it('knows UUIDs as oslo does', () => {
    assert.ok(isUuidLike('0B5A2E2F5C3D4E1F9A8B7C6D5E4F3A2B'));
    assert.ok(!isUuidLike('0b5a2e2f-5c3d'));
    assert.equal(canonicalUuid('0B5A2E2F5C3D4E1F9A8B7C6D5E4F3A2B'), '0b5a2e2f-5c3d-4e1f-9a8b-7c6d5e4f3a2b');
    assert.equal(pyRepr({ a: [1, 1.5, null, true, "o'k"] }), `{'a': [1, 1.5, None, True, "o'k"]}`);
    assert.equal(pyStr('x'), 'x');
  });
  it("matches as Python's fnmatch.fnmatchcase", () => {
    const cases: Array<[string, string, boolean]> = [
      ['OS::Nova::*', 'OS::Nova::Server', true],
      ['OS::*::Server', 'OS::Neutron::Net', false],
      ['my_server?', 'my_server1', true],
      ['a.b', 'axb', false],
      ['[ab]c', 'bc', true],
      ['[!ab]c', 'bc', false],
      ['[!ab]c', 'dc', true],
      ['[]a]', ']', true],
      ['a[b', 'a[b', true],
      ['[z-a]', 'b', false],
      ['*', 'a\nb', true],
    ];
    for (const [p, n, want] of cases) assert.equal(fnmatch(p, n), want, `${p} ~ ${n}`);
  });
});

describe('pagination', () => {
  const items = ['a', 'b', 'c', 'd', 'e'].map((id) => ({ id }));
  it('slices by marker and limit', () => {
    assert.deepEqual(
      paginate(items, { limit: 2 }, (x) => x.id),
      { page: [{ id: 'a' }, { id: 'b' }], more: true },
    );
    assert.deepEqual(
      paginate(items, { limit: 2, marker: 'd' }, (x) => x.id),
      { page: [{ id: 'e' }], more: false },
    );
  });
  it('rejects a bad limit and an unknown marker', () => {
    assert.throws(
      () => pageParams({ limit: '-1' }),
      (e: ApiError) => e.status === 400,
    );
    assert.throws(
      () => pageParams({ limit: 'x' }),
      (e: ApiError) => e.status === 400,
    );
    assert.equal(pageParams({ limit: '5000' }, 1000).limit, 1000);
    assert.throws(
      () => paginate(items, { marker: 'zz' }, (x) => x.id),
      (e: ApiError) => e.status === 404,
    );
  });
});

describe('message bus (in-process)', () => {
  it('calls, casts, fans out and notifies', async () => {
    const bus = new InProcessBus();
    const seen: string[] = [];
    bus.serve('compute', 'host1', {
      ping: (a: { n: number }) => ({ pong: a.n + 1, host: 'host1' }),
      note: (a: { x: number }) => {
        seen.push(`h1:${a.x}`);
      },
    });
    bus.serve('compute', 'host2', {
      ping: (a: { n: number }) => ({ pong: a.n + 1, host: 'host2' }),
      note: (a: { x: number }) => {
        seen.push(`h2:${a.x}`);
      },
    });
    assert.deepEqual(await bus.call('compute.host2', 'ping', { n: 1 }), { pong: 2, host: 'host2' });
    const hosts = new Set([
      (await bus.call<{ host: string }>('compute', 'ping', { n: 0 })).host,
      (await bus.call<{ host: string }>('compute', 'ping', { n: 0 })).host,
    ]);
    assert.equal(hosts.size, 2, 'round robin over the servers of a topic');
    await assert.rejects(bus.call('compute', 'nope'), /does not support/);
    await assert.rejects(bus.call('network', 'ping'), /No server/);
    bus.fanout('compute', 'note', { x: 1 });
    const notes: string[] = [];
    bus.onNotification('identity.', (n) => {
      notes.push(n.event_type);
    });
    bus.notify('identity.host', 'identity.user.created', { resource_info: 'u1' });
    bus.notify('compute.host', 'compute.instance.create.end', {});
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(seen.sort(), ['h1:1', 'h2:1']);
    assert.deepEqual(notes, ['identity.user.created']);
  });
});

describe('logging', () => {
  it('never writes passwords or tokens', async () => {
    let out = '';
    const sink = new Writable({
      write(chunk, _enc, cb) {
        out += chunk.toString();
        cb();
      },
    });
    const log = createLogger('info', sink);
    log.info(
      {
        auth: { identity: { password: { user: { password: 'hunter2' } } } },
        req: { headers: { 'x-auth-token': 'gAAAAsecret' } },
      },
      'x',
    );
    log.info({ user: { password: 'hunter3', original_password: 'old' } }, 'y');
    await new Promise((r) => setTimeout(r, 10));
    assert.ok(out.length > 0);
    assert.doesNotMatch(out, /hunter2|hunter3|gAAAAsecret|"old"/);
  });
});

describe('token validation over REST (services apart from identity)', () => {
  it('builds the same context through GET /v3/auth/tokens', async () => {
    const c = await startCloud();
    try {
      const inProcess = await c.cloud.identity.validator().validate(c.adminToken);
      const http = new CachedTokenValidator(new HttpTokenValidator(c.identity, async () => c.adminToken));
      const viaRest = await http.validate(c.adminToken);
      assert.equal(viaRest.userId, inProcess.userId);
      assert.equal(viaRest.projectId, inProcess.projectId);
      assert.deepEqual([...viaRest.roles].sort(), [...inProcess.roles].sort());
      await assert.rejects(http.validate('not-a-token'));
    } finally {
      await c.stop();
    }
  });
});

describe('hostns.run', () => {
  it('answers a CommandError, not a crash, when the command exits before reading its input (EPIPE)', async () => {
    const { run, CommandError } = await import('../src/core/hostns.ts');
    // 8 MiB cannot fit the pipe's buffer, so the write is still going when the shell has exited.
    await assert.rejects(run(['sh', '-c', 'exit 3'], { input: 'x'.repeat(8 << 20) }), (e: unknown) => {
      assert.ok(e instanceof CommandError);
      assert.equal(e.code, 3);
      return true;
    });
    assert.equal(await run(['sh', '-c', 'exit 3'], { input: 'x'.repeat(8 << 20), allowFail: true }), '');
  });
});
