// The metadata API's own listener (nova-api-metadata): TCP (default 127.0.0.1:8775) and,
// when configured, a unix socket that the network's metadata proxy in a qdhcp-/qrouter-
// namespace can reach whatever its network namespace.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../core/log.ts';
import { type MetadataDeps, handleMetadata } from './handler.ts';

export interface MetadataListen {
  host: string;
  port: number;
  socket?: string | null;
}

export class MetadataServer {
  private servers: http.Server[] = [];
  /** The TCP port it listens on (port 0 in tests: the one the system chose). */
  port = 0;
  constructor(
    private deps: MetadataDeps,
    private log?: Logger,
  ) {}

  private server() {
    return http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        // More than a password's worth is refused by the handler; keep no more than that.
        if (size <= 4096) chunks.push(c);
      });
      req.on('end', () => this.answer(req, res, Buffer.concat(chunks)));
    });
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) {
    handleMetadata({ method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, body }, this.deps)
      .then((a) => {
        res.writeHead(a.status, { 'Content-Type': a.contentType, 'Content-Length': Buffer.byteLength(a.body) });
        res.end(req.method === 'HEAD' ? undefined : a.body);
      })
      .catch((err) => {
        this.log?.error({ err }, 'metadata request failed');
        res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end('An unknown error has occurred. Please try your request again.');
      });
  }

  async start(l: MetadataListen): Promise<void> {
    const tcp = this.server();
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', (e) =>
        reject(
          new Error(`the metadata API cannot listen on ${l.host}:${l.port} (compute.metadata.port): ${e.message}`),
        ),
      );
      tcp.listen(l.port, l.host, () => resolve());
    });
    this.servers.push(tcp);
    this.port = (tcp.address() as AddressInfo).port;
    if (l.socket) {
      fs.rmSync(l.socket, { force: true });
      const unix = this.server();
      await new Promise<void>((resolve, reject) => {
        unix.once('error', reject);
        unix.listen(l.socket!, () => resolve());
      });
      this.servers.push(unix);
    }
    this.log?.info({ host: l.host, port: this.port, socket: l.socket ?? null }, 'metadata API listening');
  }

  async close(): Promise<void> {
    for (const s of this.servers) await new Promise<void>((r) => s.close(() => r()));
    this.servers = [];
  }
}
