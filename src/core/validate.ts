// The one JSON-schema validator of the hand-written checks (bodies and queries validated inside a
// handler, per microversion): one Ajv instance configured as Fastify's route validator is
// (core/http.ts), compiled schemas cached, and the texts clients see. The core wording is
// `Invalid input for field '<field>': <reason>`; services whose upstream words it otherwise (nova,
// placement: Python jsonschema's ValidationError) build their text from jsonschemaMessage().
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { ApiError } from './errors.ts';
import { pyRepr } from './python.ts';

/**
 * OpenStack APIs never coerce, default or drop what the client sent: a wrong type is a 400.
 * The schemas are this code's, not input: they are not checked against the JSON-schema
 * meta-schema, whose compile (100-200 ms, once per Ajv instance) a start would pay at the
 * first compile of each instance.
 */
export const AJV_OPTIONS = {
  coerceTypes: false,
  removeAdditional: false,
  useDefaults: false,
  allErrors: false,
  validateSchema: false,
} as const;

/** A UUID as oslo's uuidutils.is_uuid_like accepts it: hex, dashes optional, any case. */
export const UUID_LIKE = /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/;
export const isUuidLike = (s: unknown): s is string => typeof s === 'string' && UUID_LIKE.test(s);

/** The canonical form of a UUID-like string (lower case, dashed), as str(uuid.UUID(s)) gives. */
export function canonicalUuid(s: string): string {
  const h = s.replace(/-/g, '').toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// strict off: upstream schemas carry keywords Ajv does not know (jsonschema ignores them too);
// verbose: the failing value is quoted in the messages.
const ajv = new Ajv({ ...AJV_OPTIONS, strict: false, verbose: true });
// The formats of the services' jsonschema FormatChecker (nova's and placement's).
ajv.addFormat('uuid', UUID_LIKE);
ajv.addFormat('date-time', (s: string) => !Number.isNaN(Date.parse(s)));
ajv.addFormat('ipv4', /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/);
ajv.addFormat('ipv6', (s: string) => s.includes(':') && /^[0-9a-fA-F:.]+$/.test(s));
ajv.addFormat('base64', (s: string) => /^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(s));

export type SchemaError = ErrorObject;

// A cache, not a registry: each schema object's compiled validator, gone with the schema.
const compiled = new WeakMap<object, ValidateFunction>();
/** By the schema's text too: schemas built per request (per microversion) compile once. */
const compiledByText = new Map<string, ValidateFunction>();

/** The compiled validator of a schema (cached). */
export function compileSchema(schema: object): ValidateFunction {
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

/** The first error of `data` against `schema` (upstream validators stop at the first), or undefined. */
export function schemaError(data: unknown, schema: object): SchemaError | undefined {
  const validate = compileSchema(schema);
  return validate(data)
    ? undefined
    : (validate.errors?.[0] ?? { keyword: 'false', instancePath: '', schemaPath: '', params: {} });
}

/**
 * Validates `data`: returns it typed, or throws what `fail` makes of the first error
 * (by default the core 400, `Invalid input for field '...': ...`).
 */
export function validate<T>(data: unknown, schema: object, fail: (e: SchemaError) => Error = invalidInput): T {
  const e = schemaError(data, schema);
  if (e) throw fail(e);
  return data as T;
}

// ---- the core wording -----------------------------------------------------------------

/** The dotted field an error is about (the missing property for `required`). */
export function errorField(e: SchemaError): string {
  let field = (e.instancePath || '').replace(/^\//, '').replace(/\//g, '.');
  if (e.keyword === 'required' && e.params?.missingProperty)
    field = field ? `${field}.${e.params.missingProperty}` : String(e.params.missingProperty);
  return field;
}

/** `Invalid input for field 'name': must be string` (`where` names the field when it is the whole body or query). */
export function invalidInputMessage(e: SchemaError, where = 'body'): string {
  const field = errorField(e) || where;
  if (e.keyword === 'additionalProperties' && e.params?.additionalProperty)
    return `Invalid input for field '${field}': Additional properties are not allowed ('${e.params.additionalProperty}' was unexpected)`;
  return `Invalid input for field '${field}': ${e.message}`;
}

/** The core 400 for a value that does not match its schema. */
export function invalidInput(e: SchemaError): Error {
  return new ApiError(400, invalidInputMessage(e), 'ValidationError');
}

// ---- Python jsonschema's wording (nova, placement) ---------------------------------------

/** jsonschema's ValidationError.message for the first error. */
export function jsonschemaMessage(e: SchemaError): string {
  const value = pyRepr(e.data);
  switch (e.keyword) {
    case 'additionalProperties': {
      const patterns = Object.keys(e.parentSchema?.patternProperties ?? {});
      return patterns.length
        ? `'${e.params.additionalProperty}' does not match any of the regexes: ${patterns.map((x) => `'${x}'`).join(', ')}`
        : `Additional properties are not allowed ('${e.params.additionalProperty}' was unexpected)`;
    }
    case 'required':
      return `'${e.params.missingProperty}' is a required property`;
    case 'maxLength':
    case 'maxItems':
      return `${value} is too long`;
    case 'minLength':
    case 'minItems':
      return `${value} is too short`;
    case 'type':
      return `${value} is not of type ${String(e.params.type)
        .split(',')
        .map((t) => `'${t}'`)
        .join(', ')}`;
    case 'format':
      return `${value} is not a '${e.params.format}'`;
    case 'pattern':
      return `${value} does not match '${e.params.pattern}'`;
    case 'minimum':
      return `${value} is less than the minimum of ${e.params.limit}`;
    case 'maximum':
      return `${value} is greater than the maximum of ${e.params.limit}`;
    case 'uniqueItems':
      return `${value} has non-unique elements`;
    case 'enum':
      return `${value} is not one of ${pyRepr(e.params.allowedValues)}`;
    case 'minProperties':
      return `${value} does not have enough properties`;
    case 'maxProperties':
      return `${value} has too many properties`;
    case 'anyOf':
    case 'oneOf':
      return `${value} is not valid under any of the given schemas`;
    default:
      return e.message ?? 'is invalid';
  }
}

/** str(ValidationError): the message, the failing keyword and schema path, the instance path and value. */
export function jsonschemaDetail(e: SchemaError): string {
  const schemaPath = e.schemaPath
    .replace(/^#\//, '')
    .split('/')
    .slice(0, -1)
    .map((x) => `[${pyRepr(decodeURIComponent(x))}]`)
    .join('');
  const instance = e.instancePath
    .split('/')
    .slice(1)
    .map((x) => `[${pyRepr(x)}]`)
    .join('');
  return `${jsonschemaMessage(e)}\n\nFailed validating '${e.keyword}' in schema${schemaPath}\n\nOn instance${instance}:\n    ${pyRepr(e.data)}`;
}
