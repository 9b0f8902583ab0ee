// A stack as the engine and the API read it: its row, its parsed template and environment, its
// resolved parameters and conditions, the definitions of its active resources and their
// dependency graph (from the template seam, src/orchestration/template/), and how its
// outputs and resource attributes are resolved.
import {
  type Environment,
  type ResolveContext,
  type Template,
  TemplateError,
  conditionEnabled,
  dependencies,
  enabledResources,
  evaluateConditions,
  mergeEnvironments,
  parseEnvironment,
  parseTemplate,
  resolve,
  resolveParameters,
} from '../template/index.ts';
import { HeatError } from '../errors.ts';
import { type ResourceRow, type StackRow, storedKey } from '../stacks.ts';
import type { ResourceRegistry, Resolved } from '../resources/registry.ts';
import type { ResourcePlugin } from '../resources/plugin.ts';

export type ResourceDef = Template['resources'][string];

export interface LoadedStack {
  template: Template;
  env: Environment;
  files: Record<string, string>;
  params: Record<string, unknown>;
  conditions: Record<string, boolean>;
  /** The resources whose condition holds. */
  defs: Record<string, ResourceDef>;
  /** Resource → the resources it depends on (active ones only). */
  deps: Record<string, string[]>;
  /** Resource → what its type resolves to. */
  kinds: Record<string, Resolved>;
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A template error (or any validation failure) as Heat's 400. */
export function asValidationError(e: unknown): unknown {
  if (e instanceof TemplateError) return new HeatError(e.type ?? 'StackValidationFailed', e.message);
  return e;
}

export interface StackIdentity {
  id: string;
  name: string;
  projectId: string;
  region: string;
}

/** The environment a request gives: `environment` (a map or YAML text) and `environment_files` merged in order. */
export function requestEnvironment(
  environment: unknown,
  environmentFiles: string[] | undefined,
  files: Record<string, string>,
): Environment {
  const envs: Environment[] = [];
  for (const f of environmentFiles ?? []) {
    const text = files[f];
    if (text === undefined)
      throw new HeatError('StackValidationFailed', `Environment file ${f} was not given with the files.`);
    envs.push(parseEnvironment(text));
  }
  envs.push(parseEnvironment((environment ?? {}) as string | object));
  return envs.length === 1 ? envs[0]! : mergeEnvironments(...envs);
}

/** Parses, resolves and validates a stack's template against its environment and parameters. */
export async function loadStack(
  registry: ResourceRegistry,
  templateBody: unknown,
  env: Environment,
  files: Record<string, string>,
  given: Record<string, unknown>,
  opts: { strict?: boolean; region?: string } = {},
): Promise<LoadedStack> {
  try {
    if (templateBody === undefined || templateBody === null || templateBody === '')
      throw new HeatError('StackValidationFailed', 'No template specified');
    const template = parseTemplate(templateBody as string | object, files);
    const params = await resolveParameters(template, env, given);
    const conditions = evaluateConditions(template, params);
    const defs: Record<string, ResourceDef> = {};
    for (const name of enabledResources(template, conditions)) defs[name] = template.resources[name]!;
    const all = dependencies(template, conditions);
    const deps: Record<string, string[]> = {};
    for (const name of Object.keys(defs)) {
      const list = (all[name] ?? []).filter((d) => d in defs);
      for (const d of all[name] ?? [])
        if (!(d in template.resources))
          throw new HeatError('InvalidTemplateReference', `The specified reference "${d}" (in ${name}) is incorrect.`);
      deps[name] = [...new Set(list)];
    }
    checkCycles(deps);
    const kinds: Record<string, Resolved> = {};
    const registryMap = (env.resource_registry ?? {}) as Record<string, unknown>;
    for (const [name, def] of Object.entries(defs)) {
      kinds[name] = registry.resolve(def.type, name, registryMap, files);
      const k = kinds[name]!;
      if ('plugin' in k && opts.strict !== false) staticCheck(name, k.plugin, def.properties);
      if ('plugin' in k && k.plugin.type === 'OS::Heat::Stack' && opts.region)
        checkStackResource(def.properties, files, opts.region);
    }
    addSubnetDependencies(defs, kinds, deps);
    return { template, env, files, params, conditions, defs, deps, kinds };
  } catch (e) {
    throw asValidationError(e);
  }
}

/**
 * OS::Heat::Stack, as Heat's validate does: a region other than this cloud's has no Heat
 * endpoint, and a literal (or get_file) template must parse, both answered 400 at create.
 */
function checkStackResource(props: unknown, files: Record<string, string>, region: string) {
  if (!isMap(props)) return;
  const ctx = props.context;
  const where = isMap(ctx) && typeof ctx.region_name === 'string' ? ctx.region_name : region;
  if (where !== region)
    throw new HeatError(
      'StackValidationFailed',
      `Cannot establish connection to Heat endpoint at region "${where}" due to "public endpoint for orchestration service in ${where} region not found"`,
    );
  const t = props.template;
  const body = typeof t === 'string' ? t : isMap(t) && typeof t.get_file === 'string' ? files[t.get_file] : undefined;
  if (body === undefined) return;
  try {
    parseTemplate(body, files);
  } catch (e) {
    throw new HeatError(
      'StackValidationFailed',
      `Failed validating stack template using Heat endpoint at region "${region}" due to "ERROR: ${(e as Error).message}"`,
    );
  }
}

/** What can be checked before anything is resolved: property names that the schema does not know. */
function staticCheck(name: string, plugin: ResourcePlugin, props: unknown) {
  if (plugin.anyProperties || !isMap(props)) return;
  for (const k of Object.keys(props))
    if (!(k in plugin.properties))
      throw new HeatError(
        'StackValidationFailed',
        `Property error: resources.${name}.properties: Unknown Property ${k}`,
      );
  for (const [k, s] of Object.entries(plugin.properties))
    if (s.required && s.default === undefined && !(k in props))
      throw new HeatError(
        'StackValidationFailed',
        `Property error: resources.${name}.properties: Property ${k} not assigned`,
      );
}

/** The resource a `get_resource`/`Ref` snippet names, if it is one. */
function refName(v: unknown): string | undefined {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length !== 1) return undefined;
  const r = o.get_resource ?? o.Ref;
  return typeof r === 'string' ? r : undefined;
}

/**
 * Heat's implicit dependencies (Server/Port add_dependencies): a server or port on a network of the
 * stack also depends on the stack's subnets of that network, so the port it makes has its IP before
 * and loses it before the subnet is deleted; an ExtraRouteSet depends on the stack's interfaces of
 * its router (its next hops are reached through them).
 */
function addSubnetDependencies(
  defs: Record<string, ResourceDef>,
  kinds: Record<string, Resolved>,
  deps: Record<string, string[]>,
) {
  const typeOf = (n: string) => {
    const k = kinds[n];
    return k && 'plugin' in k ? k.plugin.type : defs[n]!.type;
  };
  const subnetsOf = new Map<string, string[]>();
  for (const [name, def] of Object.entries(defs)) {
    if (typeOf(name) !== 'OS::Neutron::Subnet') continue;
    const p = (def.properties ?? {}) as Record<string, unknown>;
    const net = refName(p.network) ?? refName(p.network_id);
    if (net) subnetsOf.set(net, [...(subnetsOf.get(net) ?? []), name]);
  }
  for (const [name, def] of Object.entries(defs)) {
    const type = typeOf(name);
    const p = (def.properties ?? {}) as Record<string, unknown>;
    let nets: Array<string | undefined> = [];
    if (type === 'OS::Nova::Server' && Array.isArray(p.networks))
      nets = (p.networks as unknown[]).map((n) => {
        const m = (n ?? {}) as Record<string, unknown>;
        return refName(m.network) ?? refName(m.uuid);
      });
    else if (type === 'OS::Neutron::Port') nets = [refName(p.network) ?? refName(p.network_id)];
    else if (type === 'OS::Neutron::ExtraRouteSet') {
      // Its next hops are reached through the router's interfaces (ExtraRouteSet.add_dependencies).
      const router = refName(p.router);
      for (const [other, d] of Object.entries(defs)) {
        const q = (d.properties ?? {}) as Record<string, unknown>;
        if (typeOf(other) === 'OS::Neutron::RouterInterface' && router && refName(q.router) === router)
          if (!(deps[other] ?? []).includes(name) && !(deps[name] ?? []).includes(other))
            deps[name] = [...(deps[name] ?? []), other];
      }
    }
    for (const net of nets) {
      if (!net) continue;
      for (const subnet of subnetsOf.get(net) ?? [])
        if (subnet !== name && !(deps[subnet] ?? []).includes(name) && !(deps[name] ?? []).includes(subnet))
          deps[name] = [...(deps[name] ?? []), subnet];
    }
  }
}

function checkCycles(deps: Record<string, string[]>) {
  const state = new Map<string, 1 | 2>();
  const visit = (n: string, trail: string[]) => {
    if (state.get(n) === 2) return;
    if (state.get(n) === 1)
      throw new HeatError('StackValidationFailed', `Circular Dependency Found: ${[...trail, n].join(' -> ')}`);
    state.set(n, 1);
    for (const d of deps[n] ?? []) visit(d, [...trail, n]);
    state.set(n, 2);
  };
  for (const n of Object.keys(deps)) visit(n, []);
}

/** The reference id `get_resource` answers for a stored resource. */
export function refIdOf(
  r: Pick<ResourceRow, 'name' | 'physical_resource_id' | 'data'>,
  plugin?: ResourcePlugin,
): string | null {
  if (plugin?.refId) {
    try {
      return plugin.refId({ physicalId: r.physical_resource_id, data: r.data, name: r.name } as never);
    } catch {
      /* the default below */
    }
  }
  return r.physical_resource_id ?? r.name;
}

function followPath(v: unknown, path: unknown[]): unknown {
  let cur = v;
  for (const p of path) {
    if (cur === null || cur === undefined) return null;
    if (Array.isArray(cur)) cur = cur[Number(p)];
    else if (isMap(cur)) cur = cur[String(p)];
    else if (typeof cur === 'string') {
      try {
        const parsed = JSON.parse(cur);
        cur = isMap(parsed) || Array.isArray(parsed) ? (parsed as Record<string, unknown>)[String(p)] : null;
      } catch {
        return null;
      }
    } else return null;
  }
  return cur ?? null;
}

/** The value of a resource's attribute from what the engine stored (get_attr). */
export function attributeOf(
  r: ResourceRow | undefined,
  attr: string,
  path: unknown[],
  plugin?: ResourcePlugin,
): unknown {
  if (!r) return null;
  const failed = (r.data.output_errors as Record<string, string> | undefined)?.[attr];
  if (failed) throw new Error(`Error in ${r.name} output ${attr}: ${failed}`);
  let v: unknown;
  if (attr === 'show') v = r.attributes.show ?? r.attributes;
  else if (attr in r.attributes) v = r.attributes[attr];
  else if (plugin?.attribute)
    v = plugin.attribute(
      { physicalId: r.physical_resource_id, data: r.data, attributes: r.attributes, properties: r.properties },
      attr,
    );
  else v = null;
  return followPath(v, path);
}

/** The resolve context of a stack over the given resource rows. */
export function resolveContext(
  loaded: LoadedStack,
  stack: StackIdentity,
  rows: Map<string, ResourceRow>,
  pluginOf: (name: string) => ResourcePlugin | undefined,
): ResolveContext {
  return {
    params: loaded.params,
    conditions: loaded.conditions,
    getResource: (name) => {
      const r = rows.get(name);
      return r ? refIdOf(r, pluginOf(name)) : null;
    },
    getAttr: (name, attr, path) => attributeOf(rows.get(name), attr, path ?? [], pluginOf(name)),
    getFile: (name) => loaded.files[name],
    stack,
  };
}

/** A stack's outputs, resolved over its stored resources; an output that fails carries output_error. */
export function resolveOutputs(
  loaded: LoadedStack,
  stack: StackIdentity,
  rows: Map<string, ResourceRow>,
  pluginOf: (name: string) => ResourcePlugin | undefined,
): Array<{ output_key: string; output_value: unknown; description: string; output_error?: string }> {
  const ctx = resolveContext(loaded, stack, rows, pluginOf);
  const out: Array<{ output_key: string; output_value: unknown; description: string; output_error?: string }> = [];
  for (const [key, o] of Object.entries(loaded.template.outputs)) {
    if (o.condition !== undefined && !conditionEnabled(loaded.template, o.condition, loaded.conditions)) continue;
    try {
      out.push({
        output_key: key,
        output_value: resolve(o.value, loaded.template, ctx) ?? null,
        description: o.description ?? 'No description given',
      });
    } catch (e) {
      out.push({
        output_key: key,
        output_value: null,
        description: o.description ?? 'No description given',
        output_error: (e as Error).message,
      });
    }
  }
  return out;
}

/** The identity of a stack row for the template seam. */
export function identityOf(row: StackRow, region: string): StackIdentity {
  return { id: row.id, name: row.name, projectId: row.project_id, region };
}

/** Loads a stored stack (its template, environment and parameters as stored), without strict checks. */
export function loadStored(registry: ResourceRegistry, row: StackRow): Promise<LoadedStack> {
  const load = () =>
    loadStack(registry, row.template, parseEnvironment(row.environment), row.files, row.params, { strict: false });
  // A row as read from the database: the same stored stack is loaded once (a LoadedStack is not
  // changed by its users; the convergence engine already shares one between the nodes of a traversal).
  const key = storedKey(row);
  if (key === null) return load();
  let cache = loadedCache.get(registry);
  if (!cache) loadedCache.set(registry, (cache = new Map()));
  let p = cache.get(key);
  if (!p) {
    p = load();
    if (cache.size >= 32) cache.clear();
    cache.set(key, p);
    const c = cache;
    p.catch(() => c.delete(key));
  }
  return p;
}
const loadedCache = new WeakMap<ResourceRegistry, Map<string, Promise<LoadedStack>>>();

/** Heat's template resource: a nested stack whose parameters are the resource's properties. */
export function templateResourcePlugin(type: string): ResourcePlugin {
  return {
    type,
    anyProperties: true,
    properties: {},
    attributes: {},
    async create() {},
    async delete(r) {
      await r.nested.delete();
    },
    refId: (r) => (r.data.stack_id_output as string) ?? r.physicalId,
    attribute: (state, name) => (state.data.outputs as Record<string, unknown> | undefined)?.[name] ?? null,
  };
}

/** What a resource of a loaded stack runs as (a plugin, or a template resource). */
export function pluginOfLoaded(loaded: LoadedStack, name: string): ResourcePlugin {
  const k = loaded.kinds[name];
  if (!k) return templateResourcePlugin('unknown');
  return 'plugin' in k ? k.plugin : templateResourcePlugin(loaded.defs[name]?.type ?? k.templateName);
}
