// Routers as Zed's L3 router plugin answers them (neutron/db/l3_db.py, l3_gwmode_db.py,
// extraroute_db.py): the external gateway (a network:router_gateway port on an external network,
// with SNAT on by default), interfaces (network:router_interface ports, one per subnet, holding
// the subnet's gateway IP), extra routes whose next hop must sit on a connected subnet, and the
// extraroute-atomic actions. HA routers are not supported: `ha` reads false (admins only, as
// upstream's policy) and only false is accepted; `distributed` and `flavor_id` are api/router_extra.ts's.
import type { FastifyInstance } from 'fastify';
import type { Transaction } from 'kysely';
import { ApiError } from '../../core/errors.ts';
import {
  cidrContains,
  cidrsOverlap,
  formatCidr,
  ipInRanges,
  parseCidr,
  parseIp,
  rangeFromStrings,
  type IpRange,
} from '../../core/netaddr.ts';
import type { NetworkService } from '../service.ts';
import { bumpRevision, type ResourceSpec, type Tx } from './resource.ts';
import type { GatewayInfo, PortResource, RouterResource } from './types.ts';
import type { FixedIpRequest } from '../ipam.ts';
import { badInput, invalidInput, toBoolean, toString, toUniqueStrings, toUuid } from './validate.ts';
import { pyStr } from '../../core/python.ts';
import { UUID_LIKE } from '../../core/validate.ts';
import {
  badRequest,
  createPort,
  DEVICE_OWNER_ROUTER_GW,
  DEVICE_OWNER_ROUTER_INTF,
  fixedIpsOf,
  flushAfterCommit,
  inTransaction,
  portView,
  pyRepr,
  removePort,
  ROUTER_INTERFACE_OWNERS,
  subnetRows,
  updatePort,
  type FixedIp,
  type SubnetRow,
} from './l3_common.ts';
import { lockRow, portInUse } from './core_common.ts';
import { NetworkContext } from '../context.ts';
import type { NetworkDb } from '../db/schema.ts';

/** neutron.conf max_routes. */
const MAX_ROUTES = 30;

export const routerNotFound = (id: string) => new ApiError(404, `Router ${id} could not be found`, 'RouterNotFound');

// ---- attribute validators ----------------------------------------------------------------

/** Python's repr of a set of strings, as _verify_dict_keys prints it. */
const pySet = (keys: string[]) => (keys.length ? `{${keys.map((k) => `'${k}'`).join(', ')}}` : 'set()');

function validateFixedIps(v: unknown): string | undefined {
  if (!Array.isArray(v)) return `Invalid data format for fixed IP: '${pyStr(v)}'`;
  const ips: unknown[] = [];
  for (const f of v) {
    if (!f || typeof f !== 'object' || Array.isArray(f)) return `Invalid data format for fixed IP: '${pyStr(f)}'`;
    const o = f as Record<string, unknown>;
    if ('ip_address' in o) {
      if (ips.includes(o.ip_address)) return `Duplicate IP address '${pyStr(o.ip_address)}'`;
      if (!parseIp(o.ip_address)) return `'${pyStr(o.ip_address)}' is not a valid IP address`;
      ips.push(o.ip_address);
    }
    if ('subnet_id' in o && (typeof o.subnet_id !== 'string' || !UUID_LIKE.test(o.subnet_id)))
      return `'${pyStr(o.subnet_id)}' is not a valid UUID`;
  }
  return undefined;
}

/** type:dict_or_nodata of l3_ext_gw_mode's external_gateway_info; an empty dict or null clears the gateway. */
export function validateGatewayInfo(v: unknown, name: string): Record<string, unknown> | null {
  if (!v || (typeof v === 'object' && !Array.isArray(v) && !Object.keys(v).length) || (Array.isArray(v) && !v.length))
    return null;
  if (typeof v !== 'object' || Array.isArray(v)) throw badInput(name, `'${pyStr(v)}' is not a dictionary`);
  const d = v as Record<string, unknown>;
  if (!('network_id' in d))
    throw badInput(
      name,
      `Validation of dictionary's keys failed. Expected keys: {'network_id'} Provided keys: ${pySet(Object.keys(d))}`,
    );
  const unexpected = Object.keys(d).filter((k) => !['network_id', 'enable_snat', 'external_fixed_ips'].includes(k));
  if (unexpected.length) throw badInput(name, `Unexpected keys supplied: ${unexpected.join(', ')}`);
  const out: Record<string, unknown> = { network_id: toUuid(d.network_id, name) };
  if ('enable_snat' in d) {
    try {
      out.enable_snat = toBoolean(d.enable_snat, name);
    } catch {
      throw invalidInput(`'${pyStr(d.enable_snat)}' cannot be converted to boolean`);
    }
  }
  if ('external_fixed_ips' in d) {
    const msg = validateFixedIps(d.external_fixed_ips);
    if (msg) throw badInput(name, msg);
    out.external_fixed_ips = d.external_fixed_ips;
  }
  return out;
}

export interface Route {
  destination: string;
  nexthop: string;
}

/** validate_route_cidr: a CIDR without host bits, not loopback. */
function routeCidrError(d: unknown): string | undefined {
  const c = typeof d === 'string' && !/\s/.test(d) ? parseCidr(d, { allowBareIp: true }) : null;
  if (!c) return `'${pyStr(d)}' is not a valid CIDR`;
  const ip = parseIp((d as string).split('/')[0]);
  if (!(d as string).includes('/') || (ip && ip.value !== c.network))
    return `'${d}' is not a recognized CIDR, '${formatCidr(c)}' is recommended`;
  const loopback =
    c.version === 4 ? c.network >> 24n === 127n && c.prefixlen >= 8 : c.network === 1n && c.prefixlen === 128;
  if (loopback) return `'${d}' is not a routable CIDR`;
  return undefined;
}

/** type:hostroutes (None means no routes); destinations and next hops come back normalized. */
export function validateRoutes(v: unknown, name: string): Route[] {
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v))
    throw badInput(name, `Invalid data format for hostroute: '${typeof v === 'string' ? v : pyRepr(v)}'`);
  const seen: string[] = [];
  const out: Route[] = [];
  for (const r of v) {
    if (!r || typeof r !== 'object' || Array.isArray(r))
      throw badInput(
        name,
        `Invalid input. '${typeof r === 'string' ? r : pyRepr(r)}' must be a dictionary with keys: ['destination', 'nexthop']`,
      );
    const keys = Object.keys(r);
    if (keys.length !== 2 || !keys.includes('destination') || !keys.includes('nexthop')) {
      throw badInput(
        name,
        `Validation of dictionary's keys failed. Expected keys: {'destination', 'nexthop'} Provided keys: ${pySet(keys)}`,
      );
    }
    const { destination, nexthop } = r as Record<string, unknown>;
    const err = routeCidrError(destination);
    if (err) throw badInput(name, err);
    const hop = parseIp(nexthop);
    if (!hop) throw badInput(name, `'${pyStr(nexthop)}' is not a valid IP address`);
    const key = JSON.stringify([destination, nexthop]);
    if (seen.includes(key)) throw badInput(name, `Duplicate hostroute '${pyRepr(r)}'`);
    seen.push(key);
    out.push({ destination: formatCidr(parseCidr(destination)!), nexthop: normalizeIpString(nexthop as string) });
  }
  return out;
}

const normalizeIpString = (s: string) => {
  const c = parseCidr(s, { allowBareIp: true });
  return c ? formatCidr(c).split('/')[0]! : s;
};

/** convert_to_boolean_if_not_none */
const boolOrNone = (v: unknown, name: string) => (v === null ? null : toBoolean(v, name));

/** HA needs agents this cloud does not have: the attribute exists (admins only, by policy) but only false is accepted. */
function checkNotHa(values: Record<string, unknown>) {
  if (values.ha) throw badRequest('router', 'HA routers are not supported by this deployment');
  delete values.ha;
}

function validateAzHints(v: unknown, name: string): string[] {
  const l = toUniqueStrings(v, name, 255);
  if (l.join(',').length > 255) throw invalidInput('Too many availability_zone_hints specified');
  return l;
}

// ---- reads ----------------------------------------------------------------------------------

interface RouterPort {
  id: string;
  network_id: string;
  device_owner: string;
  project_id: string | null;
  fixed_ips: FixedIp[];
}

/** The ports a router owns: its interfaces and its gateway (or only those of `owners`). */
export async function routerPorts(
  tx: Tx,
  routerId: string,
  owners: string[] = [...ROUTER_INTERFACE_OWNERS, DEVICE_OWNER_ROUTER_GW],
): Promise<RouterPort[]> {
  const rows = await tx
    .selectFrom('ports')
    .select(['id', 'network_id', 'device_owner', 'project_id'])
    .where('device_id', '=', routerId)
    .where('device_owner', 'in', owners)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  const ips = await fixedIpsOf(
    tx,
    rows.map((r) => r.id),
  );
  return rows.map((r) => ({ ...r, fixed_ips: ips.get(r.id) ?? [] }));
}

const isV6 = (ip: string) => parseIp(ip)?.version === 6;

// ---- checks shared by gateways, interfaces and routes ---------------------------------------

/** _check_for_dup_router_subnets: one port per subnet on a router, and no overlapping cidrs. */
async function checkDupRouterSubnets(
  tx: Tx,
  routerId: string,
  newSubnets: Array<{ id: string; cidr: string }>,
  exceptPortId?: string,
) {
  const newIds = new Set(newSubnets.map((s) => s.id));
  const routerSubnetIds: string[] = [];
  for (const p of await routerPorts(tx, routerId)) {
    if (p.id === exceptPortId) continue;
    for (const ip of p.fixed_ips) {
      if (newIds.has(ip.subnet_id)) throw badRequest('router', `Router already has a port on subnet ${ip.subnet_id}`);
      if (p.device_owner === DEVICE_OWNER_ROUTER_GW)
        routerSubnetIds.push(...(await subnetRows(tx, { networkIds: [p.network_id] })).map((s) => s.id));
      else routerSubnetIds.push(ip.subnet_id);
    }
  }
  for (const sub of await subnetRows(tx, { ids: [...new Set(routerSubnetIds)] })) {
    const a = parseCidr(sub.cidr);
    for (const s of newSubnets) {
      const b = parseCidr(s.cidr);
      if (a && b && cidrsOverlap(a, b))
        throw badRequest(
          'router',
          `Cidr ${s.cidr} of subnet ${s.id} overlaps with cidr ${sub.cidr} of subnet ${sub.id}`,
        );
    }
  }
}

/** _validate_routes: at most MAX_ROUTES, each next hop on a connected subnet and not the router's own address. */
function checkRoutes(routerId: string, routes: Route[], cidrs: string[], ips: string[]) {
  if (routes.length > MAX_ROUTES)
    throw new ApiError(
      400,
      `Unable to complete operation for ${routerId}. The number of routes exceeds the maximum ${MAX_ROUTES}.`,
      'RoutesExhausted',
    );
  const nets = cidrs.map((c) => parseCidr(c)).filter((c) => c !== null);
  for (const r of routes) {
    const hop = parseIp(r.nexthop)!;
    if (!nets.some((n) => cidrContains(n, hop)))
      throw new ApiError(
        400,
        `Invalid format for routes: ${pyRepr(routes)}, the nexthop is not connected with router`,
        'InvalidRoutes',
      );
    if (ips.includes(r.nexthop))
      throw new ApiError(
        400,
        `Invalid format for routes: ${pyRepr(routes)}, the nexthop is used by router`,
        'InvalidRoutes',
      );
  }
}

async function checkRoutesAgainstPorts(tx: Tx, routerId: string, routes: Route[]) {
  if (!routes.length) return;
  const ports = await routerPorts(tx, routerId);
  const subnets = await subnetRows(tx, {
    ids: [...new Set(ports.flatMap((p) => p.fixed_ips.map((f) => f.subnet_id)))],
  });
  checkRoutes(
    routerId,
    routes,
    subnets.map((s) => s.cidr),
    ports.flatMap((p) => p.fixed_ips.map((f) => f.ip_address)),
  );
}

/** What the address mode check reads of a subnet. */
type AddressModeSubnet = {
  id: string;
  ip_version: number;
  ipv6_ra_mode: string | null;
  ipv6_address_mode: string | null;
};

function subnetAddressModeCheck(s: AddressModeSubnet) {
  if (Number(s.ip_version) === 6 && !s.ipv6_ra_mode && s.ipv6_address_mode) {
    // Upstream's message ends with a period and BadRequest adds another.
    throw badRequest(
      'router',
      `IPv6 subnet ${s.id} configured to receive RAs from an external router cannot be added to Neutron Router.`,
    );
  }
}

// ---- the external gateway --------------------------------------------------------------------

interface GatewayRouter {
  id: string;
  project_id: string;
  gw_port_id?: string | null;
  routes?: Route[];
}

async function isExternal(tx: Tx, networkId: string): Promise<boolean> {
  const r = await tx.selectFrom('networks').select('router_external').where('id', '=', networkId).executeTakeFirst();
  return !!r && Number(r.router_external) === 1;
}

/** _validate_gw_info: the network must be external, the addresses not a subnet's gateway, the routes still reachable. */
async function validateGateway(
  svc: NetworkService,
  ctx: NetworkContext,
  info: GatewayInfo | null | undefined,
  extIps: FixedIpRequest[],
  router: GatewayRouter,
  tx: Tx,
): Promise<string | null> {
  const networkId: string | null = info ? info.network_id : null;
  let gwSubnets: SubnetRow[] = [];
  if (networkId) {
    await svc.resource('networks').load(ctx, networkId, tx);
    if (!(await isExternal(tx, networkId)))
      throw badRequest('router', `Network ${networkId} is not an external network`);
    gwSubnets = await subnetRows(tx, { networkIds: [networkId] });
    for (const ext of extIps) {
      if (ext.ip_address && gwSubnets.some((s) => s.gateway_ip && s.gateway_ip === ext.ip_address)) {
        throw badRequest('router', `External IP ${ext.ip_address} is the same as the gateway IP`);
      }
    }
  }
  if (router.routes?.length) {
    const ports = (await routerPorts(tx, router.id)).filter((p) => p.id !== router.gw_port_id);
    const subnets = await subnetRows(tx, {
      ids: [...new Set(ports.flatMap((p) => p.fixed_ips.map((f) => f.subnet_id)))],
    });
    checkRoutes(
      router.id,
      router.routes,
      [...subnets.map((s) => s.cidr), ...gwSubnets.map((s) => s.cidr)],
      ports.flatMap((p) => p.fixed_ips.map((f) => f.ip_address)),
    );
  }
  return networkId;
}

async function floatingIpsOfRouter(tx: Tx, routerId: string): Promise<number> {
  const r = await tx
    .selectFrom('floatingips')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('router_id', '=', routerId)
    .executeTakeFirst();
  return Number(r?.n ?? 0);
}

async function deleteGatewayPort(
  svc: NetworkService,
  ctx: NetworkContext,
  routerId: string,
  gw: PortResource,
  tx: Transaction<NetworkDb>,
) {
  if (await floatingIpsOfRouter(tx, routerId)) {
    throw new ApiError(
      409,
      `Gateway cannot be updated for router ${routerId}, since a gateway to external network ${gw.network_id} is required by one or more floating IPs.`,
      'RouterExternalGatewayInUseByFloatingIp',
    );
  }
  await removePort(svc, ctx, gw, tx);
}

/** _update_router_gw_info: creates, moves, readdresses or removes the gateway port; returns the router's new columns. */
async function setGateway(
  svc: NetworkService,
  ctx: NetworkContext,
  router: GatewayRouter,
  info: GatewayInfo | null | undefined,
  tx: Transaction<NetworkDb>,
): Promise<{ gw_port_id: string | null; enable_snat: boolean }> {
  const enableSnat = info && info.enable_snat !== undefined ? !!info.enable_snat : true;
  const extIps = info?.external_fixed_ips ?? [];
  await lockRow(tx, 'routers', router.id);
  const current = await tx.selectFrom('routers').select('gw_port_id').where('id', '=', router.id).executeTakeFirst();
  if (current) router = { ...router, gw_port_id: current.gw_port_id };
  let gw = router.gw_port_id ? await portView(svc, ctx, router.gw_port_id, tx) : undefined;
  const networkId = await validateGateway(svc, ctx, info, extIps, router, tx);
  if (gw && extIps.length && ipsChanged(gw.fixed_ips ?? [], extIps) && gw.network_id === networkId) {
    gw = await updatePort(svc, ctx, gw, { fixed_ips: extIps }, tx);
  } else {
    if (gw && gw.network_id !== networkId) {
      await deleteGatewayPort(svc, ctx, router.id, gw, tx);
      gw = undefined;
    }
    if (networkId && !gw) {
      const subnets = await subnetRows(tx, { networkIds: [networkId] });
      await checkDupRouterSubnets(tx, router.id, subnets);
      gw = await createPort(
        svc,
        ctx,
        {
          project_id: router.project_id,
          network_id: networkId,
          device_id: router.id,
          device_owner: DEVICE_OWNER_ROUTER_GW,
          admin_state_up: true,
          name: '',
          ...(extIps.length ? { fixed_ips: extIps } : {}),
        },
        tx,
        '',
      );
    }
  }
  return { gw_port_id: gw?.id ?? null, enable_snat: enableSnat };
}

/** _check_for_external_ip_change */
function ipsChanged(current: FixedIp[], wanted: Array<Partial<FixedIp>>): boolean {
  const same = (a: Set<string>, b: Set<string>) => a.size === b.size && [...a].every((x) => b.has(x));
  const subnets = new Set(wanted.filter((f) => f.subnet_id).map((f) => f.subnet_id!));
  if (!same(new Set(current.map((f) => f.subnet_id)), subnets)) return true;
  return !same(
    new Set(current.map((f) => f.ip_address)),
    new Set(wanted.filter((f) => f.ip_address).map((f) => f.ip_address!)),
  );
}

// ---- interfaces ------------------------------------------------------------------------------

export interface InterfaceInfo {
  id: string;
  tenant_id: string;
  project_id: string;
  port_id: string;
  network_id: string;
  subnet_id: string;
  subnet_ids: string[];
  tags: string[];
}

/** What an interface's info shows of its port. */
type InterfacePort = { id: string; project_id: string; network_id: string; tags?: string[] };

const interfaceInfo = (
  routerId: string,
  port: InterfacePort,
  subnetId: string,
  subnetIds: string[],
): InterfaceInfo => ({
  id: routerId,
  tenant_id: port.project_id,
  project_id: port.project_id,
  port_id: port.id,
  network_id: port.network_id,
  subnet_id: subnetId,
  subnet_ids: subnetIds,
  tags: port.tags ?? [],
});

/** _validate_interface_info */
function parseInterfaceInfo(body: unknown, forRemoval: boolean): { port_id?: string; subnet_id?: string } {
  const info = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  const byPort = 'port_id' in info,
    bySubnet = 'subnet_id' in info;
  if (!byPort && !bySubnet) throw badRequest('router', 'Either subnet_id or port_id must be specified');
  for (const k of ['port_id', 'subnet_id']) {
    if (k in info && (typeof info[k] !== 'string' || !UUID_LIKE.test(info[k] as string)))
      throw badRequest('router', `'${pyStr(info[k])}' is not a valid UUID`);
  }
  if (!forRemoval && byPort && bySubnet) throw badRequest('router', 'Cannot specify both subnet-id and port-id');
  return {
    ...(byPort ? { port_id: info.port_id as string } : {}),
    ...(bySubnet ? { subnet_id: info.subnet_id as string } : {}),
  };
}

/** _validate_port_in_range_or_admin: a project may plug a port of another project's subnet only with a pool address. */
function checkPortInRange(svc: NetworkService, ctx: NetworkContext, subnets: SubnetRow[], port: PortResource) {
  if (svc.isAdmin(ctx)) return;
  for (const f of port.fixed_ips) {
    const s = subnets.find((x) => x.id === f.subnet_id);
    if (!s) continue;
    const pools = s.allocation_pools
      .map((p) => rangeFromStrings(p.start, p.end))
      .filter((r): r is IpRange => r !== null);
    const ip = parseIp(f.ip_address);
    if (ip && !ipInRanges(ip, pools) && ctx.projectId !== s.project_id) {
      throw badRequest(
        'router',
        `Cannot add interface to router because specified port ${port.id} has an IP address out of the allocation pool of subnet ${s.id}, which is not owned by the project making the request`,
      );
    }
  }
}

/**
 * Before a change of a router's interfaces: one change of its ports at a time (a row lock on PostgreSQL;
 * SQLite writes one transaction at a time), and its revision moves with them, as upstream's revision
 * plugin bumps the port's router.
 */
async function changingInterfaces(tx: Tx, routerId: string) {
  await lockRow(tx, 'routers', routerId);
  await bumpRevision(tx, 'routers', routerId);
}

/** A change of a router's interfaces, by a port or a subnet, inside a transaction. */
type InterfaceChange = (
  svc: NetworkService,
  ctx: NetworkContext,
  router: RouterResource,
  info: { port_id?: string; subnet_id?: string },
  tx: Transaction<NetworkDb>,
) => Promise<InterfaceInfo>;

/** add_router_interface (l3_db.py) inside a transaction. */
export const addInterface: InterfaceChange = async (svc, ctx, router, info, tx) => {
  await changingInterfaces(tx, router.id);
  if (info.port_id) {
    const port = await svc.resource('ports').load(ctx, info.port_id, tx);
    if (port.device_id) throw portInUse(port);
    const fixed = (port.fixed_ips ?? []) as FixedIp[];
    if (!fixed.length) throw badRequest('router', 'Router port must have at least one fixed IP');
    const bySubnet = new Map(
      (await subnetRows(tx, { ids: [...new Set(fixed.map((f) => f.subnet_id))] })).map((s) => [s.id, s]),
    );
    const subnets = fixed.map((f) => bySubnet.get(f.subnet_id)!).filter((s, i, a) => s && a.indexOf(s) === i);
    for (const s of subnets) subnetAddressModeCheck(s);
    if (fixed.some((f) => isV6(f.ip_address))) {
      for (const p of await routerPorts(tx, router.id)) {
        if (p.network_id === port.network_id && p.fixed_ips.some((f) => isV6(f.ip_address))) {
          throw badRequest(
            'router',
            `Cannot have multiple router ports with the same network id if both contain IPv6 subnets. Existing port ${p.id} has IPv6 subnet(s) and network id ${p.network_id}`,
          );
        }
      }
    }
    await checkDupRouterSubnets(tx, router.id, subnets, port.id);
    if (subnets.filter((s) => s.ip_version === 4).length > 1)
      throw badRequest('router', 'Cannot have multiple IPv4 subnets on router port');
    checkPortInRange(svc, ctx, subnets, port);
    await updatePort(svc, ctx, port, { device_id: router.id, device_owner: DEVICE_OWNER_ROUTER_INTF }, tx);
    return interfaceInfo(
      router.id,
      port as InterfacePort,
      subnets[subnets.length - 1]!.id,
      subnets.map((s) => s.id),
    );
  }
  const subnet = await svc.resource('subnets').load(ctx, info.subnet_id!, tx);
  if (!subnet.gateway_ip) throw badRequest('router', 'Subnet for router interface must have a gateway IP');
  if (subnet.project_id !== ctx.projectId && !svc.isAdmin(ctx)) {
    // Shared to this project by RBAC: allowed; shared to everyone ('*'): not (LP 1757482 / 1975603).
    const rbac = await tx
      .selectFrom('rbac_policies')
      .select('id')
      .where('object_type', '=', 'network')
      .where('object_id', '=', subnet.network_id)
      .where('action', '=', 'access_as_shared')
      .where('target_tenant', '=', ctx.projectId ?? '')
      .executeTakeFirst();
    if (!rbac)
      throw badRequest(
        'router',
        `Cannot add interface to router because subnet ${subnet.id} is not owned by project making the request`,
      );
  }
  subnetAddressModeCheck(subnet as AddressModeSubnet);
  await checkDupRouterSubnets(tx, router.id, [{ id: subnet.id, cidr: subnet.cidr }]);
  const fixedIp = { subnet_id: subnet.id, ip_address: subnet.gateway_ip };
  if (Number(subnet.ip_version) === 6) {
    // Another IPv6 prefix of a network the router is on goes to the same port.
    const existing = (await routerPorts(tx, router.id, [DEVICE_OWNER_ROUTER_INTF])).find(
      (p) => p.network_id === subnet.network_id && p.fixed_ips.some((f) => isV6(f.ip_address)),
    );
    if (existing) {
      const port = (await portView(svc, ctx, existing.id, tx))!;
      const updated = await updatePort(
        svc,
        ctx,
        port,
        { fixed_ips: [...existing.fixed_ips.map((f) => ({ ...f })), fixedIp] },
        tx,
      );
      return interfaceInfo(router.id, updated as InterfacePort, subnet.id, [subnet.id]);
    }
  }
  const port = await createPort(
    svc,
    ctx,
    {
      project_id: router.project_id,
      network_id: subnet.network_id,
      fixed_ips: [fixedIp],
      admin_state_up: true,
      device_id: router.id,
      device_owner: DEVICE_OWNER_ROUTER_INTF,
      name: '',
    },
    tx,
  );
  return interfaceInfo(router.id, port as InterfacePort, subnet.id, [subnet.id]);
};

/** _confirm_router_interface_not_in_use: floating IPs, port forwardings and extra routes that need the subnet. */
async function confirmInterfaceNotInUse(tx: Tx, routerId: string, subnet: { id: string; cidr: string }) {
  const cidr = parseCidr(subnet.cidr)!;
  const onSubnet = new Set(
    (await tx.selectFrom('ipallocations').select('port_id').where('subnet_id', '=', subnet.id).execute()).map(
      (r) => r.port_id,
    ),
  );
  const inUse = () =>
    new ApiError(
      409,
      `Router interface for subnet ${subnet.id} on router ${routerId} cannot be deleted, as it is required by one or more floating IPs.`,
      'RouterInterfaceInUseByFloatingIP',
    );
  const fips = await tx
    .selectFrom('floatingips')
    .select(['id', 'fixed_ip_address', 'fixed_port_id'])
    .where('router_id', '=', routerId)
    .execute();
  if (fips.length) {
    const pfs = await tx
      .selectFrom('portforwardings')
      .select(['internal_ip_address', 'internal_port_id'])
      .where(
        'floatingip_id',
        'in',
        fips.map((f) => f.id),
      )
      .execute();
    for (const pf of pfs) {
      const ip = parseIp(pf.internal_ip_address);
      if (ip && cidrContains(cidr, ip) && onSubnet.has(pf.internal_port_id)) throw inUse();
    }
  }
  for (const f of fips) {
    const ip = f.fixed_ip_address ? parseIp(f.fixed_ip_address) : null;
    if (ip && cidrContains(cidr, ip) && f.fixed_port_id !== null && onSubnet.has(f.fixed_port_id)) throw inUse();
  }
  const row = await tx.selectFrom('routers').select('routes').where('id', '=', routerId).executeTakeFirst();
  for (const r of JSON.parse(row?.routes ?? '[]') as Route[]) {
    const hop = parseIp(r.nexthop);
    if (hop && cidrContains(cidr, hop)) {
      throw new ApiError(
        409,
        `Router interface for subnet ${subnet.id} on router ${routerId} cannot be deleted, as it is required by one or more routes.`,
        'RouterInterfaceInUseByRoute',
      );
    }
  }
}

/** remove_router_interface (l3_db.py) inside a transaction. */
export const removeInterface: InterfaceChange = async (svc, ctx, router, info, tx) => {
  await changingInterfaces(tx, router.id);
  if (info.port_id) {
    const owned = (await routerPorts(tx, router.id, [DEVICE_OWNER_ROUTER_INTF])).find((p) => p.id === info.port_id);
    if (!owned)
      throw new ApiError(
        404,
        `Router ${router.id} does not have an interface with id ${info.port_id}`,
        'RouterInterfaceNotFound',
      );
    const subnetIds = [...new Set(owned.fixed_ips.map((f) => f.subnet_id))];
    if (info.subnet_id && !subnetIds.includes(info.subnet_id)) {
      throw new ApiError(
        400,
        `Subnet on port ${owned.id} does not match the requested subnet ${info.subnet_id}.`,
        'SubnetMismatchForPort',
      );
    }
    const subnets = await subnetRows(tx, { ids: subnetIds });
    for (const s of subnets) await confirmInterfaceNotInUse(tx, router.id, s);
    const port = (await portView(svc, ctx, owned.id, tx))!;
    await removePort(svc, ctx, port, tx);
    return interfaceInfo(
      router.id,
      port as InterfacePort,
      subnets[0]?.id ?? subnetIds[0]!,
      subnets.map((s) => s.id),
    );
  }
  const subnet = await svc.resource('subnets').load(ctx, info.subnet_id!, tx);
  const ports = (await routerPorts(tx, router.id, [DEVICE_OWNER_ROUTER_INTF])).filter(
    (p) => p.network_id === subnet.network_id,
  );
  if (ports.length) await confirmInterfaceNotInUse(tx, router.id, { id: subnet.id, cidr: subnet.cidr });
  for (const p of ports) {
    const subnetIds = p.fixed_ips.map((f) => f.subnet_id);
    if (!subnetIds.includes(subnet.id)) continue;
    const port = (await portView(svc, ctx, p.id, tx))!;
    if (new Set(subnetIds).size > 1) {
      await updatePort(
        svc,
        ctx,
        port,
        { fixed_ips: p.fixed_ips.filter((f) => f.subnet_id !== subnet.id).map((f) => ({ ...f })) },
        tx,
      );
    } else {
      await removePort(svc, ctx, port, tx);
    }
    return interfaceInfo(router.id, port as InterfacePort, subnet.id, [subnet.id]);
  }
  throw new ApiError(
    404,
    `Router ${router.id} has no interface on subnet ${subnet.id}`,
    'RouterInterfaceNotFoundForSubnet',
  );
};

// ---- the resource ------------------------------------------------------------------------------

export function routersSpec(svc: NetworkService): ResourceSpec<RouterResource> & { plural: 'routers' } {
  return {
    singular: 'router',
    plural: 'routers',
    table: 'routers',
    quota: 'router',
    notFound: routerNotFound,
    attrs: {
      name: { post: true, put: true, default: '', validate: (v, n) => toString(v, n, 255) },
      admin_state_up: { type: 'boolean', post: true, put: true, default: true, validate: (v, n) => toBoolean(v, n) },
      status: {},
      external_gateway_info: {
        column: false,
        post: true,
        put: true,
        default: null,
        filter: false,
        validate: (v, n) => validateGatewayInfo(v, n),
      },
      routes: { type: 'json', put: true, filter: false, validate: (v, n) => validateRoutes(v, n) },
      ha: { column: false, post: true, put: true, filter: false, validate: boolOrNone },
      availability_zone_hints: { type: 'json', post: true, default: [], filter: false, validate: validateAzHints },
      gw_port_id: { visible: false, filter: false },
      enable_snat: { type: 'boolean', visible: false, filter: false },
    },

    async expand(views, _req, tx) {
      const gwIds = views.map((v) => v.gw_port_id).filter(Boolean) as string[];
      const nets = new Map<string, string>();
      for (let i = 0; i < gwIds.length; i += 500) {
        for (const r of await tx
          .selectFrom('ports')
          .select(['id', 'network_id'])
          .where('id', 'in', gwIds.slice(i, i + 500))
          .execute())
          nets.set(r.id, r.network_id);
      }
      const ips = await fixedIpsOf(tx, gwIds);
      for (const v of views) {
        const gw = v.gw_port_id;
        const net = gw ? nets.get(gw) : undefined;
        v.external_gateway_info = net
          ? {
              network_id: net,
              enable_snat: v.enable_snat,
              external_fixed_ips: (ips.get(gw ?? '') ?? []).map((f) => ({
                subnet_id: f.subnet_id,
                ip_address: f.ip_address,
              })),
            }
          : null;
        v.routes ??= [];
        v.ha = false;
      }
    },

    async beforeCreate(values, ctx, tx) {
      checkNotHa(values);
      values.status = 'ACTIVE';
      values.routes = [];
      values.enable_snat = true;
      if (values.external_gateway_info) {
        Object.assign(
          values,
          await setGateway(
            svc,
            ctx,
            { id: values.id, project_id: values.project_id },
            values.external_gateway_info,
            tx,
          ),
        );
      }
    },

    async beforeUpdate(existing, changes, ctx, tx) {
      checkNotHa(changes);
      if ('external_gateway_info' in changes) {
        Object.assign(changes, await setGateway(svc, ctx, existing, changes.external_gateway_info, tx));
      }
      if (changes.routes !== undefined) await checkRoutesAgainstPorts(tx, existing.id, changes.routes);
    },

    async beforeDelete(existing, ctx, tx) {
      await lockRow(tx, 'routers', existing.id);
      const attached = await routerPorts(tx, existing.id, [DEVICE_OWNER_ROUTER_INTF]);
      if (attached.length)
        throw new ApiError(
          409,
          `Router ${existing.id} has ports still attached: ${attached.map((p) => p.id).join(', ')}`,
          'RouterInUse',
        );
      const gw = existing.gw_port_id ? await portView(svc, ctx, existing.gw_port_id, tx) : undefined;
      if (gw) await deleteGatewayPort(svc, ctx, existing.id, gw, tx);
    },

    async committed(event, view, ctx) {
      await flushAfterCommit(svc, ctx);
      if (event === 'delete') svc.notifier.routerDeleted(view.id);
      else if (event === 'update' || view.external_gateway_info) svc.notifier.routersUpdated([view.id]);
    },
  };
}

// ---- actions: interfaces and atomic extra routes ------------------------------------------------

/** A member action's router: 404 when the caller may not see it, 403 when the action's rule refuses. */
async function routerForAction(
  svc: NetworkService,
  ctx: NetworkContext,
  id: string,
  action: string,
): Promise<RouterResource> {
  const routers = svc.resource('routers');
  const router = await routers.find(ctx, id, 'get');
  routers.enforce(ctx, action, await routers.policyTarget(router, ctx));
  return router;
}

/** _add_extra_routes / _remove_extra_routes: routes grouped by destination, as upstream orders them. */
function mergeRoutes(old: Route[], add: Route[], remove: Route[]): Route[] {
  const byDest = new Map<string, Set<string>>();
  for (const r of [...old, ...add]) {
    const s = byDest.get(r.destination) ?? new Set();
    s.add(r.nexthop);
    byDest.set(r.destination, s);
  }
  for (const r of remove) byDest.get(r.destination)?.delete(r.nexthop);
  return [...byDest].flatMap(([destination, hops]) => [...hops].map((nexthop) => ({ destination, nexthop })));
}

export function routerRoutes(app: FastifyInstance, svc: NetworkService) {
  const routers = () => svc.resource('routers');

  for (const [action, add] of [
    ['add_router_interface', true],
    ['remove_router_interface', false],
  ] as const) {
    app.put(`/v2.0/routers/:id/${action}`, async (req) => {
      const ctx = NetworkContext.of(req.context);
      const router = await routerForAction(svc, ctx, (req.params as { id: string }).id, action);
      const info = parseInterfaceInfo(req.body, !add);
      const result = await inTransaction(svc, ctx, (tx) =>
        (add ? addInterface : removeInterface)(svc, ctx, router, info, tx),
      );
      svc.notifier.routersUpdated([router.id]);
      svc.notify(ctx, `router.interface.${add ? 'create' : 'delete'}`, { router_interface: result });
      return result;
    });
  }

  for (const action of ['add_extraroutes', 'remove_extraroutes'] as const) {
    app.put(`/v2.0/routers/:id/${action}`, async (req) => {
      const ctx = NetworkContext.of(req.context);
      const router = await routerForAction(svc, ctx, (req.params as { id: string }).id, action);
      const body = req.body as { router?: { routes?: unknown } } | undefined;
      if (!body || typeof body !== 'object' || !body.router || typeof body.router !== 'object')
        throw new ApiError(400, "Unable to find 'router' in request body", 'HTTPBadRequest');
      if (!('routes' in body.router))
        throw new ApiError(400, "Failed to parse request. Required attribute 'routes' not specified", 'HTTPBadRequest');
      const given = validateRoutes(body.router.routes ?? [], 'routes');
      const view = await inTransaction(svc, ctx, async (tx) => {
        const current = await routers().loadInTx(router.id, ctx, tx);
        const routes =
          action === 'add_extraroutes'
            ? mergeRoutes(current.routes ?? [], given, [])
            : mergeRoutes(current.routes ?? [], [], given);
        return routers().applyUpdate(current, { routes }, ctx, tx);
      });
      svc.notifier.routersUpdated([router.id]);
      return { router: await routers().present(view, ctx) };
    });
  }
}
