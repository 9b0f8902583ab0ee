// Security groups and port security as upstream's iptables firewall driver (IptablesFirewallDriver
// with the hybrid-less Linux bridge): stateful iptables rules matched on the bridge port with
// `physdev`, in the host's namespace (whose filter table is Stratus's alone, so the whole table is
// written at once with iptables-restore, atomically), and ipsets for remote groups.
//
// Per filtered port (a port whose owner is not network:*, with port security on):
// - `i<port>` (ingress, to the guest: --physdev-out tap): the replies of the guest's own
//   connections and related ICMP back, invalid dropped, DHCP offers from the network's server,
//   then the group rules (also for the later packets of a connection opened towards the guest:
//   a rule removed stops it), else dropped;
// - `o<port>` (egress, from the guest: --physdev-in tap): DHCP requests, then anti-spoofing
//   (`s<port>`: its MAC with its fixed IPs and allowed address pairs only), no DHCP server in the
//   guest, the replies of connections opened towards the guest back, the group rules, else dropped.
// A packet between two guests of one host passes the receiver's ingress and the sender's egress.
import { run } from '../../../core/hostns.ts';
import type { SecurityGroupRuleView } from '../../views.ts';
import type { DeviceDetails, SecurityGroupInfo } from '../dataplane.ts';
import { tapName } from './ip.ts';

/** iptables-legacy: measured identical to nft here, and physdev is at home in it. */
const IPTABLES_RESTORE = { 4: 'iptables-legacy-restore', 6: 'ip6tables-legacy-restore' } as const;

const chain = (kind: 'i' | 'o' | 's', portId: string) => `${kind}${portId.slice(0, 10)}`;
/** ipset names are at most 31 characters: N + IPv4|IPv6 + the group id's first 20. */
export const ipsetName = (sgId: string, v: 4 | 6) => `NIPv${v}${sgId.slice(0, 20)}`;

const PROTO_NUM: Record<string, string> = { tcp: '6', udp: '17', icmp: '1', ipv6icmp: '58', icmpv6: '58' };

export function filtered(d: DeviceDetails): boolean {
  return d.port_security_enabled && !d.device_owner.startsWith('network:');
}

/** The iptables words of one rule's match (protocol, ports, ICMP type/code, remote prefix or group). */
function ruleMatch(r: SecurityGroupRuleView, v: 4 | 6, direction: 'ingress' | 'egress'): string[] | null {
  const m: string[] = [];
  const remote = direction === 'ingress' ? '-s' : '-d';
  // The server hands address groups over as prefixes (agent/server.ts): one left as it is
  // matches nothing here, never everything.
  if (r.remote_address_group_id) return null;
  if (r.remote_ip_prefix) m.push(remote, r.remote_ip_prefix);
  if (r.remote_group_id)
    m.push('-m', 'set', '--match-set', ipsetName(r.remote_group_id, v), direction === 'ingress' ? 'src' : 'dst');
  let proto: string | null = r.protocol ?? null;
  if (proto !== null) {
    proto = String(proto).toLowerCase();
    if (v === 6 && (proto === 'icmp' || proto === '1')) proto = 'ipv6-icmp';
    if (v === 4 && (proto === 'ipv6-icmp' || proto === 'icmpv6' || proto === '58')) return null;
    const p = PROTO_NUM[proto] ? proto : proto;
    m.push('-p', p === 'icmpv6' ? 'ipv6-icmp' : p);
    const isIcmp = ['icmp', '1', 'ipv6-icmp', '58'].includes(p);
    if (isIcmp) {
      if (r.port_range_min !== null && r.port_range_min !== undefined) {
        const t =
          r.port_range_max !== null && r.port_range_max !== undefined
            ? `${r.port_range_min}/${r.port_range_max}`
            : `${r.port_range_min}`;
        m.push(...(v === 4 ? ['-m', 'icmp', '--icmp-type', t] : ['-m', 'icmp6', '--icmpv6-type', t]));
      }
    } else if (['tcp', 'udp', 'sctp', 'dccp', '6', '17', '132', '33'].includes(p)) {
      const lo = r.port_range_min;
      const hi = r.port_range_max;
      if (lo !== null && lo !== undefined) {
        const range = hi !== null && hi !== undefined && hi !== lo ? `${lo}:${hi}` : `${lo}`;
        m.push('-m', 'multiport', '--dports', range);
      }
    }
  }
  return m;
}

/** Above this many filtered ports, the dispatch to the ports' chains goes through buckets. */
const FLAT_DISPATCH_MAX = 8;

/**
 * The rules that send a bridged frame to its ports' chains: the receiver's ingress chain
 * (`--physdev-out tap`) and the sender's egress chain (`--physdev-in tap`). Every frame walks
 * them (an unfiltered port's frames too), so with many ports a flat list costs two physdev
 * matches per port per frame (measured: ~8 % more CPU per byte with 100 ports on the host).
 * Above FLAT_DISPATCH_MAX ports the taps are bucketed by the first character of their port id
 * (`--physdev-out tap<c>+`, a wildcard match, into `sgi-<c>`/`sgo-<c>`): at most 2 × 16 bucket
 * rules plus the bucket's ports. Each frame still reaches exactly the same chains.
 */
function dispatchRules(
  ports: Array<{ tap: string; i: string; o: string }>,
  decl: string[],
  flatMax = FLAT_DISPATCH_MAX,
): string[] {
  const flat = (p: { tap: string; i: string; o: string }, chainName: string) => [
    `-A ${chainName} -m physdev --physdev-out ${p.tap} --physdev-is-bridged -j ${p.i}`,
    `-A ${chainName} -m physdev --physdev-in ${p.tap} -j ${p.o}`,
  ];
  if (ports.length <= flatMax) return ports.flatMap((p) => flat(p, 'stratus-sg-chain'));
  const buckets = new Map<string, Array<{ tap: string; i: string; o: string }>>();
  for (const p of ports) {
    const c = p.tap.charAt(3);
    buckets.set(c, [...(buckets.get(c) ?? []), p]);
  }
  const out: string[] = [];
  for (const [c, members] of buckets) {
    const [bi, bo] = [`sgi-${c}`, `sgo-${c}`];
    decl.push(`:${bi} - [0:0]`, `:${bo} - [0:0]`);
    out.push(`-A stratus-sg-chain -m physdev --physdev-out tap${c}+ --physdev-is-bridged -j ${bi}`);
    out.push(`-A stratus-sg-chain -m physdev --physdev-in tap${c}+ -j ${bo}`);
    for (const p of members) {
      out.push(`-A ${bi} -m physdev --physdev-out ${p.tap} --physdev-is-bridged -j ${p.i}`);
      out.push(`-A ${bo} -m physdev --physdev-in ${p.tap} -j ${p.o}`);
    }
  }
  return out;
}

export interface FirewallPlan {
  /** iptables-restore input per IP version. */
  tables: Record<4 | 6, string>;
  /** ipset name → member addresses. */
  ipsets: Map<string, string[]>;
}

/** The rules of a host's ports: pure, so that tests can read them. */
export function firewallPlan(
  info: SecurityGroupInfo,
  memberIps: Record<string, string[]>,
  /** The most ports dispatched by a flat list (the bench compares with Infinity: a flat list always). */
  flatDispatchMax = FLAT_DISPATCH_MAX,
  /**
   * Upstream's shape (the bench compares with it): every packet of an established connection, in
   * either direction, returns at the chain's first rule. Without deleting the conntrack entries of
   * a removed rule (upstream's `conntrack -D`; not possible here, see README) a removed rule would
   * not stop a connection already open, so the driver never asks for it.
   */
  earlyEstablished = false,
): FirewallPlan {
  const established = earlyEstablished
    ? ['-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN']
    : ['-m conntrack --ctstate ESTABLISHED --ctdir REPLY -j RETURN', '-m conntrack --ctstate RELATED -j RETURN'];
  const devices = Object.values(info.devices)
    .filter(filtered)
    .sort((a, b) => a.port_id.localeCompare(b.port_id));
  const ipsets = new Map<string, string[]>();
  const tables = {} as Record<4 | 6, string>;
  for (const v of [4, 6] as const) {
    const ethertype = `IPv${v}`;
    const decl: string[] = [
      '*filter',
      ':INPUT ACCEPT [0:0]',
      ':FORWARD ACCEPT [0:0]',
      ':OUTPUT ACCEPT [0:0]',
      ':stratus-sg-chain - [0:0]',
    ];
    const rules: string[] = ['-A FORWARD -j stratus-sg-chain', '-A INPUT -j stratus-sg-chain'];
    const chainRules: string[] = [];
    const dispatch: Array<{ tap: string; i: string; o: string }> = [];
    for (const d of devices) {
      const tap = tapName(d.port_id);
      const [i, o, s] = [chain('i', d.port_id), chain('o', d.port_id), chain('s', d.port_id)];
      decl.push(`:${i} - [0:0]`, `:${o} - [0:0]`, `:${s} - [0:0]`);
      dispatch.push({ tap, i, o });
      // ingress
      // Only the replies of the guest's own connections (and related ICMP errors) come back
      // unchecked; the packets of connections opened towards the guest walk the rules every
      // time, so a rule removed stops an established connection at once (as upstream's firewall
      // deleting the conntrack entries of a removed rule; re-added, the connection goes on).
      for (const e of established) rules.push(`-A ${i} ${e}`);
      rules.push(`-A ${i} -m conntrack --ctstate INVALID -j DROP`);
      if (v === 4) rules.push(`-A ${i} -p udp --sport 67 --dport 68 -j RETURN`);
      else rules.push(`-A ${i} -p ipv6-icmp -j RETURN`, `-A ${i} -p udp --sport 547 --dport 546 -j RETURN`);
      // egress: DHCP and neighbour discovery before the anti-spoofing
      if (v === 4) rules.push(`-A ${o} -s 0.0.0.0/32 -d 255.255.255.255/32 -p udp --sport 68 --dport 67 -j RETURN`);
      else
        rules.push(
          `-A ${o} -p ipv6-icmp -m icmp6 --icmpv6-type 133 -j RETURN`,
          `-A ${o} -p ipv6-icmp -m icmp6 --icmpv6-type 135 -j RETURN`,
          `-A ${o} -p ipv6-icmp -m icmp6 --icmpv6-type 136 -j RETURN`,
          `-A ${o} -p udp --sport 546 --dport 547 -j RETURN`,
        );
      rules.push(`-A ${o} -j ${s}`);
      const pairs: Array<[string, string]> = [];
      for (const f of d.fixed_ips)
        if (f.ip_address.includes(':') === (v === 6)) pairs.push([f.ip_address, d.mac_address]);
      if (v === 6) pairs.push([`fe80::/64`, d.mac_address]);
      for (const a of d.allowed_address_pairs)
        if (a.ip_address.includes(':') === (v === 6)) pairs.push([a.ip_address, a.mac_address || d.mac_address]);
      for (const [addr, mac] of pairs) rules.push(`-A ${s} -s ${addr} -m mac --mac-source ${mac} -j RETURN`);
      rules.push(`-A ${s} -j DROP`);
      if (v === 4) rules.push(`-A ${o} -p udp --sport 67 --dport 68 -j DROP`);
      else
        rules.push(
          `-A ${o} -p udp --sport 547 --dport 546 -j DROP`,
          `-A ${o} -p ipv6-icmp -m icmp6 --icmpv6-type 134 -j DROP`,
        );
      for (const e of established) rules.push(`-A ${o} ${e}`);
      rules.push(`-A ${o} -m conntrack --ctstate INVALID -j DROP`);
      for (const g of d.security_groups) {
        for (const r of info.security_groups[g] ?? []) {
          if (r.ethertype !== ethertype) continue;
          const dir = r.direction === 'egress' ? 'egress' : 'ingress';
          const m = ruleMatch(r, v, dir);
          if (!m) continue;
          if (r.remote_group_id) {
            const name = ipsetName(r.remote_group_id, v);
            ipsets.set(
              name,
              (memberIps[r.remote_group_id] ?? []).filter((a) => a.includes(':') === (v === 6)),
            );
          }
          rules.push(`-A ${dir === 'ingress' ? i : o} ${m.join(' ')} -j RETURN`);
        }
      }
      rules.push(`-A ${i} -j DROP`, `-A ${o} -j DROP`);
    }
    chainRules.push(...dispatchRules(dispatch, decl, flatDispatchMax));
    chainRules.push('-A stratus-sg-chain -j ACCEPT');
    tables[v] = `${[...decl, ...rules, ...chainRules, 'COMMIT'].join('\n')}\n`;
  }
  return { tables, ipsets };
}

/** Applies a plan in a namespace: the ipsets first (the rules name them), then both tables. */
export async function applyFirewall(ns: string | undefined, plan: FirewallPlan): Promise<void> {
  const existing = new Set(
    (await run(['ipset', 'list', '-n'], { ns, allowFail: true })).split('\n').filter((n) => n.startsWith('NIPv')),
  );
  const lines: string[] = [];
  for (const [name, members] of plan.ipsets) {
    const family = name.startsWith('NIPv6') ? 'inet6' : 'inet';
    const tmp = `${name.slice(0, 27)}-new`;
    lines.push(`create ${tmp} hash:net family ${family} -exist`, `flush ${tmp}`);
    for (const a of members) lines.push(`add ${tmp} ${a} -exist`);
    lines.push(`create ${name} hash:net family ${family} -exist`, `swap ${tmp} ${name}`, `destroy ${tmp}`);
  }
  if (lines.length) await run(['ipset', 'restore'], { ns, input: `${lines.join('\n')}\n` });
  for (const v of [4, 6] as const) await run([IPTABLES_RESTORE[v]], { ns, input: plan.tables[v] });
  // Sets no rule names any more go after the rules that named them.
  for (const name of existing)
    if (!plan.ipsets.has(name)) await run(['ipset', 'destroy', name], { ns, allowFail: true });
}

/** Empties the filter tables and the ipsets this driver made in a namespace. */
export async function clearFirewall(ns: string | undefined): Promise<void> {
  await applyFirewall(ns, firewallPlan({ security_groups: {}, devices: {} }, {}));
}
