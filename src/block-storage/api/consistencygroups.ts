// /consistencygroups and /cgsnapshots: the consistency group API Zed's Cinder still answers on
// top of generic groups (cinder/api/contrib/consistencygroups.py, cgsnapshots.py): a
// consistency group is a generic group of the `default_cgsnapshot_type` group type (made when
// first needed, with `consistent_group_snapshot_enabled: <is> True`, as Cinder's migration
// makes it), a cgsnapshot a group snapshot. The group policies apply, as in Zed.
import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import type { GroupRow, GroupSnapshotRow } from '../groups.ts';
import { volumeTypeIds } from '../groups.ts';
import type { BlockStorageService } from '../service.ts';
import { badRequest, isoTime, pageNumbers, type Query } from './common.ts';

type P = { id: string };
type Body = Record<string, unknown>;

export const DEFAULT_CGSNAPSHOT_TYPE = 'default_cgsnapshot_type';

function member(body: unknown, key: string): Body {
  const o = (body as Body | null | undefined)?.[key];
  if (!o || typeof o !== 'object' || Array.isArray(o)) throw badRequest('Incorrect request body format.');
  return o as Body;
}

function str(b: Body, key: string): string | null {
  const v = b[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || v.length > 255)
    throw badRequest(`Invalid input for field/attribute ${key}. Value: ${String(v)}.`);
  return v;
}

/** The group type of consistency groups (Cinder's migration makes it; here the first use). */
async function cgType(svc: BlockStorageService): Promise<string> {
  const db = svc.parts.groups.store.db;
  const find = () =>
    db.selectFrom('group_types').select('id').where('name', '=', DEFAULT_CGSNAPSHOT_TYPE).executeTakeFirst();
  const have = await find();
  if (have) return have.id;
  await svc.parts.quotas.lock.run(async () => {
    if (await find()) return;
    await db
      .insertInto('group_types')
      .values({
        id: randomUUID(),
        name: DEFAULT_CGSNAPSHOT_TYPE,
        description: 'Default group type for migrating cgsnapshot',
        is_public: 1,
        group_specs: JSON.stringify({ consistent_group_snapshot_enabled: '<is> True' }),
        created_at: new Date().toISOString(),
        updated_at: null,
      })
      .execute();
  });
  return (await find())!.id;
}

/** A consistency group's detail: the fields of a generic group's detail (groups.ts) that it has. */
export const cgDetail = (g: GroupRow) => ({
  id: g.id,
  status: g.status,
  availability_zone: g.availability_zone,
  created_at: isoTime(g.created_at),
  name: g.name,
  description: g.description,
  volume_types: volumeTypeIds(g),
});

const cgsnapshotDetail = (s: GroupSnapshotRow) => ({
  id: s.id,
  consistencygroup_id: s.group_id,
  status: s.status,
  created_at: isoTime(s.created_at),
  name: s.name,
  description: s.description,
});

/** A page of a list (`limit`, `offset`, `marker`), as common.limited does. */
function limited<T extends { id: string }>(req: FastifyRequest, rows: T[]): T[] {
  const q = req.query as Query;
  const { offset, limit } = pageNumbers(q);
  let out = rows;
  if (q.marker) {
    const i = out.findIndex((r) => r.id === q.marker);
    if (i < 0) throw badRequest(`marker [${q.marker}] not found`);
    out = out.slice(i + 1);
  }
  out = out.slice(offset ?? 0);
  return limit === undefined ? out : out.slice(0, limit);
}

async function visibleCg(svc: BlockStorageService, req: FastifyRequest, id: string): Promise<GroupRow> {
  try {
    return await svc.parts.groups.visible(req.context, id);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404)
      throw new ApiError(404, `ConsistencyGroup ${id} could not be found.`, 'ConsistencyGroupNotFound');
    throw e;
  }
}

async function visibleCgsnapshot(svc: BlockStorageService, req: FastifyRequest, id: string) {
  try {
    return await svc.parts.groups.visibleSnapshot(req.context, id);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404)
      throw new ApiError(404, `CgSnapshot ${id} could not be found.`, 'CgSnapshotNotFound');
    throw e;
  }
}

const byCreated = <T extends { created_at: string; id: string }>(rows: T[]) =>
  [...rows].sort((a, b) =>
    a.created_at === b.created_at ? (a.id < b.id ? 1 : -1) : a.created_at < b.created_at ? 1 : -1,
  );

async function listCgs(svc: BlockStorageService, req: FastifyRequest, detail: boolean) {
  req.authorize('group:get_all', { project_id: req.context.projectId });
  const all = req.context.allowed('volume:get_all_admin') && (req.query as Query).all_tenants !== undefined;
  const rows = limited(req, byCreated(await svc.parts.groups.store.list(all ? undefined : req.context.projectId!)));
  return { consistencygroups: rows.map((g) => (detail ? cgDetail(g) : { id: g.id, name: g.name })) };
}

export const listConsistencyGroups = (svc: BlockStorageService, req: FastifyRequest) => listCgs(svc, req, false);
export const listConsistencyGroupsDetail = (svc: BlockStorageService, req: FastifyRequest) => listCgs(svc, req, true);

export async function showConsistencyGroup(svc: BlockStorageService, req: FastifyRequest) {
  const g = await visibleCg(svc, req, (req.params as P).id);
  req.authorize('group:get', { project_id: g.project_id });
  return { consistencygroup: cgDetail(g) };
}

export async function createConsistencyGroup(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  const b = member(req.body, 'consistencygroup');
  req.authorize('group:create', { project_id: req.context.projectId });
  const name = str(b, 'name');
  const types = str(b, 'volume_types');
  if (!types?.trim()) throw badRequest(`volume_types must be provided to create consistency group ${name ?? 'None'}.`);
  const g = await svc.parts.groups.create(req.context, {
    name,
    description: str(b, 'description'),
    groupType: await cgType(svc),
    volumeTypes: types
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean),
    zone: str(b, 'availability_zone'),
  });
  reply.code(202);
  return { consistencygroup: { id: g.id, name: g.name } };
}

export async function createConsistencyGroupFromSrc(
  svc: BlockStorageService,
  req: FastifyRequest,
  reply: FastifyReply,
) {
  const b = member(req.body, 'consistencygroup-from-src');
  req.authorize('group:create', { project_id: req.context.projectId });
  const name = str(b, 'name');
  const cgsnapshotId = str(b, 'cgsnapshot_id');
  const sourceCgid = str(b, 'source_cgid');
  if (!cgsnapshotId && !sourceCgid)
    throw badRequest(
      `Either 'cgsnapshot_id' or 'source_cgid' must be provided to create consistency group ${name ?? 'None'} from source.`,
    );
  if (cgsnapshotId && sourceCgid)
    throw badRequest(
      `Cannot provide both 'cgsnapshot_id' and 'source_cgid' to create consistency group ${name ?? 'None'} from source.`,
    );
  const g = await svc.parts.groups.createFromSource(req.context, {
    name,
    description: str(b, 'description'),
    groupSnapshotId: cgsnapshotId,
    sourceGroupId: sourceCgid,
  });
  reply.code(202);
  return { consistencygroup: { id: g.id, name: g.name } };
}

/** POST /consistencygroups/{id}/delete (`force`: the volumes too). */
export async function deleteConsistencyGroup(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  const body = (req.body ?? {}) as Body;
  const cg = body.consistencygroup as Body | undefined;
  const force = cg?.force === true || cg?.force === 'true' || cg?.force === 'True';
  const g = await visibleCg(svc, req, (req.params as P).id);
  req.authorize('group:delete', { project_id: g.project_id });
  if (!force && (await svc.parts.groups.store.volumes(g.id)).length)
    throw badRequest(
      `Invalid ConsistencyGroup: Consistency group ${g.id} still contains volumes. The force flag is required to delete it.`,
    );
  await svc.parts.groups.delete(req.context, g, force);
  reply.code(202);
  return null;
}

export async function updateConsistencyGroup(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  const b = member(req.body, 'consistencygroup');
  const g = await visibleCg(svc, req, (req.params as P).id);
  req.authorize('group:update', { project_id: g.project_id });
  const name = str(b, 'name');
  const description = str(b, 'description');
  const add = str(b, 'add_volumes');
  const remove = str(b, 'remove_volumes');
  if (!name && !description && !add && !remove)
    throw badRequest('Name, description, add_volumes, and remove_volumes can not be all empty in the request body.');
  await svc.parts.groups.update(req.context, g, {
    name: name ?? undefined,
    description: description ?? undefined,
    addVolumes: add ?? undefined,
    removeVolumes: remove ?? undefined,
  });
  reply.code(202);
  return null;
}

async function listCgsnapshots(svc: BlockStorageService, req: FastifyRequest, detail: boolean) {
  req.authorize('group:get_all_group_snapshots', { project_id: req.context.projectId });
  const all = req.context.allowed('volume:get_all_admin') && (req.query as Query).all_tenants !== undefined;
  const rows = limited(
    req,
    byCreated(await svc.parts.groups.store.snapshots(all ? {} : { projectId: req.context.projectId! })),
  );
  return { cgsnapshots: rows.map((s) => (detail ? cgsnapshotDetail(s) : { id: s.id, name: s.name })) };
}

export const listCgsnapshotsSummary = (svc: BlockStorageService, req: FastifyRequest) =>
  listCgsnapshots(svc, req, false);
export const listCgsnapshotsDetail = (svc: BlockStorageService, req: FastifyRequest) => listCgsnapshots(svc, req, true);

export async function showCgsnapshot(svc: BlockStorageService, req: FastifyRequest) {
  const s = await visibleCgsnapshot(svc, req, (req.params as P).id);
  req.authorize('group:get_group_snapshot', { project_id: s.project_id });
  return { cgsnapshot: cgsnapshotDetail(s) };
}

export async function createCgsnapshot(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  const b = member(req.body, 'cgsnapshot');
  const cgId = str(b, 'consistencygroup_id');
  if (!cgId) throw badRequest("'consistencygroup_id' must be specified");
  const g = await visibleCg(svc, req, cgId);
  req.authorize('group:create_group_snapshot', { project_id: g.project_id });
  const s = await svc.parts.groups.createSnapshot(req.context, g, {
    name: str(b, 'name'),
    description: str(b, 'description'),
  });
  reply.code(202);
  return { cgsnapshot: { id: s.id, name: s.name } };
}

export async function deleteCgsnapshot(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  const s = await visibleCgsnapshot(svc, req, (req.params as P).id);
  req.authorize('group:delete_group_snapshot', { project_id: s.project_id });
  await svc.parts.groups.deleteSnapshot(req.context, s);
  reply.code(202);
  return null;
}
