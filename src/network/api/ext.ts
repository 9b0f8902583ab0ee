// The family of the extensions added after the first four (see service.ts): address groups
// (api/address_groups.ts), metering (api/metering.ts), flavors (api/flavors.ts, routers' in api/router_extra.ts),
// routers' conntrack helpers (api/conntrack_helpers.ts), ... Each has its own file and its tables in db/ext.ts.
import type { Family } from '../service.ts';
import { addressGroupRoutes, defineAddressGroups } from './address_groups.ts';
import { defineMetering } from './metering.ts';
import { defineFlavors, flavorRoutes } from './flavors.ts';
import { extendRoutersForDvrAndFlavors } from './router_extra.ts';
import { defineConntrackHelpers, extendRoutersForConntrackHelpers } from './conntrack_helpers.ts';

export const extFamily: Family = {
  define(svc) {
    defineAddressGroups(svc);
    defineMetering(svc);
    defineFlavors(svc);
    if (svc.resources.has('routers')) defineConntrackHelpers(svc);
  },
  extend(svc) {
    if (svc.resources.has('routers')) extendRoutersForConntrackHelpers(svc);
    if (svc.resources.has('routers')) extendRoutersForDvrAndFlavors(svc);
  },
  routes(app, svc) {
    addressGroupRoutes(app, svc);
    flavorRoutes(app, svc);
  },
};
