// The compute agent's network work and its reconcile loops (nova.compute.manager):
// attach_interface / detach_interface (a port made or bound in the network service, plugged
// into the guest by the driver, the info cache updated, the instance action's event
// recorded), the info cache heal (_heal_instance_info_cache: one server of this host per run,
// its ports and floating IPs read again, so what changed in the network alone shows in
// `addresses`), and the power-state sync (_sync_power_states: the driver's power state is
// written back; a guest that stopped by itself is stopped, one running while STOPPED is
// powered off, as Nova's stop-on-shutoff rules say).
import type { ComputeAgent } from './compute.ts';
import type { RpcHandlers } from '../../core/rpc.ts';
import type { ComputeNetworkRpc } from '../rpcapi.ts';
import { PowerState, VmState, type Instance, type Vif } from '../instances.ts';
import { notifyInstance } from '../notifications.ts';
import { refreshInfoCache } from '../network_info.ts';

/** What attach_interface answers over the bus: the port, or Nova's error with its status. */
export type AttachAnswer = { ok: true; port_id: string } | { ok: false; code: number; message: string };

export interface AttachRequest {
  uuid: string;
  request_id: string;
  /** Exactly one of them, chosen and checked by the API with the caller's token. */
  network_id?: string | null;
  port_id?: string | null;
  requested_ip?: string | null;
  tag?: string | null;
}

/**
 * One network change of a server at a time (Nova's interface lock): an attach, a detach or a
 * heal reads the ports and writes the cache, and two at once would write back a stale list.
 */
const busy = new Map<string, Promise<unknown>>();
export function serialized<T>(uuid: string, fn: () => Promise<T>): Promise<T> {
  const prev = busy.get(uuid) ?? Promise.resolve();
  const mine = prev.catch(() => undefined).then(fn);
  const tail = mine.catch(() => undefined);
  busy.set(uuid, tail);
  void tail.then(() => {
    if (busy.get(uuid) === tail) busy.delete(uuid);
  });
  return mine;
}

class AttachError extends Error {
  constructor(
    public code: number,
    message: string,
  ) {
    super(message);
  }
}

/** The RPC methods the agent serves for its network work (spread into its serve map). */
export function netproxyHandlers(agent: ComputeAgent): RpcHandlers<ComputeNetworkRpc> {
  return {
    attach_interface: (a: AttachRequest) => serialized(a.uuid, () => attachInterface(agent, a)),
    detach_interface: (a: { uuid: string; request_id: string; port_id: string }) =>
      serialized(a.uuid, () => detachInterface(agent, a)),
  };
}

/** Starts the heal and power-sync loops at their configured intervals (0 or less: off). */
export function startNetproxyPeriodics(agent: ComputeAgent) {
  const heal = agent.o.healInstanceInfoCacheInterval;
  if (heal > 0) {
    const healer = new InfoCacheHealer(agent);
    agent.periodic.add('heal_instance_info_cache', heal, () => healer.run());
  }
  const sync = agent.o.syncPowerStateInterval;
  if (sync > 0) agent.periodic.add('sync_power_states', sync, () => syncPowerStates(agent));
}

/** The vif in the info cache replaced (or added) under the server's latest state. */
async function putVif(agent: ComputeAgent, uuid: string, vif: Vif) {
  const inst = await agent.store.get(uuid);
  if (!inst) return;
  const others = inst.network_info.filter((v) => v.port_id !== vif.port_id);
  await agent.store.update(uuid, { network_info: [...others, vif] });
}

async function attachInterface(agent: ComputeAgent, a: AttachRequest): Promise<AttachAnswer> {
  const inst = await agent.store.get(a.uuid);
  if (!inst) return { ok: false, code: 404, message: `Instance ${a.uuid} could not be found.` };
  if (!agent.driver.attachInterface)
    return { ok: false, code: 400, message: `Attaching interfaces is not supported for instance ${a.uuid}.` };
  notifyInstance(agent.bus, agent.publisher, 'interface_attach.start', inst);
  let vif: Vif | undefined;
  try {
    await agent.store.event(a.uuid, a.request_id, 'compute_attach_interface', agent.host, async () => {
      vif = await allocatePort(agent, inst, a);
      try {
        await agent.driver.attachInterface!(inst, vif);
      } catch (e) {
        agent.log.warn(
          { err: e, instance: inst.uuid, port: vif.port_id },
          'attach interface failed, deallocating the port',
        );
        await agent.clients.deallocatePorts([vif]).catch(() => undefined);
        throw new AttachError(500, `Failed to attach network adapter device to ${inst.uuid}`);
      }
      await putVif(agent, inst.uuid, vif);
    });
  } catch (e) {
    const err = e instanceof AttachError ? e : new AttachError(500, (e as Error).message);
    notifyInstance(agent.bus, agent.publisher, 'interface_attach.error', inst);
    return { ok: false, code: err.code, message: err.message };
  }
  const done = await agent.store.get(a.uuid);
  if (done) notifyInstance(agent.bus, agent.publisher, 'interface_attach.end', done);
  return { ok: true, port_id: vif!.port_id };
}

/** A port for the attach: the user's bound to the server, or a new one on the network (allocate_for_instance). */
async function allocatePort(agent: ComputeAgent, inst: Instance, a: AttachRequest): Promise<Vif> {
  const net = agent.clients.network;
  const owner = `compute:${inst.availability_zone ?? 'nova'}`;
  const binding = { device_id: inst.uuid, device_owner: owner, 'binding:host_id': agent.host };
  if (a.port_id) {
    const r = await net.updatePort(a.port_id, binding);
    if (r.status === 404) throw new AttachError(404, `Port id ${a.port_id} could not be found.`);
    if (r.status !== 200)
      throw new AttachError(
        r.status === 409 ? 409 : 400,
        r.body?.NeutronError?.message ?? `network answered ${r.status} binding port ${a.port_id}`,
      );
    const vif = await agent.clients.portVif(r.body.port, true);
    return { ...vif, tag: a.tag ?? null };
  }
  const body: Record<string, unknown> = {
    network_id: a.network_id,
    project_id: inst.project_id,
    admin_state_up: true,
    ...binding,
  };
  if (a.requested_ip) body.fixed_ips = [{ ip_address: a.requested_ip }];
  // The server's own groups when they are known by id; otherwise the project's default.
  const sgIds = inst.security_groups.map((g) => g.id).filter((id): id is string => !!id);
  if (sgIds.length && sgIds.length === inst.security_groups.length) body.security_groups = sgIds;
  const r = await net.createPort(body);
  if (r.status !== 201) {
    const type: string = r.body?.NeutronError?.type ?? '';
    const message: string = r.body?.NeutronError?.message ?? `network answered ${r.status} creating a port`;
    if (type === 'IpAddressInUse' || type === 'IpAddressAlreadyAllocated')
      throw new AttachError(409, `Fixed IP address ${a.requested_ip} is already in use on instance ${inst.uuid}.`);
    if (type === 'IpAddressGenerationFailure')
      throw new AttachError(400, `No fixed IP addresses available for network: ${a.network_id}`);
    if (type === 'MacAddressInUse') throw new AttachError(409, message);
    if (type === 'OverQuota') throw new AttachError(403, 'Maximum number of ports exceeded');
    if (r.status === 404) throw new AttachError(404, `Network ${a.network_id} could not be found.`);
    throw new AttachError(r.status >= 500 ? 500 : 400, message);
  }
  const vif = await agent.clients.portVif(r.body.port, false);
  return { ...vif, tag: a.tag ?? null };
}

async function detachInterface(
  agent: ComputeAgent,
  a: { uuid: string; request_id: string; port_id: string },
): Promise<{ ok: boolean; message?: string }> {
  const inst = await agent.store.get(a.uuid);
  if (!inst) return { ok: false, message: `Instance ${a.uuid} could not be found.` };
  try {
    await agent.store.event(a.uuid, a.request_id, 'compute_detach_interface', agent.host, async () => {
      // The cache read again first: an attach or detach just before may have changed it.
      await refreshInfoCache(agent.store, agent.clients, a.uuid).catch(() => undefined);
      const fresh = (await agent.store.get(a.uuid)) ?? inst;
      const vif = fresh.network_info.find((v) => v.port_id === a.port_id);
      if (!vif) throw new Error(`Port ${a.port_id} is not attached`);
      notifyInstance(agent.bus, agent.publisher, 'interface_detach.start', fresh);
      try {
        await agent.driver.detachInterface?.(fresh, vif);
      } catch (e) {
        agent.log.warn({ err: e, instance: a.uuid, port: a.port_id }, 'detach interface failed');
        throw new Error(`Failed to detach network adapter device from ${a.uuid}`);
      }
      // A port Nova made goes; one the user brought is unbound and stays.
      await agent.clients.deallocatePorts([vif]);
      const latest = await agent.store.get(a.uuid);
      if (latest)
        await agent.store.update(a.uuid, { network_info: latest.network_info.filter((v) => v.port_id !== a.port_id) });
    });
  } catch (e) {
    return { ok: false, message: (e as Error).message };
  }
  const done = await agent.store.get(a.uuid);
  if (done) notifyInstance(agent.bus, agent.publisher, 'interface_detach.end', done);
  return { ok: true };
}

/**
 * _heal_instance_info_cache: every run refreshes one server of this host, taking them in turn
 * (the list is rebuilt when it runs out); building and deleting servers are left alone.
 */
export class InfoCacheHealer {
  private queue: string[] = [];
  constructor(private agent: ComputeAgent) {}

  async run(): Promise<string | null> {
    const a = this.agent;
    let inst: Instance | null = null;
    if (!this.queue.length) {
      const mine = (await a.store.list({ host: a.host, deleted: false })).filter(
        (i) => i.vm_state !== VmState.BUILDING && i.task_state !== 'deleting',
      );
      inst = mine.shift() ?? null;
      this.queue = mine.map((i) => i.uuid);
    } else {
      while (this.queue.length && !inst) {
        const i = await a.store.get(this.queue.shift()!);
        if (i && i.host === a.host && i.task_state !== 'deleting') inst = i;
      }
    }
    if (!inst) return null;
    try {
      await serialized(inst.uuid, () => refreshInfoCache(a.store, a.clients, inst!.uuid));
    } catch (err) {
      a.log.error({ err, instance: inst.uuid }, 'An error occurred while refreshing the network cache.');
    }
    return inst.uuid;
  }
}

/** _sync_power_states: each server of this host without a task, against what the driver says. */
export async function syncPowerStates(agent: ComputeAgent) {
  for (const inst of await agent.store.list({ host: agent.host, deleted: false })) {
    try {
      await syncOne(agent, inst);
    } catch (err) {
      agent.log.error(
        { err, instance: inst.uuid },
        'Periodic sync_power_state task had an error while processing an instance.',
      );
    }
  }
}

/**
 * Nova's handle_lifecycle_event: the driver reported a guest's lifecycle event, its power state
 * is synced now (the same rules as the periodic sync; a server with a task is left alone).
 */
export async function syncInstancePowerState(agent: ComputeAgent, uuid: string) {
  const inst = await agent.store.get(uuid);
  if (!inst || inst.host !== agent.host) return;
  await syncOne(agent, inst);
}

async function syncOne(agent: ComputeAgent, listed: Instance) {
  if (listed.task_state !== null) return;
  const vmPower = agent.driver.powerState(listed);
  // Read again just before deciding: an action may have started meanwhile.
  const inst = await agent.store.get(listed.uuid);
  if (!inst || inst.host !== agent.host || inst.task_state !== null) return;
  if (vmPower !== inst.power_state) {
    agent.log.info(
      { instance: inst.uuid, db_power_state: inst.power_state, vm_power_state: vmPower },
      'During _sync_instance_power_state the DB power_state does not match the vm_power_state from the hypervisor. Updating power_state in the DB to match the hypervisor.',
    );
    if (!(await agent.store.update(inst.uuid, { power_state: vmPower }, { expectTaskState: [null] }))) return;
  }
  const off = vmPower === PowerState.SHUTDOWN || vmPower === PowerState.CRASHED;
  if (inst.vm_state === VmState.ACTIVE && (off || vmPower === PowerState.SUSPENDED)) {
    agent.log.warn(
      { instance: inst.uuid, vm_power_state: vmPower },
      'Instance shutdown by itself. Calling the stop API.',
    );
    await stopBySync(agent, inst, false);
  } else if (
    inst.vm_state === VmState.STOPPED &&
    ![PowerState.NOSTATE, PowerState.SHUTDOWN, PowerState.CRASHED].includes(vmPower as 0)
  ) {
    agent.log.warn({ instance: inst.uuid, vm_power_state: vmPower }, 'Instance is not stopped. Calling the stop API.');
    await stopBySync(agent, inst, true);
  } else if (inst.vm_state === VmState.PAUSED && off) {
    agent.log.warn({ instance: inst.uuid }, 'Paused instance shutdown by itself. Calling the stop API.');
    await stopBySync(agent, inst, true);
  }
}

/** compute_api.stop (or force_stop) as the sync calls it: an instance action `stop`, then the power-off. */
async function stopBySync(agent: ComputeAgent, inst: Instance, force: boolean) {
  const requestId = `req-sync-power-state-${inst.uuid.slice(0, 8)}-${Date.now()}`;
  const states = force
    ? [VmState.ACTIVE, VmState.STOPPED, VmState.PAUSED, VmState.ERROR]
    : [VmState.ACTIVE, VmState.ERROR];
  if (
    !(await agent.store.update(
      inst.uuid,
      { task_state: 'powering-off' },
      { expectTaskState: [null], expectVmState: states },
    ))
  )
    return;
  await agent.store.startAction({ instance_uuid: inst.uuid, action: 'stop', request_id: requestId });
  notifyInstance(agent.bus, agent.publisher, 'power_off.start', inst);
  try {
    await agent.store.event(inst.uuid, requestId, 'compute_stop_instance', agent.host, async () => {
      if (agent.driver.powerState(inst) !== PowerState.NOSTATE) await agent.driver.powerOff(inst);
    });
  } catch {
    await agent.store.update(inst.uuid, { task_state: null, power_state: agent.driver.powerState(inst) });
    notifyInstance(agent.bus, agent.publisher, 'power_off.error', inst);
    return;
  }
  await agent.store.update(inst.uuid, {
    vm_state: VmState.STOPPED,
    power_state: agent.driver.powerState(inst),
    task_state: null,
  });
  const done = await agent.store.get(inst.uuid);
  if (done) notifyInstance(agent.bus, agent.publisher, 'power_off.end', done);
}
