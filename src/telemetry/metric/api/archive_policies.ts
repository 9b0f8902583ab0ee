// /v1/archive_policy and /v1/archive_policy_rule.
import type { FastifyInstance } from 'fastify';
import type { MetricService } from '../service.ts';
import { Indexer } from '../indexer.ts';

export function registerArchivePolicyRoutes(app: FastifyInstance, svc: MetricService) {
  const ix = svc.indexer;
  const location = (base: string, name: string) => `${base}/${encodeURIComponent(name)}`;

  app.get('/v1/archive_policy', async (req) => {
    req.authorize('list archive policy');
    return (await ix.listPolicies()).map(Indexer.policyView);
  });
  app.post('/v1/archive_policy', async (req, reply) => {
    req.authorize('create archive policy');
    const p = await ix.createPolicy(ix.parsePolicy(req.body));
    reply.code(201).header('Location', location(`${req.baseUrl}/v1/archive_policy`, p.name));
    return Indexer.policyView(p);
  });
  app.get<{ Params: { name: string } }>('/v1/archive_policy/:name', async (req) => {
    req.authorize('get archive policy');
    return Indexer.policyView(await ix.getPolicy(req.params.name));
  });
  app.patch<{ Params: { name: string } }>('/v1/archive_policy/:name', async (req) => {
    req.authorize('update archive policy');
    return Indexer.policyView(await ix.updatePolicy(req.params.name, req.body));
  });
  app.delete<{ Params: { name: string } }>('/v1/archive_policy/:name', async (req, reply) => {
    req.authorize('delete archive policy');
    await ix.deletePolicy(req.params.name);
    return reply.code(204).send();
  });

  app.get('/v1/archive_policy_rule', async (req) => {
    req.authorize('list archive policy rule');
    return ix.listRules();
  });
  app.post('/v1/archive_policy_rule', async (req, reply) => {
    req.authorize('create archive policy rule');
    const r = await ix.createRule(req.body);
    reply.code(201).header('Location', location(`${req.baseUrl}/v1/archive_policy_rule`, r.name));
    return r;
  });
  app.get<{ Params: { name: string } }>('/v1/archive_policy_rule/:name', async (req) => {
    req.authorize('get archive policy rule');
    return ix.getRule(req.params.name);
  });
  app.patch<{ Params: { name: string } }>('/v1/archive_policy_rule/:name', async (req) => {
    req.authorize('update archive policy rule');
    return ix.renameRule(req.params.name, req.body);
  });
  app.delete<{ Params: { name: string } }>('/v1/archive_policy_rule/:name', async (req, reply) => {
    req.authorize('delete archive policy rule');
    await ix.deleteRule(req.params.name);
    return reply.code(204).send();
  });
}
