// Glance's tasks: the `tasks` table (the tasks API's `import` tasks and the api_image_import
// tasks of interoperable import) and the `import` task's work. A task ends with an expires_at
// (task_time_to_live, 48 h) and is removed once past it.
import type { Insertable, Kysely, Selectable } from 'kysely';
import type { AuthContext } from '../core/auth.ts';
import { ApiError } from '../core/errors.ts';
import type { ImageDb, TaskTable } from './db/schema.ts';
import type { ImageService } from './service.ts';
import { download } from './import_flow.ts';
import { newImage } from './images.ts';
import { saveData } from './stores.ts';

const TASK_TTL_MS = 48 * 3600 * 1000;

export class TaskStore {
  constructor(private readonly db: Kysely<ImageDb>) {}

  async insert(row: Insertable<TaskTable>) {
    await this.db.insertInto('tasks').values(row).execute();
  }
  get(id: string): Promise<Selectable<TaskTable> | undefined> {
    return this.db.selectFrom('tasks').selectAll().where('id', '=', id).executeTakeFirst();
  }
  all(): Promise<Selectable<TaskTable>[]> {
    return this.db.selectFrom('tasks').selectAll().execute();
  }
  forImage(imageId: string): Promise<Selectable<TaskTable>[]> {
    return this.db.selectFrom('tasks').selectAll().where('image_id', '=', imageId).orderBy('created_at').execute();
  }
  async update(id: string, values: { status?: string; image_id?: string }) {
    await this.db
      .updateTable('tasks')
      .set({ ...values, updated_at: new Date().toISOString() })
      .where('id', '=', id)
      .execute();
  }
  /** Records the end of a task: status, message, result, and its expiry. */
  async finish(id: string, status: 'success' | 'failure', message: string, result?: unknown) {
    const t = new Date();
    await this.db
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
  /** Tasks past their expiry are gone, as Glance's are once expired. */
  async reap() {
    await this.db
      .deleteFrom('tasks')
      .where('expires_at', 'is not', null)
      .where('expires_at', '<', new Date().toISOString())
      .execute();
  }
}

/** The `import` task: a new image from image_properties, its data from import_from. */
export async function runImportTask(
  svc: ImageService,
  task: { id: string; owner: string | null; input: Record<string, unknown> },
  ctx: AuthContext,
) {
  await svc.tasks.update(task.id, { status: 'processing' });
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
    await svc.tasks.update(task.id, { image_id: img.id });
    if (!(await svc.repo.transition(img.id, ['queued'], 'saving')))
      throw new ApiError(409, 'The image changed while the task ran.');
    await saveData(svc, img, await download(uri), svc.defaultStore, ['saving'], 'queued');
    await svc.tasks.finish(task.id, 'success', '', { image_id: img.id });
  } catch (e) {
    svc.ctx.log.warn({ err: e, task: task.id }, 'import task failed');
    if (imageId) await svc.repo.transition(imageId, ['queued', 'saving'], 'killed').catch(() => false);
    await svc.tasks.finish(task.id, 'failure', String((e as Error)?.message ?? e));
  }
}
