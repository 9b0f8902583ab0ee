// Tables of the extensions added after the first families (address groups, metering, ...), one
// migration each, appended to db/migrations.ts under new names.
import type { Kysely } from 'kysely';
import type { Migration } from '../../core/db.ts';
import { standard } from './columns.ts';

/** Address groups (neutron's address_groups and address_associations): one row per CIDR, unique per group. */
export const addressGroupsMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await standard(db.schema.createTable('address_groups'))
      .addColumn('name', 'varchar(255)', (c) => c.notNull().defaultTo(''))
      .execute();
    await db.schema
      .createTable('address_group_addresses')
      .addColumn('address_group_id', 'varchar(36)', (c) =>
        c.notNull().references('address_groups.id').onDelete('cascade'),
      )
      .addColumn('address', 'varchar(64)', (c) => c.notNull())
      .addPrimaryKeyConstraint('address_group_addresses_pk', ['address_group_id', 'address'])
      .execute();
  },
};

/** Metering labels and their rules (neutron's meteringlabels and meteringlabelrules; no standard attributes). */
export const meteringMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('metering_labels')
      .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
      .addColumn('project_id', 'varchar(255)')
      .addColumn('name', 'varchar(255)', (c) => c.notNull().defaultTo(''))
      .addColumn('description', 'varchar(1024)', (c) => c.notNull().defaultTo(''))
      .addColumn('shared', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema
      .createTable('metering_label_rules')
      .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
      .addColumn('metering_label_id', 'varchar(36)', (c) =>
        c.notNull().references('metering_labels.id').onDelete('cascade'),
      )
      .addColumn('direction', 'varchar(16)', (c) => c.notNull())
      .addColumn('excluded', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('remote_ip_prefix', 'varchar(64)')
      .addColumn('source_ip_prefix', 'varchar(64)')
      .addColumn('destination_ip_prefix', 'varchar(64)')
      .execute();
    await db.schema
      .createIndex('metering_label_rules_label')
      .on('metering_label_rules')
      .column('metering_label_id')
      .execute();
  },
};

/** Conntrack helpers of routers (neutron's conntrack_helpers): one (protocol, port, helper) per router once. */
export const conntrackHelpersMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('conntrack_helpers')
      .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
      .addColumn('router_id', 'varchar(36)', (c) => c.notNull().references('routers.id').onDelete('cascade'))
      .addColumn('protocol', 'varchar(40)', (c) => c.notNull())
      .addColumn('port', 'integer', (c) => c.notNull())
      .addColumn('helper', 'varchar(64)', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('conntrack_helpers_unique')
      .on('conntrack_helpers')
      .columns(['router_id', 'protocol', 'port', 'helper'])
      .unique()
      .execute();
  },
};

/** Security group rules may name an address group as their remote (`security-groups-remote-address-group`). */
export const remoteAddressGroupMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('securitygrouprules').addColumn('remote_address_group_id', 'varchar(36)').execute();
    await db.schema
      .createIndex('securitygrouprules_remote_ag')
      .on('securitygrouprules')
      .column('remote_address_group_id')
      .execute();
  },
};
