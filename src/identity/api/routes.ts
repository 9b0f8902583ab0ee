// Keystone's route table, mounted in one place (as keystone/server/flask/application.py lists its
// API modules): every family of /v3 registers its paths here, in this order, each from the api/
// module named beside it. test/identity-routes.test.ts holds the full (method, path) list.
import type { FastifyInstance } from 'fastify';
import type { IdentityService } from '../service.ts';
import { registerAuthRoutes } from './auth.ts';
import { registerResourceRoutes } from './resource.ts';
import { registerUserRoutes } from './users.ts';
import { registerRoleRoutes } from './roles.ts';
import { registerCatalogRoutes } from './catalog.ts';
import { registerCredentialRoutes } from './credentials.ts';
import { registerApplicationCredentialRoutes } from './application_credentials.ts';
import { registerTrustRoutes } from './trusts.ts';
import { registerLimitRoutes } from './limits.ts';
import { registerPolicyRoutes } from './policies.ts';
import { registerEndpointFilterRoutes } from './endpoint_filter.ts';
import { registerDomainConfigRoutes } from './domain_config.ts';
import { registerOAuth1Routes } from './oauth1.ts';
import { registerEc2TokenRoutes } from './ec2tokens.ts';
import { registerFederationRoutes } from './federation.ts';

export function registerRoutes(app: FastifyInstance, s: IdentityService) {
  // / and /v3, /v3/auth/* (tokens, catalog, scopes), OS-REVOKE/events
  registerAuthRoutes(app, s);
  // /v3/domains, /v3/projects (+ tags)
  registerResourceRoutes(app, s);
  // /v3/users, /v3/groups (+ membership, password)
  registerUserRoutes(app, s);
  // /v3/roles, implied roles, grants on projects/domains/system, /v3/role_assignments
  registerRoleRoutes(app, s);
  // /v3/regions, /v3/services, /v3/endpoints
  registerCatalogRoutes(app, s);
  // /v3/credentials, /v3/users/{id}/credentials/OS-EC2
  registerCredentialRoutes(app, s);
  // /v3/users/{id}/application_credentials, /v3/users/{id}/access_rules
  registerApplicationCredentialRoutes(app, s);
  // /v3/OS-TRUST/trusts (+ roles)
  registerTrustRoutes(app, s);
  // /v3/registered_limits, /v3/limits (+ model)
  registerLimitRoutes(app, s);
  // /v3/policies, OS-ENDPOINT-POLICY
  registerPolicyRoutes(app, s);
  // OS-EP-FILTER: endpoint groups and project-endpoint associations
  registerEndpointFilterRoutes(app, s);
  // /v3/domains/{id}/config and the default configuration
  registerDomainConfigRoutes(app, s);
  // OS-OAUTH1: consumers, request/access tokens, authorization
  registerOAuth1Routes(app, s);
  // /v3/ec2tokens, /v3/s3tokens
  registerEc2TokenRoutes(app, s);
  // OS-FEDERATION: identity providers, protocols, mappings, service providers, federated auth, WebSSO
  registerFederationRoutes(app, s);
}
