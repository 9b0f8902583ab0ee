// The volume drivers by name (blockStorage.driver): an unknown name fails at start.
import type { BlockStorageOptions } from '../config.ts';
import type { VolumeDriver } from './driver.ts';
import { FileDriver } from './file.ts';
import { IscsiDriver } from './iscsi.ts';
import { RbdDriver } from './rbd.ts';

export type { VolumeDriver } from './driver.ts';

const DRIVERS: Record<string, (o: BlockStorageOptions, log?: (msg: string) => void) => VolumeDriver> = {
  file: (o) =>
    new FileDriver({
      dir: o.volumesDir,
      format: o.fileFormat,
      backendName: o.backendName,
      capacityGb: o.capacityGb,
      maxOverSubscriptionRatio: o.maxOverSubscriptionRatio,
      reservedPercentage: o.reservedPercentage,
    }),
  iscsi: (o, log) => {
    if (o.fileFormat === 'qcow2')
      throw new Error("the iscsi volume driver exports raw files: set blockStorage.fileFormat to 'raw'");
    return new IscsiDriver({
      dir: o.volumesDir,
      backendName: o.backendName,
      capacityGb: o.capacityGb,
      maxOverSubscriptionRatio: o.maxOverSubscriptionRatio,
      reservedPercentage: o.reservedPercentage,
      ip: o.iscsiIp,
      port: o.iscsiPort,
      controlPort: o.tgtControlPort,
      chap: o.iscsiChap,
      targetPrefix: o.iscsiTargetPrefix,
      log,
    });
  },
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

export function volumeDriver(o: BlockStorageOptions, log?: (msg: string) => void): VolumeDriver {
  const make = DRIVERS[o.driver];
  if (!make) throw new Error(`unknown volume driver '${o.driver}' (drivers: ${Object.keys(DRIVERS).join(', ')})`);
  return make(o, log);
}
