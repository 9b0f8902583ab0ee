// The flavors family's tables (flavors, their extra specs and access lists) and the flavors
// DevStack creates at first start. The keys are recorded in existing databases as
// 'flavors/<key>': never rename one.
import { serialType, type Migration } from '../../../core/db.ts';

/** DevStack's flavors (lib/nova create_flavors), all with hw_rng:allowed=True as DevStack sets. */
export const DEVSTACK_FLAVORS: Array<[id: string, name: string, ram: number, disk: number, vcpus: number]> = [
  ['1', 'm1.tiny', 512, 1, 1],
  ['2', 'm1.small', 2048, 20, 1],
  ['3', 'm1.medium', 4096, 40, 2],
  ['4', 'm1.large', 8192, 80, 4],
  ['5', 'm1.xlarge', 16384, 160, 8],
  ['c1', 'cirros256', 256, 1, 1],
  ['d1', 'ds512M', 512, 5, 1],
  ['d2', 'ds1G', 1024, 10, 1],
  ['d3', 'ds2G', 2048, 10, 2],
  ['d4', 'ds4G', 4096, 20, 4],
];

export const flavorMigrations: Record<string, Migration> = {
  '001_flavors': {
    async up(db) {
      await db.schema
        .createTable('flavors')
        .addColumn('id', serialType(db), (c) => c.primaryKey())
        .addColumn('flavorid', 'varchar(255)', (c) => c.notNull().unique())
        .addColumn('name', 'varchar(255)', (c) => c.notNull().unique())
        .addColumn('memory_mb', 'integer', (c) => c.notNull())
        .addColumn('vcpus', 'integer', (c) => c.notNull())
        .addColumn('root_gb', 'integer', (c) => c.notNull())
        .addColumn('ephemeral_gb', 'integer', (c) => c.notNull())
        .addColumn('swap', 'integer', (c) => c.notNull())
        .addColumn('rxtx_factor', 'double precision', (c) => c.notNull())
        .addColumn('vcpu_weight', 'integer')
        .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('is_public', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('description', 'text')
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)')
        .execute();
      await db.schema
        .createTable('flavor_extra_specs')
        .addColumn('flavorid', 'varchar(255)', (c) => c.notNull())
        .addColumn('key', 'varchar(255)', (c) => c.notNull())
        .addColumn('value', 'varchar(255)', (c) => c.notNull())
        .addPrimaryKeyConstraint('flavor_extra_specs_pk', ['flavorid', 'key'])
        .execute();
      await db.schema
        .createTable('flavor_projects')
        .addColumn('flavorid', 'varchar(255)', (c) => c.notNull())
        .addColumn('project_id', 'varchar(255)', (c) => c.notNull())
        .addPrimaryKeyConstraint('flavor_projects_pk', ['flavorid', 'project_id'])
        .execute();
      const at = new Date().toISOString();
      for (const [flavorid, name, memory_mb, root_gb, vcpus] of DEVSTACK_FLAVORS) {
        await db
          .insertInto('flavors')
          .values({
            flavorid,
            name,
            memory_mb,
            root_gb,
            vcpus,
            ephemeral_gb: 0,
            swap: 0,
            rxtx_factor: 1.0,
            disabled: 0,
            is_public: 1,
            description: null,
            created_at: at,
          })
          .execute();
        await db.insertInto('flavor_extra_specs').values({ flavorid, key: 'hw_rng:allowed', value: 'True' }).execute();
      }
    },
  },
};
