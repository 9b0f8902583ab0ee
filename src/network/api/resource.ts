// Neutron's API layer (neutron/api/v2/base.py) for every resource, driven by a declaration of its
// attributes as Neutron's RESOURCE_ATTRIBUTE_MAP is: which attributes a POST or PUT may carry,
// their defaults and validators, which are filters and sort keys. From one ResourceSpec this
// file serves list (filters on any attribute, `fields`, sorting, marker pagination with links,
// tag filters), show, create (one or a bulk list, atomically), update (with
// `If-Match: revision_number=N`) and delete, with the per-attribute policy rules
// (`create_port:binding:host_id`, `get_network:provider:network_type`), standard attributes
// (description, created_at, updated_at, revision_number, tags), quotas and notifications.
import { type DynamicDb, dynamic, type NetworkDb } from '../db/schema.ts';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Expression, ExpressionBuilder, Kysely, SelectQueryBuilder, SqlBool, Transaction } from 'kysely';
import { randomUUID } from 'node:crypto';
import { ApiError } from '../../core/errors.ts';
import { bool, insertRow, json } from '../../core/db.ts';
import type { NetworkService } from '../service.ts';
import { badInput, toBoolean, toInt, toString } from './validate.ts';
import { pyStr } from '../../core/python.ts';
import { UUID_LIKE } from '../../core/validate.ts';
import { resourceRoutes } from './routes.ts';
import { NetworkContext } from '../context.ts';

/** A row of a resource's table read through dynamic() (the table is named at run time). */
export type Row = Record<string, unknown>;

/**
 * Its id and the standard attributes, as a standard resource's view has them. Each family types
 * its resources' views (api/types.ts: ResourceViews, one per plural; the standard ones extend
 * this): the hooks of a ResourceSpec<V> see a V, so a misspelt attribute fails to compile.
 */
export type BaseView = {
  id: string;
  project_id?: string | null;
  tenant_id?: string | null;
  description?: string;
  created_at?: string;
  updated_at?: string;
  revision_number?: number;
  tags?: string[];
};
/** A view whose resource is not named (the default of ResourceSpec and ResourceApi). */
export type View = Record<string, unknown>;
/** A view as the generic layer handles it: attributes named at run time. */
type Attrs = Record<string, unknown>;
const attrsOf = (v: object) => v as Attrs;
/** The standard attributes of any view (V is only known to be an object). */
const std = (v: object) => v as BaseView;

/** What a hook passes along on a view or values under a symbol key (never shown, never stored). */
export function hidden<T>(v: object, key: symbol): T | undefined {
  return Reflect.get(v, key) as T | undefined;
}
export function setHidden(v: object, key: symbol, value: unknown): void {
  Reflect.set(v, key, value);
}
/** A connection or a transaction (a Transaction is a Kysely). */
export type Tx = Kysely<NetworkDb>;
/** A query on a resource's table (named at run time, see DynamicDb). */
export type ResourceQuery = SelectQueryBuilder<DynamicDb, string, Row>;

export interface AttrContext {
  ctx: NetworkContext;
  /** The values of the resource being created (after defaults) or the existing resource's view on update. */
  values: Attrs;
  existing?: Attrs;
}

export interface Attr {
  /** Column in the resource's table: by default the name with ':' as '_'; false for computed attributes. */
  column?: string | false;
  /** How the column stores it: booleans as 0/1, json as text. */
  type?: 'string' | 'boolean' | 'integer' | 'json';
  /** Allowed in a POST body / a PUT body. */
  post?: boolean;
  put?: boolean;
  required?: boolean;
  /** Default on create when the body does not carry it (a function is called with the values so far). */
  default?: unknown;
  /** Validates and converts a value the client sent (not called for defaults). */
  validate?: (v: unknown, name: string, c: AttrContext) => unknown;
  /** May the list be filtered by it (default true). */
  filter?: boolean;
  /** Converts a query-string value for filtering (default: by type). */
  filterValue?: (s: string) => unknown;
  /** Shown in responses (default true). */
  visible?: boolean;
  /** false: no `create_/update_<res>:<attr>` rule applies, as for upstream attributes without enforce_policy. */
  enforcePolicy?: boolean;
}

export interface ResourceSpec<V extends object = View> {
  singular: string;
  plural: string;
  /** The parent of a sub-resource: its URL parameter and the column holding the parent's id. */
  parent?: {
    param: string;
    column: string /** loads the parent (404 when not visible) and returns the policy target keys it adds. */;
    load(ctx: NetworkContext, id: string, route: RouteName): Promise<Record<string, unknown>>;
  };
  /** Policy names are `<action>_<policyName>` (default: singular). */
  policyName?: string;
  table: string;
  attrs: Record<string, Attr>;
  /** Has project_id/tenant_id (default true). */
  owned?: boolean;
  /** Has description, created_at, updated_at, revision_number, tags (default true). */
  standard?: boolean;
  /** The resource name in tag URLs and the tags table (default plural); false: not taggable. */
  tags?: string | false;
  /** The quota resource counted on create (e.g. 'network'). */
  quota?: string;
  /** The not-found error, e.g. NetworkNotFound (with the parent's id for a sub-resource). */
  notFound(id: string, parentId?: string): ApiError;
  /** Restricts what a non-admin caller sees (default: their project's rows). */
  scope?(q: ResourceQuery, ctx: NetworkContext): ResourceQuery;
  /** Filters for attributes that are not plain columns: name -> (query, values) -> query. */
  filters?: Record<string, (q: ResourceQuery, values: unknown[], ctx: NetworkContext) => ResourceQuery>;
  /**
   * Fills computed attributes of a page of views (one query for the page, not one per row).
   * `created`: the views of resources this transaction just created (see `viewFromCreate`), on
   * which afterCreate already put what it wrote: only what is missing needs reading.
   */
  expand?(views: V[], ctx: NetworkContext, tx: Tx, created?: boolean): Promise<void>;
  /** Extra policy target keys for a resource (e.g. `network:tenant_id` of a port's network). */
  target?(view: V, ctx: NetworkContext): Promise<Record<string, unknown>> | Record<string, unknown>;
  /** Checks and side effects inside the create transaction, before the row is inserted; may change `values`. */
  beforeCreate?(values: V, ctx: NetworkContext, tx: Transaction<NetworkDb>): Promise<void>;
  /**
   * After the row exists, still inside the transaction; `view` holds the stored columns only
   * (expand has not run). With `viewFromCreate` it becomes the created resource's view: a hook
   * that writes more (related rows, a column update) puts the result on it.
   */
  afterCreate?(view: V, values: V, ctx: NetworkContext, tx: Transaction<NetworkDb>): Promise<void>;
  /**
   * The created resource's view is made from what the create wrote (every column is set by the
   * create: attribute defaults and beforeCreate) instead of being read back: expand runs with
   * `created` on the view afterCreate completed.
   */
  viewFromCreate?: boolean;
  beforeUpdate?(existing: V, changes: Partial<V>, ctx: NetworkContext, tx: Transaction<NetworkDb>): Promise<void>;
  afterUpdate?(
    view: V,
    existing: V,
    changes: Partial<V>,
    ctx: NetworkContext,
    tx: Transaction<NetworkDb>,
  ): Promise<void>;
  beforeDelete?(existing: V, ctx: NetworkContext, tx: Transaction<NetworkDb>): Promise<void>;
  /** After the transaction committed: tell the agents (RPC), never fails the request. */
  committed?(event: 'create' | 'update' | 'delete', view: V, ctx: NetworkContext, before?: V): Promise<void> | void;
  /** Checks only a DELETE through the API makes (not an internal removal), e.g. router-owned ports. */
  checkDelete?(existing: V, ctx: NetworkContext): Promise<void> | void;
  /** Checks only a POST through the API makes (before policy), e.g. a port on another project's network. */
  checkCreate?(values: V, ctx: NetworkContext): Promise<void> | void;
}

/** The standard routes of a resource (which a resource has: api/routes.ts). */
export type RouteName = 'list' | 'show' | 'create' | 'update' | 'delete';

/** A list request's query string, as Fastify parses it (a repeated key is a list). */
export type ListQuery = Record<string, string | string[] | undefined>;

/** A page of a list: the shown items, their ids, and what the pagination links need. */
export interface ListPage {
  items: Attrs[];
  ids: string[];
  limit?: number;
  reverse: boolean;
}

const STANDARD_ATTRS: Record<string, Attr> = {
  description: { post: true, put: true, default: '', validate: (v, n) => toString(v, n, 255) },
  created_at: { filter: true },
  updated_at: { filter: true },
  revision_number: { type: 'integer' },
};

export const colName = (attr: string, a: Attr) =>
  a.column === false ? undefined : (a.column ?? attr.replace(/:/g, '_'));

/** Neutron's timestamps: second precision, 'Z'. */
export const timestamp = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

/** A boolean that clients read and write but no column of the table holds (RBAC rows or another table do): false by default. */
export const derivedFlag = (): Attr => ({
  type: 'boolean',
  column: false,
  post: true,
  put: true,
  default: false,
  validate: (v, n) => toBoolean(v, n),
});

/** The standard columns of a row written beside the resource API: a new id, no description, now, revision 0. */
export function standardColumns() {
  const now = timestamp();
  return { id: randomUUID(), description: '', created_at: now, updated_at: now, revision_number: 0 };
}

/** A new revision of a resource whose related state changed (its rules, interfaces, tags, RBAC). */
export async function bumpRevision(tx: Tx, table: string, id: string) {
  await dynamic(tx)
    .updateTable(table)
    .set((eb) => ({ revision_number: eb('revision_number', '+', 1), updated_at: timestamp() }))
    .where('id', '=', id)
    .execute();
}

export function allAttrs<V extends object>(spec: ResourceSpec<V>): Record<string, Attr> {
  const own: Record<string, Attr> = { id: { post: false }, ...spec.attrs };
  if (spec.owned !== false) {
    own.project_id = { post: true, column: 'project_id', validate: (v, n) => toString(v, n, 255) };
    own.tenant_id = { post: true, column: 'project_id', validate: (v, n) => toString(v, n, 255) };
  }
  if (spec.standard !== false) Object.assign(own, STANDARD_ATTRS, { ...spec.attrs });
  return own;
}

/** [attribute, column, type] of the attributes stored in a column (a resource computes it once). */
export type Columns = Array<[string, string, Attr['type']]>;

export function columnsOf(attrs: Record<string, Attr>): Columns {
  const cols: Columns = [];
  for (const [name, a] of Object.entries(attrs)) {
    const col = colName(name, a);
    if (col) cols.push([name, col, a.type]);
  }
  return cols;
}

/** A row from the database as the API shows it (before computed attributes and policy). */
export function rowToView(row: Row, columns: Columns): Attrs {
  const v: Attrs = {};
  for (const [name, col, type] of columns) {
    if (!(col in row)) continue;
    const raw = row[col];
    v[name] =
      type === 'boolean'
        ? raw === null
          ? null
          : bool(raw)
        : type === 'json'
          ? json(raw, null)
          : type === 'integer' && raw !== null
            ? Number(raw)
            : raw;
  }
  return v;
}

function viewToRow(values: Attrs, columns: Columns, only?: Set<string>): Row {
  const row: Row = {};
  for (const [name, col, type] of columns) {
    if (only && !only.has(name)) continue;
    if (!(name in values)) continue;
    const v = values[name];
    row[col] =
      type === 'boolean'
        ? v === null || v === undefined
          ? null
          : v
            ? 1
            : 0
        : type === 'json'
          ? v === undefined
            ? null
            : JSON.stringify(v)
          : v;
  }
  return row;
}

/** The hooks of a resource spec that an extension may add (extend() chains them). */
type HookName =
  | 'expand'
  | 'beforeCreate'
  | 'afterCreate'
  | 'beforeUpdate'
  | 'afterUpdate'
  | 'beforeDelete'
  | 'committed'
  | 'checkDelete';

/**
 * What another family adds to a resource, as ML2 extension drivers and service plugins do
 * upstream (security groups add `security_groups` to ports, L3 adds `router:external` to
 * networks): attributes, filters and hooks, run after the resource's own.
 */
export type ResourceExtension<V extends object = View> = Pick<ResourceSpec<V>, HookName> & {
  attrs?: Record<string, Attr>;
  filters?: ResourceSpec<V>['filters'];
};

/** Any of the hooks, as extend() chains them. */
type Hook = (...a: unknown[]) => unknown;

export class ResourceApi<V extends object = View> {
  attrs: Record<string, Attr>;
  /** The stored attributes of `attrs`, for converting rows and views. */
  private columns: Columns;
  constructor(
    public svc: NetworkService,
    public spec: ResourceSpec<V>,
  ) {
    this.attrs = allAttrs(spec);
    this.columns = columnsOf(this.attrs);
  }

  /** Adds another family's attributes and hooks (see ResourceExtension). */
  extend(ext: ResourceExtension<V>) {
    const spec = this.spec;
    spec.attrs = { ...spec.attrs, ...(ext.attrs ?? {}) };
    spec.filters = { ...(spec.filters ?? {}), ...(ext.filters ?? {}) };
    const hooks: HookName[] = [
      'expand',
      'beforeCreate',
      'afterCreate',
      'beforeUpdate',
      'afterUpdate',
      'beforeDelete',
      'committed',
      'checkDelete',
    ];
    for (const h of hooks) {
      const mine = spec[h] as Hook | undefined;
      const theirs = ext[h] as Hook | undefined;
      if (!theirs) continue;
      (spec as Record<HookName, Hook | undefined>)[h] = mine
        ? async (...a: unknown[]) => {
            await mine(...a);
            await theirs(...a);
          }
        : theirs;
    }
    this.attrs = allAttrs(spec);
    this.columns = columnsOf(this.attrs);
  }

  get policyName() {
    return this.spec.policyName ?? this.spec.singular;
  }
  get tagResource() {
    return this.spec.tags === false || this.spec.standard === false ? undefined : (this.spec.tags ?? this.spec.plural);
  }

  // ---- reading ----------------------------------------------------------------------

  /** The rows a caller may see, before policy: admins see all, others what `scope` lets them. */
  baseQuery(ctx: NetworkContext, tx: Tx = this.svc.db): ResourceQuery {
    let q: ResourceQuery = dynamic(tx).selectFrom(this.spec.table).selectAll(this.spec.table);
    if (!this.svc.isAdmin(ctx) && this.spec.owned !== false) {
      q = this.spec.scope
        ? this.spec.scope(q, ctx)
        : q.where(`${this.spec.table}.project_id`, '=', ctx.projectId ?? '');
    }
    return q;
  }

  /** Views with computed attributes, tags and standard attributes for rows. */
  async views(rows: Row[], ctx: NetworkContext, tx: Tx = this.svc.db): Promise<V[]> {
    const views = rows.map((r) => rowToView(r, this.columns) as V);
    if (this.tagResource && views.length) {
      const tags = await this.svc.tagsOf(
        tx,
        this.tagResource,
        views.map((v) => std(v).id),
      );
      for (const v of views) std(v).tags = tags.get(std(v).id) ?? [];
    }
    if (this.spec.expand && views.length) await this.spec.expand(views, ctx, tx);
    return views;
  }

  /** The policy target of a view: the view, `tenant_id`, and what spec.target adds. Kept per view object (a list asks twice per item). */
  async policyTarget(view: V, ctx: NetworkContext): Promise<Record<string, unknown>> {
    let t = this.targets.get(view);
    if (!t) {
      const extra = this.spec.target ? await this.spec.target(view, ctx) : {};
      t = {
        ...view,
        ...(std(view).project_id !== undefined
          ? { tenant_id: std(view).project_id, project_id: std(view).project_id }
          : {}),
        ...extra,
      };
      this.targets.set(view, t);
    }
    return t;
  }
  private targets = new WeakMap<V, Record<string, unknown>>();

  /** One resource the caller may see (404 otherwise), without policy. */
  async load(ctx: NetworkContext, id: string, tx: Tx = this.svc.db, parentId?: string): Promise<V> {
    let q = this.baseQuery(ctx, tx).where(`${this.spec.table}.id`, '=', id);
    if (this.spec.parent && parentId !== undefined)
      q = q.where(`${this.spec.table}.${this.spec.parent.column}`, '=', parentId);
    const row = await q.executeTakeFirst();
    if (!row) throw this.spec.notFound(id, parentId);
    return (await this.views([row], ctx, tx))[0]!;
  }

  /** Loads and enforces `<action>_<resource>`; a resource the policy hides is a 404, as upstream. */
  async find(
    ctx: NetworkContext,
    id: string,
    action: string,
    parentId?: string,
    parentTarget: Record<string, unknown> = {},
  ): Promise<V> {
    const view = await this.load(ctx, id, this.svc.db, parentId);
    const target = { ...(await this.policyTarget(view, ctx)), ...parentTarget };
    if (!ctx.allowed(`get_${this.policyName}`, target)) {
      ctx.markEnforced();
      throw this.spec.notFound(id, parentId);
    }
    if (action !== 'get') this.enforce(ctx, `${action}_${this.policyName}`, target);
    else ctx.markEnforced();
    return view;
  }

  enforce(ctx: NetworkContext, rule: string, target: Record<string, unknown>) {
    if (!ctx.allowed(rule, target)) {
      ctx.markEnforced();
      throw new ApiError(403, `(rule:${rule}) is disallowed by policy`, 'PolicyNotAuthorized');
    }
    ctx.markEnforced();
  }

  /** Removes the attributes the caller may not read (`get_<res>:<attr>` rules) and applies `fields`. */
  async present(view: V, ctx: NetworkContext, fields?: string[]): Promise<Attrs> {
    const out: Attrs = {};
    let target: Record<string, unknown> | undefined;
    for (const k in view) {
      const a = this.attrs[k];
      if (a && a.visible === false) continue;
      if (fields && !fields.includes(k)) continue;
      const rule = this.readRule(k);
      if (rule) {
        target ??= await this.policyTarget(view, ctx);
        if (!ctx.allowed(rule, target)) continue;
      }
      out[k] = attrsOf(view)[k];
    }
    return out;
  }

  /** The `get_<res>:<attr>` rule of an attribute, when the policy has one. */
  private readRule(attr: string): string | undefined {
    let r = this.readRules.get(attr);
    if (r === undefined) {
      const rule = `get_${this.policyName}:${attr}`;
      this.readRules.set(attr, (r = this.svc.policy.has(rule) ? rule : ''));
    }
    return r || undefined;
  }
  private readRules = new Map<string, string>();

  /**
   * A page of resources the caller may see: `query` is the request's query string (filters,
   * `fields`, sorting, `limit`, `marker`, `page_reverse`, tag filters). The handler adds the links.
   */
  async list(
    ctx: NetworkContext,
    query: ListQuery,
    parentId?: string,
    parentTarget: Record<string, unknown> = {},
  ): Promise<ListPage> {
    ctx.markEnforced(); // per item below
    const many = (k: string): string[] => {
      const v = query[k];
      return v === undefined ? [] : Array.isArray(v) ? v : [v];
    };
    let q = this.baseQuery(ctx);
    if (this.spec.parent && parentId !== undefined)
      q = q.where(`${this.spec.table}.${this.spec.parent.column}`, '=', parentId);
    const memoryFilters: Array<[string, unknown[]]> = [];
    for (const key of Object.keys(query)) {
      if (
        [
          'fields',
          'sort_key',
          'sort_dir',
          'limit',
          'marker',
          'page_reverse',
          'tags',
          'tags-any',
          'not-tags',
          'not-tags-any',
        ].includes(key)
      )
        continue;
      const values = many(key);
      if (this.spec.filters?.[key]) {
        q = this.spec.filters[key]!(q, values, ctx);
        continue;
      }
      const a = this.attrs[key];
      if (!a || a.filter === false || a.visible === false)
        throw new ApiError(400, `[${key}] is invalid attribute for filtering`, 'HTTPBadRequest');
      const converted = values.map((s) => this.filterValue(key, a, s));
      const col = colName(key, a);
      if (col) {
        const nonNull = converted.filter((x) => x !== null && x !== undefined);
        q = q.where((eb) => {
          const ors: Array<Expression<SqlBool>> = [];
          if (nonNull.length)
            ors.push(
              eb(
                `${this.spec.table}.${col}`,
                'in',
                nonNull.map((x) => (a.type === 'boolean' ? (x ? 1 : 0) : a.type === 'json' ? JSON.stringify(x) : x)),
              ),
            );
          if (nonNull.length < converted.length) ors.push(eb(`${this.spec.table}.${col}`, 'is', null));
          return eb.or(ors);
        });
      } else memoryFilters.push([key, converted]);
    }
    q = this.tagFilters(q, many);
    const sortKeys = many('sort_key');
    const sortDirs = many('sort_dir');
    if (sortDirs.length && sortDirs.length !== sortKeys.length)
      throw new ApiError(400, 'The number of sort_keys and sort_dirs must be same', 'HTTPBadRequest');
    const order: Array<[string, 'asc' | 'desc']> = sortKeys.map((k, i) => {
      const a = this.attrs[k];
      const col = a && colName(k, a);
      if (!col || a.type === 'json')
        throw new ApiError(400, `${k} is invalid attribute for sort_keys`, 'HTTPBadRequest');
      const d = (sortDirs[i] ?? 'asc').toLowerCase();
      if (d !== 'asc' && d !== 'desc')
        throw new ApiError(
          400,
          `${sortDirs[i]} is invalid value for sort_dirs, valid value is 'asc' and 'desc'`,
          'HTTPBadRequest',
        );
      return [col, d];
    });
    if (!order.some(([c]) => c === 'id')) order.push(['id', order[0]?.[1] ?? 'asc']);
    let limit: number | undefined;
    if (query.limit !== undefined) {
      limit = toInt(query.limit, 'limit', 0);
      if (limit === 0) limit = undefined;
    }
    const marker = typeof query.marker === 'string' ? query.marker : undefined;
    const reverse = query.page_reverse !== undefined && toBoolean(query.page_reverse, 'page_reverse');
    const dir = (d: 'asc' | 'desc') => (reverse ? (d === 'asc' ? 'desc' : 'asc') : d);
    if (marker) {
      const m = await dynamic(this.svc.db)
        .selectFrom(this.spec.table)
        .selectAll()
        .where('id', '=', marker)
        .executeTakeFirst();
      if (!m) throw this.spec.notFound(marker);
      // Keyset condition on (k1, k2, ..., id) in the requested direction.
      q = q.where((eb) =>
        eb.or(
          order.map((_, i) =>
            eb.and([
              ...order
                .slice(0, i)
                .map(([c]) =>
                  m[c] === null ? eb(`${this.spec.table}.${c}`, 'is', null) : eb(`${this.spec.table}.${c}`, '=', m[c]),
                ),
              eb(`${this.spec.table}.${order[i]![0]}`, dir(order[i]![1]) === 'asc' ? '>' : '<', m[order[i]![0]]),
            ]),
          ),
        ),
      );
    }
    for (const [c, d] of order) q = q.orderBy(`${this.spec.table}.${c}`, dir(d));
    const pageNative = memoryFilters.length === 0;
    if (limit !== undefined && pageNative) q = q.limit(limit);
    let rows = await q.execute();
    let views = await this.views(rows, ctx);
    for (const [key, values] of memoryFilters)
      views = views.filter((v) => values.some((x) => sameValue(attrsOf(v)[key], x)));
    const out: V[] = [];
    const hasParent = Object.keys(parentTarget).length > 0;
    for (const v of views) {
      if (limit !== undefined && out.length >= limit) break;
      const own = await this.policyTarget(v, ctx);
      const target = hasParent ? { ...own, ...parentTarget } : own;
      if (!ctx.allowed(`get_${this.policyName}`, target)) continue;
      out.push(v);
    }
    if (reverse) out.reverse();
    rows = [];
    const fields = many('fields')
      .flatMap((f) => f.split(','))
      .filter(Boolean);
    const items = await Promise.all(out.map((v) => this.present(v, ctx, fields.length ? fields : undefined)));
    return { items, ids: out.map((v) => std(v).id), limit, reverse };
  }

  /** A list's response body: the items, and Neutron's pagination links when a limit was asked. */
  listBody(req: FastifyRequest, page: ListPage): Record<string, unknown> {
    const body: Record<string, unknown> = { [this.spec.plural]: page.items };
    if (page.limit !== undefined) body[`${this.spec.plural}_links`] = pageLinks(req, page);
    return body;
  }

  private filterValue(key: string, a: Attr, s: string): unknown {
    if (a.filterValue) return a.filterValue(s);
    if (s === '' && a.type !== 'string' && a.type !== undefined) return null;
    if (a.type === 'boolean') return toBoolean(s, key);
    if (a.type === 'integer') return s === 'None' ? null : toInt(s, key);
    return s;
  }

  private tagFilters(q: ResourceQuery, many: (k: string) => string[]) {
    const res = this.tagResource;
    if (!res) return q;
    const split = (k: string) =>
      many(k)
        .flatMap((s) => s.split(','))
        .filter(Boolean);
    const t = this.spec.table;
    const has = (eb: ExpressionBuilder<DynamicDb, string>, tag: string) =>
      eb.exists(
        eb
          .selectFrom('tags')
          .select('tag')
          .where('resource_type', '=', res)
          .where('tag', '=', tag)
          .whereRef('tags.resource_id', '=', `${t}.id`),
      );
    const all = split('tags'),
      any = split('tags-any'),
      notAll = split('not-tags'),
      notAny = split('not-tags-any');
    if (all.length) q = q.where((eb) => eb.and(all.map((x) => has(eb, x))));
    if (any.length) q = q.where((eb) => eb.or(any.map((x) => has(eb, x))));
    if (notAll.length) q = q.where((eb) => eb.not(eb.and(notAll.map((x) => has(eb, x)))));
    if (notAny.length) q = q.where((eb) => eb.not(eb.or(notAny.map((x) => has(eb, x)))));
    return q;
  }

  // ---- writing ----------------------------------------------------------------------

  /** A POST or PUT item: a dictionary of known attributes, else a 400. */
  private bodyOf(item: unknown): Record<string, unknown> {
    if (!item || typeof item !== 'object' || Array.isArray(item))
      throw new ApiError(
        400,
        `Invalid input for operation: ${this.spec.singular} body must be a dictionary.`,
        'HTTPBadRequest',
      );
    const body = item as Record<string, unknown>;
    const unknown = Object.keys(body).filter((k) => !this.attrs[k]);
    if (unknown.length) throw new ApiError(400, `Unrecognized attribute(s) '${unknown.join(', ')}'`, 'HTTPBadRequest');
    return body;
  }

  /** Validates a POST item: unknown or read-only attributes are 400s; defaults fill the rest. */
  prepareCreate(item: unknown, ctx: NetworkContext): { values: V; given: Set<string> } {
    const body = this.bodyOf(item);
    for (const k of Object.keys(body)) {
      if (!this.attrs[k]!.post) throw new ApiError(400, `Attribute '${k}' not allowed in POST`, 'HTTPBadRequest');
    }
    const values: Attrs = {};
    const given = new Set(Object.keys(body));
    if (this.spec.owned !== false) {
      if (body.tenant_id !== undefined && body.project_id !== undefined && body.tenant_id !== body.project_id) {
        throw new ApiError(400, "'project_id' and 'tenant_id' do not match", 'HTTPBadRequest');
      }
      const pid = (body.project_id ?? body.tenant_id ?? ctx.projectId) as string | undefined;
      if (!pid)
        throw new ApiError(
          400,
          'Running without keystone AuthN requires that tenant_id is specified',
          'HTTPBadRequest',
        );
      values.project_id = toString(pid, 'project_id', 255);
      given.delete('tenant_id');
      if (body.tenant_id !== undefined || body.project_id !== undefined) given.add('project_id');
      else given.delete('project_id');
    }
    for (const [name, a] of Object.entries(this.attrs)) {
      if (name === 'project_id' || name === 'tenant_id' || name === 'id') continue;
      if (name in body) {
        values[name] = a.validate ? a.validate(body[name], name, { ctx, values }) : body[name];
      } else if (a.post) {
        if (a.required)
          throw new ApiError(
            400,
            `Failed to parse request. Required attribute '${name}' not specified`,
            'HTTPBadRequest',
          );
        const d = a.default;
        if (d !== undefined)
          values[name] =
            typeof d === 'function'
              ? (d as (v: Attrs, c: NetworkContext) => unknown)(values, ctx)
              : d !== null && typeof d === 'object'
                ? structuredClone(d)
                : d;
      }
    }
    if ('id' in body && this.attrs.id!.post) values.id = body.id;
    // Every attribute a POST may set is now there (given or defaulted): the resource's view so far.
    return { values: values as V, given };
  }

  /** `create_<res>` plus `create_<res>:<attr>` for every attribute the client set (and `:<attr>:<key>` inside lists of dicts). */
  async enforceAttrs(
    ctx: NetworkContext,
    action: string,
    target: Record<string, unknown>,
    given: Iterable<string>,
    values: object,
  ) {
    this.enforce(ctx, `${action}_${this.policyName}`, target);
    for (const name of given) {
      if (this.attrs[name]?.enforcePolicy === false) continue;
      const rule = `${action}_${this.policyName}:${name}`;
      if (this.svc.policy.has(rule)) this.enforce(ctx, rule, target);
      const v = attrsOf(values)[name];
      const subs = Array.isArray(v)
        ? v.filter((x) => x && typeof x === 'object')
        : v && typeof v === 'object'
          ? [v]
          : [];
      for (const s of subs)
        for (const k of Object.keys(s)) {
          const sub = `${rule}:${k}`;
          if (this.svc.policy.has(sub)) this.enforce(ctx, sub, target);
        }
    }
  }

  /** A POST body (one resource or a bulk list, created atomically): the response body (the handler answers 201). */
  async create(
    ctx: NetworkContext,
    body: Record<string, unknown> | undefined,
    parentId?: string,
    parentTarget: Record<string, unknown> = {},
  ) {
    if (!body || typeof body !== 'object') throw new ApiError(400, 'Resource body required', 'HTTPBadRequest');
    const bulk = Array.isArray(body[this.spec.plural]);
    // A bulk item may come wrapped in its singular key, as upstream's prepare_request_body allows.
    const unwrap = (i: unknown) =>
      i && typeof i === 'object' && !Array.isArray(i) && this.spec.singular in i
        ? (i as Record<string, unknown>)[this.spec.singular]
        : i;
    const items = bulk
      ? (body[this.spec.plural] as unknown[]).map(unwrap)
      : body[this.spec.singular] !== undefined
        ? [body[this.spec.singular]]
        : undefined;
    if (!items) throw new ApiError(400, `Unable to find '${this.spec.singular}' in request body`, 'HTTPBadRequest');
    if (bulk && !items.length) throw new ApiError(400, `Resources required`, 'HTTPBadRequest');
    const prepared = items.map((i) => this.prepareCreate(i, ctx));
    for (const p of prepared) {
      if (this.spec.parent && parentId !== undefined) attrsOf(p.values)[this.spec.parent.column] = parentId;
      // neutron-lib _validate_privileges: only admins (and advsvc) create for another project.
      if (
        this.spec.owned !== false &&
        p.given.has('project_id') &&
        std(p.values).project_id !== ctx.projectId &&
        !this.svc.isAdmin(ctx) &&
        !this.svc.isAdvsvc(ctx)
      ) {
        throw new ApiError(
          400,
          "Specifying 'project_id' or 'tenant_id' other than the authenticated project in request requires admin or advsvc privileges",
          'HTTPBadRequest',
        );
      }
      if (this.spec.checkCreate) await this.spec.checkCreate(p.values, ctx);
      // As upstream's _is_attribute_explicitly_set: an attribute given with its default value needs no attribute rule.
      const explicit = [...p.given].filter((k) => {
        const d = this.attrs[k]?.default;
        return d === undefined || typeof d === 'function' || JSON.stringify(d) !== JSON.stringify(attrsOf(p.values)[k]);
      });
      await this.enforceAttrs(
        ctx,
        'create',
        { ...(await this.policyTarget(p.values, ctx)), ...parentTarget, tenant_id: std(p.values).project_id },
        explicit,
        p.values,
      );
    }
    for (const p of prepared)
      this.svc.notify(ctx, `${this.spec.singular}.create.start`, { [this.spec.singular]: items[prepared.indexOf(p)] });
    const created = await this.svc.transaction(async (tx) => {
      const out: V[] = [];
      for (const p of prepared) out.push(await this.insert(p.values, ctx, tx));
      return out;
    });
    const shown: Attrs[] = [];
    for (const v of created) {
      await this.safely(() => this.spec.committed?.('create', v, ctx));
      this.svc.notify(ctx, `${this.spec.singular}.create.end`, { [this.spec.singular]: v });
      shown.push(await this.present(v, ctx));
    }
    return bulk ? { [this.spec.plural]: shown } : { [this.spec.singular]: shown[0] };
  }

  /** Inserts one validated resource inside a transaction and returns its view. */
  async insert(values: V, ctx: NetworkContext, tx: Transaction<NetworkDb>): Promise<V> {
    const own = std(values);
    if (this.spec.quota && own.project_id) await this.svc.quotas.check(tx, own.project_id, this.spec.quota, 1);
    own.id ??= randomUUID();
    if (this.spec.standard !== false) {
      own.created_at = own.updated_at = timestamp();
      own.revision_number = 0;
      own.description ??= '';
    }
    if (this.spec.beforeCreate) await this.spec.beforeCreate(values, ctx, tx);
    const row = viewToRow(attrsOf(values), this.columns);
    await insertRow(dynamic(tx), this.spec.table, row);
    const view = rowToView(row, this.columns) as V;
    if (this.spec.afterCreate) await this.spec.afterCreate(view, values, ctx, tx);
    if (!this.spec.viewFromCreate) return this.loadInTx(own.id, ctx, tx);
    if (this.tagResource) std(view).tags = [...(own.tags ?? [])].sort();
    if (this.spec.expand) await this.spec.expand([view], ctx, tx, true);
    return view;
  }

  async loadInTx(id: string, ctx: NetworkContext, tx: Tx): Promise<V> {
    const row = await dynamic(tx)
      .selectFrom(this.spec.table)
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    return (await this.views([row], ctx, tx))[0]!;
  }

  prepareUpdate(item: unknown, ctx: NetworkContext, existing: Partial<V>): Partial<V> {
    const body = this.bodyOf(item);
    const changes: Attrs = {};
    for (const [k, v] of Object.entries(body)) {
      const a = this.attrs[k]!;
      if (!a.put) throw new ApiError(400, `Cannot update read-only attribute ${k}`, 'HTTPBadRequest');
      changes[k] = a.validate
        ? a.validate(v, k, { ctx, values: { ...existing, ...changes }, existing: attrsOf(existing) })
        : v;
    }
    return changes as Partial<V>;
  }

  /** A PUT body; `ifMatch` is the request's If-Match header (Neutron's revision precondition). */
  async update(
    ctx: NetworkContext,
    id: string,
    body: Record<string, unknown> | undefined,
    ifMatch?: string,
    parentId?: string,
    parentTarget: Record<string, unknown> = {},
  ) {
    if (!body || typeof body !== 'object' || body[this.spec.singular] === undefined)
      throw new ApiError(400, `Unable to find '${this.spec.singular}' in request body`, 'HTTPBadRequest');
    let existing: V;
    try {
      existing = await this.find(ctx, id, 'get', parentId, parentTarget);
    } catch (e) {
      // Upstream validates the body before it looks the resource up: a bad body is a 400 even then.
      if (e instanceof ApiError && e.status === 404) this.prepareUpdate(body[this.spec.singular], ctx, {});
      throw e;
    }
    const changes = this.prepareUpdate(body[this.spec.singular], ctx, existing);
    const target = { ...(await this.policyTarget({ ...existing, ...changes }, ctx)), ...parentTarget };
    try {
      await this.enforceAttrs(ctx, 'update', target, Object.keys(changes), changes);
    } catch (e) {
      // Upstream then checks get_<res> on the resource as its attribute map has it, without hidden
      // attributes (an address group's `shared`): who could not see it that way gets a 404.
      if (e instanceof ApiError && e.status === 403) {
        const shown = Object.fromEntries(Object.entries(target).filter(([k]) => this.attrs[k]?.visible !== false));
        if (!ctx.allowed(`get_${this.policyName}`, shown)) throw this.spec.notFound(id, parentId);
      }
      throw e;
    }
    this.checkRevision(existing, ifMatch);
    this.svc.notify(ctx, `${this.spec.singular}.update.start`, { [this.spec.singular]: { ...changes, id } });
    const view = await this.svc.transaction((tx) => this.applyUpdate(existing, changes, ctx, tx));
    await this.safely(() => this.spec.committed?.('update', view, ctx, existing));
    this.svc.notify(ctx, `${this.spec.singular}.update.end`, { [this.spec.singular]: view });
    return { [this.spec.singular]: await this.present(view, ctx) };
  }

  /** Neutron's revision_number precondition: `If-Match: revision_number=N` (412 when it moved on). */
  checkRevision(existing: V, h: string | undefined) {
    if (typeof h !== 'string') return;
    const m = /revision_number=(-?\d+)/.exec(h);
    if (!m) return;
    if (Number(m[1]) !== std(existing).revision_number) {
      throw new ApiError(
        412,
        `Constrained to 1 revision number, but found revision number ${std(existing).revision_number}`,
        'RevisionNumberConstraintFailed',
      );
    }
  }

  async applyUpdate(existing: V, changes: Partial<V>, ctx: NetworkContext, tx: Transaction<NetworkDb>): Promise<V> {
    if (this.spec.beforeUpdate) await this.spec.beforeUpdate(existing, changes, ctx, tx);
    const row = viewToRow(attrsOf(changes), this.columns, new Set(Object.keys(changes)));
    if (this.spec.standard !== false)
      Object.assign(row, { updated_at: timestamp(), revision_number: (std(existing).revision_number ?? 0) + 1 });
    if (Object.keys(row).length)
      await dynamic(tx).updateTable(this.spec.table).set(row).where('id', '=', std(existing).id).execute();
    const view = await this.loadInTx(std(existing).id, ctx, tx);
    if (this.spec.afterUpdate) await this.spec.afterUpdate(view, existing, changes, ctx, tx);
    return this.spec.afterUpdate ? this.loadInTx(std(existing).id, ctx, tx) : view;
  }

  /** Deletes through the API (checkDelete applies); the handler answers 204. */
  async delete(
    ctx: NetworkContext,
    id: string,
    ifMatch?: string,
    parentId?: string,
    parentTarget: Record<string, unknown> = {},
  ) {
    const existing = await this.find(ctx, id, 'delete', parentId, parentTarget);
    this.checkRevision(existing, ifMatch);
    if (this.spec.checkDelete) await this.spec.checkDelete(existing, ctx);
    this.svc.notify(ctx, `${this.spec.singular}.delete.start`, { [`${this.spec.singular}_id`]: id });
    await this.svc.transaction((tx) => this.remove(existing, ctx, tx));
    await this.safely(() => this.spec.committed?.('delete', existing, ctx));
    this.svc.notify(ctx, `${this.spec.singular}.delete.end`, {
      [`${this.spec.singular}_id`]: id,
      [this.spec.singular]: existing,
    });
  }

  async remove(existing: V, ctx: NetworkContext, tx: Transaction<NetworkDb>) {
    if (this.spec.beforeDelete) await this.spec.beforeDelete(existing, ctx, tx);
    if (this.tagResource)
      await tx
        .deleteFrom('tags')
        .where('resource_type', '=', this.tagResource)
        .where('resource_id', '=', std(existing).id)
        .execute();
    await dynamic(tx).deleteFrom(this.spec.table).where('id', '=', std(existing).id).execute();
  }

  private async safely(fn: () => unknown) {
    try {
      await fn();
    } catch (err) {
      this.svc.ctx.log.error({ err, resource: this.spec.singular }, 'after-commit step failed');
    }
  }

  // ---- routes -------------------------------------------------------------------------

  register(app: FastifyInstance) {
    // Its URL, routes and tag routes are its entry in api/routes.ts.
    const table = resourceRoutes(this.spec.plural);
    const base = `/v2.0/${table.path}`;
    const routes = new Set(table.routes);
    const parent = async (req: FastifyRequest, ctx: NetworkContext, route: RouteName) => {
      if (!this.spec.parent) return { id: undefined, target: {} };
      const id = (req.params as Record<string, string>)[this.spec.parent.param]!;
      return { id, target: await this.spec.parent.load(ctx, id, route) };
    };
    const idOf = (req: FastifyRequest) => (req.params as { id: string }).id;
    const ifMatch = (req: FastifyRequest) => {
      const h = req.headers['if-match'];
      return typeof h === 'string' ? h : undefined;
    };
    const body = (req: FastifyRequest) => req.body as Record<string, unknown> | undefined;
    if (routes.has('list'))
      app.get(base, async (req) => {
        const ctx = NetworkContext.of(req.context);
        const p = await parent(req, ctx, 'list');
        return this.listBody(req, await this.list(ctx, req.query as ListQuery, p.id, p.target));
      });
    if (routes.has('show'))
      app.get(`${base}/:id`, async (req) => {
        const ctx = NetworkContext.of(req.context);
        const p = await parent(req, ctx, 'show');
        const view = await this.find(ctx, idOf(req), 'get', p.id, p.target);
        const q = req.query as ListQuery;
        const fields =
          q.fields === undefined
            ? undefined
            : ([] as string[])
                .concat(q.fields)
                .flatMap((f) => f.split(','))
                .filter(Boolean);
        return { [this.spec.singular]: await this.present(view, ctx, fields) };
      });
    if (routes.has('create'))
      app.post(base, async (req, reply) => {
        const ctx = NetworkContext.of(req.context);
        const p = await parent(req, ctx, 'create');
        const out = await this.create(ctx, body(req), p.id, p.target);
        reply.code(201);
        return out;
      });
    if (routes.has('update'))
      app.put(`${base}/:id`, async (req) => {
        const ctx = NetworkContext.of(req.context);
        const p = await parent(req, ctx, 'update');
        return this.update(ctx, idOf(req), body(req), ifMatch(req), p.id, p.target);
      });
    if (routes.has('delete'))
      app.delete(`${base}/:id`, async (req, reply) => {
        const ctx = NetworkContext.of(req.context);
        const p = await parent(req, ctx, 'delete');
        await this.delete(ctx, idOf(req), ifMatch(req), p.id, p.target);
        reply.code(204);
        return reply.send();
      });
    if (Boolean(this.tagResource) !== Boolean(table.tags))
      throw new Error(`network resource ${this.spec.plural}: its tags in api/routes.ts do not match its spec`);
    if (this.tagResource) this.registerTags(app, `/v2.0/${table.tags}`);
  }

  /** The tag-ext routes: /<resources>/<id>/tags[/<tag>]. */
  private registerTags(app: FastifyInstance, base: string) {
    const res = this.tagResource!;
    // Zed's tagging enforces no rule of its own: whoever sees a resource may tag it (a shared QoS policy too).
    const parentOf = async (req: FastifyRequest, ctx: NetworkContext) => {
      const id = (req.params as { id: string }).id;
      return std(await this.find(ctx, id, 'get'));
    };
    const checkTag = (t: unknown) => {
      if (typeof t !== 'string' || t.length > 255 || t.length === 0)
        throw new ApiError(400, `Invalid input for operation: '${pyStr(t)}' is not a valid tag.`, 'InvalidInput');
      return t;
    };
    const bump = (id: string, tx: Tx) => bumpRevision(tx, this.spec.table, id);
    app.get(`${base}/:id/tags`, async (req) => ({ tags: (await parentOf(req, NetworkContext.of(req.context))).tags }));
    app.get(`${base}/:id/tags/:tag`, async (req, reply) => {
      const ctx = NetworkContext.of(req.context);
      const v = await parentOf(req, ctx);
      const tag = checkTag((req.params as { tag: string }).tag);
      if (!(v.tags ?? []).includes(tag)) throw new ApiError(404, `Tag ${tag} could not be found.`, 'TagNotFound');
      reply.code(204);
      return reply.send();
    });
    app.put(`${base}/:id/tags`, async (req) => {
      const ctx = NetworkContext.of(req.context);
      const v = await parentOf(req, ctx);
      const body = req.body as { tags?: unknown } | undefined;
      if (!body || !Array.isArray(body.tags))
        throw new ApiError(400, 'Invalid input for operation: Invalid tags body.', 'InvalidInput');
      const tags = body.tags.map(checkTag);
      if (new Set(tags).size !== tags.length)
        throw new ApiError(
          400,
          `Invalid input for operation: Duplicate items in the list: '${tags.find((t, i) => tags.indexOf(t) !== i)}'.`,
          'InvalidInput',
        );
      await this.svc.transaction(async (tx) => {
        await tx.deleteFrom('tags').where('resource_type', '=', res).where('resource_id', '=', v.id).execute();
        if (tags.length)
          await tx
            .insertInto('tags')
            .values(tags.map((tag) => ({ resource_type: res, resource_id: v.id, tag })))
            .execute();
        await bump(v.id, tx);
      });
      this.svc.notify(ctx, 'tag.update.end', { parent_resource: res, parent_resource_id: v.id, tags });
      return { tags };
    });
    app.put(`${base}/:id/tags/:tag`, async (req, reply) => {
      const ctx = NetworkContext.of(req.context);
      const v = await parentOf(req, ctx);
      const tag = checkTag((req.params as { tag: string }).tag);
      if (!(v.tags ?? []).includes(tag)) {
        await this.svc.transaction(async (tx) => {
          await tx.insertInto('tags').values({ resource_type: res, resource_id: v.id, tag }).execute();
          await bump(v.id, tx);
        });
      }
      this.svc.notify(ctx, 'tag.create.end', { parent_resource: res, parent_resource_id: v.id, tags: [tag] });
      reply.code(201);
      return reply.send();
    });
    app.delete(`${base}/:id/tags`, async (req, reply) => {
      const ctx = NetworkContext.of(req.context);
      const v = await parentOf(req, ctx);
      await this.svc.transaction(async (tx) => {
        await tx.deleteFrom('tags').where('resource_type', '=', res).where('resource_id', '=', v.id).execute();
        await bump(v.id, tx);
      });
      this.svc.notify(ctx, 'tag.delete_all.end', { parent_resource: res, parent_resource_id: v.id });
      reply.code(204);
      return reply.send();
    });
    app.delete(`${base}/:id/tags/:tag`, async (req, reply) => {
      const ctx = NetworkContext.of(req.context);
      const v = await parentOf(req, ctx);
      const tag = checkTag((req.params as { tag: string }).tag);
      if (!(v.tags ?? []).includes(tag)) throw new ApiError(404, `Tag ${tag} could not be found.`, 'TagNotFound');
      await this.svc.transaction(async (tx) => {
        await tx
          .deleteFrom('tags')
          .where('resource_type', '=', res)
          .where('resource_id', '=', v.id)
          .where('tag', '=', tag)
          .execute();
        await bump(v.id, tx);
      });
      this.svc.notify(ctx, 'tag.delete.end', { parent_resource: res, parent_resource_id: v.id, tags: [tag] });
      reply.code(204);
      return reply.send();
    });
  }
}

/** Neutron's pagination links: `next` unless a forward page came back short, `previous` unless a reverse one did. */
function pageLinks(req: FastifyRequest, page: ListPage) {
  const { ids, limit = 0, reverse } = page;
  const links: Array<{ rel: string; href: string }> = [];
  // An empty page links without a marker, as upstream's get_next_link/get_previous_link.
  const href = (marker: string | undefined, rev: boolean) => {
    const url = new URL(req.url, 'http://x');
    url.searchParams.delete('marker');
    if (marker !== undefined) url.searchParams.set('marker', marker);
    url.searchParams.delete('page_reverse');
    if (rev) url.searchParams.set('page_reverse', 'True');
    return `${req.baseUrl}${url.pathname.slice(req.service?.prefix.length ?? 0)}${url.search}`;
  };
  if (!(ids.length < limit && !reverse)) links.push({ rel: 'next', href: href(ids[ids.length - 1], false) });
  if (!(ids.length < limit && reverse)) links.push({ rel: 'previous', href: href(ids[0], true) });
  return links;
}

function sameValue(actual: unknown, wanted: unknown): boolean {
  if (Array.isArray(actual)) return actual.some((x) => sameValue(x, wanted));
  if (typeof actual === 'boolean' || typeof wanted === 'boolean') return actual === wanted;
  return String(actual) === String(wanted);
}

export const isUuid = (s: string) => UUID_LIKE.test(s);
export { badInput };
