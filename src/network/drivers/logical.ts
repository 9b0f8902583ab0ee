// The `logical` data plane: it keeps what the host should look like in memory and touches
// nothing else. The control plane above it (bindings, port status, DHCP ports, router and
// floating IP status) behaves as with a real data plane, so the API can be exercised on any
// machine; no packet moves.
//
// Its ports bind as vif_type 'tap' (the hypervisor creates a tap device and nothing plugs it
// anywhere) with port_filter false: security groups are recorded, not enforced.
import type {
  DataplaneDriver,
  DeviceDetails,
  DhcpNetwork,
  Mechanism,
  RouterInfo,
  SecurityGroupInfo,
} from './dataplane.ts';

const INT_MAX = 2 ** 31 - 1;
const DIRECTIONS = ['ingress', 'egress'] as const;
/** neutron_lib.constants.VALID_DSCP_MARKS */
export const VALID_DSCP_MARKS = [
  0, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36, 38, 40, 46, 48, 56,
] as const;

export const logicalMechanism: Mechanism = {
  agentType: 'Logical agent',
  vifType: 'tap',
  vifDetails: { port_filter: false, connectivity: 'l2' },
  networkTypes: ['local', 'flat', 'vlan', 'vxlan', 'geneve', 'gre'],
  qosRules: {
    bandwidth_limit: {
      max_kbps: { range: [0, INT_MAX] },
      max_burst_kbps: { range: [0, INT_MAX] },
      direction: { values: DIRECTIONS },
    },
    dscp_marking: { dscp_mark: { values: VALID_DSCP_MARKS } },
    minimum_bandwidth: { min_kbps: { range: [0, INT_MAX] }, direction: { values: DIRECTIONS } },
  },
  trunk: { segmentationTypes: ['vlan'], canTrunkBoundPort: true },
};

export class LogicalDriver implements DataplaneDriver {
  readonly name = 'logical';
  host = '';
  readonly ports = new Map<string, DeviceDetails>();
  readonly dhcp = new Map<string, DhcpNetwork>();
  readonly routers = new Map<string, RouterInfo>();
  securityGroups: SecurityGroupInfo = { security_groups: {}, devices: {} };

  async start(host: string) {
    this.host = host;
  }
  async stop() {}
  async plugPort(port: DeviceDetails) {
    this.ports.set(port.port_id, port);
  }
  async unplugPort(portId: string) {
    this.ports.delete(portId);
  }
  async updateSecurityGroups(info: SecurityGroupInfo) {
    this.securityGroups = info;
  }
  async syncDhcp(network: DhcpNetwork) {
    this.dhcp.set(network.id, network);
  }
  async removeDhcp(networkId: string) {
    this.dhcp.delete(networkId);
  }
  async syncRouter(router: RouterInfo) {
    this.routers.set(router.id, router);
  }
  async removeRouter(routerId: string) {
    this.routers.delete(routerId);
  }
}
