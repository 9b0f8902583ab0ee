// Neutron's attribute validators (neutron_lib.api.validators and converters), with its messages:
// "Invalid input for <attr>. Reason: <why>." Each returns the converted value or throws a 400.
import { ApiError } from '../../core/errors.ts';
import { pyStr } from '../../core/python.ts';
import { UUID_LIKE } from '../../core/validate.ts';
import { isValidIp, normalizeIp, parseCidr, isValidMac, normalizeMac } from '../../core/netaddr.ts';

export function badInput(attr: string, reason: string): ApiError {
  return new ApiError(400, `Invalid input for ${attr}. Reason: ${reason}.`, 'HTTPBadRequest');
}
/** A 400 raised by the plugin rather than the attribute layer (Neutron's InvalidInput). */
export function invalidInput(message: string): ApiError {
  return new ApiError(400, `Invalid input for operation: ${message}.`, 'InvalidInput');
}

export function toBoolean(v: unknown, attr: string): boolean {
  if (typeof v === 'boolean') return v;
  if (v === 1 || v === 0) return v === 1;
  if (typeof v === 'string') {
    const s = v.toLowerCase();
    if (s === 'true' || s === '1') return true;
    if (s === 'false' || s === '0') return false;
  }
  throw badInput(attr, `'${pyStr(v)}' cannot be converted to boolean`);
}

export function toInt(v: unknown, attr: string, min?: number, max?: number): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isInteger(n)) throw badInput(attr, `'${pyStr(v)}' is not an integer`);
  if (min !== undefined && n < min) throw badInput(attr, `'${n}' should be greater than or equal to ${min}`);
  if (max !== undefined && n > max) throw badInput(attr, `'${n}' should be less than or equal to ${max}`);
  return n;
}

export function toString(v: unknown, attr: string, max = 255): string {
  if (typeof v !== 'string') throw badInput(attr, `'${pyStr(v)}' is not a valid string`);
  if (max && v.length > max) throw badInput(attr, `'${v}' exceeds maximum length of ${max}`);
  return v;
}

export function toStringOrNull(v: unknown, attr: string, max = 255): string | null {
  return v === null ? null : toString(v, attr, max);
}

export function toUuid(v: unknown, attr: string): string {
  if (typeof v !== 'string' || !UUID_LIKE.test(v)) throw badInput(attr, `'${pyStr(v)}' is not a valid UUID`);
  return v;
}

export function toUuidOrNull(v: unknown, attr: string): string | null {
  return v === null ? null : toUuid(v, attr);
}

export function toEnum<T extends string>(v: unknown, attr: string, values: readonly T[]): T {
  if (typeof v !== 'string' || !values.includes(v as T))
    throw badInput(attr, `'${pyStr(v)}' is not in [${values.map((x) => `'${x}'`).join(', ')}]`);
  return v as T;
}

export function toIp(v: unknown, attr: string, version?: 4 | 6): string {
  if (typeof v !== 'string' || !isValidIp(v, version)) throw badInput(attr, `'${pyStr(v)}' is not a valid IP address`);
  return normalizeIp(v)!;
}

export function toCidr(v: unknown, attr: string): string {
  if (typeof v !== 'string' || !parseCidr(v)) throw badInput(attr, `'${pyStr(v)}' is not a valid IP subnet`);
  return v;
}

export function toMac(v: unknown, attr: string): string {
  if (typeof v !== 'string' || !isValidMac(v)) throw badInput(attr, `'${pyStr(v)}' is not a valid MAC address`);
  return normalizeMac(v)!;
}

export function toList(v: unknown, attr: string): unknown[] {
  if (!Array.isArray(v)) throw badInput(attr, `'${pyStr(v)}' is not a list`);
  return v;
}

export function toDict(v: unknown, attr: string): Record<string, unknown> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw badInput(attr, `'${pyStr(v)}' is not a dictionary`);
  return v as Record<string, unknown>;
}

/** A list of unique strings (tags, DNS names, ...). */
export function toUniqueStrings(v: unknown, attr: string, max = 255): string[] {
  const l = toList(v, attr).map((x) => toString(x, attr, max));
  const dup = l.find((x, i) => l.indexOf(x) !== i);
  if (dup !== undefined) throw badInput(attr, `Duplicate items in the list: '${dup}'`);
  return l;
}
