// Version documents (GET / answers 300 like Glance's version negotiation), /v2/schemas/*,
// /v2/info/import and /v2/info/stores.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ImageService } from '../service.ts';
import { CONTAINER_FORMATS, DISK_FORMATS, VISIBILITIES } from '../images.ts';

const VERSIONS = [
  '2.16',
  '2.15',
  '2.14',
  '2.13',
  '2.12',
  '2.11',
  '2.10',
  '2.9',
  '2.8',
  '2.7',
  '2.6',
  '2.5',
  '2.4',
  '2.3',
  '2.2',
  '2.1',
  '2.0',
];

function versions(req: FastifyRequest) {
  const href = `${req.baseUrl.replace(/\/$/, '')}/v2/`;
  return {
    versions: VERSIONS.map((v, i) => ({
      id: `v${v}`,
      status: i === 0 ? 'CURRENT' : 'SUPPORTED',
      links: [{ rel: 'self', href }],
    })),
  };
}

const nullable = (type: string, extra: Record<string, unknown> = {}) => ({ type: ['null', type], ...extra });

export function imageSchema() {
  return {
    name: 'image',
    properties: {
      id: {
        type: 'string',
        description: 'An identifier for the image',
        pattern: '^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$',
      },
      name: nullable('string', { description: 'Descriptive name for the image', maxLength: 255 }),
      status: {
        type: 'string',
        readOnly: true,
        description: 'Status of the image',
        enum: [
          'queued',
          'saving',
          'active',
          'killed',
          'deleted',
          'uploading',
          'importing',
          'pending_delete',
          'deactivated',
        ],
      },
      visibility: { type: 'string', description: 'Scope of image accessibility', enum: VISIBILITIES },
      protected: { type: 'boolean', description: 'If true, image will not be deletable.' },
      os_hidden: { type: 'boolean', description: 'If true, image will not appear in default image list response.' },
      checksum: nullable('string', { readOnly: true, description: 'md5 hash of image contents.', maxLength: 32 }),
      os_hash_algo: nullable('string', {
        readOnly: true,
        description: 'Algorithm to calculate the os_hash_value',
        maxLength: 64,
      }),
      os_hash_value: nullable('string', {
        readOnly: true,
        description: 'Hexdigest of the image contents using the algorithm specified by the os_hash_algo',
        maxLength: 128,
      }),
      owner: nullable('string', { description: 'Owner of the image', maxLength: 255 }),
      size: nullable('integer', { readOnly: true, description: 'Size of image file in bytes' }),
      virtual_size: nullable('integer', { readOnly: true, description: 'Virtual size of image in bytes' }),
      container_format: {
        type: ['null', 'string'],
        description: 'Format of the container',
        enum: [null, ...CONTAINER_FORMATS],
      },
      disk_format: { type: ['null', 'string'], description: 'Format of the disk', enum: [null, ...DISK_FORMATS] },
      created_at: { type: 'string', readOnly: true, description: 'Date and time of image registration' },
      updated_at: { type: 'string', readOnly: true, description: 'Date and time of the last image modification' },
      tags: {
        type: 'array',
        description: 'List of strings related to the image',
        items: { type: 'string', maxLength: 255 },
      },
      direct_url: {
        type: 'string',
        readOnly: true,
        description: 'URL to access the image file kept in external store',
      },
      min_ram: {
        type: 'integer',
        description: 'Amount of ram (in MB) required to boot image.',
        minimum: 0,
        maximum: 2147483647,
      },
      min_disk: {
        type: 'integer',
        description: 'Amount of disk space (in GB) required to boot image.',
        minimum: 0,
        maximum: 2147483647,
      },
      self: { type: 'string', readOnly: true, description: 'An image self url' },
      file: { type: 'string', readOnly: true, description: 'An image file url' },
      stores: {
        type: 'string',
        readOnly: true,
        description: 'Store in which image data resides.  Only present when the operator has enabled multiple stores.',
      },
      schema: { type: 'string', readOnly: true, description: 'An image schema url' },
      locations: {
        type: 'array',
        description: 'A set of URLs to access the image file kept in external store',
        items: {
          type: 'object',
          properties: {
            url: { type: 'string', maxLength: 255 },
            metadata: { type: 'object' },
            validation_data: {
              description:
                "Values to be used to populate the corresponding image properties. If the image status is not 'queued', values must exactly match those already contained in the image properties.",
              type: 'object',
              writeOnly: true,
              additionalProperties: false,
              properties: {
                checksum: { type: 'string', minLength: 32, maxLength: 32 },
                os_hash_algo: { type: 'string', maxLength: 64 },
                os_hash_value: { type: 'string', maxLength: 128 },
              },
              required: ['os_hash_algo', 'os_hash_value'],
            },
          },
          required: ['url', 'metadata'],
        },
      },
      kernel_id: nullable('string', {
        pattern: '^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$',
        description: 'ID of image stored in Glance that should be used as the kernel when booting an AMI-style image.',
        is_base: false,
      }),
      ramdisk_id: nullable('string', {
        pattern: '^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$',
        description: 'ID of image stored in Glance that should be used as the ramdisk when booting an AMI-style image.',
        is_base: false,
      }),
      instance_uuid: {
        type: 'string',
        description:
          'Metadata which can be used to record which instance this image is associated with. (Informational only, does not create an instance snapshot.)',
        is_base: false,
      },
      architecture: {
        type: 'string',
        description:
          'Operating system architecture as specified in https://docs.openstack.org/python-glanceclient/latest/cli/property-keys.html',
        is_base: false,
      },
      os_distro: {
        type: 'string',
        description:
          'Common name of operating system distribution as specified in https://docs.openstack.org/python-glanceclient/latest/cli/property-keys.html',
        is_base: false,
      },
      os_version: {
        type: 'string',
        description: 'Operating system version as specified by the distributor.',
        is_base: false,
      },
      description: { type: 'string', description: 'A human-readable string describing this image.', is_base: false },
      cinder_encryption_key_id: {
        type: 'string',
        description:
          'Identifier in the OpenStack Key Management Service for the encryption key for the Block Storage Service to use when mounting a volume created from this image',
        is_base: false,
      },
      cinder_encryption_key_deletion_policy: {
        type: 'string',
        enum: ['on_image_deletion', 'do_not_delete'],
        description:
          "States the condition under which the Image Service will delete the object associated with the 'cinder_encryption_key_id' image property.",
        is_base: false,
      },
    },
    additionalProperties: { type: 'string' },
    links: [
      { rel: 'self', href: '{self}' },
      { rel: 'enclosure', href: '{file}' },
      { rel: 'describedby', href: '{schema}' },
    ],
  };
}

export function memberSchema() {
  return {
    name: 'member',
    properties: {
      member_id: { type: 'string', description: 'An identifier for the image member (tenantId)' },
      image_id: {
        type: 'string',
        description: 'An identifier for the image',
        pattern: '^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$',
      },
      created_at: { type: 'string', description: 'Date and time of image member creation' },
      updated_at: { type: 'string', description: 'Date and time of last modification of image member' },
      status: {
        type: 'string',
        description: 'The status of this image member',
        enum: ['pending', 'accepted', 'rejected'],
      },
      schema: { readOnly: true, type: 'string' },
    },
  };
}

export async function rootVersions(_svc: ImageService, req: FastifyRequest, reply: FastifyReply) {
  return reply.code(300).send(versions(req));
}

// HEAD too: a document any client can size, which the conformance run uses as its http_image.
export async function listVersions(_svc: ImageService, req: FastifyRequest) {
  return versions(req);
}

export async function v2Versions(_svc: ImageService, req: FastifyRequest, reply: FastifyReply) {
  return reply.code(300).send(versions(req));
}

/** A paged collection's schema (glance.schema.CollectionSchema): the items, schema, first and next. */
export function collectionSchema(name: string, item: object) {
  return {
    name,
    properties: {
      [name]: { type: 'array', items: item },
      schema: { type: 'string' },
      first: { type: 'string' },
      next: { type: 'string' },
    },
    links: [
      { rel: 'first', href: '{first}' },
      { rel: 'next', href: '{next}' },
      { rel: 'describedby', href: '{schema}' },
    ],
  };
}

// Schemas need a valid token in Glance, but no policy rule.
export async function showImageSchema(_svc: ImageService, _req: FastifyRequest) {
  return imageSchema();
}

export async function showImagesSchema(_svc: ImageService, _req: FastifyRequest) {
  return collectionSchema('images', imageSchema());
}

export async function showMemberSchema(_svc: ImageService, _req: FastifyRequest) {
  return memberSchema();
}

export async function showMembersSchema(_svc: ImageService, _req: FastifyRequest) {
  return {
    name: 'members',
    properties: { members: { type: 'array', items: memberSchema() }, schema: { type: 'string' } },
    links: [{ rel: 'describedby', href: '{schema}' }],
  };
}

export async function showImportInfo(_svc: ImageService, req: FastifyRequest) {
  req.authorized = true;
  return {
    'import-methods': {
      description: 'Import methods available.',
      type: 'array',
      value: ['glance-direct', 'web-download', 'copy-image', 'glance-download'],
    },
  };
}

export async function listStores(svc: ImageService, req: FastifyRequest) {
  req.authorized = true;
  return {
    stores: [...svc.stores.values()].map((s) => ({
      id: s.id,
      description: s.description,
      ...(s.id === svc.defaultStore ? { default: true } : {}),
    })),
  };
}

export async function listStoresDetail(svc: ImageService, req: FastifyRequest) {
  req.authorize('stores_info_detail');
  return {
    stores: [...svc.stores.values()].map((s) => ({
      id: s.id,
      description: s.description,
      type: s.id,
      properties: {},
      ...(s.id === svc.defaultStore ? { default: true } : {}),
    })),
  };
}

// Glance answers {} here unless it enforces Keystone's unified limits.
export async function showUsage(svc: ImageService, req: FastifyRequest) {
  req.authorized = true;
  const pid = req.ctx?.projectId;
  return { usage: svc.quotas && pid ? await svc.quotas.report(pid) : {} };
}
