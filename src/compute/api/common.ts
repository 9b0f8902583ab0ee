// What every family of the compute API shares: Nova's fault body, the request's microversion,
// policy checks with Nova's target and message, request body validation with Nova's error
// text, and the links of a resource.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Ajv } from 'ajv';
import { ApiError } from '../../core/errors.ts';
import type { Microversion } from '../../core/http.ts';

/** Nova's fault names by status (nova.api.openstack.wsgi.Fault); anything else is computeFault. */
const FAULT_NAMES: Record<number, string> = {
  400: 'badRequest',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'itemNotFound',
  405: 'badMethod',
  409: 'conflictingRequest',
  413: 'overLimit',
  415: 'badMediaType',
  429: 'overLimit',
  501: 'notImplemented',
  503: 'serviceUnavailable',
};

/** A server action of POST /servers/{id}/action, by the body's one key (the map is in routes.ts). */
export type ServerAction = (req: FastifyRequest, reply: FastifyReply, id: string) => Promise<unknown>;

export function faultBody(e: ApiError): unknown {
  const name = FAULT_NAMES[e.status] ?? 'computeFault';
  const message =
    e.status >= 500 && e.status !== 501 && e.status !== 503
      ? "Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and attach the Nova API log if possible.\n<class 'nova.exception.NovaException'>"
      : e.message;
  return { [name]: { code: e.status, message } };
}

export const badRequest = (m: string) => new ApiError(400, m);
export const notFound = (m: string) => new ApiError(404, m);
export const conflict = (m: string) => new ApiError(409, m);
export const forbidden = (m: string) => new ApiError(403, m);

/** The request's negotiated microversion. */
export const mv = (req: FastifyRequest): Microversion => req.computeVersion!;

/** Nova's default policy target: the caller's own project and user. */
export function defaultTarget(req: FastifyRequest): Record<string, unknown> {
  return { project_id: req.ctx?.projectId ?? null, user_id: req.ctx?.userId ?? null };
}

/** Enforces a Nova rule; 403 "Policy doesn't allow ... to be performed." as nova.policy answers. */
export function authorize(req: FastifyRequest, rule: string, target?: Record<string, unknown>) {
  req.authorized = true;
  if (!req.allowed(rule, target ?? defaultTarget(req)))
    throw forbidden(`Policy doesn't allow ${rule} to be performed.`);
}

export function allowed(req: FastifyRequest, rule: string, target?: Record<string, unknown>): boolean {
  return req.allowed(rule, target ?? defaultTarget(req));
}

export const isAdmin = (req: FastifyRequest) => allowed(req, 'context_is_admin');

// ---- validation (nova.api.validation) ---------------------------------------------------

const ajv = new Ajv({ allErrors: false, strict: false, verbose: true });
const UUID = /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/;
ajv.addFormat('uuid', UUID);
ajv.addFormat('date-time', (s: string) => !Number.isNaN(Date.parse(s)));
ajv.addFormat('ipv4', /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/);
ajv.addFormat('ipv6', (s: string) => s.includes(':') && /^[0-9a-fA-F:.]+$/.test(s));
ajv.addFormat('base64', (s: string) => /^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(s));
export const isUuid = (s: unknown): s is string => typeof s === 'string' && UUID.test(s);
const compiled = new WeakMap<object, ReturnType<typeof ajv.compile>>();
const compiledByText = new Map<string, ReturnType<typeof ajv.compile>>();

/** A value as Python prints it in jsonschema's messages. */
export function py(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (Array.isArray(v)) return `[${v.map(py).join(', ')}]`;
  if (typeof v === 'object')
    return `{${Object.entries(v as object)
      .map(([k, x]) => `${py(k)}: ${py(x)}`)
      .join(', ')}}`;
  return String(v);
}

function message(e: any): string {
  switch (e.keyword) {
    case 'additionalProperties':
      return `Additional properties are not allowed ('${e.params.additionalProperty}' was unexpected)`;
    case 'required':
      return `'${e.params.missingProperty}' is a required property`;
    case 'maxLength':
      return `${py(e.data)} is too long`;
    case 'minLength':
      return `${py(e.data)} is too short`;
    case 'type':
      return `${py(e.data)} is not of type ${String(e.params.type)
        .split(',')
        .map((t: string) => `'${t}'`)
        .join(', ')}`;
    case 'format':
      return `${py(e.data)} is not a '${e.params.format}'`;
    case 'pattern':
      return `${py(e.data)} does not match '${e.params.pattern}'`;
    case 'minimum':
      return `${py(e.data)} is less than the minimum of ${e.params.limit}`;
    case 'maximum':
      return `${py(e.data)} is greater than the maximum of ${e.params.limit}`;
    case 'minItems':
      return `${py(e.data)} is too short`;
    case 'maxItems':
      return `${py(e.data)} is too long`;
    case 'uniqueItems':
      return `${py(e.data)} has non-unique elements`;
    case 'enum':
      return `${py(e.data)} is not one of ${py(e.params.allowedValues)}`;
    case 'minProperties':
      return `${py(e.data)} does not have enough properties`;
    case 'maxProperties':
      return `${py(e.data)} has too many properties`;
    case 'anyOf':
    case 'oneOf':
      return `${py(e.data)} is not valid under any of the given schemas`;
    default:
      return e.message ?? 'is invalid';
  }
}

/** The body validated against a JSON schema: Nova's 400 "Invalid input for field/attribute ..." otherwise. */
export function validateBody<T = any>(req: FastifyRequest, schema: object): T {
  const data = req.body;
  if (data === undefined || data === null) throw badRequest('The request body is invalid.');
  let validate = compiled.get(schema);
  if (!validate) {
    // Schemas built per request (per microversion) compile once: by their text.
    const text = JSON.stringify(schema);
    validate = compiledByText.get(text);
    if (!validate) {
      validate = ajv.compile(schema);
      compiledByText.set(text, validate);
    }
    compiled.set(schema, validate);
  }
  if (!validate(data)) {
    const e = validate.errors![0]! as any;
    const path = e.instancePath.split('/').slice(1);
    if (!path.length) throw badRequest(message(e));
    throw badRequest(
      `Invalid input for field/attribute ${decodeURIComponent(path[path.length - 1]!)}. Value: ${py(e.data)}. ${message(e)}`,
    );
  }
  return data as T;
}

/** The `links` of a resource: self (versioned) and bookmark (unversioned), as Nova builds them. */
export function links(req: FastifyRequest, collection: string, id: string) {
  // Nova puts the project id in links only when the request URL had one; ours never do.
  const base = req.baseUrl;
  return [
    { rel: 'self', href: `${base}/v2.1/${collection}/${id}` },
    { rel: 'bookmark', href: `${base}/${collection}/${id}` },
  ];
}

/** The query string: a parameter's last value (or all values with `all`). */
export function queryOf(req: FastifyRequest): URLSearchParams {
  const i = req.url.indexOf('?');
  return new URLSearchParams(i < 0 ? '' : req.url.slice(i + 1));
}

/** Nova's timestamps: ISO 8601 without fractions, 'Z' suffix. */
export const isoZ = (s: string | null | undefined) => (s ? s.replace(/\.\d+Z$/, 'Z') : null);
