// Swift authorizes with keystoneauth's own logic (src/object-store/acl.ts), not oslo.policy;
// these named rules carry its role settings so a deployment can override them in
// <policyDir>/object-store.yaml: operator_roles and reseller_admin_role.
import type { PolicyDefault } from '../core/policy/index.ts';

export const OBJECT_STORE_POLICIES: PolicyDefault[] = [
  {
    name: 'swift:operator',
    checkStr: 'role:admin or role:member',
    description: "keystoneauth operator_roles: the token's project owns AUTH_<project_id>",
  },
  {
    name: 'swift:reseller_admin',
    checkStr: 'role:ResellerAdmin',
    description: 'keystoneauth reseller_admin_role: any account',
  },
];
