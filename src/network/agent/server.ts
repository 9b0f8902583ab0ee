// The plugin side of the agent interface (ML2's RPC callbacks, upstream's
// neutron/plugins/ml2/rpc.py, api/rpc/handlers/{dhcp,l3,securitygroups}_rpc.py and
// db/agents_db.py): it serves PLUGIN_TOPIC, keeps the agents table, schedules networks to
// DHCP agents and routers to L3 agents, and binds ports to hosts where an L2 agent is alive.
// Everything it changes goes through the resources' own API (svc.resource(...)), so
// revision numbers, hooks and notifications follow.
import { createHash, randomUUID } from 'node:crypto';
import type { Transaction } from 'kysely';
import { bool, isUniqueViolation, json } from '../../core/db.ts';
import type { NetworkService } from '../service.ts';
import { colName, type ResourceApi, type Tx } from '../api/resource.ts';
import type { FloatingIpResource, PortResource, TrunkResource } from '../api/types.ts';
import type {
  DeviceDetails,
  DhcpNetwork,
  FdbEntry,
  Mechanism,
  MeteringRouterInfo,
  RouterInfo,
  SecurityGroupInfo,
} from '../drivers/dataplane.ts';
import { agentOption } from '../api/extras_state.ts';
import { serveRpc } from '../../core/rpc.ts';
import {
  AGENT_TYPE_DHCP,
  AGENT_TYPE_L3,
  PLUGIN_TOPIC,
  type AgentState,
  type PluginRpc,
  type PortBinder,
} from './rpc.ts';
import { NetworkContext } from '../context.ts';
import { dynamic, type NetworkDb } from '../db/schema.ts';
import {
  asFloatingIp,
  asPort,
  asRule,
  asSubnet,
  type PortView,
  type RouterPortView,
  type SecurityGroupRuleView,
} from '../views.ts';

const asRouterPort = (v: PortResource | undefined): RouterPortView | null => (v ? asPort(v) : null);

/** neutron's agent timestamps: 'YYYY-MM-DD HH:MM:SS', UTC. */
export const agentTime = (d = new Date()) => d.toISOString().slice(0, 19).replace('T', ' ');
const agentTimeMs = (s: string) => Date.parse(`${s.replace(' ', 'T')}Z`);

/** neutron_lib.constants.DEVICE_ID_RESERVED_DHCP_PORT: a DHCP port kept for the next agent. */
export const RESERVED_DHCP_PORT = 'reserved_dhcp_port';
export const DEVICE_OWNER_DHCP = 'network:dhcp';
export const TRUNK_SUBPORT_OWNER = 'trunk:subport';

/** The DHCP agent's device_id on a network, as upstream computes it: dhcp<uuid5(DNS, host)>-<network>. */
export function dhcpDeviceId(host: string, networkId: string): string {
  const ns = Buffer.from('6ba7b8109dad11d180b400c04fd430c8', 'hex');
  const h = createHash('sha1').update(ns).update(host).digest().subarray(0, 16);
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.toString('hex');
  return `dhcp${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}-${networkId}`;
}

interface AgentRow {
  id: string;
  agent_type: string;
  host: string;
  admin_state_up: number | boolean;
  heartbeat_timestamp: string;
  availability_zone: string | null;
}

export class PluginServer implements PluginRpc {
  /** The agents by type and host, for binding inside other transactions (see binder). */
  private agents = new Map<string, AgentRow>();
  private unserve?: () => void;
  private reloadTimer?: NodeJS.Timeout;

  constructor(
    private svc: NetworkService,
    readonly mechanism: Mechanism,
  ) {}

  /**
   * The server's own calls into the resource APIs act as the neutron service user (admin, every
   * rule allowed): one context per call, so what a call queues after its commit is its own.
   */
  context(): NetworkContext {
    return NetworkContext.internal(this.svc.policy);
  }

  /** neutron's agent_down_time: an agent whose last report is older is not alive. */
  get downTime(): number {
    return Number(agentOption(this.svc, 'agentDownTime', 75));
  }

  isAlive(heartbeat: string | null | undefined): boolean {
    return !!heartbeat && agentTimeMs(heartbeat) >= Date.now() - this.downTime * 1000;
  }

  /** The oldest heartbeat an alive agent may have. */
  aliveSince(): string {
    return agentTime(new Date(Date.now() - this.downTime * 1000));
  }

  async start() {
    await this.reloadAgents();
    this.unserve = serveRpc<PluginRpc>(this.svc.ctx.bus, PLUGIN_TOPIC, this.svc.host, {
      report_state: (a) => this.report_state(a),
      get_device_details: (a) => this.get_device_details(a),
      get_devices_details_list: (a) => this.get_devices_details_list(a),
      update_device_up: (a) => this.update_device_up(a),
      update_device_down: (a) => this.update_device_down(a),
      get_ports_on_host: (a) => this.get_ports_on_host(a),
      security_group_info_for_devices: (a) => this.security_group_info_for_devices(a),
      sync_routers: (a) => this.sync_routers(a),
      get_sync_data_metering: (a) => this.get_sync_data_metering(a),
      update_floatingip_statuses: (a) => this.update_floatingip_statuses(a),
      get_active_networks_info: (a) => this.get_active_networks_info(a),
      get_network_info: (a) => this.get_network_info(a),
      create_dhcp_port: (a) => this.create_dhcp_port(a),
      update_dhcp_port: (a) => this.update_dhcp_port(a),
      release_dhcp_port: (a) => this.release_dhcp_port(a),
      get_fdb_entries: (a) => this.get_fdb_entries(a),
      update_subport_bindings: (a) => this.update_subport_bindings(a),
      update_trunk_status: (a) => this.update_trunk_status(a),
    });
    // Another API process may have taken an agent's report: refresh the binding cache now and then.
    this.reloadTimer = setInterval(() => {
      this.reloadAgents().catch((err) => this.svc.ctx.log.warn({ err }, 'reloading agents failed'));
    }, 30000);
    this.reloadTimer.unref();
  }

  stop() {
    this.unserve?.();
    if (this.reloadTimer) clearInterval(this.reloadTimer);
  }

  async reloadAgents() {
    const rows = (await this.svc.db
      .selectFrom('agents')
      .select(['id', 'agent_type', 'host', 'admin_state_up', 'heartbeat_timestamp', 'availability_zone'])
      .execute()) as AgentRow[];
    this.agents = new Map(rows.map((r) => [`${r.agent_type}|${r.host}`, r]));
  }

  forgetAgent(id: string) {
    for (const [k, a] of this.agents) if (a.id === id) this.agents.delete(k);
  }

  cachedAgent(agentType: string, host: string): AgentRow | undefined {
    return this.agents.get(`${agentType}|${host}`);
  }

  // ---- binding (ML2's agent-based mechanism driver) -----------------------------------

  /**
   * A port binds to a host where an L2 agent of the mechanism's type is alive, on a network
   * type it can wire and a vnic_type it supports; otherwise the binding fails.
   */
  readonly binder: PortBinder & {
    bind(port: PortResource, tx?: Tx): Promise<{ vif_type: string; vif_details: Record<string, unknown> }>;
  } = {
    bind: async (port: PortResource, tx?: Tx) => {
      const failed = { vif_type: 'binding_failed', vif_details: {} };
      const host = port['binding:host_id'];
      if (!host) return { vif_type: 'unbound', vif_details: {} };
      const vnic = port['binding:vnic_type'] ?? 'normal';
      if (vnic !== 'normal') return failed;
      const agent = this.cachedAgent(this.mechanism.agentType, host);
      if (!agent || !this.isAlive(agent.heartbeat_timestamp)) return failed;
      // The segments are read only inside the caller's transaction (a second connection would wait for it on SQLite).
      if (tx && port.network_id) {
        const segs = await tx
          .selectFrom('network_segments')
          .select('network_type')
          .where('network_id', '=', port.network_id)
          .execute();
        if (segs.length && !segs.some((s) => this.mechanism.networkTypes.includes(s.network_type))) return failed;
      }
      return {
        vif_type: this.mechanism.vifType,
        vif_details: { ...this.mechanism.vifDetails, ...this.mechanism.vifDetailsFor?.(port.network_id) },
      };
    },
  };

  // ---- agents -------------------------------------------------------------------------

  async report_state({
    agent_state: s,
  }: {
    agent_state: AgentState;
    time?: string;
  }): Promise<'new' | 'alive' | 'revived'> {
    const now = agentTime();
    const values = {
      binary: s.binary,
      topic: s.topic,
      availability_zone: s.availability_zone ?? null,
      configurations: JSON.stringify(s.configurations ?? {}),
      heartbeat_timestamp: now,
      ...(s.resource_versions ? { resource_versions: JSON.stringify(s.resource_versions) } : {}),
      load: Number((s.configurations as { networks?: unknown } | undefined)?.networks ?? 0) || 0,
    };
    for (let attempt = 0; ; attempt++) {
      const existing = await this.svc.db
        .selectFrom('agents')
        .selectAll()
        .where('agent_type', '=', s.agent_type)
        .where('host', '=', s.host)
        .executeTakeFirst();
      if (existing) {
        const status = this.isAlive(existing.heartbeat_timestamp) ? 'alive' : 'revived';
        await this.svc.db
          .updateTable('agents')
          .set({ ...values, ...(s.start_flag ? { started_at: now } : {}) })
          .where('id', '=', existing.id)
          .execute();
        this.agents.set(`${s.agent_type}|${s.host}`, { ...existing, ...values } as unknown as AgentRow);
        return status;
      }
      const row = {
        id: randomUUID(),
        agent_type: s.agent_type,
        host: s.host,
        admin_state_up: 1,
        created_at: now,
        started_at: now,
        description: null,
        ...values,
      };
      try {
        await this.svc.db.insertInto('agents').values(row).execute();
        this.agents.set(`${s.agent_type}|${s.host}`, row as AgentRow);
        return 'new';
      } catch (e) {
        if (!isUniqueViolation(e) || attempt > 2) throw e;
      }
    }
  }

  /** An alive, enabled agent of a type on a host. */
  private async agentOn(agentType: string, host: string, db: Tx = this.svc.db) {
    const a = await db
      .selectFrom('agents')
      .selectAll()
      .where('agent_type', '=', agentType)
      .where('host', '=', host)
      .executeTakeFirst();
    return a && this.isAlive(a.heartbeat_timestamp) ? a : undefined;
  }

  // ---- schedulers (dhcp_agent_scheduler, l3_agent_scheduler) ---------------------------

  /** The hosts whose DHCP agents serve a network. */
  async dhcpHostsOf(networkId: string): Promise<string[]> {
    const rows = await this.svc.db
      .selectFrom('networkdhcpagentbindings')
      .innerJoin('agents', 'agents.id', 'networkdhcpagentbindings.dhcp_agent_id')
      .select('agents.host')
      .where('networkdhcpagentbindings.network_id', '=', networkId)
      .execute();
    return rows.map((r) => r.host);
  }

  /** Has the network a subnet with DHCP enabled? */
  private async servesDhcp(networkId: string, db: Tx = this.svc.db): Promise<boolean> {
    return !!(await db
      .selectFrom('subnets')
      .select('id')
      .where('network_id', '=', networkId)
      .where('enable_dhcp', '=', 1)
      .executeTakeFirst());
  }

  /**
   * Binds a network that DHCP should serve to the least loaded alive DHCP agent (in one of its
   * availability_zone_hints when it has any), unless an agent serves it already (one per network,
   * neutron's dhcp_agents_per_network default).
   */
  /**
   * Gives a network a DHCP agent when it has none. Every port create asks: the asks that arrive
   * while one look-up for the network is under way share it.
   */
  scheduleNetwork(networkId: string): Promise<void> {
    let p = this.scheduling.get(networkId);
    if (!p) {
      this.scheduling.set(
        networkId,
        (p = this.scheduleNetworkNow(networkId).finally(() => this.scheduling.delete(networkId))),
      );
    }
    return p;
  }
  private scheduling = new Map<string, Promise<void>>();

  private async scheduleNetworkNow(networkId: string): Promise<void> {
    // Already hosted: no write transaction.
    if (
      await this.svc.db
        .selectFrom('networkdhcpagentbindings')
        .select('dhcp_agent_id')
        .where('network_id', '=', networkId)
        .executeTakeFirst()
    )
      return;
    await this.svc
      .transaction(async (tx) => {
        if (
          await tx
            .selectFrom('networkdhcpagentbindings')
            .select('dhcp_agent_id')
            .where('network_id', '=', networkId)
            .executeTakeFirst()
        )
          return;
        const net = await tx
          .selectFrom('networks')
          .select(['id', 'availability_zone_hints'])
          .where('id', '=', networkId)
          .executeTakeFirst();
        if (!net || !(await this.servesDhcp(networkId, tx))) return;
        const agent = await this.pickAgent(
          tx,
          AGENT_TYPE_DHCP,
          'networkdhcpagentbindings',
          'dhcp_agent_id',
          json<string[]>(net.availability_zone_hints, []),
        );
        if (agent)
          await tx
            .insertInto('networkdhcpagentbindings')
            .values({ network_id: networkId, dhcp_agent_id: agent.id })
            .execute();
      })
      .catch((e) => {
        if (!isUniqueViolation(e)) throw e;
      });
  }

  /** Binds routers no L3 agent hosts yet; answers the hosts of every router's agents. */
  async scheduleRouters(routerIds: string[]): Promise<Map<string, string[]>> {
    const routers = this.svc.resources.has('routers') ? this.svc.resource('routers') : undefined;
    const byHost = new Map<string, string[]>();
    if (!routers || !routerIds.length) return byHost;
    for (const id of routerIds) {
      await this.svc
        .transaction(async (tx) => {
          if (
            await tx
              .selectFrom('routerl3agentbindings')
              .select('l3_agent_id')
              .where('router_id', '=', id)
              .executeTakeFirst()
          )
            return;
          const r = await tx.selectFrom('routers').selectAll().where('id', '=', id).executeTakeFirst();
          if (!r) return;
          const agent = await this.pickAgent(
            tx,
            AGENT_TYPE_L3,
            'routerl3agentbindings',
            'l3_agent_id',
            json<string[]>(r.availability_zone_hints, []),
          );
          if (agent)
            await tx.insertInto('routerl3agentbindings').values({ router_id: id, l3_agent_id: agent.id }).execute();
        })
        .catch((e) => {
          if (!isUniqueViolation(e)) throw e;
        });
    }
    const rows = await this.svc.db
      .selectFrom('routerl3agentbindings')
      .innerJoin('agents', 'agents.id', 'routerl3agentbindings.l3_agent_id')
      .select(['agents.host', 'routerl3agentbindings.router_id'])
      .where('routerl3agentbindings.router_id', 'in', routerIds)
      .execute();
    for (const r of rows as Array<{ host: string; router_id: string }>)
      byHost.set(r.host, [...(byHost.get(r.host) ?? []), r.router_id]);
    return byHost;
  }

  async l3HostsOf(routerId: string): Promise<string[]> {
    const rows = await this.svc.db
      .selectFrom('routerl3agentbindings')
      .innerJoin('agents', 'agents.id', 'routerl3agentbindings.l3_agent_id')
      .select('agents.host')
      .where('routerl3agentbindings.router_id', '=', routerId)
      .execute();
    return rows.map((r) => r.host);
  }

  private async pickAgent(
    tx: Transaction<NetworkDb>,
    agentType: string,
    bindings: string,
    agentColumn: string,
    azHints: string[],
  ) {
    const agents = (await tx
      .selectFrom('agents')
      .selectAll()
      .where('agent_type', '=', agentType)
      .where('admin_state_up', '=', 1)
      .where('heartbeat_timestamp', '>=', this.aliveSince())
      .execute()) as Array<AgentRow & { availability_zone: string | null }>;
    const inZone = agents.filter((a) => a.availability_zone && azHints.includes(a.availability_zone));
    const candidates = azHints.length && inZone.length ? inZone : agents;
    if (!candidates.length) return undefined;
    const loads = await dynamic(tx)
      .selectFrom(bindings)
      .select([agentColumn, (eb) => eb.fn.countAll().as('n')])
      .groupBy(agentColumn)
      .execute();
    const load = new Map(loads.map((l) => [l[agentColumn], Number(l.n)]));
    return candidates.sort((a, b) => (load.get(a.id) ?? 0) - (load.get(b.id) ?? 0))[0];
  }

  // ---- L2 agent RPCs ------------------------------------------------------------------

  private ports(): ResourceApi<PortResource> {
    return this.svc.resource('ports');
  }

  private async loadPort(id: string, tx?: Tx): Promise<PortResource | undefined> {
    const ctx = this.context();
    try {
      return await this.ports().load(ctx, id, tx);
    } catch {
      return undefined;
    }
  }

  /** Updates a resource through its API (hooks, revision, notifications) as the service itself. */
  async updateResource<V extends object>(
    api: ResourceApi<V>,
    existing: V,
    changes: Partial<V>,
    opts: { committed?: boolean } = {},
  ): Promise<V> {
    const ctx = this.context();
    const view = await this.svc.transaction((tx) => api.applyUpdate(existing, changes, ctx, tx));
    if (opts.committed !== false) {
      try {
        await api.spec.committed?.('update', view, ctx, existing);
      } catch (err) {
        this.svc.ctx.log.error({ err }, 'after-commit step failed');
      }
      this.svc.notify(ctx, `${api.spec.singular}.update.end`, { [api.spec.singular]: view });
    }
    return view;
  }

  private async details(device: string, host: string): Promise<DeviceDetails | { device: string }> {
    const port = await this.loadPort(device);
    if (!port || port['binding:host_id'] !== host || ['unbound', 'binding_failed'].includes(port['binding:vif_type']))
      return { device };
    const net = await this.svc.db
      .selectFrom('networks')
      .selectAll()
      .where('id', '=', port.network_id)
      .executeTakeFirst();
    const seg = await this.svc.db
      .selectFrom('network_segments')
      .selectAll()
      .where('network_id', '=', port.network_id)
      .orderBy('segment_index')
      .executeTakeFirst();
    const d: DeviceDetails = {
      device,
      port_id: port.id,
      network_id: port.network_id,
      mac_address: port.mac_address,
      admin_state_up: !!port.admin_state_up,
      status: port.status,
      network_type: seg?.network_type ?? null,
      segmentation_id: seg?.segmentation_id ?? null,
      physical_network: seg?.physical_network ?? null,
      mtu: Number(net?.mtu ?? this.svc.mtu),
      fixed_ips: port.fixed_ips ?? [],
      device_owner: port.device_owner ?? '',
      allowed_address_pairs: port.allowed_address_pairs ?? [],
      port_security_enabled: port.port_security_enabled ?? true,
      security_groups: port.security_groups ?? [],
      qos_policy_id: port.qos_policy_id ?? null,
      network_qos_policy_id: net?.qos_policy_id ?? null,
      profile: port['binding:profile'] ?? {},
    };
    if (port.trunk_details) d.trunk_details = port.trunk_details;
    const policy = d.qos_policy_id ?? (d.device_owner.startsWith('network:') ? null : d.network_qos_policy_id);
    if (policy && Object.keys(this.mechanism.qosRules).includes('bandwidth_limit')) {
      d.qos_bandwidth_limits = (
        await this.svc.db
          .selectFrom('qos_bandwidth_limit_rules')
          .select(['max_kbps', 'max_burst_kbps', 'direction'])
          .where('qos_policy_id', '=', policy)
          .execute()
      ).map((r) => ({
        max_kbps: Number(r.max_kbps),
        max_burst_kbps: Number(r.max_burst_kbps),
        direction: r.direction,
      }));
    }
    if (policy && Object.keys(this.mechanism.qosRules).includes('dscp_marking')) {
      const dscp = await this.svc.db
        .selectFrom('qos_dscp_marking_rules')
        .select('dscp_mark')
        .where('qos_policy_id', '=', policy)
        .executeTakeFirst();
      d.qos_dscp_mark = dscp ? Number(dscp.dscp_mark) : null;
    }
    return d;
  }

  get_device_details({ device, host }: { device: string; host: string }) {
    return this.details(device, host);
  }

  async get_devices_details_list({ devices, host }: { devices: string[]; host: string }) {
    const out = [];
    for (const d of devices ?? []) out.push(await this.details(d, host));
    return out;
  }

  private async setPortStatus(device: string, host: string, status: 'ACTIVE' | 'DOWN'): Promise<boolean> {
    const port = await this.loadPort(device);
    if (!port) return false;
    if (port['binding:host_id'] !== host) return true;
    if (port.status !== status) await this.updateResource(this.ports(), port, { status });
    return true;
  }

  async get_fdb_entries({ host, network_id }: { host: string; network_id: string }): Promise<FdbEntry[]> {
    const ports = (await this.viewsWhere(this.ports(), 'network_id', [network_id])).filter(
      (p) =>
        p['binding:host_id'] &&
        p['binding:host_id'] !== host &&
        !['unbound', 'binding_failed'].includes(p['binding:vif_type']),
    );
    const hosts = [...new Set(ports.map((p) => p['binding:host_id'] as string))];
    if (!hosts.length) return [];
    const agents = await this.svc.db
      .selectFrom('agents')
      .select(['host', 'configurations', 'heartbeat_timestamp'])
      .where('agent_type', '=', this.mechanism.agentType)
      .where('host', 'in', hosts)
      .execute();
    const vteps = new Map<string, string>();
    for (const a of agents) {
      const ip = json<{ tunneling_ip?: string }>(a.configurations, {}).tunneling_ip;
      if (ip && this.isAlive(a.heartbeat_timestamp)) vteps.set(a.host, ip);
    }
    const out: FdbEntry[] = [];
    for (const p of ports) {
      const vtep = vteps.get(p['binding:host_id']);
      if (!vtep) continue;
      const ip = ((p.fixed_ips ?? []) as Array<{ ip_address: string }>)[0]?.ip_address ?? null;
      out.push({ mac_address: p.mac_address, ip_address: ip, vtep });
    }
    return out;
  }

  async update_device_up({ device, host }: { device: string; host: string }) {
    await this.setPortStatus(device, host, 'ACTIVE');
  }

  async update_device_down({ device, host }: { device: string; host: string }) {
    return { device, exists: await this.setPortStatus(device, host, 'DOWN') };
  }

  async get_ports_on_host({ host }: { host: string }): Promise<string[]> {
    const rows = await this.svc.db.selectFrom('ports').select('id').where('binding_host_id', '=', host).execute();
    return rows.map((r) => r.id);
  }

  /** The details of `devices` and the rules of their groups, plus the rules of `security_groups` (a group change). */
  async security_group_info_for_devices({
    devices,
    security_groups,
  }: {
    devices: string[];
    security_groups?: string[];
  }): Promise<SecurityGroupInfo> {
    const ctx = this.context();
    const info: SecurityGroupInfo = { security_groups: {}, devices: {} };
    const ids = new Set<string>(security_groups ?? []);
    for (const device of devices ?? []) {
      const port = await this.loadPort(device);
      if (!port) continue;
      const d = await this.details(device, port['binding:host_id']);
      if (!('port_id' in d)) continue;
      info.devices[device] = d;
      for (const g of d.security_groups) ids.add(g);
    }
    const rules = this.svc.resources.has('security_group_rules')
      ? this.svc.resource('security_group_rules')
      : undefined;
    for (const g of ids) info.security_groups[g] = [];
    if (rules && ids.size) {
      const rows = await rules
        .baseQuery(ctx)
        .where(`${rules.spec.table}.security_group_id`, 'in', [...ids])
        .execute();
      for (const r of await rules.views(rows, ctx)) info.security_groups[r.security_group_id]?.push(asRule(r));
      await this.expandAddressGroups(info.security_groups);
    }
    // The addresses of the remote groups' members (upstream's sg_member_ips), for data planes that filter.
    if (this.mechanism.vifDetails.port_filter) {
      const remote = new Set<string>(security_groups ?? []);
      for (const list of Object.values(info.security_groups))
        for (const r of list) if (r.remote_group_id) remote.add(r.remote_group_id);
      info.member_ips = {};
      if (remote.size) {
        const rows = await this.svc.db
          .selectFrom('securitygroupportbindings')
          .select(['port_id', 'security_group_id'])
          .where('security_group_id', 'in', [...remote])
          .execute();
        const members = await this.viewsWhere(this.ports(), 'id', [...new Set(rows.map((r) => r.port_id))]);
        const byId = new Map(members.map((p) => [p.id as string, p]));
        for (const g of remote) info.member_ips[g] = [];
        for (const r of rows) {
          const p = byId.get(r.port_id);
          if (!p) continue;
          const addrs = [
            ...((p.fixed_ips ?? []) as Array<{ ip_address: string }>).map((f) => f.ip_address),
            ...((p.allowed_address_pairs ?? []) as Array<{ ip_address: string }>).map((a) => a.ip_address),
          ];
          info.member_ips[r.security_group_id]!.push(...addrs);
        }
      }
    }
    return info;
  }

  /**
   * Rules naming a remote address group become one rule per address of the group (of the rule's
   * ethertype) with that address as its remote_ip_prefix, which is what a firewall of prefixes
   * can enforce (upstream's iptables firewall gets address groups the same way); a rule whose
   * group has no address of its ethertype allows nothing and goes.
   */
  private async expandAddressGroups(groups: Record<string, SecurityGroupRuleView[]>) {
    const ids = new Set<string>();
    for (const list of Object.values(groups))
      for (const r of list) if (r.remote_address_group_id) ids.add(r.remote_address_group_id);
    if (!ids.size) return;
    const rows = await this.svc.db
      .selectFrom('address_group_addresses')
      .select(['address_group_id', 'address'])
      .where('address_group_id', 'in', [...ids])
      .execute();
    const byGroup = new Map<string, string[]>();
    for (const r of rows) byGroup.set(r.address_group_id, [...(byGroup.get(r.address_group_id) ?? []), r.address]);
    for (const [g, list] of Object.entries(groups))
      groups[g] = list.flatMap((r) => {
        if (!r.remote_address_group_id) return [r];
        const v6 = r.ethertype === 'IPv6';
        return (byGroup.get(r.remote_address_group_id) ?? [])
          .filter((a) => a.includes(':') === v6)
          .map((a) => ({ ...r, remote_ip_prefix: a, remote_address_group_id: null }));
      });
  }

  // ---- L3 agent RPCs ------------------------------------------------------------------

  /** Rows of a resource whose attribute is one of values: in SQL when it has a column, else filtered in memory. */
  private async viewsWhere<V extends object>(api: ResourceApi<V>, attr: string, values: string[]): Promise<V[]> {
    const ctx = this.context();
    if (!values.length) return [];
    const a = api.attrs[attr];
    const col = a && colName(attr, a);
    let q = api.baseQuery(ctx);
    if (col) q = q.where(`${api.spec.table}.${col}`, 'in', values);
    const views = await api.views(await q.execute(), ctx);
    return col ? views : views.filter((v) => values.includes((v as Record<string, unknown>)[attr] as string));
  }

  async sync_routers({ host, router_ids }: { host: string; router_ids?: string[] }): Promise<RouterInfo[]> {
    const routers = this.svc.resources.has('routers') ? this.svc.resource('routers') : undefined;
    if (!routers) return [];
    const agent = await this.agentOn(AGENT_TYPE_L3, host);
    if (!agent) return [];
    // Routers no agent hosts are scheduled when an agent asks for all of its routers (neutron's
    // router_auto_schedule on a full sync). Asking for given routers schedules nothing: an agent
    // told a router left it (DELETE /v2.0/agents/{id}/l3-routers/{router}) asks for that router.
    if (!router_ids) {
      const hosted = this.svc.db.selectFrom('routerl3agentbindings').select('router_id');
      const ids = (await this.svc.db.selectFrom('routers').select('id').where('id', 'not in', hosted).execute()).map(
        (r) => r.id,
      );
      if (ids.length) await this.scheduleRouters(ids);
    }
    let mine = this.svc.db.selectFrom('routerl3agentbindings').select('router_id').where('l3_agent_id', '=', agent.id);
    if (router_ids) mine = mine.where('router_id', 'in', router_ids.length ? router_ids : ['']);
    const hostedIds = (await mine.execute()).map((r) => r.router_id);
    const views = await this.viewsWhere(routers, 'id', hostedIds);
    let ports = (
      await this.viewsWhere(
        this.ports(),
        'device_id',
        views.map((r) => r.id),
      )
    ).filter(
      (p) =>
        p.device_owner === 'network:router_gateway' || String(p.device_owner).startsWith('network:router_interface'),
    );
    // A router's ports are bound to the host of its agent, whose L2 role then plugs them (upstream's _ensure_host_set_on_ports).
    ports = await Promise.all(
      ports.map((p) =>
        p['binding:host_id'] === host ? p : this.updateResource(this.ports(), p, { 'binding:host_id': host }),
      ),
    );
    const fipApi = this.svc.resources.has('floatingips') ? this.svc.resource('floatingips') : undefined;
    const fips = fipApi
      ? await this.viewsWhere(
          fipApi,
          'router_id',
          views.map((r) => r.id),
        )
      : [];
    // Each port with its subnets and MTU (upstream's _populate_mtu_and_subnets_for_ports), for data planes that address it.
    const subnetApi = this.svc.resources.has('subnets') ? this.svc.resource('subnets') : undefined;
    const subnetIds = [
      ...new Set(ports.flatMap((p) => ((p.fixed_ips ?? []) as Array<{ subnet_id: string }>).map((f) => f.subnet_id))),
    ];
    const subnets = subnetApi && subnetIds.length ? await this.viewsWhere(subnetApi, 'id', subnetIds) : [];
    const netIds = [...new Set(ports.map((p) => p.network_id as string))];
    const mtus = new Map(
      netIds.length
        ? (await this.svc.db.selectFrom('networks').select(['id', 'mtu']).where('id', 'in', netIds).execute()).map(
            (n) => [n.id, Number(n.mtu ?? this.svc.mtu)] as const,
          )
        : [],
    );
    ports = ports.map((p) => ({
      ...p,
      mtu: mtus.get(p.network_id) ?? this.svc.mtu,
      subnets: subnets
        .filter((s) => ((p.fixed_ips ?? []) as Array<{ subnet_id: string }>).some((f) => f.subnet_id === s.id))
        .map((s) => ({
          id: s.id,
          cidr: s.cidr,
          gateway_ip: s.gateway_ip,
          // For router advertisements (upstream's ra.py reads these and the DNS servers).
          ipv6_ra_mode: s.ipv6_ra_mode ?? null,
          ipv6_address_mode: s.ipv6_address_mode ?? null,
          dns_nameservers: s.dns_nameservers ?? [],
        })),
    }));
    // The port forwardings of the routers' floating IPs (upstream's port_forwarding L3 agent extension pulls them).
    const fipAddr = new Map(fips.map((f) => [f.id as string, f]));
    const pfs = fipAddr.size
      ? await this.svc.db
          .selectFrom('portforwardings')
          .selectAll()
          .where('floatingip_id', 'in', [...fipAddr.keys()])
          .execute()
      : [];
    return views.map((r) => ({
      id: r.id,
      admin_state_up: !!r.admin_state_up,
      port_forwardings: pfs
        .filter((pf) => fipAddr.get(pf.floatingip_id)?.router_id === r.id)
        .map((pf) => ({
          id: pf.id,
          floating_ip_address: String(fipAddr.get(pf.floatingip_id)?.floating_ip_address),
          protocol: pf.protocol,
          internal_ip_address: pf.internal_ip_address,
          internal_port_start: Number(pf.internal_port_start),
          internal_port_end: Number(pf.internal_port_end),
          external_port_start: Number(pf.external_port_start),
          external_port_end: Number(pf.external_port_end),
        })),
      gw_port: asRouterPort(ports.find((p) => p.device_id === r.id && p.device_owner === 'network:router_gateway')),
      interfaces: ports
        .filter((p) => p.device_id === r.id && String(p.device_owner).startsWith('network:router_interface'))
        .map(asPort),
      floating_ips: fips.filter((f) => f.router_id === r.id).map(asFloatingIp),
      routes: r.routes ?? [],
      enable_snat: r.external_gateway_info?.enable_snat ?? false,
    }));
  }

  /**
   * The metering agent's view (upstream's get_sync_data_metering): each router the host's L3
   * agent hosts, its gateway port, and the labels that apply to it (shared ones, and those of the
   * router's project) with their rules.
   */
  async get_sync_data_metering({ host }: { host: string }): Promise<MeteringRouterInfo[]> {
    const agent = await this.agentOn(AGENT_TYPE_L3, host);
    if (!agent) return [];
    const db = this.svc.db;
    const ids = (
      await db.selectFrom('routerl3agentbindings').select('router_id').where('l3_agent_id', '=', agent.id).execute()
    ).map((r) => r.router_id);
    if (!ids.length) return [];
    const routers = await db
      .selectFrom('routers')
      .select(['id', 'project_id', 'admin_state_up'])
      .where('id', 'in', ids)
      .execute();
    const gws = await db
      .selectFrom('ports')
      .select(['id', 'device_id'])
      .where('device_owner', '=', 'network:router_gateway')
      .where('device_id', 'in', ids)
      .execute();
    const labels = await db.selectFrom('metering_labels').select(['id', 'project_id', 'shared']).execute();
    const rules = labels.length ? await db.selectFrom('metering_label_rules').selectAll().execute() : [];
    return routers.map((r) => ({
      id: r.id,
      project_id: String(r.project_id ?? ''),
      admin_state_up: bool(r.admin_state_up),
      gw_port_id: gws.find((g) => g.device_id === r.id)?.id ?? null,
      labels: labels
        .filter((l) => bool(l.shared) || l.project_id === r.project_id)
        .map((l) => ({
          id: l.id,
          project_id: l.project_id,
          rules: rules
            .filter((x) => x.metering_label_id === l.id)
            .map((x) => ({
              id: x.id,
              direction: x.direction,
              excluded: bool(x.excluded),
              remote_ip_prefix: x.remote_ip_prefix,
              source_ip_prefix: x.source_ip_prefix,
              destination_ip_prefix: x.destination_ip_prefix,
            })),
        })),
    }));
  }

  async update_floatingip_statuses({
    router_id,
    fip_statuses,
  }: {
    router_id: string;
    fip_statuses: Record<string, string>;
  }) {
    const ctx = this.context();
    if (!this.svc.resources.has('floatingips')) return;
    const api = this.svc.resource('floatingips');
    for (const [id, status] of Object.entries(fip_statuses ?? {})) {
      let fip: FloatingIpResource;
      try {
        fip = await api.load(ctx, id);
      } catch {
        continue;
      }
      // A floating IP that moved to another router meanwhile is that router's to report.
      if (fip.router_id && fip.router_id !== router_id) continue;
      if (fip.status !== status) await this.updateResource(api, fip, { status }, { committed: false });
    }
  }

  // ---- DHCP agent RPCs ----------------------------------------------------------------

  async get_active_networks_info({ host }: { host: string }): Promise<string[]> {
    const agent = await this.agentOn(AGENT_TYPE_DHCP, host);
    if (!agent) return [];
    // Networks no agent serves are scheduled when an agent asks (neutron's network_auto_schedule).
    const hosted = this.svc.db.selectFrom('networkdhcpagentbindings').select('network_id');
    const orphans = await this.svc.db
      .selectFrom('subnets')
      .select('network_id')
      .distinct()
      .where('enable_dhcp', '=', 1)
      .where('network_id', 'not in', hosted)
      .execute();
    for (const o of orphans as Array<{ network_id: string }>) await this.scheduleNetwork(o.network_id);
    const rows = await this.svc.db
      .selectFrom('networkdhcpagentbindings')
      .select('network_id')
      .where('dhcp_agent_id', '=', agent.id)
      .execute();
    return rows.map((r) => r.network_id);
  }

  /** The network as its DHCP agent serves it, or null when that host's agent does not serve it. */
  async get_network_info({ network_id, host }: { network_id: string; host: string }): Promise<DhcpNetwork | null> {
    const agent = await this.agentOn(AGENT_TYPE_DHCP, host);
    if (!agent) return null;
    const bound = await this.svc.db
      .selectFrom('networkdhcpagentbindings')
      .select('network_id')
      .where('network_id', '=', network_id)
      .where('dhcp_agent_id', '=', agent.id)
      .executeTakeFirst();
    const net = await this.svc.db.selectFrom('networks').selectAll().where('id', '=', network_id).executeTakeFirst();
    if (!bound || !net) return null;
    const subnets = this.svc.resources.get('subnets');
    return {
      id: net.id,
      project_id: net.project_id ?? '',
      admin_state_up: bool(net.admin_state_up),
      mtu: Number(net.mtu),
      subnets: subnets ? (await this.viewsWhere(subnets, 'network_id', [network_id])).map(asSubnet) : [],
      ports: (await this.viewsWhere(this.ports(), 'network_id', [network_id])).map(asPort),
    };
  }

  async create_dhcp_port({
    host,
    port,
  }: {
    host: string;
    port: { network_id: string; device_id: string; fixed_ips: Array<{ subnet_id: string }> };
  }): Promise<PortView | null> {
    const ctx = this.context();
    const api = this.ports();
    const net = await this.svc.db
      .selectFrom('networks')
      .select(['id', 'project_id'])
      .where('id', '=', port.network_id)
      .executeTakeFirst();
    if (!net) return null;
    const existing = await this.viewsWhere(api, 'network_id', [port.network_id]);
    const mine = existing.find((p) => p.device_id === port.device_id);
    if (mine) return asPort(mine);
    // A port a removed agent left reserved is taken over, as upstream's DHCP agent does.
    const reserved = existing.find((p) => p.device_id === RESERVED_DHCP_PORT && p.device_owner === DEVICE_OWNER_DHCP);
    if (reserved)
      return asPort(await this.updateResource(api, reserved, { device_id: port.device_id, 'binding:host_id': host }));
    const { values } = api.prepareCreate(
      {
        network_id: port.network_id,
        project_id: net.project_id,
        name: '',
        admin_state_up: true,
        device_id: port.device_id,
        device_owner: DEVICE_OWNER_DHCP,
        fixed_ips: port.fixed_ips,
        'binding:host_id': host,
      },
      ctx,
    );
    const view = await this.svc.transaction((tx) => api.insert(values, ctx, tx));
    try {
      await api.spec.committed?.('create', view, ctx);
    } catch (err) {
      this.svc.ctx.log.error({ err }, 'after-commit step failed');
    }
    this.svc.notify(ctx, 'port.create.end', { port: view });
    return asPort(view);
  }

  async update_dhcp_port({
    port_id,
    port,
  }: {
    host: string;
    port_id: string;
    port: { fixed_ips: Array<{ subnet_id: string; ip_address?: string }> };
  }): Promise<PortView | null> {
    const existing = await this.loadPort(port_id);
    if (!existing) return null;
    // The addresses asked for (a subnet, with or without an address): IPAM fills them in.
    const fixedIps = port.fixed_ips as PortResource['fixed_ips'];
    return asPort(await this.updateResource(this.ports(), existing, { fixed_ips: fixedIps }));
  }

  async release_dhcp_port({ network_id, device_id }: { host: string; network_id: string; device_id: string }) {
    const ctx = this.context();
    const api = this.ports();
    for (const p of (await this.viewsWhere(api, 'network_id', [network_id])).filter((x) => x.device_id === device_id)) {
      await this.svc.transaction((tx) => api.remove(p, ctx, tx));
      try {
        await api.spec.committed?.('delete', p, ctx);
      } catch (err) {
        this.svc.ctx.log.error({ err }, 'after-commit step failed');
      }
      this.svc.notify(ctx, 'port.delete.end', { port_id: p.id, port: p });
    }
  }

  // ---- trunk RPCs ---------------------------------------------------------------------

  async update_subport_bindings({ host, trunk_id }: { host: string; trunk_id: string }) {
    const subports = await this.svc.db
      .selectFrom('subports')
      .select('port_id')
      .where('trunk_id', '=', trunk_id)
      .execute();
    for (const s of subports as Array<{ port_id: string }>) {
      const p = await this.loadPort(s.port_id);
      if (!p) continue;
      const changes: Partial<PortResource> = {};
      if (p['binding:host_id'] !== host) changes['binding:host_id'] = host;
      if (p.device_owner !== TRUNK_SUBPORT_OWNER) changes.device_owner = TRUNK_SUBPORT_OWNER;
      if (Object.keys(changes).length) await this.updateResource(this.ports(), p, changes);
    }
  }

  async update_trunk_status({ trunk_id, status }: { trunk_id: string; status: string }) {
    const ctx = this.context();
    if (!this.svc.resources.has('trunks')) return;
    const api = this.svc.resource('trunks');
    let trunk: TrunkResource;
    try {
      trunk = await api.load(ctx, trunk_id);
    } catch {
      return;
    }
    if (trunk.status !== status) await this.updateResource(api, trunk, { status }, { committed: false });
  }
}
