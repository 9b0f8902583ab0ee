// The network telling compute what changed (src/network/nova_notifier.ts → POST
// /os-server-external-events → the agent, src/compute/agent/events.ts): a port going ACTIVE
// sends network-vif-plugged (a fake driver told to wait for it waits), a deleted port leaves the
// info cache, a floating IP associated in the network alone reaches `addresses` without the heal
// task; the fake hosts besides the network's own get an L2 agent, so their ports go ACTIVE.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ActionEvent, ApiPort, FixedIp, InstanceAction, ServerAddress } from './lib/api-types.ts';
import {
  startCloud,
  databaseEngines,
  member,
  type TestCloud,
  until,
  uploadImage,
  serviceApi,
  untilServer,
} from './lib/cloud.ts';
import { routedNetwork } from './lib/networks.ts';
import type { FakeDriver } from '../src/compute/drivers/fake.ts';
import { computeService, networkService } from './lib/services.ts';
import { novaNotifier, isComputePort, statusEvent } from '../src/network/nova_notifier.ts';
import { InstanceEvents, instanceEvents } from '../src/compute/agent/events.ts';

describe('nova notifier rules', () => {
  const uuid = '0b5f2f5e-8d36-4c2b-a1a4-3e0e4a6c7d10';
  it('only compute ports, and the status transitions upstream names', () => {
    assert.equal(isComputePort({ device_id: uuid, device_owner: 'compute:nova' }), true);
    assert.equal(isComputePort({ device_id: 'not-a-uuid', device_owner: 'compute:nova' }), false);
    assert.equal(isComputePort({ device_id: uuid, device_owner: 'network:dhcp' }), false);
    const port = (status: string) => ({ id: 'p1', device_id: uuid, device_owner: 'compute:nova', status });
    assert.deepEqual(statusEvent(port('ACTIVE'), 'DOWN'), {
      server_uuid: uuid,
      name: 'network-vif-plugged',
      status: 'completed',
      tag: 'p1',
    });
    assert.deepEqual(statusEvent(port('ERROR'), 'BUILD'), {
      server_uuid: uuid,
      name: 'network-vif-plugged',
      status: 'failed',
      tag: 'p1',
    });
    assert.deepEqual(statusEvent(port('DOWN'), 'ACTIVE'), {
      server_uuid: uuid,
      name: 'network-vif-unplugged',
      status: 'completed',
      tag: 'p1',
    });
    assert.equal(statusEvent(port('DOWN'), undefined), undefined, 'a new DOWN port is no event');
    assert.equal(statusEvent(port('ACTIVE'), 'ACTIVE'), undefined);
    assert.equal(statusEvent(port('DOWN'), 'ERROR'), undefined);
  });
  it('waiters: an event before the wait is registered is dropped, after it wakes the waiter', async () => {
    const r = new InstanceEvents();
    assert.equal(r.pop(uuid, 'network-vif-plugged-p1', 'completed'), false);
    const w = r.prepare(uuid, ['network-vif-plugged-p1']);
    assert.equal(r.size, 1);
    assert.equal(r.pop(uuid, 'network-vif-plugged-p1', 'failed'), true);
    assert.equal(await w.get('network-vif-plugged-p1'), 'failed');
    assert.equal(r.size, 0);
  });
});

for (const engine of databaseEngines('compute external events')) {
  describe(`compute external events (${engine.name})`, () => {
    let c: TestCloud;
    let alice: { project: string; token: string };
    let image: string;
    let privateNet: string;
    let publicNet: string;
    let hosts: string[];
    const nova = serviceApi(() => c, '/compute/v2.1', 'compute', '2.93');
    const admin = (method: string, p: string, body?: unknown) =>
      c.req(method, `${c.url}/compute/v2.1${p}`, body, { headers: { 'OpenStack-API-Version': 'compute 2.93' } });
    const neutron = (method: string, p: string, body?: unknown, token?: string) =>
      c.req(method, `${c.url}/networking${p}`, body, { token });
    const show = async (id: string) => (await nova('GET', `/servers/${id}`)).body.server;
    const waitFor = (id: string, status: string) => untilServer(show, id, status);
    const sentEvents = () => novaNotifier(networkService(c)).sent.flat();
    const cfg = () => networkService(c).ctx.config;

    before(async () => {
      c = await startCloud({
        database: engine.database,
        configure: (x) => {
          x.compute = {
            ...(x.compute ?? {}),
            fakeHosts: 2,
            fakeWaitForVifPlugged: true,
            vifPluggingTimeout: 2,
            healInstanceInfoCacheInterval: 0,
          };
          x.network = { ...x.network, sendEventsInterval: 0.05 };
        },
      });
      alice = await member(c, 'alice');
      image = await uploadImage(c, 'cirros', new Uint8Array(Buffer.from('fake image')), 'qcow2');
      ({ publicNet, privateNet } = await routedNetwork(c, { cidr: '10.30.0.0/24', shared: true }));
      await until('compute nodes in placement', async () => computeService(c).parts.agents.every((a) => a.ready));
      hosts = computeService(c).parts.agents.map((a) => a.host);
    });
    after(async () => {
      await c.stop();
    });

    const boot = async (name: string, host: string, networks: unknown = [{ uuid: privateNet }]) => {
      const r = await admin('POST', '/servers', {
        server: { name, imageRef: image, flavorRef: '1', networks, availability_zone: `nova:${host}` },
      });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      return r.body.server.id as string;
    };

    it('a server on each fake host: its port goes ACTIVE, network-vif-plugged arrives, the waiting driver boots', async () => {
      for (const host of hosts) {
        const id = await boot(`on-${host}`, host);
        const s = await waitFor(id, 'ACTIVE');
        assert.equal(s['OS-EXT-SRV-ATTR:host'], host);
        const port = (await neutron('GET', `/v2.0/ports?device_id=${id}`)).body.ports[0];
        assert.equal(port.status, 'ACTIVE', `port on ${host}: ${port['binding:vif_type']}`);
        assert.equal(port['binding:host_id'], host);
        await until('the plugged event', async () =>
          sentEvents().some(
            (e) =>
              e.name === 'network-vif-plugged' && e.tag === port.id && e.server_uuid === id && e.status === 'completed',
          ),
        );
        // Nova records no instance action for network events.
        const actions = (await nova('GET', `/servers/${id}/os-instance-actions`)).body.instanceActions;
        assert.deepEqual(
          actions.map((a: InstanceAction) => a.action),
          ['create'],
        );
      }
      // The network lists an L2 agent for the second host (and DHCP/L3 only on its own).
      const agents = (await neutron('GET', '/v2.0/agents')).body.agents;
      assert.deepEqual(
        agents.filter((a: { host: string }) => a.host === hosts[1]).map((a: { agent_type: string }) => a.agent_type),
        ['Logical agent'],
      );
      assert.equal(instanceEvents(computeService(c).parts.agents[0]!).size, 0, 'no waiter left');
    });

    it('a trunk on the second host: parent and subport ACTIVE there, and again after a live migration (the tempest trunk test)', async () => {
      const sub = (await neutron('POST', '/v2.0/networks', { network: { name: 'subnet-net' } })).body.network;
      await neutron('POST', '/v2.0/subnets', { subnet: { network_id: sub.id, ip_version: 4, cidr: '19.80.0.0/24' } });
      const parent = (await neutron('POST', '/v2.0/ports', { port: { network_id: privateNet, name: 'parent' } })).body
        .port;
      const subport = (await neutron('POST', '/v2.0/ports', { port: { network_id: sub.id, name: 'subport' } })).body
        .port;
      const trunk = await neutron('POST', '/v2.0/trunks', {
        trunk: {
          port_id: parent.id,
          sub_ports: [{ port_id: subport.id, segmentation_type: 'vlan', segmentation_id: 42 }],
        },
      });
      assert.equal(trunk.status, 201, JSON.stringify(trunk.body));
      const id = await boot('trunk', hosts[1]!, [{ port: parent.id }]);
      await waitFor(id, 'ACTIVE');
      const ports = async () =>
        Promise.all([parent.id, subport.id].map(async (p) => (await neutron('GET', `/v2.0/ports/${p}`)).body.port));
      await until('parent and subport ACTIVE on the second host', async () =>
        (await ports()).every((p) => p.status === 'ACTIVE' && p['binding:host_id'] === hosts[1]),
      );
      const lm = await admin('POST', `/servers/${id}/action`, {
        'os-migrateLive': { host: hosts[0], block_migration: 'auto' },
      });
      assert.equal(lm.status, 202, JSON.stringify(lm.body));
      await until('migrated', async () => {
        const s = await show(id);
        return s['OS-EXT-SRV-ATTR:host'] === hosts[0] && s.status === 'ACTIVE' && !s['OS-EXT-STS:task_state'];
      });
      await until('parent and subport ACTIVE on the first host', async () =>
        (await ports()).every((p) => p.status === 'ACTIVE' && p['binding:host_id'] === hosts[0]),
      );
      await admin('DELETE', `/servers/${id}`);
    });

    it('a port that never goes ACTIVE: the build waits vifPluggingTimeout and fails (vif_plugging_is_fatal)', async () => {
      const port = (await neutron('POST', '/v2.0/ports', { port: { network_id: privateNet, admin_state_up: false } }))
        .body.port;
      const id = await boot('never-plugged', hosts[0]!, [{ port: port.id }]);
      const s = await waitFor(id, 'ERROR');
      assert.match(String(s.fault?.message), /Failed to allocate the network\(s\), not rescheduling/);
      // Not rescheduled: one attempt only.
      const events = (
        await admin(
          'GET',
          `/servers/${id}/os-instance-actions/${(await admin('GET', `/servers/${id}/os-instance-actions`)).body.instanceActions[0].request_id}`,
        )
      ).body.instanceAction.events;
      assert.equal(events.filter((e: ActionEvent) => e.event === 'compute__do_build_and_run_instance').length, 1);
      await admin('DELETE', `/servers/${id}`);
    });

    it('attach a port: its plugged event arrives; delete it in the network: the info cache drops it', async () => {
      const id = await boot('attach', hosts[1]!);
      await waitFor(id, 'ACTIVE');
      const port = (await neutron('POST', '/v2.0/ports', { port: { network_id: privateNet } })).body.port;
      const att = await nova('POST', `/servers/${id}/os-interface`, { interfaceAttachment: { port_id: port.id } });
      assert.equal(att.status, 200, JSON.stringify(att.body));
      await until('the attached port plugged', async () =>
        sentEvents().some((e) => e.name === 'network-vif-plugged' && e.tag === port.id && e.server_uuid === id),
      );
      assert.equal((await nova('GET', `/servers/${id}/os-interface`)).body.interfaceAttachments.length, 2);
      // Deleted in the network alone: network-vif-deleted, the cache (and addresses) lose it.
      assert.equal((await neutron('DELETE', `/v2.0/ports/${port.id}`)).status, 204);
      await until('the deleted event', async () =>
        sentEvents().some((e) => e.name === 'network-vif-deleted' && e.tag === port.id && e.server_uuid === id),
      );
      await until('the info cache without the port', async () => {
        const s = await show(id);
        return (
          s.addresses.private.length === 1 &&
          !s.addresses.private.some((a: ServerAddress) => a.addr === port.fixed_ips[0].ip_address)
        );
      });
      const fake = computeService(c).parts.agents[1]!.driver as FakeDriver;
      assert.equal(fake.interfaces(id).includes(port.id), false, 'the guest lost the nic');
    });

    it('a floating IP associated and disassociated in the network: addresses follow without the heal task', async () => {
      const id = await boot('fip', hosts[0]!);
      await waitFor(id, 'ACTIVE');
      const port = (await neutron('GET', `/v2.0/ports?device_id=${id}`)).body.ports[0];
      const fip = (await neutron('POST', '/v2.0/floatingips', { floatingip: { floating_network_id: publicNet } })).body
        .floatingip;
      assert.equal(
        (await neutron('PUT', `/v2.0/floatingips/${fip.id}`, { floatingip: { port_id: port.id } })).status,
        200,
      );
      await until('the floating IP in addresses', async () =>
        (await show(id)).addresses.private.some(
          (a: ServerAddress) => a.addr === fip.floating_ip_address && a['OS-EXT-IPS:type'] === 'floating',
        ),
      );
      assert.ok(sentEvents().some((e) => e.name === 'network-changed' && e.tag === port.id && e.server_uuid === id));
      assert.equal(
        (await neutron('PUT', `/v2.0/floatingips/${fip.id}`, { floatingip: { port_id: null } })).status,
        200,
      );
      await until(
        'the floating IP gone from addresses',
        async () => !(await show(id)).addresses.private.some((a: ServerAddress) => a.addr === fip.floating_ip_address),
      );
      // Fixed IPs changed in the network: network-changed, the new address shows. The address is
      // one no port holds (the IPAM picks addresses at random, so a fixed choice could be taken).
      const used = new Set<string>(
        (await neutron('GET', '/v2.0/ports')).body.ports.flatMap((p: ApiPort) =>
          p.fixed_ips.map((f: FixedIp) => f.ip_address as string),
        ),
      );
      const free = Array.from({ length: 50 }, (_, i) => `10.30.0.${200 + i}`).find((a) => !used.has(a))!;
      const put = await neutron('PUT', `/v2.0/ports/${port.id}`, {
        port: { fixed_ips: [{ ip_address: free }] },
      });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      await until('the new fixed IP in addresses', async () =>
        (await show(id)).addresses.private.some((a: ServerAddress) => a.addr === free),
      );
    });

    it('with notifyNovaOnPortDataChanges / StatusChanges off nothing is sent', async () => {
      const n = novaNotifier(networkService(c));
      await n.flush();
      cfg().network.notifyNovaOnPortDataChanges = false;
      cfg().network.notifyNovaOnPortStatusChanges = false;
      try {
        const before = sentEvents().length;
        const port = (await neutron('POST', '/v2.0/ports', { port: { network_id: privateNet } })).body.port;
        const id = (await nova('GET', '/servers?name=fip')).body.servers[0].id;
        // A compute port (as Nova binds it) going ACTIVE, then deleted: no events.
        assert.equal(
          (
            await neutron('PUT', `/v2.0/ports/${port.id}`, {
              port: { device_id: id, device_owner: 'compute:nova', 'binding:host_id': hosts[0] },
            })
          ).status,
          200,
        );
        await until(
          'the port ACTIVE',
          async () => (await neutron('GET', `/v2.0/ports/${port.id}`)).body.port.status === 'ACTIVE',
        );
        assert.equal((await neutron('DELETE', `/v2.0/ports/${port.id}`)).status, 204);
        await n.flush();
        assert.equal(sentEvents().length, before);
      } finally {
        cfg().network.notifyNovaOnPortDataChanges = true;
        cfg().network.notifyNovaOnPortStatusChanges = true;
      }
    });

    it('the API checks each event: unknown server 404, no host 422, tag required for volume-extended, 207 then', async () => {
      const id = (await nova('GET', '/servers?name=fip')).body.servers[0].id;
      const r = await admin('POST', '/os-server-external-events', {
        events: [
          { server_uuid: id, name: 'network-changed' },
          { server_uuid: '00000000-0000-0000-0000-000000000000', name: 'network-vif-plugged', tag: 'x' },
        ],
      });
      assert.equal(r.status, 207);
      assert.deepEqual(
        r.body.events.map((e: { code: string; status: string }) => [e.code, e.status]),
        [
          [200, 'completed'],
          [404, 'failed'],
        ],
      );
      assert.equal(
        (
          await admin('POST', '/os-server-external-events', {
            events: [{ server_uuid: id, name: 'network-changed', tag: 'p' }],
          })
        ).status,
        200,
      );
      assert.equal(
        (
          await nova(
            'POST',
            '/os-server-external-events',
            { events: [{ server_uuid: id, name: 'network-changed' }] },
            { token: alice.token },
          )
        ).status,
        403,
      );
      assert.equal(
        (await admin('POST', '/os-server-external-events', { events: [{ server_uuid: id, name: 'nope' }] })).status,
        400,
      );
    });
  });
}
