// The volume drivers by name (blockStorage.driver): an unknown name fails at start.
import type { BlockStorageOptions } from '../config.ts';
import type { VolumeDriver } from './driver.ts';
import { FileDriver } from './file.ts';
import { RbdDriver } from './rbd.ts';

export type { VolumeDriver } from './driver.ts';

const DRIVERS: Record<string, (o: BlockStorageOptions) => VolumeDriver> = {
  file: (o) =>
    new FileDriver({
      dir: o.volumesDir,
      format: o.fileFormat,
      backendName: o.backendName,
      capacityGb: o.capacityGb,
      maxOverSubscriptionRatio: o.maxOverSubscriptionRatio,
      reservedPercentage: o.reservedPercentage,
    }),
  rbd: (o) =>
    new RbdDriver({
      pool: o.rbdPool,
      user: o.rbdUser,
      cephConf: o.rbdCephConf,
      keyring: o.rbdKeyring,
      secretUuid: o.rbdSecretUuid,
      flattenVolumeFromSnapshot: o.rbdFlattenVolumeFromSnapshot,
      maxCloneDepth: o.rbdMaxCloneDepth,
      backendName: o.backendName,
      maxOverSubscriptionRatio: o.maxOverSubscriptionRatio,
      reservedPercentage: o.reservedPercentage,
      workDir: o.volumesDir,
    }),
};

export function volumeDriver(o: BlockStorageOptions): VolumeDriver {
  const make = DRIVERS[o.driver];
  if (!make) throw new Error(`unknown volume driver '${o.driver}' (drivers: ${Object.keys(DRIVERS).join(', ')})`);
  return make(o);
}
