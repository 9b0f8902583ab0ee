// Key pairs (nova.objects.KeyPair): the key_pairs table, per user.
import { isUniqueViolation, now } from '../core/db.ts';
import { ApiError } from '../core/errors.ts';
import type { Kysely, Selectable } from 'kysely';
import type { ComputeDb, KeyPairsTable } from './db/schema.ts';

const conflict = (m: string) => new ApiError(409, m);

export interface Keypair {
  id: number;
  name: string;
  user_id: string;
  fingerprint: string;
  public_key: string;
  type: 'ssh' | 'x509';
  created_at: string;
  updated_at: string | null;
}

export class KeypairStore {
  constructor(private db: Kysely<ComputeDb>) {}
  private row = (r: Selectable<KeyPairsTable>): Keypair => ({
    id: Number(r.id),
    name: r.name,
    user_id: r.user_id,
    fingerprint: r.fingerprint,
    public_key: r.public_key,
    type: r.type as Keypair['type'],
    created_at: r.created_at,
    updated_at: r.updated_at ?? null,
  });

  async get(userId: string, name: string): Promise<Keypair | undefined> {
    const r = await this.db
      .selectFrom('key_pairs')
      .selectAll()
      .where('user_id', '=', userId)
      .where('name', '=', name)
      .executeTakeFirst();
    return r ? this.row(r) : undefined;
  }
  async list(userId: string): Promise<Keypair[]> {
    return (
      await this.db.selectFrom('key_pairs').selectAll().where('user_id', '=', userId).orderBy('name').execute()
    ).map(this.row);
  }
  async count(userId: string): Promise<number> {
    const r = await this.db
      .selectFrom('key_pairs')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return Number(r?.n ?? 0);
  }
  async create(k: Omit<Keypair, 'id' | 'created_at' | 'updated_at'>): Promise<Keypair> {
    try {
      await this.db
        .insertInto('key_pairs')
        .values({ ...k, created_at: now() })
        .execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict(`Key pair '${k.name}' already exists.`);
      throw e;
    }
    return (await this.get(k.user_id, k.name))!;
  }
  async destroy(userId: string, name: string): Promise<boolean> {
    const r = await this.db
      .deleteFrom('key_pairs')
      .where('user_id', '=', userId)
      .where('name', '=', name)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}
