// Accounts, containers and objects in the database: rows, exact counts, listings.
import { sql, type Kysely, type Selectable } from 'kysely';
import { groupCommit, json, precompiled } from '../core/db.ts';
import type { SwiftAccountTable, SwiftContainerTable, SwiftDb, SwiftObjectTable } from './db/schema.ts';
import type { PutResult } from './drivers/backend.ts';

export type Meta = Record<string, string>;

export interface AccountRow {
  account: string;
  metadata: Meta;
  timestamp: string;
  deleted_at: string | null;
}
export interface ContainerRow {
  account: string;
  name: string;
  metadata: Meta;
  timestamp: string;
  last_modified: string;
}
export interface ObjectRow {
  account: string;
  container: string;
  name: string;
  blob: string;
  etag: string;
  bytes: number;
  content_type: string;
  timestamp: string;
  last_modified: string;
  metadata: Meta;
  delete_at: number | null;
}

/** Swift's X-Timestamp: seconds with 5 decimals. */
export const xTimestamp = (ms = Date.now()) => (ms / 1000).toFixed(5);
/** Listing last_modified: ISO without the zone, microseconds. */
export const isoOf = (ts: string) =>
  new Date(Math.floor(Number(ts) * 1000))
    .toISOString()
    .replace('Z', '')
    .replace(/\.(\d{3})$/, '.$1000');

/**
 * The row of an object whose bytes the backend has just stored (PUT, copy, SLO manifest, bulk
 * extraction, form post), stamped now: its X-Timestamp and the listing's last_modified.
 */
export function newObjectRow(
  at: Pick<ObjectRow, 'account' | 'container' | 'name'>,
  stored: PutResult,
  attrs: Pick<ObjectRow, 'content_type' | 'metadata' | 'delete_at'>,
): ObjectRow {
  const timestamp = xTimestamp();
  return {
    account: at.account,
    container: at.container,
    name: at.name,
    blob: stored.blob,
    etag: stored.etag,
    bytes: stored.bytes,
    content_type: attrs.content_type,
    timestamp,
    last_modified: isoOf(timestamp),
    metadata: attrs.metadata,
    delete_at: attrs.delete_at,
  };
}

const objRow = (r: Selectable<SwiftObjectTable>): ObjectRow => ({
  ...r,
  bytes: Number(r.bytes),
  delete_at: r.delete_at === null || r.delete_at === undefined ? null : Number(r.delete_at),
  metadata: json<Meta>(r.metadata, {}),
});

// The statements of every object request, compiled once (core/db.ts precompiled).
const OBJECT_COLUMNS = [
  'account',
  'container',
  'name',
  'blob',
  'etag',
  'bytes',
  'content_type',
  'timestamp',
  'last_modified',
  'metadata',
  'delete_at',
] as const;
type Db = Kysely<SwiftDb>;
const Q = {
  account: precompiled(['account'], (db: Db, v) =>
    db.selectFrom('swift_accounts').selectAll().where('account', '=', v.account),
  ),
  container: precompiled(['account', 'name'], (db: Db, v) =>
    db.selectFrom('swift_containers').selectAll().where('account', '=', v.account).where('name', '=', v.name),
  ),
  object: precompiled(['account', 'container', 'name'], (db: Db, v) =>
    db
      .selectFrom('swift_objects')
      .selectAll()
      .where('account', '=', v.account)
      .where('container', '=', v.container)
      .where('name', '=', v.name),
  ),
  objectBlob: precompiled(['account', 'container', 'name'], (db: Db, v) =>
    db
      .selectFrom('swift_objects')
      .select('blob')
      .where('account', '=', v.account)
      .where('container', '=', v.container)
      .where('name', '=', v.name),
  ),
  insertObject: precompiled(OBJECT_COLUMNS, (db: Db, v) => db.insertInto('swift_objects').values(v)),
  replaceObject: precompiled(OBJECT_COLUMNS, (db: Db, v) =>
    db
      .updateTable('swift_objects')
      .set(v)
      .where('account', '=', v.account)
      .where('container', '=', v.container)
      .where('name', '=', v.name),
  ),
  touchContainer: precompiled(['account', 'name', 'last_modified'], (db: Db, v) =>
    db
      .updateTable('swift_containers')
      .set({ last_modified: v.last_modified })
      .where('account', '=', v.account)
      .where('name', '=', v.name),
  ),
};

/** A listing's roll-up of the names under a delimiter. */
export type Subdir = { subdir: string };

export interface ListOptions {
  prefix?: string;
  marker?: string;
  endMarker?: string;
  limit: number;
  delimiter?: string;
  reverse?: boolean;
}

export class SwiftStore {
  /** Object writes: on SQLite the transactions of concurrent PUTs share one commit (core/db.ts). */
  private write: ReturnType<typeof groupCommit<SwiftDb>>;
  constructor(public db: Kysely<SwiftDb>) {
    this.write = groupCommit(db);
  }

  async getAccount(account: string): Promise<AccountRow | undefined> {
    const r = (await Q.account<Selectable<SwiftAccountTable>>(this.db, { account })).rows[0];
    return r ? { ...r, metadata: json<Meta>(r.metadata, {}) } : undefined;
  }
  async ensureAccount(account: string): Promise<AccountRow> {
    const a = await this.getAccount(account);
    if (a) return a;
    const row = { account, metadata: '{}', timestamp: xTimestamp() };
    await this.db
      .insertInto('swift_accounts')
      .values(row)
      .onConflict((oc) => oc.column('account').doNothing())
      .execute();
    return (await this.getAccount(account))!;
  }
  /** Account PUT: 'created', 'accepted' (it exists) or 'deleted' (marked deleted, not reclaimed yet). */
  async putAccount(account: string, metadata: Meta): Promise<'created' | 'accepted' | 'deleted'> {
    const a = await this.getAccount(account);
    if (a?.deleted_at) return 'deleted';
    if (a) {
      await this.setAccountMeta(account, metadata);
      return 'accepted';
    }
    const res = await this.db
      .insertInto('swift_accounts')
      .values({ account, metadata: JSON.stringify(metadata), timestamp: xTimestamp() })
      .onConflict((oc) => oc.column('account').doNothing())
      .executeTakeFirst();
    if (Number(res.numInsertedOrUpdatedRows ?? 0) > 0) return 'created';
    return (await this.getAccount(account))?.deleted_at ? 'deleted' : 'accepted';
  }
  async markAccountDeleted(account: string) {
    await this.ensureAccount(account);
    await this.db
      .updateTable('swift_accounts')
      .set({ deleted_at: xTimestamp() })
      .where('account', '=', account)
      .where('deleted_at', 'is', null)
      .execute();
  }
  async deletedAccounts(): Promise<AccountRow[]> {
    return (await this.db.selectFrom('swift_accounts').selectAll().where('deleted_at', 'is not', null).execute()).map(
      (r) => ({ ...r, metadata: json<Meta>(r.metadata, {}) }),
    );
  }
  async removeAccount(account: string) {
    await this.db
      .deleteFrom('swift_accounts')
      .where('account', '=', account)
      .where('deleted_at', 'is not', null)
      .execute();
  }
  async objectsOf(account: string, limit: number): Promise<ObjectRow[]> {
    return (
      await this.db.selectFrom('swift_objects').selectAll().where('account', '=', account).limit(limit).execute()
    ).map(objRow);
  }
  async containerNames(account: string, limit: number): Promise<string[]> {
    return (
      await this.db.selectFrom('swift_containers').select('name').where('account', '=', account).limit(limit).execute()
    ).map((r) => r.name);
  }
  async setAccountMeta(account: string, metadata: Meta) {
    await this.db
      .updateTable('swift_accounts')
      .set({ metadata: JSON.stringify(metadata) })
      .where('account', '=', account)
      .execute();
  }
  async accountStats(account: string) {
    const c = await this.db
      .selectFrom('swift_containers')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('account', '=', account)
      .executeTakeFirst();
    const o = await this.db
      .selectFrom('swift_objects')
      .select((eb) => [eb.fn.countAll().as('n'), eb.fn.sum('bytes').as('b')])
      .where('account', '=', account)
      .executeTakeFirst();
    return { containers: Number(c?.n ?? 0), objects: Number(o?.n ?? 0), bytes: Number(o?.b ?? 0) };
  }

  async getContainer(account: string, name: string): Promise<ContainerRow | undefined> {
    const r = (await Q.container<Selectable<SwiftContainerTable>>(this.db, { account, name })).rows[0];
    return r ? { ...r, metadata: json<Meta>(r.metadata, {}) } : undefined;
  }
  async createContainer(account: string, name: string, metadata: Meta): Promise<boolean> {
    const ts = xTimestamp();
    const res = await this.db
      .insertInto('swift_containers')
      .values({ account, name, metadata: JSON.stringify(metadata), timestamp: ts, last_modified: isoOf(ts) })
      .onConflict((oc) => oc.columns(['account', 'name']).doNothing())
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
  }
  async setContainerMeta(account: string, name: string, metadata: Meta) {
    await this.db
      .updateTable('swift_containers')
      .set({ metadata: JSON.stringify(metadata) })
      .where('account', '=', account)
      .where('name', '=', name)
      .execute();
  }
  async deleteContainer(account: string, name: string) {
    await this.db.deleteFrom('swift_containers').where('account', '=', account).where('name', '=', name).execute();
  }
  async containerStats(account: string, name: string) {
    const o = await this.db
      .selectFrom('swift_objects')
      .select((eb) => [eb.fn.countAll().as('n'), eb.fn.sum('bytes').as('b')])
      .where('account', '=', account)
      .where('container', '=', name)
      .executeTakeFirst();
    return { objects: Number(o?.n ?? 0), bytes: Number(o?.b ?? 0) };
  }
  /** Per-container stats for an account listing. */
  async containerStatsMap(account: string, names: string[]) {
    const out = new Map<string, { objects: number; bytes: number }>();
    if (!names.length) return out;
    const rows = await this.db
      .selectFrom('swift_objects')
      .select((eb) => ['container', eb.fn.countAll().as('n'), eb.fn.sum('bytes').as('b')])
      .where('account', '=', account)
      .where('container', 'in', names)
      .groupBy('container')
      .execute();
    for (const r of rows) out.set(r.container, { objects: Number(r.n), bytes: Number(r.b ?? 0) });
    return out;
  }

  async getObject(account: string, container: string, name: string): Promise<ObjectRow | undefined> {
    const r = (await Q.object<Selectable<SwiftObjectTable>>(this.db, { account, container, name })).rows[0];
    return r ? objRow(r) : undefined;
  }
  /** Inserts or replaces; returns the blob of the replaced object (to delete after). */
  async putObject(o: ObjectRow): Promise<string | undefined> {
    return this.write(async (tx) => {
      const old = (await Q.objectBlob<{ blob: string }>(tx, o)).rows[0];
      const values = { ...o, metadata: JSON.stringify(o.metadata), delete_at: o.delete_at ?? null };
      await (old ? Q.replaceObject : Q.insertObject)(tx, values);
      await Q.touchContainer(tx, { account: o.account, name: o.container, last_modified: o.last_modified });
      return old && old.blob !== o.blob ? old.blob : undefined;
    });
  }
  async updateObjectMeta(o: ObjectRow) {
    await this.db
      .updateTable('swift_objects')
      .set({
        metadata: JSON.stringify(o.metadata),
        content_type: o.content_type,
        delete_at: o.delete_at,
        timestamp: o.timestamp,
        last_modified: o.last_modified,
      })
      .where('account', '=', o.account)
      .where('container', '=', o.container)
      .where('name', '=', o.name)
      .execute();
  }
  /** Deletes the row; returns its blob when one was deleted. */
  async deleteObject(account: string, container: string, name: string, onlyBlob?: string): Promise<string | undefined> {
    let q = this.db
      .deleteFrom('swift_objects')
      .where('account', '=', account)
      .where('container', '=', container)
      .where('name', '=', name);
    if (onlyBlob) q = q.where('blob', '=', onlyBlob);
    const r = await q.returning('blob').executeTakeFirst();
    return r?.blob;
  }
  async blobReferenced(blob: string): Promise<boolean> {
    return !!(await this.db
      .selectFrom('swift_objects')
      .select('blob')
      .where('blob', '=', blob)
      .limit(1)
      .executeTakeFirst());
  }
  async expired(nowSec: number, limit = 1000): Promise<ObjectRow[]> {
    return (
      await this.db
        .selectFrom('swift_objects')
        .selectAll()
        .where('delete_at', 'is not', null)
        .where('delete_at', '<=', nowSec)
        .limit(limit)
        .execute()
    ).map(objRow);
  }

  /** Names with prefix between markers, in byte order (or reversed), in pages of `page`. */
  private async page(
    table: 'swift_containers' | 'swift_objects',
    where: Record<string, string>,
    o: { prefix?: string; after?: string; before?: string; reverse?: boolean },
    page: number,
  ): Promise<Array<Selectable<SwiftContainerTable> | Selectable<SwiftObjectTable>>> {
    let q = this.db.selectFrom(table).selectAll();
    for (const [k, v] of Object.entries(where)) q = q.where(sql.ref(k), '=', v);
    if (o.prefix) q = q.where('name', '>=', o.prefix).where('name', '<', o.prefix + '\u{10FFFF}');
    if (o.after !== undefined) q = q.where('name', '>', o.after);
    if (o.before !== undefined) q = q.where('name', '<', o.before);
    return q
      .orderBy('name', o.reverse ? 'desc' : 'asc')
      .limit(page)
      .execute();
  }

  /** Swift's listing: prefix, delimiter roll-up into subdirs, marker/end_marker, limit, reverse. */
  async list(
    kind: 'containers',
    account: string,
    container: undefined,
    opts: ListOptions,
  ): Promise<Array<Subdir | ContainerRow>>;
  async list(
    kind: 'objects',
    account: string,
    container: string | undefined,
    opts: ListOptions,
  ): Promise<Array<Subdir | ObjectRow>>;
  async list(
    kind: 'containers' | 'objects',
    account: string,
    container: string | undefined,
    opts: ListOptions,
  ): Promise<Array<Subdir | ContainerRow | ObjectRow>> {
    const table = kind === 'containers' ? 'swift_containers' : 'swift_objects';
    const where: Record<string, string> = { account };
    if (container !== undefined) where.container = container;
    const out: Array<Subdir | ContainerRow | ObjectRow> = [];
    if (opts.limit <= 0) return out;
    let after = opts.reverse ? opts.endMarker : opts.marker;
    let before = opts.reverse ? opts.marker : opts.endMarker;
    if (after === '') after = undefined;
    if (before === '') before = undefined;
    const pageSize = Math.max(100, Math.min(opts.limit + 1, 1000));
    for (;;) {
      const rows = await this.page(
        table,
        where,
        { prefix: opts.prefix, after, before, reverse: opts.reverse },
        pageSize,
      );
      if (!rows.length) break;
      let jumped = false;
      for (const r of rows) {
        if (opts.delimiter) {
          const rest = (r.name as string).slice((opts.prefix ?? '').length);
          const i = rest.indexOf(opts.delimiter);
          if (i >= 0) {
            const subdir = (opts.prefix ?? '') + rest.slice(0, i + opts.delimiter.length);
            if (!(opts.marker && !opts.reverse && subdir <= opts.marker)) out.push({ subdir });
            if (out.length >= opts.limit) return out;
            // Skip everything under this subdir.
            if (opts.reverse) before = subdir;
            else after = subdir + '\u{10FFFF}';
            jumped = true;
            break;
          }
        }
        // The table says which: objects from swift_objects, containers from swift_containers.
        out.push(
          kind === 'objects'
            ? objRow(r as Selectable<SwiftObjectTable>)
            : { ...(r as Selectable<SwiftContainerTable>), metadata: json<Meta>(r.metadata, {}) },
        );
        if (out.length >= opts.limit) return out;
      }
      if (jumped) continue;
      if (rows.length < pageSize) break;
      const last = rows[rows.length - 1].name as string;
      if (opts.reverse) before = last;
      else after = last;
    }
    return out;
  }
}
