// Aodh's default policy (Zed, aodh/api/policies.py with enforce_new_defaults off: the project's
// members act on their project's alarms, the admin on every alarm). Override per rule in
// <policyDir>/alarming.yaml.
import type { PolicyDefault } from '../../core/policy/index.ts';

const OWNER = 'role:admin or project_id:%(project_id)s';

export const ALARMING_POLICIES: PolicyDefault[] = [
  { name: 'context_is_admin', checkStr: 'role:admin' },
  { name: 'segregation', checkStr: 'rule:context_is_admin' },
  { name: 'admin_or_owner', checkStr: OWNER },
  { name: 'telemetry:get_alarm', checkStr: 'rule:admin_or_owner' },
  { name: 'telemetry:get_alarms', checkStr: 'rule:admin_or_owner' },
  { name: 'telemetry:query_alarm', checkStr: 'rule:admin_or_owner' },
  { name: 'telemetry:create_alarm', checkStr: '' },
  { name: 'telemetry:change_alarm', checkStr: 'rule:admin_or_owner' },
  { name: 'telemetry:delete_alarm', checkStr: 'rule:admin_or_owner' },
  { name: 'telemetry:get_alarm_state', checkStr: 'rule:admin_or_owner' },
  { name: 'telemetry:change_alarm_state', checkStr: 'rule:admin_or_owner' },
  { name: 'telemetry:alarm_history', checkStr: 'rule:admin_or_owner' },
  { name: 'telemetry:query_alarm_history', checkStr: 'rule:admin_or_owner' },
  { name: 'telemetry:update_quotas', checkStr: 'role:admin' },
  { name: 'telemetry:delete_quotas', checkStr: 'role:admin' },
  { name: 'telemetry:get_quotas', checkStr: '' },
  { name: 'telemetry:get_capabilities', checkStr: '' },
];
