// The test helpers' admin API, outside every service: /stratus/faults (fault injection) when
// `devstack.faultApi` is on, /stratus/reset and /stratus/snapshot/{save,load} when
// `devstack.reset` is on. Admin only; errors in Keystone's body shape.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ApiError, STATUS_TITLES } from '../core/errors.ts';
import type { TokenValidator } from '../core/auth.ts';
import type { Health } from '../core/health.ts';
import { type FaultInjector, type FaultRule, requireAdmin } from './faults.ts';
import { type CloudState, StateError } from './state.ts';

export interface AdminApiOptions {
  validator: TokenValidator;
  /** Serve /stratus/faults (off: 404). */
  faults?: FaultInjector;
  /** Serve /stratus/reset and /stratus/snapshot (off: 404). */
  state?: CloudState;
  health: Health;
}

function sendError(reply: FastifyReply, e: unknown) {
  const err =
    e instanceof ApiError
      ? e
      : new ApiError(500, 'An unexpected error prevented the server from fulfilling your request.');
  return reply
    .code(err.status)
    .type('application/json')
    .send({ error: { code: err.status, title: STATUS_TITLES[err.status] ?? 'Error', message: err.message } });
}

export function registerAdminApi(app: FastifyInstance, o: AdminApiOptions) {
  const { faults, state } = o;
  if (!faults && !state) return;
  app.register(
    async (scope) => {
      scope.setErrorHandler((err, _req, reply) => {
        const e = err as { statusCode?: number; message?: string };
        const status = e.statusCode;
        if (err instanceof StateError) return sendError(reply, new ApiError(400, err.message));
        return sendError(
          reply,
          err instanceof ApiError
            ? err
            : status && status < 500
              ? new ApiError(status, e.message ?? 'Bad request')
              : err,
        );
      });
      scope.addHook('onRequest', async (req) => requireAdmin(req, o.validator));
      if (state) registerStateRoutes(scope, state);
      if (!faults) return;
      scope.get('/faults', async () => ({ faults: faults.list() }));
      scope.post('/faults', async (req, reply) => {
        const body = req.body as { fault?: FaultRule } | undefined;
        if (!body || typeof body !== 'object' || !body.fault || typeof body.fault !== 'object')
          throw new ApiError(400, "Expecting to find 'fault' in the request body.");
        return reply.code(201).send({ fault: faults.add(body.fault) });
      });
      scope.delete('/faults', async (_req, reply) => {
        faults.clear();
        return reply.code(204).send();
      });
      scope.delete('/faults/:id', async (req, reply) => {
        const id = Number((req.params as { id: string }).id);
        if (!faults.remove(id)) throw new ApiError(404, `No fault rule ${(req.params as { id: string }).id}.`);
        return reply.code(204).send();
      });
    },
    { prefix: '/stratus' },
  );
}

/** POST /stratus/reset, /stratus/snapshot/save and /stratus/snapshot/load ({"file": path on the cloud's host}). */
function registerStateRoutes(scope: FastifyInstance, state: CloudState) {
  // One state operation at a time.
  let busy: Promise<unknown> = Promise.resolve();
  const serial = <T>(f: () => Promise<T>): Promise<T> => {
    const p = busy.then(f, f);
    busy = p.catch(() => {});
    return p;
  };
  const fileOf = (body: unknown): string => {
    const f = (body as { file?: unknown } | undefined)?.file;
    if (typeof f !== 'string' || !f) throw new ApiError(400, "Expecting a 'file' (a path on the cloud's host).");
    return f;
  };
  scope.post('/reset', async () => {
    const t0 = performance.now();
    await serial(() => state.restore());
    return { reset: { ms: Math.round(performance.now() - t0) } };
  });
  scope.post('/snapshot/save', async (req) => {
    const file = fileOf(req.body);
    const t0 = performance.now();
    const r = await serial(() => state.save(file));
    return { snapshot: { file, bytes: r.bytes, ms: Math.round(performance.now() - t0) } };
  });
  scope.post('/snapshot/load', async (req) => {
    const file = fileOf(req.body);
    const t0 = performance.now();
    await serial(() => state.load(file));
    return { snapshot: { file, ms: Math.round(performance.now() - t0) } };
  });
}
