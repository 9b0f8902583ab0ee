// GET / and /v2 (version documents), /healthcheck, /v2/capabilities, /v2/quotas.
import type { FastifyInstance } from 'fastify';
import type { AlarmingService } from '../service.ts';
import { clientError } from '../alarms.ts';

export function registerRootRoutes(app: FastifyInstance, svc: AlarmingService) {
  const version = (base: string) => ({
    id: 'v2',
    status: 'stable',
    updated: '2013-02-13T00:00:00Z',
    links: [
      { rel: 'self', href: `${base}/v2` },
      { rel: 'describedby', href: 'https://docs.openstack.org/aodh/latest/contributor/webapi/v2.html' },
    ],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.telemetry-v2+json' }],
  });
  app.get('/', { config: { auth: false } }, async (req) => ({ versions: { values: [version(req.baseUrl)] } }));
  app.get('/v2', { config: { auth: false } }, async (req) => ({ version: version(req.baseUrl) }));
  app.get('/healthcheck', { config: { auth: false } }, async (_req, reply) => reply.code(200).send(''));
  app.get('/v2/capabilities', async (req) => {
    req.authorize('telemetry:get_capabilities');
    return {
      api: {
        'alarms:query:simple': true,
        'alarms:query:complex': false,
        'alarms:history:query:simple': true,
        'alarms:history:query:complex': false,
      },
      alarm_storage: { 'storage:production_ready': true },
    };
  });
  app.get('/v2/quotas', async (req) => {
    const q = req.query as Record<string, string | undefined>;
    const project = q.project_id ?? req.context.projectId ?? '';
    req.authorize('telemetry:get_quotas', { project_id: project });
    if (project !== req.context.projectId && !req.allowed('context_is_admin'))
      throw clientError(`Not allowed to see the quotas of project ${project}`, 403);
    return { project_id: project, quotas: [{ resource: 'alarms', limit: await svc.alarms.quota(project) }] };
  });
  app.post('/v2/quotas', async (req) => {
    req.authorize('telemetry:update_quotas');
    const b = req.body as { project_id?: unknown; quotas?: unknown } | undefined;
    if (!b || typeof b.project_id !== 'string' || !Array.isArray(b.quotas))
      throw clientError('Quotas need a project_id and a list of quotas');
    for (const q of b.quotas as Array<{ resource?: unknown; limit?: unknown }>) {
      if (q?.resource !== 'alarms')
        throw clientError(
          `Invalid input for field/attribute resource. Value: '${String(q?.resource)}'. Value should be one of: alarms`,
        );
      if (!Number.isInteger(q.limit) || (q.limit as number) < -1)
        throw clientError('Invalid input for field/attribute limit. Value should be greater or equal to -1');
      await svc.alarms.setQuota(b.project_id, 'alarms', q.limit as number);
    }
    return { project_id: b.project_id, quotas: [{ resource: 'alarms', limit: await svc.alarms.quota(b.project_id) }] };
  });
  app.delete<{ Params: { project: string } }>('/v2/quotas/:project', async (req, reply) => {
    req.authorize('telemetry:delete_quotas');
    await svc.alarms.deleteQuotas(req.params.project);
    return reply.code(204).send();
  });
}
