// The floating IP proxy (nova.api.openstack.compute.floating_ips and floating_ip_pools with
// nova.network.neutron), up to 2.35: /os-floating-ips (list, show, allocate from a pool,
// release), /os-floating-ip-pools (the external networks), and the server actions
// addFloatingIp / removeFloatingIp up to 2.43. Every call goes to the network service with the
// caller's token; the server's info cache is refreshed after an association changes.
// os-floating-ips-bulk and os-floating-ip-dns went with nova-network: 410.
import type { Network, Port } from '../../core/clients/network.ts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import type { ComputeService } from '../service.ts';
import type { Instance } from '../instances.ts';
import { authorize, badRequest, conflict, forbidden, notFound, validateBody } from './common.ts';
import { isUuidLike } from '../../core/validate.ts';
import {
  MAX_PROXY,
  type NeutronFloatingIp,
  neutron,
  neutronMessage,
  neutronType,
  unexpected,
  upTo,
  visibleServer,
} from './neutron_proxy.ts';
import { refreshNetworkInfo } from './server_actions.ts';
import { isValidIp } from '../../core/netaddr.ts';

type Call = ReturnType<typeof neutron>;
const POLICY = (a: string) => `os_compute_api:os-floating-ips:${a}`;
/** Nova's last microversion with the floating IP actions (MultinicController and FloatingIPActionController too). */
export const MAX_ACTION = '2.43';

/** The pool a create without one uses (Nova's [neutron] default_floating_pool; DevStack sets `public`). */
const defaultPool = (svc: ComputeService): string => svc.options.defaultFloatingPool;

/** _translate_floating_ip_view: the pool is the network's name (or id), the server the port's device. */
function fipView(f: NeutronFloatingIp, network: Network | null | undefined) {
  return {
    id: f.id,
    ip: f.floating_ip_address,
    pool: network?.name || f.floating_network_id,
    fixed_ip: f.fixed_ip_address ?? null,
    instance_id: f.port_details ? (f.port_details.device_id ?? null) : null,
  };
}

async function network(call: Call, id: string): Promise<Network> {
  const r = await call('GET', `/v2.0/networks/${encodeURIComponent(id)}`);
  if (r.status === 404) throw notFound(`Network ${id} could not be found.`);
  if (r.status !== 200) throw unexpected(r, `GET network ${id}`);
  return r.body.network;
}

/** A floating IP by id (network_api.get_floating_ip) with its port's details (fip-port-details). */
async function fipById(call: Call, id: string): Promise<NeutronFloatingIp> {
  const r = await call('GET', `/v2.0/floatingips/${encodeURIComponent(id)}`);
  if (r.status === 404 || r.status === 400) throw notFound(`Floating IP not found for ID ${id}`);
  if (r.status !== 200) throw unexpected(r, `GET floating IP ${id}`);
  return r.body.floatingip;
}

/** A floating IP by address (_get_floating_ip_by_address); the message is the caller's to choose. */
async function fipByAddress(
  call: Call,
  address: string,
  notFoundMessage = `Floating IP not found for address ${address}.`,
): Promise<NeutronFloatingIp> {
  if (!address) throw notFound(notFoundMessage);
  const r = await call('GET', `/v2.0/floatingips?floating_ip_address=${encodeURIComponent(address)}`);
  const fips = r.status === 200 ? r.body.floatingips : r.status === 404 ? [] : null;
  if (!fips) throw unexpected(r, `listing floating IPs of ${address}`);
  if (!fips.length) throw notFound(notFoundMessage);
  if (fips.length > 1) throw conflict(`Multiple floating IPs are found for address ${address}.`);
  return fips[0];
}

/** The server a floating IP's port belongs to (get_instance_by_floating_ip_addr), if any. */
async function serverOfAddress(
  svc: ComputeService,
  req: FastifyRequest,
  call: Call,
  address: string,
): Promise<Instance | null> {
  const f = await fipByAddress(call, address);
  if (!f.port_id) return null;
  const p = await call('GET', `/v2.0/ports/${f.port_id}`);
  if (p.status !== 200 || !p.body.port.device_id) return null;
  return visibleServer(svc, req, p.body.port.device_id);
}

/** Refreshes a server's info cache, best effort (Nova's refresh_cache decorator). */
async function refresh(svc: ComputeService, uuid: string) {
  await refreshNetworkInfo(svc, uuid).catch((err) =>
    svc.ctx.log.warn({ err, instance: uuid }, 'info cache refresh failed'),
  );
}

const IP_SCHEMA = { type: 'string' };
const ADD_SCHEMA = {
  type: 'object',
  properties: {
    addFloatingIp: {
      type: 'object',
      properties: { address: IP_SCHEMA, fixed_address: IP_SCHEMA },
      required: ['address'],
      additionalProperties: false,
    },
  },
  required: ['addFloatingIp'],
  additionalProperties: false,
};
const REMOVE_SCHEMA = {
  type: 'object',
  properties: {
    removeFloatingIp: {
      type: 'object',
      properties: { address: IP_SCHEMA },
      required: ['address'],
      additionalProperties: false,
    },
  },
  required: ['removeFloatingIp'],
  additionalProperties: false,
};

/** parameter_types.ip_address: an IPv4 or IPv6 address, Nova's jsonschema message otherwise. */
export function checkIp(field: string, v: unknown) {
  if (typeof v === 'string' && isValidIp(v)) return;
  const shown = typeof v === 'string' ? `'${v}'` : String(v);
  throw badRequest(
    `Invalid input for field/attribute ${field}. Value: ${typeof v === 'string' ? v : String(v)}. ${shown} is not valid under any of the given schemas`,
  );
}

export type FloatingIpParams = { Params: { id: string } };
type P = FloatingIpParams;

const target = (req: FastifyRequest) => ({ project_id: req.ctx?.projectId ?? null });

export async function listFloatingIps(svc: ComputeService, req: FastifyRequest) {
  upTo(req, MAX_PROXY);
  authorize(req, POLICY('list'), target(req));
  const call = neutron(svc, req);
  const r = await call('GET', `/v2.0/floatingips?tenant_id=${encodeURIComponent(req.ctx!.projectId ?? '')}`);
  if (r.status === 404) return { floating_ips: [] };
  if (r.status !== 200) throw unexpected(r, 'listing floating IPs');
  const fips = r.body.floatingips;
  if (!fips.length) return { floating_ips: [] };
  const ids = [...new Set(fips.map((f) => f.floating_network_id))];
  const nets = await call('GET', `/v2.0/networks?${ids.map((id) => `id=${id}`).join('&')}`);
  const byId = new Map(((nets.body?.networks ?? []) as Network[]).map((n) => [n.id, n]));
  return { floating_ips: fips.map((f) => fipView(f, byId.get(f.floating_network_id))) };
}

export async function showFloatingIp(svc: ComputeService, req: FastifyRequest<P>) {
  upTo(req, MAX_PROXY);
  authorize(req, POLICY('show'), target(req));
  const call = neutron(svc, req);
  const f = await fipById(call, req.params.id);
  return { floating_ip: fipView(f, await network(call, f.floating_network_id)) };
}

export async function createFloatingIp(svc: ComputeService, req: FastifyRequest) {
  upTo(req, MAX_PROXY);
  authorize(req, POLICY('create'), target(req));
  const body = req.body as Record<string, unknown> | null | undefined;
  const asked = body && typeof body === 'object' && 'pool' in body ? body.pool : undefined;
  const pool = String(asked || defaultPool(svc));
  const call = neutron(svc, req);
  // The pool by id or name among the external networks.
  const q = isUuidLike(pool) ? `id=${encodeURIComponent(pool)}` : `name=${encodeURIComponent(pool)}`;
  const nets = await call('GET', `/v2.0/networks?router:external=True&${q}`);
  if (nets.status !== 200) throw unexpected(nets, 'listing external networks');
  const found = nets.body.networks as Network[];
  if (!found.length) throw notFound('Floating IP pool not found.');
  if (found.length > 1) throw new ApiError(500, `Multiple floating IP pools matches found for name '${pool}'`);
  const r = await call('POST', '/v2.0/floatingips', { floatingip: { floating_network_id: found[0].id } });
  if (r.status !== 201) {
    const type = neutronType(r);
    if (type === 'IpAddressGenerationFailure' || type === 'ExternalIpAddressExhausted')
      throw notFound(asked ? `No more floating IPs in pool ${pool}.` : 'No more floating IPs available.');
    if (type === 'OverQuota')
      throw forbidden(asked ? `IP allocation over quota in pool ${pool}.` : 'IP allocation over quota.');
    if (r.status === 400) throw badRequest(neutronMessage(r));
    throw unexpected(r, 'allocating a floating IP');
  }
  const f = await fipByAddress(call, r.body.floatingip.floating_ip_address);
  return { floating_ip: fipView(f, found[0].name ? found[0] : await network(call, f.floating_network_id)) };
}

export async function deleteFloatingIp(svc: ComputeService, req: FastifyRequest<P>, reply: FastifyReply) {
  upTo(req, MAX_PROXY);
  authorize(req, POLICY('delete'), target(req));
  const call = neutron(svc, req);
  const f = await fipById(call, req.params.id);
  const inst = await serverOfAddress(svc, req, call, f.floating_ip_address);
  const r = await call('DELETE', `/v2.0/floatingips/${f.id}`);
  if (r.status === 404) throw notFound(`Floating IP not found for address ${f.floating_ip_address}.`);
  if (r.status === 403) throw forbidden(neutronMessage(r));
  if (r.status !== 204) throw unexpected(r, `releasing floating IP ${f.id}`);
  if (inst) await refresh(svc, inst.uuid);
  return reply.code(202).send();
}

export async function listFloatingIpPools(svc: ComputeService, req: FastifyRequest) {
  upTo(req, MAX_PROXY);
  authorize(req, 'os_compute_api:os-floating-ip-pools', {});
  const r = await neutron(svc, req)('GET', '/v2.0/networks?router:external=True');
  if (r.status !== 200) throw unexpected(r, 'listing external networks');
  return { floating_ip_pools: (r.body.networks as Network[]).map((n) => ({ name: n.name || n.id })) };
}

// ---- the actions (up to 2.43) ----
export async function addFloatingIp(svc: ComputeService, req: FastifyRequest, reply: FastifyReply, id: string) {
  upTo(req, MAX_ACTION);
  const body = validateBody<{ addFloatingIp: { address: string; fixed_address?: string } }>(
    req,
    ADD_SCHEMA,
  ).addFloatingIp;
  checkIp('address', body.address);
  if (body.fixed_address !== undefined) checkIp('fixed_address', body.fixed_address);
  const inst = await visibleServer(svc, req, id);
  authorize(req, POLICY('add'), { project_id: inst.project_id });
  const address = body.address as string;
  if (!inst.network_info.length) throw badRequest('Instance network is not ready yet');
  const fixed = inst.network_info.flatMap((v) => v.fixed_ips.map((f) => f.ip_address));
  if (!fixed.length) throw badRequest('No fixed IPs associated to instance');
  let fixedAddress: string | undefined = body.fixed_address;
  if (fixedAddress !== undefined && !fixed.includes(fixedAddress))
    throw badRequest('Specified fixed address not assigned to instance');
  if (!fixedAddress) {
    fixedAddress = fixed.find((a) => isValidIp(a, 4));
    if (!fixedAddress)
      throw badRequest(
        `Unable to associate floating IP ${address} to any fixed IPs for instance ${id}. Instance has no fixed IPv4 addresses to associate.`,
      );
  }
  const call = neutron(svc, req);
  const failed = (error: string) =>
    badRequest(
      `Unable to associate floating IP ${address} to fixed IP ${fixedAddress} for instance ${id}. Error: ${error}`,
    );
  // The port holding the fixed address (_get_port_id_by_fixed_address).
  const ports = await call(
    'GET',
    `/v2.0/ports?device_id=${inst.uuid}&device_owner=${encodeURIComponent(`compute:${inst.availability_zone ?? 'nova'}`)}`,
  );
  if (ports.status !== 200) throw failed(neutronMessage(ports));
  const port = (ports.body.ports as Port[]).find((p) => (p.fixed_ips ?? []).some((f) => f.ip_address === fixedAddress));
  if (!port) throw failed(`Fixed IP not found for address ${fixedAddress}.`);
  const f = await fipByAddress(call, address, 'floating IP not found');
  const r = await call('PUT', `/v2.0/floatingips/${f.id}`, {
    floatingip: { port_id: port.id, fixed_ip_address: fixedAddress },
  });
  if (r.status === 409) throw badRequest(neutronMessage(r));
  if (r.status === 403) throw forbidden(neutronMessage(r));
  if (r.status === 404) throw notFound('floating IP not found');
  if (r.status !== 200) throw failed(neutronMessage(r));
  await refresh(svc, inst.uuid);
  // It was another server's: that server's cache forgets it (_update_inst_info_cache_for_disassociated_fip).
  if (f.port_id && f.port_id !== port.id) {
    const old = await svc.parts.clients.network.getPort(f.port_id);
    const other = old.body?.port?.device_id;
    if (other && other !== inst.uuid && (await svc.parts.store.get(other))) await refresh(svc, other);
  }
  return reply.code(202).send();
}

export async function removeFloatingIp(svc: ComputeService, req: FastifyRequest, reply: FastifyReply, id: string) {
  upTo(req, MAX_ACTION);
  const address = validateBody<{ removeFloatingIp: { address: string } }>(req, REMOVE_SCHEMA).removeFloatingIp.address;
  checkIp('address', address);
  const call = neutron(svc, req);
  req.authorized = true;
  const inst = await serverOfAddress(svc, req, call, address);
  authorize(req, POLICY('remove'), inst ? { project_id: inst.project_id } : {});
  const f = await fipByAddress(call, address, 'floating IP not found');
  if (!inst || !f.port_id || inst.uuid !== id)
    throw conflict(`Floating IP ${address} is not associated with instance ${id}.`);
  const r = await call('PUT', `/v2.0/floatingips/${f.id}`, { floatingip: { port_id: null } });
  if (r.status === 403) throw forbidden(neutronMessage(r));
  if (r.status === 404) throw notFound(`Floating IP not found for address ${address}.`);
  if (r.status !== 200) throw unexpected(r, `disassociating floating IP ${f.id}`);
  await refresh(svc, inst.uuid);
  return reply.code(202).send();
}
