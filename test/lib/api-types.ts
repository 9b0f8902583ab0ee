// The answer shapes that many tests read: only the fields the tests look at, as the APIs send
// them (snake_case, OpenStack's extension prefixes). A test reads `body.x.map((s: ApiServer) => …)`
// with these instead of `any`; a shape one test alone reads stays in that test.

/** A JSON object whose fields a test reads one by one (and so narrows or compares as `unknown`). */
export type JsonObject = Record<string, unknown>;

/** Anything with an id (most OpenStack resources). */
export interface WithId {
  id: string;
}

/** Anything with a name. */
export interface WithName {
  name: string;
}

// ---- compute (Nova) ----

/** An address of a server (`addresses.<network>[]`). */
export interface ServerAddress {
  addr: string;
  version?: number;
  'OS-EXT-IPS:type'?: 'fixed' | 'floating';
  'OS-EXT-IPS-MAC:mac_addr'?: string;
}

export interface ApiServer {
  id: string;
  name: string;
  status: string;
  fault?: { code: number; message: string; details?: string };
  addresses: Record<string, ServerAddress[]>;
  /** The flavor as 2.47 and later embed it. */
  flavor: { original_name?: string; id?: string; [field: string]: unknown };
  /** '' for a server booted from a volume. */
  image: { id: string } | '';
  'OS-EXT-STS:task_state'?: string | null;
  'OS-EXT-STS:vm_state'?: string;
  'OS-EXT-STS:power_state'?: number;
  'OS-EXT-SRV-ATTR:host'?: string | null;
  'OS-EXT-SRV-ATTR:instance_name'?: string;
  [field: string]: unknown;
}

export interface ApiFlavor {
  id: string;
  name: string;
  ram: number;
  vcpus: number;
  disk: number;
  [field: string]: unknown;
}

/** An instance action (`os-instance-actions`). */
export interface InstanceAction {
  action: string;
  request_id: string;
  instance_uuid?: string;
  events?: ActionEvent[];
}

export interface ActionEvent {
  event: string;
  result: string | null;
}

/** A compute service (`os-services`). */
export interface ComputeServiceRow {
  id: string | number;
  binary: string;
  host: string;
  zone: string;
  status: string;
  state: string;
  [field: string]: unknown;
}

export interface Hypervisor {
  id: string | number;
  hypervisor_hostname: string;
  service: { host: string; id?: string | number };
  [field: string]: unknown;
}

/** A migration (`os-migrations`, `servers/{id}/migrations`). */
export interface Migration {
  id: number | string;
  uuid: string;
  status: string;
  migration_type: string;
  source_compute?: string;
  dest_compute?: string;
  memory_total_bytes?: number | null;
  [field: string]: unknown;
}

// ---- networking (Neutron) ----

export interface FixedIp {
  subnet_id: string;
  ip_address: string;
}

export interface ApiPort {
  id: string;
  name: string;
  network_id: string;
  device_id: string;
  fixed_ips: FixedIp[];
  security_groups: string[];
  [field: string]: unknown;
}

export interface SecurityGroupRule {
  id: string;
  security_group_id: string;
  direction: 'ingress' | 'egress';
  ethertype: 'IPv4' | 'IPv6';
  protocol: string | null;
  remote_group_id: string | null;
  [field: string]: unknown;
}

export interface SecurityGroup {
  id: string;
  name: string;
  tenant_id: string;
  project_id?: string;
  security_group_rules: SecurityGroupRule[];
  [field: string]: unknown;
}

// ---- identity (Keystone) ----

/** A role as a token or an application credential lists it. */
export interface RoleRef {
  id: string;
  name: string;
}

/** A service of a token's catalog. */
export interface CatalogEntry {
  type: string;
  name?: string;
  endpoints: Array<{ id: string; interface: string; region?: string; url: string }>;
}

export interface ApiProject {
  id: string;
  name: string;
  domain_id: string;
  [field: string]: unknown;
}

// ---- image (Glance) ----

export interface ApiImage {
  id: string;
  name: string | null;
  status: string;
  size?: number | null;
  checksum?: string | null;
  os_hash_value?: string | null;
  [field: string]: unknown;
}

/** An image task (`/v2/tasks`, `/v2/images/{id}/tasks`). */
export interface ImageTask {
  id: string;
  type?: string;
  status: string;
  message?: string;
  expires_at?: string | null;
  result?: { image_id?: string } | null;
  request_id?: string;
  input?: { image_id?: string; import_req?: { method?: { name?: string } } };
  [field: string]: unknown;
}
