// The pollsters: what the polling agents measure by asking the services' APIs with the service
// token. The compute pollster reads each running server's diagnostics from the compute API
// (the virt driver's counters: cpu time, memory, disks, NICs); the image pollster reads image
// sizes. Resource ids of disks and NICs are `<server>-<disk>` and `<server>-<mac>`.
import type { ServiceSession } from '../../core/clients/session.ts';
import type { Sample } from './meters.ts';

interface Server {
  id: string;
  name: string;
  status: string;
  tenant_id: string;
  user_id: string;
  image: { id: string } | string;
  flavor: { id?: string; original_name?: string; vcpus?: number; ram?: number };
  metadata: Record<string, string>;
  'OS-EXT-SRV-ATTR:host'?: string;
}

interface Diagnostics {
  cpu_details?: Array<{ time?: number | null }>;
  memory_details?: { maximum?: number; used?: number };
  disk_details?: Array<{ read_bytes?: number; read_requests?: number; write_bytes?: number; write_requests?: number }>;
  nic_details?: Array<{
    mac_address?: string;
    rx_octets?: number;
    rx_packets?: number;
    tx_octets?: number;
    tx_packets?: number;
  }>;
}

const sample = (
  name: string,
  type: Sample['type'],
  unit: string,
  volume: number,
  resource: string,
  s: { user_id: string | null; project_id: string | null },
  metadata: Record<string, unknown>,
): Sample => ({
  name,
  type,
  unit,
  volume,
  resource_id: resource,
  user_id: s.user_id,
  project_id: s.project_id,
  timestamp: new Date().toISOString(),
  resource_metadata: metadata,
  source: 'openstack',
});

export async function pollCompute(session: ServiceSession): Promise<Sample[]> {
  const base = (await session.endpoint('compute')).replace(/\/+$/, '');
  const headers = { 'OpenStack-API-Version': 'compute 2.48', 'X-OpenStack-Nova-API-Version': '2.48' };
  const res = await session.fetch(`${base}/servers/detail?all_tenants=1&limit=1000`, { headers });
  if (!res.ok) throw new Error(`compute answered ${res.status} to the server list`);
  const servers = ((await res.json()) as { servers: Server[] }).servers.filter((s) => s.status === 'ACTIVE');
  const out: Sample[] = [];
  for (const s of servers) {
    const d = await session.fetch(`${base}/servers/${s.id}/diagnostics`, { headers });
    if (!d.ok) continue;
    const diag = (await d.json()) as Diagnostics;
    const who = { user_id: s.user_id, project_id: s.tenant_id };
    const meta = {
      host: s['OS-EXT-SRV-ATTR:host'] ?? null,
      display_name: s.name,
      flavor_id: s.flavor.id ?? s.flavor.original_name ?? null,
      flavor_name: s.flavor.original_name ?? null,
      image_ref: typeof s.image === 'object' ? s.image.id : null,
      server_group: s.metadata?.['metering.server_group'] ?? null,
      stack_id: s.metadata?.['metering.stack'] ?? null,
    };
    const cpuTime = (diag.cpu_details ?? []).reduce((n, c) => n + Number(c.time ?? 0), 0);
    out.push(sample('cpu', 'cumulative', 'ns', cpuTime, s.id, who, meta));
    out.push(sample('vcpus', 'gauge', 'vcpu', s.flavor.vcpus ?? (diag.cpu_details ?? []).length, s.id, who, meta));
    if (diag.memory_details) {
      out.push(
        sample(
          'memory.usage',
          'gauge',
          'MB',
          Math.round(Number(diag.memory_details.used ?? 0) / 1024),
          s.id,
          who,
          meta,
        ),
      );
      out.push(
        sample(
          'memory',
          'gauge',
          'MB',
          s.flavor.ram ?? Math.round(Number(diag.memory_details.maximum ?? 0) / 1024),
          s.id,
          who,
          meta,
        ),
      );
    }
    (diag.disk_details ?? []).forEach((disk, i) => {
      const name = `vd${String.fromCharCode(97 + i)}`;
      const m = { disk_name: name, instance_id: s.id };
      const rid = `${s.id}-${name}`;
      out.push(sample('disk.device.read.bytes', 'cumulative', 'B', Number(disk.read_bytes ?? 0), rid, who, m));
      out.push(
        sample('disk.device.read.requests', 'cumulative', 'request', Number(disk.read_requests ?? 0), rid, who, m),
      );
      out.push(sample('disk.device.write.bytes', 'cumulative', 'B', Number(disk.write_bytes ?? 0), rid, who, m));
      out.push(
        sample('disk.device.write.requests', 'cumulative', 'request', Number(disk.write_requests ?? 0), rid, who, m),
      );
    });
    for (const nic of diag.nic_details ?? []) {
      const name = `tap-${nic.mac_address ?? 'unknown'}`;
      const m = { vnic_name: name, instance_id: s.id };
      const rid = `${s.id}-${nic.mac_address ?? 'unknown'}`;
      out.push(sample('network.incoming.bytes', 'cumulative', 'B', Number(nic.rx_octets ?? 0), rid, who, m));
      out.push(sample('network.incoming.packets', 'cumulative', 'packet', Number(nic.rx_packets ?? 0), rid, who, m));
      out.push(sample('network.outgoing.bytes', 'cumulative', 'B', Number(nic.tx_octets ?? 0), rid, who, m));
      out.push(sample('network.outgoing.packets', 'cumulative', 'packet', Number(nic.tx_packets ?? 0), rid, who, m));
    }
  }
  return out;
}

export async function pollImages(session: ServiceSession): Promise<Sample[]> {
  const base = (await session.endpoint('image')).replace(/\/+$/, '');
  const res = await session.fetch(`${base}/v2/images?limit=1000`);
  if (!res.ok) throw new Error(`image answered ${res.status} to the image list`);
  const images = (await res.json()) as {
    images: Array<{
      id: string;
      name: string | null;
      size: number | null;
      owner: string;
      container_format: string | null;
      disk_format: string | null;
      status: string;
    }>;
  };
  return images.images
    .filter((i) => i.status === 'active' && i.size !== null)
    .map((i) =>
      sample(
        'image.size',
        'gauge',
        'B',
        Number(i.size),
        i.id,
        { user_id: null, project_id: i.owner },
        {
          name: i.name ?? '',
          container_format: i.container_format ?? 'bare',
          disk_format: i.disk_format ?? 'raw',
        },
      ),
    );
}

/** The central pollster of block storage: `volume.size` (GiB) of every volume of every project. */
export async function pollVolumes(session: ServiceSession): Promise<Sample[]> {
  const base = (await session.endpoint('block-storage')).replace(/\/+$/, '');
  const res = await session.fetch(`${base}/volumes/detail?all_tenants=1&limit=1000`);
  if (!res.ok) throw new Error(`block storage answered ${res.status} to the volume list`);
  const { volumes } = (await res.json()) as {
    volumes: Array<{
      id: string;
      name: string | null;
      size: number;
      status: string;
      user_id: string;
      'os-vol-tenant-attr:tenant_id'?: string;
      volume_type: string | null;
      volume_image_metadata?: { image_id?: string };
      attachments?: Array<{ server_id?: string }>;
    }>;
  };
  return volumes
    .filter((v) => !['deleting', 'error_deleting', 'creating'].includes(v.status))
    .map((v) =>
      sample(
        'volume.size',
        'gauge',
        'GB',
        Number(v.size),
        v.id,
        { user_id: v.user_id ?? null, project_id: v['os-vol-tenant-attr:tenant_id'] ?? null },
        {
          display_name: v.name ?? '',
          volume_type: v.volume_type ?? undefined,
          image_id: v.volume_image_metadata?.image_id,
          instance_id: v.attachments?.[0]?.server_id,
          status: v.status,
        },
      ),
    );
}

/** The central pollster of the network: `ip.floating` (1 per floating IP, Ceilometer's gauge). */
export async function pollFloatingIps(session: ServiceSession): Promise<Sample[]> {
  const base = (await session.endpoint('network')).replace(/\/+$/, '');
  const res = await session.fetch(`${base}/v2.0/floatingips`);
  if (!res.ok) throw new Error(`network answered ${res.status} to the floating IP list`);
  const { floatingips } = (await res.json()) as {
    floatingips: Array<{
      id: string;
      floating_ip_address: string;
      status: string;
      project_id?: string;
      tenant_id?: string;
      router_id: string | null;
      port_id: string | null;
      floating_network_id: string;
    }>;
  };
  return floatingips.map((f) =>
    sample(
      'ip.floating',
      'gauge',
      'ip',
      1,
      f.id,
      { user_id: null, project_id: f.project_id ?? f.tenant_id ?? null },
      {
        floating_ip_address: f.floating_ip_address,
        status: f.status,
        router_id: f.router_id,
        port_id: f.port_id,
        floating_network_id: f.floating_network_id,
      },
    ),
  );
}

/**
 * The central pollster of the object store: `storage.objects`, `storage.objects.size` and
 * `storage.objects.containers` of each project's account (HEAD of the account with the service
 * token, as Ceilometer does with its reseller admin role), the project being the resource.
 */
export async function pollObjectStore(session: ServiceSession): Promise<Sample[]> {
  const identity = (await session.endpoint('identity')).replace(/\/+$/, '');
  const v3 = identity.endsWith('/v3') ? identity : `${identity}/v3`;
  const res = await session.fetch(`${v3}/projects`);
  if (!res.ok) throw new Error(`identity answered ${res.status} to the project list`);
  const { projects } = (await res.json()) as { projects: Array<{ id: string; name: string; enabled: boolean }> };
  const store = (await session.endpoint('object-store')).replace(/\/+$/, '');
  const out: Sample[] = [];
  for (const p of projects.filter((x) => x.enabled)) {
    const url = store.replace(/\/AUTH_[^/]*$/, `/AUTH_${p.id}`);
    const head = await session.fetch(url, { method: 'HEAD' });
    if (head.status === 404) continue;
    if (!head.ok) throw new Error(`object store answered ${head.status} to HEAD of account AUTH_${p.id}`);
    const who = { user_id: null, project_id: p.id };
    const num = (h: string) => Number(head.headers.get(h) ?? 0);
    out.push(sample('storage.objects', 'gauge', 'object', num('x-account-object-count'), p.id, who, {}));
    out.push(sample('storage.objects.size', 'gauge', 'B', num('x-account-bytes-used'), p.id, who, {}));
    out.push(
      sample('storage.objects.containers', 'gauge', 'container', num('x-account-container-count'), p.id, who, {}),
    );
  }
  return out;
}

// ---- network.services.* (Ceilometer's network/services pollsters) -------------------------------

/** Ceilometer's status codes, the volume of the status gauges (network/services/base.py). */
const SERVICE_STATUS: Record<string, number> = {
  inactive: 0,
  active: 1,
  pending_create: 2,
  down: 3,
  created: 4,
  pending_update: 5,
  pending_delete: 6,
  error: 7,
};

interface ServiceResource {
  id: string;
  name?: string;
  status?: string;
  provisioning_status?: string;
  project_id?: string;
  tenant_id?: string;
  [k: string]: unknown;
}

/**
 * One collection of an advanced network service. Nothing when the API has no such resource
 * (the extension or the service is not deployed: Ceilometer's discovery finds nothing then).
 */
async function serviceResources(
  session: ServiceSession,
  type: string,
  path: string,
  key: string,
): Promise<ServiceResource[]> {
  let base: string;
  try {
    base = (await session.endpoint(type)).replace(/\/+$/, '');
  } catch {
    return [];
  }
  const res = await session.fetch(`${base}${path}`);
  if (res.status === 404) return [];
  if (!res.ok) throw new Error(`${type} answered ${res.status} to ${path}`);
  return (((await res.json()) as Record<string, ServiceResource[]>)[key] ?? []) as ServiceResource[];
}

function serviceSamples(
  list: ServiceResource[],
  meter: string,
  unit: string,
  volume: (r: ServiceResource) => number,
): Sample[] {
  const out: Sample[] = [];
  for (const r of list) {
    const v = volume(r);
    // An unknown status is skipped, as Ceilometer does.
    if (v < 0) continue;
    const { id, project_id, tenant_id, ...rest } = r;
    const metadata: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(rest)) if (x === null || typeof x !== 'object') metadata[k] = x;
    out.push(
      sample(meter, 'gauge', unit, v, id, { user_id: null, project_id: project_id ?? tenant_id ?? null }, metadata),
    );
  }
  return out;
}

const statusOf = (r: ServiceResource) =>
  SERVICE_STATUS[String(r.status ?? r.provisioning_status ?? '').toLowerCase()] ?? -1;
const one = () => 1;

/** VPNaaS: `network.services.vpn` (status of each VPN service), `network.services.vpn.connections`. */
export async function pollVpn(session: ServiceSession): Promise<Sample[]> {
  return [
    ...serviceSamples(
      await serviceResources(session, 'network', '/v2.0/vpn/vpnservices', 'vpnservices'),
      'network.services.vpn',
      'vpnservice',
      statusOf,
    ),
    ...serviceSamples(
      await serviceResources(session, 'network', '/v2.0/vpn/ipsec-site-connections', 'ipsec_site_connections'),
      'network.services.vpn.connections',
      'ipsec_site_connection',
      one,
    ),
  ];
}

/** FWaaS v2: `network.services.firewall` (status of each firewall group), `network.services.firewall.policy`. */
export async function pollFirewall(session: ServiceSession): Promise<Sample[]> {
  return [
    ...serviceSamples(
      await serviceResources(session, 'network', '/v2.0/fwaas/firewall_groups', 'firewall_groups'),
      'network.services.firewall',
      'firewall',
      statusOf,
    ),
    ...serviceSamples(
      await serviceResources(session, 'network', '/v2.0/fwaas/firewall_policies', 'firewall_policies'),
      'network.services.firewall.policy',
      'firewall_policy',
      one,
    ),
  ];
}

/** Load balancers (Octavia's v2 API, service type load-balancer): `network.services.lb.*`. */
export async function pollLoadBalancers(session: ServiceSession): Promise<Sample[]> {
  const kinds: Array<[string, string, string, string]> = [
    ['/v2/lbaas/loadbalancers', 'loadbalancers', 'network.services.lb.loadbalancer', 'loadbalancer'],
    ['/v2/lbaas/listeners', 'listeners', 'network.services.lb.listener', 'listener'],
    ['/v2/lbaas/pools', 'pools', 'network.services.lb.pool', 'pool'],
    ['/v2/lbaas/healthmonitors', 'healthmonitors', 'network.services.lb.health_monitor', 'health_monitor'],
  ];
  const out: Sample[] = [];
  for (const [path, key, meter, unit] of kinds) {
    const list = await serviceResources(session, 'load-balancer', path, key);
    out.push(...serviceSamples(list, meter, unit, statusOf));
    if (key === 'pools')
      for (const pool of list)
        out.push(
          ...serviceSamples(
            await serviceResources(session, 'load-balancer', `${path}/${pool.id}/members`, 'members'),
            'network.services.lb.member',
            'member',
            statusOf,
          ),
        );
  }
  return out;
}

/**
 * The pollsters by name (`collector.pollsters`): `compute` is the compute agent's; the others are
 * the central agent's (Ceilometer's polling namespaces `compute` and `central`).
 */
export const POLLSTERS: Record<string, (s: ServiceSession) => Promise<Sample[]>> = {
  compute: pollCompute,
  image: pollImages,
  volume: pollVolumes,
  floatingip: pollFloatingIps,
  objectstore: pollObjectStore,
  lb: pollLoadBalancers,
  vpn: pollVpn,
  firewall: pollFirewall,
};
