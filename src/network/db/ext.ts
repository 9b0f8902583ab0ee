// Tables of the extensions added after the first families (address groups, metering, ...), one
// migration each, appended to db/migrations.ts under new names.
import type { Kysely } from 'kysely';
import type { Migration } from '../../core/db.ts';
import { standard } from './columns.ts';

/** Address groups (neutron's address_groups and address_associations): one row per CIDR, unique per group. */
export const addressGroupsMigration: Migration = {
  async up(db: Kysely<any>) {
    await standard(db.schema.createTable('address_groups'))
      .addColumn('name', 'varchar(255)', (c: any) => c.notNull().defaultTo(''))
      .execute();
    await db.schema.createTable('address_group_addresses')
      .addColumn('address_group_id', 'varchar(36)', (c: any) => c.notNull().references('address_groups.id').onDelete('cascade'))
      .addColumn('address', 'varchar(64)', (c: any) => c.notNull())
      .addPrimaryKeyConstraint('address_group_addresses_pk', ['address_group_id', 'address'])
      .execute();
  },
};
