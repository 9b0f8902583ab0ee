// Gnocchi's index schema (the measures live in the measure store's files).
import type { CreateTableBuilder, Kysely } from 'kysely';
import type { Migration } from '../../../core/db.ts';

/** The columns of a resource that each of its history rows keeps too (gnocchi's ResourceMixin). */
function resourceColumns<T extends string, C extends string>(t: CreateTableBuilder<T, C>) {
  return t
    .addColumn('type', 'varchar(255)', (c) => c.notNull())
    .addColumn('original_resource_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('project_id', 'varchar(255)')
    .addColumn('user_id', 'varchar(255)')
    .addColumn('creator', 'varchar(255)', (c) => c.notNull())
    .addColumn('started_at', 'varchar(40)', (c) => c.notNull())
    .addColumn('ended_at', 'varchar(40)')
    .addColumn('revision_start', 'varchar(40)', (c) => c.notNull());
}

export const migrations: Record<string, Migration> = {
  '001_metric': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('archive_policies')
        .addColumn('name', 'varchar(255)', (c) => c.primaryKey())
        .addColumn('back_window', 'integer', (c) => c.notNull())
        .addColumn('definition', 'text', (c) => c.notNull())
        .addColumn('aggregation_methods', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('archive_policy_rules')
        .addColumn('name', 'varchar(255)', (c) => c.primaryKey())
        .addColumn('metric_pattern', 'varchar(255)', (c) => c.notNull())
        .addColumn('archive_policy_name', 'varchar(255)', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('resource_types')
        .addColumn('name', 'varchar(255)', (c) => c.primaryKey())
        .addColumn('attributes', 'text', (c) => c.notNull())
        .addColumn('state', 'varchar(32)', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('resources')
        .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
        .$call(resourceColumns)
        .addColumn('attributes', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('resources_type').on('resources').column('type').execute();
      await db.schema
        .createTable('resource_history')
        .addColumn('id', 'varchar(36)', (c) => c.notNull())
        .$call(resourceColumns)
        .addColumn('revision_end', 'varchar(40)', (c) => c.notNull())
        .addColumn('attributes', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('resource_history_id').on('resource_history').column('id').execute();
      await db.schema
        .createTable('metrics')
        .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('archive_policy_name', 'varchar(255)', (c) => c.notNull())
        .addColumn('name', 'varchar(255)')
        .addColumn('unit', 'varchar(31)')
        .addColumn('resource_id', 'varchar(36)')
        .addColumn('creator', 'varchar(255)', (c) => c.notNull())
        .addColumn('created_at', 'varchar(40)', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('metrics_resource').on('metrics').columns(['resource_id', 'name']).execute();
      await db.schema.createIndex('metrics_policy').on('metrics').column('archive_policy_name').execute();
    },
  },
};
