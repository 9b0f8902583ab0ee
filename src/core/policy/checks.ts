// The checks of oslo.policy's rule language (oslo_policy/_checks.py): the nodes a parsed rule is made
// of, and what a check needs to compare as Python does (%-format of the target, str() of credentials,
// ast.literal_eval of a check's kind).
//
// Evaluation never throws except PolicyEvaluationError, where oslo would raise (bad % format, rule
// cycles, literal-eval syntax errors); the enforcer catches it and denies.
import { isPlainObject, pyFloatRepr, pyNumberStr, pyRepr, pyStr } from '../python.ts';

export interface PolicyCredentials {
  user_id?: string;
  project_id?: string | null;
  domain_id?: string | null;
  system_scope?: string | null;
  roles: string[];
  is_admin?: boolean;
  [k: string]: unknown;
}

export type PolicyTarget = Record<string, unknown>;

/** Anything that can resolve `rule:NAME` references (PolicyEngine does). */
export interface RuleResolver {
  resolveRule(name: string): Check | undefined;
}

/**
 * Thrown by Check.evaluate() where oslo.policy itself would raise while
 * evaluating (malformed %-format in a match, a check kind that is a Python
 * syntax error, a cyclic rule reference).  oslo aborts the whole enforcement
 * then, so PolicyEngine catches it and denies; it never escapes enforce().
 */
export class PolicyEvaluationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyEvaluationError';
  }
}

const MISSING: unique symbol = Symbol('missing');
type Missing = typeof MISSING;

const hasOwn = Object.prototype.hasOwnProperty;

// ---------------------------------------------------------------------------
// Dotted paths
// ---------------------------------------------------------------------------

/**
 * A dotted path such as "target.user.domain_id", pre-split so lookups do no
 * string work.  `keys[i][j]` is segments i..j-1 joined with ".", which lets
 * a lookup accept flat keys, nested objects, or any mixture of the two.
 */
class DottedPath {
  readonly full: string;
  readonly segments: readonly string[];
  private readonly keys: readonly (readonly string[])[];

  constructor(full: string) {
    this.full = full;
    this.segments = full.split('.');
    const n = this.segments.length;
    const keys: string[][] = [];
    for (let i = 0; i < n; i++) {
      const row: string[] = [];
      for (let j = 0; j <= n; j++) row.push(j > i ? this.segments.slice(i, j).join('.') : '');
      keys.push(row);
    }
    this.keys = keys;
  }

  /** Target lookup: the flat key first, then nested objects. */
  resolve(obj: unknown): unknown | Missing {
    if (!isPlainObject(obj)) return MISSING;
    if (hasOwn.call(obj, this.full) && obj[this.full] !== undefined) return obj[this.full];
    if (this.segments.length < 2) return MISSING;
    return this.walk(obj, 0);
  }

  private walk(obj: Record<string, unknown>, i: number): unknown | Missing {
    const n = this.segments.length;
    // Longest key first; j === n at i === 0 is the flat key, already tried.
    for (let j = i === 0 ? n - 1 : n; j > i; j--) {
      const key = this.keys[i]![j]!;
      if (!hasOwn.call(obj, key)) continue;
      const v = obj[key];
      if (v === undefined) continue;
      if (j === n) return v;
      if (isPlainObject(v)) {
        const found = this.walk(v, j);
        if (found !== MISSING) return found;
      }
    }
    return MISSING;
  }

  /**
   * Credential match, as oslo's GenericCheck._find_in_dict: walk the path,
   * and whenever a step yields a list, try every element with the rest of
   * the path; at the end compare str(value) with `expected`.
   */
  matches(obj: unknown, expected: string): boolean {
    return this.find(obj, 0, expected);
  }

  private find(value: unknown, i: number, expected: string): boolean {
    const n = this.segments.length;
    if (i === n) return pyStr(value) === expected;
    if (!isPlainObject(value)) return false; // oslo: TypeError / KeyError
    for (let j = n; j > i; j--) {
      const key = this.keys[i]![j]!;
      if (!hasOwn.call(value, key)) continue;
      const v = value[key];
      if (v === undefined) continue;
      if (Array.isArray(v)) {
        for (const el of v) if (this.find(el, j, expected)) return true;
      } else if (this.find(v, j, expected)) {
        return true;
      }
    }
    return false;
  }
}

// ---------------------------------------------------------------------------
// %-format templates (Python `match % target`)
// ---------------------------------------------------------------------------

type TemplatePart = { literal: string } | { path: DottedPath; conv: 's' | 'r' | 'd' };

/**
 * A pre-compiled Python %-format string with a mapping argument.
 * Supports %(key)s, %(key)r, %(key)a, %(key)d, %(key)i and %%.  Anything
 * else (which would raise ValueError/TypeError in Python) makes the template
 * invalid from that point on: rendering it reports the missing keys before
 * that point as oslo does (KeyError => check is False) and otherwise throws
 * PolicyEvaluationError.
 */
class Template {
  readonly source: string;
  readonly valid: boolean;
  private readonly constant: string | undefined;
  private readonly parts: readonly TemplatePart[];

  constructor(source: string) {
    this.source = source;
    const parts: TemplatePart[] = [];
    let valid = true;
    let lit = '';
    let i = 0;
    while (i < source.length) {
      const ch = source[i]!;
      if (ch !== '%') {
        lit += ch;
        i++;
        continue;
      }
      const next = source[i + 1];
      if (next === '%') {
        lit += '%';
        i += 2;
        continue;
      }
      if (next !== '(') {
        valid = false; // "%s" with a dict, flags, incomplete format, ...
        break;
      }
      // Python counts nested parentheses inside the key.
      let depth = 1;
      let j = i + 2;
      while (j < source.length && depth > 0) {
        if (source[j] === '(') depth++;
        else if (source[j] === ')') depth--;
        j++;
      }
      if (depth !== 0) {
        valid = false;
        break;
      }
      const key = source.slice(i + 2, j - 1);
      const conv = source[j];
      let c: 's' | 'r' | 'd';
      if (conv === 's') c = 's';
      else if (conv === 'r' || conv === 'a') c = 'r';
      else if (conv === 'd' || conv === 'i') c = 'd';
      else {
        valid = false;
        break;
      }
      if (lit) parts.push({ literal: lit });
      lit = '';
      parts.push({ path: new DottedPath(key), conv: c });
      i = j + 1;
    }
    if (lit && valid) parts.push({ literal: lit });
    this.valid = valid;
    this.parts = parts;
    this.constant =
      valid && parts.every((p) => 'literal' in p)
        ? parts.map((p) => (p as { literal: string }).literal).join('')
        : undefined;
  }

  /** The result when the template has no substitutions (and is valid). */
  constantValue(): string | undefined {
    return this.constant;
  }

  /** The substituted string, or undefined when a key is missing (oslo: KeyError => False). */
  render(target: PolicyTarget): string | undefined {
    if (this.constant !== undefined) return this.constant;
    let out = '';
    for (const part of this.parts) {
      if ('literal' in part) {
        out += part.literal;
        continue;
      }
      const v = part.path.resolve(target);
      if (v === MISSING) return undefined;
      if (part.conv === 's') out += pyStr(v);
      else if (part.conv === 'r') out += pyRepr(v);
      else {
        if (typeof v === 'boolean') out += v ? '1' : '0';
        else if (typeof v === 'number' && Number.isFinite(v)) out += pyNumberStr(Math.trunc(v));
        else if (typeof v === 'bigint') out += v.toString();
        else throw new PolicyEvaluationError(`%d format requires a number, not ${pyStr(v)} (in ${this.source})`);
      }
    }
    if (!this.valid) throw new PolicyEvaluationError(`Unsupported or malformed format string: ${this.source}`);
    return out;
  }
}

// ---------------------------------------------------------------------------
// Python literal evaluation of a check's `kind` (ast.literal_eval subset)
// ---------------------------------------------------------------------------

const DEC_INT = /^(?:0(?:_?0)*|[1-9](?:_?\d)*)$/;
const HEX_INT = /^0[xX](?:_?[0-9a-fA-F])+$/;
const OCT_INT = /^0[oO](?:_?[0-7])+$/;
const BIN_INT = /^0[bB](?:_?[01])+$/;
const DIGITS = '\\d(?:_?\\d)*';
const EXPONENT = `[eE][+-]?${DIGITS}`;
// pointfloat: [digits] "." digits | digits "."; exponentfloat: (digits | pointfloat) exponent
const FLOAT = new RegExp(`^(?:(?:(?:${DIGITS})?\\.${DIGITS}|${DIGITS}\\.)(?:${EXPONENT})?|${DIGITS}${EXPONENT})$`);

/** Parse one or more adjacent Python str literals; undefined if not exactly that. */
function parseStringLiterals(src: string): string | undefined {
  let out = '';
  let i = 0;
  let count = 0;
  while (i < src.length) {
    let raw = false;
    // prefixes: r, u (case-insensitive); bytes / f-strings are not supported
    const prefix = src[i];
    if (prefix === 'r' || prefix === 'R' || prefix === 'u' || prefix === 'U') {
      raw = prefix === 'r' || prefix === 'R';
      i++;
    }
    const q = src[i];
    if (q !== "'" && q !== '"') return undefined;
    i++;
    let closed = false;
    while (i < src.length) {
      const ch = src[i]!;
      if (ch === q) {
        closed = true;
        i++;
        break;
      }
      if (ch !== '\\') {
        out += ch;
        i++;
        continue;
      }
      const e = src[i + 1];
      if (e === undefined) return undefined;
      if (raw) {
        out += '\\' + e;
        i += 2;
        continue;
      }
      i += 2;
      switch (e) {
        case '\\':
          out += '\\';
          break;
        case "'":
          out += "'";
          break;
        case '"':
          out += '"';
          break;
        case 'a':
          out += '\x07';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'v':
          out += '\v';
          break;
        case 'x':
        case 'u':
        case 'U': {
          const len = e === 'x' ? 2 : e === 'u' ? 4 : 8;
          const hex = src.slice(i, i + len);
          if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex)) return undefined;
          const cp = parseInt(hex, 16);
          if (cp > 0x10ffff) return undefined;
          out += String.fromCodePoint(cp);
          i += len;
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            let oct = e;
            while (oct.length < 3 && src[i] !== undefined && src[i]! >= '0' && src[i]! <= '7') oct += src[i++];
            out += String.fromCodePoint(parseInt(oct, 8));
          } else if (e === 'N') {
            return undefined; // \N{NAME}: not supported
          } else {
            out += '\\' + e; // unknown escapes are kept verbatim
          }
      }
    }
    if (!closed) return undefined;
    count++;
  }
  return count > 0 ? out : undefined;
}

/**
 * str(ast.literal_eval(kind)) for the literals that can appear as a policy
 * check kind (True/False/None, numbers, strings), or undefined when `kind`
 * is not such a literal (and so names a credential).
 */
export function pythonLiteralStr(kind: string): string | undefined {
  if (kind === 'True' || kind === 'False' || kind === 'None') return kind;
  let sign = '';
  let body = kind;
  if (body.startsWith('-') || body.startsWith('+')) {
    sign = body[0] === '-' ? '-' : '';
    body = body.slice(1);
  }
  if (DEC_INT.test(body) || HEX_INT.test(body) || OCT_INT.test(body) || BIN_INT.test(body)) {
    const clean = body.replace(/_/g, '');
    let n = BigInt(clean);
    if (sign) n = -n;
    return n.toString();
  }
  if (FLOAT.test(body)) {
    const n = Number(body.replace(/_/g, ''));
    return pyFloatRepr(sign ? -n : n);
  }
  if (sign) return undefined;
  return parseStringLiterals(kind);
}

const PY_KEYWORDS = new Set([
  'and',
  'as',
  'assert',
  'async',
  'await',
  'break',
  'class',
  'continue',
  'def',
  'del',
  'elif',
  'else',
  'except',
  'finally',
  'for',
  'from',
  'global',
  'if',
  'import',
  'in',
  'is',
  'lambda',
  'nonlocal',
  'not',
  'or',
  'pass',
  'raise',
  'return',
  'try',
  'while',
  'with',
  'yield',
  'True',
  'False',
  'None',
]);
const DOTTED_IDENT = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$/;

/**
 * Would ast.literal_eval(kind) raise SyntaxError (which oslo does not catch)?
 * An approximation that recognises the usual authoring mistakes: an empty
 * kind, a substitution on the left (`%(x)s:...`), keywords, a leading digit
 * or quote that is not a literal, a leading/trailing operator.  Anything
 * else that is not a literal is looked up in the credentials.
 */
function kindIsSyntaxError(kind: string): boolean {
  if (kind === '') return true;
  if (DOTTED_IDENT.test(kind)) {
    const segs = kind.split('.');
    return segs.some((s, i) => PY_KEYWORDS.has(s) && !(i === 0 && (s === 'True' || s === 'False' || s === 'None')));
  }
  if (kind.includes('%(')) return true;
  const first = kind[0]!;
  const last = kind[kind.length - 1]!;
  if ((first >= '0' && first <= '9') || first === "'" || first === '"') return true;
  if ('@!$?`.%*/&|^<>=)]}'.includes(first)) return true;
  if ('.+-*/%&|^<>=~@(['.includes(last)) return true;
  return false;
}

// ---------------------------------------------------------------------------
// Check tree
// ---------------------------------------------------------------------------

/** A node of a parsed rule.  toString() renders it the way oslo's __str__ does. */
export abstract class Check {
  abstract evaluate(target: PolicyTarget, creds: PolicyCredentials, engine?: RuleResolver): boolean;
  abstract toString(): string;
  /** Whether the outcome may depend on the target (true unless the check knows better). */
  usesTarget(_engine?: RuleResolver, _depth = 0): boolean {
    return true;
  }
}

export class TrueCheck extends Check {
  evaluate(): boolean {
    return true;
  }
  usesTarget() {
    return false;
  }
  toString(): string {
    return '@';
  }
}

export class FalseCheck extends Check {
  evaluate(): boolean {
    return false;
  }
  usesTarget() {
    return false;
  }
  toString(): string {
    return '!';
  }
}

export class NotCheck extends Check {
  constructor(readonly rule: Check) {
    super();
  }
  evaluate(target: PolicyTarget, creds: PolicyCredentials, engine?: RuleResolver): boolean {
    return !this.rule.evaluate(target, creds, engine);
  }
  usesTarget(engine?: RuleResolver, depth = 0) {
    return this.rule.usesTarget(engine, depth);
  }
  toString(): string {
    return `not ${this.rule.toString()}`;
  }
}

export class AndCheck extends Check {
  constructor(readonly rules: Check[]) {
    super();
  }
  evaluate(target: PolicyTarget, creds: PolicyCredentials, engine?: RuleResolver): boolean {
    for (const r of this.rules) if (!r.evaluate(target, creds, engine)) return false;
    return true;
  }
  usesTarget(engine?: RuleResolver, depth = 0) {
    return this.rules.some((r) => r.usesTarget(engine, depth));
  }
  toString(): string {
    return `(${this.rules.map(String).join(' and ')})`;
  }
}

export class OrCheck extends Check {
  constructor(readonly rules: Check[]) {
    super();
  }
  evaluate(target: PolicyTarget, creds: PolicyCredentials, engine?: RuleResolver): boolean {
    for (const r of this.rules) if (r.evaluate(target, creds, engine)) return true;
    return false;
  }
  usesTarget(engine?: RuleResolver, depth = 0) {
    return this.rules.some((r) => r.usesTarget(engine, depth));
  }
  toString(): string {
    return `(${this.rules.map(String).join(' or ')})`;
  }
}

/** Maximum depth of nested `rule:` references (guards against cycles). */
const MAX_RULE_DEPTH = 64;
let ruleDepth = 0;

export class RuleCheck extends Check {
  constructor(readonly match: string) {
    super();
  }
  evaluate(target: PolicyTarget, creds: PolicyCredentials, engine?: RuleResolver): boolean {
    const rule = engine?.resolveRule(this.match);
    if (!rule) return false; // fail closed
    if (ruleDepth >= MAX_RULE_DEPTH)
      throw new PolicyEvaluationError(`Rule references nested too deeply (cycle?) at rule:${this.match}`);
    ruleDepth++;
    try {
      return rule.evaluate(target, creds, engine);
    } finally {
      ruleDepth--;
    }
  }
  toString(): string {
    return `rule:${this.match}`;
  }
  usesTarget(engine?: RuleResolver, depth = 0): boolean {
    const rule = engine?.resolveRule(this.match);
    return !rule ? false : depth >= MAX_RULE_DEPTH ? true : rule.usesTarget(engine, depth + 1);
  }
}

export class RoleCheck extends Check {
  private readonly template: Template;
  private readonly lowered: string | undefined;

  constructor(readonly match: string) {
    super();
    this.template = new Template(match);
    this.lowered = this.template.constantValue()?.toLowerCase();
  }
  evaluate(target: PolicyTarget, creds: PolicyCredentials): boolean {
    let wanted = this.lowered;
    if (wanted === undefined) {
      const rendered = this.template.render(target);
      if (rendered === undefined) return false;
      wanted = rendered.toLowerCase();
    }
    const roles: unknown = creds.roles;
    if (!Array.isArray(roles)) return false;
    for (const r of roles) {
      if (typeof r === 'string' ? r.toLowerCase() === wanted : pyStr(r).toLowerCase() === wanted) return true;
    }
    return false;
  }
  toString(): string {
    return `role:${this.match}`;
  }
  usesTarget() {
    return this.lowered === undefined;
  }
}

export class GenericCheck extends Check {
  private readonly template: Template;
  /** str() of the kind when it is a Python literal. */
  private readonly literal: string | undefined;
  private readonly path: DottedPath;
  private readonly badKind: boolean;

  constructor(
    readonly kind: string,
    readonly match: string,
  ) {
    super();
    this.template = new Template(match);
    this.literal = pythonLiteralStr(kind);
    this.badKind = this.literal === undefined && kindIsSyntaxError(kind);
    this.path = new DottedPath(kind);
  }
  evaluate(target: PolicyTarget, creds: PolicyCredentials): boolean {
    const wanted = this.template.render(target);
    if (wanted === undefined) return false;
    if (this.literal !== undefined) return wanted === this.literal;
    if (this.badKind) throw new PolicyEvaluationError(`Check kind is not valid: ${this.kind}`);
    return this.path.matches(creds, wanted);
  }
  toString(): string {
    return `${this.kind}:${this.match}`;
  }
  usesTarget() {
    return this.template.constantValue() === undefined;
  }
}

/** Makes the check of a kind a service adds to the language (Neutron's `field:networks:shared=True`). */
export type CheckFactory = (match: string) => Check;
