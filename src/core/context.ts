// The request context (oslo.context's RequestContext): who is calling, in which scope, with
// which roles, under which request id. The HTTP layer builds one per request (`req.context`)
// and handlers pass it to every layer below them: managers, stores, flows and RPC never see
// the HTTP request. Policy checks go through it, memoised per request for rules whose outcome
// cannot depend on the target (a list checks them once, not per item).
import { randomUUID } from 'node:crypto';
import { type AuthContext, policyCredentials } from './auth.ts';
import type { RpcContext } from './bus.ts';
import { forbidden, unauthorized } from './errors.ts';
import type { PolicyCredentials, PolicyEngine } from './policy/index.ts';

type PolicyResult = { allowed: boolean; scopeError: boolean };

export class RequestContext {
  /** Set once a policy rule was enforced through this context (the HTTP layer logs routes that forgot). */
  enforced = false;
  private creds?: PolicyCredentials;
  private readonly memo = new Map<string, PolicyResult>();

  constructor(
    /** The validated token; undefined on public routes and for anonymous callers. */
    readonly auth: AuthContext | undefined,
    readonly requestId: string = `req-${randomUUID()}`,
    /** The policy of the service the request reached (rules are looked up there). */
    readonly policy?: PolicyEngine,
    /** Extra roles granted by elevated(). */
    private readonly extraRoles: readonly string[] = [],
  ) {}

  get userId(): string | undefined {
    return this.auth?.userId;
  }
  get projectId(): string | undefined {
    return this.auth?.projectId;
  }
  get domainId(): string | undefined {
    return this.auth?.domainId;
  }
  /** A system-scoped token ('all'). */
  get system(): boolean {
    return !!this.auth?.system;
  }
  get roles(): string[] {
    const r = this.auth?.roles ?? [];
    return this.extraRoles.length ? [...r, ...this.extraRoles] : r;
  }
  get token(): string | undefined {
    return this.auth?.token;
  }
  get isAuthenticated(): boolean {
    return !!this.auth;
  }

  /** The credentials a policy rule sees (oslo.context's to_policy_values plus keystone's token). */
  get credentials(): PolicyCredentials {
    if (!this.creds) {
      const c = policyCredentials(this.auth);
      const own = this.extraRoles.length ? { ...c, roles: this.roles } : c;
      this.creds = this.policy ? this.policy.serviceCredentials(own) : own;
    }
    return this.creds;
  }

  /** Evaluates a named rule without throwing. */
  allowed(rule: string, target: Record<string, unknown> = {}): boolean {
    const r = this.check(rule, target);
    return r.allowed && !r.scopeError;
  }

  /** Enforces a named rule: 403 when denied (401 without a token). */
  authorize(rule: string, target: Record<string, unknown> = {}): void {
    const r = this.check(rule, target);
    this.enforced = true;
    if (r.allowed && !r.scopeError) return;
    if (!this.auth) throw unauthorized();
    throw forbidden(`You are not authorized to perform the requested action: ${rule}.`);
  }

  /** The same caller with the admin role added (nova's context.elevated()), for work done on its behalf. */
  elevated(): RequestContext {
    if (this.roles.includes('admin')) return this;
    return new RequestContext(this.auth, this.requestId, this.policy, [...this.extraRoles, 'admin']);
  }

  /** What travels with an RPC message. */
  toRpc(): RpcContext {
    return {
      requestId: this.requestId,
      userId: this.userId,
      projectId: this.projectId,
      roles: this.roles,
    };
  }

  private check(rule: string, target: Record<string, unknown>): PolicyResult {
    const policy = this.policy;
    if (!policy) throw new Error(`policy rule ${rule} checked outside of a service`);
    if (!policy.targetFree(rule)) return policy.check(rule, target, this.credentials);
    let res = this.memo.get(rule);
    if (!res) this.memo.set(rule, (res = policy.check(rule, target, this.credentials)));
    return res;
  }
}
