// Limits (nova.api.openstack.compute.limits): the absolute limits of a project (its quotas
// and what it uses) with the microversion filters (network limits gone at 2.36, maxImageMeta
// at 2.39, personality at 2.57), tenant_id for admins; rate limits are always empty, as in Nova.
import type { FastifyRequest } from 'fastify';
import type { ComputeService } from '../service.ts';
import { authorize, badRequest, mv, queryOf } from './common.ts';

const NAMES: Record<string, string[]> = {
  ram: ['maxTotalRAMSize'],
  instances: ['maxTotalInstances'],
  cores: ['maxTotalCores'],
  key_pairs: ['maxTotalKeypairs'],
  floating_ips: ['maxTotalFloatingIps'],
  metadata_items: ['maxServerMeta', 'maxImageMeta'],
  injected_files: ['maxPersonality'],
  injected_file_content_bytes: ['maxPersonalitySize'],
  security_groups: ['maxSecurityGroups'],
  security_group_rules: ['maxSecurityGroupRules'],
  server_groups: ['maxServerGroups'],
  server_group_members: ['maxServerGroupMembers'],
};
const USED: Record<string, string> = {
  totalRAMUsed: 'ram',
  totalCoresUsed: 'cores',
  totalInstancesUsed: 'instances',
  totalFloatingIpsUsed: 'floating_ips',
  totalSecurityGroupsUsed: 'security_groups',
  totalServerGroupsUsed: 'server_groups',
};
const FILTERED_2_36 = ['floating_ips', 'security_groups', 'security_group_rules'];
const FILTERED_2_57 = [...FILTERED_2_36, 'injected_files', 'injected_file_content_bytes'];

export async function showLimits(svc: ComputeService, req: FastifyRequest) {
  const v = mv(req);
  const q = queryOf(req);
  if (v.gte('2.75'))
    for (const k of q.keys())
      if (k !== 'tenant_id')
        throw badRequest(
          `Invalid input for query parameters ${k}. Value: ${q.get(k)}. Additional properties are not allowed ('${k}' was unexpected)`,
        );
  authorize(req, 'os_compute_api:limits', {});
  let projectId = req.ctx?.projectId ?? '';
  if (q.has('tenant_id')) {
    projectId = q.get('tenant_id')!;
    authorize(req, 'os_compute_api:limits:other_project', { project_id: projectId });
  }
  const filtered = v.gte('2.57') ? FILTERED_2_57 : v.gte('2.36') ? FILTERED_2_36 : [];
  const maxImageMeta = v.lt('2.39');
  const detail = await svc.parts.quotas.detail(projectId);
  const absolute: Record<string, number> = {};
  for (const [resource, names] of Object.entries(NAMES)) {
    if (filtered.includes(resource) || !(resource in detail)) continue;
    for (const n of names) if (maxImageMeta || n !== 'maxImageMeta') absolute[n] = detail[resource]!.limit;
  }
  for (const [n, resource] of Object.entries(USED)) {
    if (!filtered.includes(resource) && resource in detail) absolute[n] = detail[resource]!.in_use;
  }
  return { limits: { rate: [], absolute } };
}
