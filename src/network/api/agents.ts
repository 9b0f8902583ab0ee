// Agents (`agent`), the DHCP and L3 schedulers' API (`dhcp_agent_scheduler`,
// `l3_agent_scheduler`) and availability zones (`availability_zone`,
// `network_availability_zone`, `router_availability_zone`), as neutron's agents_db,
// agentschedulers_db and l3_agentschedulers_db answer them. Agents appear by reporting their
// state over the bus (agent/server.ts); the API lists, updates and deletes them.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import type { NetworkService } from '../service.ts';
import type { ResourceApi, Tx } from './resource.ts';
import { badInput, invalidInput, toBoolean, toString } from './validate.ts';
import { pyStr } from '../../core/python.ts';
import { AGENT_TYPE_DHCP, AGENT_TYPE_L3 } from '../agent/rpc.ts';
import { RESERVED_DHCP_PORT, dhcpDeviceId } from '../agent/server.ts';
import { extrasState } from './extras_state.ts';
import { NetworkContext } from '../context.ts';
import { dynamic } from '../db/schema.ts';

const agentNotFound = (id: string) => new ApiError(404, `Agent ${id} could not be found.`, 'AgentNotFound');

export function defineAgents(svc: NetworkService) {
  const server = () => extrasState(svc).server;
  svc.define({
    singular: 'agent',
    plural: 'agents',
    table: 'agents',
    owned: false,
    standard: false,
    attrs: {
      agent_type: {},
      binary: {},
      topic: {},
      host: {},
      admin_state_up: { type: 'boolean', put: true, validate: (v, n) => toBoolean(v, n) },
      created_at: {},
      started_at: {},
      heartbeat_timestamp: {},
      alive: { column: false, type: 'boolean' },
      configurations: { type: 'json', filter: false },
      description: { put: true, validate: (v, n) => (v === null ? null : toString(v, n, 255)) },
      availability_zone: {},
      resource_versions: { type: 'json', filter: false },
      resources_synced: { type: 'boolean' },
    },
    filters: {
      alive: (q, values) => {
        const wanted = values.map((v) => toBoolean(v, 'alive'));
        if (wanted.includes(true) && wanted.includes(false)) return q;
        return q.where('agents.heartbeat_timestamp', wanted[0] ? '>=' : '<', server().aliveSince());
      },
    },
    notFound: agentNotFound,
    async expand(views) {
      for (const v of views) {
        v.alive = server().isAlive(v.heartbeat_timestamp);
        v.configurations ??= {};
        v.resource_versions ??= {};
      }
    },
    async committed(event, view) {
      if (event === 'delete') server().forgetAgent(view.id);
      else await server().reloadAgents();
    },
  });
}

/** Computed availability_zones and validated availability_zone_hints of networks and routers. */
function extendWithZones(
  svc: NetworkService,
  plural: 'networks' | 'routers',
  agentType: string,
  bindings: string,
  idColumn: string,
  agentColumn: string,
) {
  svc.extend(plural, {
    attrs: {
      availability_zone_hints: {
        type: 'json',
        post: true,
        default: [],
        filter: false,
        validate: (v, n) => {
          if (!Array.isArray(v)) throw badInput(n, `'${pyStr(v)}' is not a list`);
          const dup = v.find((x, i) => v.indexOf(x) !== i);
          if (dup !== undefined) throw badInput(n, `Duplicate items in the list: '${pyStr(dup)}'`);
          for (const x of v) if (typeof x !== 'string') throw badInput(n, `'${pyStr(x)}' is not a valid string`);
          // neutron_lib's AZ_HINTS_DB_LEN: the hints are stored as one JSON string.
          if (JSON.stringify(v).length > 255) throw invalidInput('Too many availability_zone_hints specified');
          return v;
        },
      },
      availability_zones: { column: false, filter: false },
    },
    async beforeCreate(values, _req, tx) {
      const hints = (values.availability_zone_hints ?? []) as string[];
      if (!hints.length) return;
      const known = new Set(
        (await tx.selectFrom('agents').select('availability_zone').where('agent_type', '=', agentType).execute()).map(
          (r) => r.availability_zone,
        ),
      );
      const missing = hints.find((h) => !known.has(h));
      if (missing !== undefined)
        throw new ApiError(404, `AvailabilityZone ${missing} could not be found.`, 'AvailabilityZoneNotFound');
    },
    async expand(views, _req, tx) {
      const ids = views.map((v) => v.id);
      const rows = await dynamic(tx)
        .selectFrom(bindings)
        .innerJoin('agents', 'agents.id', `${bindings}.${agentColumn}`)
        .select([`${bindings}.${idColumn} as rid`, 'agents.availability_zone as az'])
        .where(`${bindings}.${idColumn}`, 'in', ids)
        .execute();
      const zones = new Map<string, Set<string>>();
      for (const r of rows as Array<{ rid: string; az: string | null }>)
        if (r.az) zones.set(r.rid, (zones.get(r.rid) ?? new Set()).add(r.az));
      for (const v of views) {
        v.availability_zones = [...(zones.get(v.id) ?? [])].sort();
        v.availability_zone_hints ??= [];
      }
    },
  });
}

export function extendForAgents(svc: NetworkService) {
  const server = () => extrasState(svc).server;
  if (svc.resources.has('networks'))
    extendWithZones(svc, 'networks', AGENT_TYPE_DHCP, 'networkdhcpagentbindings', 'network_id', 'dhcp_agent_id');
  if (svc.resources.has('routers'))
    extendWithZones(svc, 'routers', AGENT_TYPE_L3, 'routerl3agentbindings', 'router_id', 'l3_agent_id');
  // A network gets its DHCP agent when it gets a DHCP-enabled subnet or a port, before the request
  // returns (upstream's DhcpAgentNotifyAPI schedules in the request too).
  if (svc.resources.has('subnets'))
    svc.extend('subnets', {
      async committed(event, view) {
        if (event === 'create' && view.enable_dhcp) await server().scheduleNetwork(view.network_id);
      },
    });
  if (svc.resources.has('ports'))
    svc.extend('ports', {
      async committed(event, view) {
        if (event === 'create' && view.device_owner !== 'network:dhcp' && view.device_id !== RESERVED_DHCP_PORT)
          await server().scheduleNetwork(view.network_id);
      },
    });
}

/** The agents of a type by id, 404 when missing (as `_get_agent`). */
async function agentById(svc: NetworkService, id: string) {
  const a = await svc.db.selectFrom('agents').selectAll().where('id', '=', id).executeTakeFirst();
  if (!a) throw agentNotFound(id);
  return a;
}

async function presentAll<V extends object>(
  api: ResourceApi<V>,
  ctx: NetworkContext,
  ids: string[],
): Promise<Array<Record<string, unknown>>> {
  if (!ids.length) return [];
  const rows = await api.baseQuery(ctx).where(`${api.spec.table}.id`, 'in', ids).execute();
  return Promise.all((await api.views(rows, ctx)).map((v) => api.present(v, ctx)));
}

export function agentRoutes(app: FastifyInstance, svc: NetworkService) {
  const agents = () => svc.resource('agents');
  const state = () => extrasState(svc);
  const enforce = (ctx: NetworkContext, rule: string) => agents().enforce(ctx, rule, {});
  const body = (req: FastifyRequest, key: string): string => {
    const b = req.body as Record<string, unknown> | undefined;
    if (!b || typeof b !== 'object' || typeof b[key] !== 'string')
      throw new ApiError(
        400,
        `Invalid input for ${key}. Reason: '${pyStr(b?.[key])}' is not a valid UUID.`,
        'HTTPBadRequest',
      );
    return b[key] as string;
  };
  const created = (reply: FastifyReply) => {
    reply.code(201).header('content-type', 'application/json');
    return reply.send('null');
  };

  // ---- DHCP agent scheduler ----
  app.get('/v2.0/agents/:id/dhcp-networks', async (req) => {
    const ctx = NetworkContext.of(req.context);
    enforce(ctx, 'get_dhcp-networks');
    const { id } = req.params as { id: string };
    await agentById(svc, id);
    const ids = (
      await svc.db.selectFrom('networkdhcpagentbindings').select('network_id').where('dhcp_agent_id', '=', id).execute()
    ).map((r) => r.network_id);
    return { networks: await presentAll(svc.resource('networks'), ctx, ids) };
  });
  app.post('/v2.0/agents/:id/dhcp-networks', async (req, reply) => {
    const ctx = NetworkContext.of(req.context);
    enforce(ctx, 'create_dhcp-network');
    const { id } = req.params as { id: string };
    const networkId = body(req, 'network_id');
    await svc.resource('networks').load(ctx, networkId);
    const agent = await agentById(svc, id);
    if (agent.agent_type !== AGENT_TYPE_DHCP || !agent.admin_state_up)
      throw new ApiError(404, `Agent ${id} is not a valid DHCP Agent or has been disabled.`, 'InvalidDHCPAgent');
    try {
      await svc.db
        .insertInto('networkdhcpagentbindings')
        .values({ network_id: networkId, dhcp_agent_id: id })
        .execute();
    } catch {
      throw new ApiError(
        409,
        `The network ${networkId} has been already hosted by the DHCP Agent ${id}.`,
        'NetworkHostedByDHCPAgent',
      );
    }
    svc.notify(ctx, 'dhcp_agent.network.add', { agent_id: id, network_id: networkId });
    state().notifier.networkAddedToAgent(agent.host, networkId);
    return created(reply);
  });
  app.delete('/v2.0/agents/:id/dhcp-networks/:network_id', async (req, reply) => {
    const ctx = NetworkContext.of(req.context);
    enforce(ctx, 'delete_dhcp-network');
    const { id, network_id: networkId } = req.params as { id: string; network_id: string };
    const agent = await agentById(svc, id);
    const deleted = await svc.db
      .deleteFrom('networkdhcpagentbindings')
      .where('network_id', '=', networkId)
      .where('dhcp_agent_id', '=', id)
      .executeTakeFirst();
    if (!Number(deleted.numDeletedRows))
      throw new ApiError(
        409,
        `The network ${networkId} is not hosted by the DHCP Agent ${id}.`,
        'NetworkNotHostedByDhcpAgent',
      );
    // The agent's port is kept for whichever agent serves the network next (its address is reused).
    const ports = svc.resource('ports');
    const mine = await ports
      .baseQuery(state().server.context())
      .where('ports.device_id', '=', dhcpDeviceId(agent.host, networkId))
      .execute();
    for (const p of await ports.views(mine, state().server.context()))
      await state().server.updateResource(ports, p, { device_id: RESERVED_DHCP_PORT });
    svc.notify(ctx, 'dhcp_agent.network.remove', { agent_id: id, network_id: networkId });
    state().notifier.networkRemovedFromAgent(agent.host, networkId);
    reply.code(204);
    return reply.send();
  });
  app.get('/v2.0/networks/:id/dhcp-agents', async (req) => {
    const ctx = NetworkContext.of(req.context);
    enforce(ctx, 'get_dhcp-agents');
    const { id } = req.params as { id: string };
    const ids = (
      await svc.db.selectFrom('networkdhcpagentbindings').select('dhcp_agent_id').where('network_id', '=', id).execute()
    ).map((r) => r.dhcp_agent_id);
    return { agents: await presentAll(agents(), ctx, ids) };
  });

  // ---- L3 agent scheduler ----
  if (svc.resources.has('routers')) {
    const routers = () => svc.resource('routers');
    app.get('/v2.0/agents/:id/l3-routers', async (req) => {
      const ctx = NetworkContext.of(req.context);
      enforce(ctx, 'get_l3-routers');
      const { id } = req.params as { id: string };
      await agentById(svc, id);
      const ids = (
        await svc.db.selectFrom('routerl3agentbindings').select('router_id').where('l3_agent_id', '=', id).execute()
      ).map((r) => r.router_id);
      return { routers: await presentAll(routers(), ctx, ids) };
    });
    app.post('/v2.0/agents/:id/l3-routers', async (req, reply) => {
      const ctx = NetworkContext.of(req.context);
      enforce(ctx, 'create_l3-router');
      const { id } = req.params as { id: string };
      const routerId = body(req, 'router_id');
      await routers().load(ctx, routerId);
      const agent = await agentById(svc, id);
      if (agent.agent_type !== AGENT_TYPE_L3 || !agent.admin_state_up)
        throw new ApiError(404, `Agent ${id} is not a L3 Agent or has been disabled`, 'InvalidL3Agent');
      const bound = await svc.db
        .selectFrom('routerl3agentbindings')
        .select('l3_agent_id')
        .where('router_id', '=', routerId)
        .executeTakeFirst();
      if (bound && bound.l3_agent_id !== id)
        throw new ApiError(
          409,
          `The router ${routerId} has been already hosted by the L3 Agent ${bound.l3_agent_id}.`,
          'RouterHostedByL3Agent',
        );
      if (!bound) {
        await svc.db.insertInto('routerl3agentbindings').values({ router_id: routerId, l3_agent_id: id }).execute();
        svc.notify(ctx, 'l3_agent.router.add', { agent_id: id, router_id: routerId });
        state().notifier.routerAddedToAgent(agent.host, routerId);
      }
      return created(reply);
    });
    app.delete('/v2.0/agents/:id/l3-routers/:router_id', async (req, reply) => {
      const ctx = NetworkContext.of(req.context);
      enforce(ctx, 'delete_l3-router');
      const { id, router_id: routerId } = req.params as { id: string; router_id: string };
      const agent = await agentById(svc, id);
      await svc.db
        .deleteFrom('routerl3agentbindings')
        .where('router_id', '=', routerId)
        .where('l3_agent_id', '=', id)
        .execute();
      await routers().load(ctx, routerId);
      svc.notify(ctx, 'l3_agent.router.remove', { agent_id: id, router_id: routerId });
      state().notifier.routerRemovedFromAgent(agent.host, routerId);
      reply.code(204);
      return reply.send();
    });
    app.get('/v2.0/routers/:id/l3-agents', async (req) => {
      const ctx = NetworkContext.of(req.context);
      enforce(ctx, 'get_l3-agents');
      const { id } = req.params as { id: string };
      const ids = (
        await svc.db.selectFrom('routerl3agentbindings').select('l3_agent_id').where('router_id', '=', id).execute()
      ).map((r) => r.l3_agent_id);
      return { agents: await presentAll(agents(), ctx, ids) };
    });
  }

  // ---- availability zones ----
  app.get('/v2.0/availability_zones', async (req) => {
    const ctx = NetworkContext.of(req.context);
    agents().enforce(ctx, 'get_availability_zone', {});
    const query = req.query as Record<string, string | string[]>;
    const list = (k: string) => {
      const v = query[k];
      return v === undefined ? undefined : ([] as string[]).concat(v);
    };
    for (const k of Object.keys(query)) {
      if (
        !['name', 'resource', 'state', 'fields', 'sort_key', 'sort_dir', 'limit', 'marker', 'page_reverse'].includes(k)
      )
        throw new ApiError(400, `[${k}] is invalid attribute for filtering`, 'HTTPBadRequest');
    }
    const zones = await availabilityZones(svc.db);
    const fields = (list('fields') ?? []).flatMap((f) => f.split(',')).filter(Boolean);
    return {
      availability_zones: zones
        .filter((z) =>
          (['name', 'resource', 'state'] as const).every((k) => {
            const w = list(k);
            return !w || w.includes(z[k]);
          }),
        )
        .map((z) => (fields.length ? Object.fromEntries(Object.entries(z).filter(([k]) => fields.includes(k))) : z)),
    };
  });
}

/** Zones are the availability_zone of DHCP agents (for networks) and L3 agents (for routers); available when one is enabled. */
export async function availabilityZones(db: Tx): Promise<Array<{ name: string; resource: string; state: string }>> {
  const rows = await db
    .selectFrom('agents')
    .select(['agent_type', 'availability_zone', 'admin_state_up'])
    .where('agent_type', 'in', [AGENT_TYPE_DHCP, AGENT_TYPE_L3])
    .execute();
  const zones = new Map<string, boolean>();
  for (const r of rows as Array<{ agent_type: string; availability_zone: string | null; admin_state_up: number }>) {
    if (!r.availability_zone) continue;
    const key = `${r.availability_zone}|${r.agent_type === AGENT_TYPE_DHCP ? 'network' : 'router'}`;
    zones.set(key, (zones.get(key) ?? false) || !!r.admin_state_up);
  }
  return [...zones]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, up]) => {
      const [name, resource] = k.split('|') as [string, string];
      return { name, resource, state: up ? 'available' : 'unavailable' };
    });
}
