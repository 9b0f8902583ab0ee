// cinder-scheduler: picks the pool of a new volume among the volume services that are up and
// enabled. Filters (Cinder's defaults): availability zone, capacity (thin provisioning with
// over-subscription), capabilities against the type's extra specs; weigher: capacity. A volume
// no pool takes goes to `error` with a user message.
import type { Kysely } from 'kysely';
import { json } from '../../core/db.ts';
import type { Logger } from '../../core/log.ts';
import type { MessageBus } from '../../core/bus.ts';
import { serveRpc } from '../../core/rpc.ts';
import type { BlockStorageDb } from '../db/schema.ts';
import type { BackendStats, PoolStats } from '../drivers/driver.ts';
import type { GroupStore } from '../groups.ts';
import { serviceUp } from '../heartbeat.ts';
import { Action, Detail, type MessageStore } from '../messages.ts';
import { SCHEDULER_TOPIC, type SchedulerRpc, volumeRpc } from '../rpcapi.ts';
import { specsOf } from '../types.ts';
import { VolumeStatus, type VolumeRow, type VolumeStore } from '../volumes.ts';

/** A pool as the filters see it. */
export interface PoolState {
  /** host@backend#pool */
  name: string;
  backend: string;
  zone: string;
  stats: BackendStats;
  pool: PoolStats;
}

/** Extra-spec operators (cinder's extra_specs_ops). */
export function matchSpec(req: string, cap: unknown): boolean {
  const capStr = typeof cap === 'boolean' ? (cap ? 'True' : 'False') : String(cap);
  const words = req.trim().split(/\s+/);
  const op = words[0] ?? '';
  const rest = words.slice(1);
  const num = (s: string) => Number(s);
  switch (op) {
    case '<is>':
      return capStr.toLowerCase() === (rest[0] ?? '').toLowerCase();
    case '=':
      return num(capStr) >= num(rest[0] ?? '');
    case '==':
      return num(capStr) === num(rest[0] ?? '');
    case '!=':
      return num(capStr) !== num(rest[0] ?? '');
    case '>=':
      return num(capStr) >= num(rest[0] ?? '');
    case '<=':
      return num(capStr) <= num(rest[0] ?? '');
    case 's==':
      return capStr === rest.join(' ');
    case 's!=':
      return capStr !== rest.join(' ');
    case '<in>':
      return capStr.includes(rest.join(' '));
    case '<or>':
      return rest.filter((w) => w !== '<or>').includes(capStr);
    default:
      return capStr === req;
  }
}

export class Scheduler {
  private stopServing?: () => void;
  constructor(
    private db: Kysely<BlockStorageDb>,
    private volumes: VolumeStore,
    private groups: GroupStore,
    private messages: MessageStore,
    private bus: MessageBus,
    private serviceDownTime: number,
    private log: Logger,
  ) {}

  start() {
    this.stopServing = serveRpc<SchedulerRpc>(this.bus, SCHEDULER_TOPIC, 'scheduler', {
      create_volume: async ({ volume_id, request_id }) => {
        await this.createVolume(volume_id, request_id);
        return null;
      },
      create_group: async ({ group_id, request_id }) => {
        await this.createGroup(group_id, request_id);
        return null;
      },
    });
  }

  stop() {
    this.stopServing?.();
  }

  /** Every pool of the volume services that are up and enabled. */
  async pools(): Promise<PoolState[]> {
    const rows = await this.db.selectFrom('services').selectAll().where('binary', '=', 'cinder-volume').execute();
    const out: PoolState[] = [];
    for (const s of rows) {
      if (s.disabled || !serviceUp(s, this.serviceDownTime)) continue;
      const stats = json<BackendStats | null>(s.capabilities, null);
      if (!stats) continue;
      for (const pool of stats.pools)
        out.push({ name: `${s.host}#${pool.pool_name}`, backend: s.host, zone: s.availability_zone, stats, pool });
    }
    return out;
  }

  /** The pools that pass the filters for a volume of `size` GiB in `zone` with these extra specs, best first. */
  async select(size: number, zone: string | null, specs: Record<string, string>): Promise<PoolState[]> {
    const ok = (await this.pools()).filter(
      (p) => (!zone || p.zone === zone) && capacityOk(p.pool, size) && capabilitiesOk(p, specs),
    );
    return ok.sort((a, b) => freeVirtual(b.pool) - freeVirtual(a.pool));
  }

  private async createVolume(volumeId: string, requestId?: string) {
    const v = await this.volumes.get(volumeId);
    if (!v || v.status !== VolumeStatus.CREATING) return;
    try {
      const pool = await this.placeFor(v);
      if (!pool) {
        await this.fail(v, requestId, 'No valid backend was found.');
        return;
      }
      await this.volumes.update(v.id, { host: pool.name });
      volumeRpc(this.bus).cast(pool.backend).create_volume({ volume_id: v.id, request_id: requestId });
    } catch (err) {
      this.log.error({ err, volume: volumeId }, 'scheduling failed');
      await this.fail(v, requestId, String((err as Error).message));
    }
  }

  /** A group goes to the first pool (best first) that takes every one of its volume types. */
  private async createGroup(groupId: string, requestId?: string) {
    const g = await this.groups.get(groupId);
    if (!g || g.status !== 'creating') return;
    try {
      const typeIds = json<string[]>(g.volume_type_ids, []);
      const types = typeIds.length
        ? await this.db.selectFrom('volume_types').selectAll().where('id', 'in', typeIds).execute()
        : [];
      let pools = await this.select(0, g.availability_zone, {});
      for (const t of types) {
        const ok = new Set((await this.select(0, g.availability_zone, specsOf(t))).map((p) => p.name));
        pools = pools.filter((p) => ok.has(p.name));
      }
      const pool = pools[0];
      if (!pool) {
        this.log.warn({ group: groupId }, 'group not scheduled: no valid backend');
        await this.groups.update(g.id, { status: 'error' }, { status: ['creating'] });
        return;
      }
      await this.groups.update(g.id, { host: pool.name });
      volumeRpc(this.bus).cast(pool.backend).create_group({ group_id: g.id, request_id: requestId });
    } catch (err) {
      this.log.error({ err, group: groupId }, 'group scheduling failed');
      await this.groups.update(g.id, { status: 'error' }, { status: ['creating'] });
    }
  }

  private async placeFor(v: VolumeRow): Promise<PoolState | undefined> {
    // A volume made from another one's bytes goes to that one's backend.
    const src = v.source_volid
      ? await this.volumes.get(v.source_volid)
      : v.snapshot_id
        ? await this.volumes.snapshot(v.snapshot_id).then((s) => s && this.volumes.get(s.volume_id))
        : undefined;
    const type = await this.db
      .selectFrom('volume_types')
      .selectAll()
      .where('id', '=', v.volume_type_id)
      .executeTakeFirst();
    const specs = type ? specsOf(type) : {};
    const pools = await this.select(v.size, v.availability_zone, specs);
    // A volume of a group goes to the group's backend.
    const group = v.group_id ? await this.groups.get(v.group_id) : undefined;
    if (group?.host)
      return pools.find((p) => p.name === group.host) ?? pools.find((p) => p.backend === group.host?.split('#')[0]);
    if (src?.host)
      return pools.find((p) => p.name === src.host) ?? pools.find((p) => p.backend === src.host?.split('#')[0]);
    return pools[0];
  }

  private async fail(v: VolumeRow, requestId: string | undefined, why: string) {
    this.log.warn({ volume: v.id, why }, 'volume not scheduled');
    await this.volumes.update(v.id, { status: VolumeStatus.ERROR }, { status: [VolumeStatus.CREATING] });
    await this.messages.create({
      projectId: v.project_id,
      requestId,
      resourceType: 'VOLUME',
      resourceId: v.id,
      action: Action.SCHEDULE_ALLOCATE_VOLUME,
      detail: Detail.NO_BACKEND_AVAILABLE,
    });
  }
}

/** The free space the capacity weigher ranks by (thin: over-subscribed). */
function freeVirtual(p: PoolStats): number {
  const reserved = (p.total_capacity_gb * p.reserved_percentage) / 100;
  if (p.thin_provisioning_support && p.max_over_subscription_ratio >= 1)
    return p.total_capacity_gb * p.max_over_subscription_ratio - p.provisioned_capacity_gb - reserved;
  return p.free_capacity_gb - reserved;
}

/** Cinder's CapacityFilter. */
export function capacityOk(p: PoolStats, size: number): boolean {
  const reserved = Math.floor((p.total_capacity_gb * p.reserved_percentage) / 100);
  const free = p.free_capacity_gb - reserved;
  if (free < 0) return false;
  if (p.thin_provisioning_support && p.max_over_subscription_ratio >= 1) {
    const ratio = (p.provisioned_capacity_gb + size) / Math.max(1, p.total_capacity_gb);
    if (ratio > p.max_over_subscription_ratio) return false;
    return free * p.max_over_subscription_ratio >= size;
  }
  return free >= size;
}

/** Cinder's CapabilitiesFilter: each unscoped or `capabilities:` extra spec against the pool. */
export function capabilitiesOk(p: PoolState, specs: Record<string, string>): boolean {
  const caps: Record<string, unknown> = { ...p.stats, ...p.pool };
  delete caps.pools;
  for (const [key, want] of Object.entries(specs)) {
    const scope = key.split(':');
    if (scope.length > 1 && scope[0] !== 'capabilities') continue;
    const name = scope[0] === 'capabilities' ? scope.slice(1).join(':') : key;
    // Cinder answers the volume type's own settings, not the backend's.
    if (name === 'multiattach' || name === 'replication_enabled') continue;
    if (!(name in caps)) return false;
    if (!matchSpec(want, caps[name])) return false;
  }
  return true;
}
