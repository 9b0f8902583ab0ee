// Subnet pools (subnet_allocation, default-subnetpools, subnetpool-prefix-ops): prefixes kept
// compacted, prefix length bounds, one default pool per IP version, per-project prefix quota,
// address scope association, and the allocator that carves subnets out of a pool.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Transaction } from 'kysely';
import { ApiError } from '../../core/errors.ts';
import { json } from '../../core/db.ts';
import type { NetworkService } from '../service.ts';
import { timestamp, type Tx } from './resource.ts';
import { badInput, invalidInput, toBoolean, toString, toUuidOrNull } from './validate.ts';
import { pyStr } from '../../core/python.ts';
import {
  allocatePrefix,
  cidrContainsCidr,
  cidrsOverlap,
  formatCidr,
  isPrefixAvailable,
  mergeCidrs,
  parseCidr,
  type Cidr,
} from '../../core/netaddr.ts';
import {
  boolFilter,
  deleteRbac,
  grantedIds,
  insertRbac,
  lockRow,
  notFound,
  projectOf,
  rbacGrants,
  rbacScope,
} from './core_common.ts';
import { visibleAddressScope } from './address_scopes.ts';
import { toNonNegative } from './networks.ts';
import { NetworkContext } from '../context.ts';
import type { NetworkDb, SubnetPoolRow } from '../db/schema.ts';

const BITS = { 4: 32, 6: 128 } as const;
const DEFAULT_MIN = { 4: 8, 6: 64 } as const;
/** Quota units: a pool's default_quota counts /32s (IPv4) or /64s (IPv6). */
const QUOTA_UNIT = { 4: 32, 6: 64 } as const;

const illegalBounds = (type: string, len: number, base: string, baseLen: number) =>
  new ApiError(400, `Illegal prefix bounds: ${type}=${len}, ${base}=${baseLen}.`, 'IllegalSubnetPoolPrefixBounds');

/** neutron-lib validate_subnet for each prefix of a list. */
export function toSubnetList(v: unknown, name: string): string[] {
  if (!Array.isArray(v)) throw badInput(name, `'${pyStr(v)}' is not a list`);
  return v.map((x) => toSubnetCidr(x, name));
}

/** validate_subnet: 'address/prefixlen' (host bits allowed), kept as the client wrote it in canonical form. */
export function toSubnetCidr(v: unknown, name: string): string {
  if (typeof v !== 'string') throw badInput(name, `'${pyStr(v)}' is not a valid IP subnet`);
  const c = parseCidr(v, { allowBareIp: true });
  if (!c) throw badInput(name, `'${v}' is not a valid IP subnet`);
  if (!v.includes('/'))
    throw badInput(name, `'${v}' isn't a recognized IP subnet cidr, '${formatCidr(c)}' is recommended`);
  return v;
}

/** The pool's prefixes as CIDRs, one IP version (PrefixVersionMismatch otherwise), compacted. */
function readPrefixes(list: string[]): { version: 4 | 6; prefixes: Cidr[] } {
  if (!list.length) throw new ApiError(400, 'Empty subnet pool prefix list.', 'EmptySubnetPoolPrefixList');
  const cidrs = list.map((p) => parseCidr(p)!);
  const version = cidrs[0]!.version;
  if (cidrs.some((c) => c.version !== version))
    throw new ApiError(400, 'Cannot mix IPv4 and IPv6 prefixes in a subnet pool.', 'PrefixVersionMismatch');
  return { version, prefixes: mergeCidrs(cidrs) };
}

/** SubnetPoolReader's prefix length bounds with their defaults and checks. */
function readBounds(
  version: 4 | 6,
  v: { min_prefixlen?: unknown; max_prefixlen?: unknown; default_prefixlen?: unknown },
) {
  const num = (x: unknown) => (x === undefined || x === null ? undefined : Number(x));
  const min = num(v.min_prefixlen) ?? DEFAULT_MIN[version];
  const max = num(v.max_prefixlen) ?? BITS[version];
  const def = num(v.default_prefixlen) ?? min;
  if (min > max) throw illegalBounds('min_prefixlen', min, 'max_prefixlen', max);
  if (max > BITS[version]) throw illegalBounds('max_prefixlen', max, 'ip_version_max', BITS[version]);
  if (def < min) throw illegalBounds('default_prefixlen', def, 'min_prefixlen', min);
  if (def > max) throw illegalBounds('default_prefixlen', def, 'max_prefixlen', max);
  return { min_prefixlen: min, max_prefixlen: max, default_prefixlen: def };
}

/** A subnet pool the caller may see (own or shared to them); 404 otherwise. */
export async function visibleSubnetpool(
  svc: NetworkService,
  ctx: NetworkContext,
  tx: Tx,
  id: string,
): Promise<SubnetPoolRow> {
  let q = tx.selectFrom('subnetpools').selectAll().where('subnetpools.id', '=', id);
  if (!svc.isAdmin(ctx)) {
    const p = projectOf(ctx);
    q = q.where((eb) =>
      eb.or([
        eb('subnetpools.project_id', '=', p),
        rbacGrants(eb, 'subnetpool', 'subnetpools.id', p, ['access_as_shared']),
      ]),
    );
  }
  const row = await q.executeTakeFirst();
  if (!row) throw notFound.subnetpool(id);
  return row;
}

/**
 * _validate_address_scope_id: the scope is visible and usable by the caller, of the pool's IP
 * version, its other pools do not overlap this one, and re-scoping keeps networks consistent.
 */
async function checkAddressScope(
  svc: NetworkService,
  ctx: NetworkContext,
  tx: Transaction<NetworkDb>,
  scopeId: string | null | undefined,
  poolId: string,
  version: number,
  prefixes: Cidr[],
) {
  if (!scopeId) return;
  const scope = await visibleAddressScope(svc, ctx, tx, scopeId);
  if (Number(scope.ip_version) !== version) {
    throw new ApiError(
      400,
      `Illegal subnetpool association: subnetpool ${poolId} cannot associate with address scope ${scopeId} because subnetpool ip_version is not ${scope.ip_version}.`,
      'IllegalSubnetPoolIpVersionAssociationToAddressScope',
    );
  }
  // _check_subnetpool_address_scope_network_affinity
  const mine = await tx
    .selectFrom('subnets')
    .select(['id', 'network_id'])
    .where('subnetpool_id', '=', poolId)
    .execute();
  if (mine.length) {
    const others = await tx
      .selectFrom('subnets')
      .select('id')
      .where('network_id', 'in', [...new Set(mine.map((s) => s.network_id))])
      .where('ip_version', '=', version)
      .execute();
    const ids = new Set(mine.map((s) => s.id));
    if (others.some((s) => !ids.has(s.id)))
      throw new ApiError(
        400,
        'Subnets of the same address family hosted on the same network must all participate in the same address scope.',
        'NetworkAddressScopeAffinityError',
      );
  }
  for (const other of await tx
    .selectFrom('subnetpools')
    .select(['id', 'prefixes'])
    .where('address_scope_id', '=', scopeId)
    .where('id', '!=', poolId)
    .execute()) {
    const theirs = json<string[]>(other.prefixes, []).map((p) => parseCidr(p)!);
    if (theirs.some((a) => prefixes.some((b) => cidrsOverlap(a, b)))) {
      throw new ApiError(
        409,
        'Failed to associate address scope: subnetpools within an address scope must have unique prefixes.',
        'AddressScopePrefixConflict',
      );
    }
  }
}

async function checkSingleDefault(tx: Tx, version: number, exceptId?: string) {
  let q = tx.selectFrom('subnetpools').select('id').where('is_default', '=', 1).where('ip_version', '=', version);
  if (exceptId) q = q.where('id', '!=', exceptId);
  if (await q.executeTakeFirst())
    throw invalidInput(
      'A default subnetpool for this IP family has already been set. Only one default may exist per IP family',
    );
}

/**
 * The subnet allocator (SubnetAllocator.allocate_subnet): a specific cidr must lie in the
 * pool's free space; otherwise the first block of the requested size from the best-fitting
 * free prefix. Checks the pool's bounds and the project's prefix quota; the pool's row lock
 * keeps two allocations from taking the same space.
 */
export async function allocateFromPool(
  tx: Transaction<NetworkDb>,
  pool: SubnetPoolRow,
  ctx: { cidr?: Cidr; prefixlen?: number; projectId: string },
): Promise<Cidr> {
  await lockRow(tx, 'subnetpools', pool.id);
  const version = Number(pool.ip_version) as 4 | 6;
  const prefixlen = ctx.cidr ? ctx.cidr.prefixlen : (ctx.prefixlen ?? Number(pool.default_prefixlen));
  if (prefixlen > Number(pool.max_prefixlen))
    throw new ApiError(
      400,
      `Unable to allocate subnet with prefix length ${prefixlen}, maximum allowed prefix is ${pool.max_prefixlen}.`,
      'MaxPrefixSubnetAllocationError',
    );
  if (prefixlen < Number(pool.min_prefixlen))
    throw new ApiError(
      400,
      `Unable to allocate subnet with prefix length ${prefixlen}, minimum allowed prefix is ${pool.min_prefixlen}.`,
      'MinPrefixSubnetAllocationError',
    );
  const allocated = await tx
    .selectFrom('subnets')
    .select(['cidr', 'project_id'])
    .where('subnetpool_id', '=', pool.id)
    .execute();
  if (pool.default_quota !== null && pool.default_quota !== undefined) {
    const unit = QUOTA_UNIT[version];
    const used = allocated
      .filter((s) => s.project_id === ctx.projectId)
      .reduce((n: number, s: { cidr: string }) => n + 2 ** (unit - parseCidr(s.cidr)!.prefixlen), 0);
    if (used + 2 ** (unit - prefixlen) > Number(pool.default_quota))
      throw new ApiError(409, 'Per-tenant subnet pool prefix quota exceeded.', 'SubnetPoolQuotaExceeded');
  }
  const prefixes = json<string[]>(pool.prefixes, []).map((p) => parseCidr(p)!);
  const used = allocated.map((s) => parseCidr(s.cidr)!);
  if (ctx.cidr) {
    if (!isPrefixAvailable(prefixes, used, ctx.cidr))
      throw new ApiError(
        400,
        'Failed to allocate subnet: Cannot allocate requested subnet from the available set of prefixes.',
        'SubnetAllocationError',
      );
    return ctx.cidr;
  }
  const got = allocatePrefix(prefixes, used, prefixlen);
  if (!got)
    throw new ApiError(
      409,
      `Failed to allocate subnet: Insufficient prefix space to allocate subnet size /${prefixlen}.`,
      'SubnetAllocationError',
    );
  return got;
}

export function defineSubnetpools(svc: NetworkService) {
  const prefixlenAttr = {
    type: 'integer' as const,
    post: true,
    put: true,
    validate: (v: unknown, n: string) => toNonNegative(v, n),
  };
  const api = svc.define({
    singular: 'subnetpool',
    plural: 'subnetpools',
    table: 'subnetpools',
    quota: 'subnetpool',
    notFound: notFound.subnetpool,
    attrs: {
      name: { post: true, put: true, required: true, validate: (v, n) => toString(v, n, 255) },
      prefixes: {
        type: 'json',
        post: true,
        put: true,
        required: true,
        filter: false,
        validate: (v, n) => toSubnetList(v, n),
      },
      default_quota: {
        type: 'integer',
        post: true,
        put: true,
        default: null,
        validate: (v, n) => (v === null ? null : toNonNegative(v, n)),
      },
      ip_version: { type: 'integer' },
      default_prefixlen: prefixlenAttr,
      min_prefixlen: prefixlenAttr,
      max_prefixlen: prefixlenAttr,
      is_default: { type: 'boolean', post: true, put: true, default: false, validate: (v, n) => toBoolean(v, n) },
      shared: { type: 'boolean', column: false, post: true, default: false, validate: (v, n) => toBoolean(v, n) },
      address_scope_id: { post: true, put: true, default: null, validate: (v, n) => toUuidOrNull(v, n) },
    },
    scope: rbacScope('subnetpools', 'subnetpool', ['access_as_shared']),
    filters: {
      shared: boolFilter((eb, ctx) =>
        rbacGrants(eb, 'subnetpool', 'subnetpools.id', projectOf(ctx), ['access_as_shared']),
      ),
    },
    async expand(views, ctx, tx) {
      const shared = await grantedIds(
        tx,
        'subnetpool',
        views.map((v) => v.id),
        projectOf(ctx),
        'access_as_shared',
      );
      for (const v of views) {
        v.shared = shared.has(v.id);
        v.prefixes = (v.prefixes ?? []).map((p: string) => formatCidr(parseCidr(p)!));
        // Upstream's _make_subnetpool_dict shows the prefix lengths as strings.
        for (const k of ['default_prefixlen', 'min_prefixlen', 'max_prefixlen'] as const) v[k] = String(v[k]);
      }
    },
    async beforeCreate(values, ctx, tx) {
      const { version, prefixes } = readPrefixes(values.prefixes);
      values.ip_version = version;
      values.prefixes = prefixes.map(formatCidr);
      Object.assign(values, readBounds(version, values));
      if (values.is_default) await checkSingleDefault(tx, version);
      await checkAddressScope(svc, ctx, tx, values.address_scope_id, values.id, version, prefixes);
    },
    async afterCreate(view, values, _req, tx) {
      if (!values.shared) return;
      await insertRbac(tx, {
        projectId: view.project_id,
        objectType: 'subnetpool',
        objectId: view.id,
        action: 'access_as_shared',
        target: '*',
      });
      await tx.updateTable('subnetpools').set({ shared: 1 }).where('id', '=', view.id).execute();
    },
    async beforeUpdate(existing, changes, ctx, tx) {
      const version = existing.ip_version as 4 | 6;
      let prefixes = (existing.prefixes as string[]).map((p) => parseCidr(p)!);
      if (changes.prefixes !== undefined) {
        const next = readPrefixes(changes.prefixes);
        if (next.version !== version)
          throw new ApiError(400, 'Cannot mix IPv4 and IPv6 prefixes in a subnet pool.', 'PrefixVersionMismatch');
        if (!prefixes.every((old) => next.prefixes.some((n) => cidrContainsCidr(n, old)))) {
          throw new ApiError(
            400,
            'Illegal update to prefixes: Existing prefixes must be a subset of the new prefixes.',
            'IllegalSubnetPoolPrefixUpdate',
          );
        }
        prefixes = next.prefixes;
        changes.prefixes = prefixes.map(formatCidr);
      }
      const bounds = readBounds(version, { ...existing, ...changes });
      for (const k of ['min_prefixlen', 'max_prefixlen', 'default_prefixlen'] as const)
        if (changes[k] !== undefined) changes[k] = bounds[k];
      if (changes.is_default && !existing.is_default) await checkSingleDefault(tx, version, existing.id);
      if (existing.address_scope_id && !svc.isAdmin(ctx)) {
        const scope = await visibleAddressScope(svc, ctx, tx, existing.address_scope_id);
        if (scope.project_id !== projectOf(ctx)) {
          throw new ApiError(
            400,
            `Illegal subnetpool update : subnetpool ${existing.id} cannot be updated when associated with shared address scope ${existing.address_scope_id}.`,
            'IllegalSubnetPoolUpdate',
          );
        }
      }
      const scopeId = changes.address_scope_id !== undefined ? changes.address_scope_id : existing.address_scope_id;
      await checkAddressScope(svc, ctx, tx, scopeId, existing.id, version, prefixes);
    },
    async beforeDelete(existing, _req, tx) {
      if (await tx.selectFrom('subnets').select('id').where('subnetpool_id', '=', existing.id).executeTakeFirst()) {
        throw new ApiError(
          400,
          'Unable to delete subnet pool: Subnet pool has existing allocations.',
          'SubnetPoolDeleteError',
        );
      }
      await deleteRbac(tx, 'subnetpool', existing.id);
    },
  });
  return api;
}

/** PUT /v2.0/subnetpools/:id/add_prefixes and remove_prefixes (subnetpool-prefix-ops). */
export function subnetpoolRoutes(app: FastifyInstance, svc: NetworkService) {
  const api = svc.resource('subnetpools');
  const body = (req: FastifyRequest): string[] => {
    const b = req.body as { prefixes?: unknown } | undefined;
    if (!b || typeof b !== 'object' || !Array.isArray(b.prefixes) || !b.prefixes.length)
      throw new ApiError(400, 'Request body contains invalid data', 'HTTPBadRequest');
    return toSubnetList(b.prefixes, 'prefixes');
  };
  app.put('/v2.0/subnetpools/:id/add_prefixes', async (req) => {
    const ctx = NetworkContext.of(req.context);
    const id = (req.params as { id: string }).id;
    const pool = await api.find(ctx, id, 'get');
    api.enforce(ctx, 'add_prefixes', await api.policyTarget(pool, ctx));
    const added = body(req);
    const view = await svc.transaction((tx) =>
      api.applyUpdate(pool, { prefixes: [...pool.prefixes, ...added] }, ctx, tx),
    );
    return { prefixes: view.prefixes };
  });
  app.put('/v2.0/subnetpools/:id/remove_prefixes', async (req) => {
    const ctx = NetworkContext.of(req.context);
    const id = (req.params as { id: string }).id;
    const pool = await api.find(ctx, id, 'get');
    api.enforce(ctx, 'remove_prefixes', await api.policyTarget(pool, ctx));
    const removed = body(req).map((p) => parseCidr(p)!);
    const current = (pool.prefixes as string[]).map((p) => parseCidr(p)!);
    if (!removed.some((r) => current.some((c) => cidrsOverlap(r, c)))) return { prefixes: pool.prefixes };
    return svc.transaction(async (tx) => {
      await lockRow(tx, 'subnetpools', id);
      const subnets = (await tx.selectFrom('subnets').select('cidr').where('subnetpool_id', '=', id).execute()).map(
        (s) => parseCidr(s.cidr)!,
      );
      if (subnets.some((s) => removed.some((r) => cidrsOverlap(s, r)))) {
        throw new ApiError(
          400,
          'Illegal update to prefixes: One or more the prefixes to be removed is in use by a subnet.',
          'IllegalSubnetPoolPrefixUpdate',
        );
      }
      // What is left of the pool: its free space with the removed blocks treated as taken, merged.
      const left = mergeCidrs(current.flatMap((c) => subtractAll(c, removed)));
      const prefixes = left.map(formatCidr);
      await tx
        .updateTable('subnetpools')
        .set({ prefixes: JSON.stringify(prefixes), updated_at: timestamp(), revision_number: pool.revision_number + 1 })
        .where('id', '=', id)
        .execute();
      return { prefixes };
    });
  });
}

/** c less every block of `cut`, as CIDRs. */
function subtractAll(c: Cidr, cut: Cidr[]): Cidr[] {
  let parts: Cidr[] = [c];
  for (const r of cut) parts = parts.flatMap((p) => subtract(p, r));
  return parts;
}

function subtract(p: Cidr, r: Cidr): Cidr[] {
  if (!cidrsOverlap(p, r)) return [p];
  if (r.prefixlen <= p.prefixlen) return [];
  // Split p in halves until the overlap is isolated.
  const bits = p.version === 4 ? 32 : 128;
  const half = 1n << BigInt(bits - p.prefixlen - 1);
  const a: Cidr = { version: p.version, network: p.network, prefixlen: p.prefixlen + 1 };
  const b: Cidr = { version: p.version, network: p.network + half, prefixlen: p.prefixlen + 1 };
  return [...subtract(a, r), ...subtract(b, r)];
}
