// Aodh's default policy (Zed, aodh/api/policies.py; aodh 15): each rule's new default (checkStr),
// its scope types and its deprecated predecessor (deprecatedCheckStr). With enforce_new_defaults
// off (Zed's default) oslo.policy or-s the two; `alarming.policy.enforceNewDefaults` or the
// cloud-wide `secureRbac` applies only the new default. Override per rule in <policyDir>/alarming.yaml.
import { type PolicyDefault, type RuleDefault, withDefault } from '../../core/policy/index.ts';

// The defaults that several rules share.
const SYSTEM_OR_PROJECT_READER: RuleDefault = {
  checkStr: '(role:reader and system_scope:all) or (role:reader and project_id:%(project_id)s)',
  deprecatedCheckStr: 'rule:context_is_admin or project_id:%(project_id)s',
  scopeTypes: ['system', 'project'],
};
const SYSTEM_ADMIN_OR_PROJECT_MEMBER: RuleDefault = {
  checkStr: '(role:admin and system_scope:all) or (role:member and project_id:%(project_id)s)',
  deprecatedCheckStr: 'rule:context_is_admin or project_id:%(project_id)s',
  scopeTypes: ['system', 'project'],
};

export const ALARMING_POLICIES: PolicyDefault[] = [
  { name: 'context_is_admin', checkStr: 'role:admin' },
  { name: 'segregation', checkStr: 'rule:context_is_admin' },
  ...withDefault({ checkStr: 'rule:context_is_admin or project_id:%(project_id)s' }, 'admin_or_owner', 'default'),
  ...withDefault(SYSTEM_OR_PROJECT_READER, 'telemetry:get_alarm', 'telemetry:get_alarms'),
  {
    name: 'telemetry:get_alarms:all_projects',
    checkStr: 'role:reader and system_scope:all',
    deprecatedCheckStr: 'rule:context_is_admin',
    scopeTypes: ['system', 'project'],
  },
  ...withDefault(SYSTEM_OR_PROJECT_READER, 'telemetry:query_alarm'),
  {
    name: 'telemetry:create_alarm',
    checkStr: '(role:admin and system_scope:all) or (role:member and project_id:%(project_id)s)',
    deprecatedCheckStr: '',
    scopeTypes: ['system', 'project'],
  },
  ...withDefault(SYSTEM_ADMIN_OR_PROJECT_MEMBER, 'telemetry:change_alarm', 'telemetry:delete_alarm'),
  ...withDefault(SYSTEM_OR_PROJECT_READER, 'telemetry:get_alarm_state'),
  ...withDefault(SYSTEM_ADMIN_OR_PROJECT_MEMBER, 'telemetry:change_alarm_state'),
  ...withDefault(SYSTEM_OR_PROJECT_READER, 'telemetry:alarm_history', 'telemetry:query_alarm_history'),
  ...withDefault(
    {
      checkStr: 'role:admin and system_scope:all',
      deprecatedCheckStr: 'rule:context_is_admin',
      scopeTypes: ['system'],
    },
    'telemetry:update_quotas',
    'telemetry:delete_quotas',
  ),
  // Names Stratus enforces that this release does not register (a later or earlier release's name for the
  // same check).
  ...withDefault({ checkStr: '' }, 'telemetry:get_quotas', 'telemetry:get_capabilities'),
];
