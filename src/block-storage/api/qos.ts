// /qos-specs (with type associations) and /types/{id}/encryption.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import { type QosRow, qosSpecsOf } from '../qos.ts';
import type { EncryptionRow } from '../qos.ts';
import type { BlockStorageService } from '../service.ts';
import { badRequest, boolParam, isoTime, links } from './common.ts';

type P = { id: string };
const CONSUMERS = ['front-end', 'back-end', 'both'];

const qosView = (q: QosRow) => ({ id: q.id, name: q.name, consumer: q.consumer, specs: qosSpecsOf(q) });

async function qosOf(svc: BlockStorageService, id: string) {
  const q = await svc.parts.qos.get(id);
  if (!q) throw new ApiError(404, `QoS Specs ${id} could not be found.`, 'QoSSpecsNotFound');
  return q;
}

function stringSpecs(o: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(o)) {
    if (typeof v !== 'string' && typeof v !== 'number') throw badRequest(`Invalid input for field/attribute ${k}.`);
    out[k] = String(v);
  }
  return out;
}

export async function createQos(svc: BlockStorageService, req: FastifyRequest) {
  req.authorize('volume_extension:qos_specs_manage:create');
  const b = (req.body ?? {}) as { qos_specs?: Record<string, unknown> };
  if (!b.qos_specs || typeof b.qos_specs !== 'object')
    throw badRequest("Missing required element 'qos_specs' in request body.");
  const { name, consumer = 'back-end', ...rest } = b.qos_specs;
  if (typeof name !== 'string' || !name.trim() || name.length > 255)
    throw badRequest('Please specify a name for QoS specs.');
  if (!CONSUMERS.includes(String(consumer)))
    throw badRequest(`Invalid input received: Valid consumer of QoS specs are: ${CONSUMERS.join(', ')}`);
  if (await svc.parts.qos.byName(name)) throw new ApiError(409, `QoS Specs ${name} already exists.`, 'QoSSpecsExists');
  const q = await svc.parts.qos.create(name, String(consumer), stringSpecs(rest));
  return { qos_specs: qosView(q), links: links(req, req.context.projectId ?? '', 'qos-specs', q.id) };
}

export async function listQos(svc: BlockStorageService, req: FastifyRequest) {
  req.authorize('volume_extension:qos_specs_manage:get_all');
  return { qos_specs: (await svc.parts.qos.list()).map(qosView) };
}

export async function showQos(svc: BlockStorageService, req: FastifyRequest) {
  req.authorize('volume_extension:qos_specs_manage:get');
  const q = await qosOf(svc, (req.params as P).id);
  return { qos_specs: qosView(q), links: links(req, req.context.projectId ?? '', 'qos-specs', q.id) };
}

export async function setQosKeys(svc: BlockStorageService, req: FastifyRequest) {
  req.authorize('volume_extension:qos_specs_manage:update');
  const q = await qosOf(svc, (req.params as P).id);
  const b = (req.body ?? {}) as { qos_specs?: Record<string, unknown> };
  if (!b.qos_specs || typeof b.qos_specs !== 'object')
    throw badRequest("Missing required element 'qos_specs' in request body.");
  const { consumer, ...rest } = b.qos_specs;
  if (consumer !== undefined && !CONSUMERS.includes(String(consumer))) throw badRequest('Invalid consumer.');
  const specs = stringSpecs(rest);
  await svc.parts.qos.update(q.id, { consumer: consumer as string | undefined, specs: { ...qosSpecsOf(q), ...specs } });
  return { qos_specs: b.qos_specs };
}

export async function deleteQosKeys(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  req.authorize('volume_extension:qos_specs_manage:update');
  const q = await qosOf(svc, (req.params as P).id);
  const keys = (req.body as { keys?: unknown } | undefined)?.keys;
  if (!Array.isArray(keys)) throw badRequest("Missing required element 'keys' in request body.");
  const specs = qosSpecsOf(q);
  for (const k of keys) {
    if (!(String(k) in specs))
      throw new ApiError(404, `QoS spec ${q.id} has no key ${String(k)}.`, 'QoSSpecsKeyNotFound');
    delete specs[String(k)];
  }
  await svc.parts.qos.update(q.id, { specs });
  reply.code(202);
  return null;
}

export async function deleteQos(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  req.authorize('volume_extension:qos_specs_manage:delete');
  const q = await qosOf(svc, (req.params as P).id);
  const force = (req.query as Record<string, string>).force;
  const assoc = await svc.parts.qos.associations(q.id);
  if (assoc.length && !(force !== undefined && boolParam(force, 'force')))
    throw badRequest(`QoS Specs ${q.id} is still associated with entities.`);
  for (const t of assoc) await svc.parts.types.setQos(t.id, null);
  await svc.parts.qos.delete(q.id);
  reply.code(202);
  return null;
}

export async function qosAssociations(svc: BlockStorageService, req: FastifyRequest) {
  req.authorize('volume_extension:qos_specs_manage:get');
  const q = await qosOf(svc, (req.params as P).id);
  return {
    qos_associations: (await svc.parts.qos.associations(q.id)).map((t) => ({
      association_type: 'volume_type',
      id: t.id,
      name: t.name,
    })),
  };
}

async function typeParam(svc: BlockStorageService, req: FastifyRequest) {
  const id = (req.query as Record<string, string>).vol_type_id;
  if (!id) throw badRequest('Volume Type id must not be None.');
  const t = await svc.parts.types.get(id);
  if (!t) throw new ApiError(404, `Volume type ${id} could not be found.`, 'VolumeTypeNotFound');
  return t;
}

export async function associateQos(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  req.authorize('volume_extension:qos_specs_manage:update');
  const q = await qosOf(svc, (req.params as P).id);
  const t = await typeParam(svc, req);
  if (t.qos_specs_id && t.qos_specs_id !== q.id)
    throw badRequest(`Type ${t.id} is already associated with another qos specs: ${t.qos_specs_id}`);
  await svc.parts.types.setQos(t.id, q.id);
  reply.code(202);
  return null;
}

export async function disassociateQos(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  req.authorize('volume_extension:qos_specs_manage:update');
  const q = await qosOf(svc, (req.params as P).id);
  const t = await typeParam(svc, req);
  if (t.qos_specs_id === q.id) await svc.parts.types.setQos(t.id, null);
  reply.code(202);
  return null;
}

export async function disassociateAllQos(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  req.authorize('volume_extension:qos_specs_manage:update');
  const q = await qosOf(svc, (req.params as P).id);
  for (const t of await svc.parts.qos.associations(q.id)) await svc.parts.types.setQos(t.id, null);
  reply.code(202);
  return null;
}

// ---- encryption types -----------------------------------------------------------------------

const encView = (e: EncryptionRow) => ({
  volume_type_id: e.volume_type_id,
  encryption_id: e.encryption_id,
  provider: e.provider,
  cipher: e.cipher,
  key_size: e.key_size,
  control_location: e.control_location,
  created_at: isoTime(e.created_at),
  updated_at: isoTime(e.updated_at),
  deleted: false,
  deleted_at: null,
});

async function encType(svc: BlockStorageService, req: FastifyRequest) {
  req.authorize('volume_extension:volume_type_encryption');
  const t = await svc.parts.types.get((req.params as P).id);
  if (!t) throw new ApiError(404, `Volume type ${(req.params as P).id} could not be found.`, 'VolumeTypeNotFound');
  return t;
}

function encBody(req: FastifyRequest, requireProvider: boolean) {
  const b = (req.body ?? {}) as { encryption?: Record<string, unknown> };
  const e = b.encryption;
  if (!e || typeof e !== 'object') throw badRequest("Missing required element 'encryption' in request body.");
  if (requireProvider && typeof e.provider !== 'string') throw badRequest('provider must be defined');
  if (e.control_location !== undefined && !['front-end', 'back-end'].includes(String(e.control_location)))
    throw badRequest('Valid control location are: front-end, back-end');
  if (
    e.key_size !== undefined &&
    e.key_size !== null &&
    (!Number.isInteger(Number(e.key_size)) || Number(e.key_size) < 0)
  )
    throw badRequest('key_size must be non-negative');
  return e;
}

async function typeInUse(svc: BlockStorageService, typeId: string) {
  return (await svc.parts.volumes.list()).some((v) => v.volume_type_id === typeId);
}

export async function showEncryption(svc: BlockStorageService, req: FastifyRequest) {
  const t = await encType(svc, req);
  const e = await svc.parts.qos.encryption(t.id);
  return e ? encView(e) : {};
}

export async function showEncryptionKey(svc: BlockStorageService, req: FastifyRequest) {
  const t = await encType(svc, req);
  const { key } = req.params as { key: string };
  const e = await svc.parts.qos.encryption(t.id);
  const v = e ? (encView(e) as Record<string, unknown>)[key] : undefined;
  if (v === undefined) throw new ApiError(404, `Volume type encryption for type ${t.id} does not exist.`);
  return { [key]: v };
}

export async function createEncryption(svc: BlockStorageService, req: FastifyRequest) {
  const t = await encType(svc, req);
  const e = encBody(req, true);
  if (await svc.parts.qos.encryption(t.id)) throw badRequest(`Volume type encryption for type ${t.id} already exists.`);
  if (await typeInUse(svc, t.id)) throw badRequest('Cannot create encryption specs. Volume type in use.');
  const row = await svc.parts.qos.setEncryption(t.id, {
    provider: String(e.provider),
    cipher: (e.cipher as string | undefined) ?? null,
    key_size: e.key_size === undefined || e.key_size === null ? null : Number(e.key_size),
    control_location: e.control_location as string | undefined,
  });
  const v = encView(row);
  return {
    encryption: {
      volume_type_id: v.volume_type_id,
      encryption_id: v.encryption_id,
      provider: v.provider,
      cipher: v.cipher,
      key_size: v.key_size,
      control_location: v.control_location,
    },
  };
}

export async function updateEncryption(svc: BlockStorageService, req: FastifyRequest) {
  const t = await encType(svc, req);
  const e = encBody(req, false);
  const old = await svc.parts.qos.encryption(t.id);
  if (!old) throw new ApiError(404, `Volume type encryption for type ${t.id} does not exist.`);
  if (await typeInUse(svc, t.id)) throw badRequest('Cannot update encryption specs. Volume type in use.');
  await svc.parts.qos.setEncryption(t.id, {
    provider: (e.provider as string | undefined) ?? old.provider,
    cipher: e.cipher !== undefined ? (e.cipher as string | null) : old.cipher,
    key_size: e.key_size !== undefined ? (e.key_size === null ? null : Number(e.key_size)) : old.key_size,
    control_location: (e.control_location as string | undefined) ?? old.control_location,
  });
  return { encryption: e };
}

export async function deleteEncryption(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  const t = await encType(svc, req);
  if (!(await svc.parts.qos.encryption(t.id)))
    throw new ApiError(404, `Volume type encryption for type ${t.id} does not exist.`);
  if (await typeInUse(svc, t.id)) throw badRequest('Cannot delete encryption specs. Volume type in use.');
  await svc.parts.qos.deleteEncryption(t.id);
  reply.code(202);
  return null;
}
