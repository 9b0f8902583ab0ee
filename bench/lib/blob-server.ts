// The limit of the machine for streaming bytes over HTTP: a bare node:http server that
// stores request bodies in files and serves them back, nothing else (no auth, no
// database, no checksum). Started in its own process by the benchmarks:
//   node --import tsx bench/lib/blob-server.ts <port> <directory>
//
//   PUT    /<name>            body streamed into <dir>/<name> (a temporary file, renamed
//                            into place when complete); 201
//   PUT    /<name>?durable=1  the same, with fdatasync before the rename (what Swift's
//                            object server does before it answers)
//   PUT    /<name>?hash=md5,sha512  the same, hashing the body on the way (what Swift
//                            (MD5 ETag) and Glance (MD5 checksum, SHA-512 os_hash_value) must do)
//   GET    /<name>            the file streamed back, with Content-Length; 200 or 404
//   DELETE /<name>            204
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const port = Number(process.argv[2] ?? 0);
const dir = process.argv[3];
if (!dir) {
  process.stderr.write('usage: blob-server.ts <port> <directory>\n');
  process.exit(2);
}
fs.mkdirSync(dir, { recursive: true });
let seq = 0;

function fail(res: http.ServerResponse, status: number, msg: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(msg) });
  res.end(msg);
}

/**
 * The fastest plain way to send a file: 1 MiB reads into two buffers used in turn, each reused
 * once the socket has its bytes. A ReadStream (a new buffer per read) measured 0.7 GB/s with
 * 64 KiB reads and 1.3 GB/s with 1 MiB ones, below Stratus (src/core/fileread.ts does the same as this),
 * so it would not have been the limit.
 */
async function sendFile(file: string, size: number, res: http.ServerResponse): Promise<void> {
  const fh = await fsp.open(file, 'r');
  try {
    const bufs = [Buffer.allocUnsafe(1 << 20), Buffer.allocUnsafe(1 << 20)];
    const taken: Promise<Error | null | undefined>[] = [Promise.resolve(null), Promise.resolve(null)];
    for (let pos = 0, i = 0; pos < size; i ^= 1) {
      const err = await taken[i];
      if (err) throw err;
      const { bytesRead } = await fh.read(bufs[i]!, 0, Math.min(1 << 20, size - pos), pos);
      if (bytesRead === 0) throw new Error('file shorter than its size');
      pos += bytesRead;
      const chunk = bufs[i]!.subarray(0, bytesRead);
      taken[i] = new Promise((resolve) => res.write(chunk, resolve));
    }
    for (const err of await Promise.all(taken)) if (err) throw err;
    res.end();
  } finally {
    await fh.close();
  }
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://x');
  const name = decodeURIComponent(url.pathname.slice(1));
  if (!name || name.includes('/') || name.startsWith('.')) {
    req.resume();
    return fail(res, 400, 'bad name');
  }
  const file = path.join(dir!, name);
  if (req.method === 'PUT') {
    const tmp = path.join(dir!, `.tmp-${process.pid}-${seq++}`);
    try {
      const algos = (url.searchParams.get('hash') ?? '').split(',').filter(Boolean);
      const hashes = algos.map((a) => createHash(a));
      if (hashes.length) {
        const hasher = new Transform({
          transform(chunk: Buffer, _enc, cb) {
            for (const h of hashes) h.update(chunk);
            cb(null, chunk);
          },
        });
        await pipeline(req, hasher, fs.createWriteStream(tmp));
        res.setHeader('ETag', hashes[0]!.digest('hex'));
        for (const h of hashes.slice(1)) h.digest('hex');
      } else {
        await pipeline(req, fs.createWriteStream(tmp));
      }
      if (url.searchParams.get('durable') === '1') {
        const fh = await fsp.open(tmp, 'r+');
        try {
          await fh.datasync();
        } finally {
          await fh.close();
        }
      }
      await fsp.rename(tmp, file);
    } catch (e) {
      await fsp.rm(tmp, { force: true });
      return fail(res, 500, (e as Error).message);
    }
    res.writeHead(201, { 'Content-Length': 0 });
    res.end();
  } else if (req.method === 'GET') {
    req.resume();
    let st: fs.Stats;
    try {
      st = await fsp.stat(file);
    } catch {
      return fail(res, 404, 'not found');
    }
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': st.size });
    await sendFile(file, st.size, res).catch(() => res.destroy());
  } else if (req.method === 'DELETE') {
    req.resume();
    await fsp.rm(file, { force: true });
    res.writeHead(204);
    res.end();
  } else {
    req.resume();
    fail(res, 405, 'method not allowed');
  }
}

const server = http.createServer((req, res) => {
  void handle(req, res).catch((e) => fail(res, 500, String(e)));
});
server.keepAliveTimeout = 60_000;
server.requestTimeout = 0; // a 2 GiB body may take longer than the default 300 s on a slow disk
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening on 127.0.0.1:${(server.address() as { port: number }).port}, files in ${dir}\n`);
});
process.on('SIGTERM', () => process.exit(0));
