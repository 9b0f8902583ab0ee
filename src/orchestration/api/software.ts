// /v1/{tenant_id}/software_configs and /software_deployments (with the server metadata that
// in-guest agents poll: GET /software_deployments/metadata/{server_id}).
import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import { json, now } from '../../core/db.ts';
import type { SoftwareConfigTable, SoftwareDeploymentTable } from '../db/schema.ts';
import type { OrchestrationService } from '../service.ts';
import { bodyOf, enforce, heatTime, params, query, truthy } from './common.ts';

function configView(c: SoftwareConfigTable, full = true) {
  const v: Record<string, unknown> = {
    id: c.id,
    name: c.name,
    group: c.group,
    creation_time: heatTime(c.created_at),
  };
  if (full)
    Object.assign(v, {
      config: c.config,
      inputs: json(c.inputs, []),
      outputs: json(c.outputs, []),
      options: json(c.options, {}),
    });
  return v;
}

function deploymentView(d: SoftwareDeploymentTable) {
  return {
    id: d.id,
    config_id: d.config_id,
    server_id: d.server_id,
    input_values: json(d.input_values, {}),
    output_values: json(d.output_values, {}),
    action: d.action,
    status: d.status,
    status_reason: d.status_reason,
    creation_time: heatTime(d.created_at),
    updated_time: heatTime(d.updated_at),
  };
}

const mapOf = (v: unknown, what: string): Record<string, unknown> => {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new ApiError(400, `${what} must be a map`, 'HTTPBadRequest');
  return v as Record<string, unknown>;
};
const listOf = (v: unknown, what: string): unknown[] => {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ApiError(400, `${what} must be a list`, 'HTTPBadRequest');
  return v;
};

export function makeSoftwareHandlers(svc: OrchestrationService) {
  const db = svc.store.db;
  const configOf = async (tenant: string, id: string, admin: boolean) => {
    const c = await db.selectFrom('software_config').selectAll().where('id', '=', id).executeTakeFirst();
    if (!c || (c.project_id !== tenant && !admin))
      throw new ApiError(404, `The Software Config (${id}) could not be found.`, 'EntityNotFound');
    return c;
  };
  const deploymentOf = async (tenant: string, id: string, admin: boolean) => {
    const d = await db.selectFrom('software_deployment').selectAll().where('id', '=', id).executeTakeFirst();
    if (!d || (d.project_id !== tenant && !admin))
      throw new ApiError(404, `The Software Deployment (${id}) could not be found.`, 'EntityNotFound');
    return d;
  };
  const isAdmin = (req: FastifyRequest) => req.context.roles.includes('admin');
  return {
    async createConfig(req: FastifyRequest) {
      const tenant = enforce(req, 'software_configs:create');
      const b = bodyOf(req);
      if (b.name !== undefined && typeof b.name !== 'string')
        throw new ApiError(400, 'name must be a string', 'HTTPBadRequest');
      const row: SoftwareConfigTable = {
        id: randomUUID(),
        project_id: tenant,
        name: (b.name as string) ?? '',
        group: typeof b.group === 'string' && b.group ? b.group : 'Heat::Ungrouped',
        config:
          typeof b.config === 'string'
            ? b.config
            : b.config === undefined || b.config === null
              ? ''
              : JSON.stringify(b.config),
        inputs: JSON.stringify(listOf(b.inputs, 'inputs')),
        outputs: JSON.stringify(listOf(b.outputs, 'outputs')),
        options: JSON.stringify(mapOf(b.options, 'options')),
        created_at: now(),
      };
      await db.insertInto('software_config').values(row).execute();
      return { software_config: configView(row) };
    },
    async listConfigs(req: FastifyRequest) {
      const tenant = enforce(req, 'software_configs:index');
      const q = query(req);
      let qb = db.selectFrom('software_config').selectAll();
      if (truthy(String(q.global_tenant ?? ''))) req.authorize('software_configs:global_index', { project_id: tenant });
      else qb = qb.where('project_id', '=', tenant);
      let rows = await qb.orderBy('created_at').orderBy('id').execute();
      if (typeof q.marker === 'string') {
        const i = rows.findIndex((r) => r.id === q.marker);
        rows = i < 0 ? [] : rows.slice(i + 1);
      }
      if (q.limit !== undefined) rows = rows.slice(0, Math.max(0, Number(q.limit) || 0));
      return { software_configs: rows.map((r) => configView(r, false)) };
    },
    async showConfig(req: FastifyRequest) {
      const tenant = enforce(req, 'software_configs:show');
      return { software_config: configView(await configOf(tenant, params(req).config_id!, isAdmin(req))) };
    },
    async deleteConfig(req: FastifyRequest, reply: FastifyReply) {
      const tenant = enforce(req, 'software_configs:delete');
      const c = await configOf(tenant, params(req).config_id!, isAdmin(req));
      const used = await db
        .selectFrom('software_deployment')
        .select('id')
        .where('config_id', '=', c.id)
        .executeTakeFirst();
      if (used) throw new ApiError(400, `Software config ${c.id} is in use by deployment ${used.id}`, 'HTTPBadRequest');
      await db.deleteFrom('software_config').where('id', '=', c.id).execute();
      reply.code(204);
      return null;
    },
    async createDeployment(req: FastifyRequest) {
      const tenant = enforce(req, 'software_deployments:create');
      const b = bodyOf(req);
      if (typeof b.server_id !== 'string' || !b.server_id)
        throw new ApiError(400, 'server_id is required', 'HTTPBadRequest');
      if (typeof b.config_id !== 'string' || !b.config_id)
        throw new ApiError(400, 'config_id is required', 'HTTPBadRequest');
      await configOf(tenant, b.config_id, isAdmin(req));
      const row: SoftwareDeploymentTable = {
        id: typeof b.id === 'string' && b.id ? b.id : randomUUID(),
        project_id: tenant,
        config_id: b.config_id,
        server_id: b.server_id,
        input_values: JSON.stringify(mapOf(b.input_values, 'input_values')),
        output_values: JSON.stringify({}),
        action: typeof b.action === 'string' ? b.action : 'INIT',
        status: typeof b.status === 'string' ? b.status : 'COMPLETE',
        status_reason: typeof b.status_reason === 'string' ? b.status_reason : '',
        stack_user_project_id: typeof b.stack_user_project_id === 'string' ? b.stack_user_project_id : tenant,
        created_at: now(),
        updated_at: null,
      };
      await db.insertInto('software_deployment').values(row).execute();
      return { software_deployment: deploymentView(row) };
    },
    async listDeployments(req: FastifyRequest) {
      const tenant = enforce(req, 'software_deployments:index');
      let qb = db.selectFrom('software_deployment').selectAll().where('project_id', '=', tenant);
      const server = query(req).server_id;
      if (typeof server === 'string') qb = qb.where('server_id', '=', server);
      return { software_deployments: (await qb.orderBy('created_at').execute()).map(deploymentView) };
    },
    async showDeployment(req: FastifyRequest) {
      const tenant = enforce(req, 'software_deployments:show');
      return {
        software_deployment: deploymentView(await deploymentOf(tenant, params(req).deployment_id!, isAdmin(req))),
      };
    },
    async updateDeployment(req: FastifyRequest) {
      const tenant = enforce(req, 'software_deployments:update');
      const d = await deploymentOf(tenant, params(req).deployment_id!, isAdmin(req));
      const b = bodyOf(req);
      const set: Partial<SoftwareDeploymentTable> = { updated_at: now() };
      if (typeof b.config_id === 'string') {
        await configOf(tenant, b.config_id, isAdmin(req));
        set.config_id = b.config_id;
      }
      if (b.input_values !== undefined) set.input_values = JSON.stringify(mapOf(b.input_values, 'input_values'));
      if (b.output_values !== undefined) set.output_values = JSON.stringify(mapOf(b.output_values, 'output_values'));
      if (typeof b.action === 'string') set.action = b.action;
      if (typeof b.status === 'string') set.status = b.status;
      if (typeof b.status_reason === 'string') set.status_reason = b.status_reason;
      await db.updateTable('software_deployment').set(set).where('id', '=', d.id).execute();
      return { software_deployment: deploymentView({ ...d, ...set }) };
    },
    async deleteDeployment(req: FastifyRequest, reply: FastifyReply) {
      const tenant = enforce(req, 'software_deployments:delete');
      const d = await deploymentOf(tenant, params(req).deployment_id!, isAdmin(req));
      await db.deleteFrom('software_deployment').where('id', '=', d.id).execute();
      reply.code(204);
      return null;
    },
    /** The configs deployed to a server, merged with their deployments (what os-collect-config polls). */
    async metadata(req: FastifyRequest) {
      const tenant = enforce(req, 'software_deployments:metadata');
      return { metadata: await serverDeployments(svc, params(req).server_id!, tenant) };
    },
    /**
     * A deployment's pre-signed signal URL (its `deploy_signal_id` for CFN_SIGNAL): the token in
     * the URL authenticates; the body is the outputs (`deploy_status_code` non-zero fails it).
     */
    async signalDeployment(req: FastifyRequest) {
      const d = await db
        .selectFrom('software_deployment')
        .selectAll()
        .where('id', '=', params(req).deployment_id!)
        .executeTakeFirst();
      const token = String(query(req).token ?? '');
      const inputs = d ? json<Record<string, unknown>>(d.input_values, {}) : {};
      const expected = d
        ? new URL(String(inputs.deploy_signal_id ?? 'http://x/'), 'http://x/').searchParams.get('token')
        : null;
      if (!d || d.project_id !== params(req).tenant_id || !token || token !== expected)
        throw new ApiError(403, 'Signal refused: the URL is not valid for this deployment.', 'Forbidden');
      const out = (req.body && typeof req.body === 'object' && !Array.isArray(req.body) ? req.body : {}) as Record<
        string,
        unknown
      >;
      const code = out.deploy_status_code;
      const failed = code !== undefined && code !== null && code !== 0 && code !== '0';
      await db
        .updateTable('software_deployment')
        .set({
          output_values: JSON.stringify(out),
          status: failed ? 'FAILED' : 'COMPLETE',
          status_reason: failed
            ? `deploy_status_code : Deployment exited with non-zero status code: ${String(code)}`
            : 'Outputs received',
          updated_at: now(),
        })
        .where('id', '=', d.id)
        .execute();
      return null;
    },
  };
}

/** The configs deployed to a server, merged with their deployments (what os-collect-config polls). */
export async function serverDeployments(svc: OrchestrationService, serverId: string, tenant: string) {
  const rows = await svc.store.db
    .selectFrom('software_deployment')
    .innerJoin('software_config', 'software_config.id', 'software_deployment.config_id')
    .select([
      'software_deployment.id as deployment_id',
      'software_deployment.input_values',
      'software_deployment.created_at as d_created',
      'software_deployment.updated_at as d_updated',
      'software_config.id as config_id',
      'software_config.name',
      'software_config.group',
      'software_config.config',
      'software_config.inputs',
      'software_config.outputs',
      'software_config.options',
    ])
    .where('software_deployment.server_id', '=', serverId)
    .where('software_deployment.project_id', '=', tenant)
    .orderBy('software_deployment.created_at')
    .execute();
  return rows.map((r) => {
    const values = json<Record<string, unknown>>(r.input_values, {});
    const inputs = json<Array<Record<string, unknown>>>(r.inputs, []).map((i) => ({
      ...i,
      value: values[String(i.name)] ?? i.default ?? null,
    }));
    return {
      id: r.config_id,
      name: r.name,
      group: r.group,
      config: r.config,
      inputs,
      outputs: json(r.outputs, []),
      options: json(r.options, {}),
      deployment_id: r.deployment_id,
      creation_time: heatTime(r.d_created),
      updated_time: heatTime(r.d_updated),
    };
  });
}
