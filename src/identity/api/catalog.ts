// /v3/regions, /v3/services, /v3/endpoints.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { IdentityService } from '../service.ts';
import type { Endpoint, Region, Service } from '../catalog.ts';
import { boolean, description, listBody, q, queryBool, selfLink, wrap, type Attrs } from './common.ts';

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

export function registerCatalogRoutes(app: FastifyInstance, s: IdentityService) {
  const c = s.catalog;
  // regions
  app.post('/v3/regions', { schema: { body: wrap('region', { properties: regionProps }) } }, async (req, reply) => {
    req.authorize('identity:create_region');
    const {
      id,
      description: d,
      parent_region_id,
      links: _l,
      ...extra
    } = (req.body as { region: Attrs<{ description?: string; parent_region_id?: string | null }> }).region;
    reply.code(201);
    return { region: renderRegion(req, await c.createRegion({ id, description: d, parent_region_id, extra })) };
  });
  app.put(
    '/v3/regions/:region_id',
    { schema: { body: wrap('region', { properties: regionProps }) } },
    async (req, reply) => {
      const { region_id } = req.params as { region_id: string };
      req.authorize('identity:create_region');
      const {
        id: _i,
        description: d,
        parent_region_id,
        links: _l,
        ...extra
      } = (req.body as { region: Attrs<{ description?: string; parent_region_id?: string | null }> }).region;
      reply.code(201);
      return {
        region: renderRegion(req, await c.createRegion({ id: region_id, description: d, parent_region_id, extra })),
      };
    },
  );
  app.get('/v3/regions', async (req) => {
    req.authorize('identity:list_regions');
    return listBody(
      req,
      'regions',
      (await c.listRegions(q(req).parent_region_id)).map((r) => renderRegion(req, r)),
    );
  });
  app.get('/v3/regions/:region_id', async (req) => {
    req.authorize('identity:get_region');
    return { region: renderRegion(req, await c.getRegion((req.params as Record<string, string>).region_id)) };
  });
  app.patch(
    '/v3/regions/:region_id',
    { schema: { body: wrap('region', { properties: regionProps }) } },
    async (req) => {
      req.authorize('identity:update_region');
      return {
        region: renderRegion(
          req,
          await c.updateRegion(
            (req.params as Record<string, string>).region_id,
            (req.body as { region: Attrs<{ description?: string; parent_region_id?: string | null }> }).region,
          ),
        ),
      };
    },
  );
  app.delete('/v3/regions/:region_id', async (req, reply) => {
    req.authorize('identity:delete_region');
    await c.deleteRegion((req.params as Record<string, string>).region_id);
    reply.code(204).send();
  });
  // services
  app.post(
    '/v3/services',
    { schema: { body: wrap('service', { required: ['type'], properties: serviceProps }) } },
    async (req, reply) => {
      req.authorize('identity:create_service');
      const {
        type,
        enabled,
        id: _i,
        links: _l,
        ...extra
      } = (req.body as { service: Attrs<{ type: string; enabled?: boolean }> }).service;
      reply.code(201);
      return { service: renderService(req, await c.createService({ type, enabled, extra })) };
    },
  );
  app.get('/v3/services', async (req) => {
    req.authorize('identity:list_services');
    const query = q(req);
    return listBody(
      req,
      'services',
      (await c.listServices({ type: query.type, name: query.name })).map((x) => renderService(req, x)),
    );
  });
  app.get('/v3/services/:service_id', async (req) => {
    req.authorize('identity:get_service');
    return { service: renderService(req, await c.getService((req.params as Record<string, string>).service_id)) };
  });
  app.patch(
    '/v3/services/:service_id',
    { schema: { body: wrap('service', { properties: serviceProps }) } },
    async (req) => {
      req.authorize('identity:update_service');
      return {
        service: renderService(
          req,
          await c.updateService(
            (req.params as Record<string, string>).service_id,
            (req.body as { service: Attrs<{ type: string; enabled?: boolean }> }).service,
          ),
        ),
      };
    },
  );
  app.delete('/v3/services/:service_id', async (req, reply) => {
    req.authorize('identity:delete_service');
    await c.deleteService((req.params as Record<string, string>).service_id);
    reply.code(204).send();
  });
  // endpoints
  app.post(
    '/v3/endpoints',
    { schema: { body: wrap('endpoint', { required: ['service_id', 'interface', 'url'], properties: endpointProps }) } },
    async (req, reply) => {
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
      } = (
        req.body as {
          endpoint: Attrs<{
            service_id: string;
            interface: string;
            region_id?: string | null;
            region?: string | null;
            url: string;
            enabled?: boolean;
          }>;
        }
      ).endpoint;
      reply.code(201);
      return {
        endpoint: renderEndpoint(
          req,
          await c.createEndpoint({ service_id, interface: iface, region_id: region_id ?? region, url, enabled, extra }),
        ),
      };
    },
  );
  app.get('/v3/endpoints', async (req) => {
    req.authorize('identity:list_endpoints');
    const query = q(req);
    let list = await c.listEndpoints({
      interface: query.interface,
      serviceId: query.service_id,
      regionId: query.region_id,
    });
    if (query.enabled !== undefined) list = list.filter((e) => e.enabled === queryBool(query.enabled));
    return listBody(
      req,
      'endpoints',
      list.map((e) => renderEndpoint(req, e)),
    );
  });
  app.get('/v3/endpoints/:endpoint_id', async (req) => {
    // Keystone loads the endpoint before the policy (its member_key lookup): an unknown one is a 404 for anyone.
    const e = await c.getEndpoint((req.params as Record<string, string>).endpoint_id);
    req.authorize('identity:get_endpoint');
    return { endpoint: renderEndpoint(req, e) };
  });
  app.patch(
    '/v3/endpoints/:endpoint_id',
    { schema: { body: wrap('endpoint', { properties: endpointProps }) } },
    async (req) => {
      await c.getEndpoint((req.params as Record<string, string>).endpoint_id);
      req.authorize('identity:update_endpoint');
      const patch = {
        ...(
          req.body as {
            endpoint: Attrs<{
              service_id: string;
              interface: string;
              region_id?: string | null;
              region?: string | null;
              url: string;
              enabled?: boolean;
            }>;
          }
        ).endpoint,
      };
      if (patch.region !== undefined && patch.region_id === undefined) patch.region_id = patch.region;
      return {
        endpoint: renderEndpoint(
          req,
          await c.updateEndpoint((req.params as Record<string, string>).endpoint_id, patch),
        ),
      };
    },
  );
  app.delete('/v3/endpoints/:endpoint_id', async (req, reply) => {
    await c.getEndpoint((req.params as Record<string, string>).endpoint_id);
    req.authorize('identity:delete_endpoint');
    await c.deleteEndpoint((req.params as Record<string, string>).endpoint_id);
    reply.code(204).send();
  });
}
