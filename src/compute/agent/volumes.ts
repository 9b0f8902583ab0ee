// The compute agent's volume work (nova.compute.manager's attach_volume, detach_volume,
// swap_volume, _prep_block_device and the volume part of _shutdown_instance), always through
// the volume service's attachments API:
// - attach: the attachment the API reserved is given this host's connector, the driver
//   connects the volume at its mountpoint, the attachment is completed (`in-use`); a flow
//   with revert (core/flow.ts): a failure disconnects, deletes the attachment (the volume is
//   `available` again) and forgets the mapping;
// - detach: the driver disconnects, the attachment is deleted, the mapping forgotten; a
//   failure rolls the volume's `detaching` back;
// - swap: the new volume connected in the old one's place, the old attachment deleted;
// - build: the server's mapped volumes (made by the API from an image, a snapshot or blank,
//   or brought) connected to this host and to the guest;
// - delete: releaseVolumes (volumes.ts).
import type { ComputeAgent } from './compute.ts';
import type { RpcHandlers } from '../../core/rpc.ts';
import { LinearFlow } from '../../core/flow.ts';
import type { ComputeVolumeRpc, InstanceRef } from '../rpcapi.ts';
import type { Instance } from '../instances.ts';
import { BlockDeviceStore, type BlockDevice } from '../block_devices.ts';
import type { BuildVolume, ImageMeta, VolumeConnectionInfo } from '../drivers/virt.ts';
import { notifyInstance } from '../notifications.ts';
import {
  VolumeError,
  cinderMessage,
  completeAttachment,
  connectVolume,
  connectorFor,
  deleteAttachment,
  releaseVolumes,
  waitForVolume,
} from '../volumes.ts';
import { serialized } from './netproxy.ts';

export interface AttachVolumeRequest extends InstanceRef {
  /** The mapping the API made (with the attachment it reserved). */
  bdm_uuid: string;
}
export interface DetachVolumeRequest extends InstanceRef {
  volume_id: string;
}
export interface SwapVolumeRequest extends InstanceRef {
  old_volume_id: string;
  new_volume_id: string;
  /** The new volume's attachment, reserved by the API. */
  new_attachment_id: string;
}

/** The agent's view of the block device mappings (its own store, built with it). */
export const blockDevices = (agent: ComputeAgent): BlockDeviceStore => agent.blockDevices;

/** One volume change of a server at a time (Nova's per-instance lock around (de)attach). */
const lockKey = (uuid: string) => `volumes:${uuid}`;

export function volumeHandlers(agent: ComputeAgent): RpcHandlers<ComputeVolumeRpc> {
  return {
    attach_volume: (a: AttachVolumeRequest) => serialized(lockKey(a.uuid), () => attachVolume(agent, a)),
    detach_volume: (a: DetachVolumeRequest) => serialized(lockKey(a.uuid), () => detachVolume(agent, a)),
    swap_volume: (a: SwapVolumeRequest) => serialized(lockKey(a.uuid), () => swapVolume(agent, a)),
  };
}

interface AttachState {
  info?: VolumeConnectionInfo;
  attachmentId?: string | null;
  plugged?: boolean;
}

/** The flow that connects one mapped volume to this host and the guest (attach, and each volume of a build). */
function connectFlow(agent: ComputeAgent, inst: Instance, bdm: BlockDevice) {
  const client = agent.clients.blockStorage;
  const bdms = blockDevices(agent);
  const mountpoint = bdm.device_name ?? '/dev/vdb';
  return new LinearFlow<AttachState>('attach_volume', {
    onRevertError: (task, err) =>
      agent.log.warn({ err, task, volume: bdm.volume_id, instance: inst.uuid }, 'attach volume revert failed'),
  }).add(
    {
      name: 'connect',
      async execute(s) {
        s.attachmentId = bdm.attachment_id;
        const { attachment, connectionInfo } = await connectVolume(client, bdms, bdm, agent.host);
        s.attachmentId = attachment.id;
        s.info = connectionInfo;
      },
      async revert(s) {
        await deleteAttachment(client, s.attachmentId ?? null);
        // The mapping forgets the attachment: another host (a rescheduled build) makes its own.
        await bdms.update(bdm.id, { attachment_id: null, connection_info: null });
      },
    },
    {
      name: 'driver_attach',
      async execute(s) {
        if (!agent.driver.attachVolume)
          throw new VolumeError(400, `The ${agent.driver.type} driver cannot attach volumes (instance ${inst.uuid}).`);
        await agent.driver.attachVolume(inst, s.info!, mountpoint);
        s.plugged = true;
      },
      async revert(s) {
        if (s.plugged) await agent.driver.detachVolume?.(inst, s.info ?? {}, mountpoint);
      },
    },
    {
      name: 'complete',
      async execute(s) {
        await completeAttachment(client, s.attachmentId!);
      },
    },
  );
}

async function attachVolume(agent: ComputeAgent, a: AttachVolumeRequest): Promise<null> {
  const inst = await agent.store.get(a.uuid);
  const bdms = blockDevices(agent);
  const bdm = await bdms.byUuid(a.bdm_uuid);
  if (!inst || !bdm) return null;
  notifyInstance(agent.bus, agent.publisher, 'volume_attach.start', inst, { volume_id: bdm.volume_id });
  try {
    await agent.store.event(a.uuid, a.request_id, 'compute_attach_volume', agent.host, () =>
      connectFlow(agent, inst, bdm).run({}),
    );
  } catch (err) {
    agent.log.warn({ err, volume: bdm.volume_id, instance: inst.uuid }, 'attach volume failed');
    await bdms.destroy(bdm.id);
    notifyInstance(agent.bus, agent.publisher, 'volume_attach.error', inst, {
      volume_id: bdm.volume_id,
      fault: { message: (err as Error).message },
    });
    return null;
  }
  notifyInstance(agent.bus, agent.publisher, 'volume_attach.end', inst, { volume_id: bdm.volume_id });
  return null;
}

async function detachVolume(agent: ComputeAgent, a: DetachVolumeRequest): Promise<null> {
  const inst = await agent.store.get(a.uuid);
  const bdms = blockDevices(agent);
  const bdm = inst ? await bdms.byVolume(inst.uuid, a.volume_id) : null;
  if (!inst || !bdm) return null;
  const client = agent.clients.blockStorage;
  notifyInstance(agent.bus, agent.publisher, 'volume_detach.start', inst, { volume_id: bdm.volume_id });
  try {
    await agent.store.event(a.uuid, a.request_id, 'compute_detach_volume', agent.host, async () => {
      await agent.driver.detachVolume?.(inst, bdm.connection_info ?? {}, bdm.device_name ?? '');
      await deleteAttachment(client, bdm.attachment_id);
      await bdms.destroy(bdm.id);
    });
  } catch (err) {
    agent.log.warn({ err, volume: bdm.volume_id, instance: inst.uuid }, 'detach volume failed');
    await client.volumeAction(a.volume_id, { 'os-roll_detaching': {} }).catch(() => undefined);
    notifyInstance(agent.bus, agent.publisher, 'volume_detach.error', inst, { volume_id: bdm.volume_id });
    return null;
  }
  notifyInstance(agent.bus, agent.publisher, 'volume_detach.end', inst, { volume_id: bdm.volume_id });
  return null;
}

/**
 * Swap (nova's swap_volume, without the volume service's migration): the new volume is connected
 * at the old one's mountpoint, the old one disconnected and its attachment deleted; the
 * mapping now names the new volume. A failure deletes the new attachment and keeps the old.
 */
async function swapVolume(agent: ComputeAgent, a: SwapVolumeRequest): Promise<null> {
  const inst = await agent.store.get(a.uuid);
  const bdms = blockDevices(agent);
  const old = inst ? await bdms.byVolume(inst.uuid, a.old_volume_id) : null;
  if (!inst || !old) {
    await deleteAttachment(agent.clients.blockStorage, a.new_attachment_id).catch(() => undefined);
    return null;
  }
  const client = agent.clients.blockStorage;
  const mountpoint = old.device_name ?? '/dev/vdb';
  try {
    await agent.store.event(a.uuid, a.request_id, 'compute_swap_volume', agent.host, async () => {
      const fresh: BlockDevice = { ...old, volume_id: a.new_volume_id, attachment_id: a.new_attachment_id };
      let info: VolumeConnectionInfo;
      const before = await client.getVolume(a.old_volume_id).catch(() => null);
      const migration = ['migrating', 'retyping'].includes(String(before?.body?.volume?.migration_status ?? ''));
      let swapped = false;
      try {
        const r = await client.updateAttachment(a.new_attachment_id, connectorFor(agent.host, mountpoint));
        if (r.status !== 200) throw new VolumeError(400, `Invalid volume: attachment update answered ${r.status}`);
        info = (r.body.attachment.connection_info ?? {}) as VolumeConnectionInfo;
        if (agent.driver.swapVolume) {
          // The driver moves the guest's disk onto the new volume with its bytes (libvirt: blockcopy).
          await agent.driver.swapVolume(inst, old.connection_info ?? {}, info, mountpoint);
          swapped = true;
        } else {
          await agent.driver.detachVolume?.(inst, old.connection_info ?? {}, mountpoint);
          if (agent.driver.attachVolume) await agent.driver.attachVolume(inst, info, mountpoint);
        }
        await completeAttachment(client, a.new_attachment_id);
      } catch (e) {
        await deleteAttachment(client, a.new_attachment_id).catch(() => undefined);
        if (agent.driver.attachVolume && !swapped)
          await agent.driver.attachVolume(inst, old.connection_info ?? {}, mountpoint).catch(() => undefined);
        if (migration)
          await client
            .volumeAction(a.old_volume_id, {
              'os-migrate_volume_completion': { new_volume: a.new_volume_id, error: true },
            })
            .catch(() => undefined);
        throw e;
      }
      // The volume service's migration (Nova's is_cinder_migration): it keeps the old volume's id,
      // moves the new attachment onto it and ends the old one; a swap of the user's own deletes it.
      let kept = fresh.volume_id;
      if (migration) {
        const r = await client.volumeAction(a.old_volume_id, {
          'os-migrate_volume_completion': { new_volume: a.new_volume_id, error: false },
        });
        if (r.status !== 200) throw new VolumeError(400, `migrate_volume_completion answered ${r.status}`);
        kept = String((r.body as { save_volume_id?: string }).save_volume_id ?? a.old_volume_id);
      } else await deleteAttachment(client, old.attachment_id);
      await bdms.update(old.id, {
        volume_id: kept,
        attachment_id: fresh.attachment_id,
        connection_info: info,
      });
    });
  } catch (err) {
    agent.log.warn({ err, instance: inst.uuid }, 'swap volume failed');
    await agent.store.setFault(inst.uuid, 500, `Swap volume failed: ${(err as Error).message}`);
  }
  return null;
}

/**
 * The build's volumes (nova's _prep_block_device + the driver's part of spawn): each mapped
 * volume, once the volume service made it, connected to this host and the guest, boot volume
 * first. Throws on the first failure (the build fails; the server's delete gives the volumes back).
 */
async function connectBuildVolumes(agent: ComputeAgent, inst: Instance) {
  const bdms = blockDevices(agent);
  for (const bdm of await bdms.ofInstance(inst.uuid)) {
    if (bdm.destination_type !== 'volume' || !bdm.volume_id) continue;
    if (!bdm.attachment_id)
      await waitForVolume(
        agent.clients.blockStorage,
        bdm.volume_id,
        ['available'],
        agent.o.blockDeviceAllocateTimeout * 1000,
      );
    await connectFlow(agent, inst, bdm).run({});
  }
}

/** A volume connected for a build whose driver takes the volumes at spawn (its attachment not completed yet). */
export interface PreparedVolume extends BuildVolume {
  bdm: BlockDevice;
  attachmentId: string;
}

/**
 * The build's volumes connected to this host before the spawn (Nova's _prep_block_device for
 * drivers that put them in the guest's definition): each waits until available, gets this
 * host's connector; on a failure the attachments made so far are given back.
 */
async function prepareBuildVolumes(agent: ComputeAgent, inst: Instance): Promise<PreparedVolume[]> {
  const client = agent.clients.blockStorage;
  const bdms = blockDevices(agent);
  const done: PreparedVolume[] = [];
  try {
    for (const bdm of await bdms.ofInstance(inst.uuid)) {
      if (bdm.destination_type !== 'volume' || !bdm.volume_id) continue;
      if (!bdm.attachment_id)
        await waitForVolume(client, bdm.volume_id, ['available'], agent.o.blockDeviceAllocateTimeout * 1000);
      const { attachment, connectionInfo } = await connectVolume(client, bdms, bdm, agent.host);
      done.push({ bdm, attachmentId: attachment.id, connectionInfo, mountpoint: bdm.device_name ?? '/dev/vdb' });
    }
  } catch (e) {
    await releasePreparedVolumes(agent, done);
    throw e;
  }
  return done;
}

/** The prepared volumes' attachments completed, once the guest runs with them. */
async function completeBuildVolumes(agent: ComputeAgent, volumes: PreparedVolume[]) {
  for (const v of volumes) await completeAttachment(agent.clients.blockStorage, v.attachmentId);
}

/** A failed build's prepared volumes given back (another host makes its own attachments). */
async function releasePreparedVolumes(agent: ComputeAgent, volumes: PreparedVolume[]) {
  for (const v of volumes) {
    await deleteAttachment(agent.clients.blockStorage, v.attachmentId).catch(() => undefined);
    await blockDevices(agent)
      .update(v.bdm.id, { attachment_id: null, connection_info: null })
      .catch(() => undefined);
  }
}

/**
 * Spawns a guest with the server's mapped volumes, the one way builds, unshelves and rebuilds
 * take. A driver that takes them at spawn (libvirt: in the definition, so a root volume boots)
 * gets them connected to this host first and the attachments are completed once it runs; the
 * others attach them after the spawn. `connect`: attachments to make or to give this host's
 * connector (a build, an unshelve); `connected`: the ones the server has, as they are (a rebuild);
 * `reconnect`: the ones another host had, reserved anew for this one (an evacuation); `none`: the
 * server has none (a build whose request mapped no volume: no mapping is read).
 * `volumeError` wraps a failure of the volume steps (a build's "aborted").
 */
export async function spawnWithVolumes(
  agent: ComputeAgent,
  inst: Instance,
  image: ImageMeta | null,
  o: { volumes: 'connect' | 'connected' | 'reconnect' | 'none'; volumeError?: (e: Error) => never },
) {
  if (o.volumes === 'none')
    return agent.driver.spawnsWithVolumes
      ? agent.driver.spawn(inst, image, inst.network_info, [])
      : agent.driver.spawn(inst, image, inst.network_info);
  const wrap =
    o.volumeError ??
    ((e: Error) => {
      throw e;
    });
  const driver = agent.driver;
  if (o.volumes === 'connected') {
    if (driver.spawnsWithVolumes)
      return driver.spawn(inst, image, inst.network_info, await connectedVolumes(agent, inst));
    await driver.spawn(inst, image, inst.network_info);
    return replugVolumes(agent, inst);
  }
  if (!driver.spawnsWithVolumes) {
    await driver.spawn(inst, image, inst.network_info);
    if (o.volumes === 'reconnect') return reconnectVolumes(agent, inst);
    return connectBuildVolumes(agent, inst).catch(wrap);
  }
  await withVolumesOnHost(
    agent,
    inst,
    o.volumes,
    (volumes) => driver.spawn(inst, image, inst.network_info, volumes),
    wrap,
  );
}

/**
 * For drivers that define a guest with its volumes (Nova's block_device_info to spawn and
 * finish_migration): the server's volumes connected to this host (`connect`: the attachments it
 * has or needs; `reconnect`: another host's, reserved anew for this one), `define` run with
 * them, then the attachments completed; given back if `define` fails.
 */
export async function withVolumesOnHost(
  agent: ComputeAgent,
  inst: Instance,
  mode: 'connect' | 'reconnect',
  define: (volumes: BuildVolume[]) => Promise<void>,
  wrap: (e: Error) => never = (e) => {
    throw e;
  },
) {
  if (mode === 'reconnect')
    for (const bdm of await blockDevices(agent).ofInstance(inst.uuid))
      if (bdm.destination_type === 'volume' && bdm.volume_id && bdm.attachment_id) await reReserve(agent, bdm);
  const volumes = await prepareBuildVolumes(agent, inst).catch(wrap);
  try {
    await define(volumes);
  } catch (e) {
    await releasePreparedVolumes(agent, volumes);
    throw e;
  }
  await completeBuildVolumes(agent, volumes).catch(wrap);
}

/** The volumes a guest made anew keeps (a rebuild): its mappings' connections as they are. */
async function connectedVolumes(agent: ComputeAgent, inst: Instance): Promise<BuildVolume[]> {
  return (await blockDevices(agent).ofInstance(inst.uuid))
    .filter((b) => b.destination_type === 'volume' && b.device_name && b.connection_info)
    .map((b) => ({ connectionInfo: b.connection_info!, mountpoint: b.device_name! }));
}

/** A server's volumes disconnected from its guest (before the guest is destroyed for good). */
export async function disconnectVolumes(agent: ComputeAgent, inst: Instance) {
  for (const bdm of await blockDevices(agent).ofInstance(inst.uuid)) {
    if (bdm.destination_type !== 'volume' || !bdm.device_name) continue;
    await agent.driver.detachVolume?.(inst, bdm.connection_info ?? {}, bdm.device_name).catch(() => undefined);
  }
}

/** The server's volumes given back at its delete (attachments deleted, delete_on_termination honoured). */
export async function releaseServerVolumes(agent: ComputeAgent, inst: Instance) {
  await disconnectVolumes(agent, inst);
  await releaseVolumes(agent.clients.blockStorage, blockDevices(agent), inst.uuid, agent.log);
}

/**
 * A mapped volume's attachment replaced by a fresh reservation without a connector (Nova's
 * _terminate_volume_connections): the volume stays the server's while no host has it connected.
 */
async function reReserve(agent: ComputeAgent, bdm: BlockDevice): Promise<BlockDevice> {
  const client = agent.clients.blockStorage;
  const r = await client.createAttachment(bdm.volume_id!, bdm.instance_uuid, null);
  if (r.status !== 200 && r.status !== 201 && r.status !== 202)
    throw new VolumeError(r.status >= 500 ? 500 : 400, `Reserving volume ${bdm.volume_id} failed (${r.status}).`);
  await deleteAttachment(client, bdm.attachment_id);
  const fresh = { ...bdm, attachment_id: r.body.attachment.id, connection_info: null };
  await blockDevices(agent).update(bdm.id, { attachment_id: fresh.attachment_id, connection_info: null });
  return fresh;
}

/** Shelve offload: the volumes disconnected from this host and reserved for the server without one. */
export async function offloadVolumes(agent: ComputeAgent, inst: Instance) {
  for (const bdm of await blockDevices(agent).ofInstance(inst.uuid)) {
    if (bdm.destination_type !== 'volume' || !bdm.volume_id) continue;
    await agent.driver.detachVolume?.(inst, bdm.connection_info ?? {}, bdm.device_name ?? '').catch(() => undefined);
    await reReserve(agent, bdm);
  }
}

/**
 * A moved server's volumes on this host (finish_resize and finish_revert_resize, after a live
 * migration, after an evacuation): each one's attachment replaced by a new one given this
 * host's connector (Nova's _update_volume_attachments), connected by the driver and completed.
 */
export async function reconnectVolumes(agent: ComputeAgent, inst: Instance) {
  const here: Instance = { ...inst, host: agent.host, node: agent.host };
  for (const bdm of await blockDevices(agent).ofInstance(inst.uuid)) {
    if (bdm.destination_type !== 'volume' || !bdm.volume_id) continue;
    const fresh = await reReserve(agent, bdm);
    await connectFlow(agent, here, fresh).run({});
  }
}

/** The server's volumes plugged into its guest again after the guest was made anew (rebuild). */
async function replugVolumes(agent: ComputeAgent, inst: Instance) {
  if (!agent.driver.attachVolume) return;
  for (const bdm of await blockDevices(agent).ofInstance(inst.uuid)) {
    if (bdm.destination_type !== 'volume' || !bdm.device_name || !bdm.connection_info) continue;
    await agent.driver.attachVolume(inst, bdm.connection_info, bdm.device_name);
  }
}

/**
 * The boot volume of a volume-backed server written anew from `imageId` (2.93's rebuild: Nova's
 * _rebuild_volume_backed_instance): the volume service's os-reimage (3.68) of the reserved
 * volume, then the `volume-reimaged` event the volume service sends, waited for up to
 * reimageTimeoutPerGb seconds per GiB.
 */
export async function reimageBootVolume(agent: ComputeAgent, inst: Instance, imageId: string) {
  const root = (await blockDevices(agent).ofInstance(inst.uuid)).find(
    (b) => b.boot_index === 0 && b.destination_type === 'volume' && b.volume_id,
  );
  if (!root) return;
  const key = `volume-reimaged-${root.volume_id}`;
  const waiting = agent.instanceEvents.prepare(inst.uuid, [key]).get(key)!;
  let timer: NodeJS.Timeout | undefined;
  try {
    const r = await agent.clients.blockStorage.volumeAction(
      root.volume_id!,
      { 'os-reimage': { image_id: imageId, reimage_reserved: true } },
      { headers: { 'OpenStack-API-Version': 'volume 3.68' } },
    );
    if (r.status >= 300)
      throw new VolumeError(
        r.status >= 500 ? 500 : 400,
        `Re-imaging volume ${root.volume_id} failed: ${cinderMessage(r)}`,
      );
    const seconds = agent.o.reimageTimeoutPerGb * Math.max(1, root.volume_size ?? 1);
    const outcome = await Promise.race([
      waiting,
      new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), seconds * 1000);
      }),
    ]);
    if (outcome === 'timeout')
      throw new VolumeError(500, `Timed out after ${seconds} s waiting for volume ${root.volume_id} to be re-imaged.`);
    if (outcome === 'failed')
      throw new VolumeError(500, `The volume service failed to re-image volume ${root.volume_id}.`);
  } finally {
    if (timer) clearTimeout(timer);
    agent.instanceEvents.clear(inst.uuid, [key]);
  }
}

/**
 * The `volume-extended` external event (block storage extended an attached volume, 3.42): the
 * `compute_extend_volume` event of the API's `extend_volume` action, with the new size read
 * from block storage and given to the driver (nova.compute.manager's extend_volume).
 */
export async function volumeExtended(agent: ComputeAgent, uuid: string, volumeId: string, requestId: string) {
  const inst = await agent.store.get(uuid);
  if (!inst || inst.host !== agent.host) return;
  const bdm = await blockDevices(agent).byVolume(uuid, volumeId);
  if (!bdm) return;
  await agent.store.event(uuid, requestId, 'compute_extend_volume', agent.host, async () => {
    if (!agent.driver.extendVolume) return;
    const r = await agent.clients.blockStorage.request<{ volume: { size: number } }>('GET', `/volumes/${volumeId}`);
    if (r.status !== 200) throw new Error(`volume ${volumeId}: ${r.status}`);
    await agent.driver.extendVolume(
      inst,
      bdm.connection_info ?? {},
      bdm.device_name ?? '',
      r.body.volume.size * 1024 ** 3,
    );
  });
}
