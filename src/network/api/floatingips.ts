// Floating IPs as Zed's L3 router plugin answers them (l3_db.py, fip-port-details,
// floatingip-pools): an address allocated on an external network (held by a network:floatingip
// port of no project), optionally associated with a fixed IP of a port whose subnet a router
// connects to that external network. The router is found, never given.
import type { FastifyInstance } from 'fastify';
import type { Selectable, Transaction } from 'kysely';
import { ApiError } from '../../core/errors.ts';
import { parseIp } from '../../core/netaddr.ts';
import type { NetworkService } from '../service.ts';
import type { ResourceSpec, Tx } from './resource.ts';
import type { FloatingIpResource } from './types.ts';
import { toIp, toUuid, toUuidOrNull } from './validate.ts';
import {
  badRequest,
  createPort,
  DEVICE_OWNER_FLOATINGIP,
  DEVICE_OWNER_ROUTER_GW,
  flushAfterCommit,
  portView,
  removePort,
  ROUTER_INTERFACE_OWNERS,
  subnetRows,
  type FixedIp,
} from './l3_common.ts';
import { lockRow } from './core_common.ts';
import { NetworkContext } from '../context.ts';
import type { NetworkDb, PortTable } from '../db/schema.ts';

/** What a floating IP's port_details read of its port. */
type FipPortRow = Pick<
  Selectable<PortTable>,
  'id' | 'name' | 'network_id' | 'mac_address' | 'admin_state_up' | 'status' | 'device_id' | 'device_owner'
>;

export const FIP_DOWN = 'DOWN';

export const floatingIpNotFound = (id: string) =>
  new ApiError(404, `Floating IP ${id} could not be found`, 'FloatingIPNotFound');

const ipOrNull = (v: unknown, n: string) => (v === null ? null : toIp(v, n));
const isV4 = (ip: string) => parseIp(ip)?.version === 4;

/**
 * get_router_for_floatingip: a router with an interface on the internal subnet and a gateway on
 * the external network; the one whose interface holds the subnet's gateway IP wins.
 */
/** What routerForFloatingIp reads of a port. */
export type FipPort = { id: string; network_id: string };

export async function routerForFloatingIp(
  tx: Tx,
  port: FipPort,
  subnet: { id: string; gateway_ip: string | null },
  externalNetworkId: string,
): Promise<string | null> {
  const rows = await tx
    .selectFrom('ports as p')
    .innerJoin('ipallocations as a', 'a.port_id', 'p.id')
    .select(['p.device_id as router_id', 'a.ip_address as ip_address'])
    .where('p.network_id', '=', port.network_id)
    .where('p.device_owner', 'in', ROUTER_INTERFACE_OWNERS)
    .where('a.subnet_id', '=', subnet.id)
    .where((eb) =>
      eb.exists(
        eb
          .selectFrom('ports as g')
          .select('g.id')
          .whereRef('g.device_id', '=', 'p.device_id')
          .where('g.network_id', '=', externalNetworkId)
          .where('g.device_owner', '=', DEVICE_OWNER_ROUTER_GW),
      ),
    )
    .orderBy('p.created_at')
    .orderBy('p.id')
    .execute();
  const match = rows.find((r) => r.ip_address === subnet.gateway_ip);
  return (match ?? rows[0])?.router_id ?? null;
}

interface FipState {
  id: string;
  project_id: string;
  floating_network_id: string;
  floating_ip_address: string;
  fixed_port_id: string | null;
  fixed_ip_address: string | null;
  router_id: string | null;
}
interface Assoc {
  port_id: string | null;
  fixed_ip_address: string | null;
  router_id: string | null;
}

/** _internal_fip_assoc_data + get_router_for_floatingip */
async function associationOf(
  svc: NetworkService,
  ctx: NetworkContext,
  portId: string,
  fixedIp: string | null | undefined,
  fip: FipState,
  tx: Tx,
): Promise<Assoc> {
  const port = await svc.resource('ports').load(ctx, portId, tx);
  if (port.project_id !== fip.project_id && !svc.isAdmin(ctx)) {
    throw badRequest(
      'floatingip',
      `Cannot process floating IP association with Port ${portId}, since that port is owned by a different tenant`,
    );
  }
  if (port.device_owner === 'network:dhcp')
    throw badRequest('floatingip', `Port ${portId} is unable to be assigned a floating IP`);
  const fixed = (port.fixed_ips ?? []) as FixedIp[];
  let ip: string, subnetId: string;
  if (fixedIp) {
    if (!isV4(fixedIp))
      throw badRequest(
        'floatingip',
        `Cannot process floating IP association with ${fixedIp}, since that is not an IPv4 address`,
      );
    const f = fixed.find((x) => x.ip_address === fixedIp);
    if (!f) throw badRequest('floatingip', `Port ${port.id} does not have fixed ip ${fixedIp}`);
    ip = f.ip_address;
    subnetId = f.subnet_id;
  } else {
    const v4 = fixed.filter((x) => isV4(x.ip_address));
    if (!v4.length)
      throw badRequest('floatingip', `Cannot add floating IP to port ${port.id} that has no fixed IPv4 addresses`);
    if (v4.length > 1)
      throw badRequest(
        'floatingip',
        `Port ${port.id} has multiple fixed IPv4 addresses.  Must provide a specific IPv4 address when assigning a floating IP`,
      );
    ip = v4[0]!.ip_address;
    subnetId = v4[0]!.subnet_id;
  }
  const [subnet] = await subnetRows(tx, { ids: [subnetId] });
  const routerId = subnet ? await routerForFloatingIp(tx, port as FipPort, subnet, fip.floating_network_id) : null;
  if (!routerId) {
    throw new ApiError(
      404,
      `External network ${fip.floating_network_id} is not reachable from subnet ${subnetId}.  Therefore, cannot associate Port ${port.id} with a Floating IP.`,
      'ExternalGatewayForFloatingIPNotFound',
    );
  }
  return { port_id: port.id, fixed_ip_address: ip, router_id: routerId };
}

/** _check_and_get_fip_assoc: what the floating IP is associated with after a create or update request. */
async function resolveAssociation(
  svc: NetworkService,
  ctx: NetworkContext,
  request: Partial<Pick<FloatingIpResource, 'port_id' | 'fixed_ip_address'>>,
  fip: FipState,
  tx: Tx,
): Promise<Assoc> {
  let out: Assoc = { port_id: null, fixed_ip_address: null, router_id: null };
  if (request.fixed_ip_address && !request.port_id)
    throw badRequest('floatingip', 'fixed_ip_address cannot be specified without a port_id');
  if (request.port_id) {
    out = await associationOf(svc, ctx, request.port_id, request.fixed_ip_address, fip, tx);
    if (out.port_id === fip.fixed_port_id) return out;
    // Concurrent associations with one port wait for each other (the unique key is the last word).
    await lockRow(tx, 'ports', out.port_id!);
    const taken = await tx
      .selectFrom('floatingips')
      .select('id')
      .where('fixed_port_id', '=', out.port_id)
      .where('floating_network_id', '=', fip.floating_network_id)
      .where('fixed_ip_address', '=', out.fixed_ip_address)
      .where('id', '!=', fip.id)
      .executeTakeFirst();
    if (taken) {
      throw new ApiError(
        409,
        `Cannot associate floating IP ${fip.floating_ip_address} (${fip.id}) with port ${out.port_id} using fixed IP ${out.fixed_ip_address}, as that fixed IP already has a floating IP on external network ${fip.floating_network_id}.`,
        'FloatingIPPortAlreadyAssociated',
      );
    }
  } else if (Object.keys(request).length && !('port_id' in request) && fip.fixed_port_id) {
    // An update of other attributes keeps the association (an empty body clears it, as upstream).
    // The fixed IP is kept too, where upstream picks the port's only IPv4 address again.
    out = await associationOf(svc, ctx, fip.fixed_port_id, fip.fixed_ip_address, fip, tx);
  }
  // A floating IP serving port forwardings keeps the router they need.
  if (!fip.fixed_port_id && fip.router_id) out.router_id = fip.router_id;
  return out;
}

async function hasPortForwardings(tx: Tx, fipId: string): Promise<boolean> {
  return !!(await tx.selectFrom('portforwardings').select('id').where('floatingip_id', '=', fipId).executeTakeFirst());
}

const fipInUseByPf = (id: string) =>
  new ApiError(409, `Floating IP ${id} in use by Port Forwarding resources.`, 'FipInUseByPortForwarding');

export function floatingIpsSpec(svc: NetworkService): ResourceSpec<FloatingIpResource> & { plural: 'floatingips' } {
  return {
    singular: 'floatingip',
    plural: 'floatingips',
    table: 'floatingips',
    quota: 'floatingip',
    notFound: floatingIpNotFound,
    attrs: {
      floating_ip_address: { post: true, default: null, validate: ipOrNull },
      subnet_id: {
        column: false,
        post: true,
        default: null,
        visible: false,
        filter: false,
        validate: (v, n) => toUuidOrNull(v, n),
      },
      floating_network_id: { post: true, required: true, validate: (v, n) => toUuid(v, n) },
      router_id: {},
      port_id: {
        column: 'fixed_port_id',
        post: true,
        put: true,
        default: null,
        validate: (v, n) => toUuidOrNull(v, n),
      },
      fixed_ip_address: { post: true, put: true, default: null, validate: ipOrNull },
      status: {},
      floating_port_id: { visible: false, filter: false },
      port_details: { column: false, filter: false },
      port_forwardings: { column: false, filter: false },
    },

    async expand(views, _req, tx) {
      const portIds = [...new Set(views.map((v) => v.port_id).filter(Boolean))] as string[];
      const ports = new Map<string, FipPortRow>();
      for (let i = 0; i < portIds.length; i += 500) {
        const rows = await tx
          .selectFrom('ports')
          .select(['id', 'name', 'network_id', 'mac_address', 'admin_state_up', 'status', 'device_id', 'device_owner'])
          .where('id', 'in', portIds.slice(i, i + 500))
          .execute();
        for (const r of rows) ports.set(r.id, r);
      }
      const pfs = new Map<string, FloatingIpResource['port_forwardings']>();
      const ids = views.map((v) => v.id);
      for (let i = 0; i < ids.length; i += 500) {
        const rows = await tx
          .selectFrom('portforwardings')
          .selectAll()
          .where('floatingip_id', 'in', ids.slice(i, i + 500))
          .orderBy('id')
          .execute();
        for (const r of rows) {
          const pf: FloatingIpResource['port_forwardings'][number] = {
            id: r.id,
            internal_ip_address: r.internal_ip_address,
            protocol: r.protocol,
            internal_port_id: r.internal_port_id,
          };
          // Single ports only, as upstream's _extend_floatingip_dict shows them.
          if (Number(r.internal_port_start) === Number(r.internal_port_end))
            pf.internal_port = Number(r.internal_port_start);
          if (Number(r.external_port_start) === Number(r.external_port_end))
            pf.external_port = Number(r.external_port_start);
          const l = pfs.get(r.floatingip_id) ?? [];
          l.push(pf);
          pfs.set(r.floatingip_id, l);
        }
      }
      for (const v of views) {
        const p = v.port_id ? ports.get(v.port_id) : undefined;
        v.port_details = p
          ? {
              name: p.name,
              network_id: p.network_id,
              mac_address: p.mac_address,
              admin_state_up: Number(p.admin_state_up) === 1,
              status: p.status,
              device_id: p.device_id,
              device_owner: p.device_owner,
            }
          : null;
        v.port_forwardings = pfs.get(v.id) ?? [];
      }
    },

    async beforeCreate(values, ctx, tx) {
      const netId = values.floating_network_id as string;
      await svc.resource('networks').load(ctx, netId, tx);
      const net = await tx.selectFrom('networks').select('router_external').where('id', '=', netId).executeTakeFirst();
      if (!net || Number(net.router_external) !== 1)
        throw badRequest('floatingip', `Network ${netId} is not a valid external network`);
      if (!(await subnetRows(tx, { networkIds: [netId] })).some((s) => s.ip_version === 4))
        throw badRequest('floatingip', `Network ${netId} does not contain any IPv4 subnet`);
      const fixedIp: Record<string, unknown> = {};
      if (values.subnet_id) fixedIp.subnet_id = values.subnet_id;
      if (values.floating_ip_address) fixedIp.ip_address = values.floating_ip_address;
      const port = await createPort(
        svc,
        ctx,
        {
          project_id: values.project_id,
          network_id: netId,
          admin_state_up: true,
          device_id: values.id,
          device_owner: DEVICE_OWNER_FLOATINGIP,
          name: '',
          ...(Object.keys(fixedIp).length ? { fixed_ips: [fixedIp] } : {}),
        },
        tx,
        '',
      );
      // Upstream creates the port with status N/A: nothing binds it.
      await tx.updateTable('ports').set({ status: 'N/A' }).where('id', '=', port.id).execute();
      const v4 = ((port.fixed_ips ?? []) as FixedIp[]).filter((f) => isV4(f.ip_address));
      if (!v4.length)
        throw new ApiError(
          400,
          `Unable to find any IP address on external network ${netId}.`,
          'ExternalIpAddressExhausted',
        );
      values.floating_ip_address = v4[0]!.ip_address;
      values.floating_port_id = port.id;
      const assoc = await resolveAssociation(
        svc,
        ctx,
        { port_id: values.port_id, fixed_ip_address: values.fixed_ip_address },
        {
          id: values.id,
          project_id: values.project_id,
          floating_network_id: netId,
          floating_ip_address: values.floating_ip_address,
          fixed_port_id: null,
          fixed_ip_address: null,
          router_id: null,
        },
        tx,
      );
      // DOWN until the L3 agent hosting the router reports it ACTIVE (update_floatingip_statuses).
      Object.assign(values, assoc, { status: FIP_DOWN });
    },

    async beforeUpdate(existing, changes, ctx, tx) {
      // The L3 agent's status report, not a client's request (status is read-only in the API).
      if (Object.keys(changes).length === 1 && 'status' in changes) return;
      const request = { ...changes };
      if (request.port_id && (await hasPortForwardings(tx, existing.id))) throw fipInUseByPf(existing.id);
      const assoc = await resolveAssociation(
        svc,
        ctx,
        request,
        {
          id: existing.id,
          project_id: existing.project_id,
          floating_network_id: existing.floating_network_id,
          floating_ip_address: existing.floating_ip_address,
          fixed_port_id: existing.port_id,
          fixed_ip_address: existing.fixed_ip_address,
          router_id: existing.router_id,
        },
        tx,
      );
      Object.assign(changes, assoc);
    },

    async beforeDelete(existing, ctx, tx) {
      if (await hasPortForwardings(tx, existing.id)) throw fipInUseByPf(existing.id);
      const port = await portView(svc, ctx, existing.floating_port_id, tx);
      if (port) await removePort(svc, ctx, port, tx);
    },

    async committed(_event, view, ctx, before) {
      await flushAfterCommit(svc, ctx);
      const routers = new Set([view.router_id, before?.router_id].filter((r): r is string => !!r));
      if (routers.size) svc.notifier.routersUpdated([...routers]);
    },
  };
}

/** Disassociates the floating IPs of a port that goes away (ML2's disassociate_floatingips); returns their routers. */
export async function disassociatePort(tx: Transaction<NetworkDb>, portId: string): Promise<string[]> {
  const fips = await tx
    .selectFrom('floatingips')
    .select(['id', 'router_id'])
    .where('fixed_port_id', '=', portId)
    .execute();
  if (!fips.length) return [];
  await tx
    .updateTable('floatingips')
    .set({ fixed_port_id: null, fixed_ip_address: null, router_id: null })
    .where('fixed_port_id', '=', portId)
    .execute();
  return [...new Set(fips.map((f) => f.router_id).filter(Boolean))] as string[];
}

/** GET /v2.0/floatingip-pools: the IPv4 subnets of external networks (fip64 is not supported). */
export function floatingIpPoolRoutes(app: FastifyInstance, svc: NetworkService) {
  app.get('/v2.0/floatingip-pools', async (req) => {
    const ctx = NetworkContext.of(req.context);
    const project = ctx.projectId ?? '';
    const rows = await svc.db
      .selectFrom('subnets as s')
      .innerJoin('networks as n', 'n.id', 's.network_id')
      .select([
        's.id as id',
        's.name as name',
        's.network_id as network_id',
        's.cidr as cidr',
        's.ip_version as ip_version',
      ])
      .where('n.router_external', '=', 1)
      .orderBy('s.id')
      .execute();
    const q = req.query as Record<string, string | string[]>;
    const fields = ([] as string[])
      .concat(q.fields ?? [])
      .flatMap((f) => f.split(','))
      .filter(Boolean);
    const out: Array<Record<string, unknown>> = [];
    for (const r of rows) {
      if (Number(r.ip_version) !== 4) continue;
      const pool: Record<string, string> = {
        subnet_id: r.id,
        subnet_name: r.name,
        tenant_id: project,
        project_id: project,
        network_id: r.network_id,
        cidr: r.cidr,
      };
      if (!ctx.allowed('get_floatingip_pool', pool)) continue;
      if (
        Object.entries(q).some(
          ([k, v]) =>
            !['fields', 'sort_key', 'sort_dir', 'limit', 'marker', 'page_reverse'].includes(k) &&
            k in pool &&
            ![v].flat().includes(pool[k]),
        )
      )
        continue;
      out.push(fields.length ? Object.fromEntries(Object.entries(pool).filter(([k]) => fields.includes(k))) : pool);
    }
    ctx.markEnforced();
    return { floatingip_pools: out };
  });
}
