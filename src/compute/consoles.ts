// A guest's consoles and diagnostics (nova.compute.api's get_console_output, get_diagnostics,
// get_*_console and nova.objects.ConsoleAuthToken): each asks the server's compute agent over
// RPC (rpcapi.ts) and turns its answer, or its silence, into Nova's errors; a console proxy's
// token is looked up by its hash. The handlers in api/server_console.ts and
// api/remote_consoles.ts call these; nothing here sees the HTTP request.
import type { Kysely } from 'kysely';
import type { MessageBus } from '../core/bus.ts';
import type { ComputeDb } from './db/schema.ts';
import type { Instance, InstanceStore } from './instances.ts';
import type { ConsoleProtocol, GuestDiagnostics } from './drivers/virt.ts';
import { ApiError } from '../core/errors.ts';
import { tokenHash } from './agent/consoles.ts';
import { computeRpc } from './rpcapi.ts';

const notFound = (m: string) => new ApiError(404, m);
const conflict = (m: string) => new ApiError(409, m);

/** What these functions use of the compute service (ComputeService is one). */
interface ComputeService {
  db: Kysely<ComputeDb>;
  ctx: { bus: MessageBus };
  parts: { store: Pick<InstanceStore, 'get'> };
}

/** How long the API waits for the agent's answer. */
const AGENT_TIMEOUT_MS = 30_000;

type Agent = ReturnType<ReturnType<typeof computeRpc>['call']>;

/** Asks the server's compute agent; no answer in time is Nova's 409 "not ready". */
async function askAgent<T>(svc: ComputeService, inst: Instance, host: string, ask: (agent: Agent) => Promise<T>) {
  try {
    return await ask(computeRpc(svc.ctx.bus).call(host, { timeoutMs: AGENT_TIMEOUT_MS }));
  } catch {
    throw conflict(`Instance ${inst.uuid} is not ready`);
  }
}

/** An agent's failed answer as Nova's error: 501 for what the driver cannot do, else 404 or 409. */
function agentError(answer: { code: number; message: string }, keepCode = false): ApiError {
  if (answer.code === 501) return new ApiError(501, 'Feature not supported.');
  if (keepCode) return new ApiError(answer.code, answer.message);
  return answer.code === 404 ? notFound(answer.message) : conflict(answer.message);
}

/** The last `length` lines of `log` (Nova's _tail_log: 0 is nothing, -1 or none is all). */
export function tailLog(log: string, length: number | null): string {
  if (length === null || length < 0) return log;
  if (length === 0) return '';
  return log.split('\n').slice(-length).join('\n');
}

/** The tail of the guest's console log, from its agent; characters XML could not carry are taken out, as Nova still does. */
export async function consoleOutput(svc: ComputeService, inst: Instance, length: number | null): Promise<string> {
  if (!inst.host) throw conflict(`Instance ${inst.uuid} is not ready`);
  const answer = await askAgent(svc, inst, inst.host, (a) => a.get_console_output({ uuid: inst.uuid }));
  if (!answer.ok) throw agentError(answer);
  return tailLog(answer.output, length).replace(/[\x00-\x08\x0B-\x1F]/g, '');
}

/** The guest's diagnostics, from its agent. */
export async function diagnostics(svc: ComputeService, inst: Instance): Promise<GuestDiagnostics> {
  if (!inst.host)
    throw conflict(`Cannot 'get_diagnostics' instance ${inst.uuid} while it is in vm_state ${inst.vm_state}`);
  const answer = await askAgent(svc, inst, inst.host, (a) => a.get_diagnostics({ uuid: inst.uuid }));
  if (!answer.ok) throw agentError(answer);
  return answer.diagnostics;
}

/** Nova's pre-2.48 diagnostics: the driver's own flat counters (as the libvirt and fake drivers name them). */
export function legacyDiagnostics(d: GuestDiagnostics): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  d.cpu_details.forEach((c, i) => {
    out[`cpu${c.id ?? i}_time`] = c.time;
  });
  out.memory = d.memory_details.maximum;
  d.disk_details.forEach((k, i) => {
    const dev = `vd${String.fromCharCode(97 + i)}`;
    Object.assign(out, {
      [`${dev}_errors`]: k.errors_count,
      [`${dev}_read`]: k.read_bytes,
      [`${dev}_read_req`]: k.read_requests,
      [`${dev}_write`]: k.write_bytes,
      [`${dev}_write_req`]: k.write_requests,
    });
  });
  d.nic_details.forEach((n, i) => {
    const dev = `vnet${i}`;
    Object.assign(out, {
      [`${dev}_rx`]: n.rx_octets,
      [`${dev}_rx_drop`]: n.rx_drop,
      [`${dev}_rx_errors`]: n.rx_errors,
      [`${dev}_rx_packets`]: n.rx_packets,
      [`${dev}_tx`]: n.tx_octets,
      [`${dev}_tx_drop`]: n.tx_drop,
      [`${dev}_tx_errors`]: n.tx_errors,
      [`${dev}_tx_packets`]: n.tx_packets,
    });
  });
  return out;
}

/** compute.api.get_*_console: a console URL with a fresh token; the instance must have a host and not be deleting or migrating. */
export async function consoleUrl(
  svc: ComputeService,
  inst: Instance,
  protocol: ConsoleProtocol,
  consoleType: string,
): Promise<string> {
  if (!inst.host) throw conflict(`Instance ${inst.uuid} is not ready`);
  if (inst.task_state === 'deleting' || inst.task_state === 'migrating') {
    throw conflict(
      `Cannot 'get_${protocol}_console' instance ${inst.uuid} while it is in task_state ${inst.task_state}`,
    );
  }
  const answer = await askAgent(svc, inst, inst.host, (a) =>
    a.get_remote_console({ uuid: inst.uuid, protocol, console_type: consoleType }),
  );
  if (!answer.ok) throw agentError(answer, true);
  return answer.url;
}

export interface ConsoleConnection {
  instance_uuid: string;
  console_type: string;
  host: string;
  port: number;
  internal_access_path: string | null;
  /** The proxy's base URL the token was handed out with (the proxies check the Origin's scheme against it). */
  access_url_base: string | null;
}

/** What a console proxy learns from a token that has not expired, of a server that is not deleted; null otherwise. */
export async function consoleByToken(svc: ComputeService, token: string): Promise<ConsoleConnection | null> {
  const row = await svc.db
    .selectFrom('console_auth_tokens')
    .selectAll()
    .where('token_hash', '=', tokenHash(token))
    .where('expires', '>', Math.floor(Date.now() / 1000))
    .executeTakeFirst();
  const inst = row ? await svc.parts.store.get(row.instance_uuid) : null;
  if (!row || !inst || inst.deleted) return null;
  return {
    instance_uuid: row.instance_uuid,
    console_type: row.console_type,
    host: row.host,
    port: Number(row.port),
    internal_access_path: row.internal_access_path,
    access_url_base: row.access_url_base,
  };
}
