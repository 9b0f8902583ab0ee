// Block storage's API as mounted: Cinder's body parsing and fault on a malformed body, the
// microversion negotiated for every request (`OpenStack-API-Version: volume 3.x`, read by mv()),
// the version documents at / and /v3, and the route table (routes.ts) under /v3/{project_id}
// (and, since 3.67, /v3 without the project).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import { negotiateMicroversion } from '../../core/http.ts';
import { setBodyParsers } from '../../core/body_parsers.ts';
import type { BlockStorageService } from '../service.ts';
import { registerRoutes } from './routes.ts';

export const MIN_VERSION = '3.0';
export const MAX_VERSION = '3.70';

function versionEntry(base: string) {
  return {
    id: 'v3.0',
    status: 'CURRENT',
    version: MAX_VERSION,
    min_version: MIN_VERSION,
    updated: '2022-08-31T00:00:00Z',
    links: [
      { rel: 'describedby', type: 'text/html', href: 'https://docs.openstack.org/' },
      { rel: 'self', href: `${base}/v3/` },
    ],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.volume+json;version=3' }],
  };
}

export async function registerApi(app: FastifyInstance, svc: BlockStorageService) {
  setBodyParsers(app, { json: '*', malformed: () => new ApiError(400, 'Malformed request body') });
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const url = req.routeOptions.url ?? '';
    if (url === '/' || url === '/v3' || url === '') return;
    req.volumeVersion = negotiateMicroversion(req, reply, {
      service: 'volume',
      min: MIN_VERSION,
      max: MAX_VERSION,
      errors: {
        invalid: (asked) => new ApiError(400, `Invalid API version request string ${asked}.`),
        unacceptable: (asked) =>
          new ApiError(
            406,
            `Version ${asked} is not supported by the API. Minimum is ${MIN_VERSION} and maximum is ${MAX_VERSION}.`,
          ),
      },
    });
  });
  app.get('/', { config: { auth: false } }, async (req, reply) => {
    reply.code(300);
    return { versions: [versionEntry(req.baseUrl)] };
  });
  app.get('/v3', { config: { auth: false } }, async (req) => ({ versions: [versionEntry(req.baseUrl)] }));
  await app.register(
    async (v3) => {
      registerRoutes(v3, svc);
    },
    { prefix: '/v3' },
  );
}
