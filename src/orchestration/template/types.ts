// The parsed template, environment and resolution context shared by the engine (branch heat) and the
// template language (this folder). See briefs/hot-interface.md.

export type ParameterType = 'string' | 'number' | 'json' | 'comma_delimited_list' | 'boolean';

export type Constraint =
  | { kind: 'length'; min?: number; max?: number; description?: string }
  | { kind: 'range'; min?: number; max?: number; description?: string }
  | { kind: 'modulo'; step: number; offset: number; description?: string }
  | { kind: 'allowed_values'; values: unknown[]; description?: string }
  | { kind: 'allowed_pattern'; pattern: string; description?: string }
  | { kind: 'custom_constraint'; name: string; description?: string };

export interface ParameterSchema {
  type: ParameterType;
  default?: unknown;
  label?: string;
  description?: string;
  hidden: boolean;
  constraints: Constraint[];
  immutable: boolean;
  tags: string[];
}

export interface ResourceDefinition {
  name: string;
  type: string;
  /** Unresolved snippet (may hold functions); {} when absent. */
  properties: unknown;
  metadata: unknown;
  depends_on: string[];
  /** 'Delete' | 'Retain' | 'Snapshot' when literal; a snippet when a function. */
  deletion_policy: unknown;
  update_policy: unknown;
  description: string;
  /** Condition name, boolean or condition snippet; undefined when none. */
  condition?: unknown;
  external_id?: unknown;
}

export interface OutputDefinition {
  value: unknown;
  description?: string;
  condition?: unknown;
}

export interface Template {
  /** '2018-08-31' for HOT (aliases canonicalised), 'cfn:2010-09-09' or 'heat:2012-12-12' for CFN. */
  version: string;
  kind: 'hot' | 'cfn';
  description: string;
  parameters: Record<string, ParameterSchema>;
  parameterGroups: unknown[];
  conditions: Record<string, unknown>;
  resources: Record<string, ResourceDefinition>;
  outputs: Record<string, OutputDefinition>;
  /** CFN Mappings (Fn::FindInMap); {} for HOT. */
  mappings: Record<string, unknown>;
  files: Record<string, string>;
  raw: Record<string, unknown>;
}

export interface Environment {
  parameters: Record<string, unknown>;
  parameter_defaults: Record<string, unknown>;
  resource_registry: Record<string, unknown>;
  event_sinks: unknown[];
  encrypted_param_names: string[];
  parameter_merge_strategies?: Record<string, unknown>;
}

/** null = the value passes, otherwise the message (e.g. 'Error validating value 'x': ...'). */
export type CustomConstraintChecker = (constraint: string, value: unknown) => Promise<string | null>;

export interface ResolveContext {
  params: Record<string, unknown>;
  conditions: Record<string, boolean>;
  /** The resource's reference id (FnGetRefId). */
  getResource(name: string): string | null;
  /**
   * The attribute value. `attr` is '' for get_attr with only a resource name (all attributes,
   * 2015-10-15+); the engine applies `path` (selectFromAttribute helps).
   */
  getAttr(name: string, attr: string, path: unknown[]): unknown;
  getFile(name: string): string | undefined;
  stack: { id: string; name: string; projectId: string; region: string };
  resourceFacade?(kind: 'metadata' | 'deletion_policy' | 'update_policy'): unknown;
  /** Fn::GetAZs; ['nova'] when absent. */
  availabilityZones?(): string[];
}
