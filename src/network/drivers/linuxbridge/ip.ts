// Naming (as upstream's linuxbridge agent and os-vif name things) and the `ip` calls the
// linuxbridge data plane makes, always inside a namespace Stratus owns.
import { run } from '../../../core/hostns.ts';
import { normalizeIp } from '../../../core/netaddr.ts';

/** `brq` + the network id's first 11 characters. */
export const bridgeName = (networkId: string) => `brq${networkId.slice(0, 11)}`;
/** `tap` + the port id's first 11 characters (the host side of every port, VM or agent). */
export const tapName = (portId: string) => `tap${portId.slice(0, 11)}`;
export const vxlanName = (vni: number) => `vxlan-${vni}`;
export const dhcpNamespace = (networkId: string) => `qdhcp-${networkId}`;
export const routerNamespace = (routerId: string) => `qrouter-${routerId}`;

/** `ip` in a namespace (undefined: the namespace of this process). */
export function ip(ns: string | undefined, args: string[], allowFail = false): Promise<string> {
  return run(ns ? ['ip', '-n', ns, ...args] : ['ip', ...args], { allowFail });
}

/** The links of a namespace by name (one `ip -o link` call). */
export async function links(
  ns: string | undefined,
  only?: string,
): Promise<Map<string, { master?: string; up: boolean }>> {
  const out = await ip(ns, ['-o', 'link', 'show', ...(only ? ['dev', only] : [])], true);
  const m = new Map<string, { master?: string; up: boolean }>();
  for (const line of out.split('\n')) {
    const match = /^\d+:\s+([^:@\s]+)(?:@\S+)?:\s+<([^>]*)>(.*)$/.exec(line);
    if (!match) continue;
    const master = /\bmaster (\S+)/.exec(match[3]!)?.[1];
    m.set(match[1]!, { master, up: match[2]!.split(',').includes('UP') });
  }
  return m;
}

export async function linkExists(ns: string | undefined, name: string): Promise<boolean> {
  return (await ip(ns, ['link', 'show', name], true)) !== '';
}

/** Adds a link if missing (a racing creator is not an error). */
export async function addLink(ns: string | undefined, name: string, args: string[]): Promise<boolean> {
  if (await linkExists(ns, name)) return false;
  try {
    await ip(ns, ['link', 'add', name, ...args]);
  } catch (e) {
    if (!(await linkExists(ns, name))) throw e;
  }
  return true;
}

/**
 * A veth pair between the host namespace (`hostSide`, to go in a bridge) and another namespace
 * (`inner`), made if missing: the inner side gets the port's MAC and MTU.
 */
export async function ensureVeth(
  hostNs: string | undefined,
  hostSide: string,
  innerNs: string,
  inner: string,
  mac: string,
  mtu: number,
): Promise<void> {
  if (!(await linkExists(innerNs, inner))) {
    await ip(hostNs, ['link', 'del', hostSide], true);
    await ip(hostNs, ['link', 'add', hostSide, 'type', 'veth', 'peer', 'name', inner, 'netns', innerNs]);
  }
  await ip(innerNs, ['link', 'set', inner, 'address', mac, 'mtu', String(mtu), 'up']);
  await ip(hostNs, ['link', 'set', hostSide, 'mtu', String(mtu), 'up']);
}

/** Makes a link's addresses exactly `cidrs` (e.g. 10.0.0.2/24), touching only what differs. */
export async function setAddresses(ns: string, dev: string, cidrs: string[]): Promise<void> {
  const out = await ip(ns, ['-o', 'addr', 'show', 'dev', dev, 'scope', 'global'], true);
  // Compared in one spelling (`ip` writes fd00:1:0:0::5 where the API writes fd00:1::5).
  const canon = (c: string) => {
    const [a, len] = c.split('/');
    return `${normalizeIp(a) ?? a}/${len}`;
  };
  const have = new Map<string, string>();
  for (const line of out.split('\n')) {
    const m = /\binet6? (\S+)/.exec(line);
    if (m) have.set(canon(m[1]!), m[1]!);
  }
  const want = new Set(cidrs.map(canon));
  for (const c of cidrs) if (!have.has(canon(c))) await ip(ns, ['addr', 'add', c, 'dev', dev]);
  for (const [k, c] of have) if (!want.has(k)) await ip(ns, ['addr', 'del', c, 'dev', dev], true);
}

/** The prefix length of a CIDR. */
export const prefixLen = (cidr: string) => Number(cidr.split('/')[1]);

/** The dotted netmask of an IPv4 prefix length. */
export function netmask(len: number): string {
  const n = len === 0 ? 0 : (~0 << (32 - len)) >>> 0;
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}
