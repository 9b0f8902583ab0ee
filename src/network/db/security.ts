// The security family's tables: security groups, their rules, each project's default group,
// and which groups a port is in. (RBAC policies and quotas live in core's and base's tables.)
import type { Kysely } from 'kysely';
import type { Migration } from '../../core/db.ts';
import { standard } from './columns.ts';

export const securityMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await standard(db.schema.createTable('securitygroups'))
      .addColumn('name', 'varchar(255)', (c) => c.notNull().defaultTo(''))
      .addColumn('stateful', 'integer', (c) => c.notNull().defaultTo(1))
      .execute();
    await db.schema.createIndex('securitygroups_project').on('securitygroups').column('project_id').execute();
    await standard(db.schema.createTable('securitygrouprules'))
      .addColumn('security_group_id', 'varchar(36)', (c) =>
        c.notNull().references('securitygroups.id').onDelete('cascade'),
      )
      .addColumn('remote_group_id', 'varchar(36)', (c) => c.references('securitygroups.id').onDelete('cascade'))
      .addColumn('direction', 'varchar(16)', (c) => c.notNull())
      .addColumn('ethertype', 'varchar(8)', (c) => c.notNull())
      .addColumn('protocol', 'varchar(40)')
      .addColumn('port_range_min', 'integer')
      .addColumn('port_range_max', 'integer')
      .addColumn('remote_ip_prefix', 'varchar(255)')
      .execute();
    await db.schema
      .createIndex('securitygrouprules_group')
      .on('securitygrouprules')
      .column('security_group_id')
      .execute();
    await db.schema.createIndex('securitygrouprules_project').on('securitygrouprules').column('project_id').execute();
    // One default group per project: the key is what makes its creation on first need safe.
    await db.schema
      .createTable('default_security_group')
      .addColumn('project_id', 'varchar(255)', (c) => c.primaryKey())
      .addColumn('security_group_id', 'varchar(36)', (c) =>
        c.notNull().references('securitygroups.id').onDelete('cascade'),
      )
      .execute();
    // No cascade from groups: a group some port is in cannot go away.
    await db.schema
      .createTable('securitygroupportbindings')
      .addColumn('port_id', 'varchar(36)', (c) => c.notNull().references('ports.id').onDelete('cascade'))
      .addColumn('security_group_id', 'varchar(36)', (c) => c.notNull().references('securitygroups.id'))
      .addPrimaryKeyConstraint('securitygroupportbindings_pk', ['port_id', 'security_group_id'])
      .execute();
    await db.schema
      .createIndex('securitygroupportbindings_group')
      .on('securitygroupportbindings')
      .column('security_group_id')
      .execute();
  },
};
