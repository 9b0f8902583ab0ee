// The one place the object store turns the HTTP request into the SwiftRequest its middlewares
// take (../request.ts); memoised on the request so that state they keep (loaded account ACLs)
// lives as long as the request.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SwiftRequest, SwiftResponse } from '../request.ts';
import type { ObjectStoreService } from '../service.ts';

declare module 'fastify' {
  interface FastifyRequest {
    swift?: SwiftRequest;
  }
}

export function swiftRequest(req: FastifyRequest): SwiftRequest {
  let r = req.swift;
  if (!r) {
    const p = (req.params ?? {}) as Record<string, string | undefined>;
    r = req.swift = {
      method: req.method,
      url: req.url,
      headers: req.headers,
      query: (req.query ?? {}) as Record<string, string | undefined>,
      account: p.account ?? '',
      container: p.container ?? '',
      object: p['*'] ?? '',
      context: req.context,
      servicePrefix: req.service?.prefix ?? '',
      body: req.body,
    };
  }
  return r;
}

/** Writes what a middleware answered. */
export async function sendSwift(
  s: ObjectStoreService,
  req: FastifyRequest,
  reply: FastifyReply,
  r: SwiftResponse,
): Promise<FastifyReply> {
  if (r.serve) {
    await s.large.serve(req, reply, r.serve, req.method === 'HEAD');
    return reply;
  }
  reply.code(r.status);
  for (const [k, v] of Object.entries(r.headers ?? {})) reply.header(k, v);
  if (r.type) reply.type(r.type);
  if (r.stream) return reply.send(await s.large.open(r.stream));
  return reply.send(r.body);
}
