// What the orchestration handlers share: the tenant check of every /v1/{tenant_id} route, the
// caller handed to the engine, stack lookup by name or id, links and Heat's time format.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import type { Caller } from '../engine/engine.ts';
import { stackNotFound, toHeatApiError } from '../errors.ts';
import type { OrchestrationService } from '../service.ts';
import type { ResourceRow, StackRow } from '../stacks.ts';

export type Params = Record<string, string>;
export type Query = Record<string, string | string[] | undefined>;

export const params = (req: FastifyRequest) => req.params as Params;
export const query = (req: FastifyRequest) => req.query as Query;

/** A body that must be a JSON object. */
export function bodyOf(req: FastifyRequest): Record<string, unknown> {
  const b = req.body;
  if (b === undefined || b === null) return {};
  if (typeof b !== 'object' || Array.isArray(b))
    throw new ApiError(400, 'The request body must be a JSON object.', 'HTTPBadRequest');
  return b as Record<string, unknown>;
}

/** Heat's times: ISO 8601 to the second, in UTC, with a Z. */
export const heatTime = (t: string | null | undefined) => (t ? t.replace(/\.\d+Z$/, 'Z') : null);

/** Enforces a rule on the URL's tenant: another project's tenant is 403 unless the caller is an admin (Heat's tenant_local). */
export function enforce(req: FastifyRequest, rule: string): string {
  const tenant = params(req).tenant_id ?? req.context.projectId ?? '';
  req.authorize(rule, { project_id: tenant, tenant_id: tenant });
  if (tenant !== req.context.projectId && !req.context.roles.includes('admin'))
    throw new ApiError(403, 'You are not authorized to complete this action.', 'Forbidden');
  return tenant;
}

export function callerOf(req: FastifyRequest, tenant: string): Caller {
  const a = req.context.auth;
  return {
    projectId: tenant,
    userId: a?.userId ?? '',
    username: a?.userName ?? '',
    // The user's token acts in its own project only; for another tenant (an admin), the service's.
    token: tenant === a?.projectId ? a?.token : undefined,
    roles: req.context.roles,
    // deferred_auth_method = password: heatclient's --include-password headers.
    ...(typeof req.headers['x-auth-user'] === 'string' ? { authUser: req.headers['x-auth-user'] } : {}),
    ...(typeof req.headers['x-auth-key'] === 'string' ? { authKey: req.headers['x-auth-key'] } : {}),
  };
}

/** The stack of the URL (name and id must agree; a deleted one is found by id). */
export async function stackOf(svc: OrchestrationService, tenant: string, name: string, id?: string): Promise<StackRow> {
  if (id) {
    const row = await svc.store.getStack(id);
    if (!row || row.project_id !== tenant || (row.name !== name && row.id !== name))
      throw toHeatApiError(stackNotFound(`${name}/${id}`));
    return row;
  }
  const row = await svc.store.findStack(tenant, name);
  if (!row) throw toHeatApiError(stackNotFound(name));
  return row;
}

export function stackUrl(req: { baseUrl: string }, row: Pick<StackRow, 'project_id' | 'name' | 'id'>): string {
  return `${req.baseUrl}/v1/${row.project_id}/stacks/${encodeURIComponent(row.name)}/${row.id}`;
}

/** GET /stacks/{name}[/path]: 302 to the stack's canonical URL (Heat's lookup). */
export async function redirectToStack(svc: OrchestrationService, req: FastifyRequest, reply: FastifyReply, rest = '') {
  const tenant = enforce(req, 'stacks:lookup');
  const name = params(req).stack_name!;
  let url: string;
  try {
    url = stackUrl(req, await stackOf(svc, tenant, name));
  } catch (e) {
    // A stack user's signal or metadata poll names the stack by id under the stack domain
    // project (heat-config-notify, os-collect-config): the stack's URL under that project.
    const row = rest === '' || rest.startsWith('/resources') ? await svc.store.getStack(name, false) : null;
    let root = row;
    for (let i = 0; root?.owner_id && i < 20; i++) root = (await svc.store.getStack(root.owner_id)) ?? null;
    if (!row || !root?.stack_user_project_id || root.stack_user_project_id !== tenant) throw e;
    url = stackUrl(req, { ...row, project_id: tenant });
  }
  const qs = req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : '';
  reply.code(302).header('Location', `${url}${rest}${qs}`).send({});
  return reply;
}

/** Runs an engine call and turns its errors into Heat's API errors. */
export async function engineCall<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    throw toHeatApiError(e);
  }
}

export const truthy = (v: unknown) =>
  typeof v === 'string' && ['true', '1', 'yes', 't', 'on'].includes(v.toLowerCase());

export function list(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

/** The resources a snippet reads attributes of (get_attr / Fn::GetAtt); '*' when one is computed. */
export function attrRefs(snippet: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(snippet)) for (const v of snippet) attrRefs(v, out);
  else if (snippet && typeof snippet === 'object') {
    for (const [k, v] of Object.entries(snippet as Record<string, unknown>)) {
      if ((k === 'get_attr' || k === 'Fn::GetAtt') && Array.isArray(v)) out.add(typeof v[0] === 'string' ? v[0] : '*');
      else if (k === 'Fn::GetAtt' && typeof v === 'string') out.add(v.split('.')[0]!);
      attrRefs(v, out);
    }
  }
  return out;
}

/**
 * Overlays the live attributes of the named resources (read by an engine from their services,
 * as Heat resolves attributes at read time) on the stored rows; on any failure (no engine
 * answering in time) the stored attributes stay.
 */
export async function withLiveAttributes(
  svc: OrchestrationService,
  caller: Caller,
  stackId: string,
  rows: Map<string, ResourceRow>,
  names: Iterable<string>,
): Promise<Map<string, ResourceRow>> {
  const want = [...names].includes('*') ? [...rows.keys()] : [...names].filter((n) => rows.has(n));
  if (!want.length) return rows;
  try {
    const live = await svc.engineRpc
      .call(undefined, { timeoutMs: 15_000 })
      .resource_attributes({ caller, stack_id: stackId, resources: want });
    for (const [name, attrs] of Object.entries(live)) {
      const r = rows.get(name);
      if (r) rows.set(name, { ...r, attributes: { ...r.attributes, ...attrs } });
    }
  } catch {
    /* the stored attributes */
  }
  return rows;
}
