// What may be done to host aggregates and what follows from it (nova.compute.api.AggregateAPI):
// the zone rules (is_safe_to_update_az), host membership mirrored into placement, the zones
// of hosts. The rows are AggregateStore's (aggregates.ts); the handlers in api/aggregates.ts
// only validate, authorize, call these and shape the answer.
import { badRequest, conflict, notFound } from '../core/errors.ts';
import type { Aggregate } from './aggregates.ts';
import { computeNodeOf, computeServiceOf, serversOnHosts } from './hosts.ts';
import type { ComputeService } from './service.ts';

/** An aggregate id as given in a URL: an integer, or a 400. */
export function aggregateId(raw: string): number {
  if (!/^\s*[-+]?\d+\s*$/.test(raw)) throw badRequest(`Invalid input received: id must be an integer.`);
  return Number(raw);
}

/** Nova's normalize_name: surrounding whitespace goes, inner runs stay. */
const normalize = (s: string) => s.trim();

/** The aggregate of a URL id, or a 404. */
export async function findAggregate(svc: ComputeService, raw: string): Promise<Aggregate> {
  const a = await svc.parts.aggregates.get(aggregateId(raw));
  if (!a) throw notFound(`Aggregate ${raw} could not be found.`);
  return a;
}

/**
 * The availability zone of each host in a zoned aggregate (several zones joined by ',', as
 * Nova's get_host_availability_zone); hosts in none are in the default zone.
 */
export async function hostZones(svc: ComputeService): Promise<Map<string, string>> {
  const zones = new Map<string, string[]>();
  for (const a of await svc.parts.aggregates.all()) {
    const az = a.metadata.availability_zone;
    if (!az) continue;
    for (const h of a.hosts) {
      const l = zones.get(h) ?? [];
      if (!l.includes(az)) l.push(az);
      zones.set(h, l);
    }
  }
  return new Map([...zones].map(([h, l]) => [h, l.sort().join(',')]));
}

/** Every zone: the default one and those of the zoned aggregates. */
export async function availabilityZones(svc: ComputeService): Promise<string[]> {
  const zones = new Set([svc.options.defaultAvailabilityZone]);
  for (const a of await svc.parts.aggregates.all())
    if (a.metadata.availability_zone) zones.add(a.metadata.availability_zone);
  return [...zones].sort();
}

/** is_safe_to_update_az: no empty zone name, no host in two zones, no zone change under servers. */
async function checkZone(
  svc: ComputeService,
  a: Aggregate,
  az: string | null | undefined,
  hosts: string[],
  fail: (reason: string) => Error,
  checkInstances: boolean,
): Promise<void> {
  if (az === undefined) return;
  if (!az) throw fail(`Aggregate ${a.name} does not support empty named availability zone`);
  const conflicting = (await svc.parts.aggregates.all())
    .filter(
      (o) =>
        o.id !== a.id &&
        o.metadata.availability_zone &&
        o.metadata.availability_zone !== az &&
        o.hosts.some((h) => hosts.includes(h)),
    )
    .map((o) => o.metadata.availability_zone!);
  if (conflicting.length)
    throw fail(`One or more hosts already in availability zone(s) [${conflicting.map((z) => `'${z}'`).join(', ')}]`);
  if (checkInstances && a.metadata.availability_zone !== az && hosts.length) {
    if (await serversOnHosts(svc.db, hosts)) throw fail('One or more hosts contain instances in this zone');
  }
}

export function createAggregate(svc: ComputeService, name: string, zone: string | null | undefined) {
  return svc.parts.aggregates.create(normalize(name), zone ? normalize(zone) : null);
}

export async function updateAggregate(
  svc: ComputeService,
  raw: string,
  v: { name?: string; availability_zone?: string | null },
): Promise<Aggregate> {
  const a = await findAggregate(svc, raw);
  if (v.name !== undefined) await svc.parts.aggregates.rename(a.id, normalize(v.name));
  if ('availability_zone' in v) {
    await checkZone(
      svc,
      a,
      v.availability_zone,
      a.hosts,
      (r) => badRequest(`Cannot update aggregate ${a.id}. Reason: ${r}.`),
      true,
    );
    await svc.parts.aggregates.updateMetadata(a.id, { availability_zone: v.availability_zone ?? null });
  }
  return (await svc.parts.aggregates.get(a.id))!;
}

export async function deleteAggregate(svc: ComputeService, raw: string): Promise<void> {
  const a = await findAggregate(svc, raw);
  if (a.hosts.length) throw badRequest(`Cannot remove aggregate ${a.id}. Reason: Host aggregate is not empty.`);
  await svc.parts.aggregates.destroy(a.id);
}

export async function addHost(svc: ComputeService, raw: string, host: string): Promise<Aggregate> {
  aggregateId(raw);
  if (!(await computeServiceOf(svc.db, host))) throw notFound(`Compute host ${host} could not be found.`);
  const a = await findAggregate(svc, raw);
  await checkZone(
    svc,
    a,
    a.metadata.availability_zone,
    [host],
    (r) => conflict(`Cannot add host to aggregate ${a.id}. Reason: ${r}.`),
    false,
  );
  if (a.hosts.includes(host)) throw conflict(`Aggregate ${a.id} already has host ${host}.`);
  await svc.parts.aggregates.addHost(a.id, host);
  await syncPlacement(svc, a.uuid, host, 'add');
  return (await svc.parts.aggregates.get(a.id))!;
}

export async function removeHost(svc: ComputeService, raw: string, host: string): Promise<Aggregate> {
  const a = await svc.parts.aggregates.get(aggregateId(raw));
  if (!a || !(await svc.parts.aggregates.removeHost(a.id, host)))
    throw notFound(`Cannot remove host ${host} in aggregate ${raw}`);
  await syncPlacement(svc, a.uuid, host, 'remove');
  return (await svc.parts.aggregates.get(a.id))!;
}

export async function setMetadata(
  svc: ComputeService,
  raw: string,
  metadata: Record<string, string | null>,
): Promise<Aggregate> {
  const a = await findAggregate(svc, raw);
  if ('availability_zone' in metadata)
    await checkZone(
      svc,
      a,
      metadata.availability_zone,
      a.hosts,
      (r) => badRequest(`Cannot update metadata of aggregate ${a.id}. Reason: ${r}.`),
      true,
    );
  await svc.parts.aggregates.updateMetadata(a.id, metadata);
  return (await svc.parts.aggregates.get(a.id))!;
}

/**
 * Mirrors host membership into placement's aggregates (the compute node provider joins or leaves
 * the aggregate's uuid), as AggregateAPI does; a failure is only logged, as upstream.
 */
async function syncPlacement(svc: ComputeService, aggregateUuid: string, host: string, op: 'add' | 'remove') {
  try {
    const node = await computeNodeOf(svc.db, host);
    if (!node) return;
    const placement = svc.parts.clients.placement;
    const res = await placement.getAggregates(node.uuid);
    if (res.status < 200 || res.status > 299) return;
    const cur = res.body;
    const aggs = new Set(cur.aggregates);
    if (op === 'add') aggs.add(aggregateUuid);
    else aggs.delete(aggregateUuid);
    await placement.putAggregates(node.uuid, cur.resource_provider_generation, [...aggs]);
  } catch (e) {
    svc.ctx.log.warn({ err: e, host, aggregate: aggregateUuid }, 'could not mirror the aggregate into placement');
  }
}
