// The cloud of one process: by default every service in it (all-in-one), on one port under
// DevStack's path prefixes (or each on its standard port), sharing the bus and the token
// validator. With roles (cfg.roles) a process runs part of it: `api` serves every REST API (and
// the services' other workers), `conductor`, `scheduler` and `compute` run only those workers,
// talking to the API's process over REST and to the others over the bus (RabbitMQ).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import YAML from 'yaml';
import type { Kysely } from 'kysely';
import type { IdentityDb } from './identity/db/schema.ts';
import type { FastifyInstance } from 'fastify';
import { ROLES, type StratusConfig } from './core/config.ts';
import { createLogger, type Logger } from './core/log.ts';
import { checkpointsClosed } from './core/sqlite-checkpoint.ts';
import { InProcessBus, type MessageBus } from './core/bus.ts';
import { AmqpBus, isAmqpUrl } from './core/bus-amqp.ts';
import { openDatabase } from './core/db.ts';
import { createHttpApp, mountService, type ServiceModule } from './core/http.ts';
import { IdentityService } from './identity/service.ts';
import { bootstrap, type CatalogService } from './identity/bootstrap.ts';
import { type CatalogEntry, SERVICE_CATALOG } from './core/catalog_services.ts';
import { ServiceSession } from './core/clients/session.ts';
import { policyModeOptions } from './core/policy/index.ts';
import { loadService, SERVICES, WORKER_ROLES } from './services.ts';
import type { ServiceFactory } from './core/service.ts';
import { agentHosts, computeOptions } from './compute/config.ts';
import type { NetworkAgent } from './network/agent/agent.ts';
import { Health } from './core/health.ts';
import { FaultInjector } from './devstack/faults.ts';
import { registerAdminApi } from './devstack/admin-api.ts';
import { logErrorReasons } from './devstack/console.ts';
import { devstackOptions } from './devstack/config.ts';
import { openrcScript, writeClouds, type CloudEntry } from './devstack/clouds-yaml.ts';
import type { World } from './devstack/world.ts';
import { CloudState, type Databases } from './devstack/state.ts';

export interface Secrets {
  adminPassword: string;
  servicePassword: string;
}

/** Passwords generated on the first start and kept (0600) in the data directory. */
export function loadSecrets(cfg: StratusConfig): Secrets {
  const file = path.join(cfg.dataDir, 'secrets.yaml');
  let s: Partial<Secrets> = {};
  if (fs.existsSync(file)) s = YAML.parse(fs.readFileSync(file, 'utf8')) ?? {};
  const gen = () => randomBytes(12).toString('base64url');
  const out: Secrets = {
    adminPassword: cfg.adminPassword ?? s.adminPassword ?? gen(),
    servicePassword: s.servicePassword ?? gen(),
  };
  if (out.adminPassword !== s.adminPassword || out.servicePassword !== s.servicePassword) {
    fs.mkdirSync(cfg.dataDir, { recursive: true });
    // Keep what other parts keep there (the metadata proxy's shared secret).
    fs.writeFileSync(file, YAML.stringify({ ...s, ...out }), { mode: 0o600 });
  }
  return out;
}

/** The catalog entries of the services this process runs. */
export function catalogServices(cfg: StratusConfig, services: ServiceModule[]): CatalogService[] {
  return services.flatMap(({ catalogEntry: e }) =>
    [e.type, ...(e.aliases ?? [])].map((type) => ({
      type,
      name: e.upstream,
      description: `Stratus ${e.name} service`,
      url: serviceUrl(cfg, e),
    })),
  );
}

/** A service's public URL, as the catalog lists it. */
export function serviceUrl(cfg: StratusConfig, e: CatalogEntry): string {
  return cfg.separatePorts
    ? `http://${cfg.publicHost}:${e.standardPort}${e.path}`
    : `http://${cfg.publicHost}:${cfg.port}${e.prefix}${e.path}`;
}

export class Cloud {
  apps: FastifyInstance[] = [];
  services: ServiceModule[] = [];
  /** The L2 agents of a compute-only process (src/network/agent/l2_agents.ts). */
  l2Agents: NetworkAgent[] = [];
  identity!: IdentityService;
  bus: MessageBus;
  log: Logger;
  secrets!: Secrets;
  /** /healthcheck's answer: starting, ready, stopping (core/health.ts). */
  health = new Health();
  /** Fault injection (devstack/faults.ts), from `devstack.faults` and the admin API. */
  faults: FaultInjector;
  /** Every service's database, for reset and snapshots (devstack/state.ts). */
  databases: Databases = new Map();
  /** Reset and snapshots of the whole cloud's state. */
  state: CloudState;
  /** Set by interrupt(): the start stops at its next step. */
  private interrupted = false;
  constructor(
    public cfg: StratusConfig,
    log?: Logger,
  ) {
    this.log = log ?? createLogger(cfg.logLevel);
    if (isAmqpUrl(cfg.transport))
      this.bus = new AmqpBus(cfg.transport, {
        log: this.log.child({ component: 'bus' }),
        name: `stratus ${cfg.roles.join(',')} (pid ${process.pid})`,
      });
    else if (cfg.transport === 'memory' || !cfg.transport) this.bus = new InProcessBus();
    else throw new Error(`unknown transport '${cfg.transport}' (use 'memory' or an amqp:// URL)`);
    this.faults = new FaultInjector(devstackOptions(cfg).faults);
    this.state = new CloudState(cfg.dataDir, this.databases, cfg.database);
  }

  /** Asks a start in progress to stop at its next step (a signal during the start). */
  interrupt() {
    this.interrupted = true;
  }

  private checkInterrupted() {
    if (this.interrupted) throw new StartInterrupted();
  }

  /** Whether this process serves the REST APIs. */
  get api() {
    return this.cfg.roles.includes('api');
  }

  /**
   * Opens the databases, starts the services of this process's roles and bootstraps identity.
   * A failure closes what had started (timers, database pools, the bus) before it is thrown:
   * a half-started cloud must not keep working, or keep its process alive, behind the error.
   */
  async init(opts: { bootstrap?: boolean; resetAdminPassword?: boolean } = {}) {
    try {
      await this.start(opts);
    } catch (err) {
      await this.close().catch((e) => this.log.warn({ err: e }, 'closing a half-started cloud failed'));
      throw err;
    }
  }

  private async start(opts: { bootstrap?: boolean; resetAdminPassword?: boolean }) {
    fs.mkdirSync(this.cfg.dataDir, { recursive: true });
    // The in-process bus reaches only this process: the other roles could never be called.
    if (this.cfg.roles.length < ROLES.length && !isAmqpUrl(this.cfg.transport)) {
      throw new Error(
        `a process with only some roles (${this.cfg.roles.join(',')}) talks to the others over RabbitMQ: give --bus amqp://...`,
      );
    }
    if (this.bus instanceof AmqpBus) await this.bus.connect();
    if (!this.api) return this.initWorkers();
    const db = await openDatabase<IdentityDb>({
      url: this.cfg.database,
      dataDir: this.cfg.dataDir,
      service: 'identity',
    });
    this.databases.set('identity', db as Kysely<unknown>);
    this.identity = new IdentityService(db, this.cfg, this.bus, this.log.child({ service: 'identity' }));
    this.services = [this.identity];
    await this.identity.init();
    this.secrets = loadSecrets(this.cfg);
    const started: ServiceFactory[] = [];
    for (const e of SERVICES) {
      this.checkInterrupted();
      this.health.step = `starting ${e.name}`;
      const f = await loadService(e);
      started.push(f);
      const session = new ServiceSession(() => this.authUrl(), f.user, this.secrets.servicePassword, this.cfg.region);
      await this.startService(f, session);
    }
    this.checkInterrupted();
    if (opts.bootstrap !== false) {
      this.health.step = 'bootstrapping identity';
      await bootstrap(this.identity, {
        adminPassword: this.secrets.adminPassword,
        servicePassword: this.secrets.servicePassword,
        region: this.cfg.region,
        services: catalogServices(this.cfg, this.services),
        resetAdminPassword: opts.resetAdminPassword,
        systemAdmins: policyModeOptions(this.cfg, 'placement').enforceScope ? ['nova'] : [],
        extraUsers: started.flatMap((f) => f.agentUsers ?? []),
      });
    }
  }

  /**
   * A process without the api role: only the services with workers for its roles, once the API's
   * process answers (it has migrated the databases and written the service users' secrets).
   */
  private async initWorkers() {
    const url = this.authUrl();
    const deadline = Date.now() + 300_000;
    for (let logged = false; ; ) {
      try {
        if ((await fetch(url)).ok) break;
      } catch {
        /* not up yet */
      }
      if (Date.now() > deadline) throw new Error(`the API at ${url} did not answer within 5 minutes`);
      if (!logged) {
        this.log.info({ url }, 'waiting for the API process');
        logged = true;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    const file = path.join(this.cfg.dataDir, 'secrets.yaml');
    if (!fs.existsSync(file))
      throw new Error(
        `${file} not found: a worker role needs the API's data directory (or a copy of its secrets.yaml)`,
      );
    this.secrets = loadSecrets(this.cfg);
    for (const e of SERVICES) {
      if (!(WORKER_ROLES[e.name] ?? []).some((r) => this.cfg.roles.includes(r))) continue;
      const f = await loadService(e);
      const session = new ServiceSession(() => this.authUrl(), f.user, this.secrets.servicePassword, this.cfg.region);
      await this.startService(f, session);
    }
    // A compute node runs the network's L2 agent next to nova-compute, for the same hosts.
    const compute = computeOptions(this.cfg);
    const wantsNetworkAgent = this.cfg.roles.includes('network-agent');
    if (!wantsNetworkAgent && !(compute.agent && this.cfg.network?.agent !== false)) return;
    // The network agents' code, loaded only by a process that runs one.
    const { l2OnlyHosts, startL2Agents, startNetworkAgent } = await import('./network/agent/l2_agents.ts');
    if (compute.agent && this.cfg.network?.agent !== false) {
      // A process that is also the network node of one of its hosts runs that host's whole agent
      // (below) instead of a second, L2-only one under the same host name.
      this.l2Agents = await startL2Agents(
        l2OnlyHosts(agentHosts(compute), this.cfg),
        this.cfg,
        this.bus,
        this.log.child({ service: 'network' }),
      );
    }
    // A network node: the whole network agent (L2, DHCP, L3) of network.host.
    if (wantsNetworkAgent)
      this.l2Agents.push(await startNetworkAgent(this.cfg, this.bus, this.log.child({ service: 'network-agent' })));
  }

  /** Creates a service and starts it; it is closed with the others even when its init fails. */
  private async startService(f: ServiceFactory, session: ServiceSession) {
    const svc = await f.create({
      config: this.cfg,
      bus: this.bus,
      log: this.log.child({ service: f.name }),
      session,
      services: [...this.services],
      openDatabase: async <DB>() => {
        const db = await openDatabase<DB>({ url: this.cfg.database, dataDir: this.cfg.dataDir, service: f.name });
        this.databases.set(f.name, db as Kysely<unknown>);
        return db;
      },
    });
    this.services.push(svc);
    await svc.init?.();
  }

  async listen(): Promise<string[]> {
    if (!this.api) return [];
    const validator = this.identity.validator();
    const identityUrl = () => serviceUrl(this.cfg, SERVICE_CATALOG.identity);
    const urls: string[] = [];
    const ds = devstackOptions(this.cfg);
    /** What every app serves besides the services: fault injection, healthchecks, the admin test API. */
    const extras = (app: FastifyInstance) => {
      this.faults.install(app);
      logErrorReasons(app);
      registerAdminApi(app, {
        validator,
        faults: ds.faultApi ? this.faults : undefined,
        state: ds.reset ? this.state : undefined,
        health: this.health,
      });
    };
    this.health.step = 'listening';
    if (this.cfg.separatePorts) {
      for (const s of this.services) {
        const app = createHttpApp(this.log);
        extras(app);
        await mountService(app, s, { prefix: '', validator, identityUrl });
        await app.after();
        if (!app.hasRoute({ method: 'GET', url: '/healthcheck' })) this.health.register(app, '');
        await app.listen({ host: this.cfg.host, port: s.catalogEntry.standardPort });
        this.apps.push(app);
        urls.push(`${s.catalogEntry.type}: ${serviceUrl(this.cfg, s.catalogEntry)}`);
      }
    } else {
      const app = createHttpApp(this.log);
      extras(app);
      // The whole cloud's readiness at /healthcheck, each service's at <prefix>/healthcheck.
      this.health.register(app, '', () => ({ services: this.services.map((s) => s.catalogEntry.name) }));
      for (const s of this.services) {
        await mountService(app, s, { prefix: s.catalogEntry.prefix, validator, identityUrl });
        // A service with its own healthcheck (Swift's) keeps it.
        await app.after();
        const { prefix } = s.catalogEntry;
        if (!app.hasRoute({ method: 'GET', url: `${prefix}/healthcheck` })) this.health.register(app, prefix);
      }
      app.get('/', async () => ({
        versions: this.services.map(({ catalogEntry: e }) => ({ type: e.type, href: serviceUrl(this.cfg, e) })),
      }));
      await app.listen({ host: this.cfg.host, port: this.cfg.port });
      this.apps.push(app);
      for (const s of this.services) urls.push(`${s.catalogEntry.type}: ${serviceUrl(this.cfg, s.catalogEntry)}`);
    }
    return urls;
  }

  /** Graceful shutdown: stop accepting, finish requests in flight, close databases. */
  async close() {
    this.health.phase = 'stopping';
    for (const app of this.apps) {
      // Requests in flight get a grace period; a connection still open after it (one a client opened
      // and has not sent a request on yet, which Node does not count as idle) must not hold the
      // stop: nothing on it was acknowledged.
      const grace = setTimeout(() => app.server.closeAllConnections(), 1000);
      await app.close();
      clearTimeout(grace);
    }
    this.apps = [];
    this.log.debug('HTTP closed');
    // One service failing to close (say, one whose init failed half-way) must not keep the others open.
    for (const a of this.l2Agents) await a.stop().catch((err) => this.log.warn({ err }, 'stopping an L2 agent failed'));
    this.l2Agents = [];
    for (const s of this.services) {
      await s
        .close?.()
        .catch((err) => this.log.warn({ err, service: s.catalogEntry.name }, 'closing a service failed'));
      this.log.debug({ service: s.catalogEntry.name }, 'service closed');
    }
    this.services = [];
    await this.bus.close();
    // The checkpoint worker's own connections close last: their final checkpoint removes the -wal
    // and -shm files, which must be done before close() resolves (callers remove data directories).
    await checkpointsClosed();
  }

  authUrl() {
    return `${serviceUrl(this.cfg, SERVICE_CATALOG.identity)}/v3`;
  }

  /**
   * Writes clouds.yaml (data dir, and the user's ~/.config/openstack unless disabled) and an
   * openrc: `stratus` and `stratus-system` (admin), and DevStack's names: `devstack-admin`,
   * `devstack-system-admin`, and with DevStack's world `devstack` (demo), `devstack-alt`
   * (alt_demo), `devstack-reader`, `devstack-alt-member`, `devstack-alt-reader`,
   * `devstack-system-member`, `devstack-system-reader`, `devstack-admin-demo`, `devstack-alt-admin`.
   */
  writeClientConfig(world?: World): { cloudsYaml: string[]; clouds: string[]; warnings: string[]; openrc: string } {
    const authUrl = this.authUrl();
    const pw = this.secrets.adminPassword;
    const entry = (auth: Record<string, string>): CloudEntry => ({
      auth: { auth_url: authUrl, ...auth },
      region_name: this.cfg.region,
      identity_api_version: 3,
      interface: 'public',
    });
    const project = (username: string, password: string, project_name: string) =>
      entry({ username, password, project_name, user_domain_name: 'Default', project_domain_name: 'Default' });
    const system = entry({ username: 'admin', password: pw, user_domain_name: 'Default', system_scope: 'all' });
    const clouds: Record<string, CloudEntry> = {
      stratus: project('admin', pw, 'admin'),
      'stratus-system': system,
      'devstack-admin': project('admin', pw, 'admin'),
      'devstack-system-admin': system,
    };
    if (world) {
      // DevStack's names (stack.sh's write_clouds_yaml).
      const names: Record<string, string> = {
        demo: 'devstack',
        alt_demo: 'devstack-alt',
        demo_reader: 'devstack-reader',
        alt_demo_member: 'devstack-alt-member',
        alt_demo_reader: 'devstack-alt-reader',
        system_member: 'devstack-system-member',
        system_reader: 'devstack-system-reader',
      };
      for (const u of world.users) {
        const name = names[u.name];
        if (!name) continue;
        clouds[name] = u.system
          ? entry({ username: u.name, password: u.password, user_domain_name: 'Default', system_scope: 'all' })
          : project(u.name, u.password, u.project);
      }
      if (world.projectIds.demo) clouds['devstack-admin-demo'] = project('admin', pw, 'demo');
      if (world.projectIds.alt_demo) clouds['devstack-alt-admin'] = project('admin', pw, 'alt_demo');
    }
    const files = [path.join(this.cfg.dataDir, 'clouds.yaml')];
    if (process.env.STRATUS_USER_CLOUDS !== '0')
      files.push(path.join(os.homedir(), '.config', 'openstack', 'clouds.yaml'));
    const result = writeClouds(files, clouds);
    const openrc = path.join(this.cfg.dataDir, 'openrc');
    fs.writeFileSync(
      openrc,
      openrcScript({
        authUrl,
        region: this.cfg.region,
        users: world?.users.filter((u) => !u.system) ?? [{ name: 'admin', password: pw, project: 'admin' }],
      }),
      { mode: 0o600 },
    );
    return { cloudsYaml: result.written, clouds: Object.keys(clouds), warnings: result.warnings, openrc };
  }
}

/** Thrown by a start that was interrupted (a signal): not a failure to report. */
export class StartInterrupted extends Error {
  constructor() {
    super('the start was interrupted');
  }
}
