// Instances as the API, the conductor and the agents share them: rows of `instances` turned
// into objects and back, state changes, faults, tags, and the instance actions with their
// events (os-instance-actions). Nova's vm_state / task_state / power_state vocabulary.
import type { SubnetMeta } from './subnet_meta.ts';
import { randomUUID } from 'node:crypto';
import type { Insertable, Kysely, Selectable, Updateable } from 'kysely';
import type { ComputeDb, InstanceActionsTable, InstancesTable } from './db/schema.ts';
import { bool, json, now, precompiled, sortedTags } from '../core/db.ts';
import type { Flavor } from './service.ts';

export const VmState = {
  ACTIVE: 'active',
  BUILDING: 'building',
  PAUSED: 'paused',
  SUSPENDED: 'suspended',
  STOPPED: 'stopped',
  RESCUED: 'rescued',
  RESIZED: 'resized',
  SOFT_DELETED: 'soft-delete',
  DELETED: 'deleted',
  ERROR: 'error',
  SHELVED: 'shelved',
  SHELVED_OFFLOADED: 'shelved_offloaded',
} as const;

/**
 * A hostname from a display name, as nova.utils.sanitize_hostname makes it (Wallaby on): the
 * characters outside U+0000-U+00FF dropped, truncated to 63 (dnsmasq's limit), spaces,
 * underscores and dots turned into dashes (so `guest-1.domain.com` is `guest-1-domain-com`,
 * tempest's hostname_fqdn_sanitization), what is not a word character, dot or dash removed,
 * lower-cased, dots and dashes stripped from both ends. '' when nothing is left.
 */
/** The server asked for a config drive (its `config_drive` is set, and not 'False' or '0'). */
export function wantsConfigDrive(i: Pick<Instance, 'config_drive'>): boolean {
  const c = String(i.config_drive ?? '').toLowerCase();
  return c !== '' && c !== 'false' && c !== '0';
}

export function sanitizeHostname(name: string): string {
  return (
    [...name]
      .filter((c) => c.codePointAt(0)! <= 0xff)
      .join('')
      .slice(0, 63)
      .replace(/[ _.]/g, '-')
      // Python's \w on str: letters, digits (any script) and the underscore.
      .replace(/[^\p{L}\p{N}_.-]+/gu, '')
      .toLowerCase()
      .replace(/^[.-]+|[.-]+$/g, '')
  );
}

/**
 * The hostname Nova gives a server created without one (compute.api._populate_instance_names):
 * its sanitised name, `Server-<uuid>` when that is empty, `-<n>` appended (n from 1) when one
 * request creates several.
 */
export function defaultHostname(name: string, uuid: string, count: number, index: number): string {
  const h = sanitizeHostname(name);
  if (!h) return `Server-${uuid}`;
  return count > 1 ? `${h}-${index + 1}` : h;
}

/** Nova's power states (nova.compute.power_state). */
export const PowerState = { NOSTATE: 0, RUNNING: 1, PAUSED: 3, SHUTDOWN: 4, CRASHED: 6, SUSPENDED: 7 } as const;

/** One port of a server as the info cache keeps it (Nova's network_info, reduced). */
export interface Vif {
  port_id: string;
  network_id: string;
  network_label: string;
  mac_address: string;
  fixed_ips: Array<{ ip_address: string; subnet_id: string; version: number; subnet?: SubnetMeta }>;
  floating_ips?: string[];
  /** The user brought this port: it is unbound, not deleted, with the server. */
  preserve_on_delete: boolean;
  /** The device tag given when the port was attached (os-interface 2.49, shown from 2.70). */
  tag?: string | null;
}

export interface Fault {
  code: number;
  message: string;
  details?: string;
  created: string;
}

/** A server as the code uses it: its `instances` row with the JSON columns parsed and the flags as booleans. */
export interface Instance
  extends Omit<
    Selectable<InstancesTable>,
    | (typeof JSON_COLUMNS)[number]
    | 'config_drive'
    | 'locked'
    | 'deleted'
    | 'vcpus'
    | 'memory_mb'
    | 'root_gb'
    | 'ephemeral_gb'
  > {
  flavor: Flavor;
  config_drive: string;
  metadata: Record<string, string>;
  system_metadata: Record<string, unknown>;
  security_groups: Array<{ name: string; id?: string }>;
  /** What the create request asked for ({network_id?, port_id?, fixed_ip?} or 'auto' / 'none'). */
  requested_networks: RequestedNetwork[];
  network_info: Vif[];
  fault: Fault | null;
  locked: boolean;
  trusted_certs: string[] | null;
  tags: string[];
  deleted: boolean;
}

export interface RequestedNetwork {
  network_id?: string;
  port_id?: string;
  fixed_ip?: string;
  tag?: string;
}

const JSON_COLUMNS = [
  'flavor',
  'metadata',
  'system_metadata',
  'security_groups',
  'requested_networks',
  'network_info',
  'fault',
  'trusted_certs',
] as const;

/** The columns of `instances` that are not JSON (what list filters and sort keys read). */
const LIGHT_COLUMNS = [
  'uuid',
  'display_name',
  'display_description',
  'project_id',
  'user_id',
  'image_ref',
  'host',
  'node',
  'availability_zone',
  'vm_state',
  'task_state',
  'power_state',
  'key_name',
  'config_drive',
  'access_ip_v4',
  'access_ip_v6',
  'locked',
  'locked_by',
  'hostname',
  'launch_index',
  'reservation_id',
  'progress',
  'launched_at',
  'terminated_at',
  'created_at',
  'updated_at',
  'deleted_at',
  'deleted',
] as const;

// Whole rows ride along, the flavor's size columns (vcpus, memory_mb, root_gb, ephemeral_gb)
// too: dropping them (a rest copy, or a 39-column select) made the server lists 3x slower and
// doubled the memory of a 3,000-server fill (bench compute). They are read by hostUsage only.
type InstanceRow = Selectable<InstancesTable>;
/** A row of instance_actions (os-instance-actions). */
export type InstanceAction = Selectable<InstanceActionsTable>;
/** A row of `instances`: whole, or only the light columns (listLight), the others then undefined. */
type InstanceRowIn = Pick<InstanceRow, (typeof LIGHT_COLUMNS)[number]> & Partial<InstanceRow>;

export function rowToInstance(r: InstanceRowIn, tags: string[] = []): Instance {
  return {
    // A light row's missing columns stay undefined, as listLight says.
    ...(r as InstanceRow),
    // A light row's flavor is empty, as its other JSON columns.
    flavor: json<Flavor>(r.flavor, {} as Flavor),
    metadata: json<Instance['metadata']>(r.metadata, {}),
    system_metadata: json<Instance['system_metadata']>(r.system_metadata, {}),
    security_groups: json<Instance['security_groups']>(r.security_groups, []),
    requested_networks: json<Instance['requested_networks']>(r.requested_networks, []),
    network_info: json<Instance['network_info']>(r.network_info, []),
    fault: json<Instance['fault']>(r.fault, null),
    trusted_certs: json<Instance['trusted_certs']>(r.trusted_certs, null),
    locked: bool(r.locked),
    deleted: bool(r.deleted),
    power_state: Number(r.power_state),
    launch_index: Number(r.launch_index),
    progress: Number(r.progress),
    config_drive: r.config_drive ?? '',
    tags,
  };
}

/** The sizes of a flavor as the instances columns that repeat them. */
function flavorColumns(f: { vcpus?: number; ram?: number; disk?: number; ephemeral?: number }) {
  return { vcpus: f.vcpus ?? 0, memory_mb: f.ram ?? 0, root_gb: f.disk ?? 0, ephemeral_gb: f.ephemeral ?? 0 };
}

/** The columns of an instance or a patch of one: JSON columns as text, booleans as 0/1, tags left out. */
function toRow(patch: Partial<Instance>): Updateable<InstancesTable> {
  const row: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(patch)) {
    if (k === 'tags') continue;
    if ((JSON_COLUMNS as readonly string[]).includes(k)) row[k] = v === null ? null : JSON.stringify(v);
    else if (typeof v === 'boolean') row[k] = v ? 1 : 0;
    else row[k] = v;
  }
  // After the loop: a whole instance's stale size columns must not win over its flavor.
  if (patch.flavor) Object.assign(row, flavorColumns(patch.flavor));
  // Built field by field from an Instance, whose fields are instances' columns (the loop's conversions).
  return row as Updateable<InstancesTable>;
}

// The hot reads of a server (every GET /servers/{id}, every step of a build), compiled once
// (core/db.ts precompiled: Kysely builds and compiles a query at every run, which costs more
// than SQLite takes to run it).
const instanceLive = precompiled<'uuid', ComputeDb>(['uuid'], (db, p) =>
  db.selectFrom('instances').selectAll().where('uuid', '=', p.uuid).where('deleted', '=', 0),
);
const instanceAny = precompiled<'uuid', ComputeDb>(['uuid'], (db, p) =>
  db.selectFrom('instances').selectAll().where('uuid', '=', p.uuid),
);
const instanceWithVolumeFlag = precompiled<'uuid', ComputeDb>(['uuid'], (db, p) =>
  db
    .selectFrom('instances')
    .selectAll('instances')
    .select((eb) =>
      eb
        .exists(
          eb
            .selectFrom('block_device_mapping')
            .select('block_device_mapping.id')
            .whereRef('block_device_mapping.instance_uuid', '=', 'instances.uuid')
            .where('block_device_mapping.deleted', '=', 0)
            .where('block_device_mapping.destination_type', '=', 'volume'),
        )
        .as('has_volumes'),
    )
    .where('instances.uuid', '=', p.uuid)
    .where('instances.deleted', '=', 0),
);
const tagsOfInstance = precompiled<'uuid', ComputeDb>(['uuid'], (db, p) =>
  db.selectFrom('instance_tags').select('tag').where('instance_uuid', '=', p.uuid),
);
// The newest action of a request and the newest event of an action (rows[0]). No LIMIT: a bound
// LIMIT makes SQLite's statement about twice as long to run (measured in the create → ACTIVE
// bench: 70 against 19 µs in process, every build step reads both); a request has one action and
// an action one row per event, so there is nothing to cut.
const actionOf = precompiled<'uuid' | 'requestId', ComputeDb>(['uuid', 'requestId'], (db, p) =>
  db
    .selectFrom('instance_actions')
    .select('id')
    .where('instance_uuid', '=', p.uuid)
    .where('request_id', '=', p.requestId)
    .orderBy('id', 'desc'),
);
const eventOf = precompiled<'actionId' | 'event', ComputeDb>(['actionId', 'event'], (db, p) =>
  db
    .selectFrom('instance_action_events')
    .select('id')
    .where('action_id', '=', p.actionId)
    .where('event', '=', p.event)
    .orderBy('id', 'desc'),
);

/**
 * The update of one server, compiled once for each shape (its columns, how many task and vm
 * states it expects): a build updates its server at every step. `ts`: expected task states
 * (undefined: none expected), `withNull`: a null task state is expected too.
 */
const updates = new Map<string, ReturnType<typeof precompiled<string, ComputeDb>>>();
function updateOf(columns: string[], ts: number | undefined, withNull: boolean, vm: number | undefined) {
  const key = `${columns.join(',')}|${ts ?? '-'}|${withNull}|${vm ?? '-'}`;
  let u = updates.get(key);
  if (!u) {
    const names = [
      'uuid',
      ...columns.map((c) => `c_${c}`),
      ...Array.from({ length: ts ?? 0 }, (_, i) => `ts${i}`),
      ...Array.from({ length: vm ?? 0 }, (_, i) => `vm${i}`),
    ];
    u = precompiled<string, ComputeDb>(names, (db, p) => {
      let q = db
        .updateTable('instances')
        .set(Object.fromEntries(columns.map((c) => [c, p[`c_${c}`]])))
        .where('uuid', '=', p.uuid)
        .where('deleted', '=', 0);
      if (ts !== undefined) {
        const tsNames = Array.from({ length: ts }, (_, i) => p[`ts${i}`]);
        q = q.where((eb) => {
          const ors = [];
          if (tsNames.length) ors.push(eb('task_state', 'in', tsNames));
          if (withNull) ors.push(eb('task_state', 'is', null));
          return eb.or(ors);
        });
      }
      if (vm !== undefined)
        q = q.where(
          'vm_state',
          'in',
          Array.from({ length: vm }, (_, i) => p[`vm${i}`]),
        );
      return q;
    });
    // The shapes are those of the code's calls; a bound all the same.
    if (updates.size < 500) updates.set(key, u);
  }
  return u;
}

export class InstanceStore {
  constructor(public db: Kysely<ComputeDb>) {}

  async create(inst: Omit<Instance, 'created_at' | 'updated_at' | 'deleted_at' | 'deleted'>): Promise<Instance> {
    const t = now();
    const full: Instance = { ...inst, created_at: t, updated_at: t, deleted_at: null, deleted: false };
    await this.db.transaction().execute(async (tx) => {
      // A whole instance sets every column without a default.
      await tx
        .insertInto('instances')
        .values(toRow(full) as Insertable<InstancesTable>)
        .execute();
      for (const tag of inst.tags)
        await tx.insertInto('instance_tags').values({ instance_uuid: inst.uuid, tag }).execute();
    });
    return full;
  }

  async get(uuid: string, opts: { readDeleted?: boolean } = {}): Promise<Instance | null> {
    const q = opts.readDeleted ? instanceAny : instanceLive;
    const r = (await q<InstanceRow>(this.db, { uuid })).rows[0];
    if (!r) return null;
    return rowToInstance(r, await this.tagsOfOne(uuid));
  }

  /**
   * A server and whether it has a volume (a live block device mapping onto a volume), in one
   * statement: the server view reads the mappings (`volumes_attached`) only when it has one.
   */
  async getWithVolumeFlag(uuid: string): Promise<{ inst: Instance; hasVolumes: boolean } | null> {
    const r = (await instanceWithVolumeFlag<InstanceRow & { has_volumes: unknown }>(this.db, { uuid })).rows[0];
    if (!r) return null;
    const { has_volumes, ...row } = r;
    return { inst: rowToInstance(row, await this.tagsOfOne(uuid)), hasVolumes: bool(has_volumes) };
  }

  /** One server's tags, sorted. */
  private async tagsOfOne(uuid: string): Promise<string[]> {
    const rows = (await tagsOfInstance<{ tag: string }>(this.db, { uuid })).rows;
    return rows.map((r) => r.tag).sort();
  }

  async list(where: { projectId?: string; deleted?: boolean; host?: string } = {}): Promise<Instance[]> {
    let q = this.db.selectFrom('instances').selectAll();
    if (where.projectId) q = q.where('project_id', '=', where.projectId);
    if (where.deleted === false) q = q.where('deleted', '=', 0);
    if (where.host) q = q.where('host', '=', where.host);
    const rows = await q.execute();
    const tags = await this.tagsOf(rows.map((r) => r.uuid));
    return rows.map((r) => rowToInstance(r, tags.get(r.uuid) ?? []));
  }

  /**
   * Instances without their JSON columns and tags (flavor, metadata, network_info, ... come back
   * empty): enough to filter and sort a list of thousands, whose page is then read with getMany.
   */
  async listLight(where: { projectId?: string; deleted?: boolean } = {}): Promise<Instance[]> {
    let q = this.db.selectFrom('instances').select(LIGHT_COLUMNS);
    if (where.projectId) q = q.where('project_id', '=', where.projectId);
    if (where.deleted === false) q = q.where('deleted', '=', 0);
    return (await q.execute()).map((r) => rowToInstance(r));
  }

  /**
   * One page of a list without filters, in SQL: live instances (of a project) ordered by
   * created_at/uuid, after the marker's position (keyset), at most `limit` (light, as listLight).
   * Null when the marker is not one of them.
   */
  async pageLight(o: {
    projectId?: string;
    order: Array<{ key: 'created_at' | 'uuid'; dir: 'asc' | 'desc' }>;
    marker?: string;
    limit: number;
  }): Promise<{ items: Instance[]; more: boolean } | null> {
    let q = this.db.selectFrom('instances').select(LIGHT_COLUMNS).where('deleted', '=', 0);
    if (o.projectId) q = q.where('project_id', '=', o.projectId);
    if (o.marker !== undefined) {
      let mq = this.db
        .selectFrom('instances')
        .select(['created_at', 'uuid'])
        .where('uuid', '=', o.marker)
        .where('deleted', '=', 0);
      if (o.projectId) mq = mq.where('project_id', '=', o.projectId);
      const m = await mq.executeTakeFirst();
      if (!m) return null;
      // After the marker: greater (or less) on the first key, or equal on it and after on the next, ...
      q = q.where((eb) =>
        eb.or(
          o.order.map((k, n) =>
            eb.and([
              ...o.order.slice(0, n).map((p) => eb(p.key, '=', m[p.key])),
              eb(k.key, k.dir === 'asc' ? '>' : '<', m[k.key]),
            ]),
          ),
        ),
      );
    }
    for (const k of o.order) q = q.orderBy(k.key, k.dir);
    const rows = await q.limit(o.limit + 1).execute();
    return { items: rows.slice(0, o.limit).map((r) => rowToInstance(r)), more: rows.length > o.limit };
  }

  /** Whole instances (deleted ones too) by uuid, in the order asked. */
  async getMany(uuids: string[]): Promise<Instance[]> {
    const rows = new Map<string, InstanceRow>();
    for (let i = 0; i < uuids.length; i += 500) {
      for (const r of await this.db
        .selectFrom('instances')
        .selectAll()
        .where('uuid', 'in', uuids.slice(i, i + 500))
        .execute())
        rows.set(r.uuid, r);
    }
    const tags = await this.tagsOf(uuids);
    return uuids.filter((u) => rows.has(u)).map((u) => rowToInstance(rows.get(u)!, tags.get(u) ?? []));
  }

  async tagsOf(uuids: string[]): Promise<Map<string, string[]>> {
    return sortedTags(uuids, (chunk) =>
      this.db
        .selectFrom('instance_tags')
        .select(['instance_uuid as owner', 'tag'])
        .where('instance_uuid', 'in', chunk)
        .execute(),
    );
  }

  /**
   * Updates an instance. With `expectTaskState` the update happens only when the current
   * task_state is one of those (Nova's expected_task_state): returns false otherwise.
   */
  async update(
    uuid: string,
    patch: Partial<Instance>,
    opts: { expectTaskState?: Array<string | null>; expectVmState?: string[] } = {},
  ): Promise<boolean> {
    // As Kysely's set(): an undefined value leaves the column alone.
    const row = Object.fromEntries(
      Object.entries({ ...toRow(patch), updated_at: now() }).filter(([, v]) => v !== undefined),
    );
    const taskStates = opts.expectTaskState?.filter((x): x is string => x !== null);
    const withNull = !!opts.expectTaskState?.includes(null);
    const vmStates = opts.expectVmState;
    const values: Record<string, unknown> = { uuid };
    for (const [k, v] of Object.entries(row)) values[`c_${k}`] = v;
    taskStates?.forEach((v, i) => (values[`ts${i}`] = v));
    vmStates?.forEach((v, i) => (values[`vm${i}`] = v));
    const res = await updateOf(Object.keys(row), taskStates?.length, withNull, vmStates?.length)(this.db, values);
    return Number(res.numAffectedRows ?? 0) > 0;
  }

  async setTags(uuid: string, tags: string[]) {
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('instance_tags').where('instance_uuid', '=', uuid).execute();
      for (const tag of tags) await tx.insertInto('instance_tags').values({ instance_uuid: uuid, tag }).execute();
      await tx.updateTable('instances').set({ updated_at: now() }).where('uuid', '=', uuid).execute();
    });
  }

  /** What the instances of a host use (the resource audit's sums: Nova's instances columns). */
  async hostUsage(host: string): Promise<{ count: number; vcpus: number; memory_mb: number; disk_gb: number }> {
    const r = await this.db
      .selectFrom('instances')
      .select((eb) => [
        eb.fn.countAll().as('count'),
        eb.fn.sum('vcpus').as('vcpus'),
        eb.fn.sum('memory_mb').as('memory_mb'),
        eb.fn.sum(eb('root_gb', '+', eb.ref('ephemeral_gb'))).as('disk_gb'),
      ])
      .where('host', '=', host)
      .where('deleted', '=', 0)
      .executeTakeFirstOrThrow();
    return {
      count: Number(r.count),
      vcpus: Number(r.vcpus ?? 0),
      memory_mb: Number(r.memory_mb ?? 0),
      disk_gb: Number(r.disk_gb ?? 0),
    };
  }

  /** Soft delete, as Nova keeps deleted instances readable by admins and changes-since. */
  async markDeleted(uuid: string) {
    const t = now();
    await this.db
      .updateTable('instances')
      .set({
        deleted: 1,
        deleted_at: t,
        updated_at: t,
        terminated_at: t,
        vm_state: VmState.DELETED,
        task_state: null,
        power_state: PowerState.NOSTATE,
      })
      .where('uuid', '=', uuid)
      .execute();
  }

  async setFault(uuid: string, code: number, message: string, details?: string) {
    const fault: Fault = { code, message, details, created: now() };
    await this.db
      .updateTable('instances')
      .set({ fault: JSON.stringify(fault), updated_at: now() })
      .where('uuid', '=', uuid)
      .execute();
  }

  // ---- instance actions and events ----------------------------------------------------

  async startAction(a: {
    instance_uuid: string;
    action: string;
    request_id: string;
    user_id?: string;
    project_id?: string;
  }): Promise<void> {
    const t = now();
    await this.db
      .insertInto('instance_actions')
      .values({ ...a, start_time: t, updated_at: t, message: null })
      .execute();
  }

  private async actionId(uuid: string, requestId: string): Promise<number | null> {
    const r = (await actionOf<{ id: number | string }>(this.db, { uuid, requestId })).rows[0];
    return r ? Number(r.id) : null;
  }

  async startEvent(uuid: string, requestId: string, event: string, host?: string): Promise<void> {
    const id = await this.actionId(uuid, requestId);
    if (id === null) return;
    const t = now();
    await this.db
      .insertInto('instance_action_events')
      .values({ action_id: id, event, start_time: t, host: host ?? null })
      .execute();
    await this.db.updateTable('instance_actions').set({ updated_at: t }).where('id', '=', id).execute();
  }

  async finishEvent(
    uuid: string,
    requestId: string,
    event: string,
    result: 'Success' | 'Error',
    traceback?: string,
  ): Promise<void> {
    const id = await this.actionId(uuid, requestId);
    if (id === null) return;
    const t = now();
    const ev = (await eventOf<{ id: number }>(this.db, { actionId: id, event })).rows[0];
    if (ev)
      await this.db
        .updateTable('instance_action_events')
        .set({ finish_time: t, result, traceback: traceback ?? null })
        .where('id', '=', ev.id)
        .execute();
    else
      await this.db
        .insertInto('instance_action_events')
        .values({ action_id: id, event, start_time: t, finish_time: t, result, traceback: traceback ?? null })
        .execute();
    const patch: Updateable<InstanceActionsTable> = { updated_at: t };
    if (result === 'Error') patch.message = 'Error';
    await this.db.updateTable('instance_actions').set(patch).where('id', '=', id).execute();
  }

  /** Runs fn as an event of an action, recording its start, end and result. */
  async event<T>(
    uuid: string,
    requestId: string,
    event: string,
    host: string | undefined,
    fn: () => Promise<T>,
  ): Promise<T> {
    await this.startEvent(uuid, requestId, event, host);
    try {
      const out = await fn();
      await this.finishEvent(uuid, requestId, event, 'Success');
      return out;
    } catch (e) {
      await this.finishEvent(uuid, requestId, event, 'Error', (e as Error)?.stack ?? String(e));
      throw e;
    }
  }

  async actions(uuid: string) {
    return this.db
      .selectFrom('instance_actions')
      .selectAll()
      .where('instance_uuid', '=', uuid)
      .orderBy('id', 'desc')
      .execute();
  }

  async action(uuid: string, requestId: string) {
    const a = await this.db
      .selectFrom('instance_actions')
      .selectAll()
      .where('instance_uuid', '=', uuid)
      .where('request_id', '=', requestId)
      .orderBy('id', 'desc')
      .executeTakeFirst();
    if (!a) return null;
    const events = await this.db
      .selectFrom('instance_action_events')
      .selectAll()
      .where('action_id', '=', a.id)
      .orderBy('id')
      .execute();
    return { action: a, events };
  }
}

export const newRequestId = () => `req-${randomUUID()}`;
