// The namespaces of the real-network tests, made and removed one way: a "guest" namespace that
// stands for a VM (its eth0 one end of a veth whose other end, in the host's namespace, is named
// as the port's tap), an underlay veth between two host namespaces, and a clean-up that removes
// every guest and every host's data plane, also when one of them fails.
import { deleteNamespace, ensureNamespace, hostNamespace, run } from '../../src/core/hostns.ts';
import { cleanupHost } from '../../src/network/drivers/linuxbridge/index.ts';
import { tapName } from '../../src/network/drivers/linuxbridge/ip.ts';
import type { DeviceDetails } from '../../src/network/drivers/dataplane.ts';

/** The skip reason of a test that needs root (false when it runs as root). */
export const needsRoot = (what: string): string | false => (process.getuid?.() === 0 ? false : `needs root (${what})`);

/** A tag unique to this test process, for the names of its namespaces, hosts and ports. */
export const testTag = `${process.pid % 100000}`;

/** A UUID of this test process: `prefix` and `n` in the first group, the tag in the last. */
export const tagUuid = (n: number, prefix: string) =>
  `${prefix}${String(n).padStart(8 - prefix.length, '0')}-aaaa-4bbb-8ccc-${testTag.padStart(12, '0')}`;

/**
 * The agent's device details of ports on one VXLAN network (what get_devices_details_list answers
 * for a compute port), a test's own fields in `extra`.
 */
export function vxlanDevices(net: {
  network_id: string;
  subnet_id: string;
  segmentation_id: number;
  security_groups: string[];
}) {
  return (port: string, ip: string, mac: string, extra: Partial<DeviceDetails> = {}): DeviceDetails => ({
    device: port,
    port_id: port,
    network_id: net.network_id,
    mac_address: mac,
    admin_state_up: true,
    status: 'DOWN',
    network_type: 'vxlan',
    segmentation_id: net.segmentation_id,
    physical_network: null,
    mtu: 1450,
    fixed_ips: [{ subnet_id: net.subnet_id, ip_address: ip }],
    device_owner: 'compute:nova',
    allowed_address_pairs: [],
    port_security_enabled: net.security_groups.length > 0,
    security_groups: net.security_groups,
    qos_policy_id: null,
    network_qos_policy_id: null,
    profile: {},
    ...extra,
  });
}

/** A security group rule as the agent's RPC gives it: any protocol, port and remote unless `extra` says. */
export const sgRule = (securityGroupId: string, direction: string, extra: Record<string, unknown> = {}) => ({
  id: `r-${Math.random()}`,
  security_group_id: securityGroupId,
  direction,
  ethertype: 'IPv4',
  protocol: null,
  port_range_min: null,
  port_range_max: null,
  remote_ip_prefix: null,
  remote_group_id: null,
  ...extra,
});

/** A port as the server lists it to the DHCP and L3 agents (project `proj1`). */
export const portView = (d: DeviceDetails, deviceId: string, extra: Record<string, unknown> = {}) => ({
  id: d.port_id,
  network_id: d.network_id,
  mac_address: d.mac_address,
  fixed_ips: d.fixed_ips,
  device_owner: d.device_owner,
  device_id: deviceId,
  project_id: 'proj1',
  ...extra,
});

/** A guest: where its tap is, what its eth0 looks like. */
export interface GuestOptions {
  /** The Stratus host (its namespace holds the tap end of the veth). */
  host: string;
  /** The port whose tap the host end is named as. */
  portId: string;
  mac: string;
  /** 1450 (the VXLAN MTU) unless told. */
  mtu?: number;
  /** Whether eth0 comes up now (default true); a guest that must solicit a router later comes up with guestUp(). */
  up?: boolean;
  /** A static address (CIDR) on eth0. */
  address?: string;
  /** The default route's gateway. */
  gateway?: string;
}

/** Makes a guest namespace wired to a host's tap. */
export async function plugGuest(guest: string, o: GuestOptions): Promise<void> {
  await ensureNamespace(guest);
  await run([
    ...['ip', '-n', hostNamespace(o.host), 'link', 'add', tapName(o.portId)],
    ...['type', 'veth', 'peer', 'name', 'eth0', 'netns', guest],
  ]);
  const up = o.up === false ? [] : ['up'];
  await run(['ip', '-n', guest, 'link', 'set', 'eth0', 'address', o.mac, 'mtu', String(o.mtu ?? 1450), ...up]);
  await addressGuest(guest, o.address, o.gateway);
}

/** Brings a guest's eth0 up. */
export async function guestUp(guest: string): Promise<void> {
  await run(['ip', '-n', guest, 'link', 'set', 'eth0', 'up']);
}

/** Gives a guest's eth0 a static address (CIDR) and, with a gateway, a default route. */
export async function addressGuest(guest: string, address?: string, gateway?: string): Promise<void> {
  if (address) await run(['ip', '-n', guest, 'addr', 'add', address, 'dev', 'eth0']);
  if (gateway) await run(['ip', '-n', guest, 'route', 'add', 'default', 'via', gateway]);
}

/** Joins two hosts by an underlay veth (`dev` on both sides), each end with its address (CIDR). */
export async function linkHosts(a: string, b: string, addressA: string, addressB: string, dev = 'ul0') {
  const [na, nb] = [hostNamespace(a), hostNamespace(b)];
  await run(['ip', '-n', na, 'link', 'add', dev, 'type', 'veth', 'peer', 'name', dev, 'netns', nb]);
  await run(['ip', '-n', na, 'addr', 'add', addressA, 'dev', dev]);
  await run(['ip', '-n', nb, 'addr', 'add', addressB, 'dev', dev]);
  await run(['ip', '-n', na, 'link', 'set', dev, 'up']);
  await run(['ip', '-n', nb, 'link', 'set', dev, 'up']);
}

/**
 * What a test made on the host, to remove at its end: guests made through it, and the hosts
 * whose data plane (bridges, namespaces, rules) goes with them. remove() tries every one and
 * throws the first failure after.
 */
export class TestNet {
  private readonly guests = new Set<string>();
  private readonly hosts: Set<string>;

  constructor(hosts: string[] = []) {
    this.hosts = new Set(hosts);
  }

  /** Makes a guest (plugGuest) and keeps it for remove(). */
  async guest(name: string, o: GuestOptions): Promise<void> {
    this.guests.add(name);
    await plugGuest(name, o);
  }

  /** Removes the guests, then the hosts' data plane. */
  async remove(): Promise<void> {
    let first: unknown;
    const attempt = async (f: () => Promise<unknown>) => {
      try {
        await f();
      } catch (e) {
        first ??= e;
      }
    };
    for (const g of this.guests) await attempt(() => deleteNamespace(g));
    for (const h of this.hosts) await attempt(() => cleanupHost(h));
    this.guests.clear();
    if (first) throw first;
  }
}
