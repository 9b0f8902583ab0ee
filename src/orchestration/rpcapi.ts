// heat-engine's RPC (heat/rpc/client.py), declared once: the API calls one engine of the topic
// for every change of a stack; engines ask each other whether they are alive (a lock of a dead
// engine is stolen) and to stop what they do on a stack.
import type { MessageBus } from '../core/bus.ts';
import { rpcClient, serveRpc, type RpcClient } from '../core/rpc.ts';
import type { Caller, Engine, NestedOwner, StackRef, StackRequest } from './engine/engine.ts';
import type { CheckResourceMsg } from './engine/convergence.ts';

export const ENGINE_TOPIC = 'heat-engine';

export type UpdateRequest = Partial<StackRequest> & { existing?: boolean; clear_parameters?: string[] };

export interface EngineRpc {
  listening(a: Record<string, never>): boolean;
  stop_stack(a: { stack_id: string }): null;
  /** `owner`: a nested stack, asked by its parent resource's engine (Engine.createNested). */
  create_stack(a: { caller: Caller; req: StackRequest; owner?: NestedOwner }): StackRef;
  update_stack(a: { caller: Caller; stack_id: string; req: UpdateRequest }): StackRef;
  delete_stack(a: { caller: Caller; stack_id: string }): null;
  abandon_stack(a: { caller: Caller; stack_id: string }): Record<string, unknown>;
  export_stack(a: { stack_id: string }): Record<string, unknown>;
  stack_action(a: { caller: Caller; stack_id: string; action: string }): null;
  signal_resource(a: { caller: Caller; stack_id: string; resource: string; details: unknown }): null;
  resource_attributes(a: {
    caller: Caller;
    stack_id: string;
    resources: string[];
  }): Record<string, Record<string, unknown>>;
  mark_unhealthy(a: { stack_id: string; resource: string; unhealthy: boolean; reason: string }): null;
  stack_snapshot(a: { stack_id: string; name: string | null }): Record<string, unknown>;
  stack_restore(a: { caller: Caller; stack_id: string; snapshot_id: string }): null;
  /** Convergence: one node of a traversal, cast to any engine (Heat's worker check_resource). */
  check_resource(a: CheckResourceMsg): null;
}

export function engineClient(bus: MessageBus): RpcClient<EngineRpc> {
  return rpcClient<EngineRpc>(bus, ENGINE_TOPIC);
}

/** Serves the engine's methods on the topic, as this engine's id; answers the function that stops. */
export function serveEngine(bus: MessageBus, engine: Engine): () => void {
  // Compute's instance notifications wake the engine's waits on a server (OS::Nova::Server) at once
  // instead of at their next poll; the polls stay (a bus that does not carry them, a lost one).
  const unlisten = bus.onNotification('instance.', (n) => engine.instanceNotification(n));
  const stop = serveRpc<EngineRpc>(bus, ENGINE_TOPIC, engine.engineId, {
    listening: () => true,
    stop_stack: async (a) => {
      await engine.stopStack(a.stack_id);
      return null;
    },
    create_stack: (a) => engine.createStack(a.caller, a.req, a.owner),
    update_stack: (a) => engine.updateStack(a.caller, a.stack_id, a.req),
    delete_stack: async (a) => {
      await engine.deleteStack(a.caller, a.stack_id);
      return null;
    },
    abandon_stack: async (a) => (await engine.deleteStack(a.caller, a.stack_id, { abandon: true })) ?? {},
    export_stack: (a) => engine.exportStack(a.stack_id),
    stack_action: async (a) => {
      await engine.stackAction(a.caller, a.stack_id, a.action);
      return null;
    },
    signal_resource: async (a) => {
      await engine.signalResource(a.caller, a.stack_id, a.resource, a.details);
      return null;
    },
    resource_attributes: (a) => engine.liveAttributes(a.caller, a.stack_id, a.resources),
    mark_unhealthy: async (a) => {
      await engine.markUnhealthy(a.stack_id, a.resource, a.unhealthy, a.reason);
      return null;
    },
    stack_snapshot: (a) => engine.snapshotStack(a.stack_id, a.name),
    stack_restore: async (a) => {
      await engine.restoreSnapshot(a.caller, a.stack_id, a.snapshot_id);
      return null;
    },
    check_resource: async (a) => {
      // The traversal goes on whatever happens to this message's caller: errors are logged.
      await engine.convergence.checkResource(a).catch((err) => engine.logError(err, a.stack_id));
      return null;
    },
  });
  return () => {
    unlisten();
    stop();
  };
}
