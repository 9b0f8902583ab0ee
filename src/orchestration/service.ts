// The orchestration service (Heat v1 as Zed answers it): the composition root. It builds the
// stack store, the resource registry (built-ins and plugins from orchestration.pluginDirs) and,
// when this process runs one, a heat-engine served over typed RPC (rpcapi.ts); it mounts the API
// (api/routes.ts). The API reads stacks from the database and hands every change to an engine.
import os from 'node:os';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { ServiceContext, ServiceFactory } from '../core/service.ts';
import type { ServiceModule } from '../core/http.ts';
import { SERVICE_CATALOG } from '../core/catalog_services.ts';
import type { ApiError } from '../core/errors.ts';
import { PolicyEngine } from '../core/policy/index.ts';
import { migrate, now } from '../core/db.ts';
import type { RpcClient } from '../core/rpc.ts';
import { ServiceHeartbeat } from '../core/heartbeat.ts';
import { type OrchestrationOptions, orchestrationOptions } from './config.ts';
import type { OrchestrationDb } from './db/schema.ts';
import { migrations } from './db/migrations.ts';
import { ORCHESTRATION_POLICIES } from './policies.ts';
import { heatErrorBody } from './errors.ts';
import { StackStore } from './stacks.ts';
import { ResourceRegistry } from './resources/registry.ts';
import type { ResourcePlugin } from './resources/plugin.ts';
import { Engine } from './engine/engine.ts';
import { type LoadedStack, pluginOfLoaded } from './engine/stack.ts';
import { type EngineRpc, engineClient, serveEngine } from './rpcapi.ts';
import { registerRoutes } from './api/routes.ts';
import { CfnApi } from './api/cfn/routes.ts';
import { Crypt, loadEncryptionKey } from './crypt.ts';

export class OrchestrationService implements ServiceModule {
  readonly catalogEntry = SERVICE_CATALOG.orchestration;
  policy: PolicyEngine;
  options: OrchestrationOptions;
  store: StackStore;
  registry: ResourceRegistry;
  engineRpc: RpcClient<EngineRpc>;
  engine?: Engine;
  region: string;
  private stopServing?: () => void;
  private heartbeat?: ServiceHeartbeat<OrchestrationDb, 'service'>;
  private serviceId?: string;

  constructor(
    public db: Kysely<OrchestrationDb>,
    public ctx: ServiceContext,
  ) {
    this.options = orchestrationOptions(ctx.config);
    this.region = ctx.config.region;
    this.policy = PolicyEngine.forService('orchestration', ORCHESTRATION_POLICIES, ctx.config, ctx.log);
    this.store = new StackStore(db);
    this.registry = new ResourceRegistry();
    this.engineRpc = engineClient(ctx.bus);
  }

  /** What a resource of a loaded stack runs as (a plugin, or a template resource). */
  pluginOf(loaded: LoadedStack, name: string): ResourcePlugin {
    return pluginOfLoaded(loaded, name);
  }

  async init() {
    await migrate(this.db, migrations);
    this.store.crypt = new Crypt(loadEncryptionKey(this.options.authEncryptionKey, this.options.dataDir));
    const sealed = await this.store.sealExisting();
    if (sealed) this.ctx.log.info({ stacks: sealed }, 'stored secrets encrypted');
    await this.store.init();
    await this.registry.loadPluginDirs(this.options.pluginDirs, this.ctx.log);
    if (this.options.engine) await this.startEngine();
  }

  private async startEngine() {
    const o = this.options;
    const engine = new Engine(
      this.store,
      this.registry,
      this.ctx.session,
      o,
      this.region,
      this.ctx.log.child({ role: 'heat-engine' }),
    );
    engine.isAlive = async (id) => {
      try {
        return await this.engineRpc.call(id, { timeoutMs: o.engineLivenessTimeoutMs }).listening({});
      } catch {
        return false;
      }
    };
    engine.stopRemote = async (id, stackId) => {
      await this.engineRpc.call(id).stop_stack({ stack_id: stackId });
    };
    engine.convergence.cast = (m) => this.engineRpc.cast().check_resource(m);
    engine.createNested = (caller, req, owner) => this.engineRpc.call().create_stack({ caller, req, owner });
    this.engine = engine;
    this.stopServing = serveEngine(this.ctx.bus, engine);
    // Heat's service_manage_report through core's heartbeat: a row per engine process (by its id)
    // in Heat's `service` table, updated_at set (and deleted_at cleared) at every beat.
    const id = randomUUID();
    const hostname = os.hostname();
    this.heartbeat = new ServiceHeartbeat<OrchestrationDb, 'service'>(
      this.db,
      {
        host: o.host,
        binary: 'heat-engine',
        table: 'service',
        key: { id },
        noReportCount: true,
        row: () => ({ id, engine_id: o.engineId, hostname, topic: 'engine', report_interval: o.reportInterval }),
        beat: () => ({ deleted_at: null }),
      },
      o.reportInterval,
      this.ctx.log.child({ role: 'heat-engine' }),
    );
    this.serviceId = id;
    await this.heartbeat.start();
    // Heat's service_manage_cleanup: a row of this host's engines not updated for three intervals
    // is an engine that died; it is soft-deleted.
    const cutoff = new Date(Date.now() - 3 * o.reportInterval * 1000).toISOString();
    await this.db
      .updateTable('service')
      .set({ deleted_at: now() })
      .where('host', '=', o.host)
      .where('binary', '=', 'heat-engine')
      .where('hostname', '=', hostname)
      .where('id', '!=', id)
      .where('deleted_at', 'is', null)
      .where('updated_at', '<', cutoff)
      .execute();
    // Stacks an engine that is gone left IN_PROGRESS are failed (after the cloud listens).
    setTimeout(() => {
      engine.recover().catch((err) => this.ctx.log.error({ err }, 'heat-engine recovery failed'));
    }, 1000).unref();
  }

  renderError(e: ApiError) {
    return heatErrorBody(e);
  }

  async register(app: FastifyInstance) {
    await registerRoutes(app, this);
  }

  async close() {
    this.heartbeat?.stop();
    this.stopServing?.();
    await this.engine?.drain();
    // Heat's engine stop: its service row soft-deleted.
    if (this.serviceId)
      await this.db
        .updateTable('service')
        .set({ deleted_at: now() })
        .where('id', '=', this.serviceId)
        .execute()
        .catch(() => undefined);
    await this.db.destroy();
  }
}

export const orchestrationService: ServiceFactory = {
  name: 'orchestration',
  user: 'heat',
  async create(ctx: ServiceContext) {
    return new OrchestrationService((await ctx.openDatabase()) as Kysely<OrchestrationDb>, ctx);
  },
};

/**
 * heat-api-cfn (api/cfn/routes.ts): the CloudFormation-compatible API of the same service, its own
 * catalog entry (`cloudformation`, heat-cfn) and port (8000); listed after orchestration.
 */
export const cloudformationService: ServiceFactory = {
  name: 'cloudformation',
  configSections: [],
  user: 'heat',
  async create(ctx: ServiceContext) {
    // The orchestration service this process created just before (SERVICES lists it first).
    const svc = ctx.services.find((s): s is OrchestrationService => s instanceof OrchestrationService);
    if (!svc) throw new Error('heat-api-cfn needs the orchestration service in the same process');
    return new CfnApi(svc);
  },
};
