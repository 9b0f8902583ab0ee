// The backup service host that made a backup (cinder's backups.host): its restore and its delete
// go back to that host while its service is up, and an agent that starts settles only its own
// host's unfinished backups. Rows from before have none (any up backup service serves them).
import type { Migration } from '../../../core/db.ts';

export const backupHost: Migration = {
  async up(db) {
    await db.schema.alterTable('backups').addColumn('host', 'varchar(255)').execute();
  },
};
