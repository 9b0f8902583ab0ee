// Placement's microversions (placement/microversion.py): the range served and how a request's
// version is read from OpenStack-API-Version.
import type { FastifyRequest } from 'fastify';
import { Microversion } from '../../core/http.ts';
import { ApiError } from '../../core/errors.ts';

export const MIN_VERSION = '1.0';
export const MAX_VERSION = '1.39';

declare module 'fastify' {
  interface FastifyRequest {
    placementVersion?: Microversion;
  }
}

export const mv = (req: FastifyRequest): Microversion => req.placementVersion!;

/** The request's microversion, as microversion_parse extracts it (400 unparsable, 406 unknown). */
export function negotiate(req: FastifyRequest): Microversion {
  let asked: string | undefined;
  const header = req.headers['openstack-api-version'];
  for (const h of Array.isArray(header) ? header : header ? [header] : []) {
    for (const part of h.split(',')) {
      const [svc, ver] = part.trim().split(/\s+/, 2);
      if (svc?.toLowerCase() === 'placement' && ver) asked = ver;
    }
  }
  let s = asked ?? MIN_VERSION;
  if (s === 'latest') s = MAX_VERSION;
  const m = /^\s*(\d+)\s*\.\s*(\d+)\s*$/.exec(s);
  if (!m) throw new ApiError(400, `Invalid microversion: invalid version string: ${s}`);
  const v = new Microversion(Number(m[1]), Number(m[2]));
  if (v.major !== 1 || v.cmp(MIN_VERSION) < 0 || v.cmp(MAX_VERSION) > 0)
    throw new ApiError(406, `Invalid microversion: Unacceptable version header: ${s}`);
  return v;
}
