// The identity service (Keystone v3): wires its managers, routes and token provider.
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { IdentityDb } from './db/schema.ts';
import type { StratusConfig } from '../core/config.ts';
import type { MessageBus } from '../core/bus.ts';
import type { Logger } from '../core/log.ts';
import { ApiError } from '../core/errors.ts';
import type { ServiceModule } from '../core/http.ts';
import { SERVICE_CATALOG } from '../core/catalog_services.ts';
import type { TokenValidator } from '../core/auth.ts';
import { PolicyEngine } from '../core/policy/index.ts';
import { migrate } from '../core/db.ts';
import { PeriodicTasks } from '../core/periodic.ts';
import { migrations } from './db/migrations.ts';
import { IdentityBackend } from './backend.ts';
import { ResourceManager } from './resource.ts';
import { UserManager } from './users.ts';
import { AssignmentManager } from './assignment.ts';
import { CatalogManager } from './catalog.ts';
import { RevokeManager } from './revoke.ts';
import { KeyRepository } from './token/keys.ts';
import { TokenFormatter } from './token/formatter.ts';
import { TokenProvider } from './token/provider.ts';
import { CredentialManager } from './credential.ts';
import { ApplicationCredentialManager } from './application_credential.ts';
import { TrustManager } from './trust.ts';
import { LimitManager } from './limit.ts';
import { PolicyBlobManager } from './policy_blob.ts';
import { EndpointFilterManager } from './endpoint_filter.ts';
import { DomainConfigManager } from './domain_config.ts';
import { IDENTITY_POLICIES } from './policies.ts';
import { registerRoutes } from './api/routes.ts';
import { OAuth1Manager } from './oauth1.ts';
import { FederationManager } from './federation/manager.ts';
import { TotpAuth } from './totp.ts';
import { AUTH_METHODS, MfaManager } from './mfa.ts';

export class IdentityService implements ServiceModule {
  readonly catalogEntry = SERVICE_CATALOG.identity;
  policy: PolicyEngine;
  backend: IdentityBackend;
  resource: ResourceManager;
  users: UserManager;
  assignment: AssignmentManager;
  catalog: CatalogManager;
  revoke: RevokeManager;
  tokenKeys: KeyRepository;
  credentialKeys: KeyRepository;
  tokens: TokenProvider;
  // The managers of the API families beyond the core (Keystone's credential, trust, limit, policy,
  // endpoint_filter, domain_config and application_credential backends); api/routes.ts mounts their routes.
  credentials: CredentialManager;
  applicationCredentials: ApplicationCredentialManager;
  trusts: TrustManager;
  limits: LimitManager;
  policyBlobs: PolicyBlobManager;
  endpointFilter: EndpointFilterManager;
  domainConfig: DomainConfigManager;
  federation: FederationManager;
  mfa: MfaManager;
  /** OS-OAUTH1's consumers, request and access tokens (api/oauth1.ts; access tokens authenticate). */
  oauth1: OAuth1Manager;
  periodic: PeriodicTasks;

  constructor(
    public db: Kysely<IdentityDb>,
    public config: StratusConfig,
    bus: MessageBus,
    log: Logger,
  ) {
    this.periodic = new PeriodicTasks(log);
    this.policy = PolicyEngine.forService('identity', IDENTITY_POLICIES, config, log);
    this.backend = new IdentityBackend(db, config, bus, log);
    this.resource = new ResourceManager(this.backend);
    this.users = new UserManager(this.backend);
    this.assignment = new AssignmentManager(this.backend, this.resource, this.users);
    this.catalog = new CatalogManager(this.backend);
    this.revoke = new RevokeManager(this.backend);
    this.tokenKeys = new KeyRepository(path.join(config.dataDir, 'fernet-keys'), config.identity.fernetMaxActiveKeys);
    this.credentialKeys = new KeyRepository(
      path.join(config.dataDir, 'credential-keys'),
      config.identity.fernetMaxActiveKeys,
    );
    this.tokens = new TokenProvider(
      this.backend,
      new TokenFormatter(this.tokenKeys, { authMethods: AUTH_METHODS }),
      this.resource,
      this.users,
      this.assignment,
      this.catalog,
      this.revoke,
    );
    this.credentials = new CredentialManager(this.backend, this.credentialKeys);
    this.applicationCredentials = new ApplicationCredentialManager(this.backend, this.users, this.resource);
    this.trusts = new TrustManager(this);
    this.limits = new LimitManager(this);
    this.policyBlobs = new PolicyBlobManager(this.backend, this.catalog);
    this.endpointFilter = new EndpointFilterManager(this.backend, this.catalog, this.resource);
    this.domainConfig = new DomainConfigManager(this.backend, config);
    this.oauth1 = new OAuth1Manager(this.backend);
    // Tokens scoped by a trust or authenticated by an application credential.
    this.tokens.appCreds = this.applicationCredentials;
    this.tokens.trusts = this.trusts;
    // OS-FEDERATION's mapped method, and TOTP with MFA rules and receipts.
    this.federation = new FederationManager(this);
    this.tokens.federation = this.federation;
    this.mfa = new MfaManager(this);
    const totp = new TotpAuth(this);
    this.tokens.mfa = {
      totp: (body) => totp.authenticate(body),
      readReceipt: (h) => this.mfa.readReceipt(h),
      enforce: (user, methods) => this.mfa.enforce(user, methods),
    };
  }

  /** Migrates, sets up key repositories, loads revocation events. */
  async init() {
    await migrate(this.db, migrations);
    if (!this.tokenKeys.load().length) this.tokenKeys.setup();
    if (!this.credentialKeys.load().length) this.credentialKeys.setup();
    this.mfa.init();
    this.tokens.formatter.reload();
    await this.revoke.load();
    // OS-OAUTH1's access tokens authenticate; Keystone drops the trusts of deleted users and projects.
    this.tokens.oauth = this.oauth1;
    this.backend.bus.onNotification('identity.user.deleted', (n) =>
      this.trusts.deleteForUser((n.payload as { resource_info: string }).resource_info),
    );
    this.backend.bus.onNotification('identity.project.deleted', (n) =>
      this.trusts.deleteForProject((n.payload as { resource_info: string }).resource_info),
    );
    // `stratus keys rotate` works on the key repository on disk; a running process picks the new keys up.
    let keys = this.tokenKeys
      .load()
      .map((k) => k.toString('hex'))
      .join();
    this.periodic.add('reload-fernet-keys', 60, () => {
      const now = this.tokenKeys
        .load()
        .map((k) => k.toString('hex'))
        .join();
      if (now === keys) return;
      keys = now;
      this.tokens.formatter.reload();
      this.backend.changed(); // cached validations of tokens under a pruned key must go
    });
    this.periodic.add('prune-revocation-events', 3600, () =>
      this.revoke.prune(this.config.identity.tokenExpiration + this.config.identity.allowExpiredWindow),
    );
  }

  renderError(e: ApiError) {
    return { error: { code: e.status, title: e.title, message: e.message } };
  }

  async register(app: FastifyInstance) {
    registerRoutes(app, this);
  }

  /** Token validation for every service of this process. */
  validator(): TokenValidator {
    return { validate: async (token, opts) => this.tokens.toContext(await this.tokens.validate(token, opts)) };
  }

  async close() {
    this.periodic.stop();
    await this.db.destroy();
  }
}
