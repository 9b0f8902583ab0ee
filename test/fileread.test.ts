// FileBody (src/core/fileread.ts): a file or a range of it, read by any consumer, or sent as an
// HTTP answer through fastify with its two reused buffers; an aborted download closes the file.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { FileBody } from '../src/core/fileread.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fileread-'));
const file = path.join(dir, 'data');
// 3.5 MiB of varied bytes: several whole buffers and a partial last one.
const data = Buffer.alloc(3.5 * 1024 * 1024);
for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 11)) & 0xff;
fs.writeFileSync(file, data);

const openFds = () => fs.readdirSync('/proc/self/fd').length;

async function collect(s: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

describe('FileBody', () => {
  let app: FastifyInstance;
  let base: string;
  before(async () => {
    app = Fastify();
    app.get('/f', async (req, reply) => {
      const q = req.query as { start?: string; end?: string; name?: string };
      const range = q.start !== undefined ? { start: Number(q.start), end: Number(q.end) } : undefined;
      reply.header('x-hook', 'kept');
      return reply.send(new FileBody(q.name ? path.join(dir, q.name) : file, range));
    });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
    // Count the answers sent through the reused buffers (fastify pipes the payload into reply.raw).
    const proto = FileBody.prototype as unknown as { send: (...a: unknown[]) => Promise<void> };
    const send = proto.send;
    proto.send = function (this: unknown, ...a: unknown[]) {
      sent++;
      return send.apply(this, a);
    };
  });
  let sent = 0;
  after(async () => {
    await app.close();
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });

  it('reads the whole file and a range with for await', async () => {
    assert.ok((await collect(new FileBody(file))).equals(data));
    assert.ok(
      (await collect(new FileBody(file, { start: 1000, end: 2_500_000 }))).equals(data.subarray(1000, 2_500_001)),
    );
    assert.equal((await collect(new FileBody(file, { start: 5, end: 5 }))).length, 1);
    fs.writeFileSync(path.join(dir, 'empty'), '');
    assert.equal((await collect(new FileBody(path.join(dir, 'empty')))).length, 0);
  });

  it('sends the whole file and ranges as an HTTP answer, with the reply headers', async () => {
    const whole = await fetch(`${base}/f`);
    assert.equal(whole.status, 200);
    assert.equal(whole.headers.get('x-hook'), 'kept');
    assert.ok(Buffer.from(await whole.arrayBuffer()).equals(data));
    assert.equal(sent, 1, 'the answer went through the reused buffers');
    for (const [start, end] of [
      [0, 0],
      [1, 1024 * 1024],
      [1024 * 1024, 3 * 1024 * 1024 + 17],
      [data.length - 3, data.length - 1],
    ] as const) {
      const r = await fetch(`${base}/f?start=${start}&end=${end}`);
      assert.ok(Buffer.from(await r.arrayBuffer()).equals(data.subarray(start, end + 1)), `range ${start}-${end}`);
    }
  });

  it('sends an empty file and a small one', async () => {
    fs.writeFileSync(path.join(dir, 'small'), 'hello');
    const r = await fetch(`${base}/f?name=small`);
    assert.equal(await r.text(), 'hello');
    const e = await fetch(`${base}/f?name=empty`);
    assert.equal(e.status, 200);
    assert.equal(await e.text(), '');
  });

  it('closes the file when the client goes away mid-answer, and the server goes on', async () => {
    const fdsBefore = openFds();
    await new Promise<void>((resolve, reject) => {
      const req = http.get(`${base}/f`, (res) => {
        res.once('data', () => {
          req.destroy();
          setTimeout(resolve, 200);
        });
      });
      req.on('error', (e) => {
        if ((e as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(e);
      });
    });
    for (let i = 0; i < 20 && openFds() > fdsBefore; i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(openFds() <= fdsBefore, `descriptors: ${openFds()} now, ${fdsBefore} before`);
    const again = await fetch(`${base}/f?start=0&end=9`);
    assert.ok(Buffer.from(await again.arrayBuffer()).equals(data.subarray(0, 10)));
  });

  it('fails a missing file before any byte is sent', async () => {
    const r = await fetch(`${base}/f?name=missing`);
    assert.equal(r.status, 500);
    await assert.rejects(collect(new FileBody(path.join(dir, 'missing'))), /ENOENT/);
  });
});
