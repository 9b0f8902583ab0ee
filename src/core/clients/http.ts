// A small HTTP client for calls between services (compute → placement, network, image): node's
// http/https with keep-alive agents, the answer read whole. The global fetch() (undici with web
// streams) costs a few milliseconds of CPU per round trip more than this, and a server build
// makes several such calls in a row on its critical path.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';

/** A request body: bytes, text, or a file streamed from disk (a guest's disk is never read into memory). */
export type RequestBody = Uint8Array | string | { file: string };

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

// Idle sockets are closed after 30 s, well before the servers' keep-alive timeout (Fastify: 72 s).
const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 64, timeout: 30_000 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 64, timeout: 30_000 }),
};

function once(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: RequestBody | undefined,
  timeoutMs: number,
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const mod = url.protocol === 'https:' ? https : http;
    const h: Record<string, string | number> = { ...headers };
    if (body !== undefined)
      h['Content-Length'] =
        typeof body === 'string'
          ? Buffer.byteLength(body)
          : body instanceof Uint8Array
            ? body.byteLength
            : fs.statSync(body.file).size;
    const req = mod.request(url, { method, headers: h, agent: agents[url.protocol as 'http:' | 'https:'] }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    const timer = setTimeout(
      () => req.destroy(new Error(`${method} ${url.pathname} timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    req.on('close', () => clearTimeout(timer));
    req.on('error', (err) => reject(Object.assign(err, { reusedSocket: req.reusedSocket })));
    if (body === undefined || typeof body === 'string' || body instanceof Uint8Array) req.end(body);
    else {
      const file = fs.createReadStream(body.file);
      file.on('error', (err) => req.destroy(err));
      file.pipe(req);
    }
  });
}

/**
 * One request; the answer's body as text. A keep-alive socket the server closed just as it was
 * reused (ECONNRESET before any answer) is retried once on a new socket: the request never
 * reached the server.
 */
export async function httpRequest(
  url: string,
  o: { method?: string; headers?: Record<string, string>; body?: RequestBody; timeoutMs?: number } = {},
): Promise<HttpAnswer> {
  const u = new URL(url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`unsupported URL ${url}`);
  const method = o.method ?? 'GET';
  try {
    return await once(u, method, o.headers ?? {}, o.body, o.timeoutMs ?? 300_000);
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { reusedSocket?: boolean };
    if (err.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE'))
      return once(u, method, o.headers ?? {}, o.body, o.timeoutMs ?? 300_000);
    throw e;
  }
}
