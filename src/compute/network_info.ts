// A server's info cache (Nova's instance_info_caches.network_info) rebuilt from the network
// service: its ports (device_id = the server) with their fixed IPs and the floating IPs on
// them, in the cache's order with new ports after. What the cache knew of a port and the
// network does not say (the user brought it, its device tag, its network's name) is kept.
// The API (external events, floating IP actions) and the agent (the heal task, interface
// detach) both use it. The subnets' details are kept only for a server with a config drive
// (written from the cache); the metadata service reads them when a guest asks.
import { type InstanceStore, type Vif, wantsConfigDrive } from './instances.ts';
import type { ComputeClients } from './clients.ts';
import { subnetMetas } from './subnet_meta.ts';

export async function buildInfoCache(
  clients: ComputeClients,
  known: Vif[],
  uuid: string,
  opts: { subnets?: boolean } = {},
): Promise<Vif[]> {
  const ports = await clients.portsOf(uuid);
  const byPortId = new Map(known.map((v) => [v.port_id, v]));
  const floating = new Map<string, string[]>();
  if (ports.length) {
    const r = await clients.network.floatingIpsOfPorts(ports.map((p) => p.id));
    for (const f of r.body?.floatingips ?? [])
      if (f.port_id) floating.set(f.port_id, [...(floating.get(f.port_id) ?? []), f.floating_ip_address]);
  }
  const order = new Map(known.map((v, i) => [v.port_id, i]));
  ports.sort((a, b) => (order.get(a.id) ?? Infinity) - (order.get(b.id) ?? Infinity));
  const subnets = opts.subnets
    ? await subnetMetas(
        clients.network,
        ports.flatMap((p) => (p.fixed_ips ?? []).map((f) => f.subnet_id)),
      )
    : new Map();
  const vifs: Vif[] = [];
  for (const p of ports) {
    const was = byPortId.get(p.id);
    let label = was?.network_label && was.network_label !== was.network_id ? was.network_label : undefined;
    if (!label) {
      const n = await clients.network.getNetwork(p.network_id);
      label = n.body?.network?.name || p.network_id;
    }
    const vif: Vif = {
      port_id: p.id,
      network_id: p.network_id,
      network_label: label!,
      mac_address: p.mac_address,
      fixed_ips: (p.fixed_ips ?? []).map((f) => ({
        ip_address: f.ip_address,
        subnet_id: f.subnet_id,
        version: String(f.ip_address).includes(':') ? 6 : 4,
        ...(subnets.has(f.subnet_id) ? { subnet: subnets.get(f.subnet_id) } : {}),
      })),
      floating_ips: floating.get(p.id) ?? [],
      // A port the cache never saw is kept with the server rather than deleted with it.
      preserve_on_delete: was?.preserve_on_delete ?? true,
    };
    if (was?.tag !== undefined) vif.tag = was.tag;
    vifs.push(vif);
  }
  return vifs;
}

/** Rebuilds and writes a server's info cache (Nova's get_instance_nw_info with force_refresh). */
export async function refreshInfoCache(store: InstanceStore, clients: ComputeClients, uuid: string): Promise<void> {
  const inst = await store.get(uuid);
  if (!inst) return;
  const vifs = await buildInfoCache(clients, inst.network_info, uuid, { subnets: wantsConfigDrive(inst) });
  await store.update(uuid, { network_info: vifs });
}
