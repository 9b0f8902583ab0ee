// block_device_mapping_v2 of a server create (nova.block_device's BlockDeviceDict.from_api and
// compute.api's _validate_bdm and _get_bdm_image_metadata): the request's mappings checked with
// the caller's token (volumes, snapshots and images must exist and fit; a boot volume must be
// bootable), the boot source found (an image, or a volume: boot from volume), and, once the
// servers exist, their volumes: a volume brought is reserved (attachment_create without a
// connector), one made from an image, a snapshot or blank is created in the volume service in
// the caller's project; the mappings are recorded for the agent, which connects them.
import type { FastifyRequest } from 'fastify';
import type { ComputeService } from '../service.ts';
import type { ImageMeta } from '../drivers/virt.ts';
import { nextDeviceName, type NewBlockDevice, type SourceType } from '../block_devices.ts';
import { cinderMessage, deleteAttachment, findVolume, volumeFailure } from '../volumes.ts';
import type { VolumeRecord } from '../../core/clients/block-storage.ts';
import { ApiError } from '../../core/errors.ts';
import { asCaller, badRequest } from './common.ts';
import { isTruthy } from './schemas/parameter_types.ts';

/** A mapping of the request, as the schema let it through. */
export interface RequestedBdm {
  source_type?: SourceType;
  destination_type?: 'local' | 'volume';
  uuid?: string;
  image_id?: string;
  boot_index?: number | string | null;
  volume_size?: number | string;
  delete_on_termination?: boolean | string;
  device_name?: string | null;
  device_type?: string;
  disk_bus?: string;
  guest_format?: string;
  tag?: string;
  volume_type?: string | null;
  no_device?: unknown;
}

/** A mapping in the legacy (v1) `block_device_mapping` syntax that clients and tempest still send. */
export interface LegacyBdm {
  device_name?: string;
  volume_id?: string;
  snapshot_id?: string;
  volume_size?: number | string;
  delete_on_termination?: boolean | string;
  virtual_name?: string;
  no_device?: unknown;
}

/**
 * Legacy mappings in the v2 form, as Nova's from_legacy_mapping: a volume or snapshot becomes a
 * volume; with no image the first one that is not blank boots (boot_index 0); with an image
 * they are all extra devices and the image boots.
 */
export function fromLegacyMapping(legacy: LegacyBdm[], imageRef: string | null): RequestedBdm[] {
  const out = legacy.map((l): RequestedBdm => {
    const common = {
      device_name: l.device_name ?? null,
      volume_size: l.volume_size,
      delete_on_termination: l.delete_on_termination,
    };
    if (l.virtual_name === 'swap' || /^ephemeral\d+$/.test(l.virtual_name ?? ''))
      return {
        ...common,
        source_type: 'blank',
        destination_type: 'local',
        delete_on_termination: true,
        guest_format: l.virtual_name === 'swap' ? 'swap' : undefined,
      };
    if (l.snapshot_id) return { ...common, source_type: 'snapshot', destination_type: 'volume', uuid: l.snapshot_id };
    if (l.volume_id) return { ...common, source_type: 'volume', destination_type: 'volume', uuid: l.volume_id };
    if (l.no_device !== undefined) return { ...common, no_device: l.no_device };
    throw invalid('Unrecognized legacy format.');
  });
  if (!imageRef) {
    const boot = out.find((b) => b.source_type && b.source_type !== 'blank');
    for (const b of out) b.boot_index = b === boot ? 0 : -1;
  } else {
    for (const b of out) b.boot_index = b.no_device === undefined ? -1 : null;
  }
  return out;
}

/** What a create does with its mappings. */
export interface BootPlan {
  /** The server boots from a volume (its image_ref is empty). */
  volumeBacked: boolean;
  /** The image the server boots from, directly or through the volume made from it (null: none known). */
  imageRef: string | null;
  /** For a volume-backed server: its image metadata (the boot volume's, or the image's). */
  image: ImageMeta | null;
  /** The mappings onto volumes, in the request's order. */
  devices: Array<Omit<NewBlockDevice, 'instance_uuid'>>;
}

const invalid = (why: string) => badRequest(`Block Device Mapping is Invalid: ${why}`);
const BOOT_SEQUENCE = 'Boot sequence for the instance and image/block device mapping combination is not valid.';
const GiB = 1024 ** 3;

/** The boot index as Nova reads it: an integer, or null for "not bootable" (negative or absent). */
function bootIndex(b: RequestedBdm): number | null {
  if (b.boot_index === undefined || b.boot_index === null || b.boot_index === '') return null;
  const n = Number(b.boot_index);
  return n < 0 ? null : n;
}

/** An image's metadata from a volume's `volume_image_metadata` (Nova's get_image_metadata_from_volume). */
function imageFromVolume(v: VolumeRecord): ImageMeta {
  const meta = { ...(v.volume_image_metadata ?? {}) } as Record<string, unknown>;
  const properties: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(meta))
    if (!['image_id', 'image_name', 'size', 'checksum', 'container_format', 'disk_format'].includes(k))
      properties[k] = val;
  properties.min_disk = v.size;
  return {
    id: String(meta.image_id ?? ''),
    name: meta.image_name as string | undefined,
    status: 'active',
    disk_format: meta.disk_format as string | undefined,
    container_format: meta.container_format as string | undefined,
    size: 0,
    properties,
  };
}

/** Checks the request's mappings (compute.api's _validate_bdm) and plans the server's volumes. */
export async function planBlockDevices(
  svc: ComputeService,
  req: FastifyRequest,
  requested: RequestedBdm[] | undefined,
  imageRef: string | null,
  maxCount: number,
): Promise<BootPlan> {
  const plan: BootPlan = { volumeBacked: false, imageRef, image: null, devices: [] };
  if (!requested?.length) return plan;
  const { clients } = svc.parts;
  const caller = asCaller(req);
  const indexes = requested.map(bootIndex).filter((i): i is number => i !== null);
  const sorted = [...indexes].sort((a, b) => a - b);
  if (sorted.some((n, i) => n !== i)) throw invalid(BOOT_SEQUENCE);
  const boot = requested.find((b) => bootIndex(b) === 0);
  if (!imageRef && !boot) throw invalid(BOOT_SEQUENCE);
  const used: string[] = [];
  for (const b of requested) {
    const source = b.source_type ?? 'volume';
    const destination = b.destination_type ?? (source === 'volume' || source === 'snapshot' ? 'volume' : 'local');
    const index = bootIndex(b);
    if (b.no_device) continue;
    // BlockDeviceDict.from_api's format rules.
    if (source === 'blank' && b.uuid) throw invalid('Invalid device UUID.');
    if (destination === 'local' && b.volume_type)
      throw invalid('Specifying a volume_type with destination_type=local is not supported.');
    if (source === 'volume' && b.volume_type)
      throw invalid('Specifying volume type to existing volume is not supported.');
    if (destination === 'local') {
      if (source === 'volume' || source === 'snapshot') throw invalid(`Mapping image to local is not supported.`);
      if (source === 'image') {
        if (index === 0) {
          if (!b.uuid) throw invalid('Missing device UUID.');
          plan.imageRef = b.uuid;
        } else throw invalid('Mapping image to local is not supported.');
      }
      // Blank local disks (ephemeral, swap) are the flavor's: nothing to make in the volume service.
      continue;
    }
    const uuid = b.uuid ?? b.image_id;
    if (source !== 'blank' && !uuid) throw invalid('Missing device UUID.');
    let size = b.volume_size === undefined ? null : Number(b.volume_size);
    const device: Omit<NewBlockDevice, 'instance_uuid'> = {
      source_type: source,
      destination_type: 'volume',
      boot_index: index,
      device_name: null,
      device_type: b.device_type ?? 'disk',
      disk_bus: b.disk_bus ?? null,
      guest_format: b.guest_format ?? null,
      volume_id: null,
      snapshot_id: null,
      image_id: null,
      volume_size: size,
      volume_type: b.volume_type ?? null,
      delete_on_termination: b.delete_on_termination !== undefined && isTruthy(b.delete_on_termination),
      tag: b.tag ?? null,
      attachment_id: null,
      connection_info: null,
    };
    if (source === 'volume') {
      if (maxCount > 1) throw badRequest('Cannot attach one or more volumes to multiple instances');
      const v = await findVolume(clients.blockStorage, uuid!, caller);
      if (!v) throw invalid(`failed to get volume ${uuid}.`);
      if (v.status !== 'available' && !(v.multiattach && v.status === 'in-use'))
        throw badRequest(`Invalid volume: volume '${uuid}' status must be 'available'. Currently in '${v.status}'`);
      if (index === 0 && String(v.bootable).toLowerCase() !== 'true')
        throw badRequest(`Block Device ${uuid} is not bootable.`);
      device.volume_id = v.id;
      device.volume_size = v.size;
      if (index === 0) plan.image = imageFromVolume(v);
    } else if (source === 'snapshot') {
      const r = await clients.blockStorage.getSnapshot(uuid!, caller);
      if (r.status !== 200) throw invalid(`failed to get snapshot ${uuid}.`);
      device.snapshot_id = r.body.snapshot.id;
      size ??= r.body.snapshot.size;
      device.volume_size = size;
      if (index === 0) {
        const parent = await findVolume(clients.blockStorage, r.body.snapshot.volume_id, caller);
        if (parent) plan.image = imageFromVolume(parent);
      }
    } else if (source === 'image') {
      const image = await clients.getImage(uuid!, req.ctx!.token);
      if (!image) throw invalid(`failed to get image ${uuid}.`);
      if (image.status !== 'active') throw badRequest(`Image ${uuid} is not active.`);
      const minDisk = Number(image.properties.min_disk ?? 0);
      const needed = Math.max(minDisk, Math.ceil(Number(image.size ?? 0) / GiB), 1);
      size ??= needed;
      if (size * GiB < Number(image.size ?? 0))
        throw badRequest(
          `Volume is smaller than the minimum size specified in image metadata. Volume size is ${size * GiB} bytes, minimum size is ${image.size} bytes.`,
        );
      if (size < minDisk)
        throw badRequest(
          `Volume is smaller than the minimum size specified in image metadata. Volume size is ${size * GiB} bytes, minimum size is ${minDisk * GiB} bytes.`,
        );
      device.image_id = image.id;
      device.volume_size = size;
      if (index === 0) {
        plan.image = image;
        plan.imageRef = null;
      }
    } else {
      if (!size) throw invalid("Blank volumes (source: 'blank', dest: 'volume') need to have non-zero size");
    }
    if (index === 0) plan.volumeBacked = true;
    device.device_name = index === 0 ? '/dev/vda' : nextDeviceName(used);
    used.push(device.device_name);
    plan.devices.push(device);
  }
  if (plan.volumeBacked) plan.imageRef = null;
  return plan;
}

/**
 * The planned volumes of one new server: brought volumes reserved for it, the others created in
 * the caller's project (the agent waits for them and connects them), every mapping recorded.
 * On failure what was made here is undone before the error is rethrown.
 */
export async function createServerVolumes(
  svc: ComputeService,
  req: FastifyRequest,
  instanceUuid: string,
  plan: BootPlan,
) {
  const client = svc.parts.clients.blockStorage;
  const caller = asCaller(req);
  const bdms = svc.parts.blockDevices;
  const undo: Array<() => Promise<unknown>> = [];
  try {
    for (const d of plan.devices) {
      const row = { ...d, instance_uuid: instanceUuid };
      if (d.source_type === 'volume') {
        const r = await client.createAttachment(d.volume_id!, instanceUuid, null, undefined, caller);
        if (r.status !== 200 && r.status !== 201 && r.status !== 202)
          throw r.status >= 500
            ? volumeFailure(r, `reserving volume ${d.volume_id}`)
            : badRequest(`Invalid input received: ${cinderMessage(r)}`);
        row.attachment_id = r.body.attachment.id;
        undo.push(() => deleteAttachment(client, row.attachment_id));
      } else {
        const body: Record<string, unknown> = {
          size: d.volume_size,
          name: `${instanceUuid}-${d.source_type === 'blank' ? 'blank' : d.source_type}-vol`,
        };
        if (d.image_id) body.imageRef = d.image_id;
        if (d.snapshot_id) body.snapshot_id = d.snapshot_id;
        if (d.volume_type) body.volume_type = d.volume_type;
        const r = await client.createVolume(body, caller);
        if (r.status !== 202 && r.status !== 200) {
          if (r.status === 413 || r.status === 403) throw new ApiError(403, cinderMessage(r));
          throw r.status >= 500 ? volumeFailure(r, 'creating a volume') : badRequest(cinderMessage(r));
        }
        row.volume_id = r.body.volume.id;
        undo.push(async () => client.deleteVolume(row.volume_id!, caller));
      }
      const made = await bdms.create(row);
      undo.push(() => bdms.destroy(made.id));
    }
  } catch (e) {
    for (const u of undo.reverse()) await u().catch(() => undefined);
    throw e;
  }
}
