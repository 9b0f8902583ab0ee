// Measures: the bodies clients push (one metric, batches over metrics and resources) checked
// all or nothing, and reads of a metric's aggregated series with Gnocchi's parameters
// (aggregation, granularity, start, stop, resample).
import { ApiError, notFound } from '../../core/errors.ts';
import { aggregate, type Series, slice, validMethod } from './carbonara.ts';
import type { ArchivePolicy, MetricRow } from './indexer.ts';
import type { MeasureStore } from './storage.ts';
import { formatTimestamp, parseTimespan, parseTimestamp } from './timeutil.ts';

const bad = (msg: string) => new ApiError(400, `Invalid input: ${msg}`);

/** A list of {timestamp, value} as a series (400 on any bad item: the batch is all or nothing). */
export function parseMeasures(body: unknown, where = ''): Series {
  if (!Array.isArray(body)) throw bad(`expected a list${where ? ` for ${where}` : ''}`);
  const out: Series = { ts: [], v: [] };
  const now = Date.now() / 1000;
  body.forEach((m, i) => {
    if (!m || typeof m !== 'object' || Array.isArray(m)) throw bad(`expected a dictionary @ data[${i}]`);
    const x = m as Record<string, unknown>;
    for (const k of Object.keys(x))
      if (k !== 'timestamp' && k !== 'value') throw bad(`extra keys not allowed @ data[${i}]['${k}']`);
    if (x.timestamp === undefined) throw bad(`required key not provided @ data[${i}]['timestamp']`);
    if (x.value === undefined) throw bad(`required key not provided @ data[${i}]['value']`);
    const t = parseTimestamp(x.timestamp, now);
    if (t === undefined || Number.isNaN(t))
      throw bad(`Unable to parse timestamp ${String(x.timestamp)} @ data[${i}]['timestamp']`);
    const v = typeof x.value === 'string' && x.value.trim() !== '' ? Number(x.value) : x.value;
    if (typeof v !== 'number' || !Number.isFinite(v) || typeof x.value === 'boolean')
      throw bad(`expected a number for dictionary value @ data[${i}]['value']`);
    out.ts.push(t);
    out.v.push(v);
  });
  return out;
}

export interface FetchParams {
  aggregation: string;
  granularity?: number;
  start?: number;
  stop?: number;
  resample?: number;
}

/** Reads the measure query parameters of GET .../measures (400 on a bad one). */
export function fetchParams(q: Record<string, unknown>): FetchParams {
  const one = (k: string) => {
    const v = q[k];
    return Array.isArray(v) ? v[v.length - 1] : v;
  };
  const aggregation = (one('aggregation') as string | undefined) ?? 'mean';
  if (!validMethod(aggregation)) throw bad(`Invalid aggregation value ${aggregation}, must be one of valid methods`);
  const out: FetchParams = { aggregation };
  const g = one('granularity');
  if (g !== undefined) {
    const s = parseTimespan(g);
    if (s === undefined || s <= 0) throw bad(`Invalid value for granularity: ${String(g)}`);
    out.granularity = s;
  }
  for (const k of ['start', 'stop'] as const) {
    const v = one(k);
    if (v !== undefined && v !== '') {
      const t = parseTimestamp(v);
      if (t === undefined) throw bad(`Invalid value for ${k}: Unable to parse timestamp ${String(v)}`);
      out[k] = t;
    }
  }
  const r = one('resample');
  if (r !== undefined) {
    if (out.granularity === undefined) throw bad('A granularity must be specified to resample');
    const s = parseTimespan(r);
    if (s === undefined || s <= 0) throw bad(`Invalid value for resample: ${String(r)}`);
    out.resample = s;
  }
  return out;
}

export type Measure = [string, number, number];

/** One aggregated series of a metric, as stored (404 when the policy has no such method or granularity). */
export async function metricSeries(
  store: MeasureStore,
  metric: MetricRow,
  policy: ArchivePolicy,
  method: string,
  granularity: number,
): Promise<Series> {
  if (!policy.aggregation_methods.includes(method) || !policy.definition.some((d) => d.granularity === granularity))
    throw notFound(
      `Aggregation method '${method}' at granularity '${granularity}' for metric ${metric.id} does not exist`,
    );
  return store.series(metric.id, method, granularity);
}

/** GET .../measures: every granularity (coarsest first) or one, cut to start/stop, maybe resampled. */
export async function fetchMeasures(
  store: MeasureStore,
  metric: MetricRow,
  policy: ArchivePolicy,
  p: FetchParams,
): Promise<Measure[]> {
  if (!policy.aggregation_methods.includes(p.aggregation))
    throw notFound(`Aggregation method '${p.aggregation}' for metric ${metric.id} does not exist`);
  const grans =
    p.granularity !== undefined ? [p.granularity] : policy.definition.map((d) => d.granularity).sort((a, b) => b - a);
  const out: Measure[] = [];
  for (const g of grans) {
    let s = await metricSeries(store, metric, policy, p.aggregation, g);
    s = slice(s, p.start !== undefined ? Math.floor(p.start / g) * g : undefined, p.stop);
    let gran = g;
    if (p.resample) {
      const method = p.aggregation.startsWith('rate:') ? p.aggregation.slice(5) : p.aggregation;
      s = aggregate(s, p.resample, method);
      gran = p.resample;
    }
    for (let i = 0; i < s.ts.length; i++) out.push([formatTimestamp(s.ts[i]!), gran, s.v[i]!]);
  }
  return out;
}

/** Where the measure functions below find policies and series. */
export interface MeasureDeps {
  indexer: { getPolicy(name: string): Promise<ArchivePolicy> };
  store: MeasureStore;
}

/** POST .../measures: the whole body is checked, then aggregated into the metric's series. */
export async function addMeasures(d: MeasureDeps, metric: MetricRow, body: unknown): Promise<void> {
  const series = parseMeasures(body);
  const policy = await d.indexer.getPolicy(metric.archive_policy_name);
  await d.store.add(metric.id, policy, series);
}

/** GET .../measures with its query parameters. */
export async function readMeasures(
  d: MeasureDeps,
  metric: MetricRow,
  query: Record<string, unknown>,
): Promise<Measure[]> {
  const p = fetchParams(query);
  const policy = await d.indexer.getPolicy(metric.archive_policy_name);
  return fetchMeasures(d.store, metric, policy, p);
}

/** A checked batch: each metric's measures aggregated into its series. */
export async function ingest(d: MeasureDeps, work: Array<{ m: MetricRow; s: Series }>): Promise<void> {
  const policies = new Map<string, ArchivePolicy>();
  for (const { m, s } of work) {
    let p = policies.get(m.archive_policy_name);
    if (!p) policies.set(m.archive_policy_name, (p = await d.indexer.getPolicy(m.archive_policy_name)));
    await d.store.add(m.id, p, s);
  }
}
