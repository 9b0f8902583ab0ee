// Flavors (nova.objects.Flavor): the flavors table with its extra specs and project access,
// and the queries the API and the server create use.
import { isUniqueViolation, now } from '../core/db.ts';
import { ApiError } from '../core/errors.ts';
import type { Kysely, Selectable } from 'kysely';
import type { ComputeDb, FlavorsTable } from './db/schema.ts';

const conflict = (m: string) => new ApiError(409, m);

/** A flavor as the code uses it: its `flavors` row with the flags as booleans, and its extra specs. */
export interface Flavor extends Omit<Selectable<FlavorsTable>, 'disabled' | 'is_public'> {
  disabled: boolean;
  is_public: boolean;
  extra_specs: Record<string, string>;
}

/** Flavor rows with their extra specs and access lists. */
export class FlavorStore {
  constructor(private db: Kysely<ComputeDb>) {}

  private row(r: Selectable<FlavorsTable>, specs: Record<string, string>): Flavor {
    return {
      id: Number(r.id),
      flavorid: r.flavorid,
      name: r.name,
      memory_mb: Number(r.memory_mb),
      vcpus: Number(r.vcpus),
      root_gb: Number(r.root_gb),
      ephemeral_gb: Number(r.ephemeral_gb),
      swap: Number(r.swap),
      rxtx_factor: Number(r.rxtx_factor),
      vcpu_weight: r.vcpu_weight === null ? null : Number(r.vcpu_weight),
      disabled: !!Number(r.disabled),
      is_public: !!Number(r.is_public),
      description: r.description ?? null,
      created_at: r.created_at,
      updated_at: r.updated_at ?? null,
      extra_specs: specs,
    };
  }

  async all(): Promise<Flavor[]> {
    const rows = await this.db.selectFrom('flavors').selectAll().execute();
    const specs = await this.db.selectFrom('flavor_extra_specs').selectAll().execute();
    const by = new Map<string, Record<string, string>>();
    for (const s of specs) {
      let m = by.get(s.flavorid);
      if (!m) by.set(s.flavorid, (m = {}));
      m[s.key] = s.value;
    }
    return rows.map((r) => this.row(r, by.get(r.flavorid) ?? {}));
  }

  /** A flavor by its flavorid, whoever may see it. */
  async get(flavorid: string): Promise<Flavor | undefined> {
    const r = await this.db.selectFrom('flavors').selectAll().where('flavorid', '=', flavorid).executeTakeFirst();
    if (!r) return undefined;
    const specs = await this.db.selectFrom('flavor_extra_specs').selectAll().where('flavorid', '=', flavorid).execute();
    return this.row(r, Object.fromEntries(specs.map((s) => [s.key, s.value])));
  }

  /** A flavor as a project sees it: private flavors only with access (admins see all), as Nova's flavor query. */
  async visible(flavorid: string, projectId: string | undefined, admin: boolean): Promise<Flavor | undefined> {
    const f = await this.get(flavorid);
    if (!f || admin || f.is_public) return f;
    return projectId && (await this.projects(flavorid)).includes(projectId) ? f : undefined;
  }

  async projects(flavorid: string): Promise<string[]> {
    return (
      await this.db
        .selectFrom('flavor_projects')
        .select('project_id')
        .where('flavorid', '=', flavorid)
        .orderBy('project_id')
        .execute()
    ).map((r) => r.project_id);
  }

  async projectFlavors(projectId: string): Promise<Set<string>> {
    return new Set(
      (
        await this.db.selectFrom('flavor_projects').select('flavorid').where('project_id', '=', projectId).execute()
      ).map((r) => r.flavorid),
    );
  }

  async create(
    f: Omit<Flavor, 'id' | 'created_at' | 'updated_at' | 'extra_specs' | 'vcpu_weight' | 'disabled'>,
  ): Promise<Flavor> {
    const existing = await this.db
      .selectFrom('flavors')
      .select(['flavorid', 'name'])
      .where((eb) => eb.or([eb('flavorid', '=', f.flavorid), eb('name', '=', f.name)]))
      .execute();
    if (existing.some((e) => e.name === f.name)) throw conflict(`Flavor with name ${f.name} already exists.`);
    if (existing.length) throw conflict(`Flavor with ID ${f.flavorid} already exists.`);
    try {
      await this.db
        .insertInto('flavors')
        .values({
          flavorid: f.flavorid,
          name: f.name,
          memory_mb: f.memory_mb,
          vcpus: f.vcpus,
          root_gb: f.root_gb,
          ephemeral_gb: f.ephemeral_gb,
          swap: f.swap,
          rxtx_factor: f.rxtx_factor,
          disabled: 0,
          is_public: f.is_public ? 1 : 0,
          description: f.description,
          created_at: now(),
        })
        .execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict(`Flavor with ID ${f.flavorid} already exists.`);
      throw e;
    }
    return (await this.get(f.flavorid))!;
  }

  async destroy(flavorid: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const r = await trx.deleteFrom('flavors').where('flavorid', '=', flavorid).executeTakeFirst();
      if (!Number(r.numDeletedRows)) return false;
      await trx.deleteFrom('flavor_extra_specs').where('flavorid', '=', flavorid).execute();
      await trx.deleteFrom('flavor_projects').where('flavorid', '=', flavorid).execute();
      return true;
    });
  }

  async setDescription(flavorid: string, description: string | null) {
    await this.db
      .updateTable('flavors')
      .set({ description, updated_at: now() })
      .where('flavorid', '=', flavorid)
      .execute();
  }

  async setSpecs(flavorid: string, specs: Record<string, string>) {
    await this.db.transaction().execute(async (trx) => {
      for (const [key, value] of Object.entries(specs)) {
        await trx.deleteFrom('flavor_extra_specs').where('flavorid', '=', flavorid).where('key', '=', key).execute();
        await trx.insertInto('flavor_extra_specs').values({ flavorid, key, value }).execute();
      }
      await trx.updateTable('flavors').set({ updated_at: now() }).where('flavorid', '=', flavorid).execute();
    });
  }

  async deleteSpec(flavorid: string, key: string): Promise<boolean> {
    const r = await this.db
      .deleteFrom('flavor_extra_specs')
      .where('flavorid', '=', flavorid)
      .where('key', '=', key)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async addAccess(flavorid: string, projectId: string): Promise<boolean> {
    try {
      await this.db.insertInto('flavor_projects').values({ flavorid, project_id: projectId }).execute();
      return true;
    } catch (e) {
      if (isUniqueViolation(e)) return false;
      throw e;
    }
  }

  async removeAccess(flavorid: string, projectId: string): Promise<boolean> {
    const r = await this.db
      .deleteFrom('flavor_projects')
      .where('flavorid', '=', flavorid)
      .where('project_id', '=', projectId)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}
