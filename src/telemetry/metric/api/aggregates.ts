// POST /v1/aggregates: operations over metrics by id, or by name over the resources a search
// selects (grouped by attributes with `groupby`).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { MetricService } from '../service.ts';
import { ApiError } from '../../../core/errors.ts';
import {
  type AggregateOptions,
  type OpNode,
  type Ref,
  computeAggregates,
  parseOperations,
  references,
} from '../aggregates.ts';
import type { ArchivePolicy, MetricRow, ResourceView } from '../indexer.ts';
import { parseFilter, validateQuery } from '../query.ts';
import { parseTimespan, parseTimestamp } from '../timeutil.ts';
import { type Query, all, boolParam, caller, metricTarget, one } from './common.ts';
import { badInput } from './errors.ts';

const structured = (status: number, body: unknown) => new ApiError(status, JSON.stringify(body), 'structured');

function options(q: Query): AggregateOptions {
  const o: AggregateOptions = { neededOverlap: 100 };
  for (const k of ['start', 'stop'] as const) {
    const v = one(q, k);
    if (v !== undefined && v !== '') {
      const t = parseTimestamp(v);
      if (t === undefined) throw badInput(`Invalid value for ${k}: Unable to parse timestamp ${v}`);
      o[k] = t;
    }
  }
  const g = one(q, 'granularity');
  if (g !== undefined) {
    const s = parseTimespan(g);
    if (s === undefined || s <= 0) throw badInput(`Invalid value for granularity: ${g}`);
    o.granularity = s;
  }
  const n = one(q, 'needed_overlap');
  if (n !== undefined) {
    const x = Number(n);
    if (Number.isNaN(x) || x < 0 || x > 100) throw badInput(`Invalid value for needed_overlap: ${n}`);
    o.neededOverlap = x;
  }
  const f = one(q, 'fill');
  if (f !== undefined) {
    if (f === 'null' || f === 'dropna') o.fill = f;
    else if (!Number.isNaN(Number(f)) && f !== '') o.fill = Number(f);
    else throw badInput(`Invalid value for fill: ${f}, must be a float, 'null' or 'dropna'`);
  }
  return o;
}

export function registerAggregateRoutes(app: FastifyInstance, svc: MetricService) {
  const ix = svc.indexer;

  const refsFor = async (pairs: Array<[MetricRow, string, ResourceView | undefined]>): Promise<Ref[]> => {
    const out: Ref[] = [];
    const policies = new Map<string, ArchivePolicy>();
    for (const [m, method, r] of pairs) {
      let policy = policies.get(m.archive_policy_name);
      if (!policy) policies.set(m.archive_policy_name, (policy = await ix.getPolicy(m.archive_policy_name)));
      if (!policy.aggregation_methods.includes(method))
        throw structured(404, { cause: 'Metrics with unknown aggregation', detail: [[m.id, method]] });
      const series = new Map();
      for (const d of policy.definition) series.set(d.granularity, await svc.store.series(m.id, method, d.granularity));
      out.push({
        key: r ? m.name! : m.id,
        method,
        path: r ? [r.id, m.name!, method] : [m.id, method],
        series,
        granularities: policy.definition.map((d) => d.granularity),
      });
    }
    return out;
  };

  app.post('/v1/aggregates', async (req: FastifyRequest) => {
    const q = req.query as Query;
    const o = options(q);
    const details = boolParam(q, 'details');
    const body = req.body as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw badInput('expected a dictionary');
    for (const k of Object.keys(body))
      if (!['operations', 'search', 'resource_type'].includes(k))
        throw badInput(`extra keys not allowed @ data['${k}']`);
    if (body.operations === undefined) throw badInput("required key not provided @ data['operations']");
    const ops = parseOperations(body.operations);
    const refs = references(ops);

    if (body.search === undefined) {
      req.authorize('list metric');
      const pairs: Array<[MetricRow, string, undefined]> = [];
      const missing: string[] = [];
      for (const [id, method] of refs) {
        const m = await ix.findMetric(id);
        if (!m) {
          missing.push(id);
          continue;
        }
        const r = m.resource_id ? await ix.findResourceRow('generic', m.resource_id) : undefined;
        req.authorize('get metric', metricTarget(m, r?.project_id));
        pairs.push([m, method, undefined]);
      }
      if (missing.length)
        throw structured(404, { cause: 'Unknown metrics', reason: "Provided metrics don't exists", detail: missing });
      const measures = computeAggregates(ops, await refsFor(pairs), o);
      const out: Record<string, unknown> = { measures };
      if (details) {
        const views = [];
        for (const [m] of pairs) views.push({ ...m, archive_policy: await ix.findPolicy(m.archive_policy_name) });
        out.references = views;
      }
      return out;
    }

    const type = body.resource_type ?? 'generic';
    if (typeof type !== 'string' || !(await ix.findType(type)))
      throw badInput(`Resource type ${String(type)} does not exist`);
    req.authorize('search resource');
    const search =
      typeof body.search === 'string'
        ? parseFilter(body.search)
        : validateQuery(body.search as Record<string, unknown>);
    const own = req.allowed('list all resource') ? undefined : (req.context.projectId ?? '');
    const resources = await ix.searchResources(type, search, {
      details: true,
      caller: caller(req.context),
      filterProject: own,
    });
    const groupby = [...new Set(all(q, 'groupby'))].sort();
    const measuresOf = async (rs: ResourceView[]) => {
      const pairs: Array<[MetricRow, string, ResourceView]> = [];
      const metrics = await ix.metricsOf(rs.map((r) => r.id));
      for (const [name, method] of refs)
        for (const r of rs) {
          const m = (metrics.get(r.id) ?? []).find((x) => x.name === name);
          if (m) pairs.push([m, method, r]);
        }
      if (!pairs.length)
        throw structured(400, { cause: 'Metrics not found', detail: [...new Set(refs.map((x) => x[0]))] });
      const out: Record<string, unknown> = { measures: computeAggregates(ops, await refsFor(pairs), o) };
      if (details) out.references = rs;
      return out;
    };
    if (!groupby.length) return measuresOf(resources);
    const results = [];
    for (const { group, rs } of groupResources(resources, groupby).sort((a, b) =>
      JSON.stringify(a.group) < JSON.stringify(b.group) ? -1 : 1,
    ))
      results.push({ group, measures: await measuresOf(rs) });
    return results;
  });

  // The legacy cross-metric aggregation (Gnocchi 3's /v1/aggregation, what `openstack metric
  // measures aggregation` calls): the same computation as (aggregate <reaggregation> (metric ...)).
  const legacy = async (req: FastifyRequest, pairs: Array<[MetricRow, string, ResourceView | undefined]>) => {
    const q = req.query as Query;
    const method = one(q, 'aggregation') ?? 'mean';
    const re = one(q, 'reaggregation') ?? method;
    const o = options(q);
    if (!pairs.length) return [];
    const refs = await refsFor(pairs.map(([m, , r]) => [m, method, r]));
    // Each series on its own (by id), so that one metric's several resources do not collide.
    refs.forEach((r, i) => {
      r.key = `${r.key}#${i}`;
    });
    const ops: OpNode = [
      'aggregate',
      re.replace(/^rate:/, ''),
      ['metric', ...refs.map((r) => [r.key, method] as OpNode)],
    ];
    const out = computeAggregates(ops, refs, o) as { aggregated?: unknown[] };
    const resample = one(q, 'resample');
    if (resample !== undefined && o.granularity === undefined)
      throw badInput('A granularity must be specified to resample');
    return out.aggregated ?? [];
  };

  app.route({
    method: ['GET', 'POST'],
    url: '/v1/aggregation/metric',
    handler: async (req) => {
      const ids = all(req.query as Query, 'metric');
      if (!ids.length) throw badInput('At least one metric is required');
      const pairs: Array<[MetricRow, string, undefined]> = [];
      for (const id of ids) {
        const m = await ix.findMetric(id);
        if (!m) throw new ApiError(404, `Metric ${id} does not exist`);
        const r = m.resource_id ? await ix.findResourceRow('generic', m.resource_id) : undefined;
        req.authorize('get metric', metricTarget(m, r?.project_id));
        pairs.push([m, '', undefined]);
      }
      return legacy(req, pairs);
    },
  });

  app.post<{ Params: { type: string; name: string } }>('/v1/aggregation/resource/:type/metric/:name', async (req) => {
    await ix.getType(req.params.type);
    req.authorize('search resource');
    const q = req.query as Query;
    const body = req.body;
    const search =
      body === undefined || body === null || (typeof body === 'object' && !Object.keys(body as object).length)
        ? undefined
        : typeof body === 'string'
          ? parseFilter(body)
          : validateQuery(body);
    const own = req.allowed('list all resource') ? undefined : (req.context.projectId ?? '');
    const resources = await ix.searchResources(req.params.type, search, {
      details: true,
      caller: caller(req.context),
      filterProject: own,
    });
    const pairsOf = async (rs: ResourceView[]) => {
      const metrics = await ix.metricsOf(rs.map((r) => r.id));
      const pairs: Array<[MetricRow, string, undefined]> = [];
      for (const r of rs) {
        const m = (metrics.get(r.id) ?? []).find((x) => x.name === req.params.name);
        if (m) pairs.push([m, '', undefined]);
      }
      return pairs;
    };
    const groupby = [...new Set(all(q, 'groupby'))].sort();
    if (!groupby.length) return legacy(req, await pairsOf(resources));
    const out = [];
    for (const { group, rs } of groupResources(resources, groupby))
      out.push({ group, measures: await legacy(req, await pairsOf(rs)) });
    return out;
  });
}

/** Resources grouped by their values of the `groupby` attributes (Gnocchi's groupby), groups in the order first seen. */
function groupResources(resources: ResourceView[], groupby: string[]) {
  const groups = new Map<string, { group: Record<string, unknown>; rs: ResourceView[] }>();
  for (const r of resources) {
    const group = Object.fromEntries(groupby.map((g) => [g, r[g] ?? null]));
    const key = JSON.stringify(group);
    const e = groups.get(key) ?? { group, rs: [] };
    e.rs.push(r);
    groups.set(key, e);
  }
  return [...groups.values()];
}
