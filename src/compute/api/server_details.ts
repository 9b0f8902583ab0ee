// What hangs off a server besides actions: its metadata (/servers/{id}/metadata), its tags
// (/servers/{id}/tags, 2.26) and its addresses (/servers/{id}/ips), as Nova's
// server_metadata, server_tags and ips controllers answer them.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import type { ComputeService } from '../service.ts';
import type { Instance } from '../instances.ts';
import { authorize, badRequest, conflict, isAdmin, mv, notFound, validateBody } from './common.ts';
import { getServer } from './servers.ts';
import { META_ITEM_SCHEMA, METADATA_SCHEMA, type MetadataBody, type MetaItemBody } from './schemas/parameter_types.ts';

const TAG_RE = /^[^,/]{1,60}$/;
const TAGS_SCHEMA = {
  type: 'object',
  properties: {
    tags: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 60, pattern: '^[^,/]*$' }, maxItems: 50 },
  },
  required: ['tags'],
  additionalProperties: false,
};
/** Nova's metadata_items quota default. */
const METADATA_ITEMS = 128;

export type P = { Params: { id: string; key: string; tag: string; network: string } };

const target = (i: Instance) => ({ project_id: i.project_id, user_id: i.user_id });
const changeable = (
  req: FastifyRequest,
  i: Instance,
  action: string,
  states = ['active', 'paused', 'suspended', 'stopped', 'shelved', 'shelved_offloaded'],
) => {
  if (i.locked && !isAdmin(req)) throw conflict(`Instance ${i.uuid} is locked`);
  if (!states.includes(i.vm_state))
    throw conflict(`Cannot '${action}' instance ${i.uuid} while it is in vm_state ${i.vm_state}`);
};
/** The vm_states in which a server's metadata may change (Nova's check_instance_state on the metadata calls). */
const METADATA_STATES = ['active', 'paused', 'suspended', 'stopped', 'shelved', 'shelved_offloaded', 'building'];
async function setMetadata(svc: ComputeService, req: FastifyRequest, i: Instance, metadata: Record<string, string>) {
  changeable(req, i, 'update metadata', METADATA_STATES);
  if (Object.keys(metadata).length > METADATA_ITEMS)
    throw new ApiError(
      403,
      `Quota exceeded for metadata_items: Requested ${Object.keys(metadata).length}, but already used 0 of ${METADATA_ITEMS} metadata_items`,
    );
  await svc.parts.store.update(i.uuid, { metadata });
  return metadata;
}

// ---- metadata ----
export async function listServerMetadata(svc: ComputeService, req: FastifyRequest<P>) {
  const i = await getServer(svc, req, req.params.id);
  authorize(req, 'os_compute_api:server-metadata:index', target(i));
  return { metadata: i.metadata };
}
export async function showServerMetadata(svc: ComputeService, req: FastifyRequest<P>) {
  const i = await getServer(svc, req, req.params.id);
  authorize(req, 'os_compute_api:server-metadata:show', target(i));
  if (!(req.params.key in i.metadata)) throw notFound('Metadata item was not found');
  return { meta: { [req.params.key]: i.metadata[req.params.key] } };
}
export async function createServerMetadata(svc: ComputeService, req: FastifyRequest<P>) {
  const body = validateBody<MetadataBody>(req, METADATA_SCHEMA);
  const i = await getServer(svc, req, req.params.id);
  authorize(req, 'os_compute_api:server-metadata:create', target(i));
  return { metadata: await setMetadata(svc, req, i, { ...i.metadata, ...body.metadata }) };
}
export async function replaceServerMetadata(svc: ComputeService, req: FastifyRequest<P>) {
  const body = validateBody<MetadataBody>(req, METADATA_SCHEMA);
  const i = await getServer(svc, req, req.params.id);
  authorize(req, 'os_compute_api:server-metadata:update_all', target(i));
  return { metadata: await setMetadata(svc, req, i, body.metadata) };
}
export async function updateServerMetadataItem(svc: ComputeService, req: FastifyRequest<P>) {
  const body = req.body as { meta: Record<string, string> } | null;
  if (body?.meta && typeof body.meta === 'object' && !Array.isArray(body.meta) && Object.keys(body.meta).length > 1) {
    req.authorized = true;
    throw badRequest('Request body contains too many items');
  }
  validateBody<MetaItemBody>(req, META_ITEM_SCHEMA);
  const i = await getServer(svc, req, req.params.id);
  authorize(req, 'os_compute_api:server-metadata:update', target(i));
  if (!(req.params.key in body!.meta)) throw badRequest('Request body and URI mismatch');
  await setMetadata(svc, req, i, { ...i.metadata, ...body!.meta });
  return { meta: body!.meta };
}
export async function deleteServerMetadataItem(svc: ComputeService, req: FastifyRequest<P>, reply: FastifyReply) {
  const i = await getServer(svc, req, req.params.id);
  authorize(req, 'os_compute_api:server-metadata:delete', target(i));
  if (!(req.params.key in i.metadata)) throw notFound('Metadata item was not found');
  changeable(req, i, 'delete metadata', METADATA_STATES);
  const { [req.params.key]: _gone, ...rest } = i.metadata;
  await svc.parts.store.update(i.uuid, { metadata: rest });
  return reply.code(204).send();
}

// ---- tags (2.26) ----
function since226(req: FastifyRequest) {
  if (mv(req).lt('2.26')) {
    req.authorized = true;
    throw notFound('The resource could not be found.');
  }
}
export async function listServerTags(svc: ComputeService, req: FastifyRequest<P>) {
  since226(req);
  const i = await getServer(svc, req, req.params.id);
  authorize(req, 'os_compute_api:os-server-tags:index', target(i));
  return { tags: i.tags };
}
export async function checkServerTag(svc: ComputeService, req: FastifyRequest<P>, reply: FastifyReply) {
  since226(req);
  const i = await getServer(svc, req, req.params.id);
  authorize(req, 'os_compute_api:os-server-tags:show', target(i));
  if (!i.tags.includes(req.params.tag)) throw notFound(`Server ${i.uuid} has no tag '${req.params.tag}'`);
  return reply.code(204).send();
}
export async function replaceServerTags(svc: ComputeService, req: FastifyRequest<P>) {
  since226(req);
  const body = validateBody<{ tags: string[] }>(req, TAGS_SCHEMA);
  const i = await getServer(svc, req, req.params.id);
  authorize(req, 'os_compute_api:os-server-tags:update_all', target(i));
  changeable(req, i, 'update tags');
  const tags = [...new Set(body.tags)].sort();
  await svc.parts.store.setTags(i.uuid, tags);
  return { tags };
}
export async function addServerTag(svc: ComputeService, req: FastifyRequest<P>, reply: FastifyReply) {
  since226(req);
  const i = await getServer(svc, req, req.params.id);
  authorize(req, 'os_compute_api:os-server-tags:update', target(i));
  changeable(req, i, 'update tag');
  const tag = req.params.tag;
  if (!TAG_RE.test(tag))
    throw badRequest(
      `Tag '${tag}' is invalid. It must be a non empty string without characters '/' and ','. Validation error message: '${tag}' does not match '^[^,/]*$'`,
    );
  if (i.tags.includes(tag)) return reply.code(204).send();
  if (i.tags.length >= 50) throw badRequest('The number of tags exceeded the per-server limit 50');
  await svc.parts.store.setTags(i.uuid, [...i.tags, tag].sort());
  return reply
    .code(201)
    .header('location', `${req.baseUrl}/v2.1/servers/${i.uuid}/tags/${encodeURIComponent(tag)}`)
    .send();
}
export async function deleteServerTags(svc: ComputeService, req: FastifyRequest<P>, reply: FastifyReply) {
  since226(req);
  const i = await getServer(svc, req, req.params.id);
  authorize(req, 'os_compute_api:os-server-tags:delete_all', target(i));
  changeable(req, i, 'delete tags');
  await svc.parts.store.setTags(i.uuid, []);
  return reply.code(204).send();
}
export async function deleteServerTag(svc: ComputeService, req: FastifyRequest<P>, reply: FastifyReply) {
  since226(req);
  const i = await getServer(svc, req, req.params.id);
  authorize(req, 'os_compute_api:os-server-tags:delete', target(i));
  changeable(req, i, 'delete tag');
  if (!i.tags.includes(req.params.tag)) throw notFound(`Tag ${req.params.tag} could not be found.`);
  await svc.parts.store.setTags(
    i.uuid,
    i.tags.filter((t) => t !== req.params.tag),
  );
  return reply.code(204).send();
}

// ---- ips ----
function ips(i: Instance) {
  const out: Record<string, Array<{ version: number; addr: string }>> = {};
  for (const v of i.network_info) {
    const l = out[v.network_label] ?? (out[v.network_label] = []);
    for (const f of v.fixed_ips) l.push({ version: f.version, addr: f.ip_address });
    for (const ip of v.floating_ips ?? []) l.push({ version: ip.includes(':') ? 6 : 4, addr: ip });
  }
  return out;
}
export async function listServerIps(svc: ComputeService, req: FastifyRequest<P>) {
  const i = await getServer(svc, req, req.params.id);
  authorize(req, 'os_compute_api:ips:index', target(i));
  return { addresses: ips(i) };
}
export async function showServerIps(svc: ComputeService, req: FastifyRequest<P>) {
  const i = await getServer(svc, req, req.params.id);
  authorize(req, 'os_compute_api:ips:show', target(i));
  const all = ips(i);
  if (!(req.params.network in all)) throw notFound('Instance is not a member of specified network');
  return { [req.params.network]: all[req.params.network] };
}
