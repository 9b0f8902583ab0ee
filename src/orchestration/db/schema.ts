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
  /** Convergence (migration 005): the traversal now running or last run; older traversals stop at their next check. */
  current_traversal?: string | null;
  /** Convergence: the traversal's graph (JSON: nodes `<resource id>:u|c`, edges [from, to]). */
  current_deps?: string | null;
  /** Convergence: the raw_template the current traversal converges to, and the one before it (rollback). */
  raw_template_id?: string | null;
  prev_raw_template_id?: string | null;
  /** 1: the stack is walked by the convergence engine. */
  convergence?: number | null;
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
  /** Convergence (migration 005): the engine working on the resource now (Heat's resource engine_id lock). */
  engine_id?: string | null;
  /** Convergence: the raw_template this resource was last converged to. */
  current_template_id?: string | null;
  /** Convergence: the names of the resources that depend on this one (JSON). */
  needed_by?: string | null;
  /** Convergence: update by replacement: the row this one replaces, and the row that replaced this one. */
  replaces?: string | null;
  replaced_by?: string | null;
}

/** Convergence: a stack's template, environment, files and parameters, as one traversal converges to. */
export interface RawTemplateTable {
  id: string;
  stack_id: string;
  template: string;
  environment: string;
  files: string;
  params: string;
  created_at: string;
}

/** Convergence: what one graph node of a traversal has received from its predecessors (Heat's sync_point). */
export interface SyncPointTable {
  entity_id: string;
  traversal_id: string;
  is_update: number;
  stack_id: string;
  atomic_key: number;
  /** The predecessor node keys received so far (JSON array). */
  input_data: string;
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
  deleted_at: string | null;
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
  raw_template: RawTemplateTable;
  sync_point: SyncPointTable;
}
