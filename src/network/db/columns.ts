// Column sets shared by the network service's tables.

/** id, project_id, description, created_at, updated_at, revision_number: every standard resource has them. */
export function standard(t: any, owned = true) {
  t = t.addColumn('id', 'varchar(36)', (c: any) => c.primaryKey());
  if (owned) t = t.addColumn('project_id', 'varchar(255)');
  return t
    .addColumn('description', 'varchar(255)', (c: any) => c.notNull().defaultTo(''))
    .addColumn('created_at', 'varchar(32)', (c: any) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c: any) => c.notNull())
    .addColumn('revision_number', 'integer', (c: any) => c.notNull().defaultTo(0));
}
