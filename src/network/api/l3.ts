// The l3 family of the network API (see service.ts): routers (routers.ts), floating IPs and
// their pools (floatingips.ts), port forwardings (port_forwardings.ts), the auto-allocated
// topology (auto_allocate.ts); and what L3 does to other families' resources: a port that goes
// away loses its floating IPs and port forwardings, and deleting an external network deletes its
// unassociated floating IPs. (An external network with gateways stays external: networks.ts.)
import type { Family, NetworkService } from '../service.ts';
import { toDnsName } from './networks.ts';
import { afterCommit, flushAfterCommit, elevated } from './l3_common.ts';
import { routerRoutes, routersSpec } from './routers.ts';
import { disassociatePort, floatingIpPoolRoutes, floatingIpsSpec } from './floatingips.ts';
import { portForwardingsSpec, removePortForwardings } from './port_forwardings.ts';
import { autoAllocateRoutes } from './auto_allocate.ts';
import type { NetworkContext } from '../context.ts';

const EXTENSIONS = [
  {
    alias: 'router',
    name: 'Neutron L3 Router',
    description:
      'Router abstraction for basic L3 forwarding between L2 Neutron networks and access to external networks via a NAT gateway.',
    updated: '2012-07-20T10:00:00-00:00',
  },
  {
    alias: 'ext-gw-mode',
    name: 'Neutron L3 Configurable external gateway mode',
    description: 'Extension of the router abstraction for specifying whether SNAT should occur on the external gateway',
    updated: '2013-03-28T10:00:00-00:00',
  },
  {
    alias: 'extraroute',
    name: 'Neutron Extra Route',
    description: 'Extra routes configuration for L3 router',
    updated: '2013-02-01T10:00:00-00:00',
  },
  {
    alias: 'extraroute-atomic',
    name: 'Atomically add/remove extra routes',
    description: 'Edit extra routes of a router on server side by atomically adding/removing extra routes',
    updated: '2019-07-10T00:00:00+00:00',
  },
  {
    alias: 'floatingip-pools',
    name: 'Floating IP Pools Extension',
    description: 'Provides a floating IP pools API.',
    updated: '2018-03-21T10:00:00-00:00',
  },
  {
    alias: 'fip-port-details',
    name: 'Floating IP Port Details Extension',
    description: 'Add port_details attribute to Floating IP resource',
    updated: '2018-04-09T10:00:00-00:00',
  },
  {
    alias: 'floating-ip-port-forwarding',
    name: 'Floating IP Port Forwarding',
    description: 'Allow port forwarding from floating IP port to an internal port',
    updated: '2018-01-19T10:00:00-00:00',
  },
  {
    alias: 'floating-ip-port-forwarding-description',
    name: 'Floating IP Port Forwarding new attribute description',
    description: 'Add a description field to Port Forwarding rules',
    updated: '2019-11-01T10:00:00-00:00',
  },
  {
    alias: 'floating-ip-port-forwarding-port-ranges',
    name: 'Floating IP Port Forwarding support port ranges',
    description: 'Add suport to port ranges',
    updated: '2020-07-01T10:00:00-00:00',
  },
  {
    alias: 'floating-ip-port-forwarding-detail',
    name: 'Floating IP port forwarding detail',
    description: "Allow list floating ip return more port forwarding data, include'id' and 'internal_port_id'",
    updated: '2022-05-06T10:00:00-00:00',
  },
  {
    alias: 'expose-port-forwarding-in-fip',
    name: 'Expose Floating IP port forwardings',
    description: 'Expose port forwarding fields in floating IP response',
    updated: '2018-06-28T16:00:00-00:00',
  },
  {
    alias: 'auto-allocated-topology',
    name: 'Auto Allocated Topology Services',
    description: 'Auto Allocated Topology Services.',
    updated: '2016-01-01T00:00:00-00:00',
  },
];

/** dns-integration's floating IP attributes (set on create only), when the core family serves DNS. */
function dnsAttrs(svc: NetworkService) {
  if (!svc.extensions.some((e) => e.alias === 'dns-integration')) return;
  svc.extend('floatingips', {
    attrs: {
      dns_name: { post: true, default: '', validate: (v, n) => toDnsName(v, n, false) },
      dns_domain: { post: true, default: '', validate: (v, n) => toDnsName(v, n, true) },
    },
  });
}

export const l3Family: Family = {
  define(svc) {
    svc.define(routersSpec(svc));
    svc.define(floatingIpsSpec(svc));
    svc.define(portForwardingsSpec(svc));
    svc.declareExtension(...EXTENSIONS);
  },

  extend(svc) {
    dnsAttrs(svc);
    const flush = async (_e: string, _v: unknown, ctx: NetworkContext) => {
      await flushAfterCommit(svc, ctx);
    };

    svc.extend('ports', {
      // ML2's delete_port: the floating IPs of the port are disassociated, its port forwardings go.
      async beforeDelete(port, ctx, tx) {
        const routers = [...(await disassociatePort(tx, port.id)), ...(await removePortForwardings(tx, port.id))];
        if (routers.length) afterCommit(ctx, () => svc.notifier.routersUpdated([...new Set(routers)]));
      },
      // pf_plugin's port AFTER_UPDATE: forwardings to an address the port no longer has go.
      async afterUpdate(port, _existing, changes, ctx, tx) {
        if (!('fixed_ips' in changes)) return;
        const routers = await removePortForwardings(
          tx,
          port.id,
          (port.fixed_ips ?? []).map((f: { ip_address: string }) => f.ip_address),
        );
        if (routers.length) afterCommit(ctx, () => svc.notifier.routersUpdated(routers));
      },
      committed: flush,
    });

    svc.extend('networks', {
      // external_net_db's BEFORE_DELETE: the network's unassociated floating IPs are deleted first.
      async checkDelete(network, ctx) {
        await svc.transaction(async (tx) => {
          const fips = await tx
            .selectFrom('floatingips')
            .select('id')
            .where('floating_network_id', '=', network.id)
            .where('fixed_port_id', 'is', null)
            .where('router_id', 'is', null)
            .execute();
          const api = svc.resource('floatingips');
          for (const f of fips) await api.remove(await api.loadInTx(f.id, elevated(ctx), tx), elevated(ctx), tx);
        });
        await flushAfterCommit(svc, ctx);
      },
      committed: flush,
    });
  },

  routes(app, svc) {
    routerRoutes(app, svc);
    floatingIpPoolRoutes(app, svc);
    autoAllocateRoutes(app, svc);
  },
};
