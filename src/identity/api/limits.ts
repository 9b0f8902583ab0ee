// /v3/registered_limits, /v3/limits and /v3/limits/model (unified limits).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { badRequest } from '../../core/errors.ts';
import type { IdentityService } from '../service.ts';
import { LIMIT_MODEL, LimitManager, type Limit, type RegisteredLimit } from '../limit.ts';
import { created, deleteOne, description, getOne, idString, listOf, q, selfLink, updateOne, wrap } from './common.ts';

const renderRegistered = (req: FastifyRequest, r: RegisteredLimit) => ({
  ...r,
  links: selfLink(req, `registered_limits/${r.id}`),
});
const renderLimit = (req: FastifyRequest, l: Limit) => ({ ...l, links: selfLink(req, `limits/${l.id}`) });

const limitValue = { type: 'integer', minimum: -1, maximum: 0x7fffffff };
const resourceName = { type: 'string', minLength: 1, maxLength: 255 };

const registeredProps = {
  service_id: idString,
  region_id: { type: ['null', 'string'] },
  resource_name: resourceName,
  default_limit: limitValue,
  description,
};
/** A create body {<key>: [...]}: at least one object, each with its required properties and no others (as wrap()). */
const wrapList = (key: string, properties: object, required: string[]) => ({
  type: 'object',
  required: [key],
  properties: {
    [key]: { type: 'array', minItems: 1, items: { type: 'object', properties, additionalProperties: false, required } },
  },
});

const registeredCreate = wrapList('registered_limits', registeredProps, [
  'service_id',
  'resource_name',
  'default_limit',
]);
const registeredUpdate = wrap('registered_limit', { properties: registeredProps, additionalProperties: false });

// Keystone's limit_create is a oneOf project/domain limit; the either-or is checked in the handler.
const limitProps = {
  project_id: idString,
  domain_id: idString,
  service_id: idString,
  region_id: { type: 'string' },
  resource_name: resourceName,
  resource_limit: limitValue,
  description,
};
const limitCreate = wrapList('limits', limitProps, ['service_id', 'resource_name', 'resource_limit']);
const limitUpdate = wrap('limit', {
  properties: { resource_limit: limitValue, description },
  additionalProperties: false,
});

export function limitHandlers(s: IdentityService) {
  const m = s.limits;
  // ---- registered limits ----
  async function createRegisteredLimits(req: FastifyRequest, reply: FastifyReply) {
    req.authorize('identity:create_registered_limits');
    const refs = await m.createRegistered(
      (req.body as { registered_limits: Parameters<LimitManager['createRegistered']>[0] }).registered_limits,
    );
    return created(
      reply,
      'registered_limits',
      refs.map((r) => renderRegistered(req, r)),
    );
  }
  async function listRegisteredLimits(req: FastifyRequest) {
    req.authorize('identity:list_registered_limits');
    const query = q(req);
    const list = await m.listRegistered({
      service_id: query.service_id,
      region_id: query.region_id,
      resource_name: query.resource_name,
    });
    return listOf(req, 'registered_limits', list, renderRegistered);
  }
  const getRegisteredLimit = getOne(
    'identity:get_registered_limit',
    'registered_limit',
    'registered_limit_id',
    (id) => m.getRegistered(id),
    renderRegistered,
  );
  const updateRegisteredLimit = updateOne(
    'identity:update_registered_limit',
    'registered_limit',
    'registered_limit_id',
    (id, patch: Parameters<LimitManager['updateRegistered']>[1]) => m.updateRegistered(id, patch),
    renderRegistered,
  );
  const deleteRegisteredLimit = deleteOne('identity:delete_registered_limit', 'registered_limit_id', (id) =>
    m.deleteRegistered(id),
  );

  // ---- limits ----
  async function getLimitModel(req: FastifyRequest) {
    req.authorize('identity:get_limit_model');
    return { model: { ...LIMIT_MODEL } };
  }
  async function createLimits(req: FastifyRequest, reply: FastifyReply) {
    req.authorize('identity:create_limits');
    const items = (req.body as { limits: Parameters<LimitManager['createLimits']>[0] }).limits;
    items.forEach((l, i) => {
      if ((l.project_id === undefined) === (l.domain_id === undefined)) {
        throw badRequest(
          `Invalid input for field 'limits.${i}': exactly one of 'project_id' or 'domain_id' is required`,
          'ValidationError',
        );
      }
    });
    const refs = await m.createLimits(items);
    return created(
      reply,
      'limits',
      refs.map((l) => renderLimit(req, l)),
    );
  }
  async function listLimits(req: FastifyRequest) {
    req.authorize('identity:list_limits');
    const query = q(req);
    const f = {
      service_id: query.service_id,
      region_id: query.region_id,
      resource_name: query.resource_name,
      project_id: query.project_id,
      domain_id: query.domain_id,
    };
    const ctx = req.ctx!;
    let list: Limit[] = [];
    // What a caller sees depends on its token's scope (api/limits.py _list_limits).
    if (ctx.system) list = await m.listLimits(f);
    else if (ctx.domainId) {
      const projects = await s.resource.list({ isDomain: false, domainId: ctx.domainId });
      list = await m.listLimits({ ...f, projectIds: projects.map((p) => p.id), orDomainId: ctx.domainId });
    } else if (ctx.projectId) {
      if (f.project_id === undefined || f.project_id === ctx.projectId)
        list = await m.listLimits({ ...f, project_id: ctx.projectId });
    }
    return listOf(req, 'limits', list, renderLimit);
  }
  async function getLimit(req: FastifyRequest) {
    const { limit_id } = req.params as { limit_id: string };
    // The target carries the limit's project or domain; a missing limit is checked after policy.
    const target: Record<string, unknown> = {};
    const l = await m.getLimit(limit_id).catch(() => undefined);
    if (l) {
      const t: Record<string, unknown> = { ...l };
      if (l.project_id) {
        const p = await s.resource.find(l.project_id);
        if (p) t.project = { id: p.id, domain_id: p.domain_id, name: p.name };
      } else if (l.domain_id) {
        const d = await s.resource.find(l.domain_id);
        if (d) t.domain = { id: d.id, name: d.name };
      }
      target.limit = t;
    }
    req.authorize('identity:get_limit', { target });
    return { limit: renderLimit(req, await m.getLimit(limit_id)) };
  }
  const updateLimit = updateOne(
    'identity:update_limit',
    'limit',
    'limit_id',
    (id, patch: Parameters<LimitManager['updateLimit']>[1]) => m.updateLimit(id, patch),
    renderLimit,
  );
  const deleteLimit = deleteOne('identity:delete_limit', 'limit_id', (id) => m.deleteLimit(id));
  return {
    createRegisteredLimits,
    listRegisteredLimits,
    getRegisteredLimit,
    updateRegisteredLimit,
    deleteRegisteredLimit,
    getLimitModel,
    createLimits,
    listLimits,
    getLimit,
    updateLimit,
    deleteLimit,
  };
}

/** The request body schemas of limits's routes, by handler (api/routes.ts mounts them). */
export const limitSchemas = {
  createRegisteredLimits: registeredCreate,
  updateRegisteredLimit: registeredUpdate,
  createLimits: limitCreate,
  updateLimit: limitUpdate,
};
