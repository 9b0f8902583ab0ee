// The `object-store` store: images kept in Stratus's own Swift, in the container `glance` of
// the service project's account, reached over Swift's REST API with the glance service
// user's token (as glance_store's swift driver with a single-tenant account).
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { Readable } from 'node:stream';
import { ApiError } from '../../core/errors.ts';
import type { ServiceSession } from '../../core/clients/session.ts';
import type { ImageStore, StoredImage } from './store.ts';

const CONTAINER = 'glance';
const ID = /^[0-9a-fA-F-]{1,64}$/;

export class ObjectStoreStore implements ImageStore {
  id = 'object-store';
  description = 'Images in the object store (Swift)';
  private containerReady = false;
  constructor(private session: ServiceSession) {}

  private async account(): Promise<string> {
    return (await this.session.endpoint('object-store', 'internal')).replace(/\/$/, '');
  }

  private async objectUrl(url: string): Promise<string> {
    const m = /^swift:\/\/glance\/([0-9a-fA-F-]{1,64})$/.exec(url);
    if (!m) throw new ApiError(500, 'Invalid image location.');
    return `${await this.account()}/${CONTAINER}/${m[1]}`;
  }

  async available(): Promise<boolean> {
    try {
      await this.account();
      return true;
    } catch {
      return false;
    }
  }

  async add(imageId: string, data: AsyncIterable<Buffer>): Promise<StoredImage> {
    if (!ID.test(imageId)) throw new ApiError(400, 'Invalid image id.');
    const account = await this.account();
    if (!this.containerReady) {
      const c = await this.session.fetch(`${account}/${CONTAINER}`, { method: 'PUT' });
      if (c.status >= 300) throw new ApiError(503, `The object store refused the image container (${c.status}).`);
      this.containerReady = true;
    }
    let size = 0;
    const counted = Readable.from(
      (async function* () {
        for await (const chunk of data) {
          size += chunk.length;
          yield chunk;
        }
      })(),
    );
    const res = await this.session.fetch(`${account}/${CONTAINER}/${imageId}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: Readable.toWeb(counted) as unknown as BodyInit,
      duplex: 'half',
    } as RequestInit);
    await res.arrayBuffer().catch(() => undefined);
    if (res.status !== 201) throw new ApiError(503, `The object store did not take the image data (${res.status}).`);
    return { url: `swift://${CONTAINER}/${imageId}`, size };
  }

  async get(url: string, range?: { start: number; end: number }): Promise<Readable> {
    const headers: Record<string, string> = range ? { Range: `bytes=${range.start}-${range.end}` } : {};
    const res = await this.session.fetch(await this.objectUrl(url), { headers });
    if (res.status === 404) throw new ApiError(404, 'Image data could not be found in the store.');
    if (!res.ok || !res.body)
      throw new ApiError(503, `The object store did not return the image data (${res.status}).`);
    return Readable.fromWeb(res.body as WebReadableStream);
  }

  async delete(url: string): Promise<void> {
    const res = await this.session.fetch(await this.objectUrl(url), { method: 'DELETE' });
    await res.arrayBuffer().catch(() => undefined);
    if (res.status >= 300 && res.status !== 404)
      throw new ApiError(503, `The object store did not delete the image data (${res.status}).`);
  }
}
