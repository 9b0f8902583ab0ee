// /v1/{tenant_id}/stacks: create, preview, list, show, update (PUT and PATCH), delete, abandon,
// adopt, export, actions, outputs, template/environment/files, snapshots.
import type { FastifyReply, FastifyRequest } from 'fastify';
import YAML from 'yaml';
import { ApiError } from '../../core/errors.ts';
import { resolve } from '../template/index.ts';
import {
  type LoadedStack,
  identityOf,
  loadStack,
  loadStored,
  requestEnvironment,
  resolveContext,
  resolveOutputs,
} from '../engine/stack.ts';
import type { Caller, StackRequest } from '../engine/engine.ts';
import { validateProperties } from '../resources/plugin.ts';
import { toHeatApiError } from '../errors.ts';
import type { OrchestrationService } from '../service.ts';
import type { StackRow } from '../stacks.ts';
import {
  attrRefs,
  bodyOf,
  callerOf,
  enforce,
  engineCall,
  heatTime,
  list,
  params,
  query,
  stackOf,
  stackUrl,
  truthy,
  withLiveAttributes,
} from './common.ts';

const PSEUDO = ['OS::stack_id', 'OS::stack_name', 'OS::project_id'];

/** The stack document of list (summary) and show (detail). */
export async function stackView(
  svc: OrchestrationService,
  /** The API's base URL (the request, or heat-api-cfn's call). */
  req: { baseUrl: string },
  row: StackRow,
  detail: boolean,
  /** Stack show: the outputs read the attributes live, as this caller. */
  live?: Caller,
) {
  const view: Record<string, unknown> = {
    id: row.id,
    stack_name: row.name,
    description: typeof row.template.description === 'string' ? row.template.description : '',
    creation_time: heatTime(row.created_at),
    updated_time: heatTime(row.updated_at),
    deletion_time: heatTime(row.deleted_at),
    stack_status: `${row.action}_${row.status}`,
    stack_status_reason: row.status_reason,
    stack_owner: row.username,
    parent: row.owner_id,
    stack_user_project_id: row.stack_user_project_id ?? row.project_id,
    tags: row.tags.length ? row.tags : null,
    links: [{ href: stackUrl(req, row), rel: 'self' }],
  };
  if (!detail) return view;
  let loaded: LoadedStack | null = null;
  try {
    loaded = await loadStored(svc.registry, row);
  } catch {
    /* a stack whose stored template no longer loads shows without parameters and outputs */
  }
  const parameters: Record<string, unknown> = {
    'OS::stack_id': row.id,
    'OS::stack_name': row.name,
    'OS::project_id': row.project_id,
  };
  if (loaded)
    for (const [k, schema] of Object.entries(loaded.template.parameters)) {
      if (PSEUDO.includes(k)) continue;
      const v = loaded.params[k];
      const hidden = (schema as { hidden?: boolean }).hidden;
      parameters[k] = hidden
        ? '******'
        : typeof v === 'string'
          ? v
          : v === undefined || v === null
            ? ''
            : Array.isArray(v)
              ? v.join(',')
              : JSON.stringify(v);
    }
  Object.assign(view, {
    disable_rollback: row.disable_rollback,
    timeout_mins: row.timeout_mins,
    notification_topics: [],
    capabilities: [],
    parameters,
    template_description: view.description,
    outputs:
      loaded && row.action !== 'DELETE' && Object.keys(loaded.template.outputs).length
        ? resolveOutputs(loaded, identityOf(row, svc.region), await outputRows(svc, row, loaded, live), (n) =>
            svc.pluginOf(loaded!, n),
          )
        : [],
  });
  return view;
}

async function resourceMap(svc: OrchestrationService, row: StackRow) {
  return new Map((await svc.store.resources(row.id)).map((r) => [r.name, r]));
}

/** The rows the outputs resolve over: with a caller, the attributes they read are live. */
async function outputRows(svc: OrchestrationService, row: StackRow, loaded: LoadedStack, live?: Caller) {
  const rows = await resourceMap(svc, row);
  if (!live) return rows;
  return withLiveAttributes(svc, live, row.id, rows, attrRefs(loaded.template.outputs));
}

/** The request body of a create/update/preview: the template (given or fetched) and the rest. */
async function stackRequest(body: Record<string, unknown>, needName: boolean): Promise<StackRequest> {
  if (needName && (typeof body.stack_name !== 'string' || !body.stack_name))
    throw new ApiError(400, 'No stack name specified', 'HTTPBadRequest');
  let template = body.template;
  if ((template === undefined || template === null) && typeof body.template_url === 'string') {
    try {
      const res = await fetch(body.template_url);
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      template = await res.text();
    } catch (e) {
      throw new ApiError(
        400,
        `Could not retrieve template: Failed to retrieve template: ${(e as Error).message}`,
        'HTTPBadRequest',
      );
    }
  }
  const files = (body.files ?? {}) as Record<string, string>;
  if (typeof files !== 'object' || Array.isArray(files))
    throw new ApiError(400, 'files must be a map', 'HTTPBadRequest');
  const parameters = body.parameters ?? {};
  if (typeof parameters !== 'object' || Array.isArray(parameters))
    throw new ApiError(400, 'parameters must be a map', 'HTTPBadRequest');
  let timeout: number | null = null;
  if (body.timeout_mins !== undefined && body.timeout_mins !== null) {
    timeout = Number(body.timeout_mins);
    if (!Number.isInteger(timeout) || timeout < 0)
      throw new ApiError(400, `Only integer is acceptable by 'timeout_mins'.`, 'HTTPBadRequest');
  }
  let tags: string[] | undefined;
  if (typeof body.tags === 'string') tags = body.tags ? body.tags.split(',') : [];
  else if (Array.isArray(body.tags)) tags = body.tags.map(String);
  let adopt: Record<string, unknown> | undefined;
  if (body.adopt_stack_data !== undefined) {
    const a = typeof body.adopt_stack_data === 'string' ? safeJson(body.adopt_stack_data) : body.adopt_stack_data;
    if (!a || typeof a !== 'object')
      throw new ApiError(400, 'Invalid adopt data: must be a JSON object.', 'HTTPBadRequest');
    adopt = a as Record<string, unknown>;
    if (template === undefined) template = adopt.template;
  }
  const disable = body.disable_rollback;
  return {
    stack_name: body.stack_name as string,
    template,
    files,
    environment: body.environment,
    environment_files: Array.isArray(body.environment_files) ? body.environment_files.map(String) : undefined,
    parameters: Object.fromEntries(Object.entries(parameters as Record<string, unknown>)),
    timeout_mins: timeout,
    disable_rollback:
      disable === undefined ? true : disable === true || (typeof disable === 'string' && truthy(disable)),
    tags,
    adopt_stack_data: adopt,
  };
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return null;
  }
}

export function makeStackHandlers(svc: OrchestrationService) {
  /** GET …/template, /environment and /files: that stored part of the stack, as it was given. */
  const storedPart =
    (rule: string, part: 'template' | 'environment' | 'files') =>
    async (req: FastifyRequest): Promise<unknown> => {
      const tenant = enforce(req, rule);
      const p = params(req);
      return (await stackOf(svc, tenant, p.stack_name!, p.stack_id))[part];
    };
  const rpc = () => svc.engineRpc.call();
  return {
    async create(req: FastifyRequest, reply: FastifyReply) {
      const tenant = enforce(req, 'stacks:create');
      const r = await stackRequest(bodyOf(req), true);
      const count = (await svc.store.listStacks({ projectId: tenant })).length;
      if (count >= svc.options.maxStacksPerTenant)
        throw new ApiError(
          400,
          `You have reached the maximum stacks per tenant, ${svc.options.maxStacksPerTenant}. Please delete some stacks.`,
          'RequestLimitExceeded',
        );
      const ref = await engineCall(rpc().create_stack({ caller: callerOf(req, tenant), req: r }));
      const href = stackUrl(req, { project_id: tenant, name: ref.name, id: ref.id });
      reply.code(201).header('Location', href);
      return { stack: { id: ref.id, links: [{ href, rel: 'self' }] } };
    },

    async preview(req: FastifyRequest) {
      const tenant = enforce(req, 'stacks:preview');
      const r = await stackRequest(bodyOf(req), true);
      const loaded = await engineCall(
        loadStack(
          svc.registry,
          r.template,
          requestEnvironment(r.environment, r.environment_files, r.files ?? {}),
          r.files ?? {},
          r.parameters ?? {},
        ),
      );
      const id = 'None';
      /** The preview of a stack's resources; a nested stack's resources come as a list in place of its resource. */
      const previewOf = async (
        loaded: LoadedStack,
        stackName: string,
        parent: string | null,
        depth: number,
      ): Promise<unknown[]> => {
        // Nothing exists yet: get_resource gives the resource's name, as Heat's FnGetRefId does.
        const ctx = {
          ...resolveContext(loaded, { id, name: stackName, projectId: tenant, region: svc.region }, new Map(), (n) =>
            svc.pluginOf(loaded, n),
          ),
          getResource: (n: string) => n,
        };
        const requiredBy = (n: string) =>
          Object.entries(loaded.deps)
            .filter(([, d]) => d.includes(n))
            .map(([k]) => k);
        const out: unknown[] = [];
        for (const [name, def] of Object.entries(loaded.defs)) {
          // Each property resolved on its own, so that a failure names it (Heat's "Property error").
          const resolved: Record<string, unknown> = {};
          const given = (def.properties ?? {}) as Record<string, unknown>;
          for (const [k, v] of Object.entries(typeof given === 'object' && given ? given : {})) {
            try {
              resolved[k] = resolve(v, loaded.template, ctx);
            } catch (e) {
              const reason = (e as { reason?: string }).reason ?? (e as Error).message;
              throw new ApiError(
                400,
                `Property error: : resources.${name}.properties.${k}: : ${reason}`,
                'StackValidationFailed',
              );
            }
          }
          const kind = loaded.kinds[name];
          const plugin = svc.pluginOf(loaded, name);
          let nestedTemplate: unknown;
          let nestedParams: Record<string, unknown> = {};
          if (kind && 'template' in kind) {
            nestedTemplate = kind.template;
            nestedParams = resolved;
          } else if (plugin.type === 'OS::Heat::ResourceGroup' && isMapValue(resolved.resource_def)) {
            const count = Number(resolved.count ?? 1);
            const defText = JSON.stringify(resolved.resource_def);
            nestedTemplate = {
              heat_template_version: '2015-04-30',
              resources: Object.fromEntries(
                Array.from({ length: Number.isFinite(count) ? Math.min(count, 1000) : 0 }, (_, i) => [
                  String(i),
                  JSON.parse(defText.replaceAll('%index%', String(i))),
                ]),
              ),
            };
          }
          if (nestedTemplate !== undefined && depth < svc.options.maxNestedStackDepth) {
            const nested = await engineCall(
              loadStack(svc.registry, nestedTemplate, { ...loaded.env, parameters: {} }, loaded.files, nestedParams, {
                strict: false,
              }),
            );
            out.push(await previewOf(nested, `${stackName}-${name}`, name, depth + 1));
            continue;
          }
          let properties: unknown = resolved;
          try {
            if (!plugin.anyProperties) properties = validateProperties(plugin.properties, resolved);
          } catch {
            /* shown as resolved */
          }
          const attributes = Object.fromEntries(Object.keys(plugin.attributes).map((a) => [a, null]));
          out.push({
            attributes,
            resource_name: name,
            resource_type: def.type,
            resource_action: 'INIT',
            resource_status: 'COMPLETE',
            resource_status_reason: '',
            resource_identity: { stack_name: stackName, stack_id: id, tenant, path: `/resources/${name}` },
            stack_identity: { stack_name: stackName, stack_id: id, tenant, path: '' },
            stack_name: stackName,
            logical_resource_id: name,
            physical_resource_id: '',
            properties,
            required_by: requiredBy(name),
            description: '',
            metadata: {},
            creation_time: null,
            updated_time: null,
            ...(parent ? { parent_resource: parent } : {}),
          });
        }
        return out;
      };
      const resources = await previewOf(loaded, r.stack_name, null, 0);
      return {
        stack: {
          id,
          stack_name: r.stack_name,
          description: loaded.template.description || 'No description',
          template_description: loaded.template.description || 'No description',
          disable_rollback: r.disable_rollback,
          timeout_mins: r.timeout_mins,
          parameters: {
            'OS::stack_id': id,
            'OS::stack_name': r.stack_name,
            'OS::project_id': tenant,
            ...stringParams(loaded.params),
          },
          stack_owner: req.context.auth?.userName,
          creation_time: null,
          updated_time: null,
          deletion_time: null,
          capabilities: [],
          notification_topics: [],
          parent: null,
          links: [{ href: `${req.baseUrl}/v1/${tenant}/stacks/${r.stack_name}/${id}`, rel: 'self' }],
          resources,
        },
      };
    },

    async index(req: FastifyRequest, detailRoute = false) {
      const tenant = enforce(req, detailRoute ? 'stacks:detail' : 'stacks:index');
      const q = query(req);
      const global = truthy(String(q.global_tenant ?? ''));
      if (global) req.authorize('stacks:global_index', { project_id: tenant });
      let rows = await svc.store.listStacks({
        projectId: global ? undefined : tenant,
        showDeleted: truthy(String(q.show_deleted ?? '')),
        showNested: truthy(String(q.show_nested ?? '')),
      });
      const filters: Array<[string, (r: StackRow) => string | null]> = [
        ['id', (r) => r.id],
        ['name', (r) => r.name],
        ['stack_name', (r) => r.name],
        ['status', (r) => r.status],
        ['action', (r) => r.action],
        ['tenant', (r) => r.project_id],
        ['username', (r) => r.username],
        ['owner_id', (r) => r.owner_id],
        ['stack_status', (r) => `${r.action}_${r.status}`],
      ];
      for (const [k, get] of filters) {
        const want = list(q[k]);
        if (want.length) rows = rows.filter((r) => want.includes(get(r) ?? ''));
      }
      // Heat's hidden_stack_tags: stacks with them are listed only with show_hidden.
      if (!truthy(String(q.show_hidden ?? ''))) rows = rows.filter((r) => !r.tags.includes('data-processing-cluster'));
      const tagsOf = (v: string | string[] | undefined) =>
        list(v)
          .flatMap((t) => t.split(','))
          .filter(Boolean);
      const tags = tagsOf(q.tags),
        anyTags = tagsOf(q.tags_any),
        notTags = tagsOf(q.not_tags),
        notAny = tagsOf(q.not_tags_any);
      if (tags.length) rows = rows.filter((r) => tags.every((t) => r.tags.includes(t)));
      if (anyTags.length) rows = rows.filter((r) => anyTags.some((t) => r.tags.includes(t)));
      if (notTags.length) rows = rows.filter((r) => !notTags.every((t) => r.tags.includes(t)));
      if (notAny.length) rows = rows.filter((r) => !notAny.some((t) => r.tags.includes(t)));
      const sortKeys = list(q.sort_keys).flatMap((s) => s.split(','));
      const keyMap: Record<string, keyof StackRow> = {
        stack_name: 'name',
        stack_status: 'status',
        creation_time: 'created_at',
        updated_time: 'updated_at',
        name: 'name',
        status: 'status',
        created_at: 'created_at',
        updated_at: 'updated_at',
      };
      for (const k of sortKeys) if (!keyMap[k]) throw new ApiError(400, `Invalid sort key ${k}`, 'HTTPBadRequest');
      const dir = String(q.sort_dir ?? 'desc');
      if (!['asc', 'desc'].includes(dir)) throw new ApiError(400, `Invalid sort direction ${dir}`, 'HTTPBadRequest');
      const key = keyMap[sortKeys[0] ?? 'created_at']!;
      rows.sort((a, b) => {
        const c = String(a[key] ?? '').localeCompare(String(b[key] ?? '')) || a.id.localeCompare(b.id);
        return dir === 'asc' ? c : -c;
      });
      const total = rows.length;
      if (typeof q.marker === 'string') {
        const i = rows.findIndex((r) => r.id === q.marker);
        if (i < 0) throw new ApiError(404, `The Stack (${q.marker}) could not be found.`, 'EntityNotFound');
        rows = rows.slice(i + 1);
      }
      if (q.limit !== undefined) {
        const n = Number(q.limit);
        if (!Number.isInteger(n) || n < 0)
          throw new ApiError(400, `Only integer is acceptable by 'limit'.`, 'HTTPBadRequest');
        rows = rows.slice(0, n);
      }
      const stacks = [];
      for (const r of rows) {
        const v = await stackView(svc, req, r, detailRoute);
        if (global) v.project = r.project_id;
        stacks.push(v);
      }
      const out: Record<string, unknown> = { stacks };
      if (truthy(String(q.with_count ?? ''))) out.count = total;
      return out;
    },

    async show(req: FastifyRequest) {
      const tenant = enforce(req, 'stacks:show');
      const p = params(req);
      const row = await stackOf(svc, tenant, p.stack_name!, p.stack_id);
      return { stack: await stackView(svc, req, row, true, callerOf(req, tenant)) };
    },

    async update(req: FastifyRequest, reply: FastifyReply, patch: boolean) {
      const tenant = enforce(req, patch ? 'stacks:update_patch' : 'stacks:update');
      const p = params(req);
      const row = await stackOf(svc, tenant, p.stack_name!, p.stack_id);
      const body = bodyOf(req);
      const r = await stackRequest({ ...body, stack_name: row.name }, false);
      const upd = {
        ...r,
        existing: patch,
        clear_parameters: Array.isArray(body.clear_parameters) ? body.clear_parameters.map(String) : undefined,
        disable_rollback: body.disable_rollback === undefined ? undefined : r.disable_rollback,
        // PUT replaces the tags (none given: none left); PATCH keeps them unless given.
        tags: body.tags === undefined || body.tags === null ? (patch ? undefined : []) : r.tags,
        timeout_mins: body.timeout_mins === undefined ? undefined : r.timeout_mins,
        template: r.template,
      };
      if (!patch && upd.template === undefined) throw new ApiError(400, 'No template specified', 'HTTPBadRequest');
      await engineCall(rpc().update_stack({ caller: callerOf(req, tenant), stack_id: row.id, req: upd }));
      reply.code(202);
      return null;
    },

    async previewUpdate(req: FastifyRequest, patch: boolean) {
      const tenant = enforce(req, patch ? 'stacks:preview_update_patch' : 'stacks:preview_update');
      const p = params(req);
      const row = await stackOf(svc, tenant, p.stack_name!, p.stack_id);
      const body = bodyOf(req);
      const r = await stackRequest({ ...body, stack_name: row.name }, false);
      const template = r.template ?? (patch ? row.template : undefined);
      const files = patch ? { ...row.files, ...(r.files ?? {}) } : (r.files ?? {});
      const parameters = patch ? { ...row.params, ...(r.parameters ?? {}) } : (r.parameters ?? {});
      const loaded = await engineCall(
        loadStack(
          svc.registry,
          template,
          requestEnvironment(r.environment ?? (patch ? row.environment : {}), r.environment_files, files),
          files,
          parameters,
        ),
      );
      const current = await svc.store.resources(row.id);
      const byName = new Map(current.map((x) => [x.name, x]));
      const out: Record<string, unknown[]> = { added: [], deleted: [], replaced: [], unchanged: [], updated: [] };
      const brief = (name: string, type: string) => ({
        resource_name: name,
        resource_type: type,
        resource_action: 'INIT',
        resource_status: 'COMPLETE',
        stack_name: row.name,
        stack_identity: { stack_name: row.name, stack_id: row.id, tenant, path: '' },
      });
      const ctx = resolveContext(loaded, identityOf(row, svc.region), byName, (n) => svc.pluginOf(loaded, n));
      for (const [name, def] of Object.entries(loaded.defs)) {
        const cur = byName.get(name);
        if (!cur) out.added!.push(brief(name, def.type));
        else if (cur.type !== def.type) out.replaced!.push(brief(name, def.type));
        else {
          let props: unknown = def.properties ?? {};
          try {
            props = resolve(def.properties ?? {}, loaded.template, ctx);
          } catch {
            /* compared unresolved */
          }
          const plugin = svc.pluginOf(loaded, name);
          const changed = Object.keys({ ...(props as object), ...cur.properties }).filter(
            (k) =>
              JSON.stringify((props as Record<string, unknown>)[k] ?? null) !==
              JSON.stringify(cur.properties[k] ?? plugin.properties[k]?.default ?? null),
          );
          if (!changed.length) out.unchanged!.push(brief(name, def.type));
          else if (changed.every((k) => plugin.anyProperties || plugin.properties[k]?.update_allowed))
            out.updated!.push(brief(name, def.type));
          else out.replaced!.push(brief(name, def.type));
        }
      }
      for (const c of current) if (!(c.name in loaded.defs)) out.deleted!.push(brief(c.name, c.type));
      return { resource_changes: out };
    },

    async remove(req: FastifyRequest, reply: FastifyReply) {
      const tenant = enforce(req, 'stacks:delete');
      const p = params(req);
      const row = await stackOf(svc, tenant, p.stack_name!, p.stack_id);
      if (row.deleted_at)
        throw toHeatApiError(
          new (await import('../errors.ts')).HeatError('EntityNotFound', `The Stack (${row.name}) could not be found.`),
        );
      await engineCall(rpc().delete_stack({ caller: callerOf(req, tenant), stack_id: row.id }));
      reply.code(204);
      return null;
    },

    async abandon(req: FastifyRequest) {
      const tenant = enforce(req, 'stacks:abandon');
      const p = params(req);
      const row = await stackOf(svc, tenant, p.stack_name!, p.stack_id);
      return engineCall(rpc().abandon_stack({ caller: callerOf(req, tenant), stack_id: row.id }));
    },

    async exportStack(req: FastifyRequest) {
      const tenant = enforce(req, 'stacks:export');
      const p = params(req);
      const row = await stackOf(svc, tenant, p.stack_name!, p.stack_id);
      return engineCall(rpc().export_stack({ stack_id: row.id }));
    },

    template: storedPart('stacks:template', 'template'),
    environment: storedPart('stacks:environment', 'environment'),
    files: storedPart('stacks:files', 'files'),

    async outputs(req: FastifyRequest) {
      const tenant = enforce(req, 'stacks:list_outputs');
      const p = params(req);
      const row = await stackOf(svc, tenant, p.stack_name!, p.stack_id);
      const loaded = await engineCall(loadStored(svc.registry, row));
      return {
        outputs: Object.entries(loaded.template.outputs).map(([k, o]) => ({
          output_key: k,
          description: o.description ?? 'No description given',
        })),
      };
    },

    async output(req: FastifyRequest) {
      const tenant = enforce(req, 'stacks:show_output');
      const p = params(req);
      const row = await stackOf(svc, tenant, p.stack_name!, p.stack_id);
      const loaded = await engineCall(loadStored(svc.registry, row));
      if (!(p.output_key! in loaded.template.outputs))
        throw new ApiError(404, `Specified output key ${p.output_key} not found.`, 'NotFound');
      const rows = await outputRows(svc, row, loaded, callerOf(req, tenant));
      const outs = resolveOutputs(loaded, identityOf(row, svc.region), rows, (n) => svc.pluginOf(loaded, n));
      const o = outs.find((x) => x.output_key === p.output_key);
      return { output: o ?? { output_key: p.output_key, output_value: null, description: 'No description given' } };
    },

    async action(req: FastifyRequest) {
      const tenant = enforce(req, 'actions:action');
      const p = params(req);
      const body = bodyOf(req);
      const keys = Object.keys(body);
      const known = ['suspend', 'resume', 'check', 'cancel_update', 'cancel_without_rollback'];
      if (keys.length !== 1) throw new ApiError(400, 'Multiple actions specified', 'HTTPBadRequest');
      if (!known.includes(keys[0]!)) throw new ApiError(400, `Invalid action ${keys[0]} specified`, 'HTTPBadRequest');
      req.authorize(`actions:${keys[0]}`, { project_id: tenant });
      const row = await stackOf(svc, tenant, p.stack_name!, p.stack_id);
      await engineCall(rpc().stack_action({ caller: callerOf(req, tenant), stack_id: row.id, action: keys[0]! }));
      return null;
    },

    async snapshot(req: FastifyRequest) {
      const tenant = enforce(req, 'stacks:snapshot');
      const p = params(req);
      const row = await stackOf(svc, tenant, p.stack_name!, p.stack_id);
      const body = bodyOf(req);
      return engineCall(
        rpc().stack_snapshot({ stack_id: row.id, name: typeof body.name === 'string' ? body.name : null }),
      );
    },

    async snapshots(req: FastifyRequest) {
      const tenant = enforce(req, 'stacks:list_snapshots');
      const p = params(req);
      const row = await stackOf(svc, tenant, p.stack_name!, p.stack_id);
      return { snapshots: (await svc.store.snapshots(row.id)).map(snapshotView) };
    },

    async showSnapshot(req: FastifyRequest) {
      const tenant = enforce(req, 'stacks:show_snapshot');
      const p = params(req);
      const row = await stackOf(svc, tenant, p.stack_name!, p.stack_id);
      const s = await svc.store.snapshot(row.id, p.snapshot_id!);
      if (!s) throw new ApiError(404, `The Snapshot (${p.snapshot_id}) could not be found.`, 'EntityNotFound');
      return { snapshot: snapshotView(s) };
    },

    async deleteSnapshot(req: FastifyRequest, reply: FastifyReply) {
      const tenant = enforce(req, 'stacks:delete_snapshot');
      const p = params(req);
      const row = await stackOf(svc, tenant, p.stack_name!, p.stack_id);
      const s = await svc.store.snapshot(row.id, p.snapshot_id!);
      if (!s) throw new ApiError(404, `The Snapshot (${p.snapshot_id}) could not be found.`, 'EntityNotFound');
      await svc.store.deleteSnapshot(s.id);
      reply.code(204);
      return null;
    },

    async restoreSnapshot(req: FastifyRequest, reply: FastifyReply) {
      const tenant = enforce(req, 'stacks:restore_snapshot');
      const p = params(req);
      const row = await stackOf(svc, tenant, p.stack_name!, p.stack_id);
      await engineCall(
        rpc().stack_restore({ caller: callerOf(req, tenant), stack_id: row.id, snapshot_id: p.snapshot_id! }),
      );
      reply.code(202);
      return null;
    },
  };
}

function snapshotView(s: {
  id: string;
  name: string | null;
  status: string;
  status_reason: string;
  data: unknown;
  created_at: string;
}) {
  return {
    id: s.id,
    name: s.name,
    status: s.status,
    status_reason: s.status_reason,
    data: s.data,
    creation_time: heatTime(s.created_at),
  };
}

function stringParams(p: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(p).map(([k, v]) => [
      k,
      typeof v === 'string' ? v : Array.isArray(v) ? v.join(',') : YAML.stringify(v).trim(),
    ]),
  );
}

function isMapValue(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
