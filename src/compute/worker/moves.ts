// The move conductor (nova-conductor's MigrationTask, LiveMigrationTask and the evacuate path of
// rebuild_instance): the source host's allocation moves to the migration record's uuid as its
// consumer, the scheduler claims the destination for the instance (excluding the source, or the
// requested host only), then the agents move the guest. A step that fails gives everything back
// in reverse (the flow's revert): allocations swapped back, the migration `error`, the server as
// it was (scheduling failures) or ERROR with a fault (a host failed the move).
import type { MessageBus } from '../../core/bus.ts';
import type { Logger } from '../../core/log.ts';
import { LinearFlow, type Task } from '../../core/flow.ts';
import type { ComputeOptions, Flavor } from '../service.ts';
import { InstanceStore, VmState, type Instance } from '../instances.ts';
import type { ComputeClients } from '../clients.ts';
import { computeRpc, schedulerRpc, serveConductorMoves, type AgentResult, type MoveRef } from '../rpcapi.ts';
import type { RequestSpec } from './scheduler.ts';
import { schedulingHints } from './conductor.ts';
import type { MigrationStore, Migration } from '../migrations.ts';
import { notifyInstance } from '../notifications.ts';

/** Placement: a consumer's allocations handed to another consumer in one atomic POST /allocations. */
export async function moveAllocations(clients: ComputeClients, from: string, to: string): Promise<boolean> {
  const cur = (await clients.placement.getAllocations(from)).body;
  const held = cur?.allocations ?? {};
  if (!Object.keys(held).length) return false;
  const target = (await clients.placement.getAllocations(to)).body;
  const r = await clients.placement.postAllocations({
    [to]: {
      allocations: Object.fromEntries(Object.entries(held).map(([rp, a]) => [rp, { resources: a.resources }])),
      project_id: cur!.project_id,
      user_id: cur!.user_id,
      consumer_generation: target?.consumer_generation ?? null,
    },
    [from]: {
      allocations: {},
      project_id: cur!.project_id,
      user_id: cur!.user_id,
      consumer_generation: cur!.consumer_generation ?? null,
    },
  });
  if (r.status !== 204)
    throw new Error(
      `placement answered ${r.status} moving the allocations of ${from} to ${to}: ${JSON.stringify(r.body)}`,
    );
  return true;
}

/** Placement: the part of a consumer's allocations on one provider removed (the evacuated source). */
export async function dropProviderAllocation(clients: ComputeClients, consumer: string, provider: string) {
  const cur = (await clients.placement.getAllocations(consumer)).body;
  const held = cur?.allocations ?? {};
  if (!held[provider]) return;
  const rest = Object.fromEntries(
    Object.entries(held)
      .filter(([rp]) => rp !== provider)
      .map(([rp, a]) => [rp, { resources: a.resources }]),
  );
  if (!Object.keys(rest).length) {
    await clients.deleteAllocations(consumer);
    return;
  }
  await clients.placement.putAllocations(consumer, {
    allocations: rest,
    project_id: cur!.project_id,
    user_id: cur!.user_id,
    consumer_generation: cur!.consumer_generation,
  });
}

/** A move failure: `fatal` when a host failed mid-move (the server goes to ERROR), else it stays as it was. */
export class MoveFailure extends Error {
  constructor(
    message: string,
    public fatal = false,
    public noValidHost = false,
  ) {
    super(message);
  }
}

export interface MigrateRequest extends MoveRef {
  flavor: Flavor;
  host?: string | null;
  allow_same_host: boolean;
}
export interface LiveMigrateRequest extends MoveRef {
  host?: string | null;
  force: boolean;
  block_migration: boolean | null;
}
export interface EvacuateRequest extends MoveRef {
  host?: string | null;
  force: boolean;
  admin_pass?: string | null;
}
export type MoveAnswer = { ok: true } | { ok: false; message: string; noValidHost: boolean };

interface MoveState {
  inst: Instance;
  migration: Migration;
  selection?: { host: string; node: string; provider: string };
  moved?: boolean;
}

/** What a step of a move on a host is told: the server, its migration record, the request (nothing more). */
const moveRef = (a: MoveRef): MoveRef => ({ uuid: a.uuid, migration_id: a.migration_id, request_id: a.request_id });

/** The move's allocations handed to the migration record (nova's MigrationTask swap), handed back on revert. */
function allocateMigration(clients: ComputeClients): Task<MoveState> {
  return {
    name: 'allocate_migration',
    execute: async (st) => {
      st.moved = await moveAllocations(clients, st.inst.uuid, st.migration.uuid);
    },
    revert: async (st) => {
      if (st.moved) {
        await clients.deleteAllocations(st.inst.uuid);
        await moveAllocations(clients, st.migration.uuid, st.inst.uuid);
      }
    },
  };
}

export class MoveConductor {
  private stopServing?: () => void;
  constructor(
    private store: InstanceStore,
    private migrations: MigrationStore,
    private clients: ComputeClients,
    private bus: MessageBus,
    private o: ComputeOptions,
    private log: Logger,
  ) {}

  start() {
    this.stopServing = serveConductorMoves(this.bus, this.o.host, {
      migrate_server: (a) => this.migrate(a),
      live_migrate_instance: (a) => this.liveMigrate(a),
      evacuate_instance: (a) => this.evacuate(a),
    });
  }
  stop() {
    this.stopServing?.();
  }

  /** A destination for a move: the server's group still applies, unless the host was forced. */
  private async schedule(
    s: MoveState,
    flavor: Flavor,
    opts: { exclude: string[]; host?: string | null; force?: boolean; merge?: boolean },
  ) {
    const group = ((s.inst.system_metadata.server_groups as string[] | undefined) ?? [])[0];
    const ignoreFilters = !!(opts.force && opts.host);
    const spec: RequestSpec = {
      instance_uuid: s.inst.uuid,
      project_id: s.inst.project_id,
      user_id: s.inst.user_id,
      flavor,
      force_host: opts.host ?? null,
      exclude_hosts: opts.exclude,
      merge_allocations: opts.merge,
      ignore_filters: ignoreFilters,
      ...(group && !ignoreFilters ? await schedulingHints(this.store.db, this.log, s.inst.uuid, { group }) : {}),
    };
    const sel = await schedulerRpc(this.bus).call().select_destinations({ spec });
    if ('error' in sel) throw new MoveFailure(sel.error, false, true);
    s.selection = sel;
    await this.migrations.update(s.migration.id, {
      dest_compute: sel.host,
      dest_node: sel.node,
      dest_host: '127.0.0.1',
    });
  }

  /** The steps of a move that fail: the migration `error`, the fault recorded, the server ERROR when a host failed. */
  private async failed(s: { inst: Instance; migration: Migration }, e: unknown, restore: Partial<Instance>) {
    const f = e instanceof MoveFailure ? e : new MoveFailure((e as Error).message, true);
    await this.migrations.update(s.migration.id, { status: 'error' });
    await this.store.setFault(s.inst.uuid, f.noValidHost ? 400 : 500, f.message);
    if (f.fatal) await this.store.update(s.inst.uuid, { vm_state: VmState.ERROR, task_state: null });
    else await this.store.update(s.inst.uuid, { task_state: null, ...restore });
    return f;
  }

  /** The server and its migration record, or undefined when either is gone. */
  private async state(a: MoveRef): Promise<MoveState | undefined> {
    const inst = await this.store.get(a.uuid);
    const migration = await this.migrations.get(a.migration_id);
    return inst && migration ? { inst, migration } : undefined;
  }

  /** A step of a move on a host, waited for (5 minutes: a disk copy may take long). */
  private async call(
    host: string,
    method: 'prep_resize' | 'resize_instance' | 'finish_resize' | 'evacuate_instance',
    args: MoveRef & { admin_pass?: string | null },
  ) {
    let res: AgentResult;
    try {
      const agent = computeRpc(this.bus).call(host, { timeoutMs: 300_000 });
      res =
        method === 'evacuate_instance'
          ? await agent.evacuate_instance({ admin_pass: null, ...args })
          : await agent[method](args);
    } catch (e) {
      throw new MoveFailure(`Compute host ${host} did not answer ${method}: ${(e as Error).message}`, true);
    }
    if (!res.ok) throw new MoveFailure(res.message, true);
  }

  /** Resize and cold migration (MigrationTask): schedule, claim, prep on the destination, move, finish. */
  async migrate(a: MigrateRequest): Promise<MoveAnswer> {
    const s = await this.state(a);
    if (!s) return { ok: false, message: `Instance ${a.uuid} could not be found.`, noValidHost: false };
    const { inst } = s;
    const source = inst.host!;
    const flow = new LinearFlow<MoveState>('migrate_server', {
      onRevertError: (task, err) => this.log.error({ err, task }, 'migrate revert failed'),
    })
      .add(allocateMigration(this.clients))
      .add({
        name: 'schedule_and_claim',
        execute: async (st) => {
          const exclude = a.allow_same_host ? [] : [source];
          await this.schedule(st, a.flavor, { exclude, host: a.host });
        },
      })
      .add({
        name: 'prep_resize',
        execute: async (st) => {
          await this.call(st.selection!.host, 'prep_resize', moveRef(a));
        },
      })
      .add({
        name: 'resize_instance',
        execute: async (st) => {
          await this.call(source, 'resize_instance', moveRef(a));
        },
      })
      .add({
        name: 'finish_resize',
        execute: async (st) => {
          await this.call(st.selection!.host, 'finish_resize', moveRef(a));
        },
      });
    try {
      await this.store.event(a.uuid, a.request_id, 'conductor_migrate_server', this.o.host, () => flow.run(s));
      return { ok: true };
    } catch (e) {
      const f = await this.failed(s, e, { vm_state: inst.vm_state });
      notifyInstance(
        this.bus,
        `nova-conductor:${this.o.host}`,
        a.flavor.id === inst.flavor.id ? 'migrate.error' : 'resize.error',
        inst,
        { fault: { message: f.message } },
      );
      return { ok: false, message: f.message, noValidHost: f.noValidHost };
    }
  }

  /** Live migration (LiveMigrationTask): the destination checked and claimed, then the source's agent runs it. */
  async liveMigrate(a: LiveMigrateRequest): Promise<MoveAnswer> {
    const s = await this.state(a);
    if (!s) return { ok: false, message: `Instance ${a.uuid} could not be found.`, noValidHost: false };
    const { inst } = s;
    const source = inst.host!;
    const flow = new LinearFlow<MoveState>('live_migrate', {
      onRevertError: (task, err) => this.log.error({ err, task }, 'live migration revert failed'),
    })
      .add({
        name: 'check_source',
        execute: async () => {
          if (a.host && a.host === source)
            throw new MoveFailure(`Unable to migrate instance (${a.uuid}) to current host (${source}).`);
        },
      })
      .add(allocateMigration(this.clients))
      .add({
        name: 'select_destination',
        execute: async (st) => {
          await this.schedule(st, st.inst.flavor, { exclude: [source], host: a.host, force: a.force });
        },
      })
      .add({
        name: 'check_can_live_migrate_destination',
        execute: async (st) => {
          await this.store.event(
            a.uuid,
            a.request_id,
            'compute_check_can_live_migrate_destination',
            st.selection!.host,
            async () => undefined,
          );
        },
      });
    try {
      await this.store.event(a.uuid, a.request_id, 'conductor_live_migrate_instance', this.o.host, () => flow.run(s));
    } catch (e) {
      const f = await this.failed(s, e, {});
      return { ok: false, message: f.message, noValidHost: f.noValidHost };
    }
    // The migration itself runs on the source host; the API does not wait for it.
    computeRpc(this.bus)
      .cast(source)
      .live_migration({
        ...moveRef(a),
        dest: s.selection!.host,
        block_migration: a.block_migration ?? false,
      });
    return { ok: true };
  }

  /** Evacuation (rebuild with recreate): a new host for a server whose host is down; the source keeps its claim until it comes back. */
  async evacuate(a: EvacuateRequest): Promise<MoveAnswer> {
    const s = await this.state(a);
    if (!s) return { ok: false, message: `Instance ${a.uuid} could not be found.`, noValidHost: false };
    const { inst } = s;
    const source = inst.host!;
    let claimed: { host: string; provider: string } | undefined;
    const flow = new LinearFlow<MoveState>('evacuate', {
      onRevertError: (task, err) => this.log.error({ err, task }, 'evacuate revert failed'),
    })
      .add({
        name: 'schedule_and_claim',
        execute: async (st) => {
          await this.schedule(st, st.inst.flavor, { exclude: [source], host: a.host, force: a.force, merge: true });
          claimed = { host: st.selection!.host, provider: st.selection!.provider };
        },
        revert: async () => {
          if (claimed) await dropProviderAllocation(this.clients, a.uuid, claimed.provider);
        },
      })
      .add({
        name: 'rebuild_instance',
        execute: async (st) => {
          await this.migrations.update(a.migration_id, { status: 'pre-migrating' });
          await this.call(st.selection!.host, 'evacuate_instance', { ...moveRef(a), admin_pass: a.admin_pass ?? null });
        },
      });
    try {
      await this.store.event(a.uuid, a.request_id, 'conductor_rebuild_server', this.o.host, () => flow.run(s));
      return { ok: true };
    } catch (e) {
      const f = await this.failed(s, e, {});
      if (!f.fatal) await this.migrations.update(a.migration_id, { status: 'failed' });
      notifyInstance(this.bus, `nova-conductor:${this.o.host}`, 'evacuate.error', inst, {
        fault: { message: f.message },
      });
      return { ok: false, message: f.message, noValidHost: f.noValidHost };
    }
  }
}
