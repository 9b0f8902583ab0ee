// The API side of volume migration (cinder.volume.api migrate_volume, migrate_volume_completion
// and retype's migration): Cinder's checks with its messages, the destination pool chosen or
// checked against the volume's (or the new) type with the scheduler's filters, then a cast to the
// source backend's agent, which does the generic host-copy migration (agent/migration.ts).
import type { MessageBus } from '../core/bus.ts';
import { ApiError } from '../core/errors.ts';
import { backendOf, volumeRpc } from './rpcapi.ts';
import type { Scheduler } from './scheduler/scheduler.ts';
import { specsOf, type TypeStore } from './types.ts';
import type { VolumeRow, VolumeStore } from './volumes.ts';

const invalidVolume = (m: string) => new ApiError(400, `Invalid volume: ${m}`);
const invalidHost = (m: string) => new ApiError(400, `Invalid host: ${m}`);

export class MigrationApi {
  constructor(
    private volumes: VolumeStore,
    private types: TypeStore,
    private scheduler: Scheduler,
    private bus: MessageBus,
  ) {}

  private async checkMovable(v: VolumeRow) {
    if (!['available', 'in-use'].includes(v.status))
      throw invalidVolume(`Volume ${v.id} status must be available or in-use, but current status is: ${v.status}.`);
    if (
      ['starting', 'migrating', 'completing'].includes(v.migration_status ?? '') ||
      v.migration_status?.startsWith('target:')
    )
      throw invalidVolume(`Volume ${v.id} is already part of an active migration.`);
    if ((await this.volumes.snapshots({ volumeId: v.id })).length)
      throw invalidVolume(`Volume ${v.id} must not have snapshots.`);
    if (v.group_id) throw invalidVolume(`Volume ${v.id} must not be part of a group.`);
    // An attached volume moves through compute's swap_volume, which takes one attachment.
    if ((await this.volumes.attachments(v.id)).length > 1)
      throw invalidVolume(
        `Volume ${v.id} has more than one attachment: migration of multiattach volumes is not supported.`,
      );
  }

  /** os-migrate_volume (admin): to `host` (`host@backend[#pool]`). */
  async migrate(v: VolumeRow, o: { host: string; forceHostCopy: boolean; lockVolume: boolean }) {
    await this.checkMovable(v);
    const pools = await this.scheduler.pools();
    const backend = backendOf(o.host);
    const candidates = pools.filter((p) => (o.host.includes('#') ? p.name === o.host : p.backend === backend));
    if (!candidates.length) throw invalidHost(`No available service named '${o.host}'`);
    if (v.host && backendOf(v.host) === backend)
      throw invalidHost('Destination host must be different than the current host.');
    const prev = v.status;
    const changed = await this.volumes.update(
      v.id,
      { migration_status: 'starting', previous_status: prev, ...(o.lockVolume ? { status: 'maintenance' } : {}) },
      { status: [prev] },
    );
    if (!changed) throw invalidVolume(`Volume ${v.id} changed status while it was being migrated.`);
    // The scheduler's filters for the volume's type on the destination (host_passes_filters).
    const t = await this.types.get(v.volume_type_id);
    const fit = (await this.scheduler.select(v.size, null, t ? specsOf(t) : {})).find((p) =>
      candidates.some((c) => c.name === p.name),
    );
    if (!fit) {
      await this.volumes.update(v.id, { migration_status: 'error', status: prev, previous_status: null });
      return;
    }
    volumeRpc(this.bus).cast(backendOf(v.host!)).migrate_volume({ volume_id: v.id, host: fit.name });
  }

  /** A retype whose new type no pool of the volume's backend takes: to the best pool that does. */
  async retypeWithMigration(v: VolumeRow, newTypeId: string, pools: Array<{ name: string }>) {
    await this.checkMovable(v);
    const dest = pools.find((p) => v.host && backendOf(p.name) !== backendOf(v.host));
    if (!dest) throw new ApiError(400, 'No valid host was found. No valid backend was found for the new type.');
    const prev = v.status;
    const changed = await this.volumes.update(
      v.id,
      { status: 'retyping', previous_status: prev, migration_status: 'starting' },
      { status: [prev] },
    );
    if (!changed) throw invalidVolume(`Volume ${v.id} changed status while it was being retyped.`);
    volumeRpc(this.bus)
      .cast(backendOf(v.host!))
      .migrate_volume({ volume_id: v.id, host: dest.name, new_type_id: newTypeId });
  }

  /** os-migrate_volume_completion (admin): what compute calls after it swapped the volume. */
  async complete(v: VolumeRow, newVolumeId: string, error: boolean): Promise<{ save_volume_id: string }> {
    const n = await this.volumes.get(newVolumeId);
    if (!n) throw new ApiError(404, `Volume ${newVolumeId} could not be found.`, 'VolumeNotFound');
    if (!v.migration_status) throw invalidVolume('Source volume not mid-migration.');
    if (!n.migration_status) throw invalidVolume('Destination volume not mid-migration.');
    const expected = `target:${v.id}`;
    if (n.migration_status !== expected)
      throw invalidVolume(`Destination has migration_status ${n.migration_status}, expected ${expected}.`);
    return volumeRpc(this.bus)
      .call(backendOf(v.host!))
      .migrate_volume_completion({ volume_id: v.id, new_volume_id: n.id, error });
  }
}
