// Domains and projects (Keystone's resource manager). A domain is a project row with
// is_domain = 1 whose domain_id is the root marker.
import { ApiError, badRequest, forbidden } from '../core/errors.ts';
import { bool, int, json, now } from '../core/db.ts';
import type { Transaction } from 'kysely';
import type { IdentityDb } from './db/schema.ts';
import { IdentityBackend, ROOT_DOMAIN, newId, notFound, storing, type Patch } from './backend.ts';

export interface ProjectRow {
  id: string;
  name: string;
  domain_id: string;
  parent_id: string | null;
  is_domain: number;
  enabled: number;
  description: string | null;
  extra: string | null;
  options: string | null;
  created_at: string | null;
}
export interface Project {
  id: string;
  name: string;
  domain_id: string | null;
  parent_id: string | null;
  is_domain: boolean;
  enabled: boolean;
  description: string;
  tags: string[];
  options: Record<string, unknown>;
  extra: Record<string, unknown>;
}

export const MAX_PROJECT_TREE_DEPTH = 5;

/** What else in identity belongs to a project and goes with it (as Keystone's project-deleted callbacks do). */
async function deleteProjectReferences(tx: Transaction<IdentityDb>, ids: string[]) {
  await tx.deleteFrom('project_endpoint').where('project_id', 'in', ids).execute();
  await tx.deleteFrom('project_endpoint_group').where('project_id', 'in', ids).execute();
  await tx.deleteFrom('credential').where('project_id', 'in', ids).execute();
  await tx.deleteFrom('application_credential').where('project_id', 'in', ids).execute();
  await tx.deleteFrom('limit').where('project_id', 'in', ids).execute();
}

export class ResourceManager {
  /** Projects and domains by id, dropped on any identity change (token validation reads them on every call). */
  private cache = new Map<string, Project>();
  constructor(private b: IdentityBackend) {
    b.onChange(() => this.cache.clear());
  }

  private async tags(ids: string[]): Promise<Map<string, string[]>> {
    const m = new Map<string, string[]>();
    if (!ids.length) return m;
    const rows = await this.b.db
      .selectFrom('project_tag')
      .select(['project_id', 'name'])
      .where('project_id', 'in', ids)
      .execute();
    for (const r of rows) {
      const l = m.get(r.project_id) ?? [];
      l.push(r.name);
      m.set(r.project_id, l);
    }
    return m;
  }

  private toProject(r: ProjectRow, tags: string[]): Project {
    return {
      id: r.id,
      name: r.name,
      domain_id: r.domain_id === ROOT_DOMAIN ? null : r.domain_id,
      parent_id: r.parent_id,
      is_domain: bool(r.is_domain),
      enabled: bool(r.enabled),
      description: r.description ?? '',
      tags: tags.sort(),
      options: json(r.options, {}),
      extra: json(r.extra, {}),
    };
  }

  async find(id: string): Promise<Project | undefined> {
    const hit = this.cache.get(id);
    if (hit) return hit;
    const r = await this.b.db.selectFrom('project').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) return undefined;
    const p = this.toProject(r as ProjectRow, (await this.tags([id])).get(id) ?? []);
    if (this.cache.size > 10000) this.cache.clear();
    this.cache.set(id, p);
    return p;
  }

  async getProject(id: string): Promise<Project> {
    const p = await this.find(id);
    if (!p) throw notFound('project', id);
    return p;
  }

  async getDomain(id: string): Promise<Project> {
    const p = await this.find(id);
    if (!p || !p.is_domain) throw notFound('domain', id);
    return p;
  }

  async findDomainByName(name: string): Promise<Project | undefined> {
    const r = await this.b.db
      .selectFrom('project')
      .selectAll()
      .where('name', '=', name)
      .where('domain_id', '=', ROOT_DOMAIN)
      .executeTakeFirst();
    return r ? this.toProject(r as ProjectRow, []) : undefined;
  }

  async findProjectByName(name: string, domainId: string): Promise<Project | undefined> {
    const r = await this.b.db
      .selectFrom('project')
      .selectAll()
      .where('name', '=', name)
      .where('domain_id', '=', domainId)
      .where('is_domain', '=', 0)
      .executeTakeFirst();
    return r ? this.toProject(r as ProjectRow, (await this.tags([r.id])).get(r.id) ?? []) : undefined;
  }

  async list(filter: {
    isDomain?: boolean;
    domainId?: string;
    parentId?: string;
    name?: string;
    enabled?: boolean;
    ids?: string[];
  }): Promise<Project[]> {
    let q = this.b.db.selectFrom('project').selectAll();
    if (filter.isDomain !== undefined) q = q.where('is_domain', '=', int(filter.isDomain));
    if (filter.domainId !== undefined) q = q.where('domain_id', '=', filter.domainId);
    if (filter.parentId !== undefined) q = q.where('parent_id', '=', filter.parentId);
    if (filter.name !== undefined) q = q.where('name', '=', filter.name);
    if (filter.enabled !== undefined) q = q.where('enabled', '=', int(filter.enabled));
    if (filter.ids) {
      if (!filter.ids.length) return [];
      q = q.where('id', 'in', filter.ids);
    }
    const rows = (await q.orderBy('name').execute()) as ProjectRow[];
    const tags = await this.tags(rows.map((r) => r.id));
    return rows.map((r) => this.toProject(r as ProjectRow, tags.get(r.id) ?? []));
  }

  /** Ancestors of a project, nearest first, up to (not including) its domain. */
  async parents(id: string): Promise<Project[]> {
    const out: Project[] = [];
    let p = await this.find(id);
    while (p && p.parent_id) {
      const parent = await this.find(p.parent_id);
      if (!parent) break;
      out.push(parent);
      if (parent.is_domain) break;
      p = parent;
    }
    return out;
  }

  /** Every project below a project or domain, breadth first. */
  async subtree(id: string): Promise<Project[]> {
    const out: Project[] = [];
    let frontier = [id];
    while (frontier.length) {
      const rows = (await this.b.db
        .selectFrom('project')
        .selectAll()
        .where('parent_id', 'in', frontier)
        .where('is_domain', '=', 0)
        .execute()) as ProjectRow[];
      const tags = await this.tags(rows.map((r) => r.id));
      const ps = rows.map((r) => this.toProject(r as ProjectRow, tags.get(r.id) ?? []));
      out.push(...ps);
      frontier = ps.map((p) => p.id);
    }
    return out;
  }

  async createDomain(body: {
    id?: string;
    name: string;
    description?: string;
    enabled?: boolean;
    tags?: string[];
    options?: Record<string, unknown>;
    extra?: Record<string, unknown>;
  }): Promise<Project> {
    const id = body.id ?? newId();
    await storing('domain', `Duplicate entry found with name ${body.name}`, () =>
      this.insert(id, ROOT_DOMAIN, null, true, body),
    );
    this.b.notify('domain', 'created', id);
    return this.getDomain(id);
  }

  async createProject(
    body: {
      id?: string;
      name: string;
      domain_id?: string | null;
      parent_id?: string | null;
      is_domain?: boolean;
      description?: string;
      enabled?: boolean;
      tags?: string[];
      options?: Record<string, unknown>;
      extra?: Record<string, unknown>;
    },
    tokenDomainId: string,
  ): Promise<Project> {
    if (body.is_domain) {
      if (body.parent_id) throw badRequest('A project acting as a domain cannot have a parent.', 'ValidationError');
      return this.createDomain({ ...body, name: body.name });
    }
    let domainId = body.domain_id ?? undefined;
    let parentId = body.parent_id ?? undefined;
    if (parentId) {
      const parent = await this.find(parentId);
      if (!parent) throw new ApiError(404, `Could not find project: ${parentId}.`, 'ProjectNotFound');
      if (parent.is_domain) {
        domainId ??= parent.id;
        if (domainId !== parent.id)
          throw badRequest(
            'Cannot create project, the parent (domain) does not match the domain_id.',
            'ValidationError',
          );
      } else {
        domainId ??= parent.domain_id!;
        if (domainId !== parent.domain_id)
          throw badRequest(
            `Cannot create project, since it specifies its domain_id ${domainId}, but specifies a parent in a different domain (${parent.domain_id}).`,
            'ValidationError',
          );
        const depth = (await this.parents(parent.id)).filter((p) => !p.is_domain).length + 2;
        if (depth > MAX_PROJECT_TREE_DEPTH) throw forbidden(`Max hierarchy depth reached for ${parent.id} branch.`);
      }
      if (!parent.enabled && !parent.is_domain)
        throw forbidden(`Cannot create project, since its parent (${parent.id}) is disabled.`);
    }
    domainId ??= tokenDomainId;
    const domain = await this.find(domainId);
    if (!domain || !domain.is_domain) throw new ApiError(404, `Could not find domain: ${domainId}.`, 'DomainNotFound');
    parentId ??= domainId;
    const id = body.id ?? newId();
    await storing(
      'project',
      `it is not permitted to have two projects with either the same name or same id in the same domain: name is ${body.name}, project id ${id}`,
      () => this.insert(id, domainId, parentId, false, body),
    );
    this.b.notify('project', 'created', id);
    return this.getProject(id);
  }

  /** The project (or domain: a project acting as one) row and its tags, in one transaction. */
  private async insert(
    id: string,
    domainId: string,
    parentId: string | null,
    isDomain: boolean,
    body: { name: string; description?: string; enabled?: boolean; tags?: string[]; options?: object; extra?: object },
  ) {
    await this.b.db.transaction().execute(async (tx) => {
      await tx
        .insertInto('project')
        .values({
          id,
          name: body.name,
          domain_id: domainId,
          parent_id: parentId,
          is_domain: int(isDomain),
          enabled: int(body.enabled ?? true),
          description: body.description ?? '',
          extra: JSON.stringify(body.extra ?? {}),
          options: JSON.stringify(body.options ?? {}),
          created_at: now(),
        })
        .execute();
      for (const t of new Set(body.tags ?? []))
        await tx.insertInto('project_tag').values({ project_id: id, name: t }).execute();
    });
  }

  async update(
    id: string,
    patch: Patch<{ enabled?: boolean; name?: string; description?: string | null }>,
    kind: 'project' | 'domain',
  ): Promise<Project> {
    const cur = kind === 'domain' ? await this.getDomain(id) : await this.getProject(id);
    if ('domain_id' in patch && patch.domain_id !== cur.domain_id)
      throw badRequest('Update of `domain_id` is not allowed.', 'ValidationError');
    if ('is_domain' in patch && patch.is_domain !== cur.is_domain)
      throw badRequest('Update of `is_domain` is not allowed.', 'ValidationError');
    if ('parent_id' in patch && patch.parent_id !== cur.parent_id)
      throw forbidden('Update of `parent_id` is not allowed.');
    const values: Record<string, unknown> = {};
    if (patch.name !== undefined) values.name = patch.name;
    if (patch.description !== undefined) values.description = patch.description ?? '';
    if (patch.enabled !== undefined) {
      values.enabled = int(patch.enabled);
      if (!patch.enabled && !cur.is_domain) {
        const kids = await this.b.db
          .selectFrom('project')
          .select('id')
          .where('parent_id', '=', id)
          .where('enabled', '=', 1)
          .execute();
        if (kids.length) throw forbidden(`Cannot disable project ${id} since its subtree contains enabled projects.`);
      }
      if (patch.enabled && !cur.is_domain && cur.parent_id) {
        const parent = await this.find(cur.parent_id);
        if (parent && !parent.is_domain && !parent.enabled)
          throw forbidden(`Cannot enable project ${id} since it has disabled parents: ${parent.id}.`);
      }
    }
    if (patch.options !== undefined) values.options = JSON.stringify({ ...cur.options, ...patch.options });
    const known = new Set([
      'id',
      'name',
      'description',
      'enabled',
      'domain_id',
      'parent_id',
      'is_domain',
      'tags',
      'options',
      'links',
    ]);
    const extra = { ...cur.extra };
    for (const [k, v] of Object.entries(patch)) if (!known.has(k)) extra[k] = v;
    values.extra = JSON.stringify(extra);
    await storing(kind, `Duplicate entry found with name ${patch.name}`, async () => {
      await this.b.db.transaction().execute(async (tx) => {
        await tx.updateTable('project').set(values).where('id', '=', id).execute();
        if (Array.isArray(patch.tags)) {
          await tx.deleteFrom('project_tag').where('project_id', '=', id).execute();
          for (const t of new Set<string>(patch.tags))
            await tx.insertInto('project_tag').values({ project_id: id, name: t }).execute();
        }
      });
    });
    if (patch.enabled === false) this.b.notify(kind, 'disabled', id);
    this.b.notify(kind, 'updated', id);
    this.b.changed();
    return this.find(id) as Promise<Project>;
  }

  async deleteProject(id: string): Promise<void> {
    const p = await this.getProject(id);
    if (p.is_domain) return this.deleteDomain(id);
    const kids = await this.b.db.selectFrom('project').select('id').where('parent_id', '=', id).execute();
    if (kids.length)
      throw forbidden(
        `Cannot delete the project ${id} since it is not a leaf in the hierarchy. Use the cascade option if you want to delete a whole subtree.`,
      );
    await this.b.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('assignment').where('target_id', '=', id).execute();
      await tx.deleteFrom('project_tag').where('project_id', '=', id).execute();
      await deleteProjectReferences(tx, [id]);
      await tx.deleteFrom('project').where('id', '=', id).execute();
    });
    this.b.notify('project', 'deleted', id);
    this.b.changed();
  }

  async deleteDomain(id: string): Promise<void> {
    const d = await this.getDomain(id);
    if (d.enabled) throw forbidden('Cannot delete a domain that is enabled, please disable it first.');
    await this.b.db.transaction().execute(async (tx) => {
      const projects = (await tx.selectFrom('project').select('id').where('domain_id', '=', id).execute()).map(
        (r) => r.id,
      );
      const users = (await tx.selectFrom('user').select('id').where('domain_id', '=', id).execute()).map((r) => r.id);
      const groups = (await tx.selectFrom('group').select('id').where('domain_id', '=', id).execute()).map((r) => r.id);
      const roles = (await tx.selectFrom('role').select('id').where('domain_id', '=', id).execute()).map((r) => r.id);
      const targets = [id, ...projects];
      await tx.deleteFrom('assignment').where('target_id', 'in', targets).execute();
      if (users.length || groups.length)
        await tx
          .deleteFrom('assignment')
          .where('actor_id', 'in', [...users, ...groups])
          .execute();
      if (roles.length) await tx.deleteFrom('assignment').where('role_id', 'in', roles).execute();
      if (projects.length) await tx.deleteFrom('project_tag').where('project_id', 'in', projects).execute();
      if (projects.length) await deleteProjectReferences(tx, projects);
      await tx.deleteFrom('project_tag').where('project_id', '=', id).execute();
      await tx.deleteFrom('project').where('domain_id', '=', id).execute();
      if (users.length) await tx.deleteFrom('user').where('id', 'in', users).execute();
      if (groups.length) await tx.deleteFrom('group').where('id', 'in', groups).execute();
      if (roles.length) await tx.deleteFrom('role').where('id', 'in', roles).execute();
      await tx.deleteFrom('domain_config').where('domain_id', '=', id).execute();
      await tx.deleteFrom('project').where('id', '=', id).execute();
    });
    this.b.notify('domain', 'deleted', id);
    this.b.changed();
  }

  async addTag(id: string, tag: string) {
    const p = await this.getProject(id);
    if (p.tags.includes(tag)) return;
    if (p.tags.length >= 80) throw badRequest('The number of tags is over the limit of 80.', 'ValidationError');
    await this.b.db.insertInto('project_tag').values({ project_id: id, name: tag }).execute();
    this.b.changed();
  }
  async removeTag(id: string, tag: string) {
    const p = await this.getProject(id);
    if (!p.tags.includes(tag)) throw new ApiError(404, `Could not find project tag: ${tag}.`, 'ProjectTagNotFound');
    await this.b.db.deleteFrom('project_tag').where('project_id', '=', id).where('name', '=', tag).execute();
    this.b.changed();
  }
}
