// A migration's copy records its source as `migration_status: target:<volume id>` (43
// characters, Cinder's column is String(255)): varchar(32) refused it on PostgreSQL, which
// enforces lengths (SQLite does not), so a migration between two volume hosts failed there.
import type { Migration } from '../../../core/db.ts';

export const migrationStatus: Migration = {
  async up(db) {
    if (db.getExecutor().adapter.constructor.name === 'PostgresAdapter')
      await db.schema
        .alterTable('volumes')
        .alterColumn('migration_status', (c) => c.setDataType('varchar(255)'))
        .execute();
  },
};
