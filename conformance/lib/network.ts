// What DevStack creates in Neutron before tempest runs (lib/neutron_plugins/services/l3's
// create_neutron_initial_network and lib/tempest, Zed), done here over the REST API as the admin:
// the default subnet pools, the external flat network `public` with its IPv4 and IPv6 subnets,
// and the `shared` network. Existing resources (a cloud given with --url) are looked up by name
// and reused. A step the API refuses is a warning, not an error: the tests needing it skip or fail.
import type { CatalogEntry } from './tempest-config.ts';

/** DevStack's values (stackrc, lib/neutron_plugins/services/l3, lib/tempest). */
export const DEVSTACK_NETWORK = {
  publicNetworkName: 'public',
  publicPhysicalNetwork: 'public',
  publicSubnetName: 'public-subnet',
  floatingRange: '172.24.4.0/24',
  ipv6PublicSubnetName: 'ipv6-public-subnet',
  ipv6PublicRange: '2001:db8::/64',
  ipv6PublicGateway: '2001:db8::2',
  subnetPoolV4: { name: 'shared-default-subnetpool-v4', prefix: '10.0.0.0/22', size: 26 },
  // DevStack draws a random RFC 4193 global id (fd<id>::/56); a fixed one here.
  subnetPoolV6: { name: 'shared-default-subnetpool-v6', prefix: 'fd6c:3f1e:94a2::/56', size: 64 },
  sharedNetworkName: 'shared',
  sharedSubnetName: 'shared-subnet',
  sharedSubnetRange: '192.168.233.0/24',
  /** --secure-rbac only: the router of the shared network (gateway on `public`). */
  sharedRouterName: 'router-shared',
  /** FIXED_RANGE (IPV4_ADDRS_SAFE_TO_USE): tempest's [network] default_network. */
  fixedRange: '10.0.0.0/22',
} as const;

/** What the tempest configuration needs to know of the cloud's networking. */
export interface NetworkFacts {
  /** Aliases of GET /v2.0/extensions, as the cloud answers them. */
  extensions: string[];
  publicNetworkId?: string;
}

/** The network endpoint (public first, in the region if given), without a trailing slash. */
export function networkEndpoint(catalog: CatalogEntry[], region?: string): string | undefined {
  const eps = catalog.find((s) => s.type === 'network')?.endpoints ?? [];
  const inRegion = eps.filter((e) => !region || (e.region_id ?? e.region ?? region) === region);
  const list = inRegion.length ? inRegion : eps;
  const ep = list.find((e) => e.interface === 'public') ?? list[0];
  return ep?.url.replace(/\/+$/, '');
}

export interface PrepareNetworkOptions {
  /** The network endpoint from the catalog (…/networking); /v2.0 is added. */
  endpoint: string;
  /** An admin token (project scope). */
  token: string;
  log: (s: string) => void;
  timeoutMs?: number;
  /**
   * Also route the shared network to the public one (a router with the external gateway and an
   * interface on shared-subnet). For --secure-rbac, where tempest's projects get no network of
   * their own (create_isolated_networks off) and use the shared one: without a router, the tests
   * that attach a floating IP or route out of it would fail only in that mode.
   */
  sharedRouter?: boolean;
  /** The public subnet's range (default DevStack's 172.24.4.0/24; a linuxbridge run's own, public-range.ts). */
  floatingRange?: string;
}

class Refused extends Error {}

/** A JSON object as the network API answers it (its shape open: narrowed where read). */
type JsonObject = Record<string, unknown>;

/** A Neutron resource of an answer: what this file reads of it is its id. */
interface NeutronResource extends JsonObject {
  id: string;
  name?: string;
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const isResource = (v: unknown): v is NeutronResource => isObject(v) && typeof v.id === 'string';
const asObject = (v: unknown): JsonObject => (isObject(v) ? v : {});

/** Creates what DevStack creates (unless it exists) and returns what tempest.conf needs. */
export async function prepareNetwork(o: PrepareNetworkOptions): Promise<NetworkFacts> {
  const base = `${o.endpoint.replace(/\/+$/, '')}/v2.0`;
  const warn = (s: string) => o.log(`warning: ${s}`);
  const call = async (method: string, path: string, body?: unknown): Promise<JsonObject> => {
    const res = await fetch(base + path, {
      method,
      headers: {
        'X-Auth-Token': o.token,
        accept: 'application/json',
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(o.timeoutMs ?? 30_000),
    });
    const text = await res.text();
    if (res.status >= 300)
      throw new Refused(`${method} /v2.0${path} answered ${res.status}: ${text.replace(/\s+/g, ' ').slice(0, 300)}`);
    return text ? asObject(JSON.parse(text)) : {};
  };
  /** The resources of a list answer (`{<plural>: [...]}`), those with an id. */
  const listOf = (answer: JsonObject, plural: string): NeutronResource[] => {
    const items = answer[plural];
    return Array.isArray(items) ? items.filter(isResource) : [];
  };
  /** The resource named `name` (of `plural`, with `filter`), created with `body` when there is none. */
  const ensure = async (
    singular: string,
    plural: string,
    name: string,
    body: JsonObject,
    filter = '',
  ): Promise<NeutronResource | undefined> => {
    const found = listOf(await call('GET', `/${plural}?name=${encodeURIComponent(name)}${filter}`), plural);
    if (found.length) return found[0];
    const created = (await call('POST', `/${plural}`, { [singular]: { name, ...body } }))[singular];
    if (!isResource(created)) {
      warn(`${singular} ${name}: the answer to its creation has no id`);
      return undefined;
    }
    o.log(`created ${singular} ${name} (${created.id})`);
    return created;
  };
  const step = async <T>(what: string, fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (e) {
      warn(`${what}: ${(e as Error).message}`);
      return undefined;
    }
  };

  const D = DEVSTACK_NETWORK;
  const facts: NetworkFacts = { extensions: [] };
  const listed = await step('listing the extensions', () => call('GET', '/extensions'));
  const extensions = listed?.extensions;
  facts.extensions = (Array.isArray(extensions) ? extensions : [])
    .map((e: unknown) => (isObject(e) ? e.alias : undefined))
    .filter((a): a is string => typeof a === 'string');
  const has = (alias: string) => facts.extensions.includes(alias);

  // `openstack subnet pool create --share [--default]`, one per IP version.
  if (has('subnet_allocation')) {
    for (const pool of [D.subnetPoolV4, D.subnetPoolV6]) {
      await step(`subnet pool ${pool.name}`, () =>
        ensure('subnetpool', 'subnetpools', pool.name, {
          prefixes: [pool.prefix],
          default_prefixlen: pool.size,
          shared: true,
          ...(has('default-subnetpools') ? { is_default: true } : {}),
        }),
      );
    }
  } else {
    warn('the cloud has no subnet_allocation extension: no default subnet pools');
  }

  if (!has('external-net')) {
    warn('the cloud has no external-net extension: no public network (tests needing one skip)');
    return facts;
  }
  const pub = await step(`network ${D.publicNetworkName}`, () =>
    ensure('network', 'networks', D.publicNetworkName, {
      'router:external': true,
      ...(has('provider')
        ? { 'provider:network_type': 'flat', 'provider:physical_network': D.publicPhysicalNetwork }
        : {}),
      // DevStack's `--default` when auto-allocated-topology is there.
      ...(has('auto-allocated-topology') ? { is_default: true } : {}),
    }),
  );
  if (pub?.id) {
    facts.publicNetworkId = pub.id;
    const onPublic = `&network_id=${pub.id}`;
    // No gateway, no allocation pool given: the cloud picks .1 and .2-.254 as Neutron does.
    await step(`subnet ${D.publicSubnetName}`, () =>
      ensure(
        'subnet',
        'subnets',
        D.publicSubnetName,
        {
          network_id: pub.id,
          ip_version: 4,
          cidr: o.floatingRange ?? D.floatingRange,
          enable_dhcp: false,
        },
        onPublic,
      ),
    );
    await step(`subnet ${D.ipv6PublicSubnetName}`, () =>
      ensure(
        'subnet',
        'subnets',
        D.ipv6PublicSubnetName,
        {
          network_id: pub.id,
          ip_version: 6,
          cidr: D.ipv6PublicRange,
          gateway_ip: D.ipv6PublicGateway,
          enable_dhcp: false,
        },
        onPublic,
      ),
    );
  }

  // lib/tempest: "make sure shared network presence does not confuses the tempest tests".
  const shared = await step(`network ${D.sharedNetworkName}`, () =>
    ensure('network', 'networks', D.sharedNetworkName, { shared: true }),
  );
  if (shared?.id) {
    await step(`subnet ${D.sharedSubnetName}`, () =>
      ensure(
        'subnet',
        'subnets',
        D.sharedSubnetName,
        {
          network_id: shared.id,
          ip_version: 4,
          cidr: D.sharedSubnetRange,
          description: 'shared-subnet',
        },
        `&network_id=${shared.id}`,
      ),
    );
  }
  const sharedSubnet = shared?.id
    ? await step('looking up the shared subnet', () =>
        call('GET', `/subnets?name=${D.sharedSubnetName}&network_id=${shared.id}`).then((r) => listOf(r, 'subnets')[0]),
      )
    : undefined;
  if (o.sharedRouter && pub?.id && shared && sharedSubnet?.id && has('router')) {
    const router = await step(`router ${D.sharedRouterName}`, () =>
      ensure('router', 'routers', D.sharedRouterName, { external_gateway_info: { network_id: pub.id } }),
    );
    if (router?.id) {
      const ports = await step('the shared router interfaces', () =>
        call('GET', `/ports?device_id=${router.id}&network_id=${shared.id}`),
      );
      if (!ports || !listOf(ports, 'ports').length)
        await step(`router ${D.sharedRouterName}: interface on ${D.sharedSubnetName}`, () =>
          call('PUT', `/routers/${router.id}/add_router_interface`, { subnet_id: sharedSubnet.id }),
        );
    }
  }
  return facts;
}
