// Gnocchi's indexer: archive policies and their rules, resource types, resources (with their
// history) and metrics, in the service's SQL tables. What a handler gets back are the views
// the API shows.
import { createHash, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { ApiError, conflict, notFound } from '../../core/errors.ts';
import { isUniqueViolation } from '../../core/db.ts';
import type { MetricDb, MetricTable, ResourceTable } from './db/schema.ts';
import { BASIC_METHODS, validMethod } from './carbonara.ts';
import { formatTimespan, parseTimespan, parseTimestamp, formatTimestamp } from './timeutil.ts';
import {
  type AttributeSchema,
  type Attributes,
  GENERIC_FIELDS,
  STANDARD_RESOURCE_TYPES,
  attributeSchema,
  checkValue,
} from './resource_types.ts';
import { type Query, matches, queryAttributes, validateQuery } from './query.ts';
import { fnmatch } from '../../core/python.ts';

const bad = (msg: string) => new ApiError(400, `Invalid input: ${msg}`);

export interface PolicyDefinition {
  granularity: number;
  points: number | null;
  timespan: number | null;
}
export interface ArchivePolicy {
  name: string;
  back_window: number;
  definition: PolicyDefinition[];
  aggregation_methods: string[];
}

export interface Caller {
  userId: string;
  projectId: string;
}

export type MetricRow = Omit<MetricTable, 'created_at'>;

export type ResourceView = Record<string, unknown> & { id: string; type: string; metrics: Record<string, string> };

/** The namespace of the ids Gnocchi derives from a non-UUID resource id (gnocchi.utils.RESOURCE_ID_NAMESPACE). */
const RESOURCE_ID_NAMESPACE = '0a7a15ff-aa13-4ac2-897c-9bdf30ce175b';
const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

function uuid5(namespace: string, name: string): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const h = createHash('sha1').update(ns).update(Buffer.from(name, 'utf8')).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** A resource id as Gnocchi stores it: a UUID as is, anything else hashed with the creator. */
export function resourceUuid(id: string, creator: string): string {
  if (UUID_RE.test(id)) {
    const x = id.replace(/-/g, '').toLowerCase();
    return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
  }
  return uuid5(RESOURCE_ID_NAMESPACE, `${id}\x00${creator}`);
}

let lastStamp = 0;
/** A strictly increasing timestamp (revision_start orders resources created in the same millisecond). */
/** A new metric's row (its creator `user:project`). */
function metricRow(
  spec: { name: string | null; unit: string | null; policy: string },
  creator: string,
  resourceId: string | null,
  id: string = randomUUID(),
) {
  return {
    id,
    archive_policy_name: spec.policy,
    name: spec.name,
    unit: spec.unit,
    resource_id: resourceId,
    creator,
    created_at: new Date().toISOString(),
  };
}

function stamp(): string {
  const t = Math.max(Date.now() / 1000, lastStamp + 1e-6);
  lastStamp = t;
  return formatTimestamp(Math.round(t * 1e6) / 1e6);
}

const pyFloat = (n: number) => (Number.isInteger(n) ? `${n}.0` : String(n));

/** The aggregation methods of a policy body, with Gnocchi's '*', '+m' and '-m' forms. */
function expandMethods(list: unknown, defaults: string[]): string[] {
  if (list === undefined) return [...defaults];
  if (!Array.isArray(list)) throw bad("expected a list for dictionary value @ data['aggregation_methods']");
  let out = new Set<string>();
  const explicit = list.some((m) => typeof m === 'string' && !m.startsWith('+') && !m.startsWith('-'));
  if (!explicit) out = new Set(defaults);
  for (const m of list) {
    if (typeof m !== 'string') throw bad("expected str @ data['aggregation_methods']");
    if (m === '*') {
      for (const b of BASIC_METHODS) out.add(b);
      continue;
    }
    const op = m[0] === '+' || m[0] === '-' ? m[0] : '';
    const name = op ? m.slice(1) : m;
    if (name === '*') {
      for (const b of BASIC_METHODS) op === '-' ? out.delete(b) : out.add(b);
      continue;
    }
    if (!validMethod(name)) throw bad(`Invalid aggregation method ${name}`);
    if (op === '-') out.delete(name);
    else out.add(name);
  }
  return [...out];
}

export class Indexer {
  /**
   * Deleted metrics not yet expunged (metricd's janitor runs `cleanupDelay` seconds later): they
   * are listed with `status=delete` and keep their archive policy in use until then. Their rows
   * and measures are gone already; a restart expunges them at once.
   */
  private deleted = new Map<string, { row: MetricRow; until: number }>();

  constructor(
    private db: Kysely<MetricDb>,
    private defaultMethods: string[],
    private cleanupDelay = 0,
  ) {}

  private markDeleted(rows: MetricRow[]) {
    if (this.cleanupDelay <= 0) return;
    const until = Date.now() + this.cleanupDelay * 1000;
    for (const row of rows) this.deleted.set(row.id, { row, until });
  }

  /** The metrics in the `delete` state (the janitor's backlog), expired ones expunged first. */
  deletedMetrics(): MetricRow[] {
    const now = Date.now();
    for (const [id, d] of this.deleted) if (d.until <= now) this.deleted.delete(id);
    return [...this.deleted.values()].map((d) => d.row);
  }

  // ---- archive policies ------------------------------------------------------------

  /** Validates an archive policy body as Gnocchi's voluptuous schema does. */
  parsePolicy(body: unknown): ArchivePolicy {
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw bad('expected a dictionary');
    const b = body as Record<string, unknown>;
    for (const k of Object.keys(b))
      if (!['name', 'back_window', 'definition', 'aggregation_methods'].includes(k))
        throw bad(`extra keys not allowed @ data['${k}']`);
    if (b.name === undefined) throw bad("required key not provided @ data['name']");
    if (typeof b.name !== 'string' || !b.name) throw bad("expected str for dictionary value @ data['name']");
    if (b.name.includes('/')) throw bad("'/' is not supported in archive policy name");
    if (b.definition === undefined) throw bad("required key not provided @ data['definition']");
    const back =
      typeof b.back_window === 'string' && /^\d+$/.test(b.back_window) ? Number(b.back_window) : (b.back_window ?? 0);
    if (!Number.isInteger(back) || (back as number) < 0)
      throw bad("expected a positive integer for dictionary value @ data['back_window']");
    return {
      name: b.name,
      back_window: back as number,
      definition: this.parseDefinition(b.definition),
      aggregation_methods: expandMethods(b.aggregation_methods, this.defaultMethods),
    };
  }

  parseDefinition(def: unknown): PolicyDefinition[] {
    if (!Array.isArray(def)) throw bad("expected a list for dictionary value @ data['definition']");
    if (!def.length) throw bad("length of value must be at least 1 for dictionary value @ data['definition']");
    const out: PolicyDefinition[] = def.map((item, i) => {
      if (!item || typeof item !== 'object' || Array.isArray(item))
        throw bad(`expected a dictionary @ data['definition'][${i}]`);
      const d = item as Record<string, unknown>;
      for (const k of Object.keys(d))
        if (!['granularity', 'points', 'timespan'].includes(k))
          throw bad(`extra keys not allowed @ data['definition'][${i}]['${k}']`);
      const span = (k: string) => {
        if (d[k] === undefined || d[k] === null) return null;
        const s = parseTimespan(d[k]);
        if (s === undefined) throw bad(`Invalid timespan ${String(d[k])} @ data['definition'][${i}]['${k}']`);
        if (s <= 0) throw bad(`Timespan must be positive @ data['definition'][${i}]['${k}']`);
        return s;
      };
      let granularity = span('granularity');
      let timespan = span('timespan');
      let points: number | null = null;
      if (d.points !== undefined && d.points !== null) {
        // Gnocchi coerces (clients send "60").
        if (typeof d.points === 'string' && /^\d+$/.test(d.points)) d.points = Number(d.points);
        if (!Number.isInteger(d.points) || (d.points as number) <= 0)
          throw bad(`Number of points must be a positive integer @ data['definition'][${i}]['points']`);
        points = d.points as number;
      }
      if (granularity === null) {
        if (points === null || timespan === null)
          throw bad('Unable to compute granularity: timespan and points are required when granularity is missing');
        granularity = timespan / points;
      } else if (points === null && timespan !== null) {
        points = Math.floor(timespan / granularity);
        if (points <= 0) throw bad('Calculated number of points is < 0');
      } else if (points !== null && timespan === null) {
        timespan = granularity * points;
      } else if (points !== null && timespan !== null && Math.abs(granularity * points - timespan) > 1e-9) {
        throw bad('timespan ≠ granularity × points');
      }
      if (points !== null) timespan = granularity * points;
      return { granularity, points, timespan };
    });
    const seen = new Set<number>();
    for (const d of out) {
      if (seen.has(d.granularity))
        throw bad(`More than one archive policy uses granularity \`${pyFloat(d.granularity)}'`);
      seen.add(d.granularity);
    }
    return out;
  }

  static policyView(p: ArchivePolicy) {
    return {
      name: p.name,
      back_window: p.back_window,
      definition: p.definition.map((d) => ({
        granularity: formatTimespan(d.granularity),
        points: d.points,
        timespan: d.timespan === null ? null : formatTimespan(d.timespan),
      })),
      aggregation_methods: p.aggregation_methods,
    };
  }

  async createPolicy(p: ArchivePolicy, ifMissing = false): Promise<ArchivePolicy> {
    try {
      await this.db
        .insertInto('archive_policies')
        .values({
          name: p.name,
          back_window: p.back_window,
          definition: JSON.stringify(p.definition),
          aggregation_methods: JSON.stringify(p.aggregation_methods),
        })
        .execute();
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
      if (ifMissing) return p;
      throw conflict(`Archive policy ${p.name} already exists`);
    }
    return p;
  }

  async listPolicies(): Promise<ArchivePolicy[]> {
    const rows = await this.db.selectFrom('archive_policies').selectAll().orderBy('name').execute();
    return rows.map((r) => ({
      name: r.name,
      back_window: r.back_window,
      definition: JSON.parse(r.definition),
      aggregation_methods: JSON.parse(r.aggregation_methods),
    }));
  }

  async findPolicy(name: string): Promise<ArchivePolicy | undefined> {
    const r = await this.db.selectFrom('archive_policies').selectAll().where('name', '=', name).executeTakeFirst();
    return r
      ? {
          name: r.name,
          back_window: r.back_window,
          definition: JSON.parse(r.definition),
          aggregation_methods: JSON.parse(r.aggregation_methods),
        }
      : undefined;
  }

  async getPolicy(name: string): Promise<ArchivePolicy> {
    const p = await this.findPolicy(name);
    if (!p) throw notFound(`Archive policy ${name} does not exist`);
    return p;
  }

  async updatePolicy(name: string, body: unknown): Promise<ArchivePolicy> {
    const p = await this.getPolicy(name);
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw bad('expected a dictionary');
    const b = body as Record<string, unknown>;
    for (const k of Object.keys(b)) if (k !== 'definition') throw bad(`extra keys not allowed @ data['${k}']`);
    if (b.definition === undefined) throw bad("required key not provided @ data['definition']");
    const def = this.parseDefinition(b.definition);
    const before = p.definition.map((d) => d.granularity).sort();
    const after = def.map((d) => d.granularity).sort();
    if (before.join() !== after.join())
      throw bad(`Archive policy ${name} does not support change: Cannot add or drop granularities`);
    await this.db
      .updateTable('archive_policies')
      .set({ definition: JSON.stringify(def) })
      .where('name', '=', name)
      .execute();
    return { ...p, definition: def };
  }

  async deletePolicy(name: string) {
    await this.getPolicy(name);
    const used = await this.db
      .selectFrom('metrics')
      .select('id')
      .where('archive_policy_name', '=', name)
      .executeTakeFirst();
    const rule = await this.db
      .selectFrom('archive_policy_rules')
      .select('name')
      .where('archive_policy_name', '=', name)
      .executeTakeFirst();
    const pending = this.deletedMetrics().some((m) => m.archive_policy_name === name);
    if (used || rule || pending) throw bad(`Archive policy ${name} is still in use`);
    await this.db.deleteFrom('archive_policies').where('name', '=', name).execute();
  }

  // ---- archive policy rules ------------------------------------------------------------

  async createRule(body: unknown) {
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw bad('expected a dictionary');
    const b = body as Record<string, unknown>;
    for (const k of Object.keys(b))
      if (!['name', 'metric_pattern', 'archive_policy_name'].includes(k))
        throw bad(`extra keys not allowed @ data['${k}']`);
    for (const k of ['name', 'metric_pattern', 'archive_policy_name'])
      if (typeof b[k] !== 'string' || !b[k]) throw bad(`required key not provided @ data['${k}']`);
    const rule = {
      name: b.name as string,
      metric_pattern: b.metric_pattern as string,
      archive_policy_name: b.archive_policy_name as string,
    };
    if (!(await this.findPolicy(rule.archive_policy_name)))
      throw bad(`Archive policy ${rule.archive_policy_name} does not exist`);
    try {
      await this.db.insertInto('archive_policy_rules').values(rule).execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict(`Archive policy rule ${rule.name} already exists`);
      throw e;
    }
    return rule;
  }

  listRules() {
    return this.db.selectFrom('archive_policy_rules').selectAll().orderBy('name').execute();
  }

  async getRule(name: string) {
    const r = await this.db.selectFrom('archive_policy_rules').selectAll().where('name', '=', name).executeTakeFirst();
    if (!r) throw notFound(`Archive policy rule ${name} does not exist`);
    return r;
  }

  async renameRule(name: string, body: unknown) {
    const r = await this.getRule(name);
    const b = (body ?? {}) as Record<string, unknown>;
    for (const k of Object.keys(b)) if (k !== 'name') throw bad(`extra keys not allowed @ data['${k}']`);
    if (typeof b.name !== 'string' || !b.name) throw bad("required key not provided @ data['name']");
    try {
      await this.db.updateTable('archive_policy_rules').set({ name: b.name }).where('name', '=', name).execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict(`Archive policy rule ${b.name} already exists`);
      throw e;
    }
    return { ...r, name: b.name };
  }

  async deleteRule(name: string) {
    await this.getRule(name);
    await this.db.deleteFrom('archive_policy_rules').where('name', '=', name).execute();
  }

  /** The policy for a metric created without one: the rule with the longest matching pattern. */
  async policyForName(name: string | null): Promise<string | undefined> {
    if (!name) return undefined;
    const rules = await this.listRules();
    rules.sort((a, b) => b.metric_pattern.length - a.metric_pattern.length);
    return rules.find((r) => fnmatch(r.metric_pattern, name))?.archive_policy_name;
  }

  // ---- resource types ------------------------------------------------------------------

  async ensureStandardTypes() {
    for (const [name, attributes] of Object.entries(STANDARD_RESOURCE_TYPES)) {
      const exists = await this.db
        .selectFrom('resource_types')
        .select('name')
        .where('name', '=', name)
        .executeTakeFirst();
      if (!exists)
        await this.db
          .insertInto('resource_types')
          .values({ name, attributes: JSON.stringify(attributes), state: 'active' })
          .execute();
    }
  }

  async listTypes(): Promise<Array<{ name: string; attributes: Attributes; state: string }>> {
    const rows = await this.db.selectFrom('resource_types').selectAll().orderBy('name').execute();
    return [
      { name: 'generic', attributes: {}, state: 'active' },
      ...rows.map((r) => ({ name: r.name, attributes: JSON.parse(r.attributes) as Attributes, state: r.state })),
    ];
  }

  async findType(name: string): Promise<{ name: string; attributes: Attributes; state: string } | undefined> {
    if (name === 'generic') return { name, attributes: {}, state: 'active' };
    const r = await this.db.selectFrom('resource_types').selectAll().where('name', '=', name).executeTakeFirst();
    return r ? { name: r.name, attributes: JSON.parse(r.attributes) as Attributes, state: r.state } : undefined;
  }

  async getType(name: string) {
    const t = await this.findType(name);
    if (!t) throw notFound(`Resource type ${name} does not exist`);
    return t;
  }

  async createType(body: unknown) {
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw bad('expected a dictionary');
    const b = body as Record<string, unknown>;
    for (const k of Object.keys(b))
      if (k !== 'name' && k !== 'attributes') throw bad(`extra keys not allowed @ data['${k}']`);
    if (typeof b.name !== 'string' || !b.name) throw bad("required key not provided @ data['name']");
    if (!/^[a-zA-Z0-9_-]+$/.test(b.name) || b.name.length > 255) throw bad(`invalid resource type name ${b.name}`);
    const attrs: Attributes = {};
    const given = b.attributes ?? {};
    if (!given || typeof given !== 'object' || Array.isArray(given))
      throw bad("expected a dictionary for dictionary value @ data['attributes']");
    for (const [k, v] of Object.entries(given)) {
      const { fill: _fill, ...schema } = attributeSchema(k, v);
      attrs[k] = schema;
    }
    if (b.name === 'generic') throw conflict('Resource type generic already exists');
    try {
      await this.db
        .insertInto('resource_types')
        .values({ name: b.name, attributes: JSON.stringify(attrs), state: 'active' })
        .execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict(`Resource type ${b.name} already exists`);
      throw e;
    }
    return { name: b.name, attributes: attrs, state: 'active' };
  }

  /** A JSON patch of a type's attributes (add and remove). */
  async patchType(name: string, ops: unknown) {
    const t = await this.getType(name);
    if (name === 'generic') throw bad('The generic resource type cannot be changed');
    if (!Array.isArray(ops)) throw bad('a JSON patch must be a list of operations');
    const attrs: Attributes = { ...t.attributes };
    const fills: Record<string, unknown> = {};
    const removed: string[] = [];
    for (const op of ops) {
      const o = op as { op?: string; path?: string; value?: unknown };
      const m = /^\/attributes\/([^/]+)$/.exec(o.path ?? '');
      if (!m) throw bad(`invalid path ${String(o.path)}`);
      const attr = m[1]!.replace(/~1/g, '/').replace(/~0/g, '~');
      if (o.op === 'add') {
        if (attrs[attr]) throw bad(`Resource type ${name} already has an attribute ${attr}`);
        const { fill, ...schema } = attributeSchema(attr, o.value);
        if (schema.required && fill === undefined)
          throw bad(`Invalid input: option 'fill' must not be empty if the attribute is required @ data['${attr}']`);
        attrs[attr] = schema;
        if (fill !== undefined) fills[attr] = fill;
      } else if (o.op === 'remove') {
        if (!attrs[attr]) throw bad(`Resource type ${name} has no attribute ${attr}`);
        delete attrs[attr];
        removed.push(attr);
      } else throw bad(`unsupported patch operation ${String(o.op)}`);
    }
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('resource_types')
        .set({ attributes: JSON.stringify(attrs) })
        .where('name', '=', name)
        .execute();
      if (Object.keys(fills).length || removed.length) {
        const rows = await trx.selectFrom('resources').select(['id', 'attributes']).where('type', '=', name).execute();
        for (const r of rows) {
          const a = JSON.parse(r.attributes) as Record<string, unknown>;
          for (const k of removed) delete a[k];
          for (const [k, v] of Object.entries(attrs)) if (!(k in a)) a[k] = k in fills ? fills[k] : null;
          await trx
            .updateTable('resources')
            .set({ attributes: JSON.stringify(a) })
            .where('id', '=', r.id)
            .execute();
        }
      }
    });
    return { name, attributes: attrs, state: t.state };
  }

  async deleteType(name: string) {
    if (name === 'generic') throw bad('The generic resource type cannot be deleted');
    await this.getType(name);
    const used = await this.db.selectFrom('resources').select('id').where('type', '=', name).executeTakeFirst();
    if (used) throw bad(`Resource type ${name} is still in use`);
    await this.db.deleteFrom('resource_types').where('name', '=', name).execute();
  }

  // ---- metrics ---------------------------------------------------------------------------

  /** Validates a metric body and resolves its archive policy (400 for an unknown one). */
  async metricSpec(
    body: unknown,
    name?: string,
  ): Promise<{ name: string | null; unit: string | null; policy: string }> {
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw bad('expected a dictionary');
    const b = body as Record<string, unknown>;
    for (const k of Object.keys(b))
      if (!['name', 'archive_policy_name', 'unit', 'resource_id'].includes(k))
        throw bad(`extra keys not allowed @ data['${k}']`);
    const n = name ?? (b.name === undefined || b.name === null ? null : b.name);
    if (n !== null && (typeof n !== 'string' || !n)) throw bad("expected str for dictionary value @ data['name']");
    if (typeof n === 'string' && n.includes('/')) throw bad("'/' is not supported in metric name");
    if (b.unit !== undefined && b.unit !== null && (typeof b.unit !== 'string' || b.unit.length > 31))
      throw bad("length of value must be at most 31 for dictionary value @ data['unit']");
    let policy = b.archive_policy_name;
    if (policy !== undefined && typeof policy !== 'string') throw bad("expected str @ data['archive_policy_name']");
    if (policy === undefined) {
      policy = await this.policyForName(n as string | null);
      if (!policy)
        throw bad('No archive policy name specified and no archive policy rule found matching the metric name');
    }
    if (!(await this.findPolicy(policy as string))) throw bad(`Archive policy ${String(policy)} does not exist`);
    return { name: n as string | null, unit: (b.unit as string | undefined) ?? null, policy: policy as string };
  }

  async createMetric(
    spec: { name: string | null; unit: string | null; policy: string },
    caller: Caller,
    resourceId: string | null = null,
    id: string = randomUUID(),
  ): Promise<MetricRow> {
    const row = metricRow(spec, `${caller.userId}:${caller.projectId}`, resourceId, id);
    await this.db.insertInto('metrics').values(row).execute();
    return row;
  }

  async findMetric(id: string): Promise<MetricRow | undefined> {
    if (!UUID_RE.test(id)) return undefined;
    return this.db.selectFrom('metrics').selectAll().where('id', '=', id.toLowerCase()).executeTakeFirst();
  }

  async getMetric(id: string): Promise<MetricRow> {
    const m = await this.findMetric(id);
    if (!m) throw notFound(`Metric ${id} does not exist`);
    return m;
  }

  async listMetrics(filter: {
    id?: string[];
    name?: string;
    archive_policy_name?: string;
    resource_id?: string;
    unit?: string;
  }) {
    let q = this.db.selectFrom('metrics').selectAll();
    if (filter.id) q = q.where('id', 'in', filter.id.length ? filter.id : ['']);
    if (filter.name !== undefined) q = q.where('name', '=', filter.name);
    if (filter.archive_policy_name !== undefined) q = q.where('archive_policy_name', '=', filter.archive_policy_name);
    if (filter.resource_id !== undefined) q = q.where('resource_id', '=', filter.resource_id);
    if (filter.unit !== undefined) q = q.where('unit', '=', filter.unit);
    return q.orderBy('created_at').orderBy('id').execute();
  }

  async resourceMetric(resourceId: string, name: string): Promise<MetricRow | undefined> {
    return this.db
      .selectFrom('metrics')
      .selectAll()
      .where('resource_id', '=', resourceId)
      .where('name', '=', name)
      .executeTakeFirst();
  }

  async deleteMetric(id: string) {
    const row = await this.db.selectFrom('metrics').selectAll().where('id', '=', id).executeTakeFirst();
    await this.db.deleteFrom('metrics').where('id', '=', id).execute();
    if (row) this.markDeleted([row]);
  }

  async metricsOf(resourceIds: string[]): Promise<Map<string, MetricRow[]>> {
    const out = new Map<string, MetricRow[]>();
    if (!resourceIds.length) return out;
    for (let i = 0; i < resourceIds.length; i += 500) {
      const rows = await this.db
        .selectFrom('metrics')
        .selectAll()
        .where('resource_id', 'in', resourceIds.slice(i, i + 500))
        .execute();
      for (const m of rows) {
        const l = out.get(m.resource_id!) ?? [];
        l.push(m);
        out.set(m.resource_id!, l);
      }
    }
    return out;
  }

  // ---- resources ---------------------------------------------------------------------------

  private validateAttributes(
    attrs: Attributes,
    body: Record<string, unknown>,
    creating: boolean,
  ): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, s] of Object.entries(attrs)) {
      if (k in body) out[k] = checkValue(k, s, body[k]);
      else if (creating) {
        if (s.required) throw bad(`required key not provided @ data['${k}']`);
        out[k] = null;
      }
    }
    return out;
  }

  /** The body of a resource create or update, checked against its type. */
  private checkKeys(attrs: Attributes, body: Record<string, unknown>, creating: boolean) {
    const allowed = new Set([...Object.keys(attrs), 'user_id', 'project_id', 'started_at', 'ended_at', 'metrics']);
    if (creating) allowed.add('id');
    for (const k of Object.keys(body)) if (!allowed.has(k)) throw bad(`extra keys not allowed @ data['${k}']`);
    for (const k of ['user_id', 'project_id'])
      if (
        body[k] !== undefined &&
        body[k] !== null &&
        (typeof body[k] !== 'string' || (body[k] as string).length > 255)
      )
        throw bad(`expected str for dictionary value @ data['${k}']`);
    for (const k of ['started_at', 'ended_at'])
      if (body[k] !== undefined && body[k] !== null && parseTimestamp(body[k]) === undefined)
        throw bad(`Unable to parse timestamp ${String(body[k])} @ data['${k}']`);
  }

  /** The metrics of a resource body: name → existing metric id, or a spec to create. */
  private async metricsBody(
    v: unknown,
  ): Promise<Array<{ name: string; id?: string; spec?: { name: string; unit: string | null; policy: string } }>> {
    if (v === undefined) return [];
    if (!v || typeof v !== 'object' || Array.isArray(v))
      throw bad("expected a dictionary for dictionary value @ data['metrics']");
    const out = [];
    for (const [name, m] of Object.entries(v)) {
      if (name.includes('/')) throw bad("'/' is not supported in metric name");
      if (typeof m === 'string') {
        const metric = await this.findMetric(m);
        if (!metric) throw bad(`Metric ${m} does not exist`);
        out.push({ name, id: metric.id });
      } else {
        const spec = await this.metricSpec(m ?? {}, name);
        out.push({ name, spec: { ...spec, name } });
      }
    }
    return out;
  }

  async createResource(type: string, body: unknown, caller: Caller): Promise<ResourceView> {
    const t = await this.getType(type);
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw bad('expected a dictionary');
    const b = body as Record<string, unknown>;
    this.checkKeys(t.attributes, b, true);
    if (b.id === undefined) throw bad("required key not provided @ data['id']");
    if (typeof b.id !== 'string' || !b.id || b.id.includes('/') || b.id.length > 255)
      throw bad("not a valid value for dictionary value @ data['id']");
    const creator = `${caller.userId}:${caller.projectId}`;
    const attrs = this.validateAttributes(t.attributes, b, true);
    const metrics = await this.metricsBody(b.metrics);
    const id = resourceUuid(b.id, creator);
    const now = stamp();
    const row: ResourceTable = {
      id,
      type,
      original_resource_id: b.id,
      project_id: (b.project_id as string | undefined) ?? null,
      user_id: (b.user_id as string | undefined) ?? null,
      creator,
      started_at: b.started_at ? formatTimestamp(parseTimestamp(b.started_at)!) : now,
      ended_at: b.ended_at ? formatTimestamp(parseTimestamp(b.ended_at)!) : null,
      revision_start: now,
      attributes: JSON.stringify(attrs),
    };
    try {
      await this.db.transaction().execute(async (trx) => {
        await trx.insertInto('resources').values(row).execute();
        for (const m of metrics) {
          if (m.id) {
            const r = await trx
              .updateTable('metrics')
              .set({ resource_id: id, name: m.name })
              .where('id', '=', m.id)
              .where('resource_id', 'is', null)
              .executeTakeFirst();
            if (!Number(r.numUpdatedRows)) throw bad(`Metric ${m.id} is already associated with a resource`);
          } else
            await trx
              .insertInto('metrics')
              .values(metricRow({ ...m.spec!, name: m.name }, creator, id))
              .execute();
        }
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict(`Resource ${b.id} already exists`);
      throw e;
    }
    return this.getResource(type, id);
  }

  async findResourceRow(type: string, id: string, creator?: string): Promise<ResourceTable | undefined> {
    const candidates = new Set<string>();
    if (UUID_RE.test(id)) candidates.add(resourceUuid(id, ''));
    if (creator) candidates.add(resourceUuid(id, creator));
    let q = this.db.selectFrom('resources').selectAll();
    if (candidates.size)
      q = q.where((eb) => eb.or([eb('id', 'in', [...candidates]), eb('original_resource_id', '=', id)]));
    else q = q.where('original_resource_id', '=', id);
    if (type !== 'generic') q = q.where('type', '=', type);
    const rows = await q.execute();
    return rows.find((r) => candidates.has(r.id)) ?? rows[0];
  }

  async getResourceRow(type: string, id: string, creator?: string): Promise<ResourceTable> {
    const r = await this.findResourceRow(type, id, creator);
    if (!r) throw notFound(`Resource ${id} does not exist`);
    return r;
  }

  async view(r: ResourceTable, metrics: MetricRow[] | undefined, details: boolean): Promise<ResourceView> {
    const [uid, pid] = r.creator.split(':');
    const v: ResourceView = {
      id: r.id,
      type: r.type,
      original_resource_id: r.original_resource_id,
      project_id: r.project_id,
      user_id: r.user_id,
      creator: r.creator,
      created_by_user_id: uid ?? r.creator,
      created_by_project_id: pid ?? '',
      started_at: r.started_at,
      ended_at: r.ended_at,
      revision_start: r.revision_start,
      revision_end: null,
      metrics: Object.fromEntries((metrics ?? []).filter((m) => m.name).map((m) => [m.name!, m.id])),
    };
    if (details) Object.assign(v, JSON.parse(r.attributes));
    return v;
  }

  async getResource(type: string, id: string, creator?: string): Promise<ResourceView> {
    const r = await this.getResourceRow(type, id, creator);
    return this.view(r, (await this.metricsOf([r.id])).get(r.id), true);
  }

  async updateResource(
    type: string,
    id: string,
    body: unknown,
    caller: Caller,
    creator?: string,
  ): Promise<ResourceView> {
    const r = await this.getResourceRow(type, id, creator);
    const t = await this.getType(r.type);
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw bad('expected a dictionary');
    const b = body as Record<string, unknown>;
    this.checkKeys(t.attributes, b, false);
    const attrs = { ...JSON.parse(r.attributes), ...this.validateAttributes(t.attributes, b, false) };
    const metrics = await this.metricsBody(b.metrics);
    const existing = (await this.metricsOf([r.id])).get(r.id) ?? [];
    const changed: Partial<ResourceTable> = {};
    if ('user_id' in b) changed.user_id = (b.user_id as string | null) ?? null;
    if ('project_id' in b) changed.project_id = (b.project_id as string | null) ?? null;
    if ('started_at' in b) changed.started_at = formatTimestamp(parseTimestamp(b.started_at)!);
    if ('ended_at' in b) changed.ended_at = b.ended_at === null ? null : formatTimestamp(parseTimestamp(b.ended_at)!);
    const newAttrs = JSON.stringify(attrs);
    const revised =
      newAttrs !== r.attributes || Object.entries(changed).some(([k, v]) => r[k as keyof ResourceTable] !== v);
    const started = parseTimestamp(changed.started_at ?? r.started_at)!;
    const ended = changed.ended_at ?? r.ended_at;
    if (ended && parseTimestamp(ended)! < started) throw bad('Start timestamp cannot be after end timestamp');
    await this.db.transaction().execute(async (trx) => {
      if (revised) {
        const now = stamp();
        await trx
          .insertInto('resource_history')
          .values({ ...r, revision_end: now })
          .execute();
        await trx
          .updateTable('resources')
          .set({ ...changed, attributes: newAttrs, revision_start: now })
          .where('id', '=', r.id)
          .execute();
      }
      for (const m of metrics) {
        const same = existing.find((e) => e.name === m.name);
        if (same) {
          if (m.id === same.id) continue;
          throw conflict(`Named metric ${m.name} already exists`);
        }
        if (m.id)
          await trx.updateTable('metrics').set({ resource_id: r.id, name: m.name }).where('id', '=', m.id).execute();
        else
          await trx
            .insertInto('metrics')
            .values(metricRow({ ...m.spec!, name: m.name }, `${caller.userId}:${caller.projectId}`, r.id))
            .execute();
      }
    });
    return this.getResource(r.type, r.id);
  }

  async history(type: string, id: string, creator?: string): Promise<ResourceView[]> {
    const r = await this.getResourceRow(type, id, creator);
    const old = await this.db
      .selectFrom('resource_history')
      .selectAll()
      .where('id', '=', r.id)
      .orderBy('revision_start')
      .execute();
    const metrics = (await this.metricsOf([r.id])).get(r.id);
    const out: ResourceView[] = [];
    for (const h of old) {
      const v = await this.view(h, metrics, true);
      v.revision_end = h.revision_end;
      out.push(v);
    }
    out.push(await this.view(r, metrics, true));
    return out;
  }

  /** Deletes a resource and its metrics; returns the metric ids (whose measures go too). */
  async deleteResource(type: string, id: string, creator?: string): Promise<string[]> {
    const r = await this.getResourceRow(type, id, creator);
    return this.dropResources([r.id]);
  }

  async dropResources(ids: string[]): Promise<string[]> {
    const rows = [...(await this.metricsOf(ids)).values()].flat();
    const metrics = rows.map((m) => m.id);
    await this.db.transaction().execute(async (trx) => {
      for (let i = 0; i < ids.length; i += 500) {
        const part = ids.slice(i, i + 500);
        await trx.deleteFrom('metrics').where('resource_id', 'in', part).execute();
        await trx.deleteFrom('resource_history').where('id', 'in', part).execute();
        await trx.deleteFrom('resources').where('id', 'in', part).execute();
      }
    });
    this.markDeleted(rows);
    return metrics;
  }

  /** Whether `attr` is something a query on resources of `type` may name. */
  async knownAttribute(type: string): Promise<(attr: string) => boolean> {
    const t = await this.getType(type);
    return (a) => GENERIC_FIELDS.includes(a) || a in t.attributes;
  }

  /**
   * Resources of a type (all types for `generic`) matching a query, in creation order. Views
   * show the type's attributes when `details` (always for a specific type).
   */
  async searchResources(
    type: string,
    query: Query | undefined,
    opts: { details?: boolean; history?: boolean; caller?: Caller; filterProject?: string } = {},
  ): Promise<ResourceView[]> {
    const t = await this.getType(type);
    const known = (a: string) => GENERIC_FIELDS.includes(a) || a in t.attributes;
    if (query) validateQuery(query, known);
    let q = this.db.selectFrom('resources').selectAll();
    if (type !== 'generic') q = q.where('type', '=', type);
    if (opts.filterProject)
      q = q.where((eb) =>
        eb.or([eb('project_id', '=', opts.filterProject!), eb('creator', 'like', `%:${opts.filterProject}`)]),
      );
    const rows = await q.orderBy('revision_start').execute();
    let all: ResourceTable[] = rows;
    if (opts.history) {
      let hq = this.db.selectFrom('resource_history').selectAll();
      if (type !== 'generic') hq = hq.where('type', '=', type);
      const old = await hq.execute();
      all = [...rows, ...old].sort((a, b) => (a.revision_start < b.revision_start ? -1 : 1));
    }
    const needsAttrs = query ? [...queryAttributes(query)].some((a) => !GENERIC_FIELDS.includes(a)) : false;
    const creator = opts.caller ? `${opts.caller.userId}:${opts.caller.projectId}` : '';
    const mapValue = (attr: string, v: unknown) => {
      if (attr === 'id' && typeof v === 'string') return resourceUuid(v, creator);
      if (typeof v === 'string' && t.attributes[attr]?.type === 'uuid') return v.toLowerCase();
      return v;
    };
    const matched = query
      ? all.filter((r) => {
          const [uid, pid] = r.creator.split(':');
          const flat: Record<string, unknown> = {
            ...r,
            created_by_user_id: uid,
            created_by_project_id: pid,
            revision_end: (r as { revision_end?: string }).revision_end ?? null,
            ...(needsAttrs ? JSON.parse(r.attributes) : {}),
          };
          return matches(query, flat, mapValue);
        })
      : all;
    const metrics = await this.metricsOf([...new Set(matched.map((r) => r.id))]);
    const details = opts.details || type !== 'generic';
    const out: ResourceView[] = [];
    for (const r of matched) {
      const v = await this.view(r, metrics.get(r.id), details);
      if ((r as { revision_end?: string }).revision_end) v.revision_end = (r as { revision_end?: string }).revision_end;
      out.push(v);
    }
    return out;
  }
}

export type { AttributeSchema };
