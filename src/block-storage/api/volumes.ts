// /volumes: create, list (summary and detail, Cinder's filters, sorting, pages, with_count),
// show, update, delete, summary, metadata. Each handler: schema → policy → logic → view.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { json } from '../../core/db.ts';
import { ApiError } from '../../core/errors.ts';
import { validate } from '../../core/validate.ts';
import type { BlockStorageService } from '../service.ts';
import type { RawBuilder, SqlBool } from 'kysely';
import { contains, jsonHas } from '../db/paging.ts';
import type { VolumeQuery, VolumeRow, VolumeSortColumn } from '../volumes.ts';
import { volumeTypeIds } from '../groups.ts';
import type { BackupRow } from '../backups.ts';
import { visible as visibleBackup } from './backups.ts';
import {
  type Query,
  at,
  badRequest,
  boolParam,
  LIST_PARAMS,
  pageBody,
  parseDictParam,
  sortKeys,
  timeConditions,
  volumeSummary,
  volumeView,
  markerFound,
  pageParams,
  withCount,
} from './common.ts';
import { metadataHandlers } from './metadata.ts';
import { volumeCreateSchema, volumeUpdateSchema } from './schemas.ts';

type P = { id: string };

export async function viewOne(svc: BlockStorageService, req: FastifyRequest, v: VolumeRow, basic = false) {
  const atts = await svc.parts.volumes.attachments(v.id);
  return volumeView(req, v, atts, await svc.parts.types.get(v.volume_type_id), basic);
}

function sizeOf(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'string' ? (/^\s*\d+\s*$/.test(v) ? Number(v) : Number.NaN) : Number(v);
  if (!Number.isInteger(n) || n <= 0)
    throw badRequest(
      `Invalid input for field/attribute size. Value: ${String(v)}. ${String(v)} is not a valid positive integer`,
    );
  return n;
}

export async function createVolume(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  const body = validate<{ volume: Record<string, unknown> }>(req.body, volumeCreateSchema);
  const b = body.volume;
  const ctx = req.context;
  req.authorize('volume:create', { project_id: ctx.projectId });
  if (b.imageRef ?? b.image_id) req.authorize('volume:create_from_image', { project_id: ctx.projectId });
  // From a backup (3.47): the backup must be available; the volume agent makes a blank volume and
  // the backup agent writes the backup into it (the volume stays `creating` until then).
  let backup: BackupRow | undefined;
  if (b.backup_id !== undefined && b.backup_id !== null) {
    if (!at(req, '3.47'))
      throw badRequest('Invalid input received: Creating a volume from a backup requires microversion 3.47.');
    backup = await visibleBackup(svc, req, String(b.backup_id));
    if (backup.status !== 'available')
      throw badRequest(`Invalid backup: Backup status must be available, but is ${backup.status}.`);
  }
  // A volume in a generic group (3.13): the group must be the caller's, the type one of its types.
  // `consistencygroup_id` (the older consistency group API, on generic groups) at any microversion.
  const groupId =
    at(req, '3.13') && typeof b.group_id === 'string'
      ? b.group_id
      : typeof b.consistencygroup_id === 'string'
        ? b.consistencygroup_id
        : null;
  const group = groupId ? await svc.parts.groups.visible(ctx, groupId) : undefined;
  const v = await svc.parts.api.create(ctx, {
    size: sizeOf(b.size),
    name: (b.name ?? b.display_name ?? null) as string | null,
    description: (b.description ?? b.display_description ?? null) as string | null,
    volumeType: b.volume_type as string | null,
    availabilityZone: b.availability_zone as string | null,
    snapshotId: b.snapshot_id as string | null,
    sourceVolid: b.source_volid as string | null,
    imageRef: (b.imageRef ?? b.image_id ?? null) as string | null,
    metadata: b.metadata as Record<string, string> | undefined,
    multiattach: b.multiattach as boolean | undefined,
    backup,
    groupId: group?.id ?? null,
    groupVolumeTypes: group ? volumeTypeIds(group) : undefined,
  });
  reply.code(202);
  return { volume: await viewOne(svc, req, v, true) };
}

const SORT_KEYS = [
  'id',
  'name',
  'size',
  'status',
  'created_at',
  'updated_at',
  'availability_zone',
  'bootable',
  'display_name',
  'project_id',
  'volume_type',
  'user_id',
];

/**
 * What the query selects, Cinder's filters applied: `sql` narrows the select (every filter, the
 * metadata ones through the JSON columns).
 */
async function query(
  svc: BlockStorageService,
  req: FastifyRequest,
): Promise<{ scope?: string; sql: (q: VolumeQuery) => VolumeQuery }> {
  const q = req.query as Query;
  const ctx = req.context;
  req.authorize('volume:get_all', { project_id: ctx.projectId });
  const admin = ctx.allowed('volume:get_all_admin');
  const all = admin && q.all_tenants !== undefined && boolParam(q.all_tenants, 'all_tenants');
  const scope = all ? undefined : admin && q.project_id && q.all_tenants ? q.project_id : ctx.projectId;
  const wheres: Array<(q: VolumeQuery) => VolumeQuery> = [];
  if (scope) wheres.push((x) => x.where('project_id', '=', scope));
  else if (q.project_id) {
    const p = q.project_id;
    wheres.push((x) => x.where('project_id', '=', p));
  }
  const ignored = new Set([...LIST_PARAMS, 'with_count', 'project_id', 'is_public']);
  for (const [key, raw] of Object.entries(q)) {
    if (raw === undefined || ignored.has(key)) continue;
    const like = key.endsWith('~') && at(req, '3.34');
    const k = like ? key.slice(0, -1) : key;
    const val = String(raw);
    // `name~=x`: the column contains x (Cinder's LIKE '%x%').
    const match = (c: 'name' | 'status' | 'availability_zone' | 'host') =>
      wheres.push((x) => (like ? x.where(contains(c, val) as RawBuilder<SqlBool>) : x.where(c, '=', val)));
    switch (k) {
      case 'name':
      case 'display_name':
        match('name');
        break;
      case 'status':
        match('status');
        break;
      case 'availability_zone':
        match('availability_zone');
        break;
      case 'bootable': {
        const b = boolParam(val, 'bootable') ? 1 : 0;
        wheres.push((x) => x.where('bootable', '=', b));
        break;
      }
      case 'multiattach': {
        const b = boolParam(val, 'multiattach') ? 1 : 0;
        wheres.push((x) => x.where('multiattach', '=', b));
        break;
      }
      case 'metadata':
      case 'glance_metadata':
      case 'image_metadata': {
        // The JSON column's values, in SQL (json_extract / ->>).
        const col = k === 'metadata' ? 'metadata' : 'image_metadata';
        const conds = jsonHas(svc.parts.volumes.db, col, parseDictParam(val, col));
        wheres.push((x) => conds.reduce((y, c) => y.where(c as RawBuilder<SqlBool>), x));
        break;
      }
      case 'volume_type':
      case 'volume_type_id': {
        const ids = [val, ...(await svc.parts.types.list()).filter((t) => t.name === val).map((t) => t.id)];
        wheres.push((x) => x.where('volume_type_id', 'in', ids));
        break;
      }
      case 'created_at':
      case 'updated_at': {
        const conds = timeConditions(val);
        wheres.push((x) => conds.reduce((y, [op, t]) => y.where(k, op, t), x));
        break;
      }
      case 'group_id':
        wheres.push((x) => x.where('group_id', '=', val));
        break;
      case 'id':
        wheres.push((x) => x.where('id', '=', val));
        break;
      case 'size': {
        // A size that is not an integer matches nothing (as comparing its text did).
        const n = /^\d+$/.test(val) ? Number(val) : -1;
        wheres.push((x) => x.where('size', '=', n));
        break;
      }
      case 'host':
        if (admin) match('host');
        break;
      case 'user_id':
        wheres.push((x) => x.where('user_id', '=', val));
        break;
      default:
        // Cinder ignores filters it does not know for non-admins (query_filters), as here.
        break;
    }
  }
  return {
    scope,
    sql: (x) => wheres.reduce((y, w) => w(y), x),
  };
}

/** The column a sort key orders by. */
function sortColumn(k: string): VolumeSortColumn {
  if (k === 'display_name') return 'name';
  if (k === 'volume_type') return 'volume_type_id';
  return k as VolumeSortColumn;
}

async function list(svc: BlockStorageService, req: FastifyRequest, detail: boolean) {
  const q = req.query as Query;
  // GET /volumes/ is a show of the empty id in Cinder: not found.
  if (req.url.split('?')[0]!.endsWith('/')) throw new ApiError(404, 'Volume  could not be found.', 'VolumeNotFound');
  const f = await query(svc, req);
  const keys = sortKeys(q, SORT_KEYS);
  const count = withCount(req);
  // The page in SQL: filters, order, marker (keyset), offset and limit in the query.
  const r = markerFound(
    req,
    await svc.parts.volumes.page({
      filter: f.sql,
      scope: f.scope,
      order: keys.map(([k, d]) => [sortColumn(k), d]),
      ...pageParams(req),
      count,
    }),
  );
  const page = r.rows;
  let views: unknown[];
  if (detail) {
    const atts = await svc.parts.volumes.attachmentsOf(page.map((v) => v.id));
    const types = new Map((await svc.parts.types.list()).map((t) => [t.id, t]));
    views = page.map((v) => volumeView(req, v, atts.get(v.id) ?? [], types.get(v.volume_type_id)));
  } else views = page.map((v) => volumeSummary(req, v));
  return pageBody(req, 'volumes', views, r, { count });
}

/** The volumes the query selects (every one, for the summary). */
async function queryAll(svc: BlockStorageService, req: FastifyRequest): Promise<VolumeRow[]> {
  const f = await query(svc, req);
  return svc.parts.volumes.select(f.sql);
}

export const listVolumes = (svc: BlockStorageService, req: FastifyRequest) => list(svc, req, false);
export const listVolumesDetail = (svc: BlockStorageService, req: FastifyRequest) => list(svc, req, true);

export async function volumesSummary(svc: BlockStorageService, req: FastifyRequest) {
  const rows = await queryAll(svc, req);
  const out: Record<string, unknown> = {
    total_size: rows.reduce((n, v) => n + v.size, 0),
    total_count: rows.length,
  };
  if (at(req, '3.36')) {
    const meta: Record<string, string[]> = {};
    for (const v of rows)
      for (const [k, val] of Object.entries(json<Record<string, string>>(v.metadata, {})))
        if (!(meta[k] ??= []).includes(val)) meta[k].push(val);
    out.metadata = meta;
  }
  return { 'volume-summary': out };
}

export async function showVolume(svc: BlockStorageService, req: FastifyRequest) {
  const { id } = req.params as P;
  const v = await svc.parts.api.visibleVolume(req.context, id);
  req.authorize('volume:get', { project_id: v.project_id });
  return { volume: await viewOne(svc, req, v) };
}

export async function updateVolume(svc: BlockStorageService, req: FastifyRequest) {
  const { id } = req.params as P;
  const body = validate<{ volume: Record<string, unknown> }>(req.body, volumeUpdateSchema);
  const v = await svc.parts.api.visibleVolume(req.context, id);
  req.authorize('volume:update', { project_id: v.project_id });
  const b = body.volume;
  const patch: Record<string, unknown> = {};
  if ('name' in b || 'display_name' in b) patch.name = b.name ?? b.display_name ?? null;
  if ('description' in b || 'display_description' in b)
    patch.description = b.description ?? b.display_description ?? null;
  if (b.metadata) patch.metadata = JSON.stringify(b.metadata);
  await svc.parts.volumes.update(v.id, patch);
  return { volume: await viewOne(svc, req, (await svc.parts.volumes.get(v.id))!, true) };
}

export async function deleteVolume(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  const { id } = req.params as P;
  const q = req.query as Query;
  const v = await svc.parts.api.visibleVolume(req.context, id);
  req.authorize('volume:delete', { project_id: v.project_id });
  const force = q.force !== undefined && boolParam(q.force, 'force');
  if (force) req.authorize('volume:force_delete', { project_id: v.project_id });
  await svc.parts.api.delete(req.context, v, {
    cascade: q.cascade !== undefined && boolParam(q.cascade, 'cascade'),
    force,
  });
  reply.code(202);
  return null;
}

// ---- metadata -------------------------------------------------------------------------------

export const {
  list: listMetadata,
  create: createMetadata,
  replace: replaceMetadata,
  show: showMetadataItem,
  update: updateMetadataItem,
  delete: deleteMetadataItem,
} = metadataHandlers<VolumeRow>({
  async target(svc, req, rule) {
    const v = await svc.parts.api.visibleVolume(req.context, (req.params as P).id);
    req.authorize(rule, { project_id: v.project_id });
    return v;
  },
  rules: {
    get: 'volume:get_volume_metadata',
    create: 'volume:create_volume_metadata',
    update: 'volume:update_volume_metadata',
    delete: 'volume:delete_volume_metadata',
  },
  checkWritable(v) {
    if (v.status === 'maintenance') throw badRequest(`Invalid volume: Volume ${v.id} is in maintenance.`);
  },
  save: (svc, id, metadata) => svc.parts.volumes.update(id, { metadata }),
  notFound: (id, key) =>
    new ApiError(404, `Volume metadata for volume ${id} with key ${key} could not be found.`, 'MetadataNotFound'),
});
