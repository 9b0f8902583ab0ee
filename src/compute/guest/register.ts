// Registers the built test guest in the image service as DevStack registers CirrOS's "uec"
// images: a kernel (aki), a ramdisk (ari) and the disk image naming both (kernel_id,
// ramdisk_id), public; the disk image also carries its console boot marker, which the libvirt
// driver waits for before a server is ACTIVE. Images already there (same name and checksum) are kept.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type { GuestFiles } from './build.ts';
import { GUEST_MARKERS } from './init.ts';
import { passwordLogin } from '../../core/clients/session.ts';

export const GUEST_IMAGE_NAME = 'stratus-guest';
/**
 * The tiny guest's kernel command line (image property os_command_line). `no_timer_check`: under
 * TCG on a loaded machine the kernel's IO-APIC timer check fails and it panics ("IO-APIC + timer
 * doesn't work!"); 3 of 10 guests started at once did so before it was there.
 */
export const GUEST_CMDLINE = 'root=/dev/vda console=tty0 console=ttyS0 no_timer_check';

export interface RegisterOptions {
  /** The identity v3 URL (…/v3). */
  authUrl: string;
  username?: string;
  password: string;
  project?: string;
  /** The image endpoint; default: the catalog's public image endpoint. */
  imageUrl?: string;
  name?: string;
  /** More properties of the disk image (they win over the tiny guest's defaults: its boot marker). */
  properties?: Record<string, unknown>;
}

export async function registerGuest(
  files: GuestFiles,
  o: RegisterOptions,
): Promise<Record<'kernel' | 'ramdisk' | 'disk', string> & { bootDisk?: string }> {
  const auth = await passwordLogin(o.authUrl, {
    username: o.username ?? 'admin',
    password: o.password,
    project: o.project ?? 'admin',
  });
  if (!auth.body) throw new Error(`identity answered ${auth.status} to the admin's login`);
  const token = auth.token;
  const catalog = auth.body;
  const base =
    o.imageUrl ??
    catalog.token.catalog.find((s) => s.type === 'image')?.endpoints.find((e) => e.interface === 'public')?.url;
  if (!base) throw new Error('the catalog has no image endpoint');
  const api = async (method: string, p: string, body?: unknown) => {
    const r = await fetch(`${base.replace(/\/+$/, '')}${p}`, {
      method,
      headers: { 'X-Auth-Token': token, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    if (r.status >= 300) throw new Error(`image ${method} ${p} answered ${r.status}: ${text}`);
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  };
  const name = o.name ?? GUEST_IMAGE_NAME;
  const one = async (suffix: string, file: string, meta: Record<string, unknown>) => {
    const full = `${name}${suffix}`;
    const found = ((await api('GET', `/v2/images?name=${encodeURIComponent(full)}`)).images ?? []) as Array<{
      id: string;
      status: string;
      stratus_guest_sha256?: string;
    }>;
    const sha = meta.stratus_guest_sha256;
    const same = found.find((i) => i.status === 'active' && i.stratus_guest_sha256 === sha);
    if (same) return same.id;
    // An older build keeps its data (snapshots may name its kernel) under another name.
    for (const old of found) {
      const r = await fetch(`${base.replace(/\/+$/, '')}/v2/images/${old.id}`, {
        method: 'PATCH',
        headers: { 'X-Auth-Token': token, 'Content-Type': 'application/openstack-images-v2.1-json-patch' },
        body: JSON.stringify([{ op: 'replace', path: '/name', value: `${full}-${old.id.slice(0, 8)}` }]),
      });
      if (r.status >= 300) throw new Error(`image rename of ${old.id} answered ${r.status}`);
    }
    const img = await api('POST', '/v2/images', { name: full, visibility: 'public', ...meta });
    const r = await fetch(`${base.replace(/\/+$/, '')}/v2/images/${img.id}/file`, {
      method: 'PUT',
      headers: { 'X-Auth-Token': token, 'Content-Type': 'application/octet-stream' },
      body: new Uint8Array(fs.readFileSync(file)),
    });
    if (r.status >= 300) throw new Error(`image upload of ${full} answered ${r.status}`);
    return img.id as string;
  };
  const kernel = await one('-kernel', files.kernel, {
    disk_format: 'aki',
    container_format: 'aki',
    stratus_guest_sha256: files.sha256.kernel,
  });
  const ramdisk = await one('-ramdisk', files.ramdisk, {
    disk_format: 'ari',
    container_format: 'ari',
    stratus_guest_sha256: files.sha256.ramdisk,
  });
  const properties: Record<string, unknown> = {
    os_type: 'linux',
    os_command_line: GUEST_CMDLINE,
    stratus_boot_marker: GUEST_MARKERS.boot,
    // Its /bin/qemu-ga answers what libvirt asks (changePassword: guest-set-user-password).
    hw_qemu_guest_agent: 'yes',
    ...o.properties,
  };
  // A change of the properties registers the image again, as a change of its files does.
  const props = createHash('sha256').update(JSON.stringify(properties)).digest('hex').slice(0, 16);
  const disk = await one('', files.disk, {
    disk_format: 'qcow2',
    container_format: 'bare',
    kernel_id: kernel,
    ramdisk_id: ramdisk,
    ...properties,
    stratus_guest_sha256: `${files.sha256.disk}:${files.sha256.kernel}:${files.sha256.ramdisk}:${props}`,
  });
  // The self-booting disk, as DevStack registers CirrOS's "-disk" image (no kernel_id).
  if (!files.bootDisk) return { kernel, ramdisk, disk };
  const bootDisk = await one('-disk', files.bootDisk, {
    disk_format: 'qcow2',
    container_format: 'bare',
    os_type: 'linux',
    stratus_boot_marker: GUEST_MARKERS.boot,
    hw_qemu_guest_agent: 'yes',
    stratus_guest_sha256: files.sha256.bootDisk,
  });
  return { kernel, ramdisk, disk, bootDisk };
}
