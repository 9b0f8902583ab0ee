// One console proxy (nova-novncproxy or nova-serialproxy, websockify's way): an HTTP listener
// whose requests with `Upgrade: websocket`, on any path (/websockify, /?token=...), become a
// WebSocket (core/websocket.ts) relayed to the guest's console; plain requests get noVNC's files
// (novnc) or 405 (serial). As in Nova, the handshake is answered first; then a token that is
// unknown, expired, of another console type or of a deleted server, a refused Origin, or a
// console that does not answer, closes the connection without a byte. The console is a unix
// socket when the token's internal_access_path is an absolute path (the libvirt driver's), else
// host:port over TCP.
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../core/log.ts';
import { WebSocketConnection, handshake, isWebSocketRequest } from '../../core/websocket.ts';
import type { ConsoleConnection } from '../consoles.ts';
import { originError, requestToken } from './checks.ts';
import { NOVNC, SPICE_HTML5, sendWeb, webAnswer } from './web.ts';

export type ProxyKind = 'novnc' | 'serial' | 'spice';

/** The console types (of console_auth_tokens) each proxy relays. */
const TYPES: Record<ProxyKind, string[]> = { novnc: ['novnc'], serial: ['serial'], spice: ['spice-html5'] };

export interface ConsoleProxyDeps {
  /** consoles.ts consoleByToken. */
  lookup(token: string): Promise<ConsoleConnection | null>;
  /** noVNC's folder (novnc only). */
  web?: string;
  allowedOrigins: readonly string[];
  /** ms to reach the guest's console. */
  connectTimeoutMs?: number;
}

export class ConsoleProxyServer {
  private server?: http.Server;
  private readonly live = new Set<net.Socket>();
  /** The TCP port it listens on (port 0: the one the system chose). */
  port = 0;

  constructor(
    readonly kind: ProxyKind,
    private deps: ConsoleProxyDeps,
    private log?: Logger,
  ) {}

  async start(host: string, port: number): Promise<void> {
    const server = http.createServer((req, res) => this.onRequest(req, res));
    server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) =>
      this.onUpgrade(req, socket, head),
    );
    server.on('connection', (s: net.Socket) => {
      this.live.add(s);
      s.on('close', () => this.live.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) =>
        reject(
          new Error(
            `the ${this.kind} console proxy cannot listen on ${host}:${port} (compute.consoleProxy.${this.kind}): ${e.message}`,
          ),
        ),
      );
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    this.log?.info({ host, port: this.port }, `${this.kind} console proxy listening`);
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    for (const c of this.live) c.destroy();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse) {
    const method = req.method ?? 'GET';
    if (this.kind === 'serial' || !this.deps.web) {
      res.writeHead(405, { 'Content-Type': 'text/plain', Allow: 'GET' });
      res.end('This is a WebSocket console proxy: connect with Upgrade: websocket.\n');
      return;
    }
    sendWeb(res, method, webAnswer(this.deps.web, method, req.url ?? '/', this.kind === 'spice' ? SPICE_HTML5 : NOVNC));
  }

  private onUpgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer) {
    socket.on('error', () => socket.destroy());
    if (!isWebSocketRequest(req.headers)) return socket.destroy();
    const hs = handshake(req.method, req.headers);
    if (!hs.ok) {
      const body = `${hs.reason}\n`;
      socket.end(
        `HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
      return;
    }
    socket.setNoDelay(true);
    socket.write(hs.response);
    const ws = new WebSocketConnection(socket, 'server', head);
    // What the client sends before the console answers waits here.
    const early: Buffer[] = [];
    const keep = (d: Buffer) => early.push(d);
    ws.on('message', keep);
    this.connect(req, ws)
      .then((target) => {
        if (!target) return ws.destroy();
        ws.off('message', keep);
        this.relay(ws, target, early);
      })
      .catch((err) => {
        this.log?.error({ err }, `${this.kind} console proxy failed`);
        ws.destroy();
      });
  }

  /** The checks, then the connection to the guest's console; null (logged) when refused. */
  private async connect(req: http.IncomingMessage, ws: WebSocketConnection): Promise<net.Socket | null> {
    const token = requestToken(req.url ?? '/', req.headers);
    const c = token ? await this.deps.lookup(token) : null;
    if (!c || !TYPES[this.kind].includes(c.console_type)) {
      this.log?.info(`${this.kind} console proxy: the token is invalid or has expired`);
      return null;
    }
    const bad = originError(req.headers, c.access_url_base, this.deps.allowedOrigins);
    if (bad) {
      this.log?.info({ instance: c.instance_uuid, origin: req.headers.origin }, `${this.kind} console proxy: ${bad}`);
      return null;
    }
    const unix = c.internal_access_path?.startsWith('/') ? c.internal_access_path : null;
    const where = unix ?? `${c.host}:${c.port}`;
    const target = unix ? net.connect({ path: unix }) : net.connect({ host: c.host, port: c.port });
    const ok = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), this.deps.connectTimeoutMs ?? 5000);
      target.once('connect', () => {
        clearTimeout(timer);
        resolve(true);
      });
      target.once('error', (err) => {
        clearTimeout(timer);
        this.log?.info({ err: err.message }, `${this.kind} console proxy: cannot reach ${where}`);
        resolve(false);
      });
      ws.once('close', () => resolve(false));
    });
    if (!ok) {
      target.destroy();
      return null;
    }
    this.log?.info({ instance: c.instance_uuid, target: where }, `${this.kind} console proxy: connected`);
    return target;
  }

  /** Bytes both ways, with backpressure; either end closing closes the other. */
  private relay(ws: WebSocketConnection, target: net.Socket, early: Buffer[]) {
    target.setNoDelay(true);
    this.live.add(target);
    for (const d of early) target.write(d);
    ws.on('message', (d) => {
      if (!target.write(d)) ws.socket.pause();
    });
    target.on('drain', () => ws.socket.resume());
    target.on('data', (d: Buffer) => {
      if (!ws.send(d)) target.pause();
    });
    ws.socket.on('drain', () => target.resume());
    target.on('error', () => target.destroy());
    target.on('close', () => {
      this.live.delete(target);
      ws.close(1000, 'Target closed');
    });
    ws.on('close', () => target.destroy());
  }
}
