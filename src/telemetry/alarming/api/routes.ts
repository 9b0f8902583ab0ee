// Aodh's route table (aodh/api/controllers/v2/root.py) and its request handling: JSON only, the
// WSME error body, 405 for a known path with a method it lacks.
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../../../core/errors.ts';
import { methodNotAllowedRoutes, toApiError } from '../../../core/http.ts';
import type { AlarmingService } from '../service.ts';
import { errorBody } from './errors.ts';
import { registerAlarmRoutes } from './alarms.ts';
import { registerRootRoutes } from './root.ts';

export const ROUTES = [
  'GET /',
  'GET /v2',
  'GET /healthcheck',
  'GET /v2/capabilities',
  'GET /v2/alarms',
  'POST /v2/alarms',
  'GET /v2/alarms/:id',
  'PUT /v2/alarms/:id',
  'DELETE /v2/alarms/:id',
  'GET /v2/alarms/:id/state',
  'PUT /v2/alarms/:id/state',
  'GET /v2/alarms/:id/history',
  'GET /v2/quotas',
  'POST /v2/quotas',
  'DELETE /v2/quotas/:project',
];

export async function registerRoutes(app: FastifyInstance, svc: AlarmingService) {
  await app.register(async (scope) => {
    scope.addHook('preValidation', async (req) => {
      if (req.routeOptions.config?.methodNotAllowed) return;
      if (req.method !== 'POST' && req.method !== 'PUT') return;
      const ct = String(req.headers['content-type'] ?? '')
        .split(';')[0]!
        .trim()
        .toLowerCase();
      if (ct && ct !== 'application/json') throw new ApiError(415, `Unsupported Content-Type: ${ct}`);
    });
    scope.setErrorHandler((err, req, reply) => {
      const e = toApiError(err);
      if (e.status >= 500) req.log.error({ err }, 'unhandled error');
      if (e.headers) reply.headers(e.headers);
      reply.code(e.status).type('application/json').send(errorBody(e));
    });
    registerRootRoutes(scope, svc);
    registerAlarmRoutes(scope, svc);
    methodNotAllowedRoutes(scope, ROUTES);
  });
}
