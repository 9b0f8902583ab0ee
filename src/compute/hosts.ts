// Compute hosts as the API checks them (nova.compute.api's host look-ups): whether a host has a
// nova-compute service or a compute node, whether that service is up, how many servers a set of
// hosts holds, the hosts a server's events go to while it moves. The servers, aggregates, moves
// and shelve handlers ask these; nothing here sees the HTTP request.
import type { Kysely } from 'kysely';
import type { ComputeDb } from './db/schema.ts';
import { bool } from '../core/db.ts';

/** What these functions use of the compute service (ComputeService is one). */
export interface HostDeps {
  db: Kysely<ComputeDb>;
  options: { serviceDownTime: number };
}

/** The nova-compute service row of a host (its heartbeat columns); undefined when there is none. */
export async function computeServiceOf(db: Kysely<ComputeDb>, host: string) {
  return db
    .selectFrom('services')
    .select(['id', 'host', 'last_seen_up', 'forced_down', 'disabled'])
    .where('host', '=', host)
    .where('binary', '=', 'nova-compute')
    .where('deleted', '=', 0)
    .executeTakeFirst();
}

/**
 * Whether the nova-compute service of a host is up, as the API's checks ask it (a heartbeat was
 * seen within service_down_time and the service is not forced down); false for no host.
 */
export async function computeHostIsUp(svc: HostDeps, host: string | null | undefined): Promise<boolean> {
  if (!host) return false;
  const s = await computeServiceOf(svc.db, host);
  if (!s || bool(s.forced_down) || !s.last_seen_up) return false;
  return Date.parse(s.last_seen_up) >= Date.now() - svc.options.serviceDownTime * 1000;
}

/** The compute node of a host (its uuid is its resource provider's); undefined when there is none. */
export async function computeNodeOf(db: Kysely<ComputeDb>, host: string) {
  return db
    .selectFrom('compute_nodes')
    .select(['id', 'uuid'])
    .where('host', '=', host)
    .where('deleted', '=', 0)
    .executeTakeFirst();
}

/** Whether a host has a compute node (what a requested or forced host must have). */
export async function computeNodeExists(db: Kysely<ComputeDb>, host: string): Promise<boolean> {
  return !!(await computeNodeOf(db, host));
}

/** How many servers (not deleted) the hosts hold; 0 when the count cannot be read. */
export async function serversOnHosts(db: Kysely<ComputeDb>, hosts: string[]): Promise<number> {
  if (!hosts.length) return 0;
  const n = await db
    .selectFrom('instances')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('host', 'in', hosts)
    .where('deleted', '=', 0)
    .executeTakeFirst()
    .catch(() => ({ n: 0 }));
  return Number(n?.n ?? 0);
}

/** The migration statuses after which a move is over. */
const MOVE_OVER = ['confirmed', 'reverted', 'error', 'failed', 'completed', 'cancelled', 'done'];

/**
 * The hosts of the move a server is in (both ends of its newest migration not over); none when
 * it is not moving or the migrations cannot be read.
 */
export async function moveHostsOf(db: Kysely<ComputeDb>, instanceUuid: string): Promise<string[]> {
  const m = await db
    .selectFrom('migrations')
    .select(['source_compute', 'dest_compute'])
    .where('instance_uuid', '=', instanceUuid)
    .where('status', 'not in', MOVE_OVER)
    .orderBy('id', 'desc')
    .executeTakeFirst()
    .catch(() => undefined);
  return [m?.source_compute, m?.dest_compute].filter((h): h is string => !!h);
}

/** The hosts with a compute-topic service (os-instance_usage_audit_log's hosts), each once. */
export async function computeTopicHosts(db: Kysely<ComputeDb>): Promise<string[]> {
  const rows = await db
    .selectFrom('services')
    .select('host')
    .where('topic', '=', 'compute')
    .where('deleted', '=', 0)
    .execute()
    .catch(() => []);
  return [...new Set(rows.map((r) => r.host))];
}
