// The simulated virt driver: guests are entries in a map, every action is instant (or takes
// `delayMs`) but for the work behind a transitional status clients poll for (reboot, rebuild,
// resize, revert, unshelve: `transitions`, compute.fake.*), capacity comes from config. Faults on demand, to exercise the conductor's revert
// and reschedule: a spawn fails when the image has the property `fake_fail_spawn`, when the
// flavor has the extra spec `fake:fail_spawn`, or at `failRate` (0..1).
import { PowerState, type Instance, type Vif } from '../instances.ts';
import {
  VirtError,
  type ConsoleEndpoint,
  type ConsoleProtocol,
  type GuestDiagnostics,
  type GuestImage,
  type HostCapacity,
  type ImageMeta,
  type LiveMigrationJob,
  type VirtApi,
  type VolumeConnectionInfo,
  type VirtDriver,
} from './virt.ts';
import { tinyQcow2 } from '../../core/qcow2.ts';
import type { FakeTimings } from '../config.ts';
import { FakeLoadProfile } from './fake_load.ts';

export interface FakeDriverOptions {
  host: string;
  vcpus: number;
  memoryMb: number;
  localGb: number;
  delayMs?: number;
  failRate?: number;
  /** How long a live migration runs (ms) unless forced to complete or aborted. */
  liveMigrationMs?: number;
  /** How long a snapshot takes (ms), on top of delayMs. */
  snapshotMs?: number;
  /**
   * Spawn waits for the network's `network-vif-plugged` event of each port, as libvirt does
   * (compute.fakeWaitForVifPlugged; off by default, so a create costs no more).
   */
  waitForVifPlugged?: boolean;
  /** How long the work behind each transitional status takes (compute.fake.*; absent or 0: instant). */
  transitions?: Partial<FakeTimings>;
}

export class FakeDriver implements VirtDriver {
  readonly type = 'fake';
  private guests = new Map<string, number>();
  /** Each guest's console: a boot log written at every (re)boot, as a serial console fills up. */
  private consoles = new Map<string, string[]>();
  /** Each guest's CPU load (server metadata `stratus:load`), which its CPU time follows. */
  private load = new FakeLoadProfile();
  constructor(private o: FakeDriverOptions) {}

  capacity(): HostCapacity {
    return {
      vcpus: this.o.vcpus,
      memory_mb: this.o.memoryMb,
      local_gb: this.o.localGb,
      hypervisor_type: 'fake',
      hypervisor_version: 1000,
      hypervisor_hostname: this.o.host,
      cpu_info: {
        arch: 'x86_64',
        model: 'fake',
        vendor: 'Stratus',
        topology: { sockets: 1, cores: this.o.vcpus, threads: 1 },
        features: [],
      },
    };
  }

  listInstances() {
    return new Map(this.guests);
  }

  private async delay() {
    if (this.o.delayMs) await new Promise((r) => setTimeout(r, this.o.delayMs));
  }

  /** The time of a transitional status's work (REBOOT, REBUILD, RESIZE...), so that clients can see it. */
  private async transition(kind: keyof FakeTimings) {
    const ms = this.o.transitions?.[kind];
    if (ms && ms > 0) await new Promise((r) => setTimeout(r, ms));
  }

  private need(instance: Instance) {
    if (!this.guests.has(instance.uuid)) throw new VirtError(`Instance ${instance.uuid} could not be found.`, false);
  }

  async spawn(instance: Instance, image: ImageMeta | null, networkInfo: Vif[]) {
    await this.delay();
    // A rebuild's or an unshelve's spawn is a transitional status of its own (REBUILD, and
    // SHELVED_OFFLOADED's unshelving); a create's BUILD is as long as the build takes.
    const task = String(instance.task_state ?? '');
    if (task.startsWith('rebuild')) await this.transition('rebuildMs');
    else if (task === 'unshelving' || (task === 'spawning' && instance.vm_state === 'shelved_offloaded'))
      await this.transition('unshelveMs');
    const flavorFail = instance.flavor.extra_specs?.['fake:fail_spawn'];
    const imageFail = image?.properties?.fake_fail_spawn;
    if (flavorFail || imageFail)
      throw new VirtError(
        `Fake driver: spawn failed (${flavorFail ? 'flavor fake:fail_spawn' : 'image fake_fail_spawn'}).`,
      );
    if (this.o.failRate && Math.random() < this.o.failRate)
      throw new VirtError('Fake driver: spawn failed (fail rate).');
    const start = async () => {
      this.guests.set(instance.uuid, PowerState.RUNNING);
      this.boot(instance);
    };
    if (this.o.waitForVifPlugged && this.virtApi && networkInfo.length) {
      try {
        await this.virtApi.waitForInstanceEvent(
          instance,
          networkInfo.map((v) => ({ name: 'network-vif-plugged', tag: v.port_id })),
          start,
        );
      } catch (e) {
        this.guests.delete(instance.uuid);
        throw e;
      }
      return;
    }
    await start();
  }

  private virtApi?: VirtApi;
  setVirtApi(api: VirtApi) {
    this.virtApi = api;
  }

  async destroy(instance: Instance) {
    await this.delay();
    this.guests.delete(instance.uuid);
    this.load.forget(instance.uuid);
    this.consoles.delete(instance.uuid);
    this.rescued.delete(instance.uuid);
    this.nics.delete(instance.uuid);
    this.disks.delete(instance.uuid);
  }
  async powerOff(instance: Instance) {
    await this.delay();
    this.need(instance);
    this.guests.set(instance.uuid, PowerState.SHUTDOWN);
  }
  async powerOn(instance: Instance) {
    await this.delay();
    this.need(instance);
    this.guests.set(instance.uuid, PowerState.RUNNING);
    this.boot(instance);
  }
  async reboot(instance: Instance, type: 'SOFT' | 'HARD' = 'SOFT') {
    await this.delay();
    await this.transition(type === 'HARD' ? 'hardRebootMs' : 'rebootMs');
    this.need(instance);
    this.guests.set(instance.uuid, PowerState.RUNNING);
    this.boot(instance);
  }
  async pause(instance: Instance) {
    await this.delay();
    this.need(instance);
    this.guests.set(instance.uuid, PowerState.PAUSED);
  }
  async unpause(instance: Instance) {
    await this.delay();
    this.need(instance);
    this.guests.set(instance.uuid, PowerState.RUNNING);
  }
  async suspend(instance: Instance) {
    await this.delay();
    this.need(instance);
    this.guests.set(instance.uuid, PowerState.SUSPENDED);
  }
  async resume(instance: Instance) {
    await this.delay();
    this.need(instance);
    this.guests.set(instance.uuid, PowerState.RUNNING);
  }
  private boot(instance: Instance, root = '/dev/vda') {
    const log = this.consoles.get(instance.uuid) ?? [];
    const t = (s: number) => `[${s.toFixed(6).padStart(12)}]`;
    log.push(
      `${t(0)} Linux version 6.1.0-fake (Stratus fake virt driver)`,
      `${t(0)} Command line: root=${root}1 console=ttyS0`,
      `${t(0.25)} Memory: ${instance.flavor.ram}M, ${instance.flavor.vcpus} vCPU`,
      `${t(1.5)} EXT4-fs (vda1): mounted filesystem`,
      `cloud-init: instance-id ${instance.uuid}`,
      `cloud-init: hostname ${instance.hostname ?? instance.display_name}`,
      `${instance.hostname ?? 'guest'} login: `,
    );
    this.consoles.set(instance.uuid, log.slice(-1000));
  }

  /**
   * Plausible counters: one CPU per vCPU, one NIC per port, one disk, uptime since launch. The
   * driver field is an enum of real drivers (no 'fake'): libvirt, as Nova's own fake driver says.
   */
  diagnostics(instance: Instance): GuestDiagnostics {
    this.need(instance);
    const power = this.guests.get(instance.uuid)!;
    const state =
      (
        {
          [PowerState.RUNNING]: 'running',
          [PowerState.PAUSED]: 'paused',
          [PowerState.SHUTDOWN]: 'shutdown',
          [PowerState.SUSPENDED]: 'suspended',
        } as Record<number, string>
      )[power] ?? 'pending';
    const launched = instance.launched_at ? Date.parse(instance.launched_at) : Date.now();
    const cpuTime = this.load.cpuTimeNs(instance, power === PowerState.RUNNING);
    return {
      state,
      driver: 'libvirt',
      hypervisor: 'fake',
      hypervisor_os: 'linux',
      uptime: Math.max(0, Math.floor((Date.now() - launched) / 1000)),
      config_drive: !!instance.config_drive,
      memory_details: { maximum: instance.flavor.ram * 1024, used: 0 },
      cpu_details: Array.from({ length: instance.flavor.vcpus }, (_, id) => ({
        id,
        time: cpuTime,
        utilisation: this.load.percent(instance),
      })),
      nic_details: instance.network_info.map((v) => ({
        mac_address: v.mac_address,
        rx_octets: 2070139,
        rx_errors: 0,
        rx_drop: 0,
        rx_packets: 26701,
        rx_rate: null,
        tx_octets: 140208,
        tx_errors: 0,
        tx_drop: 0,
        tx_packets: 662,
        tx_rate: null,
      })),
      // Rescued: the rescue disk and the server's own disk.
      disk_details: Array.from({ length: this.rescued.has(instance.uuid) ? 2 : 1 }, () => ({
        read_bytes: 262144,
        read_requests: 112,
        write_bytes: 5778432,
        write_requests: 488,
        errors_count: 0,
      })),
    };
  }

  /** As Nova's fake driver: every protocol at a fake host, port 6969. */
  remoteConsole(instance: Instance, protocol: ConsoleProtocol): ConsoleEndpoint {
    if (!this.guests.has(instance.uuid)) throw new VirtError(`Instance ${instance.uuid} could not be found.`, false);
    return {
      host: `fake${protocol}console.com`,
      port: 6969,
      internal_access_path: protocol === 'vnc' || protocol === 'mks' ? 'FAKE' : null,
    };
  }

  consoleLog(instance: Instance): string {
    this.need(instance);
    if (!this.consoles.has(instance.uuid)) this.boot(instance);
    return this.consoles.get(instance.uuid)!.join('\n');
  }

  // ---- snapshots, rescue, passwords, crash dumps (agent/shelve.ts) ----
  /** Guests booted from a rescue image: the rescue disk's device. */
  private rescued = new Map<string, string>();
  /** A snapshot is a tiny empty qcow2 of the flavor's root disk size (1 GB when it has none). */
  async snapshot(instance: Instance): Promise<GuestImage> {
    await this.delay();
    if (this.o.snapshotMs) await new Promise((r) => setTimeout(r, this.o.snapshotMs));
    this.need(instance);
    return {
      data: tinyQcow2(Math.max(1, instance.flavor.disk || 1) * 1024 ** 3),
      diskFormat: 'qcow2',
      containerFormat: 'bare',
    };
  }
  async rescue(instance: Instance, image: ImageMeta | null, _password: string) {
    await this.delay();
    if (image?.properties?.fake_fail_rescue)
      throw new VirtError('Fake driver: rescue failed (image fake_fail_rescue).', false);
    const device = rescueDevice(image);
    this.rescued.set(instance.uuid, device);
    this.guests.set(instance.uuid, PowerState.RUNNING);
    this.boot(instance, device);
  }
  async unrescue(instance: Instance) {
    await this.delay();
    this.need(instance);
    this.rescued.delete(instance.uuid);
    this.guests.set(instance.uuid, PowerState.RUNNING);
    this.boot(instance);
  }
  isRescued(instance: Instance) {
    return this.rescued.has(instance.uuid);
  }
  async setAdminPassword(instance: Instance, _password: string) {
    await this.delay();
    this.need(instance);
    if (this.guests.get(instance.uuid) !== PowerState.RUNNING)
      throw new VirtError(
        `Failed to set admin password on ${instance.uuid} because instance ${instance.uuid} is not running`,
        false,
      );
  }
  async triggerCrashDump(instance: Instance) {
    await this.delay();
    this.need(instance);
    const log = this.consoles.get(instance.uuid) ?? [];
    log.push('Uhhuh. NMI received for unknown reason 3d on CPU 0.', 'Kernel panic - not syncing: NMI: Not continuing');
    this.consoles.set(instance.uuid, log.slice(-1000));
  }

  /** The ports plugged into each guest (hot-plugged ones and those it was spawned with). */
  private nics = new Map<string, Set<string>>();
  async attachInterface(instance: Instance, vif: Vif) {
    await this.delay();
    this.need(instance);
    if (instance.flavor.extra_specs?.['fake:fail_attach_interface'])
      throw new VirtError('Fake driver: attach interface failed (flavor fake:fail_attach_interface).', false);
    const set = this.nics.get(instance.uuid) ?? new Set(instance.network_info.map((v) => v.port_id));
    set.add(vif.port_id);
    this.nics.set(instance.uuid, set);
  }
  async detachInterface(instance: Instance, vif: Vif) {
    await this.delay();
    this.need(instance);
    this.nics.get(instance.uuid)?.delete(vif.port_id);
  }
  /** The volumes connected to each guest: mountpoint → connection info (attachVolume / detachVolume). */
  private disks = new Map<string, Map<string, VolumeConnectionInfo>>();
  async attachVolume(instance: Instance, connectionInfo: VolumeConnectionInfo, mountpoint: string) {
    await this.delay();
    this.need(instance);
    if (instance.flavor.extra_specs?.['fake:fail_attach_volume'])
      throw new VirtError('Fake driver: attach volume failed (flavor fake:fail_attach_volume).', false);
    const disks = this.disks.get(instance.uuid) ?? new Map<string, VolumeConnectionInfo>();
    if (disks.has(mountpoint)) throw new VirtError(`Fake driver: ${mountpoint} is already in use.`, false);
    disks.set(mountpoint, connectionInfo);
    this.disks.set(instance.uuid, disks);
  }
  async detachVolume(instance: Instance, _connectionInfo: VolumeConnectionInfo, mountpoint: string) {
    await this.delay();
    this.disks.get(instance.uuid)?.delete(mountpoint);
  }
  /** The volumes a guest has, by mountpoint, with the connection info they were attached with (tests). */
  volumes(uuid: string): Map<string, VolumeConnectionInfo> {
    return new Map(this.disks.get(uuid) ?? []);
  }
  /** The ports the guest has (tests). */
  interfaces(uuid: string): string[] {
    return [...(this.nics.get(uuid) ?? [])];
  }
  /** Changes a guest's power state behind the agent's back, as a guest shutting itself down does (tests, power-state sync). */
  setPowerState(uuid: string, state: number) {
    if (this.guests.has(uuid)) this.guests.set(uuid, state);
  }

  // ---- moves: a guest leaves one fake host's map and enters another's ----
  /** Fails a move when the flavor has the extra spec `fake:fail_migrate`. */
  private failMove(instance: Instance) {
    if (instance.flavor.extra_specs?.['fake:fail_migrate'])
      throw new VirtError('Fake driver: migration failed (flavor fake:fail_migrate).', false);
  }
  async migrateDiskAndPowerOff(instance: Instance) {
    await this.delay();
    this.failMove(instance);
    await this.transition('resizeMs');
    this.guests.set(instance.uuid, PowerState.SHUTDOWN);
  }
  async finishMigration(instance: Instance, powerOn: boolean) {
    await this.delay();
    this.guests.set(instance.uuid, powerOn ? PowerState.RUNNING : PowerState.SHUTDOWN);
    if (powerOn) this.boot(instance);
  }
  async confirmMigration(instance: Instance) {
    await this.delay();
    this.guests.delete(instance.uuid);
    this.consoles.delete(instance.uuid);
  }
  async finishRevertMigration(instance: Instance, powerOn: boolean) {
    await this.delay();
    await this.transition('revertResizeMs');
    this.guests.set(instance.uuid, powerOn ? PowerState.RUNNING : PowerState.SHUTDOWN);
    if (powerOn) this.boot(instance);
  }
  async preLiveMigration(instance: Instance) {
    await this.delay();
    this.failMove(instance);
  }
  async postLiveMigrationAtDestination(instance: Instance, powerState: number) {
    this.guests.set(instance.uuid, powerState);
    this.boot(instance);
  }

  /**
   * A live migration that copies the guest's memory for `liveMigrationMs` (progress grows
   * linearly), unless forced to complete or aborted; the guest leaves this host on completion.
   */
  liveMigration(instance: Instance, _dest: string, blockMigration: boolean): LiveMigrationJob {
    const total = instance.flavor.ram * 1024 * 1024;
    const diskTotal = blockMigration ? (instance.flavor.disk + instance.flavor.ephemeral) * 1024 ** 3 : 0;
    const ms = this.o.liveMigrationMs ?? 0;
    const started = Date.now();
    let finish!: (r: 'completed' | 'cancelled') => void;
    let fail!: (e: Error) => void;
    let settled = false;
    const done = new Promise<'completed' | 'cancelled'>((res, rej) => {
      finish = res;
      fail = rej;
    });
    const end = (r: 'completed' | 'cancelled' | Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (r instanceof Error) {
        fail(r);
        return;
      }
      if (r === 'completed') {
        this.guests.delete(instance.uuid);
        this.consoles.delete(instance.uuid);
      }
      finish(r);
    };
    const timer = setTimeout(() => {
      try {
        this.need(instance);
        this.failMove(instance);
        end('completed');
      } catch (e) {
        end(e as Error);
      }
    }, ms);
    const fraction = () => (settled ? 1 : ms ? Math.min(1, (Date.now() - started) / ms) : 1);
    return {
      done,
      progress: () => {
        const f = fraction();
        return {
          memory_total: total,
          memory_processed: Math.floor(total * f),
          memory_remaining: total - Math.floor(total * f),
          disk_total: diskTotal,
          disk_processed: Math.floor(diskTotal * f),
          disk_remaining: diskTotal - Math.floor(diskTotal * f),
        };
      },
      forceComplete: () => {
        try {
          this.need(instance);
          end('completed');
        } catch (e) {
          end(e as Error);
        }
      },
      abort: () => end('cancelled'),
    };
  }

  recover(instances: Instance[]) {
    for (const i of instances) if (i.power_state !== PowerState.NOSTATE) this.guests.set(i.uuid, i.power_state);
  }
  powerState(instance: Instance) {
    return this.guests.get(instance.uuid) ?? PowerState.NOSTATE;
  }
}

/**
 * Where the rescue disk goes, as libvirt's blockinfo: the legacy rescue boots it as the first disk
 * (vda, the server's disk moved to vdb); a stable device rescue (the image has hw_rescue_bus or
 * hw_rescue_device) keeps the server's disks where they are and adds the rescue disk after them
 * on the given bus (virtio by default: vdb; scsi, usb, sata: sda; ide: hda).
 */
export function rescueDevice(image: ImageMeta | null): string {
  const p = image?.properties ?? {};
  if (p.hw_rescue_bus === undefined && p.hw_rescue_device === undefined) return '/dev/vda';
  const bus = String(p.hw_rescue_bus ?? 'virtio');
  return bus === 'ide' ? '/dev/hda' : bus === 'virtio' ? '/dev/vdb' : '/dev/sda';
}
