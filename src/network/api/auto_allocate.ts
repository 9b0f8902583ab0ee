// Get-me-a-network (neutron/services/auto_allocate/db.py): GET
// /v2.0/auto-allocated-topology/:project_id gives the project its network, creating it on the
// first call: a network, a subnet from each default subnet pool, and a router with a gateway on
// the default external network and an interface on each subnet. All of it is one transaction,
// so a failed allocation leaves nothing behind. DELETE removes the topology.
import type { FastifyInstance } from 'fastify';
import type { Transaction } from 'kysely';
import { ApiError } from '../../core/errors.ts';
import { isUniqueViolation } from '../../core/db.ts';
import type { NetworkService } from '../service.ts';
import type { Tx } from './resource.ts';
import type { ResourceViews, SubnetResource } from './types.ts';
import { afterCommit, badRequest, inTransaction } from './l3_common.ts';
import { addInterface, removeInterface } from './routers.ts';
import { NetworkContext } from '../context.ts';
import type { NetworkDb } from '../db/schema.ts';

const failure = (reason: string) => new ApiError(409, `Deployment error: ${reason}.`, 'AutoAllocationFailure');

async function defaultExternalNetwork(svc: NetworkService): Promise<string> {
  const nets = await svc.db
    .selectFrom('networks')
    .select('id')
    .where('router_external', '=', 1)
    .where('is_default', '=', 1)
    .orderBy('created_at')
    .execute();
  if (!nets.length) throw failure('No default router:external network');
  return nets[0]!.id;
}

async function defaultSubnetPools(tx: Tx): Promise<Array<{ id: string; ip_version: number }>> {
  const out: Array<{ id: string; ip_version: number }> = [];
  for (const v of [4, 6]) {
    const p = await tx
      .selectFrom('subnetpools')
      .select(['id', 'ip_version'])
      .where('is_default', '=', 1)
      .where('ip_version', '=', v)
      .orderBy('created_at')
      .executeTakeFirst();
    if (p) out.push({ id: p.id, ip_version: Number(p.ip_version) });
  }
  return out;
}

/** _validate: 'None' means the caller's project; another project's topology is for admins only. */
function projectOf(svc: NetworkService, ctx: NetworkContext, requested: string): string {
  let id = requested;
  if (id === 'None') id = ctx.projectId ?? '';
  if (!svc.isAdmin(ctx) && id !== ctx.projectId) {
    ctx.markEnforced();
    throw new ApiError(403, 'Not authorized.', 'NotAuthorized');
  }
  return id;
}

const topologyOf = (svc: NetworkService, projectId: string) =>
  svc.db.selectFrom('auto_allocated_topologies').selectAll().where('project_id', '=', projectId).executeTakeFirst();

/** Creates a resource through its API inside `tx`, its agents told after the commit. */
async function create<K extends 'networks' | 'subnets' | 'routers'>(
  svc: NetworkService,
  ctx: NetworkContext,
  plural: K,
  body: Record<string, unknown>,
  tx: Transaction<NetworkDb>,
): Promise<ResourceViews[K]> {
  const api = svc.resource(plural);
  const view = await api.insert(api.prepareCreate(body, ctx).values, ctx, tx);
  afterCommit(ctx, () => api.spec.committed?.('create', view, ctx));
  return view;
}

/** Failures of the caller's input become AutoAllocationFailure, as upstream maps BadRequest and NotFound. */
async function step<T>(reason: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ApiError && (e.status === 400 || e.status === 404)) throw failure(reason);
    throw e;
  }
}

async function build(
  svc: NetworkService,
  ctx: NetworkContext,
  projectId: string,
  externalNetworkId: string,
): Promise<string> {
  return inTransaction(svc, ctx, async (tx) => {
    const { network, subnets } = await step('Unable to provide tenant private network', async () => {
      const pools = await defaultSubnetPools(tx);
      if (!pools.length) throw new ApiError(404, 'No default subnet pools', 'NotFound');
      const network = await create(
        svc,
        ctx,
        'networks',
        { name: 'auto_allocated_network', admin_state_up: false, project_id: projectId },
        tx,
      );
      const subnets: SubnetResource[] = [];
      for (const p of pools) {
        subnets.push(
          await create(
            svc,
            ctx,
            'subnets',
            {
              name: `auto_allocated_subnet_v${p.ip_version}`,
              network_id: network.id,
              ip_version: p.ip_version,
              subnetpool_id: p.id,
              project_id: projectId,
            },
            tx,
          ),
        );
      }
      return { network, subnets };
    });
    const router = await step('Unable to provide external connectivity', async () => {
      const router = await create(
        svc,
        ctx,
        'routers',
        {
          name: 'auto_allocated_router',
          external_gateway_info: { network_id: externalNetworkId },
          project_id: projectId,
          admin_state_up: true,
        },
        tx,
      );
      for (const s of subnets) await addInterface(svc, ctx, router, { subnet_id: s.id }, tx);
      return router;
    });
    await tx
      .insertInto('auto_allocated_topologies')
      .values({ project_id: projectId, network_id: network.id, router_id: router.id })
      .execute();
    const nets = svc.resource('networks');
    const up = await nets.applyUpdate(network, { admin_state_up: true }, ctx, tx);
    afterCommit(ctx, () => nets.spec.committed?.('update', up, ctx, network));
    return network.id;
  });
}

/** _cleanup: the interfaces, the router, then the network (as a DELETE would); what is already gone is skipped. */
async function cleanup(
  svc: NetworkService,
  ctx: NetworkContext,
  topology: { network_id: string; router_id: string | null },
) {
  const gone = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) throw e;
    }
  };
  const routers = svc.resource('routers');
  if (topology.router_id) {
    await inTransaction(svc, ctx, async (tx) => {
      const router = await routers.loadInTx(topology.router_id!, ctx, tx).catch(() => undefined);
      if (!router) return;
      const subnetIds = (
        await tx.selectFrom('subnets').select('id').where('network_id', '=', topology.network_id).execute()
      ).map((r) => r.id as string);
      for (const id of subnetIds) await gone(() => removeInterface(svc, ctx, router, { subnet_id: id }, tx));
      await routers.remove(router, ctx, tx);
      afterCommit(ctx, () => routers.spec.committed?.('delete', router, ctx));
    });
  }
  const nets = svc.resource('networks');
  await gone(async () => {
    const net = await nets.loadInTx(topology.network_id, ctx, svc.db);
    await nets.spec.checkDelete?.(net, ctx);
    await inTransaction(svc, ctx, async (tx) => {
      await nets.remove(net, ctx, tx);
      afterCommit(ctx, () => nets.spec.committed?.('delete', net, ctx));
    });
  });
}

export function autoAllocateRoutes(app: FastifyInstance, svc: NetworkService) {
  const path = '/v2.0/auto-allocated-topology/:project_id';
  const enforce = (ctx: NetworkContext, rule: string, projectId: string) =>
    svc.resource('routers').enforce(ctx, rule, { project_id: projectId, tenant_id: projectId });
  const answer = (id: string, projectId: string) => ({
    auto_allocated_topology: { id, tenant_id: projectId, project_id: projectId },
  });

  app.get(path, async (req) => {
    const ctx = NetworkContext.of(req.context);
    const projectId = projectOf(svc, ctx, (req.params as { project_id: string }).project_id);
    enforce(ctx, 'get_auto_allocated_topology', projectId);
    const q = req.query as Record<string, string | string[]>;
    const fields = ([] as string[])
      .concat(q.fields ?? [])
      .flatMap((f) => f.split(','))
      .filter(Boolean);
    if (fields.includes('dry-run')) {
      await defaultExternalNetwork(svc);
      if (!(await defaultSubnetPools(svc.db)).length) throw failure('No default subnetpools defined');
      return answer('dry-run=pass', projectId);
    }
    if (fields.length) throw badRequest('auto_allocate', 'Unrecognized field');
    const existing = await topologyOf(svc, projectId);
    if (existing) return answer(existing.network_id, projectId);
    const externalNetworkId = await defaultExternalNetwork(svc);
    try {
      return answer(await build(svc, ctx, projectId, externalNetworkId), projectId);
    } catch (e) {
      // Another request allocated the project's topology meanwhile: that one is the answer.
      const winner = isUniqueViolation(e) ? await topologyOf(svc, projectId) : undefined;
      if (winner) return answer(winner.network_id, projectId);
      throw e;
    }
  });

  app.delete(path, async (req, reply) => {
    const ctx = NetworkContext.of(req.context);
    const projectId = projectOf(svc, ctx, (req.params as { project_id: string }).project_id);
    enforce(ctx, 'delete_auto_allocated_topology', projectId);
    const topology = await topologyOf(svc, projectId);
    if (topology) await cleanup(svc, ctx, topology as { network_id: string; router_id: string | null });
    reply.code(204);
    return reply.send();
  });
}
