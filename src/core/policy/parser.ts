// The parser of oslo.policy's rule language (oslo_policy/_parser.py):
//
//  - The text of a rule is split on whitespace; leading "(" and trailing ")" are peeled off each
//    token; "and" / "or" / "not" (any case) are operators; a token wrapped in quotes is a "string"
//    token (which no grammar production accepts, so it makes the rule unparseable); anything else
//    is a single check.
//  - Tokens are combined by oslo's greedy shift/reduce parser, so precedence is:
//    parentheses > not > and > or  (`a or b and c` == `a or (b and c)`).
//  - "" (exactly empty) means always allow; a rule that fails to parse (including a
//    whitespace-only rule) means deny, and is logged.
//  - Checks: `@` (allow), `!` (deny), `rule:NAME`, `role:NAME` (case insensitive), the kinds the
//    service adds (PolicyEngineOptions.checks), and the generic `kind:match` (checks.ts).
import {
  AndCheck,
  Check,
  type CheckFactory,
  FalseCheck,
  GenericCheck,
  NotCheck,
  OrCheck,
  RoleCheck,
  RuleCheck,
  TrueCheck,
} from './checks.ts';

export interface PolicyLogger {
  warn(message: string): void;
}

/** Warnings to the console, where no logger was given. */
export const consoleLogger: PolicyLogger = {
  warn: (message: string) => console.warn(`[policy] ${message}`),
};

/** The check kinds a service adds to the language, by kind (oslo's register()). */
export type CheckFactories = Readonly<Record<string, CheckFactory>>;

const NO_CHECKS: CheckFactories = {};

type TokenType = '(' | ')' | 'and' | 'or' | 'not' | 'string' | 'check' | 'and_expr' | 'or_expr';
type Token = { type: TokenType; value: Check | string };

/** Kinds that oslo implements as remote (HTTP) calls; unsupported here. */
const UNSUPPORTED_KINDS = new Set(['http', 'https']);

function parseCheck(text: string, logger: PolicyLogger, checks: CheckFactories): Check {
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
  const custom = Object.hasOwn(checks, kind) ? checks[kind] : undefined;
  if (custom) return custom(match);
  if (UNSUPPORTED_KINDS.has(kind)) {
    logger.warn(`Unsupported check kind ${kind} in ${text}; denying`);
    return new FalseCheck();
  }
  return new GenericCheck(kind, match);
}

function* tokenize(rule: string, logger: PolicyLogger, checks: CheckFactories): Generator<Token> {
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
        yield { type: 'check', value: parseCheck(clean, logger, checks) };
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
export function parseRule(
  checkStr: string,
  logger: PolicyLogger = consoleLogger,
  checks: CheckFactories = NO_CHECKS,
): Check {
  if (checkStr === '') return new TrueCheck();
  const stack: Token[] = [];
  for (const tok of tokenize(checkStr, logger, checks)) {
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
