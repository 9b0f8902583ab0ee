/**
 * Policy engine: a TypeScript implementation of the oslo.policy rule language.
 *
 * Behaviour follows oslo.policy 4.0.0 (_parser.py, _checks.py, policy.py):
 *
 *  - The text of a rule is split on whitespace; leading "(" and trailing ")"
 *    are peeled off each token; "and" / "or" / "not" (any case) are
 *    operators; a token wrapped in quotes is a "string" token (which no
 *    grammar production accepts, so it makes the rule unparseable); anything
 *    else is a single check.
 *  - Tokens are combined by oslo's greedy shift/reduce parser, so precedence
 *    is: parentheses > not > and > or  (`a or b and c` == `a or (b and c)`).
 *  - "" (exactly empty) means always allow; a rule that fails to parse
 *    (including a whitespace-only rule) means deny, and is logged.
 *  - Checks: `@` (allow), `!` (deny), `rule:NAME`, `role:NAME` (case
 *    insensitive), and the generic `kind:match`, where `match` is
 *    %-formatted against the target and compared, as Python's str(), with
 *    either a Python literal (`True`, `'Member'`, `1`, ...) or the value found
 *    at the dotted path `kind` in the credentials (lists along the path are
 *    searched element by element).
 *  - A `rule:` reference to an unknown rule, and enforcement of an unknown
 *    rule name, fall back to the rule called "default" when it exists.
 *
 * Evaluation never throws: where oslo would raise (bad % format, rule
 * cycles, literal-eval syntax errors, indexing into a non-dict) the check is
 * simply False.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';

// ---------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------

export type ScopeType = 'system' | 'domain' | 'project';

export interface PolicyDefault {
  name: string;
  checkStr: string;
  description?: string;
  scopeTypes?: Array<ScopeType>;
  operations?: Array<{ path: string; method: string }>;
}

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

export interface PolicyLogger {
  warn(message: string): void;
}

/** Anything that can resolve `rule:NAME` references (PolicyEngine does). */
export interface RuleResolver {
  resolveRule(name: string): Check | undefined;
}

export interface PolicyEngineOptions {
  /** Rule name -> check string, replacing (or adding to) the defaults. */
  overrides?: Record<string, string>;
  /** Deny when the token scope is not one of the rule's scopeTypes (oslo default: false). */
  enforceScope?: boolean;
  /** Where parse problems are reported; defaults to console.warn. */
  logger?: PolicyLogger;
  /** Credentials carry is_admin = role:admin, as nova's RequestContext sets it from context_is_admin. */
  contextIsAdmin?: boolean;
  /** Credentials carry tenant_id = project_id, as neutron_lib's context adds it (`tenant_id:%(network:tenant_id)s`). */
  tenantIdCredential?: boolean;
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

const consoleLogger: PolicyLogger = {
  warn: (message: string) => console.warn(`[policy] ${message}`),
};

// ---------------------------------------------------------------------------
// Python-compatible value formatting (str() / repr())
// ---------------------------------------------------------------------------

const MISSING: unique symbol = Symbol('missing');
type Missing = typeof MISSING;

const hasOwn = Object.prototype.hasOwnProperty;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Python repr() of a float. */
function pyFloatRepr(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (n === Infinity) return 'inf';
  if (n === -Infinity) return '-inf';
  if (n === 0) return Object.is(n, -0) ? '-0.0' : '0.0';
  // toExponential() without an argument yields the shortest round-trip
  // digits, exactly like Python's repr.
  const expStr = n.toExponential();
  const eIdx = expStr.indexOf('e');
  let mantissa = expStr.slice(0, eIdx);
  const exp = Number(expStr.slice(eIdx + 1));
  let sign = '';
  if (mantissa.startsWith('-')) {
    sign = '-';
    mantissa = mantissa.slice(1);
  }
  const digits = mantissa.replace('.', '');
  if (exp >= -4 && exp < 16) {
    let out: string;
    if (exp < 0) {
      out = '0.' + '0'.repeat(-exp - 1) + digits;
    } else if (digits.length <= exp + 1) {
      out = digits + '0'.repeat(exp + 1 - digits.length) + '.0';
    } else {
      out = digits.slice(0, exp + 1) + '.' + digits.slice(exp + 1);
    }
    return sign + out;
  }
  const absExp = Math.abs(exp);
  return `${sign}${mantissa}e${exp < 0 ? '-' : '+'}${absExp < 10 ? '0' : ''}${absExp}`;
}

function pyNumberStr(n: number): string {
  // JSON / JS cannot tell 1 from 1.0; integral values are treated as ints.
  if (Number.isInteger(n)) return Number.isSafeInteger(n) ? String(n) : BigInt(n).toString();
  return pyFloatRepr(n);
}

/** Python repr() of a str. */
function pyStrRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === quote || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || (code >= 0x7f && code < 0xa0)) out += '\\x' + code.toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + quote;
}

function pyRepr(v: unknown): string {
  return typeof v === 'string' ? pyStrRepr(v) : pyStr(v);
}

/** Python str() of a JSON-ish value, as oslo compares everything as str. */
export function pyStr(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return v;
    case 'boolean':
      return v ? 'True' : 'False';
    case 'number':
      return pyNumberStr(v);
    case 'bigint':
      return v.toString();
    case 'undefined':
      return 'None';
    case 'object': {
      if (v === null) return 'None';
      if (Array.isArray(v)) return '[' + v.map(pyRepr).join(', ') + ']';
      if (v instanceof Date) return v.toISOString();
      const parts: string[] = [];
      for (const [k, val] of Object.entries(v)) parts.push(`${pyStrRepr(k)}: ${pyRepr(val)}`);
      return '{' + parts.join(', ') + '}';
    }
    default:
      return String(v);
  }
}

/** Python truthiness. */
function pyTruthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (isPlainObject(v)) return Object.keys(v).length > 0;
  return Boolean(v);
}

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

// ---------------------------------------------------------------------------
// Parser (oslo's greedy shift/reduce)
// ---------------------------------------------------------------------------

type TokenType = '(' | ')' | 'and' | 'or' | 'not' | 'string' | 'check' | 'and_expr' | 'or_expr';
type Token = { type: TokenType; value: Check | string };

/**
 * Check kinds a service registers into oslo's registry (Neutron's `field:networks:shared=True`);
 * a service adds its own at import time, before its engine parses rules.
 */
export const CUSTOM_CHECKS = new Map<string, (match: string) => Check>();

/** Kinds that oslo implements as remote (HTTP) calls; unsupported here. */
const UNSUPPORTED_KINDS = new Set(['http', 'https']);

function parseCheck(text: string, logger: PolicyLogger): Check {
  if (text === '!') return new FalseCheck();
  if (text === '@') return new TrueCheck();
  const colon = text.indexOf(':');
  if (colon < 0) {
    logger.warn(`Failed to understand rule ${text}`);
    return new FalseCheck();
  }
  const kind = text.slice(0, colon);
  const match = text.slice(colon + 1);
  if (kind === 'rule') return new RuleCheck(match);
  if (kind === 'role') return new RoleCheck(match);
  const custom = CUSTOM_CHECKS.get(kind);
  if (custom) return custom(match);
  if (UNSUPPORTED_KINDS.has(kind)) {
    logger.warn(`Unsupported check kind ${kind} in ${text}; denying`);
    return new FalseCheck();
  }
  return new GenericCheck(kind, match);
}

function* tokenize(rule: string, logger: PolicyLogger): Generator<Token> {
  for (const tok of rule.split(/\s+/)) {
    if (!tok) continue;
    let start = 0;
    while (start < tok.length && tok[start] === '(') {
      yield { type: '(', value: '(' };
      start++;
    }
    if (start === tok.length) continue;
    const t = tok.slice(start); // leading parens removed, trailing kept
    let end = t.length;
    while (end > 0 && t[end - 1] === ')') end--;
    const clean = t.slice(0, end);
    const trail = t.length - end;
    const lowered = clean.toLowerCase();
    if (lowered === 'and' || lowered === 'or' || lowered === 'not') {
      yield { type: lowered, value: clean };
    } else if (clean) {
      const first = t[0];
      const last = t[t.length - 1];
      if (t.length >= 2 && (first === '"' || first === "'") && first === last) {
        yield { type: 'string', value: t.slice(1, -1) };
      } else {
        yield { type: 'check', value: parseCheck(clean, logger) };
      }
    }
    for (let k = 0; k < trail; k++) yield { type: ')', value: ')' };
  }
}

type Reduction = { pattern: readonly TokenType[]; reduce: (values: Array<Check | string>) => Token };

// Same productions, in the same order, as oslo's ParseState.
const REDUCTIONS: readonly Reduction[] = [
  { pattern: ['(', 'or_expr', ')'], reduce: (v) => ({ type: 'check', value: v[1]! }) },
  { pattern: ['(', 'and_expr', ')'], reduce: (v) => ({ type: 'check', value: v[1]! }) },
  { pattern: ['(', 'check', ')'], reduce: (v) => ({ type: 'check', value: v[1]! }) },
  {
    pattern: ['check', 'and', 'check'],
    reduce: (v) => ({ type: 'and_expr', value: new AndCheck([v[0] as Check, v[2] as Check]) }),
  },
  {
    // `a or b and c`: the "and" binds to the last operand of the "or"
    pattern: ['or_expr', 'and', 'check'],
    reduce: (v) => {
      const or = v[0] as OrCheck;
      const last = or.rules.pop()!;
      const and =
        last instanceof AndCheck ? (last.rules.push(v[2] as Check), last) : new AndCheck([last, v[2] as Check]);
      or.rules.push(and);
      return { type: 'or_expr', value: or };
    },
  },
  {
    pattern: ['and_expr', 'and', 'check'],
    reduce: (v) => {
      (v[0] as AndCheck).rules.push(v[2] as Check);
      return { type: 'and_expr', value: v[0]! };
    },
  },
  {
    pattern: ['and_expr', 'or', 'check'],
    reduce: (v) => ({ type: 'or_expr', value: new OrCheck([v[0] as Check, v[2] as Check]) }),
  },
  {
    pattern: ['check', 'or', 'check'],
    reduce: (v) => ({ type: 'or_expr', value: new OrCheck([v[0] as Check, v[2] as Check]) }),
  },
  {
    pattern: ['or_expr', 'or', 'check'],
    reduce: (v) => {
      (v[0] as OrCheck).rules.push(v[2] as Check);
      return { type: 'or_expr', value: v[0]! };
    },
  },
  { pattern: ['not', 'check'], reduce: (v) => ({ type: 'check', value: new NotCheck(v[1] as Check) }) },
];

function reduceStack(stack: Token[]): void {
  for (;;) {
    let reduced = false;
    for (const { pattern, reduce } of REDUCTIONS) {
      const n = pattern.length;
      if (stack.length < n) continue;
      let ok = true;
      for (let k = 0; k < n; k++) {
        if (stack[stack.length - n + k]!.type !== pattern[k]) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      const popped = stack.splice(stack.length - n, n);
      stack.push(reduce(popped.map((t) => t.value)));
      reduced = true;
      break;
    }
    if (!reduced) return;
  }
}

/**
 * Parse a rule in the oslo.policy policy language into a Check tree.
 * Never throws: an unparseable rule becomes FalseCheck ("!") and is logged.
 */
export function parseRule(checkStr: string, logger: PolicyLogger = consoleLogger): Check {
  if (checkStr === '') return new TrueCheck();
  const stack: Token[] = [];
  for (const tok of tokenize(checkStr, logger)) {
    stack.push(tok);
    reduceStack(stack);
  }
  const top = stack[0];
  // oslo returns any single leftover value; only a Check is usable (a lone
  // "(" / "and" / quoted string would blow up at enforce time in oslo).
  if (stack.length !== 1 || !(top!.value instanceof Check)) {
    logger.warn(`Failed to understand rule ${checkStr}`);
    return new FalseCheck();
  }
  return top!.value;
}

// ---------------------------------------------------------------------------
// Engine
// ---------------------------------------------------------------------------

interface CompiledRule {
  name: string;
  checkStr: string;
  check: Check;
  /** Only registered defaults carry scope types (overrides cannot change them). */
  scopeTypes: readonly ScopeType[] | undefined;
  base: PolicyDefault | undefined;
}

const DEFAULT_RULE = 'default';

export class PolicyEngine implements RuleResolver {
  private readonly compiled = new Map<string, CompiledRule>();
  private readonly enforceScope: boolean;
  private readonly logger: PolicyLogger;
  /** See PolicyEngineOptions. */
  readonly contextIsAdmin: boolean;
  readonly tenantIdCredential: boolean;

  constructor(defaults: PolicyDefault[], options: PolicyEngineOptions = {}) {
    this.enforceScope = options.enforceScope ?? false;
    this.contextIsAdmin = options.contextIsAdmin ?? false;
    this.tenantIdCredential = options.tenantIdCredential ?? false;
    this.logger = options.logger ?? consoleLogger;
    const overrides = options.overrides ?? {};
    for (const d of defaults) {
      if (this.compiled.has(d.name)) throw new Error(`Policy ${d.name} is already registered`);
      const override = hasOwn.call(overrides, d.name) ? overrides[d.name] : undefined;
      const checkStr = typeof override === 'string' ? override : d.checkStr;
      this.compiled.set(d.name, {
        name: d.name,
        checkStr,
        check: this.parse(d.name, checkStr),
        scopeTypes: d.scopeTypes && d.scopeTypes.length > 0 ? [...d.scopeTypes] : undefined,
        base: d,
      });
    }
    for (const [name, checkStr] of Object.entries(overrides)) {
      if (this.compiled.has(name) || typeof checkStr !== 'string') continue;
      this.compiled.set(name, {
        name,
        checkStr,
        check: this.parse(name, checkStr),
        scopeTypes: undefined,
        base: undefined,
      });
    }
  }

  private parse(name: string, checkStr: string): Check {
    return parseRule(checkStr, { warn: (m) => this.logger.warn(`${m} (policy ${name})`) });
  }

  /**
   * Read a policy override file (YAML, or JSON which YAML also accepts).
   * A missing file yields {}.  A rule with an empty value (null) means
   * "always allow", as in oslo.  Unreadable/invalid files throw.
   */
  /** A service's engine: its upstream defaults, overridden by <policyDir>/<service>.yaml, warnings to its log. */
  static forService(
    service: string,
    defaults: PolicyDefault[],
    policyDir: string,
    log: PolicyLogger,
    options: Pick<PolicyEngineOptions, 'enforceScope' | 'contextIsAdmin' | 'tenantIdCredential'> = {},
  ): PolicyEngine {
    return new PolicyEngine(defaults, {
      ...options,
      overrides: PolicyEngine.loadOverrides(join(policyDir, `${service}.yaml`)),
      logger: { warn: (m: string) => log.warn(m) },
    });
  }

  static loadOverrides(file: string): Record<string, string> {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw err;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      try {
        // PyYAML (used by oslo) speaks YAML 1.1 and lets later keys win.
        parsed = parseYaml(text, { version: '1.1', uniqueKeys: false });
      } catch (err) {
        throw new Error(`Invalid policy file ${file}: ${(err as Error).message}`);
      }
    }
    if (parsed === null || parsed === undefined || parsed === '') return {};
    if (!isPlainObject(parsed))
      throw new Error(`Invalid policy file ${file}: expected a mapping of rule names to rules`);
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(parsed)) {
      if (typeof value === 'string') out[name] = value;
      else if (value === null || (Array.isArray(value) && value.length === 0)) out[name] = '';
      else if (Array.isArray(value)) {
        consoleLogger.warn(`Policy ${name} in ${file} uses the legacy list syntax, which is not supported; denying`);
        out[name] = '!';
      } else {
        throw new Error(`Invalid policy file ${file}: rule ${name} must be a string`);
      }
    }
    return out;
  }

  /** The parsed rule for `name`, falling back to the "default" rule (oslo Rules.__missing__). */
  resolveRule(name: string): Check | undefined {
    return (this.compiled.get(name) ?? this.compiled.get(DEFAULT_RULE))?.check;
  }

  /**
   * Whether a rule's outcome is the same for every target (only roles, scope and other
   * credential checks): callers may then evaluate it once per request.
   */
  targetFree(rule: string): boolean {
    let v = this.targetFreeMemo.get(rule);
    if (v === undefined) {
      const compiled = this.resolveRule(rule);
      v = !compiled || !compiled.usesTarget(this);
      this.targetFreeMemo.set(rule, v);
    }
    return v;
  }
  private targetFreeMemo = new Map<string, boolean>();

  /** Is a rule of that name registered (Neutron enforces attribute rules only where one exists)? */
  has(rule: string): boolean {
    return this.compiled.has(rule);
  }

  enforce(rule: string, target: Record<string, unknown>, creds: PolicyCredentials): boolean {
    return this.check(rule, target, creds).allowed;
  }

  check(
    rule: string,
    target: Record<string, unknown>,
    creds: PolicyCredentials,
  ): { allowed: boolean; scopeError: boolean } {
    try {
      const own = this.compiled.get(rule);
      const compiled = own ?? this.compiled.get(DEFAULT_RULE);
      if (!compiled) return { allowed: false, scopeError: false };
      let c = this.serviceCredentials(creds);
      // oslo copies system_scope into creds['system'] before checking.
      if (pyTruthy(creds.system_scope) && creds['system'] !== creds.system_scope) {
        c = { ...creds, system: creds.system_scope };
      }
      // Scope types belong to the registered rule that was asked for, not to
      // "default" when we fell back to it.
      if (own?.scopeTypes && this.enforceScope) {
        const tokenScope: ScopeType = pyTruthy(c['system']) ? 'system' : pyTruthy(c.domain_id) ? 'domain' : 'project';
        if (!own.scopeTypes.includes(tokenScope)) return { allowed: false, scopeError: true };
      }
      const t = isPlainObject(target) ? target : {};
      return { allowed: compiled.check.evaluate(t, c, this) === true, scopeError: false };
    } catch (err) {
      // Where oslo would raise out of enforce(): deny instead.
      this.logger.warn(`Error enforcing ${rule}: ${(err as Error).message}; denying`);
      return { allowed: false, scopeError: false };
    }
  }

  /** The credentials with what this service's context adds (see the options); the same object when nothing is missing. */
  serviceCredentials(creds: PolicyCredentials): PolicyCredentials {
    const isAdmin = this.contextIsAdmin && creds.is_admin === undefined;
    const tenant = this.tenantIdCredential && !('tenant_id' in creds);
    if (!isAdmin && !tenant) return creds;
    const c: PolicyCredentials = { ...creds };
    if (isAdmin) c.is_admin = (creds.roles ?? []).includes('admin');
    if (tenant) c.tenant_id = creds.project_id ?? null;
    return c;
  }

  rules(): PolicyDefault[] {
    const out: PolicyDefault[] = [];
    for (const r of this.compiled.values()) {
      if (r.base) {
        out.push({
          ...r.base,
          checkStr: r.checkStr,
          ...(r.base.scopeTypes ? { scopeTypes: [...r.base.scopeTypes] } : {}),
          ...(r.base.operations ? { operations: r.base.operations.map((o) => ({ ...o })) } : {}),
        });
      } else {
        out.push({ name: r.name, checkStr: r.checkStr });
      }
    }
    return out;
  }
}
