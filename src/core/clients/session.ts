// Calls between services go over their public REST APIs with a service token, as in
// OpenStack: a session logs in as the service's user, keeps the token until shortly before
// it expires, and finds the other services in the token's catalog.
import { ApiError } from '../errors.ts';

interface CatalogEntry {
  type: string;
  endpoints: Array<{ interface: string; region_id: string | null; url: string }>;
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
    const res = await fetch(`${this.authUrl()}/auth/tokens`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: this.username, domain: { id: 'default' }, password: this.password } },
          },
          scope: this.system
            ? { system: { all: true } }
            : { project: { name: this.project, domain: { id: 'default' } } },
        },
      }),
    });
    if (res.status !== 201)
      throw new ApiError(503, `Service user ${this.username} could not authenticate (${res.status}).`);
    const body = (await res.json()) as { token: { expires_at: string; catalog: CatalogEntry[] } };
    return {
      token: res.headers.get('x-subject-token')!,
      expires: Date.parse(body.token.expires_at),
      catalog: body.token.catalog,
    };
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
