// Shared pieces of the Swift API: metadata headers and their limits, listing formats,
// timestamps, content-type guessing, constraints advertised in /info.
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import type { Meta } from '../store.ts';
import { ACCOUNT_ACL } from '../acl.ts';

export const CONSTRAINTS = {
  max_file_size: 5368709122,
  max_meta_name_length: 128,
  max_meta_value_length: 256,
  max_meta_count: 90,
  max_meta_overall_size: 4096,
  max_header_size: 8192,
  max_object_name_length: 1024,
  container_listing_limit: 10000,
  account_listing_limit: 10000,
  max_account_name_length: 256,
  max_container_name_length: 256,
  extra_header_count: 0,
};

export const httpDate = (ts: string) => new Date(Math.ceil(Number(ts)) * 1000).toUTCString();

export function hdr(req: { headers: IncomingHttpHeaders }, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Applies X-<Kind>-Meta-* and X-Remove-<Kind>-Meta-* (and the listed system headers) of a
 * request to `meta`; empty values remove. Checks Swift's metadata limits.
 */
export function applyMeta(
  req: { headers: IncomingHttpHeaders },
  kind: 'account' | 'container' | 'object',
  meta: Meta,
  system: string[] = [],
): Meta {
  const out = { ...meta };
  const prefix = `x-${kind}-meta-`;
  const remove = `x-remove-${kind}-meta-`;
  let count = 0,
    size = 0;
  for (const [rawKey, raw] of Object.entries(req.headers)) {
    // WSGI turns underscores in header names into hyphens.
    const k = rawKey.replace(/_/g, '-');
    const v = Array.isArray(raw) ? raw.join(',') : String(raw ?? '');
    if (k.startsWith(prefix)) {
      const name = k.slice(prefix.length);
      if (!name) throw new ApiError(400, 'Metadata name cannot be empty');
      if (name.length > CONSTRAINTS.max_meta_name_length) throw new ApiError(400, `Metadata name too long: ${k}`);
      if (v.length > CONSTRAINTS.max_meta_value_length)
        throw new ApiError(400, `Metadata value longer than ${CONSTRAINTS.max_meta_value_length}: ${k}`);
      count++;
      size += name.length + v.length;
      // Objects keep empty values; accounts and containers drop them.
      if (v === '' && kind !== 'object') delete out[k];
      else out[k] = v;
    } else if (k.startsWith(remove)) {
      delete out[prefix + k.slice(remove.length)];
    } else if (system.includes(k)) {
      if (v === '') delete out[k];
      else out[k] = v;
    } else if (k.startsWith('x-remove-') && system.includes('x-' + k.slice(9))) {
      delete out['x-' + k.slice(9)];
    }
  }
  if (count > CONSTRAINTS.max_meta_count)
    throw new ApiError(400, `Too many metadata items; max ${CONSTRAINTS.max_meta_count}`);
  if (size > CONSTRAINTS.max_meta_overall_size)
    throw new ApiError(400, `Total metadata too large; max ${CONSTRAINTS.max_meta_overall_size}`);
  // Limits on what is stored, as Swift checks the whole resulting set for accounts and containers.
  if (kind !== 'object') {
    let n = 0,
      s = 0;
    for (const [k, v] of Object.entries(out))
      if (k.startsWith(prefix)) {
        n++;
        s += k.length - prefix.length + v.length;
      }
    if (n > CONSTRAINTS.max_meta_count)
      throw new ApiError(400, `Too many metadata items; max ${CONSTRAINTS.max_meta_count}`);
    if (s > CONSTRAINTS.max_meta_overall_size)
      throw new ApiError(400, `Total metadata too large; max ${CONSTRAINTS.max_meta_overall_size}`);
  }
  return out;
}

export function metaHeaders(reply: FastifyReply, meta: Meta) {
  for (const [k, v] of Object.entries(meta)) reply.header(k, v);
}

export type ListingFormat = 'json' | 'xml' | 'plain';
export function listingFormat(req: FastifyRequest): ListingFormat {
  const q = (req.query as Record<string, string>).format?.toLowerCase();
  if (q === 'json' || q === 'xml' || q === 'plain') return q;
  const accept = hdr(req, 'accept') ?? '';
  if (/application\/json/.test(accept)) return 'json';
  if (/(application|text)\/xml/.test(accept)) return 'xml';
  return 'plain';
}
export const LISTING_TYPES: Record<ListingFormat, string> = {
  json: 'application/json; charset=utf-8',
  xml: 'application/xml; charset=utf-8',
  plain: 'text/plain; charset=utf-8',
};

export const xmlEscape = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function listingParams(req: FastifyRequest) {
  const q = req.query as Record<string, string>;
  let limit = CONSTRAINTS.container_listing_limit;
  if (q.limit !== undefined && q.limit !== '') {
    const n = Number(q.limit);
    if (!Number.isInteger(n) || n < 0) throw new ApiError(412, 'Value of limit must be a positive integer');
    if (n > CONSTRAINTS.container_listing_limit)
      throw new ApiError(412, `Maximum limit is ${CONSTRAINTS.container_listing_limit}`);
    limit = n;
  }
  for (const k of ['prefix', 'marker', 'end_marker', 'delimiter']) {
    if (q[k] !== undefined && Buffer.byteLength(q[k]!) > CONSTRAINTS.max_object_name_length)
      throw new ApiError(400, `${k} too long`);
  }
  if (q.delimiter && q.delimiter.length > 1) throw new ApiError(412, 'Bad delimiter');
  const reverse = ['true', '1', 'yes', 'on', 't', 'y'].includes((q.reverse ?? '').toLowerCase());
  return {
    prefix: q.prefix || undefined,
    marker: q.marker || undefined,
    endMarker: q.end_marker || undefined,
    delimiter: q.delimiter || undefined,
    limit,
    reverse,
  };
}

const MIME: Record<string, string> = {
  txt: 'text/plain',
  html: 'text/html',
  htm: 'text/html',
  css: 'text/css',
  js: 'application/javascript',
  json: 'application/json',
  xml: 'application/xml',
  csv: 'text/csv',
  md: 'text/markdown',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  svg: 'image/svg+xml',
  ico: 'image/vnd.microsoft.icon',
  webp: 'image/webp',
  pdf: 'application/pdf',
  zip: 'application/zip',
  gz: 'application/gzip',
  tgz: 'application/gzip',
  tar: 'application/x-tar',
  bz2: 'application/x-bzip2',
  xz: 'application/x-xz',
  mp3: 'audio/mpeg',
  mp4: 'video/mp4',
  wav: 'audio/x-wav',
  iso: 'application/x-iso9660-image',
  qcow2: 'application/octet-stream',
  yaml: 'application/yaml',
  yml: 'application/yaml',
  sh: 'text/x-sh',
  py: 'text/x-python',
};
/** mimetypes.guess_type on the name, as Swift's proxy does. */
export function guessContentType(name: string): string {
  const m = /\.([A-Za-z0-9]+)$/.exec(name);
  return (m && MIME[m[1]!.toLowerCase()]) || 'application/octet-stream';
}

/** Swift's transaction id: tx + 21 hex + '-' + 10 hex of the time. */
export function transId(): string {
  const hex = Array.from({ length: 21 }, () => Math.floor(Math.random() * 16).toString(16)).join('');
  return `tx${hex}-${Math.floor(Date.now() / 1000)
    .toString(16)
    .padStart(10, '0')}`;
}

export function truthy(v: string | undefined): boolean {
  return ['true', '1', 'yes', 'on', 't', 'y'].includes((v ?? '').toLowerCase());
}

/** Parses `bytes=a-b,c-,-n` against a size; null when the header is not a valid range set. */
export function parseRanges(
  header: string,
  size: number,
): Array<{ start: number; end: number }> | null | 'unsatisfiable' {
  const m = /^bytes=(.+)$/.exec(header.trim());
  if (!m) return null;
  const out: Array<{ start: number; end: number }> = [];
  let any = false;
  for (const part of m[1]!.split(',')) {
    const p = /^\s*(\d*)-(\d*)\s*$/.exec(part);
    if (!p || (p[1] === '' && p[2] === '')) return null;
    any = true;
    if (p[1] === '') {
      const n = Number(p[2]);
      if (n === 0) continue;
      out.push({ start: Math.max(0, size - n), end: size - 1 });
    } else {
      const start = Number(p[1]);
      if (p[2] !== '' && Number(p[2]) < start) return null;
      if (start >= size) continue;
      let end = p[2] === '' ? size - 1 : Number(p[2]);
      end = Math.min(end, size - 1);
      out.push({ start, end });
    }
  }
  if (!any) return null;
  if (!out.length) return 'unsatisfiable';
  return out;
}

// ---- what the v1 handlers share

export const CONTAINER_SYSTEM = [
  'x-container-read',
  'x-container-write',
  'x-versions-location',
  'x-history-location',
  'x-container-sync-to',
  'x-container-sync-key',
];
export const OBJECT_SYSTEM = ['content-disposition', 'content-encoding', 'x-object-manifest'];
/** The proxy's swift_owner_headers: only owners see them, and others' requests cannot set them. */
export const OWNER_HEADERS = [
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
export function stripOwnerHeaders(req: FastifyRequest) {
  for (const h of OWNER_HEADERS) {
    delete req.headers[h];
    delete req.headers[`x-remove-${h.slice(2)}`];
  }
}
export const HTML = 'text/html; charset=UTF-8';

export type Params = { account: string; container?: string; '*'?: string };

export function names(req: FastifyRequest) {
  const p = req.params as Params;
  return { account: p.account, container: p.container, object: p['*'] };
}

export function checkContainerName(name: string) {
  if (name.includes('/')) throw new ApiError(400, 'Container name cannot contain slashes');
  if (Buffer.byteLength(name) > CONSTRAINTS.max_container_name_length)
    throw new ApiError(
      400,
      `Container name length of ${Buffer.byteLength(name)} longer than ${CONSTRAINTS.max_container_name_length}`,
    );
}

/** Drains an unread request body so the connection can be reused. */
export function drain(req: FastifyRequest) {
  const b = req.body as Partial<Readable> | undefined;
  if (b && typeof b.resume === 'function' && !b.readableEnded) b.resume();
}

/** The request body as the stream the pass-through parser hands over; undefined when there is none. */
export function bodyStream(req: { body?: unknown }): AsyncIterable<Buffer> | undefined {
  const b = req.body as Partial<AsyncIterable<Buffer>> | null | undefined;
  return b && typeof b[Symbol.asyncIterator] === 'function' ? (b as AsyncIterable<Buffer>) : undefined;
}

/** ?bulk-delete (the bulk middleware's delete of many paths). */
export const isBulkDelete = (req: FastifyRequest) => (req.query as Record<string, string>)['bulk-delete'] !== undefined;
/** ?extract-archive (the bulk middleware's upload of a tar archive). */
export const isExtract = (req: FastifyRequest) =>
  (req.query as Record<string, string>)['extract-archive'] !== undefined;

/** A listing entry: a subdir roll-up or an item's fields, in the order Swift lists them. */
export interface ListingRow {
  subdir?: string;
  name?: string;
  [field: string]: unknown;
}

/** An account or container listing in the asked format (json, xml, plain text). */
export function sendListing(
  reply: FastifyReply,
  fmt: 'json' | 'xml' | 'plain',
  kind: 'account' | 'container',
  name: string,
  rows: ListingRow[],
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
