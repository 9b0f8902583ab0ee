// The extras family's tables: agents and their network/router bindings (the DHCP and L3
// schedulers), QoS policies and rules, trunks and subports.
import type { Kysely } from 'kysely';
import type { Migration } from '../../core/db.ts';
import { standard } from './columns.ts';

export const extrasMigration: Migration = {
  async up(db: Kysely<unknown>) {
    // One row per (agent_type, host): what an agent reported last (neutron's agents table).
    await db.schema
      .createTable('agents')
      .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
      .addColumn('agent_type', 'varchar(255)', (c) => c.notNull())
      .addColumn('binary', 'varchar(255)', (c) => c.notNull())
      .addColumn('topic', 'varchar(255)', (c) => c.notNull())
      .addColumn('host', 'varchar(255)', (c) => c.notNull())
      .addColumn('availability_zone', 'varchar(255)')
      .addColumn('admin_state_up', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
      .addColumn('started_at', 'varchar(32)', (c) => c.notNull())
      .addColumn('heartbeat_timestamp', 'varchar(32)', (c) => c.notNull())
      .addColumn('description', 'varchar(255)')
      .addColumn('configurations', 'text', (c) => c.notNull().defaultTo('{}'))
      .addColumn('resource_versions', 'text')
      .addColumn('load', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('resources_synced', 'integer')
      .execute();
    await db.schema.createIndex('agents_type_host').on('agents').columns(['agent_type', 'host']).unique().execute();
    // The DHCP scheduler's choice: which DHCP agents serve a network.
    await db.schema
      .createTable('networkdhcpagentbindings')
      .addColumn('network_id', 'varchar(36)', (c) => c.notNull().references('networks.id').onDelete('cascade'))
      .addColumn('dhcp_agent_id', 'varchar(36)', (c) => c.notNull().references('agents.id').onDelete('cascade'))
      .addPrimaryKeyConstraint('networkdhcpagentbindings_pk', ['network_id', 'dhcp_agent_id'])
      .execute();
    // The L3 scheduler's choice: which L3 agent hosts a router (no foreign key: routers are the l3 family's).
    await db.schema
      .createTable('routerl3agentbindings')
      .addColumn('router_id', 'varchar(36)', (c) => c.notNull())
      .addColumn('l3_agent_id', 'varchar(36)', (c) => c.notNull().references('agents.id').onDelete('cascade'))
      .addPrimaryKeyConstraint('routerl3agentbindings_pk', ['router_id', 'l3_agent_id'])
      .execute();

    await standard(db.schema.createTable('qos_policies'))
      .addColumn('name', 'varchar(255)', (c) => c.notNull().defaultTo(''))
      .execute();
    // At most one default policy per project: the key is the guarantee.
    await db.schema
      .createTable('qos_default_policies')
      .addColumn('project_id', 'varchar(255)', (c) => c.primaryKey())
      .addColumn('qos_policy_id', 'varchar(36)', (c) => c.notNull().references('qos_policies.id').onDelete('cascade'))
      .execute();
    // One rule of a type per policy and direction (QoSRulesConflict), enforced by unique keys.
    await db.schema
      .createTable('qos_bandwidth_limit_rules')
      .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
      .addColumn('qos_policy_id', 'varchar(36)', (c) => c.notNull().references('qos_policies.id').onDelete('cascade'))
      .addColumn('max_kbps', 'integer', (c) => c.notNull())
      .addColumn('max_burst_kbps', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('direction', 'varchar(16)', (c) => c.notNull().defaultTo('egress'))
      .execute();
    await db.schema
      .createIndex('qos_bandwidth_limit_rules_unique')
      .on('qos_bandwidth_limit_rules')
      .columns(['qos_policy_id', 'direction'])
      .unique()
      .execute();
    await db.schema
      .createTable('qos_dscp_marking_rules')
      .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
      .addColumn('qos_policy_id', 'varchar(36)', (c) =>
        c.notNull().unique().references('qos_policies.id').onDelete('cascade'),
      )
      .addColumn('dscp_mark', 'integer', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('qos_minimum_bandwidth_rules')
      .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
      .addColumn('qos_policy_id', 'varchar(36)', (c) => c.notNull().references('qos_policies.id').onDelete('cascade'))
      .addColumn('min_kbps', 'integer', (c) => c.notNull())
      .addColumn('direction', 'varchar(16)', (c) => c.notNull().defaultTo('egress'))
      .execute();
    await db.schema
      .createIndex('qos_minimum_bandwidth_rules_unique')
      .on('qos_minimum_bandwidth_rules')
      .columns(['qos_policy_id', 'direction'])
      .unique()
      .execute();

    // A port is the parent of at most one trunk, and a subport of at most one.
    await standard(db.schema.createTable('trunks'))
      .addColumn('name', 'varchar(255)', (c) => c.notNull().defaultTo(''))
      .addColumn('admin_state_up', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('status', 'varchar(16)', (c) => c.notNull().defaultTo('DOWN'))
      .addColumn('port_id', 'varchar(36)', (c) => c.notNull().unique().references('ports.id').onDelete('cascade'))
      .execute();
    await db.schema
      .createTable('subports')
      .addColumn('port_id', 'varchar(36)', (c) => c.primaryKey().references('ports.id').onDelete('cascade'))
      .addColumn('trunk_id', 'varchar(36)', (c) => c.notNull().references('trunks.id').onDelete('cascade'))
      .addColumn('segmentation_type', 'varchar(32)', (c) => c.notNull())
      .addColumn('segmentation_id', 'integer', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('subports_segmentation')
      .on('subports')
      .columns(['trunk_id', 'segmentation_type', 'segmentation_id'])
      .unique()
      .execute();
  },
};
