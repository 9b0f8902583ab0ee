// The compute agent's side of server moves (nova-compute's prep_resize, resize_instance,
// finish_resize, confirm/revert, live_migration with its pre/post/rollback steps, rebuild for
// an evacuation), spread into the agent's RPC map by `...moveHandlers(agent)`; and the periodic
// tasks of moves: auto-confirm of resizes after `resizeConfirmWindow` (Nova's
// _poll_unconfirmed_resizes), and at start the clean-up of guests evacuated away from this host.
import { disconnectVolumes, reconnectVolumes, spawnWithVolumes, withVolumesOnHost } from './volumes.ts';
import type { ComputeAgent } from './compute.ts';
import type { RpcHandlers } from '../../core/rpc.ts';
import { computeRpc, type AgentResult, type ComputeMoveRpc, type LiveMigrationRef, type MoveRef } from '../rpcapi.ts';
import { PowerState, VmState, type Instance } from '../instances.ts';
import { LIVE_IN_PROGRESS, MigrationStore, type Migration } from '../migrations.ts';
import type { VirtDriver } from '../drivers/virt.ts';
import { notifyInstance } from '../notifications.ts';
import { dropProviderAllocation, moveAllocations } from '../worker/moves.ts';

type Args = MoveRef;

const fail = (message: string): AgentResult => ({ ok: false, message, reschedule: false });

export function moveHandlers(agent: ComputeAgent): RpcHandlers<ComputeMoveRpc> {
  const migrations = new MigrationStore(agent.db);
  const { store, clients, bus } = agent;
  const notify = (event: string, inst: Instance, extra?: Record<string, unknown>) =>
    notifyInstance(bus, agent.publisher, event, inst, extra);
  const load = async (a: Args): Promise<{ inst: Instance; m: Migration } | null> => {
    const inst = await store.get(a.uuid);
    const m = await migrations.get(a.migration_id);
    return inst && m ? { inst, m } : null;
  };
  /** The server's ports bound to its new host (Nova's migrate_instance_finish / setup_networks_on_host). */
  const bindPorts = async (inst: Instance, host: string) => {
    for (const v of inst.network_info) {
      const r = await clients.network.updatePort(v.port_id, { 'binding:host_id': host });
      if (r.status !== 200 && r.status !== 404)
        throw new Error(`network answered ${r.status} binding port ${v.port_id} to ${host}`);
    }
  };
  const refresh = () => {
    agent.updateResources().catch(() => undefined);
  };
  const driverCan = (name: keyof VirtDriver) => typeof agent.driver[name] === 'function';
  /** Runs a step as an action event; a thrown error becomes the answer. */
  const step = async (a: Args, event: string, fn: () => Promise<void>): Promise<AgentResult> => {
    try {
      await store.event(a.uuid, a.request_id, event, agent.host, fn);
      return { ok: true };
    } catch (e) {
      return fail((e as Error).message);
    }
  };

  return {
    /** Destination: the claim is placement's (the conductor made it); the migration learns its destination. */
    prep_resize: (a) =>
      step(a, 'compute_prep_resize', async () => {
        const x = await load(a);
        if (!x) throw new Error(`Instance ${a.uuid} could not be found.`);
        if (!driverCan('finishMigration')) throw new Error(`The ${agent.driver.type} driver cannot migrate guests.`);
        await migrations.update(x.m.id, { dest_compute: agent.host, dest_node: agent.host, dest_host: '127.0.0.1' });
      }),

    /** Source: the guest powered off and its disk sent (migrating → post-migrating). */
    resize_instance: (a) =>
      step(a, 'compute_resize_instance', async () => {
        const x = await load(a);
        if (!x) throw new Error(`Instance ${a.uuid} could not be found.`);
        const resize = x.m.migration_type === 'resize';
        await migrations.update(x.m.id, { status: 'migrating' });
        await store.update(x.inst.uuid, { task_state: 'resize_migrating' });
        notify(resize ? 'resize.start' : 'migrate.start', { ...x.inst, task_state: 'resize_migrating' });
        await agent.driver.migrateDiskAndPowerOff!(x.inst, x.m.dest_compute ?? undefined);
        await disconnectVolumes(agent, x.inst);
        await migrations.update(x.m.id, { status: 'post-migrating' });
        await store.update(x.inst.uuid, { task_state: 'resize_migrated' });
        notify(resize ? 'resize.end' : 'migrate.end', { ...x.inst, task_state: 'resize_migrated' });
      }),

    /** Destination: the guest set up here with the new flavor; the server waits in VERIFY_RESIZE. */
    finish_resize: (a) =>
      step(a, 'compute_finish_resize', async () => {
        const x = await load(a);
        if (!x) throw new Error(`Instance ${a.uuid} could not be found.`);
        const flavor = x.m.new_flavor ?? x.inst.flavor;
        const powerOn = x.m.old_vm_state !== VmState.STOPPED;
        await store.update(x.inst.uuid, { task_state: 'resize_finish' });
        notify('resize_finish.start', { ...x.inst, task_state: 'resize_finish' });
        await bindPorts(x.inst, agent.host);
        const moved: Instance = { ...x.inst, flavor, host: agent.host, node: agent.host };
        if (agent.driver.spawnsWithVolumes)
          await withVolumesOnHost(agent, moved, 'reconnect', (v) => agent.driver.finishMigration!(moved, powerOn, v));
        else {
          await agent.driver.finishMigration!(moved, powerOn);
          await reconnectVolumes(agent, moved);
        }
        const zone = await hostZone(agent, agent.host);
        // The migration first, as Nova saves it: who sees VERIFY_RESIZE sees it finished.
        await migrations.update(x.m.id, { status: 'finished' });
        await store.update(x.inst.uuid, {
          host: agent.host,
          node: agent.host,
          flavor,
          availability_zone: zone ?? x.inst.availability_zone,
          vm_state: VmState.RESIZED,
          task_state: null,
          power_state: powerOn ? PowerState.RUNNING : PowerState.SHUTDOWN,
          progress: 100,
        });
        const done = await store.get(x.inst.uuid);
        if (done) notify('resize_finish.end', done);
        refresh();
      }),

    /** Source: the old guest destroyed, the migration's allocation (the source's) given back. */
    confirm_resize: (a) =>
      step(a, 'compute_confirm_resize', async () => {
        const x = await load(a);
        if (!x) throw new Error(`Instance ${a.uuid} could not be found.`);
        notify('resize_confirm.start', x.inst);
        // A resize that stayed on its host has one guest, the new one: nothing to destroy.
        if (x.m.dest_compute !== x.m.source_compute) await agent.driver.confirmMigration!(x.inst);
        await clients.deleteAllocations(x.m.uuid);
        await migrations.update(x.m.id, { status: 'confirmed' });
        const stopped = x.m.old_vm_state === VmState.STOPPED;
        await store.update(x.inst.uuid, { vm_state: stopped ? VmState.STOPPED : VmState.ACTIVE, task_state: null });
        const done = await store.get(x.inst.uuid);
        if (done) notify('resize_confirm.end', done);
        refresh();
      }),

    /** Destination: the new guest destroyed and its claim dropped; then the source takes the server back. */
    revert_resize: async (a): Promise<AgentResult> => {
      const r = await step(a, 'compute_revert_resize', async () => {
        const x = await load(a);
        if (!x) throw new Error(`Instance ${a.uuid} could not be found.`);
        notify('resize_revert.start', x.inst);
        await agent.driver.destroy(x.inst);
        await clients.deleteAllocations(x.inst.uuid);
        // Nova's drop_move_claim_at_dest: 'reverted' on the destination, before the source takes the
        // server back (the server is never back while its migration still says 'reverting').
        await migrations.update(x.m.id, { status: 'reverted' });
        refresh();
      });
      if (!r.ok) {
        await revertFailed(agent, migrations, a, r.message);
        return r;
      }
      const m = await migrations.get(a.migration_id);
      try {
        const res = await computeRpc(bus).call(m!.source_compute, { timeoutMs: 300_000 }).finish_revert_resize(a);
        if (!res.ok) await revertFailed(agent, migrations, a, res.message);
        return res;
      } catch (e) {
        await revertFailed(agent, migrations, a, (e as Error).message);
        return fail((e as Error).message);
      }
    },

    /** Source: the old guest back with the old flavor, the source's allocation back to the instance. */
    finish_revert_resize: (a) =>
      step(a, 'compute_finish_revert_resize', async () => {
        const x = await load(a);
        if (!x) throw new Error(`Instance ${a.uuid} could not be found.`);
        const flavor = x.m.old_flavor ?? x.inst.flavor;
        const stopped = x.m.old_vm_state === VmState.STOPPED;
        await moveAllocations(clients, x.m.uuid, x.inst.uuid);
        await bindPorts(x.inst, agent.host);
        const back: Instance = { ...x.inst, flavor, host: agent.host, node: agent.host };
        await agent.driver.finishRevertMigration!(back, !stopped);
        await reconnectVolumes(agent, back);
        const zone = await hostZone(agent, agent.host);
        await store.update(x.inst.uuid, {
          host: agent.host,
          node: agent.host,
          flavor,
          availability_zone: zone ?? x.inst.availability_zone,
          vm_state: stopped ? VmState.STOPPED : VmState.ACTIVE,
          task_state: null,
          power_state: stopped ? PowerState.SHUTDOWN : PowerState.RUNNING,
        });
        const done = await store.get(x.inst.uuid);
        if (done) notify('resize_revert.end', done);
        refresh();
      }),

    /** Source: the whole live migration (queued → preparing → running → completed, or cancelled/error). */
    live_migration: async (a) => {
      await liveMigration(agent, migrations, a, bindPorts, notify);
      return { ok: true };
    },
    pre_live_migration: (a) =>
      step(a, 'compute_pre_live_migration', async () => {
        const inst = await store.get(a.uuid);
        if (!inst) throw new Error(`Instance ${a.uuid} could not be found.`);
        if (!driverCan('postLiveMigrationAtDestination'))
          throw new Error(`The ${agent.driver.type} driver cannot live-migrate guests.`);
        await agent.driver.preLiveMigration?.(inst, !!a.block_migration);
      }),
    post_live_migration_at_destination: (a) =>
      step(a, 'compute_post_live_migration_at_destination', async () => {
        const inst = await store.get(a.uuid);
        if (!inst) throw new Error(`Instance ${a.uuid} could not be found.`);
        notify('live_migration_post_dest.start', inst);
        await bindPorts(inst, agent.host);
        const power = inst.vm_state === VmState.PAUSED ? PowerState.PAUSED : PowerState.RUNNING;
        await agent.driver.postLiveMigrationAtDestination!({ ...inst, host: agent.host, node: agent.host }, power);
        await reconnectVolumes(agent, inst);
        const zone = await hostZone(agent, agent.host);
        await store.update(inst.uuid, {
          host: agent.host,
          node: agent.host,
          availability_zone: zone ?? inst.availability_zone,
          power_state: power,
          task_state: null,
          progress: 0,
        });
        const done = await store.get(inst.uuid);
        if (done) notify('live_migration_post_dest.end', done);
        refresh();
      }),
    rollback_live_migration_at_destination: (a) =>
      step(a, 'compute_rollback_live_migration_at_destination', async () => {
        const inst = await store.get(a.uuid);
        if (inst) await agent.driver.destroy({ ...inst, host: agent.host }).catch(() => undefined);
      }),
    live_migration_force_complete: async (a) => {
      const job = agent.liveMigrations.get(a.uuid);
      return step(a, 'compute_live_migration_force_complete', async () => {
        if (!job) throw new Error(`No live migration of ${a.uuid} runs on ${agent.host}.`);
        job.forceComplete();
      });
    },
    live_migration_abort: async (a) => {
      const job = agent.liveMigrations.get(a.uuid);
      return step(a, 'compute_live_migration_abort', async () => {
        if (job) {
          job.abort();
          return;
        }
        // Not started yet (queued/preparing): the migration stops before it runs.
        await migrations.update(a.migration_id, { status: 'cancelled' }, ['queued', 'preparing', 'accepted']);
      });
    },

    /** A host that kept a moved guest (the source of an unconfirmed resize) drops it: the server was deleted. */
    destroy_moved_guest: async (a: { uuid: string }) => {
      const inst = await store.get(a.uuid, { readDeleted: true });
      if (inst) await agent.driver.destroy({ ...inst, host: agent.host }).catch(() => undefined);
      refresh();
      return { ok: true };
    },

    /** Destination of an evacuation: the server rebuilt here from its image; migration `done`. */
    evacuate_instance: (a) =>
      step(a, 'compute_rebuild_instance', async () => {
        const x = await load(a);
        if (!x) throw new Error(`Instance ${a.uuid} could not be found.`);
        const wasStopped = x.m.old_vm_state === VmState.STOPPED;
        notify('evacuate', x.inst);
        notify('rebuild.start', x.inst);
        await bindPorts(x.inst, agent.host);
        const zone = await hostZone(agent, agent.host);
        await store.update(x.inst.uuid, {
          host: agent.host,
          node: agent.host,
          availability_zone: zone ?? x.inst.availability_zone,
          task_state: 'rebuild_spawning',
        });
        const here: Instance = { ...x.inst, host: agent.host, node: agent.host };
        const image = x.inst.image_ref ? await clients.getImage(x.inst.image_ref).catch(() => null) : null;
        try {
          await spawnWithVolumes(agent, here, image, { volumes: 'reconnect' });
          if (wasStopped) await agent.driver.powerOff(here);
        } catch (e) {
          await migrations.update(x.m.id, { status: 'failed' });
          throw e;
        }
        // The migration first: who sees the server ACTIVE on its new host sees the evacuation done.
        await migrations.update(x.m.id, { status: 'done' });
        await store.update(
          x.inst.uuid,
          wasStopped
            ? {
                vm_state: VmState.STOPPED,
                power_state: PowerState.SHUTDOWN,
                task_state: null,
                launched_at: new Date().toISOString(),
              }
            : {
                vm_state: VmState.ACTIVE,
                power_state: PowerState.RUNNING,
                task_state: null,
                launched_at: new Date().toISOString(),
              },
        );
        const done = await store.get(x.inst.uuid);
        if (done) notify('rebuild.end', done);
        refresh();
      }),
  };
}

async function hostZone(agent: ComputeAgent, host: string): Promise<string | null> {
  try {
    const r = await agent.db
      .selectFrom('aggregate_hosts')
      .innerJoin('aggregate_metadata', 'aggregate_metadata.aggregate_id', 'aggregate_hosts.aggregate_id')
      .select('aggregate_metadata.value')
      .where('aggregate_hosts.host', '=', host)
      .where('aggregate_metadata.key', '=', 'availability_zone')
      .executeTakeFirst();
    return (r?.value as string | undefined) ?? agent.o.defaultAvailabilityZone;
  } catch {
    return agent.o.defaultAvailabilityZone;
  }
}

async function revertFailed(agent: ComputeAgent, migrations: MigrationStore, a: Args, message: string) {
  await migrations.update(a.migration_id, { status: 'error' });
  await agent.store.setFault(a.uuid, 500, message);
  await agent.store.update(a.uuid, { vm_state: VmState.ERROR, task_state: null });
}

/** The source side of a live migration, start to end. */
async function liveMigration(
  agent: ComputeAgent,
  migrations: MigrationStore,
  a: LiveMigrationRef,
  bindPorts: (i: Instance, h: string) => Promise<void>,
  notify: (e: string, i: Instance, x?: Record<string, unknown>) => void,
) {
  const { store, clients, bus } = agent;
  const dest = a.dest;
  const inst = await store.get(a.uuid);
  const m = await migrations.get(a.migration_id);
  if (!inst || !m) return;
  const callDest = async (
    method: 'pre_live_migration' | 'post_live_migration_at_destination' | 'rollback_live_migration_at_destination',
  ) => {
    const r = await computeRpc(bus).call(dest, { timeoutMs: 300_000 })[method](a);
    if (!r.ok) throw new Error(r.message);
  };
  const rollback = async (status: 'cancelled' | 'error', message?: string) => {
    notify('live_migration_rollback.start', inst);
    await callDest('rollback_live_migration_at_destination').catch(() => undefined);
    await clients.deleteAllocations(inst.uuid).catch(() => undefined);
    await moveAllocations(clients, m.uuid, inst.uuid).catch((err) =>
      agent.log.error({ err }, 'live migration: allocations not moved back'),
    );
    await migrations.update(m.id, { status });
    if (message) await store.setFault(inst.uuid, 500, message);
    await store.update(inst.uuid, { task_state: null, progress: 0 });
    const back = await store.get(inst.uuid);
    if (back) notify('live_migration_rollback.end', back);
    if (status === 'cancelled' && back) notify('live_migration_abort.end', back);
  };
  await store.startEvent(a.uuid, a.request_id, 'compute_live_migration', agent.host);
  if (!(await migrations.update(m.id, { status: 'queued' }, ['accepted']))) {
    // Aborted while queued (2.65).
    await rollback('cancelled');
    await store.finishEvent(a.uuid, a.request_id, 'compute_live_migration', 'Error', 'Migration cancelled');
    return;
  }
  notify('live_migration_pre.start', inst);
  await migrations.update(m.id, { status: 'preparing' }, ['queued']);
  try {
    await callDest('pre_live_migration');
  } catch (e) {
    await rollback('error', (e as Error).message);
    await store.finishEvent(a.uuid, a.request_id, 'compute_live_migration', 'Error', (e as Error).stack);
    return;
  }
  notify('live_migration_pre.end', inst);
  if (!(await migrations.update(m.id, { status: 'running' }, ['preparing']))) {
    await rollback('cancelled');
    await store.finishEvent(a.uuid, a.request_id, 'compute_live_migration', 'Error', 'Migration cancelled');
    return;
  }
  const job = agent.driver.liveMigration!(inst, dest, !!a.block_migration);
  const jobs = agent.liveMigrations;
  jobs.set(inst.uuid, job);
  await migrations.update(m.id, job.progress());
  const progress = setInterval(() => {
    const p = job.progress();
    migrations.update(m.id, p).catch(() => undefined);
    store
      .update(inst.uuid, { progress: p.memory_total ? Math.floor((100 * p.memory_processed) / p.memory_total) : 0 })
      .catch(() => undefined);
  }, 100);
  let outcome: 'completed' | 'cancelled' | Error;
  try {
    outcome = await job.done;
  } catch (e) {
    outcome = e as Error;
  }
  clearInterval(progress);
  jobs.delete(inst.uuid);
  if (outcome !== 'completed') {
    await rollback(
      outcome === 'cancelled' ? 'cancelled' : 'error',
      outcome instanceof Error ? outcome.message : undefined,
    );
    await store.finishEvent(
      a.uuid,
      a.request_id,
      'compute_live_migration',
      'Error',
      outcome instanceof Error ? outcome.stack : 'Migration cancelled',
    );
    return;
  }
  // The guest runs on the destination: the source's claim (the migration's) goes away.
  await migrations.update(m.id, { status: 'post-migrating', ...job.progress() });
  notify('live_migration_post.start', inst);
  try {
    // The source lets go of the volumes; the destination connects them with its own attachments.
    await disconnectVolumes(agent, inst);
    await callDest('post_live_migration_at_destination');
    await clients.deleteAllocations(m.uuid);
  } catch (e) {
    await migrations.update(m.id, { status: 'error' });
    await store.setFault(inst.uuid, 500, (e as Error).message);
    await store.update(inst.uuid, { vm_state: VmState.ERROR, task_state: null });
    await store.finishEvent(a.uuid, a.request_id, 'compute_live_migration', 'Error', (e as Error).stack);
    return;
  }
  await migrations.update(m.id, { status: 'completed' });
  await store.finishEvent(a.uuid, a.request_id, 'compute_live_migration', 'Success');
  const done = await store.get(inst.uuid);
  if (done) notify('live_migration_post.end', done);
  agent.updateResources().catch(() => undefined);
}

/**
 * The periodic tasks of moves on one agent: auto-confirm of resizes that waited longer than
 * resizeConfirmWindow (off when 0), and once at start the guests evacuated away while this host
 * was down destroyed here, their claim on this host given back (Nova's _destroy_evacuated_instances).
 */
export function startMovePeriodics(agent: ComputeAgent) {
  const migrations = new MigrationStore(agent.db);
  const window = agent.o.resizeConfirmWindow;
  if (window > 0) {
    agent.periodic.add('poll_unconfirmed_resizes', Math.max(1, Math.min(60, window / 2)), async () => {
      const cutoff = Date.now() - window * 1000;
      for (const m of await migrations.list({ status: 'finished' })) {
        if (m.dest_compute !== agent.host || Date.parse(m.updated_at ?? m.created_at) > cutoff) continue;
        const inst = await agent.store.get(m.instance_uuid);
        if (!inst || inst.vm_state !== VmState.RESIZED || inst.task_state) continue;
        if (!(await migrations.update(m.id, { status: 'confirming' }, ['finished']))) continue;
        const requestId = `req-auto-confirm-${m.uuid}`;
        await agent.store.startAction({
          instance_uuid: inst.uuid,
          action: 'confirmResize',
          request_id: requestId,
          user_id: inst.user_id,
          project_id: inst.project_id,
        });
        computeRpc(agent.bus).cast(m.source_compute).confirm_resize({
          uuid: inst.uuid,
          migration_id: m.id,
          request_id: requestId,
        });
      }
    });
  }
  setTimeout(() => {
    cleanupEvacuated(agent, migrations).catch((err) => agent.log.error({ err }, 'evacuated instances clean-up failed'));
  }, 2000).unref();
}

async function cleanupEvacuated(agent: ComputeAgent, migrations: MigrationStore) {
  // Live migrations this host was running when it stopped cannot go on (Nova's _init_instance on
  // MIGRATING): the migration is an error, the source's allocation goes back to the instance.
  for (const m of await migrations.list({ source_compute: agent.host, migration_type: 'live-migration' })) {
    if (![...LIVE_IN_PROGRESS, 'accepted'].includes(m.status) || agent.liveMigrations.has(m.instance_uuid)) continue;
    if (Date.parse(m.updated_at ?? m.created_at) > Date.now() - 5000) continue;
    const inst = await agent.store.get(m.instance_uuid);
    if (inst?.host === agent.host) {
      await agent.clients.deleteAllocations(inst.uuid).catch(() => undefined);
      await moveAllocations(agent.clients, m.uuid, inst.uuid).catch(() => undefined);
      await agent.store.update(inst.uuid, { task_state: null }, { expectTaskState: ['migrating'] });
    }
    await migrations.update(m.id, { status: 'error' });
  }
  for (const m of await migrations.list({ source_compute: agent.host, migration_type: 'evacuation' })) {
    if (m.status !== 'done') continue;
    const inst = await agent.store.get(m.instance_uuid, { readDeleted: true });
    if (inst) await agent.driver.destroy({ ...inst, host: agent.host }).catch(() => undefined);
    if (agent.nodeUuid)
      await dropProviderAllocation(agent.clients, m.instance_uuid, agent.nodeUuid).catch(() => undefined);
    await migrations.update(m.id, { status: 'completed' });
  }
}

/**
 * A server deleted in the middle of a move (VERIFY_RESIZE, most often): the migration's claim is
 * given back and the host that kept the old guest drops it (Nova confirms the resize on delete).
 */
export async function forgetMoves(agent: ComputeAgent, inst: Instance) {
  const migrations = new MigrationStore(agent.db);
  for (const m of await migrations.list({ instance_uuid: inst.uuid })) {
    if (['confirmed', 'reverted', 'completed', 'error', 'failed', 'cancelled', 'done'].includes(m.status)) continue;
    await agent.clients.deleteAllocations(m.uuid).catch(() => undefined);
    await migrations.update(m.id, { status: m.status === 'finished' ? 'confirmed' : 'error' });
    for (const h of [m.source_compute, m.dest_compute]) {
      if (h && h !== agent.host) {
        try {
          computeRpc(agent.bus).cast(h).destroy_moved_guest({ uuid: inst.uuid });
        } catch {
          /* that host is gone */
        }
      }
    }
  }
}
