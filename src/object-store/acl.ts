// keystoneauth semantics: the token's project owns AUTH_<project_id> when the user has an
// operator role; the reseller admin role may act on any account; others get what container
// ACLs grant (X-Container-Read/Write: project:user, project:*, *:user, *:*, role names, and for
// reads the referrer ACLs .r:* / .r:host / .rlistings that also admit anonymous requests) and
// what the account's X-Account-Access-Control grants, with tempauth's rules (keystoneauth has no
// account ACLs of its own): `admin` makes the grantee an owner of the account (swift_owner),
// `read-write` allows every container and object request and account GET/HEAD, `read-only` GET
// and HEAD. Grantees are written as in container ACLs.
import { ApiError } from '../core/errors.ts';
import type { SwiftRequest } from './request.ts';
import type { ContainerRow, SwiftStore } from './store.ts';
import { pyStrRepr } from '../core/python.ts';

/** 'owner' is swift_owner (the project's operator, or an account ACL admin); 'acl' a grantee that is not. */
export type Access = 'owner' | 'reseller' | 'acl';

export const ACCOUNT_ACL = 'x-account-access-control';
const ACCOUNT_ACL_KEYS = ['admin', 'read-write', 'read-only'] as const;
export type AccountAcl = Partial<Record<(typeof ACCOUNT_ACL_KEYS)[number], string[]>>;

/**
 * Validates an X-Account-Access-Control value as tempauth does; returns the error text (for
 * `X-Account-Access-Control invalid: <error>`) or the ACL in Swift's canonical form ('' for none).
 */
export function checkAccountAcl(value: string): { error: string } | { acl: string } {
  if (value === '') return { acl: '' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    parsed = undefined;
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    return { error: `Syntax error in input (${pyStrRepr(value)})` };
  const acl = parsed as Record<string, unknown>;
  for (const k of Object.keys(acl))
    if (!(ACCOUNT_ACL_KEYS as readonly string[]).includes(k))
      return { error: `Key ${JSON.stringify(k)} not recognized` };
  for (const k of ACCOUNT_ACL_KEYS) {
    if (!(k in acl)) continue;
    if (!Array.isArray(acl[k])) return { error: `Value for key ${JSON.stringify(k)} must be a list` };
    if ((acl[k] as unknown[]).some((g) => typeof g !== 'string'))
      return { error: `Elements of ${JSON.stringify(k)} list must be strings` };
  }
  // format_acl(version=2): sorted keys, no spaces; an empty object is no ACL.
  const keys = Object.keys(acl).sort();
  return { acl: keys.length ? JSON.stringify(Object.fromEntries(keys.map((k) => [k, acl[k]]))) : '' };
}

/** Loads the account ACLs of `accounts` that a request may need (not for owners of them). */
export async function loadAccountAcls(req: SwiftRequest, store: SwiftStore, ...accounts: string[]) {
  if (!req.context.auth) return;
  const map = (req.accountAcls ??= new Map());
  for (const account of accounts) {
    if (map.has(account) || isReseller(req) || isProjectOwner(req, account)) continue;
    const raw = (await store.getAccount(account))?.metadata[ACCOUNT_ACL];
    let acl: AccountAcl | undefined;
    try {
      acl = raw ? JSON.parse(raw) : undefined;
    } catch {
      acl = undefined;
    }
    map.set(account, acl);
  }
}

/** The strongest account ACL grant the caller has on `account`. */
function accountGrant(req: SwiftRequest, account: string): 'admin' | 'read-write' | 'read-only' | undefined {
  const acl = req.accountAcls?.get(account);
  if (!acl) return undefined;
  for (const k of ACCOUNT_ACL_KEYS) if (acl[k]?.length && userAllowed(req, acl[k]!)) return k;
  return undefined;
}
const isRead = (req: SwiftRequest) => req.method === 'GET' || req.method === 'HEAD';

export const unauthorizedError = () =>
  new ApiError(401, 'This server could not verify that you are authorized to access the document you requested.');
export const forbiddenError = () => new ApiError(403, 'Access was denied to this resource.');

export function isReseller(req: SwiftRequest) {
  return !!req.context.auth && req.context.allowed('swift:reseller_admin');
}

export function isProjectOwner(req: SwiftRequest, account: string) {
  return (
    !!req.context.auth?.projectId &&
    account === `AUTH_${req.context.auth.projectId}` &&
    req.context.allowed('swift:operator')
  );
}

/** Reseller admins, the project's operators and account ACL admins own an account (swift_owner). */
export function ownerAccess(req: SwiftRequest, account: string): Access | undefined {
  req.context.enforced = true;
  if (!req.context.auth) return undefined;
  if (isReseller(req)) return 'reseller';
  if (isProjectOwner(req, account)) return 'owner';
  if (accountGrant(req, account) === 'admin') return 'owner';
  return undefined;
}

/** Account GET/HEAD/POST: owners; account ACL read-write and read-only grantees may read. */
export function accountAccess(req: SwiftRequest, account: string): Access {
  const own = ownerAccess(req, account);
  if (own) return own;
  const grant = accountGrant(req, account);
  if (grant && isRead(req)) return 'acl';
  if (!req.context.auth) throw unauthorizedError();
  throw forbiddenError();
}

export function parseAcl(v: string | undefined): string[] {
  return (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function referrerAllowed(entries: string[], referer: string | undefined): boolean {
  let host = '';
  try {
    if (referer) host = new URL(referer).hostname;
  } catch {
    /* no host */
  }
  let ok = false;
  for (const e of entries) {
    const m = /^\.r(?:ef(?:erer)?)?:(-?)(.*)$/.exec(e);
    if (!m) continue;
    const neg = m[1] === '-',
      pat = m[2]!;
    const hit = pat === '*' || (pat.startsWith('.') ? host.endsWith(pat) || host === pat.slice(1) : host === pat);
    if (hit) ok = !neg;
  }
  return ok;
}

function userAllowed(req: SwiftRequest, entries: string[]): boolean {
  const c = req.context.auth;
  if (!c) return false;
  const ids = [c.projectId, c.projectName].filter(Boolean) as string[];
  const users = [c.userId, c.userName];
  const roles = c.roles.map((r) => r.toLowerCase());
  for (const e of entries) {
    if (e.startsWith('.')) continue;
    const i = e.indexOf(':');
    if (i < 0) {
      if (roles.includes(e.toLowerCase())) return true;
      continue;
    }
    const p = e.slice(0, i),
      u = e.slice(i + 1);
    if ((p === '*' || ids.includes(p)) && (u === '*' || users.includes(u))) return true;
  }
  return false;
}

/**
 * Authorizes a request on a container or object. `op`: 'read' (object GET/HEAD), 'listing'
 * (container GET/HEAD), 'write' (object PUT/POST/DELETE/COPY), 'admin' (container changes).
 */
export function authorize(
  req: SwiftRequest,
  account: string,
  op: 'read' | 'listing' | 'write' | 'admin',
  container?: ContainerRow,
): Access {
  const own = ownerAccess(req, account);
  if (own) return own;
  const grant = accountGrant(req, account);
  if (grant === 'read-write' || (grant === 'read-only' && isRead(req) && (op === 'read' || op === 'listing')))
    return 'acl';
  if (container && op !== 'admin') {
    const read = parseAcl(container.metadata['x-container-read']);
    const write = parseAcl(container.metadata['x-container-write']);
    if (op === 'write') {
      if (userAllowed(req, write)) return 'acl';
    } else {
      if (userAllowed(req, read)) return 'acl';
      const referer = req.headers.referer as string | undefined;
      if (referrerAllowed(read, referer) && (op === 'read' || read.includes('.rlistings'))) return 'acl';
    }
  }
  if (!req.context.auth) throw unauthorizedError();
  throw forbiddenError();
}
