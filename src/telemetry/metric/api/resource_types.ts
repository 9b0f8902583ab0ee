// /v1/resource_type: the standard types and user-defined ones with attribute schemas.
import type { FastifyInstance } from 'fastify';
import type { MetricService } from '../service.ts';

export function registerResourceTypeRoutes(app: FastifyInstance, svc: MetricService) {
  const ix = svc.indexer;
  app.get('/v1/resource_type', async (req) => {
    req.authorize('list resource type');
    return ix.listTypes();
  });
  app.post('/v1/resource_type', async (req, reply) => {
    req.authorize('create resource type');
    const t = await ix.createType(req.body);
    reply.code(201).header('Location', `${req.baseUrl}/v1/resource_type/${encodeURIComponent(t.name)}`);
    return t;
  });
  app.get<{ Params: { name: string } }>('/v1/resource_type/:name', async (req) => {
    req.authorize('get resource type');
    return ix.getType(req.params.name);
  });
  app.patch<{ Params: { name: string } }>('/v1/resource_type/:name', async (req) => {
    req.authorize('update resource type');
    return ix.patchType(req.params.name, req.body);
  });
  app.delete<{ Params: { name: string } }>('/v1/resource_type/:name', async (req, reply) => {
    req.authorize('delete resource type');
    await ix.deleteType(req.params.name);
    return reply.code(204).send();
  });
}
