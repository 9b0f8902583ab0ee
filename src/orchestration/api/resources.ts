// /v1/{tenant_id}/stacks/{name}/{id}/resources and /events: list (nested_depth, with_detail,
// filters), show, metadata, signal, mark unhealthy; events per stack and per resource.
import type { FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import { refIdOf } from '../engine/stack.ts';
import { resourceNotFound, toHeatApiError } from '../errors.ts';
import type { OrchestrationService } from '../service.ts';
import type { EventRow, ResourceRow, StackRow } from '../stacks.ts';
import { serverDeployments } from './software.ts';
import {
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

/** The query's `nested_depth`: 0 when absent, a whole number from 0 up, else 400. */
function nestedDepth(v: string | string[] | undefined): number {
  if (v === undefined) return 0;
  const depth = Number(v);
  if (!Number.isInteger(depth) || depth < 0)
    throw new ApiError(400, `Only integer is acceptable by 'nested_depth'.`, 'HTTPBadRequest');
  return depth;
}

function resourceView(
  req: FastifyRequest,
  stack: StackRow,
  r: ResourceRow,
  all: ResourceRow[],
  nested: { id: string; name: string } | null,
  detail: boolean,
) {
  const base = stackUrl(req, stack);
  const links = [
    { href: `${base}/resources/${encodeURIComponent(r.name)}`, rel: 'self' },
    { href: base, rel: 'stack' },
  ];
  if (nested)
    links.push({
      href: `${req.baseUrl}/v1/${stack.project_id}/stacks/${encodeURIComponent(nested.name)}/${nested.id}`,
      rel: 'nested',
    });
  const v: Record<string, unknown> = {
    resource_name: r.name,
    logical_resource_id: r.name,
    physical_resource_id: r.physical_resource_id ?? '',
    resource_status: `${r.action}_${r.status}`,
    resource_status_reason: r.status_reason,
    resource_type: r.type,
    creation_time: heatTime(r.created_at),
    updated_time: heatTime(r.updated_at ?? r.created_at),
    required_by: all.filter((x) => x.requires.includes(r.name)).map((x) => x.name),
    links,
  };
  if (stack.owner_id) v.parent_resource = stack.parent_resource;
  if (detail) {
    v.attributes = { ...r.attributes };
    v.description = '';
    v.metadata = r.metadata;
    v.stack_name = stack.name;
    v.stack_identity = { stack_name: stack.name, stack_id: stack.id, tenant: stack.project_id, path: '' };
  }
  return v;
}

function eventView(req: FastifyRequest, stack: StackRow, e: EventRow, detail: boolean) {
  const base = stackUrl(req, stack);
  const res = `${base}/resources/${encodeURIComponent(e.resource_name)}`;
  const v: Record<string, unknown> = {
    id: e.id,
    event_time: heatTime(e.created_at),
    resource_name: e.resource_name,
    logical_resource_id: e.resource_name,
    physical_resource_id: e.physical_resource_id ?? '',
    resource_status: `${e.action}_${e.status}`,
    resource_status_reason: e.status_reason,
    links: [
      { href: `${res}/events/${e.id}`, rel: 'self' },
      { href: res, rel: 'resource' },
      { href: base, rel: 'stack' },
    ],
  };
  if (detail) {
    v.resource_type = e.resource_type;
    v.resource_properties = {};
  }
  return v;
}

export function makeResourceHandlers(svc: OrchestrationService) {
  /** The stack and its nested stacks to `depth`, each with its rows. */
  async function walk(stack: StackRow, depth: number): Promise<Array<{ stack: StackRow; rows: ResourceRow[] }>> {
    const rows = await svc.store.resources(stack.id);
    const out = [{ stack, rows }];
    if (depth > 0)
      for (const child of await svc.store.childStacks(stack.id)) out.push(...(await walk(child, depth - 1)));
    return out;
  }

  /**
   * The resource of the URL. With `stackUsers` (signal, metadata), the URL's tenant may also be
   * the stack's project in the stack domain, the caller one of its users (Heat's engine accepts
   * `stack_user_project_id` beside the stack's tenant): the stack's own tenant is answered then.
   */
  async function resourceOf(req: FastifyRequest, rule: string, stackUsers = false) {
    let tenant = enforce(req, rule);
    const p = params(req);
    let stack: StackRow;
    try {
      stack = await stackOf(svc, tenant, p.stack_name!, p.stack_id);
    } catch (e) {
      const row = stackUsers && p.stack_id ? await svc.store.getStack(p.stack_id, false) : null;
      if (!row || (row.name !== p.stack_name && row.id !== p.stack_name)) throw e;
      let root = row;
      for (let i = 0; root.owner_id && i < 20; i++) root = (await svc.store.getStack(root.owner_id)) ?? root;
      if (!root.stack_user_project_id || root.stack_user_project_id !== tenant) throw e;
      stack = row;
      tenant = row.project_id;
    }
    const r = await svc.store.resource(stack.id, p.resource_name!);
    if (!r) throw toHeatApiError(resourceNotFound(p.resource_name!, stack.name));
    return { tenant, stack, r };
  }

  return {
    async index(req: FastifyRequest) {
      const tenant = enforce(req, 'resource:index');
      const p = params(req);
      const q = query(req);
      const stack = await stackOf(svc, tenant, p.stack_name!, p.stack_id);
      const depth = nestedDepth(q.nested_depth);
      const detail = truthy(String(q.with_detail ?? ''));
      const out: Record<string, unknown>[] = [];
      for (const { stack: s, rows } of await walk(stack, depth)) {
        // By the row's physical id (see show).
        const children = new Map((await svc.store.childStacks(s.id)).map((c) => [c.id, { id: c.id, name: c.name }]));
        for (const r of rows)
          out.push(
            resourceView(
              req,
              s,
              r,
              rows,
              (r.physical_resource_id && children.get(r.physical_resource_id)) || null,
              detail,
            ),
          );
      }
      const filters: Array<[string, (v: Record<string, unknown>) => unknown]> = [
        ['type', (v) => v.resource_type],
        ['name', (v) => v.resource_name],
        ['status', (v) => String(v.resource_status).split('_').slice(1).join('_')],
        ['action', (v) => String(v.resource_status).split('_')[0]],
        ['id', (v) => v.physical_resource_id],
        ['physical_resource_id', (v) => v.physical_resource_id],
      ];
      let res = out;
      for (const [k, get] of filters) {
        const want = list(q[k]);
        if (want.length) res = res.filter((v) => want.includes(String(get(v))));
      }
      return { resources: res };
    },

    async show(req: FastifyRequest) {
      const { tenant, stack, r: stored } = await resourceOf(req, 'resource:show');
      // The attributes are read live from the resource's service (Heat's show).
      const r =
        (
          await withLiveAttributes(svc, callerOf(req, tenant), stack.id, new Map([[stored.name, stored]]), [
            stored.name,
          ])
        ).get(stored.name) ?? stored;
      const all = await svc.store.resources(stack.id);
      // The nested stack is the one the row's physical id names (Heat's nested_identifier, from
      // resource_id): the engine makes the child stack before it saves its id in the row, so a child
      // found by its parent_resource may not be in the row read before it yet.
      const child = (await svc.store.childStacks(stack.id)).find(
        (c) => !!r.physical_resource_id && c.id === r.physical_resource_id,
      );
      const v = resourceView(req, stack, r, all, child ? { id: child.id, name: child.name } : null, true);
      const plugin = svc.registry.plugins.get(r.type);
      const attrs: Record<string, unknown> = {};
      for (const k of Object.keys(plugin?.attributes ?? {})) attrs[k] = r.attributes[k] ?? null;
      Object.assign(attrs, r.attributes);
      const want = list(query(req).with_attr);
      for (const k of want)
        if (!(k in attrs) && plugin?.attribute)
          attrs[k] = plugin.attribute(
            { physicalId: r.physical_resource_id, data: r.data, attributes: r.attributes, properties: r.properties },
            k,
          );
      v.attributes = attrs;
      // Heat's resource_id or '': a plugin's own reference id only where it has one (not the name of a
      // resource that has no physical id yet, e.g. a template resource whose nested stack is being made).
      v.physical_resource_id = r.physical_resource_id ?? (plugin?.refId ? refIdOf(r, plugin) : null) ?? '';
      return { resource: v };
    },

    async metadata(req: FastifyRequest) {
      const { tenant, r } = await resourceOf(req, 'resource:metadata', true);
      // A server's metadata carries the software deployments made to it (Heat writes them there).
      if (r.type === 'OS::Nova::Server' && r.physical_resource_id) {
        const deployments = await serverDeployments(svc, r.physical_resource_id, tenant);
        const collect = r.data.os_collect_config as Record<string, unknown> | undefined;
        if (deployments.length || r.properties.user_data_format === 'SOFTWARE_CONFIG')
          return {
            metadata: { ...r.metadata, ...(collect ? { 'os-collect-config': collect } : {}), deployments },
          };
      }
      return { metadata: r.metadata };
    },

    async signal(req: FastifyRequest) {
      const { tenant, stack, r } = await resourceOf(req, 'resource:signal', true);
      await engineCall(
        svc.engineRpc.call().signal_resource({
          caller: callerOf(req, tenant),
          stack_id: stack.id,
          resource: r.name,
          details: req.body ?? null,
        }),
      );
      return null;
    },

    async markUnhealthy(req: FastifyRequest) {
      const { stack, r } = await resourceOf(req, 'resource:mark_unhealthy');
      const body = bodyOf(req);
      for (const k of Object.keys(body))
        if (!['mark_unhealthy', 'resource_status_reason'].includes(k))
          throw new ApiError(400, `Invalid key ${k} for mark unhealthy request`, 'HTTPBadRequest');
      if (typeof body.mark_unhealthy !== 'boolean') {
        const s = String(body.mark_unhealthy).toLowerCase();
        if (!['true', 'false'].includes(s))
          throw new ApiError(
            400,
            `Unrecognized value "${String(body.mark_unhealthy)}" for "mark_unhealthy", acceptable values are: true, false`,
            'HTTPBadRequest',
          );
        body.mark_unhealthy = s === 'true';
      }
      await engineCall(
        svc.engineRpc.call().mark_unhealthy({
          stack_id: stack.id,
          resource: r.name,
          unhealthy: body.mark_unhealthy as boolean,
          reason: typeof body.resource_status_reason === 'string' ? body.resource_status_reason : '',
        }),
      );
      return null;
    },

    async events(req: FastifyRequest) {
      const tenant = enforce(req, 'events:index');
      const p = params(req);
      const q = query(req);
      const stack = await stackOf(svc, tenant, p.stack_name!, p.stack_id);
      const depth = nestedDepth(q.nested_depth);
      if (
        p.resource_name &&
        !(await svc.store.resource(stack.id, p.resource_name)) &&
        !(await svc.store.events(stack.id, p.resource_name)).length
      )
        throw toHeatApiError(resourceNotFound(p.resource_name, stack.name));
      let items: Array<{ s: StackRow; e: EventRow }> = [];
      for (const { stack: s } of await walk(stack, p.resource_name ? 0 : depth))
        for (const e of await svc.store.events(s.id, p.resource_name)) items.push({ s, e });
      items.sort((a, b) => a.e.created_at.localeCompare(b.e.created_at) || a.e.seq - b.e.seq);
      const filters: Array<[string, (e: EventRow) => string]> = [
        ['resource_action', (e) => e.action],
        ['resource_status', (e) => e.status],
        ['resource_name', (e) => e.resource_name],
        ['resource_type', (e) => e.resource_type],
      ];
      for (const [k, get] of filters) {
        const want = list(q[k]);
        if (want.length) items = items.filter(({ e }) => want.includes(get(e)));
      }
      if (String(q.sort_dir ?? 'asc') === 'desc') items.reverse();
      if (typeof q.marker === 'string') {
        const i = items.findIndex(({ e }) => e.id === q.marker);
        if (i < 0) throw new ApiError(404, `The Event (${q.marker}) could not be found.`, 'EntityNotFound');
        items = items.slice(i + 1);
      }
      if (q.limit !== undefined) {
        const n = Number(q.limit);
        if (!Number.isInteger(n) || n < 0)
          throw new ApiError(400, `Only integer is acceptable by 'limit'.`, 'HTTPBadRequest');
        items = items.slice(0, n);
      }
      return {
        events: items.map(({ s, e }) => {
          const v = eventView(req, s, e, false);
          if (depth > 0 && !p.resource_name) v.root_stack_id = stack.id;
          return v;
        }),
      };
    },

    async event(req: FastifyRequest) {
      const tenant = enforce(req, 'events:show');
      const p = params(req);
      const stack = await stackOf(svc, tenant, p.stack_name!, p.stack_id);
      const e = await svc.store.event(p.event_id!);
      if (!e || e.stack_id !== stack.id || e.resource_name !== p.resource_name)
        throw new ApiError(404, `The Event (${p.event_id}) could not be found.`, 'EntityNotFound');
      return { event: eventView(req, stack, e, true) };
    },
  };
}
