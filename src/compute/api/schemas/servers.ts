// Request schemas of the servers API (nova.api.openstack.compute.schemas.servers), built per
// microversion from one base as upstream does.
import { BOOLEAN } from './parameter_types.ts';

/** trusted_image_certificates (2.63): the ids of the certificates that may sign the image. */
export const TRUSTED_CERTS = {
  type: ['array', 'null'],
  minItems: 1,
  maxItems: 50,
  uniqueItems: true,
  items: { type: 'string', minLength: 1 },
};
export const isTrue = (v: unknown) =>
  v === true || (typeof v === 'string' && ['true', '1', 'on', 'yes'].includes(v.toLowerCase()));
const NAME = { type: 'string', minLength: 1, maxLength: 255 };
const POSITIVE_INT = { type: ['integer', 'string'], pattern: '^[0-9]*$', minimum: 1, minLength: 1 };
const METADATA = {
  type: 'object',
  patternProperties: { '^[a-zA-Z0-9-_:. ]{1,255}$': { type: 'string', maxLength: 255 } },
  additionalProperties: false,
};
const DESCRIPTION = { type: ['string', 'null'], minLength: 0, maxLength: 255 };
const TAG = { type: 'string', maxLength: 60, pattern: '^[^,/]*$' };
const IP = { type: 'string', anyOf: [{ format: 'ipv4' }, { format: 'ipv6' }] };
const HOSTNAME = { type: 'string', minLength: 1, maxLength: 63, pattern: '^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$' };
const BDM_V2 = {
  type: 'object',
  properties: {
    source_type: { type: 'string', enum: ['volume', 'image', 'snapshot', 'blank'] },
    uuid: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[a-zA-Z0-9._-]*$' },
    image_id: { type: 'string', format: 'uuid' },
    destination_type: { type: 'string', enum: ['local', 'volume'] },
    guest_format: { type: 'string', maxLength: 255 },
    device_type: { type: 'string', maxLength: 255 },
    disk_bus: { type: 'string', maxLength: 255 },
    boot_index: { type: ['integer', 'string', 'null'], pattern: '^-?[0-9]+$' },
    volume_size: { type: ['integer', 'string'], pattern: '^[0-9]+$', minimum: 1 },
    delete_on_termination: BOOLEAN,
    device_name: { type: ['string', 'null'], maxLength: 255 },
    no_device: {},
    connection_info: { type: 'string', maxLength: 16777215 },
    tag: TAG,
    volume_type: { type: ['string', 'null'], maxLength: 255 },
  },
  additionalProperties: false,
};

/** A JSON schema of an object whose properties a microversion adds to. */
type ObjectSchema = { properties: Record<string, unknown>; [k: string]: unknown };

/** The create schema of a microversion. */
export function createSchema(v: { gte(x: string): boolean }): object {
  const network: ObjectSchema = {
    type: 'object',
    properties: {
      fixed_ip: IP,
      port: { oneOf: [{ type: 'string', format: 'uuid' }, { type: 'null' }] },
      uuid: { type: 'string' },
    },
    additionalProperties: false,
  };
  if (v.gte('2.32')) network.properties.tag = TAG;
  if (v.gte('2.37')) network.properties.uuid = { type: 'string', format: 'uuid' };
  const server: ObjectSchema = {
    type: 'object',
    properties: {
      name: NAME,
      imageRef: {
        oneOf: [
          { type: 'string', format: 'uuid' },
          { type: 'string', maxLength: 0 },
        ],
      },
      flavorRef: { type: ['string', 'integer'], minLength: 1 },
      adminPass: { type: 'string' },
      metadata: METADATA,
      networks: v.gte('2.37')
        ? {
            oneOf: [
              { type: 'array', items: network },
              { type: 'string', enum: ['none', 'auto'] },
            ],
          }
        : { type: 'array', items: network },
      'OS-DCF:diskConfig': { type: 'string', enum: ['AUTO', 'MANUAL'] },
      accessIPv4: { type: 'string', format: 'ipv4' },
      accessIPv6: { type: 'string', format: 'ipv6' },
      personality: {
        type: 'array',
        items: {
          type: 'object',
          properties: { path: { type: 'string' }, contents: { type: 'string', format: 'base64' } },
          additionalProperties: false,
        },
      },
      availability_zone: NAME,
      block_device_mapping: { type: 'array', items: { type: 'object' } },
      block_device_mapping_v2: { type: 'array', items: BDM_V2 },
      config_drive: BOOLEAN,
      key_name: NAME,
      min_count: POSITIVE_INT,
      max_count: POSITIVE_INT,
      return_reservation_id: BOOLEAN,
      security_groups: {
        type: 'array',
        items: { type: 'object', properties: { name: NAME }, additionalProperties: false },
      },
      user_data: { type: 'string', format: 'base64', maxLength: 65535 },
    },
    required: ['name', 'flavorRef'],
    additionalProperties: false,
  };
  if (v.gte('2.19')) server.properties.description = DESCRIPTION;
  if (v.gte('2.37')) server.required = ['name', 'flavorRef', 'networks'];
  if (v.gte('2.52')) server.properties.tags = { type: 'array', items: TAG, maxItems: 50 };
  if (v.gte('2.57')) delete server.properties.personality;
  if (v.gte('2.63')) server.properties.trusted_image_certificates = TRUSTED_CERTS;
  if (v.gte('2.74')) {
    server.properties.host = NAME;
    server.properties.hypervisor_hostname = NAME;
  }
  if (v.gte('2.90')) server.properties.hostname = HOSTNAME;
  const hints = {
    type: 'object',
    properties: {
      group: { type: 'string', format: 'uuid' },
      different_host: {
        oneOf: [
          { type: 'string', format: 'uuid' },
          { type: 'array', items: { type: 'string', format: 'uuid' } },
        ],
      },
      same_host: {
        oneOf: [
          { type: 'string', format: 'uuid' },
          { type: 'array', items: { type: 'string', format: 'uuid' } },
        ],
      },
    },
    additionalProperties: true,
  };
  return {
    type: 'object',
    properties: { server, 'os:scheduler_hints': hints, 'OS-SCH-HNT:scheduler_hints': hints },
    required: ['server'],
    additionalProperties: false,
  };
}

export function updateSchema(v: { gte(x: string): boolean }): object {
  const server: ObjectSchema = {
    type: 'object',
    properties: {
      name: NAME,
      'OS-DCF:diskConfig': { type: 'string', enum: ['AUTO', 'MANUAL'] },
      accessIPv4: { type: 'string', format: 'ipv4' },
      accessIPv6: { type: 'string', format: 'ipv6' },
    },
    additionalProperties: false,
  };
  if (v.gte('2.19')) server.properties.description = DESCRIPTION;
  if (v.gte('2.90')) server.properties.hostname = HOSTNAME;
  return { type: 'object', properties: { server }, required: ['server'], additionalProperties: false };
}

export const REBOOT_SCHEMA = {
  type: 'object',
  properties: {
    reboot: {
      type: 'object',
      properties: { type: { type: 'string', enum: ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft'] } },
      required: ['type'],
      additionalProperties: false,
    },
  },
  required: ['reboot'],
  additionalProperties: false,
};

export const LOCK_SCHEMA_273 = {
  type: 'object',
  properties: {
    lock: {
      type: ['object', 'null'],
      properties: { locked_reason: { type: 'string', minLength: 1, maxLength: 255 } },
      additionalProperties: false,
    },
  },
  required: ['lock'],
  additionalProperties: false,
};

/** The sort keys Nova accepts on GET /servers (servers schema VALID_SORT_KEYS, the common ones). */
export const SORT_KEYS = [
  'access_ip_v4',
  'access_ip_v6',
  'auto_disk_config',
  'availability_zone',
  'config_drive',
  'created_at',
  'display_description',
  'display_name',
  'host',
  'hostname',
  'image_ref',
  'instance_type_id',
  'kernel_id',
  'key_name',
  'launch_index',
  'launched_at',
  'locked',
  'locked_by',
  'node',
  'power_state',
  'progress',
  'project_id',
  'ramdisk_id',
  'root_device_name',
  'task_state',
  'terminated_at',
  'updated_at',
  'user_id',
  'uuid',
  'vm_state',
];
