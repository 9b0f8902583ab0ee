// DevStack's cloud, made on start through the services' public APIs with the admin's session, as
// DevStack's scripts make it with the clients (lib/keystone, lib/neutron_plugins/services/l3,
// lib/glance): the demo and alt_demo projects and users, the external flat network `public` with
// its subnets, the demo project's `private` network with `private-subnet` and
// `ipv6-private-subnet`, `router1` joining them, and a tiny bootable image. Every step looks for
// what it makes first, so a restart on the same data directory adds nothing twice.
import { ServiceSession } from '../core/clients/session.ts';
import { tinyQcow2 } from '../core/qcow2.ts';

/** DevStack's names and ranges (stackrc, lib/neutron_plugins/services/l3). */
export const DEVSTACK = {
  projects: ['demo', 'alt_demo'],
  /** DevStack's users besides the admin (lib/keystone): a project's, or the system's when project is undefined. */
  users: [
    { name: 'demo', project: 'demo', role: 'member' },
    { name: 'alt_demo', project: 'alt_demo', role: 'member' },
    { name: 'demo_reader', project: 'demo', role: 'reader' },
    { name: 'alt_demo_member', project: 'alt_demo', role: 'member' },
    { name: 'alt_demo_reader', project: 'alt_demo', role: 'reader' },
    { name: 'system_member', project: undefined, role: 'member' },
    { name: 'system_reader', project: undefined, role: 'reader' },
  ] as Array<{ name: string; project: string | undefined; role: 'member' | 'reader' | 'admin' }>,
  publicNetwork: 'public',
  publicPhysnet: 'public',
  publicSubnet: { name: 'public-subnet', cidr: '172.24.4.0/24', gateway: '172.24.4.1' },
  ipv6PublicSubnet: { name: 'ipv6-public-subnet', cidr: '2001:db8::/64', gateway: '2001:db8::2' },
  privateNetwork: 'private',
  privateSubnet: { name: 'private-subnet', cidr: '10.0.0.0/26', gateway: '10.0.0.1' },
  ipv6PrivateSubnet: { name: 'ipv6-private-subnet', cidr: 'fd8f:1d7c:9f47::/64', gateway: 'fd8f:1d7c:9f47::1' },
  router: 'router1',
  image: 'cirros-0.6.2-x86_64-disk',
} as const;

export interface WorldUser {
  name: string;
  password: string;
  /** The user's project ('' for a system user). */
  project: string;
  /** A user with a role on the system (clouds.yaml gives it system scope). */
  system?: boolean;
}

export interface World {
  /** The users DevStack's clouds.yaml and openrc name, with their default projects. */
  users: WorldUser[];
  projectIds: Record<string, string>;
  imageId?: string;
  networkIds: Record<string, string>;
  routerId?: string;
}

/** A resource as the APIs answer it (the fields this file reads). */
interface Res {
  id: string;
  status?: string;
}
type Json = Record<string, unknown>;

class Api {
  constructor(private session: ServiceSession) {}
  async call<T = Json>(
    type: string,
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<T> {
    const base = (await this.session.endpoint(type, 'public')).replace(/\/+$/, '');
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        'X-Auth-Token': await this.session.token(),
        Accept: 'application/json',
        ...(body !== undefined && !(body instanceof Uint8Array) ? { 'Content-Type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : body instanceof Uint8Array ? Buffer.from(body) : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status >= 300)
      throw new Error(`DevStack's world: ${type} ${method} ${path} answered ${res.status}: ${text.slice(0, 300)}`);
    return (text ? JSON.parse(text) : {}) as T;
  }
}

/**
 * Makes DevStack's world in a running cloud. `authUrl` is the identity v3 URL; every user's
 * password is the admin's, as DevStack's ADMIN_PASSWORD is everybody's.
 */
export async function createWorld(
  o: { authUrl: string; adminPassword: string; region: string },
  progress: (step: string) => void = () => {},
): Promise<World> {
  const session = new ServiceSession(() => o.authUrl, 'admin', o.adminPassword, o.region, 'admin');
  const api = new Api(session);
  const world: World = { users: [], projectIds: {}, networkIds: {} };

  progress('identity: demo and alt_demo projects, their users, the system users');
  const roleId = async (name: string) => {
    const r = await api.call<{ roles: Res[] }>('identity', 'GET', `/v3/roles?name=${encodeURIComponent(name)}`);
    const id = r.roles[0]?.id;
    if (!id) throw new Error(`DevStack's world: no role ${name}`);
    return id;
  };
  const roles = { member: await roleId('member'), admin: await roleId('admin'), reader: await roleId('reader') };
  const userId = async (name: string, defaultProject?: string): Promise<string> =>
    (await api.call<{ users: Res[] }>('identity', 'GET', `/v3/users?name=${name}&domain_id=default`)).users[0]?.id ??
    (
      await api.call<{ user: Res }>('identity', 'POST', '/v3/users', {
        user: {
          name,
          domain_id: 'default',
          password: o.adminPassword,
          enabled: true,
          ...(defaultProject ? { default_project_id: defaultProject } : {}),
        },
      })
    ).user.id;
  const adminUser = await userId('admin');
  for (const name of DEVSTACK.projects) {
    const found = await api.call<{ projects: Res[] }>('identity', 'GET', `/v3/projects?name=${name}&domain_id=default`);
    world.projectIds[name] =
      found.projects[0]?.id ??
      (
        await api.call<{ project: Res }>('identity', 'POST', '/v3/projects', {
          project: { name, domain_id: 'default', description: `DevStack's ${name} project`, enabled: true },
        })
      ).project.id;
    // DevStack gives the admin the admin role on the demo projects too.
    await api.call('identity', 'PUT', `/v3/projects/${world.projectIds[name]}/users/${adminUser}/roles/${roles.admin}`);
  }
  world.users.push({ name: 'admin', password: o.adminPassword, project: 'admin' });
  for (const u of DEVSTACK.users) {
    const projectId = u.project ? world.projectIds[u.project]! : undefined;
    const id = await userId(u.name, projectId);
    await api.call(
      'identity',
      'PUT',
      projectId
        ? `/v3/projects/${projectId}/users/${id}/roles/${roles[u.role]}`
        : `/v3/system/users/${id}/roles/${roles[u.role]}`,
    );
    world.users.push({ name: u.name, password: o.adminPassword, project: u.project ?? '', system: !u.project });
  }
  const demo = world.projectIds.demo!;

  progress('network: public, private, router1');
  const one = async (collection: string, query: string): Promise<Res | undefined> =>
    (await api.call<Record<string, Res[]>>('network', 'GET', `/v2.0/${collection}?${query}`))[collection]?.[0];
  const ensure = async (singular: string, collection: string, query: string, body: Json): Promise<Res> =>
    (await one(collection, query)) ??
    (await api.call<Record<string, Res>>('network', 'POST', `/v2.0/${collection}`, { [singular]: body }))[singular]!;

  const pub = await ensure('network', 'networks', `name=${DEVSTACK.publicNetwork}&router:external=true`, {
    name: DEVSTACK.publicNetwork,
    'router:external': true,
    'provider:network_type': 'flat',
    'provider:physical_network': DEVSTACK.publicPhysnet,
  });
  world.networkIds.public = pub.id;
  await ensure('subnet', 'subnets', `name=${DEVSTACK.publicSubnet.name}&network_id=${pub.id}`, {
    name: DEVSTACK.publicSubnet.name,
    network_id: pub.id,
    ip_version: 4,
    cidr: DEVSTACK.publicSubnet.cidr,
    gateway_ip: DEVSTACK.publicSubnet.gateway,
    enable_dhcp: false,
  });
  await ensure('subnet', 'subnets', `name=${DEVSTACK.ipv6PublicSubnet.name}&network_id=${pub.id}`, {
    name: DEVSTACK.ipv6PublicSubnet.name,
    network_id: pub.id,
    ip_version: 6,
    cidr: DEVSTACK.ipv6PublicSubnet.cidr,
    gateway_ip: DEVSTACK.ipv6PublicSubnet.gateway,
    enable_dhcp: false,
  });
  const priv = await ensure('network', 'networks', `name=${DEVSTACK.privateNetwork}&project_id=${demo}`, {
    name: DEVSTACK.privateNetwork,
    project_id: demo,
  });
  world.networkIds.private = priv.id;
  const privSub = await ensure('subnet', 'subnets', `name=${DEVSTACK.privateSubnet.name}&network_id=${priv.id}`, {
    name: DEVSTACK.privateSubnet.name,
    network_id: priv.id,
    project_id: demo,
    ip_version: 4,
    cidr: DEVSTACK.privateSubnet.cidr,
    gateway_ip: DEVSTACK.privateSubnet.gateway,
  });
  const privSub6 = await ensure('subnet', 'subnets', `name=${DEVSTACK.ipv6PrivateSubnet.name}&network_id=${priv.id}`, {
    name: DEVSTACK.ipv6PrivateSubnet.name,
    network_id: priv.id,
    project_id: demo,
    ip_version: 6,
    cidr: DEVSTACK.ipv6PrivateSubnet.cidr,
    gateway_ip: DEVSTACK.ipv6PrivateSubnet.gateway,
    ipv6_ra_mode: 'slaac',
    ipv6_address_mode: 'slaac',
  });
  let router = await one('routers', `name=${DEVSTACK.router}&project_id=${demo}`);
  if (!router) {
    router = (
      await api.call<{ router: Res }>('network', 'POST', '/v2.0/routers', {
        router: {
          name: DEVSTACK.router,
          project_id: demo,
          external_gateway_info: { network_id: pub.id },
        },
      })
    ).router;
    for (const subnet of [privSub, privSub6])
      await api.call('network', 'PUT', `/v2.0/routers/${router.id}/add_router_interface`, { subnet_id: subnet.id });
  }
  world.routerId = router.id;

  progress(`image: ${DEVSTACK.image}`);
  const images = await api.call<{ images: Res[] }>('image', 'GET', `/v2/images?name=${DEVSTACK.image}`);
  let image = images.images[0];
  if (!image) {
    image = await api.call<Res>('image', 'POST', '/v2/images', {
      name: DEVSTACK.image,
      disk_format: 'qcow2',
      container_format: 'bare',
      visibility: 'public',
      min_disk: 0,
      min_ram: 0,
    });
  }
  if (image.status === 'queued')
    await api.call('image', 'PUT', `/v2/images/${image.id}/file`, new Uint8Array(tinyQcow2(112 * 1024 * 1024)), {
      'Content-Type': 'application/octet-stream',
    });
  world.imageId = image.id;
  return world;
}
