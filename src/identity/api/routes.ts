// Keystone's whole route table in one place (as keystone/api/ lists its resources and their URLs):
// every (method, path) of identity, each mapped to a named handler of the api/ module noted beside
// its family. The handlers are built once per service (xxxHandlers(s)); each is schema -> policy ->
// logic -> view. test/identity-routes.test.ts checks this table against a snapshot.
import type { FastifyInstance, RouteHandlerMethod } from 'fastify';
import type { IdentityService } from '../service.ts';
import { authHandlers } from './auth.ts';
import { resourceHandlers, resourceSchemas } from './resource.ts';
import { userHandlers, userSchemas } from './users.ts';
import { type GrantHandlers, roleHandlers, roleSchemas } from './roles.ts';
import { catalogHandlers, catalogSchemas } from './catalog.ts';
import { credentialHandlers } from './credentials.ts';
import { applicationCredentialHandlers, applicationCredentialSchemas } from './application_credentials.ts';
import { trustHandlers } from './trusts.ts';
import { limitHandlers, limitSchemas } from './limits.ts';
import { policyHandlers, policySchemas } from './policies.ts';
import { endpointFilterHandlers, endpointFilterSchemas } from './endpoint_filter.ts';
import { domainConfigHandlers } from './domain_config.ts';
import { oauth1Handlers, oauth1Schemas } from './oauth1.ts';
import { ec2TokenHandlers } from './ec2tokens.ts';
import { federationHandlers, federationSchemas } from './federation.ts';
import { samlHandlers } from './saml.ts';

export function registerRoutes(app: FastifyInstance, s: IdentityService) {
  /** GET and HEAD of one path, to the same handler (Keystone answers HEAD wherever it lists or shows). */
  const getHead = (path: string, handler: RouteHandlerMethod) => {
    app.get(path, handler);
    app.head(path, handler);
  };
  /** The four routes of one kind of grant: `<roles>/:role_id<suffix>` (PUT, GET/HEAD, DELETE), `<roles><suffix>` (GET). */
  const grantRoutes = (roles: string, suffix: string, h: GrantHandlers) => {
    const one = `${roles}/:role_id${suffix}`;
    app.put(one, h.create);
    getHead(one, h.check);
    app.delete(one, h.revoke);
    app.get(`${roles}${suffix}`, h.list);
  };

  // ---- / and /v3, /v3/auth/* (tokens, catalog, scopes), OS-REVOKE/events (auth.ts) ----
  const auth = authHandlers(s);
  app.get('/', { config: { auth: false } }, auth.listVersions);
  app.get('/v3', { config: { auth: false } }, auth.showV3);
  app.post('/v3/auth/tokens', { config: { auth: false } }, auth.issueToken);
  app.get('/v3/auth/tokens', auth.validateToken);
  app.head('/v3/auth/tokens', auth.checkToken);
  app.delete('/v3/auth/tokens', auth.revokeToken);
  app.get('/v3/auth/catalog', auth.getAuthCatalog);
  app.get('/v3/auth/projects', auth.getAuthProjects);
  app.get('/v3/auth/domains', auth.getAuthDomains);
  app.get('/v3/auth/system', auth.getAuthSystem);
  app.get('/v3/OS-REVOKE/events', auth.listRevokeEvents);

  // ---- /v3/domains, /v3/projects and project tags (resource.ts) ----
  const resource = resourceHandlers(s);
  app.post('/v3/domains', { schema: { body: resourceSchemas.createDomain } }, resource.createDomain);
  app.get('/v3/domains', resource.listDomains);
  app.get('/v3/domains/:domain_id', resource.getDomain);
  app.patch('/v3/domains/:domain_id', resource.updateDomain);
  app.delete('/v3/domains/:domain_id', resource.deleteDomain);
  app.post('/v3/projects', { schema: { body: resourceSchemas.createProject } }, resource.createProject);
  app.get('/v3/projects', resource.listProjects);
  app.get('/v3/projects/:project_id', resource.getProject);
  app.patch('/v3/projects/:project_id', resource.updateProject);
  app.delete('/v3/projects/:project_id', resource.deleteProject);
  app.get('/v3/projects/:project_id/tags', resource.listProjectTags);
  app.put(
    '/v3/projects/:project_id/tags',
    { schema: { body: resourceSchemas.updateProjectTags } },
    resource.updateProjectTags,
  );
  app.delete('/v3/projects/:project_id/tags', resource.deleteProjectTags);
  app.get('/v3/projects/:project_id/tags/:tag', resource.getProjectTag);
  app.put('/v3/projects/:project_id/tags/:tag', resource.createProjectTag);
  app.delete('/v3/projects/:project_id/tags/:tag', resource.deleteProjectTag);

  // ---- /v3/users, /v3/groups, membership and password (users.ts) ----
  const users = userHandlers(s);
  app.post('/v3/users', { schema: { body: userSchemas.createUser } }, users.createUser);
  app.get('/v3/users', users.listUsers);
  app.get('/v3/users/:user_id', users.getUser);
  app.patch('/v3/users/:user_id', { schema: { body: userSchemas.updateUser } }, users.updateUser);
  app.delete('/v3/users/:user_id', users.deleteUser);
  app.post(
    '/v3/users/:user_id/password',
    { config: { auth: false }, schema: { body: userSchemas.changePassword } },
    users.changePassword,
  );
  app.get('/v3/users/:user_id/groups', users.listGroupsForUser);
  app.get('/v3/users/:user_id/projects', users.listUserProjects);
  app.post('/v3/groups', { schema: { body: userSchemas.createGroup } }, users.createGroup);
  app.get('/v3/groups', users.listGroups);
  app.get('/v3/groups/:group_id', users.getGroup);
  app.patch('/v3/groups/:group_id', { schema: { body: userSchemas.updateGroup } }, users.updateGroup);
  app.delete('/v3/groups/:group_id', users.deleteGroup);
  app.get('/v3/groups/:group_id/users', users.listUsersInGroup);
  app.put('/v3/groups/:group_id/users/:user_id', users.addUserToGroup);
  getHead('/v3/groups/:group_id/users/:user_id', users.checkUserInGroup);
  app.delete('/v3/groups/:group_id/users/:user_id', users.removeUserFromGroup);

  // ---- /v3/roles, implied roles, grants, /v3/role_assignments (roles.ts) ----
  const roles = roleHandlers(s);
  app.post('/v3/roles', { schema: { body: roleSchemas.createRole } }, roles.createRole);
  app.get('/v3/roles', roles.listRoles);
  app.get('/v3/roles/:role_id', roles.getRole);
  app.patch('/v3/roles/:role_id', { schema: { body: roleSchemas.updateRole } }, roles.updateRole);
  app.delete('/v3/roles/:role_id', roles.deleteRole);
  app.put('/v3/roles/:prior/implies/:implied', roles.createImpliedRole);
  app.get('/v3/roles/:prior/implies/:implied', roles.getImpliedRole);
  app.head('/v3/roles/:prior/implies/:implied', roles.checkImpliedRole);
  app.delete('/v3/roles/:prior/implies/:implied', roles.deleteImpliedRole);
  app.get('/v3/roles/:prior/implies', roles.listImpliedRoles);
  app.get('/v3/role_inferences', roles.listRoleInferenceRules);
  // Grants of a role to a user or group on a project, a domain (direct, or inherited to the projects
  // below: OS-INHERIT) or the system: PUT, GET/HEAD (check), DELETE of one role, GET of the list.
  const inherit = '/inherited_to_projects';
  grantRoutes('/v3/projects/:scope_id/users/:actor_id/roles', '', roles.userProjectGrants);
  grantRoutes('/v3/OS-INHERIT/projects/:scope_id/users/:actor_id/roles', inherit, roles.inheritedUserProjectGrants);
  grantRoutes('/v3/projects/:scope_id/groups/:actor_id/roles', '', roles.groupProjectGrants);
  grantRoutes('/v3/OS-INHERIT/projects/:scope_id/groups/:actor_id/roles', inherit, roles.inheritedGroupProjectGrants);
  grantRoutes('/v3/domains/:scope_id/users/:actor_id/roles', '', roles.userDomainGrants);
  grantRoutes('/v3/OS-INHERIT/domains/:scope_id/users/:actor_id/roles', inherit, roles.inheritedUserDomainGrants);
  grantRoutes('/v3/domains/:scope_id/groups/:actor_id/roles', '', roles.groupDomainGrants);
  grantRoutes('/v3/OS-INHERIT/domains/:scope_id/groups/:actor_id/roles', inherit, roles.inheritedGroupDomainGrants);
  grantRoutes('/v3/system/users/:actor_id/roles', '', roles.systemUserGrants);
  grantRoutes('/v3/system/groups/:actor_id/roles', '', roles.systemGroupGrants);
  app.get('/v3/role_assignments', roles.listRoleAssignmentsForTree);

  // ---- /v3/regions, /v3/services, /v3/endpoints (catalog.ts) ----
  const catalog = catalogHandlers(s);
  app.post('/v3/regions', { schema: { body: catalogSchemas.createRegion } }, catalog.createRegion);
  app.put(
    '/v3/regions/:region_id',
    { schema: { body: catalogSchemas.createRegionWithId } },
    catalog.createRegionWithId,
  );
  app.get('/v3/regions', catalog.listRegions);
  app.get('/v3/regions/:region_id', catalog.getRegion);
  app.patch('/v3/regions/:region_id', { schema: { body: catalogSchemas.updateRegion } }, catalog.updateRegion);
  app.delete('/v3/regions/:region_id', catalog.deleteRegion);
  app.post('/v3/services', { schema: { body: catalogSchemas.createService } }, catalog.createService);
  app.get('/v3/services', catalog.listServices);
  app.get('/v3/services/:service_id', catalog.getService);
  app.patch('/v3/services/:service_id', { schema: { body: catalogSchemas.updateService } }, catalog.updateService);
  app.delete('/v3/services/:service_id', catalog.deleteService);
  app.post('/v3/endpoints', { schema: { body: catalogSchemas.createEndpoint } }, catalog.createEndpoint);
  app.get('/v3/endpoints', catalog.listEndpoints);
  app.get('/v3/endpoints/:endpoint_id', catalog.getEndpoint);
  app.patch('/v3/endpoints/:endpoint_id', { schema: { body: catalogSchemas.updateEndpoint } }, catalog.updateEndpoint);
  app.delete('/v3/endpoints/:endpoint_id', catalog.deleteEndpoint);

  // ---- /v3/credentials, OS-EC2 credentials (credentials.ts) ----
  const credentials = credentialHandlers(s);
  app.post('/v3/credentials', credentials.createCredential);
  app.get('/v3/credentials', credentials.listCredentials);
  app.get('/v3/credentials/:credential_id', credentials.getCredential);
  app.patch('/v3/credentials/:credential_id', credentials.updateCredential);
  app.delete('/v3/credentials/:credential_id', credentials.deleteCredential);
  app.get('/v3/users/:user_id/credentials/OS-EC2', credentials.listEc2Credentials);
  app.post('/v3/users/:user_id/credentials/OS-EC2', credentials.createEc2Credential);
  app.get('/v3/users/:user_id/credentials/OS-EC2/:credential_id', credentials.getEc2Credential);
  app.delete('/v3/users/:user_id/credentials/OS-EC2/:credential_id', credentials.deleteEc2Credential);

  // ---- application credentials and access rules (application_credentials.ts) ----
  const appCreds = applicationCredentialHandlers(s);
  app.post(
    '/v3/users/:user_id/application_credentials',
    { schema: { body: applicationCredentialSchemas.createApplicationCredential } },
    appCreds.createApplicationCredential,
  );
  app.get('/v3/users/:user_id/application_credentials', appCreds.listApplicationCredentials);
  app.get('/v3/users/:user_id/application_credentials/:application_credential_id', appCreds.getApplicationCredential);
  app.delete(
    '/v3/users/:user_id/application_credentials/:application_credential_id',
    appCreds.deleteApplicationCredential,
  );
  app.get('/v3/users/:user_id/access_rules', appCreds.listAccessRules);
  app.get('/v3/users/:user_id/access_rules/:access_rule_id', appCreds.getAccessRule);
  app.delete('/v3/users/:user_id/access_rules/:access_rule_id', appCreds.deleteAccessRule);

  // ---- OS-TRUST (trusts.ts) ----
  const trusts = trustHandlers(s);
  app.post('/v3/OS-TRUST/trusts', trusts.createTrust);
  getHead('/v3/OS-TRUST/trusts', trusts.listTrustsForTrustor);
  getHead('/v3/OS-TRUST/trusts/:trust_id', trusts.getTrust);
  app.delete('/v3/OS-TRUST/trusts/:trust_id', trusts.deleteTrust);
  getHead('/v3/OS-TRUST/trusts/:trust_id/roles', trusts.listRolesForTrust);
  getHead('/v3/OS-TRUST/trusts/:trust_id/roles/:role_id', trusts.getRoleForTrust);

  // ---- registered limits and limits (limits.ts) ----
  const limits = limitHandlers(s);
  app.post(
    '/v3/registered_limits',
    { schema: { body: limitSchemas.createRegisteredLimits } },
    limits.createRegisteredLimits,
  );
  app.get('/v3/registered_limits', limits.listRegisteredLimits);
  app.get('/v3/registered_limits/:registered_limit_id', limits.getRegisteredLimit);
  app.patch(
    '/v3/registered_limits/:registered_limit_id',
    { schema: { body: limitSchemas.updateRegisteredLimit } },
    limits.updateRegisteredLimit,
  );
  app.delete('/v3/registered_limits/:registered_limit_id', limits.deleteRegisteredLimit);
  app.get('/v3/limits/model', limits.getLimitModel);
  app.post('/v3/limits', { schema: { body: limitSchemas.createLimits } }, limits.createLimits);
  app.get('/v3/limits', limits.listLimits);
  app.get('/v3/limits/:limit_id', limits.getLimit);
  app.patch('/v3/limits/:limit_id', { schema: { body: limitSchemas.updateLimit } }, limits.updateLimit);
  app.delete('/v3/limits/:limit_id', limits.deleteLimit);

  // ---- /v3/policies and OS-ENDPOINT-POLICY (policies.ts) ----
  const policies = policyHandlers(s);
  app.post('/v3/policies', { schema: { body: policySchemas.createPolicy } }, policies.createPolicy);
  getHead('/v3/policies', policies.listPolicies);
  getHead('/v3/policies/:policy_id', policies.getPolicy);
  app.patch('/v3/policies/:policy_id', { schema: { body: policySchemas.updatePolicy } }, policies.updatePolicy);
  app.delete('/v3/policies/:policy_id', policies.deletePolicy);
  getHead('/v3/policies/:policy_id/OS-ENDPOINT-POLICY/endpoints', policies.listEndpointsForPolicy);
  app.put(
    '/v3/policies/:policy_id/OS-ENDPOINT-POLICY/endpoints/:endpoint_id',
    policies.createPolicyAssociationForEndpoint,
  );
  getHead(
    '/v3/policies/:policy_id/OS-ENDPOINT-POLICY/endpoints/:endpoint_id',
    policies.checkPolicyAssociationForEndpoint,
  );
  app.delete(
    '/v3/policies/:policy_id/OS-ENDPOINT-POLICY/endpoints/:endpoint_id',
    policies.deletePolicyAssociationForEndpoint,
  );
  app.put(
    '/v3/policies/:policy_id/OS-ENDPOINT-POLICY/services/:service_id',
    policies.createPolicyAssociationForService,
  );
  getHead('/v3/policies/:policy_id/OS-ENDPOINT-POLICY/services/:service_id', policies.checkPolicyAssociationForService);
  app.delete(
    '/v3/policies/:policy_id/OS-ENDPOINT-POLICY/services/:service_id',
    policies.deletePolicyAssociationForService,
  );
  app.put(
    '/v3/policies/:policy_id/OS-ENDPOINT-POLICY/services/:service_id/regions/:region_id',
    policies.createPolicyAssociationForRegionAndService,
  );
  getHead(
    '/v3/policies/:policy_id/OS-ENDPOINT-POLICY/services/:service_id/regions/:region_id',
    policies.checkPolicyAssociationForRegionAndService,
  );
  app.delete(
    '/v3/policies/:policy_id/OS-ENDPOINT-POLICY/services/:service_id/regions/:region_id',
    policies.deletePolicyAssociationForRegionAndService,
  );
  getHead('/v3/endpoints/:endpoint_id/OS-ENDPOINT-POLICY/policy', policies.getPolicyForEndpoint);

  // ---- OS-EP-FILTER (endpoint_filter.ts) ----
  const epFilter = endpointFilterHandlers(s);
  app.post(
    '/v3/OS-EP-FILTER/endpoint_groups',
    { schema: { body: endpointFilterSchemas.createEndpointGroup } },
    epFilter.createEndpointGroup,
  );
  getHead('/v3/OS-EP-FILTER/endpoint_groups', epFilter.listEndpointGroups);
  getHead('/v3/OS-EP-FILTER/endpoint_groups/:endpoint_group_id', epFilter.getEndpointGroup);
  app.patch(
    '/v3/OS-EP-FILTER/endpoint_groups/:endpoint_group_id',
    { schema: { body: endpointFilterSchemas.updateEndpointGroup } },
    epFilter.updateEndpointGroup,
  );
  app.delete('/v3/OS-EP-FILTER/endpoint_groups/:endpoint_group_id', epFilter.deleteEndpointGroup);
  getHead(
    '/v3/OS-EP-FILTER/endpoint_groups/:endpoint_group_id/endpoints',
    epFilter.listEndpointsAssociatedWithEndpointGroup,
  );
  getHead(
    '/v3/OS-EP-FILTER/endpoint_groups/:endpoint_group_id/projects',
    epFilter.listProjectsAssociatedWithEndpointGroup,
  );
  getHead(
    '/v3/OS-EP-FILTER/endpoint_groups/:endpoint_group_id/projects/:project_id',
    epFilter.getEndpointGroupInProject,
  );
  app.put(
    '/v3/OS-EP-FILTER/endpoint_groups/:endpoint_group_id/projects/:project_id',
    epFilter.addEndpointGroupToProject,
  );
  app.delete(
    '/v3/OS-EP-FILTER/endpoint_groups/:endpoint_group_id/projects/:project_id',
    epFilter.removeEndpointGroupFromProject,
  );
  getHead('/v3/OS-EP-FILTER/projects/:project_id/endpoint_groups', epFilter.listEndpointGroupsForProject);
  getHead('/v3/OS-EP-FILTER/projects/:project_id/endpoints/:endpoint_id', epFilter.checkEndpointInProject);
  app.put('/v3/OS-EP-FILTER/projects/:project_id/endpoints/:endpoint_id', epFilter.addEndpointToProject);
  app.delete('/v3/OS-EP-FILTER/projects/:project_id/endpoints/:endpoint_id', epFilter.removeEndpointFromProject);
  getHead('/v3/OS-EP-FILTER/projects/:project_id/endpoints', epFilter.listEndpointsForProject);
  getHead('/v3/OS-EP-FILTER/endpoints/:endpoint_id/projects', epFilter.listProjectsForEndpoint);

  // ---- domain-specific configuration (domain_config.ts) ----
  const domainConfig = domainConfigHandlers(s);
  getHead('/v3/domains/:domain_id/config', domainConfig.getDomainConfig);
  app.patch('/v3/domains/:domain_id/config', domainConfig.updateDomainConfig);
  app.delete('/v3/domains/:domain_id/config', domainConfig.deleteDomainConfig);
  getHead('/v3/domains/:domain_id/config/:group', domainConfig.getDomainConfig);
  app.patch('/v3/domains/:domain_id/config/:group', domainConfig.updateDomainConfig);
  app.delete('/v3/domains/:domain_id/config/:group', domainConfig.deleteDomainConfig);
  getHead('/v3/domains/:domain_id/config/:group/:option', domainConfig.getDomainConfig);
  app.patch('/v3/domains/:domain_id/config/:group/:option', domainConfig.updateDomainConfig);
  app.delete('/v3/domains/:domain_id/config/:group/:option', domainConfig.deleteDomainConfig);
  app.put('/v3/domains/:domain_id/config', domainConfig.createDomainConfig);
  getHead('/v3/domains/config/default', domainConfig.getDomainConfigDefault);
  getHead('/v3/domains/config/:group/default', domainConfig.getDomainConfigDefault);
  getHead('/v3/domains/config/:group/:option/default', domainConfig.getDomainConfigDefault);

  // ---- OS-OAUTH1 (oauth1.ts) ----
  const oauth1 = oauth1Handlers(s);
  app.post('/v3/OS-OAUTH1/consumers', { schema: { body: oauth1Schemas.createConsumer } }, oauth1.createConsumer);
  app.get('/v3/OS-OAUTH1/consumers', oauth1.listConsumers);
  app.get('/v3/OS-OAUTH1/consumers/:id', oauth1.getConsumer);
  app.patch('/v3/OS-OAUTH1/consumers/:id', { schema: { body: oauth1Schemas.updateConsumer } }, oauth1.updateConsumer);
  app.delete('/v3/OS-OAUTH1/consumers/:id', oauth1.deleteConsumer);
  app.post('/v3/OS-OAUTH1/request_token', { config: { auth: false } }, oauth1.createRequestToken);
  app.post('/v3/OS-OAUTH1/access_token', { config: { auth: false } }, oauth1.createAccessToken);
  app.put('/v3/OS-OAUTH1/authorize/:request_token_id', oauth1.authorizeRequestToken);
  app.get('/v3/users/:user_id/OS-OAUTH1/access_tokens', oauth1.listAccessTokens);
  app.get('/v3/users/:user_id/OS-OAUTH1/access_tokens/:access_token_id', oauth1.getAccessToken);
  app.delete('/v3/users/:user_id/OS-OAUTH1/access_tokens/:access_token_id', oauth1.deleteAccessToken);
  app.get('/v3/users/:user_id/OS-OAUTH1/access_tokens/:access_token_id/roles', oauth1.listAccessTokenRoles);
  app.get('/v3/users/:user_id/OS-OAUTH1/access_tokens/:access_token_id/roles/:role_id', oauth1.getAccessTokenRole);

  // ---- /v3/ec2tokens and /v3/s3tokens (ec2tokens.ts) ----
  const ec2 = ec2TokenHandlers(s);
  app.post('/v3/ec2tokens', { config: { auth: false } }, ec2.ec2Tokens);
  app.post('/v3/s3tokens', { config: { auth: false } }, ec2.s3Tokens);
  app.get('/v3/ec2tokens', { config: { auth: false } }, ec2.methodNotAllowed);
  app.get('/v3/s3tokens', { config: { auth: false } }, ec2.methodNotAllowed);

  // ---- SAML2: Keystone as an identity provider (K2K), the ECP endpoint of a service provider (saml.ts) ----
  const saml = samlHandlers(s);
  app.post('/v3/auth/OS-FEDERATION/saml2', { config: { auth: false } }, saml.createSaml2);
  app.post('/v3/auth/OS-FEDERATION/saml2/ecp', { config: { auth: false } }, saml.createEcp);
  app.get('/v3/OS-FEDERATION/saml2/metadata', { config: { auth: false } }, saml.metadata);
  app.register(async (scope) => {
    scope.addContentTypeParser(
      ['application/vnd.paos+xml', 'text/xml', 'application/xml', 'application/soap+xml'],
      { parseAs: 'string' },
      (_req, body, done) => done(null, body),
    );
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) =>
      done(null, body),
    );
    scope.post('/Shibboleth.sso/SAML2/ECP', { config: { auth: false } }, saml.consumeEcp);
    scope.post('/Shibboleth.sso/SAML2/POST', { config: { auth: false } }, saml.consumePost);
  });

  // ---- OS-FEDERATION: identity providers, protocols, mappings, service providers, federated auth, WebSSO (federation.ts) ----
  const federation = federationHandlers(s);
  app.put(
    '/v3/OS-FEDERATION/identity_providers/:idp_id',
    { schema: { body: federationSchemas.createIdentityProvider } },
    federation.createIdentityProvider,
  );
  getHead('/v3/OS-FEDERATION/identity_providers', federation.listIdentityProviders);
  getHead('/v3/OS-FEDERATION/identity_providers/:idp_id', federation.getIdentityProvider);
  app.patch(
    '/v3/OS-FEDERATION/identity_providers/:idp_id',
    { schema: { body: federationSchemas.updateIdentityProvider } },
    federation.updateIdentityProvider,
  );
  app.delete('/v3/OS-FEDERATION/identity_providers/:idp_id', federation.deleteIdentityProvider);
  app.put(
    '/v3/OS-FEDERATION/identity_providers/:idp_id/protocols/:protocol_id',
    { schema: { body: federationSchemas.createProtocol } },
    federation.createProtocol,
  );
  getHead('/v3/OS-FEDERATION/identity_providers/:idp_id/protocols', federation.listProtocols);
  getHead('/v3/OS-FEDERATION/identity_providers/:idp_id/protocols/:protocol_id', federation.getProtocol);
  app.patch(
    '/v3/OS-FEDERATION/identity_providers/:idp_id/protocols/:protocol_id',
    { schema: { body: federationSchemas.updateProtocol } },
    federation.updateProtocol,
  );
  app.delete('/v3/OS-FEDERATION/identity_providers/:idp_id/protocols/:protocol_id', federation.deleteProtocol);
  app.get(
    '/v3/OS-FEDERATION/identity_providers/:idp_id/protocols/:protocol_id/auth',
    { config: { auth: false } },
    federation.federatedAuth,
  );
  app.post(
    '/v3/OS-FEDERATION/identity_providers/:idp_id/protocols/:protocol_id/auth',
    { config: { auth: false } },
    federation.federatedAuth,
  );
  app.get(
    '/v3/auth/OS-FEDERATION/identity_providers/:idp_id/protocols/:protocol_id/websso',
    { config: { auth: false } },
    federation.webssoForIdentityProvider,
  );
  app.get('/v3/auth/OS-FEDERATION/websso/:protocol_id', { config: { auth: false } }, federation.webssoForProtocol);
  app.post(
    '/v3/auth/OS-FEDERATION/identity_providers/:idp_id/protocols/:protocol_id/websso',
    { config: { auth: false } },
    federation.webssoForIdentityProvider,
  );
  app.post('/v3/auth/OS-FEDERATION/websso/:protocol_id', { config: { auth: false } }, federation.webssoForProtocol);
  app.put('/v3/OS-FEDERATION/mappings/:mapping_id', federation.createMapping);
  getHead('/v3/OS-FEDERATION/mappings', federation.listMappings);
  getHead('/v3/OS-FEDERATION/mappings/:mapping_id', federation.getMapping);
  app.patch('/v3/OS-FEDERATION/mappings/:mapping_id', federation.updateMapping);
  app.delete('/v3/OS-FEDERATION/mappings/:mapping_id', federation.deleteMapping);
  app.put(
    '/v3/OS-FEDERATION/service_providers/:sp_id',
    { schema: { body: federationSchemas.createServiceProvider } },
    federation.createServiceProvider,
  );
  getHead('/v3/OS-FEDERATION/service_providers', federation.listServiceProviders);
  getHead('/v3/OS-FEDERATION/service_providers/:sp_id', federation.getServiceProvider);
  app.patch(
    '/v3/OS-FEDERATION/service_providers/:sp_id',
    { schema: { body: federationSchemas.updateServiceProvider } },
    federation.updateServiceProvider,
  );
  app.delete('/v3/OS-FEDERATION/service_providers/:sp_id', federation.deleteServiceProvider);
  // Keystone's deprecated aliases of /v3/auth/projects|domains: the same handlers and policies.
  getHead('/v3/OS-FEDERATION/projects', auth.getAuthProjects);
  getHead('/v3/OS-FEDERATION/domains', auth.getAuthDomains);
}
