// Temporary URLs (the tempurl middleware): temp_url_sig / temp_url_expires (/ temp_url_prefix)
// signed with an account or container Temp-URL-Key(-2), HMAC sha1, sha256 or sha512 (hex, or
// "<algo>:<base64url>"). A valid signature stands in for a token for that one method and path.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ApiError } from '../core/errors.ts';
import { PLAIN_ERROR } from './symlink.ts';
import type { ObjectStoreService } from './service.ts';
import type { SwiftRequest } from './request.ts';

export const TEMPURL_METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'];
export const TEMPURL_DIGESTS = ['sha1', 'sha256', 'sha512'];
const HEX_LEN: Record<number, string> = { 40: 'sha1', 64: 'sha256', 128: 'sha512' };

export function parseExpires(v: string): number | null {
  if (/^\d+$/.test(v)) return Number(v);
  const t = Date.parse(v);
  return /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(v) && !Number.isNaN(t) ? t / 1000 : null;
}

export function sigMatches(sig: string, keys: string[], messages: string[]): boolean {
  let algo: string | undefined, want: Buffer;
  const m = /^(sha1|sha256|sha512):(.+)$/.exec(sig);
  if (m) {
    algo = m[1]!;
    want = Buffer.from(m[2]!.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  } else {
    if (!/^[0-9a-f]+$/i.test(sig)) return false;
    algo = HEX_LEN[sig.length];
    want = Buffer.from(sig, 'hex');
  }
  if (!algo) return false;
  for (const key of keys)
    for (const msg of messages) {
      const got = createHmac(algo, key).update(msg).digest();
      if (got.length === want.length && timingSafeEqual(got, want)) return true;
    }
  return false;
}

export class TempUrl {
  constructor(private s: ObjectStoreService) {}

  /** undefined when the request carries no temp URL; throws 401 when it carries a bad one. */
  async check(
    req: SwiftRequest,
    account: string,
    container: string,
    object: string,
  ): Promise<{ disposition?: string; scope: 'account' | 'container' } | undefined> {
    const q = req.query;
    if (q.temp_url_sig === undefined && q.temp_url_expires === undefined) return undefined;
    const deny = () => new ApiError(401, 'Temp URL invalid');
    if (!q.temp_url_sig || !q.temp_url_expires) throw deny();
    const expires = parseExpires(q.temp_url_expires);
    if (expires === null || expires < Date.now() / 1000) throw deny();
    if (!TEMPURL_METHODS.includes(req.method)) throw deny();
    const a = await this.s.store.getAccount(account);
    const c = await this.s.store.getContainer(account, container);
    const accountKeys = [
      a?.metadata['x-account-meta-temp-url-key'],
      a?.metadata['x-account-meta-temp-url-key-2'],
    ].filter((k): k is string => !!k);
    const containerKeys = [
      c?.metadata['x-container-meta-temp-url-key'],
      c?.metadata['x-container-meta-temp-url-key-2'],
    ].filter((k): k is string => !!k);
    if (!accountKeys.length && !containerKeys.length) throw deny();
    const prefix = q.temp_url_prefix;
    if (prefix !== undefined && !object.startsWith(prefix)) throw deny();
    const path =
      prefix !== undefined ? `prefix:/v1/${account}/${container}/${prefix}` : `/v1/${account}/${container}/${object}`;
    const fullPath = `${req.servicePrefix}${path.startsWith('prefix:') ? '' : ''}`;
    const paths = [path];
    if (fullPath)
      paths.push(
        prefix !== undefined ? `prefix:${fullPath}/v1/${account}/${container}/${prefix}` : `${fullPath}${path}`,
      );
    // A HEAD may use a signature made for GET, PUT or HEAD.
    const methods = req.method === 'HEAD' ? ['HEAD', 'GET', 'PUT'] : [req.method];
    const messages = methods.flatMap((m) => paths.map((p) => `${m}\n${q.temp_url_expires}\n${p}`));
    if (q.temp_url_ip_range)
      for (const m of methods)
        for (const p of paths) messages.push(`ip=${q.temp_url_ip_range}\n${m}\n${q.temp_url_expires}\n${p}`);
    // An account key reaches the whole account (symlinks across containers), a container key its container.
    const scope = sigMatches(q.temp_url_sig, accountKeys, messages)
      ? 'account'
      : sigMatches(q.temp_url_sig, containerKeys, messages)
        ? 'container'
        : undefined;
    if (!scope) throw deny();
    req.context.enforced = true;
    if (!['GET', 'HEAD', 'OPTIONS'].includes(req.method)) {
      for (const h of ['x-object-manifest', 'x-symlink-target']) {
        if (req.headers[h] !== undefined)
          throw new ApiError(
            400,
            `The header '${h.replace(/(^|-)([a-z])/g, (_m, d, c) => d + c.toUpperCase())}' is not allowed in this tempurl`,
            'text/plain',
            { [PLAIN_ERROR]: '1' },
          );
      }
    }
    if (req.method !== 'GET') return { scope };
    const base = object.split('/').pop() ?? object;
    const filename = q.filename ?? base;
    const disposition =
      q.inline !== undefined
        ? q.filename !== undefined
          ? `inline; filename="${filename.replace(/"/g, '\\"')}"`
          : 'inline'
        : `attachment; filename="${filename.replace(/"/g, '\\"')}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
    return { disposition, scope };
  }
}
