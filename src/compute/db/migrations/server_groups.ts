// The server_groups family's tables. Server groups (affinity policies) and their members.
// The keys are recorded in existing databases as 'server_groups/<key>': never rename one.
import { serialType, type Migration } from '../../../core/db.ts';

export const serverGroupMigrations: Record<string, Migration> = {
  '001_server_groups': {
    async up(db) {
      await db.schema
        .createTable('server_groups')
        .addColumn('id', serialType(db), (c) =>
          serialType(db) === 'integer' ? c.primaryKey().autoIncrement() : c.primaryKey(),
        )
        .addColumn('uuid', 'varchar(36)', (c) => c.notNull().unique())
        .addColumn('name', 'varchar(255)')
        .addColumn('project_id', 'varchar(255)', (c) => c.notNull())
        .addColumn('user_id', 'varchar(255)', (c) => c.notNull())
        .addColumn('policy', 'varchar(255)', (c) => c.notNull())
        .addColumn('rules', 'text', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)')
        .execute();
      await db.schema.createIndex('server_groups_project').on('server_groups').column('project_id').execute();
      await db.schema
        .createTable('server_group_members')
        .addColumn('group_uuid', 'varchar(36)', (c) => c.notNull())
        .addColumn('instance_uuid', 'varchar(36)', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addPrimaryKeyConstraint('server_group_members_pk', ['group_uuid', 'instance_uuid'])
        .execute();
      await db.schema
        .createIndex('server_group_members_instance')
        .on('server_group_members')
        .column('instance_uuid')
        .execute();
    },
  },
};
