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
    return Array.isArray(r) ? r : seq(r, 'selectMany');
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
  const key = thunk(c, 1, 'keySelector');
  if (list.length === 0) {
    if (c.kw.initial) return c.kw.initial.value();
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
  const out: unknown[] = [];
  for (const t of c.pos) {
    const v = t.value();
    if (Array.isArray(v)) out.push(...v);
    else out.push(v);
  }
  return c.pos.length === 1 && !Array.isArray(arg(c, 0)) ? [arg(c, 0)] : out;
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
  return list.length ? list : [arg(c, 1)];
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
  if (c.pos.length === 1 && Array.isArray(arg(c, 0))) {
    for (const p of arg(c, 0) as unknown[]) {
      if (!Array.isArray(p) || p.length !== 2) throw new YaqlError('dict() items must be pairs');
      out[str(p[0])] = p[1];
    }
    return out;
  }
  if (c.pos.length >= 1 && Array.isArray(arg(c, 0)) && c.pos.length <= 3) {
    const list = arg(c, 0) as unknown[];
    const k = thunk(c, 1, 'keySelector') as Thunk;
    const v = thunk(c, 2, 'valueSelector');
    for (const x of list) out[str(k.call(x))] = v ? v.call(x) : x;
    return out;
  }
  for (const t of c.pos) {
    const n = t.node;
    if (n.t === 'pair') {
      const ctx = t.ctx;
      out[str(new (t.constructor as typeof Thunk)(n.key, ctx).value())] = new (t.constructor as typeof Thunk)(
        n.value,
        ctx,
      ).value();
    } else throw new YaqlError('No function "dict" matches supplied arguments');
  }
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
  const d = { ...dictArg(c, 'set') };
  if (c.pos.length === 2 && isDict(arg(c, 1))) return { ...d, ...(arg(c, 1) as Record<string, unknown>) };
  if (c.pos.length >= 3) {
    d[str(arg(c, 1))] = arg(c, 2);
    return d;
  }
  for (const t of c.pos.slice(1)) {
    if (t.node.t === 'pair') {
      const T = t.constructor as typeof Thunk;
      d[str(new T(t.node.key, t.ctx).value())] = new T(t.node.value, t.ctx).value();
    }
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
  const s = strArg(c, 'split');
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
    const s = String(arg(c, 1));
    const repl = String(arg(c, 2));
    return s.replace(new RegExp(recv.re.source, `${recv.re.flags.replace('g', '')}g`), repl.replace(/\\(\d)/g, '$$$1'));
  }
  if (isDict(recv)) {
    // replace(dict) on a string is handled below; a dict receiver has no replace
    throw new YaqlError('No method "replace" for receiver of type dict matches supplied arguments');
  }
  const s = strArg(c, 'replace');
  const a1 = arg(c, 1, 'old');
  if (isDict(a1)) {
    let out = s;
    for (const [k, v] of Object.entries(a1)) out = out.split(k).join(str(v));
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
B.search = (c) => {
  const a = arg(c, 0);
  const s = String(arg(c, 1));
  const m = toRegex(a).exec(s);
  if (!m) return null;
  const sel = thunk(c, 2, 'selector');
  const groups: Record<string, unknown> = {};
  m.forEach((g, i) => {
    groups[String(i)] = g ?? null;
  });
  const obj = { value: m[0], start: m.index, end: m.index + m[0].length };
  return sel ? sel.call(obj) : m[0];
};
B.searchAll = (c) => {
  const a = arg(c, 0);
  const re = toRegex(a);
  const s = String(arg(c, 1));
  return [...s.matchAll(new RegExp(re.source, `${re.flags.replace('g', '')}g`))].map((m) => m[0]);
};
B.escapeRegex = (c) => String(arg(c, 0)).replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');

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
  return null;
};
B.let = (c) => {
  c.pos.forEach((t, i) => {
    if (t.node.t === 'pair') {
      const T = t.constructor as typeof Thunk;
      c.ctx.vars.set(`$${str(new T(t.node.key, t.ctx).value())}`, new T(t.node.value, t.ctx).value());
    } else c.ctx.vars.set(`$${i + 1}`, t.value());
  });
  for (const [k, t] of Object.entries(c.kw)) c.ctx.vars.set(`$${k}`, t.value());
  return c.ctx.get('$');
};
B.isEmpty = (c) => {
  const v = arg(c, 0);
  if (v === null || v === undefined) return true;
  if (typeof v === 'string' || Array.isArray(v)) return v.length === 0;
  if (isDict(v)) return Object.keys(v).length === 0;
  return false;
};
B.then = (c) => (thunk(c, 1) as Thunk).call(arg(c, 0));

registerBuiltins(B);
export const BUILTINS = B;
