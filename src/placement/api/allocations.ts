// /allocations (per consumer, and POST for many consumers at once from 1.13), /usages (1.9)
// and /reshaper (1.30): every write goes through PlacementStore.replaceAllocations, one
// transaction that checks consumer and provider generations and capacity.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Microversion } from '../../core/http.ts';
import { ErrorCode, perr } from './errors.ts';
import { cacheHeaders, jsonBody, queryParams } from './util.ts';
import { canonicalUuid, isUuidLike } from '../../core/validate.ts';
import { mv } from './microversion.ts';
import type { PlacementService } from '../service.ts';
import { INCOMPLETE_CONSUMER_ID, PlacementFailure, type ConsumerWrite, type Inventory } from '../store.ts';
import { INV_PUT_ALL, UUID_PATTERN as UUID, inventoryFrom } from './providers.ts';

const RC = '^[A-Z0-9_]+$';
const GROUP_1_33 = '^[a-zA-Z0-9_-]{1,64}$|^$';
const RESOURCES = {
  type: 'object',
  minProperties: 1,
  patternProperties: { [RC]: { type: 'integer', minimum: 1 } },
  additionalProperties: false,
};
const ID = { type: 'string', minLength: 1, maxLength: 255 };

const LIST_FORM = {
  type: 'object',
  properties: {
    allocations: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        properties: {
          resource_provider: {
            type: 'object',
            properties: { uuid: { type: 'string', format: 'uuid' } },
            additionalProperties: false,
            required: ['uuid'],
          },
          resources: RESOURCES,
        },
        required: ['resource_provider', 'resources'],
        additionalProperties: false,
      },
    },
  },
  required: ['allocations'],
  additionalProperties: false,
};
const LIST_FORM_18 = {
  ...LIST_FORM,
  properties: { ...LIST_FORM.properties, project_id: ID, user_id: ID },
  required: ['allocations', 'project_id', 'user_id'],
};

/**
 * Schemas built once per shape: the validator cache (service.ts validatorOf) finds a schema it
 * has seen by identity; a schema built per request would be stringified whole on every request.
 */
const built = new Map<string, object>();
const once = <T extends object>(key: string, make: () => T): T => {
  let s = built.get(key);
  if (!s) built.set(key, (s = make()));
  return s as T;
};

/** The dict form (1.12+); options add what later microversions require. */
function dictForm(o: { minProps: number; generation?: boolean; mappings?: boolean; consumerType?: boolean }) {
  return once(`dict ${JSON.stringify(o)}`, () => makeDictForm(o));
}
function makeDictForm(o: { minProps: number; generation?: boolean; mappings?: boolean; consumerType?: boolean }) {
  const props: Record<string, unknown> = {
    allocations: {
      type: 'object',
      minProperties: o.minProps,
      patternProperties: {
        [UUID]: {
          type: 'object',
          properties: { generation: { type: 'integer' }, resources: RESOURCES },
          required: ['resources'],
          additionalProperties: false,
        },
      },
      additionalProperties: false,
    },
    project_id: ID,
    user_id: ID,
  };
  const required = ['allocations', 'project_id', 'user_id'];
  if (o.generation) {
    props.consumer_generation = { type: ['integer', 'null'] };
    required.push('consumer_generation');
  }
  if (o.mappings)
    props.mappings = {
      type: 'object',
      minProperties: 1,
      patternProperties: { [GROUP_1_33]: { type: 'array', minItems: 1, items: { type: 'string', format: 'uuid' } } },
    };
  if (o.consumerType) {
    props.consumer_type = { type: 'string', pattern: RC, minLength: 1, maxLength: 255 };
    required.push('consumer_type');
  }
  return { type: 'object', properties: props, required, additionalProperties: false };
}

function putSchema(v: Microversion) {
  if (v.gte('1.38')) return dictForm({ minProps: 0, generation: true, mappings: true, consumerType: true });
  if (v.gte('1.34')) return dictForm({ minProps: 0, generation: true, mappings: true });
  if (v.gte('1.28')) return dictForm({ minProps: 0, generation: true });
  if (v.gte('1.12')) return dictForm({ minProps: 1 });
  if (v.gte('1.8')) return LIST_FORM_18;
  return LIST_FORM;
}
export function postSchema(v: Microversion, minProperties = 1) {
  const form = v.gte('1.38')
    ? { minProps: 0, generation: true, mappings: true, consumerType: true }
    : v.gte('1.34')
      ? { minProps: 0, generation: true, mappings: true }
      : v.gte('1.28')
        ? { minProps: 0, generation: true }
        : { minProps: 0 };
  return once(`post ${minProperties} ${JSON.stringify(form)}`, () => ({
    type: 'object',
    minProperties,
    additionalProperties: false,
    patternProperties: { [UUID]: dictForm(form) },
  }));
}

/** A consumer's allocations as its schema admits them: a list (before 1.12) or a dict by provider. */
export interface ConsumerBody {
  allocations:
    | Array<{ resource_provider: { uuid: string }; resources: Record<string, number> }>
    | Record<string, { resources: Record<string, number> }>;
  project_id?: string;
  user_id?: string;
  consumer_generation?: number | null;
  consumer_type?: string;
}

/** A consumer's write from its request body (validated by its schema) at a microversion. */
export function consumerWrite(v: Microversion, uuid: string, data: ConsumerBody): ConsumerWrite {
  let allocations: Record<string, Record<string, number>> = {};
  if (Array.isArray(data.allocations)) {
    for (const a of data.allocations)
      allocations[canonicalUuid(a.resource_provider.uuid)] = {
        ...(allocations[canonicalUuid(a.resource_provider.uuid)] ?? {}),
        ...a.resources,
      };
  } else {
    allocations = Object.fromEntries(
      Object.entries(data.allocations).map(([rp, a]) => [canonicalUuid(rp), a.resources]),
    );
  }
  const hasProject = typeof data.project_id === 'string';
  return {
    uuid,
    allocations,
    project_id: hasProject ? (data.project_id as string) : INCOMPLETE_CONSUMER_ID,
    user_id: hasProject ? (data.user_id as string) : INCOMPLETE_CONSUMER_ID,
    generation: v.gte('1.28') ? data.consumer_generation : undefined,
    consumer_type: v.gte('1.38') ? data.consumer_type : undefined,
  };
}

/** Runs an allocation write and turns store failures into placement's answers. */
export async function writeAllocations(svc: PlacementService, writes: ConsumerWrite[], single?: string) {
  try {
    await svc.store.replaceAllocations(writes);
  } catch (e) {
    if (!(e instanceof PlacementFailure)) throw e;
    switch (e.kind) {
      case 'consumer_generation':
        throw perr(409, e.message, ErrorCode.CONCURRENT_UPDATE);
      case 'concurrent':
        throw perr(
          409,
          `Inventory and/or allocations changed while attempting to allocate: ${e.message}`,
          ErrorCode.CONCURRENT_UPDATE,
        );
      case 'provider_missing':
        throw perr(400, e.message);
      case 'bad_class':
        throw perr(
          400,
          single
            ? `Unable to allocate inventory for consumer ${single}: ${e.message}`
            : `Unable to allocate inventory ${e.message}`,
        );
      default:
        throw perr(409, `Unable to allocate inventory: ${e.message}`);
    }
  }
}

export function registerAllocationRoutes(app: FastifyInstance, svc: PlacementService) {
  const store = svc.store;

  app.get('/allocations/:consumer', async (req, reply) => {
    req.authorize('placement:allocations:list');
    const v = mv(req);
    const consumer = (req.params as Record<string, string>).consumer;
    const rows = await store.allocationsOfConsumer(consumer);
    const gens = new Map<string, number>();
    for (const r of rows)
      if (!gens.has(r.rp_uuid)) gens.set(r.rp_uuid, (await store.provider(r.rp_uuid))?.generation ?? 0);
    const allocations: Record<string, { resources: Record<string, number>; generation: number }> = {};
    for (const r of rows)
      (allocations[r.rp_uuid] ??= { resources: {}, generation: gens.get(r.rp_uuid)! }).resources[r.resource_class] =
        r.used;
    const out: Record<string, unknown> = { allocations };
    if (rows.length && v.gte('1.12')) {
      const c = await store.consumer(consumer);
      out.project_id = c?.project_id;
      out.user_id = c?.user_id;
      if (v.gte('1.28')) out.consumer_generation = c?.generation;
      if (v.gte('1.38')) out.consumer_type = c?.consumer_type ?? 'unknown';
    }
    cacheHeaders(
      req,
      reply,
      rows.reduce<string | null>((m, r) => (!m || r.updated_at > m ? r.updated_at : m), null),
    );
    return out;
  });

  app.put('/allocations/:consumer', async (req, reply) => {
    req.authorize('placement:allocations:update');
    const v = mv(req);
    const raw = (req.params as Record<string, string>).consumer;
    if (!isUuidLike(raw)) throw perr(400, `Malformed consumer_uuid: ${raw}`);
    const consumer = canonicalUuid(raw);
    const data = jsonBody<ConsumerBody>(req, putSchema(v));
    await writeAllocations(svc, [consumerWrite(v, consumer, data)], consumer);
    return reply.code(204).send();
  });

  app.post('/allocations', async (req, reply) => {
    req.authorize('placement:allocations:manage');
    const v = mv(req);
    const data = jsonBody<Record<string, ConsumerBody>>(req, postSchema(v));
    await writeAllocations(
      svc,
      Object.entries(data).map(([c, d]) => consumerWrite(v, canonicalUuid(c), d)),
    );
    return reply.code(204).send();
  });

  app.delete('/allocations/:consumer', async (req, reply) => {
    req.authorize('placement:allocations:delete');
    const consumer = (req.params as Record<string, string>).consumer;
    if (!(await store.deleteAllocations(consumer))) throw perr(404, `No allocations for consumer '${consumer}'`);
    return reply.code(204).send();
  });

  app.get('/usages', async (req: FastifyRequest, reply) => {
    const q0 = Object.fromEntries(new URLSearchParams(req.url.split('?')[1] ?? ''));
    req.authorize('placement:usages', { project_id: q0.project_id });
    const v = mv(req);
    const schema: {
      type: string;
      properties: Record<string, object>;
      required: string[];
      additionalProperties: boolean;
    } = {
      type: 'object',
      properties: { project_id: ID, user_id: ID },
      required: ['project_id'],
      additionalProperties: false,
    };
    if (v.gte('1.38'))
      schema.properties.consumer_type = {
        type: 'string',
        pattern: '^[A-Z0-9_]+$|^all$|^unknown$',
        minLength: 1,
        maxLength: 255,
      };
    const q = queryParams(req, schema);
    const rows = await store.projectUsages(q.project_id!, q.user_id);
    cacheHeaders(req, reply);
    if (!v.gte('1.38')) {
      const usages: Record<string, number> = {};
      for (const r of rows) usages[r.resource_class] = (usages[r.resource_class] ?? 0) + r.used;
      return { usages };
    }
    const ct = q.consumer_type;
    const groups = new Map<string, { consumers: Set<string>; usage: Record<string, number> }>();
    for (const r of rows) {
      const type = r.consumer_type ?? 'unknown';
      if (ct && ct !== 'all' && ct !== type) continue;
      const key = ct === 'all' ? 'all' : type;
      const g = groups.get(key) ?? { consumers: new Set(), usage: {} };
      groups.set(key, g);
      g.consumers.add(r.consumer_uuid);
      g.usage[r.resource_class] = (g.usage[r.resource_class] ?? 0) + r.used;
    }
    return {
      usages: Object.fromEntries([...groups].map(([k, g]) => [k, { ...g.usage, consumer_count: g.consumers.size }])),
    };
  });

  app.post('/reshaper', async (req, reply) => {
    req.authorize('placement:reshaper:reshape');
    const v = mv(req);
    const schema = {
      type: 'object',
      properties: {
        inventories: {
          type: 'object',
          patternProperties: { [UUID]: INV_PUT_ALL },
          minProperties: 1,
          additionalProperties: false,
        },
        allocations: postSchema(v, 0),
      },
      required: ['inventories', 'allocations'],
      additionalProperties: false,
    };
    const data = jsonBody<{
      inventories: Record<
        string,
        { resource_provider_generation: number; inventories: Record<string, Record<string, unknown>> }
      >;
      allocations: Record<string, ConsumerBody>;
    }>(req, schema);
    const invs: Array<{ uuid: string; generation: number; list: Inventory[] }> = [];
    for (const [raw, d] of Object.entries(data.inventories)) {
      const uuid = canonicalUuid(raw);
      const rp = await store.provider(uuid);
      if (!rp)
        throw perr(
          400,
          `Resource provider ${uuid} in inventories not found: No resource provider with uuid ${uuid} found`,
          ErrorCode.RESOURCE_PROVIDER_NOT_FOUND,
        );
      if (d.resource_provider_generation !== rp.generation) {
        throw perr(
          409,
          `resource provider generation conflict for provider ${uuid}: actual: ${rp.generation}, given: ${d.resource_provider_generation}`,
          ErrorCode.CONCURRENT_UPDATE,
        );
      }
      invs.push({
        uuid,
        generation: rp.generation,
        list: Object.entries(d.inventories).map(([rc, r]) => inventoryFrom(req, uuid, rc, r)),
      });
    }
    const writes = Object.entries(data.allocations).map(([c, d]) => consumerWrite(v, canonicalUuid(c), d));
    try {
      await store.db.transaction().execute(async (trx) => {
        // As upstream: an interim inventory (old and new classes merged) so that allocations can
        // move, then the allocations, then the final inventory, which must cover every allocation.
        const gen = async (uuid: string) => (await store.provider(uuid, trx))!.generation;
        for (const i of invs) {
          if (!i.list.length) continue;
          const merged = new Map((await store.inventories(i.uuid, trx)).map((x) => [x.resource_class, x]));
          for (const x of i.list) merged.set(x.resource_class, x);
          await store.setInventories(i.uuid, await gen(i.uuid), [...merged.values()], { replace: true }, trx);
        }
        await store.replaceAllocations(writes, trx);
        for (const i of invs) await store.setInventories(i.uuid, await gen(i.uuid), i.list, { replace: true }, trx);
      });
    } catch (e) {
      if (!(e instanceof PlacementFailure)) throw e;
      if (e.kind === 'concurrent' || e.kind === 'consumer_generation')
        throw perr(409, `update conflict: ${e.message}`, ErrorCode.CONCURRENT_UPDATE);
      if (e.kind === 'inuse') throw perr(409, `update conflict: ${e.message}`, ErrorCode.INVENTORY_INUSE);
      if (e.kind === 'provider_missing' || e.kind === 'bad_class')
        throw perr(400, `malformed reshaper data: ${e.message}`);
      throw perr(409, `Unable to allocate inventory: ${e.message}`);
    }
    return reply.code(204).send();
  });
}
