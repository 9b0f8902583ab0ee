// GET / : the version document, unauthenticated, as placement's root handler answers it.
import type { FastifyInstance } from 'fastify';
import { MAX_VERSION, MIN_VERSION } from './microversion.ts';
import { cacheHeaders } from './util.ts';
import type { PlacementService } from '../service.ts';

export function registerRootRoutes(app: FastifyInstance, _svc: PlacementService) {
  app.get('/', { config: { auth: false } }, async (req, reply) => {
    cacheHeaders(req, reply);
    return {
      versions: [
        {
          id: `v${MIN_VERSION}`,
          max_version: MAX_VERSION,
          min_version: MIN_VERSION,
          status: 'CURRENT',
          links: [{ rel: 'self', href: '' }],
        },
      ],
    };
  });
}
