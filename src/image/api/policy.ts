// The image API's policy layer (Glance's api/v2/policy.py): which images a caller sees, the
// policy target of an image, Glance's 404-or-403 enforcement, and the image as the caller may see it.
import type { FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import { imageView, isAdmin, type Image } from '../images.ts';
import { propertyGuard, type PropertyGuard } from '../protections.ts';
import type { ImageService } from '../service.ts';

/** Glance's is_image_visible. */
export async function isVisible(svc: ImageService, img: Image, req: FastifyRequest): Promise<boolean> {
  const ctx = req.ctx;
  if (isAdmin(ctx) || img.owner === null) return true;
  if (img.visibility === 'public' || img.visibility === 'community') return true;
  if (!ctx?.projectId) return false;
  if (img.owner === ctx.projectId) return true;
  if (img.visibility === 'shared') return !!(await svc.repo.member(img.id, ctx.projectId));
  return false;
}

/** The policy target of an image (Glance's ImageTarget). */
export async function imageTarget(
  svc: ImageService,
  img: Image,
  req: FastifyRequest,
): Promise<Record<string, unknown>> {
  const pid = req.ctx?.projectId;
  const member = pid && img.visibility === 'shared' && (await svc.repo.member(img.id, pid)) ? pid : undefined;
  return {
    project_id: img.owner,
    owner: img.owner,
    visibility: img.visibility,
    member_id: member,
    id: img.id,
    image_id: img.id,
  };
}

/** What the caller may do with extra properties, when protections are configured. */
export function propertyGuardOf(svc: ImageService, req: FastifyRequest): PropertyGuard | undefined {
  const ctx = req.ctx;
  return propertyGuard(svc.protections, [...(ctx?.roles ?? []), ...(ctx?.serviceRoles ?? [])], (rule) =>
    req.allowed(rule, {}),
  );
}

/** The image as this caller sees it: locations and direct_url when shown and get_image_location allows. */
export async function viewImage(svc: ImageService, img: Image, req: FastifyRequest): Promise<Record<string, unknown>> {
  const guard = propertyGuardOf(svc, req);
  if (guard)
    img = {
      ...img,
      properties: Object.fromEntries(Object.entries(img.properties).filter(([k]) => guard.readable(k))),
    };
  if (!svc.showLocations && !svc.showDirectUrl) return imageView(img);
  const can = req.allowed('get_image_location', await imageTarget(svc, img, req));
  return imageView(can ? img : { ...img, locations: [] }, {
    locations: svc.showLocations,
    directUrl: svc.showDirectUrl,
  });
}

/** Loads an image the caller may see (404 otherwise) and enforces `rule` on it. */
export async function findImage(svc: ImageService, req: FastifyRequest, id: string, rule?: string): Promise<Image> {
  const img = await svc.repo.get(id);
  if (!img || !(await isVisible(svc, img, req))) throw new ApiError(404, `No image found with ID ${id}`);
  if (rule) await enforceImage(svc, req, img, rule);
  return img;
}

/**
 * Enforces an image rule as Glance's ImageAPIPolicy does: a refusal is a 404 when the caller
 * may not even get the image (so its existence is not revealed), a 403 otherwise.
 */
export async function enforceImage(
  svc: ImageService,
  req: FastifyRequest,
  img: Image,
  rule: string,
  extra: Record<string, unknown> = {},
) {
  const target = await imageTarget(svc, img, req);
  const full = { ...target, ...extra };
  if (req.allowed(rule, full)) {
    req.authorized = true;
    return;
  }
  if (rule === 'get_image' || !req.allowed('get_image', target)) {
    req.authorized = true;
    throw new ApiError(404, `No image found with ID ${img.id}`);
  }
  req.authorize(rule, full);
}

/** A member rule (Glance's MemberAPIPolicy): the image must be gettable first, then the rule itself. */
export async function enforceMember(
  svc: ImageService,
  req: FastifyRequest,
  img: Image,
  rule: string,
  extra: Record<string, unknown> = {},
) {
  await enforceImage(svc, req, img, 'get_image');
  req.authorize(rule, { ...(await imageTarget(svc, img, req)), ...extra });
}
