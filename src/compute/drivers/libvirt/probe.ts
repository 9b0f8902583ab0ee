// The KVM probe (virtType: auto). On these machines /dev/kvm exists, QEMU's query-kvm says
// enabled and libvirt reports a KVM guest as running, yet a Linux guest never prints a byte: no
// API tells, only behaviour does. Measured here: a bare boot sector under KVM does run (SeaBIOS
// and real mode are fine), so a tiny probe is not enough; the probe boots the test guest's own
// Linux kernel and initramfs (compute.libvirt.guestDir) with <domain type='kvm'> and waits for
// its init's boot marker on the serial console. First the 512-byte boot sector (a quick no when
// KVM cannot run anything), then the kernel. KVM only when both print within the timeout;
// otherwise TCG (type='qemu'), and the log says why. Without a built test guest there is nothing
// Linux to probe with: TCG, and the log says so. The answer is cached in the daemon's run
// directory, keyed by libvirtd's pid: once per libvirtd, not per start.
import fs from 'node:fs';
import path from 'node:path';
import type { Libvirtd } from './daemon.ts';
import { esc } from './xml.ts';

export const PROBE_MARKER = 'STRATUS-PROBE-OK';

/**
 * A boot sector (real mode, loaded at 0:7c00 by the BIOS): DS=0, SI=message, then each byte out
 * to COM1's data port (0x3f8) until the NUL, then hlt forever. Hand-assembled:
 *   fa            cli
 *   31 c0         xor ax, ax
 *   8e d8         mov ds, ax
 *   be 16 7c      mov si, 0x7c16        ; the message, 22 bytes into the sector
 *   ba f8 03      mov dx, 0x3f8
 * l:ac            lodsb
 *   84 c0         test al, al
 *   74 03         jz h
 *   ee            out dx, al
 *   eb f8         jmp l
 * h:f4            hlt
 *   eb fd         jmp h
 *   <message> 0d 0a 00, zeros, 55 aa
 */
export function probeBootSector(marker = PROBE_MARKER): Buffer {
  const code = [0xfa, 0x31, 0xc0, 0x8e, 0xd8, 0xbe, 0x16, 0x7c, 0xba, 0xf8, 0x03];
  code.push(0xac, 0x84, 0xc0, 0x74, 0x03, 0xee, 0xeb, 0xf8, 0xf4, 0xeb, 0xfd);
  const sector = Buffer.alloc(512);
  Buffer.from(code).copy(sector, 0);
  Buffer.from(`\r\n${marker}\r\n\0`, 'latin1').copy(sector, code.length);
  sector[510] = 0x55;
  sector[511] = 0xaa;
  return sector;
}

/** A Linux kernel and initramfs to probe with, and what its init prints once it runs. */
export interface ProbeLinux {
  kernel: string;
  ramdisk: string;
  marker: string;
}

export function probeDomainXml(o: {
  name: string;
  type: 'kvm' | 'qemu';
  disk: string;
  log: string;
  linux?: ProbeLinux;
}): string {
  const boot = o.linux
    ? `<kernel>${esc(o.linux.kernel)}</kernel><initrd>${esc(o.linux.ramdisk)}</initrd><cmdline>console=ttyS0 panic=-1</cmdline>`
    : `<boot dev='hd'/>`;
  const disk = o.linux
    ? ''
    : `
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='${esc(o.disk)}'/>
      <target dev='hda' bus='ide'/>
    </disk>`;
  return `<domain type='${o.type}'>
  <name>${o.name}</name>
  <memory unit='MiB'>${o.linux ? 128 : 16}</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type>${boot}</os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <devices>${disk}
    <serial type='file'><source path='${esc(o.log)}'/><target port='0'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>
`;
}

export interface ProbeResult {
  ok: boolean;
  /** Milliseconds from `virsh create` to the marker (or to giving up). */
  ms: number;
  reason: string;
}

/**
 * Boots the probe guest with the given virt type on the host's libvirtd and waits for its marker.
 * Always removes its domain and files.
 */
export async function bootProbe(
  daemon: Libvirtd,
  type: 'kvm' | 'qemu',
  timeoutMs: number,
  linux?: ProbeLinux,
): Promise<ProbeResult> {
  const marker = linux?.marker ?? PROBE_MARKER;
  const dir = fs.mkdtempSync(path.join(daemon.runDir, 'probe-'));
  const name = `stratus-probe-${type}-${process.pid}-${Date.now() % 100000}`;
  const disk = path.join(dir, 'boot.img');
  const log = path.join(dir, 'serial.log');
  const xml = path.join(dir, 'domain.xml');
  fs.writeFileSync(disk, probeBootSector());
  fs.writeFileSync(xml, probeDomainXml({ name, type, disk, log, linux }));
  const t0 = Date.now();
  try {
    try {
      await daemon.virsh(['create', xml], Math.max(timeoutMs, 30_000));
    } catch (e) {
      return { ok: false, ms: Date.now() - t0, reason: (e as Error).message };
    }
    while (Date.now() - t0 < timeoutMs) {
      const text = fs.existsSync(log) ? fs.readFileSync(log, 'latin1') : '';
      if (text.includes(marker)) return { ok: true, ms: Date.now() - t0, reason: 'the probe guest printed its marker' };
      await new Promise((r) => setTimeout(r, 100));
    }
    return {
      ok: false,
      ms: Date.now() - t0,
      reason: `the probe guest${linux ? "'s Linux" : ''} did not print its marker within ${Math.round(timeoutMs / 1000)} s (libvirt says: ${(await daemon.virsh(['domstate', name]).catch(() => '?')).trim()})`,
    };
  } finally {
    await daemon.virsh(['destroy', name], 30_000).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * virtType auto: 'kvm' when /dev/kvm exists and the probe guest boots under KVM, else 'qemu'.
 * Cached for the life of the host's libvirtd (a file in its run directory, with its pid).
 */
export async function probeVirtType(
  daemon: Libvirtd,
  o: { timeoutMs: number; log: (msg: string) => void; linux?: ProbeLinux | null },
): Promise<'kvm' | 'qemu'> {
  const cache = path.join(daemon.runDir, 'virt-type.json');
  const pid = daemon.daemonPid();
  try {
    const c = JSON.parse(fs.readFileSync(cache, 'utf8')) as { pid?: number; virtType?: string; reason?: string };
    if (pid && c.pid === pid && (c.virtType === 'kvm' || c.virtType === 'qemu')) {
      o.log(`virt type ${c.virtType} (probed earlier for this libvirtd: ${c.reason ?? ''})`);
      return c.virtType;
    }
  } catch {
    // no answer cached for this libvirtd
  }
  let virtType: 'kvm' | 'qemu';
  let reason: string;
  if (!fs.existsSync('/dev/kvm')) {
    virtType = 'qemu';
    reason = 'no /dev/kvm';
  } else {
    const r = await bootProbe(daemon, 'kvm', o.timeoutMs);
    if (!r.ok) {
      virtType = 'qemu';
      reason = `KVM probe failed: ${r.reason}`;
    } else if (!o.linux) {
      virtType = 'qemu';
      reason = `a boot sector ran under KVM in ${r.ms} ms, but there is no test guest kernel to probe Linux with (stratus image build-guest)`;
    } else {
      const l = await bootProbe(daemon, 'kvm', o.timeoutMs, o.linux);
      virtType = l.ok ? 'kvm' : 'qemu';
      reason = l.ok
        ? `the KVM probe guest booted Linux to its marker in ${l.ms} ms`
        : `a boot sector ran under KVM in ${r.ms} ms, but Linux did not: ${l.reason}`;
    }
  }
  o.log(virtType === 'kvm' ? `using KVM (${reason})` : `using TCG, not KVM (${reason})`);
  if (pid) fs.writeFileSync(cache, JSON.stringify({ pid, virtType, reason, at: new Date().toISOString() }));
  return virtType;
}
