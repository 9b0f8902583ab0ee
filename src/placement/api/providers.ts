// /resource_providers and what hangs off a provider: inventories, usages, aggregates, traits
// and its allocations.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ErrorCode, perr } from './errors.ts';
import { cacheHeaders, jsonBody, queryAll, queryParams } from './util.ts';
import { canonicalUuid } from '../../core/validate.ts';
import { mv } from './microversion.ts';
import type { PlacementService } from '../service.ts';
import {
  DEFAULT_INVENTORY,
  MAX_INT,
  PlacementFailure,
  type Inventory,
  inventoryAmounts,
  type Provider,
} from '../store.ts';
import {
  absoluteUrl,
  findProvider,
  parseMemberOf,
  parseResources,
  parseTraitParams,
  providerUrl,
  satisfies,
  serializeProvider,
} from './common.ts';

const P = 'placement:resource_providers';
const RC_PATTERN = '^[A-Z0-9_]+$';
const UUID_PATTERN = '^[0-9a-fA-F-]{36}$';

const RP_POST = {
  type: 'object',
  properties: { name: { type: 'string', maxLength: 200 }, uuid: { type: 'string', format: 'uuid' } },
  required: ['name'],
  additionalProperties: false,
};
const RP_POST_14 = {
  ...RP_POST,
  properties: {
    ...RP_POST.properties,
    parent_provider_uuid: { anyOf: [{ type: 'string', format: 'uuid' }, { type: 'null' }] },
  },
};
const RP_PUT = { ...RP_POST, properties: { name: RP_POST.properties.name } };
const RP_PUT_14 = {
  ...RP_POST,
  properties: { name: RP_POST.properties.name, parent_provider_uuid: RP_POST_14.properties.parent_provider_uuid },
};

const INV_FIELDS = {
  resource_provider_generation: { type: 'integer' },
  total: { type: 'integer', maximum: MAX_INT, minimum: 1 },
  reserved: { type: 'integer', maximum: MAX_INT, minimum: 0 },
  min_unit: { type: 'integer', maximum: MAX_INT, minimum: 1 },
  max_unit: { type: 'integer', maximum: MAX_INT, minimum: 1 },
  step_size: { type: 'integer', maximum: MAX_INT, minimum: 1 },
  allocation_ratio: { type: 'number', maximum: 3.40282e38 },
};
const INV_BASE = {
  type: 'object',
  properties: INV_FIELDS,
  required: ['total', 'resource_provider_generation'],
  additionalProperties: false,
};
const INV_POST = {
  type: 'object',
  properties: { ...INV_FIELDS, resource_class: { type: 'string', pattern: RC_PATTERN } },
  required: ['total', 'resource_class'],
  additionalProperties: false,
};
const INV_RECORD = { ...INV_BASE, required: ['total'] };
export const INV_PUT_ALL = {
  type: 'object',
  properties: {
    resource_provider_generation: { type: 'integer' },
    inventories: { type: 'object', patternProperties: { [RC_PATTERN]: INV_RECORD } },
  },
  required: ['resource_provider_generation', 'inventories'],
  additionalProperties: false,
};
const AGG_LIST = { type: 'array', items: { type: 'string', format: 'uuid' }, uniqueItems: true };
const AGG_PUT_19 = {
  type: 'object',
  properties: { aggregates: AGG_LIST, resource_provider_generation: { type: 'integer' } },
  required: ['aggregates', 'resource_provider_generation'],
  additionalProperties: false,
};
const TRAITS_PUT = {
  type: 'object',
  properties: {
    traits: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 255 } },
    resource_provider_generation: { type: 'integer' },
  },
  required: ['traits', 'resource_provider_generation'],
  additionalProperties: false,
};

const listSchema = (req: FastifyRequest) => {
  const v = mv(req);
  const props: Record<string, unknown> = { name: { type: 'string' }, uuid: { type: 'string', format: 'uuid' } };
  if (v.gte('1.3')) props.member_of = { type: 'string' };
  if (v.gte('1.4')) props.resources = { type: 'string' };
  if (v.gte('1.14')) props.in_tree = { type: 'string', format: 'uuid' };
  if (v.gte('1.18')) props.required = { type: 'string' };
  return { type: 'object', properties: props, additionalProperties: false };
};

/** An inventory record with placement's defaults, checked as make_inventory_object and the 1.26 rule do. */
export function inventoryFrom(
  req: FastifyRequest,
  rpUuid: string,
  rc: string,
  raw: Record<string, unknown>,
  action = 'update',
): Inventory {
  const inv = { ...DEFAULT_INVENTORY, ...raw, resource_class: rc } as Inventory & {
    resource_provider_generation?: unknown;
  };
  delete inv.resource_provider_generation;
  if (inv.allocation_ratio <= 0)
    throw perr(400, `Bad inventory ${rc} for resource provider ${rpUuid}: allocation_ratio must be greater than 0.`);
  const bad = mv(req).gte('1.26') ? inv.reserved > inv.total : inv.reserved >= inv.total;
  if (bad) {
    const what = mv(req).gte('1.26')
      ? 'The reserved value is greater than total.'
      : 'The reserved value is greater than or equal to total.';
    throw perr(
      400,
      `Unable to ${action} inventory for resource provider ${rpUuid}: Invalid inventory for '${rc}' on resource provider '${rpUuid}'. ${what}`,
    );
  }
  if (inv.min_unit > inv.max_unit)
    throw perr(
      400,
      `Unable to ${action} inventory for resource provider ${rpUuid}: Invalid inventory for '${rc}' on resource provider '${rpUuid}'. The min_unit value is greater than max_unit.`,
    );
  return inv;
}

/** The 409 of a write whose resource_provider_generation is not the provider's. */
const generationConflict = () =>
  perr(
    409,
    `Resource provider's generation already changed. Please update the generation and try again.`,
    ErrorCode.CONCURRENT_UPDATE,
  );

/** Turns a store failure into placement's answer. */
export function failure(e: unknown, context: string): never {
  if (!(e instanceof PlacementFailure)) throw e;
  switch (e.kind) {
    case 'concurrent':
      throw perr(409, `${context}: ${e.message}`, ErrorCode.CONCURRENT_UPDATE);
    case 'inuse':
      throw perr(409, `${context}: ${e.message}`, ErrorCode.INVENTORY_INUSE);
    case 'bad_class':
      throw perr(400, `${context}: ${e.message}`);
    case 'provider_missing':
      throw perr(404, e.message);
    default:
      throw perr(409, `${context}: ${e.message}`);
  }
}

export function registerProviderRoutes(app: FastifyInstance, svc: PlacementService) {
  const store = svc.store;
  /** The provider of a /traits route (upstream's 404 there says it twice). */
  const traitsProvider = (uuid: string) =>
    findProvider(
      svc,
      uuid,
      `No resource provider with uuid ${uuid} found: No resource provider with uuid ${uuid} found`,
    );

  app.get('/resource_providers', async (req, reply) => {
    req.authorize(`${P}:list`);
    const v = mv(req);
    const q = queryParams(req, listSchema(req));
    const all = queryAll(req);
    let list = await store.providers();
    if (q.name !== undefined) list = list.filter((p) => p.name === q.name);
    if (q.uuid !== undefined) list = list.filter((p) => p.uuid === q.uuid);
    if (q.in_tree !== undefined) {
      const tree = list.find((p) => p.uuid === q.in_tree) ?? (await store.provider(q.in_tree));
      list = tree ? list.filter((p) => p.root_uuid === tree.root_uuid) : [];
    }
    if (q.member_of !== undefined) {
      const m = parseMemberOf(all.getAll('member_of'), v);
      const snap = await store.snapshot();
      list = list.filter((p) => satisfies(snap.aggregates.get(p.uuid), m));
    }
    if (q.required !== undefined) {
      const t = parseTraitParams(all.getAll('required'), v);
      const missing = await store.missingTraits([...t.required.flatMap((s) => [...s]), ...t.forbidden]);
      if (missing.length)
        throw perr(400, `Invalid trait(s) in "required" parameter: No such trait(s): ${missing.sort().join(', ')}.`);
      const snap = await store.snapshot();
      list = list.filter((p) => satisfies(snap.traits.get(p.uuid), t));
    }
    if (q.resources !== undefined) {
      const res = parseResources(q.resources);
      for (const rc of Object.keys(res))
        if (!(await store.classExists(rc)))
          throw perr(400, `Invalid resource class in resources parameter: No such resource class ${rc}.`);
      const snap = await store.snapshot();
      list = list.filter((p) =>
        Object.entries(res).every(([rc, amount]) => {
          const inv = snap.inventories.get(p.uuid)?.get(rc);
          if (!inv) return false;
          const used = snap.usage.get(p.uuid)?.get(rc) ?? 0;
          return (
            used + amount <= (inv.total - inv.reserved) * inv.allocation_ratio &&
            inv.min_unit <= amount &&
            amount <= inv.max_unit &&
            amount % inv.step_size === 0
          );
        }),
      );
    }
    cacheHeaders(
      req,
      reply,
      list.reduce<string | null>((m, p) => (!m || p.updated_at > m ? p.updated_at : m), null),
    );
    return { resource_providers: list.map((p) => serializeProvider(req, p)) };
  });

  app.post('/resource_providers', async (req, reply) => {
    req.authorize(`${P}:create`);
    const v = mv(req);
    const data = jsonBody<{ name: string; uuid?: string; parent_provider_uuid?: string | null }>(
      req,
      v.gte('1.14') ? RP_POST_14 : RP_POST,
    );
    const uuid = data.uuid ? canonicalUuid(data.uuid) : randomUUID();
    if (!data.name)
      throw perr(
        400,
        `Unable to create resource provider "${data.name}", ${uuid}: Object action create failed because: name is required`,
      );
    const parent = data.parent_provider_uuid ? canonicalUuid(data.parent_provider_uuid) : null;
    if (parent === uuid)
      throw perr(
        400,
        `Unable to create resource provider "${data.name}", ${uuid}: Object action create failed because: parent provider UUID cannot be same as UUID. Please set parent provider UUID to None if there is no parent.`,
      );
    const dups: string[] = [];
    if (await store.provider(uuid)) dups.push(`uuid: ${uuid}`);
    if ((await store.providers()).some((p) => p.name === data.name)) dups.push(`name: ${data.name}`);
    if (dups.length)
      throw perr(409, `Conflicting resource provider ${dups.join(', ')} already exists.`, ErrorCode.DUPLICATE_NAME);
    let rp: Provider;
    try {
      rp = await store.createProvider({ uuid, name: data.name, parent_uuid: parent });
    } catch (e) {
      if (e instanceof PlacementFailure)
        throw perr(
          400,
          `Unable to create resource provider "${data.name}", ${uuid}: Object action create failed because: ${e.message}`,
        );
      if ((await import('../../core/db.ts')).isUniqueViolation(e))
        throw perr(409, `Conflicting resource provider name: ${data.name} already exists.`, ErrorCode.DUPLICATE_NAME);
      throw e;
    }
    reply.header('location', absoluteUrl(req, providerUrl(req, rp.uuid)));
    if (v.gte('1.20')) {
      cacheHeaders(req, reply, rp.updated_at);
      return serializeProvider(req, rp);
    }
    reply.code(201).removeHeader('content-type');
    return reply.send();
  });

  app.get('/resource_providers/:uuid', async (req, reply) => {
    req.authorize(`${P}:show`);
    const rp = await findProvider(svc, (req.params as Record<string, string>).uuid);
    cacheHeaders(req, reply, rp.updated_at);
    return serializeProvider(req, rp);
  });

  app.put('/resource_providers/:uuid', async (req, reply) => {
    req.authorize(`${P}:update`);
    const v = mv(req);
    const rp = await findProvider(svc, (req.params as Record<string, string>).uuid);
    const data = jsonBody<{ name: string; parent_provider_uuid?: string | null }>(
      req,
      v.gte('1.14') ? RP_PUT_14 : RP_PUT,
    );
    const parent =
      'parent_provider_uuid' in data
        ? data.parent_provider_uuid
          ? canonicalUuid(data.parent_provider_uuid)
          : null
        : rp.parent_uuid;
    if (data.name !== rp.name && (await store.providers()).some((p) => p.name === data.name))
      throw perr(409, `Conflicting resource provider ${data.name} already exists.`, ErrorCode.DUPLICATE_NAME);
    let out: Provider;
    try {
      out = await store.updateProvider(rp, data.name, parent, v.gte('1.37'));
    } catch (e) {
      if (e instanceof PlacementFailure) throw perr(400, `Unable to save resource provider ${rp.uuid}: ${e.message}`);
      throw e;
    }
    cacheHeaders(req, reply, out.updated_at);
    return serializeProvider(req, out);
  });

  app.delete('/resource_providers/:uuid', async (req, reply) => {
    req.authorize(`${P}:delete`);
    const uuid = (req.params as Record<string, string>).uuid;
    await findProvider(svc, uuid, `No resource provider with uuid ${uuid} found for delete`);
    try {
      await store.deleteProvider(uuid);
    } catch (e) {
      if (e instanceof PlacementFailure && e.kind === 'inuse')
        throw perr(409, `Unable to delete resource provider ${uuid}: ${e.message}`, ErrorCode.PROVIDER_IN_USE);
      if (e instanceof PlacementFailure)
        throw perr(
          409,
          `Unable to delete parent resource provider ${uuid}: It has child resource providers.`,
          ErrorCode.PROVIDER_CANNOT_DELETE_PARENT,
        );
      throw e;
    }
    return reply.code(204).send();
  });

  // ---- inventories -----------------------------------------------------------------

  const inventoriesBody = async (rp: Provider) => {
    const invs = await store.inventories(rp.uuid);
    return {
      resource_provider_generation: rp.generation,
      inventories: Object.fromEntries(invs.map((i) => [i.resource_class, inventoryAmounts(i)])),
    };
  };

  app.get('/resource_providers/:uuid/inventories', async (req, reply) => {
    req.authorize(`${P}:inventories:list`);
    const uuid = (req.params as Record<string, string>).uuid;
    const rp = await findProvider(
      svc,
      uuid,
      `No resource provider with uuid ${uuid} found : No resource provider with uuid ${uuid} found`,
    );
    cacheHeaders(req, reply, rp.updated_at);
    return inventoriesBody(rp);
  });

  app.get('/resource_providers/:uuid/inventories/:rc', async (req, reply) => {
    req.authorize(`${P}:inventories:show`);
    const { uuid, rc } = req.params as Record<string, string>;
    const rp = await findProvider(
      svc,
      uuid,
      `No resource provider with uuid ${uuid} found : No resource provider with uuid ${uuid} found`,
    );
    const inv = (await store.inventories(uuid)).find((i) => i.resource_class === rc);
    if (!inv) throw perr(404, `No inventory of class ${rc} for ${uuid}`);
    cacheHeaders(req, reply, inv.updated_at);
    return { resource_provider_generation: rp.generation, ...inventoryAmounts(inv) };
  });

  app.post('/resource_providers/:uuid/inventories', async (req, reply) => {
    req.authorize(`${P}:inventories:create`);
    const uuid = (req.params as Record<string, string>).uuid;
    const rp = await findProvider(svc, uuid);
    const data = jsonBody<Record<string, unknown>>(req, INV_POST);
    const rc = data.resource_class as string;
    const raw = { ...data };
    delete raw.resource_class;
    const inv = inventoryFrom(req, uuid, rc, raw, 'create');
    if (!(await store.classExists(rc)))
      throw perr(400, `Unable to create inventory for resource provider ${uuid}: No such resource class ${rc}.`);
    const existing = await store.inventories(uuid);
    if (existing.some((i) => i.resource_class === rc))
      throw perr(
        409,
        `Update conflict: Inventory for '${rc}' on resource provider '${uuid}' already exists.`,
        ErrorCode.CONCURRENT_UPDATE,
      );
    const gen = data.resource_provider_generation ?? rp.generation;
    if (gen !== rp.generation) throw perr(409, 'resource provider generation conflict', ErrorCode.CONCURRENT_UPDATE);
    let newGen: number;
    try {
      newGen = await store.setInventories(uuid, gen, [inv], { replace: false });
    } catch (e) {
      failure(e, 'Update conflict');
    }
    reply.code(201).header('location', absoluteUrl(req, `${providerUrl(req, uuid)}/inventories/${rc}`));
    cacheHeaders(req, reply);
    return { resource_provider_generation: newGen, ...inventoryAmounts(inv) };
  });

  app.put('/resource_providers/:uuid/inventories', async (req, reply) => {
    req.authorize(`${P}:inventories:update`);
    const uuid = (req.params as Record<string, string>).uuid;
    await findProvider(svc, uuid);
    const data = jsonBody<{
      resource_provider_generation: number;
      inventories: Record<string, Record<string, unknown>>;
    }>(req, INV_PUT_ALL);
    const invs = Object.entries(data.inventories).map(([rc, raw]) => inventoryFrom(req, uuid, rc, raw));
    for (const inv of invs)
      if (!(await store.classExists(inv.resource_class)))
        throw perr(
          400,
          `Unknown resource class in inventory for resource provider ${uuid}: No such resource class ${inv.resource_class}.`,
        );
    try {
      await store.setInventories(uuid, data.resource_provider_generation, invs, { replace: true });
    } catch (e) {
      if (e instanceof PlacementFailure && e.kind === 'concurrent')
        throw perr(409, 'resource provider generation conflict', ErrorCode.CONCURRENT_UPDATE);
      failure(e, 'update conflict');
    }
    cacheHeaders(req, reply);
    return inventoriesBody((await store.provider(uuid))!);
  });

  app.put('/resource_providers/:uuid/inventories/:rc', async (req, reply) => {
    req.authorize(`${P}:inventories:update`);
    const { uuid, rc } = req.params as Record<string, string>;
    await findProvider(svc, uuid);
    const data = jsonBody<Record<string, unknown> & { resource_provider_generation: number }>(req, INV_BASE);
    const inv = inventoryFrom(req, uuid, rc, data);
    if (!(await store.inventories(uuid)).some((i) => i.resource_class === rc))
      throw perr(
        400,
        `No inventory record with resource class for resource provider ${uuid}: No inventory of class ${rc} found.`,
      );
    let gen: number;
    try {
      gen = await store.setInventories(uuid, data.resource_provider_generation, [inv], { replace: false });
    } catch (e) {
      if (e instanceof PlacementFailure && e.kind === 'concurrent')
        throw perr(409, 'resource provider generation conflict', ErrorCode.CONCURRENT_UPDATE);
      failure(e, 'update conflict');
    }
    cacheHeaders(req, reply);
    return { resource_provider_generation: gen, ...inventoryAmounts(inv) };
  });

  app.delete('/resource_providers/:uuid/inventories', async (req, reply) => {
    req.authorize(`${P}:inventories:delete`);
    const uuid = (req.params as Record<string, string>).uuid;
    const rp = await findProvider(svc, uuid);
    try {
      await store.setInventories(uuid, rp.generation, [], { replace: true });
    } catch (e) {
      if (e instanceof PlacementFailure && e.kind === 'concurrent')
        throw perr(
          409,
          `Unable to delete inventory for resource provider ${uuid} because the inventory was updated by another process. Please retry your request.`,
          ErrorCode.CONCURRENT_UPDATE,
        );
      if (e instanceof PlacementFailure && e.kind === 'inuse') throw perr(409, e.message, ErrorCode.INVENTORY_INUSE);
      throw e;
    }
    return reply.code(204).send();
  });

  app.delete('/resource_providers/:uuid/inventories/:rc', async (req, reply) => {
    req.authorize(`${P}:inventories:delete`);
    const { uuid, rc } = req.params as Record<string, string>;
    const rp = await findProvider(svc, uuid);
    if (!(await store.inventories(uuid)).some((i) => i.resource_class === rc))
      throw perr(404, `No inventory of class ${rc} found for delete`);
    try {
      await store.setInventories(uuid, rp.generation, [], { replace: false, remove: [rc] });
    } catch (e) {
      if (e instanceof PlacementFailure && e.kind === 'inuse')
        throw perr(409, `Unable to delete inventory of class ${rc}: ${e.message}`, ErrorCode.INVENTORY_INUSE);
      failure(e, `Unable to delete inventory of class ${rc}`);
    }
    return reply.code(204).send();
  });

  // ---- usages, aggregates, traits, allocations of a provider --------------------------

  app.get('/resource_providers/:uuid/usages', async (req, reply) => {
    req.authorize(`${P}:usages`);
    const uuid = (req.params as Record<string, string>).uuid;
    const rp = await findProvider(svc, uuid, `No resource provider with uuid ${uuid} found`);
    cacheHeaders(req, reply);
    return { resource_provider_generation: rp.generation, usages: await store.usages(uuid) };
  });

  app.get('/resource_providers/:uuid/aggregates', async (req, reply) => {
    req.authorize(`${P}:aggregates:list`);
    const rp = await findProvider(svc, (req.params as Record<string, string>).uuid);
    cacheHeaders(req, reply, rp.updated_at);
    const out: Record<string, unknown> = { aggregates: await store.providerAggregates(rp.uuid) };
    if (mv(req).gte('1.19')) out.resource_provider_generation = rp.generation;
    return out;
  });

  app.put('/resource_providers/:uuid/aggregates', async (req, reply) => {
    req.authorize(`${P}:aggregates:update`);
    const v = mv(req);
    const rp = await findProvider(svc, (req.params as Record<string, string>).uuid);
    let aggs: string[];
    let gen: number | undefined;
    if (v.gte('1.19')) {
      const d = jsonBody<{ aggregates: string[]; resource_provider_generation: number }>(req, AGG_PUT_19);
      aggs = d.aggregates;
      gen = d.resource_provider_generation;
    } else aggs = jsonBody<string[]>(req, AGG_LIST);
    aggs = aggs.map(canonicalUuid);
    let newGen: number;
    try {
      newGen = await store.setProviderAggregates(rp.uuid, gen, aggs);
    } catch (e) {
      if (e instanceof PlacementFailure && e.kind === 'concurrent') throw generationConflict();
      throw e;
    }
    cacheHeaders(req, reply);
    const out: Record<string, unknown> = { aggregates: [...new Set(aggs)] };
    if (v.gte('1.19')) out.resource_provider_generation = newGen;
    return out;
  });

  app.get('/resource_providers/:uuid/traits', async (req, reply) => {
    req.authorize(`${P}:traits:list`);
    const uuid = (req.params as Record<string, string>).uuid;
    const rp = await traitsProvider(uuid);
    cacheHeaders(req, reply, rp.updated_at);
    return { traits: await store.providerTraits(uuid), resource_provider_generation: rp.generation };
  });

  app.put('/resource_providers/:uuid/traits', async (req, reply) => {
    req.authorize(`${P}:traits:update`);
    const uuid = (req.params as Record<string, string>).uuid;
    const rp = await traitsProvider(uuid);
    const d = jsonBody<{ traits: string[]; resource_provider_generation: number }>(req, TRAITS_PUT);
    if (d.resource_provider_generation !== rp.generation) throw generationConflict();
    const missing = await store.missingTraits(d.traits);
    if (missing.length) throw perr(400, `No such trait(s): ${missing.join(', ')}.`);
    let gen: number;
    try {
      gen = await store.setProviderTraits(uuid, d.resource_provider_generation, d.traits);
    } catch (e) {
      if (e instanceof PlacementFailure && e.kind === 'concurrent') throw generationConflict();
      throw e;
    }
    cacheHeaders(req, reply);
    return { traits: [...new Set(d.traits)].sort(), resource_provider_generation: gen };
  });

  app.delete('/resource_providers/:uuid/traits', async (req, reply) => {
    req.authorize(`${P}:traits:delete`);
    const uuid = (req.params as Record<string, string>).uuid;
    await traitsProvider(uuid);
    try {
      await store.setProviderTraits(uuid, undefined, []);
    } catch (e) {
      if (e instanceof PlacementFailure && e.kind === 'concurrent')
        throw perr(
          409,
          `Resource provider ${uuid} was updated concurrently; please retry.`,
          ErrorCode.CONCURRENT_UPDATE,
        );
      throw e;
    }
    return reply.code(204).send();
  });

  app.get('/resource_providers/:uuid/allocations', async (req, reply) => {
    req.authorize(`${P}:allocations:list`);
    const uuid = (req.params as Record<string, string>).uuid;
    const rp = await findProvider(
      svc,
      uuid,
      `Resource provider '${uuid}' not found: No resource provider with uuid ${uuid} found`,
    );
    const rows = await store.allocationsOfProvider(uuid);
    const consumers = await store.consumersByUuid([...new Set(rows.map((r) => r.consumer_uuid))]);
    const allocations: Record<string, { resources: Record<string, number>; consumer_generation?: number | null }> = {};
    for (const r of rows) {
      const a = (allocations[r.consumer_uuid] ??= { resources: {} });
      a.resources[r.resource_class] = r.used;
      if (mv(req).gte('1.28')) a.consumer_generation = consumers.get(r.consumer_uuid)?.generation ?? null;
    }
    cacheHeaders(
      req,
      reply,
      rows.reduce<string | null>((m, r) => (!m || r.updated_at > m ? r.updated_at : m), null),
    );
    return { allocations, resource_provider_generation: rp.generation };
  });
}

export { UUID_PATTERN, RC_PATTERN };
