// YAQL (Yet Another Query Language), written once for Heat's `yaql` function and for workflows:
// evaluateYaql(expression, data) evaluates with `$` bound to data.
import './stdlib.ts';
import { Ctx, evalNode } from './evaluator.ts';
import { parseYaql } from './parser.ts';

export { YaqlError } from './errors.ts';
export { parseYaql } from './parser.ts';
export type { Node as YaqlNode } from './parser.ts';

/** Evaluates a YAQL expression with `$` = data (and `vars` as `$name`). Throws YaqlError. */
export function evaluateYaql(expression: string, data: unknown, vars: Record<string, unknown> = {}): unknown {
  const ast = parseYaql(expression);
  const ctx = new Ctx(null);
  ctx.vars.set('$', data === undefined ? null : data);
  ctx.vars.set('$1', data === undefined ? null : data);
  for (const [k, v] of Object.entries(vars)) ctx.vars.set(k.startsWith('$') ? k : `$${k}`, v);
  const out = evalNode(ast, ctx);
  return out === undefined ? null : out;
}
