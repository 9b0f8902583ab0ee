// Gnocchi's index tables, as db/migrations.ts creates them: Kysely<MetricDb>. The measures
// themselves are not here but in the measure store's files (storage.ts). JSON columns are text.

export interface ArchivePolicyTable {
  name: string;
  back_window: number;
  /** JSON: [{granularity, points, timespan}] in seconds (points/timespan null when unbounded). */
  definition: string;
  /** JSON: the expanded list of aggregation methods. */
  aggregation_methods: string;
}

export interface ArchivePolicyRuleTable {
  name: string;
  metric_pattern: string;
  archive_policy_name: string;
}

export interface ResourceTypeTable {
  name: string;
  /** JSON: {attribute: {type, required, ...}}. */
  attributes: string;
  state: string;
}

export interface ResourceTable {
  id: string;
  type: string;
  original_resource_id: string;
  project_id: string | null;
  user_id: string | null;
  creator: string;
  started_at: string;
  ended_at: string | null;
  revision_start: string;
  /** JSON: the type's own attributes. */
  attributes: string;
}

/** A resource as it was until revision_end (gnocchi's ResourceHistory: the resource's columns and that). */
export interface ResourceHistoryTable extends ResourceTable {
  revision_end: string;
}

export interface MetricTable {
  id: string;
  archive_policy_name: string;
  name: string | null;
  unit: string | null;
  resource_id: string | null;
  creator: string;
  created_at: string;
}

export interface MetricDb {
  archive_policies: ArchivePolicyTable;
  archive_policy_rules: ArchivePolicyRuleTable;
  resource_types: ResourceTypeTable;
  resources: ResourceTable;
  resource_history: ResourceHistoryTable;
  metrics: MetricTable;
}
