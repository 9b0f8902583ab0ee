// Calls between services go over their public REST APIs with a service token, as in
// OpenStack: a session logs in as the service's user, keeps the token until shortly before
// it expires, and finds the other services in the token's catalog.
import { ApiError } from '../errors.ts';

export interface CatalogEntry {
  type: string;
  endpoints: Array<{ interface: string; region_id: string | null; url: string }>;
}

/** A password login's answer: the token and its body when Keystone issued one (201), else only the status. */
export interface LoginAnswer {
  status: number;
  token: string;
  body?: { token: { expires_at: string; catalog: CatalogEntry[]; project?: { id: string; name: string } } };
}

/**
 * A password login to Keystone (POST /v3/auth/tokens) of a user of the default domain, scoped
 * to a project of that domain or to the system. `authUrl`: the identity v3 URL.
 */
export async function passwordLogin(
  authUrl: string,
  u: { username: string; password: string; project: string; system?: boolean },
): Promise<LoginAnswer> {
  const res = await fetch(`${authUrl.replace(/\/+$/, '')}/auth/tokens`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: u.username, domain: { id: 'default' }, password: u.password } },
        },
        scope: u.system ? { system: { all: true } } : { project: { name: u.project, domain: { id: 'default' } } },
      },
    }),
  });
  if (res.status !== 201) return { status: res.status, token: '' };
  return {
    status: res.status,
    token: res.headers.get('x-subject-token')!,
    body: (await res.json()) as LoginAnswer['body'],
  };
}

export class ServiceSession {
  private cached?: { token: string; expires: number; catalog: CatalogEntry[] };
  private pending?: Promise<{ token: string; expires: number; catalog: CatalogEntry[] }>;
  constructor(
    private authUrl: () => string,
    private username: string,
    private password: string,
    private region: string,
    private project = 'service',
    private system = false,
  ) {}

  /** Another service user (same password and project), e.g. an agent's own user (ServiceFactory.agentUsers). */
  as(username: string): ServiceSession {
    return new ServiceSession(this.authUrl, username, this.password, this.region, this.project, this.system);
  }

  /** The same user with a system-scoped token (for APIs that answer system readers, like Keystone's limits). */
  systemScoped(): ServiceSession {
    return new ServiceSession(this.authUrl, this.username, this.password, this.region, this.project, true);
  }

  private async login() {
    const res = await passwordLogin(this.authUrl(), {
      username: this.username,
      password: this.password,
      project: this.project,
      system: this.system,
    });
    if (!res.body) throw new ApiError(503, `Service user ${this.username} could not authenticate (${res.status}).`);
    return { token: res.token, expires: Date.parse(res.body.token.expires_at), catalog: res.body.token.catalog };
  }

  private async current() {
    if (this.cached && this.cached.expires - Date.now() > 300_000) return this.cached;
    this.pending ??= this.login().finally(() => {
      this.pending = undefined;
    });
    this.cached = await this.pending;
    return this.cached;
  }

  async token(): Promise<string> {
    return (await this.current()).token;
  }

  /** The URL of a service type in this region ($(project_id)s left to the caller). */
  async endpoint(type: string, iface = 'internal'): Promise<string> {
    const entry = (await this.current()).catalog.find((c) => c.type === type);
    const ep =
      entry?.endpoints.find((e) => e.interface === iface && (!e.region_id || e.region_id === this.region)) ??
      entry?.endpoints[0];
    if (!ep) throw new ApiError(503, `No ${type} endpoint in the catalog.`);
    return ep.url;
  }

  /** fetch() with the service token. */
  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('X-Auth-Token', await this.token());
    return fetch(url, { ...init, headers });
  }
}
