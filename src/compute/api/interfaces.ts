// Port interfaces of a server (nova.api.openstack.compute.attach_interfaces):
// /servers/{id}/os-interface lists the server's ports and shows one (with the caller's token),
// attaches a port or a new port on a network (with a fixed IP; `tag` from 2.49, shown from
// 2.70) through the server's compute agent, which binds or makes the port, has the driver
// plug it and updates the info cache; a detach is cast to the agent (202). The request and
// the agent's steps are recorded as instance actions attach_interface / detach_interface.
import type { Port } from '../../core/clients/network.ts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import type { ComputeService } from '../service.ts';
import type { Instance } from '../instances.ts';
import { computeRpc } from '../rpcapi.ts';
import {
  authorize,
  badRequest,
  conflict,
  forbidden,
  isAdmin,
  mv,
  notFound,
  recordAction,
  validateBody,
} from './common.ts';
import { type NeutronNetwork, neutron, neutronMessage, unexpected, visibleServer } from './neutron_proxy.ts';
import { checkIp } from './floating_ips.ts';
import type { AttachAnswer, AttachRequest } from '../agent/netproxy.ts';

const POLICY = (a: string) => `os_compute_api:os-attach-interfaces:${a}`;
const UUID = { type: 'string', format: 'uuid' };
const TAG = { type: 'string', minLength: 1, maxLength: 60, pattern: '^[^,/]*$' };

function createSchema(tag: boolean) {
  const props: Record<string, unknown> = {
    net_id: UUID,
    port_id: UUID,
    fixed_ips: {
      type: 'array',
      minItems: 1,
      maxItems: 1,
      items: {
        type: 'object',
        properties: { ip_address: { type: 'string' } },
        required: ['ip_address'],
        additionalProperties: false,
      },
    },
  };
  if (tag) props.tag = TAG;
  return {
    type: 'object',
    properties: { interfaceAttachment: { type: 'object', properties: props, additionalProperties: false } },
    additionalProperties: false,
  };
}

/** _translate_interface_attachment_view; the tag (2.70) is the one given at attach (or at boot). */
function attachmentView(port: Port, inst: Instance | null, showTag: boolean) {
  const out: Record<string, unknown> = {
    net_id: port.network_id,
    port_id: port.id,
    mac_addr: port.mac_address,
    port_state: port.status,
    fixed_ips: port.fixed_ips ?? null,
  };
  if (showTag) {
    const vif = inst?.network_info.find((v) => v.port_id === port.id);
    const requested = inst?.requested_networks.find((r) => r.port_id === port.id);
    out.tag = vif?.tag ?? requested?.tag ?? null;
  }
  return out;
}

/** compute.api's check_instance_lock and check_instance_state for (de)attaching a port. */
function checkAttachable(req: FastifyRequest, inst: Instance, action: string) {
  if (inst.locked && !isAdmin(req)) throw conflict(`Instance ${inst.uuid} is locked`);
  if (!['active', 'paused', 'stopped'].includes(inst.vm_state))
    throw conflict(`Cannot '${action}' instance ${inst.uuid} while it is in vm_state ${inst.vm_state}`);
  if (inst.task_state !== null)
    throw conflict(`Cannot '${action}' instance ${inst.uuid} while it is in task_state ${inst.task_state}`);
  if (!inst.host) throw conflict(`Cannot '${action}' instance ${inst.uuid} while it is in vm_state ${inst.vm_state}`);
}

export type InterfaceParams = { Params: { id: string; port: string } };
type P = InterfaceParams;

const show = async (svc: ComputeService, req: FastifyRequest, inst: Instance, portId: string) => {
  const r = await neutron(svc, req)('GET', `/v2.0/ports/${encodeURIComponent(portId)}`);
  if (r.status === 404 || r.status === 400) throw notFound(`Port id ${portId} could not be found.`);
  if (r.status === 403) throw forbidden(neutronMessage(r));
  if (r.status !== 200) throw unexpected(r, `GET port ${portId}`);
  if (r.body.port.device_id !== inst.uuid)
    throw notFound(`Instance ${inst.uuid} does not have a port with id ${portId}`);
  return { interfaceAttachment: attachmentView(r.body.port, inst, mv(req).gte('2.70')) };
};

export async function listInterfaces(svc: ComputeService, req: FastifyRequest<P>) {
  const inst = await visibleServer(svc, req, req.params.id);
  authorize(req, POLICY('list'), { project_id: inst.project_id });
  const r = await neutron(svc, req)('GET', `/v2.0/ports?device_id=${inst.uuid}`);
  if (r.status !== 200) throw unexpected(r, "listing the server's ports");
  return { interfaceAttachments: (r.body.ports as Port[]).map((p) => attachmentView(p, inst, mv(req).gte('2.70'))) };
}

export async function showInterface(svc: ComputeService, req: FastifyRequest<P>) {
  const inst = await visibleServer(svc, req, req.params.id);
  authorize(req, POLICY('show'), { project_id: inst.project_id });
  return show(svc, req, inst, req.params.port);
}

/** The attach body as the create schema lets it through. */
interface InterfaceCreateBody {
  interfaceAttachment?: { port_id?: string; net_id?: string; fixed_ips?: Array<{ ip_address: string }>; tag?: string };
}

export async function attachInterface(svc: ComputeService, req: FastifyRequest<P>) {
  const body =
    req.body === undefined || req.body === null
      ? {}
      : validateBody<InterfaceCreateBody>(req, createSchema(mv(req).gte('2.49')));
  const att = body.interfaceAttachment ?? {};
  if (att.fixed_ips) checkIp('ip_address', att.fixed_ips[0].ip_address);
  const inst = await visibleServer(svc, req, req.params.id);
  authorize(req, POLICY('create'), { project_id: inst.project_id });
  const networkId: string | null = att.net_id ?? null;
  const portId: string | null = att.port_id ?? null;
  const requestedIp: string | null = att.fixed_ips?.[0]?.ip_address ?? null;
  if (networkId && portId) throw badRequest('Must not input both network_id and port_id');
  if (requestedIp && !networkId) throw badRequest('Must input network_id when request IP address');
  checkAttachable(req, inst, 'attach_interface');
  const { store } = svc.parts;
  await recordAction(store, req, inst.uuid, 'attach_interface');
  const call = neutron(svc, req);
  // What the caller asks for is checked with the caller's token (allocate_for_instance's validation).
  let network = networkId;
  if (portId) {
    const p = await call('GET', `/v2.0/ports/${portId}`);
    if (p.status === 404) throw notFound(`Port id ${portId} could not be found.`);
    if (p.status !== 200) throw unexpected(p, `GET port ${portId}`);
    const port = p.body.port;
    if ((port.tenant_id ?? port.project_id) !== inst.project_id)
      throw badRequest(`Port ${portId} not usable for instance ${inst.uuid}.`);
    if (port.device_id) throw conflict(`Port ${portId} is still in use.`);
    if (!(port.fixed_ips ?? []).length && port.ip_allocation !== 'deferred')
      throw badRequest(`Port ${portId} requires a FixedIP in order to be used.`);
  } else {
    let nets: NeutronNetwork[];
    if (networkId) {
      const r = await call('GET', `/v2.0/networks?id=${networkId}`);
      if (r.status !== 200) throw unexpected(r, 'listing networks');
      nets = r.body.networks;
      if (!nets.length) throw notFound(`Network ${networkId} could not be found.`);
    } else {
      const own = await call('GET', `/v2.0/networks?tenant_id=${encodeURIComponent(inst.project_id)}&shared=False`);
      const shared = await call('GET', '/v2.0/networks?shared=True');
      if (own.status !== 200 || shared.status !== 200)
        throw unexpected(own.status !== 200 ? own : shared, 'listing networks');
      nets = [...own.body.networks, ...shared.body.networks];
      if (!nets.length)
        throw badRequest(`No specific network was requested and none are available for project '${inst.project_id}'.`);
      if (nets.length > 1) throw badRequest('Multiple possible networks found, use a Network ID to be more specific.');
      network = nets[0].id;
    }
    const n = nets[0];
    if (
      n['router:external'] &&
      !n.shared &&
      !req.allowed('network:attach_external_network', { project_id: inst.project_id })
    ) {
      throw forbidden(`It is not allowed to create an interface on external network ${n.id}`);
    }
    if (!(n.subnets ?? []).length) throw badRequest(`Network ${n.id} requires a subnet in order to boot instances on.`);
  }
  const request: AttachRequest = {
    uuid: inst.uuid,
    request_id: req.id,
    network_id: portId ? null : network,
    port_id: portId,
    requested_ip: requestedIp,
    tag: att.tag ?? null,
  };
  let answer: AttachAnswer;
  try {
    answer = await computeRpc(svc.ctx.bus).call(inst.host, { timeoutMs: 300_000 }).attach_interface(request);
  } catch (e) {
    throw new ApiError(500, `Failed to attach network adapter device to ${inst.uuid}: ${(e as Error).message}`);
  }
  if (!answer.ok) throw new ApiError(answer.code, answer.message);
  return show(svc, req, (await store.get(inst.uuid)) ?? inst, answer.port_id);
}

export async function detachInterface(svc: ComputeService, req: FastifyRequest<P>, reply: FastifyReply) {
  const inst = await visibleServer(svc, req, req.params.id);
  authorize(req, POLICY('delete'), { project_id: inst.project_id });
  checkAttachable(req, inst, 'detach_interface');
  const { store } = svc.parts;
  await recordAction(store, req, inst.uuid, 'detach_interface');
  computeRpc(svc.ctx.bus).cast(inst.host).detach_interface({
    uuid: inst.uuid,
    request_id: req.id,
    port_id: req.params.port,
  });
  return reply.code(202).send();
}
