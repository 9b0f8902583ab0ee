// Floating IP port forwardings on the linuxbridge data plane: a router namespace with its gateway
// on a flat public network (reached from the root namespace through the uplink veth), a "guest"
// namespace running a TCP listener (busybox httpd), and a port forwarding FIP:8080 → guest:80.
// The forwarding answers from the host; an update moves it to another external port; a range maps
// port to port; a delete removes it (and the floating address). Needs root (skips otherwise);
// removes everything it made, also on failure.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run, spawnIn } from '../src/core/hostns.ts';
import type { DeviceDetails, PortForwardingInfo, RouterInfo } from '../src/network/drivers/dataplane.ts';
import { LinuxBridgeDriver } from '../src/network/drivers/linuxbridge/index.ts';
import { natTable, portForwardingRule } from '../src/network/drivers/linuxbridge/router.ts';
import { needsRoot, portView, sgRule, tagUuid, TestNet, testTag, vxlanDevices } from './lib/netns.ts';

const skip = needsRoot('namespaces, bridges, iptables');
const tag = testTag;
const HOST = `lbpf${tag}`;
const uuid = tagUuid;
const NET = uuid(1, 'e1');
const PUB = uuid(2, 'e2');
const SUBNET = uuid(3, 'e3');
const PUBSUB = uuid(4, 'e4');
const VM = uuid(6, 'a6');
const RIF = uuid(8, 'b8');
const RGW = uuid(9, 'b9');
const ROUTER = uuid(10, 'c1');
const SG = uuid(11, 'f1');
const GUEST = `lbpfg-${tag}`;
const FIP = '172.30.96.30';

const device = vxlanDevices({
  network_id: NET,
  subnet_id: SUBNET,
  segmentation_id: 3000 + (Number(tag) % 1000),
  security_groups: [SG],
});
const view = (d: DeviceDetails) => portView(d, ROUTER, { 'binding:host_id': HOST });
const rule = (direction: string, extra: Record<string, unknown> = {}) => sgRule(SG, direction, extra);

const vm = device(VM, '10.93.0.10', 'fa:16:3e:00:93:10');
const rif = device(RIF, '10.93.0.1', 'fa:16:3e:00:93:01', {
  device_owner: 'network:router_interface',
  security_groups: [],
});
const rgw = device(RGW, '172.30.96.10', 'fa:16:3e:00:96:10', {
  network_id: PUB,
  network_type: 'flat',
  segmentation_id: null,
  physical_network: 'public',
  mtu: 1500,
  fixed_ips: [{ subnet_id: PUBSUB, ip_address: '172.30.96.10' }],
  device_owner: 'network:router_gateway',
  security_groups: [],
});
const pf = (extra: Partial<PortForwardingInfo> = {}): PortForwardingInfo => ({
  id: 'pf1',
  floating_ip_address: FIP,
  protocol: 'tcp',
  internal_ip_address: '10.93.0.10',
  internal_port_start: 80,
  internal_port_end: 80,
  external_port_start: 8080,
  external_port_end: 8080,
  ...extra,
});
const router = (pfs: PortForwardingInfo[]): RouterInfo => ({
  id: ROUTER,
  admin_state_up: true,
  enable_snat: true,
  routes: [],
  interfaces: [{ ...view(rif), mtu: 1450, subnets: [{ id: SUBNET, cidr: '10.93.0.0/24', gateway_ip: '10.93.0.1' }] }],
  gw_port: { ...view(rgw), mtu: 1500, subnets: [{ id: PUBSUB, cidr: '172.30.96.0/24', gateway_ip: '172.30.96.1' }] },
  // The floating IP carries port forwardings only (no port of its own), as upstream requires.
  floating_ips: [{ id: 'fip1', floating_ip_address: FIP, fixed_ip_address: null, port_id: null, router_id: ROUTER }],
  port_forwardings: pfs,
});

/** An HTTP GET from the root namespace (busybox wget, 3 s; its -T segfaults): the body, or '' when nothing answered. */
const get = (url: string) => run(['timeout', '3', 'busybox', 'wget', '-q', '-O', '-', url], { allowFail: true });

describe('port forwarding rules (pure)', () => {
  it('single ports, ranges mapped port to port, many to one, udp', () => {
    assert.equal(
      portForwardingRule(pf()),
      `-d ${FIP}/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.93.0.10:80`,
    );
    assert.match(
      portForwardingRule(
        pf({ internal_port_start: 100, internal_port_end: 109, external_port_start: 200, external_port_end: 209 }),
      ),
      /--dport 200:209 -j DNAT --to-destination 10\.93\.0\.10:100-109\/200$/,
    );
    assert.match(
      portForwardingRule(pf({ protocol: 'udp', external_port_start: 200, external_port_end: 209 })),
      /-p udp -m udp --dport 200:209 -j DNAT --to-destination 10\.93\.0\.10:80$/,
    );
    const nat = natTable(router([pf()]));
    assert.match(nat, /-A PREROUTING -d 172\.30\.96\.30\/32 -p tcp -m tcp --dport 8080 -j DNAT/);
    assert.match(nat, /-A OUTPUT -d 172\.30\.96\.30\/32 -p tcp/);
    // No 1:1 DNAT for a floating IP that only forwards ports.
    assert.doesNotMatch(nat, /-j DNAT --to-destination 10\.93\.0\.10$/m);
  });
});

describe('linuxbridge port forwardings', { skip }, () => {
  let driver: LinuxBridgeDriver;
  const www = fs.mkdtempSync(path.join(os.tmpdir(), 'lbpf-'));

  const net = new TestNet([HOST]);
  before(async () => {
    driver = new LinuxBridgeDriver({ externalUplink: { physnet: 'public', cidr: '172.30.96.1/24' } });
    await driver.start(HOST);
  });

  after(async () => {
    if (process.env.LBPF_KEEP) return;
    try {
      await driver?.stop();
    } finally {
      await net.remove();
      fs.rmSync(www, { recursive: true, force: true });
    }
  });

  it('DNATs FIP:port to the guest, follows updates and deletes', async () => {
    // The guest: a veth named as its tap, a static address, a default route via the router, httpd on 80 and 81.
    await net.guest(GUEST, {
      host: HOST,
      portId: VM,
      mac: vm.mac_address,
      address: '10.93.0.10/24',
      gateway: '10.93.0.1',
    });
    fs.writeFileSync(path.join(www, 'index.html'), 'hello from the guest\n');
    // Killed with the namespace (deleteNamespace kills what runs in it).
    spawnIn(GUEST, ['busybox', 'httpd', '-f', '-p', '80', '-h', www]);
    spawnIn(GUEST, ['busybox', 'httpd', '-f', '-p', '81', '-h', www]);

    assert.equal(await driver.plugPort(vm), true);
    await driver.plugPort(rif);
    await driver.plugPort(rgw);
    // Security group: TCP 80-81 in, everything out.
    await driver.updateSecurityGroups({
      security_groups: {
        [SG]: [rule('egress'), rule('ingress', { protocol: 'tcp', port_range_min: 80, port_range_max: 81 })],
      },
      devices: { [VM]: vm, [RIF]: rif, [RGW]: rgw },
    });

    await driver.syncRouter(router([pf()]));
    // httpd and the tap's wiring may take a moment: poll the first answer.
    let first = '';
    for (let i = 0; i < 20 && !first; i++) {
      first = await get(`http://${FIP}:8080/`);
      if (!first) await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(first, 'hello from the guest\n', 'FIP:8080 reaches guest:80');
    assert.equal(await get(`http://${FIP}:8081/`), '', 'no other port is forwarded');

    // Update: the external port moves to 8081.
    await driver.syncRouter(router([pf({ external_port_start: 8081, external_port_end: 8081 })]));
    assert.equal(await get(`http://${FIP}:8081/`), 'hello from the guest\n', 'the updated port answers');
    assert.equal(await get(`http://${FIP}:8080/`), '', 'the old port no longer does');

    // A range maps port to port: 9080→80, 9081→81.
    await driver.syncRouter(
      router([
        pf({ internal_port_start: 80, internal_port_end: 81, external_port_start: 9080, external_port_end: 9081 }),
      ]),
    );
    assert.equal(await get(`http://${FIP}:9081/`), 'hello from the guest\n');
    assert.equal(await get(`http://${FIP}:9080/`), 'hello from the guest\n');

    // A router set down loses its namespace (as upstream's L3 agent drops it): nothing answers,
    // not even the floating address; set up again, it is built anew and forwards again.
    await driver.syncRouter({ ...router([pf()]), admin_state_up: false });
    assert.equal(await get(`http://${FIP}:8080/`), '', 'a router set down forwards nothing');
    assert.doesNotMatch(await run(['ip', 'netns', 'list']), new RegExp(`qrouter-${ROUTER}`));
    await driver.syncRouter(
      router([
        pf({ internal_port_start: 80, internal_port_end: 81, external_port_start: 9080, external_port_end: 9081 }),
      ]),
    );
    let again = '';
    for (let i = 0; i < 20 && !again; i++) {
      again = await get(`http://${FIP}:9080/`);
      if (!again) await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(again, 'hello from the guest\n', 'set up again, the router forwards again');

    // Delete: nothing forwarded, the floating address leaves the gateway port.
    await driver.syncRouter(router([]));
    assert.equal(await get(`http://${FIP}:9080/`), '');
    const addrs = await run(['ip', '-n', `qrouter-${ROUTER}`, '-o', 'addr', 'show']);
    assert.doesNotMatch(addrs, /172\.30\.96\.30/);
  });
});
