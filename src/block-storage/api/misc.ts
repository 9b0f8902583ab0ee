// Around volumes: quotas and quota classes, limits, availability zones, os-services,
// scheduler-stats/get_pools, capabilities, user messages (3.3) and the extensions list.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { json } from '../../core/db.ts';
import { ApiError } from '../../core/errors.ts';
import { validate } from '../../core/validate.ts';
import type { BackendStats } from '../drivers/driver.ts';
import type { MessagesTable } from '../db/schema.ts';
import { serviceUp } from '../heartbeat.ts';
import { capabilitiesOk } from '../scheduler/scheduler.ts';
import type { BlockStorageService } from '../service.ts';
import { type Query, at, badRequest, boolParam, isoTime, links } from './common.ts';
import { quotaClassUpdateSchema, quotaUpdateSchema } from './schemas.ts';

// ---- quotas ---------------------------------------------------------------------------------

async function typeNames(svc: BlockStorageService) {
  return (await svc.parts.types.list()).map((t) => t.name);
}

export async function showQuotas(svc: BlockStorageService, req: FastifyRequest) {
  const { project } = req.params as { project: string };
  const q = req.query as Query;
  req.authorize('volume_extension:quotas:show', { project_id: project });
  const limits = await svc.parts.quotas.limits(project, await typeNames(svc));
  const out: Record<string, unknown> = { id: project };
  if (q.usage !== undefined && boolParam(q.usage, 'usage')) {
    const used = await svc.parts.quotas.usage(project);
    for (const [k, l] of Object.entries(limits)) out[k] = { limit: l, in_use: used[k] ?? 0, reserved: 0, allocated: 0 };
  } else Object.assign(out, limits);
  return { quota_set: out };
}

export async function defaultQuotas(svc: BlockStorageService, req: FastifyRequest) {
  const { project } = req.params as { project: string };
  req.authorize('volume_extension:quotas:show', { project_id: project });
  const limits = await svc.parts.quotas.classLimits();
  for (const n of await typeNames(svc))
    for (const r of ['volumes', 'gigabytes', 'snapshots']) limits[`${r}_${n}`] ??= -1;
  return { quota_set: { id: project, ...limits } };
}

function limitValue(k: string, v: unknown): number {
  const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < -1)
    throw badRequest(
      `Invalid input received: Quota limit ${String(v)} for ${k} must be an integer greater than or equal to -1.`,
    );
  return n;
}

export async function updateQuotas(svc: BlockStorageService, req: FastifyRequest) {
  const { project } = req.params as { project: string };
  const body = validate<{ quota_set: Record<string, unknown> }>(req.body, quotaUpdateSchema);
  req.authorize('volume_extension:quotas:update', { project_id: project });
  const known = await svc.parts.quotas.limits(project, await typeNames(svc));
  const used = await svc.parts.quotas.usage(project);
  const set = { ...body.quota_set };
  delete set.tenant_id;
  delete set.id;
  for (const [k, v] of Object.entries(set)) {
    if (!(k in known)) throw badRequest(`Bad key(s) in quota set: ${k}`);
    const n = limitValue(k, v);
    if (n >= 0 && k !== 'per_volume_gigabytes' && (used[k] ?? 0) > n)
      throw badRequest(`Invalid input received: Quota ${k} limit must be equal or greater than existing resources.`);
  }
  for (const [k, v] of Object.entries(set)) await svc.parts.quotas.set(project, k, limitValue(k, v));
  return { quota_set: await svc.parts.quotas.limits(project, await typeNames(svc)) };
}

export async function deleteQuotas(svc: BlockStorageService, req: FastifyRequest) {
  const { project } = req.params as { project: string };
  req.authorize('volume_extension:quotas:delete', { project_id: project });
  await svc.parts.quotas.reset(project);
  return null;
}

export async function showQuotaClass(svc: BlockStorageService, req: FastifyRequest) {
  const { name } = req.params as { name: string };
  req.authorize('volume_extension:quota_classes');
  const limits = await svc.parts.quotas.classLimits(name);
  for (const n of await typeNames(svc))
    for (const r of ['volumes', 'gigabytes', 'snapshots']) limits[`${r}_${n}`] ??= -1;
  return { quota_class_set: { id: name, ...limits } };
}

export async function updateQuotaClass(svc: BlockStorageService, req: FastifyRequest) {
  const { name } = req.params as { name: string };
  const body = validate<{ quota_class_set: Record<string, unknown> }>(req.body, quotaClassUpdateSchema);
  req.authorize('volume_extension:quota_classes:update');
  const known = await svc.parts.quotas.classLimits(name);
  for (const n of await typeNames(svc))
    for (const r of ['volumes', 'gigabytes', 'snapshots']) known[`${r}_${n}`] ??= -1;
  for (const [k, v] of Object.entries(body.quota_class_set)) {
    if (!(k in known)) throw badRequest(`Bad key(s) in quota set: ${k}`);
    await svc.parts.quotas.setClass(name, k, limitValue(k, v));
  }
  const limits = await svc.parts.quotas.classLimits(name);
  for (const n of await typeNames(svc))
    for (const r of ['volumes', 'gigabytes', 'snapshots']) limits[`${r}_${n}`] ??= -1;
  return { quota_class_set: limits };
}

export async function showLimits(svc: BlockStorageService, req: FastifyRequest) {
  const ctx = req.context;
  const q = req.query as Query;
  const project = q.project_id && ctx.allowed('volume:get_all_admin') ? q.project_id : ctx.projectId!;
  req.authorize('limits_extension:used_limits', { project_id: project });
  const l = await svc.parts.quotas.limits(project);
  const u = await svc.parts.quotas.usage(project);
  return {
    limits: {
      rate: [],
      absolute: {
        maxTotalVolumes: l.volumes,
        maxTotalSnapshots: l.snapshots,
        maxTotalVolumeGigabytes: l.gigabytes,
        maxTotalBackups: l.backups,
        maxTotalBackupGigabytes: l.backup_gigabytes,
        totalVolumesUsed: u.volumes ?? 0,
        totalGigabytesUsed: u.gigabytes ?? 0,
        totalSnapshotsUsed: u.snapshots ?? 0,
        totalBackupsUsed: u.backups ?? 0,
        totalBackupGigabytesUsed: u.backup_gigabytes ?? 0,
      },
    },
  };
}

// ---- zones, services, pools, capabilities ---------------------------------------------------

export async function listZones(svc: BlockStorageService, req: FastifyRequest) {
  req.authorize('volume_extension:availability_zone_list');
  const rows = await svc.db.selectFrom('services').selectAll().where('binary', '=', 'cinder-volume').execute();
  const zones = new Map<string, boolean>();
  for (const s of rows)
    zones.set(
      s.availability_zone,
      (zones.get(s.availability_zone) ?? false) || (!s.disabled && serviceUp(s, svc.options.serviceDownTime)),
    );
  if (!zones.size) zones.set(svc.options.availabilityZone, false);
  return { availabilityZoneInfo: [...zones].map(([zoneName, available]) => ({ zoneName, zoneState: { available } })) };
}

function serviceView(
  req: FastifyRequest,
  svc: BlockStorageService,
  s: {
    host: string;
    binary: string;
    availability_zone: string;
    disabled: number;
    disabled_reason: string | null;
    updated_at: string | null;
    created_at: string;
    frozen: number;
  },
) {
  const up = serviceUp({ ...s, id: '', topic: '', report_count: 0, capabilities: null }, svc.options.serviceDownTime);
  const out: Record<string, unknown> = {
    binary: s.binary,
    host: s.host,
    zone: s.availability_zone,
    status: s.disabled ? 'disabled' : 'enabled',
    state: up ? 'up' : 'down',
    updated_at: isoTime(s.updated_at),
    disabled_reason: s.disabled_reason,
  };
  if (s.binary === 'cinder-volume') {
    out.replication_status = 'disabled';
    out.active_backend_id = null;
    out.frozen = !!s.frozen;
  }
  if (at(req, '3.7')) out.cluster = null;
  if (at(req, '3.49') && s.binary === 'cinder-volume') out.backend_state = up ? 'up' : 'down';
  return out;
}

export async function listServices(svc: BlockStorageService, req: FastifyRequest) {
  req.authorize('volume_extension:services:index');
  const q = req.query as Query;
  let rows = await svc.db.selectFrom('services').selectAll().orderBy('binary').orderBy('host').execute();
  if (q.host) rows = rows.filter((s) => s.host === q.host || s.host.split('@')[0] === q.host);
  if (q.binary) rows = rows.filter((s) => s.binary === q.binary);
  return { services: rows.map((s) => serviceView(req, svc, s)) };
}

export async function updateService(svc: BlockStorageService, req: FastifyRequest) {
  req.authorize('volume_extension:services:update');
  const { action } = req.params as { action: string };
  const b = (req.body ?? {}) as { host?: string; binary?: string; disabled_reason?: string };
  if (!['enable', 'disable', 'disable-log-reason', 'freeze', 'thaw'].includes(action))
    throw new ApiError(404, `Unknown action ${action}`);
  if (typeof b.host !== 'string') throw badRequest("Missing required element 'host' in request body.");
  const binary = b.binary ?? 'cinder-volume';
  const row = await svc.db
    .selectFrom('services')
    .selectAll()
    .where('host', '=', b.host)
    .where('binary', '=', binary)
    .executeTakeFirst();
  if (!row && (action === 'freeze' || action === 'thaw'))
    throw badRequest(`Invalid input received: Host ${b.host} is not a volume backend.`);
  if (!row) throw new ApiError(404, `Service ${binary} on host ${b.host} could not be found.`, 'ServiceNotFound');
  const patch: Record<string, unknown> = {};
  if (action === 'enable') Object.assign(patch, { disabled: 0, disabled_reason: null });
  if (action === 'disable') patch.disabled = 1;
  if (action === 'disable-log-reason') {
    if (typeof b.disabled_reason !== 'string' || !b.disabled_reason.trim() || b.disabled_reason.length > 255)
      throw badRequest('Disabled reason contains invalid characters or is too long');
    Object.assign(patch, { disabled: 1, disabled_reason: b.disabled_reason });
  }
  if (action === 'freeze') patch.frozen = 1;
  if (action === 'thaw') patch.frozen = 0;
  await svc.db.updateTable('services').set(patch).where('id', '=', row.id).execute();
  if (action === 'freeze' || action === 'thaw') return null;
  const out: Record<string, unknown> = {
    host: b.host,
    binary,
    status: patch.disabled ? 'disabled' : 'enabled',
    disabled: !!patch.disabled,
  };
  if (action === 'disable-log-reason') out.disabled_reason = b.disabled_reason;
  return out;
}

export async function getPools(svc: BlockStorageService, req: FastifyRequest) {
  req.authorize('scheduler_extension:scheduler_stats:get_pools');
  const q = req.query as Query;
  const detail = q.detail !== undefined && boolParam(q.detail, 'detail');
  let pools = await svc.parts.scheduler.pools();
  if (q.name) pools = pools.filter((p) => p.name === q.name);
  if (q.volume_type) {
    const t = await svc.parts.types.find(q.volume_type);
    if (t) {
      pools = pools.filter((p) => capabilitiesOk(p, json(t.extra_specs, {})));
    }
  }
  return {
    pools: pools.map((p) => {
      if (!detail) return { name: p.name };
      const { pools: _pools, ...backend } = p.stats;
      return { name: p.name, capabilities: { ...backend, ...p.pool, timestamp: isoTime(new Date().toISOString()) } };
    }),
  };
}

export async function showCapabilities(svc: BlockStorageService, req: FastifyRequest) {
  req.authorize('volume_extension:capabilities');
  const { host } = req.params as { host: string };
  const row = await svc.db
    .selectFrom('services')
    .selectAll()
    .where('binary', '=', 'cinder-volume')
    .where('host', '=', host)
    .executeTakeFirst();
  const stats = row ? json<BackendStats | null>(row.capabilities, null) : null;
  if (!stats) throw new ApiError(404, `Service ${host} could not be found.`, 'ServiceNotFound');
  const pool = stats.pools[0];
  return {
    namespace: `OS::Storage::Capabilities::${host}`,
    vendor_name: stats.vendor_name,
    volume_backend_name: stats.volume_backend_name,
    pool_name: pool?.pool_name ?? null,
    driver_version: stats.driver_version,
    storage_protocol: stats.storage_protocol,
    display_name: null,
    description: null,
    visibility: null,
    replication_targets: [],
    properties: {
      thin_provisioning: { title: 'Thin Provisioning', description: 'Sets thin provisioning.', type: 'boolean' },
      compression: { title: 'Compression', description: 'Enables compression.', type: 'boolean' },
      qos: { title: 'QoS', description: 'Enables QoS.', type: 'boolean' },
      replication: { title: 'Replication', description: 'Enables replication.', type: 'boolean' },
    },
  };
}

/** GET /os-hosts: the hosts of the block storage services (cinder's os-hosts index). */
export async function listHosts(svc: BlockStorageService, req: FastifyRequest) {
  req.authorize('volume_extension:hosts');
  const rows = await svc.db.selectFrom('services').selectAll().orderBy('host').execute();
  return {
    hosts: rows.map((s) => ({
      service: s.binary,
      host_name: s.host,
      zone: s.availability_zone,
      'service-status': serviceUp(s, svc.options.serviceDownTime) ? 'available' : 'unavailable',
      'service-state': s.disabled ? 'disabled' : 'enabled',
      'last-update': isoTime(s.updated_at),
    })),
  };
}

/** GET /os-hosts/{host}: what each project has on a volume host (cinder's os-hosts show). */
export async function showHost(svc: BlockStorageService, req: FastifyRequest) {
  req.authorize('volume_extension:hosts');
  const { host } = req.params as { host: string };
  const svcRow = await svc.db.selectFrom('services').selectAll().where('host', '=', host).executeTakeFirst();
  if (!svcRow) throw new ApiError(404, `Host ${host} could not be found.`, 'HostNotFound');
  const vols = (await svc.parts.volumes.list()).filter((v) => v.host?.split('#')[0] === host);
  const snaps = await svc.parts.volumes.snapshots();
  const byProject = new Map<string, { vc: number; vg: number; sc: number; sg: number }>();
  for (const v of vols) {
    const p = byProject.get(v.project_id) ?? { vc: 0, vg: 0, sc: 0, sg: 0 };
    p.vc++;
    p.vg += v.size;
    for (const s of snaps.filter((x) => x.volume_id === v.id)) {
      p.sc++;
      p.sg += s.volume_size;
    }
    byProject.set(v.project_id, p);
  }
  const total = [...byProject.values()].reduce(
    (t, p) => ({ vc: t.vc + p.vc, vg: t.vg + p.vg, sc: t.sc + p.sc, sg: t.sg + p.sg }),
    { vc: 0, vg: 0, sc: 0, sg: 0 },
  );
  const row = (project: string, p: { vc: number; vg: number; sc: number; sg: number }) => ({
    resource: {
      volume_count: String(p.vc),
      total_volume_gb: String(p.vg),
      total_snapshot_gb: String(p.sg),
      project,
      host,
      snapshot_count: String(p.sc),
    },
  });
  return { host: [row('(total)', total), ...[...byProject].map(([p, r]) => row(p, r))] };
}

// ---- messages (3.3) -------------------------------------------------------------------------

function messageView(req: FastifyRequest, m: MessagesTable) {
  return {
    id: m.id,
    message_level: m.message_level,
    event_id: m.event_id,
    user_message: m.user_message,
    resource_type: m.resource_type,
    resource_uuid: m.resource_uuid,
    request_id: m.request_id,
    created_at: isoTime(m.created_at),
    guaranteed_until: isoTime(m.expires_at),
    links: links(req, m.project_id, 'messages', m.id),
  };
}

function needs33(req: FastifyRequest) {
  if (!at(req, '3.3')) throw new ApiError(404, 'The resource could not be found.');
}

export async function listMessages(svc: BlockStorageService, req: FastifyRequest) {
  needs33(req);
  req.authorize('message:get_all', { project_id: req.context.projectId });
  const admin = req.context.allowed('volume:get_all_admin');
  const q = req.query as Query;
  let rows = await svc.parts.messages.list(admin && q.all_tenants ? undefined : req.context.projectId);
  for (const k of ['resource_uuid', 'resource_type', 'event_id', 'request_id', 'message_level'] as const)
    if (q[k] !== undefined) rows = rows.filter((m) => m[k] === q[k]);
  return { messages: rows.map((m) => messageView(req, m)) };
}

async function visibleMessage(svc: BlockStorageService, req: FastifyRequest) {
  const { id } = req.params as { id: string };
  const m = await svc.parts.messages.get(id);
  if (!m || (!req.context.allowed('volume:get_all_admin') && m.project_id !== req.context.projectId))
    throw new ApiError(404, `Message ${id} could not be found.`, 'MessageNotFound');
  return m;
}

export async function showMessage(svc: BlockStorageService, req: FastifyRequest) {
  needs33(req);
  const m = await visibleMessage(svc, req);
  req.authorize('message:get', { project_id: m.project_id });
  return { message: messageView(req, m) };
}

export async function deleteMessage(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  needs33(req);
  const m = await visibleMessage(svc, req);
  req.authorize('message:delete', { project_id: m.project_id });
  await svc.parts.messages.delete(m.id);
  reply.code(204);
  return null;
}

// ---- extensions -----------------------------------------------------------------------------

const EXTENSIONS = [
  ['AvailabilityZones', 'os-availability-zone', 'Describe Availability Zones.'],
  ['Qos_specs_manage', 'qos-specs', 'QoS specs support.'],
  ['Quotas', 'os-quota-sets', 'Quota management support.'],
  ['QuotaClasses', 'os-quota-class-sets', 'Quota classes management support.'],
  ['Services', 'os-services', 'Services support.'],
  ['Types_extra_specs', 'os-types-extra-specs', 'Type extra specs support.'],
  ['Types_manage', 'os-types-manage', 'Types manage support.'],
  ['TypeAccess', 'os-volume-type-access', 'Volume type access support.'],
  ['VolumeActions', 'os-volume-actions', 'Enable volume actions.'],
  ['AdminActions', 'os-admin-actions', 'Enable admin actions.'],
  ['VolumeHostAttribute', 'os-vol-host-attr', 'Expose host as an attribute of a volume.'],
  ['VolumeTenantAttribute', 'os-vol-tenant-attr', 'Expose the internal project_id as an attribute of a volume.'],
  ['VolumeMigStatusAttribute', 'os-vol-mig-status-attr', 'Expose migration_status as an attribute of a volume.'],
  ['VolumeImageMetadata', 'os-vol-image-meta', 'Show image metadata associated with the volume.'],
  ['ExtendedSnapshotAttributes', 'os-extended-snapshot-attributes', 'Extended SnapshotAttributes support.'],
  ['SchedulerStats', 'scheduler-stats', 'Scheduler stats support.'],
  ['Capabilities', 'capabilities', 'Capabilities support.'],
  ['Consistencygroups', 'consistencygroups', 'consistency groups support.'],
  ['Cgsnapshots', 'cgsnapshots', 'cgsnapshots support.'],
  ['UsedLimits', 'os-used-limits', 'Provide data on limited resources that are being used.'],
  ['SnapshotActions', 'os-snapshot-actions', 'Enable snapshot manager actions.'],
  ['Hosts', 'os-hosts', 'Admin-only host administration.'],
];

export async function listExtensions(_svc: BlockStorageService, req: FastifyRequest) {
  req.authorize('volume_extension:availability_zone_list');
  return {
    extensions: EXTENSIONS.map(([name, alias, description]) => ({
      alias,
      description,
      links: [],
      name,
      updated: '2013-01-01T00:00:00+00:00',
    })),
  };
}
