// What the object-store and image benchmarks share: options, a Stratus on a fresh data
// directory with its peak RSS read after each size, streaming cells (median of a few
// repetitions, each checked), the machine's limit side by side, and the report.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import fsp from 'node:fs/promises';
import {
  GiB,
  MiB,
  freeBytes,
  keepAliveAgent,
  machineLimits,
  makeTemp,
  mbps,
  median,
  parseSize,
  removeTemp,
  sizeLabel,
  startBlobServer,
  syncDisk,
  getClient,
  timedGet,
  transfer,
  watchRss,
  type Limits,
  type LimitRow,
  type SmallRow,
} from './blob.ts';
export { Report };
import { cpuBusy, procStatusKb, sleep, stopAll, tail, treeMemMb, waitQuiet, type Server } from './proc.ts';
import { fetchOnce } from './load.ts';
import { fmt, machineLine, Report } from './report.ts';
import { login, startStratus, stratusAvailable, type Session, type Stratus } from './stratus.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Settings {
  sizes: number[];
  cellMs: number;
  only: Set<string>;
  write: boolean;
  waitQuietMs: number;
  /** A single transfer is aborted after this long. */
  maxTransferMs: number;
  /** A transfer is aborted when the Stratus process's RSS passes this (MB). */
  rssLimitMb: number;
  /** Free space below which the largest size is skipped (image: 10 GiB). */
  minFreeForLargest: number;
}

export function parseArgs(area: string, args: string[], defaults: Partial<Settings> = {}): Settings {
  const s: Settings = {
    sizes: [MiB, 100 * MiB, 2 * GiB],
    cellMs: 5000,
    only: new Set(['limit', 'stratus']),
    write: true,
    waitQuietMs: 0,
    maxTransferMs: 90_000,
    rssLimitMb: 4096,
    minFreeForLargest: 5 * GiB,
    ...defaults,
  };
  for (const a of args) {
    const [k, v] = a.split('=', 2) as [string, string | undefined];
    if (k === '--quick') {
      s.sizes = [MiB, 100 * MiB];
      s.cellMs = 1000;
    } else if (k === '--seconds' && v) s.cellMs = Number(v) * 1000;
    else if (k === '--sizes' && v)
      s.sizes = v
        .split(',')
        .map(parseSize)
        .sort((a, b) => a - b);
    else if (k === '--only' && v) s.only = new Set(v.split(','));
    else if (k === '--no-write') s.write = false;
    else if (k === '--wait-quiet') s.waitQuietMs = Number(v ?? 60) * 1000;
    else
      throw new Error(
        `${area}: unknown option ${a} (options: --seconds=N --quick --sizes=1M,100M,2G --only=limit,stratus --no-write --wait-quiet[=S])`,
      );
  }
  return s;
}

/**
 * Repetitions per size: many for small transfers (their time is mostly the request), three for
 * the largest (one 2 GiB run swung between 67 % and 76 % of the bare server from run to run).
 */
export const repsFor = (size: number) => (size <= MiB ? 20 : 3);

export interface StreamRow {
  /** e.g. PUT, GET, create, upload, download. */
  op: string;
  /** The bare-server operation this compares with. */
  limitOp?: 'PUT' | 'GET';
  size: number;
  reps: number;
  ok: number;
  /** Median over the successful repetitions. */
  ms: number;
  mbps: number;
  /** Largest VmRSS of the Stratus process seen while the cell ran (MB). */
  rssMaxMb?: number;
  /** VmHWM of the Stratus process after the cell (MB). */
  hwmMb?: number;
  error?: string;
}

export interface RssPoint {
  label: string;
  size?: number;
  hwmMb: number;
  rssMb: number;
  treeHwmMb: number;
}

export class BlobBench {
  streams: StreamRow[] = [];
  small: SmallRow[] = [];
  bareSmall: SmallRow[] = [];
  rss: RssPoint[] = [];
  problems: string[] = [];
  skipped: string[] = [];
  conditions: string[] = [];
  limits?: Limits;
  /** The bare node:http server's cells, measured in this area next to the Stratus cells of each size. */
  bareRows: LimitRow[] = [];
  bareHwm: { size: number; mb: number }[] = [];
  bare?: { server: Server; origin: string; agent: http.Agent; dir: string };
  stratus?: Stratus;
  session?: Session;
  startupMs?: number;
  /** Service not in the catalog (not built yet, or failed to start). */
  missing?: string;
  /** Does the service's source fsync/fdatasync (grep)? Chooses the bare PUT it is compared with. */
  durable?: boolean;
  durableNote = '';
  /** The hashes the service must compute on upload ("md5"; "md5,sha512"): a second, informative limit. */
  hash?: string;
  readonly t0 = performance.now();
  readonly startedAt = new Date();

  constructor(
    readonly area: string,
    readonly s: Settings,
  ) {}

  log(msg: string): void {
    process.stderr.write(
      `[bench ${this.area} ${((performance.now() - this.t0) / 1000).toFixed(0).padStart(3)} s] ${msg}\n`,
    );
  }

  async before(): Promise<void> {
    let busy: number;
    if (this.s.waitQuietMs > 0) {
      this.log(`waiting up to ${this.s.waitQuietMs / 1000} s for the machine to be quiet ...`);
      busy = await waitQuiet(this.s.waitQuietMs, 0.15, (b) => this.log(`machine ${fmt(100 * b, 0)} % busy; waiting`));
    } else {
      busy = await cpuBusy(1000);
    }
    this.conditions.push(
      `CPU busy before the run: ${fmt(100 * busy, 0)} %`,
      `load average at start: ${os
        .loadavg()
        .map((l) => fmt(l))
        .join(' ')}`,
    );
    this.conditions.push(`${((await freeBytes()) / GiB).toFixed(0)} GiB free on ${os.tmpdir()}`);
  }

  async measureLimits(): Promise<void> {
    if (!this.s.only.has('limit')) return;
    this.limits = await machineLimits({ sizes: this.s.sizes, reps: repsFor, log: (m) => this.log(`limit: ${m}`) });
    this.problems.push(...this.limits.problems);
    this.skipped.push(...this.limits.skipped);
  }

  /** grep the service's sources for fsync/fdatasync. */
  checkDurability(dirs: string[]): void {
    const hits: string[] = [];
    const walk = (d: string) => {
      if (!fs.existsSync(d)) return;
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (
          /\.ts$/.test(e.name) &&
          /\b(fsync|fdatasync)(Sync)?\s*\(|\.(sync|datasync)\s*\(/.test(fs.readFileSync(p, 'utf8'))
        )
          hits.push(path.relative(ROOT, p));
      }
    };
    for (const d of dirs) walk(path.join(ROOT, d));
    this.durable = hits.length > 0;
    this.durableNote = hits.length
      ? `${dirs.join(', ')} call fsync/fdatasync (${hits.join(', ')}), so PUT is compared with the bare server's PUT + fdatasync`
      : `no fsync/fdatasync call found in ${dirs.join(', ')} (grep), so PUT is compared with the bare server's PUT without sync — an upload that answers before its bytes are on disk can be lost by a crash`;
  }

  async start(dataDir: string, catalogType: string): Promise<boolean> {
    if (!stratusAvailable()) {
      this.missing = 'bin/stratus.js not found';
      return false;
    }
    const logFile = path.join(dataDir, '..', `${path.basename(dataDir)}.log`);
    this.log('starting Stratus');
    this.stratus = await startStratus({ dataDir, logFile });
    this.startupMs = this.stratus.startupMs;
    this.session = await login(this.stratus);
    if (!this.session.endpoint(catalogType)) {
      this.missing = `no '${catalogType}' service in the catalog (types: ${this.session.catalog.map((e) => e.type).join(', ') || 'none'})`;
      return false;
    }
    await sleep(2000);
    this.rssPoint('idle, 2 s after start');
    return true;
  }

  rssPoint(label: string, size?: number): RssPoint | undefined {
    if (!this.stratus) return undefined;
    const pid = this.stratus.server.pid;
    const p = {
      label,
      size,
      hwmMb: procStatusKb(pid, 'VmHWM') / 1024,
      rssMb: procStatusKb(pid, 'VmRSS') / 1024,
      treeHwmMb: treeMemMb(pid, 'VmHWM').mb,
    };
    this.rss.push(p);
    return p;
  }

  /**
   * One streaming cell: `reps` repetitions of fn, each after a sync, with the Stratus
   * process's RSS watched (aborting beyond rssLimitMb). fn returns its own timing.
   */
  async cell(
    op: string,
    limitOp: 'PUT' | 'GET' | undefined,
    size: number,
    reps: number,
    fn: (rep: number, signal: AbortSignal) => Promise<{ ms: number; error?: string }>,
    opts: { before?: (rep: number) => Promise<void> } = {},
  ): Promise<StreamRow> {
    const times: number[] = [];
    let error: string | undefined;
    let rssMax = 0;
    for (let i = 0; i < reps && !error; i++) {
      // Not timed: e.g. the bare server's repetition that this one is held against.
      await opts.before?.(i);
      await syncDisk();
      const ctl = new AbortController();
      const w = watchRss(this.stratus!.server.pid, this.s.rssLimitMb, ctl);
      let r: { ms: number; error?: string };
      try {
        r = await fn(i, ctl.signal);
      } catch (e) {
        r = { ms: NaN, error: (e as Error).message };
      }
      rssMax = Math.max(rssMax, w.stop());
      if (w.exceeded()) r.error = `aborted: Stratus RSS passed ${this.s.rssLimitMb} MB (${r.error ?? ''})`;
      if (r.error) error = r.error;
      else times.push(r.ms);
    }
    const ms = median(times);
    const row: StreamRow = {
      op,
      limitOp,
      size,
      reps,
      ok: times.length,
      ms,
      mbps: op === 'create' ? NaN : mbps(size, ms),
      rssMaxMb: rssMax,
      hwmMb: procStatusKb(this.stratus!.server.pid, 'VmHWM') / 1024,
      error,
    };
    this.streams.push(row);
    this.log(
      `${op} ${sizeLabel(size)} ×${times.length}/${reps}: ${op === 'create' ? `${fmt(ms)} ms` : `${fmt(row.mbps)} MB/s`}, RSS max ${fmt(rssMax, 0)} MB, HWM ${fmt(row.hwmMb, 0)} MB${error ? `, ERROR ${error}` : ''}`,
    );
    if (error) this.problems.push(`${this.area} ${op} ${sizeLabel(size)}: ${error}`);
    return row;
  }

  /** Skip the largest size when the disk is short, or when the previous size says it would take too long. */
  async shouldSkip(size: number, what: string, minFree: number): Promise<boolean> {
    const free = await freeBytes(this.stratus?.dataDir ?? os.tmpdir());
    if (size >= GiB && free < minFree) {
      this.skipped.push(
        `${what} ${sizeLabel(size)}: ${(free / GiB).toFixed(1)} GiB free on the data directory's disk, under the ${(minFree / GiB).toFixed(0)} GiB required`,
      );
      return true;
    }
    const prev = this.streams.filter((r) => r.size < size && r.size >= 10 * MiB && !r.error && Number.isFinite(r.mbps));
    const slowest = prev.length ? Math.min(...prev.map((r) => r.mbps)) : undefined;
    if (slowest !== undefined && (size / MiB / slowest) * 1000 > this.s.maxTransferMs) {
      this.skipped.push(
        `${what} ${sizeLabel(size)}: at ${fmt(slowest)} MB/s (the slowest ${sizeLabel(prev[0]!.size)} cell) it would take over ${this.s.maxTransferMs / 1000} s`,
      );
      return true;
    }
    return false;
  }

  async stop(): Promise<void> {
    if (this.stratus) await this.stratus.server.stop();
  }

  // -- report ------------------------------------------------------------------

  limitRow(
    op: 'PUT' | 'GET' | 'copy',
    size: number,
    method: string,
    durable: boolean,
    hash?: string,
  ): LimitRow | undefined {
    return [...(this.limits?.rows ?? []), ...this.bareRows].find(
      (r) =>
        r.op === op && r.size === size && r.method === method && r.durable === durable && r.hash === hash && !r.error,
    );
  }

  /** The bare-server number a Stratus cell is held against. */
  limitFor(row: StreamRow): LimitRow | undefined {
    if (!row.limitOp) return undefined;
    return this.limitRow(row.limitOp, row.size, 'bare node:http', row.limitOp === 'PUT' ? !!this.durable : false);
  }

  header(rep: Report, what: string): void {
    const wall = performance.now() - this.t0;
    rep.text(
      [
        `Machine: ${machineLine()}. Wall time of this area ${fmt(wall / 1000, 0)} s; ${this.conditions.join(', ')}` +
          ' (other work on the machine skews every number: compare rows of one run, not runs).',
        what,
        `Bytes: a fixed pseudo-random pattern (period 1,048,573 bytes) generated on the fly in ${fmt(256, 0)} KiB pieces, never held whole in memory; ` +
          'every download is compared with the pattern byte for byte and its length checked. MB = MiB; MB/s = size / wall time of one request ' +
          '(first byte sent to last byte of the answer), the median of the repetitions (1 MiB ×20, 100 MiB ×3, 2 GiB ×3), each after `sync`; ' +
          `uploads are sent by the benchmark process; downloads (Stratus's and the bare server's alike) are ${getClient()}; ` +
          'clients run on the same cores as the servers. All files are on the disk of ' +
          os.tmpdir() +
          ' with a warm page cache (downloads read what was just written).',
        `Peak RSS: VmHWM of the Stratus process (from /proc) after each size; it only grows, so the growth from the first size to the last is what a ` +
          `larger object costs in memory. Transfers are aborted if the Stratus process's RSS passes ${this.s.rssLimitMb} MB.`,
      ].join('\n'),
    );
  }

  limitTables(rep: Report): void {
    rep.heading("The machine's limit");
    const rows = [...(this.limits?.rows ?? []), ...this.bareRows];
    if (!rows.length) {
      rep.text('Not measured (--only without limit).');
      return;
    }
    const sizes = [...new Set(rows.map((r) => r.size))].sort((a, b) => a - b);
    const keys: { method: string; op: LimitRow['op']; durable: boolean; hash?: string }[] = [];
    for (const r of rows)
      if (!keys.some((k) => k.method === r.method && k.op === r.op && k.durable === r.durable && k.hash === r.hash))
        keys.push(r);
    rep.table(
      ['method', 'operation', 'sync', 'hashes', ...sizes.map((s) => `${sizeLabel(s)} MB/s`)],
      keys.map((k) => [
        k.method,
        k.op === 'copy' ? 'file → file' : k.op === 'PUT' ? 'PUT → file' : 'file → GET',
        k.durable ? 'fdatasync' : '–',
        k.hash?.replace(',', ' + ') ?? '–',
        ...sizes.map((s) => {
          const r = rows.find(
            (x) =>
              x.method === k.method && x.op === k.op && x.durable === k.durable && x.hash === k.hash && x.size === s,
          );
          return r ? (r.error ? `error` : fmt(r.mbps)) : '–';
        }),
      ]),
      ['l', 'l', 'l', 'l', ...sizes.map(() => 'r' as const)],
    );
    const bare = this.bareHwm.map((b) => `${fmt(b.mb, 0)} MB after ${sizeLabel(b.size)}`).join(', ');
    rep.text(
      (this.limits
        ? `Raw copies: measured ${this.limits.measuredAt.toISOString().slice(11, 19)} UTC in this run (${fmt(this.limits.wallMs / 1000, 0)} s; shared by the areas run together), ` +
          'each from a source file created once, after `sync`; cp and dd include their process start (it dominates at 1 MiB). '
        : '') +
        'bare node:http (bench/lib/blob-server.ts, its own process, keep-alive): measured in this area, each repetition just before the Stratus repetition it is held against (PUT before upload, GET before download: the disk slows over gigabytes of writes, and both see the same); ' +
        'it streams a PUT body into a file (temporary, then renamed; "fdatasync": synced before the answer, as Swift\'s object server does; "hashes": computed on the way) ' +
        `and a file into a GET answer; the PUT without the service's own durability runs only below 1 GiB (to save time). Its peak RSS: ${bare || '–'}.`,
    );
  }

  /**
   * The bare server's cells for a size. PUT: the variant matching the service's durability, the
   * one with its hashes, and (below 1 GiB, or when the service does not sync) the other; GET:
   * the main variant's files. `put(i)` and `get(i)` run the i-th repetition, so that a Stratus
   * cell can alternate with them (cell's `before`): both then see the same disk and page cache,
   * whose speed drifts over gigabytes of writes. `end()` runs what is left, records the rows and
   * removes the files.
   */
  bareCells(size: number): {
    put: (i: number) => Promise<void>;
    get: (i: number) => Promise<void>;
    end: () => Promise<void>;
  } {
    const durable = this.durable ?? true;
    const variants: { durable: boolean; hash?: string; name: string; times: number[]; error?: string }[] = [
      { durable, name: 'main', times: [] },
    ];
    if (this.hash) variants.push({ durable, hash: this.hash, name: 'hash', times: [] });
    if (size < GiB || !durable) variants.push({ durable: !durable, name: 'other', times: [] });
    const gets: { times: number[]; error?: string } = { times: [] };
    const reps = repsFor(size);
    const putDone = new Set<number>(),
      getDone = new Set<number>();
    let recorded = false;
    const put = async (i: number) => {
      if (!this.bare || putDone.has(i) || i >= reps) return;
      putDone.add(i);
      for (const v of variants) {
        if (v.error) continue;
        const q = [v.durable ? 'durable=1' : '', v.hash ? `hash=${v.hash}` : ''].filter(Boolean).join('&');
        await syncDisk();
        const t = await transfer(`${this.bare.origin}/obj-${size}-${v.name}-${i}${q ? `?${q}` : ''}`, {
          method: 'PUT',
          upload: size,
          agent: this.bare.agent,
          maxMs: this.s.maxTransferMs,
        });
        if (t.error || t.status !== 201) v.error = t.error ?? `HTTP ${t.status}: ${t.body.slice(0, 200)}`;
        else v.times.push(t.ms);
        // Only the main variant's files are read back: the others go at once, so that the bare
        // server leaves no more bytes in the page cache than Stratus's cells do.
        if (v.name !== 'main')
          await fetchOnce(`${this.bare.origin}/obj-${size}-${v.name}-${i}`, { method: 'DELETE' }).catch(
            () => undefined,
          );
      }
    };
    const get = async (i: number) => {
      if (!this.bare || getDone.has(i) || i >= reps || gets.error) return;
      await put(i);
      getDone.add(i);
      const t = await timedGet(`${this.bare.origin}/obj-${size}-main-${i}`, {
        agent: this.bare.agent,
        maxMs: this.s.maxTransferMs,
      });
      if (t.error || t.status !== 200) gets.error = t.error ?? `HTTP ${t.status}: ${t.body.slice(0, 200)}`;
      else if (t.received !== size || t.mismatchAt !== undefined)
        gets.error = `got ${t.received} bytes${t.mismatchAt !== undefined ? `, differing at ${t.mismatchAt}` : ''}`;
      else gets.times.push(t.ms);
    };
    const end = async () => {
      if (!this.bare || recorded) return;
      recorded = true;
      for (let i = 0; i < reps; i++) await get(i);
      for (const v of variants) {
        const ms = median(v.times);
        this.bareRows.push({
          method: 'bare node:http',
          op: 'PUT',
          size,
          durable: v.durable,
          hash: v.hash,
          reps,
          ms,
          mbps: mbps(size, ms),
          error: v.error,
        });
        const label = `bare node:http PUT${v.durable ? ' + fdatasync' : ''}${v.hash ? ` + ${v.hash}` : ''} ${sizeLabel(size)}`;
        if (v.error) this.problems.push(`${label}: ${v.error}`);
        this.log(`${label}: ${fmt(mbps(size, ms))} MB/s`);
      }
      const ms = median(gets.times);
      this.bareRows.push({
        method: 'bare node:http',
        op: 'GET',
        size,
        durable: false,
        reps,
        ms,
        mbps: mbps(size, ms),
        error: gets.error,
      });
      if (gets.error) this.problems.push(`bare node:http GET ${sizeLabel(size)}: ${gets.error}`);
      this.log(`bare node:http GET ${sizeLabel(size)}: ${fmt(mbps(size, ms))} MB/s`);
      this.bareHwm.push({ size, mb: procStatusKb(this.bare.server.pid, 'VmHWM') / 1024 });
      for (const f of await fsp.readdir(this.bare.dir))
        if (f.startsWith(`obj-${size}-`)) await fsp.rm(`${this.bare.dir}/${f}`, { force: true });
    };
    return { put, get, end };
  }

  streamTable(rep: Report, title: string): void {
    rep.heading(title);
    if (this.missing) {
      rep.text(`Not measured: ${this.missing}.`);
      return;
    }
    const pct = (a: number, b: number | undefined) => (b && Number.isFinite(a) ? `${fmt((100 * a) / b, 0)} %` : '–');
    const hashName = this.hash?.replace(',', ' + ') ?? '';
    rep.table(
      [
        'operation',
        'size',
        'ok/reps',
        'median ms',
        'MB/s',
        'bare node:http MB/s',
        '% of bare',
        ...(this.hash ? [`% of bare + ${hashName}`] : []),
        'raw copy MB/s (fs streams, fdatasync)',
        '% of raw copy',
        'RSS max during (MB)',
        'peak RSS after (MB)',
      ],
      this.streams.map((r) => {
        const lim = this.limitFor(r);
        const hashed =
          r.limitOp === 'PUT' && this.hash
            ? this.limitRow('PUT', r.size, 'bare node:http', this.durable ?? true, this.hash)
            : undefined;
        const raw = this.limitRow('copy', r.size, 'node fs streams', true);
        const isTime = r.op === 'create';
        return [
          r.op,
          sizeLabel(r.size),
          `${r.ok}/${r.reps}`,
          fmt(r.ms),
          isTime ? '–' : fmt(r.mbps),
          lim ? fmt(lim.mbps) : '–',
          isTime ? '–' : pct(r.mbps, lim?.mbps),
          ...(this.hash ? [isTime ? '–' : pct(r.mbps, hashed?.mbps)] : []),
          raw && !isTime ? fmt(raw.mbps) : '–',
          isTime ? '–' : pct(r.mbps, raw?.mbps),
          fmt(r.rssMaxMb, 0),
          fmt(r.hwmMb, 0) + (r.error ? ` (error: ${r.error.slice(0, 80)})` : ''),
        ];
      }),
      ['l', 'r', 'r', 'r', 'r', 'r', 'r', ...(this.hash ? ['r' as const] : []), 'r', 'r', 'r', 'l'],
    );
    rep.text(
      `Bare PUT compared with: ${this.durableNote || '–'}. GET is compared with the bare server's GET of the same size.` +
        (this.hash
          ? ` "% of bare + ${hashName}": against the bare PUT + fdatasync that also computes ${hashName} on the way, the work this API cannot avoid (informative; the goal is judged against the bare server without hashes).`
          : ''),
    );
  }

  rssTable(rep: Report): void {
    if (!this.rss.length) return;
    rep.heading('Stratus memory');
    rep.table(
      ['after', 'VmHWM (peak) MB', 'VmRSS now MB', 'VmHWM of the process tree MB'],
      this.rss.map((p) => [p.label, fmt(p.hwmMb, 0), fmt(p.rssMb, 0), fmt(p.treeHwmMb, 0)]),
      ['l', 'r', 'r', 'r'],
    );
    rep.text(`Start-up (spawn to the first 200 from /identity/v3): ${fmt(this.startupMs, 0)} ms.`);
  }

  smallTable(rep: Report, title: string): void {
    const rows = [...this.bareSmall, ...this.small];
    if (!rows.length) return;
    rep.heading(title);
    rep.table(
      ['target', 'operation', 'c', 'run', 'ok', 'errors', 'ops/s', 'p50 ms', 'p99 ms', 'stopped by'],
      rows.map((r) => [
        r.target,
        r.op + (r.durable === undefined ? '' : r.durable ? ' (fdatasync)' : ' (no sync)'),
        r.r.concurrency,
        r.bound,
        r.r.ok,
        r.r.errors,
        fmt(r.r.rps),
        fmt(r.r.p50),
        fmt(r.r.p99),
        r.r.stoppedBy,
      ]),
      ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
    );
  }

  /** Goals shared by both areas: streaming vs the limit, and flat RSS. */
  streamGoals(ops: string[]): string[] {
    const out: string[] = [];
    const verdict = (ok: boolean | undefined) =>
      ok === undefined ? '**not measured**' : ok ? '**met**' : '**not met**';
    const big = this.streams.filter((r) => ops.includes(r.op) && r.size >= 100 * MiB);
    const parts: string[] = [];
    let all: boolean | undefined = big.length ? true : undefined;
    for (const r of big) {
      const lim = this.limitFor(r);
      if (r.error || !lim) {
        all = r.error ? false : all === false ? false : undefined;
        parts.push(`${r.op} ${sizeLabel(r.size)} ${r.error ? 'failed' : 'no limit'}`);
        continue;
      }
      const x = r.mbps / lim.mbps;
      if (x < 0.8) all = false;
      parts.push(`${r.op} ${sizeLabel(r.size)} ${fmt(100 * x, 0)} %`);
    }
    out.push(
      `Streaming at ≥ 80 % of the limit (bare node:http, same size; judged at 100 MiB and up): ${parts.join(', ') || '–'} → ${verdict(all)}`,
    );
    // Only sizes whose transfers all succeeded say something about memory.
    const failed = new Set(this.streams.filter((r) => r.error).map((r) => r.size));
    const sized = this.rss.filter((p) => p.size !== undefined && !failed.has(p.size));
    const minSize = sized.length ? Math.min(...sized.map((p) => p.size!)) : undefined;
    const first = [...sized].reverse().find((p) => p.size === minSize);
    const last = sized[sized.length - 1];
    const lastSize = last?.size;
    const growth = first && last ? last.hwmMb - first.hwmMb : undefined;
    const complete = lastSize !== undefined && lastSize >= 2 * GiB;
    out.push(
      `Peak RSS flat (VmHWM growth from ${minSize ? sizeLabel(minSize) : '–'} to ${lastSize ? sizeLabel(lastSize) : '–'} < 64 MB): ` +
        `${first ? fmt(first.hwmMb, 0) : '–'} → ${last ? fmt(last.hwmMb, 0) : '–'} MB, +${fmt(growth, 0)} MB → ` +
        `${growth === undefined || minSize === lastSize ? verdict(undefined) : growth >= 64 ? verdict(false) : complete ? verdict(true) : `${verdict(true)} up to ${sizeLabel(lastSize!)} (2 GiB not measured)`}` +
        (failed.size ? ` (sizes with failed transfers left out: ${[...failed].map(sizeLabel).join(', ')})` : ''),
    );
    return out;
  }

  finish(rep: Report, goals: string[]): void {
    rep.heading('Goals');
    rep.bullets(goals);
    if (this.skipped.length) {
      rep.heading('Skipped');
      rep.bullets(this.skipped);
    }
    if (this.problems.length) {
      rep.heading('Problems');
      rep.bullets(this.problems.map((p) => p.split('\n')[0]!.slice(0, 400)));
    }
    const file = rep.write({ file: this.s.write });
    if (this.problems.length)
      process.stderr.write('\nProblems (details):\n' + this.problems.map((p) => `- ${p}`).join('\n') + '\n');
    if (file) process.stderr.write(`\nreport written to ${path.relative(process.cwd(), file)}\n`);
  }

  /**
   * Run body next to a bare node:http server (unless --only leaves out limit) and a Stratus
   * on a fresh data directory (unless --only leaves out stratus); body's argument says
   * whether the service answers. Everything is stopped and removed afterwards, whatever happens.
   */
  async withServers(catalogType: string, body: (live: boolean) => Promise<void>): Promise<void> {
    const base = makeTemp(`bench-${this.area}-`);
    const dataDir = path.join(base, 'data');
    fs.mkdirSync(dataDir);
    try {
      if (this.s.only.has('limit')) {
        const dir = path.join(base, 'bare');
        const { server, origin } = await startBlobServer(dir, path.join(base, 'bare.log'));
        this.bare = { server, origin, agent: keepAliveAgent(), dir };
      }
      let live = false;
      if (!this.s.only.has('stratus')) this.missing = 'not run (--only without stratus)';
      else {
        try {
          live = await this.start(dataDir, catalogType);
        } catch (e) {
          this.missing = `Stratus did not start: ${(e as Error).message.split('\n')[0]}`;
          this.problems.push(`${this.area}: ${(e as Error).message}`);
        }
      }
      if (live || this.bare) await body(live);
    } catch (e) {
      const msg = (e as Error).message;
      this.problems.push(
        `${this.area}: ${msg}${this.stratus ? `\n  Stratus log (last lines):\n${tail(this.stratus.logFile, 20).replace(/^/gm, '    ')}` : ''}`,
      );
      this.log(`failed: ${msg}`);
      if (!this.streams.length && !this.small.length) this.missing ??= `failed: ${msg.split('\n')[0]}`;
    } finally {
      this.bare?.agent.destroy();
      await this.bare?.server.stop();
      await this.stop();
      await stopAll();
      removeTemp(base);
    }
  }
}
