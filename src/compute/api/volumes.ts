// The volume proxies, up to 2.35 (nova.api.openstack.compute.volumes and snapshots):
// /os-volumes and /os-snapshots list, show, create and delete volumes and snapshots in the
// volume service with the caller's token, in Nova's old camelCase views (displayName,
// availabilityZone, attachments [{}] when there is none). From 2.36 they are gone (404).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ComputeService } from '../service.ts';
import type { SnapshotRecord, VolumeRecord } from '../../core/clients/block-storage.ts';
import type { RestAnswer } from '../../core/clients/rest.ts';
import { ApiError } from '../../core/errors.ts';
import { cinderMessage, volumeFailure } from '../volumes.ts';
import { asCaller, authorize, badRequest, forbidden, notFound, queryOf, validateBody } from './common.ts';
import { MAX_PROXY, upTo } from './neutron_proxy.ts';
import { BOOLEAN, isTruthy } from './schemas/parameter_types.ts';

const POLICY = (a: string) => `os_compute_api:os-volumes:${a}`;

const CREATE_VOLUME = {
  type: 'object',
  properties: {
    volume: {
      type: 'object',
      properties: {
        volume_type: { type: 'string' },
        metadata: { type: 'object', properties: {}, additionalProperties: true },
        snapshot_id: { type: 'string' },
        size: { type: ['integer', 'string'], pattern: '^[0-9]+$', minimum: 1 },
        availability_zone: { type: 'string' },
        display_name: { type: 'string' },
        display_description: { type: 'string' },
      },
      required: ['size'],
      additionalProperties: false,
    },
  },
  required: ['volume'],
  additionalProperties: false,
};
interface CreateVolumeBody {
  volume: {
    volume_type?: string;
    metadata?: Record<string, unknown>;
    snapshot_id?: string;
    size: number | string;
    availability_zone?: string;
    display_name?: string;
    display_description?: string;
  };
}

const CREATE_SNAPSHOT = {
  type: 'object',
  properties: {
    snapshot: {
      type: 'object',
      properties: {
        volume_id: { type: 'string' },
        force: BOOLEAN,
        display_name: { type: 'string' },
        display_description: { type: 'string' },
      },
      required: ['volume_id'],
      additionalProperties: false,
    },
  },
  required: ['snapshot'],
  additionalProperties: false,
};
interface CreateSnapshotBody {
  snapshot: { volume_id: string; force?: boolean | string; display_name?: string; display_description?: string };
}

/** _translate_volume_summary_view (the detail view is the same). */
function volumeView(v: VolumeRecord) {
  const first = (v.attachments ?? [])[0];
  const attachment: Record<string, unknown> = {};
  if (first?.server_id) {
    attachment.id = v.id;
    attachment.volumeId = v.id;
    attachment.serverId = first.server_id;
    if (first.device) attachment.device = first.device;
  }
  return {
    id: v.id,
    status: v.status,
    size: v.size,
    availabilityZone: v.availability_zone ?? null,
    createdAt: v.created_at ?? null,
    attachments: [attachment],
    displayName: v.name ?? null,
    displayDescription: v.description ?? null,
    volumeType: v.volume_type ?? null,
    snapshotId: v.snapshot_id ?? null,
    metadata: v.metadata ?? {},
  };
}

function snapshotView(s: SnapshotRecord) {
  return {
    id: s.id,
    volumeId: s.volume_id,
    status: s.status,
    size: s.size,
    createdAt: s.created_at ?? null,
    displayName: s.name ?? null,
    displayDescription: s.description ?? null,
  };
}

/** common.limited: `offset` and `limit` (at most 1000) of a whole list. */
function limited<T>(req: FastifyRequest, items: T[]): T[] {
  const q = queryOf(req);
  const num = (k: string, dflt: number) => {
    const raw = q.get(k);
    if (raw === null) return dflt;
    if (!/^[0-9]+$/.test(raw)) throw badRequest(`${k} param must be an integer`);
    return Number(raw);
  };
  const offset = num('offset', 0);
  const limit = Math.min(num('limit', 1000), 1000);
  return items.slice(offset, offset + limit);
}

/** A refusal of the volume service as Nova maps it (404 stays 404, a quota is 403, the rest 400). */
function refused(r: RestAnswer<unknown>, what: string): ApiError {
  if (r.status >= 500) return volumeFailure(r, what);
  if (r.status === 404) return notFound(cinderMessage(r));
  if (r.status === 413 || r.status === 403) return forbidden(cinderMessage(r));
  return badRequest(cinderMessage(r));
}

type Id = { Params: { id: string } };
const client = (svc: ComputeService) => svc.parts.clients.blockStorage;

/** `/os-volumes/` (an empty id) is no list: Nova's router answers 404. */
function noEmptyId(req: FastifyRequest) {
  if (req.url.split('?')[0]!.endsWith('/')) {
    req.authorized = true;
    throw notFound('The resource could not be found.');
  }
}

export async function listVolumes(svc: ComputeService, req: FastifyRequest, detail: boolean) {
  upTo(req, MAX_PROXY);
  noEmptyId(req);
  authorize(req, POLICY(detail ? 'detail' : 'list'), { project_id: req.ctx!.projectId });
  const r = await client(svc).listVolumes(true, {}, asCaller(req));
  if (r.status !== 200) throw refused(r, 'listing volumes');
  return { volumes: limited(req, r.body.volumes).map(volumeView) };
}

export async function showVolume(svc: ComputeService, req: FastifyRequest<Id>) {
  upTo(req, MAX_PROXY);
  authorize(req, POLICY('show'), { project_id: req.ctx!.projectId });
  const r = await client(svc).getVolume(req.params.id, asCaller(req));
  if (r.status === 404 || r.status === 400) throw notFound(`Volume ${req.params.id} could not be found.`);
  if (r.status !== 200) throw refused(r, `reading volume ${req.params.id}`);
  return { volume: volumeView(r.body.volume) };
}

export async function createVolume(svc: ComputeService, req: FastifyRequest, reply: FastifyReply) {
  upTo(req, MAX_PROXY);
  const body = validateBody<CreateVolumeBody>(req, CREATE_VOLUME).volume;
  authorize(req, POLICY('create'), { project_id: req.ctx!.projectId });
  const caller = asCaller(req);
  let size: number | undefined = body.size === undefined ? undefined : Number(body.size);
  if (body.snapshot_id !== undefined) {
    const s = await client(svc).getSnapshot(body.snapshot_id, caller);
    if (s.status === 404 || s.status === 400) throw notFound(`Snapshot ${body.snapshot_id} could not be found.`);
    if (s.status !== 200) throw refused(s, `reading snapshot ${body.snapshot_id}`);
    size ??= s.body.snapshot.size;
  }
  const volume: Record<string, unknown> = { size };
  if (body.display_name !== undefined) volume.name = body.display_name;
  if (body.display_description !== undefined) volume.description = body.display_description;
  if (body.volume_type !== undefined) volume.volume_type = body.volume_type;
  if (body.metadata !== undefined) volume.metadata = body.metadata;
  if (body.availability_zone !== undefined) volume.availability_zone = body.availability_zone;
  if (body.snapshot_id !== undefined) volume.snapshot_id = body.snapshot_id;
  const r = await client(svc).createVolume(volume, caller);
  if (r.status !== 202 && r.status !== 200) throw refused(r, 'creating a volume');
  reply.header('Location', `${req.baseUrl}/v2.1/os-volumes/${r.body.volume.id}`);
  return { volume: volumeView(r.body.volume) };
}

export async function deleteVolume(svc: ComputeService, req: FastifyRequest<Id>, reply: FastifyReply) {
  upTo(req, MAX_PROXY);
  authorize(req, POLICY('delete'), { project_id: req.ctx!.projectId });
  const r = await client(svc).deleteVolume(req.params.id, asCaller(req));
  if (r.status === 404) throw notFound(`Volume ${req.params.id} could not be found.`);
  if (r.status >= 300) throw refused(r, `deleting volume ${req.params.id}`);
  return reply.code(202).send();
}

export async function listSnapshots(svc: ComputeService, req: FastifyRequest, detail: boolean) {
  upTo(req, MAX_PROXY);
  noEmptyId(req);
  authorize(req, POLICY(detail ? 'snapshots:detail' : 'snapshots:list'), { project_id: req.ctx!.projectId });
  const r = await client(svc).listSnapshots(true, {}, asCaller(req));
  if (r.status !== 200) throw refused(r, 'listing snapshots');
  return { snapshots: limited(req, r.body.snapshots).map(snapshotView) };
}

export async function showSnapshot(svc: ComputeService, req: FastifyRequest<Id>) {
  upTo(req, MAX_PROXY);
  authorize(req, POLICY('snapshots:show'), { project_id: req.ctx!.projectId });
  const r = await client(svc).getSnapshot(req.params.id, asCaller(req));
  if (r.status === 404 || r.status === 400) throw notFound(`Snapshot ${req.params.id} could not be found.`);
  if (r.status !== 200) throw refused(r, `reading snapshot ${req.params.id}`);
  return { snapshot: snapshotView(r.body.snapshot) };
}

export async function createSnapshot(svc: ComputeService, req: FastifyRequest) {
  upTo(req, MAX_PROXY);
  const body = validateBody<CreateSnapshotBody>(req, CREATE_SNAPSHOT).snapshot;
  authorize(req, POLICY('snapshots:create'), { project_id: req.ctx!.projectId });
  const snapshot: Record<string, unknown> = {
    volume_id: body.volume_id,
    force: body.force !== undefined && isTruthy(body.force),
  };
  if (body.display_name !== undefined) snapshot.name = body.display_name;
  if (body.display_description !== undefined) snapshot.description = body.display_description;
  const r = await client(svc).createSnapshot(snapshot, asCaller(req));
  if (r.status !== 202 && r.status !== 200) throw refused(r, 'creating a snapshot');
  return { snapshot: snapshotView(r.body.snapshot) };
}

export async function deleteSnapshot(svc: ComputeService, req: FastifyRequest<Id>, reply: FastifyReply) {
  upTo(req, MAX_PROXY);
  authorize(req, POLICY('snapshots:delete'), { project_id: req.ctx!.projectId });
  const r = await client(svc).deleteSnapshot(req.params.id, asCaller(req));
  if (r.status === 404) throw notFound(`Snapshot ${req.params.id} could not be found.`);
  if (r.status >= 300) throw refused(r, `deleting snapshot ${req.params.id}`);
  return reply.code(202).send();
}
