// The tasks API (Glance's deprecated but still served /v2/tasks, admin-only by default):
// create an `import` task (a new image filled from `import_from`), list with filters, sorting and
// pagination, show, and the task schemas. Tasks end with an expires_at (task_time_to_live, 48 h)
// and are removed once past it. The api_image_import tasks of interoperable import are listed too.
import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import type { Selectable } from 'kysely';
import type { TaskTable } from '../db/schema.ts';
import type { ImageService } from '../service.ts';
import { validateAttribute } from '../images.ts';
import { collectionSchema } from './discovery.ts';
import { runImportTask } from '../tasks.ts';
import { isUuidLike } from '../../core/validate.ts';

const STATUSES = ['pending', 'processing', 'success', 'failure'];
const TYPES = ['import', 'api_image_import'];
const SORT_KEYS = ['created_at', 'updated_at', 'id', 'type', 'status', 'owner', 'expires_at'];
const LIMIT_DEFAULT = 25,
  LIMIT_MAX = 1000;

const iso = (v: string | null) => (v ? v.replace(/\.\d+Z$/, 'Z') : null);

/** A task as Glance's serializer shows it (image_id, request_id, user_id, expires_at only when set). */
export function taskView(r: Selectable<TaskTable>) {
  const v: Record<string, unknown> = {
    id: r.id,
    type: r.type,
    status: r.status,
    owner: r.owner,
    input: r.input ? JSON.parse(r.input) : null,
    result: r.result ? JSON.parse(r.result) : null,
    message: r.message ?? '',
    created_at: iso(r.created_at),
    updated_at: iso(r.updated_at),
    self: `/v2/tasks/${r.id}`,
    schema: '/v2/schemas/task',
  };
  if (r.image_id) v.image_id = r.image_id;
  if (r.request_id) v.request_id = r.request_id;
  if (r.user_id) v.user_id = r.user_id;
  if (r.expires_at) v.expires_at = iso(r.expires_at);
  return v;
}

/** The list's stub: no input, result or message. */
function stubView(r: Selectable<TaskTable>) {
  const { input: _i, result: _r, message: _m, image_id: _a, request_id: _b, user_id: _c, ...stub } = taskView(r);
  return stub;
}

const TASK_PROPERTIES = {
  id: {
    description: 'An identifier for the task',
    pattern: '^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$',
    type: 'string',
  },
  type: { description: 'The type of task represented by this content', enum: TYPES, type: 'string' },
  status: { description: 'The current status of this task', enum: STATUSES, type: 'string' },
  input: { description: 'The parameters required by task, JSON blob', type: ['null', 'object'] },
  result: { description: 'The result of current task, JSON blob', type: ['null', 'object'] },
  owner: { description: 'An identifier for the owner of this task', type: 'string' },
  message: {
    description: 'Human-readable informative message only included when appropriate (usually on failure)',
    type: 'string',
  },
  image_id: { description: 'Image associated with the task', type: 'string' },
  request_id: { description: 'Human-readable informative request-id', type: 'string' },
  user_id: { description: 'User associated with the task', type: 'string' },
  expires_at: { description: 'Datetime when this resource would be subject to removal', type: ['null', 'string'] },
  created_at: { description: 'Datetime when this resource was created', type: 'string' },
  updated_at: { description: 'Datetime when this resource was updated', type: 'string' },
  self: { readOnly: true, type: 'string' },
  schema: { readOnly: true, type: 'string' },
};
const LINKS = [
  { rel: 'self', href: '{self}' },
  { rel: 'describedby', href: '{schema}' },
];

export function taskSchema() {
  return { name: 'task', properties: TASK_PROPERTIES, additionalProperties: false, links: LINKS };
}

function partialTaskSchema() {
  const { input: _i, result: _r, message: _m, ...props } = TASK_PROPERTIES;
  return { name: 'task', properties: props, additionalProperties: false, links: LINKS };
}

export async function showTaskSchema(_svc: ImageService, _req: FastifyRequest) {
  return taskSchema();
}

export async function showTasksSchema(_svc: ImageService, _req: FastifyRequest) {
  return collectionSchema('tasks', partialTaskSchema());
}

export async function createTask(svc: ImageService, req: FastifyRequest, reply: FastifyReply) {
  req.authorize('tasks_api_access');
  const body = req.body as Record<string, unknown> | null | undefined;
  if (body === undefined) throw new ApiError(400, 'Body expected in request.');
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new ApiError(400, "Provided object does not match schema 'task': body is not of type 'object'");
  for (const k of ['type', 'input']) if (!(k in body)) throw new ApiError(400, `Task '${k}' is required`);
  for (const k of Object.keys(body))
    if (!(k in TASK_PROPERTIES))
      throw new ApiError(
        400,
        `Provided object does not match schema 'task': Additional properties are not allowed ('${k}' was unexpected)`,
      );
  if (typeof body.type !== 'string' || !TYPES.includes(body.type))
    throw new ApiError(
      400,
      `Provided object does not match schema 'task': ${JSON.stringify(body.type)} is not one of ${JSON.stringify(TYPES)}`,
    );
  if (body.input !== null && (typeof body.input !== 'object' || Array.isArray(body.input)))
    throw new ApiError(
      400,
      `Provided object does not match schema 'task': ${JSON.stringify(body.input)} is not of type 'null', 'object'`,
    );
  req.authorize('add_task');
  if (body.type !== 'import')
    throw new ApiError(400, `Task type ${body.type} cannot be created through the tasks API.`);
  const input = (body.input ?? {}) as Record<string, unknown>;
  if (input.image_properties && typeof input.image_properties === 'object') {
    for (const [k, v] of Object.entries(input.image_properties))
      if (['name', 'disk_format', 'container_format', 'visibility', 'min_ram', 'min_disk', 'protected'].includes(k))
        validateAttribute(k, v);
  }
  const ctx = req.ctx!;
  const t = new Date().toISOString();
  const row = {
    id: randomUUID(),
    type: 'import',
    status: 'pending',
    owner: ctx.projectId ?? null,
    input: JSON.stringify(input),
    result: null,
    message: '',
    image_id: typeof input.image_id === 'string' ? input.image_id : null,
    request_id: req.id,
    user_id: ctx.userId,
    expires_at: null,
    created_at: t,
    updated_at: t,
  };
  await svc.tasks.insert(row);
  // Runs after the 201, as Glance's task executor does.
  setImmediate(() => void runImportTask(svc, { id: row.id, owner: row.owner, input }, ctx));
  reply.code(201).header('Location', `/v2/tasks/${row.id}`);
  return taskView(row);
}

export async function showTask(svc: ImageService, req: FastifyRequest<{ Params: { id: string } }>) {
  req.authorize('tasks_api_access');
  req.authorize('get_task');
  await svc.tasks.reap();
  const r = await svc.tasks.get(req.params.id);
  if (!r || (!req.allowed('context_is_admin') && r.owner !== req.ctx?.projectId))
    throw new ApiError(404, `Task with the given id ${req.params.id} not found`);
  return taskView(r);
}

export async function deleteTask(_svc: ImageService, req: FastifyRequest<{ Params: { id: string } }>) {
  req.authorize('tasks_api_access');
  throw new ApiError(
    405,
    'This operation is currently not permitted on Glance Tasks. They are auto deleted after reaching the time based on their expires_at property.',
    undefined,
    { Allow: 'GET' },
  );
}

export async function listTasks(svc: ImageService, req: FastifyRequest) {
  req.authorize('tasks_api_access');
  const q = req.query as Record<string, string>;
  const sortDir = q.sort_dir ?? 'desc';
  if (!['asc', 'desc'].includes(sortDir)) throw new ApiError(400, `Invalid sort direction: ${sortDir}`);
  const sortKey = q.sort_key ?? 'created_at';
  if (!SORT_KEYS.includes(sortKey)) throw new ApiError(400, `Invalid sort key: ${sortKey}.`);
  if (q.status && !STATUSES.includes(q.status)) throw new ApiError(400, `Invalid status value: ${q.status}`);
  if (q.type && q.type !== 'import') throw new ApiError(400, `Invalid type value: ${q.type}`);
  if (q.marker !== undefined && !isUuidLike(q.marker)) throw new ApiError(400, 'Invalid marker format');
  let limit = LIMIT_DEFAULT;
  if (q.limit !== undefined) {
    if (!/^-?\d+$/.test(q.limit)) throw new ApiError(400, 'limit param must be an integer');
    limit = Number(q.limit);
    if (limit < 0) throw new ApiError(400, 'limit param must be positive');
  }
  limit = Math.min(limit, LIMIT_MAX);
  req.authorize('get_tasks');
  await svc.tasks.reap();
  let rows = await svc.tasks.all();
  if (!req.allowed('context_is_admin')) rows = rows.filter((r) => r.owner === req.ctx?.projectId);
  if (q.status) rows = rows.filter((r) => r.status === q.status);
  if (q.type) rows = rows.filter((r) => r.type === q.type);
  const key = (r: Selectable<TaskTable>) => String(r[sortKey as keyof TaskTable] ?? '');
  rows.sort((a, b) => {
    const c = key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    return sortDir === 'asc' ? c : -c;
  });
  if (q.marker !== undefined) {
    const i = rows.findIndex((r) => r.id === q.marker);
    if (i < 0) throw new ApiError(400, `Task with the given id ${q.marker} not found`);
    rows = rows.slice(i + 1);
  }
  const page = rows.slice(0, limit);
  const params = Object.entries(q).filter(([k]) => k !== 'marker');
  const body: Record<string, unknown> = {
    tasks: page.map(stubView),
    first: '/v2/tasks',
    schema: '/v2/schemas/tasks',
  };
  if (params.length) body.first = `/v2/tasks?${new URLSearchParams(params).toString()}`;
  if (page.length && page.length === limit)
    body.next = `/v2/tasks?${new URLSearchParams([...params, ['marker', page[page.length - 1].id]]).toString()}`;
  return body;
}
