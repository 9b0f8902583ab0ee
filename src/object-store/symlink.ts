// Symlinks, as Swift's symlink middleware answers them: a zero-byte object whose system
// metadata names a target (X-Symlink-Target: container/object, X-Symlink-Target-Account);
// GET/HEAD follow it (at most SYMLOOP_MAX links, Content-Location names the target),
// ?symlink=get serves the link itself, POST answers 307 to the target, static links
// (X-Symlink-Target-Etag) are checked against the target at PUT and at every read, and JSON
// container listings carry symlink_path (and symlink_etag / symlink_bytes for static links).
import { ApiError } from '../core/errors.ts';
import type { ObjectStoreService } from './service.ts';
import { authorize, loadAccountAcls } from './acl.ts';
import type { SwiftRequest } from './request.ts';
import type { Meta, ObjectRow } from './store.ts';
import { hdr } from './api/common.ts';

export const SYMLOOP_MAX = 2;
export const EMPTY_MD5 = 'd41d8cd98f00b204e9800998ecf8427e';

const SYS = 'x-object-sysmeta-symlink-';
export const TARGET = `${SYS}target`;
export const TARGET_ACCOUNT = `${SYS}target-account`;
export const TARGET_ETAG = `${SYS}target-etag`;
export const TARGET_BYTES = `${SYS}target-bytes`;

/** Python's urllib quote with '/' safe (how Swift keeps the target). */
export const pyQuote = (s: string) =>
  encodeURIComponent(s)
    .replace(/%2F/g, '/')
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const unquote = (s: string) => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

/** The middleware's errors are plain text (see ObjectStoreService.renderError). */
export const PLAIN_ERROR = 'x-stratus-plain-error';
const plain = (status: number, message: string, headers: Record<string, string> = {}) =>
  new ApiError(status, message, 'text/plain', { ...headers, [PLAIN_ERROR]: '1' });

export interface Resolved {
  row: ObjectRow;
  location: string;
}

export class Symlinks {
  constructor(private s: ObjectStoreService) {}

  isLink(o: ObjectRow) {
    return o.metadata[TARGET] !== undefined;
  }

  /** The client-facing X-Symlink-* headers of a link (for ?symlink=get). */
  userHeaders(meta: Meta): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(meta)) if (k.startsWith(SYS)) out['x-symlink-' + k.slice(SYS.length)] = v;
    return out;
  }

  /** The target's path: /v1/<account>/<container>/<object>, quoted as Swift keeps it. */
  targetPath(o: ObjectRow) {
    const account = o.metadata[TARGET_ACCOUNT] ?? pyQuote(o.account);
    return `/v1/${account}/${o.metadata[TARGET]}`;
  }
  private targetRef(o: ObjectRow) {
    const t = unquote(o.metadata[TARGET]!);
    const i = t.indexOf('/');
    return {
      account: o.metadata[TARGET_ACCOUNT] ? unquote(o.metadata[TARGET_ACCOUNT]) : o.account,
      container: t.slice(0, i),
      object: t.slice(i + 1),
    };
  }

  /** Extra keys of a JSON container listing row for a link. */
  listingExtras(o: ObjectRow, listingAccount: string): Record<string, unknown> {
    if (!this.isLink(o)) return {};
    const out: Record<string, unknown> = {
      symlink_path: `/v1/${o.metadata[TARGET_ACCOUNT] ?? pyQuote(listingAccount)}/${o.metadata[TARGET]}`,
    };
    if (o.metadata[TARGET_ETAG] !== undefined) {
      out.symlink_etag = o.metadata[TARGET_ETAG];
      out.symlink_bytes = Number(o.metadata[TARGET_BYTES] ?? 0);
    }
    return out;
  }

  /**
   * A PUT with X-Symlink-Target: checks the headers (and, for a static link, the target) and
   * returns the system metadata to store and the content type the link gets when none was sent.
   */
  async prepare(
    req: SwiftRequest,
    account: string,
    container: string,
    object: string,
  ): Promise<{ meta: Meta; contentType?: string }> {
    const cl = hdr(req, 'content-length');
    if (cl !== undefined && cl !== '0') throw plain(400, 'Symlink requests require a zero byte body');
    const form = 'X-Symlink-Target header must be of the form <container name>/<object name>';
    const raw = unquote(hdr(req, 'x-symlink-target') ?? '');
    if (raw.startsWith('/')) throw plain(412, form);
    const i = raw.indexOf('/');
    if (i <= 0 || i === raw.length - 1) throw plain(412, form);
    const tc = raw.slice(0, i),
      to = raw.slice(i + 1);
    const meta: Meta = { [TARGET]: pyQuote(`${tc}/${to}`) };
    let ta = account;
    const acctHeader = hdr(req, 'x-symlink-target-account');
    if (acctHeader !== undefined) {
      ta = unquote(acctHeader);
      if (!ta) throw plain(412, 'Account name cannot be empty');
      if (ta.includes('/')) throw plain(412, 'Account name cannot contain slashes');
      meta[TARGET_ACCOUNT] = pyQuote(ta);
    }
    if (ta === account && tc === container && to === object) throw plain(400, 'Symlink cannot target itself');
    const etagHeader = hdr(req, 'x-symlink-target-etag');
    const etag = etagHeader?.replace(/^"(.*)"$/, '$1');
    if (etag && /[;"\\]/.test(etag)) throw plain(400, 'Bad X-Symlink-Target-Etag format');
    if (!etag) return { meta, contentType: hdr(req, 'content-type') ? undefined : 'application/symlink' };
    // A static link: the target must exist now and carry this ETag.
    const location = `/v1/${pyQuote(ta)}/${meta[TARGET]}`;
    const target = await this.s.store.getObject(ta, tc, to);
    await loadAccountAcls(req, this.s.store, ta);
    authorize(req, ta, 'read', await this.s.store.getContainer(ta, tc));
    if (!target || (target.delete_at !== null && target.delete_at <= Date.now() / 1000)) {
      throw plain(409, 'X-Symlink-Target does not exist', { 'content-location': location });
    }
    // A static link is followed; a dynamic one is compared as the zero-byte object it is.
    let final = target;
    if (this.isLink(target) && target.metadata[TARGET_ETAG] !== undefined)
      final = (await this.follow(req, target, etag, location)).row;
    else if (target.etag !== etag) {
      throw plain(409, `Object Etag '${target.etag}' does not match X-Symlink-Target-Etag header '${etag}'`, {
        'content-location': location,
      });
    }
    meta[TARGET_ETAG] = etag;
    meta[TARGET_BYTES] = String(final.bytes);
    return { meta, contentType: hdr(req, 'content-type') ? undefined : final.content_type };
  }

  /** GET/HEAD of a link: the object at the end of the chain, with the path of the last target. */
  async resolve(req: SwiftRequest, link: ObjectRow, tempUrlScope?: 'account' | 'container'): Promise<Resolved> {
    return this.follow(req, link, undefined, undefined, tempUrlScope);
  }

  private async follow(
    req: SwiftRequest,
    start: ObjectRow,
    wantEtag: string | undefined,
    location: string | undefined,
    tempUrlScope?: 'account' | 'container',
  ): Promise<Resolved> {
    let cur = start;
    let loops = 0;
    let targetEtag = wantEtag;
    let lastPath = location;
    while (this.isLink(cur)) {
      const linkEtag = cur.metadata[TARGET_ETAG];
      const found = linkEtag ?? cur.etag;
      if (targetEtag && targetEtag !== found) {
        throw plain(
          409,
          'X-Symlink-Target-Etag headers do not match',
          lastPath ? { 'content-location': lastPath } : {},
        );
      }
      if (loops >= SYMLOOP_MAX)
        throw plain(409, `Too many levels of symbolic links, maximum allowed is ${SYMLOOP_MAX}`);
      loops++;
      const ref = this.targetRef(cur);
      lastPath = this.targetPath(cur);
      // The target is read with the caller's own rights; a temp URL reaches what its key's scope covers.
      if (tempUrlScope) {
        if (ref.account !== start.account || (tempUrlScope === 'container' && ref.container !== start.container))
          throw new ApiError(401, 'Temp URL invalid');
      } else {
        await loadAccountAcls(req, this.s.store, ref.account);
        authorize(req, ref.account, 'read', await this.s.store.getContainer(ref.account, ref.container));
      }
      const next = await this.s.store.getObject(ref.account, ref.container, ref.object);
      if (!next || (next.delete_at !== null && next.delete_at <= Date.now() / 1000)) {
        throw new ApiError(404, 'The resource could not be found.', undefined, { 'content-location': lastPath });
      }
      targetEtag = linkEtag;
      cur = next;
    }
    if (targetEtag && cur.etag !== targetEtag) {
      throw plain(
        409,
        `Object Etag '${cur.etag}' does not match X-Symlink-Target-Etag header '${targetEtag}'`,
        lastPath ? { 'content-location': lastPath } : {},
      );
    }
    return { row: cur, location: lastPath ?? '' };
  }
}
