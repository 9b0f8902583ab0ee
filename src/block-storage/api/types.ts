// /types: volume types with extra specs and private access, and /default-types (3.62).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { bool, isUniqueViolation } from '../../core/db.ts';
import { ApiError } from '../../core/errors.ts';
import { validate } from '../../core/validate.ts';
import type { BlockStorageService } from '../service.ts';
import { type VolumeTypeRow, specsOf } from '../types.ts';
import { type Query, at, badRequest, boolParam, pageBody, pageRows, sortKeys, typeView } from './common.ts';
import { extraSpecsSchema, metadataSchema, typeCreateSchema, typeUpdateSchema } from './schemas.ts';

type P = { id: string };

const typeNotFound = (id: string) => new ApiError(404, `Volume type ${id} could not be found.`, 'VolumeTypeNotFound');

/** A type the caller may see ('default' names the caller's default type). */
async function visibleType(svc: BlockStorageService, req: FastifyRequest, id: string): Promise<VolumeTypeRow> {
  const ctx = req.context;
  const t = id === 'default' ? await svc.parts.types.defaultFor(ctx.projectId) : await svc.parts.types.get(id);
  if (!t || !(await svc.parts.types.visible(t, ctx.projectId, ctx.allowed('volume_extension:types_manage'))))
    throw typeNotFound(id);
  return t;
}

const strictBool = (v: unknown, name: string) => (typeof v === 'boolean' ? v : boolParam(v, name));

export async function listTypes(svc: BlockStorageService, req: FastifyRequest) {
  const q = req.query as Query;
  const ctx = req.context;
  req.authorize('volume_extension:type_get_all', { project_id: ctx.projectId });
  const admin = ctx.allowed('volume_extension:types_manage');
  let rows = await svc.parts.types.list();
  // Cinder: admins see every type unless is_public is given; others see the public ones and those shared with them.
  const isPublic =
    q.is_public === undefined
      ? admin
        ? undefined
        : true
      : q.is_public.toLowerCase() === 'none'
        ? undefined
        : boolParam(q.is_public, 'is_public');
  const access = new Map<string, string[]>();
  for (const t of rows) if (!bool(t.is_public)) access.set(t.id, await svc.parts.types.access(t.id));
  rows = rows.filter((t) => {
    const mine = !bool(t.is_public) && !!ctx.projectId && (access.get(t.id) ?? []).includes(ctx.projectId);
    if (isPublic === undefined) return admin || bool(t.is_public) || mine;
    return isPublic ? bool(t.is_public) || (!admin && mine) : !bool(t.is_public) && (admin || mine);
  });
  if (q.extra_specs !== undefined && admin) {
    let want: Record<string, string> = {};
    try {
      want = JSON.parse(q.extra_specs.replace(/'/g, '"')) as Record<string, string>;
    } catch {
      throw badRequest(`Invalid extra_specs filter: '${q.extra_specs}'`);
    }
    rows = rows.filter((t) => Object.entries(want).every(([k, v]) => specsOf(t)[k] === String(v)));
  }
  const keys = sortKeys(q, ['id', 'name', 'is_public', 'description', 'created_at'], 'id');
  const { page, more } = pageRows(rows, q, keys, (t, k) => (t as unknown as Record<string, unknown>)[k]);
  const views = page.map((t) => typeView(req, t));
  return pageBody(req, 'volume_types', views, { rows: page, more }, { links: 'volume_type_links' });
}

export async function showType(svc: BlockStorageService, req: FastifyRequest) {
  req.authorize('volume_extension:type_get', { project_id: req.context.projectId });
  return { volume_type: typeView(req, await visibleType(svc, req, (req.params as P).id)) };
}

export async function createType(svc: BlockStorageService, req: FastifyRequest) {
  const body = validate<{ volume_type: Record<string, unknown> }>(req.body, typeCreateSchema);
  req.authorize('volume_extension:type_create');
  const b = body.volume_type;
  const name = String(b.name).trim();
  if (await svc.parts.types.byName(name))
    throw new ApiError(409, `Volume Type ${name} already exists.`, 'VolumeTypeExists');
  const isPublic =
    b['os-volume-type-access:is_public'] === undefined
      ? true
      : strictBool(b['os-volume-type-access:is_public'], 'is_public');
  try {
    const t = await svc.parts.types.create({
      name,
      description: (b.description ?? null) as string | null,
      is_public: isPublic,
      extra_specs: (b.extra_specs ?? {}) as Record<string, string>,
    });
    return { volume_type: typeView(req, t, 'create') };
  } catch (e) {
    if (isUniqueViolation(e)) throw new ApiError(409, `Volume Type ${name} already exists.`);
    throw e;
  }
}

export async function updateType(svc: BlockStorageService, req: FastifyRequest) {
  const body = validate<{ volume_type: Record<string, unknown> }>(req.body, typeUpdateSchema);
  req.authorize('volume_extension:type_update');
  const t = await svc.parts.types.get((req.params as P).id);
  if (!t) throw typeNotFound((req.params as P).id);
  const b = body.volume_type;
  if (b.name === undefined && b.description === undefined && b.is_public === undefined)
    throw badRequest('Specify volume type name, description, is_public or a combination thereof.');
  if (typeof b.name === 'string') {
    const name = b.name.trim();
    if (!name) throw badRequest('Volume type name can not be empty.');
    const other = await svc.parts.types.byName(name);
    if (other && other.id !== t.id) throw new ApiError(409, `Volume Type ${name} already exists.`);
    if (t.name === '__DEFAULT__' || t.id === (await svc.parts.types.configuredDefaultId()))
      if (name !== t.name) throw badRequest('The default volume type cannot be renamed.');
  }
  await svc.parts.types.update(t.id, {
    name: typeof b.name === 'string' ? b.name.trim() : undefined,
    description: b.description as string | null | undefined,
    is_public: b.is_public === undefined ? undefined : strictBool(b.is_public, 'is_public'),
  });
  return { volume_type: typeView(req, (await svc.parts.types.get(t.id))!, 'update') };
}

export async function deleteType(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  req.authorize('volume_extension:type_delete');
  const t = await svc.parts.types.get((req.params as P).id);
  if (!t) throw typeNotFound((req.params as P).id);
  if (t.id === (await svc.parts.types.configuredDefaultId()) || t.name === '__DEFAULT__')
    throw badRequest('Default volume type can not be deleted.');
  const inUse = (await svc.parts.volumes.list()).some((v) => v.volume_type_id === t.id);
  if (inUse) throw badRequest('Target volume type is still in use.');
  const asDefault = await svc.parts.types.projectDefaults();
  if (asDefault.some((d) => d.volume_type_id === t.id)) throw badRequest('Volume type is the default of a project.');
  await svc.parts.types.destroy(t.id);
  reply.code(202);
  return null;
}

// ---- extra specs ----------------------------------------------------------------------------

async function specsTarget(svc: BlockStorageService, req: FastifyRequest, rule: string) {
  req.authorize(rule);
  const t = await svc.parts.types.get((req.params as P).id);
  if (!t) throw typeNotFound((req.params as P).id);
  return t;
}

function checkSpecs(specs: Record<string, string>) {
  for (const [k, v] of Object.entries(specs)) {
    if (k === 'multiattach' && !/^<is> (True|False)$/i.test(v))
      throw badRequest(`Invalid input received: multiattach must be '<is> True' or '<is> False'.`);
  }
}

export async function listSpecs(svc: BlockStorageService, req: FastifyRequest) {
  const t = await specsTarget(svc, req, 'volume_extension:types_extra_specs:index');
  return { extra_specs: typeView(req, t).extra_specs };
}

export async function createSpecs(svc: BlockStorageService, req: FastifyRequest) {
  const body = validate<{ extra_specs: Record<string, string> }>(req.body, extraSpecsSchema);
  const t = await specsTarget(svc, req, 'volume_extension:types_extra_specs:create');
  checkSpecs(body.extra_specs);
  await svc.parts.types.setSpecs(t.id, { ...specsOf(t), ...body.extra_specs });
  return { extra_specs: body.extra_specs };
}

export async function showSpec(svc: BlockStorageService, req: FastifyRequest) {
  const { key } = req.params as { key: string };
  const t = await specsTarget(svc, req, 'volume_extension:types_extra_specs:show');
  const specs = typeView(req, t).extra_specs as Record<string, string>;
  if (!(key in specs))
    throw new ApiError(404, `Volume Type ${t.id} has no extra specs with key ${key}.`, 'VolumeTypeExtraSpecsNotFound');
  return { [key]: specs[key] };
}

export async function updateSpec(svc: BlockStorageService, req: FastifyRequest) {
  const { key } = req.params as { key: string };
  const t = await specsTarget(svc, req, 'volume_extension:types_extra_specs:update');
  const b = req.body;
  if (!b || typeof b !== 'object' || Array.isArray(b)) throw badRequest('Malformed request body');
  const entries = Object.entries(b as Record<string, unknown>);
  if (entries.length > 1) throw badRequest('Request body contains too many items.');
  if (!entries.length || entries[0]![0] !== key) throw badRequest('Request body and URI mismatch');
  validate(b, metadataSchema('meta').properties.meta);
  checkSpecs(b as Record<string, string>);
  await svc.parts.types.setSpecs(t.id, { ...specsOf(t), ...(b as Record<string, string>) });
  return b;
}

export async function deleteSpec(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  const { key } = req.params as { key: string };
  const t = await specsTarget(svc, req, 'volume_extension:types_extra_specs:delete');
  const specs = specsOf(t);
  if (!(key in specs))
    throw new ApiError(404, `Volume Type ${t.id} has no extra specs with key ${key}.`, 'VolumeTypeExtraSpecsNotFound');
  delete specs[key];
  await svc.parts.types.setSpecs(t.id, specs);
  reply.code(202);
  return null;
}

// ---- access ---------------------------------------------------------------------------------

export async function listTypeAccess(svc: BlockStorageService, req: FastifyRequest) {
  req.authorize('volume_extension:volume_type_access:addProjectAccess');
  const t = await svc.parts.types.get((req.params as P).id);
  if (!t) throw typeNotFound((req.params as P).id);
  if (bool(t.is_public)) throw new ApiError(404, `Volume type ${t.id} is public: it has no access list.`);
  return {
    volume_type_access: (await svc.parts.types.access(t.id)).map((p) => ({ volume_type_id: t.id, project_id: p })),
  };
}

export async function typeAction(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  const body = (req.body ?? {}) as Record<string, { project?: unknown }>;
  const key = Object.keys(body)[0];
  if (key !== 'addProjectAccess' && key !== 'removeProjectAccess')
    throw badRequest(`There is no such action: ${key ?? ''}`);
  req.authorize(`volume_extension:volume_type_access:${key}`);
  const project = body[key]?.project;
  if (typeof project !== 'string' || !project) throw badRequest("Missing required element 'project' in request body.");
  const t = await svc.parts.types.get((req.params as P).id);
  if (!t) throw typeNotFound((req.params as P).id);
  if (bool(t.is_public))
    throw badRequest('Invalid volume type: Type access modification is not applicable to public volume type.');
  if (key === 'addProjectAccess') {
    if (!(await svc.parts.types.addAccess(t.id, project)))
      throw new ApiError(409, `Volume type access for ${t.id} / ${project} combination already exists.`);
  } else if (!(await svc.parts.types.removeAccess(t.id, project)))
    throw new ApiError(404, `Volume type access not found for ${t.id} / ${project} combination.`);
  reply.code(202);
  return null;
}

// ---- default types (3.62) -------------------------------------------------------------------

function needs362(req: FastifyRequest) {
  if (!at(req, '3.62')) throw new ApiError(404, 'The resource could not be found.');
}

export async function setDefaultType(svc: BlockStorageService, req: FastifyRequest) {
  needs362(req);
  req.authorize('volume_extension:default_set_or_update');
  const { project } = req.params as { project: string };
  const b = (req.body ?? {}) as { default_type?: { volume_type?: unknown } };
  const ref = b.default_type?.volume_type;
  if (typeof ref !== 'string')
    throw badRequest("Invalid input for field/attribute default_type. 'volume_type' is a required property");
  const t = await svc.parts.types.find(ref);
  if (!t) throw new ApiError(404, `Volume type with name ${ref} could not be found.`);
  await svc.parts.types.setProjectDefault(project, t.id);
  return { default_type: { project_id: project, volume_type_id: t.id } };
}

export async function showDefaultType(svc: BlockStorageService, req: FastifyRequest) {
  needs362(req);
  req.authorize('volume_extension:default_get');
  const { project } = req.params as { project: string };
  const d = (await svc.parts.types.projectDefaults(project))[0];
  if (!d) throw new ApiError(404, `Default type for project ${project} could not be found.`);
  return { default_type: { project_id: d.project_id, volume_type_id: d.volume_type_id } };
}

export async function listDefaultTypes(svc: BlockStorageService, req: FastifyRequest) {
  needs362(req);
  req.authorize('volume_extension:default_get_all');
  return {
    default_types: (await svc.parts.types.projectDefaults()).map((d) => ({
      project_id: d.project_id,
      volume_type_id: d.volume_type_id,
    })),
  };
}

export async function unsetDefaultType(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  needs362(req);
  req.authorize('volume_extension:default_unset');
  const { project } = req.params as { project: string };
  await svc.parts.types.unsetProjectDefault(project);
  reply.code(204);
  return null;
}
