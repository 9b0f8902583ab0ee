// The conductor's unshelve (nova-conductor's unshelve_instance). A server still on its host
// (SHELVED) is powered on there. An offloaded one (SHELVED_OFFLOADED) is placed again like a
// build, with the build flow's own schedule-and-claim step, then its ports (kept while it was
// offloaded) are bound to the chosen host and the host's agent spawns it from the shelved
// image. A failure gives back the claim and the binding and leaves the server
// SHELVED_OFFLOADED with a fault.
import { LinearFlow } from '../../core/flow.ts';
import { VmState, type Instance } from '../instances.ts';
import type { ImageMeta } from '../drivers/virt.ts';
import { computeRpc } from '../rpcapi.ts';
import { BuildFailure, type Conductor } from './conductor.ts';
import { notifyInstance } from '../notifications.ts';

export interface UnshelveRequest {
  uuid: string;
  request_id: string;
  /** The zone to place it in (null: any); the 2.91 host (null: the scheduler chooses). */
  availability_zone: string | null;
  host: string | null;
}

interface UnshelveState {
  inst: Instance;
  selection?: { host: string; node: string; provider: string };
  bound?: boolean;
}

/** Adds unshelve_instance to the conductor's RPC methods. `zoneOf` gives a host's availability zone. */
export function addUnshelve(conductor: Conductor, zoneOf: (host: string) => Promise<string>) {
  const { store, clients, bus, o, log } = conductor;
  const publisher = `nova-conductor:${o.host}`;

  const unshelve = async (r: UnshelveRequest) => {
    const inst = await store.get(r.uuid);
    if (!inst || inst.task_state !== 'unshelving') return;
    if (inst.vm_state === VmState.SHELVED && inst.host) {
      if (await store.update(r.uuid, { task_state: 'powering-on' }, { expectTaskState: ['unshelving'] })) {
        computeRpc(bus).cast(inst.host).start_shelved_instance({ uuid: r.uuid, request_id: r.request_id });
      }
      return;
    }
    let image: ImageMeta | null = null;
    const imageId = inst.system_metadata.shelved_image_id as string | undefined;
    const excluded: string[] = [];
    for (let attempt = 1; ; attempt++) {
      try {
        await store.event(
          r.uuid,
          r.request_id,
          attempt === 1 ? 'conductor_unshelve_instance' : `conductor_unshelve_reschedule_${attempt}`,
          o.host,
          async () => {
            if (imageId && !image) {
              image = await clients.getImage(imageId);
              if (!image) throw new BuildFailure(`Unshelve attempted but the image ${imageId} cannot be found.`, false);
            }
            const current = await store.get(r.uuid);
            if (!current) throw new BuildFailure(`Instance ${r.uuid} could not be found.`, false);
            await flow(r, excluded, image, current).run({ inst: current });
          },
        );
        return;
      } catch (e) {
        const f = e instanceof BuildFailure ? e : new BuildFailure((e as Error).message, false);
        if (f.reschedule && f.host) excluded.push(f.host);
        if (f.reschedule && attempt < o.maxAttempts) continue;
        log.warn({ instance: r.uuid, err: e }, 'unshelve failed');
        await store.setFault(r.uuid, 500, f.message);
        if (
          await store.update(
            r.uuid,
            { vm_state: VmState.SHELVED_OFFLOADED, task_state: null, host: null, node: null },
            { expectTaskState: ['unshelving', 'spawning'] },
          )
        ) {
          const failed = await store.get(r.uuid);
          if (failed) notifyInstance(bus, publisher, 'unshelve.error', failed, { fault: { message: f.message } });
        }
        return;
      }
    }
  };

  const flow = (r: UnshelveRequest, excluded: string[], image: ImageMeta | null, inst: Instance) => {
    // The server's group still applies (its members' hosts are read when it is scheduled).
    const group = ((inst.system_metadata.server_groups as string[] | undefined) ?? [])[0];
    return new LinearFlow<UnshelveState>('unshelve_instance', {
      onRevertError: (task, err) => log.error({ err, task }, 'unshelve revert failed'),
    })
      .add(
        conductor.scheduleAndClaimTask<UnshelveState>(
          { availability_zone: r.availability_zone, force_host: r.host, group },
          excluded,
          ['unshelving'],
          'unshelving',
        ),
      )
      .add({
        name: 'bind_ports',
        execute: async (s) => {
          const host = s.selection!.host;
          await clients.bindPorts(s.inst.network_info, host);
          s.bound = true;
          const zone = await zoneOf(host).catch(() => s.inst.availability_zone);
          await store.update(s.inst.uuid, { availability_zone: zone ?? s.inst.availability_zone });
        },
        revert: async (s) => {
          if (s.bound) await clients.bindPorts(s.inst.network_info, '');
        },
      })
      .add({
        name: 'spawn',
        // The build's spawn step (with its longer wait for a real hypervisor's spawn).
        execute: (s) =>
          conductor.spawnOn(s.selection!.host, (agent) =>
            agent.unshelve_instance({ uuid: s.inst.uuid, request_id: r.request_id, image }),
          ),
      });
  };

  conductor.unshelve = (a) => {
    void unshelve(a).catch((err) => log.error({ err, instance: a.uuid }, 'unshelve failed unexpectedly'));
  };
}
