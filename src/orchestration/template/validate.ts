// POST /validate with show_nested: the parameters of the templates used as resource types, as Heat's
// Stack.get_nested_parameters shows them ("NestedParameters").
import { isTemplateName, resolveResourceType } from './environment.ts';
import { TemplateError } from './errors.ts';
import { evaluateConditions, resolve } from './functions.ts';
import { parameterView } from './parameters.ts';
import { parseTemplate } from './parse.ts';
import type { Environment, ResolveContext, Template } from './types.ts';
import { isPlainObject } from './util.ts';

function paramValues(t: Template, env: Environment, given: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(t.parameters)) {
    const v = given[name] ?? env.parameters?.[name] ?? env.parameter_defaults?.[name] ?? s.default;
    if (v !== undefined && v !== null) out[name] = v;
  }
  return out;
}

/**
 * For each resource whose type (after the environment's registry) is a template in `files`: the
 * nested template's Description, Parameters (with the parent's property values as "Value"), its
 * Type as written, and its own NestedParameters. Undefined when there is none.
 */
export function nestedParametersView(
  t: Template,
  env: Environment,
  given: Record<string, unknown>,
  files: Record<string, string>,
  path: string[] = [],
  depth = 0,
): Record<string, unknown> | undefined {
  if (depth > 5) return undefined;
  const params = paramValues(t, env, given);
  let conditions: Record<string, boolean> = {};
  try {
    conditions = evaluateConditions(t, params);
  } catch {
    conditions = {};
  }
  const ctx: ResolveContext = {
    params,
    conditions,
    getResource: () => null,
    getAttr: () => null,
    getFile: (n) => files[n],
    stack: { id: '', name: '', projectId: '', region: '' },
  };
  const out: Record<string, unknown> = {};
  for (const [name, r] of Object.entries(t.resources)) {
    const type = resolveResourceType(env, [...path, name], r.type);
    if (!isTemplateName(type) || files[type] === undefined) continue;
    let nested: Template;
    try {
      nested = parseTemplate(files[type], files);
    } catch (e) {
      if (e instanceof TemplateError) continue;
      throw e;
    }
    let props: Record<string, unknown> = {};
    try {
      const p = resolve(r.properties, t, ctx);
      if (isPlainObject(p)) props = p;
    } catch {
      props = {};
    }
    const nestedParams: Record<string, unknown> = {};
    for (const [pn, s] of Object.entries(nested.parameters)) nestedParams[pn] = parameterView(pn, s, undefined, props);
    const view: Record<string, unknown> = { Description: nested.description, Parameters: nestedParams, Type: r.type };
    const childEnv: Environment = { ...env, parameters: {} };
    const inner = nestedParametersView(nested, childEnv, props, files, [...path, name], depth + 1);
    if (inner) view.NestedParameters = inner;
    out[name] = view;
  }
  return Object.keys(out).length ? out : undefined;
}
