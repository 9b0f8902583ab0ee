// The volume driver interface (cinder.volume.driver.VolumeDriver, the part Stratus needs): the
// data plane under a volume agent. A driver owns the bytes of volumes and snapshots on one
// backend and reports its pool capacity.

/** What a driver knows of a volume. */
export interface DriverVolume {
  id: string;
  size: number;
  /** Where the driver put it (its own handle, kept by the agent in the volume row). */
  provider_location: string | null;
}

export interface DriverSnapshot {
  id: string;
  volume_id: string;
  volume_size: number;
  provider_location: string | null;
}

/** The connection info os-brick and Nova read (cinder's initialize_connection answer). */
export interface ConnectionInfo {
  driver_volume_type: string;
  data: Record<string, unknown>;
}

/** One pool of the backend as the scheduler sees it (cinder's get_volume_stats pools). */
export interface PoolStats {
  pool_name: string;
  total_capacity_gb: number;
  free_capacity_gb: number;
  provisioned_capacity_gb: number;
  allocated_capacity_gb: number;
  reserved_percentage: number;
  max_over_subscription_ratio: number;
  thin_provisioning_support: boolean;
  thick_provisioning_support: boolean;
  multiattach: boolean;
  QoS_support: boolean;
}

/**
 * The one pool of a thin-provisioning backend (file, iSCSI over files, RBD), multiattach and no QoS:
 * its capacity as the driver measured it, what volumes were given, and the backend's over-subscription options.
 */
export function thinPoolStats(
  o: { backendName: string; reservedPercentage: number; maxOverSubscriptionRatio: number },
  capacity: { total: number; free: number; allocatedGb: number },
): PoolStats {
  return {
    pool_name: o.backendName,
    total_capacity_gb: capacity.total,
    free_capacity_gb: capacity.free,
    provisioned_capacity_gb: capacity.allocatedGb,
    allocated_capacity_gb: capacity.allocatedGb,
    reserved_percentage: o.reservedPercentage,
    max_over_subscription_ratio: o.maxOverSubscriptionRatio,
    thin_provisioning_support: true,
    thick_provisioning_support: false,
    multiattach: true,
    QoS_support: false,
  };
}

export interface BackendStats {
  volume_backend_name: string;
  vendor_name: string;
  driver_version: string;
  storage_protocol: string;
  pools: PoolStats[];
}

export interface VolumeDriver {
  readonly name: string;
  /** Prepares the backend (directories, tools). */
  setup(): Promise<void>;
  /** A blank volume of `size` GiB; answers its location. */
  createVolume(v: DriverVolume): Promise<string>;
  deleteVolume(v: DriverVolume): Promise<void>;
  /** Grows the volume to `newSize` GiB. */
  extendVolume(v: DriverVolume, newSize: number): Promise<void>;
  createSnapshot(s: DriverSnapshot, v: DriverVolume): Promise<string>;
  deleteSnapshot(s: DriverSnapshot): Promise<void>;
  /** A new volume with the snapshot's content, grown to the volume's size. */
  createVolumeFromSnapshot(v: DriverVolume, s: DriverSnapshot): Promise<string>;
  /** A new volume with the source's content (clone). */
  createClonedVolume(v: DriverVolume, src: DriverVolume): Promise<string>;
  /** Writes an image file (`format`: raw, qcow2, ...) into a new volume; answers its location. */
  copyImageToVolume(v: DriverVolume, imageFile: string, format: string): Promise<string>;
  /**
   * Where a raw image's bytes may be written as they are to make the volume (a raw file of the
   * backend), or null when the image must go through copyImageToVolume. Absent: never.
   */
  rawImageTarget?(v: DriverVolume, format: string): string | null;
  /** Writes the volume into a file in `format` (raw or qcow2), for an upload to the image service. */
  copyVolumeToImage(v: DriverVolume, outFile: string, format: string): Promise<void>;
  /** A path the backup agent can read and the restore write (the file driver: the file itself, raw). */
  localPath(v: DriverVolume): string;
  /**
   * For backends with no local path (rbd): a sparse local copy of the volume to read (`read`), or
   * a blank local file of its size that `commit()` writes into the volume (`write`); `release()`
   * removes it. The backup agent uses it instead of localPath when the driver has it.
   */
  localCopy?(v: DriverVolume, mode: 'read' | 'write'): Promise<LocalCopy>;
  /** Overwrites the volume with the snapshot's content (revert to snapshot, 3.40). */
  revertToSnapshot(v: DriverVolume, s: DriverSnapshot): Promise<void>;
  initializeConnection(v: DriverVolume, connector: Record<string, unknown>): Promise<ConnectionInfo>;
  /** `others`: how many other attachments of the volume still hold a connector (multiattach): the export stays while any does. */
  terminateConnection(v: DriverVolume, connector: Record<string, unknown> | null, others?: number): Promise<void>;
  /** Puts back the export of an attached volume after a restart (Cinder's ensure_export); absent: nothing to do. */
  ensureExport?(v: DriverVolume): Promise<void>;
  /** Releases what `setup` started (a daemon); absent: nothing to do. */
  stop?(): Promise<void>;
  /**
   * Takes over storage the backend has but no volume row names (manage_existing): `ref` is
   * Cinder's reference (`source-name`: the file's name in the backend). Answers the new location
   * and the size in GiB (rounded up).
   */
  manageExisting(v: DriverVolume, ref: Record<string, unknown>): Promise<{ location: string; size: number }>;
  /** The same for a snapshot of volume `v`. */
  manageExistingSnapshot(s: DriverSnapshot, ref: Record<string, unknown>): Promise<{ location: string; size: number }>;
  /** What the backend holds (volumes, or snapshots), for the manageable lists: name and size in GiB. */
  listExisting(kind: 'volume' | 'snapshot'): Promise<Array<{ name: string; size: number }>>;
  /** Capacity, for the periodic report. `allocatedGb`: the sum of the sizes of the agent's volumes. */
  stats(allocatedGb: number): Promise<BackendStats>;
}

/**
 * A snapshot the backend cannot delete while volumes depend on it (Cinder's SnapshotIsBusy): the
 * agent puts it back to `available` with a user message instead of `error_deleting`.
 */
export class SnapshotIsBusy extends Error {
  constructor(snapshotName: string) {
    super(`deleting snapshot ${snapshotName} that has dependent volumes`);
    this.name = 'SnapshotIsBusy';
  }
}

export interface LocalCopy {
  path: string;
  commit(): Promise<void>;
  release(): Promise<void>;
}
