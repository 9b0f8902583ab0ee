// The template versions Heat (Zed) knows and, for each, exactly the intrinsic functions it has
// (heat/engine/hot/template.py and heat/engine/cfn/template.py), with the one-line descriptions the
// template_versions API shows (the first line of each function class's docstring).

export type TemplateKind = 'hot' | 'cfn';

/** The implementation behind a function name in a given version (versions differ in semantics). */
export type FnImpl =
  | 'get_param'
  | 'get_resource'
  | 'get_attr_then_select'
  | 'get_attr'
  | 'get_attr_all'
  | 'get_file'
  | 'join'
  | 'join_multiple'
  | 'replace'
  | 'replace_json'
  | 'replace_json_strict'
  | 'replace_json_vstrict'
  | 'repeat'
  | 'repeat_map'
  | 'repeat_nested'
  | 'digest'
  | 'str_split'
  | 'map_merge'
  | 'map_replace'
  | 'yaql'
  | 'if'
  | 'if_nullable'
  | 'filter'
  | 'make_url'
  | 'list_concat'
  | 'list_concat_unique'
  | 'contains'
  | 'resource_facade'
  | 'equals'
  | 'not'
  | 'and'
  | 'or'
  | 'removed'
  | 'invalid'
  | 'cfn_find_in_map'
  | 'cfn_get_azs'
  | 'cfn_ref'
  | 'cfn_param_ref'
  | 'cfn_get_att'
  | 'cfn_select'
  | 'cfn_join'
  | 'cfn_split'
  | 'cfn_replace'
  | 'cfn_base64'
  | 'cfn_member_list_to_map'
  | 'cfn_resource_facade'
  | 'cfn_if'
  | 'cfn_equals'
  | 'cfn_not'
  | 'cfn_and'
  | 'cfn_or';

export const DESCRIPTIONS: Record<FnImpl, string> = {
  get_param: 'A function for resolving parameter references.',
  get_resource: 'A function for resolving resource references.',
  get_attr_then_select: 'A function for resolving resource attributes.',
  get_attr: 'A function for resolving resource attributes.',
  get_attr_all: 'A function for resolving resource attributes.',
  get_file: 'A function for including a file inline.',
  join: 'A function for joining strings.',
  join_multiple: 'A function for joining one or more lists of strings.',
  replace: 'A function for performing string substitutions.',
  replace_json: 'A function for performing string substitutions.',
  replace_json_strict: 'A function for performing string substitutions.',
  replace_json_vstrict: 'A function for performing string substitutions.',
  repeat: 'A function for iterating over a list of items.',
  repeat_map: 'A function for iterating over a list of items or a dict of keys.',
  repeat_nested: 'A function for iterating over a list of items or a dict of keys.',
  digest: 'A function for performing digest operations.',
  str_split: 'A function for splitting delimited strings into a list.',
  map_merge: 'A function for merging maps.',
  map_replace: 'A function for performing substitutions on maps.',
  yaql: 'A function for executing a yaql expression.',
  if: 'A function to return corresponding value based on condition evaluation.',
  if_nullable: 'A function to return corresponding value based on condition evaluation.',
  filter: 'A function for filtering out values from lists.',
  make_url: 'A function for performing substitutions on maps.',
  list_concat: 'A function for extending lists.',
  list_concat_unique: 'A function for extending lists with unique items.',
  contains: 'A function for checking whether specific value is in sequence.',
  resource_facade: 'A function for retrieving data in a parent provider template.',
  equals: 'A function for comparing whether two values are equal.',
  not: 'A function that acts as a NOT operator on a condition.',
  and: 'A function that acts as an AND operator on conditions.',
  or: 'A function that acts as an OR operator on conditions.',
  removed: 'This function existed in previous versions of HOT, but has been removed.',
  invalid: 'A function for checking condition functions and to force failures.',
  cfn_find_in_map: 'A function for resolving keys in the template mappings.',
  cfn_get_azs: 'A function for retrieving the availability zones.',
  cfn_ref: 'A function for resolving parameters or resource references.',
  cfn_param_ref: 'A function for resolving parameter references.',
  cfn_get_att: 'A function for resolving resource attributes.',
  cfn_select: 'A function for selecting an item from a list or map.',
  cfn_join: 'A function for joining strings.',
  cfn_split: 'A function for splitting strings.',
  cfn_replace: 'A function for performing string substitutions.',
  cfn_base64: 'A placeholder function for converting to base64.',
  cfn_member_list_to_map: 'A function to convert lists with enumerated keys and values to mapping.',
  cfn_resource_facade: 'A function for retrieving data in a parent provider template.',
  cfn_if: 'A function to return corresponding value based on condition evaluation.',
  cfn_equals: 'A function for comparing whether two values are equal.',
  cfn_not: 'A function that acts as a NOT operator on a condition.',
  cfn_and: 'A function that acts as an AND operator on conditions.',
  cfn_or: 'A function that acts as an OR operator on conditions.',
};

export interface VersionInfo {
  /** The version key in the template: heat_template_version, AWSTemplateFormatVersion, HeatTemplateFormatVersion. */
  key: string;
  /** The canonical date. */
  date: string;
  kind: TemplateKind;
  aliases: string[];
  functions: Record<string, FnImpl>;
  conditionFunctions: Record<string, FnImpl>;
  /** Which top-level sections the version accepts. */
  sections: string[];
  resourceKeys: string[];
  outputKeys: string[];
  deletionPolicies: string[];
  parameterKeys: string[];
  /** The parameter constraint keys (modulo from 2017-02-24). */
  constraintKeys: string[];
  hasConditions: boolean;
}

const CFN_REMOVED = [
  'Fn::GetAZs',
  'Fn::Join',
  'Fn::Split',
  'Fn::Replace',
  'Fn::Base64',
  'Fn::MemberListToMap',
  'Fn::ResourceFacade',
  'Ref',
];

function removed(names: string[]): Record<string, FnImpl> {
  return Object.fromEntries(names.map((n) => [n, 'removed' as FnImpl]));
}

const H20130523: Record<string, FnImpl> = {
  'Fn::GetAZs': 'cfn_get_azs',
  get_param: 'get_param',
  get_resource: 'get_resource',
  Ref: 'cfn_ref',
  get_attr: 'get_attr_then_select',
  'Fn::Select': 'cfn_select',
  'Fn::Join': 'cfn_join',
  list_join: 'join',
  'Fn::Split': 'cfn_split',
  str_replace: 'replace',
  'Fn::Replace': 'cfn_replace',
  'Fn::Base64': 'cfn_base64',
  'Fn::MemberListToMap': 'cfn_member_list_to_map',
  resource_facade: 'resource_facade',
  'Fn::ResourceFacade': 'cfn_resource_facade',
  get_file: 'get_file',
};
const H20141016: Record<string, FnImpl> = {
  get_attr: 'get_attr',
  get_file: 'get_file',
  get_param: 'get_param',
  get_resource: 'get_resource',
  list_join: 'join',
  resource_facade: 'resource_facade',
  str_replace: 'replace',
  'Fn::Select': 'cfn_select',
  ...removed(CFN_REMOVED),
};
const H20150430: Record<string, FnImpl> = { ...H20141016, repeat: 'repeat', digest: 'digest' };
const H20151015: Record<string, FnImpl> = {
  ...H20150430,
  get_attr: 'get_attr_all',
  list_join: 'join_multiple',
  str_replace: 'replace_json',
  str_split: 'str_split',
  'Fn::Select': 'removed',
};
const H20160408: Record<string, FnImpl> = { ...H20151015, map_merge: 'map_merge' };
const H20161014: Record<string, FnImpl> = {
  ...H20160408,
  repeat: 'repeat_map',
  yaql: 'yaql',
  map_replace: 'map_replace',
  if: 'if',
};
const H20170224: Record<string, FnImpl> = { ...H20161014, filter: 'filter', str_replace_strict: 'replace_json_strict' };
const H20170901: Record<string, FnImpl> = {
  ...H20170224,
  repeat: 'repeat_nested',
  make_url: 'make_url',
  list_concat: 'list_concat',
  str_replace_vstrict: 'replace_json_vstrict',
  list_concat_unique: 'list_concat_unique',
  contains: 'contains',
};
const H20210416: Record<string, FnImpl> = { ...H20170901, if: 'if_nullable' };

const COND_20161014: Record<string, FnImpl> = {
  get_param: 'get_param',
  equals: 'equals',
  not: 'not',
  and: 'and',
  or: 'or',
};
const COND_20170901: Record<string, FnImpl> = { ...COND_20161014, yaql: 'yaql', contains: 'contains' };

const HOT_SECTIONS = ['heat_template_version', 'description', 'parameter_groups', 'parameters', 'resources', 'outputs'];
const HOT_RES_KEYS = [
  'type',
  'properties',
  'metadata',
  'depends_on',
  'deletion_policy',
  'update_policy',
  'description',
];
const HOT_PARAM_KEYS = ['type', 'description', 'default', 'schema', 'constraints', 'hidden', 'label', 'immutable'];
const HOT_CONSTRAINTS = ['description', 'length', 'range', 'allowed_values', 'allowed_pattern', 'custom_constraint'];

function hot(date: string, aliases: string[], functions: Record<string, FnImpl>): VersionInfo {
  const withConditions = date >= '2016-10-14';
  return {
    key: 'heat_template_version',
    date,
    kind: 'hot',
    aliases,
    functions,
    conditionFunctions: date >= '2017-09-01' ? COND_20170901 : withConditions ? COND_20161014 : {},
    sections: withConditions ? [...HOT_SECTIONS, 'conditions'] : HOT_SECTIONS,
    resourceKeys: withConditions ? [...HOT_RES_KEYS, 'external_id', 'condition'] : HOT_RES_KEYS,
    outputKeys: withConditions ? ['description', 'value', 'condition'] : ['description', 'value'],
    deletionPolicies: withConditions
      ? ['Delete', 'Retain', 'Snapshot', 'delete', 'retain', 'snapshot']
      : ['Delete', 'Retain', 'Snapshot'],
    parameterKeys: date >= '2018-03-02' ? [...HOT_PARAM_KEYS, 'tags'] : HOT_PARAM_KEYS,
    constraintKeys:
      date >= '2017-02-24' ? [...HOT_CONSTRAINTS.slice(0, 3), 'modulo', ...HOT_CONSTRAINTS.slice(3)] : HOT_CONSTRAINTS,
    hasConditions: withConditions,
  };
}

const CFN_BASE_FUNCS: Record<string, FnImpl> = {
  'Fn::FindInMap': 'cfn_find_in_map',
  'Fn::GetAZs': 'cfn_get_azs',
  Ref: 'cfn_ref',
  'Fn::GetAtt': 'cfn_get_att',
  'Fn::Select': 'cfn_select',
  'Fn::Join': 'cfn_join',
  'Fn::Split': 'cfn_split',
  'Fn::Replace': 'cfn_replace',
  'Fn::Base64': 'cfn_base64',
  'Fn::MemberListToMap': 'cfn_member_list_to_map',
  'Fn::ResourceFacade': 'cfn_resource_facade',
};
const CFN_SECTIONS = [
  'AWSTemplateFormatVersion',
  'HeatTemplateFormatVersion',
  'Description',
  'Mappings',
  'Parameters',
  'Resources',
  'Outputs',
];
const CFN_RES_KEYS = ['Type', 'Properties', 'Metadata', 'DependsOn', 'DeletionPolicy', 'UpdatePolicy', 'Description'];
const CFN_PARAM_KEYS = [
  'Type',
  'Default',
  'NoEcho',
  'AllowedValues',
  'AllowedPattern',
  'MaxLength',
  'MinLength',
  'MaxValue',
  'MinValue',
  'Description',
  'ConstraintDescription',
  'Label',
];

export const VERSIONS: VersionInfo[] = [
  {
    key: 'AWSTemplateFormatVersion',
    date: '2010-09-09',
    kind: 'cfn',
    aliases: [],
    functions: { ...CFN_BASE_FUNCS, 'Fn::If': 'cfn_if' },
    conditionFunctions: {
      'Fn::Equals': 'cfn_equals',
      Ref: 'cfn_param_ref',
      'Fn::FindInMap': 'cfn_find_in_map',
      'Fn::Not': 'cfn_not',
      'Fn::And': 'cfn_and',
      'Fn::Or': 'cfn_or',
    },
    sections: [...CFN_SECTIONS, 'Conditions'],
    resourceKeys: [...CFN_RES_KEYS, 'Condition'],
    outputKeys: ['Description', 'Value', 'Condition'],
    deletionPolicies: ['Delete', 'Retain', 'Snapshot'],
    parameterKeys: CFN_PARAM_KEYS,
    constraintKeys: [],
    hasConditions: true,
  },
  {
    key: 'HeatTemplateFormatVersion',
    date: '2012-12-12',
    kind: 'cfn',
    aliases: [],
    functions: CFN_BASE_FUNCS,
    conditionFunctions: {},
    sections: CFN_SECTIONS,
    resourceKeys: CFN_RES_KEYS,
    outputKeys: ['Description', 'Value'],
    deletionPolicies: ['Delete', 'Retain', 'Snapshot'],
    parameterKeys: CFN_PARAM_KEYS,
    constraintKeys: [],
    hasConditions: false,
  },
  hot('2013-05-23', [], H20130523),
  hot('2014-10-16', [], H20141016),
  hot('2015-04-30', [], H20150430),
  hot('2015-10-15', [], H20151015),
  hot('2016-04-08', [], H20160408),
  hot('2016-10-14', ['newton'], H20161014),
  hot('2017-02-24', ['ocata'], H20170224),
  hot('2017-09-01', ['pike'], H20170901),
  hot('2018-03-02', ['queens'], H20170901),
  hot('2018-08-31', ['rocky'], H20170901),
  hot('2021-04-16', ['wallaby'], H20210416),
];

/** Finds a version by its "key.value" name (as the API spells it) or by (key, value); aliases accepted. */
export function findVersion(key: string, value?: string): VersionInfo | undefined {
  if (value === undefined) {
    const dot = key.indexOf('.');
    if (dot < 0) return undefined;
    value = key.slice(dot + 1);
    key = key.slice(0, dot);
  }
  return VERSIONS.find((v) => v.key === key && (v.date === value || v.aliases.includes(value as string)));
}

/** The short name the Template carries: '2018-08-31' for HOT, 'cfn:2010-09-09' / 'heat:2012-12-12' otherwise. */
export function versionName(v: VersionInfo): string {
  if (v.kind === 'hot') return v.date;
  return v.key === 'AWSTemplateFormatVersion' ? `cfn:${v.date}` : `heat:${v.date}`;
}

/** Looks a version up by the name parseTemplate stores in Template.version (or by its API name). */
export function versionByName(name: string): VersionInfo | undefined {
  if (name.startsWith('cfn:')) return findVersion('AWSTemplateFormatVersion', name.slice(4));
  if (name.startsWith('heat:')) return findVersion('HeatTemplateFormatVersion', name.slice(5));
  return findVersion('heat_template_version', name) ?? findVersion(name);
}

/** GET /template_versions. */
export function templateVersions(): Array<{ version: string; type: TemplateKind; aliases: string[] }> {
  return VERSIONS.map((v) => ({
    version: `${v.key}.${v.date}`,
    type: v.kind,
    aliases: v.aliases.map((a) => `${v.key}.${a}`),
  }));
}

/**
 * GET /template_versions/{version}/functions (version as "heat_template_version.2016-04-08" or an alias):
 * the version's functions that are not removed, and with `withConditionFunctions` its condition
 * functions merged in (as Heat's list_template_functions does). [] when the version is unknown: check
 * with findVersion first (the API answers 404 "Template with version <v> not found").
 */
export function templateFunctions(
  version: string,
  withConditionFunctions = false,
): Array<{ functions: string; description: string }> {
  const v = findVersion(version) ?? versionByName(version);
  if (!v) return [];
  const table: Record<string, FnImpl> = withConditionFunctions
    ? { ...v.functions, ...v.conditionFunctions }
    : v.functions;
  return Object.entries(table)
    .filter(([, impl]) => impl !== 'removed')
    .map(([name, impl]) => ({ functions: name, description: DESCRIPTIONS[impl] }));
}
