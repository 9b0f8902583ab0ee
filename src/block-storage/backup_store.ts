// Where backups go: Stratus's own object store, through its public Swift API with the cinder
// service token (as Cinder's Swift backup driver): a container, one object per chunk and a
// metadata object per backup.
//
// The chunks go over node:http with kept-alive connections, not fetch(): undici's fetch copies
// a Uint8Array body before sending it and passes both directions through web streams (a clone
// of every piece, then a concatenation of the answer), which cost a backup of 1 GiB seconds of
// CPU and hundreds of MiB of garbage in the process that also serves the object store. Here a
// chunk is written to the socket as it is, and an object is read into one buffer of its length
// (the caller's, when it is large enough).
import http from 'node:http';
import https from 'node:https';
import type { ServiceSession } from '../core/clients/session.ts';

const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
const httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 16 });

interface Answer {
  status: number;
  body: Buffer;
}

export class ObjectStoreClient {
  constructor(private session: ServiceSession) {}

  private async url(container: string, object?: string) {
    const base = (await this.session.endpoint('object-store')).replace(/\/+$/, '');
    return `${base}/${encodeURIComponent(container)}${object ? `/${object.split('/').map(encodeURIComponent).join('/')}` : ''}`;
  }

  /** One request with the service token; the answer's body read whole (into `into` when it fits). */
  private async request(
    method: string,
    url: string,
    body?: Uint8Array,
    headers: Record<string, string> = {},
    into?: Buffer,
  ): Promise<Answer> {
    const u = new URL(url);
    const token = await this.session.token();
    const secure = u.protocol === 'https:';
    return new Promise<Answer>((resolve, reject) => {
      const req = (secure ? https : http).request(
        u,
        {
          method,
          agent: secure ? httpsAgent : httpAgent,
          headers: { ...headers, 'X-Auth-Token': token, 'Content-Length': String(body?.length ?? 0) },
        },
        (res) => {
          const len = Number(res.headers['content-length']);
          // A known length: one buffer, filled in place (the caller's, when it is large enough).
          const known = Number.isSafeInteger(len) && len >= 0 && method !== 'HEAD';
          const buf = known
            ? into && into.length >= len
              ? into.subarray(0, len)
              : Buffer.allocUnsafe(len)
            : undefined;
          let at = 0;
          const parts: Buffer[] = [];
          res.on('data', (d: Buffer) => {
            if (buf) {
              if (at + d.length > buf.length) {
                res.destroy(new Error(`object store: ${method} ${u.pathname} sent more than its Content-Length`));
                return;
              }
              d.copy(buf, at);
              at += d.length;
            } else parts.push(d);
          });
          res.once('error', reject);
          res.once('end', () => {
            if (buf && at !== buf.length)
              return reject(
                new Error(`object store: ${method} ${u.pathname} ended after ${at} of ${buf.length} bytes`),
              );
            resolve({ status: res.statusCode ?? 0, body: buf ?? Buffer.concat(parts) });
          });
        },
      );
      req.once('error', reject);
      req.end(body);
    });
  }

  async ensureContainer(container: string) {
    const res = await this.request('PUT', await this.url(container));
    if (res.status >= 300) throw new Error(`object store: PUT container ${container} answered ${res.status}`);
  }

  async put(container: string, object: string, data: Uint8Array) {
    const res = await this.request('PUT', await this.url(container, object), data, {
      'Content-Type': 'application/octet-stream',
    });
    if (res.status >= 300) throw new Error(`object store: PUT ${container}/${object} answered ${res.status}`);
  }

  /** An object's bytes; read into `into` (a view of it is answered) when it is large enough. */
  async get(container: string, object: string, into?: Buffer): Promise<Buffer> {
    const res = await this.request('GET', await this.url(container, object), undefined, {}, into);
    if (res.status !== 200) throw new Error(`object store: GET ${container}/${object} answered ${res.status}`);
    return res.body;
  }

  async delete(container: string, object: string) {
    const res = await this.request('DELETE', await this.url(container, object));
    if (res.status >= 300 && res.status !== 404)
      throw new Error(`object store: DELETE ${container}/${object} answered ${res.status}`);
  }
}
