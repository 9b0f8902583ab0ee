// The HTTP request of an OAuth1-signed call as the signature covers it (identity/oauth1.ts checks
// it): the handlers of POST /v3/auth/tokens and OS-OAUTH1 make it, so nothing below api/ sees the
// HTTP request.
import type { FastifyRequest } from 'fastify';
import type { SignedRequest } from '../oauth1.ts';

/** The request as the signature covers it (the URL without the service prefix's proxying). */
export function authHttpRequest(req: FastifyRequest): SignedRequest {
  const [path, qs] = req.url.slice(req.service?.prefix.length ?? 0).split('?', 2) as [string, string | undefined];
  return {
    method: req.method,
    urls: [`${req.baseUrl}${path}`],
    headers: req.headers,
    query: qs ? [...new URLSearchParams(qs)] : [],
  };
}
