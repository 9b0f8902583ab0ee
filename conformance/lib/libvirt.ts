// The conformance cloud with real guests (`--driver libvirt`): the libvirt virt driver on one
// compute host with the Linux bridge data plane, the test guest built once into
// conformance/work/guest and registered as DevStack registers CirrOS, tempest told to SSH into
// its servers (run_validation) through floating IPs as root with the key it makes, and, when
// the run ends, every domain, daemon and namespace of the host removed.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { buildGuest, type GuestFiles } from '../../src/compute/guest/build.ts';
import { registerGuest } from '../../src/compute/guest/register.ts';
import { Libvirtd } from '../../src/compute/drivers/libvirt/daemon.ts';
import { removeConsoleSocketDir } from '../../src/compute/drivers/libvirt/xml.ts';
import { deleteHostNamespace, ensureHostNamespace, hostNamespace, run } from '../../src/core/hostns.ts';
import { cleanupHost } from '../../src/network/drivers/linuxbridge/index.ts';

/** The compute (and network agent) host of the conformance cloud with real guests. */
export const LIBVIRT_HOST = 'tempest-lv';

/**
 * The compute hosts of a run with `--libvirt-hosts N` (1 or 2): `tempest-lv` and `tempest-lv-2`,
 * two agents of the one process (compute.fakeHosts with the libvirt driver), each with its own
 * namespace `stratus-host-<host>`, libvirtd, virtlogd and instances path.
 */
export function libvirtHosts(n: number): string[] {
  return Array.from({ length: Math.max(1, n) }, (_, i) => (i === 0 ? LIBVIRT_HOST : `${LIBVIRT_HOST}-${i + 1}`));
}

/** Every host a run may have made (the clean-up removes both whatever the run asked for). */
const ALL_LIBVIRT_HOSTS = libvirtHosts(2);

/** The underlay between the hosts: a veth `ul0` between their namespaces, the VXLAN tunnels' ends. */
const UNDERLAY = '192.168.253';
const underlayIp = (i: number) => `${UNDERLAY}.${i + 1}`;

/** compute: in stratus.yaml for `--driver libvirt` (`hosts`: --libvirt-hosts). */
export function libvirtComputeConfig(
  guestDir: string,
  metadataPort: number,
  hosts = 1,
  novncPort = 0,
): Record<string, unknown> {
  return {
    host: LIBVIRT_HOST,
    driver: 'libvirt',
    // A second libvirt host beside the first (their instance paths: `<instancesPath>` and `<instancesPath>-tempest-lv-2`).
    ...(hosts > 1 ? { fakeHosts: hosts } : {}),
    // DevStack sets allow_resize_to_same_host in single- and multi-node jobs alike.
    allowResizeToSameHost: true,
    libvirt: { guestDir, statsInterval: 2, shutdownTimeout: 30 },
    // nova-novncproxy on a free port (the URLs the API hands out name it): the harness picks it
    // (with 0 the proxy, listening before the API, once took the port picked for the API).
    consoleProxy: { novnc: { port: novncPort } },
    metadata: { port: metadataPort },
  };
}

/** The guest in `dir`, built when its inputs changed (seconds; the kernel is downloaded once). */
export function prepareGuest(dir: string, log: (s: string) => void): Promise<GuestFiles> {
  ensurePing(log);
  return buildGuest(dir, { log });
}

/**
 * Tempest's scenario tests ping the guests' floating IPs from the host (manager.ping_ip_address
 * runs `ping`): without it every connectivity check fails with "No such file or directory: 'ping'".
 * Debian's minimal images have no ping, so the run installs iputils-ping as it installs tempest.
 */
function ensurePing(log: (s: string) => void): void {
  if (spawnSync('sh', ['-c', 'command -v ping'], { stdio: 'ignore' }).status === 0) return;
  if (process.getuid?.() !== 0) throw new Error("tempest's scenario tests need ping: apt-get install -y iputils-ping");
  log('installing iputils-ping with apt-get (tempest pings the guests)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = spawnSync('apt-get', ['install', '-y', '-q', 'iputils-ping'], {
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update', '-q'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
    r = spawnSync('apt-get', ['install', '-y', '-q', 'iputils-ping'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  }
  if (r.status !== 0) throw new Error(`apt-get install iputils-ping failed (exit ${r.status})`);
}

/** network: additions for two hosts: each host's VXLAN end on the underlay, the L2 agent of the second in the process. */
export function libvirtNetworkConfig(hosts: number): Record<string, unknown> {
  if (hosts < 2) return {};
  const names = libvirtHosts(hosts);
  return {
    underlayIps: Object.fromEntries(names.map((h, i) => [h, underlayIp(i)])),
    // The other hosts' L2 agents in this process: network's default (api/extras_state.ts extraL2Hosts) names
    // them for the fake driver only, and a guest on a host without one waits for network-vif-plugged in vain.
    l2Hosts: names.slice(1),
  };
}

/**
 * Makes the hosts' namespaces and joins them by the underlay veth before the cloud starts (its
 * agents find the namespaces made; the VXLAN devices' `local` addresses exist).
 */
export async function linkLibvirtHosts(hosts: number): Promise<void> {
  if (hosts < 2) return;
  const names = libvirtHosts(hosts);
  for (const h of names) {
    await deleteHostNamespace(h);
    await ensureHostNamespace(h);
  }
  const [a, b] = [hostNamespace(names[0]!), hostNamespace(names[1]!)];
  await run(['ip', '-n', a, 'link', 'add', 'ul0', 'type', 'veth', 'peer', 'name', 'ul0', 'netns', b]);
  for (const [i, ns] of [a, b].entries()) {
    await run(['ip', '-n', ns, 'addr', 'add', `${underlayIp(i)}/24`, 'dev', 'ul0']);
    await run(['ip', '-n', ns, 'link', 'set', 'ul0', 'up']);
  }
}

/** Registers the guest's images; tempest boots the self-booting disk (CirrOS's "-disk" image). */
export async function registerTempestGuest(
  files: GuestFiles,
  authUrl: string,
  password: string,
): Promise<{ imageRef: string; imageRefAlt: string }> {
  const ids = await registerGuest(files, { authUrl, password });
  if (!ids.bootDisk) throw new Error('the test guest has no self-booting disk (build it again)');
  return { imageRef: ids.bootDisk, imageRefAlt: ids.disk };
}

/** [validation] as DevStack's lib/tempest writes it, for the test guest (root, key from tempest). */
export function validationSections(set: (section: string, key: string, value: string) => void, sshNetwork: string) {
  set('validation', 'run_validation', 'True');
  set('validation', 'connect_method', 'floating');
  set('validation', 'auth_method', 'keypair');
  set('validation', 'ip_version_for_ssh', '4');
  set('validation', 'image_ssh_user', 'root');
  set('validation', 'image_alt_ssh_user', 'root');
  set('validation', 'network_for_ssh', sshNetwork);
  set('validation', 'ssh_timeout', '196');
  set('validation', 'ping_timeout', '120');
  set('validation', 'connect_timeout', '60');
  set('validation', 'security_group', 'True');
  set('validation', 'security_group_rules', 'True');
}

/** [compute-feature-enabled] changes when servers are real guests on one host (two hosts: LIBVIRT_TWO_HOST_FEATURES after). */
export const LIBVIRT_COMPUTE_FEATURES: Record<string, boolean> = {
  // One compute host: nowhere to move to.
  cold_migration: false,
  live_migration: false,
  block_migration_for_live_migration: false,
  live_migrate_back_and_forth: false,
  volume_backed_live_migration: false,
  // The guest reads both (guest/init.ts).
  metadata_service: true,
  config_drive: true,
  // The libvirt driver swaps an attached volume with QEMU's block copy (virsh blockcopy --pivot).
  swap_volume: true,
  // nova-novncproxy relays to the guests' VNC (compute/console_proxy/).
  vnc_console: true,
  // Nova's libvirt driver sets it through the QEMU guest agent: the test guest's /bin/qemu-ga.
  change_password: true,
};

/**
 * With two libvirt hosts (--libvirt-hosts 2): the moves between them, as DevStack's multinode job
 * (tempest-multinode-full) sets them. Live migration is a block migration (no shared storage):
 * virsh migrate --copy-storage-all between the hosts' libvirtds (drivers/libvirt/migrate.ts).
 */
export const LIBVIRT_TWO_HOST_FEATURES: Record<string, boolean> = {
  cold_migration: true,
  live_migration: true,
  block_migration_for_live_migration: true,
  live_migrate_back_and_forth: true,
  volume_backed_live_migration: true,
};

/** Removes what the run left on its hosts (both, whatever the run had): domains, libvirtd and virtlogd, network data plane, namespace. */
export async function cleanupLibvirtHost(stateDir: string, log: (s: string) => void): Promise<void> {
  for (const host of ALL_LIBVIRT_HOSTS) await cleanupOneHost(host, stateDir, log);
}

async function cleanupOneHost(host: string, stateDir: string, log: (s: string) => void): Promise<void> {
  const d = new Libvirtd({ host, stateDir: path.join(stateDir, host) });
  if (await d.alive()) {
    const names = (await d.virsh(['list', '--all', '--name']).catch(() => ''))
      .split('\n')
      .map((s) => s.trim())
      .filter(Boolean);
    // The run's instances (options.ts: `<dataDir>/instances`, `<dataDir>/instances-<host>` for the other host).
    const instances = path.join(path.dirname(stateDir), host === LIBVIRT_HOST ? 'instances' : `instances-${host}`);
    for (const n of names) {
      const uuid = (await d.virsh(['domuuid', n]).catch(() => '')).trim();
      // Its console sockets' own directory under /run/stratus when the instance directory is deep (xml.ts).
      if (uuid) removeConsoleSocketDir(path.join(instances, uuid));
      await d.virsh(['destroy', n]).catch(() => undefined);
      await d
        .virsh(['undefine', '--managed-save', '--nvram', n])
        .catch(() => d.virsh(['undefine', '--managed-save', n]).catch(() => undefined));
    }
    if (names.length) log(`removed ${names.length} domain(s) left by the run on ${host}: ${names.join(' ')}`);
    await d.stop({ any: true });
  }
  // The host's network data plane too, when Stratus did not get to remove it (killed at stop).
  await cleanupHost(host).catch((e: Error) => log(`network cleanup of ${host}: ${e.message}`));
  await deleteHostNamespace(host);
  // Its run directory (libvirtd's socket and pid files, the linuxbridge state): /run/stratus/<host>.
  fs.rmSync(path.join('/run/stratus', host), { recursive: true, force: true });
}
