// The virt drivers compute knows, by the name `compute.driver` selects (nova's
// compute_driver): one driver per agent host. A real hypervisor is one more entry here.
import type { ComputeOptions } from '../config.ts';
import { FakeDriver } from './fake.ts';
import { libvirtDriver } from './libvirt/driver.ts';
import type { VirtDriver } from './virt.ts';

/** Builds the driver of one agent host from the compute options. */
export type VirtDriverFactory = (host: string, o: ComputeOptions) => VirtDriver;

export const VIRT_DRIVERS: Record<string, VirtDriverFactory> = {
  fake: (host, o) =>
    new FakeDriver({
      host,
      vcpus: o.vcpus,
      memoryMb: o.memoryMb,
      localGb: o.localGb,
      delayMs: o.fakeDelayMs,
      failRate: o.fakeFailRate,
      liveMigrationMs: o.fakeLiveMigrationMs,
      snapshotMs: o.fakeSnapshotMs,
      waitForVifPlugged: o.fakeWaitForVifPlugged,
      transitions: o.fake,
    }),
  libvirt: libvirtDriver,
};

/** The factory of a driver name; an unknown name fails the start, naming the known ones. */
export function virtDriver(name: string): VirtDriverFactory {
  const f = Object.hasOwn(VIRT_DRIVERS, name) ? VIRT_DRIVERS[name] : undefined;
  if (!f)
    throw new Error(
      `unknown compute driver '${name}' (compute.driver; known: ${Object.keys(VIRT_DRIVERS).join(', ')})`,
    );
  return f;
}
