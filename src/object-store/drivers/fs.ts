// Filesystem driver: each object is a file named by a random id under <root>/objects/ab/cd/,
// written to <root>/tmp first, fsynced, then renamed into place (atomic on one filesystem).
// A crash mid-upload leaves only a temp file, swept on start.
import fs from 'node:fs';
import path from 'node:path';
import { createHash, randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { ApiError } from '../../core/errors.ts';
import type { ObjectBackend, PutResult } from './backend.ts';

const BLOB_RE = /^[0-9a-f]{32}$/;

export class FsBackend implements ObjectBackend {
  private tmp: string;
  private objects: string;
  constructor(public root: string) {
    this.tmp = path.join(root, 'tmp');
    this.objects = path.join(root, 'objects');
    fs.mkdirSync(this.tmp, { recursive: true });
    fs.mkdirSync(this.objects, { recursive: true });
    for (const f of fs.readdirSync(this.tmp)) fs.rmSync(path.join(this.tmp, f), { force: true });
  }

  /** Only ids this driver generated map to a path: nothing a client sends can escape the root. */
  private pathOf(blob: string): string {
    if (!BLOB_RE.test(blob)) throw new Error(`invalid blob id ${blob}`);
    return path.join(this.objects, blob.slice(0, 2), blob.slice(2, 4), blob);
  }

  async put(stream: AsyncIterable<Buffer>, opts: { maxBytes?: number } = {}): Promise<PutResult> {
    const blob = randomUUID().replace(/-/g, '');
    const tmpFile = path.join(this.tmp, blob);
    const fh = await fs.promises.open(tmpFile, 'wx', 0o600);
    const md5 = createHash('md5');
    let bytes = 0;
    // Socket chunks are small (64 KiB): gather them and write 1 MiB at a time with one writev.
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = async () => {
      let bufs = pending;
      pending = []; pendingBytes = 0;
      while (bufs.length) {
        let { bytesWritten } = await fh.writev(bufs);
        while (bufs.length && bytesWritten >= bufs[0]!.length) { bytesWritten -= bufs[0]!.length; bufs.shift(); }
        if (bufs.length && bytesWritten) bufs[0] = bufs[0]!.subarray(bytesWritten);
      }
    };
    try {
      for await (const chunk of stream) {
        const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        bytes += buf.length;
        if (opts.maxBytes !== undefined && bytes > opts.maxBytes) throw new ApiError(413, 'Your request is too large.');
        md5.update(buf);
        pending.push(buf);
        pendingBytes += buf.length;
        if (pendingBytes >= 1 << 20) await flush();
      }
      await flush();
      await fh.sync();
      await fh.close();
      const dest = this.pathOf(blob);
      await fs.promises.mkdir(path.dirname(dest), { recursive: true });
      await fs.promises.rename(tmpFile, dest);
      return { blob, etag: md5.digest('hex'), bytes };
    } catch (e) {
      await fh.close().catch(() => {});
      await fs.promises.rm(tmpFile, { force: true });
      throw e;
    }
  }

  get(blob: string, range?: { start: number; end: number }): Readable {
    return fs.createReadStream(this.pathOf(blob), { highWaterMark: 1 << 20, ...(range ? { start: range.start, end: range.end } : {}) });
  }

  async delete(blob: string): Promise<void> {
    await fs.promises.rm(this.pathOf(blob), { force: true });
  }

  async *list(): AsyncIterable<{ blob: string; mtimeMs: number }> {
    for (const a of await fs.promises.readdir(this.objects)) {
      for (const b of await fs.promises.readdir(path.join(this.objects, a)).catch(() => [] as string[])) {
        const dir = path.join(this.objects, a, b);
        for (const f of await fs.promises.readdir(dir).catch(() => [] as string[])) {
          if (!BLOB_RE.test(f)) continue;
          const st = await fs.promises.stat(path.join(dir, f)).catch(() => undefined);
          if (st) yield { blob: f, mtimeMs: st.mtimeMs };
        }
      }
    }
  }

  async exists(blob: string): Promise<boolean> {
    try { await fs.promises.access(this.pathOf(blob)); return true; } catch { return false; }
  }
}
