// Metering on the linuxbridge data plane: a router namespace with its gateway on a flat public
// network (the root namespace's uplink at its far end) and a "guest" behind it; metering labels
// become counting chains in the router's filter table, the metering agent reads them and sends
// `l3.meter` notifications (bytes and packets per label) as upstream's metering agent does.
// Needs root (skips otherwise); removes everything it made, also on failure.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { run } from '../src/core/hostns.ts';
import type { DeviceDetails, MeteringRouterInfo, RouterInfo } from '../src/network/drivers/dataplane.ts';
import { LinuxBridgeDriver } from '../src/network/drivers/linuxbridge/index.ts';
import { meteringTable, parseCounters } from '../src/network/drivers/linuxbridge/metering.ts';
import { MeteringAgent, type MeterPayload } from '../src/network/agent/metering.ts';
import { needsRoot, portView, tagUuid, TestNet, testTag, vxlanDevices } from './lib/netns.ts';

const skip = needsRoot('namespaces, bridges, iptables');
const tag = testTag;
const HOST = `lbmt${tag}`;
const uuid = tagUuid;
const NET = uuid(1, 'e1');
const PUB = uuid(2, 'e2');
const SUBNET = uuid(3, 'e3');
const PUBSUB = uuid(4, 'e4');
const VM = uuid(6, 'a6');
const RIF = uuid(8, 'b8');
const RGW = uuid(9, 'b9');
const ROUTER = uuid(10, 'c1');
const ALL = uuid(12, 'f2');
const NONE = uuid(13, 'f3');
const GUEST = `lbmtg-${tag}`;

const device = vxlanDevices({
  network_id: NET,
  subnet_id: SUBNET,
  segmentation_id: 6000 + (Number(tag) % 1000),
  security_groups: [],
});
const vm = device(VM, '10.95.0.10', 'fa:16:3e:00:95:10');
const rif = device(RIF, '10.95.0.1', 'fa:16:3e:00:95:01', { device_owner: 'network:router_interface' });
const rgw = device(RGW, '172.30.95.10', 'fa:16:3e:00:95:99', {
  network_id: PUB,
  network_type: 'flat',
  segmentation_id: null,
  physical_network: 'public',
  mtu: 1500,
  fixed_ips: [{ subnet_id: PUBSUB, ip_address: '172.30.95.10' }],
  device_owner: 'network:router_gateway',
});
const view = (d: DeviceDetails) => portView(d, ROUTER);
const router: RouterInfo = {
  id: ROUTER,
  admin_state_up: true,
  enable_snat: true,
  routes: [],
  interfaces: [{ ...view(rif), mtu: 1450, subnets: [{ id: SUBNET, cidr: '10.95.0.0/24', gateway_ip: '10.95.0.1' }] }],
  gw_port: { ...view(rgw), mtu: 1500, subnets: [{ id: PUBSUB, cidr: '172.30.95.0/24', gateway_ip: '172.30.95.1' }] },
  floating_ips: [],
};
const rule = (direction: string, extra: Record<string, unknown> = {}) => ({
  id: `r-${direction}-${Math.random()}`,
  direction,
  excluded: false,
  remote_ip_prefix: null,
  source_ip_prefix: null,
  destination_ip_prefix: null,
  ...extra,
});
const metering = (labels: MeteringRouterInfo['labels']): MeteringRouterInfo => ({
  id: ROUTER,
  project_id: 'proj1',
  admin_state_up: true,
  gw_port_id: RGW,
  labels,
});
// ALL: everything through the gateway, in and out, except 172.30.95.1/32 out (excluded);
// NONE: a range no traffic goes to.
const labels = (): MeteringRouterInfo['labels'] => [
  {
    id: ALL,
    project_id: 'proj1',
    rules: [
      rule('egress', { remote_ip_prefix: '0.0.0.0/0' }),
      rule('ingress', { remote_ip_prefix: '0.0.0.0/0' }),
      rule('egress', { remote_ip_prefix: '172.30.95.2/32', excluded: true }),
    ],
  },
  { id: NONE, project_id: 'proj1', rules: [rule('egress', { remote_ip_prefix: '198.51.100.0/24' })] },
];

describe('metering rules (pure)', () => {
  it('a rules chain per label jumping to its counting chain, excluded rules first', () => {
    const t = meteringTable(metering(labels()));
    const qg = `qg-${RGW.slice(0, 11)}`;
    const rc = `meter-r-${ALL.slice(0, 20)}`;
    const lc = `meter-l-${ALL.slice(0, 20)}`;
    assert.match(t, /-A FORWARD -j stratus-meter/);
    assert.match(t, new RegExp(`-A stratus-meter -j ${rc}`));
    const lines = t.split('\n').filter((l) => l.startsWith(`-A ${rc} `));
    assert.deepEqual(lines, [
      `-A ${rc} -o ${qg} -d 172.30.95.2/32 -j RETURN`,
      `-A ${rc} -o ${qg} -d 0.0.0.0/0 -j ${lc}`,
      `-A ${rc} -i ${qg} -s 0.0.0.0/0 -j ${lc}`,
    ]);
    assert.ok(t.includes(`\n-A ${lc}\n`), 'the counting rule');
    // No gateway: nothing to count.
    assert.doesNotMatch(meteringTable({ ...metering(labels()), gw_port_id: null }), /meter-r-/);
    const c = parseCounters(
      `Chain ${lc} (1 references)\n    pkts      bytes target     prot opt in     out     source               destination\n       6      504            0    --  *      *       0.0.0.0/0            0.0.0.0/0\n`,
    );
    assert.deepEqual(c.get(lc), [6, 504]);
  });
});

describe('linuxbridge metering', { skip }, () => {
  let driver: LinuxBridgeDriver;

  const net = new TestNet([HOST]);
  before(async () => {
    driver = new LinuxBridgeDriver({ externalUplink: { physnet: 'public', cidr: '172.30.95.1/24' } });
    await driver.start(HOST);
  });

  after(async () => {
    try {
      await driver?.stop();
    } finally {
      await net.remove();
    }
  });

  it('counts each label’s traffic through the gateway and reports l3.meter', async () => {
    await net.guest(GUEST, {
      host: HOST,
      portId: VM,
      mac: vm.mac_address,
      address: '10.95.0.10/24',
      gateway: '10.95.0.1',
    });
    assert.equal(await driver.plugPort(vm), true);
    await driver.plugPort(rif);
    await driver.plugPort(rgw);
    await driver.syncRouter(router);

    const sent: MeterPayload[] = [];
    let served = metering(labels());
    const agent = new MeteringAgent({
      host: HOST,
      driver,
      fetch: async () => [served],
      notify: (type, payload) => {
        assert.equal(type, 'l3.meter');
        sent.push(payload);
      },
    });
    await agent.measure();
    // Five 1000-byte pings out through the gateway (SNAT) and their answers: counted by ALL.
    const ping = await run(['busybox', 'ping', '-c', '5', '-i', '0.2', '-s', '1000', '-W', '1', '172.30.95.1'], {
      ns: GUEST,
    });
    assert.match(ping, /5 packets received/);
    await agent.measure();
    agent.report();
    const all = sent.find((p) => p.label_id === ALL)!;
    const none = sent.find((p) => p.label_id === NONE)!;
    assert.equal(all.pkts, 10, JSON.stringify(all));
    assert.equal(all.bytes, 10 * 1028);
    assert.equal(all.tenant_id, 'proj1');
    assert.equal(all.host, HOST);
    assert.equal(none.pkts, 0);
    assert.equal(none.bytes, 0);

    // A label change rewrites the chains and keeps what was counted before it; the report starts counts again.
    sent.length = 0;
    await run(['busybox', 'ping', '-c', '2', '-i', '0.2', '-s', '100', '-W', '1', '172.30.95.1'], { ns: GUEST });
    served = metering([labels()[0]!]);
    await agent.measure();
    await agent.measure();
    agent.report();
    assert.equal(sent.find((p) => p.label_id === ALL)?.pkts, 4);
    assert.equal(sent.find((p) => p.label_id === ALL)?.bytes, 4 * 128);
    assert.ok(!sent.some((p) => p.label_id === NONE), 'a label gone is forgotten');
    // The excluded destination is not counted.
    sent.length = 0;
    await run([
      'ip',
      '-n',
      `qrouter-${ROUTER}`,
      'neigh',
      'replace',
      '172.30.95.2',
      'lladdr',
      '02:00:00:00:00:02',
      'dev',
      `qg-${RGW.slice(0, 11)}`,
    ]);
    await run(['busybox', 'ping', '-c', '2', '-i', '0.2', '-W', '1', '172.30.95.2'], { ns: GUEST, allowFail: true });
    await agent.measure();
    agent.report();
    assert.equal(sent.find((p) => p.label_id === ALL)?.pkts, 0, 'excluded traffic is not counted');
    await agent.stop();
  });
});
