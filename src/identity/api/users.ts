// /v3/users and /v3/groups: users, passwords, group membership, a user's projects and groups.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, badRequest } from '../../core/errors.ts';
import type { IdentityService } from '../service.ts';
import type { Group, User } from '../users.ts';
import { USER_OPTIONS } from '../users.ts';
import { renderProject } from './resource.ts';
import {
  boolean,
  description,
  listBody,
  name255,
  nullableId,
  q,
  queryBool,
  selfLink,
  wrap,
  type Attrs,
} from './common.ts';
import { inCallerDomain, listTarget } from './targets.ts';
import { pyRepr } from '../../core/python.ts';

export function renderUser(req: FastifyRequest, u: User) {
  const out: Record<string, unknown> = {
    ...u.extra,
    id: u.id,
    name: u.name,
    domain_id: u.domain_id,
    enabled: u.enabled,
    password_expires_at: u.password_expires_at,
    options: u.options,
    links: selfLink(req, `users/${u.id}`),
  };
  if (u.default_project_id) out.default_project_id = u.default_project_id;
  return out;
}
export function renderGroup(req: FastifyRequest, g: Group) {
  return {
    ...g.extra,
    id: g.id,
    name: g.name,
    domain_id: g.domain_id,
    description: g.description,
    links: selfLink(req, `groups/${g.id}`),
  };
}

const userProps = {
  name: name255,
  domain_id: { type: 'string', minLength: 1, maxLength: 64 },
  enabled: boolean,
  default_project_id: nullableId,
  password: { type: ['string', 'null'] },
  description,
  email: { type: ['string', 'null'] },
  options: { type: 'object' },
};

function checkOptions(options: unknown) {
  if (options === undefined) return;
  if (!options || typeof options !== 'object') throw badRequest("Invalid input for field 'options'", 'ValidationError');
  for (const [k, v] of Object.entries(options)) {
    if (!USER_OPTIONS.has(k))
      throw badRequest(
        `Invalid input for field 'options': Additional properties are not allowed ('${k}' was unexpected)`,
        'ValidationError',
      );
    if (k === 'multi_factor_auth_rules') {
      if (v !== null && !Array.isArray(v))
        throw badRequest(`Invalid input for field 'options.${k}'`, 'ValidationError');
    } else if (v !== null && typeof v !== 'boolean')
      throw badRequest(
        `Invalid input for field 'options.${k}': ${pyRepr(v)} is not of type 'boolean'`,
        'ValidationError',
      );
  }
}

export function userHandlers(s: IdentityService) {
  const users = s.users;

  async function createUser(req: FastifyRequest, reply: FastifyReply) {
    const body = (
      req.body as {
        user: Attrs<{
          name: string;
          domain_id?: string;
          enabled?: boolean;
          password?: string | null;
          default_project_id?: string | null;
          options?: Record<string, unknown>;
        }>;
      }
    ).user;
    const domainId = body.domain_id ?? req.ctx?.domainId ?? req.ctx?.projectDomainId ?? 'default';
    req.authorize('identity:create_user', { target: { user: { ...body, domain_id: domainId } } });
    checkOptions(body.options);
    await s.resource.getDomain(domainId);
    if (body.default_project_id) {
      const p = await s.resource.find(body.default_project_id);
      if (p?.is_domain) throw badRequest('Domains are not valid default projects.', 'ValidationError');
    }
    const { name, domain_id: _d, enabled, password, default_project_id, options, id: _id, links: _l, ...extra } = body;
    const u = await users.create({
      name,
      domain_id: domainId,
      enabled,
      password,
      default_project_id,
      options,
      extra,
    });
    reply.code(201);
    return { user: renderUser(req, u) };
  }
  async function listUsers(req: FastifyRequest) {
    const query = q(req);
    req.authorize('identity:list_users', listTarget(req, { domain_id: query.domain_id }));
    let pe: { op: string; at: string } | undefined;
    if (query.password_expires_at) {
      const m = /^(?:(lt|lte|gt|gte|eq|neq):)?(.+)$/.exec(query.password_expires_at)!;
      if (Number.isNaN(Date.parse(m[2]!)))
        throw badRequest(`Invalid time format for password_expires_at: ${m[2]}`, 'ValidationError');
      pe = { op: m[1] ?? 'eq', at: m[2]! };
    }
    let domainId = query.domain_id;
    // A domain-scoped token lists its own domain's users.
    if (domainId === undefined && req.ctx?.domainId) domainId = req.ctx.domainId;
    const list = await users.list({
      domainId,
      name: query.name,
      enabled: queryBool(query.enabled),
      passwordExpiresAt: pe,
    });
    return listBody(
      req,
      'users',
      inCallerDomain(req, list, (u) => u.domain_id).map((u) => renderUser(req, u)),
    );
  }
  // Keystone's _build_user_target_enforcement: the user when it exists (an unknown one is checked
  // with an empty target, so only the system may learn it does not exist), the path's user_id.
  const userTarget = (u: User | undefined, userId?: string) => ({
    ...(userId !== undefined ? { user_id: userId } : {}),
    ...(u ? { target: { user: { id: u.id, domain_id: u.domain_id } } } : {}),
  });
  async function getUser(req: FastifyRequest) {
    const { user_id } = req.params as { user_id: string };
    const u = await users.find(user_id);
    req.authorize('identity:get_user', u ? userTarget(u) : { target: { user: { id: user_id } } });
    if (!u) throw new ApiError(404, `Could not find user: ${user_id}.`, 'UserNotFound');
    return { user: renderUser(req, u) };
  }
  async function updateUser(req: FastifyRequest) {
    const { user_id } = req.params as { user_id: string };
    const cur = await users.find(user_id);
    req.authorize('identity:update_user', userTarget(cur));
    if (!cur) await users.get(user_id);
    const patch = (req.body as { user: Attrs<{ options?: Record<string, unknown> }> }).user;
    checkOptions(patch.options);
    return { user: renderUser(req, await users.update(user_id, patch)) };
  }
  async function deleteUser(req: FastifyRequest, reply: FastifyReply) {
    const { user_id } = req.params as { user_id: string };
    const cur = await users.find(user_id);
    req.authorize('identity:delete_user', userTarget(cur));
    if (!cur) await users.get(user_id);
    await users.delete(user_id);
    reply.code(204).send();
  }
  async function changePassword(req: FastifyRequest, reply: FastifyReply) {
    // Upstream lets an expired password be changed without a token.
    req.authorized = true;
    const { user_id } = req.params as { user_id: string };
    const body = (req.body as { user: { original_password: string; password: string } }).user;
    const u = await users.find(user_id);
    if (!u) throw new ApiError(401, 'The request you have made requires authentication.', 'Unauthorized');
    await users.changePassword(user_id, body.original_password, body.password);
    reply.code(204).send();
  }
  async function listGroupsForUser(req: FastifyRequest) {
    const { user_id } = req.params as { user_id: string };
    const u = await users.find(user_id);
    req.authorize('identity:list_groups_for_user', userTarget(u, user_id));
    if (!u) await users.get(user_id);
    const groups = inCallerDomain(
      req,
      await users.listGroups({ ids: await users.groupIdsOf(user_id), name: q(req).name }),
      (g) => g.domain_id,
    );
    // Keystone: a federated login's membership shows when it lapses (null: a permanent one, or no TTL)
    const expiring = new Map((await users.expiringMemberships(user_id)).map((e) => [e.groupId, e.expiresAt]));
    return listBody(
      req,
      'groups',
      groups.map((g) => {
        const at = expiring.get(g.id);
        return {
          ...renderGroup(req, g),
          membership_expires_at: at ? new Date(at).toISOString().replace(/Z$/, '000') : null,
        };
      }),
    );
  }
  async function listUserProjects(req: FastifyRequest) {
    const { user_id } = req.params as { user_id: string };
    const u = await users.find(user_id);
    req.authorize('identity:list_user_projects', userTarget(u, user_id));
    if (!u) await users.get(user_id);
    const query = q(req);
    let list = await s.resource.list({
      ids: await s.assignment.projectIdsForUser(user_id),
      isDomain: false,
      name: query.name,
      enabled: queryBool(query.enabled),
      domainId: query.domain_id,
    });
    return listBody(
      req,
      'projects',
      list.map((p) => renderProject(req, p)),
    );
  }

  // ---- groups ----
  const groupTarget = (g: Group | undefined) => (g ? { target: { group: { id: g.id, domain_id: g.domain_id } } } : {});
  /** Keystone's group target: the group when it exists, else an empty target; then the 404. */
  const authorizeOnGroup = async (req: FastifyRequest, rule: string, groupId: string) => {
    const g = await users.findGroup(groupId);
    req.authorize(rule, groupTarget(g));
    return g ?? (await users.getGroup(groupId));
  };
  async function createGroup(req: FastifyRequest, reply: FastifyReply) {
    const body = (req.body as { group: Attrs<{ name: string; domain_id?: string; description?: string }> }).group;
    const domainId = body.domain_id ?? req.ctx?.domainId ?? req.ctx?.projectDomainId ?? 'default';
    req.authorize('identity:create_group', { target: { group: { ...body, domain_id: domainId } } });
    await s.resource.getDomain(domainId);
    const { name, domain_id: _d, description: desc, id: _id, links: _l, ...extra } = body;
    const g = await users.createGroup({ name, domain_id: domainId, description: desc, extra });
    reply.code(201);
    return { group: renderGroup(req, g) };
  }
  async function listGroups(req: FastifyRequest) {
    const query = q(req);
    req.authorize(
      'identity:list_groups',
      listTarget(req, { domain_id: query.domain_id }, (domain_id) => ({ group: { domain_id } })),
    );
    const list = inCallerDomain(
      req,
      await users.listGroups({ domainId: query.domain_id ?? req.ctx?.domainId, name: query.name }),
      (g) => g.domain_id,
    );
    return listBody(
      req,
      'groups',
      list.map((g) => renderGroup(req, g)),
    );
  }
  async function getGroup(req: FastifyRequest) {
    const { group_id } = req.params as { group_id: string };
    const g = await authorizeOnGroup(req, 'identity:get_group', group_id);
    return { group: renderGroup(req, g) };
  }
  async function updateGroup(req: FastifyRequest) {
    const { group_id } = req.params as { group_id: string };
    await authorizeOnGroup(req, 'identity:update_group', group_id);
    return { group: renderGroup(req, await users.updateGroup(group_id, (req.body as { group: Attrs<object> }).group)) };
  }
  async function deleteGroup(req: FastifyRequest, reply: FastifyReply) {
    const { group_id } = req.params as { group_id: string };
    // Keystone loads the group before this policy (its member lookup): an unknown one is a 404 for anyone.
    req.authorize('identity:delete_group', groupTarget(await users.getGroup(group_id)));
    await users.deleteGroup(group_id);
    reply.code(204).send();
  }
  async function listUsersInGroup(req: FastifyRequest) {
    const { group_id } = req.params as { group_id: string };
    await authorizeOnGroup(req, 'identity:list_users_in_group', group_id);
    const query = q(req);
    const list = inCallerDomain(
      req,
      await users.list({ ids: await users.memberIds(group_id), name: query.name, enabled: queryBool(query.enabled) }),
      (u) => u.domain_id,
    );
    return listBody(
      req,
      'users',
      list.map((u) => renderUser(req, u)),
    );
  }
  // Keystone's UserGroupCRUDResource target: the group and the user that exist; then the 404s.
  const authorizeMember = async (req: FastifyRequest, rule: string, groupId: string, userId: string) => {
    const g = await users.findGroup(groupId);
    const u = await users.find(userId);
    const target: Record<string, unknown> = {};
    if (g) target.group = { id: g.id, domain_id: g.domain_id };
    if (u) target.user = { id: u.id, domain_id: u.domain_id };
    req.authorize(rule, { target });
    if (!g) await users.getGroup(groupId);
    if (!u) await users.get(userId);
  };
  async function addUserToGroup(req: FastifyRequest, reply: FastifyReply) {
    const { group_id, user_id } = req.params as { group_id: string; user_id: string };
    await authorizeMember(req, 'identity:add_user_to_group', group_id, user_id);
    await users.addMember(group_id, user_id);
    reply.code(204).send();
  }
  async function checkUserInGroup(req: FastifyRequest, reply: FastifyReply) {
    const { group_id, user_id } = req.params as { group_id: string; user_id: string };
    await authorizeMember(req, 'identity:check_user_in_group', group_id, user_id);
    if (!(await users.isMember(group_id, user_id)))
      throw new ApiError(404, `Could not find user ${user_id} in group ${group_id}.`, 'NotFound');
    reply.code(204).send();
  }
  async function removeUserFromGroup(req: FastifyRequest, reply: FastifyReply) {
    const { group_id, user_id } = req.params as { group_id: string; user_id: string };
    await authorizeMember(req, 'identity:remove_user_from_group', group_id, user_id);
    await users.removeMember(group_id, user_id);
    reply.code(204).send();
  }
  return {
    createUser,
    listUsers,
    getUser,
    updateUser,
    deleteUser,
    changePassword,
    listGroupsForUser,
    listUserProjects,
    createGroup,
    listGroups,
    getGroup,
    updateGroup,
    deleteGroup,
    listUsersInGroup,
    addUserToGroup,
    checkUserInGroup,
    removeUserFromGroup,
  };
}

const groupProps = { name: name255, domain_id: { type: 'string', minLength: 1, maxLength: 64 }, description };

/** The request body schemas of users's routes, by handler (api/routes.ts mounts them). */
export const userSchemas = {
  createUser: wrap('user', { required: ['name'], properties: userProps }),
  updateUser: wrap('user', { properties: userProps }),
  createGroup: wrap('group', { required: ['name'], properties: groupProps }),
  updateGroup: wrap('group', { properties: groupProps }),
  changePassword: wrap('user', {
    required: ['password', 'original_password'],
    properties: { password: { type: 'string' }, original_password: { type: 'string' } },
  }),
};
