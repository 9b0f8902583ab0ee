// /v1/metric (create, list, show, delete), its measures, and the batch endpoints
// (/v1/batch/metrics/measures, /v1/batch/resources/metrics/measures?create_metrics).
import type { FastifyInstance } from 'fastify';
import type { MetricService } from '../service.ts';
import { ApiError, notFound } from '../../../core/errors.ts';
import type { Series } from '../carbonara.ts';
import { type ArchivePolicy, Indexer, type MetricRow, type ResourceView, resourceUuid } from '../indexer.ts';
import { addMeasures, ingest, parseMeasures, readMeasures } from '../measures.ts';
import { type Query, all, caller, creatorOf, metricTarget, one, sortAndPage } from './common.ts';
import { badInput } from './errors.ts';

export function metricView(m: MetricRow, policy: ArchivePolicy | undefined, resource: ResourceView | undefined) {
  const [uid, pid] = m.creator.split(':');
  return {
    id: m.id,
    archive_policy_name: m.archive_policy_name,
    ...(policy ? { archive_policy: Indexer.policyView(policy) } : {}),
    name: m.name,
    unit: m.unit,
    creator: m.creator,
    created_by_user_id: uid,
    created_by_project_id: pid,
    resource_id: m.resource_id,
    ...(resource ? { resource } : {}),
  };
}

const structured = (status: number, body: unknown) => new ApiError(status, JSON.stringify(body), 'structured');

export function registerMetricRoutes(app: FastifyInstance, svc: MetricService) {
  const ix = svc.indexer;

  const load = async (id: string, ctx: { authorize(rule: string, t: Record<string, unknown>): void }, rule: string) => {
    const m = await ix.findMetric(id);
    if (!m) throw notFound(`Metric ${id} does not exist`);
    const r = m.resource_id ? await ix.findResourceRow('generic', m.resource_id) : undefined;
    ctx.authorize(rule, metricTarget(m, r?.project_id));
    return { m, r };
  };

  app.get('/v1/metric', async (req, reply) => {
    req.authorize('list metric');
    const q = req.query as Query;
    const status = one(q, 'status');
    if (status !== undefined && status !== 'active' && status !== 'delete')
      throw badInput(`Invalid status ${status}: must be active or delete`);
    const ids = all(q, 'id');
    const filter = {
      id: ids.length ? ids.map((i) => i.toLowerCase()) : undefined,
      name: one(q, 'name'),
      archive_policy_name: one(q, 'archive_policy_name'),
      resource_id: one(q, 'resource_id'),
      unit: one(q, 'unit'),
    };
    // Deleted metrics stay in the `delete` state until the janitor expunges them.
    let rows =
      status === 'delete'
        ? ix
            .deletedMetrics()
            .filter(
              (m) =>
                (!filter.id || filter.id.includes(m.id)) &&
                (filter.name === undefined || m.name === filter.name) &&
                (filter.archive_policy_name === undefined || m.archive_policy_name === filter.archive_policy_name) &&
                (filter.resource_id === undefined || m.resource_id === filter.resource_id) &&
                (filter.unit === undefined || m.unit === filter.unit),
            )
        : await ix.listMetrics(filter);
    if (!req.allowed('list all metric')) {
      const pid = req.context.projectId ?? '';
      rows = rows.filter((m) => m.creator.endsWith(`:${pid}`));
    }
    const policies = new Map((await ix.listPolicies()).map((p) => [p.name, p]));
    const views = rows.map((m) => metricView(m, policies.get(m.archive_policy_name), undefined));
    return sortAndPage(req, reply, views, 'id', svc.options.maxLimit);
  });

  app.post('/v1/metric', async (req, reply) => {
    req.authorize('create metric', {
      created_by_user_id: req.context.userId,
      created_by_project_id: req.context.projectId,
    });
    if (req.body === undefined || req.body === null) throw badInput('expected a dictionary');
    const spec = await ix.metricSpec(req.body);
    const b = req.body as Record<string, unknown>;
    let resourceId: string | null = null;
    if (b.resource_id !== undefined && b.resource_id !== null) {
      if (!spec.name) throw badInput('A metric attached to a resource needs a name');
      const r = await ix.findResourceRow('generic', String(b.resource_id), creatorOf(req.context));
      if (!r) throw badInput(`Resource ${String(b.resource_id)} does not exist`);
      if (await ix.resourceMetric(r.id, spec.name)) throw new ApiError(409, `Named metric ${spec.name} already exists`);
      resourceId = r.id;
    }
    const m = await ix.createMetric(spec, caller(req.context), resourceId);
    reply.code(201).header('Location', `${req.baseUrl}/v1/metric/${m.id}`);
    return metricView(m, await ix.findPolicy(m.archive_policy_name), undefined);
  });

  app.get<{ Params: { id: string } }>('/v1/metric/:id', async (req) => {
    const { m, r } = await load(req.params.id, req, 'get metric');
    const resource = r ? await ix.view(r, undefined, false) : undefined;
    if (resource) delete (resource as Record<string, unknown>).metrics;
    return metricView(m, await ix.findPolicy(m.archive_policy_name), resource);
  });

  app.delete<{ Params: { id: string } }>('/v1/metric/:id', async (req, reply) => {
    const { m } = await load(req.params.id, req, 'delete metric');
    await ix.deleteMetric(m.id);
    await svc.store.delete(m.id);
    return reply.code(204).send();
  });

  app.get<{ Params: { id: string } }>('/v1/metric/:id/measures', async (req) => {
    const { m } = await load(req.params.id, req, 'get measures');
    return readMeasures(svc, m, req.query as Query);
  });

  app.post<{ Params: { id: string } }>('/v1/metric/:id/measures', async (req, reply) => {
    const { m } = await load(req.params.id, req, 'post measures');
    await addMeasures(svc, m, req.body);
    return reply.code(202).send();
  });

  app.post('/v1/batch/metrics/measures', async (req, reply) => {
    req.authorize('create metric', {
      created_by_user_id: req.context.userId,
      created_by_project_id: req.context.projectId,
    });
    const body = req.body;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw badInput('expected a dictionary');
    const work: Array<{ m: MetricRow; s: Series }> = [];
    const unknown: string[] = [];
    for (const [id, v] of Object.entries(body)) {
      const list = Array.isArray(v) ? v : (v as { measures?: unknown })?.measures;
      const s = parseMeasures(list, `metric ${id}`);
      const m = await ix.findMetric(id);
      if (!m) {
        unknown.push(id);
        continue;
      }
      const r = m.resource_id ? await ix.findResourceRow('generic', m.resource_id) : undefined;
      req.authorize('post measures', metricTarget(m, r?.project_id));
      work.push({ m, s });
    }
    if (unknown.length) throw structured(400, { cause: 'Unknown metrics', detail: unknown.sort() });
    await ingest(svc, work);
    return reply.code(202).send();
  });

  app.post('/v1/batch/resources/metrics/measures', async (req, reply) => {
    req.authorize('create metric', {
      created_by_user_id: req.context.userId,
      created_by_project_id: req.context.projectId,
    });
    const create = ['1', 'true', 'yes', 'on'].includes(
      String(one(req.query as Query, 'create_metrics') ?? '').toLowerCase(),
    );
    const body = req.body;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw badInput('expected a dictionary');
    const creator = creatorOf(req.context);
    const work: Array<{ m: MetricRow; s: Series }> = [];
    const toCreate: Array<{
      resourceId: string;
      name: string;
      spec: { name: string; unit: string | null; policy: string };
      s: Series;
    }> = [];
    const unknownResources: Array<{ resource_id: string; original_resource_id: string }> = [];
    const unknownMetrics: string[] = [];
    for (const [rid, metrics] of Object.entries(body)) {
      if (!metrics || typeof metrics !== 'object' || Array.isArray(metrics))
        throw badInput(`expected a dictionary for resource ${rid}`);
      const r = await ix.findResourceRow('generic', rid, creator);
      if (!r) {
        unknownResources.push({ resource_id: resourceUuid(rid, creator), original_resource_id: rid });
        continue;
      }
      req.authorize('update resource', { project_id: r.project_id, created_by_project_id: r.creator.split(':')[1] });
      for (const [name, v] of Object.entries(metrics as Record<string, unknown>)) {
        const o = Array.isArray(v) ? { measures: v } : ((v ?? {}) as Record<string, unknown>);
        const s = parseMeasures(o.measures, `metric ${name} of resource ${rid}`);
        const m = await ix.resourceMetric(r.id, name);
        if (m) work.push({ m, s });
        else if (create) {
          const { measures: _m, ...spec } = o;
          toCreate.push({ resourceId: r.id, name, spec: { ...(await ix.metricSpec(spec, name)), name }, s });
        } else unknownMetrics.push(`${r.id}/${name}`);
      }
    }
    if (unknownResources.length) throw structured(400, { cause: 'Unknown resources', detail: unknownResources });
    if (unknownMetrics.length) throw structured(400, { cause: 'Unknown metrics', detail: unknownMetrics.sort() });
    for (const c of toCreate) {
      const existing = await ix.resourceMetric(c.resourceId, c.name);
      const m = existing ?? (await ix.createMetric(c.spec, caller(req.context), c.resourceId));
      work.push({ m, s: c.s });
    }
    await ingest(svc, work);
    return reply.code(202).send();
  });
}
