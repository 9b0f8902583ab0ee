// Routers' `distributed` (`dvr`: neutron/db/l3_dvr_db.py) and `flavor_id` (`l3-flavors`:
// services/l3_router/service_providers/driver_controller.py), kept in router_extra_attributes.
// `distributed` is admin-only by Neutron's policy, defaults to false (router_distributed) and
// changes only on a router that is (or is being set) administratively down; the data plane here
// realises every router the same way. A flavor must exist, be enabled, be an L3 flavor and have a
// service profile whose driver is an L3 provider; it cannot change afterwards.
import { ApiError } from '../../core/errors.ts';
import type { NetworkService } from '../service.ts';
import type { Tx } from './resource.ts';
import { badRequest } from './l3_common.ts';
import { flavorNotFound, invalidServiceType, L3_SERVICE_TYPE, nextProvider } from './flavors.ts';
import { toBoolean } from './validate.ts';

/** convert_to_boolean_if_not_none */
const boolOrNone = (v: unknown, name: string) => (v === null ? null : toBoolean(v, name));

const given = (v: unknown) => v !== undefined && v !== null;

async function checkFlavor(tx: Tx, flavorId: unknown) {
  const id = String(flavorId);
  const f = await tx.selectFrom('flavors').selectAll().where('id', '=', id).executeTakeFirst();
  if (!f) throw flavorNotFound(id);
  if (!f.enabled) throw new ApiError(503, 'Flavor is not enabled.', 'FlavorDisabled');
  if (f.service_type !== L3_SERVICE_TYPE) throw invalidServiceType(f.service_type);
  await nextProvider(tx, id);
}

export function extendRoutersForDvrAndFlavors(svc: NetworkService) {
  svc.extend('routers', {
    attrs: {
      distributed: { column: false, post: true, put: true, filter: false, validate: boolOrNone },
      flavor_id: { column: false, post: true, filter: false, enforcePolicy: false },
    },
    async expand(views, _ctx, tx) {
      const ids = views.map((v) => v.id as string);
      const by = new Map<string, { distributed: number; flavor_id: string | null }>();
      for (let i = 0; i < ids.length; i += 500) {
        for (const r of await tx
          .selectFrom('router_extra_attributes')
          .selectAll()
          .where('router_id', 'in', ids.slice(i, i + 500))
          .execute())
          by.set(r.router_id, r);
      }
      for (const v of views) {
        const e = by.get(v.id as string);
        v.distributed = !!e?.distributed;
        v.flavor_id = e?.flavor_id ?? null;
      }
    },
    async beforeCreate(values, _ctx, tx) {
      if (values.flavor_id === undefined || values.flavor_id === null) return;
      // The flavor's provider decides: flags beside it are refused (driver_controller).
      if (given(values.distributed) || given(values.ha))
        throw badRequest('router', 'Cannot specify both flavor_id and distributed or ha flags');
      await checkFlavor(tx, values.flavor_id);
    },
    async afterCreate(_view, values, _ctx, tx) {
      await tx
        .insertInto('router_extra_attributes')
        .values({
          router_id: values.id as string,
          distributed: values.distributed ? 1 : 0,
          flavor_id: (values.flavor_id as string | null | undefined) ?? null,
        })
        .execute();
    },
    async beforeUpdate(existing, changes, _ctx, tx) {
      if (changes.distributed === undefined || changes.distributed === null) {
        delete changes.distributed;
        return;
      }
      const was = !!(
        await tx
          .selectFrom('router_extra_attributes')
          .select('distributed')
          .where('router_id', '=', existing.id as string)
          .executeTakeFirst()
      )?.distributed;
      if (!!changes.distributed === was) return;
      const up = changes.admin_state_up ?? existing.admin_state_up;
      if (up)
        throw badRequest(
          'router',
          "Cannot change the 'distributed' attribute of active routers. Please set router admin_state_up to False prior to upgrade",
        );
      const d = changes.distributed ? 1 : 0;
      await tx
        .insertInto('router_extra_attributes')
        .values({ router_id: existing.id as string, distributed: d, flavor_id: null })
        .onConflict((oc) => oc.column('router_id').doUpdateSet({ distributed: d }))
        .execute();
    },
  });
  svc.declareExtension(
    {
      alias: 'dvr',
      name: 'Distributed Virtual Router',
      description: 'Enables configuration of Distributed Virtual Routers.',
      updated: '2014-06-1T10:00:00-00:00',
    },
    {
      alias: 'l3-flavors',
      name: 'Router Flavor Extension',
      description: 'Flavor support for routers.',
      updated: '2016-05-17T00:00:00-00:00',
    },
  );
}
