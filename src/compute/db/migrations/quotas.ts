// The quotas family's tables. Quota limits per project, per user of a project, and per quota class (the defaults).
// The keys are recorded in existing databases as 'quotas/<key>': never rename one.
import type { Migration } from '../../../core/db.ts';

export const quotaMigrations: Record<string, Migration> = {
  '001_quotas': {
    async up(db) {
      await db.schema
        .createTable('quotas')
        .addColumn('project_id', 'varchar(255)', (c) => c.notNull())
        .addColumn('resource', 'varchar(255)', (c) => c.notNull())
        .addColumn('hard_limit', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('quotas_pk', ['project_id', 'resource'])
        .execute();
      await db.schema
        .createTable('project_user_quotas')
        .addColumn('project_id', 'varchar(255)', (c) => c.notNull())
        .addColumn('user_id', 'varchar(255)', (c) => c.notNull())
        .addColumn('resource', 'varchar(255)', (c) => c.notNull())
        .addColumn('hard_limit', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('project_user_quotas_pk', ['project_id', 'user_id', 'resource'])
        .execute();
      await db.schema
        .createTable('quota_classes')
        .addColumn('class_name', 'varchar(255)', (c) => c.notNull())
        .addColumn('resource', 'varchar(255)', (c) => c.notNull())
        .addColumn('hard_limit', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('quota_classes_pk', ['class_name', 'resource'])
        .execute();
    },
  },
};
