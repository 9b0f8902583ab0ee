// The linuxbridge data plane behind a whole in-process cloud (network.dataplane: linuxbridge):
// the API, the agent and the driver together, as the install guide's self-service walk-through
// goes with a namespace standing for the VM (its veth named like the port's tap): the port binds
// as vif_type bridge, stays DOWN until its tap exists and goes ACTIVE then; the guest gets its
// lease from the network's dnsmasq; a router with a gateway on the flat `public` network and a
// floating IP; the floating IP answers from the host once a rule allows ICMP and stops when the
// rule is removed. Needs root (skips otherwise); removes everything it made, also on failure.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { deleteNamespace, ensureNamespace, hostNamespace, run } from '../src/core/hostns.ts';
import { cleanupHost } from '../src/network/drivers/linuxbridge/index.ts';
import { tapName } from '../src/network/drivers/linuxbridge/ip.ts';
import { startCloud, type TestCloud } from './lib/cloud.ts';

const skip = process.getuid?.() === 0 ? false : 'needs root (namespaces, bridges, iptables)';
const tag = `${process.pid % 100000}`;
const HOST = `lbcloud${tag}`;
const GUEST = `lbcg-${tag}`;

async function waitFor<T>(what: string, f: () => Promise<T | undefined | false>, ms = 10000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('linuxbridge behind the cloud', { skip }, () => {
  let c: TestCloud;
  const api = (p: string) => `${c.url}/networking/v2.0${p}`;
  const ok = async (method: string, p: string, body?: unknown) => {
    const r = await c.req(method, api(p), body);
    assert.ok(r.status < 300, `${method} ${p}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };

  before(async () => {
    c = await startCloud({
      configure: (cfg) => {
        cfg.network = {
          ...cfg.network,
          dataplane: 'linuxbridge',
          host: HOST,
          l2Hosts: [],
          agentReportInterval: 1,
          externalUplink: { physnet: 'public', cidr: '172.30.98.1/24' },
        };
      },
    });
  });

  after(async () => {
    try {
      await c?.stop();
    } finally {
      await deleteNamespace(GUEST);
      await cleanupHost(HOST);
    }
  });

  it('a port goes ACTIVE when its tap appears, gets DHCP, a floating IP answers while a rule allows it', async () => {
    const net = (await ok('POST', '/networks', { network: { name: 'selfservice' } })).network;
    assert.equal(net['provider:network_type'], 'vxlan');
    const sub = (
      await ok('POST', '/subnets', {
        subnet: { network_id: net.id, ip_version: 4, cidr: '10.93.0.0/24', gateway_ip: '10.93.0.1' },
      })
    ).subnet;
    const sg = (await ok('POST', '/security-groups', { security_group: { name: 'lb' } })).security_group;
    const port = (
      await ok('POST', '/ports', {
        port: {
          network_id: net.id,
          'binding:host_id': HOST,
          device_owner: 'compute:nova',
          device_id: 'instance-1',
          security_groups: [sg.id],
        },
      })
    ).port;
    assert.equal(port['binding:vif_type'], 'bridge');
    assert.equal(port['binding:vif_details'].bridge_name, `brq${net.id.slice(0, 11)}`);
    // DHCP served in qdhcp-<net>, the DHCP port ACTIVE.
    await waitFor('the DHCP port ACTIVE', async () => {
      const ports = (await ok('GET', `/ports?network_id=${net.id}&device_owner=network:dhcp`)).ports;
      return ports[0]?.status === 'ACTIVE';
    });
    assert.ok(fs.existsSync(`/run/netns/qdhcp-${net.id}`));
    // No tap yet: the port stays DOWN.
    await new Promise((r) => setTimeout(r, 700));
    assert.equal((await ok('GET', `/ports/${port.id}`)).port.status, 'DOWN');
    await ensureNamespace(GUEST);
    await run([
      'ip',
      '-n',
      hostNamespace(HOST),
      'link',
      'add',
      tapName(port.id),
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'netns',
      GUEST,
    ]);
    await run(['ip', '-n', GUEST, 'link', 'set', 'eth0', 'address', port.mac_address, 'mtu', '1450', 'up']);
    await waitFor('the port ACTIVE', async () => (await ok('GET', `/ports/${port.id}`)).port.status === 'ACTIVE');
    const fixed = port.fixed_ips[0].ip_address as string;
    const lease = await run(['busybox', 'sh', '-c', 'busybox udhcpc -i eth0 -n -q -t 5 -T 1 -s /bin/true 2>&1'], {
      ns: GUEST,
    });
    assert.match(lease, new RegExp(`lease of ${fixed.replace(/\./g, '\\.')} obtained`));
    await run(['ip', '-n', GUEST, 'addr', 'add', `${fixed}/24`, 'dev', 'eth0']);
    await run(['ip', '-n', GUEST, 'route', 'add', 'default', 'via', '10.93.0.1']);

    // The external network, a router, a floating IP.
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
        cidr: '172.30.98.0/24',
        gateway_ip: '172.30.98.1',
        enable_dhcp: false,
        allocation_pools: [{ start: '172.30.98.10', end: '172.30.98.100' }],
      },
    });
    const router = (
      await ok('POST', '/routers', { router: { name: 'r', external_gateway_info: { network_id: pub.id } } })
    ).router;
    await ok('PUT', `/routers/${router.id}/add_router_interface`, { subnet_id: sub.id });
    const fip = (await ok('POST', '/floatingips', { floatingip: { floating_network_id: pub.id, port_id: port.id } }))
      .floatingip;
    await waitFor(
      'the floating IP ACTIVE',
      async () => (await ok('GET', `/floatingips/${fip.id}`)).floatingip.status === 'ACTIVE',
    );
    const ping = async () =>
      /[1-9] packets received/.test(
        await run(['busybox', 'ping', '-c', '1', '-W', '1', fip.floating_ip_address], { allowFail: true }),
      );
    assert.equal(await ping(), false, 'no rule allows ICMP in yet');
    const r = (
      await ok('POST', '/security-group-rules', {
        security_group_rule: {
          security_group_id: sg.id,
          direction: 'ingress',
          protocol: 'icmp',
          remote_ip_prefix: '0.0.0.0/0',
        },
      })
    ).security_group_rule;
    const t0 = Date.now();
    await waitFor('the floating IP to answer', ping);
    const enforced = Date.now() - t0;
    assert.ok(enforced < 3000, `rule enforced after ${enforced} ms`);
    await ok('DELETE', `/security-group-rules/${r.id}`);
    await waitFor('the floating IP to stop answering', async () => !(await ping()));
    // The guest reaches its router and the outside (SNAT to the gateway) through the router.
    assert.match(
      await run(['busybox', 'ping', '-c', '1', '-W', '1', '172.30.98.1'], { ns: GUEST }),
      /1 packets received/,
    );
  });
});
