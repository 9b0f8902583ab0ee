// The alarming service (Aodh API v2): alarms of the gnocchi threshold, composite and event
// types with their history and quotas; the evaluator (periodic, reading the metric service's
// REST API, and on bus notifications for event alarms) and the notifier (webhooks, log://).
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { ServiceContext, ServiceFactory } from '../../core/service.ts';
import type { ServiceModule } from '../../core/http.ts';
import { SERVICE_CATALOG } from '../../core/catalog_services.ts';
import type { ApiError } from '../../core/errors.ts';
import { PolicyEngine } from '../../core/policy/index.ts';
import { PeriodicTasks } from '../../core/periodic.ts';
import { migrate } from '../../core/db.ts';
import { migrations } from './db/migrations.ts';
import type { AlarmingDb } from './db/schema.ts';
import { ALARMING_POLICIES } from './policies.ts';
import { type Alarm, AlarmStore } from './alarms.ts';
import { AlarmEvaluator } from './evaluator.ts';
import { AlarmNotifier } from './notifier.ts';
import { type AlarmingOptions, alarmingOptions } from './config.ts';
import { checkReferences } from './references.ts';
import { errorBody } from './api/errors.ts';
import { registerRoutes } from './api/routes.ts';

export class AlarmingService implements ServiceModule {
  readonly catalogEntry = SERVICE_CATALOG.alarming;
  policy: PolicyEngine;
  options: AlarmingOptions;
  alarms: AlarmStore;
  notifier: AlarmNotifier;
  evaluator: AlarmEvaluator;
  private periodic: PeriodicTasks;
  private unlisten?: () => void;

  constructor(
    public db: Kysely<AlarmingDb>,
    public ctx: ServiceContext,
  ) {
    this.options = alarmingOptions(ctx.config);
    this.policy = PolicyEngine.forService('alarming', ALARMING_POLICIES, ctx.config, ctx.log);
    this.alarms = new AlarmStore(db, this.options.projectAlarmQuota);
    this.notifier = new AlarmNotifier(ctx.log, this.options.httpTimeout, ctx.session);
    this.evaluator = new AlarmEvaluator(this.alarms, ctx.session, this.notifier, ctx.log);
    this.periodic = new PeriodicTasks(ctx.log);
  }

  /** 400 when a rule names a resource, resource type or query the metric service does not know. */
  checkReferences(a: Alarm): Promise<void> {
    return checkReferences(this.ctx.session, a);
  }

  async init() {
    await migrate(this.db, migrations);
    if (this.options.evaluationInterval > 0)
      this.periodic.add('alarm evaluation', this.options.evaluationInterval, () => this.evaluator.evaluateAll());
    this.unlisten = this.evaluator.listen(this.ctx.bus);
  }

  renderError(e: ApiError) {
    return errorBody(e);
  }

  async register(app: FastifyInstance) {
    await registerRoutes(app, this);
  }

  async close() {
    this.periodic.stop();
    this.unlisten?.();
    await this.db.destroy();
  }
}

export const alarmingService: ServiceFactory = {
  name: 'alarming',
  user: 'aodh',
  async create(ctx: ServiceContext) {
    return new AlarmingService(await ctx.openDatabase<AlarmingDb>(), ctx);
  },
};
