// The network resources' typed views (src/network/api/types.ts): the compile-time half is checked
// by `tsc --noEmit` (npm test), the run-time half by the generic layer's row <-> view conversion.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { ApiError } from '../src/core/errors.ts';
import { allAttrs, columnsOf, rowToView, type ResourceSpec } from '../src/network/api/resource.ts';
import type { PortResource, ResourcePlural, ResourceViews, RouterResource } from '../src/network/api/types.ts';
import type { NetworkService } from '../src/network/service.ts';

const portSpec: ResourceSpec<PortResource> = {
  singular: 'port',
  plural: 'ports',
  table: 'ports',
  notFound: (id) => new ApiError(404, `Port ${id} could not be found.`, 'PortNotFound'),
  attrs: {
    name: { post: true },
    admin_state_up: { type: 'boolean', post: true },
    'binding:profile': { type: 'json', post: true },
    'binding:host_id': { post: true },
    fixed_ips: { column: false },
  },
  async beforeCreate(values) {
    values.status = 'DOWN';
    // @ts-expect-error a misspelt attribute does not compile
    values.stauts = 'DOWN';
  },
  committed(_event, view) {
    const host: string = view['binding:host_id'];
    // @ts-expect-error neither does reading one
    const other: string = view['binding:hostid'];
    void host;
    void other;
  },
};

/** Never called: what svc.resource() and svc.extend() answer, by plural. */
function typedLookups(svc: NetworkService) {
  const router: Promise<RouterResource> = svc.resource('routers').load(svc.ctx as never, 'id');
  // @ts-expect-error an unknown plural does not compile
  svc.resource('portz');
  svc.extend('ports', {
    async beforeDelete(port) {
      // @ts-expect-error a port has no gw_port_id
      void port.gw_port_id;
    },
  });
  return router;
}
void typedLookups;

describe('network typed views', () => {
  test('every plural has a view type', () => {
    const plurals: Record<ResourcePlural, true> = {
      ports: true,
      networks: true,
      subnets: true,
      routers: true,
      floatingips: true,
      security_groups: true,
      security_group_rules: true,
      subnetpools: true,
      address_scopes: true,
      segments: true,
      rbac_policies: true,
      port_forwardings: true,
      conntrack_helpers: true,
      trunks: true,
      agents: true,
      policies: true,
      bandwidth_limit_rules: true,
      dscp_marking_rules: true,
      minimum_bandwidth_rules: true,
      address_groups: true,
      metering_labels: true,
      metering_label_rules: true,
      flavors: true,
      service_profiles: true,
    };
    const port: ResourceViews['ports']['id'] = 'p';
    assert.equal(Object.keys(plurals).length, 24);
    assert.equal(port, 'p');
  });

  test('a row becomes a view by the declared column types', () => {
    const columns = columnsOf(allAttrs(portSpec));
    const view = rowToView(
      {
        id: 'p1',
        project_id: 'proj',
        name: 'web',
        admin_state_up: 1,
        binding_profile: '{"k":"v"}',
        binding_host_id: 'h1',
        revision_number: '3',
      },
      columns,
    );
    assert.deepEqual(view, {
      id: 'p1',
      project_id: 'proj',
      tenant_id: 'proj',
      name: 'web',
      admin_state_up: true,
      'binding:profile': { k: 'v' },
      'binding:host_id': 'h1',
      revision_number: 3,
    });
  });
});
