// The measure store (Gnocchi's storage driver, the `file` one): each metric's aggregated series
// (one per aggregation method and granularity of its archive policy) and the raw points of the
// window still open (the back window), in one compact binary file per metric under the data
// directory. Measures are aggregated as they arrive: the buckets a batch touches are recomputed
// from the raw points, then each granularity is cut to the points its policy keeps.
import fs from 'node:fs/promises';
import path from 'node:path';
import { aggregate, differences, mergeSeries, type Series } from './carbonara.ts';

export interface PolicyShape {
  back_window: number;
  definition: Array<{ granularity: number; points: number | null }>;
  aggregation_methods: string[];
}

interface MetricData {
  raw: Series;
  /** `${method}|${granularity}` → series. */
  series: Map<string, Series>;
}

const MAGIC = 0x474e4331; // "GNC1"

function encode(d: MetricData): Buffer {
  const keys = [...d.series.keys()];
  const header = Buffer.from(
    JSON.stringify({ raw: d.raw.ts.length, series: keys.map((k) => [k, d.series.get(k)!.ts.length]) }),
  );
  const total = d.raw.ts.length * 2 + keys.reduce((n, k) => n + d.series.get(k)!.ts.length * 2, 0);
  const buf = Buffer.alloc(8 + header.length + total * 8);
  buf.writeUInt32LE(MAGIC, 0);
  buf.writeUInt32LE(header.length, 4);
  header.copy(buf, 8);
  let off = 8 + header.length;
  const put = (s: Series) => {
    for (const t of s.ts) off = buf.writeDoubleLE(t, off);
    for (const v of s.v) off = buf.writeDoubleLE(v, off);
  };
  put(d.raw);
  for (const k of keys) put(d.series.get(k)!);
  return buf;
}

function decode(buf: Buffer): MetricData {
  if (buf.readUInt32LE(0) !== MAGIC) throw new Error('not a metric file');
  const hlen = buf.readUInt32LE(4);
  const header = JSON.parse(buf.subarray(8, 8 + hlen).toString()) as { raw: number; series: Array<[string, number]> };
  let off = 8 + hlen;
  const take = (n: number): Series => {
    const ts: number[] = [];
    const v: number[] = [];
    for (let i = 0; i < n; i++, off += 8) ts.push(buf.readDoubleLE(off));
    for (let i = 0; i < n; i++, off += 8) v.push(buf.readDoubleLE(off));
    return { ts, v };
  };
  const raw = take(header.raw);
  const series = new Map<string, Series>();
  for (const [k, n] of header.series) series.set(k, take(n));
  return { raw, series };
}

export class MeasureStore {
  private cache = new Map<string, MetricData>();
  private locks = new Map<string, Promise<unknown>>();
  constructor(private dir: string) {}

  async init() {
    await fs.mkdir(this.dir, { recursive: true });
  }

  private file(id: string) {
    return path.join(this.dir, id);
  }

  private async load(id: string): Promise<MetricData> {
    const hit = this.cache.get(id);
    if (hit) return hit;
    let d: MetricData;
    try {
      d = decode(await fs.readFile(this.file(id)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      d = { raw: { ts: [], v: [] }, series: new Map() };
    }
    if (this.cache.size > 5000) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(id, d);
    return d;
  }

  private async save(id: string, d: MetricData) {
    const tmp = `${this.file(id)}.tmp`;
    await fs.writeFile(tmp, encode(d));
    await fs.rename(tmp, this.file(id));
    this.cache.set(id, d);
  }

  /** Runs `fn` alone for this metric (measures of one metric are applied in order). */
  private serial<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.locks.set(id, tail);
    void tail.then(() => {
      if (this.locks.get(id) === tail) this.locks.delete(id);
    });
    return next;
  }

  /**
   * Adds measures (any order) to a metric: those older than the back window are ignored, as
   * Gnocchi's metricd does. Returns how many were kept.
   */
  add(id: string, policy: PolicyShape, measures: Series): Promise<number> {
    return this.serial(id, async () => {
      if (!measures.ts.length) return 0;
      const d = await this.load(id);
      const grans = policy.definition.map((x) => x.granularity);
      const maxGran = Math.max(...grans);
      const windowStart = (last: number) => Math.floor(last / maxGran) * maxGran - policy.back_window * maxGran;
      const order = measures.ts.map((_, i) => i).sort((a, b) => measures.ts[a]! - measures.ts[b]!);
      let incoming: Series = { ts: order.map((i) => measures.ts[i]!), v: order.map((i) => measures.v[i]!) };
      if (d.raw.ts.length) {
        const from = windowStart(d.raw.ts[d.raw.ts.length - 1]!);
        const keep = incoming.ts.map((t) => t >= from);
        incoming = { ts: incoming.ts.filter((_, i) => keep[i]), v: incoming.v.filter((_, i) => keep[i]) };
      }
      if (!incoming.ts.length) return 0;
      const raw = mergeSeries(d.raw, incoming);
      const firstNew = incoming.ts[0]!;
      const diffs = differences(raw);
      for (const def of policy.definition) {
        const g = def.granularity;
        const from = Math.floor(firstNew / g) * g;
        for (const method of policy.aggregation_methods) {
          const rate = method.startsWith('rate:');
          const base = rate ? method.slice(5) : method;
          const src = rate ? diffs : raw;
          const i0 = src.ts.findIndex((t) => t >= from);
          const part: Series = i0 < 0 ? { ts: [], v: [] } : { ts: src.ts.slice(i0), v: src.v.slice(i0) };
          const fresh = aggregate(part, g, base);
          const key = `${method}|${g}`;
          const old = d.series.get(key) ?? { ts: [], v: [] };
          const j = old.ts.findIndex((t) => t >= from);
          const kept: Series = j < 0 ? old : { ts: old.ts.slice(0, j), v: old.v.slice(0, j) };
          let s: Series = { ts: [...kept.ts, ...fresh.ts], v: [...kept.v, ...fresh.v] };
          if (def.points && s.ts.length) {
            const oldest = s.ts[s.ts.length - 1]! - def.points * g;
            const k = s.ts.findIndex((t) => t > oldest);
            if (k > 0) s = { ts: s.ts.slice(k), v: s.v.slice(k) };
          }
          d.series.set(key, s);
        }
      }
      // Raw points still needed: the open window, and the point before it (for rates).
      const from = windowStart(raw.ts[raw.ts.length - 1]!);
      const k = Math.max(0, raw.ts.findIndex((t) => t >= from) - 1);
      d.raw = { ts: raw.ts.slice(k), v: raw.v.slice(k) };
      await this.save(id, d);
      return incoming.ts.length;
    });
  }

  /** The stored series of one method at one granularity (empty when nothing arrived yet). */
  async series(id: string, method: string, granularity: number): Promise<Series> {
    await (this.locks.get(id) ?? Promise.resolve());
    const d = await this.load(id);
    return d.series.get(`${method}|${granularity}`) ?? { ts: [], v: [] };
  }

  async delete(id: string) {
    await this.serial(id, async () => {
      this.cache.delete(id);
      await fs.rm(this.file(id), { force: true });
    });
  }
}
