// Builds the second test image: a real Debian 12 guest with cloud-init, openssh-server and
// redis-server (the book's cloud-init chapter and its Redis case), when asked
// (`stratus image build-guest --debian`), never in a test run.
//
// How, without loop devices or mounts: `mmdebstrap` makes the root file system in a directory
// from the Debian archive this machine's apt uses (its sources files naming the suite), with
// Debian's cloud kernel and an initramfs that loads ata_piix and sr_mod (the config drive is an
// IDE CD-ROM) and virtio; `mke2fs -d` turns the directory into an ext4 image (no partition
// table), `qemu-img convert` into qcow2. The kernel and initramfs are taken out of /boot and
// registered beside the disk, as DevStack registers CirrOS's "uec" images (kernel_id,
// ramdisk_id): the libvirt driver then boots them directly (`-kernel`), with no bootloader to
// install (which would need a mounted file system) and the serial console on the command line.
// Cached like the tiny guest: a manifest with the hash of the build's inputs.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { GuestFiles } from './build.ts';

const run = promisify(execFile);

export const DEBIAN_SUITE = 'bookworm';
export const DEBIAN_IMAGE_NAME = 'debian-12-cloud';
/** Every file system time (SOURCE_DATE_EPOCH, E2FSPROGS_FAKE_TIME): the same packages give the same bytes where cheap. */
const EPOCH = 1700000000;
/** The root file system's UUID (fixed: the build is reproducible, the guest's fstab names its device). */
const ROOT_UUID = '5e3a7d2c-0b1f-4d8e-9c6a-57a7a5d2e001';
const ROOT_SIZE = '2G';

/** What the image is made of, beyond Debian's required packages (systemd is cloud-init's init). */
export const DEBIAN_PACKAGES = [
  'systemd-sysv',
  'udev',
  'dbus',
  'linux-image-cloud-amd64',
  'initramfs-tools',
  'cloud-init',
  'openssh-server',
  'redis-server',
  'sudo',
  'ifupdown',
  'isc-dhcp-client',
  'netbase',
  'iproute2',
  'e2fsprogs',
];

/** The modules the initramfs loads before it looks for the root disk and cloud-init for the config drive. */
export const DEBIAN_INITRAMFS_MODULES = [
  'virtio_pci',
  'virtio_blk',
  'virtio_net',
  'ext4',
  'ata_piix',
  'sr_mod',
  'isofs',
];

/** The cloud-init settings the image carries (/etc/cloud/cloud.cfg.d/90_stratus.cfg). */
export const DEBIAN_CLOUD_CFG = `# Stratus's Debian guest: Nova's config drive or metadata service only (no probing of other clouds).
datasource_list: [ ConfigDrive, OpenStack, None ]
datasource:
  OpenStack:
    max_wait: 120
    timeout: 10
# C.UTF-8 is in libc: no locales package, no locale-gen at first boot.
locale: C.UTF-8
`;

/** The kernel command line the image asks for (image property os_command_line). */
/** `no_timer_check`: see GUEST_CMDLINE in register.ts (a TCG guest on a loaded machine fails the IO-APIC timer check). */
export const DEBIAN_CMDLINE = 'root=/dev/vda ro console=tty0 console=ttyS0,115200n8 no_timer_check';

/** The console line the libvirt driver waits for: cloud-init started from the root file system. */
export const DEBIAN_BOOT_MARKER = 'Cloud-init v. ';

const CUSTOMIZE = `#!/bin/sh
# mmdebstrap --customize-hook: $1 is the root file system.
set -e
R="$1"
for m in ${DEBIAN_INITRAMFS_MODULES.join(' ')}; do echo "$m" >> "$R/etc/initramfs-tools/modules"; done
chroot "$R" update-initramfs -u -k all
echo '/dev/vda / ext4 rw,discard,errors=remount-ro 0 1' > "$R/etc/fstab"
echo debian > "$R/etc/hostname"
printf '127.0.0.1 localhost\\n127.0.1.1 debian\\n::1 localhost ip6-localhost ip6-loopback\\n' > "$R/etc/hosts"
printf 'auto lo\\niface lo inet loopback\\n\\nsource /etc/network/interfaces.d/*\\n' > "$R/etc/network/interfaces"
# A network without a DHCPv6 server (network_data.json says ipv6_dhcp for any IPv6 subnet)
# costs 30 s at boot, not networking.service's 5 minutes: ifup -a is given up on then, the
# dhclients it started (IPv4's lease renewals) keep running.
echo 'timeout 30;' >> "$R/etc/dhcp/dhclient.conf"
mkdir -p "$R/etc/systemd/system/networking.service.d"
printf '[Service]\nTimeoutStartSec=30\nKillMode=process\n' > "$R/etc/systemd/system/networking.service.d/stratus.conf"
# Each guest makes its own identity at first boot (cloud-init regenerates the SSH host keys).
rm -f "$R"/etc/ssh/ssh_host_*
: > "$R/etc/machine-id"
rm -f "$R/var/lib/dbus/machine-id"
rm -rf "$R"/var/log/*.log "$R"/var/cache/ldconfig/aux-cache "$R"/tmp/* "$R"/var/tmp/*
`;

export interface DebianGuestFiles extends GuestFiles {
  /** The image properties the libvirt driver boots it with. */
  properties: Record<string, string | number>;
}

/** The programs the build needs, and the Debian package of each. */
export const DEBIAN_BUILD_NEEDS: Record<string, string> = {
  '/usr/bin/mmdebstrap': 'mmdebstrap',
  '/usr/sbin/mke2fs': 'e2fsprogs',
  '/usr/bin/qemu-img': 'qemu-utils',
};

export function missingDebianTools(): string[] {
  return [...new Set(Object.entries(DEBIAN_BUILD_NEEDS).flatMap(([f, pkg]) => (fs.existsSync(f) ? [] : [pkg])))];
}

/** This machine's apt sources that name the suite (mmdebstrap reads sources.list and deb822 files). */
export function aptSources(suite = DEBIAN_SUITE): string[] {
  const files: string[] = [];
  if (fs.existsSync('/etc/apt/sources.list')) files.push('/etc/apt/sources.list');
  const d = '/etc/apt/sources.list.d';
  if (fs.existsSync(d))
    for (const f of fs.readdirSync(d).sort()) if (/\.(list|sources)$/.test(f)) files.push(path.join(d, f));
  return files.filter((f) =>
    fs
      .readFileSync(f, 'utf8')
      .split('\n')
      .some((l) => !l.trimStart().startsWith('#') && new RegExp(`\\b${suite}\\b`).test(l)),
  );
}

function buildInputs(sources: string[]): string {
  const h = createHash('sha256')
    .update(DEBIAN_SUITE)
    .update(DEBIAN_PACKAGES.join(','))
    .update(DEBIAN_CLOUD_CFG)
    .update(CUSTOMIZE);
  for (const f of sources) h.update(fs.readFileSync(f));
  return h.digest('hex');
}

const sha256File = async (file: string) => {
  const h = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
};

/** The Debian guest in `dir`, built when it is not there yet, its inputs changed, or `force`. */
export async function buildDebianGuest(
  dir: string,
  o: { force?: boolean; log?: (msg: string) => void } = {},
): Promise<DebianGuestFiles> {
  const log = o.log ?? (() => undefined);
  const manifest = path.join(dir, 'manifest.json');
  const sources = aptSources();
  const inputs = buildInputs(sources);
  if (!o.force && fs.existsSync(manifest)) {
    const m = JSON.parse(fs.readFileSync(manifest, 'utf8')) as DebianGuestFiles;
    // The properties are how it is registered, not what it is made of: always today's.
    if (m.inputs === inputs && [m.kernel, m.ramdisk, m.disk].every((f) => fs.existsSync(f)))
      return { ...m, properties: debianImageProperties() };
  }
  if (process.getuid?.() !== 0) throw new Error('building the Debian guest needs root (mmdebstrap --mode=root)');
  const missing = missingDebianTools();
  if (missing.length) throw new Error(`building the Debian guest needs the Debian packages: ${missing.join(' ')}`);
  if (!sources.length) throw new Error(`no apt sources file of this machine names ${DEBIAN_SUITE}`);
  fs.mkdirSync(dir, { recursive: true });
  const work = fs.mkdtempSync(path.join(dir, '.build-'));
  const env = { ...process.env, SOURCE_DATE_EPOCH: String(EPOCH), E2FSPROGS_FAKE_TIME: String(EPOCH) };
  try {
    const root = path.join(work, 'root');
    const hook = path.join(work, 'customize.sh');
    fs.writeFileSync(hook, CUSTOMIZE, { mode: 0o755 });
    log(`mmdebstrap ${DEBIAN_SUITE} from ${sources.join(', ')} (about a minute)`);
    const t0 = Date.now();
    try {
      await run(
        'mmdebstrap',
        [
          '--variant=minbase',
          '--mode=root',
          '--format=directory',
          `--include=${DEBIAN_PACKAGES.join(',')}`,
          // No documentation or translations in the guest (~40 MB).
          '--dpkgopt=path-exclude=/usr/share/man/*',
          '--dpkgopt=path-exclude=/usr/share/doc/*',
          '--dpkgopt=path-include=/usr/share/doc/*/copyright',
          '--dpkgopt=path-exclude=/usr/share/locale/*',
          `--customize-hook=${hook}`,
          DEBIAN_SUITE,
          root,
          ...sources,
        ],
        { env, maxBuffer: 1 << 26 },
      );
    } catch (e) {
      const err = e as Error & { stderr?: string };
      throw new Error(`mmdebstrap failed: ${(err.stderr ?? err.message).trim().split('\n').slice(-15).join('\n')}`);
    }
    log(`root file system in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    fs.writeFileSync(path.join(root, 'etc/cloud/cloud.cfg.d/90_stratus.cfg'), DEBIAN_CLOUD_CFG);
    const boot = path.join(root, 'boot');
    const kernelName = fs.readdirSync(boot).find((f) => f.startsWith('vmlinuz-'));
    const initrdName = fs.readdirSync(boot).find((f) => f.startsWith('initrd.img-'));
    if (!kernelName || !initrdName) throw new Error('the Debian root file system has no kernel or initramfs in /boot');
    const release = kernelName.slice('vmlinuz-'.length);
    const files: DebianGuestFiles = {
      dir,
      kernel: path.join(dir, 'vmlinuz'),
      ramdisk: path.join(dir, 'initrd.img'),
      disk: path.join(dir, 'disk.qcow2'),
      kernelPackage: `linux-image-${release}`,
      inputs,
      sha256: { kernel: '', ramdisk: '', disk: '' },
      properties: {},
    };
    fs.copyFileSync(path.join(boot, kernelName), files.kernel);
    fs.copyFileSync(path.join(boot, initrdName), files.ramdisk);
    log('ext4 image (mke2fs -d) and qcow2');
    const raw = path.join(work, 'root.img');
    try {
      await run(
        'mke2fs',
        [
          '-q',
          '-F',
          '-t',
          'ext4',
          '-L',
          'debian-root',
          '-U',
          ROOT_UUID,
          '-E',
          `root_owner=0:0,hash_seed=${ROOT_UUID}`,
          '-d',
          root,
          raw,
          ROOT_SIZE,
        ],
        { env, maxBuffer: 1 << 24 },
      );
      const tmp = `${files.disk}.tmp`;
      await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, tmp], { maxBuffer: 1 << 24 });
      fs.renameSync(tmp, files.disk);
    } catch (e) {
      const err = e as Error & { stderr?: string };
      throw new Error(`making the disk image failed: ${(err.stderr ?? err.message).trim()}`);
    }
    files.sha256 = {
      kernel: await sha256File(files.kernel),
      ramdisk: await sha256File(files.ramdisk),
      disk: await sha256File(files.disk),
    };
    files.properties = debianImageProperties();
    fs.writeFileSync(manifest, `${JSON.stringify(files, null, 2)}\n`);
    log(`Debian guest built in ${dir} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    return files;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** The disk image's properties: how the libvirt driver boots it right (besides kernel_id and ramdisk_id). */
export function debianImageProperties(): Record<string, string | number> {
  return {
    os_type: 'linux',
    os_distro: 'debian',
    os_version: '12',
    os_command_line: DEBIAN_CMDLINE,
    hw_disk_bus: 'virtio',
    hw_vif_model: 'virtio',
    // The config drive is an IDE CD-ROM (ata_piix + sr_mod in the initramfs).
    hw_cdrom_bus: 'ide',
    hw_machine_type: 'pc',
    hw_rng_model: 'virtio',
    // No qemu-guest-agent package in it (the tiny guest's defaults say yes).
    hw_qemu_guest_agent: 'no',
    stratus_boot_marker: DEBIAN_BOOT_MARKER,
    // cloud-init, sshd and redis need more than the tiny guest.
    min_ram: 512,
    min_disk: 2,
  };
}
