// Server groups (nova.objects.InstanceGroup): the groups, their policy and rules, their members.
import { randomUUID } from 'node:crypto';
import { json, now } from '../core/db.ts';
import type { Kysely, Selectable } from 'kysely';
import type { ComputeDb, ServerGroupsTable } from './db/schema.ts';

export interface ServerGroup {
  id: number;
  uuid: string;
  /** Always given at create; the column is nullable as Nova's. */
  name: string | null;
  project_id: string;
  user_id: string;
  policy: string;
  rules: Record<string, number>;
  members: string[];
  created_at: string;
}

export class ServerGroupStore {
  constructor(private db: Kysely<ComputeDb>) {}

  private async withMembers(rows: Selectable<ServerGroupsTable>[]): Promise<ServerGroup[]> {
    if (!rows.length) return [];
    const uuids = rows.map((r) => r.uuid);
    const members = await this.db
      .selectFrom('server_group_members')
      .select(['group_uuid', 'instance_uuid'])
      .where('group_uuid', 'in', uuids)
      .orderBy('created_at')
      .execute();
    // Members whose server is gone are not shown (Nova's _get_not_deleted).
    const live = await this.liveInstances(members.map((m) => m.instance_uuid));
    return rows.map((r) => ({
      id: Number(r.id),
      uuid: r.uuid,
      name: r.name,
      project_id: r.project_id,
      user_id: r.user_id,
      policy: r.policy,
      rules: json<ServerGroup['rules']>(r.rules, {}),
      created_at: r.created_at,
      members: members
        .filter((m) => m.group_uuid === r.uuid && (!live || live.has(m.instance_uuid)))
        .map((m) => m.instance_uuid),
    }));
  }

  /** The instances that exist and are not deleted, or null when there is no instances table. */
  private async liveInstances(uuids: string[]): Promise<Set<string> | null> {
    if (!uuids.length) return new Set();
    try {
      const rows = await this.db
        .selectFrom('instances')
        .select('uuid')
        .where('uuid', 'in', uuids)
        .where('deleted', '=', 0)
        .execute();
      return new Set(rows.map((r) => r.uuid));
    } catch {
      return null;
    }
  }

  async get(uuid: string): Promise<ServerGroup | undefined> {
    const r = await this.db.selectFrom('server_groups').selectAll().where('uuid', '=', uuid).executeTakeFirst();
    return r ? (await this.withMembers([r]))[0] : undefined;
  }

  async list(projectId?: string): Promise<ServerGroup[]> {
    const rows = await this.db
      .selectFrom('server_groups')
      .selectAll()
      .$if(projectId !== undefined, (q) => q.where('project_id', '=', projectId!))
      .orderBy('id')
      .execute();
    return this.withMembers(rows);
  }

  async count(projectId: string, userId?: string): Promise<number> {
    const r = await this.db
      .selectFrom('server_groups')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('project_id', '=', projectId)
      .$if(!!userId, (q) => q.where('user_id', '=', userId!))
      .executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  async create(g: {
    name: string;
    project_id: string;
    user_id: string;
    policy: string;
    rules: Record<string, number>;
  }): Promise<ServerGroup> {
    const uuid = randomUUID();
    await this.db
      .insertInto('server_groups')
      .values({
        uuid,
        name: g.name,
        project_id: g.project_id,
        user_id: g.user_id,
        policy: g.policy,
        rules: JSON.stringify(g.rules),
        created_at: now(),
      })
      .execute();
    return (await this.get(uuid))!;
  }

  async destroy(uuid: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const r = await trx.deleteFrom('server_groups').where('uuid', '=', uuid).executeTakeFirst();
      await trx.deleteFrom('server_group_members').where('group_uuid', '=', uuid).execute();
      return Number(r.numDeletedRows) > 0;
    });
  }

  /** Adds servers to a group (server create with the `group` hint). */
  async addMembers(groupUuid: string, instanceUuids: string[]) {
    for (const instance_uuid of instanceUuids) {
      await this.db
        .deleteFrom('server_group_members')
        .where('group_uuid', '=', groupUuid)
        .where('instance_uuid', '=', instance_uuid)
        .execute();
      await this.db
        .insertInto('server_group_members')
        .values({ group_uuid: groupUuid, instance_uuid, created_at: now() })
        .execute();
    }
  }

  /** Removes a server from every group (when it is deleted). */
  async removeInstance(instanceUuid: string) {
    await this.db.deleteFrom('server_group_members').where('instance_uuid', '=', instanceUuid).execute();
  }

  /** The group a server belongs to, if any. */
  async groupOf(instanceUuid: string): Promise<ServerGroup | undefined> {
    const m = await this.db
      .selectFrom('server_group_members')
      .select('group_uuid')
      .where('instance_uuid', '=', instanceUuid)
      .executeTakeFirst();
    return m ? this.get(m.group_uuid) : undefined;
  }
}
