import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ComputeService, Family } from '../service.ts';
import { migrationMigrations } from '../db/migrations/migrations.ts';
import type { Instance } from '../instances.ts';
import { LIVE_IN_PROGRESS, type Migration, type MigrationFilters } from '../migrations.ts';
import { computeRpc } from '../rpcapi.ts';
import {
  authorize,
  badRequest,
  conflict,
  isAdmin,
  mv,
  notFound,
  queryOf,
  recordAction,
  validateBody,
} from './common.ts';

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

export type MigrationParams = { Params: { id: string; mid: string } };
type P = MigrationParams;

/** The server of a migration route: any server the caller's project owns, or any for an admin. */
async function serverOf(svc: ComputeService, req: FastifyRequest, id: string): Promise<Instance> {
  const inst = await svc.parts.store.get(id);
  if (!inst || (!isAdmin(req) && inst.project_id !== req.ctx?.projectId))
    throw notFound(`Instance ${id} could not be found.`);
  return inst;
}

export async function listMigrations(svc: ComputeService, req: FastifyRequest) {
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
  let list = (await svc.parts.migrations.list(f)).filter((m) => !m.hidden);
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
}

const since = (req: FastifyRequest, version: string) => {
  if (mv(req).lt(version)) {
    req.authorized = true;
    throw notFound('The resource could not be found.');
  }
};

export async function listServerMigrations(svc: ComputeService, req: FastifyRequest<P>) {
  since(req, '2.23');
  const inst = await serverOf(svc, req, req.params.id);
  authorize(req, 'os_compute_api:servers:migrations:index', { project_id: inst.project_id });
  const list = (await svc.parts.migrations.list({ instance_uuid: inst.uuid, migration_type: 'live-migration' })).filter(
    (m) => LIVE_IN_PROGRESS.includes(m.status),
  );
  return { migrations: list.map((m) => serverView(req, m)) };
}

export async function showServerMigration(svc: ComputeService, req: FastifyRequest<P>) {
  since(req, '2.23');
  const inst = await serverOf(svc, req, req.params.id);
  authorize(req, 'os_compute_api:servers:migrations:show', { project_id: inst.project_id });
  const m = await svc.parts.migrations.get(Number(req.params.mid));
  if (!m || m.instance_uuid !== inst.uuid)
    throw notFound(`In-progress live migration ${req.params.mid} is not found for server ${inst.uuid}.`);
  if (m.migration_type !== 'live-migration')
    throw notFound(`Migration ${req.params.mid} for server ${inst.uuid} is not live-migration.`);
  if (!LIVE_IN_PROGRESS.includes(m.status))
    throw notFound(`Live migration ${req.params.mid} for server ${inst.uuid} is not in progress.`);
  return { migration: serverView(req, m) };
}

const FORCE_COMPLETE = {
  type: 'object',
  properties: { force_complete: { type: 'null' } },
  required: ['force_complete'],
  additionalProperties: false,
};
export async function forceCompleteMigration(svc: ComputeService, req: FastifyRequest<P>, reply: FastifyReply) {
  since(req, '2.22');
  validateBody(req, FORCE_COMPLETE);
  const inst = await serverOf(svc, req, req.params.id);
  authorize(req, 'os_compute_api:servers:migrations:force_complete', { project_id: inst.project_id });
  if (inst.locked && !isAdmin(req)) throw conflict(`Instance ${inst.uuid} is locked`);
  if (inst.vm_state !== 'active')
    throw conflict(`Cannot 'force_complete' instance ${inst.uuid} while it is in vm_state ${inst.vm_state}`);
  if (inst.task_state !== 'migrating')
    throw conflict(`Cannot 'force_complete' instance ${inst.uuid} while it is in task_state ${inst.task_state}`);
  const m = await svc.parts.migrations.get(Number(req.params.mid));
  if (!m || m.instance_uuid !== inst.uuid)
    throw badRequest(`Migration ${req.params.mid} not found for instance ${inst.uuid}`);
  if (m.status !== 'running')
    throw badRequest(
      `Migration ${m.id} state of instance ${inst.uuid} is ${m.status}. Cannot force complete while the migration is in this state.`,
    );
  await recordAction(svc.parts.store, req, inst.uuid, 'live_migration_force_complete');
  computeRpc(svc.ctx.bus).cast(m.source_compute).live_migration_force_complete({
    uuid: inst.uuid,
    migration_id: m.id,
    request_id: req.id,
  });
  return reply.code(202).send();
}

export async function abortMigration(svc: ComputeService, req: FastifyRequest<P>, reply: FastifyReply) {
  since(req, '2.24');
  const inst = await serverOf(svc, req, req.params.id);
  authorize(req, 'os_compute_api:servers:migrations:delete', { project_id: inst.project_id });
  if (inst.locked && !isAdmin(req)) throw conflict(`Instance ${inst.uuid} is locked`);
  if (inst.task_state !== 'migrating')
    throw conflict(`Cannot 'abort live migration' instance ${inst.uuid} while it is in task_state ${inst.task_state}`);
  const m = await svc.parts.migrations.get(Number(req.params.mid));
  if (!m || m.instance_uuid !== inst.uuid)
    throw notFound(`Migration ${req.params.mid} not found for instance ${inst.uuid}`);
  const allowedStates = mv(req).gte('2.65') ? ['running', 'queued', 'preparing'] : ['running'];
  if (!allowedStates.includes(m.status))
    throw badRequest(
      `Migration ${m.id} state of instance ${inst.uuid} is ${m.status}. Cannot abort live migration while the migration is in this state.`,
    );
  await recordAction(svc.parts.store, req, inst.uuid, 'live_migration_cancel');
  computeRpc(svc.ctx.bus).cast(m.source_compute).live_migration_abort({
    uuid: inst.uuid,
    migration_id: m.id,
    request_id: req.id,
  });
  return reply.code(202).send();
}

export const migrationsFamily: Family = {
  name: 'migrations',
  migrations: migrationMigrations,
};
