// Gnocchi's route table (gnocchi/rest/api.py's controllers) and the request handling around it:
// JSON bodies only (415 otherwise; JSON patch for resource types), JSON answers only (406 for an
// Accept that refuses it), 405 for a known path with a method it lacks, Python-style JSON.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../../core/errors.ts';
import { jsonBodyParser, methodNotAllowedRoutes, toApiError } from '../../../core/http.ts';
import type { MetricService } from '../service.ts';
import { errorBody, pyJson } from './errors.ts';
import { registerRootRoutes } from './root.ts';
import { registerArchivePolicyRoutes } from './archive_policies.ts';
import { registerResourceTypeRoutes } from './resource_types.ts';
import { registerResourceRoutes } from './resources.ts';
import { registerMetricRoutes } from './metrics.ts';
import { registerAggregateRoutes } from './aggregates.ts';

export const ROUTES = [
  'GET /',
  'GET /healthcheck',
  'GET /v1/status',
  'GET /v1/capabilities',
  'GET /v1/archive_policy',
  'POST /v1/archive_policy',
  'GET /v1/archive_policy/:name',
  'PATCH /v1/archive_policy/:name',
  'DELETE /v1/archive_policy/:name',
  'GET /v1/archive_policy_rule',
  'POST /v1/archive_policy_rule',
  'GET /v1/archive_policy_rule/:name',
  'PATCH /v1/archive_policy_rule/:name',
  'DELETE /v1/archive_policy_rule/:name',
  'GET /v1/resource_type',
  'POST /v1/resource_type',
  'GET /v1/resource_type/:name',
  'PATCH /v1/resource_type/:name',
  'DELETE /v1/resource_type/:name',
  'GET /v1/resource',
  'GET /v1/resource/:type',
  'POST /v1/resource/:type',
  'DELETE /v1/resource/:type',
  'GET /v1/resource/:type/:id',
  'PATCH /v1/resource/:type/:id',
  'DELETE /v1/resource/:type/:id',
  'GET /v1/resource/:type/:id/history',
  'GET /v1/resource/:type/:id/metric',
  'POST /v1/resource/:type/:id/metric',
  'GET /v1/resource/:type/:id/metric/:name',
  'DELETE /v1/resource/:type/:id/metric/:name',
  'GET /v1/resource/:type/:id/metric/:name/measures',
  'POST /v1/resource/:type/:id/metric/:name/measures',
  'POST /v1/search/resource/:type',
  'GET /v1/metric',
  'POST /v1/metric',
  'GET /v1/metric/:id',
  'DELETE /v1/metric/:id',
  'GET /v1/metric/:id/measures',
  'POST /v1/metric/:id/measures',
  'POST /v1/batch/metrics/measures',
  'POST /v1/batch/resources/metrics/measures',
  'POST /v1/aggregates',
  'GET /v1/aggregation/metric',
  'POST /v1/aggregation/metric',
  'POST /v1/aggregation/resource/:type/metric/:name',
];

/** Whether an Accept header admits application/json (webob's acceptable_offers). */
function acceptsJson(accept: string): boolean {
  return accept.split(',').some((part) => {
    const [type, ...params] = part.trim().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (q && Number(q.slice(2)) === 0) return false;
    const t = (type ?? '').trim().toLowerCase();
    return t === 'application/json' || t === 'application/*' || t === '*/*' || t === '';
  });
}

const JSON_TYPES = ['application/json', 'application/json-patch+json'];

export async function registerRoutes(app: FastifyInstance, svc: MetricService) {
  await app.register(async (scope) => {
    scope.addContentTypeParser(
      'application/json-patch+json',
      { parseAs: 'string' },
      jsonBodyParser(() => new ApiError(400, 'Unable to decode body')),
    );
    scope.setReplySerializer((payload) => pyJson(payload));
    // Gnocchi answers application/json without a charset.
    scope.addHook('onSend', async (_req, reply, payload) => {
      if (String(reply.getHeader('content-type') ?? '').startsWith('application/json;'))
        reply.header('content-type', 'application/json');
      return payload;
    });
    scope.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
      if (req.routeOptions.config?.methodNotAllowed) return;
      const accept = req.headers.accept;
      if (accept && !acceptsJson(accept)) {
        reply
          .code(406)
          .type('text/plain; charset=UTF-8')
          .send(
            '406 Not Acceptable\n\nThe resource could not be generated that was acceptable to your browser (content of type text/plain).',
          );
        return reply;
      }
    });
    scope.addHook('preValidation', async (req) => {
      if (req.routeOptions.config?.methodNotAllowed) return;
      if (req.method !== 'POST' && req.method !== 'PATCH' && req.method !== 'PUT') return;
      const ct = String(req.headers['content-type'] ?? '')
        .split(';')[0]!
        .trim()
        .toLowerCase();
      if (ct && !JSON_TYPES.includes(ct)) throw new ApiError(415, `The Content-Type ${ct} is not supported.`);
    });
    scope.setErrorHandler((err, req, reply) => {
      const e = toApiError(err);
      if (e.status >= 500) req.log.error({ err }, 'unhandled error');
      if (e.status === 415) e.message = `Unsupported Media Type: ${e.message}`;
      if (e.headers) reply.headers(e.headers);
      reply.code(e.status).type('application/json').send(errorBody(e));
    });
    registerRootRoutes(scope, svc);
    registerArchivePolicyRoutes(scope, svc);
    registerResourceTypeRoutes(scope, svc);
    registerResourceRoutes(scope, svc);
    registerMetricRoutes(scope, svc);
    registerAggregateRoutes(scope, svc);
    methodNotAllowedRoutes(scope, ROUTES);
  });
}
