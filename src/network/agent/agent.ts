// The network agent: one per host, playing the roles upstream splits over three processes
// (the L2 agent, the DHCP agent and the L3 agent), with the data plane behind a driver
// (drivers/dataplane.ts). The all-in-one runs it inside the API process; a compute or network
// node runs it alone: it talks to the server only over the bus (PluginRpc), never to the
// database.
//
// Each role reports its state every report interval (which makes it an alive agent in
// /v2.0/agents), listens to its topic, and on any event re-reads what it serves from the server
// and makes the driver match, one job at a time per port, network or router:
// - L2: a port bound to this host is plugged, then reported up (ACTIVE) or down;
// - DHCP: a network it serves with DHCP-enabled subnets gets its DHCP port (created through the
//   plugin, as upstream's agent does) and the driver serves it; otherwise the port is released;
// - L3: a router it hosts is realised by the driver, and its floating IPs reported ACTIVE when
//   associated, DOWN otherwise.
import type { MessageBus } from '../../core/bus.ts';
import { serveRpc, type RpcCalls } from '../../core/rpc.ts';
import type { Logger } from '../../core/log.ts';
import type { PortView } from '../views.ts';
import type {
  DataplaneDriver,
  DeviceDetails,
  DhcpNetwork,
  Mechanism,
  SecurityGroupInfo,
} from '../drivers/dataplane.ts';
import { MeteringAgent } from './metering.ts';
import { dhcpDeviceId } from './server.ts';
import {
  AGENT_BINARIES,
  AGENT_TYPE_DHCP,
  AGENT_TYPE_L3,
  AGENT_TYPE_METADATA,
  AGENT_TYPE_METERING,
  METERING_AGENT_TOPIC,
} from './rpc.ts';
import {
  DHCP_AGENT_TOPIC,
  L2_AGENT_TOPIC,
  L3_AGENT_TOPIC,
  pluginRpc,
  type AgentCaller,
  type AgentState,
  type DhcpAgentRpc,
  type DhcpEvent,
  type L2AgentRpc,
  type L3AgentRpc,
  type PluginRpc,
} from '../rpcapi.ts';

/** The L2 agent's binary when the mechanism names none (the `logical` driver: no upstream agent). */
export const AGENT_BINARY = 'stratus-network-agent';

export interface AgentOptions {
  host: string;
  driver: DataplaneDriver;
  mechanism: Mechanism;
  /** Seconds between state reports (neutron's report_interval, 30). */
  reportInterval: number;
  availabilityZone: string;
  log: Logger;
  /**
   * Only the L2 role (the agent of a compute host that is not a network node): no DHCP or L3
   * agent is reported or served here.
   */
  l2Only?: boolean;
  /** The metering role's measure and report intervals in seconds (upstream's 30 and 300). */
  meteringMeasureInterval?: number;
  meteringReportInterval?: number;
}

interface Job {
  again: boolean;
  done: Promise<void>;
}

export class NetworkAgent {
  /** The ports plugged on this host, as last fetched. */
  readonly plugged = new Map<string, DeviceDetails>();
  readonly servedNetworks = new Set<string>();
  readonly routers = new Map<string, Set<string>>();
  private jobs = new Map<string, Job>();
  private unserve: Array<() => void> = [];
  private timer?: NodeJS.Timeout;
  private needsResync = true;
  /** The networks this host serves DHCP for, as last read from the server plus the port events since. */
  private dhcpNetworks = new Map<string, DhcpNetwork>();
  /** Port events not yet applied to dhcpNetworks: port id → the port, or null when deleted. */
  private dhcpPending = new Map<string, Map<string, PortView | null>>();
  /** Networks to re-read whole from the server at their next job. */
  private dhcpStale = new Set<string>();
  /** The ids of this host's own DHCP ports. */
  private dhcpPortIds = new Set<string>();
  /** The subnets last asked for on each network's DHCP port, so that a refused update is not retried forever. */
  private dhcpAsked = new Map<string, string>();
  private stopped = false;
  /** Ports plugged whose device the driver has not seen yet (not reported up). */
  private unwired = new Set<string>();
  private reconciled = false;
  /** The metering role (agent/metering.ts), when the driver counts traffic. */
  metering?: MeteringAgent;

  /** q-plugin, the server's side (rpcapi.ts). */
  private rpc: RpcCalls<PluginRpc>;

  constructor(
    private bus: MessageBus,
    private o: AgentOptions,
  ) {
    this.rpc = pluginRpc(bus).call();
  }

  get host() {
    return this.o.host;
  }
  get driver() {
    return this.o.driver;
  }

  /** This agent on every q-plugin call (neutron's agent_id and host arguments). */
  private get who(): AgentCaller {
    return { agent_id: this.o.host, host: this.o.host };
  }

  async start() {
    await this.o.driver.start(this.o.host);
    this.o.driver.watch?.((id) => this.syncPortLater(id));
    const host = this.o.host;
    this.unserve.push(
      serveRpc<L2AgentRpc>(this.bus, L2_AGENT_TOPIC, host, {
        port_update: ({ port }) => {
          if (port?.['binding:host_id'] === host || this.plugged.has(port?.id)) this.syncPortLater(port.id);
          else if (port?.network_id) this.fdbLater(port.network_id);
        },
        port_delete: ({ port_id, network_id }) => {
          if (this.plugged.has(port_id)) this.syncPortLater(port_id);
          else if (network_id) this.fdbLater(network_id);
        },
        network_update: ({ network }) => {
          for (const p of this.plugged.values()) if (p.network_id === network?.id) this.syncPortLater(p.port_id);
        },
        network_delete: () => {},
        security_groups_rule_updated: ({ security_groups }) => this.securityGroupsChanged(security_groups),
        security_groups_member_updated: ({ security_groups }) => this.securityGroupsChanged(security_groups),
      }),
    );
    if (!this.o.l2Only) this.serveDhcpAndL3();
    // The metering role, where the data plane counts traffic (agent/metering.ts).
    if (!this.o.l2Only && this.o.driver.syncMetering && this.o.driver.meteringCounters) {
      this.metering = MeteringAgent.overBus(
        this.bus,
        host,
        this.o.driver,
        () => this.rpc.get_sync_data_metering({ host }),
        {
          log: this.o.log,
          measureInterval: this.o.meteringMeasureInterval,
          reportInterval: this.o.meteringReportInterval,
        },
      );
      this.metering.start();
    }
    await this.report(true);
    await this.resync();
    this.timer = setInterval(() => {
      void this.tick();
    }, this.o.reportInterval * 1000);
    this.timer.unref();
  }

  /** The DHCP and L3 roles' topics (a network node's, or the all-in-one's). */
  private serveDhcpAndL3() {
    const host = this.o.host;
    const network = (a: DhcpEvent) => {
      if (a?.network_id) this.syncNetworkLater(a.network_id);
    };
    const port = (deleted: boolean) => (a: DhcpEvent) => {
      if (a?.network_id) this.dhcpPortChanged(a.network_id, a.port, deleted);
    };
    const resyncAll = () => {
      this.needsResync = true;
    };
    this.unserve.push(
      serveRpc<DhcpAgentRpc>(this.bus, DHCP_AGENT_TOPIC, host, {
        agent_updated: resyncAll,
        network_create_end: network,
        network_update_end: network,
        network_delete_end: network,
        subnet_create_end: network,
        subnet_update_end: network,
        subnet_delete_end: network,
        port_create_end: port(false),
        port_update_end: port(false),
        port_delete_end: port(true),
      }),
      serveRpc<L3AgentRpc>(this.bus, L3_AGENT_TOPIC, host, {
        routers_updated: ({ routers }) => {
          for (const id of routers ?? []) this.syncRouterLater(id);
        },
        router_deleted: ({ router_id }) => this.syncRouterLater(router_id),
        agent_updated: resyncAll,
      }),
    );
  }

  async stop() {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    for (const u of this.unserve) u();
    this.unserve = [];
    await this.metering?.stop();
    await this.idle();
    await this.o.driver.stop();
  }

  /** Resolves when no job is running (tests wait on it). */
  async idle() {
    while (this.jobs.size) await Promise.all([...this.jobs.values()].map((j) => j.done));
  }

  private async tick() {
    try {
      if (await this.report(false)) this.needsResync = true;
      if (this.needsResync) await this.resync();
    } catch (err) {
      this.needsResync = true;
      this.o.log.warn({ err }, 'network agent: report or resync failed');
    }
  }

  /** What each role reports (neutron's agent_state); true when the server saw an agent come back. */
  states(startFlag: boolean): AgentState[] {
    const base = { host: this.o.host, start_flag: startFlag };
    const dhcpPorts = [...this.plugged.values()].filter((p) => p.device_owner === 'network:dhcp').length;
    let fips = 0;
    for (const s of this.routers.values()) fips += s.size;
    const l2: AgentState = {
      ...base,
      binary: this.o.mechanism.agentBinary ?? AGENT_BINARY,
      topic: 'N/A',
      agent_type: this.o.mechanism.agentType,
      configurations: {
        dataplane: this.o.driver.name,
        devices: this.plugged.size,
        extensions: ['qos'],
        ...this.o.driver.configurations?.(),
      },
    };
    if (this.o.l2Only) return [l2];
    const metadata = this.o.driver.metadataAgent?.();
    return [
      l2,
      {
        ...base,
        binary: AGENT_BINARIES[AGENT_TYPE_DHCP],
        topic: DHCP_AGENT_TOPIC,
        agent_type: AGENT_TYPE_DHCP,
        availability_zone: this.o.availabilityZone,
        configurations: {
          dhcp_driver: `stratus.${this.o.driver.name}`,
          dhcp_lease_duration: 86400,
          networks: this.servedNetworks.size,
          ports: dhcpPorts,
          log_agent_heartbeats: false,
        },
      },
      {
        ...base,
        binary: AGENT_BINARIES[AGENT_TYPE_L3],
        topic: L3_AGENT_TOPIC,
        agent_type: AGENT_TYPE_L3,
        availability_zone: this.o.availabilityZone,
        configurations: {
          agent_mode: 'legacy',
          extensions: [...(this.o.driver.l3Extensions ?? [])],
          routers: this.routers.size,
          floating_ips: fips,
          log_agent_heartbeats: false,
        },
      },
      ...(metadata
        ? [
            {
              ...base,
              binary: AGENT_BINARIES[AGENT_TYPE_METADATA],
              topic: 'N/A',
              agent_type: AGENT_TYPE_METADATA,
              configurations: metadata,
            },
          ]
        : []),
      // The metering role (upstream's neutron-metering-agent), where the data plane counts traffic.
      ...(this.metering
        ? [
            {
              ...base,
              binary: AGENT_BINARIES[AGENT_TYPE_METERING],
              topic: METERING_AGENT_TOPIC,
              agent_type: AGENT_TYPE_METERING,
              configurations: this.metering.configurations(this.o.driver.name),
            },
          ]
        : []),
    ];
  }

  private async report(startFlag: boolean): Promise<boolean> {
    let revived = false;
    for (const s of this.states(startFlag)) {
      const status = await this.rpc.report_state({ ...this.who, agent_state: s, time: new Date().toISOString() });
      if (status === 'revived') revived = true;
    }
    return revived;
  }

  /** Makes everything match the server again: the ports bound here, the networks and routers scheduled here. */
  async resync() {
    try {
      const ports = new Set(await this.rpc.get_ports_on_host(this.who));
      for (const id of new Set([...ports, ...this.plugged.keys()])) this.syncPortLater(id);
      this.refreshSecurityGroupsLater([...this.plugged.keys()]);
      for (const n of new Set([...this.plugged.values()].map((p) => p.network_id))) this.fdbLater(n);
      if (this.o.l2Only) {
        this.needsResync = false;
        await this.idle();
        return;
      }
      const networks = new Set(await this.rpc.get_active_networks_info(this.who));
      for (const id of new Set([...networks, ...this.servedNetworks])) this.syncNetworkLater(id);
      const routers = await this.rpc.sync_routers(this.who);
      for (const id of new Set([...routers.map((r) => r.id), ...this.routers.keys()])) this.syncRouterLater(id);
      this.needsResync = false;
      await this.idle();
      if (!this.reconciled && !this.needsResync) {
        this.reconciled = true;
        await this.o.driver.reconciled?.();
      }
    } catch (err) {
      this.needsResync = true;
      this.o.log.warn({ err }, 'network agent: resync failed');
    }
  }

  /** Runs fn for a key, one at a time; events arriving meanwhile make it run once more after. */
  private run(key: string, fn: () => Promise<void>) {
    if (this.stopped) return;
    const existing = this.jobs.get(key);
    if (existing) {
      existing.again = true;
      return;
    }
    const job: Job = { again: false, done: Promise.resolve() };
    job.done = (async () => {
      try {
        do {
          job.again = false;
          try {
            await fn();
          } catch (err) {
            this.needsResync = true;
            this.o.log.warn({ err, job: key }, 'network agent job failed');
          }
        } while (job.again && !this.stopped);
      } finally {
        this.jobs.delete(key);
      }
    })();
    this.jobs.set(key, job);
  }

  // ---- L2 -----------------------------------------------------------------------------

  syncPortLater(portId: string) {
    this.run(`port:${portId}`, () => this.syncPort(portId));
  }

  private async syncPort(portId: string) {
    const d = await this.rpc.get_device_details({ ...this.who, device: portId });
    if (!('port_id' in d)) {
      this.unwired.delete(portId);
      if (this.plugged.delete(portId)) {
        await this.o.driver.unplugPort(portId);
        this.refreshSecurityGroupsLater();
      }
      return;
    }
    const before = this.plugged.get(portId);
    // A status change alone (our own update_device_up coming back as a port_update) changes nothing here.
    if (
      !before ||
      this.unwired.has(portId) ||
      JSON.stringify({ ...before, status: '' }) !== JSON.stringify({ ...d, status: '' })
    ) {
      // A real data plane answers false while the port's device (the VM's tap) does not exist yet.
      if ((await this.o.driver.plugPort(d)) === false) this.unwired.add(portId);
      else this.unwired.delete(portId);
    }
    const newNetwork = ![...this.plugged.values()].some((p) => p.network_id === d.network_id);
    this.plugged.set(portId, d);
    if (newNetwork) this.fdbLater(d.network_id);
    // What the port's firewall is made of: its groups, addresses, port security and pairs (a port
    // whose port security alone is switched off must lose its chains: tempest's
    // test_port_security_disable_security_group keeps security_groups [] across that update).
    const fw = (p: typeof d) =>
      JSON.stringify([p.security_groups, p.fixed_ips, p.port_security_enabled, p.allowed_address_pairs, p.mac_address]);
    if (!before || fw(before) !== fw(d)) {
      this.refreshSecurityGroupsLater([portId]);
    }
    if (this.unwired.has(portId)) {
      if (d.status === 'ACTIVE') await this.rpc.update_device_down({ ...this.who, device: portId });
    } else if (d.admin_state_up && d.status !== 'ACTIVE')
      await this.rpc.update_device_up({ ...this.who, device: portId });
    else if (!d.admin_state_up && d.status !== 'DOWN')
      await this.rpc.update_device_down({ ...this.who, device: portId });
    if (d.trunk_details) {
      await this.rpc.update_subport_bindings({ ...this.who, trunk_id: d.trunk_details.trunk_id });
      await this.rpc.update_trunk_status({
        ...this.who,
        trunk_id: d.trunk_details.trunk_id,
        status: d.admin_state_up ? 'ACTIVE' : 'DOWN',
      });
    }
  }

  /** L2 population: the other hosts' ports of a network this host wires (only for drivers that use it). */
  private fdbLater(networkId: string) {
    const driver = this.o.driver;
    if (!driver.updateFdb) return;
    if (![...this.plugged.values()].some((p) => p.network_id === networkId && p.network_type === 'vxlan')) return;
    this.run(`fdb:${networkId}`, async () => {
      const entries = await this.rpc.get_fdb_entries({ ...this.who, network_id: networkId });
      await driver.updateFdb!(networkId, entries);
    });
  }

  /** Rules or members of groups changed: only those groups' rules are read again (the devices did not change). */
  private securityGroupsChanged(ids: string[]) {
    const used = new Set([...this.plugged.values()].flatMap((p) => p.security_groups));
    // Groups the rules here name as remote groups matter too (their members' addresses).
    for (const rules of Object.values(this.sgInfo.security_groups))
      for (const r of rules) if (r.remote_group_id) used.add(r.remote_group_id);
    const mine = (ids ?? []).filter((g) => used.has(g));
    if (mine.length) this.refreshSecurityGroupsLater([], mine);
  }

  /**
   * The driver's security group picture is kept piece by piece, as upstream's agent cache is: a
   * plugged or changed port reads its own details and its groups' rules, a group change its rules,
   * an unplugged port only leaves the picture. (Reading every port's again on every event made
   * each new port cost as much as all the ports of the host.)
   */
  private refreshSecurityGroupsLater(devices: string[] = [], groups: string[] = []) {
    for (const d of devices) this.sgDirtyDevices.add(d);
    for (const g of groups) this.sgDirtyGroups.add(g);
    this.run('security_groups', async () => {
      const wanted = [...this.sgDirtyDevices].filter((d) => this.plugged.has(d));
      const groups = [...this.sgDirtyGroups];
      this.sgDirtyDevices.clear();
      this.sgDirtyGroups.clear();
      for (const d of Object.keys(this.sgInfo.devices)) if (!this.plugged.has(d)) delete this.sgInfo.devices[d];
      if (wanted.length || groups.length) {
        let info: SecurityGroupInfo;
        try {
          info = await this.rpc.security_group_info_for_devices({
            ...this.who,
            devices: wanted,
            security_groups: groups,
          });
        } catch (err) {
          for (const d of wanted) this.sgDirtyDevices.add(d);
          for (const g of groups) this.sgDirtyGroups.add(g);
          throw err;
        }
        Object.assign(this.sgInfo.devices, info.devices);
        Object.assign(this.sgInfo.security_groups, info.security_groups);
        if (info.member_ips) this.sgInfo.member_ips = { ...this.sgInfo.member_ips, ...info.member_ips };
      }
      const used = new Set(Object.values(this.sgInfo.devices).flatMap((d) => d.security_groups));
      for (const g of Object.keys(this.sgInfo.security_groups)) if (!used.has(g)) delete this.sgInfo.security_groups[g];
      await this.o.driver.updateSecurityGroups(this.sgInfo);
    });
  }
  /** What the driver was last given: this host's ports and their groups' rules. */
  private sgInfo: SecurityGroupInfo = { security_groups: {}, devices: {} };
  private sgDirtyDevices = new Set<string>();
  private sgDirtyGroups = new Set<string>();

  // ---- DHCP ---------------------------------------------------------------------------

  /** Re-reads the whole network (its subnets, ports and DHCP port) at its next job. */
  syncNetworkLater(networkId: string) {
    this.dhcpStale.add(networkId);
    this.run(`network:${networkId}`, () => this.syncNetwork(networkId));
  }

  /**
   * A port of a network changed. As upstream's DHCP agent does with its network cache, a port
   * event on a network this host serves updates the cached network and reloads the allocations;
   * only network and subnet events (or a network not served yet) re-read the whole network.
   */
  dhcpPortChanged(networkId: string, port: PortView | undefined, deleted: boolean) {
    if (!port?.id || !this.dhcpNetworks.has(networkId)) return this.syncNetworkLater(networkId);
    let pending = this.dhcpPending.get(networkId);
    if (!pending) this.dhcpPending.set(networkId, (pending = new Map()));
    pending.set(port.id, deleted ? null : port);
    this.run(`network:${networkId}`, () => this.syncNetwork(networkId));
  }

  private async syncNetwork(networkId: string) {
    const cached = this.dhcpNetworks.get(networkId);
    if (cached && !this.dhcpStale.has(networkId)) {
      // One turn of the event loop first: the port events of one commit arrive together, and
      // the network (all its ports) is handed to the driver once for them.
      await new Promise((r) => setImmediate(r));
      const pending = this.dhcpPending.get(networkId);
      this.dhcpPending.delete(networkId);
      if (!pending?.size) return;
      const ports = new Map(cached.ports.map((p) => [p.id, p]));
      for (const [id, p] of pending) {
        if (p) ports.set(id, p);
        else ports.delete(id);
      }
      cached.ports = [...ports.values()];
      // Our own DHCP port deleted: read the network again, which makes a new one.
      if ([...pending].some(([id, p]) => p === null && this.dhcpPortIds.has(id))) {
        this.dhcpPortIds.forEach((id) => {
          if (pending.has(id)) this.dhcpPortIds.delete(id);
        });
        return this.syncNetworkLater(networkId);
      }
      await this.o.driver.syncDhcp(cached);
      return;
    }
    this.dhcpStale.delete(networkId);
    this.dhcpPending.delete(networkId);
    const info = await this.rpc.get_network_info({ ...this.who, network_id: networkId });
    const deviceId = dhcpDeviceId(this.o.host, networkId);
    const stopServing = async () => {
      const own = this.dhcpNetworks.get(networkId)?.ports.find((p) => p.device_id === deviceId);
      if (own) this.dhcpPortIds.delete(own.id);
      this.dhcpNetworks.delete(networkId);
      if (this.servedNetworks.delete(networkId)) await this.o.driver.removeDhcp(networkId);
      this.dhcpAsked.delete(networkId);
    };
    if (!info) return stopServing();
    const wanted = info.subnets.filter((s) => s.enable_dhcp).map((s) => s.id);
    let port = info.ports.find((p) => p.device_id === deviceId);
    if (!wanted.length || !info.admin_state_up) {
      if (port) await this.rpc.release_dhcp_port({ ...this.who, network_id: networkId, device_id: deviceId });
      return stopServing();
    }
    const asked = [...wanted].sort().join(',');
    if (!port) {
      port =
        (await this.rpc.create_dhcp_port({
          ...this.who,
          port: { network_id: networkId, device_id: deviceId, fixed_ips: wanted.map((subnet_id) => ({ subnet_id })) },
        })) ?? undefined;
      this.dhcpAsked.set(networkId, asked);
    } else {
      const ips = port.fixed_ips ?? [];
      const have = new Set(ips.map((ip) => ip.subnet_id));
      const differs = wanted.some((s) => !have.has(s)) || ips.some((ip) => !wanted.includes(ip.subnet_id));
      if (differs && this.dhcpAsked.get(networkId) !== asked) {
        this.dhcpAsked.set(networkId, asked);
        const fixed = [
          ...ips.filter((ip) => wanted.includes(ip.subnet_id)),
          ...wanted.filter((s) => !have.has(s)).map((subnet_id) => ({ subnet_id })),
        ];
        port = (await this.rpc.update_dhcp_port({ ...this.who, port_id: port.id, port: { fixed_ips: fixed } })) ?? port;
      }
    }
    if (!port) return;
    info.ports = [...info.ports.filter((p) => p.id !== port!.id), port];
    await this.o.driver.syncDhcp(info);
    this.dhcpNetworks.set(networkId, info);
    this.dhcpPortIds.add(port.id);
    this.servedNetworks.add(networkId);
    this.syncPortLater(port.id);
  }

  // ---- L3 -----------------------------------------------------------------------------

  syncRouterLater(routerId: string) {
    this.run(`router:${routerId}`, () => this.syncRouter(routerId));
  }

  private async syncRouter(routerId: string) {
    const [router] = await this.rpc.sync_routers({ ...this.who, router_ids: [routerId] });
    const before = this.routers.get(routerId);
    const statuses: Record<string, string> = {};
    if (!router) {
      if (before) {
        this.routers.delete(routerId);
        await this.o.driver.removeRouter(routerId);
        for (const id of before) statuses[id] = 'DOWN';
        await this.rpc.update_floatingip_statuses({ ...this.who, router_id: routerId, fip_statuses: statuses });
      }
      return;
    }
    await this.o.driver.syncRouter(router);
    const now = new Set<string>();
    for (const f of router.floating_ips) {
      now.add(f.id);
      const want = router.admin_state_up && f.port_id ? 'ACTIVE' : 'DOWN';
      if (f.status !== want) statuses[f.id] = want;
    }
    // Floating IPs that left the router are down as far as this router goes.
    for (const id of before ?? []) if (!now.has(id)) statuses[id] = 'DOWN';
    this.routers.set(routerId, now);
    if (Object.keys(statuses).length)
      await this.rpc.update_floatingip_statuses({ ...this.who, router_id: routerId, fip_statuses: statuses });
  }
}
