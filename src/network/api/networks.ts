// Networks (db_base_plugin_v2 + ML2): segments behind the provider attributes, MTU from the
// segment types, `shared` and `router:external` as RBAC rows, visibility through RBAC, and
// deletion that takes the network's own (DHCP) ports and subnets with it.
import type { Expression, ExpressionBuilder, SqlBool, Transaction } from 'kysely';
import { precompiled } from '../../core/db.ts';
import { ApiError } from '../../core/errors.ts';
import type { NetworkService } from '../service.ts';
import { derivedFlag, hidden, setHidden, type Tx } from './resource.ts';
import type { NetworkResource, PortResource } from './types.ts';
import { badInput, invalidInput, toBoolean, toInt, toString } from './validate.ts';
import { pyStr } from '../../core/python.ts';
import {
  AUTO_DELETE_PORT_OWNERS,
  DEVICE_OWNER_ROUTER_GW,
  boolFilter,
  deleteRbac,
  grantedIds,
  namedTargets,
  inChunks,
  insertRbac,
  notFound,
  projectOf,
  rbacGrants,
} from './core_common.ts';
import {
  insertSegment,
  maxMtu,
  providerView,
  reserveSegment,
  segmentFromProvider,
  segmentsOf,
  tenantSegment,
  validateSegment,
  validateSegmentsAttr,
  type SegmentRequest,
} from './segments.ts';
import type { NetworkContext } from '../context.ts';
import type { DynamicDb, NetworkDb, NetworkRow } from '../db/schema.ts';

const PROVIDER = ['provider:network_type', 'provider:physical_network', 'provider:segmentation_id'] as const;

/** neutron-lib validate_dns_name / validate_dns_domain (a domain must be a FQDN, ending in '.'). */
export function toDnsName(v: unknown, name: string, domain: boolean): string {
  const s = toString(v, name, 255).toLowerCase();
  if (!s) return s;
  if (domain && !s.endsWith('.')) throw badInput(name, `'${s}' is not a FQDN`);
  const fail = (why: string) => badInput(name, `'${s}' not a valid PQDN or FQDN. Reason: ${why}`);
  const trimmed = s.endsWith('.') ? s.slice(0, -1) : s;
  const labels = trimmed.split('.');
  for (const l of labels) {
    if (!l) throw fail('Encountered an empty component');
    if (l.startsWith('-') || l.endsWith('-')) throw fail(`Name '${l}' must not start or end with a hyphen`);
    if (!/^[a-z0-9-]{1,63}$/i.test(l))
      throw fail(`Name '${l}' must be 1-63 characters long, each of which can only be alphanumeric or a hyphen`);
  }
  if (labels.length > 1 && /^[0-9]+$/.test(labels[labels.length - 1]!))
    throw fail(`TLD '${labels[labels.length - 1]}' must not be all numeric`);
  return s;
}

/** Networks a non-admin sees: their own, shared with them, or external to them. */
export function networkScopeCondition<DB, TB extends keyof DB>(
  eb: ExpressionBuilder<DB, TB>,
  table: string,
  idRef: string,
  projectId: string,
): Expression<SqlBool> {
  // The table is named at run time (networks, or a join's alias).
  const d = eb as unknown as ExpressionBuilder<DynamicDb, string>;
  return d.or([
    d(`${table}.project_id`, '=', projectId),
    rbacGrants(d, 'network', idRef, projectId, ['access_as_shared', 'access_as_external']),
  ]);
}

/** Loads a network the caller may see (inside or outside a transaction); 404 otherwise. */
const networkById = precompiled(['id'], (db, p) =>
  db.selectFrom('networks').selectAll().where('networks.id', '=', p.id),
);

export async function visibleNetwork(
  svc: NetworkService,
  ctx: NetworkContext,
  tx: Tx,
  id: string,
): Promise<NetworkRow> {
  const row =
    svc.isAdmin(ctx) || svc.isAdvsvc(ctx)
      ? (await networkById(tx, { id })).rows[0]
      : await tx
          .selectFrom('networks')
          .selectAll()
          .where('networks.id', '=', id)
          .where((eb) => networkScopeCondition(eb, 'networks', 'networks.id', projectOf(ctx)))
          .executeTakeFirst();
  if (!row) throw notFound.network(id);
  return row;
}

/** Neutron's _validate_shared_update: unsharing needs every other project's use covered by its own RBAC entry. */
async function checkUnshare(tx: Transaction<NetworkDb>, net: NetworkResource) {
  const ports = await tx
    .selectFrom('ports')
    .select('project_id')
    .distinct()
    .where('network_id', '=', net.id)
    .where('device_owner', 'not like', 'network:%')
    .execute();
  const subnets = await tx
    .selectFrom('subnets')
    .select('project_id')
    .distinct()
    .where('network_id', '=', net.id)
    .execute();
  const users = new Set([...ports, ...subnets].map((r) => r.project_id));
  users.delete(net.project_id);
  if (!users.size) return;
  const allowed = new Set<string | null>(await namedTargets(tx, 'network', net.id, 'access_as_shared'));
  if ([...users].some((p) => !allowed.has(p)))
    throw new ApiError(
      409,
      `Unable to reconfigure sharing settings for network ${net.name}. Multiple tenants are using it.`,
      'InvalidSharedSetting',
    );
}

/** The segments a create request asks for: provider attributes, `segments`, or a tenant network. */
function requestedSegments(svc: NetworkService, values: NetworkResource): SegmentRequest[] {
  const provider = PROVIDER.some((k) => values[k] !== undefined && values[k] !== null);
  const multi = values.segments !== undefined && values.segments !== null;
  if (provider && multi)
    throw new ApiError(
      400,
      'Invalid input for operation: Segments and provider values cannot both be set.',
      'SegmentsSetInConjunctionWithProviders',
    );
  let segs: SegmentRequest[];
  if (provider) segs = [segmentFromProvider(values, 'provider:')];
  else if (multi) segs = values.segments as SegmentRequest[];
  else return [tenantSegment(svc)];
  for (const s of segs) validateSegment(svc, s);
  return segs;
}

export function defineNetworks(svc: NetworkService) {
  const api = svc.define({
    singular: 'network',
    plural: 'networks',
    table: 'networks',
    quota: 'network',
    notFound: notFound.network,
    attrs: {
      name: { post: true, put: true, default: '', validate: (v, n) => toString(v, n, 255) },
      admin_state_up: { type: 'boolean', post: true, put: true, default: true, validate: (v, n) => toBoolean(v, n) },
      status: {},
      subnets: { column: false, filter: false },
      shared: derivedFlag(),
      mtu: { type: 'integer', post: true, put: true, default: 0, validate: (v, n) => toNonNegative(v, n) },
      'router:external': {
        type: 'boolean',
        column: 'router_external',
        post: true,
        put: true,
        default: false,
        validate: (v, n) => toBoolean(v, n),
      },
      is_default: { type: 'boolean', post: true, put: true, default: false, validate: (v, n) => toBoolean(v, n) },
      'provider:network_type': { column: false, post: true, put: true, validate: (v, n) => toString(v, n, 32) },
      'provider:physical_network': { column: false, post: true, put: true, validate: (v, n) => toString(v, n, 64) },
      'provider:segmentation_id': { column: false, post: true, put: true, validate: (v, n) => toInt(v, n) },
      segments: { column: false, post: true, put: true, filter: false, validate: (v, n) => validateSegmentsAttr(v, n) },
      dns_domain: { post: true, put: true, default: '', validate: (v, n) => toDnsName(v, n, true) },
      ipv4_address_scope: { column: false },
      ipv6_address_scope: { column: false },
      l2_adjacency: { column: false, filter: false },
    },
    scope: (q, ctx) => q.where((eb) => networkScopeCondition(eb, 'networks', 'networks.id', projectOf(ctx))),
    filters: {
      shared: boolFilter((eb, ctx) => rbacGrants(eb, 'network', 'networks.id', projectOf(ctx), ['access_as_shared'])),
    },
    async expand(views, ctx, tx) {
      const ids = views.map((v) => v.id);
      const shared = await grantedIds(tx, 'network', ids, projectOf(ctx), 'access_as_shared');
      const subnets = await inChunks(ids, (c) =>
        tx
          .selectFrom('subnets')
          .select(['id', 'network_id', 'ip_version', 'subnetpool_id'])
          .where('network_id', 'in', c)
          .orderBy('created_at')
          .orderBy('id')
          .execute(),
      );
      const pools = [...new Set(subnets.map((s) => s.subnetpool_id).filter(Boolean))] as string[];
      const scopes = new Map(
        (
          await inChunks(pools, (c) =>
            tx.selectFrom('subnetpools').select(['id', 'address_scope_id']).where('id', 'in', c).execute(),
          )
        ).map((p) => [p.id, p.address_scope_id]),
      );
      const segs = await segmentsOf(tx, ids);
      for (const v of views) {
        v.shared = shared.has(v.id);
        const mine = subnets.filter((s) => s.network_id === v.id);
        v.subnets = mine.map((s) => s.id);
        const scopeOf = (ver: number) =>
          mine
            .filter((s) => Number(s.ip_version) === ver)
            .map((s) => scopes.get(s.subnetpool_id ?? '') ?? null)
            .find((x) => x) ?? null;
        v.ipv4_address_scope = scopeOf(4);
        v.ipv6_address_scope = scopeOf(6);
        v.l2_adjacency = true;
        providerView(v, segs.get(v.id) ?? []);
      }
    },
    async beforeCreate(values, _req, tx) {
      const segs = requestedSegments(svc, values);
      const max = maxMtu(
        svc,
        segs.map((s) => s.network_type),
      );
      if (values.mtu && values.mtu > max) throw invalidInput(`Requested MTU is too big, maximum is ${max}`);
      values.mtu ||= max;
      values.status = 'ACTIVE';
      const reserved = [];
      for (const s of segs) reserved.push(await reserveSegment(svc, tx, s));
      setHidden(values, RESERVED, reserved);
    },
    async afterCreate(view, values, _req, tx) {
      const reserved = hidden<Awaited<ReturnType<typeof reserveSegment>>[]>(values, RESERVED) ?? [];
      for (const [i, s] of reserved.entries()) await insertSegment(tx, view.id, s, i);
      if (values.shared)
        await insertRbac(tx, {
          projectId: view.project_id,
          objectType: 'network',
          objectId: view.id,
          action: 'access_as_shared',
          target: '*',
        });
      if (values['router:external'])
        await insertRbac(tx, {
          projectId: view.project_id,
          objectType: 'network',
          objectId: view.id,
          action: 'access_as_external',
          target: '*',
        });
    },
    async beforeUpdate(existing, changes, _req, tx) {
      for (const k of ['provider:network_type', 'provider:physical_network'] as const) {
        if (changes[k] !== undefined && changes[k] !== existing[k])
          throw invalidInput(
            'Plugin does not support updating the following provider network attributes: provider:network_type, provider:physical_network',
          );
      }
      if (
        changes['provider:segmentation_id'] !== undefined &&
        changes['provider:segmentation_id'] !== existing['provider:segmentation_id']
      )
        throw invalidInput('Only VLAN type networks can be updated.');
      if (changes.segments !== undefined) throw invalidInput('Plugin does not support updating provider attributes');
      if (changes.mtu !== undefined) {
        const segs = await segmentsOf(tx, [existing.id]);
        const max = maxMtu(
          svc,
          (segs.get(existing.id) ?? []).map((s) => s.network_type),
        );
        if (changes.mtu > max) throw invalidInput(`Requested MTU is too big, maximum is ${max}`);
        if (!changes.mtu) changes.mtu = max;
      }
      if (changes.shared !== undefined) {
        const wildcard = (await grantedIds(tx, 'network', [existing.id], '', 'access_as_shared', true)).has(
          existing.id,
        );
        if (changes.shared && !wildcard)
          await insertRbac(tx, {
            projectId: existing.project_id,
            objectType: 'network',
            objectId: existing.id,
            action: 'access_as_shared',
            target: '*',
          });
        if (!changes.shared && wildcard) {
          await checkUnshare(tx, existing);
          await deleteRbac(tx, 'network', existing.id, 'access_as_shared', '*');
        }
      }
      const ext = changes['router:external'];
      if (ext !== undefined && ext !== existing['router:external']) {
        if (ext)
          await insertRbac(tx, {
            projectId: existing.project_id,
            objectType: 'network',
            objectId: existing.id,
            action: 'access_as_external',
            target: '*',
          });
        else {
          if (
            await tx
              .selectFrom('ports')
              .select('id')
              .where('network_id', '=', existing.id)
              .where('device_owner', '=', DEVICE_OWNER_ROUTER_GW)
              .executeTakeFirst()
          ) {
            throw new ApiError(
              409,
              `External network ${existing.id} cannot be updated to be non-external, since it has existing gateway ports.`,
              'ExternalNetworkInUse',
            );
          }
          await deleteRbac(tx, 'network', existing.id, 'access_as_external');
        }
      }
    },
    async beforeDelete(existing, ctx, tx) {
      const busy = await tx
        .selectFrom('ports')
        .select('id')
        .where('network_id', '=', existing.id)
        .where('device_owner', 'not in', AUTO_DELETE_PORT_OWNERS)
        .orderBy('id')
        .execute();
      if (busy.length) {
        throw new ApiError(
          409,
          `Unable to complete operation on network ${existing.id}. There are one or more ports still in use on the network, id for these ports is: ${busy.map((p) => p.id).join(',')}.`,
          'NetworkInUse',
        );
      }
      const ports = svc.resource('ports');
      for (const p of await tx.selectFrom('ports').selectAll().where('network_id', '=', existing.id).execute()) {
        const view = await ports.loadInTx(p.id, ctx, tx);
        await ports.remove(view, ctx, tx);
        setHidden(existing, REMOVED_PORTS, [...(hidden<PortResource[]>(existing, REMOVED_PORTS) ?? []), view]);
      }
      const subnets = svc.resource('subnets');
      for (const s of await tx.selectFrom('subnets').select('id').where('network_id', '=', existing.id).execute()) {
        await subnets.remove(await subnets.loadInTx(s.id, ctx, tx), ctx, tx);
      }
      await tx.deleteFrom('network_segments').where('network_id', '=', existing.id).execute();
      await deleteRbac(tx, 'network', existing.id);
    },
    committed(event, view) {
      if (event === 'update') svc.notifier.networkUpdated(view);
      if (event === 'delete') {
        for (const p of hidden<PortResource[]>(view, REMOVED_PORTS) ?? []) svc.notifier.portDeleted(p);
        svc.notifier.networkDeleted(view.id);
      }
      svc.notifier.dhcpChanged(`network.${event}.end`, view.id, view);
    },
  });
  return api;
}

const RESERVED = Symbol('reserved-segments');
const REMOVED_PORTS = Symbol('removed-ports');

export function toNonNegative(v: unknown, name: string): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isInteger(n)) throw badInput(name, `'${pyStr(v)}' is not an integer`);
  if (n < 0) throw badInput(name, `'${n}' should be non-negative`);
  return n;
}
