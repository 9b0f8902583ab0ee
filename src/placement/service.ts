// The placement service (Placement 1.x as Zed answers it, up to microversion 1.39): resource
// providers in trees with inventories, traits and aggregates, resource classes, traits,
// allocations with consumer generations and types, usages, allocation candidates, reshaper.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { Ajv } from 'ajv';
import type { ServiceFactory, ServiceContext } from '../core/service.ts';
import { toApiError, negotiateMicroversion, type Microversion, type ServiceModule } from '../core/http.ts';
import { ApiError, STATUS_TITLES } from '../core/errors.ts';
import { PolicyEngine } from '../core/policy.ts';
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
  interface FastifyRequest { placementVersion?: Microversion }
}

export const mv = (req: FastifyRequest): Microversion => req.placementVersion!;

const ajv = new Ajv({ allErrors: false, strict: false });
const UUID_LIKE = /^(?:[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12})$/;
ajv.addFormat('uuid', UUID_LIKE);
export const isUuidLike = (s: unknown) => typeof s === 'string' && UUID_LIKE.test(s);
/** The canonical form of a UUID-like string (lower case, dashed), as uuid.UUID() gives. */
export function canonicalUuid(s: string): string {
  const h = s.replace(/-/g, '').toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
const compiled = new WeakMap<object, ReturnType<typeof ajv.compile>>();

/** The request body validated against a JSON schema: 400 "JSON does not validate" otherwise. */
export function jsonBody<T = any>(req: FastifyRequest, schema: object): T {
  const data = req.body;
  if (data === undefined) throw perr(400, 'Malformed JSON: Expecting value: line 1 column 1 (char 0)');
  let validate = compiled.get(schema);
  if (!validate) { validate = ajv.compile(schema); compiled.set(schema, validate); }
  if (!validate(data)) {
    const e = validate.errors![0]!;
    const where = e.instancePath ? ` at '${e.instancePath.replace(/^\//, '').replace(/\//g, '.')}'` : '';
    let msg = e.message ?? 'is invalid';
    if (e.keyword === 'additionalProperties') msg = `Additional properties are not allowed ('${(e.params as any).additionalProperty}' was unexpected)`;
    else if (e.keyword === 'required') msg = `'${(e.params as any).missingProperty}' is a required property`;
    else if (e.keyword === 'pattern' || e.keyword === 'format') msg = `${JSON.stringify(e.data ?? '')} ${msg}`;
    throw perr(400, `JSON does not validate: ${msg}${where}`);
  }
  return data as T;
}

/** Query parameters validated against a JSON schema (each value a string; the last one wins). */
export function queryParams(req: FastifyRequest, schema: object): Record<string, string> {
  const q = flatQuery(req);
  let validate = compiled.get(schema);
  if (!validate) { validate = ajv.compile(schema); compiled.set(schema, validate); }
  if (!validate(q)) {
    const e = validate.errors![0]!;
    let msg = e.message ?? 'is invalid';
    if (e.keyword === 'additionalProperties') msg = `Additional properties are not allowed ('${(e.params as any).additionalProperty}' was unexpected)`;
    else if (e.keyword === 'required') msg = `'${(e.params as any).missingProperty}' is a required property`;
    else if (e.instancePath) msg = `${JSON.stringify(e.data)} ${msg}`;
    throw perr(400, `Invalid query string parameters: ${msg}`);
  }
  return q;
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
  const err: Record<string, unknown> = { status: e.status, title: STATUS_TITLES[e.status] ?? e.title, detail: e.message };
  if (version && version.gte('1.23')) err.code = e.type && e.type.startsWith('placement.') ? e.type : ErrorCode.DEFAULT;
  if (requestId) err.request_id = requestId;
  if (e.status === 406 && !version) { err.max_version = MAX_VERSION; err.min_version = MIN_VERSION; }
  return { errors: [err] };
}

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

  constructor(public db: Kysely<any>, public ctx: ServiceContext) {
    const cfg = ctx.config as any;
    this.policy = PolicyEngine.forService('placement', PLACEMENT_POLICIES, cfg.policyDir, ctx.log);
    this.store = new PlacementStore(db);
    this.randomizeCandidates = (process.env.STRATUS_PLACEMENT_RANDOMIZE_CANDIDATES ?? String(cfg.placement?.randomizeAllocationCandidates ?? false)) === 'true';
  }

  async init() { await migrate(this.db, migrations); }

  renderError(e: ApiError) { return errorBody(e); }

  async register(app: FastifyInstance) {
    await app.register(async (scope) => {
      scope.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
        req.placementVersion = negotiateMicroversion(req, reply, { service: 'placement', min: MIN_VERSION, max: MAX_VERSION });
      });
      scope.setErrorHandler((err, req, reply) => {
        const apiErr = toApiError(err);
        if (apiErr.status >= 500) req.log.error({ err }, 'unhandled error');
        if (apiErr.headers) reply.headers(apiErr.headers);
        reply.code(apiErr.status).type('application/json').send(errorBody(apiErr, req.placementVersion, req.id));
      });
      registerRootRoutes(scope, this);
      registerProviderRoutes(scope, this);
      registerClassAndTraitRoutes(scope, this);
      registerAllocationRoutes(scope, this);
      registerCandidateRoutes(scope, this);
    });
  }

  async close() { await this.db.destroy(); }
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
    await svc.init();
    return svc;
  },
};
