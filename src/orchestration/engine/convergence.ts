// The convergence engine (Heat's convergence_engine = true; upstream heat/engine/worker.py,
// check_resource.py, sync_point.py and stack.converge_stack). A create or update of a top-level
// stack is one *traversal*: the stack's `current_traversal` names it, its graph is kept on the stack
// row (`current_deps`), and its template on a raw_template row. The graph's nodes are
// `<resource id>:u` (create or update the resource to the traversal's template) and
// `<resource id>:c` (clean up a row that existed before: a row the template no longer has, or one
// an update replaced), plus the stack itself as the sink. Each node is one `check_resource`
// message cast over the bus to any engine of the topic; the engine takes the resource's engine
// lock (`resource.engine_id`), does that one resource, and reports to each successor's sync point
// (a row per node and traversal, compare-and-swap on `atomic_key`); the write that completes a
// successor's inputs casts the successor. A newer traversal supersedes an older one: the older
// one's messages stop at their next check, and a resource the older one still works on is waited
// for (its message comes back later). A resource failure fails the stack and, unless
// `disable_rollback`, starts a ROLLBACK traversal to the previous template (an empty one after a
// create). Nested stacks are stacks of their own, walked inside their parent resource's node.
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../core/log.ts';
import { now } from '../../core/db.ts';
import type { ResourceRow, StackRow } from '../stacks.ts';
import type { Caller, Engine, Job } from './engine.ts';
import { type LoadedStack, loadStored } from './stack.ts';

/** One node of a traversal, sent to any engine (Heat's worker.check_resource). */
export interface CheckResourceMsg {
  caller: Caller;
  stack_id: string;
  traversal_id: string;
  /** The resource row's id (the stack's id for the sink). */
  entity: string;
  is_update: boolean;
  /**
   * Clean-up nodes cast together (`entity` is the first): one message, one claim, one read of
   * the rows and a few statements for all of them (a DELETE traversal's 1,000 sources were 1,000
   * messages of ~7 statements each).
   */
  batch?: string[];
}

/** Clean-up nodes ready together go in one message of up to this many. */
const BATCH = 100;

interface Graph {
  /** node key → the keys it waits for. */
  preds: Map<string, string[]>;
  /** node key → the keys waiting for it ('stack' for a leaf). */
  succs: Map<string, string[]>;
}

const SINK = 'stack';
const nodeKey = (id: string, isUpdate: boolean) => `${id}:${isUpdate ? 'u' : 'c'}`;
const parseKey = (k: string): [string, boolean] => [k.slice(0, -2), k.endsWith(':u')];

function graphOf(edges: Array<[string, string]>, nodes: string[]): Graph {
  const preds = new Map<string, string[]>();
  const succs = new Map<string, string[]>();
  for (const n of nodes) {
    preds.set(n, []);
    succs.set(n, []);
  }
  preds.set(SINK, []);
  for (const [a, b] of edges) {
    succs.get(a)?.push(b);
    preds.get(b)?.push(a);
  }
  for (const n of nodes)
    if (!succs.get(n)!.length) {
      succs.get(n)!.push(SINK);
      preds.get(SINK)!.push(n);
    }
  return { preds, succs };
}

export class Convergence {
  /** check_resource messages this engine did (the tests show that engines share a traversal). */
  handled = 0;
  /** Sends a check_resource to any engine of the topic (the service sets the RPC cast). */
  cast: (m: CheckResourceMsg) => void = (m) => {
    setImmediate(() => void this.checkResource(m));
  };
  /** The jobs of the nodes this engine works on now, by stack. */
  private readonly running = new Map<string, Set<Job>>();
  private readonly graphs = new Map<string, Graph>();
  private readonly loaded = new Map<string, Promise<{ target: StackRow; loaded: LoadedStack }>>();
  private readonly owns = new Map<string, Promise<LoadedStack>>();

  constructor(
    private readonly engine: Engine,
    private readonly log: Logger,
  ) {}

  /** Starts a traversal of `row` to the raw template `rawId` (Heat's Stack.converge_stack). */
  async converge(row: StackRow, action: string, rawId: string, caller: Caller, reason?: string): Promise<string> {
    const { store } = this.engine;
    const target = await store.rawTemplate(rawId);
    if (!target) throw new Error(`raw template ${rawId} of stack ${row.id} is gone`);
    const loaded = await loadStored(this.engine.registry, { ...row, ...target });
    const existing = await store.resources(row.id);
    const current = new Map<string, ResourceRow>();
    for (const r of existing) if (!r.replaced_by) current.set(r.name, r);
    // A rollback where the replaced resource still exists (Heat's _get_best_existing_rsrc_db): the
    // row made for the target template is current again, its replacement is cleaned up.
    for (const old of existing) {
      const now = current.get(old.name);
      if (!old.replaced_by || old.current_template_id !== rawId || !now || now.current_template_id === rawId) continue;
      old.replaced_by = null;
      now.replaced_by = old.id;
      await store.saveResource(old);
      await store.saveResource(now);
      current.set(old.name, old);
    }
    const byName = new Map<string, ResourceRow[]>();
    for (const r of existing) byName.set(r.name, [...(byName.get(r.name) ?? []), r]);
    const traversal = randomUUID();
    const nodes: string[] = [];
    const edges: Array<[string, string]> = [];
    const idOf = new Map<string, string>();
    const neededBy = new Map<string, string[]>();
    for (const [name, deps] of Object.entries(loaded.deps))
      for (const d of deps) neededBy.set(d, [...(neededBy.get(d) ?? []), name]);
    const made: ResourceRow[] = [];
    for (const [name, def] of Object.entries(loaded.defs)) {
      let r = current.get(name);
      if (!r) {
        r = this.engine.newRow(row, name, def.type, loaded.deps[name] ?? [], {});
        r.needed_by = JSON.stringify(neededBy.get(name) ?? []);
        made.push(r);
      }
      idOf.set(name, r.id);
      nodes.push(nodeKey(r.id, true));
    }
    // The new INIT rows in one statement per 100 (a statement each was 2 per row on the critical path).
    await store.insertResources(made);
    for (const name of Object.keys(loaded.defs))
      for (const d of loaded.deps[name] ?? []) {
        const dep = idOf.get(d);
        if (!dep) continue;
        edges.push([nodeKey(dep, true), nodeKey(idOf.get(name)!, true)]);
        // A row of the dependency that existed before goes only after this one moved off it.
        for (const old of byName.get(d) ?? []) edges.push([nodeKey(idOf.get(name)!, true), nodeKey(old.id, false)]);
      }
    for (const r of existing) {
      nodes.push(nodeKey(r.id, false));
      const now = idOf.get(r.name);
      if (now) edges.push([nodeKey(now, true), nodeKey(r.id, false)]);
      // Clean-up in reverse: what required a row goes first.
      for (const req of r.requires)
        for (const s of byName.get(req) ?? [])
          if (s.id !== r.id) edges.push([nodeKey(r.id, false), nodeKey(s.id, false)]);
    }
    const graph = graphOf(edges, nodes);
    this.graphs.set(traversal, graph);
    await store.purgeSyncPoints(row.id);
    await store.createSyncPoints(row.id, traversal, [...nodes.map(parseKey), [row.id, true]]);
    await store.updateStack(row.id, {
      current_traversal: traversal,
      current_deps: JSON.stringify({ nodes, edges }),
      raw_template_id: rawId,
      convergence: 1,
    });
    row.current_traversal = traversal;
    row.raw_template_id = rawId;
    await this.engine.setStack(row, action, 'IN_PROGRESS', reason ?? `Stack ${action} started`);
    const sources = nodes.filter((n) => !graph.preds.get(n)!.length);
    if (!nodes.length) await this.complete(row.id, traversal, caller);
    this.castNodes(caller, row.id, traversal, sources);
    return traversal;
  }

  /** Casts nodes ready to run: an update node alone, clean-up nodes up to BATCH a message. */
  private castNodes(caller: Caller, stackId: string, traversal: string, keys: string[]) {
    const cleanups: string[] = [];
    for (const k of keys) {
      const [entity, is_update] = parseKey(k);
      if (is_update) this.cast({ caller, stack_id: stackId, traversal_id: traversal, entity, is_update });
      else cleanups.push(entity);
    }
    for (let i = 0; i < cleanups.length; i += BATCH) {
      const batch = cleanups.slice(i, i + BATCH);
      this.cast({
        caller,
        stack_id: stackId,
        traversal_id: traversal,
        entity: batch[0]!,
        is_update: false,
        ...(batch.length > 1 ? { batch } : {}),
      });
    }
  }

  private async graph(row: StackRow): Promise<Graph> {
    const t = row.current_traversal!;
    let g = this.graphs.get(t);
    if (!g) {
      // Not on this engine yet: the graph from the stack's whole row (not in its state).
      const deps = (await this.engine.store.getStack(row.id, false))?.current_deps;
      const { nodes, edges } = JSON.parse(deps ?? '{"nodes":[],"edges":[]}');
      g = graphOf(edges, nodes);
      if (this.graphs.size > 64) this.graphs.clear();
      this.graphs.set(t, g);
    }
    return g;
  }

  /** The traversal's target template, loaded once per traversal on this engine. */
  private loadedFor(stack: StackRow): Promise<{ target: StackRow; loaded: LoadedStack }> {
    const key = `${stack.current_traversal}:${stack.raw_template_id}`;
    let p = this.loaded.get(key);
    if (!p) {
      p = (async () => {
        const raw = await this.engine.store.rawTemplate(stack.raw_template_id ?? '');
        // `stack` is its state (stackState): the template, environment and files are the raw
        // template's, or else the stack's own from its whole row.
        const target = raw ? { ...stack, ...raw } : ((await this.engine.store.getStack(stack.id, false)) ?? stack);
        return { target, loaded: await loadStored(this.engine.registry, target) };
      })();
      if (this.loaded.size > 32) this.loaded.clear();
      this.loaded.set(key, p);
      p.catch(() => this.loaded.delete(key));
    }
    return p;
  }

  /** The stack's own (last applied) template, loaded once per traversal on this engine. */
  private ownFor(stack: StackRow): Promise<LoadedStack> {
    const key = `${stack.current_traversal}:own`;
    let p = this.owns.get(key);
    if (!p) {
      // The stack's whole row (`stack` is its state).
      p = this.engine.store.getStack(stack.id, false).then((row) => loadStored(this.engine.registry, row ?? stack));
      if (this.owns.size > 32) this.owns.clear();
      this.owns.set(key, p);
      p.catch(() => this.owns.delete(key));
    }
    return p;
  }

  /** One node of a traversal (Heat's CheckResource.check). */
  async checkResource(m: CheckResourceMsg): Promise<void> {
    if (m.batch && m.batch.length > 1) return this.checkCleanups(m);
    const { store, engineId } = this.engine;
    if (this.engine.halted) return;
    // The stack's state and the node's row read together (one wait less before the work).
    const [stack, row] = await Promise.all([store.stackState(m.stack_id), store.resourceById(m.entity)]);
    // Superseded by a newer traversal, or failed: the message stops here.
    if (!stack || stack.current_traversal !== m.traversal_id || stoppedBy(stack)) return;
    const self = nodeKey(m.entity, m.is_update);
    let r = row;
    // The rows the node resolves against (its own and those it depends on: get_resource, get_attr)
    // read while its lock is taken: what it depends on was done before it was cast, and its own
    // row is the one read above.
    const named =
      row && m.is_update
        ? this.loadedFor(stack).then(({ loaded }) =>
            store.resourcesNamed(stack.id, [row.name, ...(loaded.deps[row.name] ?? [])]),
          )
        : null;
    named?.catch(() => undefined);
    // The job is known before the lock is taken: a stop (a delete or update that supersedes this
    // traversal, here or from another engine) that comes while the lock is taken cancels it.
    const job = this.engine.newJob(m.caller);
    const jobs = this.running.get(stack.id) ?? new Set<Job>();
    jobs.add(job);
    this.running.set(stack.id, jobs);
    const forget = () => {
      jobs.delete(job);
      if (!jobs.size && this.running.get(stack.id) === jobs) this.running.delete(stack.id);
    };
    let claimed = false;
    if (r) {
      const holder = await store.claimResource(r.id, engineId);
      if (holder !== null) {
        const comeBack = () => {
          forget();
          setTimeout(() => this.cast(m), 250).unref();
        };
        if (holder === engineId || (await this.engine.isAlive(holder))) {
          // Another traversal still works on it: this node comes back later.
          comeBack();
          return;
        }
        if ((await store.claimResource(r.id, engineId, holder)) !== null) {
          comeBack();
          return;
        }
        this.log.info({ stack: stack.id, resource: r.name, engine: holder }, 'taking over a resource of a dead engine');
        r = (await store.resourceById(r.id))!;
        if (r.status === 'IN_PROGRESS') {
          r.status = 'FAILED';
          r.status_reason = `Engine went down during resource ${r.action}`;
          await store.saveResource(r);
        }
        // The liveness answer took a while (engineLivenessTimeoutMs): a delete or update may have
        // superseded this traversal meanwhile; its own node of the row finds the lock free.
        const later = await store.stackState(m.stack_id);
        if (!later || later.current_traversal !== m.traversal_id || stoppedBy(later)) {
          forget();
          await store.releaseResource(r.id, engineId);
          return;
        }
      }
      claimed = true;
    }
    this.handled++;
    const replacedBefore = r?.replaced_by ?? null;
    let failure: unknown = null;
    /** The node deleted its row (nothing to release). */
    let gone = false;
    const timer = timeoutOf(job, stack);
    try {
      if (job.cancel) throw this.engine.cancelled(job);
      const { target, loaded } = await this.loadedFor(stack);
      // The rows this node resolves against: its own and those it depends on (get_resource, get_attr).
      if (r && m.is_update) {
        const rows = new Map<string, ResourceRow>();
        for (const x of await (named ?? store.resourcesNamed(stack.id, [r.name, ...(loaded.deps[r.name] ?? [])])))
          if (!x.replaced_by) rows.set(x.name, x);
        rows.set(r.name, r);
        const action = stack.action === 'ROLLBACK' ? 'ROLLBACK' : stack.action;
        const templateId = stack.raw_template_id ?? null;
        const neededBy = JSON.stringify(
          Object.keys(loaded.defs).filter((n) => (loaded.deps[n] ?? []).includes(r!.name)),
        );
        // Set before the work: the resource's state changes save them with it (one write less).
        const stamp = r.updated_at;
        const was = { current_template_id: r.current_template_id, needed_by: r.needed_by };
        r.current_template_id = templateId;
        r.needed_by = neededBy;
        await this.engine.updateOne(job, target, loaded, rows, r.name, action, true);
        const cur = rows.get(r.name)!;
        if (cur !== r) {
          // Replaced: the old row keeps the template it was made for (a rollback finds it by it).
          Object.assign(r, was);
          await store.updateResource(r);
        }
        if (cur !== r || r.updated_at === stamp) {
          cur.current_template_id = templateId;
          cur.needed_by = neededBy;
          // Update only: a delete that superseded this traversal may have removed the row.
          await store.updateResource(cur);
        }
      } else if (r && (r.replaced_by || !loaded.defs[r.name])) {
        // A DELETE traversal's target is empty: the policy is the stack's last template's.
        const def =
          loaded.defs[r.name] ?? (stack.action === 'DELETE' ? (await this.ownFor(stack)).defs[r.name] : undefined);
        const policy = String(def?.deletion_policy ?? 'Delete');
        await this.engine.deleteOne(job, target, r, null, policy === 'Retain' && !r.replaced_by);
        gone = true;
      }
    } catch (e) {
      failure = e;
    } finally {
      clearTimeout(timer);
      forget();
    }
    // The lock released while the successors' sync points are written (they are cast after both).
    const held = claimed && r && !gone && !this.engine.halted ? r : null;
    const released = held
      ? (async () => {
          await store.releaseResource(held.id, engineId).catch(() => undefined);
          // The replacement this node made (engine.updateOne made it under this engine's lock).
          if (held.replaced_by && held.replaced_by !== replacedBefore)
            await store.releaseResource(held.replaced_by, engineId).catch(() => undefined);
        })()
      : Promise.resolve();
    if (this.engine.halted || failure) await released;
    if (this.engine.halted) return;
    if (failure) {
      await this.failed(m, failure);
      return;
    }
    await this.propagate(m, self, stack, released);
  }

  /**
   * A batch of clean-up nodes (one message): each row is claimed, cleaned up (engine.deleteMany)
   * and reported as its own node would be, with the database work of the batch shared. A row
   * another engine holds (or one gone) is done as a node of its own.
   */
  private async checkCleanups(m: CheckResourceMsg): Promise<void> {
    const { store, engineId } = this.engine;
    if (this.engine.halted) return;
    const stack = await store.stackState(m.stack_id);
    if (!stack || stack.current_traversal !== m.traversal_id || stoppedBy(stack)) return;
    const ids = m.batch!;
    const claimed = await store.claimResources(ids, engineId);
    for (const id of ids)
      if (!claimed.has(id))
        void this.checkResource({ ...m, entity: id, batch: undefined }).catch((err) =>
          this.engine.logError(err, m.stack_id),
        );
    if (!claimed.size) return;
    const rows = await store.resourcesByIds([...claimed]);
    this.handled += rows.length;
    const job = this.engine.newJob(m.caller);
    const jobs = this.running.get(stack.id) ?? new Set<Job>();
    jobs.add(job);
    this.running.set(stack.id, jobs);
    const timer = timeoutOf(job, stack);
    /** The claimed rows still there at the end (released). */
    let kept = rows.map((r) => r.id);
    let failure: [string, unknown] | null = null;
    try {
      if (job.cancel) throw this.engine.cancelled(job);
      const { target, loaded } = await this.loadedFor(stack);
      const items: Array<{ r: ResourceRow; retain: boolean }> = [];
      for (const r of rows) {
        if (!r.replaced_by && loaded.defs[r.name]) continue;
        // A DELETE traversal's target is empty: the policy is the stack's last template's.
        const def =
          loaded.defs[r.name] ?? (stack.action === 'DELETE' ? (await this.ownFor(stack)).defs[r.name] : undefined);
        const policy = String(def?.deletion_policy ?? 'Delete');
        items.push({ r, retain: policy === 'Retain' && !r.replaced_by });
      }
      const failures = await this.engine.deleteMany(job, target, items);
      const gone = new Set(items.filter((it) => !failures.has(it.r.id)).map((it) => it.r.id));
      kept = kept.filter((id) => !gone.has(id));
      const first = failures.entries().next();
      if (!first.done) failure = first.value;
    } catch (e) {
      failure = [m.entity, e];
    } finally {
      clearTimeout(timer);
      jobs.delete(job);
      if (!jobs.size) this.running.delete(stack.id);
      if (!this.engine.halted) await store.releaseResources(kept, engineId).catch(() => undefined);
    }
    if (this.engine.halted) return;
    if (failure) {
      await this.failed({ ...m, entity: failure[0], batch: undefined }, failure[1]);
      return;
    }
    await this.propagate(
      m,
      rows.map((r) => nodeKey(r.id, false)),
      stack,
    );
  }

  /**
   * Reports done nodes to their successors' sync points; the write that completes one casts it
   * (clean-up nodes ready together in one message). `stack` is the state the nodes started from
   * (not read again: a successor cast after the traversal was superseded or failed stops at its
   * own check, and a purged sync point casts none).
   */
  private async propagate(
    m: CheckResourceMsg,
    selves: string | string[],
    stack: StackRow,
    released: Promise<void> = Promise.resolve(),
  ) {
    const { store } = this.engine;
    const g = await this.graph(stack);
    const ready: string[] = [];
    let sink = false;
    // Together: the inputs of one sync point sent in the same turn are one write (stacks.ts).
    await Promise.all(
      (typeof selves === 'string' ? [selves] : selves).flatMap((self) =>
        (g.succs.get(self) ?? [SINK]).map(async (s) => {
          const [entity, isUpdate] = s === SINK ? [stack.id, true] : parseKey(s);
          const got = await store.syncPointAdd(entity, m.traversal_id, isUpdate, self, g.preds.get(s) ?? []);
          if (!got?.complete) return;
          if (s === SINK) sink = true;
          else ready.push(s);
        }),
      ),
    );
    // Released before a successor is cast: the clean-up node of this same row would find it held.
    await released;
    this.castNodes(m.caller, stack.id, m.traversal_id, ready);
    if (sink) await this.complete(stack.id, m.traversal_id, m.caller);
  }

  /** Every node reported: the stack is COMPLETE, the traversal's sync points and old templates go (purge_db). */
  private async complete(stackId: string, traversal: string, caller: Caller) {
    const { store } = this.engine;
    const row = await store.getStack(stackId, false);
    if (!row || row.current_traversal !== traversal || row.status !== 'IN_PROGRESS') return;
    if (LOCKED_ACTIONS.has(row.action)) {
      // A suspend, resume or check came during the traversal (under the stack lock, which a
      // traversal does not hold): as Zed's mark_complete, whose state_set of such an action is
      // not persisted, the stack keeps what that action gives it.
      this.graphs.delete(traversal);
      return;
    }
    if (row.action === 'DELETE') {
      await this.deleted(row, traversal, caller);
      return;
    }
    const reason =
      row.action === 'ROLLBACK' ? 'Rollback completed successfully' : `Stack ${row.action} completed successfully`;
    // Only while this traversal is the current one: an update that came meanwhile keeps its state.
    const prev = row.prev_raw_template_id;
    const set = await store.setStackIfTraversal(stackId, traversal, {
      status: 'COMPLETE',
      status_reason: reason,
      prev_raw_template_id: null,
      ...(row.action !== 'CREATE' ? { updated_at: now() } : {}),
    });
    this.graphs.delete(traversal);
    await store.purgeTraversal(stackId, traversal);
    if (!set) return;
    await this.engine.stackEvent(row, row.action, 'COMPLETE', reason);
    if (prev && prev !== row.raw_template_id) await store.dropRawTemplate(prev);
  }

  /** The end of a DELETE traversal: what is left of the stack goes, and the stack is DELETE_COMPLETE. */
  private async deleted(row: StackRow, traversal: string, caller: Caller) {
    const { store } = this.engine;
    const job = this.engine.newJob(caller);
    try {
      // Nested stacks a resource's node did not remove (an engine that died in it).
      for (const child of await store.childStacks(row.id))
        await this.engine.deleteStack(caller, child.id, { wait: true }).catch(() => undefined);
      await this.engine.deleteLeftovers(job, row);
    } catch (e) {
      await this.failed({ caller, stack_id: row.id, traversal_id: traversal, entity: row.id, is_update: true }, e);
      return;
    }
    const reason = 'Stack DELETE completed successfully';
    if (!(await store.setStackIfTraversal(row.id, traversal, { status: 'COMPLETE', status_reason: reason }))) return;
    await this.engine.stackEvent(row, 'DELETE', 'COMPLETE', reason);
    await store.updateStack(row.id, { deleted_at: now() });
    this.graphs.delete(traversal);
    await store.purgeRawTemplates(row.id, []);
    await store.purgeSyncPoints(row.id);
  }

  /** A node failed: the stack fails with the resource's reason, and rolls back unless disabled. */
  private async failed(m: CheckResourceMsg, e: unknown) {
    const { store } = this.engine;
    const row = await store.getStack(m.stack_id, false);
    if (!row || row.current_traversal !== m.traversal_id || row.status !== 'IN_PROGRESS') return;
    // The stack's action is a suspend, resume or check that came meanwhile: as Zed's mark_failed
    // (not persisted for those actions; no rollback), the stack keeps that action's state.
    if (LOCKED_ACTIONS.has(row.action)) return;
    const action = row.action;
    const reason = this.engine.failureOf(e, action === 'ROLLBACK' ? 'UPDATE' : action);
    if (reason === null) return;
    if (
      !(await store.setStackIfTraversal(row.id, m.traversal_id, {
        status: 'FAILED',
        status_reason: reason,
        updated_at: now(),
      }))
    )
      return;
    row.status = 'FAILED';
    row.status_reason = reason;
    await this.engine.stackEvent(row, action, 'FAILED', reason);
    if (action === 'ROLLBACK' || row.disable_rollback) return;
    await this.rollback(row, m.caller, reason);
  }

  /**
   * A stack delete (Heat's delete_stack in convergence mode): the running traversal is superseded
   * (its messages stop at their next check; this engine's and the other live engines' nodes of it
   * are stopped), and the stack converges to an empty template: every resource is a clean-up
   * node, dependents first, shared by the engines. Its end (complete) removes the stack.
   */
  async deleteTraversal(row: StackRow, caller: Caller): Promise<void> {
    const { store } = this.engine;
    if (row.status === 'IN_PROGRESS') {
      await this.stop(row.id);
      const holders = new Set((await store.resources(row.id)).map((r) => r.engine_id).filter((x): x is string => !!x));
      for (const h of holders)
        if (h !== this.engine.engineId && (await this.engine.isAlive(h)))
          await this.engine.stopRemote(h, row.id).catch(() => undefined);
    }
    const fresh = (await store.getStack(row.id, false)) ?? row;
    const rawId = await store.addRawTemplate(row.id, { ...fresh, template: emptyTemplate(fresh.template) });
    await this.converge(fresh, 'DELETE', rawId, caller);
  }

  /** Converges back to the template before the failed (or cancelled) create or update. */
  async rollback(row: StackRow, caller: Caller, reason: string): Promise<void> {
    const { store } = this.engine;
    let rawId: string | null = null;
    if (row.action === 'CREATE') {
      // An empty template of the same version: every resource the create made is cleaned up.
      rawId = await store.addRawTemplate(row.id, { ...row, template: emptyTemplate(row.template) });
    } else if (row.action === 'UPDATE' && row.prev_raw_template_id) {
      rawId = row.prev_raw_template_id;
      const prev = await store.rawTemplate(rawId);
      if (!prev) return;
      await store.updateStack(row.id, { ...prev, updated_at: now() });
      Object.assign(row, prev);
    }
    if (!rawId) return;
    const failedRaw = row.raw_template_id;
    await this.converge(row, 'ROLLBACK', rawId, caller, reason);
    if (failedRaw !== rawId) await store.dropRawTemplate(failedRaw);
  }

  /** Supersedes the running traversal (its messages stop) and stops this engine's nodes of the stack. */
  async stop(stackId: string): Promise<void> {
    const { store } = this.engine;
    const row = await store.getStack(stackId, false);
    if (row?.convergence && row.status === 'IN_PROGRESS') {
      await store.updateStack(stackId, { current_traversal: randomUUID() });
      await store.purgeSyncPoints(stackId);
    }
    const jobs = this.running.get(stackId);
    if (!jobs) return;
    for (const j of jobs) j.cancel = 'stop';
    const until = Date.now() + 30_000;
    while (this.running.get(stackId)?.size && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
  }

  /** Waits until no live engine works on a resource of the stack (asking each to stop). */
  async quiesce(stackId: string): Promise<void> {
    const { store } = this.engine;
    await this.stop(stackId);
    const until = Date.now() + 60_000;
    while (Date.now() < until) {
      const holders = new Set((await store.resources(stackId)).map((r) => r.engine_id).filter((x): x is string => !!x));
      let busy = false;
      for (const h of holders) {
        if (h === this.engine.engineId) {
          busy = busy || !!this.running.get(stackId)?.size;
          continue;
        }
        if (!(await this.engine.isAlive(h))) continue;
        busy = true;
        await this.engine.stopRemote(h, stackId).catch(() => undefined);
      }
      if (!busy) return;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Stops every node this engine works on (close, or the tests' crash). */
  haltAll() {
    for (const jobs of this.running.values()) for (const j of jobs) j.cancel = 'stop';
  }
}

/** An empty template of the same version (Heat's Template.create_empty_template). */
function emptyTemplate(template: Record<string, unknown>): Record<string, unknown> {
  const empty: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(template))
    if (!['resources', 'Resources', 'outputs', 'Outputs', 'conditions', 'Conditions'].includes(k)) empty[k] = v;
  empty['AWSTemplateFormatVersion' in template ? 'Resources' : 'resources'] = {};
  return empty;
}

/** timeout_mins: counted from the traversal's start; past it the node is cancelled "Timed out". */
function timeoutOf(job: Job, stack: StackRow): NodeJS.Timeout | undefined {
  const mins = Number(stack.timeout_mins);
  const started = Date.parse(stack.updated_at ?? stack.created_at);
  if (!stack.timeout_mins || !Number.isFinite(mins) || mins <= 0 || !Number.isFinite(started)) return undefined;
  const left = started + mins * 60_000 - Date.now();
  if (left <= 0) {
    job.cancel = 'timeout';
    return undefined;
  }
  const timer = setTimeout(() => {
    if (!job.cancel) job.cancel = 'timeout';
  }, left);
  timer.unref();
  return timer;
}

/** Actions run under the stack lock beside a traversal (Zed's stack_suspend, stack_resume, stack_check). */
const LOCKED_ACTIONS = new Set(['SUSPEND', 'RESUME', 'CHECK']);

/**
 * A traversal's messages stop at a FAILED stack (the traversal failed, or was cancelled); a
 * suspend, resume or check that failed meanwhile does not stop it (Zed's nodes go on).
 */
function stoppedBy(stack: { status: string; action: string }): boolean {
  return stack.status === 'FAILED' && !LOCKED_ACTIONS.has(stack.action);
}
