// The guests' graphics as configured (Nova's [vnc] enabled/server_listen, [spice] enabled): the
// domain XML's VNC server on the instance directory's unix socket by default or on a TCP port of
// compute.libvirt.vncListen, a SPICE server on its own unix socket when compute.consoles.spice is
// on; nova-spicehtml5proxy (the console proxy of kind `spice`) relaying spice-html5 tokens to it
// and serving Debian's spice-html5 files (or a page that names the package).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { domainXml } from '../src/compute/drivers/libvirt/xml.ts';
import { libvirtOptions } from '../src/compute/drivers/libvirt/options.ts';
import { ConsoleProxyServer } from '../src/compute/console_proxy/server.ts';
import { SPICE_HTML5, webAnswer } from '../src/compute/console_proxy/web.ts';
import { computeOptions } from '../src/compute/config.ts';
import type { ConsoleConnection } from '../src/compute/consoles.ts';
import { wsConnect } from './lib/wsclient.ts';
import { domainSpec } from './lib/domain-spec.ts';

describe('libvirt graphics: VNC listen address and SPICE', () => {
  it('VNC on the unix socket by default, no SPICE', () => {
    const x = domainXml(domainSpec({}));
    assert.match(
      x,
      /<graphics type='vnc'><listen type='socket' socket='\/var\/lib\/stratus\/instances\/u1\/vnc.sock'\/>/,
    );
    assert.doesNotMatch(x, /type='spice'/);
    assert.equal(libvirtOptions({}, '/tmp/x').vncListen, '');
  });

  it('VNC on a TCP port of vncListen (autoport), SPICE on its unix socket, or VNC off', () => {
    const x = domainXml(domainSpec({ vncListen: '192.0.2.10', spice: true }));
    assert.match(
      x,
      /<graphics type='vnc' autoport='yes' listen='192.0.2.10'><listen type='address' address='192.0.2.10'\/>/,
    );
    assert.match(
      x,
      /<graphics type='spice'><listen type='socket' socket='\/var\/lib\/stratus\/instances\/u1\/spice.sock'\/>/,
    );
    const y = domainXml(domainSpec({ vnc: false, spice: true }));
    assert.doesNotMatch(y, /type='vnc'/);
    assert.match(y, /type='spice'/);
  });

  it('the spice proxy is on when compute.consoles.spice is (port 6082, Debian spice-html5 files)', () => {
    const off = computeOptions({ compute: { driver: 'libvirt' } });
    assert.equal(off.consoleProxy.spice.enabled, false);
    const on = computeOptions({
      compute: { driver: 'libvirt', consoles: { spice: 'http://127.0.0.1:6082/spice_auto.html' } },
    });
    assert.deepEqual(on.consoleProxy.spice, { enabled: true, host: '127.0.0.1', port: 6082 });
    assert.equal(on.consoleProxy.spiceWeb, '/usr/share/spice-html5');
    const missing = webAnswer('/nonexistent-spice', 'GET', '/spice_auto.html', SPICE_HTML5);
    assert.equal(missing.status, 503);
    assert.match(missing.body!, /spice-html5/);
  });
});

describe('nova-spicehtml5proxy relays spice-html5 tokens to the guest socket', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-spice-'));
  const sock = path.join(dir, 'spice.sock');
  let spice: net.Server;
  const live = new Set<net.Socket>();
  let proxy: ConsoleProxyServer;
  const conn = (over: Partial<ConsoleConnection>): ConsoleConnection => ({
    instance_uuid: 'u1',
    console_type: 'spice-html5',
    host: 'h1',
    port: 0,
    internal_access_path: sock,
    access_url_base: 'http://127.0.0.1:6082/spice_auto.html',
    ...over,
  });
  const tokens = new Map<string, ConsoleConnection>([
    ['spice', conn({})],
    ['vnc', conn({ console_type: 'novnc' })],
  ]);

  before(async () => {
    fs.writeFileSync(path.join(dir, 'spice_auto.html'), '<html>spice</html>\n');
    // A SPICE server's first words (SpiceLinkReply's magic), then an echo.
    spice = net.createServer((s) => {
      live.add(s);
      s.on('close', () => live.delete(s));
      s.on('data', (d) => s.write(Buffer.concat([Buffer.from('REDQ'), d])));
    });
    await new Promise<void>((r) => spice.listen(sock, () => r()));
    proxy = new ConsoleProxyServer('spice', {
      lookup: async (t) => tokens.get(t) ?? null,
      web: dir,
      allowedOrigins: [],
    });
    await proxy.start('127.0.0.1', 0);
  });
  after(async () => {
    await proxy.close();
    for (const s of live) s.destroy();
    await new Promise<void>((r) => spice.close(() => r()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('relays a spice-html5 token (each SPICE channel is a connection of its own), refuses a VNC one', async () => {
    for (const n of [1, 2]) {
      const c = await wsConnect(proxy.port, '/?token=spice');
      assert.match(c.response, /^HTTP\/1\.1 101/);
      c.ws.send(Buffer.from(`link${n}`));
      assert.equal((await c.next())!.toString(), `REDQlink${n}`);
      c.ws.close(1000);
      await c.closed;
    }
    const bad = await wsConnect(proxy.port, '/?token=vnc');
    assert.equal(await bad.next(), null);
  });

  it("serves spice-html5's page", async () => {
    const r = await fetch(`http://127.0.0.1:${proxy.port}/spice_auto.html`);
    assert.equal(r.status, 200);
    assert.match(await r.text(), /spice/);
  });
});
