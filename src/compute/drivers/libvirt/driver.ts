// The libvirt virt driver (Nova's nova.virt.libvirt.LibvirtDriver, reduced): guests are libvirt
// domains of the host's own libvirtd (daemon.ts, inside the host namespace), each with its
// directory `instances/<uuid>/` (libvirt.xml, disk as a qcow2 overlay on the `_base` image
// cache, disk.eph0, disk.swap, disk.config, kernel/ramdisk, console.log). Lifecycle calls go
// through virsh; every guest's state and counters come from one `virsh domstats` per refresh
// (after each action and every statsInterval seconds), so the agent's synchronous questions
// (power state, diagnostics, console log) are answered from memory and files.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ComputeOptions } from '../../config.ts';
import { PowerState, type Instance, type Vif } from '../../instances.ts';
import {
  VirtError,
  type BuildVolume,
  type ConsoleEndpoint,
  type ConsoleProtocol,
  type GuestDiagnostics,
  type GuestImage,
  type HostCapacity,
  type ImageMeta,
  type LiveMigrationJob,
  type VirtApi,
  type VirtDriver,
} from '../virt.ts';
import { Libvirtd, missingLibvirtPackages } from './daemon.ts';
import { hasSharedDisks, localDisksToMigrate, noProgress, startLiveMigration } from './migrate.ts';
import { type DomainEvent, LifecycleEventStream } from './events.ts';
import { hostInstancesPath, type LibvirtOptions } from './options.ts';
import { type ProbeLinux, probeVirtType } from './probe.ts';
import { GUEST_MARKERS } from '../../guest/init.ts';
import {
  type DomainDisk,
  consoleSocketDir,
  consoleSockets,
  diskTarget,
  domainXml,
  esc,
  interfaceXml,
  removeConsoleSocketDir,
} from './xml.ts';
import { buildConfigDrive } from '../../metadata/configdrive.ts';

const run = promisify(execFile);
const VERSION = '26.0.0';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** libvirt's virDomainState → Nova's power state (nova.virt.libvirt.guest LIBVIRT_POWER_STATE). */
const LIBVIRT_POWER: Record<number, number> = {
  0: PowerState.NOSTATE,
  1: PowerState.RUNNING,
  2: PowerState.RUNNING,
  3: PowerState.PAUSED,
  4: PowerState.SHUTDOWN,
  5: PowerState.SHUTDOWN,
  6: PowerState.CRASHED,
  7: PowerState.SUSPENDED,
};

/** The tap of a port (os-vif's linux bridge naming) and the bridge of a network (the L2 agent's). */
export const tapName = (portId: string) => `tap${portId.slice(0, 11)}`;
export const bridgeName = (networkId: string) => `brq${networkId.slice(0, 11)}`;
/** The domain name Nova shows as OS-EXT-SRV-ATTR:instance_name. */
export const domainName = (uuid: string) => `instance-${uuid.slice(0, 8)}`;

interface DomStats {
  state: number;
  fields: Record<string, string>;
}

export interface LibvirtDriverOptions {
  host: string;
  /** The process's own host (compute.host); other hosts of the process get their own instances path. */
  primaryHost?: string;
  libvirt: LibvirtOptions;
  /** The allocation the host may give guests (the compute options' vcpus/memory are a ceiling for tests). */
  log?: (msg: string, extra?: Record<string, unknown>) => void;
}

export class LibvirtDriver implements VirtDriver {
  readonly type = 'libvirt';
  readonly daemon: Libvirtd;
  private readonly o: LibvirtOptions;
  /** The options as configured (the other hosts' instances paths) and the process's own host. */
  private readonly allOptions: LibvirtOptions;
  private readonly primary: string;
  /** virtType auto: what the KVM probe answered (probe.ts). */
  private probed?: 'kvm' | 'qemu';
  private readonly host: string;
  private readonly log: (msg: string, extra?: Record<string, unknown>) => void;
  /** Every domain of this host's libvirtd, by instance uuid, from the last refresh. */
  private stats = new Map<string, DomStats>();
  private virtApi?: VirtApi;
  private readyP?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private closed = false;
  private refreshSeq = 0;
  private appliedSeq = 0;
  /** libvirt's lifecycle events of this host (one `virsh event --loop`). */
  events?: LifecycleEventStream;

  constructor(o: LibvirtDriverOptions) {
    this.primary = o.primaryHost ?? o.host;
    this.allOptions = o.libvirt;
    this.o = { ...o.libvirt, instancesPath: hostInstancesPath(o.libvirt, this.primary, o.host) };
    this.host = o.host;
    this.log = o.log ?? (() => undefined);
    this.daemon = new Libvirtd({
      host: o.host,
      stateDir: path.join(this.o.stateDir, o.host),
      log: (m) => this.log(m),
    });
  }

  /** libvirtd answers (started when it was not running) and the first refresh is done. */
  ready(): Promise<void> {
    this.readyP ??= (async () => {
      fs.mkdirSync(path.join(this.o.instancesPath, '_base'), { recursive: true });
      await this.daemon.ensure();
      if (this.o.virtType === 'auto')
        this.probed = await probeVirtType(this.daemon, {
          timeoutMs: this.o.probeTimeout * 1000,
          log: (m) => this.log(m),
          linux: this.probeLinux(),
        });
      await this.refresh();
      if (!this.closed) {
        this.events = new LifecycleEventStream({
          uri: this.daemon.uri,
          onEvent: (e) => this.onDomainEvent(e),
          log: (m) => this.log(m),
        });
        this.events.start();
      }
      if (this.o.statsInterval > 0 && !this.closed) {
        this.timer = setInterval(() => void this.refresh().catch(() => undefined), this.o.statsInterval * 1000);
        this.timer.unref();
      }
    })();
    return this.readyP;
  }

  /** Stops the periodic refresh and the daemons this process started (guests keep running). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.events?.stop();
    await this.daemon.stop();
  }

  /** At agent start: libvirtd is started (when not running) and its guests read, before any question. */
  recover(_instances: Instance[]) {
    void this.ready().catch((e) => this.log(`libvirt not ready: ${(e as Error).message}`));
  }

  /** kvm or qemu (TCG): as configured, or as the KVM probe found (TCG until it answered). */
  get virtType(): 'qemu' | 'kvm' {
    if (this.o.virtType === 'auto') return this.probed ?? 'qemu';
    return this.o.virtType;
  }

  /** The test guest's kernel and initramfs (when built) for the KVM probe. */
  private probeLinux(): ProbeLinux | null {
    const kernel = path.join(this.o.guestDir, 'vmlinuz');
    const ramdisk = path.join(this.o.guestDir, 'initrd.img');
    return fs.existsSync(kernel) && fs.existsSync(ramdisk) ? { kernel, ramdisk, marker: GUEST_MARKERS.boot } : null;
  }

  /** The instances path of another host on this machine (a move's destination). */
  instancesPathOf(host: string): string {
    return hostInstancesPath(this.allOptions, this.primary, host);
  }

  setVirtApi(api: VirtApi) {
    this.virtApi = api;
  }

  // ---- state ----

  /** One `virsh domstats` for every domain: states and counters. */
  async refresh(): Promise<void> {
    // Refreshes overlap (periodic, after actions, on events): an older one never overwrites a newer one.
    const seq = ++this.refreshSeq;
    const out = await this.daemon.virsh(['domstats', '--raw']);
    const uuids = (await this.daemon.virsh(['list', '--all', '--uuid'])).split('\n').map((l) => l.trim());
    const byName = new Map(uuids.filter(Boolean).map((u) => [domainName(u), u]));
    const next = new Map<string, DomStats>();
    let cur: DomStats | undefined;
    for (const line of out.split('\n')) {
      const d = /^Domain: '(.*)'/.exec(line);
      if (d) {
        cur = { state: 0, fields: {} };
        const u = byName.get(d[1]!);
        if (u) next.set(u, cur);
        continue;
      }
      const kv = /^\s+([\w.]+)=(.*)$/.exec(line);
      if (kv && cur) {
        cur.fields[kv[1]!] = kv[2]!;
        if (kv[1] === 'state.state') cur.state = Number(kv[2]);
      }
    }
    if (seq < this.appliedSeq) return;
    this.appliedSeq = seq;
    this.stats = next;
    for (const [n, u] of byName) this.names.set(n, u);
  }

  /**
   * A lifecycle event of a domain (Nova's handle_lifecycle_event): the states are read again at
   * once (one refresh for a burst of events) and the agent is told, which syncs the server's power
   * state. Events of domains that are not guests of ours are ignored.
   */
  private onDomainEvent(e: DomainEvent) {
    if (e.kind !== 'lifecycle' || !e.transition) return;
    this.log(`lifecycle event: ${e.domain} ${e.transition} ${e.detail}`.trim());
    const transition = e.transition;
    void this.refreshSoon().then(() => {
      const uuid = [...this.stats.keys()].find((u) => domainName(u) === e.domain) ?? this.names.get(e.domain);
      if (uuid) this.virtApi?.lifecycleEvent?.(uuid, transition);
    });
  }
  /** Domain name → uuid of the domains seen (an undefined domain is gone from the stats). */
  private names = new Map<string, string>();
  private refreshing?: Promise<void>;
  private refreshAgain = false;
  /** A refresh now, or right after the one running (bursts of events share them). */
  private refreshSoon(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.refreshAgain = false;
        await this.refreshQuietly();
      } while (this.refreshAgain && !this.closed);
    })().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async refreshQuietly() {
    await this.refresh().catch((e) => this.log(`refresh failed: ${(e as Error).message}`));
  }

  listInstances() {
    const m = new Map<string, number>();
    for (const [u, s] of this.stats) m.set(u, this.powerOf(u, s));
    return m;
  }

  private powerOf(uuid: string, s: DomStats): number {
    // A managed-saved (suspended) guest is shut off with its memory on disk.
    if (s.state === 5 && fs.existsSync(this.daemon.managedSavePath(domainName(uuid)))) return PowerState.SUSPENDED;
    return LIBVIRT_POWER[s.state] ?? PowerState.NOSTATE;
  }

  powerState(instance: Instance) {
    const s = this.stats.get(instance.uuid);
    return s ? this.powerOf(instance.uuid, s) : PowerState.NOSTATE;
  }

  capacity(): HostCapacity {
    let localGb = 0;
    try {
      fs.mkdirSync(this.o.instancesPath, { recursive: true });
      const st = fs.statfsSync(this.o.instancesPath);
      localGb = Math.floor((st.blocks * st.bsize) / 1024 ** 3);
    } catch {
      localGb = 0;
    }
    const cpus = os.cpus();
    return {
      vcpus: cpus.length,
      memory_mb: Math.floor(os.totalmem() / 1024 ** 2),
      local_gb: localGb,
      hypervisor_type: 'QEMU',
      hypervisor_version: 7002000,
      hypervisor_hostname: this.host,
      cpu_info: {
        arch: 'x86_64',
        model: cpus[0]?.model ?? 'qemu64',
        vendor: /AMD/i.test(cpus[0]?.model ?? '') ? 'AMD' : 'Intel',
        topology: { sockets: 1, cores: cpus.length, threads: 1 },
        features: [],
      },
    };
  }

  // ---- files ----

  dir(instance: Instance) {
    return path.join(this.o.instancesPath, instance.uuid);
  }

  /** An image's data in the `_base` cache (downloaded once; concurrent spawns share the download). */
  private downloads = new Map<string, Promise<string>>();
  private async cachedImage(imageId: string): Promise<string> {
    const file = path.join(this.o.instancesPath, '_base', createHash('sha1').update(imageId).digest('hex'));
    if (fs.existsSync(file)) return file;
    let p = this.downloads.get(imageId);
    if (!p) {
      p = (async () => {
        if (!this.virtApi?.downloadImage) throw new VirtError('The compute agent offers no image download.', false);
        const part = `${file}.part-${process.pid}`;
        try {
          await this.virtApi.downloadImage(imageId, part);
          fs.renameSync(part, file);
        } finally {
          fs.rmSync(part, { force: true });
        }
        return file;
      })().finally(() => this.downloads.delete(imageId));
      this.downloads.set(imageId, p);
    }
    return p;
  }

  private async imageInfo(file: string): Promise<{ format: string; virtualSize: number }> {
    const out = (await run('qemu-img', ['info', '-U', '--output=json', file])).stdout;
    const j = JSON.parse(out) as { format: string; 'virtual-size': number };
    return { format: j.format, virtualSize: j['virtual-size'] };
  }

  private async qemuImg(args: string[]) {
    try {
      await run('qemu-img', args, { maxBuffer: 1 << 24 });
    } catch (e) {
      const err = e as Error & { stderr?: string };
      throw new VirtError(`qemu-img ${args[0]}: ${(err.stderr ?? err.message).trim()}`, false);
    }
  }

  /** The root disk, ephemeral, swap, kernel/ramdisk and config drive of a guest in its directory. */
  private async prepareDisks(
    instance: Instance,
    image: ImageMeta | null,
    rescue?: ImageMeta | null,
    rootVolume = false,
  ) {
    const dir = this.dir(instance);
    fs.mkdirSync(dir, { recursive: true });
    const disk = path.join(dir, 'disk');
    if (!rootVolume && !fs.existsSync(disk)) {
      if (!image) throw new VirtError('The libvirt driver boots from images only (no root volume support).', false);
      const base = await this.cachedImage(image.id);
      const info = await this.imageInfo(base);
      if (info.format !== 'qcow2' && info.format !== 'raw')
        throw new VirtError(`Image ${image.id} is ${info.format}: only qcow2 and raw boot.`, false);
      const want = instance.flavor.disk * 1024 ** 3;
      const args = ['create', '-q', '-f', 'qcow2', '-F', info.format, '-b', base, disk];
      if (want > info.virtualSize) args.push(String(want));
      await this.qemuImg(args);
    }
    const eph = path.join(dir, 'disk.eph0');
    if (instance.flavor.ephemeral > 0 && !fs.existsSync(eph))
      await this.qemuImg(['create', '-q', '-f', 'qcow2', eph, `${instance.flavor.ephemeral}G`]);
    const swap = path.join(dir, 'disk.swap');
    if (instance.flavor.swap > 0 && !fs.existsSync(swap))
      await this.qemuImg(['create', '-q', '-f', 'qcow2', swap, `${instance.flavor.swap}M`]);
    // A kernel and ramdisk named by the image (an AMI with its AKI and ARI, as CirrOS's uec images).
    const boot = rescue ?? image;
    for (const [prop, name] of [
      ['kernel_id', rescue ? 'kernel.rescue' : 'kernel'],
      ['ramdisk_id', rescue ? 'ramdisk.rescue' : 'ramdisk'],
    ] as const) {
      const id = boot?.properties?.[prop];
      const to = path.join(dir, name);
      if (typeof id === 'string' && id && !fs.existsSync(to)) fs.copyFileSync(await this.cachedImage(id), to);
    }
    if (this.wantsConfigDrive(instance) && !fs.existsSync(path.join(dir, 'disk.config')))
      await buildConfigDrive(instance, path.join(dir, 'disk.config'));
  }

  private wantsConfigDrive(instance: Instance) {
    const c = String(instance.config_drive ?? '').toLowerCase();
    return c !== '' && c !== 'false' && c !== '0';
  }

  /** The domain of a guest from its flavor, image and ports; written as `libvirt.xml`. */
  private writeXml(
    instance: Instance,
    image: ImageMeta | null,
    vifs: Vif[],
    rescue?: ImageMeta | null,
    rootVolume = false,
  ): string {
    const dir = this.dir(instance);
    const p = image?.properties ?? {};
    const prop = (k: string, d: string) => (typeof p[k] === 'string' && p[k] ? (p[k] as string) : d);
    const diskBus = prop('hw_disk_bus', 'virtio');
    const cdromBus = prop('hw_cdrom_bus', 'ide');
    const disks: DomainDisk[] = [];
    let n = 0;
    if (rescue) {
      const rdisk = path.join(dir, 'disk.rescue');
      disks.push({ path: rdisk, format: 'qcow2', device: 'disk', bus: diskBus, target: diskTarget(diskBus, n++) });
    }
    // A root volume takes vda itself (attached before the start); the local disk otherwise.
    const local = (file: string) =>
      disks.push({
        path: path.join(dir, file),
        format: 'qcow2',
        device: 'disk',
        bus: diskBus,
        target: diskTarget(diskBus, n++),
      });
    if (rootVolume) n++;
    else local('disk');
    // The flavor's ephemeral and swap disks, where the spawn made them.
    for (const file of ['disk.eph0', 'disk.swap']) if (fs.existsSync(path.join(dir, file))) local(file);
    if (fs.existsSync(path.join(dir, 'disk.config')))
      disks.push({
        path: path.join(dir, 'disk.config'),
        format: 'raw',
        device: 'cdrom',
        bus: cdromBus,
        target: diskTarget(cdromBus, cdromBus === diskBus ? n++ : 0),
        readonly: true,
      });
    const kernel = path.join(dir, rescue ? 'kernel.rescue' : 'kernel');
    const ramdisk = path.join(dir, rescue ? 'ramdisk.rescue' : 'ramdisk');
    const hasKernel = fs.existsSync(kernel);
    const bootImage = rescue ?? image;
    const cmdline =
      typeof bootImage?.properties?.os_command_line === 'string'
        ? (bootImage.properties.os_command_line as string)
        : // no_timer_check: TCG on a busy host fails the kernel's IO-APIC timer check (a panic).
          `root=/dev/${disks[0]?.target ?? diskTarget(diskBus, 0)} console=tty0 console=ttyS0 no_timer_check`;
    const xml = domainXml({
      uuid: instance.uuid,
      name: domainName(instance.uuid),
      nova: {
        displayName: instance.display_name,
        flavor: instance.flavor.name,
        projectId: instance.project_id,
        userId: instance.user_id,
        imageId: instance.image_ref,
        created: new Date().toISOString().replace('T', ' ').slice(0, 19),
      },
      memoryMb: instance.flavor.ram,
      vcpus: instance.flavor.vcpus,
      virtType: this.virtType,
      machine: prop('hw_machine_type', 'pc'),
      osType: prop('os_type', 'linux'),
      kernel: hasKernel ? kernel : undefined,
      ramdisk: hasKernel && fs.existsSync(ramdisk) ? ramdisk : undefined,
      cmdline: hasKernel ? cmdline : undefined,
      disks,
      interfaces: vifs.map((v) => ({
        mac: v.mac_address,
        tap: tapName(v.port_id),
        model: prop('hw_vif_model', 'virtio'),
      })),
      consoleLog: path.join(dir, 'console.log'),
      vncListen: this.o.vncListen,
      vnc: this.o.vnc,
      spice: this.o.spice,
      videoModel: prop('hw_video_model', 'virtio'),
      rngModel: p.hw_rng_model === 'virtio' ? 'virtio' : undefined,
      guestAgent: p.hw_qemu_guest_agent === true || /^(1|t|true|on|y|yes)$/i.test(String(p.hw_qemu_guest_agent ?? '')),
      version: VERSION,
    });
    const file = path.join(dir, 'libvirt.xml');
    fs.writeFileSync(file, xml);
    return file;
  }

  // ---- ports: taps on the network's bridge, inside the host namespace (os-vif's linux_bridge) ----

  private async ipn(args: string[]) {
    return run('ip', ['-n', this.daemon.namespace, ...args]);
  }
  private async linkExists(name: string) {
    return this.ipn(['link', 'show', name]).then(
      () => true,
      () => false,
    );
  }
  async plugVif(vif: Vif) {
    const tap = tapName(vif.port_id);
    const br = bridgeName(vif.network_id);
    if (!(await this.linkExists(br))) {
      await this.ipn(['link', 'add', br, 'type', 'bridge']).catch(() => undefined);
      await this.ipn(['link', 'set', br, 'up']);
    }
    if (!(await this.linkExists(tap))) await this.ipn(['tuntap', 'add', 'dev', tap, 'mode', 'tap']);
    const mtu =
      (await this.ipn(['-j', 'link', 'show', br]).then(
        (r) => (JSON.parse(r.stdout) as Array<{ mtu: number }>)[0]?.mtu,
      )) ?? 1500;
    await this.ipn(['link', 'set', tap, 'mtu', String(mtu), 'master', br, 'up']);
  }
  async unplugVif(vif: Vif) {
    await this.ipn(['link', 'del', tapName(vif.port_id)]).catch(() => undefined);
  }

  // ---- lifecycle ----

  /** Defines the domain (from libvirt.xml) and starts it, paused while the network wires the ports. */
  private async startDomain(instance: Instance, vifs: Vif[], opts: { waitForVifs: boolean; volumes?: BuildVolume[] }) {
    const xmlFile = path.join(this.dir(instance), 'libvirt.xml');
    for (const v of vifs) await this.plugVif(v);
    await this.daemon.virsh(['define', xmlFile]);
    // The build's volumes in the definition before the first start (the root volume boots).
    for (const v of opts.volumes ?? []) await this.attachVolume(instance, v.connectionInfo, v.mountpoint);
    const start = async () => {
      await this.daemon.virsh(['start', instance.uuid, '--paused']);
    };
    if (opts.waitForVifs && this.virtApi && vifs.length)
      await this.virtApi.waitForInstanceEvent(
        instance,
        vifs.map((v) => ({ name: 'network-vif-plugged', tag: v.port_id })),
        start,
      );
    else await start();
    await this.daemon.virsh(['resume', instance.uuid]);
  }

  /** Waits until the console log shows the image's boot marker (property stratus_boot_marker). */
  private async waitForMarker(instance: Instance, image: ImageMeta | null, since = 0) {
    const marker = image?.properties?.stratus_boot_marker;
    if (typeof marker !== 'string' || !marker) return;
    const log = path.join(this.dir(instance), 'console.log');
    const until = Date.now() + this.o.bootTimeout * 1000;
    while (Date.now() < until) {
      try {
        const text = fs.readFileSync(log, 'utf8');
        if (text.indexOf(marker, since) >= 0) return;
      } catch {
        /* not there yet */
      }
      await this.refreshQuietly();
      const s = this.stats.get(instance.uuid);
      if (!s || s.state === 5 || s.state === 6)
        throw new VirtError(`Instance ${instance.uuid} stopped before its boot marker '${marker}'.`, false);
      await sleep(500);
    }
    throw new VirtError(
      `Instance ${instance.uuid} did not reach its boot marker '${marker}' within ${this.o.bootTimeout} s (${this.virtType}).`,
      false,
    );
  }

  /** The build's volumes go into the domain before it starts (a root volume at vda boots). */
  readonly spawnsWithVolumes = true;

  async spawn(instance: Instance, image: ImageMeta | null, networkInfo: Vif[], volumes: BuildVolume[] = []) {
    await this.ready();
    const rootVolume = volumes.some((v) => isRootDevice(v.mountpoint));
    await this.prepareDisks(instance, image, null, rootVolume);
    this.writeXml(instance, image, networkInfo, null, rootVolume);
    await this.startDomain(instance, networkInfo, { waitForVifs: true, volumes });
    await this.refreshQuietly();
    await this.waitForMarker(instance, image);
    this.log('guest spawned', { instance: instance.uuid });
  }

  private async exists(instance: Instance): Promise<boolean> {
    return this.daemon.virsh(['domstate', instance.uuid]).then(
      () => true,
      () => false,
    );
  }
  private async need(instance: Instance) {
    await this.ready();
    if (!(await this.exists(instance))) throw new VirtError(`Instance ${instance.uuid} could not be found.`, false);
  }
  private async state(instance: Instance): Promise<string> {
    return (await this.daemon.virsh(['domstate', instance.uuid])).trim();
  }

  /** Stops the qemu process now (virsh destroy), quietly when it does not run. */
  private async hardStop(instance: Instance) {
    await this.daemon.virsh(['destroy', instance.uuid]).catch(() => undefined);
  }

  /** ACPI power button, then destroy after shutdownTimeout (Nova's _clean_shutdown). */
  private async cleanShutdown(instance: Instance, timeoutS = this.o.shutdownTimeout) {
    if ((await this.state(instance)) !== 'running') {
      await this.hardStop(instance);
      return;
    }
    await this.daemon.virsh(['shutdown', instance.uuid, '--mode', 'acpi']).catch(() => undefined);
    const until = Date.now() + timeoutS * 1000;
    while (Date.now() < until) {
      if ((await this.state(instance).catch(() => 'shut off')) === 'shut off') return;
      await sleep(250);
    }
    this.log('clean shutdown timed out: destroying', { instance: instance.uuid });
    await this.hardStop(instance);
  }

  async destroy(instance: Instance) {
    await this.ready();
    if (await this.exists(instance)) {
      await this.hardStop(instance);
      await this.daemon.virsh(['undefine', instance.uuid, '--managed-save']).catch(() => undefined);
    }
    // The revert of a resize on this same host destroys the resized guest, not its disks:
    // the source side brings the old domain back on them (Nova's destroy_disks=False).
    const reverting =
      instance.task_state === 'resize_reverting' && fs.existsSync(path.join(this.dir(instance), 'libvirt.xml.resize'));
    if (reverting) {
      await this.refreshQuietly();
      return;
    }
    for (const v of instance.network_info ?? []) await this.unplugVif(v);
    fs.rmSync(this.dir(instance), { recursive: true, force: true });
    fs.rmSync(this.resizeDir(instance), { recursive: true, force: true });
    removeConsoleSocketDir(this.dir(instance));
    await this.refreshQuietly();
  }

  async powerOff(instance: Instance) {
    await this.need(instance);
    await this.cleanShutdown(instance);
    await this.refreshQuietly();
  }

  async powerOn(instance: Instance) {
    await this.need(instance);
    if ((await this.state(instance)) !== 'running') {
      for (const v of instance.network_info ?? []) await this.plugVif(v);
      await this.daemon.virsh(['start', instance.uuid]);
    }
    await this.refreshQuietly();
  }

  /** SOFT: a clean shutdown then a start (hard when the guest does not go down); HARD: destroy and start from a fresh libvirt.xml. */
  async reboot(instance: Instance, type: 'SOFT' | 'HARD') {
    await this.need(instance);
    if (type === 'SOFT' && (await this.state(instance)) === 'running') {
      await this.cleanShutdown(instance, Math.min(this.o.shutdownTimeout, 120));
    } else {
      await this.hardStop(instance);
      await this.daemon.virsh(['managedsave-remove', instance.uuid]).catch(() => undefined);
    }
    for (const v of instance.network_info ?? []) await this.plugVif(v);
    await this.daemon.virsh(['start', instance.uuid]);
    await this.refreshQuietly();
  }

  async pause(instance: Instance) {
    await this.need(instance);
    await this.daemon.virsh(['suspend', instance.uuid]);
    await this.refreshQuietly();
  }
  async unpause(instance: Instance) {
    await this.need(instance);
    await this.daemon.virsh(['resume', instance.uuid]);
    await this.refreshQuietly();
  }
  /** Managed save: the guest's memory to disk, the qemu process gone (Nova's suspend). */
  async suspend(instance: Instance) {
    await this.need(instance);
    await this.daemon.virsh(['managedsave', instance.uuid]);
    await this.refreshQuietly();
  }
  async resume(instance: Instance) {
    await this.need(instance);
    for (const v of instance.network_info ?? []) await this.plugVif(v);
    await this.daemon.virsh(['start', instance.uuid]);
    await this.refreshQuietly();
  }

  // ---- console, diagnostics ----

  consoleLog(instance: Instance): string {
    const file = path.join(this.dir(instance), 'console.log');
    if (!this.stats.has(instance.uuid) && !fs.existsSync(file))
      throw new VirtError(`Instance ${instance.uuid} could not be found.`, false);
    try {
      return fs.readFileSync(file, 'utf8');
    } catch {
      return '';
    }
  }

  diagnostics(instance: Instance): GuestDiagnostics {
    const s = this.stats.get(instance.uuid);
    if (!s) throw new VirtError(`Instance ${instance.uuid} could not be found.`, false);
    const f = s.fields;
    const num = (k: string) => (f[k] === undefined ? null : Number(f[k]));
    const states: Record<number, string> = {
      1: 'running',
      2: 'blocked',
      3: 'paused',
      4: 'shutdown',
      5: 'shutdown',
      6: 'crashed',
      7: 'suspended',
    };
    const vcpus = Number(f['vcpu.current'] ?? instance.flavor.vcpus);
    const nets = Number(f['net.count'] ?? 0);
    const blocks = Number(f['block.count'] ?? 0);
    const launched = instance.launched_at ? Date.parse(instance.launched_at) : Date.now();
    return {
      state: states[s.state] ?? 'pending',
      driver: 'libvirt',
      hypervisor: this.virtType,
      hypervisor_os: 'linux',
      uptime: Math.max(0, Math.floor((Date.now() - launched) / 1000)),
      config_drive: this.wantsConfigDrive(instance),
      memory_details: { maximum: num('balloon.maximum'), used: num('balloon.rss') },
      cpu_details: Array.from({ length: vcpus }, (_, i) => ({ id: i, time: num(`vcpu.${i}.time`), utilisation: null })),
      nic_details: Array.from({ length: nets }, (_, i) => ({
        mac_address: instance.network_info.find((v) => tapName(v.port_id) === f[`net.${i}.name`])?.mac_address ?? null,
        rx_octets: num(`net.${i}.rx.bytes`),
        rx_errors: num(`net.${i}.rx.errs`),
        rx_drop: num(`net.${i}.rx.drop`),
        rx_packets: num(`net.${i}.rx.pkts`),
        rx_rate: null,
        tx_octets: num(`net.${i}.tx.bytes`),
        tx_errors: num(`net.${i}.tx.errs`),
        tx_drop: num(`net.${i}.tx.drop`),
        tx_packets: num(`net.${i}.tx.pkts`),
        tx_rate: null,
      })),
      disk_details: Array.from({ length: blocks }, (_, i) => ({
        read_bytes: num(`block.${i}.rd.bytes`),
        read_requests: num(`block.${i}.rd.reqs`),
        write_bytes: num(`block.${i}.wr.bytes`),
        write_requests: num(`block.${i}.wr.reqs`),
        errors_count: num(`block.${i}.errors`) ?? 0,
      })),
    };
  }

  /**
   * The guest's VNC server or serial console (Nova's get_vnc_console, get_serial_console): unix
   * sockets in the instance directory (xml.ts consoleSockets), given to the proxies as the
   * token's internal_access_path; host is this compute host, port 0. Only a running or paused
   * guest has them.
   */
  async remoteConsole(instance: Instance, protocol: ConsoleProtocol): Promise<ConsoleEndpoint> {
    const st = this.stats.get(instance.uuid);
    if (!st) throw new VirtError(`Instance ${instance.uuid} could not be found.`, false);
    // RDP is Hyper-V's (Nova's libvirt driver has none either), MKS VMware's.
    const on = protocol === 'serial' || (protocol === 'vnc' && this.o.vnc) || (protocol === 'spice' && this.o.spice);
    if (!on) throw new VirtError(`The libvirt driver has no ${protocol} console.`, false);
    if (st.state !== 1 && st.state !== 3)
      throw new VirtError(`Instance ${instance.uuid} has no ${protocol} console (is it running?).`, false);
    if (protocol === 'vnc' && this.o.vncListen) {
      // A TCP port libvirt chose (autoport): the live domain's display (vnc://addr:N, port 5900+N).
      const d = (await this.daemon.virsh(['domdisplay', '--type', 'vnc', instance.uuid])).trim();
      const m = /:(\d+)\s*$/.exec(d);
      if (!m) throw new VirtError(`Instance ${instance.uuid} has no VNC display (${d || 'none'}).`, false);
      return { host: this.o.vncListen, port: 5900 + Number(m[1]), internal_access_path: null };
    }
    const socket = consoleSockets(this.dir(instance))[
      protocol === 'spice' ? 'spice' : protocol === 'vnc' ? 'vnc' : 'serial'
    ];
    return { host: this.host, port: 0, internal_access_path: socket };
  }

  /**
   * Nova's set_admin_password: through the QEMU guest agent (`virsh set-user-password`), for the
   * image's os_admin_user, else root (Administrator on Windows). As Nova's, both refusals are a
   * 409 at the API: an image without hw_qemu_guest_agent (QemuGuestAgentNotEnabled: the domain
   * has no agent channel) and an agent that fails or does not answer
   * (InstancePasswordSetFailed, whose text hides libvirt's, the log keeps it).
   */
  async setAdminPassword(instance: Instance, password: string) {
    await this.need(instance);
    const sm = instance.system_metadata ?? {};
    // The domain has the agent's channel exactly when the image asked for it (writeXml).
    let xml = await this.daemon.virsh(['dumpxml', instance.uuid]);
    if (!xml.includes('org.qemu.guest_agent.0')) throw new VirtError('QEMU guest agent is not enabled', false);
    // A guest that is still booting has not opened the agent's port yet: wait a little for it
    // (within the API's RPC call), else libvirt's "not connected" is the answer.
    const connected = () => /org\.qemu\.guest_agent\.0'[^>]*state='connected'/.test(xml);
    for (const until = Date.now() + 40_000; !connected() && Date.now() < until; ) {
      await new Promise((r) => setTimeout(r, 1000));
      xml = await this.daemon.virsh(['dumpxml', instance.uuid]);
    }
    const user =
      typeof sm.image_os_admin_user === 'string' && sm.image_os_admin_user
        ? sm.image_os_admin_user
        : sm.image_os_type === 'windows'
          ? 'Administrator'
          : 'root';
    try {
      await this.daemon.virsh(['set-user-password', instance.uuid, user, password], 15_000);
    } catch (e) {
      this.log(
        `set_admin_password failed for ${instance.uuid}: error from libvirt while setting the password for "${user}": ${(e as Error).message.replace(password, '***')}`,
      );
      throw new VirtError(
        `Failed to set admin password on ${instance.uuid} because error setting admin password`,
        false,
      );
    }
  }

  // ---- snapshots, rescue ----

  /** The root disk flattened into a qcow2 (paused while copied, as Nova's cold snapshot). */
  async snapshot(instance: Instance): Promise<GuestImage> {
    await this.need(instance);
    const running = (await this.state(instance)) === 'running';
    const out = path.join(this.dir(instance), `snapshot-${Date.now()}.qcow2`);
    if (running) await this.daemon.virsh(['suspend', instance.uuid]);
    try {
      await this.qemuImg(['convert', '-U', '-O', 'qcow2', path.join(this.dir(instance), 'disk'), out]);
      // The caller streams the file to the image service and removes it.
      return { data: { file: out }, diskFormat: 'qcow2', containerFormat: 'bare' };
    } catch (e) {
      fs.rmSync(out, { force: true });
      throw e;
    } finally {
      if (running) await this.daemon.virsh(['resume', instance.uuid]).catch(() => undefined);
    }
  }

  /** Boots the rescue image (its own overlay disk.rescue) with the guest's disk attached second. */
  async rescue(instance: Instance, image: ImageMeta | null, _password: string) {
    await this.need(instance);
    if (!image) throw new VirtError('Rescue needs an image.', false);
    const dir = this.dir(instance);
    const base = await this.cachedImage(image.id);
    const info = await this.imageInfo(base);
    fs.rmSync(path.join(dir, 'disk.rescue'), { force: true });
    await this.qemuImg(['create', '-q', '-f', 'qcow2', '-F', info.format, '-b', base, path.join(dir, 'disk.rescue')]);
    await this.prepareDisks(instance, image, image);
    fs.copyFileSync(path.join(dir, 'libvirt.xml'), path.join(dir, 'unrescue.xml'));
    await this.hardStop(instance);
    this.writeXml(instance, image, instance.network_info, image);
    await this.startDomain(instance, instance.network_info, { waitForVifs: false });
    await this.refreshQuietly();
  }

  async unrescue(instance: Instance) {
    await this.need(instance);
    const dir = this.dir(instance);
    await this.hardStop(instance);
    if (fs.existsSync(path.join(dir, 'unrescue.xml')))
      fs.renameSync(path.join(dir, 'unrescue.xml'), path.join(dir, 'libvirt.xml'));
    for (const f of ['disk.rescue', 'kernel.rescue', 'ramdisk.rescue']) fs.rmSync(path.join(dir, f), { force: true });
    await this.startDomain(instance, instance.network_info, { waitForVifs: false });
    await this.refreshQuietly();
  }

  // ---- ports hot-plug ----

  async attachInterface(instance: Instance, vif: Vif) {
    await this.need(instance);
    await this.plugVif(vif);
    const file = path.join(this.dir(instance), `if-${vif.port_id}.xml`);
    fs.writeFileSync(file, `${interfaceXml({ mac: vif.mac_address, tap: tapName(vif.port_id), model: 'virtio' })}\n`);
    try {
      await this.daemon.virsh(['attach-device', instance.uuid, file, '--live', '--config']);
    } finally {
      fs.rmSync(file, { force: true });
    }
  }
  async detachInterface(instance: Instance, vif: Vif) {
    await this.need(instance);
    await this.daemon
      .virsh(['detach-interface', instance.uuid, 'ethernet', '--mac', vif.mac_address, '--live', '--config'])
      .catch(() => undefined);
    await this.unplugVif(vif);
  }

  // ---- volumes (the connection info of the volume service: a file path, or iSCSI through QEMU's own initiator) ----

  /** The live and persistent flags of a change to the domain: live only when it runs. */
  private async scope(instance: Instance): Promise<string[]> {
    const st = await this.state(instance);
    return st === 'running' || st === 'paused' ? ['--live', '--config'] : ['--config'];
  }

  async attachVolume(instance: Instance, connectionInfo: VolumeConnection, mountpoint: string) {
    await this.need(instance);
    const target = path.basename(mountpoint);
    const xml = volumeDiskXml(connectionInfo, target);
    // Already there (a live migration brings the guest's volumes in its definition, and the move's
    // volume reconnect attaches them again): nothing to do, as libvirt would refuse "target exists".
    if (await this.hasVolumeDisk(instance, xml, target)) return;
    const file = path.join(this.dir(instance), `vol-${target}.xml`);
    try {
      await this.defineVolumeSecret(connectionInfo, file);
      fs.writeFileSync(file, `${xml}\n`);
      await this.daemon.virsh(['attach-device', instance.uuid, file, ...(await this.scope(instance))]);
    } finally {
      fs.rmSync(file, { force: true });
    }
    await this.refreshQuietly();
  }

  /** Whether the running domain has a disk at `target` with the source of `diskXml`. */
  private async hasVolumeDisk(instance: Instance, diskXml: string, target: string): Promise<boolean> {
    const source = /<source\s+[^>]*?(?:file|dev|name)='([^']*)'/.exec(diskXml)?.[1];
    if (!source) return false;
    const live = await this.daemon.virsh(['dumpxml', instance.uuid]).catch(() => '');
    for (const m of live.matchAll(/<disk\b[\s\S]*?<\/disk>/g))
      if (m[0].includes(`<target dev='${target}'`) && m[0].includes(`'${source}'`)) return true;
    return false;
  }

  /** The CHAP password of an iSCSI volume as a libvirt secret (defining it again answers the same uuid); `file` is scratch. */
  private async defineVolumeSecret(connectionInfo: VolumeConnection, file: string) {
    const secret = iscsiSecretXml(connectionInfo);
    if (!secret) return;
    fs.writeFileSync(file, `${secret}\n`);
    // The secret's uuid is in its XML (virsh -q prints nothing on secret-define).
    const uuid = /<uuid>([0-9a-f-]{36})<\/uuid>/.exec(secret)?.[1];
    if (!uuid) throw new VirtError('libvirt: the iSCSI secret has no uuid', false);
    await this.daemon.virsh(['secret-define', file]);
    fs.writeFileSync(file, String(connectionInfo.data?.auth_password), { mode: 0o600 });
    await this.daemon.virsh(['secret-set-value', uuid, '--file', file, '--plain']);
  }

  /**
   * Nova's swap_volume for libvirt: a running guest's disk is copied onto the new volume by a
   * QEMU block job (`virsh blockcopy --reuse-external --wait --pivot`: the guest keeps running and
   * writing; at the pivot it uses the new volume), then the persistent definition takes the new
   * disk too. A guest that is not running has nothing to copy live: its definition is changed
   * (detach, attach) after `qemu-img convert` of the bytes, when both volumes are local files.
   */
  async swapVolume(instance: Instance, oldInfo: VolumeConnection, newInfo: VolumeConnection, mountpoint: string) {
    await this.need(instance);
    const target = path.basename(mountpoint);
    const xml = volumeDiskXml(newInfo, target);
    const file = path.join(this.dir(instance), `swap-${target}.xml`);
    try {
      await this.defineVolumeSecret(newInfo, file);
      fs.writeFileSync(file, `${xml}\n`);
      const st = await this.state(instance);
      if (st === 'running' || st === 'paused') {
        await this.daemon.virsh(
          [
            'blockcopy',
            instance.uuid,
            target,
            '--xml',
            file,
            '--reuse-external',
            '--transient-job',
            '--wait',
            '--pivot',
          ],
          600_000,
        );
        // The live disk is the new volume now; the definition follows (libvirt leaves it as it was).
        await this.daemon.virsh(['detach-disk', instance.uuid, target, '--config']).catch(() => undefined);
        await this.daemon.virsh(['attach-device', instance.uuid, file, '--config']);
      } else {
        const from = oldInfo.data?.device_path;
        const to = newInfo.data?.device_path;
        if (typeof from !== 'string' || typeof to !== 'string')
          throw new VirtError('The swap of a stopped guest copies local volume files only.', false);
        await run('qemu-img', ['convert', '-n', '-O', String(newInfo.data?.format ?? 'raw'), from, to]);
        await this.daemon.virsh(['detach-disk', instance.uuid, target, '--config']).catch(() => undefined);
        await this.daemon.virsh(['attach-device', instance.uuid, file, '--config']);
      }
    } finally {
      fs.rmSync(file, { force: true });
    }
    await this.refreshQuietly();
  }

  async detachVolume(instance: Instance, _connectionInfo: VolumeConnection, mountpoint: string) {
    await this.ready();
    if (!(await this.exists(instance))) return;
    const target = path.basename(mountpoint);
    const disks = await this.daemon.virsh(['domblklist', instance.uuid]);
    if (!disks.split('\n').some((l) => l.trim().split(/\s+/)[0] === target)) return;
    await this.daemon.virsh(['detach-disk', instance.uuid, target, ...(await this.scope(instance))]);
    // A live detach only asks the guest (ACPI hot-unplug): wait until the disk is gone, asking
    // again now and then, as Nova's detach with retries (device_detach_attempts/_timeout).
    const gone = async () =>
      !(await this.daemon.virsh(['domblklist', instance.uuid]).catch(() => ''))
        .split('\n')
        .some((l) => l.trim().split(/\s+/)[0] === target);
    const end = Date.now() + 60_000;
    let ask = Date.now() + 10_000;
    // (A paused guest answers nothing until it runs again: libvirt finishes the unplug then.)
    while ((await this.state(instance)) === 'running' && !(await gone())) {
      if (Date.now() > end)
        throw new VirtError(`The guest ${instance.uuid} did not release ${target} within 60 s.`, false);
      if (Date.now() > ask) {
        await this.daemon.virsh(['detach-disk', instance.uuid, target, '--live']).catch(() => undefined);
        ask = Date.now() + 10_000;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    await this.refreshQuietly();
  }

  // ---- resize and cold migration (Nova's migrate_disk_and_power_off / finish_migration) ----
  // On one host the instance directory stays where it is (libvirt.xml.resize kept for a revert).
  // To another host: the guest is shut down, its directory renamed `<uuid>_resize` (kept until
  // confirm, brought back by a revert) and its disks copied into the destination host's
  // instances path; the destination rebases the root disk's overlay on its own image cache,
  // writes its libvirt.xml and defines the domain on its libvirtd.

  private resizeDir(instance: Instance) {
    return `${this.dir(instance)}_resize`;
  }

  async migrateDiskAndPowerOff(instance: Instance, dest?: string) {
    await this.need(instance);
    await this.cleanShutdown(instance);
    const dir = this.dir(instance);
    if (!dest || dest === this.host) {
      // Kept for a revert: the domain as it was.
      fs.copyFileSync(path.join(dir, 'libvirt.xml'), path.join(dir, 'libvirt.xml.resize'));
      await this.refreshQuietly();
      return;
    }
    for (const v of instance.network_info ?? []) await this.unplugVif(v);
    const to = path.join(this.instancesPathOf(dest), instance.uuid);
    const kept = this.resizeDir(instance);
    fs.rmSync(kept, { recursive: true, force: true });
    fs.renameSync(dir, kept);
    fs.rmSync(to, { recursive: true, force: true });
    fs.mkdirSync(to, { recursive: true });
    const t0 = Date.now();
    for (const f of ['disk', 'disk.eph0', 'disk.swap', 'disk.config', 'kernel', 'ramdisk']) {
      const from = path.join(kept, f);
      if (!fs.existsSync(from)) continue;
      try {
        await run('cp', ['--sparse=always', from, path.join(to, f)]);
      } catch (e) {
        fs.rmSync(to, { recursive: true, force: true });
        fs.renameSync(kept, dir);
        throw new VirtError(`copying ${f} of ${instance.uuid} to ${dest}: ${(e as Error).message}`, false);
      }
    }
    this.log(`disks of ${instance.uuid} copied to ${dest} (${to}) in ${Date.now() - t0} ms`);
    await this.refreshQuietly();
  }

  /** A root disk copied from another host: its overlay rebased on this host's image cache. */
  private async adoptDisk(instance: Instance, disk: string) {
    const out = (await run('qemu-img', ['info', '-U', '--output=json', disk])).stdout;
    const j = JSON.parse(out) as { 'full-backing-filename'?: string; 'backing-filename'?: string };
    const backing = j['full-backing-filename'] ?? j['backing-filename'];
    if (!backing || backing.startsWith(path.join(this.o.instancesPath, '_base'))) return;
    if (!instance.image_ref)
      throw new VirtError(`The disk of ${instance.uuid} has a backing file but the server has no image.`, false);
    const base = await this.cachedImage(instance.image_ref);
    const info = await this.imageInfo(base);
    await this.qemuImg(['rebase', '-u', '-F', info.format, '-b', base, disk]);
  }

  /** The guest with its (new) flavor: the root disk grown to it, the domain redefined. */
  async finishMigration(instance: Instance, powerOn: boolean, volumes: BuildVolume[] = []) {
    await this.ready();
    // A volume-backed guest has no root disk here: its volume is vda (Nova's block_device_info).
    const rootVolume = volumes.some((v) => isRootDevice(v.mountpoint));
    const disk = path.join(this.dir(instance), 'disk');
    if (!rootVolume) {
      if (!fs.existsSync(disk))
        throw new VirtError(`The disk of ${instance.uuid} is not on host ${this.host} (${disk}).`, false);
      await this.adoptDisk(instance, disk);
      const info = await this.imageInfo(disk);
      const want = instance.flavor.disk * 1024 ** 3;
      if (want > info.virtualSize) await this.qemuImg(['resize', '-q', disk, String(want)]);
    }
    const image = instance.image_ref ? await this.imageMetaFromXml(instance) : null;
    this.writeXml(instance, image, instance.network_info, null, rootVolume);
    await this.daemon.virsh(['define', path.join(this.dir(instance), 'libvirt.xml')]);
    for (const v of volumes) await this.attachVolume(instance, v.connectionInfo, v.mountpoint);
    if (powerOn) {
      for (const v of instance.network_info) await this.plugVif(v);
      await this.daemon.virsh(['start', instance.uuid]);
    }
    await this.refreshQuietly();
  }

  /** Source, on confirm: the kept guest (another host's now) is gone for good. */
  async confirmMigration(instance: Instance) {
    fs.rmSync(path.join(this.dir(instance), 'libvirt.xml.resize'), { force: true });
    const kept = this.resizeDir(instance);
    if (!fs.existsSync(kept)) return;
    await this.ready();
    if (await this.exists(instance)) {
      await this.hardStop(instance);
      await this.daemon.virsh(['undefine', instance.uuid, '--managed-save']).catch(() => undefined);
    }
    fs.rmSync(kept, { recursive: true, force: true });
    removeConsoleSocketDir(this.dir(instance));
    await this.refreshQuietly();
  }

  /** Source, on revert: the kept directory (or libvirt.xml) back, the old domain started again. */
  async finishRevertMigration(instance: Instance, powerOn: boolean) {
    await this.ready();
    const dir = this.dir(instance);
    await this.hardStop(instance);
    const kept = this.resizeDir(instance);
    if (fs.existsSync(kept)) {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.renameSync(kept, dir);
    }
    if (fs.existsSync(path.join(dir, 'libvirt.xml.resize')))
      fs.renameSync(path.join(dir, 'libvirt.xml.resize'), path.join(dir, 'libvirt.xml'));
    await this.daemon.virsh(['define', path.join(dir, 'libvirt.xml')]);
    if (powerOn) {
      for (const v of instance.network_info) await this.plugVif(v);
      await this.daemon.virsh(['start', instance.uuid]);
    }
    await this.refreshQuietly();
  }

  // ---- live migration between two hosts of this machine (migrate.ts) ----

  /**
   * Destination, before the migration: the instance directory with empty disks of the source's
   * sizes (the migration copies their content), the read-only files (kernel, ramdisk, config
   * drive) copied, the taps plugged on this host's bridges.
   */
  async preLiveMigration(instance: Instance, _blockMigration: boolean) {
    await this.ready();
    const from = path.join(this.instancesPathOf(instance.host ?? this.host), instance.uuid);
    const to = this.dir(instance);
    if (from === to) throw new VirtError(`Instance ${instance.uuid} is already on host ${this.host}.`, false);
    if (!fs.existsSync(from))
      throw new VirtError(`The instance directory ${from} of ${instance.uuid} is missing.`, false);
    fs.rmSync(to, { recursive: true, force: true });
    fs.mkdirSync(to, { recursive: true });
    for (const f of ['disk', 'disk.eph0', 'disk.swap']) {
      const src = path.join(from, f);
      if (!fs.existsSync(src)) continue;
      const info = await this.imageInfo(src);
      await this.qemuImg(['create', '-q', '-f', 'qcow2', path.join(to, f), String(info.virtualSize)]);
    }
    // console.log too: the destination's virtlogd appends to it (the migrated XML says so).
    for (const f of ['disk.config', 'kernel', 'ramdisk', 'console.log'])
      if (fs.existsSync(path.join(from, f))) fs.copyFileSync(path.join(from, f), path.join(to, f));
    for (const v of instance.network_info ?? []) await this.plugVif(v);
  }

  /** Source: the running guest moved to `dest`'s libvirtd, its disks copied (non-shared storage). */
  liveMigration(instance: Instance, dest: string, _blockMigration: boolean): LiveMigrationJob {
    const destDaemon = new Libvirtd({ host: dest, stateDir: path.join(this.allOptions.stateDir, dest) });
    const fromDir = this.dir(instance);
    const toDir = path.join(this.instancesPathOf(dest), instance.uuid);
    let job: LiveMigrationJob | undefined;
    let failed: Error | undefined;
    const pending: Array<(j: LiveMigrationJob) => void> = [];
    // The destination XML needs one virsh call: the job starts as soon as it is there.
    void (async () => {
      await this.need(instance);
      const xml = await this.daemon.virsh(['dumpxml', '--migratable', instance.uuid]);
      // The console sockets first: either end may keep them in a short directory of their own (xml.ts).
      const [fromSockets, toSockets] = [consoleSocketDir(fromDir), consoleSockets(toDir)];
      let destXml = xml;
      for (const name of ['vnc', 'serial', 'spice'] as const)
        destXml = destXml.split(`'${path.join(fromSockets, `${name}.sock`)}'`).join(`'${toSockets[name]}'`);
      job = startLiveMigration({
        source: this.daemon,
        dest: destDaemon,
        uuid: instance.uuid,
        migrateDisks: localDisksToMigrate(xml, fromDir),
        sharedDisks: hasSharedDisks(xml, fromDir),
        destXml: destXml
          .split(`${fromDir}/`)
          .join(`${toDir}/`)
          .replace(/(<log file='[^']*console\.log' append=)'off'/g, "$1'on'"),
        log: (m) => this.log(m),
        cleanupSource: async () => {
          for (const v of instance.network_info ?? []) await this.unplugVif(v);
          fs.rmSync(fromDir, { recursive: true, force: true });
          removeConsoleSocketDir(fromDir);
          await this.refreshQuietly();
        },
      });
      for (const f of pending) f(job);
    })().catch((e) => {
      failed = e as Error;
    });
    const when = () =>
      new Promise<LiveMigrationJob>((resolve, reject) => {
        if (job) return resolve(job);
        if (failed) return reject(failed);
        pending.push(resolve);
        const t = setInterval(() => {
          if (failed) {
            clearInterval(t);
            reject(failed);
          } else if (job) clearInterval(t);
        }, 100);
      });
    const zero = noProgress();
    return {
      done: when().then((j) => j.done),
      progress: () => job?.progress() ?? zero,
      forceComplete: () =>
        void when().then(
          (j) => j.forceComplete(),
          () => undefined,
        ),
      abort: () =>
        void when().then(
          (j) => j.abort(),
          () => undefined,
        ),
    };
  }

  /** Destination after a live migration: the guest is this host's now. */
  async postLiveMigrationAtDestination(instance: Instance, _powerState: number) {
    // libvirt.xml as this host's libvirtd now has the domain (Nova keeps it in the directory too).
    const xml = await this.daemon.virsh(['dumpxml', '--inactive', instance.uuid]).catch(() => '');
    if (xml && fs.existsSync(this.dir(instance))) fs.writeFileSync(path.join(this.dir(instance), 'libvirt.xml'), xml);
    await this.refreshQuietly();
  }

  /** The image properties that shaped the domain are not kept: a resized guest keeps its kernel files and buses by default. */
  private async imageMetaFromXml(instance: Instance): Promise<ImageMeta | null> {
    return instance.image_ref ? { id: instance.image_ref, status: 'active', properties: {} } : null;
  }
}

/** A volume's connection info (os-brick's driver_volume_type and data). */
export interface VolumeConnection {
  driver_volume_type?: string;
  data?: Record<string, unknown>;
}

/** The <disk> of a volume: a file (`file`/`local`: data.device_path) or an iSCSI LUN opened by QEMU itself. */
/** The root device of a guest (a boot-from-volume server's volume is mapped there). */
function isRootDevice(mountpoint: string): boolean {
  return /^(\/dev\/)?(vd|sd|hd|xvd)a$/.test(mountpoint);
}

/** The usage name of the libvirt secret that holds an iSCSI target's CHAP password. */
export function iscsiSecretUsage(iqn: string): string {
  return `stratus-iscsi-${iqn}`;
}

/** The libvirt secret of a CHAP-protected iSCSI volume (its value is set apart), or null. */
export function iscsiSecretXml(ci: VolumeConnection): string | null {
  const d = ci.data ?? {};
  if (ci.driver_volume_type !== 'iscsi' || d.auth_method !== 'CHAP' || typeof d.auth_password !== 'string') return null;
  // A uuid of its own per target, so that a second attach defines the same secret again.
  const h = createHash('sha256')
    .update(iscsiSecretUsage(String(d.target_iqn ?? '')))
    .digest('hex');
  const uuid = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
  return `<secret ephemeral='no' private='yes'>\n  <uuid>${uuid}</uuid>\n  <usage type='iscsi'>\n    <target>${esc(iscsiSecretUsage(String(d.target_iqn ?? '')))}</target>\n  </usage>\n</secret>`;
}

export function volumeDiskXml(ci: VolumeConnection, target: string): string {
  const d = ci.data ?? {};
  const serial = typeof d.volume_id === 'string' ? `\n  <serial>${esc(d.volume_id)}</serial>` : '';
  const type = ci.driver_volume_type ?? '';
  if (type === 'file' || type === 'local') {
    const p = String(d.device_path ?? '');
    if (!p) throw new VirtError('The volume connection info has no device_path.', false);
    const fmt = d.format === 'qcow2' ? 'qcow2' : 'raw';
    return `<disk type='file' device='disk'>\n  <driver name='qemu' type='${fmt}' cache='none'/>\n  <source file='${esc(p)}'/>\n  <target dev='${esc(target)}' bus='virtio'/>${serial}\n</disk>`;
  }
  if (type === 'iscsi') {
    const [hostPart, port] = String(d.target_portal ?? '').split(':');
    const iqn = String(d.target_iqn ?? '');
    if (!hostPart || !iqn) throw new VirtError('The iSCSI connection info has no target_portal or target_iqn.', false);
    // CHAP (Cinder's tgt targets): the password is a libvirt secret (iscsiSecretXml), named by its usage.
    const auth =
      d.auth_method === 'CHAP' && typeof d.auth_username === 'string'
        ? `\n    <auth username='${esc(d.auth_username)}'>\n      <secret type='iscsi' usage='${esc(iscsiSecretUsage(iqn))}'/>\n    </auth>`
        : '';
    return `<disk type='network' device='disk'>\n  <driver name='qemu' type='raw' cache='none'/>\n  <source protocol='iscsi' name='${esc(iqn)}/${Number(d.target_lun ?? 0)}'>\n    <host name='${esc(hostPart)}' port='${Number(port ?? 3260)}'/>${auth}\n  </source>\n  <target dev='${esc(target)}' bus='virtio'/>${serial}\n</disk>`;
  }
  if (type === 'rbd') return rbdDiskXml(d, target, serial);
  throw new VirtError(`The libvirt driver cannot attach volumes of type '${type}'.`, false);
}

/**
 * A Ceph RBD volume (Nova's LibvirtNetVolumeDriver for `rbd`): QEMU's librbd reaches the monitors
 * of the connection info; with auth on, the key is the libvirt `ceph` secret `secret_uuid` (the one
 * Nova's `rbd_secret_uuid` names, defined on the host from the user's keyring, see cephSecretXml).
 */
function rbdDiskXml(d: Record<string, unknown>, target: string, serial: string): string {
  const name = String(d.name ?? '');
  if (!/^[^/\s]+\/[^/\s]+$/.test(name)) throw new VirtError('The rbd connection info has no pool/image name.', false);
  const hosts = Array.isArray(d.hosts) ? d.hosts.map(String) : [];
  const ports = Array.isArray(d.ports) ? d.ports.map(String) : [];
  const hostXml = hosts
    .map((h, i) => `\n    <host name='${esc(h)}'${ports[i] ? ` port='${Number(ports[i])}'` : ''}/>`)
    .join('');
  let auth = '';
  if (d.auth_enabled) {
    const user = String(d.auth_username ?? '');
    const uuid = String(d.secret_uuid ?? '');
    if (!user || !uuid)
      throw new VirtError('The rbd connection info enables auth without auth_username and secret_uuid.', false);
    auth = `\n  <auth username='${esc(user)}'>\n    <secret type='${esc(String(d.secret_type ?? 'ceph'))}' uuid='${esc(uuid)}'/>\n  </auth>`;
  }
  const discard = d.discard ? " discard='unmap'" : '';
  return `<disk type='network' device='disk'>\n  <driver name='qemu' type='raw' cache='writeback'${discard}/>${auth}\n  <source protocol='rbd' name='${esc(name)}'>${hostXml}\n  </source>\n  <target dev='${esc(target)}' bus='virtio'/>${serial}\n</disk>`;
}

/** The libvirt secret a compute host defines for `client.<user>` (then `virsh secret-set-value` with its key). */
export function cephSecretXml(uuid: string, user: string): string {
  return `<secret ephemeral='no' private='no'>\n  <uuid>${esc(uuid)}</uuid>\n  <usage type='ceph'>\n    <name>client.${esc(user)} secret</name>\n  </usage>\n</secret>`;
}

/** The driver of one agent host from the compute options. */
export function libvirtDriver(host: string, o: ComputeOptions): LibvirtDriver {
  // Refuse to start rather than fail every build later.
  if (process.getuid?.() !== 0) throw new Error('the libvirt compute driver needs root (libvirtd, network namespaces)');
  const missing = missingLibvirtPackages();
  if (missing.length) throw new Error(`the libvirt compute driver needs the Debian packages: ${missing.join(' ')}`);
  return new LibvirtDriver({
    host,
    primaryHost: o.host,
    // The guests' graphics follow the console protocols that are on (Nova's [vnc]/[spice] enabled).
    libvirt: { ...o.libvirt, vnc: o.consoles.vnc !== false, spice: o.consoles.spice !== false },
    log: (m) => process.stderr.write(`libvirt driver (${host}): ${m}\n`),
  });
}
