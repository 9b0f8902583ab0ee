// The compute service (Nova v2.1 as Zed answers it, microversions 2.1 to 2.93). The API is a
// list of families (api/<family>.ts), each with its own tables (migrations), routes and
// start/stop hooks; long work goes over the bus to the conductor and scheduler (worker/) and
// to one compute agent per host (agent/), which drives a virt driver (drivers/).
import os from 'node:os';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { ComputeDb } from './db/schema.ts';
import type { ServiceFactory, ServiceContext } from '../core/service.ts';
import { jsonBodyParser, negotiateMicroversion, type Microversion, type ServiceModule } from '../core/http.ts';
import { ApiError } from '../core/errors.ts';
import { PolicyEngine } from '../core/policy/index.ts';
import { migrate, type Migration } from '../core/db.ts';
import { PeriodicTasks } from '../core/periodic.ts';
import { COMPUTE_POLICIES } from './policies.ts';
import { faultBody } from './api/common.ts';
import { serversFamily } from './api/servers.ts';
import { flavorsFamily } from './api/flavors.ts';
import { keypairsFamily } from './api/keypairs.ts';
import { quotasFamily } from './api/quotas.ts';
import { limitsFamily } from './api/limits.ts';
import { serverGroupsFamily } from './api/server_groups.ts';
import { aggregatesFamily } from './api/aggregates.ts';
import { availabilityZonesFamily } from './api/availability_zones.ts';
import { servicesFamily } from './api/services.ts';
import { hypervisorsFamily } from './api/hypervisors.ts';
import { usageFamily } from './api/usage.ts';
import { imagesFamily } from './api/images.ts';
import { extensionsFamily } from './api/extensions.ts';
import { guestActionsFamily } from './api/server_shelve.ts';
import { remoteConsolesFamily } from './api/remote_consoles.ts';
import { securityGroupsFamily } from './api/security_groups.ts';
import { floatingIpsFamily } from './api/floating_ips.ts';
import { networksFamily } from './api/networks.ts';
import { interfacesFamily } from './api/interfaces.ts';
import { migrationsFamily } from './api/migrations.ts';
import { serverMovesFamily } from './api/server_moves.ts';

export const MIN_VERSION = '2.1';
export const MAX_VERSION = '2.93';

declare module 'fastify' {
  interface FastifyRequest {
    computeVersion?: Microversion;
  }
}

/** A family of the compute API: its tables, its routes, and what it starts and stops. */
export interface Family {
  /** Short name; prefixes the family's migration names ('servers' → 'servers/001_...'). */
  name: string;
  migrations: Record<string, Migration>;
  routes(app: FastifyInstance, svc: ComputeService): void;
  init?(svc: ComputeService): Promise<void>;
  close?(svc: ComputeService): Promise<void>;
}

/** A flavor as other families see it (the flavors family provides them; see README). */
export interface Flavor {
  /** The public flavor id (Nova's flavorid). */
  id: string;
  name: string;
  vcpus: number;
  ram: number;
  disk: number;
  ephemeral: number;
  swap: number;
  rxtx_factor?: number;
  is_public?: boolean;
  disabled?: boolean;
  description?: string | null;
  extra_specs: Record<string, string>;
}
export interface Keypair {
  name: string;
  public_key: string;
  type: string;
  user_id: string;
}

/** What families offer each other, set by the owning family in its init(). */
export interface ComputeProviders {
  /** With `viewer`, a private flavor is found only by admins and projects with access (Nova's flavor query). */
  flavors?: { find(id: string, viewer?: { projectId?: string; admin: boolean }): Promise<Flavor | null> };
  keypairs?: { find(userId: string, name: string): Promise<Keypair | null> };
  /** Every availability zone a server may ask for (aggregates); default: only the default zone. */
  availabilityZones?(): Promise<string[]>;
  /** The availability zone of a host (aggregates); default: the default zone. */
  hostAvailabilityZone?(host: string): Promise<string>;
}

/** Every family of the compute API. A new family is one import and one entry here. */
export const FAMILIES: Family[] = [
  serversFamily,
  flavorsFamily,
  keypairsFamily,
  quotasFamily,
  limitsFamily,
  serverGroupsFamily,
  aggregatesFamily,
  availabilityZonesFamily,
  servicesFamily,
  hypervisorsFamily,
  usageFamily,
  imagesFamily,
  extensionsFamily,
  guestActionsFamily,
  remoteConsolesFamily,
  securityGroupsFamily,
  floatingIpsFamily,
  networksFamily,
  interfacesFamily,
  migrationsFamily,
  serverMovesFamily,
];

/** Compute options (`compute:` in stratus.yaml); every field has a default. */
export interface ComputeOptions {
  /** The host of this process's compute agent (nova's `host`), default the machine's hostname. */
  host: string;
  /** Run a compute agent inside this process (the all-in-one shape, or the `compute` role). */
  agent: boolean;
  /** Run the conductor / the scheduler inside this process (roles `conductor`, `scheduler`). */
  conductor: boolean;
  scheduler: boolean;
  /** The agent's virt driver: 'fake'. */
  driver: string;
  /** Capacity the fake driver reports. */
  vcpus: number;
  memoryMb: number;
  localGb: number;
  /** Allocation ratios written to placement (Zed's initial_*_allocation_ratio). */
  cpuAllocationRatio: number;
  ramAllocationRatio: number;
  diskAllocationRatio: number;
  /** Seconds without a heartbeat after which a compute service is down (service_down_time). */
  serviceDownTime: number;
  /** Seconds between heartbeats and resource updates (report_interval). */
  reportInterval: number;
  /** Builds tried on other hosts before a server goes to ERROR (scheduler max_attempts). */
  maxAttempts: number;
  /** The availability zone of hosts in no aggregate zone (default_availability_zone). */
  defaultAvailabilityZone: string;
  /** How many fake compute hosts this process runs (`<host>`, `<host>-2`, ...), each its own agent and driver. */
  fakeHosts: number;
  /** The fake driver's time for a live migration, in ms (so that force-complete and abort can be shown). */
  fakeLiveMigrationMs: number;
  /** Seconds after which a resize waiting in VERIFY_RESIZE is confirmed by the agent (resize_confirm_window; 0: never). */
  resizeConfirmWindow: number;
  /** A resize may stay on its host (allow_resize_to_same_host). */
  allowResizeToSameHost: boolean;
  /** Seconds a shelved server keeps its host before it is offloaded (shelved_offload_time): 0 at once, -1 never. */
  shelvedOffloadTime: number;
  /** Seconds between the agent's checks for shelved servers to offload (shelved_poll_interval). */
  shelvedPollInterval: number;
  /** Seconds a deleted server stays SOFT_DELETED, restorable, before it is reclaimed (reclaim_instance_interval; 0: delete at once). */
  reclaimInstanceInterval: number;
  /** Seconds between two info cache heals, one server each (heal_instance_info_cache_interval; 0: off). */
  healInstanceInfoCacheInterval: number;
  /** Seconds a driver that waits for network-vif-plugged events waits (vif_plugging_timeout, 300; 0: no wait). */
  vifPluggingTimeout?: number;
  /** A vif that did not plug in time (or failed) fails the build (vif_plugging_is_fatal, true). */
  vifPluggingIsFatal?: boolean;
  /** Seconds between two power-state syncs of the host's servers (sync_power_state_interval; 0 or less: off). */
  syncPowerStateInterval: number;
  /**
   * Remote consoles: per protocol the proxy's base URL handed out with a token, or false when
   * the protocol is off (Nova's [vnc]/[spice]/[rdp]/[serial_console]/[mks] enabled and base URLs).
   */
  consoles: Record<'vnc' | 'spice' | 'rdp' | 'serial' | 'mks', string | false>;
  /** Seconds a console token stays valid ([consoleauth] token_ttl). */
  consoleTokenTtl: number;
}

/** The hosts of the agents this process runs: `<host>`, `<host>-2`, ... (compute.fakeHosts). */
export function agentHosts(o: ComputeOptions): string[] {
  return Array.from({ length: Math.max(1, o.fakeHosts) }, (_, i) => (i === 0 ? o.host : `${o.host}-${i + 1}`));
}

export function computeOptions(cfg: any): ComputeOptions {
  const c = cfg?.compute ?? {};
  const roles: string[] = cfg?.roles ?? ['conductor', 'scheduler', 'compute'];
  return {
    host: c.host ?? os.hostname(),
    agent: (c.agent ?? true) && roles.includes('compute'),
    driver: c.driver ?? 'fake',
    conductor: roles.includes('conductor'),
    scheduler: roles.includes('scheduler'),
    vcpus: Number(c.vcpus ?? 16),
    memoryMb: Number(c.memoryMb ?? 32768),
    localGb: Number(c.localGb ?? 500),
    cpuAllocationRatio: Number(c.cpuAllocationRatio ?? 16),
    ramAllocationRatio: Number(c.ramAllocationRatio ?? 1.5),
    diskAllocationRatio: Number(c.diskAllocationRatio ?? 1.0),
    serviceDownTime: Number(c.serviceDownTime ?? 60),
    reportInterval: Number(c.reportInterval ?? 10),
    maxAttempts: Number(c.maxAttempts ?? 3),
    defaultAvailabilityZone: c.defaultAvailabilityZone ?? 'nova',
    fakeHosts: Math.max(1, Math.floor(Number(c.fakeHosts ?? 1)) || 1),
    fakeLiveMigrationMs: Number(c.fakeLiveMigrationMs ?? 0),
    resizeConfirmWindow: Number(c.resizeConfirmWindow ?? 0),
    allowResizeToSameHost: c.allowResizeToSameHost ?? true,
    shelvedOffloadTime: Number(c.shelvedOffloadTime ?? 0),
    shelvedPollInterval: Number(c.shelvedPollInterval ?? 3600),
    reclaimInstanceInterval: Number(c.reclaimInstanceInterval ?? 0),
    healInstanceInfoCacheInterval: Number(c.healInstanceInfoCacheInterval ?? 60),
    vifPluggingTimeout: Number(c.vifPluggingTimeout ?? 300),
    vifPluggingIsFatal: c.vifPluggingIsFatal !== false,
    syncPowerStateInterval: Number(c.syncPowerStateInterval ?? 600),
    // Nova's defaults: only VNC is on.
    consoles: {
      vnc: 'http://127.0.0.1:6080/vnc_auto.html',
      spice: false,
      rdp: false,
      serial: false,
      mks: false,
      ...(c.consoles ?? {}),
    },
    consoleTokenTtl: Number(c.consoleTokenTtl ?? 600),
  };
}

/** Nova's version documents (nova.api.openstack.compute.versions). */
const VERSIONS = {
  'v2.0': {
    id: 'v2.0',
    status: 'SUPPORTED',
    version: '',
    min_version: '',
    updated: '2011-01-21T11:33:21Z',
    type: 'application/vnd.openstack.compute+json;version=2',
  },
  'v2.1': {
    id: 'v2.1',
    status: 'CURRENT',
    version: MAX_VERSION,
    min_version: MIN_VERSION,
    updated: '2013-07-23T11:33:21Z',
    type: 'application/vnd.openstack.compute+json;version=2.1',
  },
};
function versionDoc(base: string, id: 'v2.0' | 'v2.1') {
  const v = VERSIONS[id];
  return {
    version: {
      id: v.id,
      status: v.status,
      version: v.version,
      min_version: v.min_version,
      updated: v.updated,
      links: [
        { rel: 'self', href: `${base}/${id === 'v2.0' ? 'v2' : 'v2.1'}/` },
        { rel: 'describedby', type: 'text/html', href: 'http://docs.openstack.org/' },
      ],
      'media-types': [{ base: 'application/json', type: v.type }],
    },
  };
}

export class ComputeService implements ServiceModule {
  name = 'compute';
  type = 'compute';
  prefix = '/compute';
  standardPort = 8774;
  catalogPath = '/v2.1';
  catalogName = 'nova';
  policy: PolicyEngine;
  options: ComputeOptions;
  periodic: PeriodicTasks;
  /** Whatever a family wants to keep for the others (its store, its agent, ...), by name. */
  readonly parts = new Map<string, unknown>();
  /** Lookups one family offers the others (flavors, keypairs, ...). */
  readonly providers: ComputeProviders = {};

  constructor(
    public db: Kysely<ComputeDb>,
    public ctx: ServiceContext,
  ) {
    const cfg = ctx.config as any;
    this.options = computeOptions(cfg);
    // Nova's RequestContext: is_admin is the outcome of context_is_admin (role:admin).
    this.policy = PolicyEngine.forService('compute', COMPUTE_POLICIES, cfg.policyDir, ctx.log, {
      contextIsAdmin: true,
    });
    this.periodic = new PeriodicTasks(ctx.log);
  }

  async init() {
    const all: Record<string, Migration> = {};
    for (const f of FAMILIES) for (const [k, m] of Object.entries(f.migrations)) all[`${f.name}/${k}`] = m;
    await migrate(this.db, all);
    for (const f of FAMILIES) await f.init?.(this);
  }

  renderError(e: ApiError) {
    return faultBody(e);
  }

  async register(app: FastifyInstance) {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser(
      '*',
      { parseAs: 'string' },
      jsonBodyParser(() => new ApiError(400, 'Malformed request body')),
    );
    app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
      // Nova answers its request id under both names.
      reply.header('x-compute-request-id', req.id);
      const url = req.routeOptions.url ?? '';
      if (url === '/' || url === '/v2' || url === '/v2.1' || url === '') return;
      try {
        req.computeVersion = negotiateMicroversion(req, reply, {
          service: 'compute',
          legacyHeader: 'x-openstack-nova-api-version',
          min: MIN_VERSION,
          max: MAX_VERSION,
        });
      } catch (e) {
        if (e instanceof ApiError && e.status === 400) {
          const h = String(
            req.headers['openstack-api-version'] ?? req.headers['x-openstack-nova-api-version'] ?? '',
          ).replace(/^\s*compute\s+/i, '');
          throw new ApiError(400, `API Version String ${h} is of invalid format. Must be of format MajorNum.MinorNum.`);
        }
        throw e;
      }
    });
    app.get('/', { config: { auth: false } }, async (req) => ({
      versions: (['v2.0', 'v2.1'] as const).map((id) => {
        const v = VERSIONS[id];
        return {
          id: v.id,
          status: v.status,
          version: v.version,
          min_version: v.min_version,
          updated: v.updated,
          links: [{ rel: 'self', href: `${req.baseUrl}/${id === 'v2.0' ? 'v2' : 'v2.1'}/` }],
        };
      }),
    }));
    app.get('/v2.1', { config: { auth: false } }, async (req) => versionDoc(req.baseUrl, 'v2.1'));
    app.get('/v2', { config: { auth: false } }, async (req) => versionDoc(req.baseUrl, 'v2.0'));
    await app.register(
      async (v21) => {
        for (const f of FAMILIES) f.routes(v21, this);
      },
      { prefix: '/v2.1' },
    );
  }

  async close() {
    this.periodic.stop();
    for (const f of [...FAMILIES].reverse()) await f.close?.(this);
    await this.db.destroy();
  }
}

export const computeService: ServiceFactory = {
  name: 'compute',
  user: 'nova',
  async create(ctx: ServiceContext) {
    // core's openDatabase() is untyped; the tables in it are compute's (db/schema.ts).
    const svc = new ComputeService((await ctx.openDatabase()) as Kysely<ComputeDb>, ctx);
    return svc;
  },
};
