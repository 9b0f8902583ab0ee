// Schema pieces the compute API's request schemas share (nova.api.validation.parameter_types).

/** The strings Nova's boolean parameter accepts besides true and false (parameter_types.boolean). */
const TRUE_STRINGS = ['True', 'TRUE', 'true', '1', 'ON', 'On', 'on', 'YES', 'Yes', 'yes'];
const FALSE_STRINGS = ['False', 'FALSE', 'false', '0', 'OFF', 'Off', 'off', 'NO', 'No', 'no'];

export const BOOLEAN = {
  type: ['boolean', 'string'],
  enum: [true, ...TRUE_STRINGS, false, ...FALSE_STRINGS],
};

/** Whether a value the BOOLEAN schema accepted means true (oslo's bool_from_string, strict). */
export const isTruthy = (v: unknown): boolean => v === true || (typeof v === 'string' && TRUE_STRINGS.includes(v));
