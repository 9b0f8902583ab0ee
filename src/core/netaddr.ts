// IP address, CIDR, range and MAC arithmetic for the network service.
//
// Behaviour follows what Neutron gets from netaddr / glibc / neutron-lib
// (Zed): the strings we accept are the strings Neutron accepts, and the
// strings we print are the strings Neutron prints. Addresses are bigints so
// IPv4 and IPv6 share one code path.

import { randomInt } from 'node:crypto';

export type IpVersion = 4 | 6;

export interface IpAddress {
  version: IpVersion;
  value: bigint;
}

export interface Cidr {
  version: IpVersion;
  /** The network address: host bits are always zero. */
  network: bigint;
  prefixlen: number;
}

export interface IpRange {
  version: IpVersion;
  first: bigint;
  last: bigint;
}

export function ipBits(version: IpVersion): 32 | 128 {
  return version === 4 ? 32 : 128;
}

export function maxIp(version: IpVersion): bigint {
  return (1n << BigInt(ipBits(version))) - 1n;
}

// ---------------------------------------------------------------------------
// Addresses

const DEC_OCTET = /^(?:0|[1-9][0-9]{0,2})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

// Dotted quad only, each octet decimal without leading zeros: neutron-lib's
// validate_ip_address rejects '01.2.3.4' (octal ambiguity), and glibc's
// inet_pton rejects it inside an IPv6 tail too.
function parseIpv4(s: string): bigint | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  let v = 0n;
  for (const p of parts) {
    if (!DEC_OCTET.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

// The grammar of glibc inet_pton(AF_INET6), which is what netaddr uses.
function parseIpv6(s: string): bigint | null {
  if (s.length < 2 || s.length > 45) return null;
  let head = s;
  let v4tail: bigint | null = null;
  const lastColon = s.lastIndexOf(':');
  if (s.indexOf('.', lastColon) !== -1) {
    v4tail = parseIpv4(s.slice(lastColon + 1));
    if (v4tail === null) return null;
    // Drop the colon before the IPv4 part unless it belongs to a '::'
    // ('::1.2.3.4' keeps '::', 'a:b:c:d:e:f:1.2.3.4' keeps 'a:b:c:d:e:f').
    head = s.slice(0, lastColon + 1);
    if (!head.endsWith('::')) head = head.slice(0, -1);
    if (head === '') return null; // ':1.2.3.4'
  }
  const maxGroups = v4tail === null ? 8 : 6;
  const dbl = head.indexOf('::');
  let groups: string[];
  if (dbl === -1) {
    groups = head.split(':');
    if (groups.length !== maxGroups) return null;
  } else {
    if (head.indexOf('::', dbl + 1) !== -1) return null;
    const left = head.slice(0, dbl);
    const right = head.slice(dbl + 2);
    const l = left === '' ? [] : left.split(':');
    const r = right === '' ? [] : right.split(':');
    // '::' must stand for at least one zero group.
    if (l.length + r.length > maxGroups - 1) return null;
    groups = [...l, ...Array<string>(maxGroups - l.length - r.length).fill('0'), ...r];
  }
  let v = 0n;
  for (const g of groups) {
    if (!HEX_GROUP.test(g)) return null;
    v = (v << 16n) | BigInt(parseInt(g, 16));
  }
  if (v4tail !== null) v = (v << 32n) | v4tail;
  return v;
}

/** Parses an IPv4 or IPv6 address; null for anything Neutron would reject. */
export function parseIp(s: unknown): IpAddress | null {
  if (typeof s !== 'string') return null;
  if (s.includes(':')) {
    const v = parseIpv6(s);
    return v === null ? null : { version: 6, value: v };
  }
  const v = parseIpv4(s);
  return v === null ? null : { version: 4, value: v };
}

function formatIpv4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((sh) => String((value >> sh) & 0xffn)).join('.');
}

// glibc inet_ntop(AF_INET6), which is what str(netaddr.IPAddress) prints:
// RFC 5952 compression (longest zero run of 2+ groups, first on a tie,
// lower-case hex), plus the dotted IPv4 tail for IPv4-compatible (::a.b.c.d,
// six leading zero groups) and IPv4-mapped (::ffff:a.b.c.d) addresses.
function formatIpv6(value: bigint): string {
  const words: number[] = [];
  for (let i = 7; i >= 0; i--) words.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  let bestBase = -1;
  let bestLen = 0;
  let curBase = -1;
  let curLen = 0;
  for (let i = 0; i < 8; i++) {
    if (words[i] === 0) {
      if (curBase === -1) {
        curBase = i;
        curLen = 1;
      } else {
        curLen++;
      }
      if (curLen > bestLen) {
        bestBase = curBase;
        bestLen = curLen;
      }
    } else {
      curBase = -1;
      curLen = 0;
    }
  }
  if (bestLen < 2) bestBase = -1;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (bestBase !== -1 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    if (i === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 5 && words[5] === 0xffff))) {
      out += formatIpv4(value & 0xffffffffn);
      return out;
    }
    out += words[i]!.toString(16);
  }
  if (bestBase !== -1 && bestBase + bestLen === 8) out += ':';
  return out;
}

export function formatIp(version: IpVersion, value: bigint): string {
  if (value < 0n || value > maxIp(version)) {
    throw new RangeError(`${value} is not an IPv${version} address value`);
  }
  return version === 4 ? formatIpv4(value) : formatIpv6(value);
}

export function isValidIp(s: unknown, version?: IpVersion): boolean {
  const ip = parseIp(s);
  return ip !== null && (version === undefined || ip.version === version);
}

/** The canonical form of an address string, or null when it is not one. */
export function normalizeIp(s: unknown): string | null {
  const ip = parseIp(s);
  return ip === null ? null : formatIp(ip.version, ip.value);
}

/** Orders by version, then by value. Bare bigints compare by value only. */
export function compareIp(a: IpAddress | bigint, b: IpAddress | bigint): number {
  if (typeof a !== 'bigint' && typeof b !== 'bigint' && a.version !== b.version) {
    return a.version - b.version;
  }
  const av = typeof a === 'bigint' ? a : a.value;
  const bv = typeof b === 'bigint' ? b : b.value;
  return av < bv ? -1 : av > bv ? 1 : 0;
}

// An address given as a bigint carries no version: it is taken to be of the
// version of whatever it is compared against.
function sameVersion(ip: IpAddress | bigint, version: IpVersion): boolean {
  return typeof ip === 'bigint' || ip.version === version;
}

function valueOf(ip: IpAddress | bigint): bigint {
  return typeof ip === 'bigint' ? ip : ip.value;
}

// ---------------------------------------------------------------------------
// CIDRs

function hostMask(version: IpVersion, prefixlen: number): bigint {
  return (1n << BigInt(ipBits(version) - prefixlen)) - 1n;
}

/** A Cidr from any address inside it (host bits are cleared). */
export function makeCidr(version: IpVersion, address: bigint, prefixlen: number): Cidr {
  if (!Number.isInteger(prefixlen) || prefixlen < 0 || prefixlen > ipBits(version)) {
    throw new RangeError(`invalid IPv${version} prefix length ${prefixlen}`);
  }
  if (address < 0n || address > maxIp(version)) {
    throw new RangeError(`${address} is not an IPv${version} address value`);
  }
  return { version, network: address & ~hostMask(version, prefixlen), prefixlen };
}

const PREFIXLEN = /^(?:0|[1-9][0-9]{0,2})$/;

interface RawCidr {
  ip: IpAddress;
  prefixlen: number;
}

function parseRawCidr(s: unknown, allowBareIp: boolean): RawCidr | null {
  if (typeof s !== 'string') return null;
  const slash = s.indexOf('/');
  if (slash === -1) {
    if (!allowBareIp) return null;
    const ip = parseIp(s);
    return ip === null ? null : { ip, prefixlen: ipBits(ip.version) };
  }
  const ip = parseIp(s.slice(0, slash));
  const pl = s.slice(slash + 1);
  if (ip === null || !PREFIXLEN.test(pl)) return null;
  const prefixlen = Number(pl);
  if (prefixlen > ipBits(ip.version)) return null;
  return { ip, prefixlen };
}

/**
 * Parses 'address/prefixlen'. Host bits are allowed and cleared, as Neutron
 * does for a subnet's cidr ('10.0.0.1/24' is stored as '10.0.0.0/24').
 * With allowBareIp, a lone address is a host route (/32 or /128).
 */
export function parseCidr(s: unknown, opts: { allowBareIp?: boolean } = {}): Cidr | null {
  const raw = parseRawCidr(s, opts.allowBareIp ?? false);
  return raw === null ? null : makeCidr(raw.ip.version, raw.ip.value, raw.prefixlen);
}

/** Like parseCidr, but null when the address has host bits set. */
export function parseCidrStrict(s: unknown, opts: { allowBareIp?: boolean } = {}): Cidr | null {
  const raw = parseRawCidr(s, opts.allowBareIp ?? false);
  if (raw === null) return null;
  if ((raw.ip.value & hostMask(raw.ip.version, raw.prefixlen)) !== 0n) return null;
  return makeCidr(raw.ip.version, raw.ip.value, raw.prefixlen);
}

/** True when s is a valid CIDR whose address has host bits set ('10.0.0.1/24'). */
export function cidrHasHostBits(s: unknown): boolean {
  const raw = parseRawCidr(s, false);
  return raw !== null && (raw.ip.value & hostMask(raw.ip.version, raw.prefixlen)) !== 0n;
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.version, c.network)}/${c.prefixlen}`;
}

export function cidrSize(c: Cidr): bigint {
  return 1n << BigInt(ipBits(c.version) - c.prefixlen);
}

/** The network address. */
export function cidrFirst(c: Cidr): bigint {
  return c.network;
}

/** The last address (the broadcast address for IPv4). */
export function cidrLast(c: Cidr): bigint {
  return c.network | hostMask(c.version, c.prefixlen);
}

export function cidrNetmask(c: Cidr): bigint {
  return maxIp(c.version) & ~hostMask(c.version, c.prefixlen);
}

export function cidrToRange(c: Cidr): IpRange {
  return { version: c.version, first: cidrFirst(c), last: cidrLast(c) };
}

export function cidrContains(c: Cidr, ip: IpAddress | bigint): boolean {
  const v = valueOf(ip);
  return sameVersion(ip, c.version) && v >= cidrFirst(c) && v <= cidrLast(c);
}

export function cidrContainsCidr(outer: Cidr, inner: Cidr): boolean {
  return (
    outer.version === inner.version &&
    outer.prefixlen <= inner.prefixlen &&
    cidrFirst(inner) >= cidrFirst(outer) &&
    cidrLast(inner) <= cidrLast(outer)
  );
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return rangesOverlap(cidrToRange(a), cidrToRange(b));
}

// ---------------------------------------------------------------------------
// Ranges

/** null when either end is invalid, the versions differ, or start > end. */
export function rangeFromStrings(start: unknown, end: unknown): IpRange | null {
  const a = parseIp(start);
  const b = parseIp(end);
  if (a === null || b === null || a.version !== b.version || a.value > b.value) return null;
  return { version: a.version, first: a.value, last: b.value };
}

export function rangeToStrings(r: IpRange): { start: string; end: string } {
  return { start: formatIp(r.version, r.first), end: formatIp(r.version, r.last) };
}

export function rangeSize(r: IpRange): bigint {
  return r.last - r.first + 1n;
}

export function rangesOverlap(a: IpRange, b: IpRange): boolean {
  return a.version === b.version && a.first <= b.last && b.first <= a.last;
}

export function rangeContains(r: IpRange, ip: IpAddress | bigint): boolean {
  const v = valueOf(ip);
  return sameVersion(ip, r.version) && v >= r.first && v <= r.last;
}

export function ipInRanges(ip: IpAddress | bigint, ranges: readonly IpRange[]): boolean {
  return ranges.some((r) => rangeContains(r, ip));
}

/** The range as the fewest CIDRs (largest aligned blocks), in address order. */
export function rangeToCidrs(r: IpRange): Cidr[] {
  const bits = ipBits(r.version);
  const out: Cidr[] = [];
  let first = r.first;
  while (first <= r.last) {
    let plen = 0;
    // Shrink until the block is aligned on `first` and ends within the range.
    while ((first & hostMask(r.version, plen)) !== 0n || first + hostMask(r.version, plen) > r.last) {
      plen++;
    }
    out.push({ version: r.version, network: first, prefixlen: plen });
    first += 1n << BigInt(bits - plen);
  }
  return out;
}

// Sorted, merged (adjacent and overlapping joined) ranges of one version.
function mergeRanges(ranges: readonly IpRange[]): IpRange[] {
  const sorted = [...ranges].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  const out: IpRange[] = [];
  for (const r of sorted) {
    const top = out[out.length - 1];
    if (top && r.first <= top.last + 1n) {
      if (r.last > top.last) top.last = r.last;
    } else {
      out.push({ ...r });
    }
  }
  return out;
}

// `from` minus `remove`; both merged and sorted, same version.
function subtractRanges(from: readonly IpRange[], remove: readonly IpRange[]): IpRange[] {
  const out: IpRange[] = [];
  let j = 0;
  for (const r of from) {
    let first = r.first;
    while (j < remove.length && remove[j]!.last < first) j++;
    let k = j;
    while (k < remove.length && remove[k]!.first <= r.last) {
      const cut = remove[k]!;
      if (cut.first > first) out.push({ version: r.version, first, last: cut.first - 1n });
      if (cut.last >= r.last) {
        first = r.last + 1n;
        break;
      }
      first = cut.last + 1n;
      k++;
    }
    if (first <= r.last) out.push({ version: r.version, first, last: r.last });
  }
  return out;
}

/**
 * Joins CIDRs into the fewest covering CIDRs (netaddr.cidr_merge / IPSet
 * compaction), IPv4 first, then in address order.
 */
export function mergeCidrs(cidrs: readonly Cidr[]): Cidr[] {
  const out: Cidr[] = [];
  for (const version of [4, 6] as const) {
    const ranges = cidrs.filter((c) => c.version === version).map(cidrToRange);
    for (const r of mergeRanges(ranges)) out.push(...rangeToCidrs(r));
  }
  return out;
}

// ---------------------------------------------------------------------------
// Subnets: gateway, allocation pools, address validity

/**
 * The gateway Neutron picks when a subnet is created with no gateway_ip:
 * network+1, for IPv4 and IPv6 alike, with a cidr or from a subnet pool
 * (neutron.db.ipam_backend_mixin _gateway_ip_str: its IPv6 branch, the
 * subnet-router anycast address, tests subnet['version'], a key the subnet
 * never has, so it is never taken; a Neutron IPv6 subnet gets prefix::1).
 * null when network+1 would leave the address space (255.255.255.255/32).
 */
export function defaultGateway(cidr: Cidr): bigint | null {
  const gw = cidr.network + 1n;
  return gw > maxIp(cidr.version) ? null : gw;
}

/**
 * The allocation pools Neutron generates for a subnet (neutron.ipam.utils
 * generate_pools): the whole cidr less the network address (and the
 * broadcast address for IPv4 up to /30), then less the gateway, which may
 * split the range in two. A /32 or /128 is its single address, whatever the
 * gateway; an IPv4 /31 keeps both addresses.
 */
export function defaultAllocationPools(cidr: Cidr, gatewayIp: bigint | null): IpRange[] {
  const first = cidrFirst(cidr);
  const last = cidrLast(cidr);
  if (first === last) return [{ version: cidr.version, first, last }];
  let lo = first;
  let hi = last;
  if (cidr.version === 4) {
    if (cidr.prefixlen <= 30) {
      lo = first + 1n;
      hi = last - 1n;
    }
  } else {
    lo = first + 1n;
  }
  const pool: IpRange = { version: cidr.version, first: lo, last: hi };
  if (gatewayIp === null || gatewayIp < lo || gatewayIp > hi) return [pool];
  const out: IpRange[] = [];
  if (gatewayIp > lo) out.push({ version: cidr.version, first: lo, last: gatewayIp - 1n });
  if (gatewayIp < hi) out.push({ version: cidr.version, first: gatewayIp + 1n, last: hi });
  return out;
}

/** neutron_lib.constants.ROUTER_PORT_OWNERS */
export const ROUTER_PORT_OWNERS: readonly string[] = [
  'network:router_interface',
  'network:ha_router_replicated_interface',
  'network:router_interface_distributed',
  'network:router_centralized_snat',
  'network:router_gateway',
];

/**
 * Whether an address may be a fixed IP on the subnet (ipam utils
 * check_subnet_ip): inside the cidr, never the IPv4 network or broadcast
 * address, and for IPv6 not the network address unless the port belongs to
 * a router (or its owner is unknown, the empty string).
 */
export function isIpUsableInSubnet(cidr: Cidr, ip: IpAddress | bigint, deviceOwner = ''): boolean {
  if (!cidrContains(cidr, ip)) return false;
  const v = valueOf(ip);
  if (cidr.version === 6) {
    return deviceOwner === '' || ROUTER_PORT_OWNERS.includes(deviceOwner) || v !== cidr.network;
  }
  return v !== cidrFirst(cidr) && v !== cidrLast(cidr);
}

/**
 * ipam utils check_gateway_invalid_in_subnet: an IPv4 gateway inside the
 * cidr must not be its network or last address. A gateway outside the cidr
 * is not invalid (it cannot be checked).
 */
export function gatewayInvalidInSubnet(cidr: Cidr, gateway: IpAddress | bigint): boolean {
  if (!cidrContains(cidr, gateway) || cidr.version !== 4) return false;
  const v = valueOf(gateway);
  return v === cidrFirst(cidr) || v === cidrLast(cidr);
}

// ---------------------------------------------------------------------------
// Subnet pools

/**
 * The free space of a subnet pool as CIDRs, in the order Neutron's subnet
 * allocator tries them: smallest blocks (longest prefix) first, and by
 * address among blocks of one size.
 */
export function availablePrefixes(poolPrefixes: readonly Cidr[], used: readonly Cidr[]): Cidr[] {
  if (poolPrefixes.length === 0) return [];
  const version = poolPrefixes[0]!.version;
  const pool = mergeRanges(poolPrefixes.filter((c) => c.version === version).map(cidrToRange));
  const taken = mergeRanges(used.filter((c) => c.version === version).map(cidrToRange));
  const free = subtractRanges(pool, taken).flatMap(rangeToCidrs);
  // Array.prototype.sort is stable, so address order survives within a size.
  return free.sort((a, b) => b.prefixlen - a.prefixlen);
}

/**
 * Allocates a block of the given prefix length as Neutron's subnet allocator
 * does for a request without a cidr: the first subnet of the best-fitting
 * free block (the smallest free aligned block that can hold it, lowest
 * address first). null when no space is left.
 */
export function allocatePrefix(poolPrefixes: readonly Cidr[], used: readonly Cidr[], prefixlen: number): Cidr | null {
  if (poolPrefixes.length === 0) return null;
  const version = poolPrefixes[0]!.version;
  if (!Number.isInteger(prefixlen) || prefixlen < 0 || prefixlen > ipBits(version)) return null;
  for (const block of availablePrefixes(poolPrefixes, used)) {
    if (block.prefixlen <= prefixlen) return makeCidr(version, block.network, prefixlen);
  }
  return null;
}

/** Whether a specific cidr lies wholly in the pool's free space. */
export function isPrefixAvailable(poolPrefixes: readonly Cidr[], used: readonly Cidr[], cidr: Cidr): boolean {
  return availablePrefixes(poolPrefixes, used).some((free) => cidrContainsCidr(free, cidr));
}

// ---------------------------------------------------------------------------
// MAC addresses

// netaddr's EUI-48 formats (netaddr.valid_mac), which neutron-lib accepts.
const MAC_FORMATS: readonly { re: RegExp; width: number }[] = [
  { re: /^([0-9a-f]{1,2})(?::([0-9a-f]{1,2})){5}$/i, width: 2 },
  { re: /^([0-9a-f]{1,2})(?:-([0-9a-f]{1,2})){5}$/i, width: 2 },
  { re: /^([0-9a-f]{1,4})(?::([0-9a-f]{1,4})){2}$/i, width: 4 },
  { re: /^([0-9a-f]{1,4})(?:-([0-9a-f]{1,4})){2}$/i, width: 4 },
  { re: /^([0-9a-f]{1,4})(?:\.([0-9a-f]{1,4})){2}$/i, width: 4 },
  { re: /^([0-9a-f]{5,6})-([0-9a-f]{5,6})$/i, width: 6 },
  { re: /^([0-9a-f]{5,6}):([0-9a-f]{5,6})$/i, width: 6 },
  { re: /^[0-9a-f]{11,12}$/i, width: 12 },
];

export const INVALID_MACS: readonly string[] = ['00:00:00:00:00:00', 'ff:ff:ff:ff:ff:ff'];

function parseMac(s: unknown): bigint | null {
  if (typeof s !== 'string') return null;
  for (const { re, width } of MAC_FORMATS) {
    if (!re.test(s)) continue;
    const words = width === 12 ? [s] : s.split(/[:.-]/);
    let hex = '';
    for (const w of words) hex += w.padStart(width, '0');
    return BigInt('0x' + hex);
  }
  return null;
}

function formatMac(v: bigint): string {
  return v.toString(16).padStart(12, '0').match(/../g)!.join(':');
}

/**
 * Any MAC form netaddr accepts ('FA-16-3E-00-00-01', 'fa16.3e00.0001',
 * 'fa163e000001', ...) in lower-case colon form; null when not a MAC.
 */
export function normalizeMac(s: unknown): string | null {
  const v = parseMac(s);
  return v === null ? null : formatMac(v);
}

/**
 * neutron-lib validate_mac_address: a MAC in any netaddr form, other than
 * all-zeros and broadcast. (Upstream does not reject other multicast MACs;
 * see isMulticastMac.)
 */
export function isValidMac(s: unknown): boolean {
  const mac = normalizeMac(s);
  return mac !== null && !INVALID_MACS.includes(mac);
}

/** Whether the I/G bit (lowest bit of the first octet) is set. */
export function isMulticastMac(s: unknown): boolean {
  const v = parseMac(s);
  return v !== null && ((v >> 40n) & 1n) === 1n;
}

/**
 * A random MAC on Neutron's base_mac (neutron_lib.utils.net.get_random_mac):
 * the first three octets are the base's, the fourth too unless it is '00',
 * the rest random.
 */
export function randomMac(base = 'fa:16:3e:00:00:00'): string {
  const parts = base.split(':');
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-f]{1,2}$/i.test(p))) {
    throw new Error(`invalid base MAC '${base}'`);
  }
  // randomInt draws from a pooled buffer: cheaper than a randomBytes call per MAC.
  const r = randomInt(0x1000000);
  const rnd = [r >> 16, (r >> 8) & 0xff, r & 0xff];
  const octets = [
    parseInt(parts[0]!, 16),
    parseInt(parts[1]!, 16),
    parseInt(parts[2]!, 16),
    parts[3] !== '00' ? parseInt(parts[3]!, 16) : rnd[0]!,
    rnd[1]!,
    rnd[2]!,
  ];
  return octets.map((o) => o.toString(16).padStart(2, '0')).join(':');
}

/**
 * The SLAAC (modified EUI-64) address of a MAC in an IPv6 prefix, as
 * oslo_utils.netutils.get_ipv6_addr_by_EUI64 computes it:
 * (prefix.first + EUI-64(mac)) XOR the U/L bit. Throws on an IPv4 prefix or
 * a bad MAC, as upstream raises ValueError.
 */
export function eui64(prefix: Cidr, mac: string): bigint {
  if (prefix.version !== 6) {
    throw new Error('Unable to generate IP address by EUI64 for IPv4 prefix');
  }
  const m = parseMac(mac);
  if (m === null) throw new Error(`Bad MAC format for generating IPv6 address by EUI-64: ${mac}`);
  const id = ((m >> 24n) << 40n) | 0xfffe000000n | (m & 0xffffffn);
  const v = (prefix.network + id) ^ (1n << 57n);
  if (v > maxIp(6)) throw new Error('EUI-64 address exceeds the IPv6 address space');
  return v;
}
