// Hashing request bodies off the event loop. MD5 (Swift's ETag, Glance's checksum) and SHA-512
// (Glance's os_hash_value) cost more CPU per byte than receiving the bytes and writing them to a
// file, and on the event loop that work runs in series with everything else. A body is hashed
// inline while it is small (a thread hop would cost more than the hash); once it passes one slot
// (1 MiB) its bytes are copied into a small ring of shared slots and each algorithm runs on a
// worker thread, in parallel with the socket reads and the disk writes. Memory per body is the
// ring (SLOTS x 1 MiB) whatever its size; when the workers fall behind, update() waits, which
// slows the reader (backpressure) instead of buffering.
import { createHash } from 'node:crypto';
import os from 'node:os';
import { Worker } from 'node:worker_threads';

const SLOT = 1 << 20;
const SLOTS = 4;

// Plain JavaScript evaluated in the worker (the service is bundled: no separate file to load).
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const jobs = new Map();
parentPort.on('message', (m) => {
  if (m.op === 'start') { jobs.set(m.id, { hash: createHash(m.algo), ring: Buffer.from(m.ring) }); return; }
  const j = jobs.get(m.id);
  if (m.op === 'update') {
    if (j) j.hash.update(j.ring.subarray(m.slot * ${SLOT}, m.slot * ${SLOT} + m.len));
    parentPort.postMessage({ id: m.id, slot: m.slot });
  } else if (m.op === 'end') {
    jobs.delete(m.id);
    parentPort.postMessage({ id: m.id, digest: j ? j.hash.digest('hex') : '' });
  } else if (m.op === 'abort') {
    jobs.delete(m.id);
  }
});`;

interface Lane {
  id: number;
  onAck(slot: number): void;
  onDigest(hex: string): void;
  onError(e: Error): void;
}

/** A few long-lived hashing threads (one per core, at most 2), shared by every body; unref'd. */
class HashThreads {
  private threads: { worker: Worker; lanes: Map<number, Lane> }[] = [];
  private next = 0;
  private seq = 0;
  readonly size = Math.max(1, Math.min(2, os.availableParallelism()));

  /** Starts a lane (one algorithm over one ring) on the next thread in turn. */
  open(
    algo: string,
    ring: SharedArrayBuffer,
    lane: Omit<Lane, 'id'>,
  ): { id: number; post: (m: object) => void; close: () => void } {
    const i = this.next++ % this.size;
    const t = (this.threads[i] ??= this.spawn(i));
    const id = ++this.seq;
    // A thread keeps the process alive only while it has work.
    if (!t.lanes.size) t.worker.ref();
    t.lanes.set(id, { ...lane, id });
    t.worker.postMessage({ op: 'start', id, algo, ring });
    return { id, post: (m) => t.worker.postMessage({ ...m, id }), close: () => this.drop(t, id) };
  }

  private drop(t: { worker: Worker; lanes: Map<number, Lane> }, id: number) {
    if (t.lanes.delete(id) && !t.lanes.size) t.worker.unref();
  }

  private spawn(i: number) {
    const worker = new Worker(WORKER_SOURCE, { eval: true, name: 'body-hash' });
    const t = { worker, lanes: new Map<number, Lane>() };
    worker.on('message', (m: { id: number; slot?: number; digest?: string }) => {
      const lane = t.lanes.get(m.id);
      if (!lane) return;
      if (m.digest !== undefined) {
        this.drop(t, m.id);
        lane.onDigest(m.digest);
      } else lane.onAck(m.slot!);
    });
    const fail = (e: Error) => {
      if (this.threads[i] === t) delete this.threads[i];
      for (const lane of t.lanes.values()) lane.onError(e);
      t.lanes.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`hashing thread exited (code ${code})`)));
    // After the listeners (adding a 'message' listener refs the worker again).
    worker.unref();
    return t;
  }
}

const threads = new HashThreads();

/** The hex digests of a body's bytes for several algorithms (e.g. md5 and sha512), fed chunk by chunk. */
export class BodyHash {
  bytes = 0;
  /** Inline mode: the chunks so far (references, not copies), until they pass one slot. */
  private held: Buffer[] = [];
  private aborted = false;
  private ring?: {
    buf: Buffer;
    /** Lanes that have not yet acknowledged each slot. */
    pending: number[];
    waiting: ((e?: Error) => void)[];
    cur: number;
    fill: number;
    lanes: { post: (m: object) => void; close: () => void; digest: Promise<string> }[];
    error?: Error;
  };

  constructor(readonly algos: string[]) {}

  /** Adds a chunk; resolves once it is copied (at once unless every slot is still being hashed). */
  async update(chunk: Buffer): Promise<void> {
    if (this.aborted) throw new Error('hashing aborted');
    this.bytes += chunk.length;
    if (!this.ring) {
      this.held.push(chunk);
      if (this.bytes < SLOT) return;
      this.startThreads();
      const held = this.held;
      this.held = [];
      for (const b of held) await this.copy(b);
      return;
    }
    await this.copy(chunk);
  }

  /** The digests, in the order of the algorithms. */
  async digest(): Promise<string[]> {
    if (this.aborted) throw new Error('hashing aborted');
    const r = this.ring;
    if (!r) {
      return this.algos.map((a) => {
        const h = createHash(a);
        for (const b of this.held) h.update(b);
        return h.digest('hex');
      });
    }
    if (r.error) throw r.error;
    if (r.fill) this.send();
    const hex = await Promise.all(
      r.lanes.map((l) => {
        l.post({ op: 'end' });
        return l.digest;
      }),
    );
    this.ring = undefined;
    return hex;
  }

  /** Forgets the body (an upload that failed): the threads drop its state. */
  abort(): void {
    this.aborted = true;
    const r = this.ring;
    this.held = [];
    if (!r) return;
    this.ring = undefined;
    for (const l of r.lanes) {
      l.post({ op: 'abort' });
      l.close();
    }
    r.error ??= new Error('hashing aborted');
    for (const w of r.waiting) w?.(r.error);
  }

  private startThreads() {
    const sab = new SharedArrayBuffer(SLOTS * SLOT);
    const r: NonNullable<BodyHash['ring']> = {
      buf: Buffer.from(sab),
      pending: new Array(SLOTS).fill(0),
      waiting: [],
      cur: 0,
      fill: 0,
      lanes: [],
    };
    this.ring = r;
    const fail = (e: Error) => {
      r.error ??= e;
      r.waiting.forEach((w) => w?.(e));
      r.waiting = [];
    };
    for (const algo of this.algos) {
      let resolve!: (hex: string) => void, reject!: (e: Error) => void;
      const digest = new Promise<string>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      digest.catch(() => {});
      const lane = threads.open(algo, sab, {
        onAck: (slot) => {
          if (--r.pending[slot]! === 0) {
            const w = r.waiting[slot];
            delete r.waiting[slot];
            w?.();
          }
        },
        onDigest: resolve,
        onError: (e) => {
          reject(e);
          fail(e);
        },
      });
      r.lanes.push({ ...lane, digest });
    }
  }

  private async copy(chunk: Buffer) {
    let off = 0;
    while (off < chunk.length) {
      const r = this.ring!;
      if (r.error) throw r.error;
      if (r.pending[r.cur]) {
        await new Promise<void>((resolve, reject) => {
          r.waiting[r.cur] = (e) => (e ? reject(e) : resolve());
        });
        continue;
      }
      const n = Math.min(chunk.length - off, SLOT - r.fill);
      chunk.copy(r.buf, r.cur * SLOT + r.fill, off, off + n);
      r.fill += n;
      off += n;
      if (r.fill === SLOT) this.send();
    }
  }

  /** Hands the current slot to every lane and moves to the next one. */
  private send() {
    const r = this.ring!;
    r.pending[r.cur] = r.lanes.length;
    for (const l of r.lanes) l.post({ op: 'update', slot: r.cur, len: r.fill });
    r.cur = (r.cur + 1) % SLOTS;
    r.fill = 0;
  }
}
