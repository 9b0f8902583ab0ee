// The orchestration service's tables (see schema.ts).
import type { Kysely } from 'kysely';
import type { Migration } from '../../core/db.ts';

export const migrations: Record<string, Migration> = {
  '001_heat': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('stack')
        .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('name', 'varchar(255)', (c) => c.notNull())
        .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('username', 'varchar(255)', (c) => c.notNull())
        .addColumn('owner_id', 'varchar(36)')
        .addColumn('parent_resource', 'varchar(255)')
        .addColumn('action', 'varchar(32)', (c) => c.notNull())
        .addColumn('status', 'varchar(32)', (c) => c.notNull())
        .addColumn('status_reason', 'text', (c) => c.notNull())
        .addColumn('template', 'text', (c) => c.notNull())
        .addColumn('environment', 'text', (c) => c.notNull())
        .addColumn('files', 'text', (c) => c.notNull())
        .addColumn('params', 'text', (c) => c.notNull())
        .addColumn('disable_rollback', 'integer', (c) => c.notNull())
        .addColumn('timeout_mins', 'integer')
        .addColumn('tags', 'text', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)')
        .addColumn('deleted_at', 'varchar(32)')
        .execute();
      await db.schema.createIndex('stack_project_name').on('stack').columns(['project_id', 'name']).execute();
      await db.schema.createIndex('stack_owner').on('stack').column('owner_id').execute();
      await db.schema
        .createTable('resource')
        .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('stack_id', 'varchar(36)', (c) => c.notNull())
        .addColumn('name', 'varchar(255)', (c) => c.notNull())
        .addColumn('type', 'varchar(255)', (c) => c.notNull())
        .addColumn('action', 'varchar(32)', (c) => c.notNull())
        .addColumn('status', 'varchar(32)', (c) => c.notNull())
        .addColumn('status_reason', 'text', (c) => c.notNull())
        .addColumn('physical_resource_id', 'varchar(255)')
        .addColumn('properties', 'text', (c) => c.notNull())
        .addColumn('attributes', 'text', (c) => c.notNull())
        .addColumn('data', 'text', (c) => c.notNull())
        .addColumn('metadata', 'text', (c) => c.notNull())
        .addColumn('requires', 'text', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)')
        .execute();
      await db.schema.createIndex('resource_stack').on('resource').columns(['stack_id', 'name']).execute();
      await db.schema
        .createTable('event')
        .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('stack_id', 'varchar(36)', (c) => c.notNull())
        .addColumn('resource_name', 'varchar(255)', (c) => c.notNull())
        .addColumn('physical_resource_id', 'varchar(255)')
        .addColumn('resource_type', 'varchar(255)', (c) => c.notNull())
        .addColumn('action', 'varchar(32)', (c) => c.notNull())
        .addColumn('status', 'varchar(32)', (c) => c.notNull())
        .addColumn('status_reason', 'text', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('event_stack').on('event').columns(['stack_id', 'seq']).execute();
      await db.schema
        .createTable('snapshot')
        .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('stack_id', 'varchar(36)', (c) => c.notNull())
        .addColumn('name', 'varchar(255)')
        .addColumn('status', 'varchar(32)', (c) => c.notNull())
        .addColumn('status_reason', 'text', (c) => c.notNull())
        .addColumn('data', 'text', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('software_config')
        .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('name', 'varchar(255)', (c) => c.notNull())
        .addColumn('group', 'varchar(255)', (c) => c.notNull())
        .addColumn('config', 'text', (c) => c.notNull())
        .addColumn('inputs', 'text', (c) => c.notNull())
        .addColumn('outputs', 'text', (c) => c.notNull())
        .addColumn('options', 'text', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('software_deployment')
        .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('config_id', 'varchar(36)', (c) => c.notNull())
        .addColumn('server_id', 'varchar(255)', (c) => c.notNull())
        .addColumn('input_values', 'text', (c) => c.notNull())
        .addColumn('output_values', 'text', (c) => c.notNull())
        .addColumn('action', 'varchar(255)', (c) => c.notNull())
        .addColumn('status', 'varchar(255)', (c) => c.notNull())
        .addColumn('status_reason', 'text', (c) => c.notNull())
        .addColumn('stack_user_project_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)')
        .execute();
      await db.schema.createIndex('software_deployment_server').on('software_deployment').column('server_id').execute();
      await db.schema
        .createTable('stack_lock')
        .addColumn('stack_id', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('engine_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('service')
        .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('engine_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('host', 'varchar(255)', (c) => c.notNull())
        .addColumn('hostname', 'varchar(255)', (c) => c.notNull())
        .addColumn('binary', 'varchar(255)', (c) => c.notNull())
        .addColumn('topic', 'varchar(255)', (c) => c.notNull())
        .addColumn('report_interval', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
        .execute();
    },
  },
  // Deferred auth (Heat's deferred_auth_method = trusts): the trust from the stack owner to the
  // heat service user, and who made it.
  '002_stack_trust': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('stack').addColumn('trust_id', 'varchar(64)').execute();
      await db.schema.alterTable('stack').addColumn('trustor_user_id', 'varchar(64)').execute();
    },
  },
  // The stack domain's project of a stack (Heat's stack_user_project_id), and the stored
  // credentials of deferred_auth_method = password (Heat's user_creds).
  '003_stack_user_project': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('stack').addColumn('stack_user_project_id', 'varchar(64)').execute();
      await db.schema.alterTable('stack').addColumn('user_creds', 'text').execute();
    },
  },
  // An encrypted trust id ("fernet:…", crypt.ts) is longer than a trust id: text. PostgreSQL
  // enforces varchar lengths (SQLite does not, which is why only PostgreSQL failed).
  '004_stack_trust_id_text': {
    async up(db: Kysely<unknown>) {
      if (db.getExecutor().adapter.constructor.name === 'PostgresAdapter')
        await db.schema
          .alterTable('stack')
          .alterColumn('trust_id', (c) => c.setDataType('text'))
          .execute();
    },
  },
  // The convergence engine (engine/convergence.ts): the stack's current traversal and its graph,
  // the templates traversals converge to, each resource's engine lock and replacement links, and
  // the sync points of the traversals.
  '005_convergence': {
    async up(db: Kysely<unknown>) {
      for (const [col, type] of [
        ['current_traversal', 'varchar(36)'],
        ['current_deps', 'text'],
        ['raw_template_id', 'varchar(36)'],
        ['prev_raw_template_id', 'varchar(36)'],
        ['convergence', 'integer'],
      ] as const)
        await db.schema.alterTable('stack').addColumn(col, type).execute();
      for (const [col, type] of [
        ['engine_id', 'varchar(64)'],
        ['current_template_id', 'varchar(36)'],
        ['needed_by', 'text'],
        ['replaces', 'varchar(36)'],
        ['replaced_by', 'varchar(36)'],
      ] as const)
        await db.schema.alterTable('resource').addColumn(col, type).execute();
      await db.schema
        .createTable('raw_template')
        .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('stack_id', 'varchar(36)', (c) => c.notNull())
        .addColumn('template', 'text', (c) => c.notNull())
        .addColumn('environment', 'text', (c) => c.notNull())
        .addColumn('files', 'text', (c) => c.notNull())
        .addColumn('params', 'text', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('raw_template_stack').on('raw_template').column('stack_id').execute();
      await db.schema
        .createTable('sync_point')
        .addColumn('entity_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('traversal_id', 'varchar(36)', (c) => c.notNull())
        .addColumn('is_update', 'integer', (c) => c.notNull())
        .addColumn('stack_id', 'varchar(36)', (c) => c.notNull())
        .addColumn('atomic_key', 'integer', (c) => c.notNull())
        .addColumn('input_data', 'text', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)')
        .addPrimaryKeyConstraint('sync_point_pk', ['entity_id', 'traversal_id', 'is_update'])
        .execute();
      await db.schema.createIndex('sync_point_stack').on('sync_point').columns(['stack_id', 'traversal_id']).execute();
    },
  },
  // Heat's service table keeps a stopped engine's row soft-deleted (service_delete, soft_delete=True).
  '006_service_deleted_at': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('service').addColumn('deleted_at', 'varchar(32)').execute();
    },
  },
};
