// The identity service (Keystone v3) as the other services call it: projects (Nova's
// verify_project_id) and unified limits (oslo.limit, for Glance's quotas). The catalog may
// name identity with or without /v3: paths here are relative to /v3.
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
}
