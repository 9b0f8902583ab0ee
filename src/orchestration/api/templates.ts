// Template validate, resource types (list, schema, generated template), template versions and
// their functions, build info, services, and the version document.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import {
  emptyEnvironment,
  environmentView,
  parameterView,
  resolve,
  templateFunctions,
  templateVersions,
} from '../template/index.ts';
import { type LoadedStack, loadStack, requestEnvironment, resolveContext } from '../engine/stack.ts';
import { propertySchemaDoc } from '../resources/plugin.ts';
import type { OrchestrationService } from '../service.ts';
import { bodyOf, enforce, engineCall, heatTime, list, query, truthy } from './common.ts';

/** 'heat_template_version.2016-04-08' and 'AWSTemplateFormatVersion.2010-09-09' from the seam's versions. */
function versionName(v: { version: string; type: string }): string {
  if (v.version.includes('.')) return v.version;
  if (v.type === 'cfn') return `AWSTemplateFormatVersion.${v.version.replace(/^cfn:/, '')}`;
  return `heat_template_version.${v.version}`;
}

export function makeTemplateHandlers(svc: OrchestrationService) {
  const allowedType = (req: FastifyRequest, type: string) => {
    const rule = `resource_types:${type}`;
    const wildcard = `resource_types:${type.split('::').slice(0, 2).join('::')}::*`;
    for (const r of [rule, wildcard])
      if (svc.policy.has(r) && !req.allowed(r, { project_id: req.context.projectId ?? '' })) return false;
    return true;
  };
  const pluginOr404 = (req: FastifyRequest, type: string) => {
    const p = svc.registry.plugins.get(type);
    if (!p || !allowedType(req, type) || p.supportStatus?.status === 'HIDDEN')
      throw new ApiError(404, `The Resource Type (${type}) could not be found.`, 'EntityNotFound');
    return p;
  };
  return {
    async validate(req: FastifyRequest) {
      const tenant = enforce(req, 'stacks:validate_template');
      const body = bodyOf(req);
      let template = body.template;
      if ((template === undefined || template === null) && typeof body.template_url === 'string') {
        try {
          template = await (await fetch(body.template_url)).text();
        } catch (e) {
          throw new ApiError(400, `Could not retrieve template: ${(e as Error).message}`, 'HTTPBadRequest');
        }
      }
      if (template === undefined || template === null)
        throw new ApiError(400, 'No Template provided.', 'HTTPBadRequest');
      const files = (body.files ?? {}) as Record<string, string>;
      const env = await engineCall(
        (async () =>
          requestEnvironment(
            body.environment,
            Array.isArray(body.environment_files) ? body.environment_files.map(String) : undefined,
            files,
          ))(),
      );
      const given = (body.parameters ?? {}) as Record<string, unknown>;
      // Validation does not need every parameter: missing ones get a placeholder of their type.
      const { parseTemplate } = await import('../template/index.ts');
      let parsed: ReturnType<typeof parseTemplate>;
      try {
        parsed = parseTemplate(template as string | object, files);
      } catch (e) {
        const { asValidationError } = await import('../engine/stack.ts');
        throw (await import('../errors.ts')).toHeatApiError(asValidationError(e));
      }
      const placeholders: Record<string, unknown> = {};
      const envParams = {
        ...((env.parameter_defaults ?? {}) as Record<string, unknown>),
        ...((env.parameters ?? {}) as Record<string, unknown>),
      };
      for (const [k, p] of Object.entries(parsed.parameters)) {
        const s = p as unknown as Record<string, unknown>;
        if (given[k] === undefined && envParams[k] === undefined && s.default === undefined)
          placeholders[k] = placeholderOf(String(s.type ?? 'string'), s);
      }
      const loaded = await engineCall(loadStack(svc.registry, template, env, files, { ...placeholders, ...given }));
      const parameters: Record<string, unknown> = {};
      for (const [k, p] of Object.entries(loaded.template.parameters)) parameters[k] = parameterView(k, p, env, given);
      const { encrypted_param_names: _hidden, ...envView } = environmentView(env);
      const out: Record<string, unknown> = {
        Description: loaded.template.description || 'No description',
        Parameters: parameters,
        Environment: envView,
      };
      if (loaded.template.parameterGroups.length) out.ParameterGroups = loaded.template.parameterGroups;
      // Template resources appear in the registry validate answers (Heat registers them so).
      const rr = (envView.resource_registry ?? {}) as Record<string, unknown>;
      for (const [name, def] of Object.entries(loaded.defs))
        if ('template' in loaded.kinds[name]! && def.type in files) rr[def.type] = def.type;
      if (truthy(String(query(req).show_nested ?? ''))) {
        const nested = await nestedParameters(svc, loaded, files, tenant);
        if (Object.keys(nested).length) out.NestedParameters = nested;
      }
      return out;
    },

    async resourceTypes(req: FastifyRequest) {
      enforce(req, 'stacks:list_resource_types');
      const q = query(req);
      const names = list(q.name);
      const statuses = list(q.support_status);
      const versions = list(q.version);
      const withDescription = truthy(String(q.with_description ?? ''));
      const types = svc.registry
        .types()
        .filter((p) => (p.supportStatus?.status ?? 'SUPPORTED') !== 'HIDDEN')
        .filter((p) => allowedType(req, p.type))
        .filter((p) => !names.length || names.some((n) => new RegExp(n).test(p.type)))
        .filter((p) => !statuses.length || statuses.includes(p.supportStatus?.status ?? 'SUPPORTED'))
        .filter((p) => !versions.length || versions.includes(p.supportStatus?.version ?? ''));
      return {
        resource_types: withDescription
          ? types.map((p) => ({ resource_type: p.type, description: p.description ?? '' }))
          : types.map((p) => p.type),
      };
    },

    async resourceSchema(req: FastifyRequest) {
      enforce(req, 'stacks:resource_schema');
      const type = (req.params as Record<string, string>).type_name!;
      const p = pluginOr404(req, type);
      return {
        resource_type: p.type,
        properties: Object.fromEntries(Object.entries(p.properties).map(([k, s]) => [k, propertySchemaDoc(s)])),
        attributes: {
          ...Object.fromEntries(
            Object.entries(p.attributes).map(([k, a]) => [
              k,
              { description: a.description, ...(a.type ? { type: a.type } : {}) },
            ]),
          ),
          show: { description: 'Detailed information about resource.', type: 'map' },
        },
        support_status: {
          status: p.supportStatus?.status ?? 'SUPPORTED',
          version: p.supportStatus?.version ?? null,
          message: p.supportStatus?.message ?? null,
          previous_status: null,
        },
        description: p.description ?? '',
      };
    },

    async resourceTemplate(req: FastifyRequest) {
      enforce(req, 'stacks:generate_template');
      const type = (req.params as Record<string, string>).type_name!;
      const p = pluginOr404(req, type);
      const kind = String(query(req).template_type ?? 'cfn');
      if (!['hot', 'cfn'].includes(kind))
        throw new ApiError(
          400,
          `Template type is not supported: Invalid template type "${kind}", valid types are: cfn, hot.`,
          'HTTPBadRequest',
        );
      const name =
        type
          .split('::')
          .pop()!
          .replace(/[^A-Za-z0-9]/g, '') || 'Resource';
      const paramType = (t: string) =>
        t === 'integer' || t === 'number'
          ? 'number'
          : t === 'boolean'
            ? 'boolean'
            : t === 'list'
              ? 'comma_delimited_list'
              : t === 'map' || t === 'json'
                ? 'json'
                : 'string';
      if (kind === 'hot') {
        const parameters: Record<string, unknown> = {};
        for (const [k, s] of Object.entries(p.properties)) {
          parameters[k] = {
            type: paramType(s.type),
            description: s.description ?? '',
            ...(s.default !== undefined ? { default: s.default } : {}),
          };
        }
        return {
          heat_template_version: '2016-10-14',
          description: `Initial template of ${name}`,
          parameters,
          resources: {
            [name]: {
              type,
              properties: Object.fromEntries(Object.keys(p.properties).map((k) => [k, { get_param: k }])),
            },
          },
          outputs: Object.fromEntries(
            [
              ...Object.entries(p.attributes),
              ['show', { description: 'Detailed information about resource.' }] as const,
            ].map(([k, a]) => [k, { description: a.description, value: { get_attr: [name, k] } }]),
          ),
        };
      }
      const cfnType = (t: string) =>
        t === 'integer' || t === 'number'
          ? 'Number'
          : t === 'list'
            ? 'CommaDelimitedList'
            : t === 'map' || t === 'json'
              ? 'Json'
              : t === 'boolean'
                ? 'Boolean'
                : 'String';
      return {
        HeatTemplateFormatVersion: '2012-12-12',
        Description: `Initial template of ${name}`,
        Parameters: Object.fromEntries(
          Object.entries(p.properties).map(([k, s]) => [
            k,
            {
              Type: cfnType(s.type),
              Description: s.description ?? '',
              ...(s.default !== undefined ? { Default: s.default } : {}),
            },
          ]),
        ),
        Resources: {
          [name]: { Type: type, Properties: Object.fromEntries(Object.keys(p.properties).map((k) => [k, { Ref: k }])) },
        },
        Outputs: Object.fromEntries(
          [
            ...Object.entries(p.attributes),
            ['show', { description: 'Detailed information about resource.' }] as const,
          ].map(([k, a]) => [k, { Description: a.description, Value: { 'Fn::GetAtt': [name, k] } }]),
        ),
      };
    },

    async templateVersions(req: FastifyRequest) {
      enforce(req, 'stacks:list_template_versions');
      return {
        template_versions: templateVersions().map((v) => ({
          version: versionName(v),
          type: v.type,
          aliases: v.aliases ?? [],
        })),
      };
    },

    async templateFunctions(req: FastifyRequest) {
      enforce(req, 'stacks:list_template_functions');
      const version = (req.params as Record<string, string>).template_version!;
      const known = templateVersions().find((v) => versionName(v) === version || v.version === version);
      if (!known) throw new ApiError(404, `Template with version ${version} not found`, 'NotFound');
      const withCond = truthy(String(query(req).with_condition_func ?? ''));
      let fns: Array<{ functions: string; description: string }> = [];
      for (const candidate of [known.version, versionName(known), version]) {
        try {
          fns = templateFunctions(candidate, withCond);
          if (fns.length) break;
        } catch {
          /* the next spelling */
        }
      }
      return { template_functions: fns };
    },

    async buildInfo(req: FastifyRequest) {
      enforce(req, 'build_info:build_info');
      return { api: { revision: 'stratus' }, engine: { revision: 'stratus' } };
    },

    async services(req: FastifyRequest) {
      enforce(req, 'service:index');
      // Heat's service_get_all: the rows not soft-deleted; format_service: up when beaten within two intervals.
      const rows = await svc.store.db
        .selectFrom('service')
        .selectAll()
        .where('deleted_at', 'is', null)
        .orderBy('created_at')
        .execute();
      const down = Date.now();
      return {
        services: rows.map((r) => ({
          id: r.id,
          engine_id: r.engine_id,
          host: r.host,
          hostname: r.hostname,
          binary: r.binary,
          topic: r.topic,
          report_interval: r.report_interval,
          created_at: heatTime(r.created_at),
          updated_at: heatTime(r.updated_at),
          deleted_at: r.deleted_at ? heatTime(r.deleted_at) : null,
          status: down - Date.parse(r.updated_at ?? r.created_at) <= r.report_interval * 2000 ? 'up' : 'down',
        })),
      };
    },

    async versions(req: FastifyRequest, reply: FastifyReply) {
      reply.code(300);
      return {
        versions: [
          {
            id: 'v1.0',
            status: 'CURRENT',
            links: [{ rel: 'self', href: `${req.baseUrl}/v1/` }],
          },
        ],
      };
    },
  };
}

/** The parameters of the template resources of a stack, recursively (validate's show_nested). */
async function nestedParameters(
  svc: OrchestrationService,
  loaded: LoadedStack,
  files: Record<string, string>,
  tenant: string,
  depth = 0,
): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  if (depth > 5) return out;
  const ctx = resolveContext(
    loaded,
    { id: 'None', name: 'validate', projectId: tenant, region: svc.region },
    new Map(),
    (n) => svc.pluginOf(loaded, n),
  );
  for (const [name, def] of Object.entries(loaded.defs)) {
    const kind = loaded.kinds[name]!;
    if (!('template' in kind)) continue;
    let props: Record<string, unknown> = {};
    try {
      props = (def.properties ? resolve(def.properties, loaded.template, ctx) : {}) as Record<string, unknown>;
    } catch {
      /* unresolvable values are shown without a Value */
    }
    let inner: LoadedStack;
    try {
      inner = await loadStack(svc.registry, kind.template, emptyEnvironment(), files, props, { strict: false });
    } catch {
      // Properties that are no parameters of the nested template: its parameters are shown without Values.
      try {
        inner = await loadStack(svc.registry, kind.template, emptyEnvironment(), files, {}, { strict: false });
      } catch {
        continue;
      }
    }
    const params: Record<string, unknown> = {};
    for (const [k, p] of Object.entries(inner.template.parameters)) params[k] = parameterView(k, p, undefined, props);
    const entry: Record<string, unknown> = {
      Description: inner.template.description || 'No description',
      Parameters: params,
      Type: def.type,
    };
    const deeper = await nestedParameters(svc, inner, files, tenant, depth + 1);
    if (Object.keys(deeper).length) entry.NestedParameters = deeper;
    out[name] = entry;
  }
  return out;
}

function placeholderOf(type: string, s: Record<string, unknown>): unknown {
  const allowed = ((s.constraints ?? []) as Array<Record<string, unknown>>).find((c) => Array.isArray(c.allowed_values))
    ?.allowed_values as unknown[] | undefined;
  if (allowed?.length) return allowed[0];
  switch (type) {
    case 'number':
      return 0;
    case 'boolean':
      return false;
    case 'comma_delimited_list':
      return [];
    case 'json':
      return {};
    default:
      return '';
  }
}
