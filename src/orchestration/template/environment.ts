// Environments (heat/common/environment_format.py, environment_util.py, engine/environment.py):
// parsing, merging in the order heatclient and the engine use, and the resource registry lookups
// (aliases, wildcards, per-resource entries, hooks).
import { TemplateError } from './errors.ts';
import type { Environment, ParameterSchema } from './types.ts';
import { isPlainObject, pyStr } from './util.ts';
import { loadYaml } from './yamlload.ts';

export const ENV_SECTIONS = [
  'parameters',
  'resource_registry',
  'parameter_defaults',
  'encrypted_param_names',
  'event_sinks',
  'parameter_merge_strategies',
];

function envError(message: string): TemplateError {
  return new TemplateError(message, { type: 'InvalidEnvironment' });
}

export function emptyEnvironment(): Environment {
  return { parameters: {}, parameter_defaults: {}, resource_registry: {}, event_sinks: [], encrypted_param_names: [] };
}

/** Parses an environment (text or object) and fills in the missing sections. Throws TemplateError. */
export function parseEnvironment(body: string | object | null | undefined): Environment {
  let data: unknown = body;
  if (body === null || body === undefined) data = {};
  else if (typeof body === 'string') {
    try {
      data = loadYaml(body);
    } catch (e) {
      throw envError((e as Error).message);
    }
    if (data === null || data === undefined) data = {};
  }
  if (!isPlainObject(data)) throw envError('The environment is not a valid YAML mapping data type.');
  for (const k of Object.keys(data)) {
    if (!ENV_SECTIONS.includes(k)) throw envError(`environment has wrong section "${k}"`);
    if (data[k] === null || data[k] === undefined) throw envError(`environment has empty section "${k}"`);
  }
  const env = emptyEnvironment();
  if (data.parameters !== undefined) env.parameters = { ...(data.parameters as Record<string, unknown>) };
  if (data.parameter_defaults !== undefined) {
    env.parameter_defaults = { ...(data.parameter_defaults as Record<string, unknown>) };
  }
  if (data.resource_registry !== undefined) {
    env.resource_registry = structuredClone(data.resource_registry as Record<string, unknown>);
  }
  if (data.event_sinks !== undefined) env.event_sinks = [...(data.event_sinks as unknown[])];
  if (data.encrypted_param_names !== undefined)
    env.encrypted_param_names = [...(data.encrypted_param_names as string[])];
  if (data.parameter_merge_strategies !== undefined) {
    env.parameter_merge_strategies = { ...(data.parameter_merge_strategies as Record<string, unknown>) };
  }
  return env;
}

function deepMerge(a: unknown, b: unknown): unknown {
  if (isPlainObject(a) && isPlainObject(b)) {
    const out: Record<string, unknown> = { ...a };
    for (const [k, v] of Object.entries(b)) out[k] = Object.hasOwn(a, k) ? deepMerge(a[k], v) : structuredClone(v);
    return out;
  }
  return structuredClone(b);
}

const STRATEGIES = ['overwrite', 'merge', 'deep_merge'];

function mergeParam(
  name: string,
  oldV: unknown,
  newV: unknown,
  strategy: string,
  schema: ParameterSchema | undefined,
): unknown {
  if (strategy === 'overwrite' || oldV === undefined) return newV;
  const type = schema?.type;
  if (type === 'json' || (isPlainObject(oldV) && isPlainObject(newV))) {
    const o = typeof oldV === 'string' ? JSON.parse(oldV) : oldV;
    const n = typeof newV === 'string' ? JSON.parse(newV) : newV;
    if (strategy === 'deep_merge') return deepMerge(o, n);
    if (isPlainObject(o) && isPlainObject(n)) return { ...o, ...n };
    if (Array.isArray(o) && Array.isArray(n)) return [...o, ...n];
    return n;
  }
  if (type === 'comma_delimited_list' || Array.isArray(oldV)) {
    const l = (x: unknown) => (Array.isArray(x) ? x.map(pyStr) : pyStr(x).split(','));
    return [...l(oldV), ...l(newV)].join(',');
  }
  if (type === 'number') return Number(oldV) + Number(newV);
  if (type === 'boolean') return pyStr(oldV).toLowerCase() === 'true' || pyStr(newV).toLowerCase() === 'true';
  if (strategy === 'deep_merge') {
    throw envError(`Invalid merge strategy '${strategy}' for parameter '${name}'.`);
  }
  return pyStr(oldV) + pyStr(newV);
}

/**
 * Merges environments in order (later wins), as the engine merges `environment_files` then the
 * request's `environment`: parameters and parameter_defaults by their merge strategies (default
 * overwrite), resource_registry deeply, event_sinks and encrypted_param_names appended.
 * `schemas` lets merge strategies know the parameter types.
 */
export function mergeEnvironments(
  ...envs: Array<Environment | { schemas: Record<string, ParameterSchema> }>
): Environment {
  const out = emptyEnvironment();
  let schemas: Record<string, ParameterSchema> = {};
  for (const e of envs) {
    if ('schemas' in e) {
      schemas = e.schemas;
      continue;
    }
    const strategies = e.parameter_merge_strategies ?? {};
    const def = String(strategies.default ?? 'overwrite');
    for (const section of ['parameters', 'parameter_defaults'] as const) {
      for (const [k, v] of Object.entries(e[section] ?? {})) {
        const s = String(strategies[k] ?? def);
        if (!STRATEGIES.includes(s)) {
          throw envError(`Invalid merge strategy '${s}' for parameter '${k}'.`);
        }
        out[section][k] = mergeParam(k, out[section][k], v, s, schemas[k]);
      }
    }
    out.resource_registry = deepMerge(out.resource_registry, e.resource_registry ?? {}) as Record<string, unknown>;
    out.event_sinks = [...out.event_sinks, ...(e.event_sinks ?? [])];
    for (const n of e.encrypted_param_names ?? [])
      if (!out.encrypted_param_names.includes(n)) out.encrypted_param_names.push(n);
  }
  return out;
}

/** Python fnmatch.fnmatchcase. */
export function fnmatch(name: string, pattern: string): boolean {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const j = pattern.indexOf(']', i + 1);
      if (j < 0) re += '\\[';
      else {
        let body = pattern.slice(i + 1, j);
        if (body.startsWith('!')) body = `^${body.slice(1)}`;
        re += `[${body.replace(/\\/g, '\\\\')}]`;
        i = j;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's').test(name);
}

/** Whether a registry value names a template (a template resource) rather than a resource type. */
export function isTemplateName(v: string): boolean {
  return /\.(yaml|yml|template|json)$/.test(v) || v.includes('/');
}

function lookup(map: Record<string, unknown>, type: string): string | undefined {
  if (typeof map[type] === 'string') return map[type] as string;
  // wildcards: "OS::Networking::*": "OS::Neutron::*"
  for (const [k, v] of Object.entries(map)) {
    if (typeof v !== 'string' || !k.endsWith('*')) continue;
    const prefix = k.slice(0, -1);
    if (type.startsWith(prefix)) return v.endsWith('*') ? v.slice(0, -1) + type.slice(prefix.length) : v;
  }
  return undefined;
}

/** The registry entries that apply to a resource: `resources` entries whose name (glob) matches, nested by path. */
function resourceEntries(registry: Record<string, unknown>, path: string[]): Array<Record<string, unknown>> {
  let levels: Array<Record<string, unknown>> = [registry];
  for (const name of path) {
    const next: Array<Record<string, unknown>> = [];
    for (const l of levels) {
      const res = l.resources;
      if (!isPlainObject(res)) continue;
      for (const [pattern, entry] of Object.entries(res)) {
        if (isPlainObject(entry) && fnmatch(name, pattern)) next.push(entry);
      }
    }
    levels = next;
  }
  return levels;
}

/**
 * The type a resource of `type` named by `path` (names from the root stack, the last one the resource)
 * really is after the registry: per-resource entries first, then global aliases and wildcards, followed
 * until a name maps to itself. A template name (isTemplateName) means a template resource.
 */
export function resolveResourceType(env: Environment, path: string | string[], type: string): string {
  const p = typeof path === 'string' ? [path] : path;
  const registry = env.resource_registry ?? {};
  let current = type;
  const seen = new Set<string>();
  for (let i = 0; i < 20; i++) {
    if (seen.has(current)) break;
    seen.add(current);
    let next: string | undefined;
    for (const entry of resourceEntries(registry, p)) {
      next = lookup(entry, current);
      if (next !== undefined) break;
    }
    if (next === undefined) next = lookup(registry, current);
    if (next === undefined || next === current) break;
    current = next;
    if (isTemplateName(current)) break;
  }
  return current;
}

export const HOOK_TYPES = ['pre-create', 'pre-update', 'pre-delete', 'post-create', 'post-update', 'post-delete'];

/** The hooks set for a resource (by its path of names from the root stack), e.g. ['pre-create']. */
export function resourceHooks(env: Environment, path: string | string[]): string[] {
  const p = typeof path === 'string' ? [path] : path;
  const out = new Set<string>();
  for (const entry of resourceEntries(env.resource_registry ?? {}, p)) {
    const h = entry.hooks;
    for (const x of Array.isArray(h) ? h : h === undefined || h === null ? [] : [h]) {
      if (typeof x === 'string' && HOOK_TYPES.includes(x)) out.add(x);
    }
  }
  return [...out];
}

/** Heat's check of hook names in resource_registry: 'Invalid hook type "x" for resource breakpoint, ...'. */
export function validateHooks(env: Environment): void {
  const walk = (reg: unknown, path: string[]) => {
    if (!isPlainObject(reg) || !isPlainObject(reg.resources)) return;
    for (const [name, entry] of Object.entries(reg.resources)) {
      if (!isPlainObject(entry)) continue;
      const h = entry.hooks;
      for (const x of Array.isArray(h) ? h : h === undefined || h === null ? [] : [h]) {
        if (!HOOK_TYPES.includes(String(x))) {
          throw envError(
            `Invalid hook type "${pyStr(x)}" for ${[...path, name].join('.')} resource breakpoint, acceptable hook types are: ${HOOK_TYPES.map((t) => `'${t}'`).join(', ')}`,
          );
        }
      }
      walk(entry, [...path, name]);
    }
  };
  walk(env.resource_registry, []);
}

/** The environment as GET /stacks/{..}/environment shows it (all sections present). */
export function environmentView(env: Environment): Record<string, unknown> {
  const rr = { ...(env.resource_registry ?? {}) };
  if (!('resources' in rr)) rr.resources = {};
  const out: Record<string, unknown> = {
    parameters: env.parameters ?? {},
    parameter_defaults: env.parameter_defaults ?? {},
    resource_registry: rr,
    event_sinks: env.event_sinks ?? [],
    encrypted_param_names: env.encrypted_param_names ?? [],
  };
  return out;
}

/**
 * The engine's env_util.merge_environments: the request's environment (its `parameters` already
 * holding the request's `parameters`), then each of `environment_files` (their text in `files`)
 * merged over it in order. A missing file: InvalidEnvironment naming it.
 */
export function mergeEnvironmentFiles(
  requestEnv: Environment,
  environmentFiles: string[] | undefined,
  files: Record<string, string>,
  schemas: Record<string, ParameterSchema> = {},
): Environment {
  const envs: Environment[] = [requestEnv];
  for (const name of environmentFiles ?? []) {
    const text = files[name];
    if (text === undefined)
      throw envError(`Could not fetch remote template "${name}": environment file not found in files`);
    envs.push(parseEnvironment(text));
  }
  return mergeEnvironments({ schemas }, ...envs);
}
