// More server actions, plugged into POST /servers/{id}/action through the `action:<name>` parts
// of the servers family: rebuild (a new image on the same host), addSecurityGroup /
// removeSecurityGroup (the server's ports in the network service), and os-server-password.
import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ExternalEvent } from '../agent/events.ts';
import type { ComputeService } from '../service.ts';
import type { Instance } from '../instances.ts';
import { computeRpc } from '../rpcapi.ts';
import {
  asCaller,
  authorize,
  badRequest,
  conflict,
  isAdmin,
  mv,
  notFound,
  recordAction,
  validateBody,
} from './common.ts';
import { moveHostsOf } from '../hosts.ts';
import { findVolume } from '../volumes.ts';
import { isUuidLike } from '../../core/validate.ts';
import { serverView, getServer } from './servers.ts';
import { refreshInfoCache } from '../network_info.ts';
import { serialized } from '../agent/netproxy.ts';
import { BOOLEAN } from './schemas/parameter_types.ts';
import { TRUSTED_CERTS } from './schemas/servers.ts';

const NAME = { type: 'string', minLength: 1, maxLength: 255 };
const METADATA = {
  type: 'object',
  patternProperties: { '^[a-zA-Z0-9-_:. ]{1,255}$': { type: 'string', maxLength: 255 } },
  additionalProperties: false,
};

/** The body of a rebuild as its schema lets it through. */
interface RebuildBody {
  imageRef: string;
  name?: string;
  adminPass?: string;
  metadata?: Record<string, string>;
  preserve_ephemeral?: boolean;
  'OS-DCF:diskConfig'?: 'AUTO' | 'MANUAL';
  accessIPv4?: string;
  accessIPv6?: string;
  description?: string | null;
  personality?: unknown[];
  key_name?: string | null;
  user_data?: string | null;
  trusted_image_certificates?: string[] | null;
  hostname?: string;
}

function rebuildSchema(v: { gte(x: string): boolean }) {
  const r: { properties: Record<string, unknown>; [k: string]: unknown } = {
    type: 'object',
    properties: {
      name: NAME,
      imageRef: { type: 'string', format: 'uuid' },
      adminPass: { type: 'string' },
      metadata: METADATA,
      preserve_ephemeral: BOOLEAN,
      'OS-DCF:diskConfig': { type: 'string', enum: ['AUTO', 'MANUAL'] },
      accessIPv4: { type: 'string', format: 'ipv4' },
      accessIPv6: { type: 'string', format: 'ipv6' },
    },
    required: ['imageRef'],
    additionalProperties: false,
  };
  if (v.gte('2.19')) r.properties.description = { type: ['string', 'null'], maxLength: 255 };
  if (!v.gte('2.57')) r.properties.personality = { type: 'array' };
  if (v.gte('2.54')) r.properties.key_name = { oneOf: [NAME, { type: 'null' }] };
  if (v.gte('2.57'))
    r.properties.user_data = { oneOf: [{ type: 'string', format: 'base64', maxLength: 65535 }, { type: 'null' }] };
  if (v.gte('2.63')) r.properties.trusted_image_certificates = TRUSTED_CERTS;
  if (v.gte('2.90'))
    r.properties.hostname = {
      type: 'string',
      minLength: 1,
      maxLength: 63,
      pattern: '^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$',
    };
  return { type: 'object', properties: { rebuild: r }, required: ['rebuild'], additionalProperties: false };
}

function eventsSchema(v: { gte(x: string): boolean }) {
  const names = ['network-changed', 'network-vif-plugged', 'network-vif-unplugged', 'network-vif-deleted'];
  if (v.gte('2.51')) names.push('volume-extended');
  if (v.gte('2.76')) names.push('power-update');
  if (v.gte('2.82')) names.push('accelerator-request-bound');
  if (v.gte('2.93')) names.push('volume-reimaged');
  return {
    type: 'object',
    properties: {
      events: {
        type: 'array',
        minItems: 1,
        items: {
          type: 'object',
          properties: {
            server_uuid: { type: 'string', format: 'uuid' },
            name: { type: 'string', enum: names },
            status: { type: 'string', enum: ['failed', 'completed', 'in-progress'] },
            tag: { type: 'string', maxLength: 255 },
          },
          required: ['server_uuid', 'name'],
          additionalProperties: false,
        },
      },
    },
    required: ['events'],
    additionalProperties: false,
  };
}

const SG_SCHEMA = (action: string) => ({
  type: 'object',
  properties: {
    [action]: { type: 'object', properties: { name: NAME }, required: ['name'], additionalProperties: false },
  },
  required: [action],
  additionalProperties: false,
});

/** The hosts an event for a server goes to (Nova's _get_relevant_hosts): its host, plus both ends of a move under way. */
async function relevantHosts(svc: ComputeService, inst: Instance): Promise<string[]> {
  const hosts = new Set<string>([inst.host!]);
  if (inst.task_state || inst.vm_state === 'resized')
    for (const h of await moveHostsOf(svc.db, inst.uuid)) hosts.add(h);
  return [...hosts];
}

/** The info cache rebuilt from the server's ports and their floating IPs (Nova's _heal_instance_info_cache). */
export async function refreshNetworkInfo(svc: ComputeService, uuid: string) {
  const { store, clients } = svc.parts;
  await serialized(uuid, () => refreshInfoCache(store, clients, uuid));
}

const target = (i: Instance) => ({ project_id: i.project_id, user_id: i.user_id });

type P = { Params: { id: string } };

// os-server-external-events: the network (and later block storage) tell compute what changed.
// As Nova's API: each event is checked (server known, tag when required, server on a host),
// the accepted ones are cast to the agents of each server's hosts (its host, and during a move
// the migration's other host), which refresh the info cache (network-changed), drop a deleted
// port (network-vif-deleted) or wake a waiting driver (network-vif-plugged, ...).
export async function createExternalEvents(svc: ComputeService, req: FastifyRequest, reply: FastifyReply) {
  const body = validateBody<{ events: Array<{ server_uuid: string; name: string; status?: string; tag?: string }> }>(
    req,
    eventsSchema(mv(req)),
  );
  authorize(req, 'os_compute_api:os-server-external-events:create', {});
  const { store } = svc.parts;
  let code = 200;
  const out: Array<Record<string, unknown>> = [];
  const byHost = new Map<string, ExternalEvent[]>();
  const hostsOf = new Map<string, string[]>();
  for (const e of body.events) {
    const ev: Record<string, unknown> = { ...e };
    const inst = await store.get(e.server_uuid);
    if (!inst) {
      ev.status = 'failed';
      ev.code = 404;
      code = 207;
    } else if (e.name === 'volume-extended' && !e.tag) {
      ev.status = 'failed';
      ev.code = 400;
      code = 207;
    } else if (!inst.host) {
      ev.status = 'failed';
      ev.code = 422;
      code = 207;
    } else {
      ev.status = 'completed';
      ev.code = 200;
      // Nova records the extend of an attached volume as an instance action (its agent adds the event).
      if (e.name === 'volume-extended') await recordAction(store, req, inst.uuid, 'extend_volume');
      let hosts = hostsOf.get(inst.uuid);
      if (!hosts) hostsOf.set(inst.uuid, (hosts = await relevantHosts(svc, inst)));
      for (const h of hosts) {
        const list = byHost.get(h) ?? [];
        list.push({
          server_uuid: e.server_uuid,
          name: e.name,
          status: e.status ?? 'completed',
          tag: e.tag ?? null,
          request_id: req.id,
        });
        byHost.set(h, list);
      }
    }
    out.push(ev);
  }
  for (const [host, events] of byHost) {
    try {
      computeRpc(svc.ctx.bus).cast(host).external_instance_event({ events });
    } catch (err) {
      svc.ctx.log.warn({ err, host }, 'external events: no agent for the host');
    }
  }
  reply.code(code);
  return { events: out };
}

// os-server-password: Stratus has no metadata service to post one, so it is always empty.
export async function showServerPassword(svc: ComputeService, req: FastifyRequest<P>) {
  const inst = await getServer(svc, req, req.params.id);
  authorize(req, 'os_compute_api:os-server-password:show', { project_id: inst.project_id });
  return { password: (inst.system_metadata.password as string | undefined) ?? '' };
}
export async function clearServerPassword(svc: ComputeService, req: FastifyRequest<P>, reply: FastifyReply) {
  const inst = await getServer(svc, req, req.params.id);
  authorize(req, 'os_compute_api:os-server-password:clear', { project_id: inst.project_id });
  const { password: _gone, ...rest } = inst.system_metadata;
  await svc.parts.store.update(inst.uuid, { system_metadata: rest });
  return reply.code(204).send();
}

export async function rebuild(svc: ComputeService, req: FastifyRequest, reply: FastifyReply, id: string) {
  const v = mv(req);
  const rd = validateBody<{ rebuild: RebuildBody }>(req, rebuildSchema(v)).rebuild;
  const inst = await getServer(svc, req, id);
  authorize(req, 'os_compute_api:servers:rebuild', target(inst));
  if (rd.trusted_image_certificates) authorize(req, 'os_compute_api:servers:rebuild:trusted_certs', target(inst));
  if (inst.locked && !isAdmin(req)) throw conflict(`Instance ${inst.uuid} is locked`);
  if (!['active', 'stopped', 'error'].includes(inst.vm_state))
    throw conflict(`Cannot 'rebuild' instance ${inst.uuid} while it is in vm_state ${inst.vm_state}`);
  if (inst.task_state)
    throw conflict(`Cannot 'rebuild' instance ${inst.uuid} while it is in task_state ${inst.task_state}`);
  if (!inst.host) throw conflict(`Cannot 'rebuild' instance ${inst.uuid} while it is in vm_state ${inst.vm_state}`);
  const { store, clients } = svc.parts;
  const image = await clients.getImage(rd.imageRef, req.ctx!.token);
  if (!image) throw badRequest('Cannot find image for rebuild');
  if (image.status !== 'active') throw badRequest(`Image ${rd.imageRef} is not active.`);
  // A volume-backed server's image is its boot volume's; another image is written onto the
  // volume only from 2.93 (compute.api's rebuild with reimage_boot_volume).
  const bootVolume = await bootVolumeOf(svc, req, inst);
  let reimage = false;
  if (bootVolume) {
    const current = bootVolume.volume_image_metadata?.image_id;
    if (current !== rd.imageRef) {
      if (!v.gte('2.93')) throw badRequest('Unable to rebuild with a different image for a volume-backed server.');
      reimage = true;
    }
  }
  const patch: Partial<Instance> = { task_state: 'rebuilding', progress: 0 };
  if (!bootVolume) patch.image_ref = rd.imageRef;
  if (rd.name !== undefined) patch.display_name = rd.name;
  if (rd.metadata !== undefined) patch.metadata = rd.metadata;
  if (rd.description !== undefined) patch.display_description = rd.description;
  if (rd.accessIPv4 !== undefined) patch.access_ip_v4 = rd.accessIPv4;
  if (rd.accessIPv6 !== undefined)
    patch.access_ip_v6 = new URL(`http://[${rd.accessIPv6}]/`).hostname.replace(/^\[|\]$/g, '');
  if (rd.hostname !== undefined) patch.hostname = rd.hostname;
  if (rd.trusted_image_certificates !== undefined) patch.trusted_certs = rd.trusted_image_certificates;
  if (rd['OS-DCF:diskConfig'] !== undefined)
    patch.system_metadata = { ...inst.system_metadata, disk_config: rd['OS-DCF:diskConfig'] };
  if (rd.key_name !== undefined) {
    if (rd.key_name === null) {
      patch.key_name = null;
      patch.key_data = null;
    } else {
      const kp = svc.providers.keypairs ? await svc.providers.keypairs.find(inst.user_id, rd.key_name) : null;
      if (!kp) throw badRequest('Invalid key_name provided.');
      patch.key_name = kp.name;
      patch.key_data = kp.public_key;
    }
  }
  if (rd.user_data !== undefined) patch.user_data = rd.user_data;
  if (!(await store.update(inst.uuid, patch, { expectTaskState: [null] })))
    throw conflict(`Cannot 'rebuild' instance ${inst.uuid} while it is in task_state rebuilding`);
  await recordAction(store, req, inst.uuid, 'rebuild');
  computeRpc(svc.ctx.bus)
    .cast(inst.host)
    .rebuild_instance({ uuid: inst.uuid, request_id: req.id, image, reimage_boot_volume: reimage });
  const updated = (await store.get(inst.uuid))!;
  const view = serverView(req, updated, {
    reduced: v.lt('2.75'),
    keypair: v.gte('2.54'),
    serverGroups: v.gte('2.71'),
    userData: false,
  });
  view.adminPass = rd.adminPass ?? randomBytes(9).toString('base64').replace(/[+/=]/g, 'x');
  if (v.gte('2.57')) view.user_data = updated.user_data;
  reply.code(202).header('location', `${req.baseUrl}/v2.1/servers/${inst.uuid}`);
  return { server: view };
}

/** A volume-backed server's boot volume as the volume service shows it (null: the server boots from an image). */
async function bootVolumeOf(svc: ComputeService, req: FastifyRequest, inst: Instance) {
  const root = (await svc.parts.blockDevices.ofInstance(inst.uuid)).find(
    (b) => b.boot_index === 0 && b.destination_type === 'volume' && b.volume_id,
  );
  if (!root) return null;
  const volume = await findVolume(svc.parts.clients.blockStorage, root.volume_id!, asCaller(req));
  if (!volume) throw notFound(`Volume ${root.volume_id} could not be found.`);
  return volume;
}

/** The server's security groups changed on every one of its ports (Nova's add/remove_to_instance). */
async function securityGroup(add: boolean, svc: ComputeService, req: FastifyRequest, reply: FastifyReply, id: string) {
  const action = add ? 'addSecurityGroup' : 'removeSecurityGroup';
  const name = validateBody<Record<string, { name: string }>>(req, SG_SCHEMA(action))[action].name;
  const inst = await getServer(svc, req, id);
  authorize(
    req,
    add ? 'os_compute_api:os-security-groups:add' : 'os_compute_api:os-security-groups:remove',
    target(inst),
  );
  const { store, clients } = svc.parts;
  const token = req.ctx!.token;
  const filters = isUuidLike(name) ? { id: name } : { name, project_id: inst.project_id };
  const found = (await clients.network.listSecurityGroups(filters, { token })).body?.security_groups ?? [];
  if (found.length > 1) throw conflict('No Unique Match Found.');
  const sg = found[0];
  if (!sg) throw notFound(`Security group ${name} not found for project ${inst.project_id}.`);
  const ports = await clients.portsOf(inst.uuid);
  if (!ports.length) throw badRequest(`Security group ${name} cannot be applied: the server has no ports.`);
  if (add) {
    if (ports.some((p) => p.port_security_enabled === false))
      throw badRequest('Cannot add security group to a port with port security disabled.');
    if (ports.every((p) => (p.security_groups ?? []).includes(sg.id)))
      throw badRequest(`Security group ${sg.name} is already associated with the instance ${inst.uuid}`);
  } else if (!ports.some((p) => (p.security_groups ?? []).includes(sg.id))) {
    throw badRequest(`Security group ${sg.name} not associated with the instance ${inst.uuid}`);
  }
  for (const p of ports) {
    const groups: string[] = p.security_groups ?? [];
    const next = add ? [...new Set([...groups, sg.id])] : groups.filter((g) => g !== sg.id);
    const r = await clients.network.updatePort(p.id, { security_groups: next });
    if (r.status !== 200) throw badRequest(r.body?.NeutronError?.message ?? `network answered ${r.status}`);
  }
  const groups = add
    ? [...inst.security_groups.filter((g) => g.name !== sg.name), { name: sg.name, id: sg.id }]
    : inst.security_groups.filter((g) => g.name !== sg.name && g.id !== sg.id);
  await store.update(inst.uuid, { security_groups: groups });
  return reply.code(202).send();
}

export const addSecurityGroup = (svc: ComputeService, req: FastifyRequest, reply: FastifyReply, id: string) =>
  securityGroup(true, svc, req, reply, id);
export const removeSecurityGroup = (svc: ComputeService, req: FastifyRequest, reply: FastifyReply, id: string) =>
  securityGroup(false, svc, req, reply, id);
