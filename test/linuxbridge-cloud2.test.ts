// Two hosts behind one in-process cloud (network.dataplane: linuxbridge): the network node's agent
// (host A: L2, DHCP, L3) and an L2 agent for host B, each in its own host namespace, joined by an
// underlay veth. A port on each host of one VXLAN network: the server's L2 population
// (get_fdb_entries, from the agents' reported tunneling_ip) gives each host the other's FDB
// entries; the guest on B gets its lease from A's dnsmasq across the tunnel and pings the guest
// on A. Needs root (skips otherwise); removes everything it made, also on failure.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { hostNamespace, run } from '../src/core/hostns.ts';
import { until } from './lib/cloud.ts';
import { startLinuxbridgeCloud, type LinuxbridgeCloud } from './lib/linuxbridge-cloud.ts';
import { addressGuest, linkHosts, needsRoot, testTag } from './lib/netns.ts';

const skip = needsRoot('namespaces, bridges, VXLAN');
const tag = testTag;
const A = `lbc2a${tag}`;
const B = `lbc2b${tag}`;
const GA = `lbc2ga-${tag}`;
const GB = `lbc2gb-${tag}`;

describe('linuxbridge: two hosts behind the cloud', { skip }, () => {
  let lb: LinuxbridgeCloud;
  const ok = (method: string, p: string, body?: unknown) => lb.ok(method, p, body);

  before(async () => {
    lb = await startLinuxbridgeCloud(
      { host: A, l2Hosts: [B], underlayIps: { [A]: '192.168.254.1', [B]: '192.168.254.2' } },
      [A, B],
    );
    await linkHosts(A, B, '192.168.254.1/24', '192.168.254.2/24');
  });

  after(async () => {
    await lb?.stop();
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
    await lb.plugGuest(GA, A, pa);
    await lb.plugGuest(GB, B, pb);
    for (const p of [pa, pb])
      await until(`port ${p.id} ACTIVE`, async () => (await ok('GET', `/ports/${p.id}`)).port.status === 'ACTIVE');
    // B's vxlan device knows A's ports (the DHCP port among them) through A's address.
    const vni = net['provider:segmentation_id'];
    await until('FDB entries on host B', async () =>
      (await run(['bridge', '-n', hostNamespace(B), 'fdb', 'show', 'dev', `vxlan-${vni}`])).includes(
        `${pa.mac_address} dst 192.168.254.1`,
      ),
    );
    const ipB = pb.fixed_ips[0].ip_address as string;
    const lease = await lb.dhcpLease(GB);
    assert.match(lease, new RegExp(`lease of ${ipB.replace(/\./g, '\\.')} obtained`));
    await addressGuest(GB, `${ipB}/24`);
    await addressGuest(GA, `${pa.fixed_ips[0].ip_address}/24`);
    const ping = await run(['busybox', 'ping', '-c', '3', '-w', '5', pa.fixed_ips[0].ip_address], { ns: GB });
    assert.match(ping, /[1-3] packets received/);
  });
});
