// Federation's options (`federation:` in stratus.yaml), typed, merged into StratusConfig.
import type { StratusConfig } from '../../core/config.ts';

/** Federation options; every field has a default. */
export interface FederationOptions {
  /**
   * Peers (IP addresses) trusted to hand over a federated assertion as request headers, the way
   * mod_auth_openidc or mod_shib in front of Keystone hand it over in the WSGI environment. Empty (the
   * default): the `mapped` method is refused for everyone. Also STRATUS_FEDERATION_TRUSTED_PROXIES
   * (comma-separated).
   */
  trustedProxies: string[];
  /** Keystone's [federation] remote_id_attribute: the attribute naming the asserting IdP ('' = not checked). */
  remoteIdAttribute: string;
  /** Keystone's [saml] relay_state_prefix: a service provider's default relay_state_prefix. */
  relayStatePrefix: string;
  /** Keystone's [federation] trusted_dashboard: the origins WebSSO may post a token back to. */
  trustedDashboards: string[];
  /**
   * Keystone's [federation] default_authorization_ttl, in minutes: how long the group memberships a
   * federated login mapped count when the identity provider has no `authorization_ttl`. null (the
   * default here): until the user's next federated login replaces them. Keystone's default is 0
   * (they live only in the token); Stratus computes a token's roles from the memberships, so 0 would
   * leave a federated token without its groups' roles.
   */
  defaultAuthorizationTtl: number | null;
  /** Keystone's [saml] options (Keystone as a SAML2 identity provider, K2K) and the ECP consumer. */
  saml2: Saml2Options;
}

export interface Saml2Options {
  /** [saml] idp_entity_id ('' = `<identity URL>/v3/OS-FEDERATION/saml2/idp`). */
  idpEntityId: string;
  /** [saml] idp_sso_endpoint ('' = `<identity URL>/v3/OS-FEDERATION/saml2/sso`). */
  idpSsoEndpoint: string;
  /** [saml] certfile / keyfile ('' = `<dataDir>/saml2/signing_{cert,key}.pem`, generated when absent). */
  certfile: string;
  keyfile: string;
  /**
   * As a service provider: PEM certificates (file paths) of the identity providers whose ECP
   * assertions `<identity URL>/Shibboleth.sso/SAML2/ECP` accepts (a Shibboleth SP's metadata
   * providers). Empty (the default): the ECP consumer refuses every assertion.
   */
  trustedIdpCertificates: string[];
}

export type FederationConfig = Partial<Omit<FederationOptions, 'saml2'>> & { saml2?: Partial<Saml2Options> };

declare module '../../core/config.ts' {
  interface StratusConfig {
    federation?: FederationConfig;
  }
}

export function federationOptions(cfg: Pick<StratusConfig, 'federation'>, env = process.env): FederationOptions {
  const c = cfg.federation ?? {};
  const fromEnv = env.STRATUS_FEDERATION_TRUSTED_PROXIES?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return {
    trustedProxies: c.trustedProxies ?? fromEnv ?? [],
    remoteIdAttribute: c.remoteIdAttribute ?? '',
    relayStatePrefix: c.relayStatePrefix ?? 'ss:mem:',
    trustedDashboards: c.trustedDashboards ?? [],
    defaultAuthorizationTtl: c.defaultAuthorizationTtl ?? null,
    saml2: {
      idpEntityId: c.saml2?.idpEntityId ?? '',
      idpSsoEndpoint: c.saml2?.idpSsoEndpoint ?? '',
      certfile: c.saml2?.certfile ?? '',
      keyfile: c.saml2?.keyfile ?? '',
      trustedIdpCertificates: c.saml2?.trustedIdpCertificates ?? [],
    },
  };
}
