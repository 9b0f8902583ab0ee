// Schema pieces the compute API's request schemas share (nova.api.validation.parameter_types).

/** The strings Nova's boolean parameter accepts besides true and false (parameter_types.boolean). */
const TRUE_STRINGS = ['True', 'TRUE', 'true', '1', 'ON', 'On', 'on', 'YES', 'Yes', 'yes'];
const FALSE_STRINGS = ['False', 'FALSE', 'false', '0', 'OFF', 'Off', 'off', 'NO', 'No', 'no'];

/** A body that is one object under `key` and nothing else (Nova's {"aggregate": {...}}, {"addHost": {...}}). */
export const envelope = (key: string, inner: Record<string, unknown>) => ({
  type: 'object',
  required: [key],
  additionalProperties: false,
  properties: { [key]: inner },
});

export const BOOLEAN = {
  type: ['boolean', 'string'],
  enum: [true, ...TRUE_STRINGS, false, ...FALSE_STRINGS],
};

/** Whether a value the BOOLEAN schema accepted means true (oslo's bool_from_string, strict). */
export const isTruthy = (v: unknown): boolean => v === true || (typeof v === 'string' && TRUE_STRINGS.includes(v));

/** A metadata dict: keys and values up to 255 characters (parameter_types.metadata). */
const METADATA = {
  type: 'object',
  patternProperties: { '^[a-zA-Z0-9-_:. ]{1,255}$': { type: 'string', maxLength: 255 } },
  additionalProperties: false,
};
/** The body of a metadata PUT/POST: `{"metadata": {...}}` (servers and images alike). */
/** A metadata body as METADATA_SCHEMA lets it through. */
export interface MetadataBody {
  metadata: Record<string, string>;
}
/** A one-item metadata body as META_ITEM_SCHEMA lets it through. */
export interface MetaItemBody {
  meta: Record<string, string>;
}

export const METADATA_SCHEMA = {
  type: 'object',
  properties: { metadata: METADATA },
  required: ['metadata'],
  additionalProperties: false,
};
/** The body of a metadata item PUT: `{"meta": {key: value}}`, exactly one pair. */
export const META_ITEM_SCHEMA = {
  type: 'object',
  properties: { meta: { ...METADATA, minProperties: 1, maxProperties: 1 } },
  required: ['meta'],
  additionalProperties: false,
};
