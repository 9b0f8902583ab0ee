// What the metric handlers share: the caller, policy targets of resources and metrics, query
// parameters as Gnocchi reads them, and list pagination.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RequestContext } from '../../../core/context.ts';
import { ApiError } from '../../../core/errors.ts';
import type { Caller, MetricRow, ResourceView } from '../indexer.ts';
import { badInput } from './errors.ts';

export function caller(ctx: RequestContext): Caller {
  return { userId: ctx.userId ?? '', projectId: ctx.projectId ?? '' };
}

export function creatorOf(ctx: RequestContext): string {
  return `${ctx.userId ?? ''}:${ctx.projectId ?? ''}`;
}

/** The policy target of a resource. */
export function resourceTarget(r: Pick<ResourceView, 'project_id' | 'user_id' | 'creator'> | Record<string, unknown>) {
  const [uid, pid] = String(r.creator ?? '').split(':');
  return {
    project_id: r.project_id ?? null,
    user_id: r.user_id ?? null,
    creator: r.creator,
    created_by_user_id: uid,
    created_by_project_id: pid,
  };
}

/** The policy target of a metric (its resource's project as resource.project_id). */
export function metricTarget(m: MetricRow, resourceProject?: string | null) {
  const [uid, pid] = m.creator.split(':');
  return {
    creator: m.creator,
    created_by_user_id: uid,
    created_by_project_id: pid,
    'resource.project_id': resourceProject ?? null,
    resource: { project_id: resourceProject ?? null },
  };
}

export type Query = Record<string, string | string[] | undefined>;

export function one(q: Query, k: string): string | undefined {
  const v = q[k];
  return Array.isArray(v) ? v[v.length - 1] : v;
}

export function all(q: Query, k: string): string[] {
  const v = q[k];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** Gnocchi's boolean query values (strutils.bool_from_string, strict). */
export function boolParam(q: Query, k: string): boolean {
  const v = one(q, k);
  if (v === undefined) return false;
  const s = v.toLowerCase();
  if (['1', 't', 'true', 'on', 'y', 'yes', ''].includes(s)) return true;
  if (['0', 'f', 'false', 'off', 'n', 'no'].includes(s)) return false;
  throw badInput(`Unable to parse ${k}: ${v}`);
}

/** Sorts by Gnocchi's sort keys ("started_at:desc"), then pages by limit and marker (a Link header to the next page). */
export function sortAndPage<T extends Record<string, unknown>>(
  req: FastifyRequest,
  reply: FastifyReply,
  items: T[],
  key: string,
  maxLimit: number,
): T[] {
  const q = req.query as Query;
  const sorts = all(q, 'sort');
  if (sorts.length) {
    const keys = sorts.map((s) => {
      const [attr, dir = 'asc'] = s.split(':');
      if (dir !== 'asc' && dir !== 'desc') throw badInput(`Invalid sort direction ${dir}`);
      return { attr: attr!, dir };
    });
    items = [...items].sort((a, b) => {
      for (const k of keys) {
        const x = a[k.attr];
        const y = b[k.attr];
        if (x === y) continue;
        if (x === null || x === undefined) return 1;
        if (y === null || y === undefined) return -1;
        const c = x < y ? -1 : 1;
        return k.dir === 'desc' ? -c : c;
      }
      return 0;
    });
  }
  let start = 0;
  const marker = one(q, 'marker');
  if (marker) {
    const i = items.findIndex((x) => String(x[key]) === marker);
    if (i < 0) throw badInput(`Invalid marker: \`${marker}'`);
    start = i + 1;
  }
  let limit = maxLimit;
  const l = one(q, 'limit');
  if (l !== undefined) {
    const n = Number(l);
    if (!Number.isInteger(n) || n <= 0) throw badInput(`Invalid limit: ${l}`);
    limit = Math.min(n, maxLimit);
  }
  const page = items.slice(start, start + limit);
  if (start + limit < items.length && page.length) {
    const url = new URL(req.url, 'http://x');
    url.searchParams.set('marker', String(page[page.length - 1]![key]));
    if (!url.searchParams.has('limit')) url.searchParams.set('limit', String(limit));
    const path = url.pathname.slice(req.service?.prefix.length ?? 0);
    reply.header('Link', `<${req.baseUrl}${path}${url.search}>; rel="next"`);
  }
  return page;
}

export const notFoundError = (msg: string) => new ApiError(404, msg);
