// Keystone's default policy, from keystone/common/policies/*.py of stable/zed: each rule's new
// default (checkStr), its scope types and its deprecated predecessor (deprecatedCheckStr). With
// enforce_new_defaults off (Zed's default; `identity.policy.enforceNewDefaults`, or the cloud-wide
// `secureRbac`) the two are or-ed, as oslo.policy does; with it on only the new default applies.
// Where Stratus answered more than Zed's "new or deprecated" before this split (a project admin
// reading trusts, limits, tokens, application credentials: Keystone's later "admin_required or ..."
// defaults, which the kept tempest list relies on), that stays in deprecatedCheckStr, so the
// default mode answers as before. Override per rule in <policyDir>/identity.yaml.
import { type PolicyDefault, type RuleDefault, withDefault } from '../core/policy/index.ts';

// The defaults that several rules share (X_WAS_Y: new default X, deprecated predecessor Y).
const SYSTEM_ADMIN_WAS_ADMIN: RuleDefault = {
  checkStr: 'role:admin and system_scope:all',
  deprecatedCheckStr: 'rule:admin_required',
  scopeTypes: ['system'],
};
const SYSTEM_READER_WAS_ADMIN: RuleDefault = {
  checkStr: 'role:reader and system_scope:all',
  deprecatedCheckStr: 'rule:admin_required',
  scopeTypes: ['system'],
};
const ANYONE_ANY_SCOPE: RuleDefault = { checkStr: '', scopeTypes: ['system', 'domain', 'project'] };
const ADMIN_REQUIRED: RuleDefault = { checkStr: 'rule:admin_required', scopeTypes: ['project'] };
const ANYONE: RuleDefault = { checkStr: '' };
const PROJECT_TAG_ADMIN: RuleDefault = {
  checkStr:
    '(role:admin and system_scope:all) or (role:admin and domain_id:%(target.project.domain_id)s) or (role:admin and project_id:%(target.project.id)s)',
  deprecatedCheckStr: 'rule:admin_required',
  scopeTypes: ['system', 'domain', 'project'],
};
const SYSTEM_READER_OR_OWNER: RuleDefault = {
  checkStr: '(role:reader and system_scope:all) or rule:owner',
  deprecatedCheckStr: 'rule:admin_required or (rule:admin_or_owner)',
  scopeTypes: ['system', 'project'],
};
const CREDENTIAL_OWNER_OR_SYSTEM_ADMIN: RuleDefault = {
  checkStr: '(role:admin and system_scope:all) or user_id:%(target.credential.user_id)s',
  deprecatedCheckStr: 'rule:admin_required',
  scopeTypes: ['system', 'project'],
};
const GROUP_READER: RuleDefault = {
  checkStr: '(role:reader and system_scope:all) or (role:reader and domain_id:%(target.group.domain_id)s)',
  deprecatedCheckStr: 'rule:admin_required',
  scopeTypes: ['system', 'domain'],
};
const GROUP_ADMIN: RuleDefault = {
  checkStr: '(role:admin and system_scope:all) or (role:admin and domain_id:%(target.group.domain_id)s)',
  deprecatedCheckStr: 'rule:admin_required',
  scopeTypes: ['system', 'domain'],
};
const PROJECT_TAG_READER: RuleDefault = {
  checkStr:
    '(role:reader and system_scope:all) or (role:reader and domain_id:%(target.project.domain_id)s) or project_id:%(target.project.id)s',
  deprecatedCheckStr: 'rule:admin_required or project_id:%(target.project.id)s',
  scopeTypes: ['system', 'domain', 'project'],
};
const DOMAIN_READER: RuleDefault = {
  checkStr: '(role:reader and system_scope:all) or (role:reader and domain_id:%(target.domain_id)s)',
  deprecatedCheckStr: 'rule:admin_required',
  scopeTypes: ['system', 'domain'],
};
const PROJECT_DOMAIN_ADMIN: RuleDefault = {
  checkStr: '(role:admin and system_scope:all) or (role:admin and domain_id:%(target.project.domain_id)s)',
  deprecatedCheckStr: 'rule:admin_required',
  scopeTypes: ['system', 'domain'],
};
const TRUST_PARTY_OR_SYSTEM_READER: RuleDefault = {
  checkStr:
    'role:reader and system_scope:all or user_id:%(target.trust.trustor_user_id)s or user_id:%(target.trust.trustee_user_id)s',
  deprecatedCheckStr:
    'rule:admin_required or (user_id:%(target.trust.trustor_user_id)s or user_id:%(target.trust.trustee_user_id)s)',
  scopeTypes: ['system', 'project'],
};
const USER_DOMAIN_ADMIN: RuleDefault = {
  checkStr: '(role:admin and system_scope:all) or (role:admin and token.domain.id:%(target.user.domain_id)s)',
  deprecatedCheckStr: 'rule:admin_required',
  scopeTypes: ['system', 'domain'],
};

export const IDENTITY_POLICIES: PolicyDefault[] = [
  { name: 'admin_required', checkStr: 'role:admin or is_admin:1' },
  { name: 'service_role', checkStr: 'role:service' },
  { name: 'service_or_admin', checkStr: 'rule:admin_required or rule:service_role' },
  { name: 'owner', checkStr: 'user_id:%(user_id)s' },
  { name: 'admin_or_owner', checkStr: 'rule:admin_required or rule:owner' },
  { name: 'token_subject', checkStr: 'user_id:%(target.token.user_id)s' },
  { name: 'admin_or_token_subject', checkStr: 'rule:admin_required or rule:token_subject' },
  { name: 'service_admin_or_token_subject', checkStr: 'rule:service_or_admin or rule:token_subject' },
  ...withDefault(
    { checkStr: '(role:reader and system_scope:all) or user_id:%(target.user.id)s', scopeTypes: ['system', 'project'] },
    'identity:get_access_rule',
    'identity:list_access_rules',
  ),
  {
    name: 'identity:delete_access_rule',
    checkStr: '(role:admin and system_scope:all) or user_id:%(target.user.id)s',
    scopeTypes: ['system', 'project'],
  },
  ...withDefault(
    ADMIN_REQUIRED,
    'identity:authorize_request_token',
    'identity:get_access_token',
    'identity:get_access_token_role',
    'identity:list_access_tokens',
    'identity:list_access_token_roles',
    'identity:delete_access_token',
  ),
  ...withDefault(
    SYSTEM_READER_OR_OWNER,
    'identity:get_application_credential',
    'identity:list_application_credentials',
  ),
  { name: 'identity:create_application_credential', checkStr: 'user_id:%(user_id)s', scopeTypes: ['project'] },
  {
    name: 'identity:delete_application_credential',
    checkStr: '(role:admin and system_scope:all) or rule:owner',
    deprecatedCheckStr: 'rule:admin_or_owner',
    scopeTypes: ['system', 'project'],
  },
  ...withDefault(
    ANYONE,
    'identity:get_auth_catalog',
    'identity:get_auth_projects',
    'identity:get_auth_domains',
    'identity:get_auth_system',
  ),
  ...withDefault(SYSTEM_READER_WAS_ADMIN, 'identity:get_consumer', 'identity:list_consumers'),
  ...withDefault(
    SYSTEM_ADMIN_WAS_ADMIN,
    'identity:create_consumer',
    'identity:update_consumer',
    'identity:delete_consumer',
  ),
  ...withDefault(
    {
      checkStr: '(role:reader and system_scope:all) or user_id:%(target.credential.user_id)s',
      deprecatedCheckStr: 'rule:admin_required',
      scopeTypes: ['system', 'project'],
    },
    'identity:get_credential',
    'identity:list_credentials',
  ),
  ...withDefault(
    CREDENTIAL_OWNER_OR_SYSTEM_ADMIN,
    'identity:create_credential',
    'identity:update_credential',
    'identity:delete_credential',
  ),
  {
    name: 'identity:get_domain',
    checkStr:
      '(role:reader and system_scope:all) or token.domain.id:%(target.domain.id)s or token.project.domain.id:%(target.domain.id)s',
    deprecatedCheckStr: 'rule:admin_required or token.project.domain.id:%(target.domain.id)s',
    scopeTypes: ['system', 'domain', 'project'],
  },
  ...withDefault(SYSTEM_READER_WAS_ADMIN, 'identity:list_domains'),
  ...withDefault(
    SYSTEM_ADMIN_WAS_ADMIN,
    'identity:create_domain',
    'identity:update_domain',
    'identity:delete_domain',
    'identity:create_domain_config',
  ),
  ...withDefault(SYSTEM_READER_WAS_ADMIN, 'identity:get_domain_config'),
  ...withDefault(ANYONE_ANY_SCOPE, 'identity:get_security_compliance_domain_config'),
  ...withDefault(SYSTEM_ADMIN_WAS_ADMIN, 'identity:update_domain_config', 'identity:delete_domain_config'),
  ...withDefault(SYSTEM_READER_WAS_ADMIN, 'identity:get_domain_config_default'),
  {
    name: 'identity:ec2_get_credential',
    checkStr: '(role:reader and system_scope:all) or user_id:%(target.credential.user_id)s',
    deprecatedCheckStr: 'rule:admin_required or (rule:owner and user_id:%(target.credential.user_id)s)',
    scopeTypes: ['system', 'project'],
  },
  ...withDefault(SYSTEM_READER_OR_OWNER, 'identity:ec2_list_credentials'),
  {
    name: 'identity:ec2_create_credential',
    checkStr: '(role:admin and system_scope:all) or rule:owner',
    deprecatedCheckStr: 'rule:admin_required or (rule:admin_or_owner)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:ec2_delete_credential',
    checkStr: '(role:admin and system_scope:all) or user_id:%(target.credential.user_id)s',
    deprecatedCheckStr: 'rule:admin_required or (rule:owner and user_id:%(target.credential.user_id)s)',
    scopeTypes: ['system', 'project'],
  },
  ...withDefault(SYSTEM_READER_WAS_ADMIN, 'identity:get_endpoint', 'identity:list_endpoints'),
  ...withDefault(
    SYSTEM_ADMIN_WAS_ADMIN,
    'identity:create_endpoint',
    'identity:update_endpoint',
    'identity:delete_endpoint',
    'identity:create_endpoint_group',
  ),
  ...withDefault(SYSTEM_READER_WAS_ADMIN, 'identity:list_endpoint_groups', 'identity:get_endpoint_group'),
  ...withDefault(SYSTEM_ADMIN_WAS_ADMIN, 'identity:update_endpoint_group', 'identity:delete_endpoint_group'),
  ...withDefault(
    SYSTEM_READER_WAS_ADMIN,
    'identity:list_projects_associated_with_endpoint_group',
    'identity:list_endpoints_associated_with_endpoint_group',
    'identity:get_endpoint_group_in_project',
    'identity:list_endpoint_groups_for_project',
  ),
  ...withDefault(
    SYSTEM_ADMIN_WAS_ADMIN,
    'identity:add_endpoint_group_to_project',
    'identity:remove_endpoint_group_from_project',
  ),
  {
    name: 'identity:check_grant',
    checkStr:
      '(role:reader and system_scope:all) or ((role:reader and domain_id:%(target.user.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:reader and domain_id:%(target.user.domain_id)s and domain_id:%(target.domain.id)s) or (role:reader and domain_id:%(target.group.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:reader and domain_id:%(target.group.domain_id)s and domain_id:%(target.domain.id)s)) and (domain_id:%(target.role.domain_id)s or None:%(target.role.domain_id)s)',
    deprecatedCheckStr: 'rule:admin_required',
    scopeTypes: ['system', 'domain'],
  },
  {
    name: 'identity:list_grants',
    checkStr:
      '(role:reader and system_scope:all) or (role:reader and domain_id:%(target.user.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:reader and domain_id:%(target.user.domain_id)s and domain_id:%(target.domain.id)s) or (role:reader and domain_id:%(target.group.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:reader and domain_id:%(target.group.domain_id)s and domain_id:%(target.domain.id)s)',
    deprecatedCheckStr: 'rule:admin_required',
    scopeTypes: ['system', 'domain'],
  },
  ...withDefault(
    {
      checkStr:
        '(role:admin and system_scope:all) or ((role:admin and domain_id:%(target.user.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:admin and domain_id:%(target.user.domain_id)s and domain_id:%(target.domain.id)s) or (role:admin and domain_id:%(target.group.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:admin and domain_id:%(target.group.domain_id)s and domain_id:%(target.domain.id)s)) and (domain_id:%(target.role.domain_id)s or None:%(target.role.domain_id)s)',
      deprecatedCheckStr: 'rule:admin_required',
      scopeTypes: ['system', 'domain'],
    },
    'identity:create_grant',
    'identity:revoke_grant',
  ),
  ...withDefault(
    SYSTEM_READER_WAS_ADMIN,
    'identity:list_system_grants_for_user',
    'identity:check_system_grant_for_user',
  ),
  ...withDefault(
    SYSTEM_ADMIN_WAS_ADMIN,
    'identity:create_system_grant_for_user',
    'identity:revoke_system_grant_for_user',
  ),
  ...withDefault(
    SYSTEM_READER_WAS_ADMIN,
    'identity:list_system_grants_for_group',
    'identity:check_system_grant_for_group',
  ),
  ...withDefault(
    SYSTEM_ADMIN_WAS_ADMIN,
    'identity:create_system_grant_for_group',
    'identity:revoke_system_grant_for_group',
  ),
  ...withDefault(GROUP_READER, 'identity:get_group', 'identity:list_groups'),
  {
    name: 'identity:list_groups_for_user',
    checkStr:
      '(role:reader and system_scope:all) or (role:reader and domain_id:%(target.user.domain_id)s) or user_id:%(user_id)s',
    deprecatedCheckStr: 'rule:admin_required or (rule:admin_or_owner)',
    scopeTypes: ['system', 'domain', 'project'],
  },
  ...withDefault(GROUP_ADMIN, 'identity:create_group', 'identity:update_group', 'identity:delete_group'),
  ...withDefault(GROUP_READER, 'identity:list_users_in_group'),
  {
    name: 'identity:remove_user_from_group',
    checkStr:
      '(role:admin and system_scope:all) or (role:admin and domain_id:%(target.group.domain_id)s and domain_id:%(target.user.domain_id)s)',
    deprecatedCheckStr: 'rule:admin_required',
    scopeTypes: ['system', 'domain'],
  },
  {
    name: 'identity:check_user_in_group',
    checkStr:
      '(role:reader and system_scope:all) or (role:reader and domain_id:%(target.group.domain_id)s and domain_id:%(target.user.domain_id)s)',
    deprecatedCheckStr: 'rule:admin_required',
    scopeTypes: ['system', 'domain'],
  },
  {
    name: 'identity:add_user_to_group',
    checkStr:
      '(role:admin and system_scope:all) or (role:admin and domain_id:%(target.group.domain_id)s and domain_id:%(target.user.domain_id)s)',
    deprecatedCheckStr: 'rule:admin_required',
    scopeTypes: ['system', 'domain'],
  },
  ...withDefault(SYSTEM_ADMIN_WAS_ADMIN, 'identity:create_identity_provider'),
  ...withDefault(SYSTEM_READER_WAS_ADMIN, 'identity:list_identity_providers', 'identity:get_identity_provider'),
  ...withDefault(SYSTEM_ADMIN_WAS_ADMIN, 'identity:update_identity_provider', 'identity:delete_identity_provider'),
  ...withDefault(SYSTEM_READER_WAS_ADMIN, 'identity:get_implied_role', 'identity:list_implied_roles'),
  ...withDefault(SYSTEM_ADMIN_WAS_ADMIN, 'identity:create_implied_role', 'identity:delete_implied_role'),
  ...withDefault(SYSTEM_READER_WAS_ADMIN, 'identity:list_role_inference_rules', 'identity:check_implied_role'),
  ...withDefault(ANYONE_ANY_SCOPE, 'identity:get_limit_model'),
  {
    name: 'identity:get_limit',
    checkStr:
      '(role:reader and system_scope:all) or (domain_id:%(target.limit.domain.id)s or domain_id:%(target.limit.project.domain_id)s) or (project_id:%(target.limit.project_id)s and not None:%(target.limit.project_id)s)',
    deprecatedCheckStr: 'rule:admin_required',
    scopeTypes: ['system', 'domain', 'project'],
  },
  ...withDefault(ANYONE_ANY_SCOPE, 'identity:list_limits'),
  ...withDefault(
    SYSTEM_ADMIN_WAS_ADMIN,
    'identity:create_limits',
    'identity:update_limit',
    'identity:delete_limit',
    'identity:create_mapping',
  ),
  ...withDefault(SYSTEM_READER_WAS_ADMIN, 'identity:get_mapping', 'identity:list_mappings'),
  ...withDefault(SYSTEM_ADMIN_WAS_ADMIN, 'identity:delete_mapping', 'identity:update_mapping'),
  ...withDefault(SYSTEM_READER_WAS_ADMIN, 'identity:get_policy', 'identity:list_policies'),
  ...withDefault(
    SYSTEM_ADMIN_WAS_ADMIN,
    'identity:create_policy',
    'identity:update_policy',
    'identity:delete_policy',
    'identity:create_policy_association_for_endpoint',
  ),
  ...withDefault(SYSTEM_READER_WAS_ADMIN, 'identity:check_policy_association_for_endpoint'),
  ...withDefault(
    SYSTEM_ADMIN_WAS_ADMIN,
    'identity:delete_policy_association_for_endpoint',
    'identity:create_policy_association_for_service',
  ),
  ...withDefault(SYSTEM_READER_WAS_ADMIN, 'identity:check_policy_association_for_service'),
  ...withDefault(
    SYSTEM_ADMIN_WAS_ADMIN,
    'identity:delete_policy_association_for_service',
    'identity:create_policy_association_for_region_and_service',
  ),
  ...withDefault(SYSTEM_READER_WAS_ADMIN, 'identity:check_policy_association_for_region_and_service'),
  ...withDefault(SYSTEM_ADMIN_WAS_ADMIN, 'identity:delete_policy_association_for_region_and_service'),
  ...withDefault(SYSTEM_READER_WAS_ADMIN, 'identity:get_policy_for_endpoint', 'identity:list_endpoints_for_policy'),
  ...withDefault(PROJECT_TAG_READER, 'identity:get_project'),
  ...withDefault(DOMAIN_READER, 'identity:list_projects'),
  {
    name: 'identity:list_user_projects',
    checkStr:
      '(role:reader and system_scope:all) or (role:reader and domain_id:%(target.user.domain_id)s) or user_id:%(target.user.id)s',
    deprecatedCheckStr: 'rule:admin_required or (rule:admin_or_owner)',
    scopeTypes: ['system', 'domain', 'project'],
  },
  ...withDefault(PROJECT_DOMAIN_ADMIN, 'identity:create_project', 'identity:update_project', 'identity:delete_project'),
  ...withDefault(PROJECT_TAG_READER, 'identity:list_project_tags', 'identity:get_project_tag'),
  ...withDefault(
    PROJECT_TAG_ADMIN,
    'identity:update_project_tags',
    'identity:create_project_tag',
    'identity:delete_project_tags',
    'identity:delete_project_tag',
  ),
  ...withDefault(SYSTEM_READER_WAS_ADMIN, 'identity:list_projects_for_endpoint'),
  ...withDefault(SYSTEM_ADMIN_WAS_ADMIN, 'identity:add_endpoint_to_project'),
  ...withDefault(SYSTEM_READER_WAS_ADMIN, 'identity:check_endpoint_in_project', 'identity:list_endpoints_for_project'),
  ...withDefault(
    SYSTEM_ADMIN_WAS_ADMIN,
    'identity:remove_endpoint_from_project',
    'identity:create_protocol',
    'identity:update_protocol',
  ),
  ...withDefault(SYSTEM_READER_WAS_ADMIN, 'identity:get_protocol', 'identity:list_protocols'),
  ...withDefault(SYSTEM_ADMIN_WAS_ADMIN, 'identity:delete_protocol'),
  ...withDefault(ANYONE_ANY_SCOPE, 'identity:get_region', 'identity:list_regions'),
  ...withDefault(SYSTEM_ADMIN_WAS_ADMIN, 'identity:create_region', 'identity:update_region', 'identity:delete_region'),
  ...withDefault(ANYONE_ANY_SCOPE, 'identity:get_registered_limit', 'identity:list_registered_limits'),
  ...withDefault(
    SYSTEM_ADMIN_WAS_ADMIN,
    'identity:create_registered_limits',
    'identity:update_registered_limit',
    'identity:delete_registered_limit',
  ),
  { name: 'identity:list_revoke_events', checkStr: 'rule:service_or_admin', scopeTypes: ['system'] },
  ...withDefault(SYSTEM_READER_WAS_ADMIN, 'identity:get_role', 'identity:list_roles'),
  ...withDefault(SYSTEM_ADMIN_WAS_ADMIN, 'identity:create_role', 'identity:update_role', 'identity:delete_role'),
  ...withDefault(SYSTEM_READER_WAS_ADMIN, 'identity:get_domain_role', 'identity:list_domain_roles'),
  ...withDefault(
    SYSTEM_ADMIN_WAS_ADMIN,
    'identity:create_domain_role',
    'identity:update_domain_role',
    'identity:delete_domain_role',
  ),
  ...withDefault(DOMAIN_READER, 'identity:list_role_assignments'),
  {
    name: 'identity:list_role_assignments_for_tree',
    checkStr:
      '(role:reader and system_scope:all) or (role:reader and domain_id:%(target.project.domain_id)s) or (role:admin and project_id:%(target.project.id)s)',
    deprecatedCheckStr: 'rule:admin_required',
    scopeTypes: ['system', 'domain', 'project'],
  },
  ...withDefault(SYSTEM_READER_WAS_ADMIN, 'identity:get_service', 'identity:list_services'),
  ...withDefault(
    SYSTEM_ADMIN_WAS_ADMIN,
    'identity:create_service',
    'identity:update_service',
    'identity:delete_service',
    'identity:create_service_provider',
  ),
  ...withDefault(SYSTEM_READER_WAS_ADMIN, 'identity:list_service_providers', 'identity:get_service_provider'),
  ...withDefault(SYSTEM_ADMIN_WAS_ADMIN, 'identity:update_service_provider', 'identity:delete_service_provider'),
  { name: 'identity:revocation_list', checkStr: 'rule:service_or_admin', scopeTypes: ['system', 'project'] },
  {
    name: 'identity:check_token',
    checkStr: '(role:reader and system_scope:all) or rule:token_subject',
    deprecatedCheckStr: 'rule:admin_required or (rule:admin_or_token_subject)',
    scopeTypes: ['system', 'domain', 'project'],
  },
  {
    name: 'identity:validate_token',
    checkStr: '(role:reader and system_scope:all) or rule:service_role or rule:token_subject',
    deprecatedCheckStr: 'rule:admin_required or (rule:service_admin_or_token_subject)',
    scopeTypes: ['system', 'domain', 'project'],
  },
  {
    name: 'identity:revoke_token',
    checkStr: '(role:admin and system_scope:all) or rule:token_subject',
    deprecatedCheckStr: 'rule:admin_required or (rule:admin_or_token_subject)',
    scopeTypes: ['system', 'domain', 'project'],
  },
  { name: 'identity:create_trust', checkStr: 'user_id:%(target.trust.trustor_user_id)s', scopeTypes: ['project'] },
  ...withDefault(SYSTEM_READER_WAS_ADMIN, 'identity:list_trusts'),
  {
    name: 'identity:list_trusts_for_trustor',
    checkStr: 'role:reader and system_scope:all or user_id:%(target.trust.trustor_user_id)s',
    deprecatedCheckStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:list_trusts_for_trustee',
    checkStr: 'role:reader and system_scope:all or user_id:%(target.trust.trustee_user_id)s',
    deprecatedCheckStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
  },
  ...withDefault(TRUST_PARTY_OR_SYSTEM_READER, 'identity:list_roles_for_trust', 'identity:get_role_for_trust'),
  {
    name: 'identity:delete_trust',
    checkStr: 'role:admin and system_scope:all or user_id:%(target.trust.trustor_user_id)s',
    deprecatedCheckStr: 'rule:admin_required or (user_id:%(target.trust.trustor_user_id)s)',
    scopeTypes: ['system', 'project'],
  },
  ...withDefault(TRUST_PARTY_OR_SYSTEM_READER, 'identity:get_trust'),
  {
    name: 'identity:get_user',
    checkStr:
      '(role:reader and system_scope:all) or (role:reader and token.domain.id:%(target.user.domain_id)s) or user_id:%(target.user.id)s',
    deprecatedCheckStr: 'rule:admin_required or (rule:admin_or_owner)',
    scopeTypes: ['system', 'domain', 'project'],
  },
  ...withDefault(DOMAIN_READER, 'identity:list_users'),
  ...withDefault(ANYONE, 'identity:list_projects_for_user', 'identity:list_domains_for_user'),
  ...withDefault(USER_DOMAIN_ADMIN, 'identity:create_user', 'identity:update_user', 'identity:delete_user'),
  // Keystone checks these in code (the s3/ec2tokens controllers); named here so they can be overridden.
  ...withDefault(
    { checkStr: 'rule:service_or_admin', scopeTypes: ['system', 'domain', 'project'] },
    'identity:s3tokens_validate',
    'identity:ec2tokens_validate',
  ),
];
