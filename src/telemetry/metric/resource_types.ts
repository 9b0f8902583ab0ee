// Resource types: the attribute schemas (string, uuid, number, bool, datetime) and the types
// Ceilometer creates at install (its gnocchi_resources.yaml), present from the first start.
import { ApiError } from '../../core/errors.ts';
import { parseTimestamp } from './timeutil.ts';

export interface AttributeSchema {
  type: 'string' | 'uuid' | 'number' | 'bool' | 'datetime';
  required: boolean;
  min_length?: number;
  max_length?: number;
  min?: number | null;
  max?: number | null;
}

export type Attributes = Record<string, AttributeSchema>;

/** The fields every resource has (the `generic` type). */
export const GENERIC_FIELDS = [
  'id',
  'type',
  'original_resource_id',
  'project_id',
  'user_id',
  'creator',
  'created_by_user_id',
  'created_by_project_id',
  'started_at',
  'ended_at',
  'revision_start',
  'revision_end',
];

const bad = (msg: string) => new ApiError(400, `Invalid input: ${msg}`);

/** Validates one attribute definition of a resource type (POST /v1/resource_type, PATCH add). */
export function attributeSchema(name: string, def: unknown): AttributeSchema & { fill?: unknown } {
  if (!/^[a-zA-Z0-9_-]+$/.test(name) || name.length > 63) throw bad(`invalid attribute name ${name}`);
  if (GENERIC_FIELDS.includes(name) || name === 'metrics') throw bad(`${name} is a reserved attribute name`);
  if (!def || typeof def !== 'object' || Array.isArray(def)) throw bad(`attribute ${name} must be a dictionary`);
  const d = def as Record<string, unknown>;
  const allowed = new Set(['type', 'required', 'options']);
  const type = d.type;
  if (type === 'string') allowed.add('min_length').add('max_length');
  else if (type === 'number') allowed.add('min').add('max');
  else if (type !== 'uuid' && type !== 'bool' && type !== 'datetime')
    throw bad(`Unknown attribute type ${String(type)} for attribute ${name}`);
  for (const k of Object.keys(d)) if (!allowed.has(k)) throw bad(`extra keys not allowed @ data['${name}']['${k}']`);
  const required = d.required === undefined ? true : d.required;
  if (typeof required !== 'boolean') throw bad(`required must be a boolean for attribute ${name}`);
  const out: AttributeSchema & { fill?: unknown } = { type, required };
  if (type === 'string') {
    const min = d.min_length ?? 0;
    const max = d.max_length ?? 255;
    if (!Number.isInteger(min) || !Number.isInteger(max) || (min as number) < 0 || (max as number) < (min as number))
      throw bad(`invalid min_length/max_length for attribute ${name}`);
    out.min_length = min as number;
    out.max_length = max as number;
  }
  if (type === 'number') {
    const min = d.min ?? null;
    const max = d.max ?? null;
    if ((min !== null && typeof min !== 'number') || (max !== null && typeof max !== 'number'))
      throw bad(`invalid min/max for attribute ${name}`);
    out.min = min as number | null;
    out.max = max as number | null;
  }
  const options = d.options as Record<string, unknown> | undefined;
  if (options !== undefined) {
    if (!options || typeof options !== 'object') throw bad(`options must be a dictionary for attribute ${name}`);
    if ('fill' in options) out.fill = checkValue(name, out, options.fill);
  }
  return out;
}

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** Validates a value of an attribute (null allowed when not required). */
export function checkValue(name: string, s: AttributeSchema, v: unknown): unknown {
  if (v === null) {
    if (s.required) throw bad(`None is not allowed for required attribute @ data['${name}']`);
    return null;
  }
  switch (s.type) {
    case 'string':
      if (typeof v !== 'string') throw bad(`expected str for dictionary value @ data['${name}']`);
      if (v.length < (s.min_length ?? 0) || v.length > (s.max_length ?? 255))
        throw bad(
          `length of value must be at most ${s.max_length} and at least ${s.min_length} for dictionary value @ data['${name}']`,
        );
      return v;
    case 'uuid':
      if (typeof v !== 'string' || !UUID.test(v)) throw bad(`not a valid value for dictionary value @ data['${name}']`);
      return v.toLowerCase();
    case 'number':
      if (typeof v !== 'number') throw bad(`expected float for dictionary value @ data['${name}']`);
      if ((s.min !== null && s.min !== undefined && v < s.min) || (s.max !== null && s.max !== undefined && v > s.max))
        throw bad(`value must be between ${s.min} and ${s.max} for dictionary value @ data['${name}']`);
      return v;
    case 'bool':
      if (typeof v !== 'boolean') throw bad(`expected bool for dictionary value @ data['${name}']`);
      return v;
    case 'datetime':
      if (parseTimestamp(v) === undefined) throw bad(`not a valid datetime for dictionary value @ data['${name}']`);
      return v;
  }
}

const str = (required: boolean, max = 255): AttributeSchema => ({
  type: 'string',
  required,
  min_length: 0,
  max_length: max,
});
const uuid = (required: boolean): AttributeSchema => ({ type: 'uuid', required });

/** The resource types Ceilometer installs (its gnocchi_resources.yaml, Zed), besides `generic`. */
export const STANDARD_RESOURCE_TYPES: Record<string, Attributes> = {
  instance: {
    flavor_id: str(true),
    image_ref: str(false),
    host: str(true),
    display_name: str(true),
    server_group: str(false),
    flavor_name: str(false),
  },
  instance_disk: { name: str(true), instance_id: uuid(true) },
  instance_network_interface: { name: str(true), instance_id: uuid(true) },
  image: { name: str(true), container_format: str(true), disk_format: str(true) },
  volume: { display_name: str(false), volume_type: str(false), image_id: uuid(false), instance_id: uuid(false) },
  volume_provider: {},
  volume_provider_pool: { provider: str(true) },
  network: {},
  stack: {},
  swift_account: {},
  identity: {},
  ceph_account: {},
  host: { host_name: str(true) },
  host_disk: { host_name: str(true), device_name: str(false) },
  host_network_interface: { host_name: str(true), device_name: str(false) },
  ipmi: {},
  ipmi_sensor: { node: str(true) },
  nova_compute: { host_name: str(true) },
  manila_share: {
    name: str(false),
    host: str(true),
    protocol: str(true),
    availability_zone: str(true),
    status: str(true),
  },
};
