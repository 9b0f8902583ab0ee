// /backups: create (full or incremental, from available or in-use volumes), list and detail,
// show, update (3.9), delete, restore to a new or an existing volume, reset status, force
// delete, export and import of the record.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { bool, json } from '../../core/db.ts';
import { ApiError } from '../../core/errors.ts';
import type { BackupRow } from '../backups.ts';
import { serviceUp } from '../heartbeat.ts';
import { backupRpc } from '../rpcapi.ts';
import type { BlockStorageService } from '../service.ts';
import { eq, pageOf } from '../db/paging.ts';
import {
  type Query,
  at,
  badRequest,
  boolParam,
  isoTime,
  links,
  pageBody,
  sortKeys,
  markerFound,
  pageParams,
  withCount,
} from './common.ts';

type P = { id: string };

function summary(req: FastifyRequest, b: BackupRow) {
  const out: Record<string, unknown> = { id: b.id, name: b.name, links: links(req, b.project_id, 'backups', b.id) };
  return out;
}

async function detail(svc: BlockStorageService, req: FastifyRequest, b: BackupRow) {
  const out: Record<string, unknown> = {
    ...summary(req, b),
    status: b.status,
    size: b.size,
    object_count: b.object_count,
    availability_zone: b.availability_zone,
    container: b.container,
    created_at: isoTime(b.created_at),
    updated_at: isoTime(b.updated_at),
    description: b.description,
    fail_reason: b.fail_reason,
    volume_id: b.volume_id,
    is_incremental: bool(b.is_incremental),
    has_dependent_backups: (await svc.parts.backups.children(b.id)).length > 0,
    snapshot_id: b.snapshot_id,
    data_timestamp: isoTime(b.data_timestamp),
  };
  if (at(req, '3.18') && req.allowed('volume_extension:volume_host_attribute', { project_id: b.project_id }))
    out['os-backup-project-attr:project_id'] = b.project_id;
  if (at(req, '3.43')) out.metadata = json(b.metadata, {});
  if (at(req, '3.56')) out.user_id = b.user_id;
  return out;
}

export async function visible(svc: BlockStorageService, req: FastifyRequest, id = (req.params as P).id) {
  const b = await svc.parts.backups.get(id);
  if (!b || (!req.context.allowed('volume:get_all_admin') && b.project_id !== req.context.projectId))
    throw new ApiError(404, `Backup ${id} could not be found.`, 'BackupNotFound');
  return b;
}

/**
 * The backup service that does the work (cinder's _get_available_backup_service_host): the host
 * that made the backup (`host`) while its service is enabled and up in the zone; else one of the
 * enabled cinder-backup services that are up, in the zone asked (the volume's or the backup's),
 * a different one each time; this process's own agent when none is up and it is not disabled. In
 * the multi-process shape the API process has no backup agent: the `--role backup` processes'
 * rows name the hosts.
 */
async function backupHost(svc: BlockStorageService, zone?: string | null, host?: string | null) {
  const rows = await svc.db.selectFrom('services').selectAll().where('binary', '=', 'cinder-backup').execute();
  const up = rows.filter(
    (s) => !s.disabled && serviceUp(s, svc.options.serviceDownTime) && (!zone || s.availability_zone === zone),
  );
  if (host && up.some((s) => s.host === host)) return host;
  if (up.length) return up[backupTurn++ % up.length]!.host;
  if (svc.parts.backupAgent && !rows.some((s) => s.host === svc.options.host && s.disabled)) return svc.options.host;
  throw new ApiError(503, 'Service cinder-backup could not be found.', 'ServiceNotFound');
}
let backupTurn = 0;

export async function createBackup(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  const body = (req.body ?? {}) as { backup?: Record<string, unknown> };
  const b = body.backup;
  if (!b || typeof b !== 'object') throw badRequest("Missing required element 'backup' in request body.");
  if (typeof b.volume_id !== 'string')
    throw badRequest("Invalid input for field/attribute backup. 'volume_id' is a required property");
  for (const k of ['name', 'description', 'container'] as const)
    if (b[k] !== undefined && b[k] !== null && (typeof b[k] !== 'string' || (b[k] as string).length > 255))
      throw badRequest(`Invalid input for field/attribute ${k}.`);
  const ctx = req.context;
  const v = await svc.parts.api.visibleVolume(ctx, b.volume_id);
  req.authorize('backup:create', { project_id: v.project_id });
  const force = b.force === true || (typeof b.force === 'string' && boolParam(b.force, 'force'));
  const incremental =
    b.incremental === true || (typeof b.incremental === 'string' && boolParam(b.incremental, 'incremental'));
  if (!(v.status === 'available' || (force && v.status === 'in-use')))
    throw badRequest(
      `Invalid volume: Volume to be backed up must be available or in-use, but the current status is "${v.status}".`,
    );
  const parent = incremental ? await svc.parts.backups.latest(v.id, ctx.projectId!) : undefined;
  if (incremental && !parent) throw badRequest('Invalid backup: No backups available to do an incremental backup.');
  const host = await backupHost(svc, v.availability_zone);
  const row = await svc.parts.quotas.lock.run(async () => {
    await svc.parts.quotas.check(ctx.projectId!, { backups: 1, backup_gigabytes: v.size });
    const moved = await svc.parts.volumes.update(
      v.id,
      { status: 'backing-up', previous_status: v.status },
      { status: [v.status] },
    );
    if (!moved) throw badRequest(`Invalid volume: Volume ${v.id} changed status.`);
    return svc.parts.backups.create({
      volume_id: v.id,
      snapshot_id: (b.snapshot_id as string | undefined) ?? null,
      project_id: ctx.projectId!,
      user_id: ctx.userId!,
      name: (b.name as string | undefined) ?? null,
      description: (b.description as string | undefined) ?? null,
      status: 'creating',
      size: v.size,
      container: (b.container as string | undefined) ?? 'volumebackups',
      parent_id: parent?.id ?? null,
      is_incremental: incremental ? 1 : 0,
      availability_zone: v.availability_zone,
      host,
      metadata: JSON.stringify((b.metadata as Record<string, string> | undefined) ?? {}),
    });
  });
  backupRpc(svc.ctx.bus).cast(host, ctx.toRpc()).create_backup({ backup_id: row.id, request_id: ctx.requestId });
  reply.code(202);
  return { backup: { ...summary(req, row), metadata: json(row.metadata, {}) } };
}

const BACKUP_NULLABLE = new Set(['name', 'updated_at']);

async function list(svc: BlockStorageService, req: FastifyRequest, isDetail: boolean) {
  const q = req.query as Query;
  const ctx = req.context;
  req.authorize('backup:get_all', { project_id: ctx.projectId });
  const all =
    ctx.allowed('volume:get_all_admin') && q.all_tenants !== undefined && boolParam(q.all_tenants, 'all_tenants');
  // The filters, the order and the page in SQL.
  const scope = all ? [] : [eq('project_id', ctx.projectId)];
  const where = [...scope];
  for (const k of ['name', 'status', 'volume_id'] as const) if (q[k] !== undefined) where.push(eq(k, q[k]));
  const keys = sortKeys(q, ['id', 'name', 'status', 'created_at', 'updated_at', 'size', 'volume_id']);
  const count = withCount(req);
  const r = markerFound(
    req,
    await pageOf<BackupRow>(svc.parts.volumes.db, 'backups', {
      where,
      markerScope: scope,
      order: keys,
      nullable: BACKUP_NULLABLE,
      ...pageParams(req),
      count,
    }),
  );
  const page = r.rows;
  const views = isDetail ? await Promise.all(page.map((b) => detail(svc, req, b))) : page.map((b) => summary(req, b));
  return pageBody(req, 'backups', views, r, { count });
}

export const listBackups = (svc: BlockStorageService, req: FastifyRequest) => list(svc, req, false);
export const listBackupsDetail = (svc: BlockStorageService, req: FastifyRequest) => list(svc, req, true);

export async function showBackup(svc: BlockStorageService, req: FastifyRequest) {
  const b = await visible(svc, req);
  req.authorize('backup:get', { project_id: b.project_id });
  return { backup: await detail(svc, req, b) };
}

export async function updateBackup(svc: BlockStorageService, req: FastifyRequest) {
  if (!at(req, '3.9')) throw new ApiError(405, 'Method not allowed.');
  const b = await visible(svc, req);
  req.authorize('backup:update', { project_id: b.project_id });
  const u = ((req.body ?? {}) as { backup?: Record<string, unknown> }).backup;
  if (!u || typeof u !== 'object') throw badRequest("Missing required element 'backup' in request body.");
  const patch: Record<string, unknown> = {};
  if ('name' in u) patch.name = u.name;
  if ('description' in u) patch.description = u.description;
  if ('metadata' in u && at(req, '3.43')) patch.metadata = JSON.stringify(u.metadata ?? {});
  await svc.parts.backups.update(b.id, patch);
  const row = (await svc.parts.backups.get(b.id))!;
  return { backup: { ...summary(req, row), metadata: json(row.metadata, {}) } };
}

export async function deleteBackup(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply, force = false) {
  const b = await visible(svc, req);
  req.authorize(force ? 'backup:force_delete' : 'backup:delete', { project_id: b.project_id });
  if (!force && !['available', 'error'].includes(b.status))
    throw badRequest('Invalid backup: Backup status must be available or error');
  if ((await svc.parts.backups.children(b.id)).length)
    throw badRequest('Invalid backup: Incremental backups exist for this backup.');
  const host = await backupHost(svc, b.availability_zone, b.host);
  await svc.parts.backups.update(b.id, { status: 'deleting', host });
  backupRpc(svc.ctx.bus).cast(host, req.context.toRpc()).delete_backup({ backup_id: b.id, request_id: req.id });
  reply.code(202);
  return null;
}

export async function restoreBackup(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  const b = await visible(svc, req);
  req.authorize('backup:restore', { project_id: b.project_id });
  const r = ((req.body ?? {}) as { restore?: { volume_id?: unknown; name?: unknown } }).restore;
  if (!r || typeof r !== 'object') throw badRequest("Missing required element 'restore' in request body.");
  if (b.status !== 'available') throw badRequest('Invalid backup: Backup status must be available');
  const ctx = req.context;
  const host = await backupHost(svc, b.availability_zone, b.host);
  let volumeId = typeof r.volume_id === 'string' ? r.volume_id : undefined;
  if (volumeId) {
    const v = await svc.parts.api.visibleVolume(ctx, volumeId);
    if (v.status !== 'available') throw badRequest(`Invalid volume: Volume to be restored to must be available`);
    if (v.size < b.size)
      throw badRequest(`Invalid volume: volume size ${v.size} is too small to restore backup of size ${b.size}.`);
    if (!(await svc.parts.volumes.update(v.id, { status: 'restoring-backup' }, { status: ['available'] })))
      throw badRequest(`Invalid volume: Volume ${v.id} changed status.`);
  } else {
    // A new volume of the backup's size, made blank by the volume agent, then written by the backup agent.
    const v = await svc.parts.api.create(ctx, {
      size: b.size,
      name: typeof r.name === 'string' ? r.name : `restore_backup_${b.id}`,
      description: null,
      availabilityZone: b.availability_zone,
    });
    volumeId = v.id;
    await waitFor(async () => {
      const now = await svc.parts.volumes.get(v.id);
      if (now?.status === 'error' || !now)
        throw new ApiError(400, 'Invalid volume: the volume to restore to could not be created.');
      return now.status === 'available';
    });
    await svc.parts.volumes.update(v.id, { status: 'restoring-backup' });
  }
  await svc.parts.backups.update(b.id, { status: 'restoring', host });
  backupRpc(svc.ctx.bus)
    .cast(host, ctx.toRpc())
    .restore_backup({ backup_id: b.id, volume_id: volumeId, request_id: req.id });
  const v = (await svc.parts.volumes.get(volumeId))!;
  reply.code(202);
  return { restore: { backup_id: b.id, volume_id: v.id, volume_name: v.name } };
}

async function waitFor(fn: () => Promise<boolean>, ms = 60000) {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new ApiError(503, 'The volume to restore to was not created in time.');
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function backupAction(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  const body = (req.body ?? {}) as Record<string, { status?: unknown }>;
  const key = Object.keys(body)[0];
  if (key === 'os-force_delete') return deleteBackup(svc, req, reply, true);
  if (key !== 'os-reset_status') throw badRequest(`There is no such action: ${key ?? ''}`);
  const b = await visible(svc, req);
  req.authorize('volume_extension:backup_admin_actions:reset_status', { project_id: b.project_id });
  const st = String(body[key]?.status ?? '');
  if (!['available', 'error'].includes(st)) throw badRequest(`Invalid input for field/attribute status. Value: ${st}.`);
  await svc.parts.backups.update(b.id, { status: st });
  reply.code(202);
  return null;
}

export async function exportBackup(svc: BlockStorageService, req: FastifyRequest) {
  const b = await visible(svc, req);
  req.authorize('backup:export-import', { project_id: b.project_id });
  if (b.status !== 'available') throw badRequest('Invalid backup: Backup status must be available and not restoring.');
  return {
    'backup-record': {
      // The driver name Cinder records: ours stores chunks in the object store the way its Swift driver does.
      backup_service: 'cinder.backup.drivers.swift',
      backup_url: Buffer.from(JSON.stringify(b)).toString('base64'),
    },
  };
}

export async function importBackup(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  req.authorize('backup:export-import', { project_id: req.context.projectId });
  const r = ((req.body ?? {}) as { 'backup-record'?: { backup_service?: unknown; backup_url?: unknown } })[
    'backup-record'
  ];
  if (!r || typeof r.backup_url !== 'string' || typeof r.backup_service !== 'string')
    throw badRequest("Incorrect request body format: 'backup-record' needs backup_service and backup_url.");
  let rec: BackupRow;
  try {
    rec = JSON.parse(Buffer.from(r.backup_url, 'base64').toString('utf8')) as BackupRow;
    if (typeof rec.id !== 'string' || typeof rec.chunks !== 'string') throw new Error('bad record');
  } catch {
    throw badRequest('Invalid backup: the backup URL is not a backup record.');
  }
  if (await svc.parts.backups.get(rec.id)) throw badRequest(`Invalid backup: Backup ${rec.id} already exists.`);
  await svc.db.deleteFrom('backups').where('id', '=', rec.id).execute();
  await svc.db
    .insertInto('backups')
    .values({ ...rec, project_id: req.context.projectId!, deleted: 0, status: 'available' })
    .execute();
  reply.code(201);
  return { backup: summary(req, (await svc.parts.backups.get(rec.id))!) };
}
