// oslo.middleware's healthcheck, as every OpenStack API serves it at /healthcheck: 200 "OK"
// while the process serves, 503 with the reason while it starts or stops (text/plain, or JSON
// {"detailed": false, "reasons": [...]} when asked). The whole cloud's readiness is the same
// answer at the root: ready once every service is mounted and the start-up steps (DevStack's
// world) are done.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export type HealthPhase = 'starting' | 'ready' | 'stopping';

export class Health {
  phase: HealthPhase = 'starting';
  /** What the start is doing now (shown in the 503's reason). */
  step = 'starting the services';

  reason(): string {
    if (this.phase === 'ready') return 'OK';
    if (this.phase === 'stopping') return 'Service is shutting down';
    return `Service is starting: ${this.step}`;
  }

  /** The healthcheck answer (GET and HEAD) for one service or the whole cloud. */
  answer(req: FastifyRequest, reply: FastifyReply, detail?: Record<string, unknown>) {
    const ok = this.phase === 'ready';
    reply.code(ok ? 200 : 503).header('cache-control', 'no-cache');
    if (req.method === 'HEAD') return reply.send();
    const accept = String(req.headers.accept ?? '');
    if (accept.includes('application/json'))
      return reply
        .type('application/json')
        .send({ detailed: detail !== undefined, reasons: [this.reason()], ...detail });
    return reply.type('text/plain; charset=UTF-8').send(this.reason());
  }

  /** GET/HEAD <prefix>/healthcheck, public (no token), outside the service's hooks. */
  register(app: FastifyInstance, prefix: string, detail?: () => Record<string, unknown>) {
    for (const method of ['GET', 'HEAD'] as const)
      app.route({
        method,
        url: `${prefix}/healthcheck`,
        handler: (req, reply) => this.answer(req, reply, detail?.()),
      });
  }
}
