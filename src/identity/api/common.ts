// Shared pieces of identity's routes: links, list envelopes, query parsing, JSON schemas.
import type { FastifyRequest } from 'fastify';
import { badRequest } from '../../core/errors.ts';
import { applyInexactFilters } from '../list_filters.ts';

export const selfLink = (req: FastifyRequest, path: string) => ({ self: `${req.baseUrl}/v3/${path}` });

/**
 * Keystone's list envelope: the collection plus self/previous/next links. The query's inexact
 * filters (`name__contains=…`, list_filters.ts) apply here, to every identity list.
 */
export function listBody(req: FastifyRequest, key: string, items: unknown[], truncated = false) {
  const body: Record<string, unknown> = {
    [key]: applyInexactFilters(key, req.query as Record<string, unknown>, items),
    links: {
      self: `${req.baseUrl}${req.url.slice(req.service?.prefix.length ?? 0).split('?')[0]}`,
      previous: null,
      next: null,
    },
  };
  if (truncated) body.truncated = true;
  return body;
}

/** Keystone's query booleans: '0', 'false', 'no', 'off' are false (case-insensitive); anything else true. */
export function queryBool(v: unknown): boolean | undefined {
  if (v === undefined) return undefined;
  if (v === '') return true;
  return !['0', 'false', 'no', 'off', 'f', 'n'].includes(String(v).toLowerCase());
}

export type Q = Record<string, string | undefined>;
export const q = (req: FastifyRequest) => req.query as Q;

// ---- JSON schemas (Keystone's parameter types) ----

export const idString = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[a-zA-Z0-9-_]+$' };
export const name64 = { type: 'string', minLength: 1, maxLength: 64, pattern: '[\\S]+' };
export const name255 = { type: 'string', minLength: 1, maxLength: 255, pattern: '[\\S]+' };
export const description = { type: ['string', 'null'] };
export const boolean = { type: 'boolean' };
export const nullableId = { type: ['string', 'null'], minLength: 1, maxLength: 64 };
export const tagName = { type: 'string', minLength: 1, maxLength: 255, pattern: '^[^,/]*$' };
export const tags = { type: 'array', items: tagName, maxItems: 80, uniqueItems: true };

/** A body schema {<key>: {...}} that requires the wrapper object. */
export function wrap(key: string, inner: Record<string, unknown>) {
  return { type: 'object', required: [key], properties: { [key]: { type: 'object', ...inner } } };
}

export function requireBody(body: unknown, key: string): Record<string, unknown> {
  const b = body as Record<string, unknown> | undefined;
  const v = b?.[key];
  if (!v || typeof v !== 'object' || Array.isArray(v))
    throw badRequest(`Invalid input for field '${key}': '${key}' is a required property`, 'ValidationError');
  return v as Record<string, unknown>;
}

/**
 * A request body's resource as its JSON schema admits it: the attributes named in T, and any other
 * key (kept as an extra, as Keystone keeps unknown attributes).
 */
export type Attrs<T> = T & { id?: string; links?: unknown; [extra: string]: unknown };
