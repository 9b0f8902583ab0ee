// What the console proxies check on a WebSocket request before relaying (nova.console.websocketproxy
// NovaProxyRequestHandler.new_websocket_client): the token, from the `token` query parameter of
// the request or else from a `token` cookie (noVNC < 1.1 put it there), and the Origin header: a
// browser's Origin must name the host the request came to (Host), or one of the allowed origins
// ([console] allowed_origins), with the scheme of the proxy's base URL (http or, for ws:// bases,
// also http; https/wss alike; X-Forwarded-Proto wins over the Origin's scheme). A request without
// an Origin comes from a non-browser client and passes, as in Nova.
import type { IncomingHttpHeaders } from 'node:http';

const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v) ?? '';

/** The console token of a request: `?token=` of its path, else the `token` cookie; '' when none. */
export function requestToken(url: string, headers: IncomingHttpHeaders): string {
  const q = url.indexOf('?');
  const fromQuery = q >= 0 ? new URLSearchParams(url.slice(q + 1)).getAll('token').pop() : undefined;
  if (fromQuery) return fromQuery;
  for (const part of first(headers.cookie).split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== 'token') continue;
    let v = part.slice(eq + 1).trim();
    if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
    if (v) return v;
  }
  return '';
}

/** The host name of a Host header (no port; an IPv6 literal without its brackets). */
export function hostName(host: string): string {
  if (host.startsWith('[')) return host.slice(1, host.indexOf(']') > 0 ? host.indexOf(']') : undefined);
  const colon = host.indexOf(':');
  return colon >= 0 ? host.slice(0, colon) : host;
}

/** Nova's verify_origin_proto: the schemes an Origin may have for a proxy with this base URL. */
function expectedSchemes(accessUrlBase: string | null): string[] {
  let scheme = '';
  try {
    scheme = accessUrlBase ? new URL(accessUrlBase).protocol.replace(/:$/, '') : '';
  } catch {
    scheme = '';
  }
  if (scheme === 'ws') return ['ws', 'http'];
  if (scheme === 'wss') return ['wss', 'https'];
  return scheme ? [scheme] : [];
}

/** Why the request's Origin is refused, or null when it passes. */
export function originError(
  headers: IncomingHttpHeaders,
  accessUrlBase: string | null,
  allowedOrigins: readonly string[],
): string | null {
  const origin = first(headers.origin);
  if (!origin) return null;
  let hostname = '';
  let scheme = '';
  try {
    const u = new URL(origin);
    hostname = u.hostname.replace(/^\[|\]$/g, '');
    scheme = u.protocol.replace(/:$/, '');
  } catch {
    return 'Origin header not valid.';
  }
  const forwarded = first(headers['x-forwarded-proto']);
  if (forwarded) scheme = forwarded;
  if (!hostname || !scheme) return 'Origin header not valid.';
  const expected = [...allowedOrigins, hostName(first(headers.host))];
  if (!expected.includes(hostname)) return 'Origin header does not match this host.';
  if (!expectedSchemes(accessUrlBase).includes(scheme)) return 'Origin header protocol does not match this host.';
  return null;
}
