// Image data in the stores: upload with hashing and the status change, removal from every store,
// and the os_glance_* bookkeeping of extra properties (Glance's location layer and store glue).
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { ApiError } from '../core/errors.ts';
import { BodyHash } from '../core/hashing.ts';
import type { ImageStore } from './drivers/store.ts';
import type { Image } from './images.ts';
import type { ImageService } from './service.ts';

/** The store of a location (`http` for locations added by URL); 400 for an unknown one. */
export function storeOf(svc: ImageService, id: string): ImageStore {
  const s = id === 'http' ? svc.httpStore : svc.stores.get(id);
  if (!s) throw new ApiError(400, `Unknown scheme '${id}' found in URI`);
  return s;
}

/**
 * Streams `data` into a store, hashing it; on success the image becomes active with its
 * checksums and location; on failure it goes back to `revertTo` and the store keeps nothing.
 */
export async function saveData(
  svc: ImageService,
  img: Image,
  data: Readable,
  storeId: string,
  from: string[],
  revertTo: string,
) {
  const store = storeOf(svc, storeId);
  const hasher = new ImageHasher(svc.sizeCap);
  let stored;
  try {
    stored = await store.add(img.id, hasher.pass(data));
  } catch (e) {
    await svc.repo.transition(img.id, from, revertTo);
    if (e instanceof ApiError) throw e;
    throw new ApiError(400, 'Image data upload was interrupted; the image was put back to queued.');
  }
  const digests = hasher.digests;
  const loc = { store: store.id, url: stored.url };
  const current = await svc.repo.get(img.id);
  const ok =
    current &&
    (await svc.repo.transition(img.id, from, 'active', {
      size: hasher.size,
      checksum: digests.md5,
      os_hash_algo: 'sha512',
      os_hash_value: digests.sha512,
      virtual_size: virtualSize(current.disk_format, hasher.head, hasher.size),
      locations: JSON.stringify([...current.locations.filter((l) => l.store !== store.id), loc]),
    }));
  if (!ok) {
    await store.delete(stored.url).catch(() => {});
    throw new ApiError(
      410,
      `Image ${img.id} could not be found after upload. The image may have been deleted during the upload.`,
    );
  }
}

/** Removes an image's bytes from every store and the staging area. */
export async function deleteData(svc: ImageService, img: Image) {
  for (const l of img.locations)
    await (l.store === 'http' ? svc.httpStore : svc.stores.get(l.store))
      ?.delete(l.url)
      .catch((e) => svc.ctx.log.warn({ err: e, image: img.id }, 'could not delete image data'));
  await fsp.rm(path.join(svc.stagingDir, img.id), { force: true });
  await svc.cache?.delete(img.id);
}

/** Changes extra properties of an image in place (the os_glance_* import bookkeeping). */
export async function setProperties(svc: ImageService, id: string, change: (p: Record<string, string>) => void) {
  const cur = await svc.repo.get(id);
  if (!cur) return;
  change(cur.properties);
  await svc.repo.save(cur, { properties: 1 });
}

/**
 * Counts, hashes and caps the bytes going through; keeps the first 512 bytes for format probing.
 * MD5 and SHA-512 of a large body run on hashing threads (core/hashing.ts), in parallel; the
 * digests are ready when the stream ends. `hash: false` only counts (a staged upload). An async
 * generator between the body and the store (simpler than the Transform it replaced; as fast).
 */
export class ImageHasher {
  private hash?: BodyHash;
  private result?: { md5: string; sha512: string };
  size = 0;
  head = Buffer.alloc(0);
  constructor(
    private cap: number,
    opts: { hash?: boolean } = {},
  ) {
    if (opts.hash !== false) this.hash = new BodyHash(['md5', 'sha512']);
  }
  /** The bytes of `data`, counted, capped and hashed on their way; a failure or an early stop forgets the hash. */
  async *pass(data: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    let done = false;
    try {
      for await (const chunk of data) {
        this.size += chunk.length;
        if (this.size > this.cap)
          throw new ApiError(
            413,
            `Image exceeds the storage quota: The size of the data ${this.size} will exceed the limit. ${this.cap} bytes remaining.`,
          );
        if (this.head.length < 512) this.head = Buffer.concat([this.head, chunk.subarray(0, 512 - this.head.length)]);
        if (this.hash) await this.hash.update(chunk);
        yield chunk;
      }
      if (this.hash) {
        const [md5, sha512] = await this.hash.digest();
        this.result = { md5: md5!, sha512: sha512! };
      }
      done = true;
    } finally {
      if (!done) this.hash?.abort();
    }
  }
  /** The checksum (md5) and os_hash_value (sha512), hex, once every byte went through. */
  get digests(): { md5: string; sha512: string } {
    if (!this.result) throw new Error('image data not hashed to the end');
    return this.result;
  }
}

/** virtual_size: qcow2's header field (bytes 24-31, big-endian); the data size for raw and iso. */
export function virtualSize(diskFormat: string | null, head: Buffer, size: number): number | null {
  if (head.length >= 32 && head.readUInt32BE(0) === 0x514649fb) return Number(head.readBigUInt64BE(24));
  if (diskFormat === 'raw' || diskFormat === 'iso') return size;
  return null;
}
