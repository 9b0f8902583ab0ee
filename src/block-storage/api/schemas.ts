// Request body schemas (cinder/api/schemas/*.py): what each body may hold. Unknown keys in a
// resource body are a 400, as Cinder's additionalProperties: False.
const nullableString = (max = 255) => ({ type: ['string', 'null'], maxLength: max });
const uuidish = { type: ['string', 'null'], maxLength: 255 };
/** A volume's or a snapshot's name and description, each also under its v1 `display_` name. */
const nameAndDescription = {
  name: nullableString(),
  display_name: nullableString(),
  description: nullableString(65535),
  display_description: nullableString(65535),
};

export const metadataValue = {
  type: 'object',
  patternProperties: { '^.{1,255}$': { type: 'string', maxLength: 255 } },
  additionalProperties: false,
};

export const metadataSchema = (key: 'metadata' | 'meta') => ({
  type: 'object',
  required: [key],
  properties: { [key]: metadataValue },
});

export const volumeCreateSchema = {
  type: 'object',
  required: ['volume'],
  properties: {
    volume: {
      type: 'object',
      properties: {
        ...nameAndDescription,
        size: { type: ['integer', 'string', 'null'] },
        volume_type: uuidish,
        availability_zone: nullableString(),
        snapshot_id: uuidish,
        source_volid: uuidish,
        imageRef: uuidish,
        image_id: uuidish,
        backup_id: uuidish,
        metadata: { ...metadataValue, type: ['object', 'null'] },
        multiattach: { type: 'boolean' },
        consistencygroup_id: uuidish,
        group_id: uuidish,
        scheduler_hints: { type: ['object', 'null'] },
      },
      // Cinder's create schema lets unknown keys through (clients send some; they are ignored).
      additionalProperties: true,
    },
    'OS-SCH-HNT:scheduler_hints': { type: ['object', 'null'] },
  },
  additionalProperties: false,
};

export const volumeUpdateSchema = {
  type: 'object',
  required: ['volume'],
  properties: {
    volume: {
      type: 'object',
      properties: {
        ...nameAndDescription,
        metadata: metadataValue,
      },
      additionalProperties: false,
    },
  },
  additionalProperties: false,
};

export const snapshotCreateSchema = {
  type: 'object',
  required: ['snapshot'],
  properties: {
    snapshot: {
      type: 'object',
      required: ['volume_id'],
      properties: {
        ...nameAndDescription,
        volume_id: { type: ['string', 'null'], maxLength: 255 },
        force: { type: ['boolean', 'string'] },
        metadata: { ...metadataValue, type: ['object', 'null'] },
      },
      additionalProperties: false,
    },
  },
  additionalProperties: false,
};

export const snapshotUpdateSchema = {
  type: 'object',
  required: ['snapshot'],
  properties: {
    snapshot: {
      type: 'object',
      properties: {
        ...nameAndDescription,
      },
      additionalProperties: false,
    },
  },
  additionalProperties: false,
};

export const typeCreateSchema = {
  type: 'object',
  required: ['volume_type'],
  properties: {
    volume_type: {
      type: 'object',
      required: ['name'],
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 255, pattern: '\\S' },
        description: nullableString(),
        extra_specs: metadataValue,
        'os-volume-type-access:is_public': { type: ['boolean', 'string'] },
      },
      additionalProperties: false,
    },
  },
  additionalProperties: false,
};

export const typeUpdateSchema = {
  type: 'object',
  required: ['volume_type'],
  properties: {
    volume_type: {
      type: 'object',
      properties: {
        name: { type: ['string', 'null'], minLength: 1, maxLength: 255 },
        description: nullableString(),
        is_public: { type: ['boolean', 'string'] },
      },
      additionalProperties: false,
    },
  },
  additionalProperties: false,
};

export const extraSpecsSchema = {
  type: 'object',
  required: ['extra_specs'],
  properties: { extra_specs: metadataValue },
  additionalProperties: false,
};

export const attachmentCreateSchema = {
  type: 'object',
  required: ['attachment'],
  properties: {
    attachment: {
      type: 'object',
      required: ['volume_uuid'],
      properties: {
        volume_uuid: { type: 'string' },
        instance_uuid: { type: ['string', 'null'] },
        connector: { type: ['object', 'null'] },
        mode: { type: 'string', enum: ['rw', 'ro'] },
      },
      additionalProperties: false,
    },
  },
  additionalProperties: false,
};

export const attachmentUpdateSchema = {
  type: 'object',
  required: ['attachment'],
  properties: {
    attachment: {
      type: 'object',
      required: ['connector'],
      properties: { connector: { type: 'object' } },
      additionalProperties: false,
    },
  },
  additionalProperties: false,
};

export const quotaUpdateSchema = {
  type: 'object',
  required: ['quota_set'],
  properties: {
    quota_set: {
      type: 'object',
      patternProperties: { '^[a-zA-Z0-9_.\\-]{1,255}$': { type: ['integer', 'string'] } },
      additionalProperties: false,
    },
  },
  additionalProperties: false,
};

export const quotaClassUpdateSchema = {
  type: 'object',
  required: ['quota_class_set'],
  properties: {
    quota_class_set: {
      type: 'object',
      patternProperties: { '^[a-zA-Z0-9_.\\-]{1,255}$': { type: ['integer', 'string'] } },
      additionalProperties: false,
    },
  },
  additionalProperties: false,
};
