// The migrations family's tables. Nova's `migrations` table: every move of a server (resize, cold and live migration, evacuation).
// The keys are recorded in existing databases as 'migrations/<key>': never rename one.
import { serialType, type Migration } from '../../../core/db.ts';

export const migrationMigrations: Record<string, Migration> = {
  '001_migrations': {
    async up(db) {
      await db.schema
        .createTable('migrations')
        .addColumn('id', serialType(db), (c) => c.primaryKey())
        .addColumn('uuid', 'varchar(36)', (c) => c.notNull().unique())
        .addColumn('instance_uuid', 'varchar(36)', (c) => c.notNull())
        .addColumn('migration_type', 'varchar(32)', (c) => c.notNull())
        .addColumn('status', 'varchar(255)', (c) => c.notNull())
        .addColumn('source_compute', 'varchar(255)')
        .addColumn('source_node', 'varchar(255)')
        .addColumn('dest_compute', 'varchar(255)')
        .addColumn('dest_node', 'varchar(255)')
        .addColumn('dest_host', 'varchar(255)')
        .addColumn('old_instance_type_id', 'integer')
        .addColumn('new_instance_type_id', 'integer')
        .addColumn('old_flavor', 'text')
        .addColumn('new_flavor', 'text')
        .addColumn('old_vm_state', 'varchar(255)')
        .addColumn('memory_total', 'bigint')
        .addColumn('memory_processed', 'bigint')
        .addColumn('memory_remaining', 'bigint')
        .addColumn('disk_total', 'bigint')
        .addColumn('disk_processed', 'bigint')
        .addColumn('disk_remaining', 'bigint')
        .addColumn('hidden', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('cross_cell_move', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('user_id', 'varchar(255)')
        .addColumn('project_id', 'varchar(255)')
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)')
        .addColumn('deleted_at', 'varchar(32)')
        .addColumn('deleted', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .createIndex('migrations_instance')
        .on('migrations')
        .columns(['instance_uuid', 'status'])
        .execute();
      await db.schema.createIndex('migrations_created').on('migrations').columns(['created_at', 'id']).execute();
    },
  },
};
