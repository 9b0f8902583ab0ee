// Placement's microversions (placement/microversion.py): the range served and the request's
// version (negotiated by core's negotiateMicroversion with placement's options: api/routes.ts).
import type { FastifyRequest } from 'fastify';
import { Microversion } from '../../core/http.ts';

export const MIN_VERSION = '1.0';
export const MAX_VERSION = '1.39';

declare module 'fastify' {
  interface FastifyRequest {
    placementVersion?: Microversion;
  }
}

export const mv = (req: FastifyRequest): Microversion => req.placementVersion!;
