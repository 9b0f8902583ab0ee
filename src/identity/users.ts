// Users, their passwords (bcrypt, with Keystone's security-compliance rules) and groups.
import bcrypt from 'bcrypt';
import { ApiError, badRequest } from '../core/errors.ts';
import { bool, int, isUniqueViolation, json, now } from '../core/db.ts';
import { IdentityBackend, newId, notFound, isoMicroNoZ, storing, type Patch } from './backend.ts';
import type { Selectable } from 'kysely';
import type { GroupTable } from './db/schema.ts';

export interface UserRow {
  id: string;
  name: string;
  domain_id: string;
  enabled: number;
  default_project_id: string | null;
  extra: string | null;
  options: string | null;
  created_at: string | null;
  last_active_at: string | null;
  failed_auth_count: number;
  failed_auth_at: string | null;
}
export interface User {
  id: string;
  name: string;
  domain_id: string;
  enabled: boolean;
  default_project_id: string | null;
  extra: Record<string, unknown>;
  options: Record<string, unknown>;
  password_expires_at: string | null;
}
export interface Group {
  id: string;
  name: string;
  domain_id: string;
  description: string;
  extra: Record<string, unknown>;
}

export const USER_OPTIONS = new Set([
  'ignore_change_password_upon_first_use',
  'ignore_password_expiry',
  'ignore_lockout_failure_attempts',
  'lock_password',
  'multi_factor_auth_enabled',
  'multi_factor_auth_rules',
  'ignore_user_inactivity',
]);

const authFailed = () => new ApiError(401, 'The request you have made requires authentication.', 'Unauthorized');

export class UserManager {
  /** Users and group memberships by user id, dropped on any identity change. */
  private cache = new Map<string, User>();
  private groupsCache = new Map<string, string[]>();
  /** Users with no federated (expiring) group membership: not read again until an identity change. */
  private noExpiring = new Set<string>();
  /**
   * Minutes a federated login's group memberships count when their identity provider has no
   * authorization_ttl (federation's defaultAuthorizationTtl; null: until the next login).
   */
  defaultAuthorizationTtl: number | null = null;
  constructor(private b: IdentityBackend) {
    b.onChange(() => {
      this.cache.clear();
      this.groupsCache.clear();
      this.noExpiring.clear();
    });
  }

  private async passwordExpiry(ids: string[]): Promise<Map<string, string | null>> {
    const m = new Map<string, string | null>();
    if (!ids.length) return m;
    const rows = await this.b.db
      .selectFrom('password')
      .select(['user_id', 'expires_at', 'id'])
      .where('user_id', 'in', ids)
      .orderBy('id')
      .execute();
    for (const r of rows) m.set(r.user_id, r.expires_at);
    return m;
  }

  private toUser(r: UserRow, expires: string | null): User {
    return {
      id: r.id,
      name: r.name,
      domain_id: r.domain_id,
      enabled: bool(r.enabled),
      default_project_id: r.default_project_id,
      extra: json(r.extra, {}),
      options: json(r.options, {}),
      password_expires_at: isoMicroNoZ(expires),
    };
  }

  async find(id: string): Promise<User | undefined> {
    const hit = this.cache.get(id);
    if (hit) return hit;
    const r = await this.b.db.selectFrom('user').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) return undefined;
    const u = this.toUser(r as UserRow, (await this.passwordExpiry([id])).get(id) ?? null);
    if (this.cache.size > 10000) this.cache.clear();
    this.cache.set(id, u);
    return u;
  }
  async get(id: string): Promise<User> {
    const u = await this.find(id);
    if (!u) throw notFound('user', id);
    return u;
  }
  async findByName(name: string, domainId: string): Promise<User | undefined> {
    const r = await this.b.db
      .selectFrom('user')
      .selectAll()
      .where('name', '=', name)
      .where('domain_id', '=', domainId)
      .executeTakeFirst();
    return r ? this.toUser(r as UserRow, (await this.passwordExpiry([r.id])).get(r.id) ?? null) : undefined;
  }

  async list(filter: {
    domainId?: string;
    name?: string;
    enabled?: boolean;
    ids?: string[];
    passwordExpiresAt?: { op: string; at: string };
  }): Promise<User[]> {
    let q = this.b.db.selectFrom('user').selectAll();
    if (filter.domainId !== undefined) q = q.where('domain_id', '=', filter.domainId);
    if (filter.name !== undefined) q = q.where('name', '=', filter.name);
    if (filter.enabled !== undefined) q = q.where('enabled', '=', int(filter.enabled));
    if (filter.ids) {
      if (!filter.ids.length) return [];
      q = q.where('id', 'in', filter.ids);
    }
    const rows = (await q.orderBy('name').execute()) as UserRow[];
    const exp = await this.passwordExpiry(rows.map((r) => r.id));
    let users = rows.map((r) => this.toUser(r as UserRow, exp.get(r.id) ?? null));
    if (filter.passwordExpiresAt) {
      const { op, at } = filter.passwordExpiresAt;
      const t = Date.parse(at);
      const cmp: Record<string, (x: number) => boolean> = {
        lt: (x) => x < t,
        lte: (x) => x <= t,
        gt: (x) => x > t,
        gte: (x) => x >= t,
        eq: (x) => x === t,
        neq: (x) => x !== t,
      };
      const f = cmp[op];
      if (!f) throw badRequest(`Invalid operator ${op} for password_expires_at.`, 'ValidationError');
      users = users.filter((u) => u.password_expires_at && f(Date.parse(u.password_expires_at + 'Z')));
    }
    return users;
  }

  /** Keystone's password_regex check: 400 with the configured description. */
  validatePassword(password: string) {
    const sc = this.b.config.identity.securityCompliance;
    if (sc.passwordRegex && !new RegExp(sc.passwordRegex).test(password)) {
      throw badRequest(
        `Password validation error: The password does not meet the requirements: ${sc.passwordRegexDescription || sc.passwordRegex}.`,
        'PasswordValidationError',
      );
    }
  }

  hash(password: string): Promise<string> {
    return bcrypt.hash(password, this.b.config.identity.passwordHashRounds);
  }

  /** A row of the user's password history: the hash and when it expires (a self-service change counts apart). */
  private passwordRow(userId: string, hash: string, options: Record<string, unknown>, selfService: boolean) {
    return {
      user_id: userId,
      hash,
      created_at: now(),
      expires_at: this.expiresAtFor({ options }, selfService),
      self_service: int(selfService),
    };
  }

  private expiresAtFor(user: { options: Record<string, unknown> }, selfService: boolean): string | null {
    const sc = this.b.config.identity.securityCompliance;
    if (user.options.ignore_password_expiry) return null;
    if (!selfService && sc.changePasswordUponFirstUse && !user.options.ignore_change_password_upon_first_use)
      return now();
    if (sc.passwordExpiresDays > 0) return new Date(Date.now() + sc.passwordExpiresDays * 86400000).toISOString();
    return null;
  }

  async create(body: {
    id?: string;
    name: string;
    domain_id: string;
    enabled?: boolean;
    password?: string | null;
    default_project_id?: string | null;
    options?: Record<string, unknown>;
    extra: Record<string, unknown>;
  }): Promise<User> {
    if (body.password) this.validatePassword(body.password);
    const id = body.id ?? newId();
    const options = body.options ?? {};
    const hash = body.password ? await this.hash(body.password) : null;
    await storing('user', `Duplicate entry found with name ${body.name} at domain ID ${body.domain_id}`, async () => {
      await this.b.db.transaction().execute(async (tx) => {
        await tx
          .insertInto('user')
          .values({
            id,
            name: body.name,
            domain_id: body.domain_id,
            enabled: int(body.enabled ?? true),
            default_project_id: body.default_project_id ?? null,
            extra: JSON.stringify(body.extra),
            options: JSON.stringify(options),
            created_at: now(),
            failed_auth_count: 0,
          })
          .execute();
        if (hash)
          await tx
            .insertInto('password')
            .values(this.passwordRow(id, hash, options, false))
            .execute();
      });
    });
    this.b.notify('user', 'created', id);
    return this.get(id);
  }

  async update(
    id: string,
    patch: Patch<{ enabled?: boolean; password?: string | null; name?: string }>,
  ): Promise<User> {
    const cur = await this.get(id);
    if (patch.domain_id !== undefined && patch.domain_id !== cur.domain_id)
      throw badRequest('Update of `domain_id` is not allowed.', 'ValidationError');
    if (patch.id !== undefined && patch.id !== id)
      throw badRequest('Update of `id` is not allowed.', 'ValidationError');
    const values: Record<string, unknown> = {};
    if (patch.name !== undefined) values.name = patch.name;
    if (patch.enabled !== undefined) values.enabled = int(patch.enabled);
    if (patch.default_project_id !== undefined) values.default_project_id = patch.default_project_id;
    let options = cur.options;
    if (patch.options !== undefined) {
      options = { ...cur.options };
      for (const [k, v] of Object.entries(patch.options as Record<string, unknown>)) {
        if (v === null) delete options[k];
        else options[k] = v;
      }
      values.options = JSON.stringify(options);
    }
    const known = new Set([
      'id',
      'name',
      'domain_id',
      'enabled',
      'default_project_id',
      'options',
      'password',
      'links',
      'password_expires_at',
    ]);
    const extra = { ...cur.extra };
    for (const [k, v] of Object.entries(patch)) if (!known.has(k)) extra[k] = v;
    values.extra = JSON.stringify(extra);
    if (patch.password) this.validatePassword(patch.password);
    const hash = patch.password ? await this.hash(patch.password) : null;
    await storing('user', `Duplicate entry found with name ${patch.name} at domain ID ${cur.domain_id}`, async () => {
      await this.b.db.transaction().execute(async (tx) => {
        await tx.updateTable('user').set(values).where('id', '=', id).execute();
        if (hash)
          await tx
            .insertInto('password')
            .values(this.passwordRow(id, hash, options, false))
            .execute();
        if (patch.enabled === true)
          await tx
            .updateTable('user')
            .set({ failed_auth_count: 0, failed_auth_at: null })
            .where('id', '=', id)
            .execute();
      });
    });
    this.b.notify('user', 'updated', id);
    if (patch.enabled === false || hash) this.b.revokeUser?.(id);
    this.b.changed();
    return this.get(id);
  }

  async delete(id: string) {
    await this.get(id);
    await this.b.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('assignment').where('actor_id', '=', id).execute();
      await tx.deleteFrom('application_credential').where('user_id', '=', id).execute();
      await tx.deleteFrom('access_rule').where('user_id', '=', id).execute();
      await tx.deleteFrom('credential').where('user_id', '=', id).execute();
      await tx
        .updateTable('trust')
        .set({ deleted_at: now() })
        .where((eb) => eb.or([eb('trustor_user_id', '=', id), eb('trustee_user_id', '=', id)]))
        .execute();
      await tx.deleteFrom('user').where('id', '=', id).execute();
    });
    this.b.notify('user', 'deleted', id);
    this.b.revokeUser?.(id);
    this.b.changed();
  }

  /** Checks a password for authentication: lockout, expiry, then bcrypt. Same 401 for every failure but lockout and expiry. */
  async checkPassword(user: User, password: string): Promise<void> {
    const sc = this.b.config.identity.securityCompliance;
    const row = await this.b.db
      .selectFrom('user')
      .select(['failed_auth_count', 'failed_auth_at'])
      .where('id', '=', user.id)
      .executeTakeFirst();
    const lockable = sc.lockoutFailureAttempts > 0 && !user.options.ignore_lockout_failure_attempts;
    if (lockable && row && row.failed_auth_count >= sc.lockoutFailureAttempts) {
      const lockedUntil = Date.parse(row.failed_auth_at ?? '') + sc.lockoutDuration * 1000;
      if (!(lockedUntil < Date.now()))
        throw new ApiError(401, `The account is locked for user: ${user.id}.`, 'AccountLocked');
      await this.b.db
        .updateTable('user')
        .set({ failed_auth_count: 0, failed_auth_at: null })
        .where('id', '=', user.id)
        .execute();
    }
    const pw = await this.b.db
      .selectFrom('password')
      .select(['hash', 'expires_at'])
      .where('user_id', '=', user.id)
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    const ok = pw ? await bcrypt.compare(password, pw.hash) : false;
    if (!ok) {
      if (lockable)
        await this.b.db
          .updateTable('user')
          .set({ failed_auth_count: (row?.failed_auth_count ?? 0) + 1, failed_auth_at: now() })
          .where('id', '=', user.id)
          .execute();
      throw authFailed();
    }
    if (pw!.expires_at && Date.parse(pw!.expires_at) <= Date.now() && !user.options.ignore_password_expiry) {
      throw new ApiError(
        401,
        `The password is expired and needs to be changed for user: ${user.id}.`,
        'PasswordExpired',
      );
    }
    if (row && row.failed_auth_count)
      await this.b.db
        .updateTable('user')
        .set({ failed_auth_count: 0, failed_auth_at: null })
        .where('id', '=', user.id)
        .execute();
  }

  /** POST /v3/users/{id}/password: a self-service change, with history and minimum age. */
  async changePassword(id: string, original: string, password: string) {
    const user = await this.get(id);
    const sc = this.b.config.identity.securityCompliance;
    if (user.options.lock_password)
      throw new ApiError(
        403,
        `You cannot change your password at this time due to password policy disallowing password changes. Please contact your administrator to reset your password.`,
        'Forbidden',
      );
    try {
      await this.checkPassword(user, original);
    } catch (e) {
      if ((e as ApiError).type !== 'PasswordExpired') throw e;
    }
    const history = await this.b.db
      .selectFrom('password')
      .select(['hash', 'created_at', 'self_service'])
      .where('user_id', '=', id)
      .orderBy('id', 'desc')
      .execute();
    const current = history[0];
    if (current && sc.minimumPasswordAge > 0 && bool(current.self_service)) {
      const age = (Date.now() - Date.parse(current.created_at)) / 86400000;
      if (age < sc.minimumPasswordAge)
        throw badRequest(
          `Password validation error: You cannot change your password at this time due to the minimum password age. Once you change your password, it must be used for ${sc.minimumPasswordAge} day(s) before it can be changed. Please try again in ${Math.ceil(sc.minimumPasswordAge - age)} day(s) or contact your administrator to reset your password.`,
          'PasswordAgeValidationError',
        );
    }
    this.validatePassword(password);
    if (sc.uniqueLastPasswordCount > 0) {
      for (const h of history.slice(0, sc.uniqueLastPasswordCount)) {
        if (await bcrypt.compare(password, h.hash))
          throw badRequest(
            `Password validation error: The new password cannot be identical to a previous password. The total number which includes the new password must be unique is ${sc.uniqueLastPasswordCount}.`,
            'PasswordHistoryValidationError',
          );
      }
    }
    const hash = await this.hash(password);
    const options = { ...user.options, ignore_change_password_upon_first_use: true };
    await this.b.db
      .insertInto('password')
      .values(this.passwordRow(id, hash, options, true))
      .execute();
    this.b.notify('user', 'updated', id);
    this.b.revokeUser?.(id);
    this.b.changed();
  }

  // ---- groups ----

  private toGroup(r: Selectable<GroupTable>): Group {
    return {
      id: r.id,
      name: r.name,
      domain_id: r.domain_id,
      description: r.description ?? '',
      extra: json(r.extra, {}),
    };
  }
  async findGroup(id: string) {
    const r = await this.b.db.selectFrom('group').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? this.toGroup(r) : undefined;
  }
  async getGroup(id: string) {
    const g = await this.findGroup(id);
    if (!g) throw notFound('group', id);
    return g;
  }
  async findGroupByName(name: string, domainId: string) {
    const r = await this.b.db
      .selectFrom('group')
      .selectAll()
      .where('name', '=', name)
      .where('domain_id', '=', domainId)
      .executeTakeFirst();
    return r ? this.toGroup(r) : undefined;
  }
  async listGroups(filter: { domainId?: string; name?: string; ids?: string[] }): Promise<Group[]> {
    let q = this.b.db.selectFrom('group').selectAll();
    if (filter.domainId !== undefined) q = q.where('domain_id', '=', filter.domainId);
    if (filter.name !== undefined) q = q.where('name', '=', filter.name);
    if (filter.ids) {
      if (!filter.ids.length) return [];
      q = q.where('id', 'in', filter.ids);
    }
    return (await q.orderBy('name').execute()).map((r) => this.toGroup(r));
  }
  async createGroup(body: { name: string; domain_id: string; description?: string; extra: Record<string, unknown> }) {
    const id = newId();
    await storing('group', `Duplicate entry found with name ${body.name} at domain ID ${body.domain_id}`, async () => {
      await this.b.db
        .insertInto('group')
        .values({
          id,
          name: body.name,
          domain_id: body.domain_id,
          description: body.description ?? '',
          extra: JSON.stringify(body.extra),
        })
        .execute();
    });
    this.b.notify('group', 'created', id);
    return this.getGroup(id);
  }
  async updateGroup(id: string, patch: Patch<{ name?: string; description?: string }>) {
    const cur = await this.getGroup(id);
    if (patch.domain_id !== undefined && patch.domain_id !== cur.domain_id)
      throw badRequest('Update of `domain_id` is not allowed.', 'ValidationError');
    const values: Record<string, unknown> = {};
    if (patch.name !== undefined) values.name = patch.name;
    if (patch.description !== undefined) values.description = patch.description;
    const extra = { ...cur.extra };
    for (const [k, v] of Object.entries(patch))
      if (!['id', 'name', 'description', 'domain_id', 'links'].includes(k)) extra[k] = v;
    values.extra = JSON.stringify(extra);
    await storing('group', `Duplicate entry found with name ${patch.name}`, async () => {
      await this.b.db.updateTable('group').set(values).where('id', '=', id).execute();
    });
    this.b.notify('group', 'updated', id);
    return this.getGroup(id);
  }
  async deleteGroup(id: string) {
    await this.getGroup(id);
    await this.b.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('assignment').where('actor_id', '=', id).execute();
      await tx.deleteFrom('user_group_membership').where('group_id', '=', id).execute();
      await tx.deleteFrom('group').where('id', '=', id).execute();
    });
    this.b.notify('group', 'deleted', id);
    this.b.changed();
  }
  async addMember(groupId: string, userId: string) {
    await this.getGroup(groupId);
    await this.get(userId);
    try {
      await this.b.db.insertInto('user_group_membership').values({ user_id: userId, group_id: groupId }).execute();
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
    }
    this.b.changed();
  }
  async isMember(groupId: string, userId: string) {
    await this.getGroup(groupId);
    await this.get(userId);
    return !!(await this.b.db
      .selectFrom('user_group_membership')
      .select('user_id')
      .where('user_id', '=', userId)
      .where('group_id', '=', groupId)
      .executeTakeFirst());
  }
  async removeMember(groupId: string, userId: string) {
    if (!(await this.isMember(groupId, userId)))
      throw new ApiError(404, `Could not find user ${userId} in group ${groupId}.`, 'NotFound');
    await this.b.db
      .deleteFrom('user_group_membership')
      .where('user_id', '=', userId)
      .where('group_id', '=', groupId)
      .execute();
    this.b.revokeUser?.(userId);
    this.b.changed();
  }
  /** The user's groups: the permanent memberships and the federated ones still within their TTL. */
  async groupIdsOf(userId: string): Promise<string[]> {
    let ids = this.groupsCache.get(userId);
    if (!ids) {
      ids = (
        await this.b.db.selectFrom('user_group_membership').select('group_id').where('user_id', '=', userId).execute()
      ).map((r) => r.group_id);
      if (this.groupsCache.size > 10000) this.groupsCache.clear();
      this.groupsCache.set(userId, ids);
    }
    const expiring = await this.expiringMemberships(userId);
    if (!expiring.length) return ids;
    return [...new Set([...ids, ...expiring.map((e) => e.groupId)])];
  }

  /**
   * Keystone's expiring group memberships: the groups a federated login mapped, each counting until
   * last_verified + the provider's authorization_ttl (minutes); expiresAt null = no expiry.
   */
  async expiringMemberships(
    userId: string,
    now = Date.now(),
  ): Promise<{ groupId: string; expiresAt: number | null }[]> {
    // Most users have none (every password login would read them): that is kept as groupsCache is.
    if (this.noExpiring.has(userId)) return [];
    const rows = await this.b.db
      .selectFrom('expiring_user_group_membership as m')
      .leftJoin('identity_provider as i', 'i.id', 'm.idp_id')
      .select(['m.group_id', 'm.last_verified', 'i.authorization_ttl', 'i.id as idp'])
      .where('m.user_id', '=', userId)
      .execute();
    if (!rows.length) {
      if (this.noExpiring.size > 10000) this.noExpiring.clear();
      this.noExpiring.add(userId);
    }
    const out: { groupId: string; expiresAt: number | null }[] = [];
    for (const r of rows) {
      if (!r.idp) continue; // the provider is gone
      const ttl = r.authorization_ttl ?? this.defaultAuthorizationTtl;
      const expiresAt = ttl === null ? null : Number(r.last_verified) + ttl * 60_000;
      if (expiresAt === null || expiresAt > now) out.push({ groupId: r.group_id, expiresAt });
    }
    return out;
  }

  /** A federated login's mapped groups replace what the same provider mapped before, verified now. */
  async setExpiringMemberships(userId: string, idpId: string, groupIds: string[], now = Date.now()) {
    await this.b.db.transaction().execute(async (tx) => {
      await tx
        .deleteFrom('expiring_user_group_membership')
        .where('user_id', '=', userId)
        .where((eb) => eb.or([eb('idp_id', '=', idpId), eb('group_id', 'in', groupIds.length ? groupIds : [''])]))
        .execute();
      if (groupIds.length)
        await tx
          .insertInto('expiring_user_group_membership')
          .values(groupIds.map((g) => ({ user_id: userId, group_id: g, idp_id: idpId, last_verified: now })))
          .execute();
    });
    this.b.changed();
  }
  async memberIds(groupId: string): Promise<string[]> {
    return (
      await this.b.db.selectFrom('user_group_membership').select('user_id').where('group_id', '=', groupId).execute()
    ).map((r) => r.user_id);
  }
}
