// Conntrack helpers of routers (`l3-conntrack-helper`, neutron/services/conntrack_helper, Zed):
// /v2.0/routers/{id}/conntrack_helpers, a (protocol, port, helper) a router's traffic goes
// through a kernel helper for; the helper must be an allowed one for its protocol (neutron's
// allowed_conntrack_helpers default), the same triple once per router. Routers show theirs.
import { ApiError } from '../../core/errors.ts';
import type { NetworkService } from '../service.ts';
import { badRequest, pyRepr } from './l3_common.ts';
import { badInput, toInt, toString } from './validate.ts';
import { pyStr } from '../../core/python.ts';
import type { Tx } from './resource.ts';
import type { ConntrackHelperResource, RouterResource } from './types.ts';

const PROTOCOLS = ['dccp', 'icmp', 'ipv6-icmp', 'sctp', 'tcp', 'udp'];
/** neutron's allowed_conntrack_helpers default: helper -> protocols. */
const ALLOWED: Record<string, string[]> = {
  amanda: ['tcp'],
  ftp: ['tcp'],
  h323: ['udp', 'tcp'],
  irc: ['tcp'],
  'netbios-ns': ['udp'],
  pptp: ['tcp'],
  sane: ['tcp'],
  sip: ['udp', 'tcp'],
  snmp: ['udp'],
  tftp: ['udp'],
};

const notFound = (id: string) =>
  new ApiError(404, `Conntrack Helper ${id} could not be found.`, 'ConntrackHelperNotFound');

function protocol(v: unknown, name: string): string {
  const s = typeof v === 'string' ? v.toLowerCase() : v;
  if (typeof s !== 'string' || !PROTOCOLS.includes(s))
    throw badInput(name, `'${pyStr(v)}' is not in dict_keys(${pyRepr(PROTOCOLS)})`);
  return s;
}

function checkAllowed(v: ConntrackHelperResource) {
  const protos = ALLOWED[v.helper];
  if (!protos) throw new ApiError(400, `Conntrack Helper ${v.helper} is not allowed.`, 'ConntrackHelperNotAllowed');
  if (!protos.includes(v.protocol))
    throw new ApiError(
      400,
      `Conntrack Helper ${v.helper} does not support: ${v.protocol}. Supported protocols are: ${protos.join(', ')}`,
      'InvalidProtocolForHelper',
    );
}

async function checkDuplicate(tx: Tx, v: ConntrackHelperResource, exceptId?: string) {
  let q = tx
    .selectFrom('conntrack_helpers')
    .select('id')
    .where('router_id', '=', v.router_id)
    .where('protocol', '=', v.protocol)
    .where('port', '=', v.port)
    .where('helper', '=', v.helper);
  if (exceptId) q = q.where('id', '!=', exceptId);
  if (await q.executeTakeFirst()) {
    const params = `{'router_id': '${v.router_id}', 'protocol': '${v.protocol}', 'port': ${v.port}, 'helper': '${v.helper}'}`;
    throw badRequest(
      'conntrack_helper',
      `A duplicate conntrack helper entry with same attributes already exists, conflicting values are ${params}`,
    );
  }
}

export function defineConntrackHelpers(svc: NetworkService) {
  svc.define({
    singular: 'conntrack_helper',
    plural: 'conntrack_helpers',
    policyName: 'router_conntrack_helper',
    table: 'conntrack_helpers',
    owned: false,
    standard: false,
    tags: false,
    notFound,
    parent: {
      param: 'router_id',
      column: 'router_id',
      async load(ctx, id) {
        const router = await svc.resource('routers').find(ctx, id, 'get');
        return {
          'ext_parent:tenant_id': router.project_id,
          ext_parent_id: router.id,
          project_id: router.project_id,
          tenant_id: router.project_id,
        };
      },
    },
    attrs: {
      project_id: { column: false, post: true, visible: false, filter: false, validate: (v, n) => toString(v, n, 255) },
      tenant_id: { column: false, post: true, visible: false, filter: false, validate: (v, n) => toString(v, n, 255) },
      router_id: { visible: false, filter: false },
      protocol: { post: true, put: true, required: true, validate: protocol },
      port: { type: 'integer', post: true, put: true, required: true, validate: (v, n) => toInt(v, n, 1, 65535) },
      helper: {
        post: true,
        put: true,
        required: true,
        validate: (v, n) => toString(typeof v === 'number' ? String(v) : v, n, 64),
      },
    },
    async beforeCreate(values, _req, tx) {
      delete values.project_id;
      delete values.tenant_id;
      checkAllowed(values);
      await checkDuplicate(tx, values);
    },
    async beforeUpdate(existing, changes, _req, tx) {
      const merged = { ...existing, ...changes };
      checkAllowed(merged);
      await checkDuplicate(tx, merged, existing.id);
    },
  });
  svc.declareExtension(
    {
      alias: 'l3-conntrack-helper',
      name: 'L3 Conntrack helper',
      description: 'Allow adding CT target rules for conntrack helper',
      updated: '2019-04-04T10:00:00-00:00',
    },
    {
      alias: 'expose-l3-conntrack-helper',
      name: 'Expose CT target rules for conntrack helper',
      description: 'Expose allow adding CT target rules for conntrack helper',
      updated: '2019-04-04T10:00:00-00:00',
    },
  );
}

/** Routers show their helpers as {protocol, port, helper}. */
export function extendRoutersForConntrackHelpers(svc: NetworkService) {
  svc.extend('routers', {
    attrs: { conntrack_helpers: { column: false, filter: false } },
    async expand(views, _req, tx) {
      const ids = views.map((v) => v.id);
      const by = new Map<string, RouterResource['conntrack_helpers']>();
      for (let i = 0; i < ids.length; i += 500) {
        const rows = await tx
          .selectFrom('conntrack_helpers')
          .select(['router_id', 'protocol', 'port', 'helper'])
          .where('router_id', 'in', ids.slice(i, i + 500))
          .orderBy('id')
          .execute();
        for (const r of rows)
          by.set(r.router_id, [
            ...(by.get(r.router_id) ?? []),
            { protocol: r.protocol, port: Number(r.port), helper: r.helper },
          ]);
      }
      for (const v of views) v.conntrack_helpers = by.get(v.id) ?? [];
    },
  });
}
