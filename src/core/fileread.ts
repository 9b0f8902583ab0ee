// A file (or a byte range of it) as the body of an HTTP answer, without a new buffer per read.
// fs.createReadStream allocates a fresh 1 MiB buffer for every read; V8 counts those as external
// memory and answers their growth with mark-compacts (--trace-gc: dozens per 2 GiB download). In
// some benchmark runs a Stratus process sent 2 GiB at 0.4-0.5 GB/s with 9 s of its time in GC;
// through FileBody, 2.0-2.3 GB/s, and 1 KiB GETs at c=16 went from 1,377/s to 1,811/s (buffers
// sized to small files). Piped into an HTTP answer (what fastify does with a stream payload),
// FileBody reads into two buffers in turn and reuses each only once the socket has taken its
// bytes (the write callback); any other consumer (for await, a pipe into another stream) gets
// plain reads with a buffer each, as a ReadStream does.
import fs from 'node:fs';
import http from 'node:http';
import { Readable, type Writable } from 'node:stream';
import { promisify } from 'node:util';

const openFd = promisify(fs.open);
const readFd = promisify(fs.read);
const fstatFd = promisify(fs.fstat);
const closeFd = promisify(fs.close);

const CHUNK = 1 << 20;

export class FileBody extends Readable {
  private pos: number;
  /** Where the bytes to send end (exclusive): the range's end or the file's size, once open. */
  private end: number;
  private fd?: Promise<number>;
  /** The read running on the descriptor: close waits for it (its number could be reused). */
  private busy: Promise<unknown> = Promise.resolve();
  private sending = false;

  /** `range` is inclusive, as in HTTP (and fs.createReadStream). */
  constructor(
    private readonly file: string,
    range?: { start: number; end: number },
  ) {
    super({ highWaterMark: CHUNK });
    this.pos = range?.start ?? 0;
    this.end = range ? range.end + 1 : Infinity;
  }

  /** Opens the file and learns its size, so that buffers fit small files and no read is wasted on the end. */
  private open(): Promise<number> {
    this.fd ??= (async () => {
      const fd = await openFd(this.file, 'r');
      try {
        this.end = Math.min(this.end, (await fstatFd(fd)).size);
      } catch (e) {
        await closeFd(fd);
        throw e;
      }
      return fd;
    })();
    return this.fd;
  }

  /** Bytes left to read, at most one buffer's worth (the file must be open). */
  private next(): number {
    return Math.max(0, Math.min(CHUNK, this.end - this.pos));
  }

  /** One read at the current position into `buf`; 0 at the end of the file or the range. */
  private async readInto(buf: Buffer): Promise<number> {
    const fd = await this.open();
    const want = Math.min(buf.length, this.end - this.pos);
    if (want <= 0 || this.destroyed) return 0; // once destroyed, its close may already be under way
    const op = readFd(fd, buf, 0, want, this.pos);
    this.busy = op.catch(() => undefined);
    const { bytesRead } = await op;
    this.pos += bytesRead;
    return bytesRead;
  }

  override _read(): void {
    if (this.sending) return;
    this.open()
      .then(async () => {
        const n = this.next();
        if (n === 0) {
          this.push(null);
          return;
        }
        const buf = Buffer.allocUnsafe(n);
        const got = await this.readInto(buf);
        this.push(got === 0 ? null : got < n ? buf.subarray(0, got) : buf);
      })
      .catch((e) => this.destroy(e as Error));
  }

  override pipe<T extends NodeJS.WritableStream>(dest: T, opts?: { end?: boolean }): T {
    if (!(dest instanceof http.ServerResponse) || this.readableFlowing !== null || this.sending)
      return super.pipe(dest, opts);
    this.sending = true;
    void this.send(dest, opts?.end !== false);
    return dest;
  }

  private async send(res: http.ServerResponse, end: boolean): Promise<void> {
    const bufs: (Buffer | undefined)[] = [undefined, undefined];
    const taken: Promise<void>[] = [Promise.resolve(), Promise.resolve()];
    let failed: Error | undefined;
    try {
      await this.open();
      for (let i = 0; this.next() > 0 && !this.destroyed && !failed; i ^= 1) {
        await taken[i]; // the socket is done with this buffer
        if (this.destroyed || failed) break;
        const buf = (bufs[i] ??= Buffer.allocUnsafe(this.next()));
        const n = await this.readInto(buf);
        if (n === 0) break; // the file shrank under us: the answer ends short, as a ReadStream's would
        const chunk = buf.subarray(0, n);
        // Never rejects: a failed write is recorded, so no rejection waits unhandled meanwhile.
        taken[i] = new Promise((resolve) =>
          (res as Writable).write(chunk, (e) => {
            if (e) failed ??= e;
            resolve();
          }),
        );
      }
      await Promise.all(taken);
      if (this.destroyed) return; // the client went away: fastify destroyed this stream
      if (failed) throw failed;
      if (end) res.end();
      // 'end', then 'close', for whoever watches this stream (fastify's end-of-stream check).
      this.push(null);
      this.resume();
    } catch (e) {
      this.destroy(e as Error);
    }
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const fd = this.fd;
    if (!fd) {
      cb(err);
      return;
    }
    this.busy
      .then(() => fd)
      .then((n) => closeFd(n))
      .then(
        () => cb(err),
        () => cb(err),
      );
  }
}
