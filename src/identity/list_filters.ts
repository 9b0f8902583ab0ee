// Keystone's inexact list filters (keystone/common/driver_hints.py, and the in-memory
// filter_by_attributes of keystone/server/flask/common.py): `<attr>__contains`,
// `__startswith`, `__endswith` (case-sensitive) and `__icontains`, `__istartswith`,
// `__iendswith` (case-insensitive) on the string attributes each list API declares as a
// filter. A filter on an attribute the list does not declare is ignored, as Keystone ignores
// it; an entity whose attribute is absent, null or not a string does not match.
//
// The filter runs on the rendered entities, after the exact filters the managers apply in SQL
// and before any list_limit truncation, so no user text ever reaches a SQL LIKE pattern (no
// `%`/`_` escaping, and the same case rules on SQLite and PostgreSQL: the i-variants compare
// lower-cased strings, the others compare exactly).

/** The filterable attributes of each identity list (the `filters` of Keystone's list APIs). */
export const LIST_FILTERS: Readonly<Record<string, readonly string[]>> = {
  users: ['domain_id', 'name', 'idp_id', 'protocol_id', 'unique_id'],
  groups: ['domain_id', 'name'],
  projects: ['domain_id', 'name', 'parent_id'],
  domains: ['name'],
  roles: ['name', 'domain_id'],
  services: ['type', 'name'],
  endpoints: ['interface', 'service_id', 'region_id'],
  regions: ['parent_region_id'],
  credentials: ['user_id', 'type'],
  policies: ['type'],
  application_credentials: ['name'],
  access_rules: ['service', 'path', 'method'],
  trusts: ['trustor_user_id', 'trustee_user_id'],
  registered_limits: ['service_id', 'region_id', 'resource_name'],
  limits: ['service_id', 'region_id', 'resource_name', 'project_id', 'domain_id'],
  endpoint_groups: ['name'],
  identity_providers: ['id'],
  service_providers: ['id'],
};

const COMPARATORS = ['contains', 'icontains', 'startswith', 'istartswith', 'endswith', 'iendswith'] as const;
type Comparator = (typeof COMPARATORS)[number];

export interface InexactFilter {
  name: string;
  comparator: 'contains' | 'startswith' | 'endswith';
  caseSensitive: boolean;
  value: string;
}

/** The inexact filters of a query string that apply to the list `key`. */
export function inexactFilters(key: string, query: Record<string, unknown> | undefined | null): InexactFilter[] {
  const allowed = LIST_FILTERS[key];
  if (!allowed || !query) return [];
  const out: InexactFilter[] = [];
  for (const [k, raw] of Object.entries(query)) {
    const at = k.indexOf('__');
    if (at <= 0) continue;
    const name = k.slice(0, at);
    const comparator = k.slice(at + 2) as Comparator;
    if (!allowed.includes(name) || !COMPARATORS.includes(comparator)) continue;
    // A repeated parameter: Keystone (Flask's request.args) takes the first.
    const value = Array.isArray(raw) ? raw[0] : raw;
    if (typeof value !== 'string') continue;
    const insensitive = comparator.startsWith('i');
    out.push({
      name,
      comparator: (insensitive ? comparator.slice(1) : comparator) as InexactFilter['comparator'],
      caseSensitive: !insensitive,
      value,
    });
  }
  return out;
}

/** Whether one entity satisfies one inexact filter. */
export function matches(f: InexactFilter, entity: unknown): boolean {
  if (!entity || typeof entity !== 'object') return false;
  let target = (entity as Record<string, unknown>)[f.name];
  if (typeof target !== 'string') return false;
  let value = f.value;
  if (!f.caseSensitive) {
    target = target.toLowerCase();
    value = value.toLowerCase();
  }
  const t = target as string;
  if (f.comparator === 'contains') return t.includes(value);
  if (f.comparator === 'startswith') return t.startsWith(value);
  return t.endsWith(value);
}

/** The entities of list `key` that pass every inexact filter of the query. */
export function applyInexactFilters<T>(
  key: string,
  query: Record<string, unknown> | undefined | null,
  items: T[],
): T[] {
  const filters = inexactFilters(key, query);
  if (!filters.length) return items;
  return items.filter((e) => filters.every((f) => matches(f, e)));
}
