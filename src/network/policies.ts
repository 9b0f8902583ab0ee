// Neutron's default policy (Zed), generated from the installed neutron 21 (neutron.conf.policies)
// with enforce_new_defaults off: where a rule has a deprecated predecessor the two are or-ed, as
// oslo.policy does in Zed. Override per rule in <policyDir>/network.yaml.
import type { PolicyDefault } from '../core/policy/index.ts';

export const NETWORK_POLICIES: PolicyDefault[] = [
  { name: 'context_is_admin', checkStr: 'role:admin' },
  { name: 'owner', checkStr: 'tenant_id:%(tenant_id)s' },
  { name: 'admin_or_owner', checkStr: 'rule:context_is_admin or rule:owner' },
  { name: 'context_is_advsvc', checkStr: 'role:advsvc' },
  { name: 'admin_or_network_owner', checkStr: 'rule:context_is_admin or tenant_id:%(network:tenant_id)s' },
  { name: 'admin_owner_or_network_owner', checkStr: 'rule:owner or rule:admin_or_network_owner' },
  { name: 'network_owner', checkStr: 'tenant_id:%(network:tenant_id)s' },
  { name: 'admin_only', checkStr: 'rule:context_is_admin' },
  { name: 'regular_user', checkStr: '' },
  { name: 'shared', checkStr: 'field:networks:shared=True' },
  { name: 'default', checkStr: 'rule:admin_or_owner' },
  { name: 'admin_or_ext_parent_owner', checkStr: 'rule:context_is_admin or tenant_id:%(ext_parent:tenant_id)s' },
  { name: 'ext_parent_owner', checkStr: 'tenant_id:%(ext_parent:tenant_id)s' },
  { name: 'sg_owner', checkStr: 'tenant_id:%(security_group:tenant_id)s' },
  { name: 'shared_address_groups', checkStr: 'field:address_groups:shared=True' },
  {
    name: 'get_address_group',
    checkStr:
      '(role:reader and project_id:%(project_id)s or rule:shared_address_groups) or (rule:admin_or_owner or rule:shared_address_groups)',
    scopeTypes: ['project'],
  },
  { name: 'shared_address_scopes', checkStr: 'field:address_scopes:shared=True' },
  {
    name: 'create_address_scope',
    checkStr: '(rule:admin_only or role:member and project_id:%(project_id)s) or (rule:regular_user)',
    scopeTypes: ['project'],
  },
  { name: 'create_address_scope:shared', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  {
    name: 'get_address_scope',
    checkStr:
      '(rule:admin_only or role:reader and project_id:%(project_id)s or rule:shared_address_scopes) or (rule:admin_or_owner or rule:shared_address_scopes)',
    scopeTypes: ['project'],
  },
  {
    name: 'update_address_scope',
    checkStr: '(rule:admin_only or role:member and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  { name: 'update_address_scope:shared', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  {
    name: 'delete_address_scope',
    checkStr: '(rule:admin_only or role:member and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  { name: 'get_agent', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'update_agent', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'delete_agent', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'create_dhcp-network', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'get_dhcp-networks', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'delete_dhcp-network', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'create_l3-router', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'get_l3-routers', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'delete_l3-router', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'get_dhcp-agents', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'get_l3-agents', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  {
    name: 'get_auto_allocated_topology',
    checkStr: '(role:reader and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'delete_auto_allocated_topology',
    checkStr: '(role:member and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  { name: 'get_availability_zone', checkStr: '(rule:admin_only) or (rule:regular_user)', scopeTypes: ['project'] },
  { name: 'create_flavor', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  {
    name: 'get_flavor',
    checkStr: '((rule:admin_only) or (role:reader and project_id:%(project_id)s)) or (rule:regular_user)',
    scopeTypes: ['project'],
  },
  { name: 'update_flavor', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'delete_flavor', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'create_service_profile', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'get_service_profile', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'update_service_profile', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'delete_service_profile', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  {
    name: 'get_flavor_service_profile',
    checkStr: '((rule:admin_only) or (role:reader and project_id:%(project_id)s)) or (rule:regular_user)',
    scopeTypes: ['project'],
  },
  { name: 'create_flavor_service_profile', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'delete_flavor_service_profile', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  {
    name: 'create_floatingip',
    checkStr: '(rule:admin_only or role:member and project_id:%(project_id)s) or (rule:regular_user)',
    scopeTypes: ['project'],
  },
  { name: 'create_floatingip:floating_ip_address', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  {
    name: 'get_floatingip',
    checkStr: '(rule:admin_only or role:reader and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'update_floatingip',
    checkStr: '(rule:admin_only or role:member and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'delete_floatingip',
    checkStr: '(rule:admin_only or role:member and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'get_floatingip_pool',
    checkStr: '(role:reader and project_id:%(project_id)s) or (rule:regular_user)',
    scopeTypes: ['project'],
  },
  {
    name: 'create_floatingip_port_forwarding',
    checkStr:
      '(role:member and project_id:%(project_id)s or rule:ext_parent_owner) or (rule:admin_or_ext_parent_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'get_floatingip_port_forwarding',
    checkStr:
      '(role:reader and project_id:%(project_id)s or rule:ext_parent_owner) or (rule:admin_or_ext_parent_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'update_floatingip_port_forwarding',
    checkStr:
      '(role:member and project_id:%(project_id)s or rule:ext_parent_owner) or (rule:admin_or_ext_parent_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'delete_floatingip_port_forwarding',
    checkStr:
      '(role:member and project_id:%(project_id)s or rule:ext_parent_owner) or (rule:admin_or_ext_parent_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'create_router_conntrack_helper',
    checkStr:
      '(role:member and project_id:%(project_id)s or rule:ext_parent_owner) or (rule:admin_or_ext_parent_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'get_router_conntrack_helper',
    checkStr:
      '(role:reader and project_id:%(project_id)s or rule:ext_parent_owner) or (rule:admin_or_ext_parent_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'update_router_conntrack_helper',
    checkStr:
      '(role:member and project_id:%(project_id)s or rule:ext_parent_owner) or (rule:admin_or_ext_parent_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'delete_router_conntrack_helper',
    checkStr:
      '(role:member and project_id:%(project_id)s or rule:ext_parent_owner) or (rule:admin_or_ext_parent_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'create_local_ip',
    checkStr: '(role:member and project_id:%(project_id)s) or (rule:regular_user)',
    scopeTypes: ['project'],
  },
  {
    name: 'get_local_ip',
    checkStr: '(role:reader and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'update_local_ip',
    checkStr: '(role:member and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'delete_local_ip',
    checkStr: '(role:member and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'create_local_ip_port_association',
    checkStr:
      '(role:member and project_id:%(project_id)s or rule:ext_parent_owner) or (rule:admin_or_ext_parent_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'get_local_ip_port_association',
    checkStr:
      '(role:reader and project_id:%(project_id)s or rule:ext_parent_owner) or (rule:admin_or_ext_parent_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'delete_local_ip_port_association',
    checkStr:
      '(role:member and project_id:%(project_id)s or rule:ext_parent_owner) or (rule:admin_or_ext_parent_owner)',
    scopeTypes: ['project'],
  },
  { name: 'get_loggable_resource', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'create_log', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'get_log', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'update_log', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'delete_log', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'create_metering_label', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  {
    name: 'get_metering_label',
    checkStr: '(rule:admin_only or role:reader and project_id:%(project_id)s) or (rule:admin_only)',
    scopeTypes: ['project'],
  },
  { name: 'delete_metering_label', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'create_metering_label_rule', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  {
    name: 'get_metering_label_rule',
    checkStr: '(rule:admin_only or role:reader and project_id:%(project_id)s) or (rule:admin_only)',
    scopeTypes: ['project'],
  },
  { name: 'delete_metering_label_rule', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  {
    name: 'create_ndp_proxy',
    checkStr: '(role:member and project_id:%(project_id)s) or (rule:regular_user)',
    scopeTypes: ['project'],
  },
  {
    name: 'get_ndp_proxy',
    checkStr: '(role:reader and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'update_ndp_proxy',
    checkStr: '(role:member and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'delete_ndp_proxy',
    checkStr: '(role:member and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  { name: 'external', checkStr: 'field:networks:router:external=True' },
  {
    name: 'create_network',
    checkStr: '(rule:admin_only or role:member and project_id:%(project_id)s) or (rule:regular_user)',
    scopeTypes: ['project'],
  },
  { name: 'create_network:shared', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'create_network:router:external', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'create_network:is_default', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  {
    name: 'create_network:port_security_enabled',
    checkStr: '(rule:admin_only or role:member and project_id:%(project_id)s) or (rule:regular_user)',
    scopeTypes: ['project'],
  },
  { name: 'create_network:segments', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'create_network:provider:network_type', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'create_network:provider:physical_network', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'create_network:provider:segmentation_id', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  {
    name: 'get_network',
    checkStr:
      '(rule:admin_only or role:reader and project_id:%(project_id)s or rule:shared or rule:external or rule:context_is_advsvc) or (rule:admin_or_owner or rule:shared or rule:external or rule:context_is_advsvc)',
    scopeTypes: ['project'],
  },
  {
    name: 'get_network:router:external',
    checkStr: '(rule:admin_only or role:reader and project_id:%(project_id)s) or (rule:regular_user)',
    scopeTypes: ['project'],
  },
  { name: 'get_network:segments', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'get_network:provider:network_type', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'get_network:provider:physical_network', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'get_network:provider:segmentation_id', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  {
    name: 'update_network',
    checkStr: '(rule:admin_only or role:member and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  { name: 'update_network:segments', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'update_network:shared', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'update_network:provider:network_type', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'update_network:provider:physical_network', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'update_network:provider:segmentation_id', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'update_network:router:external', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'update_network:is_default', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  {
    name: 'update_network:port_security_enabled',
    checkStr: '(rule:admin_only or role:member and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'delete_network',
    checkStr: '(rule:admin_only or role:member and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  { name: 'get_network_ip_availability', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'create_network_segment_range', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'get_network_segment_range', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'update_network_segment_range', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'delete_network_segment_range', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'network_device', checkStr: 'field:port:device_owner=~^network:' },
  { name: 'admin_or_data_plane_int', checkStr: 'rule:context_is_admin or role:data_plane_integrator' },
  {
    name: 'create_port',
    checkStr: '(rule:admin_only or role:member and project_id:%(project_id)s) or (rule:regular_user)',
    scopeTypes: ['project'],
  },
  {
    name: 'create_port:device_owner',
    checkStr:
      '(not rule:network_device or rule:admin_only or rule:context_is_advsvc or rule:network_owner) or (not rule:network_device or rule:context_is_advsvc or rule:admin_or_network_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'create_port:mac_address',
    checkStr:
      '(rule:context_is_advsvc or rule:network_owner or rule:admin_only) or (rule:context_is_advsvc or rule:admin_or_network_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'create_port:fixed_ips',
    checkStr:
      '(rule:context_is_advsvc or rule:network_owner or rule:admin_only or rule:shared) or (rule:context_is_advsvc or rule:admin_or_network_owner or rule:shared)',
    scopeTypes: ['project'],
  },
  {
    name: 'create_port:fixed_ips:ip_address',
    checkStr:
      '(rule:context_is_advsvc or rule:network_owner or rule:admin_only) or (rule:context_is_advsvc or rule:admin_or_network_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'create_port:fixed_ips:subnet_id',
    checkStr:
      '(rule:context_is_advsvc or rule:network_owner or rule:admin_only or rule:shared) or (rule:context_is_advsvc or rule:admin_or_network_owner or rule:shared)',
    scopeTypes: ['project'],
  },
  {
    name: 'create_port:port_security_enabled',
    checkStr:
      '(rule:context_is_advsvc or rule:network_owner or rule:admin_only) or (rule:context_is_advsvc or rule:admin_or_network_owner)',
    scopeTypes: ['project'],
  },
  { name: 'create_port:binding:host_id', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'create_port:binding:profile', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  {
    name: 'create_port:binding:vnic_type',
    checkStr: '(rule:admin_only or role:member and project_id:%(project_id)s) or (rule:regular_user)',
    scopeTypes: ['project'],
  },
  {
    name: 'create_port:allowed_address_pairs',
    checkStr: '(rule:admin_only or rule:network_owner) or (rule:admin_or_network_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'create_port:allowed_address_pairs:mac_address',
    checkStr: '(rule:admin_only or rule:network_owner) or (rule:admin_or_network_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'create_port:allowed_address_pairs:ip_address',
    checkStr: '(rule:admin_only or rule:network_owner) or (rule:admin_or_network_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'get_port',
    checkStr:
      '(rule:admin_only or rule:context_is_advsvc or role:reader and project_id:%(project_id)s) or (rule:context_is_advsvc or rule:admin_owner_or_network_owner)',
    scopeTypes: ['project'],
  },
  { name: 'get_port:binding:vif_type', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'get_port:binding:vif_details', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'get_port:binding:host_id', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'get_port:binding:profile', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'get_port:resource_request', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  {
    name: 'update_port',
    checkStr:
      '(rule:admin_only or role:member and project_id:%(project_id)s or rule:context_is_advsvc) or (rule:admin_or_owner or rule:context_is_advsvc)',
    scopeTypes: ['project'],
  },
  {
    name: 'update_port:device_owner',
    checkStr:
      '(not rule:network_device or rule:context_is_advsvc or rule:network_owner or rule:admin_only) or (not rule:network_device or rule:context_is_advsvc or rule:admin_or_network_owner)',
    scopeTypes: ['project'],
  },
  { name: 'update_port:mac_address', checkStr: 'rule:admin_only or rule:context_is_advsvc', scopeTypes: ['project'] },
  {
    name: 'update_port:fixed_ips',
    checkStr:
      '(rule:context_is_advsvc or rule:network_owner or rule:admin_only) or (rule:context_is_advsvc or rule:admin_or_network_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'update_port:fixed_ips:ip_address',
    checkStr:
      '(rule:context_is_advsvc or rule:network_owner or rule:admin_only) or (rule:context_is_advsvc or rule:admin_or_network_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'update_port:fixed_ips:subnet_id',
    checkStr:
      '(rule:context_is_advsvc or rule:network_owner or rule:admin_only or rule:shared) or (rule:context_is_advsvc or rule:admin_or_network_owner or rule:shared)',
    scopeTypes: ['project'],
  },
  {
    name: 'update_port:port_security_enabled',
    checkStr:
      '(rule:context_is_advsvc or rule:network_owner or rule:admin_only) or (rule:context_is_advsvc or rule:admin_or_network_owner)',
    scopeTypes: ['project'],
  },
  { name: 'update_port:binding:host_id', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'update_port:binding:profile', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  {
    name: 'update_port:binding:vnic_type',
    checkStr:
      '(rule:admin_only or role:member and project_id:%(project_id)s or rule:context_is_advsvc) or (rule:admin_or_owner or rule:context_is_advsvc)',
    scopeTypes: ['project'],
  },
  {
    name: 'update_port:allowed_address_pairs',
    checkStr: '(rule:admin_only or rule:network_owner) or (rule:admin_or_network_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'update_port:allowed_address_pairs:mac_address',
    checkStr: '(rule:admin_only or rule:network_owner) or (rule:admin_or_network_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'update_port:allowed_address_pairs:ip_address',
    checkStr: '(rule:admin_only or rule:network_owner) or (rule:admin_or_network_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'update_port:data_plane_status',
    checkStr: '(rule:admin_only or role:data_plane_integrator) or (rule:admin_or_data_plane_int)',
    scopeTypes: ['project'],
  },
  {
    name: 'delete_port',
    checkStr:
      '(rule:admin_only or rule:context_is_advsvc or role:member and project_id:%(project_id)s) or (rule:context_is_advsvc or rule:admin_owner_or_network_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'get_policy',
    checkStr: '(rule:admin_only or role:reader and project_id:%(project_id)s) or (rule:regular_user)',
    scopeTypes: ['project'],
  },
  { name: 'create_policy', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'update_policy', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'delete_policy', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'get_rule_type', checkStr: '(rule:admin_only) or (rule:regular_user)', scopeTypes: ['project'] },
  {
    name: 'get_policy_bandwidth_limit_rule',
    checkStr: '(rule:admin_only or role:reader and project_id:%(project_id)s) or (rule:regular_user)',
    scopeTypes: ['project'],
  },
  { name: 'create_policy_bandwidth_limit_rule', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'update_policy_bandwidth_limit_rule', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'delete_policy_bandwidth_limit_rule', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  {
    name: 'get_policy_packet_rate_limit_rule',
    checkStr: 'rule:admin_only or role:reader and project_id:%(project_id)s',
    scopeTypes: ['project'],
  },
  { name: 'create_policy_packet_rate_limit_rule', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'update_policy_packet_rate_limit_rule', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'delete_policy_packet_rate_limit_rule', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  {
    name: 'get_policy_dscp_marking_rule',
    checkStr: '(rule:admin_only or role:reader and project_id:%(project_id)s) or (rule:regular_user)',
    scopeTypes: ['project'],
  },
  { name: 'create_policy_dscp_marking_rule', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'update_policy_dscp_marking_rule', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'delete_policy_dscp_marking_rule', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  {
    name: 'get_policy_minimum_bandwidth_rule',
    checkStr: '(rule:admin_only or role:reader and project_id:%(project_id)s) or (rule:regular_user)',
    scopeTypes: ['project'],
  },
  { name: 'create_policy_minimum_bandwidth_rule', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'update_policy_minimum_bandwidth_rule', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'delete_policy_minimum_bandwidth_rule', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  {
    name: 'get_policy_minimum_packet_rate_rule',
    checkStr: 'rule:admin_only or role:reader and project_id:%(project_id)s',
    scopeTypes: ['project'],
  },
  { name: 'create_policy_minimum_packet_rate_rule', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'update_policy_minimum_packet_rate_rule', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'delete_policy_minimum_packet_rate_rule', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  {
    name: 'get_alias_bandwidth_limit_rule',
    checkStr: '(rule:admin_only or role:reader and project_id:%(project_id)s) or (rule:regular_user)',
    scopeTypes: ['project'],
  },
  { name: 'update_alias_bandwidth_limit_rule', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'delete_alias_bandwidth_limit_rule', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  {
    name: 'get_alias_dscp_marking_rule',
    checkStr: '(rule:admin_only or role:reader and project_id:%(project_id)s) or (rule:regular_user)',
    scopeTypes: ['project'],
  },
  { name: 'update_alias_dscp_marking_rule', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'delete_alias_dscp_marking_rule', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  {
    name: 'get_alias_minimum_bandwidth_rule',
    checkStr: '(rule:admin_only or role:reader and project_id:%(project_id)s) or (rule:regular_user)',
    scopeTypes: ['project'],
  },
  { name: 'update_alias_minimum_bandwidth_rule', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'delete_alias_minimum_bandwidth_rule', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  {
    name: 'get_alias_minimum_packet_rate_rule',
    checkStr: 'rule:get_policy_minimum_packet_rate_rule',
    scopeTypes: ['project'],
  },
  {
    name: 'update_alias_minimum_packet_rate_rule',
    checkStr: 'rule:update_policy_minimum_packet_rate_rule',
    scopeTypes: ['project'],
  },
  {
    name: 'delete_alias_minimum_packet_rate_rule',
    checkStr: 'rule:delete_policy_minimum_packet_rate_rule',
    scopeTypes: ['project'],
  },
  { name: 'get_quota', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'update_quota', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'delete_quota', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  {
    name: 'restrict_wildcard',
    checkStr: '(not field:rbac_policy:target_tenant=* and not field:rbac_policy:target_project=*) or rule:admin_only',
  },
  {
    name: 'create_rbac_policy',
    checkStr: '(rule:admin_only or role:member and project_id:%(project_id)s) or (rule:regular_user)',
    scopeTypes: ['project'],
  },
  {
    name: 'create_rbac_policy:target_tenant',
    checkStr:
      '(rule:admin_only or (not field:rbac_policy:target_tenant=* and not field:rbac_policy:target_project=*)) or (rule:restrict_wildcard)',
    scopeTypes: ['project'],
  },
  {
    name: 'update_rbac_policy',
    checkStr: '(rule:admin_only or role:member and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'update_rbac_policy:target_tenant',
    checkStr:
      '(rule:admin_only or (not field:rbac_policy:target_tenant=* and not field:rbac_policy:target_project=*)) or (rule:restrict_wildcard and rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'get_rbac_policy',
    checkStr: '(rule:admin_only or role:reader and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'delete_rbac_policy',
    checkStr: '(rule:admin_only or role:member and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'create_router',
    checkStr: '(rule:admin_only or role:member and project_id:%(project_id)s) or (rule:regular_user)',
    scopeTypes: ['project'],
  },
  { name: 'create_router:distributed', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'create_router:ha', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  {
    name: 'create_router:external_gateway_info',
    checkStr: '(rule:admin_only or role:member and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'create_router:external_gateway_info:network_id',
    checkStr: '(rule:admin_only or role:member and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  { name: 'create_router:external_gateway_info:enable_snat', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  {
    name: 'create_router:external_gateway_info:external_fixed_ips',
    checkStr: 'rule:admin_only',
    scopeTypes: ['project'],
  },
  {
    name: 'get_router',
    checkStr: '(rule:admin_only or role:reader and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  { name: 'get_router:distributed', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'get_router:ha', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  {
    name: 'update_router',
    checkStr: '(rule:admin_only or role:member and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  { name: 'update_router:distributed', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'update_router:ha', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  {
    name: 'update_router:external_gateway_info',
    checkStr: '(rule:admin_only or role:member and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'update_router:external_gateway_info:network_id',
    checkStr: '(rule:admin_only or role:member and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  { name: 'update_router:external_gateway_info:enable_snat', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  {
    name: 'update_router:external_gateway_info:external_fixed_ips',
    checkStr: 'rule:admin_only',
    scopeTypes: ['project'],
  },
  {
    name: 'delete_router',
    checkStr: '(rule:admin_only or role:member and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'add_router_interface',
    checkStr: '(rule:admin_only or role:member and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'remove_router_interface',
    checkStr: '(rule:admin_only or role:member and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'add_extraroutes',
    checkStr: '(rule:admin_only or role:member and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'remove_extraroutes',
    checkStr: '(rule:admin_only or role:member and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  { name: 'admin_or_sg_owner', checkStr: 'rule:context_is_admin or tenant_id:%(security_group:tenant_id)s' },
  { name: 'admin_owner_or_sg_owner', checkStr: 'rule:owner or rule:admin_or_sg_owner' },
  {
    name: 'create_security_group',
    checkStr: '(role:member and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'get_security_group',
    checkStr: '(role:reader and project_id:%(project_id)s) or (rule:regular_user)',
    scopeTypes: ['project'],
  },
  {
    name: 'update_security_group',
    checkStr: '(role:member and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'delete_security_group',
    checkStr: '(role:member and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'create_security_group_rule',
    checkStr: '(role:member and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'get_security_group_rule',
    checkStr: '(role:reader and project_id:%(project_id)s or rule:sg_owner) or (rule:admin_owner_or_sg_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'delete_security_group_rule',
    checkStr: '(role:member and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  { name: 'create_segment', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'get_segment', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'update_segment', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'delete_segment', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'get_service_provider', checkStr: '(role:reader) or (rule:regular_user)', scopeTypes: ['project'] },
  {
    name: 'create_subnet',
    checkStr:
      '(rule:admin_only or role:member and project_id:%(project_id)s or rule:network_owner) or (rule:admin_or_network_owner)',
    scopeTypes: ['project'],
  },
  { name: 'create_subnet:segment_id', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'create_subnet:service_types', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  {
    name: 'get_subnet',
    checkStr:
      '(rule:admin_only or role:reader and project_id:%(project_id)s or rule:shared) or (rule:admin_or_owner or rule:shared)',
    scopeTypes: ['project'],
  },
  { name: 'get_subnet:segment_id', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  {
    name: 'update_subnet',
    checkStr:
      '(rule:admin_only or role:member and project_id:%(project_id)s or rule:network_owner) or (rule:admin_or_network_owner)',
    scopeTypes: ['project'],
  },
  { name: 'update_subnet:segment_id', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'update_subnet:service_types', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  {
    name: 'delete_subnet',
    checkStr:
      '(rule:admin_only or role:member and project_id:%(project_id)s or rule:network_owner) or (rule:admin_or_network_owner)',
    scopeTypes: ['project'],
  },
  { name: 'shared_subnetpools', checkStr: 'field:subnetpools:shared=True' },
  {
    name: 'create_subnetpool',
    checkStr: '(rule:admin_only or role:member and project_id:%(project_id)s) or (rule:regular_user)',
    scopeTypes: ['project'],
  },
  { name: 'create_subnetpool:shared', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  { name: 'create_subnetpool:is_default', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  {
    name: 'get_subnetpool',
    checkStr:
      '(rule:admin_only or role:reader and project_id:%(project_id)s or rule:shared_subnetpools) or (rule:admin_or_owner or rule:shared_subnetpools)',
    scopeTypes: ['project'],
  },
  {
    name: 'update_subnetpool',
    checkStr: '(rule:admin_only or role:member and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  { name: 'update_subnetpool:is_default', checkStr: 'rule:admin_only', scopeTypes: ['project'] },
  {
    name: 'delete_subnetpool',
    checkStr: '(rule:admin_only or role:member and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'onboard_network_subnets',
    checkStr: '(rule:admin_only or role:member and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'add_prefixes',
    checkStr: '(rule:admin_only or role:member and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'remove_prefixes',
    checkStr: '(rule:admin_only or role:member and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'create_trunk',
    checkStr: '(role:member and project_id:%(project_id)s) or (rule:regular_user)',
    scopeTypes: ['project'],
  },
  {
    name: 'get_trunk',
    checkStr: '(role:reader and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'update_trunk',
    checkStr: '(role:member and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'delete_trunk',
    checkStr: '(role:member and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'get_subports',
    checkStr: '(role:reader and project_id:%(project_id)s) or (rule:regular_user)',
    scopeTypes: ['project'],
  },
  {
    name: 'add_subports',
    checkStr: '(role:member and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
  {
    name: 'remove_subports',
    checkStr: '(role:member and project_id:%(project_id)s) or (rule:admin_or_owner)',
    scopeTypes: ['project'],
  },
];
