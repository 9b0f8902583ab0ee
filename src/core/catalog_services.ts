// The whole service catalog in one table: per service, the type the catalog registers it under,
// DevStack's path prefix on the single port, the upstream standard port of the separate-ports
// mode, the path the catalog's URL ends with and the upstream project's name (as DevStack's
// lib/keystone, lib/nova, ... set KEYSTONE_SERVICE_PORT, NOVA_SERVICE_PORT, ...). Every service
// class takes its entry from here (`readonly catalogEntry = SERVICE_CATALOG.image`), and the
// catalog bootstrap writes (src/server.ts catalogServices) is built from these entries.

/** Where and as what a service is published. */
export interface CatalogEntry {
  /** Service folder name (and its database's), e.g. 'identity'. */
  readonly name: string;
  /** Catalog service type, e.g. 'identity', 'compute'. */
  readonly type: string;
  /** Other types the catalog also registers the service under (block-storage: 'volumev3', as Zed clients look it up). */
  readonly aliases?: readonly string[];
  /** Path prefix in the single-port mode (DevStack's), e.g. '/identity'. */
  readonly prefix: string;
  /** The port of the separate-ports mode (the upstream default). */
  readonly standardPort: number;
  /** Path appended to the base URL in the catalog (e.g. '/v2.1' for compute). */
  readonly path: string;
  /** Upstream project name, as the catalog names the service (keystone, glance, swift, ...). */
  readonly upstream: string;
}

// biome-ignore format: a table, one service a line
export const SERVICE_CATALOG = {
  identity:        { name: 'identity',        type: 'identity',        prefix: '/identity',      standardPort: 5000,  path: '',                         upstream: 'keystone' },
  compute:         { name: 'compute',         type: 'compute',         prefix: '/compute',       standardPort: 8774,  path: '/v2.1',                    upstream: 'nova' },
  placement:       { name: 'placement',       type: 'placement',       prefix: '/placement',     standardPort: 8778,  path: '',                         upstream: 'placement' },
  image:           { name: 'image',           type: 'image',           prefix: '/image',         standardPort: 9292,  path: '',                         upstream: 'glance' },
  network:         { name: 'network',         type: 'network',         prefix: '/networking',    standardPort: 9696,  path: '',                         upstream: 'neutron' },
  'block-storage': { name: 'block-storage',   type: 'block-storage',   prefix: '/volume',        standardPort: 8776,  path: '/v3/$(project_id)s',       upstream: 'cinder',     aliases: ['volumev3'] },
  'object-store':  { name: 'object-store',    type: 'object-store',    prefix: '/object-store',  standardPort: 8080,  path: '/v1/AUTH_$(project_id)s',  upstream: 'swift' },
  orchestration:   { name: 'orchestration',   type: 'orchestration',   prefix: '/heat-api',      standardPort: 8004,  path: '/v1/$(project_id)s',       upstream: 'heat' },
  cloudformation:  { name: 'cloudformation',  type: 'cloudformation',  prefix: '/heat-api-cfn',  standardPort: 8000,  path: '/v1',                      upstream: 'heat-cfn' },
  metric:          { name: 'metric',          type: 'metric',          prefix: '/metric',        standardPort: 8041,  path: '',                         upstream: 'gnocchi' },
  alarming:        { name: 'alarming',        type: 'alarming',        prefix: '/alarming',      standardPort: 8042,  path: '',                         upstream: 'aodh' },
} as const satisfies Record<string, CatalogEntry>;
