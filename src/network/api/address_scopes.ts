// Address scopes (the `address-scope` extension): subnet pools of one scope never overlap, and
// networks take the scope of their subnets' pools. `shared` is an RBAC row, as upstream.
import { ApiError } from '../../core/errors.ts';
import type { NetworkService } from '../service.ts';
import { derivedFlag, type Tx } from './resource.ts';
import type { AddressScopeRow } from '../db/schema.ts';
import { toString, badInput } from './validate.ts';
import { pyStr } from '../../core/python.ts';
import {
  boolFilter,
  deleteRbac,
  grantedIds,
  insertRbac,
  notFound,
  projectOf,
  rbacGrants,
  rbacScope,
} from './core_common.ts';
import type { NetworkContext } from '../context.ts';

/** An address scope the caller may see (own or shared to them); 404 otherwise. */
export async function visibleAddressScope(
  svc: NetworkService,
  ctx: NetworkContext,
  tx: Tx,
  id: string,
): Promise<AddressScopeRow> {
  let q = tx.selectFrom('address_scopes').selectAll().where('address_scopes.id', '=', id);
  if (!svc.isAdmin(ctx)) {
    const p = projectOf(ctx);
    q = q.where((eb) =>
      eb.or([
        eb('address_scopes.project_id', '=', p),
        rbacGrants(eb, 'address_scope', 'address_scopes.id', p, ['access_as_shared']),
      ]),
    );
  }
  const row = await q.executeTakeFirst();
  if (!row) throw notFound.addressScope(id);
  return row;
}

export const toIpVersion = (v: unknown, n: string) => {
  const i = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (i !== 4 && i !== 6) throw badInput(n, `${pyStr(v)} is not in [4, 6]`);
  return i;
};

export function defineAddressScopes(svc: NetworkService) {
  svc.define({
    singular: 'address_scope',
    plural: 'address_scopes',
    table: 'address_scopes',
    // Address scopes have no standard attributes (no description, timestamps, revisions or tags).
    standard: false,
    notFound: notFound.addressScope,
    attrs: {
      name: { post: true, put: true, default: '', validate: (v, n) => toString(v, n, 255) },
      shared: derivedFlag(),
      ip_version: { type: 'integer', post: true, required: true, validate: toIpVersion },
    },
    scope: rbacScope('address_scopes', 'address_scope', ['access_as_shared']),
    filters: {
      shared: boolFilter((eb, ctx) =>
        rbacGrants(eb, 'address_scope', 'address_scopes.id', projectOf(ctx), ['access_as_shared']),
      ),
    },
    async expand(views, ctx, tx) {
      const shared = await grantedIds(
        tx,
        'address_scope',
        views.map((v) => v.id),
        projectOf(ctx),
        'access_as_shared',
      );
      for (const v of views) v.shared = shared.has(v.id);
    },
    async afterCreate(view, values, _req, tx) {
      if (!values.shared) return;
      await insertRbac(tx, {
        projectId: view.project_id,
        objectType: 'address_scope',
        objectId: view.id,
        action: 'access_as_shared',
        target: '*',
      });
      await tx.updateTable('address_scopes').set({ shared: 1 }).where('id', '=', view.id).execute();
    },
    async beforeUpdate(existing, changes, _req, tx) {
      if (changes.shared === undefined) return;
      const wildcard = (await grantedIds(tx, 'address_scope', [existing.id], '', 'access_as_shared', true)).has(
        existing.id,
      );
      if (!changes.shared && wildcard)
        throw new ApiError(
          400,
          `Unable to update address scope ${existing.id} : Shared address scope can't be unshared.`,
          'AddressScopeUpdateError',
        );
      if (changes.shared && !wildcard) {
        await insertRbac(tx, {
          projectId: existing.project_id,
          objectType: 'address_scope',
          objectId: existing.id,
          action: 'access_as_shared',
          target: '*',
        });
        await tx.updateTable('address_scopes').set({ shared: 1 }).where('id', '=', existing.id).execute();
      }
    },
    async beforeDelete(existing, _req, tx) {
      if (
        await tx.selectFrom('subnetpools').select('id').where('address_scope_id', '=', existing.id).executeTakeFirst()
      ) {
        throw new ApiError(
          409,
          `Unable to complete operation on address scope ${existing.id}. There are one or more subnet pools in use on the address scope.`,
          'AddressScopeInUse',
        );
      }
      await deleteRbac(tx, 'address_scope', existing.id);
    },
  });
}
