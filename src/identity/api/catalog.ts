// /v3/regions, /v3/services, /v3/endpoints.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { IdentityService } from '../service.ts';
import type { Endpoint, Region, Service } from '../catalog.ts';
import {
  boolean,
  created,
  deleteOne,
  description,
  getOne,
  listOf,
  param,
  q,
  queryBool,
  selfLink,
  updateOne,
  wrap,
  type Attrs,
} from './common.ts';

export const renderRegion = (req: FastifyRequest, r: Region) => ({
  ...r.extra,
  id: r.id,
  description: r.description,
  parent_region_id: r.parent_region_id,
  links: selfLink(req, `regions/${r.id}`),
});
export const renderService = (req: FastifyRequest, s: Service) => ({
  ...s.extra,
  id: s.id,
  type: s.type,
  enabled: s.enabled,
  links: selfLink(req, `services/${s.id}`),
});
export const renderEndpoint = (req: FastifyRequest, e: Endpoint) => ({
  ...e.extra,
  id: e.id,
  interface: e.interface,
  region_id: e.region_id,
  region: e.region_id,
  url: e.url,
  service_id: e.service_id,
  enabled: e.enabled,
  links: selfLink(req, `endpoints/${e.id}`),
});

const regionProps = {
  id: { type: 'string', minLength: 1, maxLength: 255 },
  description,
  parent_region_id: { type: ['string', 'null'] },
};
const serviceProps = {
  type: { type: 'string', minLength: 1, maxLength: 255 },
  enabled: boolean,
  name: { type: ['string', 'null'] },
  description,
};
const endpointProps = {
  service_id: { type: 'string', minLength: 1 },
  interface: { type: 'string', enum: ['public', 'internal', 'admin'] },
  region_id: { type: ['string', 'null'] },
  region: { type: ['string', 'null'] },
  url: { type: 'string', minLength: 1, maxLength: 225, pattern: '^[a-zA-Z0-9+.-]+:.+' },
  enabled: boolean,
};

type RegionBody = Attrs<{ description?: string; parent_region_id?: string | null }>;
type ServiceBody = Attrs<{ type: string; enabled?: boolean }>;
type EndpointBody = Attrs<{
  service_id: string;
  interface: string;
  region_id?: string | null;
  region?: string | null;
  url: string;
  enabled?: boolean;
}>;

export function catalogHandlers(s: IdentityService) {
  const c = s.catalog;
  // regions
  async function createRegion(req: FastifyRequest, reply: FastifyReply) {
    req.authorize('identity:create_region');
    const { id, description: d, parent_region_id, links: _l, ...extra } = (req.body as { region: RegionBody }).region;
    return created(
      reply,
      'region',
      renderRegion(req, await c.createRegion({ id, description: d, parent_region_id, extra })),
    );
  }
  async function createRegionWithId(req: FastifyRequest, reply: FastifyReply) {
    const region_id = param(req, 'region_id');
    req.authorize('identity:create_region');
    const {
      id: _i,
      description: d,
      parent_region_id,
      links: _l,
      ...extra
    } = (req.body as { region: RegionBody }).region;
    return created(
      reply,
      'region',
      renderRegion(req, await c.createRegion({ id: region_id, description: d, parent_region_id, extra })),
    );
  }
  async function listRegions(req: FastifyRequest) {
    req.authorize('identity:list_regions');
    return listOf(req, 'regions', await c.listRegions(q(req).parent_region_id), renderRegion);
  }
  const getRegion = getOne('identity:get_region', 'region', 'region_id', (id) => c.getRegion(id), renderRegion);
  const updateRegion = updateOne(
    'identity:update_region',
    'region',
    'region_id',
    (id, patch: RegionBody) => c.updateRegion(id, patch),
    renderRegion,
  );
  const deleteRegion = deleteOne('identity:delete_region', 'region_id', (id) => c.deleteRegion(id));
  // services
  async function createService(req: FastifyRequest, reply: FastifyReply) {
    req.authorize('identity:create_service');
    const { type, enabled, id: _i, links: _l, ...extra } = (req.body as { service: ServiceBody }).service;
    return created(reply, 'service', renderService(req, await c.createService({ type, enabled, extra })));
  }
  async function listServices(req: FastifyRequest) {
    req.authorize('identity:list_services');
    const query = q(req);
    return listOf(req, 'services', await c.listServices({ type: query.type, name: query.name }), renderService);
  }
  const getService = getOne('identity:get_service', 'service', 'service_id', (id) => c.getService(id), renderService);
  const updateService = updateOne(
    'identity:update_service',
    'service',
    'service_id',
    (id, patch: ServiceBody) => c.updateService(id, patch),
    renderService,
  );
  const deleteService = deleteOne('identity:delete_service', 'service_id', (id) => c.deleteService(id));
  // endpoints
  async function createEndpoint(req: FastifyRequest, reply: FastifyReply) {
    req.authorize('identity:create_endpoint');
    const {
      service_id,
      interface: iface,
      region_id,
      region,
      url,
      enabled,
      id: _i,
      links: _l,
      ...extra
    } = (req.body as { endpoint: EndpointBody }).endpoint;
    return created(
      reply,
      'endpoint',
      renderEndpoint(
        req,
        await c.createEndpoint({ service_id, interface: iface, region_id: region_id ?? region, url, enabled, extra }),
      ),
    );
  }
  async function listEndpoints(req: FastifyRequest) {
    req.authorize('identity:list_endpoints');
    const query = q(req);
    let list = await c.listEndpoints({
      interface: query.interface,
      serviceId: query.service_id,
      regionId: query.region_id,
    });
    if (query.enabled !== undefined) list = list.filter((e) => e.enabled === queryBool(query.enabled));
    return listOf(req, 'endpoints', list, renderEndpoint);
  }
  // Keystone loads an endpoint before the policy (its member_key lookup): an unknown one is a 404 for anyone.
  async function getEndpoint(req: FastifyRequest) {
    const e = await c.getEndpoint(param(req, 'endpoint_id'));
    req.authorize('identity:get_endpoint');
    return { endpoint: renderEndpoint(req, e) };
  }
  async function updateEndpoint(req: FastifyRequest) {
    const id = param(req, 'endpoint_id');
    await c.getEndpoint(id);
    req.authorize('identity:update_endpoint');
    const patch = { ...(req.body as { endpoint: EndpointBody }).endpoint };
    if (patch.region !== undefined && patch.region_id === undefined) patch.region_id = patch.region;
    return { endpoint: renderEndpoint(req, await c.updateEndpoint(id, patch)) };
  }
  async function deleteEndpoint(req: FastifyRequest, reply: FastifyReply) {
    const id = param(req, 'endpoint_id');
    await c.getEndpoint(id);
    req.authorize('identity:delete_endpoint');
    await c.deleteEndpoint(id);
    reply.code(204).send();
  }
  return {
    createRegion,
    createRegionWithId,
    listRegions,
    getRegion,
    updateRegion,
    deleteRegion,
    createService,
    listServices,
    getService,
    updateService,
    deleteService,
    createEndpoint,
    listEndpoints,
    getEndpoint,
    updateEndpoint,
    deleteEndpoint,
  };
}

/** The request body schemas of catalog's routes, by handler (api/routes.ts mounts them). */
export const catalogSchemas = {
  createRegion: wrap('region', { properties: regionProps }),
  createRegionWithId: wrap('region', { properties: regionProps }),
  updateRegion: wrap('region', { properties: regionProps }),
  createService: wrap('service', { required: ['type'], properties: serviceProps }),
  updateService: wrap('service', { properties: serviceProps }),
  createEndpoint: wrap('endpoint', { required: ['service_id', 'interface', 'url'], properties: endpointProps }),
  updateEndpoint: wrap('endpoint', { properties: endpointProps }),
};
