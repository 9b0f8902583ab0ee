// The network proxies (nova.api.openstack.compute.networks and tenant_networks), up to 2.35:
// the networks the caller sees in the network service, in nova-network's old view (the id and
// the name as label, every other field None); creating, deleting and associating answer 410
// as they do since nova-network went. The server actions addFixedIp / removeFixedIp (multinic,
// up to 2.43) add or take a fixed IP on the server's port in that network. os-fixed-ips,
// os-fping and os-virtual-interfaces went with nova-network: 410.
import type { Network } from '../../core/clients/network.ts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ComputeService } from '../service.ts';
import { authorize, conflict, isAdmin, notFound, validateBody } from './common.ts';
import { MAX_PROXY, neutron, unexpected, upTo, visibleServer } from './neutron_proxy.ts';
import { MAX_ACTION, checkIp } from './floating_ips.ts';
import { refreshNetworkInfo } from './server_actions.ts';

const FIELDS = [
  'id',
  'cidr',
  'netmask',
  'gateway',
  'broadcast',
  'dns1',
  'dns2',
  'cidr_v6',
  'gateway_v6',
  'label',
  'netmask_v6',
];
const ADMIN_FIELDS = [
  'created_at',
  'updated_at',
  'deleted_at',
  'deleted',
  'injected',
  'bridge',
  'vlan',
  'vpn_public_address',
  'vpn_public_port',
  'vpn_private_address',
  'dhcp_start',
  'project_id',
  'host',
  'bridge_interface',
  'multi_host',
  'priority',
  'rxtx_base',
  'mtu',
  'dhcp_server',
  'enable_dhcp',
  'share_address',
];

/** networks.network_dict: two fields of thirty are left since nova-network went. */
function networkDict(req: FastifyRequest, n: Network) {
  const out: Record<string, unknown> = {};
  for (const f of isAdmin(req) ? [...FIELDS, ...ADMIN_FIELDS] : FIELDS)
    out[f] = f === 'id' ? n.id : f === 'label' ? n.name : null;
  return out;
}

/** tenant_networks.network_dict ("cidr" is the string 'None', as Nova has answered since Neutron). */
const tenantNetworkDict = (n: Network) => ({ id: n.id ?? null, cidr: 'None', label: n.name ?? null });

const ADD_FIXED_SCHEMA = {
  type: 'object',
  properties: {
    addFixedIp: {
      type: 'object',
      properties: { networkId: { type: ['string', 'number'], minLength: 1, maxLength: 36 } },
      required: ['networkId'],
      additionalProperties: false,
    },
  },
  required: ['addFixedIp'],
  additionalProperties: false,
};
const REMOVE_FIXED_SCHEMA = {
  type: 'object',
  properties: {
    removeFixedIp: {
      type: 'object',
      properties: { address: { type: 'string' } },
      required: ['address'],
      additionalProperties: false,
    },
  },
  required: ['removeFixedIp'],
  additionalProperties: false,
};

export type NetworkParams = { Params: { id: string } };
type P = NetworkParams;

const target = (req: FastifyRequest) => ({ project_id: req.ctx?.projectId ?? null });
const list = async (svc: ComputeService, req: FastifyRequest) => {
  const r = await neutron(svc, req)('GET', '/v2.0/networks');
  if (r.status !== 200) throw unexpected(r, 'listing networks');
  return r.body.networks as Network[];
};
const show = async (svc: ComputeService, req: FastifyRequest, id: string) => {
  const r = await neutron(svc, req)('GET', `/v2.0/networks/${encodeURIComponent(id)}`);
  if (r.status === 404 || r.status === 400) throw notFound('Network not found');
  if (r.status !== 200) throw unexpected(r, `GET network ${id}`);
  return r.body.network;
};

export async function listNetworks(svc: ComputeService, req: FastifyRequest) {
  upTo(req, MAX_PROXY);
  authorize(req, 'os_compute_api:os-networks:list', target(req));
  return { networks: (await list(svc, req)).map((n) => networkDict(req, n)) };
}
export async function showNetwork(svc: ComputeService, req: FastifyRequest<P>) {
  upTo(req, MAX_PROXY);
  authorize(req, 'os_compute_api:os-networks:show', target(req));
  return { network: networkDict(req, await show(svc, req, req.params.id)) };
}

export async function listTenantNetworks(svc: ComputeService, req: FastifyRequest) {
  upTo(req, MAX_PROXY);
  authorize(req, 'os_compute_api:os-tenant-networks:list', target(req));
  return { networks: (await list(svc, req)).map(tenantNetworkDict) };
}
export async function showTenantNetwork(svc: ComputeService, req: FastifyRequest<P>) {
  upTo(req, MAX_PROXY);
  authorize(req, 'os_compute_api:os-tenant-networks:show', target(req));
  return { network: tenantNetworkDict(await show(svc, req, req.params.id)) };
}

// ---- multinic (up to 2.43) ----
// Nova casts these to the compute host and answers 202 whatever happens there; the fake
// driver has no guest network to reconfigure, so the ports are changed here and the info
// cache refreshed before the answer.
const locked = (req: FastifyRequest, locked: boolean, uuid: string) => {
  if (locked && !isAdmin(req)) throw conflict(`Instance ${uuid} is locked`);
};

export async function addFixedIp(svc: ComputeService, req: FastifyRequest, reply: FastifyReply, id: string) {
  upTo(req, MAX_ACTION);
  const networkId = String(
    validateBody<{ addFixedIp: { networkId: string | number } }>(req, ADD_FIXED_SCHEMA).addFixedIp.networkId,
  );
  const inst = await visibleServer(svc, req, id);
  authorize(req, 'os_compute_api:os-multinic:add', { project_id: inst.project_id });
  locked(req, inst.locked, inst.uuid);
  const net = svc.parts.clients.network;
  // A fixed IP from the network's first subnet that takes it, on the server's port in that network.
  const subnets = await net.listSubnets({ network_id: networkId });
  const owner = `compute:${inst.availability_zone ?? 'nova'}`;
  const ports = await net.listPorts({ device_id: inst.uuid, device_owner: owner, network_id: networkId });
  let done = false;
  outer: for (const p of ports.body?.ports ?? []) {
    for (const s of subnets.body?.subnets ?? []) {
      const r = await net.updatePort(p.id, { fixed_ips: [...p.fixed_ips, { subnet_id: s.id }] });
      if (r.status === 200) {
        done = true;
        break outer;
      }
    }
  }
  if (!done)
    svc.ctx.log.info(
      { instance: inst.uuid, network: networkId },
      `Network could not be found for instance ${inst.uuid}.`,
    );
  else
    await refreshNetworkInfo(svc, inst.uuid).catch((err) =>
      svc.ctx.log.warn({ err, instance: inst.uuid }, 'info cache refresh failed'),
    );
  return reply.code(202).send();
}

export async function removeFixedIp(svc: ComputeService, req: FastifyRequest, reply: FastifyReply, id: string) {
  upTo(req, MAX_ACTION);
  const address = validateBody<{ removeFixedIp: { address: string } }>(req, REMOVE_FIXED_SCHEMA).removeFixedIp.address;
  checkIp('address', address);
  const inst = await visibleServer(svc, req, id);
  authorize(req, 'os_compute_api:os-multinic:remove', { project_id: inst.project_id });
  locked(req, inst.locked, inst.uuid);
  const net = svc.parts.clients.network;
  const owner = `compute:${inst.availability_zone ?? 'nova'}`;
  const ports = await net.listPorts({ device_id: inst.uuid, device_owner: owner });
  const port = (ports.body?.ports ?? []).find((p) => (p.fixed_ips ?? []).some((f) => f.ip_address === address));
  if (port) {
    const r = await net.request('PUT', `/v2.0/ports/${port.id}`, {
      port: { fixed_ips: port.fixed_ips.filter((f) => f.ip_address !== address) },
    });
    if (r.status !== 200)
      svc.ctx.log.info({ instance: inst.uuid, port: port.id, status: r.status }, 'removing a fixed IP failed');
    await refreshNetworkInfo(svc, inst.uuid).catch((err) =>
      svc.ctx.log.warn({ err, instance: inst.uuid }, 'info cache refresh failed'),
    );
  } else svc.ctx.log.info({ instance: inst.uuid }, `Instance ${inst.uuid} does not have fixed IP '${address}'.`);
  return reply.code(202).send();
}
