// Floating IP port forwardings as Zed's port forwarding plugin answers them
// (neutron/services/portforwarding/pf_plugin.py with the description, port-ranges and detail
// extensions): /v2.0/floatingips/:floatingip_id/port_forwardings maps a protocol and external
// port (range) of a floating IP that is not associated with a port to an internal IPv4 address
// and port (range) of a port behind a router that reaches the floating IP's network.
import type { Transaction } from 'kysely';
import { ApiError } from '../../core/errors.ts';
import { parseIp } from '../../core/netaddr.ts';
import type { NetworkService } from '../service.ts';
import type { ResourceSpec, Tx } from './resource.ts';
import type { PortForwardingResource } from './types.ts';
import { badInput, invalidInput, toIp, toString, toUuid } from './validate.ts';
import { pyStr } from '../../core/python.ts';
import { afterCommit, badRequest, flushAfterCommit, pyRepr, subnetRows, type FixedIp } from './l3_common.ts';
import { type FipPort, routerForFloatingIp } from './floatingips.ts';
import { lockRow } from './core_common.ts';
import type { NetworkContext } from '../context.ts';
import type { NetworkDb } from '../db/schema.ts';

/** neutron_lib.constants.IPTABLES_PROTOCOL_MAP's keys, in its order. */
const PROTOCOLS = ['dccp', 'icmp', 'ipv6-icmp', 'sctp', 'tcp', 'udp'];

const pfBadRequest = (msg: string) => badRequest('port_forwarding', msg);

// ---- validators ------------------------------------------------------------------------------

/** type:range_or_none [1, 65535] */
function portOrNone(v: unknown, name: string): number | null {
  if (v === null) return null;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*[-+]?\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n)) throw badInput(name, `'${pyStr(v)}' is not an integer`);
  if (n < 1) throw badInput(name, `'${n}' is too small - must be at least '1'`);
  if (n > 65535) throw badInput(name, `'${n}' is too large - must be no larger than '65535'`);
  return n;
}

/** type:port_range [1, 65535]: 'N' or 'N:M'. */
function portRangeOrNone(v: unknown, name: string): string | null {
  if (v === null) return null;
  const parts = String(typeof v === 'string' || typeof v === 'number' ? v : pyStr(v)).split(':');
  if (parts.length > 2 || parts.some((p) => !p.length))
    throw badInput(name, 'Port range must be two integers separated by a colon');
  for (const p of parts) {
    if (!/^\d+$/.test(p) || Number(p) > 65535) throw badInput(name, `Invalid port: ${p}`);
    if (Number(p) < 1) throw badInput(name, `Invalid port: ${p}, the port must be in the range [1, 65535]`);
  }
  if (parts.length > 1 && Number(parts[0]) > Number(parts[1]))
    throw badInput(name, 'First port in a port range must be lower than the second port');
  return parts.join(':');
}

/** convert_to_protocol, then type:values of the protocol names. */
function protocol(v: unknown, name: string): string {
  const s = typeof v === 'string' ? v.toLowerCase() : v;
  const numeric = typeof v === 'number' || (typeof v === 'string' && /^\d+$/.test(v));
  if (!(typeof s === 'string' && PROTOCOLS.includes(s)) && !(numeric && Number(v) >= 0 && Number(v) <= 255)) {
    throw invalidInput(
      `IP protocol '${pyStr(v)}' is not supported. Only protocol names and their integer representation (0 to 255) are supported`,
    );
  }
  if (typeof v !== 'string' || !PROTOCOLS.includes(v))
    throw badInput(name, `'${pyStr(v)}' is not in dict_keys(${pyRepr(PROTOCOLS)})`);
  return v;
}

// ---- ranges ----------------------------------------------------------------------------------

type Range = [number, number];
const rangeText = (r: Range) => `${r[0]}:${r[1]}`;

/** The range a request gives: a single port wins over a range, as upstream stores them. */
function rangeOf(port: unknown, range: unknown): Range | undefined {
  if (port !== null && port !== undefined) return [Number(port), Number(port)];
  if (typeof range === 'string' && range) {
    const [a, b = a] = range.split(':').map(Number) as [number, number?];
    return [a, b!];
  }
  return undefined;
}

/** _validate_ranges: internal and external ranges are N-N or 1-N. */
function checkRangeRelation(internal: Range, external: Range) {
  const di = internal[1] - internal[0],
    de = external[1] - external[0];
  if (di > 0 && di !== de)
    throw pfBadRequest(
      'Invalid ranges of internal and/or external ports. The relation between internal and external ports must be N-N or 1-N',
    );
}

const overlaps = (a: Range, b: Range) => Math.max(a[0], b[0]) <= Math.min(a[1], b[1]);

interface PfSocket {
  floatingip_id: string;
  protocol: string;
  internal_port_id: string;
  internal_ip_address: string;
  internal: Range;
  external: Range;
}

/** _check_port_collisions: the same internal socket range, or the same external range of the floating IP, is taken. */
async function checkCollisions(tx: Tx, pf: PfSocket, exceptId?: string) {
  /** The first range of the other rows that overlaps the wanted one is a 400. */
  const collides = async (
    which: 'internal' | 'external',
    q: { execute(): Promise<Array<Record<string, unknown> & { id: string }>> },
  ) => {
    for (const r of (await q.execute()).filter((x) => x.id !== exceptId)) {
      const existing: Range = [Number(r[`${which}_port_start`]), Number(r[`${which}_port_end`])];
      if (overlaps(existing, pf[which]))
        throw pfBadRequest(
          `There is a port collision with the ${which}_port_range. The following ranges collides: ${rangeText(existing)} and ${rangeText(pf[which])}`,
        );
    }
  };
  await collides(
    'internal',
    tx
      .selectFrom('portforwardings')
      .selectAll()
      .where('internal_port_id', '=', pf.internal_port_id)
      .where('protocol', '=', pf.protocol)
      .where('internal_ip_address', '=', pf.internal_ip_address),
  );
  await collides(
    'external',
    tx
      .selectFrom('portforwardings')
      .selectAll()
      .where('floatingip_id', '=', pf.floatingip_id)
      .where('protocol', '=', pf.protocol),
  );
}

/** _check_port_has_binding_floating_ip */
async function checkPortHasNoFloatingIp(tx: Tx, portId: string, fixedIp: string) {
  const fip = await tx
    .selectFrom('floatingips')
    .select(['id', 'floating_ip_address'])
    .where('fixed_port_id', '=', portId)
    .executeTakeFirst();
  if (fip) {
    throw new ApiError(
      409,
      `Cannot create port forwarding to floating IP ${fip.floating_ip_address} (${fip.id}) with port ${portId} using fixed IP ${fixedIp}, as that port already has a binding floating IP.`,
      'PortHasBindingFloatingIP',
    );
  }
}

/** _find_a_router_for_fip_port_forwarding */
/** What the router checks read of a port forwarding. */
type PfTarget = { internal_port_id: string; internal_ip_address: string };

async function routerFor(
  svc: NetworkService,
  ctx: NetworkContext,
  pf: PfTarget,
  fip: { id: string; floating_network_id: string },
  tx: Tx,
): Promise<string> {
  const port = await svc.resource('ports').load(ctx, pf.internal_port_id, tx);
  const v4 = ((port.fixed_ips ?? []) as FixedIp[]).filter((f) => parseIp(f.ip_address)?.version === 4);
  if (!v4.length)
    throw pfBadRequest(`Requested internal port ${pf.internal_port_id} must allocate an IPv4 address at least.`);
  const match = v4.find((f) => f.ip_address === pf.internal_ip_address);
  if (!match) {
    throw pfBadRequest(
      `Requested internal IP address ${pf.internal_ip_address} is not suitable for internal neutron port ${port.id}, as its fixed_ips are ${pyRepr(v4.map((f) => ({ subnet_id: f.subnet_id, ip_address: f.ip_address })))}`,
    );
  }
  const [subnet] = await subnetRows(tx, { ids: [match.subnet_id] });
  const routerId = subnet ? await routerForFloatingIp(tx, port as FipPort, subnet, fip.floating_network_id) : null;
  if (!routerId) {
    throw pfBadRequest(
      `External network ${fip.floating_network_id} is not reachable from subnet ${match.subnet_id}. Cannot set Port forwarding for port ${pf.internal_port_id} with Floating IP ${fip.id}`,
    );
  }
  return routerId;
}

/** _check_router_match: a floating IP serves port forwardings through one router only. */
async function checkRouterMatch(
  tx: Tx,
  fip: { id: string; router_id: string | null },
  routerId: string,
  pf: PfTarget & { internal_port_start: number },
) {
  if (!fip.router_id || fip.router_id === routerId) return;
  const same = await tx
    .selectFrom('portforwardings')
    .select('id')
    .where('floatingip_id', '=', fip.id)
    .where('internal_ip_address', '=', pf.internal_ip_address)
    .where('internal_port_start', '=', pf.internal_port_start)
    .executeTakeFirst();
  if (same)
    throw pfBadRequest(
      `Floating IP ${fip.id} with params: internal_ip_address: ${pf.internal_ip_address}, internal_port: ${pf.internal_port_start} already exists`,
    );
  throw pfBadRequest(
    `The Floating IP ${fip.id} had been set on router ${fip.router_id}, the internal Neutron port ${pf.internal_port_id} can not reach it`,
  );
}

async function fipRow(tx: Tx, id: string) {
  return tx.selectFrom('floatingips').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

/** Port forwardings of a port that goes away or loses addresses; the floating IPs left without any lose their router. */
export async function removePortForwardings(
  tx: Transaction<NetworkDb>,
  portId: string,
  keepIps?: string[],
): Promise<string[]> {
  const pfs = (
    await tx
      .selectFrom('portforwardings')
      .select(['id', 'floatingip_id', 'internal_ip_address'])
      .where('internal_port_id', '=', portId)
      .execute()
  ).filter((p) => !keepIps || !keepIps.includes(p.internal_ip_address));
  if (!pfs.length) return [];
  await tx
    .deleteFrom('portforwardings')
    .where(
      'id',
      'in',
      pfs.map((p) => p.id),
    )
    .execute();
  const routers: string[] = [];
  for (const fipId of new Set(pfs.map((p) => p.floatingip_id as string))) {
    const fip = await tx.selectFrom('floatingips').select('router_id').where('id', '=', fipId).executeTakeFirst();
    if (fip?.router_id) routers.push(fip.router_id);
    if (!(await tx.selectFrom('portforwardings').select('id').where('floatingip_id', '=', fipId).executeTakeFirst())) {
      await tx
        .updateTable('floatingips')
        .set({ router_id: null })
        .where('id', '=', fipId)
        .where('fixed_port_id', 'is', null)
        .execute();
    }
  }
  return routers;
}

export function portForwardingsSpec(
  svc: NetworkService,
): ResourceSpec<PortForwardingResource> & { plural: 'port_forwardings' } {
  const notFound = (id: string) =>
    new ApiError(404, `Port Forwarding ${id} could not be found.`, 'PortForwardingNotFound');
  const unsupportedFilter = (name: string) => () => {
    throw new ApiError(400, `Port Forwarding filter ${name} is not supported.`, 'PortForwardingNotSupportFilterField');
  };
  return {
    singular: 'port_forwarding',
    plural: 'port_forwardings',
    policyName: 'floatingip_port_forwarding',
    table: 'portforwardings',
    owned: false,
    standard: false,
    tags: false,
    notFound,
    parent: {
      param: 'floatingip_id',
      column: 'floatingip_id',
      async load(ctx, id) {
        const fip = await svc.resource('floatingips').find(ctx, id, 'get');
        return { 'ext_parent:tenant_id': fip.project_id, ext_parent_id: fip.id };
      },
    },
    attrs: {
      // Accepted and unused, as upstream (a port forwarding has no project of its own).
      project_id: { column: false, post: true, visible: false, filter: false, validate: (v, n) => toString(v, n, 255) },
      tenant_id: { column: false, post: true, visible: false, filter: false, validate: (v, n) => toString(v, n, 255) },
      floatingip_id: { visible: false, filter: false },
      external_port: { column: false, post: true, put: true, default: null, validate: portOrNone },
      internal_port: { column: false, post: true, put: true, default: null, validate: portOrNone },
      external_port_range: { column: false, post: true, put: true, default: null, validate: portRangeOrNone },
      internal_port_range: {
        column: false,
        post: true,
        put: true,
        default: null,
        filter: false,
        validate: portRangeOrNone,
      },
      internal_ip_address: { post: true, put: true, required: true, validate: (v, n) => toIp(v, n) },
      protocol: { post: true, put: true, required: true, validate: protocol },
      internal_port_id: { post: true, put: true, required: true, validate: (v, n) => toUuid(v, n) },
      description: { post: true, put: true, default: '', validate: (v, n) => toString(v, n, 255) },
      internal_port_start: { type: 'integer', visible: false, filter: false },
      internal_port_end: { type: 'integer', visible: false, filter: false },
      external_port_start: { type: 'integer', visible: false, filter: false },
      external_port_end: { type: 'integer', visible: false, filter: false },
    },
    filters: {
      internal_ip_address: unsupportedFilter('internal_ip_address'),
      internal_port: unsupportedFilter('internal_port'),
      external_port: (q, values) =>
        q.where((eb) =>
          eb.or(
            values.map((v) => {
              const n = portOrNone(v, 'external_port');
              return eb.and([eb('external_port_start', '=', n), eb('external_port_end', '=', n)]);
            }),
          ),
        ),
      external_port_range: (q, values) =>
        q.where((eb) =>
          eb.or(
            values.map((v) => {
              const r = rangeOf(null, portRangeOrNone(v, 'external_port_range'))!;
              return eb.and([eb('external_port_start', '=', r[0]), eb('external_port_end', '=', r[1])]);
            }),
          ),
        ),
    },

    async expand(views) {
      for (const v of views) {
        const i: Range = [v.internal_port_start, v.internal_port_end],
          e: Range = [v.external_port_start, v.external_port_end];
        v.internal_port = i[0] === i[1] ? i[0] : null;
        v.external_port = e[0] === e[1] ? e[0] : null;
        v.internal_port_range = rangeText(i);
        v.external_port_range = rangeText(e);
      }
    },

    async beforeCreate(values, ctx, tx) {
      // A floating IP's forwardings change one at a time (PostgreSQL; SQLite serializes writers anyway).
      await lockRow(tx, 'floatingips', values.floatingip_id);
      const fip = await fipRow(tx, values.floatingip_id);
      const internal = rangeOf(values.internal_port, values.internal_port_range);
      const external = rangeOf(values.external_port, values.external_port_range);
      if (!internal || !external)
        throw pfBadRequest(
          'The internal and external ports (internal_port or internal_port_range, external_port or external_port_range) must be specified',
        );
      checkRangeRelation(internal, external);
      await checkCollisions(tx, {
        floatingip_id: fip.id,
        protocol: values.protocol,
        internal_port_id: values.internal_port_id,
        internal_ip_address: values.internal_ip_address,
        internal,
        external,
      });
      await checkPortHasNoFloatingIp(tx, values.internal_port_id, values.internal_ip_address);
      if (fip.fixed_port_id) {
        throw new ApiError(
          409,
          `Cannot associate floating IP ${fip.floating_ip_address} (${fip.id}) with port ${values.internal_port_id} using fixed IP ${values.internal_ip_address}, as that fixed IP already has a floating IP on external network ${fip.floating_network_id}.`,
          'FloatingIPPortAlreadyAssociated',
        );
      }
      const routerId = await routerFor(svc, ctx, values as PfTarget, fip, tx);
      await checkRouterMatch(tx, fip, routerId, { ...(values as PfTarget), internal_port_start: internal[0] });
      if (!fip.router_id)
        await tx
          .updateTable('floatingips')
          .set({ router_id: routerId, fixed_port_id: null })
          .where('id', '=', fip.id)
          .execute();
      afterCommit(ctx, () => svc.notifier.routersUpdated([fip.router_id ?? routerId]));
      Object.assign(values, {
        internal_port_start: internal[0],
        internal_port_end: internal[1],
        external_port_start: external[0],
        external_port_end: external[1],
      });
    },

    async beforeUpdate(existing, changes, ctx, tx) {
      await lockRow(tx, 'floatingips', existing.floatingip_id);
      const fip = await fipRow(tx, existing.floatingip_id);
      const merged = { ...existing, ...changes };
      if (changes.internal_port_id)
        await checkPortHasNoFloatingIp(tx, changes.internal_port_id, merged.internal_ip_address);
      const given = (k: keyof PortForwardingResource) => k in changes && changes[k] !== null;
      const internal =
        given('internal_port') || given('internal_port_range')
          ? rangeOf(changes.internal_port, changes.internal_port_range)!
          : ([existing.internal_port_start, existing.internal_port_end] as Range);
      const external =
        given('external_port') || given('external_port_range')
          ? rangeOf(changes.external_port, changes.external_port_range)!
          : ([existing.external_port_start, existing.external_port_end] as Range);
      if (changes.internal_port_id && changes.internal_port_id !== existing.internal_port_id) {
        const routerId = await routerFor(svc, ctx, merged, fip, tx);
        await checkRouterMatch(tx, fip, routerId, { ...merged, internal_port_start: internal[0] });
      }
      checkRangeRelation(internal, external);
      // _check_port_forwarding_update: the internal address is the port's, and no other entry has the same sockets.
      const port = await svc
        .resource('ports')
        .loadInTx(merged.internal_port_id, ctx, tx)
        .catch(() => undefined);
      const fixed = (port?.fixed_ips ?? []) as FixedIp[];
      if (!fixed.some((f) => f.ip_address === merged.internal_ip_address)) {
        throw pfBadRequest(
          `The internal IP does not correspond to an address on the internal port, which has fixed_ips ${pyRepr(fixed.map((f) => ({ subnet_id: f.subnet_id, ip_address: f.ip_address })))}`,
        );
      }
      await checkCollisions(
        tx,
        {
          floatingip_id: fip.id,
          protocol: merged.protocol,
          internal_port_id: merged.internal_port_id,
          internal_ip_address: merged.internal_ip_address,
          internal,
          external,
        },
        existing.id,
      );
      Object.assign(changes, {
        internal_port_start: internal[0],
        internal_port_end: internal[1],
        external_port_start: external[0],
        external_port_end: external[1],
      });
      const routerId = fip.router_id;
      if (routerId) afterCommit(ctx, () => svc.notifier.routersUpdated([routerId]));
    },

    async beforeDelete(existing, ctx, tx) {
      const fip = await fipRow(tx, existing.floatingip_id);
      const routerId = fip.router_id;
      if (routerId) afterCommit(ctx, () => svc.notifier.routersUpdated([routerId]));
      const others = await tx
        .selectFrom('portforwardings')
        .select('id')
        .where('floatingip_id', '=', existing.floatingip_id)
        .where('id', '!=', existing.id)
        .executeTakeFirst();
      if (!others)
        await tx
          .updateTable('floatingips')
          .set({ router_id: null })
          .where('id', '=', existing.floatingip_id)
          .where('fixed_port_id', 'is', null)
          .execute();
    },

    async committed(_event, _view, ctx) {
      await flushAfterCommit(svc, ctx);
    },
  };
}
