// Remote consoles: a console URL with a token from the compute agent (2.6+ remote-consoles and the
// legacy os-get*Console actions up to 2.5), the token read back by os-console-auth-tokens (2.31+,
// RDP only before), protocols that are off, and the 2.78 topology of a guest without NUMA.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { TestCloud } from './lib/cloud.ts';
import { type ServerCloud, startServerCloud } from './lib/server-cloud.ts';

describe('remote consoles', () => {
  let c: TestCloud;
  let s: ServerCloud;
  const nova: ServerCloud['nova'] = (...a) => s.nova(...a);
  let server: string;

  before(async () => {
    s = await startServerCloud((cfg) => {
      cfg.compute = { ...(cfg.compute ?? {}), consoles: { serial: 'ws://127.0.0.1:6083/' } };
    });
    ({ c, server } = s);
  });
  after(async () => {
    await c.stop();
  });

  it('hands out a noVNC URL whose token the proxy can read back', async () => {
    const r = await nova('POST', `/servers/${server}/remote-consoles`, {
      remote_console: { protocol: 'vnc', type: 'novnc' },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.remote_console.protocol, 'vnc');
    const m = /^http:\/\/127\.0\.0\.1:6080\/vnc_auto\.html\?path=%3Ftoken%3D([0-9a-f-]{36})$/.exec(
      r.body.remote_console.url,
    );
    assert.ok(m, r.body.remote_console.url);
    const t = await nova('GET', `/os-console-auth-tokens/${m![1]}`, undefined, '2.31');
    assert.equal(t.status, 200, JSON.stringify(t.body));
    assert.deepEqual(t.body.console, {
      instance_uuid: server,
      host: 'fakevncconsole.com',
      port: 6969,
      internal_access_path: 'FAKE',
    });
    assert.equal((await nova('GET', `/os-console-auth-tokens/${m![1]}`, undefined, '2.30')).status, 401);
    assert.equal((await nova('GET', '/os-console-auth-tokens/not-a-token', undefined, '2.31')).status, 404);
  });

  it('serves the legacy actions up to 2.5 and the protocols that are on', async () => {
    const legacy = await nova('POST', `/servers/${server}/action`, { 'os-getVNCConsole': { type: 'novnc' } }, '2.5');
    assert.equal(legacy.status, 200, JSON.stringify(legacy.body));
    assert.equal(legacy.body.console.type, 'novnc');
    assert.equal(
      (await nova('POST', `/servers/${server}/action`, { 'os-getVNCConsole': { type: 'novnc' } }, '2.6')).status,
      404,
    );
    const serial = await nova('POST', `/servers/${server}/remote-consoles`, {
      remote_console: { protocol: 'serial', type: 'serial' },
    });
    assert.equal(serial.status, 200, JSON.stringify(serial.body));
    assert.match(serial.body.remote_console.url, /^ws:\/\/127\.0\.0\.1:6083\/\?token=/);
    const spice = await nova('POST', `/servers/${server}/remote-consoles`, {
      remote_console: { protocol: 'spice', type: 'spice-html5' },
    });
    assert.equal(spice.status, 400);
    assert.equal(spice.body.badRequest.message, 'Unavailable console type spice-html5.');
    const mismatch = await nova('POST', `/servers/${server}/remote-consoles`, {
      remote_console: { protocol: 'vnc', type: 'serial' },
    });
    assert.equal(mismatch.status, 400);
    assert.equal(mismatch.body.badRequest.message, 'Invalid console type serial');
    assert.equal(
      (
        await nova(
          'POST',
          `/servers/${server}/remote-consoles`,
          { remote_console: { protocol: 'mks', type: 'webmks' } },
          '2.7',
        )
      ).status,
      400,
    );
    assert.equal(
      (
        await nova(
          'POST',
          `/servers/${server}/remote-consoles`,
          { remote_console: { protocol: 'vnc', type: 'novnc' } },
          '2.5',
        )
      ).status,
      404,
    );
  });

  it('shows an empty topology for a guest without NUMA (2.78)', async () => {
    const r = await nova('GET', `/servers/${server}/topology`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { nodes: [], pagesize_kb: null });
    assert.equal((await nova('GET', `/servers/${server}/topology`, undefined, '2.77')).status, 404);
  });
});
