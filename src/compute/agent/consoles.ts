// Remote consoles on the compute agent (nova.compute.manager get_vnc_console and its siblings):
// the driver says where the guest's console listens, the agent writes a console auth token for
// it (kept hashed, valid consoleTokenTtl seconds) and answers the URL the user opens at the proxy.
import { createHash, randomUUID } from 'node:crypto';
import type { ComputeAgent } from './compute.ts';
import type { RpcHandlers } from '../../core/rpc.ts';
import type { ComputeConsoleRpc, RemoteConsoleAnswer } from '../rpcapi.ts';
import { VmState } from '../instances.ts';
import type { ConsoleProtocol } from '../drivers/virt.ts';
import { VirtError } from '../drivers/virt.ts';

/** The console types each protocol serves (the proxy's client). */
export const CONSOLE_TYPES: Record<ConsoleProtocol, string[]> = {
  vnc: ['novnc'],
  spice: ['spice-html5'],
  rdp: ['rdp-html5'],
  serial: ['serial'],
  mks: ['webmks'],
};

export const tokenHash = (token: string) => createHash('sha256').update(token).digest('hex');

/** ConsoleAuthToken.access_url: noVNC takes the token inside its `path` parameter (noVNC >= 1.1). */
function accessUrl(base: string, consoleType: string, token: string): string {
  if (consoleType === 'novnc') return `${base}?${new URLSearchParams({ path: `?token=${token}` })}`;
  return `${base}?token=${token}`;
}

export function consoleHandlers(agent: ComputeAgent): RpcHandlers<ComputeConsoleRpc> {
  return {
    get_remote_console: async (a: {
      uuid: string;
      protocol: ConsoleProtocol;
      console_type: string;
    }): Promise<RemoteConsoleAnswer> => {
      const inst = await agent.store.get(a.uuid);
      if (!inst) return { ok: false, code: 404, message: `Instance ${a.uuid} could not be found.` };
      const base = agent.o.consoles[a.protocol];
      if (!base) return { ok: false, code: 400, message: `Unavailable console type ${a.console_type}.` };
      if (!CONSOLE_TYPES[a.protocol].includes(a.console_type))
        return { ok: false, code: 400, message: `Invalid console type ${a.console_type}` };
      if (!agent.driver.remoteConsole) return { ok: false, code: 501, message: 'Feature not supported.' };
      let endpoint;
      try {
        endpoint = await agent.driver.remoteConsole(inst, a.protocol);
      } catch (e) {
        if (!(e instanceof VirtError)) throw e;
        // A guest still being built has no console yet.
        if (inst.vm_state === VmState.BUILDING)
          return { ok: false, code: 409, message: `Instance ${inst.uuid} is not ready` };
        return { ok: false, code: 404, message: e.message };
      }
      const token = randomUUID();
      const nowS = Math.floor(Date.now() / 1000);
      await agent.db.deleteFrom('console_auth_tokens').where('expires', '<=', nowS).execute();
      await agent.db
        .insertInto('console_auth_tokens')
        .values({
          token_hash: tokenHash(token),
          console_type: a.console_type,
          host: endpoint.host,
          port: endpoint.port,
          internal_access_path: endpoint.internal_access_path,
          instance_uuid: inst.uuid,
          access_url_base: base,
          expires: nowS + agent.o.consoleTokenTtl,
          created_at: new Date().toISOString(),
        })
        .execute();
      return { ok: true, url: accessUrl(base, a.console_type, token) };
    },
  };
}
