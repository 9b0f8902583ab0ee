// The tables compute owns, as the code reads and writes them on both engines (the migrations in
// db/migrations/ create them): `Kysely<ComputeDb>` makes a misspelt table or column a compile error.
// Booleans are integers 0/1 (core/db.ts bool()/int()), timestamps ISO strings, JSON columns text.
import type { ColumnType, Generated } from 'kysely';

/** A boolean stored as an integer (0/1) so that SQLite and PostgreSQL read back the same. */
export type IntBool = number;
/** A column with a default that inserts may leave out. */
type Defaulted<T> = Generated<T>;
/** An ISO-8601 timestamp, stored as varchar(32). */
type Timestamp = string;
/** JSON, stored as text (core/db.ts json()). */
type JsonText = string;
/** A PostgreSQL bigint comes back as a string (node-postgres keeps int8 exact); SQLite gives a number. */
type BigIntColumn = ColumnType<number | string | null, number | null | undefined, number | null>;

// ---- servers family (db/migrations/servers.ts) ----------------------------------------------

export interface InstancesTable {
  uuid: string;
  display_name: string;
  display_description: string | null;
  project_id: string;
  user_id: string;
  image_ref: string | null;
  flavor: JsonText;
  host: string | null;
  node: string | null;
  availability_zone: string | null;
  vm_state: string;
  task_state: string | null;
  power_state: Defaulted<number>;
  key_name: string | null;
  key_data: string | null;
  user_data: string | null;
  config_drive: string | null;
  access_ip_v4: string | null;
  access_ip_v6: string | null;
  metadata: JsonText;
  system_metadata: JsonText;
  security_groups: JsonText;
  requested_networks: JsonText;
  network_info: JsonText;
  fault: JsonText | null;
  locked: Defaulted<IntBool>;
  locked_by: string | null;
  locked_reason: string | null;
  hostname: string | null;
  launch_index: Defaulted<number>;
  reservation_id: string;
  progress: Defaulted<number>;
  trusted_certs: JsonText | null;
  launched_at: Timestamp | null;
  terminated_at: Timestamp | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  deleted_at: Timestamp | null;
  deleted: Defaulted<IntBool>;
  // 003_instance_resources: the flavor's sizes repeated as columns (Nova's instances columns).
  vcpus: Defaulted<number>;
  memory_mb: Defaulted<number>;
  root_gb: Defaulted<number>;
  ephemeral_gb: Defaulted<number>;
}

export interface InstanceTagsTable {
  instance_uuid: string;
  tag: string;
}

export interface InstanceActionsTable {
  id: Generated<number>;
  instance_uuid: string;
  action: string;
  request_id: string;
  user_id: string | null;
  project_id: string | null;
  start_time: Timestamp;
  finish_time: Timestamp | null;
  message: string | null;
  updated_at: Timestamp;
}

export interface InstanceActionEventsTable {
  id: Generated<number>;
  action_id: number;
  event: string;
  start_time: Timestamp;
  finish_time: Timestamp | null;
  result: string | null;
  traceback: string | null;
  host: string | null;
  details: string | null;
}

export interface ServicesTable {
  id: Generated<number>;
  uuid: string;
  host: string;
  binary: string;
  topic: string | null;
  disabled: Defaulted<IntBool>;
  disabled_reason: string | null;
  forced_down: Defaulted<IntBool>;
  report_count: Defaulted<number>;
  last_seen_up: Timestamp | null;
  version: Defaulted<number>;
  created_at: Timestamp;
  updated_at: Timestamp | null;
  deleted: Defaulted<IntBool>;
}

export interface ComputeNodesTable {
  id: Generated<number>;
  uuid: string;
  service_id: number | null;
  host: string;
  hypervisor_hostname: string;
  hypervisor_type: string;
  hypervisor_version: number;
  host_ip: string | null;
  vcpus: number;
  memory_mb: number;
  local_gb: number;
  vcpus_used: Defaulted<number>;
  memory_mb_used: Defaulted<number>;
  local_gb_used: Defaulted<number>;
  running_vms: Defaulted<number>;
  cpu_info: JsonText | null;
  cpu_allocation_ratio: number;
  ram_allocation_ratio: number;
  disk_allocation_ratio: number;
  created_at: Timestamp;
  updated_at: Timestamp | null;
  deleted: Defaulted<IntBool>;
}

// ---- flavors family ---------------------------------------------------------------------------

export interface FlavorsTable {
  /** Nova's internal id (instance_type_id); the public id is flavorid. */
  id: Generated<number>;
  flavorid: string;
  name: string;
  memory_mb: number;
  vcpus: number;
  root_gb: number;
  ephemeral_gb: number;
  swap: number;
  rxtx_factor: number;
  vcpu_weight: number | null;
  disabled: Defaulted<IntBool>;
  is_public: Defaulted<IntBool>;
  description: string | null;
  created_at: Timestamp;
  updated_at: Timestamp | null;
}

export interface FlavorExtraSpecsTable {
  flavorid: string;
  key: string;
  value: string;
}

export interface FlavorProjectsTable {
  flavorid: string;
  project_id: string;
}

// ---- keypairs family --------------------------------------------------------------------------

export interface KeyPairsTable {
  id: Generated<number>;
  name: string;
  user_id: string;
  fingerprint: string;
  public_key: string;
  type: string;
  created_at: Timestamp;
  updated_at: Timestamp | null;
}

// ---- quotas family ----------------------------------------------------------------------------

export interface QuotasTable {
  project_id: string;
  resource: string;
  hard_limit: number;
}

export interface ProjectUserQuotasTable {
  project_id: string;
  user_id: string;
  resource: string;
  hard_limit: number;
}

export interface QuotaClassesTable {
  class_name: string;
  resource: string;
  hard_limit: number;
}

// ---- server groups family ---------------------------------------------------------------------

export interface ServerGroupsTable {
  id: Generated<number>;
  uuid: string;
  name: string | null;
  project_id: string;
  user_id: string;
  policy: string;
  rules: JsonText;
  created_at: Timestamp;
  updated_at: Timestamp | null;
}

export interface ServerGroupMembersTable {
  group_uuid: string;
  instance_uuid: string;
  created_at: Timestamp;
}

// ---- aggregates family ------------------------------------------------------------------------

export interface AggregatesTable {
  id: Generated<number>;
  uuid: string;
  name: string;
  created_at: Timestamp;
  updated_at: Timestamp | null;
}

export interface AggregateHostsTable {
  aggregate_id: number;
  host: string;
}

export interface AggregateMetadataTable {
  aggregate_id: number;
  key: string;
  value: string;
}

// ---- remote consoles family -------------------------------------------------------------------

export interface ConsoleAuthTokensTable {
  /** sha256 of the token, hex: the token itself is never stored. */
  token_hash: string;
  console_type: string;
  host: string;
  port: number;
  internal_access_path: string | null;
  instance_uuid: string;
  access_url_base: string | null;
  /** Unix time, seconds. */
  expires: number;
  created_at: Timestamp;
}

// ---- migrations family (Nova's `migrations` table: moves of servers) -------------------------

export interface MigrationsTable {
  id: Generated<number>;
  uuid: string;
  instance_uuid: string;
  migration_type: string;
  status: string;
  source_compute: string | null;
  source_node: string | null;
  dest_compute: string | null;
  dest_node: string | null;
  dest_host: string | null;
  old_instance_type_id: number | null;
  new_instance_type_id: number | null;
  old_flavor: JsonText | null;
  new_flavor: JsonText | null;
  /** The vm_state before the move (Nova's system_metadata old_vm_state), to come back to. */
  old_vm_state: string | null;
  memory_total: BigIntColumn;
  memory_processed: BigIntColumn;
  memory_remaining: BigIntColumn;
  disk_total: BigIntColumn;
  disk_processed: BigIntColumn;
  disk_remaining: BigIntColumn;
  hidden: Defaulted<IntBool>;
  cross_cell_move: Defaulted<IntBool>;
  user_id: string | null;
  project_id: string | null;
  created_at: Timestamp;
  updated_at: Timestamp | null;
  deleted_at: Timestamp | null;
  deleted: Defaulted<IntBool>;
}

/** Every table of the compute database. */
export interface ComputeDb {
  instances: InstancesTable;
  instance_tags: InstanceTagsTable;
  instance_actions: InstanceActionsTable;
  instance_action_events: InstanceActionEventsTable;
  services: ServicesTable;
  compute_nodes: ComputeNodesTable;
  flavors: FlavorsTable;
  flavor_extra_specs: FlavorExtraSpecsTable;
  flavor_projects: FlavorProjectsTable;
  key_pairs: KeyPairsTable;
  quotas: QuotasTable;
  project_user_quotas: ProjectUserQuotasTable;
  quota_classes: QuotaClassesTable;
  server_groups: ServerGroupsTable;
  server_group_members: ServerGroupMembersTable;
  aggregates: AggregatesTable;
  aggregate_hosts: AggregateHostsTable;
  aggregate_metadata: AggregateMetadataTable;
  console_auth_tokens: ConsoleAuthTokensTable;
  migrations: MigrationsTable;
  block_device_mapping: BlockDeviceMappingTable;
}

// ---- volumes family (db/migrations/volumes.ts) ----------------------------------------------

export interface BlockDeviceMappingTable {
  id: Generated<number>;
  uuid: string;
  instance_uuid: string;
  source_type: string;
  destination_type: string;
  boot_index: number | null;
  device_name: string | null;
  device_type: string | null;
  disk_bus: string | null;
  guest_format: string | null;
  volume_id: string | null;
  snapshot_id: string | null;
  image_id: string | null;
  volume_size: number | null;
  volume_type: string | null;
  delete_on_termination: Defaulted<IntBool>;
  tag: string | null;
  attachment_id: string | null;
  connection_info: JsonText | null;
  created_at: Timestamp;
  updated_at: Timestamp | null;
  deleted: Defaulted<IntBool>;
}
