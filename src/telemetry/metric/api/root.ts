// GET / (the version document), /healthcheck, /v1/status and /v1/capabilities.
import type { FastifyInstance } from 'fastify';
import type { MetricService } from '../service.ts';
import { BASIC_METHODS } from '../carbonara.ts';

export function registerRootRoutes(app: FastifyInstance, _svc: MetricService) {
  app.get('/', { config: { auth: false } }, async (req) => ({
    versions: [
      {
        status: 'CURRENT',
        links: [{ rel: 'self', href: `${req.baseUrl}/v1/` }],
        id: 'v1.0',
        updated: '2015-03-19',
      },
    ],
  }));
  app.get('/healthcheck', { config: { auth: false } }, async (_req, reply) => reply.code(200).send(''));
  app.get('/v1/status', async (req) => {
    req.authorize('get status');
    // Measures are aggregated as they arrive: nothing ever waits in a backlog.
    return {
      storage: { summary: { metrics: 0, measures: 0 }, measures_to_process: {} },
      metricd: { processors: ['stratus-metric'], statistics: {} },
    };
  });
  app.get('/v1/capabilities', { config: { auth: false } }, async () => {
    const methods = [...BASIC_METHODS, ...BASIC_METHODS.map((m) => `rate:${m}`)];
    return {
      aggregation_methods: [...methods, 'p50', 'p75', 'p90', 'p95', 'p99'],
      dynamic_aggregation_methods: [...BASIC_METHODS],
    };
  });
}
