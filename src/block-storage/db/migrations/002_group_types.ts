// Group types (3.11): the types of generic volume groups, with their group specs.
import type { Migration } from '../../../core/db.ts';

export const groupTypes: Migration = {
  async up(db) {
    await db.schema
      .createTable('group_types')
      .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
      .addColumn('name', 'varchar(255)', (c) => c.notNull())
      .addColumn('description', 'text')
      .addColumn('is_public', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('group_specs', 'text', (c) => c.notNull())
      .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
      .addColumn('updated_at', 'varchar(32)')
      .execute();
  },
};
