// Glance's default policy (stable/zed, glance/policies/*.py; glance 25): the new defaults (member/reader
// roles, project scope), in both modes. Glance's deprecated predecessors are `rule:default` (empty:
// anyone), which leaves the checks to glance's own code; Stratus applies the new defaults instead, as
// Glance does with enforce_new_defaults, so only the scope types follow the switch
// (`image.policy.enforceScope`, or the cloud-wide `secureRbac`). The target of an image rule carries the
// image's owner as project_id, the caller's project as member_id when it is a member of the image, and the
// image's visibility, as Glance's ImageTarget does. Override per rule in <policyDir>/image.yaml.
import type { PolicyDefault } from '../core/policy/index.ts';

const PROJECT_MEMBER = 'role:member and project_id:%(project_id)s';
const PROJECT_READER = 'role:reader and project_id:%(project_id)s';
const IMAGE_MEMBER = 'project_id:%(member_id)s';
const VISIBLE = `${IMAGE_MEMBER} or 'community':%(visibility)s or 'public':%(visibility)s or 'shared':%(visibility)s`;
const ADMIN_OR_PROJECT_MEMBER = `role:admin or (${PROJECT_MEMBER})`;
const ADMIN_OR_PROJECT_READER = `role:admin or (${PROJECT_READER})`;
const GET_IMAGE = `role:admin or (role:reader and (project_id:%(project_id)s or ${VISIBLE}))`;
const DOWNLOAD_IMAGE = `role:admin or (role:member and (project_id:%(project_id)s or ${VISIBLE}))`;
const CREATE_IMAGE = `role:admin or (${PROJECT_MEMBER} and project_id:%(owner)s)`;
const GET_NAMESPACE = `role:admin or (role:reader and (project_id:%(project_id)s or 'public':%(visibility)s))`;
const SHARED_MEMBER = `role:admin or (role:member and ${IMAGE_MEMBER})`;
const READER_OR_SHARED_MEMBER = `role:admin or role:reader and (project_id:%(project_id)s or ${IMAGE_MEMBER})`;

const p = (name: string, checkStr: string): PolicyDefault => ({ name, checkStr, scopeTypes: ['project'] });

export const IMAGE_POLICIES: PolicyDefault[] = [
  { name: 'default', checkStr: '' },
  { name: 'context_is_admin', checkStr: 'role:admin' },
  p('add_image', CREATE_IMAGE),
  p('delete_image', ADMIN_OR_PROJECT_MEMBER),
  p('get_image', GET_IMAGE),
  p('get_images', ADMIN_OR_PROJECT_READER),
  p('modify_image', ADMIN_OR_PROJECT_MEMBER),
  p('publicize_image', 'role:admin'),
  p('communitize_image', ADMIN_OR_PROJECT_MEMBER),
  p('download_image', DOWNLOAD_IMAGE),
  p('upload_image', ADMIN_OR_PROJECT_MEMBER),
  p('delete_image_location', 'role:admin'),
  p('get_image_location', ADMIN_OR_PROJECT_READER),
  p('set_image_location', ADMIN_OR_PROJECT_MEMBER),
  p('add_member', ADMIN_OR_PROJECT_MEMBER),
  p('delete_member', ADMIN_OR_PROJECT_MEMBER),
  p('get_member', READER_OR_SHARED_MEMBER),
  p('get_members', READER_OR_SHARED_MEMBER),
  p('modify_member', SHARED_MEMBER),
  p('manage_image_cache', 'role:admin'),
  p('deactivate', ADMIN_OR_PROJECT_MEMBER),
  p('reactivate', ADMIN_OR_PROJECT_MEMBER),
  p('copy_image', 'role:admin'),
  p('cache_image', 'role:admin'),
  p('cache_list', 'role:admin'),
  p('cache_delete', 'role:admin'),
  p('stores_info_detail', 'role:admin'),
  p('get_task', 'rule:default'),
  p('get_tasks', 'rule:default'),
  p('add_task', 'rule:default'),
  p('modify_task', 'rule:default'),
  p('tasks_api_access', 'role:admin'),
  { name: 'metadef_default', checkStr: '' },
  { name: 'metadef_admin', checkStr: 'role:admin' },
  p('get_metadef_namespace', GET_NAMESPACE),
  p('get_metadef_namespaces', ADMIN_OR_PROJECT_READER),
  p('modify_metadef_namespace', 'rule:metadef_admin'),
  p('add_metadef_namespace', 'rule:metadef_admin'),
  p('delete_metadef_namespace', 'rule:metadef_admin'),
  p('get_metadef_object', GET_NAMESPACE),
  p('get_metadef_objects', GET_NAMESPACE),
  p('modify_metadef_object', 'rule:metadef_admin'),
  p('add_metadef_object', 'rule:metadef_admin'),
  p('delete_metadef_object', 'rule:metadef_admin'),
  p('list_metadef_resource_types', GET_NAMESPACE),
  p('get_metadef_resource_type', GET_NAMESPACE),
  p('add_metadef_resource_type_association', 'rule:metadef_admin'),
  p('remove_metadef_resource_type_association', 'rule:metadef_admin'),
  p('get_metadef_property', GET_NAMESPACE),
  p('get_metadef_properties', GET_NAMESPACE),
  p('modify_metadef_property', 'rule:metadef_admin'),
  p('add_metadef_property', 'rule:metadef_admin'),
  p('remove_metadef_property', 'rule:metadef_admin'),
  p('get_metadef_tag', GET_NAMESPACE),
  p('get_metadef_tags', GET_NAMESPACE),
  p('modify_metadef_tag', 'rule:metadef_admin'),
  p('add_metadef_tag', 'rule:metadef_admin'),
  p('add_metadef_tags', 'rule:metadef_admin'),
  p('delete_metadef_tag', 'rule:metadef_admin'),
  p('delete_metadef_tags', 'rule:metadef_admin'),
];
