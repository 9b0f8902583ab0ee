// YAQL (Yet Another Query Language), written once for Heat's `yaql` function and for workflows:
// evaluateYaql(expression, data) evaluates with `$` bound to data.
import './stdlib.ts';
import { Ctx, type ExtraFunction, evalNode } from './evaluator.ts';
import { parseYaql } from './parser.ts';

export { YaqlError } from './errors.ts';
export { parseYaql } from './parser.ts';
export type { Node as YaqlNode } from './parser.ts';
export type { ExtraFunction } from './evaluator.ts';

/**
 * Evaluates a YAQL expression with `$` = data, `vars` as `$name`, and `functions` added to the
 * standard library (they take precedence; called as f(x) or x.f(), the receiver first). Throws YaqlError.
 */
export function evaluateYaql(
  expression: string,
  data: unknown,
  vars: Record<string, unknown> = {},
  functions: Record<string, ExtraFunction> = {},
): unknown {
  const ast = parseYaql(expression);
  const ctx = new Ctx(null);
  ctx.vars.set('$', data === undefined ? null : data);
  ctx.vars.set('$1', data === undefined ? null : data);
  for (const [k, v] of Object.entries(vars)) ctx.vars.set(k.startsWith('$') ? k : `$${k}`, v);
  for (const [k, f] of Object.entries(functions)) ctx.vars.set(`#fn:${k}`, f);
  const out = evalNode(ast, ctx);
  return out === undefined ? null : out;
}
