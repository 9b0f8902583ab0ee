// Two hosts behind one in-process cloud (network.dataplane: linuxbridge): the network node's agent
// (host A: L2, DHCP, L3) and an L2 agent for host B, each in its own host namespace, joined by an
// underlay veth. A port on each host of one VXLAN network: the server's L2 population
// (get_fdb_entries, from the agents' reported tunneling_ip) gives each host the other's FDB
// entries; the guest on B gets its lease from A's dnsmasq across the tunnel and pings the guest
// on A. Needs root (skips otherwise); removes everything it made, also on failure.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { deleteNamespace, ensureNamespace, hostNamespace, run } from '../src/core/hostns.ts';
import { cleanupHost } from '../src/network/drivers/linuxbridge/index.ts';
import { tapName } from '../src/network/drivers/linuxbridge/ip.ts';
import { startCloud, type TestCloud } from './lib/cloud.ts';

const skip = process.getuid?.() === 0 ? false : 'needs root (namespaces, bridges, VXLAN)';
const tag = `${process.pid % 100000}`;
const A = `lbc2a${tag}`;
const B = `lbc2b${tag}`;
const GA = `lbc2ga-${tag}`;
const GB = `lbc2gb-${tag}`;

async function waitFor<T>(what: string, f: () => Promise<T | undefined | false>, ms = 15000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('linuxbridge: two hosts behind the cloud', { skip }, () => {
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
          host: A,
          l2Hosts: [B],
          agentReportInterval: 1,
          underlayIps: { [A]: '192.168.254.1', [B]: '192.168.254.2' },
        };
      },
    });
    const [na, nb] = [hostNamespace(A), hostNamespace(B)];
    await run(['ip', '-n', na, 'link', 'add', 'ul0', 'type', 'veth', 'peer', 'name', 'ul0', 'netns', nb]);
    await run(['ip', '-n', na, 'addr', 'add', '192.168.254.1/24', 'dev', 'ul0']);
    await run(['ip', '-n', nb, 'addr', 'add', '192.168.254.2/24', 'dev', 'ul0']);
    await run(['ip', '-n', na, 'link', 'set', 'ul0', 'up']);
    await run(['ip', '-n', nb, 'link', 'set', 'ul0', 'up']);
  });

  after(async () => {
    try {
      await c?.stop();
    } finally {
      await deleteNamespace(GA);
      await deleteNamespace(GB);
      await cleanupHost(A);
      await cleanupHost(B);
    }
  });

  it('a guest on each host: DHCP across the tunnel, ping between them', async () => {
    const net = (await ok('POST', '/networks', { network: { name: 'two-hosts' } })).network;
    await ok('POST', '/subnets', { subnet: { network_id: net.id, ip_version: 4, cidr: '10.94.0.0/24' } });
    const sg = (await ok('POST', '/security-groups', { security_group: { name: 'icmp' } })).security_group;
    await ok('POST', '/security-group-rules', {
      security_group_rule: { security_group_id: sg.id, direction: 'ingress', protocol: 'icmp' },
    });
    const port = async (host: string) =>
      (
        await ok('POST', '/ports', {
          port: {
            network_id: net.id,
            'binding:host_id': host,
            device_owner: 'compute:nova',
            device_id: `vm-${host}`,
            security_groups: [sg.id],
          },
        })
      ).port;
    const [pa, pb] = [await port(A), await port(B)];
    for (const [g, host, p] of [
      [GA, A, pa],
      [GB, B, pb],
    ] as const) {
      await ensureNamespace(g);
      await run([
        'ip',
        '-n',
        hostNamespace(host),
        'link',
        'add',
        tapName(p.id),
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        g,
      ]);
      await run(['ip', '-n', g, 'link', 'set', 'eth0', 'address', p.mac_address, 'mtu', '1450', 'up']);
    }
    for (const p of [pa, pb])
      await waitFor(`port ${p.id} ACTIVE`, async () => (await ok('GET', `/ports/${p.id}`)).port.status === 'ACTIVE');
    // B's vxlan device knows A's ports (the DHCP port among them) through A's address.
    const vni = net['provider:segmentation_id'];
    await waitFor('FDB entries on host B', async () =>
      (await run(['bridge', '-n', hostNamespace(B), 'fdb', 'show', 'dev', `vxlan-${vni}`])).includes(
        `${pa.mac_address} dst 192.168.254.1`,
      ),
    );
    const ipB = pb.fixed_ips[0].ip_address as string;
    const lease = await run(['busybox', 'sh', '-c', 'busybox udhcpc -i eth0 -n -q -t 5 -T 1 -s /bin/true 2>&1'], {
      ns: GB,
    });
    assert.match(lease, new RegExp(`lease of ${ipB.replace(/\./g, '\\.')} obtained`));
    await run(['ip', '-n', GB, 'addr', 'add', `${ipB}/24`, 'dev', 'eth0']);
    await run(['ip', '-n', GA, 'addr', 'add', `${pa.fixed_ips[0].ip_address}/24`, 'dev', 'eth0']);
    const ping = await run(['busybox', 'ping', '-c', '3', '-w', '5', pa.fixed_ips[0].ip_address], { ns: GB });
    assert.match(ping, /[1-3] packets received/);
  });
});
