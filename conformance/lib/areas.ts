// Which tempest tests judge which part of Stratus, and which Debian package ships them.

export interface Area {
  name: string;
  /** stestr selection regex (matched with re.search against test ids). */
  regex: string;
  /** Debian packages the tests need besides tempest itself. */
  packages: string[];
}

export const AREAS: Area[] = [
  { name: 'identity', regex: '^tempest\\.api\\.identity\\.', packages: [] },
  {
    name: 'identity-plugin',
    regex: '^keystone_tempest_plugin\\.tests\\.api\\.',
    packages: ['keystone-tempest-plugin'],
  },
  { name: 'compute', regex: '^tempest\\.api\\.compute\\.', packages: [] },
  { name: 'image', regex: '^(tempest\\.api\\.image\\.|glance_tempest_plugin\\.)', packages: ['glance-tempest-plugin'] },
  {
    name: 'network',
    regex: '^(tempest\\.api\\.network\\.|neutron_tempest_plugin\\.api\\.)',
    packages: ['neutron-tempest-plugin'],
  },
  { name: 'load-balancer', regex: '^octavia_tempest_plugin\\.tests\\.api\\.', packages: ['octavia-tempest-plugin'] },
  {
    name: 'block-storage',
    regex: '^(tempest\\.api\\.volume\\.|cinder_tempest_plugin\\.api\\.)',
    packages: ['cinder-tempest-plugin'],
  },
  { name: 'object-store', regex: '^tempest\\.api\\.object_storage\\.', packages: [] },
  { name: 'orchestration', regex: '^heat_tempest_plugin\\.tests\\.api\\.', packages: ['heat-tempest-plugin'] },
  {
    name: 'orchestration-functional',
    regex: '^heat_tempest_plugin\\.tests\\.functional\\.',
    packages: ['heat-tempest-plugin'],
  },
  { name: 'telemetry', regex: '^telemetry_tempest_plugin\\.', packages: ['telemetry-tempest-plugin'] },
  { name: 'rca', regex: '^vitrage_tempest_plugin\\.tests\\.api\\.', packages: ['vitrage-tempest-plugin'] },
  { name: 'workflow', regex: '^mistral_tempest_tests\\.tests\\.api\\.', packages: ['mistral-tempest-plugin'] },
  {
    name: 'dashboard',
    regex: '^(tempest_horizon\\.|tempest\\.scenario\\.test_dashboard_basic_ops)',
    packages: ['horizon-tempest-plugin'],
  },
  { name: 'scenario', regex: '^tempest\\.scenario\\.', packages: [] },
];

/** Other names people use for the same area (OpenStack project names, older service types). */
const ALIASES: Record<string, string> = {
  keystone: 'identity',
  nova: 'compute',
  glance: 'image',
  neutron: 'network',
  octavia: 'load-balancer',
  cinder: 'block-storage',
  volume: 'block-storage',
  volumev3: 'block-storage',
  swift: 'object-store',
  'object-storage': 'object-store',
  heat: 'orchestration',
  ceilometer: 'telemetry',
  gnocchi: 'telemetry',
  aodh: 'telemetry',
  metric: 'telemetry',
  alarming: 'telemetry',
  vitrage: 'rca',
  mistral: 'workflow',
  workflowv2: 'workflow',
  horizon: 'dashboard',
};

/** Test module prefix → the Debian package that ships it. */
export const PLUGIN_PACKAGES: Record<string, string> = {
  keystone_tempest_plugin: 'keystone-tempest-plugin',
  glance_tempest_plugin: 'glance-tempest-plugin',
  neutron_tempest_plugin: 'neutron-tempest-plugin',
  octavia_tempest_plugin: 'octavia-tempest-plugin',
  cinder_tempest_plugin: 'cinder-tempest-plugin',
  heat_tempest_plugin: 'heat-tempest-plugin',
  telemetry_tempest_plugin: 'telemetry-tempest-plugin',
  vitrage_tempest_plugin: 'vitrage-tempest-plugin',
  mistral_tempest_tests: 'mistral-tempest-plugin',
  tempest_horizon: 'horizon-tempest-plugin',
};

export interface Selection {
  /** Short name for report files: the area, or a slug of the regex. */
  label: string;
  regex: string;
  packages: string[];
}

/** Packages needed by test ids or a regex that name plugin modules. */
export function packagesFor(text: string): string[] {
  const out = new Set<string>();
  for (const [mod, pkg] of Object.entries(PLUGIN_PACKAGES)) if (text.includes(mod)) out.add(pkg);
  return [...out].sort();
}

/** An area name (or alias) gives its regex; anything else is taken as a regex itself. */
export function resolveSelection(arg: string): Selection {
  const key = arg.toLowerCase();
  const area = AREAS.find((a) => a.name === (ALIASES[key] ?? key));
  if (area) return { label: area.name, regex: area.regex, packages: [...area.packages] };
  try {
    new RegExp(arg);
  } catch (e) {
    throw new Error(
      `${JSON.stringify(arg)} is neither an area (${AREAS.map((a) => a.name).join(', ')}) nor a valid regex: ${(e as Error).message}`,
    );
  }
  const label =
    arg
      .replace(/\\\./g, '.')
      .replace(/[^A-Za-z0-9_.-]+/g, '_')
      .replace(/^[_.]+|[_.]+$/g, '')
      .slice(0, 60) || 'regex';
  return { label, regex: arg, packages: packagesFor(arg) };
}
