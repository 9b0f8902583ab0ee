// The configuration's schema, checked before anything is written: every option of
// StratusConfig with its type, taken from the defaults (so a new option of a known section is
// known at once), unknown keys named with the closest known one. Sections of services whose
// defaults are not known here (another service's `<name>:`) are checked to be mappings only.
import { defaultConfig, type StratusConfig } from '../core/config.ts';
import { computeOptions } from '../compute/config.ts';
import { federationOptions } from '../identity/federation/config.ts';
import { compileSchema } from '../core/validate.ts';
import { FAULT_RULE_SCHEMA } from './faults.ts';

type Schema = Record<string, unknown>;

/** A schema accepting values of the default's type (objects: its keys only). */
function fromDefault(v: unknown, extra: Record<string, Schema> = {}): Schema {
  if (typeof v === 'number') return { type: 'number' };
  if (typeof v === 'string') return { type: 'string' };
  if (typeof v === 'boolean') return { type: 'boolean' };
  if (Array.isArray(v)) return { type: 'array' };
  if (v && typeof v === 'object') {
    const properties: Record<string, Schema> = {};
    for (const [k, val] of Object.entries(v)) properties[k] = fromDefault(val);
    return { type: 'object', additionalProperties: false, properties: { ...properties, ...extra } };
  }
  return {};
}

const port = { type: 'integer', minimum: 0, maximum: 65535 };

/** The schema of a whole configuration (the file's content, or the merged result). */
export function configSchema(serviceSections: string[] = []): Schema {
  const d = defaultConfig('/');
  const top = fromDefault(d) as { properties: Record<string, Schema> };
  const compute = fromDefault(computeOptions({}), {
    consoles: {
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(
        ['vnc', 'spice', 'rdp', 'serial', 'mks'].map((k) => [k, { type: ['string', 'boolean'] }]),
      ),
    },
  });
  // compute.libvirt.hostInstancesPaths: host → instances path (its default {} says nothing of its keys).
  const libvirt = (compute.properties as Record<string, Schema>).libvirt as { properties: Record<string, Schema> };
  libvirt.properties.hostInstancesPaths = { type: 'object', additionalProperties: { type: 'string' } };
  const network = fromDefault(d.network, {
    host: { type: 'string' },
    quotas: { type: 'object', additionalProperties: { type: 'integer' } },
    l2Hosts: { type: 'array', items: { type: 'string' } },
    flatNetworks: { type: 'array', items: { type: 'string' } },
    // The linuxbridge data plane's options without a default (network/config.ts).
    hostNamespace: { type: 'boolean' },
    physicalInterfaceMappings: { type: 'object', additionalProperties: { type: 'string' } },
    underlayIp: { type: 'string' },
    underlayIps: { type: 'object', additionalProperties: { type: 'string' } },
    externalUplink: {
      type: 'object',
      additionalProperties: false,
      required: ['physnet', 'cidr'],
      properties: { physnet: { type: 'string' }, cidr: { type: 'string' } },
    },
    cleanupOnStop: { type: 'boolean' },
    metadataProxySharedSecret: { type: 'string' },
    novaMetadataUrl: { type: 'string' },
  });
  const properties: Record<string, Schema> = {
    ...Object.fromEntries(serviceSections.map((s) => [s, { type: 'object' }])),
    ...top.properties,
    port,
    roles: { type: ['string', 'array'], items: { type: 'string' } },
    logLevel: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
    adminPassword: { type: 'string', minLength: 1 },
    bus: { type: 'string' },
    network,
    compute,
    federation: fromDefault(federationOptions({}, {})),
    devstack: {
      type: 'object',
      additionalProperties: false,
      properties: {
        world: { type: 'boolean' },
        reset: { type: 'boolean' },
        faultApi: { type: 'boolean' },
        faults: { type: 'array', items: FAULT_RULE_SCHEMA },
      },
    },
  };
  // Every service section may carry its oslo.policy options (core/policy/options.ts).
  for (const [k, v] of Object.entries(properties)) {
    const sec = v as { type?: unknown; properties?: Record<string, Schema> };
    if (k !== 'devstack' && sec.type === 'object' && sec.properties) sec.properties.policy = SERVICE_POLICY_SCHEMA;
  }
  return { type: 'object', additionalProperties: false, properties };
}

const SERVICE_POLICY_SCHEMA: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: { enforceScope: { type: 'boolean' }, enforceNewDefaults: { type: 'boolean' } },
};

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(
        row[j]! + 1,
        row[j - 1]! + 1,
        prev + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1),
      );
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** Walks the schema along a JSON pointer to the object schema there. */
function schemaAt(schema: Schema, pointer: string): Schema | undefined {
  let s: Schema | undefined = schema;
  for (const part of pointer.split('/').filter(Boolean)) {
    const props = s?.properties as Record<string, Schema> | undefined;
    s = props?.[part] ?? (s?.items as Schema | undefined);
  }
  return s;
}

/**
 * The problems of a configuration object, each naming its key (dotted) and what is wrong; empty
 * when it is valid. `where` says where it came from ("stratus.yaml", "the flags and environment").
 */
export function configProblems(doc: unknown, where: string, serviceSections: string[] = []): string[] {
  const schema = configSchema(serviceSections);
  // Compiling this schema with Ajv costs more than the rest of a start-up's checks (100+ ms):
  // a configuration the walk below finds valid is valid; Ajv (the same answer, with its error
  // messages) runs only for one that is not, or one the walk cannot decide.
  if (plainlyValid(schema, doc)) return [];
  const validate = compileSchema(schema);
  if (validate(doc)) return [];
  const e = validate.errors?.[0];
  if (!e) return [`${where}: invalid configuration`];
  const at = e.instancePath.split('/').filter(Boolean).join('.');
  if (e.keyword === 'additionalProperties') {
    const key = String((e.params as { additionalProperty: string }).additionalProperty);
    const known = Object.keys((schemaAt(schema, e.instancePath)?.properties as object | undefined) ?? {});
    const best = known
      .map((k) => [k, distance(key, k)] as const)
      .sort((a, b) => a[1] - b[1])
      .find(([, dist]) => dist <= Math.max(2, Math.floor(key.length / 3)));
    const full = at ? `${at}.${key}` : key;
    return [`${where}: unknown option '${full}'${best ? ` (did you mean '${at ? `${at}.` : ''}${best[0]}'?)` : ''}`];
  }
  const value = JSON.stringify(e.data);
  return [`${where}: option '${at || '(top level)'}' ${e.message ?? 'is invalid'} (got ${value ?? 'nothing'})`];
}

const KNOWN = new Set([
  'type',
  'properties',
  'additionalProperties',
  'required',
  'items',
  'enum',
  'minimum',
  'maximum',
  'minLength',
  'pattern',
]);

/** Whether `v` is of the JSON schema type `t`, as Ajv decides it. */
function isType(t: unknown, v: unknown): boolean {
  switch (t) {
    case 'object':
      return !!v && typeof v === 'object' && !Array.isArray(v);
    case 'array':
      return Array.isArray(v);
    case 'string':
      return typeof v === 'string';
    case 'boolean':
      return typeof v === 'boolean';
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'null':
      return v === null;
    default:
      return false;
  }
}

/**
 * True only when `v` is valid against `schema` (a subset of JSON schema: the keywords in KNOWN,
 * enums of primitives); false when it is not, or when the schema uses anything else.
 */
export function plainlyValid(schema: unknown, v: unknown): boolean {
  if (schema === true || (schema && typeof schema === 'object' && Object.keys(schema).length === 0)) return true;
  if (!schema || typeof schema !== 'object' || Array.isArray(schema)) return false;
  const s = schema as Record<string, unknown>;
  for (const k of Object.keys(s)) if (!KNOWN.has(k)) return false;
  if (s.type !== undefined && !(Array.isArray(s.type) ? s.type : [s.type]).some((t) => isType(t, v))) return false;
  if (s.enum !== undefined) {
    if (!Array.isArray(s.enum) || s.enum.some((x) => x !== null && typeof x === 'object')) return false;
    if (!s.enum.includes(v)) return false;
  }
  if (typeof v === 'number') {
    if (s.minimum !== undefined && !(typeof s.minimum === 'number' && v >= s.minimum)) return false;
    if (s.maximum !== undefined && !(typeof s.maximum === 'number' && v <= s.maximum)) return false;
  }
  if (typeof v === 'string') {
    if (s.minLength !== undefined && !(typeof s.minLength === 'number' && [...v].length >= s.minLength)) return false;
    if (s.pattern !== undefined && !(typeof s.pattern === 'string' && new RegExp(s.pattern, 'u').test(v))) return false;
  }
  if (Array.isArray(v) && s.items !== undefined && !v.every((x) => plainlyValid(s.items, x))) return false;
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    if (
      s.required !== undefined &&
      !(Array.isArray(s.required) && s.required.every((k) => typeof k === 'string' && o[k] !== undefined))
    )
      return false;
    const props = (s.properties ?? {}) as Record<string, unknown>;
    if (s.properties !== undefined && (typeof s.properties !== 'object' || Array.isArray(s.properties))) return false;
    for (const [k, x] of Object.entries(o)) {
      if (Object.hasOwn(props, k)) {
        if (!plainlyValid(props[k], x)) return false;
      } else if (s.additionalProperties === false) return false;
      else if (s.additionalProperties !== undefined && !plainlyValid(s.additionalProperties, x)) return false;
    }
  }
  return true;
}

/** Checks the merged configuration; throws an Error listing the problem. */
export function assertValidConfig(cfg: StratusConfig, where: string, serviceSections: string[] = []) {
  const problems = configProblems(JSON.parse(JSON.stringify({ ...cfg, roles: cfg.roles })), where, serviceSections);
  if (problems.length) throw new Error(problems.join('\n'));
}
