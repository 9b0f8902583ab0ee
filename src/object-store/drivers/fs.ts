// Filesystem driver: each object is a file named by a random id under <root>/objects/ab/cd/.
// A blob becomes visible only when the service commits the row that names it, so the file is
// written in place; a crash mid-write leaves a file no row references, removed by the
// service's orphan reconcile loop. Durability is by group commit: the fdatasyncs of concurrent
// writes and the fsync of their directory run together, and each write is acknowledged only
// once its batch is durable. Ids started between two batches share their two-level directory
// (taken in turn from a pool chosen at start), so one directory fsync covers a batch; those
// directories stay open, so their fsync is one call, not an open, an fsync and a close.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import type { Readable } from 'node:stream';
import { FileBody } from '../../core/fileread.ts';
import { ApiError } from '../../core/errors.ts';
import { FdWriter } from '../../core/filewrite.ts';
import { BodyHash } from '../../core/hashing.ts';
import type { ObjectBackend, PutResult } from './backend.ts';

const BLOB_RE = /^[0-9a-f]{32}$/;
/** Background fdatasync every this many bytes of a large object (Swift's mb_per_sync). */
const SYNC_EVERY = 32 << 20;

// Plain descriptors with callback calls: half the main-thread time of FileHandles per small write.
const openFd = promisify(fs.open);
const datasyncFd = promisify(fs.fdatasync);
const fsyncFd = promisify(fs.fsync);
const closeFd = promisify(fs.close);

interface Pending {
  fd: number;
  dir: string;
  resolve: () => void;
  reject: (e: Error) => void;
}

/** Syncs files and their directories in batches: whatever queued while a batch ran forms the next one. */
export class GroupCommit {
  private queue: Pending[] = [];
  private running = false;
  constructor(
    private onBatch: () => void = () => {},
    private syncDirectory: (dir: string) => Promise<void> = syncDir,
  ) {}
  /** Batches flushed and files synced (for tests and benchmarks). */
  stats = { batches: 0, files: 0, dirs: 0 };

  sync(fd: number, dir: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ fd, dir, resolve, reject });
      if (!this.running) void this.run();
    });
  }

  private async run() {
    this.running = true;
    try {
      while (this.queue.length) {
        const batch = this.queue;
        this.queue = [];
        this.onBatch();
        const dirs = [...new Set(batch.map((p) => p.dir))];
        // File data and directory entries are independent: all of them sync at once, and the
        // filesystem's journal commits them together.
        const [files, dirResults] = await Promise.all([
          Promise.allSettled(batch.map((p) => datasyncFd(p.fd))),
          Promise.allSettled(dirs.map((d) => this.syncDirectory(d))),
        ]);
        const dirError = new Map(
          dirs.map((d, i) => [
            d,
            dirResults[i]!.status === 'rejected' ? (dirResults[i] as PromiseRejectedResult).reason : undefined,
          ]),
        );
        this.stats.batches++;
        this.stats.files += batch.length;
        this.stats.dirs += dirs.length;
        batch.forEach((p, i) => {
          const r = files[i]!;
          const err = r.status === 'rejected' ? r.reason : dirError.get(p.dir);
          if (err) p.reject(err instanceof Error ? err : new Error(String(err)));
          else p.resolve();
        });
      }
    } finally {
      this.running = false;
    }
  }
}

async function syncDir(dir: string) {
  const fd = await openFd(dir, 'r');
  try {
    await fsyncFd(fd);
  } finally {
    await closeFd(fd);
  }
}

export class FsBackend implements ObjectBackend {
  private tmp: string;
  private objects: string;
  /** Directories made durable by this process (mkdir, then fsync of the parents). */
  private dirs = new Map<string, Promise<void>>();
  /** The first 4 hex digits (two directory levels) new ids get: a pool, one entry per batch in turn. */
  private windows = Array.from(
    { length: 256 },
    (_, i) => i.toString(16).padStart(2, '0') + randomBytes(1).toString('hex'),
  );
  private window = Math.floor(Math.random() * 256);
  private commit = new GroupCommit(
    () => {
      this.window = (this.window + 1) % this.windows.length;
    },
    (dir) => this.syncObjectDir(dir),
  );
  /** Open descriptors of the object directories (at most one per window), for their fsyncs. */
  private dirFds = new Map<string, Promise<number>>();

  constructor(public root: string) {
    this.tmp = path.join(root, 'tmp');
    this.objects = path.join(root, 'objects');
    fs.mkdirSync(this.tmp, { recursive: true });
    fs.mkdirSync(this.objects, { recursive: true });
    // Earlier versions wrote to tmp/ and renamed: leftovers of a crash are swept.
    for (const f of fs.readdirSync(this.tmp)) fs.rmSync(path.join(this.tmp, f), { force: true });
  }

  get groupCommitStats() {
    return this.commit.stats;
  }

  /** Only ids this driver generated map to a path: nothing a client sends can escape the root. */
  private pathOf(blob: string): string {
    if (!BLOB_RE.test(blob)) throw new Error(`invalid blob id ${blob}`);
    return path.join(this.objects, blob.slice(0, 2), blob.slice(2, 4), blob);
  }

  private ensureDir(dir: string): Promise<void> {
    let p = this.dirs.get(dir);
    if (!p) {
      p = (async () => {
        await fs.promises.mkdir(dir, { recursive: true });
        // A new directory's own entry in its parent must be durable too.
        await Promise.all([syncDir(path.dirname(dir)), syncDir(path.dirname(path.dirname(dir)))]);
      })();
      p.catch(() => this.dirs.delete(dir));
      this.dirs.set(dir, p);
    }
    return p;
  }

  private async syncObjectDir(dir: string) {
    let fd = this.dirFds.get(dir);
    if (!fd) {
      fd = openFd(dir, 'r');
      fd.catch(() => this.dirFds.delete(dir));
      this.dirFds.set(dir, fd);
    }
    await fsyncFd(await fd);
  }

  /** Closes the directory descriptors (the service stops). */
  async close(): Promise<void> {
    const fds = [...this.dirFds.values()];
    this.dirFds.clear();
    await Promise.all(
      fds.map((p) =>
        p.then(
          (fd) => closeFd(fd),
          () => {},
        ),
      ),
    );
  }

  async put(stream: AsyncIterable<Buffer>, opts: { maxBytes?: number } = {}): Promise<PutResult> {
    const blob = this.windows[this.window] + randomBytes(14).toString('hex');
    const file = this.pathOf(blob);
    const dir = path.dirname(file);
    await this.ensureDir(dir);
    const fd = await openFd(file, 'wx', 0o600);
    const md5 = new BodyHash(['md5']);
    const out = new FdWriter(fd, { syncEvery: SYNC_EVERY });
    let closed = false;
    try {
      for await (const chunk of stream) {
        const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        if (opts.maxBytes !== undefined && md5.bytes + buf.length > opts.maxBytes)
          throw new ApiError(413, 'Your request is too large.');
        await md5.update(buf);
        await out.write(buf);
      }
      await out.end();
      const [etag] = await md5.digest();
      await this.commit.sync(fd, dir);
      closed = true;
      // Nothing runs on the descriptor any more and its data is durable: the answer need not wait for the close.
      fs.close(fd, () => {});
      return { blob, etag: etag!, bytes: md5.bytes };
    } catch (e) {
      md5.abort();
      // No write may still run on the descriptor when it is closed (its number could be reused).
      await out.settle();
      if (!closed) await closeFd(fd).catch(() => {});
      await fs.promises.rm(file, { force: true });
      throw e;
    }
  }

  get(blob: string, range?: { start: number; end: number }): Readable {
    return new FileBody(this.pathOf(blob), range);
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
    try {
      await fs.promises.access(this.pathOf(blob));
      return true;
    } catch {
      return false;
    }
  }
}
