// os-hypervisors (nova.api.openstack.compute.hypervisors): the compute nodes the agents report
// (servers family's `compute_nodes`) with their service's state: list, detail (paginated from
// 2.33), show, search and servers routes (to 2.52), uuids, hostname pattern and with_servers
// (2.53), statistics and uptime (to 2.87), 2.88's slimmer detail with uptime inline.
import type { FastifyRequest } from 'fastify';
import type { ComputeService } from '../service.ts';
import { json } from '../../core/db.ts';
import { authorize, badRequest, mv, notFound, queryOf } from './common.ts';
import { isUuidLike } from '../../core/validate.ts';
import { serviceIsUp, type ServiceRow } from '../services.ts';
import {
  computeServices,
  hypervisorStatistics,
  listNodes,
  serversOn,
  uptimeLine,
  type ComputeNode as Node,
} from '../hypervisors.ts';
import { limitOf, nextLink } from './flavors.ts';

const HV = 'os_compute_api:os-hypervisors';

function view(
  req: FastifyRequest,
  svc: ComputeService,
  n: Node,
  s: ServiceRow,
  detail: boolean,
  servers?: Array<{ name: string; uuid: string }>,
  withServers = false,
) {
  const v = mv(req);
  const uuids = v.gte('2.53');
  const out: Record<string, unknown> = {
    id: uuids ? n.uuid : n.id,
    hypervisor_hostname: n.hypervisor_hostname,
    state: serviceIsUp(svc, s) ? 'up' : 'down',
    status: s.disabled ? 'disabled' : 'enabled',
  };
  if (detail) {
    out.hypervisor_type = n.hypervisor_type;
    out.hypervisor_version = n.hypervisor_version;
    out.host_ip = n.host_ip;
    out.service = { id: uuids ? s.uuid : s.id, host: n.host, disabled_reason: s.disabled_reason };
  }
  if (detail && v.lt('2.88')) {
    const freeDisk = n.local_gb - n.local_gb_used;
    Object.assign(out, {
      vcpus: n.vcpus,
      memory_mb: n.memory_mb,
      local_gb: n.local_gb,
      vcpus_used: n.vcpus_used,
      memory_mb_used: n.memory_mb_used,
      local_gb_used: n.local_gb_used,
      free_ram_mb: n.memory_mb - n.memory_mb_used,
      free_disk_gb: freeDisk,
      current_workload: 0,
      running_vms: n.running_vms,
      disk_available_least: freeDisk,
    });
    out.cpu_info = v.lt('2.28') ? (n.cpu_info ?? '') : json(n.cpu_info, {});
  }
  if (detail && v.gte('2.88')) out.uptime = serviceIsUp(svc, s) ? uptimeLine() : null;
  if (servers && servers.length) out.servers = servers;
  else if (withServers && v.gte('2.75')) out.servers = [];
  return out;
}

/** oslo's bool_from_string(strict=True) for a query parameter. */
function boolParam(name: string, raw: string | null): boolean {
  if (raw === null) return false;
  const s = raw.trim().toLowerCase();
  if (['1', 't', 'true', 'on', 'y', 'yes'].includes(s)) return true;
  if (['0', 'f', 'false', 'off', 'n', 'no'].includes(s)) return false;
  throw badRequest(
    `Invalid input for query parameters ${name}. Value: ${raw}. '${raw}' is not one of ['True', 'true', 'False', 'false', ...]`,
  );
}

const list = async (svc: ComputeService, req: FastifyRequest, detail: boolean) => {
  const v = mv(req);
  const q = queryOf(req);
  let pattern: string | null = null,
    withServers = false;
  let limit: number | undefined,
    marker: string | null = null;
  if (v.gte('2.53')) {
    for (const k of q.keys())
      if (!['limit', 'marker', 'hypervisor_hostname_pattern', 'with_servers'].includes(k))
        throw badRequest(
          `Invalid input for query parameters ${k}. Value: ${q.get(k)}. Additional properties are not allowed ('${k}' was unexpected)`,
        );
    pattern = q.get('hypervisor_hostname_pattern');
    withServers = boolParam('with_servers', q.get('with_servers'));
  }
  if (v.gte('2.33')) {
    limit = limitOf(req);
    marker = q.get('marker');
  }
  let all = await listNodes(svc);
  let links = v.gte('2.33');
  if (pattern !== null) {
    if (q.has('limit') || marker)
      throw badRequest(
        'Paging over hypervisors with the hypervisor_hostname_pattern query parameter is not supported.',
      );
    links = false;
    all = all.filter((n) => n.hypervisor_hostname.includes(pattern!));
    if (!all.length) throw notFound(`No hypervisor matching '${pattern}' could be found.`);
  } else {
    if (marker !== null) {
      const i = all.findIndex((n) => (v.gte('2.53') ? n.uuid === marker : String(n.id) === marker));
      if (i < 0) throw badRequest(`marker [${marker}] not found`);
      all = all.slice(i + 1);
    }
    if (limit !== undefined) all = all.slice(0, limit);
  }
  const service = await computeServices(svc);
  const out: unknown[] = [];
  for (const n of all) {
    const s = service(n.host);
    if (!s) continue;
    out.push(view(req, svc, n, s, detail, withServers ? await serversOn(svc, n.host) : undefined, withServers));
  }
  const body: Record<string, unknown> = { hypervisors: out };
  if (links && limit !== undefined && out.length && out.length === limit) {
    const last = all[all.length - 1]!;
    body.hypervisors_links = nextLink(
      req,
      detail ? 'os-hypervisors/detail' : 'os-hypervisors',
      v.gte('2.53') ? last.uuid : String(last.id),
    );
  }
  return body;
};

/** The node for an id: a uuid from 2.53 (400 otherwise), an integer before (404 otherwise). */
const findNode = async (svc: ComputeService, req: FastifyRequest, id: string) => {
  const uuids = mv(req).gte('2.53');
  if (uuids && !isUuidLike(id)) throw badRequest(`Invalid uuid ${id}`);
  if (!uuids && !/^\s*[-+]?\d+\s*$/.test(id)) throw notFound(`Hypervisor with ID '${id}' could not be found.`);
  const n = (await listNodes(svc)).find((x) => (uuids ? x.uuid === id.toLowerCase() : x.id === Number(id)));
  if (!n) throw notFound(`Hypervisor with ID '${id}' could not be found.`);
  const s = (await computeServices(svc))(n.host);
  if (!s) throw notFound(`Hypervisor with ID '${id}' could not be found.`);
  return { n, s };
};

export async function listHypervisors(svc: ComputeService, req: FastifyRequest) {
  authorize(req, `${HV}:list`, {});
  return list(svc, req, false);
}
export async function listHypervisorsDetail(svc: ComputeService, req: FastifyRequest) {
  authorize(req, `${HV}:list-detail`, {});
  return list(svc, req, true);
}

export async function showHypervisorStatistics(svc: ComputeService, req: FastifyRequest) {
  if (mv(req).gte('2.88')) {
    req.authorized = true;
    throw notFound('The resource could not be found.');
  }
  authorize(req, `${HV}:statistics`, {});
  const stats = await hypervisorStatistics(svc);
  return { hypervisor_statistics: stats };
}

export async function showHypervisor(svc: ComputeService, req: FastifyRequest<{ Params: { id: string } }>) {
  let withServers = false;
  if (mv(req).gte('2.53')) {
    const q = queryOf(req);
    for (const k of q.keys())
      if (k !== 'with_servers')
        throw badRequest(
          `Invalid input for query parameters ${k}. Value: ${q.get(k)}. Additional properties are not allowed ('${k}' was unexpected)`,
        );
    withServers = boolParam('with_servers', q.get('with_servers'));
  }
  authorize(req, `${HV}:show`, {});
  const { n, s } = await findNode(svc, req, req.params.id);
  return {
    hypervisor: view(req, svc, n, s, true, withServers ? await serversOn(svc, n.host) : undefined, withServers),
  };
}

export async function showHypervisorUptime(svc: ComputeService, req: FastifyRequest<{ Params: { id: string } }>) {
  if (mv(req).gte('2.88')) {
    req.authorized = true;
    throw notFound('The resource could not be found.');
  }
  authorize(req, `${HV}:uptime`, {});
  const { n, s } = await findNode(svc, req, req.params.id);
  if (!serviceIsUp(svc, s)) throw badRequest(`Compute service of ${n.host} is unavailable at this time.`);
  return { hypervisor: { ...view(req, svc, n, s, false), uptime: uptimeLine() } };
}

const byPattern = async (svc: ComputeService, req: FastifyRequest, pattern: string, servers: boolean) => {
  const matched = (await listNodes(svc)).filter((n) => n.hypervisor_hostname.includes(pattern));
  if (!matched.length) throw notFound(`No hypervisor matching '${pattern}' could be found.`);
  const service = await computeServices(svc);
  const out: unknown[] = [];
  for (const n of matched) {
    const s = service(n.host);
    if (s) out.push(view(req, svc, n, s, false, servers ? await serversOn(svc, n.host) : undefined));
  }
  return { hypervisors: out };
};

export async function searchHypervisors(svc: ComputeService, req: FastifyRequest<{ Params: { pattern: string } }>) {
  if (mv(req).gte('2.53')) {
    req.authorized = true;
    throw notFound('The resource could not be found.');
  }
  authorize(req, `${HV}:search`, {});
  return byPattern(svc, req, req.params.pattern, false);
}

export async function listHypervisorServers(svc: ComputeService, req: FastifyRequest<{ Params: { pattern: string } }>) {
  if (mv(req).gte('2.53')) {
    req.authorized = true;
    throw notFound('The resource could not be found.');
  }
  authorize(req, `${HV}:servers`, {});
  return byPattern(svc, req, req.params.pattern, true);
}
