// Placement's request helpers (placement/util.py): JSON body and query validation with jsonschema's
// messages (core/validate.ts, in placement's frames), cache headers.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { jsonschemaDetail, validate } from '../../core/validate.ts';
import { perr } from './errors.ts';
import { mv } from './microversion.ts';
/** Data validated against a JSON schema: 400 "JSON does not validate" otherwise. */
export function validateJson<T = unknown>(data: unknown, schema: object): T {
  return validate<T>(data, schema, (e) => perr(400, `JSON does not validate: ${jsonschemaDetail(e)}`));
}

/** The request body validated against a JSON schema. */
export function jsonBody<T = unknown>(req: FastifyRequest, schema: object): T {
  if (req.body === undefined) throw perr(400, 'Malformed JSON: Expecting value: line 1 column 1 (char 0)');
  if (typeof req.body === 'string') throw perr(400, 'Malformed JSON: the body is not JSON');
  return validateJson<T>(req.body, schema);
}

/** Query parameters validated against a JSON schema (each value a string; the last one wins). */
export function queryParams(req: FastifyRequest, schema: object): Record<string, string> {
  return validate(flatQuery(req), schema, (e) => perr(400, `Invalid query string parameters: ${jsonschemaDetail(e)}`));
}

/** Every value of every query parameter, in order. */
export function queryAll(req: FastifyRequest): URLSearchParams {
  const i = req.url.indexOf('?');
  return new URLSearchParams(i < 0 ? '' : req.url.slice(i + 1));
}
function flatQuery(req: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of queryAll(req)) out[k] = v;
  return out;
}

/** Sets Placement's cache headers (1.15+): Last-Modified and Cache-Control: no-cache. */
export function cacheHeaders(req: FastifyRequest, reply: FastifyReply, lastModified?: string | null) {
  if (!mv(req).gte('1.15')) return;
  reply.header('cache-control', 'no-cache');
  reply.header('last-modified', new Date(lastModified ?? Date.now()).toUTCString());
}
