// Heat's route table (heat/api/openstack/v1/__init__.py): every path and method under
// /v1/{tenant_id}, the name-only lookups that redirect to /stacks/{name}/{id}, the version
// document, and Stratus's pre-signed signal URL of wait condition handles.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import { toHeatApiError } from '../errors.ts';
import type { OrchestrationService } from '../service.ts';
import { redirectToStack } from './common.ts';
import { makeResourceHandlers } from './resources.ts';
import { makeSoftwareHandlers } from './software.ts';
import { makeStackHandlers } from './stacks.ts';
import { makeTemplateHandlers } from './templates.ts';

type Handler = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

export async function registerRoutes(app: FastifyInstance, svc: OrchestrationService) {
  // Heat answers `Content-Type: application/json` without a charset (gabbi tests check it exactly).
  app.addHook('onSend', async (_req, reply, payload) => {
    if (String(reply.getHeader('content-type') ?? '').startsWith('application/json;'))
      reply.header('content-type', 'application/json');
    return payload;
  });
  const s = makeStackHandlers(svc);
  const r = makeResourceHandlers(svc);
  const t = makeTemplateHandlers(svc);
  const sw = makeSoftwareHandlers(svc);
  const T = '/v1/:tenant_id';
  const ST = `${T}/stacks/:stack_name/:stack_id`;
  const lookup =
    (rest: string): Handler =>
    (req, reply) =>
      redirectToStack(svc, req, reply, rest);

  const routes: Array<[string, string, Handler]> = [
    // stacks
    ['GET', `${T}/stacks`, (q) => s.index(q, false)],
    ['GET', `${T}/stacks/detail`, (q) => s.index(q, true)],
    ['POST', `${T}/stacks`, s.create],
    ['POST', `${T}/stacks/preview`, s.preview],
    ['GET', `${T}/stacks/:stack_name`, lookup('')],
    ['DELETE', `${T}/stacks/:stack_name`, lookup('')],
    ['PUT', `${T}/stacks/:stack_name`, lookup('')],
    ['PATCH', `${T}/stacks/:stack_name`, lookup('')],
    ['GET', `${T}/stacks/:stack_name/resources`, lookup('/resources')],
    ['GET', `${T}/stacks/:stack_name/events`, lookup('/events')],
    ['GET', `${T}/stacks/:stack_name/template`, lookup('/template')],
    ['GET', `${T}/stacks/:stack_name/outputs`, lookup('/outputs')],
    ['GET', `${T}/stacks/:stack_name/environment`, lookup('/environment')],
    ['GET', `${T}/stacks/:stack_name/files`, lookup('/files')],
    ['GET', `${T}/stacks/:stack_name/snapshots`, lookup('/snapshots')],
    ['DELETE', `${T}/stacks/:stack_name/abandon`, lookup('/abandon')],
    ['GET', `${T}/stacks/:stack_name/export`, lookup('/export')],
    // heatclient posts actions to /stacks/{name or id}/actions: answered in place.
    ['POST', `${T}/stacks/:stack_name/actions`, s.action],
    ['GET', ST, s.show],
    ['PUT', ST, (q, p) => s.update(q, p, false)],
    ['PATCH', ST, (q, p) => s.update(q, p, true)],
    ['PUT', `${ST}/preview`, (q) => s.previewUpdate(q, false)],
    ['PATCH', `${ST}/preview`, (q) => s.previewUpdate(q, true)],
    ['DELETE', ST, s.remove],
    ['DELETE', `${ST}/abandon`, s.abandon],
    ['GET', `${ST}/export`, s.exportStack],
    ['GET', `${ST}/template`, s.template],
    ['GET', `${ST}/environment`, s.environment],
    ['GET', `${ST}/files`, s.files],
    ['GET', `${ST}/outputs`, s.outputs],
    ['GET', `${ST}/outputs/:output_key`, s.output],
    ['POST', `${ST}/actions`, s.action],
    ['POST', `${ST}/snapshots`, s.snapshot],
    ['GET', `${ST}/snapshots`, s.snapshots],
    ['GET', `${ST}/snapshots/:snapshot_id`, s.showSnapshot],
    ['DELETE', `${ST}/snapshots/:snapshot_id`, s.deleteSnapshot],
    ['POST', `${ST}/snapshots/:snapshot_id/restore`, s.restoreSnapshot],
    // resources and events
    ['GET', `${ST}/resources`, r.index],
    ['GET', `${ST}/resources/:resource_name`, r.show],
    ['PATCH', `${ST}/resources/:resource_name`, r.markUnhealthy],
    ['GET', `${ST}/resources/:resource_name/metadata`, r.metadata],
    ['POST', `${ST}/resources/:resource_name/signal`, r.signal],
    ['GET', `${ST}/events`, r.events],
    ['GET', `${ST}/resources/:resource_name/events`, r.events],
    ['GET', `${ST}/resources/:resource_name/events/:event_id`, r.event],
    // templates and types
    ['POST', `${T}/validate`, t.validate],
    ['GET', `${T}/resource_types`, t.resourceTypes],
    ['GET', `${T}/resource_types/:type_name`, t.resourceSchema],
    ['GET', `${T}/resource_types/:type_name/template`, t.resourceTemplate],
    ['GET', `${T}/template_versions`, t.templateVersions],
    ['GET', `${T}/template_versions/:template_version/functions`, t.templateFunctions],
    ['GET', `${T}/build_info`, t.buildInfo],
    ['GET', `${T}/services`, t.services],
    // software configuration
    ['POST', `${T}/software_configs`, sw.createConfig],
    ['GET', `${T}/software_configs`, sw.listConfigs],
    ['GET', `${T}/software_configs/:config_id`, sw.showConfig],
    ['DELETE', `${T}/software_configs/:config_id`, sw.deleteConfig],
    ['POST', `${T}/software_deployments`, sw.createDeployment],
    ['GET', `${T}/software_deployments`, sw.listDeployments],
    ['GET', `${T}/software_deployments/metadata/:server_id`, sw.metadata],
    ['GET', `${T}/software_deployments/:deployment_id`, sw.showDeployment],
    ['PUT', `${T}/software_deployments/:deployment_id`, sw.updateDeployment],
    ['DELETE', `${T}/software_deployments/:deployment_id`, sw.deleteDeployment],
  ];

  const wrap =
    (h: Handler): Handler =>
    async (req, reply) => {
      try {
        const out = await h(req, reply);
        if (reply.sent) return reply;
        if (out === null || out === undefined) {
          if (reply.statusCode === 204) return reply.send();
          return reply.type('application/json').send(reply.statusCode === 200 ? 'null' : '');
        }
        return out;
      } catch (e) {
        throw toHeatApiError(e);
      }
    };
  for (const [method, url, h] of routes) app.route({ method: method as 'GET', url, handler: wrap(h) });

  // 405 for known paths with another method (Heat answers 405 with its body).
  const byPath = new Map<string, string[]>();
  for (const [m, u] of routes) byPath.set(u, [...(byPath.get(u) ?? []), m]);
  for (const [url, methods] of byPath) {
    const others = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].filter((m) => !methods.includes(m));
    if (!others.length) continue;
    app.route({
      method: others as 'GET'[],
      url,
      handler: async (req) => {
        req.authorized = true;
        throw new ApiError(405, 'The method specified is not allowed for this resource.', 'HTTPMethodNotAllowed', {
          Allow: methods.join(', '),
        });
      },
    });
  }

  app.get('/', { config: { auth: false } }, (req, reply) => t.versions(req, reply));

  // A software deployment's pre-signed signal URL (CFN_SIGNAL's deploy_signal_id).
  app.post(`${T}/software_deployments/:deployment_id/signal`, { config: { auth: false } }, async (req, reply) => {
    try {
      await sw.signalDeployment(req);
    } catch (e) {
      throw toHeatApiError(e);
    }
    reply.code(200);
    return reply.type('application/json').send('null');
  });

  // A pre-signed signal URL (a scaling policy's, a CFN wait condition handle's): its own token
  // authenticates the signal; POST, or PUT as a CFN wait condition is signalled.
  app.route({
    method: ['POST', 'PUT'],
    url: `${T}/signals/:stack_id/:resource_name`,
    config: { auth: false },
    handler: async (req, reply) => {
      const p = req.params as Record<string, string>;
      const token = (req.query as Record<string, string>).token;
      const stack = await svc.store.getStack(p.stack_id!, false);
      const res = stack ? await svc.store.resource(stack.id, p.resource_name!) : null;
      if (!stack || !res || stack.project_id !== p.tenant_id || !token || res.data.token !== token)
        throw new ApiError(403, 'Signal refused: the URL is not valid for this resource.', 'Forbidden');
      try {
        await svc.engineRpc.call().signal_resource({
          caller: { projectId: stack.project_id, userId: stack.user_id, username: stack.username, roles: [] },
          stack_id: stack.id,
          resource: res.name,
          details: req.body ?? null,
        });
      } catch (e) {
        throw toHeatApiError(e);
      }
      reply.code(200);
      return reply.type('application/json').send('null');
    },
  });
}
