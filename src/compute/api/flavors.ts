// Flavors (nova.api.openstack.compute.flavors, flavor_manage, flavor_access, flavors_extraspecs):
// list/detail with Nova's filters, sorting and pagination, show, create, description update
// (2.55), delete, extra specs with 2.86 validation, and the access lists of private flavors.
// Other families get a flavor through the FlavorStore kept in svc.parts ('flavors').
import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ComputeService, Family } from '../service.ts';
import { type Flavor, FlavorStore } from '../flavors.ts';
import {
  allowed,
  authorize,
  badRequest,
  conflict,
  isAdmin,
  links,
  mv,
  notFound,
  queryOf,
  validateBody,
} from './common.ts';
import { pyRepr } from '../../core/python.ts';
import { EXTRA_SPEC_NAMESPACES, EXTRA_SPEC_RULES } from '../db/flavors.ts';
import { flavorMigrations } from '../db/migrations/flavors.ts';
import { verifyProjectId } from './quotas.ts';
import { BOOLEAN as booleanParam, envelope } from './schemas/parameter_types.ts';

const MAX_INT = 0x7fffffff;
const SORT_KEYS = [
  'created_at',
  'description',
  'disabled',
  'ephemeral_gb',
  'flavorid',
  'id',
  'is_public',
  'memory_mb',
  'name',
  'root_gb',
  'rxtx_factor',
  'swap',
  'updated_at',
  'vcpu_weight',
  'vcpus',
];
const FA = 'os_compute_api:os-flavor-access';
const FM = 'os_compute_api:os-flavor-manage';
const FES = 'os_compute_api:os-flavor-extra-specs';

// ---- request schemas (nova.api.openstack.compute.schemas) ------------------------------

const positive = { type: ['integer', 'string'], pattern: '^[0-9]+$', minimum: 1, maximum: MAX_INT };
const nonNegative = { ...positive, minimum: 0 };
const description = { type: ['string', 'null'], minLength: 0, maxLength: 65535 };
const FLAVOR = {
  type: 'object',
  required: ['name', 'ram', 'vcpus', 'disk'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 255 },
    id: {
      type: ['string', 'number', 'null'],
      minLength: 1,
      maxLength: 255,
      pattern: '^(?! )[a-zA-Z0-9. _-]+(?<! )$',
    },
    ram: positive,
    vcpus: positive,
    disk: nonNegative,
    'OS-FLV-EXT-DATA:ephemeral': nonNegative,
    swap: nonNegative,
    rxtx_factor: {
      type: ['number', 'string'],
      pattern: '^[0-9]+(\\.[0-9]+)?$',
      exclusiveMinimum: 0,
      maximum: 3.40282e38,
    },
    'os-flavor-access:is_public': booleanParam,
  },
};
const CREATE = envelope('flavor', FLAVOR);
const CREATE_255 = envelope('flavor', { ...FLAVOR, properties: { ...FLAVOR.properties, description } });
const UPDATE_255 = envelope('flavor', {
  type: 'object',
  required: ['description'],
  additionalProperties: false,
  properties: { description },
});
const SPEC_KEY = '^[a-zA-Z0-9-_:. ]{1,255}$';
const SPECS = {
  type: 'object',
  patternProperties: { [SPEC_KEY]: { type: ['string', 'number'], maxLength: 255 } },
  additionalProperties: false,
};
const SPECS_CREATE = {
  type: 'object',
  required: ['extra_specs'],
  additionalProperties: false,
  properties: { extra_specs: SPECS },
};
const SPECS_UPDATE = { ...SPECS, minProperties: 1, maxProperties: 1 };
const tenantAction = (action: string) =>
  envelope(action, {
    type: 'object',
    required: ['tenant'],
    additionalProperties: false,
    properties: { tenant: { type: 'string', minLength: 1, maxLength: 255 } },
  });
const ADD_TENANT = tenantAction('addTenantAccess');
const REMOVE_TENANT = tenantAction('removeTenantAccess');

/** oslo's bool_from_string(strict=True). */
export function strictBool(v: unknown, what: string): boolean {
  if (typeof v === 'boolean') return v;
  const s = String(v).trim().toLowerCase();
  if (['1', 't', 'true', 'on', 'y', 'yes'].includes(s)) return true;
  if (['0', 'f', 'false', 'off', 'n', 'no'].includes(s)) return false;
  throw badRequest(
    `Unrecognized value '${v}', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'`.replace(
      '%s',
      what,
    ),
  );
}

/** Nova's 'name' format: printable characters, not starting or ending with whitespace. */
export function checkName(field: string, value: string, allowSpaces = false) {
  // eslint-disable-next-line no-control-regex
  const printable = !/[\u0000-\u001f\u007f-\u009f]/.test(value);
  if (!printable || (!allowSpaces && (/^\s/.test(value) || /\s$/.test(value)))) {
    throw badRequest(`Invalid input for field/attribute ${field}. Value: ${value}. ${pyRepr(value)} is not a 'name'`);
  }
}

const ruleRegex = EXTRA_SPEC_RULES.map(([name, type, value]) => ({
  re: new RegExp(`^(?:${name})$`),
  name,
  type,
  value,
}));
const exactRules = new Map(ruleRegex.filter((r) => !/[()\\[\]?*+]/.test(r.name)).map((r) => [r.name, r]));
const namespaces = EXTRA_SPEC_NAMESPACES.map((n) => new RegExp(`^(?:${n})$`));

/** Nova's 2.86 extra spec validation (nova.api.validation.extra_specs.validators.validate). */
export function validateExtraSpec(name: string, value: string) {
  const rule = exactRules.get(name) ?? ruleRegex.find((r) => r.re.test(name));
  if (!rule) {
    if (!name.includes(':')) return;
    const ns = name.split(':', 1)[0]!;
    if (namespaces.some((re) => re.test(ns)))
      throw badRequest(`Validation failed; extra spec '${name}' does not appear to be a valid extra spec.`);
    return;
  }
  const v = rule.value ?? {};
  if (rule.type === 'i') {
    if (!/^\s*[-+]?\d+\s*$/.test(value))
      throw badRequest(`Validation failed; '${value}' is not a valid integer value.`);
    const n = Number(value);
    if (v.max !== undefined && v.max < n)
      throw badRequest(`Validation failed; '${value}' is greater than the max value of '${v.max}'.`);
    if (v.min !== undefined && v.min > n)
      throw badRequest(`Validation failed; '${value}' is less than the min value of '${v.min}'.`);
  } else if (rule.type === 'b') {
    if (
      !['1', 't', 'true', 'on', 'y', 'yes', '0', 'f', 'false', 'off', 'n', 'no'].includes(value.trim().toLowerCase())
    ) {
      throw badRequest(`Validation failed; '${value}' is not a valid boolean-like value.`);
    }
  } else if (v.pattern !== undefined) {
    if (!new RegExp(`^(?:${v.pattern})$`).test(value))
      throw badRequest(`Validation failed; '${value}' is not of the format '${v.pattern}'.`);
  } else if (v.enum !== undefined) {
    if (!v.enum.map(String).includes(value))
      throw badRequest(`Validation failed; '${value}' is not one of: ${v.enum.join(', ')}.`);
  }
}

function checkSpecValues(req: FastifyRequest, specs: Record<string, unknown>) {
  for (const [name, raw] of Object.entries(specs)) {
    const value = typeof raw === 'number' ? pyNumber(raw) : String(raw);
    if (typeof raw === 'number' && value.length > 255)
      throw badRequest('extra_specs value has a maximum length of 255.');
    if (mv(req).gte('2.86')) validateExtraSpec(name, value);
  }
}
/** A JSON number as Python's str() prints it. */
const pyNumber = (n: number) => (Number.isInteger(n) ? String(n) : String(n));

// ---- views (nova.api.openstack.compute.views.flavors) ----------------------------------

function flavorView(
  req: FastifyRequest,
  f: Flavor,
  detail: boolean,
  opts: { description?: boolean; extraSpecs?: boolean } = {},
) {
  const out: Record<string, unknown> = { id: f.flavorid, name: f.name };
  if (detail) {
    Object.assign(out, {
      ram: f.memory_mb,
      disk: f.root_gb,
      swap: mv(req).gte('2.75') ? f.swap : f.swap || '',
      'OS-FLV-EXT-DATA:ephemeral': f.ephemeral_gb,
      'OS-FLV-DISABLED:disabled': f.disabled,
      vcpus: f.vcpus,
      'os-flavor-access:is_public': f.is_public,
      rxtx_factor: f.rxtx_factor || '',
    });
  }
  out.links = links(req, 'flavors', f.flavorid);
  if (opts.description) out.description = f.description;
  if (detail && opts.extraSpecs) out.extra_specs = f.extra_specs;
  return out;
}

/** Whether a 2.61+ flavor view carries extra specs (the caller may read them). */
const withSpecs = (req: FastifyRequest) =>
  mv(req).gte('2.61') && allowed(req, `${FES}:index`, { project_id: req.ctx?.projectId ?? null });

/** The `next` link of a page, as Nova's _get_collection_links builds it. */
export function nextLink(req: FastifyRequest, collection: string, marker: string) {
  const q = queryOf(req);
  q.set('marker', marker);
  return [{ rel: 'next', href: `${req.baseUrl}/v2.1/${collection}?${q.toString()}` }];
}

/** Nova's limit: a non-negative integer, capped at max_limit (1000). */
export function limitOf(req: FastifyRequest): number {
  const raw = queryOf(req).get('limit');
  if (raw === null) return 1000;
  if (!/^\d+$/.test(raw))
    throw badRequest(`Invalid input for query parameters limit. Value: ${raw}. '${raw}' does not match '^[0-9]*$'`);
  return Math.min(Number(raw), 1000);
}

const TRUE_STRINGS = ['1', 't', 'true', 'on', 'y', 'yes'];
const FALSE_STRINGS = ['0', 'f', 'false', 'off', 'n', 'no'];

async function flavorPage(
  req: FastifyRequest,
  store: FlavorStore,
  collection: string,
): Promise<{ page: Flavor[]; next?: string }> {
  const q = queryOf(req);
  if (mv(req).gte('2.75')) {
    for (const k of q.keys())
      if (!['limit', 'marker', 'is_public', 'minRam', 'minDisk', 'sort_key', 'sort_dir'].includes(k))
        throw badRequest(
          `Invalid input for query parameters ${k}. Value: ${q.get(k)}. Additional properties are not allowed ('${k}' was unexpected)`,
        );
  }
  const sortKey = q.get('sort_key') || 'flavorid';
  const sortDir = q.get('sort_dir') || 'asc';
  if (q.has('sort_key') && !SORT_KEYS.includes(q.get('sort_key')!))
    throw badRequest(
      `Invalid input for query parameters sort_key. Value: ${q.get('sort_key')}. '${q.get('sort_key')}' is not one of ${pyRepr(SORT_KEYS)}`,
    );
  if (q.has('sort_dir') && !['asc', 'desc'].includes(q.get('sort_dir')!))
    throw badRequest(
      `Invalid input for query parameters sort_dir. Value: ${q.get('sort_dir')}. '${q.get('sort_dir')}' is not one of ['asc', 'desc']`,
    );
  const limit = limitOf(req);
  const marker = q.get('marker');
  const admin = isAdmin(req);
  let isPublic: boolean | null = true;
  if (admin && q.has('is_public')) {
    const s = q.get('is_public')!.trim().toLowerCase();
    if (s === 'none') isPublic = null;
    else if (TRUE_STRINGS.includes(s)) isPublic = true;
    else if (FALSE_STRINGS.includes(s)) isPublic = false;
    else throw badRequest(`Invalid is_public filter [${q.get('is_public')}]`);
  }
  let minRam: number | undefined, minDisk: number | undefined;
  if (q.has('minRam')) {
    minRam = Number.parseInt(q.get('minRam')!, 10);
    if (!/^\s*[-+]?\d+\s*$/.test(q.get('minRam')!)) throw badRequest(`Invalid minRam filter [${q.get('minRam')}]`);
  }
  if (q.has('minDisk')) {
    minDisk = Number.parseInt(q.get('minDisk')!, 10);
    if (!/^\s*[-+]?\d+\s*$/.test(q.get('minDisk')!)) throw badRequest(`Invalid minDisk filter [${q.get('minDisk')}]`);
  }
  const projectId = req.ctx?.projectId;
  const mine = isPublic && projectId ? await store.projectFlavors(projectId) : new Set<string>();
  let list = (await store.all()).filter((f) => {
    if (isPublic !== null && f.is_public !== isPublic && !(isPublic && mine.has(f.flavorid))) return false;
    if (!admin && f.disabled) return false;
    if (minRam !== undefined && f.memory_mb < minRam) return false;
    if (minDisk !== undefined && f.root_gb < minDisk) return false;
    return true;
  });
  // A sort key's column (the keys are checked against Nova's list): strings, numbers, booleans or null.
  type Column = string | number | null | undefined;
  const key = (f: Flavor): Column => {
    const v = (f as unknown as Record<string, Column | boolean>)[sortKey];
    return typeof v === 'boolean' ? Number(v) : v;
  };
  const cmp = (a: Column, b: Column) =>
    a === b ? 0 : a === null || a === undefined ? -1 : b === null || b === undefined ? 1 : a < b ? -1 : 1;
  list.sort((a, b) => (sortDir === 'desc' ? -1 : 1) * (cmp(key(a), key(b)) || cmp(a.id, b.id)));
  if (marker !== null) {
    const i = list.findIndex((f) => f.flavorid === marker);
    if (i < 0) throw badRequest(`marker [${marker}] not found`);
    list = list.slice(i + 1);
  }
  const page = list.slice(0, limit);
  return { page, next: page.length && page.length === limit ? page[page.length - 1]!.flavorid : undefined };
}

export function flavorNotFound(id: string) {
  return notFound(`Flavor ${id} could not be found.`);
}

const getFlavor = async (svc: ComputeService, req: FastifyRequest, id: string) => {
  const f = await svc.parts.flavors.visible(id, req.ctx?.projectId, isAdmin(req));
  if (!f) throw flavorNotFound(id);
  return f;
};

export async function listFlavors(svc: ComputeService, req: FastifyRequest) {
  req.authorized = true; // Nova checks no rule for flavor lists
  const { page, next } = await flavorPage(req, svc.parts.flavors, 'flavors');
  const out: Record<string, unknown> = {
    flavors: page.map((f) => flavorView(req, f, false, { description: mv(req).gte('2.55') })),
  };
  if (next) out.flavors_links = nextLink(req, 'flavors', next);
  return out;
}

export async function listFlavorsDetail(svc: ComputeService, req: FastifyRequest) {
  req.authorized = true;
  const { page, next } = await flavorPage(req, svc.parts.flavors, 'flavors/detail');
  const specs = withSpecs(req);
  const out: Record<string, unknown> = {
    flavors: page.map((f) => flavorView(req, f, true, { description: mv(req).gte('2.55'), extraSpecs: specs })),
  };
  if (next) out.flavors_links = nextLink(req, 'flavors/detail', next);
  return out;
}

export async function showFlavor(svc: ComputeService, req: FastifyRequest<{ Params: { id: string } }>) {
  req.authorized = true;
  const f = await getFlavor(svc, req, req.params.id);
  return { flavor: flavorView(req, f, true, { description: mv(req).gte('2.55'), extraSpecs: withSpecs(req) }) };
}

/** A flavor as the create schemas let it through (numbers may come as strings, as Nova's parameter types allow). */
interface FlavorCreateBody {
  name: string;
  id?: string | number | null;
  ram: number | string;
  vcpus: number | string;
  disk: number | string;
  'OS-FLV-EXT-DATA:ephemeral'?: number | string;
  swap?: number | string;
  rxtx_factor?: number | string;
  'os-flavor-access:is_public'?: unknown;
  description?: string | null;
}

export async function createFlavor(svc: ComputeService, req: FastifyRequest, reply: FastifyReply) {
  const body = validateBody<{ flavor: FlavorCreateBody }>(req, mv(req).gte('2.55') ? CREATE_255 : CREATE);
  authorize(req, `${FM}:create`, {});
  const v = body.flavor;
  checkName('name', v.name);
  const name = String(v.name).trim();
  const flavorid = v.id === undefined || v.id === null || v.id === '' ? randomUUID() : String(v.id);
  const int = (x: unknown, d: number) => (x === undefined ? d : Number(x));
  const rxtx = v.rxtx_factor === undefined ? 1.0 : Number(v.rxtx_factor);
  if (!(rxtx > 0) || rxtx > 3.40282e38)
    throw badRequest(`Invalid input received: 'rxtx_factor' argument must be a float between 0 and 3.40282e+38`);
  const f = await svc.parts.flavors.create({
    flavorid,
    name,
    memory_mb: int(v.ram, 0),
    vcpus: int(v.vcpus, 0),
    root_gb: int(v.disk, 0),
    ephemeral_gb: int(v['OS-FLV-EXT-DATA:ephemeral'], 0),
    swap: int(v.swap, 0),
    rxtx_factor: rxtx,
    is_public:
      v['os-flavor-access:is_public'] === undefined ? true : strictBool(v['os-flavor-access:is_public'], 'is_public'),
    description: mv(req).gte('2.55') ? (v.description ?? null) : null,
  });
  reply.code(200);
  return { flavor: flavorView(req, f, true, { description: mv(req).gte('2.55'), extraSpecs: withSpecs(req) }) };
}

export async function updateFlavor(svc: ComputeService, req: FastifyRequest<{ Params: { id: string } }>) {
  if (!mv(req).gte('2.55')) {
    req.authorized = true;
    throw notFound('The resource could not be found.');
  }
  const body = validateBody<{ flavor: { description?: string | null } }>(req, UPDATE_255);
  authorize(req, `${FM}:update`, {});
  const f = await svc.parts.flavors.get(req.params.id);
  if (!f) throw flavorNotFound(req.params.id);
  await svc.parts.flavors.setDescription(f.flavorid, body.flavor.description ?? null);
  return {
    flavor: flavorView(req, (await svc.parts.flavors.get(f.flavorid))!, true, {
      description: true,
      extraSpecs: withSpecs(req),
    }),
  };
}

export async function deleteFlavor(
  svc: ComputeService,
  req: FastifyRequest<{ Params: { id: string } }>,
  reply: FastifyReply,
) {
  authorize(req, `${FM}:delete`, {});
  if (!(await svc.parts.flavors.destroy(req.params.id))) throw flavorNotFound(req.params.id);
  reply.code(202).send();
}

// ---- extra specs ----
const specsTarget = (req: FastifyRequest) => ({ project_id: req.ctx?.projectId ?? null });

export async function listFlavorExtraSpecs(svc: ComputeService, req: FastifyRequest<{ Params: { id: string } }>) {
  authorize(req, `${FES}:index`, specsTarget(req));
  return { extra_specs: (await getFlavor(svc, req, req.params.id)).extra_specs };
}

export async function createFlavorExtraSpecs(svc: ComputeService, req: FastifyRequest<{ Params: { id: string } }>) {
  const body = validateBody<{ extra_specs: Record<string, string> }>(req, SPECS_CREATE);
  authorize(req, `${FES}:create`, {});
  checkSpecValues(req, body.extra_specs);
  const f = await getFlavor(svc, req, req.params.id);
  await svc.parts.flavors.setSpecs(
    f.flavorid,
    Object.fromEntries(Object.entries(body.extra_specs).map(([k, x]) => [k, String(x)])),
  );
  return body;
}

export async function updateFlavorExtraSpec(
  svc: ComputeService,
  req: FastifyRequest<{ Params: { id: string; key: string } }>,
) {
  const body = validateBody<Record<string, string>>(req, SPECS_UPDATE);
  authorize(req, `${FES}:update`, {});
  checkSpecValues(req, body);
  if (!(req.params.key in body)) throw badRequest('Request body and URI mismatch');
  const f = await getFlavor(svc, req, req.params.id);
  await svc.parts.flavors.setSpecs(
    f.flavorid,
    Object.fromEntries(Object.entries(body).map(([k, x]) => [k, String(x)])),
  );
  return body;
}

export async function showFlavorExtraSpec(
  svc: ComputeService,
  req: FastifyRequest<{ Params: { id: string; key: string } }>,
) {
  authorize(req, `${FES}:show`, specsTarget(req));
  const f = await getFlavor(svc, req, req.params.id);
  if (!(req.params.key in f.extra_specs))
    throw notFound(`Flavor ${req.params.id} has no extra specs with key ${req.params.key}.`);
  return { [req.params.key]: f.extra_specs[req.params.key] };
}

export async function deleteFlavorExtraSpec(
  svc: ComputeService,
  req: FastifyRequest<{ Params: { id: string; key: string } }>,
  reply: FastifyReply,
) {
  authorize(req, `${FES}:delete`, {});
  const f = await getFlavor(svc, req, req.params.id);
  if (!(await svc.parts.flavors.deleteSpec(f.flavorid, req.params.key)))
    throw notFound(`Flavor ${req.params.id} has no extra specs with key ${req.params.key}.`);
  reply.code(200).send();
}

// ---- access ----
const accessView = async (svc: ComputeService, flavorid: string) => ({
  flavor_access: (await svc.parts.flavors.projects(flavorid)).map((p) => ({ flavor_id: flavorid, tenant_id: p })),
});

export async function listFlavorAccess(svc: ComputeService, req: FastifyRequest<{ Params: { id: string } }>) {
  authorize(req, FA);
  const f = await getFlavor(svc, req, req.params.id);
  if (f.is_public) throw notFound('Access list not available for public flavors.');
  return accessView(svc, f.flavorid);
}

export async function flavorAction(svc: ComputeService, req: FastifyRequest<{ Params: { id: string } }>) {
  // Each action's body is validated by its schema below before it is read.
  const body = req.body as {
    addTenantAccess?: { tenant: string };
    removeTenantAccess?: { tenant: string };
  } | null;
  if (body && typeof body === 'object' && 'addTenantAccess' in body) {
    validateBody(req, ADD_TENANT);
    authorize(req, `${FA}:add_tenant_access`, {});
    const tenant = body.addTenantAccess!.tenant;
    await verifyProjectId(req, svc, tenant);
    const f = await getFlavor(svc, req, req.params.id);
    if (mv(req).gte('2.7') && f.is_public) throw conflict('Can not add access to a public flavor.');
    if (!(await svc.parts.flavors.addAccess(f.flavorid, tenant)))
      throw conflict(`Flavor access already exists for flavor ${f.flavorid} and project ${tenant} combination.`);
    return accessView(svc, f.flavorid);
  }
  if (body && typeof body === 'object' && 'removeTenantAccess' in body) {
    validateBody(req, REMOVE_TENANT);
    authorize(req, `${FA}:remove_tenant_access`, {});
    const tenant = body.removeTenantAccess!.tenant;
    try {
      await verifyProjectId(req, svc, tenant);
    } catch (e) {
      if (!String((e as Error).message).includes(`Project ID ${tenant} is not a valid project.`)) throw e;
    }
    const f = await getFlavor(svc, req, req.params.id);
    if (!(await svc.parts.flavors.removeAccess(f.flavorid, tenant)))
      throw notFound(`Flavor access not found for ${f.flavorid} / ${tenant} combination.`);
    return accessView(svc, f.flavorid);
  }
  req.authorized = true;
  throw badRequest(
    'There is no such action: ' + (body && typeof body === 'object' ? (Object.keys(body)[0] ?? '') : ''),
  );
}

/** The flavor store of a compute service (created on first use). */
export const flavorsFamily: Family = {
  name: 'flavors',
  migrations: flavorMigrations,
  async init(svc) {
    const store = svc.parts.flavors;
    svc.providers.flavors = {
      async find(id: string, viewer?: { projectId?: string; admin: boolean }) {
        const f = viewer ? await store.visible(id, viewer.projectId, viewer.admin) : await store.get(id);
        return f ? providedFlavor(f) : null;
      },
    };
  },
};

/** A flavor as the other families see it (service.ts Flavor). */
export function providedFlavor(f: Flavor) {
  return {
    id: f.flavorid,
    name: f.name,
    vcpus: f.vcpus,
    ram: f.memory_mb,
    disk: f.root_gb,
    ephemeral: f.ephemeral_gb,
    swap: f.swap,
    rxtx_factor: f.rxtx_factor,
    is_public: f.is_public,
    disabled: f.disabled,
    description: f.description,
    extra_specs: { ...f.extra_specs },
  };
}
