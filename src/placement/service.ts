// The placement service (Placement 1.x as Zed answers it, up to microversion 1.39): resource
// providers in trees with inventories, traits and aggregates, resource classes, traits,
// allocations with consumer generations and types, usages, allocation candidates, reshaper.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { ServiceFactory, ServiceContext } from '../core/service.ts';
import {
  jsonBodyParser,
  type Microversion,
  type MicroversionSpec,
  negotiateMicroversion,
  toApiError,
  type ServiceModule,
} from '../core/http.ts';
import { ApiError, STATUS_TITLES } from '../core/errors.ts';
import { PolicyEngine } from '../core/policy/index.ts';
import { jsonschemaDetail, validate } from '../core/validate.ts';
import { migrate } from '../core/db.ts';
import { migrations } from './db/migrations.ts';
import { PLACEMENT_POLICIES } from './policies.ts';
import { PlacementStore } from './store.ts';
import { registerRootRoutes } from './api/root.ts';
import { registerProviderRoutes } from './api/providers.ts';
import { registerClassAndTraitRoutes } from './api/classes_traits.ts';
import { registerAllocationRoutes } from './api/allocations.ts';
import { registerCandidateRoutes } from './api/candidates.ts';

export const MIN_VERSION = '1.0';
export const MAX_VERSION = '1.39';

/** Placement's error codes (placement.errors), shown in error bodies from 1.23. */
export const ErrorCode = {
  DEFAULT: 'placement.undefined_code',
  INVENTORY_INUSE: 'placement.inventory.inuse',
  CONCURRENT_UPDATE: 'placement.concurrent_update',
  DUPLICATE_NAME: 'placement.duplicate_name',
  PROVIDER_IN_USE: 'placement.resource_provider.inuse',
  PROVIDER_CANNOT_DELETE_PARENT: 'placement.resource_provider.cannot_delete_parent',
  RESOURCE_PROVIDER_NOT_FOUND: 'placement.resource_provider.not_found',
  ILLEGAL_DUPLICATE_QUERYPARAM: 'placement.query.duplicate_key',
  QUERYPARAM_BAD_VALUE: 'placement.query.bad_value',
  QUERYPARAM_MISSING_VALUE: 'placement.query.missing_value',
} as const;

/** An error with Placement's code (ApiError.type carries it). */
export const perr = (status: number, detail: string, code?: string) => new ApiError(status, detail, code);

declare module 'fastify' {
  interface FastifyRequest {
    placementVersion?: Microversion;
  }
}

export const mv = (req: FastifyRequest): Microversion => req.placementVersion!;

/** Data validated against a JSON schema: 400 "JSON does not validate" otherwise. */
export function validateJson<T = any>(data: unknown, schema: object): T {
  return validate<T>(data, schema, (e) => perr(400, `JSON does not validate: ${jsonschemaDetail(e)}`));
}

/** The request body validated against a JSON schema. */
export function jsonBody<T = any>(req: FastifyRequest, schema: object): T {
  if (req.body === undefined) throw perr(400, 'Malformed JSON: Expecting value: line 1 column 1 (char 0)');
  if (typeof req.body === 'string') throw perr(400, 'Malformed JSON: the body is not JSON');
  return validateJson<T>(req.body, schema);
}

/** Query parameters validated against a JSON schema (each value a string; the last one wins). */
export function queryParams(req: FastifyRequest, schema: object): Record<string, string> {
  return validate(flatQuery(req), schema, (e) => perr(400, `Invalid query string parameters: ${jsonschemaDetail(e)}`));
}

/** Every value of every query parameter, in order. */
export function queryAll(req: FastifyRequest): URLSearchParams {
  const i = req.url.indexOf('?');
  return new URLSearchParams(i < 0 ? '' : req.url.slice(i + 1));
}
function flatQuery(req: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of queryAll(req)) out[k] = v;
  return out;
}

/** Placement's JSON error body (API-WG errors guideline); `code` from 1.23. */
export function errorBody(e: ApiError, version?: Microversion, requestId?: string): unknown {
  const err: Record<string, unknown> = {
    status: e.status,
    title: STATUS_TITLES[e.status] ?? e.title,
    detail: e.message,
  };
  if (version && version.gte('1.23')) err.code = e.type && e.type.startsWith('placement.') ? e.type : ErrorCode.DEFAULT;
  if (requestId) err.request_id = requestId;
  if (e.status === 406 && !version) {
    err.max_version = MAX_VERSION;
    err.min_version = MIN_VERSION;
  }
  return { errors: [err] };
}

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

export class PlacementService implements ServiceModule {
  name = 'placement';
  type = 'placement';
  prefix = '/placement';
  standardPort = 8778;
  catalogPath = '';
  catalogName = 'placement';
  policy: PolicyEngine;
  store: PlacementStore;
  /** Placement's randomize_allocation_candidates (off by default, as upstream). */
  randomizeCandidates: boolean;

  constructor(
    public db: Kysely<any>,
    public ctx: ServiceContext,
  ) {
    const cfg = ctx.config as any;
    this.policy = PolicyEngine.forService('placement', PLACEMENT_POLICIES, cfg.policyDir, ctx.log);
    this.store = new PlacementStore(db);
    this.randomizeCandidates =
      (process.env.STRATUS_PLACEMENT_RANDOMIZE_CANDIDATES ??
        String(cfg.placement?.randomizeAllocationCandidates ?? false)) === 'true';
  }

  async init() {
    await migrate(this.db, migrations);
  }

  renderError(e: ApiError) {
    return errorBody(e);
  }

  async register(app: FastifyInstance) {
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
          !(req.routeOptions.config as any)?.methodNotAllowed
        )
          throw perr(406, 'Only application/json is provided');
      });
      // Handlers that read a JSON body (placement's require_content) answer 415 for anything else.
      scope.addHook('preValidation', async (req) => {
        const url = routePath(req);
        if ((req.routeOptions.config as any)?.methodNotAllowed) return;
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
      registerRootRoutes(scope, this);
      registerProviderRoutes(scope, this);
      registerClassAndTraitRoutes(scope, this);
      registerAllocationRoutes(scope, this);
      registerCandidateRoutes(scope, this);
      // A known path with a method it does not have: 405 with Allow, as placement's router answers.
      const methods = new Map<string, string[]>();
      for (const r of ROUTES) {
        const [m, u] = r.split(' ') as [string, string];
        methods.set(u, [...(methods.get(u) ?? []), m]);
      }
      for (const [url, allowed] of methods) {
        const others = ['GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS'].filter((m) => !allowed.includes(m));
        scope.route({
          method: others as any,
          url,
          config: { auth: false, methodNotAllowed: true } as any,
          handler: async (_req, reply) => {
            reply.header('allow', allowed.join(', '));
            throw perr(405, `The method ${_req.method} is not allowed for this resource.`);
          },
        });
      }
      scope.route({
        method: ['GET', 'PUT', 'POST', 'DELETE', 'PATCH'],
        url: '/*',
        handler: async () => {
          throw perr(404, 'The resource could not be found.');
        },
      });
    });
  }

  async close() {
    await this.db.destroy();
  }
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

/** Sets Placement's cache headers (1.15+): Last-Modified and Cache-Control: no-cache. */
export function cacheHeaders(req: FastifyRequest, reply: FastifyReply, lastModified?: string | null) {
  if (!mv(req).gte('1.15')) return;
  reply.header('cache-control', 'no-cache');
  reply.header('last-modified', new Date(lastModified ?? Date.now()).toUTCString());
}

export const placementService: ServiceFactory = {
  name: 'placement',
  user: 'placement',
  async create(ctx: ServiceContext) {
    const svc = new PlacementService(await ctx.openDatabase(), ctx);
    return svc;
  },
};
