// os-services (nova.api.openstack.compute.services): the services the compute agents and
// workers register in the servers family's `services` table, up or down by their heartbeat
// (`last_seen_up` within service_down_time, unless forced down), enable/disable with a reason,
// forced_down (2.11), PUT /os-services/{uuid} (2.53), delete (not while hosting servers).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ComputeService } from '../service.ts';
import { authorize, badRequest, mv, notFound, queryOf, validateBody } from './common.ts';
import { isUuidLike } from '../../core/validate.ts';
import { hostZones } from '../aggregate_api.ts';
import { novaTime } from '../times.ts';
import { BOOLEAN as BOOL } from './schemas/parameter_types.ts';
import {
  assertUpdatable,
  computeServiceOf,
  deleteService as removeService,
  findService,
  hostResources,
  listServices,
  serviceIsUp,
  serviceZone,
  updateService as changeService,
  updateServiceByHost,
  type ServiceChanges,
  type ServiceRow,
} from '../services.ts';

const OS = 'os_compute_api:os-services';

function view(
  req: FastifyRequest,
  svc: ComputeService,
  s: ServiceRow,
  zones: Map<string, string>,
  forcedDown: boolean,
) {
  const out: Record<string, unknown> = {
    binary: s.binary,
    host: s.host,
    id: mv(req).gte('2.53') ? s.uuid : s.id,
    zone: serviceZone(svc, s, zones),
    status: s.disabled ? 'disabled' : 'enabled',
    state: serviceIsUp(svc, s) ? 'up' : 'down',
    updated_at: novaTime(s.last_seen_up ?? s.updated_at ?? s.created_at),
    disabled_reason: s.disabled_reason,
  };
  if (forcedDown) out.forced_down = s.forced_down;
  return out;
}

const FQDN = { type: 'string', minLength: 1, maxLength: 255, pattern: '^[a-zA-Z0-9-._]*$' };
const REASON = { type: 'string', minLength: 1, maxLength: 255 };
const UPDATE = {
  type: 'object',
  required: ['host', 'binary'],
  additionalProperties: false,
  properties: { host: FQDN, binary: REASON, disabled_reason: REASON },
};
const UPDATE_211 = { ...UPDATE, properties: { ...UPDATE.properties, forced_down: BOOL } };
const UPDATE_253 = {
  type: 'object',
  additionalProperties: false,
  properties: { status: { type: 'string', enum: ['enabled', 'disabled'] }, disabled_reason: REASON, forced_down: BOOL },
};

const asBool = (v: unknown) => v === true || ['true', '1', 'on', 'yes'].includes(String(v).toLowerCase());

export async function listComputeServices(svc: ComputeService, req: FastifyRequest) {
  const q = queryOf(req);
  if (mv(req).gte('2.75'))
    for (const k of q.keys())
      if (k !== 'host' && k !== 'binary')
        throw badRequest(
          `Invalid input for query parameters ${k}. Value: ${q.get(k)}. Additional properties are not allowed ('${k}' was unexpected)`,
        );
  authorize(req, `${OS}:list`, {});
  let list = (await listServices(svc)).filter((s) => s.binary !== 'nova-osapi_compute' && s.binary !== 'nova-metadata');
  const host = q.get('host'),
    binary = q.get('binary');
  if (host) list = list.filter((s) => s.host === host);
  if (binary) list = list.filter((s) => s.binary === binary);
  const zones = await hostZones(svc);
  return { services: list.map((s) => view(req, svc, s, zones, mv(req).gte('2.11'))) };
}

export async function updateService(svc: ComputeService, req: FastifyRequest<{ Params: { id: string } }>) {
  const v = mv(req);
  if (v.lt('2.53')) {
    const body = validateBody<{ host: string; binary: string; disabled_reason?: string; forced_down?: unknown }>(
      req,
      v.gte('2.11') ? UPDATE_211 : UPDATE,
    );
    authorize(req, `${OS}:update`, {});
    const action = req.params.id;
    const { host, binary } = body;
    if (action === 'enable') {
      await updateServiceByHost(svc, host, binary, { disabled: 0, disabled_reason: null });
      return { service: { host, binary, status: 'enabled' } };
    }
    if (action === 'disable' || action === 'disable-log-reason') {
      if (action === 'disable-log-reason' && body.disabled_reason === undefined)
        throw badRequest('Missing disabled reason field');
      const reason = action === 'disable-log-reason' ? body.disabled_reason : null;
      await updateServiceByHost(svc, host, binary, { disabled: 1, disabled_reason: reason });
      return { service: { host, binary, status: 'disabled', ...(reason ? { disabled_reason: reason } : {}) } };
    }
    if (action === 'force-down' && v.gte('2.11')) {
      if (body.forced_down === undefined) throw badRequest('Missing forced_down field');
      const forced = asBool(body.forced_down);
      await updateServiceByHost(svc, host, binary, { forced_down: forced ? 1 : 0 });
      return { service: { host, binary, forced_down: forced } };
    }
    throw notFound('Unknown action');
  }
  const body = validateBody<{ status?: string; disabled_reason?: string | null; forced_down?: unknown }>(
    req,
    UPDATE_253,
  );
  const id = req.params.id;
  if (!isUuidLike(id)) {
    req.authorized = true;
    throw badRequest(`Invalid uuid ${id}`);
  }
  authorize(req, `${OS}:update`, {});
  const s = await findService(svc, { uuid: id });
  if (!s) throw notFound(`Service ${id} could not be found.`);
  assertUpdatable(s.binary);
  const values: ServiceChanges = {};
  if (body.status === 'enabled') {
    if (body.disabled_reason) throw badRequest("Specifying 'disabled_reason' with status 'enabled' is invalid.");
    if (s.disabled) values.disabled = 0;
    if (s.disabled_reason !== null) values.disabled_reason = null;
  } else if (body.status === 'disabled') {
    if (!s.disabled) values.disabled = 1;
    if ((body.disabled_reason ?? null) !== s.disabled_reason) values.disabled_reason = body.disabled_reason ?? null;
  }
  if (body.forced_down !== undefined) {
    if (
      !['true', 'false', '1', '0', 'on', 'off', 'yes', 'no', 't', 'f', 'y', 'n'].includes(
        String(body.forced_down).toLowerCase(),
      )
    )
      throw badRequest(`Unrecognized value '${body.forced_down}'`);
    const f = asBool(body.forced_down);
    if (f !== s.forced_down) values.forced_down = f ? 1 : 0;
  }
  // Nova's obj_what_changed: setting a field, even to its current value, counts as a change.
  if (body.status === undefined && body.forced_down === undefined)
    throw badRequest("No updates were requested. Fields 'status' or 'forced_down' should be specified.");
  const fresh = await changeService(svc, s, values);
  return { service: view(req, svc, fresh, await hostZones(svc), true) };
}

export async function deleteService(
  svc: ComputeService,
  req: FastifyRequest<{ Params: { id: string } }>,
  reply: FastifyReply,
) {
  authorize(req, `${OS}:delete`, {});
  const id = req.params.id;
  if (mv(req).gte('2.53')) {
    if (!isUuidLike(id)) throw badRequest(`Invalid uuid ${id}`);
  } else if (!/^\s*[-+]?\d+\s*$/.test(id)) throw badRequest('Invalid input received: id must be an integer.');
  const s = await findService(svc, mv(req).gte('2.53') ? { uuid: id } : { id: Number(id) });
  if (!s) throw notFound(`Service ${id} not found.`);
  await removeService(svc, s);
  reply.code(204).send();
}

// ---- os-hosts (nova.api.openstack.compute.hosts, deprecated at 2.43): the same services seen by host ----

const HOSTS = 'os_compute_api:os-hosts';
const ENABLE = { type: 'string', enum: ['enable', 'disable', 'Enable', 'Disable', 'ENABLE', 'DISABLE'] };
const HOST_UPDATE = {
  type: 'object',
  additionalProperties: false,
  properties: { status: ENABLE, maintenance_mode: ENABLE },
};

const gone = (req: FastifyRequest) => {
  if (mv(req).gte('2.43')) {
    req.authorized = true;
    throw notFound('The resource could not be found.');
  }
};
export async function listHosts(svc: ComputeService, req: FastifyRequest) {
  gone(req);
  authorize(req, `${HOSTS}:list`, {});
  const zone = queryOf(req).get('zone');
  const zones = await hostZones(svc);
  const hosts = (await listServices(svc))
    .filter((s) => !s.disabled && !['nova-osapi_compute', 'nova-metadata'].includes(s.binary))
    .map((s) => ({
      host_name: s.host,
      service: s.topic ?? s.binary.replace(/^nova-/, ''),
      zone: serviceZone(svc, s, zones),
    }))
    .filter((h) => !zone || h.zone === zone);
  return { hosts };
}

export async function showHost(svc: ComputeService, req: FastifyRequest<{ Params: { host: string } }>) {
  gone(req);
  authorize(req, `${HOSTS}:show`, {});
  const host = req.params.host;
  const r = await hostResources(svc, host);
  const resource = (project: string, x: { cpu: number; memory_mb: number; disk_gb: number }) => ({
    resource: { host, project, cpu: x.cpu, memory_mb: x.memory_mb, disk_gb: x.disk_gb },
  });
  return {
    host: [
      resource('(total)', r.total),
      resource('(used_now)', r.usedNow),
      resource('(used_max)', r.usedMax),
      ...[...r.byProject].map(([project, p]) => resource(project, p)),
    ],
  };
}

export async function updateHost(svc: ComputeService, req: FastifyRequest<{ Params: { host: string } }>) {
  gone(req);
  const body = validateBody<{ status?: string; maintenance_mode?: string }>(req, HOST_UPDATE);
  authorize(req, `${HOSTS}:update`, {});
  const out: Record<string, unknown> = { host: req.params.host };
  if (body.status === undefined && body.maintenance_mode === undefined) return out;
  await computeServiceOf(svc, req.params.host);
  // The fake virt driver answers as Nova's does; enabling/disabling scheduling is os-services' job.
  if (body.status !== undefined) out.status = body.status.toLowerCase() === 'enable' ? 'enabled' : 'disabled';
  if (body.maintenance_mode !== undefined)
    out.maintenance_mode = body.maintenance_mode.toLowerCase() === 'enable' ? 'on_maintenance' : 'off_maintenance';
  return out;
}

/** GET /os-hosts/{host}/startup, /shutdown, /reboot (up to 2.42): nothing is done, as Nova's drivers answer. */
export async function hostPowerAction(
  svc: ComputeService,
  req: FastifyRequest<{ Params: { host: string } }>,
  action: 'startup' | 'shutdown' | 'reboot',
) {
  gone(req);
  authorize(req, `${HOSTS}:${action === 'startup' ? 'start' : action}`, {});
  await computeServiceOf(svc, req.params.host);
  return { host: req.params.host, power_action: action };
}
