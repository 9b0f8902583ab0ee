// The message bus: RPC (call/cast/fanout) between an API and its workers, and notifications
// for telemetry and root-cause analysis. This file holds the interface and the in-process
// transport; an AMQP transport implements the same interface.
import { randomUUID } from 'node:crypto';

/** A served method: the bus hands it what the caller sent (core/rpc.ts ties both sides to one declaration). */
export type RpcHandler = (args: never, ctx: RpcContext) => unknown | Promise<unknown>;
export interface RpcContext {
  requestId?: string;
  [k: string]: unknown;
}
export interface Notification {
  message_id: string;
  publisher_id: string;
  event_type: string;
  priority: 'INFO' | 'WARN' | 'ERROR' | 'DEBUG';
  payload: unknown;
  timestamp: string;
}
/** A notification as oslo.messaging's Notifier stamps it (a fresh id, the time). */
export function notification(
  publisherId: string,
  eventType: string,
  payload: unknown,
  priority: Notification['priority'],
): Notification {
  return {
    message_id: randomUUID(),
    publisher_id: publisherId,
    event_type: eventType,
    priority,
    payload,
    timestamp: new Date().toISOString(),
  };
}
export type NotificationListener = (n: Notification) => void | Promise<void>;

export interface MessageBus {
  /** Serve RPC methods on a topic; `server` names this worker (for topic.server direct calls). */
  serve(topic: string, server: string, handlers: Record<string, RpcHandler>): () => void;
  /** Call one server of a topic (or `topic.server`) and wait for the answer. */
  call<T = unknown>(target: string, method: string, args?: unknown, ctx?: RpcContext, timeoutMs?: number): Promise<T>;
  /** Send to one server of a topic without waiting. */
  cast(target: string, method: string, args?: unknown, ctx?: RpcContext): void;
  /** Send to every server of a topic. */
  fanout(topic: string, method: string, args?: unknown, ctx?: RpcContext): void;
  notify(publisherId: string, eventType: string, payload: unknown, priority?: Notification['priority']): void;
  /** Listen to notifications whose event_type starts with `prefix` ('' for all). */
  onNotification(prefix: string, listener: NotificationListener): () => void;
  close(): Promise<void>;
}

export class RpcError extends Error {
  constructor(
    message: string,
    public remoteType?: string,
  ) {
    super(message);
  }
}

interface Server {
  server: string;
  handlers: Record<string, RpcHandler>;
}

export class InProcessBus implements MessageBus {
  private topics = new Map<string, Server[]>();
  private rr = new Map<string, number>();
  private listeners: Array<{ prefix: string; fn: NotificationListener }> = [];

  serve(topic: string, server: string, handlers: Record<string, RpcHandler>) {
    const entry = { server, handlers };
    const list = this.topics.get(topic) ?? [];
    list.push(entry);
    this.topics.set(topic, list);
    return () => {
      const l = this.topics.get(topic);
      if (l)
        this.topics.set(
          topic,
          l.filter((s) => s !== entry),
        );
    };
  }

  private pick(target: string): Server {
    const [topic, server] = target.split('.', 2) as [string, string | undefined];
    const list = this.topics.get(topic) ?? [];
    if (server) {
      const s = list.find((x) => x.server === server);
      if (s) return s;
    } else if (list.length) {
      const i = (this.rr.get(topic) ?? 0) % list.length;
      this.rr.set(topic, i + 1);
      return list[i]!;
    }
    throw new RpcError(`No server listens on ${target}`, 'MessagingTimeout');
  }

  private async invoke(s: Server, method: string, args: unknown, ctx: RpcContext) {
    const h = s.handlers[method];
    if (!h) throw new RpcError(`Endpoint does not support RPC method ${method}`, 'UnsupportedVersion');
    // Messages are copied as they would be on the wire, so no caller shares objects with a worker.
    return structuredClone(await h(structuredClone(args) as never, ctx));
  }

  async call<T>(
    target: string,
    method: string,
    args: unknown = {},
    ctx: RpcContext = {},
    timeoutMs = 60000,
  ): Promise<T> {
    const s = this.pick(target);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, rej) => {
      timer = setTimeout(
        () => rej(new RpcError(`Timed out waiting for a reply to ${method}`, 'MessagingTimeout')),
        timeoutMs,
      );
    });
    try {
      return (await Promise.race([this.invoke(s, method, args, ctx), timeout])) as T;
    } finally {
      clearTimeout(timer);
    }
  }

  cast(target: string, method: string, args: unknown = {}, ctx: RpcContext = {}) {
    const s = this.pick(target);
    setImmediate(() => {
      this.invoke(s, method, args, ctx).catch(() => undefined);
    });
  }

  fanout(topic: string, method: string, args: unknown = {}, ctx: RpcContext = {}) {
    for (const s of this.topics.get(topic) ?? [])
      setImmediate(() => {
        this.invoke(s, method, args, ctx).catch(() => undefined);
      });
  }

  notify(publisherId: string, eventType: string, payload: unknown, priority: Notification['priority'] = 'INFO') {
    const n = notification(publisherId, eventType, payload, priority);
    for (const l of this.listeners)
      if (eventType.startsWith(l.prefix))
        setImmediate(() => {
          Promise.resolve(l.fn(n)).catch(() => undefined);
        });
  }

  onNotification(prefix: string, fn: NotificationListener) {
    const entry = { prefix, fn };
    this.listeners.push(entry);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== entry);
    };
  }

  async close() {
    this.topics.clear();
    this.listeners = [];
  }
}
