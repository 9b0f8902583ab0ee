// POST /volumes/{id}/action: Cinder's volume actions, one handler per action key (the map is in
// routes.ts): extend, bootable, read-only, reset status, force delete, retype, image metadata,
// upload to image, revert to snapshot, and the attach actions Nova still calls.
import type { FastifyRequest } from 'fastify';
import { bool, json } from '../../core/db.ts';
import { ApiError } from '../../core/errors.ts';
import { backendOf, volumeRpc } from '../rpcapi.ts';
import type { BlockStorageService } from '../service.ts';
import { specsOf } from '../types.ts';
import type { VolumeRow } from '../volumes.ts';
import { at, badRequest, boolParam, isoTime } from './common.ts';

export type VolumeAction = (
  svc: BlockStorageService,
  req: FastifyRequest,
  v: VolumeRow,
  body: unknown,
) => Promise<unknown>;

const obj = (b: unknown, what: string): Record<string, unknown> => {
  if (!b || typeof b !== 'object' || Array.isArray(b)) throw badRequest(`Invalid input for ${what}: must be an object`);
  return b as Record<string, unknown>;
};
const anyBool = (v: unknown, name: string): boolean => {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') return boolParam(v, name);
  throw badRequest(`Invalid value for '${name}': must be a boolean.`);
};

const VOLUME_STATUSES = [
  'creating',
  'available',
  'deleting',
  'error',
  'error_deleting',
  'error_managing',
  'managing',
  'attaching',
  'in-use',
  'detaching',
  'maintenance',
  'reserved',
  'extending',
  'error_extending',
  'retyping',
  'backing-up',
  'restoring-backup',
  'error_restoring',
  'downloading',
  'uploading',
  'awaiting-transfer',
];

export const extend: VolumeAction = async (svc, req, v, body) => {
  const b = obj(body, 'os-extend');
  const n = typeof b.new_size === 'string' && /^\d+$/.test(b.new_size) ? Number(b.new_size) : b.new_size;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1)
    throw badRequest(`Invalid input for field/attribute new_size. Value: ${String(b.new_size)}.`);
  const attached = v.status === 'in-use';
  req.authorize(attached ? 'volume:extend_attached_volume' : 'volume:extend', { project_id: v.project_id });
  await svc.parts.api.extend(req.context, v, n, at(req, '3.42'));
  return null;
};

export const setBootable: VolumeAction = async (svc, req, v, body) => {
  req.authorize('volume_extension:volume_actions:set_bootable', { project_id: v.project_id });
  const b = obj(body, 'os-set_bootable');
  if (!('bootable' in b))
    throw badRequest("Invalid input for field/attribute os-set_bootable. 'bootable' is a required property");
  const val = anyBool(b.bootable, 'bootable');
  await svc.parts.volumes.update(v.id, { bootable: val ? 1 : 0 });
  return null;
};

export const updateReadonly: VolumeAction = async (svc, req, v, body) => {
  req.authorize('volume:update_readonly_flag', { project_id: v.project_id });
  const b = obj(body, 'os-update_readonly_flag');
  if (!('readonly' in b))
    throw badRequest("Invalid input for field/attribute os-update_readonly_flag. 'readonly' is a required property");
  const ro = anyBool(b.readonly, 'readonly');
  if (!['available', 'in-use'].includes(v.status))
    throw badRequest(`Invalid volume: Volume status must be available or in-use, but current status is: ${v.status}.`);
  const meta = { ...json<Record<string, string>>(v.admin_metadata, {}), readonly: ro ? 'True' : 'False' };
  await svc.parts.volumes.update(v.id, { admin_metadata: JSON.stringify(meta) });
  return null;
};

export const resetStatus: VolumeAction = async (svc, req, v, body) => {
  req.authorize('volume_extension:volume_admin_actions:reset_status', { project_id: v.project_id });
  const b = obj(body, 'os-reset_status');
  const patch: Record<string, unknown> = {};
  if (b.status !== undefined) {
    if (typeof b.status !== 'string' || !VOLUME_STATUSES.includes(b.status.toLowerCase()))
      throw badRequest(`Invalid input for field/attribute status. Value: ${String(b.status)}.`);
    patch.status = b.status.toLowerCase();
  }
  if (b.attach_status !== undefined) {
    if (!['attached', 'detached'].includes(String(b.attach_status)))
      throw badRequest(`Invalid input for field/attribute attach_status. Value: ${String(b.attach_status)}.`);
    patch.attach_status = b.attach_status;
    if (b.attach_status === 'detached')
      for (const a of await svc.parts.volumes.attachments(v.id)) await svc.parts.volumes.deleteAttachment(a.id);
  }
  if (b.migration_status !== undefined) {
    const m = b.migration_status === null ? null : String(b.migration_status);
    if (m !== null && !['migrating', 'error', 'success', 'completing', 'none', 'starting'].includes(m))
      throw badRequest(`Invalid input for field/attribute migration_status. Value: ${m}.`);
    patch.migration_status = m === 'none' ? null : m;
  }
  if (!Object.keys(patch).length) throw badRequest('Must specify status, attach_status or migration_status.');
  await svc.parts.volumes.update(v.id, patch);
  return null;
};

export const forceDelete: VolumeAction = async (svc, req, v) => {
  req.authorize('volume_extension:volume_admin_actions:force_delete', { project_id: v.project_id });
  await svc.parts.api.delete(req.context, v, { force: true, cascade: true });
  return null;
};

export const retype: VolumeAction = async (svc, req, v, body) => {
  req.authorize('volume:retype', { project_id: v.project_id });
  const b = obj(body, 'os-retype');
  if (typeof b.new_type !== 'string')
    throw badRequest("Invalid input for field/attribute os-retype. 'new_type' is a required property");
  const policy = b.migration_policy ?? 'never';
  if (!['never', 'on-demand'].includes(String(policy)))
    throw badRequest(`Invalid input for field/attribute migration_policy. Value: ${String(policy)}.`);
  const t = await svc.parts.api.resolveType(req.context, b.new_type);
  if (!['available', 'in-use'].includes(v.status))
    throw badRequest(
      `Invalid volume: Volume ${v.id} status must be available or in-use, but current status is: ${v.status}.`,
    );
  if (t.id === v.volume_type_id)
    throw badRequest('Invalid input received: New volume type must be different from the current one.');
  const from = await svc.parts.types.get(v.volume_type_id);
  await svc.parts.quotas.lock.run(async () => {
    await svc.parts.quotas.check(v.project_id, { volumes: 1, gigabytes: v.size }, t.name);
    // A pool of the volume's backend that takes the new type: a row change; else a migration.
    const pools = await svc.parts.scheduler.select(v.size, v.availability_zone, specsOf(t));
    if (pools.some((p) => p.name === v.host)) {
      await svc.parts.volumes.update(v.id, { volume_type_id: t.id });
      return;
    }
    if (policy === 'never')
      throw badRequest(
        'Invalid input received: Retype needs a volume migration, which the migration policy does not allow.',
      );
    await svc.parts.migrations.retypeWithMigration(v, t.id, pools);
  });
  void from;
  return null;
};

/** os-migrate_volume (admin): to another backend (`host`), generic host-copy. */
export const migrateVolume: VolumeAction = async (svc, req, v, body) => {
  req.authorize('volume_extension:volume_admin_actions:migrate_volume', { project_id: v.project_id });
  const b = obj(body, 'os-migrate_volume');
  const host = b.host;
  if (typeof host !== 'string' || !host.trim())
    throw badRequest("Invalid input for field/attribute os-migrate_volume. 'host' is a required property");
  await svc.parts.migrations.migrate(v, {
    host: host.trim(),
    forceHostCopy: b.force_host_copy === undefined ? false : anyBool(b.force_host_copy, 'force_host_copy'),
    lockVolume: b.lock_volume === undefined ? false : anyBool(b.lock_volume, 'lock_volume'),
  });
  return null;
};

/** os-migrate_volume_completion (admin): `new_volume` takes over, or (`error`) goes. */
export const migrateVolumeCompletion: VolumeAction = async (svc, req, v, body) => {
  req.authorize('volume_extension:volume_admin_actions:migrate_volume_completion', { project_id: v.project_id });
  const b = obj(body, 'os-migrate_volume_completion');
  if (typeof b.new_volume !== 'string')
    throw badRequest(
      "Invalid input for field/attribute os-migrate_volume_completion. 'new_volume' is a required property",
    );
  const error = b.error === undefined || b.error === null ? false : anyBool(b.error, 'error');
  return svc.parts.migrations.complete(v, b.new_volume, error);
};

export const setImageMetadata: VolumeAction = async (svc, req, v, body) => {
  req.authorize('volume_extension:volume_image_metadata:set', { project_id: v.project_id });
  const b = obj(body, 'os-set_image_metadata');
  const m = obj(b.metadata, 'metadata');
  for (const [k, val] of Object.entries(m))
    if (typeof val !== 'string' || k.length < 1 || k.length > 255 || val.length > 255)
      throw badRequest(`Invalid input for field/attribute metadata. Value: ${k}.`);
  const meta = { ...json<Record<string, string>>(v.image_metadata, {}), ...(m as Record<string, string>) };
  await svc.parts.volumes.update(v.id, { image_metadata: JSON.stringify(meta) });
  return { metadata: meta };
};

export const unsetImageMetadata: VolumeAction = async (svc, req, v, body) => {
  req.authorize('volume_extension:volume_image_metadata:remove', { project_id: v.project_id });
  const b = obj(body, 'os-unset_image_metadata');
  if (typeof b.key !== 'string')
    throw badRequest("Invalid input for field/attribute os-unset_image_metadata. 'key' is a required property");
  const meta = json<Record<string, string>>(v.image_metadata, {});
  if (!(b.key in meta))
    throw new ApiError(404, `Glance metadata for volume ${v.id} with key ${b.key} could not be found.`);
  delete meta[b.key];
  await svc.parts.volumes.update(v.id, { image_metadata: JSON.stringify(meta) });
  return null;
};

export const showImageMetadata: VolumeAction = async (_svc, req, v) => {
  req.authorize('volume_extension:volume_image_metadata:show', { project_id: v.project_id });
  return { metadata: json(v.image_metadata, {}) };
};

export const uploadImage: VolumeAction = async (svc, req, v, body) => {
  req.authorize('volume_extension:volume_actions:upload_image', { project_id: v.project_id });
  const b = obj(body, 'os-volume_upload_image');
  if (typeof b.image_name !== 'string' || !b.image_name)
    throw badRequest('Invalid input for field/attribute image_name.');
  const force = b.force !== undefined && anyBool(b.force, 'force');
  if (!(['available'].includes(v.status) || (force && v.status === 'in-use')))
    throw badRequest(
      `Invalid volume: Volume ${v.id} status must be available or in-use with force, but current status is: ${v.status}.`,
    );
  const diskFormat = String(b.disk_format ?? 'raw');
  if (!['raw', 'qcow2', 'vmdk', 'vdi', 'vhd', 'vhdx', 'ploop'].includes(diskFormat))
    throw badRequest(
      `Invalid disk-format '${diskFormat}' is specified. Allowed disk-formats are raw, vmdk, vdi, qcow2, vhd, vhdx, ploop.`,
    );
  const visibility = String(b.visibility ?? 'private');
  const protect = b.protected !== undefined && anyBool(b.protected, 'protected');
  const imageMeta = json<Record<string, string>>(v.image_metadata, {});
  const props: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(imageMeta))
    if (
      ![
        'image_id',
        'image_name',
        'checksum',
        'size',
        'disk_format',
        'container_format',
        'min_disk',
        'min_ram',
      ].includes(k)
    )
      props[k] = val;
  const created = await svc.parts.images.client.createImage(
    {
      ...props,
      name: b.image_name,
      disk_format: diskFormat === 'qcow2' ? 'qcow2' : 'raw',
      container_format: String(b.container_format ?? 'bare'),
      visibility,
      protected: protect,
      min_disk: v.size,
    },
    { token: req.context.token },
  );
  if (created.status >= 300)
    throw new ApiError(
      created.status >= 500 ? 503 : 400,
      `The image service refused the image: ${JSON.stringify(created.body)}`,
    );
  const image = created.body;
  await svc.parts.volumes.update(v.id, { status: 'uploading', previous_status: v.status }, { status: [v.status] });
  volumeRpc(svc.ctx.bus)
    .cast(backendOf(v.host!), req.context.toRpc())
    .copy_volume_to_image({ volume_id: v.id, image_id: image.id, disk_format: diskFormat, request_id: req.id });
  return {
    'os-volume_upload_image': {
      id: v.id,
      updated_at: isoTime(v.updated_at),
      status: 'uploading',
      display_description: v.description,
      size: v.size,
      volume_type: (await svc.parts.types.get(v.volume_type_id)) ?? null,
      image_id: image.id,
      container_format: image.container_format,
      disk_format: image.disk_format,
      image_name: image.name,
      protected: protect,
      visibility,
    },
  };
};

export const revert: VolumeAction = async (svc, req, v, body) => {
  req.authorize('volume:revert_to_snapshot', { project_id: v.project_id });
  const b = obj(body, 'revert');
  if (typeof b.snapshot_id !== 'string')
    throw badRequest("Invalid input for field/attribute revert. 'snapshot_id' is a required property");
  const s = await svc.parts.api.visibleSnapshot(req.context, b.snapshot_id);
  if (s.volume_id !== v.id)
    throw badRequest(`Invalid input received: Snapshot ${s.id} is not a snapshot of volume ${v.id}.`);
  const latest = (await svc.parts.volumes.snapshots({ volumeId: v.id })).filter((x) => x.status === 'available').pop();
  if (latest?.id !== s.id)
    throw badRequest('Invalid snapshot: Cannot revert volume to a snapshot which is not the latest.');
  if (v.status !== 'available')
    throw badRequest(`Invalid volume: Volume status must be available, but current status is: ${v.status}.`);
  if (v.size !== s.volume_size) throw badRequest("Invalid volume: Volume size must be the snapshot's to revert.");
  await svc.parts.volumes.update(v.id, { status: 'reverting' });
  await svc.parts.volumes.updateSnapshot(s.id, { status: 'restoring' });
  volumeRpc(svc.ctx.bus)
    .cast(backendOf(v.host!), req.context.toRpc())
    .revert_to_snapshot({ volume_id: v.id, snapshot_id: s.id, request_id: req.id });
  return null;
};

// ---- the attach actions ---------------------------------------------------------------------

export const reserve: VolumeAction = async (svc, req, v) => {
  req.authorize('volume_extension:volume_actions:reserve', { project_id: v.project_id });
  await svc.parts.api.reserve(v, null, true);
  return null;
};

export const unreserve: VolumeAction = async (svc, req, v) => {
  req.authorize('volume_extension:volume_actions:unreserve', { project_id: v.project_id });
  await svc.parts.api.unreserve(v);
  return null;
};

export const beginDetaching: VolumeAction = async (svc, req, v) => {
  req.authorize('volume_extension:volume_actions:begin_detaching', { project_id: v.project_id });
  if (v.status !== 'in-use' || v.attach_status !== 'attached')
    throw badRequest(
      `Invalid volume: Unable to detach volume. Volume status must be 'in-use' and attach_status must be 'attached' to detach.`,
    );
  await svc.parts.volumes.update(v.id, { status: 'detaching' });
  return null;
};

export const rollDetaching: VolumeAction = async (svc, req, v) => {
  req.authorize('volume_extension:volume_actions:roll_detaching', { project_id: v.project_id });
  if (v.status === 'detaching') await svc.parts.volumes.update(v.id, { status: 'in-use' });
  return null;
};

export const initializeConnection: VolumeAction = async (svc, req, v, body) => {
  req.authorize('volume_extension:volume_actions:initialize_connection', { project_id: v.project_id });
  const b = obj(body, 'os-initialize_connection');
  const connector = obj(b.connector, 'connector');
  return { connection_info: await svc.parts.api.initializeConnection(req.context, v, connector) };
};

export const terminateConnection: VolumeAction = async (svc, req, v, body) => {
  req.authorize('volume_extension:volume_actions:terminate_connection', { project_id: v.project_id });
  const b = obj(body, 'os-terminate_connection');
  await svc.parts.api.terminateConnection(req.context, v, obj(b.connector, 'connector'));
  return null;
};

export const attach: VolumeAction = async (svc, req, v, body) => {
  req.authorize('volume_extension:volume_actions:attach', { project_id: v.project_id });
  const b = obj(body, 'os-attach');
  if (typeof b.mountpoint !== 'string')
    throw badRequest("Invalid input for field/attribute os-attach. 'mountpoint' is a required property");
  if (!b.instance_uuid && !b.host_name) throw badRequest('Invalid request to attach volume to an invalid target');
  const mode = String(b.mode ?? 'rw');
  if (!['rw', 'ro'].includes(mode))
    throw badRequest("Invalid request to attach volume with an invalid mode. Attaching mode should be 'rw' or 'ro'");
  await svc.parts.api.attach(v, {
    instance: (b.instance_uuid as string | undefined) ?? null,
    host: (b.host_name as string | undefined) ?? null,
    mountpoint: b.mountpoint,
    mode,
  });
  return null;
};

export const detach: VolumeAction = async (svc, req, v, body) => {
  req.authorize('volume_extension:volume_actions:detach', { project_id: v.project_id });
  const b = body && typeof body === 'object' ? (body as Record<string, unknown>) : {};
  await svc.parts.api.detach(v, (b.attachment_id as string | undefined) ?? undefined);
  return null;
};

export const forceDetach: VolumeAction = async (svc, req, v, body) => {
  req.authorize('volume_extension:volume_admin_actions:force_detach', { project_id: v.project_id });
  const b = body && typeof body === 'object' ? (body as Record<string, unknown>) : {};
  await svc.parts.api
    .terminateConnection(req.context, v, (b.connector as Record<string, unknown> | undefined) ?? null)
    .catch(() => undefined);
  await svc.parts.api.detach(v, (b.attachment_id as string | undefined) ?? undefined);
  return null;
};

/** Whether a volume is read-only (for views). */
export const readonly = (v: VolumeRow) => bool(json<Record<string, string>>(v.admin_metadata, {}).readonly === 'True');
