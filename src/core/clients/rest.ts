// The one way a service calls another: JSON over core/clients/http.ts (keep-alive node:http)
// to the endpoint the service user's catalog names, with the service token unless the caller's
// own token is given (Nova checks networks and images with the user's token), and the
// microversion the client class pins.
import { ApiError } from '../errors.ts';
import { httpRequest, type RequestBody } from './http.ts';
import type { ServiceSession } from './session.ts';

export interface RestAnswer<T = unknown> {
  status: number;
  /** The parsed JSON body; the text when it is not JSON; undefined when empty. */
  body: T;
}

export interface CallOptions {
  /** A user's token instead of the service's. */
  token?: string;
  headers?: Record<string, string>;
  /** The endpoint's interface in the catalog (default internal). */
  iface?: string;
}

export class RestClient {
  constructor(
    protected readonly session: ServiceSession,
    /** The catalog's service type ('placement', 'network', ...). */
    readonly serviceType: string,
    /** Headers every call sends: the microversion pin. */
    private readonly pinned: Record<string, string> = {},
  ) {}

  /** The service's base URL in the catalog, without a trailing slash. */
  async baseUrl(iface = 'internal'): Promise<string> {
    return (await this.session.endpoint(this.serviceType, iface)).replace(/\/+$/, '');
  }

  /** A JSON request; the answer whatever its status. */
  async request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    o: CallOptions = {},
  ): Promise<RestAnswer<T>> {
    const headers: Record<string, string> = { Accept: 'application/json', ...this.pinned, ...o.headers };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    return this.send<T>(method, path, headers, body === undefined ? undefined : JSON.stringify(body), o);
  }

  /** A request whose body is not JSON (image data, a JSON patch): sent as given. */
  async raw<T = unknown>(
    method: string,
    path: string,
    body: RequestBody,
    headers: Record<string, string>,
    o: CallOptions = {},
  ): Promise<RestAnswer<T>> {
    return this.send<T>(method, path, { Accept: 'application/json', ...this.pinned, ...headers }, body, o);
  }

  /** A request that must succeed: any other status is an error naming the service and its answer. */
  async ok<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    expect: number[] = [200, 201, 202, 204],
    o: CallOptions = {},
  ): Promise<T> {
    const r = await this.request<T>(method, path, body, o);
    if (!expect.includes(r.status)) throw this.failure(method, path, r);
    return r.body;
  }

  /** The error for an unexpected answer: a 5xx of the other service is our 503. */
  failure(method: string, path: string, r: RestAnswer<unknown>): ApiError {
    const text = typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
    return new ApiError(
      r.status >= 500 ? 503 : r.status,
      `${this.serviceType} ${method} ${path} answered ${r.status}: ${text}`,
    );
  }

  private async send<T>(
    method: string,
    path: string,
    headers: Record<string, string>,
    body: RequestBody | undefined,
    o: CallOptions,
  ): Promise<RestAnswer<T>> {
    const base = await this.baseUrl(o.iface);
    const res = await httpRequest(`${base}${path}`, {
      method,
      headers: { ...headers, 'X-Auth-Token': o.token ?? (await this.session.token()) },
      body,
    });
    let parsed: unknown;
    try {
      parsed = res.text ? JSON.parse(res.text) : undefined;
    } catch {
      parsed = res.text;
    }
    return { status: res.status, body: parsed as T };
  }
}

/** A path segment, escaped. */
export const seg = (s: string): string => encodeURIComponent(s);

/** A query string from defined values ('' when none). */
export function query(params: Record<string, string | number | boolean | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
