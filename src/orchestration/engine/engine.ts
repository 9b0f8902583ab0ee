// heat-engine: creates, updates, deletes and acts on stacks. A stack's resources are walked as a
// dependency graph, in parallel where the graph allows (create and update in dependency order,
// delete in reverse), each resource through its state machine (INIT → action IN_PROGRESS →
// COMPLETE | FAILED) with an event per transition. One engine acts on a stack at a time: Heat's
// stack lock (a row naming the engine); a lock whose engine no longer answers is stolen.
import { pyStr } from '../../core/python.ts';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../core/log.ts';
import { type Notification, RpcError } from '../../core/bus.ts';
import type { ServiceSession } from '../../core/clients/session.ts';
import { IdentityClient } from '../../core/clients/identity.ts';
import { StackDomain } from './stackdomain.ts';
import { httpRequest } from '../../core/clients/http.ts';
import { now } from '../../core/db.ts';
import { type Environment, parseEnvironment, resolve } from '../template/index.ts';
import { HeatError, actionInProgress, resourceNotFound, stackNotFound, validationFailed } from '../errors.ts';
import type { OrchestrationOptions } from '../config.ts';
import type { ResourceRow, StackRow, StackStore } from '../stacks.ts';
import type { ResourceRegistry } from '../resources/registry.ts';
import {
  type ApiCall,
  type ResourceContext,
  type ResourcePlugin,
  NoActionRequired,
  type StackUserCreds,
  UpdateReplace,
  validateProperties,
} from '../resources/plugin.ts';
import {
  type LoadedStack,
  identityOf,
  loadStack,
  loadStored,
  pluginOfLoaded,
  refIdOf,
  requestEnvironment,
  resolveContext,
  resolveOutputs,
  templateResourcePlugin,
} from './stack.ts';
import { Convergence } from './convergence.ts';

/** Who asked: the engine acts with the caller's token (or, without one, the service's). */
/** The parent of a nested stack being created: its stack, its resource (name and row id), the files. */
export interface NestedOwner {
  id: string;
  resource: string;
  /** The parent resource's row: the engine that creates the nested stack sets its physical id. */
  resourceId?: string;
  files: Record<string, string>;
}

export interface Caller {
  projectId: string;
  userId: string;
  username: string;
  token?: string;
  roles: string[];
  /** deferred_auth_method = password: the X-Auth-User / X-Auth-Key headers of the request. */
  authUser?: string;
  authKey?: string;
}

/** Resources that act later on the owner's behalf (Heat's requires_deferred_auth: signal responders). */
const DEFERRED_AUTH_TYPES = new Set([
  'OS::Heat::ScalingPolicy',
  'OS::Heat::WaitConditionHandle',
  'OS::Heat::UpdateWaitConditionHandle',
  'OS::Heat::SoftwareDeployment',
  'OS::Heat::SoftwareDeployments',
  'OS::Heat::SoftwareDeploymentGroup',
  'OS::Heat::StructuredDeployment',
  'OS::Heat::StructuredDeployments',
  'OS::Heat::StructuredDeploymentGroup',
  'AWS::AutoScaling::ScalingPolicy',
  'AWS::CloudFormation::WaitConditionHandle',
]);

export interface StackRequest {
  stack_name: string;
  template?: unknown;
  template_url?: string;
  files?: Record<string, string>;
  environment?: unknown;
  environment_files?: string[];
  parameters?: Record<string, unknown>;
  timeout_mins?: number | null;
  disable_rollback?: boolean;
  tags?: string[];
  adopt_stack_data?: Record<string, unknown>;
}

export interface StackRef {
  id: string;
  name: string;
  project_id: string;
}

type Cancel = false | 'stop' | 'rollback' | 'timeout';

export class Job {
  cancel: Cancel = false;
  done!: Promise<void>;
  constructor(readonly caller: Caller) {}
}

const STACK_NAME = /^[a-zA-Z][a-zA-Z0-9_.-]{0,254}$/;

export class Cancelled extends Error {
  constructor(readonly how: Exclude<Cancel, false>) {
    super(how === 'rollback' ? 'Stack UPDATE cancelled' : how === 'timeout' ? 'Timed out' : 'Operation cancelled');
  }
}

export class Engine {
  private readonly jobs = new Map<string, Job>();
  /** Asks another engine whether it is alive (its RPC listener answers). */
  isAlive: (engineId: string) => Promise<boolean> = async () => false;
  /** Asks the engine that holds a stack's lock to stop what it does. */
  stopRemote: (engineId: string, stackId: string) => Promise<void> = async () => {};
  private readonly identity: IdentityClient;
  /** Trust-scoped tokens by trust id, kept until shortly before they expire. */
  private readonly trustTokens = new Map<string, { token: string; expires: number }>();
  private heatUserId?: string;
  /** The convergence engine's worker (engine/convergence.ts). */
  readonly convergence: Convergence;
  /** Set by halt(): this engine acts as if its process died (tests). */
  halted = false;
  /** The stack domain (its admin's token): the per-stack users a guest signals with. */
  readonly stackDomain: StackDomain;
  /**
   * Creates a nested stack of a convergence stack (Heat's StackResource.create_with_template asks
   * the engines over RPC, create_stack): the service makes it a call to any engine of the topic;
   * without one, this engine.
   */
  createNested: (caller: Caller, req: StackRequest, owner: NestedOwner) => Promise<StackRef> = (caller, req, owner) =>
    this.createStack(caller, req, owner);
  /** What waits on a compute server now (ResourceContext.watchServer), by server id. */
  private readonly serverWatches = new Map<string, Set<() => void>>();

  constructor(
    readonly store: StackStore,
    readonly registry: ResourceRegistry,
    private readonly session: ServiceSession,
    readonly options: OrchestrationOptions,
    readonly region: string,
    private readonly log: Logger,
  ) {
    this.identity = new IdentityClient(session);
    this.convergence = new Convergence(this, log.child({ part: 'convergence' }));
    this.stackDomain = new StackDomain(
      () => this.identity.baseUrl(),
      {
        domain: options.stackUserDomainName,
        admin: options.stackDomainAdmin,
        adminPassword: options.stackDomainAdminPassword,
        dataDir: options.dataDir,
      },
      log.child({ part: 'stack-domain' }),
    );
  }

  /** The top-level stack of a (nested) stack. */
  async rootOf(row: StackRow): Promise<StackRow> {
    let cur = row;
    for (let i = 0; cur.owner_id && i < 20; i++) {
      const up = await this.store.getStack(cur.owner_id);
      if (!up) break;
      cur = up;
    }
    return cur;
  }

  /** @internal (convergence.ts) a job of one traversal node. */
  newJob(caller: Caller): Job {
    return new Job(caller);
  }

  /** @internal (convergence.ts) the error of a cancelled job. */
  cancelled(job: Job): Error {
    return new Cancelled(job.cancel || 'stop');
  }

  /** @internal (convergence.ts) the stack's failure reason; null when the work was stopped. */
  failureOf(e: unknown, action: string): string | null {
    return e instanceof Cancelled && e.how === 'stop' ? null : failureReason(e, action);
  }

  get engineId() {
    return this.options.engineId;
  }

  // ---- the RPC methods ----------------------------------------------------------------------

  async createStack(
    caller: Caller,
    req: StackRequest,
    owner?: NestedOwner & {
      /** Called once the nested stack's row exists (the parent resource shows it while it is created). */
      created?: (id: string) => Promise<void>;
    },
  ): Promise<StackRef> {
    if (!STACK_NAME.test(req.stack_name ?? ''))
      throw new HeatError(
        'StackValidationFailed',
        `Invalid stack name ${req.stack_name} must contain only alphanumeric or "_-." characters, must start with alpha and must be 255 characters or less.`,
      );
    if (!owner && (await this.store.findStack(caller.projectId, req.stack_name)))
      throw new HeatError('StackExists', `The Stack (${req.stack_name}) already exists.`);
    const files = { ...(owner?.files ?? {}), ...(req.files ?? {}) };
    const env = requestEnvironment(req.environment, req.environment_files, files);
    const loaded = await loadStack(this.registry, req.template, env, files, req.parameters ?? {}, {
      region: this.region,
    });
    const adopt = req.adopt_stack_data;
    // Deferred auth: a top-level stack gets a trust from its owner to the heat user; a nested
    // stack shares its root's.
    const parent = owner ? await this.store.getStack(owner.id) : null;
    const password = this.options.deferredAuthMethod === 'password';
    if (!parent && password && Object.values(loaded.defs).some((d) => DEFERRED_AUTH_TYPES.has(d.type))) {
      // Heat's _validate_deferred_auth_context: the stored credentials must be given.
      if (!caller.authUser) throw new HeatError('MissingCredentialError', 'Missing required credential: X-Auth-User');
      if (!caller.authKey) throw new HeatError('MissingCredentialError', 'Missing required credential: X-Auth-Key');
    }
    const trust = parent
      ? { trust_id: parent.trust_id, trustor_user_id: parent.trustor_user_id }
      : password
        ? { trust_id: null, trustor_user_id: null }
        : await this.createTrust(caller);
    const userCreds = parent
      ? parent.user_creds
      : password && caller.authUser && caller.authKey
        ? JSON.stringify({ user_id: caller.userId, username: caller.authUser, password: caller.authKey })
        : null;
    const row = await this.store.createStack({
      id: randomUUID(),
      name: req.stack_name,
      project_id: caller.projectId,
      user_id: caller.userId,
      username: caller.username,
      owner_id: owner?.id ?? null,
      parent_resource: owner?.resource ?? null,
      action: adopt ? 'ADOPT' : 'CREATE',
      status: 'IN_PROGRESS',
      status_reason: 'Stack CREATE started',
      template: loaded.template.raw as Record<string, unknown>,
      environment: env as unknown as Record<string, unknown>,
      files,
      params: req.parameters ?? {},
      disable_rollback: req.disable_rollback ?? true,
      timeout_mins: req.timeout_mins ?? null,
      tags: req.tags ?? [],
      ...trust,
      user_creds: userCreds,
    });
    // The parent resource shows the nested stack while it is created: set here when the create
    // came over RPC (createNested), by the parent's node otherwise.
    const created =
      owner?.created ?? (owner?.resourceId ? (id: string) => this.nestedCreated(owner.resourceId!, id) : undefined);
    if (this.options.convergenceEngine && !adopt && (!owner || parent?.convergence)) {
      // Convergence: the create is a traversal over every engine (engine/convergence.ts), no stack
      // lock. A nested stack of a convergence stack too (Heat's StackResource asks any engine to
      // create_stack): its nodes go to any engine, and the parent resource's node waits for it (awaitNested).
      await created?.(row.id);
      const rawId = await this.store.addRawTemplate(row.id, row);
      await this.convergence.converge(row, 'CREATE', rawId, caller);
      return { id: row.id, name: row.name, project_id: row.project_id };
    }
    await this.lock(row.id, row.name);
    await created?.(row.id);
    const action = adopt ? 'ADOPT' : 'CREATE';
    await this.stackEvent(row, action, 'IN_PROGRESS', `Stack ${action} started`);
    const job = this.start(row.id, caller, async (j) => {
      try {
        await this.timed(j, row.timeout_mins, () => this.createResources(j, row, loaded, action, adopt));
        await this.setStack(row, action, 'COMPLETE', `Stack ${action} completed successfully`);
      } catch (e) {
        const reason = failureReason(e, action);
        await this.setStack(row, action, 'FAILED', reason);
        if (!row.disable_rollback && !(e instanceof Cancelled && e.how === 'stop')) {
          if (j.cancel === 'timeout') j.cancel = false;
          await this.setStack(row, 'ROLLBACK', 'IN_PROGRESS', reason);
          try {
            await this.deleteResources(j, row, loaded, true);
            await this.setStack(row, 'ROLLBACK', 'COMPLETE', 'Rollback completed successfully');
          } catch (e2) {
            await this.setStack(row, 'ROLLBACK', 'FAILED', failureReason(e2, 'DELETE'));
          }
        }
      }
    });
    if (owner) await job.done;
    return { id: row.id, name: row.name, project_id: row.project_id };
  }

  /** PUT (patch=false) or PATCH (patch=true: what is not given is kept) of a stack. */
  async updateStack(
    caller: Caller,
    stackId: string,
    req: Partial<StackRequest> & { existing?: boolean; clear_parameters?: string[] },
    wait = false,
  ): Promise<StackRef> {
    const row = await this.liveStack(stackId);
    const patch = !!req.existing;
    const files = patch ? { ...row.files, ...(req.files ?? {}) } : { ...(req.files ?? {}) };
    const template = req.template ?? (patch ? row.template : undefined);
    if (template === undefined) throw validationFailed('No template specified');
    const stored = parseEnvironment(row.environment);
    const given = requestEnvironment(req.environment, req.environment_files, files);
    const env = patch ? mergeEnv(stored, given) : given;
    let params = patch ? { ...row.params, ...(req.parameters ?? {}) } : { ...(req.parameters ?? {}) };
    for (const k of req.clear_parameters ?? []) {
      const { [k]: _, ...rest } = params;
      params = rest;
    }
    const loaded = await loadStack(this.registry, template, env, files, params, { region: this.region });
    if (row.action === 'DELETE') throw stackNotFound(row.name);
    if (row.convergence && !wait) {
      // Convergence: a newer traversal supersedes a running create or update (no 409).
      if (row.status === 'IN_PROGRESS' && !['CREATE', 'UPDATE', 'ROLLBACK'].includes(row.action))
        throw actionInProgress(row.name, row.action);
      const holder = await this.store.lockHolder(row.id);
      if (holder && (holder === this.engineId ? this.jobs.has(row.id) : await this.isAlive(holder)))
        throw actionInProgress(row.name, row.action);
      const running = row.status === 'IN_PROGRESS' && row.action === 'UPDATE' && row.prev_raw_template_id;
      const prev = running
        ? row.prev_raw_template_id
        : (row.raw_template_id ?? (await this.store.addRawTemplate(row.id, row)));
      const next = {
        template: loaded.template.raw as Record<string, unknown>,
        environment: env as unknown as Record<string, unknown>,
        files,
        params,
      };
      await this.store.updateStack(row.id, {
        ...next,
        disable_rollback: req.disable_rollback ?? row.disable_rollback,
        timeout_mins: req.timeout_mins ?? row.timeout_mins,
        tags: req.tags ?? row.tags,
        updated_at: now(),
        prev_raw_template_id: prev,
      });
      const rawId = await this.store.addRawTemplate(row.id, next);
      const superseded = running ? row.raw_template_id : null;
      await this.convergence.converge(
        { ...row, ...next, disable_rollback: req.disable_rollback ?? row.disable_rollback },
        'UPDATE',
        rawId,
        caller,
      );
      await this.store.dropRawTemplate(superseded);
      return { id: row.id, name: row.name, project_id: row.project_id };
    }
    await this.lock(row.id, row.name);
    const before = { ...row };
    const oldLoaded = await loadStored(this.registry, before).catch(() => null);
    await this.store.updateStack(row.id, {
      template: loaded.template.raw as Record<string, unknown>,
      environment: env as unknown as Record<string, unknown>,
      files,
      params,
      disable_rollback: req.disable_rollback ?? row.disable_rollback,
      timeout_mins: req.timeout_mins ?? row.timeout_mins,
      tags: req.tags ?? row.tags,
      updated_at: now(),
    });
    const disableRollback = req.disable_rollback ?? row.disable_rollback;
    await this.setStack(row, 'UPDATE', 'IN_PROGRESS', 'Stack UPDATE started');
    const job = this.start(row.id, caller, async (j) => {
      try {
        await this.timed(j, req.timeout_mins ?? row.timeout_mins, () => this.updateResources(j, row, loaded, 'UPDATE'));
        await this.setStack(row, 'UPDATE', 'COMPLETE', 'Stack UPDATE completed successfully');
      } catch (e) {
        const reason = failureReason(e, 'UPDATE');
        await this.setStack(row, 'UPDATE', 'FAILED', reason);
        const rollback = (!disableRollback || (e instanceof Cancelled && e.how === 'rollback')) && oldLoaded;
        if (rollback && !(e instanceof Cancelled && e.how === 'stop')) {
          j.cancel = false;
          await this.store.updateStack(row.id, {
            template: before.template,
            environment: before.environment,
            files: before.files,
            params: before.params,
          });
          await this.setStack(row, 'ROLLBACK', 'IN_PROGRESS', reason);
          try {
            await this.updateResources(j, row, oldLoaded, 'ROLLBACK');
            await this.setStack(row, 'ROLLBACK', 'COMPLETE', 'Rollback completed successfully');
          } catch (e2) {
            await this.setStack(row, 'ROLLBACK', 'FAILED', failureReason(e2, 'UPDATE'));
          }
        }
      }
    });
    if (wait) await job.done;
    return { id: row.id, name: row.name, project_id: row.project_id };
  }

  /** Deletes a stack: what runs on it is stopped first (Heat's delete takes over the lock). */
  async deleteStack(
    caller: Caller,
    stackId: string,
    opts: { abandon?: boolean; wait?: boolean } = {},
  ): Promise<Record<string, unknown> | null> {
    const row = await this.liveStack(stackId);
    if (row.convergence && this.options.convergenceDelete && !opts.abandon) {
      // Convergence (Heat's delete_stack: stop_traversal, then converge_stack of an empty
      // template): the delete is a traversal of clean-up nodes over every engine; the running
      // traversal is superseded and stops at its next check.
      await this.convergence.deleteTraversal(row, caller);
      if (opts.wait) {
        const until = Date.now() + 600_000;
        for (;;) {
          const cur = await this.store.getStack(row.id);
          if (!cur || cur.action !== 'DELETE' || cur.status !== 'IN_PROGRESS' || Date.now() > until) break;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      return null;
    }
    // Convergence: the running traversal is superseded and every engine's nodes of it stopped.
    if (row.convergence) await this.convergence.quiesce(row.id);
    await this.stopStack(row.id);
    await this.lock(row.id, row.name);
    const abandonData = opts.abandon ? await this.exportStack(row.id) : null;
    await this.setStack(row, 'DELETE', 'IN_PROGRESS', 'Stack DELETE started');
    const job = this.start(row.id, caller, async (j) => {
      try {
        if (!opts.abandon) {
          const loaded = await loadStored(this.registry, row).catch(() => null);
          // Rows a convergence update replaced and did not clean up yet go first.
          const own = Object.assign(new Job(j.caller), { cancel: false as Cancel });
          for (const r of await this.store.resources(row.id))
            if (r.replaced_by) await this.deleteOne(own, row, r, null, false);
          await this.deleteResources(j, row, loaded, false);
        } else for (const r of await this.store.resources(row.id)) await this.store.deleteResource(r.id);
        for (const child of await this.store.childStacks(row.id))
          await this.deleteStack(caller, child.id, { abandon: opts.abandon, wait: true }).catch(() => undefined);
        await this.deleteLeftovers(j, row);
        await this.store.updateStack(row.id, { deleted_at: now() });
        // Convergence: the stack's templates and sync points go with it.
        await this.store.purgeRawTemplates(row.id, []);
        await this.store.purgeSyncPoints(row.id);
        await this.setStack(row, 'DELETE', 'COMPLETE', 'Stack DELETE completed successfully');
      } catch (e) {
        await this.setStack(row, 'DELETE', 'FAILED', failureReason(e, 'DELETE'));
      }
    });
    if (opts.wait) await job.done;
    return abandonData;
  }

  /**
   * What goes with a deleted stack besides its resources: its snapshots, the trust and the stack
   * domain project of a top-level stack. @internal (convergence.ts: a DELETE traversal's end)
   */
  async deleteLeftovers(job: Job, row: StackRow) {
    for (const s of await this.store.snapshots(row.id)) await this.store.deleteSnapshot(s.id);
    if (row.owner_id) return;
    await this.deleteTrust(job, row);
    const fresh = await this.store.getStack(row.id);
    if (fresh?.stack_user_project_id) await this.stackDomain.deleteProject(fresh.stack_user_project_id);
  }

  /** suspend, resume, check; cancel_update (with rollback) and cancel_without_rollback. */
  async stackAction(caller: Caller, stackId: string, action: string): Promise<void> {
    const row = await this.liveStack(stackId);
    if (action === 'cancel_update' || action === 'cancel_without_rollback') {
      // Zed's stack_cancel_update: with rollback an UPDATE only, without it a CREATE too.
      const allowed = action === 'cancel_update' ? ['UPDATE'] : ['UPDATE', 'CREATE'];
      if (!allowed.includes(row.action) || row.status !== 'IN_PROGRESS')
        throw new HeatError(
          'NotSupported',
          `Cancelling update when stack is ${row.action}_${row.status} is not supported.`,
        );
      if (row.convergence) {
        // Convergence: the traversal is superseded (stop_traversal: "Stack <action> cancelled");
        // cancel_update converges back.
        await this.convergence.quiesce(row.id);
        const fresh = await this.liveStack(row.id);
        await this.setStack(fresh, row.action, 'FAILED', `Stack ${row.action} cancelled`);
        if (action === 'cancel_update') await this.convergence.rollback(fresh, caller, 'Stack UPDATE cancelled');
        return;
      }
      const holder = await this.store.lockHolder(row.id);
      const job = this.jobs.get(row.id);
      if (job) job.cancel = action === 'cancel_update' ? 'rollback' : 'stop';
      else if (holder) await this.stopRemote(holder, row.id);
      return;
    }
    const act = action.toUpperCase();
    if (!['SUSPEND', 'RESUME', 'CHECK'].includes(act)) throw validationFailed(`Invalid action ${action}`);
    // Zed's stack_suspend/resume/check run under the stack lock, which a convergence traversal does
    // not hold: they are accepted while one runs, and the resources decide (Resource.suspend:
    // "State ('CREATE', 'IN_PROGRESS') invalid for suspend"); the traversal goes on, and its end
    // leaves the stack the state of that action (convergence.ts).
    const traversing = row.convergence && row.status === 'IN_PROGRESS' && row.action !== 'DELETE';
    if (
      act === 'RESUME' &&
      !traversing &&
      !(row.action === 'SUSPEND' && row.status === 'COMPLETE') &&
      row.status !== 'FAILED'
    )
      throw new HeatError(
        'NotSupported',
        `Resume of stack ${row.name} in state ${row.action}_${row.status} is not supported.`,
      );
    await this.lock(row.id, row.name);
    await this.setStack(row, act, 'IN_PROGRESS', `Stack ${act} started`);
    this.start(row.id, caller, async (j) => {
      try {
        await this.actOnResources(j, row, act as 'SUSPEND' | 'RESUME' | 'CHECK');
        await this.setStack(row, act, 'COMPLETE', `Stack ${act} completed successfully`);
      } catch (e) {
        await this.setStack(row, act, 'FAILED', failureReason(e, act));
      }
    });
  }

  /**
   * A signal to a resource (POST .../signal, a wait condition handle URL, a hook to clear). As
   * Heat's resource_signal, whatever the stack's state: a traversal's waiting node sees it.
   */
  async signalResource(
    caller: Caller,
    stackId: string,
    name: string,
    details: unknown,
    opts: { quiet?: boolean } = {},
  ): Promise<void> {
    const row = await this.liveStack(stackId);
    const r = await this.store.resource(row.id, name);
    if (!r) throw resourceNotFound(name, row.name);
    const d = (details && typeof details === 'object' ? details : {}) as Record<string, unknown>;
    if (typeof d.unset_hook === 'string') {
      const pending = r.data.pending_hook;
      if (pending !== d.unset_hook)
        throw new HeatError(
          'InvalidBreakPointHook',
          `The "${d.unset_hook}" hook is not defined on ${r.type} "${name}"`,
        );
      r.data = { ...r.data, pending_hook: null };
      await this.store.saveResource(r);
      await this.resourceEvent(row, r, r.action, r.status, `Hook ${d.unset_hook} is cleared`);
      return;
    }
    const kind = (await this.pluginFor(row, r)).plugin;
    if (!kind?.signal)
      throw new HeatError('ResourceActionNotSupported', `Signal resource during ${r.action} is not supported.`);
    // As Heat's resource_signal (the stack loaded with use_stored_context): the handler acts with
    // the stack's stored context (its trust, or the stored credentials), not the signaller's token
    // (a guest's stack-domain user, an alarm's), when the stack has one.
    const stored = row.trust_id || row.user_creds ? { ...caller, token: undefined } : caller;
    const ctx = this.resourceContext(new Job(stored), row, r, kind, r.properties);
    let result: string | undefined | void;
    try {
      result = await kind.signal(ctx, details);
    } catch (e) {
      if (!(e instanceof NoActionRequired)) throw e;
      if (opts.quiet) throw e;
      // Heat: "Don't log an event as it just spams the user"; what the handler kept is saved.
      r.data = ctx.data;
      await this.store.saveResource(r);
      return;
    }
    r.data = ctx.data;
    r.physical_resource_id = ctx.physicalId;
    if (kind.resolveAttributes) r.attributes = await kind.resolveAttributes(ctx);
    if (r.type === 'OS::Heat::WaitConditionHandle' || r.type === 'AWS::CloudFormation::WaitConditionHandle')
      r.metadata = (ctx.data.signals ?? {}) as Record<string, unknown>;
    r.updated_at = now();
    await this.store.saveResource(r);
    if (!opts.quiet) await this.resourceEvent(row, r, 'SIGNAL', r.status, signalReason(result, details));
  }

  /** PATCH .../resources/{name} {mark_unhealthy}: the resource is CHECK_FAILED (or back to CHECK_COMPLETE). */
  async markUnhealthy(stackId: string, name: string, unhealthy: boolean, reason: string): Promise<void> {
    const row = await this.liveStack(stackId);
    const r = await this.store.resource(row.id, name);
    if (!r) throw resourceNotFound(name, row.name);
    if (unhealthy) {
      r.action = 'CHECK';
      r.status = 'FAILED';
      r.status_reason = reason;
    } else if (r.action === 'CHECK' && r.status === 'FAILED') {
      r.status = 'COMPLETE';
      r.status_reason = reason;
    } else return;
    r.updated_at = now();
    await this.store.saveResource(r);
    await this.resourceEvent(row, r, r.action, r.status, reason);
  }

  /** The data of an abandon or export (Heat's stack.prepare_abandon()). */
  async exportStack(stackId: string): Promise<Record<string, unknown>> {
    const row = await this.liveStack(stackId);
    const resources: Record<string, unknown> = {};
    for (const r of await this.store.resources(row.id))
      resources[r.name] = {
        name: r.name,
        resource_id: r.physical_resource_id,
        type: r.type,
        action: r.action,
        status: r.status,
        metadata: r.metadata,
        resource_data: r.data,
      };
    return {
      id: row.id,
      name: row.name,
      action: row.action,
      status: row.status,
      template: row.template,
      environment: row.environment,
      files: row.files,
      project_id: row.project_id,
      stack_user_project_id: (await this.rootOf(row)).stack_user_project_id ?? row.project_id,
      tags: row.tags,
      resources,
    };
  }

  /** A snapshot of a stack: its template, environment, parameters and resource data. */
  async snapshotStack(stackId: string, name: string | null): Promise<Record<string, unknown>> {
    const row = await this.liveStack(stackId);
    // Heat's stack_snapshot: ActionInProgress (409) while the stack is IN_PROGRESS.
    if (row.status === 'IN_PROGRESS') throw actionInProgress(row.name, row.action);
    const data = await this.exportStack(row.id);
    data.params = row.params;
    const snap = await this.store.addSnapshot({
      id: randomUUID(),
      stack_id: row.id,
      name,
      status: 'COMPLETE',
      status_reason: 'Stack SNAPSHOT completed successfully',
      data,
    });
    await this.stackEvent(row, 'SNAPSHOT', 'COMPLETE', 'Stack SNAPSHOT completed successfully');
    return {
      id: snap.id,
      name: snap.name,
      status: snap.status,
      status_reason: snap.status_reason,
      data,
      creation_time: snap.created_at,
    };
  }

  /** Restores a snapshot: the stack is updated back to the snapshot's template and parameters. */
  async restoreSnapshot(caller: Caller, stackId: string, snapshotId: string): Promise<void> {
    const row = await this.liveStack(stackId);
    const snap = await this.store.snapshot(row.id, snapshotId);
    if (!snap) throw new HeatError('EntityNotFound', `The Snapshot (${snapshotId}) could not be found.`);
    const d = snap.data;
    const env = parseEnvironment((d.environment ?? {}) as object);
    const files = (d.files ?? {}) as Record<string, string>;
    const params = (d.params ?? {}) as Record<string, unknown>;
    const loaded = await loadStack(this.registry, d.template, env, files, params);
    await this.lock(row.id, row.name);
    await this.store.updateStack(row.id, {
      template: d.template as Record<string, unknown>,
      environment: d.environment as Record<string, unknown>,
      files,
      params,
    });
    await this.setStack(row, 'RESTORE', 'IN_PROGRESS', 'Stack RESTORE started');
    this.start(row.id, caller, async (j) => {
      try {
        await this.updateResources(j, row, loaded, 'UPDATE');
        await this.setStack(row, 'RESTORE', 'COMPLETE', 'Stack RESTORE completed successfully');
      } catch (e) {
        await this.setStack(row, 'RESTORE', 'FAILED', failureReason(e, 'RESTORE'));
      }
    });
  }

  /** Stops what this engine does on a stack and waits for it (Heat's stop_stack / thread_group_mgr.stop). */
  async stopStack(stackId: string): Promise<void> {
    await this.convergence.stop(stackId);
    const job = this.jobs.get(stackId);
    if (job) {
      job.cancel = 'stop';
      await job.done.catch(() => undefined);
      return;
    }
    const holder = await this.store.lockHolder(stackId);
    if (holder && holder !== this.engineId && (await this.isAlive(holder))) await this.stopRemote(holder, stackId);
  }

  /** Stacks left IN_PROGRESS by an engine that is gone are FAILED and unlocked (Heat's reset_stack_status). */
  async recover(): Promise<void> {
    const rows = await this.store.db
      .selectFrom('stack')
      .selectAll()
      .where('status', '=', 'IN_PROGRESS')
      .where('deleted_at', 'is', null)
      .execute();
    for (const r of rows) {
      const holder = await this.store.lockHolder(r.id);
      // A convergence traversal holds no stack lock: it is superseded by the next update or delete.
      if (r.convergence && !holder) continue;
      if (holder && (holder === this.engineId ? this.jobs.has(r.id) : await this.isAlive(holder))) continue;
      if (holder) await this.store.unlock(r.id, holder);
      const reason = `Engine went down during stack ${r.action}`;
      await this.store.updateStack(r.id, { status: 'FAILED', status_reason: reason, updated_at: now() });
      await this.store.addEvent({
        stack_id: r.id,
        resource_name: r.name,
        physical_resource_id: r.id,
        resource_type: 'OS::Heat::Stack',
        action: r.action,
        status: 'FAILED',
        status_reason: reason,
      });
      for (const res of await this.store.resources(r.id))
        if (res.status === 'IN_PROGRESS') {
          res.status = 'FAILED';
          res.status_reason = reason;
          await this.store.saveResource(res);
        }
    }
  }

  logError(err: unknown, stackId: string) {
    this.log.error({ err, stack: stackId }, 'check_resource failed');
  }

  /** Acts as if this engine's process died: it writes nothing more and answers no message (tests). */
  halt(): void {
    this.halted = true;
    this.convergence.haltAll();
  }

  /** Waits for every job of this engine (close). */
  async drain(): Promise<void> {
    this.convergence.haltAll();
    for (const j of this.jobs.values()) j.cancel = 'stop';
    await Promise.all([...this.jobs.values()].map((j) => j.done.catch(() => undefined)));
  }

  // ---- locks and jobs ---------------------------------------------------------------------

  private async liveStack(stackId: string): Promise<StackRow> {
    const row = await this.store.getStack(stackId, false);
    if (!row) throw stackNotFound(stackId);
    return row;
  }

  /** Takes the stack lock: 409 ActionInProgress while another live engine (or job) holds it. */
  private async lock(stackId: string, name: string): Promise<void> {
    for (let i = 0; i < 3; i++) {
      const holder = await this.store.tryLock(stackId, this.engineId);
      if (holder === null) return;
      const row = await this.store.getStack(stackId);
      const busy = actionInProgress(name, row?.action ?? 'UNKNOWN');
      if (holder === this.engineId) {
        if (this.jobs.has(stackId)) throw busy;
        await this.store.unlock(stackId, holder);
        continue;
      }
      if (await this.isAlive(holder)) throw busy;
      this.log.info({ stack: stackId, engine: holder }, 'stealing the lock of a dead engine');
      if (await this.store.stealLock(stackId, holder, this.engineId)) return;
    }
    throw actionInProgress(name, 'UNKNOWN');
  }

  /** Runs `work` with the stack's timeout (timeout_mins): past it, the job is cancelled as 'Timed out'. */
  private async timed<T>(job: Job, mins: number | null | undefined, work: () => Promise<T>): Promise<T> {
    const m = Number(mins);
    if (!mins || !Number.isFinite(m) || m <= 0) return work();
    const timer = setTimeout(() => {
      if (!job.cancel) job.cancel = 'timeout';
    }, m * 60_000);
    timer.unref();
    try {
      return await work();
    } finally {
      clearTimeout(timer);
    }
  }

  private start(stackId: string, caller: Caller, work: (j: Job) => Promise<void>): Job {
    const job = new Job(caller);
    this.jobs.set(stackId, job);
    job.done = (async () => {
      try {
        await work(job);
      } catch (e) {
        this.log.error({ err: e, stack: stackId }, 'stack job failed');
      } finally {
        this.jobs.delete(stackId);
        await this.store.unlock(stackId, this.engineId).catch(() => undefined);
      }
    })();
    return job;
  }

  // ---- events and states -----------------------------------------------------------------

  /** @internal (convergence.ts) */
  async setStack(row: StackRow, action: string, status: string, reason: string) {
    row.action = action;
    row.status = status;
    row.status_reason = reason;
    await this.store.updateStack(row.id, {
      action,
      status,
      status_reason: reason,
      ...(action !== 'CREATE' ? { updated_at: now() } : {}),
    });
    await this.stackEvent(row, action, status, reason);
  }

  /** @internal (convergence.ts) */
  stackEvent(row: StackRow, action: string, status: string, reason: string) {
    return this.store.addEvent({
      stack_id: row.id,
      resource_name: row.name,
      physical_resource_id: row.id,
      resource_type: 'OS::Heat::Stack',
      action,
      status,
      status_reason: reason,
    });
  }

  private resourceEvent(row: StackRow, r: ResourceRow, action: string, status: string, reason: string) {
    return this.store.addEvent(this.eventOf(row, r, action, status, reason));
  }

  private eventOf(row: StackRow, r: ResourceRow, action: string, status: string, reason: string) {
    return {
      stack_id: row.id,
      resource_name: r.name,
      physical_resource_id: r.physical_resource_id,
      resource_type: r.type,
      action,
      status,
      status_reason: reason,
    };
  }

  private async setResource(row: StackRow, r: ResourceRow, action: string, status: string, reason: string) {
    // An engine that was halted (the tests' crash) writes nothing more.
    if (this.halted) throw new Cancelled('stop');
    r.action = action;
    r.status = status;
    r.status_reason = reason;
    r.updated_at = now();
    // The row and its event together (one wait on a node's critical path, not two).
    await Promise.all([this.store.saveResource(r), this.resourceEvent(row, r, action, status, reason)]);
  }

  // ---- resources ---------------------------------------------------------------------------

  private async pluginFor(row: StackRow, r: ResourceRow): Promise<{ plugin?: ResourcePlugin }> {
    const direct = this.registry.plugins.get(r.type);
    if (direct) return { plugin: direct };
    const loaded = await loadStored(this.registry, row).catch(() => null);
    const kind = loaded?.kinds[r.name];
    if (kind && 'plugin' in kind) return { plugin: kind.plugin };
    return { plugin: templateResourcePlugin(r.type) };
  }

  /**
   * The attributes of some resources of a stack read live from their services (Heat resolves
   * get_attr and a resource's attributes when they are shown, not from a stored copy): each
   * resource's plugin is asked once (the cache of one operation), with the caller's token (or the
   * stack's deferred auth). A resource that cannot answer (gone, its service down) is left out:
   * the caller keeps what was stored.
   */
  async liveAttributes(
    caller: Caller,
    stackId: string,
    names: string[],
  ): Promise<Record<string, Record<string, unknown>>> {
    const row = await this.store.getStack(stackId, false);
    if (!row) return {};
    const job = new Job(caller);
    const wanted = new Set(names);
    const out: Record<string, Record<string, unknown>> = {};
    await Promise.all(
      (await this.store.resources(row.id))
        .filter(
          (r) =>
            wanted.has(r.name) &&
            r.status === 'COMPLETE' &&
            !['INIT', 'DELETE'].includes(r.action) &&
            r.physical_resource_id &&
            !r.data.external_id,
        )
        .map(async (r) => {
          const plugin = this.registry.plugins.get(r.type);
          if (!plugin?.resolveAttributes) return;
          try {
            out[r.name] = await plugin.resolveAttributes(this.resourceContext(job, row, r, plugin, r.properties));
          } catch (err) {
            this.log.debug({ err, stack: row.id, resource: r.name }, 'live attributes unavailable; stored ones used');
          }
        }),
    );
    return out;
  }

  private pluginOf(loaded: LoadedStack, name: string): ResourcePlugin {
    return pluginOfLoaded(loaded, name);
  }

  // ---- deferred auth (Heat's deferred_auth_method = trusts) ----------------------------------

  /** The heat service user's id (the trustee of every stack's trust). */
  private async trusteeId(): Promise<string> {
    this.heatUserId ??= (await this.identity.tokenFor({})).userId;
    return this.heatUserId;
  }

  /**
   * At stack create, with the owner's token: a trust from the owner to the heat user on the
   * stack's project, impersonating, with all the owner's roles there (trusts_delegated_roles
   * empty), so that what the engine does later without the owner (signals, alarms, another
   * engine, recovery) acts as the owner. No token (an admin acting in another project), no trust.
   */
  private async createTrust(caller: Caller): Promise<{ trust_id: string | null; trustor_user_id: string | null }> {
    if (!caller.token || !caller.userId || !caller.roles.length) return { trust_id: null, trustor_user_id: null };
    try {
      const trust = await this.identity.createTrust(
        {
          trustor_user_id: caller.userId,
          trustee_user_id: await this.trusteeId(),
          project_id: caller.projectId,
          impersonation: true,
          roles: caller.roles.map((name) => ({ name })),
        },
        { token: caller.token },
      );
      return { trust_id: trust.id, trustor_user_id: caller.userId };
    } catch (err) {
      // A token that may not delegate (an application credential's, a trust's own): Keystone's
      // 403 refuses the create, as in Heat (its Forbidden with Keystone's message).
      const status = (err as { status?: number }).status;
      if (status === 403 || status === 401) {
        const text = err instanceof Error ? err.message : String(err);
        const m = text.match(/"message":\s*"((?:[^"\\]|\\.)*)"/);
        throw new HeatError('Forbidden', `${m ? JSON.parse(`"${m[1]}"`) : text} (HTTP ${status})`);
      }
      throw err;
    }
  }

  /** A token scoped to the stack's trust, as the heat user (cached until shortly before it expires). */
  private async trustToken(trustId: string): Promise<string> {
    const cached = this.trustTokens.get(trustId);
    if (cached && cached.expires - Date.now() > 300_000) return cached.token;
    const t = await this.identity.tokenFor({ trustId });
    this.trustTokens.set(trustId, { token: t.id, expires: t.expiresAt });
    return t.id;
  }

  /** The token the engine acts with: the caller's, else the stack's trust's, else the service's. */
  private async tokenFor(
    job: Job,
    row: Pick<StackRow, 'id' | 'trust_id' | 'project_id' | 'user_creds'>,
  ): Promise<string> {
    if (job.caller.token) return job.caller.token;
    if (row.user_creds) {
      try {
        return await this.passwordToken(row.user_creds, row.project_id);
      } catch (err) {
        this.log.warn({ err, stack: row.id }, 'the stored credentials give no token; acting with the service token');
      }
    }
    if (row.trust_id) {
      try {
        return await this.trustToken(row.trust_id);
      } catch (err) {
        this.log.warn({ err, stack: row.id }, 'the stack trust gives no token; acting with the service token');
      }
    }
    return this.session.token();
  }

  /** deferred_auth_method = password: a token of the stored user on the stack's project (cached). */
  private async passwordToken(creds: string, projectId: string): Promise<string> {
    const key = `${creds}|${projectId}`;
    const cached = this.trustTokens.get(key);
    if (cached && cached.expires - Date.now() > 300_000) return cached.token;
    const c = JSON.parse(creds) as { user_id: string; password: string };
    const res = await httpRequest(`${await this.identity.baseUrl()}/auth/tokens`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: { methods: ['password'], password: { user: { id: c.user_id, password: c.password } } },
          scope: { project: { id: projectId } },
        },
      }),
    });
    const token = res.headers['x-subject-token'];
    if (res.status !== 201 || typeof token !== 'string') throw new Error(`identity answered ${res.status}`);
    const expires = Date.parse((JSON.parse(res.text) as { token: { expires_at: string } }).token.expires_at);
    this.trustTokens.set(key, { token, expires });
    return token;
  }

  /** With its stack (a top-level one): the trust is deleted (by the trustor, as Keystone requires). */
  private async deleteTrust(job: Job, row: StackRow) {
    if (!row.trust_id) return;
    const trustId = row.trust_id;
    try {
      let status = 0;
      // The trust's own token impersonates the trustor; the deleting user's token when it is the trustor's.
      const own = job.caller.userId === row.trustor_user_id ? job.caller.token : undefined;
      const tokens: Array<() => Promise<string>> = [() => this.trustToken(trustId)];
      if (own) tokens.unshift(async () => own);
      for (const token of tokens) {
        status = await this.identity.deleteTrust(trustId, { token: await token() }).catch(() => 0);
        if (status === 204 || status === 404) break;
      }
      if (status !== 204 && status !== 404)
        this.log.warn({ stack: row.id, trust: trustId, status }, 'trust not deleted');
    } finally {
      this.trustTokens.delete(trustId);
    }
  }

  /** The OpenStack API on behalf of the caller: the user's token, else the stack's trust's, else the service's. */
  private apiFor(job: Job, row: Pick<StackRow, 'id' | 'project_id' | 'trust_id' | 'user_creds'>): ApiCall {
    return async <T>(service: string, method: string, path: string, body?: unknown, expect = [200, 201, 202, 204]) => {
      const endpoint = projectEndpoint(await this.session.endpoint(service), row.project_id);
      const headers: Record<string, string> = {
        Accept: 'application/json',
        'X-Auth-Token': await this.tokenFor(job, row),
      };
      if (service === 'compute') headers['OpenStack-API-Version'] = 'compute 2.79';
      // 3.42: an attached (in-use) volume is extended online.
      if (service === 'block-storage') headers['OpenStack-API-Version'] = 'volume 3.42';
      if (body !== undefined) headers['Content-Type'] = 'application/json';
      const res = await httpRequest(`${endpoint}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      let parsed: unknown;
      try {
        parsed = res.text ? JSON.parse(res.text) : undefined;
      } catch {
        parsed = res.text;
      }
      if (!expect.includes(res.status)) throw new Error(apiFailure(service, method, path, res.status, parsed));
      return parsed as T;
    };
  }

  private resourceContext(
    job: Job,
    row: StackRow,
    r: ResourceRow,
    plugin: ResourcePlugin,
    properties: Record<string, unknown>,
    oldProperties?: Record<string, unknown>,
    loaded?: LoadedStack,
  ): ResourceContext {
    const engine = this;
    const api = this.apiFor(job, row);
    const nestedRow = async () =>
      r.physical_resource_id ? await engine.store.getStack(r.physical_resource_id, false) : null;
    const ctx: ResourceContext = {
      name: r.name,
      type: r.type,
      stack: { id: row.id, name: row.name, projectId: row.project_id, userId: row.user_id, region: this.region },
      properties,
      oldProperties,
      metadata: r.metadata,
      physicalId: r.physical_resource_id,
      data: { ...r.data },
      api,
      log: this.log.child({ stack: row.id, resource: r.name }),
      heatUrl: async () => projectEndpoint(await this.session.endpoint('orchestration', 'public'), row.project_id),
      swift: {
        request: async (method, path, o = {}) => {
          const endpoint = projectEndpoint(await this.session.endpoint('object-store'), row.project_id);
          return httpRequest(`${endpoint}${path}`, {
            method,
            headers: { ...(o.headers ?? {}), 'X-Auth-Token': await this.tokenFor(job, row) },
            body: o.body,
          });
        },
        url: async () => projectEndpoint(await this.session.endpoint('object-store', 'public'), row.project_id),
      },
      cfnUrl: async () => {
        try {
          return (await this.session.endpoint('cloudformation', 'public')).replace(/\/+$/, '');
        } catch {
          return null;
        }
      },
      stackUser: {
        async create(o = {}) {
          const had = ctx.data.stack_user as StackUserCreds | undefined;
          if (had?.user_id && (!o.ec2 || had.access)) return had;
          if (had?.user_id) await engine.stackDomain.deleteUser(had.user_id).catch(() => undefined);
          const root = await engine.rootOf(row);
          const creds = await engine.stackDomain.createUser(root.id, `${row.name}-${r.name}`, o);
          if (root.stack_user_project_id !== creds.project_id) {
            await engine.store.updateStack(root.id, { stack_user_project_id: creds.project_id });
            root.stack_user_project_id = creds.project_id;
          }
          // Kept at once: a create that fails after this still deletes the user.
          ctx.data.stack_user = creds;
          r.data = { ...r.data, stack_user: creds };
          await engine.store.saveResource(r);
          return creds;
        },
        async token() {
          const creds = ctx.data.stack_user as StackUserCreds | undefined;
          if (!creds) throw new Error(`${r.name} has no stack user`);
          return engine.stackDomain.userToken(creds);
        },
        async authUrl() {
          return (await engine.session.endpoint('identity', 'public')).replace(/\/+$/, '').replace(/(\/v3)?$/, '/v3');
        },
      },
      sleep: (ms) => this.sleep(job, ms),
      watchServer: (id) => this.watchServer(job, id),
      metadataSet: async (metadata) => {
        r.metadata = metadata;
        (ctx as { metadata: Record<string, unknown> }).metadata = metadata;
        await engine.store.setResourceMetadata(r.id, metadata);
      },
      sibling: async (ref) => {
        for (const s of await engine.store.resources(row.id)) {
          const p = engine.registry.plugins.get(s.type);
          if (s.name === ref || refIdOf(s, p) === ref)
            return {
              name: s.name,
              physicalId: s.physical_resource_id,
              data: s.data,
              attributes: s.attributes,
              properties: s.properties,
            };
        }
        return null;
      },
      signalSibling: async (ref, details) => {
        const sib = await ctx.sibling(ref);
        if (!sib)
          throw new HeatError('EntityNotFound', `The Resource (${ref}) could not be found in Stack ${row.name}.`);
        await engine.signalResource(job.caller, row.id, sib.name, details, { quiet: true });
      },
      nested: {
        async apply(template, params, files) {
          const existing = await nestedRow();
          const registry = engine.registry.nestedRegistry(
            r.name,
            ((loaded?.env ?? parseEnvironment(row.environment)).resource_registry ?? {}) as Record<string, unknown>,
          );
          const env = {
            resource_registry: registry,
            parameter_defaults: (loaded?.env ?? parseEnvironment(row.environment)).parameter_defaults ?? {},
          };
          const allFiles = { ...row.files, ...(files ?? {}) };
          if (existing) {
            // A convergence nested stack is updated as a traversal of its own (any engine's).
            const conv = !!existing.convergence;
            await engine.updateStack(
              job.caller,
              existing.id,
              { template, parameters: params, environment: env, files: allFiles },
              !conv,
            );
            if (conv) await engine.awaitNested(job, existing.id);
            const after = await engine.store.getStack(existing.id);
            if (after?.status !== 'COMPLETE') throw new Error(after?.status_reason ?? 'nested stack update failed');
            ctx.physicalId = existing.id;
            return existing.id;
          }
          const req: StackRequest = {
            stack_name: `${row.name}-${r.name}-${randomUUID().slice(0, 12)}`,
            template,
            parameters: params,
            environment: env,
            disable_rollback: true,
          };
          // A convergence stack's nested stack is created by any engine (an RPC call, as Heat's
          // StackResource does), which sets this resource's physical id once its row exists.
          const ref =
            row.convergence && engine.options.convergenceEngine
              ? await engine
                  .createNested(job.caller, req, { id: row.id, resource: r.name, resourceId: r.id, files: allFiles })
                  .catch((e) => {
                    throw e instanceof RpcError && e.remoteType ? new HeatError(e.remoteType, e.message) : e;
                  })
              : await engine.createStack(job.caller, req, {
                  id: row.id,
                  resource: r.name,
                  files: allFiles,
                  created: async (id) => {
                    ctx.physicalId = id;
                    r.physical_resource_id = id;
                    await engine.store.saveResource(r);
                  },
                });
          ctx.physicalId = ref.id;
          r.physical_resource_id = ref.id;
          await engine.awaitNested(job, ref.id);
          const after = await engine.store.getStack(ref.id);
          if (after?.status !== 'COMPLETE') throw new Error(after?.status_reason ?? 'nested stack create failed');
          return ref.id;
        },
        async delete() {
          const n = (await nestedRow()) ?? (ctx.physicalId ? await engine.store.getStack(ctx.physicalId, false) : null);
          if (!n) return;
          await engine.deleteStack(job.caller, n.id, { wait: true });
          const after = await engine.store.getStack(n.id);
          if (after?.status === 'FAILED') throw new Error(after.status_reason);
        },
        async outputs() {
          const n = ctx.physicalId ? await engine.store.getStack(ctx.physicalId) : null;
          if (!n) return {};
          return engine.outputsOf(n);
        },
        async resources() {
          const n = ctx.physicalId ? await engine.store.getStack(ctx.physicalId) : null;
          if (!n) return {};
          const out: Record<string, { refId: string | null; attributes: Record<string, unknown> }> = {};
          for (const x of await engine.store.resources(n.id))
            out[x.name] = { refId: refIdOf(x, engine.registry.plugins.get(x.type)), attributes: x.attributes };
          return out;
        },
        async action(action) {
          const n = ctx.physicalId ? await engine.store.getStack(ctx.physicalId, false) : null;
          if (!n) return;
          await engine.lock(n.id, n.name);
          await engine.setStack(n, action, 'IN_PROGRESS', `Stack ${action} started`);
          const j = engine.start(n.id, job.caller, async (jj) => {
            try {
              await engine.actOnResources(jj, n, action);
              await engine.setStack(n, action, 'COMPLETE', `Stack ${action} completed successfully`);
            } catch (e) {
              await engine.setStack(n, action, 'FAILED', failureReason(e, action));
            }
          });
          await j.done;
          const after = await engine.store.getStack(n.id);
          if (after?.status === 'FAILED') throw new Error(after.status_reason);
        },
      },
    };
    return ctx;
  }

  /**
   * @internal Waits while a nested stack's traversal runs (Heat's StackResource.check_create_complete
   * and check_update_complete poll the nested stack). The parent's node stopped (cancel, timeout):
   * the nested traversal is stopped too, its stack FAILED "Stack <action> cancelled".
   */
  async awaitNested(job: Job, stackId: string) {
    for (let wait = 20; ; wait = Math.min(wait * 2, 250)) {
      const s = await this.store.stackState(stackId);
      if (!s || s.status !== 'IN_PROGRESS') return;
      if (job.cancel) {
        await this.convergence.quiesce(stackId);
        const fresh = await this.store.getStack(stackId, false);
        if (fresh?.status === 'IN_PROGRESS')
          await this.setStack(fresh, fresh.action, 'FAILED', `Stack ${fresh.action} cancelled`);
        throw new Cancelled(job.cancel);
      }
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  /** The outputs of a nested stack that failed to resolve, name → message (get_attr on them fails). */
  async nestedOutputErrors(stackId: string | null): Promise<Record<string, string>> {
    const n = stackId ? await this.store.getStack(stackId) : null;
    if (!n) return {};
    const loaded = await loadStored(this.registry, n);
    const rows = new Map((await this.store.resources(n.id)).map((x) => [x.name, x]));
    const outs = resolveOutputs(loaded, identityOf(n, this.region), rows, (x) => this.pluginOf(loaded, x));
    return Object.fromEntries(outs.filter((o) => o.output_error).map((o) => [o.output_key, o.output_error as string]));
  }

  /** The outputs of a stored stack, name → value. */
  async outputsOf(row: StackRow): Promise<Record<string, unknown>> {
    const loaded = await loadStored(this.registry, row);
    const rows = new Map((await this.store.resources(row.id)).map((x) => [x.name, x]));
    const outs = resolveOutputs(loaded, identityOf(row, this.region), rows, (n) => this.pluginOf(loaded, n));
    return Object.fromEntries(outs.map((o) => [o.output_key, o.output_value]));
  }

  /** A nested stack's row exists: its parent resource's row (by id) shows it (an RPC createNested). */
  private async nestedCreated(resourceId: string, stackId: string) {
    const pr = await this.store.resourceById(resourceId);
    if (!pr || pr.physical_resource_id) return;
    pr.physical_resource_id = stackId;
    await this.store.updateResource(pr);
  }

  /**
   * A compute `instance.*` notification (rpcapi.ts routes them here): an action on a server that
   * ended (`.end`) or failed (`.error`) wakes what waits on that server.
   */
  instanceNotification(n: Notification) {
    if (!this.serverWatches.size || !/\.(end|error)$/.test(n.event_type)) return;
    const id = (n.payload as { 'nova_object.data'?: { uuid?: unknown } } | null)?.['nova_object.data']?.uuid;
    if (typeof id !== 'string') return;
    for (const wake of this.serverWatches.get(id) ?? []) wake();
  }

  /** ResourceContext.watchServer: polls of a server between which a notification of it wakes the waiter. */
  private watchServer(job: Job, id: string): { next(ms: number): Promise<void>; close(): void } {
    let heard = false;
    let wake: (() => void) | null = null;
    const fn = () => {
      heard = true;
      wake?.();
    };
    const set = this.serverWatches.get(id) ?? new Set();
    set.add(fn);
    this.serverWatches.set(id, set);
    return {
      next: async (ms) => {
        const end = Date.now() + ms;
        while (!heard && Date.now() < end) {
          if (job.cancel) throw new Cancelled(job.cancel);
          await new Promise<void>((res) => {
            const t = setTimeout(done, Math.min(200, end - Date.now()));
            function done() {
              clearTimeout(t);
              wake = null;
              res();
            }
            wake = done;
          });
        }
        heard = false;
        if (job.cancel) throw new Cancelled(job.cancel);
      },
      close: () => {
        set.delete(fn);
        if (!set.size && this.serverWatches.get(id) === set) this.serverWatches.delete(id);
      },
    };
  }

  private async sleep(job: Job, ms: number) {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (job.cancel) throw new Cancelled(job.cancel);
      await new Promise((r) => setTimeout(r, Math.min(200, end - Date.now())));
    }
    if (job.cancel) throw new Cancelled(job.cancel);
  }

  /** Waits while a hook is set on the resource (pre-create, pre-update, pre-delete, post-*). */
  private async hook(
    job: Job,
    row: StackRow,
    r: ResourceRow,
    loaded: LoadedStack | null,
    hook: string,
    action: string,
  ) {
    const env: Environment = loaded?.env ?? parseEnvironment(row.environment);
    const hooks = this.registry.hooks(r.name, (env.resource_registry ?? {}) as Record<string, unknown>);
    if (!hooks.includes(hook)) return;
    r.data = { ...r.data, pending_hook: hook };
    await this.store.saveResource(r);
    await this.resourceEvent(row, r, r.action, r.status, `${action} paused until Hook ${hook} is cleared`);
    for (;;) {
      await this.sleep(job, 300);
      const cur = await this.store.resource(row.id, r.name);
      if (!cur || !cur.data.pending_hook) {
        if (cur) r.data = cur.data;
        return;
      }
    }
  }

  /** Runs `work` on every name once its `after` names are done, in parallel where allowed. */
  /**
   * `aggregate` (Heat's DependencyTaskGroup with aggregate_exceptions, a stack check): a failure
   * does not stop the walk; what depends on a failed name is not done, the others are, and the
   * failures are thrown together as Heat's ExceptionGroup words them (`['<reason>', ...]`).
   */
  private async walk(
    job: Job,
    names: string[],
    after: (n: string) => string[],
    work: (n: string) => Promise<void>,
    aggregate = false,
  ) {
    const done = new Set<string>();
    const running = new Map<string, Promise<void>>();
    const pending = new Set(names);
    const failed = new Set<string>();
    const failures: unknown[] = [];
    let failure: unknown = null;
    while (pending.size || running.size) {
      if (!failure && job.cancel) failure = new Cancelled(job.cancel);
      if (!failure)
        for (const n of [...pending]) {
          if (running.size >= this.options.maxParallelResources) break;
          const deps = after(n);
          if (aggregate && deps.some((d) => failed.has(d))) {
            // Heat's _cancel_recursively: what needs a failed resource is not done.
            pending.delete(n);
            failed.add(n);
            continue;
          }
          if (deps.every((d) => done.has(d) || !names.includes(d))) {
            pending.delete(n);
            running.set(
              n,
              work(n).then(
                () => {
                  done.add(n);
                  running.delete(n);
                },
                (e) => {
                  if (aggregate && !(e instanceof Cancelled)) {
                    failed.add(n);
                    failures.push(e);
                  } else failure ??= e;
                  running.delete(n);
                },
              ),
            );
          }
        }
      if (!running.size) {
        if (failure || !pending.size) break;
        // A name freed by a failure above: another round.
        if (aggregate && [...pending].some((n) => after(n).some((d) => failed.has(d)))) continue;
        throw new Error(`Circular dependency among ${[...pending].join(', ')}`);
      }
      await Promise.race(running.values());
    }
    if (failure) throw failure;
    if (failures.length)
      throw new ResourceFailed(pyStr(failures.map((e) => (e instanceof Error ? e.message : String(e)))));
  }

  /** @internal (convergence.ts) */
  newRow(
    row: StackRow,
    name: string,
    type: string,
    requires: string[],
    metadata: Record<string, unknown>,
  ): ResourceRow {
    return {
      id: randomUUID(),
      stack_id: row.id,
      name,
      type,
      action: 'INIT',
      status: 'COMPLETE',
      status_reason: '',
      physical_resource_id: null,
      properties: {},
      attributes: {},
      data: {},
      metadata,
      requires,
      created_at: now(),
      updated_at: null,
    };
  }

  private resolveProps(
    loaded: LoadedStack,
    row: StackRow,
    rows: Map<string, ResourceRow>,
    name: string,
    plugin: ResourcePlugin,
  ) {
    const def = loaded.defs[name]!;
    const ctx = resolveContext(loaded, identityOf(row, this.region), rows, (n) => this.pluginOf(loaded, n));
    const raw = (
      def.properties === undefined || def.properties === null ? {} : resolve(def.properties, loaded.template, ctx)
    ) as Record<string, unknown>;
    const metadata = (def.metadata ? resolve(def.metadata, loaded.template, ctx) : {}) as Record<string, unknown>;
    if (plugin.anyProperties) return { props: raw ?? {}, metadata };
    try {
      return { props: validateProperties(plugin.properties, raw ?? {}, `Properties`), metadata };
    } catch (e) {
      throw new HeatError('StackValidationFailed', `Property error: resources.${name}.${(e as Error).message}`);
    }
  }

  private async createOne(
    job: Job,
    row: StackRow,
    loaded: LoadedStack,
    rows: Map<string, ResourceRow>,
    name: string,
    action: string,
    adopt?: Record<string, unknown>,
  ) {
    const r = rows.get(name)!;
    const plugin = this.pluginOf(loaded, name);
    await this.hook(job, row, r, loaded, 'pre-create', 'CREATE');
    await this.setResource(row, r, action, 'IN_PROGRESS', 'state changed');
    let ctx: ResourceContext | undefined;
    try {
      const { props, metadata } = this.resolveProps(loaded, row, rows, name, plugin);
      r.metadata = metadata;
      r.properties = props;
      ctx = this.resourceContext(job, row, r, plugin, props, undefined, loaded);
      ctx.typeOfOwn = ownTypes(rows, r);
      const kind = loaded.kinds[name]!;
      const adopted = (adopt?.resources as Record<string, Record<string, unknown>> | undefined)?.[name];
      const external = externalIdOf(loaded, row, rows, name, this.region, (n) => this.pluginOf(loaded, n));
      if (external !== null) {
        // An external resource is referenced, not made (and not deleted with the stack).
        ctx.physicalId = external;
        ctx.data = { external_id: external };
      } else if (adopted) {
        ctx.physicalId = (adopted.resource_id as string) ?? null;
        ctx.data = (adopted.resource_data as Record<string, unknown>) ?? {};
      } else if ('template' in kind) {
        await ctx.nested.apply(kind.template, props, loaded.files);
        ctx.data.outputs = await ctx.nested.outputs();
        ctx.data.output_errors = await this.nestedOutputErrors(ctx.physicalId);
        ctx.data.stack_id_output = (ctx.data.outputs as Record<string, unknown>)['OS::stack_id'] ?? null;
      } else await plugin.create(ctx);
      r.physical_resource_id = ctx.physicalId;
      r.data = ctx.data;
      r.properties = props;
      r.attributes = plugin.resolveAttributes ? await plugin.resolveAttributes(ctx) : {};
      if ('template' in kind) r.attributes = { ...((ctx.data.outputs ?? {}) as Record<string, unknown>) };
    } catch (e) {
      // What the plugin made before it failed is kept, so that delete and rollback remove it.
      if (ctx) {
        r.physical_resource_id = ctx.physicalId;
        r.data = ctx.data;
      }
      if (e instanceof Cancelled) {
        await this.setResource(row, r, action, 'FAILED', `${action} aborted`);
        throw e;
      }
      const reason = resourceFailure(e, name);
      await this.setResource(row, r, action, 'FAILED', reason);
      throw new ResourceFailed(reason);
    }
    await this.setResource(row, r, action, 'COMPLETE', 'state changed');
    await this.hook(job, row, r, loaded, 'post-create', 'CREATE');
  }

  private async createResources(
    job: Job,
    row: StackRow,
    loaded: LoadedStack,
    action: string,
    adopt?: Record<string, unknown>,
  ) {
    const rows = new Map<string, ResourceRow>();
    for (const [name, def] of Object.entries(loaded.defs)) {
      const r = this.newRow(row, name, def.type, loaded.deps[name] ?? [], {});
      rows.set(name, r);
      await this.store.saveResource(r);
    }
    await this.walk(
      job,
      Object.keys(loaded.defs),
      (n) => loaded.deps[n] ?? [],
      (n) => this.createOne(job, row, loaded, rows, n, action, adopt),
    );
  }

  /** @internal (convergence.ts) */
  async deleteOne(job: Job, row: StackRow, r: ResourceRow, loaded: LoadedStack | null, retain: boolean) {
    const plugin = loaded?.kinds[r.name] ? this.pluginOf(loaded, r.name) : (await this.pluginFor(row, r)).plugin!;
    if (r.action === 'INIT' && r.status === 'COMPLETE') {
      await this.store.deleteResource(r.id);
      return;
    }
    await this.hook(job, row, r, loaded, 'pre-delete', 'DELETE');
    await this.setResource(row, r, 'DELETE', 'IN_PROGRESS', 'state changed');
    try {
      if (!retain && !r.data.external_id) {
        const ctx = this.resourceContext(job, row, r, plugin, r.properties, undefined, loaded ?? undefined);
        await plugin.delete(ctx);
      }
      // The resource's stack-domain user (Heat's StackUser) goes with it.
      const user = r.data.stack_user as StackUserCreds | undefined;
      if (user?.user_id) await this.stackDomain.deleteUser(user.user_id);
    } catch (e) {
      const reason = resourceFailure(e, r.name);
      await this.setResource(row, r, 'DELETE', 'FAILED', reason);
      throw new ResourceFailed(reason);
    }
    await this.resourceEvent(row, r, 'DELETE', 'COMPLETE', 'state changed');
    await this.store.deleteResource(r.id);
  }

  /**
   * @internal (convergence.ts) Deletes some rows at once (a batch of a traversal's clean-up nodes),
   * each as deleteOne does, with the database work of the batch in a few statements: the rows set
   * DELETE IN_PROGRESS together, the events of each step inserted together, the rows deleted
   * together; the plugins' deletes run in parallel. A row with a pre-delete hook goes through
   * deleteOne. Answers the failure of each row that failed (the others are gone).
   */
  async deleteMany(job: Job, row: StackRow, items: Array<{ r: ResourceRow; retain: boolean }>) {
    const failures = new Map<string, unknown>();
    const env: Environment = parseEnvironment(row.environment);
    const registry = (env.resource_registry ?? {}) as Record<string, unknown>;
    const unmade: string[] = [];
    const batch: Array<{ r: ResourceRow; retain: boolean }> = [];
    const single: Array<{ r: ResourceRow; retain: boolean }> = [];
    for (const it of items) {
      if (it.r.action === 'INIT' && it.r.status === 'COMPLETE') unmade.push(it.r.id);
      else if (this.registry.hooks(it.r.name, registry).includes('pre-delete')) single.push(it);
      else batch.push(it);
    }
    const one = Promise.all(
      single.map(({ r, retain }) => this.deleteOne(job, row, r, null, retain).catch((e) => failures.set(r.id, e))),
    );
    if (batch.length) {
      if (this.halted) throw new Cancelled('stop');
      const at = now();
      for (const { r } of batch)
        Object.assign(r, { action: 'DELETE', status: 'IN_PROGRESS', status_reason: 'state changed', updated_at: at });
      await this.store.setResourcesState(
        batch.map((x) => x.r.id),
        { action: 'DELETE', status: 'IN_PROGRESS', status_reason: 'state changed', updated_at: at },
      );
      await this.store.addEvents(batch.map(({ r }) => this.eventOf(row, r, 'DELETE', 'IN_PROGRESS', 'state changed')));
      const done: ResourceRow[] = [];
      await Promise.all(
        batch.map(async ({ r, retain }) => {
          try {
            if (!retain && !r.data.external_id) {
              const plugin = (await this.pluginFor(row, r)).plugin!;
              await plugin.delete(this.resourceContext(job, row, r, plugin, r.properties));
            }
            const user = r.data.stack_user as StackUserCreds | undefined;
            if (user?.user_id) await this.stackDomain.deleteUser(user.user_id);
            done.push(r);
          } catch (e) {
            const reason = resourceFailure(e, r.name);
            failures.set(r.id, new ResourceFailed(reason));
            await this.setResource(row, r, 'DELETE', 'FAILED', reason).catch(() => undefined);
          }
        }),
      );
      if (this.halted) throw new Cancelled('stop');
      await this.store.addEvents(done.map((r) => this.eventOf(row, r, 'DELETE', 'COMPLETE', 'state changed')));
      unmade.push(...done.map((r) => r.id));
    }
    await this.store.deleteResources(unmade);
    await one;
    return failures;
  }

  private async deleteResources(
    job: Job,
    row: StackRow,
    loaded: LoadedStack | null,
    rollback: boolean,
    only?: ResourceRow[],
  ) {
    const list = only ?? (await this.store.resources(row.id));
    const byName = new Map(list.map((r) => [r.name, r]));
    // A resource goes once every resource that requires it is gone.
    const requiredBy = (n: string) => list.filter((x) => x.requires.includes(n)).map((x) => x.name);
    const deletionPolicy = (n: string) => String(loaded?.defs[n]?.deletion_policy ?? 'Delete');
    // Deletion ignores cancellation requests from a previous action: delete must finish.
    const own = rollback ? job : Object.assign(new Job(job.caller), { cancel: false as Cancel });
    await this.walk(
      own,
      list.map((r) => r.name),
      requiredBy,
      (n) => this.deleteOne(own, row, byName.get(n)!, loaded, deletionPolicy(n) === 'Retain'),
    );
  }

  /**
   * @internal (convergence.ts) Creates or updates one resource to `loaded`. `deferReplace`
   * (convergence): a replacement makes the new row first and leaves the old one, marked
   * `replaced_by`, to its clean-up node.
   */
  async updateOne(
    job: Job,
    row: StackRow,
    loaded: LoadedStack,
    rows: Map<string, ResourceRow>,
    name: string,
    action: string,
    deferReplace = false,
  ) {
    const existing = rows.get(name);
    const def = loaded.defs[name]!;
    const plugin = this.pluginOf(loaded, name);
    const kind = loaded.kinds[name]!;
    if (!existing || (existing.action === 'INIT' && existing.status === 'COMPLETE') || existing.action === 'DELETE') {
      const r = existing ?? this.newRow(row, name, def.type, loaded.deps[name] ?? [], {});
      r.requires = loaded.deps[name] ?? [];
      r.type = def.type;
      rows.set(name, r);
      // A row that exists is saved by createOne's first state change.
      if (!existing) await this.store.saveResource(r);
      await this.createOne(job, row, loaded, rows, name, 'CREATE');
      return;
    }
    existing.requires = loaded.deps[name] ?? [];
    const external = externalIdOf(loaded, row, rows, name, this.region, (n) => this.pluginOf(loaded, n));
    const before = (existing.data.external_id as string | undefined) ?? null;
    if (external !== before) {
      const reason = `NotSupported: resources.${name}: Update to property external_id of ${name} (${def.type}) is not supported.`;
      await this.setResource(row, existing, 'UPDATE', 'FAILED', reason);
      throw new ResourceFailed(reason);
    }
    if (external !== null) return;
    const { props, metadata } = (() => {
      try {
        return this.resolveProps(loaded, row, rows, name, plugin);
      } catch (e) {
        throw new ResourceFailed(resourceFailure(e, name));
      }
    })();
    const sameType = existing.type === def.type;
    const changed = Object.keys({ ...props, ...existing.properties }).filter(
      (k) => JSON.stringify(props[k] ?? null) !== JSON.stringify(existing.properties[k] ?? null),
    );
    const failedBefore = existing.status === 'FAILED' && existing.action !== 'CHECK';
    const nested = 'template' in kind;
    // The pre-update hook stops every resource the update visits, changed or not (as Heat's does).
    await this.hook(job, row, existing, loaded, 'pre-update', 'UPDATE');
    if (sameType && !changed.length && !failedBefore && !nested) {
      if (JSON.stringify(metadata) !== JSON.stringify(existing.metadata)) {
        existing.metadata = metadata;
        await this.store.saveResource(existing);
      }
      return;
    }
    const inPlace =
      sameType &&
      !failedBefore &&
      (nested || (plugin.update && changed.every((k) => plugin.anyProperties || plugin.properties[k]?.update_allowed)));
    if (inPlace) {
      await this.setResource(
        row,
        existing,
        action === 'ROLLBACK' ? 'UPDATE' : 'UPDATE',
        'IN_PROGRESS',
        'state changed',
      );
      try {
        const ctx = this.resourceContext(job, row, existing, plugin, props, existing.properties, loaded);
        ctx.typeOfOwn = ownTypes(rows, existing);
        if (nested && 'template' in kind) {
          await ctx.nested.apply(kind.template, props, loaded.files);
          ctx.data.outputs = await ctx.nested.outputs();
          ctx.data.output_errors = await this.nestedOutputErrors(ctx.physicalId);
        } else await plugin.update!(ctx, changed);
        existing.physical_resource_id = ctx.physicalId;
        existing.data = ctx.data;
        existing.properties = props;
        existing.metadata = metadata;
        existing.attributes = nested
          ? { ...((ctx.data.outputs ?? {}) as Record<string, unknown>) }
          : plugin.resolveAttributes
            ? await plugin.resolveAttributes(ctx)
            : {};
        await this.setResource(row, existing, 'UPDATE', 'COMPLETE', 'state changed');
        await this.hook(job, row, existing, loaded, 'post-update', 'UPDATE');
        return;
      } catch (e) {
        if (!(e instanceof UpdateReplace)) {
          if (e instanceof Cancelled) {
            await this.setResource(row, existing, 'UPDATE', 'FAILED', 'UPDATE aborted');
            throw e;
          }
          const reason = resourceFailure(e, name);
          await this.setResource(row, existing, 'UPDATE', 'FAILED', reason);
          throw new ResourceFailed(reason);
        }
      }
    }
    // Replacement: the old resource goes, a new one is made under the same name.
    await this.resourceEvent(row, existing, 'UPDATE', 'IN_PROGRESS', 'UpdateReplace: the resource is replaced');
    if (deferReplace) {
      // Convergence: the new one is made first; the old one goes at its clean-up node.
      const fresh = this.newRow(row, name, def.type, loaded.deps[name] ?? [], {});
      fresh.replaces = existing.id;
      // Made under this engine's lock (released with the old row's): a delete waits for it.
      fresh.engine_id = this.engineId;
      existing.replaced_by = fresh.id;
      await this.store.saveResource(existing);
      rows.set(name, fresh);
      await this.store.saveResource(fresh);
      // As upstream's convergence, the replacement ends CREATE_COMPLETE.
      await this.createOne(job, row, loaded, rows, name, 'CREATE');
      return;
    }
    try {
      if (existing.physical_resource_id || existing.status !== 'FAILED' || existing.action !== 'CREATE') {
        const old = this.pluginOf(loaded, name);
        const oldPlugin = existing.type === def.type ? old : (await this.pluginFor(row, existing)).plugin!;
        await oldPlugin.delete(
          this.resourceContext(job, row, existing, oldPlugin, existing.properties, undefined, loaded),
        );
      }
    } catch (e) {
      const reason = resourceFailure(e, name);
      await this.setResource(row, existing, 'UPDATE', 'FAILED', reason);
      throw new ResourceFailed(reason);
    }
    await this.store.deleteResource(existing.id);
    const fresh = this.newRow(row, name, def.type, loaded.deps[name] ?? [], {});
    rows.set(name, fresh);
    await this.store.saveResource(fresh);
    await this.createOne(job, row, loaded, rows, name, 'CREATE');
    const r = rows.get(name)!;
    await this.setResource(row, r, 'UPDATE', 'COMPLETE', 'state changed');
  }

  private async updateResources(job: Job, row: StackRow, loaded: LoadedStack, action: string) {
    const current = await this.store.resources(row.id);
    const rows = new Map(current.map((r) => [r.name, r]));
    const names = Object.keys(loaded.defs);
    await this.walk(
      job,
      names,
      (n) => loaded.deps[n] ?? [],
      (n) => this.updateOne(job, row, loaded, rows, n, action),
    );
    const removed = current.filter((r) => !(r.name in loaded.defs));
    if (removed.length) {
      const old = await loadStored(this.registry, row).catch(() => null);
      await this.deleteResources(job, row, old, false, removed);
    }
  }

  private async actOnResources(job: Job, row: StackRow, action: 'SUSPEND' | 'RESUME' | 'CHECK') {
    const list = await this.store.resources(row.id);
    const loaded = await loadStored(this.registry, row).catch(() => null);
    const byName = new Map(list.map((r) => [r.name, r]));
    const order =
      action === 'SUSPEND'
        ? (n: string) => list.filter((x) => x.requires.includes(n)).map((x) => x.name)
        : (n: string) => byName.get(n)?.requires ?? [];
    await this.walk(
      job,
      list.map((r) => r.name),
      order,
      async (n) => {
        const r = byName.get(n)!;
        const plugin = loaded?.kinds[n] ? this.pluginOf(loaded, n) : (await this.pluginFor(row, r)).plugin!;
        const handler = action === 'SUSPEND' ? plugin.suspend : action === 'RESUME' ? plugin.resume : plugin.check;
        // Heat's Resource.suspend/resume/check: a resource in a state they do not act on fails the
        // action without a state change of its own (one a traversal is creating, one not yet made).
        const state = `('${r.action}', '${r.status}')`;
        if (action === 'SUSPEND' && (r.action === 'DELETE' || (r.action !== 'SUSPEND' && r.status !== 'COMPLETE')))
          throw new ResourceFailed(`Error: resources.${n}: State ${state} invalid for suspend`);
        if (
          action === 'RESUME' &&
          !['SUSPEND_COMPLETE', 'RESUME_FAILED', 'RESUME_COMPLETE'].includes(`${r.action}_${r.status}`)
        )
          throw new ResourceFailed(`Error: resources.${n}: State ${state} invalid for resume`);
        if (action === 'CHECK' && r.action === 'INIT' && r.status === 'COMPLETE') {
          if (!handler) return;
          await this.setResource(row, r, action, 'FAILED', `Can not check ${n}, resource not created yet.`);
          throw new ResourceFailed(`Exception: resources.${n}: Resource ${n} not created yet.`);
        }
        await this.setResource(row, r, action, 'IN_PROGRESS', 'state changed');
        try {
          if (handler)
            await handler.call(
              plugin,
              this.resourceContext(job, row, r, plugin, r.properties, undefined, loaded ?? undefined),
            );
        } catch (e) {
          const reason = resourceFailure(e, n);
          await this.setResource(row, r, action, 'FAILED', reason);
          throw new ResourceFailed(reason);
        }
        await this.setResource(
          row,
          r,
          action,
          'COMPLETE',
          handler || action !== 'CHECK' ? 'state changed' : `${action} not supported for ${r.type}`,
        );
      },
      // Heat's Stack.check runs with aggregate_exceptions: every failed resource is reported.
      action === 'CHECK',
    );
  }
}

class ResourceFailed extends Error {}

/** The resolved `external_id` of a resource definition, or null. */
function externalIdOf(
  loaded: LoadedStack,
  row: StackRow,
  rows: Map<string, ResourceRow>,
  name: string,
  region: string,
  pluginOf: (n: string) => ResourcePlugin,
): string | null {
  const ext = loaded.defs[name]?.external_id;
  if (ext === undefined || ext === null) return null;
  const v = resolve(ext, loaded.template, resolveContext(loaded, identityOf(row, region), rows, pluginOf));
  return v === undefined || v === null || v === '' ? null : String(v);
}

/**
 * A catalog URL for another project: the service user's catalog has its own project substituted
 * (Keystone fills in $(project_id)s), so the project part of per-project endpoints is replaced.
 */
export function projectEndpoint(url: string, projectId: string): string {
  return url
    .replace(/\/+$/, '')
    .replace(/\$\(project_id\)s|%\(tenant_id\)s|\$\(tenant_id\)s/g, projectId)
    .replace(/\/AUTH_[0-9a-zA-Z_-]+$/, `/AUTH_${projectId}`)
    .replace(/\/heat-api\/v1\/[^/]+$/, `/heat-api/v1/${projectId}`)
    .replace(/(:8004\/v1)\/[^/]+$/, `$1/${projectId}`);
}

function mergeEnv(a: Environment, b: Environment): Environment {
  const out = { ...a } as Record<string, unknown>;
  for (const [k, v] of Object.entries(b as unknown as Record<string, unknown>)) {
    const prev = out[k];
    out[k] =
      prev && typeof prev === 'object' && !Array.isArray(prev) && v && typeof v === 'object' && !Array.isArray(v)
        ? { ...(prev as object), ...(v as object) }
        : v;
  }
  return out as unknown as Environment;
}

function resourceFailure(e: unknown, name: string): string {
  if (e instanceof ResourceFailed) return e.message;
  const err = e as Error;
  const type =
    e instanceof HeatError
      ? e.type
      : err?.constructor?.name && err.constructor.name !== 'Error'
        ? err.constructor.name
        : 'Error';
  const msg = err?.message ?? String(e);
  return msg.startsWith(`${type}: resources.`) ? msg : `${type}: resources.${name}: ${msg}`;
}

export function failureReason(e: unknown, action: string): string {
  if (e instanceof Cancelled)
    return e.how === 'rollback'
      ? 'Stack UPDATE cancelled'
      : e.how === 'timeout'
        ? 'Timed out'
        : `Stack ${action} cancelled`;
  if (e instanceof ResourceFailed) return `Resource ${action} failed: ${e.message}`;
  return `${action} failed: ${(e as Error)?.message ?? String(e)}`;
}

/** A SIGNAL event's reason, as Heat's Resource._handle_signal words it. */
export function signalReason(result: string | undefined | void, details: unknown): string {
  if (result) return `Signal: ${result}`;
  if (details === null || details === undefined) return 'No signal details provided';
  if (typeof details === 'string') return details;
  if (typeof details === 'object' && !Array.isArray(details)) {
    const d = details as Record<string, unknown>;
    // From Aodh (Ceilometer): its alarm notification.
    if ('previous' in d && 'current' in d && 'reason' in d)
      // Heat's '%s' formatting: Python's str() (a dict or list reads as its repr).
      return `alarm state changed from ${pyStr(d.previous)} to ${pyStr(d.current)} (${pyStr(d.reason)})`;
  }
  return 'Unknown';
}

function apiFailure(service: string, method: string, path: string, status: number, body: unknown): string {
  let message = typeof body === 'string' ? body : JSON.stringify(body);
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    const inner = Object.values(b)[0] as Record<string, unknown> | undefined;
    const m =
      (b.NeutronError as { message?: string } | undefined)?.message ??
      (b.error as { message?: string } | undefined)?.message ??
      (inner && typeof inner === 'object' ? (inner.message as string | undefined) : undefined);
    if (m) message = m;
  }
  const kind =
    status === 404
      ? 'NotFound'
      : status === 409
        ? 'Conflict'
        : status === 403
          ? 'Forbidden'
          : status >= 500
            ? 'InternalServerError'
            : 'BadRequest';
  return `${kind}: ${message} (${service} ${method} ${path}: HTTP ${status})`;
}

/** The types of the COMPLETE resources among `rows` (the node's dependencies), by physical id. */
function ownTypes(rows: Map<string, ResourceRow>, self: ResourceRow): (id: string) => string | null {
  return (id) => {
    for (const x of rows.values())
      if (x !== self && x.physical_resource_id === id && x.status === 'COMPLETE' && x.action !== 'DELETE')
        return x.type;
    return null;
  };
}
