// WebSocket (RFC 6455), the little a console proxy needs, both ends: the server's side of the
// handshake (101 with Sec-WebSocket-Accept, the `binary` subprotocol when offered, as websockify
// answers), and a connection over any duplex socket that reads and writes frames (binary and
// text messages, fragments joined, ping answered with pong, close answered and the socket
// ended). A client (tests) masks what it sends; a server refuses unmasked frames. No extensions.
import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export const Opcode = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

/** The largest message accepted (a VNC client sends small ones; the guest's screen goes the other way). */
export const MAX_MESSAGE = 16 * 1024 * 1024;

/** Sec-WebSocket-Accept for a client's Sec-WebSocket-Key. */
export const acceptKey = (key: string) =>
  createHash('sha1')
    .update(key + GUID)
    .digest('base64');

/** The header of a request as one string (the first of repeated ones). */
const header = (h: IncomingHttpHeaders, name: string) => {
  const v = h[name];
  return (Array.isArray(v) ? v[0] : v) ?? '';
};

/** Whether a request asks for a WebSocket (Upgrade: websocket, whatever its path). */
export function isWebSocketRequest(h: IncomingHttpHeaders): boolean {
  return header(h, 'upgrade')
    .toLowerCase()
    .split(/\s*,\s*/)
    .includes('websocket');
}

/**
 * The server's answer to an upgrade request: the 101 response to write, or the reason it is
 * refused (then answer 400). `binary` is chosen when the client offers it (noVNC, websockify's clients).
 */
export function handshake(
  method: string | undefined,
  h: IncomingHttpHeaders,
): { ok: true; response: string } | { ok: false; reason: string } {
  if (method !== 'GET') return { ok: false, reason: 'a WebSocket handshake is a GET' };
  if (!isWebSocketRequest(h)) return { ok: false, reason: 'missing Upgrade: websocket' };
  const key = header(h, 'sec-websocket-key');
  if (!/^[A-Za-z0-9+/]{22}==$/.test(key)) return { ok: false, reason: 'missing or malformed Sec-WebSocket-Key' };
  const version = header(h, 'sec-websocket-version');
  if (version !== '13') return { ok: false, reason: `unsupported Sec-WebSocket-Version ${version || '(none)'}` };
  const offered = header(h, 'sec-websocket-protocol')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const lines = [
    'HTTP/1.1 101 Switching Protocols',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Accept: ${acceptKey(key)}`,
    ...(offered.includes('binary') ? ['Sec-WebSocket-Protocol: binary'] : []),
  ];
  return { ok: true, response: `${lines.join('\r\n')}\r\n\r\n` };
}

/** One frame on the wire; `mask` set by clients only. */
export function encodeFrame(opcode: number, payload: Buffer, opts: { fin?: boolean; mask?: boolean } = {}): Buffer {
  const len = payload.length;
  const ext = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const maskLen = opts.mask ? 4 : 0;
  const head = Buffer.alloc(2 + ext + maskLen);
  head[0] = ((opts.fin ?? true) ? 0x80 : 0) | opcode;
  const lenByte = ext === 0 ? len : ext === 2 ? 126 : 127;
  head[1] = (opts.mask ? 0x80 : 0) | lenByte;
  if (ext === 2) head.writeUInt16BE(len, 2);
  if (ext === 8) head.writeBigUInt64BE(BigInt(len), 2);
  if (!opts.mask) return Buffer.concat([head, payload]);
  const key = randomBytes(4);
  key.copy(head, 2 + ext);
  const body = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) body[i] = payload[i]! ^ key[i & 3]!;
  return Buffer.concat([head, body]);
}

export interface Frame {
  fin: boolean;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/** Cuts frames out of a byte stream; throws a ProtocolError for what RFC 6455 forbids. */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const frames: Frame[] = [];
    for (;;) {
      const f = this.next();
      if (!f) return frames;
      frames.push(f);
    }
  }

  private next(): Frame | null {
    const b = this.buf;
    if (b.length < 2) return null;
    if (b[0]! & 0x70) throw new ProtocolError(1002, 'reserved bits set (no extension was agreed)');
    const fin = (b[0]! & 0x80) !== 0;
    const opcode = b[0]! & 0x0f;
    const masked = (b[1]! & 0x80) !== 0;
    let len = b[1]! & 0x7f;
    let off = 2;
    if (len === 126) {
      if (b.length < 4) return null;
      len = b.readUInt16BE(2);
      off = 4;
    } else if (len === 127) {
      if (b.length < 10) return null;
      const big = b.readBigUInt64BE(2);
      if (big > BigInt(MAX_MESSAGE)) throw new ProtocolError(1009, 'frame too large');
      len = Number(big);
      off = 10;
    }
    if (len > MAX_MESSAGE) throw new ProtocolError(1009, 'frame too large');
    if (opcode >= 8 && (len > 125 || !fin)) throw new ProtocolError(1002, 'bad control frame');
    const keyOff = off;
    if (masked) off += 4;
    if (b.length < off + len) return null;
    const payload = Buffer.from(b.subarray(off, off + len));
    if (masked) for (let i = 0; i < len; i++) payload[i] = payload[i]! ^ b[keyOff + (i & 3)]!;
    this.buf = b.subarray(off + len);
    return { fin, opcode, masked, payload };
  }
}

export class ProtocolError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export interface WebSocketEvents {
  /** A whole message (fragments joined). */
  message: [data: Buffer, binary: boolean];
  /** The connection is gone: the peer's close code (1005 none, 1006 no close frame). */
  close: [code: number, reason: string];
}

/**
 * A WebSocket over a socket whose handshake is done. `role: 'server'` wants masked frames and
 * sends unmasked ones; `'client'` the other way round. `head` is what was read past the handshake.
 */
export class WebSocketConnection extends EventEmitter<WebSocketEvents> {
  private reader = new FrameReader();
  private parts: Buffer[] = [];
  private partOpcode = 0;
  private closeSent = false;
  private closed = false;

  constructor(
    readonly socket: Duplex,
    readonly role: 'server' | 'client',
    head: Buffer = Buffer.alloc(0),
  ) {
    super();
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('close', () => this.finish(1006, ''));
    socket.on('error', () => this.finish(1006, ''));
    if (head.length) queueMicrotask(() => this.onData(head));
  }

  /** Sends a binary (default) or text message. */
  send(data: Buffer | string, binary = typeof data !== 'string'): boolean {
    if (this.closeSent || this.closed) return false;
    const payload = typeof data === 'string' ? Buffer.from(data) : data;
    return this.socket.write(this.frame(binary ? Opcode.binary : Opcode.text, payload));
  }

  ping(data: Buffer = Buffer.alloc(0)) {
    if (!this.closeSent && !this.closed) this.socket.write(this.frame(Opcode.ping, data));
  }

  /** Sends a close frame (no code: an empty one) and ends the socket once the peer answers or after 2 s. */
  close(code?: number, reason = '') {
    if (this.closed) return;
    if (!this.closeSent) {
      this.closeSent = true;
      let payload = Buffer.alloc(0);
      if (code !== undefined) {
        payload = Buffer.alloc(2 + Buffer.byteLength(reason));
        payload.writeUInt16BE(code, 0);
        payload.write(reason, 2);
      }
      this.socket.write(this.frame(Opcode.close, payload));
    }
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  /** Drops the connection without a close frame. */
  destroy() {
    this.socket.destroy();
  }

  private frame(opcode: number, payload: Buffer) {
    return encodeFrame(opcode, payload, { mask: this.role === 'client' });
  }

  private onData(d: Buffer) {
    if (this.closed) return;
    let frames: Frame[];
    try {
      frames = this.reader.push(d);
    } catch (e) {
      const err = e as ProtocolError;
      this.close(err.code, err.message);
      this.socket.end();
      return;
    }
    for (const f of frames) {
      if (this.closed) return;
      this.onFrame(f);
    }
  }

  private onFrame(f: Frame) {
    if (this.role === 'server' && !f.masked) return this.fail(1002, 'client frames must be masked');
    if (this.role === 'client' && f.masked) return this.fail(1002, 'server frames must not be masked');
    switch (f.opcode) {
      case Opcode.ping:
        if (!this.closeSent) this.socket.write(this.frame(Opcode.pong, f.payload));
        return;
      case Opcode.pong:
        return;
      case Opcode.close: {
        const code = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005;
        const reason = f.payload.subarray(2).toString();
        if (!this.closeSent) {
          this.closeSent = true;
          this.socket.write(this.frame(Opcode.close, f.payload.subarray(0, 2)));
        }
        this.socket.end();
        this.finish(code, reason);
        return;
      }
      case Opcode.text:
      case Opcode.binary:
        if (this.parts.length) return this.fail(1002, 'a new message inside a fragmented one');
        if (f.fin) {
          this.emit('message', f.payload, f.opcode === Opcode.binary);
          return;
        }
        this.partOpcode = f.opcode;
        this.parts.push(f.payload);
        return;
      case Opcode.continuation: {
        if (!this.parts.length) return this.fail(1002, 'a continuation without a message');
        this.parts.push(f.payload);
        const size = this.parts.reduce((n, p) => n + p.length, 0);
        if (size > MAX_MESSAGE) return this.fail(1009, 'message too large');
        if (f.fin) {
          const whole = Buffer.concat(this.parts);
          this.parts = [];
          this.emit('message', whole, this.partOpcode === Opcode.binary);
        }
        return;
      }
      default:
        return this.fail(1002, `unknown opcode ${f.opcode}`);
    }
  }

  private fail(code: number, reason: string) {
    this.close(code, reason);
    this.socket.end();
  }

  private finish(code: number, reason: string) {
    if (this.closed) return;
    this.closed = true;
    this.emit('close', code, reason);
  }
}

/** A client's handshake request (tests, tools): the request text and the key whose accept to expect. */
export function clientHandshake(
  path: string,
  host: string,
  extra: Record<string, string> = {},
): { request: string; accept: string } {
  const key = randomBytes(16).toString('base64');
  const lines = [
    `GET ${path} HTTP/1.1`,
    `Host: ${host}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${key}`,
    'Sec-WebSocket-Version: 13',
    ...Object.entries(extra).map(([k, v]) => `${k}: ${v}`),
  ];
  return { request: `${lines.join('\r\n')}\r\n\r\n`, accept: acceptKey(key) };
}
