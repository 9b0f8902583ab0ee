// What every family of the compute API shares: Nova's fault body, the request's microversion,
// policy checks with Nova's target and message, request body validation with Nova's error
// text, and the links of a resource.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, wsgiFaultBody } from '../../core/errors.ts';
import type { Microversion } from '../../core/http.ts';
import type { VolumeCallOptions } from '../../core/clients/block-storage.ts';
import { pyRepr } from '../../core/python.ts';
import { jsonschemaMessage, validate } from '../../core/validate.ts';
import type { InstanceStore } from '../instances.ts';

/** Nova's fault names by status (nova.api.openstack.wsgi.Fault); anything else is computeFault. */
/** A server action of POST /servers/{id}/action, by the body's one key (the map is in routes.ts). */
export type ServerAction = (req: FastifyRequest, reply: FastifyReply, id: string) => Promise<unknown>;

export function faultBody(e: ApiError): unknown {
  return wsgiFaultBody(
    e,
    "Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and attach the Nova API log if possible.\n<class 'nova.exception.NovaException'>",
    { 429: 'overLimit' },
  );
}

export const badRequest = (m: string) => new ApiError(400, m);
export const notFound = (m: string) => new ApiError(404, m);
export const conflict = (m: string) => new ApiError(409, m);
export const forbidden = (m: string) => new ApiError(403, m);

/**
 * Records an action on a server as the request's (nova.objects.InstanceAction.action_start): the
 * action's name under the request id, with the caller's user and project.
 */
export function recordAction(
  store: Pick<InstanceStore, 'startAction'>,
  req: FastifyRequest,
  instanceUuid: string,
  action: string,
): Promise<void> {
  return store.startAction({
    instance_uuid: instanceUuid,
    action,
    request_id: req.id,
    user_id: req.ctx?.userId,
    project_id: req.ctx?.projectId,
  });
}

/** The request's negotiated microversion. */
export const mv = (req: FastifyRequest): Microversion => req.computeVersion!;

/** Nova's default policy target: the caller's own project and user. */
export function defaultTarget(req: FastifyRequest): Record<string, unknown> {
  return { project_id: req.ctx?.projectId ?? null, user_id: req.ctx?.userId ?? null };
}

/** Enforces a Nova rule; 403 "Policy doesn't allow ... to be performed." as nova.policy answers. */
export function authorize(req: FastifyRequest, rule: string, target?: Record<string, unknown>) {
  req.authorized = true;
  if (!req.allowed(rule, target ?? defaultTarget(req)))
    throw forbidden(`Policy doesn't allow ${rule} to be performed.`);
}

export function allowed(req: FastifyRequest, rule: string, target?: Record<string, unknown>): boolean {
  return req.allowed(rule, target ?? defaultTarget(req));
}

export const isAdmin = (req: FastifyRequest) => allowed(req, 'context_is_admin');

/** The caller's token and project for the volume service (Nova calls Cinder with the user's context). */
export const asCaller = (req: FastifyRequest): VolumeCallOptions => ({
  token: req.ctx!.token,
  project: req.ctx!.projectId,
});

// ---- validation (nova.api.validation) ---------------------------------------------------

/** The body validated against a JSON schema: Nova's 400 "Invalid input for field/attribute ..." otherwise. */
export function validateBody<T = unknown>(req: FastifyRequest, schema: object): T {
  if (req.body === undefined || req.body === null) throw badRequest('The request body is invalid.');
  return validate<T>(req.body, schema, (e) => {
    const path = e.instancePath.split('/').slice(1);
    return path.length
      ? badRequest(
          `Invalid input for field/attribute ${decodeURIComponent(path.at(-1)!)}. Value: ${pyRepr(e.data)}. ${jsonschemaMessage(e)}`,
        )
      : badRequest(jsonschemaMessage(e));
  });
}

/** The `links` of a resource: self (versioned) and bookmark (unversioned), as Nova builds them. */
export function links(req: FastifyRequest, collection: string, id: string) {
  // Nova puts the project id in links only when the request URL had one; ours never do.
  const base = req.baseUrl;
  return [
    { rel: 'self', href: `${base}/v2.1/${collection}/${id}` },
    { rel: 'bookmark', href: `${base}/${collection}/${id}` },
  ];
}

/** The query string: a parameter's last value (or all values with `all`). */
export function queryOf(req: FastifyRequest): URLSearchParams {
  const i = req.url.indexOf('?');
  return new URLSearchParams(i < 0 ? '' : req.url.slice(i + 1));
}

/** Nova's timestamps: ISO 8601 without fractions, 'Z' suffix. */
export const isoZ = (s: string | null | undefined) => (s ? s.replace(/\.\d+Z$/, 'Z') : null);
