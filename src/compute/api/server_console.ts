// The server's text console (nova.api.openstack.compute.console_output): POST
// /servers/{id}/action {"os-getConsoleOutput": {"length": N}} asks the server's compute agent,
// which asks its virt driver, for the console log; `length` keeps the last N lines.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ComputeService } from '../service.ts';
import { ApiError } from '../../core/errors.ts';
import { authorize, conflict, isAdmin, notFound, validateBody } from './common.ts';
import { serverParts } from './servers.ts';

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
export type ConsoleAnswer = { ok: true; output: string } | { ok: false; code: 404 | 409 | 501; message: string };

/** The last `length` lines of `log` (Nova's _tail_log: 0 is nothing, -1 or none is all). */
export function tailLog(log: string, length: number | null): string {
  if (length === null || length < 0) return log;
  if (length === 0) return '';
  return log.split('\n').slice(-length).join('\n');
}

export function registerServerConsole(_app: FastifyInstance, svc: ComputeService) {
  svc.parts.set('action:os-getConsoleOutput', async (req: FastifyRequest, _reply: FastifyReply, id: string) => {
    const body = validateBody<any>(req, CONSOLE_OUTPUT_SCHEMA)['os-getConsoleOutput'];
    const { store } = serverParts(svc);
    const inst = await store.get(id);
    if (!inst || (!isAdmin(req) && inst.project_id !== req.ctx?.projectId)) throw notFound(`Instance ${id} could not be found.`);
    authorize(req, 'os_compute_api:os-console-output', { project_id: inst.project_id });
    if (!inst.host) throw conflict(`Instance ${inst.uuid} is not ready`);
    const length = body.length === undefined || body.length === null ? null : Number(body.length);
    let answer: ConsoleAnswer;
    try {
      answer = await svc.ctx.bus.call<ConsoleAnswer>(`compute.${inst.host}`, 'get_console_output', { uuid: inst.uuid }, {}, 30_000);
    } catch (e) {
      throw new ApiError(409, `Instance ${inst.uuid} is not ready`);
    }
    if (!answer.ok) {
      if (answer.code === 501) throw new ApiError(501, 'Feature not supported.');
      throw answer.code === 404 ? notFound(answer.message) : conflict(answer.message);
    }
    // Characters XML could not carry are taken out, as Nova still does.
    return { output: tailLog(answer.output, length).replace(/[\x00-\x08\x0B-\x1F]/g, '') };
  });
}
