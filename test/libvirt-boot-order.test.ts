// The boot device of a guest's domain (issue 18): a self-booting image boots from its root disk
// whatever volumes are attached. libvirt turns `<os><boot dev='hd'/>` into bootindex=1 on the
// first disk of the definition and passes `-boot strict=on` (seen on libvirt 9.0: the root disk
// `virtio-disk0` has bootindex 1, an attached volume none), so the root disk must come first and
// a volume's <disk> must name no boot order of its own (it would take the boot from the root).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { volumeDiskXml } from '../src/compute/drivers/libvirt/driver.ts';
import { type DomainDisk, diskTarget, domainXml } from '../src/compute/drivers/libvirt/xml.ts';
import { domainSpec } from './lib/domain-spec.ts';

const disk = (target: string, over: Partial<DomainDisk> = {}): DomainDisk => ({
  path: `/i/${target}`,
  format: 'qcow2',
  device: 'disk',
  bus: 'virtio',
  target,
  ...over,
});

/** The <disk> elements of a domain XML in their order, by target. */
const diskTargets = (xml: string) => [...xml.matchAll(/<disk\b[\s\S]*?<target dev='([^']+)'/g)].map((m) => m[1]);

describe('libvirt boot device', () => {
  it('boots a self-booting image from its root disk, the first disk of the definition', () => {
    const xml = domainXml(
      domainSpec({
        disks: [
          disk('vda'),
          disk('vdb', { path: '/i/disk.eph0' }),
          disk('hda', { device: 'cdrom', format: 'raw', bus: 'ide', readonly: true }),
        ],
      }),
    );
    assert.match(xml, /<os>[\s\S]*<boot dev='hd'\/>[\s\S]*<\/os>/);
    assert.deepEqual(diskTargets(xml), ['vda', 'vdb', 'hda']);
    assert.ok(!/<boot order=/.test(xml), 'no per-device boot order next to <os><boot dev>: libvirt refuses both');
  });

  it('boots a kernel + ramdisk image directly (no BIOS boot device), root=/dev/vda', () => {
    const xml = domainXml(
      domainSpec({ disks: [disk('vda')], kernel: '/i/kernel', ramdisk: '/i/ramdisk', cmdline: 'root=/dev/vda' }),
    );
    assert.ok(!xml.includes('<boot '), xml);
    assert.match(
      xml,
      /<kernel>\/i\/kernel<\/kernel>\s*<initrd>\/i\/ramdisk<\/initrd>\s*<cmdline>root=\/dev\/vda<\/cmdline>/,
    );
  });

  it('boots a rescue disk first, the guest root disk after it', () => {
    const xml = domainXml(domainSpec({ disks: [disk('vda', { path: '/i/disk.rescue' }), disk('vdb')] }));
    assert.deepEqual(diskTargets(xml), ['vda', 'vdb']);
    assert.match(xml, /<disk type='file' device='disk'>\s*<driver[^>]*\/>\s*<source file='\/i\/disk.rescue'\/>/);
  });

  it('attaches volumes (file, iSCSI, rbd) as disks that name no boot order: never bootable unless at vda', () => {
    for (const ci of [
      { driver_volume_type: 'file', data: { device_path: '/v/vol', format: 'raw', volume_id: 'v1' } },
      {
        driver_volume_type: 'iscsi',
        data: { target_portal: '127.0.0.1:3260', target_iqn: 'iqn.2010-10.org.openstack:v2', target_lun: 1 },
      },
      { driver_volume_type: 'rbd', data: { name: 'volumes/v3', hosts: ['10.0.0.1'], ports: ['6789'] } },
    ]) {
      const xml = volumeDiskXml(ci, diskTarget('virtio', 1));
      assert.match(xml, /<target dev='vdb' bus='virtio'\/>/);
      assert.ok(!xml.includes('<boot'), xml);
    }
  });
});
