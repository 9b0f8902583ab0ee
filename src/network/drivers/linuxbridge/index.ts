// The `linuxbridge` data plane: Neutron's Linux bridge agent, DHCP agent, L3 agent and metadata
// agent in one driver behind the network agent (drivers/dataplane.ts), on real kernel objects:
// - L2: a bridge `brq<net>` per network with a port on this host, VXLAN (`vxlan-<vni>`, from the
//   host's underlayIp) or a flat physical interface (physicalInterfaceMappings) in it; a port's
//   tap (`tap<port>`: the VM's from the compute side, a veth of ours for DHCP and router ports)
//   goes in the bridge as soon as it exists (polled every 500 ms), and only then is the port
//   reported up (plugPort answers false until then);
// - security groups: firewall.ts; DHCP: dhcp.ts; routers: router.ts; metadata: metadata.ts.
// Everything lives in the host's namespace `stratus-host-<host>` (core/hostns.ts) or in the
// `qdhcp-`/`qrouter-` namespaces this host made; the root namespace gets only the external
// uplink (a veth with the public range's gateway address) when externalUplink is configured.
import { metadataSharedSecret } from '../../../core/metadata_secret.ts';
import fs from 'node:fs';
import path from 'node:path';
import { deleteNamespace, ensureHostNamespace, hostNamespace, run, shortHash } from '../../../core/hostns.ts';
import type { NetworkConfig } from '../../config.ts';
import type {
  DataplaneDriver,
  DeviceDetails,
  DhcpNetwork,
  FdbEntry,
  Mechanism,
  MeteringCounter,
  MeteringRouterInfo,
  RouterInfo,
  SecurityGroupInfo,
} from '../dataplane.ts';
import { logicalMechanism } from '../logical.ts';
import { DhcpServer } from './dhcp.ts';
import { applyFirewall, clearFirewall, firewallPlan } from './firewall.ts';
import {
  addLink,
  bridgeName,
  dhcpNamespace,
  ip,
  linkExists,
  links,
  routerNamespace,
  tapName,
  vxlanName,
} from './ip.ts';
import { MetadataProxy, ensureHaproxy, stopHaproxy } from './metadata.ts';
import { Metering } from './metering.ts';
import { applyDscp, type EgressLimit } from './qos.ts';
import { Routers } from './router.ts';

export const linuxbridgeMechanism: Mechanism = {
  agentType: 'Linux bridge agent',
  agentBinary: 'neutron-linuxbridge-agent',
  vifType: 'bridge',
  vifDetails: { port_filter: true, connectivity: 'l2' },
  networkTypes: ['local', 'flat', 'vxlan'],
  // As upstream's Linux bridge QoS driver: bandwidth limits and DSCP marking (not minimum bandwidth).
  qosRules: {
    bandwidth_limit: logicalMechanism.qosRules.bandwidth_limit!,
    dscp_marking: logicalMechanism.qosRules.dscp_marking!,
  },
  vifDetailsFor: (networkId: string) => ({ bridge_name: bridgeName(networkId) }),
};

export type LinuxBridgeOptions = Partial<
  Pick<
    NetworkConfig,
    | 'hostNamespace'
    | 'physicalInterfaceMappings'
    | 'underlayIp'
    | 'underlayIps'
    | 'externalUplink'
    | 'metadataProxySharedSecret'
    | 'novaMetadataUrl'
    | 'cleanupOnStop'
    | 'dnsDomain'
  >
>;

const STATE_ROOT = '/run/stratus';

/** Where a host's data plane keeps its files (dnsmasq's, haproxy's, the metadata socket). */
export const stateDir = (host: string) => path.join(STATE_ROOT, hostNamespace(host));

interface NetworkL2 {
  type: string | null;
  segmentationId: number | null;
  physnet: string | null;
  mtu: number;
}

export class LinuxBridgeDriver implements DataplaneDriver {
  readonly name = 'linuxbridge';
  /** Port forwardings are DNAT rules in qrouter- (router.ts); no fip_qos (no police action in this kernel). */
  readonly l3Extensions = ['port_forwarding'] as const;
  host = '';
  /** The host's namespace (undefined: the root namespace, a real host). */
  ns: string | undefined;
  readonly ports = new Map<string, DeviceDetails>();
  readonly wired = new Set<string>();
  readonly dhcpNetworks = new Map<string, DhcpNetwork>();
  readonly routers = new Map<string, RouterInfo>();
  private networks = new Map<string, NetworkL2>();
  private bridgesReady = new Map<string, string>();
  private listener?: (portId: string) => void;
  private poll?: NodeJS.Timeout;
  private polling = false;
  private dhcp!: DhcpServer;
  private routerImpl!: Routers;
  private metadata?: MetadataProxy;
  private dir = '';
  /** What this run has touched (leftovers of an earlier run are removed at reconcile). */
  private seenDhcp = new Set<string>();
  private seenRouters = new Set<string>();

  constructor(
    private o: LinuxBridgeOptions = {},
    /** The cloud's data directory (secrets.yaml holds the metadata proxy's shared secret). */
    private readonly dataDir = '',
  ) {}

  /** The agent hears here when a port that was waiting for its tap is wired. */
  watch(listener: (portId: string) => void) {
    this.listener = listener;
  }

  async start(host: string) {
    this.host = host;
    const mine = this.o.underlayIps?.[host];
    if (mine) this.o = { ...this.o, underlayIp: mine };
    this.ns = this.o.hostNamespace === false ? undefined : await ensureHostNamespace(host);
    this.dir = stateDir(host);
    fs.mkdirSync(path.join(this.dir, 'routers'), { recursive: true });
    this.dhcp = new DhcpServer(this.ns, this.dir, this.o.dnsDomain ?? 'openstacklocal');
    this.routerImpl = new Routers(this.ns, path.join(this.dir, 'radvd'));
    this.metadata = new MetadataProxy({
      socket: path.join(this.dir, 'metadata.sock'),
      novaUrl: this.o.novaMetadataUrl ?? 'http://127.0.0.1:8775',
      // A driver made outside a cloud (tests) has no data directory and signs with the configured secret only.
      secret: this.o.metadataProxySharedSecret || (this.dataDir ? metadataSharedSecret(this.dataDir) : ''),
      lookup: (networkId, addr) =>
        this.dhcpNetworks.get(networkId)?.ports.find((p) => (p.fixed_ips ?? []).some((f) => f.ip_address === addr)),
    });
    await this.metadata.start();
    this.poll = setInterval(() => void this.pollTaps(), 500);
    this.poll.unref();
  }

  /** Stops watching; the data plane stays as it is (wired ports survive an agent restart) except the root namespace's uplink. */
  async stop() {
    if (this.poll) clearInterval(this.poll);
    await this.metadata?.stop();
    await this.removeUplink();
    if (this.o.cleanupOnStop && this.host) await cleanupHost(this.host, this.o);
  }

  // ---- L2 ------------------------------------------------------------------------------

  /**
   * The network's bridge (with its VXLAN device, physical interface or uplink), made once per run
   * and network (ports plugged at once share the making); reconcile and removeBridge forget it.
   */
  private async ensureBridge(networkId: string, n: NetworkL2): Promise<string> {
    const key = JSON.stringify(n);
    if (this.bridgesReady.get(networkId) === key) return bridgeName(networkId);
    const flight = `${networkId}|${key}`;
    let p = this.bridgesMaking.get(flight);
    if (!p) {
      p = this.makeBridge(networkId, n).finally(() => this.bridgesMaking.delete(flight));
      this.bridgesMaking.set(flight, p);
    }
    await p;
    this.bridgesReady.set(networkId, key);
    return bridgeName(networkId);
  }
  private bridgesMaking = new Map<string, Promise<void>>();

  private async makeBridge(networkId: string, n: NetworkL2): Promise<void> {
    const br = bridgeName(networkId);
    const ns = this.ns;
    if (await addLink(ns, br, ['type', 'bridge', 'stp_state', '0', 'forward_delay', '0'])) {
      await ip(ns, ['link', 'set', br, 'mtu', String(n.mtu)], true);
    }
    await ip(ns, ['link', 'set', br, 'up']);
    if (n.type === 'vxlan' && n.segmentationId !== null) {
      const vx = vxlanName(n.segmentationId);
      const local = this.o.underlayIp ? ['local', this.o.underlayIp] : [];
      await addLink(ns, vx, [
        'type',
        'vxlan',
        'id',
        String(n.segmentationId),
        'dstport',
        '4789',
        ...local,
        'nolearning',
      ]);
      await ip(ns, ['link', 'set', vx, 'master', br, 'mtu', String(n.mtu), 'up']);
    } else if (n.type === 'flat' && n.physnet) {
      const dev = this.o.physicalInterfaceMappings?.[n.physnet];
      if (dev && (await linkExists(ns, dev))) await ip(ns, ['link', 'set', dev, 'master', br, 'up']);
      if (this.o.externalUplink?.physnet === n.physnet) await this.ensureUplink(br);
    }
  }

  private uplinkNames() {
    const h = shortHash(this.host);
    return { root: `sx${h}`, inner: `sxh${h}` };
  }

  /** The host's way to the external network: a veth from the root namespace into the physnet's bridge. */
  private async ensureUplink(br: string) {
    const up = this.o.externalUplink;
    if (!up || !this.ns) return;
    const { root, inner } = this.uplinkNames();
    // A root end left by an earlier run of this host (killed before its stop) may carry another
    // run's public range: made again then, else this run's floating IPs have no route.
    if (await linkExists(undefined, root)) {
      const addrs = await run(['ip', '-o', 'addr', 'show', 'dev', root], { allowFail: true });
      if (!addrs.split(/\s+/).includes(up.cidr)) await ip(undefined, ['link', 'del', root], true);
    }
    if (!(await linkExists(undefined, root))) {
      await ip(this.ns, ['link', 'del', inner], true);
      await ip(undefined, ['link', 'add', root, 'type', 'veth', 'peer', 'name', inner, 'netns', this.ns]);
      await ip(undefined, ['addr', 'add', up.cidr, 'dev', root]);
    }
    await ip(undefined, ['link', 'set', root, 'up']);
    await ip(this.ns, ['link', 'set', inner, 'master', br, 'up']);
  }

  private async removeUplink() {
    if (!this.o.externalUplink || !this.ns) return;
    await ip(undefined, ['link', 'del', this.uplinkNames().root], true);
  }

  async plugPort(d: DeviceDetails): Promise<boolean> {
    if (d.network_type && !['flat', 'vxlan', 'local'].includes(d.network_type))
      throw new Error(`linuxbridge cannot wire a ${d.network_type} network`);
    const n: NetworkL2 = {
      type: d.network_type,
      segmentationId: d.segmentation_id,
      physnet: d.physical_network,
      mtu: d.mtu,
    };
    this.networks.set(d.network_id, n);
    const before = this.ports.get(d.port_id);
    if (before && before.network_id !== d.network_id) this.wired.delete(d.port_id);
    this.ports.set(d.port_id, d);
    await this.ensureBridge(d.network_id, n);
    return this.wire(d);
  }

  /** Puts the port's tap in its bridge if the tap exists; answers whether it is wired. */
  private async wire(d: DeviceDetails, present?: Map<string, { master?: string; up: boolean }>): Promise<boolean> {
    const tap = tapName(d.port_id);
    const br = bridgeName(d.network_id);
    const l = present ? present.get(tap) : (await links(this.ns, tap)).get(tap);
    if (!l) {
      this.wired.delete(d.port_id);
      return false;
    }
    if (l.master !== br) this.applied.delete(d.port_id); // a new tap: no qdisc yet
    if (l.master !== br || l.up !== d.admin_state_up)
      await ip(this.ns, [
        'link',
        'set',
        'dev',
        tap,
        'master',
        br,
        'mtu',
        String(d.mtu),
        d.admin_state_up ? 'up' : 'down',
      ]);
    this.wired.add(d.port_id);
    await this.applyQos(d);
    const egress = (d.qos_bandwidth_limits ?? []).find((r) => r.direction !== 'ingress');
    await this.setDscp(d.port_id, d.qos_dscp_mark ?? null, egress ?? null);
    return true;
  }

  /** DSCP marks and egress limits of this host's ports (qos.ts), rewritten when one changes. */
  private dscpMarks = new Map<string, number>();
  private egressLimits = new Map<string, EgressLimit>();
  private dscpWritten = '';
  private async setDscp(portId: string, mark: number | null, limit: EgressLimit | null = null) {
    if (mark === null) this.dscpMarks.delete(portId);
    else this.dscpMarks.set(portId, mark);
    if (limit === null) this.egressLimits.delete(portId);
    else this.egressLimits.set(portId, { max_kbps: limit.max_kbps, max_burst_kbps: limit.max_burst_kbps });
    // One write at a time: two at once would both find the POSTROUTING hook missing and add it twice
    // (every packet would then pass the police rules twice).
    const write = this.dscpWriting.then(async () => {
      const key = JSON.stringify([[...this.dscpMarks].sort(), [...this.egressLimits].sort()]);
      if (key === this.dscpWritten) return;
      await applyDscp(this.ns, this.dscpMarks, this.egressLimits);
      this.dscpWritten = key;
    });
    this.dscpWriting = write.catch(() => undefined);
    await write;
  }
  private dscpWriting: Promise<unknown> = Promise.resolve();

  /**
   * QoS bandwidth limits on the tap, as upstream's tc_lib: to the guest (`ingress` rules) a tbf
   * on the tap's root. From the guest (`egress`) upstream polices the tap's ingress, which needs
   * a tc classifier and the police action: this kernel has neither (measured), so those are
   * hashlimit drops in the QoS chain instead (setDscp, qos.ts).
   */
  private applied = new Map<string, string>();
  private async applyQos(d: DeviceDetails) {
    const rules = (d.qos_bandwidth_limits ?? []).filter((r) => r.direction === 'ingress');
    const key = JSON.stringify(rules);
    if ((this.applied.get(d.port_id) ?? '[]') === key) return;
    const tap = tapName(d.port_id);
    const tc = (args: string[], allowFail = false) =>
      run(this.ns ? ['tc', '-n', this.ns, ...args] : ['tc', ...args], { allowFail });
    await tc(['qdisc', 'del', 'dev', tap, 'root'], true);
    for (const r of rules) {
      // Upstream's default burst: 80 % of the rate.
      const burstKbit = r.max_burst_kbps || Math.max(1, Math.round(r.max_kbps * 0.8));
      const burstBytes = Math.max(1600, Math.round((burstKbit * 1000) / 8));
      await tc([
        'qdisc',
        'replace',
        'dev',
        tap,
        'root',
        'tbf',
        'rate',
        `${r.max_kbps}kbit`,
        'burst',
        `${burstBytes}`,
        'latency',
        '50ms',
      ]);
    }
    this.applied.set(d.port_id, key);
  }

  /** A veth of ours (DHCP, router) just made: wire its port if plugged already, and tell the agent (it waits for it). */
  private async wireOwn(portId: string) {
    const d = this.ports.get(portId);
    if (!d) return;
    const before = this.wired.has(portId);
    if ((await this.wire(d)) && !before) this.listener?.(portId);
  }

  private async pollTaps() {
    if (this.polling) return;
    const waiting = [...this.ports.values()].filter((d) => !this.wired.has(d.port_id));
    if (!waiting.length) return;
    this.polling = true;
    try {
      const present = await links(this.ns);
      for (const d of waiting) {
        if (!present.has(tapName(d.port_id))) continue;
        if (await this.wire(d, present)) this.listener?.(d.port_id);
      }
    } catch {
      // the next poll tries again
    } finally {
      this.polling = false;
    }
  }

  async unplugPort(portId: string) {
    const d = this.ports.get(portId);
    this.ports.delete(portId);
    this.wired.delete(portId);
    this.applied.delete(portId);
    if (this.dscpMarks.has(portId) || this.egressLimits.has(portId)) await this.setDscp(portId, null);
    if (!d) return;
    // Our own veths (DHCP and router ports) go with their namespaces; a VM's tap is the compute side's.
    if (![...this.ports.values()].some((p) => p.network_id === d.network_id)) await this.removeBridge(d.network_id);
  }

  private async removeBridge(networkId: string) {
    const n = this.networks.get(networkId);
    this.networks.delete(networkId);
    this.bridgesReady.delete(networkId);
    if (n?.type === 'vxlan' && n.segmentationId !== null)
      await ip(this.ns, ['link', 'del', vxlanName(n.segmentationId)], true);
    await ip(this.ns, ['link', 'del', bridgeName(networkId)], true);
  }

  // ---- L2 population ------------------------------------------------------------------------

  /** As neutron-metadata-agent reports itself (haproxy forwards to this process's unix socket). */
  metadataAgent() {
    const nova = new URL(this.o.novaMetadataUrl ?? 'http://127.0.0.1:8775');
    return {
      metadata_proxy_socket: path.join(this.dir, 'metadata.sock'),
      nova_metadata_host: nova.hostname,
      nova_metadata_port: Number(nova.port || (nova.protocol === 'https:' ? 443 : 80)),
      nova_metadata_protocol: nova.protocol.replace(/:$/, ''),
      log_agent_heartbeats: false,
    };
  }

  configurations() {
    return this.o.underlayIp ? { tunneling_ip: this.o.underlayIp, tunnel_types: ['vxlan'], l2_population: true } : {};
  }

  /**
   * The other hosts' ports of a VXLAN network as static FDB entries on its vxlan device: one
   * all-zero entry per remote host (broadcasts and ARP go to each, head-end replication) and one
   * per remote MAC (unicast straight to its host); entries no longer wanted go.
   */
  async updateFdb(networkId: string, entries: FdbEntry[]) {
    const n = this.networks.get(networkId);
    if (n?.type !== 'vxlan' || n.segmentationId === null) return;
    const vx = vxlanName(n.segmentationId);
    const bridge = (args: string[], allowFail = false) =>
      run(this.ns ? ['bridge', '-n', this.ns, ...args] : ['bridge', ...args], { allowFail });
    const want = new Set<string>();
    for (const e of entries) {
      if (e.vtep === this.o.underlayIp) continue;
      want.add(`00:00:00:00:00:00|${e.vtep}`);
      want.add(`${e.mac_address.toLowerCase()}|${e.vtep}`);
    }
    const have = new Set<string>();
    for (const line of (await bridge(['fdb', 'show', 'dev', vx], true)).split('\n')) {
      const m = /^(\S+) dst (\S+)/.exec(line);
      if (m) have.add(`${m[1]}|${m[2]}`);
    }
    for (const k of have) {
      if (want.has(k)) continue;
      const [mac, dst] = k.split('|') as [string, string];
      await bridge(['fdb', 'del', mac, 'dev', vx, 'dst', dst], true);
    }
    for (const k of want) {
      if (have.has(k)) continue;
      const [mac, dst] = k.split('|') as [string, string];
      const verb = mac === '00:00:00:00:00:00' ? 'append' : 'replace';
      await bridge(['fdb', verb, mac, 'dev', vx, 'dst', dst, 'self', 'permanent']);
    }
  }

  // ---- security groups -----------------------------------------------------------------

  async updateSecurityGroups(info: SecurityGroupInfo) {
    await applyFirewall(this.ns, firewallPlan(info, info.member_ips ?? {}));
  }

  // ---- DHCP and the metadata proxy -------------------------------------------------------

  async syncDhcp(network: DhcpNetwork) {
    this.seenDhcp.add(network.id);
    this.dhcpNetworks.set(network.id, network);
    await this.dhcp.sync(network, this.host);
    const port = DhcpServer.portOf(network, this.host);
    if (port) {
      await this.wireOwn(port.id);
      if (this.metadata)
        await ensureHaproxy(
          dhcpNamespace(network.id),
          this.dhcp.dir(network.id),
          network.id,
          path.join(this.dir, 'metadata.sock'),
        );
    }
  }

  async removeDhcp(networkId: string) {
    this.dhcpNetworks.delete(networkId);
    stopHaproxy(this.dhcp.dir(networkId));
    await this.dhcp.remove(networkId);
    await deleteNamespace(dhcpNamespace(networkId));
  }

  // ---- routers -----------------------------------------------------------------------------

  async syncRouter(router: RouterInfo) {
    this.seenRouters.add(router.id);
    fs.writeFileSync(path.join(this.dir, 'routers', router.id), '');
    this.routers.set(router.id, router);
    if (!router.admin_state_up) {
      // As upstream's L3 agent (the server lists only active routers to it): a router set down
      // loses its namespace, so its floating IPs and SNAT stop; set up again, it is built anew.
      await deleteNamespace(routerNamespace(router.id));
      this.routerImpl.removed(router.id);
      return;
    }
    await this.routerImpl.sync(router);
    for (const p of [...router.interfaces, ...(router.gw_port ? [router.gw_port] : [])]) {
      await this.wireOwn(p.id);
    }
  }

  async removeRouter(routerId: string) {
    this.routers.delete(routerId);
    await deleteNamespace(routerNamespace(routerId));
    this.routerImpl.removed(routerId);
    fs.rmSync(path.join(this.dir, 'routers', routerId), { force: true });
  }

  // ---- metering ---------------------------------------------------------------------------

  private metering = new Metering();

  async syncMetering(routers: MeteringRouterInfo[]) {
    await this.metering.sync(routers);
  }

  async meteringCounters(): Promise<MeteringCounter[]> {
    return this.metering.counters();
  }

  // ---- reconcile and cleanup -----------------------------------------------------------------

  /**
   * After the agent's first full resync: what this host made earlier and the server no longer
   * wants goes (dnsmasq and namespaces of networks not served, routers not hosted, bridges with
   * no port, the rules of ports gone).
   */
  async reconciled() {
    for (const id of this.dhcp.known()) if (!this.seenDhcp.has(id)) await this.removeDhcp(id);
    for (const id of fs.readdirSync(path.join(this.dir, 'routers')))
      if (!this.seenRouters.has(id)) await this.removeRouter(id);
    const wantedBridges = new Set([...this.ports.values()].map((p) => bridgeName(p.network_id)));
    const wantedVx = new Set(
      [...this.networks.values()].filter((n) => n.type === 'vxlan').map((n) => vxlanName(n.segmentationId ?? 0)),
    );
    for (const name of (await links(this.ns)).keys()) {
      if (name.startsWith('brq') && !wantedBridges.has(name)) await ip(this.ns, ['link', 'del', name], true);
      for (const id of this.bridgesReady.keys()) if (!wantedBridges.has(bridgeName(id))) this.bridgesReady.delete(id);
      if (name.startsWith('vxlan-') && !wantedVx.has(name)) await ip(this.ns, ['link', 'del', name], true);
    }
  }
}

/**
 * Removes everything a host's linuxbridge data plane made: its DHCP and router namespaces (with
 * their dnsmasq and haproxy), its host namespace (bridges, taps, rules), the root namespace's
 * uplink, its state files.
 */
export async function cleanupHost(host: string, o: LinuxBridgeOptions = {}): Promise<void> {
  const dir = stateDir(host);
  const dhcp = new DhcpServer(undefined, dir);
  for (const id of dhcp.known()) {
    stopHaproxy(dhcp.dir(id));
    await dhcp.remove(id);
    await deleteNamespace(dhcpNamespace(id));
  }
  let routers: string[] = [];
  try {
    routers = fs.readdirSync(path.join(dir, 'routers'));
  } catch {
    // none
  }
  for (const id of routers) await deleteNamespace(routerNamespace(id));
  await ip(undefined, ['link', 'del', `sx${shortHash(host)}`], true);
  if (o.hostNamespace === false) {
    await clearFirewall(undefined);
    await applyDscp(undefined, new Map());
  } else await deleteNamespace(hostNamespace(host));
  fs.rmSync(dir, { recursive: true, force: true });
}
