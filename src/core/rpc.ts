// Typed RPC over the message bus: one declaration per topic (an interface whose members are the
// methods: `name(args: A): R`) gives both sides, as nova's <service>/rpcapi.py is the only way
// to cast to a topic. The client side is `rpcClient<Decl>(bus, topic)`: `.call(server).name(args)`
// answers R, `.cast(server).name(args)` sends and forgets; a method that is not declared, or
// arguments of the wrong shape, do not compile. The server side is `serveRpc<Decl>(...)`, whose
// handler map must have every declared method, each typed against the same declaration.
import type { MessageBus, RpcContext, RpcHandler } from './bus.ts';

/** A topic's declaration: every member a method of one argument. */
export type RpcDecl<D> = { [M in keyof D]: (args: never) => unknown };

type Args<F> = F extends (args: infer A) => unknown ? A : never;
type Result<F> = F extends (args: never) => infer R ? Awaited<R> : never;

/** The handlers that serve a declaration: one per method, answering its result (or a promise of it). */
export type RpcHandlers<D extends RpcDecl<D>> = {
  [M in keyof D]: (args: Args<D[M]>, ctx: RpcContext) => Result<D[M]> | Promise<Result<D[M]>>;
};

/** Methods to call, each answering a promise of its result. */
export type RpcCalls<D extends RpcDecl<D>> = { [M in keyof D]: (args: Args<D[M]>) => Promise<Result<D[M]>> };
/** Methods to cast: sent to one server of the topic (or the named one), no answer. */
export type RpcCasts<D extends RpcDecl<D>> = { [M in keyof D]: (args: Args<D[M]>) => void };

export interface CallOptions {
  ctx?: RpcContext;
  /** How long to wait for the answer (the bus's default otherwise). */
  timeoutMs?: number;
}

export interface RpcClient<D extends RpcDecl<D>> {
  readonly topic: string;
  /** Call a method on `server` (topic.server), or on any one server of the topic when it is omitted. */
  call(server?: string | null, opts?: CallOptions): RpcCalls<D>;
  cast(server?: string | null, ctx?: RpcContext): RpcCasts<D>;
}

/** The client side of a declaration on `topic`. */
export function rpcClient<D extends RpcDecl<D>>(bus: MessageBus, topic: string): RpcClient<D> {
  // No server: any server of the topic. A server that is null (a record without a host) goes to
  // `topic.null`, which no one serves, as the plain bus call did.
  const target = (server?: string | null) => (server === undefined ? topic : `${topic}.${server}`);
  return {
    topic,
    call(server, opts = {}) {
      const to = target(server);
      return new Proxy({} as RpcCalls<D>, {
        get: (_t, method) => (args: unknown) => bus.call(to, String(method), args, opts.ctx ?? {}, opts.timeoutMs),
      });
    },
    cast(server, ctx) {
      const to = target(server);
      return new Proxy({} as RpcCasts<D>, {
        get: (_t, method) => (args: unknown) => bus.cast(to, String(method), args, ctx),
      });
    },
  };
}

/** Serves a declaration on `topic` as `server`; answers the function that stops serving. */
export function serveRpc<D extends RpcDecl<D>>(
  bus: MessageBus,
  topic: string,
  server: string,
  handlers: RpcHandlers<D>,
): () => void {
  return bus.serve(topic, server, handlers as unknown as Record<string, RpcHandler>);
}
