// The `http` store, as glance_store's http driver: read-only. It serves image locations that
// users add with a JSON patch (`/locations`): their size is the Content-Length of a HEAD, their
// bytes are a GET (a byte range for a ranged download). Nothing is ever written or deleted.
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { Readable } from 'node:stream';
import { ApiError } from '../../core/errors.ts';
import type { ImageStore, StoredImage } from './store.ts';

export const HTTP_SCHEMES = ['http:', 'https:'];

export class HttpStore implements ImageStore {
  id = 'http';
  description = 'Read-only images at HTTP(S) URLs';

  /** The size at the URL (HEAD, redirects followed); 0 when it cannot be told, as glance_store answers. */
  async size(url: string): Promise<number> {
    try {
      const res = await fetch(url, { method: 'HEAD', redirect: 'follow', signal: AbortSignal.timeout(30_000) });
      if (res.status >= 400) return 0;
      const n = Number(res.headers.get('content-length'));
      return Number.isFinite(n) && n > 0 ? n : 0;
    } catch {
      return 0;
    }
  }

  async add(): Promise<StoredImage> {
    throw new ApiError(400, 'Store http is read-only.');
  }

  async get(url: string, range?: { start: number; end: number }): Promise<Readable> {
    const headers: Record<string, string> = range ? { Range: `bytes=${range.start}-${range.end}` } : {};
    let res: Response;
    try {
      res = await fetch(url, { headers, redirect: 'follow' });
    } catch {
      throw new ApiError(503, 'The image data could not be read from its HTTP location.');
    }
    if (res.status === 404) throw new ApiError(404, 'HTTP datastore could not find image at URI.');
    if (!res.ok || !res.body) throw new ApiError(503, `HTTP URL returned a ${res.status} status code.`);
    const body = Readable.fromWeb(res.body as WebReadableStream);
    // A server that ignores Range sends everything: cut the asked range out of it.
    if (range && res.status === 200) return sliceStream(body, range.start, range.end);
    return body;
  }

  async delete(): Promise<void> {
    // Read-only: removing a location never deletes the bytes behind a URL.
  }
}

async function* slice(src: Readable, start: number, end: number): AsyncGenerator<Buffer> {
  let pos = 0;
  for await (const chunk of src as AsyncIterable<Buffer>) {
    const from = Math.max(start - pos, 0),
      to = Math.min(end + 1 - pos, chunk.length);
    if (to > from) yield chunk.subarray(from, to);
    pos += chunk.length;
    if (pos > end) {
      src.destroy();
      return;
    }
  }
}

function sliceStream(src: Readable, start: number, end: number): Readable {
  return Readable.from(slice(src, start, end));
}
