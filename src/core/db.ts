// The database: Kysely over better-sqlite3 (a file per service in the data directory) or
// PostgreSQL (one schema per service). Each service owns its tables and its migrations;
// nothing outside a service reads them.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { FALLBACK_AUTOCHECKPOINT, checkpointInBackground } from './sqlite-checkpoint.ts';
import pg from 'pg';
import {
  CompiledQuery,
  Kysely,
  PostgresDialect,
  SqliteDialect,
  sql,
  type ColumnType,
  type Compilable,
  type ControlledTransaction,
  type QueryResult,
  type Transaction,
} from 'kysely';
import { Migrator, type Migration } from 'kysely/migration';

export type { Migration };
export { sql };

export interface DatabaseOptions {
  /** 'sqlite' or 'sqlite:<dir>' (a file per service), ':memory:', or a postgres:// URL. */
  url: string;
  dataDir: string;
  service: string;
}

export function isPostgres(url: string) {
  return /^postgres(ql)?:\/\//.test(url);
}

export async function openDatabase<T>(opts: DatabaseOptions): Promise<Kysely<T>> {
  if (isPostgres(opts.url)) {
    const schema = opts.service.replace(/[^a-z0-9_]/g, '_');
    const admin = new pg.Client({ connectionString: opts.url });
    await admin.connect();
    try {
      await admin.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    } finally {
      await admin.end();
    }
    const pool = new pg.Pool({ connectionString: opts.url, max: 10, options: `-c search_path="${schema}"` });
    return new Kysely<T>({ dialect: new PostgresDialect({ pool }) });
  }
  let file = ':memory:';
  if (opts.url !== ':memory:') {
    const dir = opts.url.startsWith('sqlite:') ? opts.url.slice(7) : opts.dataDir;
    fs.mkdirSync(dir, { recursive: true });
    file = path.join(dir, `${opts.service}.sqlite`);
  }
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // NORMAL in WAL mode survives a crash of the process (what a restart means here); only an
  // OS crash may lose the last commits. FULL would cost an fsync per write.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  // Checkpoints run on a worker thread (core/sqlite-checkpoint.ts); this connection's own is the fallback.
  let forget = () => {};
  if (file !== ':memory:') {
    db.pragma(`wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT}`);
    forget = checkpointInBackground(file);
  }
  return new Kysely<T>({ dialect: new SqliteDialect({ database: cachingStatements(db, forget) }) });
}

/**
 * better-sqlite3 with its prepared statements kept (Kysely prepares every query anew, which
 * costs more than running it): the most recently used STATEMENT_CACHE statements by SQL text.
 * A statement still being iterated is busy; such a query gets a fresh statement.
 */
const STATEMENT_CACHE = 1000;
function cachingStatements(db: Database.Database, onClose: () => void) {
  // A hit only stamps its entry (no re-insertion into the map); the least recently used entry
  // is looked for when one must go, which is rare.
  const cache = new Map<string, { stmt: Database.Statement; used: number }>();
  let clock = 0;
  return {
    prepare(sqlText: string) {
      const hit = cache.get(sqlText);
      if (hit && !hit.stmt.busy) {
        hit.used = ++clock;
        return hit.stmt;
      }
      const stmt = db.prepare(sqlText);
      if (!hit && cache.size >= STATEMENT_CACHE) {
        let oldest: string | undefined;
        let min = Infinity;
        for (const [k, e] of cache)
          if (e.used < min) {
            min = e.used;
            oldest = k;
          }
        cache.delete(oldest!);
      }
      cache.set(sqlText, { stmt, used: ++clock });
      return stmt;
    },
    close() {
      cache.clear();
      db.close();
      onClose();
    },
  };
}

/**
 * Transactions with group commit on SQLite. SQLite writes one transaction at a time and its
 * commit (the WAL write) costs more than a small transaction's statements: the transactions
 * that arrive while one runs are run one after another in a single SQLite transaction, each
 * in its own savepoint (one that fails is rolled back alone and its caller gets the error at
 * once), and committed together; every caller's promise settles after that commit, so nothing
 * is acknowledged before it is durable. PostgreSQL runs each transaction on its own.
 */
export function groupCommit<DB>(
  db: Kysely<DB>,
  maxBatch = 64,
): <T>(fn: (tx: Transaction<DB>) => Promise<T>) => Promise<T> {
  if (serialType(db) === 'serial') return (fn) => db.transaction().execute(fn);
  interface Member {
    fn: (tx: Transaction<DB>) => Promise<unknown>;
    resolve(v: unknown): void;
    reject(e: unknown): void;
  }
  const queue: Member[] = [];
  let running = false;

  async function runBatch(batch: Member[]) {
    if (batch.length === 1) {
      const m = batch[0]!;
      await db.transaction().execute(m.fn).then(m.resolve, m.reject);
      return;
    }
    let trx: ControlledTransaction<DB>;
    try {
      trx = await db.startTransaction().execute();
    } catch (e) {
      for (const m of batch) m.reject(e);
      return;
    }
    const done: Array<[Member, unknown]> = [];
    for (const m of batch) {
      const sp = await trx.savepoint('member').execute();
      try {
        const value = await m.fn(sp);
        await sp.releaseSavepoint('member').execute();
        done.push([m, value]);
      } catch (e) {
        try {
          await sp.rollbackToSavepoint('member').execute();
          await sp.releaseSavepoint('member').execute();
        } catch (lost) {
          // The whole transaction is gone: those before lose their work, those after run again.
          await trx
            .rollback()
            .execute()
            .catch(() => {});
          m.reject(e);
          for (const [d] of done) d.reject(lost);
          queue.unshift(...batch.slice(batch.indexOf(m) + 1));
          return;
        }
        m.reject(e);
      }
    }
    try {
      await trx.commit().execute();
    } catch (e) {
      await trx
        .rollback()
        .execute()
        .catch(() => {});
      for (const [m] of done) m.reject(e);
      return;
    }
    for (const [m, value] of done) m.resolve(value);
  }

  async function drain() {
    running = true;
    try {
      // One turn of the event loop first: the requests whose reads waited for the connection
      // reach their transaction meanwhile and join this batch.
      while (queue.length) {
        await new Promise((r) => setImmediate(r));
        await runBatch(queue.splice(0, maxBatch));
      }
    } finally {
      running = false;
    }
  }

  return <T>(fn: (tx: Transaction<DB>) => Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (!running) void drain();
    });
}

/**
 * A query of a fixed shape compiled once per dialect: Kysely builds and compiles a query on
 * every run, which on a hot path costs more than SQLite takes to run it. `build` gets a marker
 * for each named parameter; a run passes their values (constants in `build` stay constants).
 * A marker stands for a value of any column (typed never, so it fits every column); R is the row the caller reads.
 * DB and R default to any for network's statements, which are not typed yet (src/network is not this file's owner's).
 */
// biome-ignore lint/suspicious/noExplicitAny: the untyped default of network's callers (see above)
export function precompiled<N extends string, DB = any>(
  names: readonly N[],
  build: (db: Kysely<DB>, p: Record<N, never>) => Compilable,
) {
  const byDialect = new Map<string, { sql: string; slots: Array<{ name: N } | { value: unknown }> }>();
  // biome-ignore lint/suspicious/noExplicitAny: the untyped default of network's callers (see above)
  return <R = any>(db: Kysely<DB>, values: Record<N, unknown>): Promise<QueryResult<R>> => {
    const dialect = db.getExecutor().adapter.constructor.name;
    let c = byDialect.get(dialect);
    if (!c) {
      const markers = Object.fromEntries(names.map((n) => [n, `\u0000${n}\u0000`])) as Record<N, string>;
      const q = build(db, markers as Record<N, never>).compile();
      const slots = q.parameters.map((v) => {
        const name = names.find((n) => markers[n] === v);
        return name ? { name } : { value: v };
      });
      // Every marker must have become a parameter (none inlined into the SQL text, none lost).
      if (names.some((n) => !slots.some((x) => 'name' in x && x.name === n)) || q.sql.includes('\u0000'))
        throw new Error(`precompiled: not every parameter of ${q.sql} is a placeholder`);
      byDialect.set(dialect, (c = { sql: q.sql, slots }));
    }
    return db.executeQuery<R>(
      CompiledQuery.raw(
        c.sql,
        c.slots.map((x) => ('name' in x ? values[x.name] : x.value)),
      ),
    );
  };
}

/** Inserts a row, the statement compiled once per table and set of columns (see precompiled). */
export function insertRow<DB>(
  db: Kysely<DB>,
  table: keyof DB & string,
  given: Record<string, unknown>,
): Promise<QueryResult<never>> {
  // As Kysely's values(): an undefined value leaves the column to its default.
  const row = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
  const cols = Object.keys(row);
  const key = `${table}\u0000${cols.join('\u0000')}`;
  let q = INSERTS.get(key);
  // The columns are the caller's (checked by its row type, not here): the statement is built untyped.
  if (!q) INSERTS.set(key, (q = precompiled(cols, (d: Kysely<UntypedDb>, p) => d.insertInto(table).values(p))));
  return q(db as unknown as Kysely<UntypedDb>, row);
}
/** Any table, any column: the view insertRow builds its statements on. */
type UntypedDb = Record<string, Record<string, unknown>>;
const INSERTS = new Map<string, ReturnType<typeof precompiled<string, UntypedDb>>>();

export async function migrate<DB>(db: Kysely<DB>, migrations: Record<string, Migration>): Promise<void> {
  // In PostgreSQL every service has its own schema; the migrator must look for its tables
  // there, not in whichever schema first holds a table of that name.
  let migrationTableSchema: string | undefined;
  if (serialType(db) === 'serial')
    migrationTableSchema = (await sql<{ s: string }>`select current_schema() as s`.execute(db)).rows[0]!.s;
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    allowUnorderedMigrations: true,
    migrationTableSchema,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r: { status: string }) => r.status === 'Error');
    throw new Error(`migration ${failed?.migrationName ?? '?'} failed: ${(error as Error).message ?? error}`);
  }
}

/** A bigint column as read back: a number from SQLite, a string from PostgreSQL (pg's int8); written as a number. */
export type Int8 = ColumnType<number | string, number, number>;
/** A boolean column: an integer 0/1 in both engines (read it with bool(), write it with int()). */
export type IntBool = number;

/** Booleans are stored as integers (0/1) so that SQLite and PostgreSQL read back the same. */
export const bool = (v: unknown): boolean => v === true || v === 1 || v === '1';
export const int = (v: boolean | undefined | null): number => (v ? 1 : 0);
/** JSON columns are text in both engines. */
export const json = <T = unknown>(v: unknown, fallback: T): T => {
  if (v === null || v === undefined || v === '') return fallback;
  try {
    return JSON.parse(v as string) as T;
  } catch {
    return fallback;
  }
};
export const now = () => new Date().toISOString();

/**
 * The tags of many resources (servers, ports, ...), each resource's sorted: `read` gives the
 * (owner, tag) rows of a list of owners and is called with at most 500 at a time (far below
 * SQLite's and PostgreSQL's limits on bound values).
 */
export async function sortedTags(
  owners: string[],
  read: (chunk: string[]) => Promise<Array<{ owner: string; tag: string }>>,
): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (let i = 0; i < owners.length; i += 500) {
    for (const r of await read(owners.slice(i, i + 500))) {
      const l = out.get(r.owner);
      if (l) l.push(r.tag);
      else out.set(r.owner, [r.tag]);
    }
  }
  for (const l of out.values()) l.sort();
  return out;
}

export function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  return (
    err?.code === '23505' ||
    err?.code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    err?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    /UNIQUE constraint failed/.test(err?.message ?? '')
  );
}

/** An auto-numbered integer primary key in either engine ('serial' in PostgreSQL, the rowid alias in SQLite). */
export function serialType(db: Pick<Kysely<unknown>, 'getExecutor'>): 'serial' | 'integer' {
  return db.getExecutor().adapter.constructor.name === 'PostgresAdapter' ? 'serial' : 'integer';
}
