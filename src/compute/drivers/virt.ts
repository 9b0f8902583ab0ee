// The virt driver interface: what a compute agent asks of its hypervisor. Narrow on purpose:
// the agent keeps the database, placement and the network in order; a driver only runs guests.
import type { Instance, Vif } from '../instances.ts';

export interface HostCapacity {
  vcpus: number;
  memory_mb: number;
  local_gb: number;
  hypervisor_type: string;
  hypervisor_version: number;
  hypervisor_hostname: string;
  cpu_info: Record<string, unknown>;
}

/** An image as the agent got it from the image service. */
export interface ImageMeta {
  id: string;
  name?: string;
  status: string;
  disk_format?: string;
  container_format?: string;
  size?: number | null;
  properties: Record<string, unknown>;
}

/** A driver failure; `reschedule` says another host may succeed (Nova's RescheduledException). */
export class VirtError extends Error {
  constructor(
    message: string,
    public reschedule = true,
  ) {
    super(message);
  }
}

/** nova.objects.diagnostics.Diagnostics, as the 2.48 API shows it. */
export interface GuestDiagnostics {
  state: string;
  driver: string;
  hypervisor: string | null;
  hypervisor_os: string | null;
  uptime: number | null;
  config_drive: boolean;
  memory_details: { maximum: number | null; used: number | null };
  cpu_details: Array<{ id: number | null; time: number | null; utilisation: number | null }>;
  nic_details: Array<{
    mac_address: string | null;
    rx_octets: number | null;
    rx_errors: number | null;
    rx_drop: number | null;
    rx_packets: number | null;
    rx_rate: number | null;
    tx_octets: number | null;
    tx_errors: number | null;
    tx_drop: number | null;
    tx_packets: number | null;
    tx_rate: number | null;
  }>;
  disk_details: Array<{
    read_bytes: number | null;
    read_requests: number | null;
    write_bytes: number | null;
    write_requests: number | null;
    errors_count: number | null;
  }>;
}

export type ConsoleProtocol = 'vnc' | 'spice' | 'rdp' | 'serial' | 'mks';
/** Where a guest's remote console listens (nova.console.type.Console): the console proxy connects there. */
export interface ConsoleEndpoint {
  host: string;
  port: number;
  internal_access_path: string | null;
}

export interface VirtDriver {
  readonly type: string;
  capacity(): HostCapacity;
  /** The guests this driver runs, by instance uuid, with their power state. */
  listInstances(): Map<string, number>;
  /**
   * Starts the guest. A driver with `spawnsWithVolumes` gets the server's volumes, connected,
   * to put in the guest before it starts (a root volume boots: Nova's block_device_info);
   * others get them attached after the spawn.
   */
  spawn(instance: Instance, image: ImageMeta | null, networkInfo: Vif[], volumes?: BuildVolume[]): Promise<void>;
  /** The driver takes the volumes at spawn (real guests boot from a root volume). */
  readonly spawnsWithVolumes?: boolean;
  destroy(instance: Instance): Promise<void>;
  powerOff(instance: Instance): Promise<void>;
  powerOn(instance: Instance): Promise<void>;
  reboot(instance: Instance, type: 'SOFT' | 'HARD'): Promise<void>;
  pause(instance: Instance): Promise<void>;
  unpause(instance: Instance): Promise<void>;
  suspend(instance: Instance): Promise<void>;
  resume(instance: Instance): Promise<void>;
  /**
   * At agent start: the guests the database says this host runs. A real hypervisor's guests
   * outlive the agent and it ignores this; a simulated one takes them back.
   */
  recover?(instances: Instance[]): void;
  /** The guest's diagnostics in Nova's standard form (2.48); absent: the driver has none. Throws a VirtError when it has no such guest. */
  diagnostics?(instance: Instance): GuestDiagnostics;
  /** The guest's console log (absent: the driver has none, Nova's NotImplementedError). Throws a VirtError when it has no such guest. */
  consoleLog?(instance: Instance): string;
  /** The power state the hypervisor reports (PowerState.NOSTATE when it has no such guest). */
  powerState(instance: Instance): number;
  // Guest actions of snapshots, shelve and rescue (agent/shelve.ts). Absent: Nova's NotImplementedError.
  /** The guest's root disk as an image (the agent uploads it): its bytes and formats. Throws a VirtError when it has no such guest. */
  snapshot?(instance: Instance): Promise<GuestImage>;
  /** Boots the guest from the rescue image, its own disk attached second; the password is the rescue root password. */
  rescue?(instance: Instance, image: ImageMeta | null, password: string): Promise<void>;
  /** Back to the guest's own disk. */
  unrescue?(instance: Instance): Promise<void>;
  /** Sets the guest's admin password (through its agent); throws a VirtError when the guest is not running. */
  setAdminPassword?(instance: Instance, password: string): Promise<void>;
  /** Injects an NMI into the guest (its kernel dumps). */
  triggerCrashDump?(instance: Instance): Promise<void>;
  /** Hot-plugs a port into the guest (absent: Nova's AttachInterfaceNotSupported). Throws a VirtError on failure. */
  attachInterface?(instance: Instance, vif: Vif): Promise<void>;
  /** Unplugs a port from the guest. Throws a VirtError on failure. */
  detachInterface?(instance: Instance, vif: Vif): Promise<void>;
  // ---- volumes (agent/volumes.ts); absent: the driver cannot attach volumes ----
  /**
   * Connects a volume to the guest at `mountpoint` (`/dev/vdb`) with the connection info the
   * volume service answered to the host's connector (its `driver_volume_type` and `data`).
   * Throws a VirtError on failure (the agent then gives the attachment back).
   */
  attachVolume?(instance: Instance, connectionInfo: VolumeConnectionInfo, mountpoint: string): Promise<void>;
  /** Disconnects the volume at `mountpoint` from the guest (a guest that is gone is fine). Throws a VirtError on failure. */
  detachVolume?(instance: Instance, connectionInfo: VolumeConnectionInfo, mountpoint: string): Promise<void>;
  /**
   * Moves the guest's disk at `mountpoint` from the old volume onto the new one, copying its
   * bytes while the guest runs (Nova's swap_volume). Without it, the agent detaches the old
   * volume and attaches the new one (no bytes copied: what the fake driver records).
   */
  swapVolume?(
    instance: Instance,
    oldConnectionInfo: VolumeConnectionInfo,
    newConnectionInfo: VolumeConnectionInfo,
    mountpoint: string,
  ): Promise<void>;
  /**
   * The volume at `mountpoint` grew to `newSizeBytes` on its backend (the `volume-extended`
   * event): the guest is told its new size. Absent: nothing to do on the guest (Nova's fake driver).
   */
  extendVolume?(
    instance: Instance,
    connectionInfo: VolumeConnectionInfo,
    mountpoint: string,
    newSizeBytes: number,
  ): Promise<void>;
  // ---- moves (resize, cold and live migration, evacuation); absent: the driver cannot move guests ----
  /** Source of a resize/cold migration: the guest is powered off and its disk sent away (kept until confirm). */
  migrateDiskAndPowerOff?(instance: Instance, dest?: string): Promise<void>;
  /** Destination of a resize/cold migration: the guest set up here with its (new) flavor, powered on or not. */
  /** `volumes`: for a driver with `spawnsWithVolumes`, the server's volumes connected to this host (a root volume boots). */
  finishMigration?(instance: Instance, powerOn: boolean, volumes?: BuildVolume[]): Promise<void>;
  /** Source, on confirm: the old guest is gone for good. */
  confirmMigration?(instance: Instance): Promise<void>;
  /** Source, on revert: the old guest comes back, powered on or not. */
  finishRevertMigration?(instance: Instance, powerOn: boolean): Promise<void>;
  /** Destination of a live migration, before it starts (Nova's pre_live_migration). */
  preLiveMigration?(instance: Instance, blockMigration: boolean): Promise<void>;
  /** Source: the live migration of the running guest to `dest`; the job can be forced to complete or aborted. */
  liveMigration?(instance: Instance, dest: string, blockMigration: boolean): LiveMigrationJob;
  /** Destination after a live migration: the guest now runs here with this power state. */
  postLiveMigrationAtDestination?(instance: Instance, powerState: number): Promise<void>;
  /** Where the guest's remote console of `protocol` listens; absent: the driver has none (Nova's NotImplementedError). Throws a VirtError when it has no such guest. */
  remoteConsole?(instance: Instance, protocol: ConsoleProtocol): ConsoleEndpoint | Promise<ConsoleEndpoint>;
  /** The agent hands the driver what it offers drivers (Nova's virtapi), once at start. */
  setVirtApi?(api: VirtApi): void;
}

/** A volume's connection info as the volume service answers it (os-brick's: `driver_volume_type` and its `data`). */
/** A volume connected for a guest that is being built (its device name: /dev/vda is the root). */
export interface BuildVolume {
  connectionInfo: VolumeConnectionInfo;
  mountpoint: string;
}

export interface VolumeConnectionInfo {
  driver_volume_type?: string;
  data?: Record<string, unknown>;
  [field: string]: unknown;
}

/** An event a driver waits for: `network-vif-plugged` with the port id as tag. */
export interface WaitedEvent {
  name: string;
  tag?: string | null;
}

/** What the compute agent offers its driver (Nova's ComputeVirtAPI). */
export interface VirtApi {
  /**
   * Registers the events, runs `body`, then waits for them (compute.vifPluggingTimeout);
   * throws a VirtError when one failed or the time ran out and compute.vifPluggingIsFatal.
   */
  waitForInstanceEvent(instance: Instance, events: WaitedEvent[], body: () => Promise<void>): Promise<void>;
  /** Streams an image's data from the image service into a file (a real driver's image cache). */
  downloadImage?(imageId: string, file: string): Promise<void>;
  /**
   * The hypervisor reported a lifecycle event of a guest (Nova's handle_lifecycle_event): its
   * power state (as the driver's powerState() now answers it) is synced at once.
   */
  lifecycleEvent?(uuid: string, transition: string): void;
}

/** A running live migration (the driver's side): progress, and what an operator can do to it. */
export interface LiveMigrationJob {
  /** 'completed' when the guest runs on the destination, 'cancelled' when aborted; rejects on failure. */
  done: Promise<'completed' | 'cancelled'>;
  /** Memory and disk progress in bytes (Nova's migration memory_* / disk_* fields). */
  progress(): {
    memory_total: number;
    memory_processed: number;
    memory_remaining: number;
    disk_total: number;
    disk_processed: number;
    disk_remaining: number;
  };
  /** Switch to post-copy / pause the guest so that it completes now (force_complete). */
  forceComplete(): void;
  abort(): void;
}

/** A snapshot of a guest's disk, as the driver hands it to the agent for the image service. */
export interface GuestImage {
  /** The image's bytes, or a file holding them (streamed to the image service, then removed by the caller). */
  data: Uint8Array | { file: string };
  diskFormat: string;
  containerFormat: string;
}
