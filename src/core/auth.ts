// Token validation for every service: who is calling, in which scope, with which roles.
// In the all-in-one process the validator is identity's own token provider; when services
// run apart it is an HTTP call to identity (GET /v3/auth/tokens). Either way results are
// cached briefly and the cache is dropped when identity announces a revocation.
import type { PolicyCredentials } from './policy/index.ts';

export interface AuthContext {
  token: string;
  userId: string;
  userName: string;
  userDomainId: string;
  userDomainName: string;
  projectId?: string;
  projectName?: string;
  projectDomainId?: string;
  projectDomainName?: string;
  domainId?: string;
  domainName?: string;
  /** 'all' for a system-scoped token. */
  system?: string;
  roles: string[];
  roleIds: string[];
  methods: string[];
  auditIds: string[];
  expiresAt: string;
  issuedAt: string;
  isAdminProject: boolean;
  trustId?: string;
  appCredId?: string;
  /** Roles of the X-Service-Token, when one came with the request. */
  serviceRoles?: string[];
}

export interface TokenValidator {
  validate(token: string, opts?: { allowExpired?: boolean }): Promise<AuthContext>;
}

/** Wraps a validator with a short cache; `clear()` is called on revocation events. */
export class CachedTokenValidator implements TokenValidator {
  private cache = new Map<string, { ctx: AuthContext; until: number }>();
  constructor(
    private inner: TokenValidator,
    private ttlMs = 30000,
    private max = 10000,
  ) {}
  async validate(token: string, opts?: { allowExpired?: boolean }): Promise<AuthContext> {
    if (opts?.allowExpired) return this.inner.validate(token, opts);
    const hit = this.cache.get(token);
    const t = Date.now();
    if (hit && hit.until > t && Date.parse(hit.ctx.expiresAt) > t) return hit.ctx;
    const ctx = await this.inner.validate(token, opts);
    if (this.cache.size >= this.max) this.cache.clear();
    this.cache.set(token, { ctx, until: t + this.ttlMs });
    return ctx;
  }
  clear() {
    this.cache.clear();
  }
}

/** Validates through identity's REST API, as keystonemiddleware does, with a service token. */
export class HttpTokenValidator implements TokenValidator {
  constructor(
    private identityUrl: string,
    private serviceToken: () => Promise<string>,
  ) {}
  async validate(token: string, opts?: { allowExpired?: boolean }): Promise<AuthContext> {
    const q = opts?.allowExpired ? '?allow_expired=1&nocatalog' : '?nocatalog';
    const res = await fetch(`${this.identityUrl}/v3/auth/tokens${q}`, {
      headers: { 'X-Auth-Token': await this.serviceToken(), 'X-Subject-Token': token },
    });
    if (res.status === 404 || res.status === 401) throw Object.assign(new Error('invalid token'), { status: 401 });
    if (!res.ok) throw new Error(`identity answered ${res.status} validating a token`);
    const body = (await res.json()) as { token: TokenBody };
    return contextFromTokenBody(token, body.token);
  }
}

export interface TokenBody {
  methods: string[];
  user: { id: string; name: string; domain: { id: string; name: string } };
  project?: { id: string; name: string; domain: { id: string; name: string } };
  domain?: { id: string; name: string };
  system?: Record<string, boolean>;
  roles?: Array<{ id: string; name: string }>;
  expires_at: string;
  issued_at: string;
  audit_ids: string[];
  is_admin_project?: boolean;
  'OS-TRUST:trust'?: { id: string };
  application_credential?: { id: string };
}

export function contextFromTokenBody(token: string, t: TokenBody): AuthContext {
  return {
    token,
    userId: t.user.id,
    userName: t.user.name,
    userDomainId: t.user.domain.id,
    userDomainName: t.user.domain.name,
    projectId: t.project?.id,
    projectName: t.project?.name,
    projectDomainId: t.project?.domain.id,
    projectDomainName: t.project?.domain.name,
    domainId: t.domain?.id,
    domainName: t.domain?.name,
    system: t.system?.all ? 'all' : undefined,
    roles: (t.roles ?? []).map((r) => r.name),
    roleIds: (t.roles ?? []).map((r) => r.id),
    methods: t.methods,
    auditIds: t.audit_ids,
    expiresAt: t.expires_at,
    issuedAt: t.issued_at,
    isAdminProject: t.is_admin_project ?? false,
    trustId: t['OS-TRUST:trust']?.id,
    appCredId: t.application_credential?.id,
  };
}

/** The credentials a policy rule sees, shaped like oslo.context's policy values plus keystone's `token`. */
export function policyCredentials(ctx: AuthContext | undefined): PolicyCredentials {
  if (!ctx) return { roles: [] };
  return {
    user_id: ctx.userId,
    user_domain_id: ctx.userDomainId,
    project_id: ctx.projectId ?? null,
    project_domain_id: ctx.projectDomainId ?? null,
    domain_id: ctx.domainId ?? null,
    system_scope: ctx.system ?? null,
    roles: ctx.roles,
    is_admin_project: ctx.isAdminProject,
    service_roles: ctx.serviceRoles ?? [],
    trust_id: ctx.trustId ?? null,
    token: {
      user: { id: ctx.userId, domain: { id: ctx.userDomainId } },
      project: ctx.projectId ? { id: ctx.projectId, domain: { id: ctx.projectDomainId } } : undefined,
      domain: ctx.domainId ? { id: ctx.domainId } : undefined,
      system: ctx.system ? { all: true } : undefined,
    },
  };
}
