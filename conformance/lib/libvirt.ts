// The conformance cloud with real guests (`--driver libvirt`): the libvirt virt driver on one
// compute host with the Linux bridge data plane, the test guest built once into
// conformance/work/guest and registered as DevStack registers CirrOS, tempest told to SSH into
// its servers (run_validation) through floating IPs as root with the key it makes, and, when
// the run ends, every domain, daemon and namespace of the host removed.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { buildGuest, type GuestFiles } from '../../src/compute/guest/build.ts';
import { registerGuest } from '../../src/compute/guest/register.ts';
import { Libvirtd } from '../../src/compute/drivers/libvirt/daemon.ts';
import { deleteHostNamespace } from '../../src/core/hostns.ts';
import { cleanupHost } from '../../src/network/drivers/linuxbridge/index.ts';

/** The compute (and network agent) host of the conformance cloud with real guests. */
export const LIBVIRT_HOST = 'tempest-lv';

/** compute: in stratus.yaml for `--driver libvirt`. */
export function libvirtComputeConfig(guestDir: string, metadataPort: number): Record<string, unknown> {
  return {
    host: LIBVIRT_HOST,
    driver: 'libvirt',
    // One host: DevStack's single-node job resizes on the same host.
    allowResizeToSameHost: true,
    libvirt: { guestDir, statsInterval: 2, shutdownTimeout: 30 },
    // nova-novncproxy on a free port (the URLs the API hands out name it).
    consoleProxy: { novnc: { port: 0 } },
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

/** [compute-feature-enabled] changes when servers are real guests on one host. */
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

/** Removes what the run left on the host: its domains, libvirtd and virtlogd, its network data plane, its namespace. */
export async function cleanupLibvirtHost(stateDir: string, log: (s: string) => void): Promise<void> {
  const d = new Libvirtd({ host: LIBVIRT_HOST, stateDir: path.join(stateDir, LIBVIRT_HOST) });
  if (await d.alive()) {
    const names = (await d.virsh(['list', '--all', '--name']).catch(() => ''))
      .split('\n')
      .map((s) => s.trim())
      .filter(Boolean);
    for (const n of names) {
      await d.virsh(['destroy', n]).catch(() => undefined);
      await d
        .virsh(['undefine', '--managed-save', '--nvram', n])
        .catch(() => d.virsh(['undefine', '--managed-save', n]).catch(() => undefined));
    }
    if (names.length) log(`removed ${names.length} domain(s) left by the run: ${names.join(' ')}`);
    await d.stop({ any: true });
  }
  // The host's network data plane too, when Stratus did not get to remove it (killed at stop).
  await cleanupHost(LIBVIRT_HOST).catch((e: Error) => log(`network cleanup: ${e.message}`));
  await deleteHostNamespace(LIBVIRT_HOST);
}
