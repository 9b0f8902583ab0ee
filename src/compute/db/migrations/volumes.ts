// The volumes family's tables. Nova's `block_device_mapping`: what a server has as block devices
// (its volumes, and the image or blank sources of the volumes made for it at boot), the volume
// service's attachment of each and the connection info the host used.
// The keys are recorded in existing databases as 'volumes/<key>': never rename one.
import { serialType, type Migration } from '../../../core/db.ts';

export const volumeMigrations: Record<string, Migration> = {
  '001_block_device_mapping': {
    async up(db) {
      await db.schema
        .createTable('block_device_mapping')
        .addColumn('id', serialType(db), (c) => c.primaryKey())
        .addColumn('uuid', 'varchar(36)', (c) => c.notNull().unique())
        .addColumn('instance_uuid', 'varchar(36)', (c) => c.notNull())
        .addColumn('source_type', 'varchar(32)', (c) => c.notNull())
        .addColumn('destination_type', 'varchar(32)', (c) => c.notNull())
        .addColumn('boot_index', 'integer')
        .addColumn('device_name', 'varchar(255)')
        .addColumn('device_type', 'varchar(255)')
        .addColumn('disk_bus', 'varchar(255)')
        .addColumn('guest_format', 'varchar(255)')
        .addColumn('volume_id', 'varchar(36)')
        .addColumn('snapshot_id', 'varchar(36)')
        .addColumn('image_id', 'varchar(36)')
        .addColumn('volume_size', 'integer')
        .addColumn('volume_type', 'varchar(255)')
        .addColumn('delete_on_termination', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('tag', 'varchar(255)')
        .addColumn('attachment_id', 'varchar(36)')
        .addColumn('connection_info', 'text')
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)')
        .addColumn('deleted', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .createIndex('block_device_mapping_instance')
        .on('block_device_mapping')
        .columns(['instance_uuid', 'deleted'])
        .execute();
      await db.schema
        .createIndex('block_device_mapping_volume')
        .on('block_device_mapping')
        .column('volume_id')
        .execute();
    },
  },
};
