// The aggregates family's tables. Host aggregates: the aggregates, their hosts and their metadata (the availability zone is the `availability_zone` key).
// The keys are recorded in existing databases as 'aggregates/<key>': never rename one.
import { serialType, type Migration } from '../../../core/db.ts';

export const aggregateMigrations: Record<string, Migration> = {
  '001_aggregates': {
    async up(db) {
      await db.schema
        .createTable('aggregates')
        .addColumn('id', serialType(db), (c) =>
          serialType(db) === 'integer' ? c.primaryKey().autoIncrement() : c.primaryKey(),
        )
        .addColumn('uuid', 'varchar(36)', (c) => c.notNull().unique())
        .addColumn('name', 'varchar(255)', (c) => c.notNull().unique())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)')
        .execute();
      await db.schema
        .createTable('aggregate_hosts')
        .addColumn('aggregate_id', 'integer', (c) => c.notNull())
        .addColumn('host', 'varchar(255)', (c) => c.notNull())
        .addPrimaryKeyConstraint('aggregate_hosts_pk', ['aggregate_id', 'host'])
        .execute();
      await db.schema
        .createTable('aggregate_metadata')
        .addColumn('aggregate_id', 'integer', (c) => c.notNull())
        .addColumn('key', 'varchar(255)', (c) => c.notNull())
        .addColumn('value', 'varchar(255)', (c) => c.notNull())
        .addPrimaryKeyConstraint('aggregate_metadata_pk', ['aggregate_id', 'key'])
        .execute();
    },
  },
};
