// Block storage's options (`blockStorage:` in stratus.yaml), typed, with Cinder's defaults.
import os from 'node:os';
import path from 'node:path';
import type { StratusConfig } from '../core/config.ts';
import { numberOptions } from '../core/options.ts';

export interface BlockStorageOptions {
  /** The host of this process's volume agent (cinder's `host`); its backend is `<host>@<backendName>`. */
  host: string;
  /** The backend section name (cinder's enabled_backends entry), default 'file'. */
  backendName: string;
  /** The volume driver: 'file', 'iscsi' (the same files exported by tgt) or 'rbd' (Ceph). */
  driver: string;
  /** The iscsi driver: the address of the portal compute hosts reach (target_ip_address). */
  iscsiIp: string;
  /** The iscsi driver: the portal's TCP port (target_port). */
  iscsiPort: number;
  /** The iscsi driver: tgtd's management channel (`tgtd -C`, `tgtadm -C`); 0 is tgt's default. */
  tgtControlPort: number;
  /** The iscsi driver: CHAP credentials per target (Cinder's tgt helper always sets them). */
  iscsiChap: boolean;
  /** The iscsi driver: the target name prefix (target_prefix). */
  iscsiTargetPrefix: string;
  /** Where the file driver keeps volumes (default `<dataDir>/volumes`). */
  volumesDir: string;
  /** The file driver's format: 'raw' (sparse) or 'qcow2'. */
  fileFormat: 'raw' | 'qcow2';
  /** The capacity the file backend reports, in GiB. */
  capacityGb: number;
  /** Thin provisioning over-subscription (max_over_subscription_ratio). */
  maxOverSubscriptionRatio: number;
  /** Percentage of capacity kept free (reserved_percentage). */
  reservedPercentage: number;
  /** The zone of the volume service (storage_availability_zone) and of volumes created without one. */
  availabilityZone: string;
  /** The name of the default volume type (default_volume_type). */
  defaultVolumeType: string;
  /** Seconds between heartbeats and capacity reports (report_interval). */
  reportInterval: number;
  /** Seconds without a heartbeat after which a service is down (service_down_time). */
  serviceDownTime: number;
  /** Run the scheduler (the `scheduler` role) and a volume agent (the `volume` role) in this process. */
  scheduler: boolean;
  agent: boolean;
  /** Seconds a user message lives (message_ttl). */
  messageTtl: number;
  /** The size of a backup chunk in bytes (backup_swift_object_size; a multiple of 1 MiB). */
  backupChunkSize: number;
  /** zlib level of backup chunks (Cinder: zlib's default, 6); a chunk whose sample does not compress is stored as is. */
  backupCompressionLevel: number;
  /** Chunks read, hashed, compressed and sent (or fetched and written) at once by a backup or a restore. */
  backupWorkers: number;
  /** Run a backup agent (cinder-backup; the `backup` role) for this host's backend. */
  backup: boolean;
  /** Whether volumes may be created from a zone that is not the service's (allow_availability_zone_fallback). */
  allowAvailabilityZoneFallback: boolean;
  /**
   * The image locations a volume agent may read directly instead of downloading the data through
   * the image API (allowed_direct_url_schemes; Cinder's default: none). `file`: the image service's
   * file store on a file system this host shares (the all-in-one process; the image service must
   * show them: `image.showDirectUrl` or `image.showMultipleLocations`).
   */
  allowedDirectUrlSchemes: string[];
  /** Every backend of this host (the first is the top-level one): the options each volume agent runs with. */
  backends: BlockStorageOptions[];
  /** The rbd driver: the Ceph pool of volumes (rbd_pool). */
  rbdPool: string;
  /** The cephx client without `client.` (rbd_user); empty: no auth user named (librados' default). */
  rbdUser: string;
  /** The ceph.conf the tools and QEMU read (rbd_ceph_conf); empty: librados' default. */
  rbdCephConf: string;
  /** The user's keyring (rbd_keyring_conf); empty: the one ceph.conf names. */
  rbdKeyring: string;
  /** The libvirt secret with the user's key on compute hosts (rbd_secret_uuid). */
  rbdSecretUuid: string | null;
  /** Flatten volumes made from snapshots so they no longer depend on them (rbd_flatten_volume_from_snapshot). */
  rbdFlattenVolumeFromSnapshot: boolean;
  /** Clones deeper than this are flattened; 0: clones of volumes are full copies (rbd_max_clone_depth). */
  rbdMaxCloneDepth: number;
}

/** What one backend of `blockStorage.backends` may set (cinder's enabled_backends sections). */
export type BackendConfig = Partial<
  Pick<
    BlockStorageOptions,
    | 'backendName'
    | 'driver'
    | 'volumesDir'
    | 'fileFormat'
    | 'capacityGb'
    | 'maxOverSubscriptionRatio'
    | 'reservedPercentage'
    | 'iscsiIp'
    | 'iscsiPort'
    | 'tgtControlPort'
    | 'iscsiChap'
    | 'iscsiTargetPrefix'
    | 'rbdPool'
    | 'rbdUser'
    | 'rbdCephConf'
    | 'rbdKeyring'
    | 'rbdSecretUuid'
    | 'rbdFlattenVolumeFromSnapshot'
    | 'rbdMaxCloneDepth'
  >
>;

export type BlockStorageConfig = Partial<Omit<BlockStorageOptions, 'backends'>> & {
  /**
   * Several backends on this host (cinder's enabled_backends), each with a volume agent of its
   * own (`host@<backendName>`); unset: one backend from the top-level options. The first backend's
   * volumes stay in `volumesDir` (default `<dataDir>/volumes`), the others' in
   * `<dataDir>/volumes-<backendName>` unless they set their own.
   */
  backends?: BackendConfig[];
};

declare module '../core/config.ts' {
  interface StratusConfig {
    blockStorage?: BlockStorageConfig;
  }
}

export function blockStorageOptions(
  cfg: Partial<Pick<StratusConfig, 'roles' | 'blockStorage' | 'dataDir'>>,
): BlockStorageOptions {
  const c: BlockStorageConfig = cfg.blockStorage ?? {};
  const roles: readonly string[] = cfg.roles ?? ['scheduler', 'volume', 'backup'];
  const dataDir = cfg.dataDir ?? '.stratus';
  const top: BlockStorageOptions = {
    host: c.host ?? os.hostname(),
    backendName: c.backendName ?? 'file',
    driver: c.driver ?? 'file',
    iscsiIp: c.iscsiIp ?? '127.0.0.1',
    ...numberOptions(c, {
      iscsiPort: 3260,
      tgtControlPort: 0,
      capacityGb: 1000,
      maxOverSubscriptionRatio: 20,
      reservedPercentage: 0,
      reportInterval: 10,
      serviceDownTime: 60,
      messageTtl: 2592000,
      backupChunkSize: 32 * 1024 * 1024,
      rbdMaxCloneDepth: 5,
    }),
    iscsiChap: c.iscsiChap ?? true,
    iscsiTargetPrefix: c.iscsiTargetPrefix ?? 'iqn.2010-10.org.openstack:',
    volumesDir: c.volumesDir ?? path.join(dataDir, 'volumes'),
    fileFormat: c.fileFormat === 'qcow2' ? 'qcow2' : 'raw',
    availabilityZone: c.availabilityZone ?? 'nova',
    defaultVolumeType: c.defaultVolumeType ?? '__DEFAULT__',
    scheduler: (c.scheduler ?? true) && roles.includes('scheduler'),
    agent: (c.agent ?? true) && roles.includes('volume'),
    allowAvailabilityZoneFallback: c.allowAvailabilityZoneFallback ?? false,
    allowedDirectUrlSchemes: Array.isArray(c.allowedDirectUrlSchemes) ? c.allowedDirectUrlSchemes.map(String) : [],
    backupCompressionLevel: Math.min(9, Math.max(0, Number(c.backupCompressionLevel ?? 6))),
    backupWorkers: Math.max(1, Number(c.backupWorkers ?? 4)),
    backup: (c.backup ?? true) && roles.includes('backup'),
    backends: [],
    rbdPool: c.rbdPool ?? 'rbd',
    rbdUser: c.rbdUser ?? '',
    rbdCephConf: c.rbdCephConf ?? '',
    rbdKeyring: c.rbdKeyring ?? '',
    rbdSecretUuid: c.rbdSecretUuid ?? null,
    rbdFlattenVolumeFromSnapshot: c.rbdFlattenVolumeFromSnapshot ?? false,
  };
  const list = c.backends?.length ? c.backends : [{}];
  const names = new Set<string>();
  top.backends = list.map((b, i) => {
    const name = b.backendName ?? (i === 0 ? top.backendName : `backend${i + 1}`);
    if (names.has(name)) throw new Error(`blockStorage.backends: the backend name '${name}' is used twice`);
    names.add(name);
    return {
      ...top,
      ...b,
      backendName: name,
      volumesDir: b.volumesDir ?? (i === 0 ? top.volumesDir : path.join(dataDir, `volumes-${name}`)),
      fileFormat: (b.fileFormat ?? top.fileFormat) === 'qcow2' ? 'qcow2' : 'raw',
      backends: [],
    };
  });
  // The top-level options are those of the first backend.
  return { ...top, ...top.backends[0]!, backends: top.backends };
}
