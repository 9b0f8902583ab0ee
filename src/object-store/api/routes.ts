// The Swift v1 API: /v1/{account}[/{container}[/{object}]] and /info.
import { PassThrough, Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import type { ObjectStoreService } from '../service.ts';
import {
  ACCOUNT_ACL,
  accountAccess,
  authorize,
  checkAccountAcl,
  forbiddenError,
  isProjectOwner,
  isReseller,
  loadAccountAcls,
  ownerAccess,
  unauthorizedError,
  type Access,
} from '../acl.ts';
import { PLAIN_ERROR, TARGET_ETAG } from '../symlink.ts';
import { isoOf, xTimestamp, type ContainerRow, type Meta, type ObjectRow } from '../store.ts';
import {
  CONSTRAINTS,
  LISTING_TYPES,
  applyMeta,
  hdr,
  httpDate,
  listingFormat,
  listingParams,
  metaHeaders,
  parseRanges,
  xmlEscape,
} from './common.ts';

const CONTAINER_SYSTEM = [
  'x-container-read',
  'x-container-write',
  'x-versions-location',
  'x-history-location',
  'x-container-sync-to',
  'x-container-sync-key',
];
const OBJECT_SYSTEM = ['content-disposition', 'content-encoding', 'x-object-manifest'];
/** The proxy's swift_owner_headers: only owners see them, and others' requests cannot set them. */
const OWNER_HEADERS = [
  'x-container-read',
  'x-container-write',
  'x-container-sync-key',
  'x-container-sync-to',
  'x-account-meta-temp-url-key',
  'x-account-meta-temp-url-key-2',
  'x-container-meta-temp-url-key',
  'x-container-meta-temp-url-key-2',
  ACCOUNT_ACL,
];
function stripOwnerHeaders(req: FastifyRequest) {
  for (const h of OWNER_HEADERS) {
    delete req.headers[h];
    delete req.headers[`x-remove-${h.slice(2)}`];
  }
}
const HTML = 'text/html; charset=UTF-8';

type Params = { account: string; container?: string; '*'?: string };

function names(req: FastifyRequest) {
  const p = req.params as Params;
  return { account: p.account, container: p.container, object: p['*'] };
}

function checkContainerName(name: string) {
  if (name.includes('/')) throw new ApiError(400, 'Container name cannot contain slashes');
  if (Buffer.byteLength(name) > CONSTRAINTS.max_container_name_length)
    throw new ApiError(
      400,
      `Container name length of ${Buffer.byteLength(name)} longer than ${CONSTRAINTS.max_container_name_length}`,
    );
}

/** Drains an unread request body so the connection can be reused. */
function drain(req: FastifyRequest) {
  const b = req.body as any;
  if (b && typeof b.resume === 'function' && !b.readableEnded) b.resume();
}

function bodyStream(req: FastifyRequest): AsyncIterable<Buffer> {
  const b = req.body as any;
  if (b && typeof b[Symbol.asyncIterator] === 'function') return b;
  return Readable.from([]);
}

type Handler = (req: FastifyRequest, reply: FastifyReply) => unknown;

/**
 * Splits /v1/{account}[/{container}[/{object}]] from the raw URL: one wildcard route per method
 * (router parameters are capped at 100 characters, container names may have 256 and object
 * names 1024), each piece percent-decoded on its own.
 */
function parseV1(req: FastifyRequest): { level: number; params: Params } | null {
  const raw = req.url.split('?')[0]!;
  const i = raw.indexOf('/v1/');
  if (i < 0) return null;
  const rest = raw.slice(i + 4);
  const dec = (x: string) => {
    try {
      return decodeURIComponent(x);
    } catch {
      throw new ApiError(412, 'Invalid UTF8 or contains NULL');
    }
  };
  const a = rest.indexOf('/');
  if (a < 0) return rest ? { level: 1, params: { account: dec(rest) } } : null;
  const account = dec(rest.slice(0, a));
  const after = rest.slice(a + 1);
  const b = after.indexOf('/');
  if (b < 0)
    return after ? { level: 2, params: { account, container: dec(after) } } : { level: 1, params: { account } };
  const container = dec(after.slice(0, b));
  const object = dec(after.slice(b + 1));
  if (!object) return { level: 2, params: { account, container } };
  if (object.includes('\0')) throw new ApiError(412, 'Invalid UTF8 or contains NULL');
  return { level: 3, params: { account, container, '*': object } };
}

export function registerRoutes(app: FastifyInstance, s: ObjectStoreService) {
  const store = s.store;
  const table = new Map<string, Handler>();
  const levelOf = (url: string) => (url === '/v1/:account' ? 1 : url === '/v1/:account/:container' ? 2 : 3);
  const add = (methods: string | string[], url: string, h: Handler) => {
    for (const m of [methods].flat()) table.set(`${m} ${levelOf(url)}`, h);
  };
  const v1 = {
    route: (o: { method: string | string[]; url: string; config?: unknown; handler: Handler }) =>
      add(o.method, o.url, o.handler),
    get: (url: string, _o: unknown, h: Handler) => add('GET', url, h),
    put: (url: string, _o: unknown, h: Handler) => add('PUT', url, h),
    post: (url: string, _o: unknown, h: Handler) => add('POST', url, h),
    delete: (url: string, _o: unknown, h: Handler) => add('DELETE', url, h),
  };
  for (const method of ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'COPY']) {
    app.route({
      method,
      url: '/v1/*',
      config: { auth: 'optional' },
      handler: async (req, reply) => {
        const parsed = parseV1(req);
        if (!parsed) throw new ApiError(404, 'The resource could not be found.');
        req.params = parsed.params;
        const h = table.get(`${method} ${parsed.level}`);
        if (!h) {
          drain(req);
          throw new ApiError(405, 'Method Not Allowed');
        }
        // Containers and objects of a deleted account are gone at once; the account reaper removes them.
        if (parsed.level >= 2 && s.deletedAccounts.has(parsed.params.account)) {
          drain(req);
          throw new ApiError(404, 'The resource could not be found.');
        }
        await loadAccountAcls(req, store, parsed.params.account);
        return h(req, reply);
      },
    });
  }
  app.route({
    method: 'OPTIONS',
    url: '/v1/*',
    config: { auth: false },
    handler: (req, reply) => {
      const parsed = parseV1(req);
      if (!parsed || parsed.level < 2) throw new ApiError(404, 'The resource could not be found.');
      req.params = parsed.params;
      return s.web.preflight(req, reply);
    },
  });

  // ---- /info ------------------------------------------------------------------------
  app.get('/healthcheck', { config: { auth: false } }, async (_req, reply) => {
    reply.type('text/plain; charset=UTF-8').send('OK');
  });
  app.get('/crossdomain.xml', { config: { auth: false } }, async (_req, reply) => {
    reply
      .type('application/xml; charset=UTF-8')
      .send(
        '<?xml version="1.0"?>\n<!DOCTYPE cross-domain-policy SYSTEM "http://www.adobe.com/xml/dtds/cross-domain-policy.dtd" >\n<cross-domain-policy>\n' +
          s.crossdomainPolicy +
          '\n</cross-domain-policy>',
      );
  });
  app.get('/info', { config: { auth: false } }, async (_req, reply) => {
    reply.type('application/json; charset=utf-8');
    return s.capabilities();
  });

  // ---- account ------------------------------------------------------------------------
  async function accountHeaders(reply: FastifyReply, account: string, access: Access) {
    const a = await store.ensureAccount(account);
    const st = await store.accountStats(account);
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
  async function notDeleted(account: string, status = 410) {
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
    if (
      req.headers['x-account-meta-quota-bytes'] !== undefined &&
      !/^\d*$/.test(hdr(req, 'x-account-meta-quota-bytes')!)
    )
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
  v1.route({
    method: 'HEAD',
    url: '/v1/:account',
    config: { auth: 'optional' },
    handler: async (req, reply) => {
      const { account } = names(req);
      const access = accountAccess(req, account);
      await notDeleted(account);
      await accountHeaders(reply, account, access);
      reply.code(204).type('text/plain; charset=utf-8').send();
    },
  });
  v1.get('/v1/:account', { config: { auth: 'optional' } }, async (req, reply) => {
    const { account } = names(req);
    const access = accountAccess(req, account);
    await notDeleted(account);
    await accountHeaders(reply, account, access);
    const fmt = listingFormat(req);
    const opts = listingParams(req);
    const items = await store.list('containers', account, undefined, opts);
    const stats = await store.containerStatsMap(
      account,
      items.filter((i: any) => !i.subdir).map((i: any) => i.name),
    );
    const rows = items.map((i: any) =>
      i.subdir
        ? i
        : {
            name: i.name,
            count: stats.get(i.name)?.objects ?? 0,
            bytes: stats.get(i.name)?.bytes ?? 0,
            last_modified: i.last_modified,
          },
    );
    sendListing(reply, fmt, 'account', account, rows);
  });
  const isBulkDelete = (req: FastifyRequest) => (req.query as any)['bulk-delete'] !== undefined;
  const isExtract = (req: FastifyRequest) => (req.query as any)['extract-archive'] !== undefined;
  v1.route({
    method: ['POST', 'DELETE'],
    url: '/v1/:account',
    config: { auth: 'optional' },
    handler: async (req, reply) => {
      const { account } = names(req);
      if (isBulkDelete(req)) {
        // Each path is authorized on its own (as upstream's subrequests are): account ACL grantees may bulk-delete.
        try {
          ownerAccess(req, account);
          if (!req.ctx) throw unauthorizedError();
          await notDeleted(account, 404);
        } catch (e) {
          drain(req);
          throw e;
        }
        return s.bulk.bulkDelete(req, reply, account);
      }
      drain(req);
      if (req.method === 'DELETE') {
        // Only a reseller admin deletes an account (keystoneauth denies the owner); a query string is a typo'd bulk request.
        if (!isReseller(req)) {
          ownerAccess(req, account);
          if (!req.ctx) throw unauthorizedError();
          throw forbiddenError();
        }
        if (req.url.includes('?')) throw new ApiError(400, 'Bad Request');
        const a = await store.getAccount(account);
        if (!a || a.deleted_at) throw new ApiError(404, 'The resource could not be found.');
        await store.markAccountDeleted(account);
        s.deletedAccounts.add(account);
        return reply.code(204).type(HTML).send();
      }
      const access = accountAccess(req, account);
      checkAccountName(account);
      await notDeleted(account, 404);
      const a = await store.ensureAccount(account);
      const meta = accountMetaFrom(req, reply, access, a.metadata);
      if (!meta) return reply;
      await store.setAccountMeta(account, meta);
      reply.code(204).type(HTML).send();
    },
  });
  v1.put('/v1/:account', { config: { auth: 'optional' } }, async (req, reply) => {
    const { account } = names(req);
    try {
      if (isExtract(req)) {
        if (!req.ctx) throw unauthorizedError();
        await notDeleted(account, 404);
        await store.ensureAccount(account);
        return await s.bulk.extractArchive(req, reply, account, '');
      }
      // allow_account_management: the project's operators and reseller admins create accounts.
      ownerAccess(req, account);
      if (!isReseller(req) && !isProjectOwner(req, account)) {
        if (!req.ctx) throw unauthorizedError();
        throw forbiddenError();
      }
      checkAccountName(account);
      const current = await store.getAccount(account);
      if (current?.deleted_at) throw new ApiError(403, 'Recently deleted');
      const meta = accountMetaFrom(req, reply, isReseller(req) ? 'reseller' : 'owner', current?.metadata ?? {});
      if (!meta) return reply;
      const r = await store.putAccount(account, meta);
      if (r === 'deleted') throw new ApiError(403, 'Recently deleted');
      return reply
        .code(r === 'created' ? 201 : 202)
        .type(HTML)
        .send();
    } finally {
      drain(req);
    }
  });

  // ---- container ----------------------------------------------------------------------
  async function containerOr404(account: string, name: string): Promise<ContainerRow> {
    const c = await store.getContainer(account, name);
    if (!c) throw new ApiError(404, 'The resource could not be found.');
    return c;
  }
  async function containerHeaders(reply: FastifyReply, c: ContainerRow) {
    const st = await store.containerStats(c.account, c.name);
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
  v1.route({
    method: 'HEAD',
    url: '/v1/:account/:container',
    config: { auth: 'optional' },
    handler: async (req, reply) => {
      const { account, container } = names(req);
      const c = await store.getContainer(account, container!);
      const access = authorize(req, account, 'listing', c);
      if (!c) throw new ApiError(404, 'The resource could not be found.');
      await containerHeaders(reply, visibleContainer(c, access));
      reply.code(204).type('text/plain; charset=utf-8').send();
    },
  });
  v1.get('/v1/:account/:container', { config: { auth: 'optional' } }, async (req, reply) => {
    const { account, container } = names(req);
    const c = await store.getContainer(account, container!);
    if (c && (await s.web.maybeServe(req, reply, c, ''))) return reply;
    const access = authorize(req, account, 'listing', c);
    if (!c) throw new ApiError(404, 'The resource could not be found.');
    await containerHeaders(reply, visibleContainer(c, access));
    const fmt = listingFormat(req);
    const items = await store.list('objects', account, container, listingParams(req));
    const rows = items.map((o: any) =>
      o.subdir
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
  });
  v1.put('/v1/:account/:container', { config: { auth: 'optional' } }, async (req, reply) => {
    const { account, container } = names(req);
    if (isExtract(req)) {
      try {
        if (!req.ctx) throw unauthorizedError();
        await store.ensureAccount(account);
        return await s.bulk.extractArchive(req, reply, account, container!);
      } finally {
        drain(req);
      }
    }
    drain(req);
    if (authorize(req, account, 'admin') === 'acl') stripOwnerHeaders(req);
    checkContainerName(container!);
    await store.ensureAccount(account);
    const existing = await store.getContainer(account, container!);
    checkContainerQuotaHeaders(req);
    checkVersionHeaders(req);
    const meta = applyMeta(req, 'container', existing?.metadata ?? {}, CONTAINER_SYSTEM);
    if (existing) {
      await store.setContainerMeta(account, container!, meta);
      reply.code(202).type(HTML).send();
    } else {
      await store.createContainer(account, container!, meta);
      reply.code(201).type(HTML).send();
    }
  });
  v1.post('/v1/:account/:container', { config: { auth: 'optional' } }, async (req, reply) => {
    const { account, container } = names(req);
    try {
      if (await s.formpost.maybeHandle(req, reply, account, container!, '')) return reply;
    } finally {
      drain(req);
    }
    if (authorize(req, account, 'admin') === 'acl') stripOwnerHeaders(req);
    const c = await containerOr404(account, container!);
    checkContainerQuotaHeaders(req);
    checkVersionHeaders(req);
    await store.setContainerMeta(account, container!, applyMeta(req, 'container', c.metadata, CONTAINER_SYSTEM));
    reply.code(204).type(HTML).send();
  });
  v1.delete('/v1/:account/:container', { config: { auth: 'optional' } }, async (req, reply) => {
    const { account, container } = names(req);
    drain(req);
    authorize(req, account, 'admin');
    await containerOr404(account, container!);
    const st = await store.containerStats(account, container!);
    if (st.objects > 0) throw new ApiError(409, 'There was a conflict when trying to complete your request.');
    await store.deleteContainer(account, container!);
    reply.code(204).type(HTML).send();
  });

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

  function sendListing(
    reply: FastifyReply,
    fmt: 'json' | 'xml' | 'plain',
    kind: 'account' | 'container',
    name: string,
    rows: any[],
  ) {
    if (fmt === 'json') {
      reply.code(200).type(LISTING_TYPES.json).send(JSON.stringify(rows));
      return;
    }
    if (fmt === 'xml') {
      const tag = kind === 'account' ? 'container' : 'object';
      const body = rows
        .map((r) => {
          if (r.subdir) return `<subdir name="${xmlEscape(r.subdir)}"><name>${xmlEscape(r.subdir)}</name></subdir>`;
          return `<${tag}>${Object.entries(r)
            .map(([k, v]) => `<${k}>${xmlEscape(String(v))}</${k}>`)
            .join('')}</${tag}>`;
        })
        .join('');
      reply
        .code(200)
        .type(LISTING_TYPES.xml)
        .send(`<?xml version="1.0" encoding="UTF-8"?>\n<${kind} name="${xmlEscape(name)}">${body}</${kind}>`);
      return;
    }
    if (!rows.length) {
      reply.code(204).type(LISTING_TYPES.plain).send();
      return;
    }
    reply
      .code(200)
      .type(LISTING_TYPES.plain)
      .send(rows.map((r) => (r.subdir ?? r.name) + '\n').join(''));
  }

  // ---- objects ------------------------------------------------------------------------
  const live = (o: ObjectRow | undefined) =>
    o && (o.delete_at === null || o.delete_at > Date.now() / 1000) ? o : undefined;

  function objectHeaders(reply: FastifyReply, o: ObjectRow) {
    reply.headers({
      // Large objects' ETags are quoted, as Swift answers them.
      etag:
        o.metadata['x-static-large-object'] || o.metadata['x-object-manifest'] !== undefined ? `"${o.etag}"` : o.etag,
      'last-modified': httpDate(o.timestamp),
      'x-timestamp': o.timestamp,
      'accept-ranges': 'bytes',
    });
    reply.type(o.content_type);
    for (const [k, v] of Object.entries(o.metadata))
      if ((k !== 'x-static-large-object' || v) && !k.startsWith('x-object-sysmeta-')) reply.header(k, v);
    reply.headers(s.symlinks.userHeaders(o.metadata));
    if (o.delete_at !== null) reply.header('x-delete-at', String(o.delete_at));
  }

  /** If-Match / If-None-Match / If-Modified-Since / If-Unmodified-Since on GET and HEAD. */
  function conditional(req: FastifyRequest, reply: FastifyReply, o: ObjectRow): boolean {
    const etags = (v: string) =>
      v.split(',').map((x) =>
        x
          .trim()
          .replace(/^W\//, '')
          .replace(/^"(.*)"$/, '$1'),
      );
    const im = hdr(req, 'if-match');
    if (im && !etags(im).some((e) => e === '*' || e === o.etag))
      throw new ApiError(412, 'A precondition for this request was not met.', undefined, { etag: o.etag });
    const inm = hdr(req, 'if-none-match');
    if (inm && etags(inm).some((e) => e === '*' || e === o.etag)) {
      objectHeaders(reply, o);
      reply.code(304).send();
      return true;
    }
    const lm = Math.ceil(Number(o.timestamp));
    const ius = hdr(req, 'if-unmodified-since');
    if (ius && !Number.isNaN(Date.parse(ius)) && lm > Date.parse(ius) / 1000)
      throw new ApiError(412, 'A precondition for this request was not met.', undefined, { etag: o.etag });
    const ims = hdr(req, 'if-modified-since');
    if (!inm && ims && !Number.isNaN(Date.parse(ims)) && lm <= Date.parse(ims) / 1000) {
      objectHeaders(reply, o);
      reply.code(304).send();
      return true;
    }
    return false;
  }

  async function readObject(req: FastifyRequest, reply: FastifyReply, head: boolean) {
    const { account, container, object } = names(req);
    const c = await store.getContainer(account, container!);
    const temp = await s.tempurl.check(req, account, container!, object!);
    if (!temp) authorize(req, account, 'read', c);
    let o = live(await store.getObject(account, container!, object!));
    if (!o) throw new ApiError(404, 'The resource could not be found.');
    if (s.symlinks.isLink(o) && (req.query as Record<string, string>).symlink !== 'get') {
      const r = await s.symlinks.resolve(req, o, temp?.scope);
      o = r.row;
      reply.header('content-location', r.location);
    }
    if (conditional(req, reply, o)) return reply;
    if (temp?.disposition) reply.header('content-disposition', temp.disposition);
    return s.large.serve(req, reply, o, head);
  }
  v1.route({
    method: 'HEAD',
    url: '/v1/:account/:container/*',
    config: { auth: 'optional' },
    handler: (req, reply) => readObject(req, reply, true),
  });
  v1.get('/v1/:account/:container/*', { config: { auth: 'optional' } }, async (req, reply) => {
    const { account, container, object } = names(req);
    const c = await store.getContainer(account, container!);
    if (c && (await s.web.maybeServe(req, reply, c, object!))) return reply;
    return readObject(req, reply, false);
  });

  /** Streams a stored object (or a range of it) with its headers. */
  s.sendObject = (req, reply, o, head, size = o.bytes, open = (r) => s.backend.get(o.blob, r)) => {
    objectHeaders(reply, o);
    const rangeHdr = hdr(req, 'range');
    const ranges = rangeHdr ? parseRanges(rangeHdr, size) : null;
    if (ranges === 'unsatisfiable') {
      throw new ApiError(416, 'The Range requested is not available.', undefined, {
        'content-range': `bytes */${size}`,
      });
    }
    if (!ranges) {
      reply.code(200).header('content-length', String(size));
      if (head) return reply.send();
      return reply.send(open());
    }
    if (ranges.length === 1) {
      const r = ranges[0]!;
      reply
        .code(206)
        .header('content-range', `bytes ${r.start}-${r.end}/${size}`)
        .header('content-length', String(r.end - r.start + 1));
      if (head) return reply.send();
      return reply.send(open(r));
    }
    const boundary = Array.from({ length: 32 }, () => Math.floor(Math.random() * 16).toString(16)).join('');
    const ctype = o.content_type;
    const parts = ranges.map((r) => ({
      r,
      head: `--${boundary}\r\nContent-Type: ${ctype}\r\nContent-Range: bytes ${r.start}-${r.end}/${size}\r\n\r\n`,
    }));
    const tail = `--${boundary}--`;
    const total =
      parts.reduce((n, p) => n + Buffer.byteLength(p.head) + (p.r.end - p.r.start + 1) + 2, 0) +
      Buffer.byteLength(tail);
    reply.code(206).type(`multipart/byteranges;boundary=${boundary}`).header('content-length', String(total));
    if (head) return reply.send();
    const out = new PassThrough();
    (async () => {
      try {
        for (const p of parts) {
          out.write(p.head);
          for await (const chunk of open(p.r))
            if (!out.write(chunk)) await new Promise((res) => out.once('drain', res));
          out.write('\r\n');
        }
        out.end(tail);
      } catch (e) {
        out.destroy(e as Error);
      }
    })();
    return reply.send(out);
  };

  v1.put('/v1/:account/:container/*', { config: { auth: 'optional' } }, async (req, reply) => {
    const { account, container, object } = names(req);
    try {
      if (isExtract(req)) {
        if (!req.ctx) throw unauthorizedError();
        return await s.bulk.extractArchive(req, reply, account, `${container}/${object}`);
      }
      return await s.objects.put(req, reply, account, container!, object!);
    } finally {
      drain(req);
    }
  });
  v1.post('/v1/:account/:container/*', { config: { auth: 'optional' } }, async (req, reply) => {
    const { account, container, object } = names(req);
    try {
      if (await s.formpost.maybeHandle(req, reply, account, container!, object!)) return reply;
    } finally {
      drain(req);
    }
    const c = await store.getContainer(account, container!);
    if (!(await s.tempurl.check(req, account, container!, object!))) authorize(req, account, 'write', c);
    if (req.headers['x-symlink-target'] !== undefined)
      throw new ApiError(400, 'A PUT request is required to set a symlink target', 'text/plain', {
        [PLAIN_ERROR]: '1',
      });
    const o = live(await store.getObject(account, container!, object!));
    if (!o) throw new ApiError(404, 'The resource could not be found.');
    const deleteAt = s.objects.deleteAtFrom(req);
    const kept: Meta = {};
    if (o.metadata['x-static-large-object']) kept['x-static-large-object'] = o.metadata['x-static-large-object'];
    for (const [k, v] of Object.entries(o.metadata)) if (k.startsWith('x-object-sysmeta-')) kept[k] = v;
    const metadata = applyMeta(req, 'object', kept, OBJECT_SYSTEM);
    const ts = xTimestamp();
    const updated: ObjectRow = {
      ...o,
      metadata,
      timestamp: ts,
      last_modified: isoOf(ts),
      content_type: hdr(req, 'content-type') || o.content_type,
      delete_at:
        deleteAt === undefined ? (req.headers['x-remove-delete-at'] !== undefined ? null : o.delete_at) : deleteAt,
    };
    await store.updateObjectMeta(updated);
    if (s.symlinks.isLink(o)) {
      // The metadata went to the link; the client is told where the target is.
      reply.code(307).type(HTML).header('location', s.symlinks.targetPath(o));
      if (o.metadata[TARGET_ETAG]) reply.header('x-symlink-target-etag', o.metadata[TARGET_ETAG]);
      return reply.send(
        'The requested POST was applied to a symlink. POST directly to the target to apply requested metadata.',
      );
    }
    reply.code(202).type(HTML).send();
  });
  v1.delete('/v1/:account/:container/*', { config: { auth: 'optional' } }, async (req, reply) => {
    const { account, container, object } = names(req);
    drain(req);
    if ((req.query as any)['multipart-manifest'] === 'delete')
      return s.large.deleteSlo(req, reply, account, container!, object!);
    const c = await store.getContainer(account, container!);
    if (!(await s.tempurl.check(req, account, container!, object!))) authorize(req, account, 'write', c);
    const o = live(await store.getObject(account, container!, object!));
    if (!o) throw new ApiError(404, 'The resource could not be found.');
    await s.objects.remove(c, o);
    reply.code(204).type(HTML).send();
  });
  v1.route({
    method: 'COPY',
    url: '/v1/:account/:container/*',
    config: { auth: 'optional' },
    handler: async (req, reply) => {
      const { account, container, object } = names(req);
      drain(req);
      const dest = hdr(req, 'destination');
      if (!dest) throw new ApiError(412, 'Destination header required');
      const m = /^\/?([^/]+)\/(.+)$/.exec(decodeURIComponent(dest));
      if (!m) throw new ApiError(412, 'Destination header must be of the form <container name>/<object name>');
      const destAccount = hdr(req, 'destination-account') ?? account;
      return s.objects.copy(
        req,
        reply,
        { account, container: container!, object: object! },
        { account: destAccount, container: m[1]!, object: m[2]! },
      );
    },
  });
}
