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

export const POLLSTERS: Record<string, (s: ServiceSession) => Promise<Sample[]>> = {
  compute: pollCompute,
  image: pollImages,
};
