// The object data plane, narrow enough for an S3-compatible engine later: bytes in, bytes
// out, by an opaque blob id the driver chooses. Container and object names never reach it.
import type { Readable } from 'node:stream';

export interface PutResult {
  blob: string;
  etag: string;
  bytes: number;
}

export interface ObjectBackend {
  /** Stores the stream atomically (visible only once complete and durable); md5 etag. `maxBytes` aborts with 413. */
  put(stream: AsyncIterable<Buffer>, opts?: { maxBytes?: number }): Promise<PutResult>;
  /** Reads a blob, optionally a byte range [start, end] inclusive. */
  get(blob: string, range?: { start: number; end: number }): Readable;
  delete(blob: string): Promise<void>;
  exists(blob: string): Promise<boolean>;
  /** Every stored blob with its write time, for the orphan reconcile loop. */
  list(): AsyncIterable<{ blob: string; mtimeMs: number }>;
  /** Releases what the driver holds open (the service stops). */
  close?(): Promise<void>;
}
