// tempest.conf written from a running cloud: its credentials and its service catalog decide what
// Tempest tests (a service absent from the catalog is marked unavailable, so its tests skip).
import path from 'node:path';
import { DEVSTACK_NETWORK, type NetworkFacts } from './network.ts';
import { computeSections, type ComputeFacts } from './compute.ts';
import { LIBVIRT_COMPUTE_FEATURES, LIBVIRT_TWO_HOST_FEATURES, validationSections } from './libvirt.ts';

export interface CloudCredentials {
  authUrl: string;
  username: string;
  password: string;
  projectName: string;
  userDomainName: string;
  projectDomainName: string;
  regionName?: string;
}

export interface CatalogEndpoint {
  interface: string;
  url: string;
  region?: string | null;
  region_id?: string | null;
}

export interface CatalogEntry {
  type: string;
  name?: string;
  endpoints: CatalogEndpoint[];
}

/** Keystone's [security_compliance] as the cloud runs it; tempest must be told the same numbers. */
export interface SecurityCompliance {
  lockoutFailureAttempts: number;
  lockoutDuration: number;
  uniqueLastPasswordCount: number;
}

export interface TempestConfigInput {
  /** Absolute path of the tempest workspace (logs and locks go under it). */
  workspace: string;
  credentials: CloudCredentials;
  catalog: CatalogEntry[];
  /** Set when the cloud enforces lockout and password history (DevStack's gate does). */
  securityCompliance?: SecurityCompliance;
  /** The cloud's networking (extensions, the public network) when the catalog has `network`. */
  network?: NetworkFacts;
  /** The images and flavors made for tempest when the catalog has `compute`. */
  compute?: ComputeFacts;
  /**
   * The cloud runs with Stratus's secure RBAC switch: `true`/'all' (--secure-rbac) tells tempest
   * scope is enforced everywhere, identity included; 'gate' (--secure-rbac=gate) is Zed's gate
   * shape, where identity enforces neither scope nor the new defaults (see SecureRbacMode).
   */
  secureRbac?: boolean | SecureRbacMode;
  /** The cloud boots real guests (--driver libvirt): tempest SSHes into its servers. */
  realGuests?: boolean;
  /** With realGuests: how many libvirt compute hosts (2: tempest's migration tests run). */
  libvirtHosts?: number;
  /** `section.key = value` pairs applied last (the --set flag). */
  overrides?: Record<string, Record<string, string>>;
}

export type IniDocument = Map<string, Map<string, string>>;

/**
 * The harness's secure RBAC modes. 'all': every service enforces scope and the new defaults,
 * identity too, and tempest's admin is the system admin (Keystone's RBAC suite). 'gate': as Zed's
 * gate ran nova, neutron, glance and placement: the cloud's switch on but identity's
 * enforceScope/enforceNewDefaults off, tempest's admin the project admin as without the switch.
 */
export type SecureRbacMode = 'all' | 'gate';

/** The harness mode a `secureRbac` input names (true is 'all'), undefined when off. */
export function secureRbacMode(v: boolean | SecureRbacMode | undefined): SecureRbacMode | undefined {
  if (v === true) return 'all';
  return v || undefined;
}

/**
 * Catalog service type → tempest [service_available] option. Types a service may be registered
 * under in OpenStack (block-storage, volumev3, volume) map to the same option. Plugins register
 * their own options; an option tempest does not know is ignored by oslo.config.
 */
export const SERVICE_AVAILABLE: Record<string, string> = {
  compute: 'nova',
  network: 'neutron',
  image: 'glance',
  'block-storage': 'cinder',
  volumev3: 'cinder',
  volumev2: 'cinder',
  volume: 'cinder',
  'object-store': 'swift',
  orchestration: 'heat',
  metric: 'gnocchi',
  alarming: 'aodh',
  rca: 'vitrage',
  workflowv2: 'mistral',
  'load-balancer': 'load_balancer',
  dashboard: 'horizon',
  dns: 'designate',
  'key-manager': 'barbican',
  sharev2: 'manila',
  baremetal: 'ironic',
};

/** Options whose service has no catalog entry of its own but runs with another (Ceilometer feeds Gnocchi). */
const IMPLIED_AVAILABLE: Record<string, string> = { ceilometer: 'gnocchi' };

/** What Keystone Zed has on, as DevStack's gate configures tempest for it. */
export const IDENTITY_FEATURES: Record<string, boolean> = {
  trust: true,
  api_v2: false,
  api_v2_admin: false,
  api_v3: true,
  domain_specific_drivers: false,
  project_tags: true,
  application_credentials: true,
  access_rules: true,
  immutable_user_source: false,
  external_idp: false,
};

/** The identity v3 URI for tempest: the catalog's identity endpoint (public first) ending in /v3. */
export function identityUriV3(catalog: CatalogEntry[], fallbackAuthUrl: string, region?: string): string {
  const identity = catalog.find((s) => s.type === 'identity');
  const eps = identity?.endpoints ?? [];
  const inRegion = eps.filter((e) => !region || (e.region_id ?? e.region ?? region) === region);
  const pick = (list: CatalogEndpoint[]) => list.find((e) => e.interface === 'public') ?? list[0];
  const url = pick(inRegion)?.url ?? pick(eps)?.url ?? fallbackAuthUrl;
  const base = url.replace(/\/+$/, '');
  return /\/v3$/.test(base) ? base : `${base}/v3`;
}

/** A service's public endpoint URL in the region (any interface when there is no public one). */
function endpointOf(catalog: CatalogEntry[], type: string, region: string): string | undefined {
  const eps = catalog.find((s) => s.type === type)?.endpoints ?? [];
  const inRegion = eps.filter((e) => (e.region_id ?? e.region ?? region) === region);
  const list = inRegion.length ? inRegion : eps;
  return (list.find((e) => e.interface === 'public') ?? list[0])?.url;
}

function regionOf(catalog: CatalogEntry[], creds: CloudCredentials): string {
  if (creds.regionName) return creds.regionName;
  for (const s of catalog) for (const e of s.endpoints) if (e.region_id ?? e.region) return (e.region_id ?? e.region)!;
  return 'RegionOne';
}

/** Tempest's project networks, as its defaults and DevStack's gate have them. */
export const PROJECT_NETWORKS = { v4Cidr: '10.100.0.0/16', v4MaskBits: 28, v6Cidr: '2001:db8::/48', v6MaskBits: 64 };

/**
 * neutron-tempest-plugin's options for what Stratus's ML2 runs: type drivers flat and vxlan (no
 * VLAN provider networks), agents in availability zone `nova`; the base segmentation id is the gate's.
 */
export const NEUTRON_PLUGIN_OPTIONS: Record<string, string> = {
  available_type_drivers: 'flat,vxlan',
  provider_vlans: '',
  provider_net_base_segm_id: '1',
  agent_availability_zone: 'nova',
};

const b = (v: boolean) => (v ? 'True' : 'False');

export function buildTempestConfig(input: TempestConfigInput): IniDocument {
  const { workspace, credentials: c, catalog } = input;
  const types = new Set(catalog.map((s) => s.type));
  types.add('identity');
  const region = regionOf(catalog, c);
  const doc: IniDocument = new Map();
  const set = (section: string, key: string, value: string) => {
    if (/[\r\n]/.test(value)) throw new Error(`tempest.conf value for [${section}] ${key} has a line break`);
    let s = doc.get(section);
    if (!s) {
      s = new Map();
      doc.set(section, s);
    }
    s.set(key, value);
  };

  set('DEFAULT', 'log_dir', path.join(workspace, 'logs'));
  set('DEFAULT', 'log_file', 'tempest.log');
  set('DEFAULT', 'use_stderr', 'False');
  set('DEFAULT', 'debug', 'True');
  set('oslo_concurrency', 'lock_path', path.join(workspace, 'tempest_lock'));

  set('auth', 'use_dynamic_credentials', 'True');
  set('auth', 'admin_username', c.username);
  set('auth', 'admin_password', c.password);
  set('auth', 'admin_project_name', c.projectName);
  set('auth', 'admin_domain_name', c.userDomainName);
  set('auth', 'admin_user_domain_name', c.userDomainName);
  set('auth', 'admin_project_domain_name', c.projectDomainName);
  set('auth', 'default_credentials_domain_name', c.userDomainName);

  set('identity', 'uri_v3', identityUriV3(catalog, c.authUrl, region));
  set('identity', 'auth_version', 'v3');
  set('identity', 'region', region);
  set('identity', 'v3_endpoint_type', 'public');
  set('identity', 'admin_role', 'admin');
  set('identity', 'admin_domain_scope', 'False');
  set('identity', 'default_domain_id', 'default');
  const sc = input.securityCompliance;
  if (sc) {
    set('identity', 'user_lockout_failure_attempts', String(sc.lockoutFailureAttempts));
    set('identity', 'user_lockout_duration', String(sc.lockoutDuration));
    set('identity', 'user_unique_last_password_count', String(sc.uniqueLastPasswordCount));
  }

  for (const [k, v] of Object.entries(IDENTITY_FEATURES)) set('identity-feature-enabled', k, b(v));
  set('identity-feature-enabled', 'security_compliance', b(!!sc));

  set('enforce_scope', 'keystone', 'False');
  // What Stratus's Glance supports beyond tempest's defaults (interoperable import, os_glance_* reserved namespace).
  if (types.has('image')) {
    // Stratus's conformance cloud enforces scope in Glance, shows locations and caches images
    // (conformance/lib/stratus.ts), so the RBAC, location and cache tests run.
    set('enforce_scope', 'glance', 'True');
    set('image-feature-enabled', 'manage_locations', 'True');
    set('image', 'image_caching_enabled', 'True');
    // tempest's http_image is on the internet; the image service's own version document is an
    // anonymous HTTP resource with a size, which is all the http store and web-download need.
    const image = endpointOf(catalog, 'image', region);
    if (image) set('image', 'http_image', `${image.replace(/\/+$/, '')}/versions`);
    set('image-feature-enabled', 'import_image', 'True');
    set('image-feature-enabled', 'os_glance_reserved', 'True');
  }

  // The scenario tests' image_create uploads [scenario] img_file: main.ts writes a tiny qcow2 there.
  if (types.has('image')) {
    set('scenario', 'img_file', path.join(workspace, 'etc', 'scenario-img.qcow2'));
    set('scenario', 'img_disk_format', 'qcow2');
    set('scenario', 'img_container_format', 'bare');
  }

  if (types.has('network')) networkSections(set, input.network ?? { extensions: [] });
  // DevStack's fixed_network_name is its private network; here the `shared` one network.ts makes.
  if (types.has('compute'))
    computeSections(set, input.compute ?? {}, types.has('network') ? DEVSTACK_NETWORK.sharedNetworkName : undefined);
  // With the fake driver no server is reachable over SSH; real guests (--driver libvirt) are.
  if (input.realGuests && types.has('compute')) {
    validationSections(set, DEVSTACK_NETWORK.sharedNetworkName);
    for (const [k, v] of Object.entries(LIBVIRT_COMPUTE_FEATURES)) set('compute-feature-enabled', k, b(v));
    const hosts = input.libvirtHosts ?? 1;
    if (hosts > 1)
      for (const [k, v] of Object.entries(LIBVIRT_TWO_HOST_FEATURES)) set('compute-feature-enabled', k, b(v));
    set('compute', 'min_compute_nodes', String(hosts));
    // Features the network's proxy gives guests (tempest cannot discover them).
    set('network-feature-enabled', 'available_features', '');
  } else set('validation', 'run_validation', 'False');

  // heat_tempest_plugin logs in with its own static credentials ([heat_plugin]): the admin's.
  if (types.has('orchestration')) {
    set('heat_plugin', 'auth_url', identityUriV3(catalog, c.authUrl, region));
    set('heat_plugin', 'auth_version', '3');
    set('heat_plugin', 'username', c.username);
    set('heat_plugin', 'password', c.password);
    set('heat_plugin', 'project_name', c.projectName);
    set('heat_plugin', 'admin_username', c.username);
    set('heat_plugin', 'admin_password', c.password);
    set('heat_plugin', 'admin_project_name', c.projectName);
    set('heat_plugin', 'user_domain_name', c.userDomainName);
    set('heat_plugin', 'project_domain_name', c.projectDomainName);
    set('heat_plugin', 'region', region);
    set('heat_plugin', 'endpoint_type', 'public');
    set('heat_plugin', 'skip_scenario_tests', 'True');
    set('heat_plugin', 'convergence_engine_enabled', 'False');
    set('heat_plugin', 'stack_cancel', 'True');
    if (input.compute?.flavorRef) {
      set('heat_plugin', 'instance_type', input.compute.flavorRef);
      set('heat_plugin', 'minimal_instance_type', input.compute.flavorRef);
    }
    if (input.compute?.imageRef) {
      set('heat_plugin', 'image_ref', input.compute.imageRef);
      set('heat_plugin', 'minimal_image_ref', input.compute.imageRef);
    }
    if (types.has('network')) {
      set('heat_plugin', 'fixed_network_name', DEVSTACK_NETWORK.sharedNetworkName);
      set('heat_plugin', 'floating_network_name', DEVSTACK_NETWORK.publicNetworkName);
    }
  }

  const available = new Map<string, boolean>();
  for (const option of new Set(Object.values(SERVICE_AVAILABLE))) available.set(option, false);
  for (const t of types) {
    const o = SERVICE_AVAILABLE[t];
    if (o) available.set(o, true);
  }
  for (const [option, via] of Object.entries(IMPLIED_AVAILABLE)) available.set(option, available.get(via) ?? false);
  for (const [option, on] of [...available].sort(([x], [y]) => x.localeCompare(y)))
    set('service_available', option, b(on));

  // Tempest looks volumes up as volumev3 by default; follow the catalog when it uses another type.
  if (available.get('cinder') && !types.has('volumev3')) {
    const t = ['block-storage', 'volume', 'volumev2'].find((x) => types.has(x));
    if (t) set('volume', 'catalog_type', t);
  }
  // Stratus's Cinder: the `file` backend (src/block-storage), microversions 3.0-3.70; what it
  // does not do yet (a second backend) is off. Its snapshots are files `snapshot-<id>`.
  if (available.get('cinder')) {
    set('volume', 'storage_protocol', 'file');
    set('volume', 'vendor_name', 'Open Source');
    set('volume', 'min_microversion', '3.0');
    set('volume', 'max_microversion', '3.70');
    set('volume-feature-enabled', 'backup', 'True');
    set('volume-feature-enabled', 'volume_revert', 'True');
    set('volume-feature-enabled', 'manage_volume', 'True');
    set('volume-feature-enabled', 'manage_snapshot', 'True');
    set('volume', 'manage_volume_ref', 'source-name,volume-%s');
    set('volume', 'manage_snapshot_ref', 'source-name,snapshot-%s');
    set('volume-feature-enabled', 'extend_attached_volume', 'True');
    // Two `file` backends (stratus.ts), with migration between them.
    set('volume-feature-enabled', 'multi_backend', 'True');
    set('volume', 'backend_names', 'file,file2');
    // The consistency group API on generic groups (cinder_tempest_plugin).
    set('volume-feature-enabled', 'consistency_group', 'True');
  }

  // Secure RBAC (the gate's "enforce_scope" jobs): every service enforces scope types and the new
  // defaults, tempest's personas are system/domain/project admin/member/reader, keystone's RBAC
  // tests run (keystone_tempest_plugin reads [identity-feature-enabled] enforce_scope).
  const rbac = secureRbacMode(input.secureRbac);
  if (rbac === 'all') {
    for (const svc of ['keystone', 'nova', 'neutron', 'glance', 'placement', 'cinder'])
      set('enforce_scope', svc, 'True');
    set('identity-feature-enabled', 'enforce_scope', 'True');
    // As DevStack's enforce-scope jobs: tempest's admin is the system admin (clouds.yaml's
    // stratus-system). Tempest scopes a token to the project whenever a project name is set.
    set('auth', 'admin_system', 'all');
    for (const k of ['admin_project_name', 'admin_project_domain_name', 'admin_domain_name'])
      doc.get('auth')?.delete(k);
    // A system-scoped admin may not create a project's network (Neutron's rules are project
    // scoped): the tests' projects use the shared network instead of one of their own each.
    set('auth', 'create_isolated_networks', 'False');
  } else if (rbac === 'gate') {
    // Zed's gate: [oslo_policy] enforce_scope and enforce_new_defaults in nova, neutron, glance,
    // placement (and cinder, which the cloud's switch covers too), not in keystone, so tempest's
    // admin stays the project admin and keystone's RBAC tests do not run.
    for (const svc of ['nova', 'neutron', 'glance', 'placement', 'cinder']) set('enforce_scope', svc, 'True');
    set('enforce_scope', 'keystone', 'False');
    set('identity-feature-enabled', 'enforce_scope', 'False');
  }

  for (const [section, kv] of Object.entries(input.overrides ?? {}))
    for (const [k, v] of Object.entries(kv)) set(section, k, v);
  return doc;
}

/** [network], [network-feature-enabled], [neutron_plugin_options] as DevStack's lib/tempest writes them. */
function networkSections(set: (section: string, key: string, value: string) => void, net: NetworkFacts): void {
  const ext = new Set(net.extensions);
  set('network', 'project_network_cidr', PROJECT_NETWORKS.v4Cidr);
  set('network', 'project_network_mask_bits', String(PROJECT_NETWORKS.v4MaskBits));
  set('network', 'project_network_v6_cidr', PROJECT_NETWORKS.v6Cidr);
  set('network', 'project_network_v6_mask_bits', String(PROJECT_NETWORKS.v6MaskBits));
  set('network', 'project_networks_reachable', 'False');
  set('network', 'public_network_id', net.publicNetworkId ?? '');
  if (net.publicNetworkId) set('network', 'floating_network_name', DEVSTACK_NETWORK.publicNetworkName);
  set('network', 'public_router_id', '');
  set('network', 'default_network', DEVSTACK_NETWORK.fixedRange);
  set('network', 'shared_physical_network', 'False');

  // Exactly what the cloud lists (tempest's default 'all' would run tests of extensions it lacks).
  set('network-feature-enabled', 'api_extensions', [...ext].join(','));
  // Features not discoverable through the API (ipv6_metadata, ...): none, there is no metadata service.
  set('network-feature-enabled', 'available_features', '');
  set('network-feature-enabled', 'ipv6', 'True');
  set('network-feature-enabled', 'ipv6_subnet_attributes', 'True');
  set('network-feature-enabled', 'port_security', b(ext.has('port-security')));
  set('network-feature-enabled', 'floating_ips', b(ext.has('router')));

  for (const [k, v] of Object.entries(NEUTRON_PLUGIN_OPTIONS)) set('neutron_plugin_options', k, v);
  set('enforce_scope', 'neutron', 'False');
}

/** oslo.config's ini dialect: `key = value`, no quoting, no interpolation. */
export function renderIni(doc: IniDocument): string {
  const out: string[] = [];
  for (const [section, kv] of doc) {
    out.push(`[${section}]`);
    for (const [k, v] of kv) out.push(`${k} = ${v}`);
    out.push('');
  }
  return out.join('\n');
}

/** Parses `section.key=value` (the --set flag) into overrides. */
export function parseOverride(
  spec: string,
  into: Record<string, Record<string, string>> = {},
): Record<string, Record<string, string>> {
  const m = /^([^.=\s]+)\.([^=\s]+)=(.*)$/.exec(spec);
  if (!m) throw new Error(`--set wants section.key=value, got ${JSON.stringify(spec)}`);
  (into[m[1]!] ??= {})[m[2]!] = m[3]!;
  return into;
}
