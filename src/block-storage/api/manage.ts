// Manage and unmanage (admin): /os-volume-manage and /os-snapshot-manage take over storage the
// backend holds that no row names; /manageable_volumes and /manageable_snapshots (3.8) list it;
// the `os-unmanage` actions forget a volume or a snapshot and leave its bytes on the backend.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import { backendOf, volumeRpc } from '../rpcapi.ts';
import type { BlockStorageService } from '../service.ts';
import type { SnapshotRow, VolumeRow } from '../volumes.ts';
import { type Query, at, badRequest, boolParam, snapshotView } from './common.ts';
import type { VolumeAction } from './volume_actions.ts';
import { viewOne } from './volumes.ts';

type Body = Record<string, unknown>;

function member(body: unknown, key: string): Body {
  const o = (body as Body | null | undefined)?.[key];
  if (!o || typeof o !== 'object' || Array.isArray(o))
    throw badRequest(`Missing required element '${key}' in request body.`);
  return o as Body;
}

function refOf(b: Body): Record<string, unknown> {
  const ref = b.ref;
  if (!ref || typeof ref !== 'object' || Array.isArray(ref))
    throw badRequest("Invalid input for field/attribute ref. 'ref' is a required property and must be an object.");
  return ref as Record<string, unknown>;
}

const str = (b: Body, k: string): string | null => {
  const v = b[k];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || v.length > 255) throw badRequest(`Invalid input for field/attribute ${k}.`);
  return v;
};

function metadataOf(b: Body): Record<string, string> | undefined {
  const m = b.metadata;
  if (m === undefined || m === null) return undefined;
  if (typeof m !== 'object' || Array.isArray(m) || Object.values(m).some((x) => typeof x !== 'string'))
    throw badRequest('Invalid input for field/attribute metadata.');
  return m as Record<string, string>;
}

export async function manageVolume(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  const b = member(req.body, 'volume');
  req.authorize('volume_extension:volume_manage', { project_id: req.context.projectId });
  const host = str(b, 'host');
  if (!host) throw badRequest("Missing required element 'host' in request body.");
  let bootable = false;
  if (b.bootable !== undefined)
    bootable = typeof b.bootable === 'boolean' ? b.bootable : boolParam(b.bootable, 'bootable');
  const v = await svc.parts.api.manage(req.context, {
    host,
    ref: refOf(b),
    name: str(b, 'name'),
    description: str(b, 'description'),
    volumeType: str(b, 'volume_type'),
    availabilityZone: str(b, 'availability_zone'),
    metadata: metadataOf(b),
    bootable,
  });
  reply.code(202);
  return { volume: await viewOne(svc, req, v) };
}

export async function manageSnapshot(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  const b = member(req.body, 'snapshot');
  req.authorize('snapshot_extension:snapshot_manage', { project_id: req.context.projectId });
  const volumeId = str(b, 'volume_id');
  if (!volumeId) throw badRequest("Missing required element 'volume_id' in request body.");
  const v = await svc.parts.api.visibleVolume(req.context, volumeId);
  const s = await svc.parts.api.manageSnapshot(req.context, v, {
    ref: refOf(b),
    name: str(b, 'name'),
    description: str(b, 'description'),
    metadata: metadataOf(b),
  });
  reply.code(202);
  return { snapshot: snapshotView(req, s, true) };
}

/** The backend (host@backend) a manageable list asks about: `host` is required. */
async function backendAsked(svc: BlockStorageService, req: FastifyRequest): Promise<string> {
  const q = req.query as Query;
  if (!q.host) throw badRequest("Must specify 'host' or 'cluster'.");
  const backend = backendOf(q.host);
  const service = await svc.db
    .selectFrom('services')
    .select('id')
    .where('binary', '=', 'cinder-volume')
    .where('host', '=', backend)
    .executeTakeFirst();
  if (!service) throw new ApiError(404, `Service host ${q.host} could not be found.`, 'ServiceNotFound');
  return backend;
}

function page<T>(req: FastifyRequest, rows: T[]): T[] {
  const q = req.query as Query;
  const offset = q.offset !== undefined ? Number(q.offset) : 0;
  const limit = q.limit !== undefined ? Number(q.limit) : undefined;
  if (!Number.isInteger(offset) || offset < 0) throw badRequest(`Invalid offset: '${q.offset}'`);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) throw badRequest(`Invalid limit: '${q.limit}'`);
  return rows.slice(offset, limit !== undefined ? offset + limit : undefined);
}

async function listManageable(
  svc: BlockStorageService,
  req: FastifyRequest,
  kind: 'volume' | 'snapshot',
  detail: boolean,
): Promise<unknown> {
  req.authorize(kind === 'volume' ? 'volume_extension:list_manageable' : 'snapshot_extension:list_manageable', {
    project_id: req.context.projectId,
  });
  const backend = await backendAsked(svc, req);
  const found = await volumeRpc(svc.ctx.bus).call(backend, { ctx: req.context.toRpc() }).list_existing({ kind });
  const byLocation = new Map<string, VolumeRow | SnapshotRow>();
  if (kind === 'volume')
    for (const v of await svc.parts.volumes.list())
      if (v.provider_location) byLocation.set(v.provider_location.split('/').pop()!, v);
  const snaps = kind === 'snapshot' ? await svc.parts.volumes.snapshots() : [];
  for (const s of snaps) if (s.provider_location) byLocation.set(s.provider_location.split('/').pop()!, s);
  const out = [];
  for (const f of page(req, found)) {
    const owner = byLocation.get(f.name);
    const row: Record<string, unknown> = { reference: { 'source-name': f.name }, size: f.size, safe_to_manage: !owner };
    if (kind === 'snapshot') {
      const parent = owner && 'volume_id' in owner ? owner.volume_id : null;
      row.source_reference = parent ? { 'source-name': `volume-${parent}` } : {};
    }
    if (detail) {
      row.reason_not_safe = owner ? 'already managed' : null;
      row.cinder_id = owner?.id ?? null;
      row.extra_info = null;
    }
    out.push(row);
  }
  return kind === 'volume' ? { 'manageable-volumes': out } : { 'manageable-snapshots': out };
}

function need38(req: FastifyRequest) {
  if (!at(req, '3.8')) throw new ApiError(404, 'The resource could not be found.');
}

export const listManageableVolumes = async (svc: BlockStorageService, req: FastifyRequest) => {
  need38(req);
  return listManageable(svc, req, 'volume', false);
};
export const listManageableVolumesDetail = async (svc: BlockStorageService, req: FastifyRequest) => {
  need38(req);
  return listManageable(svc, req, 'volume', true);
};
export const listManageableSnapshots = async (svc: BlockStorageService, req: FastifyRequest) => {
  need38(req);
  return listManageable(svc, req, 'snapshot', false);
};
export const listManageableSnapshotsDetail = async (svc: BlockStorageService, req: FastifyRequest) => {
  need38(req);
  return listManageable(svc, req, 'snapshot', true);
};

/** POST /volumes/{id}/action {"os-unmanage": null}. */
export const unmanageVolume: VolumeAction = async (svc, req, v) => {
  req.authorize('volume_extension:volume_unmanage', { project_id: v.project_id });
  await svc.parts.api.delete(req.context, v, { unmanageOnly: true });
  return null;
};

/** POST /snapshots/{id}/action {"os-unmanage": null}. */
export async function unmanageSnapshot(svc: BlockStorageService, req: FastifyRequest, s: SnapshotRow) {
  req.authorize('snapshot_extension:snapshot_unmanage', { project_id: s.project_id });
  await svc.parts.api.deleteSnapshot(req.context, s, false, true);
}
