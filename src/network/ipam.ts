// IP address management for ports (neutron's pluggable IPAM backend with its built-in driver).
//
// The guarantee is the primary key of `ipallocations` (subnet_id, ip_address): an address is
// taken by inserting its row with ON CONFLICT DO NOTHING, and a row that did not go in means
// someone else holds the address. Candidates are drawn at random from the allocation pools
// (as upstream does, so concurrent requests rarely collide); when a few random draws all hit
// taken addresses, the free ranges are computed from the subnet's allocations (O(allocated))
// and a free address is drawn from them. Nothing ever walks the whole pool.
import { randomBytes, randomInt } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { ApiError } from '../core/errors.ts';
import { json, precompiled } from '../core/db.ts';
import {
  cidrContains,
  eui64,
  formatIp,
  isIpUsableInSubnet,
  normalizeIp,
  parseCidr,
  parseIp,
  rangeFromStrings,
  rangeSize,
  type Cidr,
  type IpRange,
} from '../core/netaddr.ts';
import {
  ROUTER_INTERFACE_OWNERS,
  ROUTER_INTERFACE_OWNERS_SNAT,
  DEVICE_OWNER_DHCP,
  notFound,
} from './api/core_common.ts';
import { invalidInput } from './api/validate.ts';
import type { NetworkDb } from './db/schema.ts';

export interface FixedIpRequest {
  subnet_id?: string;
  ip_address?: string;
  delete_subnet?: boolean;
}
export interface FixedIp {
  subnet_id: string;
  ip_address: string;
}
export interface IpamPort {
  id: string;
  network_id: string;
  mac_address: string;
  device_owner: string;
}

export interface IpamSubnet {
  id: string;
  network_id: string;
  cidr: Cidr;
  ip_version: 4 | 6;
  pools: IpRange[];
  ipv6_address_mode: string | null;
  ipv6_ra_mode: string | null;
  service_types: string[];
  enable_dhcp: boolean;
}

const AUTO_MODES = ['slaac', 'dhcpv6-stateless'];
/** neutron's is_auto_address_subnet: addresses come from SLAAC (EUI-64), not from the pools. */
export const isAutoAddressSubnet = (s: {
  ip_version?: unknown;
  ipv6_address_mode?: string | null;
  ipv6_ra_mode?: string | null;
}) =>
  Number(s.ip_version) === 6 &&
  (AUTO_MODES.includes(s.ipv6_address_mode ?? '') ||
    (!s.ipv6_address_mode && AUTO_MODES.includes(s.ipv6_ra_mode ?? '')));

/** ipv6_utils.is_eui64_address: the interface identifier carries ff:fe in its middle. */
export function isEui64Address(ip: string): boolean {
  const a = parseIp(ip);
  return !!a && a.version === 6 && ((a.value >> 24n) & 0xffffn) === 0xfffen;
}

/** The columns of a subnets row IPAM reads (the lists still JSON text). */
export interface SubnetRowForIpam {
  id: string;
  network_id: string;
  cidr: string;
  allocation_pools: unknown;
  service_types: unknown;
  ipv6_address_mode?: string | null;
  ipv6_ra_mode?: string | null;
  enable_dhcp: unknown;
}

export function subnetFromRow(r: SubnetRowForIpam): IpamSubnet {
  const cidr = parseCidr(r.cidr)!;
  const pools = json<Array<{ start: string; end: string }>>(r.allocation_pools, [])
    .map((p) => rangeFromStrings(p.start, p.end))
    .filter((x): x is IpRange => !!x);
  return {
    id: r.id,
    network_id: r.network_id,
    cidr,
    ip_version: cidr.version,
    pools,
    ipv6_address_mode: r.ipv6_address_mode ?? null,
    ipv6_ra_mode: r.ipv6_ra_mode ?? null,
    service_types: json<string[]>(r.service_types, []),
    enable_dhcp: !!Number(r.enable_dhcp),
  };
}

const noMoreAddresses = (networkId: string) =>
  new ApiError(409, `No more IP addresses available on network ${networkId}.`, 'IpAddressGenerationFailure');
const alreadyAllocated = (ip: string, subnetId: string) =>
  new ApiError(409, `IP address ${ip} already allocated in subnet ${subnetId}`, 'IpAddressAlreadyAllocated');

/**
 * find_candidate_subnets for a port without a host: the network's subnets whose service types
 * admit the device owner (DHCP ports go on any DHCP-enabled subnet), service-typed ones first.
 */
const subnetsOfNetwork = precompiled(['networkId'], (db, p) =>
  db.selectFrom('subnets').selectAll().where('network_id', '=', p.networkId).orderBy('created_at').orderBy('id'),
);

export async function candidateSubnets(
  tx: Transaction<NetworkDb>,
  networkId: string,
  deviceOwner: string,
): Promise<IpamSubnet[]> {
  const all = (await subnetsOfNetwork(tx, { networkId })).rows.map(subnetFromRow);
  const fit = all.filter(
    (s) =>
      !s.service_types.length ||
      s.service_types.includes(deviceOwner) ||
      (s.enable_dhcp && deviceOwner === DEVICE_OWNER_DHCP),
  );
  if (all.length && !fit.length) {
    throw new ApiError(
      409,
      `No valid service subnet for the given device owner, network ${networkId}, service type ${deviceOwner}.`,
      'IpAddressGenerationFailureNoMatchingSubnet',
    );
  }
  return [...fit.filter((s) => s.service_types.length), ...fit.filter((s) => !s.service_types.length)];
}

function randomBelow(n: bigint): bigint {
  // randomInt (pooled, exact) covers IPv4 and small IPv6 pools; larger ones take 192 random bits.
  if (n <= 0xffffffffffffn) return BigInt(randomInt(Number(n)));
  return BigInt(`0x${randomBytes(24).toString('hex')}`) % n;
}

/** The k-th address (0-based) of a list of disjoint ranges. */
function addressAt(ranges: IpRange[], k: bigint): bigint {
  for (const r of ranges) {
    const size = rangeSize(r);
    if (k < size) return r.first + k;
    k -= size;
  }
  throw new Error('address index out of range');
}

/** The pools less the addresses already allocated in them (sorted, disjoint). */
async function freeRanges(tx: Transaction<NetworkDb>, s: IpamSubnet): Promise<IpRange[]> {
  const used = (await tx.selectFrom('ipallocations').select('ip_address').where('subnet_id', '=', s.id).execute())
    .map((r) => parseIp(r.ip_address)?.value)
    .filter((v): v is bigint => v !== undefined)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const out: IpRange[] = [];
  for (const pool of [...s.pools].sort((a, b) => (a.first < b.first ? -1 : 1))) {
    let first = pool.first;
    for (const u of used) {
      if (u < first) continue;
      if (u > pool.last) break;
      if (u > first) out.push({ version: pool.version, first, last: u - 1n });
      first = u + 1n;
    }
    if (first <= pool.last) out.push({ version: pool.version, first, last: pool.last });
  }
  return out;
}

const insertAllocation = precompiled(['subnet_id', 'ip_address', 'network_id', 'port_id'], (db, p) =>
  db
    .insertInto('ipallocations')
    .values(p)
    .onConflict((oc) => oc.columns(['subnet_id', 'ip_address']).doNothing()),
);

async function tryInsert(tx: Transaction<NetworkDb>, s: IpamSubnet, portId: string, ip: string): Promise<boolean> {
  const r = await insertAllocation(tx, { subnet_id: s.id, ip_address: ip, network_id: s.network_id, port_id: portId });
  return Number(r.numAffectedRows ?? 0n) === 1;
}

/** Any free address of the subnet's pools (the first one for DHCP ports, as upstream); null when exhausted. */
async function allocateAny(
  tx: Transaction<NetworkDb>,
  s: IpamSubnet,
  portId: string,
  preferFirst: boolean,
): Promise<string | null> {
  const total = s.pools.reduce((n, r) => n + rangeSize(r), 0n);
  if (total === 0n) return null;
  if (!preferFirst) {
    for (let i = 0; i < 8; i++) {
      const ip = formatIp(s.ip_version, addressAt(s.pools, randomBelow(total)));
      if (await tryInsert(tx, s, portId, ip)) return ip;
    }
  }
  for (;;) {
    const free = await freeRanges(tx, s);
    const count = free.reduce((n, r) => n + rangeSize(r), 0n);
    if (count === 0n) return null;
    const ip = formatIp(s.ip_version, addressAt(free, preferFirst ? 0n : randomBelow(count)));
    if (await tryInsert(tx, s, portId, ip)) return ip;
  }
}

async function allocateSpecific(
  tx: Transaction<NetworkDb>,
  s: IpamSubnet,
  portId: string,
  ip: string,
): Promise<string> {
  const canonical = normalizeIp(ip)!;
  if (!(await tryInsert(tx, s, portId, canonical))) throw alreadyAllocated(canonical, s.id);
  return canonical;
}

/** What to allocate: a specific address, any address of one of several subnets, or an EUI-64 address. */
type IpRequest =
  | { kind: 'specific'; subnet: IpamSubnet; ip: string }
  | { kind: 'any'; subnets: IpamSubnet[] }
  | { kind: 'eui64'; subnet: IpamSubnet };

async function allocate(tx: Transaction<NetworkDb>, port: IpamPort, requests: IpRequest[]): Promise<FixedIp[]> {
  const out: FixedIp[] = [];
  // Specific addresses first: they may be next in line for the others.
  const ordered = [...requests.filter((r) => r.kind === 'specific'), ...requests.filter((r) => r.kind !== 'specific')];
  for (const r of ordered) {
    if (r.kind === 'specific')
      out.push({ subnet_id: r.subnet.id, ip_address: await allocateSpecific(tx, r.subnet, port.id, r.ip) });
    else if (r.kind === 'eui64') {
      const ip = formatIp(6, eui64(r.subnet.cidr, port.mac_address));
      if (!(await tryInsert(tx, r.subnet, port.id, ip))) throw alreadyAllocated(ip, r.subnet.id);
      out.push({ subnet_id: r.subnet.id, ip_address: ip });
    } else {
      let got: FixedIp | undefined;
      for (const s of r.subnets) {
        const ip = await allocateAny(tx, s, port.id, port.device_owner === DEVICE_OWNER_DHCP);
        if (ip) {
          got = { subnet_id: s.id, ip_address: ip };
          break;
        }
      }
      if (!got) throw noMoreAddresses(port.network_id);
      out.push(got);
    }
  }
  return out;
}

/** _get_subnet_for_fixed_ip: the subnet a fixed_ips entry designates, with neutron's errors. */
async function subnetForFixedIp(
  tx: Transaction<NetworkDb>,
  fixed: FixedIpRequest,
  subnets: IpamSubnet[],
  networkId: string,
  deviceOwner: string,
): Promise<IpamSubnet> {
  if (!subnets.length) throw invalidInput('IP allocation requires subnets for network');
  if (fixed.subnet_id !== undefined) {
    const s = subnets.find((x) => x.id === fixed.subnet_id);
    if (!s) {
      if (!(await tx.selectFrom('subnets').select('id').where('id', '=', fixed.subnet_id).executeTakeFirst()))
        throw notFound.subnet(fixed.subnet_id);
      throw invalidInput(
        `Failed to create port on network ${networkId}, because fixed_ips included invalid subnet ${fixed.subnet_id}`,
      );
    }
    if (fixed.ip_address !== undefined && !isIpUsableInSubnet(s.cidr, parseIp(fixed.ip_address)!, deviceOwner)) {
      throw new ApiError(
        400,
        `IP address ${fixed.ip_address} is not a valid IP for the specified subnet.`,
        'InvalidIpForSubnet',
      );
    }
    return s;
  }
  if (fixed.ip_address === undefined) throw invalidInput('IP allocation requires subnet_id or ip_address');
  const ip = parseIp(fixed.ip_address)!;
  const s = subnets.find((x) => isIpUsableInSubnet(x.cidr, ip, deviceOwner));
  if (!s)
    throw new ApiError(
      400,
      `IP address ${fixed.ip_address} is not a valid IP for any of the subnets on the specified network.`,
      'InvalidIpForNetwork',
    );
  return s;
}

/** _test_fixed_ips_for_port: the requests for explicit fixed_ips (auto-address subnets are added separately). */
async function testFixedIps(
  tx: Transaction<NetworkDb>,
  port: IpamPort,
  fixed: FixedIpRequest[],
  subnets: IpamSubnet[],
): Promise<IpRequest[]> {
  const out: IpRequest[] = [];
  for (const f of fixed) {
    const s = await subnetForFixedIp(tx, f, subnets, port.network_id, port.device_owner);
    const auto = isAutoAddressSubnet(s);
    if (f.ip_address !== undefined) {
      if (auto && !ROUTER_INTERFACE_OWNERS.includes(port.device_owner)) {
        throw new ApiError(
          400,
          `Invalid input for operation: IPv6 address ${f.ip_address} cannot be directly assigned to a port on subnet ${s.id} as the subnet is configured for automatic addresses.`,
          'AllocationOnAutoAddressSubnet',
        );
      }
      out.push({ kind: 'specific', subnet: s, ip: f.ip_address });
    } else if (ROUTER_INTERFACE_OWNERS_SNAT.includes(port.device_owner) || !auto) {
      out.push({ kind: 'any', subnets: [s] });
    }
  }
  return out;
}

/** SLAAC / DHCPv6-stateless addresses a (non-router) port gets on every auto-address subnet. */
function autoAddressRequests(port: IpamPort, subnets: IpamSubnet[], exclude: Set<string> = new Set()): IpRequest[] {
  if (ROUTER_INTERFACE_OWNERS_SNAT.includes(port.device_owner)) return [];
  return subnets
    .filter((s) => isAutoAddressSubnet(s) && !exclude.has(s.id))
    .map((s) => ({ kind: 'eui64' as const, subnet: s }));
}

/**
 * Addresses for a new port (allocate_ips_for_port): the requested fixed_ips, or by default one
 * IPv4 address and one stateful IPv6 address (each from the first subnet with room), plus an
 * EUI-64 address on every auto-address subnet.
 */
export async function allocatePortIps(
  tx: Transaction<NetworkDb>,
  port: IpamPort,
  fixed: FixedIpRequest[] | undefined,
): Promise<FixedIp[]> {
  const subnets = await candidateSubnets(tx, port.network_id, port.device_owner);
  let requests: IpRequest[];
  if (fixed !== undefined) requests = await testFixedIps(tx, port, fixed, subnets);
  else {
    requests = [];
    const v4 = subnets.filter((s) => s.ip_version === 4);
    const v6 = subnets.filter((s) => s.ip_version === 6 && !isAutoAddressSubnet(s));
    if (v4.length) requests.push({ kind: 'any', subnets: v4 });
    if (v6.length) requests.push({ kind: 'any', subnets: v6 });
  }
  requests.push(...autoAddressRequests(port, subnets));
  return allocate(tx, port, requests);
}

/**
 * A port's new fixed_ips (_get_changed_ips_for_port + _update_ips_for_port): addresses named
 * again are kept, a subnet named without an address keeps the port's address there, the rest
 * is released and new requests are allocated. Auto addresses stay unless their subnet is
 * dropped explicitly; a new MAC re-derives them.
 */
export async function updatePortIps(
  tx: Transaction<NetworkDb>,
  port: IpamPort,
  original: FixedIp[],
  wanted: FixedIpRequest[] | undefined,
  macChanged: boolean,
): Promise<void> {
  const subnets = (await tx.selectFrom('subnets').selectAll().where('network_id', '=', port.network_id).execute()).map(
    subnetFromRow,
  );
  const byId = new Map(subnets.map((s) => [s.id, s]));
  const ipRequired = (subnetId: string) =>
    ROUTER_INTERFACE_OWNERS_SNAT.includes(port.device_owner) ||
    !byId.get(subnetId) ||
    !isAutoAddressSubnet(byId.get(subnetId)!);
  let requested = wanted;
  if (macChanged) {
    // EUI-64 addresses follow the MAC: drop them and let the auto-address step re-derive them.
    const eui = original.filter((ip) => isEui64Address(ip.ip_address));
    if (eui.length) {
      requested = [...(requested ?? original.map((ip) => ({ ...ip })))].filter(
        (r) =>
          !eui.some(
            (e) => e.subnet_id === r.subnet_id && (r.ip_address === undefined || r.ip_address === e.ip_address),
          ),
      );
      requested.push(...eui.map((e) => ({ subnet_id: e.subnet_id, delete_subnet: true })));
    }
  }
  if (requested === undefined) return;
  const dropSubnets = new Set(requested.filter((r) => r.delete_subnet).map((r) => r.subnet_id!));
  const ips = requested.filter((r) => !dropSubnets.has(r.subnet_id ?? ''));
  const add: FixedIpRequest[] = [];
  const keep: FixedIp[] = [];
  const removeCandidates: FixedIp[] = [];
  const origByIp = new Map(original.map((ip) => [ip.ip_address, ip]));
  for (const r of ips) {
    if (r.ip_address === undefined) continue;
    const canonical = normalizeIp(r.ip_address) ?? r.ip_address;
    const o = origByIp.get(canonical);
    if (o) {
      keep.push(o);
      origByIp.delete(canonical);
    } else add.push({ ...r, ip_address: canonical });
  }
  const origBySubnet = new Map<string, FixedIp[]>();
  for (const o of origByIp.values()) origBySubnet.set(o.subnet_id, [...(origBySubnet.get(o.subnet_id) ?? []), o]);
  for (const r of ips) {
    if (r.ip_address !== undefined) continue;
    const list = origBySubnet.get(r.subnet_id ?? '');
    const o = list?.pop();
    if (!o) {
      add.push(r);
      continue;
    }
    if (isEui64Address(o.ip_address)) {
      add.push(r);
      removeCandidates.push(o);
    } else keep.push(o);
  }
  const remove: FixedIp[] = [];
  for (const o of [...[...origBySubnet.values()].flat(), ...removeCandidates]) {
    if (ipRequired(o.subnet_id) || dropSubnets.has(o.subnet_id)) remove.push(o);
    else keep.push(o);
  }
  for (const o of remove)
    await tx
      .deleteFrom('ipallocations')
      .where('subnet_id', '=', o.subnet_id)
      .where('ip_address', '=', o.ip_address)
      .where('port_id', '=', port.id)
      .execute();
  const candidates = await candidateSubnets(tx, port.network_id, port.device_owner);
  const requests = await testFixedIps(tx, port, add, candidates);
  // Auto-address subnets the port has no address on yet (or whose EUI-64 address the new MAC replaces).
  const handled = new Set([...keep, ...remove].map((x) => x.subnet_id));
  for (const r of requests) handled.add(r.kind === 'any' ? r.subnets[0]!.id : r.subnet.id);
  requests.push(
    ...autoAddressRequests(
      port,
      candidates.filter((s) => !handled.has(s.id) || (macChanged && dropSubnets.has(s.id))),
    ),
  );
  await allocate(tx, port, requests);
}

/** The fixed_ips of ports, in address order (IPv4 first). */
export async function fixedIpsOf(tx: Kysely<NetworkDb>, portIds: string[]): Promise<Map<string, FixedIp[]>> {
  const out = await readFixedIps(tx, portIds);
  for (const l of out.values()) sortFixedIps(l);
  return out;
}

/** The fixed_ips of ports as the allocations hold them (in the order the database returns them). */
export async function readFixedIps(tx: Kysely<NetworkDb>, portIds: string[]): Promise<Map<string, FixedIp[]>> {
  const out = new Map<string, FixedIp[]>();
  for (let i = 0; i < portIds.length; i += 500) {
    const rows = await tx
      .selectFrom('ipallocations')
      .select(['port_id', 'subnet_id', 'ip_address'])
      .where('port_id', 'in', portIds.slice(i, i + 500))
      .execute();
    for (const r of rows) {
      const l = out.get(r.port_id) ?? [];
      l.push({ subnet_id: r.subnet_id, ip_address: r.ip_address });
      out.set(r.port_id, l);
    }
  }
  return out;
}

/** A port's fixed_ips in the order the API shows them: IPv4 first, then by address. */
export function sortFixedIps(ips: FixedIp[]): FixedIp[] {
  const key = (ip: string) => parseIp(ip) ?? { version: 4, value: 0n };
  return ips.sort((a, b) => {
    const x = key(a.ip_address),
      y = key(b.ip_address);
    return x.version - y.version || (x.value < y.value ? -1 : x.value > y.value ? 1 : 0);
  });
}

export async function releasePortIps(tx: Transaction<NetworkDb>, portId: string) {
  await tx.deleteFrom('ipallocations').where('port_id', '=', portId).execute();
}

/** Whether an address lies in a subnet's cidr (for filters and checks). */
export const inCidr = (cidr: string, ip: string) => {
  const c = parseCidr(cidr);
  const a = parseIp(ip);
  return !!c && !!a && cidrContains(c, a);
};
