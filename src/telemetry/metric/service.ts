// The metric service (Gnocchi API v1): archive policies and rules, resource types, resources
// with history and search, metrics, measures aggregated as they arrive into each policy's
// series (files under the data directory, the index in SQL), batches, dynamic aggregates.
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { ServiceContext, ServiceFactory } from '../../core/service.ts';
import type { ServiceModule } from '../../core/http.ts';
import { SERVICE_CATALOG } from '../../core/catalog_services.ts';
import type { ApiError } from '../../core/errors.ts';
import { PolicyEngine } from '../../core/policy/index.ts';
import { migrate } from '../../core/db.ts';
import { migrations } from './db/migrations.ts';
import type { MetricDb } from './db/schema.ts';
import { METRIC_POLICIES } from './policies.ts';
import { Indexer } from './indexer.ts';
import { MeasureStore } from './storage.ts';
import { type MetricOptions, metricOptions } from './config.ts';
import { errorBody } from './api/errors.ts';
import { registerRoutes } from './api/routes.ts';
import { DEFAULT_ARCHIVE_POLICIES } from './defaults.ts';
import { TelemetryAgent } from '../collector/agent.ts';
import { collectorOptions } from '../collector/config.ts';

/** The collector's service user (DevStack's ceilometer, with ResellerAdmin for the object store pollster). */
export const CEILOMETER_USER = 'ceilometer';

export class MetricService implements ServiceModule {
  readonly catalogEntry = SERVICE_CATALOG.metric;
  policy: PolicyEngine;
  indexer: Indexer;
  store: MeasureStore;
  options: MetricOptions;
  /** Ceilometer's notification and polling agents, when `collector.enabled` (the all-in-one default). */
  collector?: TelemetryAgent;

  constructor(
    public db: Kysely<MetricDb>,
    public ctx: ServiceContext,
  ) {
    this.options = metricOptions(ctx.config);
    this.policy = PolicyEngine.forService('metric', METRIC_POLICIES, ctx.config, ctx.log);
    this.indexer = new Indexer(db, this.options.defaultAggregationMethods, this.options.metricCleanupDelay);
    this.store = new MeasureStore(this.options.storageDir);
    const collector = collectorOptions(ctx.config);
    // The collector runs as its own service user, ceilometer (as DevStack creates it).
    if (collector.enabled)
      this.collector = new TelemetryAgent(collector, ctx.bus, ctx.session.as(CEILOMETER_USER), ctx.log);
  }

  async init() {
    const roles = this.ctx.config.roles ?? ['api'];
    // A process with only the telemetry-agent role runs Ceilometer's agents and no metric API.
    if (roles.includes('api')) {
      await migrate(this.db, migrations);
      await this.store.init();
      // What gnocchi-upgrade and ceilometer-upgrade install: the default policies and Ceilometer's resource types.
      for (const p of DEFAULT_ARCHIVE_POLICIES) await this.indexer.createPolicy(this.indexer.parsePolicy(p), true);
      await this.indexer.ensureStandardTypes();
    }
    if (roles.includes('telemetry-agent')) this.collector?.start();
  }

  renderError(e: ApiError) {
    return errorBody(e);
  }

  async register(app: FastifyInstance) {
    await registerRoutes(app, this);
  }

  async close() {
    await this.collector?.stop();
    await this.db.destroy();
  }
}

export const metricService: ServiceFactory = {
  name: 'metric',
  // Ceilometer's agents run in the metric service's process (collector/).
  configSections: ['metric', 'collector'],
  user: 'gnocchi',
  agentUsers: [{ name: CEILOMETER_USER, roles: ['ResellerAdmin'] }],
  async create(ctx: ServiceContext) {
    return new MetricService(await ctx.openDatabase<MetricDb>(), ctx);
  },
};
