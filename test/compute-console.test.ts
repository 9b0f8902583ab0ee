// The server's text console (os-getConsoleOutput): the agent asks the fake driver for the boot
// log, `length` keeps the last lines, a stopped server still has its log; Nova's errors.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { type TestCloud, until } from './lib/cloud.ts';
import { type ServerCloud, startServerCloud } from './lib/server-cloud.ts';
import { tailLog } from '../src/compute/consoles.ts';

describe('server console output', () => {
  let c: TestCloud;
  let s: ServerCloud;
  const nova: ServerCloud['nova'] = (...a) => s.nova(...a);
  const action = (id: string, body: unknown) => nova('POST', `/servers/${id}/action`, body);
  let server: string;

  before(async () => {
    s = await startServerCloud();
    ({ c, server } = s);
  });
  after(async () => {
    await c.stop();
  });

  it('answers the boot log, the last `length` lines of it, also for a stopped server', async () => {
    const all = await action(server, { 'os-getConsoleOutput': {} });
    assert.equal(all.status, 200, JSON.stringify(all.body));
    assert.ok(all.body.output.split('\n').length > 3);
    assert.match(all.body.output, new RegExp(server));
    const three = await action(server, { 'os-getConsoleOutput': { length: '3' } });
    assert.equal(three.body.output.split('\n').length, 3);
    assert.equal((await action(server, { 'os-getConsoleOutput': { length: -1 } })).body.output, all.body.output);
    assert.equal((await action(server, { 'os-getConsoleOutput': { length: 0 } })).body.output, '');
    assert.equal((await action(server, { 'os-stop': null })).status, 202);
    await until('SHUTOFF', async () => (await nova('GET', `/servers/${server}`)).body.server?.status === 'SHUTOFF');
    assert.equal((await action(server, { 'os-getConsoleOutput': { length: 3 } })).status, 200);
  });

  it("refuses a bad length and an unknown server with Nova's errors", async () => {
    const bad = await action(server, { 'os-getConsoleOutput': { length: 'abc' } });
    assert.equal(bad.status, 400);
    assert.ok(bad.body.badRequest);
    assert.equal((await action(server, { 'os-getConsoleOutput': { length: -2 } })).status, 400);
    assert.equal((await action(server, { 'os-getConsoleOutput': { other: 1 } })).status, 400);
    const missing = await action('00000000-0000-0000-0000-000000000000', { 'os-getConsoleOutput': {} });
    assert.equal(missing.status, 404);
  });

  it('os-resetState (admin) sets error or active and clears the task state', async () => {
    assert.equal((await action(server, { 'os-resetState': { state: 'error' } })).status, 202);
    assert.equal((await nova('GET', `/servers/${server}`)).body.server.status, 'ERROR');
    assert.equal((await action(server, { 'os-resetState': { state: 'active' } })).status, 202);
    const s = (await nova('GET', `/servers/${server}`)).body.server;
    assert.equal(s.status, 'ACTIVE');
    assert.equal(s['OS-EXT-STS:task_state'], null);
    assert.equal((await action(server, { 'os-resetState': { state: 'paused' } })).status, 400);
    const actions = (await nova('GET', `/servers/${server}/os-instance-actions`)).body.instanceActions.map(
      (a: { action: string }) => a.action,
    );
    assert.ok(actions.includes('resetState'));
  });

  it('diagnostics for admins: flat counters before 2.48, the standard form since', async () => {
    const old = await nova('GET', `/servers/${server}/diagnostics`, undefined);
    assert.equal(old.status, 200, JSON.stringify(old.body));
    const legacy = await c.req('GET', `${c.url}/compute/v2.1/servers/${server}/diagnostics`, undefined, {
      headers: { 'OpenStack-API-Version': 'compute 2.47' },
    });
    assert.equal(typeof legacy.body.cpu0_time, 'number');
    assert.equal(legacy.body.memory, 1024 * 512);
    const d = old.body;
    assert.equal(d.driver, 'libvirt');
    assert.equal(d.num_cpus, 1);
    assert.equal(d.num_disks, 1);
    assert.deepEqual(Object.keys(d.memory_details).sort(), ['maximum', 'used']);
    assert.equal((await nova('GET', '/servers/00000000-0000-0000-0000-000000000000/diagnostics')).status, 404);
  });

  it('tailLog keeps the last lines as Nova does', () => {
    assert.equal(tailLog('a\nb\nc', 2), 'b\nc');
    assert.equal(tailLog('a\nb', null), 'a\nb');
    assert.equal(tailLog('a\nb', 0), '');
  });
});
