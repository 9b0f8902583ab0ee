// Keystone's mapping rules (keystone/federation/utils.py): the JSON schema a mapping's rules must
// match, and the rule processor that turns an assertion's attributes into a local identity (a user,
// groups by id or by name, projects to provision).
import { ApiError } from '../../core/errors.ts';
import { schemaError, jsonschemaMessage, errorField } from '../../core/validate.ts';

const str = { type: 'string' };
const domainRef = { type: 'object', properties: { id: str, name: str }, additionalProperties: false };

/** Keystone's MAPPING_SCHEMA (IDP_ATTRIBUTE_MAPPING_SCHEMA_1_0, with 2.0's schema_version). */
export const MAPPING_SCHEMA = {
  type: 'object',
  required: ['rules'],
  properties: {
    rules: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['local', 'remote'],
        additionalProperties: false,
        properties: {
          local: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              properties: {
                user: {
                  type: 'object',
                  additionalProperties: false,
                  properties: {
                    id: str,
                    name: str,
                    email: str,
                    domain: domainRef,
                    type: { type: 'string', enum: ['local', 'ephemeral'] },
                  },
                },
                projects: {
                  type: 'array',
                  items: {
                    type: 'object',
                    required: ['name', 'roles'],
                    additionalProperties: false,
                    properties: {
                      name: str,
                      domain: domainRef,
                      roles: {
                        type: 'array',
                        items: {
                          type: 'object',
                          required: ['name'],
                          additionalProperties: false,
                          properties: { name: str },
                        },
                      },
                    },
                  },
                },
                group: {
                  oneOf: [
                    { type: 'object', required: ['id'], additionalProperties: false, properties: { id: str } },
                    {
                      type: 'object',
                      required: ['name', 'domain'],
                      additionalProperties: false,
                      properties: { name: str, domain: domainRef },
                    },
                  ],
                },
                groups: str,
                group_ids: str,
                domain: domainRef,
              },
            },
          },
          remote: {
            type: 'array',
            minItems: 1,
            items: {
              oneOf: [
                { type: 'object', required: ['type'], additionalProperties: false, properties: { type: str } },
                ...['any_one_of', 'not_any_of'].map((k) => ({
                  type: 'object',
                  required: ['type', k],
                  additionalProperties: false,
                  properties: { type: str, [k]: { type: 'array' }, regex: { type: 'boolean' } },
                })),
                ...['blacklist', 'whitelist'].map((k) => ({
                  type: 'object',
                  required: ['type', k],
                  additionalProperties: false,
                  properties: { type: str, [k]: { type: 'array' } },
                })),
              ],
            },
          },
        },
      },
    },
    schema_version: { type: 'string', enum: ['1.0', '2.0'] },
  },
};

export interface RemoteRule {
  type: string;
  any_one_of?: string[];
  not_any_of?: string[];
  blacklist?: string[];
  whitelist?: string[];
  regex?: boolean;
}
export interface DomainRef {
  id?: string;
  name?: string;
}
export interface LocalRule {
  user?: { id?: string; name?: string; email?: string; domain?: DomainRef; type?: 'local' | 'ephemeral' };
  projects?: Array<{ name: string; domain?: DomainRef; roles: Array<{ name: string }> }>;
  group?: { id?: string; name?: string; domain?: DomainRef };
  groups?: string;
  group_ids?: string;
  domain?: DomainRef;
}
export interface MappingRule {
  local: LocalRule[];
  remote: RemoteRule[];
}

/** 400 unless `body` is a valid mapping ({rules, schema_version?}). */
export function validateMapping(body: unknown): { rules: MappingRule[]; schema_version?: string } {
  const e = schemaError(body, MAPPING_SCHEMA);
  if (e) {
    const field = errorField(e);
    throw new ApiError(
      400,
      `Invalid input for field '${field || 'mapping'}': ${jsonschemaMessage(e)}`.replace(/\s+$/, ''),
      'ValidationError',
    );
  }
  return body as { rules: MappingRule[]; schema_version?: string };
}

/** What a mapping made of an assertion. */
export interface MappedProperties {
  user: { id?: string; name?: string; email?: string; domain?: DomainRef; type: 'local' | 'ephemeral' };
  groupIds: string[];
  groupNames: Array<{ name: string; domain: DomainRef }>;
  projects: Array<{ name: string; domain?: DomainRef; roles: Array<{ name: string }> }>;
}

/** Python's ast.literal_eval of a list of strings (what `'{0}'.format([...])` wrote), else the value alone. */
function literalList(v: string): string[] {
  const t = v.trim();
  if (t.startsWith('[') && t.endsWith(']')) {
    const inner = t.slice(1, -1).trim();
    if (!inner) return [];
    const out: string[] = [];
    const re = /\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\s*(?:,|$)/y;
    let pos = 0;
    while (pos < inner.length) {
      re.lastIndex = pos;
      const m = re.exec(inner);
      if (!m) return [v];
      out.push((m[1] ?? m[2] ?? '').replace(/\\(.)/g, '$1'));
      pos = re.lastIndex;
    }
    return out;
  }
  return [v];
}

/** Python's str() of what a direct map holds: the value when it is one, else the list's repr. */
function pyStr(values: string[]): string {
  if (values.length === 1) return values[0]!;
  return `[${values.map((x) => `'${x.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`).join(', ')}]`;
}

/** `'{0} {1}'.format(*direct_maps)`: each {n} is the n-th remote's values. */
function format(template: string, maps: string[][]): string {
  return template.replace(/\{(\d+)\}/g, (whole, n: string) => {
    const v = maps[Number(n)];
    if (v === undefined)
      throw new ApiError(
        500,
        `Direct mapping '${whole}' refers to a remote that is not in the rule.`,
        'DirectMappingError',
      );
    return pyStr(v);
  });
}

function formatDeep<T>(v: T, maps: string[][]): T {
  if (typeof v === 'string') return format(v, maps) as T;
  if (Array.isArray(v)) return v.map((x) => formatDeep(x, maps)) as T;
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, formatDeep(x, maps)])) as T;
  return v;
}

function evaluate(values: string[], assertion: string[], anyOneOf: boolean, regex: boolean): boolean {
  let match: boolean;
  if (regex) match = values.some((p) => assertion.some((a) => new RegExp(p).test(a)));
  else match = values.some((p) => assertion.includes(p));
  return anyOneOf ? match : !match;
}

/** The direct maps of a rule's remote requirements, or undefined when the assertion does not meet them. */
function verify(remote: RemoteRule[], assertion: Record<string, string[]>): string[][] | undefined {
  const maps: string[][] = [];
  for (const r of remote) {
    let values = assertion[r.type];
    if (!values || !values.length) return undefined;
    if (r.any_one_of) {
      if (!evaluate(r.any_one_of, values, true, !!r.regex)) return undefined;
      continue;
    }
    if (r.not_any_of) {
      if (!evaluate(r.not_any_of, values, false, !!r.regex)) return undefined;
      continue;
    }
    if (r.blacklist) values = values.filter((v) => !r.blacklist!.includes(v));
    else if (r.whitelist) values = values.filter((v) => r.whitelist!.includes(v));
    maps.push(values);
  }
  return maps;
}

/**
 * Keystone's RuleProcessor.process: every rule whose remote requirements the assertion meets
 * contributes its local part (with {n} replaced by the n-th direct map). `assertion` maps an
 * attribute to its values (a multi-valued attribute arrives `;`-separated and is split by the caller).
 */
export function processRules(rules: MappingRule[], assertion: Record<string, string[]>): MappedProperties {
  const out: MappedProperties = { user: { type: 'ephemeral' }, groupIds: [], groupNames: [], projects: [] };
  let userSet = false;
  const groupIds = new Set<string>();
  const byName = new Map<string, { name: string; domain: DomainRef }>();
  for (const rule of rules) {
    const maps = verify(rule.remote, assertion);
    if (!maps) continue;
    for (const local of formatDeep(rule.local, maps)) {
      if (local.user && !userSet) {
        out.user = { ...local.user, type: local.user.type ?? 'ephemeral' };
        userSet = true;
      }
      if (local.group) {
        if (local.group.id) groupIds.add(local.group.id);
        else if (local.group.name && local.group.domain)
          for (const name of literalList(local.group.name))
            byName.set(`${JSON.stringify(local.group.domain)}/${name}`, { name, domain: local.group.domain });
      }
      if (local.groups !== undefined) {
        if (!local.domain)
          throw new ApiError(
            400,
            `Invalid rule: ${JSON.stringify(local)}. Both 'groups' and 'domain' keywords must be specified.`,
            'ValidationError',
          );
        for (const name of literalList(local.groups))
          byName.set(`${JSON.stringify(local.domain)}/${name}`, { name, domain: local.domain });
      }
      if (local.group_ids !== undefined) for (const g of literalList(local.group_ids)) if (g) groupIds.add(g);
      if (local.projects) out.projects = local.projects;
    }
  }
  out.groupIds = [...groupIds];
  out.groupNames = [...byName.values()];
  return out;
}
