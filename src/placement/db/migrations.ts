// The placement service's tables. Providers, consumers, classes and traits are keyed by their
// public names (UUIDs, resource class and trait names) rather than internal integer ids: one
// Stratus holds thousands of providers, not millions, and it keeps every query readable.
// Standard resource classes and traits live in code (standard.ts); only custom ones are rows.
import type { Kysely } from 'kysely';
import type { Migration } from '../../core/db.ts';
import type { PlacementDb } from './schema.ts';

export const migrations: Record<string, Migration> = {
  '001_placement': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('resource_providers')
        .addColumn('uuid', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('name', 'varchar(200)', (c) => c.notNull().unique())
        .addColumn('generation', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('parent_uuid', 'varchar(36)')
        .addColumn('root_uuid', 'varchar(36)', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('resource_providers_root').on('resource_providers').column('root_uuid').execute();
      await db.schema.createIndex('resource_providers_parent').on('resource_providers').column('parent_uuid').execute();
      await db.schema
        .createTable('inventories')
        .addColumn('rp_uuid', 'varchar(36)', (c) => c.notNull())
        .addColumn('resource_class', 'varchar(255)', (c) => c.notNull())
        .addColumn('total', 'integer', (c) => c.notNull())
        .addColumn('reserved', 'integer', (c) => c.notNull())
        .addColumn('min_unit', 'integer', (c) => c.notNull())
        .addColumn('max_unit', 'integer', (c) => c.notNull())
        .addColumn('step_size', 'integer', (c) => c.notNull())
        .addColumn('allocation_ratio', 'double precision', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
        .addPrimaryKeyConstraint('inventories_pk', ['rp_uuid', 'resource_class'])
        .execute();
      await db.schema
        .createTable('provider_traits')
        .addColumn('rp_uuid', 'varchar(36)', (c) => c.notNull())
        .addColumn('trait', 'varchar(255)', (c) => c.notNull())
        .addPrimaryKeyConstraint('provider_traits_pk', ['rp_uuid', 'trait'])
        .execute();
      await db.schema.createIndex('provider_traits_trait').on('provider_traits').column('trait').execute();
      await db.schema
        .createTable('provider_aggregates')
        .addColumn('rp_uuid', 'varchar(36)', (c) => c.notNull())
        .addColumn('aggregate_uuid', 'varchar(36)', (c) => c.notNull())
        .addPrimaryKeyConstraint('provider_aggregates_pk', ['rp_uuid', 'aggregate_uuid'])
        .execute();
      await db.schema
        .createIndex('provider_aggregates_agg')
        .on('provider_aggregates')
        .column('aggregate_uuid')
        .execute();
      await db.schema
        .createTable('resource_classes')
        .addColumn('name', 'varchar(255)', (c) => c.primaryKey())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('traits')
        .addColumn('name', 'varchar(255)', (c) => c.primaryKey())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('consumers')
        .addColumn('uuid', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('project_id', 'varchar(255)', (c) => c.notNull())
        .addColumn('user_id', 'varchar(255)', (c) => c.notNull())
        .addColumn('consumer_type', 'varchar(255)')
        .addColumn('generation', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('consumers_project_user')
        .on('consumers')
        .columns(['project_id', 'user_id'])
        .execute();
      await db.schema
        .createTable('allocations')
        .addColumn('rp_uuid', 'varchar(36)', (c) => c.notNull())
        .addColumn('consumer_uuid', 'varchar(36)', (c) => c.notNull())
        .addColumn('resource_class', 'varchar(255)', (c) => c.notNull())
        .addColumn('used', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
        .addPrimaryKeyConstraint('allocations_pk', ['consumer_uuid', 'rp_uuid', 'resource_class'])
        .execute();
      await db.schema.createIndex('allocations_rp').on('allocations').columns(['rp_uuid', 'resource_class']).execute();
    },
  },
  // One counter that every write of providers, inventories, traits and aggregates bumps in its
  // transaction: allocation candidates keep those tables in memory while it stands still. The
  // usage sums read an index alone.
  '002_revision': {
    async up(db: Kysely<PlacementDb>) {
      await db.schema
        .createTable('placement_revision')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('revision', 'integer', (c) => c.notNull())
        .execute();
      await db.insertInto('placement_revision').values({ id: 1, revision: 0 }).execute();
      await db.schema
        .createIndex('allocations_rp_used')
        .on('allocations')
        .columns(['rp_uuid', 'resource_class', 'used'])
        .execute();
    },
  },
};
