// QoS specs (cinder.volume.qos_specs) with their type associations, and volume type
// encryption (cinder.volume.volume_types encryption): rows only; the file backend enforces
// neither (it reports QoS_support false), as an upstream backend without those features.
import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { json, now } from '../core/db.ts';
import type { BlockStorageDb, EncryptionTable, QosSpecsTable } from './db/schema.ts';

export type QosRow = Selectable<QosSpecsTable>;
export type EncryptionRow = Selectable<EncryptionTable>;

export class QosStore {
  constructor(private db: Kysely<BlockStorageDb>) {}

  async create(name: string, consumer: string, specs: Record<string, string>): Promise<QosRow> {
    const row: QosRow = { id: randomUUID(), name, consumer, specs: JSON.stringify(specs), created_at: now() };
    await this.db.insertInto('qos_specs').values(row).execute();
    return row;
  }
  async get(id: string) {
    return this.db.selectFrom('qos_specs').selectAll().where('id', '=', id).executeTakeFirst();
  }
  async byName(name: string) {
    return this.db.selectFrom('qos_specs').selectAll().where('name', '=', name).executeTakeFirst();
  }
  async list() {
    return this.db.selectFrom('qos_specs').selectAll().orderBy('created_at').execute();
  }
  async update(id: string, patch: { consumer?: string; specs?: Record<string, string> }) {
    await this.db
      .updateTable('qos_specs')
      .set({
        ...(patch.consumer ? { consumer: patch.consumer } : {}),
        ...(patch.specs ? { specs: JSON.stringify(patch.specs) } : {}),
      })
      .where('id', '=', id)
      .execute();
  }
  async delete(id: string) {
    await this.db.deleteFrom('qos_specs').where('id', '=', id).execute();
  }
  async associations(id: string) {
    return this.db
      .selectFrom('volume_types')
      .select(['id', 'name'])
      .where('qos_specs_id', '=', id)
      .where('deleted', '=', 0)
      .execute();
  }

  // ---- encryption -------------------------------------------------------------------------

  async encryption(typeId: string): Promise<EncryptionRow | undefined> {
    return this.db.selectFrom('encryption').selectAll().where('volume_type_id', '=', typeId).executeTakeFirst();
  }
  async setEncryption(
    typeId: string,
    e: { provider: string; cipher?: string | null; key_size?: number | null; control_location?: string },
  ) {
    const old = await this.encryption(typeId);
    const row: EncryptionRow = {
      volume_type_id: typeId,
      encryption_id: old?.encryption_id ?? randomUUID(),
      provider: e.provider,
      cipher: e.cipher ?? null,
      key_size: e.key_size ?? null,
      control_location: e.control_location ?? 'front-end',
      created_at: old?.created_at ?? now(),
      updated_at: old ? now() : null,
    };
    await this.db.deleteFrom('encryption').where('volume_type_id', '=', typeId).execute();
    await this.db.insertInto('encryption').values(row).execute();
    return row;
  }
  async deleteEncryption(typeId: string) {
    await this.db.deleteFrom('encryption').where('volume_type_id', '=', typeId).execute();
  }
}

export const qosSpecsOf = (q: QosRow): Record<string, string> => json(q.specs, {});
