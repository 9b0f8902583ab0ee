// Cinder's default policy (stable/zed, cinder/policies/*.py; cinder 21): each rule's new default
// (checkStr) and its deprecated predecessor (deprecatedCheckStr); Zed's cinder declares no scope
// types (project-scoped personas only). With enforce_new_defaults off (Zed's default) oslo.policy
// or-s the two; `blockStorage.policy.enforceNewDefaults` or the cloud-wide `secureRbac` applies only
// the new default. Override per rule in <policyDir>/block-storage.yaml.
import { type PolicyDefault, type RuleDefault, withDefault } from '../core/policy/index.ts';

// The defaults that several rules share (X_WAS_Y: new default X, deprecated predecessor Y; ANYONE: the empty
// rule, which lets everyone through).
const PROJECT_MEMBER_WAS_ANYONE: RuleDefault = {
  checkStr: 'rule:xena_system_admin_or_project_member',
  deprecatedCheckStr: '',
};
const PROJECT_MEMBER_WAS_ADMIN_OR_OWNER: RuleDefault = {
  checkStr: 'rule:xena_system_admin_or_project_member',
  deprecatedCheckStr: 'rule:admin_or_owner',
};
const PROJECT_READER_WAS_ADMIN_OR_OWNER: RuleDefault = {
  checkStr: 'rule:xena_system_admin_or_project_reader',
  deprecatedCheckStr: 'rule:admin_or_owner',
};
const ADMIN_API: RuleDefault = { checkStr: 'rule:admin_api' };
const PROJECT_READER_WAS_ANYONE: RuleDefault = {
  checkStr: 'rule:xena_system_admin_or_project_reader',
  deprecatedCheckStr: '',
};
const ADMIN_API_WAS_TYPE_ENCRYPTION: RuleDefault = {
  checkStr: 'rule:admin_api',
  deprecatedCheckStr: 'rule:volume_extension:volume_type_encryption',
};
const PROJECT_MEMBER: RuleDefault = { checkStr: 'rule:xena_system_admin_or_project_member' };
const ADMIN_API_WAS_SCOPED_ADMIN: RuleDefault = {
  checkStr: 'rule:admin_api',
  deprecatedCheckStr: 'rule:system_or_domain_or_project_admin',
};
const ANYONE_PROJECT_SCOPED: RuleDefault = { checkStr: '', scopeTypes: ['project'] };
const ADMIN_API_PROJECT_SCOPED: RuleDefault = { checkStr: 'rule:admin_api', scopeTypes: ['project'] };

export const BLOCK_STORAGE_POLICIES: PolicyDefault[] = [
  { name: 'admin_or_owner', checkStr: 'is_admin:True or role:admin or project_id:%(project_id)s' },
  {
    name: 'system_or_domain_or_project_admin',
    checkStr:
      '(role:admin and system_scope:all) or (role:admin and domain_id:%(domain_id)s) or (role:admin and project_id:%(project_id)s)',
  },
  { name: 'context_is_admin', checkStr: 'role:admin' },
  // Cinder's default is 'is_admin:True or (role:admin and is_admin_project:True)'; keystonemiddleware sets
  // is_admin_project True when the token does not say, and Stratus's tokens say only when an admin project is
  // configured: role:admin is what that default means here (also in admin_or_owner).
  { name: 'admin_api', checkStr: 'is_admin:True or role:admin' },
  {
    name: 'xena_system_admin_or_project_reader',
    checkStr: '(role:admin) or (role:reader and project_id:%(project_id)s)',
  },
  {
    name: 'xena_system_admin_or_project_member',
    checkStr: '(role:admin) or (role:member and project_id:%(project_id)s)',
  },
  ...withDefault(PROJECT_MEMBER_WAS_ANYONE, 'volume:attachment_create'),
  ...withDefault(
    PROJECT_MEMBER_WAS_ADMIN_OR_OWNER,
    'volume:attachment_update',
    'volume:attachment_delete',
    'volume:attachment_complete',
    'volume:multiattach_bootable_volume',
  ),
  ...withDefault(PROJECT_READER_WAS_ADMIN_OR_OWNER, 'message:get_all', 'message:get'),
  ...withDefault(PROJECT_MEMBER_WAS_ADMIN_OR_OWNER, 'message:delete'),
  ...withDefault(ADMIN_API, 'clusters:get_all', 'clusters:get', 'clusters:update', 'workers:cleanup'),
  ...withDefault(PROJECT_READER_WAS_ADMIN_OR_OWNER, 'volume:get_snapshot_metadata'),
  ...withDefault(
    PROJECT_MEMBER_WAS_ADMIN_OR_OWNER,
    'volume:update_snapshot_metadata',
    'volume:delete_snapshot_metadata',
  ),
  ...withDefault(
    PROJECT_READER_WAS_ADMIN_OR_OWNER,
    'volume:get_all_snapshots',
    'volume_extension:extended_snapshot_attributes',
  ),
  ...withDefault(PROJECT_MEMBER_WAS_ADMIN_OR_OWNER, 'volume:create_snapshot'),
  ...withDefault(PROJECT_READER_WAS_ADMIN_OR_OWNER, 'volume:get_snapshot'),
  ...withDefault(PROJECT_MEMBER_WAS_ADMIN_OR_OWNER, 'volume:update_snapshot', 'volume:delete_snapshot'),
  ...withDefault(ADMIN_API, 'volume_extension:snapshot_admin_actions:reset_status'),
  ...withDefault(PROJECT_MEMBER_WAS_ANYONE, 'snapshot_extension:snapshot_actions:update_snapshot_status'),
  ...withDefault(
    ADMIN_API,
    'volume_extension:snapshot_admin_actions:force_delete',
    'snapshot_extension:list_manageable',
    'snapshot_extension:snapshot_manage',
    'snapshot_extension:snapshot_unmanage',
  ),
  ...withDefault(PROJECT_READER_WAS_ADMIN_OR_OWNER, 'backup:get_all'),
  ...withDefault(ADMIN_API, 'backup:backup_project_attribute'),
  ...withDefault(
    PROJECT_MEMBER_WAS_ADMIN_OR_OWNER,
    // Stratus: the deprecated rule is the volume's project (Zed's is empty, cinder then checks the volume).
    'backup:create',
  ),
  ...withDefault(PROJECT_READER_WAS_ADMIN_OR_OWNER, 'backup:get'),
  ...withDefault(PROJECT_MEMBER_WAS_ADMIN_OR_OWNER, 'backup:update', 'backup:delete', 'backup:restore'),
  ...withDefault(
    ADMIN_API,
    'backup:backup-import',
    'backup:export-import',
    'volume_extension:backup_admin_actions:reset_status',
    'volume_extension:backup_admin_actions:force_delete',
  ),
  ...withDefault(PROJECT_READER_WAS_ADMIN_OR_OWNER, 'group:get_all'),
  ...withDefault(PROJECT_MEMBER_WAS_ANYONE, 'group:create'),
  ...withDefault(PROJECT_READER_WAS_ADMIN_OR_OWNER, 'group:get'),
  ...withDefault(PROJECT_MEMBER_WAS_ADMIN_OR_OWNER, 'group:update'),
  ...withDefault(
    ADMIN_API,
    'group:group_project_attribute',
    'group:group_types:create',
    'group:group_types:update',
    'group:group_types:delete',
    'group:access_group_types_specs',
    'group:group_types_specs:get',
    'group:group_types_specs:get_all',
    'group:group_types_specs:create',
    'group:group_types_specs:update',
    'group:group_types_specs:delete',
  ),
  ...withDefault(PROJECT_READER_WAS_ADMIN_OR_OWNER, 'group:get_all_group_snapshots'),
  ...withDefault(PROJECT_MEMBER_WAS_ANYONE, 'group:create_group_snapshot'),
  ...withDefault(PROJECT_READER_WAS_ADMIN_OR_OWNER, 'group:get_group_snapshot'),
  ...withDefault(PROJECT_MEMBER_WAS_ADMIN_OR_OWNER, 'group:delete_group_snapshot', 'group:update_group_snapshot'),
  ...withDefault(ADMIN_API, 'group:group_snapshot_project_attribute', 'group:reset_group_snapshot_status'),
  ...withDefault(PROJECT_MEMBER_WAS_ADMIN_OR_OWNER, 'group:delete'),
  ...withDefault(ADMIN_API, 'group:reset_status'),
  ...withDefault(
    PROJECT_MEMBER_WAS_ADMIN_OR_OWNER,
    'group:enable_replication',
    'group:disable_replication',
    'group:failover_replication',
    'group:list_replication_targets',
  ),
  ...withDefault(
    ADMIN_API,
    'volume_extension:qos_specs_manage:get_all',
    'volume_extension:qos_specs_manage:get',
    'volume_extension:qos_specs_manage:create',
    'volume_extension:qos_specs_manage:update',
    'volume_extension:qos_specs_manage:delete',
    'volume_extension:quota_classes:get',
    'volume_extension:quota_classes:update',
  ),
  ...withDefault(PROJECT_READER_WAS_ANYONE, 'volume_extension:quotas:show'),
  ...withDefault(
    ADMIN_API,
    'volume_extension:quotas:update',
    'volume_extension:quotas:delete',
    'volume_extension:capabilities',
    'volume_extension:services:index',
    'volume_extension:services:update',
    'volume:freeze_host',
    'volume:thaw_host',
    'volume:failover_host',
    'scheduler_extension:scheduler_stats:get_pools',
    'volume_extension:hosts',
  ),
  ...withDefault(PROJECT_READER_WAS_ANYONE, 'limits_extension:used_limits'),
  ...withDefault(
    ADMIN_API,
    'volume_extension:list_manageable',
    'volume_extension:volume_manage',
    'volume_extension:volume_unmanage',
    'volume_extension:type_create',
    'volume_extension:type_update',
    'volume_extension:type_delete',
  ),
  ...withDefault(PROJECT_READER_WAS_ANYONE, 'volume_extension:type_get', 'volume_extension:type_get_all'),
  ...withDefault(
    ADMIN_API,
    // Stratus: extra specs stay the admin's in volume type views in both modes (Zed's new default also shows
    // them to the project's readers).
    'volume_extension:access_types_extra_specs',
    'volume_extension:access_types_qos_specs_id',
    'volume_extension:volume_type_encryption',
  ),
  ...withDefault(
    ADMIN_API_WAS_TYPE_ENCRYPTION,
    'volume_extension:volume_type_encryption:create',
    'volume_extension:volume_type_encryption:get',
    'volume_extension:volume_type_encryption:update',
    'volume_extension:volume_type_encryption:delete',
  ),
  ...withDefault(
    PROJECT_MEMBER_WAS_ANYONE,
    // Stratus: the deprecated rule lets anyone through (as Stratus answered before the split; Zed's deprecated
    // rule is admin_or_owner).
    'volume_extension:volume_type_access',
  ),
  ...withDefault(
    ADMIN_API,
    'volume_extension:volume_type_access:addProjectAccess',
    'volume_extension:volume_type_access:removeProjectAccess',
  ),
  {
    name: 'volume_extension:volume_type_access:get_all_for_type',
    checkStr: 'rule:admin_api',
    deprecatedCheckStr: 'volume_extension:volume_type_access',
  },
  ...withDefault(
    PROJECT_MEMBER_WAS_ADMIN_OR_OWNER,
    'volume:extend',
    'volume:extend_attached_volume',
    'volume:revert_to_snapshot',
  ),
  ...withDefault(ADMIN_API, 'volume_extension:volume_admin_actions:reset_status'),
  ...withDefault(PROJECT_MEMBER_WAS_ADMIN_OR_OWNER, 'volume:retype', 'volume:update_readonly_flag'),
  ...withDefault(
    ADMIN_API,
    'volume_extension:volume_admin_actions:force_delete',
    'volume_extension:volume_actions:upload_public',
  ),
  ...withDefault(PROJECT_MEMBER_WAS_ADMIN_OR_OWNER, 'volume_extension:volume_actions:upload_image'),
  ...withDefault(
    ADMIN_API,
    'volume_extension:volume_admin_actions:force_detach',
    'volume_extension:volume_admin_actions:migrate_volume',
    'volume_extension:volume_admin_actions:migrate_volume_completion',
  ),
  ...withDefault(
    PROJECT_MEMBER_WAS_ADMIN_OR_OWNER,
    'volume_extension:volume_actions:initialize_connection',
    'volume_extension:volume_actions:terminate_connection',
    'volume_extension:volume_actions:roll_detaching',
    'volume_extension:volume_actions:reserve',
    'volume_extension:volume_actions:unreserve',
    'volume_extension:volume_actions:begin_detaching',
    'volume_extension:volume_actions:attach',
    'volume_extension:volume_actions:detach',
  ),
  ...withDefault(PROJECT_MEMBER, 'volume:reimage', 'volume:reimage_reserved'),
  ...withDefault(PROJECT_READER_WAS_ADMIN_OR_OWNER, 'volume:get_all_transfers'),
  ...withDefault(PROJECT_MEMBER_WAS_ADMIN_OR_OWNER, 'volume:create_transfer'),
  ...withDefault(PROJECT_READER_WAS_ADMIN_OR_OWNER, 'volume:get_transfer'),
  ...withDefault(PROJECT_MEMBER_WAS_ANYONE, 'volume:accept_transfer'),
  ...withDefault(PROJECT_MEMBER_WAS_ADMIN_OR_OWNER, 'volume:delete_transfer'),
  ...withDefault(PROJECT_READER_WAS_ADMIN_OR_OWNER, 'volume:get_volume_metadata'),
  ...withDefault(
    PROJECT_MEMBER_WAS_ADMIN_OR_OWNER,
    'volume:create_volume_metadata',
    'volume:update_volume_metadata',
    'volume:delete_volume_metadata',
  ),
  ...withDefault(PROJECT_READER_WAS_ADMIN_OR_OWNER, 'volume_extension:volume_image_metadata:show'),
  ...withDefault(
    PROJECT_MEMBER_WAS_ADMIN_OR_OWNER,
    'volume_extension:volume_image_metadata:set',
    'volume_extension:volume_image_metadata:remove',
  ),
  ...withDefault(ADMIN_API, 'volume:update_volume_admin_metadata'),
  ...withDefault(PROJECT_READER_WAS_ANYONE, 'volume_extension:types_extra_specs:index'),
  ...withDefault(ADMIN_API, 'volume_extension:types_extra_specs:create'),
  ...withDefault(PROJECT_READER_WAS_ANYONE, 'volume_extension:types_extra_specs:show'),
  ...withDefault(
    ADMIN_API,
    'volume_extension:types_extra_specs:read_sensitive',
    'volume_extension:types_extra_specs:update',
    'volume_extension:types_extra_specs:delete',
  ),
  ...withDefault(PROJECT_MEMBER_WAS_ANYONE, 'volume:create', 'volume:create_from_image'),
  ...withDefault(PROJECT_READER_WAS_ADMIN_OR_OWNER, 'volume:get', 'volume:get_all'),
  ...withDefault(PROJECT_MEMBER_WAS_ADMIN_OR_OWNER, 'volume:update', 'volume:delete'),
  ...withDefault(ADMIN_API, 'volume:force_delete', 'volume_extension:volume_host_attribute'),
  ...withDefault(PROJECT_READER_WAS_ADMIN_OR_OWNER, 'volume_extension:volume_tenant_attribute'),
  ...withDefault(ADMIN_API, 'volume_extension:volume_mig_status_attribute'),
  ...withDefault(PROJECT_READER_WAS_ADMIN_OR_OWNER, 'volume_extension:volume_encryption_metadata'),
  ...withDefault(PROJECT_MEMBER_WAS_ADMIN_OR_OWNER, 'volume:multiattach'),
  ...withDefault(ADMIN_API_WAS_SCOPED_ADMIN, 'volume_extension:default_set_or_update', 'volume_extension:default_get'),
  {
    name: 'volume_extension:default_get_all',
    checkStr: 'rule:admin_api',
    deprecatedCheckStr: 'role:admin and system_scope:all',
  },
  ...withDefault(ADMIN_API_WAS_SCOPED_ADMIN, 'volume_extension:default_unset'),
  ...withDefault(
    ANYONE_PROJECT_SCOPED,
    // Names Stratus enforces that this release does not register (a later or earlier release's name for the
    // same check).
    'volume_extension:availability_zone_list',
    'group:group_types_specs',
  ),
  ...withDefault(PROJECT_READER_WAS_ADMIN_OR_OWNER, 'volume:attachment_get', 'volume:attachment_get_all'),
  ...withDefault(PROJECT_MEMBER_WAS_ADMIN_OR_OWNER, 'volume_extension:volume_actions:set_bootable'),
  ...withDefault(
    ADMIN_API_PROJECT_SCOPED,
    'volume_extension:types_manage',
    'volume_extension:quota_classes',
    'volume:get_all_admin',
    'group:group_types_manage',
    'backup:force_delete',
  ),
];
