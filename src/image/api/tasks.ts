// The tasks API (Glance's deprecated but still served /v2/tasks, admin-only by default):
// create an `import` task (a new image filled from `import_from`), list with filters, sorting and
// pagination, show, and the task schemas. Tasks end with an expires_at (task_time_to_live, 48 h)
// and are removed once past it. The api_image_import tasks of interoperable import are listed too.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import type { Selectable } from 'kysely';
import type { TaskTable } from '../db/schema.ts';
import type { ImageService } from '../service.ts';
import { download } from '../import_flow.ts';
import { newImage, validateAttribute } from '../images.ts';
import { saveData } from '../stores.ts';
import { isUuidLike } from '../../core/validate.ts';

const TASK_TTL_MS = 48 * 3600 * 1000;
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

/** Records the end of a task: status, message, result, and its expiry. */
export async function finishTask(
  svc: ImageService,
  id: string,
  status: 'success' | 'failure',
  message: string,
  result?: unknown,
) {
  const t = new Date();
  await svc.db
    .updateTable('tasks')
    .set({
      status,
      message,
      updated_at: t.toISOString(),
      expires_at: new Date(t.getTime() + TASK_TTL_MS).toISOString(),
      ...(result !== undefined ? { result: JSON.stringify(result) } : {}),
    })
    .where('id', '=', id)
    .execute();
}

/** The `import` task: a new image from image_properties, its data from import_from. */
async function runImportTask(
  svc: ImageService,
  task: { id: string; owner: string | null; input: Record<string, unknown> },
  req: FastifyRequest,
) {
  const ctx = req.ctx!;
  await svc.db
    .updateTable('tasks')
    .set({ status: 'processing', updated_at: new Date().toISOString() })
    .where('id', '=', task.id)
    .execute();
  let imageId: string | undefined;
  try {
    for (const key of ['import_from', 'import_from_format', 'image_properties']) {
      if (!(key in task.input)) throw new ApiError(400, `Input does not contain '${key}' field`);
    }
    const uri = task.input.import_from;
    if (typeof uri !== 'string' || !/^https?:\/\//.test(uri))
      throw new ApiError(
        400,
        `The given uri is not valid. Please specify a valid uri from the following list of supported uri ['http', 'https']`,
      );
    const props = task.input.image_properties as Record<string, unknown> | null;
    if (!props || typeof props !== 'object' || Array.isArray(props))
      throw new ApiError(400, 'image_properties must be an object');
    const img = newImage({ ...props, owner: props.owner ?? task.owner }, ctx);
    await svc.repo.insert(img);
    imageId = img.id;
    await svc.db.updateTable('tasks').set({ image_id: img.id }).where('id', '=', task.id).execute();
    if (!(await svc.repo.transition(img.id, ['queued'], 'saving')))
      throw new ApiError(409, 'The image changed while the task ran.');
    await saveData(svc, img, await download(uri), svc.defaultStore, ['saving'], 'queued');
    await finishTask(svc, task.id, 'success', '', { image_id: img.id });
  } catch (e) {
    svc.ctx.log.warn({ err: e, task: task.id }, 'import task failed');
    if (imageId) await svc.repo.transition(imageId, ['queued', 'saving'], 'killed').catch(() => false);
    await finishTask(svc, task.id, 'failure', String((e as Error)?.message ?? e));
  }
}

export function registerTaskRoutes(app: FastifyInstance, svc: ImageService) {
  app.get('/v2/schemas/task', { config: { auth: 'optional' } }, async () => taskSchema());
  app.get('/v2/schemas/tasks', { config: { auth: 'optional' } }, async () => ({
    name: 'tasks',
    properties: {
      tasks: { type: 'array', items: partialTaskSchema() },
      schema: { type: 'string' },
      first: { type: 'string' },
      next: { type: 'string' },
    },
    links: [
      { rel: 'first', href: '{first}' },
      { rel: 'next', href: '{next}' },
      { rel: 'describedby', href: '{schema}' },
    ],
  }));

  /** Tasks past their expiry are gone, as Glance's are once expired. */
  const reap = () =>
    svc.db
      .deleteFrom('tasks')
      .where('expires_at', 'is not', null)
      .where('expires_at', '<', new Date().toISOString())
      .execute();

  app.post('/v2/tasks', async (req, reply) => {
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
    await svc.db.insertInto('tasks').values(row).execute();
    // Runs after the 201, as Glance's task executor does.
    setImmediate(() => void runImportTask(svc, { id: row.id, owner: row.owner, input }, req));
    reply.code(201).header('Location', `/v2/tasks/${row.id}`);
    return taskView(row);
  });

  app.get<{ Params: { id: string } }>('/v2/tasks/:id', async (req) => {
    req.authorize('tasks_api_access');
    req.authorize('get_task');
    await reap();
    const r = await svc.db.selectFrom('tasks').selectAll().where('id', '=', req.params.id).executeTakeFirst();
    if (!r || (!req.allowed('context_is_admin') && r.owner !== req.ctx?.projectId))
      throw new ApiError(404, `Task with the given id ${req.params.id} not found`);
    return taskView(r);
  });

  app.delete<{ Params: { id: string } }>('/v2/tasks/:id', async (req) => {
    req.authorize('tasks_api_access');
    throw new ApiError(
      405,
      'This operation is currently not permitted on Glance Tasks. They are auto deleted after reaching the time based on their expires_at property.',
      undefined,
      { Allow: 'GET' },
    );
  });

  app.get('/v2/tasks', async (req) => {
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
    await reap();
    let rows = await svc.db.selectFrom('tasks').selectAll().execute();
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
  });
}
