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
import type { FastifyInstance } from 'fastify';
import { ROLES, type StratusConfig } from './core/config.ts';
import { createLogger, type Logger } from './core/log.ts';
import { InProcessBus, type MessageBus } from './core/bus.ts';
import { AmqpBus, isAmqpUrl } from './core/bus-amqp.ts';
import { openDatabase } from './core/db.ts';
import { createHttpApp, mountService, type ServiceModule } from './core/http.ts';
import { IdentityService } from './identity/service.ts';
import { bootstrap, type CatalogService } from './identity/bootstrap.ts';
import { ServiceSession } from './core/clients/session.ts';
import { SERVICES, WORKER_ROLES } from './services.ts';
import type { ServiceFactory } from './core/service.ts';
import { agentHosts, computeOptions } from './compute/service.ts';
import { startL2Agents, startNetworkAgent } from './network/agent/l2_agents.ts';
import type { NetworkAgent } from './network/agent/agent.ts';

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
    fs.writeFileSync(file, YAML.stringify(out), { mode: 0o600 });
  }
  return out;
}

/** The catalog entries of the services this process runs. */
export function catalogServices(cfg: StratusConfig, services: ServiceModule[]): CatalogService[] {
  return services.map((s) => ({
    type: s.type,
    name: s.catalogName,
    description: `Stratus ${s.name} service`,
    url: serviceUrl(cfg, s),
  }));
}

/** Where identity answers, known without running it (the roles without `api` ask the API's process). */
const IDENTITY_ENDPOINT = { prefix: '/identity', standardPort: 5000, catalogPath: '' };

export function serviceUrl(
  cfg: StratusConfig,
  s: Pick<ServiceModule, 'prefix' | 'standardPort' | 'catalogPath'>,
): string {
  return cfg.separatePorts
    ? `http://${cfg.publicHost}:${s.standardPort}${s.catalogPath}`
    : `http://${cfg.publicHost}:${cfg.port}${s.prefix}${s.catalogPath}`;
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
    const db = await openDatabase<any>({ url: this.cfg.database, dataDir: this.cfg.dataDir, service: 'identity' });
    this.identity = new IdentityService(db, this.cfg, this.bus, this.log.child({ service: 'identity' }));
    this.services = [this.identity];
    await this.identity.init();
    this.secrets = loadSecrets(this.cfg);
    for (const f of SERVICES) {
      const session = new ServiceSession(() => this.authUrl(), f.user, this.secrets.servicePassword, this.cfg.region);
      await this.startService(f, session);
    }
    if (opts.bootstrap !== false) {
      await bootstrap(this.identity, {
        adminPassword: this.secrets.adminPassword,
        servicePassword: this.secrets.servicePassword,
        region: this.cfg.region,
        services: catalogServices(this.cfg, this.services),
        resetAdminPassword: opts.resetAdminPassword,
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
    for (const f of SERVICES) {
      if (!(WORKER_ROLES[f.name] ?? []).some((r) => this.cfg.roles.includes(r))) continue;
      const session = new ServiceSession(() => this.authUrl(), f.user, this.secrets.servicePassword, this.cfg.region);
      await this.startService(f, session);
    }
    // A compute node runs the network's L2 agent next to nova-compute, for the same hosts.
    const compute = computeOptions(this.cfg);
    if (compute.agent && this.cfg.network?.agent !== false) {
      this.l2Agents = await startL2Agents(
        agentHosts(compute),
        this.cfg,
        this.bus,
        this.log.child({ service: 'network' }),
      );
    }
    // A network node: the whole network agent (L2, DHCP, L3) of network.host.
    if (this.cfg.roles.includes('network-agent'))
      this.l2Agents.push(await startNetworkAgent(this.cfg, this.bus, this.log.child({ service: 'network-agent' })));
  }

  /** Creates a service and starts it; it is closed with the others even when its init fails. */
  private async startService(f: ServiceFactory, session: ServiceSession) {
    const svc = await f.create({
      config: this.cfg,
      bus: this.bus,
      log: this.log.child({ service: f.name }),
      session,
      openDatabase: () => openDatabase<any>({ url: this.cfg.database, dataDir: this.cfg.dataDir, service: f.name }),
    });
    this.services.push(svc);
    await svc.init?.();
  }

  async listen(): Promise<string[]> {
    if (!this.api) return [];
    const validator = this.identity.validator();
    const identityUrl = () => serviceUrl(this.cfg, this.identity);
    const urls: string[] = [];
    if (this.cfg.separatePorts) {
      for (const s of this.services) {
        const app = createHttpApp(this.log);
        await mountService(app, s, { prefix: '', validator, identityUrl });
        await app.listen({ host: this.cfg.host, port: s.standardPort });
        this.apps.push(app);
        urls.push(`${s.type}: ${serviceUrl(this.cfg, s)}`);
      }
    } else {
      const app = createHttpApp(this.log);
      for (const s of this.services) await mountService(app, s, { prefix: s.prefix, validator, identityUrl });
      app.get('/', async () => ({
        versions: this.services.map((s) => ({ type: s.type, href: serviceUrl(this.cfg, s) })),
      }));
      await app.listen({ host: this.cfg.host, port: this.cfg.port });
      this.apps.push(app);
      for (const s of this.services) urls.push(`${s.type}: ${serviceUrl(this.cfg, s)}`);
    }
    return urls;
  }

  /** Graceful shutdown: stop accepting, finish requests in flight, close databases. */
  async close() {
    for (const app of this.apps) await app.close();
    this.apps = [];
    // One service failing to close (say, one whose init failed half-way) must not keep the others open.
    for (const a of this.l2Agents) await a.stop().catch((err) => this.log.warn({ err }, 'stopping an L2 agent failed'));
    this.l2Agents = [];
    for (const s of this.services)
      await s.close?.().catch((err) => this.log.warn({ err, service: s.name }, 'closing a service failed'));
    this.services = [];
    await this.bus.close();
  }

  authUrl() {
    return `${serviceUrl(this.cfg, this.identity ?? IDENTITY_ENDPOINT)}/v3`;
  }

  /** Writes clouds.yaml (data dir, and the user's ~/.config/openstack unless disabled) and an openrc. */
  writeClientConfig(): { cloudsYaml: string[]; openrc: string } {
    const cloud = {
      auth: {
        auth_url: this.authUrl(),
        username: 'admin',
        password: this.secrets.adminPassword,
        project_name: 'admin',
        user_domain_name: 'Default',
        project_domain_name: 'Default',
      },
      region_name: this.cfg.region,
      identity_api_version: 3,
      interface: 'public',
    };
    const system = {
      ...cloud,
      auth: {
        auth_url: cloud.auth.auth_url,
        username: 'admin',
        password: this.secrets.adminPassword,
        user_domain_name: 'Default',
        system_scope: 'all',
      },
    };
    const written: string[] = [];
    const write = (file: string) => {
      let doc: any = {};
      if (fs.existsSync(file)) {
        try {
          doc = YAML.parse(fs.readFileSync(file, 'utf8')) ?? {};
        } catch {
          doc = {};
        }
      }
      doc.clouds = { ...(doc.clouds ?? {}), stratus: cloud, 'stratus-system': system };
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, YAML.stringify(doc), { mode: 0o600 });
      written.push(file);
    };
    write(path.join(this.cfg.dataDir, 'clouds.yaml'));
    if (process.env.STRATUS_USER_CLOUDS !== '0') write(path.join(os.homedir(), '.config', 'openstack', 'clouds.yaml'));
    const openrc = path.join(this.cfg.dataDir, 'openrc');
    fs.writeFileSync(
      openrc,
      [
        `export OS_AUTH_URL=${cloud.auth.auth_url}`,
        'export OS_IDENTITY_API_VERSION=3',
        'export OS_USERNAME=admin',
        `export OS_PASSWORD='${this.secrets.adminPassword}'`,
        'export OS_PROJECT_NAME=admin',
        'export OS_USER_DOMAIN_NAME=Default',
        'export OS_PROJECT_DOMAIN_NAME=Default',
        `export OS_REGION_NAME=${this.cfg.region}`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    return { cloudsYaml: written, openrc };
  }
}
