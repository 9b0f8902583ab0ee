// One page of a list in SQL, for the tables that are not volumes (snapshots, backups, groups,
// group snapshots): the live rows the conditions select, ordered by the sort keys (the last one
// unique: id), after the marker's position (keyset, the marker row read first), `offset` more and
// at most `limit`; with `count`, how many match in all (with_count, 3.45). Cinder pages the same
// way (sqlalchemy's paginate_query: the marker's values, then `>`/`<` on the keys in order).
import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { BlockStorageDb } from './schema.ts';

/** The tables paged here. */
export type PagedTable = 'snapshots' | 'backups' | 'groups' | 'group_snapshots' | 'volume_attachments';

/** A condition of a list's query (`sql` text over the table's columns). */
export type Condition = RawBuilder<unknown>;

export interface PageOptions {
  /** The filters (and'ed). */
  where: Condition[];
  /** The conditions a marker row must meet (its project), beside being live. */
  markerScope?: Condition[];
  /** Columns and directions (the caller checked the columns); the last should be unique. */
  order: Array<[string, 'asc' | 'desc']>;
  /** Nullable columns, ordered as '' (before any text ascending, as the in-memory sort did). */
  nullable?: ReadonlySet<string>;
  marker?: string;
  offset?: number;
  limit?: number;
  count?: boolean;
}

export interface Page<R> {
  rows: R[];
  /** The page is full: Cinder links a next one (_get_collection_links). */
  more: boolean;
  total?: number;
}

const and = (cs: Condition[]): Condition => (cs.length ? sql`${sql.join(cs, sql` and `)}` : sql`1 = 1`);

/** `column = value`. */
export const eq = (column: string, value: unknown): Condition => sql`${sql.ref(column)} = ${value}`;

/** `column` contains `text` (Cinder's like-filters, 3.34: LIKE '%text%'). */
export const contains = (column: string, text: string): Condition =>
  sql`${sql.ref(column)} like ${`%${text.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`} escape '\\'`;

/** A string value of a JSON object column (metadata): `json_extract` in SQLite, `->>` in PostgreSQL. */
export function jsonValue(db: Kysely<BlockStorageDb>, column: string, key: string): RawBuilder<string | null> {
  if (db.getExecutor().adapter.constructor.name === 'PostgresAdapter')
    return sql<string | null>`(${sql.ref(column)}::jsonb ->> ${key})`;
  return sql<string | null>`json_extract(${sql.ref(column)}, ${`$."${key.replace(/["\\]/g, (ch) => `\\${ch}`)}"`})`;
}

/** Every key of `want` has that (string) value in the JSON object `column`. */
export function jsonHas(db: Kysely<BlockStorageDb>, column: string, want: Record<string, unknown>): Condition[] {
  return Object.entries(want).map(([k, v]) => sql`${jsonValue(db, column, k)} = ${String(v)}`);
}

/** Null when the marker is not a live row that meets `markerScope`. */
export async function pageOf<R extends { id: string }>(
  db: Kysely<BlockStorageDb>,
  table: PagedTable,
  o: PageOptions,
): Promise<Page<R> | null> {
  const t = sql.table(table);
  const nullable = o.nullable ?? new Set<string>();
  const key = (c: string) => (nullable.has(c) ? sql`coalesce(${sql.ref(c)}, '')` : sql.ref(c));
  const where: Condition[] = [sql`deleted = 0`, ...o.where];
  let total: number | undefined;
  if (o.count) {
    const r = await sql<{ n: number | string }>`select count(*) as n from ${t} where ${and(where)}`.execute(db);
    total = Number(r.rows[0]?.n ?? 0);
  }
  if (o.marker !== undefined) {
    const m = (
      await sql<Record<string, unknown>>`select * from ${t} where ${and([
        sql`deleted = 0`,
        eq('id', o.marker),
        ...(o.markerScope ?? []),
      ])}`.execute(db)
    ).rows[0];
    if (!m) return null;
    const val = (c: string) => m[c] ?? (nullable.has(c) ? '' : null);
    // After the marker: past it on the first key, or equal on it and past it on the next, ...
    const ors = o.order.map(([c, d], n) =>
      and([
        ...o.order.slice(0, n).map(([p]) => sql`${key(p)} = ${val(p)}`),
        sql`${key(c)} ${sql.raw(d === 'asc' ? '>' : '<')} ${val(c)}`,
      ]),
    );
    where.push(
      sql`(${sql.join(
        ors.map((x) => sql`(${x})`),
        sql` or `,
      )})`,
    );
  }
  const orderBy = sql.join(o.order.map(([c, d]) => sql`${key(c)} ${sql.raw(d === 'asc' ? 'asc' : 'desc')}`));
  // SQLite needs a limit before an offset; PostgreSQL takes `limit all`-like large numbers too.
  const limit = o.limit ?? (o.offset ? Number.MAX_SAFE_INTEGER : undefined);
  const rows = (
    await sql<R>`select * from ${t} where ${and(where)} order by ${orderBy}${
      limit !== undefined ? sql` limit ${limit}` : sql``
    }${o.offset ? sql` offset ${o.offset}` : sql``}`.execute(db)
  ).rows;
  return { rows, more: o.limit !== undefined && o.limit > 0 && rows.length === o.limit, total };
}
