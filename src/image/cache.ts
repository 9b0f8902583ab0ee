// The image cache (Glance's image_cache_dir and the /v2/cache API of images API 2.14+): local
// copies of image data under <dataDir>/image/cache, so that an image kept in a remote store (the
// object store, an http location) is read from the remote once. Images get in by
// `PUT /v2/cache/{id}` (queued, then fetched by a worker right away, as Glance's CacheWorker
// does) or by a whole download of a remote-store image (teed into the cache on the way out).
// Copies are written to a temporary file and renamed when complete and of the image's size;
// the least recently used are pruned beyond the configured size. Records and the queue live in
// the database, so a restart keeps them (and fetches what was still queued).
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Kysely } from 'kysely';
import type { ImageDb } from './db/schema.ts';
import type { Logger } from '../core/log.ts';
import type { Image } from './images.ts';

const ID = /^[0-9a-fA-F-]{1,64}$/;
const PREFETCH_DELAY_MS = 1000;

export interface CachedImage {
  image_id: string;
  hits: number;
  last_accessed: number;
  last_modified: number;
  size: number;
}

export class ImageCache {
  private readonly incomplete: string;
  private working = false;

  constructor(
    private db: Kysely<ImageDb>,
    readonly dir: string,
    private maxSize: number,
    private log: Logger,
    /** The image and a stream of its data from its store; undefined when it cannot be cached (gone, not active). */
    private source: (id: string) => Promise<{ img: Image; data: () => Promise<Readable> } | undefined>,
  ) {
    this.incomplete = path.join(dir, 'incomplete');
  }

  private file(id: string): string {
    if (!ID.test(id)) throw new Error(`invalid image id ${id}`);
    return path.join(this.dir, id);
  }

  /** Removes partial copies of a stopped process, forgets copies whose file is gone, resumes the queue. */
  async init() {
    await fsp.rm(this.incomplete, { recursive: true, force: true });
    await fsp.mkdir(this.incomplete, { recursive: true });
    for (const r of await this.db.selectFrom('image_cache').select('image_id').execute()) {
      if (!fs.existsSync(this.file(r.image_id)))
        await this.db.deleteFrom('image_cache').where('image_id', '=', r.image_id).execute();
    }
    const known = new Set(
      (await this.db.selectFrom('image_cache').select('image_id').execute()).map((r) => r.image_id),
    );
    for (const f of await fsp.readdir(this.dir))
      if (ID.test(f) && !known.has(f)) await fsp.rm(path.join(this.dir, f), { force: true });
    this.kick();
  }

  async cached(): Promise<CachedImage[]> {
    const rows = await this.db.selectFrom('image_cache').selectAll().orderBy('image_id').execute();
    return rows.map((r) => ({
      image_id: r.image_id,
      hits: Number(r.hits),
      last_accessed: Number(r.last_accessed) / 1000,
      last_modified: Number(r.last_modified) / 1000,
      size: Number(r.size),
    }));
  }

  async queued(): Promise<string[]> {
    return (
      await this.db
        .selectFrom('image_cache_queue')
        .select('image_id')
        .orderBy('queued_at')
        .orderBy('image_id')
        .execute()
    ).map((r) => r.image_id);
  }

  async has(id: string): Promise<boolean> {
    return !!(await this.db.selectFrom('image_cache').select('image_id').where('image_id', '=', id).executeTakeFirst());
  }

  /** Queues an image and starts the worker (nothing happens when it is already cached). */
  async queue(id: string) {
    if (await this.has(id)) return;
    if (
      !(await this.db.selectFrom('image_cache_queue').select('image_id').where('image_id', '=', id).executeTakeFirst())
    ) {
      await this.db.insertInto('image_cache_queue').values({ image_id: id, queued_at: Date.now() }).execute();
    }
    this.kick();
  }

  async delete(id: string) {
    await this.db.deleteFrom('image_cache_queue').where('image_id', '=', id).execute();
    await this.db.deleteFrom('image_cache').where('image_id', '=', id).execute();
    await fsp.rm(this.file(id), { force: true });
  }

  async clearCached(): Promise<number> {
    const ids = (await this.cached()).map((c) => c.image_id);
    for (const id of ids) {
      await this.db.deleteFrom('image_cache').where('image_id', '=', id).execute();
      await fsp.rm(this.file(id), { force: true });
    }
    return ids.length;
  }

  async clearQueued(): Promise<number> {
    const r = await this.db.deleteFrom('image_cache_queue').executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /** A cached copy (whole or a byte range), counting the hit; undefined on a miss. */
  async open(id: string, range?: { start: number; end: number }): Promise<Readable | undefined> {
    if (!(await this.has(id))) return undefined;
    let stream: fs.ReadStream;
    try {
      const fh = await fsp.open(this.file(id), 'r');
      stream = fh.createReadStream(range ? { start: range.start, end: range.end } : {});
    } catch {
      await this.db.deleteFrom('image_cache').where('image_id', '=', id).execute();
      return undefined;
    }
    const row = await this.db.selectFrom('image_cache').select('hits').where('image_id', '=', id).executeTakeFirst();
    await this.db
      .updateTable('image_cache')
      .set({ hits: Number(row?.hits ?? 0) + 1, last_accessed: Date.now() })
      .where('image_id', '=', id)
      .execute();
    return stream;
  }

  /** Writes a complete copy from `data`; a short or failed read leaves nothing. */
  async fill(img: Image, data: Readable): Promise<boolean> {
    const tmp = path.join(this.incomplete, `${img.id}.${randomUUID()}`);
    try {
      await pipeline(data, fs.createWriteStream(tmp, { flags: 'wx', mode: 0o600 }));
      return await this.commit(img, tmp);
    } catch (e) {
      await fsp.rm(tmp, { force: true });
      this.log.warn({ err: e, image: img.id }, 'image cache: could not cache the image');
      return false;
    }
  }

  private async commit(img: Image, tmp: string): Promise<boolean> {
    const st = await fsp.stat(tmp);
    if (img.size !== null && st.size !== img.size) {
      await fsp.rm(tmp, { force: true });
      return false;
    }
    const fh = await fsp.open(tmp, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, this.file(img.id));
    const t = Date.now();
    // One transaction: nobody sees the image cached and still queued.
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('image_cache').where('image_id', '=', img.id).execute();
      await tx
        .insertInto('image_cache')
        .values({ image_id: img.id, hits: 0, last_accessed: t, last_modified: t, size: st.size })
        .execute();
      await tx.deleteFrom('image_cache_queue').where('image_id', '=', img.id).execute();
    });
    await this.prune(img.id);
    return true;
  }

  /**
   * The stream to send a downloading client, copying it into the cache on the way: the copy is
   * kept only when the whole image went through.
   */
  tee(img: Image, data: Readable): Readable {
    const out = new PassThrough({ highWaterMark: 1 << 20 });
    const tmp = path.join(this.incomplete, `${img.id}.${randomUUID()}`);
    const file = fs.createWriteStream(tmp, { flags: 'wx', mode: 0o600 });
    let failed = false,
      fileWaiting = false,
      outWaiting = false;
    // The source waits for the slower of the two (client and cache file), so memory stays flat.
    const resume = () => {
      if (!fileWaiting && !outWaiting) data.resume();
    };
    const onFileDrain = () => {
      fileWaiting = false;
      resume();
    };
    const fail = () => {
      if (failed) return;
      failed = true;
      file.off('drain', onFileDrain);
      file.destroy();
      if (fileWaiting) {
        fileWaiting = false;
        resume();
      }
    };
    file.on('error', fail);
    file.on('close', () => {
      if (failed) void fsp.rm(tmp, { force: true });
    });
    data.on('error', (e) => {
      fail();
      out.destroy(e);
    });
    // A client gone before the end: stop reading, keep nothing.
    out.on('close', () => {
      if (!out.writableFinished) {
        fail();
        data.destroy();
      }
    });
    data.on('data', (chunk: Buffer) => {
      if (!failed && !file.write(chunk)) {
        fileWaiting = true;
        data.pause();
        file.once('drain', onFileDrain);
      }
      if (!out.write(chunk)) {
        outWaiting = true;
        data.pause();
        out.once('drain', () => {
          outWaiting = false;
          resume();
        });
      }
    });
    data.on('end', () => {
      out.end();
      if (failed) return;
      file.end(() => {
        void (async () => {
          // Not when the image was deleted (or cached otherwise) meanwhile.
          if (failed || (await this.has(img.id)) || !(await this.source(img.id).catch(() => undefined))) {
            await fsp.rm(tmp, { force: true });
            return;
          }
          await this.commit(img, tmp).catch(async (e) => {
            await fsp.rm(tmp, { force: true });
            this.log.warn({ err: e, image: img.id }, 'image cache: could not keep the downloaded copy');
          });
        })();
      });
    });
    return out;
  }

  /** Drops least recently used copies until the cache fits (never the one just added). */
  private async prune(keep: string) {
    let total = (await this.cached()).reduce((n, c) => n + c.size, 0);
    if (total <= this.maxSize) return;
    const rows = await this.db.selectFrom('image_cache').selectAll().orderBy('last_accessed').execute();
    for (const r of rows) {
      if (total <= this.maxSize) break;
      if (r.image_id === keep) continue;
      await this.db.deleteFrom('image_cache').where('image_id', '=', r.image_id).execute();
      await fsp.rm(this.file(r.image_id), { force: true });
      total -= Number(r.size);
    }
  }

  /**
   * Fetches queued images one after the other (Glance's CacheWorker / prefetcher), starting a
   * moment after the queueing so that a queued image shows in the queue, as it does in Glance.
   */
  kick() {
    if (this.working) return;
    this.working = true;
    setTimeout(
      () =>
        void (async () => {
          try {
            for (;;) {
              const next = (await this.queued())[0];
              if (!next) break;
              const src = await this.source(next).catch(() => undefined);
              if (src && !(await this.has(next))) await this.fill(src.img, await src.data()).catch(() => false);
              await this.db.deleteFrom('image_cache_queue').where('image_id', '=', next).execute();
            }
          } catch (e) {
            this.log.warn({ err: e }, 'image cache: the prefetch worker stopped');
          } finally {
            this.working = false;
          }
          // Something queued while the last look found the queue empty.
          if ((await this.queued().catch(() => [])).length) this.kick();
        })(),
      PREFETCH_DELAY_MS,
    ).unref();
  }
}
