// Two hosts on one machine: two host namespaces joined by an underlay veth pair, a VXLAN network
// wired on both, a "guest" on each; with L2 population's FDB entries the guests talk, without them
// nothing floods. Needs root (skips otherwise); removes everything it made, also on failure.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { hostNamespace, run } from '../src/core/hostns.ts';
import type { DeviceDetails } from '../src/network/drivers/dataplane.ts';
import { LinuxBridgeDriver } from '../src/network/drivers/linuxbridge/index.ts';
import { TestNet, linkHosts, needsRoot, testTag } from './lib/netns.ts';

const skip = needsRoot('namespaces, bridges, VXLAN');
const tag = testTag;
const A = `lbmha${tag}`;
const B = `lbmhb${tag}`;
const GA = `lbmga-${tag}`;
const GB = `lbmgb-${tag}`;
const NET = `e5000000-aaaa-4bbb-8ccc-${tag.padStart(12, '0')}`;
const PA = `a5000001-aaaa-4bbb-8ccc-${tag.padStart(12, '0')}`;
const PB = `a5000002-aaaa-4bbb-8ccc-${tag.padStart(12, '0')}`;

const port = (id: string, ip: string, mac: string): DeviceDetails => ({
  device: id,
  port_id: id,
  network_id: NET,
  mac_address: mac,
  admin_state_up: true,
  status: 'DOWN',
  network_type: 'vxlan',
  segmentation_id: 5000 + (Number(tag) % 1000),
  physical_network: null,
  mtu: 1450,
  fixed_ips: [{ subnet_id: 's', ip_address: ip }],
  device_owner: 'compute:nova',
  allowed_address_pairs: [],
  port_security_enabled: false,
  security_groups: [],
  qos_policy_id: null,
  network_qos_policy_id: null,
  profile: {},
});

describe('linuxbridge: two hosts over VXLAN', { skip }, () => {
  const a = new LinuxBridgeDriver({ underlayIp: '192.168.251.1' });
  const b = new LinuxBridgeDriver({ underlayIp: '192.168.251.2' });
  const pa = port(PA, '10.92.0.10', 'fa:16:3e:00:01:0a');
  const pb = port(PB, '10.92.0.11', 'fa:16:3e:00:01:0b');
  const net = new TestNet([A, B]);

  before(async () => {
    await a.start(A);
    await b.start(B);
    await linkHosts(A, B, '192.168.251.1/24', '192.168.251.2/24');
    for (const [g, host, p, cidr] of [
      [GA, A, pa, '10.92.0.10/24'],
      [GB, B, pb, '10.92.0.11/24'],
    ] as const) {
      await net.guest(g, { host, portId: p.port_id, mac: p.mac_address, address: cidr });
    }
  });

  after(async () => {
    try {
      await a.stop();
      await b.stop();
    } finally {
      await net.remove();
    }
  });

  it('guests on two hosts talk once the FDB entries are in', async () => {
    assert.equal(await a.plugPort(pa), true);
    assert.equal(await b.plugPort(pb), true);
    const ping = () => run(['busybox', 'ping', '-c', '1', '-W', '1', '10.92.0.11'], { ns: GA, allowFail: true });
    assert.doesNotMatch(await ping(), /1 packets received/, 'no FDB entries: no flooding to the other host');
    await a.updateFdb(NET, [{ mac_address: pb.mac_address, ip_address: '10.92.0.11', vtep: '192.168.251.2' }]);
    await b.updateFdb(NET, [{ mac_address: pa.mac_address, ip_address: '10.92.0.10', vtep: '192.168.251.1' }]);
    // The first packets wait for ARP over the tunnel: a few tries.
    const ok = await run(['busybox', 'ping', '-c', '3', '-w', '5', '10.92.0.11'], { ns: GA, allowFail: true });
    assert.match(ok, /[1-3] packets received/);
    // A full-size packet for the 1450 MTU crosses (1422 bytes of ICMP data + 28 of headers).
    const big = await run(['busybox', 'ping', '-c', '1', '-W', '1', '-s', '1422', '10.92.0.11'], {
      ns: GA,
      allowFail: true,
    });
    assert.match(big, /1 packets received/);
    // Entries no longer wanted go.
    await a.updateFdb(NET, []);
    const fdb = await run(['bridge', '-n', hostNamespace(A), 'fdb', 'show', 'dev', `vxlan-${pa.segmentation_id}`]);
    assert.doesNotMatch(fdb, /dst 192\.168\.251\.2/);
  });
});
