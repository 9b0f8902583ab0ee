// What a guest learns about itself (nova/api/metadata/base.py's InstanceMetadata): the OpenStack
// tree (meta_data.json, user_data, network_data.json, vendor_data*.json) and the EC2 tree, the
// same for the metadata service and the config drive.
import { sanitizeHostname, type Instance } from '../instances.ts';
import type { SubnetMeta } from '../subnet_meta.ts';

/** The versions of the OpenStack tree Nova serves (oldest first; 'latest' is the newest). */
export const OPENSTACK_VERSIONS = [
  '2012-08-10',
  '2013-04-04',
  '2013-10-17',
  '2015-10-15',
  '2016-06-30',
  '2016-10-06',
  '2017-02-22',
  '2018-08-27',
  '2020-10-14',
];
export const EC2_VERSIONS = [
  '1.0',
  '2007-01-19',
  '2007-03-01',
  '2007-08-29',
  '2007-10-10',
  '2007-12-15',
  '2008-02-01',
  '2008-09-01',
  '2009-04-04',
];

/** The user data as bytes (Nova keeps it base64), or null. */
export function userData(i: Instance): Buffer | null {
  if (!i.user_data) return null;
  return Buffer.from(i.user_data, 'base64');
}

export function hostnameOf(i: Instance): string {
  return i.hostname || sanitizeHostname(i.display_name) || `Server-${i.uuid}`;
}

export function metaData(i: Instance): Record<string, unknown> {
  const keys = i.key_name && i.key_data ? [{ name: i.key_name, type: 'ssh', data: i.key_data }] : [];
  return {
    uuid: i.uuid,
    meta: i.metadata ?? {},
    ...(keys.length ? { public_keys: { [i.key_name!]: i.key_data }, keys } : {}),
    hostname: hostnameOf(i),
    name: i.display_name,
    launch_index: i.launch_index ?? 0,
    availability_zone: i.availability_zone ?? 'nova',
    random_seed: Buffer.from(i.uuid.repeat(16)).toString('base64').slice(0, 684),
    project_id: i.project_id,
    devices: [],
    dedicated_cpus: [],
  };
}

/** A prefix length as a netmask: 24 → 255.255.255.0, 64 → ffff:ffff:ffff:ffff:: . */
export function netmaskOf(cidr: string): string {
  const [addr = '', len = ''] = cidr.split('/');
  const bits = Number(len);
  if (addr.includes(':')) {
    const groups: string[] = [];
    for (let g = 0; g < 8; g++) {
      const b = Math.max(0, Math.min(16, bits - g * 16));
      groups.push(((0xffff << (16 - b)) & 0xffff).toString(16));
    }
    // The usual compressed form: trailing zero groups as '::'.
    let last = groups.length;
    while (last > 0 && groups[last - 1] === '0') last--;
    return last === 8 ? groups.join(':') : `${groups.slice(0, last).join(':')}::`;
  }
  const octets: number[] = [];
  for (let o = 0; o < 4; o++) octets.push((0xff << (8 - Math.max(0, Math.min(8, bits - o * 8)))) & 0xff);
  return octets.join('.');
}

type FixedIp = Instance['network_info'][number]['fixed_ips'][number];

/**
 * One network of network_data.json (nova/virt/netutils.py's _get_nets): an IPv6 subnet's address
 * mode gives `ipv6_slaac`, `ipv6_dhcpv6-stateful` or `ipv6_dhcpv6-stateless` with the address,
 * netmask, routes and DNS; else a subnet with DHCP is `ipv4_dhcp`/`ipv6_dhcp`; else a static
 * `ipv4`/`ipv6`. A fixed IP whose subnet the info cache does not know is taken as DHCP.
 */
function networkOf(ip: FixedIp, link: string, networkId: string, id: string): Record<string, unknown> {
  const s = ip.subnet;
  const v = ip.version === 6 ? 6 : 4;
  const mode = v === 6 ? s?.ipv6_address_mode : null;
  if (!s || (!mode && s.enable_dhcp)) return { id, type: `ipv${v}_dhcp`, link, network_id: networkId };
  const routes: Array<Record<string, string>> = [];
  if (s.gateway_ip)
    routes.push(
      v === 4
        ? { network: '0.0.0.0', netmask: '0.0.0.0', gateway: s.gateway_ip }
        : { network: '::', netmask: '::', gateway: s.gateway_ip },
    );
  for (const r of s.host_routes)
    routes.push({ network: r.destination.split('/')[0] ?? '', netmask: netmaskOf(r.destination), gateway: r.nexthop });
  return {
    id,
    type: mode ? `ipv6_${mode}` : `ipv${v}`,
    link,
    ip_address: ip.ip_address,
    netmask: netmaskOf(s.cidr),
    routes,
    network_id: networkId,
    services: s.dns_nameservers.map((address) => ({ type: 'dns', address })),
  };
}

/** The subnet ids of the server's fixed IPs whose details the info cache does not keep. */
export function subnetsToRead(i: Instance): string[] {
  const ids = i.network_info.flatMap((v) =>
    v.fixed_ips.filter((f) => !f.subnet && f.subnet_id).map((f) => f.subnet_id),
  );
  return [...new Set(ids)];
}

/**
 * The server with subnet details filled in from `subnets` where its info cache has none (the
 * cache keeps them only for a server with a config drive: network_info.ts).
 */
export function withSubnets(i: Instance, subnets: Map<string, SubnetMeta>): Instance {
  if (!subnets.size) return i;
  return {
    ...i,
    network_info: i.network_info.map((v) => ({
      ...v,
      fixed_ips: v.fixed_ips.map((f) => {
        const s = f.subnet ?? subnets.get(f.subnet_id);
        return s ? { ...f, subnet: s } : f;
      }),
    })),
  };
}

/** network_data.json from the ports: a link per port, a network per fixed IP, the DNS servers. */
export function networkData(i: Instance): Record<string, unknown> {
  const links = i.network_info.map((v) => ({
    id: `tap${v.port_id.slice(0, 11)}`,
    vif_id: v.port_id,
    type: 'bridge',
    mtu: null,
    ethernet_mac_address: v.mac_address,
  }));
  let k = 0;
  const networks = i.network_info.flatMap((v) =>
    v.fixed_ips.map((ip) => networkOf(ip, `tap${v.port_id.slice(0, 11)}`, v.network_id, `network${k++}`)),
  );
  const dns = new Set(i.network_info.flatMap((v) => v.fixed_ips.flatMap((f) => f.subnet?.dns_nameservers ?? [])));
  return { links, networks, services: [...dns].map((address) => ({ type: 'dns', address })) };
}

/** The EC2 meta-data tree (nested objects are directories). */
export function ec2MetaData(i: Instance): Record<string, unknown> {
  const ips = i.network_info.flatMap((v) => v.fixed_ips.filter((f) => f.version === 4).map((f) => f.ip_address));
  const floating = i.network_info.flatMap((v) => v.floating_ips ?? []);
  const host = hostnameOf(i);
  const md: Record<string, unknown> = {
    'ami-id': i.image_ref ? `ami-${i.image_ref.slice(0, 8)}` : 'ami-00000000',
    'ami-launch-index': String(i.launch_index ?? 0),
    'ami-manifest-path': 'FIXME',
    'block-device-mapping': { ami: 'vda', root: '/dev/vda' },
    hostname: host,
    'instance-action': 'none',
    'instance-id': `i-${i.uuid.slice(0, 8)}`,
    'instance-type': i.flavor.name,
    'local-hostname': host,
    'local-ipv4': ips[0] ?? '',
    placement: { 'availability-zone': i.availability_zone ?? 'nova' },
    'public-hostname': host,
    'public-ipv4': floating[0] ?? '',
    'reservation-id': i.reservation_id,
    'security-groups': (i.security_groups ?? []).map((g) => g.name).join('\n'),
  };
  if (i.key_name && i.key_data) md['public-keys'] = { [`0=${i.key_name}`]: { 'openssh-key': i.key_data } };
  return md;
}

/** The files of the OpenStack tree of one version. */
export function openstackFiles(i: Instance): Record<string, string | Buffer> {
  const files: Record<string, string | Buffer> = {
    'meta_data.json': JSON.stringify(metaData(i)),
    'network_data.json': JSON.stringify(networkData(i)),
    'vendor_data.json': '{}',
    'vendor_data2.json': '{}',
  };
  const ud = userData(i);
  if (ud) files.user_data = ud;
  return files;
}
