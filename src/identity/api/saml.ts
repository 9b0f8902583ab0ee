// SAML2 (keystone/api/auth.py's saml2 resources and os_federation.py's metadata): Keystone as an
// identity provider for Keystone-to-Keystone — a signed assertion of a project-scoped token for a
// service provider, bare or ECP-wrapped, and the IdP's metadata — and, on the service provider
// side, the ECP endpoint and the browser SSO (HTTP-POST binding) assertion consumer a Shibboleth
// front would serve (federation/manager.ts consumeEcp).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { badRequest } from '../../core/errors.ts';
import { SAML_SESSION_COOKIE } from '../federation/manager.ts';
import type { IdentityService } from '../service.ts';

interface SamlAuthBody {
  auth?: {
    identity?: { methods?: unknown; token?: { id?: unknown } };
    scope?: { service_provider?: { id?: unknown } };
  };
}

export function samlHandlers(s: IdentityService) {
  async function assertion(req: FastifyRequest, reply: FastifyReply, ecp: boolean) {
    const auth = (req.body as SamlAuthBody | undefined)?.auth;
    const tokenId = auth?.identity?.token?.id;
    const spId = auth?.scope?.service_provider?.id;
    const methods = auth?.identity?.methods;
    if (!Array.isArray(methods) || !methods.includes('token') || typeof tokenId !== 'string' || !tokenId)
      throw badRequest('Expecting to find token in auth.identity: the token method is required.', 'ValidationError');
    if (typeof spId !== 'string' || !spId)
      throw badRequest('Expecting to find service_provider in auth.scope.', 'ValidationError');
    const token = await s.tokens.validate(tokenId);
    const xml = await s.federation.samlAssertion(token, spId, req.baseUrl, ecp);
    reply.code(200).header('content-type', 'text/xml').send(xml);
  }
  return {
    /** POST /v3/auth/OS-FEDERATION/saml2 */
    createSaml2: (req: FastifyRequest, reply: FastifyReply) => assertion(req, reply, false),
    /** POST /v3/auth/OS-FEDERATION/saml2/ecp */
    createEcp: (req: FastifyRequest, reply: FastifyReply) => assertion(req, reply, true),
    /** GET /v3/OS-FEDERATION/saml2/metadata */
    async metadata(req: FastifyRequest, reply: FastifyReply) {
      reply.code(200).header('content-type', 'text/xml').send(s.federation.idpMetadata(req.baseUrl));
    },
    /**
     * POST /Shibboleth.sso/SAML2/ECP (a service provider's ECP endpoint, as Shibboleth's): a verified
     * assertion opens a session (cookie) and redirects to the federated auth URL, which the client
     * (keystoneauth's k2k plugin) then requests with the cookie.
     */
    async consumeEcp(req: FastifyRequest, reply: FastifyReply) {
      const body = typeof req.body === 'string' ? req.body : '';
      if (!body) throw badRequest('Expecting an ECP (PAOS) SOAP envelope with a SAML response.', 'ValidationError');
      const session = await s.federation.consumeEcp(body, req.baseUrl);
      reply
        .code(302)
        .header('set-cookie', `${SAML_SESSION_COOKIE}=${session}; Path=/; HttpOnly; Max-Age=300`)
        .header('location', `${req.baseUrl}/v3/auth/tokens`)
        .send();
    },
    /**
     * POST /Shibboleth.sso/SAML2/POST (a service provider's assertion consumer for SAML2's browser
     * SSO, HTTP-POST binding, as Shibboleth's): the identity provider's page posts the form fields
     * SAMLResponse (a base64 samlp:Response) and RelayState (where the browser was going, e.g. the
     * WebSSO URL); the assertion is checked as for ECP, opens the same session (cookie) and the
     * browser is sent back to RelayState when that is a URL of this cloud's identity service.
     */
    async consumePost(req: FastifyRequest, reply: FastifyReply) {
      const form = new URLSearchParams(typeof req.body === 'string' ? req.body : '');
      const response = form.get('SAMLResponse');
      if (!response)
        throw badRequest('Expecting a SAMLResponse form field (the SAML2 HTTP-POST binding).', 'ValidationError');
      const xml = Buffer.from(response, 'base64').toString('utf8');
      const session = await s.federation.consumeEcp(xml, req.baseUrl);
      reply
        .code(302)
        .header('set-cookie', `${SAML_SESSION_COOKIE}=${session}; Path=/; HttpOnly; Max-Age=300`)
        .header('location', relayTarget(form.get('RelayState'), req.baseUrl))
        .send();
    },
  };
}

/** Where a browser SSO response sends the browser: RelayState when it is under this identity service (no open redirect). */
export function relayTarget(relay: string | null, baseUrl: string): string {
  const fallback = `${baseUrl}/v3/auth/tokens`;
  if (!relay) return fallback;
  let url: URL;
  try {
    url = new URL(relay, `${baseUrl}/`);
  } catch {
    return fallback;
  }
  const base = new URL(`${baseUrl}/`);
  if (url.origin !== base.origin || !url.pathname.startsWith(base.pathname)) return fallback;
  return url.href;
}
