// The scheduler (nova-scheduler): asks placement for allocation candidates with the flavor's
// resources, filters the hosts (compute service enabled and up, availability zone, requested
// or excluded hosts), weighs them by free RAM, and claims the first that placement accepts
// (PUT /allocations with consumer generation; a 409 means someone was faster: next one).
import type { Kysely } from 'kysely';
import type { ComputeDb } from '../db/schema.ts';
import type { MessageBus } from '../../core/bus.ts';
import type { Logger } from '../../core/log.ts';
import { bool } from '../../core/db.ts';
import type { ComputeOptions, Flavor } from '../service.ts';
import type { ComputeClients } from '../clients.ts';
import { serveScheduler } from '../rpcapi.ts';
import type { AllocationClaim } from '../../core/clients/placement.ts';

/** A claim's allocations: resources by provider. */
type Allocations = AllocationClaim['allocations'];

export interface RequestSpec {
  instance_uuid: string;
  project_id: string;
  user_id: string;
  flavor: Flavor;
  availability_zone?: string | null;
  /** Forced host (zone:host) or a requested one (2.74 `host`). */
  force_host?: string | null;
  exclude_hosts?: string[];
  /**
   * The host was forced (create's zone:host, force=true of live migration and evacuation up to
   * 2.67): no filter runs, as Nova's force_hosts; the host need only be up and have room.
   */
  ignore_filters?: boolean;
  /** The server group: its policy and where its other members run (one entry per member). */
  group?: { policy: string; hosts: string[]; max_server_per_host: number };
  same_hosts?: string[];
  different_hosts?: string[];
  /** A move (evacuation) whose instance keeps its allocation on the source: the claim adds the destination's to it. */
  merge_allocations?: boolean;
}

export type Selection = { host: string; node: string; provider: string } | { error: string };

/** The placement resources a flavor asks for (nova.scheduler.utils.resources_from_flavor). */
export function flavorResources(f: Flavor): Record<string, number> {
  const res: Record<string, number> = {
    VCPU: f.vcpus,
    MEMORY_MB: f.ram,
    DISK_GB: f.disk + f.ephemeral + Math.ceil(f.swap / 1024),
  };
  for (const [k, v] of Object.entries(f.extra_specs ?? {})) {
    const m = /^resources:([A-Z0-9_]+)$/.exec(k);
    if (m) res[m[1]!] = Number(v);
  }
  for (const k of Object.keys(res)) if (!res[k]) delete res[k];
  return res;
}

export class Scheduler {
  private stopServing?: () => void;
  /** The availability zone of a host (aggregates decide it; this default says 'the default zone'). */
  hostZone: (host: string) => Promise<string>;

  constructor(
    private db: Kysely<ComputeDb>,
    private clients: ComputeClients,
    private bus: MessageBus,
    private o: ComputeOptions,
    private log: Logger,
  ) {
    this.hostZone = async () => o.defaultAvailabilityZone;
  }

  start() {
    this.stopServing = serveScheduler(this.bus, this.o.host, { select_destinations: (a) => this.select(a.spec) });
  }
  stop() {
    this.stopServing?.();
  }

  /** Hosts whose nova-compute has reported within service_down_time and is enabled (ComputeFilter; a forced host may be disabled). */
  private async usableHosts(includeDisabled = false): Promise<Map<string, string>> {
    const cutoff = new Date(Date.now() - this.o.serviceDownTime * 1000).toISOString();
    const services = await this.db
      .selectFrom('services')
      .selectAll()
      .where('binary', '=', 'nova-compute')
      .where('deleted', '=', 0)
      .execute();
    const up = new Set(
      services
        .filter(
          (s) =>
            (includeDisabled || !bool(s.disabled)) &&
            !bool(s.forced_down) &&
            s.last_seen_up &&
            s.last_seen_up >= cutoff,
        )
        .map((s) => s.host),
    );
    const nodes = await this.db
      .selectFrom('compute_nodes')
      .select(['uuid', 'host', 'hypervisor_hostname'])
      .where('deleted', '=', 0)
      .execute();
    const out = new Map<string, string>();
    for (const n of nodes) if (up.has(n.host)) out.set(n.uuid, n.host);
    return out;
  }

  async select(spec: RequestSpec): Promise<Selection> {
    const resources = flavorResources(spec.flavor);
    const r = await this.clients.placement.allocationCandidates(resources, 1000);
    if (r.status !== 200) return { error: `No valid host was found. Placement answered ${r.status}.` };
    const usable = await this.usableHosts(!!spec.ignore_filters);
    const filtered = !spec.ignore_filters;
    const summaries = r.body.provider_summaries;
    const candidates: Array<{
      host: string;
      provider: string;
      allocations: Allocations;
      freeRam: number;
      soft: number;
    }> = [];
    for (const ar of r.body.allocation_requests) {
      const provider = Object.keys(ar.allocations).find((u) => usable.has(u));
      if (!provider) continue;
      const host = usable.get(provider)!;
      if (spec.exclude_hosts?.includes(host)) continue;
      if (spec.force_host && spec.force_host !== host) continue;
      // AvailabilityZoneFilter (a requested host is in its zone by the API's choice).
      if (
        filtered &&
        spec.availability_zone &&
        !spec.force_host &&
        (await this.hostZone(host)) !== spec.availability_zone
      )
        continue;
      // ServerGroupAffinityFilter / ServerGroupAntiAffinityFilter, SameHostFilter / DifferentHostFilter.
      const g = spec.group;
      const onHost = g ? g.hosts.filter((h) => h === host).length : 0;
      if (filtered && g?.policy === 'affinity' && g.hosts.length && !onHost) continue;
      if (filtered && g?.policy === 'anti-affinity' && onHost >= g.max_server_per_host) continue;
      if (filtered && spec.same_hosts && spec.same_hosts.length && !spec.same_hosts.includes(host)) continue;
      if (filtered && spec.different_hosts?.includes(host)) continue;
      const mem = summaries[provider]?.resources?.MEMORY_MB;
      // The soft policies are weighers: members together (soft-affinity) or apart (soft-anti-affinity).
      const soft = g?.policy === 'soft-affinity' ? onHost : g?.policy === 'soft-anti-affinity' ? -onHost : 0;
      candidates.push({
        host,
        provider,
        allocations: ar.allocations,
        freeRam: mem ? mem.capacity - mem.used : 0,
        soft,
      });
    }
    // The group weighers first, then the RAM weigher (multiplier 1.0): the most free memory; ties by host name.
    candidates.sort((a, b) => b.soft - a.soft || b.freeRam - a.freeRam || a.host.localeCompare(b.host));
    for (const c of candidates) {
      let allocations = c.allocations;
      let generation: number | null = null;
      if (spec.merge_allocations) {
        const cur = (await this.clients.placement.getAllocations(spec.instance_uuid)).body;
        const held = cur?.allocations ?? {};
        if (Object.keys(held).length) {
          generation = cur!.consumer_generation ?? null;
          allocations = {
            ...Object.fromEntries(Object.entries(held).map(([rp, a]) => [rp, { resources: a.resources }])),
            ...c.allocations,
          };
        }
      }
      const claim = await this.clients.placement.putAllocations(spec.instance_uuid, {
        allocations,
        project_id: spec.project_id,
        user_id: spec.user_id,
        consumer_generation: generation,
      });
      if (claim.status === 204) return { host: c.host, node: c.host, provider: c.provider };
      if (claim.status !== 409) this.log.warn({ status: claim.status, body: claim.body }, 'placement refused a claim');
    }
    return { error: 'No valid host was found. There are not enough hosts available.' };
  }
}
