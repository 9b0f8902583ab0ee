// Response header names in the capitalisation the upstream service sends. Fastify keeps header
// names in lower case; HTTP says they are case-insensitive, but some clients compare them
// case-sensitively. Swift's swob title-cases every name (Python's str.title(): `X-Container-Meta-K1`,
// `Etag`, `X-Trans-Id`); the webob services (Nova, Neutron, Keystone, Cinder, Glance...) send what
// they set: webob's own `Content-Type`/`Content-Length`, the API's `OpenStack-API-Version`, ... and
// oslo.middleware's lower-case `x-openstack-request-id`.
import type { ServerResponse, OutgoingHttpHeaders } from 'node:http';

/** Python's str.title(): a letter after a letter is lower case, any other letter upper case. */
export function pythonTitle(name: string): string {
  let out = '';
  let prevCased = false;
  for (const ch of name) {
    const lower = ch.toLowerCase();
    const upper = ch.toUpperCase();
    const cased = lower !== upper;
    out += cased ? (prevCased ? lower : upper) : ch;
    prevCased = cased;
  }
  return out;
}

/** The names the webob services set themselves, in their spelling (others are sent as set). */
const WEBOB_NAMES: Record<string, string> = Object.fromEntries(
  [
    'Content-Type',
    'Content-Length',
    'Content-Range',
    'Content-Encoding',
    'Content-Disposition',
    'Content-MD5',
    'Location',
    'Vary',
    'ETag',
    'Last-Modified',
    'Accept-Ranges',
    'Allow',
    'Retry-After',
    'WWW-Authenticate',
    'Cache-Control',
    'OpenStack-API-Version',
    'X-OpenStack-Nova-API-Version',
    'X-Subject-Token',
    'X-Auth-Token',
    'Openstack-Image-Import-Methods',
    'OpenStack-image-store-ids',
    'Accept-Patch',
    'Link',
  ].map((n) => [n.toLowerCase(), n]),
);

/** The name a webob-based OpenStack service sends for a header set by this name. */
export function openstackHeaderName(name: string): string {
  return WEBOB_NAMES[name.toLowerCase()] ?? name;
}

type HeaderArg = OutgoingHttpHeaders | Array<string | string[]> | undefined;

function renameAll(headers: HeaderArg, map: (n: string) => string): HeaderArg {
  if (!headers) return headers;
  if (Array.isArray(headers)) {
    // [[k, v], ...] or the flat [k, v, k, v] form.
    if (headers.length > 0 && Array.isArray(headers[0]))
      return (headers as string[][]).map(([k, ...v]) => [map(k!), ...v]);
    return (headers as string[]).map((x, i) => (i % 2 === 0 ? map(x) : x));
  }
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) out[map(k)] = v;
  return out;
}

const WRAPPED = Symbol('headerCase');

/**
 * Sends this response's header names through `map` (once per response, at writeHead): the
 * headers Fastify passes to writeHead and those already set on the raw response.
 */
export function caseResponseHeaders(res: ServerResponse, map: (name: string) => string): void {
  const r = res as ServerResponse & { [WRAPPED]?: boolean };
  if (r[WRAPPED]) return;
  r[WRAPPED] = true;
  const original = res.writeHead as (this: ServerResponse, ...args: unknown[]) => ServerResponse;
  const wrapped = function (this: ServerResponse, status: number, ...rest: unknown[]) {
    // Node ≥ 15 has getRawHeaderNames (the names as set); @types/node of this tree may not.
    const self = this as ServerResponse & { getRawHeaderNames?(): string[] };
    for (const raw of self.getRawHeaderNames?.() ?? []) {
      const want = map(raw);
      if (want !== raw) {
        const v = this.getHeader(raw);
        this.removeHeader(raw);
        if (v !== undefined) this.setHeader(want, v);
      }
    }
    if (typeof rest[0] === 'string') return original.call(this, status, rest[0], renameAll(rest[1] as HeaderArg, map));
    return original.call(this, status, renameAll(rest[0] as HeaderArg, map));
  };
  res.writeHead = wrapped as typeof res.writeHead;
}
