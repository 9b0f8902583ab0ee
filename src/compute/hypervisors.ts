// Hypervisors (nova.objects.ComputeNode and the host's uptime, as nova.compute.api.HostAPI
// answers them): the compute nodes the agents report (servers family's `compute_nodes`), each
// with its nova-compute service, the servers on a host, the statistics summed over the enabled
// hosts, and the host's uptime line. The os-hypervisors handlers (api/hypervisors.ts) call these.
import os from 'node:os';
import type { Selectable } from 'kysely';
import type { ComputeNodesTable } from './db/schema.ts';
import { listServices, type ComputeServiceDeps as ComputeService, type ServiceRow } from './services.ts';

/** A compute node as the hypervisor views show it: the columns of its `compute_nodes` row they read. */
export type ComputeNode = Pick<
  Selectable<ComputeNodesTable>,
  | 'id'
  | 'uuid'
  | 'host'
  | 'hypervisor_hostname'
  | 'hypervisor_type'
  | 'hypervisor_version'
  | 'host_ip'
  | 'vcpus'
  | 'memory_mb'
  | 'local_gb'
  | 'vcpus_used'
  | 'memory_mb_used'
  | 'local_gb_used'
  | 'running_vms'
  | 'cpu_info'
>;

/** Every compute node not deleted, oldest first. */
export async function listNodes(svc: ComputeService): Promise<ComputeNode[]> {
  const rows = await svc.db.selectFrom('compute_nodes').selectAll().where('deleted', '=', 0).orderBy('id').execute();
  return rows.map((r) => ({
    id: Number(r.id),
    uuid: r.uuid,
    host: r.host,
    hypervisor_hostname: r.hypervisor_hostname,
    hypervisor_type: r.hypervisor_type,
    hypervisor_version: Number(r.hypervisor_version),
    host_ip: r.host_ip ?? null,
    vcpus: Number(r.vcpus),
    memory_mb: Number(r.memory_mb),
    local_gb: Number(r.local_gb),
    vcpus_used: Number(r.vcpus_used),
    memory_mb_used: Number(r.memory_mb_used),
    local_gb_used: Number(r.local_gb_used),
    running_vms: Number(r.running_vms),
    cpu_info: r.cpu_info ?? null,
  }));
}

/** The servers on a host, named as Nova's hypervisor views name them. */
export async function serversOn(svc: ComputeService, host: string): Promise<Array<{ name: string; uuid: string }>> {
  const rows = await svc.db
    .selectFrom('instances')
    .select(['uuid'])
    .where('host', '=', host)
    .where('deleted', '=', 0)
    .orderBy('created_at')
    .execute()
    .catch(() => []);
  return rows.map((r) => ({ name: `instance-${r.uuid.slice(0, 8)}`, uuid: r.uuid }));
}

/** A look-up of the nova-compute service of a host. */
export async function computeServices(svc: ComputeService): Promise<(host: string) => ServiceRow | undefined> {
  const services = (await listServices(svc)).filter((s) => s.binary === 'nova-compute');
  return (host: string) => services.find((s) => s.host === host);
}

/** The host's uptime line, as `uptime` prints it (what Nova's drivers return). */
export function uptimeLine(): string {
  const t = new Date();
  const up = os.uptime();
  const days = Math.floor(up / 86400),
    h = Math.floor((up % 86400) / 3600),
    m = Math.floor((up % 3600) / 60);
  const load = os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(', ');
  const clock = t.toISOString().slice(11, 19);
  return ` ${clock} up ${days ? `${days} days, ` : ''}${String(h).padStart(2, ' ')}:${String(m).padStart(2, '0')},  0 users,  load average: ${load}`;
}

/** The nodes' sizes summed, with what is free (Nova's compute_node_statistics). */
export interface HypervisorStatistics
  extends Pick<
    ComputeNode,
    'vcpus' | 'memory_mb' | 'local_gb' | 'vcpus_used' | 'memory_mb_used' | 'local_gb_used' | 'running_vms'
  > {
  count: number;
  free_ram_mb: number;
  free_disk_gb: number;
  current_workload: number;
  disk_available_least: number;
}

/** The nodes of the enabled compute services, summed (Nova's compute_node_statistics). */
export async function hypervisorStatistics(svc: ComputeService): Promise<HypervisorStatistics> {
  const enabled = new Set(
    (await listServices(svc)).filter((s) => s.binary === 'nova-compute' && !s.disabled).map((s) => s.host),
  );
  const stats: HypervisorStatistics = {
    count: 0,
    vcpus: 0,
    memory_mb: 0,
    local_gb: 0,
    vcpus_used: 0,
    memory_mb_used: 0,
    local_gb_used: 0,
    free_ram_mb: 0,
    free_disk_gb: 0,
    current_workload: 0,
    running_vms: 0,
    disk_available_least: 0,
  };
  for (const n of await listNodes(svc)) {
    if (!enabled.has(n.host)) continue;
    stats.count++;
    stats.vcpus += n.vcpus;
    stats.memory_mb += n.memory_mb;
    stats.local_gb += n.local_gb;
    stats.vcpus_used += n.vcpus_used;
    stats.memory_mb_used += n.memory_mb_used;
    stats.local_gb_used += n.local_gb_used;
    stats.free_ram_mb += n.memory_mb - n.memory_mb_used;
    stats.free_disk_gb += n.local_gb - n.local_gb_used;
    stats.running_vms += n.running_vms;
    stats.disk_available_least += n.local_gb - n.local_gb_used;
  }
  return stats;
}
