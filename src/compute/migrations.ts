// Migration records (Nova's objects.Migration): every move of a server — resize, cold
// migration, live migration, evacuation — is a row of the `migrations` table with its status
// lifecycle, shared by the API, the move conductor and the agents.
import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type { ComputeDb, MigrationsTable } from './db/schema.ts';
import { bool, int, now } from '../core/db.ts';
import type { Flavor } from './service.ts';
import type { Instance } from './instances.ts';
export type MigrationType = 'migration' | 'resize' | 'live-migration' | 'evacuation';

/** A move as the code uses it: its `migrations` row with the flavors parsed, the counters as numbers, the flags as booleans. */
export interface Migration
  extends Omit<
    Selectable<MigrationsTable>,
    | 'migration_type'
    | 'old_flavor'
    | 'new_flavor'
    | 'memory_total'
    | 'memory_processed'
    | 'memory_remaining'
    | 'disk_total'
    | 'disk_processed'
    | 'disk_remaining'
    | 'hidden'
    | 'cross_cell_move'
    | 'deleted'
  > {
  migration_type: MigrationType;
  /** The flavors before and after (Nova keeps them on the instance as old_flavor/new_flavor). */
  old_flavor: Flavor | null;
  new_flavor: Flavor | null;
  memory_total: number | null;
  memory_processed: number | null;
  memory_remaining: number | null;
  disk_total: number | null;
  disk_processed: number | null;
  disk_remaining: number | null;
  hidden: boolean;
  cross_cell_move: boolean;
  deleted: boolean;
}

/** Live migration statuses in which it can be shown, forced or aborted (Nova's in-progress list). */
export const LIVE_IN_PROGRESS = ['queued', 'preparing', 'running', 'post-migrating'];

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
function rowToMigration(r: Selectable<MigrationsTable>): Migration {
  return {
    ...r,
    id: Number(r.id),
    migration_type: r.migration_type as MigrationType,
    old_instance_type_id: num(r.old_instance_type_id),
    new_instance_type_id: num(r.new_instance_type_id),
    old_flavor: r.old_flavor ? JSON.parse(r.old_flavor) : null,
    new_flavor: r.new_flavor ? JSON.parse(r.new_flavor) : null,
    memory_total: num(r.memory_total),
    memory_processed: num(r.memory_processed),
    memory_remaining: num(r.memory_remaining),
    disk_total: num(r.disk_total),
    disk_processed: num(r.disk_processed),
    disk_remaining: num(r.disk_remaining),
    hidden: bool(r.hidden),
    cross_cell_move: bool(r.cross_cell_move),
    deleted: bool(r.deleted),
  };
}

export interface MigrationFilters {
  host?: string;
  status?: string;
  instance_uuid?: string;
  source_compute?: string;
  migration_type?: string;
  hidden?: boolean;
  user_id?: string;
  project_id?: string;
  changes_since?: string;
  changes_before?: string;
}

/** The `migrations` table, shared by the API, the move conductor and the agents. */
export class MigrationStore {
  constructor(readonly db: Kysely<ComputeDb>) {}

  async create(m: {
    instance: Instance;
    type: MigrationType;
    status: string;
    dest_compute?: string | null;
    old_flavor?: Flavor;
    new_flavor?: Flavor;
    user_id?: string | null;
    project_id?: string | null;
  }): Promise<Migration> {
    const t = now();
    const typeId = async (f?: Flavor) => {
      if (!f) return null;
      const r = await this.db
        .selectFrom('flavors')
        .select('id')
        .where('flavorid', '=', f.id)
        .executeTakeFirst()
        .catch(() => undefined);
      return r ? Number(r.id) : null;
    };
    const uuid = randomUUID();
    await this.db
      .insertInto('migrations')
      .values({
        uuid,
        instance_uuid: m.instance.uuid,
        migration_type: m.type,
        status: m.status,
        source_compute: m.instance.host,
        source_node: m.instance.node,
        dest_compute: m.dest_compute ?? null,
        dest_node: null,
        dest_host: null,
        old_instance_type_id: await typeId(m.old_flavor),
        new_instance_type_id: await typeId(m.new_flavor),
        old_flavor: m.old_flavor ? JSON.stringify(m.old_flavor) : null,
        new_flavor: m.new_flavor ? JSON.stringify(m.new_flavor) : null,
        old_vm_state: m.instance.vm_state,
        hidden: 0,
        cross_cell_move: 0,
        user_id: m.user_id ?? null,
        project_id: m.project_id ?? null,
        created_at: t,
        updated_at: t,
        deleted: 0,
      })
      .execute();
    return (await this.byUuid(uuid))!;
  }

  async get(id: number): Promise<Migration | null> {
    if (!Number.isSafeInteger(id)) return null;
    const r = await this.db
      .selectFrom('migrations')
      .selectAll()
      .where('id', '=', id)
      .where('deleted', '=', 0)
      .executeTakeFirst();
    return r ? rowToMigration(r) : null;
  }

  async byUuid(uuid: string): Promise<Migration | null> {
    const r = await this.db.selectFrom('migrations').selectAll().where('uuid', '=', uuid).executeTakeFirst();
    return r ? rowToMigration(r) : null;
  }

  /** The instance's migration with one of these statuses, newest first (Migration.get_by_instance_and_status). */
  async ofInstance(instance: string, statuses: string[], types?: MigrationType[]): Promise<Migration | null> {
    let q = this.db
      .selectFrom('migrations')
      .selectAll()
      .where('instance_uuid', '=', instance)
      .where('status', 'in', statuses)
      .where('deleted', '=', 0);
    if (types) q = q.where('migration_type', 'in', types);
    const r = await q.orderBy('id', 'desc').executeTakeFirst();
    return r ? rowToMigration(r) : null;
  }

  /** Updates a migration; with `from`, only when its status is one of those (returns whether it did). */
  async update(
    id: number,
    patch: Partial<Omit<Migration, 'old_flavor' | 'new_flavor'>>,
    from?: string[],
  ): Promise<boolean> {
    // Booleans are stored as 0/1.
    const { hidden, cross_cell_move, deleted, ...rest } = patch;
    let q = this.db
      .updateTable('migrations')
      .set({
        ...rest,
        ...(hidden !== undefined ? { hidden: int(hidden) } : {}),
        ...(cross_cell_move !== undefined ? { cross_cell_move: int(cross_cell_move) } : {}),
        ...(deleted !== undefined ? { deleted: int(deleted) } : {}),
        updated_at: now(),
      })
      .where('id', '=', id);
    if (from) q = q.where('status', 'in', from);
    const r = await q.executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async list(f: MigrationFilters = {}): Promise<Migration[]> {
    let q = this.db.selectFrom('migrations').selectAll().where('deleted', '=', 0);
    if (f.host) q = q.where((eb) => eb.or([eb('source_compute', '=', f.host!), eb('dest_compute', '=', f.host!)]));
    if (f.status) q = q.where('status', '=', f.status);
    if (f.instance_uuid) q = q.where('instance_uuid', '=', f.instance_uuid);
    if (f.source_compute) q = q.where('source_compute', '=', f.source_compute);
    if (f.migration_type) q = q.where('migration_type', '=', f.migration_type);
    if (f.hidden !== undefined) q = q.where('hidden', '=', f.hidden ? 1 : 0);
    if (f.user_id) q = q.where('user_id', '=', f.user_id);
    if (f.project_id) q = q.where('project_id', '=', f.project_id);
    const rows = (await q.orderBy('created_at', 'desc').orderBy('id', 'desc').execute()).map(rowToMigration);
    return rows.filter(
      (m) =>
        (!f.changes_since || Date.parse(m.updated_at ?? m.created_at) >= Date.parse(f.changes_since)) &&
        (!f.changes_before || Date.parse(m.updated_at ?? m.created_at) <= Date.parse(f.changes_before)),
    );
  }
}
