// os-availability-zone (nova.api.openstack.compute.availability_zone): the zones of the
// registered services (a compute host's zone is its aggregates' zone, else the default zone;
// other services are in the internal zone): available when an enabled service is in it. The
// list hides the internal zone; the admin's detail shows each zone's hosts and services.
import type { FastifyRequest } from 'fastify';
import type { ComputeService } from '../service.ts';
import { authorize } from './common.ts';
import { hostZones } from '../aggregate_api.ts';
import { novaTime } from '../times.ts';
import { INTERNAL_ZONE, listServices, serviceIsUp, serviceZone } from '../services.ts';

const AZ = 'os_compute_api:os-availability-zone';
const API_SERVICES = ['nova-osapi_compute', 'nova-metadata'];

async function zonesOf(svc: ComputeService) {
  const services = await listServices(svc);
  const zones = await hostZones(svc);
  const withZone = services.map((s) => ({ s, zone: serviceZone(svc, s, zones) }));
  const available = [...new Set(withZone.filter((x) => !x.s.disabled).map((x) => x.zone))].sort();
  const notAvailable = [...new Set(withZone.filter((x) => x.s.disabled).map((x) => x.zone))]
    .filter((z) => !available.includes(z))
    .sort();
  return { withZone, available, notAvailable };
}

export async function listAvailabilityZones(svc: ComputeService, req: FastifyRequest) {
  authorize(req, `${AZ}:list`, {});
  const { available, notAvailable } = await zonesOf(svc);
  const entry = (zoneName: string, ok: boolean) => ({ zoneName, zoneState: { available: ok }, hosts: null });
  return {
    availabilityZoneInfo: [
      ...available.filter((z) => z !== INTERNAL_ZONE).map((z) => entry(z, true)),
      ...notAvailable.filter((z) => z !== INTERNAL_ZONE).map((z) => entry(z, false)),
    ],
  };
}

export async function listAvailabilityZonesDetail(svc: ComputeService, req: FastifyRequest) {
  authorize(req, `${AZ}:detail`, {});
  const { withZone, available, notAvailable } = await zonesOf(svc);
  const result: unknown[] = [];
  for (const zone of available) {
    const hosts: Record<string, Record<string, unknown>> = {};
    for (const { s } of withZone.filter(
      (x) => x.zone === zone && !x.s.disabled && !API_SERVICES.includes(x.s.binary),
    )) {
      hosts[s.host] ??= {};
      hosts[s.host]![s.binary] = {
        available: serviceIsUp(svc, s),
        active: !s.disabled,
        updated_at: novaTime(s.updated_at ?? s.last_seen_up),
      };
    }
    result.push({ zoneName: zone, zoneState: { available: true }, hosts });
  }
  for (const zone of notAvailable) result.push({ zoneName: zone, zoneState: { available: false }, hosts: null });
  return { availabilityZoneInfo: result };
}
