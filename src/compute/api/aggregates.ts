import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ComputeService, Family } from '../service.ts';
import { aggregateMigrations } from '../db/migrations/aggregates.ts';
import { type Aggregate } from '../aggregates.ts';
import { novaTime } from '../times.ts';
import { computeNodeOf, computeServiceOf, serversOnHosts } from '../hosts.ts';
import { authorize, badRequest, conflict, mv, notFound, validateBody } from './common.ts';
import { checkName } from './flavors.ts';

const AG = 'os_compute_api:os-aggregates';

/**
 * The availability zone of each host in a zoned aggregate (several zones joined by ',', as
 * Nova's get_host_availability_zone); hosts in none are in the default zone.
 */
export async function hostZones(svc: ComputeService): Promise<Map<string, string>> {
  const zones = new Map<string, string[]>();
  for (const a of await svc.parts.aggregates.all()) {
    const az = a.metadata.availability_zone;
    if (!az) continue;
    for (const h of a.hosts) {
      const l = zones.get(h) ?? [];
      if (!l.includes(az)) l.push(az);
      zones.set(h, l);
    }
  }
  return new Map([...zones].map(([h, l]) => [h, l.sort().join(',')]));
}

// ---- the API ------------------------------------------------------------------------------

const AZ = { oneOf: [{ type: 'string', minLength: 1, maxLength: 255 }, { type: 'null' }] };
const CREATE = {
  type: 'object',
  required: ['aggregate'],
  additionalProperties: false,
  properties: {
    aggregate: {
      type: 'object',
      required: ['name'],
      additionalProperties: false,
      properties: { name: { type: 'string', minLength: 1, maxLength: 255 }, availability_zone: AZ },
    },
  },
};
const UPDATE = {
  type: 'object',
  required: ['aggregate'],
  additionalProperties: false,
  properties: {
    aggregate: {
      type: 'object',
      additionalProperties: false,
      anyOf: [{ required: ['name'] }, { required: ['availability_zone'] }],
      properties: { name: { type: 'string', minLength: 1, maxLength: 255 }, availability_zone: AZ },
    },
  },
};
const hostAction = (action: string) => ({
  type: 'object',
  required: [action],
  additionalProperties: false,
  properties: {
    [action]: {
      type: 'object',
      required: ['host'],
      additionalProperties: false,
      properties: { host: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[a-zA-Z0-9-._]*$' } },
    },
  },
});
const ADD_HOST = hostAction('add_host');
const REMOVE_HOST = hostAction('remove_host');
const SET_METADATA = {
  type: 'object',
  required: ['set_metadata'],
  additionalProperties: false,
  properties: {
    set_metadata: {
      type: 'object',
      required: ['metadata'],
      additionalProperties: false,
      properties: {
        metadata: {
          type: 'object',
          patternProperties: { '^[a-zA-Z0-9-_:. ]{1,255}$': { type: ['string', 'null'], maxLength: 255 } },
          additionalProperties: false,
        },
      },
    },
  },
};

function view(req: FastifyRequest, a: Aggregate, brief = false) {
  const out: Record<string, unknown> = {
    availability_zone: a.metadata.availability_zone ?? null,
    created_at: novaTime(a.created_at),
    deleted: false,
    deleted_at: null,
    id: a.id,
    name: a.name,
    updated_at: novaTime(a.updated_at),
  };
  if (!brief) {
    out.hosts = a.hosts;
    out.metadata = a.metadata;
  }
  if (mv(req).gte('2.41')) out.uuid = a.uuid;
  return out;
}

function aggregateId(raw: string): number {
  if (!/^\s*[-+]?\d+\s*$/.test(raw)) throw badRequest(`Invalid input received: id must be an integer.`);
  return Number(raw);
}

/** Nova's normalize_name: surrounding whitespace goes, inner runs stay. */
const normalize = (s: string) => s.trim();

const find = async (svc: ComputeService, raw: string) => {
  const id = aggregateId(raw);
  const a = await svc.parts.aggregates.get(id);
  if (!a) throw notFound(`Aggregate ${raw} could not be found.`);
  return a;
};

/** is_safe_to_update_az: no empty zone name, no host in two zones, no zone change under servers. */
const checkZone = async (
  svc: ComputeService,
  a: Aggregate,
  az: string | null | undefined,
  hosts: string[],
  fail: (reason: string) => Error,
  checkInstances: boolean,
) => {
  if (az === undefined) return;
  if (!az) throw fail(`Aggregate ${a.name} does not support empty named availability zone`);
  const conflicting = (await svc.parts.aggregates.all())
    .filter(
      (o) =>
        o.id !== a.id &&
        o.metadata.availability_zone &&
        o.metadata.availability_zone !== az &&
        o.hosts.some((h) => hosts.includes(h)),
    )
    .map((o) => o.metadata.availability_zone!);
  if (conflicting.length)
    throw fail(`One or more hosts already in availability zone(s) [${conflicting.map((z) => `'${z}'`).join(', ')}]`);
  if (checkInstances && a.metadata.availability_zone !== az && hosts.length) {
    if (await serversOnHosts(svc.db, hosts)) throw fail('One or more hosts contain instances in this zone');
  }
};

export async function listAggregates(svc: ComputeService, req: FastifyRequest) {
  authorize(req, `${AG}:index`, {});
  return { aggregates: (await svc.parts.aggregates.all()).map((a) => view(req, a)) };
}

export async function createAggregate(svc: ComputeService, req: FastifyRequest) {
  const body = validateBody<{ aggregate: { name: string; availability_zone?: string | null } }>(req, CREATE);
  authorize(req, `${AG}:create`, {});
  const v = body.aggregate;
  checkName('name', v.name);
  if (typeof v.availability_zone === 'string') {
    checkName('availability_zone', v.availability_zone);
    if (v.availability_zone.includes(':'))
      throw badRequest(
        `Invalid input for field/attribute availability_zone. Value: ${v.availability_zone}. '${v.availability_zone}' is not a 'az_name'`,
      );
  }
  const a = await svc.parts.aggregates.create(
    normalize(v.name),
    v.availability_zone ? normalize(v.availability_zone) : null,
  );
  return { aggregate: view(req, a, true) };
}

export async function showAggregate(svc: ComputeService, req: FastifyRequest<{ Params: { id: string } }>) {
  authorize(req, `${AG}:show`, {});
  return { aggregate: view(req, await find(svc, req.params.id)) };
}

export async function updateAggregate(svc: ComputeService, req: FastifyRequest<{ Params: { id: string } }>) {
  const body = validateBody<{ aggregate: { name?: string; availability_zone?: string | null } }>(req, UPDATE);
  authorize(req, `${AG}:update`, {});
  const v = body.aggregate;
  if (typeof v.availability_zone === 'string' && v.availability_zone.includes(':'))
    throw badRequest(
      `Invalid input for field/attribute availability_zone. Value: ${v.availability_zone}. '${v.availability_zone}' is not a 'az_name'`,
    );
  const a = await find(svc, req.params.id);
  if (v.name !== undefined) await svc.parts.aggregates.rename(a.id, normalize(v.name));
  if ('availability_zone' in v) {
    await checkZone(
      svc,
      a,
      v.availability_zone,
      a.hosts,
      (r) => badRequest(`Cannot update aggregate ${a.id}. Reason: ${r}.`),
      true,
    );
    await svc.parts.aggregates.updateMetadata(a.id, { availability_zone: v.availability_zone ?? null });
  }
  return { aggregate: view(req, (await svc.parts.aggregates.get(a.id))!) };
}

export async function deleteAggregate(
  svc: ComputeService,
  req: FastifyRequest<{ Params: { id: string } }>,
  reply: FastifyReply,
) {
  authorize(req, `${AG}:delete`, {});
  const a = await find(svc, req.params.id);
  if (a.hosts.length) throw badRequest(`Cannot remove aggregate ${a.id}. Reason: Host aggregate is not empty.`);
  await svc.parts.aggregates.destroy(a.id);
  reply.code(200).send();
}

export async function aggregateAction(svc: ComputeService, req: FastifyRequest<{ Params: { id: string } }>) {
  // Each action's body is validated by its schema below before it is read.
  const body = req.body as {
    add_host: { host: string };
    remove_host: { host: string };
    set_metadata: { metadata: Record<string, string | null> };
  } | null;
  const action = body && typeof body === 'object' ? Object.keys(body)[0] : undefined;
  if (action === 'add_host') {
    validateBody(req, ADD_HOST);
    authorize(req, `${AG}:add_host`, {});
    const host = body!.add_host.host;
    aggregateId(req.params.id);
    if (!(await computeServiceOf(svc.db, host))) throw notFound(`Compute host ${host} could not be found.`);
    const a = await find(svc, req.params.id);
    await checkZone(
      svc,
      a,
      a.metadata.availability_zone,
      [host],
      (r) => conflict(`Cannot add host to aggregate ${a.id}. Reason: ${r}.`),
      false,
    );
    if (a.hosts.includes(host)) throw conflict(`Aggregate ${a.id} already has host ${host}.`);
    await svc.parts.aggregates.addHost(a.id, host);
    await syncPlacement(svc, a.uuid, host, 'add');
    return { aggregate: view(req, (await svc.parts.aggregates.get(a.id))!) };
  }
  if (action === 'remove_host') {
    validateBody(req, REMOVE_HOST);
    authorize(req, `${AG}:remove_host`, {});
    const host = body!.remove_host.host;
    aggregateId(req.params.id);
    const a = await svc.parts.aggregates.get(Number(req.params.id));
    if (!a || !(await svc.parts.aggregates.removeHost(a.id, host)))
      throw notFound(`Cannot remove host ${host} in aggregate ${req.params.id}`);
    await syncPlacement(svc, a.uuid, host, 'remove');
    return { aggregate: view(req, (await svc.parts.aggregates.get(a.id))!) };
  }
  if (action === 'set_metadata') {
    validateBody(req, SET_METADATA);
    authorize(req, `${AG}:set_metadata`, {});
    const a = await find(svc, req.params.id);
    const metadata = body!.set_metadata.metadata;
    if ('availability_zone' in metadata) {
      await checkZone(
        svc,
        a,
        metadata.availability_zone,
        a.hosts,
        (r) => badRequest(`Cannot update metadata of aggregate ${a.id}. Reason: ${r}.`),
        true,
      );
    }
    await svc.parts.aggregates.updateMetadata(a.id, metadata);
    return { aggregate: view(req, (await svc.parts.aggregates.get(a.id))!) };
  }
  req.authorized = true;
  throw badRequest(`There is no such action: ${action ?? ''}`);
}

/**
 * Mirrors host membership into placement's aggregates (the compute node provider joins or leaves
 * the aggregate's uuid), as AggregateAPI does; a failure is only logged, as upstream.
 */
async function syncPlacement(svc: ComputeService, aggregateUuid: string, host: string, op: 'add' | 'remove') {
  try {
    const node = await computeNodeOf(svc.db, host);
    if (!node) return;
    const placement = svc.parts.clients.placement;
    const res = await placement.getAggregates(node.uuid);
    if (res.status < 200 || res.status > 299) return;
    const cur = res.body;
    const aggs = new Set(cur.aggregates);
    if (op === 'add') aggs.add(aggregateUuid);
    else aggs.delete(aggregateUuid);
    await placement.putAggregates(node.uuid, cur.resource_provider_generation, [...aggs]);
  } catch (e) {
    svc.ctx.log.warn({ err: e, host, aggregate: aggregateUuid }, 'could not mirror the aggregate into placement');
  }
}

export const aggregatesFamily: Family = {
  name: 'aggregates',
  migrations: aggregateMigrations,
  async init(svc) {
    Object.assign(svc.providers, {
      async availabilityZones() {
        const zones = new Set([svc.options.defaultAvailabilityZone]);
        for (const a of await svc.parts.aggregates.all())
          if (a.metadata.availability_zone) zones.add(a.metadata.availability_zone);
        return [...zones].sort();
      },
      async hostAvailabilityZone(host: string) {
        return (await hostZones(svc)).get(host) ?? svc.options.defaultAvailabilityZone;
      },
    });
  },
};
