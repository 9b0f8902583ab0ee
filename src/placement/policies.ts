// Placement's default policy (stable/zed, placement/policies/*.py; placement 8): each rule's new
// default (checkStr), its scope types and its deprecated predecessor (deprecatedCheckStr). With
// enforce_new_defaults off (Zed's default) oslo.policy or-s the two; `placement.policy.enforceNewDefaults`
// or the cloud-wide `secureRbac` applies only the new default. Override per rule in
// <policyDir>/placement.yaml.
import type { PolicyDefault } from '../core/policy/index.ts';

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
  { name: 'placement:resource_providers:list', checkStr: 'rule:system_reader_api', scopeTypes: ['system'] },
  { name: 'placement:resource_providers:create', checkStr: 'rule:system_admin_api', scopeTypes: ['system'] },
  { name: 'placement:resource_providers:show', checkStr: 'rule:system_reader_api', scopeTypes: ['system'] },
  { name: 'placement:resource_providers:update', checkStr: 'rule:system_admin_api', scopeTypes: ['system'] },
  { name: 'placement:resource_providers:delete', checkStr: 'rule:system_admin_api', scopeTypes: ['system'] },
  { name: 'placement:resource_classes:list', checkStr: 'rule:system_reader_api', scopeTypes: ['system'] },
  { name: 'placement:resource_classes:create', checkStr: 'rule:system_admin_api', scopeTypes: ['system'] },
  { name: 'placement:resource_classes:show', checkStr: 'rule:system_reader_api', scopeTypes: ['system'] },
  { name: 'placement:resource_classes:update', checkStr: 'rule:system_admin_api', scopeTypes: ['system'] },
  { name: 'placement:resource_classes:delete', checkStr: 'rule:system_admin_api', scopeTypes: ['system'] },
  { name: 'placement:resource_providers:inventories:list', checkStr: 'rule:system_reader_api', scopeTypes: ['system'] },
  {
    name: 'placement:resource_providers:inventories:create',
    checkStr: 'rule:system_admin_api',
    scopeTypes: ['system'],
  },
  { name: 'placement:resource_providers:inventories:show', checkStr: 'rule:system_reader_api', scopeTypes: ['system'] },
  {
    name: 'placement:resource_providers:inventories:update',
    checkStr: 'rule:system_admin_api',
    scopeTypes: ['system'],
  },
  {
    name: 'placement:resource_providers:inventories:delete',
    checkStr: 'rule:system_admin_api',
    scopeTypes: ['system'],
  },
  { name: 'placement:resource_providers:aggregates:list', checkStr: 'rule:system_reader_api', scopeTypes: ['system'] },
  { name: 'placement:resource_providers:aggregates:update', checkStr: 'rule:system_admin_api', scopeTypes: ['system'] },
  { name: 'placement:resource_providers:usages', checkStr: 'rule:system_reader_api', scopeTypes: ['system'] },
  { name: 'placement:usages', checkStr: 'rule:system_or_project_reader', scopeTypes: ['system', 'project'] },
  { name: 'placement:traits:list', checkStr: 'rule:system_reader_api', scopeTypes: ['system'] },
  { name: 'placement:traits:show', checkStr: 'rule:system_reader_api', scopeTypes: ['system'] },
  { name: 'placement:traits:update', checkStr: 'rule:system_admin_api', scopeTypes: ['system'] },
  { name: 'placement:traits:delete', checkStr: 'rule:system_admin_api', scopeTypes: ['system'] },
  { name: 'placement:resource_providers:traits:list', checkStr: 'rule:system_reader_api', scopeTypes: ['system'] },
  { name: 'placement:resource_providers:traits:update', checkStr: 'rule:system_admin_api', scopeTypes: ['system'] },
  { name: 'placement:resource_providers:traits:delete', checkStr: 'rule:system_admin_api', scopeTypes: ['system'] },
  { name: 'placement:allocations:manage', checkStr: 'rule:system_admin_api', scopeTypes: ['system'] },
  { name: 'placement:allocations:list', checkStr: 'rule:system_reader_api', scopeTypes: ['system'] },
  { name: 'placement:allocations:update', checkStr: 'rule:system_admin_api', scopeTypes: ['system'] },
  { name: 'placement:allocations:delete', checkStr: 'rule:system_admin_api', scopeTypes: ['system'] },
  { name: 'placement:resource_providers:allocations:list', checkStr: 'rule:system_reader_api', scopeTypes: ['system'] },
  { name: 'placement:allocation_candidates:list', checkStr: 'rule:system_reader_api', scopeTypes: ['system'] },
  { name: 'placement:reshaper:reshape', checkStr: 'rule:system_admin_api', scopeTypes: ['system'] },
];
