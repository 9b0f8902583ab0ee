// What every block-storage handler shares: Cinder's fault body, the negotiated microversion,
// the request's project, links, Cinder's list parameters (filters, sort, pages) and the views.
import type { FastifyRequest } from 'fastify';
import { ApiError, wsgiFaultBody } from '../../core/errors.ts';
import { type Microversion, nextPageHref } from '../../core/http.ts';
import { bool, json } from '../../core/db.ts';
import type { AttachmentRow, SnapshotRow, VolumeRow } from '../volumes.ts';
import type { VolumeTypeRow } from '../types.ts';
import { USER_VISIBLE_SPECS, specsOf } from '../types.ts';

declare module 'fastify' {
  interface FastifyRequest {
    volumeVersion?: Microversion;
  }
}

/** Cinder's fault body: `{"itemNotFound": {"code": 404, "message": "..."}}`. */
export function faultBody(e: ApiError): unknown {
  return wsgiFaultBody(e, 'The server has either erred or is incapable of performing the requested operation.');
}

export const badRequest = (m: string) => new ApiError(400, m);
export const notFound = (m: string) => new ApiError(404, m);
export const invalid = (m: string) => new ApiError(400, m);

/** The request's negotiated microversion. */
export const mv = (req: FastifyRequest): Microversion => req.volumeVersion!;
export const at = (req: FastifyRequest, v: string): boolean => mv(req).gte(v);

/** Cinder's isotime: microseconds, no zone. */
export function isoTime(t: string | null | undefined): string | null {
  if (!t) return null;
  return t.replace(/Z$/, '').replace(/\.(\d{3})$/, '.$1000');
}

/** The base of the request's project-scoped URLs (`<base>/v3/<project>`). */
function projectBase(req: FastifyRequest, projectId: string) {
  return `${req.baseUrl}/v3/${projectId}`;
}

export function links(req: FastifyRequest, projectId: string, collection: string, id: string) {
  return [
    { href: `${projectBase(req, projectId)}/${collection}/${id}`, rel: 'self' },
    { href: `${req.baseUrl}/${projectId}/${collection}/${id}`, rel: 'bookmark' },
  ];
}

/** The `<collection>_links` of a page when more follow. */
export function pageLinks(req: FastifyRequest, lastId: string) {
  return [{ href: nextPageHref(req, lastId), rel: 'next' }];
}

/**
 * A list's body: the page's views under `key`, then the link to the next page when there is one (under
 * `links`, default `<key>_links`), then `count` when the request asked for it (with_count).
 */
export function pageBody(
  req: FastifyRequest,
  key: string,
  views: unknown[],
  page: { rows: ReadonlyArray<{ id: string }>; more: boolean; total?: number },
  o: { links?: string; count?: boolean } = {},
): Record<string, unknown> {
  const out: Record<string, unknown> = { [key]: views };
  const last = page.rows[page.rows.length - 1];
  if (page.more && last) out[o.links ?? `${key}_links`] = pageLinks(req, last.id);
  if (o.count) out.count = page.total;
  return out;
}

export type Query = Record<string, string | undefined>;

/** Cinder's boolean query values (strutils.bool_from_string, strict). */
export function boolParam(v: unknown, name: string): boolean {
  const s = String(v).toLowerCase();
  if (['1', 't', 'true', 'on', 'y', 'yes'].includes(s)) return true;
  if (['0', 'f', 'false', 'off', 'n', 'no'].includes(s)) return false;
  throw badRequest(`Invalid value '${String(v)}' for ${name}: must be a boolean.`);
}

/** sort=key:dir,key2 or sort_key/sort_dir, as Cinder's _get_sort_keys. */
export function sortKeys(q: Query, allowed: string[], dflt = 'created_at'): Array<[string, 'asc' | 'desc']> {
  const out: Array<[string, 'asc' | 'desc']> = [];
  if (q.sort) {
    if (q.sort_key || q.sort_dir)
      throw badRequest(
        "The 'sort_key' and 'sort_dir' parameters are deprecated and cannot be used with the 'sort' parameter.",
      );
    for (const part of q.sort.split(',')) {
      const [k, d = 'desc'] = part.trim().split(':');
      if (!k) throw badRequest('Invalid sort key');
      if (d !== 'asc' && d !== 'desc') throw badRequest(`Invalid sort direction '${d}'`);
      out.push([k, d]);
    }
  } else {
    const keys = (q.sort_key ?? '').split(',').filter(Boolean);
    const dirs = (q.sort_dir ?? '').split(',').filter(Boolean);
    for (const [i, k] of keys.entries()) {
      const d = dirs[i] ?? 'desc';
      if (d !== 'asc' && d !== 'desc') throw badRequest(`Invalid sort direction '${d}'`);
      out.push([k, d]);
    }
    if (!keys.length && dirs.length) {
      const d = dirs[0]!;
      if (d !== 'asc' && d !== 'desc') throw badRequest(`Invalid sort direction '${d}'`);
      out.push([dflt, d]);
    }
  }
  for (const [k] of out) if (!allowed.includes(k)) throw badRequest(`Invalid input received: Invalid sort key ${k}`);
  if (!out.length) out.push([dflt, 'desc']);
  if (!out.some(([k]) => k === 'id')) out.push(['id', out[0]![1]]);
  return out;
}

/** Sorts rows (as their views' values), pages them by marker/limit/offset. */
export function pageRows<T extends { id: string }>(
  rows: T[],
  q: Query,
  keys: Array<[string, 'asc' | 'desc']>,
  value: (r: T, k: string) => unknown,
): { page: T[]; more: boolean } {
  const sorted = [...rows].sort((a, b) => {
    for (const [k, d] of keys) {
      const x = value(a, k),
        y = value(b, k);
      if (x === y) continue;
      if (x === null || x === undefined) return d === 'asc' ? -1 : 1;
      if (y === null || y === undefined) return d === 'asc' ? 1 : -1;
      const c = x < y ? -1 : 1;
      return d === 'asc' ? c : -c;
    }
    return 0;
  });
  let start = 0;
  if (q.marker) {
    const i = sorted.findIndex((r) => r.id === q.marker);
    if (i < 0) throw notFound(`Marker ${q.marker} could not be found.`);
    start = i + 1;
  }
  const { offset, limit } = pageNumbers(q);
  start += offset ?? 0;
  const end = limit !== undefined ? start + limit : sorted.length;
  const page = sorted.slice(start, end);
  // Cinder links a next page whenever a page is full (_get_collection_links).
  return { page, more: limit !== undefined && limit > 0 && page.length === limit };
}

/** The query parameters of paging, sorting and scope, which a list's filters pass over. */
export const LIST_PARAMS = ['all_tenants', 'limit', 'marker', 'offset', 'sort', 'sort_key', 'sort_dir'];

/** The offset and limit of a page (400 when not non-negative integers). */
export function pageNumbers(q: Query): { offset?: number; limit?: number } {
  let offset: number | undefined;
  let limit: number | undefined;
  if (q.offset !== undefined) {
    offset = Number(q.offset);
    if (!Number.isInteger(offset) || offset < 0) throw badRequest(`Invalid offset: '${q.offset}'`);
  }
  if (q.limit !== undefined) {
    limit = Number(q.limit);
    if (!Number.isInteger(limit) || limit < 0) throw badRequest(`Invalid limit: '${q.limit}'`);
  }
  return { offset, limit };
}

/** The page a list request asks for: after its marker, its offset and limit (400 when not non-negative integers). */
export function pageParams(req: FastifyRequest): { marker?: string; offset?: number; limit?: number } {
  const q = req.query as Query;
  return { marker: q.marker, ...pageNumbers(q) };
}

/** with_count (3.45): the list's body also says how many rows match. */
export const withCount = (req: FastifyRequest): boolean => {
  const q = req.query as Query;
  return at(req, '3.45') && q.with_count !== undefined && boolParam(q.with_count, 'with_count');
};

/** The page read, or 404 when the request's marker names no row of the list. */
export function markerFound<P>(req: FastifyRequest, page: P | null | undefined): P {
  if (!page) throw notFound(`Marker ${(req.query as Query).marker} could not be found.`);
  return page;
}

/** created_at=gt:2020-01-01T00:00:00 style comparisons (3.60) as SQL comparisons of the stored ISO text. */
export function timeConditions(expr: string): Array<['>' | '>=' | '<' | '<=' | '=' | '<>', string]> {
  const ops = { gt: '>', gte: '>=', lt: '<', lte: '<=', eq: '=', neq: '<>' } as const;
  return expr.split(',').map((part) => {
    const m = /^(gt|gte|lt|lte|eq|neq):(.+)$/.exec(part.trim());
    if (!m) throw badRequest(`Invalid filter value ${expr}`);
    const t = Date.parse(m[2]!.endsWith('Z') || /[+-]\d\d:\d\d$/.test(m[2]!) ? m[2]! : `${m[2]}Z`);
    if (Number.isNaN(t)) throw badRequest(`Invalid time value ${m[2]}`);
    return [ops[m[1] as keyof typeof ops], new Date(t).toISOString()];
  });
}

/** A metadata filter value: a JSON or Python-literal dict ("{'k': 'v'}"). */
export function parseDictParam(s: string, name: string): Record<string, string> {
  try {
    const o = JSON.parse(s.replace(/'/g, '"')) as unknown;
    if (o && typeof o === 'object' && !Array.isArray(o)) return o as Record<string, string>;
  } catch {
    /* below */
  }
  throw badRequest(`Invalid ${name} filter: '${s}'`);
}

// ---- views --------------------------------------------------------------------------------

export function attachmentSummary(a: AttachmentRow, v: VolumeRow) {
  return {
    server_id: a.instance_uuid,
    attachment_id: a.id,
    attached_at: isoTime(a.attach_time),
    host_name: a.attached_host,
    volume_id: v.id,
    device: a.mountpoint,
    id: v.id,
  };
}

/** A volume as GET /volumes/{id} shows it (cinder.api.v3.views.volumes). */
export function volumeView(
  req: FastifyRequest,
  v: VolumeRow,
  attachments: AttachmentRow[],
  type: VolumeTypeRow | undefined,
  /** The create and update answers: without the extension attributes (cinder adds them to show and list only). */
  basic = false,
): Record<string, unknown> {
  const admin = !basic && req.allowed('volume_extension:volume_host_attribute', { project_id: v.project_id });
  const out: Record<string, unknown> = {
    id: v.id,
    name: v.name,
    description: v.description,
    status: v.status,
    size: v.size,
    availability_zone: v.availability_zone,
    created_at: isoTime(v.created_at),
    updated_at: isoTime(v.updated_at),
    attachments: attachments.filter((a) => a.attach_status === 'attached').map((a) => attachmentSummary(a, v)),
    volume_type: type?.name ?? null,
    snapshot_id: v.snapshot_id,
    source_volid: v.source_volid,
    metadata: visibleMetadata(v),
    links: links(req, v.project_id, 'volumes', v.id),
    user_id: v.user_id,
    bootable: bool(v.bootable) ? 'true' : 'false',
    encrypted: bool(v.encrypted),
    replication_status: null,
    consistencygroup_id: null,
    multiattach: bool(v.multiattach),
    migration_status: v.migration_status,
  };
  if (!basic && req.allowed('volume_extension:volume_tenant_attribute', { project_id: v.project_id }))
    out['os-vol-tenant-attr:tenant_id'] = v.project_id;
  if (admin) {
    out['os-vol-host-attr:host'] = v.host;
    out['os-vol-mig-status-attr:migstat'] = v.migration_status;
    out['os-vol-mig-status-attr:name_id'] = null;
  }
  const imageMeta = json<Record<string, string>>(v.image_metadata, {});
  if (!basic && Object.keys(imageMeta).length) out.volume_image_metadata = imageMeta;
  if (at(req, '3.13')) out.group_id = v.group_id;
  if (at(req, '3.21') && admin) out.provider_id = null;
  if (at(req, '3.48')) {
    out.shared_targets = false;
    out.service_uuid = null;
  }
  if (at(req, '3.61') && admin) out.cluster_name = null;
  if (at(req, '3.63')) out.volume_type_id = v.volume_type_id;
  if (at(req, '3.65')) out.consumes_quota = true;
  return out;
}

/** The volume's metadata with the admin metadata Cinder shows in it (add_visible_admin_metadata). */
function visibleMetadata(v: VolumeRow): Record<string, string> {
  const admin = json<Record<string, string>>(v.admin_metadata, {});
  const out = json<Record<string, string>>(v.metadata, {});
  for (const k of ['readonly', 'attached_mode']) if (admin[k] !== undefined) out[k] = admin[k];
  return out;
}

export function volumeSummary(req: FastifyRequest, v: VolumeRow) {
  return { id: v.id, name: v.name, links: links(req, v.project_id, 'volumes', v.id) };
}

export function snapshotView(req: FastifyRequest, s: SnapshotRow, basic = false): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: s.id,
    created_at: isoTime(s.created_at),
    updated_at: isoTime(s.updated_at),
    name: s.name,
    description: s.description,
    volume_id: s.volume_id,
    status: s.status,
    size: s.volume_size,
    metadata: json(s.metadata, {}),
  };
  if (!basic && req.allowed('volume_extension:extended_snapshot_attributes', { project_id: s.project_id })) {
    out['os-extended-snapshot-attributes:project_id'] = s.project_id;
    out['os-extended-snapshot-attributes:progress'] = s.progress;
  }
  if (at(req, '3.14')) out.group_snapshot_id = s.group_snapshot_id;
  if (at(req, '3.41')) out.user_id = s.user_id;
  if (at(req, '3.65')) out.consumes_quota = true;
  return out;
}

/** `mode`: 'create' answers without qos_specs_id, 'update' also without the access attribute (as cinder's views). */
export function typeView(
  req: FastifyRequest,
  t: VolumeTypeRow,
  mode: 'show' | 'create' | 'update' = 'show',
): Record<string, unknown> {
  const specs = specsOf(t);
  const admin = req.allowed('volume_extension:access_types_extra_specs');
  const shown = admin
    ? specs
    : Object.fromEntries(Object.entries(specs).filter(([k]) => USER_VISIBLE_SPECS.includes(k)));
  const out: Record<string, unknown> = {
    id: t.id,
    name: t.name,
    description: t.description,
    is_public: bool(t.is_public),
    extra_specs: shown,
  };
  if (mode !== 'update') out['os-volume-type-access:is_public'] = bool(t.is_public);
  if (mode === 'show' && req.allowed('volume_extension:access_types_qos_specs_id')) out.qos_specs_id = t.qos_specs_id;
  return out;
}
