// The one place the object store turns the HTTP request into the SwiftRequest its middlewares
// take (../request.ts); memoised on the request so that state they keep (loaded account ACLs)
// lives as long as the request.
import type { FastifyRequest } from 'fastify';
import type { SwiftRequest } from '../request.ts';

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
