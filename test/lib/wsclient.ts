// A small WebSocket client for tests (core/websocket.ts's client side): connects over TCP, does
// the handshake and hands back the 101 answer and the messages one by one (null once closed).
import net from 'node:net';
import { WebSocketConnection, clientHandshake } from '../../src/core/websocket.ts';

export interface TestWs {
  ws: WebSocketConnection;
  /** The server's handshake answer (status line and headers). */
  response: string;
  /** The next message, or null when the connection closed first. */
  next(timeoutMs?: number): Promise<Buffer | null>;
  closed: Promise<number>;
}

export async function wsConnect(port: number, path: string, headers: Record<string, string> = {}): Promise<TestWs> {
  const socket = net.connect({ host: '127.0.0.1', port });
  const hs = clientHandshake(path, `127.0.0.1:${port}`, { 'Sec-WebSocket-Protocol': 'binary', ...headers });
  const { response, head } = await new Promise<{ response: string; head: Buffer }>((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.pause();
      resolve({ response: buf.subarray(0, end).toString(), head: buf.subarray(end + 4) });
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('close', () => resolve({ response: buf.toString(), head: Buffer.alloc(0) }));
    socket.write(hs.request);
  });
  if (!response.includes(`Sec-WebSocket-Accept: ${hs.accept}`) && response.startsWith('HTTP/1.1 101'))
    throw new Error(`bad Sec-WebSocket-Accept in ${response}`);
  const ws = new WebSocketConnection(socket, 'client', head);
  socket.resume();
  const queue: Buffer[] = [];
  const waiters: Array<(b: Buffer | null) => void> = [];
  let done = false;
  ws.on('message', (d) => {
    const w = waiters.shift();
    if (w) w(d);
    else queue.push(d);
  });
  const closed = new Promise<number>((resolve) =>
    ws.on('close', (code) => {
      done = true;
      for (const w of waiters.splice(0)) w(null);
      resolve(code);
    }),
  );
  const next = (timeoutMs = 10_000) =>
    new Promise<Buffer | null>((resolve, reject) => {
      const q = queue.shift();
      if (q) return resolve(q);
      if (done) return resolve(null);
      const t = setTimeout(() => reject(new Error('no message in time')), timeoutMs);
      waiters.push((b) => {
        clearTimeout(t);
        resolve(b);
      });
    });
  return { ws, response, next, closed };
}
