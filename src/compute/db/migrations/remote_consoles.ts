// The remote_consoles family's tables. The console auth tokens (Nova's console_auth_tokens): the hash of the token, where it leads, when it expires.
// The keys are recorded in existing databases as 'remote_consoles/<key>': never rename one.
import type { Migration } from '../../../core/db.ts';

export const consoleAuthTokenMigrations: Record<string, Migration> = {
  '001_console_auth_tokens': {
    async up(db) {
      await db.schema
        .createTable('console_auth_tokens')
        .addColumn('token_hash', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('console_type', 'varchar(32)', (c) => c.notNull())
        .addColumn('host', 'varchar(255)', (c) => c.notNull())
        .addColumn('port', 'integer', (c) => c.notNull())
        .addColumn('internal_access_path', 'varchar(255)')
        .addColumn('instance_uuid', 'varchar(36)', (c) => c.notNull())
        .addColumn('access_url_base', 'varchar(255)')
        .addColumn('expires', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('console_auth_tokens_instance')
        .on('console_auth_tokens')
        .column('instance_uuid')
        .execute();
    },
  },
};
