// The server's text console (nova.api.openstack.compute.console_output): POST
// /servers/{id}/action {"os-getConsoleOutput": {"length": N}} asks the server's compute agent,
// which asks its virt driver, for the console log; `length` keeps the last N lines. And its
// diagnostics (server_diagnostics): GET /servers/{id}/diagnostics, the driver's legacy flat
// counters before 2.48, the standard form since.
import type { FastifyRequest } from 'fastify';
import type { ComputeService } from '../service.ts';
import { ApiError } from '../../core/errors.ts';
import { authorize, conflict, isAdmin, notFound, validateBody } from './common.ts';
import { computeRpc, type ConsoleAnswer } from '../rpcapi.ts';
import type { GuestDiagnostics } from '../drivers/virt.ts';
import { mv } from './common.ts';

const CONSOLE_OUTPUT_SCHEMA = {
  type: 'object',
  properties: {
    'os-getConsoleOutput': {
      type: 'object',
      // -1 (and null) mean the whole log.
      properties: { length: { type: ['integer', 'string', 'null'], pattern: '^-?[0-9]+$', minimum: -1 } },
      additionalProperties: false,
    },
  },
  required: ['os-getConsoleOutput'],
  additionalProperties: false,
};

/** What the agent answers to get_console_output. */

/** The last `length` lines of `log` (Nova's _tail_log: 0 is nothing, -1 or none is all). */
export function tailLog(log: string, length: number | null): string {
  if (length === null || length < 0) return log;
  if (length === 0) return '';
  return log.split('\n').slice(-length).join('\n');
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

export async function showDiagnostics(svc: ComputeService, req: FastifyRequest<{ Params: { id: string } }>) {
  const { store } = svc.parts;
  const inst = await store.get(req.params.id);
  if (!inst || (!isAdmin(req) && inst.project_id !== req.ctx?.projectId)) {
    req.authorized = true;
    throw notFound(`Instance ${req.params.id} could not be found.`);
  }
  authorize(req, 'os_compute_api:os-server-diagnostics', { project_id: inst.project_id });
  if (!inst.host)
    throw conflict(`Cannot 'get_diagnostics' instance ${inst.uuid} while it is in vm_state ${inst.vm_state}`);
  let answer: { ok: true; diagnostics: GuestDiagnostics } | { ok: false; code: number; message: string };
  try {
    answer = await computeRpc(svc.ctx.bus).call(inst.host, { timeoutMs: 30_000 }).get_diagnostics({ uuid: inst.uuid });
  } catch {
    throw conflict(`Instance ${inst.uuid} is not ready`);
  }
  if (!answer.ok) {
    if (answer.code === 501) throw new ApiError(501, 'Feature not supported.');
    throw answer.code === 404 ? notFound(answer.message) : conflict(answer.message);
  }
  const d = answer.diagnostics;
  if (!mv(req).gte('2.48')) return legacyDiagnostics(d);
  return { ...d, num_cpus: d.cpu_details.length, num_nics: d.nic_details.length, num_disks: d.disk_details.length };
}

/** POST /servers/{id}/action os-getConsoleOutput: the tail of the guest's console log from its agent. */
export async function getConsoleOutput(svc: ComputeService, req: FastifyRequest, id: string) {
  const body = validateBody<{ 'os-getConsoleOutput': { length?: number | string | null } }>(req, CONSOLE_OUTPUT_SCHEMA)[
    'os-getConsoleOutput'
  ];
  const { store } = svc.parts;
  const inst = await store.get(id);
  if (!inst || (!isAdmin(req) && inst.project_id !== req.ctx?.projectId))
    throw notFound(`Instance ${id} could not be found.`);
  authorize(req, 'os_compute_api:os-console-output', { project_id: inst.project_id });
  if (!inst.host) throw conflict(`Instance ${inst.uuid} is not ready`);
  const length = body.length === undefined || body.length === null ? null : Number(body.length);
  let answer: ConsoleAnswer;
  try {
    answer = await computeRpc(svc.ctx.bus)
      .call(inst.host, { timeoutMs: 30_000 })
      .get_console_output({ uuid: inst.uuid });
  } catch (e) {
    throw new ApiError(409, `Instance ${inst.uuid} is not ready`);
  }
  if (!answer.ok) {
    if (answer.code === 501) throw new ApiError(501, 'Feature not supported.');
    throw answer.code === 404 ? notFound(answer.message) : conflict(answer.message);
  }
  // Characters XML could not carry are taken out, as Nova still does.
  return { output: tailLog(answer.output, length).replace(/[\x00-\x08\x0B-\x1F]/g, '') };
}
