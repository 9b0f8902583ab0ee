// Identity's API families beyond the core (credentials, application credentials, trusts,
// limits, policies, endpoint filter, domain configuration). Each module exports one
// extension: its manager (set up in init) and its routes.
import type { FastifyInstance } from 'fastify';
import type { IdentityService } from './service.ts';
import { credentialsExtension } from './api/credentials.ts';
import { applicationCredentialsExtension } from './api/application_credentials.ts';
import { trustsExtension } from './api/trusts.ts';
import { limitsExtension } from './api/limits.ts';
import { policiesExtension } from './api/policies.ts';
import { endpointFilterExtension } from './api/endpoint_filter.ts';
import { domainConfigExtension } from './api/domain_config.ts';
import { oauth1Extension } from './api/oauth1.ts';
import { ec2TokensExtension } from './api/ec2tokens.ts';
import { federationExtension } from './api/federation.ts';

export interface IdentityExtension {
  name: string;
  /** Runs after migrations (e.g. subscribes to notifications); the managers are the service's fields. */
  init?(s: IdentityService): Promise<void> | void;
  routes(app: FastifyInstance, s: IdentityService): void;
}

export const extensions: IdentityExtension[] = [
  credentialsExtension,
  applicationCredentialsExtension,
  trustsExtension,
  limitsExtension,
  policiesExtension,
  endpointFilterExtension,
  domainConfigExtension,
  oauth1Extension,
  ec2TokensExtension,
  federationExtension,
];
