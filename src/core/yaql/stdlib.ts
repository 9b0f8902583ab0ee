// The YAQL standard library that Heat and Mistral templates use (yaql/standard_library: queries,
// collections, strings, regex, arithmetic, boolean, common, system).
import { YaqlError } from './errors.ts';
import {
  type Builtin,
  type Call,
  type Thunk,
  YaqlRegex,
  compare,
  eq,
  isDict,
  pyRegex,
  registerBuiltins,
  truthy,
  typeName,
} from './evaluator.ts';

function arg(c: Call, i: number, name?: string): unknown {
  if (name && Object.hasOwn(c.kw, name)) return c.kw[name].value();
  const t = c.pos[i];
  return t ? t.value() : undefined;
}
function thunk(c: Call, i: number, name?: string): Thunk | undefined {
  if (name && Object.hasOwn(c.kw, name)) return c.kw[name];
  return c.pos[i];
}
function need(c: Call, n: number): void {
  if (c.pos.length < n) {
    throw new YaqlError(
      c.method
        ? `No method "${c.name}" for receiver matches supplied arguments`
        : `No function "${c.name}" matches supplied arguments`,
    );
  }
}
function seq(v: unknown, fn: string): unknown[] {
  if (Array.isArray(v)) return v;
  if (typeof v === 'string') return [...v];
  if (isDict(v)) return Object.keys(v);
  throw new YaqlError(`No method "${fn}" for receiver of type ${typeName(v)} matches supplied arguments`);
}
function collection(c: Call, fn: string): unknown[] {
  need(c, 1);
  return seq(arg(c, 0), fn);
}
function numArg(v: unknown, fn: string): number {
  if (typeof v !== 'number') throw new YaqlError(`No function "${fn}" matches supplied arguments`);
  return v;
}
function str(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (v === true) return 'true';
  if (v === false) return 'false';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : pyFloat(v);
  if (v instanceof YaqlRegex) return v.source;
  return JSON.stringify(v);
}
/** A dict key as Python's str() of it. */
function keyStr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  return str(v);
}
function pyFloat(n: number): string {
  const s = String(n);
  return /[.e]/.test(s) || !Number.isFinite(n) ? s : `${s}.0`;
}
function distinct(list: unknown[], key?: (x: unknown) => unknown): unknown[] {
  const out: unknown[] = [];
  const keys: unknown[] = [];
  for (const x of list) {
    const k = key ? key(x) : x;
    if (!keys.some((y) => eq(y, k))) {
      keys.push(k);
      out.push(x);
    }
  }
  return out;
}
function pyFormat(fmt: string, pos: unknown[], kw: Record<string, unknown>): string {
  let auto = 0;
  return fmt.replace(/\{\{|\}\}|\{([^{}]*)\}/g, (m, field: string | undefined) => {
    if (m === '{{') return '{';
    if (m === '}}') return '}';
    const [name, spec] = (field ?? '').split(':', 2);
    let v: unknown;
    if (name === '') v = pos[auto++];
    else if (/^\d+$/.test(name)) v = pos[Number(name)];
    else v = kw[name];
    const s = typeof v === 'boolean' ? (v ? 'True' : 'False') : v === null || v === undefined ? 'None' : str(v);
    if (spec && /^\.\d+f$/.test(spec) && typeof v === 'number') return v.toFixed(Number(spec.slice(1, -1)));
    return s;
  });
}

function toRegex(v: unknown): RegExp {
  return v instanceof YaqlRegex ? v.re : pyRegex(String(v));
}

function sortBy(list: unknown[], keys: Array<{ f: (x: unknown) => unknown; desc: boolean }>): unknown[] {
  return [...list].sort((a, b) => {
    for (const k of keys) {
      const r = compare(k.f(a), k.f(b));
      if (r !== 0) return k.desc ? -r : r;
    }
    return 0;
  });
}

const B: Record<string, Builtin> = {};

// ---- queries and collections
B.where = (c) => {
  const list = collection(c, 'where');
  const p = thunk(c, 1, 'predicate');
  if (!p) return list;
  return list.filter((x) => truthy(p.call(x)));
};
B.filter = B.where;
B.select = (c) => {
  const list = collection(c, 'select');
  const s = thunk(c, 1, 'selector');
  if (!s) return list;
  return list.map((x) => s.call(x));
};
B.map = B.select;
B.selectMany = (c) => {
  const list = collection(c, 'selectMany');
  const s = thunk(c, 1, 'selector');
  return list.flatMap((x) => {
    const r = s ? s.call(x) : x;
    return Array.isArray(r) ? r : isDict(r) ? Object.keys(r) : [r];
  });
};
B.len = (c) => {
  need(c, 1);
  const v = arg(c, 0);
  if (typeof v === 'string' || Array.isArray(v)) return v.length;
  if (isDict(v)) return Object.keys(v).length;
  throw new YaqlError(`No function "len" matches supplied arguments`);
};
B.count = (c) => {
  const list = collection(c, 'count');
  const p = thunk(c, 1, 'predicate');
  return p ? list.filter((x) => truthy(p.call(x))).length : list.length;
};
B.sum = (c) => {
  const list = collection(c, 'sum');
  const init = c.pos.length > 1 ? arg(c, 1) : 0;
  let acc: unknown = init;
  for (const x of list) {
    if (typeof acc === 'number' && typeof x === 'number') acc = acc + x;
    else if (typeof acc === 'string' && typeof x === 'string') acc = acc + x;
    else if (Array.isArray(acc) && Array.isArray(x)) acc = [...acc, ...x];
    else throw new YaqlError(`unsupported operand type(s) for +: '${typeName(acc)}' and '${typeName(x)}'`);
  }
  return acc;
};
function extreme(c: Call, sign: 1 | -1, fn: string): unknown {
  need(c, 1);
  const first = arg(c, 0);
  if (!Array.isArray(first) || (c.pos.length === 2 && !Array.isArray(first))) {
    // max(a, b)
    const b = arg(c, 1);
    if (b === undefined) throw new YaqlError(`No function "${fn}" matches supplied arguments`);
    return compare(first, b) * sign >= 0 ? first : b;
  }
  const list = first;
  const key = c.pos.length > 1 && list.length === 0 ? undefined : thunk(c, 1, 'keySelector');
  if (list.length === 0) {
    if (c.kw.initial) return c.kw.initial.value();
    if (c.pos.length > 1) return arg(c, 1);
    throw new YaqlError(`${fn}() arg is an empty sequence`);
  }
  let best = list[0];
  let bestK = key ? key.call(best) : best;
  for (const x of list.slice(1)) {
    const k = key ? key.call(x) : x;
    if (compare(k, bestK) * sign > 0) {
      best = x;
      bestK = k;
    }
  }
  return best;
}
B.max = (c) => extreme(c, 1, 'max');
B.min = (c) => extreme(c, -1, 'min');
B.distinct = (c) => {
  const list = collection(c, 'distinct');
  const k = thunk(c, 1, 'keySelector');
  return distinct(list, k ? (x) => k.call(x) : undefined);
};
B.toSet = (c) => distinct(collection(c, 'toSet'));
B.toList = (c) => {
  if (c.pos.length === 1) {
    const v = arg(c, 0);
    return Array.isArray(v) ? [...v] : seq(v, 'toList');
  }
  return c.pos.map((t) => t.value());
};
B.list = (c) => {
  if (c.method && c.pos.length === 1 && Array.isArray(arg(c, 0))) return [...(arg(c, 0) as unknown[])];
  return c.pos.map((t) => t.value());
};
B.first = (c) => {
  const list = collection(c, 'first');
  if (list.length) return list[0];
  if (c.pos.length > 1 || c.kw.default) return arg(c, 1, 'default');
  throw new YaqlError('StopIteration');
};
B.last = (c) => {
  const list = collection(c, 'last');
  if (list.length) return list[list.length - 1];
  if (c.pos.length > 1 || c.kw.default) return arg(c, 1, 'default');
  throw new YaqlError('StopIteration');
};
B.single = (c) => {
  const list = collection(c, 'single');
  if (list.length !== 1) throw new YaqlError('Collection does not contain exactly one element');
  return list[0];
};
B.any = (c) => {
  const list = collection(c, 'any');
  const p = thunk(c, 1, 'predicate');
  return p ? list.some((x) => truthy(p.call(x))) : list.some((x) => truthy(x)) || (list.length > 0 && !p && true);
};
B.all = (c) => {
  const list = collection(c, 'all');
  const p = thunk(c, 1, 'predicate');
  return list.every((x) => truthy(p ? p.call(x) : x));
};
B.isEmpty = (c) => collection(c, 'isEmpty').length === 0;
B.orderBy = (c) => {
  const list = collection(c, 'orderBy');
  const s = thunk(c, 1, 'selector');
  return sortBy(list, [{ f: (x) => (s ? s.call(x) : x), desc: false }]);
};
B.orderByDescending = (c) => {
  const list = collection(c, 'orderByDescending');
  const s = thunk(c, 1, 'selector');
  return sortBy(list, [{ f: (x) => (s ? s.call(x) : x), desc: true }]);
};
B.sort = (c) => sortBy(collection(c, 'sort'), [{ f: (x) => x, desc: false }]);
B.groupBy = (c) => {
  const list = collection(c, 'groupBy');
  const k = thunk(c, 1, 'keySelector');
  const v = thunk(c, 2, 'valueSelector');
  const agg = thunk(c, 3, 'aggregator');
  const groups: Array<[unknown, unknown[]]> = [];
  for (const x of list) {
    const key = k ? k.call(x) : x;
    const val = v ? v.call(x) : x;
    const g = groups.find(([gk]) => eq(gk, key));
    if (g) g[1].push(val);
    else groups.push([key, [val]]);
  }
  return groups.map(([key, vals]) => (agg ? agg.call([key, vals]) : [key, vals]));
};
B.skip = (c) => collection(c, 'skip').slice(numArg(arg(c, 1, 'count'), 'skip'));
B.take = (c) => collection(c, 'take').slice(0, numArg(arg(c, 1, 'count'), 'take'));
B.limit = B.take;
B.skipWhile = (c) => {
  const list = collection(c, 'skipWhile');
  const p = thunk(c, 1, 'predicate') as Thunk;
  let i = 0;
  while (i < list.length && truthy(p.call(list[i]))) i++;
  return list.slice(i);
};
B.takeWhile = (c) => {
  const list = collection(c, 'takeWhile');
  const p = thunk(c, 1, 'predicate') as Thunk;
  const out: unknown[] = [];
  for (const x of list) {
    if (!truthy(p.call(x))) break;
    out.push(x);
  }
  return out;
};
B.concat = (c) => {
  const vals = c.pos.map((t) => t.value());
  if (vals.every((v) => typeof v === 'string')) return vals.join('');
  return vals.flatMap((v) => seq(v, 'concat'));
};
B.append = (c) => [...collection(c, 'append'), ...c.pos.slice(1).map((t) => t.value())];
B.flatten = (c) => {
  const flat = (l: unknown[]): unknown[] => l.flatMap((x) => (Array.isArray(x) ? flat(x) : [x]));
  return flat(collection(c, 'flatten'));
};
B.reverse = (c) => [...collection(c, 'reverse')].reverse();
B.contains = (c) => {
  const v = arg(c, 0);
  const x = arg(c, 1);
  if (typeof v === 'string') return typeof x === 'string' && v.includes(x);
  if (isDict(v)) return Object.values(v).some((y) => eq(y, x)) || (typeof x === 'string' && Object.hasOwn(v, x));
  return seq(v, 'contains').some((y) => eq(y, x));
};
B.containsKey = (c) => {
  const d = arg(c, 0);
  return isDict(d) && Object.hasOwn(d, String(arg(c, 1)));
};
B.containsValue = (c) => {
  const d = arg(c, 0);
  return isDict(d) && Object.values(d).some((y) => eq(y, arg(c, 1)));
};
B.indexOf = (c) => {
  const v = arg(c, 0);
  const x = arg(c, 1);
  if (typeof v === 'string') return v.indexOf(String(x));
  return seq(v, 'indexOf').findIndex((y) => eq(y, x));
};
B.lastIndexOf = (c) => {
  const v = arg(c, 0);
  const x = arg(c, 1);
  if (typeof v === 'string') return v.lastIndexOf(String(x));
  const l = seq(v, 'lastIndexOf');
  for (let i = l.length - 1; i >= 0; i--) if (eq(l[i], x)) return i;
  return -1;
};
B.range = (c) => {
  const a = c.pos.map((t) => numArg(t.value(), 'range'));
  const [start, stop, step] = a.length === 1 ? [0, a[0], 1] : [a[0], a[1], a[2] ?? 1];
  if (step === 0) throw new YaqlError('range() arg 3 must not be zero');
  const out: number[] = [];
  for (let i = start; step > 0 ? i < stop : i > stop; i += step) {
    out.push(i);
    if (out.length > 100000) throw new YaqlError('Collection is too large');
  }
  return out;
};
B.sequence = (c) => {
  const start = (arg(c, 0, 'start') as number) ?? 0;
  const step = (arg(c, 1, 'step') as number) ?? 1;
  return Array.from({ length: 1000 }, (_, i) => start + i * step);
};
B.zip = (c) => {
  const lists = c.pos.map((t) => seq(t.value(), 'zip'));
  const n = Math.min(...lists.map((l) => l.length));
  return Array.from({ length: n }, (_, i) => lists.map((l) => l[i]));
};
B.enumerate = (c) => {
  const start = (arg(c, 1, 'start') as number) ?? 0;
  return collection(c, 'enumerate').map((x, i) => [i + start, x]);
};
B.aggregate = (c) => {
  const list = collection(c, 'aggregate');
  const f = thunk(c, 1, 'selector') as Thunk;
  const hasInit = c.pos.length > 2 || Object.hasOwn(c.kw, 'seed');
  let acc = hasInit ? arg(c, 2, 'seed') : list[0];
  for (const x of hasInit ? list : list.slice(1)) acc = f.call(acc, x);
  return acc;
};
B.reduce = B.aggregate;
B.defaultIfEmpty = (c) => {
  const list = collection(c, 'defaultIfEmpty');
  if (list.length) return list;
  const d = arg(c, 1);
  return Array.isArray(d) ? d : [d];
};
B.repeat = (c) => {
  const v = arg(c, 0);
  const n = (arg(c, 1, 'times') as number) ?? -1;
  if (n < 0) throw new YaqlError('Collection is too large');
  return Array.from({ length: n }, () => v);
};
B.memorize = (c) => arg(c, 0);
B.intersect = (c) => {
  const a = collection(c, 'intersect');
  const b = seq(arg(c, 1), 'intersect');
  return distinct(a.filter((x) => b.some((y) => eq(x, y))));
};
B.union = (c) => distinct([...collection(c, 'union'), ...seq(arg(c, 1), 'union')]);
B.difference = (c) => {
  const b = seq(arg(c, 1), 'difference');
  return collection(c, 'difference').filter((x) => !b.some((y) => eq(x, y)));
};
B.symmetricDifference = (c) => {
  const a = collection(c, 'symmetricDifference');
  const b = seq(arg(c, 1), 'symmetricDifference');
  return [...a.filter((x) => !b.some((y) => eq(x, y))), ...b.filter((x) => !a.some((y) => eq(x, y)))];
};

// ---- dictionaries
B.dict = (c) => {
  const out: Record<string, unknown> = {};
  const pairs = c.pos.map((t) => t.pair());
  if (c.pos.length > 0 && pairs.every((p) => p !== null)) {
    for (const p of pairs as Array<[unknown, unknown]>) out[keyStr(p[0])] = p[1];
  } else if (c.pos.length === 1) {
    for (const p of seq(arg(c, 0), 'dict')) {
      if (!Array.isArray(p) || p.length !== 2) throw new YaqlError('dict() items must be pairs');
      out[keyStr(p[0])] = p[1];
    }
  } else if (c.pos.length >= 2 && c.pos.length <= 3) {
    const list = seq(arg(c, 0), 'dict');
    const k = thunk(c, 1, 'keySelector') as Thunk;
    const v = thunk(c, 2, 'valueSelector');
    for (const x of list) out[keyStr(k.call(x))] = v ? v.call(x) : x;
  } else if (c.pos.length > 0) throw new YaqlError('No function "dict" matches supplied arguments');
  for (const [k, t] of Object.entries(c.kw)) out[k] = t.value();
  return out;
};
B.toDict = (c) => {
  const list = collection(c, 'toDict');
  const k = thunk(c, 1, 'keySelector') as Thunk;
  const v = thunk(c, 2, 'valueSelector');
  const out: Record<string, unknown> = {};
  for (const x of list) out[str(k.call(x))] = v ? v.call(x) : x;
  return out;
};
function dictArg(c: Call, fn: string): Record<string, unknown> {
  need(c, 1);
  const d = arg(c, 0);
  if (!isDict(d))
    throw new YaqlError(`No method "${fn}" for receiver of type ${typeName(d)} matches supplied arguments`);
  return d;
}
B.keys = (c) => Object.keys(dictArg(c, 'keys'));
B.values = (c) => Object.values(dictArg(c, 'values'));
B.items = (c) => Object.entries(dictArg(c, 'items'));
B.get = (c) => {
  const d = dictArg(c, 'get');
  const k = str(arg(c, 1, 'key'));
  if (Object.hasOwn(d, k) && d[k] !== null) return d[k];
  return c.pos.length > 2 || c.kw.default ? arg(c, 2, 'default') : null;
};
B.set = (c) => {
  const recv = arg(c, 0);
  if (!(c.method && isDict(recv))) return distinct(c.pos.map((t) => t.value()));
  const d = { ...recv };
  if (c.pos.length === 2 && isDict(arg(c, 1))) return { ...d, ...(arg(c, 1) as Record<string, unknown>) };
  if (c.pos.length === 3 && c.pos.every((t) => t.pair() === null)) {
    d[keyStr(arg(c, 1))] = arg(c, 2);
    return d;
  }
  for (const t of c.pos.slice(1)) {
    const p = t.pair();
    if (p) d[keyStr(p[0])] = p[1];
  }
  for (const [k, t] of Object.entries(c.kw)) d[k] = t.value();
  return d;
};
B.delete = (c) => {
  const d = { ...dictArg(c, 'delete') };
  for (const t of c.pos.slice(1)) delete d[str(t.value())];
  return d;
};
B.deleteAll = (c) => {
  const d = { ...dictArg(c, 'deleteAll') };
  for (const k of seq(arg(c, 1), 'deleteAll')) delete d[str(k)];
  return d;
};
B.mergeWith = (c) => {
  const merge = (a: unknown, b: unknown): unknown => {
    if (isDict(a) && isDict(b)) {
      const out: Record<string, unknown> = { ...a };
      for (const [k, v] of Object.entries(b)) out[k] = Object.hasOwn(a, k) ? merge(a[k], v) : v;
      return out;
    }
    if (Array.isArray(a) && Array.isArray(b)) return distinct([...a, ...b]);
    return b;
  };
  return merge(dictArg(c, 'mergeWith'), arg(c, 1));
};

// ---- strings
function strArg(c: Call, fn: string): string {
  need(c, 1);
  const s = arg(c, 0);
  if (typeof s !== 'string')
    throw new YaqlError(`No method "${fn}" for receiver of type ${typeName(s)} matches supplied arguments`);
  return s;
}
B.split = (c) => {
  const r0 = arg(c, 0);
  if (r0 instanceof YaqlRegex) return regexSplit(r0.re, String(arg(c, 1)), (arg(c, 2, 'maxSplit') as number) ?? 0);
  const s = strArg(c, 'split');
  const r1 = arg(c, 1, 'separator');
  if (r1 instanceof YaqlRegex) return regexSplit(r1.re, s, (arg(c, 2, 'maxSplit') as number) ?? 0);
  const sep = arg(c, 1, 'separator') as string | null | undefined;
  const max = (arg(c, 2, 'maxSplits') as number | undefined) ?? -1;
  if (sep === null || sep === undefined) {
    const parts = s
      .trim()
      .split(/\s+/)
      .filter((x) => x !== '');
    if (max >= 0 && parts.length > max + 1) return [...parts.slice(0, max), parts.slice(max).join(' ')];
    return parts;
  }
  const parts = s.split(sep);
  if (max >= 0 && parts.length > max + 1) return [...parts.slice(0, max), parts.slice(max).join(sep)];
  return parts;
};
B.rightSplit = (c) => {
  const s = strArg(c, 'rightSplit');
  const sep = (arg(c, 1, 'separator') as string) ?? ' ';
  const max = (arg(c, 2, 'maxSplits') as number | undefined) ?? -1;
  const parts = s.split(sep);
  if (max >= 0 && parts.length > max + 1)
    return [parts.slice(0, parts.length - max).join(sep), ...parts.slice(parts.length - max)];
  return parts;
};
B.replace = (c) => {
  const recv = arg(c, 0);
  if (recv instanceof YaqlRegex) {
    return regexReplace(recv.re, String(arg(c, 1)), String(arg(c, 2)), (arg(c, 3, 'count') as number | undefined) ?? 0);
  }
  if (isDict(recv)) {
    // replace(dict) on a string is handled below; a dict receiver has no replace
    throw new YaqlError('No method "replace" for receiver of type dict matches supplied arguments');
  }
  if (Array.isArray(recv)) return listReplace(c, recv, false);
  const s = strArg(c, 'replace');
  const a1 = arg(c, 1, 'old');
  if (a1 instanceof YaqlRegex) {
    const count = (arg(c, 3, 'count') as number | undefined) ?? 0;
    return regexReplace(a1.re, s, String(arg(c, 2)), count);
  }
  if (isDict(a1)) {
    const count = (arg(c, 2, 'count') as number | undefined) ?? -1;
    // one pass, longest keys first (yaql replace_with_dict)
    const keys = Object.keys(a1).sort((x, y) => y.length - x.length);
    let out = '';
    let i = 0;
    const done = new Map<string, number>();
    while (i < s.length) {
      const k = keys.find((kk) => kk !== '' && s.startsWith(kk, i) && (count < 0 || (done.get(kk) ?? 0) < count));
      if (k === undefined) {
        out += s[i++];
        continue;
      }
      done.set(k, (done.get(k) ?? 0) + 1);
      out += str(a1[k]);
      i += k.length;
    }
    return out;
  }
  const old = String(a1);
  const nw = str(arg(c, 2, 'new'));
  const count = (arg(c, 3, 'count') as number | undefined) ?? -1;
  if (count < 0) return s.split(old).join(nw);
  let out = s;
  let from = 0;
  for (let i = 0; i < count; i++) {
    const at = out.indexOf(old, from);
    if (at < 0) break;
    out = out.slice(0, at) + nw + out.slice(at + old.length);
    from = at + nw.length;
  }
  return out;
};
B.format = (c) => {
  const fmt = strArg(c, 'format');
  const kw: Record<string, unknown> = {};
  for (const [k, t] of Object.entries(c.kw)) kw[k] = t.value();
  return pyFormat(
    fmt,
    c.pos.slice(1).map((t) => t.value()),
    kw,
  );
};
B.toUpper = (c) => strArg(c, 'toUpper').toUpperCase();
B.toLower = (c) => strArg(c, 'toLower').toLowerCase();
function trimChars(s: string, chars: string | undefined, left: boolean, right: boolean): string {
  const set = chars === undefined || chars === null ? null : new Set([...chars]);
  const isTrim = (ch: string) => (set ? set.has(ch) : /\s/.test(ch));
  let a = 0;
  let b = s.length;
  if (left) while (a < b && isTrim(s[a])) a++;
  if (right) while (b > a && isTrim(s[b - 1])) b--;
  return s.slice(a, b);
}
B.trim = (c) => trimChars(strArg(c, 'trim'), arg(c, 1, 'chars') as string | undefined, true, true);
B.trimLeft = (c) => trimChars(strArg(c, 'trimLeft'), arg(c, 1, 'chars') as string | undefined, true, false);
B.trimRight = (c) => trimChars(strArg(c, 'trimRight'), arg(c, 1, 'chars') as string | undefined, false, true);
B.startsWith = (c) => {
  const s = strArg(c, 'startsWith');
  return c.pos.slice(1).some((t) => s.startsWith(String(t.value())));
};
B.endsWith = (c) => {
  const s = strArg(c, 'endsWith');
  return c.pos.slice(1).some((t) => s.endsWith(String(t.value())));
};
B.substring = (c) => {
  const s = strArg(c, 'substring');
  let start = (arg(c, 1, 'start') as number) ?? 0;
  const length = (arg(c, 2, 'length') as number | undefined) ?? -1;
  if (start < 0) start += s.length;
  return length < 0 ? s.slice(start) : s.slice(start, start + length);
};
B.characters = (c) => [...strArg(c, 'characters')];
B.toCharArray = B.characters;
B.join = (c) => {
  const a = arg(c, 0);
  const b = arg(c, 1);
  if (Array.isArray(a) && typeof b === 'string') return a.map(str).join(b);
  if (typeof a === 'string' && Array.isArray(b)) return b.map(str).join(a);
  throw new YaqlError('No function "join" matches supplied arguments');
};
B.str = (c) => str(arg(c, 0));
B.isString = (c) => typeof arg(c, 0) === 'string';
B.isList = (c) => Array.isArray(arg(c, 0));
B.isDict = (c) => isDict(arg(c, 0));
B.isInteger = (c) => {
  const v = arg(c, 0);
  return typeof v === 'number' && Number.isInteger(v);
};
B.isNumber = (c) => typeof arg(c, 0) === 'number';
B.isBoolean = (c) => typeof arg(c, 0) === 'boolean';
B.isRegex = (c) => arg(c, 0) instanceof YaqlRegex;

// ---- regex
B.regex = (c) => {
  const p = String(arg(c, 0));
  let flags = '';
  if (truthy(c.kw.ignoreCase?.value())) flags += 'i';
  if (truthy(c.kw.multiLine?.value())) flags += 'm';
  if (truthy(c.kw.dotAll?.value())) flags += 's';
  return new YaqlRegex(p, pyRegex(p, flags));
};
B.matches = (c) => {
  const a = arg(c, 0);
  const b = arg(c, 1);
  if (a instanceof YaqlRegex) return a.re.test(String(b));
  return toRegex(b).test(String(a));
};
function groupObjects(m: RegExpExecArray): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  let from = m.index;
  m.forEach((g, i) => {
    if (g === undefined) {
      out.push({ value: null, start: -1, end: -1 });
      return;
    }
    const start = i === 0 ? m.index : m.input.indexOf(g, from);
    if (i > 0 && start >= 0) from = start;
    out.push({ value: g, start, end: start + g.length });
  });
  return out;
}
function globalRe(re: RegExp): RegExp {
  return new RegExp(re.source, `${re.flags.replace('g', '')}g`);
}
function regexReplace(re: RegExp, s: string, repl: string, count: number): string {
  let n = 0;
  const js = repl.replace(/\\(\d)/g, '$$$1').replace(/\\g<(\w+)>/g, '$$<$1>');
  return s.replace(globalRe(re), (...args) => {
    if (count > 0 && n >= count) return args[0] as string;
    n++;
    return (args[0] as string).replace(new RegExp(re.source, re.flags.replace('g', '')), js);
  });
}
B.search = (c) => {
  const re = toRegex(arg(c, 0));
  const m = re.exec(String(arg(c, 1)));
  if (!m) return null;
  const sel = thunk(c, 2, 'selector');
  return sel ? sel.call(...groupObjects(m)) : m[0];
};
B.searchAll = (c) => {
  const re = toRegex(arg(c, 0));
  const sel = thunk(c, 2, 'selector');
  return [...String(arg(c, 1)).matchAll(globalRe(re))].map((m) =>
    sel ? sel.call(...groupObjects(m as RegExpExecArray)) : m[0],
  );
};
B.replaceBy = (c) => {
  const a = arg(c, 0);
  const [re, s] = a instanceof YaqlRegex ? [a.re, String(arg(c, 1))] : [toRegex(arg(c, 1)), String(a)];
  const sel = thunk(c, 2, 'selector') as Thunk;
  const count = (arg(c, 3, 'count') as number | undefined) ?? 0;
  let n = 0;
  return s.replace(globalRe(re), (...args) => {
    if (count > 0 && n >= count) return args[0] as string;
    n++;
    const m = re.exec(args[0] as string) as RegExpExecArray;
    const groups = groupObjects(m).map((g) => ({
      ...g,
      start: (g.start as number) + (args[args.length - 2] as number),
    }));
    return str(sel.call(...groups));
  });
};
B.escapeRegex = (c) => String(arg(c, 0)).replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');

function regexSplit(re: RegExp, s: string, max: number): string[] {
  const out: string[] = [];
  let last = 0;
  let n = 0;
  for (const m of s.matchAll(globalRe(re))) {
    if (max > 0 && n >= max) break;
    if (m[0] === '') continue;
    out.push(s.slice(last, m.index));
    out.push(...(m.slice(1).filter((g) => g !== undefined) as string[]));
    last = (m.index as number) + m[0].length;
    n++;
  }
  out.push(s.slice(last));
  return out;
}

// ---- conversions, arithmetic, logic, misc
B.int = (c) => {
  const v = arg(c, 0);
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') return Math.trunc(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string' && /^\s*[-+]?\d+\s*$/.test(v)) return Number(v);
  throw new YaqlError(`invalid literal for int() with base 10: '${str(v)}'`);
};
B.float = (c) => {
  const v = arg(c, 0);
  if (v === null || v === undefined) return 0;
  const n = typeof v === 'boolean' ? Number(v) : Number(v);
  if (Number.isNaN(n)) throw new YaqlError(`could not convert string to float: '${str(v)}'`);
  return n;
};
B.bool = (c) => truthy(arg(c, 0));
B.abs = (c) => Math.abs(numArg(arg(c, 0), 'abs'));
B.round = (c) => {
  const v = numArg(arg(c, 0), 'round');
  const d = (arg(c, 1) as number | undefined) ?? 0;
  const f = 10 ** d;
  return Math.round(v * f) / f;
};
B.pow = (c) => numArg(arg(c, 0), 'pow') ** numArg(arg(c, 1), 'pow');
B.sign = (c) => Math.sign(numArg(arg(c, 0), 'sign'));
B.coalesce = (c) => {
  for (const t of c.pos) {
    const v = t.value();
    if (v !== null && v !== undefined) return v;
  }
  return null;
};
B.switch = (c) => {
  for (const t of c.pos) {
    if (t.node.t !== 'pair') throw new YaqlError('No function "switch" matches supplied arguments');
    const T = t.constructor as typeof Thunk;
    if (truthy(new T(t.node.key, t.ctx).value())) return new T(t.node.value, t.ctx).value();
  }
  for (const [k, t] of Object.entries(c.kw)) {
    if (truthy(k)) return t.value();
  }
  return null;
};
B.selectCase = (c) => {
  const i = c.pos.findIndex((t) => truthy(t.value()));
  return i < 0 ? c.pos.length : i;
};
B.selectAllCases = (c) => c.pos.map((t, i) => (truthy(t.value()) ? i : -1)).filter((i) => i >= 0);
B.switchCase = (c) => {
  const i = numArg(arg(c, 0), 'switchCase');
  const cases = c.pos.slice(1);
  if (cases.length === 0) return null;
  return (i >= 0 && i < cases.length ? cases[i] : cases[cases.length - 1]).value();
};
B.examine = (c) => c.pos.map((t) => truthy(t.value()));
B.let = (c) => {
  c.pos.forEach((t, i) => {
    const p = t.pair();
    if (p) c.ctx.vars.set(`$${str(p[0])}`, p[1]);
    else c.ctx.vars.set(`$${i + 1}`, t.value());
  });
  for (const [k, t] of Object.entries(c.kw)) c.ctx.vars.set(`$${k}`, t.value());
  return c.ctx.get('$');
};
B.isEmpty = (c) => {
  const v = arg(c, 0);
  if (v === null || v === undefined) return true;
  if (typeof v === 'string') return v.trim().length === 0;
  if (Array.isArray(v)) return v.length === 0;
  if (isDict(v)) return Object.keys(v).length === 0;
  return false;
};
B.norm = (c) => {
  const v = arg(c, 0);
  if (v === null || v === undefined) return null;
  const s = String(v).trim();
  return s === '' ? null : s;
};
B.then = (c) => (thunk(c, 1) as Thunk).call(arg(c, 0));

function listReplace(c: Call, list: unknown[], many: boolean): unknown[] {
  const pos = numArg(arg(c, 1, 'position'), 'replace');
  const value = arg(c, 2, many ? 'values' : 'value');
  const count = (arg(c, 3, 'count') as number | undefined) ?? 1;
  const end = count < 0 ? list.length : pos + count;
  const ins = many ? seq(value, 'replaceMany') : [value];
  return [...list.slice(0, pos), ...ins, ...list.slice(end)];
}
B.replaceMany = (c) => listReplace(c, collection(c, 'replaceMany'), true);
const prevDelete = B.delete;
B.delete = (c) => {
  const recv = arg(c, 0);
  if (!Array.isArray(recv)) return prevDelete(c);
  const pos = numArg(arg(c, 1, 'position'), 'delete');
  const count = (arg(c, 2, 'count') as number | undefined) ?? 1;
  if (count < 0) return recv.slice(0, pos);
  return [...recv.slice(0, pos), ...recv.slice(pos + count)];
};
function insertAt(list: unknown[], pos: number, items: unknown[]): unknown[] {
  const p = pos < 0 ? list.length : Math.min(pos, list.length);
  return [...list.slice(0, p), ...items, ...list.slice(p)];
}
B.insert = (c) => {
  const l = collection(c, 'insert');
  const pos = numArg(arg(c, 1), 'insert');
  return insertAt(l, pos < 0 ? Math.max(0, l.length + pos) : pos, [arg(c, 2)]);
};
B.insertMany = (c) =>
  insertAt(collection(c, 'insertMany'), numArg(arg(c, 1), 'insertMany'), seq(arg(c, 2), 'insertMany'));
B.add = (c) => distinct([...collection(c, 'add'), ...c.pos.slice(1).map((t) => t.value())]);
B.remove = (c) => {
  const rm = c.pos.slice(1).map((t) => t.value());
  return collection(c, 'remove').filter((x) => !rm.some((y) => eq(x, y)));
};
B.indexWhere = (c) => {
  const p = thunk(c, 1, 'predicate') as Thunk;
  return collection(c, 'indexWhere').findIndex((x) => truthy(p.call(x)));
};
B.lastIndexWhere = (c) => {
  const p = thunk(c, 1, 'predicate') as Thunk;
  const l = collection(c, 'lastIndexWhere');
  for (let i = l.length - 1; i >= 0; i--) if (truthy(p.call(l[i]))) return i;
  return -1;
};
B.slice = (c) => {
  const l = collection(c, 'slice');
  const n = numArg(arg(c, 1, 'length'), 'slice');
  const out: unknown[][] = [];
  for (let i = 0; i < l.length; i += n) out.push(l.slice(i, i + n));
  return out;
};
B.splitAt = (c) => {
  const l = collection(c, 'splitAt');
  const n = numArg(arg(c, 1, 'index'), 'splitAt');
  return [l.slice(0, n), l.slice(n)];
};
B.splitWhere = (c) => {
  const l = collection(c, 'splitWhere');
  const p = thunk(c, 1, 'predicate') as Thunk;
  const out: unknown[][] = [[]];
  for (const x of l) {
    if (truthy(p.call(x))) out.push([]);
    else out[out.length - 1].push(x);
  }
  return out;
};
B.sliceWhere = (c) => {
  const l = collection(c, 'sliceWhere');
  const p = thunk(c, 1, 'predicate') as Thunk;
  const out: unknown[][] = [];
  let prev: boolean | undefined;
  for (const x of l) {
    const k = truthy(p.call(x));
    if (prev === undefined || k !== prev) out.push([]);
    out[out.length - 1].push(x);
    prev = k;
  }
  return out;
};
B.accumulate = (c) => {
  const l = collection(c, 'accumulate');
  const f = thunk(c, 1, 'selector') as Thunk;
  const hasSeed = c.pos.length > 2 || Object.hasOwn(c.kw, 'seed');
  if (!hasSeed && l.length === 0) return [];
  let acc = hasSeed ? arg(c, 2, 'seed') : l[0];
  const out = [acc];
  for (const x of hasSeed ? l : l.slice(1)) {
    acc = f.call(acc, x);
    out.push(acc);
  }
  return out;
};
const LIMIT = 1000;
B.generate = (c) => {
  let x = arg(c, 0, 'initial');
  const pred = thunk(c, 1, 'predicate') as Thunk;
  const prod = thunk(c, 2, 'producer') as Thunk;
  const sel = thunk(c, 3, 'selector');
  const out: unknown[] = [];
  while (truthy(pred.call(x))) {
    out.push(sel ? sel.call(x) : x);
    if (out.length > LIMIT) throw new YaqlError('Collection is too large');
    x = prod.call(x);
  }
  return out;
};
B.cycle = (c) => {
  const l = collection(c, 'cycle');
  if (!l.length) return [];
  return Array.from({ length: LIMIT }, (_, i) => l[i % l.length]);
};
B.zipLongest = (c) => {
  const lists = c.pos.map((t) => seq(t.value(), 'zipLongest'));
  const d = c.kw.default ? c.kw.default.value() : null;
  const n = Math.max(...lists.map((l) => l.length));
  return Array.from({ length: n }, (_, i) => lists.map((l) => (i < l.length ? l[i] : d)));
};
B.isIterable = (c) => Array.isArray(arg(c, 0));
B.with = (c) => {
  c.pos.forEach((t, i) => {
    c.ctx.vars.set(`$${i + 1}`, t.value());
  });
  if (c.pos.length) c.ctx.vars.set('$', c.pos[0].value());
  return c.pos.length ? c.pos[0].value() : c.ctx.get('$');
};
B.bitwiseOr = (c) => numArg(arg(c, 0), 'bitwiseOr') | numArg(arg(c, 1), 'bitwiseOr');
B.bitwiseAnd = (c) => numArg(arg(c, 0), 'bitwiseAnd') & numArg(arg(c, 1), 'bitwiseAnd');
B.bitwiseXor = (c) => numArg(arg(c, 0), 'bitwiseXor') ^ numArg(arg(c, 1), 'bitwiseXor');
B.bitwiseNot = (c) => ~numArg(arg(c, 0), 'bitwiseNot');
B.shiftBitsLeft = (c) => numArg(arg(c, 0), 'shiftBitsLeft') * 2 ** numArg(arg(c, 1), 'shiftBitsLeft');
B.shiftBitsRight = (c) => Math.floor(numArg(arg(c, 0), 'shiftBitsRight') / 2 ** numArg(arg(c, 1), 'shiftBitsRight'));
B.hex = (c) => {
  const n = numArg(arg(c, 0), 'hex');
  return n < 0 ? `-0x${(-n).toString(16)}` : `0x${n.toString(16)}`;
};
B.random = (c) => {
  if (c.pos.length === 2) {
    const a = numArg(arg(c, 0), 'random');
    const b = numArg(arg(c, 1), 'random');
    return a + Math.floor(Math.random() * (b - a + 1));
  }
  return Math.random();
};
// orderBy(...).thenBy(...): the sort keys ride along on the result.
const ORDER = Symbol('yaql.order');
type Ordered = unknown[] & {
  [ORDER]?: { base: unknown[]; keys: Array<{ f: (x: unknown) => unknown; desc: boolean }> };
};
function ordered(c: Call, desc: boolean, then: boolean): unknown[] {
  const recv = arg(c, 0) as Ordered;
  const s = thunk(c, 1, 'selector');
  const key = { f: (x: unknown) => (s ? s.call(x) : x), desc };
  const prev = then && recv[ORDER] ? recv[ORDER] : { base: seq(recv, 'orderBy'), keys: [] };
  const keys = [...prev.keys, key];
  const out = sortBy(prev.base, keys) as Ordered;
  Object.defineProperty(out, ORDER, { value: { base: prev.base, keys }, enumerable: false });
  return out;
}
B.orderBy = (c) => ordered(c, false, false);
B.orderByDescending = (c) => ordered(c, true, false);
B.thenBy = (c) => ordered(c, false, true);
B.thenByDescending = (c) => ordered(c, true, true);
const stringJoin = B.join;
B.join = (c) => {
  if (c.pos.length >= 3) {
    const a = collection(c, 'join');
    const b = seq(arg(c, 1), 'join');
    const pred = thunk(c, 2, 'predicate') as Thunk;
    const sel = thunk(c, 3, 'selector');
    const out: unknown[] = [];
    for (const x of a) for (const y of b) if (truthy(pred.call(x, y))) out.push(sel ? sel.call(x, y) : [x, y]);
    return out;
  }
  return stringJoin(c);
};
B.pow = (c) => {
  const a = numArg(arg(c, 0), 'pow');
  const b = numArg(arg(c, 1), 'pow');
  if (c.pos.length > 2) {
    const m = numArg(arg(c, 2), 'pow');
    let r = 1;
    for (let i = 0; i < b; i++) r = (r * a) % m;
    return r;
  }
  return a ** b;
};
const origRepeat = B.repeat;
B.repeat = (c) => (c.pos.length < 2 && !c.kw.times ? Array.from({ length: LIMIT }, () => arg(c, 0)) : origRepeat(c));

registerBuiltins(B);
export const BUILTINS = B;
