// Placement's route table (placement/handler.py ROUTE_DECLARATIONS): every path and method, the
// microversion each route appeared in, and the request handling around them (microversion, content
// type, Accept, 405 with Allow, Placement's error body).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  jsonBodyParser,
  type MicroversionSpec,
  methodNotAllowedRoutes,
  negotiateMicroversion,
  toApiError,
} from '../../core/http.ts';
import type { PlacementService } from '../service.ts';
import { errorBody, perr } from './errors.ts';
import { MAX_VERSION, MIN_VERSION, mv } from './microversion.ts';
import { registerRootRoutes } from './root.ts';
import { registerProviderRoutes } from './providers.ts';
import { registerClassAndTraitRoutes } from './classes_traits.ts';
import { registerAllocationRoutes } from './allocations.ts';
import { registerCandidateRoutes } from './candidates.ts';

const ROUTES = [
  'GET /',
  'GET /resource_classes',
  'POST /resource_classes',
  'GET /resource_classes/:name',
  'PUT /resource_classes/:name',
  'DELETE /resource_classes/:name',
  'GET /resource_providers',
  'POST /resource_providers',
  'GET /resource_providers/:uuid',
  'PUT /resource_providers/:uuid',
  'DELETE /resource_providers/:uuid',
  'GET /resource_providers/:uuid/inventories',
  'POST /resource_providers/:uuid/inventories',
  'PUT /resource_providers/:uuid/inventories',
  'DELETE /resource_providers/:uuid/inventories',
  'GET /resource_providers/:uuid/inventories/:rc',
  'PUT /resource_providers/:uuid/inventories/:rc',
  'DELETE /resource_providers/:uuid/inventories/:rc',
  'GET /resource_providers/:uuid/usages',
  'GET /resource_providers/:uuid/aggregates',
  'PUT /resource_providers/:uuid/aggregates',
  'GET /resource_providers/:uuid/allocations',
  'POST /allocations',
  'GET /allocations/:consumer',
  'PUT /allocations/:consumer',
  'DELETE /allocations/:consumer',
  'GET /allocation_candidates',
  'GET /traits',
  'GET /traits/:name',
  'PUT /traits/:name',
  'DELETE /traits/:name',
  'GET /resource_providers/:uuid/traits',
  'PUT /resource_providers/:uuid/traits',
  'DELETE /resource_providers/:uuid/traits',
  'GET /usages',
  'POST /reshaper',
];

/** Routes added by a microversion: below it they answer 404 (or 405). */
const ROUTE_SINCE: Record<string, [string, number]> = {
  'GET /resource_classes': ['1.2', 404],
  'POST /resource_classes': ['1.2', 404],
  'GET /resource_classes/:name': ['1.2', 404],
  'PUT /resource_classes/:name': ['1.2', 404],
  'DELETE /resource_classes/:name': ['1.2', 404],
  'GET /resource_providers/:uuid/aggregates': ['1.1', 404],
  'PUT /resource_providers/:uuid/aggregates': ['1.1', 404],
  'DELETE /resource_providers/:uuid/inventories': ['1.5', 405],
  'GET /traits': ['1.6', 404],
  'GET /traits/:name': ['1.6', 404],
  'PUT /traits/:name': ['1.6', 404],
  'DELETE /traits/:name': ['1.6', 404],
  'GET /resource_providers/:uuid/traits': ['1.6', 404],
  'PUT /resource_providers/:uuid/traits': ['1.6', 404],
  'DELETE /resource_providers/:uuid/traits': ['1.6', 404],
  'GET /usages': ['1.9', 404],
  'GET /allocation_candidates': ['1.10', 404],
  'POST /allocations': ['1.13', 404],
  'POST /reshaper': ['1.30', 404],
};

/** Placement's microversions, as microversion_parse negotiates them (400 unparsable, 406 unknown). */
const MICROVERSIONS: MicroversionSpec = {
  service: 'placement',
  min: MIN_VERSION,
  max: MAX_VERSION,
  latestLowerCaseOnly: true,
  vary: 'openstack-api-version',
  errors: {
    invalid: (s) => perr(400, `Invalid microversion: invalid version string: ${s}`),
    unacceptable: (s) => perr(406, `Invalid microversion: Unacceptable version header: ${s}`),
  },
};

/** Mounts placement's routes and its request handling on the service's Fastify scope. */
export async function registerRoutes(app: FastifyInstance, svc: PlacementService) {
  app.addHook('onSend', async (_req, reply, payload) => {
    if (String(reply.getHeader('content-type') ?? '').startsWith('application/json;'))
      reply.header('content-type', 'application/json');
    return payload;
  });
  await app.register(async (scope) => {
    // Placement's own JSON parsing message, and its content type without a charset.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
    scope.addContentTypeParser(
      'application/json',
      { parseAs: 'string' },
      jsonBodyParser((e) => perr(400, `Malformed JSON: ${e.message}`)),
    );
    scope.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
      req.placementVersion = negotiateMicroversion(req, reply, MICROVERSIONS);
      const clen = req.headers['content-length'];
      if (clen && Number(clen) > 0 && !req.headers['content-type'])
        throw perr(400, 'content-type header required when content-length > 0');
      const accept = req.headers.accept;
      if (
        req.method === 'GET' &&
        accept &&
        !acceptsJson(accept) &&
        routePath(req) !== '/*' &&
        !req.routeOptions.config?.methodNotAllowed
      )
        throw perr(406, 'Only application/json is provided');
    });
    // Handlers that read a JSON body (placement's require_content) answer 415 for anything else.
    scope.addHook('preValidation', async (req) => {
      const url = routePath(req);
      if (req.routeOptions.config?.methodNotAllowed) return;
      // A route that does not exist at this microversion is a 404 before anything else.
      const since = ROUTE_SINCE[`${req.method} ${url}`];
      if (since && !mv(req).gte(since[0]))
        throw perr(
          since[1],
          since[1] === 405
            ? `The method ${req.method} is not allowed for this resource.`
            : 'The resource could not be found.',
        );
      if (req.method !== 'POST' && req.method !== 'PUT') return;
      if (url === '/traits/:name' || (url === '/resource_classes/:name' && mv(req).gte('1.7'))) return;
      const ct = String(req.headers['content-type'] ?? '')
        .split(';')[0]!
        .trim()
        .toLowerCase();
      if (ct !== 'application/json')
        throw perr(415, `The media type ${ct || 'None'} is not supported, use application/json`);
    });
    scope.setErrorHandler((err, req, reply) => {
      const apiErr = toApiError(err);
      if (apiErr.status >= 500) req.log.error({ err }, 'unhandled error');
      if (apiErr.headers) reply.headers(apiErr.headers);
      reply
        .code(apiErr.status)
        .type('application/json')
        .send(errorBody(apiErr, req.placementVersion, req.id));
    });
    registerRootRoutes(scope, svc);
    registerProviderRoutes(scope, svc);
    registerClassAndTraitRoutes(scope, svc);
    registerAllocationRoutes(scope, svc);
    registerCandidateRoutes(scope, svc);
    // A known path with a method it does not have: 405 with Allow, as placement's router answers.
    methodNotAllowedRoutes(scope, ROUTES, ['GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS']);
    scope.route({
      method: ['GET', 'PUT', 'POST', 'DELETE', 'PATCH'],
      url: '/*',
      handler: async () => {
        throw perr(404, 'The resource could not be found.');
      },
    });
  });
}

/** The route's path without the service's mount prefix ('/placement' in the single-port mode). */
const routePath = (req: FastifyRequest) => (req.routeOptions.url ?? '').slice(req.service?.prefix.length ?? 0);

/** Whether an Accept header admits application/json (webob's acceptable_offers). */
function acceptsJson(accept: string): boolean {
  return accept.split(',').some((part) => {
    const [type, ...params] = part
      .trim()
      .split(';')
      .map((x) => x.trim());
    const q = params.find((p) => p.startsWith('q='));
    if (q && Number(q.slice(2)) === 0) return false;
    return type === 'application/json' || type === 'application/*' || type === '*/*';
  });
}
