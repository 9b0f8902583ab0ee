// DHCP for one network, as upstream's DHCP agent with its dnsmasq driver: a namespace
// `qdhcp-<network>` holding the DHCP port (a veth whose host side `tap<port>` is in the network's
// bridge), Debian's dnsmasq serving only the fixed MAC → IP pairs of the network's ports (static
// ranges), with the router, DNS servers, MTU, host routes and the metadata route (option 121),
// and the extra DHCP options of each port. A change rewrites the hosts and options files and
// sends SIGHUP (dnsmasq re-reads them without a restart); a change of the subnets restarts it.
// The metadata address 169.254.169.254 is on the DHCP port too (upstream's force_metadata), so a
// guest reaches the metadata proxy with or without a router. IPv6 subnets in dhcpv6-stateful
// mode get DHCPv6 with the ports' fixed addresses, dhcpv6-stateless ones DHCPv6 options only
// (the addresses come from the router's advertisements: router.ts's radvd).
// DNS as upstream's dnsmasq driver: dnsmasq answers on port 53 of the DHCP port for the ports'
// names (an `addn_hosts` file, `<ip> <hostname>.<domain> <hostname>`, the hostnames of the ports'
// `dns_assignment`, `host-<ip-dashes>` otherwise) under the configured domain (`--domain`,
// `--local=/<domain>/`: never forwarded), and hands that domain out (option 15); the subnet's DNS
// servers when it has some, else its own address (`0.0.0.0` alone: none announced, as upstream).
import fs from 'node:fs';
import path from 'node:path';
import { ensureNamespace, processAlive, run, startDaemon } from '../../../core/hostns.ts';
import type { PortView } from '../../views.ts';
import type { DhcpNetwork } from '../dataplane.ts';
import { dhcpNamespace, ensureVeth, ip, netmask, prefixLen, setAddresses, tapName } from './ip.ts';

export const METADATA_IP = '169.254.169.254';
const LEASE = 86400;

export interface DhcpFiles {
  hosts: string;
  opts: string;
  /** `<ip> <fqdn> <hostname>` per fixed IP (dnsmasq's --addn-hosts, re-read on SIGHUP). */
  addnHosts: string;
  /** What needs a restart when it changes (the ranges and the interface). */
  args: string[];
}

const dashed = (ipAddr: string) => ipAddr.replace(/[.:]/g, '-');

/** A port's hostname for one of its addresses: its dns_assignment's, else `host-<ip-dashes>` (upstream's _get_dns_assignment). */
function hostnameOf(p: PortView, ipAddr: string): string {
  const a = (p.dns_assignment as Array<{ ip_address: string; hostname: string }> | undefined)?.find(
    (x) => x.ip_address === ipAddr,
  );
  // A name given as an FQDN (`dns_name: 'vm.example.org.'`): its first label, the rest is the domain's.
  const name = (a?.hostname ?? '').replace(/\.+$/, '').split('.')[0];
  return name || `host-${dashed(ipAddr)}`;
}

/**
 * The dnsmasq configuration of a network: pure, so that tests can look at it. `domain` is
 * neutron.conf's dns_domain (with or without its final dot; '' for none).
 */
export function dnsmasqConfig(
  net: DhcpNetwork,
  dhcpPort: PortView,
  dir: string,
  iface: string,
  domain = 'openstacklocal',
): DhcpFiles {
  const dom = domain.replace(/\.+$/, '');
  const v4 = net.subnets.filter((s) => s.enable_dhcp && s.ip_version === 4);
  // IPv6 subnets dnsmasq answers (upstream's rule): DHCPv6 stateful or stateless, or no mode at
  // all; not slaac (addresses from the router's advertisements alone), not prefixes longer than 64.
  const v6 = net.subnets.filter(
    (s) =>
      s.enable_dhcp &&
      s.ip_version === 6 &&
      prefixLen(s.cidr) <= 64 &&
      (s.ipv6_address_mode === 'dhcpv6-stateful' ||
        s.ipv6_address_mode === 'dhcpv6-stateless' ||
        (!s.ipv6_address_mode && !s.ipv6_ra_mode)),
  );
  // Stateful subnets hand out the ports' fixed addresses; stateless ones only options.
  const statefulV6 = new Set(v6.filter((s) => s.ipv6_address_mode !== 'dhcpv6-stateless').map((s) => s.id));
  const bySubnet = new Map(v4.map((s) => [s.id, s]));
  const dhcpIp = (subnetId: string) => dhcpPort.fixed_ips.find((f) => f.subnet_id === subnetId)?.ip_address;
  const hosts: string[] = [];
  const opts: string[] = [];
  const addn: string[] = [];
  const served = new Set([...v4, ...v6].map((s) => s.id));
  for (const p of [...net.ports].sort((a, b) => String(a.id).localeCompare(String(b.id)))) {
    for (const f of p.fixed_ips ?? []) {
      const name = hostnameOf(p, f.ip_address);
      if (served.has(f.subnet_id)) addn.push(`${f.ip_address}\t${dom ? `${name}.${dom} ` : ''}${name}`);
      if (statefulV6.has(f.subnet_id)) {
        hosts.push(`${p.mac_address},${name},[${f.ip_address}]`);
        continue;
      }
      if (!bySubnet.has(f.subnet_id)) continue;
      const tag = `port-${p.id}`;
      type Opt = { opt_name: string; opt_value: string; ip_version?: number };
      const extra = ((p.extra_dhcp_opts ?? []) as Opt[]).filter((o) => (o.ip_version ?? 4) === 4);
      // A tag only for the ports with options of their own, as upstream (and see sync()).
      const set = extra.length ? `set:${tag},` : '';
      hosts.push(`${p.mac_address},${set}${name},${f.ip_address}`);
      for (const o of extra) {
        const name = /^\d+$/.test(o.opt_name) ? o.opt_name : `option:${o.opt_name}`;
        opts.push(`tag:${tag},${name},${o.opt_value}`);
      }
    }
  }
  for (const s of v4) {
    const tag = `subnet-${s.id}`;
    const mine = dhcpIp(s.id);
    const routes: string[] = [];
    if (mine) routes.push(`${METADATA_IP}/32,${mine}`);
    for (const r of s.host_routes ?? []) if (!r.destination.includes(':')) routes.push(`${r.destination},${r.nexthop}`);
    if (s.gateway_ip) {
      opts.push(`tag:${tag},option:router,${s.gateway_ip}`);
      routes.push(`0.0.0.0/0,${s.gateway_ip}`);
    } else opts.push(`tag:${tag},option:router`);
    opts.push(`tag:${tag},option:classless-static-route,${routes.join(',')}`);
    opts.push(`tag:${tag},249,${routes.join(',')}`);
    const dns = (s.dns_nameservers ?? []).filter((d) => !d.includes(':'));
    if (dns.length === 1 && dns[0] === '0.0.0.0') opts.push(`tag:${tag},option:dns-server`);
    else if (dns.length) opts.push(`tag:${tag},option:dns-server,${dns.join(',')}`);
    else if (mine) opts.push(`tag:${tag},option:dns-server,${mine}`);
    opts.push(`tag:${tag},option:mtu,${net.mtu}`);
  }
  for (const s of v6) {
    const dns = (s.dns_nameservers ?? []).filter((d) => d.includes(':'));
    if (dns.length === 1 && dns[0] === '::') opts.push(`tag:subnet-${s.id},option6:dns-server`);
    else if (dns.length) opts.push(`tag:subnet-${s.id},option6:dns-server,${dns.map((d) => `[${d}]`).join(',')}`);
  }
  const args = [
    '--no-hosts',
    '--no-resolv',
    '--bind-interfaces',
    `--interface=${iface}`,
    '--except-interface=lo',
    '--user=root',
    '--group=root',
    `--pid-file=${path.join(dir, 'pid')}`,
    `--dhcp-hostsfile=${path.join(dir, 'host')}`,
    `--dhcp-optsfile=${path.join(dir, 'opts')}`,
    `--addn-hosts=${path.join(dir, 'addn_hosts')}`,
    `--dhcp-leasefile=${path.join(dir, 'leases')}`,
    `--log-facility=${path.join(dir, 'log')}`,
    '--dhcp-authoritative',
    '--dhcp-no-override',
    // A constant: anything that changes here restarts dnsmasq.
    '--dhcp-lease-max=65536',
    // Names under the domain are answered here alone (no upstream resolver: dnsmasq_dns_servers unset).
    ...(dom ? [`--domain=${dom}`, `--local=/${dom}/`] : []),
    ...v4.map(
      (s) => `--dhcp-range=set:subnet-${s.id},${s.cidr.split('/')[0]},static,${netmask(prefixLen(s.cidr))},${LEASE}s`,
    ),
    ...v6.map((s) => `--dhcp-range=set:subnet-${s.id},${s.cidr.split('/')[0]},static,${prefixLen(s.cidr)},${LEASE}s`),
  ];
  return { hosts: `${hosts.join('\n')}\n`, opts: `${opts.join('\n')}\n`, addnHosts: `${addn.join('\n')}\n`, args };
}

/** dnsmasq's lease file ('' when there is none). */
function readLeases(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/**
 * The `dhcp_release`/`dhcp_release6` commands for the leases in `leases` (dnsmasq's lease file)
 * that no port of the network has any more with that MAC (`hosts`: dnsmasq's hosts file).
 */
function staleLeases(leases: string, hosts: string, iface: string): Map<string, string[]> {
  const wanted = new Set<string>();
  for (const line of hosts.split('\n')) {
    const f = line.split(',');
    if (f.length >= 3) wanted.add(`${f[0]!.toLowerCase()} ${f[f.length - 1]!.replace(/^\[|\]$/g, '')}`);
  }
  const wantedIps = new Set([...wanted].map((w) => w.split(' ')[1]));
  const cmds = new Map<string, string[]>();
  let serverDuid = '';
  for (const line of leases.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[0] === 'duid') {
      serverDuid = f[1] ?? '';
      continue;
    }
    if (f.length < 5) continue;
    const [, macOrIaid, addr, , clientId] = f as [string, string, string, string, string];
    const key = `${macOrIaid.toLowerCase()} ${addr}`;
    if (!addr.includes(':')) {
      if (!wanted.has(key))
        cmds.set(key, ['dhcp_release', iface, addr, macOrIaid, ...(clientId !== '*' ? [clientId] : [])]);
    } else if (!wantedIps.has(addr) && serverDuid) {
      cmds.set(key, [
        'dhcp_release6',
        '--iface',
        iface,
        '--ip',
        addr,
        '--client-id',
        clientId,
        '--server-id',
        serverDuid,
        '--iaid',
        macOrIaid,
      ]);
    }
  }
  return cmds;
}

/**
 * Releases the leases dnsmasq holds for addresses no port of the network has any more with that
 * MAC, as upstream's DHCP agent does (`dhcp_release`): dnsmasq refuses a host's configured address
 * while another MAC's lease on it lasts, so the next port given a deleted port's address (tempest's
 * next server on a shared network) would get no answer for a day.
 *
 * `leases` is the lease file as read before dnsmasq was signalled: dnsmasq rewrites the file in place
 * after a SIGHUP re-read, and a read then can find it empty (seen: the release never sent). A release
 * is a datagram: one sent while dnsmasq is busy re-reading or not yet listening is lost, so what is
 * still in the file is sent again, for up to 1.5 s (one empty read proves nothing).
 */
async function releaseUnusedLeases(ns: string, iface: string, leases: string, leaseFile: string, hosts: string) {
  let pending = staleLeases(leases, hosts, iface);
  let empty = 0;
  for (let attempt = 0; attempt < 15 && pending.size; attempt++) {
    if (attempt % 5 === 0) for (const cmd of pending.values()) await run(cmd, { ns, allowFail: true });
    await new Promise((r) => setTimeout(r, 100));
    const now = readLeases(leaseFile);
    // Empty three reads running (300 ms): no lease left, not a rewrite caught half-way.
    if (!now.trim() && ++empty < 3) continue;
    empty = 0;
    const still = staleLeases(now, hosts, iface);
    pending = new Map([...pending].filter(([key]) => still.has(key)));
  }
}

export class DhcpServer {
  constructor(
    private hostNs: string | undefined,
    private stateDir: string,
    /** neutron.conf's dns_domain ('' for none). */
    private domain = 'openstacklocal',
  ) {}

  dir(networkId: string) {
    return path.join(this.stateDir, 'dhcp', networkId);
  }

  private pid(networkId: string): number {
    try {
      return Number(fs.readFileSync(path.join(this.dir(networkId), 'pid'), 'utf8').trim()) || 0;
    } catch {
      return 0;
    }
  }

  /** The DHCP port of this host on the network (the agent made it). */
  static portOf(net: DhcpNetwork, host: string): PortView | undefined {
    return net.ports.find((p) => p.device_owner === 'network:dhcp' && p['binding:host_id'] === host);
  }

  async sync(net: DhcpNetwork, host: string): Promise<void> {
    const port = DhcpServer.portOf(net, host);
    if (!port) return;
    const ns = dhcpNamespace(net.id);
    // No addresses or routes of its own from router advertisements (the DHCP port has its fixed ones).
    await ensureNamespace(ns, { 'net.ipv6.conf.default.accept_ra': '0', 'net.ipv6.conf.all.accept_ra': '0' });
    const iface = `ns-${String(port.id).slice(0, 11)}`;
    await ensureVeth(this.hostNs, tapName(port.id), ns, iface, port.mac_address, net.mtu);
    const cidrs: string[] = [];
    for (const f of port.fixed_ips) {
      const s = net.subnets.find((x) => x.id === f.subnet_id);
      if (s) cidrs.push(`${f.ip_address}/${prefixLen(s.cidr)}`);
    }
    await setAddresses(ns, iface, cidrs);
    // The metadata address, link-scoped (not a global address setAddresses would remove).
    await ip(ns, ['addr', 'replace', `${METADATA_IP}/32`, 'dev', iface, 'scope', 'link']);
    const dir = this.dir(net.id);
    fs.mkdirSync(dir, { recursive: true });
    const cfg = dnsmasqConfig(net, port, dir, iface, this.domain);
    fs.writeFileSync(path.join(dir, 'host'), cfg.hosts);
    fs.writeFileSync(path.join(dir, 'opts'), cfg.opts);
    fs.writeFileSync(path.join(dir, 'addn_hosts'), cfg.addnHosts);
    // Read before dnsmasq is signalled or restarted (it rewrites the file then): releaseUnusedLeases.
    const leaseFile = path.join(dir, 'leases');
    const leases = readLeases(leaseFile);
    const argsFile = path.join(dir, 'args');
    const before = fs.existsSync(argsFile) ? fs.readFileSync(argsFile, 'utf8') : '';
    const args = JSON.stringify(cfg.args);
    const pid = this.pid(net.id);
    const alive = processAlive(pid, 'dnsmasq');
    // dnsmasq 2.90 aborts (SIGABRT) answering a client that has a lease after a SIGHUP re-read a
    // hosts file with `set:` tags (measured here): with tags, a change restarts it instead.
    if (alive && before === args && !cfg.hosts.includes(',set:')) {
      process.kill(pid, 'SIGHUP');
    } else {
      if (alive) await this.kill(net.id);
      fs.writeFileSync(argsFile, args);
      if (!cfg.args.some((a) => a.startsWith('--dhcp-range'))) return;
      await startDaemon(ns, ['dnsmasq', ...cfg.args], path.join(dir, 'stderr'));
    }
    await releaseUnusedLeases(ns, iface, leases, leaseFile, cfg.hosts);
  }

  private async kill(networkId: string) {
    const pid = this.pid(networkId);
    if (!processAlive(pid, 'dnsmasq')) return;
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100 && processAlive(pid); i++) await new Promise((r) => setTimeout(r, 20));
    if (processAlive(pid)) process.kill(pid, 'SIGKILL');
  }

  async remove(networkId: string): Promise<void> {
    await this.kill(networkId);
    fs.rmSync(this.dir(networkId), { recursive: true, force: true });
  }

  /** The networks this host has DHCP state for (to reconcile after a restart). */
  known(): string[] {
    try {
      return fs.readdirSync(path.join(this.stateDir, 'dhcp'));
    } catch {
      return [];
    }
  }
}
