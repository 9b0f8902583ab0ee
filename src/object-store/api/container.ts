// The container: HEAD/GET (its headers and its object listing, or a static web page), PUT
// (create, metadata, quotas, versioning), POST (metadata, or a form post), DELETE (when empty), and
// extract-archive on PUT, as Swift's proxy ContainerController with its middlewares.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import type { ObjectStoreService } from '../service.ts';
import type { ContainerRow, Meta } from '../store.ts';
import { authorize, unauthorizedError, type Access } from '../acl.ts';
import {
  CONTAINER_SYSTEM,
  HTML,
  OWNER_HEADERS,
  applyMeta,
  checkContainerName,
  drain,
  hdr,
  isExtract,
  listingFormat,
  listingParams,
  metaHeaders,
  names,
  sendListing,
  stripOwnerHeaders,
} from './common.ts';
import { swiftRequest } from './request.ts';
import { sendSwift } from './object.ts';

async function containerOr404(s: ObjectStoreService, account: string, name: string): Promise<ContainerRow> {
  const c = await s.store.getContainer(account, name);
  if (!c) throw new ApiError(404, 'The resource could not be found.');
  return c;
}
async function containerHeaders(s: ObjectStoreService, reply: FastifyReply, c: ContainerRow) {
  const st = await s.store.containerStats(c.account, c.name);
  reply.headers({
    'x-container-object-count': String(st.objects),
    'x-container-bytes-used': String(st.bytes),
    'x-timestamp': c.timestamp,
    'x-put-timestamp': c.timestamp,
    'x-storage-policy': 'Policy-0',
    'accept-ranges': 'bytes',
    'last-modified': new Date(Date.parse(c.last_modified + 'Z')).toUTCString(),
  });
  metaHeaders(reply, c.metadata);
}
/** Only owners see and set ACLs and sync settings. */
function visibleContainer(c: ContainerRow, access: Access): ContainerRow {
  if (access !== 'acl') return c;
  const metadata: Meta = {};
  for (const [k, v] of Object.entries(c.metadata))
    if (!CONTAINER_SYSTEM.includes(k) && !OWNER_HEADERS.includes(k)) metadata[k] = v;
  return { ...c, metadata };
}
function checkContainerQuotaHeaders(req: FastifyRequest) {
  for (const k of ['x-container-meta-quota-bytes', 'x-container-meta-quota-count']) {
    const v = hdr(req, k);
    if (v !== undefined && v !== '' && !/^\d+$/.test(v)) throw new ApiError(400, 'Invalid quota value.');
  }
}
function checkVersionHeaders(req: FastifyRequest) {
  if (req.headers['x-versions-location'] && req.headers['x-history-location']) {
    throw new ApiError(400, 'Only one of X-Versions-Location or X-History-Location may be provided');
  }
  for (const k of ['x-versions-location', 'x-history-location']) {
    const v = hdr(req, k);
    if (v) checkContainerName(decodeURIComponent(v));
  }
}

export async function headContainer(s: ObjectStoreService, req: FastifyRequest, reply: FastifyReply) {
  const { account, container } = names(req);
  const c = await s.store.getContainer(account, container!);
  const access = authorize(swiftRequest(req), account, 'listing', c);
  if (!c) throw new ApiError(404, 'The resource could not be found.');
  await containerHeaders(s, reply, visibleContainer(c, access));
  reply.code(204).type('text/plain; charset=utf-8').send();
}

export async function getContainer(s: ObjectStoreService, req: FastifyRequest, reply: FastifyReply) {
  const { account, container } = names(req);
  const c = await s.store.getContainer(account, container!);
  const web = c && (await s.web.maybeServe(swiftRequest(req), c, ''));
  if (web) return sendSwift(s, req, reply, web);
  const access = authorize(swiftRequest(req), account, 'listing', c);
  if (!c) throw new ApiError(404, 'The resource could not be found.');
  await containerHeaders(s, reply, visibleContainer(c, access));
  const fmt = listingFormat(req);
  const items = await s.store.list('objects', account, container, listingParams(req));
  const rows = items.map((o) =>
    'subdir' in o
      ? o
      : {
          hash: o.etag,
          last_modified: o.last_modified,
          bytes: o.bytes,
          name: o.name,
          content_type: o.content_type,
          // Only JSON listings name symlink targets, as upstream.
          ...(fmt === 'json' ? s.symlinks.listingExtras(o, account) : {}),
        },
  );
  sendListing(reply, fmt, 'container', container!, rows);
}

export async function putContainer(s: ObjectStoreService, req: FastifyRequest, reply: FastifyReply) {
  const { account, container } = names(req);
  if (isExtract(req)) {
    try {
      if (!req.ctx) throw unauthorizedError();
      await s.store.ensureAccount(account);
      return await sendSwift(s, req, reply, await s.bulk.extractArchive(swiftRequest(req), account, container!));
    } finally {
      drain(req);
    }
  }
  drain(req);
  if (authorize(swiftRequest(req), account, 'admin') === 'acl') stripOwnerHeaders(req);
  checkContainerName(container!);
  await s.store.ensureAccount(account);
  const existing = await s.store.getContainer(account, container!);
  checkContainerQuotaHeaders(req);
  checkVersionHeaders(req);
  const meta = applyMeta(req, 'container', existing?.metadata ?? {}, CONTAINER_SYSTEM);
  if (existing) {
    await s.store.setContainerMeta(account, container!, meta);
    reply.code(202).type(HTML).send();
  } else {
    await s.store.createContainer(account, container!, meta);
    reply.code(201).type(HTML).send();
  }
}

export async function postContainer(s: ObjectStoreService, req: FastifyRequest, reply: FastifyReply) {
  const { account, container } = names(req);
  try {
    const form = await s.formpost.maybeHandle(swiftRequest(req), account, container!, '');
    if (form) return sendSwift(s, req, reply, form);
  } finally {
    drain(req);
  }
  if (authorize(swiftRequest(req), account, 'admin') === 'acl') stripOwnerHeaders(req);
  const c = await containerOr404(s, account, container!);
  checkContainerQuotaHeaders(req);
  checkVersionHeaders(req);
  await s.store.setContainerMeta(account, container!, applyMeta(req, 'container', c.metadata, CONTAINER_SYSTEM));
  reply.code(204).type(HTML).send();
}

export async function deleteContainer(s: ObjectStoreService, req: FastifyRequest, reply: FastifyReply) {
  const { account, container } = names(req);
  drain(req);
  authorize(swiftRequest(req), account, 'admin');
  await containerOr404(s, account, container!);
  const st = await s.store.containerStats(account, container!);
  if (st.objects > 0) throw new ApiError(409, 'There was a conflict when trying to complete your request.');
  await s.store.deleteContainer(account, container!);
  reply.code(204).type(HTML).send();
}
