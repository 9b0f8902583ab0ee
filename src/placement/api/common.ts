// Query parsing shared by provider listing and allocation candidates (placement.util's
// normalize_* functions), and small helpers of the handlers.
import type { FastifyRequest } from 'fastify';
import { isUuidLike } from '../../core/validate.ts';
import { mv } from './microversion.ts';
import { perr } from './errors.ts';
import type { Microversion } from '../../core/http.ts';
import type { PlacementService } from '../service.ts';
import type { Provider } from '../store.ts';

/** `VCPU:2,MEMORY_MB:1024` -> {VCPU: 2, MEMORY_MB: 1024}. */
export function parseResources(qs: string): Record<string, number> {
  if (qs.trim() === '')
    throw perr(
      400,
      'Badly formed resources parameter. Expected resources query string parameter in form: ?resources=VCPU:2,MEMORY_MB:1024. Got: empty string.',
    );
  const out: Record<string, number> = {};
  for (const rt of qs.split(',')) {
    const parts = rt.split(':');
    if (parts.length !== 2)
      throw perr(
        400,
        `Badly formed resources parameter. Expected resources query string parameter in form: ?resources=VCPU:2,MEMORY_MB:1024. Got: ${rt}.`,
      );
    const [rc, amountStr] = parts as [string, string];
    if (!/^\s*[-+]?\d+\s*$/.test(amountStr))
      throw perr(400, `Requested resource ${rc} expected positive integer amount. Got: ${amountStr}.`);
    const amount = parseInt(amountStr, 10);
    if (amount < 1) throw perr(400, `Requested resource ${rc} requires amount >= 1. Got: ${amount}.`);
    out[rc] = amount;
  }
  return out;
}

/** One `required` value: AND-ed any-of sets of traits, and forbidden traits. */
export function parseTraits(
  val: string,
  allowForbidden: boolean,
  allowAny: boolean,
): { required: Array<Set<string>>; forbidden: Set<string> } {
  if (val.startsWith('in:')) {
    if (!allowAny)
      throw perr(
        400,
        `Invalid query string parameters: The format 'in:HW_CPU_X86_VMX,CUSTOM_MAGIC' only supported since microversion 1.39. Got: ${val}`,
      );
    const any = new Set(
      val
        .slice(3)
        .split(',')
        .map((s) => s.trim()),
    );
    if ([...any].some((t) => !t))
      throw perr(
        400,
        `Invalid query string parameters: Expected 'required' parameter value of the form: in:HW_CPU_X86_VMX,CUSTOM_MAGIC. Got an empty trait in: ${val}`,
      );
    if ([...any].some((t) => t.startsWith('!')))
      throw perr(
        400,
        `Invalid query string parameters: The format 'in:HW_CPU_X86_VMX,CUSTOM_MAGIC' does not support forbidden traits. Got: ${val}`,
      );
    return { required: [any], forbidden: new Set() };
  }
  const all = val.split(',').map((s) => s.trim());
  const forbidden = new Set(all.filter((t) => t.startsWith('!')).map((t) => t.replace(/^!+/, '')));
  if ([...all, ...forbidden].some((t) => !t)) {
    throw perr(
      400,
      `Invalid query string parameters: Expected 'required' parameter value of the form: ${allowForbidden ? 'HW_CPU_X86_VMX,!CUSTOM_MAGIC' : 'HW_CPU_X86_VMX,CUSTOM_MAGIC'}. Got an empty trait in: ${val}`,
    );
  }
  if (forbidden.size && !allowForbidden)
    throw perr(
      400,
      `Invalid query string parameters: Expected 'required' parameter value of the form: HW_CPU_X86_VMX,CUSTOM_MAGIC. Got: ${val}`,
    );
  return { required: all.filter((t) => !t.startsWith('!')).map((t) => new Set([t])), forbidden };
}

/** Every `required<suffix>` parameter (only the last one before 1.39). */
export function parseTraitParams(values: string[], v: Microversion) {
  const allowAny = v.gte('1.39');
  const required: Array<Set<string>> = [];
  const forbidden = new Set<string>();
  for (const val of allowAny ? values : values.slice(-1)) {
    const r = parseTraits(val, v.gte('1.22'), allowAny);
    required.push(...r.required);
    for (const f of r.forbidden) forbidden.add(f);
  }
  return { required, forbidden };
}

/** Every `member_of<suffix>` parameter: AND-ed any-of sets of aggregates, and forbidden ones. */
export function parseMemberOf(values: string[], v: Microversion, suffix = '') {
  if (!v.gte('1.24') && values.length > 1) throw perr(400, `Multiple member_of${suffix} parameters are not supported`);
  const required: Array<Set<string>> = [];
  const forbidden = new Set<string>();
  for (const value of values) {
    if (value.includes(',') && !(value.startsWith('in:') || value.startsWith('!in:'))) {
      throw perr(
        400,
        `Multiple values for 'member_of' must be prefixed with the 'in:' or '!in:' keyword using the valid microversion. Got: ${value}`,
      );
    }
    let req: string[] = [],
      forb: string[] = [];
    if (value.startsWith('!in:')) forb = value.slice(4).split(',');
    else if (value.startsWith('!')) forb = [value.slice(1)];
    else if (value.startsWith('in:')) req = value.slice(3).split(',');
    else req = [value];
    for (const a of [...req, ...forb]) {
      if (!isUuidLike(a))
        throw perr(
          400,
          `Invalid query string parameters: Expected 'member_of' parameter to contain valid UUID(s). Got: ${a}`,
        );
    }
    if (req.length) required.push(new Set(req));
    if (forb.length) {
      if (!v.gte('1.32'))
        throw perr(400, `Forbidden member_of${suffix} parameters are not supported in the specified microversion`);
      for (const f of forb) forbidden.add(f);
    }
  }
  return { required, forbidden };
}

/** Whether a provider's aggregates (or traits) meet a parsed filter: one of each any-of set, none forbidden. */
export function satisfies(
  have: ReadonlySet<string> = new Set(),
  filter: { required: Array<Set<string>>; forbidden: Set<string> },
): boolean {
  for (const f of filter.forbidden) if (have.has(f)) return false;
  return filter.required.every((any) => [...any].some((x) => have.has(x)));
}

export function parseInTree(value: string): string {
  const r = value.trim();
  if (!isUuidLike(r))
    throw perr(
      400,
      `Invalid query string parameters: Expected 'in_tree' parameter to be a format of uuid. Got: ${value}`,
    );
  return r;
}

/** An absolute URL (webob makes every Location absolute). */
export function absoluteUrl(req: FastifyRequest, path: string) {
  return `${req.protocol}://${req.headers.host ?? 'localhost'}${path}`;
}

export function providerUrl(req: FastifyRequest, uuid: string) {
  return `${req.service?.prefix ?? ''}/resource_providers/${uuid}`;
}

export function serializeProvider(req: FastifyRequest, rp: Provider) {
  const v = mv(req);
  const url = providerUrl(req, rp.uuid);
  const rels = ['inventories', 'usages'];
  if (v.gte('1.1')) rels.push('aggregates');
  if (v.gte('1.6')) rels.push('traits');
  if (v.gte('1.11')) rels.push('allocations');
  const out: Record<string, unknown> = {
    uuid: rp.uuid,
    name: rp.name,
    generation: rp.generation,
    links: [{ rel: 'self', href: url }, ...rels.map((rel) => ({ rel, href: `${url}/${rel}` }))],
  };
  if (v.gte('1.14')) {
    out.parent_provider_uuid = rp.parent_uuid;
    out.root_provider_uuid = rp.root_uuid;
  }
  return out;
}

/** The provider or 404 (the detail names it, as get_by_uuid's NotFound does). */
export async function findProvider(svc: PlacementService, uuid: string, detail?: string): Promise<Provider> {
  const rp = await svc.store.provider(uuid);
  if (!rp) throw perr(404, detail ?? `No resource provider with uuid ${uuid} found`);
  return rp;
}
