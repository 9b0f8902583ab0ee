// Compute's side of volumes (nova/volume/cinder.py and the volume parts of nova.compute.manager),
// always through the volume service's API (the attachments API, 3.27+/3.44), never its tables:
// - a host's connector, what the volume service needs to answer the connection info;
// - connecting a mapped volume to a host: attachment_create (or _update of the attachment the
//   API reserved) with the connector, then attachment_complete; its revert deletes what it made;
// - giving a server's volumes back when it goes: each attachment deleted, the volumes marked
//   delete_on_termination deleted, the mappings gone.
import type {
  AttachmentRecord,
  BlockStorageClient,
  Connector,
  VolumeCallOptions,
  VolumeRecord,
} from '../core/clients/block-storage.ts';
import type { RestAnswer } from '../core/clients/rest.ts';
import { ApiError } from '../core/errors.ts';
import type { BlockDevice, BlockDeviceStore } from './block_devices.ts';
import type { VolumeConnectionInfo } from './drivers/virt.ts';

/** A failure of the volume work with the status the API answers (Nova's InvalidVolume is 400). */
export class VolumeError extends Error {
  constructor(
    public code: number,
    message: string,
  ) {
    super(message);
  }
}

/** The connector of a compute host (os-brick's get_connector_properties, for a host that reads files and iSCSI). */
export function connectorFor(host: string, mountpoint?: string): Connector {
  const c: Connector = {
    host,
    ip: '127.0.0.1',
    initiator: `iqn.2026-12.org.stratus:${host}`,
    multipath: false,
    enforce_multipath: false,
    platform: 'x86_64',
    os_type: 'linux',
    do_local_attach: false,
  };
  if (mountpoint) c.mountpoint = mountpoint;
  return c;
}

/** The message of a volume service error body (`{"badRequest": {"message": ...}}`), else its status. */
export function cinderMessage(r: RestAnswer<unknown>): string {
  const b = r.body;
  if (b && typeof b === 'object') {
    for (const v of Object.values(b as Record<string, unknown>)) {
      const m = (v as { message?: unknown } | null)?.message;
      if (typeof m === 'string') return m;
    }
  }
  return typeof b === 'string' && b ? b : `volume service answered ${r.status}`;
}

/** The error for an unexpected volume service answer: a 5xx is a 503 of ours, a refusal keeps its status. */
export function volumeFailure(r: RestAnswer<unknown>, what: string): ApiError {
  if (r.status >= 500) return new ApiError(503, `The volume service failed ${what}: ${cinderMessage(r)}`);
  return new ApiError(r.status === 404 ? 404 : 400, cinderMessage(r));
}

/** A volume, or null when the volume service has no such volume (for this caller). */
export async function findVolume(
  client: BlockStorageClient,
  id: string,
  o?: VolumeCallOptions,
): Promise<VolumeRecord | null> {
  const r = await client.getVolume(id, o);
  if (r.status === 404 || r.status === 400) return null;
  if (r.status !== 200) throw volumeFailure(r, `reading volume ${id}`);
  return r.body.volume;
}

/** Waits until a volume has one of the statuses (a volume made for a server is `creating` first); `error` ends the wait. */
export async function waitForVolume(
  client: BlockStorageClient,
  id: string,
  statuses: string[],
  timeoutMs = 180_000,
): Promise<VolumeRecord> {
  const deadline = Date.now() + timeoutMs;
  let delay = 50;
  for (;;) {
    const v = await findVolume(client, id);
    if (!v) throw new VolumeError(404, `Volume ${id} could not be found.`);
    if (statuses.includes(v.status)) return v;
    if (v.status === 'error' || v.status.startsWith('error_'))
      throw new VolumeError(400, `Volume ${id} did not finish being created even after we waited: status ${v.status}.`);
    if (Date.now() > deadline)
      throw new VolumeError(
        400,
        `Volume ${id} did not finish being created even after we waited ${Math.round(timeoutMs / 1000)} seconds or 0 attempts. And its status is ${v.status}.`,
      );
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 1000);
  }
}

/**
 * Connects a mapped volume to `host`: the attachment the API reserved is updated with the host's
 * connector (or one is created with it), then completed; the mapping keeps the attachment and
 * the connection info. On failure the attachment made here is deleted before the error is thrown.
 */
export async function connectVolume(
  client: BlockStorageClient,
  bdms: BlockDeviceStore,
  bdm: BlockDevice,
  host: string,
): Promise<{ attachment: AttachmentRecord; connectionInfo: VolumeConnectionInfo }> {
  const connector = connectorFor(host, bdm.device_name ?? undefined);
  let attachmentId = bdm.attachment_id;
  let made = false;
  let attachment: AttachmentRecord;
  if (!attachmentId) {
    const r = await client.createAttachment(bdm.volume_id!, bdm.instance_uuid, connector);
    if (r.status !== 200 && r.status !== 201 && r.status !== 202)
      throw new VolumeError(r.status >= 500 ? 500 : 400, `Invalid volume: ${cinderMessage(r)}`);
    attachment = r.body.attachment;
    attachmentId = attachment.id;
    made = true;
  } else {
    const r = await client.updateAttachment(attachmentId, connector);
    if (r.status !== 200) throw new VolumeError(r.status >= 500 ? 500 : 400, `Invalid volume: ${cinderMessage(r)}`);
    attachment = r.body.attachment;
  }
  try {
    const connectionInfo = (attachment.connection_info ?? {}) as VolumeConnectionInfo;
    await bdms.update(bdm.id, { attachment_id: attachmentId, connection_info: connectionInfo });
    return { attachment, connectionInfo };
  } catch (e) {
    if (made) await client.deleteAttachment(attachmentId).catch(() => undefined);
    throw e;
  }
}

/** attachment_complete: the volume is `in-use`. */
export async function completeAttachment(client: BlockStorageClient, attachmentId: string) {
  const r = await client.completeAttachment(attachmentId);
  if (r.status >= 300) throw new VolumeError(500, `Completing attachment ${attachmentId} failed: ${cinderMessage(r)}`);
}

/** attachment_delete; one already gone is fine. */
export async function deleteAttachment(client: BlockStorageClient, attachmentId: string | null) {
  if (!attachmentId) return;
  const r = await client.deleteAttachment(attachmentId);
  if (r.status >= 300 && r.status !== 404)
    throw new VolumeError(500, `Deleting attachment ${attachmentId} failed: ${cinderMessage(r)}`);
}

/**
 * A server's volumes given back (its delete): each attachment deleted, a volume marked
 * delete_on_termination deleted once it is free, every mapping gone. A failure on one volume
 * is logged and does not keep the others (or the delete) from going on, as in Nova.
 */
export async function releaseVolumes(
  client: BlockStorageClient,
  bdms: BlockDeviceStore,
  instanceUuid: string,
  log: { warn(obj: object, msg: string): void },
) {
  for (const bdm of await bdms.ofInstance(instanceUuid)) {
    try {
      if (bdm.destination_type === 'volume' && bdm.volume_id) {
        await deleteAttachment(client, bdm.attachment_id);
        if (bdm.delete_on_termination) {
          await waitForVolume(client, bdm.volume_id, ['available', 'error'], 30_000).catch(() => undefined);
          const r = await client.deleteVolume(bdm.volume_id);
          if (r.status >= 300 && r.status !== 404)
            log.warn(
              { volume: bdm.volume_id, status: r.status, body: r.body },
              'could not delete volume on termination',
            );
        }
      }
    } catch (err) {
      log.warn({ err, volume: bdm.volume_id, instance: instanceUuid }, 'could not release a volume of the server');
    }
    await bdms.destroy(bdm.id);
  }
}

/** Whether a server boots from a volume (its boot device is a volume: compute.utils.is_volume_backed_instance). */
export async function isVolumeBacked(bdms: BlockDeviceStore, instanceUuid: string): Promise<boolean> {
  return (await bdms.ofInstance(instanceUuid)).some((b) => b.boot_index === 0 && b.destination_type === 'volume');
}

/** A mapping as an image carries it in its `block_device_mapping` property (BlockDeviceDict.get_image_mapping). */
export interface ImageMapping {
  boot_index: number | null;
  delete_on_termination: boolean;
  destination_type: string;
  source_type: string;
  device_name: string | null;
  device_type: string | null;
  disk_bus: string | null;
  guest_format: string | null;
  image_id: string | null;
  snapshot_id: string | null;
  volume_id: string | null;
  volume_size: number | null;
  volume_type: string | null;
  tag: string | null;
  no_device: boolean | null;
}

/**
 * The volume part of a volume-backed server's snapshot (compute.api's snapshot_volume_backed): a
 * forced snapshot of each of its volumes in the volume service, with the caller's token, and the
 * mappings an image of them carries (sources: the snapshots). A failure deletes the snapshots
 * made so far.
 */
export async function snapshotVolumes(
  client: BlockStorageClient,
  bdms: BlockDeviceStore,
  instanceUuid: string,
  imageName: string,
  caller: VolumeCallOptions,
): Promise<ImageMapping[]> {
  const mapping: ImageMapping[] = [];
  const made: string[] = [];
  try {
    for (const b of await bdms.ofInstance(instanceUuid)) {
      if (b.destination_type !== 'volume' || !b.volume_id) continue;
      const v = await findVolume(client, b.volume_id, caller);
      if (!v) throw new ApiError(404, `Volume ${b.volume_id} could not be found.`);
      const r = await client.createSnapshot(
        { volume_id: v.id, force: true, name: `snapshot for ${imageName}`, description: v.description ?? '' },
        caller,
      );
      if (r.status !== 202 && r.status !== 200) {
        if (r.status === 413 || r.status === 403) throw new ApiError(403, cinderMessage(r));
        throw volumeFailure(r, `snapshotting volume ${v.id}`);
      }
      made.push(r.body.snapshot.id);
      mapping.push({
        boot_index: b.boot_index,
        delete_on_termination: b.delete_on_termination,
        destination_type: 'volume',
        source_type: 'snapshot',
        device_name: b.device_name,
        device_type: b.device_type,
        disk_bus: b.disk_bus,
        guest_format: b.guest_format,
        image_id: null,
        snapshot_id: r.body.snapshot.id,
        volume_id: null,
        volume_size: b.volume_size ?? v.size,
        volume_type: b.volume_type,
        tag: b.tag,
        no_device: null,
      });
    }
  } catch (e) {
    for (const id of made) await client.deleteSnapshot(id, caller).catch(() => undefined);
    throw e;
  }
  return mapping;
}
