// Column sets shared by the network service's tables.
import type { CreateTableBuilder } from 'kysely';

/** id, project_id, description, created_at, updated_at, revision_number: every standard resource has them. */
export function standard(t: CreateTableBuilder<string, string>, owned = true): CreateTableBuilder<string, string> {
  t = t.addColumn('id', 'varchar(36)', (c) => c.primaryKey());
  if (owned) t = t.addColumn('project_id', 'varchar(255)');
  return t
    .addColumn('description', 'varchar(255)', (c) => c.notNull().defaultTo(''))
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('revision_number', 'integer', (c) => c.notNull().defaultTo(0));
}
