// YAQL evaluation: contexts with `$` and variables, lazy arguments (lambdas for where/select/...),
// the operators, and the standard library (stdlib.ts).
import { pyRegex as pythonRegex } from '../python.ts';
import { YaqlError } from './errors.ts';
import type { Node } from './parser.ts';

export class Ctx {
  readonly vars = new Map<string, unknown>();
  constructor(readonly parent: Ctx | null) {}
  get(name: string): unknown {
    for (let c: Ctx | null = this; c; c = c.parent) if (c.vars.has(name)) return c.vars.get(name);
    return null;
  }
  child(): Ctx {
    return new Ctx(this);
  }
}

/** An unevaluated argument: evaluated as a value, or called as a lambda with `$` bound. */
export class Thunk {
  constructor(
    readonly node: Node,
    readonly ctx: Ctx,
    private readonly cached?: { v: unknown },
  ) {}
  value(): unknown {
    if (this.cached) return this.cached.v;
    if (this.node.t === 'pair') return [evalNode(this.node.key, this.ctx), evalNode(this.node.value, this.ctx)];
    return evalNode(this.node, this.ctx);
  }
  /** For `key => value` arguments: the evaluated key and value, else null. */
  pair(): [unknown, unknown] | null {
    if (this.node.t !== 'pair') return null;
    return [evalNode(this.node.key, this.ctx), evalNode(this.node.value, this.ctx)];
  }
  call(...args: unknown[]): unknown {
    const c = this.ctx.child();
    if (args.length > 0) c.vars.set('$', args[0]);
    args.forEach((a, i) => c.vars.set(`$${i + 1}`, a));
    return evalNode(this.node, c);
  }
  static of(v: unknown, ctx: Ctx): Thunk {
    return new Thunk({ t: 'lit', v }, ctx, { v });
  }
}

export interface Call {
  name: string;
  pos: Thunk[];
  kw: Record<string, Thunk>;
  ctx: Ctx;
  /** true when called as a method (the receiver is pos[0]). */
  method: boolean;
}

export type Builtin = (c: Call) => unknown;

export class YaqlRegex {
  constructor(
    readonly source: string,
    readonly re: RegExp,
  ) {}
}

export function isDict(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof YaqlRegex);
}

export function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (isDict(v)) return Object.keys(v).length > 0;
  return Boolean(v);
}

export function eq(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if ((typeof a === 'number' || typeof a === 'boolean') && (typeof b === 'number' || typeof b === 'boolean')) {
    return Number(a) === Number(b);
  }
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => eq(x, b[i]));
  if (isDict(a) && isDict(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && eq(a[k], b[k]));
  }
  return false;
}

export function typeName(v: unknown): string {
  if (v === null || v === undefined) return 'NoneType';
  if (Array.isArray(v)) return 'list';
  if (v instanceof YaqlRegex) return 'regex';
  if (typeof v === 'object') return 'dict';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  return typeof v === 'string' ? 'str' : 'bool';
}

/** Python-style ordering for orderBy, max, min, <, >. */
export function compare(a: unknown, b: unknown): number {
  if ((typeof a === 'number' || typeof a === 'boolean') && (typeof b === 'number' || typeof b === 'boolean')) {
    return Number(a) - Number(b);
  }
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const c = compare(a[i], b[i]);
      if (c !== 0) return c;
    }
    return a.length - b.length;
  }
  if (a === null || a === undefined) return b === null || b === undefined ? 0 : -1;
  if (b === null || b === undefined) return 1;
  throw new YaqlError(`'<' not supported between instances of '${typeName(a)}' and '${typeName(b)}'`);
}

let builtins: Record<string, Builtin> = {};
export function registerBuiltins(b: Record<string, Builtin>): void {
  builtins = b;
}

/** A function a caller adds (Mistral's task(), env(), …): evaluated arguments, keyword arguments. */
export type ExtraFunction = (args: unknown[], kwargs: Record<string, unknown>) => unknown;

function callFn(name: string, c: Call): unknown {
  const ext = c.ctx.get(`#fn:${name}`);
  if (typeof ext === 'function') {
    const kw: Record<string, unknown> = {};
    for (const [k, t] of Object.entries(c.kw)) kw[k] = t.value();
    return (ext as ExtraFunction)(
      c.pos.map((t) => t.value()),
      kw,
    );
  }
  const f = Object.hasOwn(builtins, name) ? builtins[name] : undefined;
  if (!f) {
    if (c.method) {
      throw new YaqlError(`No method "${name}" for receiver ${describe(c.pos[0]?.value())} matches supplied arguments`);
    }
    throw new YaqlError(`Unknown function "${name}"`);
  }
  return f(c);
}

function describe(v: unknown): string {
  try {
    return JSON.stringify(v) ?? 'null';
  } catch {
    return String(v);
  }
}

function num(v: unknown, op: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  throw new YaqlError(`No operator "${op}" for operand of type ${typeName(v)}`);
}

function binary(op: string, l: unknown, r: unknown): unknown {
  switch (op) {
    case '=':
      return eq(l, r);
    case '!=':
      return !eq(l, r);
    case '<':
      return compare(l, r) < 0;
    case '>':
      return compare(l, r) > 0;
    case '<=':
      return compare(l, r) <= 0;
    case '>=':
      return compare(l, r) >= 0;
    case 'in':
      if (typeof r === 'string') return typeof l === 'string' && r.includes(l);
      if (Array.isArray(r)) return r.some((x) => eq(x, l));
      if (isDict(r)) return typeof l === 'string' && Object.hasOwn(r, l);
      throw new YaqlError(`No operator "in" for ${typeName(r)}`);
    case '+':
      if (typeof l === 'string' && typeof r === 'string') return l + r;
      if (Array.isArray(l) && Array.isArray(r)) return [...l, ...r];
      if (isDict(l) && isDict(r)) return { ...l, ...r };
      return num(l, op) + num(r, op);
    case '-':
      return num(l, op) - num(r, op);
    case '*':
      if (typeof l === 'string' && typeof r === 'number') return l.repeat(Math.max(0, r));
      if (typeof r === 'string' && typeof l === 'number') return r.repeat(Math.max(0, l));
      if (Array.isArray(l) && typeof r === 'number') return Array.from({ length: Math.max(0, r) }, () => l).flat();
      if (Array.isArray(r) && typeof l === 'number') return Array.from({ length: Math.max(0, l) }, () => r).flat();
      return num(l, op) * num(r, op);
    case '/': {
      const a = num(l, op);
      const b = num(r, op);
      if (b === 0) throw new YaqlError('division by zero');
      if (Number.isInteger(a) && Number.isInteger(b) && typeof l === 'number' && typeof r === 'number') {
        return Math.floor(a / b);
      }
      return a / b;
    }
    case 'mod': {
      const a = num(l, op);
      const b = num(r, op);
      if (b === 0) throw new YaqlError('integer division or modulo by zero');
      return ((a % b) + b) % b;
    }
    case '=~':
    case '!~': {
      if (typeof l !== 'string') throw new YaqlError(`No operator "${op}" for ${typeName(l)}`);
      const re = r instanceof YaqlRegex ? r.re : pyRegex(String(r));
      const found = re.test(l);
      return op === '=~' ? found : !found;
    }
  }
  throw new YaqlError(`Unknown operator "${op}"`);
}

/** Python re syntax → JS RegExp; a pattern JS cannot compile is a YaqlError. */
export function pyRegex(pattern: string, flags = ''): RegExp {
  try {
    return pythonRegex(pattern, flags);
  } catch (e) {
    throw new YaqlError((e as Error).message);
  }
}

function attribute(recv: unknown, name: string): unknown {
  if (isDict(recv)) return Object.hasOwn(recv, name) ? recv[name] : null;
  if (Array.isArray(recv)) return recv.map((x) => attribute(x, name));
  throw new YaqlError(`No attribute "${name}" for receiver of type ${typeName(recv)}`);
}

function index(recv: unknown, i: unknown): unknown {
  if (Array.isArray(recv) || typeof recv === 'string') {
    if (typeof i !== 'number' || !Number.isInteger(i)) {
      throw new YaqlError(`list indices must be integers or slices, not ${typeName(i)}`);
    }
    const idx = i < 0 ? recv.length + i : i;
    if (idx < 0 || idx >= recv.length) throw new YaqlError('list index out of range');
    return recv[idx];
  }
  if (isDict(recv)) {
    const k = typeof i === 'string' ? i : String(i);
    if (!Object.hasOwn(recv, k)) throw new YaqlError(`KeyError: '${k}'`);
    return recv[k];
  }
  throw new YaqlError(`'${typeName(recv)}' object is not subscriptable`);
}

export function evalNode(n: Node, ctx: Ctx): unknown {
  switch (n.t) {
    case 'lit':
      return n.v;
    case 'var':
      return ctx.get(n.name);
    case 'list':
      return n.items.map((x) => evalNode(x, ctx));
    case 'dict': {
      const out: Record<string, unknown> = {};
      for (const [k, v] of n.pairs) out[String(evalNode(k, ctx))] = evalNode(v, ctx);
      return out;
    }
    case 'pair':
      throw new YaqlError("Parse error: unexpected '=>'");
    case 'call':
      if (n.name === 'let')
        return callFn('let', {
          name: 'let',
          pos: n.args.map((a) => new Thunk(a, ctx)),
          kw: mapKw(n.kwargs, ctx),
          ctx,
          method: false,
        });
      return callFn(n.name.replace(/^#operator_/, '#operator_'), {
        name: n.name,
        pos: n.args.map((a) => new Thunk(a, ctx)),
        kw: mapKw(n.kwargs, ctx),
        ctx,
        method: false,
      });
    case 'method': {
      const recv = evalNode(n.recv, ctx);
      if (n.safe && (recv === null || recv === undefined)) return null;
      return callFn(n.name, {
        name: n.name,
        pos: [Thunk.of(recv, ctx), ...n.args.map((a) => new Thunk(a, ctx))],
        kw: mapKw(n.kwargs, ctx),
        ctx,
        method: true,
      });
    }
    case 'attr': {
      const recv = evalNode(n.recv, ctx);
      if (n.safe && (recv === null || recv === undefined)) return null;
      return attribute(recv, n.name);
    }
    case 'index': {
      const recv = evalNode(n.recv, ctx);
      if (n.args.length !== 1) throw new YaqlError('Indexer takes exactly one argument');
      let i: unknown;
      try {
        i = evalNode(n.args[0], ctx);
      } catch {
        i = undefined;
      }
      if (Array.isArray(recv) && (i === undefined || (typeof i !== 'number' && typeof i !== 'string'))) {
        const th = new Thunk(n.args[0], ctx);
        return recv.filter((x) => truthy(th.call(x)));
      }
      return index(recv, i);
    }
    case 'un': {
      if (n.op === 'not') return !truthy(evalNode(n.e, ctx));
      const v = evalNode(n.e, ctx);
      if (typeof v !== 'number') throw new YaqlError(`No operator "${n.op}" for operand of type ${typeName(v)}`);
      return n.op === '-' ? -v : v;
    }
    case 'bin': {
      if (n.op === 'and') {
        const l = evalNode(n.l, ctx);
        return truthy(l) ? evalNode(n.r, ctx) : l;
      }
      if (n.op === 'or') {
        const l = evalNode(n.l, ctx);
        return truthy(l) ? l : evalNode(n.r, ctx);
      }
      if (n.op === '->') {
        const c = ctx.child();
        const l = evalNode(n.l, c);
        c.vars.set('$', l);
        return evalNode(n.r, c);
      }
      return binary(n.op, evalNode(n.l, ctx), evalNode(n.r, ctx));
    }
  }
}

function mapKw(kw: Record<string, Node>, ctx: Ctx): Record<string, Thunk> {
  const out: Record<string, Thunk> = {};
  for (const [k, v] of Object.entries(kw)) out[k] = new Thunk(v, ctx);
  return out;
}
