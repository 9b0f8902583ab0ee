// Remote consoles (nova.api.openstack.compute.remote_consoles, console_auth_tokens,
// server_topology): POST /servers/{id}/remote-consoles (2.6+) and the legacy actions
// os-getVNCConsole / os-getSPICEConsole / os-getRDPConsole / os-getSerialConsole (2.1-2.5) ask the
// server's compute agent for a console URL with a fresh token; GET /os-console-auth-tokens/{token}
// is what a console proxy asks with it (admins); GET /servers/{id}/topology (2.78) the guest's NUMA
// topology. The proxies themselves come with a real hypervisor: the fake driver's consoles point
// at fake hosts, as Nova's fake driver's do.
import type { FastifyRequest } from 'fastify';
import type { ComputeService } from '../service.ts';
import { ApiError } from '../../core/errors.ts';
import { allowed, authorize, badRequest, mv, notFound, validateBody } from './common.ts';
import { getServer } from './servers.ts';
import type { ConsoleProtocol } from '../drivers/virt.ts';
import { consoleByToken, consoleUrl } from '../consoles.ts';

const LEGACY = {
  'os-getVNCConsole': { protocol: 'vnc', types: ['novnc', 'xvpvnc'] },
  'os-getSPICEConsole': { protocol: 'spice', types: ['spice-html5'] },
  'os-getRDPConsole': { protocol: 'rdp', types: ['rdp-html5'] },
  'os-getSerialConsole': { protocol: 'serial', types: ['serial'] },
} satisfies Record<string, { protocol: ConsoleProtocol; types: string[] }>;
export type LegacyConsoleAction = keyof typeof LEGACY;

function createSchema(v: { gte(x: string): boolean }) {
  const protocols = ['vnc', 'spice', 'rdp', 'serial', ...(v.gte('2.8') ? ['mks'] : [])];
  const types = ['novnc', 'xvpvnc', 'rdp-html5', 'spice-html5', 'serial', ...(v.gte('2.8') ? ['webmks'] : [])];
  return {
    type: 'object',
    properties: {
      remote_console: {
        type: 'object',
        properties: { protocol: { enum: protocols }, type: { enum: types } },
        required: ['protocol', 'type'],
        additionalProperties: false,
      },
    },
    required: ['remote_console'],
    additionalProperties: false,
  };
}

const legacySchema = (action: string, types: string[]) => ({
  type: 'object',
  properties: {
    [action]: {
      type: 'object',
      properties: { type: { enum: types } },
      required: ['type'],
      additionalProperties: false,
    },
  },
  required: [action],
  additionalProperties: false,
});

export async function createRemoteConsole(svc: ComputeService, req: FastifyRequest<{ Params: { id: string } }>) {
  const v = mv(req);
  if (!v.gte('2.6')) {
    req.authorized = true;
    throw notFound('The resource could not be found.');
  }
  const body = validateBody<{ remote_console: { protocol: ConsoleProtocol; type: string } }>(
    req,
    createSchema(v),
  ).remote_console;
  const inst = await getServer(svc, req, req.params.id);
  authorize(req, 'os_compute_api:os-remote-consoles', { project_id: inst.project_id });
  const url = await consoleUrl(svc, inst, body.protocol, body.type);
  return { remote_console: { protocol: body.protocol, type: body.type, url } };
}

export async function showConsoleAuthToken(svc: ComputeService, req: FastifyRequest<{ Params: { token: string } }>) {
  authorize(req, 'os_compute_api:os-console-auth-tokens');
  const token = req.params.token;
  if (!token) throw badRequest('token not provided');
  const c = await consoleByToken(svc, token);
  if (!c) throw notFound('Token not found');
  // Before 2.31 only RDP tokens could be read here.
  if (!mv(req).gte('2.31') && c.console_type !== 'rdp-html5')
    throw new ApiError(401, 'The requested console type details are not accessible');
  return {
    console: {
      instance_uuid: c.instance_uuid,
      host: c.host,
      port: c.port,
      internal_access_path: c.internal_access_path,
    },
  };
}

export async function showServerTopology(svc: ComputeService, req: FastifyRequest<{ Params: { id: string } }>) {
  if (!mv(req).gte('2.78')) {
    req.authorized = true;
    throw notFound('The resource could not be found.');
  }
  const inst = await getServer(svc, req, req.params.id);
  authorize(req, 'compute:server:topology:index', { project_id: inst.project_id });
  allowed(req, 'compute:server:topology:host:index', { project_id: inst.project_id });
  // No driver gives guests a NUMA topology yet: Nova's answer for a guest without one.
  return { nodes: [], pagesize_kb: null };
}

/**
 * The legacy console actions (os-getVNCConsole, os-getSPICEConsole, os-getRDPConsole,
 * os-getSerialConsole; gone from 2.6, when POST /servers/{id}/remote-consoles took over).
 */
export async function legacyConsole(svc: ComputeService, req: FastifyRequest, id: string, action: LegacyConsoleAction) {
  const { protocol, types } = LEGACY[action];
  if (mv(req).gte('2.6')) {
    req.authorized = true;
    throw notFound('The resource could not be found.');
  }
  const type = validateBody<Record<string, { type: string }>>(req, legacySchema(action, types))[action]!.type;
  authorize(req, 'os_compute_api:os-remote-consoles');
  const inst = await getServer(svc, req, id);
  const url = await consoleUrl(svc, inst, protocol, type);
  return { console: { type, url } };
}
