// The object-store's tables: accounts, containers and objects (metadata and listings; the
// bytes live in the driver). Names are stored as given (UTF-8) and listed in byte order.
import { sql, type Kysely } from 'kysely';
import { serialType, type Migration } from '../../core/db.ts';

export const migrations: Record<string, Migration> = {
  '001_swift': {
    async up(db: Kysely<unknown>) {
      // Names sort as UTF-8 bytes, as Swift lists them (SQLite's default; PostgreSQL needs the C collation).
      const pg = serialType(db) === 'serial';
      const name = (n: number) =>
        pg ? sql`varchar(${sql.raw(String(n))}) collate "C"` : sql`varchar(${sql.raw(String(n))})`;
      await db.schema
        .createTable('swift_accounts')
        .addColumn('account', 'varchar(256)', (c) => c.primaryKey())
        .addColumn('metadata', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('timestamp', 'varchar(32)', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('swift_containers')
        .addColumn('account', 'varchar(256)', (c) => c.notNull())
        .addColumn('name', name(256), (c) => c.notNull())
        .addColumn('metadata', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('timestamp', 'varchar(32)', (c) => c.notNull())
        .addColumn('last_modified', 'varchar(40)', (c) => c.notNull())
        .addPrimaryKeyConstraint('swift_containers_pk', ['account', 'name'])
        .execute();
      await db.schema
        .createTable('swift_objects')
        .addColumn('account', 'varchar(256)', (c) => c.notNull())
        .addColumn('container', name(256), (c) => c.notNull())
        .addColumn('name', name(1024), (c) => c.notNull())
        .addColumn('blob', 'varchar(64)', (c) => c.notNull())
        .addColumn('etag', 'varchar(64)', (c) => c.notNull())
        .addColumn('bytes', 'bigint', (c) => c.notNull())
        .addColumn('content_type', 'varchar(256)', (c) => c.notNull())
        .addColumn('timestamp', 'varchar(32)', (c) => c.notNull())
        .addColumn('last_modified', 'varchar(40)', (c) => c.notNull())
        .addColumn('metadata', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('delete_at', 'bigint')
        .addPrimaryKeyConstraint('swift_objects_pk', ['account', 'container', 'name'])
        .execute();
      await db.schema.createIndex('swift_objects_blob').on('swift_objects').column('blob').execute();
      await db.schema.createIndex('swift_objects_delete_at').on('swift_objects').column('delete_at').execute();
    },
  },
  // Account DELETE (by a reseller admin) marks the account; the account reaper empties it.
  '002_swift_account_deleted': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('swift_accounts').addColumn('deleted_at', 'varchar(32)').execute();
    },
  },
};
