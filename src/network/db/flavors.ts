// Tables of the flavors framework (neutron/db/models/flavor.py: flavors, serviceprofiles and
// their bindings) and the router attributes of the `dvr` and `l3-flavors` extensions
// (neutron's router_extra_attributes.distributed and routers.flavor_id), kept beside the router.
import type { Kysely } from 'kysely';
import type { Migration } from '../../core/db.ts';
/** 0 or 1 (schema.ts's IntBool). */
type IntBool = number;

export const flavorsMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('flavors')
      .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
      .addColumn('name', 'varchar(255)', (c) => c.notNull().defaultTo(''))
      .addColumn('description', 'varchar(1024)', (c) => c.notNull().defaultTo(''))
      .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('service_type', 'varchar(36)', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('service_profiles')
      .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
      .addColumn('description', 'varchar(1024)', (c) => c.notNull().defaultTo(''))
      .addColumn('driver', 'varchar(1024)', (c) => c.notNull().defaultTo(''))
      .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('metainfo', 'varchar(4096)', (c) => c.notNull().defaultTo(''))
      .execute();
    await db.schema
      .createTable('flavorserviceprofilebindings')
      .addColumn('flavor_id', 'varchar(36)', (c) => c.notNull().references('flavors.id').onDelete('cascade'))
      .addColumn('service_profile_id', 'varchar(36)', (c) =>
        c.notNull().references('service_profiles.id').onDelete('cascade'),
      )
      .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
      .addPrimaryKeyConstraint('flavorserviceprofilebindings_pk', ['flavor_id', 'service_profile_id'])
      .execute();
    await db.schema
      .createTable('router_extra_attributes')
      .addColumn('router_id', 'varchar(36)', (c) => c.primaryKey().references('routers.id').onDelete('cascade'))
      .addColumn('distributed', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('flavor_id', 'varchar(36)')
      .execute();
  },
};

export interface FlavorTable {
  id: string;
  name: string;
  description: string;
  enabled: IntBool;
  service_type: string;
}
export interface ServiceProfileTable {
  id: string;
  description: string;
  driver: string;
  enabled: IntBool;
  metainfo: string;
}
export interface FlavorServiceProfileBindingTable {
  flavor_id: string;
  service_profile_id: string;
  created_at: string;
}
export interface RouterExtraAttributesTable {
  router_id: string;
  distributed: IntBool;
  flavor_id: string | null;
}

/** The tables above, as NetworkDb includes them. */
export interface FlavorTables {
  flavors: FlavorTable;
  service_profiles: ServiceProfileTable;
  flavorserviceprofilebindings: FlavorServiceProfileBindingTable;
  router_extra_attributes: RouterExtraAttributesTable;
}
