// A server's block device mappings (nova.objects.BlockDeviceMapping): each volume it has (its
// volume service attachment and the connection info its host used) and, for a volume made at
// boot, the image, snapshot or blank source it came from. Kept in `block_device_mapping`.
import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type { BlockDeviceMappingTable, ComputeDb } from './db/schema.ts';
import { bool, int, json, now } from '../core/db.ts';

export type SourceType = 'volume' | 'snapshot' | 'image' | 'blank';
export type DestinationType = 'volume' | 'local';

/** A mapping as the code uses it: its `block_device_mapping` row with its flag as a boolean and its connection info parsed. */
export interface BlockDevice
  extends Omit<
    Selectable<BlockDeviceMappingTable>,
    'source_type' | 'destination_type' | 'delete_on_termination' | 'connection_info' | 'updated_at' | 'deleted'
  > {
  source_type: SourceType;
  destination_type: DestinationType;
  delete_on_termination: boolean;
  connection_info: Record<string, unknown> | null;
}

export type NewBlockDevice = Omit<BlockDevice, 'id' | 'uuid' | 'created_at'> & { uuid?: string };

const fromRow = (r: Selectable<BlockDeviceMappingTable>): BlockDevice => ({
  id: Number(r.id),
  uuid: r.uuid,
  instance_uuid: r.instance_uuid,
  source_type: r.source_type as SourceType,
  destination_type: r.destination_type as DestinationType,
  boot_index: r.boot_index === null ? null : Number(r.boot_index),
  device_name: r.device_name,
  device_type: r.device_type,
  disk_bus: r.disk_bus,
  guest_format: r.guest_format,
  volume_id: r.volume_id,
  snapshot_id: r.snapshot_id,
  image_id: r.image_id,
  volume_size: r.volume_size === null ? null : Number(r.volume_size),
  volume_type: r.volume_type,
  delete_on_termination: bool(r.delete_on_termination),
  tag: r.tag,
  attachment_id: r.attachment_id,
  connection_info: r.connection_info ? json<Record<string, unknown> | null>(r.connection_info, null) : null,
  created_at: r.created_at,
});

export class BlockDeviceStore {
  constructor(readonly db: Kysely<ComputeDb>) {}

  async create(b: NewBlockDevice): Promise<BlockDevice> {
    const uuid = b.uuid ?? randomUUID();
    await this.db
      .insertInto('block_device_mapping')
      .values({
        uuid,
        instance_uuid: b.instance_uuid,
        source_type: b.source_type,
        destination_type: b.destination_type,
        boot_index: b.boot_index,
        device_name: b.device_name,
        device_type: b.device_type,
        disk_bus: b.disk_bus,
        guest_format: b.guest_format,
        volume_id: b.volume_id,
        snapshot_id: b.snapshot_id,
        image_id: b.image_id,
        volume_size: b.volume_size,
        volume_type: b.volume_type,
        delete_on_termination: int(b.delete_on_termination),
        tag: b.tag,
        attachment_id: b.attachment_id,
        connection_info: b.connection_info ? JSON.stringify(b.connection_info) : null,
        created_at: now(),
        deleted: 0,
      })
      .execute();
    return (await this.byUuid(uuid))!;
  }

  async byUuid(uuid: string): Promise<BlockDevice | null> {
    const r = await this.db
      .selectFrom('block_device_mapping')
      .selectAll()
      .where('uuid', '=', uuid)
      .where('deleted', '=', 0)
      .executeTakeFirst();
    return r ? fromRow(r) : null;
  }

  /** A server's mappings, the boot device first, then in the order they were made. */
  async ofInstance(instanceUuid: string): Promise<BlockDevice[]> {
    const rows = await this.db
      .selectFrom('block_device_mapping')
      .selectAll()
      .where('instance_uuid', '=', instanceUuid)
      .where('deleted', '=', 0)
      .orderBy('id')
      .execute();
    const out = rows.map(fromRow);
    return out.sort((a, b) => (a.boot_index === 0 ? -1 : b.boot_index === 0 ? 1 : a.id - b.id));
  }

  /** The servers' volumes, by server (one query for a page of servers). */
  async volumesOf(instanceUuids: string[]): Promise<Map<string, BlockDevice[]>> {
    const out = new Map<string, BlockDevice[]>();
    if (!instanceUuids.length) return out;
    for (let i = 0; i < instanceUuids.length; i += 500) {
      const rows = await this.db
        .selectFrom('block_device_mapping')
        .selectAll()
        .where('instance_uuid', 'in', instanceUuids.slice(i, i + 500))
        .where('deleted', '=', 0)
        .where('destination_type', '=', 'volume')
        .orderBy('id')
        .execute();
      for (const r of rows) {
        const list = out.get(r.instance_uuid) ?? [];
        list.push(fromRow(r));
        out.set(r.instance_uuid, list);
      }
    }
    return out;
  }

  /** The server's mapping of a volume (Nova's get_by_volume_and_instance). */
  async byVolume(instanceUuid: string, volumeId: string): Promise<BlockDevice | null> {
    const r = await this.db
      .selectFrom('block_device_mapping')
      .selectAll()
      .where('instance_uuid', '=', instanceUuid)
      .where('volume_id', '=', volumeId)
      .where('deleted', '=', 0)
      .executeTakeFirst();
    return r ? fromRow(r) : null;
  }

  async update(id: number, changes: Partial<Omit<BlockDevice, 'id' | 'uuid' | 'instance_uuid' | 'created_at'>>) {
    const set: Record<string, unknown> = { updated_at: now() };
    for (const [k, v] of Object.entries(changes)) {
      if (k === 'delete_on_termination') set[k] = int(v as boolean);
      else if (k === 'connection_info') set[k] = v ? JSON.stringify(v) : null;
      else set[k] = v;
    }
    await this.db.updateTable('block_device_mapping').set(set).where('id', '=', id).execute();
  }

  async destroy(id: number) {
    await this.db
      .updateTable('block_device_mapping')
      .set({ deleted: 1, updated_at: now() })
      .where('id', '=', id)
      .execute();
  }
}

/** The next free device name of a server (`/dev/vdb`, `/dev/vdc`, ...), Nova's get_next_device_name. */
export function nextDeviceName(used: Array<string | null>, prefix = '/dev/vd'): string {
  const taken = new Set(used.filter((d): d is string => !!d).map((d) => d.replace(/^\/dev\//, '')));
  taken.add('vda');
  for (let i = 0; i < 26 * 27; i++) {
    const letters =
      i < 26
        ? String.fromCharCode(97 + i)
        : `${String.fromCharCode(96 + Math.floor(i / 26))}${String.fromCharCode(97 + (i % 26))}`;
    const name = `${prefix.replace(/^\/dev\//, '')}${letters}`;
    if (!taken.has(name)) return `/dev/${name}`;
  }
  throw new Error('No free disk device names for prefix');
}

/** A request's mapping as the local-disk rules read it (blank → local: an ephemeral disk or the swap). */
export interface LocalMappingRequest {
  source_type?: string;
  destination_type?: string;
  guest_format?: string;
  volume_size?: number | string;
  no_device?: unknown;
}

/** Nova's max_local_block_devices default. */
export const MAX_LOCAL_BLOCK_DEVICES = 3;

/**
 * The checks compute.api's _validate_bdm makes of the local disks a create asks for against the
 * flavor: ephemeral disks within its ephemeral_gb (a size-less one counts the whole of it), one
 * swap no larger than its swap, at most max_local_block_devices local mappings (the image root of
 * an image-backed server, `imageRoot`, among them). Answers the
 * message of the first rule broken (Nova's InvalidBDM* exceptions), or null.
 */
export function localMappingError(
  requested: LocalMappingRequest[],
  flavor: { ephemeral: number; swap: number },
  imageRoot = false,
): string | null {
  const mappings = requested.filter((b) => !b.no_device);
  const dest = (b: LocalMappingRequest) =>
    b.destination_type ?? (b.source_type === 'image' || b.source_type === 'blank' ? 'local' : 'volume');
  const blankLocal = mappings.filter((b) => b.source_type === 'blank' && dest(b) === 'local');
  const swaps = blankLocal.filter((b) => b.guest_format === 'swap');
  const ephemerals = blankLocal.filter((b) => b.guest_format !== 'swap');
  const size = (b: LocalMappingRequest, dflt: number) =>
    b.volume_size === undefined || b.volume_size === '' ? dflt : Number(b.volume_size) || dflt;
  const ephemeralTotal = ephemerals.reduce((t, b) => t + size(b, flavor.ephemeral), 0);
  if (ephemeralTotal > flavor.ephemeral)
    return 'Ephemeral disks requested are larger than the instance type allows. If no size is given in one block device mapping, flavor ephemeral size will be used.';
  if (swaps.length > 1) return 'Block Device Mapping is Invalid: More than one swap drive requested.';
  if (swaps.length && size(swaps[0]!, 0) > flavor.swap)
    return 'Swap drive requested is larger than instance type allows.';
  // An image-backed server's root disk is a local mapping too (Nova adds it before counting).
  const locals = mappings.filter((b) => dest(b) === 'local');
  const rootListed = locals.some((b) => b.source_type === 'image');
  if (locals.length + (imageRoot && !rootListed ? 1 : 0) > MAX_LOCAL_BLOCK_DEVICES)
    return 'Block Device Mapping is Invalid: You specified more local devices than the limit allows';
  return null;
}
