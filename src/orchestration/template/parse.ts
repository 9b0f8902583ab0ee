// parseTemplate: text or object → Template, with Heat's structural validation and messages
// (heat/common/template_format.py, heat/engine/template.py, hot/template.py, cfn/template.py).
import { TemplateError, invalidVersion } from './errors.ts';
import { checkFunctions } from './functions.ts';
import { parseParameterSchemas, validateParameterGroups } from './parameters.ts';
import type { OutputDefinition, ResourceDefinition, Template } from './types.ts';
import { isPlainObject, pyTypeName } from './util.ts';
import { type VersionInfo, VERSIONS, versionName } from './versions.ts';
import { loadJsonOrYaml } from './yamlload.ts';

export const MAX_TEMPLATE_SIZE = 524288;
export const MAX_RESOURCES_PER_STACK = 1000;

/** Heat's template_format.parse: the text → a mapping with a version key. */
export function loadTemplate(body: string | object, url?: string): Record<string, unknown> {
  let data: unknown;
  if (typeof body === 'string') {
    if (body.length > MAX_TEMPLATE_SIZE) {
      throw new TemplateError(
        `Template size (${body.length} bytes) exceeds maximum allowed size (${MAX_TEMPLATE_SIZE} bytes).`,
        { type: 'RequestLimitExceeded' },
      );
    }
    try {
      data = loadJsonOrYaml(body);
    } catch (e) {
      throw new TemplateError(`Error parsing template ${url ?? '[root stack]'} ${(e as Error).message}`, {
        type: 'TemplateParseError',
      });
    }
    if (data === null || data === undefined) data = {};
  } else data = body;
  if (!isPlainObject(data)) {
    throw new TemplateError('The template is not a JSON object or YAML mapping.', { type: 'TemplateParseError' });
  }
  if (!('HeatTemplateFormatVersion' in data || 'heat_template_version' in data || 'AWSTemplateFormatVersion' in data)) {
    throw new TemplateError('Template format version not found.', { type: 'TemplateParseError' });
  }
  return data;
}

/** Heat's get_version + get_template_class. */
export function detectVersion(data: Record<string, unknown>): VersionInfo {
  const keys = [...new Set(VERSIONS.map((v) => v.key))];
  const present = keys.filter((k) => typeof data[k] === 'string');
  if (present.length > 1) throw invalidVersion(`Ambiguous versions (${present.join(', ')})`);
  if (present.length === 0) throw invalidVersion('Template version was not provided');
  const key = present[0];
  const value = data[key] as string;
  const found = VERSIONS.find((v) => v.key === key && (v.date === value || v.aliases.includes(value)));
  if (found) return found;
  const available = VERSIONS.filter((v) => v.key === key)
    .flatMap((v) => [v.date, ...v.aliases])
    .sort();
  const list = available.join(', ');
  throw invalidVersion(
    available.length > 1
      ? `"${key}: ${value}". "${key}" should be one of: ${list}`
      : `"${key}: ${value}". "${key}" should be: ${list}`,
  );
}

function section(data: Record<string, unknown>, name: string): Record<string, unknown> {
  const s = data[name];
  if (s === null || s === undefined) return {};
  return s as Record<string, unknown>;
}

/**
 * HOTemplate.validate_section: an entry of the section `section` is a map (`missing` when it is empty) whose keys
 * are all `allowed` ones of a `kind` definition.
 */
function validateEntry(
  section: string,
  kind: string,
  entry: unknown,
  allowed: readonly string[],
  missing: string,
): asserts entry is Record<string, unknown> {
  if (!entry) throw new TemplateError(missing);
  if (!isPlainObject(entry))
    throw new TemplateError(
      `"${section}" must contain a map of ${kind} maps. Found a [<class '${pyTypeName(entry)}'>] instead`,
    );
  for (const k of Object.keys(entry))
    if (!allowed.includes(k)) throw new TemplateError(`"${k}" is not a valid keyword inside a ${kind} definition`);
}

function hotResource(v: VersionInfo, name: string, snippet: unknown): ResourceDefinition {
  const path = ['resources', name];
  // HOTemplate.validate_section, then the CFN-side check of Template.validate
  validateEntry('resources', 'resource', snippet, v.resourceKeys, 'Each resource must contain a type key.');
  if (!('type' in snippet)) throw new TemplateError('Each resource must contain a type key.');
  if (!snippet.type) throw new TemplateError('Each Resource must contain a Type key.');
  return resourceFrom(v, name, path, {
    type: snippet.type,
    hasType: 'type' in snippet,
    properties: snippet.properties,
    metadata: snippet.metadata,
    depends_on: snippet.depends_on,
    deletion_policy: snippet.deletion_policy,
    update_policy: snippet.update_policy,
    description: snippet.description,
    condition: snippet.condition,
    hasCondition: 'condition' in snippet,
    external_id: snippet.external_id,
    keys: { type: 'type', properties: 'properties', metadata: 'metadata', depends_on: 'depends_on' },
  });
}

function cfnResource(v: VersionInfo, name: string, snippet: unknown): ResourceDefinition {
  const path = ['Resources', name];
  if (!isPlainObject(snippet)) {
    if (!snippet) throw new TemplateError('Each Resource must contain a Type key.');
    throw new TemplateError(`Resources must contain Resource. Found a [<class '${pyTypeName(snippet)}'>] instead`);
  }
  const bad = Object.keys(snippet).filter((x) => !v.resourceKeys.includes(x));
  if (bad.length) throw new TemplateError(`Invalid keyword(s) inside a resource definition: ${bad.join(', ')}`);
  return resourceFrom(v, name, path, {
    type: snippet.Type,
    hasType: 'Type' in snippet,
    properties: snippet.Properties,
    metadata: snippet.Metadata,
    depends_on: snippet.DependsOn,
    deletion_policy: snippet.DeletionPolicy,
    update_policy: snippet.UpdatePolicy,
    description: snippet.Description,
    condition: snippet.Condition,
    hasCondition: 'Condition' in snippet,
    external_id: undefined,
    keys: { type: 'Type', properties: 'Properties', metadata: 'Metadata', depends_on: 'DependsOn' },
  });
}

interface RawResource {
  type: unknown;
  hasType: boolean;
  properties: unknown;
  metadata: unknown;
  depends_on: unknown;
  deletion_policy: unknown;
  update_policy: unknown;
  description: unknown;
  condition: unknown;
  hasCondition: boolean;
  external_id: unknown;
  keys: { type: string; properties: string; metadata: string; depends_on: string };
}

function isFnSnippet(v: VersionInfo, x: unknown): boolean {
  if (!isPlainObject(x)) return false;
  const keys = Object.keys(x);
  return keys.length === 1 && keys[0] in v.functions;
}

function resourceFrom(v: VersionInfo, name: string, path: string[], r: RawResource): ResourceDefinition {
  const typeErr = (key: string, typename: string) =>
    new TemplateError(`Resource ${name} ${key} type must be ${typename}`);
  if (!r.hasType || r.type === null || r.type === undefined) {
    throw new TemplateError(`Resource ${name} is missing "${r.keys.type}"`);
  }
  if (typeof r.type !== 'string') throw typeErr(r.keys.type, 'string');
  const mapOrFn = (x: unknown, key: string) => {
    if (x === undefined || x === null) return {};
    if (!isPlainObject(x)) throw typeErr(key, 'object');
    return x;
  };
  const properties = mapOrFn(r.properties, r.keys.properties);
  const metadata = mapOrFn(r.metadata, r.keys.metadata);
  let depends: string[] = [];
  if (r.depends_on !== undefined && r.depends_on !== null) {
    if (typeof r.depends_on === 'string') depends = [r.depends_on];
    else if (Array.isArray(r.depends_on)) {
      for (const d of r.depends_on) {
        if (typeof d !== 'string')
          throw new TemplateError(`Resource ${name} ${r.keys.depends_on} must be a list of strings`);
      }
      depends = r.depends_on as string[];
    } else throw typeErr(r.keys.depends_on, 'list or string');
  }
  let deletion: unknown = 'Delete';
  if (r.deletion_policy !== undefined && r.deletion_policy !== null) {
    if (typeof r.deletion_policy === 'string') {
      if (!v.deletionPolicies.includes(r.deletion_policy)) {
        throw new TemplateError(`Invalid deletion policy "${r.deletion_policy}"`);
      }
      deletion = r.deletion_policy.charAt(0).toUpperCase() + r.deletion_policy.slice(1);
    } else if (isFnSnippet(v, r.deletion_policy)) deletion = r.deletion_policy;
    else throw typeErr(v.kind === 'hot' ? 'deletion_policy' : 'DeletionPolicy', 'string');
  }
  let update: unknown = {};
  if (r.update_policy !== undefined && r.update_policy !== null) {
    if (!isPlainObject(r.update_policy)) throw typeErr(v.kind === 'hot' ? 'update_policy' : 'UpdatePolicy', 'object');
    update = r.update_policy;
  }
  let description = '';
  if (r.description !== undefined && r.description !== null) {
    if (typeof r.description !== 'string') throw typeErr(v.kind === 'hot' ? 'description' : 'Description', 'string');
    description = r.description;
  }
  const def: ResourceDefinition = {
    name,
    type: r.type,
    properties,
    metadata,
    depends_on: depends,
    deletion_policy: deletion,
    update_policy: update,
    description,
  };
  if (r.hasCondition && r.condition !== null && r.condition !== undefined) {
    if (typeof r.condition !== 'string' && typeof r.condition !== 'boolean' && !isPlainObject(r.condition)) {
      throw typeErr(v.kind === 'hot' ? 'condition' : 'Condition', 'string or boolean');
    }
    def.condition = r.condition;
  }
  if (r.external_id !== undefined && r.external_id !== null) {
    if (typeof r.external_id !== 'string' && !isFnSnippet(v, r.external_id)) throw typeErr('external_id', 'string');
    def.external_id = r.external_id;
  }
  return def;
}

function parseOutputs(v: VersionInfo, data: Record<string, unknown>): Record<string, OutputDefinition> {
  const name = v.kind === 'hot' ? 'outputs' : 'Outputs';
  const raw = data[name];
  if (raw === undefined || raw === null) return {};
  if (!isPlainObject(raw)) {
    throw new TemplateError(`Output definitions must be a map. Found a ${pyTypeName(raw)} instead`, {
      error: 'Output validation error',
      path: [name],
    });
  }
  const valueKey = v.kind === 'hot' ? 'value' : 'Value';
  const out: Record<string, OutputDefinition> = {};
  for (const oname of Object.keys(raw).sort()) {
    const o = raw[oname];
    validateEntry(name, 'output', o, v.outputKeys, `Each output must contain a ${valueKey} key.`);
    if (!(valueKey in o)) throw new TemplateError(`Each output must contain a ${valueKey} key.`);
    const def: OutputDefinition = { value: o[valueKey] };
    const d = o[v.kind === 'hot' ? 'description' : 'Description'];
    if (d !== undefined && d !== null) def.description = String(d);
    const c = o[v.kind === 'hot' ? 'condition' : 'Condition'];
    if (c !== undefined && c !== null) def.condition = c;
    out[oname] = def;
  }
  return out;
}

/**
 * Parses and validates a template (HOT or CFN). `files` are the stack's files (get_file, template
 * resources). Throws TemplateError with Heat's message.
 */
export function parseTemplate(body: string | object, files: Record<string, string> = {}): Template {
  const data = loadTemplate(body);
  const v = detectVersion(data);
  for (const k of Object.keys(data)) {
    if (!v.sections.includes(k)) {
      throw new TemplateError(`The template section is invalid: ${k}`, { type: 'InvalidTemplateSection' });
    }
  }
  const hot = v.kind === 'hot';
  const resKey = hot ? 'resources' : 'Resources';
  const rawResources = data[resKey];
  if (rawResources !== undefined && rawResources !== null && !isPlainObject(rawResources)) {
    throw new TemplateError(
      `"${resKey}" must contain a map of resource maps. Found a [<class '${pyTypeName(rawResources)}'>] instead`,
    );
  }
  const resources: Record<string, ResourceDefinition> = {};
  const rr = section(data, resKey);
  if (Object.keys(rr).length > MAX_RESOURCES_PER_STACK) {
    throw new TemplateError(
      `You have reached the maximum resources per stack, ${MAX_RESOURCES_PER_STACK}. Please delete some resources.`,
      { type: 'RequestLimitExceeded' },
    );
  }
  for (const name of Object.keys(rr).sort()) {
    const snippet = rr[name];
    resources[name] = hot ? hotResource(v, name, snippet) : cfnResource(v, name, snippet);
  }
  // keep the template's order
  const ordered: Record<string, ResourceDefinition> = {};
  for (const name of Object.keys(rr)) ordered[name] = resources[name];
  const description = data[hot ? 'description' : 'Description'];
  const condKey = hot ? 'conditions' : 'Conditions';
  const rawConditions = data[condKey];
  if (rawConditions !== undefined && rawConditions !== null && !isPlainObject(rawConditions)) {
    throw new TemplateError(`Condition definitions must be a map. Found a ${pyTypeName(rawConditions)} instead`, {
      error: 'Conditions validation error',
      path: [condKey],
    });
  }
  const parameters = parseParameterSchemas(v, data[hot ? 'parameters' : 'Parameters']);
  const parameterGroups = (data.parameter_groups ?? data.ParameterGroups ?? []) as unknown[];
  validateParameterGroups(parameterGroups, parameters);
  const t: Template = {
    version: versionName(v),
    kind: v.kind,
    // Heat's tmpl[DESCRIPTION]: 'No description' when absent or empty
    description: description ? (typeof description === 'string' ? description : String(description)) : 'No description',
    parameters,
    parameterGroups: Array.isArray(parameterGroups) ? parameterGroups : [],
    conditions: (rawConditions as Record<string, unknown>) ?? {},
    resources: ordered,
    outputs: parseOutputs(v, data),
    mappings: hot ? {} : section(data, 'Mappings'),
    files,
    raw: data,
  };
  checkFunctions(t);
  return t;
}
