// The message bus over AMQP 0-9-1 (RabbitMQ), behaving as the in-process one (bus.ts) does,
// with oslo.messaging's shapes so that an OpenStack engineer finds the queues they expect:
//
//   RPC       direct exchange `stratus`; a server of topic T on host H consumes the shared
//             durable queue `T` (round robin between servers), its own durable queue `T.H`,
//             and an exclusive queue bound to the fanout exchange `T_fanout`.
//   call      published with reply_to (this process's exclusive reply queue), a correlation id,
//             `mandatory` (no queue → an immediate RpcError, as in-process) and a TTL equal to
//             the timeout (a late call is never run); the answer is {result} or {failure}.
//   cast      persistent, on a publisher-confirm channel: a cast is acknowledged once the broker
//             has it on disk, and a durable queue keeps it across a broker restart. Casts (and
//             fanouts, notifications) wait in an outbox until the broker confirms them: sent while
//             the broker is down, they go when it is back. A cast to a plain topic declares its
//             queue, so it waits for the first worker to come up.
//   notify    topic exchange `openstack` (oslo's control exchange), routing key
//             `notifications.<priority>`, body in oslo's envelope {"oslo.version", "oslo.message"}.
//
// After a broker restart the bus reconnects (backoff up to 5 s), re-declares its queues and
// consumers, re-sends what was not confirmed, and fails the calls that were waiting for an answer.
import { randomUUID } from 'node:crypto';
import amqp from 'amqplib';
import type { ChannelModel, ConfirmChannel, ConsumeMessage, Message, Options } from 'amqplib';
import {
  RpcError,
  type MessageBus,
  type Notification,
  notification,
  type NotificationListener,
  type RpcContext,
  type RpcHandler,
} from './bus.ts';
import type { Logger } from './log.ts';

export const RPC_EXCHANGE = 'stratus';
export const NOTIFICATION_EXCHANGE = 'openstack';
const fanoutExchange = (topic: string) => `${topic}_fanout`;

export interface AmqpBusOptions {
  log?: Logger;
  /** Shown by the broker as the connection's name (rabbitmqctl list_connections client_properties). */
  name?: string;
  /** Unacknowledged deliveries per process: how many handlers may run at once. */
  prefetch?: number;
  /** How long connect() keeps trying before it gives up (the broker may still be starting). */
  connectTimeoutMs?: number;
}

interface Subscription {
  topic: string;
  server: string;
  handlers: Record<string, RpcHandler>;
  tags: string[];
  link?: Link;
}
interface Outgoing {
  exchange: string;
  key: string;
  body: Buffer;
  options: Options.Publish;
  prepare?: (link: Link) => Promise<void>;
  sent: boolean;
}
interface PendingCall {
  method: string;
  target: string;
  resolve(v: unknown): void;
  reject(e: Error): void;
}
/** One connection to the broker and what was declared on it. */
interface Link {
  conn: ChannelModel;
  ch: ConfirmChannel;
  alive: boolean;
  declared: Set<string>;
  chain: Promise<void>;
  replyQueue: string;
  notificationQueue?: string;
}

const redact = (url: string) => url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');

export class AmqpBus implements MessageBus {
  private link?: Link;
  private connecting?: Promise<void>;
  private closed = false;
  private reconnectTimer?: NodeJS.Timeout;
  private reconnectDelay = 200;
  private subs = new Set<Subscription>();
  private listeners: Array<{ prefix: string; fn: NotificationListener }> = [];
  private pending = new Map<string, PendingCall>();
  private outbox: Outgoing[] = [];
  private drained: Array<() => void> = [];
  private connectedWaiters: Array<() => void> = [];
  private log?: Logger;

  constructor(
    readonly url: string,
    private o: AmqpBusOptions = {},
  ) {
    this.log = o.log?.child({ bus: redact(url) });
  }

  /** True while a connection to the broker is up. */
  get connected() {
    return !!this.link?.alive;
  }

  /** Connects, retrying while the broker starts (connectTimeoutMs); afterwards reconnects by itself. */
  async connect(): Promise<void> {
    const deadline = Date.now() + (this.o.connectTimeoutMs ?? 30000);
    let last: unknown;
    while (!this.closed) {
      try {
        await this.open();
        return;
      } catch (e) {
        last = e;
      }
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`cannot reach the message bus at ${redact(this.url)}: ${(last as Error)?.message ?? 'closed'}`);
  }

  /** Resolves when every queue and consumer asked for so far is declared on the broker. */
  async ready(): Promise<void> {
    await this.whenConnected();
    let chain: Promise<void> | undefined;
    while (this.link && chain !== this.link.chain) {
      chain = this.link.chain;
      await chain;
    }
  }

  /** Resolves when the broker has confirmed every cast, fanout and notification sent so far. */
  flush(): Promise<void> {
    if (!this.outbox.length) return Promise.resolve();
    return new Promise((resolve) => this.drained.push(resolve));
  }

  private open(): Promise<void> {
    if (this.link?.alive) return Promise.resolve();
    this.connecting ??= (async () => {
      const conn = await amqp.connect(this.url, {
        noDelay: true,
        clientProperties: { connection_name: this.o.name ?? `stratus:${process.pid}` },
      });
      let link: Link | undefined;
      try {
        const ch = await conn.createConfirmChannel();
        link = { conn, ch, alive: true, declared: new Set(), chain: Promise.resolve(), replyQueue: '' };
        const l = link;
        conn.on('error', (err) => this.log?.warn({ err }, 'message bus connection error'));
        conn.on('close', () => this.lost(l));
        ch.on('error', (err) => this.log?.warn({ err }, 'message bus channel error'));
        ch.on('close', () => this.lost(l));
        ch.on('return', (m: Message) => this.returned(m));
        await ch.prefetch(this.o.prefetch ?? 64);
        await ch.assertExchange(RPC_EXCHANGE, 'direct', { durable: true });
        l.replyQueue = (await ch.assertQueue('', { exclusive: true, autoDelete: true })).queue;
        await ch.consume(l.replyQueue, (m) => this.onReply(m), { noAck: true });
      } catch (e) {
        await conn.close().catch(() => undefined);
        throw e;
      }
      if (!link.alive) throw new Error('the connection closed while it was being set up');
      if (this.closed) {
        await conn.close().catch(() => undefined);
        throw new Error('closed');
      }
      this.link = link;
      this.reconnectDelay = 200;
      // Queues and consumers first (serve() calls made while connecting included), then the outbox.
      const l = link;
      for (const s of this.subs) void this.enqueue(l, () => this.subscribe(s, l));
      if (this.listeners.length) void this.enqueue(l, () => this.listen(l));
      this.pump();
      await l.chain;
      this.log?.info('connected to the message bus');
      for (const w of this.connectedWaiters.splice(0)) w();
    })().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private lost(link: Link) {
    if (!link.alive) return;
    link.alive = false;
    if (this.link === link) this.link = undefined;
    for (const s of this.subs)
      if (s.link === link) {
        s.link = undefined;
        s.tags = [];
      }
    for (const m of this.outbox) m.sent = false;
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(
        new RpcError(
          `Lost the connection to the message bus while waiting for a reply to ${p.method}`,
          'MessagingTimeout',
        ),
      );
    }
    if (this.closed) return;
    this.log?.warn('lost the connection to the message bus; reconnecting');
    this.scheduleReconnect();
  }

  private scheduleReconnect() {
    if (this.closed || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.open().catch((err) => {
        this.log?.debug({ err }, 'message bus reconnect failed');
        this.reconnectDelay = Math.min(this.reconnectDelay * 2, 5000);
        this.scheduleReconnect();
      });
    }, this.reconnectDelay);
  }

  private whenConnected(): Promise<void> {
    if (this.link?.alive) return Promise.resolve();
    if (this.closed) return Promise.reject(new RpcError('The message bus is closed', 'MessageDeliveryFailure'));
    return new Promise((resolve) => this.connectedWaiters.push(resolve));
  }

  /** Runs declarations and publishes in order on one connection. */
  private enqueue(link: Link, fn: () => Promise<void>) {
    link.chain = link.chain
      .then(async () => {
        if (link.alive) await fn();
      })
      .catch((err) => {
        this.log?.warn({ err }, 'message bus operation failed');
      });
    return link.chain;
  }

  // ---- serving ------------------------------------------------------------------------

  serve(topic: string, server: string, handlers: Record<string, RpcHandler>) {
    const sub: Subscription = { topic, server, handlers, tags: [] };
    this.subs.add(sub);
    const link = this.link;
    if (link?.alive) void this.enqueue(link, () => this.subscribe(sub, link));
    return () => {
      this.subs.delete(sub);
      const l = sub.link;
      if (l?.alive) {
        const tags = sub.tags;
        sub.tags = [];
        void this.enqueue(l, async () => {
          for (const t of tags) await l.ch.cancel(t);
        });
      }
    };
  }

  private async subscribe(sub: Subscription, link: Link) {
    if (!this.subs.has(sub) || sub.link === link) return;
    const { ch } = link;
    const direct = `${sub.topic}.${sub.server}`;
    for (const q of [sub.topic, direct]) await this.declareQueue(link, q);
    await ch.assertExchange(fanoutExchange(sub.topic), 'fanout', { durable: true });
    const fan = (
      await ch.assertQueue(`${fanoutExchange(sub.topic)}_${sub.server}_${randomUUID().slice(0, 8)}`, {
        exclusive: true,
        autoDelete: true,
      })
    ).queue;
    await ch.bindQueue(fan, fanoutExchange(sub.topic), '');
    const tags: string[] = [];
    for (const q of [sub.topic, direct, fan])
      tags.push(
        (
          await ch.consume(q, (m) => {
            void this.dispatch(sub, link, m);
          })
        ).consumerTag,
      );
    sub.link = link;
    sub.tags = tags;
  }

  private async declareQueue(link: Link, q: string) {
    if (link.declared.has(q)) return;
    await link.ch.assertQueue(q, { durable: true });
    await link.ch.bindQueue(q, RPC_EXCHANGE, q);
    link.declared.add(q);
  }

  private async dispatch(sub: Subscription, link: Link, m: ConsumeMessage | null) {
    if (!m) return; // the broker cancelled the consumer (queue deleted)
    const ack = () => {
      if (link.alive) {
        try {
          link.ch.ack(m);
        } catch {
          /* the channel closed: redelivered */
        }
      }
    };
    const replyTo = m.properties.replyTo as string | undefined;
    let req: { method?: string; args?: unknown; ctx?: RpcContext };
    try {
      req = JSON.parse(m.content.toString('utf8'));
    } catch {
      this.log?.warn({ topic: sub.topic }, 'dropped a message that is not JSON');
      ack();
      return;
    }
    // A call is acknowledged at once (its caller gives up on a lost connection: never run twice);
    // a cast once it has been handled (a worker that dies meanwhile leaves it to the next one).
    if (replyTo) ack();
    let reply: { result?: unknown; failure?: { type: string; message: string } };
    try {
      const h = req.method ? sub.handlers[req.method] : undefined;
      if (!h) throw new RpcError(`Endpoint does not support RPC method ${req.method}`, 'UnsupportedVersion');
      reply = { result: await h((req.args ?? {}) as never, req.ctx ?? {}) };
    } catch (e) {
      const err = e as Error & { remoteType?: string };
      reply = {
        failure: { type: err?.remoteType ?? err?.constructor?.name ?? 'Error', message: err?.message ?? String(e) },
      };
      if (!replyTo) this.log?.warn({ err, topic: sub.topic, method: req.method }, 'cast handler failed');
    }
    if (!replyTo) {
      ack();
      return;
    }
    const cur = this.link;
    if (!cur?.alive) return; // the caller has been told the connection was lost
    try {
      cur.ch.publish('', replyTo, Buffer.from(JSON.stringify(reply)), {
        correlationId: m.properties.correlationId,
        contentType: 'application/json',
      });
    } catch (err) {
      this.log?.warn({ err }, 'could not send an RPC reply');
    }
  }

  // ---- calling ------------------------------------------------------------------------

  async call<T = unknown>(
    target: string,
    method: string,
    args: unknown = {},
    ctx: RpcContext = {},
    timeoutMs = 60000,
  ): Promise<T> {
    const id = randomUUID();
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    return new Promise<T>((resolve, reject) => {
      const finish = (fn: () => void) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.pending.delete(id);
        fn();
      };
      timer = setTimeout(
        () => finish(() => reject(new RpcError(`Timed out waiting for a reply to ${method}`, 'MessagingTimeout'))),
        timeoutMs,
      );
      // After what this process declared before (a serve() then a call() reaches the new server).
      this.whenConnected()
        .then(() => this.link?.chain)
        .then(() => {
          if (done) return;
          const link = this.link;
          if (!link?.alive) throw new RpcError('The message bus is closed', 'MessageDeliveryFailure');
          this.pending.set(id, {
            method,
            target,
            resolve: (v) => finish(() => resolve(v as T)),
            reject: (e) => finish(() => reject(e)),
          });
          const body = Buffer.from(JSON.stringify({ method, args, ctx }));
          link.ch.publish(RPC_EXCHANGE, target, body, {
            correlationId: id,
            replyTo: link.replyQueue,
            mandatory: true,
            expiration: String(Math.max(1, Math.ceil(timeoutMs))),
            contentType: 'application/json',
            type: method,
          });
        })
        .catch((e) =>
          finish(() =>
            reject(e instanceof RpcError ? e : new RpcError((e as Error).message, 'MessageDeliveryFailure')),
          ),
        );
    });
  }

  private onReply(m: ConsumeMessage | null) {
    if (!m) return;
    const p = this.pending.get(m.properties.correlationId as string);
    if (!p) return; // timed out meanwhile
    let reply: { result?: unknown; failure?: { type: string; message: string } };
    try {
      reply = JSON.parse(m.content.toString('utf8'));
    } catch {
      p.reject(new RpcError('Malformed reply', 'MessageDeliveryFailure'));
      return;
    }
    if (reply.failure) p.reject(new RpcError(reply.failure.message, reply.failure.type));
    else p.resolve(reply.result);
  }

  private returned(m: Message) {
    const p = this.pending.get(m.properties.correlationId as string);
    if (p) {
      p.reject(new RpcError(`No server listens on ${p.target}`, 'MessagingTimeout'));
      return;
    }
    this.log?.warn({ target: m.fields.routingKey, method: m.properties.type }, 'no server listens: message dropped');
  }

  // ---- casts, fanouts and notifications: the confirmed outbox ---------------------------

  cast(target: string, method: string, args: unknown = {}, ctx: RpcContext = {}) {
    const plainTopic = !target.includes('.');
    this.send({
      exchange: RPC_EXCHANGE,
      key: target,
      body: Buffer.from(JSON.stringify({ method, args, ctx })),
      options: { persistent: true, mandatory: true, contentType: 'application/json', type: method },
      prepare: plainTopic ? (link) => this.declareQueue(link, target) : undefined,
    });
  }

  fanout(topic: string, method: string, args: unknown = {}, ctx: RpcContext = {}) {
    const ex = fanoutExchange(topic);
    this.send({
      exchange: ex,
      key: '',
      body: Buffer.from(JSON.stringify({ method, args, ctx })),
      options: { contentType: 'application/json', type: method },
      prepare: async (link) => {
        if (!link.declared.has(`x:${ex}`)) {
          await link.ch.assertExchange(ex, 'fanout', { durable: true });
          link.declared.add(`x:${ex}`);
        }
      },
    });
  }

  notify(publisherId: string, eventType: string, payload: unknown, priority: Notification['priority'] = 'INFO') {
    const n = notification(publisherId, eventType, payload, priority);
    this.send({
      exchange: NOTIFICATION_EXCHANGE,
      key: `notifications.${priority.toLowerCase()}`,
      body: Buffer.from(JSON.stringify({ 'oslo.version': '2.0', 'oslo.message': JSON.stringify(n) })),
      options: { contentType: 'application/json', type: eventType },
      prepare: (link) => this.declareNotificationExchange(link),
    });
  }

  private send(m: Omit<Outgoing, 'sent'>) {
    if (this.closed) throw new RpcError('The message bus is closed', 'MessageDeliveryFailure');
    this.outbox.push({ ...m, sent: false });
    this.pump();
  }

  /** Publishes what is not yet on its way, in order, on the current connection. */
  private pump() {
    const link = this.link;
    if (!link?.alive) return;
    for (const m of this.outbox) {
      if (m.sent) continue;
      m.sent = true;
      void this.enqueue(link, async () => {
        try {
          await m.prepare?.(link);
          link.ch.publish(m.exchange, m.key, m.body, m.options, (err) => {
            if (err) {
              if (link.alive && this.link === link) {
                m.sent = false;
                setTimeout(() => this.pump(), 200).unref();
              }
              return;
            }
            this.confirmed(m);
          });
        } catch (err) {
          // The channel went away: lost() marks everything unsent and the next connection re-sends.
          m.sent = false;
          this.log?.debug({ err }, 'publish failed; will retry');
        }
      });
    }
  }

  private confirmed(m: Outgoing) {
    const i = this.outbox.indexOf(m);
    if (i >= 0) this.outbox.splice(i, 1);
    if (!this.outbox.length) for (const d of this.drained.splice(0)) d();
  }

  private async declareNotificationExchange(link: Link) {
    if (link.declared.has(`x:${NOTIFICATION_EXCHANGE}`)) return;
    await link.ch.assertExchange(NOTIFICATION_EXCHANGE, 'topic', { durable: true });
    link.declared.add(`x:${NOTIFICATION_EXCHANGE}`);
  }

  onNotification(prefix: string, fn: NotificationListener) {
    const entry = { prefix, fn };
    this.listeners.push(entry);
    const link = this.link;
    if (link?.alive && !link.notificationQueue) void this.enqueue(link, () => this.listen(link));
    return () => {
      this.listeners = this.listeners.filter((l) => l !== entry);
    };
  }

  /** One exclusive queue per process gets every notification; listeners pick theirs by prefix. */
  private async listen(link: Link) {
    if (link.notificationQueue) return;
    await this.declareNotificationExchange(link);
    const q = (await link.ch.assertQueue('', { exclusive: true, autoDelete: true })).queue;
    await link.ch.bindQueue(q, NOTIFICATION_EXCHANGE, 'notifications.*');
    link.notificationQueue = q;
    await link.ch.consume(
      q,
      (m) => {
        if (!m) return;
        let n: Notification;
        try {
          const env = JSON.parse(m.content.toString('utf8'));
          n = typeof env['oslo.message'] === 'string' ? JSON.parse(env['oslo.message']) : env;
        } catch {
          return;
        }
        for (const l of this.listeners)
          if (String(n.event_type ?? '').startsWith(l.prefix))
            Promise.resolve()
              .then(() => l.fn(n))
              .catch(() => undefined);
      },
      { noAck: true },
    );
  }

  // ---- closing ------------------------------------------------------------------------

  /** Gives unconfirmed messages a moment to reach the broker, then closes the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.outbox.length && this.link?.alive)
      await Promise.race([this.flush(), new Promise((r) => setTimeout(r, 2000).unref())]);
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    for (const w of this.connectedWaiters.splice(0)) w();
    const link = this.link;
    this.link = undefined;
    if (link) {
      link.alive = false;
      await link.conn.close().catch(() => undefined);
    }
    for (const [, p] of this.pending) p.reject(new RpcError('The message bus was closed', 'MessagingTimeout'));
    this.pending.clear();
    if (this.outbox.length)
      this.log?.warn({ unsent: this.outbox.length }, 'message bus closed with unconfirmed messages');
    this.subs.clear();
    this.listeners = [];
  }
}

/** The bus a `transport` setting names: 'memory' (in-process) or an amqp:// URL. */
export function isAmqpUrl(transport: string | undefined): boolean {
  return !!transport && /^amqps?:\/\//.test(transport);
}
