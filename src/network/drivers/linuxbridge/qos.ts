// DSCP marking as upstream's Linux bridge agent QoS driver (qos_driver.py): the packets a guest
// sends (`--physdev-in tap…`, bridged) get the port's DSCP mark in the mangle table's POSTROUTING
// of the host's namespace. One chain of Stratus's own (`stratus-qos`, hooked from POSTROUTING)
// written whole with `iptables-restore --noflush` (only that chain is replaced), for IPv4 and IPv6.
// Upstream makes a chain per port (`qos-o<port>`); one flat chain of `-j DSCP` rules does the same.
// The same chain polices what a guest sends (`egress` bandwidth limits): upstream polices the tap's
// ingress with tc's police action, which this kernel lacks (measured); iptables' hashlimit in byte
// mode drops what goes above the rate after the burst (a token bucket, as police), ahead of the marks.
import { run } from '../../../core/hostns.ts';
import { tapName } from './ip.ts';

export const QOS_CHAIN = 'stratus-qos';
const TOOLS = {
  4: { restore: 'iptables-legacy-restore', cmd: 'iptables-legacy' },
  6: { restore: 'ip6tables-legacy-restore', cmd: 'ip6tables-legacy' },
} as const;

/** A guest's `egress` bandwidth limit: kilobits per second and the burst in kilobits (0: 80 % of the rate). */
export interface EgressLimit {
  max_kbps: number;
  max_burst_kbps: number;
}

/** hashlimit's rate and burst in bytes (its burst may not be under one second of the rate). */
export function policeBytes(l: EgressLimit): { rate: number; burst: number } {
  const rate = Math.max(1, Math.round((l.max_kbps * 1000) / 8));
  // Upstream's default burst: 80 % of the rate.
  const burstKbit = l.max_burst_kbps || Math.max(1, Math.round(l.max_kbps * 0.8));
  return { rate, burst: Math.max(rate, Math.round((burstKbit * 1000) / 8)) };
}

/** The mangle table's input for these ports' marks (port id → DSCP mark) and egress limits: pure, for the tests. */
export function dscpTable(
  marks: ReadonlyMap<string, number>,
  limits: ReadonlyMap<string, EgressLimit> = new Map(),
): string {
  const lines = ['*mangle', `:${QOS_CHAIN} - [0:0]`];
  for (const [portId, l] of [...limits].sort(([a], [b]) => a.localeCompare(b))) {
    const { rate, burst } = policeBytes(l);
    lines.push(
      `-A ${QOS_CHAIN} -m physdev --physdev-in ${tapName(portId)} --physdev-is-bridged -m hashlimit ` +
        `--hashlimit-above ${rate}b/s --hashlimit-burst ${burst}b --hashlimit-name q${portId.slice(0, 11)} -j DROP`,
    );
  }
  for (const [portId, mark] of [...marks].sort(([a], [b]) => a.localeCompare(b)))
    lines.push(
      `-A ${QOS_CHAIN} -m physdev --physdev-in ${tapName(portId)} --physdev-is-bridged -j DSCP --set-dscp ${mark}`,
    );
  lines.push('COMMIT', '');
  return lines.join('\n');
}

/** Writes the marks and limits into the host namespace (`ns`; undefined: the root namespace of a real host). */
export async function applyDscp(
  ns: string | undefined,
  marks: ReadonlyMap<string, number>,
  limits: ReadonlyMap<string, EgressLimit> = new Map(),
): Promise<void> {
  const table = dscpTable(marks, limits);
  for (const v of [4, 6] as const) {
    const t = TOOLS[v];
    await run([t.restore, '--noflush'], { ns, input: table });
    const present = await run([t.cmd, '-t', 'mangle', '-C', 'POSTROUTING', '-j', QOS_CHAIN], { ns })
      .then(() => true)
      .catch(() => false);
    if (!present) await run([t.cmd, '-t', 'mangle', '-I', 'POSTROUTING', '1', '-j', QOS_CHAIN], { ns });
  }
}
