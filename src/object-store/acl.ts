// keystoneauth semantics: the token's project owns AUTH_<project_id> when the user has an
// operator role; the reseller admin role may act on any account; others get what container
// ACLs grant (X-Container-Read/Write: project:user, project:*, *:user, *:*, role names, and for
// reads the referrer ACLs .r:* / .r:host / .rlistings that also admit anonymous requests).
import type { FastifyRequest } from 'fastify';
import { ApiError } from '../core/errors.ts';
import type { ContainerRow } from './store.ts';

export type Access = 'owner' | 'reseller' | 'acl';

export const unauthorizedError = () => new ApiError(401, 'This server could not verify that you are authorized to access the document you requested.');
export const forbiddenError = () => new ApiError(403, 'Access was denied to this resource.');

export function isReseller(req: FastifyRequest) { return !!req.ctx && req.allowed('swift:reseller_admin'); }

export function ownerAccess(req: FastifyRequest, account: string): Access | undefined {
  req.authorized = true;
  if (!req.ctx) return undefined;
  if (isReseller(req)) return 'reseller';
  if (req.ctx.projectId && account === `AUTH_${req.ctx.projectId}` && req.allowed('swift:operator')) return 'owner';
  return undefined;
}

export function parseAcl(v: string | undefined): string[] {
  return (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

function referrerAllowed(entries: string[], referer: string | undefined): boolean {
  let host = '';
  try { if (referer) host = new URL(referer).hostname; } catch { /* no host */ }
  let ok = false;
  for (const e of entries) {
    const m = /^\.r(?:ef(?:erer)?)?:(-?)(.*)$/.exec(e);
    if (!m) continue;
    const neg = m[1] === '-', pat = m[2]!;
    const hit = pat === '*' || (pat.startsWith('.') ? host.endsWith(pat) || host === pat.slice(1) : host === pat);
    if (hit) ok = !neg;
  }
  return ok;
}

function userAllowed(req: FastifyRequest, entries: string[]): boolean {
  const c = req.ctx;
  if (!c) return false;
  const ids = [c.projectId, c.projectName].filter(Boolean) as string[];
  const users = [c.userId, c.userName];
  const roles = c.roles.map((r) => r.toLowerCase());
  for (const e of entries) {
    if (e.startsWith('.')) continue;
    const i = e.indexOf(':');
    if (i < 0) { if (roles.includes(e.toLowerCase())) return true; continue; }
    const p = e.slice(0, i), u = e.slice(i + 1);
    if ((p === '*' || ids.includes(p)) && (u === '*' || users.includes(u))) return true;
  }
  return false;
}

/**
 * Authorizes a request on a container or object. `op`: 'read' (object GET/HEAD), 'listing'
 * (container GET/HEAD), 'write' (object PUT/POST/DELETE/COPY), 'admin' (container changes).
 */
export function authorize(req: FastifyRequest, account: string, op: 'read' | 'listing' | 'write' | 'admin', container?: ContainerRow): Access {
  const own = ownerAccess(req, account);
  if (own) return own;
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
  if (!req.ctx) throw unauthorizedError();
  throw forbiddenError();
}
