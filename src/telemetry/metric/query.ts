// Gnocchi's resource query language: the JSON form ({"and": [{"=": {"user_id": "x"}}, ...]})
// and the string form of `filter=` / a string `search` ("user_id='x' and host like 'c%'"),
// which parses into the JSON form. Queries are evaluated on resource views.
import { ApiError } from '../../core/errors.ts';
import { parseTimestamp } from './timeutil.ts';

export type Query = { [op: string]: unknown };

const COMPARE: Record<string, string> = {
  '=': 'eq',
  '==': 'eq',
  eq: 'eq',
  '<': 'lt',
  lt: 'lt',
  '>': 'gt',
  gt: 'gt',
  '<=': 'le',
  '≤': 'le',
  le: 'le',
  '>=': 'ge',
  '≥': 'ge',
  ge: 'ge',
  '!=': 'ne',
  '≠': 'ne',
  ne: 'ne',
  in: 'in',
  like: 'like',
  ilike: 'ilike',
};
const LOGIC: Record<string, string> = { and: 'and', '∧': 'and', or: 'or', '∨': 'or', not: 'not', '¬': 'not' };

const bad = (msg: string) => new ApiError(400, `Invalid input: ${msg}`);

/** Checks the shape of a JSON query (400 when it is not one) and returns it. */
export function validateQuery(q: unknown, known?: (attr: string) => boolean): Query {
  if (!q || typeof q !== 'object' || Array.isArray(q)) throw bad('a query must be a dictionary');
  const keys = Object.keys(q);
  if (keys.length !== 1) throw bad('a query must have exactly one operator');
  const op = keys[0]!.toLowerCase();
  const arg = (q as Query)[keys[0]!];
  if (LOGIC[op] === 'not') validateQuery(arg, known);
  else if (LOGIC[op]) {
    if (!Array.isArray(arg) || !arg.length) throw bad(`${op} takes a list of queries`);
    for (const a of arg) validateQuery(a, known);
  } else if (COMPARE[op]) {
    if (!arg || typeof arg !== 'object' || Array.isArray(arg) || Object.keys(arg).length !== 1)
      throw bad(`${op} takes one attribute and a value`);
    const [attr, value] = Object.entries(arg)[0]!;
    if (known && !known(attr)) throw bad(`unknown attribute ${attr}`);
    if (COMPARE[op] === 'in' && !Array.isArray(value)) throw bad(`in takes a list of values for ${attr}`);
  } else throw bad(`unknown operator ${keys[0]}`);
  return q as Query;
}

const TIME_FIELDS = new Set(['started_at', 'ended_at', 'revision_start', 'revision_end']);

function cmp(a: unknown, b: unknown, attr: string): number | undefined {
  if (a === null || a === undefined || b === null || b === undefined) return undefined;
  if (TIME_FIELDS.has(attr)) {
    const x = parseTimestamp(a);
    const y = parseTimestamp(b);
    if (x === undefined || y === undefined) return undefined;
    return x - y;
  }
  if (typeof a === 'number' || typeof b === 'number') {
    const x = Number(a);
    const y = Number(b);
    if (Number.isNaN(x) || Number.isNaN(y)) return undefined;
    return x - y;
  }
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function likeRegex(pattern: string, flags: string): RegExp {
  const body = pattern
    .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    .replace(/%/g, '.*')
    .replace(/_/g, '.');
  return new RegExp(`^${body}$`, flags);
}

/** Evaluates a (validated) query on a flat view of a resource. `mapValue` converts a value for an attribute (ids). */
export function matches(
  q: Query,
  row: Record<string, unknown>,
  mapValue?: (attr: string, v: unknown) => unknown,
): boolean {
  const [key, arg] = Object.entries(q)[0]!;
  const op = key.toLowerCase();
  const logic = LOGIC[op];
  if (logic === 'and') return (arg as Query[]).every((x) => matches(x, row, mapValue));
  if (logic === 'or') return (arg as Query[]).some((x) => matches(x, row, mapValue));
  if (logic === 'not') return !matches(arg as Query, row, mapValue);
  const [attr, raw] = Object.entries(arg as Record<string, unknown>)[0]!;
  const value = mapValue ? mapValue(attr, raw) : raw;
  const have = row[attr];
  switch (COMPARE[op]) {
    case 'eq':
      if (value === null) return have === null || have === undefined;
      return cmp(have, value, attr) === 0;
    case 'ne':
      if (value === null) return have !== null && have !== undefined;
      return cmp(have, value, attr) !== 0;
    case 'lt':
      return (cmp(have, value, attr) ?? 0) < 0 && cmp(have, value, attr) !== undefined;
    case 'le':
      return cmp(have, value, attr) !== undefined && cmp(have, value, attr)! <= 0;
    case 'gt':
      return cmp(have, value, attr) !== undefined && cmp(have, value, attr)! > 0;
    case 'ge':
      return cmp(have, value, attr) !== undefined && cmp(have, value, attr)! >= 0;
    case 'in':
      return (value as unknown[]).some((v) => cmp(have, mapValue ? mapValue(attr, v) : v, attr) === 0);
    case 'like':
      return typeof have === 'string' && likeRegex(String(value), '').test(have);
    case 'ilike':
      return typeof have === 'string' && likeRegex(String(value), 'i').test(have);
    default:
      return false;
  }
}

/** The attributes a query names. */
export function queryAttributes(q: Query, out = new Set<string>()): Set<string> {
  const [key, arg] = Object.entries(q)[0]!;
  const logic = LOGIC[key.toLowerCase()];
  if (logic === 'not') queryAttributes(arg as Query, out);
  else if (logic) for (const x of arg as Query[]) queryAttributes(x, out);
  else out.add(Object.keys(arg as object)[0]!);
  return out;
}

// ---- the string form -----------------------------------------------------------------

type Tok = { kind: 'op' | 'word' | 'str' | 'punct'; text: string };

function tokenize(s: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if ('()[],'.includes(c)) {
      out.push({ kind: 'punct', text: c });
      i++;
      continue;
    }
    if (c === "'" || c === '"') {
      let j = i + 1;
      let text = '';
      while (j < s.length && s[j] !== c) {
        if (s[j] === '\\' && j + 1 < s.length) j++;
        text += s[j++];
      }
      if (j >= s.length) throw bad(`unterminated string in filter ${s}`);
      out.push({ kind: 'str', text });
      i = j + 1;
      continue;
    }
    const op = /^(==|!=|<=|>=|=|<|>|≠|≤|≥|∧|∨|¬)/.exec(s.slice(i));
    if (op) {
      out.push({ kind: 'op', text: op[1]! });
      i += op[1]!.length;
      continue;
    }
    const w = /^[^\s()[\],'"=<>!≠≤≥∧∨¬]+/.exec(s.slice(i));
    if (!w) throw bad(`unexpected character ${c} in filter ${s}`);
    out.push({ kind: 'word', text: w[0] });
    i += w[0].length;
  }
  return out;
}

/** Parses Gnocchi's string filter into the JSON query form. */
export function parseFilter(s: string): Query {
  const toks = tokenize(s);
  let p = 0;
  const peek = () => toks[p];
  const isWord = (t: Tok | undefined, w: string) =>
    !!t && (t.kind === 'word' || t.kind === 'op') && (LOGIC[t.text.toLowerCase()] ?? '') === w;
  const value = (): unknown => {
    const t = toks[p++];
    if (!t) throw bad(`missing value in filter ${s}`);
    if (t.kind === 'str') return t.text;
    if (t.kind === 'punct' && (t.text === '[' || t.text === '(')) {
      const close = t.text === '[' ? ']' : ')';
      const list: unknown[] = [];
      while (peek() && peek()!.text !== close) {
        list.push(value());
        if (peek()?.text === ',') p++;
      }
      if (!peek()) throw bad(`unterminated list in filter ${s}`);
      p++;
      return list;
    }
    if (t.kind !== 'word') throw bad(`unexpected ${t.text} in filter ${s}`);
    const w = t.text;
    if (w.toLowerCase() === 'null' || w.toLowerCase() === 'none') return null;
    if (w.toLowerCase() === 'true') return true;
    if (w.toLowerCase() === 'false') return false;
    if (/^[+-]?\d+(\.\d+)?$/.test(w)) return Number(w);
    return w;
  };
  const term = (): Query => {
    const t = peek();
    if (!t) throw bad(`incomplete filter ${s}`);
    if (isWord(t, 'not')) {
      p++;
      return { not: term() };
    }
    if (t.kind === 'punct' && t.text === '(') {
      p++;
      const e = orExpr();
      if (peek()?.text !== ')') throw bad(`missing ) in filter ${s}`);
      p++;
      return e;
    }
    if (t.kind !== 'word') throw bad(`unexpected ${t.text} in filter ${s}`);
    const attr = t.text;
    p++;
    const opTok = toks[p++];
    const op = opTok ? COMPARE[opTok.text.toLowerCase()] : undefined;
    if (!op) throw bad(`missing operator after ${attr} in filter ${s}`);
    return { [op]: { [attr]: value() } };
  };
  const andExpr = (): Query => {
    const parts = [term()];
    while (isWord(peek(), 'and')) {
      p++;
      parts.push(term());
    }
    return parts.length === 1 ? parts[0]! : { and: parts };
  };
  const orExpr = (): Query => {
    const parts = [andExpr()];
    while (isWord(peek(), 'or')) {
      p++;
      parts.push(andExpr());
    }
    return parts.length === 1 ? parts[0]! : { or: parts };
  };
  const q = orExpr();
  if (p < toks.length) throw bad(`unexpected ${toks[p]!.text} in filter ${s}`);
  return q;
}
