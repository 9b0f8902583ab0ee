// /groups (3.13) and /group_snapshots (3.14): generic volume groups and their snapshots.
// Each handler: schema → policy → logic (groups.ts) → view (cinder's views/groups.py and
// views/group_snapshots.py).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import type { GroupRow, GroupSnapshotRow } from '../groups.ts';
import type { BlockStorageService } from '../service.ts';
import { cgDetail } from './consistencygroups.ts';
import { sql } from 'kysely';
import { type Condition, eq, pageOf } from '../db/paging.ts';
import {
  type Query,
  at,
  badRequest,
  boolParam,
  isoTime,
  LIST_PARAMS,
  pageBody,
  sortKeys,
  markerFound,
  pageParams,
} from './common.ts';

type P = { id: string };
type Body = Record<string, unknown>;

function need(req: FastifyRequest, v: string) {
  if (!at(req, v)) throw new ApiError(404, 'The resource could not be found.');
}

/** The object under `key` of a JSON body (400 when missing). */
function member(body: unknown, key: string): Body {
  const o = (body as Body | null | undefined)?.[key];
  if (!o || typeof o !== 'object' || Array.isArray(o))
    throw badRequest(`Missing required element '${key}' in request body.`);
  return o as Body;
}

function optString(b: Body, key: string, max = 255): string | null | undefined {
  const v = b[key];
  if (v === undefined) return undefined;
  if (v === null) return null;
  if (typeof v !== 'string' || v.length > max)
    throw badRequest(`Invalid input for field/attribute ${key}. Value: ${String(v)}.`);
  return v.trim();
}

const groupSummary = (g: GroupRow) => ({ id: g.id, name: g.name });

async function groupDetail(svc: BlockStorageService, req: FastifyRequest, g: GroupRow) {
  const out: Record<string, unknown> = { ...cgDetail(g), group_type: g.group_type_id };
  if (at(req, '3.14')) {
    out.group_snapshot_id = g.group_snapshot_id;
    out.source_group_id = g.source_group_id;
  }
  const q = req.query as Query;
  if (at(req, '3.25') && q.list_volume !== undefined && boolParam(q.list_volume, 'list_volume'))
    out.volumes = (await svc.parts.groups.store.volumes(g.id)).map((v) => v.id);
  if (at(req, '3.38')) out.replication_status = g.replication_status;
  if (at(req, '3.58') && req.allowed('group:group_project_attribute', { project_id: g.project_id }))
    out.project_id = g.project_id;
  return out;
}

function snapshotSummary(s: GroupSnapshotRow) {
  return { id: s.id, name: s.name, group_type_id: s.group_type_id };
}

function snapshotDetail(req: FastifyRequest, s: GroupSnapshotRow) {
  const out: Record<string, unknown> = {
    id: s.id,
    group_id: s.group_id,
    group_type_id: s.group_type_id,
    status: s.status,
    created_at: isoTime(s.created_at),
    name: s.name,
    description: s.description,
  };
  if (at(req, '3.58') && req.allowed('group:group_snapshot_project_attribute', { project_id: s.project_id }))
    out.project_id = s.project_id;
  return out;
}

const LIST_IGNORED = new Set([...LIST_PARAMS, 'list_volume']);

/** A list's filters as SQL conditions (a null column matches ''; `key~` at 3.34 is a like-filter). */
function filterConditions(req: FastifyRequest, fields: string[]): Condition[] {
  const q = req.query as Query;
  const out: Condition[] = [];
  for (const [key, raw] of Object.entries(q)) {
    if (raw === undefined || LIST_IGNORED.has(key)) continue;
    const like = key.endsWith('~') && at(req, '3.34');
    const k = like ? key.slice(0, -1) : key;
    if (!fields.includes(k)) {
      if (at(req, '3.33')) throw badRequest(`Invalid filters ${key} are found in query options.`);
      continue;
    }
    const col = sql`coalesce(${sql.ref(k)}, '')`;
    out.push(
      like ? sql`${col} like ${`%${raw.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`} escape '\\'` : sql`${col} = ${raw}`,
    );
  }
  return out;
}

function scope(req: FastifyRequest): string | undefined {
  const q = req.query as Query;
  const admin = req.context.allowed('volume:get_all_admin');
  const all = admin && q.all_tenants !== undefined && boolParam(q.all_tenants, 'all_tenants');
  return all ? undefined : req.context.projectId;
}

const GROUP_NULLABLE = new Set(['name', 'updated_at']);

/** One page of groups or group snapshots in SQL: the project's (or every one), filtered, sorted. */
async function pageList<R extends { id: string }>(
  svc: BlockStorageService,
  req: FastifyRequest,
  table: 'groups' | 'group_snapshots',
  fields: string[],
  sortable: string[],
) {
  const q = req.query as Query;
  const projectId = scope(req);
  const markerScope = projectId ? [eq('project_id', projectId)] : [];
  const keys = sortKeys(q, sortable, 'created_at');
  return markerFound(
    req,
    await pageOf<R>(svc.parts.volumes.db, table, {
      where: [...markerScope, ...filterConditions(req, fields)],
      markerScope,
      order: keys,
      nullable: GROUP_NULLABLE,
      ...pageParams(req),
    }),
  );
}

// ---- groups ---------------------------------------------------------------------------------

async function listGroupsOf(svc: BlockStorageService, req: FastifyRequest, detail: boolean) {
  need(req, '3.13');
  req.authorize('group:get_all', { project_id: req.context.projectId });
  const { rows: page, more } = await pageList<GroupRow>(
    svc,
    req,
    'groups',
    ['name', 'status', 'availability_zone', 'group_type_id', 'id'],
    ['id', 'name', 'status', 'created_at', 'updated_at', 'availability_zone'],
  );
  const groups = detail ? await Promise.all(page.map((g) => groupDetail(svc, req, g))) : page.map(groupSummary);
  return pageBody(req, 'groups', groups, { rows: page, more }, { links: 'group_links' });
}

export const listGroups = (svc: BlockStorageService, req: FastifyRequest) => listGroupsOf(svc, req, false);
export const listGroupsDetail = (svc: BlockStorageService, req: FastifyRequest) => listGroupsOf(svc, req, true);

export async function showGroup(svc: BlockStorageService, req: FastifyRequest) {
  need(req, '3.13');
  const g = await svc.parts.groups.visible(req.context, (req.params as P).id);
  req.authorize('group:get', { project_id: g.project_id });
  return { group: await groupDetail(svc, req, g) };
}

export async function createGroup(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  need(req, '3.13');
  const b = member(req.body, 'group');
  req.authorize('group:create', { project_id: req.context.projectId });
  if (typeof b.group_type !== 'string' || !b.group_type)
    throw badRequest("Invalid input for field/attribute group_type. 'group_type' is a required property.");
  const types = b.volume_types;
  if (!Array.isArray(types) || !types.length || types.some((t) => typeof t !== 'string' || !t))
    throw badRequest(
      'Invalid input for field/attribute volume_types. volume_types must be a non-empty list of volume type ids or names.',
    );
  const g = await svc.parts.groups.create(req.context, {
    name: optString(b, 'name') ?? null,
    description: optString(b, 'description') ?? null,
    groupType: b.group_type,
    volumeTypes: types as string[],
    zone: optString(b, 'availability_zone'),
  });
  reply.code(202);
  return { group: groupSummary(g) };
}

export async function updateGroup(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  need(req, '3.13');
  const b = member(req.body, 'group');
  const g = await svc.parts.groups.visible(req.context, (req.params as P).id);
  req.authorize('group:update', { project_id: g.project_id });
  await svc.parts.groups.update(req.context, g, {
    name: optString(b, 'name'),
    description: optString(b, 'description'),
    addVolumes: optString(b, 'add_volumes', 65535),
    removeVolumes: optString(b, 'remove_volumes', 65535),
  });
  reply.code(202);
  return null;
}

/** POST /groups/action: create-from-src (3.14). */
export async function groupsAction(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  need(req, '3.14');
  const b = member(req.body, 'create-from-src');
  req.authorize('group:create', { project_id: req.context.projectId });
  const g = await svc.parts.groups.createFromSource(req.context, {
    name: optString(b, 'name') ?? null,
    description: optString(b, 'description') ?? null,
    groupSnapshotId: optString(b, 'group_snapshot_id'),
    sourceGroupId: optString(b, 'source_group_id'),
  });
  reply.code(202);
  return { group: groupSummary(g) };
}

/** POST /groups/{id}/action: delete, reset_status (3.20), the replication actions (3.38). */
export async function groupAction(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  need(req, '3.13');
  const body = req.body as Body | null;
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('Malformed request body');
  const key = Object.keys(body)[0] ?? '';
  const g = await svc.parts.groups.visible(req.context, (req.params as P).id);
  const target = { project_id: g.project_id };
  switch (key) {
    case 'delete': {
      const a = member(body, 'delete');
      req.authorize('group:delete', target);
      const raw = a['delete-volumes'];
      const del = raw === undefined ? false : typeof raw === 'boolean' ? raw : boolParam(raw, 'delete-volumes');
      await svc.parts.groups.delete(req.context, g, del);
      break;
    }
    case 'reset_status': {
      if (!at(req, '3.20')) throw badRequest(`There is no such action: ${key}`);
      const a = member(body, 'reset_status');
      req.authorize('group:reset_status', target);
      if (typeof a.status !== 'string')
        throw badRequest("Invalid input for field/attribute status. 'status' is a required property.");
      await svc.parts.groups.resetStatus(g, a.status.toLowerCase());
      break;
    }
    case 'enable_replication':
    case 'disable_replication':
    case 'failover_replication':
      if (!at(req, '3.38')) throw badRequest(`There is no such action: ${key}`);
      req.authorize(`group:${key}`, target);
      // The group type must say group_replication_enabled and the backend replicate: the file one does not.
      throw badRequest(`Invalid group type: Group ${g.id} is not a replication group type.`);
    case 'list_replication_targets':
      if (!at(req, '3.38')) throw badRequest(`There is no such action: ${key}`);
      req.authorize('group:list_replication_targets', target);
      return { replication_targets: [] };
    default:
      throw badRequest(`There is no such action: ${key}`);
  }
  reply.code(202);
  return null;
}

// ---- group snapshots ------------------------------------------------------------------------

async function listSnapshotsOf(svc: BlockStorageService, req: FastifyRequest, detail: boolean) {
  need(req, '3.14');
  req.authorize('group:get_all_group_snapshots', { project_id: req.context.projectId });
  const { rows: page, more } = await pageList<GroupSnapshotRow>(
    svc,
    req,
    'group_snapshots',
    ['name', 'status', 'group_id', 'id'],
    ['id', 'name', 'status', 'created_at', 'updated_at', 'group_id'],
  );
  const views = page.map((s) => (detail ? snapshotDetail(req, s) : snapshotSummary(s)));
  return pageBody(req, 'group_snapshots', views, { rows: page, more }, { links: 'group_snapshot_links' });
}

export const listGroupSnapshots = (svc: BlockStorageService, req: FastifyRequest) => listSnapshotsOf(svc, req, false);
export const listGroupSnapshotsDetail = (svc: BlockStorageService, req: FastifyRequest) =>
  listSnapshotsOf(svc, req, true);

export async function showGroupSnapshot(svc: BlockStorageService, req: FastifyRequest) {
  need(req, '3.14');
  const s = await svc.parts.groups.visibleSnapshot(req.context, (req.params as P).id);
  req.authorize('group:get_group_snapshot', { project_id: s.project_id });
  return { group_snapshot: snapshotDetail(req, s) };
}

export async function createGroupSnapshot(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  need(req, '3.14');
  const b = member(req.body, 'group_snapshot');
  if (typeof b.group_id !== 'string' || !b.group_id)
    throw badRequest("Invalid input for field/attribute group_id. 'group_id' is a required property.");
  const g = await svc.parts.groups.visible(req.context, b.group_id);
  req.authorize('group:create_group_snapshot', { project_id: g.project_id });
  const s = await svc.parts.groups.createSnapshot(req.context, g, {
    name: optString(b, 'name') ?? null,
    description: optString(b, 'description') ?? null,
  });
  reply.code(202);
  return { group_snapshot: snapshotSummary(s) };
}

export async function deleteGroupSnapshot(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  need(req, '3.14');
  const s = await svc.parts.groups.visibleSnapshot(req.context, (req.params as P).id);
  req.authorize('group:delete_group_snapshot', { project_id: s.project_id });
  await svc.parts.groups.deleteSnapshot(req.context, s);
  reply.code(202);
  return null;
}

/** POST /group_snapshots/{id}/action: reset_status (3.19). */
export async function groupSnapshotAction(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  need(req, '3.14');
  const body = req.body as Body | null;
  const key = body && typeof body === 'object' ? (Object.keys(body)[0] ?? '') : '';
  if (key !== 'reset_status' || !at(req, '3.19')) throw badRequest(`There is no such action: ${key}`);
  const s = await svc.parts.groups.visibleSnapshot(req.context, (req.params as P).id);
  req.authorize('group:reset_group_snapshot_status', { project_id: s.project_id });
  const a = member(body, 'reset_status');
  if (typeof a.status !== 'string')
    throw badRequest("Invalid input for field/attribute status. 'status' is a required property.");
  await svc.parts.groups.resetSnapshotStatus(s, a.status.toLowerCase());
  reply.code(202);
  return null;
}
