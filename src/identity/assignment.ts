// Roles, implied roles and role assignments (Keystone's assignment manager), with the
// effective-role computation every token and /v3/role_assignments relies on.
import { ApiError, badRequest } from '../core/errors.ts';
import { bool, int, isUniqueViolation, json } from '../core/db.ts';
import { IdentityBackend, NULL_DOMAIN, newId, notFound, storing, type Patch } from './backend.ts';
import type { ResourceManager } from './resource.ts';
import type { UserManager } from './users.ts';
import type { Selectable } from 'kysely';
import type { RoleTable } from './db/schema.ts';

export interface Role {
  id: string;
  name: string;
  domain_id: string | null;
  description: string;
  options: Record<string, unknown>;
  extra: Record<string, unknown>;
}
export type AssignmentType =
  | 'UserProject'
  | 'GroupProject'
  | 'UserDomain'
  | 'GroupDomain'
  | 'UserSystem'
  | 'GroupSystem';
export interface Assignment {
  type: AssignmentType;
  actor_id: string;
  target_id: string;
  role_id: string;
  inherited: boolean;
}

/** One row of /v3/role_assignments before rendering. */
export interface EffectiveAssignment {
  roleId: string;
  userId?: string;
  groupId?: string;
  projectId?: string;
  domainId?: string;
  system?: boolean;
  inherited: boolean;
  /** Where it came from, for links: the assignment as stored, the group it came through, the role that implied it. */
  source: Assignment;
  viaGroup?: string;
  priorRoleId?: string;
}

export const SYSTEM_TARGET = 'system';

/** The columns that name one assignment row (its primary key). */
const assignmentRow = (a: Assignment) => ({
  type: a.type,
  actor_id: a.actor_id,
  target_id: a.target_id,
  role_id: a.role_id,
  inherited: int(a.inherited),
});

export class AssignmentManager {
  private roleCache?: Map<string, Role>;
  private impliesCache?: Map<string, string[]>;
  constructor(
    private b: IdentityBackend,
    private resource: ResourceManager,
    private users: UserManager,
  ) {
    b.onChange(() => {
      this.roleCache = undefined;
      this.impliesCache = undefined;
    });
  }

  private toRole(r: Selectable<RoleTable>): Role {
    return {
      id: r.id,
      name: r.name,
      domain_id: r.domain_id === NULL_DOMAIN ? null : r.domain_id,
      description: r.description ?? '',
      options: json(r.options, {}),
      extra: json(r.extra, {}),
    };
  }
  async roles(): Promise<Map<string, Role>> {
    if (!this.roleCache) {
      const rows = await this.b.db.selectFrom('role').selectAll().execute();
      this.roleCache = new Map(rows.map((r) => [r.id, this.toRole(r)]));
    }
    return this.roleCache;
  }
  async findRole(id: string) {
    return (await this.roles()).get(id);
  }
  async getRole(id: string) {
    const r = await this.findRole(id);
    if (!r) throw notFound('role', id);
    return r;
  }
  async findRoleByName(name: string, domainId: string | null = null) {
    for (const r of (await this.roles()).values()) if (r.name === name && r.domain_id === domainId) return r;
    return undefined;
  }
  async listRoles(filter: { name?: string; domainId?: string | null }) {
    const out = [...(await this.roles()).values()].filter(
      (r) =>
        (filter.name === undefined || r.name === filter.name) &&
        (filter.domainId === undefined ? r.domain_id === null : r.domain_id === filter.domainId),
    );
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }
  async createRole(body: {
    id?: string;
    name: string;
    domain_id?: string | null;
    description?: string;
    options?: Record<string, unknown>;
    extra: Record<string, unknown>;
  }) {
    const id = body.id ?? newId();
    if (body.domain_id) await this.resource.getDomain(body.domain_id);
    await storing('role', `Duplicate entry found with name ${body.name}`, async () => {
      await this.b.db
        .insertInto('role')
        .values({
          id,
          name: body.name,
          domain_id: body.domain_id ?? NULL_DOMAIN,
          description: body.description ?? null,
          options: JSON.stringify(body.options ?? {}),
          extra: JSON.stringify(body.extra),
        })
        .execute();
    });
    this.b.changed();
    this.b.notify('role', 'created', id);
    return this.getRole(id);
  }
  async updateRole(id: string, patch: Patch<{ options?: Record<string, unknown> | null }>) {
    const cur = await this.getRole(id);
    if (patch.domain_id !== undefined && patch.domain_id !== cur.domain_id)
      throw badRequest('Update of `domain_id` is not allowed.', 'ValidationError');
    if (cur.options.immutable && !(patch.options && patch.options.immutable === false)) {
      throw new ApiError(403, `Role ${id} is immutable and cannot be modified.`, 'ResourceUpdateForbidden');
    }
    const values: Record<string, unknown> = {};
    if (patch.name !== undefined) values.name = patch.name;
    if (patch.description !== undefined) values.description = patch.description;
    if (patch.options !== undefined) {
      const o = { ...cur.options };
      for (const [k, v] of Object.entries(patch.options as Record<string, unknown>)) {
        if (v === null) delete o[k];
        else o[k] = v;
      }
      values.options = JSON.stringify(o);
    }
    const extra = { ...cur.extra };
    for (const [k, v] of Object.entries(patch))
      if (!['id', 'name', 'description', 'domain_id', 'options', 'links'].includes(k)) extra[k] = v;
    values.extra = JSON.stringify(extra);
    await storing('role', `Duplicate entry found with name ${patch.name}`, async () => {
      await this.b.db.updateTable('role').set(values).where('id', '=', id).execute();
    });
    this.b.changed();
    this.b.notify('role', 'updated', id);
    return this.getRole(id);
  }
  async deleteRole(id: string) {
    const cur = await this.getRole(id);
    if (cur.options.immutable)
      throw new ApiError(403, `Role ${id} is immutable and cannot be deleted.`, 'ResourceDeleteForbidden');
    await this.b.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('assignment').where('role_id', '=', id).execute();
      await tx
        .deleteFrom('implied_role')
        .where((eb) => eb.or([eb('prior_role_id', '=', id), eb('implied_role_id', '=', id)]))
        .execute();
      await tx.deleteFrom('role').where('id', '=', id).execute();
    });
    this.b.changed();
    this.b.notify('role', 'deleted', id);
  }

  // ---- implied roles ----

  async implies(): Promise<Map<string, string[]>> {
    if (!this.impliesCache) {
      const m = new Map<string, string[]>();
      for (const r of await this.b.db.selectFrom('implied_role').selectAll().execute()) {
        const l = m.get(r.prior_role_id) ?? [];
        l.push(r.implied_role_id);
        m.set(r.prior_role_id, l);
      }
      this.impliesCache = m;
    }
    return this.impliesCache;
  }
  async createImplied(prior: string, implied: string) {
    const pri = await this.getRole(prior);
    const imp = await this.getRole(implied);
    // Keystone's [assignment] prohibited_implied_role defaults to ['admin'].
    if (imp.name === 'admin')
      throw new ApiError(403, `${implied} is not allowed to be an implied role.`, 'InvalidImpliedRole');
    if (pri.domain_id === null && imp.domain_id)
      throw new ApiError(403, 'Global role cannot imply a domain-specific role.', 'InvalidImpliedRole');
    // A cycle would make every role imply itself.
    const graph = await this.implies();
    const seen = new Set<string>();
    const stack = [implied];
    while (stack.length) {
      const r = stack.pop()!;
      if (r === prior)
        throw new ApiError(400, `Role ${implied} cannot imply ${prior}: it would create a cycle.`, 'ValidationError');
      if (seen.has(r)) continue;
      seen.add(r);
      stack.push(...(graph.get(r) ?? []));
    }
    try {
      await this.b.db.insertInto('implied_role').values({ prior_role_id: prior, implied_role_id: implied }).execute();
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
    }
    this.b.changed();
  }
  async checkImplied(prior: string, implied: string) {
    await this.getRole(prior);
    await this.getRole(implied);
    if (!((await this.implies()).get(prior) ?? []).includes(implied))
      throw new ApiError(404, `${prior} does not imply ${implied}.`, 'ImpliedRoleNotFound');
  }
  async deleteImplied(prior: string, implied: string) {
    await this.checkImplied(prior, implied);
    await this.b.db
      .deleteFrom('implied_role')
      .where('prior_role_id', '=', prior)
      .where('implied_role_id', '=', implied)
      .execute();
    this.b.changed();
  }

  /** The roles plus every role they imply, transitively; each implied one remembers its prior. */
  async expandImplied(roleIds: string[]): Promise<Array<{ id: string; prior?: string }>> {
    const graph = await this.implies();
    const out: Array<{ id: string; prior?: string }> = [];
    const seen = new Set<string>();
    const visit = (id: string, prior?: string) => {
      const key = `${id}/${prior ?? ''}`;
      if (seen.has(key)) return;
      seen.add(key);
      out.push({ id, prior });
      for (const next of graph.get(id) ?? []) visit(next, id);
    };
    for (const r of roleIds) visit(r);
    return out;
  }

  // ---- assignments ----

  async grant(a: Assignment) {
    await this.getRole(a.role_id);
    try {
      await this.b.db
        .insertInto('assignment')
        .values({ ...a, inherited: int(a.inherited) })
        .execute();
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
    }
    this.b.changed();
  }
  async check(a: Assignment): Promise<boolean> {
    return !!(await this.b.db
      .selectFrom('assignment')
      .select('role_id')
      .where((eb) => eb.and(assignmentRow(a)))
      .executeTakeFirst());
  }
  async revoke(a: Assignment) {
    if (!(await this.check(a))) {
      throw new ApiError(
        404,
        `Could not find role assignment with role: ${a.role_id}, user or group: ${a.actor_id}, project, domain, or system: ${a.target_id}.`,
        'RoleAssignmentNotFound',
      );
    }
    await this.b.db
      .deleteFrom('assignment')
      .where((eb) => eb.and(assignmentRow(a)))
      .execute();
    this.b.changed();
  }
  async listDirect(f: {
    type?: AssignmentType[];
    actorIds?: string[];
    targetIds?: string[];
    roleId?: string;
    inherited?: boolean;
  }): Promise<Assignment[]> {
    let q = this.b.db.selectFrom('assignment').selectAll();
    if (f.type) q = q.where('type', 'in', f.type);
    if (f.actorIds) {
      if (!f.actorIds.length) return [];
      q = q.where('actor_id', 'in', f.actorIds);
    }
    if (f.targetIds) {
      if (!f.targetIds.length) return [];
      q = q.where('target_id', 'in', f.targetIds);
    }
    if (f.roleId) q = q.where('role_id', '=', f.roleId);
    if (f.inherited !== undefined) q = q.where('inherited', '=', int(f.inherited));
    return (await q.execute()).map((r) => ({ ...r, type: r.type as AssignmentType, inherited: bool(r.inherited) }));
  }

  /** Role ids a user holds on a project (direct, via groups, inherited from ancestors and domain), implied roles included, domain-specific roles dropped. */
  async rolesOnProject(userId: string, projectId: string): Promise<string[]> {
    const groups = await this.users.groupIdsOf(userId);
    const actors = [userId, ...groups];
    const direct = await this.listDirect({
      actorIds: actors,
      targetIds: [projectId],
      type: ['UserProject', 'GroupProject'],
      inherited: false,
    });
    const ancestors = (await this.resource.parents(projectId)).map((p) => p.id);
    const inherited = await this.listDirect({ actorIds: actors, targetIds: ancestors, inherited: true });
    return this.finish([...direct, ...inherited].map((a) => a.role_id));
  }
  async rolesOnDomain(userId: string, domainId: string): Promise<string[]> {
    const groups = await this.users.groupIdsOf(userId);
    const direct = await this.listDirect({
      actorIds: [userId, ...groups],
      targetIds: [domainId],
      type: ['UserDomain', 'GroupDomain'],
      inherited: false,
    });
    return this.finish(direct.map((a) => a.role_id));
  }
  async rolesOnSystem(userId: string): Promise<string[]> {
    const groups = await this.users.groupIdsOf(userId);
    const direct = await this.listDirect({
      actorIds: [userId, ...groups],
      targetIds: [SYSTEM_TARGET],
      type: ['UserSystem', 'GroupSystem'],
    });
    return this.finish(direct.map((a) => a.role_id));
  }
  private async finish(roleIds: string[]): Promise<string[]> {
    const roles = await this.roles();
    const all = new Set((await this.expandImplied([...new Set(roleIds)])).map((r) => r.id));
    return [...all].filter((id) => roles.get(id) && roles.get(id)!.domain_id === null);
  }

  /** Projects where a user has any role (for /v3/auth/projects and /v3/users/{id}/projects). */
  async projectIdsForUser(userId: string): Promise<string[]> {
    const groups = await this.users.groupIdsOf(userId);
    const all = await this.listDirect({ actorIds: [userId, ...groups] });
    const ids = new Set<string>();
    for (const a of all) {
      if (a.type.endsWith('Project') && !a.inherited) ids.add(a.target_id);
      if (a.inherited && (a.type.endsWith('Project') || a.type.endsWith('Domain'))) {
        for (const p of await this.resource.subtree(a.target_id)) ids.add(p.id);
      }
    }
    return [...ids];
  }
  async domainIdsForUser(userId: string): Promise<string[]> {
    const groups = await this.users.groupIdsOf(userId);
    const all = await this.listDirect({
      actorIds: [userId, ...groups],
      type: ['UserDomain', 'GroupDomain'],
      inherited: false,
    });
    return [...new Set(all.map((a) => a.target_id))];
  }

  /** /v3/role_assignments: direct rows, or with `effective` the expanded ones. */
  async listAssignments(f: {
    userId?: string;
    groupId?: string;
    roleId?: string;
    projectId?: string;
    domainId?: string;
    system?: boolean;
    inheritedTo?: boolean;
    effective: boolean;
    includeSubtree: boolean;
  }): Promise<EffectiveAssignment[]> {
    const rows = await this.listDirect({});
    let out: EffectiveAssignment[] = [];
    const base = (a: Assignment): EffectiveAssignment => {
      const e: EffectiveAssignment = { roleId: a.role_id, inherited: a.inherited, source: a };
      if (a.type.startsWith('User')) e.userId = a.actor_id;
      else e.groupId = a.actor_id;
      if (a.type.endsWith('Project')) e.projectId = a.target_id;
      else if (a.type.endsWith('Domain')) e.domainId = a.target_id;
      else e.system = true;
      return e;
    };
    if (!f.effective) {
      out = rows.map(base);
    } else {
      for (const a of rows) {
        let expanded: EffectiveAssignment[] = [base(a)];
        // inherited assignments apply to every project below their target, not to the target itself
        if (a.inherited) {
          const subtree = await this.resource.subtree(a.target_id);
          expanded = subtree.map((p) => ({ ...base(a), projectId: p.id, domainId: undefined, inherited: false }));
        }
        if (a.type.startsWith('Group')) {
          const members = await this.users.memberIds(a.actor_id);
          expanded = expanded.flatMap((e) =>
            members.map((m) => ({ ...e, groupId: undefined, userId: m, viaGroup: a.actor_id })),
          );
        }
        out.push(...expanded);
      }
      const roles = await this.roles();
      const withImplied: EffectiveAssignment[] = [];
      for (const e of out) {
        for (const r of await this.expandImplied([e.roleId])) {
          if (roles.get(r.id)?.domain_id) continue;
          withImplied.push({ ...e, roleId: r.id, priorRoleId: r.prior });
        }
      }
      out = withImplied;
    }
    let projectScope: Set<string> | undefined;
    if (f.projectId) {
      projectScope = new Set([f.projectId]);
      if (f.includeSubtree) for (const p of await this.resource.subtree(f.projectId)) projectScope.add(p.id);
    }
    out = out.filter(
      (e) =>
        (f.userId === undefined || e.userId === f.userId) &&
        (f.groupId === undefined || e.groupId === f.groupId) &&
        (f.roleId === undefined || e.roleId === f.roleId) &&
        (!projectScope || (e.projectId !== undefined && projectScope.has(e.projectId))) &&
        (f.domainId === undefined || e.domainId === f.domainId) &&
        (!f.system || e.system) &&
        (f.inheritedTo === undefined || e.inherited === f.inheritedTo),
    );
    // Keystone de-duplicates the same role on the same actor and scope.
    const seen = new Set<string>();
    return out.filter((e) => {
      const k = [
        e.roleId,
        e.userId,
        e.groupId,
        e.projectId,
        e.domainId,
        e.system,
        e.inherited,
        e.priorRoleId,
        e.viaGroup,
      ].join('|');
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  }
}
