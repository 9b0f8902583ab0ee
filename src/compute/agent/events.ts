// External instance events at the compute agent (nova.compute.manager's external_instance_event
// and InstanceEvents / virtapi.wait_for_instance_event): the network service tells the API,
// the API casts the events to the hosts of each server, and here:
// - `network-changed`: the info cache is read again from the network (floating IPs included);
// - `network-vif-deleted`: the port leaves the info cache and the driver unplugs it;
// - anything else (`network-vif-plugged`, `network-vif-unplugged`, ...) wakes whoever waits for
//   it: a driver that asked `waitForInstanceEvent` (with Nova's vif_plugging_timeout and
//   vif_plugging_is_fatal semantics), otherwise it is dropped, as Nova drops unexpected events.
// As in Nova, no instance action is recorded for network events (`server event list` does not
// show them).
import type { ComputeAgent } from './compute.ts';
import type { RpcHandlers } from '../../core/rpc.ts';
import type { ComputeEventRpc } from '../rpcapi.ts';
import type { Instance } from '../instances.ts';
import { VirtError, type VirtApi, type WaitedEvent } from '../drivers/virt.ts';
import { refreshInfoCache } from '../network_info.ts';
import { serialized, syncInstancePowerState } from './netproxy.ts';
import { volumeExtended } from './volumes.ts';

export interface ExternalEvent {
  server_uuid: string;
  name: string;
  status?: string;
  tag?: string | null;
  /** The API request that took the event (the instance action `extend_volume` records it). */
  request_id?: string;
}

/** The key Nova gives an event: `<name>-<tag>` (just the name without a tag). */
export const eventKey = (name: string, tag?: string | null) => (tag ? `${name}-${tag}` : name);

interface Waiter {
  resolve(status: string): void;
}

/** The events drivers wait for, per server and key (Nova's InstanceEvents). */
export class InstanceEvents {
  private waiting = new Map<string, Map<string, Waiter>>();

  /** Registers interest before the action that makes the events happen; each promise resolves with the event's status. */
  prepare(uuid: string, keys: string[]): Map<string, Promise<string>> {
    let mine = this.waiting.get(uuid);
    if (!mine) this.waiting.set(uuid, (mine = new Map()));
    const out = new Map<string, Promise<string>>();
    for (const k of keys) {
      const m = mine;
      out.set(k, new Promise<string>((resolve) => m.set(k, { resolve })));
    }
    return out;
  }

  /** An event arrived: true when someone waited for it. */
  pop(uuid: string, key: string, status: string): boolean {
    const mine = this.waiting.get(uuid);
    const w = mine?.get(key);
    if (!w) return false;
    mine!.delete(key);
    if (!mine!.size) this.waiting.delete(uuid);
    w.resolve(status);
    return true;
  }

  /** Forgets what is still awaited for these keys (after a wait is over). */
  clear(uuid: string, keys: string[]) {
    const mine = this.waiting.get(uuid);
    if (!mine) return;
    for (const k of keys) mine.delete(k);
    if (!mine.size) this.waiting.delete(uuid);
  }

  /** How many events are awaited (tests). */
  get size() {
    let n = 0;
    for (const m of this.waiting.values()) n += m.size;
    return n;
  }
}

/** The agent's registry of awaited events (kept on the agent, one per host). */
export function instanceEvents(agent: ComputeAgent): InstanceEvents {
  return agent.instanceEvents;
}

/**
 * What the agent offers its driver (Nova's ComputeVirtAPI.wait_for_instance_event): the events
 * are registered, `body` runs (it plugs the vifs, starts the guest), then the agent waits up to
 * `vifPluggingTimeout` seconds. Ports the network already reports ACTIVE need no event (the
 * fake data plane may plug them before the driver asks). A `failed` event, or the time running
 * out, aborts the build when `vifPluggingIsFatal` (Nova's VirtualInterfaceCreateException: no
 * reschedule), otherwise it is only logged.
 */
export function virtApi(agent: ComputeAgent): VirtApi {
  return {
    async waitForInstanceEvent(instance: Instance, events: WaitedEvent[], body: () => Promise<void>) {
      const registry = instanceEvents(agent);
      const keys = events.map((e) => eventKey(e.name, e.tag));
      const promises = registry.prepare(instance.uuid, keys);
      const timeoutS = agent.o.vifPluggingTimeout ?? 300;
      const fatal = agent.o.vifPluggingIsFatal ?? true;
      let timer: NodeJS.Timeout | undefined;
      try {
        await body();
        if (timeoutS <= 0) return;
        // Ports that are ACTIVE already will send no plugged event: they count as arrived.
        const plugged = events.filter((e) => e.name === 'network-vif-plugged' && e.tag);
        if (plugged.length) {
          const ports = await agent.clients.portsOf(instance.uuid).catch(() => []);
          for (const p of ports)
            if (p.status === 'ACTIVE') registry.pop(instance.uuid, eventKey('network-vif-plugged', p.id), 'completed');
        }
        const expired = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), timeoutS * 1000);
        });
        const all = Promise.all(keys.map(async (k) => ({ key: k, status: await promises.get(k)! })));
        const outcome = await Promise.race([all, expired]);
        if (outcome === 'timeout') {
          agent.log.warn(
            { instance: instance.uuid, events: keys, timeout: timeoutS },
            'timeout waiting for vif plugging events',
          );
          if (fatal) throw new VirtError(aborted(instance), false);
          return;
        }
        const failed = outcome.filter((o) => o.status === 'failed');
        if (failed.length) {
          agent.log.warn(
            { instance: instance.uuid, events: failed.map((f) => f.key) },
            'neutron reported failure for events',
          );
          if (fatal) throw new VirtError(aborted(instance), false);
        }
      } finally {
        if (timer) clearTimeout(timer);
        registry.clear(instance.uuid, keys);
      }
    },
    downloadImage: (imageId: string, file: string) => agent.clients.image.downloadTo(imageId, file),
    lifecycleEvent(uuid: string, transition: string) {
      agent.log.info({ instance: uuid, transition }, 'VM lifecycle event');
      void syncInstancePowerState(agent, uuid).catch((err) =>
        agent.log.warn({ err, instance: uuid }, 'syncing the power state after a lifecycle event failed'),
      );
    },
  };
}

/** Nova's BuildAbortException for a VirtualInterfaceCreateException. */
const aborted = (i: Instance) =>
  `Build of instance ${i.uuid} aborted: Failed to allocate the network(s), not rescheduling.`;

/** The RPC methods of external events (spread into the agent's serve map). */
export function eventHandlers(agent: ComputeAgent): RpcHandlers<ComputeEventRpc> {
  return {
    external_instance_event: async (a: { events: ExternalEvent[] }) => {
      for (const e of a.events ?? []) {
        try {
          await handleEvent(agent, e);
        } catch (err) {
          agent.log.warn({ err, event: e }, 'external instance event failed');
        }
      }
      return { ok: true };
    },
  };
}

async function handleEvent(agent: ComputeAgent, e: ExternalEvent) {
  const uuid = e.server_uuid;
  if (e.name === 'network-changed') {
    await serialized(uuid, () => refreshInfoCache(agent.store, agent.clients, uuid));
  } else if (e.name === 'network-vif-deleted') {
    await serialized(uuid, async () => {
      const inst = await agent.store.get(uuid);
      const vif = inst?.network_info.find((v) => v.port_id === e.tag);
      if (!inst || !vif) return;
      agent.log.info(
        { instance: uuid, port: vif.port_id },
        'the network deleted an interface: detaching it and dropping it from the info cache',
      );
      await agent.store.update(uuid, { network_info: inst.network_info.filter((v) => v.port_id !== e.tag) });
      // Only this host's guest is unplugged (during a move the other host hears the event too).
      if (inst.host === agent.host && agent.driver.detachInterface && agent.driver.listInstances().has(uuid)) {
        await agent.driver
          .detachInterface(inst, vif)
          .catch((err) => agent.log.warn({ err, instance: uuid }, 'detaching a deleted port failed'));
      }
    });
  } else if (e.name === 'volume-extended' && e.tag && e.request_id) {
    await volumeExtended(agent, uuid, e.tag, e.request_id);
  } else {
    const waited = instanceEvents(agent).pop(uuid, eventKey(e.name, e.tag), e.status ?? 'completed');
    if (!waited) agent.log.debug({ instance: uuid, event: eventKey(e.name, e.tag) }, 'no one waits for this event');
  }
}
