// Volume attachments of a server (nova.api.openstack.compute.volume_attachments):
// /servers/{id}/os-volume_attachments lists the server's volumes (its block device mappings,
// `tag` from 2.70, `delete_on_termination` from 2.79, `attachment_id` and `bdm_uuid` instead of
// `id` from 2.89), shows one, attaches one (the volume service reserves it with an attachment
// made with the caller's token, the mapping is made with the next free device name, the
// server's agent connects it: a cast, the volume turns `in-use` when it is done), updates one
// (2.85: delete_on_termination; another volumeId: the admin's swap) and detaches one (the
// volume is `detaching`, the agent disconnects it, the attachment goes). A server shelved and
// offloaded has no host: its volumes are reserved and released here, by the API.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ComputeService, Family } from '../service.ts';
import { VmState, type Instance } from '../instances.ts';
import { nextDeviceName, type BlockDevice } from '../block_devices.ts';
import { computeRpc } from '../rpcapi.ts';
import { cinderMessage, completeAttachment, deleteAttachment, findVolume, volumeFailure } from '../volumes.ts';
import { volumeMigrations } from '../db/migrations/volumes.ts';
import { LinearFlow } from '../../core/flow.ts';
import {
  asCaller,
  authorize,
  badRequest,
  conflict,
  isAdmin,
  mv,
  notFound,
  queryOf,
  recordAction,
  validateBody,
} from './common.ts';
import { getServer } from './servers.ts';
import { BOOLEAN, isTruthy } from './schemas/parameter_types.ts';

export const volumesFamily: Family = {
  name: 'volumes',
  migrations: volumeMigrations,
};

const POLICY = (a: string) => `os_compute_api:os-volumes-attachments:${a}`;
const UUID = { type: 'string', format: 'uuid' };
const DEVICE = { type: ['string', 'null'], pattern: '(^/dev/x{0,1}[a-z]{0,1}d{0,1})([a-z]+)[0-9]*$' };
const TAG = { type: 'string', minLength: 1, maxLength: 60, pattern: '^[^,/]*$' };

interface AttachmentBody {
  volumeAttachment: {
    volumeId: string;
    device?: string | null;
    tag?: string;
    delete_on_termination?: boolean | string;
    serverId?: string;
    id?: string;
  };
}

function createSchema(v: ReturnType<typeof mv>): object {
  const props: Record<string, unknown> = { volumeId: UUID, device: DEVICE };
  if (v.gte('2.49')) props.tag = TAG;
  if (v.gte('2.79')) props.delete_on_termination = BOOLEAN;
  return wrap(props);
}
function updateSchema(v: ReturnType<typeof mv>): object {
  if (!v.gte('2.85')) return wrap({ volumeId: UUID });
  return wrap({ volumeId: UUID, device: DEVICE, tag: TAG, delete_on_termination: BOOLEAN, serverId: UUID, id: UUID });
}
const wrap = (props: Record<string, unknown>) => ({
  type: 'object',
  properties: {
    volumeAttachment: { type: 'object', properties: props, required: ['volumeId'], additionalProperties: false },
  },
  required: ['volumeAttachment'],
  additionalProperties: false,
});
const schemas = new Map<string, object>();
const cached = (key: string, build: () => object) => {
  let s = schemas.get(key);
  if (!s) schemas.set(key, (s = build()));
  return s;
};

/** _translate_attachment_detail_view. */
function attachmentView(b: BlockDevice, v: ReturnType<typeof mv>) {
  const d: Record<string, unknown> = {};
  const newIds = v.gte('2.89');
  if (!newIds) d.id = b.volume_id;
  d.volumeId = b.volume_id;
  d.serverId = b.instance_uuid;
  if (b.device_name) d.device = b.device_name;
  if (v.gte('2.70')) d.tag = b.tag;
  if (v.gte('2.79')) d.delete_on_termination = b.delete_on_termination;
  if (newIds) {
    d.attachment_id = b.attachment_id;
    d.bdm_uuid = b.uuid;
  }
  return d;
}

const ATTACHABLE = [
  VmState.ACTIVE,
  VmState.PAUSED,
  VmState.STOPPED,
  VmState.RESIZED,
  VmState.SOFT_DELETED,
  VmState.SHELVED,
  VmState.SHELVED_OFFLOADED,
] as string[];

/** compute.api's check_instance_lock and check_instance_state(vm_state=..., task_state=None) for (de)attaching a volume. */
function checkState(req: FastifyRequest, inst: Instance, method: string) {
  if (inst.locked && !isAdmin(req)) throw conflict(`Instance ${inst.uuid} is locked`);
  if (!ATTACHABLE.includes(inst.vm_state))
    throw conflict(`Cannot '${method}' instance ${inst.uuid} while it is in vm_state ${inst.vm_state}`);
  if (inst.task_state !== null)
    throw conflict(`Cannot '${method}' instance ${inst.uuid} while it is in task_state ${inst.task_state}`);
  const shelved = inst.vm_state === VmState.SHELVED || inst.vm_state === VmState.SHELVED_OFFLOADED;
  if (shelved && !mv(req).gte('2.20'))
    throw conflict(`Cannot '${method}' instance ${inst.uuid} while it is in vm_state ${inst.vm_state}`);
}

const storeOf = (svc: ComputeService) => svc.parts.blockDevices;
type P = { Params: { id: string; volume: string } };

export async function listVolumeAttachments(svc: ComputeService, req: FastifyRequest<P>) {
  const v = mv(req);
  const inst = await getServer(svc, req, req.params.id);
  authorize(req, POLICY('index'), { project_id: inst.project_id });
  const q = queryOf(req);
  for (const k of ['limit', 'offset']) {
    const raw = q.get(k);
    if (raw !== null && !/^[0-9]+$/.test(raw))
      throw badRequest(`Invalid input for query parameters ${k}. Value: ${raw}. '${raw}' does not match '^[0-9]*$'`);
  }
  if (v.gte('2.75'))
    for (const k of q.keys())
      if (k !== 'limit' && k !== 'offset')
        throw badRequest(
          `Invalid input for query parameters ${k}. Additional properties are not allowed ('${k}' was unexpected)`,
        );
  const offset = Number(q.get('offset') ?? 0);
  const limit = Math.min(Number(q.get('limit') ?? 1000), 1000);
  const all = await storeOf(svc).ofInstance(inst.uuid);
  const page = all.slice(offset, offset + limit);
  return {
    volumeAttachments: page
      .filter((b) => b.volume_id && (!v.gte('2.89') || b.attachment_id))
      .map((b) => attachmentView(b, v)),
  };
}

export async function showVolumeAttachment(svc: ComputeService, req: FastifyRequest<P>) {
  const v = mv(req);
  const inst = await getServer(svc, req, req.params.id);
  authorize(req, POLICY('show'), { project_id: inst.project_id });
  const b = await storeOf(svc).byVolume(inst.uuid, req.params.volume);
  if (!b || (v.gte('2.89') && !b.attachment_id))
    throw notFound(`Instance ${inst.uuid} is not attached to volume ${req.params.volume}`);
  return { volumeAttachment: attachmentView(b, v) };
}

interface ReserveState {
  attachmentId?: string;
  bdm?: BlockDevice;
}

export async function attachVolume(svc: ComputeService, req: FastifyRequest<P>) {
  const v = mv(req);
  const body = validateBody<AttachmentBody>(
    req,
    cached(`create ${v}`, () => createSchema(v)),
  ).volumeAttachment;
  const inst = await getServer(svc, req, req.params.id);
  authorize(req, POLICY('create'), { project_id: inst.project_id });
  checkState(req, inst, 'attach_volume');
  const client = svc.parts.clients.blockStorage;
  const volumeId = body.volumeId;
  const bdms = storeOf(svc);
  const volume = await findVolume(client, volumeId, asCaller(req));
  if (!volume) throw notFound(`Volume ${volumeId} could not be found.`);
  if (await bdms.byVolume(inst.uuid, volumeId)) throw badRequest(`Invalid volume: volume ${volumeId} already attached`);
  if (volume.multiattach && !v.gte('2.60'))
    throw badRequest('Multiattach volumes are only supported starting with compute API version 2.60.');
  const existing = await bdms.ofInstance(inst.uuid);
  if (body.device && existing.some((b) => b.device_name === body.device))
    throw conflict(`The supplied device path (${body.device}) is in use.`);
  // As libvirt does, the device asked for is a hint: the next free name is given.
  const device = nextDeviceName(existing.map((b) => b.device_name));
  const deleteOnTermination = body.delete_on_termination !== undefined && isTruthy(body.delete_on_termination);
  const offloaded = inst.vm_state === VmState.SHELVED_OFFLOADED || !inst.host;

  await recordAction(svc.parts.store, req, inst.uuid, 'attach_volume');
  // Reserve (attachment_create without a connector) and map; a failure undoes both.
  const flow = new LinearFlow<ReserveState>('reserve_volume', {
    onRevertError: (task, err) => req.log.warn({ err, task }, 'attach volume revert failed'),
  }).add(
    {
      name: 'reserve',
      async execute(s) {
        const r = await client.createAttachment(volumeId, inst.uuid, null, undefined, asCaller(req));
        if (r.status === 404) throw notFound(`Volume ${volumeId} could not be found.`);
        if (r.status !== 200 && r.status !== 201 && r.status !== 202) {
          if (r.status >= 500) throw volumeFailure(r, `reserving volume ${volumeId}`);
          throw badRequest(`Invalid input received: ${cinderMessage(r)}`);
        }
        s.attachmentId = r.body.attachment.id;
      },
      async revert(s) {
        await deleteAttachment(client, s.attachmentId ?? null);
      },
    },
    {
      name: 'map',
      async execute(s) {
        s.bdm = await bdms.create({
          instance_uuid: inst.uuid,
          source_type: 'volume',
          destination_type: 'volume',
          boot_index: null,
          device_name: device,
          device_type: 'disk',
          disk_bus: null,
          guest_format: null,
          volume_id: volumeId,
          snapshot_id: null,
          image_id: null,
          volume_size: volume.size ?? null,
          volume_type: null,
          delete_on_termination: deleteOnTermination,
          tag: body.tag ?? null,
          attachment_id: s.attachmentId ?? null,
          connection_info: null,
        });
      },
      async revert(s) {
        if (s.bdm) await bdms.destroy(s.bdm.id);
      },
    },
  );
  const s = await flow.run({});
  if (offloaded) {
    // No host to connect it: the attachment is completed as it is, the volume is in-use
    // (compute.api's _attach_volume_shelved_offloaded); unshelve connects it.
    await completeAttachment(client, s.attachmentId!).catch(async (e) => {
      await deleteAttachment(client, s.attachmentId ?? null).catch(() => undefined);
      await bdms.destroy(s.bdm!.id);
      throw e;
    });
  } else {
    computeRpc(svc.ctx.bus)
      .cast(inst.host!)
      .attach_volume({ uuid: inst.uuid, request_id: req.id, bdm_uuid: s.bdm!.uuid });
  }
  const out: Record<string, unknown> = {
    id: volumeId,
    serverId: inst.uuid,
    volumeId,
    device: offloaded ? null : device,
  };
  if (v.gte('2.70')) out.tag = body.tag ?? null;
  if (v.gte('2.79')) out.delete_on_termination = deleteOnTermination;
  return { volumeAttachment: out };
}

export async function updateVolumeAttachment(svc: ComputeService, req: FastifyRequest<P>, reply: FastifyReply) {
  const v = mv(req);
  const body = validateBody<AttachmentBody>(
    req,
    cached(`update ${v}`, () => updateSchema(v)),
  ).volumeAttachment;
  const inst = await getServer(svc, req, req.params.id);
  const oldId = req.params.volume;
  const onlySwap = !v.gte('2.85');
  const swap = onlySwap || body.volumeId !== oldId;
  if (swap) authorize(req, POLICY('swap'), {});
  else authorize(req, POLICY('update'), { project_id: inst.project_id });
  const bdms = storeOf(svc);
  if (!onlySwap) {
    const b = await bdms.byVolume(inst.uuid, oldId);
    if (!b) throw notFound(`Volume ${oldId} is not attached to instance ${inst.uuid}.`);
    if (body.id !== undefined && body.id !== oldId) throw badRequest('The id property is not mutable');
    if (body.serverId !== undefined && body.serverId !== inst.uuid)
      throw badRequest('The serverId property is not mutable');
    if (body.device !== undefined && body.device !== b.device_name)
      throw badRequest('The device property is not mutable');
    if (body.tag !== undefined && body.tag !== b.tag) throw badRequest('The tag property is not mutable');
    if (body.delete_on_termination !== undefined)
      await bdms.update(b.id, { delete_on_termination: isTruthy(body.delete_on_termination) });
  }
  if (swap) await swapVolume(svc, req, inst, oldId, body.volumeId);
  return reply.code(202).send();
}

/** compute.api's swap_volume: the new volume reserved for the server, the agent swaps them. */
async function swapVolume(svc: ComputeService, req: FastifyRequest, inst: Instance, oldId: string, newId: string) {
  const client = svc.parts.clients.blockStorage;
  const old = await findVolume(client, oldId, asCaller(req));
  if (!old) throw notFound(`Volume ${oldId} could not be found.`);
  const fresh = await findVolume(client, newId, asCaller(req));
  if (!fresh) throw badRequest(`Volume ${newId} could not be found.`);
  if (inst.locked && !isAdmin(req)) throw conflict(`Instance ${inst.uuid} is locked`);
  if (!([VmState.ACTIVE, VmState.PAUSED, VmState.RESIZED] as string[]).includes(inst.vm_state) || inst.task_state)
    throw conflict(
      `Cannot 'swap_volume' instance ${inst.uuid} while it is in ${inst.task_state ? `task_state ${inst.task_state}` : `vm_state ${inst.vm_state}`}`,
    );
  const bdm = await storeOf(svc).byVolume(inst.uuid, oldId);
  if (!bdm) throw notFound(`No volume Block Device Mapping with id ${oldId}.`);
  // The volume service's migration of an attached volume asks for the swap while the volume is
  // `maintenance` (lock_volume) or `retyping`: its migration_status says so (Nova checks the attachment).
  const migrating = old.migration_status === 'migrating';
  if (old.status !== 'in-use' && !migrating)
    throw badRequest(`Invalid volume: The volume ${oldId} is not in-use (${old.status}).`);
  if (fresh.status !== 'available')
    throw badRequest(`Invalid volume: The new volume ${newId} must be available (it is ${fresh.status}).`);
  if (fresh.size < old.size)
    throw badRequest(`Invalid volume: New volume ${newId} must be at least as large as the old one.`);
  if (old.multiattach && (old.attachments ?? []).length > 1)
    throw badRequest('Swapping multi-attach volumes with more than one read/write attachment is not supported.');
  const r = await client.createAttachment(newId, inst.uuid, null, undefined, asCaller(req));
  if (r.status !== 200 && r.status !== 201 && r.status !== 202)
    throw r.status >= 500
      ? volumeFailure(r, `reserving volume ${newId}`)
      : badRequest(`Invalid input received: ${cinderMessage(r)}`);
  await recordAction(svc.parts.store, req, inst.uuid, 'swap_volume');
  computeRpc(svc.ctx.bus).cast(inst.host!).swap_volume({
    uuid: inst.uuid,
    request_id: req.id,
    old_volume_id: oldId,
    new_volume_id: newId,
    new_attachment_id: r.body.attachment.id,
  });
}

export async function detachVolume(svc: ComputeService, req: FastifyRequest<P>, reply: FastifyReply) {
  const inst = await getServer(svc, req, req.params.id);
  authorize(req, POLICY('delete'), { project_id: inst.project_id });
  const volumeId = req.params.volume;
  const shelved = inst.vm_state === VmState.SHELVED || inst.vm_state === VmState.SHELVED_OFFLOADED;
  if (shelved && !mv(req).gte('2.20'))
    throw conflict(`Cannot 'detach_volume' instance ${inst.uuid} while it is in vm_state ${inst.vm_state}`);
  const client = svc.parts.clients.blockStorage;
  const volume = await findVolume(client, volumeId, asCaller(req));
  if (!volume) throw notFound(`Volume ${volumeId} could not be found.`);
  const bdms = storeOf(svc);
  const bdm = await bdms.byVolume(inst.uuid, volumeId);
  if (!bdm) throw notFound(`Instance ${inst.uuid} is not attached to volume ${volumeId}`);
  if (bdm.boot_index === 0) throw badRequest('Cannot detach a root device volume');
  checkState(req, inst, 'detach_volume');
  if (volume.status === 'available')
    throw badRequest(
      `Invalid volume: Unable to detach volume. Volume status must be 'in-use' and attach_status must be 'attached' to detach.`,
    );
  await recordAction(svc.parts.store, req, inst.uuid, 'detach_volume');
  if (inst.vm_state === VmState.SHELVED_OFFLOADED || !inst.host) {
    // No host: the API gives the attachment back itself (compute.api's _local_cleanup_bdm_volumes).
    await deleteAttachment(client, bdm.attachment_id);
    await bdms.destroy(bdm.id);
    return reply.code(202).send();
  }
  const begin = await client.volumeAction(volumeId, { 'os-begin_detaching': {} }, asCaller(req));
  if (begin.status === 400) throw badRequest(`Invalid volume: ${cinderMessage(begin)}`);
  computeRpc(svc.ctx.bus).cast(inst.host).detach_volume({ uuid: inst.uuid, request_id: req.id, volume_id: volumeId });
  return reply.code(202).send();
}
