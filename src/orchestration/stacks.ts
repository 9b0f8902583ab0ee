// The stacks, resources, events, snapshots and locks of the orchestration service (Heat's
// db/api.py over Kysely): what the API reads and the engine writes.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { isUniqueViolation, json, now } from '../core/db.ts';
import type { EventTable, OrchestrationDb, ResourceTable, SnapshotTable, StackTable } from './db/schema.ts';
import { type Crypt, ENCRYPTED_PARAM, ENCRYPTED_PREFIX, hiddenParameters } from './crypt.ts';

export interface StackRow
  extends Omit<StackTable, 'template' | 'environment' | 'files' | 'params' | 'tags' | 'disable_rollback'> {
  template: Record<string, unknown>;
  environment: Record<string, unknown>;
  files: Record<string, string>;
  params: Record<string, unknown>;
  tags: string[];
  disable_rollback: boolean;
}

export interface ResourceRow
  extends Omit<ResourceTable, 'properties' | 'attributes' | 'data' | 'metadata' | 'requires'> {
  properties: Record<string, unknown>;
  attributes: Record<string, unknown>;
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  requires: string[];
}

export type EventRow = EventTable;
export interface SnapshotRow extends Omit<SnapshotTable, 'data'> {
  data: Record<string, unknown>;
}

/** The stack's columns but its template, environment, files and graph (stackState). */
const STATE_COLUMNS = [
  'id',
  'name',
  'project_id',
  'user_id',
  'username',
  'owner_id',
  'parent_resource',
  'action',
  'status',
  'status_reason',
  'params',
  'disable_rollback',
  'timeout_mins',
  'tags',
  'created_at',
  'updated_at',
  'deleted_at',
  'trust_id',
  'trustor_user_id',
  'stack_user_project_id',
  'user_creds',
  'current_traversal',
  'raw_template_id',
  'prev_raw_template_id',
  'convergence',
] as const satisfies ReadonlyArray<keyof StackTable>;

function stackRow(r: StackTable): StackRow {
  const row = {
    ...r,
    params: json(r.params, {}),
    tags: json(r.tags, []),
    disable_rollback: !!r.disable_rollback,
  } as unknown as StackRow;
  // The template, environment and files (the template of 1,000 resources is ~100 KB) are parsed
  // on first use: a convergence node reads the stack row two or three times and most reads need
  // only its state (parsing them every time was most of a 1,000-resource traversal's CPU).
  const stored: Stored = {
    key: [r.id, r.template, r.environment, r.files, r.params].join('\0'),
    params: row.params,
    changed: false,
  };
  Object.defineProperty(row, STORED, { value: stored });
  lazyJson(row, 'template', r.template, {}, stored);
  lazyJson(row, 'environment', r.environment, {}, stored);
  lazyJson(row, 'files', r.files, {}, stored);
  return row;
}

/** What a row read from the database was made of (non-enumerable: a copy by spread has none). */
const STORED = Symbol('stored');
interface Stored {
  key: string;
  params: Record<string, unknown>;
  /** template, environment or files set since it was read. */
  changed: boolean;
}

/**
 * A key of the stored template, environment, files and parameters of a stack row as read from the
 * database, while none of them was replaced on the row (a cache of what is loaded from them, e.g.
 * a stack show polled every few milliseconds during a create); null otherwise.
 */
export function storedKey(row: StackRow): string | null {
  const s = (row as unknown as { [STORED]?: Stored })[STORED];
  return s && !s.changed && row.params === s.params ? s.key : null;
}

/** `row[key]` = JSON.parse(text) when first read (an own, enumerable, writable property as before). */
function lazyJson(row: object, key: string, text: string | null, fallback: unknown, stored: Stored) {
  let parsed = false;
  let value: unknown;
  Object.defineProperty(row, key, {
    enumerable: true,
    configurable: true,
    get() {
      if (!parsed) {
        value = json(text, fallback);
        parsed = true;
      }
      return value;
    },
    set(v: unknown) {
      value = v;
      parsed = true;
      stored.changed = true;
    },
  });
}

function resourceRow(r: ResourceTable): ResourceRow {
  return {
    ...r,
    properties: json(r.properties, {}),
    attributes: json(r.attributes, {}),
    data: json(r.data, {}),
    metadata: json(r.metadata, {}),
    requires: json(r.requires, []),
  };
}

export interface StackFilters {
  projectId?: string;
  /** Also stacks that were deleted. */
  showDeleted?: boolean;
  /** Also nested stacks. */
  showNested?: boolean;
  ownerId?: string;
  name?: string;
}

export class StackStore {
  private seq = 0;
  /** Encrypts user_creds, trust_id and hidden parameters at rest (crypt.ts); none: kept in clear. */
  crypt?: Crypt;
  constructor(readonly db: Kysely<OrchestrationDb>) {}

  /** A stored row with its secrets in clear. */
  private stackRow(r: StackTable): StackRow {
    const row = stackRow(r);
    const c = this.crypt;
    if (!c) return row;
    row.user_creds = c.open(row.user_creds);
    row.trust_id = c.open(row.trust_id);
    for (const [k, v] of Object.entries(row.params))
      if (v && typeof v === 'object' && typeof (v as Record<string, unknown>)[ENCRYPTED_PARAM] === 'string')
        row.params[k] = JSON.parse(c.decrypt((v as Record<string, string>)[ENCRYPTED_PARAM]!));
    return row;
  }

  /** The params map as stored: the template's hidden parameters encrypted. */
  private sealParams(params: Record<string, unknown>, template: Record<string, unknown>): Record<string, unknown> {
    const c = this.crypt;
    if (!c) return params;
    const hidden = hiddenParameters(template);
    if (!hidden.size) return params;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(params)) {
      const sealed = v && typeof v === 'object' && ENCRYPTED_PARAM in (v as Record<string, unknown>);
      out[k] = hidden.has(k) && !sealed ? { [ENCRYPTED_PARAM]: c.encrypt(JSON.stringify(v)) } : v;
    }
    return out;
  }

  /** Encrypts what an older version (or a cloud without the key) kept in clear. */
  async sealExisting(): Promise<number> {
    const c = this.crypt;
    if (!c) return 0;
    let n = 0;
    const rows = await this.db.selectFrom('stack').selectAll().execute();
    for (const r of rows) {
      const template = json<Record<string, unknown>>(r.template, {});
      const params = json<Record<string, unknown>>(r.params, {});
      const sealed = JSON.stringify(this.sealParams(params, template));
      const set: Partial<StackTable> = {};
      if (r.user_creds && !r.user_creds.startsWith(ENCRYPTED_PREFIX)) set.user_creds = c.seal(r.user_creds);
      if (r.trust_id && !r.trust_id.startsWith(ENCRYPTED_PREFIX)) set.trust_id = c.seal(r.trust_id);
      if (sealed !== JSON.stringify(params)) set.params = sealed;
      if (!Object.keys(set).length) continue;
      await this.db.updateTable('stack').set(set).where('id', '=', r.id).execute();
      n++;
    }
    return n;
  }

  async init() {
    const r = await this.db
      .selectFrom('event')
      .select((e) => e.fn.max('seq').as('m'))
      .executeTakeFirst();
    this.seq = Number(r?.m ?? 0);
  }

  // ---- stacks ----

  async createStack(
    s: Omit<StackRow, 'created_at' | 'updated_at' | 'deleted_at' | 'stack_user_project_id' | 'user_creds'> &
      Partial<Pick<StackRow, 'stack_user_project_id' | 'user_creds'>>,
  ): Promise<StackRow> {
    const row: StackTable = {
      stack_user_project_id: null,
      user_creds: null,
      ...s,
      template: JSON.stringify(s.template),
      environment: JSON.stringify(s.environment),
      files: JSON.stringify(s.files),
      params: JSON.stringify(this.sealParams(s.params, s.template)),
      tags: JSON.stringify(s.tags),
      disable_rollback: s.disable_rollback ? 1 : 0,
      created_at: now(),
      updated_at: null,
      deleted_at: null,
    };
    if (this.crypt) {
      row.user_creds = this.crypt.seal(row.user_creds);
      row.trust_id = this.crypt.seal(row.trust_id);
    }
    await this.db.insertInto('stack').values(row).execute();
    return this.stackRow(row);
  }

  async getStack(id: string, showDeleted = true): Promise<StackRow | null> {
    let q = this.db.selectFrom('stack').selectAll().where('id', '=', id);
    if (!showDeleted) q = q.where('deleted_at', 'is', null);
    const r = await q.executeTakeFirst();
    return r ? this.stackRow(r) : null;
  }

  /**
   * A live stack's state without its template, environment, files and graph (what a convergence
   * node checks twice: a 1,000-resource stack's template and graph are ~200 KB a read). Reading
   * one of those four throws: the caller reads the whole row when it needs them.
   */
  async stackState(id: string): Promise<StackRow | null> {
    const r = await this.db
      .selectFrom('stack')
      .select(STATE_COLUMNS)
      .where('id', '=', id)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    if (!r) return null;
    const row = this.stackRow({ ...r, template: 'null', environment: 'null', files: 'null' });
    (row as unknown as { [STORED]: Stored })[STORED].changed = true;
    for (const k of ['template', 'environment', 'files', 'current_deps'])
      Object.defineProperty(row, k, {
        enumerable: false,
        get() {
          throw new Error(`stack ${id}: ${k} is not read with the stack's state`);
        },
      });
    return row;
  }

  /** A live stack of a project by name (or id). */
  async findStack(projectId: string | null, nameOrId: string): Promise<StackRow | null> {
    let q = this.db
      .selectFrom('stack')
      .selectAll()
      .where('deleted_at', 'is', null)
      .where((e) => e.or([e('name', '=', nameOrId), e('id', '=', nameOrId)]));
    if (projectId) q = q.where('project_id', '=', projectId);
    const r = await q.orderBy('created_at', 'desc').executeTakeFirst();
    return r ? this.stackRow(r) : null;
  }

  async listStacks(f: StackFilters): Promise<StackRow[]> {
    let q = this.db.selectFrom('stack').selectAll();
    if (f.projectId) q = q.where('project_id', '=', f.projectId);
    if (!f.showDeleted) q = q.where('deleted_at', 'is', null);
    if (f.ownerId) q = q.where('owner_id', '=', f.ownerId);
    else if (!f.showNested) q = q.where('owner_id', 'is', null);
    if (f.name) q = q.where('name', '=', f.name);
    return (await q.orderBy('created_at', 'desc').orderBy('id').execute()).map((r) => this.stackRow(r));
  }

  async childStacks(ownerId: string): Promise<StackRow[]> {
    return this.listStacks({ ownerId });
  }

  async updateStack(
    id: string,
    patch: Partial<
      Pick<
        StackRow,
        | 'action'
        | 'status'
        | 'status_reason'
        | 'template'
        | 'environment'
        | 'files'
        | 'params'
        | 'tags'
        | 'disable_rollback'
        | 'timeout_mins'
        | 'deleted_at'
        | 'updated_at'
        | 'stack_user_project_id'
        | 'current_traversal'
        | 'current_deps'
        | 'raw_template_id'
        | 'prev_raw_template_id'
        | 'convergence'
      >
    >,
  ) {
    const set: Partial<StackTable> = {};
    if (patch.params && this.crypt) {
      const template =
        patch.template ??
        json<Record<string, unknown>>(
          (await this.db.selectFrom('stack').select('template').where('id', '=', id).executeTakeFirst())?.template,
          {},
        );
      patch = { ...patch, params: this.sealParams(patch.params, template) };
    }
    for (const [k, v] of Object.entries(patch)) {
      if (k === 'template' || k === 'environment' || k === 'files' || k === 'params' || k === 'tags')
        (set as Record<string, unknown>)[k] = JSON.stringify(v);
      else if (k === 'disable_rollback') set.disable_rollback = v ? 1 : 0;
      else (set as Record<string, unknown>)[k] = v;
    }
    await this.db.updateTable('stack').set(set).where('id', '=', id).execute();
  }

  // ---- resources ----

  async resources(stackId: string): Promise<ResourceRow[]> {
    return (
      await this.db
        .selectFrom('resource')
        .selectAll()
        .where('stack_id', '=', stackId)
        .orderBy('created_at')
        .orderBy('name')
        .execute()
    ).map(resourceRow);
  }

  /** The resource of that name (during a replacement, the new row rather than the one it replaces). */
  async resource(stackId: string, name: string): Promise<ResourceRow | null> {
    const rows = await this.db
      .selectFrom('resource')
      .selectAll()
      .where('stack_id', '=', stackId)
      .where('name', '=', name)
      .orderBy('created_at', 'desc')
      .execute();
    const r = rows.find((x) => !x.replaced_by) ?? rows[0];
    return r ? resourceRow(r) : null;
  }

  /** The rows of some names of a stack. */
  async resourcesNamed(stackId: string, names: string[]): Promise<ResourceRow[]> {
    if (!names.length) return [];
    return (
      await this.db
        .selectFrom('resource')
        .selectAll()
        .where('stack_id', '=', stackId)
        .where('name', 'in', names)
        .orderBy('created_at')
        .orderBy('name')
        .execute()
    ).map(resourceRow);
  }

  async resourceById(id: string): Promise<ResourceRow | null> {
    const r = await this.db.selectFrom('resource').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? resourceRow(r) : null;
  }

  // ---- convergence: the resource lock, raw templates, sync points ----

  /** Takes a resource's engine lock; answers null when taken, else the engine that holds it. */
  async claimResource(id: string, engineId: string, from: string | null = null): Promise<string | null> {
    let q = this.db.updateTable('resource').set({ engine_id: engineId }).where('id', '=', id);
    q = from === null ? q.where('engine_id', 'is', null) : q.where('engine_id', '=', from);
    const r = await q.executeTakeFirst();
    if (Number(r.numUpdatedRows) === 1) return null;
    const cur = await this.db.selectFrom('resource').select('engine_id').where('id', '=', id).executeTakeFirst();
    if (!cur) return null;
    return cur.engine_id ?? (from === null ? this.claimResource(id, engineId) : null);
  }

  /**
   * Takes the engine lock of the free rows among `ids` in one statement (a batch of clean-up nodes);
   * answers the ids taken (a row held by an engine, or gone, is not among them).
   */
  async claimResources(ids: string[], engineId: string): Promise<Set<string>> {
    if (!ids.length) return new Set();
    const rows = await this.db
      .updateTable('resource')
      .set({ engine_id: engineId })
      .where('id', 'in', ids)
      .where('engine_id', 'is', null)
      .returning('id')
      .execute();
    return new Set(rows.map((r) => r.id));
  }

  /** Releases the engine lock of some rows this engine holds, in one statement. */
  async releaseResources(ids: string[], engineId: string) {
    if (!ids.length) return;
    await this.db
      .updateTable('resource')
      .set({ engine_id: null })
      .where('id', 'in', ids)
      .where('engine_id', '=', engineId)
      .execute();
  }

  /** The rows of some ids. */
  async resourcesByIds(ids: string[]): Promise<ResourceRow[]> {
    if (!ids.length) return [];
    return (await this.db.selectFrom('resource').selectAll().where('id', 'in', ids).execute()).map(resourceRow);
  }

  /** Sets the state of some rows at once (a batch of deletes going IN_PROGRESS). */
  async setResourcesState(
    ids: string[],
    state: Pick<ResourceRow, 'action' | 'status' | 'status_reason' | 'updated_at'>,
  ) {
    if (!ids.length) return;
    await this.db.updateTable('resource').set(state).where('id', 'in', ids).execute();
  }

  async releaseResource(id: string, engineId: string) {
    await this.db
      .updateTable('resource')
      .set({ engine_id: null })
      .where('id', '=', id)
      .where('engine_id', '=', engineId)
      .execute();
  }

  async addRawTemplate(
    stackId: string,
    t: Pick<StackRow, 'template' | 'environment' | 'files' | 'params'>,
  ): Promise<string> {
    const id = randomUUID();
    await this.db
      .insertInto('raw_template')
      .values({
        id,
        stack_id: stackId,
        template: JSON.stringify(t.template),
        environment: JSON.stringify(t.environment),
        files: JSON.stringify(t.files),
        params: JSON.stringify(this.sealParams(t.params, t.template)),
        created_at: now(),
      })
      .execute();
    return id;
  }

  async rawTemplate(id: string): Promise<Pick<StackRow, 'template' | 'environment' | 'files' | 'params'> | null> {
    const r = await this.db.selectFrom('raw_template').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) return null;
    // The stored params are opened as a stack row's are.
    const opened = this.stackRow({
      template: r.template,
      params: r.params,
      user_creds: null,
      trust_id: null,
    } as StackTable);
    return {
      template: json(r.template, {}),
      environment: json(r.environment, {}),
      files: json(r.files, {}),
      params: opened.params,
    };
  }

  /** Sets a convergence stack's state only while `traversal` is its current one; false when superseded. */
  async setStackIfTraversal(
    id: string,
    traversal: string,
    patch: Partial<Pick<StackTable, 'action' | 'status' | 'status_reason' | 'updated_at' | 'prev_raw_template_id'>>,
  ): Promise<boolean> {
    const r = await this.db
      .updateTable('stack')
      .set(patch)
      .where('id', '=', id)
      .where('current_traversal', '=', traversal)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** Deletes a raw template unless a stack still names it (current or previous). */
  async dropRawTemplate(id: string | null | undefined) {
    if (!id) return;
    const used = await this.db
      .selectFrom('stack')
      .select('id')
      .where((e) => e.or([e('raw_template_id', '=', id), e('prev_raw_template_id', '=', id)]))
      .executeTakeFirst();
    if (!used) await this.db.deleteFrom('raw_template').where('id', '=', id).execute();
  }

  /** Deletes the sync points of one traversal. */
  async purgeTraversal(stackId: string, traversal: string) {
    await this.db
      .deleteFrom('sync_point')
      .where('stack_id', '=', stackId)
      .where('traversal_id', '=', traversal)
      .execute();
  }

  /** Deletes the raw templates of a stack but those kept. */
  async purgeRawTemplates(stackId: string, keep: (string | null | undefined)[]) {
    const ids = keep.filter((x): x is string => !!x);
    let q = this.db.deleteFrom('raw_template').where('stack_id', '=', stackId);
    if (ids.length) q = q.where('id', 'not in', ids);
    await q.execute();
  }

  async createSyncPoints(stackId: string, traversal: string, entities: Array<[string, boolean]>) {
    const rows = entities.map(([entity, isUpdate]) => ({
      entity_id: entity,
      traversal_id: traversal,
      is_update: isUpdate ? 1 : 0,
      stack_id: stackId,
      atomic_key: 0,
      input_data: '[]',
      created_at: now(),
      updated_at: null,
    }));
    for (let i = 0; i < rows.length; i += 100)
      await this.db
        .insertInto('sync_point')
        .values(rows.slice(i, i + 100))
        .execute();
  }

  /**
   * Adds `from` to what a sync point received (compare-and-swap on atomic_key, retried); answers
   * what it has received now, and whether this write added the last of `expected` (exactly one
   * writer sees that).
   */
  async syncPointAdd(
    entity: string,
    traversal: string,
    isUpdate: boolean,
    from: string,
    expected: string[],
  ): Promise<{ complete: boolean; received: string[] } | null> {
    // The inputs of one sync point that arrive on this process while a write of it is under way are
    // written together, in one read-modify-write (a DELETE traversal's 1,000 clean-up nodes report
    // to the stack's sync point at once: one row rewritten by each with retries was O(n^2)).
    const key = `${entity}\0${traversal}\0${isUpdate ? 1 : 0}`;
    let batch = this.syncBatches.get(key);
    if (!batch) {
      batch = { inputs: [] };
      this.syncBatches.set(key, batch);
      const b = batch;
      // The write starts at once (after the inputs sent in the same turn) when this process writes
      // no other batch of the same sync point, else after that write (no compare-and-swap conflicts
      // between them): the inputs sent meanwhile join it. Waiting for the next turn of the event
      // loop (setImmediate) in every case cost each node of a traversal tens of milliseconds on its
      // critical path on a busy process.
      // A sync point of many inputs (the stack's own, of a large stack) still waits for the next
      // turn: its inputs arrive together, and one write each would rewrite its list n times.
      const prev = this.syncWriting.get(key);
      const start =
        expected.length > 100
          ? Promise.all([new Promise((resolve) => setImmediate(resolve)), prev?.catch(() => undefined)])
          : prev
            ? prev.catch(() => undefined)
            : Promise.resolve();
      const done = start.then(async () => {
        this.syncBatches.delete(key);
        return this.syncPointWrite(entity, traversal, isUpdate, b.inputs);
      });
      b.done = done;
      this.syncWriting.set(key, done);
      done
        .catch(() => undefined)
        .then(() => {
          if (this.syncWriting.get(key) === done) this.syncWriting.delete(key);
        });
    }
    batch.inputs.push({ from, expected });
    const i = batch.inputs.length - 1;
    const res = await batch.done!;
    return res ? { complete: res.completeAt === i, received: res.received } : null;
  }

  private readonly syncWriting = new Map<string, Promise<unknown>>();
  private readonly syncBatches = new Map<
    string,
    {
      inputs: Array<{ from: string; expected: string[] }>;
      done?: Promise<{ completeAt: number; received: string[] } | null>;
    }
  >();

  /** One read-modify-write of a sync point for a batch of inputs; which input (if any) completed it. */
  private async syncPointWrite(
    entity: string,
    traversal: string,
    isUpdate: boolean,
    inputs: Array<{ from: string; expected: string[] }>,
  ): Promise<{ completeAt: number; received: string[] } | null> {
    for (let i = 0; i < 100; i++) {
      const r = await this.db
        .selectFrom('sync_point')
        .selectAll()
        .where('entity_id', '=', entity)
        .where('traversal_id', '=', traversal)
        .where('is_update', '=', isUpdate ? 1 : 0)
        .executeTakeFirst();
      if (!r) return null;
      const received = json<string[]>(r.input_data, []);
      // A Set: the stack's own sync point expects every resource (1,000 in the benchmark's stack).
      const got = new Set(received);
      const expected = inputs[0]!.expected;
      let complete = expected.every((e) => got.has(e));
      let completeAt = -1;
      let added = false;
      inputs.forEach((inp, k) => {
        if (got.has(inp.from)) return;
        received.push(inp.from);
        got.add(inp.from);
        added = true;
        if (!complete && expected.every((e) => got.has(e))) {
          complete = true;
          completeAt = k;
        }
      });
      if (!added) return { completeAt: -1, received };
      const res = await this.db
        .updateTable('sync_point')
        .set({ input_data: JSON.stringify(received), atomic_key: r.atomic_key + 1, updated_at: now() })
        .where('entity_id', '=', entity)
        .where('traversal_id', '=', traversal)
        .where('is_update', '=', isUpdate ? 1 : 0)
        .where('atomic_key', '=', r.atomic_key)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 1) return { completeAt, received };
    }
    throw new Error(`sync point ${entity} of traversal ${traversal}: too many concurrent writers`);
  }

  /** Deletes the sync points of a stack's traversals (all but `keep`). */
  async purgeSyncPoints(stackId: string, keep?: string) {
    let q = this.db.deleteFrom('sync_point').where('stack_id', '=', stackId);
    if (keep) q = q.where('traversal_id', '!=', keep);
    await q.execute();
  }

  /** Saves a row that exists (a row deleted meanwhile, by a newer traversal, stays deleted). */
  async updateResource(r: ResourceRow): Promise<boolean> {
    const { id, engine_id: _lock, ...rest } = resourceTable(r);
    const res = await this.db.updateTable('resource').set(rest).where('id', '=', id).executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  async saveResource(r: ResourceRow) {
    const row = resourceTable(r);
    // The engine lock (convergence) is only taken and released by claimResource/releaseResource.
    const { id, engine_id: _lock, ...rest } = row;
    const res = await this.db.updateTable('resource').set(rest).where('id', '=', id).executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) await this.db.insertInto('resource').values(row).execute();
  }

  /** Sets a resource's metadata alone (Heat's metadata_set). */
  async setResourceMetadata(id: string, metadata: Record<string, unknown>) {
    await this.db
      .updateTable('resource')
      .set({ metadata: JSON.stringify(metadata) })
      .where('id', '=', id)
      .execute();
  }

  /** Inserts new rows (a traversal's INIT rows), 100 a statement. */
  async insertResources(rs: ResourceRow[]) {
    const rows = rs.map(resourceTable);
    for (let i = 0; i < rows.length; i += 100)
      await this.db
        .insertInto('resource')
        .values(rows.slice(i, i + 100))
        .execute();
  }

  async deleteResource(id: string) {
    await this.db.deleteFrom('resource').where('id', '=', id).execute();
  }

  async deleteResources(ids: string[]) {
    for (let i = 0; i < ids.length; i += 500)
      await this.db
        .deleteFrom('resource')
        .where('id', 'in', ids.slice(i, i + 500))
        .execute();
  }

  // ---- events ----

  async addEvent(e: Omit<EventRow, 'id' | 'seq' | 'created_at'>): Promise<EventRow> {
    const row: EventRow = { ...e, id: randomUUID(), seq: ++this.seq, created_at: now() };
    await this.db.insertInto('event').values(row).execute();
    return row;
  }

  /** Adds events in order, 100 a statement. */
  async addEvents(es: Array<Omit<EventRow, 'id' | 'seq' | 'created_at'>>): Promise<void> {
    const at = now();
    const rows: EventRow[] = es.map((e) => ({ ...e, id: randomUUID(), seq: ++this.seq, created_at: at }));
    for (let i = 0; i < rows.length; i += 100)
      await this.db
        .insertInto('event')
        .values(rows.slice(i, i + 100))
        .execute();
  }

  async events(stackId: string, resourceName?: string): Promise<EventRow[]> {
    let q = this.db.selectFrom('event').selectAll().where('stack_id', '=', stackId);
    if (resourceName) q = q.where('resource_name', '=', resourceName);
    return q.orderBy('created_at').orderBy('seq').execute();
  }

  async event(id: string): Promise<EventRow | null> {
    return (await this.db.selectFrom('event').selectAll().where('id', '=', id).executeTakeFirst()) ?? null;
  }

  // ---- snapshots ----

  async addSnapshot(s: Omit<SnapshotRow, 'created_at'>): Promise<SnapshotRow> {
    const row = { ...s, data: JSON.stringify(s.data), created_at: now() };
    await this.db.insertInto('snapshot').values(row).execute();
    return { ...s, created_at: row.created_at };
  }

  async snapshots(stackId: string): Promise<SnapshotRow[]> {
    const rows = await this.db
      .selectFrom('snapshot')
      .selectAll()
      .where('stack_id', '=', stackId)
      .orderBy('created_at')
      .execute();
    return rows.map((r) => ({ ...r, data: json(r.data, {}) }));
  }

  async snapshot(stackId: string, id: string): Promise<SnapshotRow | null> {
    const r = await this.db
      .selectFrom('snapshot')
      .selectAll()
      .where('stack_id', '=', stackId)
      .where('id', '=', id)
      .executeTakeFirst();
    return r ? { ...r, data: json(r.data, {}) } : null;
  }

  async deleteSnapshot(id: string) {
    await this.db.deleteFrom('snapshot').where('id', '=', id).execute();
  }

  // ---- locks (Heat's stack_lock) ----

  /** Takes the lock; answers null when taken, else the engine that holds it. */
  async tryLock(stackId: string, engineId: string): Promise<string | null> {
    try {
      await this.db
        .insertInto('stack_lock')
        .values({ stack_id: stackId, engine_id: engineId, created_at: now() })
        .execute();
      return null;
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
      const r = await this.db
        .selectFrom('stack_lock')
        .select('engine_id')
        .where('stack_id', '=', stackId)
        .executeTakeFirst();
      return r?.engine_id ?? (await this.tryLock(stackId, engineId));
    }
  }

  /** Steals the lock from `from` (a dead engine); false when someone else changed it first. */
  async stealLock(stackId: string, from: string, to: string): Promise<boolean> {
    const r = await this.db
      .updateTable('stack_lock')
      .set({ engine_id: to, created_at: now() })
      .where('stack_id', '=', stackId)
      .where('engine_id', '=', from)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async unlock(stackId: string, engineId: string) {
    await this.db.deleteFrom('stack_lock').where('stack_id', '=', stackId).where('engine_id', '=', engineId).execute();
  }

  async lockHolder(stackId: string): Promise<string | null> {
    const r = await this.db
      .selectFrom('stack_lock')
      .select('engine_id')
      .where('stack_id', '=', stackId)
      .executeTakeFirst();
    return r?.engine_id ?? null;
  }
}

/** A resource row as its table stores it: the JSON columns serialized. */
function resourceTable(r: ResourceRow): ResourceTable {
  return {
    ...r,
    properties: JSON.stringify(r.properties),
    attributes: JSON.stringify(r.attributes),
    data: JSON.stringify(r.data),
    metadata: JSON.stringify(r.metadata),
    requires: JSON.stringify(r.requires),
  };
}
