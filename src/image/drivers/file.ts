// The `file` store: one file per image under <dataDir>/image/images. A write goes to a
// temporary file in the same directory, is fsynced, then renamed, so a crash never leaves a
// half image under the final name; temporary files from a crashed write are removed on start.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { ApiError } from '../../core/errors.ts';
import type { ImageStore, StoredImage } from './store.ts';

const ID = /^[0-9a-fA-F-]{1,64}$/;

export class FileStore implements ImageStore {
  id = 'file';
  description = 'Images on the local filesystem';
  constructor(public dir: string) {
    fs.mkdirSync(dir, { recursive: true });
    for (const f of fs.readdirSync(dir)) if (f.startsWith('.tmp-')) fs.rmSync(path.join(dir, f), { force: true });
  }

  private pathOf(url: string): string {
    const name = url.startsWith('file://') ? path.basename(url.slice(7)) : url;
    if (!ID.test(name)) throw new ApiError(500, 'Invalid image location.');
    return path.join(this.dir, name);
  }

  async add(imageId: string, data: Readable): Promise<StoredImage> {
    if (!ID.test(imageId)) throw new ApiError(400, 'Invalid image id.');
    const final = path.join(this.dir, imageId);
    const tmp = path.join(this.dir, `.tmp-${imageId}-${randomUUID()}`);
    let ok = false;
    try {
      await pipeline(data, fs.createWriteStream(tmp, { flags: 'wx', mode: 0o600, highWaterMark: 1 << 20 }));
      // fsync through a second descriptor: it flushes the inode's data all the same.
      const fd = await fsp.open(tmp, 'r+');
      let size: number;
      try { await fd.sync(); size = (await fd.stat()).size; } finally { await fd.close(); }
      await fsp.rename(tmp, final);
      ok = true;
      return { url: `file://${final}`, size };
    } finally {
      if (!ok) await fsp.rm(tmp, { force: true });
    }
  }

  async get(url: string, range?: { start: number; end: number }): Promise<Readable> {
    const file = this.pathOf(url);
    try { await fsp.access(file); } catch { throw new ApiError(404, 'Image data could not be found in the store.'); }
    return fs.createReadStream(file, range ? { start: range.start, end: range.end, highWaterMark: 1 << 20 } : { highWaterMark: 1 << 20 });
  }

  async delete(url: string): Promise<void> {
    await fsp.rm(this.pathOf(url), { force: true });
  }
}
