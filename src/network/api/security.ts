// The security family of the network API (see service.ts): security groups and their rules
// (security_groups.ts), port security on ports and networks, RBAC policies (rbac.ts) and the
// quotas API (quotas.ts).
import type { Family } from '../service.ts';
import { defineSecurityGroups, extendPortsAndNetworks, securityGroupRoutes } from './security_groups.ts';
import { defineRbac } from './rbac.ts';
import { quotaRoutes } from './quotas.ts';
import { dynamic } from '../db/schema.ts';

/** Tables of other families RBAC policies may be about (qos_policies comes with QoS, routers with L3). */
const OPTIONAL_TABLES = [
  'networks',
  'qos_policies',
  'securitygroups',
  'address_scopes',
  'subnetpools',
  'routers',
  'address_groups',
];

export const securityFamily: Family = {
  define(svc) {
    // neutron.conf [quotas] quota_<resource> overrides: network.quotas in the configuration.
    Object.assign(svc.quotas.defaults, svc.config.quotas ?? {});
    defineSecurityGroups(svc);
    defineRbac(svc, svc.rbacTables);
    svc.declareExtension(
      {
        alias: 'security-group',
        name: 'security-group',
        description: 'The security groups extension.',
        updated: '2012-10-05T10:00:00-00:00',
      },
      {
        alias: 'stateful-security-group',
        name: 'Stateful security group',
        description: 'Indicates if the security group is stateful or not',
        updated: '2019-11-26T09:00:00-00:00',
      },
      {
        alias: 'security-groups-shared-filtering',
        name: 'Security group filtering on the shared field',
        description: 'Support filtering security groups on the shared field',
        updated: '2021-10-05T09:00:00-00:00',
      },
      {
        alias: 'security-groups-normalized-cidr',
        name: 'Normalized CIDR field for security group rules',
        description: 'Add new field with normalized remote_ip_prefix cidr in SG rule',
        updated: '2020-07-28T10:00:00-00:00',
      },
      {
        alias: 'port-security',
        name: 'Port Security',
        description: 'Provides port security',
        updated: '2012-07-23T10:00:00-00:00',
      },
      {
        alias: 'port-security-groups-filtering',
        name: 'Port filtering on security groups',
        description: 'Provides security groups filtering when listing ports',
        updated: '2018-01-09T09:00:00-00:00',
      },
      {
        alias: 'rbac-policies',
        name: 'RBAC Policies',
        description: 'Allows creation and modification of policies that control tenant access to resources.',
        updated: '2015-06-17T12:15:12-00:00',
      },
      {
        alias: 'rbac-security-groups',
        name: 'Add security_group type to network RBAC',
        description: 'Add security_group type to network RBAC',
        updated: '2019-02-14T00:00:00-00:00',
      },
      {
        alias: 'rbac-address-scope',
        name: 'Add address_scope type to RBAC',
        description: 'Add address_scope type to RBAC',
        updated: '2020-02-12T00:00:00-00:00',
      },
      {
        alias: 'rbac-subnetpool',
        name: 'Add subnetpool type to RBAC',
        description: 'Add subnetpool type to RBAC',
        updated: '2020-02-05T00:00:00-00:00',
      },
      {
        alias: 'quotas',
        name: 'Quota management support',
        description: 'Expose functions for quotas management per project',
        updated: '2012-07-29T10:00:00-00:00',
      },
      {
        alias: 'quota_details',
        name: 'Quota details management support',
        description: 'Expose functions for quotas usage statistics per project',
        updated: '2017-02-10T10:00:00-00:00',
      },
      {
        alias: 'quota-check-limit',
        name: 'Quota engine limit check',
        description: 'Support for checking the resource usage before applying a new quota limit',
        updated: '2021-09-08T16:00:00-00:00',
      },
    );
  },
  extend(svc) {
    extendPortsAndNetworks(svc);
  },
  routes(app, svc) {
    securityGroupRoutes(app, svc);
    quotaRoutes(app, svc);
  },
  async init(svc) {
    for (const t of OPTIONAL_TABLES) {
      try {
        await dynamic(svc.db)
          .selectFrom(t)
          .select((eb) => eb.lit(1).as('x'))
          .limit(1)
          .execute();
        svc.rbacTables.add(t);
      } catch {
        /* not there */
      }
    }
  },
};
