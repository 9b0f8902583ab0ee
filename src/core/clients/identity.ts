// The identity service (Keystone v3) as the other services call it: projects (Nova's
// verify_project_id) and unified limits (oslo.limit, for Glance's quotas). The catalog may
// name identity with or without /v3: paths here are relative to /v3.
import { ApiError } from '../errors.ts';
import { httpRequest } from './http.ts';
import { type CallOptions, RestClient, type RestAnswer, query, seg } from './rest.ts';
import type { ServiceSession } from './session.ts';

export interface RegisteredLimit {
  service_id: string;
  region_id: string | null;
  resource_name: string;
  default_limit: number;
}
export interface ProjectLimit {
  project_id: string;
  service_id: string;
  region_id: string | null;
  resource_name: string;
  resource_limit: number;
}

/** A trust's own fields (OS-TRUST): what Keystone answers and what its token provider reads. */
export interface TrustFields {
  id: string;
  trustor_user_id: string;
  trustee_user_id: string;
  project_id: string | null;
  impersonation: boolean;
  expires_at: string | null;
}

/** A trust (OS-TRUST) as Keystone answers it. */
export interface Trust extends TrustFields {
  roles?: Array<{ id: string; name: string }>;
}

export interface TrustRequest {
  trustor_user_id: string;
  trustee_user_id: string;
  project_id: string;
  impersonation: boolean;
  roles: Array<{ id?: string; name?: string }>;
  expires_at?: string | null;
}

/** A token Keystone issued: its id (X-Subject-Token), the user, its expiry. */
export interface IssuedToken {
  id: string;
  userId: string;
  projectId?: string;
  expiresAt: number;
}

export class IdentityClient extends RestClient {
  constructor(session: ServiceSession) {
    super(session, 'identity');
  }

  override async baseUrl(iface = 'internal'): Promise<string> {
    const base = await super.baseUrl(iface);
    return /\/v3$/.test(base) ? base : `${base}/v3`;
  }

  getProject(id: string, o?: CallOptions): Promise<RestAnswer<{ project: { id: string; name: string } }>> {
    return this.request('GET', `/projects/${seg(id)}`, undefined, o);
  }
  servicesOfType(type: string, o?: CallOptions): Promise<RestAnswer<{ services: Array<{ id: string }> }>> {
    return this.request('GET', `/services${query({ type })}`, undefined, o);
  }
  registeredLimits(
    filters: Record<string, string | undefined>,
    o?: CallOptions,
  ): Promise<RestAnswer<{ registered_limits: RegisteredLimit[] }>> {
    return this.request('GET', `/registered_limits${query(filters)}`, undefined, o);
  }
  projectLimits(
    filters: Record<string, string | undefined>,
    o?: CallOptions,
  ): Promise<RestAnswer<{ limits: ProjectLimit[] }>> {
    return this.request('GET', `/limits${query(filters)}`, undefined, o);
  }

  /** POST /v3/OS-TRUST/trusts: made with the trustor's own token (Keystone checks it is the trustor). */
  async createTrust(trust: TrustRequest, o?: CallOptions): Promise<Trust> {
    return (await this.ok<{ trust: Trust }>('POST', '/OS-TRUST/trusts', { trust }, [201], o)).trust;
  }
  getTrust(id: string, o?: CallOptions): Promise<RestAnswer<{ trust: Trust }>> {
    return this.request('GET', `/OS-TRUST/trusts/${seg(id)}`, undefined, o);
  }
  /** DELETE of a trust: the answer's status (204, or 404 when it is already gone). */
  async deleteTrust(id: string, o?: CallOptions): Promise<number> {
    return (await this.request('DELETE', `/OS-TRUST/trusts/${seg(id)}`, undefined, o)).status;
  }

  /**
   * POST /v3/auth/tokens with the `token` method: the given token (the service's by default)
   * re-issued, scoped to a trust (`trustId`, the caller being its trustee) or unscoped-as-before.
   */
  async tokenFor(scope: { trustId?: string }, o?: CallOptions): Promise<IssuedToken> {
    const base = await this.baseUrl(o?.iface);
    const subject = o?.token ?? (await this.session.token());
    const res = await httpRequest(`${base}/auth/tokens`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: { methods: ['token'], token: { id: subject } },
          ...(scope.trustId ? { scope: { 'OS-TRUST:trust': { id: scope.trustId } } } : {}),
        },
      }),
    });
    const header = res.headers['x-subject-token'];
    if (res.status !== 201 || typeof header !== 'string')
      throw new ApiError(
        res.status >= 500 ? 503 : res.status === 404 ? 401 : res.status,
        `identity POST /auth/tokens answered ${res.status}: ${res.text}`,
      );
    const body = JSON.parse(res.text) as {
      token: { expires_at: string; user: { id: string }; project?: { id: string } };
    };
    return {
      id: header,
      userId: body.token.user.id,
      projectId: body.token.project?.id,
      expiresAt: Date.parse(body.token.expires_at),
    };
  }
}
