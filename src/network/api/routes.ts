// Network's whole route table (as nova's routes.py): every URL the service mounts, in one place.
//
// RESOURCES: the resources that go through the generic layer (api/resource.ts): their URL below
// /v2.0, which of the five standard routes they have (GET collection = list, GET member = show,
// POST collection = create, PUT member = update, DELETE member = delete) and where their tag
// routes are (GET/PUT/DELETE .../{id}/tags, GET/PUT/DELETE .../{id}/tags/{tag}). ResourceApi
// mounts a resource from its entry here and nothing else.
//
// ROUTES: the routes the service and its families add beside those (actions such as
// add_router_interface, sub-collections, read-only views), each with the file that holds its
// handler. mountRoutes() refuses at start-up a route that is not listed here, and one listed here
// that nothing mounts, so the table cannot drift from what the service serves.
import type { FastifyInstance } from 'fastify';
import type { RouteName } from './resource.ts';

export interface ResourceRoutes {
  /** URL below /v2.0; sub-resources carry their parent's parameter. */
  path: string;
  routes: readonly RouteName[];
  /** The base of the tag routes (tag-ext), for taggable resources. */
  tags?: string;
}

const ALL: readonly RouteName[] = ['list', 'show', 'create', 'update', 'delete'];

/** Resource (its plural, the key of svc.resources) → its routes. */
export const RESOURCES: Readonly<Record<string, ResourceRoutes>> = {
  // api/networks.ts, segments.ts, address_scopes.ts, subnetpools.ts, subnets.ts, ports.ts
  networks: { path: 'networks', routes: ALL, tags: 'networks' },
  segments: { path: 'segments', routes: ALL },
  address_scopes: { path: 'address-scopes', routes: ALL },
  subnetpools: { path: 'subnetpools', routes: ALL, tags: 'subnetpools' },
  subnets: { path: 'subnets', routes: ALL, tags: 'subnets' },
  ports: { path: 'ports', routes: ALL, tags: 'ports' },
  // api/routers.ts, floatingips.ts, port_forwardings.ts, conntrack_helpers.ts
  routers: { path: 'routers', routes: ALL, tags: 'routers' },
  floatingips: { path: 'floatingips', routes: ALL, tags: 'floatingips' },
  port_forwardings: { path: 'floatingips/:floatingip_id/port_forwardings', routes: ALL },
  conntrack_helpers: { path: 'routers/:router_id/conntrack_helpers', routes: ALL },
  // api/security_groups.ts (their collection GETs are in ROUTES: one query for groups and rules), rbac.ts
  security_groups: { path: 'security-groups', routes: ['show', 'create', 'update', 'delete'], tags: 'security-groups' },
  security_group_rules: { path: 'security-group-rules', routes: ['show', 'create', 'delete'] },
  rbac_policies: { path: 'rbac-policies', routes: ALL },
  // api/agents.ts: agents register themselves over RPC, never through the API
  agents: { path: 'agents', routes: ['list', 'show', 'update', 'delete'] },
  // api/qos.ts: the policies' tags are under /policies, as upstream
  policies: { path: 'qos/policies', routes: ALL, tags: 'policies' },
  bandwidth_limit_rules: { path: 'qos/policies/:policy_id/bandwidth_limit_rules', routes: ALL },
  dscp_marking_rules: { path: 'qos/policies/:policy_id/dscp_marking_rules', routes: ALL },
  minimum_bandwidth_rules: { path: 'qos/policies/:policy_id/minimum_bandwidth_rules', routes: ALL },
  // api/trunks.ts, address_groups.ts
  trunks: { path: 'trunks', routes: ALL, tags: 'trunks' },
  address_groups: { path: 'address-groups', routes: ALL, tags: 'address-groups' },
  // api/metering.ts: labels and rules are not updatable
  metering_labels: { path: 'metering/metering-labels', routes: ['list', 'show', 'create', 'delete'] },
  metering_label_rules: { path: 'metering/metering-label-rules', routes: ['list', 'show', 'create', 'delete'] },
  // api/flavors.ts
  flavors: { path: 'flavors', routes: ALL },
  service_profiles: { path: 'service_profiles', routes: ALL },
};

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** The other routes: [method, URL, the file of its handler]. */
export const ROUTES: ReadonlyArray<readonly [Method, string, string]> = [
  // service.ts: versions, the resource index and the extensions
  ['GET', '/', 'service.ts'],
  ['GET', '/v2.0', 'service.ts'],
  ['GET', '/v2.0/extensions', 'service.ts'],
  ['GET', '/v2.0/extensions/:alias', 'service.ts'],
  // subnet pool actions
  ['PUT', '/v2.0/subnetpools/:id/add_prefixes', 'api/subnetpools.ts'],
  ['PUT', '/v2.0/subnetpools/:id/remove_prefixes', 'api/subnetpools.ts'],
  // network-ip-availability
  ['GET', '/v2.0/network-ip-availabilities', 'api/ip_availability.ts'],
  ['GET', '/v2.0/network-ip-availabilities/:id', 'api/ip_availability.ts'],
  // router actions
  ['PUT', '/v2.0/routers/:id/add_router_interface', 'api/routers.ts'],
  ['PUT', '/v2.0/routers/:id/remove_router_interface', 'api/routers.ts'],
  ['PUT', '/v2.0/routers/:id/add_extraroutes', 'api/routers.ts'],
  ['PUT', '/v2.0/routers/:id/remove_extraroutes', 'api/routers.ts'],
  // floatingip-pools, auto-allocated-topology
  ['GET', '/v2.0/floatingip-pools', 'api/floatingips.ts'],
  ['GET', '/v2.0/auto-allocated-topology/:project_id', 'api/auto_allocate.ts'],
  ['DELETE', '/v2.0/auto-allocated-topology/:project_id', 'api/auto_allocate.ts'],
  // security groups and rules: the collections
  ['GET', '/v2.0/security-groups', 'api/security_groups.ts'],
  ['GET', '/v2.0/security-group-rules', 'api/security_groups.ts'],
  // quotas (quotasv2, quota_details)
  ['GET', '/v2.0/quotas', 'api/quotas.ts'],
  ['POST', '/v2.0/quotas', 'api/quotas.ts'],
  ['GET', '/v2.0/quotas/tenant', 'api/quotas.ts'],
  ['GET', '/v2.0/quotas/project', 'api/quotas.ts'],
  ['GET', '/v2.0/quotas/:id', 'api/quotas.ts'],
  ['GET', '/v2.0/quotas/:id/default', 'api/quotas.ts'],
  ['GET', '/v2.0/quotas/:id/details', 'api/quotas.ts'],
  ['GET', '/v2.0/quotas/:id/details.json', 'api/quotas.ts'],
  ['PUT', '/v2.0/quotas/:id', 'api/quotas.ts'],
  ['DELETE', '/v2.0/quotas/:id', 'api/quotas.ts'],
  // agent schedulers (dhcp_agent_scheduler, l3_agent_scheduler), availability zones
  ['GET', '/v2.0/agents/:id/dhcp-networks', 'api/agents.ts'],
  ['POST', '/v2.0/agents/:id/dhcp-networks', 'api/agents.ts'],
  ['DELETE', '/v2.0/agents/:id/dhcp-networks/:network_id', 'api/agents.ts'],
  ['GET', '/v2.0/networks/:id/dhcp-agents', 'api/agents.ts'],
  ['GET', '/v2.0/agents/:id/l3-routers', 'api/agents.ts'],
  ['POST', '/v2.0/agents/:id/l3-routers', 'api/agents.ts'],
  ['DELETE', '/v2.0/agents/:id/l3-routers/:router_id', 'api/agents.ts'],
  ['GET', '/v2.0/routers/:id/l3-agents', 'api/agents.ts'],
  ['GET', '/v2.0/availability_zones', 'api/agents.ts'],
  // QoS rule types
  ['GET', '/v2.0/qos/rule-types', 'api/qos.ts'],
  ['GET', '/v2.0/qos/rule-types/:type', 'api/qos.ts'],
  // trunk actions
  ['PUT', '/v2.0/trunks/:id/add_subports', 'api/trunks.ts'],
  ['PUT', '/v2.0/trunks/:id/remove_subports', 'api/trunks.ts'],
  ['GET', '/v2.0/trunks/:id/get_subports', 'api/trunks.ts'],
  // address group actions
  ['PUT', '/v2.0/address-groups/:id/add_addresses', 'api/address_groups.ts'],
  ['PUT', '/v2.0/address-groups/:id/remove_addresses', 'api/address_groups.ts'],
  // flavor ↔ service profile bindings, next providers, service providers
  ['POST', '/v2.0/flavors/:id/service_profiles', 'api/flavors.ts'],
  ['GET', '/v2.0/flavors/:id/service_profiles/:profile_id', 'api/flavors.ts'],
  ['DELETE', '/v2.0/flavors/:id/service_profiles/:profile_id', 'api/flavors.ts'],
  ['GET', '/v2.0/flavors/:id/next_providers', 'api/flavors.ts'],
  ['GET', '/v2.0/service-providers', 'api/flavors.ts'],
];

/** The routes of RESOURCES[plural], or an error naming the resource that is not in the table. */
export function resourceRoutes(plural: string): ResourceRoutes {
  const r = RESOURCES[plural];
  if (!r) throw new Error(`network resource ${plural} is not in api/routes.ts`);
  return r;
}

/**
 * Runs `mount` (the service's and its families' registrars) on `app`, checking each route it adds
 * against ROUTES and, once done, that every route of ROUTES was mounted.
 */
export function mountRoutes(app: FastifyInstance, mount: (app: FastifyInstance) => void): void {
  const listed = new Set(ROUTES.map(([m, url]) => `${m} ${url}`));
  const mounted = new Set<string>();
  const check = (method: Method) => {
    const add = app[method.toLowerCase() as 'get' | 'post' | 'put' | 'delete'].bind(app);
    return (url: string, ...rest: unknown[]) => {
      const key = `${method} ${url}`;
      if (!listed.has(key)) throw new Error(`network route ${key} is not in api/routes.ts`);
      mounted.add(key);
      return (add as (url: string, ...a: unknown[]) => FastifyInstance)(url, ...rest);
    };
  };
  const checked = Object.create(app, {
    get: { value: check('GET') },
    post: { value: check('POST') },
    put: { value: check('PUT') },
    delete: { value: check('DELETE') },
  }) as FastifyInstance;
  mount(checked);
  const missing = [...listed].filter((k) => !mounted.has(k));
  if (missing.length) throw new Error(`network routes listed in api/routes.ts but not mounted: ${missing.join(', ')}`);
}
