// Members of shared images: the owner adds and removes projects; a member project accepts,
// rejects or leaves pending its own membership.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import { now } from '../../core/db.ts';
import type { Selectable } from 'kysely';
import type { ImageMemberTable } from '../db/schema.ts';
import type { ImageService } from '../service.ts';
import { isAdmin, isotime, MEMBER_QUOTA } from '../images.ts';
import { findImage, enforceMember } from './policy.ts';

const view = (m: Selectable<ImageMemberTable>) => ({
  created_at: isotime(m.created_at),
  image_id: m.image_id,
  member_id: m.member_id,
  schema: '/v2/schemas/member',
  status: m.status,
  updated_at: isotime(m.updated_at),
});

export async function createMember(svc: ImageService, req: FastifyRequest<{ Params: { id: string } }>) {
  const img = await findImage(svc, req.context, req.params.id);
  await enforceMember(svc, req.context, img, 'add_member');
  if (img.owner !== req.ctx!.projectId && !isAdmin(req.ctx))
    throw new ApiError(403, 'You are not permitted to modify members of this image.');
  const member = (req.body as { member?: unknown } | undefined)?.member;
  if (typeof member !== 'string' || !member) throw new ApiError(400, 'Member to be added not specified');
  if (img.visibility !== 'shared') throw new ApiError(403, `Only shared images have members.`);
  if (await svc.repo.member(img.id, member))
    throw new ApiError(409, `The given member ${member} of the image ${img.id} already exists.`);
  if ((await svc.repo.members(img.id)).length + 1 > MEMBER_QUOTA)
    throw new ApiError(
      413,
      `Maximum number of image members exceeded. (attempted ${MEMBER_QUOTA + 1}, max ${MEMBER_QUOTA})`,
    );
  const t = now();
  const row = { image_id: img.id, member_id: member, status: 'pending', created_at: t, updated_at: t };
  await svc.repo.addMember(row);
  return view(row);
}

export async function listMembers(svc: ImageService, req: FastifyRequest<{ Params: { id: string } }>) {
  const img = await findImage(svc, req.context, req.params.id);
  await enforceMember(svc, req.context, img, 'get_members');
  if (img.visibility !== 'shared') throw new ApiError(403, 'Only shared images have members.');
  let rows = await svc.repo.members(img.id);
  if (!isAdmin(req.ctx) && img.owner !== req.ctx!.projectId)
    rows = rows.filter((m) => m.member_id === req.ctx!.projectId);
  return { members: rows.map(view), schema: '/v2/schemas/members' };
}

export async function showMember(svc: ImageService, req: FastifyRequest<{ Params: { id: string; member: string } }>) {
  const img = await findImage(svc, req.context, req.params.id, 'get_image');
  const pid = req.ctx!.projectId;
  const m = await svc.repo.member(img.id, req.params.member);
  if (!m || (!isAdmin(req.ctx) && img.owner !== pid && req.params.member !== pid))
    throw new ApiError(404, `Member ${req.params.member} not found`);
  await enforceMember(svc, req.context, img, 'get_member', { member_id: m.member_id });
  return view(m);
}

export async function updateMember(svc: ImageService, req: FastifyRequest<{ Params: { id: string; member: string } }>) {
  const img = await findImage(svc, req.context, req.params.id, 'get_image');
  const m = await svc.repo.member(img.id, req.params.member);
  if (!m) throw new ApiError(404, `Member ${req.params.member} not found`);
  await enforceMember(svc, req.context, img, 'modify_member', { member_id: m.member_id });
  if (!isAdmin(req.ctx) && req.ctx!.projectId !== m.member_id)
    throw new ApiError(403, 'You are not permitted to modify this member.');
  const status = (req.body as { status?: unknown } | undefined)?.status;
  if (typeof status !== 'string' || !['pending', 'accepted', 'rejected'].includes(status))
    throw new ApiError(400, `Status must be one of pending, accepted, rejected; got ${JSON.stringify(status)}`);
  const t = now();
  await svc.repo.setMemberStatus(img.id, m.member_id, status, t);
  return view({ ...m, status, updated_at: t });
}

export async function deleteMember(
  svc: ImageService,
  req: FastifyRequest<{ Params: { id: string; member: string } }>,
  reply: FastifyReply,
) {
  const img = await findImage(svc, req.context, req.params.id);
  await enforceMember(svc, req.context, img, 'delete_member');
  if (img.owner !== req.ctx!.projectId && !isAdmin(req.ctx))
    throw new ApiError(403, 'You are not permitted to modify members of this image.');
  const m = await svc.repo.member(img.id, req.params.member);
  if (!m) throw new ApiError(404, `Member ${req.params.member} not found`);
  await svc.repo.removeMember(img.id, m.member_id);
  return reply.code(204).send();
}
