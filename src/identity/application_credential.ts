// Application credentials and their access rules (keystone/application_credential): a
// named secret (stored as a bcrypt hash) bound to a user, a project and a subset of the
// user's roles on it, that authenticates as that user with the `application_credential`
// method. Access rules are per-user rows shared between the user's application credentials.
import { randomBytes, randomUUID } from 'node:crypto';
import bcrypt from 'bcrypt';
import { ApiError, badRequest } from '../core/errors.ts';
import { bool, int, isUniqueViolation, json } from '../core/db.ts';
import { IdentityBackend, conflictDup } from './backend.ts';
import type { UserManager } from './users.ts';
import type { ResourceManager } from './resource.ts';
import type { AppCredAuth, AppCredInfo, AppCredLookup } from './token/provider.ts';
import type { Selectable } from 'kysely';
import type { AccessRuleTable, ApplicationCredentialTable } from './db/schema.ts';

export interface AccessRule {
  id: string;
  service: string;
  path: string;
  method: string;
}

/** An application credential: what the token provider reads of it (AppCredInfo; expires_at is ISO 8601 with microseconds and Z, or null) and more. */
export interface ApplicationCredential extends Omit<AppCredInfo, 'access_rules'> {
  description: string | null;
  access_rules: AccessRule[];
}

const hex = () => randomUUID().replace(/-/g, '');

export const appCredNotFound = (id: string) =>
  new ApiError(404, `Could not find Application Credential: ${id}.`, 'ApplicationCredentialNotFound');
export const accessRuleNotFound = (id: string) =>
  new ApiError(404, `Could not find Access Rule: ${id}.`, 'AccessRuleNotFound');
const unauthorized = () => new ApiError(401, 'The request you have made requires authentication.', 'Unauthorized');

/** Keystone's generated secret: 64 random bytes, urlsafe base64 without padding. */
export const generateSecret = () => randomBytes(64).toString('base64url');

const TS_SUFFIX =
  ' The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.';

/**
 * Parses an expires_at as Keystone does (a time without a zone is UTC) and keeps its
 * microseconds, which a JS Date would drop: returns 'YYYY-MM-DDTHH:MM:SS.ffffffZ'.
 * 400 when malformed or in the past.
 */
export function parseExpiration(s: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i.exec(
    s.trim(),
  );
  if (!m) throw badRequest(`Timestamp not in expected format.${TS_SUFFIX}`, 'ValidationTimeStampError');
  const [, y, mo, d, h, mi, sec, frac, tz] = m;
  let ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec ?? 0));
  const check = new Date(ms);
  if (
    Number.isNaN(ms) ||
    check.getUTCMonth() !== Number(mo) - 1 ||
    check.getUTCDate() !== Number(d) ||
    Number(h) > 23 ||
    Number(mi) > 59 ||
    Number(sec ?? 0) > 59
  ) {
    throw badRequest(`Timestamp not in expected format.${TS_SUFFIX}`, 'ValidationTimeStampError');
  }
  if (tz && tz.toUpperCase() !== 'Z') {
    const sign = tz[0] === '-' ? -1 : 1;
    const digits = tz.slice(1).replace(':', '');
    ms -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || 0)) * 60000;
  }
  const micro = (frac ?? '').slice(0, 6).padEnd(6, '0');
  if (ms + Number(micro) / 1000 <= Date.now())
    throw badRequest(`The 'expires_at' must not be before now.${TS_SUFFIX}`, 'ValidationExpirationError');
  return `${new Date(ms).toISOString().slice(0, 19)}.${micro}Z`;
}

/** As Keystone renders a datetime: microseconds, no zone. */
export const renderTime = (t: string | null) => (t ? t.replace(/Z$/, '') : null);

export class ApplicationCredentialManager implements AppCredLookup {
  constructor(
    private b: IdentityBackend,
    private users: UserManager,
    private resource: ResourceManager,
  ) {}

  // ---- access rules ----

  private toRule(r: Selectable<AccessRuleTable>): AccessRule {
    return { id: r.id, service: r.service, path: r.path, method: r.method };
  }

  async listAccessRules(
    userId: string,
    f: { service?: string; path?: string; method?: string } = {},
  ): Promise<AccessRule[]> {
    let q = this.b.db.selectFrom('access_rule').selectAll().where('user_id', '=', userId);
    if (f.service !== undefined) q = q.where('service', '=', f.service);
    if (f.path !== undefined) q = q.where('path', '=', f.path);
    if (f.method !== undefined) q = q.where('method', '=', f.method);
    // Keystone lists a user's rules in the order they were created.
    return (await q.orderBy('position').orderBy('id').execute()).map((r) => this.toRule(r));
  }

  /** A user's access rule; 404 when it is not theirs. */
  async getAccessRule(userId: string, id: string): Promise<AccessRule> {
    const r = await this.b.db
      .selectFrom('access_rule')
      .selectAll()
      .where('id', '=', id)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (!r) throw accessRuleNotFound(id);
    return this.toRule(r);
  }

  async deleteAccessRule(userId: string, id: string): Promise<void> {
    await this.getAccessRule(userId, id);
    const creds = await this.b.db
      .selectFrom('application_credential')
      .select('access_rules')
      .where('user_id', '=', userId)
      .execute();
    if (creds.some((c) => json<string[]>(c.access_rules, []).includes(id)))
      throw new ApiError(403, 'May not delete access rule in use', 'ForbiddenNotSecurity');
    await this.b.db.deleteFrom('access_rule').where('id', '=', id).execute();
    this.b.notify('access_rule', 'deleted', id);
  }

  // ---- application credentials ----

  private async rulesById(ids: string[]): Promise<Map<string, AccessRule>> {
    if (!ids.length) return new Map();
    const rows = await this.b.db.selectFrom('access_rule').selectAll().where('id', 'in', ids).execute();
    return new Map(rows.map((r) => [r.id, this.toRule(r)]));
  }

  private async toAppCreds(rows: Selectable<ApplicationCredentialTable>[]): Promise<ApplicationCredential[]> {
    const rules = await this.rulesById([...new Set(rows.flatMap((r) => json<string[]>(r.access_rules, [])))]);
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      description: r.description ?? null,
      user_id: r.user_id,
      project_id: r.project_id ?? null,
      system: r.system ?? null,
      expires_at: r.expires_at ?? null,
      unrestricted: bool(r.unrestricted),
      roleIds: json<string[]>(r.roles, []),
      access_rules: json<string[]>(r.access_rules, [])
        .map((id) => rules.get(id))
        .filter((x): x is AccessRule => !!x),
    }));
  }

  async list(userId: string, f: { name?: string } = {}): Promise<ApplicationCredential[]> {
    let q = this.b.db.selectFrom('application_credential').selectAll().where('user_id', '=', userId);
    if (f.name !== undefined) q = q.where('name', '=', f.name);
    return this.toAppCreds(await q.orderBy('name').execute());
  }

  async find(id: string): Promise<ApplicationCredential | undefined> {
    const r = await this.b.db.selectFrom('application_credential').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? (await this.toAppCreds([r]))[0] : undefined;
  }

  async get(id: string): Promise<ApplicationCredential> {
    const a = await this.find(id);
    if (!a) throw appCredNotFound(id);
    return a;
  }

  /**
   * Creates an application credential. The caller has checked the roles against the token;
   * `heldRoleIds` are the user's effective roles on the project, which every role must be in.
   */
  async create(c: {
    id?: string;
    name: string;
    description?: string | null;
    secret: string;
    user_id: string;
    project_id: string | null;
    expires_at?: string | null;
    unrestricted?: boolean;
    roleIds: string[];
    heldRoleIds: string[];
    access_rules?: Array<{ id?: string; service?: string; path?: string; method?: string }>;
  }): Promise<ApplicationCredential> {
    const held = new Set(c.heldRoleIds);
    for (const r of c.roleIds) {
      if (!held.has(r))
        throw badRequest(
          `Invalid application credential: Could not find role assignment with role: ${r}, user or group: ${c.user_id}, project, domain, or system: ${c.project_id}.`,
          'ApplicationCredentialValidationError',
        );
    }
    const id = c.id ?? hex();
    const secretHash = await this.users.hash(c.secret);
    try {
      await this.b.db.transaction().execute(async (tx) => {
        const ruleIds: string[] = [];
        for (const ar of c.access_rules ?? []) {
          let found: Selectable<AccessRuleTable> | undefined;
          // An id names one of the user's rules; otherwise an identical rule of the user is reused.
          if (ar.id) found = await tx.selectFrom('access_rule').selectAll().where('id', '=', ar.id).executeTakeFirst();
          if (found && found.user_id !== c.user_id)
            throw badRequest(
              `Invalid application credential: access rule ${ar.id} belongs to another user.`,
              'ApplicationCredentialValidationError',
            );
          if (!found) {
            const { service, path, method } = ar;
            if (service === undefined || path === undefined || method === undefined) {
              throw badRequest(
                `Invalid application credential: ${ar.id ? `access rule ${ar.id} not found; ` : ''}a new access rule needs service, path and method.`,
                'ApplicationCredentialValidationError',
              );
            }
            found = await tx
              .selectFrom('access_rule')
              .selectAll()
              .where('user_id', '=', c.user_id)
              .where('service', '=', service)
              .where('path', '=', path)
              .where('method', '=', method)
              .executeTakeFirst();
            if (!found) {
              const last = await tx
                .selectFrom('access_rule')
                .select((eb) => eb.fn.max('position').as('p'))
                .where('user_id', '=', c.user_id)
                .executeTakeFirst();
              const position = Number(last?.p ?? 0) + 1;
              const row = { id: ar.id ?? hex(), user_id: c.user_id, service, path, method, position };
              await tx.insertInto('access_rule').values(row).execute();
              found = row;
            }
          }
          if (!ruleIds.includes(found.id)) ruleIds.push(found.id);
        }
        await tx
          .insertInto('application_credential')
          .values({
            id,
            name: c.name,
            secret_hash: secretHash,
            description: c.description ?? null,
            user_id: c.user_id,
            project_id: c.project_id,
            system: null,
            expires_at: c.expires_at ?? null,
            unrestricted: int(c.unrestricted ?? false),
            roles: JSON.stringify([...new Set(c.roleIds)]),
            access_rules: ruleIds.length ? JSON.stringify(ruleIds) : null,
          })
          .execute();
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw conflictDup('application_credential', 'name', c.name);
      throw e;
    }
    this.b.notify('application_credential', 'created', id);
    return this.get(id);
  }

  async delete(id: string): Promise<void> {
    await this.get(id);
    await this.b.db.deleteFrom('application_credential').where('id', '=', id).execute();
    this.b.notify('application_credential', 'deleted', id);
    // Its tokens stop validating: the provider re-reads the credential on the next validation.
    this.b.changed();
  }

  // ---- the token provider's view ----

  private info(a: ApplicationCredential): AppCredInfo {
    return {
      id: a.id,
      name: a.name,
      user_id: a.user_id,
      project_id: a.project_id,
      system: a.system,
      expires_at: a.expires_at,
      unrestricted: a.unrestricted,
      roleIds: a.roleIds,
      access_rules: a.access_rules.map((r) => ({ ...r })),
    };
  }

  async getAppCred(id: string): Promise<AppCredInfo | undefined> {
    const a = await this.find(id);
    return a ? this.info(a) : undefined;
  }

  /** The `application_credential` auth method: id + secret, or name + user + secret. Every mismatch is the same 401. */
  async authenticate(body: AppCredAuth | undefined): Promise<AppCredInfo> {
    if (!body || typeof body !== 'object')
      throw badRequest(`Expecting to find id or name in application credential.${TS_SUFFIX}`, 'ValidationError');
    let ac: ApplicationCredential | undefined;
    if (body.id) {
      if (typeof body.id !== 'string') throw unauthorized();
      ac = await this.find(body.id);
    } else if (body.name) {
      const u = body.user;
      if (!u || typeof u !== 'object')
        throw badRequest(`Expecting to find user in application credential.${TS_SUFFIX}`, 'ValidationError');
      let userId: string | undefined;
      if (u.id) userId = (await this.users.find(String(u.id)))?.id;
      else if (u.name) {
        const dref = u.domain;
        if (!dref || typeof dref !== 'object' || (!dref.id && !dref.name))
          throw badRequest(`Expecting to find domain in user.${TS_SUFFIX}`, 'ValidationError');
        const d = dref.id
          ? await this.resource.find(String(dref.id))
          : await this.resource.findDomainByName(String(dref.name));
        if (d && d.is_domain) userId = (await this.users.findByName(String(u.name), d.id))?.id;
      } else throw badRequest(`Expecting to find id or name in user.${TS_SUFFIX}`, 'ValidationError');
      if (userId) ac = (await this.list(userId, { name: String(body.name) }))[0];
    } else throw badRequest(`Expecting to find id or name in application credential.${TS_SUFFIX}`, 'ValidationError');
    if (!ac || typeof body.secret !== 'string') throw unauthorized();
    const row = await this.b.db
      .selectFrom('application_credential')
      .select('secret_hash')
      .where('id', '=', ac.id)
      .executeTakeFirst();
    if (!row || !(await bcrypt.compare(body.secret, row.secret_hash))) throw unauthorized();
    if (ac.expires_at && Date.parse(ac.expires_at) <= Date.now()) throw unauthorized();
    const user = await this.users.find(ac.user_id);
    if (!user || !user.enabled) throw unauthorized();
    return this.info(ac);
  }
}
