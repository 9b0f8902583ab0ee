// The core family of the network API (see service.ts): networks, segments, subnets, subnet
// pools, address scopes, ports (with IPAM) and network IP availability, plus the generic API
// features every resource gets from api/resource.ts (pagination, sorting, filters, tags, ...).
import type { Family, NetworkService } from '../service.ts';
import { defineNetworks } from './networks.ts';
import { defineSegments } from './segments.ts';
import { defineSubnets } from './subnets.ts';
import { defineSubnetpools, subnetpoolRoutes } from './subnetpools.ts';
import { defineAddressScopes } from './address_scopes.ts';
import { definePorts } from './ports.ts';
import { ipAvailabilityRoutes } from './ip_availability.ts';

/** The /v2.0/extensions entries this family makes true (names and texts as upstream's). */
const EXTENSIONS = [
  [
    'provider',
    'Provider Network',
    'Expose mapping of virtual networks to physical networks',
    '2012-09-07T10:00:00-00:00',
  ],
  [
    'multi-provider',
    'Multi Provider Network',
    'Expose mapping of virtual networks to multiple physical networks',
    '2013-06-27T10:00:00-00:00',
  ],
  ['segment', 'Segment', 'Segments extension.', '2016-02-24T17:00:00-00:00'],
  [
    'standard-attr-segment',
    'Standard Attribute Segment Extension',
    'Add standard attributes to Segment resource',
    '2018-04-09T10:00:00-00:00',
  ],
  [
    'subnet-segmentid-writable',
    'Subnet SegmentID (writable)',
    'Provides a writable segment_id attribute for a subnet resource.',
    '2018-03-12T00:00:00-00:00',
  ],
  [
    'external-net',
    'Neutron external network',
    'Adds external network attribute to network resource.',
    '2013-01-14T10:00:00-00:00',
  ],
  ['net-mtu', 'Network MTU', 'Provides MTU attribute for a network resource.', '2015-03-25T10:00:00-00:00'],
  [
    'net-mtu-writable',
    'Network MTU (writable)',
    'Provides a writable MTU attribute for a network resource.',
    '2017-07-12T00:00:00-00:00',
  ],
  ['l2_adjacency', 'L2 Adjacency', 'Display L2 Adjacency for Neutron Networks.', '2016-04-12T16:00:00-00:00'],
  [
    'binding',
    'Port Binding',
    'Expose port bindings of a virtual port to external application',
    '2014-02-03T10:00:00-00:00',
  ],
  ['allowed-address-pairs', 'Allowed Address Pairs', 'Provides allowed address pairs', '2013-07-23T10:00:00-00:00'],
  [
    'extra_dhcp_opt',
    'Neutron Extra DHCP options',
    'Extra options configuration for DHCP. For example PXE boot options to DHCP clients can be specified (e.g. tftp-server, server-ip-address, bootfile-name)',
    '2013-03-17T12:00:00-00:00',
  ],
  ['dns-integration', 'DNS Integration', 'Provides integration with DNS.', '2015-08-15T18:00:00-00:00'],
  [
    'dns-domain-ports',
    'dns_domain for ports',
    'Allows the DNS domain to be specified for a network port.',
    '2017-04-24T10:00:00-00:00',
  ],
  ['ip_allocation', 'IP Allocation', 'IP allocation extension.', '2016-06-10T23:00:00-00:00'],
  [
    'ip-substring-filtering',
    'IP address substring filtering',
    'Provides IP address substring filtering when listing ports',
    '2017-11-28T09:00:00-00:00',
  ],
  [
    'uplink-status-propagation',
    'Uplink status propagation extension',
    'Provides ability to propagate port uplink status.',
    '2018-05-31T18:00:00-00:00',
  ],
  [
    'port-mac-address-regenerate',
    'Neutron Port MAC address regenerate',
    'Network port MAC address regenerate',
    '2018-05-03T10:00:00-00:00',
  ],
  [
    'tag-ports-during-bulk-creation',
    'Tag Ports During Bulk Creation',
    'Allow to tag ports during bulk creation',
    '2019-12-29T19:00:00-00:00',
  ],
  [
    'subnet_allocation',
    'Subnet Allocation',
    'Enables allocation of subnets from a subnet pool',
    '2015-03-30T10:00:00-00:00',
  ],
  [
    'default-subnetpools',
    'Default Subnetpools',
    'Provides ability to mark and use a subnetpool as the default.',
    '2016-02-18T18:00:00-00:00',
  ],
  [
    'subnetpool-prefix-ops',
    'Subnet Pool Prefix Operations',
    'Provides support for adjusting the prefix list of subnet pools',
    '2019-02-08T10:00:00-00:00',
  ],
  [
    'subnet-service-types',
    'Subnet service types',
    'Provides ability to set the subnet service_types field',
    '2016-03-15T18:00:00-00:00',
  ],
  ['address-scope', 'Address scope', 'Address scopes extension.', '2015-07-26T10:00:00-00:00'],
  [
    'network-ip-availability',
    'Network IP Availability',
    'Provides IP availability data for each network and subnet.',
    '2015-09-24T00:00:00-00:00',
  ],
  // What api/resource.ts gives every resource.
  [
    'project-id',
    'project_id field enabled',
    'Extension that indicates that project_id field is enabled.',
    '2016-09-09T09:09:09-09:09',
  ],
  [
    'pagination',
    'Pagination support',
    'Extension that indicates that pagination is enabled.',
    '2016-06-12T00:00:00-00:00',
  ],
  ['sorting', 'Sorting support', 'Extension that indicates that sorting is enabled.', '2016-06-12T00:00:00-00:00'],
  ['sort-key-validation', 'Sort keys validation', 'Provides validation on sort keys.', '2018-07-04T10:00:00-00:00'],
  [
    'filter-validation',
    'Filter parameters validation',
    'Provides validation on filter parameters.',
    '2018-07-04T10:00:00-00:00',
  ],
  [
    'empty-string-filtering',
    'Empty String Filtering Extension',
    'Allow filtering by attributes with empty string value',
    '2018-05-01T10:00:00-00:00',
  ],
  [
    'revision-if-match',
    'If-Match constraints based on revision_number',
    'Extension indicating that If-Match based on revision_number is supported.',
    '2016-12-11T00:00:00-00:00',
  ],
  [
    'standard-attr-description',
    'standard-attr-description',
    'Extension to add descriptions to standard attributes',
    '2016-02-10T10:00:00-00:00',
  ],
  [
    'standard-attr-revisions',
    'Resource revision numbers',
    'This extension will display the revision number of neutron resources.',
    '2016-04-11T10:00:00-00:00',
  ],
  [
    'standard-attr-timestamp',
    'Resource timestamps',
    'Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes.',
    '2016-09-12T10:00:00-00:00',
  ],
  [
    'standard-attr-tag',
    'Tag support for resources with standard attribute: subnet, trunk, network_segment_range, router, network, policy, subnetpool, port, security_group, floatingip',
    'Enables to set tag on resources with standard attribute.',
    '2017-01-01T00:00:00-00:00',
  ],
] as const;

export const coreFamily: Family = {
  define(svc: NetworkService) {
    defineNetworks(svc);
    defineSegments(svc);
    defineAddressScopes(svc);
    defineSubnetpools(svc);
    defineSubnets(svc);
    definePorts(svc);
    for (const [alias, name, description, updated] of EXTENSIONS)
      svc.declareExtension({ alias, name, description, updated });
  },
  routes(app, svc) {
    subnetpoolRoutes(app, svc);
    ipAvailabilityRoutes(app, svc);
  },
};
