// The keypairs family's tables. Key pairs, unique by name per user.
// The keys are recorded in existing databases as 'keypairs/<key>': never rename one.
import { serialType, type Migration } from '../../../core/db.ts';

export const keypairMigrations: Record<string, Migration> = {
  '001_keypairs': {
    async up(db) {
      await db.schema
        .createTable('key_pairs')
        .addColumn('id', serialType(db), (c) =>
          serialType(db) === 'integer' ? c.primaryKey().autoIncrement() : c.primaryKey(),
        )
        .addColumn('name', 'varchar(255)', (c) => c.notNull())
        .addColumn('user_id', 'varchar(255)', (c) => c.notNull())
        .addColumn('fingerprint', 'varchar(255)', (c) => c.notNull())
        .addColumn('public_key', 'text', (c) => c.notNull())
        .addColumn('type', 'varchar(10)', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)')
        .addUniqueConstraint('key_pairs_user_name', ['user_id', 'name'])
        .execute();
    },
  },
};
