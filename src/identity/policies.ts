// Keystone's default policy (Zed) with enforce_new_defaults off: where a rule has a deprecated
// predecessor, the two are or-ed, as oslo.policy does by default in Zed. Override per rule in
// <policyDir>/identity.yaml.
import type { PolicyDefault } from '../core/policy/index.ts';

export const IDENTITY_POLICIES: PolicyDefault[] = [
  { name: 'admin_required', checkStr: 'role:admin or is_admin:1' },
  { name: 'service_role', checkStr: 'role:service' },
  { name: 'service_or_admin', checkStr: 'rule:admin_required or rule:service_role' },
  { name: 'owner', checkStr: 'user_id:%(user_id)s' },
  { name: 'admin_or_owner', checkStr: 'rule:admin_required or rule:owner' },
  { name: 'token_subject', checkStr: 'user_id:%(target.token.user_id)s' },
  { name: 'admin_or_token_subject', checkStr: 'rule:admin_required or rule:token_subject' },
  { name: 'service_admin_or_token_subject', checkStr: 'rule:service_or_admin or rule:token_subject' },
  {
    name: 'identity:get_access_rule',
    checkStr: '(role:reader and system_scope:all) or user_id:%(target.user.id)s',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:list_access_rules',
    checkStr: '(role:reader and system_scope:all) or user_id:%(target.user.id)s',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:delete_access_rule',
    checkStr: '(role:admin and system_scope:all) or user_id:%(target.user.id)s',
    scopeTypes: ['system', 'project'],
  },
  { name: 'identity:authorize_request_token', checkStr: 'rule:admin_required', scopeTypes: ['project'] },
  { name: 'identity:get_access_token', checkStr: 'rule:admin_required', scopeTypes: ['project'] },
  { name: 'identity:get_access_token_role', checkStr: 'rule:admin_required', scopeTypes: ['project'] },
  { name: 'identity:list_access_tokens', checkStr: 'rule:admin_required', scopeTypes: ['project'] },
  { name: 'identity:list_access_token_roles', checkStr: 'rule:admin_required', scopeTypes: ['project'] },
  { name: 'identity:delete_access_token', checkStr: 'rule:admin_required', scopeTypes: ['project'] },
  {
    name: 'identity:get_application_credential',
    checkStr: '((rule:admin_required) or (role:reader and system_scope:all) or rule:owner) or (rule:admin_or_owner)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:list_application_credentials',
    checkStr: '((rule:admin_required) or (role:reader and system_scope:all) or rule:owner) or (rule:admin_or_owner)',
    scopeTypes: ['system', 'project'],
  },
  { name: 'identity:create_application_credential', checkStr: 'user_id:%(user_id)s', scopeTypes: ['project'] },
  {
    name: 'identity:delete_application_credential',
    checkStr: 'rule:admin_or_owner',
    scopeTypes: ['system', 'project'],
  },
  { name: 'identity:get_auth_catalog', checkStr: '' },
  { name: 'identity:get_auth_projects', checkStr: '' },
  { name: 'identity:get_auth_domains', checkStr: '' },
  { name: 'identity:get_auth_system', checkStr: '' },
  {
    name: 'identity:get_consumer',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:list_consumers',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  { name: 'identity:create_consumer', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  { name: 'identity:update_consumer', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  { name: 'identity:delete_consumer', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  {
    name: 'identity:get_credential',
    checkStr:
      '((rule:admin_required) or (role:reader and system_scope:all) or user_id:%(target.credential.user_id)s) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:list_credentials',
    checkStr:
      '((rule:admin_required) or (role:reader and system_scope:all) or user_id:%(target.credential.user_id)s) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:create_credential',
    checkStr: '((rule:admin_required) or user_id:%(target.credential.user_id)s) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:update_credential',
    checkStr: '((rule:admin_required) or user_id:%(target.credential.user_id)s) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:delete_credential',
    checkStr: '((rule:admin_required) or user_id:%(target.credential.user_id)s) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:get_domain',
    checkStr:
      '(rule:admin_required or (role:reader and system_scope:all) or token.domain.id:%(target.domain.id)s or token.project.domain.id:%(target.domain.id)s) or (rule:admin_required or token.project.domain.id:%(target.domain.id)s)',
    scopeTypes: ['system', 'domain', 'project'],
  },
  {
    name: 'identity:list_domains',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  { name: 'identity:create_domain', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  { name: 'identity:update_domain', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  { name: 'identity:delete_domain', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  { name: 'identity:create_domain_config', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  {
    name: 'identity:get_domain_config',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  { name: 'identity:get_security_compliance_domain_config', checkStr: '', scopeTypes: ['system', 'domain', 'project'] },
  { name: 'identity:update_domain_config', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  { name: 'identity:delete_domain_config', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  {
    name: 'identity:get_domain_config_default',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:ec2_get_credential',
    checkStr:
      '((rule:admin_required) or (role:reader and system_scope:all) or user_id:%(target.credential.user_id)s) or (rule:admin_required or (rule:owner and user_id:%(target.credential.user_id)s))',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:ec2_list_credentials',
    checkStr:
      '((rule:admin_required) or (role:member and user_id:%(target.credential.user_id)s)) or (rule:admin_or_owner)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:ec2_create_credential',
    checkStr:
      '((rule:admin_required) or (role:member and user_id:%(target.credential.user_id)s)) or (rule:admin_or_owner)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:ec2_delete_credential',
    checkStr:
      '((rule:admin_required) or user_id:%(target.credential.user_id)s) or (rule:admin_required or (rule:owner and user_id:%(target.credential.user_id)s))',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:get_endpoint',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:list_endpoints',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  { name: 'identity:create_endpoint', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  { name: 'identity:update_endpoint', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  { name: 'identity:delete_endpoint', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  { name: 'identity:create_endpoint_group', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  {
    name: 'identity:list_endpoint_groups',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:get_endpoint_group',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  { name: 'identity:update_endpoint_group', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  { name: 'identity:delete_endpoint_group', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  {
    name: 'identity:list_projects_associated_with_endpoint_group',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:list_endpoints_associated_with_endpoint_group',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:get_endpoint_group_in_project',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:list_endpoint_groups_for_project',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:add_endpoint_group_to_project',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:remove_endpoint_group_from_project',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:check_grant',
    checkStr:
      '((rule:admin_required) or ((role:reader and system_scope:all) or ((role:reader and domain_id:%(target.user.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:reader and domain_id:%(target.user.domain_id)s and domain_id:%(target.domain.id)s) or (role:reader and domain_id:%(target.group.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:reader and domain_id:%(target.group.domain_id)s and domain_id:%(target.domain.id)s)) and (domain_id:%(target.role.domain_id)s or None:%(target.role.domain_id)s))) or (rule:admin_required)',
    scopeTypes: ['system', 'domain', 'project'],
  },
  {
    name: 'identity:list_grants',
    checkStr:
      '((rule:admin_required) or ((role:reader and system_scope:all) or (role:reader and domain_id:%(target.user.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:reader and domain_id:%(target.user.domain_id)s and domain_id:%(target.domain.id)s) or (role:reader and domain_id:%(target.group.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:reader and domain_id:%(target.group.domain_id)s and domain_id:%(target.domain.id)s))) or (rule:admin_required)',
    scopeTypes: ['system', 'domain', 'project'],
  },
  {
    name: 'identity:create_grant',
    checkStr:
      '((rule:admin_required) or ((role:admin and domain_id:%(target.user.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:admin and domain_id:%(target.user.domain_id)s and domain_id:%(target.domain.id)s) or (role:admin and domain_id:%(target.group.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:admin and domain_id:%(target.group.domain_id)s and domain_id:%(target.domain.id)s)) and (domain_id:%(target.role.domain_id)s or None:%(target.role.domain_id)s)) or (rule:admin_required)',
    scopeTypes: ['system', 'domain', 'project'],
  },
  {
    name: 'identity:revoke_grant',
    checkStr:
      '((rule:admin_required) or ((role:admin and domain_id:%(target.user.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:admin and domain_id:%(target.user.domain_id)s and domain_id:%(target.domain.id)s) or (role:admin and domain_id:%(target.group.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:admin and domain_id:%(target.group.domain_id)s and domain_id:%(target.domain.id)s)) and (domain_id:%(target.role.domain_id)s or None:%(target.role.domain_id)s)) or (rule:admin_required)',
    scopeTypes: ['system', 'domain', 'project'],
  },
  {
    name: 'identity:list_system_grants_for_user',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:check_system_grant_for_user',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  { name: 'identity:create_system_grant_for_user', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  { name: 'identity:revoke_system_grant_for_user', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  {
    name: 'identity:list_system_grants_for_group',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:check_system_grant_for_group',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:create_system_grant_for_group',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:revoke_system_grant_for_group',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:get_group',
    checkStr:
      '((rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.group.domain_id)s)) or (rule:admin_required)',
    scopeTypes: ['system', 'domain', 'project'],
  },
  {
    name: 'identity:list_groups',
    checkStr:
      '((rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.group.domain_id)s)) or (rule:admin_required)',
    scopeTypes: ['system', 'domain', 'project'],
  },
  {
    name: 'identity:list_groups_for_user',
    checkStr:
      '((rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.user.domain_id)s) or user_id:%(user_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['system', 'domain', 'project'],
  },
  { name: 'identity:create_group', checkStr: 'rule:admin_required', scopeTypes: ['system', 'domain', 'project'] },
  { name: 'identity:update_group', checkStr: 'rule:admin_required', scopeTypes: ['system', 'domain', 'project'] },
  { name: 'identity:delete_group', checkStr: 'rule:admin_required', scopeTypes: ['system', 'domain', 'project'] },
  {
    name: 'identity:list_users_in_group',
    checkStr:
      '((rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.group.domain_id)s)) or (rule:admin_required)',
    scopeTypes: ['system', 'domain', 'project'],
  },
  {
    name: 'identity:remove_user_from_group',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'domain', 'project'],
  },
  {
    name: 'identity:check_user_in_group',
    checkStr:
      '((rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.group.domain_id)s and domain_id:%(target.user.domain_id)s)) or (rule:admin_required)',
    scopeTypes: ['system', 'domain', 'project'],
  },
  { name: 'identity:add_user_to_group', checkStr: 'rule:admin_required', scopeTypes: ['system', 'domain', 'project'] },
  { name: 'identity:create_identity_provider', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  {
    name: 'identity:list_identity_providers',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:get_identity_provider',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  { name: 'identity:update_identity_provider', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  { name: 'identity:delete_identity_provider', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  {
    name: 'identity:get_implied_role',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:list_implied_roles',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  { name: 'identity:create_implied_role', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  { name: 'identity:delete_implied_role', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  {
    name: 'identity:list_role_inference_rules',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:check_implied_role',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  { name: 'identity:get_limit_model', checkStr: '', scopeTypes: ['system', 'domain', 'project'] },
  {
    name: 'identity:get_limit',
    checkStr:
      'rule:admin_required or (role:reader and system_scope:all) or (domain_id:%(target.limit.domain.id)s or domain_id:%(target.limit.project.domain_id)s) or (project_id:%(target.limit.project_id)s and not None:%(target.limit.project_id)s)',
    scopeTypes: ['system', 'domain', 'project'],
  },
  { name: 'identity:list_limits', checkStr: '', scopeTypes: ['system', 'domain', 'project'] },
  { name: 'identity:create_limits', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  { name: 'identity:update_limit', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  { name: 'identity:delete_limit', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  { name: 'identity:create_mapping', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  {
    name: 'identity:get_mapping',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:list_mappings',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  { name: 'identity:delete_mapping', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  { name: 'identity:update_mapping', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  {
    name: 'identity:get_policy',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:list_policies',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  { name: 'identity:create_policy', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  { name: 'identity:update_policy', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  { name: 'identity:delete_policy', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  {
    name: 'identity:create_policy_association_for_endpoint',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:check_policy_association_for_endpoint',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:delete_policy_association_for_endpoint',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:create_policy_association_for_service',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:check_policy_association_for_service',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:delete_policy_association_for_service',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:create_policy_association_for_region_and_service',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:check_policy_association_for_region_and_service',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:delete_policy_association_for_region_and_service',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:get_policy_for_endpoint',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:list_endpoints_for_policy',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:get_project',
    checkStr:
      '((role:reader and system_scope:all) or (role:reader and domain_id:%(target.project.domain_id)s) or project_id:%(target.project.id)s) or (rule:admin_required or project_id:%(target.project.id)s)',
    scopeTypes: ['system', 'domain', 'project'],
  },
  {
    name: 'identity:list_projects',
    checkStr:
      '((rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.domain_id)s)) or (rule:admin_required)',
    scopeTypes: ['system', 'domain', 'project'],
  },
  {
    name: 'identity:list_user_projects',
    checkStr:
      '((rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.user.domain_id)s) or user_id:%(target.user.id)s) or (rule:admin_or_owner)',
    scopeTypes: ['system', 'domain', 'project'],
  },
  { name: 'identity:create_project', checkStr: 'rule:admin_required', scopeTypes: ['system', 'domain', 'project'] },
  { name: 'identity:update_project', checkStr: 'rule:admin_required', scopeTypes: ['system', 'domain', 'project'] },
  { name: 'identity:delete_project', checkStr: 'rule:admin_required', scopeTypes: ['system', 'domain', 'project'] },
  {
    name: 'identity:list_project_tags',
    checkStr:
      '((rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.project.domain_id)s) or project_id:%(target.project.id)s) or (rule:admin_required or project_id:%(target.project.id)s)',
    scopeTypes: ['system', 'domain', 'project'],
  },
  {
    name: 'identity:get_project_tag',
    checkStr:
      '((rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.project.domain_id)s) or project_id:%(target.project.id)s) or (rule:admin_required or project_id:%(target.project.id)s)',
    scopeTypes: ['system', 'domain', 'project'],
  },
  {
    name: 'identity:update_project_tags',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'domain', 'project'],
  },
  { name: 'identity:create_project_tag', checkStr: 'rule:admin_required', scopeTypes: ['system', 'domain', 'project'] },
  {
    name: 'identity:delete_project_tags',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'domain', 'project'],
  },
  { name: 'identity:delete_project_tag', checkStr: 'rule:admin_required', scopeTypes: ['system', 'domain', 'project'] },
  {
    name: 'identity:list_projects_for_endpoint',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  { name: 'identity:add_endpoint_to_project', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  {
    name: 'identity:check_endpoint_in_project',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:list_endpoints_for_project',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  { name: 'identity:remove_endpoint_from_project', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  { name: 'identity:create_protocol', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  { name: 'identity:update_protocol', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  {
    name: 'identity:get_protocol',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:list_protocols',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  { name: 'identity:delete_protocol', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  { name: 'identity:get_region', checkStr: '', scopeTypes: ['system', 'domain', 'project'] },
  { name: 'identity:list_regions', checkStr: '', scopeTypes: ['system', 'domain', 'project'] },
  { name: 'identity:create_region', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  { name: 'identity:update_region', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  { name: 'identity:delete_region', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  { name: 'identity:get_registered_limit', checkStr: '', scopeTypes: ['system', 'domain', 'project'] },
  { name: 'identity:list_registered_limits', checkStr: '', scopeTypes: ['system', 'domain', 'project'] },
  { name: 'identity:create_registered_limits', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  { name: 'identity:update_registered_limit', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  { name: 'identity:delete_registered_limit', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  { name: 'identity:list_revoke_events', checkStr: 'rule:service_or_admin', scopeTypes: ['system', 'project'] },
  {
    name: 'identity:get_role',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:list_roles',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  { name: 'identity:create_role', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  { name: 'identity:update_role', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  { name: 'identity:delete_role', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  {
    name: 'identity:get_domain_role',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:list_domain_roles',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  { name: 'identity:create_domain_role', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  { name: 'identity:update_domain_role', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  { name: 'identity:delete_domain_role', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  {
    name: 'identity:list_role_assignments',
    checkStr:
      '((rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.domain_id)s and not None:%(target.domain_id)s)) or (rule:admin_required)',
    scopeTypes: ['system', 'domain', 'project'],
  },
  {
    name: 'identity:list_role_assignments_for_tree',
    checkStr:
      '((rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.domain_id)s and not None:%(target.domain_id)s)) or (rule:admin_required)',
    scopeTypes: ['system', 'domain', 'project'],
  },
  {
    name: 'identity:s3tokens_validate',
    checkStr: 'rule:service_or_admin',
    scopeTypes: ['system', 'domain', 'project'],
  },
  {
    name: 'identity:ec2tokens_validate',
    checkStr: 'rule:service_or_admin',
    scopeTypes: ['system', 'domain', 'project'],
  },
  {
    name: 'identity:get_service',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:list_services',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  { name: 'identity:create_service', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  { name: 'identity:update_service', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  { name: 'identity:delete_service', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  { name: 'identity:create_service_provider', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  {
    name: 'identity:list_service_providers',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:get_service_provider',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  { name: 'identity:update_service_provider', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  { name: 'identity:delete_service_provider', checkStr: 'rule:admin_required', scopeTypes: ['system', 'project'] },
  { name: 'identity:revocation_list', checkStr: 'rule:service_or_admin', scopeTypes: ['system', 'project'] },
  {
    name: 'identity:check_token',
    checkStr:
      '(rule:admin_required or (role:reader and system_scope:all) or rule:token_subject) or (rule:admin_or_token_subject)',
    scopeTypes: ['system', 'domain', 'project'],
  },
  {
    name: 'identity:validate_token',
    checkStr:
      '(rule:admin_required or (role:reader and system_scope:all) or rule:service_role or rule:token_subject) or (rule:service_admin_or_token_subject)',
    scopeTypes: ['system', 'domain', 'project'],
  },
  {
    name: 'identity:revoke_token',
    checkStr: '(rule:admin_required or rule:token_subject) or (rule:admin_or_token_subject)',
    scopeTypes: ['system', 'domain', 'project'],
  },
  { name: 'identity:create_trust', checkStr: 'user_id:%(target.trust.trustor_user_id)s', scopeTypes: ['project'] },
  {
    name: 'identity:list_trusts',
    checkStr: '(rule:admin_required or (role:reader and system_scope:all)) or (rule:admin_required)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:list_trusts_for_trustor',
    checkStr: '(rule:admin_required) or (role:reader and system_scope:all or user_id:%(target.trust.trustor_user_id)s)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:list_trusts_for_trustee',
    checkStr: '(rule:admin_required) or (role:reader and system_scope:all or user_id:%(target.trust.trustee_user_id)s)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:list_roles_for_trust',
    checkStr:
      '((rule:admin_required) or (role:reader and system_scope:all or user_id:%(target.trust.trustor_user_id)s or user_id:%(target.trust.trustee_user_id)s)) or (user_id:%(target.trust.trustor_user_id)s or user_id:%(target.trust.trustee_user_id)s)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:get_role_for_trust',
    checkStr:
      '((rule:admin_required) or (role:reader and system_scope:all or user_id:%(target.trust.trustor_user_id)s or user_id:%(target.trust.trustee_user_id)s)) or (user_id:%(target.trust.trustor_user_id)s or user_id:%(target.trust.trustee_user_id)s)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:delete_trust',
    checkStr:
      '(rule:admin_required or user_id:%(target.trust.trustor_user_id)s) or (user_id:%(target.trust.trustor_user_id)s)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:get_trust',
    checkStr:
      '((rule:admin_required) or (role:reader and system_scope:all or user_id:%(target.trust.trustor_user_id)s or user_id:%(target.trust.trustee_user_id)s)) or (user_id:%(target.trust.trustor_user_id)s or user_id:%(target.trust.trustee_user_id)s)',
    scopeTypes: ['system', 'project'],
  },
  {
    name: 'identity:get_user',
    checkStr:
      '((rule:admin_required) or (role:reader and system_scope:all) or (role:reader and token.domain.id:%(target.user.domain_id)s) or user_id:%(target.user.id)s) or (rule:admin_or_owner)',
    scopeTypes: ['system', 'domain', 'project'],
  },
  {
    name: 'identity:list_users',
    checkStr:
      '((rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.domain_id)s)) or (rule:admin_required)',
    scopeTypes: ['system', 'domain', 'project'],
  },
  { name: 'identity:list_projects_for_user', checkStr: '' },
  { name: 'identity:list_domains_for_user', checkStr: '' },
  { name: 'identity:create_user', checkStr: 'rule:admin_required', scopeTypes: ['system', 'domain', 'project'] },
  { name: 'identity:update_user', checkStr: 'rule:admin_required', scopeTypes: ['system', 'domain', 'project'] },
  { name: 'identity:delete_user', checkStr: 'rule:admin_required', scopeTypes: ['system', 'domain', 'project'] },
];
