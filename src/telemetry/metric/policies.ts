// Gnocchi's default policy (Zed, gnocchi/rest/policy.yaml): archive policies and resource types
// are the admin's; resources and metrics belong to their creator and to the project they are
// for. Override per rule in <policyDir>/metric.yaml.
import { type PolicyDefault, type RuleDefault, withDefault } from '../../core/policy/index.ts';

// The defaults that several rules share.
const ADMIN: RuleDefault = { checkStr: 'role:admin' };
const ANYONE: RuleDefault = { checkStr: '' };
const ADMIN_OR_CREATOR: RuleDefault = { checkStr: 'rule:admin_or_creator' };
const ADMIN_OR_CREATOR_OR_METRIC_OWNER: RuleDefault = { checkStr: 'rule:admin_or_creator or rule:metric_owner' };

export const METRIC_POLICIES: PolicyDefault[] = [
  {
    name: 'admin_or_creator',
    checkStr: 'role:admin or user_id:%(created_by_user_id)s or project_id:%(created_by_project_id)s',
  },
  { name: 'resource_owner', checkStr: 'project_id:%(project_id)s' },
  { name: 'metric_owner', checkStr: 'project_id:%(resource.project_id)s' },
  ...withDefault(ADMIN, 'get status'),
  ...withDefault(ANYONE, 'create resource'),
  { name: 'get resource', checkStr: 'rule:admin_or_creator or rule:resource_owner' },
  ...withDefault(ADMIN_OR_CREATOR, 'update resource', 'delete resource', 'delete resources'),
  ...withDefault(ANYONE, 'list resource'),
  ...withDefault(ADMIN, 'list all resource'),
  ...withDefault(ANYONE, 'search resource'),
  ...withDefault(ADMIN, 'create resource type', 'delete resource type', 'update resource type'),
  ...withDefault(ANYONE, 'get resource type', 'list resource type', 'get archive policy', 'list archive policy'),
  ...withDefault(
    ADMIN,
    'create archive policy',
    'update archive policy',
    'delete archive policy',
    'create archive policy rule',
  ),
  ...withDefault(ANYONE, 'get archive policy rule', 'list archive policy rule'),
  ...withDefault(ADMIN, 'update archive policy rule', 'delete archive policy rule'),
  ...withDefault(ANYONE, 'create metric'),
  ...withDefault(ADMIN_OR_CREATOR, 'delete metric'),
  ...withDefault(ADMIN_OR_CREATOR_OR_METRIC_OWNER, 'get metric', 'search metric'),
  ...withDefault(ANYONE, 'list metric'),
  ...withDefault(ADMIN, 'list all metric'),
  ...withDefault(ADMIN_OR_CREATOR_OR_METRIC_OWNER, 'get measures'),
  ...withDefault(ADMIN_OR_CREATOR, 'post measures'),
];
