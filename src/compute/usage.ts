// Usage (nova.api.openstack.compute.simple_tenant_usage's sums and instance_usage_audit_log):
// hours, vCPU, RAM and disk hours of the servers (the servers family's `instances`, deleted ones
// included) that ran in a period, per project; and the audit log of the compute hosts. The
// os-simple-tenant-usage and os-instance_usage_audit_log handlers (api/usage.ts) call these.
import type { Kysely } from 'kysely';
import type { ComputeDb } from './db/schema.ts';
import { json } from '../core/db.ts';
import { ApiError } from '../core/errors.ts';
import { computeTopicHosts } from './hosts.ts';
import { novaTime } from './times.ts';

const badRequest = (m: string) => new ApiError(400, m);

/** A period bound: milliseconds since the epoch for the arithmetic, plus the microseconds Nova keeps. */
interface Instant {
  ms: number;
  /** 0–999 microseconds below the millisecond. */
  us: number;
}

/** The current time, to the microsecond where the clock gives it (Nova's timeutils.utcnow()). */
function now(): Instant {
  const t = performance.timeOrigin + performance.now();
  const ms = Math.floor(t);
  return { ms, us: Math.min(999, Math.floor((t - ms) * 1000)) };
}

/** Nova's accepted period formats (naive times are UTC); the fraction is kept to the microsecond. */
function parseTime(raw: string | null): Instant {
  if (!raw) return now();
  const m = /^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?$/.exec(raw);
  if (!m || (raw.includes(' ') && m[3] === undefined))
    throw badRequest('Invalid datetime string: Datetime is in invalid format');
  const frac = (m[3] ?? '').padEnd(6, '0');
  const t = Date.parse(`${m[1]}T${m[2]}.${frac.slice(0, 3)}Z`);
  if (Number.isNaN(t)) throw badRequest('Invalid datetime string: Datetime is in invalid format');
  return { ms: t, us: Number(frac.slice(3)) };
}

const before = (a: Instant, b: Instant) => a.ms < b.ms || (a.ms === b.ms && a.us < b.us);

/** Nova's JSON form of a datetime (oslo's PERFECT_TIME_FORMAT): six fraction digits, no zone. */
const stamp = (t: Instant) => `${new Date(t.ms).toISOString().slice(0, 23)}${String(t.us).padStart(3, '0')}`;

const iso = (t: number) => novaTime(new Date(t).toISOString());

/** One tenant's usage (os-simple-tenant-usage), with its servers' usages when detailed. */
interface TenantUsage {
  tenant_id: string;
  server_usages?: Array<Record<string, unknown>>;
  total_local_gb_usage: number;
  total_vcpus_usage: number;
  total_memory_mb_usage: number;
  total_hours: number;
  start: string | null;
  stop: string | null;
}

/** What a usage report covers: the period as asked, one project or all, a page of servers. */
export interface UsageQuery {
  start: string | null;
  end: string | null;
  /** One project's servers; all projects' when undefined. */
  projectId?: string;
  /** With each server's usage (server_usages). */
  detailed: boolean;
  /** Paged by server (2.40 and later): `limit` servers after `marker`. */
  paged?: { limit: number; marker: string | null };
}

/**
 * The usages of the servers that ran in a period (Nova's simple_tenant_usage), one entry a
 * project, and the marker of the next page when the page is full.
 */
export async function tenantUsages(db: Kysely<ComputeDb>, u: UsageQuery) {
  const startAt = parseTime(u.start);
  let stopAt = parseTime(u.end);
  if (!before(startAt, stopAt) && (u.start || u.end))
    throw badRequest('Invalid start time. The start time cannot occur after the end time.');
  // Nova answers for no later than now.
  const current = now();
  if (before(current, stopAt)) stopAt = current;
  const start = startAt.ms;
  const stop = stopAt.ms;
  const paged = !!u.paged;
  const limit = u.paged?.limit ?? 1000;
  const marker = u.paged?.marker ?? null;
  const projectId = u.projectId;
  const detailed = u.detailed;
  let rows = await db
    .selectFrom('instances')
    .selectAll()
    .$if(!!projectId, (qb) => qb.where('project_id', '=', projectId!))
    .orderBy('created_at')
    .orderBy('uuid')
    .execute()
    .catch(() => []);
  // Nova's get_active_by_window_joined: not terminated before the period, launched before its end. Its
  // SQL `launched_at < end` leaves out a server never launched (NULL): tempest's schema wants started_at.
  rows = rows.filter(
    (r) =>
      (!r.terminated_at || Date.parse(r.terminated_at) > start) && !!r.launched_at && Date.parse(r.launched_at) < stop,
  );
  if (marker !== null) {
    const i = rows.findIndex((r) => r.uuid === marker);
    if (i < 0) throw badRequest(`Marker ${marker} could not be found.`);
    rows = rows.slice(i + 1);
  }
  rows = rows.slice(0, limit);
  const byTenant = new Map<string, TenantUsage>();
  const servers: Array<Record<string, unknown>> = [];
  for (const r of rows) {
    const launched = r.launched_at ? Date.parse(r.launched_at) : null;
    const terminated = r.terminated_at ? Date.parse(r.terminated_at) : null;
    let hours = 0;
    if (launched !== null && !(terminated !== null && terminated < start) && !(launched > stop)) {
      hours = (Math.min(stop, terminated ?? stop) - Math.max(launched, start)) / 3600000;
    }
    const f = json<{ name?: string; ram?: number; disk?: number; ephemeral?: number; vcpus?: number }>(r.flavor, {});
    const info: Record<string, unknown> = {
      hours,
      flavor: f.name ?? '',
      instance_id: r.uuid,
      name: r.display_name,
      tenant_id: r.project_id,
      memory_mb: Number(f.ram ?? 0),
      local_gb: Number(f.disk ?? 0) + Number(f.ephemeral ?? 0),
      vcpus: Number(f.vcpus ?? 0),
      started_at: launched !== null ? iso(launched) : null,
      ended_at: terminated !== null ? iso(terminated) : null,
    };
    info.state = terminated !== null ? 'terminated' : r.vm_state;
    info.uptime = launched === null ? 0 : Math.floor(((terminated ?? Date.now()) - launched) / 1000);
    let s = byTenant.get(r.project_id);
    if (!s) {
      s = {
        tenant_id: r.project_id,
        ...(detailed ? { server_usages: [] } : {}),
        total_local_gb_usage: 0,
        total_vcpus_usage: 0,
        total_memory_mb_usage: 0,
        total_hours: 0,
        start: stamp(startAt),
        stop: stamp(stopAt),
      };
      byTenant.set(r.project_id, s);
    }
    s.total_local_gb_usage += (info.local_gb as number) * hours;
    s.total_vcpus_usage += (info.vcpus as number) * hours;
    s.total_memory_mb_usage += (info.memory_mb as number) * hours;
    s.total_hours += hours;
    servers.push(info);
    s.server_usages?.push(info);
  }
  const more =
    paged && servers.length > 0 && servers.length === limit
      ? (servers[servers.length - 1].instance_id as string)
      : undefined;
  return { list: [...byTenant.values()], more };
}

// ---- os-instance_usage_audit_log (nova.api.openstack.compute.instance_usage_audit_log) ----

/** Nova's last_completed_audit_period for the default 'month' unit: [1st of last month, 1st of this month). */
function lastAuditPeriod(before: Date): [Date, Date] {
  let end = new Date(Date.UTC(before.getUTCFullYear(), before.getUTCMonth(), 1));
  if (end.getTime() >= before.getTime()) end = new Date(Date.UTC(before.getUTCFullYear(), before.getUTCMonth() - 1, 1));
  const begin = new Date(Date.UTC(end.getUTCFullYear(), end.getUTCMonth() - 1, 1));
  return [begin, end];
}
const pyDate = (d: Date) => d.toISOString().slice(0, 19).replace('T', ' ');

/** The audit task logs: the periodic audit is off (as Nova's default), so every compute host has not run. */
export async function auditLog(db: Kysely<ComputeDb>, before: Date) {
  const [begin, end] = lastAuditPeriod(before);
  const hosts = await computeTopicHosts(db);
  return {
    period_beginning: pyDate(begin),
    period_ending: pyDate(end),
    num_hosts: hosts.length,
    num_hosts_done: 0,
    num_hosts_running: 0,
    num_hosts_not_run: hosts.length,
    hosts_not_run: hosts,
    total_instances: 0,
    total_errors: 0,
    overall_status: `${hosts.length === 0 ? 'ALL' : `0 of ${hosts.length}`} hosts done. 0 errors.`,
    log: {},
  };
}
