// Servers: create (handed to the conductor), list/detail with Nova's filters, show, update,
// delete, the power actions, lock/unlock, and os-instance-actions. The view follows
// nova.api.openstack.compute.views.servers; states follow nova.compute.api's checks.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { FastifyRequest, FastifyReply } from 'fastify';
import { computeHostIsUp, computeNodeExists } from '../hosts.ts';
import type { ComputeService, Family, Flavor } from '../service.ts';
import { serverMigrations } from '../db/migrations/servers.ts';
import {
  defaultHostname,
  PowerState,
  VmState,
  type Instance,
  type InstanceAction,
  type RequestedNetwork,
} from '../instances.ts';
import type { BuildRequest } from '../worker/conductor.ts';
import { computeRpc, conductorRpc, type ComputeCoreRpc } from '../rpcapi.ts';
import { notifyInstance } from '../notifications.ts';
import {
  allowed,
  authorize,
  badRequest,
  conflict,
  isAdmin,
  isoZ,
  links,
  mv,
  notFound,
  queryOf,
  recordAction,
  validateBody,
} from './common.ts';
import { isUuidLike } from '../../core/validate.ts';
import { createSchema, updateSchema, REBOOT_SCHEMA, LOCK_SCHEMA_273, SORT_KEYS, isTrue } from './schemas/servers.ts';
import { normalizeIp } from '../../core/netaddr.ts';
import { localMappingError, type BlockDevice } from '../block_devices.ts';
import type { ImageMeta } from '../drivers/virt.ts';
import { releaseVolumes } from '../volumes.ts';
import {
  createServerVolumes,
  fromLegacyMapping,
  type LegacyBdm,
  planBlockDevices,
  type RequestedBdm,
} from './block_device_mapping.ts';

// ---- states --------------------------------------------------------------------------

/** Nova's status from vm_state and task_state (nova.api.openstack.common._STATE_MAP). */
const STATE_MAP: Record<string, Record<string, string>> = {
  active: {
    default: 'ACTIVE',
    rebooting: 'REBOOT',
    reboot_pending: 'REBOOT',
    reboot_started: 'REBOOT',
    rebooting_hard: 'HARD_REBOOT',
    reboot_pending_hard: 'HARD_REBOOT',
    reboot_started_hard: 'HARD_REBOOT',
    updating_password: 'PASSWORD',
    rebuilding: 'REBUILD',
    rebuild_block_device_mapping: 'REBUILD',
    rebuild_spawning: 'REBUILD',
    migrating: 'MIGRATING',
    resize_prep: 'RESIZE',
    resize_migrating: 'RESIZE',
    resize_migrated: 'RESIZE',
    resize_finish: 'RESIZE',
  },
  building: { default: 'BUILD' },
  stopped: {
    default: 'SHUTOFF',
    resize_prep: 'RESIZE',
    resize_migrating: 'RESIZE',
    resize_migrated: 'RESIZE',
    resize_finish: 'RESIZE',
    rebuilding: 'REBUILD',
    rebuild_block_device_mapping: 'REBUILD',
    rebuild_spawning: 'REBUILD',
  },
  resized: { default: 'VERIFY_RESIZE', resize_reverting: 'REVERT_RESIZE' },
  paused: { default: 'PAUSED', migrating: 'MIGRATING' },
  suspended: { default: 'SUSPENDED' },
  rescued: { default: 'RESCUE' },
  error: {
    default: 'ERROR',
    rebuilding: 'REBUILD',
    rebuild_block_device_mapping: 'REBUILD',
    rebuild_spawning: 'REBUILD',
  },
  deleted: { default: 'DELETED' },
  'soft-delete': { default: 'SOFT_DELETED' },
  shelved: { default: 'SHELVED' },
  shelved_offloaded: { default: 'SHELVED_OFFLOADED' },
};
export function statusOf(i: Pick<Instance, 'vm_state' | 'task_state' | 'deleted'>): string {
  if (i.deleted) return 'DELETED';
  const m = STATE_MAP[i.vm_state];
  if (!m) return 'UNKNOWN';
  return (i.task_state && m[i.task_state]) || m.default!;
}

/** The (vm_state, task_state) pairs a status names (task_and_vm_state_from_status). */
function statesFromStatus(status: string): Array<{ vm: string; task: string }> {
  const out: Array<{ vm: string; task: string }> = [];
  for (const [vm, m] of Object.entries(STATE_MAP))
    for (const [task, s] of Object.entries(m)) if (s.toLowerCase() === status.toLowerCase()) out.push({ vm, task });
  return out;
}

function invalidState(action: string, inst: Instance, attr: 'vm_state' | 'task_state' = 'vm_state') {
  return conflict(
    `Cannot '${action}' instance ${inst.uuid} while it is in ${attr} ${attr === 'vm_state' ? inst.vm_state : inst.task_state}`,
  );
}

// ---- view ----------------------------------------------------------------------------

const hostId = (i: Instance) =>
  i.host
    ? createHash('sha224')
        .update(i.project_id + i.host)
        .digest('hex')
    : '';

function addresses(i: Instance, extended: boolean) {
  if (i.vm_state === VmState.BUILDING) return {};
  const out: Record<string, unknown[]> = {};
  for (const v of i.network_info) {
    const l = out[v.network_label] ?? (out[v.network_label] = []);
    for (const f of v.fixed_ips)
      l.push(
        extended
          ? {
              version: f.version,
              addr: f.ip_address,
              'OS-EXT-IPS:type': 'fixed',
              'OS-EXT-IPS-MAC:mac_addr': v.mac_address,
            }
          : { version: f.version, addr: f.ip_address },
      );
    for (const ip of v.floating_ips ?? [])
      l.push(
        extended
          ? {
              version: ip.includes(':') ? 6 : 4,
              addr: ip,
              'OS-EXT-IPS:type': 'floating',
              'OS-EXT-IPS-MAC:mac_addr': v.mac_address,
            }
          : { version: ip.includes(':') ? 6 : 4, addr: ip },
      );
  }
  return out;
}

function flavorView(req: FastifyRequest, f: Flavor, showExtraSpecs: boolean) {
  if (mv(req).gte('2.47')) {
    const d: Record<string, unknown> = {
      vcpus: f.vcpus,
      ram: f.ram,
      disk: f.disk,
      ephemeral: f.ephemeral,
      swap: f.swap,
      original_name: f.name,
    };
    if (showExtraSpecs) d.extra_specs = f.extra_specs ?? {};
    return d;
  }
  return { id: String(f.id), links: [{ rel: 'bookmark', href: `${req.baseUrl}/flavors/${f.id}` }] };
}

/**
 * The server view. `reduced` is what PUT and rebuild answered before 2.75 (no addresses' extra
 * fields, AZ, config drive, extended attributes, host status, key, usage, security groups,
 * states, volumes or groups unless `keypair` / `serverGroups` say so).
 */
export function serverView(
  req: FastifyRequest,
  i: Instance,
  opts: {
    reduced?: boolean;
    keypair?: boolean;
    serverGroups?: boolean;
    userData?: boolean;
    /** The server's volumes (its block device mappings onto volumes). */
    volumes?: BlockDevice[];
  } = {},
) {
  const v = mv(req);
  const full = !opts.reduced;
  const extended = full && allowed(req, 'os_compute_api:os-extended-server-attributes', { project_id: i.project_id });
  const extraSpecs =
    v.gte('2.47') && allowed(req, 'os_compute_api:servers:show:flavor-extra-specs', { project_id: i.project_id });
  const status = statusOf(i);
  const s: Record<string, unknown> = {
    id: i.uuid,
    name: i.display_name,
    status,
    tenant_id: i.project_id,
    user_id: i.user_id,
    metadata: i.metadata,
    hostId: hostId(i),
    image: i.image_ref
      ? { id: i.image_ref, links: [{ rel: 'bookmark', href: `${req.baseUrl}/images/${i.image_ref}` }] }
      : '',
    flavor: flavorView(req, i.flavor, extraSpecs),
    created: isoZ(i.created_at),
    updated: isoZ(i.updated_at),
    addresses: addresses(i, full),
    accessIPv4: i.access_ip_v4 ?? '',
    accessIPv6: i.access_ip_v6 ?? '',
    links: links(req, 'servers', i.uuid),
    'OS-DCF:diskConfig': (i.system_metadata.disk_config as string) ?? 'MANUAL',
  };
  if ((status === 'ERROR' || status === 'DELETED') && i.fault) {
    const f: Record<string, unknown> = { code: i.fault.code, created: isoZ(i.fault.created), message: i.fault.message };
    if (i.fault.details && (isAdmin(req) || i.fault.code !== 500)) f.details = i.fault.details;
    s.fault = f;
  }
  if (['BUILD', 'REBUILD', 'RESIZE', 'VERIFY_RESIZE', 'MIGRATING'].includes(status)) s.progress = i.progress ?? 0;
  if (full) {
    s['OS-EXT-AZ:availability_zone'] = i.availability_zone ?? '';
    s.config_drive = i.config_drive ?? '';
  }
  if (full || opts.keypair) s.key_name = i.key_name;
  if (full) {
    s['OS-SRV-USG:launched_at'] = i.launched_at ? i.launched_at.replace(/Z$/, '') : null;
    s['OS-SRV-USG:terminated_at'] = i.terminated_at ? i.terminated_at.replace(/Z$/, '') : null;
    if (i.security_groups.length) s.security_groups = i.security_groups.map((g) => ({ name: g.name }));
  }
  if (extended) {
    s['OS-EXT-SRV-ATTR:host'] = i.host;
    s['OS-EXT-SRV-ATTR:instance_name'] = `instance-${i.uuid.slice(0, 8)}`;
    s['OS-EXT-SRV-ATTR:hypervisor_hostname'] = i.node;
    if (v.gte('2.3')) {
      s['OS-EXT-SRV-ATTR:reservation_id'] = i.reservation_id;
      s['OS-EXT-SRV-ATTR:launch_index'] = i.launch_index;
      s['OS-EXT-SRV-ATTR:hostname'] = i.hostname;
      s['OS-EXT-SRV-ATTR:kernel_id'] = '';
      s['OS-EXT-SRV-ATTR:ramdisk_id'] = '';
      s['OS-EXT-SRV-ATTR:root_device_name'] = '/dev/vda';
      if (opts.userData !== false) s['OS-EXT-SRV-ATTR:user_data'] = i.user_data;
    }
  }
  if (full) {
    s['OS-EXT-STS:task_state'] = i.task_state;
    s['OS-EXT-STS:vm_state'] = i.vm_state;
    s['OS-EXT-STS:power_state'] = i.power_state;
    s['os-extended-volumes:volumes_attached'] = (opts.volumes ?? [])
      .filter((b) => b.destination_type === 'volume' && b.volume_id)
      .map((b) =>
        v.gte('2.3') ? { id: b.volume_id, delete_on_termination: b.delete_on_termination } : { id: b.volume_id },
      );
    if (v.gte('2.16') && allowed(req, 'os_compute_api:servers:show:host_status', { project_id: i.project_id }))
      s.host_status = i.host ? 'UP' : '';
  }
  if (v.gte('2.9')) s.locked = i.locked;
  if (v.gte('2.73')) s.locked_reason = i.locked_reason;
  if (v.gte('2.19')) s.description = i.display_description;
  if (v.gte('2.26')) s.tags = i.tags;
  if (v.gte('2.63')) s.trusted_image_certificates = i.trusted_certs;
  if (v.gte('2.90') && !extended) s['OS-EXT-SRV-ATTR:hostname'] = i.hostname;
  if (v.gte('2.71') && (full || opts.serverGroups))
    s.server_groups = (i.system_metadata.server_groups as string[] | undefined) ?? [];
  return s;
}

// ---- helpers -------------------------------------------------------------------------

/** A server the caller may see: another project's is a 404 for non-admins (Nova's project_only). */
export async function getServer(
  svc: ComputeService,
  req: FastifyRequest,
  id: string,
  opts: { readDeleted?: boolean } = {},
): Promise<Instance> {
  return visibleServer(req, await svc.parts.store.get(id, opts), id);
}

/** The server if the caller may see it (an admin, or its project), else Nova's 404. */
function visibleServer(req: FastifyRequest, inst: Instance | null, id: string): Instance {
  if (!inst || (!isAdmin(req) && inst.project_id !== req.ctx?.projectId))
    throw notFound(`Instance ${id} could not be found.`);
  return inst;
}

const idFromHref = (ref: string) => {
  const s = String(ref).replace(/\/+$/, '');
  return s.slice(s.lastIndexOf('/') + 1);
};

/** ISO 8601 as Nova's query schema takes it (a date, optionally a time and an offset). */
const ISO8601 = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

const NAME_FORMAT = /^(?!\s)[\P{C}]*(?<!\s)$/u;

function checkLocked(req: FastifyRequest, inst: Instance) {
  if (inst.locked && !isAdmin(req)) throw conflict(`Instance ${inst.uuid} is locked`);
}

// ---- create --------------------------------------------------------------------------

/**
 * The create schema of a microversion, built once: validateBody caches compiled schemas by
 * object, and a schema built per request was stringified whole on every create to find its
 * compiled twin.
 */
const createSchemas = new Map<string, object>();
function createSchemaOf(v: ReturnType<typeof mv>): object {
  const key = v.toString();
  let schema = createSchemas.get(key);
  if (!schema) {
    schema = createSchema(v);
    createSchemas.set(key, schema);
  }
  return schema;
}

/** A create request's server, as the microversion's schema (schemas/servers.ts) lets it through. */
interface ServerCreate {
  name: string;
  imageRef?: string;
  flavorRef: string | number;
  availability_zone?: string | null;
  host?: string;
  hypervisor_hostname?: string;
  min_count?: number | string;
  max_count?: number | string;
  block_device_mapping?: LegacyBdm[];
  block_device_mapping_v2?: RequestedBdm[];
  key_name?: string | null;
  networks?: unknown;
  security_groups?: Array<{ name?: string }>;
  user_data?: string;
  tags?: string[];
  adminPass?: string;
  hostname?: string;
  config_drive?: unknown;
  metadata?: Record<string, string>;
  description?: string | null;
  accessIPv4?: string | null;
  accessIPv6?: string | null;
  trusted_image_certificates?: string[] | null;
  return_reservation_id?: unknown;
  'OS-DCF:diskConfig'?: string;
}
interface ServerCreateBody {
  server: ServerCreate;
  'os:scheduler_hints'?: Record<string, unknown>;
  'OS-SCH-HNT:scheduler_hints'?: Record<string, unknown>;
}
/** An update request's server (schemas/servers.ts updateSchema). */
type ServerUpdate = Partial<
  Pick<ServerCreate, 'name' | 'description' | 'accessIPv4' | 'accessIPv6' | 'hostname' | 'OS-DCF:diskConfig'>
>;

export async function createServer(svc: ComputeService, req: FastifyRequest, reply: FastifyReply) {
  const v = mv(req);
  const body = validateBody<ServerCreateBody>(req, createSchemaOf(v));
  const sd = body.server;
  const ctx = req.ctx!;
  if (!NAME_FORMAT.test(sd.name))
    throw badRequest(
      "An invalid 'name' value was provided. The name must be: printable characters. Can not start or end with whitespace.",
    );
  const target = {
    project_id: ctx.projectId ?? null,
    user_id: ctx.userId,
    availability_zone: sd.availability_zone ?? null,
  };
  authorize(req, 'os_compute_api:servers:create', target);
  const { store, clients } = svc.parts;

  const minCount = Number(sd.min_count ?? 1);
  const maxCount = Number(sd.max_count ?? minCount);
  if (minCount > maxCount) throw badRequest('min_count must be <= max_count');

  // Availability zone, possibly zone:host[:node] (forced host, admin only).
  let az: string | null = sd.availability_zone ?? null;
  let forcedHost: string | null = null;
  let ignoreFilters = false;
  if (az && az.includes(':')) {
    const [zone, host] = az.split(':');
    az = zone || null;
    forcedHost = host || null;
    ignoreFilters = !!forcedHost;
    if (forcedHost) authorize(req, 'os_compute_api:servers:create:forced_host', target);
  }
  if (sd.host || sd.hypervisor_hostname) {
    authorize(req, 'compute:servers:create:requested_destination', target);
    // 2.74's host is requested, not forced: the filters still run.
    forcedHost = sd.host ?? sd.hypervisor_hostname ?? null;
    ignoreFilters = false;
  }
  if (forcedHost && !(await computeNodeExists(svc.db, forcedHost))) {
    throw badRequest(`Compute host ${forcedHost} could not be found.`);
  }
  if (az) {
    const zones = svc.providers.availabilityZones
      ? await svc.providers.availabilityZones()
      : [svc.options.defaultAvailabilityZone];
    if (!zones.includes(az)) throw badRequest('The requested availability zone is not available');
  }

  // Image, or the block device mappings' boot source (an image, or a volume: boot from volume).
  let imageRef: string | null = sd.imageRef ? idFromHref(sd.imageRef) : null;
  if (imageRef && !isUuidLike(imageRef)) throw badRequest('Invalid imageRef provided.');
  const legacyBdms = sd.block_device_mapping as LegacyBdm[] | undefined;
  if (legacyBdms?.length && (sd.block_device_mapping_v2 as unknown[] | undefined)?.length)
    throw badRequest('Using different block_device_mapping syntaxes is not allowed in the same request.');
  const requestedBdms = legacyBdms?.length
    ? fromLegacyMapping(legacyBdms, imageRef)
    : (sd.block_device_mapping_v2 as RequestedBdm[] | undefined);
  let plan = await planBlockDevices(svc, req, requestedBdms, imageRef, maxCount);
  imageRef = plan.imageRef;
  let image: ImageMeta;
  if (plan.volumeBacked) {
    image = plan.image ?? { id: '', status: 'active', properties: {} };
  } else {
    if (!imageRef) throw badRequest('Missing imageRef attribute');
    imageRef = idFromHref(imageRef);
    if (!isUuidLike(imageRef)) throw badRequest('Invalid imageRef provided.');
    const found = await clients.getImage(imageRef, ctx.token);
    if (!found) throw badRequest('Can not find requested image');
    if (found.status !== 'active') throw badRequest(`Image ${imageRef} is not active.`);
    image = found;
    // An image of a volume-backed server's snapshot carries its mappings: the server boots from
    // new volumes of those snapshots (the image's own mappings first, then the request's).
    const carried = imageMappings(found);
    if (carried.length) {
      plan = await planBlockDevices(svc, req, [...carried, ...(requestedBdms ?? [])], null, maxCount);
      image = plan.image ?? found;
    }
  }

  // Flavor.
  const flavorId = idFromHref(String(sd.flavorRef));
  const flavor = svc.providers.flavors
    ? await svc.providers.flavors.find(flavorId, { projectId: ctx.projectId, admin: isAdmin(req) })
    : null;
  if (!flavor || flavor.disabled) throw badRequest(`Flavor ${flavorId} could not be found.`);
  const localError = requestedBdms ? localMappingError(requestedBdms, flavor, !plan.volumeBacked) : null;
  if (localError) throw badRequest(localError);
  if (flavor.ram < Number(image.properties.min_ram ?? 0))
    throw badRequest("Flavor's memory is too small for requested image.");
  // A volume-backed server's root disk is its volume: the flavor's disk does not hold the image.
  if (!plan.volumeBacked && flavor.disk && flavor.disk < Number(image.properties.min_disk ?? 0))
    throw badRequest("Flavor's disk is too small for requested image.");
  if (!plan.volumeBacked && image.size && flavor.disk && image.size > flavor.disk * 1024 ** 3)
    throw badRequest("Flavor's disk is too small for requested image.");

  // Key pair.
  let keyData: string | null = null;
  if (sd.key_name) {
    const kp = svc.providers.keypairs ? await svc.providers.keypairs.find(ctx.userId, sd.key_name) : null;
    if (!kp) throw badRequest('Invalid key_name provided.');
    keyData = kp.public_key;
  }

  // Networks, validated with the caller's token: only what the caller may see can be used.
  const { requested, portSecurityOff } = await requestedNetworks(svc, req, sd.networks, maxCount);

  // Security groups: names or ids, resolved in the caller's project.
  let securityGroups: Array<{ name: string; id: string }> = [];
  let sgIds: string[] | undefined;
  const sgNames = [
    ...new Set(
      ((sd.security_groups ?? []) as Array<{ name?: string }>).map((g) => g.name).filter((n): n is string => !!n),
    ),
  ];
  if (sgNames.length && requested.length) {
    for (const name of sgNames) {
      const r = await clients.network.listSecurityGroups(
        { [isUuidLike(name) ? 'id' : 'name']: name, project_id: ctx.projectId ?? '' },
        { token: ctx.token },
      );
      let g = r.body?.security_groups?.[0];
      if (!g && isUuidLike(name))
        g = (await clients.network.getSecurityGroup(name, { token: ctx.token })).body?.security_group;
      if (!g) throw badRequest(`Security group ${name} not found.`);
      securityGroups.push({ name: g.name, id: g.id });
    }
    sgIds = securityGroups.map((g) => g.id);
  } else if (requested.length && portSecurityOff < requested.length) securityGroups = [{ name: 'default', id: '' }];
  // else: every port has port security off, so Neutron gives none of them a group, and Nova's
  // server shows the ports' groups (none), not 'default'.

  // User data must be base64 (the schema checks the alphabet; this checks the padding).
  if (
    sd.user_data !== undefined &&
    Buffer.from(sd.user_data, 'base64').toString('base64').replace(/=+$/, '') !==
      sd.user_data.replace(/\s/g, '').replace(/=+$/, '')
  ) {
    throw badRequest('Userdata content cannot be decoded.');
  }
  const tags: string[] = v.gte('2.52') ? [...new Set((sd.tags ?? []) as string[])] : [];
  const reservationId = `r-${randomBytes(4).toString('hex').slice(0, 8)}`;
  const adminPass: string = sd.adminPass ?? randomBytes(9).toString('base64').replace(/[+/=]/g, 'x');
  if (sd.hostname && maxCount > 1)
    throw badRequest('Unable to launch multiple instances with a single configured hostname.');
  const configDrive = sd.config_drive !== undefined && isTrue(sd.config_drive) ? 'True' : '';
  const zone = az ?? svc.options.defaultAvailabilityZone;
  const requestId = req.id;

  // Quotas, as Nova checks them at create: metadata items, then instances/cores/ram (as many
  // servers as fit between min_count and max_count).
  const quotas = svc.parts.quotas;
  await quotas.checkMetadata(ctx.projectId!, ctx.userId, Object.keys(sd.metadata ?? {}).length);
  // Server group (the `group` hint): it must exist; the servers become its members.
  const hints = (body['os:scheduler_hints'] ?? body['OS-SCH-HNT:scheduler_hints'] ?? {}) as Record<string, unknown>;
  const groups = svc.parts.serverGroups;
  let group: { uuid: string; policy: string } | undefined;
  if (hints.group !== undefined) {
    group = await groups.get(String(hints.group));
    if (!group) throw badRequest(`Instance group ${String(hints.group)} could not be found.`);
  }

  // The quota check and the rows it counts happen under one lock per project, so concurrent
  // creates never pass the quota together (one API process; Nova rechecks after the create).
  const release = await projectLock(ctx.projectId!);
  const created: Instance[] = [];
  try {
    const count = await quotas.checkServers(ctx.projectId!, ctx.userId, flavor, minCount, maxCount);
    for (let n = 0; n < count; n++) {
      const uuid = randomUUID();
      // Nova's _populate_instance_names: the suffix when the request makes more than one.
      const name = count > 1 ? `${sd.name}-${n + 1}` : sd.name;
      const inst = await store.create({
        uuid,
        display_name: name,
        display_description: v.gte('2.19') ? (sd.description ?? null) : sd.name,
        project_id: ctx.projectId!,
        user_id: ctx.userId,
        image_ref: imageRef,
        flavor: {
          id: flavor.id,
          name: flavor.name,
          vcpus: flavor.vcpus,
          ram: flavor.ram,
          disk: flavor.disk,
          ephemeral: flavor.ephemeral,
          swap: flavor.swap,
          extra_specs: flavor.extra_specs ?? {},
        },
        host: null,
        node: null,
        availability_zone: zone,
        vm_state: VmState.BUILDING,
        task_state: 'scheduling',
        power_state: PowerState.NOSTATE,
        key_name: sd.key_name ?? null,
        key_data: keyData,
        user_data: sd.user_data ?? null,
        config_drive: configDrive,
        access_ip_v4: accessIp(sd.accessIPv4),
        access_ip_v6: accessIp(sd.accessIPv6),
        metadata: sd.metadata ?? {},
        system_metadata: {
          disk_config: sd['OS-DCF:diskConfig'] ?? 'MANUAL',
          image_name: image.name ?? null,
          ...(group ? { server_groups: [group.uuid] } : {}),
        },
        security_groups: securityGroups,
        requested_networks: requested,
        network_info: [],
        fault: null,
        locked: false,
        locked_by: null,
        locked_reason: null,
        hostname: sd.hostname ?? defaultHostname(sd.name, uuid, count, n),
        launch_index: n,
        reservation_id: reservationId,
        progress: 0,
        trusted_certs: sd.trusted_image_certificates ?? null,
        tags,
        launched_at: null,
        terminated_at: null,
      });
      await store.startAction({
        instance_uuid: uuid,
        action: 'create',
        request_id: requestId,
        user_id: ctx.userId,
        project_id: ctx.projectId,
      });
      notifyInstance(svc.ctx.bus, `nova-api:${svc.options.host}`, 'create.start', inst);
      created.push(inst);
    }
  } finally {
    release();
  }
  // The servers' volumes: brought ones reserved, the others created in the caller's project.
  if (plan.devices.length) {
    try {
      for (const inst of created) await createServerVolumes(svc, req, inst.uuid, plan);
    } catch (e) {
      for (const inst of created) {
        await releaseVolumes(clients.blockStorage, svc.parts.blockDevices, inst.uuid, req.log);
        await store.markDeleted(inst.uuid);
      }
      throw e;
    }
  }
  if (group)
    await groups.addMembers(
      group.uuid,
      created.map((i) => i.uuid),
    );
  const build: BuildRequest = {
    uuids: created.map((i) => i.uuid),
    request_id: requestId,
    image,
    availability_zone: az,
    force_host: forcedHost,
    ignore_filters: ignoreFilters,
    security_group_ids: sgIds,
    group: group?.uuid,
    different_host: hostList(hints.different_host),
    same_host: hostList(hints.same_host),
    volumes: plan.devices.length > 0,
  };
  conductorRpc(svc.ctx.bus).cast().build_instances(build);

  reply.code(202);
  if (sd.return_reservation_id !== undefined && isTrue(sd.return_reservation_id))
    return { reservation_id: reservationId };
  const first = created[0]!;
  const out: Record<string, unknown> = {
    id: first.uuid,
    links: links(req, 'servers', first.uuid),
    'OS-DCF:diskConfig': sd['OS-DCF:diskConfig'] ?? 'MANUAL',
    security_groups: sd.security_groups ?? [{ name: 'default' }],
  };
  out.adminPass = adminPass;
  return { server: out };
}

const locks = new Map<string, Promise<void>>();
/** An in-process lock per project: resolves with its release function. */
async function projectLock(project: string): Promise<() => void> {
  const prev = locks.get(project) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((r) => {
    release = r;
  });
  const chained = prev.then(() => mine);
  locks.set(project, chained);
  await prev;
  return () => {
    release();
    if (locks.get(project) === chained) locks.delete(project);
  };
}

const hostList = (v: unknown): string[] | undefined =>
  v === undefined ? undefined : (Array.isArray(v) ? v : [v]).map(String);

/** The create request's `networks`, checked against what the caller may see (Nova's validate_networks). */
async function requestedNetworks(
  svc: ComputeService,
  req: FastifyRequest,
  networks: unknown,
  maxCount: number,
): Promise<{ requested: RequestedNetwork[]; portSecurityOff: number }> {
  const { clients } = svc.parts;
  const token = req.ctx!.token;
  const projectId = req.ctx!.projectId!;
  if (networks === 'none') return { requested: [], portSecurityOff: 0 };
  if (networks === undefined || networks === 'auto') {
    const r = await clients.network.listNetworks({}, { token });
    const visible = (r.body?.networks ?? []).filter(
      (n) => !n['router:external'] && (n.project_id === projectId || n.shared),
    );
    if (visible.length > 1)
      throw conflict(
        'More than one possible network found. Specify network ID(s) to select which one(s) to connect to.',
      );
    if (visible.length === 1)
      return {
        requested: [{ network_id: visible[0].id }],
        portSecurityOff: visible[0].port_security_enabled === false ? 1 : 0,
      };
    if (networks === undefined) return { requested: [], portSecurityOff: 0 };
    const auto = await clients.network.autoAllocatedTopology(projectId);
    if (auto.status !== 200) throw badRequest(`Unable to automatically allocate a network for project ${projectId}`);
    return { requested: [{ network_id: auto.body.auto_allocated_topology.id }], portSecurityOff: 0 };
  }
  const out: RequestedNetwork[] = [];
  let portSecurityOff = 0;
  for (const n of networks as Array<{ uuid?: string; port?: string | null; fixed_ip?: string; tag?: string }>) {
    authorize(req, 'os_compute_api:servers:create:attach_network', { project_id: projectId, user_id: req.ctx!.userId });
    if (n.port) {
      if (maxCount > 1) throw badRequest('Multiple instances cannot be created with the same port.');
      const p = await clients.network.getPort(n.port, { token });
      if (p.status !== 200) throw badRequest(`Port id ${n.port} could not be found.`);
      if (p.body.port.device_id) throw conflict(`Port ${n.port} is still in use.`);
      out.push({ port_id: n.port, network_id: p.body.port.network_id, tag: n.tag });
      if (p.body.port.port_security_enabled === false) portSecurityOff++;
      continue;
    }
    if (!n.uuid) throw badRequest('Bad networks format: network uuid is not in proper format ()');
    if (!isUuidLike(n.uuid)) throw badRequest(`Bad networks format: network uuid is not in proper format (${n.uuid})`);
    const r = await clients.network.getNetwork(n.uuid, { token });
    if (r.status !== 200) throw badRequest(`Network ${n.uuid} could not be found.`);
    if (!((r.body.network.subnets as string[] | undefined) ?? []).length)
      throw badRequest(`Network ${n.uuid} requires a subnet in order to boot instances on.`);
    if (r.body.network['router:external'] && !r.body.network.shared)
      authorize(req, 'network:attach_external_network', { project_id: projectId });
    if (n.fixed_ip && maxCount > 1) throw badRequest('max_count cannot be greater than 1 if an fixed_ip is specified.');
    out.push({ network_id: n.uuid, fixed_ip: n.fixed_ip, tag: n.tag });
    if (r.body.network.port_security_enabled === false) portSecurityOff++;
  }
  return { requested: out, portSecurityOff };
}

// ---- list ----------------------------------------------------------------------------

export async function listServers(svc: ComputeService, req: FastifyRequest, detail: boolean) {
  const v = mv(req);
  authorize(req, detail ? 'os_compute_api:servers:detail' : 'os_compute_api:servers:index');
  const q = queryOf(req);
  const get = (k: string) => {
    const all = q.getAll(k);
    return all.length ? all[all.length - 1]! : undefined;
  };
  const admin = isAdmin(req);
  const allFilters = allowed(req, 'os_compute_api:servers:allow_all_filters');
  const allTenants =
    get('all_tenants') !== undefined &&
    (get('all_tenants') === '' ||
      isTrue(get('all_tenants')!) ||
      !['0', 'false', 'off', 'no'].includes(get('all_tenants')!.toLowerCase()));
  if (allTenants)
    authorize(
      req,
      detail ? 'os_compute_api:servers:detail:get_all_tenants' : 'os_compute_api:servers:index:get_all_tenants',
    );

  const limitRaw = get('limit');
  let limit: number | undefined;
  if (limitRaw !== undefined) {
    if (!/^[0-9]+$/.test(limitRaw))
      throw badRequest(
        `Invalid input for query parameters limit. Value: ${limitRaw}. '${limitRaw}' does not match '^[0-9]*$'`,
      );
    limit = Math.min(Number(limitRaw), 1000);
  }
  const sortKeys = q.getAll('sort_key');
  const sortDirs = q.getAll('sort_dir');
  for (const k of sortKeys)
    if (!SORT_KEYS.includes(k))
      throw badRequest(
        `Invalid input for query parameters sort_key. Value: ${k}. '${k}' is not one of [${SORT_KEYS.map((x) => `'${x}'`).join(', ')}]`,
      );
  for (const d of sortDirs)
    if (d !== 'asc' && d !== 'desc')
      throw badRequest(
        `Invalid input for query parameters sort_dir. Value: ${d}. '${d}' is not one of ['asc', 'desc']`,
      );
  const changesSince = get('changes-since');
  const changesBefore = v.gte('2.66') ? get('changes-before') : undefined;
  for (const [k, t] of [
    ['changes-since', changesSince],
    ['changes-before', changesBefore],
  ] as const) {
    if (t !== undefined && (!ISO8601.test(t) || Number.isNaN(Date.parse(t))))
      throw badRequest(`Invalid input for query parameters ${k}. Value: ${t}. '${t}' is not a 'date-time'`);
  }
  if (changesSince && changesBefore && Date.parse(changesSince) > Date.parse(changesBefore))
    throw badRequest('The value of changes-since must be less than or equal to changes-before.');
  const deletedParam = admin ? get('deleted') : undefined;
  const readDeleted =
    changesSince !== undefined || changesBefore !== undefined || (deletedParam !== undefined && isTrue(deletedParam));

  const { store } = svc.parts;
  let projectFilter: string | undefined = req.ctx!.projectId;
  if (allTenants) projectFilter = admin || allFilters ? (get('project_id') ?? get('tenant_id')) : projectFilter;
  // Without filters on JSON columns or tags, the list is filtered and sorted on light rows and
  // only the page is read whole (a page of 1,000 out of 10,000 servers parses 1,000, not 10,000).
  const light = !['flavor', 'ip', 'ip6', 'tags', 'tags-any', 'not-tags', 'not-tags-any'].some(
    (k) => get(k) !== undefined,
  );
  const load = (where: { projectId?: string; deleted?: boolean }) =>
    light ? store.listLight(where) : store.list(where);
  // status=deleted lets an admin see deleted servers without changes-since.
  let withDeleted = false;

  const filters: Array<(i: Instance) => boolean> = [];
  const name = get('name');
  if (name !== undefined) {
    let re: RegExp;
    try {
      re = new RegExp(name);
    } catch {
      re = new RegExp(name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    }
    filters.push((i) => re.test(i.display_name));
  }
  const status = q.getAll('status');
  if (status.length) {
    const states = status.flatMap(statesFromStatus);
    const wantsDeleted = status.some((s) => s.toLowerCase() === 'deleted');
    if (wantsDeleted && !readDeleted && admin) withDeleted = true;
    filters.push((i) =>
      i.deleted
        ? wantsDeleted && admin
        : states.some(
            (s) =>
              s.vm === i.vm_state &&
              (s.task === 'default' ? !STATE_MAP[i.vm_state]![i.task_state ?? ''] : s.task === i.task_state),
          ),
    );
  }
  const image = get('image');
  if (image !== undefined) filters.push((i) => i.image_ref === idFromHref(image));
  const flavor = get('flavor');
  if (flavor !== undefined) filters.push((i) => String(i.flavor.id) === idFromHref(flavor));
  if (changesSince) filters.push((i) => Date.parse(i.updated_at) >= Date.parse(changesSince));
  if (changesBefore) filters.push((i) => Date.parse(i.updated_at) <= Date.parse(changesBefore));
  const ip = get('ip');
  if (ip !== undefined) {
    const re = safeRe(ip);
    filters.push((i) => i.network_info.some((n) => n.fixed_ips.some((f) => f.version === 4 && re.test(f.ip_address))));
  }
  const ip6 = get('ip6');
  if (ip6 !== undefined && (v.gte('2.5') || admin)) {
    const re = safeRe(ip6);
    filters.push((i) => i.network_info.some((n) => n.fixed_ips.some((f) => f.version === 6 && re.test(f.ip_address))));
  }
  const simple: Array<[string, (i: Instance) => unknown]> = [['reservation_id', (i) => i.reservation_id]];
  if (v.gte('2.83') || admin || allFilters)
    simple.push(
      ['availability_zone', (i) => i.availability_zone],
      ['key_name', (i) => i.key_name],
      ['user_id', (i) => i.user_id],
      ['config_drive', (i) => i.config_drive],
      ['created_at', (i) => i.created_at],
      ['launched_at', (i) => i.launched_at],
      ['terminated_at', (i) => i.terminated_at],
      ['vm_state', (i) => i.vm_state],
      ['task_state', (i) => i.task_state],
      ['power_state', (i) => String(i.power_state)],
      ['progress', (i) => String(i.progress)],
    );
  if (admin || allFilters)
    simple.push(
      ['host', (i) => i.host],
      ['node', (i) => i.node],
      ['uuid', (i) => i.uuid],
      ['hostname', (i) => i.hostname],
    );
  for (const [k, f] of simple) {
    const want = get(k);
    if (want !== undefined) filters.push((i) => String(f(i) ?? '') === want);
  }
  if (v.gte('2.73') && get('locked') !== undefined) {
    const lv = get('locked')!.toLowerCase();
    if (!['true', 'false', '1', '0', 'yes', 'no', 'on', 'off', 't', 'f', 'y', 'n'].includes(lv))
      throw badRequest(
        `Unrecognized value '${get('locked')}', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'`,
      );
    const want = ['true', '1', 'yes', 'on', 't', 'y'].includes(lv);
    filters.push((i) => i.locked === want);
  }
  if (v.gte('2.26')) {
    const list = (k: string) => (get(k) ?? '').split(',').filter(Boolean);
    const tags = list('tags'),
      any = list('tags-any'),
      notTags = list('not-tags'),
      notAny = list('not-tags-any');
    if (tags.length) filters.push((i) => tags.every((t) => i.tags.includes(t)));
    if (any.length) filters.push((i) => any.some((t) => i.tags.includes(t)));
    if (notTags.length) filters.push((i) => !notTags.every((t) => i.tags.includes(t)));
    if (notAny.length) filters.push((i) => !notAny.some((t) => i.tags.includes(t)));
  }

  // Sort: created_at desc then uuid desc by default, as Nova.
  const keys = sortKeys.length ? sortKeys : ['created_at'];
  const dirs = keys.map((_, n) => sortDirs[n] ?? sortDirs[0] ?? 'desc');
  if (!keys.includes('uuid')) {
    keys.push('uuid');
    dirs.push(dirs[0] ?? 'desc');
  }
  const marker = get('marker');
  const max = limit ?? 1000;

  let items: Instance[];
  if (
    light &&
    !filters.length &&
    !readDeleted &&
    !withDeleted &&
    deletedParam === undefined &&
    keys.every((k) => k === 'created_at' || k === 'uuid')
  ) {
    // No filters, a sort on created_at/uuid (the default): the page comes from SQL, not from every server of the project.
    const r = await store.pageLight({
      projectId: projectFilter,
      order: keys.map((k, n) => ({ key: k as 'created_at' | 'uuid', dir: dirs[n] as 'asc' | 'desc' })),
      marker,
      limit: max,
    });
    if (!r) throw badRequest(`marker [${marker}] not found`);
    const items = detail ? await store.getMany(r.items.map((i) => i.uuid)) : r.items;
    return pageAnswer(req, q, detail, items, max, r.more, detail ? await volumesOf(svc, items) : undefined);
  }
  if (withDeleted) items = await load({ projectId: projectFilter });
  else {
    items = await load({ projectId: projectFilter, deleted: readDeleted ? undefined : false });
    if (deletedParam !== undefined && !isTrue(deletedParam)) items = items.filter((i) => !i.deleted);
    else if (deletedParam !== undefined) items = items.filter((i) => i.deleted);
  }
  items = items.filter((i) => filters.every((f) => f(i)));
  // A sort key's column (the keys are checked against Nova's list): strings, numbers or null.
  type Column = string | number | null | undefined;
  const col = (i: Instance, k: string): Column =>
    k === 'display_name'
      ? i.display_name
      : k === 'display_description'
        ? i.display_description
        : (i as unknown as Record<string, Column>)[k];
  items.sort((a, b) => {
    for (let n = 0; n < keys.length; n++) {
      const x = col(a, keys[n]!),
        y = col(b, keys[n]!);
      if (x === y) continue;
      const c = x === null || x === undefined ? -1 : y === null || y === undefined ? 1 : x < y ? -1 : 1;
      return dirs[n] === 'asc' ? c : -c;
    }
    return 0;
  });
  if (marker !== undefined) {
    const at = items.findIndex((i) => i.uuid === marker);
    if (at < 0) throw badRequest(`marker [${marker}] not found`);
    items = items.slice(at + 1);
  }
  const page = items.slice(0, max);
  const shown = light && detail ? await store.getMany(page.map((i) => i.uuid)) : page;
  return pageAnswer(
    req,
    q,
    detail,
    shown,
    max,
    items.length > page.length,
    detail ? await volumesOf(svc, shown) : undefined,
  );
}

/** The mappings an image carries (`block_device_mapping` with `bdm_v2`, from a volume-backed server's snapshot). */
function imageMappings(image: ImageMeta): RequestedBdm[] {
  const raw = image.properties.block_device_mapping;
  if (!raw || !isTrue(String(image.properties.bdm_v2 ?? ''))) return [];
  try {
    const list = (typeof raw === 'string' ? JSON.parse(raw) : raw) as Array<Record<string, unknown>>;
    return list.map((m) => ({
      source_type: m.source_type as RequestedBdm['source_type'],
      destination_type: m.destination_type as RequestedBdm['destination_type'],
      uuid: (m.snapshot_id ?? m.volume_id ?? m.image_id ?? undefined) as string | undefined,
      boot_index: m.boot_index as number | null,
      volume_size: (m.volume_size ?? undefined) as number | undefined,
      delete_on_termination: Boolean(m.delete_on_termination),
      device_name: (m.device_name ?? null) as string | null,
      volume_type: (m.volume_type ?? null) as string | null,
      tag: (m.tag ?? undefined) as string | undefined,
    }));
  } catch {
    return [];
  }
}

/** The volumes of a page of servers, for their `os-extended-volumes:volumes_attached`. */
const volumesOf = (svc: ComputeService, page: Instance[]) => svc.parts.blockDevices.volumesOf(page.map((i) => i.uuid));

/** The list's answer: the page's servers and, when more follow a full page, the link to the next. */
function pageAnswer(
  req: FastifyRequest,
  q: URLSearchParams,
  detail: boolean,
  page: Instance[],
  max: number,
  more: boolean,
  volumes?: Map<string, BlockDevice[]>,
) {
  const servers = page.map((i) =>
    detail
      ? serverView(req, i, { volumes: volumes?.get(i.uuid) })
      : { id: i.uuid, name: i.display_name, links: links(req, 'servers', i.uuid) },
  );
  const out: Record<string, unknown> = { servers };
  if (page.length && page.length === max && more) {
    const u = new URLSearchParams(q);
    u.set('limit', String(max));
    u.set('marker', page[page.length - 1]!.uuid);
    out.servers_links = [
      { rel: 'next', href: `${req.baseUrl}/v2.1/servers${detail ? '/detail' : ''}?${u.toString()}` },
    ];
  }
  return out;
}

/** Access addresses are kept in their canonical form, as Nova's IPAddress column keeps them ('::babe:dc0c:1602'). */
function accessIp(s: string | null | undefined): string | null {
  if (s === undefined || s === null || s === '') return s ?? null;
  return normalizeIp(s) ?? s;
}

function safeRe(s: string): RegExp {
  try {
    return new RegExp(s);
  } catch {
    return new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  }
}

// ---- delete and actions ----------------------------------------------------------------

/**
 * DELETE with reclaimInstanceInterval > 0 (deleteServer asks this first): a server that ran on
 * a host that is up becomes SOFT_DELETED, restorable until the agent reclaims it. Answers
 * false when the plain delete applies.
 */
async function softDelete(svc: ComputeService, req: FastifyRequest, inst: Instance): Promise<boolean> {
  if (svc.options.reclaimInstanceInterval <= 0 || !inst.host || !inst.launched_at) return false;
  if (inst.vm_state === VmState.SOFT_DELETED) return false;
  if (!(await computeHostIsUp(svc, inst.host))) return false;
  checkLocked(req, inst);
  if (
    !(await svc.parts.store.update(
      inst.uuid,
      { task_state: 'soft-deleting', deleted_at: new Date().toISOString() },
      { expectTaskState: [null] },
    ))
  ) {
    return false;
  }
  await recordAction(svc.parts.store, req, inst.uuid, 'delete');
  computeRpc(svc.ctx.bus).cast(inst.host).soft_delete_instance({ uuid: inst.uuid, request_id: req.id });
  return true;
}

export async function deleteServer(
  svc: ComputeService,
  req: FastifyRequest,
  inst: Instance,
  opts: { force?: boolean } = {},
) {
  const { store, clients } = svc.parts;
  checkLocked(req, inst);
  // Deferred delete (compute.reclaimInstanceInterval > 0): SOFT_DELETED instead.
  if (!opts.force && (await softDelete(svc, req, inst))) return;
  await recordAction(store, req, inst.uuid, 'delete');
  await store.update(inst.uuid, { task_state: 'deleting' });
  if (inst.host && (await computeHostIsUp(svc, inst.host))) {
    computeRpc(svc.ctx.bus).cast(inst.host).terminate_instance({ uuid: inst.uuid, request_id: req.id });
    return;
  }
  // No host (never built, or its build failed) or a host that is down: the API deletes it
  // itself (Nova's local delete), giving back what the build may have taken.
  notifyInstance(svc.ctx.bus, `nova-api:${svc.options.host}`, 'delete.start', inst);
  await store.event(inst.uuid, req.id, 'compute_terminate_instance', undefined, async () => {
    await releaseVolumes(clients.blockStorage, svc.parts.blockDevices, inst.uuid, req.log);
    await clients.releasePorts(inst);
    await clients.deleteAllocations(inst.uuid);
  });
  await store.markDeleted(inst.uuid);
  notifyInstance(svc.ctx.bus, `nova-api:${svc.options.host}`, 'delete.end', { ...inst, vm_state: VmState.DELETED });
}

interface PowerAction {
  rule: string;
  action: string;
  /** The agent's method (the power actions take the server and the request; reboot its type too). */
  method: Extract<
    keyof ComputeCoreRpc,
    | 'stop_instance'
    | 'start_instance'
    | 'reboot_instance'
    | 'pause_instance'
    | 'unpause_instance'
    | 'suspend_instance'
    | 'resume_instance'
  >;
  vmStates: string[];
  taskStates: Array<string | null>;
  taskState: string;
}
const POWER_ACTIONS: Record<string, PowerAction> = {
  'os-stop': {
    rule: 'os_compute_api:servers:stop',
    action: 'stop',
    method: 'stop_instance',
    vmStates: ['active', 'error'],
    taskStates: [null],
    taskState: 'powering-off',
  },
  'os-start': {
    rule: 'os_compute_api:servers:start',
    action: 'start',
    method: 'start_instance',
    vmStates: ['stopped'],
    taskStates: [null],
    taskState: 'powering-on',
  },
  pause: {
    rule: 'os_compute_api:os-pause-server:pause',
    action: 'pause',
    method: 'pause_instance',
    vmStates: ['active'],
    taskStates: [null],
    taskState: 'pausing',
  },
  unpause: {
    rule: 'os_compute_api:os-pause-server:unpause',
    action: 'unpause',
    method: 'unpause_instance',
    vmStates: ['paused'],
    taskStates: [null],
    taskState: 'unpausing',
  },
  suspend: {
    rule: 'os_compute_api:os-suspend-server:suspend',
    action: 'suspend',
    method: 'suspend_instance',
    vmStates: ['active'],
    taskStates: [null],
    taskState: 'suspending',
  },
  resume: {
    rule: 'os_compute_api:os-suspend-server:resume',
    action: 'resume',
    method: 'resume_instance',
    vmStates: ['suspended'],
    taskStates: [null],
    taskState: 'resuming',
  },
};
const RESET_STATE_SCHEMA = {
  type: 'object',
  properties: {
    'os-resetState': {
      type: 'object',
      properties: { state: { type: 'string', enum: ['active', 'error'] } },
      required: ['state'],
      additionalProperties: false,
    },
  },
  required: ['os-resetState'],
  additionalProperties: false,
};
const ACTION_NAMES: Record<string, string> = { 'os-stop': 'stop', 'os-start': 'start' };

/** The one key of an action body (routes.ts has checked that there is exactly one). */
const actionBody = (req: FastifyRequest) => {
  const body = req.body as Record<string, unknown>;
  return { body, name: Object.keys(body)[0]! };
};

/** os-start, os-stop, pause, unpause, suspend, resume, reboot: a task state, then a cast to the agent. */
export async function powerAction(svc: ComputeService, req: FastifyRequest, reply: FastifyReply, id: string) {
  const { body, name } = actionBody(req);
  const { store } = svc.parts;
  const power = POWER_ACTIONS[name];
  const inst = await getServer(svc, req, id);
  let a = power;
  let extra: { reboot_type?: 'SOFT' | 'HARD' } = {};
  if (name === 'reboot') {
    const hard = validateBody<{ reboot: { type: string } }>(req, REBOOT_SCHEMA).reboot.type.toUpperCase() === 'HARD';
    a = hard
      ? {
          rule: 'os_compute_api:servers:reboot',
          action: 'reboot',
          method: 'reboot_instance',
          vmStates: ['active', 'stopped', 'paused', 'suspended', 'error'],
          taskStates: [
            null,
            'rebooting',
            'reboot_pending',
            'reboot_started',
            'rebooting_hard',
            'reboot_pending_hard',
            'reboot_started_hard',
          ],
          taskState: 'rebooting_hard',
        }
      : {
          rule: 'os_compute_api:servers:reboot',
          action: 'reboot',
          method: 'reboot_instance',
          vmStates: ['active'],
          taskStates: [null],
          taskState: 'rebooting',
        };
    extra = { reboot_type: hard ? 'HARD' : 'SOFT' };
  }
  authorize(req, a!.rule, { project_id: inst.project_id, user_id: inst.user_id });
  checkLocked(req, inst);
  const actionName = ACTION_NAMES[name] ?? a!.action;
  if (!a!.vmStates.includes(inst.vm_state)) throw invalidState(actionName, inst);
  if (!a!.taskStates.includes(inst.task_state)) throw invalidState(actionName, inst, 'task_state');
  if (!inst.host) throw invalidState(actionName, inst);
  if (
    !(await store.update(
      inst.uuid,
      { task_state: a!.taskState },
      { expectTaskState: a!.taskStates, expectVmState: a!.vmStates },
    ))
  )
    throw invalidState(actionName, (await store.get(inst.uuid)) ?? inst, 'task_state');
  await recordAction(store, req, inst.uuid, a!.action);
  computeRpc(svc.ctx.bus)
    .cast(inst.host)
    [a!.method]({ uuid: inst.uuid, request_id: req.id, ...extra });
  return reply.code(202).send();
}

export async function lockServer(svc: ComputeService, req: FastifyRequest, reply: FastifyReply, id: string) {
  const { body } = actionBody(req);
  const { store } = svc.parts;
  const inst = await getServer(svc, req, id);
  authorize(req, 'os_compute_api:os-lock-server:lock', { project_id: inst.project_id, user_id: inst.user_id });
  let reason: string | null = null;
  if (mv(req).gte('2.73'))
    reason =
      validateBody<{ lock: { locked_reason?: string } | null }>(req, LOCK_SCHEMA_273).lock?.locked_reason ?? null;
  else if (body.lock !== null && (typeof body.lock !== 'object' || Object.keys(body.lock).length))
    throw badRequest(
      'Invalid input for field/attribute lock. Value: ' + JSON.stringify(body.lock) + ". None is not of type 'null'",
    );
  if (!inst.locked) {
    const by = inst.project_id === req.ctx!.projectId ? 'owner' : 'admin';
    await store.update(inst.uuid, { locked: true, locked_by: by, locked_reason: reason });
    await recordAction(store, req, inst.uuid, 'lock');
    notifyInstance(svc.ctx.bus, `nova-api:${svc.options.host}`, 'lock', { ...inst, locked: true });
  }
  return reply.code(202).send();
}

export async function unlockServer(svc: ComputeService, req: FastifyRequest, reply: FastifyReply, id: string) {
  const { store } = svc.parts;
  const inst = await getServer(svc, req, id);
  authorize(req, 'os_compute_api:os-lock-server:unlock', { project_id: inst.project_id, user_id: inst.user_id });
  if (inst.locked && inst.locked_by === 'admin' && inst.project_id === req.ctx!.projectId) {
    authorize(req, 'os_compute_api:os-lock-server:unlock:unlock_override', {
      project_id: inst.project_id,
      user_id: inst.user_id,
    });
  } else if (inst.locked && inst.locked_by === 'admin' && !isAdmin(req)) {
    authorize(req, 'os_compute_api:os-lock-server:unlock:unlock_override', {
      project_id: inst.project_id,
      user_id: inst.user_id,
    });
  }
  if (inst.locked) {
    await store.update(inst.uuid, { locked: false, locked_by: null, locked_reason: null });
    await recordAction(store, req, inst.uuid, 'unlock');
    notifyInstance(svc.ctx.bus, `nova-api:${svc.options.host}`, 'unlock', { ...inst, locked: false });
  }
  return reply.code(202).send();
}

/** os-resetState (admin): the vm_state given, no task state, whatever the server was doing. */
export async function resetState(svc: ComputeService, req: FastifyRequest, reply: FastifyReply, id: string) {
  const { store } = svc.parts;
  const state = validateBody<{ 'os-resetState': { state: string } }>(req, RESET_STATE_SCHEMA)['os-resetState'].state;
  const inst = await getServer(svc, req, id);
  authorize(req, 'os_compute_api:os-admin-actions:reset_state', { project_id: inst.project_id });
  await recordAction(store, req, inst.uuid, 'resetState');
  await store.update(inst.uuid, { vm_state: state === 'error' ? VmState.ERROR : VmState.ACTIVE, task_state: null });
  return reply.code(202).send();
}

// ---- instance actions ------------------------------------------------------------------

function actionView(req: FastifyRequest, a: InstanceAction) {
  const out: Record<string, unknown> = {
    action: a.action,
    instance_uuid: a.instance_uuid,
    message: a.message,
    project_id: a.project_id,
    request_id: a.request_id,
    start_time: isoZ(a.start_time)?.replace(/Z$/, '') ?? null,
    user_id: a.user_id,
  };
  if (mv(req).gte('2.58')) out.updated_at = isoZ(a.updated_at)?.replace(/Z$/, '') ?? null;
  return out;
}

// ---- routes ----------------------------------------------------------------------------

type Id = { Params: { id: string } };
type ActionId = { Params: { id: string; rid: string } };

export async function showServer(svc: ComputeService, req: FastifyRequest<Id>) {
  // The server and whether it has a volume in one read: its mappings are read only then.
  const got = await svc.parts.store.getWithVolumeFlag(req.params.id);
  const inst = visibleServer(req, got?.inst ?? null, req.params.id);
  authorize(req, 'os_compute_api:servers:show', { project_id: inst.project_id, user_id: inst.user_id });
  const volumes = got?.hasVolumes ? await svc.parts.blockDevices.ofInstance(inst.uuid) : [];
  return { server: serverView(req, inst, { volumes }) };
}

export async function updateServer(svc: ComputeService, req: FastifyRequest<Id>) {
  const v = mv(req);
  const body = validateBody<{ server: ServerUpdate }>(req, updateSchema(v));
  const inst = await getServer(svc, req, req.params.id);
  authorize(req, 'os_compute_api:servers:update', { project_id: inst.project_id, user_id: inst.user_id });
  const sd = body.server;
  const patch: Partial<Instance> = {};
  if (sd.name !== undefined) {
    if (!NAME_FORMAT.test(sd.name))
      throw badRequest(
        "An invalid 'name' value was provided. The name must be: printable characters. Can not start or end with whitespace.",
      );
    patch.display_name = sd.name;
  }
  if (sd.description !== undefined) patch.display_description = sd.description;
  if (sd.accessIPv4 !== undefined) patch.access_ip_v4 = accessIp(sd.accessIPv4);
  if (sd.accessIPv6 !== undefined) patch.access_ip_v6 = accessIp(sd.accessIPv6);
  if (sd.hostname !== undefined) patch.hostname = sd.hostname;
  if (sd['OS-DCF:diskConfig'] !== undefined)
    patch.system_metadata = { ...inst.system_metadata, disk_config: sd['OS-DCF:diskConfig'] };
  const { store } = svc.parts;
  await store.update(inst.uuid, patch);
  const updated = (await store.get(inst.uuid))!;
  notifyInstance(svc.ctx.bus, `nova-api:${svc.options.host}`, 'update', updated);
  // Since 2.75 the update answer is the full show view; before, without some fields.
  const view = serverView(req, updated, { volumes: await svc.parts.blockDevices.ofInstance(inst.uuid) });
  // (locked 2.9, description, tags, trusted certs, locked_reason, server groups stay: Nova's show() adds them unconditionally.)
  if (v.lt('2.75')) {
    for (const k of Object.keys(view))
      if (
        k.startsWith('OS-EXT-') ||
        k.startsWith('OS-SRV-USG') ||
        ['key_name', 'config_drive', 'security_groups', 'os-extended-volumes:volumes_attached', 'host_status'].includes(
          k,
        )
      )
        delete view[k];
    // Addresses without the extended attributes (Nova's extend_address=False).
    const addrs = view.addresses as Record<string, Array<Record<string, unknown>>> | undefined;
    if (addrs)
      for (const net of Object.keys(addrs)) addrs[net] = addrs[net]!.map((a) => ({ version: a.version, addr: a.addr }));
  }
  return { server: view };
}

export async function deleteServerRequest(svc: ComputeService, req: FastifyRequest<Id>, reply: FastifyReply) {
  const inst = await getServer(svc, req, req.params.id);
  authorize(req, 'os_compute_api:servers:delete', { project_id: inst.project_id, user_id: inst.user_id });
  await deleteServer(svc, req, inst);
  return reply.code(204).send();
}

/** os-instance-actions: what was done to a server, by whom (nova.api.openstack.compute.instance_actions). */
export async function listInstanceActions(svc: ComputeService, req: FastifyRequest<Id>) {
  const inst = await getServer(svc, req, req.params.id, { readDeleted: mv(req).gte('2.21') });
  authorize(req, 'os_compute_api:os-instance-actions:list', { project_id: inst.project_id });
  const q = queryOf(req);
  let actions = await svc.parts.store.actions(inst.uuid);
  if (mv(req).gte('2.58')) {
    const since = q.get('changes-since'),
      before = q.get('changes-before');
    if (since) actions = actions.filter((a) => Date.parse(a.updated_at) >= Date.parse(since));
    if (before && mv(req).gte('2.66')) actions = actions.filter((a) => Date.parse(a.updated_at) <= Date.parse(before));
    const marker = q.get('marker');
    if (marker) {
      const at = actions.findIndex((a) => a.request_id === marker);
      if (at < 0) throw badRequest(`Marker ${marker} could not be found.`);
      actions = actions.slice(at + 1);
    }
    const limit = q.get('limit');
    if (limit) actions = actions.slice(0, Number(limit));
  }
  return { instanceActions: actions.map((a) => actionView(req, a)) };
}

export async function showInstanceAction(svc: ComputeService, req: FastifyRequest<ActionId>) {
  const inst = await getServer(svc, req, req.params.id, { readDeleted: mv(req).gte('2.21') });
  authorize(req, 'os_compute_api:os-instance-actions:show', { project_id: inst.project_id });
  const found = await svc.parts.store.action(inst.uuid, req.params.rid);
  if (!found) throw notFound(`Action for request_id ${req.params.rid} on instance ${inst.uuid} not found`);
  const view: Record<string, unknown> = actionView(req, found.action);
  const admin = allowed(req, 'os_compute_api:os-instance-actions:events', { project_id: inst.project_id });
  if (mv(req).gte('2.51') || admin) {
    view.events = found.events.map((e) => {
      const ev: Record<string, unknown> = {
        event: e.event,
        start_time: isoZ(e.start_time)?.replace(/Z$/, '') ?? null,
        finish_time: isoZ(e.finish_time)?.replace(/Z$/, '') ?? null,
        result: e.result,
      };
      if (admin) ev.traceback = e.traceback;
      if (mv(req).gte('2.62')) {
        if (admin) ev.host = e.host;
        ev.hostId = e.host
          ? createHash('sha224')
              .update(inst.project_id + e.host)
              .digest('hex')
          : '';
      }
      if (
        mv(req).gte('2.84') &&
        allowed(req, 'os_compute_api:os-instance-actions:events:details', { project_id: inst.project_id })
      )
        ev.details = e.details;
      return ev;
    });
  }
  return { instanceAction: view };
}

// ---- the family ------------------------------------------------------------------------

/** The servers' tables (db/servers.ts); the routes are in routes.ts, the parts built by service.ts. */
export const serversFamily: Family = {
  name: 'servers',
  migrations: serverMigrations,
};
