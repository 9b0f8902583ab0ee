// Placement's default policy (stable/zed, placement/policies/*.py; placement 8): each rule's new
// default (checkStr), its scope types and its deprecated predecessor (deprecatedCheckStr). With
// enforce_new_defaults off (Zed's default) oslo.policy or-s the two; `placement.policy.enforceNewDefaults`
// or the cloud-wide `secureRbac` applies only the new default. Override per rule in
// <policyDir>/placement.yaml.
import { type PolicyDefault, type RuleDefault, withDefault } from '../core/policy/index.ts';

// The defaults that several rules share.
const SYSTEM_ADMIN: RuleDefault = { checkStr: 'rule:system_admin_api', scopeTypes: ['system'] };
const SYSTEM_READER: RuleDefault = { checkStr: 'rule:system_reader_api', scopeTypes: ['system'] };

export const PLACEMENT_POLICIES: PolicyDefault[] = [
  { name: 'admin_api', checkStr: 'role:admin', scopeTypes: ['system'] },
  { name: 'system_admin_api', checkStr: 'role:admin and system_scope:all', deprecatedCheckStr: 'role:admin' },
  { name: 'system_reader_api', checkStr: 'role:reader and system_scope:all', deprecatedCheckStr: 'role:admin' },
  {
    name: 'project_reader_api',
    checkStr: 'role:reader and project_id:%(project_id)s',
    deprecatedCheckStr: 'role:admin',
  },
  {
    name: 'system_or_project_reader',
    checkStr: 'rule:system_reader_api or rule:project_reader_api',
    deprecatedCheckStr: 'role:admin',
  },
  ...withDefault(SYSTEM_READER, 'placement:resource_providers:list'),
  ...withDefault(SYSTEM_ADMIN, 'placement:resource_providers:create'),
  ...withDefault(SYSTEM_READER, 'placement:resource_providers:show'),
  ...withDefault(SYSTEM_ADMIN, 'placement:resource_providers:update', 'placement:resource_providers:delete'),
  ...withDefault(SYSTEM_READER, 'placement:resource_classes:list'),
  ...withDefault(SYSTEM_ADMIN, 'placement:resource_classes:create'),
  ...withDefault(SYSTEM_READER, 'placement:resource_classes:show'),
  ...withDefault(SYSTEM_ADMIN, 'placement:resource_classes:update', 'placement:resource_classes:delete'),
  ...withDefault(SYSTEM_READER, 'placement:resource_providers:inventories:list'),
  ...withDefault(SYSTEM_ADMIN, 'placement:resource_providers:inventories:create'),
  ...withDefault(SYSTEM_READER, 'placement:resource_providers:inventories:show'),
  ...withDefault(
    SYSTEM_ADMIN,
    'placement:resource_providers:inventories:update',
    'placement:resource_providers:inventories:delete',
  ),
  ...withDefault(SYSTEM_READER, 'placement:resource_providers:aggregates:list'),
  ...withDefault(SYSTEM_ADMIN, 'placement:resource_providers:aggregates:update'),
  ...withDefault(SYSTEM_READER, 'placement:resource_providers:usages'),
  { name: 'placement:usages', checkStr: 'rule:system_or_project_reader', scopeTypes: ['system', 'project'] },
  ...withDefault(SYSTEM_READER, 'placement:traits:list', 'placement:traits:show'),
  ...withDefault(SYSTEM_ADMIN, 'placement:traits:update', 'placement:traits:delete'),
  ...withDefault(SYSTEM_READER, 'placement:resource_providers:traits:list'),
  ...withDefault(
    SYSTEM_ADMIN,
    'placement:resource_providers:traits:update',
    'placement:resource_providers:traits:delete',
    'placement:allocations:manage',
  ),
  ...withDefault(SYSTEM_READER, 'placement:allocations:list'),
  ...withDefault(SYSTEM_ADMIN, 'placement:allocations:update', 'placement:allocations:delete'),
  ...withDefault(
    SYSTEM_READER,
    'placement:resource_providers:allocations:list',
    'placement:allocation_candidates:list',
  ),
  ...withDefault(SYSTEM_ADMIN, 'placement:reshaper:reshape'),
];
