// OS-EP-FILTER: endpoint groups (a filter over the catalog's endpoints) and the project
// associations with endpoints and endpoint groups. Upstream only narrows a token's catalog by
// these associations when the endpoint_filter catalog driver is configured, which DevStack does
// not do; Stratus likewise keeps the catalog whole and serves the associations through the API.
import { ApiError, badRequest } from '../core/errors.ts';
import { isUniqueViolation, json } from '../core/db.ts';
import type { CatalogManager, Endpoint } from './catalog.ts';
import type { ResourceManager, Project } from './resource.ts';
import { IdentityBackend, newId } from './backend.ts';
import type { Selectable } from 'kysely';
import type { EndpointGroupTable } from './db/schema.ts';

export interface EndpointGroup {
  id: string;
  name: string;
  description: string | null;
  filters: Record<string, unknown>;
}

export const FILTER_KEYS = ['service_id', 'region_id', 'interface'];

const groupNotFound = (id: string) =>
  new ApiError(404, `Could not find Endpoint Group: ${id}.`, 'EndpointGroupNotFound');
const conflict = (type: string) =>
  new ApiError(409, `Conflict occurred attempting to store ${type} - Duplicate entry.`, 'Conflict');

export class EndpointFilterManager {
  constructor(
    private b: IdentityBackend,
    private catalog: CatalogManager,
    private resource: ResourceManager,
  ) {}

  private static validFilters(filters: unknown) {
    if (!filters || typeof filters !== 'object' || Array.isArray(filters) || !Object.keys(filters).length) {
      throw badRequest('filters field is required and cannot be empty', 'ValidationError');
    }
    for (const k of Object.keys(filters)) {
      if (!FILTER_KEYS.includes(k)) {
        throw badRequest(
          `Expecting to find ${FILTER_KEYS.join(' or ')} in endpoint_group. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.`,
          'ValidationError',
        );
      }
    }
  }

  // ---- endpoint groups ----
  private toGroup(r: Selectable<EndpointGroupTable>): EndpointGroup {
    return { id: r.id, name: r.name, description: r.description ?? null, filters: json(r.filters, {}) };
  }
  async listGroups(name?: string): Promise<EndpointGroup[]> {
    let q = this.b.db.selectFrom('endpoint_group').selectAll();
    if (name !== undefined) q = q.where('name', '=', name);
    return (await q.orderBy('id').execute()).map((r) => this.toGroup(r));
  }
  async getGroup(id: string): Promise<EndpointGroup> {
    const r = await this.b.db.selectFrom('endpoint_group').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) throw groupNotFound(id);
    return this.toGroup(r);
  }
  async createGroup(body: { name: string; description?: string | null; filters: unknown }): Promise<EndpointGroup> {
    EndpointFilterManager.validFilters(body.filters);
    const id = newId();
    await this.b.db
      .insertInto('endpoint_group')
      .values({ id, name: body.name, description: body.description ?? null, filters: JSON.stringify(body.filters) })
      .execute();
    return this.getGroup(id);
  }
  async updateGroup(
    id: string,
    patch: { id?: string; name?: string; description?: string | null; filters?: unknown },
  ): Promise<EndpointGroup> {
    if (patch.filters !== undefined) EndpointFilterManager.validFilters(patch.filters);
    if (patch.id != null && patch.id !== id) throw badRequest('Cannot change ID', 'ValidationError');
    await this.getGroup(id);
    const values: Record<string, unknown> = {};
    if (patch.name !== undefined) values.name = patch.name;
    if (patch.description !== undefined) values.description = patch.description;
    if (patch.filters !== undefined) values.filters = JSON.stringify(patch.filters);
    if (Object.keys(values).length)
      await this.b.db.updateTable('endpoint_group').set(values).where('id', '=', id).execute();
    return this.getGroup(id);
  }
  async deleteGroup(id: string): Promise<void> {
    await this.getGroup(id);
    await this.b.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('project_endpoint_group').where('endpoint_group_id', '=', id).execute();
      await tx.deleteFrom('endpoint_group').where('id', '=', id).execute();
    });
  }

  /** The endpoints whose attributes equal every filter of the group (exact match, as upstream). */
  async endpointsInGroup(id: string): Promise<Endpoint[]> {
    const { filters } = await this.getGroup(id);
    return (await this.catalog.listEndpoints()).filter((e) =>
      Object.entries(filters).every(([k, v]) => (e as unknown as Record<string, unknown>)[k] === v),
    );
  }

  // ---- endpoint group <-> project ----
  async addGroupToProject(groupId: string, projectId: string) {
    try {
      await this.b.db
        .insertInto('project_endpoint_group')
        .values({ endpoint_group_id: groupId, project_id: projectId })
        .execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict('project_endpoint_group');
      throw e;
    }
  }
  async checkGroupInProject(groupId: string, projectId: string) {
    const r = await this.b.db
      .selectFrom('project_endpoint_group')
      .selectAll()
      .where('endpoint_group_id', '=', groupId)
      .where('project_id', '=', projectId)
      .executeTakeFirst();
    if (!r) throw new ApiError(404, 'Endpoint Group Project Association not found', 'NotFound');
  }
  async removeGroupFromProject(groupId: string, projectId: string) {
    await this.checkGroupInProject(groupId, projectId);
    await this.b.db
      .deleteFrom('project_endpoint_group')
      .where('endpoint_group_id', '=', groupId)
      .where('project_id', '=', projectId)
      .execute();
  }
  /** Projects associated with a group (an unknown group has none, as upstream); gone projects are skipped. */
  async projectsForGroup(groupId: string): Promise<Project[]> {
    const rows = await this.b.db
      .selectFrom('project_endpoint_group')
      .select('project_id')
      .where('endpoint_group_id', '=', groupId)
      .orderBy('project_id')
      .execute();
    return this.projects(rows.map((r) => r.project_id));
  }
  async groupsForProject(projectId: string): Promise<EndpointGroup[]> {
    await this.resource.getProject(projectId);
    const rows = await this.b.db
      .selectFrom('project_endpoint_group')
      .select('endpoint_group_id')
      .where('project_id', '=', projectId)
      .execute();
    const ids = rows.map((r) => r.endpoint_group_id);
    if (!ids.length) return [];
    return (
      await this.b.db.selectFrom('endpoint_group').selectAll().where('id', 'in', ids).orderBy('id').execute()
    ).map((r) => this.toGroup(r));
  }

  // ---- endpoint <-> project ----
  async addEndpointToProject(endpointId: string, projectId: string) {
    try {
      await this.b.db
        .insertInto('project_endpoint')
        .values({ endpoint_id: endpointId, project_id: projectId })
        .execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict('project_endpoint');
      throw e;
    }
  }
  async checkEndpointInProject(endpointId: string, projectId: string) {
    const r = await this.b.db
      .selectFrom('project_endpoint')
      .selectAll()
      .where('endpoint_id', '=', endpointId)
      .where('project_id', '=', projectId)
      .executeTakeFirst();
    if (!r) throw new ApiError(404, `Endpoint ${endpointId} not found in project ${projectId}`, 'NotFound');
  }
  async removeEndpointFromProject(endpointId: string, projectId: string) {
    await this.checkEndpointInProject(endpointId, projectId);
    await this.b.db
      .deleteFrom('project_endpoint')
      .where('endpoint_id', '=', endpointId)
      .where('project_id', '=', projectId)
      .execute();
  }
  async projectsForEndpoint(endpointId: string): Promise<Project[]> {
    await this.catalog.getEndpoint(endpointId);
    const rows = await this.b.db
      .selectFrom('project_endpoint')
      .select('project_id')
      .where('endpoint_id', '=', endpointId)
      .orderBy('project_id')
      .execute();
    return this.projects(rows.map((r) => r.project_id));
  }
  /** A project's endpoints: those associated directly plus those of its endpoint groups. */
  async endpointsForProject(projectId: string): Promise<Endpoint[]> {
    await this.resource.getProject(projectId);
    const direct = new Set(
      (
        await this.b.db
          .selectFrom('project_endpoint')
          .select('endpoint_id')
          .where('project_id', '=', projectId)
          .execute()
      ).map((r) => r.endpoint_id as string),
    );
    const all = await this.catalog.listEndpoints();
    const out = new Map<string, Endpoint>();
    for (const e of all) if (direct.has(e.id)) out.set(e.id, e);
    for (const g of await this.groupsForProject(projectId)) {
      for (const e of all)
        if (
          !out.has(e.id) &&
          Object.entries(g.filters).every(([k, v]) => (e as unknown as Record<string, unknown>)[k] === v)
        )
          out.set(e.id, e);
    }
    return [...out.values()];
  }

  private async projects(ids: string[]): Promise<Project[]> {
    const out: Project[] = [];
    for (const id of ids) {
      const p = await this.resource.find(id);
      if (p) out.push(p);
    }
    return out;
  }
}
