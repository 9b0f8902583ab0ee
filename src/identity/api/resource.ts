// /v3/domains and /v3/projects (with hierarchy and tags).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { badRequest } from '../../core/errors.ts';
import type { IdentityService } from '../service.ts';
import type { Project } from '../resource.ts';
import {
  boolean,
  description,
  listBody,
  name64,
  nullableId,
  q,
  queryBool,
  selfLink,
  tagName,
  tags,
  wrap,
  type Attrs,
} from './common.ts';
import { inCallerDomain, listTarget } from './targets.ts';
import { validate } from '../../core/validate.ts';

export function renderProject(req: FastifyRequest, p: Project) {
  return {
    ...p.extra,
    id: p.id,
    name: p.name,
    domain_id: p.domain_id,
    description: p.description,
    enabled: p.enabled,
    parent_id: p.parent_id,
    is_domain: p.is_domain,
    tags: p.tags,
    options: p.options,
    links: selfLink(req, `projects/${p.id}`),
  };
}
export function renderDomain(req: FastifyRequest, d: Project) {
  return {
    ...d.extra,
    id: d.id,
    name: d.name,
    description: d.description,
    enabled: d.enabled,
    tags: d.tags,
    options: d.options,
    links: selfLink(req, `domains/${d.id}`),
  };
}

const projectProps = {
  name: name64,
  description,
  domain_id: nullableId,
  parent_id: nullableId,
  enabled: boolean,
  is_domain: boolean,
  tags,
  options: { type: 'object' },
};
const domainProps = {
  name: name64,
  description,
  enabled: boolean,
  tags,
  options: { type: 'object' },
  explicit_domain_id: { type: 'string' },
};

function splitTags(v: string | undefined) {
  return v === undefined ? undefined : v.split(',').filter(Boolean);
}

/** tags / tags-any / not-tags / not-tags-any filters, as Keystone applies them. */
export function tagFilter(query: Record<string, string | undefined>) {
  const all = splitTags(query.tags),
    any = splitTags(query['tags-any']),
    notAll = splitTags(query['not-tags']),
    notAny = splitTags(query['not-tags-any']);
  return (p: Project) =>
    (!all || all.every((t) => p.tags.includes(t))) &&
    (!any || any.some((t) => p.tags.includes(t))) &&
    (!notAll || !notAll.every((t) => p.tags.includes(t))) &&
    (!notAny || !notAny.some((t) => p.tags.includes(t)));
}

export function resourceHandlers(s: IdentityService) {
  const r = s.resource;

  // ---- domains ----
  async function createDomain(req: FastifyRequest, reply: FastifyReply) {
    req.authorize('identity:create_domain');
    const {
      explicit_domain_id,
      name,
      description: desc,
      enabled,
      tags: t,
      options,
      id: _id,
      ...extra
    } = (
      req.body as {
        domain: Attrs<{
          explicit_domain_id?: string;
          name: string;
          description?: string;
          enabled?: boolean;
          tags?: string[];
          options?: Record<string, unknown>;
        }>;
      }
    ).domain;
    const d = await r.createDomain({
      id: explicit_domain_id,
      name,
      description: desc ?? '',
      enabled,
      tags: t,
      options,
      extra,
    });
    reply.code(201);
    return { domain: renderDomain(req, d) };
  }
  async function listDomains(req: FastifyRequest) {
    const query = q(req);
    req.authorize('identity:list_domains');
    let list = await r.list({ isDomain: true, name: query.name, enabled: queryBool(query.enabled) });
    list = list.filter(tagFilter(query));
    // Non-admins see only the domains they can get.
    return listBody(
      req,
      'domains',
      list.map((d) => renderDomain(req, d)),
    );
  }
  async function getDomain(req: FastifyRequest) {
    const { domain_id } = req.params as { domain_id: string };
    const d = await r.getDomain(domain_id).catch((e) => {
      req.authorize('identity:get_domain', { target: { domain: { id: domain_id } }, domain_id });
      throw e;
    });
    req.authorize('identity:get_domain', { target: { domain: { id: d.id } }, domain_id: d.id });
    return { domain: renderDomain(req, d) };
  }
  // Keystone loads the domain before the policy (a 404 first), and validates the body after it.
  async function updateDomain(req: FastifyRequest) {
    const { domain_id } = req.params as { domain_id: string };
    await r.getDomain(domain_id);
    req.authorize('identity:update_domain', { target: { domain: { id: domain_id } } });
    validate(req.body, wrap('domain', { minProperties: 1, properties: domainProps }));
    const d = await r.update(domain_id, (req.body as { domain: Attrs<object> }).domain, 'domain');
    return { domain: renderDomain(req, d) };
  }
  async function deleteDomain(req: FastifyRequest, reply: FastifyReply) {
    const { domain_id } = req.params as { domain_id: string };
    req.authorize('identity:delete_domain', { target: { domain: { id: domain_id } } });
    await r.deleteDomain(domain_id);
    reply.code(204).send();
  }

  // ---- projects ----
  /** Keystone's _build_project_target_enforcement: the project when it exists, else an empty target. */
  const projectTarget = async (id: string) => {
    const p = await r.find(id);
    return p ? { target: { project: { id: p.id, domain_id: p.domain_id } } } : {};
  };
  async function createProject(req: FastifyRequest, reply: FastifyReply) {
    const body = (
      req.body as {
        project: Attrs<{
          name: string;
          description?: string;
          domain_id?: string | null;
          parent_id?: string | null;
          enabled?: boolean;
          is_domain?: boolean;
          tags?: string[];
          options?: Record<string, unknown>;
        }>;
      }
    ).project;
    req.authorize('identity:create_project', { target: { project: body } });
    const {
      name,
      description: desc,
      domain_id,
      parent_id,
      enabled,
      is_domain,
      tags: t,
      options,
      id: _id,
      ...extra
    } = body;
    const tokenDomain = req.ctx?.domainId ?? req.ctx?.projectDomainId ?? 'default';
    const p = await r.createProject(
      { name, description: desc ?? '', domain_id, parent_id, enabled, is_domain, tags: t, options, extra },
      tokenDomain,
    );
    reply.code(201);
    return { project: p.is_domain ? { ...renderProject(req, p), domain_id: null } : renderProject(req, p) };
  }
  async function listProjects(req: FastifyRequest) {
    const query = q(req);
    req.authorize('identity:list_projects', listTarget(req, { domain_id: query.domain_id }));
    let list = await r.list({
      isDomain: queryBool(query.is_domain) ?? false,
      domainId: query.domain_id,
      parentId: query.parent_id,
      name: query.name,
      enabled: queryBool(query.enabled),
    });
    list = inCallerDomain(req, list.filter(tagFilter(query)), (p) => p.domain_id);
    if (!req.allowed('identity:list_projects', listTarget(req, {})) && query.domain_id === undefined) list = [];
    return listBody(
      req,
      'projects',
      list.map((p) => renderProject(req, p)),
    );
  }
  async function getProject(req: FastifyRequest) {
    const { project_id } = req.params as { project_id: string };
    const query = q(req);
    req.authorize('identity:get_project', await projectTarget(project_id));
    const p = await r.getProject(project_id);
    const out: Record<string, unknown> = renderProject(req, p);
    const pal = query.parents_as_list !== undefined,
      pai = query.parents_as_ids !== undefined;
    const sal = query.subtree_as_list !== undefined,
      sai = query.subtree_as_ids !== undefined;
    if ((pal && pai) || (sal && sai))
      throw badRequest(
        'Cannot use parents_as_list and parents_as_ids query params at the same time.',
        'ValidationError',
      );
    if (pal || pai) {
      const parents = (await r.parents(p.id)).filter((x) => !x.is_domain);
      if (pal)
        out.parents = parents
          .filter((x) =>
            req.allowed('identity:get_project', { target: { project: { id: x.id, domain_id: x.domain_id } } }),
          )
          .map((x) => ({ project: renderProject(req, x) }));
      else {
        // nested {parent: {grandparent: null}}
        let nested: Record<string, unknown> | null = null;
        for (const x of [...parents].reverse()) nested = { [x.id]: nested };
        out.parents = nested;
      }
    }
    if (sal || sai) {
      const sub = await r.subtree(p.id);
      if (sal)
        out.subtree = sub
          .filter((x) =>
            req.allowed('identity:get_project', { target: { project: { id: x.id, domain_id: x.domain_id } } }),
          )
          .map((x) => ({ project: renderProject(req, x) }));
      else {
        const build = (id: string): Record<string, unknown> | null => {
          const kids = sub.filter((x) => x.parent_id === id);
          if (!kids.length) return null;
          return Object.fromEntries(kids.map((k) => [k.id, build(k.id)]));
        };
        out.subtree = build(p.id);
      }
    }
    return { project: out };
  }
  // Keystone enforces before it validates the body, so the policy's 403 comes before a 400.
  async function updateProject(req: FastifyRequest) {
    const { project_id } = req.params as { project_id: string };
    req.authorize('identity:update_project', await projectTarget(project_id));
    await r.getProject(project_id);
    validate(req.body, wrap('project', { minProperties: 1, properties: projectProps }));
    const p = await r.update(project_id, (req.body as { project: Attrs<object> }).project, 'project');
    return { project: renderProject(req, p) };
  }
  async function deleteProject(req: FastifyRequest, reply: FastifyReply) {
    const { project_id } = req.params as { project_id: string };
    const cur = await r.getProject(project_id);
    req.authorize('identity:delete_project', { target: { project: { id: cur.id, domain_id: cur.domain_id } } });
    await r.deleteProject(project_id);
    reply.code(204).send();
  }

  // ---- project tags ----
  const tagTarget = async (id: string) => {
    const p = await r.getProject(id);
    return { target: { project: { id: p.id, domain_id: p.domain_id } } };
  };
  async function listProjectTags(req: FastifyRequest) {
    const { project_id } = req.params as { project_id: string };
    req.authorize('identity:list_project_tags', await tagTarget(project_id));
    return { tags: (await r.getProject(project_id)).tags };
  }
  async function updateProjectTags(req: FastifyRequest) {
    const { project_id } = req.params as { project_id: string };
    req.authorize('identity:update_project_tags', await tagTarget(project_id));
    const p = await r.update(project_id, { tags: (req.body as { tags: string[] }).tags }, 'project');
    return { tags: p.tags, links: selfLink(req, `projects/${project_id}/tags`) };
  }
  async function deleteProjectTags(req: FastifyRequest, reply: FastifyReply) {
    const { project_id } = req.params as { project_id: string };
    req.authorize('identity:delete_project_tags', await tagTarget(project_id));
    await r.update(project_id, { tags: [] }, 'project');
    reply.code(204).send();
  }
  async function getProjectTag(req: FastifyRequest, reply: FastifyReply) {
    const { project_id, tag } = req.params as { project_id: string; tag: string };
    req.authorize('identity:get_project_tag', await tagTarget(project_id));
    const p = await r.getProject(project_id);
    if (!p.tags.includes(tag)) {
      reply.code(404);
      return { error: { code: 404, title: 'Not Found', message: `Could not find project tag: ${tag}.` } };
    }
    reply.code(204).send();
  }
  async function createProjectTag(req: FastifyRequest, reply: FastifyReply) {
    const { project_id, tag } = req.params as { project_id: string; tag: string };
    req.authorize('identity:create_project_tag', await tagTarget(project_id));
    if (!new RegExp(tagName.pattern).test(tag) || tag.length > 255)
      throw badRequest(`Invalid input for field 'tag': '${tag}'`, 'ValidationError');
    await r.addTag(project_id, tag);
    // 201 with an empty body, as the API-WG tags guideline (and tempest) expect.
    reply.code(201).header('Location', `${req.baseUrl}/v3/projects/${project_id}/tags/${tag}`).send();
  }
  async function deleteProjectTag(req: FastifyRequest, reply: FastifyReply) {
    const { project_id, tag } = req.params as { project_id: string; tag: string };
    req.authorize('identity:delete_project_tag', await tagTarget(project_id));
    await r.removeTag(project_id, tag);
    reply.code(204).send();
  }
  return {
    createDomain,
    listDomains,
    getDomain,
    updateDomain,
    deleteDomain,
    createProject,
    listProjects,
    getProject,
    updateProject,
    deleteProject,
    listProjectTags,
    updateProjectTags,
    deleteProjectTags,
    getProjectTag,
    createProjectTag,
    deleteProjectTag,
  };
}

/** The request body schemas of resource's routes, by handler (api/routes.ts mounts them). */
export const resourceSchemas = {
  createDomain: wrap('domain', { required: ['name'], properties: domainProps }),
  createProject: wrap('project', { required: ['name'], properties: projectProps }),
  updateProjectTags: { type: 'object', required: ['tags'], properties: { tags } },
};
