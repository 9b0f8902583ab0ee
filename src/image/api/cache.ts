// The cache management API of images API 2.14+ (Glance's cached_images controller): list the
// cached and queued images, queue an image, remove one from cache and queue, clear both.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import type { ImageService } from '../service.ts';
import type { ImageCache } from '../cache.ts';
import { isVisible, imageTarget } from './policy.ts';

/** Glance checks the policy first, then whether the site caches at all. */
function cacheOf(
  svc: ImageService,
  req: FastifyRequest,
  rule: string,
  target: Record<string, unknown> = {},
): ImageCache {
  req.authorize(rule, target);
  if (!svc.cache) throw new ApiError(404, 'Caching via API is not supported at this site.');
  return svc.cache;
}
async function visibleImage(svc: ImageService, req: FastifyRequest, id: string) {
  const img = await svc.repo.get(id);
  return img && (await isVisible(svc, img, req.context)) ? img : undefined;
}

export async function listCachedImages(svc: ImageService, req: FastifyRequest) {
  const cache = cacheOf(svc, req, 'cache_list');
  return { cached_images: await cache.cached(), queued_images: await cache.queued() };
}

export async function clearCache(svc: ImageService, req: FastifyRequest, reply: FastifyReply) {
  const cache = cacheOf(svc, req, 'cache_delete');
  const raw = req.headers['x-image-cache-clear-target'];
  const target = (typeof raw === 'string' ? raw : '').trim().toLowerCase();
  if (!['', 'cache', 'queue'].includes(target))
    throw new ApiError(400, "If provided 'x-image-cache-clear-target' must be 'cache', 'queue' or empty string.");
  if (target !== 'queue') await cache.clearCached();
  if (target !== 'cache') await cache.clearQueued();
  return reply.code(204).send();
}

export async function queueImage(
  svc: ImageService,
  req: FastifyRequest<{ Params: { id: string } }>,
  reply: FastifyReply,
) {
  const img = await visibleImage(svc, req, req.params.id);
  if (!img) {
    req.authorized = true;
    throw new ApiError(404, `Image ${req.params.id} not found.`);
  }
  const cache = cacheOf(svc, req, 'cache_image', await imageTarget(svc, img, req.context));
  if (img.status !== 'active') throw new ApiError(400, 'Only images with status active can be targeted for queueing');
  await cache.queue(img.id);
  return reply.code(202).send();
}

export async function deleteCachedImage(
  svc: ImageService,
  req: FastifyRequest<{ Params: { id: string } }>,
  reply: FastifyReply,
) {
  const id = req.params.id;
  const img = await visibleImage(svc, req, id);
  if (!img && svc.cache && !(await svc.cache.has(id)) && !(await svc.cache.queued()).includes(id)) {
    req.authorized = true;
    throw new ApiError(404, `Image ${id} not found.`);
  }
  const cache = cacheOf(svc, req, 'cache_delete', img ? await imageTarget(svc, img, req.context) : {});
  if (/^[0-9a-fA-F-]{1,64}$/.test(id)) await cache.delete(id);
  return reply.code(204).send();
}
