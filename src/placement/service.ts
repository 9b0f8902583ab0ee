// The placement service (Placement 1.x as Zed answers it, up to microversion 1.39): resource
// providers in trees with inventories, traits and aggregates, resource classes, traits,
// allocations with consumer generations and types, usages, allocation candidates, reshaper.
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { ServiceFactory, ServiceContext } from '../core/service.ts';
import { placementOptions } from './config.ts';
import type { ServiceModule } from '../core/http.ts';
import { SERVICE_CATALOG } from '../core/catalog_services.ts';
import type { ApiError } from '../core/errors.ts';
import { PolicyEngine } from '../core/policy/index.ts';
import { migrate } from '../core/db.ts';
import { migrations } from './db/migrations.ts';
import { PLACEMENT_POLICIES } from './policies.ts';
import { PlacementStore } from './store.ts';
import type { PlacementDb } from './db/schema.ts';
import { errorBody } from './api/errors.ts';
import { registerRoutes } from './api/routes.ts';

export class PlacementService implements ServiceModule {
  readonly catalogEntry = SERVICE_CATALOG.placement;
  policy: PolicyEngine;
  store: PlacementStore;
  /** Placement's randomize_allocation_candidates (off by default, as upstream). */
  randomizeCandidates: boolean;

  constructor(
    public db: Kysely<PlacementDb>,
    public ctx: ServiceContext,
  ) {
    this.policy = PolicyEngine.forService('placement', PLACEMENT_POLICIES, ctx.config, ctx.log);
    this.store = new PlacementStore(db);
    this.randomizeCandidates = placementOptions(ctx.config).randomizeAllocationCandidates;
  }

  async init() {
    await migrate(this.db, migrations);
  }

  renderError(e: ApiError) {
    return errorBody(e);
  }

  async register(app: FastifyInstance) {
    await registerRoutes(app, this);
  }

  async close() {
    await this.db.destroy();
  }
}

export const placementService: ServiceFactory = {
  name: 'placement',
  user: 'placement',
  async create(ctx: ServiceContext) {
    const svc = new PlacementService(await ctx.openDatabase(), ctx);
    return svc;
  },
};
