// Streaming a body into a file descriptor: socket chunks are small (64 KiB), so they are gathered
// and written 1 MiB at a time with one writev, with one write in flight while the next megabyte
// gathers (reading and writing overlap). Every `syncEvery` bytes an fdatasync starts in the
// background, as Swift's object server does (mb_per_sync): the disk writes back while the body
// is still arriving, so the final sync before the answer has only the tail left to flush.
import fs from 'node:fs';
import { promisify } from 'node:util';

const writevFd = promisify(fs.writev);
const datasyncFd = promisify(fs.fdatasync);

const BATCH = 1 << 20;

export class FdWriter {
  bytes = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private inflight: Promise<void> = Promise.resolve();
  private syncing?: Promise<void>;
  private syncedUpTo = 0;
  /** A background sync's failure: reported by end() (a later fdatasync may not report it again). */
  private syncError?: Error;

  constructor(
    private fd: number,
    private opts: { syncEvery?: number } = {},
  ) {}

  /** Queues a chunk; resolves once the caller may send the next one (a write of the previous megabyte may still run). */
  async write(chunk: Buffer): Promise<void> {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= BATCH) await this.flush();
  }

  /** Writes what is left and waits for every write and background sync. */
  async end(): Promise<void> {
    await this.flush();
    await this.inflight;
    await this.syncing;
    if (this.syncError) throw this.syncError;
  }

  /** Waits for whatever still runs on the descriptor, ignoring its outcome (before closing it after a failure). */
  async settle(): Promise<void> {
    await this.inflight.catch(() => {});
    await this.syncing;
  }

  private async flush() {
    await this.inflight;
    const bufs = this.pending;
    this.pending = [];
    this.bytes += this.pendingBytes;
    this.pendingBytes = 0;
    this.inflight = this.writeAll(bufs);
    // Awaited by the next flush or end(); marked handled so an early failure is not "unhandled".
    this.inflight.catch(() => {});
  }

  private async writeAll(bufs: Buffer[]) {
    while (bufs.length) {
      let { bytesWritten } = await writevFd(this.fd, bufs);
      while (bufs.length && bytesWritten >= bufs[0]!.length) {
        bytesWritten -= bufs[0]!.length;
        bufs.shift();
      }
      if (bufs.length && bytesWritten) bufs[0] = bufs[0]!.subarray(bytesWritten);
    }
    const every = this.opts.syncEvery;
    if (every && !this.syncing && this.bytes - this.syncedUpTo >= every) {
      this.syncedUpTo = this.bytes;
      this.syncing = datasyncFd(this.fd)
        .catch((e: Error) => {
          this.syncError ??= e;
        })
        .finally(() => {
          this.syncing = undefined;
        });
    }
  }
}
