// /os-volume-transfer and /volume-transfers (3.55): offer a volume, list, show, accept with the
// auth key in another project, delete.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { bool } from '../../core/db.ts';
import { ApiError } from '../../core/errors.ts';
import type { BlockStorageService } from '../service.ts';
import type { TransferRow } from '../transfers.ts';
import { at, badRequest, isoTime, links } from './common.ts';

type P = { id: string };

function view(req: FastifyRequest, t: TransferRow, detail: boolean) {
  const out: Record<string, unknown> = {
    id: t.id,
    name: t.name,
    volume_id: t.volume_id,
    links: links(req, t.source_project_id, 'os-volume-transfer', t.id),
  };
  if (detail) {
    out.created_at = isoTime(t.created_at);
    if (at(req, '3.55')) out.no_snapshots = bool(t.no_snapshots);
    if (at(req, '3.57')) {
      out.source_project_id = t.source_project_id;
      out.destination_project_id = t.destination_project_id;
      out.accepted = bool(t.accepted);
    }
  }
  return out;
}

async function visible(svc: BlockStorageService, req: FastifyRequest) {
  const { id } = req.params as P;
  const t = await svc.parts.transfers.get(id);
  if (!t || (!req.context.allowed('volume:get_all_admin') && t.source_project_id !== req.context.projectId))
    throw new ApiError(404, `Transfer ${id} could not be found.`, 'TransferNotFound');
  return t;
}

export async function createTransfer(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  const b = (req.body ?? {}) as { transfer?: { volume_id?: unknown; name?: unknown; no_snapshots?: unknown } };
  if (!b.transfer || typeof b.transfer !== 'object')
    throw badRequest("Missing required element 'transfer' in request body.");
  const { volume_id, name, no_snapshots } = b.transfer;
  if (typeof volume_id !== 'string') throw badRequest('Incorrect request body format');
  if (name !== undefined && name !== null && (typeof name !== 'string' || name.length > 255))
    throw badRequest('Invalid input for field/attribute name.');
  const v = await svc.parts.api.visibleVolume(req.context, volume_id);
  req.authorize('volume:create_transfer', { project_id: v.project_id });
  const { row, authKey } = await svc.parts.transfers.create(
    v,
    (name as string | null) ?? null,
    at(req, '3.55') && no_snapshots === true,
  );
  reply.code(202);
  return { transfer: { ...view(req, row, true), auth_key: authKey } };
}

export async function listTransfers(svc: BlockStorageService, req: FastifyRequest) {
  req.authorize('volume:get_all_transfers', { project_id: req.context.projectId });
  const all =
    req.context.allowed('volume:get_all_admin') && (req.query as Record<string, string>).all_tenants !== undefined;
  return {
    transfers: (await svc.parts.transfers.list(all ? undefined : req.context.projectId)).map((t) =>
      view(req, t, false),
    ),
  };
}

export async function listTransfersDetail(svc: BlockStorageService, req: FastifyRequest) {
  req.authorize('volume:get_all_transfers', { project_id: req.context.projectId });
  const all =
    req.context.allowed('volume:get_all_admin') && (req.query as Record<string, string>).all_tenants !== undefined;
  return {
    transfers: (await svc.parts.transfers.list(all ? undefined : req.context.projectId)).map((t) => view(req, t, true)),
  };
}

export async function showTransfer(svc: BlockStorageService, req: FastifyRequest) {
  const t = await visible(svc, req);
  req.authorize('volume:get_transfer', { project_id: t.source_project_id });
  return { transfer: view(req, t, true) };
}

export async function deleteTransfer(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  const t = await visible(svc, req);
  req.authorize('volume:delete_transfer', { project_id: t.source_project_id });
  await svc.parts.transfers.delete(t);
  reply.code(202);
  return null;
}

export async function acceptTransfer(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  const { id } = req.params as P;
  const b = (req.body ?? {}) as { accept?: { auth_key?: unknown } };
  if (!b.accept || typeof b.accept.auth_key !== 'string')
    throw badRequest("Missing required element 'accept' in request body.");
  req.authorize('volume:accept_transfer', { project_id: req.context.projectId });
  const t = await svc.parts.transfers.get(id);
  if (!t) throw new ApiError(404, `Transfer ${id} could not be found.`, 'TransferNotFound');
  const done = await svc.parts.transfers.accept(t, b.accept.auth_key, req.context.projectId!, req.context.userId!);
  reply.code(202);
  return {
    transfer: {
      id: done.id,
      name: done.name,
      volume_id: done.volume_id,
      links: links(req, req.context.projectId!, 'os-volume-transfer', done.id),
    },
  };
}
