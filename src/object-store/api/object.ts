// The object: HEAD/GET (conditions, ranges, symlinks, large objects, temp URLs, static web), PUT
// (or extract-archive), POST (metadata, or a form post), DELETE, COPY, as Swift's proxy
// ObjectController with its middlewares.
import { PassThrough, type Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import type { ObjectStoreService } from '../service.ts';
import { authorize, unauthorizedError } from '../acl.ts';
import { PLAIN_ERROR, TARGET_ETAG } from '../symlink.ts';
import { isoOf, xTimestamp, type Meta, type ObjectRow } from '../store.ts';
import { HTML, OBJECT_SYSTEM, applyMeta, drain, hdr, httpDate, isExtract, names, parseRanges } from './common.ts';
import type { SwiftResponse } from '../request.ts';
import { swiftRequest } from './request.ts';

export const live = (o: ObjectRow | undefined) =>
  o && (o.delete_at === null || o.delete_at > Date.now() / 1000) ? o : undefined;

function objectHeaders(s: ObjectStoreService, reply: FastifyReply, o: ObjectRow) {
  reply.headers({
    // Large objects' ETags are quoted, as Swift answers them.
    etag: o.metadata['x-static-large-object'] || o.metadata['x-object-manifest'] !== undefined ? `"${o.etag}"` : o.etag,
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
function conditional(s: ObjectStoreService, req: FastifyRequest, reply: FastifyReply, o: ObjectRow): boolean {
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
    objectHeaders(s, reply, o);
    reply.code(304).send();
    return true;
  }
  const lm = Math.ceil(Number(o.timestamp));
  const ius = hdr(req, 'if-unmodified-since');
  if (ius && !Number.isNaN(Date.parse(ius)) && lm > Date.parse(ius) / 1000)
    throw new ApiError(412, 'A precondition for this request was not met.', undefined, { etag: o.etag });
  const ims = hdr(req, 'if-modified-since');
  if (!inm && ims && !Number.isNaN(Date.parse(ims)) && lm <= Date.parse(ims) / 1000) {
    objectHeaders(s, reply, o);
    reply.code(304).send();
    return true;
  }
  return false;
}

async function readObject(s: ObjectStoreService, req: FastifyRequest, reply: FastifyReply, head: boolean) {
  const { account, container, object } = names(req);
  const c = await s.store.getContainer(account, container!);
  const temp = await s.tempurl.check(swiftRequest(req), account, container!, object!);
  if (!temp) authorize(swiftRequest(req), account, 'read', c);
  let o = live(await s.store.getObject(account, container!, object!));
  if (!o) throw new ApiError(404, 'The resource could not be found.');
  if (s.symlinks.isLink(o) && (req.query as Record<string, string>).symlink !== 'get') {
    const r = await s.symlinks.resolve(swiftRequest(req), o, temp?.scope);
    o = r.row;
    reply.header('content-location', r.location);
  }
  if (conditional(s, req, reply, o)) return reply;
  if (temp?.disposition) reply.header('content-disposition', temp.disposition);
  return serveObject(s, req, reply, o, head);
}

/** A GET/HEAD of a stored object: its bytes, a large object's segments, or an SLO's manifest. */
export async function serveObject(
  s: ObjectStoreService,
  req: FastifyRequest,
  reply: FastifyReply,
  o: ObjectRow,
  head: boolean,
) {
  const q = req.query as Record<string, string>;
  if (s.large.isSlo(o) && q['multipart-manifest'] === 'get')
    return sendSwift(s, req, reply, await s.large.manifest(o, q.format === 'raw', head));
  const large = await s.large.view(o);
  if (!large) return sendObject(s, req, reply, o, head);
  return sendObject(s, req, reply, large.row, head, large.size, large.open);
}

/** Writes what a middleware answered. */
export async function sendSwift(
  s: ObjectStoreService,
  req: FastifyRequest,
  reply: FastifyReply,
  r: SwiftResponse,
): Promise<FastifyReply> {
  if (r.serve) {
    await serveObject(s, req, reply, r.serve, req.method === 'HEAD');
    return reply;
  }
  reply.code(r.status);
  for (const [k, v] of Object.entries(r.headers ?? {})) reply.header(k, v);
  if (r.type) reply.type(r.type);
  if (r.stream) return reply.send(await s.large.open(r.stream));
  return reply.send(r.body);
}

/** Streams a stored object (or a range of it, or several as multipart/byteranges) with its headers. */
/** Streams a stored object (or a range of it) with its headers. */
export function sendObject(
  s: ObjectStoreService,
  req: FastifyRequest,
  reply: FastifyReply,
  o: ObjectRow,
  head: boolean,
  size = o.bytes,
  open: (r?: { start: number; end: number }) => Readable = (r) => s.backend.get(o.blob, r),
): FastifyReply | Promise<FastifyReply> {
  objectHeaders(s, reply, o);
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
    parts.reduce((n, p) => n + Buffer.byteLength(p.head) + (p.r.end - p.r.start + 1) + 2, 0) + Buffer.byteLength(tail);
  reply.code(206).type(`multipart/byteranges;boundary=${boundary}`).header('content-length', String(total));
  if (head) return reply.send();
  const out = new PassThrough();
  (async () => {
    try {
      for (const p of parts) {
        out.write(p.head);
        for await (const chunk of open(p.r)) if (!out.write(chunk)) await new Promise((res) => out.once('drain', res));
        out.write('\r\n');
      }
      out.end(tail);
    } catch (e) {
      out.destroy(e as Error);
    }
  })();
  return reply.send(out);
}

export function headObject(s: ObjectStoreService, req: FastifyRequest, reply: FastifyReply) {
  return readObject(s, req, reply, true);
}

export async function getObject(s: ObjectStoreService, req: FastifyRequest, reply: FastifyReply) {
  const { account, container, object } = names(req);
  const c = await s.store.getContainer(account, container!);
  const web = c && (await s.web.maybeServe(swiftRequest(req), c, object!));
  if (web) return sendSwift(s, req, reply, web);
  return readObject(s, req, reply, false);
}

export async function putObject(s: ObjectStoreService, req: FastifyRequest, reply: FastifyReply) {
  const { account, container, object } = names(req);
  try {
    if (isExtract(req)) {
      if (!req.ctx) throw unauthorizedError();
      return await sendSwift(
        s,
        req,
        reply,
        await s.bulk.extractArchive(swiftRequest(req), account, `${container}/${object}`),
      );
    }
    return await sendSwift(s, req, reply, await s.objects.put(swiftRequest(req), account, container!, object!));
  } finally {
    drain(req);
  }
}

export async function postObject(s: ObjectStoreService, req: FastifyRequest, reply: FastifyReply) {
  const { account, container, object } = names(req);
  try {
    const form = await s.formpost.maybeHandle(swiftRequest(req), account, container!, object!);
    if (form) return sendSwift(s, req, reply, form);
  } finally {
    drain(req);
  }
  const c = await s.store.getContainer(account, container!);
  if (!(await s.tempurl.check(swiftRequest(req), account, container!, object!)))
    authorize(swiftRequest(req), account, 'write', c);
  if (req.headers['x-symlink-target'] !== undefined)
    throw new ApiError(400, 'A PUT request is required to set a symlink target', 'text/plain', {
      [PLAIN_ERROR]: '1',
    });
  const o = live(await s.store.getObject(account, container!, object!));
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
  await s.store.updateObjectMeta(updated);
  if (s.symlinks.isLink(o)) {
    // The metadata went to the link; the client is told where the target is.
    reply.code(307).type(HTML).header('location', s.symlinks.targetPath(o));
    if (o.metadata[TARGET_ETAG]) reply.header('x-symlink-target-etag', o.metadata[TARGET_ETAG]);
    return reply.send(
      'The requested POST was applied to a symlink. POST directly to the target to apply requested metadata.',
    );
  }
  reply.code(202).type(HTML).send();
}

export async function deleteObject(s: ObjectStoreService, req: FastifyRequest, reply: FastifyReply) {
  const { account, container, object } = names(req);
  drain(req);
  if ((req.query as Record<string, string>)['multipart-manifest'] === 'delete')
    return sendSwift(s, req, reply, await s.large.deleteSlo(swiftRequest(req), account, container!, object!));
  const c = await s.store.getContainer(account, container!);
  if (!(await s.tempurl.check(swiftRequest(req), account, container!, object!)))
    authorize(swiftRequest(req), account, 'write', c);
  const o = live(await s.store.getObject(account, container!, object!));
  if (!o) throw new ApiError(404, 'The resource could not be found.');
  await s.objects.remove(c, o);
  reply.code(204).type(HTML).send();
}

export async function copyObject(s: ObjectStoreService, req: FastifyRequest, reply: FastifyReply) {
  const { account, container, object } = names(req);
  drain(req);
  const dest = hdr(req, 'destination');
  if (!dest) throw new ApiError(412, 'Destination header required');
  const m = /^\/?([^/]+)\/(.+)$/.exec(decodeURIComponent(dest));
  if (!m) throw new ApiError(412, 'Destination header must be of the form <container name>/<object name>');
  const destAccount = hdr(req, 'destination-account') ?? account;
  return sendSwift(
    s,
    req,
    reply,
    await s.objects.copy(
      swiftRequest(req),
      { account, container: container!, object: object! },
      { account: destAccount, container: m[1]!, object: m[2]! },
    ),
  );
}
