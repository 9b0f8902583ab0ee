// The extras family of the network service through its HTTP API and the in-process agent:
// agents and their state reports, DHCP ports and the DHCP scheduler, port binding and status,
// availability zones, QoS policies and rules, trunks, the L3 agent's router sync.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ApiPort, WithId, WithName } from './lib/api-types.ts';
import { startCloud, databaseEngines, type TestCloud, member } from './lib/cloud.ts';
import type { NetworkService } from '../src/network/service.ts';
import { localAgent } from '../src/network/api/extras.ts';
import type { LogicalDriver } from '../src/network/drivers/logical.ts';
import { PLUGIN_TOPIC } from '../src/network/agent/rpc.ts';
import { dhcpDeviceId } from '../src/network/agent/server.ts';

/** Polls until fn answers something truthy (the agent works after the request returned). */
async function eventually<T>(fn: () => Promise<T>, what: string, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

for (const engine of databaseEngines('network extras')) {
  describe(`network extras (${engine.name})`, () => {
    let c: TestCloud;
    let svc: NetworkService;
    let host: string;
    let alice: { project: string; token: string };
    let bob: { project: string; token: string };
    const n = (p: string) => `${c.url}/networking/v2.0${p}`;
    const req = (method: string, p: string, body?: unknown, token?: string) =>
      c.req(method, n(p), body, token ? { token } : {});
    const driver = () => localAgent(svc)!.driver as LogicalDriver;
    const idle = () => localAgent(svc)!.idle();

    async function network(body: Record<string, unknown> = {}, token?: string, cidr = '10.9.0.0/24') {
      const net = await req('POST', '/networks', { network: { name: 'x', ...body } }, token);
      assert.equal(net.status, 201, JSON.stringify(net.body));
      const sub = await req(
        'POST',
        '/subnets',
        { subnet: { network_id: net.body.network.id, cidr, ip_version: 4 } },
        token,
      );
      assert.equal(sub.status, 201, JSON.stringify(sub.body));
      return { net: net.body.network, subnet: sub.body.subnet };
    }
    const port = async (networkId: string, body: Record<string, unknown> = {}, token?: string) => {
      const r = await req('POST', '/ports', { port: { network_id: networkId, ...body } }, token);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.port;
    };
    const show = async (path: string) => (await req('GET', path)).body;

    before(async () => {
      c = await startCloud({ database: engine.database });
      svc = c.cloud.services.find((s) => s.catalogEntry.name === 'network') as unknown as NetworkService;
      host = svc.host;
      alice = await member(c, 'ext-alice');
      bob = await member(c, 'ext-bob');
    });
    after(async () => {
      await c.stop();
    });

    describe('agents', () => {
      it('lists the three roles of the in-process agent, alive, to admins only', async () => {
        const r = await req('GET', '/agents');
        assert.equal(r.status, 200);
        const types = r.body.agents.map((a: { agent_type: string }) => a.agent_type).sort();
        assert.deepEqual(types, ['DHCP agent', 'L3 agent', 'Logical agent']);
        for (const a of r.body.agents) {
          assert.equal(a.host, host);
          assert.equal(a.alive, true);
          assert.equal(a.admin_state_up, true);
          assert.match(a.heartbeat_timestamp, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
          assert.equal(typeof a.configurations, 'object');
        }
        assert.equal(
          r.body.agents.find((a: { agent_type: string }) => a.agent_type === 'DHCP agent').availability_zone,
          'nova',
        );
        assert.equal((await req('GET', '/agents', undefined, alice.token)).body.agents.length, 0);
        assert.equal((await req('GET', `/agents/${r.body.agents[0].id}`, undefined, alice.token)).status, 404);
        assert.equal((await req('GET', '/agents?alive=false')).body.agents.length, 0);
        assert.equal((await req('GET', '/agents?agent_type=L3%20agent')).body.agents.length, 1);
        // Upstream's binaries per role (neutron_tempest_plugin looks the L3 agents up by binary).
        const binaries = Object.fromEntries(
          r.body.agents.map((a: { agent_type: string; binary: string }) => [a.agent_type, a.binary]),
        );
        assert.deepEqual(binaries, {
          'DHCP agent': 'neutron-dhcp-agent',
          'L3 agent': 'neutron-l3-agent',
          'Logical agent': 'stratus-network-agent',
        });
        const l3 = (await req('GET', '/agents?binary=neutron-l3-agent')).body.agents;
        assert.deepEqual(
          l3.map((a: { agent_type: string }) => a.agent_type),
          ['L3 agent'],
        );
      });

      it('updates description and admin_state_up only, and deletes (the agent comes back on its next report)', async () => {
        const a = (await req('GET', '/agents?agent_type=L3%20agent')).body.agents[0];
        const u = await req('PUT', `/agents/${a.id}`, { agent: { description: 'the router role' } });
        assert.equal(u.status, 200);
        assert.equal(u.body.agent.description, 'the router role');
        assert.equal((await req('PUT', `/agents/${a.id}`, { agent: { host: 'elsewhere' } })).status, 400);
        assert.equal((await req('PUT', `/agents/${a.id}`, { agent: { description: 'x' } }, alice.token)).status, 404);
        const missing = await req('DELETE', '/agents/6a0e4a3c-2a3c-4d53-9d1a-7b1f0000aaaa');
        assert.equal(missing.status, 404);
        assert.equal(missing.body.NeutronError.type, 'AgentNotFound');
        // A report from another host registers it; a stale heartbeat makes it dead.
        const bus = svc.ctx.bus;
        assert.equal(
          await bus.call(PLUGIN_TOPIC, 'report_state', {
            agent_state: {
              binary: 'b',
              host: 'far',
              topic: 'dhcp_agent',
              agent_type: 'DHCP agent',
              availability_zone: 'az2',
              configurations: {},
            },
          }),
          'new',
        );
        const far = (await req('GET', '/agents?host=far')).body.agents[0];
        assert.equal(far.alive, true);
        await svc.db
          .updateTable('agents')
          .set({ heartbeat_timestamp: '2000-01-01 00:00:00' })
          .where('id', '=', far.id)
          .execute();
        assert.equal((await req('GET', `/agents/${far.id}`)).body.agent.alive, false);
        assert.deepEqual(
          (await req('GET', '/agents?alive=false')).body.agents.map((x: WithId) => x.id),
          [far.id],
        );
        assert.equal(
          await bus.call(PLUGIN_TOPIC, 'report_state', {
            agent_state: {
              binary: 'b',
              host: 'far',
              topic: 'dhcp_agent',
              agent_type: 'DHCP agent',
              availability_zone: 'az2',
              configurations: {},
            },
          }),
          'revived',
        );
        const zones = (await req('GET', '/availability_zones?resource=network')).body.availability_zones;
        assert.deepEqual(
          zones.map((z: WithName) => z.name),
          ['az2', 'nova'],
        );
        await req('PUT', `/agents/${far.id}`, { agent: { admin_state_up: false } });
        assert.equal(
          (await req('GET', '/availability_zones?name=az2')).body.availability_zones[0].state,
          'unavailable',
        );
        assert.equal((await req('DELETE', `/agents/${far.id}`)).status, 204);
        assert.equal((await req('GET', `/agents/${far.id}`)).status, 404);
      });
    });

    describe('availability zones', () => {
      it('lists zones per resource and checks hints on networks', async () => {
        const r = await req('GET', '/availability_zones', undefined, alice.token);
        assert.equal(r.status, 200);
        assert.deepEqual(
          r.body.availability_zones.filter((z: WithName) => z.name === 'nova'),
          [
            { name: 'nova', resource: 'network', state: 'available' },
            { name: 'nova', resource: 'router', state: 'available' },
          ],
        );
        assert.equal((await req('GET', '/availability_zones?bogus=1')).status, 400);
        const bad = await req('POST', '/networks', { network: { availability_zone_hints: ['nowhere'] } });
        assert.equal(bad.status, 404);
        assert.equal(bad.body.NeutronError.type, 'AvailabilityZoneNotFound');
        assert.equal((await req('POST', '/networks', { network: { availability_zone_hints: 'nova' } })).status, 400);
        const { net } = await network({ availability_zone_hints: ['nova'] });
        const shown = await show(`/networks/${net.id}`);
        assert.deepEqual(shown.network.availability_zone_hints, ['nova']);
        assert.deepEqual(shown.network.availability_zones, ['nova']);
      });
    });

    describe('DHCP', () => {
      it('gives a network with a DHCP subnet its DHCP port, bound here and ACTIVE, and releases it when DHCP goes', async () => {
        const { net, subnet } = await network({}, alice.token, '10.20.0.0/24');
        const hosting = await req('GET', `/networks/${net.id}/dhcp-agents`);
        assert.equal(hosting.body.agents.length, 1);
        assert.equal(hosting.body.agents[0].agent_type, 'DHCP agent');
        const dhcp = await eventually(async () => {
          const ports = (await req('GET', `/ports?network_id=${net.id}&device_owner=network:dhcp`)).body.ports;
          return ports.length === 1 && ports[0].status === 'ACTIVE' ? ports[0] : undefined;
        }, 'an active DHCP port');
        assert.equal(dhcp.device_id, dhcpDeviceId(host, net.id));
        assert.equal(dhcp['binding:host_id'], host);
        assert.equal(dhcp['binding:vif_type'], 'tap');
        assert.equal(dhcp.project_id, alice.project);
        assert.equal(dhcp.fixed_ips[0].subnet_id, subnet.id);
        await idle();
        assert.ok(driver().dhcp.get(net.id), 'the driver serves the network');
        assert.ok(driver().ports.get(dhcp.id), 'the DHCP port is plugged');
        const nets = (await req('GET', `/agents/${hosting.body.agents[0].id}/dhcp-networks`)).body.networks.map(
          (x: WithId) => x.id,
        );
        assert.ok(nets.includes(net.id));
        // The owner may delete the network: its DHCP port goes with it.
        assert.equal(
          (await req('PUT', `/subnets/${subnet.id}`, { subnet: { enable_dhcp: false } }, alice.token)).status,
          200,
        );
        await eventually(
          async () => (await req('GET', `/ports?network_id=${net.id}`)).body.ports.length === 0,
          'the DHCP port released',
        );
        await idle();
        assert.equal(driver().dhcp.get(net.id), undefined);
        assert.equal(driver().ports.get(dhcp.id), undefined);
        assert.equal((await req('DELETE', `/networks/${net.id}`, undefined, alice.token)).status, 204);
      });

      it('follows port creates, updates and deletes on a served network, and makes a new DHCP port when its own is deleted', async () => {
        const { net } = await network({}, undefined, '10.22.0.0/24');
        const dhcp = await eventually(
          async () => (await req('GET', `/ports?network_id=${net.id}&device_owner=network:dhcp`)).body.ports[0],
          'a DHCP port',
        );
        await idle();
        const served = () => (driver().dhcp.get(net.id)?.ports ?? []).map((p) => p.id).sort();
        const ports: ApiPort[] = [];
        for (let i = 0; i < 3; i++)
          ports.push((await req('POST', '/ports', { port: { network_id: net.id, name: `p${i}` } })).body.port);
        const want = (ids: string[]) =>
          eventually(async () => JSON.stringify(served()) === JSON.stringify(ids.sort()), `the driver to serve ${ids}`);
        await want([dhcp.id, ...ports.map((p) => p.id)]);
        assert.equal((await req('PUT', `/ports/${ports[0].id}`, { port: { name: 'renamed' } })).status, 200);
        assert.equal((await req('DELETE', `/ports/${ports[1].id}`)).status, 204);
        await want([dhcp.id, ports[0].id, ports[2].id]);
        assert.equal(
          driver()
            .dhcp.get(net.id)!
            .ports.find((p) => p.id === ports[0]!.id)!.name,
          'renamed',
        );
        assert.equal((await req('DELETE', `/ports/${dhcp.id}`)).status, 204);
        const again = await eventually(
          async () => (await req('GET', `/ports?network_id=${net.id}&device_owner=network:dhcp`)).body.ports[0],
          'a new DHCP port',
        );
        assert.notEqual(again.id, dhcp.id);
        await want([again.id, ports[0].id, ports[2].id]);
      });

      it('moves networks off and onto a DHCP agent by hand, keeping the port reserved in between', async () => {
        const { net } = await network({}, undefined, '10.21.0.0/24');
        const agent = (await req('GET', `/networks/${net.id}/dhcp-agents`)).body.agents[0];
        const first = await eventually(
          async () => (await req('GET', `/ports?network_id=${net.id}&device_owner=network:dhcp`)).body.ports[0],
          'a DHCP port',
        );
        assert.equal((await req('GET', `/agents/${agent.id}/dhcp-networks`, undefined, alice.token)).status, 403);
        const dup = await req('POST', `/agents/${agent.id}/dhcp-networks`, { network_id: net.id });
        assert.equal(dup.status, 409);
        assert.equal(dup.body.NeutronError.type, 'NetworkHostedByDHCPAgent');
        assert.equal((await req('DELETE', `/agents/${agent.id}/dhcp-networks/${net.id}`)).status, 204);
        const gone = await req('DELETE', `/agents/${agent.id}/dhcp-networks/${net.id}`);
        assert.equal(gone.status, 409);
        assert.equal(gone.body.NeutronError.type, 'NetworkNotHostedByDhcpAgent');
        assert.equal((await show(`/ports/${first.id}`)).port.device_id, 'reserved_dhcp_port');
        assert.deepEqual((await req('GET', `/networks/${net.id}/dhcp-agents`)).body.agents, []);
        const l3 = (await req('GET', '/agents?agent_type=L3%20agent')).body.agents[0];
        assert.equal(
          (await req('POST', `/agents/${l3.id}/dhcp-networks`, { network_id: net.id })).body.NeutronError.type,
          'InvalidDHCPAgent',
        );
        const add = await req('POST', `/agents/${agent.id}/dhcp-networks`, { network_id: net.id });
        assert.equal(add.status, 201);
        await eventually(
          async () => (await show(`/ports/${first.id}`)).port.device_id === dhcpDeviceId(host, net.id),
          'the reserved port taken back',
        );
        assert.equal((await req('GET', `/ports?network_id=${net.id}`)).body.ports.length, 1);
      });
    });

    describe('port binding', () => {
      it("gives the firewall a port's new port security even when its groups stay []", async () => {
        const { net } = await network({}, undefined, '10.23.0.0/24');
        const p = await port(net.id, { 'binding:host_id': host, device_owner: 'compute:nova', device_id: 'vm-ps' });
        const fwPort = () => driver().securityGroups.devices[p.id];
        await eventually(async () => {
          await idle();
          return fwPort()?.port_security_enabled === true;
        }, 'the port in the firewall');
        // As tempest's test_port_security_disable_security_group: no groups, then port security off.
        await req('PUT', `/ports/${p.id}`, { port: { port_security_enabled: true, security_groups: [] } });
        await eventually(async () => {
          await idle();
          return fwPort()?.security_groups.length === 0;
        }, 'the groups gone');
        await req('PUT', `/ports/${p.id}`, { port: { port_security_enabled: false, security_groups: [] } });
        await eventually(async () => {
          await idle();
          return fwPort()?.port_security_enabled === false;
        }, 'port security off in the firewall');
        await req('DELETE', `/ports/${p.id}`);
      });

      it("gives the firewall a remote address group's addresses as prefixes, and its changes", async () => {
        const { net } = await network({}, undefined, '10.24.0.0/24');
        const ag = (
          await req('POST', '/address-groups', {
            address_group: { name: 'ag', addresses: ['10.77.0.5/32', 'fd00::5/128'] },
          })
        ).body.address_group;
        const sg = (await req('POST', '/security-groups', { security_group: { name: 'ag-sg' } })).body.security_group;
        const r = await req('POST', '/security-group-rules', {
          security_group_rule: {
            security_group_id: sg.id,
            direction: 'ingress',
            protocol: 'icmp',
            remote_address_group_id: ag.id,
          },
        });
        assert.equal(r.status, 201, JSON.stringify(r.body));
        const p = await port(net.id, {
          'binding:host_id': host,
          device_owner: 'compute:nova',
          device_id: 'vm-ag',
          security_groups: [sg.id],
        });
        const prefixes = () =>
          (driver().securityGroups.security_groups[sg.id] ?? [])
            .filter((x) => x.protocol === 'icmp')
            .map((x) => `${x.remote_ip_prefix}|${x.remote_address_group_id ?? null}`)
            .sort();
        await eventually(async () => {
          await idle();
          return prefixes().join(',') === '10.77.0.5/32|null';
        }, 'the address group as a prefix of the IPv4 rule');
        await req('PUT', `/address-groups/${ag.id}/add_addresses`, { addresses: ['10.77.0.6/32'] });
        await eventually(async () => {
          await idle();
          return prefixes().join(',') === '10.77.0.5/32|null,10.77.0.6/32|null';
        }, 'an added address');
        await req('PUT', `/address-groups/${ag.id}/remove_addresses`, { addresses: ['10.77.0.5/32', '10.77.0.6/32'] });
        await eventually(async () => {
          await idle();
          return prefixes().length === 0;
        }, 'no IPv4 address: the rule allows nothing');
        await req('DELETE', `/ports/${p.id}`);
      });

      it('binds ports to a host with an alive L2 agent, which plugs them and reports them ACTIVE', async () => {
        const { net } = await network({}, undefined, '10.22.0.0/24');
        const p = await port(net.id, { 'binding:host_id': host, device_owner: 'compute:nova', device_id: 'vm-1' });
        assert.equal(p['binding:vif_type'], 'tap');
        assert.deepEqual(p['binding:vif_details'], { port_filter: false, connectivity: 'l2' });
        const active = await eventually(async () => {
          const v = (await show(`/ports/${p.id}`)).port;
          return v.status === 'ACTIVE' ? v : undefined;
        }, 'the port ACTIVE');
        assert.ok(active.revision_number > p.revision_number);
        await idle();
        assert.equal(driver().ports.get(p.id)?.network_id, net.id);
        assert.equal(driver().ports.get(p.id)?.network_type, 'vxlan');
        // Down by admin: the agent reports it DOWN; unbound: unplugged.
        await req('PUT', `/ports/${p.id}`, { port: { admin_state_up: false } });
        await eventually(async () => (await show(`/ports/${p.id}`)).port.status === 'DOWN', 'the port DOWN');
        await req('PUT', `/ports/${p.id}`, { port: { 'binding:host_id': '' } });
        // The agent hears of the change after the answer (the bus message may not have arrived when idle() looks).
        await eventually(async () => {
          await idle();
          return driver().ports.get(p.id) === undefined;
        }, 'the port unplugged');
        const nowhere = await port(net.id, { 'binding:host_id': 'no-such-host' });
        assert.equal(nowhere['binding:vif_type'], 'binding_failed');
        await idle();
        assert.equal((await show(`/ports/${nowhere.id}`)).port.status, 'DOWN');
      });
    });

    describe('QoS', () => {
      it('serves the rule types of the data plane, details to admins only', async () => {
        const types = await req('GET', '/qos/rule-types', undefined, alice.token);
        assert.deepEqual(
          types.body.rule_types.map((t: { type: string }) => t.type),
          ['bandwidth_limit', 'dscp_marking', 'minimum_bandwidth'],
        );
        assert.equal((await req('GET', '/qos/rule-types/dscp_marking', undefined, alice.token)).status, 403);
        const d = (await req('GET', '/qos/rule-types/bandwidth_limit')).body.rule_type;
        assert.equal(d.drivers[0].name, 'logical');
        assert.deepEqual(
          d.drivers[0].supported_parameters.find((p: { parameter_name: string }) => p.parameter_name === 'direction'),
          { parameter_name: 'direction', parameter_values: ['ingress', 'egress'], parameter_type: 'choices' },
        );
        assert.deepEqual(
          d.drivers[0].supported_parameters.find((p: { parameter_name: string }) => p.parameter_name === 'max_kbps')
            .parameter_values,
          { start: 0, end: 2147483647 },
        );
        assert.deepEqual((await req('GET', '/qos/rule-types/packet_rate_limit')).body.rule_type, {
          type: 'packet_rate_limit',
          drivers: [],
        });
        assert.equal((await req('GET', '/qos/rule-types/nonsense')).status, 404);
      });

      it('creates policies with rules, one per type and direction, with upstream validation', async () => {
        const pol = await req('POST', '/qos/policies', { policy: { name: 'gold', description: 'd' } });
        assert.equal(pol.status, 201);
        assert.deepEqual(
          { ...pol.body.policy, id: 0, created_at: 0, updated_at: 0, project_id: 0, tenant_id: 0 },
          {
            id: 0,
            name: 'gold',
            description: 'd',
            shared: false,
            is_default: false,
            rules: [],
            tags: [],
            revision_number: 0,
            created_at: 0,
            updated_at: 0,
            project_id: 0,
            tenant_id: 0,
          },
        );
        const id = pol.body.policy.id;
        assert.equal((await req('POST', '/qos/policies', { policy: { name: 'x' } }, alice.token)).status, 403);
        const rules = `/qos/policies/${id}/bandwidth_limit_rules`;
        const r1 = await req('POST', rules, { bandwidth_limit_rule: { max_kbps: 1000 } });
        assert.equal(r1.status, 201);
        assert.deepEqual(r1.body.bandwidth_limit_rule, {
          id: r1.body.bandwidth_limit_rule.id,
          max_kbps: 1000,
          max_burst_kbps: 0,
          direction: 'egress',
        });
        const conflict = await req('POST', rules, { bandwidth_limit_rule: { max_kbps: 5 } });
        assert.equal(conflict.status, 409);
        assert.equal(conflict.body.NeutronError.type, 'QoSRulesConflict');
        assert.equal(
          (await req('POST', rules, { bandwidth_limit_rule: { max_kbps: 5, direction: 'ingress' } })).status,
          201,
        );
        const missing = await req('POST', rules, { bandwidth_limit_rule: { max_burst_kbps: 5 } });
        assert.equal(missing.status, 400);
        assert.equal(
          (await req('POST', rules, { bandwidth_limit_rule: { max_kbps: -1, direction: 'ingress' } })).body.NeutronError
            .message,
          "Invalid input for max_kbps. Reason: '-1' is too small - must be at least '0'.",
        );
        assert.equal(
          (await req('POST', rules, { bandwidth_limit_rule: { max_kbps: 1, direction: 'sideways' } })).status,
          400,
        );
        const dscp = `/qos/policies/${id}/dscp_marking_rules`;
        const bad = await req('POST', dscp, { dscp_marking_rule: { dscp_mark: 58 } });
        assert.equal(bad.body.NeutronError.message, 'Invalid input for dscp_mark. Reason: 58 is not in valid_values.');
        const mark = await req('POST', dscp, { dscp_marking_rule: { dscp_mark: 46 } });
        assert.equal(mark.status, 201);
        assert.equal((await req('POST', dscp, { dscp_marking_rule: { dscp_mark: 8 } })).status, 409);
        // A minimum above the limit contradicts it.
        const min = await req('POST', `/qos/policies/${id}/minimum_bandwidth_rules`, {
          minimum_bandwidth_rule: { min_kbps: 5000 },
        });
        assert.equal(min.body.NeutronError.type, 'QoSRuleParameterConflict');
        const shown = (await show(`/qos/policies/${id}`)).policy;
        assert.deepEqual(
          shown.rules.map((r: { type: string; qos_policy_id: string }) => [r.type, r.qos_policy_id === id]).sort(),
          [
            ['bandwidth_limit', true],
            ['bandwidth_limit', true],
            ['dscp_marking', true],
          ],
        );
        assert.equal(shown.revision_number, 3);
        const upd = await req('PUT', `${dscp}/${mark.body.dscp_marking_rule.id}`, {
          dscp_marking_rule: { dscp_mark: 48 },
        });
        assert.equal(upd.body.dscp_marking_rule.dscp_mark, 48);
        // Users may read rules but not write them; a policy they cannot see is a 404 for updates, a 403 for creates.
        assert.equal(
          (
            await req(
              'POST',
              '/qos/policies/nope/dscp_marking_rules',
              { dscp_marking_rule: { dscp_mark: 8 } },
              alice.token,
            )
          ).status,
          403,
        );
        assert.equal(
          (
            await req(
              'PUT',
              `${dscp}/${mark.body.dscp_marking_rule.id}`,
              { dscp_marking_rule: { dscp_mark: 8 } },
              alice.token,
            )
          ).status,
          404,
        );
        const nf = await req('GET', `${dscp}/6a0e4a3c-2a3c-4d53-9d1a-7b1f0000aaaa`);
        assert.equal(nf.body.NeutronError.type, 'QosRuleNotFound');
        assert.equal((await req('DELETE', `${dscp}/${mark.body.dscp_marking_rule.id}`)).status, 204);
        assert.equal((await req('DELETE', `/qos/policies/${id}`)).status, 204);
        assert.equal((await req('GET', rules)).status, 404);
      });

      it('attaches policies to networks and ports, the project default to new networks', async () => {
        const def = (
          await req('POST', '/qos/policies', {
            policy: { name: 'default', project_id: alice.project, is_default: true },
          })
        ).body.policy;
        assert.equal(def.is_default, true);
        const second = await req('POST', '/qos/policies', {
          policy: { name: 'another', project_id: alice.project, is_default: true },
        });
        assert.equal(second.status, 409);
        assert.equal(second.body.NeutronError.type, 'QoSPolicyDefaultAlreadyExists');
        const { net } = await network({}, alice.token, '10.23.0.0/24');
        assert.equal(net.qos_policy_id, def.id);
        const p = await port(net.id, {}, alice.token);
        assert.equal(p.qos_policy_id, null);
        assert.equal(p.qos_network_policy_id, def.id);
        const inUse = await req('DELETE', `/qos/policies/${def.id}`);
        assert.equal(inUse.status, 409);
        assert.equal(inUse.body.NeutronError.type, 'QosPolicyInUse');
        // An admin's policy nobody shared is invisible to alice: 404 to attach it.
        const admins = (await req('POST', '/qos/policies', { policy: { name: 'admins' } })).body.policy;
        const hidden = await req('PUT', `/ports/${p.id}`, { port: { qos_policy_id: admins.id } }, alice.token);
        assert.equal(hidden.status, 404);
        assert.equal(hidden.body.NeutronError.type, 'QosPolicyNotFound');
        // Attached by an admin, alice may not detach it until it is shared.
        assert.equal((await req('PUT', `/networks/${net.id}`, { network: { qos_policy_id: admins.id } })).status, 200);
        const detach = await req('PUT', `/networks/${net.id}`, { network: { qos_policy_id: null } }, alice.token);
        assert.equal(detach.status, 403);
        assert.equal(detach.body.NeutronError.type, 'PolicyRemoveAuthorizationError');
        const shared = await req('PUT', `/qos/policies/${admins.id}`, { policy: { shared: true } });
        assert.equal(shared.body.policy.shared, true);
        const rbac = (await req('GET', `/rbac-policies?object_id=${admins.id}`)).body.rbac_policies;
        assert.deepEqual(
          rbac.map((r: { object_type: string; action: string; target_tenant: string }) => [
            r.object_type,
            r.action,
            r.target_tenant,
          ]),
          [['qos_policy', 'access_as_shared', '*']],
        );
        assert.equal((await req('GET', `/qos/policies/${admins.id}`, undefined, bob.token)).body.policy.shared, true);
        assert.equal(
          (await req('PUT', `/ports/${p.id}`, { port: { qos_policy_id: admins.id } }, alice.token)).status,
          200,
        );
        // Unsharing while alice's port and network use it would strand them.
        const unshare = await req('PUT', `/qos/policies/${admins.id}`, { policy: { shared: false } });
        assert.equal(unshare.status, 409);
        assert.equal(unshare.body.NeutronError.type, 'RbacPolicyInUse');
        assert.equal(
          (await req('PUT', `/networks/${net.id}`, { network: { qos_policy_id: null } }, alice.token)).status,
          200,
        );
        assert.equal((await req('PUT', `/ports/${p.id}`, { port: { qos_policy_id: null } }, alice.token)).status, 200);
        assert.equal((await req('PUT', `/qos/policies/${admins.id}`, { policy: { shared: false } })).status, 200);
        assert.equal((await req('GET', `/qos/policies/${admins.id}`, undefined, bob.token)).status, 404);
        assert.equal(
          (await req('GET', `/qos/policies?is_default=true&project_id=${alice.project}`)).body.policies.length,
          1,
        );
        assert.equal(
          (await req('PUT', `/qos/policies/${def.id}`, { policy: { is_default: false } })).body.policy.is_default,
          false,
        );
        const plain = await network({}, alice.token, '10.24.0.0/24');
        assert.equal(plain.net.qos_policy_id, null);
      });

      it("tells the data plane a bound port's policies", async () => {
        const pol = (await req('POST', '/qos/policies', { policy: { name: 'dp', shared: true } })).body.policy;
        const { net } = await network({ qos_policy_id: pol.id }, undefined, '10.25.0.0/24');
        const p = await port(net.id, { 'binding:host_id': host });
        await eventually(async () => driver().ports.get(p.id), 'the port plugged');
        assert.equal(driver().ports.get(p.id)!.network_qos_policy_id, pol.id);
        await req('PUT', `/ports/${p.id}`, { port: { qos_policy_id: pol.id } });
        await eventually(
          async () => driver().ports.get(p.id)?.qos_policy_id === pol.id,
          'the port policy in the driver',
        );
      });
    });

    describe('trunks', () => {
      let net: WithId;
      let net2: WithId;
      before(async () => {
        net = (await network({}, alice.token, '10.30.0.0/24')).net;
        net2 = (await network({}, alice.token, '10.31.0.0/24')).net;
      });

      it('creates trunks with subports, and validates them as upstream', async () => {
        const parent = await port(net.id, {}, alice.token);
        const sub = await port(net2.id, {}, alice.token);
        const t = await req(
          'POST',
          '/trunks',
          {
            trunk: {
              port_id: parent.id,
              name: 't1',
              sub_ports: [{ port_id: sub.id, segmentation_type: 'vlan', segmentation_id: 100 }],
            },
          },
          alice.token,
        );
        assert.equal(t.status, 201, JSON.stringify(t.body));
        assert.equal(t.body.trunk.status, 'DOWN');
        assert.deepEqual(t.body.trunk.sub_ports, [
          { port_id: sub.id, segmentation_type: 'vlan', segmentation_id: 100 },
        ]);
        assert.deepEqual(
          (await req('GET', `/trunks/${t.body.trunk.id}`, undefined, alice.token)).body.trunk,
          t.body.trunk,
        );
        assert.deepEqual((await req('GET', `/ports/${parent.id}`, undefined, alice.token)).body.port.trunk_details, {
          trunk_id: t.body.trunk.id,
          sub_ports: [
            { port_id: sub.id, segmentation_type: 'vlan', segmentation_id: 100, mac_address: sub.mac_address },
          ],
        });
        assert.equal((await req('GET', `/ports/${sub.id}`, undefined, alice.token)).body.port.trunk_details, undefined);
        assert.equal((await req('GET', `/trunks/${t.body.trunk.id}`, undefined, bob.token)).status, 404);

        const again = await req('POST', '/trunks', { trunk: { port_id: parent.id } }, alice.token);
        assert.equal(again.status, 409);
        assert.equal(again.body.NeutronError.type, 'ParentPortInUse');
        const subAsParent = await req('POST', '/trunks', { trunk: { port_id: sub.id } }, alice.token);
        assert.equal(subAsParent.body.NeutronError.type, 'TrunkPortInUse');
        const other = await port(net.id, {}, alice.token);
        const cases: Array<[unknown, number]> = [
          [[{ port_id: sub.id, segmentation_type: 'vlan' }], 400],
          [[{ segmentation_type: 'vlan', segmentation_id: 2 }], 400],
          [{ port_id: sub.id }, 400],
          [[{ port_id: '6a0e4a3c-2a3c-4d53-9d1a-7b1f0000aaaa', segmentation_type: 'vlan', segmentation_id: 2 }], 404],
          [[{ port_id: sub.id, segmentation_type: 'vlan', segmentation_id: 5000 }], 400],
          [[{ port_id: sub.id, segmentation_type: 'vxlan', segmentation_id: 5 }], 400],
        ];
        for (const [subPorts, status] of cases) {
          const r = await req('POST', '/trunks', { trunk: { port_id: other.id, sub_ports: subPorts } }, alice.token);
          assert.equal(r.status, status, `${JSON.stringify(subPorts)}: ${JSON.stringify(r.body)}`);
        }
        assert.equal(
          (await req('GET', `/trunks?port_id=${other.id}`, undefined, alice.token)).body.trunks.length,
          0,
          'a failed create leaves nothing',
        );
        assert.equal(
          (await req('POST', '/trunks', { trunk: { port_id: '6a0e4a3c-2a3c-4d53-9d1a-7b1f0000aaaa' } }, alice.token))
            .status,
          404,
        );

        const del = await req('DELETE', `/ports/${parent.id}`, undefined, alice.token);
        assert.equal(del.status, 409);
        assert.equal(del.body.NeutronError.type, 'PortInUseAsTrunkParent');
        assert.equal(
          (await req('DELETE', `/ports/${sub.id}`, undefined, alice.token)).body.NeutronError.type,
          'PortInUseAsSubPort',
        );
        assert.equal((await req('DELETE', `/trunks/${t.body.trunk.id}`, undefined, alice.token)).status, 204);
        assert.equal((await req('DELETE', `/ports/${sub.id}`, undefined, alice.token)).status, 204);
      });

      it('adds, lists and removes subports; a disabled trunk refuses changes', async () => {
        const parent = await port(net.id, {}, alice.token);
        const s1 = await port(net2.id, {}, alice.token);
        const s2 = await port(net2.id, {}, alice.token);
        const t = (await req('POST', '/trunks', { trunk: { port_id: parent.id } }, alice.token)).body.trunk;
        const add = await req(
          'PUT',
          `/trunks/${t.id}/add_subports`,
          { sub_ports: [{ port_id: s1.id, segmentation_type: 'vlan', segmentation_id: 7 }] },
          alice.token,
        );
        assert.equal(add.status, 200);
        assert.deepEqual(add.body.sub_ports, [{ port_id: s1.id, segmentation_type: 'vlan', segmentation_id: 7 }]);
        const dup = await req(
          'PUT',
          `/trunks/${t.id}/add_subports`,
          { sub_ports: [{ port_id: s2.id, segmentation_type: 'vlan', segmentation_id: 7 }] },
          alice.token,
        );
        assert.equal(dup.status, 409);
        assert.equal(dup.body.NeutronError.type, 'DuplicateSubPort');
        assert.equal(
          (await req('PUT', `/trunks/${t.id}/add_subports`, { sub_ports: { port_id: s2.id } }, alice.token)).status,
          400,
        );
        assert.deepEqual((await req('GET', `/trunks/${t.id}/get_subports`, undefined, alice.token)).body, {
          sub_ports: add.body.sub_ports,
        });
        const notThere = await req(
          'PUT',
          `/trunks/${t.id}/remove_subports`,
          { sub_ports: [{ port_id: s2.id }] },
          alice.token,
        );
        assert.equal(notThere.status, 404);
        assert.equal(notThere.body.NeutronError.type, 'SubPortNotFound');
        assert.deepEqual(
          (await req('PUT', `/trunks/${t.id}/remove_subports`, { sub_ports: [{ port_id: s1.id }] }, alice.token)).body
            .sub_ports,
          [],
        );
        assert.equal(
          (await req('PUT', `/trunks/${t.id}`, { trunk: { admin_state_up: false, name: 'off' } }, alice.token)).body
            .trunk.name,
          'off',
        );
        const disabled = await req(
          'PUT',
          `/trunks/${t.id}/add_subports`,
          { sub_ports: [{ port_id: s2.id, segmentation_type: 'vlan', segmentation_id: 8 }] },
          alice.token,
        );
        assert.equal(disabled.body.NeutronError.type, 'TrunkDisabled');
        assert.equal(
          (await req('DELETE', `/trunks/${t.id}`, undefined, alice.token)).body.NeutronError.type,
          'TrunkDisabled',
        );
        await req('PUT', `/trunks/${t.id}`, { trunk: { admin_state_up: true } }, alice.token);
        assert.equal((await req('DELETE', `/trunks/${t.id}`, undefined, alice.token)).status, 204);
      });

      it('goes ACTIVE when its parent is bound and plugged, with its subports bound where the parent is', async () => {
        const parent = await port(net.id);
        const s1 = await port(net2.id);
        const t = (
          await req('POST', '/trunks', {
            trunk: {
              port_id: parent.id,
              sub_ports: [{ port_id: s1.id, segmentation_type: 'vlan', segmentation_id: 9 }],
            },
          })
        ).body.trunk;
        await req('PUT', `/ports/${parent.id}`, {
          port: { 'binding:host_id': host, device_id: 'vm-trunk', device_owner: 'compute:nova' },
        });
        await eventually(async () => (await show(`/trunks/${t.id}`)).trunk.status === 'ACTIVE', 'the trunk ACTIVE');
        const sub = await eventually(async () => {
          const v = (await show(`/ports/${s1.id}`)).port;
          return v.status === 'ACTIVE' ? v : undefined;
        }, 'the subport ACTIVE');
        assert.equal(sub['binding:host_id'], host);
        assert.equal(sub.device_owner, 'trunk:subport');
        await idle();
        assert.equal(driver().ports.get(parent.id)!.trunk_details!.sub_ports[0]!.segmentation_id, 9);
        // A bound parent's trunk may be deleted with this driver (it can trunk bound ports, as linuxbridge does).
        await req('PUT', `/ports/${parent.id}`, { port: { 'binding:host_id': '' } });
        assert.equal((await show(`/trunks/${t.id}`)).trunk.status, 'DOWN');
      });
    });

    describe('L3 agent', () => {
      it('realises routers it hosts and reports their floating IPs ACTIVE', async (t) => {
        if (!svc.resources.has('routers')) return t.skip('no l3 family');
        const ext = await req('POST', '/networks', { network: { name: 'ext', 'router:external': true } });
        assert.equal(ext.status, 201, JSON.stringify(ext.body));
        await req('POST', '/subnets', {
          subnet: { network_id: ext.body.network.id, cidr: '172.24.9.0/24', ip_version: 4, enable_dhcp: false },
        });
        const { net, subnet } = await network({}, undefined, '10.40.0.0/24');
        const router = (
          await req('POST', '/routers', {
            router: { name: 'r', external_gateway_info: { network_id: ext.body.network.id } },
          })
        ).body.router;
        assert.equal(
          (await req('PUT', `/routers/${router.id}/add_router_interface`, { subnet_id: subnet.id })).status,
          200,
        );
        const hosting = (await req('GET', `/routers/${router.id}/l3-agents`)).body.agents;
        assert.equal(hosting.length, 1);
        assert.deepEqual((await show(`/routers/${router.id}`)).router.availability_zones, ['nova']);
        const vm = await port(net.id, { device_owner: 'compute:nova', device_id: 'vm-fip' });
        const fip = (
          await req('POST', '/floatingips', {
            floatingip: { floating_network_id: ext.body.network.id, port_id: vm.id },
          })
        ).body.floatingip;
        await eventually(
          async () =>
            driver()
              .routers.get(router.id)
              ?.floating_ips.some((f) => f.id === fip.id),
          'the router synced with its floating IP',
        );
        assert.equal(driver().routers.get(router.id)!.interfaces.length, 1);
        assert.ok(driver().routers.get(router.id)!.gw_port);
        // Its ports are bound to the agent's host and plugged there.
        const intf = driver().routers.get(router.id)!.interfaces[0]!;
        const plugged = await eventually(async () => {
          const v = (await show(`/ports/${intf.id}`)).port;
          return v.status === 'ACTIVE' ? v : undefined;
        }, 'the interface port ACTIVE');
        assert.equal(plugged['binding:host_id'], host);
        await eventually(
          async () => (await show(`/floatingips/${fip.id}`)).floatingip.status === 'ACTIVE',
          'the floating IP ACTIVE',
        );
        assert.equal((await req('GET', `/agents/${hosting[0].id}/l3-routers`)).body.routers[0].id, router.id);
        await req('PUT', `/floatingips/${fip.id}`, { floatingip: { port_id: null } });
        await eventually(
          async () => (await show(`/floatingips/${fip.id}`)).floatingip.status === 'DOWN',
          'the floating IP DOWN',
        );
        await req('DELETE', `/floatingips/${fip.id}`);
        await req('PUT', `/routers/${router.id}/remove_router_interface`, { subnet_id: subnet.id });
        assert.equal((await req('DELETE', `/routers/${router.id}`)).status, 204);
        await eventually(async () => !driver().routers.has(router.id), 'the router removed from the driver');
      });
    });
  });
}
