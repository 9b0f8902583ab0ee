import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ComputeService, Family } from '../service.ts';
import { aggregateMigrations } from '../db/migrations/aggregates.ts';
import { type Aggregate } from '../aggregates.ts';
import * as aggregates from '../aggregate_api.ts';
import { novaTime } from '../times.ts';
import { authorize, badRequest, mv, validateBody } from './common.ts';
import { envelope } from './schemas/parameter_types.ts';
import { checkName } from './flavors.ts';

const AG = 'os_compute_api:os-aggregates';
type Id = { Params: { id: string } };

const AZ = { oneOf: [{ type: 'string', minLength: 1, maxLength: 255 }, { type: 'null' }] };
const CREATE = envelope('aggregate', {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: { name: { type: 'string', minLength: 1, maxLength: 255 }, availability_zone: AZ },
});
const UPDATE = envelope('aggregate', {
  type: 'object',
  additionalProperties: false,
  anyOf: [{ required: ['name'] }, { required: ['availability_zone'] }],
  properties: { name: { type: 'string', minLength: 1, maxLength: 255 }, availability_zone: AZ },
});
const hostAction = (action: string) =>
  envelope(action, {
    type: 'object',
    required: ['host'],
    additionalProperties: false,
    properties: { host: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[a-zA-Z0-9-._]*$' } },
  });
const ADD_HOST = hostAction('add_host');
const REMOVE_HOST = hostAction('remove_host');
const SET_METADATA = envelope(
  'set_metadata',
  envelope('metadata', {
    type: 'object',
    patternProperties: { '^[a-zA-Z0-9-_:. ]{1,255}$': { type: ['string', 'null'], maxLength: 255 } },
    additionalProperties: false,
  }),
);

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

const azName = (az: string) =>
  badRequest(`Invalid input for field/attribute availability_zone. Value: ${az}. '${az}' is not a 'az_name'`);

export async function listAggregates(svc: ComputeService, req: FastifyRequest) {
  authorize(req, `${AG}:index`, {});
  return { aggregates: (await svc.parts.aggregates.all()).map((a) => view(req, a)) };
}

export async function createAggregate(svc: ComputeService, req: FastifyRequest) {
  const v = validateBody<{ aggregate: { name: string; availability_zone?: string | null } }>(req, CREATE).aggregate;
  authorize(req, `${AG}:create`, {});
  checkName('name', v.name);
  if (typeof v.availability_zone === 'string') {
    checkName('availability_zone', v.availability_zone);
    if (v.availability_zone.includes(':')) throw azName(v.availability_zone);
  }
  return { aggregate: view(req, await aggregates.createAggregate(svc, v.name, v.availability_zone), true) };
}

export async function showAggregate(svc: ComputeService, req: FastifyRequest<Id>) {
  authorize(req, `${AG}:show`, {});
  return { aggregate: view(req, await aggregates.findAggregate(svc, req.params.id)) };
}

export async function updateAggregate(svc: ComputeService, req: FastifyRequest<Id>) {
  const v = validateBody<{ aggregate: { name?: string; availability_zone?: string | null } }>(req, UPDATE).aggregate;
  authorize(req, `${AG}:update`, {});
  if (typeof v.availability_zone === 'string' && v.availability_zone.includes(':')) throw azName(v.availability_zone);
  return { aggregate: view(req, await aggregates.updateAggregate(svc, req.params.id, v)) };
}

export async function deleteAggregate(svc: ComputeService, req: FastifyRequest<Id>, reply: FastifyReply) {
  authorize(req, `${AG}:delete`, {});
  await aggregates.deleteAggregate(svc, req.params.id);
  reply.code(200).send();
}

export async function aggregateAction(svc: ComputeService, req: FastifyRequest<Id>) {
  const body = req.body;
  const action = body && typeof body === 'object' ? Object.keys(body)[0] : undefined;
  const id = req.params.id;
  if (action === 'add_host') {
    const { host } = validateBody<{ add_host: { host: string } }>(req, ADD_HOST).add_host;
    authorize(req, `${AG}:add_host`, {});
    return { aggregate: view(req, await aggregates.addHost(svc, id, host)) };
  }
  if (action === 'remove_host') {
    const { host } = validateBody<{ remove_host: { host: string } }>(req, REMOVE_HOST).remove_host;
    authorize(req, `${AG}:remove_host`, {});
    return { aggregate: view(req, await aggregates.removeHost(svc, id, host)) };
  }
  if (action === 'set_metadata') {
    const { metadata } = validateBody<{ set_metadata: { metadata: Record<string, string | null> } }>(
      req,
      SET_METADATA,
    ).set_metadata;
    authorize(req, `${AG}:set_metadata`, {});
    return { aggregate: view(req, await aggregates.setMetadata(svc, id, metadata)) };
  }
  req.authorized = true;
  throw badRequest(`There is no such action: ${action ?? ''}`);
}

export const aggregatesFamily: Family = {
  name: 'aggregates',
  migrations: aggregateMigrations,
  async init(svc) {
    Object.assign(svc.providers, {
      availabilityZones: () => aggregates.availabilityZones(svc),
      async hostAvailabilityZone(host: string) {
        return (await aggregates.hostZones(svc)).get(host) ?? svc.options.defaultAvailabilityZone;
      },
    });
  },
};
