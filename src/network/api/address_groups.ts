// Address groups (`address-group`, neutron/db/address_group_db.py, Zed): a named set of CIDRs a
// project owns, changed through the add_addresses / remove_addresses member actions. Addresses
// are stored normalized ('192.168.0.10/24' is '192.168.0.0/24'), one row each.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import type { NetworkService } from '../service.ts';
import { formatCidr, parseCidr } from '../../core/netaddr.ts';
import { bumpRevision, type Tx } from './resource.ts';
import { badInput, toList, toString } from './validate.ts';
import { pyStr } from '../../core/python.ts';
import { grantedIds, rbacScope } from './core_common.ts';
import { NetworkContext } from '../context.ts';

export const addressGroupNotFound = (id: string) =>
  new ApiError(404, `Address group ${id} could not be found.`, 'AddressGroupNotFound');

/** neutron_lib's type:subnet_list: a list of unique 'address/prefixlen' strings, normalized. */
function toSubnetList(v: unknown, attr: string, allowBareIp = false): string[] {
  const out: string[] = [];
  for (const x of toList(v ?? [], attr)) {
    const c = typeof x === 'string' && (allowBareIp || x.includes('/')) ? parseCidr(x, { allowBareIp }) : null;
    if (!c) throw badInput(attr, `'${pyStr(x)}' is not a valid IP subnet`);
    const s = formatCidr(c);
    if (!out.includes(s)) out.push(s);
    else if (!allowBareIp) throw badInput(attr, `Duplicate items in the list: '${pyStr(x)}'`);
  }
  return out;
}

const pyList = (l: string[]) => `[${l.map((a) => `'${a}'`).join(', ')}]`;

const inUseByRules = async (db: Tx | NetworkService['db'], id: string) =>
  !!(await (db as Tx)
    .selectFrom('securitygrouprules')
    .select('id')
    .where('remote_address_group_id', '=', id)
    .limit(1)
    .executeTakeFirst());

async function addressesOf(tx: Tx, ids: string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await tx
      .selectFrom('address_group_addresses')
      .select(['address_group_id', 'address'])
      .where('address_group_id', 'in', ids.slice(i, i + 500))
      .orderBy('address')
      .execute();
    for (const r of rows) out.set(r.address_group_id, [...(out.get(r.address_group_id) ?? []), r.address]);
  }
  return out;
}

export const addressGroupInUse = (id: string) =>
  new ApiError(409, `Address group ${id} is in use on one or more security group rules.`, 'AddressGroupInUse');

export function defineAddressGroups(svc: NetworkService) {
  svc.define({
    singular: 'address_group',
    plural: 'address_groups',
    table: 'address_groups',
    attrs: {
      name: { post: true, put: true, default: '', validate: (v, n) => toString(v, n, 255) },
      addresses: {
        column: false,
        post: true,
        put: false,
        default: [],
        filter: false,
        validate: (v, n) => toSubnetList(v, n),
      },
      // Not shown; the policy's `field:address_groups:shared=True` reads it.
      shared: { column: false, visible: false, filter: false },
    },
    notFound: addressGroupNotFound,
    // Shared through RBAC (`rbac-address-group`): access_as_shared to the project or to '*'.
    scope: rbacScope('address_groups', 'address_group', ['access_as_shared']),
    async expand(views, ctx, tx) {
      const ids = views.map((v) => v.id);
      const addrs = await addressesOf(tx, ids);
      const pid = ctx.projectId ?? '';
      const shared = await grantedIds(tx, 'address_group', ids, pid, 'access_as_shared');
      for (const v of views) {
        v.addresses = addrs.get(v.id) ?? [];
        v.shared = shared.has(v.id);
      }
    },
    async checkDelete(existing) {
      if (await inUseByRules(svc.db, existing.id)) throw addressGroupInUse(existing.id);
    },
    async beforeDelete(existing, _req, tx) {
      if (await inUseByRules(tx, existing.id)) throw addressGroupInUse(existing.id);
      await tx
        .deleteFrom('rbac_policies')
        .where('object_type', '=', 'address_group')
        .where('object_id', '=', existing.id)
        .execute();
    },
    async afterCreate(view, values, _req, tx) {
      const list = (values.addresses ?? []) as string[];
      if (list.length)
        await tx
          .insertInto('address_group_addresses')
          .values(list.map((address) => ({ address_group_id: view.id, address })))
          .execute();
    },
  });
  svc.declareExtension(
    {
      alias: 'address-group',
      name: 'Address group',
      description: 'Support address group',
      updated: '2020-07-15T10:00:00-00:00',
    },
    {
      alias: 'rbac-address-group',
      name: 'Add address_group type to RBAC',
      description: 'Add address_group type to network RBAC',
      updated: '2021-01-20T00:00:00-00:00',
    },
    {
      alias: 'security-groups-remote-address-group',
      name: 'Remote address group id field for security group rules',
      description: 'Add new field of remote address group id in SG rules',
      updated: '2020-08-25T10:00:00-00:00',
    },
  );
}

export function addressGroupRoutes(app: FastifyInstance, svc: NetworkService) {
  const groups = svc.resource('address_groups');
  const action = (name: 'add_addresses' | 'remove_addresses') => async (req: FastifyRequest) => {
    const ctx = NetworkContext.of(req.context);
    const id = (req.params as { id: string }).id;
    const body = req.body as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object' || Array.isArray(body) || !('addresses' in body)) {
      throw new ApiError(400, `Invalid input for operation: Unrecognized action body for ${name}.`, 'HTTPBadRequest');
    }
    const wanted = toSubnetList(body.addresses, 'addresses', true);
    const existing = await groups.find(ctx, id, 'get');
    groups.enforce(ctx, `${name}_address_group`, await groups.policyTarget(existing, ctx));
    const before = existing;
    const view = await svc.transaction(async (tx) => {
      const have = new Set((await addressesOf(tx, [id])).get(id) ?? []);
      if (name === 'add_addresses') {
        const dup = wanted.filter((a) => have.has(a));
        if (dup.length)
          throw new ApiError(
            400,
            `Addresses ${pyList(dup)} already exist in the address group ${id}.`,
            'AddressesAlreadyExist',
          );
        if (wanted.length)
          await tx
            .insertInto('address_group_addresses')
            .values(wanted.map((address) => ({ address_group_id: id, address })))
            .execute();
      } else {
        const missing = wanted.filter((a) => !have.has(a));
        if (missing.length)
          throw new ApiError(
            404,
            `Addresses ${pyList(missing)} not found in the address group ${id}.`,
            'AddressesNotFound',
          );
        if (wanted.length)
          await tx
            .deleteFrom('address_group_addresses')
            .where('address_group_id', '=', id)
            .where('address', 'in', wanted)
            .execute();
      }
      await bumpRevision(tx, 'address_groups', id);
      return groups.loadInTx(id, ctx, tx);
    });
    svc.notify(ctx, 'address_group.update.end', { address_group: view, original: before });
    // The groups whose rules name it are enforced with its addresses: their agents refresh them.
    const using = await svc.db
      .selectFrom('securitygrouprules')
      .select('security_group_id')
      .where('remote_address_group_id', '=', id)
      .execute();
    if (using.length) svc.notifier.securityGroupRulesUpdated([...new Set(using.map((r) => r.security_group_id))]);
    return { address_group: await groups.present(view, ctx) };
  };
  app.put('/v2.0/address-groups/:id/add_addresses', action('add_addresses'));
  app.put('/v2.0/address-groups/:id/remove_addresses', action('remove_addresses'));
}
