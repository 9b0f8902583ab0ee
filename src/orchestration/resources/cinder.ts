// OS::Cinder:: resources: Volume, VolumeAttachment (through Nova's os-volume_attachments, as
// Heat's resource does), VolumeType and QoSSpecs. Each talks to the block storage API (service
// type `block-storage`, Cinder v3) with the stack owner's token, through ResourceContext.api.
import { HeatError } from '../errors.ts';
import type { AttributeSchema, PropertySchema, ResourceContext, ResourcePlugin } from './plugin.ts';
import { UpdateReplace } from './plugin.ts';
import { physicalName } from './openstack.ts';

type Json = Record<string, unknown>;
const SUPPORTED = { status: 'SUPPORTED' as const, version: null, message: null };
const BS = 'block-storage';

const defined = (o: Json): Json =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined));
const prop = (type: PropertySchema['type'], description: string, extra: Partial<PropertySchema> = {}) => ({
  type,
  description,
  ...extra,
});
const attr = (description: string, type?: AttributeSchema['type']): AttributeSchema => ({
  description,
  ...(type ? { type } : {}),
});
const stringMap = (m: unknown): Record<string, string> =>
  Object.fromEntries(
    Object.entries((m ?? {}) as Json).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
  );

/** Polls a volume until its status is one of `want` ('deleted': until it is gone). */
async function waitVolume(r: ResourceContext, id: string, want: string[], timeoutMs = 600_000): Promise<Json | null> {
  const end = Date.now() + timeoutMs;
  // 50, 100, 200 ms, then every 300 ms (as Heat polls): a volume that is quick is seen quickly,
  // three GETs more at most.
  let wait = 50;
  for (;;) {
    const got = await r.api<Json>(BS, 'GET', `/volumes/${id}`, undefined, [200, 404]);
    const volume = got?.volume as Json | undefined;
    if (!volume) {
      if (want.includes('deleted')) return null;
      throw new HeatError('EntityNotFound', `The Volume (${id}) could not be found.`);
    }
    const status = String(volume.status);
    if (want.includes(status)) return volume;
    if (status.startsWith('error'))
      throw new Error(`ResourceInError: resources.${r.name}: Went to status ${status} due to "Unknown"`);
    if (Date.now() > end) throw new Error(`Timed out waiting for volume ${id} to become ${want.join('/')}`);
    await r.sleep(wait);
    wait = Math.min(300, wait * 2);
  }
}

/** A volume type, snapshot, volume or backup by id or name. */
async function cinderId(r: ResourceContext, collection: string, singular: string, ref: unknown): Promise<string> {
  const s = String(ref);
  const direct = await r.api<Json>(BS, 'GET', `/${collection}/${encodeURIComponent(s)}`, undefined, [200, 404]);
  if (direct?.[singular]) return String((direct[singular] as Json).id);
  const list = await r.api<Json>(BS, 'GET', `/${collection}?name=${encodeURIComponent(s)}`, undefined, [200]);
  const items = ((list[collection] ?? []) as Json[]).filter((x) => x.name === s);
  if (items.length === 1) return String(items[0]!.id);
  if (items.length > 1)
    throw new HeatError('PhysicalResourceNameAmbiguity', `Multiple physical resources were found with name (${s}).`);
  const label = singular.replace(/(^|_)([a-z])/g, (_m, _p, c: string) => c.toUpperCase());
  throw new HeatError('EntityNotFound', `The ${label} (${s}) could not be found.`);
}

async function imageId(r: ResourceContext, ref: unknown): Promise<string> {
  const s = String(ref);
  const direct = await r.api<Json>('image', 'GET', `/v2/images/${encodeURIComponent(s)}`, undefined, [200, 404]);
  if (direct?.id) return String(direct.id);
  const list = await r.api<Json>('image', 'GET', `/v2/images?name=${encodeURIComponent(s)}`, undefined, [200]);
  const items = (list.images ?? []) as Json[];
  if (items.length === 1) return String(items[0]!.id);
  throw new HeatError('EntityNotFound', `The Image (${s}) could not be found.`);
}

function volumeAttributes(v: Json): Json {
  const attachments = (v.attachments ?? []) as Json[];
  return {
    show: v,
    availability_zone: v.availability_zone,
    size: v.size,
    snapshot_id: v.snapshot_id,
    display_name: v.name,
    display_description: v.description,
    volume_type: v.volume_type,
    metadata: JSON.stringify(v.metadata ?? {}),
    metadata_values: v.metadata ?? {},
    source_volid: v.source_volid,
    status: v.status,
    created_at: v.created_at,
    bootable: v.bootable,
    encrypted: v.encrypted,
    attachments: JSON.stringify(attachments),
    attachments_list: attachments,
    multiattach: v.multiattach,
  };
}

const Volume: ResourcePlugin = {
  type: 'OS::Cinder::Volume',
  description: 'A resource that implements Cinder volumes.',
  supportStatus: SUPPORTED,
  properties: {
    size: prop('integer', 'The size of the volume in GB. On update only increase in size is supported.', {
      update_allowed: true,
      constraints: [{ range: { min: 1 } }],
    }),
    snapshot_id: prop('string', 'If specified, the snapshot to create the volume from.'),
    backup_id: prop('string', 'If specified, the backup to create the volume from.', { update_allowed: true }),
    name: prop('string', 'A name used to distinguish the volume.', { update_allowed: true }),
    description: prop('string', 'A description of the volume.', { update_allowed: true }),
    volume_type: prop('string', 'If specified, the type of volume to use, mapping to a specific backend.', {
      update_allowed: true,
    }),
    metadata: prop('map', 'Key/value pairs to associate with the volume.', { update_allowed: true, default: {} }),
    image: prop('string', 'If specified, the name or ID of the image to create the volume from.'),
    source_volid: prop('string', 'If specified, the volume to use as source.'),
    availability_zone: prop('string', 'The availability zone in which the volume will be created.'),
    cinder_scheduler_hints: prop(
      'map',
      'Arbitrary key-value pairs specified by the client to help the Cinder scheduler creating a volume.',
    ),
    read_only: prop('boolean', 'Enables or disables read-only access mode of volume.', { update_allowed: true }),
    multiattach: prop('boolean', 'Whether allow the volume to be attached more than once.'),
  },
  attributes: {
    availability_zone: attr('The availability zone in which the volume is located.', 'string'),
    size: attr('The size of the volume in GB.', 'string'),
    snapshot_id: attr('The snapshot the volume was created from, if any.', 'string'),
    display_name: attr('Name of the volume.', 'string'),
    display_description: attr('Description of the volume.', 'string'),
    volume_type: attr('The type of the volume mapping to a backend, if any.', 'string'),
    metadata: attr('Key/value pairs associated with the volume.', 'string'),
    metadata_values: attr('Key/value pairs associated with the volume in raw dict form.', 'map'),
    source_volid: attr('The volume used as source, if any.', 'string'),
    status: attr('The current status of the volume.', 'string'),
    created_at: attr('The timestamp indicating volume creation.', 'string'),
    bootable: attr('Boolean indicating if the volume can be booted or not.', 'boolean'),
    encrypted: attr('Boolean indicating if the volume is encrypted or not.', 'boolean'),
    attachments: attr('A string representation of the list of attachments of the volume.', 'string'),
    attachments_list: attr('The list of attachments of the volume.', 'list'),
    multiattach: attr('Boolean indicating whether allow the volume to be attached more than once.', 'boolean'),
    show: attr('Detailed information about resource.', 'map'),
  },
  async create(r) {
    const p = r.properties;
    if (p.size === undefined && !p.snapshot_id && !p.source_volid && !p.backup_id)
      throw new HeatError(
        'StackValidationFailed',
        'One of the properties "size", "snapshot_id", "source_volid" or "backup_id" should be set for the specified resource.',
      );
    const body = defined({
      size: p.size,
      name: p.name ?? physicalName(r),
      description: p.description,
      volume_type: p.volume_type ? await cinderId(r, 'types', 'volume_type', p.volume_type) : undefined,
      snapshot_id: p.snapshot_id ? await cinderId(r, 'snapshots', 'snapshot', p.snapshot_id) : undefined,
      source_volid: p.source_volid ? await cinderId(r, 'volumes', 'volume', p.source_volid) : undefined,
      backup_id: p.backup_id,
      imageRef: p.image ? await imageId(r, p.image) : undefined,
      availability_zone: p.availability_zone,
      metadata: p.metadata && Object.keys(p.metadata as Json).length ? stringMap(p.metadata) : undefined,
      multiattach: p.multiattach,
    });
    const hints = p.cinder_scheduler_hints ? { 'OS-SCH-HNT:scheduler_hints': p.cinder_scheduler_hints } : {};
    const got = (await r.api<Json>(BS, 'POST', '/volumes', { volume: body, ...hints }, [202])).volume as Json;
    r.physicalId = String(got.id);
    await waitVolume(r, r.physicalId, ['available']);
    if (p.read_only)
      await r.api(
        BS,
        'POST',
        `/volumes/${r.physicalId}/action`,
        { 'os-update_readonly_flag': { readonly: true } },
        [202],
      );
  },
  async update(r, changed) {
    if (!r.physicalId) return;
    const p = r.properties;
    const id = r.physicalId;
    if (changed.includes('backup_id')) throw new UpdateReplace(r.name);
    if (changed.includes('name') || changed.includes('description'))
      await r.api(
        BS,
        'PUT',
        `/volumes/${id}`,
        { volume: defined({ name: p.name, description: p.description }) },
        [200],
      );
    if (changed.includes('metadata'))
      await r.api(BS, 'PUT', `/volumes/${id}/metadata`, { metadata: stringMap(p.metadata) }, [200]);
    if (changed.includes('read_only'))
      await r.api(
        BS,
        'POST',
        `/volumes/${id}/action`,
        { 'os-update_readonly_flag': { readonly: !!p.read_only } },
        [202],
      );
    if (changed.includes('volume_type') && p.volume_type) {
      const type = await cinderId(r, 'types', 'volume_type', p.volume_type);
      await r.api(
        BS,
        'POST',
        `/volumes/${id}/action`,
        { 'os-retype': { new_type: type, migration_policy: 'never' } },
        [202],
      );
      await waitVolume(r, id, ['available', 'in-use']);
    }
    if (changed.includes('size') && p.size !== undefined) {
      const old = Number(r.oldProperties?.size ?? 0);
      const size = Number(p.size);
      if (size < old)
        throw new HeatError(
          'NotSupported',
          `Shrinking volume is not supported: the new size ${size} is smaller than the current size ${old}.`,
        );
      if (size > old) {
        await r.api(BS, 'POST', `/volumes/${id}/action`, { 'os-extend': { new_size: size } }, [202]);
        await waitVolume(r, id, ['available', 'in-use']);
      }
    }
  },
  async delete(r) {
    if (!r.physicalId) return;
    const got = await r.api<Json>(BS, 'GET', `/volumes/${r.physicalId}`, undefined, [200, 404]);
    if (!got?.volume) return;
    await r.api(BS, 'DELETE', `/volumes/${r.physicalId}`, undefined, [202, 404]);
    await waitVolume(r, r.physicalId, ['deleted']);
  },
  async check(r) {
    if (r.physicalId) await waitVolume(r, r.physicalId, ['available', 'in-use'], 1000);
  },
  async resolveAttributes(r) {
    if (!r.physicalId) return {};
    const got = (await r.api<Json>(BS, 'GET', `/volumes/${r.physicalId}`, undefined, [200])).volume as Json;
    return volumeAttributes(got);
  },
};

/** Attaches through Nova (os-volume_attachments) and waits for the volume to be in-use. */
async function attach(r: ResourceContext, server: string, volume: string, device: unknown): Promise<void> {
  await r.api(
    'compute',
    'POST',
    `/servers/${server}/os-volume_attachments`,
    { volumeAttachment: defined({ volumeId: volume, device: device || undefined }) },
    [200],
  );
  await waitVolume(r, volume, ['in-use']);
}

async function detach(r: ResourceContext, server: string, volume: string): Promise<void> {
  const gone = await r.api<Json>(
    'compute',
    'DELETE',
    `/servers/${server}/os-volume_attachments/${volume}`,
    undefined,
    [202, 404],
  );
  void gone;
  const v = await r.api<Json>(BS, 'GET', `/volumes/${volume}`, undefined, [200, 404]);
  if (v?.volume) await waitVolume(r, volume, ['available', 'deleted']);
}

/** A VolumeAttachment's volume attached to its server as its properties say; the pair kept for its detach. */
async function attachVolume(r: ResourceContext) {
  const server = String(r.properties.instance_uuid);
  const volume = await cinderId(r, 'volumes', 'volume', r.properties.volume_id);
  await attach(r, server, volume, r.properties.mountpoint);
  r.data = { ...r.data, server, volume };
  r.physicalId = volume;
}

const VolumeAttachment: ResourcePlugin = {
  type: 'OS::Cinder::VolumeAttachment',
  description: 'Resource for associating volume to instance.',
  supportStatus: SUPPORTED,
  properties: {
    instance_uuid: prop('string', 'The ID of the server to which the volume attaches.', {
      required: true,
      update_allowed: true,
    }),
    volume_id: prop('string', 'The ID of the volume to be attached.', { required: true, update_allowed: true }),
    mountpoint: prop(
      'string',
      'The location where the volume is exposed on the instance. This assignment may not be honored and it is advised that the path /dev/disk/by-id/virtio-<VolumeId> be used instead.',
      { update_allowed: true },
    ),
  },
  attributes: {},
  create: attachVolume,
  async update(r) {
    const oldServer = String(r.data.server ?? r.oldProperties?.instance_uuid ?? '');
    const oldVolume = String(r.data.volume ?? r.physicalId ?? '');
    if (oldServer && oldVolume) await detach(r, oldServer, oldVolume);
    await attachVolume(r);
  },
  async delete(r) {
    const server = String(r.data.server ?? r.properties.instance_uuid ?? '');
    const volume = String(r.data.volume ?? r.physicalId ?? '');
    if (server && volume) await detach(r, server, volume);
  },
  async check(r) {
    const volume = String(r.data.volume ?? r.physicalId ?? '');
    if (volume) await waitVolume(r, volume, ['in-use'], 1000);
  },
};

const VolumeType: ResourcePlugin = {
  type: 'OS::Cinder::VolumeType',
  description: 'A resource for creating cinder volume types (admin only by default).',
  supportStatus: SUPPORTED,
  properties: {
    name: prop('string', 'Name of the volume type.', { required: true, update_allowed: true }),
    metadata: prop('map', 'The extra specs key and value pairs of the volume type.', { update_allowed: true }),
    is_public: prop('boolean', 'Whether the volume type is accessible to the public.', {
      default: true,
      update_allowed: true,
    }),
    description: prop('string', 'Description of the volume type.', { update_allowed: true }),
    projects: prop(
      'list',
      'Projects to add volume type access to. NOTE: This property is only supported since Cinder API V2.',
      {
        default: [],
        update_allowed: true,
      },
    ),
  },
  attributes: {},
  async create(r) {
    const p = r.properties;
    const got = (
      await r.api<Json>(
        BS,
        'POST',
        '/types',
        {
          volume_type: defined({
            name: p.name,
            description: p.description,
            'os-volume-type-access:is_public': p.is_public ?? true,
            extra_specs: p.metadata ? stringMap(p.metadata) : undefined,
          }),
        },
        [200],
      )
    ).volume_type as Json;
    r.physicalId = String(got.id);
    for (const project of (p.projects ?? []) as string[])
      await r.api(BS, 'POST', `/types/${r.physicalId}/action`, { addProjectAccess: { project } }, [202]);
  },
  async update(r, changed) {
    if (!r.physicalId) return;
    const p = r.properties;
    const id = r.physicalId;
    if (changed.some((c) => ['name', 'description', 'is_public'].includes(c)))
      await r.api(
        BS,
        'PUT',
        `/types/${id}`,
        {
          volume_type: defined({
            name: changed.includes('name') ? p.name : undefined,
            description: p.description,
            is_public: p.is_public,
          }),
        },
        [200],
      );
    if (changed.includes('metadata')) {
      const now = stringMap(p.metadata);
      for (const k of Object.keys(stringMap(r.oldProperties?.metadata)))
        if (!(k in now))
          await r.api(BS, 'DELETE', `/types/${id}/extra_specs/${encodeURIComponent(k)}`, undefined, [202, 404]);
      if (Object.keys(now).length) await r.api(BS, 'POST', `/types/${id}/extra_specs`, { extra_specs: now }, [200]);
    }
    if (changed.includes('projects')) {
      const now = new Set((p.projects ?? []) as string[]);
      const old = new Set((r.oldProperties?.projects ?? []) as string[]);
      for (const project of old)
        if (!now.has(project))
          await r.api(BS, 'POST', `/types/${id}/action`, { removeProjectAccess: { project } }, [202, 404]);
      for (const project of now)
        if (!old.has(project)) await r.api(BS, 'POST', `/types/${id}/action`, { addProjectAccess: { project } }, [202]);
    }
  },
  async delete(r) {
    if (r.physicalId) await r.api(BS, 'DELETE', `/types/${r.physicalId}`, undefined, [202, 404]);
  },
  async check(r) {
    if (r.physicalId) await r.api(BS, 'GET', `/types/${r.physicalId}`, undefined, [200]);
  },
};

const QoSSpecs: ResourcePlugin = {
  type: 'OS::Cinder::QoSSpecs',
  description: 'A resource for creating cinder QoS specs.',
  supportStatus: SUPPORTED,
  properties: {
    name: prop('string', 'Name of the QoS.'),
    specs: prop('map', 'The specs key and value pairs of the QoS.', { required: true, update_allowed: true }),
  },
  attributes: {},
  async create(r) {
    const got = (
      await r.api<Json>(
        BS,
        'POST',
        '/qos-specs',
        { qos_specs: { ...stringMap(r.properties.specs), name: r.properties.name ?? physicalName(r) } },
        [200],
      )
    ).qos_specs as Json;
    r.physicalId = String(got.id);
  },
  async update(r) {
    if (!r.physicalId) return;
    const now = stringMap(r.properties.specs);
    const gone = Object.keys(stringMap(r.oldProperties?.specs)).filter((k) => !(k in now));
    if (gone.length) await r.api(BS, 'PUT', `/qos-specs/${r.physicalId}/delete_keys`, { keys: gone }, [202, 404]);
    if (Object.keys(now).length) await r.api(BS, 'PUT', `/qos-specs/${r.physicalId}`, { qos_specs: now }, [200]);
  },
  async delete(r) {
    if (r.physicalId) await r.api(BS, 'DELETE', `/qos-specs/${r.physicalId}?force=True`, undefined, [202, 404]);
  },
};

/** Encryption of a volume type: its physical id is the volume type's (cinderclient's volume_encryption_types.get). */
const EncryptedVolumeType: ResourcePlugin = {
  type: 'OS::Cinder::EncryptedVolumeType',
  description: 'A resource for encrypting a cinder volume type.',
  supportStatus: SUPPORTED,
  properties: {
    provider: prop(
      'string',
      'The class that provides encryption support. For example, nova.volume.encryptors.luks.LuksEncryptor.',
      { required: true, update_allowed: true },
    ),
    control_location: prop('string', 'Notional service where encryption is performed.', {
      default: 'front-end',
      update_allowed: true,
      constraints: [{ allowed_values: ['front-end', 'back-end'] }],
    }),
    cipher: prop('string', 'The encryption algorithm or mode. For example, aes-xts-plain64.', {
      update_allowed: true,
      constraints: [{ allowed_values: ['aes-xts-plain64', 'aes-cbc-essiv'] }],
    }),
    key_size: prop('integer', 'Size of encryption key, in bits. For example, 128 or 256.', {
      update_allowed: true,
      constraints: [{ allowed_values: [128, 256, 512] }],
    }),
    volume_type: prop('string', 'Name or id of volume type (OS::Cinder::VolumeType).', { required: true }),
  },
  attributes: {},
  async create(r) {
    const p = r.properties;
    const type = await cinderId(r, 'types', 'volume_type', p.volume_type);
    const got = (
      await r.api<Json>(
        BS,
        'POST',
        `/types/${type}/encryption`,
        {
          encryption: defined({
            provider: p.provider,
            control_location: p.control_location ?? 'front-end',
            cipher: p.cipher,
            key_size: p.key_size,
          }),
        },
        [200],
      )
    ).encryption as Json;
    r.physicalId = type;
    r.data = { ...r.data, encryption_id: got.encryption_id };
  },
  async update(r, changed) {
    if (!r.physicalId) return;
    const p = r.properties;
    const body = Object.fromEntries(changed.filter((k) => k !== 'volume_type').map((k) => [k, p[k] ?? null]));
    if (Object.keys(body).length)
      await r.api(BS, 'PUT', `/types/${r.physicalId}/encryption/${r.data.encryption_id}`, { encryption: body }, [200]);
  },
  async delete(r) {
    if (!r.physicalId) return;
    const got = await r.api<Json>(BS, 'GET', `/types/${r.physicalId}/encryption`, undefined, [200, 404]);
    const id = (got?.encryption_id as string | undefined) ?? (r.data.encryption_id as string | undefined);
    if (id) await r.api(BS, 'DELETE', `/types/${r.physicalId}/encryption/${id}`, undefined, [202, 404]);
  },
};

export const CINDER_RESOURCES: ResourcePlugin[] = [Volume, VolumeAttachment, VolumeType, EncryptedVolumeType, QoSSpecs];
