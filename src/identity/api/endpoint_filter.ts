// /v3/OS-EP-FILTER: endpoint groups and project associations with endpoints and endpoint groups.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { IdentityService } from '../service.ts';
import { EndpointFilterManager, type EndpointGroup } from '../endpoint_filter.ts';
import { renderEndpoint } from './catalog.ts';
import { renderProject } from './resource.ts';
import {
  deleteOne,
  description,
  getOne,
  listBody,
  name255,
  q,
  selfLink,
  updateOne,
  wrap,
  type Attrs,
} from './common.ts';
import { applyInexactFilters } from '../list_filters.ts';

const PREFIX = '/v3/OS-EP-FILTER';

const renderGroup = (req: FastifyRequest, g: EndpointGroup) => ({
  id: g.id,
  name: g.name,
  description: g.description,
  filters: g.filters,
  links: selfLink(req, `OS-EP-FILTER/endpoint_groups/${g.id}`),
});

const groupProps = { name: name255, description, filters: { type: 'object' } };

export function endpointFilterHandlers(s: IdentityService) {
  const m = (): EndpointFilterManager => s.endpointFilter;
  const listLimited = (req: FastifyRequest, key: string, all: unknown[]) => {
    const items = applyInexactFilters(key, req.query as Record<string, unknown>, all);
    const limit = s.config.identity.listLimit;
    return limit && items.length > limit ? listBody(req, key, items.slice(0, limit), true) : listBody(req, key, items);
  };

  // ---- endpoint groups ----
  async function createEndpointGroup(req: FastifyRequest, reply: FastifyReply) {
    req.authorize('identity:create_endpoint_group');
    const {
      name,
      description: d,
      filters,
    } = (req.body as { endpoint_group: { name: string; description?: string; filters: Record<string, string> } })
      .endpoint_group;
    const g = await m().createGroup({ name, description: d, filters });
    reply.code(201);
    return { endpoint_group: renderGroup(req, g) };
  }
  async function listEndpointGroups(req: FastifyRequest) {
    req.authorize('identity:list_endpoint_groups');
    return listLimited(
      req,
      'endpoint_groups',
      (await m().listGroups(q(req).name)).map((g) => renderGroup(req, g)),
    );
  }
  const getEndpointGroup = getOne(
    'identity:get_endpoint_group',
    'endpoint_group',
    'endpoint_group_id',
    (id) => m().getGroup(id),
    renderGroup,
  );
  const updateEndpointGroup = updateOne(
    'identity:update_endpoint_group',
    'endpoint_group',
    'endpoint_group_id',
    (id, patch: Attrs<object>) => m().updateGroup(id, patch),
    renderGroup,
  );
  const deleteEndpointGroup = deleteOne('identity:delete_endpoint_group', 'endpoint_group_id', (id) =>
    m().deleteGroup(id),
  );
  async function listEndpointsAssociatedWithEndpointGroup(req: FastifyRequest) {
    req.authorize('identity:list_endpoints_associated_with_endpoint_group');
    return listBody(
      req,
      'endpoints',
      (await m().endpointsInGroup((req.params as Record<string, string>).endpoint_group_id)).map((e) =>
        renderEndpoint(req, e),
      ),
    );
  }
  async function listProjectsAssociatedWithEndpointGroup(req: FastifyRequest) {
    req.authorize('identity:list_projects_associated_with_endpoint_group');
    return listBody(
      req,
      'projects',
      (await m().projectsForGroup((req.params as Record<string, string>).endpoint_group_id)).map((p) =>
        renderProject(req, p),
      ),
    );
  }

  // ---- endpoint group <-> project ----
  type GP = { endpoint_group_id: string; project_id: string };
  async function getEndpointGroupInProject(req: FastifyRequest) {
    const { endpoint_group_id, project_id } = req.params as GP;
    req.authorize('identity:get_endpoint_group_in_project');
    await s.resource.getProject(project_id);
    await m().getGroup(endpoint_group_id);
    await m().checkGroupInProject(endpoint_group_id, project_id);
    return {
      project_endpoint_group: {
        endpoint_group_id,
        project_id,
        links: selfLink(req, `OS-EP-FILTER/endpoint_groups/${endpoint_group_id}/projects/${project_id}`),
      },
    };
  }
  async function addEndpointGroupToProject(req: FastifyRequest, reply: FastifyReply) {
    const { endpoint_group_id, project_id } = req.params as GP;
    req.authorize('identity:add_endpoint_group_to_project');
    await s.resource.getProject(project_id);
    await m().getGroup(endpoint_group_id);
    await m().addGroupToProject(endpoint_group_id, project_id);
    reply.code(204).send();
  }
  async function removeEndpointGroupFromProject(req: FastifyRequest, reply: FastifyReply) {
    const { endpoint_group_id, project_id } = req.params as GP;
    req.authorize('identity:remove_endpoint_group_from_project');
    await s.resource.getProject(project_id);
    await m().getGroup(endpoint_group_id);
    await m().removeGroupFromProject(endpoint_group_id, project_id);
    reply.code(204).send();
  }
  async function listEndpointGroupsForProject(req: FastifyRequest) {
    req.authorize('identity:list_endpoint_groups_for_project');
    return listBody(
      req,
      'endpoint_groups',
      (await m().groupsForProject((req.params as Record<string, string>).project_id)).map((g) => renderGroup(req, g)),
    );
  }

  // ---- endpoint <-> project ----
  type EP = { project_id: string; endpoint_id: string };
  async function checkEndpointInProject(req: FastifyRequest, reply: FastifyReply) {
    const { project_id, endpoint_id } = req.params as EP;
    req.authorize('identity:check_endpoint_in_project');
    await s.catalog.getEndpoint(endpoint_id);
    await s.resource.getProject(project_id);
    await m().checkEndpointInProject(endpoint_id, project_id);
    return reply.code(204).send();
  }
  async function addEndpointToProject(req: FastifyRequest, reply: FastifyReply) {
    const { project_id, endpoint_id } = req.params as EP;
    req.authorize('identity:add_endpoint_to_project');
    await s.catalog.getEndpoint(endpoint_id);
    await s.resource.getProject(project_id);
    await m().addEndpointToProject(endpoint_id, project_id);
    reply.code(204).send();
  }
  async function removeEndpointFromProject(req: FastifyRequest, reply: FastifyReply) {
    const { project_id, endpoint_id } = req.params as EP;
    req.authorize('identity:remove_endpoint_from_project');
    await m().removeEndpointFromProject(endpoint_id, project_id);
    reply.code(204).send();
  }
  async function listEndpointsForProject(req: FastifyRequest) {
    req.authorize('identity:list_endpoints_for_project');
    return listBody(
      req,
      'endpoints',
      (await m().endpointsForProject((req.params as Record<string, string>).project_id)).map((e) =>
        renderEndpoint(req, e),
      ),
    );
  }
  async function listProjectsForEndpoint(req: FastifyRequest) {
    req.authorize('identity:list_projects_for_endpoint');
    return listBody(
      req,
      'projects',
      (await m().projectsForEndpoint((req.params as Record<string, string>).endpoint_id)).map((p) =>
        renderProject(req, p),
      ),
    );
  }
  return {
    createEndpointGroup,
    listEndpointGroups,
    getEndpointGroup,
    updateEndpointGroup,
    deleteEndpointGroup,
    listEndpointsAssociatedWithEndpointGroup,
    listProjectsAssociatedWithEndpointGroup,
    getEndpointGroupInProject,
    addEndpointGroupToProject,
    removeEndpointGroupFromProject,
    listEndpointGroupsForProject,
    checkEndpointInProject,
    addEndpointToProject,
    removeEndpointFromProject,
    listEndpointsForProject,
    listProjectsForEndpoint,
  };
}

/** The request body schemas of endpoint_filter's routes, by handler (api/routes.ts mounts them). */
export const endpointFilterSchemas = {
  createEndpointGroup: wrap('endpoint_group', { required: ['name', 'filters'], properties: groupProps }),
  updateEndpointGroup: wrap('endpoint_group', { minProperties: 1, properties: groupProps }),
};
