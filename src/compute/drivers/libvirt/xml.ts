// The domain XML of a guest, as Nova's libvirt driver writes it (nova/virt/libvirt/config.py):
// from the flavor (memory, vCPUs) and the image properties (hw_disk_bus, hw_cdrom_bus,
// hw_vif_model, hw_machine_type, hw_video_model, hw_rng_model, hw_qemu_guest_agent, os_type),
// SMBIOS saying "OpenStack Nova" (cloud-init looks for it), the serial console on a unix socket
// in the instance directory (nova-serialproxy's end) and logged to console.log, VNC on a unix
// socket there too (nova-novncproxy's end: libvirtd runs in the host's network namespace, whose
// loopback the API process cannot reach; a socket in the file system it can), taps the compute
// side created (managed='no').
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface DomainDisk {
  path: string;
  format: 'qcow2' | 'raw';
  device: 'disk' | 'cdrom';
  bus: string;
  target: string;
  readonly?: boolean;
  /** A volume's serial (its id), as Nova sets it. */
  serial?: string;
}

export interface DomainInterface {
  mac: string;
  tap: string;
  model: string;
  mtu?: number;
}

export interface DomainSpec {
  uuid: string;
  name: string;
  /** Nova's metadata element. */
  nova: {
    displayName: string;
    flavor: string;
    projectId: string;
    userId: string;
    imageId: string | null;
    created: string;
  };
  memoryMb: number;
  vcpus: number;
  virtType: 'qemu' | 'kvm';
  machine: string;
  osType: string;
  kernel?: string;
  ramdisk?: string;
  cmdline?: string;
  disks: DomainDisk[];
  interfaces: DomainInterface[];
  /** The serial console's log; the console sockets (consoleSockets) sit in the same directory. */
  consoleLog: string;
  /**
   * Where the VNC server listens (Nova's [vnc] server_listen): '' for the unix socket of
   * consoleSockets() (the default: libvirtd runs in the host's namespace, whose addresses the
   * proxy may not reach), else an address (a TCP port libvirt chooses, autoport).
   */
  vncListen: string;
  /** A VNC server at all (compute.consoles.vnc on; default true). */
  vnc?: boolean;
  /** A SPICE server on the unix socket of consoleSockets() (compute.consoles.spice on). */
  spice?: boolean;
  videoModel: string;
  rngModel?: string;
  guestAgent?: boolean;
  version: string;
}

export const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');

/** A disk target name on a bus: vda.. for virtio, sda.. for scsi/sata/usb, hda.. for ide. */
export function diskTarget(bus: string, index: number): string {
  const prefix = bus === 'virtio' ? 'vd' : bus === 'ide' ? 'hd' : bus === 'xen' ? 'xvd' : 'sd';
  return prefix + String.fromCharCode(97 + index);
}

export function diskXml(d: DomainDisk): string {
  return [
    `    <disk type='file' device='${d.device}'>`,
    `      <driver name='qemu' type='${d.format}' cache='none'/>`,
    `      <source file='${esc(d.path)}'/>`,
    `      <target dev='${d.target}' bus='${esc(d.bus)}'/>`,
    d.readonly ? '      <readonly/>' : '',
    d.serial ? `      <serial>${esc(d.serial)}</serial>` : '',
    '    </disk>',
  ]
    .filter(Boolean)
    .join('\n');
}

export function interfaceXml(i: DomainInterface): string {
  return [
    `    <interface type='ethernet'>`,
    `      <mac address='${esc(i.mac)}'/>`,
    `      <model type='${esc(i.model)}'/>`,
    `      <target dev='${esc(i.tap)}' managed='no'/>`,
    i.mtu ? `      <mtu size='${i.mtu}'/>` : '',
    '    </interface>',
  ]
    .filter(Boolean)
    .join('\n');
}

/** A UNIX socket's path holds at most 107 bytes (sun_path); libvirt refuses a longer one ("too long"). */
const SUN_PATH_MAX = 107;

/** Where the guest's console sockets go when its instance directory is too deep for them. */
export const CONSOLE_SOCKET_ROOT = '/run/stratus/consoles';

/**
 * The directory of a guest's console sockets: its instance directory, or, when a socket there
 * would be longer than a UNIX socket's path may be (a deep instancesPath, e.g.
 * `<checkout>/conformance/work/stratus-data/instances-<host>/<uuid>/serial.sock`), a short one
 * under /run/stratus named by a hash of the instance directory: one per host and instance, so the
 * two ends of a live migration (two hosts' instance directories) never share a socket.
 */
export function consoleSocketDir(instanceDir: string): string {
  if (Buffer.byteLength(path.join(instanceDir, 'serial.sock')) <= SUN_PATH_MAX) return instanceDir;
  return path.join(CONSOLE_SOCKET_ROOT, createHash('sha1').update(instanceDir).digest('hex').slice(0, 20));
}

/** Removes the short socket directory of an instance directory (consoleSocketDir), if it has one. */
export function removeConsoleSocketDir(instanceDir: string): void {
  const dir = consoleSocketDir(instanceDir);
  if (dir !== instanceDir) fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * The unix sockets of a guest's VNC server and serial console, in its instance directory (or the
 * short directory consoleSocketDir gives, made here: QEMU binds the sockets there).
 */
export function consoleSockets(instanceDir: string): { vnc: string; serial: string; spice: string } {
  const dir = consoleSocketDir(instanceDir);
  if (dir !== instanceDir) fs.mkdirSync(dir, { recursive: true });
  return {
    vnc: path.join(dir, 'vnc.sock'),
    serial: path.join(dir, 'serial.sock'),
    spice: path.join(dir, 'spice.sock'),
  };
}

/** The graphics devices (Nova's _guest_add_video_device: VNC and/or SPICE, as configured). */
function graphicsXml(s: DomainSpec, sockets: ReturnType<typeof consoleSockets>): string[] {
  const out: string[] = [];
  if (s.vnc !== false)
    out.push(
      s.vncListen
        ? `    <graphics type='vnc' autoport='yes' listen='${esc(s.vncListen)}'><listen type='address' address='${esc(s.vncListen)}'/></graphics>`
        : `    <graphics type='vnc'><listen type='socket' socket='${esc(sockets.vnc)}'/></graphics>`,
    );
  if (s.spice) out.push(`    <graphics type='spice'><listen type='socket' socket='${esc(sockets.spice)}'/></graphics>`);
  return out;
}

export function domainXml(s: DomainSpec): string {
  const sockets = consoleSockets(path.dirname(s.consoleLog));
  const os = [
    `    <type arch='x86_64' machine='${esc(s.machine)}'>hvm</type>`,
    s.kernel ? `    <kernel>${esc(s.kernel)}</kernel>` : '',
    s.ramdisk ? `    <initrd>${esc(s.ramdisk)}</initrd>` : '',
    s.kernel && s.cmdline ? `    <cmdline>${esc(s.cmdline)}</cmdline>` : '',
    s.kernel ? '' : `    <boot dev='hd'/>`,
    `    <smbios mode='sysinfo'/>`,
  ].filter(Boolean);
  const lines = [
    `<domain type='${s.virtType}'>`,
    `  <uuid>${s.uuid}</uuid>`,
    `  <name>${esc(s.name)}</name>`,
    `  <memory unit='KiB'>${s.memoryMb * 1024}</memory>`,
    `  <vcpu>${s.vcpus}</vcpu>`,
    '  <metadata>',
    `    <nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">`,
    `      <nova:package version="${esc(s.version)}"/>`,
    `      <nova:name>${esc(s.nova.displayName)}</nova:name>`,
    `      <nova:creationTime>${esc(s.nova.created)}</nova:creationTime>`,
    `      <nova:flavor name="${esc(s.nova.flavor)}"><nova:memory>${s.memoryMb}</nova:memory><nova:vcpus>${s.vcpus}</nova:vcpus></nova:flavor>`,
    `      <nova:owner><nova:user uuid="${esc(s.nova.userId)}"/><nova:project uuid="${esc(s.nova.projectId)}"/></nova:owner>`,
    s.nova.imageId ? `      <nova:root type="image" uuid="${esc(s.nova.imageId)}"/>` : '',
    '    </nova:instance>',
    '  </metadata>',
    `  <sysinfo type='smbios'>`,
    '    <system>',
    `      <entry name='manufacturer'>OpenStack Foundation</entry>`,
    `      <entry name='product'>OpenStack Nova</entry>`,
    `      <entry name='version'>${esc(s.version)}</entry>`,
    `      <entry name='serial'>${s.uuid}</entry>`,
    `      <entry name='uuid'>${s.uuid}</entry>`,
    `      <entry name='family'>Virtual Machine</entry>`,
    '    </system>',
    '  </sysinfo>',
    '  <os>',
    ...os,
    '  </os>',
    '  <features><acpi/><apic/></features>',
    s.virtType === 'kvm' ? `  <cpu mode='host-model'/>` : '',
    `  <clock offset='${s.osType === 'windows' ? 'localtime' : 'utc'}'/>`,
    '  <on_poweroff>destroy</on_poweroff>',
    '  <on_reboot>restart</on_reboot>',
    '  <on_crash>destroy</on_crash>',
    '  <devices>',
    ...s.disks.map(diskXml),
    ...s.interfaces.map(interfaceXml),
    `    <serial type='unix'>`,
    `      <source mode='bind' path='${esc(sockets.serial)}'/>`,
    `      <log file='${esc(s.consoleLog)}' append='off'/>`,
    `      <target port='0'/>`,
    '    </serial>',
    `    <input type='tablet' bus='usb'/>`,
    ...graphicsXml(s, sockets),
    `    <video><model type='${esc(s.videoModel)}'/></video>`,
    s.rngModel ? `    <rng model='${esc(s.rngModel)}'><backend model='random'>/dev/urandom</backend></rng>` : '',
    s.guestAgent ? `    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>` : '',
    `    <memballoon model='virtio'><stats period='10'/></memballoon>`,
    '  </devices>',
    '</domain>',
  ];
  return `${lines.filter(Boolean).join('\n')}\n`;
}
