// The family of the extensions added after the first four (see service.ts): address groups
// (api/address_groups.ts), metering (api/metering.ts), ... Each has its own file and its tables in db/ext.ts.
import type { Family } from '../service.ts';
import { addressGroupRoutes, defineAddressGroups } from './address_groups.ts';
import { defineMetering } from './metering.ts';

export const extFamily: Family = {
  define(svc) {
    defineAddressGroups(svc);
    defineMetering(svc);
  },
  routes(app, svc) {
    addressGroupRoutes(app, svc);
  },
};
