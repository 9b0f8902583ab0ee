// Compute's options (`compute:` in stratus.yaml), typed, with Nova's defaults.
import type { ServicePolicyConfig } from '../core/policy/config.ts';
import os from 'node:os';
import type { StratusConfig } from '../core/config.ts';
import { type LibvirtConfig, type LibvirtOptions, libvirtOptions } from './drivers/libvirt/options.ts';
import { numberOptions } from '../core/options.ts';

/** Compute options (`compute:` in stratus.yaml); every field has a default. */
export interface ComputeOptions {
  /** The host of this process's compute agent (nova's `host`), default the machine's hostname. */
  host: string;
  /** Run a compute agent inside this process (the all-in-one shape, or the `compute` role). */
  agent: boolean;
  /** Run the conductor / the scheduler inside this process (roles `conductor`, `scheduler`). */
  conductor: boolean;
  scheduler: boolean;
  /** The agent's virt driver: 'fake'. */
  driver: string;
  /** Capacity the fake driver reports. */
  vcpus: number;
  memoryMb: number;
  localGb: number;
  /** Allocation ratios written to placement (Zed's initial_*_allocation_ratio). */
  cpuAllocationRatio: number;
  ramAllocationRatio: number;
  diskAllocationRatio: number;
  /** Seconds without a heartbeat after which a compute service is down (service_down_time). */
  serviceDownTime: number;
  /** Seconds between heartbeats and resource updates (report_interval). */
  reportInterval: number;
  /** Builds tried on other hosts before a server goes to ERROR (scheduler max_attempts). */
  maxAttempts: number;
  /** The availability zone of hosts in no aggregate zone (default_availability_zone). */
  defaultAvailabilityZone: string;
  /** How many fake compute hosts this process runs (`<host>`, `<host>-2`, ...), each its own agent and driver. */
  fakeHosts: number;
  /** The fake driver's time for a live migration, in ms (so that force-complete and abort can be shown). */
  fakeLiveMigrationMs: number;
  /** The fake driver's time to take a snapshot, in ms (a real one takes seconds; clients may act while it runs). */
  fakeSnapshotMs: number;
  /** Seconds after which a resize waiting in VERIFY_RESIZE is confirmed by the agent (resize_confirm_window; 0: never). */
  resizeConfirmWindow: number;
  /** A resize may stay on its host (allow_resize_to_same_host). */
  allowResizeToSameHost: boolean;
  /** Seconds a shelved server keeps its host before it is offloaded (shelved_offload_time): 0 at once, -1 never. */
  shelvedOffloadTime: number;
  /** Seconds between the agent's checks for shelved servers to offload (shelved_poll_interval). */
  shelvedPollInterval: number;
  /** Seconds a deleted server stays SOFT_DELETED, restorable, before it is reclaimed (reclaim_instance_interval; 0: delete at once). */
  reclaimInstanceInterval: number;
  /** Seconds between two info cache heals, one server each (heal_instance_info_cache_interval; 0: off). */
  healInstanceInfoCacheInterval: number;
  /** Seconds a driver that waits for network-vif-plugged events waits (vif_plugging_timeout, 300; 0: no wait). */
  vifPluggingTimeout?: number;
  /** Seconds a build waits for the volumes made for it to become available (block_device_allocate_retries × interval: 180). */
  blockDeviceAllocateTimeout: number;
  /** Seconds per GiB a volume-backed rebuild waits for the volume service's volume-reimaged event (reimage_timeout_per_gb: 60). */
  reimageTimeoutPerGb: number;
  /** A vif that did not plug in time (or failed) fails the build (vif_plugging_is_fatal, true). */
  vifPluggingIsFatal?: boolean;
  /** Seconds between two power-state syncs of the host's servers (sync_power_state_interval; 0 or less: off). */
  syncPowerStateInterval: number;
  /**
   * Remote consoles: per protocol the proxy's base URL handed out with a token, or false when
   * the protocol is off (Nova's [vnc]/[spice]/[rdp]/[serial_console]/[mks] enabled and base URLs).
   */
  consoles: Record<'vnc' | 'spice' | 'rdp' | 'serial' | 'mks', string | false>;
  /** Seconds a console token stays valid ([consoleauth] token_ttl). */
  consoleTokenTtl: number;
  /** The fake driver: ms a spawn (and other guest work) takes (compute.fakeDelayMs). */
  fakeDelayMs: number;
  /** The fake driver: the share of spawns that fail, 0 to 1 (compute.fakeFailRate). */
  fakeFailRate: number;
  /** The fake driver waits for network-vif-plugged events as libvirt does (compute.fakeWaitForVifPlugged). */
  fakeWaitForVifPlugged: boolean;
  /** The fake driver's transitional states (compute.fake.*): how long each stays visible. */
  fake: FakeTimings;
  /** The pool os-floating-ips allocates from when none is named (default_floating_pool). */
  defaultFloatingPool: string;
  /** The libvirt driver's options (compute.driver: libvirt). */
  libvirt: LibvirtOptions;
  /** Nova's metadata API (nova-api-metadata) on its own listener: on by default with a real driver. */
  metadata: MetadataOptions;
  /** The console proxies (nova-novncproxy, nova-serialproxy) on their own listeners, in the api process. */
  consoleProxy: ConsoleProxyOptions;
}

/** One console proxy's listener. */
export interface ConsoleProxyListen {
  /** On by default with a real driver when its console protocol is on (compute.consoles). */
  enabled: boolean;
  host: string;
  /** 0: any free port (tests; a defaulted base URL then names the port chosen). */
  port: number;
}

export interface ConsoleProxyOptions {
  /** nova-novncproxy ([vnc] novncproxy_host/port: 127.0.0.1:6080 here). */
  novnc: ConsoleProxyListen;
  /** nova-serialproxy ([serial_console] serialproxy_host/port: 127.0.0.1:6083 here). */
  serial: ConsoleProxyListen;
  /** nova-spicehtml5proxy ([spice] html5proxy_host/port: 127.0.0.1:6082 here), on when compute.consoles.spice is. */
  spice: ConsoleProxyListen;
  /** noVNC's files ([vnc]/web: Debian's novnc package). */
  web: string;
  /** spice-html5's files (Debian's spice-html5 package). */
  spiceWeb: string;
  /** Host names an Origin header may name besides the request's Host ([console] allowed_origins). */
  allowedOrigins: string[];
}

/**
 * How long (ms) the fake driver takes for the work behind each transitional status a client can
 * poll for (REBOOT, HARD_REBOOT, REBUILD, RESIZE/MIGRATING, REVERT_RESIZE, the unshelve spawn);
 * 0: instant. The defaults keep each status on view for about one poll of a client that polls
 * once a second, well below what a small real guest takes, so that waiting for the end state
 * (tempest) costs little. compute.fakeDelayMs still adds to every driver call.
 */
export interface FakeTimings {
  rebootMs: number;
  hardRebootMs: number;
  rebuildMs: number;
  /** A resize or cold migration's disk move (RESIZE, MIGRATING). */
  resizeMs: number;
  revertResizeMs: number;
  unshelveMs: number;
}

/** The transitional states' default time (ms): a little over one second-long poll. */
export const FAKE_TRANSITION_MS = 1200;

export interface MetadataOptions {
  enabled: boolean;
  host: string;
  /** 8775 as Nova's metadata_listen_port; 0: any free port. */
  port: number;
  /** A unix socket it also listens on (for the network's proxy in its namespace); null: none. */
  socket: string | null;
  /** The proxy's shared secret; default generated into secrets.yaml (metadataProxySharedSecret). */
  sharedSecret?: string;
}

/**
 * The `compute:` section as written in stratus.yaml (every field optional). It is part of
 * StratusConfig through the declaration below, so `config.compute` is typed everywhere.
 */
export type ComputeConfig = Partial<
  Omit<
    ComputeOptions,
    'agent' | 'conductor' | 'scheduler' | 'consoles' | 'libvirt' | 'metadata' | 'fake' | 'consoleProxy'
  >
> & {
  /** The fake driver's transition times; `transitionMs` sets every one not given. */
  fake?: Partial<FakeTimings> & { transitionMs?: number };
  libvirt?: LibvirtConfig;
  metadata?: Partial<MetadataOptions>;
  consoleProxy?: {
    novnc?: Partial<ConsoleProxyListen>;
    serial?: Partial<ConsoleProxyListen>;
    spice?: Partial<ConsoleProxyListen>;
    web?: string;
    spiceWeb?: string;
    allowedOrigins?: string[];
  };
  /** Run a compute agent when the `compute` role is on (default true). */
  agent?: boolean;
  consoles?: Partial<ComputeOptions['consoles']>;
  /** Nova's [oslo_policy] enforce_scope / enforce_new_defaults. */
  policy?: ServicePolicyConfig;
};

declare module '../core/config.ts' {
  interface StratusConfig {
    compute?: ComputeConfig;
  }
}

/** The options of this process from the whole configuration (roles decide which parts run here). */
export function computeOptions(cfg: Partial<Pick<StratusConfig, 'roles' | 'compute' | 'dataDir'>>): ComputeOptions {
  const c: ComputeConfig = cfg.compute ?? {};
  const roles: readonly string[] = cfg.roles ?? ['conductor', 'scheduler', 'compute'];
  const realDriver = (c.driver ?? 'fake') !== 'fake';
  const proxy = (p: Partial<ConsoleProxyListen> | undefined, port: number, protocolOn: boolean) => ({
    enabled: p?.enabled ?? (realDriver && protocolOn),
    host: p?.host ?? '127.0.0.1',
    port: Number(p?.port ?? port),
  });
  const novnc = proxy(c.consoleProxy?.novnc, 6080, c.consoles?.vnc !== false);
  const serial = proxy(c.consoleProxy?.serial, 6083, Boolean(c.consoles?.serial));
  const spice = proxy(c.consoleProxy?.spice, 6082, Boolean(c.consoles?.spice));
  return {
    host: c.host ?? os.hostname(),
    agent: (c.agent ?? true) && roles.includes('compute'),
    driver: c.driver ?? 'fake',
    conductor: roles.includes('conductor'),
    scheduler: roles.includes('scheduler'),
    ...numberOptions(c, {
      vcpus: 16,
      memoryMb: 32768,
      localGb: 500,
      cpuAllocationRatio: 16,
      ramAllocationRatio: 1.5,
      diskAllocationRatio: 1.0,
      serviceDownTime: 60,
      reportInterval: 10,
      maxAttempts: 3,
      fakeLiveMigrationMs: 0,
      fakeSnapshotMs: 0,
      resizeConfirmWindow: 0,
      shelvedOffloadTime: 0,
      shelvedPollInterval: 3600,
      reclaimInstanceInterval: 0,
      healInstanceInfoCacheInterval: 60,
      vifPluggingTimeout: 300,
      blockDeviceAllocateTimeout: 180,
      reimageTimeoutPerGb: 60,
      syncPowerStateInterval: 600,
      consoleTokenTtl: 600,
      fakeDelayMs: 0,
      fakeFailRate: 0,
    }),
    defaultAvailabilityZone: c.defaultAvailabilityZone ?? 'nova',
    fakeHosts: Math.max(1, Math.floor(Number(c.fakeHosts ?? 1)) || 1),
    allowResizeToSameHost: c.allowResizeToSameHost ?? true,
    vifPluggingIsFatal: c.vifPluggingIsFatal !== false,
    // Nova's defaults: only VNC is on.
    consoles: {
      vnc: `http://${urlHost(novnc.host)}:${novnc.port}/vnc_auto.html`,
      spice: false,
      rdp: false,
      serial: false,
      mks: false,
      ...(c.consoles ?? {}),
    },
    fakeWaitForVifPlugged: c.fakeWaitForVifPlugged === true,
    fake: fakeTimings(c.fake),
    defaultFloatingPool: c.defaultFloatingPool ?? 'public',
    libvirt: libvirtOptions(c.libvirt, cfg.dataDir ?? '.stratus'),
    metadata: {
      enabled: c.metadata?.enabled ?? (c.driver ?? 'fake') !== 'fake',
      host: c.metadata?.host ?? '127.0.0.1',
      port: Number(c.metadata?.port ?? 8775),
      socket: c.metadata?.socket ?? null,
      sharedSecret: c.metadata?.sharedSecret,
    },
    consoleProxy: {
      novnc,
      serial,
      spice,
      web: c.consoleProxy?.web ?? '/usr/share/novnc',
      spiceWeb: c.consoleProxy?.spiceWeb ?? '/usr/share/spice-html5',
      allowedOrigins: c.consoleProxy?.allowedOrigins ?? [],
    },
  };
}

/** A listen address as the host of a URL handed out: a wildcard is this machine's loopback. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/** The hosts of the agents this process runs: `<host>`, `<host>-2`, ... (compute.fakeHosts). */
export function agentHosts(o: ComputeOptions): string[] {
  return Array.from({ length: Math.max(1, o.fakeHosts) }, (_, i) => (i === 0 ? o.host : `${o.host}-${i + 1}`));
}

/** compute.fake: each time given, else compute.fake.transitionMs, else FAKE_TRANSITION_MS; never negative. */
function fakeTimings(f: ComputeConfig['fake'] = {}): FakeTimings {
  const all = f.transitionMs ?? FAKE_TRANSITION_MS;
  const ms = (v: number | undefined) => Math.max(0, Number(v ?? all) || 0);
  return {
    rebootMs: ms(f.rebootMs),
    hardRebootMs: ms(f.hardRebootMs),
    rebuildMs: ms(f.rebuildMs),
    resizeMs: ms(f.resizeMs),
    revertResizeMs: ms(f.revertResizeMs),
    unshelveMs: ms(f.unshelveMs),
  };
}
