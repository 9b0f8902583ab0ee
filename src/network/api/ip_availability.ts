// network-ip-availability (admin): per network and per subnet, the size of the allocation pools
// (total_ips) and the addresses allocated (used_ips), as neutron's IpAvailabilityMixin counts
// them. IPv6 totals exceed 2^53, so the body is written with exact integers.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import { json } from '../../core/db.ts';
import type { NetworkService } from '../service.ts';
import { cidrSize, parseCidr, rangeFromStrings, rangeSize } from '../../core/netaddr.ts';
import { inChunks, notFound } from './core_common.ts';
import { NetworkContext } from '../context.ts';

const FILTERS: Record<string, 'networks.id' | 'networks.name' | 'networks.project_id'> = {
  network_id: 'networks.id',
  network_name: 'networks.name',
  tenant_id: 'networks.project_id',
  project_id: 'networks.project_id',
};

/** JSON with bigints written as exact integers. */
function exactJson(v: unknown): string {
  const marks: string[] = [];
  const text = JSON.stringify(v, (_k, x) =>
    typeof x === 'bigint' ? `\u0000${marks.push(x.toString()) - 1}\u0000` : x,
  );
  return text.replace(/"\\u0000(\d+)\\u0000"/g, (_m, i) => marks[Number(i)]!);
}

async function availabilities(svc: NetworkService, filters: Record<string, string[]>, ipVersions: number[]) {
  let q = svc.db
    .selectFrom('networks')
    .select(['networks.id', 'networks.name', 'networks.project_id'])
    .orderBy('networks.id');
  for (const [k, vals] of Object.entries(filters)) q = q.where(FILTERS[k]!, 'in', vals);
  const nets = await q.execute();
  const ids = nets.map((n) => n.id);
  let sq = (c: string[]) => {
    let s = svc.db
      .selectFrom('subnets')
      .select(['id', 'name', 'network_id', 'cidr', 'ip_version', 'allocation_pools'])
      .where('network_id', 'in', c);
    if (ipVersions.length) s = s.where('ip_version', 'in', ipVersions);
    return s.orderBy('created_at').orderBy('id').execute();
  };
  const subnets = await inChunks(ids, sq);
  const used = new Map(
    (
      await inChunks(
        subnets.map((s) => s.id),
        (c) =>
          svc.db
            .selectFrom('ipallocations')
            .select(['subnet_id', (eb) => eb.fn.countAll().as('n')])
            .where('subnet_id', 'in', c)
            .groupBy('subnet_id')
            .execute(),
      )
    ).map((r) => [r.subnet_id, Number(r.n)]),
  );
  const out = [];
  for (const n of nets) {
    if (ipVersions.length && !subnets.some((s) => s.network_id === n.id)) continue;
    const subs = subnets
      .filter((s) => s.network_id === n.id)
      .map((s) => {
        const pools = json<Array<{ start: string; end: string }>>(s.allocation_pools, []);
        const total = pools.length
          ? pools.reduce((t, p) => t + rangeSize(rangeFromStrings(p.start, p.end)!), 0n)
          : cidrSize(parseCidr(s.cidr)!);
        return {
          subnet_id: s.id,
          ip_version: Number(s.ip_version),
          cidr: s.cidr,
          subnet_name: s.name,
          used_ips: used.get(s.id) ?? 0,
          total_ips: total,
        };
      });
    out.push({
      network_id: n.id,
      network_name: n.name,
      tenant_id: n.project_id,
      project_id: n.project_id,
      subnet_ip_availability: subs,
      used_ips: subs.reduce((t, s) => t + s.used_ips, 0),
      total_ips: subs.reduce((t, s) => t + s.total_ips, 0n),
    });
  }
  return out;
}

function pick(v: Record<string, unknown>, fields: string[]) {
  return fields.length ? Object.fromEntries(Object.entries(v).filter(([k]) => fields.includes(k))) : v;
}

export function ipAvailabilityRoutes(app: FastifyInstance, svc: NetworkService) {
  const authorize = (ctx: NetworkContext) => {
    ctx.markEnforced();
    if (!ctx.allowed('get_network_ip_availability', { project_id: ctx.projectId, tenant_id: ctx.projectId })) {
      throw new ApiError(403, '(rule:get_network_ip_availability) is disallowed by policy', 'PolicyNotAuthorized');
    }
  };
  const query = (req: FastifyRequest) => {
    const q = req.query as Record<string, string | string[]>;
    const many = (k: string) => ([] as string[]).concat(q[k] ?? []);
    const fields = many('fields')
      .flatMap((f) => f.split(','))
      .filter(Boolean);
    const filters: Record<string, string[]> = {};
    let versions: number[] = [];
    for (const k of Object.keys(q)) {
      if (k === 'fields') continue;
      if (k === 'ip_version') versions = many(k).map(Number);
      else if (FILTERS[k]) filters[k] = many(k);
      else throw new ApiError(400, `[${k}] is invalid attribute for filtering`, 'HTTPBadRequest');
    }
    return { fields, filters, versions };
  };
  const send = (reply: FastifyReply, body: unknown) => reply.type('application/json').send(exactJson(body));
  app.get('/v2.0/network-ip-availabilities', async (req, reply) => {
    const ctx = NetworkContext.of(req.context);
    authorize(ctx);
    const { fields, filters, versions } = query(req);
    const list = await availabilities(svc, filters, versions);
    return send(reply, { network_ip_availabilities: list.map((v) => pick(v, fields)) });
  });
  app.get('/v2.0/network-ip-availabilities/:id', async (req, reply) => {
    const ctx = NetworkContext.of(req.context);
    authorize(ctx);
    const id = (req.params as { id: string }).id;
    const { fields } = query(req);
    const [v] = await availabilities(svc, { network_id: [id] }, []);
    if (!v) throw notFound.network(id);
    return send(reply, { network_ip_availability: pick(v, fields) });
  });
}
