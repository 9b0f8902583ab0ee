// The resource registry (Heat's heat.engine.environment.ResourceRegistry): the built-in plugins,
// those loaded from `orchestration.pluginDirs`, and the environment's resource_registry
// (aliases, wildcards, template resources, per-resource entries and hooks).
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from '../../core/log.ts';
import { fnmatch } from '../../core/python.ts';
import { HeatError } from '../errors.ts';
import { AODH_RESOURCES } from './aodh.ts';
import { HEAT_RESOURCES } from './heat.ts';
import { OPENSTACK_RESOURCES } from './openstack.ts';
import { CINDER_RESOURCES } from './cinder.ts';
import { SOFTWARE_RESOURCES } from './software.ts';
import type { PluginModule, ResourcePlugin } from './plugin.ts';

export type RegistryMap = Record<string, unknown>;

/** What a resource type resolves to: a plugin, or a template (a template resource). */
export type Resolved = { plugin: ResourcePlugin } | { template: string; templateName: string };

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export class ResourceRegistry {
  readonly plugins = new Map<string, ResourcePlugin>();

  constructor(extra: ResourcePlugin[] = []) {
    for (const p of [
      ...HEAT_RESOURCES,
      ...OPENSTACK_RESOURCES,
      ...CINDER_RESOURCES,
      ...AODH_RESOURCES,
      ...SOFTWARE_RESOURCES,
      ...extra,
    ])
      this.plugins.set(p.type, p);
  }

  /** Loads every plugin module of the given directories (Heat's plugin_dirs). */
  async loadPluginDirs(dirs: string[], log: Logger) {
    for (const dir of dirs) {
      if (!fs.existsSync(dir)) {
        log.warn({ dir }, 'orchestration plugin directory does not exist');
        continue;
      }
      for (const f of fs.readdirSync(dir).sort()) {
        if (!/\.(ts|js|mjs)$/.test(f) || f.endsWith('.d.ts') || f.includes('.test.')) continue;
        const mod = (await import(pathToFileURL(path.join(dir, f)).href)) as PluginModule;
        const list = mod.resources ?? (Array.isArray(mod.default) ? mod.default : mod.default ? [mod.default] : []);
        for (const p of list) {
          if (!p || typeof p.type !== 'string' || typeof p.create !== 'function' || typeof p.delete !== 'function') {
            log.warn({ file: f }, 'not a resource plugin: skipped');
            continue;
          }
          this.plugins.set(p.type, p);
          log.info({ type: p.type, file: f }, 'resource plugin loaded');
        }
      }
    }
  }

  /** The types a user may list (GET /resource_types). */
  types(): ResourcePlugin[] {
    return [...this.plugins.values()].sort((a, b) => a.type.localeCompare(b.type));
  }

  /**
   * What the type of resource `name` resolves to in an environment's resource_registry (per-resource
   * entries first, then the global ones, following aliases and `Prefix::*` wildcards).
   */
  resolve(type: string, name: string, registry: RegistryMap, files: Record<string, string>): Resolved {
    let current = type;
    const perResource: Record<string, unknown> = {};
    const resources = isMap(registry.resources) ? registry.resources : {};
    for (const [pattern, entry] of Object.entries(resources))
      if (isMap(entry) && fnmatch(pattern, name)) Object.assign(perResource, entry);
    const seen = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const mapped = mapType(current, perResource) ?? mapType(current, registry);
      if (mapped === undefined || mapped === current || seen.has(mapped)) break;
      seen.add(current);
      current = mapped;
    }
    const plugin = this.plugins.get(current);
    if (plugin) return { plugin };
    const text = files[current] ?? files[current.replace(/^file:\/\//, '')];
    if (text !== undefined) return { template: text, templateName: current };
    if (/\.(ya?ml|template|json)$/.test(current) || /^(https?|file):/.test(current))
      throw new HeatError(
        'StackValidationFailed',
        `Could not fetch remote template "${current}": the file was not given with the template.`,
      );
    throw new HeatError(
      'StackValidationFailed',
      `Failed to validate: resources.${name}: The Resource Type (${type}) could not be found.`,
    );
  }

  /** The hooks set on a resource (resource_registry.resources.<glob>.hooks). */
  hooks(name: string, registry: RegistryMap): string[] {
    const out: string[] = [];
    const resources = isMap(registry.resources) ? registry.resources : {};
    for (const [pattern, entry] of Object.entries(resources)) {
      if (!isMap(entry) || !fnmatch(pattern, name)) continue;
      const h = entry.hooks;
      if (typeof h === 'string') out.push(h);
      else if (Array.isArray(h)) out.push(...h.map(String));
    }
    return out;
  }

  /** The resource_registry a nested stack under resource `name` sees: the global entries, and `resources.<name>` as its own. */
  nestedRegistry(name: string, registry: RegistryMap): RegistryMap {
    const out: RegistryMap = {};
    for (const [k, v] of Object.entries(registry)) if (k !== 'resources') out[k] = v;
    const resources = isMap(registry.resources) ? registry.resources : {};
    const own: Record<string, unknown> = {};
    for (const [pattern, entry] of Object.entries(resources))
      if (isMap(entry) && fnmatch(pattern, name)) for (const [k, v] of Object.entries(entry)) if (isMap(v)) own[k] = v;
    out.resources = own;
    return out;
  }
}

function mapType(type: string, map: Record<string, unknown>): string | undefined {
  const exact = map[type];
  if (typeof exact === 'string') return exact;
  for (const [k, v] of Object.entries(map)) {
    if (typeof v !== 'string' || !k.endsWith('*')) continue;
    const prefix = k.slice(0, -1);
    if (type.startsWith(prefix)) return v.endsWith('*') ? v.slice(0, -1) + type.slice(prefix.length) : v;
  }
  return undefined;
}
