// Trusts (OS-TRUST): a trustor delegates some of its roles on a project to a trustee, who
// then gets trust-scoped tokens. Trusts are immutable; they end by deletion (soft, so that
// tokens issued from them stop validating), expiry or running out of uses. A trust created
// with a trust-scoped token is a redelegation: it may only narrow its parent.
import { ApiError, badRequest, forbidden } from '../core/errors.ts';
import { bool, int, json, now } from '../core/db.ts';
import { newId, notFound } from './backend.ts';
import type { IdentityService } from './service.ts';
import type { TrustInfo, TrustLookup } from './token/provider.ts';
import type { Selectable } from 'kysely';
import type { TrustTable } from './db/schema.ts';

/** A trust: what the token provider reads of it (TrustInfo; expires_at is an ISO time, UTC, with milliseconds, or null) and more. */
export interface Trust extends Omit<TrustInfo, 'deleted' | 'redelegation_count' | 'originalTrustorId'> {
  redelegated_trust_id: string | null;
  redelegation_count: number | null;
  deleted_at: string | null;
  /** Properties the client sent beyond the known ones (Keystone keeps and returns them). */
  extra: Record<string, unknown>;
}

/** What POST /v3/OS-TRUST/trusts asks for, after validation. */
export interface TrustRequest {
  trustor_user_id: string;
  trustee_user_id: string;
  project_id?: string | null;
  impersonation: boolean;
  expires_at?: string | null;
  remaining_uses?: number | null;
  allow_redelegation?: boolean | null;
  redelegation_count?: number | null;
  roles?: Array<{ id?: string; name?: string }>;
  extra: Record<string, unknown>;
}

export const TRUST_FIELDS = new Set([
  'id',
  'trustor_user_id',
  'trustee_user_id',
  'project_id',
  'impersonation',
  'expires_at',
  'remaining_uses',
  'allow_redelegation',
  'redelegation_count',
  'redelegated_trust_id',
  'roles',
  'links',
  'roles_links',
  'deleted_at',
]);

const trustNotFound = (id: string) => notFound('trust', id);

/** Keystone's parse_expiration_date: ISO 8601 (a missing zone is UTC), never in the past. */
export function parseExpiration(v: string): string {
  const m =
    /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?Z?$/.exec(v);
  const invalid = () =>
    badRequest(
      'Timestamp not in expected format. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.',
      'ValidationTimeStampError',
    );
  if (!m) throw invalid();
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '', zone] = m;
  let tz = 'Z';
  if (zone && zone !== 'Z') {
    const z = zone.replace(':', '');
    tz = `${z.slice(0, 3)}:${z.length > 3 ? z.slice(3) : '00'}`;
  }
  const ms = frac ? `.${frac.padEnd(3, '0').slice(0, 3)}` : '';
  const t = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}${ms}${tz}`);
  if (Number.isNaN(t) || Number(mo) > 12 || Number(d) > 31 || Number(h) > 23 || Number(mi) > 59 || Number(s) > 60)
    throw invalid();
  if (t < Date.now())
    throw badRequest(
      "The 'expires_at' must not be before now. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.",
      'ValidationExpirationError',
    );
  return new Date(t).toISOString();
}

/** Keystone renders trust times at whole seconds with six zero digits: 2026-12-01T00:00:00.000000Z. */
export function renderTrustTime(iso: string | null): string | null {
  if (!iso) return null;
  return new Date(iso).toISOString().replace(/\.\d{3}Z$/, '.000000Z');
}

export class TrustManager implements TrustLookup {
  constructor(private s: IdentityService) {}
  private get db() {
    return this.s.db;
  }
  private get maxCount() {
    return this.s.config.identity.maxRedelegationCount;
  }

  private toTrust(r: Selectable<TrustTable>): Trust {
    const roles = json<Array<{ id: string } | string>>(r.roles, []);
    return {
      id: r.id,
      trustor_user_id: r.trustor_user_id,
      trustee_user_id: r.trustee_user_id,
      project_id: r.project_id ?? null,
      impersonation: bool(r.impersonation),
      expires_at: r.expires_at ?? null,
      remaining_uses: r.remaining_uses === null || r.remaining_uses === undefined ? null : Number(r.remaining_uses),
      redelegated_trust_id: r.redelegated_trust_id ?? null,
      redelegation_count:
        r.redelegation_count === null || r.redelegation_count === undefined ? null : Number(r.redelegation_count),
      roleIds: roles.map((x) => (typeof x === 'string' ? x : x.id)),
      deleted_at: r.deleted_at ?? null,
      extra: json(r.extra, {}),
    };
  }

  /** The row as stored, deleted or not. */
  async find(id: string): Promise<Trust | undefined> {
    const r = await this.db.selectFrom('trust').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? this.toTrust(r) : undefined;
  }

  private static usable(t: Trust | undefined): t is Trust {
    if (!t || t.deleted_at) return false;
    if (t.expires_at && Date.parse(t.expires_at) < Date.now()) return false;
    if (t.remaining_uses !== null && t.remaining_uses <= 0) return false;
    return true;
  }

  /** The trust and its ancestors, nearest first. */
  async pedigree(t: Trust): Promise<Trust[]> {
    const chain = [t];
    const seen = new Set([t.id]);
    let cur = t;
    while (cur.redelegated_trust_id && !seen.has(cur.redelegated_trust_id)) {
      const parent = await this.find(cur.redelegated_trust_id);
      if (!parent) break;
      seen.add(parent.id);
      chain.push(parent);
      cur = parent;
    }
    return chain;
  }

  /**
   * Keystone's trust_api.get_trust: 404 for a deleted, expired or used-up trust; for a
   * redelegated one the whole chain must still hold (403 otherwise).
   */
  async get(id: string): Promise<Trust> {
    const t = await this.find(id);
    if (!TrustManager.usable(t)) throw trustNotFound(id);
    if (t.redelegated_trust_id) {
      const chain = await this.pedigree(t);
      for (let i = 1; i < chain.length; i++) {
        const parent = chain[i]!;
        if (!TrustManager.usable(parent)) throw trustNotFound(chain[i]!.id);
        this.validateRedelegation(parent, { ...chain[i - 1]!, remaining_uses: null });
        const trustee = await this.s.users.find(parent.trustee_user_id);
        if (!trustee || !trustee.enabled) throw forbidden('One of the trust agents is disabled or deleted');
      }
    }
    return t;
  }

  async list(f: { trustorId?: string; trusteeId?: string; redelegatedTrustId?: string } = {}): Promise<Trust[]> {
    let q = this.db.selectFrom('trust').selectAll().where('deleted_at', 'is', null);
    if (f.trustorId) q = q.where('trustor_user_id', '=', f.trustorId);
    if (f.trusteeId) q = q.where('trustee_user_id', '=', f.trusteeId);
    if (f.redelegatedTrustId) q = q.where('redelegated_trust_id', '=', f.redelegatedTrustId);
    return (await q.orderBy('id').execute()).map((r) => this.toTrust(r));
  }

  /** Checks a redelegation against one trust of its parent chain (trust/core.py _validate_redelegation). */
  private validateRedelegation(
    parent: Trust,
    child: { expires_at: string | null; remaining_uses: number | null; roleIds: string[]; impersonation: boolean },
  ) {
    const depth = parent.redelegation_count ?? 0;
    if (!(depth > 0 && depth <= this.maxCount)) {
      throw forbidden(`Remaining redelegation depth of ${depth} out of allowed range of [0..${this.maxCount}]`);
    }
    if (child.remaining_uses !== null && child.remaining_uses !== undefined) {
      throw forbidden(
        `Field "remaining_uses" is set to ${child.remaining_uses} while it must not be set in order to redelegate a trust`,
      );
    }
    if (child.expires_at) {
      if (parent.expires_at && Date.parse(parent.expires_at) < Date.parse(child.expires_at)) {
        throw forbidden('Requested expiration time is more than redelegated trust can provide');
      }
    } else child.expires_at = parent.expires_at;
    const parentRoles = new Set(parent.roleIds);
    if (!child.roleIds.every((r) => parentRoles.has(r)))
      throw forbidden('Some of requested roles are not in redelegated trust');
    if (!parent.impersonation && child.impersonation) {
      throw forbidden(
        `Impersonation is not allowed because redelegated trust does not specify impersonation. Redelegated trust id: ${parent.id}`,
      );
    }
  }

  /** Role references by id or (unique) name to ids, as Keystone's _normalize_role_list. */
  private async roleIds(roles: Array<{ id?: string; name?: string }>): Promise<string[]> {
    const out: string[] = [];
    for (const r of roles) {
      if (r.id) {
        out.push(r.id);
        continue;
      }
      const found = [...(await this.s.assignment.roles()).values()].filter((x) => x.name === r.name);
      if (!found.length) throw new ApiError(404, `Role ${r.name} is not defined`, 'RoleNotFound');
      if (found.length > 1)
        throw badRequest(
          `There are multiple role entities named '${r.name}'. Please use ID instead of names to resolve the ambiguity.`,
          'AmbiguityError',
        );
      out.push(found[0]!.id);
    }
    return [...new Set(out)];
  }

  /**
   * Creates a trust. `parentTrustId` is the trust of the caller's token, when the caller
   * used a trust-scoped token (a redelegation).
   */
  async create(req: TrustRequest, parentTrustId?: string): Promise<Trust> {
    if (req.project_id && !(req.roles && req.roles.length))
      throw forbidden('You are not authorized to perform the requested action: At least one role should be specified.');
    const trustee = await this.s.users.find(req.trustee_user_id);
    if (!trustee) throw notFound('user', req.trustee_user_id);
    const roleIds = await this.roleIds(req.roles ?? []);
    // The trustor must hold every delegated role on the project (implied roles count).
    const held = new Set(req.project_id ? await this.trustorRoles(req.trustor_user_id, req.project_id) : []);
    for (const r of roleIds) if (!held.has(r)) throw notFound('role', r);
    let expiresAt = req.expires_at !== null && req.expires_at !== undefined ? parseExpiration(req.expires_at) : null;
    const parent = parentTrustId ? await this.get(parentTrustId) : undefined;

    const remainingUses = req.remaining_uses ?? null;
    let requested = req.redelegation_count ?? null;
    const redelegatable = !!req.allow_redelegation && requested !== 0;
    let count: number | null = null;
    if (!redelegatable) {
      count = requested = 0;
      if (remainingUses !== null && remainingUses <= 0)
        throw badRequest('remaining_uses must be a positive integer or null.', 'ValidationError');
    } else {
      if (requested && requested > this.maxCount)
        throw forbidden(`Requested redelegation depth of ${requested} is greater than allowed ${this.maxCount}`);
      if (remainingUses !== null)
        throw badRequest('remaining_uses must not be set if redelegation is allowed', 'ValidationError');
      count = requested;
    }
    if (parent) {
      const remaining = (parent.redelegation_count ?? 0) - 1;
      if (redelegatable && requested && requested !== remaining) {
        throw forbidden(
          'Modifying "redelegation_count" upon redelegation is forbidden. Omitting this parameter is advised.',
        );
      }
      if (count === null) count = remaining;
      const child = { expires_at: expiresAt, remaining_uses: remainingUses, roleIds, impersonation: req.impersonation };
      for (const t of await this.pedigree(parent)) this.validateRedelegation(t, child);
      expiresAt = child.expires_at;
    }
    if (count === null) count = this.maxCount;

    const id = newId();
    await this.db
      .insertInto('trust')
      .values({
        id,
        trustor_user_id: req.trustor_user_id,
        trustee_user_id: req.trustee_user_id,
        project_id: req.project_id ?? null,
        impersonation: int(req.impersonation),
        expires_at: expiresAt,
        remaining_uses: remainingUses,
        redelegated_trust_id: parent?.id ?? null,
        redelegation_count: count,
        roles: JSON.stringify(roleIds.map((r) => ({ id: r }))),
        deleted_at: null,
        extra: JSON.stringify(req.extra),
      })
      .execute();
    this.s.backend.notify('OS-TRUST:trust', 'created', id);
    return (await this.find(id))!;
  }

  /** Role ids the trustor holds on the project, the way a trust sees them. */
  private async trustorRoles(userId: string, projectId: string): Promise<string[]> {
    await this.s.resource.getProject(projectId);
    return this.s.assignment.rolesOnProject(userId, projectId);
  }

  /** Soft-deletes a trust and the trusts redelegated from it; their tokens stop validating. */
  async delete(id: string): Promise<void> {
    const t = await this.find(id);
    if (!t || t.deleted_at) throw trustNotFound(id);
    await this.softDelete([id]);
  }

  private async softDelete(ids: string[]) {
    const all: string[] = [];
    let frontier = ids;
    while (frontier.length) {
      all.push(...frontier);
      const kids = await this.db
        .selectFrom('trust')
        .select('id')
        .where('redelegated_trust_id', 'in', frontier)
        .where('deleted_at', 'is', null)
        .execute();
      frontier = kids.map((k) => k.id).filter((k) => !all.includes(k));
    }
    if (!all.length) return;
    await this.db
      .updateTable('trust')
      .set({ deleted_at: now() })
      .where('id', 'in', all)
      .where('deleted_at', 'is', null)
      .execute();
    for (const id of all) {
      // Keystone records a revocation event per deleted trust (revoke/core.py _trust_callback).
      await this.s.revoke.revoke({ trust_id: id });
      this.s.backend.notify('OS-TRUST:trust', 'deleted', id);
    }
    this.s.backend.changed();
  }

  /** Keystone deletes the trusts of a deleted user and of a deleted project. */
  async deleteForUser(userId: string) {
    const rows = await this.db
      .selectFrom('trust')
      .select('id')
      .where('deleted_at', 'is', null)
      .where((eb) => eb.or([eb('trustor_user_id', '=', userId), eb('trustee_user_id', '=', userId)]))
      .execute();
    await this.softDelete(rows.map((r) => r.id));
  }
  async deleteForProject(projectId: string) {
    const rows = await this.db
      .selectFrom('trust')
      .select('id')
      .where('deleted_at', 'is', null)
      .where('project_id', '=', projectId)
      .execute();
    await this.softDelete(rows.map((r) => r.id));
  }

  // ---- TrustLookup, for the token provider ----

  async getTrust(id: string): Promise<TrustInfo | undefined> {
    const t = await this.find(id);
    if (!t) return undefined;
    let deleted = !!t.deleted_at;
    // A redelegated trust lives only as long as its whole chain does.
    if (!deleted && t.redelegated_trust_id) {
      try {
        await this.get(id);
      } catch {
        deleted = true;
      }
    }
    return {
      id: t.id,
      trustor_user_id: t.trustor_user_id,
      trustee_user_id: t.trustee_user_id,
      project_id: t.project_id,
      impersonation: t.impersonation,
      expires_at: t.expires_at,
      remaining_uses: t.remaining_uses,
      roleIds: t.roleIds,
      deleted,
      redelegation_count: t.redelegation_count,
      originalTrustorId: t.redelegated_trust_id ? (await this.pedigree(t)).at(-1)!.trustor_user_id : t.trustor_user_id,
    };
  }

  async consume(id: string): Promise<void> {
    // Optimistic: decrement only the value we read, retry when someone else got there first.
    for (let attempt = 0; attempt < 10; attempt++) {
      const r = await this.db
        .selectFrom('trust')
        .select('remaining_uses')
        .where('id', '=', id)
        .where('deleted_at', 'is', null)
        .executeTakeFirst();
      if (!r) throw new ApiError(401, `Could not find trust: ${id}.`, 'Unauthorized');
      if (r.remaining_uses === null || r.remaining_uses === undefined) return;
      const left = Number(r.remaining_uses);
      if (left <= 0) throw new ApiError(401, `No remaining uses for trust: ${id}.`, 'Unauthorized');
      const res = await this.db
        .updateTable('trust')
        .set({ remaining_uses: left - 1 })
        .where('id', '=', id)
        .where('deleted_at', 'is', null)
        .where('remaining_uses', '=', left)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 1) return;
    }
    throw new ApiError(500, `Failed to consume a use of trust ${id}: too many concurrent attempts.`);
  }
}
