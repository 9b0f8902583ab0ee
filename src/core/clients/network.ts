// The network service (Neutron v2.0) as the other services call it: ports, networks, security
// groups, the auto-allocated topology. Neutron has no microversions.
import { type CallOptions, RestClient, type RestAnswer, query, seg } from './rest.ts';
import type { ServiceSession } from './session.ts';

export interface PortFixedIp {
  ip_address: string;
  subnet_id: string;
}
export interface Port {
  id: string;
  network_id: string;
  mac_address: string;
  fixed_ips: PortFixedIp[];
  device_id: string;
  device_owner: string;
  status?: string;
  security_groups?: string[];
  'binding:host_id'?: string;
  'binding:vif_type'?: string;
  [k: string]: unknown;
}
export interface Network {
  id: string;
  name: string;
  [k: string]: unknown;
}
export interface SecurityGroup {
  id: string;
  name: string;
  [k: string]: unknown;
}
export interface Subnet {
  id: string;
  network_id: string;
  [k: string]: unknown;
}
export interface FloatingIp {
  id: string;
  floating_ip_address: string;
  floating_network_id: string;
  port_id: string | null;
  [k: string]: unknown;
}
export interface NeutronErrorBody {
  NeutronError?: { type?: string; message?: string; detail?: string };
}

export class NetworkClient extends RestClient {
  constructor(session: ServiceSession) {
    super(session, 'network');
  }

  getPort(id: string, o?: CallOptions): Promise<RestAnswer<{ port: Port } & NeutronErrorBody>> {
    return this.request('GET', `/v2.0/ports/${seg(id)}`, undefined, o);
  }
  createPort(port: Record<string, unknown>, o?: CallOptions): Promise<RestAnswer<{ port: Port } & NeutronErrorBody>> {
    return this.request('POST', '/v2.0/ports', { port }, o);
  }
  updatePort(
    id: string,
    port: Record<string, unknown>,
    o?: CallOptions,
  ): Promise<RestAnswer<{ port: Port } & NeutronErrorBody>> {
    return this.request('PUT', `/v2.0/ports/${seg(id)}`, { port }, o);
  }
  deletePort(id: string, o?: CallOptions): Promise<RestAnswer> {
    return this.request('DELETE', `/v2.0/ports/${seg(id)}`, undefined, o);
  }
  listPorts(filters: Record<string, string | undefined>, o?: CallOptions): Promise<RestAnswer<{ ports: Port[] }>> {
    return this.request('GET', `/v2.0/ports${query(filters)}`, undefined, o);
  }
  listSubnets(
    filters: Record<string, string | undefined>,
    o?: CallOptions,
  ): Promise<RestAnswer<{ subnets: Subnet[] }>> {
    return this.request('GET', `/v2.0/subnets${query(filters)}`, undefined, o);
  }
  /** The floating IPs on any of these ports (one port_id parameter each, as Neutron filters lists). */
  floatingIpsOfPorts(portIds: string[], o?: CallOptions): Promise<RestAnswer<{ floatingips: FloatingIp[] }>> {
    const q = portIds.map((id) => `port_id=${encodeURIComponent(id)}`).join('&');
    return this.request('GET', `/v2.0/floatingips${q ? `?${q}` : ''}`, undefined, o);
  }
  getNetwork(id: string, o?: CallOptions): Promise<RestAnswer<{ network: Network } & NeutronErrorBody>> {
    return this.request('GET', `/v2.0/networks/${seg(id)}`, undefined, o);
  }
  listNetworks(
    filters: Record<string, string | undefined> = {},
    o?: CallOptions,
  ): Promise<RestAnswer<{ networks: Network[] }>> {
    return this.request('GET', `/v2.0/networks${query(filters)}`, undefined, o);
  }
  getSecurityGroup(idOrName: string, o?: CallOptions): Promise<RestAnswer<{ security_group: SecurityGroup }>> {
    return this.request('GET', `/v2.0/security-groups/${seg(idOrName)}`, undefined, o);
  }
  listSecurityGroups(
    filters: Record<string, string | undefined>,
    o?: CallOptions,
  ): Promise<RestAnswer<{ security_groups: SecurityGroup[] }>> {
    return this.request('GET', `/v2.0/security-groups${query(filters)}`, undefined, o);
  }
  autoAllocatedTopology(
    projectId: string,
    o?: CallOptions,
  ): Promise<RestAnswer<{ auto_allocated_topology: { id: string } }>> {
    return this.request('GET', `/v2.0/auto-allocated-topology/${seg(projectId)}`, undefined, o);
  }
}
