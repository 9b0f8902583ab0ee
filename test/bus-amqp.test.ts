// The message bus: one contract that the in-process and the RabbitMQ transports both keep, and
// what only RabbitMQ has to prove: casts the broker acknowledged survive a broker killed and
// restarted, casts sent while it is down go once it is back, calls in flight fail cleanly, and
// servers are served again after the reconnection. Starts Debian's rabbitmq-server on loopback.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { InProcessBus, RpcError, type MessageBus, type RpcContext } from '../src/core/bus.ts';
import { AmqpBus } from '../src/core/bus-amqp.ts';
import { TestBroker, rabbitmqUnavailable } from './lib/rabbitmq.ts';
import { until } from './lib/cloud.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Declarations a transport makes in the background are done (RabbitMQ); nothing to wait for in-process. */
const settled = async (...buses: MessageBus[]) => {
  for (const b of buses) await (b as AmqpBus).ready?.();
};

/** `server` serves, `client` calls: the same object in-process, two connections (two processes) over RabbitMQ. */
function contract(
  name: string,
  make: () => Promise<{ client: MessageBus; server: MessageBus; close(): Promise<void> }>,
) {
  describe(`message bus contract (${name})`, () => {
    let client: MessageBus;
    let server: MessageBus;
    let close: () => Promise<void>;
    before(async () => {
      ({ client, server, close } = await make());
    });
    after(async () => {
      await close?.();
    });

    it('calls one server by name or any server of a topic, and carries the remote error', async () => {
      const seen: string[] = [];
      const handlers = (host: string) => ({
        ping: (a: { n: number }, ctx: RpcContext) => ({ pong: a.n + 1, host, request: ctx.requestId ?? null }),
        note: (a: { x: number }) => {
          seen.push(`${host}:${a.x}`);
        },
        boom: () => {
          throw new RpcError('it broke', 'InstanceNotFound');
        },
        slow: async () => {
          await sleep(1000);
          return 'late';
        },
        mutate: (a: { list: number[] }) => {
          a.list.push(2);
          return a.list;
        },
      });
      const stop1 = server.serve('contract', 'host1', handlers('host1'));
      const stop2 = server.serve('contract', 'host2', handlers('host2'));
      await settled(server, client);
      assert.deepEqual(await client.call('contract.host2', 'ping', { n: 1 }, { requestId: 'req-1' }), {
        pong: 2,
        host: 'host2',
        request: 'req-1',
      });
      const hosts = new Set<string>();
      for (let i = 0; i < 6; i++) hosts.add((await client.call<{ host: string }>('contract', 'ping', { n: 0 })).host);
      assert.deepEqual([...hosts].sort(), ['host1', 'host2'], 'a topic call goes round the servers');
      // What crosses the bus is a copy.
      const list = [1];
      assert.deepEqual(await client.call('contract.host1', 'mutate', { list }), [1, 2]);
      assert.deepEqual(list, [1]);
      await assert.rejects(client.call('contract', 'nope'), (e: RpcError) =>
        /does not support RPC method nope/.test(e.message),
      );
      await assert.rejects(
        client.call('contract.host1', 'boom'),
        (e: Error & { remoteType?: string }) =>
          e.message === 'it broke' && (e.remoteType ?? 'InstanceNotFound') === 'InstanceNotFound',
      );
      await assert.rejects(
        client.call('nobody', 'ping'),
        (e: RpcError) =>
          e instanceof RpcError && /No server listens on nobody/.test(e.message) && e.remoteType === 'MessagingTimeout',
      );
      const t0 = Date.now();
      await assert.rejects(
        client.call('contract.host1', 'slow', {}, {}, 150),
        (e: RpcError) => /Timed out waiting for a reply to slow/.test(e.message) && e.remoteType === 'MessagingTimeout',
      );
      assert.ok(Date.now() - t0 < 900, "the timeout is the caller's");

      client.cast('contract.host1', 'note', { x: 'cast' });
      client.fanout('contract', 'note', { x: 'fan' });
      await until('the cast and the fanout', () => seen.length >= 3);
      await sleep(100);
      assert.deepEqual(seen.sort(), ['host1:cast', 'host1:fan', 'host2:fan']);

      // A stopped server is not served any more; the other one still is.
      stop1();
      await settled(server);
      for (let i = 0; i < 3; i++)
        assert.equal((await client.call<{ host: string }>('contract', 'ping', { n: 0 })).host, 'host2');
      stop2();
    });

    it('delivers notifications to the listeners of their prefix', async () => {
      const got: string[] = [];
      const off = server.onNotification('identity.', (n) => {
        got.push(`${n.event_type}:${n.priority}:${n.publisher_id}:${(n.payload as { id?: string }).id}`);
      });
      const all: string[] = [];
      server.onNotification('', (n) => {
        all.push(n.event_type);
      });
      await settled(server);
      client.notify('identity.host', 'identity.user.created', { id: 'u1' });
      client.notify('nova-compute:h', 'compute.instance.create.end', { id: 'i1' }, 'INFO');
      client.notify('identity.host', 'identity.project.deleted', { id: 'p1' }, 'WARN');
      await until('the notifications', () => all.length >= 3);
      assert.deepEqual(got.sort(), [
        'identity.project.deleted:WARN:identity.host:p1',
        'identity.user.created:INFO:identity.host:u1',
      ]);
      off();
    });
  });
}

contract('in-process', async () => {
  const bus = new InProcessBus();
  return { client: bus, server: bus, close: () => bus.close() };
});

const unavailable = rabbitmqUnavailable();
if (unavailable) {
  it('message bus over RabbitMQ', { skip: unavailable }, () => {});
} else {
  let broker: TestBroker;
  describe('RabbitMQ', () => {
    before(async () => {
      broker = new TestBroker();
      await broker.start();
    });
    after(async () => {
      await broker?.stop();
    });

    contract('RabbitMQ', async () => {
      const client = new AmqpBus(broker.url, { name: 'contract client' });
      const server = new AmqpBus(broker.url, { name: 'contract server' });
      await client.connect();
      await server.connect();
      return {
        client,
        server,
        close: async () => {
          await client.close();
          await server.close();
        },
      };
    });

    it('keeps acknowledged casts across a broker killed and restarted, and reconnects', {
      timeout: 240_000,
    }, async () => {
      const producer = new AmqpBus(broker.url, { name: 'producer' });
      const worker = new AmqpBus(broker.url, { name: 'worker' });
      const consumer = new AmqpBus(broker.url, { name: 'consumer' });
      try {
        await producer.connect();
        await worker.connect();
        const answered: string[] = [];
        worker.serve('echo', 'w1', {
          echo: (a: { v: string }) => {
            answered.push(a.v);
            return a.v;
          },
          slow: async () => {
            await new Promise((r) => setTimeout(r, 30_000).unref());
            return 'never seen';
          },
        });
        await settled(worker);
        assert.equal(await producer.call('echo', 'echo', { v: 'before' }), 'before');

        // Casts to the `jobs` topic before any worker serves it: the durable queue keeps them.
        for (let i = 0; i < 5; i++) producer.cast('jobs', 'job', { n: i });
        await producer.flush();
        const inFlight = producer.call('echo.w1', 'slow', {}, {}, 60_000).then(
          () => null,
          (e) => e,
        );
        await sleep(200);

        const t0 = Date.now();
        await broker.kill();
        // A call waiting for its answer fails cleanly and at once, not after its timeout.
        const lostCall = await inFlight;
        assert.ok(lostCall instanceof RpcError && /Lost the connection/.test(lostCall.message), String(lostCall));
        assert.ok(Date.now() - t0 < 10_000);
        await until('the bus to see the broker gone', () => !producer.connected);
        // Sent while the broker is down: kept in the outbox and sent after the reconnection.
        for (let i = 5; i < 7; i++) producer.cast('jobs', 'job', { n: i });
        const confirmed = producer.flush();
        await broker.start();
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          confirmed,
          new Promise((_, reject) => {
            timer = setTimeout(
              () => reject(new Error('casts sent while the broker was down were never confirmed')),
              60_000,
            );
          }),
        ]);
        clearTimeout(timer);

        const got: number[] = [];
        await consumer.connect();
        consumer.serve('jobs', 'c1', {
          job: (a: { n: number }) => {
            got.push(a.n);
          },
        });
        await until('the seven casts', () => got.length >= 7, 30_000);
        await sleep(300);
        assert.deepEqual(
          [...got].sort((x, y) => x - y),
          [0, 1, 2, 3, 4, 5, 6],
          'every acknowledged cast, once',
        );

        // The worker reconnected by itself and serves again (its consumers were re-declared).
        await until('the worker to reconnect', () => worker.connected, 30_000);
        await settled(worker);
        assert.equal(await producer.call('echo.w1', 'echo', { v: 'after' }, {}, 10_000), 'after');
        assert.deepEqual(answered, ['before', 'after']);
      } finally {
        await consumer.close();
        await worker.close();
        await producer.close();
      }
      // Closed: calls fail, nothing hangs.
      await assert.rejects(producer.call('echo', 'echo', { v: 'x' }), RpcError);
    });
  });
}
