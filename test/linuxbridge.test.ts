// The linuxbridge data plane on real kernel objects: a host namespace with bridges and VXLAN, two
// "guests" (namespaces with a veth named like their port's tap, as a VM's tap would be), DHCP from
// dnsmasq, security groups in iptables, a router namespace with a floating IP reached from the
// root namespace, the metadata proxy (haproxy → this process → a test server standing for Nova's
// metadata API), and the cleanup. Needs root (skips otherwise); removes everything it made, also
// on failure.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { deleteNamespace, hostNamespace, run } from '../src/core/hostns.ts';
import type { DeviceDetails, DhcpNetwork, RouterInfo, SecurityGroupInfo } from '../src/network/drivers/dataplane.ts';
import { LinuxBridgeDriver } from '../src/network/drivers/linuxbridge/index.ts';
import { dnsmasqConfig } from '../src/network/drivers/linuxbridge/dhcp.ts';
import { firewallPlan } from '../src/network/drivers/linuxbridge/firewall.ts';
import { bridgeName, tapName } from '../src/network/drivers/linuxbridge/ip.ts';
import { signInstanceId } from '../src/core/metadata_secret.ts';
import { needsRoot, sgRule, tagUuid, TestNet, vxlanDevices } from './lib/netns.ts';

const skip = needsRoot('namespaces, bridges, iptables');
const tag = `${process.pid % 100000}`;
const HOST = `lbtest${tag}`;
const uuid = tagUuid;

const NET = uuid(1, 'e1');
const PUB = uuid(2, 'e2');
const SUBNET = uuid(3, 'e3');
const PUBSUB = uuid(4, 'e4');
const DHCP_PORT = uuid(5, 'd5');
const VM1 = uuid(6, 'a6');
const VM2 = uuid(7, 'a7');
const RIF = uuid(8, 'b8');
const RGW = uuid(9, 'b9');
const ROUTER = uuid(10, 'c1');
const SG = uuid(11, 'f1');
const G1 = `lbg1-${tag}`;
const G2 = `lbg2-${tag}`;
const G3 = `lbg3-${tag}`;
const VM3 = uuid(12, 'a8');
const SECRET = 'shared-secret';

const device = vxlanDevices({
  network_id: NET,
  subnet_id: SUBNET,
  segmentation_id: 4000 + (Number(tag) % 1000),
  security_groups: [SG],
});

const subnet = {
  id: SUBNET,
  ip_version: 4,
  cidr: '10.91.0.0/24',
  gateway_ip: '10.91.0.1',
  enable_dhcp: true,
  host_routes: [],
  dns_nameservers: [],
};
const vm1 = device(VM1, '10.91.0.10', 'fa:16:3e:00:00:10');
const vm2 = device(VM2, '10.91.0.11', 'fa:16:3e:00:00:11');
const dhcpDev = device(DHCP_PORT, '10.91.0.2', 'fa:16:3e:00:00:02', {
  device_owner: 'network:dhcp',
  security_groups: [],
});
const view = (d: DeviceDetails, extra: Record<string, unknown> = {}) => ({
  id: d.port_id,
  network_id: d.network_id,
  mac_address: d.mac_address,
  fixed_ips: d.fixed_ips,
  device_owner: d.device_owner,
  device_id: d.device_owner === 'compute:nova' ? `inst-${d.port_id}` : 'x',
  project_id: 'proj1',
  'binding:host_id': HOST,
  ...extra,
});
const dhcpNet = (): DhcpNetwork => ({
  id: NET,
  project_id: 'proj1',
  admin_state_up: true,
  mtu: 1450,
  subnets: [subnet],
  // Guest 2's port has a DNS name (a server's hostname, as Nova sets it): dnsmasq answers for it.
  ports: [
    view(dhcpDev),
    view(vm1),
    view(vm2, { dns_assignment: [{ ip_address: '10.91.0.11', hostname: 'leia', fqdn: 'leia.openstackgate.local.' }] }),
  ],
});

const rule = (direction: string, extra: Record<string, unknown> = {}) => sgRule(SG, direction, extra);

const sh = (ns: string, cmd: string[], allowFail = false) => run(cmd, { ns, allowFail });
const canPing = async (ns: string, addr: string) =>
  (await sh(ns, ['busybox', 'ping', '-c', '1', '-W', '1', addr], true)).includes('1 packets received');

async function waitFor(what: string, f: () => Promise<boolean> | boolean, ms = 5000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await f()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('linuxbridge data plane', { skip }, () => {
  let driver: LinuxBridgeDriver;
  let nova: http.Server;
  let novaPort = 0;
  const seen: Array<http.IncomingHttpHeaders> = [];
  const wiredLater: string[] = [];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lbtest-'));

  const net = new TestNet([HOST]);
  const guest = (ns: string, d: DeviceDetails) => net.guest(ns, { host: HOST, portId: d.port_id, mac: d.mac_address });

  before(async () => {
    nova = http.createServer((req, res) => {
      seen.push(req.headers);
      res.end(`meta for ${req.headers['x-instance-id']}`);
    });
    await new Promise<void>((r) => nova.listen(0, '127.0.0.1', () => r()));
    novaPort = (nova.address() as { port: number }).port;
    driver = new LinuxBridgeDriver({
      externalUplink: { physnet: 'public', cidr: '172.30.99.1/24' },
      dnsDomain: 'openstackgate.local',
      metadataProxySharedSecret: SECRET,
      novaMetadataUrl: `http://127.0.0.1:${novaPort}`,
    });
    driver.watch((id) => wiredLater.push(id));
    await driver.start(HOST);
  });

  after(async () => {
    try {
      await driver?.stop();
    } finally {
      await net.remove();
      nova?.close();
      fs.rmSync(tmp, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    }
  });

  it('configuration texts: dnsmasq hosts/options and the firewall plan', () => {
    const cfg = dnsmasqConfig(dhcpNet(), view(dhcpDev), '/x', 'ns-x');
    assert.match(cfg.hosts, /fa:16:3e:00:00:10,host-10-91-0-10,10\.91\.0\.10/);
    assert.match(cfg.opts, /classless-static-route,169\.254\.169\.254\/32,10\.91\.0\.2,0\.0\.0\.0\/0,10\.91\.0\.1/);
    assert.match(cfg.opts, /option:mtu,1450/);
    const withOpts = dhcpNet();
    withOpts.ports[2] = { ...withOpts.ports[2], extra_dhcp_opts: [{ opt_name: 'tftp-server', opt_value: '10.0.0.9' }] };
    const tagged = dnsmasqConfig(withOpts, view(dhcpDev), '/x', 'ns-x');
    assert.match(tagged.hosts, new RegExp(`fa:16:3e:00:00:11,set:port-${VM2},leia,10\\.91\\.0\\.11`));
    // DNS (upstream's dnsmasq driver): the names of the ports, the domain, the DHCP port as DNS server.
    const named = dnsmasqConfig(dhcpNet(), view(dhcpDev), '/x', 'ns-x', 'openstackgate.local.');
    assert.match(named.addnHosts, /^10\.91\.0\.10\thost-10-91-0-10\.openstackgate\.local host-10-91-0-10$/m);
    assert.match(named.addnHosts, /^10\.91\.0\.11\tleia\.openstackgate\.local leia$/m);
    assert.ok(
      named.args.includes('--domain=openstackgate.local') && named.args.includes('--local=/openstackgate.local/'),
    );
    assert.ok(named.args.includes('--addn-hosts=/x/addn_hosts') && !named.args.includes('--port=0'));
    assert.match(named.opts, /option:dns-server,10\.91\.0\.2$/m);
    const withDns = dhcpNet();
    withDns.subnets = [{ ...subnet, dns_nameservers: ['192.0.2.53'] }];
    const own = dnsmasqConfig(withDns, view(dhcpDev), '/x', 'ns-x', 'openstackgate.local');
    assert.match(own.opts, /option:dns-server,192\.0\.2\.53$/m);
    assert.doesNotMatch(own.opts, /dns-server,10\.91\.0\.2/);
    assert.match(tagged.opts, new RegExp(`tag:port-${VM2},option:tftp-server,10\\.0\\.0\\.9`));
    assert.ok(cfg.args.some((a) => a.startsWith('--dhcp-range=set:subnet-') && a.includes(',static,255.255.255.0,')));
    const plan = firewallPlan(
      {
        security_groups: {
          [SG]: [rule('ingress', { protocol: 'tcp', port_range_min: 22, port_range_max: 22, remote_group_id: SG })],
        },
        devices: { [VM1]: vm1 },
      },
      { [SG]: ['10.91.0.10', '10.91.0.11'] },
    );
    assert.match(plan.tables[4], /-m set --match-set NIPv4\S+ src -p tcp -m multiport --dports 22 -j RETURN/);
    assert.match(plan.tables[4], /-s 10\.91\.0\.10 -m mac --mac-source fa:16:3e:00:00:10 -j RETURN/);
    assert.deepEqual([...plan.ipsets.values()], [['10.91.0.10', '10.91.0.11']]);
  });

  it('wires ports when their taps appear, serves DHCP, filters, routes, proxies metadata', async () => {
    // L2: the DHCP port, then two VM ports whose taps do not exist yet.
    await driver.plugPort(dhcpDev);
    await driver.syncDhcp(dhcpNet());
    assert.ok(driver.wired.has(DHCP_PORT), 'the DHCP port is wired once its veth exists');
    assert.equal(await driver.plugPort(vm1), false);
    assert.equal(await driver.plugPort(vm2), false);
    const sgInfo = (rules: ReturnType<typeof rule>[]): SecurityGroupInfo => ({
      security_groups: { [SG]: rules },
      devices: { [VM1]: vm1, [VM2]: vm2, [DHCP_PORT]: dhcpDev },
      member_ips: { [SG]: ['10.91.0.10', '10.91.0.11'] },
    });
    const icmpIn = rule('ingress', { protocol: 'icmp', remote_group_id: SG });
    await driver.updateSecurityGroups(sgInfo([rule('egress'), icmpIn]));
    await guest(G1, vm1);
    await guest(G2, vm2);
    await waitFor('both taps wired', () => wiredLater.includes(VM1) && wiredLater.includes(VM2));
    const links = await run(['ip', '-n', hostNamespace(HOST), '-o', 'link', 'show', 'master', bridgeName(NET)]);
    assert.match(links, new RegExp(tapName(VM1)));
    assert.match(links, /vxlan-/);

    // DHCP: udhcpc gets the fixed address, the router and the option-121 routes.
    const script = path.join(tmp, 'udhcpc.sh');
    fs.writeFileSync(
      script,
      '#!/bin/sh\n[ "$1" = bound ] || exit 0\nip addr add $ip/$mask dev $interface\necho "ip=$ip router=$router routes=$staticroutes mtu=$mtu dns=$dns domain=$domain" > $LEASE_OUT\n',
      { mode: 0o755 },
    );
    for (const [ns, addr] of [
      [G1, '10.91.0.10'],
      [G2, '10.91.0.11'],
    ] as const) {
      const out = path.join(tmp, `${ns}.lease`);
      await run([
        'env',
        `LEASE_OUT=${out}`,
        'ip',
        'netns',
        'exec',
        ns,
        'busybox',
        'udhcpc',
        '-i',
        'eth0',
        '-n',
        '-q',
        '-t',
        '5',
        '-T',
        '1',
        '-O',
        'staticroutes',
        '-O',
        'mtu',
        '-s',
        script,
      ]);
      const lease = fs.readFileSync(out, 'utf8');
      assert.match(lease, new RegExp(`ip=${addr.replace(/\./g, '\\.')} router=10\\.91\\.0\\.1`));
      assert.match(lease, /169\.254\.169\.254\/32 10\.91\.0\.2/);
      assert.match(lease, /mtu=1450/);
      assert.match(lease, /dns=10\.91\.0\.2 domain=openstackgate\.local/);
      await sh(ns, ['ip', 'route', 'add', '169.254.169.254', 'via', '10.91.0.2']);
      await sh(ns, ['ip', 'route', 'add', 'default', 'via', '10.91.0.1']);
    }

    // Internal DNS: dnsmasq on the DHCP port answers the ports' names, short and qualified.
    const lookup = async (name: string) => await sh(G1, ['busybox', 'nslookup', '-type=a', name, '10.91.0.2'], true);
    for (const name of ['leia', 'leia.openstackgate.local'])
      assert.match(await lookup(name), /Address:\s*10\.91\.0\.11/, `${name} resolves`);
    assert.match(await lookup('host-10-91-0-10.openstackgate.local'), /Address:\s*10\.91\.0\.10/);
    assert.doesNotMatch(await lookup('nobody.openstackgate.local'), /Address:\s*10\.91/);

    // Security groups: ICMP from members of the group passes; removing the rule stops it.
    assert.ok(await canPing(G1, '10.91.0.11'), 'guest 1 pings guest 2');
    await driver.updateSecurityGroups(sgInfo([rule('egress')]));
    assert.ok(!(await canPing(G1, '10.91.0.11')), 'the rule is gone: no ping');
    // Anti-spoofing: another source address from guest 1 does not get through.
    await driver.updateSecurityGroups(sgInfo([rule('egress'), rule('ingress', { protocol: 'icmp' })]));
    assert.ok(await canPing(G1, '10.91.0.11'));
    await sh(G1, ['ip', 'addr', 'add', '10.91.0.99/24', 'dev', 'eth0']);
    const spoof = await sh(G1, ['busybox', 'ping', '-c', '1', '-W', '1', '-I', '10.91.0.99', '10.91.0.11'], true);
    assert.doesNotMatch(spoof, /1 packets received/, 'a spoofed source is dropped');
    await sh(G1, ['ip', 'addr', 'del', '10.91.0.99/24', 'dev', 'eth0']);
    // port_security_enabled false: no filtering at all for guest 2, even without rules.
    await driver.updateSecurityGroups({
      security_groups: { [SG]: [rule('egress')] },
      devices: { [VM1]: { ...vm1, port_security_enabled: false }, [VM2]: { ...vm2, port_security_enabled: false } },
    });
    assert.ok(await canPing(G1, '10.91.0.11'), 'no port security: passes');
    await driver.updateSecurityGroups(sgInfo([rule('egress'), rule('ingress', { protocol: 'icmp' })]));

    // QoS DSCP marking (upstream's Linux bridge QoS driver): guest 1's packets leave the bridge
    // with DSCP 16; guest 2 counts what arrives with that mark, before and after the rule goes.
    const marked = async () => {
      const out = await sh(G2, ['iptables-legacy', '-t', 'mangle', '-nvxL', 'INPUT']);
      const row = out.split('\n').find((l) => /DSCP match 0x10/.test(l) && l.includes('10.91.0.10'));
      return Number(row?.trim().split(/\s+/)[0] ?? 'NaN');
    };
    await sh(G2, ['iptables-legacy', '-t', 'mangle', '-A', 'INPUT', '-s', '10.91.0.10', '-m', 'dscp', '--dscp', '16']);
    assert.ok(await canPing(G1, '10.91.0.11'));
    assert.equal(await marked(), 0, 'no mark without a rule');
    await driver.plugPort({ ...vm1, qos_dscp_mark: 16 });
    assert.ok(await canPing(G1, '10.91.0.11'));
    assert.equal(await marked(), 1, 'the echo request arrives marked DSCP 16');
    const save = await run(['ip', 'netns', 'exec', hostNamespace(HOST), 'iptables-legacy-save', '-t', 'mangle']);
    assert.match(save, new RegExp(`--physdev-in ${tapName(VM1)} --physdev-is-bridged -j DSCP --set-dscp 0x10`));
    await driver.plugPort({ ...vm1, qos_dscp_mark: null });
    assert.ok(await canPing(G1, '10.91.0.11'));
    assert.equal(await marked(), 1, 'the mark is gone with the rule');
    await sh(G2, ['iptables-legacy', '-t', 'mangle', '-F', 'INPUT']);

    // Router: the interface, the gateway on the flat public network, a floating IP for guest 1.
    const pubL2 = {
      network_id: PUB,
      network_type: 'flat',
      segmentation_id: null,
      physical_network: 'public',
      mtu: 1500,
      security_groups: [],
    };
    const rif = device(RIF, '10.91.0.1', 'fa:16:3e:00:00:01', {
      device_owner: 'network:router_interface',
      security_groups: [],
    });
    const rgw = device(RGW, '172.30.99.10', 'fa:16:3e:00:00:99', {
      ...pubL2,
      fixed_ips: [{ subnet_id: PUBSUB, ip_address: '172.30.99.10' }],
      device_owner: 'network:router_gateway',
    });
    await driver.plugPort(rif);
    await driver.plugPort(rgw);
    const router: RouterInfo = {
      id: ROUTER,
      admin_state_up: true,
      enable_snat: true,
      routes: [],
      interfaces: [
        { ...view(rif), mtu: 1450, subnets: [{ id: SUBNET, cidr: '10.91.0.0/24', gateway_ip: '10.91.0.1' }] },
      ],
      gw_port: {
        ...view(rgw),
        mtu: 1500,
        subnets: [{ id: PUBSUB, cidr: '172.30.99.0/24', gateway_ip: '172.30.99.1' }],
      },
      floating_ips: [
        {
          id: 'fip1',
          floating_ip_address: '172.30.99.20',
          fixed_ip_address: '10.91.0.10',
          port_id: VM1,
          status: 'DOWN',
        },
      ],
    };
    await driver.syncRouter(router);
    assert.ok(driver.wired.has(RIF) && driver.wired.has(RGW), 'router ports wired');
    assert.ok(await canPing(G1, '10.91.0.1'), 'guest pings its router');
    // From the root namespace, through the uplink: the floating IP answers (DNAT to guest 1).
    const rootPing = await run(['busybox', 'ping', '-c', '1', '-W', '2', '172.30.99.20'], { allowFail: true });
    assert.match(rootPing, /1 packets received/, 'the floating IP is reached from the host');
    // Guest 2 (no floating IP) goes out with SNAT to the router's gateway address.
    assert.ok(await canPing(G2, '172.30.99.1'), 'guest 2 reaches the external gateway through SNAT');
    // Hairpin (neutron_tempest_plugin's admin test_two_vms_fips): guest 2 pings guest 1's floating
    // IP from behind the same router; the answer comes from the floating IP, not the fixed address.
    const hairpin = await sh(G2, ['busybox', 'ping', '-c', '1', '-W', '2', '172.30.99.20'], true);
    assert.match(hairpin, /bytes from 172\.30\.99\.20/, hairpin);

    // Metadata: haproxy in qdhcp → this process → "Nova" with the instance headers.
    const body = await sh(G1, [
      'busybox',
      'wget',
      '-q',
      '-O',
      '-',
      'http://169.254.169.254/openstack/latest/meta_data.json',
    ]);
    assert.equal(body, `meta for inst-${VM1}`);
    const h = seen.at(-1)!;
    assert.equal(h['x-tenant-id'], 'proj1');
    assert.equal(h['x-instance-id-signature'], signInstanceId(SECRET, `inst-${VM1}`));
    assert.equal(h['x-forwarded-for'], '10.91.0.10');

    // QoS: a bandwidth limit to the guest on the tap (tbf); gone when the policy goes.
    const hns = hostNamespace(HOST);
    await driver.plugPort({
      ...vm1,
      qos_bandwidth_limits: [
        { max_kbps: 1000, max_burst_kbps: 0, direction: 'ingress' },
        { max_kbps: 2000, max_burst_kbps: 200, direction: 'egress' },
      ],
    });
    assert.match(await run(['tc', '-n', hns, 'qdisc', 'show', 'dev', tapName(VM1)]), /tbf .*rate 1Mbit/);
    // From the guest (`egress`): hashlimit drops above 2000 kbit/s (250 000 B/s, the burst one second
    // of it): 40 pings of 30 kB in 0.8 s (1.5 MB/s) lose some; the rule's counter shows the drops.
    const police = await run(['ip', 'netns', 'exec', hns, 'iptables-legacy-save', '-t', 'mangle']);
    assert.match(police, new RegExp(`--physdev-in ${tapName(VM1)} .*--hashlimit-above 250000b/s .*-j DROP`));
    const pinged = await sh(G1, ['busybox', 'ping', '-q', '-c', '40', '-s', '30000', '-i', '0.02', '10.91.0.11'], true);
    const lost = Number(/(\d+)% packet loss/.exec(pinged)?.[1] ?? 'NaN');
    const drops = (await run(['ip', 'netns', 'exec', hns, 'iptables-legacy', '-t', 'mangle', '-nvxL', 'stratus-qos']))
      .split('\n')
      .filter((l) => l.includes('DROP'))
      .map((l) => Number(l.trim().split(/\s+/)[0]));
    assert.ok(lost > 10 && lost < 100, `1.5 MB/s against 2000 kbit/s: ${lost} % lost`);
    assert.ok(drops[0]! > 0, `the police rule dropped ${drops[0]} packets`);
    await driver.plugPort(vm1);
    assert.doesNotMatch(await run(['tc', '-n', hns, 'qdisc', 'show', 'dev', tapName(VM1)]), /tbf/);
    assert.doesNotMatch(
      await run(['ip', 'netns', 'exec', hns, 'iptables-legacy-save', '-t', 'mangle']),
      /hashlimit/,
      'the limit goes with the policy',
    );
  });

  it("hands a deleted port's address to the next port that gets it (the old lease released)", async () => {
    // Guest 2's port goes and a new port (another MAC) gets its address, as when tempest's next
    // server lands on the address of the one it just deleted: dnsmasq would refuse the address
    // while the old MAC's lease lasts (a day) unless the agent releases it (upstream: dhcp_release).
    const vm3 = device(VM3, '10.91.0.11', 'fa:16:3e:00:00:12');
    await deleteNamespace(G2);
    await driver.unplugPort(VM2);
    await driver.syncDhcp({ ...dhcpNet(), ports: [view(dhcpDev), view(vm1), view(vm3)] });
    assert.equal(await driver.plugPort(vm3), false);
    await driver.updateSecurityGroups({
      security_groups: { [SG]: [rule('egress'), rule('ingress', { protocol: 'icmp' })] },
      devices: { [VM1]: vm1, [VM3]: vm3, [DHCP_PORT]: dhcpDev },
      member_ips: { [SG]: ['10.91.0.10', '10.91.0.11'] },
    });
    await guest(G3, vm3);
    await waitFor('the new tap wired', () => wiredLater.includes(VM3));
    const out = path.join(tmp, `${G3}.lease`);
    const script = path.join(tmp, 'udhcpc.sh');
    const got = await run(
      [
        'env',
        `LEASE_OUT=${out}`,
        'ip',
        'netns',
        'exec',
        G3,
        'busybox',
        'udhcpc',
        '-i',
        'eth0',
        '-n',
        '-q',
        '-t',
        '10',
        '-T',
        '1',
        '-s',
        script,
      ],
      { allowFail: true },
    );
    assert.ok(fs.existsSync(out), `no lease for the new port's MAC: ${got}`);
    assert.match(fs.readFileSync(out, 'utf8'), /ip=10\.91\.0\.11 /);
  });

  it('reconciles: what the server no longer wants goes', async () => {
    const again = new LinuxBridgeDriver({});
    await again.start(HOST);
    try {
      // A fresh run that saw no router and no DHCP network removes them.
      await again.reconciled();
      assert.ok(!fs.existsSync(`/run/netns/qrouter-${ROUTER}`));
      assert.ok(!fs.existsSync(`/run/netns/qdhcp-${NET}`));
      const left = await run(['ip', '-n', hostNamespace(HOST), '-o', 'link', 'show', 'type', 'bridge']);
      assert.equal(left.trim(), '');
    } finally {
      await again.stop();
    }
  });
});
