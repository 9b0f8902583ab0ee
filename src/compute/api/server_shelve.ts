// Guest actions plugged into POST /servers/{id}/action: createImage and createBackup (a
// snapshot uploaded to the image service by the agent; backups rotated), shelve /
// shelveOffload / unshelve, rescue / unrescue, changePassword, trigger_crash_dump (2.17), and
// the deferred delete (reclaimInstanceInterval > 0: DELETE soft-deletes, restore, forceDelete).
// States, policies and messages as nova.compute.api and nova.api.openstack.compute say.
import { randomBytes } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { ComputeService } from '../service.ts';
import { VmState, type Instance } from '../instances.ts';
import type { ImageMeta } from '../drivers/virt.ts';
import type { GuestCallResult } from '../rpcapi.ts';
import { type UnshelveRequest } from '../worker/shelve.ts';
import { ApiError } from '../../core/errors.ts';
import { computeRpc, conductorRpc } from '../rpcapi.ts';
import {
  authorize,
  badRequest,
  conflict,
  isAdmin,
  mv,
  recordAction,
  type ServerAction,
  validateBody,
} from './common.ts';
import { deleteServer, getServer } from './servers.ts';
import { computeNodeExists } from '../hosts.ts';
import { isVolumeBacked, snapshotVolumes } from '../volumes.ts';
import { asCaller } from './common.ts';

type Handler = ServerAction;

// parameter_types.name: printable, no leading or trailing whitespace.
const NAME = { type: 'string', minLength: 1, maxLength: 255, pattern: '^(?![\\s])[\\S\\s]*(?<![\\s])$' };
const METADATA = {
  type: 'object',
  patternProperties: { '^[a-zA-Z0-9-_:. ]{1,255}$': { type: 'string', maxLength: 255 } },
  additionalProperties: false,
};
const NON_NEGATIVE_INTEGER = { type: ['integer', 'string'], pattern: '^[0-9]*$', minimum: 0, minLength: 1 };
const one = (action: string, props: Record<string, unknown>, required: string[]) => ({
  type: 'object',
  properties: { [action]: { type: 'object', properties: props, required, additionalProperties: false } },
  required: [action],
  additionalProperties: false,
});
const CREATE_IMAGE = one('createImage', { name: NAME, metadata: METADATA }, ['name']);
const CREATE_BACKUP = one(
  'createBackup',
  { name: NAME, backup_type: { type: 'string' }, rotation: NON_NEGATIVE_INTEGER, metadata: METADATA },
  ['name', 'backup_type', 'rotation'],
);
const CHANGE_PASSWORD = one('changePassword', { adminPass: { type: 'string' } }, ['adminPass']);
const RESCUE = {
  type: 'object',
  properties: {
    rescue: {
      type: ['object', 'null'],
      properties: { adminPass: { type: 'string' }, rescue_image_ref: { type: 'string', format: 'uuid' } },
      additionalProperties: false,
    },
  },
  required: ['rescue'],
  additionalProperties: false,
};
const UNSHELVE_277 = {
  type: 'object',
  properties: {
    unshelve: {
      type: ['object', 'null'],
      properties: { availability_zone: NAME },
      required: ['availability_zone'],
      additionalProperties: false,
    },
  },
  required: ['unshelve'],
  additionalProperties: false,
};
const UNSHELVE_291 = {
  type: 'object',
  properties: {
    unshelve: {
      oneOf: [
        {
          type: 'object',
          properties: {
            availability_zone: { oneOf: [{ type: 'null' }, { type: 'string' }] },
            host: { type: 'string' },
          },
          additionalProperties: false,
        },
        { type: 'null' },
      ],
    },
  },
  required: ['unshelve'],
  additionalProperties: false,
};
const NULL_BODY = (action: string) => ({
  type: 'object',
  properties: { [action]: { type: 'null' } },
  required: [action],
  additionalProperties: false,
});

/** Image properties never copied into a snapshot (NON_INHERITABLE_IMAGE_PROPERTIES and the default non_inheritable_image_properties). */
const NOT_INHERITED = new Set([
  'cinder_encryption_key_id',
  'cinder_encryption_key_deletion_policy',
  'img_signature',
  'img_signature_hash_method',
  'img_signature_key_type',
  'img_signature_certificate_uuid',
  'cache_in_nova',
  'bittorrent',
]);
/** Image fields the image service keeps itself (not properties to send back). */
const IMAGE_FIELDS = new Set([
  'min_ram',
  'min_disk',
  'stores',
  'os_hidden',
  'os_hash_algo',
  'os_hash_value',
  'direct_url',
  'locations',
]);

const generatePassword = () => randomBytes(12).toString('base64').replace(/[+/=]/g, 'x').slice(0, 12);

function invalidState(action: string, inst: Instance, attr: 'vm_state' | 'task_state' = 'vm_state') {
  return conflict(
    `Cannot '${action}' instance ${inst.uuid} while it is in ${attr} ${attr === 'vm_state' ? inst.vm_state : inst.task_state}`,
  );
}

/** Nova's check_instance_state: the vm_states allowed, and no task running. */
function checkState(
  action: string,
  inst: Instance,
  vmStates: string[] | null,
  taskStates: Array<string | null> = [null],
) {
  if (vmStates && !vmStates.includes(inst.vm_state)) throw invalidState(action, inst);
  if (!taskStates.includes(inst.task_state)) throw invalidState(action, inst, 'task_state');
}

export function guestActions(svc: ComputeService) {
  const parts = () => svc.parts;
  const get = (req: FastifyRequest, id: string): Promise<Instance> => getServer(svc, req, id);
  const checkLocked = (req: FastifyRequest, inst: Instance) => {
    if (inst.locked && !isAdmin(req)) throw conflict(`Instance ${inst.uuid} is locked`);
  };
  const record = (req: FastifyRequest, inst: Instance, action: string) =>
    recordAction(parts().store, req, inst.uuid, action);
  /** Moves the task state from none to `task` (with more fields), or 409 when another task got there first. */
  const begin = async (action: string, inst: Instance, patch: Partial<Instance>) => {
    if (!(await parts().store.update(inst.uuid, patch, { expectTaskState: [null] })))
      throw invalidState(action, (await parts().store.get(inst.uuid)) ?? inst, 'task_state');
  };

  /**
   * The image record of a snapshot, backup or shelve (nova.compute.utils.create_image): the
   * instance's image properties as Nova inherits them, min_ram/min_disk, instance_uuid,
   * user_id, image_type, base_image_ref; private to the caller's project, or shared with the
   * server's project when another project (an admin) takes it. Created with the caller's token.
   */
  const createImageRecord = async (
    req: FastifyRequest,
    inst: Instance,
    name: string,
    imageType: 'snapshot' | 'backup',
    extra: Record<string, string>,
  ) => {
    const { clients } = parts();
    const base = inst.image_ref ? await clients.getImage(inst.image_ref).catch(() => null) : null;
    const meta: Record<string, unknown> = { name };
    const props: Record<string, string> = {};
    if (base) {
      for (const [k, v] of Object.entries(base.properties)) {
        if (v === null || v === undefined || IMAGE_FIELDS.has(k) || NOT_INHERITED.has(k) || k.startsWith('os_glance'))
          continue;
        props[k] = typeof v === 'string' ? v : JSON.stringify(v);
      }
      if (imageType === 'backup') {
        if (base.disk_format) meta.disk_format = base.disk_format;
        if (base.container_format) meta.container_format = base.container_format;
      }
    }
    meta.min_ram = Number(base?.properties.min_ram ?? 0) || 0;
    meta.min_disk = Math.max(Number(base?.properties.min_disk ?? 0) || 0, inst.flavor.disk);
    if (inst.image_ref) props.base_image_ref = inst.image_ref;
    if (inst.system_metadata.image_name) props.image_name ??= String(inst.system_metadata.image_name);
    Object.assign(props, { instance_uuid: inst.uuid, user_id: req.ctx!.userId, image_type: imageType });
    if (req.ctx!.projectId !== inst.project_id) {
      meta.visibility = 'shared';
      props.instance_owner = inst.project_id;
    } else meta.visibility = 'private';
    Object.assign(props, extra);
    delete props.image_name;
    const image = await clients.createImage({ ...props, ...meta }, req.ctx!.token);
    // The server's project must see a snapshot an admin took of its server.
    if (meta.visibility === 'shared') {
      await clients.image.addMember(image.id, inst.project_id).catch(() => undefined);
      await clients.image.updateMember(image.id, inst.project_id, 'accepted').catch(() => undefined);
    }
    return image as { id: string };
  };

  /** The image's URL in the image service, as Nova's Location header gives it (before 2.45). */
  const imageUrl = async (req: FastifyRequest, id: string) => {
    const ep = await svc.parts.clients.image.baseUrl('public').catch(() => `${req.baseUrl}/image`);
    return `${ep.replace(/\/$/, '').replace(/\/v2$/, '')}/images/${id}`;
  };

  /** Metadata items over the quota: 403 (Nova checks them on these actions up to 2.38). */
  const checkImageMetadata = async (req: FastifyRequest, inst: Instance, metadata: Record<string, string>) => {
    if (mv(req).gte('2.39')) return;
    await svc.parts.quotas?.checkMetadata(inst.project_id, inst.user_id, Object.keys(metadata).length);
  };

  const SNAPSHOT_STATES = [VmState.ACTIVE, VmState.STOPPED, VmState.PAUSED, VmState.SUSPENDED];

  const createImage: Handler = async (req, reply, id) => {
    const body = validateBody<{ createImage: { name: string; metadata?: Record<string, string> } }>(
      req,
      CREATE_IMAGE,
    ).createImage;
    const inst = await get(req, id);
    authorize(req, 'os_compute_api:servers:create_image', { project_id: inst.project_id });
    const metadata = (body.metadata ?? {}) as Record<string, string>;
    await checkImageMetadata(req, inst, metadata);
    checkState('createImage', inst, SNAPSHOT_STATES);
    if (!inst.host) throw invalidState('createImage', inst);
    const bdms = svc.parts.blockDevices;
    if (await isVolumeBacked(bdms, inst.uuid)) {
      // A volume-backed server (compute.api's snapshot_volume_backed): a snapshot of each volume
      // in the volume service and an image of no data carrying their mappings.
      if (inst.task_state !== null) throw invalidState('createImage', inst, 'task_state');
      const name = String(body.name).trim();
      await record(req, inst, 'createImage');
      const { clients } = parts();
      const mapping = await snapshotVolumes(clients.blockStorage, bdms, inst.uuid, name, asCaller(req));
      const image = await createImageRecord(req, inst, name, 'snapshot', {
        ...metadata,
        root_device_name: '/dev/vda',
        ...(mapping.length ? { block_device_mapping: JSON.stringify(mapping), bdm_v2: 'True' } : {}),
      });
      // Glance v2 activates an image only with data: zero bytes of raw (Nova's force_activate).
      await clients.uploadImage(image.id, new Uint8Array(0), 'raw', 'bare');
      if (mv(req).gte('2.45')) return reply.code(202).send({ image_id: image.id });
      return reply
        .code(202)
        .header('location', await imageUrl(req, image.id))
        .send();
    }
    const image = await createImageRecord(req, inst, String(body.name).trim(), 'snapshot', metadata);
    try {
      await begin('createImage', inst, { task_state: 'image_snapshot_pending' });
    } catch (e) {
      await parts()
        .clients.deleteImage(image.id)
        .catch(() => undefined);
      throw e;
    }
    await record(req, inst, 'createImage');
    computeRpc(svc.ctx.bus).cast(inst.host).snapshot_instance({
      uuid: inst.uuid,
      request_id: req.id,
      image_id: image.id,
    });
    if (mv(req).gte('2.45')) return reply.code(202).send({ image_id: image.id });
    return reply
      .code(202)
      .header('location', await imageUrl(req, image.id))
      .send();
  };

  const createBackup: Handler = async (req, reply, id) => {
    const body = validateBody<{
      createBackup: { name: string; backup_type: string; rotation: number; metadata?: Record<string, string> };
    }>(req, CREATE_BACKUP).createBackup;
    const inst = await get(req, id);
    authorize(req, 'os_compute_api:os-create-backup', { project_id: inst.project_id });
    const rotation = Number(body.rotation);
    const metadata = (body.metadata ?? {}) as Record<string, string>;
    await checkImageMetadata(req, inst, metadata);
    checkState('createBackup', inst, SNAPSHOT_STATES);
    if (!inst.host) throw invalidState('createBackup', inst);
    const image = await createImageRecord(req, inst, String(body.name).trim(), 'backup', {
      ...metadata,
      backup_type: String(body.backup_type),
    });
    try {
      await begin('createBackup', inst, { task_state: 'image_backup' });
    } catch (e) {
      await parts()
        .clients.deleteImage(image.id)
        .catch(() => undefined);
      throw e;
    }
    await record(req, inst, 'createBackup');
    computeRpc(svc.ctx.bus)
      .cast(inst.host)
      .backup_instance({
        uuid: inst.uuid,
        request_id: req.id,
        image_id: image.id,
        backup_type: String(body.backup_type),
        rotation,
      });
    if (mv(req).gte('2.45')) return reply.code(202).send({ image_id: image.id });
    if (rotation > 0) reply.header('location', await imageUrl(req, image.id));
    return reply.code(202).send();
  };

  const shelve: Handler = async (req, reply, id) => {
    const inst = await get(req, id);
    authorize(req, 'os_compute_api:os-shelve:shelve', { user_id: inst.user_id, project_id: inst.project_id });
    checkLocked(req, inst);
    checkState('shelve', inst, SNAPSHOT_STATES);
    if (!inst.host) throw invalidState('shelve', inst);
    await begin('shelve', inst, {
      task_state: 'shelving',
      system_metadata: { ...inst.system_metadata, image_base_image_ref: inst.image_ref },
    });
    await record(req, inst, 'shelve');
    if (await isVolumeBacked(svc.parts.blockDevices, inst.uuid)) {
      // Nova's API: a volume-backed server is offloaded at once, without an image (its root is the volume).
      computeRpc(svc.ctx.bus).cast(inst.host).shelve_offload_instance({ uuid: inst.uuid, request_id: req.id });
      return reply.code(202).send();
    }
    let image: { id: string };
    try {
      image = await createImageRecord(req, inst, `${inst.display_name}-shelved`, 'snapshot', {});
    } catch (e) {
      await parts().store.update(inst.uuid, { task_state: null }, { expectTaskState: ['shelving'] });
      throw e;
    }
    computeRpc(svc.ctx.bus).cast(inst.host).shelve_instance({
      uuid: inst.uuid,
      request_id: req.id,
      image_id: image.id,
    });
    return reply.code(202).send();
  };

  const shelveOffload: Handler = async (req, reply, id) => {
    const inst = await get(req, id);
    authorize(req, 'os_compute_api:os-shelve:shelve_offload', { user_id: inst.user_id, project_id: inst.project_id });
    checkLocked(req, inst);
    checkState('shelveOffload', inst, [VmState.SHELVED]);
    if (!inst.host) throw invalidState('shelveOffload', inst);
    await begin('shelveOffload', inst, { task_state: 'shelving_offloading' });
    await record(req, inst, 'shelveOffload');
    computeRpc(svc.ctx.bus).cast(inst.host).shelve_offload_instance({ uuid: inst.uuid, request_id: req.id });
    return reply.code(202).send();
  };

  const unshelve: Handler = async (req, reply, id) => {
    const v = mv(req);
    type Unshelve = { unshelve?: { availability_zone?: string | null; host?: string | null } | null } | null;
    const body = v.gte('2.91')
      ? validateBody<Unshelve>(req, UNSHELVE_291)
      : v.gte('2.77')
        ? validateBody<Unshelve>(req, UNSHELVE_277)
        : (req.body as Unshelve);
    const inst = await get(req, id);
    authorize(req, 'os_compute_api:os-shelve:unshelve', { project_id: inst.project_id });
    const args = v.gte('2.77') && body?.unshelve && typeof body.unshelve === 'object' ? body.unshelve : {};
    const azPassed = 'availability_zone' in args;
    const newAz: string | null = azPassed ? (args.availability_zone ?? null) : null;
    const host: string | null = v.gte('2.91') ? (args.host ?? null) : null;
    checkLocked(req, inst);
    checkState('unshelve', inst, [VmState.SHELVED, VmState.SHELVED_OFFLOADED]);
    if ((azPassed || host) && inst.vm_state !== VmState.SHELVED_OFFLOADED) {
      throw conflict(
        `Specifying an availability zone or a host when unshelving server "${inst.uuid}" with status "${inst.vm_state}" is not supported. The server status must be SHELVED_OFFLOADED.`,
      );
    }
    if (azPassed && newAz) {
      const zones = svc.providers.availabilityZones
        ? await svc.providers.availabilityZones()
        : [svc.options.defaultAvailabilityZone];
      if (!zones.includes(newAz)) throw badRequest('The requested availability zone is not available');
    }
    if (host) {
      authorize(req, 'os_compute_api:os-shelve:unshelve_to_host', {
        user_id: inst.user_id,
        project_id: inst.project_id,
      });
      if (!(await computeNodeExists(svc.db, host))) throw badRequest(`Compute host ${host} could not be found.`);
      if (azPassed && newAz) {
        const hostAz = svc.providers.hostAvailabilityZone
          ? await svc.providers.hostAvailabilityZone(host)
          : svc.options.defaultAvailabilityZone;
        if (hostAz !== newAz) throw conflict(`Host "${host}" is not in the availability zone "${newAz}".`);
      }
    }
    const patch: Partial<Instance> = { task_state: 'unshelving' };
    if (azPassed) patch.availability_zone = newAz ?? svc.options.defaultAvailabilityZone;
    await begin('unshelve', inst, patch);
    await record(req, inst, 'unshelve');
    const r: UnshelveRequest = {
      uuid: inst.uuid,
      request_id: req.id,
      availability_zone: azPassed ? newAz : null,
      host,
    };
    conductorRpc(svc.ctx.bus).cast().unshelve_instance(r);
    return reply.code(202).send();
  };

  const rescue: Handler = async (req, reply, id) => {
    const body: { adminPass?: string; rescue_image_ref?: string } =
      validateBody<{ rescue: { adminPass?: string; rescue_image_ref?: string } | null }>(req, RESCUE).rescue ?? {};
    const inst = await get(req, id);
    authorize(req, 'os_compute_api:os-rescue', { user_id: inst.user_id, project_id: inst.project_id });
    checkLocked(req, inst);
    checkState('rescue', inst, [VmState.ACTIVE, VmState.STOPPED, VmState.ERROR]);
    if (!inst.host) throw invalidState('rescue', inst);
    const { clients } = parts();
    let image: ImageMeta | null = null;
    if (body.rescue_image_ref) {
      image = await clients.getImage(body.rescue_image_ref, req.ctx!.token);
      // Nova's UnsupportedRescueImage: an image it cannot read, or a volume snapshot (no rescue from those).
      if (!image || image.properties.img_block_device_mapping)
        throw badRequest(`Requested rescue image '${body.rescue_image_ref}' is not supported`);
    } else {
      const ref = (inst.system_metadata.image_base_image_ref as string | undefined) ?? inst.image_ref;
      image = ref ? await clients.getImage(ref).catch(() => null) : null;
    }
    const password = body.adminPass ?? generatePassword();
    await begin('rescue', inst, { task_state: 'rescuing' });
    await record(req, inst, 'rescue');
    computeRpc(svc.ctx.bus).cast(inst.host).rescue_instance({
      uuid: inst.uuid,
      request_id: req.id,
      password,
      image,
    });
    // Nova answers 200 here, not 202 (kept for compatibility).
    return reply.code(200).send({ adminPass: password });
  };

  const unrescue: Handler = async (req, reply, id) => {
    const inst = await get(req, id);
    authorize(req, 'os_compute_api:os-unrescue', { user_id: inst.user_id, project_id: inst.project_id });
    checkLocked(req, inst);
    checkState('unrescue', inst, [VmState.RESCUED]);
    await begin('unrescue', inst, { task_state: 'unrescuing' });
    await record(req, inst, 'unrescue');
    computeRpc(svc.ctx.bus).cast(inst.host).unrescue_instance({ uuid: inst.uuid, request_id: req.id });
    return reply.code(202).send();
  };

  const changePassword: Handler = async (req, reply, id) => {
    const password = validateBody<{ changePassword: { adminPass: string } }>(req, CHANGE_PASSWORD).changePassword
      .adminPass;
    const inst = await get(req, id);
    authorize(req, 'os_compute_api:os-admin-password', { user_id: inst.user_id, project_id: inst.project_id });
    checkLocked(req, inst);
    checkState('changePassword', inst, [VmState.ACTIVE]);
    if (!inst.host) throw invalidState('changePassword', inst);
    await begin('changePassword', inst, { task_state: 'updating_password' });
    await record(req, inst, 'changePassword');
    let res: GuestCallResult;
    try {
      res = await computeRpc(svc.ctx.bus).call(inst.host).set_admin_password({
        uuid: inst.uuid,
        request_id: req.id,
        password,
      });
    } catch (e) {
      await parts().store.update(inst.uuid, { task_state: null }, { expectTaskState: ['updating_password'] });
      throw new ApiError(
        409,
        `Failed to set admin password on ${inst.uuid} because the compute host did not answer: ${(e as Error).message}`,
      );
    }
    if (!res.ok) throw new ApiError(res.code, res.message);
    return reply.code(202).send();
  };

  const triggerCrashDump: Handler = async (req, reply, id) => {
    if (!mv(req).gte('2.17')) {
      req.authorized = true;
      throw new ApiError(404, 'The resource could not be found.');
    }
    validateBody(req, NULL_BODY('trigger_crash_dump'));
    const inst = await get(req, id);
    authorize(req, 'os_compute_api:servers:trigger_crash_dump', { user_id: inst.user_id, project_id: inst.project_id });
    checkLocked(req, inst);
    if (!inst.host) throw invalidState('trigger_crash_dump', inst);
    checkState('trigger_crash_dump', inst, [
      VmState.ACTIVE,
      VmState.PAUSED,
      VmState.RESCUED,
      VmState.RESIZED,
      VmState.ERROR,
    ]);
    await record(req, inst, 'trigger_crash_dump');
    computeRpc(svc.ctx.bus).cast(inst.host).trigger_crash_dump({ uuid: inst.uuid, request_id: req.id });
    return reply.code(202).send();
  };

  // ---- deferred delete ------------------------------------------------------------------

  const restore: Handler = async (req, reply, id) => {
    const inst = await get(req, id);
    authorize(req, 'os_compute_api:os-deferred-delete:restore', { project_id: inst.project_id, user_id: inst.user_id });
    checkLocked(req, inst);
    checkState('restore', inst, [VmState.SOFT_DELETED]);
    // (Nova checks the instance quota here; Stratus still counts a soft-deleted server, so it is already in the count.)
    await record(req, inst, 'restore');
    if (inst.host) {
      await begin('restore', inst, { task_state: 'restoring', deleted_at: null });
      computeRpc(svc.ctx.bus).cast(inst.host).restore_instance({ uuid: inst.uuid, request_id: req.id });
    } else {
      await begin('restore', inst, { vm_state: VmState.ACTIVE, task_state: null, deleted_at: null });
    }
    return reply.code(202).send();
  };

  const forceDelete: Handler = async (req, reply, id) => {
    const inst = await get(req, id);
    authorize(req, 'os_compute_api:os-deferred-delete:force', { project_id: inst.project_id, user_id: inst.user_id });
    checkLocked(req, inst);
    checkState('forceDelete', inst, null);
    await deleteServer(svc, req, inst, { force: true });
    return reply.code(202).send();
  };

  return {
    createImage,
    createBackup,
    shelve,
    shelveOffload,
    unshelve,
    rescue,
    unrescue,
    changePassword,
    trigger_crash_dump: triggerCrashDump,
    restore,
    forceDelete,
  } satisfies Record<string, ServerAction>;
}
