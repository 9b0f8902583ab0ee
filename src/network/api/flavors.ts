// The flavors framework (`flavors`: neutron/db/flavors_db.py and services/flavors, Zed): flavors
// of a service type, service profiles (a provider driver and/or metainfo), the flavor ↔ profile
// bindings (/v2.0/flavors/{id}/service_profiles), and the service providers the service types we
// have register (`service-type`: /v2.0/service-providers; the L3 router plugin's four drivers).
// Routers take a `flavor_id` (`l3-flavors`, see api/router_extra.ts). Everything is admin-only
// but reading flavors (Neutron's policies).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import type { NetworkService } from '../service.ts';
import { NetworkContext } from '../context.ts';
import type { Tx } from './resource.ts';
import { toBoolean, toString, toUuid } from './validate.ts';
import { pyStr } from '../../core/python.ts';

/** The service type of Neutron's L3 router plugin (neutron_lib.plugins.constants.L3). */
export const L3_SERVICE_TYPE = 'L3_ROUTER_NAT';

/** The plugins (service types) this Neutron loads: a flavor is for one of them. */
const SERVICE_TYPES = ['CORE', L3_SERVICE_TYPE, 'FLAVORS', 'QOS', 'METERING', 'trunk', 'segments', 'port_forwarding'];

/** The providers the service types register (the L3 plugin's DriverController: no default). */
const L3_DRIVERS = 'neutron.services.l3_router.service_providers';
export const SERVICE_PROVIDERS: ReadonlyArray<{
  service_type: string;
  name: string;
  driver: string;
  default: boolean;
}> = [
  { service_type: L3_SERVICE_TYPE, name: 'dvrha', driver: `${L3_DRIVERS}.dvrha.DvrHaDriver`, default: false },
  { service_type: L3_SERVICE_TYPE, name: 'dvr', driver: `${L3_DRIVERS}.dvr.DvrDriver`, default: false },
  { service_type: L3_SERVICE_TYPE, name: 'ha', driver: `${L3_DRIVERS}.ha.HaDriver`, default: false },
  {
    service_type: L3_SERVICE_TYPE,
    name: 'single_node',
    driver: `${L3_DRIVERS}.single_node.SingleNodeDriver`,
    default: false,
  },
];

export const flavorNotFound = (id: string) => new ApiError(404, `Flavor ${id} could not be found.`, 'FlavorNotFound');
const profileNotFound = (id: string) =>
  new ApiError(404, `Service Profile ${id} could not be found.`, 'ServiceProfileNotFound');
const profileInUse = (id: string) =>
  new ApiError(409, `Service Profile ${id} is used by some service instance.`, 'ServiceProfileInUse');
const driverNotFound = (driver: string) =>
  new ApiError(404, `Service Profile driver ${driver} could not be found.`, 'ServiceProfileDriverNotFound');
const bindingNotFound = (sp: string, fl: string) =>
  new ApiError(
    404,
    `Service Profile ${sp} is not associated with flavor ${fl}.`,
    'FlavorServiceProfileBindingNotFound',
  );
export const invalidServiceType = (t: string) =>
  new ApiError(400, `Invalid service type ${t}.`, 'InvalidFlavorServiceType');

function checkDriver(driver: unknown) {
  if (driver && !SERVICE_PROVIDERS.some((p) => p.driver === driver)) throw driverNotFound(String(driver));
}

/** The hidden tenant_id/project_id of upstream's attribute maps: accepted in a POST, not stored. */
const HIDDEN_OWNER = {
  project_id: { column: false as const, post: true, visible: false, filter: false, enforcePolicy: false },
  tenant_id: { column: false as const, post: true, visible: false, filter: false, enforcePolicy: false },
};

async function profilesOf(tx: Tx, flavorIds: string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (!flavorIds.length) return out;
  const rows = await tx
    .selectFrom('flavorserviceprofilebindings')
    .select(['flavor_id', 'service_profile_id'])
    .where('flavor_id', 'in', flavorIds)
    .orderBy('created_at')
    .orderBy('service_profile_id')
    .execute();
  for (const r of rows) out.set(r.flavor_id, [...(out.get(r.flavor_id) ?? []), r.service_profile_id]);
  return out;
}

async function bind(tx: Tx, flavorId: string, profileId: string) {
  const sp = await tx.selectFrom('service_profiles').select('id').where('id', '=', profileId).executeTakeFirst();
  if (!sp) throw profileNotFound(profileId);
  const have = await tx
    .selectFrom('flavorserviceprofilebindings')
    .select('flavor_id')
    .where('flavor_id', '=', flavorId)
    .where('service_profile_id', '=', profileId)
    .executeTakeFirst();
  if (have)
    throw new ApiError(
      409,
      `Service Profile ${profileId} is already associated with flavor ${flavorId}.`,
      'FlavorServiceProfileBindingExists',
    );
  await tx
    .insertInto('flavorserviceprofilebindings')
    .values({ flavor_id: flavorId, service_profile_id: profileId, created_at: new Date().toISOString() })
    .execute();
}

function uuidList(v: unknown, name: string): string[] {
  if (!Array.isArray(v)) throw new ApiError(400, `Invalid input for ${name}. Reason: '${pyStr(v)}' is not a list.`);
  return v.map((x) => toUuid(x, name));
}

export function defineFlavors(svc: NetworkService) {
  svc.define({
    singular: 'flavor',
    plural: 'flavors',
    table: 'flavors',
    standard: false,
    owned: false,
    attrs: {
      name: { post: true, put: true, default: '', validate: (v, n) => toString(v, n, 255) },
      description: { post: true, put: true, default: '', validate: (v, n) => toString(v, n, 1024) },
      service_type: {
        post: true,
        required: true,
        validate: (v, n) => {
          const t = toString(v, n, 36);
          if (!SERVICE_TYPES.includes(t)) throw invalidServiceType(t);
          return t;
        },
      },
      service_profiles: { column: false, post: true, default: [], filter: false, validate: uuidList },
      enabled: { type: 'boolean', post: true, put: true, default: true, validate: (v, n) => toBoolean(v, n) },
      ...HIDDEN_OWNER,
    },
    notFound: flavorNotFound,
    async expand(views, _ctx, tx) {
      const bound = await profilesOf(
        tx,
        views.map((v) => v.id as string),
      );
      for (const v of views) v.service_profiles = bound.get(v.id as string) ?? [];
    },
    async beforeCreate(values) {
      delete values.project_id;
      delete values.tenant_id;
    },
    async beforeDelete(existing, _ctx, tx) {
      // The L3 plugin refuses to lose a flavor its routers use (driver_controller's BEFORE_DELETE).
      const used = await tx
        .selectFrom('router_extra_attributes')
        .select('router_id')
        .where('flavor_id', '=', existing.id as string)
        .executeTakeFirst();
      if (used) throw new ApiError(409, `Flavor ${existing.id} is used by some service instance.`, 'FlavorInUse');
    },
    async afterCreate(_view, values, _ctx, tx) {
      for (const sp of (values.service_profiles as string[] | undefined) ?? []) await bind(tx, values.id as string, sp);
    },
  });
  svc.define({
    singular: 'service_profile',
    plural: 'service_profiles',
    table: 'service_profiles',
    standard: false,
    owned: false,
    attrs: {
      description: { post: true, put: true, default: '', validate: (v, n) => toString(v, n, 1024) },
      driver: { post: true, put: true, default: '', validate: (v, n) => toString(v, n, 1024) },
      metainfo: { post: true, put: true, default: '', validate: (v, n) => toString(v, n, 4096) },
      enabled: { type: 'boolean', post: true, put: true, default: true, validate: (v, n) => toBoolean(v, n) },
      ...HIDDEN_OWNER,
    },
    notFound: profileNotFound,
    async beforeCreate(values) {
      delete values.project_id;
      delete values.tenant_id;
      if (!values.driver && !values.metainfo)
        throw new ApiError(400, 'Service Profile needs either a driver or metainfo.', 'ServiceProfileEmpty');
      checkDriver(values.driver);
    },
    async beforeUpdate(existing, changes, _ctx, tx) {
      checkDriver(changes.driver);
      await notInUse(tx, existing.id as string);
    },
    async beforeDelete(existing, _ctx, tx) {
      await notInUse(tx, existing.id as string);
    },
  });
  svc.declareExtension(
    {
      alias: 'flavors',
      name: 'Neutron Service Flavors',
      description: 'Flavor specification for Neutron advanced services.',
      updated: '2015-09-17T10:00:00-00:00',
    },
    {
      alias: 'service-type',
      name: 'Neutron Service Type Management',
      description: 'API for retrieving service providers for Neutron advanced services',
      updated: '2013-01-20T00:00:00-00:00',
    },
  );
}

async function notInUse(tx: Tx, profileId: string) {
  const bound = await tx
    .selectFrom('flavorserviceprofilebindings')
    .select('flavor_id')
    .where('service_profile_id', '=', profileId)
    .executeTakeFirst();
  if (bound) throw profileInUse(profileId);
}

/** A flavor's next provider (flavors_plugin.get_flavor_next_provider): its first bound profile's driver. */
export async function nextProvider(tx: Tx, flavorId: string): Promise<{ driver: string; provider: string }> {
  const first = (await profilesOf(tx, [flavorId])).get(flavorId)?.[0];
  if (!first) throw bindingNotFound('', flavorId);
  const sp = await tx.selectFrom('service_profiles').selectAll().where('id', '=', first).executeTakeFirst();
  if (!sp) throw profileNotFound(first);
  if (!sp.enabled) throw new ApiError(503, 'Service Profile is not enabled.', 'ServiceProfileDisabled');
  const p = SERVICE_PROVIDERS.find((x) => x.driver === sp.driver);
  if (!p) throw driverNotFound(sp.driver);
  return { driver: sp.driver, provider: p.name };
}

function queryList(req: FastifyRequest, key: string): string[] {
  const v = (req.query as Record<string, string | string[] | undefined>)[key];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

export function flavorRoutes(app: FastifyInstance, svc: NetworkService) {
  const flavors = () => svc.resource('flavors');
  const enforce = (ctx: NetworkContext, rule: string, target: Record<string, unknown> = {}) =>
    flavors().enforce(ctx, rule, target);
  const profileBody = (req: FastifyRequest): string => {
    const b = req.body as { service_profile?: { id?: unknown } } | undefined;
    if (!b || typeof b !== 'object' || !b.service_profile || typeof b.service_profile !== 'object')
      throw new ApiError(400, "Unable to find 'service_profile' in request body", 'HTTPBadRequest');
    return toUuid(b.service_profile.id, 'id');
  };

  app.post('/v2.0/flavors/:id/service_profiles', async (req, reply) => {
    const ctx = NetworkContext.of(req.context);
    const { id } = req.params as { id: string };
    enforce(ctx, 'create_flavor_service_profile');
    const sp = profileBody(req);
    await svc.transaction(async (tx) => {
      if (!(await tx.selectFrom('flavors').select('id').where('id', '=', id).executeTakeFirst()))
        throw flavorNotFound(id);
      await bind(tx, id, sp);
    });
    reply.code(201);
    return { service_profile: { id: sp } };
  });
  app.get('/v2.0/flavors/:id/service_profiles/:profile_id', async (req) => {
    const ctx = NetworkContext.of(req.context);
    const { id, profile_id: sp } = req.params as { id: string; profile_id: string };
    enforce(ctx, 'get_flavor_service_profile');
    const row = await svc.db
      .selectFrom('flavorserviceprofilebindings')
      .select(['flavor_id', 'service_profile_id'])
      .where('flavor_id', '=', id)
      .where('service_profile_id', '=', sp)
      .executeTakeFirst();
    if (!row) throw bindingNotFound(sp, id);
    return { service_profile: { service_profile_id: row.service_profile_id, flavor_id: row.flavor_id } };
  });
  app.delete('/v2.0/flavors/:id/service_profiles/:profile_id', async (req, reply) => {
    const ctx = NetworkContext.of(req.context);
    const { id, profile_id: sp } = req.params as { id: string; profile_id: string };
    enforce(ctx, 'delete_flavor_service_profile');
    const r = await svc.db
      .deleteFrom('flavorserviceprofilebindings')
      .where('flavor_id', '=', id)
      .where('service_profile_id', '=', sp)
      .executeTakeFirst();
    if (!Number(r.numDeletedRows)) throw bindingNotFound(sp, id);
    reply.code(204);
    return reply.send();
  });
  app.get('/v2.0/flavors/:id/next_providers', async (req) => {
    const ctx = NetworkContext.of(req.context);
    const { id } = req.params as { id: string };
    enforce(ctx, 'get_flavor', {});
    await flavors().load(ctx, id);
    return { next_providers: [await nextProvider(svc.db, id)] };
  });
  app.get('/v2.0/service-providers', async (req) => {
    const ctx = NetworkContext.of(req.context);
    enforce(ctx, 'get_service_provider');
    const fields = queryList(req, 'fields');
    let list: Array<Record<string, unknown>> = SERVICE_PROVIDERS.map((p) => ({
      service_type: p.service_type,
      name: p.name,
      default: p.default,
    }));
    for (const key of ['service_type', 'name', 'default']) {
      const want = queryList(req, key);
      if (want.length) list = list.filter((p) => want.includes(String(p[key])));
    }
    if (fields.length)
      list = list.map((p) => Object.fromEntries(Object.entries(p).filter(([k]) => fields.includes(k))));
    return { service_providers: list };
  });
}
