// Keystone's token provider: authenticates the methods of POST /v3/auth/tokens, decides the
// scope, issues a Fernet token, and validates tokens back into the full token model
// (roles are computed at validation time, as Keystone does, so a revoked role or a
// disabled project invalidates tokens at once).
import { ApiError, badRequest } from '../../core/errors.ts';
import type { AuthContext } from '../../core/auth.ts';
import type { TrustFields } from '../../core/clients/identity.ts';
import { IdentityBackend, isoMicro } from '../backend.ts';
import type { Project, ResourceManager } from '../resource.ts';
import type { User, UserManager } from '../users.ts';
import type { AssignmentManager, Role } from '../assignment.ts';
import type { CatalogManager } from '../catalog.ts';
import type { RevokeManager } from '../revoke.ts';
import { InvalidToken, TokenFormatter, randomAuditId, type TokenPayload } from './formatter.ts';
import type { AppCredMethod, AuthRequest, DomainRef, PasswordMethod, TotpMethod } from './auth_body.ts';

/** What the trust manager offers the token provider: the trust's fields and its state. */
export interface TrustInfo extends TrustFields {
  remaining_uses: number | null;
  roleIds: string[];
  deleted: boolean;
  redelegation_count?: number | null;
  /** The trustor at the root of a redelegation chain: the roles are checked against theirs. */
  originalTrustorId?: string;
}
export interface TrustLookup {
  getTrust(id: string): Promise<TrustInfo | undefined>;
  /** Uses one of remaining_uses; throws 401 when none is left. */
  consume(id: string): Promise<void>;
}
/** What the application-credential manager offers the token provider. */
export interface AppCredInfo {
  id: string;
  name: string;
  user_id: string;
  project_id: string | null;
  system: string | null;
  expires_at: string | null;
  unrestricted: boolean;
  roleIds: string[];
  access_rules?: Array<Record<string, unknown>>;
}
/** The body of the `application_credential` auth method (still checked there: every mismatch is a 401). */
export type AppCredAuth = AppCredMethod;

export interface AppCredLookup {
  /** Checks id (or name + user) and secret; throws 401 on any mismatch. */
  authenticate(body: AppCredAuth | undefined): Promise<AppCredInfo>;
  getAppCred(id: string): Promise<AppCredInfo | undefined>;
}

/** An OS-OAUTH1 access token as the token provider sees it. */
export interface OAuthAccessInfo {
  id: string;
  consumer_id: string;
  project_id: string;
  authorizing_user_id: string;
  roleIds: string[];
  expires_at: string | null;
}
/** The HTTP request of POST /v3/auth/tokens, which the `oauth1` method's signature covers. */
export interface AuthHttpRequest {
  method: string;
  /** The URLs the client may have signed (public base URL and the request's own). */
  urls: string[];
  headers: Record<string, string | string[] | undefined>;
  /** Query parameters, which the signature covers too. */
  query?: Array<[string, string]>;
}
/** What the OAuth1 manager offers the token provider. */
export interface OAuthLookup {
  getAccessToken(id: string): Promise<OAuthAccessInfo | undefined>;
  /** Checks the request's OAuth signature with an access token; 401 on any mismatch. */
  authenticate(http: AuthHttpRequest): Promise<OAuthAccessInfo>;
}
/** The request's environment, for methods that read it (mapped) and for MFA receipts. */
export interface AuthRequestEnv {
  ip?: string;
  headers?: Record<string, string | string[] | undefined>;
  /** The HTTP request itself, which the `oauth1` method's signature covers. */
  http?: AuthHttpRequest;
}
/** What federation offers the token provider (federation/manager.ts). */
export interface FederationAuth {
  authenticate(
    idpId: string,
    protocolId: string,
    env: AuthRequestEnv,
  ): Promise<{ user: User; groupIds: string[]; idpId: string; protocolId: string }>;
  stillValid(idpId: string, protocolId: string): Promise<boolean>;
  tokenServiceProviders(): Promise<Array<{ id: string; auth_url: string; sp_url: string }>>;
}
/** What multi-factor auth offers the token provider (totp.ts, mfa.ts). */
export interface MfaAuth {
  totp(body: TotpMethod | undefined): Promise<User>;
  readReceipt(header: string | string[] | undefined): { userId: string; methods: string[] } | undefined;
  enforce(user: User, methods: string[]): Promise<void>;
}

export interface TokenModel {
  id: string;
  methods: string[];
  user: User;
  userDomain: Project;
  /** For impersonating trusts, the trustor; `authUser` stays the trustee. */
  project?: Project;
  projectDomain?: Project;
  domain?: Project;
  system?: string;
  roles: Role[];
  auditIds: string[];
  expiresAt: Date;
  issuedAt: Date;
  trust?: TrustInfo;
  appCred?: AppCredInfo;
  oauth?: OAuthAccessInfo;
  federated?: { groupIds: string[]; idpId: string; protocolId: string };
}

const unauthorized = (msg = 'The request you have made requires authentication.') =>
  new ApiError(401, msg, 'Unauthorized');
const tokenNotFound = () => new ApiError(404, 'Failed to validate token', 'TokenNotFound');

export class TokenProvider {
  trusts?: TrustLookup;
  appCreds?: AppCredLookup;
  oauth?: OAuthLookup;
  federation?: FederationAuth;
  mfa?: MfaAuth;
  private cache = new Map<string, { gen: number; model: TokenModel }>();

  constructor(
    private b: IdentityBackend,
    public formatter: TokenFormatter,
    private resource: ResourceManager,
    private users: UserManager,
    private assignment: AssignmentManager,
    private catalog: CatalogManager,
    private revoke: RevokeManager,
  ) {}

  // ---- authentication ----

  private async resolveDomain(ref: DomainRef | undefined): Promise<Project> {
    if (!ref || typeof ref !== 'object')
      throw badRequest("Invalid input for field 'domain': expected an object with id or name.", 'ValidationError');
    const d = ref.id
      ? await this.resource.find(ref.id)
      : ref.name
        ? await this.resource.findDomainByName(ref.name)
        : undefined;
    if (!ref.id && !ref.name)
      throw badRequest("Invalid input for field 'domain': id or name is required.", 'ValidationError');
    if (!d || !d.is_domain) throw unauthorized();
    return d;
  }

  private async passwordUser(body: PasswordMethod | undefined): Promise<User> {
    const u = body?.user;
    if (!u || typeof u !== 'object' || typeof u.password !== 'string')
      throw badRequest(
        "Invalid input for field 'identity/password/user': a user with a password is required.",
        'ValidationError',
      );
    let user: User | undefined;
    if (u.id) user = await this.users.find(u.id);
    else if (u.name) {
      if (!u.domain)
        throw badRequest(
          "Invalid input for field 'identity/password/user/domain': a domain is required with a user name.",
          'ValidationError',
        );
      const d = await this.resolveDomain(u.domain);
      user = await this.users.findByName(u.name, d.id);
    } else
      throw badRequest("Invalid input for field 'identity/password/user': id or name is required.", 'ValidationError');
    // The same 401 for an unknown user and a wrong password: no user enumeration.
    if (!user) throw unauthorized();
    await this.users.checkPassword(user, u.password);
    await this.assertUserEnabled(user);
    return user;
  }

  private async assertUserEnabled(user: User) {
    if (!user.enabled) throw unauthorized();
    const d = await this.resource.find(user.domain_id);
    if (!d || !d.enabled) throw unauthorized();
  }

  /** POST /v3/auth/tokens. */
  async authenticate(auth: AuthRequest, env: AuthRequestEnv = {}): Promise<TokenModel> {
    const identity = auth?.identity;
    if (!identity || !Array.isArray(identity.methods) || !identity.methods.length)
      throw badRequest("Invalid input for field 'identity/methods': a list of methods is required.", 'ValidationError');
    const methods: string[] = identity.methods;
    let user: User | undefined;
    let fromToken: TokenModel | undefined;
    let appCred: AppCredInfo | undefined;
    let oauth: OAuthAccessInfo | undefined;
    let federated: TokenModel['federated'];
    const usedMethods = new Set<string>();
    // An MFA receipt: the methods a previous request of this user passed.
    const receipt = this.mfa?.readReceipt(env.headers?.['openstack-auth-receipt']);
    for (const m of methods) {
      if (!(m in identity))
        throw badRequest(`Invalid input for field 'identity/${m}': the method ${m} has no body.`, 'ValidationError');
      let u: User;
      if (m === 'password') u = await this.passwordUser(identity.password);
      else if (m === 'token') {
        const id = identity.token?.id;
        if (typeof id !== 'string') throw badRequest("Invalid input for field 'identity/token/id'.", 'ValidationError');
        // Keystone's token method answers 404 for a token that does not validate.
        try {
          fromToken = await this.validate(id);
        } catch {
          throw new ApiError(404, `Could not find token: ${id}.`, 'TokenNotFound');
        }
        if (fromToken.trust) throw new ApiError(403, 'Rescoping a trust-scoped token is not allowed.', 'Forbidden');
        if (fromToken.appCred) throw unauthorized('A token created with an application credential cannot be rescoped.');
        if (fromToken.oauth)
          throw new ApiError(
            403,
            'You are not authorized to perform the requested action: Using OAuth-scoped token to create another token. Create a new OAuth-scoped token instead.',
            'ForbiddenAction',
          );
        u = fromToken.user;
        federated = fromToken.federated;
        for (const om of fromToken.methods) usedMethods.add(om);
      } else if (m === 'application_credential') {
        if (!this.appCreds) throw unauthorized('Attempted to authenticate with an unsupported method.');
        appCred = await this.appCreds.authenticate(identity.application_credential);
        u = await this.users.get(appCred.user_id);
        await this.assertUserEnabled(u);
      } else if (m === 'oauth1') {
        if (!this.oauth || !env.http) throw unauthorized('Attempted to authenticate with an unsupported method.');
        oauth = await this.oauth.authenticate(env.http);
        u = await this.users.get(oauth.authorizing_user_id);
        await this.assertUserEnabled(u);
      } else if (m === 'totp' && this.mfa) {
        u = await this.mfa.totp(identity.totp);
        await this.assertUserEnabled(u);
      } else if (m === 'mapped' && this.federation) {
        const ref = identity.mapped ?? {};
        if (typeof ref.identity_provider !== 'string' || typeof ref.protocol !== 'string')
          throw badRequest(
            "Invalid input for field 'identity/mapped': identity_provider and protocol are required.",
            'ValidationError',
          );
        const f = await this.federation.authenticate(ref.identity_provider, ref.protocol, env);
        u = f.user;
        await this.assertUserEnabled(u);
        federated = { groupIds: f.groupIds, idpId: f.idpId, protocolId: f.protocolId };
      } else throw unauthorized('Attempted to authenticate with an unsupported method.');
      if (user && user.id !== u.id) throw unauthorized('User IDs do not match across authentication methods.');
      user = u;
      usedMethods.add(m);
    }
    if (!user) throw unauthorized();
    if (receipt) {
      if (receipt.userId !== user.id) throw unauthorized('User IDs do not match across authentication methods.');
      for (const rm of receipt.methods) usedMethods.add(rm);
    }
    // Multi-factor rules bind the methods that prove a user (not a rescope, an application credential or a federation).
    if (this.mfa && !fromToken && !appCred && !federated) await this.mfa.enforce(user, [...usedMethods]);

    const scope = auth.scope;
    // Fernet carries whole seconds: issue and validation then render the same times.
    const now = new Date(Math.floor(Date.now() / 1000) * 1000);
    let expiresAt = new Date(now.getTime() + this.b.config.identity.tokenExpiration * 1000);
    let auditIds = [randomAuditId()];
    if (fromToken) {
      if (fromToken.expiresAt < expiresAt) expiresAt = fromToken.expiresAt;
      auditIds = [auditIds[0]!, fromToken.auditIds[fromToken.auditIds.length - 1]!];
    }
    const payload: TokenPayload = { userId: user.id, methods: [...usedMethods], expiresAt, auditIds };
    if (federated) payload.federated = federated;

    if (oauth) {
      // An OAuth1 token is scoped to the access token's project, whatever the request asks.
      payload.projectId = oauth.project_id;
      payload.accessTokenId = oauth.id;
    } else if (appCred) {
      if (scope && scope !== 'unscoped') {
        const p = typeof scope === 'object' ? scope.project : undefined;
        if (!p || (p.id && p.id !== appCred.project_id))
          throw unauthorized('Application credentials cannot request a scope.');
      }
      if (appCred.expires_at && Date.parse(appCred.expires_at) < expiresAt.getTime())
        expiresAt = payload.expiresAt = new Date(Date.parse(appCred.expires_at));
      payload.appCredId = appCred.id;
      if (appCred.system) payload.system = appCred.system;
      else payload.projectId = appCred.project_id ?? undefined;
    } else if (scope && scope !== 'unscoped' && typeof scope === 'object') {
      const keys = Object.keys(scope);
      if (keys.length !== 1)
        throw badRequest(
          "Invalid input for field 'scope': exactly one of project, domain, system or OS-TRUST:trust.",
          'ValidationError',
        );
      if (scope.project) {
        const ref = scope.project;
        let project: Project | undefined;
        if (ref.id) project = await this.resource.find(ref.id);
        else if (ref.name) {
          if (!ref.domain) throw badRequest("Invalid input for field 'scope/project/domain'.", 'ValidationError');
          const d = await this.resolveDomain(ref.domain);
          project = await this.resource.findProjectByName(ref.name, d.id);
        } else throw badRequest("Invalid input for field 'scope/project': id or name is required.", 'ValidationError');
        if (!project || project.is_domain) throw unauthorized();
        payload.projectId = project.id;
      } else if (scope.domain) {
        const d = scope.domain.id
          ? await this.resource.find(scope.domain.id)
          : scope.domain.name
            ? await this.resource.findDomainByName(scope.domain.name)
            : undefined;
        if (!scope.domain.id && !scope.domain.name)
          throw badRequest("Invalid input for field 'scope/domain'.", 'ValidationError');
        if (!d || !d.is_domain) throw unauthorized();
        payload.domainId = d.id;
      } else if (scope.system) {
        if (federated) throw unauthorized('A federated token cannot be scoped to the system.');
        if (scope.system.all !== true) throw badRequest("Invalid input for field 'scope/system'.", 'ValidationError');
        payload.system = 'all';
      } else if (scope['OS-TRUST:trust']) {
        if (federated) throw new ApiError(403, 'Federated tokens cannot be scoped to a trust.', 'Forbidden');
        const trustId = scope['OS-TRUST:trust'].id;
        // Keystone's _lookup_trust: a trust scope without an id is a ValidationError.
        if (!trustId)
          throw badRequest(
            'Expecting to find trust_id in trust - the server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.',
            'ValidationError',
          );
        const t = await this.trusts?.getTrust(trustId);
        if (!t || t.deleted) throw unauthorized();
        if (t.trustee_user_id !== user.id) throw new ApiError(403, 'User is not a trustee.', 'Forbidden');
        if (t.expires_at && Date.parse(t.expires_at) < Date.now()) throw unauthorized();
        if (t.expires_at && Date.parse(t.expires_at) < expiresAt.getTime())
          payload.expiresAt = expiresAt = new Date(Date.parse(t.expires_at));
        payload.trustId = t.id;
        payload.projectId = t.project_id ?? undefined;
      } else throw badRequest("Invalid input for field 'scope'.", 'ValidationError');
    } else if (!scope && user.default_project_id && !fromToken && !federated) {
      // Keystone scopes to the default project when it can, and falls back to unscoped.
      const p = await this.resource.find(user.default_project_id);
      if (p && p.enabled && !p.is_domain && (await this.assignment.rolesOnProject(user.id, p.id)).length)
        payload.projectId = p.id;
    } else if (fromToken && !scope) {
      // Rescoping with no scope keeps the original scope.
      if (fromToken.project) payload.projectId = fromToken.project.id;
      else if (fromToken.domain) payload.domainId = fromToken.domain.id;
      else if (fromToken.system && !federated) payload.system = fromToken.system;
    }

    const token = this.formatter.create(payload);
    let model: TokenModel;
    try {
      model = await this.build(token, payload, { issuedAt: now, forIssue: true });
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) throw unauthorized(e.message);
      throw e;
    }
    // A trust use is spent only by a token actually issued.
    if (payload.trustId) await this.trusts!.consume(payload.trustId);
    return model;
  }

  /**
   * Issues a project-scoped token without an auth body (ec2tokens/s3tokens: the caller has
   * checked the credential's signature); the same checks as POST /v3/auth/tokens.
   */
  async issue(p: {
    userId: string;
    methods: string[];
    projectId: string;
    trustId?: string;
    appCredId?: string;
    accessTokenId?: string;
  }): Promise<TokenModel> {
    const now = new Date(Math.floor(Date.now() / 1000) * 1000);
    const payload: TokenPayload = {
      userId: p.userId,
      methods: p.methods,
      expiresAt: new Date(now.getTime() + this.b.config.identity.tokenExpiration * 1000),
      auditIds: [randomAuditId()],
      projectId: p.projectId,
    };
    if (p.trustId) payload.trustId = p.trustId;
    else if (p.appCredId) payload.appCredId = p.appCredId;
    else if (p.accessTokenId) payload.accessTokenId = p.accessTokenId;
    try {
      return await this.build(this.formatter.create(payload), payload, { issuedAt: now, forIssue: true });
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) throw unauthorized(e.message);
      throw e;
    }
  }

  // ---- validation ----

  async validate(token: string, opts: { allowExpired?: boolean } = {}): Promise<TokenModel> {
    const hit = this.cache.get(token);
    if (hit && hit.gen === this.b.generation) {
      if (hit.model.expiresAt.getTime() > Date.now()) return hit.model;
      if (!opts.allowExpired) throw tokenNotFound();
    }
    let payload: TokenPayload;
    try {
      payload = this.formatter.validate(token);
    } catch (e) {
      if (e instanceof InvalidToken) throw tokenNotFound();
      throw e;
    }
    const nowMs = Date.now();
    if (payload.expiresAt.getTime() <= nowMs) {
      if (!opts.allowExpired || payload.expiresAt.getTime() + this.b.config.identity.allowExpiredWindow * 1000 <= nowMs)
        throw tokenNotFound();
    }
    const model = await this.build(token, payload, { issuedAt: payload.issuedAt ?? new Date(0) });
    if (this.cache.size > 20000) this.cache.clear();
    this.cache.set(token, { gen: this.b.generation, model });
    return model;
  }

  /** Loads everything a token refers to and checks it is all still valid; 404 when not. */
  private async build(token: string, p: TokenPayload, o: { issuedAt: Date; forIssue?: boolean }): Promise<TokenModel> {
    const user = await this.users.find(p.userId);
    if (!user || !user.enabled) throw tokenNotFound();
    const userDomain = await this.resource.find(user.domain_id);
    if (!userDomain || !userDomain.enabled) throw tokenNotFound();
    const roles = await this.assignment.roles();
    const model: TokenModel = {
      id: token,
      methods: p.methods,
      user,
      userDomain,
      roles: [],
      auditIds: p.auditIds,
      expiresAt: p.expiresAt,
      issuedAt: o.issuedAt,
    };
    if (p.federated) {
      if (!this.federation || !(await this.federation.stillValid(p.federated.idpId, p.federated.protocolId)))
        throw tokenNotFound();
      model.federated = p.federated;
    }
    let roleIds: string[] = [];
    if (p.trustId) {
      const t = await this.trusts?.getTrust(p.trustId);
      if (!t || t.deleted || (t.expires_at && Date.parse(t.expires_at) < Date.now())) throw tokenNotFound();
      model.trust = t;
      const trustor = await this.users.find(t.trustor_user_id);
      if (!trustor || !trustor.enabled) throw tokenNotFound();
      if (t.impersonation) {
        model.user = trustor;
        model.userDomain = (await this.resource.find(trustor.domain_id))!;
      }
      if (t.project_id) {
        const held = new Set(
          await this.assignment.rolesOnProject(t.originalTrustorId ?? t.trustor_user_id, t.project_id),
        );
        roleIds = (await this.assignment.expandImplied(t.roleIds)).map((r) => r.id).filter((r) => held.has(r));
        if (!roleIds.length) throw tokenNotFound();
      }
    }
    if (p.projectId) {
      const project = await this.resource.find(p.projectId);
      if (!project || !project.enabled || project.is_domain) throw tokenNotFound();
      const pd = await this.resource.find(project.domain_id!);
      if (!pd || !pd.enabled) throw tokenNotFound();
      model.project = project;
      model.projectDomain = pd;
      if (!p.trustId) roleIds = await this.assignment.rolesOnProject(user.id, project.id);
    } else if (p.domainId) {
      const d = await this.resource.find(p.domainId);
      if (!d || !d.enabled || !d.is_domain) throw tokenNotFound();
      model.domain = d;
      roleIds = await this.assignment.rolesOnDomain(user.id, d.id);
    } else if (p.system) {
      model.system = p.system;
      roleIds = await this.assignment.rolesOnSystem(user.id);
    }
    if (p.appCredId) {
      const ac = await this.appCreds?.getAppCred(p.appCredId);
      if (!ac || (ac.expires_at && Date.parse(ac.expires_at) < Date.now())) throw tokenNotFound();
      model.appCred = ac;
      const allowed = new Set((await this.assignment.expandImplied(ac.roleIds)).map((r) => r.id));
      roleIds = roleIds.filter((r) => allowed.has(r));
    }
    if (p.accessTokenId) {
      // Keystone's OAuth1 token: the access token's roles (and those they imply) the user still holds.
      const at = await this.oauth?.getAccessToken(p.accessTokenId);
      if (!at || (at.expires_at && Date.parse(at.expires_at) < Date.now())) throw tokenNotFound();
      model.oauth = at;
      const allowed = new Set((await this.assignment.expandImplied(at.roleIds)).map((r) => r.id));
      roleIds = roleIds.filter((r) => allowed.has(r));
    }
    if ((p.projectId || p.domainId || p.system) && !roleIds.length) {
      if (o.forIssue)
        throw new ApiError(
          401,
          p.projectId
            ? `User ${user.id} has no access to project ${p.projectId}.`
            : p.domainId
              ? `User ${user.id} has no access to domain ${p.domainId}.`
              : `User ${user.id} has no access to the system.`,
          'Unauthorized',
        );
      throw tokenNotFound();
    }
    model.roles = roleIds.map((id) => roles.get(id)!).filter(Boolean);
    if (
      !o.forIssue &&
      this.revoke.isRevoked({
        userId: user.id,
        trustorId: model.trust?.trustor_user_id,
        trusteeId: model.trust?.trustee_user_id,
        projectId: model.project?.id,
        domainId: model.domain?.id,
        userDomainId: user.domain_id,
        projectDomainId: model.project?.domain_id ?? undefined,
        roleIds,
        trustId: p.trustId,
        auditId: p.auditIds[0]!,
        auditChainId: p.auditIds[p.auditIds.length - 1]!,
        issuedAt: o.issuedAt,
      })
    )
      throw tokenNotFound();
    return model;
  }

  async revokeToken(model: TokenModel) {
    await this.revoke.revoke({ audit_id: model.auditIds[0] });
  }

  // ---- rendering ----

  async render(m: TokenModel, includeCatalog = true): Promise<Record<string, unknown>> {
    const user: Record<string, unknown> = {
      domain: { id: m.userDomain.id, name: m.userDomain.name },
      id: m.user.id,
      name: m.user.name,
      password_expires_at: m.user.password_expires_at,
    };
    if (m.federated)
      user['OS-FEDERATION'] = {
        identity_provider: { id: m.federated.idpId },
        protocol: { id: m.federated.protocolId },
        groups: m.federated.groupIds.map((id) => ({ id })),
      };
    const t: Record<string, unknown> = {
      methods: m.methods,
      user,
      audit_ids: m.auditIds,
      expires_at: isoMicro(m.expiresAt),
      issued_at: isoMicro(m.issuedAt),
    };
    const roles = m.roles.map((r) => ({ id: r.id, name: r.name }));
    if (m.system) {
      t.roles = roles;
      t.system = { all: true };
    } else if (m.domain) {
      t.domain = { id: m.domain.id, name: m.domain.name };
      t.roles = roles;
    } else if (m.project) {
      if (m.trust) {
        t['OS-TRUST:trust'] = {
          id: m.trust.id,
          trustor_user: { id: m.trust.trustor_user_id },
          trustee_user: { id: m.trust.trustee_user_id },
          impersonation: m.trust.impersonation,
        };
      }
      t.project = {
        domain: { id: m.projectDomain!.id, name: m.projectDomain!.name },
        id: m.project.id,
        name: m.project.name,
      };
      if (!m.trust) t.is_domain = false;
      t.roles = roles;
    }
    if (includeCatalog && (m.project || m.domain || m.system)) {
      t.catalog = await this.catalog.catalog(m.project?.id, m.trust ? m.trust.trustor_user_id : m.user.id);
    }
    const sps = this.federation ? await this.federation.tokenServiceProviders() : [];
    if (sps.length) t.service_providers = sps;
    if (m.appCred) {
      const ac: Record<string, unknown> = {
        id: m.appCred.id,
        name: m.appCred.name,
        restricted: !m.appCred.unrestricted,
      };
      if (m.appCred.access_rules?.length) ac.access_rules = m.appCred.access_rules;
      t.application_credential = ac;
    }
    if (m.oauth) t['OS-OAUTH1'] = { access_token_id: m.oauth.id, consumer_id: m.oauth.consumer_id };
    return { token: t };
  }

  /** The request context other services see for a token. */
  toContext(m: TokenModel): AuthContext {
    return {
      token: m.id,
      userId: m.user.id,
      userName: m.user.name,
      userDomainId: m.userDomain.id,
      userDomainName: m.userDomain.name,
      projectId: m.project?.id,
      projectName: m.project?.name,
      projectDomainId: m.projectDomain?.id,
      projectDomainName: m.projectDomain?.name,
      domainId: m.domain?.id,
      domainName: m.domain?.name,
      system: m.system,
      roles: m.roles.map((r) => r.name),
      roleIds: m.roles.map((r) => r.id),
      methods: m.methods,
      auditIds: m.auditIds,
      expiresAt: m.expiresAt.toISOString(),
      issuedAt: m.issuedAt.toISOString(),
      isAdminProject: false,
      trustId: m.trust?.id,
      appCredId: m.appCred?.id,
    };
  }
}
