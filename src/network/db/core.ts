// Networks, segments, subnets, subnet pools, address scopes, ports, IP allocations, RBAC policies.
// `shared` of networks, subnet pools and address scopes is an access_as_shared '*' row in
// rbac_policies, as upstream since Ussuri; the API computes it from there. Pools and scopes
// also keep a `shared` column in step with that row (as upstream's models still do).
import type { Kysely } from 'kysely';
import type { Migration } from '../../core/db.ts';
import { standard } from './columns.ts';

export const coreMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await standard(db.schema.createTable('networks'))
      .addColumn('name', 'varchar(255)', (c) => c.notNull().defaultTo(''))
      .addColumn('status', 'varchar(16)', (c) => c.notNull())
      .addColumn('admin_state_up', 'integer', (c) => c.notNull())
      .addColumn('mtu', 'integer', (c) => c.notNull())
      .addColumn('router_external', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('is_default', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('port_security_enabled', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('availability_zone_hints', 'text', (c) => c.notNull().defaultTo('[]'))
      .addColumn('dns_domain', 'varchar(255)', (c) => c.notNull().defaultTo(''))
      .addColumn('qos_policy_id', 'varchar(36)')
      .addColumn('vlan_transparent', 'integer')
      .execute();
    await db.schema.createIndex('networks_project').on('networks').column('project_id').execute();
    await standard(db.schema.createTable('network_segments'), false)
      .addColumn('network_id', 'varchar(36)', (c) => c.notNull().references('networks.id').onDelete('cascade'))
      .addColumn('name', 'varchar(255)')
      .addColumn('network_type', 'varchar(32)', (c) => c.notNull())
      .addColumn('physical_network', 'varchar(64)')
      .addColumn('segmentation_id', 'integer')
      .addColumn('segment_index', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('is_dynamic', 'integer', (c) => c.notNull().defaultTo(0))
      // What the type driver reserved ('vxlan:1001', 'flat:public'; null for local): a VNI or a
      // flat physical network belongs to one segment at a time (NULLs do not collide).
      .addColumn('allocation', 'varchar(128)', (c) => c.unique())
      .execute();
    await db.schema.createIndex('network_segments_network').on('network_segments').column('network_id').execute();
    await db.schema
      .createTable('address_scopes')
      .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
      .addColumn('project_id', 'varchar(255)')
      .addColumn('name', 'varchar(255)', (c) => c.notNull().defaultTo(''))
      .addColumn('ip_version', 'integer', (c) => c.notNull())
      .addColumn('shared', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await standard(db.schema.createTable('subnetpools'))
      .addColumn('name', 'varchar(255)', (c) => c.notNull().defaultTo(''))
      .addColumn('ip_version', 'integer', (c) => c.notNull())
      .addColumn('prefixes', 'text', (c) => c.notNull().defaultTo('[]'))
      .addColumn('default_prefixlen', 'integer', (c) => c.notNull())
      .addColumn('min_prefixlen', 'integer', (c) => c.notNull())
      .addColumn('max_prefixlen', 'integer', (c) => c.notNull())
      .addColumn('default_quota', 'integer')
      .addColumn('shared', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('is_default', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('address_scope_id', 'varchar(36)')
      .execute();
    await standard(db.schema.createTable('subnets'))
      .addColumn('network_id', 'varchar(36)', (c) => c.notNull().references('networks.id'))
      .addColumn('name', 'varchar(255)', (c) => c.notNull().defaultTo(''))
      .addColumn('ip_version', 'integer', (c) => c.notNull())
      .addColumn('cidr', 'varchar(64)', (c) => c.notNull())
      .addColumn('gateway_ip', 'varchar(64)')
      .addColumn('enable_dhcp', 'integer', (c) => c.notNull())
      .addColumn('ipv6_ra_mode', 'varchar(16)')
      .addColumn('ipv6_address_mode', 'varchar(16)')
      .addColumn('subnetpool_id', 'varchar(36)')
      .addColumn('segment_id', 'varchar(36)')
      .addColumn('allocation_pools', 'text', (c) => c.notNull().defaultTo('[]'))
      .addColumn('dns_nameservers', 'text', (c) => c.notNull().defaultTo('[]'))
      .addColumn('host_routes', 'text', (c) => c.notNull().defaultTo('[]'))
      .addColumn('service_types', 'text', (c) => c.notNull().defaultTo('[]'))
      .addColumn('dns_publish_fixed_ip', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema.createIndex('subnets_network').on('subnets').column('network_id').execute();
    await db.schema.createIndex('subnets_subnetpool').on('subnets').column('subnetpool_id').execute();
    await standard(db.schema.createTable('ports'))
      .addColumn('network_id', 'varchar(36)', (c) => c.notNull().references('networks.id'))
      .addColumn('name', 'varchar(255)', (c) => c.notNull().defaultTo(''))
      .addColumn('mac_address', 'varchar(32)', (c) => c.notNull())
      .addColumn('admin_state_up', 'integer', (c) => c.notNull())
      .addColumn('status', 'varchar(16)', (c) => c.notNull())
      .addColumn('device_id', 'varchar(255)', (c) => c.notNull().defaultTo(''))
      .addColumn('device_owner', 'varchar(255)', (c) => c.notNull().defaultTo(''))
      .addColumn('binding_host_id', 'varchar(255)', (c) => c.notNull().defaultTo(''))
      .addColumn('binding_vnic_type', 'varchar(64)', (c) => c.notNull().defaultTo('normal'))
      .addColumn('binding_vif_type', 'varchar(64)', (c) => c.notNull().defaultTo('unbound'))
      .addColumn('binding_vif_details', 'text', (c) => c.notNull().defaultTo('{}'))
      .addColumn('binding_profile', 'text', (c) => c.notNull().defaultTo('{}'))
      .addColumn('port_security_enabled', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('allowed_address_pairs', 'text', (c) => c.notNull().defaultTo('[]'))
      .addColumn('extra_dhcp_opts', 'text', (c) => c.notNull().defaultTo('[]'))
      .addColumn('dns_name', 'varchar(255)', (c) => c.notNull().defaultTo(''))
      .addColumn('dns_domain', 'varchar(255)', (c) => c.notNull().defaultTo(''))
      .addColumn('qos_policy_id', 'varchar(36)')
      .addColumn('propagate_uplink_status', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('ip_allocation', 'varchar(16)')
      .execute();
    await db.schema.createIndex('ports_network').on('ports').column('network_id').execute();
    await db.schema.createIndex('ports_device').on('ports').column('device_id').execute();
    await db.schema.createIndex('ports_project').on('ports').column('project_id').execute();
    await db.schema.createIndex('ports_mac').on('ports').columns(['network_id', 'mac_address']).unique().execute();
    // One address per subnet at a time: the key is what makes concurrent IPAM safe.
    await db.schema
      .createTable('ipallocations')
      .addColumn('subnet_id', 'varchar(36)', (c) => c.notNull().references('subnets.id'))
      .addColumn('ip_address', 'varchar(64)', (c) => c.notNull())
      .addColumn('network_id', 'varchar(36)', (c) => c.notNull())
      .addColumn('port_id', 'varchar(36)', (c) => c.notNull().references('ports.id').onDelete('cascade'))
      .addPrimaryKeyConstraint('ipallocations_pk', ['subnet_id', 'ip_address'])
      .execute();
    await db.schema.createIndex('ipallocations_port').on('ipallocations').column('port_id').execute();
    await db.schema.createIndex('ipallocations_network').on('ipallocations').column('network_id').execute();
    await standard(db.schema.createTable('rbac_policies'), true)
      .addColumn('object_type', 'varchar(64)', (c) => c.notNull())
      .addColumn('object_id', 'varchar(36)', (c) => c.notNull())
      .addColumn('action', 'varchar(64)', (c) => c.notNull())
      .addColumn('target_tenant', 'varchar(255)', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('rbac_policies_object').on('rbac_policies').column('object_id').execute();
    await db.schema
      .createIndex('rbac_policies_unique')
      .on('rbac_policies')
      .columns(['object_type', 'object_id', 'action', 'target_tenant'])
      .unique()
      .execute();
  },
};
