// A small domain of the libvirt driver's XML for the tests that read what domainXml makes of one
// option (graphics, console sockets): a 128 MB TCG guest with no disk and no interface.
import type { DomainSpec } from '../../src/compute/drivers/libvirt/xml.ts';

export const domainSpec = (over: Partial<DomainSpec>): DomainSpec => ({
  uuid: '11111111-2222-4333-8444-555555555555',
  name: 'instance-1',
  nova: { displayName: 'g', flavor: 'm1', projectId: 'p', userId: 'u', imageId: 'i', created: '2026-12-06 00:00:00' },
  memoryMb: 128,
  vcpus: 1,
  virtType: 'qemu',
  machine: 'pc',
  osType: 'linux',
  disks: [],
  interfaces: [],
  consoleLog: '/var/lib/stratus/instances/u1/console.log',
  vncListen: '',
  videoModel: 'virtio',
  version: 'test',
  ...over,
});
