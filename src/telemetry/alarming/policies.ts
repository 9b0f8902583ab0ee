// Aodh's default policy (Zed, aodh/api/policies.py; aodh 15): each rule's new default (checkStr),
// its scope types and its deprecated predecessor (deprecatedCheckStr). With enforce_new_defaults
// off (Zed's default) oslo.policy or-s the two; `alarming.policy.enforceNewDefaults` or the
// cloud-wide `secureRbac` applies only the new default. Override per rule in <policyDir>/alarming.yaml.
import type { PolicyDefault } from '../../core/policy/index.ts';

export const ALARMING_POLICIES: PolicyDefault[] = [
  { name: 'context_is_admin', checkStr: 'role:admin' },
  { name: 'segregation', checkStr: 'rule:context_is_admin' },
  { name: 'admin_or_owner', checkStr: 'rule:context_is_admin or project_id:%(project_id)s' },
  { name: 'default', checkStr: 'rule:context_is_admin or project_id:%(project_id)s' },
  {
    name: 'telemetry:get_alarm',
    checkStr: '(role:reader and system_scope:all) or (role:reader and project_id:%(project_id)s)',
    deprecatedCheckStr: 'rule:context_is_admin or project_id:%(project_id)s',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'telemetry:get_alarms',
    checkStr: '(role:reader and system_scope:all) or (role:reader and project_id:%(project_id)s)',
    deprecatedCheckStr: 'rule:context_is_admin or project_id:%(project_id)s',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'telemetry:get_alarms:all_projects',
    checkStr: 'role:reader and system_scope:all',
    deprecatedCheckStr: 'rule:context_is_admin',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'telemetry:query_alarm',
    checkStr: '(role:reader and system_scope:all) or (role:reader and project_id:%(project_id)s)',
    deprecatedCheckStr: 'rule:context_is_admin or project_id:%(project_id)s',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'telemetry:create_alarm',
    checkStr: '(role:admin and system_scope:all) or (role:member and project_id:%(project_id)s)',
    deprecatedCheckStr: '',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'telemetry:change_alarm',
    checkStr: '(role:admin and system_scope:all) or (role:member and project_id:%(project_id)s)',
    deprecatedCheckStr: 'rule:context_is_admin or project_id:%(project_id)s',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'telemetry:delete_alarm',
    checkStr: '(role:admin and system_scope:all) or (role:member and project_id:%(project_id)s)',
    deprecatedCheckStr: 'rule:context_is_admin or project_id:%(project_id)s',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'telemetry:get_alarm_state',
    checkStr: '(role:reader and system_scope:all) or (role:reader and project_id:%(project_id)s)',
    deprecatedCheckStr: 'rule:context_is_admin or project_id:%(project_id)s',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'telemetry:change_alarm_state',
    checkStr: '(role:admin and system_scope:all) or (role:member and project_id:%(project_id)s)',
    deprecatedCheckStr: 'rule:context_is_admin or project_id:%(project_id)s',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'telemetry:alarm_history',
    checkStr: '(role:reader and system_scope:all) or (role:reader and project_id:%(project_id)s)',
    deprecatedCheckStr: 'rule:context_is_admin or project_id:%(project_id)s',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'telemetry:query_alarm_history',
    checkStr: '(role:reader and system_scope:all) or (role:reader and project_id:%(project_id)s)',
    deprecatedCheckStr: 'rule:context_is_admin or project_id:%(project_id)s',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'telemetry:update_quotas',
    checkStr: 'role:admin and system_scope:all',
    deprecatedCheckStr: 'rule:context_is_admin',
    scopeTypes: ['system'],
  },
  {
    name: 'telemetry:delete_quotas',
    checkStr: 'role:admin and system_scope:all',
    deprecatedCheckStr: 'rule:context_is_admin',
    scopeTypes: ['system'],
  },
  // Names Stratus enforces that this release does not register (a later or earlier release's name for the
  // same check).
  { name: 'telemetry:get_quotas', checkStr: '' },
  { name: 'telemetry:get_capabilities', checkStr: '' },
];
