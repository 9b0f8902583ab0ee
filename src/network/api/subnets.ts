// Subnets (db_base_plugin_v2 _validate_subnet, ipam_backend_mixin, ipam_pluggable_backend):
// cidr or a prefix from a subnet pool, gateway and allocation pools with upstream's checks,
// DNS servers and host routes, IPv6 address modes, service types, segments; deletion releases
// the addresses of network-owned ports and of auto-address subnets.
import type { Transaction } from 'kysely';
import { ApiError } from '../../core/errors.ts';
import type { NetworkService } from '../service.ts';
import { hidden, setHidden, timestamp } from './resource.ts';
import type { SubnetResource } from './types.ts';
import { badInput, invalidInput, toBoolean, toString, toUuid, toUuidOrNull } from './validate.ts';
import { pyStr } from '../../core/python.ts';
import {
  cidrFirst,
  cidrHasHostBits,
  cidrLast,
  cidrsOverlap,
  defaultAllocationPools,
  defaultGateway,
  eui64,
  formatCidr,
  formatIp,
  gatewayInvalidInSubnet,
  normalizeIp,
  parseCidr,
  parseIp,
  rangeFromStrings,
  rangesOverlap,
  rangeToStrings,
  rangeContains,
  type Cidr,
  type IpRange,
} from '../../core/netaddr.ts';
import { isAutoAddressSubnet, subnetFromRow, type SubnetRowForIpam } from '../ipam.ts';
import {
  AUTO_DELETE_PORT_OWNERS,
  NET_INFO,
  ROUTER_INTERFACE_OWNERS,
  ROUTER_INTERFACE_OWNERS_SNAT,
  badRequest,
  boolFilter,
  grantedIds,
  inChunks,
  lockRow,
  notFound,
  projectOf,
  rbacGrants,
  type NetInfo,
  networkOwnershipCheck,
} from './core_common.ts';
import { toNonNegative, visibleNetwork } from './networks.ts';
import { allocateFromPool, toSubnetCidr, visibleSubnetpool } from './subnetpools.ts';
import { toIpVersion } from './address_scopes.ts';
import type { NetworkDb, SubnetPoolRow } from '../db/schema.ts';

const IPV6_MODES = ['dhcpv6-stateful', 'dhcpv6-stateless', 'slaac'];
const MAX_DNS_NAMESERVERS = 5;
const MAX_HOST_ROUTES = 20;

const isSet = <T>(v: T): v is NonNullable<T> => v !== undefined && v !== null;

/** A subnet's list (DNS nameservers, host routes) at most `max` long, else 400 `type`. */
function checkCount(id: string | undefined, list: unknown[], max: number, what: string, type: string): void {
  if (list.length > max)
    throw new ApiError(
      400,
      `Unable to complete operation for ${id ?? 'new subnet'}. The number of ${what} exceeds the limit ${max}.`,
      type,
    );
}

function toIpOrNull(v: unknown, n: string): string | null {
  if (v === null) return null;
  if (typeof v !== 'string' || !parseIp(v)) throw badInput(n, `'${pyStr(v)}' is not a valid IP address`);
  return normalizeIp(v)!;
}

/** validate_dict with exactly these keys (named in the messages in this order), else a 400. */
function dictWithKeys<K extends string>(v: unknown, n: string, expected: K[]): Record<K, unknown> {
  const names = expected.map((k) => `'${k}'`).join(', ');
  if (!v || typeof v !== 'object' || Array.isArray(v))
    throw badInput(n, `Invalid input. '${pyStr(v)}' must be a dictionary with keys: [${names}]`);
  const keys = Object.keys(v).sort();
  if (keys.join() !== [...expected].sort().join())
    throw badInput(
      n,
      `Validation of dictionary's keys failed. Expected keys: {${names}} Provided keys: {${keys.map((k) => `'${k}'`).join(', ')}}`,
    );
  return v as Record<K, unknown>;
}

function toPools(v: unknown, n: string): Array<{ start: string; end: string }> {
  if (!Array.isArray(v)) throw badInput(n, `Invalid data format for IP pool: '${pyStr(v)}'`);
  return v.map((p) => {
    const d = dictWithKeys(p, n, ['start', 'end']);
    for (const k of ['start', 'end'] as const)
      if (typeof d[k] !== 'string' || !parseIp(d[k])) throw badInput(n, `'${pyStr(d[k])}' is not a valid IP address`);
    return { start: normalizeIp(d.start)!, end: normalizeIp(d.end)! };
  });
}

function toNameservers(v: unknown, n: string): string[] {
  if (v === null) return [];
  if (!Array.isArray(v)) throw badInput(n, `Invalid data format for nameserver: '${pyStr(v)}'`);
  const seen: string[] = [];
  for (const h of v) {
    if (typeof h !== 'string' || !parseIp(h))
      throw badInput(n, `'${pyStr(h)}' is not a valid nameserver. '${pyStr(h)}' is not a valid IP address`);
    if (seen.includes(h)) throw badInput(n, `Duplicate nameserver '${h}'`);
    seen.push(h);
  }
  return seen;
}

function toHostRoutes(v: unknown, n: string): Array<{ destination: string; nexthop: string }> {
  if (v === null) return [];
  if (!Array.isArray(v)) throw badInput(n, `Invalid data format for hostroute: '${pyStr(v)}'`);
  const out: Array<{ destination: string; nexthop: string }> = [];
  for (const r of v) {
    const { destination, nexthop } = dictWithKeys(r, n, ['destination', 'nexthop']);
    // validate_route_cidr: a CIDR without host bits.
    const c = typeof destination === 'string' ? parseCidr(destination, { allowBareIp: true }) : null;
    if (!c) throw badInput(n, `'${pyStr(destination)}' is not a valid CIDR`);
    if (!(destination as string).includes('/') || cidrHasHostBits(destination))
      throw badInput(n, `'${destination}' is not a recognized CIDR, '${formatCidr(c)}' is recommended`);
    if (typeof nexthop !== 'string' || !parseIp(nexthop))
      throw badInput(n, `'${pyStr(nexthop)}' is not a valid IP address`);
    const route = { destination: formatCidr(c), nexthop: normalizeIp(nexthop)! };
    if (out.some((x) => x.destination === route.destination && x.nexthop === route.nexthop))
      throw badInput(n, `Duplicate hostroute '${pyStr(r)}'`);
    out.push(route);
  }
  return out;
}

function toServiceTypes(v: unknown, _n: string): string[] {
  if (v === null) return [];
  if (!Array.isArray(v)) throw new ApiError(400, 'Subnet service types must be a list.', 'HTTPBadRequest');
  // Upstream adds the characters of "compute:" (not the string) to the allowed prefixes; matched on purpose.
  const prefixes = ['network:', 'neutron:', ...'compute:'];
  for (const t of v) {
    if (typeof t !== 'string')
      throw new ApiError(400, `Subnet service type ${pyStr(t)} is not a string.`, 'InvalidInputSubnetServiceType');
    if (!prefixes.some((p) => t.startsWith(p)))
      throw new ApiError(
        400,
        `Subnet service type ${t} does not correspond to a valid device owner.`,
        'InvalidSubnetServiceType',
      );
  }
  return v as string[];
}

const versionMismatch = (name: string, addr: string, version: number) =>
  invalidInput(`${name} '${addr}' does not match the ip_version '${version}'`);
const versionOf = (addr: string) => (parseIp(addr.split('/')[0]) ?? { version: 0 }).version;

/** _validate_subnet: the checks that create and update share. `cur` is the existing subnet on update. */
function validateSubnet(s: Partial<SubnetResource>, cidr: Cidr, cur?: SubnetResource) {
  const v = Number(s.ip_version);
  if (s.enable_dhcp && !(cur && cur.enable_dhcp)) {
    if ((v === 4 && cidr.prefixlen > 30) || (v === 6 && cidr.prefixlen > 126))
      throw invalidInput('Subnet has a prefix length that is incompatible with DHCP service enabled');
    const first = cidrFirst(cidr);
    if (v === 4 ? first >> 28n === 0xen : first >> 120n === 0xffn)
      throw invalidInput('Multicast IP subnet is not supported if enable_dhcp is True');
    if (v === 4 ? first >> 24n === 127n : cidr.prefixlen === 128 && first === 1n)
      throw invalidInput('Loopback IP subnet is not supported if enable_dhcp is True');
    if (v === 4 && first === 0n)
      throw invalidInput("First IP '0.0.0.0' of network is not supported if enable_dhcp is True.");
  }
  if (isSet(s.gateway_ip)) {
    if (versionOf(s.gateway_ip) !== v) throw versionMismatch('gateway_ip', s.gateway_ip, v);
    if (gatewayInvalidInSubnet(cidr, parseIp(s.gateway_ip)!)) throw invalidInput('Gateway is not valid on subnet');
  }
  if (isSet(s.dns_nameservers)) {
    checkCount(s.id, s.dns_nameservers, MAX_DNS_NAMESERVERS, 'DNS nameservers', 'DNSNameServersExhausted');
    for (const d of s.dns_nameservers) if (versionOf(d) !== v) throw versionMismatch('dns_nameserver', d, v);
  }
  if (isSet(s.host_routes)) {
    checkCount(s.id, s.host_routes, MAX_HOST_ROUTES, 'host routes', 'HostRoutesExhausted');
    for (const r of s.host_routes) {
      if (versionOf(r.nexthop) !== v) throw versionMismatch('nexthop', r.nexthop, v);
      if (versionOf(r.destination) !== v) throw versionMismatch('destination', r.destination, v);
    }
  }
  if (v === 4) {
    if (isSet(s.ipv6_ra_mode)) throw invalidInput('ipv6_ra_mode is not valid when ip_version is 4');
    if (isSet(s.ipv6_address_mode)) throw invalidInput('ipv6_address_mode is not valid when ip_version is 4');
    return;
  }
  if (cur) {
    if (
      s.enable_dhcp === false &&
      (isSet(s.ipv6_ra_mode) || isSet(s.ipv6_address_mode) || isSet(cur.ipv6_ra_mode) || isSet(cur.ipv6_address_mode))
    ) {
      throw invalidInput('Cannot disable enable_dhcp with ipv6 attributes set');
    }
    return;
  }
  const ra = isSet(s.ipv6_ra_mode),
    addr = isSet(s.ipv6_address_mode);
  if ((ra || addr) && !s.enable_dhcp)
    throw invalidInput('ipv6_ra_mode or ipv6_address_mode cannot be set when enable_dhcp is set to False');
  if (ra && addr && s.ipv6_ra_mode !== s.ipv6_address_mode) {
    throw invalidInput(
      `ipv6_ra_mode set to '${s.ipv6_ra_mode}' with ipv6_address_mode set to '${s.ipv6_address_mode}' is not valid. If both attributes are set, they must be the same value`,
    );
  }
  if ((ra || addr) && isAutoAddressSubnet(s) && cidr.prefixlen !== 64) {
    throw invalidInput(
      `Invalid CIDR ${formatCidr(cidr)} for IPv6 address mode. OpenStack uses the EUI-64 address format, which requires the prefix to be /64`,
    );
  }
}

/** validate_allocation_pools: inside the cidr (less network/broadcast), same version, no overlaps. */
function validatePools(pools: Array<{ start: string; end: string }>, cidr: Cidr): IpRange[] {
  const str = (p: { start: string; end: string }) => `${p.start}-${p.end}`;
  const ranges = pools.map((p) => {
    const r = rangeFromStrings(p.start, p.end);
    if (!r) throw new ApiError(400, `The allocation pool ${str(p)} is not valid.`, 'InvalidAllocationPool');
    return r;
  });
  let lo = cidrFirst(cidr),
    hi = cidrLast(cidr);
  if (cidr.version === 4) {
    if (cidr.prefixlen <= 30) {
      lo += 1n;
      hi -= 1n;
    }
  } else lo += 1n;
  ranges.forEach((r, i) => {
    if (r.version !== cidr.version)
      throw new ApiError(400, `The allocation pool ${str(pools[i]!)} is not valid.`, 'InvalidAllocationPool');
    if (r.first < lo || r.last > hi)
      throw new ApiError(
        400,
        `The allocation pool ${str(pools[i]!)} spans beyond the subnet cidr ${formatCidr(cidr)}.`,
        'OutOfBoundsAllocationPool',
      );
  });
  for (let i = 0; i < ranges.length; i++)
    for (let j = i + 1; j < ranges.length; j++) {
      if (rangesOverlap(ranges[i]!, ranges[j]!)) {
        throw new ApiError(
          409,
          `Found overlapping allocation pools: ${str(pools[i]!)} ${str(pools[j]!)} for subnet ${formatCidr(cidr)}.`,
          'OverlappingAllocationPools',
        );
      }
    }
  return ranges;
}

function checkGatewayOutOfPools(gateway: string, pools: IpRange[]) {
  const ip = parseIp(gateway)!;
  const p = pools.find((r) => rangeContains(r, ip));
  if (p) {
    const s = rangeToStrings(p);
    throw new ApiError(
      409,
      `Gateway ip ${gateway} conflicts with allocation pool ${s.start}-${s.end}.`,
      'GatewayConflictWithAllocationPools',
    );
  }
}

const poolsJson = (ranges: IpRange[]) => ranges.map(rangeToStrings);

/** The address scope of the pool a subnet came from. */
async function scopeOfPool(tx: Transaction<NetworkDb>, poolId: string | null): Promise<string | null> {
  if (!poolId) return null;
  return (
    (await tx.selectFrom('subnetpools').select('address_scope_id').where('id', '=', poolId).executeTakeFirst())
      ?.address_scope_id ?? null
  );
}

/** _validate_subnet_cidr and _validate_network_subnetpools against the network's other subnets. */
async function checkNetworkSubnets(
  tx: Transaction<NetworkDb>,
  networkId: string,
  cidr: Cidr,
  version: number,
  pool: SubnetPoolRow | null,
) {
  if (cidr.prefixlen === 0) throw invalidInput('0 is not allowed as CIDR prefix length');
  const others = await tx
    .selectFrom('subnets')
    .select(['id', 'cidr', 'ip_version', 'subnetpool_id'])
    .where('network_id', '=', networkId)
    .execute();
  if (others.some((o) => cidrsOverlap(parseCidr(o.cidr)!, cidr))) {
    throw invalidInput(
      `Requested subnet with cidr: ${formatCidr(cidr)} for network: ${networkId} overlaps with another subnet`,
    );
  }
  const sameVersion = others.filter((o) => Number(o.ip_version) === version);
  let networkScope: string | null = null;
  for (const o of sameVersion) networkScope ??= await scopeOfPool(tx, o.subnetpool_id);
  if (networkScope && (!pool || pool.address_scope_id !== networkScope)) {
    throw new ApiError(
      400,
      'Subnets of the same address family hosted on the same network must all participate in the same address scope.',
      'NetworkAddressScopeAffinityError',
    );
  }
  const affinity = () =>
    new ApiError(
      400,
      'Subnets hosted on the same network must be allocated from the same subnet pool.',
      'NetworkSubnetPoolAffinityError',
    );
  for (const o of sameVersion) {
    if (pool ? o.subnetpool_id !== pool.id && !networkScope : !!o.subnetpool_id) throw affinity();
  }
}

/** _validate_segment: the segment exists on this network, and a network's subnets are all on segments or none. */
async function checkSegment(tx: Transaction<NetworkDb>, networkId: string, segmentId: string | null, subnetId: string) {
  const segs = (
    await tx
      .selectFrom('subnets')
      .select('segment_id')
      .where('network_id', '=', networkId)
      .where('id', '!=', subnetId)
      .execute()
  ).map((r) => r.segment_id ?? null);
  const all = new Set([...segs, segmentId]);
  if (all.has(null) && all.size > 1) {
    throw new ApiError(
      400,
      `All of the subnets on network '${networkId}' must either all be associated with segments or all not associated with any segment.`,
      'SubnetsNotAllAssociatedWithSegments',
    );
  }
  if (!segmentId) return;
  const seg = await tx
    .selectFrom('network_segments')
    .select(['network_id', 'is_dynamic'])
    .where('id', '=', segmentId)
    .executeTakeFirst();
  if (!seg) throw notFound.segment(segmentId);
  if (seg.network_id !== networkId)
    throw new ApiError(
      400,
      `The subnet's network id, '${networkId}', doesn't match the segment_id '${segmentId}'`,
      'NetworkIdsDontMatch',
    );
  if (Number(seg.is_dynamic))
    throw new ApiError(
      400,
      'A subnet cannot be associated with a dynamic segment.',
      'SubnetCantAssociateToDynamicSegment',
    );
}

/** add_auto_addrs_on_network_ports: a new SLAAC subnet gives the network's ports their EUI-64 address. */
async function addAutoAddresses(tx: Transaction<NetworkDb>, subnet: SubnetResource): Promise<string[]> {
  const s = subnetFromRow({
    ...(subnet as SubnetRowForIpam),
    allocation_pools: JSON.stringify(subnet.allocation_pools),
    service_types: JSON.stringify(subnet.service_types),
  });
  const ports = await tx
    .selectFrom('ports')
    .select(['id', 'mac_address', 'device_owner', 'revision_number'])
    .where('network_id', '=', subnet.network_id)
    .execute();
  const updated: string[] = [];
  for (const p of ports) {
    if (ROUTER_INTERFACE_OWNERS_SNAT.includes(p.device_owner)) continue;
    if (
      s.service_types.length &&
      !s.service_types.includes(p.device_owner) &&
      !(s.enable_dhcp && p.device_owner === 'network:dhcp')
    )
      continue;
    const ip = formatIp(6, eui64(s.cidr, p.mac_address));
    const r = await tx
      .insertInto('ipallocations')
      .values({ subnet_id: s.id, ip_address: ip, network_id: s.network_id, port_id: p.id })
      .onConflict((oc) => oc.columns(['subnet_id', 'ip_address']).doNothing())
      .executeTakeFirst();
    if (Number(r.numInsertedOrUpdatedRows ?? 0n)) {
      await tx
        .updateTable('ports')
        .set({ revision_number: Number(p.revision_number) + 1 })
        .where('id', '=', p.id)
        .execute();
      updated.push(p.id);
    }
  }
  return updated;
}

/** A subnet added to or removed from a network changes the network: its revision moves (revision plugin). */
async function bumpNetwork(tx: Transaction<NetworkDb>, networkId: string) {
  const n = await tx.selectFrom('networks').select('revision_number').where('id', '=', networkId).executeTakeFirst();
  if (n)
    await tx
      .updateTable('networks')
      .set({ revision_number: Number(n.revision_number) + 1, updated_at: timestamp() })
      .where('id', '=', networkId)
      .execute();
}

const TOUCHED_PORTS = Symbol('touched-ports');
/** Ports a new auto-address subnet gave an address, from the transaction to the after-commit notifications. */
const touchedByNewSubnet = new Map<string, string[]>();

export function defineSubnets(svc: NetworkService) {
  svc.define({
    singular: 'subnet',
    plural: 'subnets',
    table: 'subnets',
    quota: 'subnet',
    notFound: notFound.subnet,
    attrs: {
      name: { post: true, put: true, default: '', validate: (v, n) => toString(v, n, 255) },
      network_id: { post: true, required: true, validate: (v, n) => toUuid(v, n) },
      ip_version: { type: 'integer', post: true, required: true, validate: toIpVersion },
      cidr: { post: true, validate: (v, n) => (v === null ? null : toSubnetCidr(v, n)) },
      prefixlen: {
        type: 'integer',
        column: false,
        post: true,
        visible: false,
        filter: false,
        validate: (v, n) => toNonNegative(v, n),
      },
      subnetpool_id: { post: true, validate: (v, n) => toUuidOrNull(v, n) },
      use_default_subnetpool: {
        type: 'boolean',
        column: false,
        post: true,
        visible: false,
        filter: false,
        default: false,
        validate: (v, n) => toBoolean(v, n),
      },
      gateway_ip: { post: true, put: true, validate: toIpOrNull },
      allocation_pools: { type: 'json', post: true, put: true, filter: false, validate: toPools },
      dns_nameservers: { type: 'json', post: true, put: true, filter: false, default: [], validate: toNameservers },
      host_routes: { type: 'json', post: true, put: true, filter: false, default: [], validate: toHostRoutes },
      enable_dhcp: { type: 'boolean', post: true, put: true, default: true, validate: (v, n) => toBoolean(v, n) },
      ipv6_ra_mode: {
        post: true,
        default: null,
        validate: (v, n) => (v === null ? null : toEnumStr(v, n, IPV6_MODES)),
      },
      ipv6_address_mode: {
        post: true,
        default: null,
        validate: (v, n) => (v === null ? null : toEnumStr(v, n, IPV6_MODES)),
      },
      // Upstream's definitions carry no enforce_policy here: their create/update rules never apply.
      segment_id: {
        post: true,
        put: true,
        default: null,
        enforcePolicy: false,
        validate: (v, n) => toUuidOrNull(v, n),
      },
      service_types: {
        type: 'json',
        post: true,
        put: true,
        filter: false,
        default: [],
        enforcePolicy: false,
        validate: toServiceTypes,
      },
      shared: { type: 'boolean', column: false, visible: false },
    },
    scope: (q, ctx) =>
      q.where((eb) =>
        eb.or([
          eb('subnets.project_id', '=', projectOf(ctx)),
          rbacGrants(eb, 'network', 'subnets.network_id', projectOf(ctx), ['access_as_shared']),
        ]),
      ),
    filters: {
      shared: boolFilter((eb, ctx) =>
        rbacGrants(eb, 'network', 'subnets.network_id', projectOf(ctx), ['access_as_shared']),
      ),
    },
    async expand(views, ctx, tx) {
      const netIds = [...new Set(views.map((v) => v.network_id))];
      const nets = new Map(
        (
          await inChunks(netIds, (c) =>
            tx
              .selectFrom('networks')
              .select(['id', 'project_id', 'name', 'router_external'])
              .where('id', 'in', c)
              .execute(),
          )
        ).map((n) => [n.id, n]),
      );
      const shared = await grantedIds(tx, 'network', netIds, projectOf(ctx), 'access_as_shared');
      for (const v of views) {
        const n = nets.get(v.network_id);
        v.shared = shared.has(v.network_id);
        setHidden(v, NET_INFO, {
          project_id: n?.project_id ?? '',
          shared: v.shared,
          external: !!Number(n?.router_external),
          name: n?.name ?? '',
        } satisfies NetInfo);
        v.cidr = formatCidr(parseCidr(v.cidr)!);
      }
    },
    async target(view, ctx) {
      const info = hidden<NetInfo>(view, NET_INFO);
      if (info)
        return {
          'network:tenant_id': info.project_id,
          'network:project_id': info.project_id,
          'network:shared': info.shared,
          shared: info.shared,
        };
      const n = await svc.db
        .selectFrom('networks')
        .select('project_id')
        .where('id', '=', view.network_id ?? '')
        .executeTakeFirst();
      const shared = n
        ? (await grantedIds(svc.db, 'network', [view.network_id], projectOf(ctx), 'access_as_shared')).has(
            view.network_id,
          )
        : false;
      return n
        ? { 'network:tenant_id': n.project_id, 'network:project_id': n.project_id, 'network:shared': shared, shared }
        : {};
    },
    checkCreate: networkOwnershipCheck(svc),
    async beforeCreate(values, ctx, tx) {
      const net = await visibleNetwork(svc, ctx, tx, values.network_id);
      await lockRow(tx, 'networks', net.id);
      if (isSet(values.cidr) && isSet(values.prefixlen))
        throw badRequest('subnets', 'cidr and prefixlen must not be supplied together');
      let cidr = isSet(values.cidr) ? parseCidr(values.cidr)! : undefined;
      // _get_subnetpool_id
      if (values.use_default_subnetpool && isSet(values.subnetpool_id))
        throw badRequest('subnets', 'subnetpool_id and use_default_subnetpool cannot both be specified');
      let poolId: string | null = values.subnetpool_id ?? null;
      if (!poolId && values.use_default_subnetpool) {
        const version = cidr ? cidr.version : values.ip_version;
        const def = await tx
          .selectFrom('subnetpools')
          .select('id')
          .where('is_default', '=', 1)
          .where('ip_version', '=', version)
          .executeTakeFirst();
        if (!def) throw badRequest('subnets', `No default subnetpool found for IPv${version}`);
        poolId = def.id;
      }
      if (!poolId && !cidr) throw badRequest('subnets', 'a subnetpool must be specified in the absence of a cidr');
      let pool: SubnetPoolRow | null = null;
      let gatewayDefault: bigint | null;
      if (poolId) {
        pool = await visibleSubnetpool(svc, ctx, tx, poolId);
        if (!cidr && isSet(values.allocation_pools))
          throw badRequest('subnets', 'allocation_pools allowed only for specific subnet requests.');
        if (Number(pool.ip_version) !== values.ip_version)
          throw badRequest(
            'subnets',
            `Cannot allocate IPv${values.ip_version} subnet from IPv${pool.ip_version} subnet pool`,
          );
        if (cidr && cidr.version !== values.ip_version) throw versionMismatch('cidr', values.cidr, values.ip_version);
        if (!cidr && isSet(values.gateway_ip))
          cidr = parseCidr(`${values.gateway_ip}/${values.prefixlen ?? pool.default_prefixlen}`)!;
        cidr = await allocateFromPool(tx, pool, { cidr, prefixlen: values.prefixlen, projectId: values.project_id });
        gatewayDefault = defaultGateway(cidr);
      } else {
        if (cidr!.version !== values.ip_version) throw versionMismatch('cidr', values.cidr, values.ip_version);
        gatewayDefault = defaultGateway(cidr!);
      }
      cidr = cidr!;
      values.cidr = formatCidr(cidr);
      values.subnetpool_id = poolId;
      if (values.gateway_ip === undefined)
        values.gateway_ip = gatewayDefault === null ? null : formatIp(cidr.version, gatewayDefault);
      validateSubnet(values, cidr);
      let pools: IpRange[];
      if (isSet(values.allocation_pools)) {
        pools = validatePools(values.allocation_pools, cidr);
        if (values.gateway_ip) checkGatewayOutOfPools(values.gateway_ip, pools);
      } else pools = defaultAllocationPools(cidr, values.gateway_ip ? parseIp(values.gateway_ip)!.value : null);
      values.allocation_pools = poolsJson(pools);
      await checkNetworkSubnets(tx, net.id, cidr, values.ip_version, pool);
      await checkSegment(tx, net.id, values.segment_id, values.id);
    },
    async afterCreate(view, _values, _req, tx) {
      await bumpNetwork(tx, view.network_id);
      if (isAutoAddressSubnet(view)) touchedByNewSubnet.set(view.id, await addAutoAddresses(tx, view));
    },
    async beforeUpdate(existing, changes, _req, tx) {
      const cidr = parseCidr(existing.cidr)!;
      const s = { ...changes, id: existing.id, ip_version: existing.ip_version, cidr: existing.cidr };
      validateSubnet(s, cidr, existing);
      if (isSet(changes.gateway_ip) && changes.gateway_ip !== existing.gateway_ip && existing.gateway_ip) {
        const held = await tx
          .selectFrom('ipallocations')
          .innerJoin('ports', 'ports.id', 'ipallocations.port_id')
          .select('ports.id')
          .where('ipallocations.subnet_id', '=', existing.id)
          .where('ipallocations.ip_address', '=', existing.gateway_ip)
          .where('ports.device_owner', 'in', ROUTER_INTERFACE_OWNERS)
          .executeTakeFirst();
        if (held)
          throw new ApiError(
            409,
            `Current gateway ip ${existing.gateway_ip} already in use by port ${held.id}. Unable to update.`,
            'GatewayIpInUse',
          );
      }
      let pools = existing.allocation_pools.map(
        (p: { start: string; end: string }) => rangeFromStrings(p.start, p.end)!,
      );
      if (changes.allocation_pools !== undefined && changes.allocation_pools !== null) {
        pools = validatePools(changes.allocation_pools, cidr);
        changes.allocation_pools = poolsJson(pools);
      } else delete changes.allocation_pools;
      const gateway = changes.gateway_ip !== undefined ? changes.gateway_ip : existing.gateway_ip;
      if ((gateway !== existing.gateway_ip || changes.allocation_pools !== undefined) && gateway)
        checkGatewayOutOfPools(gateway, pools);
      if (changes.segment_id !== undefined && changes.segment_id !== existing.segment_id) {
        if (existing.segment_id)
          throw new ApiError(
            400,
            'A subnet that is already associated with a segment cannot have its segment association changed.',
            'SubnetSegmentAssociationChangeNotAllowed',
          );
        await checkSegment(tx, existing.network_id, changes.segment_id, existing.id);
      }
    },
    async beforeDelete(existing, _req, tx) {
      // An allocation racing the delete (the DHCP agent's port, on PostgreSQL) commits before we
      // look, or waits for us and then finds no subnet: never a half-deleted subnet.
      await lockRow(tx, 'subnets', existing.id);
      const allocs = await tx
        .selectFrom('ipallocations')
        .innerJoin('ports', 'ports.id', 'ipallocations.port_id')
        .select(['ports.id as port_id', 'ports.device_owner'])
        .where('ipallocations.subnet_id', '=', existing.id)
        .execute();
      const inUse = () =>
        new ApiError(
          409,
          `Unable to complete operation on subnet ${existing.id}: One or more ports have an IP allocation from this subnet.`,
          'SubnetInUse',
        );
      if (allocs.some((a) => ROUTER_INTERFACE_OWNERS.includes(a.device_owner))) throw inUse();
      if (!isAutoAddressSubnet(existing) && allocs.some((a) => !AUTO_DELETE_PORT_OWNERS.includes(a.device_owner)))
        throw inUse();
      await tx.deleteFrom('ipallocations').where('subnet_id', '=', existing.id).execute();
      const touched = [...new Set(allocs.map((a) => a.port_id))];
      for (const id of touched) {
        const p = await tx.selectFrom('ports').select('revision_number').where('id', '=', id).executeTakeFirst();
        if (p)
          await tx
            .updateTable('ports')
            .set({ revision_number: Number(p.revision_number) + 1 })
            .where('id', '=', id)
            .execute();
      }
      setHidden(existing, TOUCHED_PORTS, touched);
      await bumpNetwork(tx, existing.network_id);
    },
    async committed(event, view, ctx) {
      svc.notifier.dhcpChanged(`subnet.${event}.end`, view.network_id, view);
      const touched = hidden<string[]>(view, TOUCHED_PORTS) ?? touchedByNewSubnet.get(view.id) ?? [];
      touchedByNewSubnet.delete(view.id);
      if (touched.length) {
        const ports = svc.resource('ports');
        for (const id of touched) {
          try {
            svc.notifier.portUpdated(await ports.loadInTx(id, ctx, svc.db));
          } catch {
            /* deleted meanwhile */
          }
        }
      }
    },
  });
}

function toEnumStr(v: unknown, n: string, values: string[]): string {
  if (typeof v !== 'string' || !values.includes(v))
    throw badInput(n, `'${pyStr(v)}' is not in [${values.map((x) => `'${x}'`).join(', ')}]`);
  return v;
}
