// The v3 policy API (deprecated upstream since Queens, still served): opaque policy blobs with a
// type, stored and returned but never enforced. OS-ENDPOINT-POLICY associates a blob with an
// endpoint, a service, or a service in a region, and answers the effective blob of an endpoint.
import { ApiError, badRequest } from '../core/errors.ts';
import { json } from '../core/db.ts';
import type { CatalogManager, Endpoint } from './catalog.ts';
import { IdentityBackend, newId, notFound } from './backend.ts';
import type { Selectable } from 'kysely';
import type { PolicyTable } from './db/schema.ts';

export interface PolicyBlob {
  id: string;
  type: string;
  blob: string;
  extra: Record<string, unknown>;
}
export interface PolicyTarget {
  endpointId?: string;
  serviceId?: string;
  regionId?: string;
}

const CORE = ['id', 'type', 'blob', 'links'];

export class PolicyBlobManager {
  constructor(
    private b: IdentityBackend,
    private catalog: CatalogManager,
  ) {}

  private toPolicy(r: Selectable<PolicyTable>): PolicyBlob {
    return { id: r.id, type: r.type, blob: r.blob, extra: json(r.extra, {}) };
  }

  async list(type?: string): Promise<PolicyBlob[]> {
    let q = this.b.db.selectFrom('policy').selectAll();
    if (type !== undefined) q = q.where('type', '=', type);
    return (await q.orderBy('id').execute()).map((r) => this.toPolicy(r));
  }

  async get(id: string): Promise<PolicyBlob> {
    const r = await this.b.db.selectFrom('policy').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) throw notFound('policy', id);
    return this.toPolicy(r);
  }

  /** Attributes besides blob and type are kept as extras; their names have ':' and '-' made '_', as upstream. */
  async create(body: Record<string, unknown>): Promise<PolicyBlob> {
    const id = newId();
    const extra: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(body)) if (!CORE.includes(k)) extra[k.replace(/[:-]/g, '_')] = v;
    await this.b.db
      .insertInto('policy')
      .values({ id, type: body.type as string, blob: body.blob as string, extra: JSON.stringify(extra) })
      .execute();
    this.b.notify('policy', 'created', id);
    return this.get(id);
  }

  async update(id: string, patch: Record<string, unknown>): Promise<PolicyBlob> {
    if (patch.id !== undefined && patch.id !== id) throw badRequest('Cannot change policy ID', 'ValidationError');
    const cur = await this.get(id);
    const extra = { ...cur.extra };
    for (const [k, v] of Object.entries(patch)) if (!CORE.includes(k)) extra[k] = v;
    await this.b.db
      .updateTable('policy')
      .set({
        ...(patch.type !== undefined ? { type: patch.type as string } : {}),
        ...(patch.blob !== undefined ? { blob: patch.blob as string } : {}),
        extra: JSON.stringify(extra),
      })
      .where('id', '=', id)
      .execute();
    this.b.notify('policy', 'updated', id);
    return this.get(id);
  }

  async delete(id: string): Promise<void> {
    await this.get(id);
    await this.b.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('policy_association').where('policy_id', '=', id).execute();
      await tx.deleteFrom('policy').where('id', '=', id).execute();
    });
    this.b.notify('policy', 'deleted', id);
  }

  // ---- OS-ENDPOINT-POLICY ----

  /** Rows matching exactly one association target: unset parts must be NULL. */
  private matching(t: PolicyTarget) {
    let q = this.b.db.selectFrom('policy_association').selectAll();
    q = t.endpointId ? q.where('endpoint_id', '=', t.endpointId) : q.where('endpoint_id', 'is', null);
    q = t.serviceId ? q.where('service_id', '=', t.serviceId) : q.where('service_id', 'is', null);
    q = t.regionId ? q.where('region_id', '=', t.regionId) : q.where('region_id', 'is', null);
    return q;
  }

  /** One policy per target: associating another policy replaces the previous one. */
  async associate(policyId: string, t: PolicyTarget) {
    const cur = await this.matching(t).executeTakeFirst();
    if (cur) {
      await this.b.db.updateTable('policy_association').set({ policy_id: policyId }).where('id', '=', cur.id).execute();
      return;
    }
    await this.b.db
      .insertInto('policy_association')
      .values({
        id: newId(),
        policy_id: policyId,
        endpoint_id: t.endpointId ?? null,
        service_id: t.serviceId ?? null,
        region_id: t.regionId ?? null,
      })
      .execute();
  }

  async checkAssociation(policyId: string, t: PolicyTarget) {
    const cur = await this.matching(t).executeTakeFirst();
    if (!cur || cur.policy_id !== policyId)
      throw new ApiError(404, 'Could not find policy association.', 'PolicyAssociationNotFound');
  }

  /** Deleting an association that does not exist is not an error upstream. */
  async dissociate(policyId: string, t: PolicyTarget) {
    const cur = await this.matching(t).executeTakeFirst();
    if (cur && cur.policy_id === policyId)
      await this.b.db.deleteFrom('policy_association').where('id', '=', cur.id).execute();
  }

  /** The endpoints a policy applies to: its endpoints, its services' endpoints, and those in its regions and their sub-regions. */
  async endpointsForPolicy(policyId: string): Promise<Endpoint[]> {
    const assocs = await this.b.db
      .selectFrom('policy_association')
      .selectAll()
      .where('policy_id', '=', policyId)
      .execute();
    const endpoints = await this.catalog.listEndpoints();
    const regions = await this.catalog.listRegions();
    const out: Endpoint[] = [];
    for (const a of assocs) {
      if (a.endpoint_id) {
        const e = endpoints.find((x) => x.id === a.endpoint_id);
        if (e) out.push(e);
      } else if (a.service_id && !a.region_id) {
        out.push(...endpoints.filter((e) => e.service_id === a.service_id));
      } else if (a.service_id && a.region_id) {
        const tree = new Set<string>([a.region_id]);
        for (let grew = true; grew; ) {
          grew = false;
          for (const r of regions)
            if (r.parent_region_id && tree.has(r.parent_region_id) && !tree.has(r.id)) {
              tree.add(r.id);
              grew = true;
            }
        }
        out.push(...endpoints.filter((e) => e.service_id === a.service_id && e.region_id && tree.has(e.region_id)));
      }
    }
    return out;
  }

  /** The effective policy of an endpoint: its own, else its service's in its region or the nearest parent region, else its service's. */
  async policyForEndpoint(endpointId: string): Promise<PolicyBlob> {
    const own = await this.matching({ endpointId }).executeTakeFirst();
    if (own) return this.get(own.policy_id);
    const e = await this.catalog.getEndpoint(endpointId);
    const seen = new Set<string>();
    for (let region = e.region_id; region && !seen.has(region); ) {
      seen.add(region);
      const a = await this.matching({ serviceId: e.service_id, regionId: region }).executeTakeFirst();
      if (a) return this.get(a.policy_id);
      const r = await this.b.db
        .selectFrom('region')
        .select('parent_region_id')
        .where('id', '=', region)
        .executeTakeFirst();
      region = r?.parent_region_id ?? null;
    }
    const svc = await this.matching({ serviceId: e.service_id }).executeTakeFirst();
    if (svc) return this.get(svc.policy_id);
    throw new ApiError(404, `No policy is associated with endpoint ${endpointId}.`, 'NotFound');
  }
}
