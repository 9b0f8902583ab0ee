// The HTTP app factory shared by every service: request ids, the service's own error body,
// JSON-schema validation answering 400 with the field, authentication, policy enforcement,
// version documents, microversions and pagination helpers.
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import Fastify, {
  LogController,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type HTTPMethods,
} from 'fastify';
import { ApiError, STATUS_TITLES } from './errors.ts';
import type { Logger } from './log.ts';
import type { AuthContext, TokenValidator } from './auth.ts';
import { RequestContext } from './context.ts';
const CONTEXT = Symbol('requestContext');
import type { PolicyEngine } from './policy/index.ts';
import type { CatalogEntry } from './catalog_services.ts';
import { AJV_OPTIONS, invalidInputMessage, type SchemaError } from './validate.ts';
import { caseResponseHeaders, openstackHeaderName } from './header_case.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller, set by token validation (undefined on public routes). */
    ctx?: AuthContext;
    service?: MountedService;
    /** The request context handed to every layer below the handler (core/context.ts). */
    readonly context: RequestContext;
    /** Set once a policy rule was enforced for this request. */
    authorized: boolean;
    /** Public base URL of the service this request reached, e.g. http://host:8000/identity */
    baseUrl: string;
    /** Enforce a named policy rule against a target; throws 403 (or 401 without a token). */
    authorize(rule: string, target?: Record<string, unknown>): void;
    /** Evaluate a rule without throwing. */
    allowed(rule: string, target?: Record<string, unknown>): boolean;
  }
  interface FastifyContextConfig {
    /**
     * false: a public route, no token needed (version documents, POST /v3/auth/tokens, ...);
     * 'optional': a token is validated when one is sent (Swift's public containers, temp URLs).
     */
    auth?: boolean | 'optional';
    /** The 405 route of a known path (methodNotAllowedRoutes): a service's checks of a request let it through. */
    methodNotAllowed?: boolean;
  }
}

export interface ServiceModule {
  /** Its name, type, prefix, standard port, catalog URL path and upstream name: its line of core/catalog_services.ts. */
  readonly catalogEntry: CatalogEntry;
  /** Render an error in the service's own body. */
  renderError(e: ApiError): unknown;
  /** Content type of rendered errors (Swift answers text/html), default application/json. */
  errorContentType?: string;
  policy: PolicyEngine;
  register(app: FastifyInstance): Promise<void>;
  /** The spelling of response header names (core/header_case.ts); webob's known names by default. */
  headerName?(name: string): string;
  /** Starts the service (migrations, periodic tasks, workers); called once after its factory made it. */
  init?(): Promise<void>;
  close?(): Promise<void>;
}

export interface MountedService {
  module: ServiceModule;
  prefix: string;
}

type ValidatorFn = ((data: unknown, ctx?: object) => unknown) & { errors?: unknown; schemaEnv?: unknown };
type ValidatorCompiler = (route: object) => ValidatorFn;
type ValidatorFactory = (externalSchemas: unknown, options: unknown) => ValidatorCompiler;
/**
 * Fastify's own validator compiler (its Ajv, the options above), but each route's schema is
 * compiled at the route's first request, not when the route is registered: a start registers
 * every route with a schema, most of which a run never calls (0.4-0.5 s of a start's CPU).
 */
function lazyValidators(): ValidatorFactory {
  const fastifyDefault = (
    createRequire(createRequire(import.meta.url).resolve('fastify'))('@fastify/ajv-compiler') as () => ValidatorFactory
  )();
  return (externalSchemas, options) => {
    const compile = fastifyDefault(externalSchemas, options);
    return (route) => {
      let fn: ValidatorFn | undefined;
      const lazy: ValidatorFn = (data, ctx) => {
        fn ??= compile(route);
        const ok = fn(data, ctx);
        lazy.errors = fn.errors;
        return ok;
      };
      // Fastify passes the parent (ctx) to a compiled Ajv function, which it knows by this.
      lazy.schemaEnv = true;
      return lazy;
    };
  };
}

export function createHttpApp(log: Logger): FastifyInstance {
  const app = Fastify({
    loggerInstance: log,
    genReqId: () => `req-${randomUUID()}`,
    // One access line per request (written in onResponse below), as an OpenStack API logs, not two.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    requestIdHeader: false,
    bodyLimit: 16 * 1024 * 1024,
    return503OnClosing: true,
    exposeHeadRoutes: false,
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: 1024 },
    // The options of core/validate.ts's validator: OpenStack APIs never coerce or drop what the client sent.
    ajv: { customOptions: AJV_OPTIONS },
    // Typed loosely by Fastify (Ajv's function types): ours returns the same functions, compiled later.
    schemaController: { compilersFactory: { buildValidator: lazyValidators() as never } },
  }) as unknown as FastifyInstance;
  // Clients send Content-Type: application/json on bodiless requests; that is not an error.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(
    ['application/json', 'application/openstack-images-v2.1-json-patch'],
    { parseAs: 'string' },
    jsonBodyParser(() => new ApiError(400, 'Malformed request body: the body is not valid JSON.')),
  );
  // Hooks in the callback form: an async hook costs every request a promise and a turn more.
  if (log.isLevelEnabled('debug'))
    app.addHook('onRequest', (req, _reply, done) => {
      req.log.debug({ method: req.method, url: req.url }, 'request start');
      done();
    });
  app.addHook('onResponse', (req, reply, done) => {
    req.log.info(
      { method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 },
      'request',
    );
    done();
  });
  app.decorateRequest('ctx', undefined);
  app.decorateRequest('service', undefined);
  app.decorateRequest('authorized', false);
  app.decorateRequest('baseUrl', '');
  app.decorateRequest('context', {
    getter(this: FastifyRequest): RequestContext {
      const self = this as FastifyRequest & { [CONTEXT]?: RequestContext };
      let c = self[CONTEXT];
      // Rebuilt if authentication replaced the caller after a first use.
      if (!c || c.auth !== this.ctx)
        self[CONTEXT] = c = new RequestContext(this.ctx, this.id, this.service?.module.policy);
      return c;
    },
  });
  app.decorateRequest('authorize', function (this: FastifyRequest, rule: string, target: Record<string, unknown> = {}) {
    if (!this.service) throw new Error('authorize() outside of a service');
    this.authorized = true;
    this.context.authorize(rule, target);
  });
  app.decorateRequest('allowed', function (this: FastifyRequest, rule: string, target: Record<string, unknown> = {}) {
    if (!this.service) return false;
    return this.context.allowed(rule, target);
  });
  return app;
}

/**
 * A Fastify body parser for JSON: an empty body is no body (clients send Content-Type:
 * application/json on bodiless requests), `__proto__` keys are dropped, and bad JSON is the
 * service's own 400 (each service words it its own way).
 */
export function jsonBodyParser(malformed: (err: Error) => Error) {
  return (_req: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void) => {
    const text = String(body).trim();
    if (!text) return done(null, undefined);
    try {
      done(
        null,
        JSON.parse(text, (k, v) => (k === '__proto__' ? undefined : v)),
      );
    } catch (e) {
      done(malformed(e as Error), undefined);
    }
  };
}

/** Fastify's validation errors (route schemas) in the core wording (core/validate.ts). */
function validationMessage(err: { message: string; validation?: SchemaError[]; validationContext?: string }): string {
  const v = err.validation?.[0];
  return v ? invalidInputMessage(v, err.validationContext ?? 'body') : err.message;
}

/** Turns anything thrown into the service's error body. Never lets an internal error escape as text. */
/**
 * A known path asked with a method it lacks answers 405 with Allow, as the WSGI routers of placement,
 * aodh and gnocchi do: one route per path of `routes` ('METHOD /path') for the other `methods`.
 */
export function methodNotAllowedRoutes(
  scope: FastifyInstance,
  routes: readonly string[],
  methods: readonly string[] = ['GET', 'PUT', 'POST', 'DELETE', 'PATCH'],
) {
  const byPath = new Map<string, string[]>();
  for (const r of routes) {
    const [m, u] = r.split(' ') as [string, string];
    byPath.set(u, [...(byPath.get(u) ?? []), m]);
  }
  for (const [url, allowed] of byPath) {
    const others = methods.filter((m) => !allowed.includes(m));
    if (!others.length) continue;
    scope.route({
      method: others as HTTPMethods[],
      url,
      config: { auth: false, methodNotAllowed: true },
      handler: async (req, reply) => {
        reply.header('allow', allowed.join(', '));
        throw new ApiError(405, `The method ${req.method} is not allowed for this resource.`);
      },
    });
  }
}

export function toApiError(thrown: unknown): ApiError {
  if (thrown instanceof ApiError) return thrown;
  // What Fastify and Node throw: an Error with a code, a status, or schema errors.
  const err = thrown as
    | { message: string; code?: string; statusCode?: unknown; validation?: SchemaError[]; validationContext?: string }
    | null
    | undefined;
  if (err?.validation) return new ApiError(400, validationMessage(err), 'ValidationError');
  if (err?.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new ApiError(415, `Unsupported Content-Type`);
  if (err?.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new ApiError(413, 'Request is too large.');
  if (err?.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH' || err?.code === 'FST_ERR_CTP_EMPTY_JSON_BODY')
    return new ApiError(400, 'Malformed request body.');
  if (typeof err?.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500)
    return new ApiError(err.statusCode, err.message);
  return new ApiError(500, 'An unexpected error prevented the server from fulfilling your request.');
}

export function sendError(reply: FastifyReply, svc: ServiceModule, err: ApiError) {
  if (err.headers) reply.headers(err.headers);
  reply
    .code(err.status)
    .type(svc.errorContentType ?? 'application/json')
    .send(svc.renderError(err));
}

export interface MountOptions {
  prefix: string;
  validator: TokenValidator;
  /** Public URL of identity, for WWW-Authenticate. */
  identityUrl: () => string;
}

/** Registers a service under a prefix ('' for its own port) with its hooks and error body. */
export async function mountService(app: FastifyInstance, svc: ServiceModule, opts: MountOptions) {
  const mounted: MountedService = { module: svc, prefix: opts.prefix };
  await app.register(
    async (scope) => {
      scope.addHook('onRequest', async (req, reply) => {
        req.service = mounted;
        req.baseUrl = `${req.protocol}://${req.headers.host ?? 'localhost'}${opts.prefix}`;
        caseResponseHeaders(reply.raw, svc.headerName ? (n) => svc.headerName!(n) : openstackHeaderName);
        reply.header('x-openstack-request-id', req.id);
        const mode = req.routeOptions.config?.auth;
        if (mode === false) return;
        const token = req.headers['x-auth-token'];
        if (mode === 'optional' && (typeof token !== 'string' || !token)) return;
        if (typeof token !== 'string' || !token) {
          throw new ApiError(401, 'The request you have made requires authentication.', 'Unauthorized', {
            'WWW-Authenticate': `Keystone uri="${opts.identityUrl()}"`,
          });
        }
        try {
          req.ctx = await opts.validator.validate(token);
        } catch (e) {
          if (e instanceof ApiError && e.status >= 500) throw e;
          throw new ApiError(401, 'The request you have made requires authentication.', 'Unauthorized', {
            'WWW-Authenticate': `Keystone uri="${opts.identityUrl()}"`,
          });
        }
        const st = req.headers['x-service-token'];
        if (typeof st === 'string' && st) {
          try {
            req.ctx = { ...req.ctx, serviceRoles: (await opts.validator.validate(st)).roles };
          } catch {
            /* an invalid service token only removes service privileges */
          }
        }
      });
      // Every authenticated route must enforce a named policy rule; one that forgot is a bug.
      scope.addHook('onResponse', (req, reply, done) => {
        if (
          req.routeOptions.config?.auth === undefined &&
          reply.statusCode < 400 &&
          !req.authorized &&
          !req.context.enforced &&
          req.routeOptions.url
        ) {
          req.log.error(
            { route: req.routeOptions.url, method: req.method },
            'route answered without enforcing a policy rule',
          );
        }
        done();
      });
      scope.setErrorHandler((err, req, reply) => {
        const apiErr = toApiError(err);
        if (apiErr.status >= 500) req.log.error({ err }, 'unhandled error');
        sendError(reply, svc, apiErr);
      });
      scope.setNotFoundHandler((req, reply) => {
        reply.header('x-openstack-request-id', req.id);
        sendError(reply, svc, new ApiError(404, 'The resource could not be found.', 'NotFound'));
      });
      await svc.register(scope);
    },
    { prefix: opts.prefix },
  );
}

// ---- microversions -------------------------------------------------------------------

export class Microversion {
  constructor(
    public major: number,
    public minor: number,
  ) {}
  static parse(s: string): Microversion | null {
    const m = /^(\d+)\.(\d+)$/.exec(s.trim());
    return m ? new Microversion(Number(m[1]), Number(m[2])) : null;
  }
  cmp(o: Microversion | string): number {
    const v = typeof o === 'string' ? Microversion.parse(o)! : o;
    return this.major - v.major || this.minor - v.minor;
  }
  gte(v: string) {
    return this.cmp(v) >= 0;
  }
  lt(v: string) {
    return this.cmp(v) < 0;
  }
  toString() {
    return `${this.major}.${this.minor}`;
  }
}

export interface MicroversionSpec {
  /** Service name in OpenStack-API-Version, e.g. 'compute', 'volume', 'placement'. */
  service: string;
  /** Older service-specific header, e.g. 'x-openstack-nova-api-version'. */
  legacyHeader?: string;
  min: string;
  max: string;
  /** 'latest' only in lower case (placement's microversion_parse); nova and cinder take any case. */
  latestLowerCaseOnly?: boolean;
  /** The service's own wording of a bad version (400) and of one out of range (406), where its upstream differs. */
  errors?: { invalid(asked: string): Error; unacceptable(asked: string): Error };
  /** The Vary header's value (placement's is lower case); by default the version headers by their names. */
  vary?: string;
}

/** Negotiates the request's microversion (406 outside the supported range) and sets the answer headers. */
export function negotiateMicroversion(req: FastifyRequest, reply: FastifyReply, spec: MicroversionSpec): Microversion {
  const min = Microversion.parse(spec.min)!,
    max = Microversion.parse(spec.max)!;
  let asked: string | undefined;
  const header = req.headers['openstack-api-version'];
  for (const h of Array.isArray(header) ? header : header ? [header] : []) {
    for (const part of h.split(',')) {
      const [svc, ver] = part.trim().split(/\s+/, 2);
      if (svc?.toLowerCase() === spec.service && ver) asked = ver;
    }
  }
  if (!asked && spec.legacyHeader) {
    const legacy = req.headers[spec.legacyHeader];
    if (typeof legacy === 'string') asked = legacy;
  }
  let v = min;
  if (asked) {
    if ((spec.latestLowerCaseOnly ? asked : asked.toLowerCase()) === 'latest') v = max;
    else {
      const p = Microversion.parse(asked);
      if (!p) throw spec.errors?.invalid(asked) ?? new ApiError(400, `Invalid API version request string ${asked}.`);
      if (p.cmp(min) < 0 || p.cmp(max) > 0)
        throw (
          spec.errors?.unacceptable(asked) ??
          new ApiError(
            406,
            `Version ${asked} is not supported by the API. Minimum is ${spec.min} and maximum is ${spec.max}.`,
          )
        );
      v = p;
    }
  }
  reply.header('OpenStack-API-Version', `${spec.service} ${v}`);
  const vary = ['OpenStack-API-Version'];
  if (spec.legacyHeader) {
    reply.header(spec.legacyHeader, v.toString());
    vary.push(spec.legacyHeader);
  }
  reply.header('Vary', spec.vary ?? vary.join(', '));
  return v;
}

// ---- pagination ----------------------------------------------------------------------

export interface PageParams {
  limit?: number;
  marker?: string;
}

/** Reads `limit` and `marker` from the query; a bad limit is a 400. `maxLimit` caps it. */
export function pageParams(query: Record<string, unknown>, maxLimit?: number): PageParams {
  const out: PageParams = {};
  if (query.limit !== undefined) {
    const n = Number(query.limit);
    if (!Number.isInteger(n) || n < 0)
      throw new ApiError(400, `Invalid limit: '${String(query.limit)}' must be a non-negative integer.`);
    out.limit = maxLimit ? Math.min(n, maxLimit) : n;
  } else if (maxLimit) out.limit = maxLimit;
  if (typeof query.marker === 'string' && query.marker) out.marker = query.marker;
  return out;
}

/** The same request's URL with a new marker: the `next` link of a page. */
export function nextPageHref(req: FastifyRequest, marker: string): string {
  const url = new URL(req.url, `${req.protocol}://${req.headers.host ?? 'localhost'}`);
  url.searchParams.set('marker', marker);
  return `${req.baseUrl}${url.pathname.slice(req.service?.prefix.length ?? 0)}${url.search}`;
}

/** Slices an ordered list by marker and limit; returns the page and whether more follow. */
export function paginate<T>(items: T[], p: PageParams, key: (t: T) => string): { page: T[]; more: boolean } {
  let start = 0;
  if (p.marker !== undefined) {
    const i = items.findIndex((t) => key(t) === p.marker);
    if (i < 0) throw new ApiError(404, `Marker ${p.marker} could not be found.`);
    start = i + 1;
  }
  const end = p.limit !== undefined ? start + p.limit : items.length;
  return { page: items.slice(start, end), more: end < items.length };
}

export { STATUS_TITLES };
