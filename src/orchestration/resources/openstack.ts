// The resources of the other services: OS::Nova::, OS::Neutron::, OS::Glance::, OS::Swift::,
// OS::Keystone::. Each talks to its service's public API with the stack owner's token (through
// ResourceContext.api), as Heat's resources do through the python clients. OS::Cinder:: is in
// cinder.ts.
import { randomBytes } from 'node:crypto';
import { HeatError } from '../errors.ts';
import type { AttributeSchema, PropertySchema, ResourceContext, ResourcePlugin } from './plugin.ts';

type Json = Record<string, unknown>;
const SUPPORTED = { status: 'SUPPORTED' as const, version: null, message: null };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The physical name Heat gives a resource without a name: <stack>-<resource>-<random>. */
export const physicalName = (r: ResourceContext) =>
  `${r.stack.name}-${r.name}-${randomBytes(6).toString('base64url').slice(0, 12)}`;

const defined = (o: Json): Json =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined));

/** The resource types whose physical ids are objects of a Neutron collection. */
const OWN_TYPES: Record<string, string[]> = {
  networks: ['OS::Neutron::Net', 'OS::Neutron::ProviderNet'],
  subnets: ['OS::Neutron::Subnet'],
  ports: ['OS::Neutron::Port'],
  routers: ['OS::Neutron::Router'],
  'security-groups': ['OS::Neutron::SecurityGroup'],
  subnetpools: ['OS::Neutron::SubnetPool'],
};

/** What a create or update just answered, so that resolveAttributes need not GET it again. */
const answered = new WeakMap<ResourceContext, Json>();

/** Finds a Neutron object by id or name (Heat's find_resourceid_by_name_or_id). */
async function neutronId(r: ResourceContext, collection: string, ref: unknown): Promise<string> {
  const s = String(ref ?? '');
  if (!s) throw new HeatError('StackValidationFailed', `No ${collection} given`);
  if (UUID.test(s)) {
    // A dependency of this stack the engine made (get_resource): it exists, no look-up needed.
    const own = r.typeOfOwn?.(s);
    if (own && OWN_TYPES[collection]?.includes(own)) return s;
    const got = await r.api<Json>('network', 'GET', `/v2.0/${collection}/${s}`, undefined, [200, 404]);
    if (got && Object.values(got)[0]) return s;
  }
  const list = await r.api<Json>('network', 'GET', `/v2.0/${collection}?name=${encodeURIComponent(s)}`);
  const items = (list[collection] ?? []) as Json[];
  if (items.length === 1) return String(items[0]!.id);
  if (items.length > 1)
    throw new HeatError('PhysicalResourceNameAmbiguity', `Multiple physical resources were found with name (${s}).`);
  const singular = collection.replace(/ies$/, 'y').replace(/s$/, '');
  throw new HeatError(
    'EntityNotFound',
    `The ${singular[0]!.toUpperCase()}${singular.slice(1)} (${s}) could not be found.`,
  );
}

/** A Neutron object as a resource: its body from the properties, in-place updates, `show`. */
function neutron(o: {
  type: string;
  description: string;
  collection: string;
  singular: string;
  properties: Record<string, PropertySchema>;
  attributes: Record<string, AttributeSchema>;
  body(r: ResourceContext, props: Json, create: boolean): Promise<Json>;
  /** Nothing to update in place: any change replaces. */
  noUpdate?: boolean;
}): ResourcePlugin {
  const url = (id: string) => `/v2.0/${o.collection}/${id}`;
  return {
    type: o.type,
    description: o.description,
    supportStatus: SUPPORTED,
    properties: o.properties,
    attributes: o.attributes,
    async create(r) {
      const body = await o.body(r, r.properties, true);
      const got = await r.api<Json>('network', 'POST', `/v2.0/${o.collection}`, { [o.singular]: body }, [201]);
      r.physicalId = String((got[o.singular] as Json).id);
      answered.set(r, got[o.singular] as Json);
    },
    ...(o.noUpdate
      ? {}
      : {
          async update(r: ResourceContext) {
            if (!r.physicalId) return;
            const body = await o.body(r, r.properties, false);
            const got = await r.api<Json>('network', 'PUT', url(r.physicalId), { [o.singular]: body }, [200]);
            if (got?.[o.singular]) answered.set(r, got[o.singular] as Json);
          },
        }),
    async delete(r) {
      if (!r.physicalId) return;
      // A port still going away (a server deleted beside it, or one that got its port by id)
      // makes the network or subnet "in use" for a moment: retried for up to 30 s.
      for (let attempt = 0; ; attempt++) {
        try {
          await r.api('network', 'DELETE', url(r.physicalId), undefined, [204, 404]);
          return;
        } catch (e) {
          if (attempt >= 60 || !/HTTP 409/.test(String((e as Error).message))) throw e;
          await r.sleep(500);
        }
      }
    },
    async check(r) {
      if (r.physicalId) await r.api('network', 'GET', url(r.physicalId), undefined, [200]);
    },
    async resolveAttributes(r) {
      if (!r.physicalId) return {};
      const got =
        answered.get(r) ??
        ((await r.api<Json>('network', 'GET', url(r.physicalId), undefined, [200]))[o.singular] as Json);
      answered.delete(r);
      const out: Json = { show: got };
      for (const k of Object.keys(o.attributes)) if (k in got) out[k] = got[k];
      return out;
    },
  };
}

const str = (description: string, extra: Partial<PropertySchema> = {}): PropertySchema => ({
  type: 'string',
  description,
  ...extra,
});
const bool = (description: string, extra: Partial<PropertySchema> = {}): PropertySchema => ({
  type: 'boolean',
  description,
  ...extra,
});
const attr = (description: string, type?: AttributeSchema['type']): AttributeSchema => ({
  description,
  ...(type ? { type } : {}),
});

const Net = neutron({
  type: 'OS::Neutron::Net',
  description: 'A resource for managing Neutron net.',
  collection: 'networks',
  singular: 'network',
  properties: {
    name: str('A string specifying a symbolic name for the network.', { update_allowed: true }),
    admin_state_up: bool('A boolean value specifying the administrative status of the network.', {
      default: true,
      update_allowed: true,
    }),
    shared: bool('Whether this network should be shared across all tenants.', { default: false, update_allowed: true }),
    port_security_enabled: bool('Flag to enable/disable port security on the network.', { update_allowed: true }),
    dns_domain: str('DNS domain associated with this network.', { update_allowed: true }),
    value_specs: {
      type: 'map',
      description: 'Extra parameters to include in the request.',
      default: {},
      update_allowed: true,
    },
    tenant_id: str('The ID of the tenant which will own the network.'),
    tags: { type: 'list', description: 'The tags to be added to the network.', update_allowed: true },
    qos_policy: str('The name or ID of QoS policy to attach to this network.', { update_allowed: true }),
  },
  attributes: {
    name: attr('The name of the network.', 'string'),
    status: attr('The status of the network.', 'string'),
    subnets: attr('Subnets of this network.', 'list'),
    admin_state_up: attr('The administrative status of the network.', 'string'),
    tenant_id: attr('The tenant owning this network.', 'string'),
    port_security_enabled: attr('Port security enabled of the network.', 'boolean'),
    mtu: attr('The maximum transmission unit size(in bytes) for the network.', 'integer'),
  },
  async body(r, p, create) {
    return defined({
      name: p.name ?? (create ? physicalName(r) : undefined),
      admin_state_up: p.admin_state_up,
      shared: p.shared,
      port_security_enabled: p.port_security_enabled,
      dns_domain: p.dns_domain,
      ...(create && p.tenant_id ? { tenant_id: p.tenant_id } : {}),
      ...((p.value_specs ?? {}) as Json),
    });
  },
});

const Subnet = neutron({
  type: 'OS::Neutron::Subnet',
  description: 'A resource for managing Neutron subnets.',
  collection: 'subnets',
  singular: 'subnet',
  properties: {
    network: str('The ID or name of the network this subnet belongs to.', {
      required: true,
      custom_constraint: undefined,
    } as Partial<PropertySchema>),
    network_id: str('The ID of the network (deprecated: use network).'),
    cidr: str('The CIDR.'),
    ip_version: {
      type: 'integer',
      description: 'The IP version, which is 4 or 6.',
      default: 4,
      constraints: [{ allowed_values: [4, 6] }],
    },
    name: str('The name of the subnet.', { update_allowed: true }),
    enable_dhcp: bool('Set to true if DHCP is enabled and false if DHCP is disabled.', {
      default: true,
      update_allowed: true,
    }),
    gateway_ip: str(
      'The gateway IP address. Set to any of [ null | ~ | "" ] to create/update a subnet without a gateway.',
      { update_allowed: true },
    ),
    dns_nameservers: {
      type: 'list',
      description: 'A specified set of DNS name servers to be used.',
      default: [],
      update_allowed: true,
    },
    allocation_pools: {
      type: 'list',
      description: 'The start and end addresses for the allocation pools.',
      update_allowed: true,
    },
    host_routes: {
      type: 'list',
      description: 'A list of host route dictionaries for the subnet.',
      update_allowed: true,
    },
    subnetpool: str('The name or ID of the subnet pool.'),
    prefixlen: { type: 'integer', description: 'Prefix length for subnet allocation from subnet pool.' },
    ipv6_ra_mode: str('IPv6 RA (Router Advertisement) mode.'),
    ipv6_address_mode: str('IPv6 address mode.'),
    tenant_id: str('The ID of the tenant who owns the network.'),
    value_specs: {
      type: 'map',
      description: 'Extra parameters to include in the request.',
      default: {},
      update_allowed: true,
    },
  },
  attributes: {
    name: attr('Friendly name of the subnet.', 'string'),
    network_id: attr('Parent network of the subnet.', 'string'),
    tenant_id: attr('Tenant owning the subnet.', 'string'),
    allocation_pools: attr('Ip allocation pools and their ranges.', 'list'),
    gateway_ip: attr("Ip of the subnet's gateway.", 'string'),
    host_routes: attr('Additional routes for this subnet.', 'list'),
    ip_version: attr('Ip version for the subnet.', 'string'),
    cidr: attr('CIDR block notation for this subnet.', 'string'),
    dns_nameservers: attr('List of dns nameservers.', 'list'),
    enable_dhcp: attr("'true' if DHCP is enabled for this subnet; 'false' otherwise.", 'string'),
  },
  async body(r, p, create) {
    const base: Json = {
      name: p.name ?? (create ? physicalName(r) : undefined),
      enable_dhcp: p.enable_dhcp,
      dns_nameservers: p.dns_nameservers,
      allocation_pools: p.allocation_pools,
      host_routes: p.host_routes,
      ...((p.value_specs ?? {}) as Json),
    };
    if (p.gateway_ip !== undefined && p.gateway_ip !== null)
      base.gateway_ip = p.gateway_ip === '' ? null : p.gateway_ip;
    if (!create) {
      // A property removed on update is reset in Neutron (Heat's subnet handle_update).
      const old = r.oldProperties ?? {};
      const out = defined(base);
      for (const k of ['allocation_pools', 'host_routes', 'dns_nameservers'])
        if ((p[k] === null || p[k] === undefined) && old[k] !== null && old[k] !== undefined) out[k] = [];
      if (
        (p.gateway_ip === null || p.gateway_ip === undefined) &&
        old.gateway_ip !== null &&
        old.gateway_ip !== undefined
      )
        out.gateway_ip = null;
      return out;
    }
    return {
      ...defined(base),
      ...defined({
        network_id: await neutronId(r, 'networks', p.network ?? p.network_id),
        cidr: p.cidr,
        ip_version: p.ip_version,
        subnetpool_id: p.subnetpool ? await neutronId(r, 'subnetpools', p.subnetpool) : undefined,
        prefixlen: p.prefixlen,
        ipv6_ra_mode: p.ipv6_ra_mode,
        ipv6_address_mode: p.ipv6_address_mode,
        tenant_id: p.tenant_id,
      }),
      ...(p.gateway_ip === '' ? { gateway_ip: null } : {}),
    };
  },
});
// The network may also be given as network_id (older templates): neither is strictly required.
Subnet.properties.network = { ...Subnet.properties.network!, required: false };

async function fixedIps(r: ResourceContext, list: unknown): Promise<Json[] | undefined> {
  if (!Array.isArray(list) || !list.length) return undefined;
  const out: Json[] = [];
  for (const f of list as Json[]) {
    const e: Json = {};
    if (f.subnet ?? f.subnet_id) e.subnet_id = await neutronId(r, 'subnets', f.subnet ?? f.subnet_id);
    if (f.ip_address) e.ip_address = f.ip_address;
    out.push(e);
  }
  return out;
}

async function securityGroupIds(r: ResourceContext, list: unknown): Promise<string[] | undefined> {
  if (!Array.isArray(list)) return undefined;
  const out: string[] = [];
  for (const s of list) out.push(await neutronId(r, 'security-groups', s));
  return out;
}

const Port = neutron({
  type: 'OS::Neutron::Port',
  description: 'A resource for managing Neutron ports.',
  collection: 'ports',
  singular: 'port',
  properties: {
    network: str('Network this port belongs to.', { required: true }),
    name: str('A symbolic name for this port.', { update_allowed: true }),
    fixed_ips: {
      type: 'list',
      description: 'Desired IPs for this port.',
      update_allowed: true,
      schema: {
        '*': {
          type: 'map',
          schema: {
            subnet: str('Subnet in which to allocate the IP address for this port.'),
            subnet_id: str('Subnet id (deprecated).'),
            ip_address: str('IP address desired in the subnet for this port.'),
          },
        },
      },
    },
    security_groups: {
      type: 'list',
      description: 'Security group IDs to associate with this port.',
      update_allowed: true,
    },
    // Heat's mac_address is update_allowed (Neutron lets an admin change it on an unbound port).
    mac_address: str('MAC address to give to this port.', { update_allowed: true }),
    admin_state_up: bool('The administrative state of this port.', { default: true, update_allowed: true }),
    device_id: str('Device ID of this port.', { update_allowed: true }),
    device_owner: str('Name of the network owning the port.', { update_allowed: true }),
    port_security_enabled: bool('Flag to enable/disable port security on the port.', { update_allowed: true }),
    allowed_address_pairs: {
      type: 'list',
      description: 'Additional MAC/IP address pairs allowed to pass through the port.',
      update_allowed: true,
    },
    binding_vnic_type: {
      type: 'string',
      description: 'The vnic type to be bound on the neutron port.',
      update_allowed: true,
    } as PropertySchema,
    'binding:vnic_type': {
      type: 'string',
      description: 'The vnic type to be bound on the neutron port.',
      update_allowed: true,
    },
    value_specs: {
      type: 'map',
      description: 'Extra parameters to include in the request.',
      default: {},
      update_allowed: true,
    },
    qos_policy: str('The name or ID of QoS policy to attach to this port.', { update_allowed: true }),
  },
  attributes: {
    admin_state_up: attr('The administrative state of this port.', 'string'),
    device_id: attr('Unique identifier for the device.', 'string'),
    device_owner: attr('Name of the network owning the port.', 'string'),
    fixed_ips: attr('Fixed IP addresses.', 'list'),
    mac_address: attr('MAC address of the port.', 'string'),
    name: attr('Friendly name of the port.', 'string'),
    network_id: attr('Unique identifier for the network owning the port.', 'string'),
    security_groups: attr('A list of security groups for the port.', 'list'),
    status: attr('The status of the port.', 'string'),
    tenant_id: attr('Tenant owning the port.', 'string'),
    allowed_address_pairs: attr('Additional MAC/IP address pairs allowed to pass through a port.', 'list'),
    subnets: attr('A list of all subnet attributes for the port.', 'list'),
  },
  async body(r, p, create) {
    const vnic = p['binding:vnic_type'] ?? p.binding_vnic_type;
    return defined({
      ...(create ? { network_id: await neutronId(r, 'networks', p.network) } : {}),
      name: p.name ?? (create ? physicalName(r) : undefined),
      fixed_ips: await fixedIps(r, p.fixed_ips),
      security_groups: await securityGroupIds(r, p.security_groups),
      mac_address: create || p.mac_address !== r.oldProperties?.mac_address ? p.mac_address : undefined,
      admin_state_up: p.admin_state_up,
      device_id: p.device_id,
      device_owner: p.device_owner,
      port_security_enabled: p.port_security_enabled,
      allowed_address_pairs:
        Array.isArray(p.allowed_address_pairs) && p.allowed_address_pairs.length ? p.allowed_address_pairs : undefined,
      'binding:vnic_type': vnic,
      ...((p.value_specs ?? {}) as Json),
    });
  },
});
Port.properties.security_groups = { ...Port.properties.security_groups!, default: undefined };
delete Port.properties.binding_vnic_type;

const Router = neutron({
  type: 'OS::Neutron::Router',
  description: 'A resource that implements Neutron router.',
  collection: 'routers',
  singular: 'router',
  properties: {
    name: str('The name of the router.', { update_allowed: true }),
    external_gateway_info: {
      type: 'map',
      description: 'External network gateway configuration for a router.',
      update_allowed: true,
      schema: {
        network: str('ID or name of the external network for the gateway.', { required: true }),
        enable_snat: bool('Enables Source NAT on the router gateway.'),
        external_fixed_ips: { type: 'list', description: 'External fixed IP addresses for the gateway.' },
      },
    },
    admin_state_up: bool('The administrative state of the router.', { default: true, update_allowed: true }),
    distributed: bool('Indicates whether or not to create a distributed router.'),
    ha: bool('Indicates whether or not to create a highly available router.'),
    value_specs: {
      type: 'map',
      description: 'Extra parameters to include in the creation request.',
      default: {},
      update_allowed: true,
    },
  },
  attributes: {
    status: attr('The status of the router.', 'string'),
    external_gateway_info: attr('Gateway network for the router.', 'map'),
    name: attr('Friendly name of the router.', 'string'),
    admin_state_up: attr('Administrative state of the router.', 'string'),
    tenant_id: attr('Tenant owning the router.', 'string'),
  },
  async body(r, p, create) {
    const gw = p.external_gateway_info as Json | null | undefined;
    let info: Json | null | undefined;
    if (gw && Object.keys(gw).length && gw.network)
      info = defined({
        network_id: await neutronId(r, 'networks', gw.network),
        enable_snat: gw.enable_snat,
        external_fixed_ips: gw.external_fixed_ips,
      });
    else if (!create) info = null;
    return {
      ...defined({
        name: p.name ?? (create ? physicalName(r) : undefined),
        admin_state_up: p.admin_state_up,
        ...(create ? { distributed: p.distributed, ha: p.ha } : {}),
        ...((p.value_specs ?? {}) as Json),
      }),
      ...(info !== undefined ? { external_gateway_info: info } : {}),
    };
  },
});

const RouterInterface: ResourcePlugin = {
  type: 'OS::Neutron::RouterInterface',
  description: 'A resource for managing Neutron router interfaces.',
  supportStatus: SUPPORTED,
  properties: {
    router: str('The router.', { required: true }),
    subnet: str('The subnet, either subnet or port should be specified.'),
    port: str('The port, either subnet or port should be specified.'),
  },
  attributes: {},
  async create(r) {
    const router = await neutronId(r, 'routers', r.properties.router);
    if (!!r.properties.subnet === !!r.properties.port)
      throw new HeatError(
        'PropertyUnspecifiedError',
        'At least one of the following properties must be specified: subnet, port.',
      );
    const body = r.properties.subnet
      ? { subnet_id: await neutronId(r, 'subnets', r.properties.subnet) }
      : { port_id: await neutronId(r, 'ports', r.properties.port) };
    await r.api('network', 'PUT', `/v2.0/routers/${router}/add_router_interface`, body, [200]);
    r.physicalId = `${router}:${'subnet_id' in body ? `subnet_id=${body.subnet_id}` : `port_id=${(body as Json).port_id}`}`;
  },
  async delete(r) {
    if (!r.physicalId) return;
    const [router, what] = r.physicalId.split(':') as [string, string];
    const [k, v] = what.split('=') as [string, string];
    await r.api('network', 'PUT', `/v2.0/routers/${router}/remove_router_interface`, { [k]: v }, [200, 404, 409]);
  },
};

const FloatingIP = neutron({
  type: 'OS::Neutron::FloatingIP',
  description: 'A resource for managing Neutron floating ips.',
  collection: 'floatingips',
  singular: 'floatingip',
  properties: {
    floating_network: str('Network to allocate floating IP from.', { required: true }),
    port_id: str('ID of an existing port with at least one IP address to associate with this floating IP.', {
      update_allowed: true,
    }),
    fixed_ip_address: str('IP address to use if the port has multiple addresses.', { update_allowed: true }),
    floating_ip_address: str('IP address of the floating IP.'),
    floating_subnet: str('Subnet to allocate floating IP from.'),
    dns_name: str('DNS name associated with floating ip.'),
    dns_domain: str('DNS domain associated with floating ip.'),
    value_specs: { type: 'map', description: 'Extra parameters to include in the request.', default: {} },
  },
  attributes: {
    router_id: attr('ID of the router used as gateway, set when associated with a port.', 'string'),
    tenant_id: attr('The tenant owning this floating IP.', 'string'),
    floating_network_id: attr('ID of the network in which this IP is allocated.', 'string'),
    fixed_ip_address: attr('IP address of the associated port, if specified.', 'string'),
    floating_ip_address: attr('The allocated address of this IP.', 'string'),
    port_id: attr('ID of the port associated with this IP.', 'string'),
  },
  async body(r, p, create) {
    if (!create)
      return {
        port_id: p.port_id ? await neutronId(r, 'ports', p.port_id) : null,
        ...(p.fixed_ip_address ? { fixed_ip_address: p.fixed_ip_address } : {}),
      };
    return defined({
      floating_network_id: await neutronId(r, 'networks', p.floating_network),
      port_id: p.port_id ? await neutronId(r, 'ports', p.port_id) : undefined,
      fixed_ip_address: p.fixed_ip_address,
      floating_ip_address: p.floating_ip_address,
      subnet_id: p.floating_subnet ? await neutronId(r, 'subnets', p.floating_subnet) : undefined,
      dns_name: p.dns_name,
      dns_domain: p.dns_domain,
      ...((p.value_specs ?? {}) as Json),
    });
  },
});

const FloatingIPAssociation: ResourcePlugin = {
  type: 'OS::Neutron::FloatingIPAssociation',
  description: 'A resource for associating floating ips and ports.',
  supportStatus: SUPPORTED,
  properties: {
    floatingip_id: str('ID of the floating IP to associate.', { required: true, update_allowed: true }),
    port_id: str('ID of an existing port with at least one IP address to associate with this floating IP.', {
      required: true,
      update_allowed: true,
    }),
    fixed_ip_address: str('IP address to use if the port has multiple addresses.', { update_allowed: true }),
  },
  attributes: {},
  async create(r) {
    await r.api(
      'network',
      'PUT',
      `/v2.0/floatingips/${r.properties.floatingip_id}`,
      { floatingip: defined({ port_id: r.properties.port_id, fixed_ip_address: r.properties.fixed_ip_address }) },
      [200],
    );
    r.physicalId = `${r.properties.floatingip_id}:${r.properties.port_id}`;
  },
  async update(r) {
    if (r.oldProperties && r.oldProperties.floatingip_id !== r.properties.floatingip_id)
      await r.api(
        'network',
        'PUT',
        `/v2.0/floatingips/${r.oldProperties.floatingip_id}`,
        { floatingip: { port_id: null } },
        [200, 404],
      );
    await this.create(r);
  },
  async delete(r) {
    await r.api(
      'network',
      'PUT',
      `/v2.0/floatingips/${r.properties.floatingip_id}`,
      { floatingip: { port_id: null } },
      [200, 404],
    );
  },
};

const SG_RULE_PROPS: Record<string, PropertySchema> = {
  direction: str('The direction in which the security group rule is applied.', {
    default: 'ingress',
    constraints: [{ allowed_values: ['ingress', 'egress'] }],
  }),
  ethertype: str('Ethertype of the traffic.', { default: 'IPv4', constraints: [{ allowed_values: ['IPv4', 'IPv6'] }] }),
  port_range_min: {
    type: 'integer',
    description: 'The minimum port number in the range that is matched by the security group rule.',
    constraints: [{ range: { min: 0, max: 65535 } }],
  },
  port_range_max: {
    type: 'integer',
    description: 'The maximum port number in the range that is matched by the security group rule.',
    constraints: [{ range: { min: 0, max: 65535 } }],
  },
  protocol: str('The protocol that is matched by the security group rule.'),
  remote_mode: str('Whether to specify a remote group or a remote IP prefix.', {
    default: 'remote_ip_prefix',
    constraints: [{ allowed_values: ['remote_ip_prefix', 'remote_group_id'] }],
  }),
  remote_group_id: str('The remote group ID to be associated with this security group rule.'),
  remote_ip_prefix: str('The remote IP prefix (CIDR) to be associated with this security group rule.'),
  description: str('Description of the security group rule.'),
};

function ruleBody(rule: Json, group: string): Json {
  const remoteGroup = rule.remote_mode === 'remote_group_id' ? (rule.remote_group_id ?? group) : undefined;
  return defined({
    security_group_id: group,
    direction: rule.direction ?? 'ingress',
    ethertype: rule.ethertype ?? 'IPv4',
    protocol: rule.protocol,
    port_range_min: rule.port_range_min,
    port_range_max: rule.port_range_max,
    remote_ip_prefix: remoteGroup ? undefined : rule.remote_ip_prefix,
    remote_group_id: remoteGroup,
    description: rule.description,
  });
}

const SecurityGroup: ResourcePlugin = {
  type: 'OS::Neutron::SecurityGroup',
  description: 'A resource for managing Neutron security groups.',
  supportStatus: SUPPORTED,
  properties: {
    name: str('A string specifying a symbolic name for the security group.', { update_allowed: true }),
    description: str('Description of the security group.', { update_allowed: true }),
    rules: {
      type: 'list',
      description: 'List of security group rules.',
      default: [],
      update_allowed: true,
      schema: { '*': { type: 'map', schema: SG_RULE_PROPS } },
    },
  },
  attributes: {},
  async create(r) {
    const got = await r.api<Json>(
      'network',
      'POST',
      '/v2.0/security-groups',
      {
        security_group: defined({
          name: r.properties.name ?? physicalName(r),
          description: r.properties.description ?? '',
        }),
      },
      [201],
    );
    const sg = got.security_group as Json;
    r.physicalId = String(sg.id);
    // Heat's group keeps only the rules of the template: the default egress rules go when rules are given.
    if (((r.properties.rules as Json[]) ?? []).length) {
      await Promise.all(
        ((sg.security_group_rules ?? []) as Json[]).map((rule) =>
          r.api('network', 'DELETE', `/v2.0/security-group-rules/${rule.id}`, undefined, [204, 404]),
        ),
      );
      for (const rule of r.properties.rules as Json[])
        await r.api(
          'network',
          'POST',
          '/v2.0/security-group-rules',
          { security_group_rule: ruleBody(rule, r.physicalId) },
          [201, 409],
        );
    }
  },
  async update(r) {
    if (!r.physicalId) return;
    await r.api(
      'network',
      'PUT',
      `/v2.0/security-groups/${r.physicalId}`,
      { security_group: defined({ name: r.properties.name, description: r.properties.description }) },
      [200],
    );
    const got = (await r.api<Json>('network', 'GET', `/v2.0/security-groups/${r.physicalId}`)).security_group as Json;
    for (const rule of (got.security_group_rules ?? []) as Json[])
      await r.api('network', 'DELETE', `/v2.0/security-group-rules/${rule.id}`, undefined, [204, 404]);
    for (const rule of (r.properties.rules ?? []) as Json[])
      await r.api(
        'network',
        'POST',
        '/v2.0/security-group-rules',
        { security_group_rule: ruleBody(rule, r.physicalId) },
        [201, 409],
      );
  },
  async delete(r) {
    if (r.physicalId) await r.api('network', 'DELETE', `/v2.0/security-groups/${r.physicalId}`, undefined, [204, 404]);
  },
};

const SecurityGroupRule: ResourcePlugin = {
  type: 'OS::Neutron::SecurityGroupRule',
  description: 'A resource for managing Neutron security group rules.',
  supportStatus: SUPPORTED,
  properties: {
    security_group: str('Security group name or ID to add rule.', { required: true }),
    ...SG_RULE_PROPS,
    remote_group: str('The remote group name or ID to be associated with this security group rule.'),
  },
  attributes: {},
  async create(r) {
    const group = await neutronId(r, 'security-groups', r.properties.security_group);
    const p = { ...r.properties };
    if (p.remote_group) {
      p.remote_mode = 'remote_group_id';
      p.remote_group_id = await neutronId(r, 'security-groups', p.remote_group);
    }
    const got = await r.api<Json>(
      'network',
      'POST',
      '/v2.0/security-group-rules',
      { security_group_rule: ruleBody(p, group) },
      [201],
    );
    r.physicalId = String((got.security_group_rule as Json).id);
  },
  async delete(r) {
    if (r.physicalId)
      await r.api('network', 'DELETE', `/v2.0/security-group-rules/${r.physicalId}`, undefined, [204, 404]);
  },
};

// ---- trunks and extra routes -----------------------------------------------------------------

/** A trunk's subport as Neutron takes it, the port resolved to its id. */
interface SubPort {
  port_id: string;
  segmentation_type: string;
  segmentation_id: number;
}

async function subPorts(r: ResourceContext, list: unknown): Promise<SubPort[]> {
  const out: SubPort[] = [];
  for (const s of Array.isArray(list) ? (list as Json[]) : [])
    out.push({
      port_id: await neutronId(r, 'ports', s.port),
      segmentation_type: String(s.segmentation_type),
      segmentation_id: Number(s.segmentation_id),
    });
  return out;
}

const subPortKey = (s: SubPort) => JSON.stringify([s.port_id, s.segmentation_type, s.segmentation_id]);

/** Heat's is_built: a trunk in ERROR failed; ACTIVE, DOWN (an unbound parent) are built. */
async function trunkBuilt(r: ResourceContext) {
  if (!r.physicalId) return;
  const got = (await r.api<Json>('network', 'GET', `/v2.0/trunks/${r.physicalId}`, undefined, [200])).trunk as Json;
  if (got?.status === 'ERROR') throw new HeatError('ResourceInError', `Went to status ERROR due to "Unknown"`);
  answered.set(r, got);
}

const Trunk = neutron({
  type: 'OS::Neutron::Trunk',
  description: 'A resource for managing Neutron trunks.',
  collection: 'trunks',
  singular: 'trunk',
  properties: {
    name: str('A string specifying a symbolic name for the trunk, which is not required to be uniqe.', {
      update_allowed: true,
    }),
    port: str('ID or name of a port to be used as a parent port.', {
      required: true,
      immutable: true,
      constraints: [{ custom_constraint: 'neutron.port' }],
    }),
    sub_ports: {
      type: 'list',
      description: 'List with 0 or more map elements containing subport details.',
      update_allowed: true,
      schema: {
        '*': {
          type: 'map',
          schema: {
            port: str('ID or name of a port to be used as a subport.', {
              required: true,
              constraints: [{ custom_constraint: 'neutron.port' }],
            }),
            segmentation_type: str('Segmentation type to be used on the subport.', {
              required: true,
              constraints: [{ allowed_values: ['vlan'] }],
            }),
            segmentation_id: {
              type: 'integer',
              description: 'The segmentation ID on which the subport network is presented to the instance.',
              required: true,
              constraints: [{ range: { min: 1, max: 4094 } }],
            },
          },
        },
      },
    },
    description: str('Description for the trunk.', { update_allowed: true }),
    admin_state_up: bool('Enable/disable subport addition, removal and trunk delete.', { update_allowed: true }),
  },
  attributes: {
    port_id: attr('ID or name of a port used as a parent port.', 'string'),
  },
  async body(r, p) {
    const subs = await subPorts(r, p.sub_ports);
    return defined({
      name: p.name ?? physicalName(r),
      port_id: await neutronId(r, 'ports', p.port),
      description: p.description,
      admin_state_up: p.admin_state_up,
      ...(subs.length ? { sub_ports: subs } : {}),
    });
  },
});
const trunkCreate = Trunk.create;
Trunk.create = async (r) => {
  await trunkCreate.call(Trunk, r);
  await trunkBuilt(r);
};
// Heat's handle_update: the plain properties in one PUT, then the subports that went away are
// removed before the new ones are added (a port cannot be two subports at once).
Trunk.update = async (r, changed) => {
  if (!r.physicalId) return;
  const url = `/v2.0/trunks/${r.physicalId}`;
  const plain: Json = {};
  for (const k of ['name', 'description', 'admin_state_up'])
    if (changed.includes(k) && r.properties[k] !== undefined && r.properties[k] !== null) plain[k] = r.properties[k];
  if (changed.includes('name') && (r.properties.name === undefined || r.properties.name === null))
    plain.name = physicalName(r);
  if (Object.keys(plain).length) await r.api('network', 'PUT', url, { trunk: plain }, [200]);
  if (changed.includes('sub_ports')) {
    const before = await subPorts(r, r.oldProperties?.sub_ports);
    const after = await subPorts(r, r.properties.sub_ports);
    const was = new Set(before.map(subPortKey));
    const now = new Set(after.map(subPortKey));
    const remove = before.filter((s) => !now.has(subPortKey(s)));
    const add = after.filter((s) => !was.has(subPortKey(s)));
    if (remove.length)
      await r.api(
        'network',
        'PUT',
        `${url}/remove_subports`,
        { sub_ports: remove.map((s) => ({ port_id: s.port_id })) },
        [200],
      );
    if (add.length) await r.api('network', 'PUT', `${url}/add_subports`, { sub_ports: add }, [200]);
  }
  await trunkBuilt(r);
};

interface Route {
  destination: string;
  nexthop: string;
}
const routeList = (v: unknown): Route[] =>
  (Array.isArray(v) ? (v as Json[]) : []).map((x) => ({
    destination: String(x.destination),
    nexthop: String(x.nexthop),
  }));
const routeKey = (x: Route) => `${x.destination}=${x.nexthop}`;

/** Heat's _raise_if_duplicate: a route the router already has is another's (PhysicalResourceExists). */
async function raiseIfDuplicate(r: ResourceContext, router: string, add: Route[]) {
  if (!add.length) return;
  const got = (await r.api<Json>('network', 'GET', `/v2.0/routers/${router}`, undefined, [200])).router as Json;
  const existing = new Set(routeList(got?.routes).map(routeKey));
  for (const x of add)
    if (existing.has(routeKey(x)))
      throw new HeatError('PhysicalResourceExists', `The Resource (${router},${routeKey(x)}) already exists.`);
}

/**
 * OS::Neutron::ExtraRouteSet (extraroute-atomic): a set of extra routes of a router, added and
 * removed without touching the router's other routes. Its physical id is the router's id. The
 * engine makes it depend on the stack's interfaces of the same router (Heat's add_dependencies).
 */
const ExtraRouteSet: ResourcePlugin = {
  type: 'OS::Neutron::ExtraRouteSet',
  description: 'Resource for specifying extra routes for a Neutron router.',
  supportStatus: { status: 'SUPPORTED', version: '14.0.0', message: null },
  properties: {
    router: str('The router id.', { required: true, constraints: [{ custom_constraint: 'neutron.router' }] }),
    routes: {
      type: 'list',
      description: 'A set of route dictionaries for the router.',
      default: [],
      update_allowed: true,
      schema: {
        '*': {
          type: 'map',
          schema: {
            destination: str('The destination network in CIDR notation.', {
              required: true,
              constraints: [{ custom_constraint: 'net_cidr' }],
            }),
            nexthop: str('The next hop for the destination.', {
              required: true,
              constraints: [{ custom_constraint: 'ip_addr' }],
            }),
          },
        },
      },
    },
  },
  attributes: {},
  async create(r) {
    const router = await neutronId(r, 'routers', r.properties.router);
    const routes = routeList(r.properties.routes);
    await raiseIfDuplicate(r, router, routes);
    await r.api('network', 'PUT', `/v2.0/routers/${router}/add_extraroutes`, { router: { routes } }, [200]);
    r.physicalId = router;
  },
  async update(r, changed) {
    if (!r.physicalId || !changed.includes('routes')) return;
    const before = routeList(r.oldProperties?.routes);
    const after = routeList(r.properties.routes);
    const was = new Set(before.map(routeKey));
    const now = new Set(after.map(routeKey));
    const add = after.filter((x) => !was.has(routeKey(x)));
    const remove = before.filter((x) => !now.has(routeKey(x)));
    await raiseIfDuplicate(r, r.physicalId, add);
    const base = `/v2.0/routers/${r.physicalId}`;
    if (remove.length)
      await r.api('network', 'PUT', `${base}/remove_extraroutes`, { router: { routes: remove } }, [200]);
    if (add.length) await r.api('network', 'PUT', `${base}/add_extraroutes`, { router: { routes: add } }, [200]);
  },
  async delete(r) {
    if (!r.physicalId) return;
    const routes = routeList(r.properties.routes);
    if (!routes.length) return;
    await r.api(
      'network',
      'PUT',
      `/v2.0/routers/${r.physicalId}/remove_extraroutes`,
      { router: { routes } },
      [200, 404],
    );
  },
};

// ---- compute ---------------------------------------------------------------------------------

const KeyPair: ResourcePlugin = {
  type: 'OS::Nova::KeyPair',
  description: 'A resource for creating Nova key pairs.',
  supportStatus: SUPPORTED,
  properties: {
    name: str('The name of the key pair.', { required: true, constraints: [{ length: { min: 1, max: 255 } }] }),
    save_private_key: bool('True if the system should remember a generated private key; False otherwise.', {
      default: false,
    }),
    public_key: str(
      'The optional public key. This allows users to supply the public key from a pre-existing key pair.',
    ),
    type: str('Keypair type.', { constraints: [{ allowed_values: ['ssh', 'x509'] }] }),
    user: str('ID or name of user to whom to add key-pair.'),
  },
  attributes: {
    public_key: attr('The public key.', 'string'),
    private_key: attr('The private key if it has been saved.', 'string'),
  },
  async create(r) {
    const body = defined({ name: r.properties.name, public_key: r.properties.public_key, type: r.properties.type });
    const got = (await r.api<Json>('compute', 'POST', '/os-keypairs', { keypair: body }, [200, 201])).keypair as Json;
    r.physicalId = String(got.name);
    r.data.public_key = got.public_key;
    if (r.properties.save_private_key && got.private_key) r.data.private_key = got.private_key;
  },
  async delete(r) {
    if (r.physicalId)
      await r.api('compute', 'DELETE', `/os-keypairs/${encodeURIComponent(r.physicalId)}`, undefined, [202, 204, 404]);
  },
  async check(r) {
    if (r.physicalId)
      await r.api('compute', 'GET', `/os-keypairs/${encodeURIComponent(r.physicalId)}`, undefined, [200]);
  },
  async resolveAttributes(r) {
    return { public_key: r.data.public_key ?? null, private_key: r.data.private_key ?? '' };
  },
};

const Flavor: ResourcePlugin = {
  type: 'OS::Nova::Flavor',
  description: 'A resource for creating OpenStack virtual hardware templates (admin only).',
  supportStatus: SUPPORTED,
  properties: {
    name: str('Name of the flavor.'),
    flavorid: str('Unique ID of the flavor. If not specified, an UUID will be auto generated and used.'),
    ram: { type: 'integer', description: 'Memory in MB for the flavor.', required: true },
    vcpus: { type: 'integer', description: 'Number of VCPUs for the flavor.', required: true },
    disk: { type: 'integer', description: 'Size of local disk in GB.', default: 0 },
    swap: { type: 'integer', description: 'Swap space in MB.', default: 0 },
    ephemeral: { type: 'integer', description: 'Size of a secondary ephemeral data disk in GB.', default: 0 },
    rxtx_factor: { type: 'number', description: 'RX/TX factor.', default: 1.0 },
    is_public: bool('Scope of flavor accessibility. Public or private.', { default: true }),
    extra_specs: {
      type: 'map',
      description: 'Key/Value pairs to extend the capabilities of the flavor.',
      update_allowed: true,
      default: {},
    },
    tenants: { type: 'list', description: 'List of tenants.', update_allowed: true, default: [] },
    description: str('Description of the flavor.', { update_allowed: true }),
  },
  attributes: {
    is_public: attr('Whether the flavor is shared across all projects.', 'boolean'),
    extra_specs: attr('Extra specs of the flavor in key-value pairs.', 'map'),
  },
  async create(r) {
    const p = r.properties;
    const got = (
      await r.api<Json>(
        'compute',
        'POST',
        '/flavors',
        {
          flavor: defined({
            name: p.name ?? physicalName(r),
            id: p.flavorid,
            ram: p.ram,
            vcpus: p.vcpus,
            disk: p.disk,
            swap: p.swap,
            'OS-FLV-EXT-DATA:ephemeral': p.ephemeral,
            rxtx_factor: p.rxtx_factor,
            'os-flavor-access:is_public': p.is_public,
            description: p.description,
          }),
        },
        [200],
      )
    ).flavor as Json;
    r.physicalId = String(got.id);
    await Flavor.update!(r, ['extra_specs', 'tenants']);
  },
  async update(r, changed) {
    if (!r.physicalId) return;
    if (changed.includes('extra_specs') && Object.keys((r.properties.extra_specs ?? {}) as Json).length)
      await r.api(
        'compute',
        'POST',
        `/flavors/${r.physicalId}/os-extra_specs`,
        { extra_specs: r.properties.extra_specs },
        [200],
      );
    if (changed.includes('tenants'))
      for (const t of (r.properties.tenants ?? []) as string[])
        await r.api(
          'compute',
          'POST',
          `/flavors/${r.physicalId}/action`,
          { addTenantAccess: { tenant: t } },
          [200, 409],
        );
    if (changed.includes('description'))
      await r.api(
        'compute',
        'PUT',
        `/flavors/${r.physicalId}`,
        { flavor: { description: r.properties.description } },
        [200],
      );
  },
  async delete(r) {
    if (r.physicalId) await r.api('compute', 'DELETE', `/flavors/${r.physicalId}`, undefined, [202, 204, 404]);
  },
  async resolveAttributes(r) {
    return { is_public: r.properties.is_public, extra_specs: r.properties.extra_specs ?? {} };
  },
};

const ServerGroup: ResourcePlugin = {
  type: 'OS::Nova::ServerGroup',
  description: 'A resource for managing a Nova server group.',
  supportStatus: SUPPORTED,
  properties: {
    name: str('Server Group name.'),
    policies: {
      type: 'list',
      description: 'A list of exactly one policy to apply.',
      default: ['anti-affinity'],
      constraints: [{ length: { min: 1, max: 1 } }],
    },
    rules: { type: 'map', description: 'Rules for the policy.' },
  },
  attributes: {},
  async create(r) {
    const got = (
      await r.api<Json>(
        'compute',
        'POST',
        '/os-server-groups',
        {
          server_group: defined({
            name: r.properties.name ?? physicalName(r),
            policy: (r.properties.policies as string[])[0],
            rules: r.properties.rules ?? undefined,
          }),
        },
        [200],
      )
    ).server_group as Json;
    r.physicalId = String(got.id);
  },
  async delete(r) {
    if (r.physicalId) await r.api('compute', 'DELETE', `/os-server-groups/${r.physicalId}`, undefined, [204, 404]);
  },
};

async function computeId(r: ResourceContext, collection: 'flavors' | 'images', ref: unknown): Promise<string> {
  const s = String(ref ?? '');
  if (collection === 'images') {
    if (UUID.test(s)) return s;
    const list = (await r.api<Json>('image', 'GET', `/v2/images?name=${encodeURIComponent(s)}`)).images as Json[];
    if (list.length === 1) return String(list[0]!.id);
    if (list.length > 1)
      throw new HeatError('PhysicalResourceNameAmbiguity', `Multiple physical resources were found with name (${s}).`);
    throw new HeatError('StackValidationFailed', `Error validating value '${s}': No images matching {'name': '${s}'}.`);
  }
  const got = await r.api<Json>('compute', 'GET', `/flavors/${encodeURIComponent(s)}`, undefined, [200, 404]);
  if (got?.flavor) return s;
  const list = (await r.api<Json>('compute', 'GET', '/flavors/detail?is_public=None')).flavors as Json[];
  const f = list.find((x) => x.name === s);
  if (!f)
    throw new HeatError(
      'StackValidationFailed',
      `Error validating value '${s}': The Flavor ID (${s}) could not be found.`,
    );
  return String(f.id);
}

const SERVER_PROPS: Record<string, PropertySchema> = {
  name: str('Server name.', { update_allowed: true }),
  image: str('The ID or name of the image to boot with.', { update_allowed: true }),
  flavor: str('The ID or name of the flavor to boot onto.', { required: true, update_allowed: true }),
  key_name: str('Name of keypair to inject into the server.'),
  admin_pass: str('The administrator password for the server.', { update_allowed: true }),
  availability_zone: str('Name of the availability zone for server placement.'),
  security_groups: { type: 'list', description: 'List of security group names or IDs.', default: [] },
  networks: {
    type: 'list',
    description:
      'An ordered list of nics to be added to this server, with information about connected networks, fixed ips, port etc.',
    update_allowed: true,
    schema: {
      '*': {
        type: 'map',
        schema: {
          network: str('Name or ID of network to create a port on.'),
          port: str('ID of an existing port to associate with this server.'),
          fixed_ip: str('Fixed IP address to specify for the port created on the requested network.'),
          subnet: str('Subnet in which to allocate the IP address for port.'),
          tag: str('Port tag.'),
          uuid: str('ID of network (deprecated).'),
          floating_ip: str('ID of the floating IP to associate.'),
          allocate_network: str(
            'The special string values of network, auto: means either a network that is already available to the project will be used, or if one does not exist, will be automatically created for the project; none: means no networking will be allocated for the created server.',
          ),
        },
      },
    },
  },
  user_data: str('User data script to be executed by cloud-init or CoreOS ignition.', {
    default: '',
    update_allowed: true,
  }),
  user_data_format: str('How the user_data should be formatted for the server.', {
    default: 'HEAT_CFNTOOLS',
    constraints: [{ allowed_values: ['HEAT_CFNTOOLS', 'RAW', 'SOFTWARE_CONFIG'] }],
  }),
  user_data_update_policy: str('Policy on how to apply a user_data update.', {
    default: 'REPLACE',
    update_allowed: true,
    constraints: [{ allowed_values: ['REPLACE', 'IGNORE'] }],
  }),
  software_config_transport: str('How the server should receive the metadata required for software configuration.', {
    default: 'POLL_SERVER_CFN',
    update_allowed: true,
  }),
  metadata: {
    type: 'map',
    description: 'Arbitrary key/value metadata to store for this server.',
    update_allowed: true,
  },
  config_drive: bool('If True, enable config drive on the server.'),
  scheduler_hints: {
    type: 'map',
    description: 'Arbitrary key-value pairs specified by the client to help boot a server.',
  },
  block_device_mapping: { type: 'list', description: 'Block device mappings for this server.' },
  block_device_mapping_v2: { type: 'list', description: 'Block device mappings v2 for this server.' },
  diskConfig: str('Control how the disk is partitioned when the server is created.', {
    constraints: [{ allowed_values: ['AUTO', 'MANUAL'] }],
  }),
  personality: { type: 'map', description: 'A map of files to create/overwrite on the server upon boot.', default: {} },
  reservation_id: str('A UUID for the set of servers being requested.'),
  flavor_update_policy: str('Policy on how to apply a flavor update.', {
    default: 'RESIZE',
    update_allowed: true,
    constraints: [{ allowed_values: ['RESIZE', 'REPLACE'] }],
  }),
  image_update_policy: str('Policy on how to apply an image-id update.', {
    default: 'REBUILD',
    update_allowed: true,
    constraints: [{ allowed_values: ['REBUILD', 'REPLACE', 'REBUILD_PRESERVE_EPHEMERAL'] }],
  }),
  deployment_swift_data: {
    type: 'map',
    description: 'Swift container and object to use for storing deployment data for the server resource.',
    default: {},
  },
  tags: { type: 'list', description: 'Server tags.', update_allowed: true },
};

async function deleteInternalPorts(r: ResourceContext) {
  for (const id of (r.data.internal_ports ?? []) as string[])
    await r.api('network', 'DELETE', `/v2.0/ports/${id}`, undefined, [204, 404]);
  r.data.internal_ports = [];
}

async function waitServer(r: ResourceContext, id: string, want: string[], timeoutMs = 600_000): Promise<Json | null> {
  const end = Date.now() + timeoutMs;
  // Polled every 300 ms as Heat polls; the engine wakes the wait at once when compute says an
  // action on the server ended (its notification), so a build is seen when it is done.
  const watch = r.watchServer?.(id);
  try {
    return await pollServer(r, id, want, end, watch);
  } finally {
    watch?.close();
  }
}

async function pollServer(
  r: ResourceContext,
  id: string,
  want: string[],
  end: number,
  watch: ReturnType<NonNullable<ResourceContext['watchServer']>> | undefined,
): Promise<Json | null> {
  for (;;) {
    const got = await r.api<Json>('compute', 'GET', `/servers/${id}`, undefined, [200, 404]);
    const server = got?.server as Json | undefined;
    if (!server) {
      if (want.includes('DELETED')) return null;
      throw new HeatError('EntityNotFound', `The Server (${id}) could not be found.`);
    }
    const status = String(server.status);
    if (want.includes(status)) return server;
    if (status === 'ERROR') {
      const fault = (server.fault as Json | undefined)?.message;
      throw new Error(`ResourceInError: resources.${r.name}: Went to status ERROR due to "${fault ?? 'Unknown'}"`);
    }
    if (Date.now() > end) throw new Error(`Timed out waiting for server ${id} to become ${want.join('/')}`);
    if (watch) await watch.next(300);
    else await r.sleep(300);
  }
}

function serverAttributes(server: Json, ports: Json[] = []): Json {
  // Heat adds each address's port (matched by MAC address) to Nova's addresses.
  const addresses = Object.fromEntries(
    Object.entries((server.addresses ?? {}) as Record<string, Array<Json>>).map(([net, list]) => [
      net,
      list.map((a) => ({
        ...a,
        port:
          ports.find(
            (p) =>
              p.mac_address === a['OS-EXT-IPS-MAC:mac_addr'] &&
              ((p.fixed_ips ?? []) as Json[]).some((f) => f.ip_address === a.addr),
          )?.id ??
          ports.find((p) => ((p.fixed_ips ?? []) as Json[]).some((f) => f.ip_address === a.addr))?.id ??
          null,
      })),
    ]),
  ) as Record<string, Json[]>;
  const networks: Record<string, string[]> = {};
  let first = '';
  for (const [net, list] of Object.entries(addresses)) {
    networks[net] = list.map((a) => String(a.addr));
    if (!first && list[0]) first = String(list[0].addr);
  }
  return {
    show: server,
    name: server.name,
    addresses,
    networks,
    first_address: first,
    accessIPv4: server.accessIPv4 ?? '',
    accessIPv6: server.accessIPv6 ?? '',
    instance_name: server['OS-EXT-SRV-ATTR:instance_name'] ?? null,
    os_collect_config: {},
    console_urls: {},
    tags: server.tags ?? null,
  };
}

/** A nic of the `networks` property with its references resolved to ids. */
interface Nic {
  port?: string;
  networkId?: string;
  subnetId?: string;
  fixedIp?: string;
  tag?: string;
}

async function resolveNic(r: ResourceContext, n: Json): Promise<Nic> {
  if (n.port) return { port: await neutronId(r, 'ports', n.port) };
  const subnetId = n.subnet ? await neutronId(r, 'subnets', n.subnet) : undefined;
  let networkId = (n.network ?? n.uuid) ? await neutronId(r, 'networks', n.network ?? n.uuid) : undefined;
  if (!networkId && subnetId)
    networkId = String(((await r.api<Json>('network', 'GET', `/v2.0/subnets/${subnetId}`)).subnet as Json).network_id);
  return defined({ networkId, subnetId, fixedIp: n.fixed_ip as string | undefined, tag: n.tag as string | undefined });
}

/** As Heat does, a nic without a port gets an internal port (fixed IP, subnet, security groups), deleted with the server. */
async function createInternalPort(r: ResourceContext, nic: Nic, groups: string[] | undefined): Promise<string> {
  const index = Number(r.data.next_port_index ?? 0);
  r.data.next_port_index = index + 1;
  const fixed =
    nic.subnetId || nic.fixedIp ? [defined({ subnet_id: nic.subnetId, ip_address: nic.fixedIp })] : undefined;
  const port = (
    await r.api<Json>(
      'network',
      'POST',
      '/v2.0/ports',
      {
        port: defined({
          network_id: nic.networkId,
          name: `${r.stack.name}-${r.name}-port-${index}`,
          fixed_ips: fixed,
          security_groups: groups?.length ? groups : undefined,
        }),
      },
      [201],
    )
  ).port as Json;
  return String(port.id);
}

/**
 * A `networks` update made in place, as Heat's server_network_mixin does: each new nic keeps the
 * server's port that already matches it (the same port; or the same network, subnet and fixed IP),
 * the ports no nic matches are detached (and deleted when Heat made them), the nics no port
 * matches get a port attached. `allocate_network` changes replace the server.
 */
async function updateNetworks(r: ResourceContext) {
  const p = r.properties;
  const wanted = (p.networks ?? []) as Json[];
  const before = (r.oldProperties?.networks ?? []) as Json[];
  if (wanted.some((n) => n.allocate_network) || before.some((n) => n.allocate_network) || !wanted.length)
    throw new (await import('./plugin.ts')).UpdateReplace(r.name);
  const id = r.physicalId!;
  const ports = ((await r.api<Json>('network', 'GET', `/v2.0/ports?device_id=${id}`)).ports ?? []) as Json[];
  const free = new Map(ports.map((port) => [String(port.id), port]));
  const fixedIps = (port: Json) => (port.fixed_ips ?? []) as Array<{ subnet_id: string; ip_address: string }>;
  const toAttach: Nic[] = [];
  for (const n of wanted) {
    const nic = await resolveNic(r, n);
    let match: string | undefined;
    if (nic.port) match = free.has(nic.port) ? nic.port : undefined;
    else
      match = [...free.values()]
        .filter(
          (port) =>
            port.network_id === nic.networkId &&
            (!nic.subnetId || fixedIps(port).some((f) => f.subnet_id === nic.subnetId)) &&
            (!nic.fixedIp || fixedIps(port).some((f) => f.ip_address === nic.fixedIp)),
        )
        .map((port) => String(port.id))[0];
    if (match) free.delete(match);
    else toAttach.push(nic);
  }
  const internal = new Set((r.data.internal_ports ?? []) as string[]);
  for (const portId of free.keys()) {
    await r.api('compute', 'DELETE', `/servers/${id}/os-interface/${portId}`, undefined, [202, 404]);
    for (let i = 0; i < 100; i++) {
      const left = ((await r.api<Json>('network', 'GET', `/v2.0/ports?device_id=${id}`)).ports ?? []) as Json[];
      if (!left.some((port) => port.id === portId)) break;
      await r.sleep(200);
    }
    if (internal.has(portId)) {
      await r.api('network', 'DELETE', `/v2.0/ports/${portId}`, undefined, [204, 404]);
      internal.delete(portId);
    }
  }
  const groups = toAttach.some((nic) => !nic.port) ? await securityGroupIds(r, p.security_groups) : undefined;
  for (const nic of toAttach) {
    let portId = nic.port;
    if (!portId) {
      if (!nic.networkId) continue;
      portId = await createInternalPort(r, nic, groups);
      internal.add(portId);
      r.data.internal_ports = [...internal];
    }
    await r.api('compute', 'POST', `/servers/${id}/os-interface`, { interfaceAttachment: { port_id: portId } }, [200]);
  }
  r.data.internal_ports = [...internal];
  // What resolveAttributes reads (not kept in the resource's data: Heat keeps none of it).
  const server = await waitServer(r, id, ['ACTIVE']);
  if (server) answered.set(r, server);
}

const Server: ResourcePlugin = {
  type: 'OS::Nova::Server',
  description: 'A resource for managing Nova instances.',
  supportStatus: SUPPORTED,
  properties: SERVER_PROPS,
  attributes: {
    show: attr('A dict of all server details as returned by the API.', 'map'),
    name: attr('Name of the server.', 'string'),
    addresses: attr('A dict of all network addresses with corresponding port_id and subnets.', 'map'),
    networks: attr(
      'A dict of assigned network addresses of the form: {"public": [ip1, ip2...], "private": [ip3, ip4]}.',
      'map',
    ),
    first_address: attr('Convenience attribute to fetch the first assigned network address.', 'string'),
    instance_name: attr('AWS compatible instance name.', 'string'),
    accessIPv4: attr('The manually assigned alternative public IPv4 address of the server.', 'string'),
    accessIPv6: attr('The manually assigned alternative public IPv6 address of the server.', 'string'),
    console_urls: attr("URLs of server's consoles.", 'map'),
    os_collect_config: attr("The os-collect-config configuration for the server's local agent.", 'map'),
    tags: attr('Tags from the server.', 'list'),
  },
  async create(r) {
    const p = r.properties;
    const networks: Json[] = [];
    let auto: string | undefined;
    // As Heat does, a nic without a port gets an internal port (fixed IP, subnet, security groups),
    // deleted with the server.
    const groups = await securityGroupIds(r, p.security_groups);
    const internal: string[] = [];
    r.data.internal_ports = internal;
    for (const n of (p.networks ?? []) as Json[]) {
      if (n.allocate_network) {
        auto = String(n.allocate_network);
        continue;
      }
      const nic = await resolveNic(r, n);
      if (nic.port) {
        networks.push({ port: nic.port });
        continue;
      }
      if (!nic.networkId) continue;
      const portId = await createInternalPort(r, nic, groups);
      internal.push(portId);
      networks.push(defined({ port: portId, tag: n.tag }));
    }
    let userData = String(p.user_data ?? '');
    if (p.user_data_format === 'SOFTWARE_CONFIG' && UUID.test(userData)) {
      const cfg = await r.api<Json>('orchestration', 'GET', `/software_configs/${userData}`, undefined, [200, 404]);
      userData = String((cfg?.software_config as Json | undefined)?.config ?? '');
    }
    // A server that polls its software deployments through the native API gets a stack-domain
    // user whose credentials its os-collect-config reads (Heat's POLL_SERVER_HEAT).
    if (p.user_data_format === 'SOFTWARE_CONFIG' && p.software_config_transport === 'POLL_SERVER_HEAT') {
      const user = await r.stackUser.create();
      r.data.os_collect_config = {
        heat: {
          user_id: user.user_id,
          password: user.password,
          auth_url: await r.stackUser.authUrl(),
          project_id: user.project_id,
          stack_id: r.stack.id,
          resource_name: r.name,
          region_name: r.stack.region,
        },
        collectors: ['heat', 'local'],
      };
    }
    const body: Json = defined({
      name: p.name ?? physicalName(r),
      flavorRef: await computeId(r, 'flavors', p.flavor),
      imageRef: p.image ? await computeId(r, 'images', p.image) : undefined,
      key_name: p.key_name,
      adminPass: p.admin_pass,
      availability_zone: p.availability_zone,
      // Heat hands the groups to Nova as well as to its internal ports: Nova shows them on the server.
      security_groups: ((p.security_groups ?? []) as string[]).length
        ? (p.security_groups as string[]).map((name) => ({ name }))
        : undefined,
      networks: networks.length
        ? networks
        : (auto ?? (p.networks && (p.networks as unknown[]).length === 0 ? undefined : 'auto')),
      user_data: userData ? Buffer.from(userData).toString('base64') : undefined,
      metadata:
        p.metadata && Object.keys(p.metadata as Json).length
          ? Object.fromEntries(
              Object.entries(p.metadata as Json).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
            )
          : undefined,
      config_drive: p.config_drive ?? undefined,
      block_device_mapping_v2:
        p.block_device_mapping_v2 && (p.block_device_mapping_v2 as unknown[]).length
          ? p.block_device_mapping_v2
          : undefined,
      'OS-DCF:diskConfig': p.diskConfig,
      tags: p.tags ?? undefined,
    });
    if (!body.networks) body.networks = 'auto';
    const hints =
      p.scheduler_hints && Object.keys(p.scheduler_hints as Json).length
        ? { 'os:scheduler_hints': p.scheduler_hints }
        : {};
    const got = (await r.api<Json>('compute', 'POST', '/servers', { server: body, ...hints }, [202])).server as Json;
    r.physicalId = String(got.id);
    // What resolveAttributes reads (not kept in the resource's data: Heat keeps none of it).
    const server = await waitServer(r, r.physicalId, ['ACTIVE']);
    if (server) answered.set(r, server);
  },
  async update(r, changed) {
    if (!r.physicalId) return;
    const p = r.properties;
    if (changed.includes('name') || changed.includes('admin_pass') === false) {
      if (changed.includes('name') && p.name)
        await r.api('compute', 'PUT', `/servers/${r.physicalId}`, { server: { name: p.name } }, [200]);
    }
    if (changed.includes('metadata'))
      await r.api(
        'compute',
        'PUT',
        `/servers/${r.physicalId}/metadata`,
        {
          metadata: Object.fromEntries(
            Object.entries((p.metadata ?? {}) as Json).map(([k, v]) => [
              k,
              typeof v === 'string' ? v : JSON.stringify(v),
            ]),
          ),
        },
        [200],
      );
    if (changed.includes('flavor')) {
      if (p.flavor_update_policy === 'REPLACE') throw new (await import('./plugin.ts')).UpdateReplace(r.name);
      await r.api(
        'compute',
        'POST',
        `/servers/${r.physicalId}/action`,
        { resize: { flavorRef: await computeId(r, 'flavors', p.flavor) } },
        [202],
      );
      await waitServer(r, r.physicalId, ['VERIFY_RESIZE', 'ACTIVE']);
      await r.api('compute', 'POST', `/servers/${r.physicalId}/action`, { confirmResize: null }, [202, 204, 409]);
      await waitServer(r, r.physicalId, ['ACTIVE']);
    }
    if (changed.includes('image')) {
      if (p.image_update_policy === 'REPLACE') throw new (await import('./plugin.ts')).UpdateReplace(r.name);
      await r.api(
        'compute',
        'POST',
        `/servers/${r.physicalId}/action`,
        { rebuild: { imageRef: await computeId(r, 'images', p.image) } },
        [202],
      );
      await waitServer(r, r.physicalId, ['ACTIVE']);
    }
    if (changed.includes('user_data') && p.user_data_update_policy === 'REPLACE')
      throw new (await import('./plugin.ts')).UpdateReplace(r.name);
    if (changed.includes('networks')) await updateNetworks(r);
  },
  async delete(r) {
    if (!r.physicalId) return;
    await r.api('compute', 'DELETE', `/servers/${r.physicalId}`, undefined, [204, 404]);
    await waitServer(r, r.physicalId, ['DELETED']);
    await deleteInternalPorts(r);
  },
  async suspend(r) {
    if (!r.physicalId) return;
    await r.api('compute', 'POST', `/servers/${r.physicalId}/action`, { suspend: null }, [202]);
    await waitServer(r, r.physicalId, ['SUSPENDED']);
  },
  async resume(r) {
    if (!r.physicalId) return;
    await r.api('compute', 'POST', `/servers/${r.physicalId}/action`, { resume: null }, [202]);
    await waitServer(r, r.physicalId, ['ACTIVE']);
  },
  async check(r) {
    if (r.physicalId) await waitServer(r, r.physicalId, ['ACTIVE'], 1000);
  },
  async resolveAttributes(r) {
    if (!r.physicalId) return {};
    const got =
      answered.get(r) ??
      ((await r.api<Json>('compute', 'GET', `/servers/${r.physicalId}`, undefined, [200])).server as Json);
    answered.delete(r);
    const ports = await r
      .api<Json>('network', 'GET', `/v2.0/ports?device_id=${r.physicalId}`, undefined, [200])
      .then((b) => (b.ports ?? []) as Json[])
      .catch(() => []);
    return { ...serverAttributes(got, ports), os_collect_config: r.data.os_collect_config ?? {} };
  },
};

// ---- image, object storage, identity -----------------------------------------------------------

const WebImage: ResourcePlugin = {
  type: 'OS::Glance::WebImage',
  description: 'A resource managing images in Glance using the web-download import.',
  supportStatus: SUPPORTED,
  properties: {
    name: str('Name for the image.'),
    id: str('The image ID. Glance will generate a UUID if not specified.'),
    location: str('URL where the data for this image already resides.', { required: true }),
    disk_format: str('Disk format of image.', {
      required: true,
      constraints: [
        { allowed_values: ['ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw', 'qcow2', 'vdi', 'iso', 'ploop'] },
      ],
    }),
    container_format: str('Container format of image.', {
      default: 'bare',
      constraints: [{ allowed_values: ['ami', 'ari', 'aki', 'bare', 'ova', 'ovf', 'docker'] }],
    }),
    min_disk: { type: 'integer', description: 'Amount of disk space (in GB) required to boot image.', default: 0 },
    min_ram: { type: 'integer', description: 'Amount of ram (in MB) required to boot image.', default: 0 },
    protected: bool('Whether the image can be deleted.', { default: false, update_allowed: true }),
    visibility: str('Scope of image accessibility.', {
      default: 'private',
      update_allowed: true,
      constraints: [{ allowed_values: ['public', 'private', 'community', 'shared'] }],
    }),
    tags: { type: 'list', description: 'List of image tags.', default: [], update_allowed: true },
    os_distro: str('The common name of the operating system distribution in lowercase.'),
    architecture: str('Operating system architecture.'),
  },
  attributes: { show: attr('Detailed information about resource.', 'map') },
  async create(r) {
    const p = r.properties;
    const got = await r.api<Json>(
      'image',
      'POST',
      '/v2/images',
      defined({
        name: p.name ?? physicalName(r),
        id: p.id,
        disk_format: p.disk_format,
        container_format: p.container_format,
        min_disk: p.min_disk,
        min_ram: p.min_ram,
        protected: p.protected,
        visibility: p.visibility,
        tags: p.tags,
        os_distro: p.os_distro,
        architecture: p.architecture,
      }),
      [201],
    );
    r.physicalId = String(got.id);
    await r.api(
      'image',
      'POST',
      `/v2/images/${r.physicalId}/import`,
      { method: { name: 'web-download', uri: p.location } },
      [202],
    );
  },
  async delete(r) {
    if (!r.physicalId) return;
    if (r.properties.protected)
      await r.api('image', 'PATCH', `/v2/images/${r.physicalId}`, undefined, [200, 404, 415]).catch(() => undefined);
    await r.api('image', 'DELETE', `/v2/images/${r.physicalId}`, undefined, [204, 404]);
  },
  async resolveAttributes(r) {
    if (!r.physicalId) return {};
    return { show: await r.api<Json>('image', 'GET', `/v2/images/${r.physicalId}`, undefined, [200]) };
  },
};

const Container: ResourcePlugin = {
  type: 'OS::Swift::Container',
  description: 'A resource for managing Swift containers.',
  supportStatus: SUPPORTED,
  properties: {
    name: str('Name for container. If not specified, a unique name will be generated.'),
    'X-Container-Read': str('Specify the ACL permissions on who can read objects in the container.'),
    'X-Container-Write': str('Specify the ACL permissions on who can write objects to the container.'),
    'X-Container-Meta': {
      type: 'map',
      description: 'A map of user-defined meta data to associate with the container.',
      default: {},
    },
    'X-Account-Meta': {
      type: 'map',
      description: 'A map of user-defined meta data to associate with the account.',
      default: {},
    },
    PurgeOnDelete: bool('If True, delete any objects in the container when the container is deleted.', {
      default: false,
    }),
  },
  attributes: {
    DomainName: attr('The host from the container URL.', 'string'),
    WebsiteURL: attr('The URL of the container.', 'string'),
    RootURL: attr('The parent URL of the container.', 'string'),
    ObjectCount: attr('The number of objects stored in the container.', 'integer'),
    BytesUsed: attr('The number of bytes stored in the container.', 'integer'),
    HeadContainer: attr('A map containing all headers for the container.', 'map'),
  },
  async create(r) {
    const name = String(r.properties.name ?? physicalName(r));
    await r.api('object-store', 'PUT', `/${encodeURIComponent(name)}`, undefined, [201, 202]);
    r.physicalId = name;
  },
  async delete(r) {
    if (!r.physicalId) return;
    if (r.properties.PurgeOnDelete) {
      const objs = await r.api<Array<{ name: string }>>(
        'object-store',
        'GET',
        `/${encodeURIComponent(r.physicalId)}?format=json`,
        undefined,
        [200, 204, 404],
      );
      for (const o of objs ?? [])
        await r.api(
          'object-store',
          'DELETE',
          `/${encodeURIComponent(r.physicalId)}/${encodeURIComponent(o.name)}`,
          undefined,
          [204, 404],
        );
    }
    await r.api('object-store', 'DELETE', `/${encodeURIComponent(r.physicalId)}`, undefined, [204, 404]);
  },
  async resolveAttributes(r) {
    const base = (await r.heatUrl()).replace(/\/heat-api\/v1\/.*/, '');
    const url = `${base}/swift/v1/AUTH_${r.stack.projectId}/${r.physicalId}`;
    return {
      WebsiteURL: url,
      RootURL: url.replace(/\/[^/]*$/, '/'),
      DomainName: new URL(url).hostname,
      ObjectCount: 0,
      BytesUsed: 0,
      HeadContainer: {},
    };
  },
};

function keystone(o: {
  type: string;
  collection: string;
  singular: string;
  properties: Record<string, PropertySchema>;
  /** The request body's fields (beside `name`) and the property each is, on create and on update. */
  fields: Record<string, string>;
  /** The fields that only a create sends. */
  createFields?: Record<string, string>;
  attributes?: Record<string, AttributeSchema>;
}): ResourcePlugin {
  // The body of a create (`create`) or an update: the name (on create the physical name when none is given) and
  // the fields from their properties, without those not set.
  const body = (r: ResourceContext, create: boolean): Json => {
    const from = (fields: Record<string, string>) =>
      Object.fromEntries(Object.entries(fields).map(([field, prop]) => [field, r.properties[prop]]));
    return defined({
      name: r.properties.name ?? (create ? physicalName(r) : undefined),
      ...from(o.fields),
      ...(create ? from(o.createFields ?? {}) : {}),
    });
  };
  return {
    type: o.type,
    description: `A resource for managing Keystone ${o.collection}.`,
    supportStatus: SUPPORTED,
    properties: o.properties,
    attributes: o.attributes ?? {},
    async create(r) {
      const got = await r.api<Json>('identity', 'POST', `/v3/${o.collection}`, { [o.singular]: body(r, true) }, [201]);
      r.physicalId = String((got[o.singular] as Json).id);
    },
    async update(r) {
      if (r.physicalId)
        await r.api(
          'identity',
          'PATCH',
          `/v3/${o.collection}/${r.physicalId}`,
          { [o.singular]: body(r, false) },
          [200],
        );
    },
    async delete(r) {
      if (r.physicalId) await r.api('identity', 'DELETE', `/v3/${o.collection}/${r.physicalId}`, undefined, [204, 404]);
    },
    async resolveAttributes(r) {
      if (!r.physicalId) return {};
      const got = (await r.api<Json>('identity', 'GET', `/v3/${o.collection}/${r.physicalId}`, undefined, [200]))[
        o.singular
      ] as Json;
      return { show: got, ...Object.fromEntries(Object.keys(o.attributes ?? {}).map((k) => [k, got[k] ?? null])) };
    },
  };
}

const KsProject = keystone({
  type: 'OS::Keystone::Project',
  collection: 'projects',
  singular: 'project',
  properties: {
    name: str('Name of keystone project.', { update_allowed: true }),
    domain: str('Name or id of keystone domain.', { default: 'default', update_allowed: true }),
    description: str('Description of keystone project.', { default: '', update_allowed: true }),
    enabled: bool('This project is enabled or disabled.', { default: true, update_allowed: true }),
    parent: str('The name or ID of parent of this keystone project in hierarchy.'),
    tags: {
      type: 'list',
      description: 'A list of tags for labeling and sorting projects.',
      default: [],
      update_allowed: true,
    },
  },
  attributes: {
    name: attr('Project name.', 'string'),
    is_domain: attr('Indicates whether the project also acts as a domain.', 'boolean'),
    parent_id: attr('The ID of the parent project.', 'string'),
    domain_id: attr('The ID of the domain.', 'string'),
    enabled: attr('Flag of enable project.', 'boolean'),
    description: attr('Description of project.', 'string'),
  },
  fields: { description: 'description', enabled: 'enabled', tags: 'tags' },
  createFields: { domain_id: 'domain', parent_id: 'parent' },
});

const KsUser = keystone({
  type: 'OS::Keystone::User',
  collection: 'users',
  singular: 'user',
  properties: {
    name: str('Name of keystone user.', { update_allowed: true }),
    domain: str('Name or ID of keystone domain.', { default: 'default', update_allowed: true }),
    description: str('Description of keystone user.', { default: '', update_allowed: true }),
    enabled: bool('Keystone user is enabled or disabled.', { default: true, update_allowed: true }),
    email: str('Email address of keystone user.', { update_allowed: true }),
    password: str('Password of keystone user.', { update_allowed: true }),
    default_project: str('Name or ID of default project of keystone user.', { update_allowed: true }),
  },
  attributes: {
    name: attr('User name.', 'string'),
    default_project_id: attr('Default project id for user.', 'string'),
    domain_id: attr('Domain id for user.', 'string'),
    enabled: attr('Flag of enable user.', 'boolean'),
    password_expires_at: attr('Show user password expiration time.', 'string'),
  },
  fields: {
    description: 'description',
    enabled: 'enabled',
    email: 'email',
    password: 'password',
    default_project_id: 'default_project',
  },
  createFields: { domain_id: 'domain' },
});

const KsRole = keystone({
  type: 'OS::Keystone::Role',
  collection: 'roles',
  singular: 'role',
  properties: {
    name: str('Name of keystone role.', { update_allowed: true }),
    domain: str('Name or id of keystone domain.'),
  },
  fields: {},
  createFields: { domain_id: 'domain' },
});

const KsGroup = keystone({
  type: 'OS::Keystone::Group',
  collection: 'groups',
  singular: 'group',
  properties: {
    name: str('Name of keystone group.', { update_allowed: true }),
    domain: str('Name or id of keystone domain.', { default: 'default', update_allowed: true }),
    description: str('Description of keystone group.', { default: '', update_allowed: true }),
  },
  fields: { description: 'description' },
  createFields: { domain_id: 'domain' },
});

const KsDomain = keystone({
  type: 'OS::Keystone::Domain',
  collection: 'domains',
  singular: 'domain',
  properties: {
    name: str('The name of the domain.', { update_allowed: true }),
    description: str('Description of keystone domain.', { update_allowed: true }),
    enabled: bool('This domain is enabled or disabled.', { default: true, update_allowed: true }),
  },
  fields: { description: 'description', enabled: 'enabled' },
});
// A domain must be disabled before it is deleted.
const ksDomainDelete = KsDomain.delete;
KsDomain.delete = async (r) => {
  if (r.physicalId)
    await r.api('identity', 'PATCH', `/v3/domains/${r.physicalId}`, { domain: { enabled: false } }, [200, 404]);
  await ksDomainDelete.call(KsDomain, r);
};

export const OPENSTACK_RESOURCES: ResourcePlugin[] = [
  Net,
  Subnet,
  Port,
  Router,
  RouterInterface,
  FloatingIP,
  FloatingIPAssociation,
  SecurityGroup,
  SecurityGroupRule,
  Trunk,
  ExtraRouteSet,
  KeyPair,
  Flavor,
  ServerGroup,
  Server,
  WebImage,
  Container,
  KsProject,
  KsUser,
  KsRole,
  KsGroup,
  KsDomain,
];
