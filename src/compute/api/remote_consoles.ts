import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Family, ComputeService } from '../service.ts';
import { consoleAuthTokenMigrations } from '../db/migrations/remote_consoles.ts';
import { ApiError } from '../../core/errors.ts';
import { allowed, authorize, badRequest, conflict, mv, notFound, validateBody } from './common.ts';
import { getServer, serverParts } from './servers.ts';
import type { Instance } from '../instances.ts';
import type { ConsoleProtocol } from '../drivers/virt.ts';
import { tokenHash, type RemoteConsoleAnswer } from '../agent/consoles.ts';

const LEGACY: Record<string, { protocol: ConsoleProtocol; types: string[] }> = {
  'os-getVNCConsole': { protocol: 'vnc', types: ['novnc', 'xvpvnc'] },
  'os-getSPICEConsole': { protocol: 'spice', types: ['spice-html5'] },
  'os-getRDPConsole': { protocol: 'rdp', types: ['rdp-html5'] },
  'os-getSerialConsole': { protocol: 'serial', types: ['serial'] },
};

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
    answer = await svc.ctx.bus.call<RemoteConsoleAnswer>(
      `compute.${inst.host}`,
      'get_remote_console',
      { uuid: inst.uuid, protocol, console_type: consoleType },
      {},
      30_000,
    );
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
  routes(app: FastifyInstance, svc: ComputeService) {
    const visible = (req: FastifyRequest, id: string): Promise<Instance> => getServer(svc, req, id);

    app.post<{ Params: { id: string } }>('/servers/:id/remote-consoles', async (req) => {
      const v = mv(req);
      if (!v.gte('2.6')) {
        req.authorized = true;
        throw notFound('The resource could not be found.');
      }
      const body = validateBody<any>(req, createSchema(v)).remote_console;
      const inst = await visible(req, req.params.id);
      authorize(req, 'os_compute_api:os-remote-consoles', { project_id: inst.project_id });
      const url = await consoleUrl(svc, inst, body.protocol, body.type, `get_${body.protocol}_console`);
      return { remote_console: { protocol: body.protocol, type: body.type, url } };
    });

    for (const [action, { protocol, types }] of Object.entries(LEGACY)) {
      svc.parts.set(`action:${action}`, async (req: FastifyRequest, _reply: FastifyReply, id: string) => {
        if (mv(req).gte('2.6')) {
          req.authorized = true;
          throw notFound('The resource could not be found.');
        }
        const type = validateBody<any>(req, legacySchema(action, types))[action].type as string;
        authorize(req, 'os_compute_api:os-remote-consoles');
        const inst = await visible(req, id);
        const url = await consoleUrl(svc, inst, protocol, type, `get_${protocol}_console`);
        return { console: { type, url } };
      });
    }

    app.get<{ Params: { token: string } }>('/os-console-auth-tokens/:token', async (req) => {
      authorize(req, 'os_compute_api:os-console-auth-tokens');
      const token = req.params.token;
      if (!token) throw badRequest('token not provided');
      const row = await svc.db
        .selectFrom('console_auth_tokens')
        .selectAll()
        .where('token_hash', '=', tokenHash(token))
        .where('expires', '>', Math.floor(Date.now() / 1000))
        .executeTakeFirst();
      const inst = row ? await serverParts(svc).store.get(row.instance_uuid) : null;
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
    });

    app.get<{ Params: { id: string } }>('/servers/:id/topology', async (req) => {
      if (!mv(req).gte('2.78')) {
        req.authorized = true;
        throw notFound('The resource could not be found.');
      }
      const inst = await visible(req, req.params.id);
      authorize(req, 'compute:server:topology:index', { project_id: inst.project_id });
      allowed(req, 'compute:server:topology:host:index', { project_id: inst.project_id });
      // No driver gives guests a NUMA topology yet: Nova's answer for a guest without one.
      return { nodes: [], pagesize_kb: null };
    });
  },
};
