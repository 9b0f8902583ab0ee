// The dynamic aggregates API (POST /v1/aggregates): Gnocchi's operations language
// ("(aggregate mean (metric cpu mean))", or the same as JSON lists) evaluated over the series
// of metrics named by id, or by name on the resources a search selects, per granularity.
import { ApiError } from '../../core/errors.ts';
import { type Series, reduce, slice, validMethod } from './carbonara.ts';
import { formatTimestamp, parseTimespan } from './timeutil.ts';

export type OpNode = string | number | OpNode[];

const BINARY: Record<string, (a: number, b: number) => number> = {
  '+': (a, b) => a + b,
  add: (a, b) => a + b,
  '-': (a, b) => a - b,
  sub: (a, b) => a - b,
  '*': (a, b) => a * b,
  '×': (a, b) => a * b,
  mul: (a, b) => a * b,
  '/': (a, b) => a / b,
  '÷': (a, b) => a / b,
  div: (a, b) => a / b,
  truediv: (a, b) => a / b,
  '**': (a, b) => a ** b,
  '^': (a, b) => a ** b,
  pow: (a, b) => a ** b,
  mod: (a, b) => a % b,
  '%': (a, b) => a % b,
  '=': (a, b) => Number(a === b),
  '==': (a, b) => Number(a === b),
  eq: (a, b) => Number(a === b),
  '!=': (a, b) => Number(a !== b),
  ne: (a, b) => Number(a !== b),
  '<': (a, b) => Number(a < b),
  lt: (a, b) => Number(a < b),
  '>': (a, b) => Number(a > b),
  gt: (a, b) => Number(a > b),
  '<=': (a, b) => Number(a <= b),
  le: (a, b) => Number(a <= b),
  '>=': (a, b) => Number(a >= b),
  ge: (a, b) => Number(a >= b),
  clip_min: (a, b) => Math.max(a, b),
  clip_max: (a, b) => Math.min(a, b),
};
const UNARY: Record<string, (a: number) => number> = {
  abs: Math.abs,
  absolute: Math.abs,
  neg: (a) => -a,
  negative: (a) => -a,
  cos: Math.cos,
  sin: Math.sin,
  tan: Math.tan,
  floor: Math.floor,
  ceil: Math.ceil,
  round: Math.round,
  sqrt: Math.sqrt,
  exp: Math.exp,
  log: Math.log,
};

const bad = (cause: string, reason: string, detail?: unknown) =>
  new ApiError(400, JSON.stringify({ cause, reason, detail }), 'structured');

/** Parses the string form: nested parentheses of words. */
export function parseOperations(v: unknown): OpNode {
  if (Array.isArray(v)) return v as OpNode;
  if (typeof v !== 'string') throw bad('Invalid operations', 'operations must be a string or a list', v);
  const toks = v.match(/\(|\)|[^\s()]+/g) ?? [];
  let p = 0;
  const node = (): OpNode => {
    const t = toks[p++];
    if (t === undefined) throw bad('Invalid operations', 'Fail to parse the operations string', v);
    if (t === '(') {
      const list: OpNode[] = [];
      while (toks[p] !== ')') {
        if (p >= toks.length) throw bad('Invalid operations', 'Fail to parse the operations string', v);
        list.push(node());
      }
      p++;
      return list;
    }
    if (t === ')') throw bad('Invalid operations', 'Fail to parse the operations string', v);
    return t;
  };
  const out = node();
  if (!Array.isArray(out)) throw bad('Invalid operations', 'Fail to parse the operations string', v);
  return out;
}

/** The (metric reference, aggregation method) pairs an operation tree reads. */
export function references(node: OpNode): Array<[string, string]> {
  const out = new Map<string, [string, string]>();
  const walk = (n: OpNode) => {
    if (!Array.isArray(n) || !n.length) return;
    if (n[0] === 'metric') {
      const refs = Array.isArray(n[1]) ? (n.slice(1) as OpNode[][]) : [n.slice(1)];
      for (const r of refs) {
        if (!Array.isArray(r) || r.length !== 2 || typeof r[0] !== 'string' || typeof r[1] !== 'string')
          throw bad('Invalid operations', "'metric' takes a reference and an aggregation method", n);
        if (!validMethod(r[1])) throw bad('Invalid operations', `unknown aggregation method ${r[1]}`, n);
        out.set(`${r[0]}\x00${r[1]}`, [r[0], r[1]]);
      }
      return;
    }
    for (const c of n.slice(1)) walk(c);
  };
  walk(node);
  if (!out.size) throw bad('operations is invalid', "at least one 'metric' is required", node);
  return [...out.values()];
}

/** One input series: where it goes in the output, and its lookup key in the operations. */
export interface Ref {
  key: string;
  method: string;
  /** The output path: [id, method] or [resource id, metric name, method]. */
  path: string[];
  /** Per granularity, the stored series. */
  series: Map<number, Series>;
  granularities: number[];
}

interface Grid {
  granularity: number;
  times: number[];
  rows: number[][];
  keys: Array<[string, string]>;
  /** For each row, the index of its reference (where its output goes). */
  refIdx: number[];
  aggregated: boolean;
}

function resampleGrid(g: Grid, method: string, gran: number): Grid {
  const buckets = [...new Set(g.times.map((t) => Math.floor(t / gran) * gran))].sort((a, b) => a - b);
  const idx = new Map(buckets.map((b, i) => [b, i]));
  const rows = g.rows.map((row) => {
    const vals: number[][] = buckets.map(() => []);
    row.forEach((v, i) => {
      if (!Number.isNaN(v)) vals[idx.get(Math.floor(g.times[i]! / gran) * gran)!]!.push(v);
    });
    return vals.map((x) => (x.length ? reduce(method, x) : Number.NaN));
  });
  return { ...g, granularity: gran, times: buckets, rows };
}

/** Reduces the series of a grid point by point (NaN, a missing point, is left out), without a list per point for the usual methods. */
function acrossSeries(method: string, rows: number[][], n: number): number[] {
  const out = new Array<number>(n);
  const streaming = ['mean', 'sum', 'min', 'max', 'count', 'first', 'last'].includes(method);
  for (let i = 0; i < n; i++) {
    if (!streaming) {
      const vals: number[] = [];
      for (const r of rows) if (!Number.isNaN(r[i]!)) vals.push(r[i]!);
      out[i] = vals.length ? reduce(method, vals) : Number.NaN;
      continue;
    }
    let count = 0;
    let acc = 0;
    let first = Number.NaN;
    let last = Number.NaN;
    for (const r of rows) {
      const v = r[i]!;
      if (Number.isNaN(v)) continue;
      if (count === 0) {
        first = v;
        acc = method === 'min' || method === 'max' ? v : 0;
      }
      last = v;
      count++;
      if (method === 'mean' || method === 'sum') acc += v;
      else if (method === 'min') acc = Math.min(acc, v);
      else if (method === 'max') acc = Math.max(acc, v);
    }
    if (!count) out[i] = Number.NaN;
    else if (method === 'mean') out[i] = acc / count;
    else if (method === 'count') out[i] = count;
    else if (method === 'first') out[i] = first;
    else if (method === 'last') out[i] = last;
    else out[i] = acc;
  }
  return out;
}

function evaluate(node: OpNode, base: Grid): Grid {
  if (typeof node === 'number' || (typeof node === 'string' && !Number.isNaN(Number(node)))) {
    const n = Number(node);
    return { ...base, rows: [base.times.map(() => n)], keys: [], refIdx: [], aggregated: true };
  }
  if (!Array.isArray(node) || !node.length) throw bad('Invalid operations', 'Operation must not be empty', node);
  const [op, ...args] = node;
  if (op === 'metric') {
    const refs = Array.isArray(args[0]) ? (args as OpNode[][]) : [args];
    const rows: number[][] = [];
    const keys: Array<[string, string]> = [];
    const refIdx: number[] = [];
    for (const r of refs) {
      base.keys.forEach((k, i) => {
        if (k[0] === r[0] && k[1] === r[1]) {
          rows.push(base.rows[i]!);
          keys.push(k);
          refIdx.push(base.refIdx[i]!);
        }
      });
    }
    return { ...base, rows, keys, refIdx, aggregated: false };
  }
  if (op === 'aggregate') {
    const method = String(args[0]);
    if (!validMethod(method)) throw bad('Invalid operations', `unknown aggregation method ${method}`, node);
    const g = evaluate(args[1]!, base);
    // `rate:<m>` (Gnocchi's rated aggregations): each series' change from the point before, then <m> across them.
    if (method.startsWith('rate:')) {
      const rated = g.rows.map((r) => r.map((v, i) => (i === 0 ? Number.NaN : v - r[i - 1]!)));
      return { ...g, rows: [acrossSeries(method.slice(5), rated, g.times.length)], aggregated: true };
    }
    return { ...g, rows: [acrossSeries(method, g.rows, g.times.length)], aggregated: true };
  }
  if (op === 'resample') {
    const method = String(args[0]);
    const gran = parseTimespan(args[1]);
    if (!validMethod(method) || gran === undefined || gran <= 0)
      throw bad('Invalid operations', 'resample takes an aggregation method and a granularity', node);
    return resampleGrid(evaluate(args[2]!, base), method, gran);
  }
  if (op === 'rolling') {
    const method = String(args[0]);
    const n = Number(args[1]);
    if (!validMethod(method) || !Number.isInteger(n) || n < 1)
      throw bad('Invalid operations', 'rolling takes an aggregation method and a window size', node);
    const g = evaluate(args[2]!, base);
    const times = g.times.slice(n - 1);
    const rows = g.rows.map((r) => times.map((_, i) => reduce(method, r.slice(i, i + n))));
    return { ...g, times, rows };
  }
  if (typeof op === 'string' && BINARY[op]) {
    if (args.length !== 2) throw bad('Invalid operations', `${op} takes two operands`, node);
    const f = BINARY[op];
    const a = evaluate(args[0]!, base);
    const b = evaluate(args[1]!, base);
    const n = Math.max(a.rows.length, b.rows.length);
    if (a.rows.length !== b.rows.length && a.rows.length !== 1 && b.rows.length !== 1)
      throw bad('Invalid operations', `${op}: the operands have different numbers of series`, node);
    const rows = Array.from({ length: n }, (_, i) => {
      const x = a.rows[a.rows.length === 1 ? 0 : i]!;
      const y = b.rows[b.rows.length === 1 ? 0 : i]!;
      return x.map((v, j) => f(v, y[j]!));
    });
    const keyed = a.keys.length ? a : b;
    return { ...keyed, rows, aggregated: a.aggregated && b.aggregated };
  }
  if (typeof op === 'string' && UNARY[op]) {
    const f = UNARY[op];
    const g = evaluate(args[0]!, base);
    return { ...g, rows: g.rows.map((r) => r.map(f)) };
  }
  throw bad('Invalid operations', `'${String(op)}' operation invalid`, node);
}

export interface AggregateOptions {
  start?: number;
  stop?: number;
  granularity?: number;
  neededOverlap: number;
  fill?: number | 'null' | 'dropna';
}

type Out = [string, number, number | null];

/** Evaluates the operations over the references' series; the result in Gnocchi's shape. */
export function computeAggregates(ops: OpNode, refs: Ref[], o: AggregateOptions): Record<string, unknown> {
  let grans: number[];
  if (o.granularity !== undefined) {
    const missing = refs.filter((r) => !r.granularities.includes(o.granularity!));
    if (missing.length)
      throw bad(
        "Metrics can't being aggregated",
        'Granularities are missing',
        missing.map((r) => [r.key, r.method, o.granularity]),
      );
    grans = [o.granularity];
  } else {
    grans = refs[0]!.granularities.filter((g) => refs.every((r) => r.granularities.includes(g)));
    if (!grans.length)
      throw bad(
        "Metrics can't being aggregated",
        'No granularity match',
        refs.map((r) => [r.key, r.method]),
      );
  }
  grans.sort((a, b) => b - a);
  const results: Array<{ grid: Grid; refs: Ref[] }> = [];
  for (const g of grans) {
    const from = o.start !== undefined ? Math.floor(o.start / g) * g : undefined;
    const parts = refs.map((r) => slice(r.series.get(g) ?? { ts: [], v: [] }, from, o.stop));
    const filler = typeof o.fill === 'number' ? o.fill : Number.NaN;
    // The usual case: every series has the same timestamps (no union to build).
    const same = parts.every((p) => p.ts.length === parts[0]!.ts.length && p.ts.every((t, i) => t === parts[0]!.ts[i]));
    let times: number[];
    let rows: number[][];
    if (same) {
      times = parts[0]?.ts ?? [];
      rows = parts.map((p) => p.v);
    } else {
      times = [...new Set(parts.flatMap((p) => p.ts))].sort((a, b) => a - b);
      const index = new Map(times.map((t, i) => [t, i]));
      rows = parts.map((p) => {
        const row = new Array<number>(times.length).fill(filler);
        p.ts.forEach((t, i) => {
          row[index.get(t)!] = p.v[i]!;
        });
        return row;
      });
    }
    if (o.fill === undefined && times.length) {
      const overlap = times.map((_, i) => rows.every((r) => !Number.isNaN(r[i]!)));
      const first = overlap.indexOf(true);
      const last = overlap.lastIndexOf(true);
      if (first < 0 && o.neededOverlap > 0)
        throw bad(
          "Metrics can't being aggregated",
          'No overlap',
          refs.map((r) => [r.key, r.method]),
        );
      if (first >= 0) {
        const lo = o.start === undefined ? first : 0;
        const hi = o.stop === undefined ? last + 1 : times.length;
        times = times.slice(lo, hi);
        rows = rows.map((r) => r.slice(lo, hi));
        const n = overlap.slice(lo, hi).filter(Boolean).length;
        const pct = (n * 100) / times.length;
        if (pct < o.neededOverlap)
          throw bad(
            "Metrics can't being aggregated",
            `Less than ${o.neededOverlap.toFixed(6)}% of datapoints overlap in this timespan (${pct.toFixed(2)}%)`,
            refs.map((r) => [r.key, r.method]),
          );
      }
    }
    const base: Grid = {
      granularity: g,
      times,
      rows,
      keys: refs.map((r) => [r.key, r.method] as [string, string]),
      refIdx: refs.map((_, i) => i),
      aggregated: false,
    };
    const grid = evaluate(ops, base);
    results.push({ grid, refs: grid.refIdx.map((i) => refs[i]!) });
  }
  const points = (grid: Grid, row: number[]): Out[] => {
    const out: Out[] = [];
    row.forEach((v, i) => {
      if (Number.isNaN(v) && o.fill === 'dropna') return;
      if (Number.isNaN(v) && o.fill === undefined) return;
      out.push([formatTimestamp(grid.times[i]!), grid.granularity, Number.isNaN(v) ? null : v]);
    });
    return out;
  };
  if (results.some((r) => r.grid.aggregated)) {
    return { aggregated: results.flatMap((r) => points(r.grid, r.grid.rows[0] ?? [])) };
  }
  const out: Record<string, unknown> = {};
  for (const { grid, refs: rs } of results) {
    rs.forEach((ref, i) => {
      let node = out;
      for (const k of ref.path.slice(0, -1)) node = (node[k] ??= {}) as Record<string, unknown>;
      const leaf = ref.path[ref.path.length - 1]!;
      node[leaf] = [...((node[leaf] as Out[] | undefined) ?? []), ...points(grid, grid.rows[i]!)];
    });
  }
  return out;
}
