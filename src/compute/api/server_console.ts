// The server's text console (nova.api.openstack.compute.console_output): POST
// /servers/{id}/action {"os-getConsoleOutput": {"length": N}} asks the server's compute agent,
// which asks its virt driver, for the console log; `length` keeps the last N lines. And its
// diagnostics (server_diagnostics): GET /servers/{id}/diagnostics, the driver's legacy flat
// counters before 2.48, the standard form since.
import type { FastifyRequest } from 'fastify';
import type { ComputeService } from '../service.ts';
import { authorize, isAdmin, mv, notFound, validateBody } from './common.ts';
import { consoleOutput, diagnostics, legacyDiagnostics } from '../consoles.ts';

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

export async function showDiagnostics(svc: ComputeService, req: FastifyRequest<{ Params: { id: string } }>) {
  const { store } = svc.parts;
  const inst = await store.get(req.params.id);
  if (!inst || (!isAdmin(req) && inst.project_id !== req.ctx?.projectId)) {
    req.authorized = true;
    throw notFound(`Instance ${req.params.id} could not be found.`);
  }
  authorize(req, 'os_compute_api:os-server-diagnostics', { project_id: inst.project_id });
  const d = await diagnostics(svc, inst);
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
  const length = body.length === undefined || body.length === null ? null : Number(body.length);
  return { output: await consoleOutput(svc, inst, length) };
}
