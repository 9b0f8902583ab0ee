// The network service's tables, one migration per resource family (files next to this one).
// Complex attributes (lists and dicts a resource owns, like host_routes) are JSON text in the
// resource's row; anything that needs a uniqueness guarantee across rows (IP allocations,
// MAC addresses, tags, quotas) has its own table with a key that enforces it.
import type { Kysely } from 'kysely';
import type { Migration } from '../../core/db.ts';
import { coreMigration } from './core.ts';
import { l3Migration } from './l3.ts';
import { securityMigration } from './security.ts';
import { extrasMigration } from './extras.ts';
import {
  addressGroupsMigration,
  conntrackHelpersMigration,
  meteringMigration,
  remoteAddressGroupMigration,
} from './ext.ts';
import { flavorsMigration } from './flavors.ts';

export const migrations: Record<string, Migration> = {
  '0000_base': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('tags')
        .addColumn('resource_type', 'varchar(64)', (c) => c.notNull())
        .addColumn('resource_id', 'varchar(36)', (c) => c.notNull())
        .addColumn('tag', 'varchar(255)', (c) => c.notNull())
        .addPrimaryKeyConstraint('tags_pk', ['resource_type', 'resource_id', 'tag'])
        .execute();
      await db.schema.createIndex('tags_tag').on('tags').columns(['resource_type', 'tag']).execute();
      await db.schema
        .createTable('quotas')
        .addColumn('project_id', 'varchar(255)', (c) => c.notNull())
        .addColumn('resource', 'varchar(64)', (c) => c.notNull())
        .addColumn('limit', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('quotas_pk', ['project_id', 'resource'])
        .execute();
    },
  },
  '0001_core': coreMigration,
  '0002_l3': l3Migration,
  '0003_security': securityMigration,
  '0004_extras': extrasMigration,
  '0005_address_groups': addressGroupsMigration,
  '0006_metering': meteringMigration,
  '0007_conntrack_helpers': conntrackHelpersMigration,
  '0008_remote_address_group': remoteAddressGroupMigration,
  '0009_flavors': flavorsMigration,
};
