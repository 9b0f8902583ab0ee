// DSCP marking as upstream's Linux bridge agent QoS driver (qos_driver.py): the packets a guest
// sends (`--physdev-in tap…`, bridged) get the port's DSCP mark in the mangle table's POSTROUTING
// of the host's namespace. One chain of Stratus's own (`stratus-qos`, hooked from POSTROUTING)
// written whole with `iptables-restore --noflush` (only that chain is replaced), for IPv4 and IPv6.
// Upstream makes a chain per port (`qos-o<port>`); one flat chain of `-j DSCP` rules does the same.
import { run } from '../../../core/hostns.ts';
import { tapName } from './ip.ts';

export const QOS_CHAIN = 'stratus-qos';
const TOOLS = {
  4: { restore: 'iptables-legacy-restore', cmd: 'iptables-legacy' },
  6: { restore: 'ip6tables-legacy-restore', cmd: 'ip6tables-legacy' },
} as const;

/** The mangle table's input for these ports' marks (port id → DSCP mark): pure, for the tests. */
export function dscpTable(marks: ReadonlyMap<string, number>): string {
  const lines = ['*mangle', `:${QOS_CHAIN} - [0:0]`];
  for (const [portId, mark] of [...marks].sort(([a], [b]) => a.localeCompare(b)))
    lines.push(
      `-A ${QOS_CHAIN} -m physdev --physdev-in ${tapName(portId)} --physdev-is-bridged -j DSCP --set-dscp ${mark}`,
    );
  lines.push('COMMIT', '');
  return lines.join('\n');
}

/** Writes the marks into the host namespace (`ns`; undefined: the root namespace of a real host). */
export async function applyDscp(ns: string | undefined, marks: ReadonlyMap<string, number>): Promise<void> {
  const table = dscpTable(marks);
  for (const v of [4, 6] as const) {
    const t = TOOLS[v];
    await run([t.restore, '--noflush'], { ns, input: table });
    const present = await run([t.cmd, '-t', 'mangle', '-C', 'POSTROUTING', '-j', QOS_CHAIN], { ns })
      .then(() => true)
      .catch(() => false);
    if (!present) await run([t.cmd, '-t', 'mangle', '-I', 'POSTROUTING', '1', '-j', QOS_CHAIN], { ns });
  }
}
