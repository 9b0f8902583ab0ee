// Compute services (nova.objects.Service, nova.servicegroup's DB driver, nova.compute.api's
// HostAPI): the services the agents and workers register in the servers family's `services`
// table, whether one is up (a recent heartbeat, not forced down), its zone, enable/disable and
// forced_down, and deleting one with what it leaves behind (aggregate membership, compute nodes
// and their placement providers). The os-services and os-hosts handlers (api/services.ts) call
// these; nothing here sees the HTTP request.
import type { Kysely, Selectable } from 'kysely';
import type { ComputeDb, ServicesTable } from './db/schema.ts';
import type { ComputeOptions } from './config.ts';
import type { AggregateStore } from './aggregates.ts';
import type { PlacementClient } from '../core/clients/placement.ts';
import type { Logger } from '../core/log.ts';
import { now } from '../core/db.ts';
import { ApiError } from '../core/errors.ts';

const badRequest = (m: string) => new ApiError(400, m);
const notFound = (m: string) => new ApiError(404, m);
const conflict = (m: string) => new ApiError(409, m);

/** What these functions use of the compute service (ComputeService is one). */
export interface ComputeServiceDeps {
  db: Kysely<ComputeDb>;
  options: Pick<ComputeOptions, 'serviceDownTime' | 'defaultAvailabilityZone'>;
  parts: { aggregates: AggregateStore; clients: { placement: Pick<PlacementClient, 'deleteProvider'> } };
  ctx: { log: Logger };
}
type ComputeService = ComputeServiceDeps;

/** Nova's internal_service_availability_zone: where services other than nova-compute are shown. */
export const INTERNAL_ZONE = 'internal';

export interface ServiceRow {
  id: number;
  uuid: string;
  host: string;
  binary: string;
  topic: string | null;
  disabled: boolean;
  disabled_reason: string | null;
  forced_down: boolean;
  report_count: number;
  last_seen_up: string | null;
  created_at: string;
  updated_at: string | null;
}

/** The columns an update may set (as the services table stores them). */
export interface ServiceChanges {
  disabled?: 0 | 1;
  disabled_reason?: string | null;
  forced_down?: 0 | 1;
}

const toService = (r: Selectable<ServicesTable>): ServiceRow => ({
  id: Number(r.id),
  uuid: r.uuid,
  host: r.host,
  binary: r.binary,
  topic: r.topic ?? null,
  disabled: !!Number(r.disabled),
  disabled_reason: r.disabled_reason ?? null,
  forced_down: !!Number(r.forced_down),
  report_count: Number(r.report_count),
  last_seen_up: r.last_seen_up ?? null,
  created_at: r.created_at,
  updated_at: r.updated_at ?? null,
});

export async function listServices(svc: ComputeService): Promise<ServiceRow[]> {
  return (await svc.db.selectFrom('services').selectAll().where('deleted', '=', 0).orderBy('id').execute()).map(
    toService,
  );
}

/** A service by its uuid (2.53 and later) or its integer id; undefined when there is none. */
export async function findService(svc: ComputeService, key: { uuid: string } | { id: number }) {
  let q = svc.db.selectFrom('services').selectAll().where('deleted', '=', 0);
  q = 'uuid' in key ? q.where('uuid', '=', key.uuid) : q.where('id', '=', key.id);
  const row = await q.executeTakeFirst();
  return row ? toService(row) : undefined;
}

/** The DB servicegroup driver's is_up: a recent heartbeat, and not forced down. */
export function serviceIsUp(svc: ComputeService, s: ServiceRow): boolean {
  if (s.forced_down) return false;
  const last = s.last_seen_up ?? s.updated_at ?? s.created_at;
  return Date.now() - Date.parse(last) <= svc.options.serviceDownTime * 1000;
}

/** The zone a service is shown in: its aggregates' zone (compute) or the internal zone. */
export function serviceZone(svc: ComputeService, s: ServiceRow, zones: Map<string, string>): string {
  if (s.binary !== 'nova-compute') return INTERNAL_ZONE;
  return zones.get(s.host) ?? svc.options.defaultAvailabilityZone;
}

/** Only nova-compute services may be updated (Nova's HostAPI.service_update). */
export function assertUpdatable(binary: string): void {
  if (binary !== 'nova-compute')
    throw badRequest(`Updating a ${binary} service is not supported. Only nova-compute services can be updated.`);
}

/** Changes the service of `binary` on `host` (the pre-2.53 PUT /os-services/{action}); 404 when there is none. */
export async function updateServiceByHost(
  svc: ComputeService,
  host: string,
  binary: string,
  changes: ServiceChanges,
): Promise<void> {
  assertUpdatable(binary);
  const r = await svc.db
    .updateTable('services')
    .set({ ...changes, updated_at: now() })
    .where('host', '=', host)
    .where('binary', '=', binary)
    .where('deleted', '=', 0)
    .executeTakeFirst();
  if (Number(r.numUpdatedRows)) return;
  const anyHost = await svc.db
    .selectFrom('services')
    .select('id')
    .where('host', '=', host)
    .where('deleted', '=', 0)
    .executeTakeFirst();
  throw notFound(
    anyHost ? `Could not find binary ${binary} on host ${host}.` : `Host '${host}' is not mapped to any cell`,
  );
}

/** Changes a service (when there is anything to change) and answers it as it now is. */
export async function updateService(svc: ComputeService, s: ServiceRow, changes: ServiceChanges): Promise<ServiceRow> {
  if (Object.keys(changes).length)
    await svc.db
      .updateTable('services')
      .set({ ...changes, updated_at: now() })
      .where('id', '=', s.id)
      .execute();
  return toService(await svc.db.selectFrom('services').selectAll().where('id', '=', s.id).executeTakeFirstOrThrow());
}

/**
 * Deletes a service (Nova's HostAPI.service_delete): a compute service only when it hosts no
 * server, and then its host leaves its aggregates and its compute nodes go, with their
 * resource providers in placement.
 */
export async function deleteService(svc: ComputeService, s: ServiceRow): Promise<void> {
  if (s.binary === 'nova-compute') {
    const n = await svc.db
      .selectFrom('instances')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('host', '=', s.host)
      .where('deleted', '=', 0)
      .executeTakeFirst()
      .catch(() => ({ n: 0 }));
    if (Number(n?.n ?? 0))
      throw conflict(
        'Unable to delete compute service that is hosting instances. Migrate or delete the instances first.',
      );
    const aggregates = svc.parts.aggregates;
    for (const a of await aggregates.all()) if (a.hosts.includes(s.host)) await aggregates.removeHost(a.id, s.host);
    const nodes = await svc.db
      .selectFrom('compute_nodes')
      .select(['id', 'uuid'])
      .where('host', '=', s.host)
      .where('deleted', '=', 0)
      .execute();
    for (const node of nodes) {
      await svc.db
        .updateTable('compute_nodes')
        .set({ deleted: 1, updated_at: now() })
        .where('id', '=', node.id)
        .execute();
      try {
        await svc.parts.clients.placement.deleteProvider(node.uuid);
      } catch (e) {
        svc.ctx.log.warn({ err: e, node: node.uuid }, 'could not delete the compute node provider');
      }
    }
  }
  await svc.db.updateTable('services').set({ deleted: 1, updated_at: now() }).where('id', '=', s.id).execute();
}

// ---- hosts (os-hosts, deprecated at 2.43): the same services seen by host ----------------

/** The compute service of a host, or Nova's 404 for a host no cell knows. */
export async function computeServiceOf(svc: ComputeService, host: string): Promise<ServiceRow> {
  const s = (await listServices(svc)).find((x) => x.host === host && x.binary === 'nova-compute');
  if (!s) throw notFound(`Host '${host}' is not mapped to any cell`);
  return s;
}

export interface HostResources {
  cpu: number;
  memory_mb: number;
  disk_gb: number;
}

/** A host's resources (Nova's HostController.show): its node's totals and use, and its servers' sizes per project. */
export async function hostResources(
  svc: ComputeService,
  host: string,
): Promise<{
  total: HostResources;
  usedNow: HostResources;
  usedMax: HostResources;
  byProject: Map<string, HostResources>;
}> {
  const node = await svc.db
    .selectFrom('compute_nodes')
    .selectAll()
    .where('host', '=', host)
    .where('deleted', '=', 0)
    .orderBy('id')
    .executeTakeFirst();
  if (!node) throw notFound(`Compute host ${host} could not be found.`);
  // Per project, summed over the instances' flavor-size columns.
  const rows = await svc.db
    .selectFrom('instances')
    .select((eb) => [
      'project_id',
      eb.fn.sum('vcpus').as('cpu'),
      eb.fn.sum('memory_mb').as('memory_mb'),
      eb.fn.sum(eb('root_gb', '+', eb.ref('ephemeral_gb'))).as('disk_gb'),
    ])
    .where('host', '=', host)
    .where('deleted', '=', 0)
    .groupBy('project_id')
    .execute()
    .catch(() => []);
  const byProject = new Map(
    rows.map((r) => [
      r.project_id,
      { cpu: Number(r.cpu ?? 0), memory_mb: Number(r.memory_mb ?? 0), disk_gb: Number(r.disk_gb ?? 0) },
    ]),
  );
  const usedMax = { cpu: 0, memory_mb: 0, disk_gb: 0 };
  for (const p of byProject.values()) {
    usedMax.cpu += p.cpu;
    usedMax.memory_mb += p.memory_mb;
    usedMax.disk_gb += p.disk_gb;
  }
  return {
    total: { cpu: Number(node.vcpus), memory_mb: Number(node.memory_mb), disk_gb: Number(node.local_gb) },
    usedNow: {
      cpu: Number(node.vcpus_used),
      memory_mb: Number(node.memory_mb_used),
      disk_gb: Number(node.local_gb_used),
    },
    usedMax,
    byProject,
  };
}
