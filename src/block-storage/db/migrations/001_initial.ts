// Block storage's first tables. The keys are recorded in existing databases: never rename one.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Migration } from '../../../core/db.ts';

type Col = [name: string, type: string, opts?: 'pk' | 'notnull' | 'default0'];

async function table(db: Kysely<unknown>, name: string, cols: Col[], pk?: string[]) {
  let t = db.schema.createTable(name);
  for (const [n, type, o] of cols)
    t = t.addColumn(n, type as 'text', (c) =>
      o === 'pk' ? c.primaryKey() : o === 'notnull' ? c.notNull() : o === 'default0' ? c.notNull().defaultTo(0) : c,
    );
  if (pk) t = t.addPrimaryKeyConstraint(`${name}_pk`, pk as never[]);
  await t.execute();
}

const ts = (n: string): Col => [n, 'varchar(32)'];
const id: Col = ['id', 'varchar(36)', 'pk'];

export const initial: Migration = {
  async up(db) {
    await table(db, 'volumes', [
      id,
      ['project_id', 'varchar(64)', 'notnull'],
      ['user_id', 'varchar(64)', 'notnull'],
      ['name', 'varchar(255)'],
      ['description', 'text'],
      ['size', 'integer', 'notnull'],
      ['status', 'varchar(32)', 'notnull'],
      ['attach_status', 'varchar(32)', 'notnull'],
      ['previous_status', 'varchar(32)'],
      ['availability_zone', 'varchar(255)', 'notnull'],
      ['host', 'varchar(255)'],
      ['volume_type_id', 'varchar(36)', 'notnull'],
      ['snapshot_id', 'varchar(36)'],
      ['source_volid', 'varchar(36)'],
      ['image_id', 'varchar(36)'],
      ['backup_id', 'varchar(36)'],
      ['bootable', 'integer', 'default0'],
      ['multiattach', 'integer', 'default0'],
      ['encrypted', 'integer', 'default0'],
      ['metadata', 'text', 'notnull'],
      ['admin_metadata', 'text', 'notnull'],
      ['image_metadata', 'text', 'notnull'],
      ['migration_status', 'varchar(32)'],
      ['provider_location', 'text'],
      ['group_id', 'varchar(36)'],
      ts('created_at'),
      ts('updated_at'),
      ts('launched_at'),
      ['deleted', 'integer', 'default0'],
      ts('deleted_at'),
    ]);
    await db.schema.createIndex('volumes_project_idx').on('volumes').columns(['project_id', 'deleted']).execute();
    await table(db, 'volume_attachments', [
      id,
      ['volume_id', 'varchar(36)', 'notnull'],
      ['instance_uuid', 'varchar(36)'],
      ['attached_host', 'varchar(255)'],
      ['mountpoint', 'varchar(255)'],
      ['attach_status', 'varchar(32)', 'notnull'],
      ['attach_mode', 'varchar(8)', 'notnull'],
      ['connector', 'text'],
      ['connection_info', 'text'],
      ts('attach_time'),
      ts('detach_time'),
      ts('created_at'),
      ts('updated_at'),
      ['deleted', 'integer', 'default0'],
    ]);
    await db.schema.createIndex('attachments_volume_idx').on('volume_attachments').column('volume_id').execute();
    await table(db, 'snapshots', [
      id,
      ['volume_id', 'varchar(36)', 'notnull'],
      ['project_id', 'varchar(64)', 'notnull'],
      ['user_id', 'varchar(64)', 'notnull'],
      ['name', 'varchar(255)'],
      ['description', 'text'],
      ['status', 'varchar(32)', 'notnull'],
      ['progress', 'varchar(16)', 'notnull'],
      ['volume_size', 'integer', 'notnull'],
      ['metadata', 'text', 'notnull'],
      ['provider_location', 'text'],
      ['group_snapshot_id', 'varchar(36)'],
      ts('created_at'),
      ts('updated_at'),
      ['deleted', 'integer', 'default0'],
      ts('deleted_at'),
    ]);
    await table(db, 'volume_types', [
      id,
      ['name', 'varchar(255)', 'notnull'],
      ['description', 'text'],
      ['is_public', 'integer', 'default0'],
      ['extra_specs', 'text', 'notnull'],
      ['qos_specs_id', 'varchar(36)'],
      ts('created_at'),
      ts('updated_at'),
      ['deleted', 'integer', 'default0'],
      ts('deleted_at'),
    ]);
    await table(
      db,
      'volume_type_projects',
      [
        ['volume_type_id', 'varchar(36)', 'notnull'],
        ['project_id', 'varchar(64)', 'notnull'],
      ],
      ['volume_type_id', 'project_id'],
    );
    await table(db, 'default_types', [
      ['project_id', 'varchar(64)', 'pk'],
      ['volume_type_id', 'varchar(36)', 'notnull'],
    ]);
    await table(
      db,
      'quotas',
      [
        ['project_id', 'varchar(64)', 'notnull'],
        ['resource', 'varchar(255)', 'notnull'],
        ['hard_limit', 'integer', 'notnull'],
      ],
      ['project_id', 'resource'],
    );
    await table(
      db,
      'quota_classes',
      [
        ['class_name', 'varchar(255)', 'notnull'],
        ['resource', 'varchar(255)', 'notnull'],
        ['hard_limit', 'integer', 'notnull'],
      ],
      ['class_name', 'resource'],
    );
    await table(db, 'services', [
      id,
      ['host', 'varchar(255)', 'notnull'],
      ['binary', 'varchar(255)', 'notnull'],
      ['topic', 'varchar(255)', 'notnull'],
      ['availability_zone', 'varchar(255)', 'notnull'],
      ['disabled', 'integer', 'default0'],
      ['disabled_reason', 'varchar(255)'],
      ['frozen', 'integer', 'default0'],
      ['report_count', 'integer', 'default0'],
      ['capabilities', 'text'],
      ts('created_at'),
      ts('updated_at'),
    ]);
    await db.schema.createIndex('services_host_binary').on('services').columns(['host', 'binary']).unique().execute();
    await table(db, 'messages', [
      id,
      ['project_id', 'varchar(64)', 'notnull'],
      ['request_id', 'varchar(255)'],
      ['resource_type', 'varchar(36)', 'notnull'],
      ['resource_uuid', 'varchar(36)'],
      ['event_id', 'varchar(255)', 'notnull'],
      ['message_level', 'varchar(255)', 'notnull'],
      ['user_message', 'text', 'notnull'],
      ts('created_at'),
      ts('expires_at'),
    ]);
    await table(db, 'qos_specs', [
      id,
      ['name', 'varchar(255)', 'notnull'],
      ['consumer', 'varchar(32)', 'notnull'],
      ['specs', 'text', 'notnull'],
      ts('created_at'),
    ]);
    await table(db, 'encryption', [
      ['volume_type_id', 'varchar(36)', 'pk'],
      ['encryption_id', 'varchar(36)', 'notnull'],
      ['provider', 'varchar(255)', 'notnull'],
      ['cipher', 'varchar(255)'],
      ['key_size', 'integer'],
      ['control_location', 'varchar(32)', 'notnull'],
      ts('created_at'),
      ts('updated_at'),
    ]);
    await table(db, 'transfers', [
      id,
      ['volume_id', 'varchar(36)', 'notnull'],
      ['name', 'varchar(255)'],
      ['salt', 'varchar(255)', 'notnull'],
      ['crypt_hash', 'varchar(255)', 'notnull'],
      ['source_project_id', 'varchar(64)', 'notnull'],
      ['destination_project_id', 'varchar(64)'],
      ['accepted', 'integer', 'default0'],
      ['no_snapshots', 'integer', 'default0'],
      ['deleted', 'integer', 'default0'],
      ts('created_at'),
    ]);
    await table(db, 'backups', [
      id,
      ['volume_id', 'varchar(36)', 'notnull'],
      ['snapshot_id', 'varchar(36)'],
      ['project_id', 'varchar(64)', 'notnull'],
      ['user_id', 'varchar(64)', 'notnull'],
      ['name', 'varchar(255)'],
      ['description', 'text'],
      ['status', 'varchar(32)', 'notnull'],
      ['fail_reason', 'text'],
      ['size', 'integer', 'notnull'],
      ['object_count', 'integer', 'default0'],
      ['container', 'varchar(255)'],
      ['parent_id', 'varchar(36)'],
      ['is_incremental', 'integer', 'default0'],
      ['availability_zone', 'varchar(255)', 'notnull'],
      ['metadata', 'text', 'notnull'],
      ['chunks', 'text', 'notnull'],
      ts('data_timestamp'),
      ts('created_at'),
      ts('updated_at'),
      ['deleted', 'integer', 'default0'],
    ]);
    // Cinder's migration creates the default type every volume falls back to (3.67: no untyped volumes).
    const t = new Date().toISOString();
    await db
      .insertInto('volume_types' as never)
      .values({
        id: randomUUID(),
        name: '__DEFAULT__',
        description: 'Default Volume Type',
        is_public: 1,
        extra_specs: '{}',
        created_at: t,
        deleted: 0,
      } as never)
      .execute();
  },
};
