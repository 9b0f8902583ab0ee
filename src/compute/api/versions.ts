// Compute's API as mounted: Nova's JSON body parsing and fault on a malformed body, the
// microversion negotiated for every request (req.computeVersion, read by mv()), the version
// documents at /, /v2 and /v2.1, and compute's route table (routes.ts) under /v2.1.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { jsonBodyParser, negotiateMicroversion, type Microversion } from '../../core/http.ts';
import { ApiError } from '../../core/errors.ts';
import type { ComputeService } from '../service.ts';
import { registerRoutes } from './routes.ts';

export const MIN_VERSION = '2.1';
export const MAX_VERSION = '2.93';

declare module 'fastify' {
  interface FastifyRequest {
    computeVersion?: Microversion;
  }
}

/** Nova's version documents (nova.api.openstack.compute.versions). */
const VERSIONS = {
  'v2.0': {
    id: 'v2.0',
    status: 'SUPPORTED',
    version: '',
    min_version: '',
    updated: '2011-01-21T11:33:21Z',
    type: 'application/vnd.openstack.compute+json;version=2',
  },
  'v2.1': {
    id: 'v2.1',
    status: 'CURRENT',
    version: MAX_VERSION,
    min_version: MIN_VERSION,
    updated: '2013-07-23T11:33:21Z',
    type: 'application/vnd.openstack.compute+json;version=2.1',
  },
};
function versionDoc(base: string, id: 'v2.0' | 'v2.1') {
  const v = VERSIONS[id];
  return {
    version: {
      id: v.id,
      status: v.status,
      version: v.version,
      min_version: v.min_version,
      updated: v.updated,
      links: [
        { rel: 'self', href: `${base}/${id === 'v2.0' ? 'v2' : 'v2.1'}/` },
        { rel: 'describedby', type: 'text/html', href: 'http://docs.openstack.org/' },
      ],
      'media-types': [{ base: 'application/json', type: v.type }],
    },
  };
}

export async function registerApi(app: FastifyInstance, svc: ComputeService) {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    '*',
    { parseAs: 'string' },
    jsonBodyParser(() => new ApiError(400, 'Malformed request body')),
  );
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    // Nova answers its request id under both names.
    reply.header('x-compute-request-id', req.id);
    const url = req.routeOptions.url ?? '';
    if (url === '/' || url === '/v2' || url === '/v2.1' || url === '') return;
    try {
      req.computeVersion = negotiateMicroversion(req, reply, {
        service: 'compute',
        legacyHeader: 'x-openstack-nova-api-version',
        min: MIN_VERSION,
        max: MAX_VERSION,
      });
    } catch (e) {
      if (e instanceof ApiError && e.status === 400) {
        const h = String(
          req.headers['openstack-api-version'] ?? req.headers['x-openstack-nova-api-version'] ?? '',
        ).replace(/^\s*compute\s+/i, '');
        throw new ApiError(400, `API Version String ${h} is of invalid format. Must be of format MajorNum.MinorNum.`);
      }
      throw e;
    }
  });
  app.get('/', { config: { auth: false } }, async (req) => ({
    versions: (['v2.0', 'v2.1'] as const).map((id) => {
      const v = VERSIONS[id];
      return {
        id: v.id,
        status: v.status,
        version: v.version,
        min_version: v.min_version,
        updated: v.updated,
        links: [{ rel: 'self', href: `${req.baseUrl}/${id === 'v2.0' ? 'v2' : 'v2.1'}/` }],
      };
    }),
  }));
  app.get('/v2.1', { config: { auth: false } }, async (req) => versionDoc(req.baseUrl, 'v2.1'));
  app.get('/v2', { config: { auth: false } }, async (req) => versionDoc(req.baseUrl, 'v2.0'));
  await app.register(
    async (v21) => {
      registerRoutes(v21, svc);
    },
    { prefix: '/v2.1' },
  );
}
