// Remote consoles (nova.api.openstack.compute.remote_consoles, console_auth_tokens,
// server_topology): POST /servers/{id}/remote-consoles (2.6+) and the legacy actions
// os-getVNCConsole / os-getSPICEConsole / os-getRDPConsole / os-getSerialConsole (2.1-2.5) ask the
// server's compute agent for a console URL with a fresh token; GET /os-console-auth-tokens/{token}
// is what a console proxy asks with it (admins); GET /servers/{id}/topology (2.78) the guest's NUMA
// topology. The proxies themselves come with a real hypervisor: the fake driver's consoles point
// at fake hosts, as Nova's fake driver's do.
import type { FastifyRequest } from 'fastify';
import type { Family, ComputeService } from '../service.ts';
import { consoleAuthTokenMigrations } from '../db/migrations/remote_consoles.ts';
import { ApiError } from '../../core/errors.ts';
import { allowed, authorize, badRequest, conflict, mv, notFound, validateBody } from './common.ts';
import { getServer } from './servers.ts';
import type { Instance } from '../instances.ts';
import type { ConsoleProtocol } from '../drivers/virt.ts';
import { tokenHash } from '../agent/consoles.ts';
import { computeRpc, type RemoteConsoleAnswer } from '../rpcapi.ts';

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

/** compute.api.get_*_console: the instance must have a host and not be deleting or migrating. */
async function consoleUrl(
  svc: ComputeService,
  inst: Instance,
  protocol: ConsoleProtocol,
  consoleType: string,
  method: string,
): Promise<string> {
  if (!inst.host) throw conflict(`Instance ${inst.uuid} is not ready`);
  if (inst.task_state === 'deleting' || inst.task_state === 'migrating') {
    throw conflict(`Cannot '${method}' instance ${inst.uuid} while it is in task_state ${inst.task_state}`);
  }
  let answer: RemoteConsoleAnswer;
  try {
    answer = await computeRpc(svc.ctx.bus)
      .call(inst.host, { timeoutMs: 30_000 })
      .get_remote_console({ uuid: inst.uuid, protocol, console_type: consoleType });
  } catch {
    throw conflict(`Instance ${inst.uuid} is not ready`);
  }
  if (!answer.ok) {
    if (answer.code === 501) throw new ApiError(501, 'Feature not supported.');
    throw new ApiError(answer.code, answer.message);
  }
  return answer.url;
}

export const remoteConsolesFamily: Family = {
  name: 'remote_consoles',
  migrations: consoleAuthTokenMigrations,
};

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
  const url = await consoleUrl(svc, inst, body.protocol, body.type, `get_${body.protocol}_console`);
  return { remote_console: { protocol: body.protocol, type: body.type, url } };
}

export async function showConsoleAuthToken(svc: ComputeService, req: FastifyRequest<{ Params: { token: string } }>) {
  authorize(req, 'os_compute_api:os-console-auth-tokens');
  const token = req.params.token;
  if (!token) throw badRequest('token not provided');
  const row = await svc.db
    .selectFrom('console_auth_tokens')
    .selectAll()
    .where('token_hash', '=', tokenHash(token))
    .where('expires', '>', Math.floor(Date.now() / 1000))
    .executeTakeFirst();
  const inst = row ? await svc.parts.store.get(row.instance_uuid) : null;
  if (!row || !inst || inst.deleted) throw notFound('Token not found');
  // Before 2.31 only RDP tokens could be read here.
  if (!mv(req).gte('2.31') && row.console_type !== 'rdp-html5')
    throw new ApiError(401, 'The requested console type details are not accessible');
  return {
    console: {
      instance_uuid: row.instance_uuid,
      host: row.host,
      port: Number(row.port),
      internal_access_path: row.internal_access_path,
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
  const url = await consoleUrl(svc, inst, protocol, type, `get_${protocol}_console`);
  return { console: { type, url } };
}
