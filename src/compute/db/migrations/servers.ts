// The servers family's tables: instances (one row per server, soft-deleted as Nova does),
// their tags, the instance actions with their events, and the compute services and nodes.
// Names follow Nova's schema. The keys are recorded in existing databases as 'servers/<key>':
// never rename one.
import { json, serialType, type Migration } from '../../../core/db.ts';

export const serverMigrations: Record<string, Migration> = {
  '001_instances': {
    async up(db) {
      await db.schema
        .createTable('instances')
        .addColumn('uuid', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('display_name', 'varchar(255)', (c) => c.notNull())
        .addColumn('display_description', 'text')
        .addColumn('project_id', 'varchar(255)', (c) => c.notNull())
        .addColumn('user_id', 'varchar(255)', (c) => c.notNull())
        .addColumn('image_ref', 'varchar(255)')
        .addColumn('flavor', 'text', (c) => c.notNull())
        .addColumn('host', 'varchar(255)')
        .addColumn('node', 'varchar(255)')
        .addColumn('availability_zone', 'varchar(255)')
        .addColumn('vm_state', 'varchar(255)', (c) => c.notNull())
        .addColumn('task_state', 'varchar(255)')
        .addColumn('power_state', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('key_name', 'varchar(255)')
        .addColumn('key_data', 'text')
        .addColumn('user_data', 'text')
        .addColumn('config_drive', 'varchar(255)')
        .addColumn('access_ip_v4', 'varchar(64)')
        .addColumn('access_ip_v6', 'varchar(64)')
        .addColumn('metadata', 'text', (c) => c.notNull())
        .addColumn('system_metadata', 'text', (c) => c.notNull())
        .addColumn('security_groups', 'text', (c) => c.notNull())
        .addColumn('requested_networks', 'text', (c) => c.notNull())
        .addColumn('network_info', 'text', (c) => c.notNull())
        .addColumn('fault', 'text')
        .addColumn('locked', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('locked_by', 'varchar(32)')
        .addColumn('locked_reason', 'text')
        .addColumn('hostname', 'varchar(255)')
        .addColumn('launch_index', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('reservation_id', 'varchar(255)', (c) => c.notNull())
        .addColumn('progress', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('trusted_certs', 'text')
        .addColumn('launched_at', 'varchar(32)')
        .addColumn('terminated_at', 'varchar(32)')
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('deleted_at', 'varchar(32)')
        .addColumn('deleted', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.createIndex('instances_project').on('instances').columns(['project_id', 'deleted']).execute();
      await db.schema.createIndex('instances_host').on('instances').columns(['host', 'deleted']).execute();
      await db.schema.createIndex('instances_created').on('instances').columns(['created_at', 'uuid']).execute();
      await db.schema
        .createTable('instance_tags')
        .addColumn('instance_uuid', 'varchar(36)', (c) => c.notNull())
        .addColumn('tag', 'varchar(60)', (c) => c.notNull())
        .addPrimaryKeyConstraint('instance_tags_pk', ['instance_uuid', 'tag'])
        .execute();
      await db.schema
        .createTable('instance_actions')
        .addColumn('id', serialType(db), (c) => c.primaryKey())
        .addColumn('instance_uuid', 'varchar(36)', (c) => c.notNull())
        .addColumn('action', 'varchar(255)', (c) => c.notNull())
        .addColumn('request_id', 'varchar(255)', (c) => c.notNull())
        .addColumn('user_id', 'varchar(255)')
        .addColumn('project_id', 'varchar(255)')
        .addColumn('start_time', 'varchar(32)', (c) => c.notNull())
        .addColumn('finish_time', 'varchar(32)')
        .addColumn('message', 'varchar(255)')
        .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('instance_actions_instance')
        .on('instance_actions')
        .columns(['instance_uuid', 'request_id'])
        .execute();
      await db.schema
        .createTable('instance_action_events')
        .addColumn('id', serialType(db), (c) => c.primaryKey())
        .addColumn('action_id', 'integer', (c) => c.notNull())
        .addColumn('event', 'varchar(255)', (c) => c.notNull())
        .addColumn('start_time', 'varchar(32)', (c) => c.notNull())
        .addColumn('finish_time', 'varchar(32)')
        .addColumn('result', 'varchar(255)')
        .addColumn('traceback', 'text')
        .addColumn('host', 'varchar(255)')
        .addColumn('details', 'text')
        .execute();
      await db.schema
        .createIndex('instance_action_events_action')
        .on('instance_action_events')
        .column('action_id')
        .execute();
    },
  },
  '002_compute_nodes': {
    // The compute services (nova-compute per host, nova-conductor, nova-scheduler) and the nodes
    // the agents report, read by the scheduler's filters. The os-services API lives in another family.
    async up(db) {
      await db.schema
        .createTable('services')
        .addColumn('id', serialType(db), (c) => c.primaryKey())
        .addColumn('uuid', 'varchar(36)', (c) => c.notNull().unique())
        .addColumn('host', 'varchar(255)', (c) => c.notNull())
        .addColumn('binary', 'varchar(255)', (c) => c.notNull())
        .addColumn('topic', 'varchar(255)')
        .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('disabled_reason', 'varchar(255)')
        .addColumn('forced_down', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('report_count', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('last_seen_up', 'varchar(32)')
        .addColumn('version', 'integer', (c) => c.notNull().defaultTo(61))
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)')
        .addColumn('deleted', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .createIndex('services_host_binary')
        .on('services')
        .columns(['host', 'binary', 'deleted'])
        .execute();
      await db.schema
        .createTable('compute_nodes')
        .addColumn('id', serialType(db), (c) => c.primaryKey())
        .addColumn('uuid', 'varchar(36)', (c) => c.notNull().unique())
        .addColumn('service_id', 'integer')
        .addColumn('host', 'varchar(255)', (c) => c.notNull())
        .addColumn('hypervisor_hostname', 'varchar(255)', (c) => c.notNull())
        .addColumn('hypervisor_type', 'varchar(255)', (c) => c.notNull())
        .addColumn('hypervisor_version', 'integer', (c) => c.notNull())
        .addColumn('host_ip', 'varchar(64)')
        .addColumn('vcpus', 'integer', (c) => c.notNull())
        .addColumn('memory_mb', 'integer', (c) => c.notNull())
        .addColumn('local_gb', 'integer', (c) => c.notNull())
        .addColumn('vcpus_used', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('memory_mb_used', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('local_gb_used', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('running_vms', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('cpu_info', 'text')
        .addColumn('cpu_allocation_ratio', 'double precision', (c) => c.notNull())
        .addColumn('ram_allocation_ratio', 'double precision', (c) => c.notNull())
        .addColumn('disk_allocation_ratio', 'double precision', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)')
        .addColumn('deleted', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
    },
  },
  '003_instance_resources': {
    // Nova's instances.vcpus/memory_mb/root_gb/ephemeral_gb: the flavor's sizes as columns, so the
    // resource audit sums a host's usage in SQL instead of parsing every flavor.
    async up(db) {
      for (const col of ['vcpus', 'memory_mb', 'root_gb', 'ephemeral_gb']) {
        await db.schema
          .alterTable('instances')
          .addColumn(col, 'integer', (c) => c.notNull().defaultTo(0))
          .execute();
      }
      // The sizes as instances.ts's flavorColumns() wrote them then (a migration does not follow later changes).
      for (const r of await db.selectFrom('instances').select(['uuid', 'flavor']).execute()) {
        const f = json<{ vcpus?: number; ram?: number; disk?: number; ephemeral?: number }>(r.flavor, {});
        await db
          .updateTable('instances')
          .set({ vcpus: f.vcpus ?? 0, memory_mb: f.ram ?? 0, root_gb: f.disk ?? 0, ephemeral_gb: f.ephemeral ?? 0 })
          .where('uuid', '=', r.uuid)
          .execute();
      }
    },
  },
};
