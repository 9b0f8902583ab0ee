// Ports (db_base_plugin_v2 + ML2 + its extension drivers): MAC addresses, fixed IPs through
// IPAM, port binding (binding:host_id set → the binder picks vif_type/vif_details), allowed
// address pairs, extra DHCP options, DNS name and assignment, uplink status propagation,
// and the protection of router and floating IP ports from a direct DELETE.
import { sql, type ExpressionBuilder, type SelectQueryBuilder, type Transaction } from 'kysely';
import { ApiError } from '../../core/errors.ts';
import { bool, precompiled } from '../../core/db.ts';
import type { NetworkService } from '../service.ts';
import { hidden, setHidden, type ResourceApi, type Tx } from './resource.ts';
import type { DhcpOptView as DhcpOpt, PortResource } from './types.ts';
import { badInput, toBoolean, toString, toUuid } from './validate.ts';
import { pyStr } from '../../core/python.ts';
import { isValidIp, normalizeIp, normalizeMac, parseCidr, randomMac, isValidMac } from '../../core/netaddr.ts';
import {
  allocatePortIps,
  fixedIpsOf,
  releasePortIps,
  sortFixedIps,
  updatePortIps,
  type FixedIp,
  type FixedIpRequest,
} from '../ipam.ts';
import {
  DEVICE_OWNER_FLOATINGIP,
  NET_INFO,
  NETWORK_ROW,
  isPostgres,
  ROUTER_INTERFACE_OWNERS,
  inChunks,
  rbacGrants,
  notFound,
  projectOf,
  type NetInfo,
  networkOwnershipCheck,
} from './core_common.ts';
import { toDnsName, visibleNetwork } from './networks.ts';
import type { NetworkContext } from '../context.ts';
import type { DynamicDb, NetworkDb } from '../db/schema.ts';

/** An allowed address pair as the client gave it. */
interface AddressPair {
  ip_address: string;
  mac_address?: string;
}
/** The fixed_ips filter's subquery on a port's allocations. */
type AllocationQuery = SelectQueryBuilder<DynamicDb, string, { port_id: unknown }>;

const VNIC_TYPES = [
  'normal',
  'direct',
  'macvtap',
  'baremetal',
  'direct-physical',
  'virtio-forwarder',
  'smart-nic',
  'vdpa',
  'accelerator-direct',
  'accelerator-direct-physical',
  'remote-managed',
];
const MAX_ALLOWED_ADDRESS_PAIRS = 10;
/** neutron.conf's base_mac default. */
const BASE_MAC = 'fa:16:3e:00:00:00';
/** Ports L3 owns: deleted through routers and floating IPs, never directly (l3_db router_device_owners). */
const L3_PORT_OWNERS = [
  ...ROUTER_INTERFACE_OWNERS,
  'network:router_gateway',
  'network:router_centralized_snat',
  'network:ha_router_replicated_interface',
  DEVICE_OWNER_FLOATINGIP,
];

function toFixedIps(v: unknown, n: string): FixedIpRequest[] {
  if (!Array.isArray(v)) throw badInput(n, `Invalid data format for fixed IP: '${pyStr(v)}'`);
  const seen: string[] = [];
  return v.map((f) => {
    if (!f || typeof f !== 'object' || Array.isArray(f))
      throw badInput(n, `Invalid data format for fixed IP: '${pyStr(f)}'`);
    const d = f as Record<string, unknown>;
    const out: FixedIpRequest = {};
    if ('ip_address' in d) {
      const ip = d.ip_address;
      if (typeof ip === 'string' && seen.includes(ip)) throw badInput(n, `Duplicate IP address '${ip}'`);
      if (typeof ip !== 'string' || !isValidIp(ip)) throw badInput(n, `'${pyStr(ip)}' is not a valid IP address`);
      seen.push(ip);
      out.ip_address = normalizeIp(ip)!;
    }
    if ('subnet_id' in d) out.subnet_id = toUuid(d.subnet_id, n);
    return out;
  });
}

function toMacAddress(v: unknown, n: string): string {
  if (typeof v !== 'string' || !isValidMac(v)) throw badInput(n, `'${pyStr(v)}' is not a valid MAC address`);
  return normalizeMac(v)!;
}

function toAddressPairs(v: unknown, _n: string): Array<{ ip_address: string; mac_address?: string }> {
  if (v === null) return [];
  if (!Array.isArray(v)) throw new ApiError(400, 'Allowed address pairs must be a list.', 'HTTPBadRequest');
  if (v.length > MAX_ALLOWED_ADDRESS_PAIRS)
    throw new ApiError(
      400,
      `The number of allowed address pair exceeds the maximum ${MAX_ALLOWED_ADDRESS_PAIRS}.`,
      'AllowedAddressPairExhausted',
    );
  const seen = new Set<string>();
  return v.map((p) => {
    if (!p || typeof p !== 'object' || Array.isArray(p))
      throw badInput('allowed_address_pairs', `'${pyStr(p)}' is not a dictionary`);
    const d = p as Record<string, unknown>;
    if ('mac_address' in d && (typeof d.mac_address !== 'string' || !isValidMac(d.mac_address)))
      throw new ApiError(400, `'${pyStr(d.mac_address)}' is not a valid MAC address`, 'HTTPBadRequest');
    if (!('ip_address' in d))
      throw new ApiError(
        400,
        'Invalid input for operation: AllowedAddressPair must contain ip_address.',
        'AllowedAddressPairsMissingIP',
      );
    const key = `${d.mac_address ?? ''}|${String(d.ip_address)}`;
    if (seen.has(key))
      throw new ApiError(
        400,
        `Invalid input for operation: Request contains duplicate address pair: mac_address ${d.mac_address ?? 'None'} ip_address ${String(d.ip_address)}.`,
        'DuplicateAddressPairInRequest',
      );
    seen.add(key);
    const extra = Object.keys(d).filter((k) => k !== 'mac_address' && k !== 'ip_address');
    if (extra.length) throw new ApiError(400, `Unrecognized attribute(s) '${extra.join(', ')}'`, 'HTTPBadRequest');
    const ip = d.ip_address;
    const ok = typeof ip === 'string' && (ip.includes('/') ? !!parseCidr(ip) : isValidIp(ip));
    if (!ok)
      throw new ApiError(
        400,
        ip !== null && typeof ip === 'string' && ip.includes('/')
          ? `'${ip}' is not a valid IP subnet`
          : `'${pyStr(ip)}' is not a valid IP address`,
        'HTTPBadRequest',
      );
    return {
      ip_address: ip as string,
      ...(d.mac_address !== undefined ? { mac_address: normalizeMac(d.mac_address)! } : {}),
    };
  });
}

/** extra_dhcp_opt's key specs: opt_name and opt_value required, ip_version 4 or 6 (default 4). */
function toExtraDhcpOpts(v: unknown, n: string): Array<Partial<DhcpOpt>> {
  if (v === null) return [];
  if (!Array.isArray(v)) throw badInput(n, `'${pyStr(v)}' is not a list`);
  return v.map((o) => {
    if (!o || typeof o !== 'object' || Array.isArray(o)) throw badInput(n, `'${pyStr(o)}' is not a dictionary`);
    const d = o as Record<string, unknown>;
    const extra = Object.keys(d).filter((k) => !['opt_name', 'opt_value', 'ip_version'].includes(k));
    if (extra.length || !('opt_name' in d) || !('opt_value' in d))
      throw badInput(n, `'${pyStr(o)}' does not match any of the key specs`);
    const name = d.opt_name,
      value = d.opt_value;
    const blankOk = name === 'router' || name === 'classless-static-route';
    if (typeof name !== 'string' || !name.trim() || name.length > 64 || /[\r\n]/.test(name))
      throw badInput(n, `'${pyStr(name)}' is not a valid opt_name`);
    if (
      value !== null &&
      (typeof value !== 'string' || value.length > 255 || /[\r\n]/.test(value) || (!blankOk && !value.trim()))
    )
      throw badInput(n, `'${pyStr(value)}' is not a valid opt_value`);
    let version = 4;
    if (d.ip_version !== undefined) {
      version = Number(d.ip_version);
      if (version !== 4 && version !== 6) throw badInput(n, `${pyStr(d.ip_version)} is not in [4, 6]`);
    }
    return { opt_name: name, opt_value: value as string | null, ip_version: version };
  });
}

/** A DNS domain as Neutron keeps it: an FQDN ending in '.' ('' stays ''). */
export const fqdnDomain = (d: string | undefined) => (d ? `${d.replace(/\.+$/, '')}.` : '');

/** The DNS integration's assignment: one (hostname, fqdn) per fixed IP, under `domain` (neutron.conf's dns_domain). */
function dnsAssignment(port: PortResource, ips: FixedIp[], domain: string) {
  return ips.map((ip) => {
    // Upstream ignores dns_name under the default 'openstacklocal.' domain; we honour it as a configured domain does.
    const hostname = port.dns_name || `host-${ip.ip_address.replace(/[.:]/g, '-')}`;
    const fqdn =
      port.dns_name && port.dns_name.endsWith('.') ? port.dns_name : domain ? `${hostname}.${domain}` : hostname;
    return { ip_address: ip.ip_address, hostname, fqdn };
  });
}

const ipamPort = (v: PortResource) => ({
  id: v.id,
  network_id: v.network_id,
  mac_address: v.mac_address,
  device_owner: v.device_owner ?? '',
});

/** Whether the MAC is taken on the network; on PostgreSQL a lock on (network, MAC) makes check-then-insert safe. */
async function macInUse(tx: Transaction<NetworkDb>, networkId: string, mac: string) {
  if (isPostgres(tx)) await sql`select pg_advisory_xact_lock(hashtext(${`${networkId}/${mac}`}))`.execute(tx);
  return (await portWithMac(tx, { networkId, mac })).rows.length > 0;
}
const portWithMac = precompiled(['networkId', 'mac'], (db, p) =>
  db.selectFrom('ports').select('id').where('network_id', '=', p.networkId).where('mac_address', '=', p.mac),
);

/** What a port's view and policy need of its network, for each network of a page of ports. */
async function netInfos(tx: Tx, netIds: string[], projectId: string): Promise<Map<string, NetInfo>> {
  const out = new Map<string, NetInfo>();
  if (!netIds.length) return out;
  // One network (a port being created, a page of one network's ports): the statement compiled once.
  const nets =
    netIds.length === 1
      ? (await netInfoOfOne(tx, { id: netIds[0], projectId })).rows
      : await inChunks(netIds, (c) => netInfoQuery(tx, c, projectId).execute());
  for (const n of nets)
    out.set(n.id, {
      project_id: n.project_id ?? '',
      shared: bool(n.shared),
      external: !!Number(n.router_external),
      name: n.name ?? '',
      qos_policy_id: n.qos_policy_id ?? null,
    });
  return out;
}

const netInfoQuery = (db: Tx, ids: string[], projectId: string) =>
  db
    .selectFrom('networks')
    .select(['id', 'project_id', 'name', 'router_external', 'qos_policy_id'])
    .select((eb) => rbacGrants(eb, 'network', 'networks.id', projectId, ['access_as_shared']).as('shared'))
    .where('id', 'in', ids);
const netInfoOfOne = precompiled(['id', 'projectId'], (db, p) => netInfoQuery(db, [p.id], p.projectId));

export function definePorts(svc: NetworkService) {
  const str = (max: number) => (v: unknown, n: string) => toString(v, n, max);
  const api = svc.define({
    singular: 'port',
    plural: 'ports',
    table: 'ports',
    quota: 'port',
    viewFromCreate: true,
    notFound: notFound.port,
    attrs: {
      name: { post: true, put: true, default: '', validate: str(255) },
      network_id: { post: true, required: true, validate: (v, n) => toUuid(v, n) },
      admin_state_up: { type: 'boolean', post: true, put: true, default: true, validate: (v, n) => toBoolean(v, n) },
      // port-mac-address-regenerate: a null MAC on update asks for a new one.
      mac_address: {
        post: true,
        put: true,
        validate: (v, n, c) => (v === null && c.existing ? null : toMacAddress(v, n)),
        filterValue: (s) => normalizeMac(s) ?? s,
      },
      fixed_ips: { column: false, post: true, put: true, validate: toFixedIps },
      device_id: { post: true, put: true, default: '', validate: str(255) },
      device_owner: { post: true, put: true, default: '', validate: str(255) },
      status: {},
      'binding:host_id': { post: true, put: true, default: '', validate: str(255) },
      'binding:vnic_type': {
        post: true,
        put: true,
        default: 'normal',
        validate: (v, n) => {
          if (typeof v !== 'string' || !VNIC_TYPES.includes(v))
            throw badInput(n, `'${pyStr(v)}' is not in [${VNIC_TYPES.map((x) => `'${x}'`).join(', ')}]`);
          return v;
        },
      },
      'binding:profile': {
        type: 'json',
        post: true,
        put: true,
        default: {},
        filter: false,
        validate: (v, n) => {
          if (v === null) return {};
          if (typeof v !== 'object' || Array.isArray(v)) throw badInput(n, `'${pyStr(v)}' is not a dictionary`);
          return v;
        },
      },
      'binding:vif_type': {},
      'binding:vif_details': { type: 'json', filter: false },
      allowed_address_pairs: {
        type: 'json',
        post: true,
        put: true,
        default: [],
        filter: false,
        validate: toAddressPairs,
      },
      extra_dhcp_opts: { type: 'json', post: true, put: true, default: [], filter: false, validate: toExtraDhcpOpts },
      dns_name: { post: true, put: true, default: '', validate: (v, n) => toDnsName(v, n, false) },
      dns_domain: { post: true, put: true, default: '', validate: (v, n) => toDnsName(v, n, true) },
      dns_assignment: { column: false, filter: false },
      propagate_uplink_status: { type: 'boolean', post: true, default: true, validate: (v, n) => toBoolean(v, n) },
      ip_allocation: {},
      // tag-ports-during-bulk-creation: tags given with the port.
      tags: {
        column: false,
        post: true,
        filter: false,
        validate: (v, n) => {
          if (!Array.isArray(v) || v.some((t) => typeof t !== 'string' || !t || t.length > 255))
            throw badInput(n, `'${pyStr(v)}' is not a valid list of tags`);
          return [...new Set(v as string[])];
        },
      },
    },
    scope: (q, ctx) => {
      if (svc.isAdvsvc(ctx)) return q;
      const p = projectOf(ctx);
      return q.where((eb) =>
        eb.or([
          eb('ports.project_id', '=', p),
          eb.exists(
            eb
              .selectFrom('networks')
              .select('networks.id')
              .whereRef('networks.id', '=', 'ports.network_id')
              .where('networks.project_id', '=', p),
          ),
        ]),
      );
    },
    filters: {
      fixed_ips: (q, values) => {
        for (const raw of values) {
          const s = String(raw);
          const eq = s.indexOf('=');
          const key = eq < 0 ? '' : s.slice(0, eq),
            value = eq < 0 ? s : s.slice(eq + 1);
          const has = (cond: (sub: AllocationQuery) => AllocationQuery) => (eb: ExpressionBuilder<DynamicDb, string>) =>
            eb.exists(
              cond(
                eb
                  .selectFrom('ipallocations')
                  .select('ipallocations.port_id')
                  .whereRef('ipallocations.port_id', '=', 'ports.id'),
              ),
            );
          if (key === 'ip_address')
            q = q.where(has((s2) => s2.where('ipallocations.ip_address', '=', normalizeIp(value) ?? value)));
          else if (key === 'subnet_id') q = q.where(has((s2) => s2.where('ipallocations.subnet_id', '=', value)));
          else if (key === 'ip_address_substr')
            q = q.where(
              has((s2) =>
                s2.where('ipallocations.ip_address', 'like', `%${value.replace(/[%_\\]/g, (c) => `\\${c}`)}%`),
              ),
            );
          else throw new ApiError(400, `Invalid input for operation: Invalid filter fixed_ips=${s}.`, 'InvalidInput');
        }
        return q;
      },
    },
    async expand(views, ctx, tx, created) {
      // A port just created carries the addresses afterCreate allocated.
      const ips = created
        ? new Map(views.map((v) => [v.id, v.fixed_ips]))
        : await fixedIpsOf(
            tx,
            views.map((v) => v.id),
          );
      // The network facts a port create looked up for its policy target (one look-up instead of two).
      const known = ctx.call.netInfo;
      const netIds = [...new Set(views.map((v) => v.network_id as string))].filter((id) => !known?.has(id));
      const infos = new Map([...(known ?? []), ...(await netInfos(tx, netIds, projectOf(ctx)))]);
      const dnsDomain = fqdnDomain(svc.config.dnsDomain ?? 'openstacklocal');
      for (const v of views) {
        v.fixed_ips = ips.get(v.id) ?? [];
        v.dns_assignment = dnsAssignment(v, v.fixed_ips, dnsDomain);
        v['binding:profile'] ??= {};
        v['binding:vif_details'] ??= {};
        v.extra_dhcp_opts ??= [];
        v.allowed_address_pairs ??= [];
        setHidden(
          v,
          NET_INFO,
          infos.get(v.network_id) ?? {
            project_id: '',
            shared: false,
            external: false,
            name: '',
            qos_policy_id: null,
          },
        );
      }
    },
    async target(view, ctx) {
      let info = hidden<NetInfo>(view, NET_INFO);
      if (!info) {
        // A port being created: its network's facts, kept for the view this request shows next.
        info = (await netInfos(svc.db, [view.network_id ?? ''], projectOf(ctx))).get(view.network_id);
        if (!info) return {};
        (ctx.call.netInfo ??= new Map()).set(view.network_id, info);
      }
      return {
        'network:tenant_id': info.project_id,
        'network:project_id': info.project_id,
        'network:shared': info.shared,
        shared: info.shared,
      };
    },
    checkCreate: networkOwnershipCheck(svc),
    async beforeCreate(values, ctx, tx) {
      setHidden(values, NETWORK_ROW, await visibleNetwork(svc, ctx, tx, values.network_id));
      values.status = 'DOWN';
      if (values.mac_address) {
        if (await macInUse(tx, values.network_id, values.mac_address)) {
          throw new ApiError(
            409,
            `Unable to complete operation for network ${values.network_id}. The mac address ${values.mac_address} is in use.`,
            'MacAddressInUse',
          );
        }
      } else {
        do values.mac_address = randomMac(BASE_MAC);
        while (await macInUse(tx, values.network_id, values.mac_address));
      }
      values.ip_allocation = Array.isArray(values.fixed_ips) && !values.fixed_ips.length ? 'none' : 'immediate';
      values.allowed_address_pairs = (values.allowed_address_pairs ?? []).map((p: AddressPair) => ({
        ip_address: p.ip_address,
        mac_address: p.mac_address ?? values.mac_address,
      }));
      values.extra_dhcp_opts = (values.extra_dhcp_opts ?? []).filter((o: DhcpOpt) => o.opt_value !== null);
      values['binding:vif_type'] = 'unbound';
      values['binding:vif_details'] = {};
    },
    async afterCreate(view, values, ctx, tx) {
      view.fixed_ips = sortFixedIps(await allocatePortIps(tx, ipamPort(view), values.fixed_ips));
      if (values.tags?.length)
        await tx
          .insertInto('tags')
          .values(values.tags.map((tag: string) => ({ resource_type: 'ports', resource_id: view.id, tag })))
          .execute();
      if (view['binding:host_id']) Object.assign(view, await bind(svc, api, ctx, tx, view.id));
    },
    async beforeUpdate(existing, changes, _req, tx) {
      if (changes.mac_address === null) {
        do changes.mac_address = randomMac(BASE_MAC);
        while (await macInUse(tx, existing.network_id, changes.mac_address));
      }
      const mac = changes.mac_address;
      const macChanged = mac !== undefined && mac !== existing.mac_address;
      if (macChanged) {
        const owner = changes.device_owner ?? existing.device_owner;
        if (owner.startsWith('network:'))
          throw new ApiError(
            409,
            `Operation mac address update is not supported for device_owner ${owner} on port ${existing.id}.`,
            'UnsupportedPortDeviceOwner',
          );
        if (!['unbound', 'binding_failed'].includes(existing['binding:vif_type'])) {
          throw new ApiError(
            409,
            `Unable to complete operation on port ${existing.id}, port is already bound, port type: ${existing['binding:vif_type']}, old_mac ${existing.mac_address}, new_mac ${mac}.`,
            'PortBound',
          );
        }
        if (await macInUse(tx, existing.network_id, mac))
          throw new ApiError(
            409,
            `Unable to complete operation for network ${existing.network_id}. The mac address ${mac} is in use.`,
            'MacAddressInUse',
          );
      }
      if (changes.fixed_ips !== undefined || macChanged) {
        await updatePortIps(
          tx,
          ipamPort({ ...existing, ...changes }),
          existing.fixed_ips,
          changes.fixed_ips,
          macChanged,
        );
      }
      if (changes.fixed_ips?.length && existing.ip_allocation === 'none') changes.ip_allocation = 'immediate';
      if (changes.allowed_address_pairs !== undefined) {
        changes.allowed_address_pairs = changes.allowed_address_pairs.map((p: AddressPair) => ({
          ip_address: p.ip_address,
          mac_address: p.mac_address ?? mac ?? existing.mac_address,
        }));
      }
      if (changes.extra_dhcp_opts !== undefined) {
        // Updates merge by (opt_name, ip_version); a null value removes the option.
        const opts: DhcpOpt[] = [...existing.extra_dhcp_opts];
        for (const o of changes.extra_dhcp_opts as DhcpOpt[]) {
          const i = opts.findIndex((x) => x.opt_name === o.opt_name && Number(x.ip_version) === o.ip_version);
          if (o.opt_value === null) {
            if (i >= 0) opts.splice(i, 1);
          } else if (i >= 0) opts[i] = o;
          else opts.push(o);
        }
        changes.extra_dhcp_opts = opts;
      }
      if (changes['binding:host_id'] === '' && existing['binding:host_id'])
        Object.assign(changes, { 'binding:vif_type': 'unbound', 'binding:vif_details': {}, status: 'DOWN' });
    },
    async afterUpdate(view, existing, changes, ctx, tx) {
      const rebind = (['binding:host_id', 'binding:vnic_type', 'binding:profile'] as const).some(
        (k) => changes[k] !== undefined && JSON.stringify(changes[k]) !== JSON.stringify(existing[k]),
      );
      if (rebind && view['binding:host_id']) await bind(svc, api, ctx, tx, view.id);
    },
    async checkDelete(existing) {
      if (!L3_PORT_OWNERS.includes(existing.device_owner) || !existing.fixed_ips.length) return;
      // A port whose router or floating IP is gone is stale and may go.
      const table = existing.device_owner === DEVICE_OWNER_FLOATINGIP ? 'floatingips' : 'routers';
      try {
        if (!(await svc.db.selectFrom(table).select('id').where('id', '=', existing.device_id).executeTakeFirst()))
          return;
      } catch {
        /* no L3 tables: treat the owner as present */
      }
      throw new ApiError(
        409,
        `Port ${existing.id} cannot be deleted directly via the port API: has device owner ${existing.device_owner}.`,
        'ServicePortInUse',
      );
    },
    async beforeDelete(existing, _req, tx) {
      await releasePortIps(tx, existing.id);
    },
    committed(event, view) {
      if (event === 'delete') svc.notifier.portDeleted(view);
      // An L2 agent acts on the ports bound to its host: a new unbound port is none of theirs.
      else if (event === 'update' || view['binding:host_id']) svc.notifier.portUpdated(view);
      svc.notifier.dhcpChanged(`port.${event}.end`, view.network_id, view);
    },
  });
  return api;
}

/** ML2 binding: the binder (mechanism drivers) decides vif_type and vif_details for the host. */
async function bind(
  svc: NetworkService,
  api: ResourceApi<PortResource>,
  ctx: NetworkContext,
  tx: Transaction<NetworkDb>,
  id: string,
) {
  const view = await api.loadInTx(id, ctx, tx);
  const r = await svc.binder.bind(view);
  const bound = { 'binding:vif_type': r.vif_type, 'binding:vif_details': r.vif_details ?? {} };
  await tx
    .updateTable('ports')
    .set({
      binding_vif_type: bound['binding:vif_type'],
      binding_vif_details: JSON.stringify(bound['binding:vif_details']),
    })
    .where('id', '=', id)
    .execute();
  return bound;
}
