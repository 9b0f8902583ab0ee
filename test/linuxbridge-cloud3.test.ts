// The router's later pieces behind a whole in-process cloud (network.dataplane: linuxbridge),
// driven through the networking API: a floating IP port forwarding (FIP:8080 → the guest's
// httpd on 80) answers from the host, follows an update and goes with a delete; a SLAAC subnet on
// the router gives the guest its EUI-64 address (radvd); a metering label counts the guest's
// traffic through the gateway and the metering agent sends `l3.meter` on the bus; a QoS policy's
// egress limit reaches the host and follows an edited rule; the L3 agent reports port_forwarding. Needs root
// (skips otherwise); removes everything it made, also on failure.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run, spawnIn } from '../src/core/hostns.ts';
import type { NetworkService } from '../src/network/service.ts';
import type { MeterPayload } from '../src/network/agent/metering.ts';
import { until } from './lib/cloud.ts';
import { startLinuxbridgeCloud, type LinuxbridgeCloud } from './lib/linuxbridge-cloud.ts';
import { addressGuest, guestUp, needsRoot, testTag } from './lib/netns.ts';

const skip = needsRoot('namespaces, bridges, iptables') || (fs.existsSync('/usr/sbin/radvd') ? false : 'needs radvd');
const tag = testTag;
const HOST = `lbc3${tag}`;
const GUEST = `lbc3g-${tag}`;
const get = (url: string) => run(['timeout', '3', 'busybox', 'wget', '-q', '-O', '-', url], { allowFail: true });

describe('linuxbridge cloud: port forwardings, IPv6, metering', { skip }, () => {
  let lb: LinuxbridgeCloud;
  const ok = (method: string, p: string, body?: unknown) => lb.ok(method, p, body);
  const www = fs.mkdtempSync(path.join(os.tmpdir(), 'lbc3-'));

  before(async () => {
    lb = await startLinuxbridgeCloud(
      { host: HOST, l2Hosts: [], externalUplink: { physnet: 'public', cidr: '172.30.94.1/24' } },
      [HOST],
    );
  });

  after(async () => {
    try {
      await lb?.stop();
    } finally {
      fs.rmSync(www, { recursive: true, force: true });
    }
  });

  it('a port forwarding, a SLAAC address and l3.meter, all from the API', async () => {
    const net = (await ok('POST', '/networks', { network: { name: 'selfservice' } })).network;
    const sub = (
      await ok('POST', '/subnets', {
        subnet: { network_id: net.id, ip_version: 4, cidr: '10.94.0.0/24', gateway_ip: '10.94.0.1' },
      })
    ).subnet;
    const sub6 = (
      await ok('POST', '/subnets', {
        subnet: {
          network_id: net.id,
          ip_version: 6,
          cidr: 'fd00:94:94::/64',
          ipv6_ra_mode: 'slaac',
          ipv6_address_mode: 'slaac',
        },
      })
    ).subnet;
    const sg = (await ok('POST', '/security-groups', { security_group: { name: 'pf' } })).security_group;
    for (const [ethertype, protocol, min, max] of [
      ['IPv4', 'tcp', 80, 80],
      ['IPv4', 'icmp', null, null],
    ] as const)
      await ok('POST', '/security-group-rules', {
        security_group_rule: {
          security_group_id: sg.id,
          direction: 'ingress',
          ethertype,
          protocol,
          port_range_min: min,
          port_range_max: max,
        },
      });
    const port = (
      await ok('POST', '/ports', {
        port: {
          network_id: net.id,
          'binding:host_id': HOST,
          device_owner: 'compute:nova',
          device_id: 'instance-3',
          security_groups: [sg.id],
        },
      })
    ).port;
    const v4 = port.fixed_ips.find((f: { subnet_id: string }) => f.subnet_id === sub.id).ip_address as string;
    const v6 = port.fixed_ips.find((f: { subnet_id: string }) => f.subnet_id === sub6.id).ip_address as string;

    const pub = (
      await ok('POST', '/networks', {
        network: {
          name: 'public',
          'router:external': true,
          'provider:network_type': 'flat',
          'provider:physical_network': 'public',
        },
      })
    ).network;
    await ok('POST', '/subnets', {
      subnet: {
        network_id: pub.id,
        ip_version: 4,
        cidr: '172.30.94.0/24',
        gateway_ip: '172.30.94.1',
        enable_dhcp: false,
        allocation_pools: [{ start: '172.30.94.10', end: '172.30.94.100' }],
      },
    });
    const router = (
      await ok('POST', '/routers', { router: { name: 'r', external_gateway_info: { network_id: pub.id } } })
    ).router;
    await ok('PUT', `/routers/${router.id}/add_router_interface`, { subnet_id: sub.id });
    await ok('PUT', `/routers/${router.id}/add_router_interface`, { subnet_id: sub6.id });
    await until(
      'radvd in the router namespace',
      async () => (await run(['ip', 'netns', 'pids', `qrouter-${router.id}`], { allowFail: true })).trim().length > 0,
    );

    // The guest: tap wired, then its link up (it solicits a router), a static IPv4 address, httpd.
    await lb.plugGuest(GUEST, HOST, port);
    await until('the port ACTIVE', async () => (await ok('GET', `/ports/${port.id}`)).port.status === 'ACTIVE');
    await run(['ip', '-n', GUEST, 'link', 'set', 'eth0', 'down']);
    await guestUp(GUEST);
    await addressGuest(GUEST, `${v4}/24`, '10.94.0.1');
    fs.writeFileSync(path.join(www, 'index.html'), 'guest\n');
    spawnIn(GUEST, ['busybox', 'httpd', '-f', '-p', '80', '-h', www]);

    // IPv6: the SLAAC address the API allocated (EUI-64 of the MAC) is the one the guest made.
    await until('the SLAAC address', async () => {
      const out = await run(['ip', '-n', GUEST, '-6', '-o', 'addr', 'show', 'dev', 'eth0', 'scope', 'global']);
      const m = /inet6 (\S+)\/64/.exec(out);
      return !!m && (await normalize(m[1]!)) === (await normalize(v6));
    });

    // Port forwarding: a floating IP without a port, FIP:8080 → guest:80.
    const fip = (await ok('POST', '/floatingips', { floatingip: { floating_network_id: pub.id } })).floatingip;
    const pf = (
      await ok('POST', `/floatingips/${fip.id}/port_forwardings`, {
        port_forwarding: {
          protocol: 'tcp',
          internal_ip_address: v4,
          internal_port: 80,
          internal_port_id: port.id,
          external_port: 8080,
        },
      })
    ).port_forwarding;
    const at = (p: number) => `http://${fip.floating_ip_address}:${p}/`;
    await until('FIP:8080 to answer', async () => (await get(at(8080))) === 'guest\n');
    await ok('PUT', `/floatingips/${fip.id}/port_forwardings/${pf.id}`, { port_forwarding: { external_port: 8081 } });
    await until('FIP:8081 to answer', async () => (await get(at(8081))) === 'guest\n');
    assert.equal(await get(at(8080)), '', 'the old external port is closed');
    await ok('DELETE', `/floatingips/${fip.id}/port_forwardings/${pf.id}`);
    await until('FIP:8081 to close', async () => (await get(at(8081))) === '');

    // QoS from the API: a policy on the network limits what the guest sends (hashlimit in the
    // host namespace); a rule edited inside the policy reaches the tap without touching the port.
    const hns = `stratus-host-${HOST}`;
    // iptables shows the rate in its own granularity (125000 B/s reads 124992b/s): kB/s, rounded.
    const policed = async () => {
      const save = await run(['ip', 'netns', 'exec', hns, 'iptables-legacy-save', '-t', 'mangle']);
      assert.ok(save.split('\n').filter((l) => l === '-A POSTROUTING -j stratus-qos').length <= 1, 'hooked once');
      const m = /--hashlimit-above (\d+)b\/s/.exec(save);
      return m ? String(Math.round(Number(m[1]) / 1000)) : undefined;
    };
    const policy = (await ok('POST', '/qos/policies', { policy: { name: 'bw' } })).policy;
    const bw = (
      await ok('POST', `/qos/policies/${policy.id}/bandwidth_limit_rules`, {
        bandwidth_limit_rule: { max_kbps: 1000, max_burst_kbps: 1000 },
      })
    ).bandwidth_limit_rule;
    await ok('PUT', `/networks/${net.id}`, { network: { qos_policy_id: policy.id } });
    await until('the egress limit of 1000 kbit/s', async () => (await policed()) === '125');
    await ok('PUT', `/qos/policies/${policy.id}/bandwidth_limit_rules/${bw.id}`, {
      bandwidth_limit_rule: { max_kbps: 2000, max_burst_kbps: 2000 },
    });
    await until('the edited rule: 2000 kbit/s', async () => (await policed()) === '250');
    await ok('DELETE', `/qos/policies/${policy.id}/bandwidth_limit_rules/${bw.id}`);
    await until('no limit once the rule is gone', async () => (await policed()) === undefined);
    await ok('PUT', `/networks/${net.id}`, { network: { qos_policy_id: null } });
    // The L3 agent names the extensions it realises (upstream's `[agent] extensions`).
    const l3 = (await ok('GET', `/agents?agent_type=${encodeURIComponent('L3 agent')}`)).agents;
    assert.deepEqual(l3[0]?.configurations?.extensions, ['port_forwarding']);

    // Metering: a label of the router's project counting everything out through the gateway.
    const label = (await ok('POST', '/metering/metering-labels', { metering_label: { name: 'out' } })).metering_label;
    await ok('POST', '/metering/metering-label-rules', {
      metering_label_rule: { metering_label_id: label.id, direction: 'egress', remote_ip_prefix: '0.0.0.0/0' },
    });
    const svc = lb.c.cloud.services.find((s) => s.catalogEntry.name === 'network') as unknown as NetworkService;
    const agent = svc.extras?.agent?.metering;
    assert.ok(agent, 'the network agent runs the metering role with linuxbridge');
    const sent: MeterPayload[] = [];
    const off = lb.c.cloud.bus.onNotification('l3.meter', (n) => {
      sent.push(n.payload as MeterPayload);
    });
    try {
      await agent.measure();
      await run(['busybox', 'ping', '-c', '3', '-i', '0.2', '-s', '500', '-W', '1', '172.30.94.1'], { ns: GUEST });
      await agent.measure();
      agent.report();
      await until('l3.meter', () => sent.some((p) => p.label_id === label.id));
      const m = sent.find((p) => p.label_id === label.id)!;
      assert.equal(m.pkts, 3, JSON.stringify(m));
      assert.equal(m.bytes, 3 * 528);
      assert.equal(m.tenant_id, label.project_id);
    } finally {
      off();
    }
  });
});

/** The canonical spelling of an IPv6 address (`ip` and the API write zeros differently). */
async function normalize(a: string): Promise<string> {
  const { normalizeIp } = await import('../src/core/netaddr.ts');
  return normalizeIp(a) ?? a;
}
