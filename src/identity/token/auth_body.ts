// The `auth` body of POST /v3/auth/tokens as the token provider reads it (keystone/auth/schema.py's
// token_issue, and each method plugin's own part: keystone/auth/plugins/). api/auth_schema.ts
// checks the JSON types of these fields before the provider sees them; the provider still checks
// what is required, so every field here is optional.

/** A reference to a domain (or a project's domain) by id or by name. */
export interface DomainRef {
  id?: string;
  name?: string;
}

/** A user named by id, or by name within a domain. */
export interface UserRef {
  id?: string;
  name?: string;
  domain?: DomainRef;
}

/** The `password` method: a user and their password. */
export interface PasswordMethod {
  user?: UserRef & { password?: string };
}

/** The `token` method: an existing token to rescope. */
export interface TokenMethod {
  id?: string;
}

/** The `application_credential` method: id (or name + user) and secret. */
export interface AppCredMethod {
  id?: string;
  name?: string;
  secret?: string;
  user?: UserRef;
}

/** The `totp` method: a user and a passcode of one of their TOTP credentials. */
export interface TotpMethod {
  user?: UserRef & { passcode?: string };
}

/** The `mapped` method: the identity provider and protocol whose mapping turns assertions into a user. */
export interface MappedMethod {
  identity_provider?: string;
  protocol?: string;
}

/** The `identity` object: the methods, each with its body under its own name. */
export interface AuthIdentity {
  methods: string[];
  password?: PasswordMethod;
  token?: TokenMethod;
  application_credential?: AppCredMethod;
  totp?: TotpMethod;
  mapped?: MappedMethod;
  /** OS-OAUTH1's method has no body of its own: the request's signature authenticates. */
  oauth1?: Record<string, unknown>;
}

/** The `scope` object: exactly one of these (or the string 'unscoped'). */
export interface AuthScope {
  project?: DomainRef & { domain?: DomainRef };
  domain?: DomainRef;
  system?: { all?: boolean };
  'OS-TRUST:trust'?: { id?: string };
}

/** The `auth` object of POST /v3/auth/tokens. */
export interface AuthRequest {
  identity: AuthIdentity;
  scope?: AuthScope | string;
}
