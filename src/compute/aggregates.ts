// Host aggregates (nova.objects.Aggregate): the aggregates, their hosts and metadata (an
// availability_zone key makes one a zone).
import { randomUUID } from 'node:crypto';
import { now } from '../core/db.ts';
import { ApiError } from '../core/errors.ts';
import type { Kysely } from 'kysely';
import type { ComputeDb } from './db/schema.ts';

const conflict = (m: string) => new ApiError(409, m);

export interface Aggregate {
  id: number;
  uuid: string;
  name: string;
  hosts: string[];
  metadata: Record<string, string>;
  created_at: string;
  updated_at: string | null;
}

export class AggregateStore {
  constructor(private db: Kysely<ComputeDb>) {}

  async all(): Promise<Aggregate[]> {
    const rows = await this.db.selectFrom('aggregates').selectAll().orderBy('id').execute();
    const hosts = await this.db.selectFrom('aggregate_hosts').selectAll().execute();
    const meta = await this.db.selectFrom('aggregate_metadata').selectAll().execute();
    return rows.map((r) => ({
      id: Number(r.id),
      uuid: r.uuid,
      name: r.name,
      created_at: r.created_at,
      updated_at: r.updated_at ?? null,
      hosts: hosts.filter((h) => Number(h.aggregate_id) === Number(r.id)).map((h) => h.host),
      metadata: Object.fromEntries(
        meta.filter((m) => Number(m.aggregate_id) === Number(r.id)).map((m) => [m.key, m.value]),
      ),
    }));
  }

  async get(id: number): Promise<Aggregate | undefined> {
    return (await this.all()).find((a) => a.id === id);
  }

  async create(name: string, az: string | null): Promise<Aggregate> {
    const existing = await this.db.selectFrom('aggregates').select('id').where('name', '=', name).executeTakeFirst();
    if (existing) throw conflict(`Aggregate ${name} already exists.`);
    const uuid = randomUUID();
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto('aggregates').values({ uuid, name, created_at: now() }).execute();
      if (az) {
        const r = await trx.selectFrom('aggregates').select('id').where('uuid', '=', uuid).executeTakeFirstOrThrow();
        await trx
          .insertInto('aggregate_metadata')
          .values({ aggregate_id: r.id, key: 'availability_zone', value: az })
          .execute();
      }
    });
    return (await this.all()).find((a) => a.uuid === uuid)!;
  }

  async rename(id: number, name: string) {
    const other = await this.db
      .selectFrom('aggregates')
      .select('id')
      .where('name', '=', name)
      .where('id', '!=', id)
      .executeTakeFirst();
    if (other) throw conflict(`Aggregate ${name} already exists.`);
    await this.db.updateTable('aggregates').set({ name, updated_at: now() }).where('id', '=', id).execute();
  }

  /** Sets (or with null removes) metadata keys. */
  async updateMetadata(id: number, metadata: Record<string, string | null>) {
    await this.db.transaction().execute(async (trx) => {
      for (const [key, value] of Object.entries(metadata)) {
        await trx.deleteFrom('aggregate_metadata').where('aggregate_id', '=', id).where('key', '=', key).execute();
        if (value !== null)
          await trx.insertInto('aggregate_metadata').values({ aggregate_id: id, key, value }).execute();
      }
      await trx.updateTable('aggregates').set({ updated_at: now() }).where('id', '=', id).execute();
    });
  }

  async addHost(id: number, host: string) {
    await this.db.insertInto('aggregate_hosts').values({ aggregate_id: id, host }).execute();
  }

  async removeHost(id: number, host: string): Promise<boolean> {
    const r = await this.db
      .deleteFrom('aggregate_hosts')
      .where('aggregate_id', '=', id)
      .where('host', '=', host)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async destroy(id: number) {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('aggregate_metadata').where('aggregate_id', '=', id).execute();
      await trx.deleteFrom('aggregate_hosts').where('aggregate_id', '=', id).execute();
      await trx.deleteFrom('aggregates').where('id', '=', id).execute();
    });
  }
}
