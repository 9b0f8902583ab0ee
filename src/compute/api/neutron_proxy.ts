// What Nova's network proxies share (nova.network.neutron with a user's context): calls to the
// network service with the caller's own token, the network's error message and type, the
// proxies' microversion ceilings, and the 410 of the APIs nova-network took with it.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { FloatingIp, Network, NeutronErrorBody, Port, SecurityGroup, Subnet } from '../../core/clients/network.ts';
import { ApiError } from '../../core/errors.ts';
import type { ComputeService } from '../service.ts';
import type { Instance } from '../instances.ts';
import { isAdmin, mv, notFound } from './common.ts';

/** Nova's MAX_PROXY_API_SUPPORT_VERSION: the network and image proxies end here (gone from 2.36). */
export const MAX_PROXY = '2.35';

/** A security group rule as the network service answers it. */
export interface SecurityGroupRule {
  id: string;
  security_group_id: string;
  direction?: string;
  protocol?: string | null;
  port_range_min?: number | null;
  port_range_max?: number | null;
  remote_group_id?: string | null;
  remote_ip_prefix?: string | null;
  [k: string]: unknown;
}

/** A security group with its rules (the network service's answer). */
export interface NeutronSecurityGroup extends SecurityGroup {
  description: string;
  tenant_id: string;
  project_id: string;
  security_group_rules?: SecurityGroupRule[];
}

/** A network with what the proxies check of it. */
export interface NeutronNetwork extends Network {
  subnets?: string[];
  shared?: boolean;
  'router:external'?: boolean;
}

/** A floating IP with its port's details (the fip-port-details extension). */
export interface NeutronFloatingIp extends FloatingIp {
  fixed_ip_address?: string | null;
  port_details?: { device_id?: string | null; [k: string]: unknown } | null;
}

/**
 * The bodies the proxies read: each key is there only in the answers that carry it (a proxy
 * reads one after it has checked the status), the error body in the others.
 */
export interface NeutronBody extends NeutronErrorBody {
  network: NeutronNetwork;
  networks: NeutronNetwork[];
  port: Port;
  ports: Port[];
  subnets: Subnet[];
  floatingip: NeutronFloatingIp;
  floatingips: NeutronFloatingIp[];
  security_group: NeutronSecurityGroup;
  security_groups: NeutronSecurityGroup[];
  security_group_rule: SecurityGroupRule;
  auto_allocated_topology: { id: string; [k: string]: unknown };
}

export interface NeutronAnswer {
  status: number;
  body: NeutronBody;
}

/** A network service call with the caller's token (Nova's get_client(context)). */
export function neutron(svc: ComputeService, req: FastifyRequest) {
  const { clients } = svc.parts;
  return (method: string, path: string, body?: unknown): Promise<NeutronAnswer> =>
    clients.network.request<NeutronBody>(method, path, body, { token: req.ctx!.token });
}

/** The network's own error message (what python-neutronclient's exception prints). */
export const neutronMessage = (r: NeutronAnswer): string => {
  const body: unknown = r.body;
  return r.body?.NeutronError?.message ?? (typeof body === 'string' && body ? body : `network answered ${r.status}`);
};
/** The network's error type (neutronclient picks its exception class by it). */
export const neutronType = (r: NeutronAnswer): string => r.body?.NeutronError?.type ?? '';

/** An answer the proxy did not expect: the network is unwell, not the request. */
export const unexpected = (r: NeutronAnswer, what: string) =>
  new ApiError(r.status >= 500 ? 503 : 500, `network answered ${r.status} to ${what}: ${neutronMessage(r)}`);

/** Refuses a proxy past its last microversion as Nova does (the method is not there: 404). */
export function upTo(req: FastifyRequest, max: string) {
  if (mv(req).cmp(max) > 0) {
    req.authorized = true;
    throw notFound('The resource could not be found.');
  }
}

/** webob's HTTPGone, which Nova answers for what went with nova-network. */
export function gone(req: FastifyRequest): never {
  req.authorized = true;
  throw new ApiError(410, 'This resource is no longer available.  No forwarding address is given.');
}

/** Routes that answer 410 whatever the microversion (no policy is checked first, as in Nova). */
export function goneRoutes(
  app: FastifyInstance,
  routes: Array<[method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string]>,
) {
  for (const [method, url] of routes) app.route({ method, url, handler: async (req) => gone(req) });
}

/** A server the caller may see (Nova's common.get_instance): another project's is a 404 for non-admins. */
export async function visibleServer(svc: ComputeService, req: FastifyRequest, id: string): Promise<Instance> {
  const inst = await svc.parts.store.get(id);
  if (!inst || (!isAdmin(req) && inst.project_id !== req.ctx?.projectId)) {
    req.authorized = true;
    throw notFound(`Instance ${id} could not be found.`);
  }
  return inst;
}
