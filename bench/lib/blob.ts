// Streaming helpers for the object-store and image benchmarks: a fixed byte pattern
// generated on the fly (never held whole in memory), streaming HTTP transfers that
// verify what comes back against the pattern, temporary directories removed even on
// failure, and the machine's limit for moving the same bytes: raw file copies (measured
// once per process and shared by the areas of a run) and a bare node:http server
// (bench/lib/blob-server.ts; each area measures it next to its Stratus cells).
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { runLoad, type LoadResult } from './load.ts';
import { freePort, procStatusKb, runCommand, startServer, waitReady, type Server } from './proc.ts';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** 1 KiB, 100 MiB, 2 GiB ... */
export function sizeLabel(n: number): string {
  if (n >= GiB && n % GiB === 0) return `${n / GiB} GiB`;
  if (n >= MiB && n % MiB === 0) return `${n / MiB} MiB`;
  if (n >= KiB && n % KiB === 0) return `${n / KiB} KiB`;
  return `${n} B`;
}

/** "1M", "100MiB", "2G", "1024" → bytes. */
export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?$/i.exec(s.trim());
  if (!m) throw new Error(`not a size: ${s}`);
  const mult = { '': 1, k: KiB, m: MiB, g: GiB }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Math.round(Number(m[1]) * mult);
}

/** MiB per second. */
export const mbps = (bytes: number, ms: number) => (ms > 0 ? bytes / MiB / (ms / 1000) : NaN);

// -- the pattern -------------------------------------------------------------

/** A prime period a little under 1 MiB: no chunk, page or block boundary lines up with it. */
const PERIOD = 1_048_573;
/** Size of the pieces the generator hands out (the pattern buffer has this much tail). */
export const CHUNK = 256 * KiB;
const PATTERN = (() => {
  const b = Buffer.allocUnsafe(PERIOD + MiB);
  let x = 0x9e3779b9;
  for (let i = 0; i < PERIOD; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  b.copy(b, PERIOD, 0, MiB); // the tail repeats the head, so any piece ≤ 1 MiB is one slice
  return b;
})();

/** The pattern's bytes [offset, offset + len), len ≤ 1 MiB, without copying. */
export function patternSlice(offset: number, len: number): Buffer {
  const o = offset % PERIOD;
  return PATTERN.subarray(o, o + len);
}

/** The first `size` bytes of the pattern, as a stream of CHUNK-sized pieces. */
export function patternStream(size: number): Readable {
  let off = 0;
  return new Readable({
    highWaterMark: CHUNK,
    read() {
      while (off < size) {
        const n = Math.min(CHUNK, size - off);
        const piece = patternSlice(off, n);
        off += n;
        if (!this.push(piece)) return;
      }
      this.push(null);
    },
  });
}

/** Checks a received stream against the pattern, piece by piece (memcmp, cheap). */
export class PatternCheck {
  bytes = 0;
  /** Offset of the first byte that differs, if any. */
  mismatchAt?: number;
  add(chunk: Buffer): void {
    if (this.mismatchAt === undefined) {
      for (let i = 0; i < chunk.length; i += MiB) {
        const piece = chunk.subarray(i, Math.min(chunk.length, i + MiB));
        if (!piece.equals(patternSlice(this.bytes + i, piece.length))) {
          const want = patternSlice(this.bytes + i, piece.length);
          let j = 0;
          while (j < piece.length && piece[j] === want[j]) j++;
          this.mismatchAt = this.bytes + i + j;
          break;
        }
      }
    }
    this.bytes += chunk.length;
  }
}

const md5Cache = new Map<number, string>();
/** MD5 (hex) of the first `size` bytes of the pattern; computed once per size. */
export async function patternMd5(size: number): Promise<string> {
  const known = md5Cache.get(size);
  if (known) return known;
  const h = createHash('md5');
  for (let off = 0; off < size; off += MiB) {
    h.update(patternSlice(off, Math.min(MiB, size - off)));
    if ((off / MiB) % 256 === 255) await new Promise((r) => setImmediate(r)); // keep timers alive
  }
  const d = h.digest('hex');
  md5Cache.set(size, d);
  return d;
}

/** Write the first `size` bytes of the pattern to a file (and remember its MD5). */
export async function writePatternFile(file: string, size: number): Promise<void> {
  const h = createHash('md5');
  const fh = await fsp.open(file, 'w');
  try {
    for (let off = 0; off < size; ) {
      const n = Math.min(MiB, size - off);
      const piece = patternSlice(off, n);
      h.update(piece);
      let done = 0;
      while (done < n) done += (await fh.write(piece, done, n - done)).bytesWritten;
      off += n;
    }
  } finally {
    await fh.close();
  }
  md5Cache.set(size, h.digest('hex'));
}

// -- streaming HTTP transfers -------------------------------------------------

export interface TransferOptions {
  method: string;
  headers?: Record<string, string>;
  /** Send this many bytes of the pattern as the body (with Content-Length). */
  upload?: number;
  /** Compare the response body with the pattern instead of keeping it. */
  verify?: boolean;
  agent?: http.Agent | false;
  /** Idle timeout of the socket (default 30 s; a PUT answer may wait for an fsync of GiBs). */
  idleTimeoutMs?: number;
  /** Abort the whole transfer after this long (default none). */
  maxMs?: number;
  signal?: AbortSignal;
}

export interface Transfer {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Response body (when not verified; first 64 KiB). */
  body: string;
  /** Bytes of the response body received. */
  received: number;
  mismatchAt?: number;
  /** From sending the request to the last byte of the answer. */
  ms: number;
  error?: string;
}

/** One streaming request; never rejects (errors are in `error`). */
export function transfer(url: string, o: TransferOptions): Promise<Transfer> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const headers: Record<string, string | number> = { ...(o.headers ?? {}) };
    if (o.upload !== undefined) headers['Content-Length'] = o.upload;
    const t0 = performance.now();
    let settled = false;
    const check = new PatternCheck();
    const chunks: Buffer[] = [];
    let kept = 0;
    let status = 0;
    let resHeaders: http.IncomingHttpHeaders = {};
    const finish = (error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      resolve({
        status,
        headers: resHeaders,
        body: Buffer.concat(chunks).toString('utf8'),
        received: check.bytes,
        mismatchAt: check.mismatchAt,
        ms: performance.now() - t0,
        error,
      });
    };
    const req = http.request(
      {
        agent: o.agent ?? false,
        host: u.hostname,
        port: u.port,
        method: o.method,
        path: u.pathname + u.search,
        headers,
        signal: o.signal,
      },
      (res) => {
        status = res.statusCode ?? 0;
        resHeaders = res.headers;
        res.on('data', (c: Buffer) => {
          if (o.verify) check.add(c);
          else {
            check.bytes += c.length;
            if (kept < 64 * KiB) {
              chunks.push(c);
              kept += c.length;
            }
          }
        });
        res.on('end', () => finish());
        res.on('error', (e) => finish(e.message));
        res.on('close', () => finish(res.complete ? undefined : 'connection closed before the end of the answer'));
      },
    );
    const deadline = o.maxMs
      ? setTimeout(() => req.destroy(new Error(`aborted after ${Math.round(o.maxMs! / 1000)} s`)), o.maxMs)
      : undefined;
    req.setTimeout(o.idleTimeoutMs ?? 30_000, () =>
      req.destroy(
        new Error(
          `no progress for ${(o.idleTimeoutMs ?? 30_000) / 1000} s (${check.bytes} bytes of the answer received, HTTP ${status || 'no answer'})`,
        ),
      ),
    );
    req.on('error', (e) => finish(e.message));
    if (o.upload !== undefined) {
      // An early answer (401, 413 ...) may close the socket mid-body: the answer wins.
      pipeline(patternStream(o.upload), req).catch((e) => {
        if (!status) finish((e as Error).message);
      });
    } else {
      req.end();
    }
  });
}

let curlPath: string | null | undefined;
/** The curl binary, if this machine has one. */
export function curlBinary(): string | null {
  if (curlPath === undefined) {
    const r = spawnSync('curl', ['--version'], { stdio: 'ignore' });
    curlPath = r.status === 0 ? 'curl' : null;
  }
  return curlPath;
}

/** Which client times the streaming GETs (for the report). */
export const getClient = () =>
  curlBinary()
    ? 'timed by curl to /dev/null (its time_total), then every byte checked by a second, untimed GET in the benchmark process'
    : 'timed and checked byte for byte by the benchmark process (no curl on this machine)';

/**
 * A streaming GET whose time is that of the server, not of the benchmark's own client.
 * On two cores, the in-process client (Node's http parser plus the pattern check) tops out
 * below what a server can send from the page cache (measured 0.5-0.9 GB/s vs curl's
 * 1.5-1.9 GB/s from the same server), so it capped both sides of a comparison and its noise
 * decided the ratio. curl (native, discarding the bytes) does the timed request; the
 * bytes are then checked against the pattern by an untimed transfer(). Without curl, one
 * verified transfer() does both.
 */
export async function timedGet(
  url: string,
  o: { headers?: Record<string, string>; agent?: http.Agent; signal?: AbortSignal; maxMs?: number },
): Promise<Transfer> {
  const curl = curlBinary();
  if (!curl) return transfer(url, { method: 'GET', verify: true, ...o });
  const args = ['-sS', '-o', '/dev/null', '-D', '-', '-w', '\n%{http_code} %{size_download} %{time_total}'];
  for (const [k, v] of Object.entries(o.headers ?? {})) args.push('-H', `${k}: ${v}`);
  if (o.maxMs) args.push('--max-time', String(Math.ceil(o.maxMs / 1000)));
  args.push(url);
  const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(curl, args, { signal: o.signal, maxBuffer: 1 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
  const lines = out.stdout.split(/\r?\n/);
  const [code, bytes, secs] = (lines.pop() ?? '').split(' ');
  const headers: http.IncomingHttpHeaders = {};
  for (const l of lines) {
    const m = /^([^:\s]+):\s*(.*)$/.exec(l);
    if (m) headers[m[1]!.toLowerCase()] = m[2];
  }
  const timed: Transfer = {
    status: Number(code) || 0,
    headers,
    body: '',
    received: Number(bytes) || 0,
    ms: Number(secs) * 1000,
  };
  if (out.code !== 0) return { ...timed, error: `curl: ${out.stderr.trim() || `exit ${out.code}`}` };
  if (timed.status !== 200) return timed;
  const check = await transfer(url, { method: 'GET', verify: true, ...o });
  if (check.error || check.status !== 200)
    return { ...timed, error: `the checking GET: ${check.error ?? `HTTP ${check.status}`}` };
  return { ...timed, mismatchAt: check.mismatchAt, received: Math.min(timed.received, check.received) };
}

/** A keep-alive agent for a series of transfers to one target. */
export const keepAliveAgent = () => new http.Agent({ keepAlive: true, maxSockets: 1 });

/**
 * Watch a process's VmRSS while something runs: returns the largest reading, and
 * aborts `ctl` when it exceeds limitMb (a service buffering a 2 GiB body must not
 * take the machine down).
 */
export function watchRss(
  pid: number,
  limitMb: number,
  ctl?: AbortController,
  everyMs = 200,
): { stop(): number; exceeded: () => boolean } {
  let max = 0;
  let over = false;
  const tick = () => {
    const mb = procStatusKb(pid, 'VmRSS') / 1024;
    if (mb > max) max = mb;
    if (mb > limitMb && !over) {
      over = true;
      ctl?.abort(new Error(`RSS ${Math.round(mb)} MB > ${limitMb} MB`));
    }
  };
  tick();
  const t = setInterval(tick, everyMs);
  return {
    stop() {
      clearInterval(t);
      tick();
      return max;
    },
    exceeded: () => over,
  };
}

// -- temporary data ------------------------------------------------------------

const tempDirs = new Set<string>();
let tempHooked = false;
/** A temporary directory removed by removeTemp() or, whatever happens, when the process exits. */
export function makeTemp(prefix: string, base = os.tmpdir()): string {
  if (!tempHooked) {
    tempHooked = true;
    // proc.ts turns SIGINT/SIGTERM into process.exit(), which runs this.
    process.on('exit', () => {
      for (const d of tempDirs) {
        try {
          fs.rmSync(d, { recursive: true, force: true, maxRetries: 3 });
        } catch {
          /* best effort */
        }
      }
    });
    // Without a handler, ^C would end the process without running the 'exit' handlers.
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));
  }
  const d = fs.mkdtempSync(path.join(base, prefix));
  tempDirs.add(d);
  return d;
}
export function removeTemp(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/** Free bytes (for an unprivileged user) on the file system holding `dir`. */
export async function freeBytes(dir = os.tmpdir()): Promise<number> {
  const s = await fsp.statfs(dir);
  return s.bavail * s.bsize;
}

/** Flush dirty pages so that one measurement does not pay for the previous one's writeback. */
export async function syncDisk(): Promise<void> {
  await runCommand('sync', []).catch(() => {});
}

// -- the machine's limit --------------------------------------------------------

export interface LimitRow {
  /** e.g. "node fs streams", "cp", "dd bs=1M", "bare node:http". */
  method: string;
  op: 'copy' | 'PUT' | 'GET';
  size: number;
  /** fdatasync before the operation counts as done. */
  durable: boolean;
  /** Hashes computed on the way (bare PUT only), e.g. "md5", "md5,sha512". */
  hash?: string;
  reps: number;
  /** Median over the repetitions. */
  ms: number;
  mbps: number;
  error?: string;
}

export interface Limits {
  rows: LimitRow[];
  measuredAt: Date;
  wallMs: number;
  problems: string[];
  skipped: string[];
}

export interface LimitOptions {
  sizes: number[];
  reps: (size: number) => number;
  log: (msg: string) => void;
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : NaN;
};

async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function datasync(file: string): Promise<void> {
  const fh = await fsp.open(file, 'r+');
  try {
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

export async function startBlobServer(dir: string, logFile: string): Promise<{ server: Server; origin: string }> {
  const port = await freePort();
  const server = startServer(
    'bare node:http blob server',
    process.execPath,
    ['--import', 'tsx', path.join(ROOT, 'bench/lib/blob-server.ts'), String(port), dir],
    {
      cwd: ROOT,
      logFile,
    },
  );
  const origin = `http://127.0.0.1:${port}`;
  await waitReady(server, `${origin}/ready-probe`, 20_000, 404);
  return { server, origin };
}

const limitMemo = new Map<string, Promise<Limits>>();

/**
 * Raw copies (node fs streams, cp, dd) of the same bytes, file to file on the disk of
 * os.tmpdir(). Measured once per process for a set of sizes: areas run together share it.
 */
export function machineLimits(o: LimitOptions): Promise<Limits> {
  const key = o.sizes.join(',');
  let p = limitMemo.get(key);
  if (!p) {
    p = measureLimits(o);
    limitMemo.set(key, p);
  }
  return p;
}

async function measureLimits(o: LimitOptions): Promise<Limits> {
  const t0 = performance.now();
  const out: Limits = { rows: [], measuredAt: new Date(), wallMs: 0, problems: [], skipped: [] };
  const dir = makeTemp('bench-limit-');
  try {
    const free = await freeBytes(dir);
    const sizes = o.sizes.filter((s) => {
      // a source, a copy, and room to spare
      if (free < 2 * s + 2 * GiB) {
        out.skipped.push(
          `raw limit at ${sizeLabel(s)}: ${fmtGiB(free)} free on ${os.tmpdir()}, needs ${fmtGiB(2 * s + 2 * GiB)}`,
        );
        return false;
      }
      return true;
    });
    for (const size of sizes) {
      const src = path.join(dir, `src-${size}`);
      o.log(`writing the ${sizeLabel(size)} source file`);
      await writePatternFile(src, size);
      const dst = path.join(dir, `dst-${size}`);
      const reps = o.reps(size);
      const copies: { method: string; durable: boolean; run: () => Promise<unknown> }[] = [
        {
          method: 'node fs streams',
          durable: false,
          run: () => pipeline(fs.createReadStream(src), fs.createWriteStream(dst)),
        },
        {
          method: 'node fs streams',
          durable: true,
          run: async () => {
            await pipeline(fs.createReadStream(src), fs.createWriteStream(dst));
            await datasync(dst);
          },
        },
        { method: 'cp', durable: false, run: () => runCommand('cp', [src, dst]) },
        {
          method: 'dd bs=1M',
          durable: false,
          run: () => runCommand('dd', [`if=${src}`, `of=${dst}`, 'bs=1M', 'status=none']),
        },
        {
          method: 'dd bs=1M',
          durable: true,
          run: () => runCommand('dd', [`if=${src}`, `of=${dst}`, 'bs=1M', 'conv=fdatasync', 'status=none']),
        },
      ];
      for (const c of copies) {
        const times: number[] = [];
        try {
          for (let i = 0; i < reps; i++) {
            await syncDisk();
            times.push(await timeIt(c.run));
            await fsp.rm(dst, { force: true });
          }
          const ms = median(times);
          out.rows.push({ method: c.method, op: 'copy', size, durable: c.durable, reps, ms, mbps: mbps(size, ms) });
          o.log(
            `${c.method}${c.durable ? ' + fdatasync' : ''} copy ${sizeLabel(size)}: ${mbps(size, ms).toFixed(0)} MB/s`,
          );
        } catch (e) {
          out.rows.push({
            method: c.method,
            op: 'copy',
            size,
            durable: c.durable,
            reps,
            ms: NaN,
            mbps: NaN,
            error: (e as Error).message.split('\n')[0],
          });
          out.problems.push(`${c.method} copy ${sizeLabel(size)}: ${(e as Error).message}`);
        }
      }
      await fsp.rm(src, { force: true });
      await fsp.rm(dst, { force: true });
    }
  } catch (e) {
    out.problems.push(`raw limit: ${(e as Error).message}`);
  } finally {
    removeTemp(dir);
  }
  out.wallMs = performance.now() - t0;
  return out;
}

const fmtGiB = (b: number) => `${(b / GiB).toFixed(1)} GiB`;

// -- small objects on the bare server --------------------------------------------

export interface SmallRow {
  target: string;
  op: 'PUT' | 'GET';
  durable?: boolean;
  bound: string;
  r: LoadResult;
}

const smallMemo = new Map<string, Promise<{ rows: SmallRow[]; problems: string[] }>>();

/** 1 KiB PUT (with and without fdatasync) and GET on the bare server, time-bounded; once per process. */
export function bareSmallLimits(o: {
  size: number;
  cellMs: number;
  concurrencies: number[];
  log: (m: string) => void;
}): Promise<{ rows: SmallRow[]; problems: string[] }> {
  const key = `${o.size}/${o.cellMs}/${o.concurrencies.join(',')}`;
  let p = smallMemo.get(key);
  if (!p) {
    p = measureBareSmall(o);
    smallMemo.set(key, p);
  }
  return p;
}

async function measureBareSmall(o: {
  size: number;
  cellMs: number;
  concurrencies: number[];
  log: (m: string) => void;
}): Promise<{ rows: SmallRow[]; problems: string[] }> {
  const rows: SmallRow[] = [];
  const problems: string[] = [];
  const dir = makeTemp('bench-small-');
  const body = Buffer.from(patternSlice(0, o.size));
  try {
    const { server, origin } = await startBlobServer(path.join(dir, 'store'), path.join(dir, 'bare.log'));
    try {
      let cell = 0;
      let written = 0;
      for (const durable of [true, false]) {
        for (const c of o.concurrencies) {
          const prefix = `s${cell++}-`;
          const r = await runLoad({
            origin,
            concurrency: c,
            durationMs: o.cellMs,
            warmupMs: 300,
            expectStatus: [201],
            request: (i) => ({ method: 'PUT', path: `/${prefix}${i}${durable ? '?durable=1' : ''}`, body }),
          });
          if (cell === 1) written = r.ok;
          rows.push({ target: 'bare node:http', op: 'PUT', durable, bound: `${o.cellMs / 1000} s`, r });
          if (r.errors) problems.push(`bare node:http small PUT c=${c}: ${r.errors} errors, first: ${r.firstError}`);
          o.log(
            `bare node:http PUT ${sizeLabel(o.size)}${durable ? ' + fdatasync' : ''} c=${c}: ${r.rps.toFixed(0)}/s`,
          );
        }
      }
      const n = Math.max(1, written);
      for (const c of o.concurrencies) {
        const r = await runLoad({
          origin,
          concurrency: c,
          durationMs: o.cellMs,
          warmupMs: 300,
          expectStatus: [200],
          request: (i) => ({ method: 'GET', path: `/s0-${i % n}` }),
        });
        rows.push({ target: 'bare node:http', op: 'GET', bound: `${o.cellMs / 1000} s`, r });
        if (r.errors) problems.push(`bare node:http small GET c=${c}: ${r.errors} errors, first: ${r.firstError}`);
        o.log(`bare node:http GET ${sizeLabel(o.size)} c=${c}: ${r.rps.toFixed(0)}/s`);
      }
    } finally {
      await server.stop();
    }
  } catch (e) {
    problems.push(`bare small objects: ${(e as Error).message}`);
  } finally {
    removeTemp(dir);
  }
  return { rows, problems };
}
