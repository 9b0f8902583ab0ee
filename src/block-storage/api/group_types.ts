// /group_types (3.11) and their group specs: the types of generic volume groups. (Groups
// themselves are not served yet: see README.)
import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { bool, json, now } from '../../core/db.ts';
import { ApiError } from '../../core/errors.ts';
import type { BlockStorageService } from '../service.ts';
import { at, badRequest, boolParam, pageRows, sortKeys } from './common.ts';

type P = { id: string };
type Row = { id: string; name: string; description: string | null; is_public: number; group_specs: string };

const view = (t: Row) => ({
  id: t.id,
  name: t.name,
  description: t.description,
  is_public: bool(t.is_public),
  group_specs: json<Record<string, string>>(t.group_specs, {}),
});

function need(req: FastifyRequest) {
  if (!at(req, '3.11')) throw new ApiError(404, 'The resource could not be found.');
}

async function find(svc: BlockStorageService, id: string): Promise<Row> {
  const t = await svc.db.selectFrom('group_types').selectAll().where('id', '=', id).executeTakeFirst();
  if (!t) throw new ApiError(404, `Group type ${id} could not be found.`, 'GroupTypeNotFound');
  return t;
}

function specsOf(body: unknown, key: string): Record<string, string> {
  const o = (body as Record<string, unknown> | undefined)?.[key];
  if (!o || typeof o !== 'object' || Array.isArray(o))
    throw badRequest(`Missing required element '${key}' in request body.`);
  for (const [k, v] of Object.entries(o))
    if (typeof v !== 'string' || !k || k.length > 255 || v.length > 255)
      throw badRequest(`Invalid input for field/attribute ${k}.`);
  return o as Record<string, string>;
}

export async function listGroupTypes(svc: BlockStorageService, req: FastifyRequest) {
  need(req);
  req.authorize('group:group_types_specs');
  const q = req.query as Record<string, string>;
  let rows = await svc.db.selectFrom('group_types').selectAll().orderBy('created_at').execute();
  const admin = req.context.allowed('group:group_types_manage');
  if (!admin) rows = rows.filter((t) => bool(t.is_public));
  else if (q.is_public !== undefined && q.is_public.toLowerCase() !== 'none') {
    const p = boolParam(q.is_public, 'is_public');
    rows = rows.filter((t) => bool(t.is_public) === p);
  }
  const keys = sortKeys(q, ['id', 'name', 'created_at', 'is_public', 'description'], 'created_at');
  const { page } = pageRows(rows, q, keys, (t, k) => (t as unknown as Record<string, unknown>)[k]);
  return { group_types: page.map(view) };
}

export async function showGroupType(svc: BlockStorageService, req: FastifyRequest) {
  need(req);
  req.authorize('group:group_types_specs');
  const { id } = req.params as P;
  if (id === 'default') throw new ApiError(404, 'Default group type could not be found.', 'GroupTypeNotFound');
  return { group_type: view(await find(svc, id)) };
}

export async function createGroupType(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  need(req);
  req.authorize('group:group_types_manage');
  const b = ((req.body ?? {}) as { group_type?: Record<string, unknown> }).group_type;
  if (!b || typeof b.name !== 'string' || !b.name.trim() || b.name.length > 255)
    throw badRequest('Group type name can not be empty.');
  if (await svc.db.selectFrom('group_types').select('id').where('name', '=', b.name).executeTakeFirst())
    throw new ApiError(409, `Group Type ${b.name} already exists.`, 'GroupTypeExists');
  const row = {
    id: randomUUID(),
    name: b.name.trim(),
    description: typeof b.description === 'string' ? b.description : null,
    is_public:
      b.is_public === undefined
        ? 1
        : (typeof b.is_public === 'boolean' ? b.is_public : boolParam(b.is_public, 'is_public'))
          ? 1
          : 0,
    group_specs: JSON.stringify(b.group_specs ? specsOf(b, 'group_specs') : {}),
    created_at: now(),
    updated_at: null,
  };
  await svc.db.insertInto('group_types').values(row).execute();
  reply.code(202);
  return { group_type: view(row) };
}

export async function updateGroupType(svc: BlockStorageService, req: FastifyRequest) {
  need(req);
  req.authorize('group:group_types_manage');
  const t = await find(svc, (req.params as P).id);
  const b = ((req.body ?? {}) as { group_type?: Record<string, unknown> }).group_type;
  if (!b || typeof b !== 'object') throw badRequest("Missing required element 'group_type' in request body.");
  const patch: Record<string, unknown> = { updated_at: now() };
  if (typeof b.name === 'string') {
    if (!b.name.trim()) throw badRequest('Group type name can not be empty.');
    patch.name = b.name.trim();
  }
  if ('description' in b) patch.description = b.description ?? null;
  if (b.is_public !== undefined)
    patch.is_public = (typeof b.is_public === 'boolean' ? b.is_public : boolParam(b.is_public, 'is_public')) ? 1 : 0;
  await svc.db.updateTable('group_types').set(patch).where('id', '=', t.id).execute();
  return { group_type: view(await find(svc, t.id)) };
}

export async function deleteGroupType(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  need(req);
  req.authorize('group:group_types_manage');
  const t = await find(svc, (req.params as P).id);
  await svc.db.deleteFrom('group_types').where('id', '=', t.id).execute();
  reply.code(202);
  return null;
}

export async function listGroupSpecs(svc: BlockStorageService, req: FastifyRequest) {
  need(req);
  req.authorize('group:group_types_specs');
  return { group_specs: view(await find(svc, (req.params as P).id)).group_specs };
}

export async function createGroupSpecs(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  need(req);
  req.authorize('group:group_types_manage');
  const t = await find(svc, (req.params as P).id);
  const specs = specsOf(req.body, 'group_specs');
  await svc.db
    .updateTable('group_types')
    .set({
      group_specs: JSON.stringify({ ...json<Record<string, string>>(t.group_specs, {}), ...specs }),
      updated_at: now(),
    })
    .where('id', '=', t.id)
    .execute();
  reply.code(202);
  return { group_specs: specs };
}

export async function showGroupSpec(svc: BlockStorageService, req: FastifyRequest) {
  need(req);
  req.authorize('group:group_types_specs');
  const { key } = req.params as { key: string };
  const specs = view(await find(svc, (req.params as P).id)).group_specs;
  if (!(key in specs)) throw new ApiError(404, `Group Type ${(req.params as P).id} has no specs with key ${key}.`);
  return { [key]: specs[key] };
}

export async function updateGroupSpec(svc: BlockStorageService, req: FastifyRequest) {
  need(req);
  req.authorize('group:group_types_manage');
  const { key } = req.params as { key: string };
  const t = await find(svc, (req.params as P).id);
  const b = req.body as Record<string, unknown> | undefined;
  if (!b || typeof b !== 'object' || Array.isArray(b)) throw badRequest('Malformed request body');
  const keys = Object.keys(b);
  if (keys.length > 1) throw badRequest('Request body contains too many items.');
  if (keys[0] !== key) throw badRequest('Request body and URI mismatch');
  if (typeof b[key] !== 'string') throw badRequest(`Invalid input for field/attribute ${key}.`);
  await svc.db
    .updateTable('group_types')
    .set({
      group_specs: JSON.stringify({ ...json<Record<string, string>>(t.group_specs, {}), [key]: b[key] as string }),
      updated_at: now(),
    })
    .where('id', '=', t.id)
    .execute();
  return b;
}

export async function deleteGroupSpec(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  need(req);
  req.authorize('group:group_types_manage');
  const { key } = req.params as { key: string };
  const t = await find(svc, (req.params as P).id);
  const specs = json<Record<string, string>>(t.group_specs, {});
  if (!(key in specs)) throw new ApiError(404, `Group Type ${t.id} has no specs with key ${key}.`);
  delete specs[key];
  await svc.db
    .updateTable('group_types')
    .set({ group_specs: JSON.stringify(specs), updated_at: now() })
    .where('id', '=', t.id)
    .execute();
  reply.code(202);
  return null;
}
