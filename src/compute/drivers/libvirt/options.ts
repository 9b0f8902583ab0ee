// The libvirt driver's options (`compute: {libvirt: {...}}` in stratus.yaml), Nova's [libvirt]
// section reduced to what this driver does.
import path from 'node:path';

export interface LibvirtOptions {
  /** 'qemu' (TCG), 'kvm', or 'auto': KVM only when asked for, since KVM here hangs guests while every API says it is fine. */
  virtType: 'auto' | 'qemu' | 'kvm';
  /** Where guests' directories live (Nova's instances_path; default <dataDir>/instances). */
  instancesPath: string;
  /** The per-host libvirtd state (domain definitions, managed saves; default <dataDir>/libvirt). */
  stateDir: string;
  /** Where the test guest is built and cached (default <dataDir>/guest). */
  guestDir: string;
  /** Seconds a spawn waits for the image's boot marker on the console (image property stratus_boot_marker). */
  bootTimeout: number;
  /** Seconds a clean shutdown may take before the guest is destroyed (Nova's shutdown_timeout, 60). */
  shutdownTimeout: number;
  /**
   * The address guests' VNC servers listen on (Nova's [vnc] server_listen), a TCP port each; ''
   * (the default): a unix socket in the instance directory, which the console proxy reaches
   * whatever namespace libvirtd runs in.
   */
  vncListen: string;
  /** Guests get a VNC server (compute.consoles.vnc on; set by the driver's factory). */
  vnc: boolean;
  /** Guests get a SPICE server on a unix socket (compute.consoles.spice on; set by the driver's factory). */
  spice: boolean;
  /** Seconds between two refreshes of every guest's state and counters (one `virsh domstats`). */
  statsInterval: number;
  /** Seconds the KVM probe guest (virtType auto) may take to print its marker before TCG is chosen. */
  probeTimeout: number;
  /**
   * The instances path of each host, by host name, when several hosts run on one machine (an
   * agent process with compute.fakeHosts, or several processes): a cold migration copies the
   * disks into the destination's. Unlisted: `instancesPath` for the process's own host
   * (compute.host), `<instancesPath>-<host>` for its other hosts.
   */
  hostInstancesPaths: Record<string, string>;
}

export type LibvirtConfig = Partial<LibvirtOptions>;

export function libvirtOptions(c: LibvirtConfig | undefined, dataDir: string): LibvirtOptions {
  const v = c?.virtType ?? 'auto';
  return {
    virtType: v === 'kvm' || v === 'qemu' ? v : 'auto',
    instancesPath: path.resolve(c?.instancesPath ?? path.join(dataDir, 'instances')),
    stateDir: path.resolve(c?.stateDir ?? path.join(dataDir, 'libvirt')),
    guestDir: path.resolve(c?.guestDir ?? path.join(dataDir, 'guest')),
    bootTimeout: Number(c?.bootTimeout ?? 180),
    shutdownTimeout: Number(c?.shutdownTimeout ?? 60),
    vncListen: c?.vncListen ?? '',
    vnc: c?.vnc ?? true,
    spice: c?.spice ?? false,
    statsInterval: Number(c?.statsInterval ?? 10),
    probeTimeout: Number(c?.probeTimeout ?? 10),
    hostInstancesPaths: Object.fromEntries(
      Object.entries(c?.hostInstancesPaths ?? {}).map(([h, p]) => [h, path.resolve(String(p))]),
    ),
  };
}

/** The instances path of `host` (see LibvirtOptions.hostInstancesPaths); `primary` is compute.host. */
export function hostInstancesPath(o: LibvirtOptions, primary: string, host: string): string {
  return o.hostInstancesPaths[host] ?? (host === primary ? o.instancesPath : `${o.instancesPath}-${host}`);
}
