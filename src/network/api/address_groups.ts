// Address groups (`address-group`, neutron/db/address_group_db.py, Zed): a named set of CIDRs a
// project owns, changed through the add_addresses / remove_addresses member actions. Addresses
// are stored normalized ('192.168.0.10/24' is '192.168.0.0/24'), one row each.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import type { NetworkService } from '../service.ts';
import { formatCidr, parseCidr } from '../netaddr.ts';
import { bumpRevision, type Tx, type View } from './resource.ts';
import { badInput, py, toList, toString } from './validate.ts';

export const addressGroupNotFound = (id: string) => new ApiError(404, `Address group ${id} could not be found.`, 'AddressGroupNotFound');

/** neutron_lib's type:subnet_list: a list of unique 'address/prefixlen' strings, normalized. */
function toSubnetList(v: unknown, attr: string, allowBareIp = false): string[] {
  const out: string[] = [];
  for (const x of toList(v ?? [], attr)) {
    const c = typeof x === 'string' && (allowBareIp || x.includes('/')) ? parseCidr(x, { allowBareIp }) : null;
    if (!c) throw badInput(attr, `'${py(x)}' is not a valid IP subnet`);
    const s = formatCidr(c);
    if (!out.includes(s)) out.push(s);
    else if (!allowBareIp) throw badInput(attr, `Duplicate items in the list: '${py(x)}'`);
  }
  return out;
}

const pyList = (l: string[]) => `[${l.map((a) => `'${a}'`).join(', ')}]`;

async function addressesOf(tx: Tx, ids: string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await tx.selectFrom('address_group_addresses').select(['address_group_id', 'address']).where('address_group_id', 'in', ids.slice(i, i + 500)).orderBy('address').execute();
    for (const r of rows) out.set(r.address_group_id, [...(out.get(r.address_group_id) ?? []), r.address]);
  }
  return out;
}

export function defineAddressGroups(svc: NetworkService) {
  svc.define({
    singular: 'address_group', plural: 'address_groups', path: 'address-groups', table: 'address_groups',
    attrs: {
      name: { post: true, put: true, default: '', validate: (v, n) => toString(v, n, 255) },
      addresses: { column: false, post: true, put: false, default: [], filter: false, validate: (v, n) => toSubnetList(v, n) },
    },
    notFound: addressGroupNotFound,
    async expand(views, _req, tx) {
      const addrs = await addressesOf(tx, views.map((v) => v.id));
      for (const v of views) v.addresses = addrs.get(v.id) ?? [];
    },
    async afterCreate(view, values, _req, tx) {
      const list = (values.addresses ?? []) as string[];
      if (list.length) await tx.insertInto('address_group_addresses').values(list.map((address) => ({ address_group_id: view.id, address }))).execute();
    },
  });
  svc.declareExtension({ alias: 'address-group', name: 'Address group', description: 'Support address group', updated: '2020-07-15T10:00:00-00:00' });
}

export function addressGroupRoutes(app: FastifyInstance, svc: NetworkService) {
  const groups = svc.resource('address_groups');
  const action = (name: 'add_addresses' | 'remove_addresses') => async (req: FastifyRequest) => {
    const id = (req.params as { id: string }).id;
    const body = req.body as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object' || Array.isArray(body) || !('addresses' in body)) {
      throw new ApiError(400, `Invalid input for operation: Unrecognized action body for ${name}.`, 'HTTPBadRequest');
    }
    const wanted = toSubnetList(body.addresses, 'addresses', true);
    const existing = await groups.find(req, id, 'get');
    groups.enforce(req, `${name}_address_group`, await groups.policyTarget(existing, req));
    const before = existing;
    const view: View = await svc.transaction(async (tx) => {
      const have = new Set((await addressesOf(tx, [id])).get(id) ?? []);
      if (name === 'add_addresses') {
        const dup = wanted.filter((a) => have.has(a));
        if (dup.length) throw new ApiError(400, `Addresses ${pyList(dup)} already exist in the address group ${id}.`, 'AddressesAlreadyExist');
        if (wanted.length) await tx.insertInto('address_group_addresses').values(wanted.map((address) => ({ address_group_id: id, address }))).execute();
      } else {
        const missing = wanted.filter((a) => !have.has(a));
        if (missing.length) throw new ApiError(404, `Addresses ${pyList(missing)} not found in the address group ${id}.`, 'AddressesNotFound');
        if (wanted.length) await tx.deleteFrom('address_group_addresses').where('address_group_id', '=', id).where('address', 'in', wanted).execute();
      }
      await bumpRevision(tx, 'address_groups', id);
      return groups.loadInTx(id, req, tx);
    });
    svc.notify(req, 'address_group.update.end', { address_group: view, original: before });
    return { address_group: await groups.present(view, req) };
  };
  app.put('/v2.0/address-groups/:id/add_addresses', action('add_addresses'));
  app.put('/v2.0/address-groups/:id/remove_addresses', action('remove_addresses'));
}
