// /v1/resource (per type: create, list, show, update with history, delete, batch delete),
// /v1/search/resource, and the metrics of a resource.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { MetricService } from '../service.ts';
import { ApiError, notFound } from '../../../core/errors.ts';
import { type Query as ResourceQuery, parseFilter, validateQuery } from '../query.ts';
import type { ResourceView } from '../indexer.ts';
import { type Query, boolParam, caller, creatorOf, metricTarget, one, resourceTarget, sortAndPage } from './common.ts';
import { metricView } from './metrics.ts';
import { addMeasures, readMeasures } from '../measures.ts';

type P = { type: string; id: string; name: string };

/** The search of a request: the body's JSON query or string, or the `filter` parameter. */
function searchOf(req: FastifyRequest): ResourceQuery | undefined {
  const filter = one(req.query as Query, 'filter');
  if (filter) return parseFilter(filter);
  const body = req.body;
  if (body === undefined || body === null || (typeof body === 'object' && !Object.keys(body).length)) return undefined;
  if (typeof body === 'string') return parseFilter(body);
  return validateQuery(body);
}

export function registerResourceRoutes(app: FastifyInstance, svc: MetricService) {
  const ix = svc.indexer;

  /** The resources a caller may see (all for an admin, else those of its project or created by it). */
  const list = async (req: FastifyRequest, type: string, query: ResourceQuery | undefined, rule: string) => {
    req.authorize(rule);
    const q = req.query as Query;
    const own = req.allowed('list all resource') ? undefined : (req.context.projectId ?? '');
    return ix.searchResources(type, query, {
      details: boolParam(q, 'details'),
      history: boolParam(q, 'history'),
      caller: caller(req.context),
      filterProject: own,
    });
  };

  app.get('/v1/resource', async (req) => {
    req.authorize('list resource type');
    return Object.fromEntries((await ix.listTypes()).map((t) => [t.name, `${req.baseUrl}/v1/resource/${t.name}`]));
  });

  app.get<{ Params: P }>('/v1/resource/:type', async (req, reply) => {
    const filter = one(req.query as Query, 'filter');
    const items = await list(req, req.params.type, filter ? parseFilter(filter) : undefined, 'list resource');
    return sortAndPage(req, reply, items, 'id', svc.options.maxLimit);
  });

  app.post<{ Params: P }>('/v1/search/resource/:type', async (req, reply) => {
    await ix.getType(req.params.type);
    const items = await list(req, req.params.type, searchOf(req), 'search resource');
    return sortAndPage(req, reply, items, 'id', svc.options.maxLimit);
  });

  app.post<{ Params: P }>('/v1/resource/:type', async (req, reply) => {
    await ix.getType(req.params.type);
    const body = (req.body ?? {}) as Record<string, unknown>;
    req.authorize('create resource', {
      project_id: body.project_id ?? null,
      user_id: body.user_id ?? null,
      created_by_user_id: req.context.userId,
      created_by_project_id: req.context.projectId,
    });
    if (req.body === undefined || req.body === null) throw new ApiError(400, 'Invalid input: expected a dictionary');
    const r = await ix.createResource(req.params.type, req.body, caller(req.context));
    reply.code(201).header('Location', `${req.baseUrl}/v1/resource/${req.params.type}/${r.id}`);
    return r;
  });

  app.delete<{ Params: P }>('/v1/resource/:type', async (req) => {
    const query = searchOf(req);
    const items = await list(req, req.params.type, query, 'delete resources');
    const mine = items.filter((r) => req.allowed('delete resource', resourceTarget(r)));
    const metrics = await ix.dropResources(mine.map((r) => r.id));
    for (const m of metrics) await svc.store.delete(m);
    return { deleted: mine.length };
  });

  const load = async (req: FastifyRequest<{ Params: P }>, rule: string): Promise<ResourceView> => {
    const r = await ix.getResource(req.params.type, req.params.id, creatorOf(req.context));
    req.authorize(rule, resourceTarget(r));
    return r;
  };

  app.get<{ Params: P }>('/v1/resource/:type/:id', async (req) => load(req, 'get resource'));

  app.patch<{ Params: P }>('/v1/resource/:type/:id', async (req) => {
    const r = await load(req, 'update resource');
    if (req.body === undefined) throw new ApiError(400, 'Invalid input: expected a dictionary');
    return ix.updateResource(req.params.type, r.id, req.body, caller(req.context));
  });

  app.delete<{ Params: P }>('/v1/resource/:type/:id', async (req, reply) => {
    const r = await load(req, 'delete resource');
    const metrics = await ix.deleteResource(req.params.type, r.id);
    for (const m of metrics) await svc.store.delete(m);
    return reply.code(204).send();
  });

  app.get<{ Params: P }>('/v1/resource/:type/:id/history', async (req, reply) => {
    const r = await load(req, 'get resource');
    return sortAndPage(req, reply, await ix.history(req.params.type, r.id), 'revision_start', svc.options.maxLimit);
  });

  app.get<{ Params: P }>('/v1/resource/:type/:id/metric', async (req) => {
    const r = await load(req, 'get resource');
    const metrics = (await ix.metricsOf([r.id])).get(r.id) ?? [];
    const out = [];
    for (const m of metrics) out.push(metricView(m, await ix.findPolicy(m.archive_policy_name), undefined));
    return out;
  });

  app.post<{ Params: P }>('/v1/resource/:type/:id/metric', async (req) => {
    const r = await load(req, 'update resource');
    if (!req.body || typeof req.body !== 'object' || Array.isArray(req.body))
      throw new ApiError(400, 'Invalid input: expected a dictionary');
    await ix.updateResource(req.params.type, r.id, { metrics: req.body }, caller(req.context));
    const metrics = (await ix.metricsOf([r.id])).get(r.id) ?? [];
    const out = [];
    for (const m of metrics) out.push(metricView(m, await ix.findPolicy(m.archive_policy_name), undefined));
    return out;
  });

  const resourceMetric = async (req: FastifyRequest<{ Params: P }>, rule: string) => {
    const r = await ix.getResource(req.params.type, req.params.id, creatorOf(req.context));
    const m = await ix.resourceMetric(r.id, req.params.name);
    if (!m) throw notFound(`Metric ${req.params.name} does not exist`);
    req.authorize(rule, metricTarget(m, r.project_id as string | null));
    return { r, m };
  };

  app.get<{ Params: P }>('/v1/resource/:type/:id/metric/:name', async (req) => {
    const { r, m } = await resourceMetric(req, 'get metric');
    return metricView(m, await ix.findPolicy(m.archive_policy_name), r);
  });

  app.delete<{ Params: P }>('/v1/resource/:type/:id/metric/:name', async (req, reply) => {
    const { m } = await resourceMetric(req, 'delete metric');
    await ix.deleteMetric(m.id);
    await svc.store.delete(m.id);
    return reply.code(204).send();
  });

  app.get<{ Params: P }>('/v1/resource/:type/:id/metric/:name/measures', async (req) => {
    const { m } = await resourceMetric(req, 'get measures');
    return readMeasures(svc, m, req.query as Query);
  });

  app.post<{ Params: P }>('/v1/resource/:type/:id/metric/:name/measures', async (req, reply) => {
    const { m } = await resourceMetric(req, 'post measures');
    await addMeasures(svc, m, req.body);
    return reply.code(202).send();
  });
}
