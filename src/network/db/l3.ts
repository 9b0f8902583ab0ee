// Routers, floating IPs, port forwardings, auto-allocated topologies.
// A router's interfaces and gateway are ports (device_id = router id, device_owner
// network:router_interface / network:router_gateway); a floating IP owns a network:floatingip
// port on the external network that holds its address.
import type { Kysely } from 'kysely';
import type { Migration } from '../../core/db.ts';
import { standard } from './columns.ts';

export const l3Migration: Migration = {
  async up(db: Kysely<unknown>) {
    await standard(db.schema.createTable('routers'))
      .addColumn('name', 'varchar(255)', (c) => c.notNull().defaultTo(''))
      .addColumn('status', 'varchar(16)', (c) => c.notNull())
      .addColumn('admin_state_up', 'integer', (c) => c.notNull())
      .addColumn('gw_port_id', 'varchar(36)')
      .addColumn('enable_snat', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('routes', 'text', (c) => c.notNull().defaultTo('[]'))
      .addColumn('availability_zone_hints', 'text', (c) => c.notNull().defaultTo('[]'))
      .execute();
    await db.schema.createIndex('routers_project').on('routers').column('project_id').execute();
    await standard(db.schema.createTable('floatingips'))
      .addColumn('floating_network_id', 'varchar(36)', (c) => c.notNull())
      .addColumn('floating_ip_address', 'varchar(64)', (c) => c.notNull())
      // The address lives in this port's allocation: deleting the port deletes the floating IP.
      .addColumn('floating_port_id', 'varchar(36)', (c) => c.notNull().references('ports.id').onDelete('cascade'))
      .addColumn('fixed_port_id', 'varchar(36)')
      .addColumn('fixed_ip_address', 'varchar(64)')
      .addColumn('router_id', 'varchar(36)')
      .addColumn('status', 'varchar(16)', (c) => c.notNull())
      .addColumn('dns_name', 'varchar(255)', (c) => c.notNull().defaultTo(''))
      .addColumn('dns_domain', 'varchar(255)', (c) => c.notNull().defaultTo(''))
      .addColumn('qos_policy_id', 'varchar(36)')
      .execute();
    await db.schema.createIndex('floatingips_project').on('floatingips').column('project_id').execute();
    await db.schema.createIndex('floatingips_router').on('floatingips').column('router_id').execute();
    // One floating IP per fixed IP and external network (NULLs, i.e. unassociated ones, never collide).
    await db.schema
      .createIndex('floatingips_fixed_unique')
      .on('floatingips')
      .columns(['floating_network_id', 'fixed_port_id', 'fixed_ip_address'])
      .unique()
      .execute();
    await db.schema
      .createTable('portforwardings')
      .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
      .addColumn('floatingip_id', 'varchar(36)', (c) => c.notNull().references('floatingips.id').onDelete('cascade'))
      .addColumn('internal_port_id', 'varchar(36)', (c) => c.notNull().references('ports.id').onDelete('cascade'))
      .addColumn('protocol', 'varchar(40)', (c) => c.notNull())
      .addColumn('internal_ip_address', 'varchar(64)', (c) => c.notNull())
      .addColumn('internal_port_start', 'integer', (c) => c.notNull())
      .addColumn('internal_port_end', 'integer', (c) => c.notNull())
      .addColumn('external_port_start', 'integer', (c) => c.notNull())
      .addColumn('external_port_end', 'integer', (c) => c.notNull())
      .addColumn('description', 'varchar(255)', (c) => c.notNull().defaultTo(''))
      .execute();
    await db.schema
      .createIndex('portforwardings_external')
      .on('portforwardings')
      .columns(['floatingip_id', 'protocol', 'external_port_start', 'external_port_end'])
      .unique()
      .execute();
    await db.schema
      .createIndex('portforwardings_internal')
      .on('portforwardings')
      .columns(['protocol', 'internal_port_id', 'internal_ip_address', 'internal_port_start', 'internal_port_end'])
      .unique()
      .execute();
    await db.schema
      .createTable('auto_allocated_topologies')
      .addColumn('project_id', 'varchar(255)', (c) => c.primaryKey())
      .addColumn('network_id', 'varchar(36)', (c) => c.notNull().references('networks.id').onDelete('cascade'))
      .addColumn('router_id', 'varchar(36)', (c) => c.references('routers.id').onDelete('set null'))
      .execute();
  },
};
