// What Keystone's list calls add for a domain-scoped token (keystone/api/*.py, Zed): the policy
// target carries the caller's domain (`target.domain_id`, or `target.group.domain_id` for groups),
// and the answer keeps only what lies in that domain, whatever the query asked for.
import type { FastifyRequest } from 'fastify';

/** The domain of a domain-scoped token, else undefined. */
export const callerDomain = (req: FastifyRequest): string | undefined => req.ctx?.domainId;

/** A list call's policy target: the query filters, and the caller's domain under `target` (Keystone's target_attr). */
export function listTarget(
  req: FastifyRequest,
  filters: Record<string, unknown>,
  shape: (domainId: string) => Record<string, unknown> = (domain_id) => ({ domain_id }),
): Record<string, unknown> {
  const d = callerDomain(req);
  return d === undefined ? filters : { ...filters, target: shape(d) };
}

/** The items of the caller's domain when the token is domain-scoped; every item otherwise. */
export function inCallerDomain<T>(
  req: FastifyRequest,
  items: T[],
  domainOf: (item: T) => string | null | undefined,
): T[] {
  const d = callerDomain(req);
  return d === undefined ? items : items.filter((i) => domainOf(i) === d);
}
