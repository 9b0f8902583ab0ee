// The network service's options: the `network:` section of stratus.yaml (StratusConfig.network).
// Defaults as Neutron's (neutron.conf, ml2_conf.ini, the [nova] section).
import type { ServicePolicyConfig } from '../core/policy/config.ts';

export interface NetworkConfig {
  /** Neutron's [oslo_policy] enforce_scope / enforce_new_defaults. */
  policy?: ServicePolicyConfig;
  /** The host name agents report and ports bind to (neutron's `host`); default: this machine's hostname. */
  host?: string;
  /** Run the network agent inside this process (the all-in-one shape). */
  agent: boolean;
  /** The agent's data plane, a name in drivers/index.ts: 'logical' (state only) or 'linuxbridge' (real bridges, namespaces, iptables). */
  dataplane: string;
  /**
   * linuxbridge: run each host's data plane inside the namespace `stratus-host-<host>` (default
   * true); false puts the bridges and rules of this host in the root namespace (a real host).
   */
  hostNamespace?: boolean;
  /**
   * linuxbridge: physical network → interface (inside the host's namespace) that flat provider
   * networks of that physical network bridge to (the linuxbridge agent's physical_interface_mappings).
   */
  physicalInterfaceMappings?: Record<string, string>;
  /** linuxbridge: this host's underlay address, the local end of its VXLAN tunnels (local_ip). */
  underlayIp?: string;
  /** linuxbridge: the underlay addresses of the hosts this process runs agents for, by host (the all-in-one's other hosts); others use underlayIp. */
  underlayIps?: Record<string, string>;
  /**
   * linuxbridge: the host reaches the external network (floating IPs) as DevStack's br-ex does:
   * a veth from the root namespace into the bridge of physical network `physnet`, with address
   * `cidr` on the root side (the route for the public range alone). Made by the host that
   * realises routers, removed at stop.
   */
  externalUplink?: { physnet: string; cidr: string };
  /** linuxbridge: remove this host's whole data plane when the agent stops (tests, the conformance cloud). */
  cleanupOnStop?: boolean;
  /** The metadata proxy's shared secret (metadata_proxy_shared_secret == compute's metadataSharedSecret). */
  metadataProxySharedSecret?: string;
  /** Where the metadata proxy forwards to: Nova's metadata API (nova_metadata_host/port). */
  novaMetadataUrl?: string;
  /**
   * neutron.conf's dns_domain: the domain of the ports' DNS names (`dns_assignment`'s fqdn) and the
   * one the DHCP servers hand out and answer for (dnsmasq's `--domain`). Neutron's default
   * `openstacklocal`; DevStack's gate sets `openstackgate.local`.
   */
  dnsDomain: string;
  /** neutron's global_physnet_mtu. */
  mtu: number;
  /** VXLAN VNIs for project networks, as ml2_type_vxlan's vni_ranges ('1:1000', comma-separated). */
  vniRanges: string;
  /** Physical networks flat provider networks may use (ml2_type_flat's flat_networks; '*', the default, any). */
  flatNetworks: string[];
  /** Seconds without a report after which an agent is down (neutron's agent_down_time). */
  agentDownTime: number;
  /** Seconds between an agent's state reports (report_interval). */
  agentReportInterval: number;
  /** The availability zone the agents of this host report. */
  availabilityZone: string;
  /** Default quota per resource (network, port, ...), over Neutron's defaults. */
  quotas?: Record<string, number>;
  /**
   * Hosts whose L2 agent this process runs besides its own; default the compute service's other
   * fake hosts (api/extras_state.ts extraL2Hosts).
   */
  l2Hosts?: string[];
  /** Tell compute when a compute port's status changes (notify_nova_on_port_status_changes). */
  notifyNovaOnPortStatusChanges: boolean;
  /** Tell compute when a compute port's addresses or floating IPs change (notify_nova_on_port_data_changes). */
  notifyNovaOnPortDataChanges: boolean;
  /** Seconds between two batches of events to compute (send_events_interval). */
  sendEventsInterval: number;
}

export function networkDefaults(): NetworkConfig {
  return {
    agent: true,
    dataplane: 'logical',
    dnsDomain: 'openstacklocal',
    mtu: 1500,
    vniRanges: '1:1000',
    flatNetworks: ['*'],
    agentDownTime: 75,
    agentReportInterval: 30,
    availabilityZone: 'nova',
    notifyNovaOnPortStatusChanges: true,
    notifyNovaOnPortDataChanges: true,
    sendEventsInterval: 2,
  };
}
