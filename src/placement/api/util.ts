// Placement's request helpers (placement/util.py): JSON body and query validation with jsonschema's
// messages, UUID forms, cache headers.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Ajv } from 'ajv';
import { perr } from './errors.ts';
import { mv } from './microversion.ts';

const ajv = new Ajv({ allErrors: false, strict: false, verbose: true });
const UUID_LIKE = /^(?:[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12})$/;
ajv.addFormat('uuid', UUID_LIKE);
export const isUuidLike = (s: unknown) => typeof s === 'string' && UUID_LIKE.test(s);
/** The canonical form of a UUID-like string (lower case, dashed), as uuid.UUID() gives. */
export function canonicalUuid(s: string): string {
  const h = s.replace(/-/g, '').toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
const compiled = new WeakMap<object, ReturnType<typeof ajv.compile>>();
/** Compiled validators by the schema's text: schemas built per request (per microversion) compile once. */
const compiledByText = new Map<string, ReturnType<typeof ajv.compile>>();
function validatorOf(schema: object): ReturnType<typeof ajv.compile> {
  let validate = compiled.get(schema);
  if (validate) return validate;
  const text = JSON.stringify(schema);
  validate = compiledByText.get(text);
  if (!validate) {
    validate = ajv.compile(schema);
    compiledByText.set(text, validate);
  }
  compiled.set(schema, validate);
  return validate;
}

const py = (v: unknown): string => {
  if (typeof v === 'string') return `'${v}'`;
  if (v === null) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  return JSON.stringify(v);
};

/** jsonschema's ValidationError text (message, the failing keyword, the instance path). */
function schemaError(e: {
  keyword: string;
  message?: string;
  params: any;
  instancePath: string;
  schemaPath: string;
  data?: unknown;
  parentSchema?: any;
}): string {
  let msg: string;
  switch (e.keyword) {
    case 'additionalProperties': {
      const pats = Object.keys(e.parentSchema?.patternProperties ?? {});
      msg = pats.length
        ? `'${e.params.additionalProperty}' does not match any of the regexes: ${pats.map((x) => `'${x}'`).join(', ')}`
        : `Additional properties are not allowed ('${e.params.additionalProperty}' was unexpected)`;
      break;
    }
    case 'required':
      msg = `'${e.params.missingProperty}' is a required property`;
      break;
    case 'maxLength':
      msg = `${py(e.data)} is too long`;
      break;
    case 'minLength':
      msg = `${py(e.data)} is too short`;
      break;
    case 'type':
      msg = `${py(e.data)} is not of type ${String(e.params.type)
        .split(',')
        .map((t) => `'${t}'`)
        .join(', ')}`;
      break;
    case 'format':
      msg = `${py(e.data)} is not a '${e.params.format}'`;
      break;
    case 'pattern':
      msg = `${py(e.data)} does not match '${e.params.pattern}'`;
      break;
    case 'minimum':
      msg = `${py(e.data)} is less than the minimum of ${e.params.limit}`;
      break;
    case 'maximum':
      msg = `${py(e.data)} is greater than the maximum of ${e.params.limit}`;
      break;
    case 'minProperties':
      msg = `${py(e.data)} does not have enough properties`;
      break;
    case 'minItems':
      msg = `${py(e.data)} is too short`;
      break;
    case 'uniqueItems':
      msg = `${py(e.data)} has non-unique elements`;
      break;
    case 'enum':
      msg = `${py(e.data)} is not one of [${(e.params.allowedValues as unknown[]).map(py).join(', ')}]`;
      break;
    case 'anyOf':
      msg = `${py(e.data)} is not valid under any of the given schemas`;
      break;
    default:
      msg = e.message ?? 'is invalid';
  }
  const schemaPath = e.schemaPath
    .replace(/^#\//, '')
    .split('/')
    .slice(0, -1)
    .map((x) => `[${py(decodeURIComponent(x))}]`)
    .join('');
  const instance = e.instancePath
    .split('/')
    .slice(1)
    .map((x) => `[${py(x)}]`)
    .join('');
  return `${msg}\n\nFailed validating '${e.keyword}' in schema${schemaPath}\n\nOn instance${instance}:\n    ${py(e.data)}`;
}

/** Data validated against a JSON schema: 400 "JSON does not validate" otherwise. */
export function validateJson<T = any>(data: unknown, schema: object): T {
  const validate = validatorOf(schema);
  if (!validate(data)) throw perr(400, `JSON does not validate: ${schemaError(validate.errors![0]! as any)}`);
  return data as T;
}

/** The request body validated against a JSON schema. */
export function jsonBody<T = any>(req: FastifyRequest, schema: object): T {
  if (req.body === undefined) throw perr(400, 'Malformed JSON: Expecting value: line 1 column 1 (char 0)');
  if (typeof req.body === 'string') throw perr(400, 'Malformed JSON: the body is not JSON');
  return validateJson<T>(req.body, schema);
}

/** Query parameters validated against a JSON schema (each value a string; the last one wins). */
export function queryParams(req: FastifyRequest, schema: object): Record<string, string> {
  const q = flatQuery(req);
  const validate = validatorOf(schema);
  if (!validate(q)) throw perr(400, `Invalid query string parameters: ${schemaError(validate.errors![0]! as any)}`);
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

/** Sets Placement's cache headers (1.15+): Last-Modified and Cache-Control: no-cache. */
export function cacheHeaders(req: FastifyRequest, reply: FastifyReply, lastModified?: string | null) {
  if (!mv(req).gte('1.15')) return;
  reply.header('cache-control', 'no-cache');
  reply.header('last-modified', new Date(lastModified ?? Date.now()).toUTCString());
}
