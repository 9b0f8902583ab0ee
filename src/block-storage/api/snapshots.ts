// /snapshots: create (also of in-use volumes with force, or at 3.66 without), list and detail
// with filters, sorting and pages, show, update, delete, metadata and the snapshot actions.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import { validate } from '../../core/validate.ts';
import type { BlockStorageService } from '../service.ts';
import { eq, jsonHas, pageOf } from '../db/paging.ts';
import type { SnapshotRow } from '../volumes.ts';
import {
  type Query,
  at,
  badRequest,
  boolParam,
  pageBody,
  parseDictParam,
  snapshotView,
  sortKeys,
  markerFound,
  pageParams,
  withCount,
} from './common.ts';
import { unmanageSnapshot } from './manage.ts';
import { metadataHandlers } from './metadata.ts';
import { snapshotCreateSchema, snapshotUpdateSchema } from './schemas.ts';

type P = { id: string };

export async function createSnapshot(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  const body = validate<{ snapshot: Record<string, unknown> }>(req.body, snapshotCreateSchema);
  const b = body.snapshot;
  const ctx = req.context;
  let force = false;
  if (b.force !== undefined) {
    try {
      force = typeof b.force === 'boolean' ? b.force : boolParam(b.force, 'force');
    } catch {
      throw badRequest(`Invalid value '${String(b.force)}' for force.`);
    }
  }
  if (at(req, '3.66') && b.force === false)
    throw badRequest('Invalid input received: The force parameter with value False is no longer supported since 3.66.');
  if (typeof b.volume_id !== 'string') throw new ApiError(404, 'Volume None could not be found.', 'VolumeNotFound');
  const v = await svc.parts.api.visibleVolume(ctx, b.volume_id);
  req.authorize('volume:create_snapshot', { project_id: v.project_id });
  const s = await svc.parts.api.createSnapshot(
    ctx,
    v,
    {
      name: (b.name ?? b.display_name ?? null) as string | null,
      description: (b.description ?? b.display_description ?? null) as string | null,
      force,
      metadata: (b.metadata ?? undefined) as Record<string, string> | undefined,
    },
    at(req, '3.66'),
  );
  reply.code(202);
  return { snapshot: snapshotView(req, s, true) };
}

const SNAPSHOT_SORT = ['id', 'name', 'status', 'created_at', 'updated_at', 'volume_id', 'size', 'display_name'];
const SNAPSHOT_NULLABLE = new Set(['name', 'updated_at']);
/** The column a snapshot sort key orders by. */
const snapshotColumn = (k: string) => (k === 'size' ? 'volume_size' : k === 'display_name' ? 'name' : k);

async function list(svc: BlockStorageService, req: FastifyRequest, detail: boolean) {
  const q = req.query as Query;
  const ctx = req.context;
  req.authorize('volume:get_all_snapshots', { project_id: ctx.projectId });
  const admin = ctx.allowed('volume:get_all_admin');
  const all = admin && q.all_tenants !== undefined && boolParam(q.all_tenants, 'all_tenants');
  const db = svc.parts.volumes.db;
  // The filters, in SQL (metadata through the JSON column).
  const scope = all ? [] : [eq('project_id', ctx.projectId)];
  const where = [...scope];
  if (all && q.project_id) where.push(eq('project_id', q.project_id));
  if (q.name !== undefined) where.push(eq('name', q.name));
  if (q.status !== undefined) where.push(eq('status', q.status));
  if (q.volume_id !== undefined) where.push(eq('volume_id', q.volume_id));
  if (q.metadata !== undefined) where.push(...jsonHas(db, 'metadata', parseDictParam(q.metadata, 'metadata')));
  const keys = sortKeys(q, SNAPSHOT_SORT);
  const count = withCount(req);
  const r = markerFound(
    req,
    await pageOf<SnapshotRow>(db, 'snapshots', {
      where,
      markerScope: scope,
      order: keys.map(([k, d]) => [snapshotColumn(k), d]),
      nullable: SNAPSHOT_NULLABLE,
      ...pageParams(req),
      count,
    }),
  );
  const page = r.rows;
  const views = page.map((s) => {
    const view = snapshotView(req, s);
    if (detail) return view;
    const {
      ['os-extended-snapshot-attributes:project_id']: _p,
      ['os-extended-snapshot-attributes:progress']: _g,
      ...rest
    } = view;
    return rest;
  });
  return pageBody(req, 'snapshots', views, r, { count });
}

export const listSnapshots = (svc: BlockStorageService, req: FastifyRequest) => list(svc, req, false);
export const listSnapshotsDetail = (svc: BlockStorageService, req: FastifyRequest) => list(svc, req, true);

export async function showSnapshot(svc: BlockStorageService, req: FastifyRequest) {
  const s = await svc.parts.api.visibleSnapshot(req.context, (req.params as P).id);
  req.authorize('volume:get_snapshot', { project_id: s.project_id });
  return { snapshot: snapshotView(req, s) };
}

export async function updateSnapshot(svc: BlockStorageService, req: FastifyRequest) {
  const body = validate<{ snapshot: Record<string, unknown> }>(req.body, snapshotUpdateSchema);
  const s = await svc.parts.api.visibleSnapshot(req.context, (req.params as P).id);
  req.authorize('volume:update_snapshot', { project_id: s.project_id });
  const b = body.snapshot;
  const patch: Record<string, unknown> = {};
  if ('name' in b || 'display_name' in b) patch.name = b.name ?? b.display_name ?? null;
  if ('description' in b || 'display_description' in b)
    patch.description = b.description ?? b.display_description ?? null;
  await svc.parts.volumes.updateSnapshot(s.id, patch);
  return { snapshot: snapshotView(req, (await svc.parts.volumes.snapshot(s.id))!, true) };
}

export async function deleteSnapshot(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  const s = await svc.parts.api.visibleSnapshot(req.context, (req.params as P).id);
  req.authorize('volume:delete_snapshot', { project_id: s.project_id });
  await svc.parts.api.deleteSnapshot(req.context, s);
  reply.code(202);
  return null;
}

// ---- metadata -------------------------------------------------------------------------------

export const {
  list: listSnapshotMetadata,
  create: createSnapshotMetadata,
  replace: replaceSnapshotMetadata,
  show: showSnapshotMetadataItem,
  update: updateSnapshotMetadataItem,
  delete: deleteSnapshotMetadataItem,
} = metadataHandlers<SnapshotRow>({
  async target(svc, req, rule) {
    const s = await svc.parts.api.visibleSnapshot(req.context, (req.params as P).id);
    req.authorize(rule, { project_id: s.project_id });
    return s;
  },
  rules: {
    get: 'volume:get_snapshot_metadata',
    create: 'volume:update_snapshot_metadata',
    update: 'volume:update_snapshot_metadata',
    delete: 'volume:delete_snapshot_metadata',
  },
  save: (svc, id, metadata) => svc.parts.volumes.updateSnapshot(id, { metadata }),
  notFound: (id, key) => new ApiError(404, `Snapshot metadata for ${id} with key ${key} could not be found.`),
});

// ---- actions --------------------------------------------------------------------------------

const SNAPSHOT_STATUSES = [
  'creating',
  'available',
  'deleting',
  'error',
  'error_deleting',
  'unmanaging',
  'backing-up',
  'restoring',
];

export async function snapshotAction(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  const body = req.body as Record<string, unknown> | undefined;
  const key = body && typeof body === 'object' ? Object.keys(body)[0] : undefined;
  const s = await svc.parts.api.visibleSnapshot(req.context, (req.params as P).id);
  const arg = (body?.[key ?? ''] ?? {}) as Record<string, unknown>;
  switch (key) {
    case 'os-reset_status': {
      req.authorize('volume_extension:snapshot_admin_actions:reset_status', { project_id: s.project_id });
      const st = String(arg.status ?? '');
      if (!SNAPSHOT_STATUSES.includes(st)) throw badRequest(`Invalid input for field/attribute status. Value: ${st}.`);
      await svc.parts.volumes.updateSnapshot(s.id, { status: st });
      break;
    }
    case 'os-force_delete':
      req.authorize('volume_extension:snapshot_admin_actions:force_delete', { project_id: s.project_id });
      await svc.parts.api.deleteSnapshot(req.context, s, true);
      break;
    case 'os-unmanage':
      await unmanageSnapshot(svc, req, s);
      break;
    case 'os-update_snapshot_status': {
      req.authorize('volume:update_snapshot', { project_id: s.project_id });
      const st = String(arg.status ?? '');
      if (!['available', 'error', 'error_deleting'].includes(st))
        throw badRequest(`Invalid input for field/attribute status. Value: ${st}.`);
      await svc.parts.volumes.updateSnapshot(s.id, {
        status: st,
        ...(arg.progress ? { progress: String(arg.progress) } : {}),
      });
      break;
    }
    default:
      throw badRequest(`There is no such action: ${key ?? ''}`);
  }
  reply.code(202);
  return null;
}
