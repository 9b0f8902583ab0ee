// Compute's calls to the other services, over their public REST APIs with the nova service
// user's token (as Nova does with its [placement], [neutron] and [glance] sessions): placement
// for providers and allocations, network for ports, image for image metadata, block storage for
// volumes and their attachments (volumes.ts).
import type { ServiceSession } from '../core/clients/session.ts';
import { IdentityClient } from '../core/clients/identity.ts';
import { BlockStorageClient } from '../core/clients/block-storage.ts';
import { type ImageRecord, ImageClient, imageProperties } from '../core/clients/image.ts';
import { type Port, NetworkClient } from '../core/clients/network.ts';
import { networkSubnetMetas, subnetMetas, type SubnetMeta } from './subnet_meta.ts';
import { PlacementClient } from '../core/clients/placement.ts';
import { ApiError } from '../core/errors.ts';
import type { Instance, Vif, RequestedNetwork } from './instances.ts';
import type { ImageMeta } from './drivers/virt.ts';

/**
 * The port's DNS name for an instance (Nova with Neutron's dns-integration: its hostname). Only a
 * plain DNS label: a hostname Neutron would refuse (dots, an all-numeric last label) leaves it unset
 * rather than failing the build.
 */
const dnsName = (inst: Instance) =>
  inst.hostname && /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(inst.hostname) ? { dns_name: inst.hostname } : {};

export class ComputeClients {
  readonly placement: PlacementClient;
  readonly network: NetworkClient;
  readonly image: ImageClient;
  readonly identity: IdentityClient;
  /** Volumes, snapshots and attachments (Cinder v3); not readonly: tests point it at a fake volume service. */
  blockStorage: BlockStorageClient;
  /** placementSession: another session for placement (system-scoped when placement enforces its Zed scope types). */
  constructor(session: ServiceSession, placementSession: ServiceSession = session) {
    this.blockStorage = new BlockStorageClient(session);
    this.placement = new PlacementClient(placementSession);
    this.network = new NetworkClient(session);
    this.image = new ImageClient(session);
    this.identity = new IdentityClient(session);
  }

  /** An image's metadata (user token when given); null when the image service has no such image. */
  async getImage(id: string, token?: string): Promise<ImageMeta | null> {
    const r = await this.image.getImage(id, { token });
    if (r.status === 404) return null;
    if (r.status !== 200) throw new ApiError(503, `image GET answered ${r.status}`);
    const b = r.body;
    const properties = imageProperties(b);
    return {
      id: b.id,
      // Glance's null name and formats are passed on as they come.
      name: b.name as string | undefined,
      status: b.status,
      disk_format: b.disk_format as string | undefined,
      container_format: b.container_format as string | undefined,
      size: b.size,
      properties: { ...properties, min_disk: b.min_disk, min_ram: b.min_ram },
    };
  }

  /**
   * Ports for a server on `host`: creates one per requested network (Nova's own ports,
   * deleted with the server), binds the ports the user brought. Returns the info cache.
   * On failure, what it did is undone before the error is rethrown. `subnetsOf`: a network's
   * subnet details (the servers of one request share one read: worker/conductor.ts); null: the
   * info cache keeps no subnet details (the metadata service reads them when asked).
   */
  async allocatePorts(
    inst: Instance,
    host: string,
    requested: RequestedNetwork[],
    securityGroupIds: string[] | undefined,
    subnetsOf: ((networkId: string) => Promise<Map<string, SubnetMeta>>) | null = (networkId: string) =>
      networkSubnetMetas(this.network, networkId),
  ): Promise<Vif[]> {
    const vifs: Vif[] = [];
    const owner = `compute:${inst.availability_zone ?? 'nova'}`;
    try {
      for (const rn of requested) {
        let port: Port;
        if (rn.port_id) {
          const r = await this.network.updatePort(rn.port_id, {
            device_id: inst.uuid,
            device_owner: owner,
            'binding:host_id': host,
            // Nova with Neutron's dns-integration: the port's DNS name is the instance's hostname.
            ...dnsName(inst),
          });
          if (![200, 201, 202, 204].includes(r.status))
            throw this.network.failure('PUT', `/v2.0/ports/${rn.port_id}`, r);
          port = r.body.port;
          vifs.push(await this.vif(port, true, subnetsOf ? undefined : null));
        } else {
          const body: Record<string, unknown> = {
            network_id: rn.network_id,
            project_id: inst.project_id,
            device_id: inst.uuid,
            device_owner: owner,
            'binding:host_id': host,
            admin_state_up: true,
            ...dnsName(inst),
          };
          if (rn.fixed_ip) body.fixed_ips = [{ ip_address: rn.fixed_ip }];
          if (securityGroupIds) body.security_groups = securityGroupIds;
          // The network's subnets are read while the port is made (kept for a config drive).
          const subnets = subnetsOf && rn.network_id ? subnetsOf(rn.network_id) : undefined;
          const r = await this.network.createPort(body);
          if (r.status !== 201)
            throw new ApiError(
              r.status === 409 ? 409 : 400,
              r.body?.NeutronError?.message ?? `network answered ${r.status} creating a port`,
            );
          port = r.body.port;
          vifs.push(await this.vif(port, false, subnetsOf ? await subnets : null));
        }
      }
    } catch (e) {
      await this.deallocatePorts(vifs);
      throw e;
    }
    return vifs;
  }

  private networkNames = new Map<string, string>();
  /** `known`: subnet details already read; null: none read (the vif then has no subnet details). */
  private async vif(port: Port, preserve: boolean, known?: Map<string, SubnetMeta> | null): Promise<Vif> {
    let label = this.networkNames.get(port.network_id);
    if (label === undefined) {
      const n = await this.network.getNetwork(port.network_id);
      label = n.body?.network?.name ?? port.network_id;
      this.networkNames.set(port.network_id, label!);
    }
    const subnets =
      known === null
        ? new Map<string, SubnetMeta>()
        : await subnetMetas(
            this.network,
            (port.fixed_ips ?? []).map((f) => f.subnet_id),
            known,
          );
    return {
      port_id: port.id,
      network_id: port.network_id,
      network_label: label!,
      mac_address: port.mac_address,
      fixed_ips: (port.fixed_ips ?? []).map((f) => ({
        ip_address: f.ip_address,
        subnet_id: f.subnet_id,
        version: f.ip_address.includes(':') ? 6 : 4,
        ...(subnets.has(f.subnet_id) ? { subnet: subnets.get(f.subnet_id) } : {}),
      })),
      preserve_on_delete: preserve,
    };
  }

  /** Deletes Nova's own ports and unbinds the user's; a port already gone is fine. */
  async deallocatePorts(vifs: Vif[]) {
    for (const v of vifs) {
      if (v.preserve_on_delete) {
        const r = await this.network.updatePort(v.port_id, { device_id: '', device_owner: '', 'binding:host_id': '' });
        if (r.status !== 200 && r.status !== 404)
          throw new ApiError(503, `network answered ${r.status} unbinding port ${v.port_id}`);
      } else {
        const r = await this.network.deletePort(v.port_id);
        if (r.status !== 204 && r.status !== 404)
          throw new ApiError(503, `network answered ${r.status} deleting port ${v.port_id}`);
      }
    }
  }

  /**
   * Every port of a server given back: the info cache's and any other port whose device is the
   * server (a build cut short may have made ports the cache never saw). Ports the user brought
   * (requested by port id) are unbound, Nova's own are deleted.
   */
  async releasePorts(inst: Instance) {
    const brought = new Set(inst.requested_networks.map((r) => r.port_id).filter(Boolean));
    const vifs = [...inst.network_info];
    const known = new Set(vifs.map((v) => v.port_id));
    for (const p of await this.portsOf(inst.uuid)) {
      if (known.has(p.id)) continue;
      vifs.push({
        port_id: p.id,
        network_id: p.network_id,
        network_label: '',
        mac_address: p.mac_address,
        fixed_ips: [],
        preserve_on_delete: brought.has(p.id),
      });
    }
    await this.deallocatePorts(vifs);
  }

  /** Every port whose device is this server (including ones a crash left out of the info cache). */
  async portsOf(uuid: string): Promise<Port[]> {
    const r = await this.network.listPorts({ device_id: uuid });
    return r.status === 200 ? r.body.ports : [];
  }

  // ---- images of snapshots, backups and shelved servers (agent/shelve.ts, api/server_shelve.ts) ----

  /** A new image record in the image service (Nova's image_api.create), with the caller's token so the caller's project owns it. */
  async createImage(meta: Record<string, unknown>, token?: string): Promise<ImageRecord> {
    const r = await this.image.createImage(meta, { token });
    if (r.status === 413 || r.status === 403) {
      const refusal = r.body as unknown as { message?: string; error?: { message?: string } } | undefined;
      throw new ApiError(
        403,
        refusal?.message ??
          refusal?.error?.message ??
          `Quota exceeded creating the image (image service answered ${r.status}).`,
      );
    }
    if (r.status !== 201)
      throw new ApiError(
        r.status >= 500 ? 503 : 400,
        `image POST /v2/images answered ${r.status}: ${typeof r.body === 'string' ? r.body : JSON.stringify(r.body)}`,
      );
    return r.body;
  }

  /** A snapshot's data: formats set (the image service needs them before data), then the bytes (or a file's, streamed). */
  async uploadImage(id: string, data: Uint8Array | { file: string }, diskFormat: string, containerFormat: string) {
    const patch = [
      { op: 'replace', path: '/disk_format', value: diskFormat },
      { op: 'replace', path: '/container_format', value: containerFormat },
    ];
    const p = await this.image.patchImage(id, patch);
    if (p.status !== 200)
      throw new ApiError(
        p.status === 404 ? 404 : 503,
        `image PATCH ${id} answered ${p.status}: ${JSON.stringify(p.body)}`,
      );
    const u = await this.image.uploadData(id, data);
    if (u.status !== 204)
      throw new ApiError(
        u.status === 404 ? 404 : 503,
        `image upload ${id} answered ${u.status}: ${JSON.stringify(u.body)}`,
      );
  }

  /** Deletes an image; one already gone is fine. */
  async deleteImage(id: string) {
    const r = await this.image.deleteImage(id);
    if (r.status !== 204 && r.status !== 404) throw new ApiError(503, `image DELETE ${id} answered ${r.status}`);
  }

  /** Images whose properties match (`name=value` pairs), in the order asked (`created_at:desc`). */
  async listImages(filters: Record<string, string>, sort = 'created_at:desc'): Promise<ImageRecord[]> {
    const r = await this.image.listImages({ ...filters, sort, limit: '1000' });
    if (r.status !== 200) throw new ApiError(503, `image GET /v2/images answered ${r.status}`);
    return r.body.images ?? [];
  }

  /** Binds a server's ports to a host (unshelve: Nova's setup_instance_network_on_host), or unbinds them (host ''). */
  async bindPorts(vifs: Vif[], host: string) {
    for (const v of vifs) {
      const r = await this.network.updatePort(v.port_id, { 'binding:host_id': host });
      if (r.status !== 200 && r.status !== 404)
        throw new ApiError(503, `network answered ${r.status} binding port ${v.port_id} to '${host}'`);
    }
  }
  /** A port as the info cache keeps it (its network's name looked up once). */
  portVif(port: Port, preserve: boolean): Promise<Vif> {
    return this.vif(port, preserve);
  }

  async deleteAllocations(consumer: string) {
    const r = await this.placement.deleteAllocations(consumer);
    if (r.status !== 204 && r.status !== 404)
      throw new ApiError(503, `placement answered ${r.status} deleting allocations of ${consumer}`);
  }
}
