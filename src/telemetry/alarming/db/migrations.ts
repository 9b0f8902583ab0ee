// Aodh's schema: alarms, their history, per-project quotas.
import type { Kysely } from 'kysely';
import type { Migration } from '../../../core/db.ts';

export const migrations: Record<string, Migration> = {
  '001_alarming': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('alarms')
        .addColumn('alarm_id', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('name', 'varchar(255)', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('type', 'varchar(64)', (c) => c.notNull())
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('state', 'varchar(32)', (c) => c.notNull())
        .addColumn('state_reason', 'text', (c) => c.notNull())
        .addColumn('state_timestamp', 'varchar(40)', (c) => c.notNull())
        .addColumn('timestamp', 'varchar(40)', (c) => c.notNull())
        .addColumn('severity', 'varchar(16)', (c) => c.notNull())
        .addColumn('user_id', 'varchar(255)', (c) => c.notNull())
        .addColumn('project_id', 'varchar(255)', (c) => c.notNull())
        .addColumn('repeat_actions', 'integer', (c) => c.notNull())
        .addColumn('ok_actions', 'text', (c) => c.notNull())
        .addColumn('alarm_actions', 'text', (c) => c.notNull())
        .addColumn('insufficient_data_actions', 'text', (c) => c.notNull())
        .addColumn('time_constraints', 'text', (c) => c.notNull())
        .addColumn('rule', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('alarms_project').on('alarms').column('project_id').execute();
      await db.schema
        .createTable('alarm_history')
        .addColumn('event_id', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('alarm_id', 'varchar(36)', (c) => c.notNull())
        .addColumn('type', 'varchar(32)', (c) => c.notNull())
        .addColumn('detail', 'text', (c) => c.notNull())
        .addColumn('timestamp', 'varchar(40)', (c) => c.notNull())
        .addColumn('user_id', 'varchar(255)')
        .addColumn('project_id', 'varchar(255)')
        .addColumn('on_behalf_of', 'varchar(255)')
        .addColumn('severity', 'varchar(16)')
        .execute();
      await db.schema.createIndex('alarm_history_alarm').on('alarm_history').column('alarm_id').execute();
      await db.schema
        .createTable('quotas')
        .addColumn('project_id', 'varchar(255)', (c) => c.notNull())
        .addColumn('resource', 'varchar(64)', (c) => c.notNull())
        .addColumn('limit', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('quotas_pk', ['project_id', 'resource'])
        .execute();
    },
  },
};
