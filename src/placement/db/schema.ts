// The placement service's tables, as db/migrations.ts creates them: Kysely<PlacementDb>.
// Times are ISO-8601 text; `Generated` columns have a default and may be left out of an insert.
import type { Generated } from 'kysely';

export interface ResourceProviderTable {
  uuid: string;
  name: string;
  generation: Generated<number>;
  parent_uuid: string | null;
  root_uuid: string;
  created_at: string;
  updated_at: string;
}

export interface InventoryTable {
  rp_uuid: string;
  resource_class: string;
  total: number;
  reserved: number;
  min_unit: number;
  max_unit: number;
  step_size: number;
  allocation_ratio: number;
  created_at: string;
  updated_at: string;
}

export interface ProviderTraitTable {
  rp_uuid: string;
  trait: string;
}

export interface ProviderAggregateTable {
  rp_uuid: string;
  aggregate_uuid: string;
}

/** Custom resource classes only (the standard ones live in standard.ts); the same shape for traits. */
export interface NamedTable {
  name: string;
  created_at: string;
  updated_at: string;
}

export interface ConsumerTable {
  uuid: string;
  project_id: string;
  user_id: string;
  consumer_type: string | null;
  generation: Generated<number>;
  created_at: string;
  updated_at: string;
}

export interface AllocationTable {
  rp_uuid: string;
  consumer_uuid: string;
  resource_class: string;
  used: number;
  created_at: string;
  updated_at: string;
}

/** One row (id 1): bumped by every write of providers, inventories, traits and aggregates. */
export interface RevisionTable {
  id: number;
  revision: number;
}

export interface PlacementDb {
  resource_providers: ResourceProviderTable;
  inventories: InventoryTable;
  provider_traits: ProviderTraitTable;
  provider_aggregates: ProviderAggregateTable;
  resource_classes: NamedTable;
  traits: NamedTable;
  consumers: ConsumerTable;
  allocations: AllocationTable;
  placement_revision: RevisionTable;
}
