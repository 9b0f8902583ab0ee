// Python semantics the template functions need: json.dumps as Python writes it, equality, str().
import { isPlainObject, pyNumberStr, pyStr } from '../../core/python.ts';

export { isPlainObject, pyStr };

function jsonString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (c < 0x20 || (c > 0x7e && c <= 0xffff)) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else if (c > 0xffff) {
      const hi = Math.floor((c - 0x10000) / 0x400) + 0xd800;
      const lo = ((c - 0x10000) % 0x400) + 0xdc00;
      out += `\\u${hi.toString(16)}\\u${lo.toString(16)}`;
    } else out += ch;
  }
  return `${out}"`;
}

/** Python's json.dumps(value[, sort_keys=True]) with its default separators and ensure_ascii. */
export function pyJson(v: unknown, sortKeys = false): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return jsonString(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return 'NaN';
    if (!Number.isFinite(v)) return v > 0 ? 'Infinity' : '-Infinity';
    return pyNumberStr(v);
  }
  if (Array.isArray(v)) return `[${v.map((x) => pyJson(x, sortKeys)).join(', ')}]`;
  if (isPlainObject(v)) {
    const keys = Object.keys(v);
    if (sortKeys) keys.sort();
    return `{${keys.map((k) => `${jsonString(k)}: ${pyJson(v[k], sortKeys)}`).join(', ')}}`;
  }
  return jsonString(String(v));
}

/** Python ==, for JSON values (True == 1, 1 == 1.0, deep for lists and dicts). */
export function pyEq(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  const num = (x: unknown) => (typeof x === 'boolean' ? (x ? 1 : 0) : x);
  if ((typeof a === 'number' || typeof a === 'boolean') && (typeof b === 'number' || typeof b === 'boolean'))
    return num(a) === num(b);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => pyEq(x, b[i]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    return ka.every((k) => Object.hasOwn(b, k) && pyEq(a[k], b[k]));
  }
  return false;
}

/** Python `x in seq` for a list or a str (substring) or a dict (key). */
export function pyIn(x: unknown, seq: unknown): boolean {
  if (typeof seq === 'string') return typeof x === 'string' && seq.includes(x);
  if (Array.isArray(seq)) return seq.some((y) => pyEq(x, y));
  if (isPlainObject(seq)) return typeof x === 'string' && Object.hasOwn(seq, x);
  return false;
}

/** Python type(x).__name__ for error messages. */
export function pyTypeName(v: unknown): string {
  if (v === null || v === undefined) return 'NoneType';
  if (typeof v === 'string') return 'str';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (Array.isArray(v)) return 'list';
  return 'dict';
}

/** Python repr()/str() of a JSON value (dicts and lists as Python prints them). */
export function pyRepr(v: unknown): string {
  if (typeof v === 'string') return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  return pyStr(v);
}

export function isSequence(v: unknown): v is unknown[] {
  return Array.isArray(v);
}

export function deepCopy<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}
