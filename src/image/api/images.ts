// /v2/images: create, list (filters, sorting, pagination), show, JSON-patch update, delete,
// deactivate/reactivate and tags.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import { isUniqueViolation, now } from '../../core/db.ts';
import type { ImageService } from '../service.ts';
import { LocationPatcher } from '../locations.ts';
import { applyChanges, isAdmin, newImage, parseChanges, SORT_KEYS, TAG_QUOTA, type Image } from '../images.ts';
import { isVisible, imageTarget, propertyGuardOf, viewImage, findImage } from './policy.ts';
import { deleteData } from '../stores.ts';

/** The JSON-patch media type of image updates (v2.1; v2.0 is still accepted). */
export const JSON_PATCH = 'application/openstack-images-v2.1-json-patch';

const LIMIT_MAX = 1000,
  LIMIT_DEFAULT = 25;

/** The query string as webob's MultiDict: every value of a repeated key, in order. */
function params(req: FastifyRequest): Array<[string, string]> {
  const u = new URL(req.url, 'http://x');
  return [...u.searchParams.entries()];
}

const OPS = ['gt', 'gte', 'lt', 'lte', 'eq', 'neq'];

function timeFilter(key: string, raw: string): (v: string) => boolean {
  let op = 'eq',
    val = raw;
  const i = raw.indexOf(':');
  if (i > 0 && OPS.includes(raw.slice(0, i))) {
    op = raw.slice(0, i);
    val = raw.slice(i + 1);
  }
  const t = Date.parse(val);
  if (!/^\d{4}-\d{2}-\d{2}/.test(val) || Number.isNaN(t))
    throw new ApiError(400, `Unable to filter on a range with a nonnumeric value.`);
  const cmp: Record<string, (a: number) => boolean> = {
    gt: (a) => a > t,
    gte: (a) => a >= t,
    lt: (a) => a < t,
    lte: (a) => a <= t,
    eq: (a) => a === t,
    neq: (a) => a !== t,
  };
  void key;
  return (v) => cmp[op]!(Date.parse(v.replace(/\.\d+Z$/, 'Z')));
}

function inList(raw: string): string[] | undefined {
  if (!raw.startsWith('in:')) return undefined;
  const out: string[] = [];
  for (const m of raw.slice(3).matchAll(/"([^"]*)"|([^,]+)/g)) out.push(m[1] ?? m[2]!.trim());
  return out;
}

function sorting(q: Array<[string, string]>): Array<[string, 'asc' | 'desc']> {
  const keys: string[] = [],
    dirs: string[] = [];
  const has = (k: string) => q.some(([n]) => n === k);
  const checkKey = (k: string) => {
    if (!SORT_KEYS.includes(k))
      throw new ApiError(400, `Invalid sort key: ${k}. It must be one of the following: ${SORT_KEYS.join(', ')}.`);
    return k;
  };
  const checkDir = (d: string) => {
    if (d !== 'asc' && d !== 'desc') throw new ApiError(400, `Invalid sort direction: ${d}`);
    return d;
  };
  if (has('sort')) {
    if (has('sort_key') || has('sort_dir')) throw new ApiError(400, 'Old and new sorting syntax cannot be combined');
    for (const part of q
      .filter(([n]) => n === 'sort')
      .pop()![1]
      .trim()
      .split(',')) {
      const [k, d] = part.split(':', 2);
      keys.push(checkKey(k!.trim()));
      dirs.push(checkDir((d ?? 'desc').trim() || 'desc'));
    }
  } else {
    for (const [n, v] of q) if (n === 'sort_key') keys.push(checkKey(v.trim()));
    for (const [n, v] of q) if (n === 'sort_dir') dirs.push(checkDir(v.trim()));
    if (dirs.length > 1 && dirs.length !== keys.length)
      throw new ApiError(400, 'Number of sort dirs does not match the number of sort keys');
  }
  if (!keys.length) keys.push('created_at');
  if (!dirs.length) dirs.push('desc');
  const out = keys.map((k, i) => [k, (dirs[i] ?? dirs[0]) as 'asc' | 'desc'] as [string, 'asc' | 'desc']);
  // Glance always ends with created_at and id so that markers are stable.
  if (!keys.includes('created_at')) out.push(['created_at', out[0]![1]]);
  if (!keys.includes('id')) out.push(['id', out[0]![1]]);
  return out;
}

function compare(a: Image, b: Image, keys: Array<[string, 'asc' | 'desc']>): number {
  for (const [k, d] of keys) {
    const x = (a as unknown as Record<string, unknown>)[k],
      y = (b as unknown as Record<string, unknown>)[k];
    let c = 0;
    if (x === y) c = 0;
    else if (x === null || x === undefined) c = -1;
    else if (y === null || y === undefined) c = 1;
    else c = x < y ? -1 : 1;
    if (c) return d === 'asc' ? c : -c;
  }
  return 0;
}

/** Deactivate or reactivate (Glance's ImageActionsController): the policy rule is named as the action. */
async function imageAction(
  svc: ImageService,
  req: FastifyRequest<{ Params: { id: string } }>,
  reply: FastifyReply,
  action: 'deactivate' | 'reactivate',
  from: string,
  to: string,
) {
  const img = await findImage(svc, req.context, req.params.id, action);
  if (img.status === to) return reply.code(204).send();
  if (img.status !== from || !(await svc.repo.transition(img.id, [from], to))) {
    throw new ApiError(400, `Not allowed to ${action} image in status '${img.status}'`);
  }
  return reply.code(204).send();
}

export async function createImage(svc: ImageService, req: FastifyRequest, reply: FastifyReply) {
  const ctx = req.ctx!;
  const img = newImage(req.body, ctx);
  req.authorize('add_image', { project_id: ctx.projectId, owner: img.owner, visibility: img.visibility });
  const guard = propertyGuardOf(svc, req.context);
  if (guard) for (const k of Object.keys(img.properties)) guard.require(k, 'create');
  if (img.owner !== ctx.projectId && !isAdmin(ctx))
    throw new ApiError(403, `You are not permitted to create images owned by '${img.owner}'.`);
  if (img.visibility === 'public')
    req.authorize('publicize_image', { project_id: img.owner, owner: img.owner, visibility: img.visibility });
  if (img.visibility === 'community')
    req.authorize('communitize_image', { project_id: img.owner, owner: img.owner, visibility: img.visibility });
  await svc.quotas?.enforce(ctx.projectId, { image_count_total: 1 });
  try {
    await svc.repo.insert(img);
  } catch (e) {
    if (isUniqueViolation(e)) throw new ApiError(409, `Image with identifier ${img.id} already exists!`);
    throw e;
  }
  reply.code(201).header('Location', `${req.baseUrl}/v2/images/${img.id}`);
  return viewImage(svc, img, req.context);
}

export async function listImages(svc: ImageService, req: FastifyRequest) {
  const ctx = req.ctx!;
  // GET /v2/images/ is a show of the empty id in Glance, not a list.
  if (req.url.split('?')[0]!.endsWith('/')) {
    req.authorized = true;
    throw new ApiError(404, 'No image found with ID ');
  }
  req.authorize('get_images', { project_id: ctx.projectId });
  const q = params(req);
  const one = (k: string) => {
    const all = q.filter(([n]) => n === k);
    return all.length ? all[all.length - 1]![1] : undefined;
  };
  let limit = LIMIT_DEFAULT;
  const l = one('limit');
  if (l !== undefined) {
    if (!/^-?\d+$/.test(l.trim())) throw new ApiError(400, 'limit param must be an integer');
    limit = Number(l);
    if (limit < 0) throw new ApiError(400, 'limit param must be positive');
  }
  limit = Math.min(limit, LIMIT_MAX);
  const marker = one('marker');
  const memberStatus = one('member_status') ?? 'accepted';
  if (!['pending', 'accepted', 'rejected', 'all'].includes(memberStatus))
    throw new ApiError(400, `Invalid status: ${memberStatus}`);
  const visibility = one('visibility');
  if (visibility && !['community', 'public', 'private', 'shared', 'all'].includes(visibility))
    throw new ApiError(400, `Invalid visibility value: ${visibility}`);
  if (one('changes-since')) throw new ApiError(400, 'The "changes-since" filter is no longer available on v2.');
  const keys = sorting(q);
  const tags = q.filter(([n]) => n === 'tag').map(([, v]) => v.trim());

  const admin = isAdmin(ctx);
  const pid = ctx.projectId;
  const memberships = pid ? await svc.repo.membershipsOf(pid) : new Map<string, string>();
  const memberOk = (id: string) => {
    const s = memberships.get(id);
    return !!s && (memberStatus === 'all' || s === memberStatus);
  };
  const preds: Array<(i: Image) => boolean> = [];
  // Which images a caller sees without filters: Glance's image_get_all visibility rules.
  if (visibility === 'public') preds.push((i) => i.visibility === 'public');
  else if (visibility === 'community') preds.push((i) => i.visibility === 'community');
  else if (visibility === 'private') preds.push((i) => i.visibility === 'private' && (admin || i.owner === pid));
  else if (visibility === 'shared')
    preds.push((i) => i.visibility === 'shared' && ((admin && !memberships.size) || i.owner === pid || memberOk(i.id)));
  else if (!admin)
    preds.push(
      (i) =>
        i.owner === pid ||
        i.visibility === 'public' ||
        (visibility === 'all' && i.visibility === 'community') ||
        (i.visibility === 'shared' && memberOk(i.id)),
    );
  else if (visibility !== 'all') preds.push((i) => i.visibility !== 'community' || i.owner === pid);

  const handled = new Set(['limit', 'marker', 'member_status', 'visibility', 'sort', 'sort_key', 'sort_dir', 'tag']);
  const hidden = one('os_hidden');
  if (hidden !== undefined) {
    if (!['true', 'false'].includes(hidden.toLowerCase()))
      throw new ApiError(400, `Invalid value for os_hidden: ${hidden}`);
    preds.push((i) => i.os_hidden === (hidden.toLowerCase() === 'true'));
  } else preds.push((i) => !i.os_hidden);
  handled.add('os_hidden');
  for (const t of tags) preds.push((i) => i.tags.includes(t));
  for (const [k, raw] of q) {
    if (handled.has(k)) continue;
    if (k === 'size_min' || k === 'size_max') {
      if (!/^\d+$/.test(raw)) throw new ApiError(400, `Invalid value for ${k}: ${raw}`);
      const n = Number(raw);
      preds.push(k === 'size_min' ? (i) => i.size !== null && i.size >= n : (i) => i.size !== null && i.size <= n);
    } else if (k === 'created_at' || k === 'updated_at') {
      const f = timeFilter(k, raw);
      preds.push((i) => f(i[k]));
    } else if (k === 'protected') {
      if (!['true', 'false'].includes(raw.toLowerCase()))
        throw new ApiError(400, `Invalid value for protected: ${raw}`);
      preds.push((i) => i.protected === (raw.toLowerCase() === 'true'));
    } else if (
      [
        'name',
        'id',
        'status',
        'owner',
        'disk_format',
        'container_format',
        'checksum',
        'os_hash_value',
        'min_ram',
        'min_disk',
      ].includes(k)
    ) {
      const list = inList(raw) ?? [raw];
      preds.push(
        (i) =>
          (i as unknown as Record<string, unknown>)[k] !== null &&
          list.includes(String((i as unknown as Record<string, unknown>)[k])),
      );
    } else if (k === 'size' || k === 'virtual_size') {
      preds.push((i) => String((i as unknown as Record<string, unknown>)[k]) === raw);
    } else {
      preds.push((i) => i.properties[k] === raw);
    }
  }
  let images = (await svc.repo.all()).filter((i) => preds.every((p) => p(i)));
  images.sort((a, b) => compare(a, b, keys));
  if (marker !== undefined) {
    const m = await svc.repo.get(marker);
    if (!m || !(await isVisible(svc, m, req.context)))
      throw new ApiError(400, `Invalid marker. Image ${marker} could not be found.`);
    images = images.filter((i) => compare(i, m, keys) > 0);
  }
  const page = images.slice(0, limit);
  const rest = q.filter(([n]) => n !== 'marker');
  const qs = (list: Array<[string, string]>) => new URLSearchParams(list).toString();
  const body: Record<string, unknown> = {
    images: await Promise.all(page.map((i) => viewImage(svc, i, req.context))),
    first: '/v2/images',
    schema: '/v2/schemas/images',
  };
  if (rest.length) body.first = `/v2/images?${qs(rest)}`;
  if (page.length && page.length === limit)
    body.next = `/v2/images?${qs([...rest, ['marker', page[page.length - 1]!.id]])}`;
  return body;
}

export async function showImage(svc: ImageService, req: FastifyRequest<{ Params: { id: string } }>) {
  return viewImage(svc, await findImage(svc, req.context, req.params.id, 'get_image'), req.context);
}

export async function updateImage(svc: ImageService, req: FastifyRequest<{ Params: { id: string } }>) {
  const ct = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
  if (ct !== JSON_PATCH && ct !== 'application/openstack-images-v2.0-json-patch') {
    throw new ApiError(415, `Unsupported Content-Type`, undefined, {
      'Accept-Patch': 'application/openstack-images-v2.0-json-patch, application/openstack-images-v2.1-json-patch',
    });
  }
  const img = await findImage(svc, req.context, req.params.id, 'modify_image');
  const target = await imageTarget(svc, img, req.context);
  if (req.body === undefined) throw new ApiError(400, 'Body expected in request.');
  const changes = parseChanges(req.body, ct === JSON_PATCH ? 10 : 4);
  const locations = new LocationPatcher(svc, req.context, img);
  const updated = await applyChanges(
    img,
    changes,
    req.ctx!,
    (rule) => req.authorize(rule, target),
    locations.apply,
    propertyGuardOf(svc, req.context),
  );
  updated.updated_at = now();
  await svc.repo.save(updated);
  await locations.cleanup(updated);
  return viewImage(svc, updated, req.context);
}

export async function deleteImage(
  svc: ImageService,
  req: FastifyRequest<{ Params: { id: string } }>,
  reply: FastifyReply,
) {
  const img = await findImage(svc, req.context, req.params.id, 'delete_image');
  if (img.protected) throw new ApiError(403, `Image ${img.id} is protected and cannot be deleted.`);
  await svc.repo.remove(img.id);
  await deleteData(svc, img);
  return reply.code(204).send();
}

export async function deactivateImage(
  svc: ImageService,
  req: FastifyRequest<{ Params: { id: string } }>,
  reply: FastifyReply,
) {
  return imageAction(svc, req, reply, 'deactivate', 'active', 'deactivated');
}

export async function reactivateImage(
  svc: ImageService,
  req: FastifyRequest<{ Params: { id: string } }>,
  reply: FastifyReply,
) {
  return imageAction(svc, req, reply, 'reactivate', 'deactivated', 'active');
}

export async function addImageTag(
  svc: ImageService,
  req: FastifyRequest<{ Params: { id: string; tag: string } }>,
  reply: FastifyReply,
) {
  const img = await findImage(svc, req.context, req.params.id, 'modify_image');
  const tag = req.params.tag;
  if (tag.length > 255) throw new ApiError(400, `Provided object does not match schema 'image': '${tag}' is too long`);
  if (!img.tags.includes(tag)) {
    if (img.tags.length + 1 > TAG_QUOTA)
      throw new ApiError(413, `Maximum number of tags exceeded. (attempted ${img.tags.length + 1}, max ${TAG_QUOTA})`);
    img.tags.push(tag);
    img.updated_at = now();
    await svc.repo.save(img, { tags: 1, updated_at: 1 });
  }
  return reply.code(204).send();
}

export async function deleteImageTag(
  svc: ImageService,
  req: FastifyRequest<{ Params: { id: string; tag: string } }>,
  reply: FastifyReply,
) {
  const img = await findImage(svc, req.context, req.params.id, 'modify_image');
  if (!img.tags.includes(req.params.tag)) throw new ApiError(404, `Tag ${req.params.tag} not found.`);
  img.tags = img.tags.filter((t) => t !== req.params.tag);
  img.updated_at = now();
  await svc.repo.save(img, { tags: 1, updated_at: 1 });
  return reply.code(204).send();
}
