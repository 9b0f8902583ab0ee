// Regions, services and endpoints, and the catalog every token carries.
import { ApiError, badRequest } from '../core/errors.ts';
import { bool, int, isUniqueViolation, json } from '../core/db.ts';
import { IdentityBackend, newId, notFound, type Patch } from './backend.ts';
import type { Selectable } from 'kysely';
import type { EndpointTable, RegionTable, ServiceTable } from './db/schema.ts';
import { pyRepr } from '../core/python.ts';

export interface Region {
  id: string;
  description: string;
  parent_region_id: string | null;
  extra: Record<string, unknown>;
}
export interface Service {
  id: string;
  type: string;
  enabled: boolean;
  name?: string;
  description?: string;
  extra: Record<string, unknown>;
}
export interface Endpoint {
  id: string;
  service_id: string;
  interface: string;
  region_id: string | null;
  url: string;
  enabled: boolean;
  extra: Record<string, unknown>;
}
export interface CatalogEntry {
  id: string;
  type: string;
  name: string;
  endpoints: Array<{ id: string; interface: string; region_id: string | null; region: string | null; url: string }>;
}

export const INTERFACES = ['public', 'internal', 'admin'];

export class CatalogManager {
  private catalogCache?: { services: Service[]; endpoints: Endpoint[] };
  /** Built catalogs by project and user (every token body carries one); read-only to callers. */
  private built = new Map<string, CatalogEntry[]>();
  constructor(private b: IdentityBackend) {
    b.onChange(() => {
      this.catalogCache = undefined;
      this.built.clear();
    });
  }

  // ---- regions ----
  private toRegion(r: Selectable<RegionTable>): Region {
    return {
      id: r.id,
      description: r.description ?? '',
      parent_region_id: r.parent_region_id ?? null,
      extra: json(r.extra, {}),
    };
  }
  async listRegions(parent?: string) {
    let q = this.b.db.selectFrom('region').selectAll();
    if (parent !== undefined) q = q.where('parent_region_id', '=', parent);
    return (await q.orderBy('id').execute()).map((r) => this.toRegion(r));
  }
  async getRegion(id: string) {
    const r = await this.b.db.selectFrom('region').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) throw notFound('region', id);
    return this.toRegion(r);
  }
  private async assertParent(id: string, parent: string | null | undefined) {
    if (!parent) return;
    if (parent === id)
      throw badRequest(
        `The specified parent region ${parent} would create a circular region hierarchy.`,
        'CircularRegionHierarchyError',
      );
    let cur: string | null = parent;
    const seen = new Set<string>();
    while (cur) {
      if (cur === id || seen.has(cur))
        throw badRequest(
          `The specified parent region ${parent} would create a circular region hierarchy.`,
          'CircularRegionHierarchyError',
        );
      seen.add(cur);
      const row = await this.b.db
        .selectFrom('region')
        .select('parent_region_id')
        .where('id', '=', cur)
        .executeTakeFirst();
      if (!row) throw badRequest(`The specified parent region ${parent} could not be found.`, 'ValidationError');
      cur = row.parent_region_id;
    }
  }
  async createRegion(body: {
    id?: string;
    description?: string;
    parent_region_id?: string | null;
    extra: Record<string, unknown>;
  }) {
    const id = body.id ?? newId();
    await this.assertParent(id, body.parent_region_id);
    try {
      await this.b.db
        .insertInto('region')
        .values({
          id,
          description: body.description ?? '',
          parent_region_id: body.parent_region_id ?? null,
          extra: JSON.stringify(body.extra),
        })
        .execute();
    } catch (e) {
      if (isUniqueViolation(e))
        throw new ApiError(409, `Conflict occurred attempting to store region - Duplicate ID, ${id}.`, 'Conflict');
      throw e;
    }
    this.b.notify('region', 'created', id);
    return this.getRegion(id);
  }
  async updateRegion(id: string, patch: Patch<{ description?: string | null; parent_region_id?: string | null }>) {
    const cur = await this.getRegion(id);
    if (patch.id !== undefined && patch.id !== id)
      throw badRequest('Update of `id` is not allowed.', 'ValidationError');
    if (patch.parent_region_id !== undefined) await this.assertParent(id, patch.parent_region_id);
    const extra = { ...cur.extra };
    for (const [k, v] of Object.entries(patch))
      if (!['id', 'description', 'parent_region_id', 'links'].includes(k)) extra[k] = v;
    await this.b.db
      .updateTable('region')
      .set({
        ...(patch.description !== undefined ? { description: patch.description } : {}),
        ...(patch.parent_region_id !== undefined ? { parent_region_id: patch.parent_region_id } : {}),
        extra: JSON.stringify(extra),
      })
      .where('id', '=', id)
      .execute();
    this.b.changed();
    return this.getRegion(id);
  }
  async deleteRegion(id: string) {
    await this.getRegion(id);
    const child = await this.b.db
      .selectFrom('region')
      .select('id')
      .where('parent_region_id', '=', id)
      .executeTakeFirst();
    if (child)
      throw new ApiError(
        403,
        `Unable to delete region ${id} because it or its child regions have associated endpoints.`,
        'RegionDeletionError',
      );
    const ep = await this.b.db.selectFrom('endpoint').select('id').where('region_id', '=', id).executeTakeFirst();
    if (ep)
      throw new ApiError(
        403,
        `Unable to delete region ${id} because it or its child regions have associated endpoints.`,
        'RegionDeletionError',
      );
    await this.b.db.deleteFrom('region').where('id', '=', id).execute();
    this.b.changed();
  }

  // ---- services ----
  private toService(r: Selectable<ServiceTable>): Service {
    const extra = json<Record<string, unknown>>(r.extra, {});
    return { id: r.id, type: r.type, enabled: bool(r.enabled), extra };
  }
  async listServices(f: { type?: string; name?: string } = {}) {
    let q = this.b.db.selectFrom('service').selectAll();
    if (f.type) q = q.where('type', '=', f.type);
    let out = (await q.orderBy('type').execute()).map((r) => this.toService(r));
    if (f.name) out = out.filter((s) => s.extra.name === f.name);
    return out;
  }
  async getService(id: string) {
    const r = await this.b.db.selectFrom('service').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) throw notFound('service', id);
    return this.toService(r);
  }
  async createService(body: { type: string; enabled?: boolean; extra: Record<string, unknown> }) {
    const id = newId();
    await this.b.db
      .insertInto('service')
      .values({ id, type: body.type, enabled: int(body.enabled ?? true), extra: JSON.stringify(body.extra) })
      .execute();
    this.b.changed();
    this.b.notify('service', 'created', id);
    return this.getService(id);
  }
  async updateService(id: string, patch: Patch<{ type?: string; enabled?: boolean }>) {
    const cur = await this.getService(id);
    const extra = { ...cur.extra };
    for (const [k, v] of Object.entries(patch)) if (!['id', 'type', 'enabled', 'links'].includes(k)) extra[k] = v;
    await this.b.db
      .updateTable('service')
      .set({
        ...(patch.type !== undefined ? { type: patch.type } : {}),
        ...(patch.enabled !== undefined ? { enabled: int(patch.enabled) } : {}),
        extra: JSON.stringify(extra),
      })
      .where('id', '=', id)
      .execute();
    this.b.changed();
    return this.getService(id);
  }
  async deleteService(id: string) {
    await this.getService(id);
    await this.b.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('endpoint').where('service_id', '=', id).execute();
      await tx.deleteFrom('service').where('id', '=', id).execute();
    });
    this.b.changed();
  }

  // ---- endpoints ----
  private toEndpoint(r: Selectable<EndpointTable>): Endpoint {
    return {
      id: r.id,
      service_id: r.service_id,
      interface: r.interface,
      region_id: r.region_id ?? null,
      url: r.url,
      enabled: bool(r.enabled),
      extra: json(r.extra, {}),
    };
  }
  async listEndpoints(f: { interface?: string; serviceId?: string; regionId?: string } = {}) {
    let q = this.b.db.selectFrom('endpoint').selectAll();
    if (f.interface) q = q.where('interface', '=', f.interface);
    if (f.serviceId) q = q.where('service_id', '=', f.serviceId);
    let rows = (await q.execute()).map((r) => this.toEndpoint(r));
    if (f.regionId) {
      // A region filter matches the region and its child regions, as upstream.
      const regions = await this.listRegions();
      const wanted = new Set([f.regionId]);
      let grew = true;
      while (grew) {
        grew = false;
        for (const r of regions)
          if (r.parent_region_id && wanted.has(r.parent_region_id) && !wanted.has(r.id)) {
            wanted.add(r.id);
            grew = true;
          }
      }
      rows = rows.filter((e) => e.region_id && wanted.has(e.region_id));
    }
    return rows;
  }
  async getEndpoint(id: string) {
    const r = await this.b.db.selectFrom('endpoint').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) throw notFound('endpoint', id);
    return this.toEndpoint(r);
  }
  private async checkEndpoint(e: { service_id?: string; region_id?: string | null; interface?: string; url?: string }) {
    if (e.interface !== undefined && !INTERFACES.includes(e.interface))
      throw badRequest(
        `Invalid input for field 'interface': ${pyRepr(e.interface)} does not match '^public$|^internal$|^admin$'`,
        'ValidationError',
      );
    if (e.service_id !== undefined) {
      const s = await this.b.db.selectFrom('service').select('id').where('id', '=', e.service_id).executeTakeFirst();
      if (!s) throw badRequest(`Could not find service: ${e.service_id}.`, 'ValidationError');
    }
    if (e.region_id) {
      // Upstream creates a region an endpoint names when it does not exist yet (legacy behaviour clients rely on).
      const r = await this.b.db.selectFrom('region').select('id').where('id', '=', e.region_id).executeTakeFirst();
      if (!r) await this.createRegion({ id: e.region_id, description: '', extra: {} });
    }
  }
  async createEndpoint(body: {
    service_id: string;
    interface: string;
    region_id?: string | null;
    url: string;
    enabled?: boolean;
    extra: Record<string, unknown>;
  }) {
    await this.checkEndpoint(body);
    const id = newId();
    await this.b.db
      .insertInto('endpoint')
      .values({
        id,
        service_id: body.service_id,
        interface: body.interface,
        region_id: body.region_id ?? null,
        url: body.url,
        enabled: int(body.enabled ?? true),
        extra: JSON.stringify(body.extra),
      })
      .execute();
    this.b.changed();
    return this.getEndpoint(id);
  }
  async updateEndpoint(
    id: string,
    patch: Patch<{
      enabled?: boolean;
      service_id?: string;
      region_id?: string | null;
      interface?: string;
      url?: string;
    }>,
  ) {
    const cur = await this.getEndpoint(id);
    await this.checkEndpoint(patch);
    const extra = { ...cur.extra };
    for (const [k, v] of Object.entries(patch))
      if (!['id', 'service_id', 'interface', 'region_id', 'region', 'url', 'enabled', 'links'].includes(k))
        extra[k] = v;
    const values: Record<string, unknown> = { extra: JSON.stringify(extra) };
    for (const k of ['service_id', 'interface', 'url']) if (patch[k] !== undefined) values[k] = patch[k];
    if (patch.region_id !== undefined) values.region_id = patch.region_id;
    if (patch.enabled !== undefined) values.enabled = int(patch.enabled);
    await this.b.db.updateTable('endpoint').set(values).where('id', '=', id).execute();
    this.b.changed();
    return this.getEndpoint(id);
  }
  async deleteEndpoint(id: string) {
    await this.getEndpoint(id);
    await this.b.db.deleteFrom('endpoint').where('id', '=', id).execute();
    await this.b.db.deleteFrom('project_endpoint').where('endpoint_id', '=', id).execute();
    this.b.changed();
  }

  /** The v3 catalog for a token: enabled services with their enabled endpoints, URLs substituted. */
  async catalog(projectId?: string, userId?: string): Promise<CatalogEntry[]> {
    const key = `${projectId ?? ''}/${userId ?? ''}`;
    const done = this.built.get(key);
    if (done) return done;
    if (!this.catalogCache) {
      this.catalogCache = { services: await this.listServices(), endpoints: await this.listEndpoints() };
    }
    const { services, endpoints } = this.catalogCache;
    const subst = (url: string) =>
      url
        .replace(/\$\((tenant_id|project_id)\)s|%\((tenant_id|project_id)\)s/g, projectId ?? '$(project_id)s')
        .replace(/\$\(user_id\)s|%\(user_id\)s/g, userId ?? '$(user_id)s');
    const entries = services
      .filter((s) => s.enabled)
      .map((s) => ({
        endpoints: endpoints
          .filter((e) => e.service_id === s.id && e.enabled)
          .filter((e) => projectId || !/(tenant_id|project_id)\)s/.test(e.url))
          .map((e) => ({
            id: e.id,
            interface: e.interface,
            region_id: e.region_id,
            url: subst(e.url),
            region: e.region_id,
          })),
        id: s.id,
        type: s.type,
        name: (s.extra.name as string) ?? '',
      }));
    if (this.built.size >= 1000) this.built.clear();
    this.built.set(key, entries);
    return entries;
  }
}
