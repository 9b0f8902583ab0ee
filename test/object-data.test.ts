// The data path of large bodies (object-store and image): hashing on threads past 1 MiB
// (core/hashing.ts), gathered writes with background syncs (core/filewrite.ts), the fs driver's
// failures leaving nothing behind, and multi-megabyte objects and images through the HTTP APIs,
// kept across a restart.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ApiImage } from './lib/api-types.ts';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { BodyHash } from '../src/core/hashing.ts';
import { FdWriter } from '../src/core/filewrite.ts';
import { FsBackend } from '../src/object-store/drivers/fs.ts';
import { startCloud, streamedBody, type TestCloud } from './lib/cloud.ts';

const MiB = 1 << 20;
/** Deterministic bytes that differ from one megabyte to the next. */
const bytes = (n: number, seed = 1) => {
  const b = Buffer.allocUnsafe(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
};
const hex = (algo: string, b: Buffer) => createHash(algo).update(b).digest('hex');
/** `b` cut into pieces of the given sizes in turn. */
function* pieces(b: Buffer, sizes: number[]) {
  for (let off = 0, i = 0; off < b.length; i++) {
    const n = sizes[i % sizes.length]!;
    yield b.subarray(off, off + n);
    off += n;
  }
}

describe('large bodies: hashing and writing', () => {
  it('BodyHash gives createHash digests, inline and on threads', async () => {
    for (const n of [0, 1, 1023, MiB - 1, MiB, MiB + 1, 4 * MiB + 7, 9 * MiB + MiB / 2]) {
      const data = bytes(n, n);
      const h = new BodyHash(['md5', 'sha512']);
      for (const p of pieces(data, [65536, 7777, 3 * MiB, 1])) await h.update(p);
      assert.deepEqual(await h.digest(), [hex('md5', data), hex('sha512', data)], `size ${n}`);
      assert.equal(h.bytes, n);
    }
  });

  it('BodyHash keeps concurrent bodies apart and survives an aborted one', async () => {
    const datas = [bytes(5 * MiB, 1), bytes(3 * MiB + 5, 2), bytes(7 * MiB, 3)];
    const aborted = new BodyHash(['md5']);
    for (const p of pieces(bytes(3 * MiB, 9), [65536])) await aborted.update(p);
    aborted.abort();
    await assert.rejects(aborted.update(Buffer.alloc(10)));
    const results = await Promise.all(
      datas.map(async (d) => {
        const h = new BodyHash(['md5']);
        for (const p of pieces(d, [65536, 1000])) {
          await h.update(p);
          await new Promise((r) => setImmediate(r));
        }
        return (await h.digest())[0];
      }),
    );
    assert.deepEqual(
      results,
      datas.map((d) => hex('md5', d)),
    );
  });

  it('FdWriter writes every byte in order, with background syncs', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fdwriter-'));
    try {
      const file = path.join(dir, 'f');
      const data = bytes(5 * MiB + 13, 4);
      const fd = fs.openSync(file, 'w');
      const out = new FdWriter(fd, { syncEvery: MiB });
      for (const p of pieces(data, [65536, 333, 2 * MiB])) await out.write(p);
      await out.end();
      fs.closeSync(fd);
      assert.equal(out.bytes, data.length);
      assert.ok(fs.readFileSync(file).equals(data));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    }
  });

  it('fs driver: large puts hash right, and failures or oversize leave no file', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'swift-fs-large-'));
    try {
      const b = new FsBackend(root);
      const data = bytes(6 * MiB + 3, 5);
      const r = await b.put(Readable.from(pieces(data, [65536])));
      assert.equal(r.etag, hex('md5', data));
      assert.equal(r.bytes, data.length);
      const back: Buffer[] = [];
      for await (const c of b.get(r.blob)) back.push(c as Buffer);
      assert.ok(Buffer.concat(back).equals(data));
      async function* failing() {
        yield* pieces(bytes(3 * MiB, 6), [65536]);
        throw new Error('client went away');
      }
      await assert.rejects(b.put(failing()), /client went away/);
      await assert.rejects(b.put(Readable.from(pieces(bytes(4 * MiB, 7), [65536])), { maxBytes: 2 * MiB }), {
        status: 413,
      });
      const left: string[] = [];
      for await (const x of b.list()) left.push(x.blob);
      assert.deepEqual(left, [r.blob]);
    } finally {
      fs.rmSync(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    }
  });
});

describe('large objects and images over HTTP, across a restart', () => {
  let c: TestCloud;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-large-'));
  let base: string;
  const big = bytes(5 * MiB + 17, 8);
  const image = bytes(3 * MiB + 1, 9);
  let imageId: string;
  const sw = async (method: string, p: string, body?: Buffer | Readable, headers: Record<string, string> = {}) => {
    const res = await fetch(`${base}${p}`, {
      method,
      headers: { 'X-Auth-Token': c.adminToken, ...headers },
      ...(body instanceof Readable ? streamedBody(body) : { body: body && new Uint8Array(body) }),
    });
    return { status: res.status, headers: res.headers, buf: Buffer.from(await res.arrayBuffer()) };
  };
  const boot = async () => {
    c = await startCloud({ dataDir });
    const ap = await c.req('GET', '/v3/projects?name=admin');
    base = `${c.url}/object-store/v1/AUTH_${ap.body.projects[0].id}`;
  };
  before(boot);
  after(async () => {
    await c.stop();
    fs.rmSync(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  });

  it('PUTs a chunked 5 MiB object with its MD5 ETag; a wrong ETag is 422 and stores nothing', async () => {
    assert.equal((await sw('PUT', '/large')).status, 201);
    const r = await sw('PUT', '/large/o', Readable.from(pieces(big, [65536, 12345])));
    assert.equal(r.status, 201);
    assert.equal(r.headers.get('etag'), hex('md5', big));
    const bad = await sw('PUT', '/large/bad', bytes(2 * MiB, 10), { ETag: hex('md5', big) });
    assert.equal(bad.status, 422);
    assert.equal((await sw('HEAD', '/large/bad')).status, 404);
    const got = await sw('GET', '/large/o');
    assert.equal(got.status, 200);
    assert.ok(got.buf.equals(big));
  });

  it('uploads a 3 MiB image with its md5 checksum and sha512 os_hash_value', async () => {
    const img = await fetch(`${c.url}/image/v2/images`, {
      method: 'POST',
      headers: { 'X-Auth-Token': c.adminToken, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'large', disk_format: 'raw', container_format: 'bare' }),
    });
    imageId = ((await img.json()) as ApiImage).id;
    const up = await fetch(`${c.url}/image/v2/images/${imageId}/file`, {
      method: 'PUT',
      headers: { 'X-Auth-Token': c.adminToken, 'Content-Type': 'application/octet-stream' },
      ...streamedBody(Readable.from(pieces(image, [65536]))),
    });
    assert.equal(up.status, 204);
    const s = (await (
      await fetch(`${c.url}/image/v2/images/${imageId}`, { headers: { 'X-Auth-Token': c.adminToken } })
    ).json()) as ApiImage;
    assert.equal(s.status, 'active');
    assert.equal(s.size, image.length);
    assert.equal(s.checksum, hex('md5', image));
    assert.equal(s.os_hash_value, hex('sha512', image));
  });

  it('keeps both after a restart', async () => {
    await c.stop();
    await boot();
    const got = await sw('GET', '/large/o');
    assert.equal(got.status, 200);
    assert.ok(got.buf.equals(big));
    const d = await fetch(`${c.url}/image/v2/images/${imageId}/file`, { headers: { 'X-Auth-Token': c.adminToken } });
    assert.equal(d.status, 200);
    assert.ok(Buffer.from(await d.arrayBuffer()).equals(image));
  });
});
