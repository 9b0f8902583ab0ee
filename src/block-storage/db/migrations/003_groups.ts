// Generic volume groups (3.13) and group snapshots (3.14).
import type { Migration } from '../../../core/db.ts';

export const groups: Migration = {
  async up(db) {
    await db.schema
      .createTable('groups')
      .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
      .addColumn('project_id', 'varchar(255)', (c) => c.notNull())
      .addColumn('user_id', 'varchar(255)', (c) => c.notNull())
      .addColumn('name', 'varchar(255)')
      .addColumn('description', 'text')
      .addColumn('status', 'varchar(255)', (c) => c.notNull())
      .addColumn('availability_zone', 'varchar(255)', (c) => c.notNull())
      .addColumn('host', 'varchar(255)')
      .addColumn('group_type_id', 'varchar(36)', (c) => c.notNull())
      .addColumn('volume_type_ids', 'text', (c) => c.notNull())
      .addColumn('group_snapshot_id', 'varchar(36)')
      .addColumn('source_group_id', 'varchar(36)')
      .addColumn('replication_status', 'varchar(255)', (c) => c.notNull())
      .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
      .addColumn('updated_at', 'varchar(32)')
      .addColumn('deleted', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema.createIndex('groups_project_idx').on('groups').columns(['project_id', 'deleted']).execute();
    await db.schema
      .createTable('group_snapshots')
      .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
      .addColumn('group_id', 'varchar(36)', (c) => c.notNull())
      .addColumn('project_id', 'varchar(255)', (c) => c.notNull())
      .addColumn('user_id', 'varchar(255)', (c) => c.notNull())
      .addColumn('name', 'varchar(255)')
      .addColumn('description', 'text')
      .addColumn('status', 'varchar(255)', (c) => c.notNull())
      .addColumn('group_type_id', 'varchar(36)', (c) => c.notNull())
      .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
      .addColumn('updated_at', 'varchar(32)')
      .addColumn('deleted', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema.createIndex('volumes_group_idx').on('volumes').column('group_id').execute();
    await db.schema.createIndex('snapshots_group_snapshot_idx').on('snapshots').column('group_snapshot_id').execute();
  },
};
