// The HOT templates the orchestration benchmarks build (bench/orchestration.ts and its side-by-side
// with Debian's heat, bench/orchestration-side.ts): chains of Neutron objects, with or without a
// server on each chain's port.

export interface Template {
  heat_template_version: string;
  resources: Record<string, unknown>;
}

/** A network, its subnet 10.<g>.0.0/24 and a port on that subnet: resources net<g>, subnet<g>, port<g>. */
function addChain(t: Template, g: number) {
  t.resources[`net${g}`] = { type: 'OS::Neutron::Net' };
  t.resources[`subnet${g}`] = {
    type: 'OS::Neutron::Subnet',
    properties: { network: { get_resource: `net${g}` }, cidr: `10.${g}.0.0/24` },
  };
  t.resources[`port${g}`] = {
    type: 'OS::Neutron::Port',
    properties: { network: { get_resource: `net${g}` }, fixed_ips: [{ subnet: { get_resource: `subnet${g}` } }] },
  };
}

/** `groups` × (Net, Subnet, Port, SecurityGroup with an ICMP rule, RandomString): the 50-resource stack. */
export function neutronTemplate(groups: number): Template {
  const t: Template = { heat_template_version: '2021-04-16', resources: {} };
  for (let g = 0; g < groups; g++) {
    addChain(t, g);
    t.resources[`sg${g}`] = { type: 'OS::Neutron::SecurityGroup', properties: { rules: [{ protocol: 'icmp' }] } };
    t.resources[`rand${g}`] = { type: 'OS::Heat::RandomString' };
  }
  return t;
}

/** `groups` × (Net, Subnet, Port, Server on that port): issue 16's 100-resource stack with 25. */
export function serverTemplate(groups: number, boot: { flavor: string; image: string }): Template {
  const t: Template = { heat_template_version: '2021-04-16', resources: {} };
  for (let g = 0; g < groups; g++) {
    addChain(t, g);
    t.resources[`server${g}`] = {
      type: 'OS::Nova::Server',
      properties: { flavor: boot.flavor, image: boot.image, networks: [{ port: { get_resource: `port${g}` } }] },
    };
  }
  return t;
}
