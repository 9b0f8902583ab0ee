// Time series arithmetic (Gnocchi's carbonara): grouping points into granularity buckets and
// reducing each bucket with an aggregation method (mean, sum, last, max, min, std, median,
// first, count, pNN percentiles, and rate:<method> over the differences of the raw points).

/** A series: timestamps (seconds) ascending, and their values. */
export interface Series {
  ts: number[];
  v: number[];
}

export const BASIC_METHODS = ['mean', 'sum', 'last', 'max', 'min', 'std', 'median', 'first', 'count'];

/** Whether `m` names an aggregation method (basic, percentile, or rate: of one). */
export function validMethod(m: string): boolean {
  const base = m.startsWith('rate:') ? m.slice(5) : m;
  return BASIC_METHODS.includes(base) || /^p(\d{1,2}(\.\d+)?|100)$/.test(base);
}

/** Reduces the values of one bucket. */
export function reduce(method: string, vals: number[]): number {
  switch (method) {
    case 'mean':
      return vals.reduce((a, b) => a + b, 0) / vals.length;
    case 'sum':
      return vals.reduce((a, b) => a + b, 0);
    case 'last':
      return vals[vals.length - 1]!;
    case 'first':
      return vals[0]!;
    case 'max':
      return Math.max(...vals);
    case 'min':
      return Math.min(...vals);
    case 'count':
      return vals.length;
    case 'std': {
      if (vals.length < 2) return Number.NaN;
      const mean = vals.reduce((a, b) => a + b, 0) / vals.length;
      return Math.sqrt(vals.reduce((a, b) => a + (b - mean) ** 2, 0) / (vals.length - 1));
    }
    case 'median':
      return percentile(vals, 50);
    default: {
      const p = /^p(\d+(?:\.\d+)?)$/.exec(method);
      if (p) return percentile(vals, Number(p[1]));
      throw new Error(`unknown aggregation method ${method}`);
    }
  }
}

/** numpy's percentile with linear interpolation. */
function percentile(vals: number[], q: number): number {
  const s = [...vals].sort((a, b) => a - b);
  const pos = ((s.length - 1) * q) / 100;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

/** The differences between consecutive points, at the later point's time (for rate:<method>). */
export function differences(s: Series): Series {
  const out: Series = { ts: [], v: [] };
  for (let i = 1; i < s.ts.length; i++) {
    out.ts.push(s.ts[i]!);
    out.v.push(s.v[i]! - s.v[i - 1]!);
  }
  return out;
}

/** Groups a sorted series into buckets of `granularity` seconds and reduces each with `method`. */
export function aggregate(s: Series, granularity: number, method: string): Series {
  const out: Series = { ts: [], v: [] };
  let i = 0;
  while (i < s.ts.length) {
    const bucket = Math.floor(s.ts[i]! / granularity) * granularity;
    const vals: number[] = [];
    while (i < s.ts.length && Math.floor(s.ts[i]! / granularity) * granularity === bucket) vals.push(s.v[i++]!);
    const r = reduce(method, vals);
    if (!Number.isNaN(r)) {
      out.ts.push(bucket);
      out.v.push(r);
    }
  }
  return out;
}

/** Merges `add` into a sorted series; a point at an existing time replaces the old one. */
export function mergeSeries(base: Series, add: Series): Series {
  const m = new Map<number, number>();
  for (let i = 0; i < base.ts.length; i++) m.set(base.ts[i]!, base.v[i]!);
  for (let i = 0; i < add.ts.length; i++) m.set(add.ts[i]!, add.v[i]!);
  const ts = [...m.keys()].sort((a, b) => a - b);
  return { ts, v: ts.map((t) => m.get(t)!) };
}

/** The points from `from` (inclusive) to `to` (exclusive). */
export function slice(s: Series, from?: number, to?: number): Series {
  const out: Series = { ts: [], v: [] };
  for (let i = 0; i < s.ts.length; i++) {
    const t = s.ts[i]!;
    if (from !== undefined && t < from) continue;
    if (to !== undefined && t >= to) continue;
    out.ts.push(t);
    out.v.push(s.v[i]!);
  }
  return out;
}
