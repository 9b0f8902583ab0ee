// /attachments (3.27+): create (reserved, or with a connector the connection info at once),
// update with the connector, complete (3.44), delete, list and show.
import type { FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import { json } from '../../core/db.ts';
import { ApiError } from '../../core/errors.ts';
import { validate } from '../../core/validate.ts';
import type { BlockStorageService } from '../service.ts';
import type { AttachmentRow } from '../volumes.ts';
import { eq, pageOf } from '../db/paging.ts';
import { type Query, at, isoTime, pageLinks, sortKeys, markerFound, pageParams } from './common.ts';
import { attachmentCreateSchema, attachmentUpdateSchema } from './schemas.ts';

type P = { id: string };

function need(req: FastifyRequest, v: string) {
  if (!at(req, v)) throw new ApiError(404, 'The resource could not be found.');
}

export function attachmentView(a: AttachmentRow, detail = true) {
  const out: Record<string, unknown> = {
    id: a.id,
    status: a.attach_status,
    instance: a.instance_uuid,
    volume_id: a.volume_id,
  };
  if (detail) {
    out.attached_at = isoTime(a.attach_time);
    out.detached_at = isoTime(a.detach_time);
    out.attach_mode = a.attach_mode;
    out.connection_info = json(a.connection_info, null);
  }
  return out;
}

async function visibleAttachment(svc: BlockStorageService, req: FastifyRequest, id: string) {
  const a = await svc.parts.volumes.attachment(id);
  const v = a && (await svc.parts.volumes.get(a.volume_id));
  if (!a || !v || (!req.context.allowed('volume:get_all_admin') && v.project_id !== req.context.projectId))
    throw new ApiError(404, `Volume attachment ${id} could not be found.`, 'VolumeAttachmentNotFound');
  return { a, v };
}

export async function createAttachment(svc: BlockStorageService, req: FastifyRequest) {
  need(req, '3.27');
  const body = validate<{
    attachment: {
      volume_uuid: string;
      instance_uuid?: string | null;
      connector?: Record<string, unknown> | null;
      mode?: string;
    };
  }>(req.body, attachmentCreateSchema);
  const b = body.attachment;
  const v = await svc.parts.api.visibleVolume(req.context, b.volume_uuid);
  req.authorize('volume:attachment_create', { project_id: v.project_id });
  if (b.mode && !at(req, '3.54')) throw new ApiError(400, 'Invalid input: mode needs microversion 3.54.');
  const a = await svc.parts.api.reserve(v, b.instance_uuid ?? null);
  if (b.mode) await svc.parts.volumes.updateAttachment(a.id, { attach_mode: b.mode });
  if (b.connector) await connect(svc, req, a.id, b.connector);
  return { attachment: attachmentView((await svc.parts.volumes.attachment(a.id))!) };
}

async function connect(svc: BlockStorageService, req: FastifyRequest, id: string, connector: Record<string, unknown>) {
  const a = (await svc.parts.volumes.attachment(id))!;
  const v = (await svc.parts.volumes.get(a.volume_id))!;
  const info = await svc.parts.api.initializeConnection(req.context, v, connector);
  const data = { ...info.data, access_mode: a.attach_mode };
  await svc.parts.volumes.updateAttachment(id, {
    connector: JSON.stringify(connector),
    connection_info: JSON.stringify({ ...info, data, attachment_id: id }),
    attached_host: (connector.host as string | undefined) ?? null,
    mountpoint: (connector.mountpoint as string | undefined) ?? a.mountpoint,
    attach_status: 'attaching',
  });
  if (v.status !== 'in-use') await svc.parts.volumes.update(v.id, { status: 'attaching', attach_status: 'attaching' });
}

export async function updateAttachment(svc: BlockStorageService, req: FastifyRequest) {
  need(req, '3.27');
  const body = validate<{ attachment: { connector: Record<string, unknown> } }>(req.body, attachmentUpdateSchema);
  const { a, v } = await visibleAttachment(svc, req, (req.params as P).id);
  req.authorize('volume:attachment_update', { project_id: v.project_id });
  await connect(svc, req, a.id, body.attachment.connector);
  return { attachment: attachmentView((await svc.parts.volumes.attachment(a.id))!) };
}

export async function completeAttachment(
  svc: BlockStorageService,
  req: FastifyRequest,
  reply: { code(n: number): unknown },
) {
  need(req, '3.44');
  const { a, v } = await visibleAttachment(svc, req, (req.params as P).id);
  req.authorize('volume:attachment_complete', { project_id: v.project_id });
  const body = (req.body ?? {}) as Record<string, unknown>;
  if (!('os-complete' in body)) throw new ApiError(400, `There is no such action: ${Object.keys(body)[0] ?? ''}`);
  await svc.parts.volumes.updateAttachment(a.id, { attach_status: 'attached', attach_time: new Date().toISOString() });
  const meta = { ...json<Record<string, string>>(v.admin_metadata, {}), attached_mode: a.attach_mode };
  await svc.parts.volumes.update(v.id, {
    status: 'in-use',
    attach_status: 'attached',
    admin_metadata: JSON.stringify(meta),
  });
  reply.code(204);
  return null;
}

export async function deleteAttachment(svc: BlockStorageService, req: FastifyRequest) {
  need(req, '3.27');
  const { a, v } = await visibleAttachment(svc, req, (req.params as P).id);
  req.authorize('volume:attachment_delete', { project_id: v.project_id });
  if (a.connector)
    await svc.parts.api.terminateConnection(req.context, v, json(a.connector, {})).catch(() => undefined);
  await svc.parts.api.detach(v, a.id);
  return { attachments: [] };
}

export async function showAttachment(svc: BlockStorageService, req: FastifyRequest) {
  need(req, '3.27');
  const { a, v } = await visibleAttachment(svc, req, (req.params as P).id);
  req.authorize('volume:attachment_get', { project_id: v.project_id });
  return { attachment: attachmentView(a) };
}

async function list(svc: BlockStorageService, req: FastifyRequest, detail: boolean) {
  need(req, '3.27');
  const q = req.query as Query;
  const ctx = req.context;
  req.authorize('volume:attachment_get_all', { project_id: ctx.projectId });
  const admin = ctx.allowed('volume:get_all_admin') && q.all_tenants !== undefined;
  // The filters, the order and the page in SQL; the project's volumes by a subquery.
  const scope = admin
    ? [sql`volume_id in (select id from volumes where deleted = 0)`]
    : [sql`volume_id in (select id from volumes where deleted = 0 and project_id = ${ctx.projectId})`];
  const where = [...scope];
  if (q.volume_id) where.push(eq('volume_id', q.volume_id));
  if (q.instance_id) where.push(eq('instance_uuid', q.instance_id));
  if (q.status) where.push(eq('attach_status', q.status));
  const { rows: page, more } = markerFound(
    req,
    await pageOf<AttachmentRow>(svc.parts.volumes.db, 'volume_attachments', {
      where,
      markerScope: scope,
      order: sortKeys(q, ['id', 'created_at', 'volume_id', 'instance_uuid']),
      nullable: new Set(['instance_uuid']),
      ...pageParams(req),
    }),
  );
  const out: Record<string, unknown> = { attachments: page.map((a) => attachmentView(a, detail)) };
  if (more && page.length) out.attachments_links = pageLinks(req, page[page.length - 1]!.id);
  return out;
}

export const listAttachments = (svc: BlockStorageService, req: FastifyRequest) => list(svc, req, false);
export const listAttachmentsDetail = (svc: BlockStorageService, req: FastifyRequest) => list(svc, req, true);
