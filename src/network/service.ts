// The network service (Neutron v2.0 with ML2, as Zed answers it). The API layer is one
// mechanism (api/resource.ts) fed by resource declarations grouped in families:
//   api/core.ts      networks, segments, subnets, subnet pools, address scopes, ports, IPAM, IP availability
//   api/l3.ts        routers, floating IPs, port forwardings, auto-allocated topology
//   api/security.ts  security groups and rules, RBAC policies, quotas
//   api/extras.ts    QoS, trunks, agents, availability zones
//   api/ext.ts       the later extensions: address groups, metering, ...
// Agents (agent/) hear about changes over the bus and report back; the logical agent runs in
// this process unless `network.agent` is false.
import os from 'node:os';
import type { FastifyInstance } from 'fastify';
import type { Kysely, Transaction } from 'kysely';
import type { ServiceFactory, ServiceContext } from '../core/service.ts';
import type { NetworkConfig } from './config.ts';
import type { ServiceModule } from '../core/http.ts';
import { SERVICE_CATALOG } from '../core/catalog_services.ts';
import { setBodyParsers } from '../core/body_parsers.ts';
import { ApiError } from '../core/errors.ts';
import { Check, PolicyEngine, type PolicyTarget } from '../core/policy/index.ts';
import { groupCommit, migrate, sortedTags } from '../core/db.ts';
import { migrations } from './db/migrations.ts';
import { NETWORK_POLICIES } from './policies.ts';
import { ResourceApi, type ResourceExtension, type ResourceSpec, type Tx } from './api/resource.ts';
import type { ResourcePlural, ResourceViews } from './api/types.ts';
import { Quotas } from './quotas.ts';
import type { AgentNotifier, PortBinder } from './agent/rpc.ts';
import type { ExtrasState } from './api/extras_state.ts';
import type { NovaNotifier } from './nova_notifier.ts';
import { coreFamily } from './api/core.ts';
import { l3Family } from './api/l3.ts';
import { securityFamily } from './api/security.ts';
import { extrasFamily } from './api/extras.ts';
import { extFamily } from './api/ext.ts';
import { novaNotifierFamily } from './nova_notifier.ts';
import { mountRoutes, RESOURCES } from './api/routes.ts';
import type { NetworkContext } from './context.ts';
import type { NetworkDb } from './db/schema.ts';

/** Neutron's FieldCheck: `field:networks:shared=True` is true when the target's `shared` is True. */
class FieldCheck extends Check {
  private field: string;
  private value: string;
  constructor(readonly match: string) {
    super();
    const [, fv = ''] = match.split(/:(.*)/s);
    [this.field, this.value] = fv.split(/=(.*)/s) as [string, string];
  }
  evaluate(target: PolicyTarget): boolean {
    const v = target[this.field];
    if (v === undefined || v === null) return false;
    // `field:port:device_owner=~^network:` is a regular expression match, as upstream.
    if (this.value.startsWith('~')) return new RegExp(this.value.slice(1)).test(String(v));
    if (typeof v === 'boolean') return String(v) === this.value.toLowerCase() || (v ? 'True' : 'False') === this.value;
    return String(v) === this.value;
  }
  toString() {
    return `field:${this.match}`;
  }
}

/** One entry of /v2.0/extensions. */
export interface ApiExtension {
  alias: string;
  name: string;
  description: string;
  updated?: string;
}

/** A family of resources: defines its resources, extends others', adds routes and extensions. */
export interface Family {
  define(svc: NetworkService): void;
  /** Runs after every family defined its resources. */
  extend?(svc: NetworkService): void;
  /** Routes that are not a plain resource (router interfaces, quotas, tags of ...). */
  routes?(app: FastifyInstance, svc: NetworkService): void;
  init?(svc: NetworkService): Promise<void>;
  close?(svc: NetworkService): Promise<void>;
}

const FAMILIES: Family[] = [coreFamily, l3Family, securityFamily, extrasFamily, extFamily, novaNotifierFamily];

/** Until an agent family plugs in its own: nobody listens, nothing binds. */
const NO_AGENTS: AgentNotifier = {
  networkUpdated() {},
  networkDeleted() {},
  portUpdated() {},
  portDeleted() {},
  securityGroupRulesUpdated() {},
  securityGroupMembersUpdated() {},
  routersUpdated() {},
  routerDeleted() {},
  dhcpChanged() {},
};

export class NetworkService implements ServiceModule {
  readonly catalogEntry = SERVICE_CATALOG.network;
  policy: PolicyEngine;
  quotas: Quotas;
  readonly resources = new Map<string, ResourceApi>();
  readonly extensions: ApiExtension[] = [];
  notifier: AgentNotifier = NO_AGENTS;
  binder: PortBinder = { bind: async () => ({ vif_type: 'binding_failed', vif_details: {} }) };
  /** The host this process's agents run on (neutron's `host` option). */
  host: string;
  /** Neutron's global_physnet_mtu and the overhead of the tunnel types. */
  mtu: number;
  /** The agents' side, set by the extras family: the mechanism, the RPC server and notifier, this process's agents. */
  extras?: ExtrasState;
  /** Compute's notifier (nova_notifier.ts), made on first use. */
  nova?: NovaNotifier;
  /** The tables RBAC policies may be about that this deployment has (the security family finds them at init). */
  readonly rbacTables = new Set<string>();

  constructor(
    public db: Kysely<NetworkDb>,
    public ctx: ServiceContext,
  ) {
    const cfg = ctx.config;
    // neutron_lib's context adds tenant_id (the project) to the credentials: `tenant_id:%(network:tenant_id)s`.
    this.policy = PolicyEngine.forService('network', NETWORK_POLICIES, cfg, ctx.log, {
      tenantIdCredential: true,
      checks: { field: (m) => new FieldCheck(m) },
    });
    this.quotas = new Quotas(db);
    this.runTransaction = groupCommit(db);
    this.host = cfg.network?.host ?? os.hostname();
    this.mtu = Number(cfg.network?.mtu ?? 1500);
    for (const f of FAMILIES) f.define(this);
    for (const f of FAMILIES) f.extend?.(this);
  }

  get config(): NetworkConfig {
    return this.ctx.config.network;
  }

  async init() {
    await migrate(this.db, migrations);
    for (const f of FAMILIES) await f.init?.(this);
  }

  /** Declares a resource served by the generic API layer. */
  define<K extends ResourcePlural>(
    spec: ResourceSpec<ResourceViews[K]> & { plural: K },
  ): ResourceApi<ResourceViews[K]> {
    const api = new ResourceApi(this, spec);
    this.resources.set(spec.plural, api as unknown as ResourceApi);
    if (spec.quota) this.quotas.track(spec.quota, { table: spec.table });
    return api;
  }

  /** A resource by its plural, typed by api/types.ts's ResourceViews. */
  resource<K extends ResourcePlural>(plural: K): ResourceApi<ResourceViews[K]> {
    const r = this.resources.get(plural);
    if (!r) throw new Error(`no network resource ${plural}`);
    return r as unknown as ResourceApi<ResourceViews[K]>;
  }

  extend<K extends ResourcePlural>(plural: K, ext: ResourceExtension<ResourceViews[K]>) {
    this.resource(plural).extend(ext);
  }

  declareExtension(...e: ApiExtension[]) {
    this.extensions.push(...e);
  }

  isAdmin(ctx: NetworkContext): boolean {
    return ctx.isAuthenticated && ctx.allowed('context_is_admin');
  }

  /** Neutron's advsvc role (service VMs): sees and changes ports of every project. */
  isAdvsvc(ctx: NetworkContext): boolean {
    return ctx.isAuthenticated && ctx.allowed('context_is_advsvc');
  }

  /** A write transaction; on SQLite concurrent ones share one commit (core/db.ts groupCommit). */
  transaction<T>(fn: (tx: Transaction<NetworkDb>) => Promise<T>): Promise<T> {
    return this.runTransaction(fn);
  }
  private runTransaction: <T>(fn: (tx: Transaction<NetworkDb>) => Promise<T>) => Promise<T>;

  async tagsOf(tx: Tx, resourceType: string, ids: string[]): Promise<Map<string, string[]>> {
    return sortedTags(ids, (chunk) =>
      tx
        .selectFrom('tags')
        .select(['resource_id as owner', 'tag'])
        .where('resource_type', '=', resourceType)
        .where('resource_id', 'in', chunk)
        .execute(),
    );
  }

  /** Neutron's notifications (`network.create.end`, ...), publisher `network.<host>`. */
  notify(_ctx: NetworkContext | undefined, eventType: string, payload: unknown) {
    this.ctx.bus.notify(`network.${this.host}`, eventType, payload);
  }

  renderError(e: ApiError) {
    const type =
      e.type ??
      (
        {
          400: 'HTTPBadRequest',
          401: 'HTTPUnauthorized',
          403: 'HTTPForbidden',
          404: 'HTTPNotFound',
          405: 'HTTPMethodNotAllowed',
          409: 'HTTPConflict',
          412: 'HTTPPreconditionFailed',
          413: 'HTTPRequestEntityTooLarge',
        } as Record<number, string>
      )[e.status] ??
      'HTTPInternalServerError';
    return { NeutronError: { type, message: e.message, detail: '' } };
  }

  async register(app: FastifyInstance) {
    setBodyParsers(app, { json: '*', malformed: () => new ApiError(400, 'Malformed request body', 'HTTPBadRequest') });
    // The whole route table is api/routes.ts: the resources mount their entries there, the rest is
    // checked against its list.
    for (const r of this.resources.values()) r.register(app);
    const unmounted = Object.keys(RESOURCES).filter((k) => !this.resources.has(k));
    if (unmounted.length)
      throw new Error(`network resources in api/routes.ts but not defined: ${unmounted.join(', ')}`);
    mountRoutes(app, (app) => {
      app.get('/', { config: { auth: false } }, async (req) => ({
        versions: [{ id: 'v2.0', status: 'CURRENT', links: [{ href: `${req.baseUrl}/v2.0/`, rel: 'self' }] }],
      }));
      app.get('/v2.0', { config: { auth: false } }, async (req) => this.resourceIndex(req.baseUrl));
      app.get('/v2.0/extensions', async (req) => {
        req.authorized = true;
        return { extensions: this.extensions.map((e) => this.extensionView(e)) };
      });
      app.get('/v2.0/extensions/:alias', async (req) => {
        req.authorized = true;
        const alias = (req.params as { alias: string }).alias;
        const e = this.extensions.find((x) => x.alias === alias);
        if (!e) throw new ApiError(404, `Extension with alias ${alias} does not exist`, 'HTTPNotFound');
        return { extension: this.extensionView(e) };
      });
      for (const f of FAMILIES) f.routes?.(app, this);
    });
  }

  private extensionView(e: ApiExtension) {
    return {
      name: e.name,
      alias: e.alias,
      description: e.description,
      updated: e.updated ?? '2013-01-01T00:00:00-00:00',
      links: [],
    };
  }

  private resourceIndex(baseUrl: string) {
    const core: ResourcePlural[] = ['networks', 'subnets', 'ports', 'subnetpools'];
    return {
      resources: core
        .filter((r) => this.resources.has(r))
        .map((r) => ({
          name: this.resource(r).spec.singular,
          collection: r,
          links: [{ href: `${baseUrl}/v2.0/${r}`, rel: 'self' }],
        })),
    };
  }

  async close() {
    for (const f of FAMILIES) await f.close?.(this);
    await this.db.destroy();
  }
}

export const networkService: ServiceFactory = {
  name: 'network',
  user: 'neutron',
  async create(ctx: ServiceContext) {
    const svc = new NetworkService(await ctx.openDatabase(), ctx);
    return svc;
  },
};
