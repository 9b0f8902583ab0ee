// Metering in the router namespaces, as upstream's metering agent with its iptables driver: per
// label that applies to a router, a rules chain (`meter-r-<label>`, jumped to from FORWARD
// through `stratus-meter`) whose rules send the label's traffic through the gateway device
// (`qg-<port>`: ingress in, egress out, matched on the remote / source / destination prefixes;
// excluded rules first, returning) to a counting chain (`meter-l-<label>`, one empty rule whose
// packet and byte counters are the label's). The filter table of a router namespace is the
// metering's alone (the router's own rules are in its nat table): written whole when the labels
// change, its counters read and zeroed first (`iptables -L -v -x -Z`) so that nothing counted is
// lost. IPv4 only (IPv6 prefixes are left out).
import { namespaceExists, run } from '../../../core/hostns.ts';
import type { MeteringCounter, MeteringRouterInfo, MeteringRuleInfo } from '../dataplane.ts';
import { routerNamespace } from './ip.ts';
import { qgName } from './router.ts';

/** iptables chain names are at most 28 characters. */
export const labelChain = (labelId: string) => `meter-l-${labelId.slice(0, 20)}`;
export const rulesChain = (labelId: string) => `meter-r-${labelId.slice(0, 20)}`;
const TOP = 'stratus-meter';
const v4 = (cidr: string | null): cidr is string => !!cidr && !cidr.includes(':');

function ruleMatch(r: MeteringRuleInfo, qg: string): string | null {
  const m: string[] = [r.direction === 'egress' ? `-o ${qg}` : `-i ${qg}`];
  for (const c of [r.remote_ip_prefix, r.source_ip_prefix, r.destination_ip_prefix]) if (c && !v4(c)) return null;
  // remote_ip_prefix is the far side: the destination of egress traffic, the source of ingress.
  if (v4(r.remote_ip_prefix))
    m.push(r.direction === 'egress' ? `-d ${r.remote_ip_prefix}` : `-s ${r.remote_ip_prefix}`);
  if (v4(r.source_ip_prefix)) m.push(`-s ${r.source_ip_prefix}`);
  if (v4(r.destination_ip_prefix)) m.push(`-d ${r.destination_ip_prefix}`);
  return m.join(' ');
}

/** The router namespace's filter table for its labels: pure, so that tests can read it. */
export function meteringTable(r: MeteringRouterInfo): string {
  const decl = ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', `:${TOP} - [0:0]`];
  const rules = [`-A FORWARD -j ${TOP}`];
  if (r.gw_port_id && r.admin_state_up) {
    const qg = qgName(r.gw_port_id);
    for (const l of r.labels) {
      const [lc, rc] = [labelChain(l.id), rulesChain(l.id)];
      decl.push(`:${rc} - [0:0]`, `:${lc} - [0:0]`);
      rules.push(`-A ${TOP} -j ${rc}`, `-A ${lc}`);
      const ordered = [...l.rules.filter((x) => x.excluded), ...l.rules.filter((x) => !x.excluded)];
      for (const x of ordered) {
        const m = ruleMatch(x, qg);
        if (m) rules.push(`-A ${rc} ${m} -j ${x.excluded ? 'RETURN' : lc}`);
      }
    }
  }
  return `${[...decl, ...rules, 'COMMIT'].join('\n')}\n`;
}

/** The counting chains' counters in `iptables -L -n -v -x` output: chain → [packets, bytes]. */
export function parseCounters(out: string): Map<string, [number, number]> {
  const m = new Map<string, [number, number]>();
  let chain = '';
  for (const line of out.split('\n')) {
    const c = /^Chain (\S+)/.exec(line);
    if (c) {
      chain = c[1]!;
      continue;
    }
    const n = /^\s*(\d+)\s+(\d+)\s/.exec(line);
    if (n && chain.startsWith('meter-l-') && !m.has(chain)) m.set(chain, [Number(n[1]), Number(n[2])]);
  }
  return m;
}

export class Metering {
  /** Per router: the table written and its counting chains' labels. */
  private applied = new Map<string, { table: string; labels: Map<string, string> }>();
  /** Counted and not yet handed out: `router|label` → counters. */
  private pending = new Map<string, MeteringCounter>();

  private add(routerId: string, labelId: string, pkts: number, bytes: number) {
    if (!pkts && !bytes) return;
    const k = `${routerId}|${labelId}`;
    const c = this.pending.get(k) ?? { router_id: routerId, label_id: labelId, pkts: 0, bytes: 0 };
    c.pkts += pkts;
    c.bytes += bytes;
    this.pending.set(k, c);
  }

  /** Reads and zeroes a router's counters into pending; answers whether its metering chains are there. */
  private async collect(routerId: string): Promise<boolean> {
    const ns = routerNamespace(routerId);
    const out = await run(['iptables-legacy', '-w', '-t', 'filter', '-L', '-n', '-v', '-x', '-Z'], {
      ns,
      allowFail: true,
    });
    const labels = this.applied.get(routerId)?.labels;
    if (labels)
      for (const [chain, [p, b]] of parseCounters(out)) {
        const label = labels.get(chain);
        if (label) this.add(routerId, label, p, b);
      }
    return out.includes(`Chain ${TOP} `);
  }

  async sync(routers: MeteringRouterInfo[]): Promise<void> {
    const seen = new Set<string>();
    for (const r of routers) {
      // A router without labels that was never metered here costs nothing (no iptables call).
      if (!r.labels.length && !this.applied.has(r.id)) continue;
      if (!(await namespaceExists(routerNamespace(r.id)))) continue;
      seen.add(r.id);
      const table = meteringTable(r);
      const live = await this.collect(r.id);
      if (live && this.applied.get(r.id)?.table === table) continue;
      await run(['iptables-legacy-restore'], { ns: routerNamespace(r.id), input: table });
      const labels = new Map(r.gw_port_id && r.admin_state_up ? r.labels.map((l) => [labelChain(l.id), l.id]) : []);
      this.applied.set(r.id, { table, labels });
    }
    for (const id of this.applied.keys()) if (!seen.has(id)) this.applied.delete(id);
  }

  /** The counters since the last call (read now), zeroed. */
  async counters(): Promise<MeteringCounter[]> {
    for (const id of this.applied.keys()) await this.collect(id);
    const out = [...this.pending.values()];
    this.pending.clear();
    return out;
  }
}
