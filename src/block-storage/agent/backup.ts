// cinder-backup: backs volumes up into the object store and restores them. A volume is read in
// chunks; each chunk has a sha256; a chunk of zeros is recorded, not stored; an incremental
// backup stores only the chunks whose sha256 differs from its parent's (and points at the
// parent's objects for the others); stored chunks are zlib-compressed. A restore writes every
// chunk back at its offset, so the volume reads byte-identical to the backed-up one.
import { execFile } from 'node:child_process';
import { createHash, webcrypto } from 'node:crypto';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import zlib from 'node:zlib';
import type { MessageBus } from '../../core/bus.ts';
import { json } from '../../core/db.ts';
import type { Logger } from '../../core/log.ts';
import { serveRpc } from '../../core/rpc.ts';
import type { BackupStore, Chunk } from '../backups.ts';
import type { ObjectStoreClient } from '../backup_store.ts';
import type { BlockStorageOptions } from '../config.ts';
import type { DriverVolume, LocalCopy, VolumeDriver } from '../drivers/driver.ts';
import { ServiceHeartbeat } from '../heartbeat.ts';
import { Action, Detail, type MessageStore } from '../messages.ts';
import { BACKUP_TOPIC, type BackupRpc } from '../rpcapi.ts';
import type { VolumeStore } from '../volumes.ts';

const run = promisify(execFile);
const deflate = promisify(zlib.deflate);
const inflate = promisify(zlib.inflate);
const GiB = 1024 ** 3;

export class BackupAgent {
  readonly heartbeat: ServiceHeartbeat;
  private stopServing?: () => void;
  constructor(
    private backups: BackupStore,
    private volumes: VolumeStore,
    private messages: MessageStore,
    private objects: ObjectStoreClient,
    private driver: VolumeDriver,
    private bus: MessageBus,
    private o: BlockStorageOptions,
    private log: Logger,
  ) {
    this.heartbeat = new ServiceHeartbeat(
      volumes.db,
      o.host,
      'cinder-backup',
      o.availabilityZone,
      o.reportInterval,
      log,
    );
  }

  async start() {
    const startedAt = new Date().toISOString();
    // What a previous run of this host left unfinished (cinder's _cleanup_incomplete_backup_operations,
    // by host: another host's backups are that host's): a backup that did not complete is an
    // error, its volume back as it was.
    for (const b of await this.backups.list()) {
      if (b.host && b.host !== this.o.host) continue;
      if ((b.updated_at ?? b.created_at) >= startedAt) continue;
      if (b.status === 'creating') {
        await this.backups.update(b.id, {
          status: 'error',
          fail_reason: 'The backup service restarted during the backup.',
        });
        await this.volumes.update(b.volume_id, { status: 'available' }, { status: ['backing-up'] });
      } else if (b.status === 'restoring') await this.backups.update(b.id, { status: 'available' });
      else if (b.status === 'deleting') await this.deleteBackup(b.id);
    }
    const h = (fn: () => Promise<void>) => {
      fn().catch((err) => this.log.error({ err }, 'backup operation failed'));
      return null;
    };
    this.stopServing = serveRpc<BackupRpc>(this.bus, BACKUP_TOPIC, this.o.host, {
      create_backup: (a) => h(() => this.createBackup(a.backup_id, a.request_id)),
      restore_backup: (a) => h(() => this.restoreBackup(a.backup_id, a.volume_id, a.request_id)),
      delete_backup: (a) => h(() => this.deleteBackup(a.backup_id)),
    });
    await this.heartbeat.start();
  }

  stop() {
    this.heartbeat.stop();
    this.stopServing?.();
  }

  private async createBackup(id: string, requestId?: string) {
    const b = await this.backups.get(id);
    if (!b || b.status !== 'creating') return;
    // The host that makes it (cinder's backup.host): its restore and delete come back here.
    if (b.host !== this.o.host) await this.backups.update(id, { host: this.o.host });
    const v = await this.volumes.get(b.volume_id);
    const restoreStatus = v?.previous_status ?? 'available';
    let local: LocalCopy | undefined;
    try {
      if (!v) throw new Error('volume gone');
      const container = b.container ?? 'volumebackups';
      await this.objects.ensureContainer(container);
      const parent = b.parent_id ? await this.backups.get(b.parent_id) : undefined;
      const parentChunks = new Map((parent ? json<Chunk[]>(parent.chunks, []) : []).map((c) => [c.offset, c]));
      local = await localCopy(this.driver, { id: v.id, size: v.size, provider_location: v.provider_location }, 'read');
      const path = local.path;
      const size = v.size * GiB;
      const chunkSize = this.o.backupChunkSize;
      const chunks: Chunk[] = [];
      let stored = 0;
      const extents = await dataExtents(path);
      const level = this.o.backupCompressionLevel;
      const fh = await fs.promises.open(path, 'r');
      // A bounded pipeline (Cinder's chunked driver with its threads): up to `backupWorkers`
      // chunks are read, hashed (a hashing thread), compressed (zlib on libuv's pool) and sent
      // to the object store at once, each in a reused buffer of shared memory.
      const pool = new TaskPool(this.o.backupWorkers);
      const buffers = new ChunkBuffers(chunkSize);
      try {
        for (let offset = 0, i = 0; offset < size; offset += chunkSize, i++) {
          const len = Math.min(chunkSize, size - offset);
          const prev = parentChunks.get(offset);
          // A chunk in a hole of the sparse file is zeros without reading it.
          if (!hasData(extents, offset, len)) {
            const sha256 = zeroSha(len);
            chunks[i] =
              prev && prev.sha256 === sha256 && prev.length === len
                ? prev
                : { offset, length: len, sha256, object: null };
            continue;
          }
          await pool.ready();
          const data = buffers.take().subarray(0, len);
          const at = i;
          pool.run(async () => {
            try {
              const { bytesRead } = await fh.read(data, 0, len, offset);
              if (bytesRead < len) data.fill(0, bytesRead, len);
              // Zeros (holes of a sparse volume) are compared with memcmp and hashed once per length.
              const zero = isZero(data);
              const sha256 = zero ? zeroSha(len) : await sha256Hex(data);
              if (prev && prev.sha256 === sha256 && prev.length === len) {
                chunks[at] = prev;
                return;
              }
              if (zero) {
                chunks[at] = { offset, length: len, sha256, object: null };
                return;
              }
              const object = `backup_${b.id}/${String(at).padStart(5, '0')}`;
              const { compression, body } = await compress(data, level);
              await this.objects.put(container, object, body);
              chunks[at] = { offset, length: len, sha256, object, ...(compression === 'none' ? { compression } : {}) };
              stored++;
            } finally {
              buffers.give(data);
            }
          });
        }
        await pool.drain();
      } finally {
        await pool.settle();
        await fh.close();
      }
      await this.objects.put(
        container,
        `backup_${b.id}_metadata`,
        Buffer.from(
          JSON.stringify({
            backup_id: b.id,
            volume_id: v.id,
            size: v.size,
            chunk_size: chunkSize,
            volume_meta: json(v.metadata, {}),
            compression: 'zlib',
            chunks,
          }),
        ),
      );
      await this.backups.update(b.id, {
        status: 'available',
        object_count: stored + 1,
        chunks: JSON.stringify(chunks),
        container,
      });
    } catch (err) {
      this.log.warn({ err, backup: id }, 'backup failed');
      await this.backups.update(id, { status: 'error', fail_reason: String((err as Error).message) });
      await this.messages.create({
        projectId: b.project_id,
        requestId,
        resourceType: 'VOLUME_BACKUP',
        resourceId: id,
        action: Action.BACKUP_CREATE,
        detail: Detail.UNKNOWN_ERROR,
      });
    } finally {
      await local?.release();
      await this.volumes.update(
        b.volume_id,
        { status: restoreStatus, previous_status: null },
        { status: ['backing-up'] },
      );
    }
  }

  private async restoreBackup(id: string, volumeId: string, requestId?: string) {
    const b = await this.backups.get(id);
    const v = await this.volumes.get(volumeId);
    if (!b || !v) return;
    // A new volume made from the backup (3.47): still `creating`; its failure leaves it `error`.
    const isNew = v.status === 'creating' && v.backup_id === id;
    if (isNew) await this.backups.update(b.id, { status: 'restoring', host: this.o.host });
    let local: LocalCopy | undefined;
    try {
      local = await localCopy(this.driver, { id: v.id, size: v.size, provider_location: v.provider_location }, 'write');
      const path = local.path;
      const chunks = json<Chunk[]>(b.chunks, []);
      const extents = await dataExtents(path);
      const fh = await fs.promises.open(path, 'r+');
      const container = b.container ?? 'volumebackups';
      // Up to `backupWorkers` chunks are fetched, inflated, checked and written at their offsets at once.
      const pool = new TaskPool(this.o.backupWorkers);
      const buffers = new ChunkBuffers(Math.max(0, ...chunks.map((c) => c.length)));
      try {
        for (const c of chunks) {
          await pool.ready();
          pool.run(async () => {
            if (c.object) {
              // A stored chunk is read into a buffer of the pool (one of its length, at most).
              const into = buffers.take();
              try {
                const got = await this.objects.get(container, c.object, into);
                const data = c.compression === 'none' ? got : await inflate(got);
                if ((await sha256Hex(data)) !== c.sha256) throw new Error(`chunk at ${c.offset} fails its sha256`);
                await writeAll(fh, data, c.offset);
              } finally {
                buffers.give(into);
              }
              return;
            }
            // A chunk of zeros: written only where the volume holds something else (a new volume is all holes).
            if (!hasData(extents, c.offset, c.length)) return;
            const here = Buffer.alloc(c.length);
            const { bytesRead } = await fh.read(here, 0, c.length, c.offset);
            if (bytesRead === 0 || isZero(here.subarray(0, bytesRead))) return;
            await fh.write(Buffer.alloc(c.length), 0, c.length, c.offset);
          });
        }
        await pool.drain();
        await fh.datasync();
      } finally {
        await pool.settle();
        await fh.close();
      }
      await local.commit();
      // The backed-up volume's metadata comes back with its bytes (as Cinder's volume_meta).
      const meta = await this.objects
        .get(b.container ?? 'volumebackups', `backup_${b.id}_metadata`)
        .then((x) => (JSON.parse(x.toString('utf8')) as { volume_meta?: Record<string, string> }).volume_meta ?? {})
        .catch(() => ({}));
      await this.volumes.update(v.id, {
        status: 'available',
        ...(isNew ? { launched_at: new Date().toISOString() } : {}),
        metadata: JSON.stringify({ ...json<Record<string, string>>(v.metadata, {}), ...meta }),
      });
      await this.backups.update(b.id, { status: 'available' });
    } catch (err) {
      this.log.warn({ err, backup: id }, 'restore failed');
      await this.volumes.update(v.id, { status: isNew ? 'error' : 'error_restoring' });
      await this.backups.update(b.id, { status: 'available' });
      await this.messages.create({
        projectId: b.project_id,
        requestId,
        resourceType: 'VOLUME_BACKUP',
        resourceId: id,
        action: Action.BACKUP_RESTORE,
        detail: Detail.UNKNOWN_ERROR,
      });
    } finally {
      await local?.release();
    }
  }

  private async deleteBackup(id: string) {
    const b = await this.backups.get(id);
    if (!b) return;
    try {
      const container = b.container ?? 'volumebackups';
      for (const c of json<Chunk[]>(b.chunks, []))
        if (c.object?.startsWith(`backup_${b.id}/`)) await this.objects.delete(container, c.object);
      await this.objects.delete(container, `backup_${b.id}_metadata`);
      await this.backups.destroy(id);
    } catch (err) {
      this.log.warn({ err, backup: id }, 'backup delete failed');
      await this.backups.update(id, { status: 'error_deleting', fail_reason: String((err as Error).message) });
    }
  }
}

/** The file a backup reads or a restore writes: the volume's own, or the driver's local copy of it. */
async function localCopy(driver: VolumeDriver, v: DriverVolume, mode: 'read' | 'write'): Promise<LocalCopy> {
  if (driver.localCopy) return driver.localCopy(v, mode);
  const done = async () => {};
  return { path: driver.localPath(v), commit: done, release: done };
}

interface Extent {
  start: number;
  length: number;
  data: boolean;
}

/** The allocated extents of a raw file (qemu-img map: SEEK_DATA/SEEK_HOLE), to skip its holes. */
async function dataExtents(path: string): Promise<Extent[] | null> {
  try {
    const { stdout } = await run('qemu-img', ['map', '-f', 'raw', '--output=json', path], {
      maxBuffer: 64 * 1024 * 1024,
    });
    return (JSON.parse(stdout) as Extent[]).filter((e) => e.data);
  } catch {
    return null; // unknown: every chunk is read
  }
}

function hasData(extents: Extent[] | null, offset: number, len: number): boolean {
  if (!extents) return true;
  return extents.some((e) => e.start < offset + len && e.start + e.length > offset);
}

let zeros = Buffer.alloc(0);
const zeroShas = new Map<number, string>();

function isZero(b: Buffer): boolean {
  if (zeros.length < b.length) zeros = Buffer.alloc(b.length);
  return b.equals(zeros.subarray(0, b.length));
}

function zeroSha(len: number): string {
  let s = zeroShas.get(len);
  if (!s) {
    if (zeros.length < len) zeros = Buffer.alloc(len);
    zeroShas.set(len, (s = createHash('sha256').update(zeros.subarray(0, len)).digest('hex')));
  }
  return s;
}

/**
 * A chunk's stored form: zlib, unless it does not pay. As ZFS does, a compressed chunk is kept only
 * when it saves at least 1/8 of the bytes, and a 256 KiB sample deflated at level 1 tells early
 * when it will not (random, encrypted or already-compressed data): deflating those costs ~20 ms of
 * CPU per MiB for a few percent. Cinder's chunked driver likewise stores a chunk as is ('none')
 * when zlib does not shrink it.
 */
async function compress(data: Buffer, level: number): Promise<{ compression: 'zlib' | 'none'; body: Buffer }> {
  if (level === 0) return { compression: 'none', body: data };
  const worth = (n: number, of: number) => n <= of - of / 8;
  const sample = data.subarray(0, Math.min(data.length, SAMPLE));
  if (sample.length === SAMPLE && !worth((await deflate(sample, { level: 1 })).length, sample.length))
    return { compression: 'none', body: data };
  const body = await deflate(data, { level });
  return worth(body.length, data.length) ? { compression: 'zlib', body } : { compression: 'none', body: data };
}

const SAMPLE = 256 * 1024;

/**
 * sha256 of a chunk, off the main thread. A chunk of the pool (shared memory) is hashed in
 * place by a hashing thread; WebCrypto's digest, which also runs off the main thread, first
 * copies its input there (32 MiB of fresh memory per chunk: the copy and its page faults cost
 * the main thread, which also serves the object store, more than the hash itself with SHA-NI).
 * Other buffers (an inflated chunk) go through WebCrypto.
 */
async function sha256Hex(data: Buffer): Promise<string> {
  if (data.buffer instanceof SharedArrayBuffer) return sha256Thread.digest(data);
  return Buffer.from(await webcrypto.subtle.digest('SHA-256', data)).toString('hex');
}

const SHA256_WORKER = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
parentPort.on('message', (m) => {
  let hex, error;
  try {
    hex = createHash('sha256').update(new Uint8Array(m.sab, m.start, m.length)).digest('hex');
  } catch (e) {
    error = String(e && e.message || e);
  }
  parentPort.postMessage({ id: m.id, hex, error });
});
`;

/** One hashing thread for the backups of this process, started on first use, holding no process open while idle. */
class Sha256Thread {
  private worker?: Worker;
  private next = 0;
  private waiting = new Map<number, { resolve: (hex: string) => void; reject: (e: Error) => void }>();

  digest(data: Buffer): Promise<string> {
    const w = this.start();
    const id = this.next++;
    return new Promise<string>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      if (this.waiting.size === 1) w.ref();
      w.postMessage({ id, sab: data.buffer, start: data.byteOffset, length: data.length });
    });
  }

  private settle(id: number) {
    const p = this.waiting.get(id);
    this.waiting.delete(id);
    if (!this.waiting.size) this.worker?.unref();
    return p;
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(SHA256_WORKER, { eval: true, name: 'backup-sha256' });
    w.on('message', (m: { id: number; hex?: string; error?: string }) => {
      const p = this.settle(m.id);
      if (m.hex !== undefined) p?.resolve(m.hex);
      else p?.reject(new Error(`sha256: ${m.error}`));
    });
    const fail = (e: Error) => {
      if (this.worker === w) this.worker = undefined;
      const all = [...this.waiting.values()];
      this.waiting.clear();
      for (const p of all) p.reject(e);
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`the sha256 thread exited (code ${code})`)));
    w.unref();
    this.worker = w;
    return w;
  }
}

const sha256Thread = new Sha256Thread();

/**
 * The chunk buffers of one backup or restore, in shared memory (the hashing thread reads them
 * in place), reused from chunk to chunk: a fresh 32 MiB buffer per chunk costs page faults and
 * garbage collections. At most the pool's tasks hold one each.
 */
class ChunkBuffers {
  private free: Buffer[] = [];
  constructor(private size: number) {}

  take(): Buffer {
    return this.free.pop() ?? Buffer.from(new SharedArrayBuffer(this.size));
  }

  give(b: Buffer) {
    this.free.push(Buffer.from(b.buffer, 0, this.size));
  }
}

/** Writes a whole buffer at an offset (a positional write may write less than asked). */
async function writeAll(fh: fs.promises.FileHandle, data: Buffer, offset: number) {
  for (let done = 0; done < data.length; ) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, offset + done);
    done += bytesWritten;
  }
}

/** At most `size` tasks at once; the first failure stops new tasks and is thrown by ready()/drain(). */
class TaskPool {
  private running = new Set<Promise<void>>();
  private error: unknown;
  private failed = false;
  constructor(private size: number) {}

  /** Waits for a free slot; throws the first failure. */
  async ready() {
    while (this.running.size >= this.size && !this.failed) await Promise.race(this.running);
    if (this.failed) throw this.error;
  }

  run(fn: () => Promise<void>) {
    const p: Promise<void> = fn()
      .catch((err) => {
        if (!this.failed) {
          this.failed = true;
          this.error = err;
        }
      })
      .finally(() => this.running.delete(p));
    this.running.add(p);
  }

  /** Waits for every task; throws the first failure. */
  async drain() {
    await this.settle();
    if (this.failed) throw this.error;
  }

  /** Waits for every task, never throws (before closing what they use). */
  async settle() {
    while (this.running.size) await Promise.allSettled([...this.running]);
  }
}
