// Block storage's RPC, declared once per topic (cinder's scheduler/rpcapi.py and
// volume/rpcapi.py): the API casts to the scheduler, the scheduler and the API to the volume
// agent of a backend (server `host@backend`).
import type { MessageBus } from '../core/bus.ts';
import { rpcClient, type RpcClient } from '../core/rpc.ts';
import type { ConnectionInfo } from './drivers/driver.ts';

export const SCHEDULER_TOPIC = 'cinder-scheduler';
export const VOLUME_TOPIC = 'cinder-volume';
export const BACKUP_TOPIC = 'cinder-backup';

/** `cinder-scheduler`: where a volume goes. */
export interface SchedulerRpc {
  create_volume(a: { volume_id: string; request_id?: string }): null;
  /** A generic group: the backend that takes every one of its volume types. */
  create_group(a: { group_id: string; request_id?: string }): null;
}

/** `cinder-volume.<host@backend>`: the work on one backend's volumes. */
export interface VolumeRpc {
  create_volume(a: { volume_id: string; request_id?: string }): null;
  /** `unmanage_only`: forget the volume, keep its bytes on the backend (os-unmanage). */
  delete_volume(a: { volume_id: string; request_id?: string; unmanage_only?: boolean }): null;
  extend_volume(a: { volume_id: string; new_size: number; request_id?: string }): null;
  create_snapshot(a: { snapshot_id: string; request_id?: string }): null;
  delete_snapshot(a: { snapshot_id: string; request_id?: string; unmanage_only?: boolean }): null;
  /** Takes over backend storage a volume row (`managing`) now names (os-volume-manage). */
  manage_existing(a: { volume_id: string; ref: Record<string, unknown>; request_id?: string }): null;
  manage_existing_snapshot(a: { snapshot_id: string; ref: Record<string, unknown>; request_id?: string }): null;
  /** What the backend holds that the manageable lists show (3.8). */
  list_existing(a: { kind: 'volume' | 'snapshot' }): Array<{ name: string; size: number }>;
  revert_to_snapshot(a: { volume_id: string; snapshot_id: string; request_id?: string }): null;
  copy_volume_to_image(a: { volume_id: string; image_id: string; disk_format: string; request_id?: string }): null;
  initialize_connection(a: { volume_id: string; connector: Record<string, unknown> }): ConnectionInfo;
  terminate_connection(a: { volume_id: string; connector: Record<string, unknown> | null }): null;
  create_group(a: { group_id: string; request_id?: string }): null;
  /**
   * Generic (host-copy) migration of a volume of this backend to the pool `host`
   * (`host@backend#pool`): a new volume there, the bytes copied, then the completion;
   * `new_type_id`: the type the volume takes at the end (a retype with migration).
   */
  migrate_volume(a: { volume_id: string; host: string; new_type_id?: string | null; request_id?: string }): null;
  /** Swaps the rows of a migrated volume and its copy and deletes the old bytes; answers the id kept. */
  migrate_volume_completion(a: { volume_id: string; new_volume_id: string; error: boolean }): {
    save_volume_id: string;
  };
  /** The group's volumes (`creating`, from the snapshots or volumes they name), then the group. */
  create_group_from_src(a: { group_id: string; request_id?: string }): null;
  delete_group(a: { group_id: string; request_id?: string }): null;
  create_group_snapshot(a: { group_snapshot_id: string; request_id?: string }): null;
  delete_group_snapshot(a: { group_snapshot_id: string; request_id?: string }): null;
  /** Settles what an earlier run of this backend left in a transient status (workers/cleanup, 3.24). */
  do_cleanup(a: { request_id?: string }): null;
}

/** `cinder-backup.<host>`: backups of the volumes of the backends on that host. */
export interface BackupRpc {
  create_backup(a: { backup_id: string; request_id?: string }): null;
  restore_backup(a: { backup_id: string; volume_id: string; request_id?: string }): null;
  delete_backup(a: { backup_id: string; request_id?: string }): null;
}

export const backupRpc = (bus: MessageBus): RpcClient<BackupRpc> => rpcClient<BackupRpc>(bus, BACKUP_TOPIC);
export const schedulerRpc = (bus: MessageBus): RpcClient<SchedulerRpc> => rpcClient<SchedulerRpc>(bus, SCHEDULER_TOPIC);
export const volumeRpc = (bus: MessageBus): RpcClient<VolumeRpc> => rpcClient<VolumeRpc>(bus, VOLUME_TOPIC);

/** The backend part of a volume's host (`host@backend#pool` → `host@backend`), the agent's RPC server. */
export const backendOf = (host: string): string => host.split('#')[0]!;
