// The account: HEAD/GET (its headers and its container listing), POST (metadata, quota, the
// account ACL), PUT (allow_account_management), DELETE (a reseller admin's, then the reaper), and
// bulk-delete on POST/DELETE, as Swift's proxy AccountController with the bulk middleware.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import type { ObjectStoreService } from '../service.ts';
import type { Meta } from '../store.ts';
import {
  ACCOUNT_ACL,
  accountAccess,
  checkAccountAcl,
  forbiddenError,
  isProjectOwner,
  isReseller,
  ownerAccess,
  unauthorizedError,
  type Access,
} from '../acl.ts';
import {
  CONSTRAINTS,
  HTML,
  OWNER_HEADERS,
  applyMeta,
  drain,
  hdr,
  isBulkDelete,
  isExtract,
  listingFormat,
  listingParams,
  metaHeaders,
  names,
  sendListing,
} from './common.ts';
import { swiftRequest } from './request.ts';
import { sendSwift } from './object.ts';

async function accountHeaders(s: ObjectStoreService, reply: FastifyReply, account: string, access: Access) {
  const a = await s.store.ensureAccount(account);
  const st = await s.store.accountStats(account);
  reply.headers({
    'x-account-container-count': String(st.containers),
    'x-account-object-count': String(st.objects),
    'x-account-bytes-used': String(st.bytes),
    'x-account-storage-policy-policy-0-container-count': String(st.containers),
    'x-account-storage-policy-policy-0-object-count': String(st.objects),
    'x-account-storage-policy-policy-0-bytes-used': String(st.bytes),
    'x-timestamp': a.timestamp,
    'x-put-timestamp': a.timestamp,
    'accept-ranges': 'bytes',
  });
  metaHeaders(
    reply,
    access === 'acl'
      ? Object.fromEntries(Object.entries(a.metadata).filter(([k]) => !OWNER_HEADERS.includes(k)))
      : a.metadata,
  );
  return a;
}
/** A deleted account answers 410 Gone to reads (the proxy's rewrite of X-Account-Status: Deleted). */
async function notDeleted(s: ObjectStoreService, account: string, status = 410) {
  if (!s.deletedAccounts.has(account)) return;
  throw new ApiError(
    status,
    status === 410 ? 'This resource is no longer available.' : 'The resource could not be found.',
  );
}
/** The account's metadata after a PUT/POST: user metadata, quota (reseller admins only), the account ACL. */
function accountMetaFrom(req: FastifyRequest, reply: FastifyReply, access: Access, current: Meta): Meta | undefined {
  const quotaKeys = ['x-account-meta-quota-bytes', 'x-remove-account-meta-quota-bytes'];
  if (access !== 'reseller' && quotaKeys.some((k) => req.headers[k] !== undefined)) throw forbiddenError();
  if (req.headers['x-account-meta-quota-bytes'] !== undefined && !/^\d*$/.test(hdr(req, 'x-account-meta-quota-bytes')!))
    throw new ApiError(400, 'Invalid bytes quota.');
  const aclHeader = hdr(req, ACCOUNT_ACL);
  let acl: string | undefined;
  if (aclHeader !== undefined) {
    const r = checkAccountAcl(aclHeader);
    if ('error' in r) {
      reply
        .code(400)
        .type('text/plain; charset=UTF-8')
        .send(`X-Account-Access-Control invalid: ${r.error}\n\nInput: ${aclHeader}\n`);
      return undefined;
    }
    acl = r.acl;
  }
  const meta = applyMeta(req, 'account', current);
  if (acl !== undefined) {
    if (acl) meta[ACCOUNT_ACL] = acl;
    else delete meta[ACCOUNT_ACL];
  }
  return meta;
}
function checkAccountName(account: string) {
  const n = Buffer.byteLength(account);
  if (n > CONSTRAINTS.max_account_name_length)
    throw new ApiError(400, `Account name length of ${n} longer than ${CONSTRAINTS.max_account_name_length}`);
}

export async function headAccount(s: ObjectStoreService, req: FastifyRequest, reply: FastifyReply) {
  const { account } = names(req);
  const access = accountAccess(swiftRequest(req), account);
  await notDeleted(s, account);
  await accountHeaders(s, reply, account, access);
  reply.code(204).type('text/plain; charset=utf-8').send();
}

export async function getAccount(s: ObjectStoreService, req: FastifyRequest, reply: FastifyReply) {
  const { account } = names(req);
  const access = accountAccess(swiftRequest(req), account);
  await notDeleted(s, account);
  await accountHeaders(s, reply, account, access);
  const fmt = listingFormat(req);
  const opts = listingParams(req);
  const items = await s.store.list('containers', account, undefined, opts);
  const stats = await s.store.containerStatsMap(
    account,
    items.flatMap((i) => ('subdir' in i ? [] : [i.name])),
  );
  const rows = items.map((i) =>
    'subdir' in i
      ? i
      : {
          name: i.name,
          count: stats.get(i.name)?.objects ?? 0,
          bytes: stats.get(i.name)?.bytes ?? 0,
          last_modified: i.last_modified,
        },
  );
  sendListing(reply, fmt, 'account', account, rows);
}

/** ?bulk-delete on the account, by POST or DELETE (the bulk middleware). */
async function bulkDelete(s: ObjectStoreService, req: FastifyRequest, reply: FastifyReply, account: string) {
  // Each path is authorized on its own (as upstream's subrequests are): account ACL grantees may bulk-delete.
  try {
    ownerAccess(swiftRequest(req), account);
    if (!req.ctx) throw unauthorizedError();
    await notDeleted(s, account, 404);
  } catch (e) {
    drain(req);
    throw e;
  }
  return sendSwift(s, req, reply, await s.bulk.bulkDelete(swiftRequest(req), account));
}

export async function postAccount(s: ObjectStoreService, req: FastifyRequest, reply: FastifyReply) {
  const { account } = names(req);
  if (isBulkDelete(req)) return bulkDelete(s, req, reply, account);
  drain(req);
  const access = accountAccess(swiftRequest(req), account);
  checkAccountName(account);
  await notDeleted(s, account, 404);
  const a = await s.store.ensureAccount(account);
  const meta = accountMetaFrom(req, reply, access, a.metadata);
  if (!meta) return reply;
  await s.store.setAccountMeta(account, meta);
  reply.code(204).type(HTML).send();
}

export async function deleteAccount(s: ObjectStoreService, req: FastifyRequest, reply: FastifyReply) {
  const { account } = names(req);
  if (isBulkDelete(req)) return bulkDelete(s, req, reply, account);
  drain(req);
  // Only a reseller admin deletes an account (keystoneauth denies the owner); a query string is a typo'd bulk request.
  if (!isReseller(swiftRequest(req))) {
    ownerAccess(swiftRequest(req), account);
    if (!req.ctx) throw unauthorizedError();
    throw forbiddenError();
  }
  if (req.url.includes('?')) throw new ApiError(400, 'Bad Request');
  const a = await s.store.getAccount(account);
  if (!a || a.deleted_at) throw new ApiError(404, 'The resource could not be found.');
  await s.store.markAccountDeleted(account);
  s.deletedAccounts.add(account);
  return reply.code(204).type(HTML).send();
}

export async function putAccount(s: ObjectStoreService, req: FastifyRequest, reply: FastifyReply) {
  const { account } = names(req);
  try {
    if (isExtract(req)) {
      if (!req.ctx) throw unauthorizedError();
      await notDeleted(s, account, 404);
      await s.store.ensureAccount(account);
      return await sendSwift(s, req, reply, await s.bulk.extractArchive(swiftRequest(req), account, ''));
    }
    // allow_account_management: the project's operators and reseller admins create accounts.
    ownerAccess(swiftRequest(req), account);
    if (!isReseller(swiftRequest(req)) && !isProjectOwner(swiftRequest(req), account)) {
      if (!req.ctx) throw unauthorizedError();
      throw forbiddenError();
    }
    checkAccountName(account);
    const current = await s.store.getAccount(account);
    if (current?.deleted_at) throw new ApiError(403, 'Recently deleted');
    const meta = accountMetaFrom(
      req,
      reply,
      isReseller(swiftRequest(req)) ? 'reseller' : 'owner',
      current?.metadata ?? {},
    );
    if (!meta) return reply;
    const r = await s.store.putAccount(account, meta);
    if (r === 'deleted') throw new ApiError(403, 'Recently deleted');
    return reply
      .code(r === 'created' ? 201 : 202)
      .type(HTML)
      .send();
  } finally {
    drain(req);
  }
}
