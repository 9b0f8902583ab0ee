// Parameters: the schemas of a template (HOT and CFN), parameter groups, and resolveParameters (user
// values and environment defaults checked against types and constraints), with Heat's messages
// (heat/engine/parameters.py, hot/parameters.py, constraints.py, parameter_groups.py).
import { pyRegex } from '../../core/python.ts';
import { TemplateError } from './errors.ts';
import type {
  Constraint,
  CustomConstraintChecker,
  Environment,
  ParameterSchema,
  ParameterType,
  Template,
} from './types.ts';
import { isPlainObject, pyEq, pyJson, pyStr } from './util.ts';
import type { VersionInfo } from './versions.ts';

const HOT_TYPES: ParameterType[] = ['string', 'number', 'comma_delimited_list', 'json', 'boolean'];
const CFN_TYPES: Record<string, ParameterType> = {
  String: 'string',
  Number: 'number',
  CommaDelimitedList: 'comma_delimited_list',
  Json: 'json',
  Boolean: 'boolean',
};
export const API_TYPES: Record<ParameterType, string> = {
  string: 'String',
  number: 'Number',
  comma_delimited_list: 'CommaDelimitedList',
  json: 'Json',
  boolean: 'Boolean',
};

function schemaError(message: string): TemplateError {
  return new TemplateError(message, { type: 'InvalidSchemaError' });
}

function checkDict(x: unknown, allowed: string[], entity: string): Record<string, unknown> {
  if (!isPlainObject(x)) throw schemaError(`Invalid ${entity}, expected a mapping`);
  for (const k of Object.keys(x)) {
    if (!allowed.includes(k)) throw schemaError(`Invalid key '${k}' for ${entity}`);
  }
  return x;
}

/** Python's int(x) or float(x) of a str, as Schema.str_to_num. Throws Python's message. */
export function strToNum(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  const s = typeof v === 'string' ? v.trim() : undefined;
  if (s !== undefined) {
    if (/^[-+]?\d+(_\d+)*$/.test(s)) return Number(s.replace(/_/g, ''));
    if (/^[-+]?(\d+\.?\d*([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?|inf(inity)?|nan)$/i.test(s)) {
      const low = s.toLowerCase().replace(/^\+/, '');
      if (low.endsWith('inf') || low.endsWith('infinity')) return low.startsWith('-') ? -Infinity : Infinity;
      if (low.endsWith('nan')) return Number.NaN;
      return Number(s);
    }
    throw new Error(`could not convert string to float: ${pyStrRepr(String(v))}`);
  }
  throw new Error(`int() argument must be a string, a bytes-like object or a real number, not '${pyTypeOf(v)}'`);
}

function pyStrRepr(s: string): string {
  return s.includes("'") && !s.includes('"') ? `"${s}"` : `'${s.replace(/'/g, "\\'")}'`;
}

function pyTypeOf(v: unknown): string {
  if (v === null || v === undefined) return 'NoneType';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'object') return 'dict';
  return typeof v === 'string' ? 'str' : typeof v;
}

function getNum(d: Record<string, unknown>, key: string): number | undefined {
  const v = d[key];
  if (v === undefined || v === null) return undefined;
  try {
    return strToNum(v);
  } catch (e) {
    throw schemaError((e as Error).message);
  }
}

function rangeConstraint(kind: 'range' | 'length', min?: number, max?: number, description?: string): Constraint {
  if (min === undefined && max === undefined) {
    throw schemaError(
      kind === 'range'
        ? 'A range constraint must have a min value and/or a max value specified.'
        : 'A length constraint must have a min value and/or a max value specified.',
    );
  }
  if (kind === 'length' && [min, max].some((x) => x !== undefined && !Number.isInteger(x))) {
    throw schemaError('min/max length must be integral');
  }
  const c: { kind: 'range' | 'length'; min?: number; max?: number; description?: string } = { kind };
  if (min !== undefined) c.min = min;
  if (max !== undefined) c.max = max;
  if (description !== undefined) c.description = description;
  return c;
}

function hotConstraint(v: VersionInfo, raw: unknown): Constraint {
  const c = checkDict(raw, v.constraintKeys, 'parameter constraints');
  const desc = c.description === undefined || c.description === null ? undefined : String(c.description);
  if ('modulo' in c && v.constraintKeys.includes('modulo')) {
    const d = checkDict(c.modulo, ['step', 'offset'], 'modulo constraint');
    const step = getNum(d, 'step');
    const offset = getNum(d, 'offset');
    if (step === undefined || offset === undefined) {
      throw schemaError('A modulo constraint must have a step value and an offset value specified.');
    }
    if (!Number.isInteger(step) || !Number.isInteger(offset)) throw schemaError('step/offset must be integer');
    if (step === 0) throw schemaError('step cannot be 0.');
    if (Math.abs(offset) >= Math.abs(step)) {
      throw schemaError('offset must be smaller (by absolute value) than step.');
    }
    if (step * offset < 0) throw schemaError('step and offset must be both positive or both negative.');
    return desc === undefined ? { kind: 'modulo', step, offset } : { kind: 'modulo', step, offset, description: desc };
  }
  if ('range' in c) {
    const d = checkDict(c.range, ['min', 'max'], 'range constraint');
    return rangeConstraint('range', getNum(d, 'min'), getNum(d, 'max'), desc);
  }
  if ('length' in c) {
    const d = checkDict(c.length, ['min', 'max'], 'length constraint');
    return rangeConstraint('length', getNum(d, 'min'), getNum(d, 'max'), desc);
  }
  if ('allowed_values' in c) {
    if (!Array.isArray(c.allowed_values)) throw schemaError('AllowedValues must be a list');
    return { kind: 'allowed_values', values: c.allowed_values, ...(desc === undefined ? {} : { description: desc }) };
  }
  if ('allowed_pattern' in c) {
    if (typeof c.allowed_pattern !== 'string') throw schemaError('AllowedPattern must be a string');
    return {
      kind: 'allowed_pattern',
      pattern: c.allowed_pattern,
      ...(desc === undefined ? {} : { description: desc }),
    };
  }
  if ('custom_constraint' in c) {
    return {
      kind: 'custom_constraint',
      name: String(c.custom_constraint),
      ...(desc === undefined ? {} : { description: desc }),
    };
  }
  throw schemaError('No constraint expressed');
}

function hotSchema(v: VersionInfo, name: string, raw: unknown): ParameterSchema {
  const d = checkDict(raw, v.parameterKeys, `parameter (${name})`);
  if (!('type' in d)) throw schemaError(`Missing parameter type for parameter: ${name}`);
  if (d.tags !== undefined && !Array.isArray(d.tags)) {
    throw schemaError(`Tags property should be a list for parameter: ${name}`);
  }
  if (!HOT_TYPES.includes(d.type as ParameterType)) throw schemaError(`Invalid type (${pyStr(d.type)})`);
  const constraints: Constraint[] = [];
  if (d.constraints !== undefined && d.constraints !== null) {
    if (!Array.isArray(d.constraints)) {
      throw schemaError(`Invalid parameter constraints for parameter ${name}, expected a list`);
    }
    for (const c of d.constraints) constraints.push(hotConstraint(v, c));
  }
  const s: ParameterSchema = {
    type: d.type as ParameterType,
    hidden: d.hidden === true || String(d.hidden).toLowerCase() === 'true',
    constraints,
    immutable: d.immutable === true,
    tags: (d.tags as string[] | undefined) ?? [],
  };
  if (d.default !== undefined && d.default !== null) s.default = d.default;
  if (d.label !== undefined && d.label !== null) s.label = String(d.label);
  if (d.description !== undefined && d.description !== null) s.description = String(d.description);
  return s;
}

function cfnSchema(v: VersionInfo, name: string, raw: unknown): ParameterSchema {
  const d = checkDict(raw, v.parameterKeys, `parameter (${name})`);
  if (!('Type' in d)) throw schemaError(`Missing parameter type for parameter: ${name}`);
  const type = CFN_TYPES[String(d.Type)];
  if (!type) throw schemaError(`Invalid type (${pyStr(d.Type)})`);
  const desc = d.ConstraintDescription == null ? undefined : String(d.ConstraintDescription);
  const constraints: Constraint[] = [];
  if ('MinValue' in d || 'MaxValue' in d)
    constraints.push(rangeConstraint('range', getNum(d, 'MinValue'), getNum(d, 'MaxValue'), desc));
  if ('MinLength' in d || 'MaxLength' in d) {
    constraints.push(rangeConstraint('length', getNum(d, 'MinLength'), getNum(d, 'MaxLength'), desc));
  }
  if ('AllowedValues' in d) {
    if (!Array.isArray(d.AllowedValues)) throw schemaError('AllowedValues must be a list');
    constraints.push({
      kind: 'allowed_values',
      values: d.AllowedValues,
      ...(desc === undefined ? {} : { description: desc }),
    });
  }
  if ('AllowedPattern' in d) {
    if (typeof d.AllowedPattern !== 'string') throw schemaError('AllowedPattern must be a string');
    constraints.push({
      kind: 'allowed_pattern',
      pattern: d.AllowedPattern,
      ...(desc === undefined ? {} : { description: desc }),
    });
  }
  const s: ParameterSchema = {
    type,
    hidden: String(d.NoEcho ?? 'false').toLowerCase() === 'true',
    constraints,
    immutable: false,
    tags: [],
  };
  if (d.Default !== undefined && d.Default !== null) s.default = d.Default;
  if (d.Label !== undefined && d.Label !== null) s.label = String(d.Label);
  if (d.Description !== undefined && d.Description !== null) s.description = String(d.Description);
  return s;
}

export function parseParameterSchemas(v: VersionInfo, raw: unknown): Record<string, ParameterSchema> {
  if (raw === undefined || raw === null) return {};
  if (!isPlainObject(raw)) throw schemaError('Parameters must be a map');
  const out: Record<string, ParameterSchema> = {};
  for (const [name, schema] of Object.entries(raw)) {
    out[name] = v.kind === 'hot' ? hotSchema(v, name, schema) : cfnSchema(v, name, schema);
  }
  return out;
}

export function validateParameterGroups(groups: unknown, params: Record<string, ParameterSchema>): void {
  if (groups === undefined || groups === null) return;
  const err = (message: string, path: string[]) =>
    new TemplateError(message, { error: 'Parameter Groups error', path });
  if (!Array.isArray(groups)) throw err('The parameter_groups should be a list.', ['parameter_groups']);
  const seen = new Set<string>();
  for (const g of groups) {
    const label = isPlainObject(g) && typeof g.label === 'string' ? g.label : '';
    const path = ['parameter_groups', label];
    const ps = isPlainObject(g) ? g.parameters : undefined;
    if (ps === undefined || ps === null) throw err('The parameters must be provided for each parameter group.', path);
    if (!Array.isArray(ps)) throw err('The parameters of parameter group should be a list.', path);
    for (const p of ps) {
      const name = String(p);
      if (seen.has(name)) throw err(`The ${name} parameter must be assigned to one parameter group only.`, path);
      seen.add(name);
      if (!(name in params)) throw err(`The grouped parameter ${name} does not reference a valid parameter.`, path);
    }
  }
}

/** oslo strutils.bool_from_string(strict=True). */
export function boolFromString(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  const s = pyStr(v).trim().toLowerCase();
  if (['1', 't', 'true', 'on', 'y', 'yes'].includes(s)) return true;
  if (['0', 'f', 'false', 'off', 'n', 'no'].includes(s)) return false;
  throw new Error(
    `Unrecognized value '${pyStr(v)}', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'`,
  );
}

/** Converts a raw parameter value to the parameter's type (the value get_param yields). */
export function parseParameterValue(type: ParameterType, v: unknown): unknown {
  switch (type) {
    case 'number':
      return strToNum(v);
    case 'boolean':
      return boolFromString(v);
    case 'comma_delimited_list':
      if (Array.isArray(v)) return v.map((x) => pyStr(x));
      if (typeof v !== 'string') throw new Error(`Value must be a comma-delimited list string: ${pyStr(v)}`);
      return v === '' ? [] : v.split(',');
    case 'json': {
      if (typeof v !== 'string') return JSON.parse(JSON.stringify(v ?? null));
      if (v === '') return v;
      try {
        return JSON.parse(v);
      } catch {
        throw new Error(`Value must be valid JSON: Expecting value: line 1 column 1 (char 0)`);
      }
    }
    default:
      return pyStr(v);
  }
}

/** What a `length` constraint measures: a string's or a list's length, a map's key count, else 0. */
function lengthOf(value: unknown): number {
  if (typeof value === 'string' || Array.isArray(value)) return value.length;
  return isPlainObject(value) ? Object.keys(value).length : 0;
}

function constraintValid(c: Constraint, type: ParameterType, value: unknown): boolean {
  switch (c.kind) {
    case 'range': {
      const n = strToNum(value);
      return !((c.min !== undefined && n < c.min) || (c.max !== undefined && n > c.max));
    }
    case 'length': {
      const n = lengthOf(value);
      return !((c.min !== undefined && n < c.min) || (c.max !== undefined && n > c.max));
    }
    case 'modulo': {
      const n = strToNum(value);
      const m = ((n % c.step) + c.step) % c.step;
      const off = ((c.offset % c.step) + c.step) % c.step;
      return m === off;
    }
    case 'allowed_values': {
      if (Array.isArray(value)) return value.every((x) => c.values.some((a) => pyEq(a, x)));
      const conv = (x: unknown) => {
        try {
          return type === 'number'
            ? strToNum(x)
            : type === 'boolean'
              ? boolFromString(x)
              : type === 'string'
                ? pyStr(x)
                : x;
        } catch {
          return x;
        }
      };
      return c.values.some((a) => pyEq(conv(a), conv(value)));
    }
    case 'allowed_pattern': {
      const s = pyStr(value);
      const m = pyRegex(`^(?:${c.pattern})`).exec(s);
      return m !== null && m[0].length === s.length;
    }
    default:
      return true;
  }
}

function constraintMessage(c: Constraint, value: unknown): string {
  if (c.description) return c.description;
  const mm = (x: number | undefined) => (x === undefined ? 'None' : pyStr(x));
  switch (c.kind) {
    case 'range':
      return `${pyStr(value)} is out of range (min: ${mm(c.min)}, max: ${mm(c.max)})`;
    case 'length': {
      const n = lengthOf(value);
      return `length (${n}) is out of range (min: ${mm(c.min)}, max: ${mm(c.max)})`;
    }
    case 'modulo':
      return `${pyStr(value)} is not a multiple of ${c.step} with an offset of ${c.offset}`;
    case 'allowed_values':
      return `${pyJson(value)} is not an allowed value [${c.values.map((a) => pyJson(a)).join(', ')}]`;
    case 'allowed_pattern':
      return `"${pyStr(value)}" does not match pattern "${c.pattern}"`;
    default:
      return `"${pyStr(value)}" does not validate ${c.name}`;
  }
}

const VALID_TYPES: Record<Constraint['kind'], ParameterType[]> = {
  range: ['number'],
  length: ['string', 'comma_delimited_list', 'json'],
  modulo: ['number'],
  allowed_values: ['string', 'number', 'boolean', 'comma_delimited_list'],
  allowed_pattern: ['string'],
  custom_constraint: ['string', 'number', 'boolean', 'comma_delimited_list'],
};
const CLASS_NAMES: Record<Constraint['kind'], string> = {
  range: 'Range',
  length: 'Length',
  modulo: 'Modulo',
  allowed_values: 'AllowedValues',
  allowed_pattern: 'AllowedPattern',
  custom_constraint: 'CustomConstraint',
};

async function checkValue(
  name: string,
  s: ParameterSchema,
  raw: unknown,
  check: CustomConstraintChecker | undefined,
  isDefault: boolean,
): Promise<unknown> {
  const invalid = (exp: string) =>
    new TemplateError(`Parameter '${name}' is invalid: ${exp}`, {
      type: isDefault ? 'InvalidSchemaError' : 'StackValidationFailed',
    });
  let parsed: unknown;
  try {
    parsed = parseParameterValue(s.type, raw);
  } catch (e) {
    const msg = (e as Error).message;
    throw invalid(isDefault ? `Invalid default ${pyStr(raw)} (${msg})` : msg);
  }
  const subject = s.type === 'number' || s.type === 'boolean' ? raw : parsed;
  for (const c of s.constraints) {
    if (c.kind === 'custom_constraint') {
      if (isDefault || !check) continue;
      const values = Array.isArray(subject) ? subject : [subject];
      for (const one of values) {
        const m = await check(c.name, one);
        if (m !== null) throw invalid(c.description ?? m);
      }
      continue;
    }
    let ok: boolean;
    try {
      ok = constraintValid(c, s.type, subject);
    } catch {
      ok = false;
    }
    if (!ok) {
      const msg = constraintMessage(c, subject);
      throw invalid(isDefault ? `Invalid default ${pyStr(raw)} (${msg})` : msg);
    }
  }
  return parsed;
}

/** The schema itself: each constraint valid for the parameter's type (Schema.validate). */
function checkSchema(name: string, s: ParameterSchema, kind: 'hot' | 'cfn'): void {
  for (const c of s.constraints) {
    if (!VALID_TYPES[c.kind].includes(s.type)) {
      const tn = kind === 'cfn' ? API_TYPES[s.type] : s.type;
      throw new TemplateError(`Parameter '${name}' is invalid: ${CLASS_NAMES[c.kind]} constraint invalid for ${tn}`, {
        type: 'InvalidSchemaError',
      });
    }
  }
}

/**
 * The stack's parameter values: the request's parameters over the environment's `parameters`, else the
 * environment's `parameter_defaults`, else the template default; each converted to its type and checked
 * against its constraints (custom constraints through `check`). TemplateError on failure.
 */
export async function resolveParameters(
  t: Template,
  env: Environment,
  given: Record<string, unknown>,
  check?: CustomConstraintChecker,
): Promise<Record<string, unknown>> {
  const user: Record<string, unknown> = { ...(env.parameters ?? {}), ...(given ?? {}) };
  for (const k of Object.keys(user)) {
    if (!(k in t.parameters)) {
      throw new TemplateError(`The Parameter (${k}) was not defined in template.`, { type: 'UnknownUserParameter' });
    }
  }
  const defaults = env.parameter_defaults ?? {};
  const out: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(t.parameters)) {
    checkSchema(name, s, t.kind);
    const def = name in defaults && defaults[name] !== null ? defaults[name] : s.default;
    if (s.default !== undefined) await checkValue(name, s, s.default, check, true);
    const uv = user[name];
    if (uv !== undefined && uv !== null) out[name] = await checkValue(name, s, uv, check, false);
    else if (def !== undefined && def !== null) out[name] = await checkValue(name, s, def, check, false);
    else throw new TemplateError(`The Parameter (${name}) was not provided.`, { type: 'UserParameterMissing' });
  }
  return out;
}

/**
 * The stack's parameters as Heat shows them (stack show, "parameters"): every value as Python's str(),
 * lists joined with ',', json as JSON text, hidden ones as '******', plus the pseudo parameters.
 */
export function stackParametersView(
  t: Template,
  values: Record<string, unknown>,
  stack: { id: string; name: string; projectId: string; region?: string },
): Record<string, string> {
  const out: Record<string, string> = {};
  if (t.kind === 'hot') {
    out['OS::stack_id'] = stack.id;
    out['OS::stack_name'] = stack.name;
    out['OS::project_id'] = stack.projectId;
  } else {
    out['AWS::StackId'] = `arn:openstack:heat::${stack.projectId}:stacks/${stack.name}/${stack.id}`;
    out['AWS::StackName'] = stack.name;
    out['AWS::Region'] = stack.region ?? 'ap-southeast-1';
  }
  for (const [name, s] of Object.entries(t.parameters)) {
    if (!(name in values)) continue;
    const v = values[name];
    if (s.hidden) out[name] = '******';
    else if (s.type === 'comma_delimited_list' && Array.isArray(v)) out[name] = v.map((x) => pyStr(x)).join(',');
    else if (s.type === 'json') out[name] = pyJson(v);
    else out[name] = pyStr(v);
  }
  return out;
}

/** Heat's ImmutableParameterModified for the names immutableParamsModified returns. */
export function immutableError(keys: string[]): TemplateError {
  return new TemplateError(`The following parameters are immutable and may not be updated: ${keys.join(', ')}`, {
    type: 'ImmutableParameterModified',
  });
}

/** The names of immutable parameters whose value an update changes (ImmutableParameterModified). */
export function immutableParamsModified(
  t: Template,
  oldValues: Record<string, unknown>,
  newValues: Record<string, unknown>,
): string[] {
  return Object.entries(t.parameters)
    .filter(([n, s]) => s.immutable && n in oldValues && n in newValues && !pyEq(oldValues[n], newValues[n]))
    .map(([n]) => n);
}

/** One parameter as POST /validate shows it (heat.engine.api.format_validate_parameter). */
export function parameterView(
  name: string,
  s: ParameterSchema,
  env?: Environment,
  given?: Record<string, unknown>,
): Record<string, unknown> {
  const res: Record<string, unknown> = {
    Type: API_TYPES[s.type],
    Description: s.description ?? '',
    NoEcho: s.hidden ? 'true' : 'false',
    Label: s.label ?? name,
  };
  const pd = env?.parameter_defaults?.[name];
  const def = pd !== undefined && pd !== null ? pd : s.default;
  if (def !== undefined && def !== null) res.Default = def;
  const uv = given?.[name] ?? env?.parameters?.[name];
  if (uv !== undefined && uv !== null && uv !== '' && uv !== false && uv !== 0) res.Value = uv;
  if (s.tags.length) res.Tags = s.tags;
  const descs: string[] = [];
  for (const c of s.constraints) {
    switch (c.kind) {
      case 'length':
        if (c.min !== undefined) res.MinLength = c.min;
        if (c.max !== undefined) res.MaxLength = c.max;
        break;
      case 'range':
        if (c.min !== undefined) res.MinValue = c.min;
        if (c.max !== undefined) res.MaxValue = c.max;
        break;
      case 'modulo':
        res.Step = c.step;
        res.Offset = c.offset;
        break;
      case 'allowed_values':
        res.AllowedValues = [...c.values];
        break;
      case 'allowed_pattern':
        res.AllowedPattern = c.pattern;
        break;
      case 'custom_constraint':
        res.CustomConstraint = c.name;
        break;
    }
    if (c.description) descs.push(c.description);
  }
  if (descs.length) res.ConstraintDescription = descs.join(' ');
  return res;
}

/** The HOT rendering of a parameter schema (resource type templates, GET .../template). */
export function parameterHot(s: ParameterSchema): Record<string, unknown> {
  const out: Record<string, unknown> = { type: s.type };
  if (s.description !== undefined) out.description = s.description;
  if (s.default !== undefined) out.default = s.default;
  if (s.label !== undefined) out.label = s.label;
  if (s.hidden) out.hidden = true;
  if (s.immutable) out.immutable = true;
  if (s.tags.length) out.tags = s.tags;
  if (s.constraints.length) {
    out.constraints = s.constraints.map((c) => {
      const { kind, description, ...rest } = c as Constraint & Record<string, unknown>;
      let body: unknown = rest;
      if (kind === 'allowed_values') body = (c as { values: unknown[] }).values;
      else if (kind === 'allowed_pattern') body = (c as { pattern: string }).pattern;
      else if (kind === 'custom_constraint') body = (c as { name: string }).name;
      return description === undefined ? { [kind]: body } : { [kind]: body, description };
    });
  }
  return out;
}

/** Heat's Environment.user_env_as_dict: what POST /validate shows as "Environment". */
export function userEnvView(env: Environment, templateResourceTypes: string[] = []): Record<string, unknown> {
  const rr: Record<string, unknown> = { ...(env.resource_registry ?? {}) };
  for (const tt of templateResourceTypes) if (!(tt in rr)) rr[tt] = tt;
  if (!('resources' in rr)) rr.resources = {};
  return {
    parameters: env.parameters ?? {},
    parameter_defaults: env.parameter_defaults ?? {},
    resource_registry: rr,
    event_sinks: env.event_sinks ?? [],
  };
}

/**
 * The body of POST /validate (heat.engine.service.validate_template) without NestedParameters:
 * Description, Parameters (parameterView of each), ParameterGroups when any, Environment.
 * `templateResourceTypes` are the template files used as resource types (Heat registers them).
 */
export function validateTemplateView(
  t: Template,
  env: Environment,
  given: Record<string, unknown> = {},
  templateResourceTypes: string[] = [],
): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(t.parameters)) params[name] = parameterView(name, s, env, given);
  const out: Record<string, unknown> = { Description: t.description, Parameters: params };
  if (t.parameterGroups.length) out.ParameterGroups = t.parameterGroups;
  out.Environment = userEnvView(env, templateResourceTypes);
  return out;
}
