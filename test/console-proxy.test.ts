// The console proxies: core/websocket.ts (frames, masking, fragments, ping/pong, close, the
// handshake), the token and Origin checks, noVNC's files, a proxy relaying to a fake VNC server
// over TCP and over a unix socket and refusing bad tokens, other console types and foreign
// Origins the way nova-novncproxy does (a 101, then the connection closed without a byte), and
// the proxies in a whole cloud (fake driver) reading tokens the compute API handed out; with root
// and Debian's libvirt, qemu and novnc packages, one real guest whose VNC server speaks RFB through
// the noVNC proxy (tempest's test_novnc exchange) and whose serial console comes through the serial
// proxy while it still logs to console.log.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Duplex } from 'node:stream';
import { FrameReader, Opcode, WebSocketConnection, acceptKey, encodeFrame, handshake } from '../src/core/websocket.ts';
import { originError, requestToken, hostName } from '../src/compute/console_proxy/checks.ts';
import { webAnswer } from '../src/compute/console_proxy/web.ts';
import { ConsoleProxyServer } from '../src/compute/console_proxy/server.ts';
import type { ConsoleConnection } from '../src/compute/consoles.ts';
import { computeOptions } from '../src/compute/config.ts';
import { type TestWs as TestWsClient, wsConnect } from './lib/wsclient.ts';
import { buildGuest, missingGuestTools } from '../src/compute/guest/build.ts';
import { registerGuest } from '../src/compute/guest/register.ts';
import { libvirtSkip, useLibvirtCloud } from './lib/libvirt-cloud.ts';
import type { TestCloud } from './lib/cloud.ts';
import type { ComputeService } from '../src/compute/service.ts';
import { type ServerCloud, startServerCloud } from './lib/server-cloud.ts';

describe('core/websocket', () => {
  it('computes the accept key of RFC 6455 section 1.3', () => {
    assert.equal(acceptKey('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  it('answers a handshake with 101 and picks the binary subprotocol; refuses bad ones', () => {
    const h = {
      upgrade: 'websocket',
      connection: 'Upgrade',
      'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      'sec-websocket-version': '13',
      'sec-websocket-protocol': 'base64, binary',
    };
    const ok = handshake('GET', h);
    assert.ok(ok.ok);
    assert.match(ok.response, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    assert.ok(ok.response.includes('Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n'));
    assert.match(ok.response, /Sec-WebSocket-Protocol: binary\r\n\r\n$/);
    assert.equal(handshake('POST', h).ok, false);
    assert.equal(handshake('GET', { ...h, 'sec-websocket-version': '8' }).ok, false);
    assert.equal(handshake('GET', { ...h, 'sec-websocket-key': 'short' }).ok, false);
    assert.equal(handshake('GET', { ...h, upgrade: 'h2c' }).ok, false);
  });

  it('encodes and reads frames of every length form, masked and not', () => {
    for (const len of [0, 5, 125, 126, 65535, 65536, 200_000]) {
      const payload = Buffer.alloc(len, 7);
      for (const mask of [false, true]) {
        const wire = encodeFrame(Opcode.binary, payload, { mask });
        const r = new FrameReader();
        // Byte-sized pieces for short frames, two halves for long ones.
        const frames =
          len < 200
            ? [...wire].flatMap((b) => r.push(Buffer.from([b])))
            : [...r.push(wire.subarray(0, 3)), ...r.push(wire.subarray(3))];
        assert.equal(frames.length, 1);
        assert.equal(frames[0]!.masked, mask);
        assert.equal(frames[0]!.opcode, Opcode.binary);
        assert.ok(frames[0]!.payload.equals(payload), `length ${len}`);
      }
    }
  });

  it('refuses reserved bits and oversized control frames', () => {
    assert.throws(() => new FrameReader().push(Buffer.from([0xc2, 0x00])), /reserved/);
    const ping = encodeFrame(Opcode.ping, Buffer.alloc(126));
    assert.throws(() => new FrameReader().push(ping), /control/);
  });

  /** A server connection over an in-memory duplex: what it writes is collected, `feed` is what it reads. */
  function serverPair() {
    const written: Buffer[] = [];
    const duplex = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        written.push(chunk);
        cb();
      },
    });
    const ws = new WebSocketConnection(duplex, 'server');
    const feed = (b: Buffer) => duplex.push(b);
    return { ws, written, feed };
  }

  it('joins fragments, answers ping with pong and close with close', async () => {
    const { ws, written, feed } = serverPair();
    const got: Array<[string, boolean]> = [];
    ws.on('message', (d, binary) => got.push([d.toString(), binary]));
    const closed = new Promise<number>((r) => ws.on('close', (c) => r(c)));
    feed(encodeFrame(Opcode.text, Buffer.from('hel'), { fin: false, mask: true }));
    feed(encodeFrame(Opcode.ping, Buffer.from('p1'), { mask: true }));
    feed(encodeFrame(Opcode.continuation, Buffer.from('lo'), { mask: true }));
    feed(encodeFrame(Opcode.binary, Buffer.from('x'), { mask: true }));
    const close = Buffer.alloc(2);
    close.writeUInt16BE(1000);
    feed(encodeFrame(Opcode.close, close, { mask: true }));
    assert.equal(await closed, 1000);
    assert.deepEqual(got, [
      ['hello', false],
      ['x', true],
    ]);
    const out = new FrameReader().push(Buffer.concat(written));
    assert.deepEqual(
      out.map((f) => [f.opcode, f.payload.toString('hex'), f.masked]),
      [
        [Opcode.pong, Buffer.from('p1').toString('hex'), false],
        [Opcode.close, '03e8', false],
      ],
    );
  });

  it('closes with 1002 on an unmasked frame from a client', async () => {
    const { ws, written, feed } = serverPair();
    let messages = 0;
    ws.on('message', () => messages++);
    feed(encodeFrame(Opcode.binary, Buffer.from('x')));
    await new Promise((r) => setImmediate(r));
    assert.equal(messages, 0);
    const out = new FrameReader().push(Buffer.concat(written));
    assert.equal(out[0]!.opcode, Opcode.close);
    assert.equal(out[0]!.payload.readUInt16BE(0), 1002);
  });
});

describe('console proxy checks', () => {
  it('takes the token from the query, else from the token cookie', () => {
    assert.equal(requestToken('/?token=abc', {}), 'abc');
    assert.equal(requestToken('/websockify?token=abc&x=1', { cookie: 'token=zzz' }), 'abc');
    assert.equal(requestToken('/websockify', { cookie: 'a=b; token=xyz; c=d' }), 'xyz');
    assert.equal(requestToken('/websockify', { cookie: 'token="q1"' }), 'q1');
    // Tempest's client sends the URL's query as its cookie.
    assert.equal(requestToken('/websockify', { cookie: 'path=%3Ftoken%3Dabc' }), '');
    assert.equal(requestToken('/', {}), '');
  });

  it('checks the Origin as Nova does', () => {
    const base = 'http://proxy.example:6080/vnc_auto.html';
    assert.equal(hostName('[::1]:6080'), '::1');
    assert.equal(hostName('proxy.example:6080'), 'proxy.example');
    assert.equal(originError({ host: 'proxy.example:6080' }, base, []), null);
    assert.equal(originError({ host: 'proxy.example:6080', origin: 'http://proxy.example:6080' }, base, []), null);
    assert.equal(
      originError({ host: 'proxy.example:6080', origin: 'http://evil.example' }, base, []),
      'Origin header does not match this host.',
    );
    assert.equal(originError({ host: 'proxy.example:6080', origin: 'http://lb.example' }, base, ['lb.example']), null);
    assert.equal(
      originError({ host: 'proxy.example:6080', origin: 'https://proxy.example' }, base, []),
      'Origin header protocol does not match this host.',
    );
    assert.equal(
      originError({ host: 'proxy.example', origin: 'https://proxy.example', 'x-forwarded-proto': 'http' }, base, []),
      null,
    );
    assert.equal(originError({ host: 'p', origin: 'not a url' }, base, []), 'Origin header not valid.');
    // A serial console's ws:// base accepts http origins too.
    assert.equal(originError({ host: 'p:6083', origin: 'http://p' }, 'ws://p:6083/', []), null);
  });
});

describe('noVNC files', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'novnc-'));
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('answers 503 naming the package when noVNC is missing', () => {
    const a = webAnswer(path.join(root, 'absent'), 'GET', '/vnc_lite.html');
    assert.equal(a.status, 503);
    assert.match(a.body!, /novnc/);
  });

  it('serves files under its folder only', () => {
    fs.writeFileSync(path.join(root, 'vnc_lite.html'), '<html><title>noVNC</title><script></script></html>');
    fs.mkdirSync(path.join(root, 'core'));
    fs.writeFileSync(path.join(root, 'core', 'rfb.js'), 'export default 1;');
    fs.writeFileSync(path.join(os.tmpdir(), 'novnc-secret.txt'), 'secret');
    try {
      const a = webAnswer(root, 'GET', '/vnc_lite.html?path=%3Ftoken%3Dx');
      assert.equal(a.status, 200);
      assert.equal(a.file, path.join(root, 'vnc_lite.html'));
      assert.match(String(a.headers['Content-Type']), /text\/html/);
      assert.match(String(webAnswer(root, 'GET', '/core/rfb.js').headers['Content-Type']), /javascript/);
      assert.equal(webAnswer(root, 'GET', '/../novnc-secret.txt').status, 404);
      assert.equal(webAnswer(root, 'GET', '/%2e%2e/novnc-secret.txt').status, 404);
      assert.equal(webAnswer(root, 'GET', '/core').status, 404);
      assert.equal(webAnswer(root, 'POST', '/vnc_lite.html').status, 405);
    } finally {
      fs.rmSync(path.join(os.tmpdir(), 'novnc-secret.txt'), { force: true });
    }
  });
});

describe('a console proxy relaying to a fake VNC server', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cproxy-'));
  const sock = path.join(dir, 'vnc.sock');
  const vnc: net.Server[] = [];
  const vncSockets = new Set<net.Socket>();
  let tcpPort = 0;
  let proxy: ConsoleProxyServer;
  const tokens = new Map<string, ConsoleConnection>();
  const conn = (over: Partial<ConsoleConnection>): ConsoleConnection => ({
    instance_uuid: 'u1',
    console_type: 'novnc',
    host: '127.0.0.1',
    port: tcpPort,
    internal_access_path: null,
    access_url_base: 'http://127.0.0.1:6080/vnc_auto.html',
    ...over,
  });

  before(async () => {
    // RFB's first words, then an echo of what the client sends.
    const onConn = (s: net.Socket) => {
      vncSockets.add(s);
      s.on('close', () => vncSockets.delete(s));
      s.write('RFB 003.008\n');
      s.on('data', (d) => s.write(d));
    };
    const tcp = net.createServer(onConn);
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', () => r()));
    tcpPort = (tcp.address() as net.AddressInfo).port;
    const unix = net.createServer(onConn);
    await new Promise<void>((r) => unix.listen(sock, () => r()));
    vnc.push(tcp, unix);
    tokens.set('good', conn({}));
    tokens.set('unix', conn({ internal_access_path: sock, port: 0 }));
    tokens.set('serial', conn({ console_type: 'serial' }));
    tokens.set('nowhere', conn({ host: '127.0.0.1', port: 1 }));
    proxy = new ConsoleProxyServer('novnc', {
      lookup: async (t) => tokens.get(t) ?? null,
      web: dir,
      allowedOrigins: [],
    });
    await proxy.start('127.0.0.1', 0);
  });
  after(async () => {
    await proxy.close();
    for (const s of vncSockets) s.destroy();
    for (const s of vnc) await new Promise<void>((r) => s.close(() => r()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('relays both ways over TCP (token in the query, as noVNC >= 1.1 sends it)', async () => {
    const c = await wsConnect(proxy.port, '/?token=good');
    assert.match(c.response, /^HTTP\/1\.1 101 Switching Protocols/);
    assert.match(c.response, /Sec-WebSocket-Protocol: binary/);
    assert.equal((await c.next())!.toString(), 'RFB 003.008\n');
    c.ws.send(Buffer.from('RFB 003.008\n'));
    assert.equal((await c.next())!.toString(), 'RFB 003.008\n');
    // A ping is answered, and the relay goes on.
    c.ws.ping(Buffer.from('hi'));
    c.ws.send(Buffer.alloc(70_000, 1));
    let got = 0;
    while (got < 70_000) got += (await c.next())!.length;
    assert.equal(got, 70_000);
    c.ws.close(1000);
    assert.equal(await c.closed, 1000);
  });

  it('relays to a unix socket (the libvirt driver) with the token in a cookie on /websockify', async () => {
    const c = await wsConnect(proxy.port, '/websockify', { Cookie: 'token=unix' });
    assert.equal((await c.next())!.toString(), 'RFB 003.008\n');
    c.ws.close(1000);
    await c.closed;
  });

  it('closes without a byte for a bad token, another console type, a foreign Origin or an unreachable console', async () => {
    for (const [p, headers] of [
      ['/?token=badgood', {}],
      ['/?token=', {}],
      ['/?token=serial', {}],
      ['/?token=good', { Origin: 'http://evil.example' }],
      ['/?token=nowhere', {}],
    ] as Array<[string, Record<string, string>]>) {
      const c = await wsConnect(proxy.port, p, headers);
      assert.match(c.response, /^HTTP\/1\.1 101/);
      assert.equal(await c.next(), null, `${p} ${JSON.stringify(headers)}`);
    }
  });

  it('answers 400 to a broken handshake and serves files to plain requests', async () => {
    const r = await fetch(`http://127.0.0.1:${proxy.port}/websockify`, { headers: { Upgrade: 'websocket' } }).catch(
      (e: Error) => e,
    );
    // fetch (undici) refuses to send Upgrade itself: speak HTTP by hand.
    assert.ok(r instanceof Error || r.status === 400);
    const raw = await new Promise<string>((resolve) => {
      const s = net.connect(proxy.port, '127.0.0.1', () =>
        s.write('GET /websockify HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'),
      );
      let buf = '';
      s.on('data', (d) => {
        buf += d;
      });
      s.on('close', () => resolve(buf));
    });
    assert.match(raw, /^HTTP\/1\.1 400 /);
    fs.writeFileSync(path.join(dir, 'vnc_lite.html'), '<html>noVNC<script></script></html>');
    const page = await fetch(`http://127.0.0.1:${proxy.port}/vnc_lite.html?path=%3Ftoken%3Dgood`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /noVNC/);
  });
});

describe('console proxy options', () => {
  it('are off with the fake driver, on with a real one, and name their default ports', () => {
    const fake = computeOptions({});
    assert.equal(fake.consoleProxy.novnc.enabled, false);
    assert.equal(fake.consoles.vnc, 'http://127.0.0.1:6080/vnc_auto.html');
    const real = computeOptions({ compute: { driver: 'libvirt' } });
    assert.equal(real.consoleProxy.novnc.enabled, true);
    assert.deepEqual([real.consoleProxy.novnc.host, real.consoleProxy.novnc.port], ['127.0.0.1', 6080]);
    assert.equal(real.consoleProxy.serial.enabled, false);
    const serial = computeOptions({ compute: { driver: 'libvirt', consoles: { serial: 'ws://127.0.0.1:6083/' } } });
    assert.equal(serial.consoleProxy.serial.enabled, true);
    assert.equal(serial.consoleProxy.serial.port, 6083);
    const moved = computeOptions({
      compute: { consoleProxy: { novnc: { enabled: true, host: '0.0.0.0', port: 7000 } } },
    });
    assert.equal(moved.consoles.vnc, 'http://127.0.0.1:7000/vnc_auto.html');
  });
});

describe('the console proxies in a cloud (fake driver)', () => {
  let c: TestCloud;
  let svc: ComputeService;
  let server = '';
  let s: ServerCloud;
  const nova = (method: string, p: string, body?: unknown) => s.nova(method, p, body);

  before(async () => {
    s = await startServerCloud((cfg) => {
      cfg.compute = {
        ...(cfg.compute ?? {}),
        consoles: { serial: 'ws://127.0.0.1:0/' },
        consoleProxy: { novnc: { enabled: true, port: 0 }, serial: { enabled: true, port: 0 } },
      };
    });
    ({ c, svc, server } = s);
  });
  after(async () => {
    await c?.stop();
  });

  it('hands out URLs with the ports the proxies listen on', async () => {
    const novnc = svc.parts.consoleProxies!.servers.get('novnc')!;
    const serial = svc.parts.consoleProxies!.servers.get('serial')!;
    const v = await nova('POST', `/servers/${server}/remote-consoles`, {
      remote_console: { protocol: 'vnc', type: 'novnc' },
    });
    assert.equal(v.status, 200, JSON.stringify(v.body));
    assert.ok(v.body.remote_console.url.startsWith(`http://127.0.0.1:${novnc.port}/vnc_auto.html?path=`));
    const s = await nova('POST', `/servers/${server}/remote-consoles`, {
      remote_console: { protocol: 'serial', type: 'serial' },
    });
    assert.equal(s.status, 200, JSON.stringify(s.body));
    assert.match(s.body.remote_console.url, new RegExp(`^ws://127\\.0\\.0\\.1:${serial.port}/\\?token=`));
  });

  it('serves the page (or the 503 naming novnc) and refuses a bad token; the fake console is unreachable', async () => {
    const v = await nova('POST', `/servers/${server}/remote-consoles`, {
      remote_console: { protocol: 'vnc', type: 'novnc' },
    });
    const url = new URL(v.body.remote_console.url);
    const page = await fetch(url);
    if (fs.existsSync('/usr/share/novnc/vnc_lite.html')) {
      assert.equal(page.status, 200);
      const html = await page.text();
      assert.match(html, /<html/);
      assert.match(html, /noVNC/);
      assert.match(html, /<script/);
    } else {
      assert.equal(page.status, 503);
      assert.match(await page.text(), /novnc/);
    }
    const port = Number(url.port);
    const wsPath = `/${url.searchParams.get('path')}`;
    const bad = await wsConnect(port, wsPath.replace('token=', 'token=bad'));
    assert.equal(await bad.next(), null);
    // The fake driver's console is at fakevncconsole.com:6969, as Nova's fake driver's.
    const fake = await wsConnect(port, wsPath);
    assert.match(fake.response, /^HTTP\/1\.1 101/);
    assert.equal(await fake.next(15_000), null);
    // A serial token is not a noVNC one.
    const s = await nova('POST', `/servers/${server}/remote-consoles`, {
      remote_console: { protocol: 'serial', type: 'serial' },
    });
    const serialToken = new URL(s.body.remote_console.url).searchParams.get('token');
    const wrong = await wsConnect(port, `/?token=${serialToken}`);
    assert.equal(await wrong.next(), null);
  });
});

const realSkip =
  libvirtSkip(missingGuestTools) ||
  (!fs.existsSync('/usr/share/novnc/vnc_lite.html') && 'needs the Debian package novnc');
const GUEST_DIR = process.env.STRATUS_GUEST_DIR ?? path.join(os.tmpdir(), 'stratus-guest-cache');

/** Tempest's test_novnc RFB exchange: version, security None, ServerInit; the version answered. */
async function rfbHandshake(c: TestWsClient): Promise<string> {
  const version = (await c.next())!;
  assert.match(version.toString(), /^RFB 003\.00[38]\n$/);
  c.ws.send(version);
  const types = (await c.next())!;
  if (version.toString() === 'RFB 003.003\n') {
    assert.equal(types.readUInt32BE(0), 1);
  } else {
    assert.ok([...types.subarray(1, 1 + types[0]!)].includes(1), `security types ${types.toString('hex')}`);
    c.ws.send(Buffer.from([1]));
    assert.deepEqual([...(await c.next())!], [0, 0, 0, 0]);
  }
  c.ws.send(Buffer.from([1]));
  let init = (await c.next())!;
  while (init.length < 24) init = Buffer.concat([init, (await c.next())!]);
  assert.equal(init.length, init.readUInt32BE(20) + 24);
  return version.toString();
}

describe('the console proxies with a real guest (libvirt)', { skip: realSkip }, () => {
  const lv = useLibvirtCloud({
    hosts: [`cpx${process.pid}`],
    compute: {
      libvirt: { guestDir: GUEST_DIR, statsInterval: 2, shutdownTimeout: 30 },
      consoles: { serial: 'ws://127.0.0.1:0/' },
      consoleProxy: { novnc: { port: 0 }, serial: { port: 0 } },
    },
  });
  const consoleUrlOf = async (protocol: string, type: string) => {
    const r = await lv.nova('POST', `/servers/${lv.server}/remote-consoles`, { remote_console: { protocol, type } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return new URL(r.body.remote_console.url as string);
  };

  before(async () => {
    const guest = await buildGuest(GUEST_DIR);
    const ids = await registerGuest(guest, { authUrl: `${lv.c.identity}/v3`, password: lv.c.adminPassword });
    // The user data writes to the serial console every second (the serial proxy's test).
    const userData = '#!/bin/sh\n(while true; do echo serial-tick; sleep 1; done) &\n';
    const r = await lv.nova('POST', '/servers', {
      server: {
        name: 'console-proxy',
        imageRef: ids.disk,
        flavorRef: '1',
        networks: 'none',
        config_drive: true,
        user_data: Buffer.from(userData).toString('base64'),
      },
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    lv.server = r.body.server.id;
    await lv.waitStatus('ACTIVE');
  });

  it("serves noVNC at the console URL and relays the guest's VNC server (RFB) through it", async () => {
    const url = await consoleUrlOf('vnc', 'novnc');
    const page = await fetch(url);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /<html/);
    assert.match(html, /noVNC/);
    const c1 = await wsConnect(Number(url.port), `/${url.searchParams.get('path')}`);
    assert.match(c1.response, /^HTTP\/1\.1 101 Switching Protocols/);
    assert.equal(await rfbHandshake(c1), 'RFB 003.008\n');
    c1.ws.close(1000);
    await c1.closed;
    // The token stays good until it expires (Nova's tokens are not single-use).
    const c2 = await wsConnect(
      Number(url.port),
      `/websockify?token=${new URLSearchParams(url.searchParams.get('path')!.slice(1)).get('token')}`,
    );
    assert.equal((await c2.next())!.toString(), 'RFB 003.008\n');
    c2.ws.close(1000);
    const bad = await wsConnect(Number(url.port), `/${url.searchParams.get('path')!.replace('token=', 'token=bad')}`);
    assert.equal(await bad.next(), null);
  });

  it("relays the guest's serial console, which still logs to console.log", async () => {
    const url = await consoleUrlOf('serial', 'serial');
    const s = await wsConnect(Number(url.port), `${url.pathname}${url.search}`);
    assert.match(s.response, /^HTTP\/1\.1 101/);
    let text = '';
    while (!text.includes('serial-tick')) text += (await s.next(30_000))!.toString();
    s.ws.close(1000);
    await s.closed;
    const log = await lv.consoleText();
    assert.match(log, /stratus-guest: boot/);
    assert.match(log, /serial-tick/);
  });
});
