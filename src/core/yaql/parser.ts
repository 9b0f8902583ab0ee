// YAQL grammar (yaql/language/parser.py with the default operator table of yaql/factory.py), by
// precedence climbing. Lowest to highest: =>, ->, or, and, not, comparisons/in, + -, * / mod,
// =~ !~, unary + -, then postfix . ?. [] and calls.
import { YaqlError } from './errors.ts';
import { type Token, tokenize } from './lexer.ts';

export type Node =
  | { t: 'lit'; v: unknown }
  | { t: 'var'; name: string }
  | { t: 'list'; items: Node[] }
  | { t: 'dict'; pairs: Array<[Node, Node]> }
  | { t: 'call'; name: string; args: Node[]; kwargs: Record<string, Node> }
  | { t: 'method'; recv: Node; name: string; args: Node[]; kwargs: Record<string, Node>; safe: boolean }
  | { t: 'attr'; recv: Node; name: string; safe: boolean }
  | { t: 'index'; recv: Node; args: Node[] }
  | { t: 'bin'; op: string; l: Node; r: Node }
  | { t: 'un'; op: string; e: Node }
  | { t: 'pair'; key: Node; value: Node };

const BINARY: Array<{ ops: string[]; right?: boolean }> = [
  { ops: ['->'], right: true },
  { ops: ['or'] },
  { ops: ['and'] },
  { ops: ['not'] }, // prefix level
  { ops: ['>', '<', '>=', '<=', '!=', '=', 'in'] },
  { ops: ['+', '-'] },
  { ops: ['*', '/', 'mod'] },
  { ops: ['=~', '!~'] },
];

class Parser {
  i = 0;
  constructor(
    readonly toks: Token[],
    readonly src: string,
  ) {}
  peek(): Token {
    return this.toks[this.i];
  }
  next(): Token {
    return this.toks[this.i++];
  }
  fail(tok: Token): never {
    if (tok.kind === 'eof') throw new YaqlError(`Parse error: unexpected end of statement`);
    throw new YaqlError(`Parse error: unexpected '${tok.value}' at position ${tok.pos} of expression '${this.src}'`);
  }
  isOp(v: string): boolean {
    const t = this.peek();
    return t.kind === 'op' && t.value === v;
  }
  expect(v: string): void {
    if (!this.isOp(v)) this.fail(this.peek());
    this.i++;
  }

  /** An argument: maybe `name => value`. */
  pairOrExpr(): Node {
    const e = this.expr(0);
    if (this.isOp('=>')) {
      this.i++;
      return { t: 'pair', key: e, value: this.expr(0) };
    }
    return e;
  }

  expr(level: number): Node {
    if (level >= BINARY.length) return this.unary();
    const spec = BINARY[level];
    if (spec.ops[0] === 'not') {
      if (this.isOp('not')) {
        this.i++;
        return { t: 'un', op: 'not', e: this.expr(level) };
      }
      return this.expr(level + 1);
    }
    let left = this.expr(level + 1);
    for (;;) {
      const t = this.peek();
      if (t.kind !== 'op' || !spec.ops.includes(t.value)) return left;
      this.i++;
      const right = spec.right ? this.expr(level) : this.expr(level + 1);
      left = { t: 'bin', op: t.value, l: left, r: right };
      if (spec.right) return left;
    }
  }

  unary(): Node {
    if (this.isOp('-') || this.isOp('+')) {
      const op = this.next().value;
      return { t: 'un', op, e: this.unary() };
    }
    return this.postfix(this.primary());
  }

  args(close: string): { args: Node[]; kwargs: Record<string, Node> } {
    const args: Node[] = [];
    const kwargs: Record<string, Node> = {};
    if (this.isOp(close)) {
      this.i++;
      return { args, kwargs };
    }
    for (;;) {
      const a = this.pairOrExpr();
      if (a.t === 'pair' && a.key.t === 'lit' && typeof a.key.v === 'string' && close === ')')
        kwargs[a.key.v] = a.value;
      else args.push(a);
      if (this.isOp(',')) {
        this.i++;
        continue;
      }
      this.expect(close);
      return { args, kwargs };
    }
  }

  postfix(e: Node): Node {
    for (;;) {
      if (this.isOp('.') || this.isOp('?.')) {
        const safe = this.next().value === '?.';
        const name = this.next();
        if (name.kind !== 'kw') this.fail(name);
        if (this.isOp('(')) {
          this.i++;
          const { args, kwargs } = this.args(')');
          e = { t: 'method', recv: e, name: name.value, args, kwargs, safe };
        } else e = { t: 'attr', recv: e, name: name.value, safe };
        continue;
      }
      if (this.isOp('[')) {
        this.i++;
        const { args } = this.args(']');
        e = { t: 'index', recv: e, args };
        continue;
      }
      return e;
    }
  }

  primary(): Node {
    const t = this.next();
    switch (t.kind) {
      case 'num':
        return { t: 'lit', v: t.num };
      case 'str':
        return { t: 'lit', v: t.value };
      case 'var':
        return { t: 'var', name: t.value };
      case 'kw': {
        if (this.isOp('(')) {
          this.i++;
          const { args, kwargs } = this.args(')');
          return { t: 'call', name: t.value, args, kwargs };
        }
        if (t.value === 'true') return { t: 'lit', v: true };
        if (t.value === 'false') return { t: 'lit', v: false };
        if (t.value === 'null') return { t: 'lit', v: null };
        return { t: 'lit', v: t.value };
      }
      case 'op': {
        if (t.value === '(') {
          const e = this.expr(0);
          this.expect(')');
          return e;
        }
        if (t.value === '[') {
          const { args } = this.args(']');
          return { t: 'list', items: args };
        }
        if (t.value === '{') {
          const { args } = this.args('}');
          const pairs: Array<[Node, Node]> = [];
          for (const a of args) {
            if (a.t !== 'pair') this.fail(t);
            pairs.push([a.key, a.value]);
          }
          return { t: 'dict', pairs };
        }
        return this.fail(t);
      }
      default:
        return this.fail(t);
    }
  }
}

const cache = new Map<string, Node>();

/** Parses a YAQL expression; YaqlError on a syntax error. */
export function parseYaql(src: string): Node {
  const hit = cache.get(src);
  if (hit) return hit;
  const p = new Parser(tokenize(src), src);
  if (p.peek().kind === 'eof') throw new YaqlError('Parse error: unexpected end of statement');
  const e = p.pairOrExpr();
  if (p.peek().kind !== 'eof') p.fail(p.peek());
  if (cache.size > 500) cache.clear();
  cache.set(src, e);
  return e;
}
