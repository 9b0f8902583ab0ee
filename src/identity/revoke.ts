// Revocation events (Keystone's revoke model): a token issued before an event's
// issued_before and matching all of the event's set fields is revoked. Events are kept in
// memory (loaded at start) and persisted; expired ones are pruned.
import { now } from '../core/db.ts';
import type { IdentityBackend } from './backend.ts';

export interface RevocationEvent {
  domain_id?: string | null;
  project_id?: string | null;
  user_id?: string | null;
  role_id?: string | null;
  trust_id?: string | null;
  audit_id?: string | null;
  audit_chain_id?: string | null;
  issued_before: string;
  revoked_at: string;
}

/** What of a token the events are matched against. */
export interface TokenFacts {
  userId: string;
  trustorId?: string;
  trusteeId?: string;
  projectId?: string;
  domainId?: string;
  userDomainId?: string;
  projectDomainId?: string;
  roleIds: string[];
  trustId?: string;
  auditId: string;
  auditChainId: string;
  issuedAt: Date;
}

export class RevokeManager {
  private events: RevocationEvent[] = [];
  constructor(private b: IdentityBackend) {}

  async load() {
    const rows = await this.b.db.selectFrom('revocation_event').selectAll().execute();
    this.events = rows.map((r) => ({ ...r }));
    this.b.revokeUser = (userId) => {
      void this.revoke({ user_id: userId });
    };
  }

  async revoke(e: Omit<RevocationEvent, 'issued_before' | 'revoked_at'> & { issued_before?: string }) {
    const ts = now();
    const ev: RevocationEvent = { ...e, issued_before: e.issued_before ?? ts, revoked_at: ts };
    this.events.push(ev);
    await this.b.db.insertInto('revocation_event').values(ev).execute();
    this.b.changed();
  }

  list(since?: string): RevocationEvent[] {
    return since ? this.events.filter((e) => e.revoked_at >= since) : this.events;
  }

  isRevoked(t: TokenFacts): boolean {
    const issued = t.issuedAt.getTime();
    for (const e of this.events) {
      // Tokens carry issue times rounded down to the second; an event at the same instant revokes them.
      if (issued > Date.parse(e.issued_before)) continue;
      if (e.user_id && e.user_id !== t.userId && e.user_id !== t.trustorId && e.user_id !== t.trusteeId) continue;
      if (e.project_id && e.project_id !== t.projectId) continue;
      if (
        e.domain_id &&
        e.domain_id !== t.domainId &&
        e.domain_id !== t.userDomainId &&
        e.domain_id !== t.projectDomainId
      )
        continue;
      if (e.role_id && !t.roleIds.includes(e.role_id)) continue;
      if (e.trust_id && e.trust_id !== t.trustId) continue;
      if (e.audit_id && e.audit_id !== t.auditId) continue;
      if (e.audit_chain_id && e.audit_chain_id !== t.auditChainId) continue;
      return true;
    }
    return false;
  }

  /** Drops events older than any token that could still be validated. */
  async prune(maxTokenAgeSeconds: number) {
    const cutoff = new Date(Date.now() - maxTokenAgeSeconds * 1000).toISOString();
    this.events = this.events.filter((e) => e.revoked_at >= cutoff);
    await this.b.db.deleteFrom('revocation_event').where('revoked_at', '<', cutoff).execute();
  }
}
