// The linuxbridge data plane's figures against the bare kernel, in the same run (needs root):
// - TCP throughput between two namespaces standing for guests: a bare veth pair vs two guests on
//   one host through the driver's bridge with security groups on both ports; a bare VXLAN pair
//   over an underlay veth vs two hosts (host namespaces) through the driver's bridges + VXLAN +
//   security groups; the one-host case also with 100 other filtered ports on the host, dispatched
//   through the firewall's buckets and (the comparison) by a flat list. The traffic is a tiny Node
//   TCP blaster (iperf is not installed); each figure is the median of rounds that alternate the
//   set-ups, as throughput and as CPU seconds per GB (steadier on a shared machine).
// - 100 ports wired at once (taps made, then plugged), against the same `ip` operations done by a
//   plain loop; one port's plug → wired latency (p50).
// - a security group rule change → enforced: updateSecurityGroups' time (iptables-restore).
// Everything it makes is removed at the end, also on failure.
//
//   npm run bench -- network-dataplane [--seconds=N] [--rounds=N] [--ports=N] [--no-write]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { deleteNamespace, ensureNamespace, hostNamespace, run } from '../src/core/hostns.ts';
import type { DeviceDetails, SecurityGroupInfo } from '../src/network/drivers/dataplane.ts';
import { LinuxBridgeDriver, cleanupHost } from '../src/network/drivers/linuxbridge/index.ts';
import { applyFirewall, firewallPlan } from '../src/network/drivers/linuxbridge/firewall.ts';
import { tapName } from '../src/network/drivers/linuxbridge/ip.ts';
import { fmt, machineLine, Report } from './lib/report.ts';

// The client and the server each report their CPU time (user + system, which here includes the
// softirq work of the veths, bridges and netfilter done on their behalf: no IRQ time accounting in
// this kernel), so that a run also gives the CPU seconds per GB moved, a figure that the other
// tenants of a shared machine disturb far less than throughput.
const BLASTER = `
const net = require('node:net');
const [mode, host, port, secs] = process.argv.slice(2);
const cpu = () => { const u = process.cpuUsage(); return u.user + u.system; };
if (mode === 'server') {
  const s = net.createServer((c) => { const c0 = cpu(); let n = 0; c.on('data', (d) => { n += d.length; }); c.on('end', () => { c.end(JSON.stringify({ n, cpu: cpu() - c0 })); }); });
  s.listen(Number(port), host, () => process.stdout.write('ready\\n'));
} else {
  const buf = Buffer.alloc(256 * 1024, 7);
  const c = net.connect(Number(port), host);
  const end = Date.now() + Number(secs) * 1000;
  let t0 = 0; let c0 = 0;
  const pump = () => { while (Date.now() < end) { if (!c.write(buf)) return; } c.end(); };
  c.on('connect', () => { t0 = Date.now(); c0 = cpu(); pump(); });
  c.on('drain', pump);
  let reply = '';
  c.on('data', (d) => { reply += d; });
  c.on('end', () => { const ms = Date.now() - t0; const r = JSON.parse(reply); process.stdout.write(JSON.stringify({ bytes: r.n, ms, cpu: cpu() - c0 + r.cpu }) + '\\n'); });
}
`;

const tag = `${process.pid % 100000}`;
const made: string[] = [];
const hosts: string[] = [];

async function ns(name: string) {
  made.push(name);
  await ensureNamespace(name);
  return name;
}

interface Flow {
  /** Gbit/s. */
  gbps: number;
  /** CPU seconds (client + server, with the kernel's work on their behalf) per GB moved. */
  cpuPerGB: number;
}

/** One flow from a client in `from` to a server at `addr` in `to`. */
async function throughput(from: string, to: string, addr: string, seconds: number, script: string): Promise<Flow> {
  const server = spawn('ip', ['netns', 'exec', to, process.execPath, script, 'server', addr, '5201'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.stdout!.once('data', () => resolve());
      server.once('exit', () => reject(new Error('blaster server exited')));
    });
    const out = await run([process.execPath, script, 'client', addr, '5201', String(seconds)], { ns: from });
    const { bytes, ms, cpu } = JSON.parse(out) as { bytes: number; ms: number; cpu: number };
    return { gbps: (bytes * 8) / (ms / 1000) / 1e9, cpuPerGB: cpu / 1e6 / (bytes / 1e9) };
  } finally {
    server.kill('SIGKILL');
  }
}

/** The median of each measure over rounds that alternate the set-ups (a shared machine's load drifts). */
async function alternate(rounds: number, runs: Array<() => Promise<Flow>>): Promise<Flow[]> {
  const got: Flow[][] = runs.map(() => []);
  for (let r = 0; r < rounds; r++) for (const [i, f] of runs.entries()) got[i]!.push(await f());
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  return got.map((fs) => ({ gbps: median(fs.map((f) => f.gbps)), cpuPerGB: median(fs.map((f) => f.cpuPerGB)) }));
}

const dev = (id: string, net: string, ip: string, mac: string, vni: number): DeviceDetails => ({
  device: id,
  port_id: id,
  network_id: net,
  mac_address: mac,
  admin_state_up: true,
  status: 'DOWN',
  network_type: 'vxlan',
  segmentation_id: vni,
  physical_network: null,
  mtu: 1450,
  fixed_ips: [{ subnet_id: 's', ip_address: ip }],
  device_owner: 'compute:nova',
  allowed_address_pairs: [],
  port_security_enabled: true,
  security_groups: ['sg'],
  qos_policy_id: null,
  network_qos_policy_id: null,
  profile: {},
});

const sgInfo = (devices: DeviceDetails[], tcp = true): SecurityGroupInfo => ({
  security_groups: {
    sg: [
      { id: 'e', security_group_id: 'sg', direction: 'egress', ethertype: 'IPv4', protocol: null },
      ...(tcp
        ? [
            {
              id: 't',
              security_group_id: 'sg',
              direction: 'ingress',
              ethertype: 'IPv4',
              protocol: 'tcp',
              port_range_min: 5201,
              port_range_max: 5201,
            },
          ]
        : []),
    ],
  },
  devices: Object.fromEntries(devices.map((d) => [d.port_id, d])),
});

async function guest(name: string, hostNs: string, d: DeviceDetails, cidr: string) {
  await ns(name);
  await run([
    'ip',
    '-n',
    hostNs,
    'link',
    'add',
    tapName(d.port_id),
    'type',
    'veth',
    'peer',
    'name',
    'eth0',
    'netns',
    name,
  ]);
  await run(['ip', '-n', name, 'link', 'set', 'eth0', 'address', d.mac_address, 'mtu', '1450', 'up']);
  await run(['ip', '-n', name, 'addr', 'add', cidr, 'dev', 'eth0']);
}

const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

export async function run_(args: string[]) {
  const opt = (k: string, d: number) => Number(args.find((a) => a.startsWith(`--${k}=`))?.split('=')[1] ?? d);
  const seconds = opt('seconds', 2);
  const rounds = opt('rounds', 5);
  const nPorts = opt('ports', 100);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lbbench-'));
  const script = path.join(dir, 'blaster.cjs');
  fs.writeFileSync(script, BLASTER);
  const rows: Array<[string, string]> = [];
  const report = new Report('network-dataplane', 'Network data plane: linuxbridge vs the bare kernel');
  try {
    // 1. bare veth
    const [a, b] = [await ns(`lbb-a${tag}`), await ns(`lbb-b${tag}`)];
    await run(['ip', '-n', a, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', b]);
    await run(['ip', '-n', a, 'addr', 'add', '10.95.0.1/24', 'dev', 'eth0']);
    await run(['ip', '-n', b, 'addr', 'add', '10.95.0.2/24', 'dev', 'eth0']);
    for (const n of [a, b]) await run(['ip', '-n', n, 'link', 'set', 'eth0', 'mtu', '1450', 'up']);

    // 2. one host, two guests through the bridge with security groups
    const H = `lbbench${tag}`;
    hosts.push(H);
    const d = new LinuxBridgeDriver({});
    await d.start(H);
    const g1 = dev(
      'b1000001-0000-4000-8000-000000000001',
      'nb000000-0000-4000-8000-000000000001',
      '10.96.0.1',
      'fa:16:3e:01:00:01',
      3001,
    );
    const g2 = dev(
      'b1000002-0000-4000-8000-000000000002',
      'nb000000-0000-4000-8000-000000000001',
      '10.96.0.2',
      'fa:16:3e:01:00:02',
      3001,
    );
    await guest(`lbb-g1${tag}`, hostNamespace(H), g1, '10.96.0.1/24');
    await guest(`lbb-g2${tag}`, hostNamespace(H), g2, '10.96.0.2/24');
    await d.plugPort(g1);
    await d.plugPort(g2);
    // 100 other filtered ports on the host (their taps need not exist): the rules every frame walks.
    const others = Array.from({ length: 100 }, (_, i) =>
      dev(
        `d${String(i).padStart(7, '0')}-0000-4000-8000-000000000000`,
        'nb000000-0000-4000-8000-000000000009',
        `10.96.1.${i}`,
        `fa:16:3e:09:00:${i.toString(16).padStart(2, '0')}`,
        3009,
      ),
    );
    const oneHost =
      (devices: DeviceDetails[], flat = false, early = false) =>
      async () => {
        // flat: every port's two dispatch rules in one list (as before the buckets), for the comparison.
        // early: upstream's RELATED,ESTABLISHED → RETURN first (before every packet of a connection
        // opened towards a port walked its rules), for the comparison.
        if (flat) await applyFirewall(hostNamespace(H), firewallPlan(sgInfo(devices), {}, Number.POSITIVE_INFINITY));
        else if (early) await applyFirewall(hostNamespace(H), firewallPlan(sgInfo(devices), {}, undefined, true));
        else await d.updateSecurityGroups(sgInfo(devices));
        return throughput(`lbb-g1${tag}`, `lbb-g2${tag}`, '10.96.0.2', seconds, script);
      };

    // 3. bare VXLAN between two namespaces over an underlay veth
    const [va, vb] = [await ns(`lbb-va${tag}`), await ns(`lbb-vb${tag}`)];
    await run(['ip', '-n', va, 'link', 'add', 'ul0', 'type', 'veth', 'peer', 'name', 'ul0', 'netns', vb]);
    for (const [n, me, peer, inner] of [
      [va, '192.168.252.1', '192.168.252.2', '10.97.0.1'],
      [vb, '192.168.252.2', '192.168.252.1', '10.97.0.2'],
    ] as const) {
      await run(['ip', '-n', n, 'addr', 'add', `${me}/24`, 'dev', 'ul0']);
      await run(['ip', '-n', n, 'link', 'set', 'ul0', 'up']);
      await run([
        'ip',
        '-n',
        n,
        'link',
        'add',
        'vx0',
        'type',
        'vxlan',
        'id',
        '42',
        'dstport',
        '4789',
        'local',
        me,
        'remote',
        peer,
      ]);
      await run(['ip', '-n', n, 'addr', 'add', `${inner}/24`, 'dev', 'vx0']);
      await run(['ip', '-n', n, 'link', 'set', 'vx0', 'mtu', '1450', 'up']);
    }

    // 4. two hosts through the driver: bridges + VXLAN + FDB + security groups
    const [HA, HB] = [`lbbha${tag}`, `lbbhb${tag}`];
    hosts.push(HA, HB);
    const da = new LinuxBridgeDriver({ underlayIp: '192.168.253.1' });
    const db = new LinuxBridgeDriver({ underlayIp: '192.168.253.2' });
    await da.start(HA);
    await db.start(HB);
    await run([
      'ip',
      '-n',
      hostNamespace(HA),
      'link',
      'add',
      'ul0',
      'type',
      'veth',
      'peer',
      'name',
      'ul0',
      'netns',
      hostNamespace(HB),
    ]);
    for (const [h, me] of [
      [HA, '192.168.253.1'],
      [HB, '192.168.253.2'],
    ] as const) {
      await run(['ip', '-n', hostNamespace(h), 'addr', 'add', `${me}/24`, 'dev', 'ul0']);
      await run(['ip', '-n', hostNamespace(h), 'link', 'set', 'ul0', 'up']);
    }
    const NET2 = 'nb000000-0000-4000-8000-000000000002';
    const x1 = dev('b2000001-0000-4000-8000-000000000001', NET2, '10.98.0.1', 'fa:16:3e:02:00:01', 3002);
    const x2 = dev('b2000002-0000-4000-8000-000000000002', NET2, '10.98.0.2', 'fa:16:3e:02:00:02', 3002);
    await guest(`lbb-x1${tag}`, hostNamespace(HA), x1, '10.98.0.1/24');
    await guest(`lbb-x2${tag}`, hostNamespace(HB), x2, '10.98.0.2/24');
    await da.plugPort(x1);
    await db.plugPort(x2);
    await da.updateSecurityGroups(sgInfo([x1]));
    await db.updateSecurityGroups(sgInfo([x2]));
    await da.updateFdb(NET2, [{ mac_address: x2.mac_address, ip_address: '10.98.0.2', vtep: '192.168.253.2' }]);
    await db.updateFdb(NET2, [{ mac_address: x1.mac_address, ip_address: '10.98.0.1', vtep: '192.168.253.1' }]);
    const [bareVeth, bridged, bridgedEarly, bridgedOpen, bridged100, bridged100Flat, bareVxlan, crossHost] =
      await alternate(rounds, [
        () => throughput(a, b, '10.95.0.2', seconds, script),
        oneHost([g1, g2]),
        oneHost([g1, g2], false, true),
        oneHost([
          { ...g1, port_security_enabled: false },
          { ...g2, port_security_enabled: false },
        ]),
        oneHost([...others, g1, g2]),
        oneHost([...others, g1, g2], true),
        () => throughput(va, vb, '10.97.0.2', seconds, script),
        () => throughput(`lbb-x1${tag}`, `lbb-x2${tag}`, '10.98.0.2', seconds, script),
      ]);
    await d.updateSecurityGroups(sgInfo([g1, g2]));

    // 5. wiring: N taps plugged at once vs the same ip calls in a plain loop
    const NET3 = 'nb000000-0000-4000-8000-000000000003';
    const many = Array.from({ length: nPorts }, (_, i) =>
      dev(
        `c${String(i).padStart(7, '0')}-0000-4000-8000-000000000000`,
        NET3,
        `10.99.${i >> 8}.${i & 255}`,
        `fa:16:3e:03:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
        3003,
      ),
    );
    const hns = hostNamespace(H);
    const t0 = Date.now();
    for (const p of many)
      await run([
        'ip',
        '-n',
        hns,
        'link',
        'add',
        tapName(p.port_id),
        'type',
        'veth',
        'peer',
        'name',
        `p${tapName(p.port_id).slice(3)}`,
      ]);
    const tapsMs = Date.now() - t0;
    const t1 = Date.now();
    const latencies: number[] = [];
    await Promise.all(
      many.map(async (p) => {
        const s = Date.now();
        await d.plugPort(p);
        latencies.push(Date.now() - s);
      }),
    );
    const plugMs = Date.now() - t1;
    const plainBr = 'brqplainbench';
    await run(['ip', '-n', hns, 'link', 'add', plainBr, 'type', 'bridge']);
    const t2 = Date.now();
    for (const p of many) await run(['ip', '-n', hns, 'link', 'set', tapName(p.port_id), 'nomaster']);
    for (const p of many)
      await run(['ip', '-n', hns, 'link', 'set', tapName(p.port_id), 'master', plainBr, 'mtu', '1450', 'up']);
    const plainMs = (Date.now() - t2) / 2;
    const t3 = Date.now();
    await d.updateSecurityGroups(sgInfo([g1, g2, ...many], false));
    const ruleMs = Date.now() - t3;

    const vs = (f: { gbps: number; cpuPerGB: number }, bare: { gbps: number; cpuPerGB: number }) =>
      `${fmt(f.gbps, 2)} Gbit/s (${fmt((100 * f.gbps) / bare.gbps, 0)} %), ${fmt(f.cpuPerGB, 3)} CPU s/GB (${fmt((100 * bare.cpuPerGB) / f.cpuPerGB, 0)} %)`;
    const flows: Array<[string, string]> = [
      ['bare veth, namespace ↔ namespace (MTU 1450)', vs(bareVeth!, bareVeth!)],
      ['linuxbridge, two guests on one host (bridge + iptables security groups)', vs(bridged!, bareVeth!)],
      [
        'the same, established connections returning first (upstream’s shape, before 24830ee)',
        vs(bridgedEarly!, bareVeth!),
      ],
      ['linuxbridge, the same without security groups (port security off)', vs(bridgedOpen!, bareVeth!)],
      ['linuxbridge, the same with 100 other filtered ports on the host', vs(bridged100!, bareVeth!)],
      ['the same, the ports dispatched by a flat list (before the buckets)', vs(bridged100Flat!, bareVeth!)],
      ['bare VXLAN over an underlay veth', vs(bareVxlan!, bareVxlan!)],
      ['linuxbridge, two hosts over VXLAN (bridges + FDB + security groups)', vs(crossHost!, bareVxlan!)],
    ];
    rows.push(
      ...flows,
      [`${nPorts} ports plugged at once (taps existing)`, `${plugMs} ms (p50 per port ${p50(latencies)} ms)`],
      [`the same: a plain loop of \`ip link set … master\``, `${Math.round(plainMs)} ms`],
      [`making the ${nPorts} taps (\`ip link add\`, the compute side's part)`, `${tapsMs} ms`],
      [`security group change applied for ${nPorts + 2} ports (iptables-restore)`, `${ruleMs} ms`],
    );
    report
      .text(machineLine())
      .text(
        `TCP flows: the median of ${rounds} rounds of ${seconds} s that alternate the set-ups; throughput (% of the bare kernel's) and the CPU seconds the two ends and the kernel's work for them spend per GB (% = the bare kernel's cost over this one: its efficiency).`,
      )
      .table(['measure', 'result'], rows, ['l', 'r']);
    await d.stop();
    await da.stop();
    await db.stop();
  } finally {
    for (const n of made) await deleteNamespace(n);
    for (const h of hosts) await cleanupHost(h);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  report.write({ file: !args.includes('--no-write') });
}

export { run_ as run };
