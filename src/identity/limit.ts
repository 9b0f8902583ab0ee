// Unified limits: registered limits (a service's default for a resource, per region) and
// limits (a project's or domain's own value for a registered resource). Enforcement belongs
// to the services (oslo.limit); Keystone only stores and validates. The model is "flat".
import { ApiError, badRequest, forbidden } from '../core/errors.ts';
import { newId } from './backend.ts';
import type { IdentityService } from './service.ts';
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { IdentityDb, LimitTable, RegisteredLimitTable } from './db/schema.ts';

/** A registered limit as the API shows it: its row (db/schema.ts), all of it. */
export type RegisteredLimit = RegisteredLimitTable;
/** A project's or domain's limit as the API shows it: its row, all of it. */
export type Limit = LimitTable;

export const LIMIT_MODEL = {
  name: 'flat',
  description: 'Limit enforcement and validation does not take project hierarchy into consideration.',
};

/** Keystone's ValidationError for a reference to something that does not exist. */
const missing = (attribute: string, target: string) =>
  badRequest(
    `Expecting to find ${attribute} in ${target}. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.`,
    'ValidationError',
  );
const duplicate = (kind: string) =>
  new ApiError(409, `Conflict occurred attempting to store ${kind} - Duplicate entry.`, 'Conflict');
const regNotFound = (id: string) =>
  new ApiError(404, `Could not find registered limit for ${id}.`, 'RegisteredLimitNotFound');
const limitNotFound = (id: string) => new ApiError(404, `Could not find limit for ${id}.`, 'LimitNotFound');

export class LimitManager {
  constructor(private s: IdentityService) {}
  private get db() {
    return this.s.db;
  }

  private toRegistered(r: Selectable<RegisteredLimitTable>): RegisteredLimit {
    return {
      id: r.id,
      service_id: r.service_id,
      region_id: r.region_id ?? null,
      resource_name: r.resource_name,
      default_limit: Number(r.default_limit),
      description: r.description ?? null,
    };
  }
  private toLimit(r: Selectable<LimitTable>): Limit {
    return {
      id: r.id,
      project_id: r.project_id ?? null,
      domain_id: r.domain_id ?? null,
      service_id: r.service_id,
      region_id: r.region_id ?? null,
      resource_name: r.resource_name,
      resource_limit: Number(r.resource_limit),
      description: r.description ?? null,
    };
  }

  /** service_id and region_id must exist (limit/core.py _assert_resource_exist); 400 otherwise. */
  private async assertRefs(x: { service_id?: string | null; region_id?: string | null }, target: string) {
    if (x.service_id !== undefined && x.service_id !== null) {
      const row = await this.db.selectFrom('service').select('id').where('id', '=', x.service_id).executeTakeFirst();
      if (!row) throw missing('service_id', target);
    }
    if (x.region_id !== undefined && x.region_id !== null) {
      const row = await this.db.selectFrom('region').select('id').where('id', '=', x.region_id).executeTakeFirst();
      if (!row) throw missing('region_id', target);
    }
  }

  // ---- registered limits ----

  async listRegistered(
    f: { service_id?: string; region_id?: string; resource_name?: string } = {},
  ): Promise<RegisteredLimit[]> {
    let q = this.db.selectFrom('registered_limit').selectAll();
    if (f.service_id !== undefined) q = q.where('service_id', '=', f.service_id);
    if (f.region_id !== undefined) q = q.where('region_id', '=', f.region_id);
    if (f.resource_name !== undefined) q = q.where('resource_name', '=', f.resource_name);
    return (await q.orderBy('id').execute()).map((r) => this.toRegistered(r));
  }
  async getRegistered(id: string): Promise<RegisteredLimit> {
    const r = await this.db.selectFrom('registered_limit').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) throw regNotFound(id);
    return this.toRegistered(r);
  }
  /** The registered limit a (service, region, resource) names; region null matches only null. */
  private async findRegistered(
    db: Kysely<IdentityDb> | Transaction<IdentityDb>,
    serviceId: string,
    regionId: string | null,
    resourceName: string,
    exceptId?: string,
  ): Promise<RegisteredLimit | undefined> {
    let q = db
      .selectFrom('registered_limit')
      .selectAll()
      .where('service_id', '=', serviceId)
      .where('resource_name', '=', resourceName);
    q = regionId === null ? q.where('region_id', 'is', null) : q.where('region_id', '=', regionId);
    if (exceptId) q = q.where('id', '!=', exceptId);
    const r = await q.executeTakeFirst();
    return r ? this.toRegistered(r) : undefined;
  }

  async createRegistered(items: Array<Omit<RegisteredLimit, 'id'>>): Promise<RegisteredLimit[]> {
    for (const it of items) await this.assertRefs(it, 'registered_limit');
    const key = (x: { service_id: string; region_id: string | null; resource_name: string }) =>
      JSON.stringify([x.service_id, x.region_id, x.resource_name]);
    const seen = new Set<string>();
    for (const it of items) {
      if (seen.has(key(it))) throw duplicate('registered_limit');
      seen.add(key(it));
    }
    const ids: string[] = [];
    await this.db.transaction().execute(async (tx) => {
      for (const it of items) {
        if (await this.findRegistered(tx, it.service_id, it.region_id ?? null, it.resource_name))
          throw duplicate('registered_limit');
        const id = newId();
        await tx
          .insertInto('registered_limit')
          .values({
            id,
            service_id: it.service_id,
            region_id: it.region_id ?? null,
            resource_name: it.resource_name,
            default_limit: it.default_limit,
            description: it.description ?? null,
          })
          .execute();
        ids.push(id);
      }
    });
    for (const id of ids) this.s.backend.notify('registered_limit', 'created', id);
    return Promise.all(ids.map((id) => this.getRegistered(id)));
  }

  private async assertUnreferenced(id: string) {
    const ref = await this.db
      .selectFrom('registered_limit as r')
      .innerJoin('limit as l', (j) =>
        j.onRef('l.service_id', '=', 'r.service_id').onRef('l.resource_name', '=', 'r.resource_name'),
      )
      .select(['l.id', 'l.region_id', 'r.region_id as rr'])
      .where('r.id', '=', id)
      .execute();
    if (ref.some((x) => (x.region_id ?? null) === (x.rr ?? null))) {
      throw forbidden(
        `Unable to update or delete registered limit ${id} because there are project limits associated with it.`,
        'RegisteredLimitError',
      );
    }
  }

  async updateRegistered(id: string, patch: Partial<Omit<RegisteredLimit, 'id'>>): Promise<RegisteredLimit> {
    await this.assertRefs(patch, 'registered_limit');
    const cur = await this.getRegistered(id);
    await this.assertUnreferenced(id);
    const next = {
      ...cur,
      ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)),
    } as RegisteredLimit;
    if (patch.service_id !== undefined || patch.region_id !== undefined || patch.resource_name !== undefined) {
      if (await this.findRegistered(this.db, next.service_id, next.region_id ?? null, next.resource_name, id))
        throw duplicate('registered_limit');
    }
    await this.db
      .updateTable('registered_limit')
      .set({
        service_id: next.service_id,
        region_id: next.region_id ?? null,
        resource_name: next.resource_name,
        default_limit: next.default_limit,
        description: next.description ?? null,
      })
      .where('id', '=', id)
      .execute();
    this.s.backend.notify('registered_limit', 'updated', id);
    return this.getRegistered(id);
  }

  async deleteRegistered(id: string): Promise<void> {
    await this.getRegistered(id);
    await this.assertUnreferenced(id);
    await this.db.deleteFrom('registered_limit').where('id', '=', id).execute();
    this.s.backend.notify('registered_limit', 'deleted', id);
  }

  // ---- limits ----

  async listLimits(
    f: {
      service_id?: string;
      region_id?: string;
      resource_name?: string;
      project_id?: string;
      domain_id?: string;
      projectIds?: string[];
      orDomainId?: string;
    } = {},
  ): Promise<Limit[]> {
    let q = this.db.selectFrom('limit').selectAll();
    for (const k of ['service_id', 'region_id', 'resource_name', 'project_id', 'domain_id'] as const) {
      if (f[k] !== undefined) q = q.where(k, '=', f[k]!);
    }
    let out = (await q.orderBy('id').execute()).map((r) => this.toLimit(r));
    // A domain-scoped caller sees the limits of its domain and of the projects in it.
    if (f.projectIds) {
      const ids = new Set(f.projectIds);
      out = out.filter((l) => (l.project_id ? ids.has(l.project_id) : l.domain_id === f.orDomainId));
    }
    return out;
  }
  async getLimit(id: string): Promise<Limit> {
    const r = await this.db.selectFrom('limit').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) throw limitNotFound(id);
    return this.toLimit(r);
  }

  async createLimits(
    items: Array<
      Omit<Limit, 'id' | 'project_id' | 'domain_id'> & { project_id?: string | null; domain_id?: string | null }
    >,
  ): Promise<Limit[]> {
    const prepared: Limit[] = [];
    for (const it of items) {
      await this.assertRefs(it, 'limit');
      let projectId = it.project_id ?? null;
      let domainId = it.domain_id ?? null;
      if (projectId) {
        const p = await this.s.resource.find(projectId);
        if (!p) throw missing('project_id', 'limit');
        // A project acting as a domain makes a domain limit.
        if (p.is_domain) {
          domainId = projectId;
          projectId = null;
        }
      }
      if (domainId) {
        const d = await this.s.resource.find(domainId);
        if (!d || !d.is_domain) throw missing('domain_id', 'limit');
      }
      prepared.push({
        id: newId(),
        project_id: projectId,
        domain_id: domainId,
        service_id: it.service_id,
        region_id: it.region_id ?? null,
        resource_name: it.resource_name,
        resource_limit: it.resource_limit,
        description: it.description ?? null,
      });
    }
    const key = (l: Limit) => JSON.stringify([l.service_id, l.region_id, l.resource_name, l.project_id, l.domain_id]);
    const seen = new Set<string>();
    for (const l of prepared) {
      if (seen.has(key(l))) throw duplicate('limit');
      seen.add(key(l));
    }
    await this.db.transaction().execute(async (tx) => {
      for (const l of prepared) {
        if (!(await this.findRegistered(tx, l.service_id, l.region_id, l.resource_name))) {
          throw forbidden('Unable to create a limit that has no corresponding registered limit.', 'NoLimitReference');
        }
        let dq = tx
          .selectFrom('limit')
          .select('id')
          .where('service_id', '=', l.service_id)
          .where('resource_name', '=', l.resource_name);
        dq = l.region_id === null ? dq.where('region_id', 'is', null) : dq.where('region_id', '=', l.region_id);
        dq = l.project_id ? dq.where('project_id', '=', l.project_id) : dq.where('domain_id', '=', l.domain_id!);
        if (await dq.executeTakeFirst()) throw duplicate('limit');
        await tx
          .insertInto('limit')
          .values({ ...l })
          .execute();
      }
    });
    for (const l of prepared) this.s.backend.notify('limit', 'created', l.id);
    return Promise.all(prepared.map((l) => this.getLimit(l.id)));
  }

  async updateLimit(id: string, patch: { resource_limit?: number; description?: string | null }): Promise<Limit> {
    await this.getLimit(id);
    const values: Record<string, unknown> = {};
    if (patch.resource_limit !== undefined) values.resource_limit = patch.resource_limit;
    if (patch.description !== undefined) values.description = patch.description;
    if (Object.keys(values).length) await this.db.updateTable('limit').set(values).where('id', '=', id).execute();
    this.s.backend.notify('limit', 'updated', id);
    return this.getLimit(id);
  }

  async deleteLimit(id: string): Promise<void> {
    await this.getLimit(id);
    await this.db.deleteFrom('limit').where('id', '=', id).execute();
    this.s.backend.notify('limit', 'deleted', id);
  }
}
