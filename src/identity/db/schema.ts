// Identity's tables, as db/migrations.ts creates them: Kysely<IdentityDb>. Domains are projects with
// is_domain = 1; `extra`, `options` and the role and rule lists are JSON text; times are ISO text.
import type { Generated } from 'kysely';
import type { IntBool } from '../../core/db.ts';

export interface ProjectTable {
  id: string;
  name: string;
  domain_id: string;
  parent_id: string | null;
  is_domain: Generated<IntBool>;
  enabled: Generated<IntBool>;
  description: string | null;
  extra: string | null;
  options: string | null;
  created_at: string | null;
}

export interface ProjectTagTable {
  project_id: string;
  name: string;
}

export interface UserTable {
  id: string;
  name: string;
  domain_id: string;
  enabled: Generated<IntBool>;
  default_project_id: string | null;
  extra: string | null;
  options: string | null;
  created_at: string | null;
  last_active_at: string | null;
  failed_auth_count: Generated<number>;
  failed_auth_at: string | null;
}

export interface PasswordTable {
  id: Generated<number>;
  user_id: string;
  hash: string;
  created_at: string;
  expires_at: string | null;
  self_service: Generated<IntBool>;
}

export interface GroupTable {
  id: string;
  name: string;
  domain_id: string;
  description: string | null;
  extra: string | null;
}

export interface UserGroupMembershipTable {
  user_id: string;
  group_id: string;
}

export interface RoleTable {
  id: string;
  name: string;
  domain_id: string;
  description: string | null;
  options: string | null;
  extra: string | null;
}

export interface ImpliedRoleTable {
  prior_role_id: string;
  implied_role_id: string;
}

export interface AssignmentTable {
  type: string;
  actor_id: string;
  target_id: string;
  role_id: string;
  inherited: Generated<IntBool>;
}

export interface RegionTable {
  id: string;
  description: string | null;
  parent_region_id: string | null;
  extra: string | null;
}

export interface ServiceTable {
  id: string;
  type: string;
  enabled: Generated<IntBool>;
  extra: string | null;
}

export interface EndpointTable {
  id: string;
  service_id: string;
  interface: string;
  region_id: string | null;
  url: string;
  enabled: Generated<IntBool>;
  extra: string | null;
}

export interface RevocationEventTable {
  id: Generated<number>;
  domain_id: string | null;
  project_id: string | null;
  user_id: string | null;
  role_id: string | null;
  trust_id: string | null;
  consumer_id: string | null;
  access_token_id: string | null;
  audit_id: string | null;
  audit_chain_id: string | null;
  issued_before: string;
  expires_at: string | null;
  revoked_at: string;
}

export interface CredentialTable {
  id: string;
  user_id: string;
  project_id: string | null;
  type: string;
  encrypted_blob: string;
  key_hash: string | null;
  extra: string | null;
}

export interface ApplicationCredentialTable {
  id: string;
  name: string;
  secret_hash: string;
  description: string | null;
  user_id: string;
  project_id: string | null;
  system: string | null;
  expires_at: string | null;
  unrestricted: Generated<IntBool>;
  roles: string;
  access_rules: string | null;
}

export interface AccessRuleTable {
  id: string;
  user_id: string;
  service: string;
  path: string;
  method: string;
  /** Creation order within the user's rules (Keystone lists them in insertion order). */
  position: number | null;
}

export interface TrustTable {
  id: string;
  trustor_user_id: string;
  trustee_user_id: string;
  project_id: string | null;
  impersonation: IntBool;
  expires_at: string | null;
  remaining_uses: number | null;
  redelegated_trust_id: string | null;
  redelegation_count: number | null;
  roles: string;
  deleted_at: string | null;
  extra: string | null;
}

export interface RegisteredLimitTable {
  id: string;
  service_id: string;
  region_id: string | null;
  resource_name: string;
  default_limit: number;
  description: string | null;
}

export interface LimitTable {
  id: string;
  project_id: string | null;
  domain_id: string | null;
  service_id: string;
  region_id: string | null;
  resource_name: string;
  resource_limit: number;
  description: string | null;
}

export interface PolicyTable {
  id: string;
  type: string;
  blob: string;
  extra: string | null;
}

export interface EndpointGroupTable {
  id: string;
  name: string;
  description: string | null;
  filters: string;
}

export interface ProjectEndpointGroupTable {
  endpoint_group_id: string;
  project_id: string;
}

export interface ProjectEndpointTable {
  endpoint_id: string;
  project_id: string;
}

export interface DomainConfigTable {
  domain_id: string;
  group: string;
  option: string;
  value: string;
}

export interface PolicyAssociationTable {
  id: string;
  policy_id: string;
  endpoint_id: string | null;
  service_id: string | null;
  region_id: string | null;
}

export interface ConsumerTable {
  id: string;
  description: string | null;
  secret: string;
  extra: string | null;
}

/** OS-OAUTH1 request tokens (keystone/oauth1/backends/sql.py RequestToken). */
export interface OauthRequestTokenTable {
  id: string;
  request_secret: string;
  verifier: string | null;
  authorizing_user_id: string | null;
  requested_project_id: string;
  /** JSON list of role ids, set by authorize. */
  role_ids: string | null;
  consumer_id: string;
  expires_at: string | null;
}

/** OS-OAUTH1 access tokens (keystone/oauth1/backends/sql.py AccessToken). */
export interface OauthAccessTokenTable {
  id: string;
  access_secret: string;
  authorizing_user_id: string;
  project_id: string;
  /** JSON list of role ids. */
  role_ids: string;
  consumer_id: string;
  expires_at: string | null;
}

export interface IdentityDb {
  project: ProjectTable;
  project_tag: ProjectTagTable;
  user: UserTable;
  password: PasswordTable;
  group: GroupTable;
  user_group_membership: UserGroupMembershipTable;
  role: RoleTable;
  implied_role: ImpliedRoleTable;
  assignment: AssignmentTable;
  region: RegionTable;
  service: ServiceTable;
  endpoint: EndpointTable;
  revocation_event: RevocationEventTable;
  credential: CredentialTable;
  application_credential: ApplicationCredentialTable;
  access_rule: AccessRuleTable;
  trust: TrustTable;
  registered_limit: RegisteredLimitTable;
  limit: LimitTable;
  policy: PolicyTable;
  endpoint_group: EndpointGroupTable;
  project_endpoint_group: ProjectEndpointGroupTable;
  project_endpoint: ProjectEndpointTable;
  domain_config: DomainConfigTable;
  policy_association: PolicyAssociationTable;
  consumer: ConsumerTable;
  oauth_request_token: OauthRequestTokenTable;
  oauth_access_token: OauthAccessTokenTable;
}
