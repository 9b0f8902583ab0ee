// Builds the test guest (a CirrOS-like guest from Debian packages), reproducibly, into a cache
// directory: Debian's cloud kernel (`apt-get download` + `dpkg-deb -x`, never installed on the
// host), an initramfs with the static busybox, dropbear and its libraries, the virtio modules
// and guest/init.ts's /init, and an empty qcow2 root disk. Booted as DevStack boots CirrOS's
// "uec" images: the disk image names its kernel and ramdisk images (kernel_id, ramdisk_id).
// Also a self-booting disk (`disk-boot.qcow2`: a FAT volume with SYSLINUX, the kernel and the
// initramfs), which boots as CirrOS's "disk" image does, for tempest's [scenario] img_file.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { tinyQcow2 } from '../../core/qcow2.ts';
import { GUEST_MODULES, GUEST_TOOLS, INIT_SCRIPT, UDHCPC_SCRIPT } from './init.ts';

const run = promisify(execFile);
/** Every file of the initramfs gets this time (SOURCE_DATE_EPOCH): the same inputs give the same bytes. */
const EPOCH = 1700000000;
const KERNEL_META_PACKAGE = 'linux-image-cloud-amd64';
const HOST_PROGRAMS = ['/usr/sbin/dropbear', '/usr/bin/dropbearkey'];
/** The guest's UDP nc (busybox's has none): /usr/lib/stratus/udp/nc, behind GUEST_TOOLS's nc. */
const UDP_NC = '/usr/bin/nc.openbsd';
/** The initramfs's layout version: a change to how buildInitramfs lays files out rebuilds. */
const LAYOUT = 'applets-at-full-paths,sh-from-busybox-deb';
/**
 * The guest's /bin/sh: the ash of Debian's dynamic `busybox` package. busybox-static's ash is built
 * "standalone" (it runs its own applets before looking in PATH), so GUEST_TOOLS's nc and mke2fs
 * were never found by `sh -c 'nc …'`; the dynamic build looks in PATH as CirrOS's ash does.
 */
const SHELL_PACKAGE = 'busybox';

export interface GuestFiles {
  dir: string;
  kernel: string;
  ramdisk: string;
  disk: string;
  /** The self-booting disk (SYSLINUX + kernel + initramfs on FAT), for images that name no kernel (the tiny guest's). */
  bootDisk?: string;
  /** The kernel package the guest was built from. */
  kernelPackage: string;
  /** sha256 of what the build is made of (init scripts, module list, host programs): a change rebuilds. */
  inputs: string;
  /** sha256 of kernel, ramdisk and disk. */
  sha256: { kernel: string; ramdisk: string; disk: string; bootDisk?: string };
}

/** The programs the build needs, and the Debian package of each. */
export const GUEST_BUILD_NEEDS: Record<string, string> = {
  '/usr/bin/busybox': 'busybox-static',
  '/usr/sbin/dropbear': 'dropbear-bin',
  '/usr/bin/nc.openbsd': 'netcat-openbsd',
  '/usr/bin/cpio': 'cpio',
  '/usr/bin/apt-get': 'apt',
  '/usr/bin/dpkg-deb': 'dpkg',
  '/usr/sbin/mkfs.vfat': 'dosfstools',
  '/usr/bin/mcopy': 'mtools',
  '/usr/bin/syslinux': 'syslinux',
  '/usr/bin/qemu-img': 'qemu-utils',
};

/** What the guest build lacks on this machine, as Debian package names (empty: it can build). */
export function missingGuestTools(): string[] {
  return [...new Set(Object.entries(GUEST_BUILD_NEEDS).flatMap(([f, pkg]) => (fs.existsSync(f) ? [] : [pkg])))];
}

/** The hash of the build's inputs. */
function buildInputs(): string {
  const h = createHash('sha256')
    .update(LAYOUT)
    .update(INIT_SCRIPT)
    .update(UDHCPC_SCRIPT)
    .update(GUEST_MODULES.join(','));
  for (const [name, text] of Object.entries(GUEST_TOOLS)) h.update(name).update(text);
  h.update(SYSLINUX_CFG);
  for (const f of ['/usr/bin/busybox', UDP_NC, ...HOST_PROGRAMS])
    h.update(fs.existsSync(f) ? String(fs.statSync(f).size) : '-');
  return h.digest('hex');
}

const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** The guest in `dir`, built when it is not there yet (or `force`). */
export async function buildGuest(dir: string, o: { force?: boolean; log?: (msg: string) => void } = {}) {
  const log = o.log ?? (() => undefined);
  const manifest = path.join(dir, 'manifest.json');
  const inputs = buildInputs();
  if (!o.force && fs.existsSync(manifest)) {
    const m = JSON.parse(fs.readFileSync(manifest, 'utf8')) as GuestFiles;
    if (m.inputs === inputs) return m;
  }
  const missing = missingGuestTools();
  if (missing.length) throw new Error(`building the test guest needs the Debian packages: ${missing.join(' ')}`);
  fs.mkdirSync(dir, { recursive: true });
  const kernelDir = path.join(dir, 'kernel');
  const kernelPackage = await fetchKernel(kernelDir, log);
  const shell = await fetchShell(path.join(dir, 'shell'), log);
  const release = fs.readdirSync(path.join(kernelDir, 'lib/modules'))[0]!;
  const files: GuestFiles = {
    dir,
    kernel: path.join(dir, 'vmlinuz'),
    ramdisk: path.join(dir, 'initrd.img'),
    disk: path.join(dir, 'disk.qcow2'),
    bootDisk: path.join(dir, 'disk-boot.qcow2'),
    kernelPackage,
    inputs,
    sha256: { kernel: '', ramdisk: '', disk: '', bootDisk: '' },
  };
  fs.copyFileSync(path.join(kernelDir, 'boot', `vmlinuz-${release}`), files.kernel);
  log('building the initramfs');
  await buildInitramfs(path.join(kernelDir, 'lib/modules', release), shell, files.ramdisk);
  fs.writeFileSync(files.disk, tinyQcow2(1024 ** 3));
  log('building the self-booting disk');
  const bootDisk = path.join(dir, 'disk-boot.qcow2');
  await buildBootDisk(files.kernel, files.ramdisk, bootDisk);
  files.sha256 = {
    kernel: sha256(files.kernel),
    ramdisk: sha256(files.ramdisk),
    disk: sha256(files.disk),
    bootDisk: sha256(bootDisk),
  };
  fs.writeFileSync(manifest, `${JSON.stringify(files, null, 2)}\n`);
  log(`test guest built in ${dir}`);
  return files;
}

// no_timer_check: under TCG on a busy host the kernel's IO-APIC timer check fails and it panics
// ("IO-APIC + timer doesn't work"); cloud images boot with it for that reason.
const SYSLINUX_CFG = `DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  KERNEL vmlinuz
  INITRD initrd.img
  APPEND console=tty0 console=ttyS0 no_timer_check
`;

/**
 * A disk that boots by itself: a FAT file system (no partition table: SeaBIOS boots its boot
 * sector) holding SYSLINUX, the kernel and the initramfs. Made with mtools, without loop
 * devices or mounts; a fixed volume id and file times keep it reproducible.
 */
async function buildBootDisk(kernel: string, ramdisk: string, out: string) {
  const raw = `${out}.raw`;
  const cfg = path.join(path.dirname(out), 'syslinux.cfg');
  fs.rmSync(raw, { force: true });
  try {
    const kib = Math.ceil((fs.statSync(kernel).size + fs.statSync(ramdisk).size) / 1024) + 4096;
    fs.writeFileSync(cfg, SYSLINUX_CFG);
    for (const f of [kernel, ramdisk, cfg]) fs.utimesSync(f, EPOCH, EPOCH);
    await run('mkfs.vfat', ['-C', '-i', '5354524b', '-n', 'STRATUS', raw, String(kib)]);
    await run('mcopy', ['-m', '-i', raw, kernel, ramdisk, cfg, '::/'], {
      env: { ...process.env, MTOOLS_SKIP_CHECK: '1' },
    });
    await run('syslinux', ['--install', raw]);
    await run('qemu-img', ['convert', '-O', 'qcow2', raw, out]);
  } finally {
    fs.rmSync(raw, { force: true });
    fs.rmSync(cfg, { force: true });
  }
}

/** Debian's cloud kernel, extracted (not installed) into `dir`; returns its package name. */
async function fetchKernel(dir: string, log: (m: string) => void): Promise<string> {
  const done = path.join(dir, '.package');
  const kept = () => {
    const release = fs.readdirSync(path.join(dir, 'lib/modules'))[0]!;
    return GUEST_MODULES.every((m) => fs.existsSync(path.join(dir, 'lib/modules', release, m)));
  };
  // Extracted again when the guest needs a module the cache did not keep.
  if (fs.existsSync(done) && kept()) return fs.readFileSync(done, 'utf8').trim();
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  // The package lists may be gone (container images' apt hooks remove them): fetched once then.
  const depends = () => run('apt-cache', ['depends', KERNEL_META_PACKAGE]).then((r) => r.stdout);
  const deps = await depends().catch(async () => {
    log('apt-get update (no package lists)');
    await run('apt-get', ['update', '-q'], { maxBuffer: 1 << 24 });
    return depends();
  });
  const pkg = /Depends:\s*(linux-image-\S+)/.exec(deps)?.[1];
  if (!pkg) throw new Error(`apt-cache does not know ${KERNEL_META_PACKAGE} (is the Debian archive reachable?)`);
  log(`downloading ${pkg}`);
  const dl = path.join(dir, 'deb');
  fs.mkdirSync(dl);
  await run('apt-get', ['download', pkg], { cwd: dl, maxBuffer: 1 << 24 });
  const deb = fs.readdirSync(dl).find((f) => f.endsWith('.deb'));
  if (!deb) throw new Error(`apt-get download ${pkg} gave no .deb`);
  const x = path.join(dir, 'x');
  await run('dpkg-deb', ['-x', path.join(dl, deb), x]);
  // Keep the kernel and the modules the guest loads; drop the rest (~90 MB).
  const release = fs.readdirSync(path.join(x, 'lib/modules'))[0]!;
  fs.mkdirSync(path.join(dir, 'boot'));
  fs.renameSync(path.join(x, 'boot', `vmlinuz-${release}`), path.join(dir, 'boot', `vmlinuz-${release}`));
  for (const m of GUEST_MODULES) {
    const to = path.join(dir, 'lib/modules', release, m);
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.renameSync(path.join(x, 'lib/modules', release, m), to);
  }
  fs.rmSync(x, { recursive: true, force: true });
  fs.rmSync(dl, { recursive: true, force: true });
  fs.writeFileSync(done, `${deb.replace(/\.deb$/, '')}\n`);
  return deb.replace(/\.deb$/, '');
}

/** Debian's dynamic busybox (the guest's /bin/sh), extracted into `dir`; returns the binary's path. */
async function fetchShell(dir: string, log: (m: string) => void): Promise<string> {
  const bin = path.join(dir, 'busybox');
  if (fs.existsSync(bin)) return bin;
  fs.rmSync(dir, { recursive: true, force: true });
  const dl = path.join(dir, 'deb');
  fs.mkdirSync(dl, { recursive: true });
  log(`downloading ${SHELL_PACKAGE}`);
  await run('apt-get', ['download', SHELL_PACKAGE], { cwd: dl, maxBuffer: 1 << 24 }).catch(async () => {
    log('apt-get update (no package lists)');
    await run('apt-get', ['update', '-q'], { maxBuffer: 1 << 24 });
    await run('apt-get', ['download', SHELL_PACKAGE], { cwd: dl, maxBuffer: 1 << 24 });
  });
  const deb = fs.readdirSync(dl).find((f) => f.endsWith('.deb'));
  if (!deb) throw new Error(`apt-get download ${SHELL_PACKAGE} gave no .deb`);
  const x = path.join(dir, 'x');
  await run('dpkg-deb', ['-x', path.join(dl, deb), x]);
  fs.renameSync(path.join(x, 'bin/busybox'), bin);
  fs.rmSync(x, { recursive: true, force: true });
  fs.rmSync(dl, { recursive: true, force: true });
  return bin;
}

/** The shared libraries a host program needs (from ldd), with the loader. */
async function libsOf(program: string): Promise<string[]> {
  const out = (await run('ldd', [program])).stdout;
  return [...out.matchAll(/(\/\S+\.so[.\d]*)/g)].map((m) => m[1]!);
}

async function buildInitramfs(modulesDir: string, shell: string, out: string) {
  const root = fs.mkdtempSync(path.join(path.dirname(out), '.initramfs-'));
  try {
    const put = (rel: string, data: string | Buffer, mode = 0o644) => {
      const p = path.join(root, rel);
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, data, { mode });
    };
    for (const d of ['bin', 'sbin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'run', 'root', 'mnt', 'var'])
      fs.mkdirSync(path.join(root, d), { recursive: true });
    put('bin/busybox', fs.readFileSync('/usr/bin/busybox'), 0o755);
    const applets = (await run('/usr/bin/busybox', ['--list'])).stdout.split('\n').filter((a) => /^[\w.-]+$/.test(a));
    for (const a of applets) if (a !== 'busybox') fs.symlinkSync('busybox', path.join(root, 'bin', a));
    // Each applet also at busybox's own path (/sbin/ip, /usr/bin/nc, /usr/sbin/arping...), as
    // CirrOS has them: neutron_tempest_plugin runs `sudo /sbin/ip` over SSH. They point at /bin's
    // link, so GUEST_TOOLS's replacements below win there too.
    for (const full of (await run('/usr/bin/busybox', ['--list-full'])).stdout.split('\n')) {
      const name = path.basename(full);
      if (!/^(usr\/)?s?bin\/[\w.-]+$/.test(full) || full.startsWith('bin/') || !applets.includes(name)) continue;
      fs.mkdirSync(path.join(root, path.dirname(full)), { recursive: true });
      fs.symlinkSync(`/bin/${name}`, path.join(root, full));
    }
    for (const prog of HOST_PROGRAMS) {
      put(`bin/${path.basename(prog)}`, fs.readFileSync(prog), 0o755);
      for (const lib of await libsOf(prog)) put(lib.slice(1), fs.readFileSync(lib), 0o755);
    }
    // busybox's nc under the name nc, for GUEST_TOOLS's nc (pidof and killall look for "nc").
    fs.mkdirSync(path.join(root, 'usr/lib/stratus'), { recursive: true });
    fs.symlinkSync('/bin/busybox', path.join(root, 'usr/lib/stratus/nc'));
    put('usr/lib/stratus/udp/nc', fs.readFileSync(UDP_NC), 0o755);
    for (const lib of await libsOf(UDP_NC)) put(lib.slice(1), fs.readFileSync(lib), 0o755);
    // /bin/sh: the dynamic busybox's ash (see SHELL_PACKAGE), linked as sh (busybox runs the applet
    // its name says); every other applet stays the static busybox's.
    put('usr/lib/stratus/busybox-sh', fs.readFileSync(shell), 0o755);
    for (const lib of await libsOf(shell)) put(lib.slice(1), fs.readFileSync(lib), 0o755);
    fs.rmSync(path.join(root, 'bin/sh'));
    fs.symlinkSync('/usr/lib/stratus/busybox-sh', path.join(root, 'bin/sh'));
    put('init', INIT_SCRIPT, 0o755);
    put('etc/udhcpc.sh', UDHCPC_SCRIPT, 0o755);
    // Replaces busybox's link where there is one (its mke2fs would refuse tempest's `-t ext4`).
    for (const [name, text] of Object.entries(GUEST_TOOLS)) {
      fs.rmSync(path.join(root, 'bin', name), { force: true });
      put(`bin/${name}`, text, 0o755);
    }
    put('etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n');
    // Dropbear refuses a root whose password field is empty.
    put('etc/shadow', 'root:*:19000:0:99999:7:::\n', 0o600);
    put('etc/group', 'root:x:0:\n');
    put('etc/shells', '/bin/sh\n');
    put('etc/hostname', 'stratus-guest\n');
    put('etc/modules', `${GUEST_MODULES.join('\n')}\n`);
    for (const m of GUEST_MODULES) put(`lib/modules/${m}`, fs.readFileSync(path.join(modulesDir, m)));
    // Reproducible: every entry the same time, sorted names, no gzip name/time.
    const all = (await run('find', ['.', '-mindepth', '1'], { cwd: root, maxBuffer: 1 << 24 })).stdout
      .split('\n')
      .filter(Boolean)
      .sort();
    await run('touch', ['-h', '-d', `@${EPOCH}`, ...all], { cwd: root, maxBuffer: 1 << 24 });
    await new Promise<void>((resolve, reject) => {
      const sh = execFile(
        'sh',
        ['-c', `cpio --quiet -o -H newc --reproducible -R 0:0 | gzip -n -9 > ${JSON.stringify(out)}`],
        { cwd: root },
        (err) => (err ? reject(err) : resolve()),
      );
      sh.stdin!.end(`${all.join('\n')}\n`);
    });
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}
