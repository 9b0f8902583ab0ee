// Routers as upstream's legacy L3 agent makes them: a namespace `qrouter-<router>` with forwarding
// on, an interface per subnet (`qr-<port>`, a veth whose host side `tap<port>` is in the internal
// network's bridge) and the gateway (`qg-<port>`, in the external network's bridge) with the
// default route via the external subnet's gateway, extra routes, SNAT of the internal subnets to
// the gateway address, each floating IP as an address on qg- with DNAT in and SNAT out, and the
// floating IPs' port forwardings (DNAT of FIP:port to an internal address:port). The
// nat table of the namespace is Stratus's alone: written whole with iptables-restore.
// IPv6: radvd in the namespace sends router advertisements on the interfaces whose subnets ask
// the router for them (ipv6_ra_mode slaac, dhcpv6-stateless, dhcpv6-stateful), as upstream's
// ra.py: the prefix autonomous for slaac and stateless, the O flag for stateless, the M flag
// for stateful, the MTU and the subnets' IPv6 DNS servers.
import fs from 'node:fs';
import path from 'node:path';
import { ensureNamespace, processAlive, run, startDaemon } from '../../../core/hostns.ts';
import type { RouterPortView } from '../../views.ts';
import type { PortForwardingInfo, RouterInfo } from '../dataplane.ts';
import { ensureVeth, ip, links, routerNamespace, setAddresses, tapName } from './ip.ts';

const subnetsOf = (p: RouterPortView) => p.subnets ?? [];
const v4 = (a: string) => !a.includes(':');

/** The addresses of a router port with their prefix lengths (the server adds each port's subnets). */
function cidrsOf(p: RouterPortView): string[] {
  const out: string[] = [];
  for (const f of p.fixed_ips ?? []) {
    const s = subnetsOf(p).find((x) => x.id === f.subnet_id);
    if (s) out.push(`${f.ip_address}/${s.cidr.split('/')[1]}`);
  }
  return out;
}

export const qrName = (portId: string) => `qr-${portId.slice(0, 11)}`;
export const qgName = (portId: string) => `qg-${portId.slice(0, 11)}`;

/** The router's nat table: pure, so that tests can read it. */
export function natTable(r: RouterInfo): string {
  const lines = [
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':INPUT ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':POSTROUTING ACCEPT [0:0]',
  ];
  const gw = r.gw_port;
  const gwIp = gw && (gw.fixed_ips ?? []).map((f) => f.ip_address).find(v4);
  if (gw && gwIp && r.admin_state_up) {
    const qg = qgName(gw.id);
    // As upstream's L3 agent: what neither leaves through the gateway nor was DNATed (east-west
    // between the router's subnets) keeps its addresses; the rest goes on to the SNAT rules. So a
    // guest reaching another guest's floating IP from behind the same router (hairpin: DNATed and
    // sent back out of a qr-) is SNATed too, to its own floating IP (or, without one, to the
    // gateway address): the answer comes back through the router, from the floating IP it pinged.
    lines.push(`-A POSTROUTING ! -o ${qg} -m conntrack ! --ctstate DNAT -j ACCEPT`);
    for (const f of r.floating_ips) {
      if (!f.port_id || !f.fixed_ip_address || !v4(f.floating_ip_address)) continue;
      lines.push(`-A PREROUTING -d ${f.floating_ip_address}/32 -j DNAT --to-destination ${f.fixed_ip_address}`);
      lines.push(`-A OUTPUT -d ${f.floating_ip_address}/32 -j DNAT --to-destination ${f.fixed_ip_address}`);
      lines.push(`-A POSTROUTING -s ${f.fixed_ip_address}/32 -j SNAT --to-source ${f.floating_ip_address}`);
    }
    for (const pf of r.port_forwardings ?? []) {
      if (!v4(pf.floating_ip_address)) continue;
      const rule = portForwardingRule(pf);
      lines.push(`-A PREROUTING ${rule}`, `-A OUTPUT ${rule}`);
    }
    if (r.enable_snat) {
      for (const p of r.interfaces)
        for (const s of subnetsOf(p))
          if (v4(s.cidr))
            lines.push(
              `-A POSTROUTING -s ${s.cidr} -o ${qg} -m conntrack ! --ctstate DNAT -j SNAT --to-source ${gwIp}`,
              `-A POSTROUTING -s ${s.cidr} ! -o ${qg} -m conntrack --ctstate DNAT -j SNAT --to-source ${gwIp}`,
            );
    }
  }
  lines.push('COMMIT');
  return `${[...new Set(lines)].join('\n')}\n`;
}

/**
 * One port forwarding's DNAT (as upstream's port_forwarding L3 extension writes it): the floating
 * IP's external port (or range) to the internal address's port (or range, shifted one to one).
 */
export function portForwardingRule(pf: PortForwardingInfo): string {
  const proto = pf.protocol.toLowerCase();
  const ext =
    pf.external_port_start === pf.external_port_end
      ? `${pf.external_port_start}`
      : `${pf.external_port_start}:${pf.external_port_end}`;
  let to = `${pf.internal_ip_address}:${pf.internal_port_start}`;
  if (pf.internal_port_end !== pf.internal_port_start) {
    to = `${to}-${pf.internal_port_end}`;
    // Equal ranges map port to port (DNAT's shifted mapping: /<first external port>).
    if (pf.external_port_end !== pf.external_port_start) to = `${to}/${pf.external_port_start}`;
  }
  return `-d ${pf.floating_ip_address}/32 -p ${proto} -m ${proto} --dport ${ext} -j DNAT --to-destination ${to}`;
}

/** The addresses the router's gateway port carries for its floating IPs (associated ones and those with port forwardings). */
export function floatingAddresses(r: RouterInfo): string[] {
  const out = new Set<string>();
  for (const f of r.floating_ips) if (f.port_id && f.floating_ip_address) out.add(f.floating_ip_address);
  for (const pf of r.port_forwardings ?? []) out.add(pf.floating_ip_address);
  return [...out].filter(v4).map((a) => `${a}/32`);
}

/** Upstream's defaults (min_rtr_adv_interval, max_rtr_adv_interval): guests ask with a solicitation at boot anyway. */
const RA_MIN_INTERVAL = 30;
const RA_MAX_INTERVAL = 100;

/** The router's radvd.conf, or null when none of its interfaces sends advertisements: pure, so that tests can read it. */
export function radvdConfig(r: RouterInfo): string | null {
  const blocks: string[] = [];
  for (const p of r.interfaces) {
    const subnets = subnetsOf(p).filter((s) => s.cidr.includes(':') && s.ipv6_ra_mode);
    if (!subnets.length) continue;
    const modes = new Set(subnets.map((s) => s.ipv6_ra_mode));
    const lines = [
      `interface ${qrName(p.id)}`,
      '{',
      '   AdvSendAdvert on;',
      `   MinRtrAdvInterval ${RA_MIN_INTERVAL};`,
      `   MaxRtrAdvInterval ${RA_MAX_INTERVAL};`,
      `   AdvLinkMTU ${Number(p.mtu ?? p.network_mtu ?? 1500)};`,
    ];
    if (modes.has('dhcpv6-stateless')) lines.push('   AdvOtherConfigFlag on;');
    if (modes.has('dhcpv6-stateful')) lines.push('   AdvManagedFlag on;');
    const dns = [...new Set(subnets.flatMap((s) => (s.dns_nameservers ?? []).filter((d) => d.includes(':'))))];
    // radvd takes at most three RDNSS addresses per clause.
    if (dns.length) lines.push(`   RDNSS ${dns.slice(0, 3).join(' ')} {};`);
    for (const s of subnets) {
      const auto = s.ipv6_ra_mode === 'slaac' || s.ipv6_ra_mode === 'dhcpv6-stateless';
      lines.push(
        `   prefix ${s.cidr}`,
        '   {',
        '        AdvOnLink on;',
        `        AdvAutonomous ${auto ? 'on' : 'off'};`,
        '   };',
      );
    }
    lines.push('};');
    blocks.push(lines.join('\n'));
  }
  return blocks.length ? `${blocks.join('\n')}\n` : null;
}

export class Routers {
  constructor(
    private hostNs: string | undefined,
    /** Where each router's radvd files go (`<dir>/<router>/`). */
    private stateDir = '',
  ) {}

  private radvdDir(routerId: string) {
    return path.join(this.stateDir, routerId);
  }

  /** Starts, reloads (SIGHUP) or stops the router's radvd so that it sends what radvdConfig says. */
  private async syncRadvd(r: RouterInfo, ns: string): Promise<void> {
    if (!this.stateDir) return;
    const dir = this.radvdDir(r.id);
    const conf = path.join(dir, 'radvd.conf');
    const pidFile = path.join(dir, 'radvd.pid');
    const want = r.admin_state_up ? radvdConfig(r) : null;
    let pid = 0;
    try {
      pid = Number(fs.readFileSync(pidFile, 'utf8').trim()) || 0;
    } catch {
      // not running
    }
    const alive = processAlive(pid, 'radvd');
    if (!want) {
      if (alive) process.kill(pid, 'SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
      return;
    }
    fs.mkdirSync(dir, { recursive: true });
    const before = fs.existsSync(conf) ? fs.readFileSync(conf, 'utf8') : '';
    if (alive && before === want) return;
    fs.writeFileSync(conf, want);
    if (alive) {
      process.kill(pid, 'SIGHUP');
      return;
    }
    await startDaemon(
      ns,
      ['radvd', '-C', conf, '-p', pidFile, '-m', 'logfile', '-l', path.join(dir, 'radvd.log')],
      path.join(dir, 'stderr'),
    );
  }

  /** Forgets a removed router's radvd files (its process went with the namespace). */
  removed(routerId: string): void {
    if (this.stateDir) fs.rmSync(this.radvdDir(routerId), { recursive: true, force: true });
  }

  async sync(r: RouterInfo): Promise<void> {
    const ns = routerNamespace(r.id);
    await ensureNamespace(ns, {
      'net.ipv4.ip_forward': '1',
      'net.ipv4.conf.all.rp_filter': '0',
      'net.ipv6.conf.all.forwarding': '1',
    });
    const wanted = new Map<string, RouterPortView>();
    for (const p of r.interfaces) wanted.set(qrName(p.id), p);
    if (r.gw_port) wanted.set(qgName(r.gw_port.id), r.gw_port);
    for (const [name, p] of wanted) {
      const mtu = Number(p.mtu ?? p.network_mtu ?? 1500);
      await ensureVeth(this.hostNs, tapName(p.id), ns, name, p.mac_address, mtu);
      const cidrs = cidrsOf(p);
      if (name.startsWith('qg-')) cidrs.push(...floatingAddresses(r));
      await setAddresses(ns, name, cidrs);
    }
    // Ports that left the router.
    for (const name of (await links(ns)).keys()) {
      if ((name.startsWith('qr-') || name.startsWith('qg-')) && !wanted.has(name))
        await ip(ns, ['link', 'del', name], true);
    }
    // Routes: the default via the external gateway, the extra routes.
    const gwSubnet = r.gw_port ? subnetsOf(r.gw_port).find((s) => s.gateway_ip && v4(s.gateway_ip)) : undefined;
    if (gwSubnet?.gateway_ip && r.gw_port)
      await ip(ns, ['route', 'replace', 'default', 'via', gwSubnet.gateway_ip, 'dev', qgName(r.gw_port.id)], true);
    else await ip(ns, ['route', 'del', 'default'], true);
    const extra = r.routes.filter((x) => v4(x.destination));
    const have = (await ip(ns, ['-4', 'route', 'show', 'proto', 'static'], true)).split('\n').filter(Boolean);
    for (const line of have) {
      const dst = line.split(' ')[0]!;
      if (dst !== 'default' && !extra.some((x) => x.destination === dst || x.destination.replace(/\/32$/, '') === dst))
        await ip(ns, ['route', 'del', dst], true);
    }
    for (const x of extra) await ip(ns, ['route', 'replace', x.destination, 'via', x.nexthop, 'proto', 'static'], true);
    await run(['iptables-legacy-restore'], { ns, input: natTable(r) });
    await this.syncRadvd(r, ns);
  }
}
