// The resource plugin interface (Heat's heat.engine.resource.Resource as a plain object): the
// built-in resources implement it, and so do plugins loaded from `orchestration.pluginDirs`
// (see README.md). A plugin declares its properties and attributes (their schema is what
// GET /resource_types/{type} answers) and the handlers of its lifecycle; the engine validates
// and resolves the properties, runs the handlers, records states and events.
import type { Logger } from '../../core/log.ts';

export type PropertyType = 'string' | 'integer' | 'number' | 'boolean' | 'list' | 'map' | 'json';

export interface PropertyConstraint {
  allowed_values?: unknown[];
  range?: { min?: number; max?: number };
  length?: { min?: number; max?: number };
  allowed_pattern?: string;
  /** A custom constraint name (nova.flavor, glance.image, ...): documented, checked by the resource itself. */
  custom_constraint?: string;
  description?: string;
}

export interface PropertySchema {
  type: PropertyType;
  description?: string;
  required?: boolean;
  default?: unknown;
  /** The property may change without replacing the resource. */
  update_allowed?: boolean;
  immutable?: boolean;
  constraints?: PropertyConstraint[];
  /** The schema of a map's keys (map) or of each item (list: the key '*'). */
  schema?: Record<string, PropertySchema>;
}

export interface AttributeSchema {
  description: string;
  type?: 'string' | 'integer' | 'number' | 'boolean' | 'list' | 'map';
}

export interface SupportStatus {
  status: 'SUPPORTED' | 'DEPRECATED' | 'UNSUPPORTED' | 'HIDDEN';
  version?: string | null;
  message?: string | null;
}

/** A stack the plugin may create below its resource (OS::Heat::Stack, ResourceGroup, template resources). */
export interface NestedStacks {
  /** Creates (or, when the resource has one, updates) its nested stack and waits for it; answers its id. */
  apply(template: string | object, params: Record<string, unknown>, files?: Record<string, string>): Promise<string>;
  /** Deletes the nested stack of this resource, if any, and waits. */
  delete(): Promise<void>;
  /** The outputs of the nested stack (resolved). */
  outputs(): Promise<Record<string, unknown>>;
  /** The nested stack's resources: name → reference id and attributes. */
  resources(): Promise<Record<string, { refId: string | null; attributes: Record<string, unknown> }>>;
  /** Suspends / resumes / checks the nested stack. */
  action(action: 'SUSPEND' | 'RESUME' | 'CHECK'): Promise<void>;
}

/** An OpenStack API call on behalf of the stack's owner (the user's token, or the service's). */
export type ApiCall = <T = Record<string, unknown>>(
  service: string,
  method: string,
  path: string,
  body?: unknown,
  expect?: number[],
) => Promise<T>;

/** The credentials of a resource's stack-domain user, as the resource keeps them (`data.stack_user`). */
export interface StackUserCreds {
  user_id: string;
  username: string;
  /** The stack's project in the stack domain (Heat's stack_user_project_id). */
  project_id: string;
  domain_id: string;
  password: string;
  /** EC2 keypair, when asked for. */
  access?: string;
  secret?: string;
  credential_id?: string;
}

/** A resource's user in the stack domain (Heat's StackUser), deleted by the engine with the resource. */
export interface StackUserApi {
  /** Makes the user (once: a second call answers the same), with an EC2 keypair when `ec2`. */
  create(o?: { ec2?: boolean }): Promise<StackUserCreds>;
  /** A token of the user, scoped to the stack's project in the stack domain. */
  token(): Promise<string>;
  /** Keystone's public v3 URL (what a guest authenticates against). */
  authUrl(): Promise<string>;
}

/** What a handler sees of its resource. */
export interface ResourceContext {
  readonly name: string;
  readonly type: string;
  readonly stack: { id: string; name: string; projectId: string; userId: string; region: string };
  /** The validated, resolved properties (defaults filled in). */
  readonly properties: Record<string, unknown>;
  /** The properties before an update (update handlers only). */
  readonly oldProperties?: Record<string, unknown>;
  /** The resource's metadata (from the template, or what `metadataSet` kept). */
  readonly metadata: Record<string, unknown>;
  /**
   * Replaces the resource's metadata and saves it at once (Heat's `metadata_set`), e.g. a scaling
   * group's `scaling_in_progress` that a concurrent signal must see. Absent where the engine does
   * not offer it.
   */
  metadataSet?(metadata: Record<string, unknown>): Promise<void>;
  physicalId: string | null;
  /** What the plugin keeps about its resource between calls (Heat's resource_data), saved by the engine. */
  data: Record<string, unknown>;
  /** Calls an OpenStack service by catalog type ('compute', 'network', 'image', 'identity', 'object-store'). */
  api: ApiCall;
  nested: NestedStacks;
  /** The resource's user in the stack domain, for credentials handed to a guest. */
  stackUser: StackUserApi;
  /** The public base URL of the orchestration API of the stack's project (for signal URLs). */
  heatUrl(): Promise<string>;
  /**
   * The object store as the stack owner, raw (headers in and out): `path` is under the account
   * (`/container/object`); `url` the account's public URL (for temp URLs).
   */
  swift?: {
    request(
      method: string,
      path: string,
      o?: { headers?: Record<string, string>; body?: string },
    ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }>;
    url(): Promise<string>;
  };
  /** The public URL of heat-api-cfn (`cloudformation`, e.g. http://host:8000/v1), null when the cloud has none. */
  cfnUrl?(): Promise<string | null>;
  /** Another resource of the same stack, by name or reference id (what get_resource answered). */
  sibling(ref: string): Promise<(StoredResource & { name: string }) | null>;
  /**
   * Hands a signal to another resource of the same stack (by name or reference id) as a call of
   * its handler (Heat's policy calling `group.adjust`): no SIGNAL event of its own is written.
   */
  signalSibling(ref: string, details: unknown): Promise<void>;
  /**
   * The type of a resource of the same stack whose physical id this is, when the engine made it
   * and it is COMPLETE (a get_resource of a dependency): a plugin need not look it up again.
   */
  typeOfOwn?(physicalId: string): string | null;
  /** Resolves once `ms` passed, or throws when the action is cancelled. */
  sleep(ms: number): Promise<void>;
  /**
   * Waits on a compute server between polls: `next(ms)` resolves once `ms` passed or, earlier, once
   * the engine heard that an action on the server ended (a compute notification since the last
   * `next`); it throws when the action is cancelled. `close()` when done. Absent: `sleep` between polls.
   */
  watchServer?(id: string): { next(ms: number): Promise<void>; close(): void };
  log: Logger;
}

/** A handler's way of saying "this change needs a new resource" (Heat's UpdateReplace). */
export class UpdateReplace extends Error {
  constructor(public readonly resource: string) {
    super(`The Resource ${resource} requires replacement.`);
  }
}

/**
 * A signal handler's way of saying "nothing to do" (Heat's NoActionRequired: a scaling policy in
 * cooldown, a group whose size would not change): the signal is accepted and no event is written.
 */
export class NoActionRequired extends Error {
  constructor(resource = 'unknown', reason = 'resource in unknown state') {
    super(`The resource ${resource} doesn't need action: ${reason}`);
  }
}

export interface ResourcePlugin {
  /** The resource type, e.g. 'OS::Heat::RandomString'. */
  type: string;
  description?: string;
  supportStatus?: SupportStatus;
  properties: Record<string, PropertySchema>;
  attributes: Record<string, AttributeSchema>;
  /** Creates the resource: sets `physicalId` (or leaves it null) and `data`. */
  create(r: ResourceContext): Promise<void>;
  /** Deletes what create made; a resource already gone is not an error. */
  delete(r: ResourceContext): Promise<void>;
  /** Changes the resource in place for properties marked update_allowed; throw UpdateReplace to replace. */
  update?(r: ResourceContext, changed: string[]): Promise<void>;
  /** The attribute values (all of them, or those it can): called after create and update. */
  resolveAttributes?(r: ResourceContext): Promise<Record<string, unknown>>;
  /** The reference id `get_resource` answers (default: the physical id, else the resource name). */
  refId?(r: ResourceContext): string | null;
  suspend?(r: ResourceContext): Promise<void>;
  resume?(r: ResourceContext): Promise<void>;
  /** Checks the resource still exists and is sound; throws when not. */
  check?(r: ResourceContext): Promise<void>;
  /**
   * A signal (POST .../resources/{name}/signal, a wait condition, a scaling policy's URL). What it
   * returns becomes the SIGNAL event's reason as `Signal: <result>` (Heat's handle_signal result);
   * without one the reason is made from the details (Aodh's `previous`/`current`/`reason`). Throw
   * `NoActionRequired` to accept the signal without an event.
   */
  signal?(r: ResourceContext, details: unknown): Promise<string | undefined | void>;
  /** Any properties are accepted as given (OS::Heat::None stands in for any type). */
  anyProperties?: boolean;
  /** An attribute not in the stored ones (dynamic names such as ResourceGroup's `resource.0`), from the stored data. */
  attribute?(state: StoredResource, name: string): unknown;
}

/** What the engine stored of a resource: what `attribute()` may read. */
export interface StoredResource {
  physicalId: string | null;
  data: Record<string, unknown>;
  attributes: Record<string, unknown>;
  properties: Record<string, unknown>;
}

/** The plugins a plugin module exports: `export const resources: ResourcePlugin[]` or a default list. */
export interface PluginModule {
  resources?: ResourcePlugin[];
  default?: ResourcePlugin[] | ResourcePlugin;
}

// ---- property validation -----------------------------------------------------------------

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function typeName(v: unknown): string {
  if (Array.isArray(v)) return 'list';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'map' : typeof v;
}

/** Converts a value to a property's type as Heat does (strings of numbers, booleans) or says why not. */
function coerce(path: string, s: PropertySchema, v: unknown): unknown {
  switch (s.type) {
    case 'string':
      if (typeof v === 'string') return v;
      if (typeof v === 'number' || typeof v === 'boolean') return String(v);
      throw new Error(`${path}: Value must be a string; got ${JSON.stringify(v)}`);
    case 'integer': {
      const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
      if (typeof n === 'number' && Number.isInteger(n)) return n;
      throw new Error(`${path}: Value '${String(v)}' is not an integer`);
    }
    case 'number': {
      const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
      if (typeof n === 'number' && !Number.isNaN(n)) return n;
      throw new Error(`${path}: Value '${String(v)}' is not a number`);
    }
    case 'boolean':
      if (typeof v === 'boolean') return v;
      if (
        typeof v === 'string' &&
        ['true', 'false', 't', 'f', 'yes', 'no', 'y', 'n', 'on', 'off', '1', '0'].includes(v.toLowerCase())
      )
        return ['true', 't', 'yes', 'y', 'on', '1'].includes(v.toLowerCase());
      throw new Error(`${path}: Unrecognized value "${String(v)}", acceptable values are: true, false.`);
    case 'list': {
      const list = typeof v === 'string' ? (v === '' ? [] : v.split(',')) : v;
      if (!Array.isArray(list)) throw new Error(`${path}: Value must be a list; got ${typeName(v)}`);
      const item = s.schema?.['*'];
      return item ? list.map((x, i) => validateValue(`${path}[${i}]`, item, x)) : list;
    }
    case 'map':
      if (!isMap(v)) throw new Error(`${path}: Value must be a map; got ${typeName(v)}`);
      return s.schema && !s.schema['*'] ? validateProperties(s.schema, v, path) : v;
    case 'json':
      // A JSON map or list given as text is parsed; any other value (a plain string too) is taken as it is.
      if (typeof v === 'string' && /^\s*[[{]/.test(v)) {
        try {
          return JSON.parse(v);
        } catch {
          return v;
        }
      }
      return v;
  }
}

function checkConstraints(path: string, s: PropertySchema, v: unknown) {
  for (const c of s.constraints ?? []) {
    if (c.allowed_values && !c.allowed_values.some((a) => a === v || String(a) === String(v)))
      throw new Error(
        `${path}: ${c.description ?? `"${String(v)}" is not an allowed value [${c.allowed_values.join(', ')}]`}`,
      );
    if (c.range && typeof v === 'number') {
      if ((c.range.min !== undefined && v < c.range.min) || (c.range.max !== undefined && v > c.range.max))
        throw new Error(
          `${path}: ${c.description ?? `${v} is out of range (min: ${c.range.min ?? 'None'}, max: ${c.range.max ?? 'None'})`}`,
        );
    }
    if (c.length && (typeof v === 'string' || Array.isArray(v) || isMap(v))) {
      const n = isMap(v) ? Object.keys(v).length : v.length;
      if ((c.length.min !== undefined && n < c.length.min) || (c.length.max !== undefined && n > c.length.max))
        throw new Error(
          `${path}: ${c.description ?? `length (${n}) is out of range (min: ${c.length.min ?? 'None'}, max: ${c.length.max ?? 'None'})`}`,
        );
    }
    if (c.allowed_pattern && typeof v === 'string' && !new RegExp(`^(?:${c.allowed_pattern})$`).test(v))
      throw new Error(`${path}: ${c.description ?? `"${v}" does not match pattern "${c.allowed_pattern}"`}`);
  }
}

function validateValue(path: string, s: PropertySchema, v: unknown): unknown {
  const out = coerce(path, s, v);
  checkConstraints(path, s, out);
  return out;
}

/**
 * Validates resolved properties against a schema: unknown names, required ones, types and
 * constraints; fills in defaults. Throws an Error whose message is Heat's (with the path).
 */
export function validateProperties(
  schema: Record<string, PropertySchema>,
  given: Record<string, unknown>,
  path = 'Properties',
): Record<string, unknown> {
  for (const k of Object.keys(given)) if (!(k in schema)) throw new Error(`${path}: Unknown Property ${k}`);
  const out: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(schema)) {
    const v = given[k];
    if (v === undefined || v === null) {
      if (s.default !== undefined) out[k] = structuredClone(s.default);
      else if (s.required) throw new Error(`${path}: Property ${k} not assigned`);
      else out[k] = null;
      continue;
    }
    out[k] = validateValue(`${path}.${k}`, s, v);
  }
  return out;
}

/** The schema document of one property as GET /resource_types/{type} answers it. */
export function propertySchemaDoc(s: PropertySchema): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    type: s.type,
    description: s.description ?? '',
    required: !!s.required,
    update_allowed: !!s.update_allowed,
    immutable: !!s.immutable,
  };
  if (s.default !== undefined) doc.default = s.default;
  if (s.constraints?.length)
    doc.constraints = s.constraints.map((c) => {
      const { description, ...rest } = c;
      return description ? { ...rest, description } : rest;
    });
  if (s.schema) doc.schema = Object.fromEntries(Object.entries(s.schema).map(([k, v]) => [k, propertySchemaDoc(v)]));
  return doc;
}
