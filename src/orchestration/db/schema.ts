// The orchestration service's tables (Heat's stack, resource, resource_data, event, snapshot,
// software_config, software_deployment, stack_lock, service), as db/migrations.ts creates them.
// JSON columns are text; times are ISO-8601 text.

export interface StackTable {
  id: string;
  name: string;
  project_id: string;
  user_id: string;
  username: string;
  /** The parent stack of a nested stack (Heat's owner_id), null for a top-level stack. */
  owner_id: string | null;
  /** The resource of the parent stack this nested stack implements. */
  parent_resource: string | null;
  action: string;
  status: string;
  status_reason: string;
  /** The template as given (JSON). */
  template: string;
  /** The environment as merged (JSON). */
  environment: string;
  /** The files given with the template (JSON). */
  files: string;
  /** The parameters the user gave (JSON); defaults come from the template and the environment. */
  params: string;
  disable_rollback: number;
  timeout_mins: number | null;
  tags: string;
  created_at: string;
  updated_at: string | null;
  deleted_at: string | null;
  /** The Keystone trust from the owner to the heat user (deferred auth); a nested stack shares its root's. */
  trust_id: string | null;
  /** The trust's trustor (the user who created the stack). */
  trustor_user_id: string | null;
  /** The stack domain's project of the stack's users (Heat's stack_user_project_id), on the root stack. */
  stack_user_project_id: string | null;
  /** deferred_auth_method = password: the owner's name, domain and password (JSON), Heat's user_creds. */
  user_creds: string | null;
}

export interface ResourceTable {
  id: string;
  stack_id: string;
  name: string;
  type: string;
  action: string;
  status: string;
  status_reason: string;
  physical_resource_id: string | null;
  /** The resolved properties the resource was last created or updated with (JSON). */
  properties: string;
  /** The attributes as last computed (JSON). */
  attributes: string;
  /** What the plugin keeps about its resource (Heat's resource_data) (JSON). */
  data: string;
  metadata: string;
  /** The names of the resources this one depends on (JSON). */
  requires: string;
  created_at: string;
  updated_at: string | null;
}

export interface EventTable {
  id: string;
  /** Order of the events of one stack (insertion order). */
  seq: number;
  stack_id: string;
  resource_name: string;
  physical_resource_id: string | null;
  resource_type: string;
  action: string;
  status: string;
  status_reason: string;
  created_at: string;
}

export interface SnapshotTable {
  id: string;
  stack_id: string;
  name: string | null;
  status: string;
  status_reason: string;
  data: string;
  created_at: string;
}

export interface SoftwareConfigTable {
  id: string;
  project_id: string;
  name: string;
  group: string;
  config: string;
  inputs: string;
  outputs: string;
  options: string;
  created_at: string;
}

export interface SoftwareDeploymentTable {
  id: string;
  project_id: string;
  config_id: string;
  server_id: string;
  input_values: string;
  output_values: string;
  action: string;
  status: string;
  status_reason: string;
  stack_user_project_id: string;
  created_at: string;
  updated_at: string | null;
}

export interface StackLockTable {
  stack_id: string;
  engine_id: string;
  created_at: string;
}

export interface EngineServiceTable {
  id: string;
  engine_id: string;
  host: string;
  hostname: string;
  binary: string;
  topic: string;
  report_interval: number;
  created_at: string;
  updated_at: string;
}

export interface OrchestrationDb {
  stack: StackTable;
  resource: ResourceTable;
  event: EventTable;
  snapshot: SnapshotTable;
  software_config: SoftwareConfigTable;
  software_deployment: SoftwareDeploymentTable;
  stack_lock: StackLockTable;
  service: EngineServiceTable;
}
