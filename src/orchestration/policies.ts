// Heat's default policy (stable/zed, heat/policies/*.py; heat 19): each rule's new default
// (checkStr), its scope types and its deprecated predecessor (deprecatedCheckStr). With
// enforce_new_defaults off (Zed's default) oslo.policy or-s the two; `orchestration.policy.enforceNewDefaults`
// or the cloud-wide `secureRbac` applies only the new default. Override per rule in <policyDir>/orchestration.yaml.
import { type PolicyDefault, type RuleDefault, withDefault } from '../core/policy/index.ts';

// The defaults that several rules share (X_WAS_Y: new default X, deprecated predecessor Y; MEMBER and READER are
// heat/policies/base.py's SYSTEM_ADMIN_OR_PROJECT_MEMBER and SYSTEM_OR_PROJECT_READER).
const MEMBER_WAS_DENY_STACK_USER: RuleDefault = {
  checkStr: '(role:admin and system_scope:all) or (role:member and project_id:%(project_id)s)',
  deprecatedCheckStr: 'rule:deny_stack_user',
  scopeTypes: ['system', 'project'],
};
const READER_WAS_DENY_STACK_USER: RuleDefault = {
  checkStr: '(role:reader and system_scope:all) or (role:reader and project_id:%(project_id)s)',
  deprecatedCheckStr: 'rule:deny_stack_user',
  scopeTypes: ['system', 'project'],
};
const READER_OR_STACK_USER_WAS_ALLOW_EVERYBODY: RuleDefault = {
  checkStr:
    '(role:reader and system_scope:all) or (role:reader and project_id:%(project_id)s) or (role:heat_stack_user and project_id:%(project_id)s)',
  deprecatedCheckStr: 'rule:allow_everybody',
  scopeTypes: ['system', 'project'],
};
const PROJECT_ADMIN: RuleDefault = { checkStr: 'rule:project_admin' };
const SYSTEM_READER_WAS_DENY_EVERYBODY: RuleDefault = {
  checkStr: 'role:reader and system_scope:all',
  deprecatedCheckStr: 'rule:deny_everybody',
  scopeTypes: ['system', 'project'],
};

export const ORCHESTRATION_POLICIES: PolicyDefault[] = [
  // Heat's default is '(role:admin and is_admin_project:True) OR (role:admin and system_scope:all)';
  // keystonemiddleware sets is_admin_project True when the token does not say, and Stratus's tokens say only
  // when an admin project is configured: role:admin is what that default means here.
  { name: 'context_is_admin', checkStr: 'role:admin' },
  { name: 'project_admin', checkStr: 'role:admin' },
  { name: 'deny_stack_user', checkStr: 'not role:heat_stack_user' },
  { name: 'deny_everybody', checkStr: '!' },
  { name: 'allow_everybody', checkStr: '' },
  {
    name: 'actions:action',
    checkStr: '(role:admin and system_scope:all) or (role:member and project_id:%(project_id)s)',
    deprecatedCheckStr: 'rule:deny_stack_user',
  },
  ...withDefault(MEMBER_WAS_DENY_STACK_USER, 'actions:snapshot', 'actions:suspend', 'actions:resume'),
  ...withDefault(READER_WAS_DENY_STACK_USER, 'actions:check'),
  ...withDefault(MEMBER_WAS_DENY_STACK_USER, 'actions:cancel_update', 'actions:cancel_without_rollback'),
  ...withDefault(READER_WAS_DENY_STACK_USER, 'build_info:build_info', 'cloudformation:ListStacks'),
  ...withDefault(MEMBER_WAS_DENY_STACK_USER, 'cloudformation:CreateStack'),
  ...withDefault(READER_WAS_DENY_STACK_USER, 'cloudformation:DescribeStacks'),
  ...withDefault(
    MEMBER_WAS_DENY_STACK_USER,
    'cloudformation:DeleteStack',
    'cloudformation:UpdateStack',
    'cloudformation:CancelUpdateStack',
  ),
  ...withDefault(
    READER_WAS_DENY_STACK_USER,
    'cloudformation:DescribeStackEvents',
    'cloudformation:ValidateTemplate',
    'cloudformation:GetTemplate',
    'cloudformation:EstimateTemplateCost',
  ),
  ...withDefault(READER_OR_STACK_USER_WAS_ALLOW_EVERYBODY, 'cloudformation:DescribeStackResource'),
  ...withDefault(
    READER_WAS_DENY_STACK_USER,
    'cloudformation:DescribeStackResources',
    'cloudformation:ListStackResources',
    'events:index',
    'events:show',
    'resource:index',
  ),
  ...withDefault(READER_OR_STACK_USER_WAS_ALLOW_EVERYBODY, 'resource:metadata', 'resource:signal'),
  ...withDefault(MEMBER_WAS_DENY_STACK_USER, 'resource:mark_unhealthy'),
  ...withDefault(READER_WAS_DENY_STACK_USER, 'resource:show'),
  ...withDefault(
    PROJECT_ADMIN,
    'resource_types:OS::Nova::Flavor',
    'resource_types:OS::Cinder::EncryptedVolumeType',
    'resource_types:OS::Cinder::VolumeType',
    'resource_types:OS::Cinder::Quota',
    'resource_types:OS::Neutron::Quota',
    'resource_types:OS::Nova::Quota',
    'resource_types:OS::Octavia::Quota',
    'resource_types:OS::Manila::ShareType',
    'resource_types:OS::Neutron::ProviderNet',
    'resource_types:OS::Neutron::QoSPolicy',
    'resource_types:OS::Neutron::QoSBandwidthLimitRule',
    'resource_types:OS::Neutron::QoSDscpMarkingRule',
    'resource_types:OS::Neutron::QoSMinimumBandwidthRule',
    'resource_types:OS::Neutron::QoSMinimumPacketRateRule',
    'resource_types:OS::Neutron::Segment',
    'resource_types:OS::Nova::HostAggregate',
    'resource_types:OS::Cinder::QoSSpecs',
    'resource_types:OS::Cinder::QoSAssociation',
    'resource_types:OS::Keystone::*',
    'resource_types:OS::Blazar::Host',
    'resource_types:OS::Octavia::Flavor',
    'resource_types:OS::Octavia::FlavorProfile',
  ),
  { name: 'service:index', checkStr: 'role:reader and system_scope:all', deprecatedCheckStr: 'rule:context_is_admin' },
  ...withDefault(SYSTEM_READER_WAS_DENY_EVERYBODY, 'software_configs:global_index'),
  ...withDefault(
    READER_WAS_DENY_STACK_USER,
    'software_configs:index',
    'software_configs:create',
    'software_configs:show',
  ),
  ...withDefault(MEMBER_WAS_DENY_STACK_USER, 'software_configs:delete'),
  ...withDefault(READER_WAS_DENY_STACK_USER, 'software_deployments:index'),
  ...withDefault(MEMBER_WAS_DENY_STACK_USER, 'software_deployments:create'),
  ...withDefault(READER_WAS_DENY_STACK_USER, 'software_deployments:show'),
  ...withDefault(MEMBER_WAS_DENY_STACK_USER, 'software_deployments:update', 'software_deployments:delete'),
  ...withDefault(
    READER_OR_STACK_USER_WAS_ALLOW_EVERYBODY,
    // Stratus: the deprecated rule lets everybody read a server's deployment metadata (as Stratus answered
    // before the split; Zed's rule has no predecessor).
    'software_deployments:metadata',
  ),
  ...withDefault(MEMBER_WAS_DENY_STACK_USER, 'stacks:abandon', 'stacks:create', 'stacks:delete'),
  ...withDefault(READER_WAS_DENY_STACK_USER, 'stacks:detail'),
  ...withDefault(MEMBER_WAS_DENY_STACK_USER, 'stacks:export', 'stacks:generate_template'),
  ...withDefault(SYSTEM_READER_WAS_DENY_EVERYBODY, 'stacks:global_index'),
  ...withDefault(
    READER_WAS_DENY_STACK_USER,
    'stacks:index',
    'stacks:list_resource_types',
    'stacks:list_template_versions',
    'stacks:list_template_functions',
  ),
  ...withDefault(READER_OR_STACK_USER_WAS_ALLOW_EVERYBODY, 'stacks:lookup'),
  ...withDefault(
    READER_WAS_DENY_STACK_USER,
    'stacks:preview',
    'stacks:resource_schema',
    'stacks:show',
    'stacks:template',
    'stacks:environment',
    'stacks:files',
  ),
  ...withDefault(MEMBER_WAS_DENY_STACK_USER, 'stacks:update', 'stacks:update_patch'),
  { name: 'stacks:update_no_change', checkStr: 'rule:stacks:update_patch', scopeTypes: ['system', 'project'] },
  ...withDefault(
    MEMBER_WAS_DENY_STACK_USER,
    'stacks:preview_update',
    'stacks:preview_update_patch',
    'stacks:validate_template',
    'stacks:snapshot',
  ),
  ...withDefault(READER_WAS_DENY_STACK_USER, 'stacks:show_snapshot'),
  ...withDefault(MEMBER_WAS_DENY_STACK_USER, 'stacks:delete_snapshot'),
  ...withDefault(READER_WAS_DENY_STACK_USER, 'stacks:list_snapshots'),
  ...withDefault(MEMBER_WAS_DENY_STACK_USER, 'stacks:restore_snapshot'),
  ...withDefault(READER_WAS_DENY_STACK_USER, 'stacks:list_outputs', 'stacks:show_output'),
  ...withDefault(
    PROJECT_ADMIN,
    // Names Stratus enforces that this release does not register (a later or earlier release's name for the
    // same check).
    'resource_types:OS::Senlin::*',
  ),
];
