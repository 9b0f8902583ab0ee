// The image API's policy layer (Glance's api/v2/policy.py): which images a caller sees, the
// policy target of an image, Glance's 404-or-403 enforcement, and the image as the caller may see it.
// They take the request context, not the HTTP request, so that logic below the handlers
// (locations.ts) enforces the same rules.
import type { RequestContext } from '../../core/context.ts';
import { ApiError } from '../../core/errors.ts';
import { imageView, isAdmin, type Image } from '../images.ts';
import { propertyGuard, type PropertyGuard } from '../protections.ts';
import type { ImageService } from '../service.ts';

/** Glance's is_image_visible. */
export async function isVisible(svc: ImageService, img: Image, context: RequestContext): Promise<boolean> {
  const ctx = context.auth;
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
  context: RequestContext,
): Promise<Record<string, unknown>> {
  const pid = context.projectId;
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
export function propertyGuardOf(svc: ImageService, context: RequestContext): PropertyGuard | undefined {
  const ctx = context.auth;
  return propertyGuard(svc.protections, [...(ctx?.roles ?? []), ...(ctx?.serviceRoles ?? [])], (rule) =>
    context.allowed(rule, {}),
  );
}

/** The image as this caller sees it: locations and direct_url when shown and get_image_location allows. */
export async function viewImage(
  svc: ImageService,
  img: Image,
  context: RequestContext,
): Promise<Record<string, unknown>> {
  const guard = propertyGuardOf(svc, context);
  if (guard)
    img = {
      ...img,
      properties: Object.fromEntries(Object.entries(img.properties).filter(([k]) => guard.readable(k))),
    };
  if (!svc.showLocations && !svc.showDirectUrl) return imageView(img);
  const can = context.allowed('get_image_location', await imageTarget(svc, img, context));
  return imageView(can ? img : { ...img, locations: [] }, {
    locations: svc.showLocations,
    directUrl: svc.showDirectUrl,
  });
}

/** Loads an image the caller may see (404 otherwise) and enforces `rule` on it. */
export async function findImage(svc: ImageService, context: RequestContext, id: string, rule?: string): Promise<Image> {
  const img = await svc.repo.get(id);
  if (!img || !(await isVisible(svc, img, context))) throw new ApiError(404, `No image found with ID ${id}`);
  if (rule) await enforceImage(svc, context, img, rule);
  return img;
}

/**
 * Enforces an image rule as Glance's ImageAPIPolicy does: a refusal is a 404 when the caller
 * may not even get the image (so its existence is not revealed), a 403 otherwise.
 */
export async function enforceImage(
  svc: ImageService,
  context: RequestContext,
  img: Image,
  rule: string,
  extra: Record<string, unknown> = {},
) {
  const target = await imageTarget(svc, img, context);
  const full = { ...target, ...extra };
  if (context.allowed(rule, full)) {
    context.enforced = true;
    return;
  }
  if (rule === 'get_image' || !context.allowed('get_image', target)) {
    context.enforced = true;
    throw new ApiError(404, `No image found with ID ${img.id}`);
  }
  context.authorize(rule, full);
}

/** A member rule (Glance's MemberAPIPolicy): the image must be gettable first, then the rule itself. */
export async function enforceMember(
  svc: ImageService,
  context: RequestContext,
  img: Image,
  rule: string,
  extra: Record<string, unknown> = {},
) {
  await enforceImage(svc, context, img, 'get_image');
  context.authorize(rule, { ...(await imageTarget(svc, img, context)), ...extra });
}
