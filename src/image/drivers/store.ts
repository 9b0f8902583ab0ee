// The image stores behind one narrow interface: write a stream under an image id, read it
// back (whole or a byte range), delete it. Hashing, size caps and the status machine live in
// the service, so a store only moves bytes.
import type { Readable } from 'node:stream';

export interface StoredImage {
  /** Where the bytes are, in the store's own terms (a URL Glance would show as a location). */
  url: string;
  size: number;
}

export interface ImageStore {
  /** The store id shown in /v2/info/stores and the image's `stores` attribute. */
  id: string;
  description: string;
  /** Writes the stream; on any error nothing is left behind. */
  add(imageId: string, data: AsyncIterable<Buffer>): Promise<StoredImage>;
  /** Reads [start, end] inclusive when given. */
  get(url: string, range?: { start: number; end: number }): Promise<Readable>;
  delete(url: string): Promise<void>;
  /** Whether the store can take writes now (an object store needs its service). */
  available?(): Promise<boolean>;
}
