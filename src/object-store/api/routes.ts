// The Swift v1 API's route table: /v1/{account}[/{container}[/{object}]] by method, with each
// route's auth mode, and /info, /healthcheck, /crossdomain.xml. The handlers are in account.ts,
// container.ts and object.ts (Swift's proxy controllers).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import type { ObjectStoreService } from '../service.ts';
import { loadAccountAcls, unauthorizedError } from '../acl.ts';
import { deleteAccount, getAccount, headAccount, postAccount, putAccount } from './account.ts';
import { deleteContainer, getContainer, headContainer, postContainer, putContainer } from './container.ts';
import { copyObject, deleteObject, getObject, headObject, postObject, putObject } from './object.ts';
import { drain, type Params } from './common.ts';
import { swiftRequest } from './request.ts';
import { sendSwift } from './object.ts';

type Handler = (s: ObjectStoreService, req: FastifyRequest, reply: FastifyReply) => unknown;
type Level = 'account' | 'container' | 'object';
type Method = 'HEAD' | 'GET' | 'PUT' | 'POST' | 'DELETE' | 'COPY';

interface V1Route {
  method: Method;
  level: Level;
  /**
   * true: a valid token is required; 'optional': a token is validated when one is sent, and the
   * handler decides (public containers, temp URLs, form posts, static web, as keystoneauth defers
   * to tempurl, formpost and staticweb).
   */
  auth: true | 'optional';
  handler: Handler;
}

/** The Swift v1 route table. */
export const V1_ROUTES: V1Route[] = [
  { method: 'HEAD', level: 'account', auth: 'optional', handler: headAccount },
  { method: 'GET', level: 'account', auth: 'optional', handler: getAccount },
  { method: 'PUT', level: 'account', auth: 'optional', handler: putAccount },
  { method: 'POST', level: 'account', auth: 'optional', handler: postAccount },
  { method: 'DELETE', level: 'account', auth: 'optional', handler: deleteAccount },
  { method: 'HEAD', level: 'container', auth: 'optional', handler: headContainer },
  { method: 'GET', level: 'container', auth: 'optional', handler: getContainer },
  { method: 'PUT', level: 'container', auth: 'optional', handler: putContainer },
  { method: 'POST', level: 'container', auth: 'optional', handler: postContainer },
  { method: 'DELETE', level: 'container', auth: 'optional', handler: deleteContainer },
  { method: 'HEAD', level: 'object', auth: 'optional', handler: headObject },
  { method: 'GET', level: 'object', auth: 'optional', handler: getObject },
  { method: 'PUT', level: 'object', auth: 'optional', handler: putObject },
  { method: 'POST', level: 'object', auth: 'optional', handler: postObject },
  { method: 'DELETE', level: 'object', auth: 'optional', handler: deleteObject },
  { method: 'COPY', level: 'object', auth: 'optional', handler: copyObject },
];

const LEVELS: Level[] = ['account', 'container', 'object'];

/**
 * Splits /v1/{account}[/{container}[/{object}]] from the raw URL: one wildcard route per method
 * (router parameters are capped at 100 characters, container names may have 256 and object
 * names 1024), each piece percent-decoded on its own.
 */
function parseV1(req: FastifyRequest): { level: Level; params: Params } | null {
  const raw = req.url.split('?')[0]!;
  const i = raw.indexOf('/v1/');
  if (i < 0) return null;
  const rest = raw.slice(i + 4);
  const dec = (x: string) => {
    try {
      return decodeURIComponent(x);
    } catch {
      throw new ApiError(412, 'Invalid UTF8 or contains NULL');
    }
  };
  const a = rest.indexOf('/');
  if (a < 0) return rest ? { level: 'account', params: { account: dec(rest) } } : null;
  const account = dec(rest.slice(0, a));
  const after = rest.slice(a + 1);
  const b = after.indexOf('/');
  if (b < 0)
    return after
      ? { level: 'container', params: { account, container: dec(after) } }
      : { level: 'account', params: { account } };
  const container = dec(after.slice(0, b));
  const object = dec(after.slice(b + 1));
  if (!object) return { level: 'container', params: { account, container } };
  if (object.includes('\0')) throw new ApiError(412, 'Invalid UTF8 or contains NULL');
  return { level: 'object', params: { account, container, '*': object } };
}

export function registerRoutes(app: FastifyInstance, s: ObjectStoreService) {
  // One wildcard route per method (see parseV1); its auth mode is the loosest of the method's routes,
  // and each route's own mode is enforced once the path says which route it is.
  const table = new Map(V1_ROUTES.map((r) => [`${r.method} ${r.level}`, r]));
  for (const method of ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'COPY'] as const) {
    const modes = LEVELS.map((l) => table.get(`${method} ${l}`)?.auth);
    app.route({
      method,
      url: '/v1/*',
      config: { auth: modes.includes('optional') ? 'optional' : true },
      handler: async (req, reply) => {
        const parsed = parseV1(req);
        if (!parsed) throw new ApiError(404, 'The resource could not be found.');
        req.params = parsed.params;
        const route = table.get(`${method} ${parsed.level}`);
        if (!route) {
          drain(req);
          throw new ApiError(405, 'Method Not Allowed');
        }
        if (route.auth === true && !req.ctx) {
          drain(req);
          throw unauthorizedError();
        }
        // Containers and objects of a deleted account are gone at once; the account reaper removes them.
        if (parsed.level !== 'account' && s.deletedAccounts.has(parsed.params.account)) {
          drain(req);
          throw new ApiError(404, 'The resource could not be found.');
        }
        await loadAccountAcls(swiftRequest(req), s.store, parsed.params.account);
        return route.handler(s, req, reply);
      },
    });
  }
  app.route({
    method: 'OPTIONS',
    url: '/v1/*',
    config: { auth: false },
    handler: async (req, reply) => {
      const parsed = parseV1(req);
      if (!parsed || parsed.level === 'account') throw new ApiError(404, 'The resource could not be found.');
      req.params = parsed.params;
      return sendSwift(s, req, reply, await s.web.preflight(swiftRequest(req)));
    },
  });

  app.get('/healthcheck', { config: { auth: false } }, async (_req, reply) => {
    reply.type('text/plain; charset=UTF-8').send('OK');
  });
  app.get('/crossdomain.xml', { config: { auth: false } }, async (_req, reply) => {
    reply
      .type('application/xml; charset=UTF-8')
      .send(
        '<?xml version="1.0"?>\n<!DOCTYPE cross-domain-policy SYSTEM "http://www.adobe.com/xml/dtds/cross-domain-policy.dtd" >\n<cross-domain-policy>\n' +
          s.crossdomainPolicy +
          '\n</cross-domain-policy>',
      );
  });
  app.get('/info', { config: { auth: false } }, async (_req, reply) => {
    reply.type('application/json; charset=utf-8');
    return s.capabilities();
  });
}
