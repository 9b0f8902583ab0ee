// The `file` store: one file per image under <dataDir>/image/images. A write goes to a
// temporary file in the same directory, is synced (in the background as it arrives, then the
// tail), renamed and its directory synced, so a crash never leaves a half image under the final
// name nor loses a finished one; temporary files from a crashed write are removed on start.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { ApiError } from '../../core/errors.ts';
import { FdWriter } from '../../core/filewrite.ts';
import { FileBody } from '../../core/fileread.ts';
import type { ImageStore, StoredImage } from './store.ts';

const ID = /^[0-9a-fA-F-]{1,64}$/;
/** Background fdatasync every this many bytes (the final sync then has only the tail left). */
const SYNC_EVERY = 32 << 20;

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

  async add(imageId: string, data: AsyncIterable<Buffer>): Promise<StoredImage> {
    if (!ID.test(imageId)) throw new ApiError(400, 'Invalid image id.');
    const final = path.join(this.dir, imageId);
    const tmp = path.join(this.dir, `.tmp-${imageId}-${randomUUID()}`);
    const fh = await fsp.open(tmp, 'wx', 0o600);
    const out = new FdWriter(fh.fd, { syncEvery: SYNC_EVERY });
    let ok = false;
    try {
      for await (const chunk of data) await out.write(chunk);
      await out.end();
      await fh.datasync();
      await fh.close();
      await fsp.rename(tmp, final);
      // The rename itself must survive a crash: the directory's entry is synced too.
      const dir = await fsp.open(this.dir, 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
      ok = true;
      return { url: `file://${final}`, size: out.bytes };
    } finally {
      if (!ok) {
        await out.settle();
        await fh.close().catch(() => {});
        await fsp.rm(tmp, { force: true });
      }
    }
  }

  async get(url: string, range?: { start: number; end: number }): Promise<Readable> {
    const file = this.pathOf(url);
    try {
      await fsp.access(file);
    } catch {
      throw new ApiError(404, 'Image data could not be found in the store.');
    }
    return new FileBody(file, range);
  }

  async delete(url: string): Promise<void> {
    await fsp.rm(this.pathOf(url), { force: true });
  }
}
