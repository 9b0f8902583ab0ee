// /v3/roles, implied roles, grants on projects/domains/system (and OS-INHERIT), and
// /v3/role_assignments.
import type { FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import { ApiError, badRequest } from '../../core/errors.ts';
import type { IdentityService } from '../service.ts';
import type { Assignment, AssignmentType, EffectiveAssignment, Role } from '../assignment.ts';
import { SYSTEM_TARGET } from '../assignment.ts';
import { description, listBody, name255, q, queryBool, selfLink, wrap, type Attrs } from './common.ts';
import { callerDomain, listTarget } from './targets.ts';

export function renderRole(req: FastifyRequest, r: Role) {
  return {
    ...r.extra,
    id: r.id,
    name: r.name,
    domain_id: r.domain_id,
    description: r.description || null,
    options: r.options,
    links: selfLink(req, `roles/${r.id}`),
  };
}
const roleRef = (req: FastifyRequest, r: Role) => ({ id: r.id, name: r.name, links: selfLink(req, `roles/${r.id}`) });

const roleProps = {
  name: name255,
  domain_id: { type: ['string', 'null'] },
  description,
  options: { type: 'object', properties: { immutable: { type: ['boolean', 'null'] } }, additionalProperties: false },
};

/** The handlers of one kind of grant, mounted by api/routes.ts grantRoutes(). */
export interface GrantHandlers {
  create: RouteHandlerMethod;
  check: RouteHandlerMethod;
  revoke: RouteHandlerMethod;
  list: RouteHandlerMethod;
}

export function roleHandlers(s: IdentityService) {
  const a = s.assignment;
  const rule = (r: Role | { domain_id?: string | null }, global: string, domain: string) =>
    r.domain_id ? domain : global;

  async function createRole(req: FastifyRequest, reply: FastifyReply) {
    const body = (
      req.body as {
        role: Attrs<{
          name: string;
          domain_id?: string | null;
          description?: string;
          options?: Record<string, unknown>;
        }>;
      }
    ).role;
    req.authorize(rule(body, 'identity:create_role', 'identity:create_domain_role'), { target: { role: body } });
    const { name, domain_id, description: desc, options, id: _id, links: _l, ...extra } = body;
    const r = await a.createRole({ name, domain_id, description: desc, options, extra });
    reply.code(201);
    return { role: renderRole(req, r) };
  }
  async function listRoles(req: FastifyRequest) {
    const query = q(req);
    req.authorize(query.domain_id ? 'identity:list_domain_roles' : 'identity:list_roles', {
      domain_id: query.domain_id,
    });
    const list = await a.listRoles({ name: query.name, domainId: query.domain_id ?? null });
    return listBody(
      req,
      'roles',
      list.map((r) => renderRole(req, r)),
    );
  }
  async function getRole(req: FastifyRequest) {
    const { role_id } = req.params as { role_id: string };
    const r = await a.getRole(role_id);
    req.authorize(rule(r, 'identity:get_role', 'identity:get_domain_role'), {
      target: { role: { id: r.id, domain_id: r.domain_id } },
    });
    return { role: renderRole(req, r) };
  }
  async function updateRole(req: FastifyRequest) {
    const { role_id } = req.params as { role_id: string };
    const r = await a.getRole(role_id);
    req.authorize(rule(r, 'identity:update_role', 'identity:update_domain_role'), {
      target: { role: { id: r.id, domain_id: r.domain_id } },
    });
    return { role: renderRole(req, await a.updateRole(role_id, (req.body as { role: Attrs<object> }).role)) };
  }
  async function deleteRole(req: FastifyRequest, reply: FastifyReply) {
    const { role_id } = req.params as { role_id: string };
    const r = await a.getRole(role_id);
    req.authorize(rule(r, 'identity:delete_role', 'identity:delete_domain_role'), {
      target: { role: { id: r.id, domain_id: r.domain_id } },
    });
    await a.deleteRole(role_id);
    reply.code(204).send();
  }

  // ---- implied roles ----
  async function createImpliedRole(req: FastifyRequest, reply: FastifyReply) {
    const { prior, implied } = req.params as { prior: string; implied: string };
    req.authorize('identity:create_implied_role');
    await a.createImplied(prior, implied);
    reply.code(201);
    return {
      role_inference: {
        prior_role: roleRef(req, await a.getRole(prior)),
        implies: roleRef(req, await a.getRole(implied)),
      },
      links: selfLink(req, `roles/${prior}/implies/${implied}`),
    };
  }
  async function getImpliedRole(req: FastifyRequest) {
    const { prior, implied } = req.params as { prior: string; implied: string };
    req.authorize('identity:get_implied_role');
    await a.checkImplied(prior, implied);
    return {
      role_inference: {
        prior_role: roleRef(req, await a.getRole(prior)),
        implies: roleRef(req, await a.getRole(implied)),
      },
      links: selfLink(req, `roles/${prior}/implies/${implied}`),
    };
  }
  async function checkImpliedRole(req: FastifyRequest, reply: FastifyReply) {
    const { prior, implied } = req.params as { prior: string; implied: string };
    req.authorize('identity:check_implied_role');
    await a.checkImplied(prior, implied);
    reply.code(204).send();
  }
  async function deleteImpliedRole(req: FastifyRequest, reply: FastifyReply) {
    const { prior, implied } = req.params as { prior: string; implied: string };
    req.authorize('identity:delete_implied_role');
    await a.deleteImplied(prior, implied);
    reply.code(204).send();
  }
  async function listImpliedRoles(req: FastifyRequest) {
    const { prior } = req.params as { prior: string };
    req.authorize('identity:list_implied_roles');
    const p = await a.getRole(prior);
    const implied = (await a.implies()).get(prior) ?? [];
    return {
      role_inference: {
        prior_role: roleRef(req, p),
        implies: await Promise.all(implied.map(async (id) => roleRef(req, await a.getRole(id)))),
      },
      links: selfLink(req, `roles/${prior}/implies`),
    };
  }
  async function listRoleInferenceRules(req: FastifyRequest) {
    req.authorize('identity:list_role_inference_rules');
    const out = [];
    for (const [prior, implied] of await a.implies()) {
      out.push({
        prior_role: roleRef(req, await a.getRole(prior)),
        implies: await Promise.all(implied.map(async (id) => roleRef(req, await a.getRole(id)))),
      });
    }
    return { role_inferences: out, links: selfLink(req, 'role_inferences') };
  }

  // ---- grants ----
  interface GrantSpec {
    actor: 'users' | 'groups';
    scope: 'projects' | 'domains';
    inherited: boolean;
  }
  const grantTypes: Record<string, AssignmentType> = {
    'users/projects': 'UserProject',
    'groups/projects': 'GroupProject',
    'users/domains': 'UserDomain',
    'groups/domains': 'GroupDomain',
  };
  async function grantTarget(spec: GrantSpec, scopeId: string, actorId: string, roleId?: string) {
    const target: Record<string, unknown> = {};
    if (spec.scope === 'projects') {
      const p = await s.resource.getProject(scopeId);
      target.project = { id: p.id, domain_id: p.domain_id };
    } else {
      const d = await s.resource.getDomain(scopeId);
      target.domain = { id: d.id };
    }
    if (spec.actor === 'users') {
      const u = await s.users.get(actorId);
      target.user = { id: u.id, domain_id: u.domain_id };
    } else {
      const g = await s.users.getGroup(actorId);
      target.group = { id: g.id, domain_id: g.domain_id };
    }
    let role: Role | undefined;
    if (roleId) {
      role = await a.getRole(roleId);
      target.role = { id: role.id, domain_id: role.domain_id };
    }
    return { target: { target }, role };
  }
  const assignmentOf = (spec: GrantSpec, scopeId: string, actorId: string, roleId: string): Assignment => ({
    type: grantTypes[`${spec.actor}/${spec.scope}`]!,
    actor_id: actorId,
    target_id: scopeId,
    role_id: roleId,
    inherited: spec.inherited,
  });

  /** PUT (grant), GET/HEAD (check), DELETE (revoke) of a role and GET (list) of the roles, for one kind of grant. */
  /** The roles of assignment rows, in Keystone's list envelope (rows of a role since deleted drop out). */
  const rolesOfRows = async (req: FastifyRequest, rows: Array<{ role_id: string }>) => {
    const roles = await a.roles();
    return listBody(
      req,
      'roles',
      rows
        .map((r) => roles.get(r.role_id))
        .filter(Boolean)
        .map((r) => renderRole(req, r!)),
    );
  };
  function grantHandlers(spec: GrantSpec): GrantHandlers {
    const create = async (req: FastifyRequest, reply: FastifyReply) => {
      const p = req.params as Record<string, string>;
      const { target, role } = await grantTarget(spec, p.scope_id!, p.actor_id!, p.role_id);
      req.authorize('identity:create_grant', target);
      // Keystone (assignment/core.py create_grant) checks a domain-specific role's domain only
      // for project grants; a domain grant may use a role of another domain.
      if (role!.domain_id && spec.scope === 'projects') {
        if ((await s.resource.getProject(p.scope_id!)).domain_id !== role!.domain_id)
          throw new ApiError(
            403,
            `Project ${p.scope_id} must be in the same domain as the role ${role!.id} being assigned.`,
            'DomainSpecificRoleMismatch',
          );
      }
      await a.grant(assignmentOf(spec, p.scope_id!, p.actor_id!, p.role_id!));
      reply.code(204).send();
    };
    const check = async (req: FastifyRequest, reply: FastifyReply) => {
      const p = req.params as Record<string, string>;
      const { target } = await grantTarget(spec, p.scope_id!, p.actor_id!, p.role_id);
      req.authorize('identity:check_grant', target);
      if (!(await a.check(assignmentOf(spec, p.scope_id!, p.actor_id!, p.role_id!)))) {
        throw new ApiError(
          404,
          `Could not find role assignment with role: ${p.role_id}, user or group: ${p.actor_id}, project, domain, or system: ${p.scope_id}.`,
          'RoleAssignmentNotFound',
        );
      }
      reply.code(204).send();
    };
    const revoke = async (req: FastifyRequest, reply: FastifyReply) => {
      const p = req.params as Record<string, string>;
      const { target } = await grantTarget(spec, p.scope_id!, p.actor_id!, p.role_id);
      req.authorize('identity:revoke_grant', target);
      await a.revoke(assignmentOf(spec, p.scope_id!, p.actor_id!, p.role_id!));
      if (spec.actor === 'users')
        await s.revoke.revoke({
          user_id: p.actor_id,
          ...(spec.scope === 'projects' ? { project_id: p.scope_id } : { domain_id: p.scope_id }),
        });
      // As Keystone's assignment-removal callback: the user's application credentials on that project go too.
      if (spec.actor === 'users' && spec.scope === 'projects') {
        await s.db
          .deleteFrom('application_credential')
          .where('user_id', '=', p.actor_id!)
          .where('project_id', '=', p.scope_id!)
          .execute();
        s.backend.changed();
      }
      reply.code(204).send();
    };
    const list = async (req: FastifyRequest) => {
      const p = req.params as Record<string, string>;
      const { target } = await grantTarget(spec, p.scope_id!, p.actor_id!);
      req.authorize('identity:list_grants', target);
      const rows = await a.listDirect({
        type: [grantTypes[`${spec.actor}/${spec.scope}`]!],
        actorIds: [p.actor_id!],
        targetIds: [p.scope_id!],
        inherited: spec.inherited,
      });
      return rolesOfRows(req, rows);
    };
    return { create, check, revoke, list };
  }
  const userProject = grantHandlers({ actor: 'users', scope: 'projects', inherited: false });
  const inheritedUserProject = grantHandlers({ actor: 'users', scope: 'projects', inherited: true });
  const groupProject = grantHandlers({ actor: 'groups', scope: 'projects', inherited: false });
  const inheritedGroupProject = grantHandlers({ actor: 'groups', scope: 'projects', inherited: true });
  const userDomain = grantHandlers({ actor: 'users', scope: 'domains', inherited: false });
  const inheritedUserDomain = grantHandlers({ actor: 'users', scope: 'domains', inherited: true });
  const groupDomain = grantHandlers({ actor: 'groups', scope: 'domains', inherited: false });
  const inheritedGroupDomain = grantHandlers({ actor: 'groups', scope: 'domains', inherited: true });

  // ---- system grants ----
  /** GET (list) of the roles, PUT (grant), GET/HEAD (check) and DELETE (revoke) of a role on the system. */
  function systemGrantHandlers(actor: 'users' | 'groups'): GrantHandlers {
    const kind = actor === 'users' ? 'user' : 'group';
    const type: AssignmentType = actor === 'users' ? 'UserSystem' : 'GroupSystem';
    const load = async (id: string) => (actor === 'users' ? s.users.get(id) : s.users.getGroup(id));
    const list = async (req: FastifyRequest) => {
      const { actor_id } = req.params as { actor_id: string };
      await load(actor_id);
      req.authorize(`identity:list_system_grants_for_${kind}`);
      const rows = await a.listDirect({ type: [type], actorIds: [actor_id], targetIds: [SYSTEM_TARGET] });
      return rolesOfRows(req, rows);
    };
    const create = async (req: FastifyRequest, reply: FastifyReply) => {
      const { actor_id, role_id } = req.params as { actor_id: string; role_id: string };
      await load(actor_id);
      req.authorize(`identity:create_system_grant_for_${kind}`);
      const role = await a.getRole(role_id);
      if (role.domain_id)
        throw badRequest('Domain-specific roles cannot be assigned on the system.', 'ValidationError');
      await a.grant({ type, actor_id, target_id: SYSTEM_TARGET, role_id, inherited: false });
      reply.code(204).send();
    };
    const check = async (req: FastifyRequest, reply: FastifyReply) => {
      const { actor_id, role_id } = req.params as { actor_id: string; role_id: string };
      await load(actor_id);
      await a.getRole(role_id);
      req.authorize(`identity:check_system_grant_for_${kind}`);
      if (!(await a.check({ type, actor_id, target_id: SYSTEM_TARGET, role_id, inherited: false })))
        throw new ApiError(
          404,
          `Could not find role assignment with role: ${role_id}, ${kind}: ${actor_id}, system.`,
          'RoleAssignmentNotFound',
        );
      reply.code(204).send();
    };
    const revoke = async (req: FastifyRequest, reply: FastifyReply) => {
      const { actor_id, role_id } = req.params as { actor_id: string; role_id: string };
      await load(actor_id);
      req.authorize(`identity:revoke_system_grant_for_${kind}`);
      await a.revoke({ type, actor_id, target_id: SYSTEM_TARGET, role_id, inherited: false });
      reply.code(204).send();
    };
    return { list, create, check, revoke };
  }
  const systemUser = systemGrantHandlers('users');
  const systemGroup = systemGrantHandlers('groups');

  // ---- /v3/role_assignments ----
  /** Keystone: a domain-scoped token sees the assignments on its domain and on its domain's projects. */
  async function assignmentsInCallerDomain<T>(req: FastifyRequest, list: T[]): Promise<T[]> {
    const d = callerDomain(req);
    if (d === undefined) return list;
    const out: T[] = [];
    for (const x of list) {
      const scope = (x as { scope?: { domain?: { id?: string }; project?: { id?: string } } }).scope;
      if (scope?.domain?.id === d) out.push(x);
      else if (scope?.project?.id && (await s.resource.find(scope.project.id))?.domain_id === d) out.push(x);
    }
    return out;
  }
  async function listRoleAssignmentsForTree(req: FastifyRequest) {
    const query = q(req);
    const effective = query.effective !== undefined;
    const includeNames = queryBool(query.include_names) ?? false;
    const includeSubtree = queryBool(query.include_subtree) ?? false;
    if (includeSubtree && !query['scope.project.id'])
      throw badRequest(
        'scope.project.id needs to be specified if include_subtree is also specified.',
        'ValidationError',
      );
    if (query['user.id'] && query['group.id'])
      throw badRequest('Specify a user or group, not both.', 'ValidationError');
    if (query['scope.project.id'] && query['scope.domain.id'])
      throw badRequest('Specify a domain or project, not both.', 'ValidationError');
    if (effective && query['group.id'])
      throw badRequest('Combining effective and group filter will always result in an empty list.', 'ValidationError');
    if (includeSubtree) {
      const p = await s.resource.find(query['scope.project.id']!);
      req.authorize('identity:list_role_assignments_for_tree', {
        'target.project.domain_id': p?.domain_id,
        target: { project: { id: p?.id, domain_id: p?.domain_id } },
      });
    } else req.authorize('identity:list_role_assignments', listTarget(req, {}));
    const inheritedTo = query['scope.OS-INHERIT:inherited_to'];
    const rows = await a.listAssignments({
      userId: query['user.id'],
      groupId: query['group.id'],
      roleId: query['role.id'],
      projectId: query['scope.project.id'],
      domainId: query['scope.domain.id'],
      system: query['scope.system'] !== undefined,
      inheritedTo: inheritedTo !== undefined ? true : undefined,
      effective,
      includeSubtree,
    });
    const out = [];
    for (const e of rows) out.push(await renderAssignment(req, s, e, includeNames));
    return listBody(req, 'role_assignments', await assignmentsInCallerDomain(req, out));
  }
  return {
    createRole,
    listRoles,
    getRole,
    updateRole,
    deleteRole,
    createImpliedRole,
    getImpliedRole,
    checkImpliedRole,
    deleteImpliedRole,
    listImpliedRoles,
    listRoleInferenceRules,
    userProjectGrants: userProject,
    inheritedUserProjectGrants: inheritedUserProject,
    groupProjectGrants: groupProject,
    inheritedGroupProjectGrants: inheritedGroupProject,
    userDomainGrants: userDomain,
    inheritedUserDomainGrants: inheritedUserDomain,
    groupDomainGrants: groupDomain,
    inheritedGroupDomainGrants: inheritedGroupDomain,
    systemUserGrants: systemUser,
    systemGroupGrants: systemGroup,
    listRoleAssignmentsForTree,
  };
}

/** A role, user, group, project or domain as an assignment names it (with include_names). */
interface NamedRef {
  id: string;
  name?: string;
  domain?: { id: string; name?: string };
}

async function renderAssignment(req: FastifyRequest, s: IdentityService, e: EffectiveAssignment, names: boolean) {
  const out: Record<string, unknown> = {};
  const role: NamedRef = { id: e.roleId };
  const found = await s.assignment.findRole(e.roleId);
  if (names && found) {
    role.name = found.name;
    if (found.domain_id) {
      const d = await s.resource.find(found.domain_id);
      role.domain = { id: found.domain_id, name: d?.name };
    }
  }
  out.role = role;
  const domainRef = async (id: string) => ({ id, name: (await s.resource.find(id))?.name });
  if (e.userId) {
    const user: NamedRef = { id: e.userId };
    if (names) {
      const u = await s.users.find(e.userId);
      if (u) {
        user.name = u.name;
        user.domain = await domainRef(u.domain_id);
      }
    }
    out.user = user;
  } else {
    const group: NamedRef = { id: e.groupId! };
    if (names) {
      const g = await s.users.findGroup(e.groupId!);
      if (g) {
        group.name = g.name;
        group.domain = await domainRef(g.domain_id);
      }
    }
    out.group = group;
  }
  const scope: { project?: NamedRef; domain?: NamedRef; system?: { all: true }; 'OS-INHERIT:inherited_to'?: string } =
    {};
  if (e.projectId) {
    scope.project = { id: e.projectId };
    if (names) {
      const p = await s.resource.find(e.projectId);
      if (p) {
        scope.project.name = p.name;
        scope.project.domain = await domainRef(p.domain_id!);
      }
    }
  } else if (e.domainId) {
    scope.domain = { id: e.domainId };
    if (names) {
      const d = await s.resource.find(e.domainId);
      if (d) scope.domain.name = d.name;
    }
  } else scope.system = { all: true };
  if (e.inherited) scope['OS-INHERIT:inherited_to'] = 'projects';
  out.scope = scope;
  // links point at the stored assignment, and at the membership / inference that produced it
  const src = e.source;
  const actor = src.type.startsWith('User') ? 'users' : 'groups';
  let link: string;
  if (src.type.endsWith('System')) link = `system/${actor}/${src.actor_id}/roles/${src.role_id}`;
  else {
    const target = src.type.endsWith('Project') ? 'projects' : 'domains';
    link = src.inherited
      ? `OS-INHERIT/${target}/${src.target_id}/${actor}/${src.actor_id}/roles/${src.role_id}/inherited_to_projects`
      : `${target}/${src.target_id}/${actor}/${src.actor_id}/roles/${src.role_id}`;
  }
  const links: Record<string, string> = { assignment: `${req.baseUrl}/v3/${link}` };
  if (e.viaGroup) links.membership = `${req.baseUrl}/v3/groups/${e.viaGroup}/users/${e.userId}`;
  if (e.priorRoleId) links.prior_role = `${req.baseUrl}/v3/roles/${e.priorRoleId}/implies/${e.roleId}`;
  out.links = links;
  return out;
}

/** The request body schemas of roles's routes, by handler (api/routes.ts mounts them). */
export const roleSchemas = {
  createRole: wrap('role', { required: ['name'], properties: roleProps }),
  updateRole: wrap('role', { properties: roleProps }),
};
