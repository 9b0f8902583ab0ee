// The transformers of a pipeline sink (Ceilometer's transformer/ of the releases the book
// describes): `unit_conversion`, `rate_of_change`, `accumulator`, `aggregator`, `arithmetic`.
// Each sink chains its own instances (their state is per sink): a sample passes through `handle`
// (which may change it, keep it or drop it), then each transformer's `flush` hands on what it was
// holding, down the rest of the chain, before the sink's publishers get the result.
//
// Expressions (`scale`, `expr`) are a small, safe language, Python-like as Ceilometer evaluates
// them: numbers, `volume`, `resource_metadata.x`, `$(meter)` and `$(meter).volume` /
// `$(meter).resource_metadata.x` (arithmetic), + - * / % ** and parentheses, `or` / `and`.
import type { Sample } from './meters.ts';

export interface TransformerSpec {
  name: string;
  parameters?: Record<string, unknown>;
}

export interface Transformer {
  handle(s: Sample): Sample | null;
  flush(): Sample[];
}

// ---- expressions ---------------------------------------------------------------------------

type Scope = (path: string[]) => unknown;
type Node = (scope: Scope) => unknown;

const TOKEN =
  /\s*(?:(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+)|(\*\*|[-+*/%()])|(\$\([^)]+\)(?:\.[A-Za-z_][\w]*)*|[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*))/y;

const truthy = (v: unknown) => !(v === undefined || v === null || v === 0 || v === '' || v === false);
const num = (v: unknown, expr: string): number => {
  const n = typeof v === 'number' ? v : Number(v);
  if (v === undefined || v === null || Number.isNaN(n)) throw new Error(`${expr}: ${String(v)} is not a number`);
  return n;
};

/** Compiles an expression; throws with its text when it does not parse. */
export function compileExpression(expr: string): Node {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  let pos = 0;
  while (pos < expr.length) {
    if (/^\s*$/.test(expr.slice(pos))) break;
    TOKEN.lastIndex = pos;
    const m = TOKEN.exec(expr);
    if (!m) throw new Error(`bad expression ${JSON.stringify(expr)} at ${pos}`);
    tokens.push(m[1] ?? m[2] ?? m[3]!);
    pos = TOKEN.lastIndex;
  }
  let i = 0;
  const peek = () => tokens[i];
  const fail = (): never => {
    throw new Error(`bad expression ${JSON.stringify(expr)}`);
  };
  const binary =
    (next: () => Node, ops: Record<string, (a: number, b: number) => number>): (() => Node) =>
    () => {
      let left = next();
      while (peek() !== undefined && peek()! in ops) {
        const f = ops[tokens[i++]!]!;
        const l = left;
        const r = next();
        left = (s) => f(num(l(s), expr), num(r(s), expr));
      }
      return left;
    };
  const atom = (): Node => {
    const t = tokens[i++];
    if (t === undefined) return fail();
    if (t === '(') {
      const e = or();
      if (tokens[i++] !== ')') fail();
      return e;
    }
    if (t === '-' || t === '+') {
      const e = power();
      return t === '-' ? (s) => -num(e(s), expr) : e;
    }
    if (/^[\d.]/.test(t)) {
      const n = Number(t);
      return () => n;
    }
    if (/^[A-Za-z_$]/.test(t) && t !== 'or' && t !== 'and') {
      const m = /^\$\(([^)]+)\)(.*)$/.exec(t);
      const path = m ? [`$${m[1]}`, ...m[2]!.split('.').filter(Boolean)] : t.split('.');
      return (s) => s(path);
    }
    return fail();
  };
  const power = (): Node => {
    const base = atom();
    if (peek() === '**') {
      i++;
      const exp = unary();
      return (s) => num(base(s), expr) ** num(exp(s), expr);
    }
    return base;
  };
  const unary = (): Node => power();
  const term = binary(unary, { '*': (a, b) => a * b, '/': (a, b) => a / b, '%': (a, b) => a % b });
  const sum = binary(term, { '+': (a, b) => a + b, '-': (a, b) => a - b });
  const and = (): Node => {
    let left = sum();
    while (peek() === 'and') {
      i++;
      const l = left;
      const r = sum();
      left = (s) => {
        const a = l(s);
        return truthy(a) ? r(s) : a;
      };
    }
    return left;
  };
  const or = (): Node => {
    let left = and();
    while (peek() === 'or') {
      i++;
      const l = left;
      const r = and();
      left = (s) => {
        const a = l(s);
        return truthy(a) ? a : r(s);
      };
    }
    return left;
  };
  const root = or();
  if (i !== tokens.length) fail();
  return root;
}

function sampleScope(s: Sample): Scope {
  return (path) => {
    let node: unknown = s;
    for (const k of path) {
      if (node === null || node === undefined || typeof node !== 'object') return undefined;
      node = (node as Record<string, unknown>)[k];
    }
    return node;
  };
}

// ---- the transformers ----------------------------------------------------------------------

interface Target {
  name?: string;
  unit?: string;
  type?: Sample['type'];
  scale?: string;
  map_to?: { name: string; unit?: string };
}
interface Source {
  map_from?: { name: string; unit?: string };
}

function pyRegex(p: string): RegExp {
  return new RegExp(`^(?:${p})`);
}

/** The target name/unit of a sample (map_from/map_to regular expressions, or target name/unit). */
function renamed(s: Sample, source: Source, target: Target): { name: string; unit: string } {
  if (source.map_from && target.map_to) {
    const name = s.name.replace(pyRegex(source.map_from.name), target.map_to.name.replace(/\\(\d)/g, '$$$1'));
    const unit =
      source.map_from.unit && target.map_to.unit
        ? s.unit.replace(pyRegex(source.map_from.unit), target.map_to.unit.replace(/\\(\d)/g, '$$$1'))
        : s.unit;
    return { name, unit };
  }
  return { name: target.name ?? s.name, unit: target.unit ?? s.unit };
}

class UnitConversion implements Transformer {
  protected scale?: Node;
  constructor(
    protected source: Source,
    protected target: Target,
  ) {
    if (target.scale !== undefined) this.scale = compileExpression(String(target.scale));
  }
  /** The sample converted: `scale` evaluated on it (its volume by default), times the growth. */
  protected convert(s: Sample, growth?: number): Sample | null {
    const scaled = this.scale ? Number(this.scale(sampleScope(s))) : growth === undefined ? s.volume : 1;
    const v = scaled * (growth ?? 1);
    if (!Number.isFinite(v)) return null;
    return { ...s, ...renamed(s, this.source, this.target), type: this.target.type ?? s.type, volume: v };
  }
  handle(s: Sample): Sample | null {
    return this.convert(s);
  }
  flush(): Sample[] {
    return [];
  }
}

/**
 * The change per second of a counter since its previous sample (the first one only primes it),
 * times `scale` (evaluated on the sample: `100.0 / (10**9 * (resource_metadata.cpu_number or 1))`
 * turns the cpu time's rate into cpu_util), as Ceilometer's rate_of_change.
 */
class RateOfChange extends UnitConversion {
  private prev = new Map<string, { volume: number; at: number }>();
  handle(s: Sample): Sample | null {
    const key = `${s.name}\u0000${s.resource_id}`;
    const at = Date.parse(s.timestamp);
    const before = this.prev.get(key);
    this.prev.set(key, { volume: s.volume, at });
    if (!before) return null;
    const seconds = (at - before.at) / 1000;
    if (seconds <= 0) return null;
    // A counter that went down was reset: its whole value is the change.
    const delta = s.volume < before.volume ? s.volume : s.volume - before.volume;
    return this.convert({ ...s, type: 'gauge' }, delta / seconds);
  }
}

/** Holds samples until `size` of them are there, then hands them on together. */
class Accumulator implements Transformer {
  private held: Sample[] = [];
  constructor(private size: number) {}
  handle(s: Sample) {
    this.held.push(s);
    return null;
  }
  flush() {
    return this.held.length >= this.size ? this.held.splice(0) : [];
  }
}

type KeepPolicy = 'first' | 'last' | 'drop';

/**
 * Aggregates samples of the same meter and resource (and, unless `drop`ped, the same user,
 * project and metadata): deltas and gauges add up, a cumulative keeps its last value; flushed
 * when `size` aggregates are there or the oldest is `retention_time` seconds old.
 */
class Aggregator implements Transformer {
  private held = new Map<string, Sample>();
  private since = 0;
  constructor(
    private size: number,
    private retention: number | undefined,
    private policy: { user_id: KeepPolicy; project_id: KeepPolicy; resource_metadata: KeepPolicy },
  ) {}
  handle(s: Sample) {
    const parts = [s.name, s.resource_id];
    for (const k of ['user_id', 'project_id', 'resource_metadata'] as const)
      if (this.policy[k] === 'drop') parts.push(JSON.stringify(s[k]));
    const key = parts.join('\u0000');
    const have = this.held.get(key);
    if (!this.held.size) this.since = Date.now();
    if (!have) this.held.set(key, { ...s });
    else {
      have.volume = s.type === 'cumulative' ? s.volume : have.volume + s.volume;
      have.timestamp = s.timestamp;
      for (const k of ['user_id', 'project_id', 'resource_metadata'] as const)
        if (this.policy[k] === 'last') (have as unknown as Record<string, unknown>)[k] = s[k];
    }
    return null;
  }
  flush() {
    const old = this.retention !== undefined && this.held.size && Date.now() - this.since >= this.retention * 1000;
    if (this.held.size < this.size && !old) return [];
    const out = [...this.held.values()];
    this.held.clear();
    return out;
  }
}

/**
 * A new meter computed from others of the same resource (`$(cpu) * 100`): it keeps the latest
 * sample of each meter the expression names, and at the flush emits one sample per resource
 * that has them all.
 */
class Arithmetic implements Transformer {
  private expr: Node;
  private meters: string[];
  private latest = new Map<string, Map<string, Sample>>();
  constructor(private target: Target & { expr: string }) {
    this.expr = compileExpression(target.expr);
    this.meters = [...new Set([...target.expr.matchAll(/\$\(([^)]+)\)/g)].map((m) => m[1]!))];
    if (!this.meters.length) throw new Error(`arithmetic: expr ${JSON.stringify(target.expr)} names no meter`);
  }
  handle(s: Sample) {
    if (this.meters.includes(s.name)) {
      const per = this.latest.get(s.resource_id) ?? new Map<string, Sample>();
      per.set(s.name, s);
      this.latest.set(s.resource_id, per);
    }
    return s;
  }
  flush() {
    const out: Sample[] = [];
    for (const [resource, per] of this.latest) {
      if (!this.meters.every((m) => per.has(m))) continue;
      const last = [...per.values()].sort((a, b) => a.timestamp.localeCompare(b.timestamp)).at(-1)!;
      let v: number;
      try {
        v = Number(
          this.expr((path) => {
            const [head, ...rest] = path;
            if (!head?.startsWith('$')) return undefined;
            const s = per.get(head.slice(1));
            if (!rest.length) return s?.volume;
            return sampleScope(s!)(rest);
          }),
        );
      } catch {
        continue;
      }
      if (!Number.isFinite(v)) continue;
      out.push({
        ...last,
        name: this.target.name ?? 'arithmetic',
        unit: this.target.unit ?? last.unit,
        type: this.target.type ?? 'gauge',
        volume: v,
        resource_id: resource,
      });
    }
    this.latest.clear();
    return out;
  }
}

const TYPES = ['gauge', 'delta', 'cumulative'];

/** Builds a sink's transformer; throws a clear error for a bad name or parameters. */
export function makeTransformer(spec: TransformerSpec, where: string): Transformer {
  const p = spec.parameters ?? {};
  const target = (p.target ?? {}) as Target & { expr?: string };
  const source = (p.source ?? {}) as Source;
  if (target.type !== undefined && !TYPES.includes(target.type))
    throw new Error(`${where}: transformer ${spec.name}: bad target type ${target.type}`);
  const size = (v: unknown, dflt: number) => {
    const n = v === undefined ? dflt : Number(v);
    if (!Number.isInteger(n) || n < 1)
      throw new Error(`${where}: transformer ${spec.name}: size must be a positive integer`);
    return n;
  };
  try {
    switch (spec.name) {
      case 'unit_conversion':
        return new UnitConversion(source, target);
      case 'rate_of_change':
        return new RateOfChange(source, { type: 'gauge', ...target });
      case 'accumulator':
        return new Accumulator(size(p.size, 1));
      case 'aggregator': {
        const keep = (k: string): KeepPolicy => {
          const v = String(p[k] ?? 'last');
          if (!['first', 'last', 'drop'].includes(v))
            throw new Error(`${where}: transformer aggregator: ${k} must be first, last or drop`);
          return v as KeepPolicy;
        };
        return new Aggregator(size(p.size, 1), p.retention_time === undefined ? undefined : Number(p.retention_time), {
          user_id: keep('user_id'),
          project_id: keep('project_id'),
          resource_metadata: keep('resource_metadata'),
        });
      }
      case 'arithmetic':
        if (typeof target.expr !== 'string') throw new Error('needs target.expr');
        return new Arithmetic(target as Target & { expr: string });
      default:
        throw new Error(
          `unknown transformer ${spec.name} (unit_conversion, rate_of_change, accumulator, aggregator, arithmetic)`,
        );
    }
  } catch (e) {
    const m = (e as Error).message;
    throw new Error(m.startsWith(where) ? m : `${where}: ${m}`);
  }
}

/** Runs samples down a chain: each transformer handles, then flushes into the next. */
export function transform(chain: Transformer[], samples: Sample[]): Sample[] {
  let cur = samples;
  for (const t of chain) {
    const next: Sample[] = [];
    for (const s of cur) {
      const r = t.handle(s);
      if (r) next.push(r);
    }
    next.push(...t.flush());
    cur = next;
  }
  return cur;
}
