// Server moves, plugged into POST /servers/{id}/action: resize (with OS-DCF:diskConfig),
// confirmResize / revertResize, migrate (cold; `host` from 2.56), os-migrateLive (host or
// scheduler-chosen; block_migration with 'auto' from 2.25; force 2.30–2.67; synchronous checks
// before 2.34) and evacuate (a server whose host is down; onSharedStorage before 2.14, force
// 2.29–2.67, adminPass). Each records its instance action and a `migrations` row, then hands the
// work to the move conductor (worker/moves.ts) or, for confirm/revert, to the agents.
import { randomBytes } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { computeHostIsUp, computeNodeExists, computeServiceOf } from '../hosts.ts';
import type { ComputeService, Flavor } from '../service.ts';
import type { Instance } from '../instances.ts';
import {
  authorize,
  badRequest,
  conflict,
  forbidden,
  isAdmin,
  mv,
  notFound,
  recordAction,
  type ServerAction,
  validateBody,
} from './common.ts';
import { getServer } from './servers.ts';
import type { MigrationType } from '../migrations.ts';
import { computeRpc, conductorMovesRpc } from '../rpcapi.ts';
import { notifyInstance } from '../notifications.ts';
import { BOOLEAN, isTruthy } from './schemas/parameter_types.ts';

type Handler = ServerAction;

const truthy = isTruthy;
const HOST = { type: ['string', 'null'], minLength: 1, maxLength: 255, pattern: '^[a-zA-Z0-9-._]*$' };
const FQDN = { type: 'string', minLength: 1, maxLength: 255, pattern: '^[a-zA-Z0-9-._]*$' };
const ADMIN_PASS = { type: 'string' };

const RESIZE_SCHEMA = {
  type: 'object',
  properties: {
    resize: {
      type: 'object',
      properties: {
        flavorRef: { type: ['string', 'integer'], minLength: 1 },
        'OS-DCF:diskConfig': { type: 'string', enum: ['AUTO', 'MANUAL'] },
      },
      required: ['flavorRef'],
      additionalProperties: false,
    },
  },
  required: ['resize'],
  additionalProperties: false,
};
const MIGRATE_256 = {
  type: 'object',
  properties: { migrate: { type: ['object', 'null'], properties: { host: HOST }, additionalProperties: false } },
  required: ['migrate'],
  additionalProperties: false,
};

/** The os-migrateLive body as liveSchema lets it through (block_migration 'auto' from 2.25). */
interface LiveMigrateBody {
  host?: string | null;
  block_migration?: boolean | string;
  disk_over_commit?: boolean | string;
  force?: boolean | string;
}
/** The evacuate body as evacuateSchema lets it through. */
interface EvacuateBody {
  host?: string;
  onSharedStorage?: boolean | string;
  adminPass?: string;
  force?: boolean | string;
}

function liveSchema(v: { gte(x: string): boolean }) {
  const p: Record<string, unknown> = { block_migration: BOOLEAN, host: HOST };
  let required = ['block_migration', 'host'];
  if (!v.gte('2.25')) {
    p.disk_over_commit = BOOLEAN;
    required = ['block_migration', 'disk_over_commit', 'host'];
  } else p.block_migration = { type: ['boolean', 'string'], enum: [...BOOLEAN.enum, 'auto'] };
  if (v.gte('2.30') && !v.gte('2.68')) p.force = BOOLEAN;
  return {
    type: 'object',
    properties: { 'os-migrateLive': { type: 'object', properties: p, required, additionalProperties: false } },
    required: ['os-migrateLive'],
    additionalProperties: false,
  };
}

function evacuateSchema(v: { gte(x: string): boolean }) {
  const p: Record<string, unknown> = { host: FQDN, adminPass: ADMIN_PASS };
  const inner: Record<string, unknown> = { type: 'object', properties: p, additionalProperties: false };
  if (!v.gte('2.14')) {
    p.onSharedStorage = BOOLEAN;
    inner.required = ['onSharedStorage'];
  }
  if (v.gte('2.29') && !v.gte('2.68')) p.force = BOOLEAN;
  return { type: 'object', properties: { evacuate: inner }, required: ['evacuate'], additionalProperties: false };
}

const generatePassword = () => randomBytes(9).toString('base64').replace(/[+/=]/g, 'x');

/** resize, confirmResize, revertResize, migrate, os-migrateLive, evacuate (nova.compute.api moves). */
export function moveActions(svc: ComputeService) {
  const { store } = svc.parts;
  const bus = svc.ctx.bus;
  const get = (req: FastifyRequest, id: string): Promise<Instance> => getServer(svc, req, id);
  const locked = (req: FastifyRequest, i: Instance) => {
    if (i.locked && !isAdmin(req)) throw conflict(`Instance ${i.uuid} is locked`);
  };
  const states = (i: Instance, action: string, vm: string[], task: Array<string | null> = [null]) => {
    if (!vm.includes(i.vm_state))
      throw conflict(`Cannot '${action}' instance ${i.uuid} while it is in vm_state ${i.vm_state}`);
    if (!task.includes(i.task_state))
      throw conflict(`Cannot '${action}' instance ${i.uuid} while it is in task_state ${i.task_state}`);
  };
  const service = (host: string) => computeServiceOf(svc.db, host);
  const isUp = (host: string | null) => computeHostIsUp(svc, host);
  const nodeExists = (host: string) => computeNodeExists(svc.db, host);
  /** check_instance_host(check_is_up=True): a server without a host is not ready; a host that is down is unavailable. */
  const hostUp = async (i: Instance) => {
    if (!i.host) throw conflict(`Instance ${i.uuid} is not ready`);
    if (!(await isUp(i.host))) throw conflict('Service is unavailable at this time.');
  };
  const action = (req: FastifyRequest, i: Instance, name: string) => recordAction(store, req, i.uuid, name);
  const migration = (
    req: FastifyRequest,
    i: Instance,
    type: MigrationType,
    status: string,
    extra: { old_flavor?: Flavor; new_flavor?: Flavor; dest_compute?: string | null } = {},
  ) =>
    svc.parts.migrations.create({
      instance: i,
      type,
      status,
      user_id: req.ctx!.userId,
      project_id: req.ctx!.projectId ?? null,
      ...extra,
    });

  /** Nova's _check_quota_for_upsize: more cores or RAM must fit the project's and the user's quota. */
  const upsizeQuota = async (i: Instance, from: Flavor, to: Flavor) => {
    const deltas: Record<string, number> = {};
    if (to.vcpus > from.vcpus) deltas.cores = to.vcpus - from.vcpus;
    if (to.ram > from.ram) deltas.ram = to.ram - from.ram;
    if (!Object.keys(deltas).length) return;
    const quotas = svc.parts.quotas;
    const project = await quotas.usages(i.project_id);
    const user = await quotas.usages(i.project_id, i.user_id);
    try {
      await quotas.check(i.project_id, i.user_id, deltas, { project, user });
    } catch (e) {
      const over = e as {
        resources?: string[];
        detail?: Record<string, { requested: number; used: number; allowed: number }>;
      };
      if (!over.resources || !over.detail) throw e;
      const j = (f: (r: string) => number) => over.resources!.map((r) => String(f(r))).join(', ');
      throw forbidden(
        `Quota exceeded for ${over.resources.join(', ')}: Requested ${j((r) => over.detail![r]!.requested)}, but already used ${j((r) => over.detail![r]!.used)} of ${j((r) => over.detail![r]!.allowed)} ${over.resources.join(', ')}`,
      );
    }
  };

  const castMigrate = (
    i: Instance,
    req: FastifyRequest,
    migrationId: number,
    flavor: Flavor,
    host: string | null,
    allowSame: boolean,
  ) => {
    conductorMovesRpc(bus).cast().migrate_server({
      uuid: i.uuid,
      request_id: req.id,
      migration_id: migrationId,
      flavor,
      host,
      allow_same_host: allowSame,
    });
  };

  const resize: Handler = async (req, reply, id) => {
    const body = validateBody<{ resize: { flavorRef: string | number; 'OS-DCF:diskConfig'?: string } }>(
      req,
      RESIZE_SCHEMA,
    ).resize;
    const inst = await get(req, id);
    authorize(req, 'os_compute_api:servers:resize', { user_id: inst.user_id, project_id: inst.project_id });
    locked(req, inst);
    states(inst, 'resize', ['active', 'stopped']);
    await hostUp(inst);
    const flavorRef = String(body.flavorRef);
    const flavor = svc.providers.flavors
      ? await svc.providers.flavors.find(flavorRef, { projectId: req.ctx?.projectId, admin: isAdmin(req) })
      : null;
    if (!flavor || flavor.disabled) throw badRequest(`Flavor ${flavorRef} could not be found.`);
    if (flavor.disk === 0 && inst.flavor.disk !== 0)
      throw badRequest('Server disk was unable to be resized because: Resize to zero disk flavor is not allowed.');
    if (flavor.id === inst.flavor.id) throw badRequest('When resizing, instances must change flavor!');
    await upsizeQuota(inst, inst.flavor, flavor);
    const patch: Partial<Instance> = { task_state: 'resize_prep', progress: 0 };
    if (body['OS-DCF:diskConfig'])
      patch.system_metadata = { ...inst.system_metadata, disk_config: body['OS-DCF:diskConfig'] };
    if (!(await store.update(inst.uuid, patch, { expectTaskState: [null] })))
      throw conflict(`Cannot 'resize' instance ${inst.uuid} while it is in task_state resize_prep`);
    await action(req, inst, 'resize');
    const m = await migration(req, inst, 'resize', 'pre-migrating', { old_flavor: inst.flavor, new_flavor: flavor });
    notifyInstance(bus, `nova-api:${svc.options.host}`, 'resize_prep.start', { ...inst, task_state: 'resize_prep' });
    castMigrate(inst, req, m.id, flavor, null, svc.options.allowResizeToSameHost);
    return reply.code(202).send();
  };

  const migrate: Handler = async (req, reply, id) => {
    const v = mv(req);
    // Nova validates the body only from 2.56 (tempest sends {"migrate": {}} at 2.1).
    type Migrate = { migrate?: { host?: string | null } | null } | null;
    const body = v.gte('2.56') ? validateBody<Migrate>(req, MIGRATE_256) : (req.body as Migrate);
    const inst = await get(req, id);
    authorize(req, 'os_compute_api:os-migrate-server:migrate', { project_id: inst.project_id });
    const host: string | null = v.gte('2.56') ? (body?.migrate?.host ?? null) : null;
    locked(req, inst);
    states(inst, 'migrate', ['active', 'stopped']);
    await hostUp(inst);
    if (host !== null) {
      if (host === inst.host) throw badRequest('Cannot migrate to the host where the server exists.');
      if (!(await nodeExists(host))) throw badRequest(`Compute host ${host} could not be found.`);
    }
    if (!(await store.update(inst.uuid, { task_state: 'resize_prep', progress: 0 }, { expectTaskState: [null] })))
      throw conflict(`Cannot 'migrate' instance ${inst.uuid} while it is in task_state resize_prep`);
    await action(req, inst, 'migrate');
    const m = await migration(req, inst, 'migration', 'pre-migrating', {
      old_flavor: inst.flavor,
      new_flavor: inst.flavor,
    });
    castMigrate(inst, req, m.id, inst.flavor, host, false);
    return reply.code(202).send();
  };

  const confirmResize: Handler = async (req, reply, id) => {
    const inst = await get(req, id);
    authorize(req, 'os_compute_api:servers:confirm_resize', { project_id: inst.project_id });
    locked(req, inst);
    states(inst, 'confirmResize', ['resized']);
    const m = await svc.parts.migrations.ofInstance(inst.uuid, ['finished']);
    if (!m) throw badRequest('Instance has not been resized.');
    if (!(await isUp(m.source_compute))) throw conflict('Service is unavailable at this time.');
    if (!(await svc.parts.migrations.update(m.id, { status: 'confirming' }, ['finished'])))
      throw badRequest('Instance has not been resized.');
    await action(req, inst, 'confirmResize');
    computeRpc(bus).cast(m.source_compute).confirm_resize({
      uuid: inst.uuid,
      migration_id: m.id,
      request_id: req.id,
    });
    return reply.code(204).send();
  };

  const revertResize: Handler = async (req, reply, id) => {
    const inst = await get(req, id);
    authorize(req, 'os_compute_api:servers:revert_resize', { project_id: inst.project_id });
    locked(req, inst);
    states(inst, 'revertResize', ['resized']);
    const m = await svc.parts.migrations.ofInstance(inst.uuid, ['finished']);
    if (!m) throw badRequest('Instance has not been resized.');
    if (m.old_flavor) await upsizeQuota(inst, inst.flavor, m.old_flavor);
    if (!(await store.update(inst.uuid, { task_state: 'resize_reverting' }, { expectTaskState: [null] })))
      throw conflict(`Cannot 'revertResize' instance ${inst.uuid} while it is in task_state resize_reverting`);
    await svc.parts.migrations.update(m.id, { status: 'reverting' }, ['finished']);
    await action(req, inst, 'revertResize');
    computeRpc(bus).cast(m.dest_compute).revert_resize({ uuid: inst.uuid, migration_id: m.id, request_id: req.id });
    return reply.code(202).send();
  };

  const migrateLive: Handler = async (req, reply, id) => {
    const v = mv(req);
    const body = validateBody<{ 'os-migrateLive': LiveMigrateBody }>(req, liveSchema(v))['os-migrateLive'];
    const inst = await get(req, id);
    authorize(req, 'os_compute_api:os-migrate-server:migrate_live', { project_id: inst.project_id });
    const host: string | null = body.host ?? null;
    let force = false;
    if (v.gte('2.30') && !v.gte('2.68')) {
      force = truthy(body.force ?? false);
      if (force && !host) throw badRequest("Can't force to a non-provided destination");
    }
    const block = body.block_migration === 'auto' ? null : truthy(body.block_migration);
    locked(req, inst);
    states(inst, 'os-migrateLive', ['active', 'paused']);
    if (host !== null && !(await nodeExists(host))) throw badRequest(`Compute host ${host} could not be found.`);
    if (!(await store.update(inst.uuid, { task_state: 'migrating', progress: 0 }, { expectTaskState: [null] })))
      throw conflict(`Cannot 'os-migrateLive' instance ${inst.uuid} while it is in task_state migrating`);
    await action(req, inst, 'live-migration');
    const m = await migration(req, inst, 'live-migration', 'accepted', {
      old_flavor: inst.flavor,
      new_flavor: inst.flavor,
    });
    const args = { uuid: inst.uuid, request_id: req.id, migration_id: m.id, host, force, block_migration: block };
    if (v.gte('2.34')) {
      conductorMovesRpc(bus).cast().live_migrate_instance(args);
    } else {
      // Before 2.34 the API waits for the conductor's checks: no host, or the same host, is a 400.
      const r = await conductorMovesRpc(bus).call(undefined, { timeoutMs: 120_000 }).live_migrate_instance(args);
      if (!r.ok) throw badRequest(r.message);
    }
    return reply.code(202).send();
  };

  const evacuate: Handler = async (req, reply, id) => {
    const v = mv(req);
    const body = validateBody<{ evacuate: EvacuateBody }>(req, evacuateSchema(v)).evacuate;
    const inst = await get(req, id);
    authorize(req, 'os_compute_api:os-evacuate', { user_id: inst.user_id, project_id: inst.project_id });
    const host: string | null = body.host ?? null;
    let force = false;
    if (v.gte('2.29') && !v.gte('2.68')) {
      force = truthy(body.force ?? false);
      if (force && !host) throw badRequest("Can't force to a non-provided destination");
    }
    let password: string | null = null;
    if (v.gte('2.14')) password = body.adminPass ?? generatePassword();
    else {
      const shared = truthy(body.onSharedStorage);
      if (body.adminPass !== undefined) {
        if (shared) throw badRequest("admin password can't be changed on existing disk");
        password = body.adminPass;
      } else if (!shared) password = generatePassword();
    }
    if (host !== null && !(await service(host))) throw notFound(`Compute host ${host} not found.`);
    if (inst.host === host) throw badRequest("The target host can't be the same one.");
    states(inst, 'evacuate', ['active', 'stopped', 'error']);
    if (await isUp(inst.host)) throw badRequest(`Compute service of ${inst.host} is still in use.`);
    if (!(await store.update(inst.uuid, { task_state: 'rebuilding' }, { expectTaskState: [null] })))
      throw conflict(`Cannot 'evacuate' instance ${inst.uuid} while it is in task_state rebuilding`);
    await action(req, inst, 'evacuate');
    const m = await migration(req, inst, 'evacuation', 'accepted', { dest_compute: host });
    notifyInstance(bus, `nova-api:${svc.options.host}`, 'evacuate', { ...inst, task_state: 'rebuilding' });
    conductorMovesRpc(bus).cast().evacuate_instance({
      uuid: inst.uuid,
      request_id: req.id,
      migration_id: m.id,
      host,
      force,
      admin_pass: password,
    });
    if (!v.gte('2.14')) return { adminPass: password };
    return reply.code(200).send();
  };

  return { resize, confirmResize, revertResize, migrate, 'os-migrateLive': migrateLive, evacuate } satisfies Record<
    string,
    ServerAction
  >;
}
