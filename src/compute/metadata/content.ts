// What a guest learns about itself (nova/api/metadata/base.py's InstanceMetadata): the OpenStack
// tree (meta_data.json, user_data, network_data.json, vendor_data*.json) and the EC2 tree, the
// same for the metadata service and the config drive.
import type { Instance } from '../instances.ts';

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
  return (
    i.hostname ??
    i.display_name
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '') ??
    'server'
  );
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

/** network_data.json from the ports (each a DHCP-configured IPv4/IPv6 network on its link). */
export function networkData(i: Instance): Record<string, unknown> {
  const links = i.network_info.map((v) => ({
    id: `tap${v.port_id.slice(0, 11)}`,
    vif_id: v.port_id,
    type: 'bridge',
    mtu: null,
    ethernet_mac_address: v.mac_address,
  }));
  const networks = i.network_info.flatMap((v) =>
    v.fixed_ips.map((ip, n) => ({
      id: `network${n}`,
      link: `tap${v.port_id.slice(0, 11)}`,
      type: ip.version === 6 ? 'ipv6_dhcp' : 'ipv4_dhcp',
      network_id: v.network_id,
    })),
  );
  networks.forEach((n, k) => {
    n.id = `network${k}`;
  });
  return { links, networks, services: [] };
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
