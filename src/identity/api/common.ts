// Shared pieces of identity's routes: links, list envelopes, query parsing, JSON schemas.
import type { FastifyReply, FastifyRequest } from 'fastify';
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

// ---- the handlers every collection has (Keystone's ResourceBase: _get_single, _update, _delete) ----

/** How a resource is shown: the view of one item for this request. */
export type Render<T> = (req: FastifyRequest, item: T) => unknown;

/** A path parameter of the request. */
export const param = (req: FastifyRequest, name: string) => (req.params as Record<string, string>)[name]!;

/** The answer to a create: 201 and the new resource's view under its member key. */
export function created(reply: FastifyReply, key: string, view: unknown) {
  reply.code(201);
  return { [key]: view };
}

/** A collection in Keystone's list envelope, each item rendered. */
export function listOf<T>(req: FastifyRequest, key: string, items: T[], render: Render<T>) {
  return listBody(
    req,
    key,
    items.map((x) => render(req, x)),
  );
}

/** GET of one resource: the policy, then the manager's get of the path parameter, then its view. */
export function getOne<T>(
  rule: string,
  key: string,
  idParam: string,
  get: (id: string) => Promise<T>,
  render: Render<T>,
) {
  return async (req: FastifyRequest) => {
    req.authorize(rule);
    return { [key]: render(req, await get(param(req, idParam))) };
  };
}

/** PATCH of one resource: the policy, then the manager's update with the body's member, then its view. */
export function updateOne<T, P>(
  rule: string,
  key: string,
  idParam: string,
  update: (id: string, patch: P) => Promise<T>,
  render: Render<T>,
) {
  return async (req: FastifyRequest) => {
    req.authorize(rule);
    return { [key]: render(req, await update(param(req, idParam), (req.body as Record<string, P>)[key]!)) };
  };
}

/** DELETE of one resource: the policy, then the manager's delete of the path parameter, then a 204. */
export function deleteOne(rule: string, idParam: string, remove: (id: string) => Promise<unknown>) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    req.authorize(rule);
    await remove(param(req, idParam));
    reply.code(204).send();
  };
}
