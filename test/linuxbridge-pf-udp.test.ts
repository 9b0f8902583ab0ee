// UDP port forwardings on the linuxbridge data plane, for real: a router namespace with its
// gateway on a flat public network, a "guest" namespace behind it running a UDP echo server, and
// an "outside" namespace on the public network's bridge standing for the host side (DevStack's
// br-ex address: the public subnet's gateway). A datagram to FIP:5353/udp comes back from the
// guest with its source rewritten to FIP:5353; a TCP forwarding of the same port does not carry
// UDP; a range maps port to port; a delete stops it. Only namespaces made by this test and by the
// driver for its own host are used (no uplink into the root namespace). Needs root (skips
// otherwise); removes everything it made, also on failure.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { run, spawnIn } from '../src/core/hostns.ts';
import type { DeviceDetails, PortForwardingInfo, RouterInfo } from '../src/network/drivers/dataplane.ts';
import { LinuxBridgeDriver } from '../src/network/drivers/linuxbridge/index.ts';
import { needsRoot, portView, sgRule, tagUuid, TestNet, testTag, vxlanDevices } from './lib/netns.ts';

const skip = needsRoot('namespaces, bridges, iptables');
const tag = testTag;
const HOST = `lbpu${tag}`;
const uuid = tagUuid;
const NET = uuid(1, 'd1');
const PUB = uuid(2, 'd2');
const SUBNET = uuid(3, 'd3');
const PUBSUB = uuid(4, 'd4');
const VM = uuid(6, 'a7');
const OUT = uuid(7, 'a8');
const RIF = uuid(8, 'b7');
const RGW = uuid(9, 'b6');
const ROUTER = uuid(10, 'c2');
const SG = uuid(11, 'f2');
const GUEST = `lbpug-${tag}`;
const OUTSIDE = `lbpuo-${tag}`;
const FIP = '172.30.93.30';
const GUEST_IP = '10.89.0.10';

const device = vxlanDevices({
  network_id: NET,
  subnet_id: SUBNET,
  segmentation_id: 4000 + (Number(tag) % 1000),
  security_groups: [SG],
});
const onPublic: Partial<DeviceDetails> = {
  network_id: PUB,
  network_type: 'flat',
  segmentation_id: null,
  physical_network: 'public',
  mtu: 1500,
};
const view = (d: DeviceDetails) => portView(d, ROUTER, { 'binding:host_id': HOST });
const rule = (direction: string, extra: Record<string, unknown> = {}) => sgRule(SG, direction, extra);

const vm = device(VM, GUEST_IP, 'fa:16:3e:00:89:10');
const rif = device(RIF, '10.89.0.1', 'fa:16:3e:00:89:01', {
  device_owner: 'network:router_interface',
  security_groups: [],
});
const rgw = device(RGW, '172.30.93.10', 'fa:16:3e:00:93:10', {
  ...onPublic,
  fixed_ips: [{ subnet_id: PUBSUB, ip_address: '172.30.93.10' }],
  device_owner: 'network:router_gateway',
  security_groups: [],
});
// The host side: a port of the public network without port security (the gateway address).
const outside = device(OUT, '172.30.93.1', 'fa:16:3e:00:93:01', {
  ...onPublic,
  fixed_ips: [{ subnet_id: PUBSUB, ip_address: '172.30.93.1' }],
  port_security_enabled: false,
  security_groups: [],
});
const pf = (extra: Partial<PortForwardingInfo> = {}): PortForwardingInfo => ({
  id: 'pf1',
  floating_ip_address: FIP,
  protocol: 'udp',
  internal_ip_address: GUEST_IP,
  internal_port_start: 7,
  internal_port_end: 7,
  external_port_start: 5353,
  external_port_end: 5353,
  ...extra,
});
const router = (pfs: PortForwardingInfo[]): RouterInfo => ({
  id: ROUTER,
  admin_state_up: true,
  enable_snat: true,
  routes: [],
  interfaces: [{ ...view(rif), mtu: 1450, subnets: [{ id: SUBNET, cidr: '10.89.0.0/24', gateway_ip: '10.89.0.1' }] }],
  gw_port: { ...view(rgw), mtu: 1500, subnets: [{ id: PUBSUB, cidr: '172.30.93.0/24', gateway_ip: '172.30.93.1' }] },
  floating_ips: [{ id: 'fip1', floating_ip_address: FIP, fixed_ip_address: null, port_id: null, router_id: ROUTER }],
  port_forwardings: pfs,
});

// A UDP echo server (node's dgram) on ports 7 and 8 of the guest: answers `echo <port> <sender> <msg>`.
const ECHO = `
const dgram = require('node:dgram');
for (const port of [7, 8]) {
  const s = dgram.createSocket('udp4');
  s.on('message', (m, r) => s.send('echo ' + port + ' ' + r.address + ' ' + m, r.port, r.address));
  s.bind(port);
}`;
// One datagram from the outside namespace: prints `<source address>:<source port> <answer>`, or nothing after 1 s.
const CLIENT = `
const dgram = require('node:dgram');
const [host, port, msg] = process.argv.slice(1);
const s = dgram.createSocket('udp4');
const t = setTimeout(() => s.close(), 1000);
s.on('message', (m, r) => { process.stdout.write(r.address + ':' + r.port + ' ' + m); clearTimeout(t); s.close(); });
s.send(msg, Number(port), host);`;

/** A datagram to host:port from the outside namespace (retried a few times: ARP and conntrack settle): the answer, or ''. */
async function udp(host: string, port: number, msg: string, tries = 1): Promise<string> {
  for (let i = 0; i < tries; i++) {
    const out = await run(['ip', 'netns', 'exec', OUTSIDE, process.execPath, '-e', CLIENT, host, String(port), msg], {
      allowFail: true,
    });
    if (out) return out;
  }
  return '';
}

describe('linuxbridge UDP port forwardings', { skip }, () => {
  let driver: LinuxBridgeDriver;
  const net = new TestNet([HOST]);

  before(async () => {
    driver = new LinuxBridgeDriver({});
    await driver.start(HOST);
  });

  after(async () => {
    try {
      await driver?.stop();
    } finally {
      await net.remove();
    }
  });

  it('DNATs FIP:port/udp to the guest and back, keeps TCP and UDP apart, follows updates and deletes', async () => {
    await net.guest(GUEST, {
      host: HOST,
      portId: VM,
      mac: vm.mac_address,
      address: `${GUEST_IP}/24`,
      gateway: '10.89.0.1',
    });
    await net.guest(OUTSIDE, {
      host: HOST,
      portId: OUT,
      mac: outside.mac_address,
      mtu: 1500,
      address: '172.30.93.1/24',
    });
    // Killed with the namespace (deleteNamespace kills what runs in it).
    spawnIn(GUEST, [process.execPath, '-e', ECHO]);

    assert.equal(await driver.plugPort(vm), true);
    assert.equal(await driver.plugPort(outside), true);
    await driver.plugPort(rif);
    await driver.plugPort(rgw);
    // Security group: UDP 7-8 in, everything out.
    await driver.updateSecurityGroups({
      security_groups: {
        [SG]: [rule('egress'), rule('ingress', { protocol: 'udp', port_range_min: 7, port_range_max: 8 })],
      },
      devices: { [VM]: vm, [OUT]: outside, [RIF]: rif, [RGW]: rgw },
    });

    // Without a forwarding nothing answers on the floating IP's UDP port.
    await driver.syncRouter(router([]));
    assert.equal(await udp(FIP, 5353, 'none'), '', 'no forwarding, no answer');

    await driver.syncRouter(router([pf()]));
    const first = await udp(FIP, 5353, 'hello', 20);
    // The guest saw the outside's own address (no SNAT on the way in); the answer comes from FIP:5353.
    assert.equal(first, `${FIP}:5353 echo 7 172.30.93.1 hello`, 'FIP:5353/udp reaches guest:7 and comes back');
    assert.equal(await udp(FIP, 5354, 'other'), '', 'no other port is forwarded');

    // A TCP forwarding of the same port does not carry UDP.
    await driver.syncRouter(router([pf({ protocol: 'tcp' })]));
    assert.equal(await udp(FIP, 5353, 'tcp only'), '', 'a TCP forwarding leaves UDP alone');

    // A range maps port to port: 6007→7, 6008→8.
    await driver.syncRouter(
      router([
        pf({ internal_port_start: 7, internal_port_end: 8, external_port_start: 6007, external_port_end: 6008 }),
      ]),
    );
    assert.equal(await udp(FIP, 6008, 'b', 10), `${FIP}:6008 echo 8 172.30.93.1 b`);
    assert.equal(await udp(FIP, 6007, 'a', 10), `${FIP}:6007 echo 7 172.30.93.1 a`);

    // Delete: nothing forwarded, the floating address leaves the gateway port.
    await driver.syncRouter(router([]));
    await run(['ip', 'netns', 'exec', `qrouter-${ROUTER}`, 'conntrack', '-F'], { allowFail: true });
    assert.equal(await udp(FIP, 6007, 'gone'), '');
    const addrs = await run(['ip', '-n', `qrouter-${ROUTER}`, '-o', 'addr', 'show']);
    assert.doesNotMatch(addrs, /172\.30\.93\.30/);
  });
});
