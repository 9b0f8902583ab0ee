// The image service's tables. Extra properties, tags and locations are JSON text in the image
// row (Glance keeps them in side tables; one row keeps reads to one query and filtering happens
// in the service, which is fine at the scale of one Stratus).
import type { Kysely } from 'kysely';
import type { Migration } from '../../core/db.ts';

export const migrations: Record<string, Migration> = {
  '001_images': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('images')
        .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('name', 'varchar(255)')
        .addColumn('disk_format', 'varchar(32)')
        .addColumn('container_format', 'varchar(32)')
        .addColumn('size', 'bigint')
        .addColumn('virtual_size', 'bigint')
        .addColumn('status', 'varchar(32)', (c) => c.notNull())
        .addColumn('visibility', 'varchar(16)', (c) => c.notNull())
        .addColumn('checksum', 'varchar(32)')
        .addColumn('os_hash_algo', 'varchar(64)')
        .addColumn('os_hash_value', 'varchar(128)')
        .addColumn('min_disk', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('min_ram', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('protected', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('os_hidden', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('owner', 'varchar(255)')
        .addColumn('properties', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('tags', 'text', (c) => c.notNull().defaultTo('[]'))
        .addColumn('locations', 'text', (c) => c.notNull().defaultTo('[]'))
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('images_owner').on('images').column('owner').execute();
      await db.schema
        .createTable('image_members')
        .addColumn('image_id', 'varchar(36)', (c) => c.notNull().references('images.id').onDelete('cascade'))
        .addColumn('member_id', 'varchar(255)', (c) => c.notNull())
        .addColumn('status', 'varchar(20)', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
        .addPrimaryKeyConstraint('image_members_pk', ['image_id', 'member_id'])
        .execute();
      await db.schema.createIndex('image_members_member').on('image_members').column('member_id').execute();
      await db.schema
        .createTable('tasks')
        .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('type', 'varchar(30)', (c) => c.notNull())
        .addColumn('status', 'varchar(30)', (c) => c.notNull())
        .addColumn('owner', 'varchar(255)')
        .addColumn('input', 'text')
        .addColumn('result', 'text')
        .addColumn('message', 'text')
        .addColumn('image_id', 'varchar(36)')
        .addColumn('request_id', 'varchar(64)')
        .addColumn('user_id', 'varchar(64)')
        .addColumn('expires_at', 'varchar(32)')
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
        .execute();
    },
  },
  '002_metadefs': {
    async up(db: Kysely<unknown>) {
      // A namespace with its objects, properties, tags and resource type associations as one JSON document.
      await db.schema
        .createTable('metadef_namespaces')
        .addColumn('namespace', 'varchar(80)', (c) => c.primaryKey())
        .addColumn('owner', 'varchar(255)')
        .addColumn('visibility', 'varchar(32)', (c) => c.notNull())
        .addColumn('protected', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('doc', 'text', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
        .execute();
    },
  },
  '003_cache': {
    async up(db: Kysely<unknown>) {
      // The image cache's records (its files are under <dataDir>/image/cache) and its queue; times in ms.
      await db.schema
        .createTable('image_cache')
        .addColumn('image_id', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('hits', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('last_accessed', 'bigint', (c) => c.notNull())
        .addColumn('last_modified', 'bigint', (c) => c.notNull())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('image_cache_queue')
        .addColumn('image_id', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('queued_at', 'bigint', (c) => c.notNull())
        .execute();
    },
  },
};
