// What the l3 family's resources share: device owners, Neutron's BadRequest, an elevated request
// for the ports the service creates on its own behalf, the queue of agent notifications that wait
// for the transaction to commit, and small reads of the core family's tables.
import type { Transaction } from 'kysely';
import { ApiError } from '../../core/errors.ts';
import type { NetworkService } from '../service.ts';
import type { Tx } from './resource.ts';
import type { PortResource } from './types.ts';
import type { NetworkContext } from '../context.ts';
import type { NetworkDb } from '../db/schema.ts';

export const DEVICE_OWNER_ROUTER_INTF = 'network:router_interface';
export const DEVICE_OWNER_ROUTER_GW = 'network:router_gateway';
export const DEVICE_OWNER_FLOATINGIP = 'network:floatingip';
/** neutron_lib.constants.ROUTER_INTERFACE_OWNERS */
export const ROUTER_INTERFACE_OWNERS = [
  'network:router_interface',
  'network:ha_router_replicated_interface',
  'network:router_interface_distributed',
];

/** Neutron's BadRequest: "Bad <resource> request: <msg>." */
export function badRequest(resource: string, msg: string, type = 'BadRequest'): ApiError {
  return new ApiError(400, `Bad ${resource} request: ${msg}.`, type);
}

// Messages that upstream formats with %s of a dict or list quote Python's repr of it: core's pyRepr.
export { pyRepr } from '../../core/python.ts';

/** The caller with the admin role added: Neutron's context.elevated(), for ports the service owns. */
export function elevated(ctx: NetworkContext): NetworkContext {
  return ctx.elevated();
}

// ---- after-commit steps -----------------------------------------------------------------

/** Runs `fn` once the call's transaction committed (see flushAfterCommit); dropped on rollback. */
export function afterCommit(ctx: NetworkContext, fn: () => unknown) {
  ctx.afterCommit(fn);
}

/** Forgets what a failed transaction queued. */
export function dropAfterCommit(ctx: NetworkContext) {
  ctx.call.afterCommit.length = 0;
}

export async function flushAfterCommit(svc: NetworkService, ctx: NetworkContext) {
  const q = ctx.call.afterCommit.splice(0);
  for (const fn of q) {
    try {
      await fn();
    } catch (err) {
      svc.ctx.log.error({ err }, 'l3: after-commit step failed');
    }
  }
}

/** A transaction whose after-commit steps run once it committed (and are dropped if it failed). */
export async function inTransaction<T>(
  svc: NetworkService,
  ctx: NetworkContext,
  fn: (tx: Transaction<NetworkDb>) => Promise<T>,
): Promise<T> {
  dropAfterCommit(ctx);
  let out: T;
  try {
    out = await svc.transaction(fn);
  } catch (e) {
    dropAfterCommit(ctx);
    throw e;
  }
  await flushAfterCommit(svc, ctx);
  return out;
}

// ---- ports, through the core family's API (IPAM and validation happen there) --------------

/** Creates a port the service owns (router interface/gateway, floating IP) inside `tx`. */
export async function createPort(
  svc: NetworkService,
  ctx: NetworkContext,
  body: Record<string, unknown>,
  tx: Transaction<NetworkDb>,
  projectId?: string,
): Promise<PortResource> {
  const ports = svc.resource('ports');
  const admin = elevated(ctx);
  const { values } = ports.prepareCreate(body, admin);
  // Upstream's gateway and floating IP ports belong to no project ('').
  if (projectId !== undefined) values.project_id = projectId;
  const view = await ports.insert(values, admin, tx);
  afterCommit(ctx, () => ports.spec.committed?.('create', view, ctx));
  return view;
}

export async function updatePort(
  svc: NetworkService,
  ctx: NetworkContext,
  existing: PortResource,
  changes: Record<string, unknown>,
  tx: Transaction<NetworkDb>,
): Promise<PortResource> {
  const ports = svc.resource('ports');
  const admin = elevated(ctx);
  const validated = ports.prepareUpdate(changes, admin, existing);
  const view = await ports.applyUpdate(existing, validated, admin, tx);
  afterCommit(ctx, () => ports.spec.committed?.('update', view, ctx, existing));
  return view;
}

/** Removes a port without the API's checks (router-owned ports cannot be deleted through the API). */
export async function removePort(
  svc: NetworkService,
  ctx: NetworkContext,
  existing: PortResource,
  tx: Transaction<NetworkDb>,
) {
  const ports = svc.resource('ports');
  await ports.remove(existing, elevated(ctx), tx);
  afterCommit(ctx, () => ports.spec.committed?.('delete', existing, ctx));
}

/** A port's view (any project's), or undefined. */
export async function portView(
  svc: NetworkService,
  ctx: NetworkContext,
  id: string,
  tx: Tx,
): Promise<PortResource | undefined> {
  const row = await tx.selectFrom('ports').select('id').where('id', '=', id).executeTakeFirst();
  if (!row) return undefined;
  return svc.resource('ports').loadInTx(id, elevated(ctx), tx);
}

export type { FixedIp } from '../ipam.ts';
/** The fixed IPs of ports, read from the allocations (unsorted: ipam's fixedIpsOf sorts them). */
export { readFixedIps as fixedIpsOf } from '../ipam.ts';

export interface SubnetRow {
  id: string;
  network_id: string;
  project_id: string | null;
  name: string;
  cidr: string;
  gateway_ip: string | null;
  ip_version: number;
  ipv6_ra_mode: string | null;
  ipv6_address_mode: string | null;
  allocation_pools: Array<{ start: string; end: string }>;
}

export async function subnetRows(tx: Tx, filter: { ids?: string[]; networkIds?: string[] }): Promise<SubnetRow[]> {
  let q = tx
    .selectFrom('subnets')
    .select([
      'id',
      'network_id',
      'project_id',
      'name',
      'cidr',
      'gateway_ip',
      'ip_version',
      'ipv6_ra_mode',
      'ipv6_address_mode',
      'allocation_pools',
    ]);
  if (filter.ids) {
    if (!filter.ids.length) return [];
    q = q.where('id', 'in', filter.ids);
  }
  if (filter.networkIds) {
    if (!filter.networkIds.length) return [];
    q = q.where('network_id', 'in', filter.networkIds);
  }
  const rows = await q.orderBy('created_at').orderBy('id').execute();
  return rows.map((r) => ({
    ...r,
    ip_version: Number(r.ip_version),
    allocation_pools:
      typeof r.allocation_pools === 'string' ? JSON.parse(r.allocation_pools) : (r.allocation_pools ?? []),
  }));
}
