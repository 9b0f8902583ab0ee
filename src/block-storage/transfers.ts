// Volume transfers (cinder.transfer.api): a volume offered by its project with a secret
// auth key, accepted by another project, which then owns the volume (and its snapshots unless
// `no_snapshots`); quotas are checked on the receiving side.
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { now } from '../core/db.ts';
import { ApiError } from '../core/errors.ts';
import type { BlockStorageDb, TransfersTable } from './db/schema.ts';
import type { QuotaEngine } from './quotas.ts';
import type { VolumeRow, VolumeStore } from './volumes.ts';

export type TransferRow = Selectable<TransfersTable>;

const hashOf = (salt: string, key: string) => createHash('sha256').update(`${salt}${key}`).digest('hex');

export class TransferStore {
  constructor(
    private db: Kysely<BlockStorageDb>,
    private volumes: VolumeStore,
    private quotas: QuotaEngine,
  ) {}

  async create(
    v: VolumeRow,
    name: string | null,
    noSnapshots: boolean,
  ): Promise<{ row: TransferRow; authKey: string }> {
    if (v.status !== 'available')
      throw new ApiError(400, `Invalid volume: status must be available, but current status is: ${v.status}.`);
    const authKey = randomBytes(8).toString('hex');
    const salt = randomBytes(8).toString('hex');
    const row: TransferRow = {
      id: randomUUID(),
      volume_id: v.id,
      name,
      salt,
      crypt_hash: hashOf(salt, authKey),
      source_project_id: v.project_id,
      destination_project_id: null,
      accepted: 0,
      no_snapshots: noSnapshots ? 1 : 0,
      deleted: 0,
      created_at: now(),
    };
    const moved = await this.volumes.update(v.id, { status: 'awaiting-transfer' }, { status: ['available'] });
    if (!moved) throw new ApiError(400, `Invalid volume: Volume ${v.id} changed status.`);
    await this.db.insertInto('transfers').values(row).execute();
    return { row, authKey };
  }

  async get(id: string): Promise<TransferRow | undefined> {
    return this.db.selectFrom('transfers').selectAll().where('id', '=', id).where('deleted', '=', 0).executeTakeFirst();
  }

  async list(projectId?: string): Promise<TransferRow[]> {
    let q = this.db.selectFrom('transfers').selectAll().where('deleted', '=', 0);
    if (projectId) q = q.where('source_project_id', '=', projectId);
    return q.orderBy('created_at').execute();
  }

  async delete(t: TransferRow) {
    await this.db.updateTable('transfers').set({ deleted: 1 }).where('id', '=', t.id).execute();
    await this.volumes.update(t.volume_id, { status: 'available' }, { status: ['awaiting-transfer'] });
  }

  async accept(t: TransferRow, authKey: string, projectId: string, userId: string): Promise<TransferRow> {
    const want = Buffer.from(t.crypt_hash, 'hex');
    const got = Buffer.from(hashOf(t.salt, authKey), 'hex');
    if (want.length !== got.length || !timingSafeEqual(want, got))
      throw new ApiError(400, `Invalid auth key: Attempt to transfer ${t.id} with invalid auth key.`);
    const v = await this.volumes.get(t.volume_id);
    if (!v || v.status !== 'awaiting-transfer')
      throw new ApiError(400, 'Invalid volume: the volume is not awaiting a transfer.');
    const snaps = t.no_snapshots ? [] : await this.volumes.snapshots({ volumeId: v.id });
    const typeName = (
      await this.db.selectFrom('volume_types').select('name').where('id', '=', v.volume_type_id).executeTakeFirst()
    )?.name;
    await this.quotas.lock.run(async () => {
      await this.quotas.check(
        projectId,
        { volumes: 1, gigabytes: v.size + snaps.reduce((n, s) => n + s.volume_size, 0), snapshots: snaps.length },
        typeName,
      );
      await this.volumes.update(v.id, { project_id: projectId, user_id: userId, status: 'available' });
      for (const s of snaps)
        await this.db
          .updateTable('snapshots')
          .set({ project_id: projectId, user_id: userId })
          .where('id', '=', s.id)
          .execute();
      await this.db
        .updateTable('transfers')
        .set({ accepted: 1, deleted: 1, destination_project_id: projectId })
        .where('id', '=', t.id)
        .execute();
    });
    return { ...t, accepted: 1, destination_project_id: projectId };
  }
}
