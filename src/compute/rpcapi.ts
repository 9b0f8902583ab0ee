// Compute's RPC, declared once per topic (nova's compute/rpcapi.py, conductor/rpcapi.py,
// scheduler/rpcapi.py): each interface is a topic's methods, their arguments and their answers.
// Callers cast and call only through the clients below, the workers and agents serve only
// handler maps typed against the same interfaces (src/core/rpc.ts), so a method that is not
// declared, or arguments of the wrong shape, do not compile on either side.
import type { MessageBus } from '../core/bus.ts';
import { rpcClient, serveRpc, type RpcClient, type RpcHandlers } from '../core/rpc.ts';
import type { GuestDiagnostics, ImageMeta, ConsoleProtocol } from './drivers/virt.ts';
import type { BuildRequest } from './worker/conductor.ts';
import type { RequestSpec, Selection } from './worker/scheduler.ts';
import type { UnshelveRequest } from './worker/shelve.ts';
import type { EvacuateRequest, LiveMigrateRequest, MigrateRequest, MoveAnswer } from './worker/moves.ts';
import type { AttachRequest, AttachAnswer } from './agent/netproxy.ts';
import type { ExternalEvent } from './agent/events.ts';
import type { AttachVolumeRequest, DetachVolumeRequest, SwapVolumeRequest } from './agent/volumes.ts';

// ---- what the methods take and answer ----------------------------------------------------

/** The server a method acts on and the request (instance action) it belongs to. */
export interface InstanceRef {
  uuid: string;
  request_id: string;
}
/** A step of a move: the server, its migration record, the request. */
export interface MoveRef extends InstanceRef {
  migration_id: number;
}
/** A live migration's steps also name the destination and the kind of copy. */
export interface LiveMigrationRef extends MoveRef {
  dest: string;
  block_migration: boolean;
}
/** The answer of a step the caller waits for: `reschedule` when another host may succeed. */
export type AgentResult = { ok: true } | { ok: false; message: string; reschedule: boolean };
/** A guest call the API waits for, with the status the API answers when it fails. */
export type GuestCallResult = { ok: true } | { ok: false; code: 404 | 409 | 501; message: string };
export type ConsoleAnswer = { ok: true; output: string } | { ok: false; code: 404 | 409 | 501; message: string };
export type DiagnosticsAnswer =
  | { ok: true; diagnostics: GuestDiagnostics }
  | { ok: false; code: 404 | 409 | 501; message: string };
export type RemoteConsoleAnswer =
  | { ok: true; url: string }
  | { ok: false; code: 400 | 404 | 409 | 501; message: string };

// ---- the topics --------------------------------------------------------------------------

/** `scheduler` (nova-scheduler): where a server goes. */
export interface SchedulerRpc {
  select_destinations(a: { spec: RequestSpec }): Selection;
}

/** `conductor` (nova-conductor): builds and unshelves, cast by the API. */
export interface ConductorRpc {
  build_instances(a: BuildRequest): null;
  unshelve_instance(a: UnshelveRequest): null;
}

/** `conductor_moves` (nova-conductor's migrate_server / live_migrate_instance / rebuild_instance). */
export interface ConductorMovesRpc {
  migrate_server(a: MigrateRequest): MoveAnswer;
  live_migrate_instance(a: LiveMigrateRequest): MoveAnswer;
  evacuate_instance(a: EvacuateRequest): MoveAnswer;
}

/** `compute.<host>` (nova-compute): building, running and ending guests; agent/compute.ts. */
export interface ComputeCoreRpc {
  /** `volumes`: whether the server has mapped volumes (Nova's block_device_mapping; false: none to read). */
  build_and_run_instance(a: InstanceRef & { image?: ImageMeta | null; volumes?: boolean }): AgentResult;
  terminate_instance(a: InstanceRef): AgentResult;
  /** `reimage_boot_volume`: a volume-backed server's new image is written onto its boot volume (2.93). */
  rebuild_instance(a: InstanceRef & { image: ImageMeta | null; reimage_boot_volume?: boolean }): AgentResult;
  stop_instance(a: InstanceRef): AgentResult;
  start_instance(a: InstanceRef): AgentResult;
  reboot_instance(a: InstanceRef & { reboot_type?: 'SOFT' | 'HARD' }): AgentResult;
  pause_instance(a: InstanceRef): AgentResult;
  unpause_instance(a: InstanceRef): AgentResult;
  suspend_instance(a: InstanceRef): AgentResult;
  resume_instance(a: InstanceRef): AgentResult;
  get_console_output(a: { uuid: string }): ConsoleAnswer;
  get_diagnostics(a: { uuid: string }): DiagnosticsAnswer;
}

/** Snapshots, shelve, rescue, password, crash dump, deferred delete; agent/shelve.ts. */
export interface ComputeGuestRpc {
  snapshot_instance(a: InstanceRef & { image_id: string }): null;
  backup_instance(a: InstanceRef & { image_id: string; backup_type: string; rotation: number }): null;
  shelve_instance(a: InstanceRef & { image_id: string | null }): null;
  shelve_offload_instance(a: InstanceRef): null;
  unshelve_instance(a: InstanceRef & { image: ImageMeta | null }): AgentResult;
  start_shelved_instance(a: InstanceRef): null;
  rescue_instance(a: InstanceRef & { password: string; image: ImageMeta | null }): null;
  unrescue_instance(a: InstanceRef): null;
  set_admin_password(a: InstanceRef & { password: string }): GuestCallResult;
  trigger_crash_dump(a: InstanceRef): null;
  soft_delete_instance(a: InstanceRef): null;
  restore_instance(a: InstanceRef): null;
}

/** Remote consoles; agent/consoles.ts. */
export interface ComputeConsoleRpc {
  get_remote_console(a: { uuid: string; protocol: ConsoleProtocol; console_type: string }): RemoteConsoleAnswer;
}

/** Interfaces attached and detached; agent/netproxy.ts. */
export interface ComputeNetworkRpc {
  attach_interface(a: AttachRequest): AttachAnswer;
  detach_interface(a: InstanceRef & { port_id: string }): { ok: boolean; message?: string };
}

/** Volumes attached, detached and swapped (cast by the API); agent/volumes.ts. */
export interface ComputeVolumeRpc {
  attach_volume(a: AttachVolumeRequest): null;
  detach_volume(a: DetachVolumeRequest): null;
  swap_volume(a: SwapVolumeRequest): null;
}

/** Resize, cold and live migration, evacuation, each step on its host; agent/moves.ts. */
export interface ComputeMoveRpc {
  prep_resize(a: MoveRef): AgentResult;
  resize_instance(a: MoveRef): AgentResult;
  finish_resize(a: MoveRef): AgentResult;
  confirm_resize(a: MoveRef): AgentResult;
  revert_resize(a: MoveRef): AgentResult;
  finish_revert_resize(a: MoveRef): AgentResult;
  live_migration(a: LiveMigrationRef): { ok: boolean };
  pre_live_migration(a: LiveMigrationRef): AgentResult;
  post_live_migration_at_destination(a: LiveMigrationRef): AgentResult;
  rollback_live_migration_at_destination(a: LiveMigrationRef): AgentResult;
  live_migration_force_complete(a: MoveRef): AgentResult;
  live_migration_abort(a: MoveRef): AgentResult;
  destroy_moved_guest(a: { uuid: string }): { ok: boolean };
  evacuate_instance(a: MoveRef & { admin_pass: string | null }): AgentResult;
}

/** Events from the other services (os-server-external-events); agent/events.ts. */
export interface ComputeEventRpc {
  external_instance_event(a: { events: ExternalEvent[] }): { ok: boolean };
}

export interface ComputeRpc
  extends ComputeCoreRpc,
    ComputeGuestRpc,
    ComputeConsoleRpc,
    ComputeNetworkRpc,
    ComputeVolumeRpc,
    ComputeMoveRpc,
    ComputeEventRpc {}

// ---- the clients and servers -------------------------------------------------------------

/** `compute.<host>`: `computeRpc(bus).cast(host).terminate_instance({...})`. */
export const computeRpc = (bus: MessageBus): RpcClient<ComputeRpc> => rpcClient<ComputeRpc>(bus, 'compute');
export const conductorRpc = (bus: MessageBus): RpcClient<ConductorRpc> => rpcClient<ConductorRpc>(bus, 'conductor');
export const conductorMovesRpc = (bus: MessageBus): RpcClient<ConductorMovesRpc> =>
  rpcClient<ConductorMovesRpc>(bus, 'conductor_moves');
export const schedulerRpc = (bus: MessageBus): RpcClient<SchedulerRpc> => rpcClient<SchedulerRpc>(bus, 'scheduler');

export const serveCompute = (bus: MessageBus, host: string, h: RpcHandlers<ComputeRpc>) =>
  serveRpc<ComputeRpc>(bus, 'compute', host, h);
export const serveConductor = (bus: MessageBus, host: string, h: RpcHandlers<ConductorRpc>) =>
  serveRpc<ConductorRpc>(bus, 'conductor', host, h);
export const serveConductorMoves = (bus: MessageBus, host: string, h: RpcHandlers<ConductorMovesRpc>) =>
  serveRpc<ConductorMovesRpc>(bus, 'conductor_moves', host, h);
export const serveScheduler = (bus: MessageBus, host: string, h: RpcHandlers<SchedulerRpc>) =>
  serveRpc<SchedulerRpc>(bus, 'scheduler', host, h);
