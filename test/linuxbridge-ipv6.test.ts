// IPv6 on the linuxbridge data plane: one VXLAN network with three IPv6 subnets, one per mode
// (slaac, dhcpv6-stateful, dhcpv6-stateless), a router interface on them (radvd in qrouter-), a
// DHCP port (dnsmasq's DHCPv6 in qdhcp-), and a namespace standing for a guest: it gets its
// EUI-64 addresses from the router's advertisements (slaac and stateless prefixes), its stateful
// address from a DHCPv6 Solicit and the DNS servers of a stateless Information-request (a small
// DHCPv6 client in the test: Debian's busybox has none). Needs root and radvd (skips otherwise);
// removes everything it made, also on failure.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hostNamespace, run } from '../src/core/hostns.ts';
import type { DeviceDetails, DhcpNetwork, RouterInfo } from '../src/network/drivers/dataplane.ts';
import { LinuxBridgeDriver } from '../src/network/drivers/linuxbridge/index.ts';
import { dnsmasqConfig } from '../src/network/drivers/linuxbridge/dhcp.ts';
import { radvdConfig } from '../src/network/drivers/linuxbridge/router.ts';
import type { SubnetView } from '../src/network/views.ts';
import { guestUp, needsRoot, portView, tagUuid, TestNet, testTag } from './lib/netns.ts';

const hasRadvd = fs.existsSync('/usr/sbin/radvd');
const skip = needsRoot('namespaces, bridges') || (hasRadvd ? false : 'needs radvd');
const tag = testTag;
const HOST = `lbv6${tag}`;
const uuid = tagUuid;
const NET = uuid(1, 'e1');
const SLAAC = uuid(2, 'e2');
const STATEFUL = uuid(3, 'e3');
const STATELESS = uuid(4, 'e4');
const DHCP_PORT = uuid(5, 'd5');
const VM = uuid(6, 'a6');
const RIF = uuid(8, 'b8');
const ROUTER = uuid(10, 'c1');
const SG = uuid(11, 'f1');
const GUEST = `lbv6g-${tag}`;

const subnet = (id: string, n: number, mode: string, dns: string[] = []): SubnetView => ({
  id,
  network_id: NET,
  ip_version: 6,
  cidr: `fd00:94:${n}::/64`,
  gateway_ip: `fd00:94:${n}::1`,
  enable_dhcp: true,
  ipv6_ra_mode: mode,
  ipv6_address_mode: mode,
  dns_nameservers: dns,
  host_routes: [],
});
const subnets = [
  subnet(SLAAC, 1, 'slaac'),
  subnet(STATEFUL, 2, 'dhcpv6-stateful', ['fd00:94:2::53']),
  subnet(STATELESS, 3, 'dhcpv6-stateless', ['fd00:94:3::53']),
];
const VM_MAC = 'fa:16:3e:00:94:10';
// EUI-64 of fa:16:3e:00:94:10: flip the U/L bit, ff:fe in the middle.
const EUI = 'f816:3eff:fe00:9410';
const fixed = (eui: string, statefulHost: string) => [
  { subnet_id: SLAAC, ip_address: `fd00:94:1::${eui}` },
  { subnet_id: STATEFUL, ip_address: `fd00:94:2::${statefulHost}` },
  { subnet_id: STATELESS, ip_address: `fd00:94:3::${eui}` },
];

const device = (
  port: string,
  mac: string,
  fixedIps: DeviceDetails['fixed_ips'],
  extra: Partial<DeviceDetails> = {},
): DeviceDetails => ({
  device: port,
  port_id: port,
  network_id: NET,
  mac_address: mac,
  admin_state_up: true,
  status: 'DOWN',
  network_type: 'vxlan',
  segmentation_id: 5000 + (Number(tag) % 1000),
  physical_network: null,
  mtu: 1450,
  fixed_ips: fixedIps,
  device_owner: 'compute:nova',
  allowed_address_pairs: [],
  port_security_enabled: true,
  security_groups: [SG],
  qos_policy_id: null,
  network_qos_policy_id: null,
  profile: {},
  ...extra,
});
const vm = device(VM, VM_MAC, fixed(EUI, '77'));
const dhcpDev = device(DHCP_PORT, 'fa:16:3e:00:94:02', fixed('f816:3eff:fe00:9402', '2'), {
  device_owner: 'network:dhcp',
  security_groups: [],
});
const rif = device(
  RIF,
  'fa:16:3e:00:94:01',
  subnets.map((s) => ({ subnet_id: s.id, ip_address: String(s.gateway_ip) })),
  { device_owner: 'network:router_interface', security_groups: [] },
);
const view = (d: DeviceDetails, deviceId: string) => portView(d, deviceId, { 'binding:host_id': HOST });
const network = (): DhcpNetwork => ({
  id: NET,
  project_id: 'proj1',
  admin_state_up: true,
  mtu: 1450,
  subnets,
  ports: [view(dhcpDev, 'dhcp'), view(vm, 'inst-1'), view(rif, ROUTER)],
});
const router = (): RouterInfo => ({
  id: ROUTER,
  admin_state_up: true,
  enable_snat: false,
  routes: [],
  interfaces: [{ ...view(rif, ROUTER), mtu: 1450, subnets }],
  gw_port: null,
  floating_ips: [],
});

// A minimal DHCPv6 client (RFC 8415): Solicit (answered by an Advertise with the IA_NA address)
// or Information-request (a Reply with the options), with a DUID-LL of the MAC; prints JSON.
const DHCP6_CLIENT = `
import dgram from 'node:dgram';
const [kind, mac, iface] = process.argv.slice(2);
const duid = Buffer.from([0, 3, 0, 1, ...mac.split(':').map((h) => parseInt(h, 16))]);
const opt = (code, data) => Buffer.concat([Buffer.from([code >> 8, code & 255, data.length >> 8, data.length & 255]), data]);
const msg = Buffer.concat([
  Buffer.from([kind === 'solicit' ? 1 : 11, 0x12, 0x34, 0x56]),
  opt(1, duid),
  ...(kind === 'solicit' ? [opt(3, Buffer.alloc(12, 0).fill(7, 0, 4))] : []),
  opt(8, Buffer.from([0, 0])),
  opt(6, Buffer.from([0, 23])),
]);
const ip6 = (b) => Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2).toString(16)).join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
const s = dgram.createSocket({ type: 'udp6', reuseAddr: true });
const out = { type: 0, addresses: [], dns: [] };
s.on('message', (m) => {
  if (m.readUInt32BE(0) & 0xffffff ^ 0x123456) return;
  out.type = m[0];
  const walk = (b, at) => {
    while (at + 4 <= b.length) {
      const code = b.readUInt16BE(at), len = b.readUInt16BE(at + 2), d = b.subarray(at + 4, at + 4 + len);
      if (code === 3) walk(d, 12);
      if (code === 5) out.addresses.push(ip6(d.subarray(0, 16)));
      if (code === 23) for (let i = 0; i + 16 <= d.length; i += 16) out.dns.push(ip6(d.subarray(i, i + 16)));
      at += 4 + len;
    }
  };
  walk(m, 4);
  console.log(JSON.stringify(out));
  process.exit(0);
});
s.bind(546, '::', () => {
  s.setMulticastInterface('::%' + iface);
  const send = () => s.send(msg, 547, 'ff02::1:2%' + iface);
  send();
  setInterval(send, 500);
  setTimeout(() => { console.log(JSON.stringify(out)); process.exit(1); }, 8000);
});
`;

async function waitFor<T>(what: string, f: () => Promise<T | undefined> | T | undefined, ms = 15000): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await f();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('IPv6 configuration texts (pure)', () => {
  it('radvd: flags and prefixes per mode; dnsmasq: DHCPv6 ranges and hosts', () => {
    const conf = radvdConfig(router())!;
    assert.match(conf, /AdvManagedFlag on;/);
    assert.match(conf, /AdvOtherConfigFlag on;/);
    assert.match(conf, /AdvLinkMTU 1450;/);
    assert.match(conf, /prefix fd00:94:1::\/64\s*\{\s*AdvOnLink on;\s*AdvAutonomous on;/);
    assert.match(conf, /prefix fd00:94:2::\/64\s*\{\s*AdvOnLink on;\s*AdvAutonomous off;/);
    assert.match(conf, /prefix fd00:94:3::\/64\s*\{\s*AdvOnLink on;\s*AdvAutonomous on;/);
    assert.match(conf, /RDNSS fd00:94:2::53 fd00:94:3::53 \{\};/);
    // No advertisements without an RA mode (an external router sends them) or on IPv4.
    assert.equal(
      radvdConfig({
        ...router(),
        interfaces: [{ ...view(rif, ROUTER), subnets: [{ ...subnets[0]!, ipv6_ra_mode: null }] }],
      }),
      null,
    );
    const cfg = dnsmasqConfig(network(), view(dhcpDev, 'dhcp'), '/x', 'ns-x');
    assert.ok(cfg.args.includes(`--dhcp-range=set:subnet-${STATEFUL},fd00:94:2::,static,64,86400s`));
    assert.ok(cfg.args.includes(`--dhcp-range=set:subnet-${STATELESS},fd00:94:3::,static,64,86400s`));
    assert.ok(!cfg.args.some((a) => a.includes(SLAAC)), 'slaac: no DHCPv6');
    assert.match(cfg.hosts, /fa:16:3e:00:94:10,host-fd00-94-2--77,\[fd00:94:2::77\]/);
    assert.doesNotMatch(cfg.hosts, /fd00:94:[13]::/);
    assert.match(cfg.opts, new RegExp(`tag:subnet-${STATELESS},option6:dns-server,\\[fd00:94:3::53\\]`));
  });
});

describe('linuxbridge IPv6: router advertisements and DHCPv6', { skip }, () => {
  let driver: LinuxBridgeDriver;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lbv6-'));

  const net = new TestNet([HOST]);
  before(async () => {
    driver = new LinuxBridgeDriver({});
    await driver.start(HOST);
  });

  after(async () => {
    if (process.env.LBV6_KEEP) return;
    try {
      await driver?.stop();
    } finally {
      await net.remove();
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('a guest gets its SLAAC/EUI-64 addresses, a stateful DHCPv6 address and stateless options', async () => {
    await driver.plugPort(dhcpDev);
    await driver.plugPort(rif);
    await driver.syncDhcp(network());
    await driver.syncRouter(router());
    await driver.updateSecurityGroups({
      security_groups: {
        [SG]: [
          {
            id: 'r1',
            security_group_id: SG,
            direction: 'egress',
            ethertype: 'IPv6',
            protocol: null,
            port_range_min: null,
            port_range_max: null,
            remote_ip_prefix: null,
            remote_group_id: null,
          },
        ],
      },
      devices: { [VM]: vm, [DHCP_PORT]: dhcpDev, [RIF]: rif },
    });
    const radvdLog = path.join('/run/stratus', hostNamespace(HOST), 'radvd', ROUTER, 'radvd.conf');
    assert.ok(fs.existsSync(radvdLog), 'radvd is configured');
    const pids = await run(['ip', 'netns', 'pids', `qrouter-${ROUTER}`]);
    assert.ok(pids.trim(), 'radvd runs in the router namespace');

    // The guest: its tap wired first, then its link up (it solicits a router at once, as at boot).
    await net.guest(GUEST, { host: HOST, portId: VM, mac: VM_MAC, up: false });
    assert.equal(await driver.plugPort(vm), true);
    await guestUp(GUEST);

    const addrs = await waitFor('SLAAC addresses', async () => {
      const out = await run(['ip', '-n', GUEST, '-6', '-o', 'addr', 'show', 'dev', 'eth0', 'scope', 'global']);
      return out.includes(`fd00:94:1:0:${EUI}/64`) && out.includes(`fd00:94:3:0:${EUI}/64`) ? out : undefined;
    });
    assert.doesNotMatch(addrs, /fd00:94:2::/, 'no SLAAC address on the stateful prefix');
    const routes = await run(['ip', '-n', GUEST, '-6', 'route', 'show', 'default']);
    assert.match(routes, /default via fe80::f816:3eff:fe00:9401 dev eth0/, 'the router is the default gateway');
    assert.match(await run(['ip', '-n', GUEST, '-6', 'route', 'show', 'fd00:94:1::/64']), /mtu 1450|fd00:94:1::\/64/);
    // The MTU from the advertisement.
    assert.equal((await run(['ip', 'netns', 'exec', GUEST, 'cat', '/proc/sys/net/ipv6/conf/eth0/mtu'])).trim(), '1450');

    // DHCPv6 from dnsmasq in qdhcp-: Solicit → the port's fixed address on the stateful subnet.
    const script = path.join(tmp, 'dhcp6.mjs');
    fs.writeFileSync(script, DHCP6_CLIENT);
    const ask = async (kind: string) => {
      const out = await run(['ip', 'netns', 'exec', GUEST, process.execPath, script, kind, VM_MAC, 'eth0'], {
        allowFail: true,
      });
      return out ? (JSON.parse(out) as { type: number; addresses: string[]; dns: string[] }) : undefined;
    };
    const adv = await waitFor('a DHCPv6 Advertise', () => ask('solicit'), 20000);
    assert.equal(adv.type, 2, 'Advertise');
    assert.deepEqual(adv.addresses, ['fd00:94:2::77']);
    assert.ok(adv.dns.includes('fd00:94:2::53'), `DNS of the stateful subnet: ${adv.dns}`);
    // A network whose DHCPv6 is stateless only (dnsmasq restarted with its new ranges): an
    // Information-request gets the subnet's DNS servers.
    await driver.syncDhcp({ ...network(), subnets: subnets.filter((s) => s.id !== STATEFUL) });
    const info = await waitFor('a DHCPv6 Reply', () => ask('info'), 20000);
    assert.equal(info.type, 7, 'Reply');
    assert.deepEqual(info.dns, ['fd00:94:3::53'], 'an Information-request gets the DNS servers');

    // The router advertises no more once its interface leaves: radvd stops.
    await driver.syncRouter({ ...router(), interfaces: [] });
    assert.ok(!fs.existsSync(radvdLog), 'radvd configuration removed');
  });
});
