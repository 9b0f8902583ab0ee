// What the core family's resources share: RBAC-based visibility (networks, subnet pools and
// address scopes are shared through rbac_policies rows, as upstream since Ussuri), errors,
// row locks and device owner constants.
import {
  sql,
  type AliasableExpression,
  type Expression,
  type ExpressionBuilder,
  type Kysely,
  type SqlBool,
  type Transaction,
} from 'kysely';
import { ApiError } from '../../core/errors.ts';
import { serialType } from '../../core/db.ts';
import { standardColumns, type ResourceQuery, type Tx } from './resource.ts';
import type { NetworkContext } from '../context.ts';
import type { DynamicDb, NetworkDb } from '../db/schema.ts';

/** Hidden facts about a subnet's or port's network, kept on the view for policy targets (never serialized). */
export const NET_INFO = Symbol('network-info');
/** The network row a port create read in its transaction (ports' beforeCreate), for the hooks after it. */
export const NETWORK_ROW = Symbol('network-row');
export interface NetInfo {
  project_id: string;
  shared: boolean;
  external: boolean;
  name: string /** The network's QoS policy (set where ports read it). */;
  qos_policy_id?: string | null;
}

export const DEVICE_OWNER_DHCP = 'network:dhcp';
export const DEVICE_OWNER_ROUTER_GW = 'network:router_gateway';
export const DEVICE_OWNER_FLOATINGIP = 'network:floatingip';
/** neutron's AUTO_DELETE_PORT_OWNERS: ports a network (or subnet) removes itself. */
export const AUTO_DELETE_PORT_OWNERS = ['network:dhcp', 'network:distributed', 'network:floatingip_agent_gateway'];
/** neutron_lib ROUTER_INTERFACE_OWNERS. */
export const ROUTER_INTERFACE_OWNERS = [
  'network:router_interface',
  'network:ha_router_replicated_interface',
  'network:router_interface_distributed',
];
/** ROUTER_INTERFACE_OWNERS_SNAT: router ports that take a real address on auto-address subnets. */
export const ROUTER_INTERFACE_OWNERS_SNAT = [...ROUTER_INTERFACE_OWNERS, 'network:router_centralized_snat'];

export const projectOf = (ctx: NetworkContext) => ctx.projectId ?? '';

export const notFound = {
  network: (id: string) => new ApiError(404, `Network ${id} could not be found.`, 'NetworkNotFound'),
  subnet: (id: string) => new ApiError(404, `Subnet ${id} could not be found.`, 'SubnetNotFound'),
  port: (id: string) => new ApiError(404, `Port ${id} could not be found.`, 'PortNotFound'),
  subnetpool: (id: string) => new ApiError(404, `Subnet pool ${id} could not be found.`, 'SubnetPoolNotFound'),
  addressScope: (id: string) => new ApiError(404, `Address scope ${id} could not be found.`, 'AddressScopeNotFound'),
  segment: (id: string) => new ApiError(404, `Segment ${id} could not be found.`, 'SegmentNotFound'),
};

/** neutron_lib PortInUse: the port is already attached to a device. */
export const portInUse = (port: { id: string; network_id: string; device_id: string }) =>
  new ApiError(
    409,
    `Unable to complete operation on port ${port.id} for network ${port.network_id}. Port already has an attached device ${port.device_id}.`,
    'PortInUse',
  );

/** neutron_lib BadRequest: "Bad <resource> request: <msg>." */
export const badRequest = (resource: string, msg: string) =>
  new ApiError(400, `Bad ${resource} request: ${msg}.`, 'BadRequest');

export const isPostgres = (tx: Tx) => serialType(tx) === 'serial';

/**
 * Serializes writers on one row for the rest of the transaction (PostgreSQL; SQLite runs one
 * write transaction at a time anyway), as upstream locks a network while adding a subnet.
 */
export async function lockRow(tx: Tx, table: string, id: string) {
  if (isPostgres(tx)) await sql`select id from ${sql.table(table)} where id = ${id} for update`.execute(tx);
}

/** `exists` an rbac row granting `actions` on the object in `idRef` to the project (or to everyone). */
export function rbacGrants<DB, TB extends keyof DB>(
  eb: ExpressionBuilder<DB, TB>,
  objectType: string,
  idRef: string,
  projectId: string,
  actions: string[],
): AliasableExpression<SqlBool> {
  // The object's id column is named at run time (networks.id, qos_policies.id, ...).
  const d = eb as unknown as ExpressionBuilder<DynamicDb, string>;
  return d.exists(
    d
      .selectFrom('rbac_policies')
      .select('rbac_policies.id')
      .where('rbac_policies.object_type', '=', objectType)
      .whereRef('rbac_policies.object_id', '=', idRef)
      .where('rbac_policies.action', 'in', actions)
      .where('rbac_policies.target_tenant', 'in', ['*', projectId]),
  );
}

/** A non-admin's rows of an RBAC-shared resource: their own, or shared with them. */
export function rbacScope(table: string, objectType: string, actions: string[]) {
  return (q: ResourceQuery, ctx: NetworkContext) => {
    const p = projectOf(ctx);
    return q.where((eb) =>
      eb.or([eb(`${table}.project_id`, '=', p), rbacGrants(eb, objectType, `${table}.id`, p, actions)]),
    );
  };
}

/** The projects an rbac row grants `action` on the object to by name (the rows other than '*'). */
export async function namedTargets(tx: Tx, objectType: string, objectId: string, action: string): Promise<string[]> {
  const rows = await tx
    .selectFrom('rbac_policies')
    .select('target_tenant')
    .where('object_type', '=', objectType)
    .where('object_id', '=', objectId)
    .where('action', '=', action)
    .where('target_tenant', '!=', '*')
    .execute();
  return rows.map((r) => r.target_tenant as string);
}

/** The ids among `ids` that an rbac row grants `action` to the project or to everyone. */
export async function grantedIds(
  tx: Tx,
  objectType: string,
  ids: string[],
  projectId: string,
  action: string,
  onlyWildcard = false,
): Promise<Set<string>> {
  const out = new Set<string>();
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await tx
      .selectFrom('rbac_policies')
      .select('object_id')
      .where('object_type', '=', objectType)
      .where('action', '=', action)
      .where('object_id', 'in', ids.slice(i, i + 500))
      .where('target_tenant', 'in', onlyWildcard ? ['*'] : ['*', projectId])
      .execute();
    for (const r of rows) out.add(r.object_id);
  }
  return out;
}

export async function insertRbac(
  tx: Tx,
  r: { projectId: string; objectType: string; objectId: string; action: string; target: string },
) {
  await tx
    .insertInto('rbac_policies')
    .values({
      ...standardColumns(),
      project_id: r.projectId,
      object_type: r.objectType,
      object_id: r.objectId,
      action: r.action,
      target_tenant: r.target,
    })
    .onConflict((oc) => oc.doNothing())
    .execute();
}

export async function deleteRbac(
  tx: Transaction<NetworkDb>,
  objectType: string,
  objectId: string,
  action?: string,
  target?: string,
) {
  let q = tx.deleteFrom('rbac_policies').where('object_type', '=', objectType).where('object_id', '=', objectId);
  if (action) q = q.where('action', '=', action);
  if (target) q = q.where('target_tenant', '=', target);
  await q.execute();
}

/** Runs fn over ids in chunks (keeps `in (...)` lists small). */
export async function inChunks<T>(ids: string[], fn: (chunk: string[]) => Promise<T[]>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < ids.length; i += 500) out.push(...(await fn(ids.slice(i, i + 500))));
  return out;
}

/** Custom filter for a computed boolean that an SQL condition decides. */
export function boolFilter(
  cond: (eb: ExpressionBuilder<DynamicDb, string>, ctx: NetworkContext) => Expression<SqlBool>,
) {
  return (q: ResourceQuery, values: unknown[], ctx: NetworkContext) => {
    const wanted = new Set(
      values.map((v) => {
        const s = String(v).toLowerCase();
        if (s === 'true' || s === '1') return true;
        if (s === 'false' || s === '0') return false;
        throw new ApiError(
          400,
          `Invalid input for operation: '${String(v)}' cannot be converted to boolean.`,
          'InvalidInput',
        );
      }),
    );
    if (wanted.size === 2) return q;
    const yes = wanted.has(true);
    return q.where((eb) => (yes ? cond(eb, ctx) : eb.not(cond(eb, ctx))));
  };
}

/**
 * neutron's _validate_network_tenant_ownership (API only): a non-admin creates ports and
 * subnets only on their own networks or on networks shared with them (404 otherwise).
 */
export function networkOwnershipCheck(svc: {
  isAdmin(c: NetworkContext): boolean;
  isAdvsvc(c: NetworkContext): boolean;
  db: Kysely<NetworkDb>;
}) {
  return async (values: { network_id?: unknown; project_id?: unknown }, ctx: NetworkContext) => {
    if (svc.isAdmin(ctx) || svc.isAdvsvc(ctx) || typeof values.network_id !== 'string') return;
    const p = projectOf(ctx);
    const net = await svc.db
      .selectFrom('networks')
      .select(['id', 'project_id'])
      .where('id', '=', values.network_id)
      .where((eb) =>
        eb.or([
          eb('project_id', '=', p),
          rbacGrants(eb, 'network', 'networks.id', p, ['access_as_shared', 'access_as_external']),
        ]),
      )
      .executeTakeFirst();
    if (!net) throw notFound.network(values.network_id);
    if ((await grantedIds(svc.db, 'network', [net.id], p, 'access_as_shared')).has(net.id)) return;
    if (net.project_id !== values.project_id)
      throw new ApiError(404, 'The resource could not be found.', 'HTTPNotFound');
  };
}
