// Migrations (Nova's `migrations` table and APIs): every move of a server — resize, cold
// migration, live migration, evacuation — is a row with its status lifecycle. Served as
// /os-migrations (filters; 2.23 migration_type and links; 2.59 uuid, paging, changes-since;
// 2.66 changes-before; 2.80 user_id/project_id) and /servers/{id}/migrations (2.23: the
// in-progress live migrations; force_complete 2.22; abort 2.24, queued ones from 2.65).
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Kysely, Selectable } from 'kysely';
import type { ComputeDb, MigrationsTable } from '../db/schema.ts';
import { bool, int, now } from '../../core/db.ts';
import type { ComputeService, Family, Flavor } from '../service.ts';
import { migrationMigrations } from '../db/migrations/migrations.ts';
import type { Instance } from '../instances.ts';
import { authorize, badRequest, conflict, isAdmin, mv, notFound, queryOf, validateBody } from './common.ts';
import { serverParts } from './servers.ts';

export type MigrationType = 'migration' | 'resize' | 'live-migration' | 'evacuation';

export interface Migration {
  id: number;
  uuid: string;
  instance_uuid: string;
  migration_type: MigrationType;
  status: string;
  source_compute: string | null;
  source_node: string | null;
  dest_compute: string | null;
  dest_node: string | null;
  dest_host: string | null;
  old_instance_type_id: number | null;
  new_instance_type_id: number | null;
  /** The flavors before and after (Nova keeps them on the instance as old_flavor/new_flavor). */
  old_flavor: Flavor | null;
  new_flavor: Flavor | null;
  /** The vm_state before the move (Nova's system_metadata old_vm_state), to come back to. */
  old_vm_state: string | null;
  memory_total: number | null;
  memory_processed: number | null;
  memory_remaining: number | null;
  disk_total: number | null;
  disk_processed: number | null;
  disk_remaining: number | null;
  hidden: boolean;
  cross_cell_move: boolean;
  user_id: string | null;
  project_id: string | null;
  created_at: string;
  updated_at: string | null;
  deleted_at: string | null;
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

export const migrationStore = (svc: ComputeService) => svc.parts.get('migrations') as MigrationStore;

/** Nova's datetimes in migration bodies: naive, with microseconds (2016-01-29T13:42:02.000000). */
const naive = (s: string | null) => (s ? new Date(s).toISOString().replace(/\.(\d{3})Z$/, '.$1000') : null);

function indexView(req: FastifyRequest, m: Migration) {
  const v = mv(req);
  const out: Record<string, unknown> = {
    id: m.id,
    status: m.status,
    instance_uuid: m.instance_uuid,
    source_node: m.source_node,
    source_compute: m.source_compute,
    dest_node: m.dest_node,
    dest_compute: m.dest_compute,
    dest_host: m.dest_host,
    old_instance_type_id: m.old_instance_type_id,
    new_instance_type_id: m.new_instance_type_id,
    created_at: naive(m.created_at),
    updated_at: naive(m.updated_at),
  };
  if (v.gte('2.23')) {
    out.migration_type = m.migration_type;
    if (m.migration_type === 'live-migration' && LIVE_IN_PROGRESS.includes(m.status)) {
      out.links = [
        { rel: 'self', href: `${req.baseUrl}/v2.1/servers/${m.instance_uuid}/migrations/${m.id}` },
        { rel: 'bookmark', href: `${req.baseUrl}/servers/${m.instance_uuid}/migrations/${m.id}` },
      ];
    }
  }
  if (v.gte('2.59')) out.uuid = m.uuid;
  if (v.gte('2.80')) {
    out.user_id = m.user_id;
    out.project_id = m.project_id;
  }
  return out;
}

function serverView(req: FastifyRequest, m: Migration) {
  const v = mv(req);
  const out: Record<string, unknown> = {
    created_at: naive(m.created_at),
    dest_compute: m.dest_compute,
    dest_host: m.dest_host,
    dest_node: m.dest_node,
    disk_processed_bytes: m.disk_processed,
    disk_remaining_bytes: m.disk_remaining,
    disk_total_bytes: m.disk_total,
    id: m.id,
    memory_processed_bytes: m.memory_processed,
    memory_remaining_bytes: m.memory_remaining,
    memory_total_bytes: m.memory_total,
    server_uuid: m.instance_uuid,
    source_compute: m.source_compute,
    source_node: m.source_node,
    status: m.status,
    updated_at: naive(m.updated_at),
  };
  if (v.gte('2.59')) out.uuid = m.uuid;
  if (v.gte('2.80')) {
    out.user_id = m.user_id;
    out.project_id = m.project_id;
  }
  return out;
}

const ISO = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/;

function registerRoutes(app: FastifyInstance, svc: ComputeService) {
  type P = { Params: { id: string; mid: string } };
  const getServer = async (req: FastifyRequest, id: string): Promise<Instance> => {
    const inst = await serverParts(svc).store.get(id);
    if (!inst || (!isAdmin(req) && inst.project_id !== req.ctx?.projectId))
      throw notFound(`Instance ${id} could not be found.`);
    return inst;
  };

  app.get('/os-migrations', async (req) => {
    authorize(req, 'os_compute_api:os-migrations:index');
    const v = mv(req);
    const q = queryOf(req);
    const allowedKeys = ['hidden', 'host', 'instance_uuid', 'source_compute', 'status', 'migration_type'];
    if (v.gte('2.59')) allowedKeys.push('limit', 'marker', 'changes-since');
    if (v.gte('2.66')) allowedKeys.push('changes-before');
    if (v.gte('2.80')) allowedKeys.push('user_id', 'project_id');
    if (v.gte('2.59')) {
      for (const k of q.keys())
        if (!allowedKeys.includes(k))
          throw badRequest(
            `Invalid input for query parameters ${k}. Value: ${q.get(k)}. Additional properties are not allowed ('${k}' was unexpected)`,
          );
    }
    const f: MigrationFilters = {};
    for (const k of [
      'host',
      'status',
      'instance_uuid',
      'source_compute',
      'migration_type',
      'user_id',
      'project_id',
    ] as const) {
      const val = q.get(k);
      if (val !== null && allowedKeys.includes(k)) f[k] = val;
    }
    const hidden = q.get('hidden');
    // Hidden migrations (cross-cell bookkeeping) are never shown; the filter only narrows further.
    if (hidden !== null) f.hidden = ['1', 'true', 'True', 'yes'].includes(hidden);
    for (const [k, key] of [
      ['changes-since', 'changes_since'],
      ['changes-before', 'changes_before'],
    ] as const) {
      const val = q.get(k);
      if (val === null || !allowedKeys.includes(k)) continue;
      if (!ISO.test(val) || Number.isNaN(Date.parse(val)))
        throw badRequest(`Invalid input for query parameters ${k}. Value: ${val}. '${val}' is not a 'date-time'`);
      f[key] = val;
    }
    if (f.changes_since && f.changes_before && Date.parse(f.changes_before) < Date.parse(f.changes_since))
      throw badRequest('The value of changes-since must be less than or equal to changes-before.');
    let list = (await migrationStore(svc).list(f)).filter((m) => !m.hidden);
    const out: Record<string, unknown> = {};
    if (v.gte('2.59')) {
      const marker = q.get('marker');
      if (marker !== null) {
        const at = list.findIndex((m) => m.uuid === marker);
        if (at < 0) throw badRequest(`Marker ${marker} could not be found.`);
        list = list.slice(at + 1);
      }
      const limitRaw = q.get('limit');
      if (limitRaw !== null) {
        if (!/^\d+$/.test(limitRaw))
          throw badRequest(
            `Invalid input for query parameters limit. Value: ${limitRaw}. '${limitRaw}' does not match '^[0-9]*$'`,
          );
        const limit = Math.min(Number(limitRaw), 1000);
        if (list.length > limit || (limit > 0 && list.length === limit)) {
          list = list.slice(0, limit);
          const last = list[list.length - 1];
          if (last && limit > 0) {
            const u = new URLSearchParams(q);
            u.set('marker', last.uuid);
            out.migrations_links = [{ rel: 'next', href: `${req.baseUrl}/v2.1/os-migrations?${u.toString()}` }];
          }
        }
      }
    }
    return { migrations: list.map((m) => indexView(req, m)), ...out };
  });

  const since = (req: FastifyRequest, version: string) => {
    if (mv(req).lt(version)) {
      req.authorized = true;
      throw notFound('The resource could not be found.');
    }
  };

  app.get<P>('/servers/:id/migrations', async (req) => {
    since(req, '2.23');
    const inst = await getServer(req, req.params.id);
    authorize(req, 'os_compute_api:servers:migrations:index', { project_id: inst.project_id });
    const list = (
      await migrationStore(svc).list({ instance_uuid: inst.uuid, migration_type: 'live-migration' })
    ).filter((m) => LIVE_IN_PROGRESS.includes(m.status));
    return { migrations: list.map((m) => serverView(req, m)) };
  });

  app.get<P>('/servers/:id/migrations/:mid', async (req) => {
    since(req, '2.23');
    const inst = await getServer(req, req.params.id);
    authorize(req, 'os_compute_api:servers:migrations:show', { project_id: inst.project_id });
    const m = await migrationStore(svc).get(Number(req.params.mid));
    if (!m || m.instance_uuid !== inst.uuid)
      throw notFound(`In-progress live migration ${req.params.mid} is not found for server ${inst.uuid}.`);
    if (m.migration_type !== 'live-migration')
      throw notFound(`Migration ${req.params.mid} for server ${inst.uuid} is not live-migration.`);
    if (!LIVE_IN_PROGRESS.includes(m.status))
      throw notFound(`Live migration ${req.params.mid} for server ${inst.uuid} is not in progress.`);
    return { migration: serverView(req, m) };
  });

  const FORCE_COMPLETE = {
    type: 'object',
    properties: { force_complete: { type: 'null' } },
    required: ['force_complete'],
    additionalProperties: false,
  };
  app.post<P>('/servers/:id/migrations/:mid/action', async (req, reply) => {
    since(req, '2.22');
    validateBody(req, FORCE_COMPLETE);
    const inst = await getServer(req, req.params.id);
    authorize(req, 'os_compute_api:servers:migrations:force_complete', { project_id: inst.project_id });
    if (inst.locked && !isAdmin(req)) throw conflict(`Instance ${inst.uuid} is locked`);
    if (inst.vm_state !== 'active')
      throw conflict(`Cannot 'force_complete' instance ${inst.uuid} while it is in vm_state ${inst.vm_state}`);
    if (inst.task_state !== 'migrating')
      throw conflict(`Cannot 'force_complete' instance ${inst.uuid} while it is in task_state ${inst.task_state}`);
    const m = await migrationStore(svc).get(Number(req.params.mid));
    if (!m || m.instance_uuid !== inst.uuid)
      throw badRequest(`Migration ${req.params.mid} not found for instance ${inst.uuid}`);
    if (m.status !== 'running')
      throw badRequest(
        `Migration ${m.id} state of instance ${inst.uuid} is ${m.status}. Cannot force complete while the migration is in this state.`,
      );
    await serverParts(svc).store.startAction({
      instance_uuid: inst.uuid,
      action: 'live_migration_force_complete',
      request_id: req.id,
      user_id: req.ctx!.userId,
      project_id: req.ctx!.projectId,
    });
    svc.ctx.bus.cast(`compute.${m.source_compute}`, 'live_migration_force_complete', {
      uuid: inst.uuid,
      migration_id: m.id,
      request_id: req.id,
    });
    return reply.code(202).send();
  });

  app.delete<P>('/servers/:id/migrations/:mid', async (req, reply) => {
    since(req, '2.24');
    const inst = await getServer(req, req.params.id);
    authorize(req, 'os_compute_api:servers:migrations:delete', { project_id: inst.project_id });
    if (inst.locked && !isAdmin(req)) throw conflict(`Instance ${inst.uuid} is locked`);
    if (inst.task_state !== 'migrating')
      throw conflict(
        `Cannot 'abort live migration' instance ${inst.uuid} while it is in task_state ${inst.task_state}`,
      );
    const m = await migrationStore(svc).get(Number(req.params.mid));
    if (!m || m.instance_uuid !== inst.uuid)
      throw notFound(`Migration ${req.params.mid} not found for instance ${inst.uuid}`);
    const allowedStates = mv(req).gte('2.65') ? ['running', 'queued', 'preparing'] : ['running'];
    if (!allowedStates.includes(m.status))
      throw badRequest(
        `Migration ${m.id} state of instance ${inst.uuid} is ${m.status}. Cannot abort live migration while the migration is in this state.`,
      );
    await serverParts(svc).store.startAction({
      instance_uuid: inst.uuid,
      action: 'live_migration_cancel',
      request_id: req.id,
      user_id: req.ctx!.userId,
      project_id: req.ctx!.projectId,
    });
    svc.ctx.bus.cast(`compute.${m.source_compute}`, 'live_migration_abort', {
      uuid: inst.uuid,
      migration_id: m.id,
      request_id: req.id,
    });
    return reply.code(202).send();
  });
}

export const migrationsFamily: Family = {
  name: 'migrations',
  migrations: migrationMigrations,
  routes: registerRoutes,
  async init(svc) {
    svc.parts.set('migrations', new MigrationStore(svc.db));
  },
};
