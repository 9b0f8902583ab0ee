// The compute service (Nova v2.1 as Zed answers it, microversions 2.1 to 2.93): the composition
// root. It builds compute's parts once (stores, clients, the scheduler, the conductors, the
// heartbeats, one agent and virt driver per host), mounts the API (api/versions.ts,
// api/routes.ts) and starts the roles that config asks for. Long work goes over the bus to the
// conductor and scheduler (worker/) and to one compute agent per host (agent/), which drives a
// virt driver (drivers/).
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { ComputeDb } from './db/schema.ts';
import type { ServiceFactory, ServiceContext } from '../core/service.ts';
import { type ServiceModule } from '../core/http.ts';
import { SERVICE_CATALOG } from '../core/catalog_services.ts';
import { ApiError } from '../core/errors.ts';
import { PolicyEngine, policyModeOptions } from '../core/policy/index.ts';
import { migrate, type Migration } from '../core/db.ts';
import { PeriodicTasks } from '../core/periodic.ts';
import { COMPUTE_POLICIES } from './policies.ts';
import { agentHosts, computeOptions, type ComputeOptions } from './config.ts';
import { InstanceStore, VmState } from './instances.ts';
import { ComputeClients } from './clients.ts';
import { MigrationStore } from './migrations.ts';
import { BlockDeviceStore } from './block_devices.ts';
import { QuotaEngine } from './quota.ts';
import { Scheduler } from './worker/scheduler.ts';
import { Conductor } from './worker/conductor.ts';
import { MoveConductor } from './worker/moves.ts';
import { addUnshelve } from './worker/shelve.ts';
import { ServiceHeartbeat } from './worker/heartbeat.ts';
import { ComputeAgent } from './agent/compute.ts';
import { virtDriver } from './drivers/index.ts';
import { MetadataServer } from './metadata/server.ts';
import { subnetMetas } from './subnet_meta.ts';
import { ConsoleProxies } from './console_proxy/index.ts';
import { consoleByToken } from './consoles.ts';
import { metadataSharedSecret } from '../core/metadata_secret.ts';
import { faultBody } from './api/common.ts';
import { registerApi } from './api/versions.ts';
import { serversFamily } from './api/servers.ts';
import { flavorsFamily } from './api/flavors.ts';
import { keypairsFamily } from './api/keypairs.ts';
import { quotasFamily } from './api/quotas.ts';
import { serverGroupsFamily } from './api/server_groups.ts';
import { aggregatesFamily } from './api/aggregates.ts';
import { consoleAuthTokenMigrations } from './db/migrations/remote_consoles.ts';
import { migrationsFamily } from './api/migrations.ts';
import { volumesFamily } from './api/volume_attachments.ts';
import { FlavorStore } from './flavors.ts';
import { KeypairStore } from './keypairs.ts';
import { ServerGroupStore } from './server_groups.ts';
import { AggregateStore } from './aggregates.ts';

export { agentHosts, computeOptions, type ComputeOptions } from './config.ts';

/** The families with tables or start hooks, in the order their migrations first ran. */
export const FAMILIES: Family[] = [
  serversFamily,
  flavorsFamily,
  keypairsFamily,
  quotasFamily,
  serverGroupsFamily,
  aggregatesFamily,
  { name: 'remote_consoles', migrations: consoleAuthTokenMigrations },
  migrationsFamily,
  volumesFamily,
];

/** A family of the compute API: its tables, and what it starts and stops (its routes are in api/routes.ts). */
export interface Family {
  /** Short name; prefixes the family's migration names ('servers' → 'servers/001_...'). */
  name: string;
  migrations: Record<string, Migration>;
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

export class ComputeService implements ServiceModule {
  readonly catalogEntry = SERVICE_CATALOG.compute;
  policy: PolicyEngine;
  options: ComputeOptions;
  periodic: PeriodicTasks;
  /** Compute's parts, built once here and shared by the API, the workers and the agents. */
  readonly parts: ComputeParts;
  /** Lookups one family offers the others (flavors, keypairs, ...). */
  readonly providers: ComputeProviders = {};

  constructor(
    public db: Kysely<ComputeDb>,
    public ctx: ServiceContext,
  ) {
    const cfg = ctx.config;
    this.options = computeOptions(cfg);
    // Nova's RequestContext: is_admin is the outcome of context_is_admin (role:admin).
    this.policy = PolicyEngine.forService('compute', COMPUTE_POLICIES, cfg, ctx.log, {
      contextIsAdmin: true,
    });
    this.periodic = new PeriodicTasks(ctx.log);
    this.parts = buildParts(this);
  }

  async init() {
    const all: Record<string, Migration> = {};
    for (const f of FAMILIES) for (const [k, m] of Object.entries(f.migrations)) all[`${f.name}/${k}`] = m;
    await migrate(this.db, all);
    for (const f of FAMILIES) await f.init?.(this);
    await startRoles(this);
  }

  renderError(e: ApiError) {
    return faultBody(e);
  }

  async register(app: FastifyInstance) {
    await registerApi(app, this);
  }

  async close() {
    this.periodic.stop();
    await stopRoles(this);
    for (const f of [...FAMILIES].reverse()) await f.close?.(this);
    await this.db.destroy();
  }
}

export const computeService: ServiceFactory = {
  name: 'compute',
  user: 'nova',
  async create(ctx: ServiceContext) {
    return new ComputeService(await ctx.openDatabase<ComputeDb>(), ctx);
  },
};

/** The parts of compute, typed: what the API, the workers and the agents of this process share. */
export interface ComputeParts {
  /** The instances table and its actions, events and faults (nova.objects.Instance). */
  store: InstanceStore;
  /** The other services' APIs (placement, network, image, block storage), with the service token. */
  clients: ComputeClients;
  /** Moves of servers (nova.objects.Migration). */
  migrations: MigrationStore;
  /** The servers' block device mappings (nova.objects.BlockDeviceMapping). */
  blockDevices: BlockDeviceStore;
  quotas: QuotaEngine;
  flavors: FlavorStore;
  keypairs: KeypairStore;
  serverGroups: ServerGroupStore;
  aggregates: AggregateStore;
  scheduler: Scheduler;
  /** Builds and unshelves (worker/conductor.ts, worker/shelve.ts). */
  conductor: Conductor;
  /** Resizes, migrations, live migrations, evacuations (worker/moves.ts). */
  moveConductor: MoveConductor;
  /** The nova-conductor / nova-scheduler service rows this process keeps up (its roles). */
  heartbeats: ServiceHeartbeat[];
  /** One agent per host this process runs (compute.fakeHosts), each with its own virt driver. */
  agents: ComputeAgent[];
  /** The first of `agents`. */
  agent?: ComputeAgent;
  /** Nova's metadata API on its own listener (compute.metadata.enabled). */
  metadata?: MetadataServer;
  /** nova-novncproxy and nova-serialproxy on their own listeners (compute.consoleProxy). */
  consoleProxies?: ConsoleProxies;
}

function buildParts(svc: ComputeService): ComputeParts {
  const { db, options: o } = svc;
  const { bus, log, session } = svc.ctx;
  const store = new InstanceStore(db);
  // Placement's Zed rules are system-scoped: with its scope enforced, nova talks to it with a
  // system-scoped token (DevStack's [placement] system_scope = all).
  const placementScoped = policyModeOptions(svc.ctx.config, 'placement').enforceScope;
  const clients = new ComputeClients(session, placementScoped ? session.systemScoped() : session);
  const migrations = new MigrationStore(db);
  const zoneOf = async (host: string) =>
    svc.providers.hostAvailabilityZone ? svc.providers.hostAvailabilityZone(host) : o.defaultAvailabilityZone;
  const scheduler = new Scheduler(db, clients, bus, o, log.child({ role: 'scheduler' }));
  scheduler.hostZone = zoneOf;
  const conductor = new Conductor(store, clients, bus, o, log.child({ role: 'conductor' }));
  addUnshelve(conductor, zoneOf);
  const moveConductor = new MoveConductor(store, migrations, clients, bus, o, log.child({ role: 'conductor' }));
  // One agent and one driver per host (compute.fakeHosts): each its own service, node and provider.
  // The driver is chosen by name (compute.driver): an unknown name fails here, at start.
  const agents: ComputeAgent[] = [];
  if (o.agent) {
    const driverOf = virtDriver(o.driver);
    for (const host of agentHosts(o))
      agents.push(
        new ComputeAgent(
          db,
          store,
          clients,
          bus,
          driverOf(host, o),
          { ...o, host },
          log.child({ role: 'compute', host }),
        ),
      );
  }
  return {
    store,
    clients,
    migrations,
    blockDevices: new BlockDeviceStore(db),
    quotas: new QuotaEngine(db),
    flavors: new FlavorStore(db),
    keypairs: new KeypairStore(db),
    serverGroups: new ServerGroupStore(db),
    aggregates: new AggregateStore(db),
    scheduler,
    conductor,
    moveConductor,
    heartbeats: [],
    agents,
    agent: agents[0],
  };
}

/** Starts the roles this process runs (config `roles`): scheduler, conductor, compute agents. */
async function startRoles(svc: ComputeService) {
  const { options: o, parts: p, db } = svc;
  const log = svc.ctx.log;
  const heartbeat = (binary: string, topic: string) =>
    new ServiceHeartbeat(db, o.host, binary, topic, o.reportInterval, log.child({ role: topic }));
  if (o.scheduler) {
    p.scheduler.start();
    p.heartbeats.push(heartbeat('nova-scheduler', 'scheduler'));
  }
  if (o.conductor) {
    p.conductor.start();
    p.moveConductor.start();
    p.heartbeats.push(heartbeat('nova-conductor', 'conductor'));
    // Placement and the network answer only once the cloud listens: recovery runs a moment later.
    // Only builds older than this start were interrupted: a server created in those 2 s is not.
    const startedAt = new Date().toISOString();
    setTimeout(() => {
      p.conductor.recover(startedAt).catch((err) => log.error({ err }, 'conductor recovery failed'));
    }, 2000).unref();
  }
  for (const h of p.heartbeats) await h.start();
  for (const a of p.agents) await a.start();
  if (o.metadata.enabled && (svc.ctx.config.roles ?? ['api']).includes('api')) {
    const secret = metadataSharedSecret(svc.ctx.config.dataDir, o.metadata.sharedSecret);
    const setPassword = async (uuid: string, password: string) => {
      const inst = await p.store.get(uuid);
      if (inst) await p.store.update(uuid, { system_metadata: { ...inst.system_metadata, password } });
    };
    p.metadata = new MetadataServer(
      {
        secret,
        getInstance: (u) => p.store.get(u),
        setPassword,
        subnets: (ids) => subnetMetas(p.clients.network, ids),
      },
      log.child({ role: 'metadata' }),
    );
    await p.metadata.start(o.metadata);
  }
  if ((svc.ctx.config.roles ?? ['api']).includes('api')) {
    p.consoleProxies = new ConsoleProxies(o, (t) => consoleByToken(svc, t), log);
    await p.consoleProxies.start();
  }
  // An unshelve of an offloaded server that the conductor had not placed when it stopped
  // cannot go on: the server stays offloaded, with no task (the user may unshelve again).
  const startedAt = new Date().toISOString();
  setTimeout(async () => {
    try {
      for (const i of await p.store.list({ deleted: false })) {
        if (
          i.vm_state !== VmState.SHELVED_OFFLOADED ||
          i.task_state !== 'unshelving' ||
          i.host ||
          i.updated_at >= startedAt
        )
          continue;
        await p.store.update(i.uuid, { task_state: null }, { expectTaskState: ['unshelving'] });
      }
    } catch (err) {
      log.error({ err }, 'unshelve recovery failed');
    }
  }, 2000).unref();
}

async function stopRoles(svc: ComputeService) {
  const p = svc.parts;
  await p.metadata?.close();
  await p.consoleProxies?.close();
  for (const h of p.heartbeats) h.stop();
  for (const a of p.agents) await a.stop();
  p.moveConductor.stop();
  p.conductor.stop();
  p.scheduler.stop();
}
