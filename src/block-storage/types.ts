// Volume types (cinder.volume.volume_types): extra specs, private access, the default type
// (configured, or per project since 3.62), QoS associations and encryption.
import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { bool, json, now } from '../core/db.ts';
import type { BlockStorageDb, VolumeTypesTable } from './db/schema.ts';

export type VolumeTypeRow = Selectable<VolumeTypesTable>;

/** Extra specs a non-admin reader sees (cinder's user-visible extra specs). */
export const USER_VISIBLE_SPECS = ['multiattach', 'RESKEY:availability_zones', 'replication_enabled'];

export class TypeStore {
  constructor(
    readonly db: Kysely<BlockStorageDb>,
    private defaultName: string,
  ) {}

  async create(t: {
    name: string;
    description?: string | null;
    is_public?: boolean;
    extra_specs?: Record<string, string>;
  }): Promise<VolumeTypeRow> {
    const row: VolumeTypeRow = {
      id: randomUUID(),
      name: t.name,
      description: t.description ?? null,
      is_public: t.is_public === false ? 0 : 1,
      extra_specs: JSON.stringify(t.extra_specs ?? {}),
      qos_specs_id: null,
      created_at: now(),
      updated_at: null,
      deleted: 0,
      deleted_at: null,
    };
    await this.db.insertInto('volume_types').values(row).execute();
    return row;
  }

  async get(id: string): Promise<VolumeTypeRow | undefined> {
    return this.db
      .selectFrom('volume_types')
      .selectAll()
      .where('id', '=', id)
      .where('deleted', '=', 0)
      .executeTakeFirst();
  }

  /** A type by id, else by name (as volume create's `volume_type` may be either). */
  async find(idOrName: string): Promise<VolumeTypeRow | undefined> {
    return (
      (await this.get(idOrName)) ??
      this.db
        .selectFrom('volume_types')
        .selectAll()
        .where('name', '=', idOrName)
        .where('deleted', '=', 0)
        .executeTakeFirst()
    );
  }

  async byName(name: string): Promise<VolumeTypeRow | undefined> {
    return this.db
      .selectFrom('volume_types')
      .selectAll()
      .where('name', '=', name)
      .where('deleted', '=', 0)
      .executeTakeFirst();
  }

  async list(): Promise<VolumeTypeRow[]> {
    return this.db.selectFrom('volume_types').selectAll().where('deleted', '=', 0).orderBy('name').execute();
  }

  /** Whether a project sees a type: public, or private with access. */
  async visible(t: VolumeTypeRow, projectId: string | undefined, admin: boolean): Promise<boolean> {
    if (admin || bool(t.is_public)) return true;
    if (!projectId) return false;
    return (await this.access(t.id)).includes(projectId);
  }

  async access(typeId: string): Promise<string[]> {
    return (
      await this.db
        .selectFrom('volume_type_projects')
        .select('project_id')
        .where('volume_type_id', '=', typeId)
        .execute()
    ).map((r) => r.project_id);
  }

  async addAccess(typeId: string, projectId: string): Promise<boolean> {
    if ((await this.access(typeId)).includes(projectId)) return false;
    await this.db
      .insertInto('volume_type_projects')
      .values({ volume_type_id: typeId, project_id: projectId })
      .execute();
    return true;
  }

  async removeAccess(typeId: string, projectId: string): Promise<boolean> {
    const r = await this.db
      .deleteFrom('volume_type_projects')
      .where('volume_type_id', '=', typeId)
      .where('project_id', '=', projectId)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async update(id: string, patch: { name?: string; description?: string | null; is_public?: boolean }) {
    await this.db
      .updateTable('volume_types')
      .set({
        ...(patch.name !== undefined ? { name: patch.name } : {}),
        ...(patch.description !== undefined ? { description: patch.description } : {}),
        ...(patch.is_public !== undefined ? { is_public: patch.is_public ? 1 : 0 } : {}),
        updated_at: now(),
      })
      .where('id', '=', id)
      .execute();
  }

  async setSpecs(id: string, specs: Record<string, string>) {
    await this.db
      .updateTable('volume_types')
      .set({ extra_specs: JSON.stringify(specs), updated_at: now() })
      .where('id', '=', id)
      .execute();
  }

  async setQos(id: string, qosId: string | null) {
    await this.db.updateTable('volume_types').set({ qos_specs_id: qosId }).where('id', '=', id).execute();
  }

  async destroy(id: string) {
    await this.db.updateTable('volume_types').set({ deleted: 1, deleted_at: now() }).where('id', '=', id).execute();
    await this.db.deleteFrom('volume_type_projects').where('volume_type_id', '=', id).execute();
    await this.db.deleteFrom('default_types').where('volume_type_id', '=', id).execute();
  }

  /** The project's default type (3.62), else the configured one, else __DEFAULT__. */
  async defaultFor(projectId: string | undefined): Promise<VolumeTypeRow> {
    if (projectId) {
      const d = await this.db
        .selectFrom('default_types')
        .select('volume_type_id')
        .where('project_id', '=', projectId)
        .executeTakeFirst();
      const t = d && (await this.get(d.volume_type_id));
      if (t) return t;
    }
    const t = (await this.byName(this.defaultName)) ?? (await this.byName('__DEFAULT__'));
    if (!t) throw new Error('the default volume type is missing');
    return t;
  }

  /** The configured default type's id (it may not be deleted). */
  async configuredDefaultId(): Promise<string | undefined> {
    return (await this.byName(this.defaultName))?.id;
  }

  async projectDefaults(projectId?: string) {
    let q = this.db.selectFrom('default_types').selectAll();
    if (projectId) q = q.where('project_id', '=', projectId);
    return q.execute();
  }

  async setProjectDefault(projectId: string, typeId: string) {
    await this.db.deleteFrom('default_types').where('project_id', '=', projectId).execute();
    await this.db.insertInto('default_types').values({ project_id: projectId, volume_type_id: typeId }).execute();
  }

  async unsetProjectDefault(projectId: string): Promise<boolean> {
    const r = await this.db.deleteFrom('default_types').where('project_id', '=', projectId).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}

export const specsOf = (t: { extra_specs: string }): Record<string, string> => json(t.extra_specs, {});
