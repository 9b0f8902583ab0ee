import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ComputeService, Family } from '../service.ts';
import { serverGroupMigrations } from '../db/migrations/server_groups.ts';
import { type ServerGroup } from '../server_groups.ts';
import { authorize, badRequest, forbidden, isAdmin, mv, notFound, queryOf, validateBody } from './common.ts';
import { envelope } from './schemas/parameter_types.ts';
import { checkName } from './flavors.ts';
import { OverQuota } from '../quota.ts';

const SG = 'os_compute_api:os-server-groups';

// ---- the API ------------------------------------------------------------------------------

const NAME = { type: 'string', minLength: 1, maxLength: 255 };
const legacy = (policies: string[]) =>
  envelope('server_group', {
    type: 'object',
    required: ['name', 'policies'],
    additionalProperties: false,
    properties: {
      name: NAME,
      policies: {
        type: 'array',
        items: [{ type: 'string', enum: policies }],
        uniqueItems: true,
        minItems: 1,
        maxItems: 1,
        additionalItems: false,
      },
    },
  });
const CREATE = legacy(['anti-affinity', 'affinity']);
const CREATE_215 = legacy(['anti-affinity', 'affinity', 'soft-anti-affinity', 'soft-affinity']);
const CREATE_264 = envelope('server_group', {
  type: 'object',
  required: ['name', 'policy'],
  additionalProperties: false,
  properties: {
    name: NAME,
    policy: { type: 'string', enum: ['anti-affinity', 'affinity', 'soft-anti-affinity', 'soft-affinity'] },
    rules: {
      type: 'object',
      additionalProperties: false,
      properties: {
        max_server_per_host: { type: ['integer', 'string'], pattern: '^[0-9]*$', minimum: 1, minLength: 1 },
      },
    },
  },
});

function view(req: FastifyRequest, g: ServerGroup) {
  const out: Record<string, unknown> = { id: g.uuid, name: g.name };
  if (mv(req).gte('2.64')) {
    out.policy = g.policy;
    out.rules = g.rules;
  } else {
    out.policies = [g.policy];
    out.metadata = {};
  }
  out.members = g.members;
  if (mv(req).gte('2.13')) {
    out.project_id = g.project_id;
    out.user_id = g.user_id;
  }
  return out;
}

function nonNegative(q: URLSearchParams, key: string): number | undefined {
  const raw = q.get(key);
  if (raw === null) return undefined;
  if (!/^[0-9]+$/.test(raw))
    throw badRequest(`Invalid input for query parameters ${key}. Value: ${raw}. '${raw}' does not match '^[0-9]*$'`);
  return Number(raw);
}

export async function listServerGroups(svc: ComputeService, req: FastifyRequest) {
  const q = queryOf(req);
  if (mv(req).gte('2.75'))
    for (const k of q.keys())
      if (!['all_projects', 'limit', 'offset'].includes(k))
        throw badRequest(
          `Invalid input for query parameters ${k}. Value: ${q.get(k)}. Additional properties are not allowed ('${k}' was unexpected)`,
        );
  const limit = nonNegative(q, 'limit'),
    offset = nonNegative(q, 'offset') ?? 0;
  const projectId = req.ctx?.projectId ?? null;
  authorize(req, `${SG}:index`, { project_id: projectId });
  let list: ServerGroup[];
  if (q.has('all_projects') && isAdmin(req)) {
    authorize(req, `${SG}:index:all_projects`, { project_id: projectId });
    list = await svc.parts.serverGroups.list();
  } else list = await svc.parts.serverGroups.list(projectId ?? '');
  const page = list.slice(offset, offset + Math.min(limit ?? 1000, 1000));
  return { server_groups: page.map((g) => view(req, g)) };
}

export async function showServerGroup(svc: ComputeService, req: FastifyRequest<{ Params: { id: string } }>) {
  const g = await svc.parts.serverGroups.get(req.params.id);
  if (!g) {
    req.authorized = true;
    throw notFound(`Instance group ${req.params.id} could not be found.`);
  }
  authorize(req, `${SG}:show`, { project_id: g.project_id });
  return { server_group: view(req, g) };
}

export async function deleteServerGroup(
  svc: ComputeService,
  req: FastifyRequest<{ Params: { id: string } }>,
  reply: FastifyReply,
) {
  const g = await svc.parts.serverGroups.get(req.params.id);
  if (!g) {
    req.authorized = true;
    throw notFound(`Instance group ${req.params.id} could not be found.`);
  }
  authorize(req, `${SG}:delete`, { project_id: g.project_id });
  if (!(await svc.parts.serverGroups.destroy(g.uuid)))
    throw notFound(`Instance group ${req.params.id} could not be found.`);
  reply.code(204).send();
}

export async function createServerGroup(svc: ComputeService, req: FastifyRequest) {
  const v = mv(req);
  const body = validateBody<{
    server_group: {
      name: string;
      policy: string;
      policies: string[];
      rules?: { max_server_per_host?: number | string };
    };
  }>(req, v.gte('2.64') ? CREATE_264 : v.gte('2.15') ? CREATE_215 : CREATE);
  const projectId = req.ctx?.projectId ?? '';
  const userId = req.ctx!.userId;
  authorize(req, `${SG}:create`, { project_id: projectId });
  /** The server groups quota with `more` groups to come (1 before the create, 0 in the recheck after it). */
  const check = async (more: 0 | 1) => {
    const project = await svc.parts.serverGroups.count(projectId),
      user = await svc.parts.serverGroups.count(projectId, userId);
    try {
      await svc.parts.quotas.check(
        projectId,
        userId,
        { server_groups: more },
        { project: { server_groups: project }, user: { server_groups: user } },
      );
    } catch (e) {
      if (e instanceof OverQuota) throw forbidden('Quota exceeded, too many server groups.');
      throw e;
    }
  };
  await check(1);
  const sg = body.server_group;
  checkName('name', sg.name);
  let policy: string,
    rules: Record<string, number> = {};
  if (v.gte('2.64')) {
    policy = sg.policy;
    const raw = sg.rules ?? {};
    if (policy !== 'anti-affinity' && Object.keys(raw).length)
      throw badRequest('Only anti-affinity policy supports rules.');
    if (raw.max_server_per_host !== undefined) rules = { max_server_per_host: Number(raw.max_server_per_host) };
  } else policy = sg.policies[0];
  const g = await svc.parts.serverGroups.create({
    name: sg.name,
    project_id: projectId,
    user_id: userId,
    policy,
    rules,
  });
  // Nova rechecks after the create (recheck_quota) so that racing creates cannot both pass.
  try {
    await check(0);
  } catch (e) {
    await svc.parts.serverGroups.destroy(g.uuid);
    throw e;
  }
  return { server_group: view(req, g) };
}

export const serverGroupsFamily: Family = {
  name: 'server_groups',
  migrations: serverGroupMigrations,
};
